//! `swr-sync-operator plan` run as a process against the test cluster and an emulator.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::operator::Env;

/// Writes `docs` as a multi-document YAML file in the test's temp dir.
pub fn write_yaml(env: &Env, name: &str, docs: &[Value]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}-{name}.yaml", env.ns));
    let text: Vec<String> = docs
        .iter()
        .map(|d| serde_yaml::to_string(d).unwrap())
        .collect();
    std::fs::write(&path, text.join("---\n")).unwrap();
    path
}

/// An ImageSyncRule document named `name`.
pub fn rule(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "swrsync.io/v1alpha1", "kind": "ImageSyncRule",
           "metadata": {"name": name}, "spec": spec})
}

/// Runs `plan -o json` with `args` for `env`'s namespace and emulator; returns the exit
/// code and the rows.
pub async fn plan_rows(env: &Env, kubeconfig: &Path, args: &[&str]) -> (i32, Vec<Value>) {
    let endpoint = env.emulator.endpoint_template();
    let mut command = Command::new(crate::process::binary());
    command
        .args(["plan", "-o", "json", "--namespace", &env.ns])
        .args(["--swr-endpoint", &endpoint, "--iam-endpoint", &endpoint])
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("SWR_SYNC_NAMESPACE");
    // Off the test's runtime thread: the emulator it calls runs on that thread.
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("running plan");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Value> = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "plan printed no JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), rows)
}
