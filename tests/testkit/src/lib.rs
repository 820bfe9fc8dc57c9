//! The test kit: what the integration tests (`tests/offline`, `tests/shared_cluster`,
//! `tests/own_cluster`) and the benchmarks (`benches/`) share: a real kube-apiserver, the
//! emulator and its admin API, the operator in-process or as its real binary, Helm,
//! Prometheus and the official SDKs' Python, and the fleets the benchmarks drive.

pub mod cloud;
pub mod cluster;
pub mod fleet;
pub mod helm;
pub mod manifests;
pub mod metrics;
pub mod monitoring;
pub mod operator;
pub mod plan;
pub mod process;
pub mod prometheus;
pub mod python;
pub mod rbac;
pub mod signed;
pub mod vectors;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root (this crate lives in `tests/testkit`).
pub fn root() -> PathBuf {
    let testkit = Path::new(env!("CARGO_MANIFEST_DIR"));
    testkit
        .ancestors()
        .nth(2)
        .expect("tests/testkit is two levels down")
        .to_path_buf()
}

/// Runs an install script of the project (a path under the repository: a cached
/// virtualenv, a Debian package) and returns the path it prints; `what` names what it
/// installs in the failure message.
pub fn installed(script: &str, what: &str) -> PathBuf {
    let script = root().join(script);
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
