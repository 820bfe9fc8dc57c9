//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cluster;
pub mod operator;
pub mod signed;
pub mod vectors;
