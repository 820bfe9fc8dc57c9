//! Leader election against a real kube-apiserver: one winner among candidates, immediate
//! hand-over on release, hand-over after expiry when the leader dies, and a leader that
//! notices it was replaced.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;
use serde_json::json;
use swr_sync_operator::leader::{Elector, LeaseConfig, Lost};
use testkit::cluster;

const LEASE: &str = "swr-sync-operator";

/// Short timings so a test runs in seconds; the ratios are client-go's.
fn config(ns: &str, identity: &str) -> LeaseConfig {
    LeaseConfig {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(400),
        ..LeaseConfig::new(ns, LEASE, identity)
    }
}

async fn setup(prefix: &str) -> (Client, String) {
    let client = cluster::client().await;
    let ns = cluster::namespace(&client, prefix).await;
    (client, ns)
}

async fn holder(client: &Client, ns: &str) -> Option<String> {
    Api::<Lease>::namespaced(client.clone(), ns)
        .get(LEASE)
        .await
        .expect("reading the Lease")
        .spec
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

/// Acquires with `elector`, failing the test after `limit`; returns the time it took.
async fn acquire_within(elector: &mut Elector, limit: Duration) -> Duration {
    let started = Instant::now();
    tokio::time::timeout(limit, elector.acquire())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} did not become leader within {limit:?}",
                elector.config().identity
            )
        });
    started.elapsed()
}

#[tokio::test]
async fn one_of_three_candidates_leads_while_it_renews() {
    let (client, ns) = setup("lease-one").await;
    let (winner_tx, mut winner_rx) = tokio::sync::mpsc::channel(3);
    for name in ["a", "b", "c"] {
        let mut elector = Elector::new(client.clone(), config(&ns, name));
        let tx = winner_tx.clone();
        tokio::spawn(async move {
            elector.acquire().await;
            tx.send(name).await.unwrap();
            elector.hold().await
        });
    }
    let first = tokio::time::timeout(Duration::from_secs(5), winner_rx.recv())
        .await
        .expect("somebody leads within 5s")
        .unwrap();
    // Four lease durations: a leader that renews is never displaced.
    let second = tokio::time::timeout(Duration::from_secs(12), winner_rx.recv()).await;
    assert!(
        second.is_err(),
        "{first} leads, yet {:?} also became leader",
        second.unwrap()
    );
    assert_eq!(holder(&client, &ns).await.as_deref(), Some(first));
}

#[tokio::test]
async fn a_released_lease_is_taken_over_at_once() {
    let (client, ns) = setup("lease-release").await;
    let mut a = Elector::new(client.clone(), config(&ns, "a"));
    let mut b = Elector::new(client.clone(), config(&ns, "b"));
    acquire_within(&mut a, Duration::from_secs(5)).await;
    let waiting = tokio::spawn(async move {
        let took = acquire_within(&mut b, Duration::from_secs(10)).await;
        (b, took)
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiting.is_finished(), "b led while a held the Lease");
    let released = Instant::now();
    a.release().await.expect("release");
    let (_b, _) = waiting.await.unwrap();
    let handover = released.elapsed();
    eprintln!("hand-over after release: {handover:?}");
    assert!(
        handover < Duration::from_secs(2),
        "a released Lease must not wait for expiry (took {handover:?})"
    );
    let lease = Api::<Lease>::namespaced(client.clone(), &ns)
        .get(LEASE)
        .await
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
}

#[tokio::test]
async fn a_dead_leader_is_replaced_after_the_lease_expires() {
    let (client, ns) = setup("lease-expire").await;
    let mut a = Elector::new(client.clone(), config(&ns, "a"));
    acquire_within(&mut a, Duration::from_secs(5)).await;
    // `a` stops renewing, as a killed process would.
    drop(a);
    let died = Instant::now();
    let mut b = Elector::new(client.clone(), config(&ns, "b"));
    acquire_within(&mut b, Duration::from_secs(10)).await;
    let handover = died.elapsed();
    eprintln!("hand-over after the leader died: {handover:?} (lease duration 3s)");
    assert!(
        handover >= Duration::from_secs(3),
        "b took over a Lease that had not expired (after {handover:?})"
    );
    assert!(handover < Duration::from_millis(4500), "took {handover:?}");
    assert_eq!(holder(&client, &ns).await.as_deref(), Some("b"));
}

#[tokio::test]
async fn a_leader_notices_when_the_lease_is_taken_from_it() {
    let (client, ns) = setup("lease-taken").await;
    let mut a = Elector::new(client.clone(), config(&ns, "a"));
    acquire_within(&mut a, Duration::from_secs(5)).await;
    let holding = tokio::spawn(async move { a.hold().await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!holding.is_finished(), "the leader gave up while renewing");
    // An administrator hands the Lease to someone else.
    Api::<Lease>::namespaced(client.clone(), &ns)
        .patch(
            LEASE,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"holderIdentity": "intruder"}})),
        )
        .await
        .unwrap();
    let lost = tokio::time::timeout(Duration::from_secs(2), holding)
        .await
        .expect("the leader notices within a retry period")
        .unwrap();
    assert!(
        matches!(&lost, Lost::TakenBy(h) if h == "intruder"),
        "{lost:?}"
    );
}
