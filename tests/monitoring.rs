//! The monitoring that ships with the operator, checked with the real `promtool` (Debian's
//! Prometheus 2.42, installed by `hack/prometheus/install.sh`): the alerting rules
//! (`deploy/monitoring/alerts.yaml`) check, their unit tests pass (every alert fires after
//! its `for`, stays silent on a blip and on a healthy operator), every alert has a severity,
//! a summary, a description and a runbook section; the Grafana dashboard has a datasource
//! variable, unique panel ids, and queries that parse and select the operator's job.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::installed;
use support::manifests::root;

/// `promtool`, installed by the project's script when missing.
fn promtool() -> &'static PathBuf {
    static PROMTOOL: OnceLock<PathBuf> = OnceLock::new();
    PROMTOOL.get_or_init(|| {
        installed("hack/prometheus/install.sh", "Prometheus (promtool)").join("promtool")
    })
}

/// Runs `promtool <args>` in deploy/monitoring; panics with its output when it fails.
fn run_promtool(args: &[&str]) -> String {
    let out = Command::new(promtool())
        .args(args)
        .current_dir(root().join("deploy/monitoring"))
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

fn alerts() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("deploy/monitoring/alerts.yaml")).unwrap();
    let rules: Value = serde_yaml::from_str(&text).unwrap();
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .filter(|r| r.get("alert").is_some())
        .collect()
}

#[test]
fn the_rules_check_clean() {
    let out = run_promtool(&["check", "rules", "alerts.yaml"]);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_fires_when_it_should_and_only_then() {
    let out = run_promtool(&["test", "rules", "alerts_test.yaml"]);
    assert!(out.contains("SUCCESS"), "{out}");
    // Every alert is tested firing, not only silent.
    let text = std::fs::read_to_string(root().join("deploy/monitoring/alerts_test.yaml")).unwrap();
    let tests: Value = serde_yaml::from_str(&text).unwrap();
    let fired: BTreeSet<&str> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().unwrap())
        .filter(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .filter_map(|c| c["alertname"].as_str())
        .collect();
    for alert in alerts() {
        let name = alert["alert"].as_str().unwrap();
        assert!(fired.contains(name), "no test shows {name} firing");
    }
}

#[test]
fn every_alert_says_how_bad_what_and_what_to_do() {
    let runbook = std::fs::read_to_string(root().join("docs/runbook.md")).unwrap();
    for alert in alerts() {
        let name = alert["alert"].as_str().unwrap();
        let severity = alert["labels"]["severity"].as_str().unwrap_or_default();
        assert!(
            ["critical", "warning"].contains(&severity),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description"] {
            assert!(alert["annotations"][key].is_string(), "{name}: no {key}");
        }
        assert!(
            alert["for"].is_string(),
            "{name} has no `for`: it would fire on a blip"
        );
        assert_eq!(
            alert["annotations"]["runbook"],
            format!("docs/runbook.md#{}", name.to_lowercase()),
            "{name}: runbook link"
        );
        assert!(
            runbook.contains(&format!("\n## {name}\n")),
            "docs/runbook.md has no section {name}"
        );
    }
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(root().join("deploy/monitoring/dashboard.json"))
        .expect("deploy/monitoring/dashboard.json");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// Every query of the dashboard's panels, with the panel's title.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
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

#[test]
fn the_dashboard_is_importable_and_every_panel_queries_this_operator() {
    let dashboard = dashboard();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(
        variables.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "no Prometheus datasource variable"
    );
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let id = panel["id"].as_u64().expect("a panel id");
        assert!(ids.insert(id), "panel id {id} is used twice");
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap();
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{title}: datasource"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            assert_eq!(
                target["datasource"]["uid"], "${datasource}",
                "{title}: datasource"
            );
        }
    }
    // Each query selects this operator's job, so a shared Prometheus's other jobs do not mix in.
    for (title, expr) in dashboard_queries(&dashboard) {
        assert!(
            expr.contains(r#"job=~"$job""#),
            "{title}: {expr} does not select $job"
        );
    }
}

#[test]
fn every_dashboard_query_parses() {
    // promtool parses PromQL when it checks rules: each query becomes a recording rule.
    let queries = dashboard_queries(&dashboard());
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (_, expr))| serde_json::json!({"record": format!("dashboard:query_{i}"), "expr": expr}))
        .collect();
    let file = std::env::temp_dir().join(format!(
        "swr-sync-dashboard-{}.rules.yaml",
        std::process::id()
    ));
    let doc = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
    std::fs::write(&file, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let out = run_promtool(&["check", "rules", file.to_str().unwrap()]);
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{out}"
    );
    std::fs::remove_file(&file).ok();
}
