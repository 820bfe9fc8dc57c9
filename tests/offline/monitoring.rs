//! The monitoring that ships with the operator, checked with the real `promtool`: the
//! alerting rules (`deploy/monitoring/alerts.yaml`) check, their unit tests pass (every alert
//! fires after its `for`, stays silent on a blip and on a healthy operator), every alert has a
//! severity, a summary, a description and a runbook section; the Grafana dashboard has a
//! datasource variable, unique panel ids, and queries that parse and select the operator's
//! job. (`tests/shared_cluster/monitoring.rs` has a real Prometheus scrape the operator.)

use std::collections::BTreeSet;

use serde_json::Value;
use testkit::monitoring::{alerts, dashboard, dashboard_queries, run_promtool};
use testkit::root;

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
