//! The monitoring that ships with the operator, checked with the real `promtool` (Debian's
//! Prometheus 2.42, installed by `hack/prometheus/install.sh`): the alerting rules
//! (`deploy/monitoring/alerts.yaml`) check, their unit tests pass (every alert fires after
//! its `for`, stays silent on a blip and on a healthy operator), every alert has a severity,
//! a summary, a description and a runbook section; the Grafana dashboard has a datasource
//! variable, unique panel ids, and queries that parse and select the operator's job; and a
//! real Prometheus scraping a real operator process sees every panel's series and raises
//! exactly the alerts of the states the emulator drives it into.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use support::cluster;
use support::installed;
use support::manifests::root;
use support::operator::{ready_reason, spec, Env, EAST_DR};
use support::process::OperatorProcess;
use support::prometheus::{Prometheus, JOB};
use swr_sync_operator::api::replication::ReplicationState;

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

/// The alerts of `alerts.yaml` active in `prometheus` now: (name, the label that tells
/// instances apart, if any) → state.
async fn active_alerts(prometheus: &Prometheus) -> BTreeMap<(String, String), String> {
    prometheus
        .alerts()
        .await
        .into_iter()
        .map(|a| {
            let name = a["labels"]["alertname"].as_str().unwrap_or_default();
            let which = ["reason", "target_region"]
                .iter()
                .find_map(|l| a["labels"][l].as_str())
                .unwrap_or_default();
            let state = a["state"].as_str().unwrap_or_default().to_string();
            ((name.to_string(), which.to_string()), state)
        })
        .collect()
}

/// Every metric name an expression selects (`swr_sync_*`, `process_*`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let name = regex::Regex::new(r"\b(?:swr_sync|process)_[a-z_]+").unwrap();
    name.find_iter(expr)
        .map(|m| m.as_str().to_string())
        .collect()
}

/// The real Prometheus scrapes a real operator process driven by the emulator into a Ready
/// rule (which verified and repaired a tag), a rule whose target lacks tags, an invalid rule
/// and a rule SWR throttles. Through Prometheus's own API: every alert rule loads and
/// evaluates, every metric the alerts select exists, every dashboard query returns series,
/// and exactly the alerts of the bad states are pending (their `for` is minutes long).
#[tokio::test]
async fn a_real_prometheus_scraping_the_operator_sees_every_panel_and_the_alerts_of_its_states() {
    let env = Env::without_operator("monitoring").await;
    env.create_secret("swr-credentials").await;
    let ns = env.ns.as_str();
    // The emulator's tags were pushed as it started: a grace of a second, passed before the
    // rules come, or they would count as in flight.
    let scope = ["--namespace", ns, "--leader-election-namespace", ns];
    let args = [&scope[..], &["--verify-grace", "1s"]].concat();
    let endpoint = env.emulator.endpoint_template();
    let operator = OperatorProcess::start("monitoring-0", cluster::kubeconfig(), &endpoint, &args);
    operator.wait_ready().await;
    let rules_file = root().join("deploy/monitoring/alerts.yaml");
    let prometheus = Prometheus::start(&[operator.metrics_target()], &[&rules_file]).await;

    tokio::time::sleep(Duration::from_secs(1)).await;
    // Ready, after repairing the tag its target lacked; behind, not allowed to repair;
    // invalid (its target is its source). A resync of an hour: they make no calls later.
    let mut ready = spec(&["team/api"], EAST_DR);
    ready["verify"] = json!({"interval": "1h", "repair": true});
    let mut behind = spec(&["nginx"], EAST_DR);
    behind["verify"] = json!({"interval": "1h", "repair": false});
    let invalid = spec(&["nginx"], &[("cn-north-4", "platform")]);
    for (name, mut rule) in [("ready", ready), ("behind", behind), ("invalid", invalid)] {
        rule["resyncInterval"] = json!("1h");
        env.apply(name, rule).await.unwrap();
    }
    env.wait_for("ready", "ready's replication InSync", |r| {
        r.and_then(|r| r.status.as_ref())
            .and_then(|s| s.replication.as_ref())
            .is_some_and(|s| s.state == ReplicationState::InSync)
    })
    .await;
    env.wait_ready("ready", "1/1 tasks in sync").await;
    for (name, reason) in [("behind", "ReplicationBehind"), ("invalid", "InvalidSpec")] {
        env.wait_for(name, reason, |r| {
            r.and_then(ready_reason).as_deref() == Some(&format!("False/{reason}"))
        })
        .await;
    }

    // SWR's gateway throttles every call of a fourth rule, asked to reconcile again and again.
    env.admin_send(
        Method::PUT,
        "faults",
        json!({"error_rate": 1.0, "error_status": 429, "from_gateway": true}),
    )
    .await;
    env.apply(
        "throttled",
        spec(&["nginx"], &[("ap-southeast-1", "platform-dr")]),
    )
    .await
    .unwrap();
    let throttled = ("SwrSyncThrottled".to_string(), String::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut asked = 0;
    let active = loop {
        asked += 1;
        env.request_reconcile("throttled", &asked.to_string()).await;
        let active = active_alerts(&prometheus).await;
        if active.contains_key(&throttled) {
            break active;
        }
        assert!(
            Instant::now() < deadline,
            "SwrSyncThrottled not pending within 120s; active: {active:?}; 429s scraped: {:?}",
            prometheus
                .query(r#"swr_sync_cloud_requests_total{status="429"}"#)
                .await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let expected: BTreeSet<(String, String)> = [
        ("SwrSyncRulesInvalid", "InvalidSpec"),
        ("SwrSyncReplicationBehind", "cn-east-3"),
        ("SwrSyncRulesSwrErrors", "Throttled"),
        ("SwrSyncThrottled", ""),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(
        active.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "active alerts: {active:?}"
    );
    // Pending: each waits out its `for` (minutes) before it fires.
    assert!(active.values().all(|s| s == "pending"), "{active:?}");

    // Every rule loaded and evaluates without error, and every metric it selects exists.
    let loaded = prometheus.rules().await;
    assert_eq!(loaded.len(), alerts().len(), "rules loaded: {loaded:?}");
    for rule in &loaded {
        assert_eq!(rule["health"], "ok", "{rule}");
    }
    for alert in alerts() {
        let expr = alert["expr"].as_str().unwrap();
        prometheus
            .query(expr)
            .await
            .expect("the alert's expression parses");
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "{expr}: selects no metric of the operator"
        );
        for name in names {
            let series = prometheus.query(&name).await.unwrap();
            assert!(
                !series.is_empty(),
                "{}: no series of {name}",
                alert["alert"]
            );
        }
    }

    // The dashboard's job variable finds this operator, and every panel query returns series.
    let jobs = prometheus
        .api("label/job/values", &[("match[]", "swr_sync_leader")])
        .await
        .unwrap();
    assert_eq!(jobs, json!([JOB]));
    let queries = dashboard_queries(&dashboard());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut empty = Vec::new();
        for (title, expr) in &queries {
            let expr = expr.replace("$job", JOB);
            let series = prometheus.query(&expr).await.expect("the query parses");
            if series.is_empty() {
                empty.push(format!("{title}: {expr}"));
            }
        }
        if empty.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dashboard queries without series:\n{}",
            empty.join("\n")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        prometheus.targets().await.iter().all(|(h, _)| h == "up"),
        "{:?}",
        prometheus.targets().await
    );
}
