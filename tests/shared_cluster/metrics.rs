//! `/metrics`, `/healthz` and `/readyz` of the operator binary, scraped while it runs against
//! a real kube-apiserver and the emulator: the cloud calls it counts are the calls the
//! emulator received, and rules are counted by their Ready state.

use std::collections::BTreeMap;
use std::time::Duration;

use testkit::cluster;
use testkit::metrics::sum;
use testkit::operator::{spec, Env, BOTH_DR};
use testkit::process::OperatorProcess;

#[tokio::test]
async fn a_scrape_matches_what_the_operator_did() {
    let env = Env::without_operator("metrics").await;
    env.create_secret("swr-credentials").await;
    let operator = OperatorProcess::start(
        "metrics-operator",
        cluster::kubeconfig(),
        &env.emulator.endpoint_template(),
        &["--namespace", &env.ns, "--leader-elect=false"],
    );
    operator.wait_ready().await;
    assert_eq!(operator.get("/healthz").await.map(|(s, _)| s), Some(200));

    env.apply("web", spec(&["nginx", "team/api"], BOTH_DR))
        .await
        .unwrap();
    let mut looping = spec(&["nginx"], &[("cn-north-4", "platform")]);
    looping["resyncInterval"] = "1h".into();
    env.apply("loop", looping).await.unwrap();
    env.wait_ready("web", "4/4 tasks in sync").await;
    env.wait_for("loop", "loop InvalidSpec", |r| {
        r.and_then(testkit::operator::ready_reason).as_deref() == Some("False/InvalidSpec")
    })
    .await;
    // Let the scrape catch up with the status the test just read.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let scraped = operator.metrics().await;
    let emulator = env.calls().await;
    let mut counted = BTreeMap::new();
    for (operation, status) in emulator.keys() {
        let labels = [
            format!("operation=\"{operation}\""),
            format!("status=\"{status}\""),
        ];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        counted.insert(
            (operation.clone(), *status),
            sum(&scraped, "swr_sync_cloud_requests_total", &labels) as u64,
        );
    }
    assert_eq!(
        counted, emulator,
        "cloud calls counted vs calls the emulator received"
    );
    assert_eq!(
        sum(&scraped, "swr_sync_cloud_requests_total", &[]) as u64,
        emulator.values().sum::<u64>(),
        "the operator counted calls the emulator never saw"
    );

    let reconciles = sum(&scraped, "swr_sync_reconciles_total", &[]);
    assert!(reconciles >= 2.0, "{reconciles} reconciles");
    assert_eq!(
        sum(&scraped, "swr_sync_reconcile_duration_seconds_count", &[]),
        reconciles
    );
    // Histograms carry their buckets; the last one holds every observation.
    let all = ["le=\"+Inf\""];
    assert_eq!(
        sum(&scraped, "swr_sync_reconcile_duration_seconds_bucket", &all),
        reconciles
    );
    assert_eq!(
        sum(
            &scraped,
            "swr_sync_cloud_request_duration_seconds_bucket",
            &all
        ),
        sum(&scraped, "swr_sync_cloud_requests_total", &[])
    );
    // Bucket bounds span 1 ms to at least a minute.
    let bounds: Vec<f64> = scraped
        .keys()
        .filter_map(|k| k.strip_prefix("swr_sync_reconcile_duration_seconds_bucket{le=\""))
        .filter_map(|le| le.trim_end_matches("\"}").parse().ok())
        .collect();
    assert!(bounds.contains(&0.001), "{bounds:?}");
    assert!(
        bounds.iter().any(|b| b.is_finite() && *b >= 60.0),
        "{bounds:?}"
    );
    assert!(
        sum(
            &scraped,
            "swr_sync_reconcile_failures_total",
            &["reason=\"InvalidSpec\""]
        ) >= 1.0
    );
    assert_eq!(scraped.get("swr_sync_rules{ready=\"True\"}"), Some(&1.0));
    assert_eq!(scraped.get("swr_sync_rules{ready=\"False\"}"), Some(&1.0));
    assert_eq!(
        scraped.get("swr_sync_rules_not_ready{reason=\"InvalidSpec\"}"),
        Some(&1.0)
    );
    assert_eq!(scraped.get("swr_sync_leader"), Some(&1.0));
    assert!(sum(&scraped, "swr_sync_rate_limiter_wait_seconds_count", &[]) >= 4.0);
    assert!(scraped
        .get("process_resident_memory_bytes")
        .is_some_and(|b| *b > 1e6));
}
