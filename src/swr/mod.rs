//! The SWR API: names, wire model, client.

pub mod model;
pub mod names;
