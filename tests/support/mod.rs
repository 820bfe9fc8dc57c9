//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cloud;
pub mod cluster;
pub mod fleet;
pub mod helm;
pub mod manifests;
pub mod metrics;
pub mod operator;
pub mod plan;
pub mod process;
pub mod python;
pub mod rbac;
pub mod signed;
pub mod vectors;
