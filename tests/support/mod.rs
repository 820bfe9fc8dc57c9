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
pub mod prometheus;
pub mod python;
pub mod rbac;
pub mod signed;
pub mod vectors;

use std::path::PathBuf;
use std::process::Command;

/// Runs an install script of the project (a path under the repository: a cached
/// virtualenv, a Debian package) and returns the path it prints; `what` names what it
/// installs in the failure message.
pub fn installed(script: &str, what: &str) -> PathBuf {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e})", script.display()));
    assert!(
        out.status.success(),
        "installing {what} failed (the registries or a cache are needed):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}
