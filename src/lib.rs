//! swr-sync-operator: keeps Huawei Cloud SWR cross-region sync tasks in line with
//! `ImageSyncRule` resources. The library holds everything; the binary only dispatches.

pub mod api;
pub mod auth;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod emulator;
pub mod hss;
pub mod leader;
pub mod metrics;
pub mod preview;
pub mod reconcile;
pub mod run;
pub mod server;
pub mod swr;
pub mod telemetry;
