//! The `ImageSyncRule` custom resource: spec, status, validation.

pub mod crd;
pub mod replication;
pub mod spec;
pub mod status;
pub mod validate;

pub use spec::{ImageSyncRule, ImageSyncRuleSpec};
pub use status::ImageSyncRuleStatus;
