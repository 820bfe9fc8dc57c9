//! The reconciler: validate → credentials → claims → observe → plan → acquire → apply →
//! status, and hand-overs between rules.

pub mod account;
pub mod apply;
pub mod assess;
pub mod claimants;
pub mod claims;
pub mod cleanup;
pub mod context;
pub mod controller;
pub mod copies;
pub mod departures;
pub mod error;
pub mod events;
pub mod handover;
pub mod ledger;
pub mod listings;
pub mod memo;
pub mod observe;
pub mod pipeline;
pub mod plan;
pub mod regions;
pub mod repair;
pub mod replication;
pub mod report;
pub mod scans;
pub mod secrets;
pub mod select;
pub mod standing;
pub mod status;
pub mod tag_listings;
pub mod task;
pub mod ttl_cache;
pub mod verification;
pub mod verify;
pub mod warmup;
pub mod writes;
