//! The reconciler: validate → credentials → claims → observe → plan → apply → status.

pub mod claims;
pub mod plan;
pub mod report;
pub mod status;
