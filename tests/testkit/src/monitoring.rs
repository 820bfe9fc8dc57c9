//! The monitoring that ships with the operator as tests read it: the alerting rules, the
//! Grafana dashboard and its queries, and `promtool` (Debian's Prometheus 2.42, installed by
//! `hack/prometheus/install.sh`) to check them.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// `promtool`, installed by the project's script when missing.
pub fn promtool() -> &'static PathBuf {
    static PROMTOOL: OnceLock<PathBuf> = OnceLock::new();
    PROMTOOL.get_or_init(|| {
        crate::installed("hack/prometheus/install.sh", "Prometheus (promtool)").join("promtool")
    })
}

/// Runs `promtool <args>` in deploy/monitoring; panics with its output when it fails.
pub fn run_promtool(args: &[&str]) -> String {
    let out = Command::new(promtool())
        .args(args)
        .current_dir(crate::root().join("deploy/monitoring"))
        .output()
        .expect("running promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// The alerting rules of `deploy/monitoring/alerts.yaml` (recording rules left out).
pub fn alerts() -> Vec<Value> {
    let text =
        std::fs::read_to_string(crate::root().join("deploy/monitoring/alerts.yaml")).unwrap();
    let rules: Value = serde_yaml::from_str(&text).unwrap();
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .filter(|r| r.get("alert").is_some())
        .collect()
}

/// The Grafana dashboard, `deploy/monitoring/dashboard.json`.
pub fn dashboard() -> Value {
    let text = std::fs::read_to_string(crate::root().join("deploy/monitoring/dashboard.json"))
        .expect("deploy/monitoring/dashboard.json");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// Every query of the dashboard's panels, with the panel's title.
pub fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or_default().to_string();
            p["targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |t| {
                    (
                        title.clone(),
                        t["expr"].as_str().unwrap_or_default().to_string(),
                    )
                })
        })
        .collect()
}
