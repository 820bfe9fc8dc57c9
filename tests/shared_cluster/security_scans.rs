//! HSS refreshes (`securityScan`) end to end on a real kube-apiserver with the emulator:
//! debounced to one call per region per interval across rules, the outcome in each rule's
//! status and Events, and a failing HSS never blocking replication.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::{json, Value};
use swr_sync_operator::api::status::{ScanState, ScanStatus};
use swr_sync_operator::api::ImageSyncRule;
use testkit::operator::{spec, Env, EAST_DR};

const AP_DR: &[(&str, &str)] = &[("ap-southeast-1", "platform-dr")];

fn scanned(repos: &[&str], targets: &[(&str, &str)]) -> Value {
    let mut s = spec(repos, targets);
    s["securityScan"] = json!({"enabled": true, "imageType": "private_image"});
    s
}

fn scans(rule: &ImageSyncRule) -> Vec<ScanStatus> {
    rule.status
        .as_ref()
        .map(|s| s.security_scans.clone())
        .unwrap_or_default()
}

/// Waits until every scan of `name` has left Pending; returns them.
async fn settled_scans(env: &Env, name: &str) -> Vec<ScanStatus> {
    let rule = env
        .wait_for(name, &format!("{name}'s HSS refresh made"), |r| {
            r.is_some_and(|r| {
                let s = scans(r);
                !s.is_empty() && s.iter().all(|s| s.state != ScanState::Pending)
            })
        })
        .await
        .unwrap();
    scans(&rule)
}

/// HSS calls the emulator accepted, per region.
async fn hss_calls(env: &Env) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for event in env.admin("state").await["hssEvents"].as_array().unwrap() {
        *out.entry(event["region"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    out
}

#[tokio::test]
async fn a_burst_of_new_tasks_makes_one_hss_call_per_region_per_interval() {
    let mut env = Env::without_operator("scans").await;
    env.reconciler.hss_debounce = Duration::from_secs(3);
    env.create_secret("swr-credentials").await;
    env.start_operator();
    env.apply("a", scanned(&["nginx"], EAST_DR)).await.unwrap();
    env.apply("b", scanned(&["team/api"], EAST_DR))
        .await
        .unwrap();
    // Another organization, so that no rule sees another's tasks as foreign.
    let mut c = scanned(&["apps/api-server"], AP_DR);
    c["source"]["organization"] = json!("team_a.b-c");
    env.apply("c", c).await.unwrap();
    for (name, summary) in [("a", "1/1"), ("b", "1/1"), ("c", "1/1")] {
        env.wait_ready(name, &format!("{summary} tasks in sync"))
            .await;
    }
    for name in ["a", "b", "c"] {
        let scans = settled_scans(&env, name).await;
        assert_eq!(scans.len(), 1, "{name}: {scans:?}");
        assert_eq!(scans[0].state, ScanState::Requested, "{name}: {scans:?}");
        assert_eq!(scans[0].error_code.as_deref(), Some("0"));
        assert_eq!(scans[0].message.as_deref(), Some("success"));
    }
    // cn-east-3: the first rule's call, then one call at the end of the interval for the
    // other; ap-southeast-1 is a slot of its own.
    let calls = hss_calls(&env).await;
    assert_eq!(
        calls,
        BTreeMap::from([("ap-southeast-1".into(), 1), ("cn-east-3".into(), 2)])
    );
    // Nothing more once settled.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(hss_calls(&env).await, calls);
    let events = Api::<Event>::namespaced(env.client.clone(), &env.ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    let requested = events
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some("SecurityScanRequested"))
        .count();
    assert!(requested >= 2, "{requested} SecurityScanRequested events");
}

#[tokio::test]
async fn a_failing_hss_is_reported_and_blocks_nothing() {
    let env = Env::start("scans-fail").await;
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"error_rate": 1.0, "operations": ["hss.image_synchronize"]}),
    )
    .await;
    env.apply("a", scanned(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("a", "1/1 tasks in sync").await;
    let scans = settled_scans(&env, "a").await;
    assert_eq!(scans[0].state, ScanState::Failed, "{scans:?}");
    assert!(
        scans[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("cn-east-3"),
        "{scans:?}"
    );
    assert!(scans[0].error_code.is_some());
    assert_eq!(env.tasks().await.len(), 1, "replication went ahead");
}
