//! The shipped monitoring against a real Prometheus (Debian's 2.42) scraping a real operator
//! process: it sees every dashboard panel's series and raises exactly the alerts of the
//! states the emulator drives the operator into. (`tests/offline/monitoring.rs` checks the
//! rules and the dashboard with promtool.)

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use swr_sync_operator::api::replication::ReplicationState;
use testkit::cluster;
use testkit::monitoring::{alerts, dashboard, dashboard_queries};
use testkit::operator::{ready_reason, spec, Env, EAST_DR};
use testkit::process::OperatorProcess;
use testkit::prometheus::{Prometheus, JOB};
use testkit::root;

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
