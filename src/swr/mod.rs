//! The SWR API: names, wire model, errors, the narrow trait the reconciler uses (`api`),
//! and its HTTP implementation (`client`).

pub mod api;
pub mod client;
pub mod error;
pub mod model;
pub mod names;
pub mod repo;

pub use api::{DeleteOutcome, SwrApi};
pub use client::SwrClient;
pub use error::SwrError;
pub use repo::SourceRepo;
