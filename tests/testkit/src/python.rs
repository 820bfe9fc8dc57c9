//! Python peers in cached virtualenvs: the official Huawei Cloud Python SDKs (SWR, HSS, IAM,
//! `hack/bench/peer-venv.sh`) and the Helm engine (`hack/helm/venv.sh`), each installed once
//! per test binary. A machine that cannot install them fails the tests that need them, with
//! the script's output; nothing is skipped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The SDKs' virtualenv's python.
pub fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        crate::installed(
            "hack/bench/peer-venv.sh",
            "the official Python SDKs (the interop tests need them)",
        )
    })
}

/// Runs `script` (a path under the repository) with the SDKs' python and `input` on stdin;
/// returns its stdout parsed as JSON.
pub fn run_json(script: &str, input: &serde_json::Value) -> serde_json::Value {
    run_json_with(python(), script, input)
}

/// [`run_json`] with another virtualenv's python.
pub fn run_json_with(python: &Path, script: &str, input: &serde_json::Value) -> serde_json::Value {
    let path = crate::root().join(script);
    let mut child = Command::new(python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
