//! The shared cloud HTTP layer: endpoints, rate limit, transport, errors, and the
//! authenticated client every service client is built on.

pub mod client;
pub mod endpoint;
pub mod error;
pub mod ratelimit;
pub mod request;
pub mod transport;

pub use client::CloudClient;
pub use error::{ApiError, ErrorClass, Evidence};
pub use request::{CloudRequest, CloudResponse, Priority, RequestAuth, Service};
pub use transport::{Transport, TransportConfig};
