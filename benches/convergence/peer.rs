//! The script peer: `hack/bench/peer_sdk.py`, run with the official Python SDK from a
//! virtualenv that `hack/bench/peer-venv.sh` installs from PyPI (cached).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

fn hack(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("hack/bench")
        .join(file)
}

/// Installs the SDK if needed; returns the virtualenv's python.
pub fn install() -> String {
    let out = Command::new(hack("peer-venv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("running hack/bench/peer-venv.sh");
    assert!(
        out.status.success(),
        "installing the Python SDK peer failed (PyPI must be reachable; or pass --no-script)"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Runs the script on `plan`; returns its wall time in seconds, interpreter start included
/// (as the operator's includes its process start). Blocks a worker thread, not the runtime
/// the in-process emulator answers on.
pub async fn run_script(python: &str, plan: &serde_json::Value) -> f64 {
    let python = python.to_string();
    let input = serde_json::to_vec(plan).unwrap();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = Command::new(python)
            .arg(hack("peer_sdk.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the script peer");
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child
            .wait_with_output()
            .expect("waiting for the script peer");
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "the script peer failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        seconds
    })
    .await
    .unwrap()
}
