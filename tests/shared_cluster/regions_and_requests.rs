//! Region checks and requested reconciles, end to end on a real kube-apiserver with the
//! emulator: a target region SWR cannot replicate to is an InvalidSpec naming the supported
//! regions, with no task call; the reconcile-requested-at annotation repairs drift at once
//! and shows up as handled in the status.

use std::time::{Duration, Instant};

use serde_json::json;
use swr_sync_operator::swr::model::SyncTarget;
use swr_sync_operator::swr::{SourceRepo, SwrApi};
use testkit::operator::{ready_reason, spec, Env, BOTH_DR, EAST_DR};

#[tokio::test]
async fn an_unsupported_target_region_is_invalid_and_costs_no_task_call() {
    let env = Env::start("regions").await;
    let targets = [("cn-east-3", "platform-dr"), ("eu-west-101", "platform-dr")];
    env.apply("far", spec(&["nginx"], &targets)).await.unwrap();
    let rule = env
        .wait_for("far", "far InvalidSpec", |r| {
            r.and_then(ready_reason).as_deref() == Some("False/InvalidSpec")
        })
        .await
        .unwrap();
    let ready = rule.status.unwrap().conditions.remove(0);
    assert_eq!(
        ready.message,
        "SWR cannot replicate cn-north-4 to eu-west-101; regions it can replicate cn-north-4 \
         to: ap-southeast-1, cn-east-3"
    );
    // A second rule from the same source region uses the cached list.
    env.apply("near", spec(&["team/api"], EAST_DR))
        .await
        .unwrap();
    env.wait_ready("near", "1/1 tasks in sync").await;
    assert_eq!(env.calls_of("swr.list_regions").await, 1);
    // Only "near" touched tasks.
    assert_eq!(env.calls_of("swr.create_sync_task").await, 1);
    assert_eq!(env.calls_of("swr.list_sync_tasks").await, 1);

    // Fixing the spec makes it converge.
    env.apply("far", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("far", "1/1 tasks in sync").await;
}

#[tokio::test]
async fn a_requested_reconcile_repairs_drift_at_once_and_is_shown_as_handled() {
    let env = Env::start("request").await;
    let mut hourly = spec(&["nginx"], BOTH_DR);
    hourly["resyncInterval"] = json!("1h");
    env.apply("web", hourly).await.unwrap();
    env.wait_ready("web", "2/2 tasks in sync").await;

    // Somebody deletes a task behind the operator's back; the next resync is an hour away.
    let nginx = SourceRepo::new("cn-north-4", "platform", "nginx").unwrap();
    let east = SyncTarget {
        remote_region_id: "cn-east-3".into(),
        remote_namespace: "platform-dr".into(),
    };
    env.swr_client()
        .delete_sync_task(&nginx, &east)
        .await
        .unwrap();
    assert_eq!(env.tasks().await.len(), 1);

    let requested = "2026-11-23T07:00:00Z";
    let requested_at = Instant::now();
    env.request_reconcile("web", requested).await;
    env.wait_for("web", "the request handled", |r| {
        r.and_then(|r| r.status.as_ref())
            .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some(requested))
    })
    .await;
    let took = requested_at.elapsed();
    eprintln!("requested reconcile handled in {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        env.tasks().await.len(),
        2,
        "the deleted task was not re-created"
    );
    env.wait_ready("web", "2/2 tasks in sync").await;
}
