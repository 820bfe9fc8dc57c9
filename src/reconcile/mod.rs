//! The reconciler: validate → credentials → claims → observe → plan → apply → status.

pub mod apply;
pub mod assess;
pub mod claimants;
pub mod claims;
pub mod context;
pub mod controller;
pub mod copies;
pub mod error;
pub mod events;
pub mod listings;
pub mod observe;
pub mod pipeline;
pub mod plan;
pub mod regions;
pub mod report;
pub mod scans;
pub mod select;
pub mod status;
pub mod ttl_cache;
