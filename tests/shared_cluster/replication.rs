//! Replication health (`spec.verify`) end to end on a real kube-apiserver with the emulator:
//! tags that never reached a target are reported, and repaired only when asked; a diverged
//! tag is repaired only where `override` allows it; a replication job that timed out is
//! named; a tag deleted in the target comes back; catching up clears the state with one
//! Event; and a rule without `verify` lists no tags.

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use reqwest::Method;
use serde_json::{json, Value};
use swr_sync_operator::api::replication::{ReplicationState, ReplicationStatus};
use swr_sync_operator::api::status::condition_type;
use swr_sync_operator::api::ImageSyncRule;
use testkit::cluster;
use testkit::operator::{spec, Env, EAST_DR};
use testkit::plan::{plan_rows, rule, write_yaml};
use testkit::signed::Signed;

const LIST_TAGS: &str = "swr.list_tags";
const SYNC_IMAGES: &str = "swr.sync_images";

/// nginx to cn-east-3/platform-dr, verified hourly (a requested reconcile verifies at once).
fn verified(repair: bool, override_existing: bool) -> Value {
    let mut s = spec(&["nginx"], EAST_DR);
    s["targets"][0]["override"] = json!(override_existing);
    s["verify"] = json!({"interval": "1h", "repair": repair});
    s["resyncInterval"] = json!("1h");
    s
}

fn replication(rule: Option<&ImageSyncRule>) -> Option<&ReplicationStatus> {
    rule?.status.as_ref()?.replication.as_ref()
}

/// Waits until the rule's replication is in `state`; returns it.
async fn wait_replication(
    env: &Env,
    name: &str,
    state: ReplicationState,
) -> (ImageSyncRule, ReplicationStatus) {
    let rule = env
        .wait_for(name, &format!("replication {state:?}"), |r| {
            replication(r).is_some_and(|s| s.state == state)
        })
        .await
        .unwrap();
    let status = replication(Some(&rule)).cloned().unwrap();
    (rule, status)
}

/// Pushes `tag` (with `digest`) to `organization`/nginx in `region`.
async fn push(env: &Env, region: &str, organization: &str, tag: &str, digest: &str) {
    env.admin_send(
        Method::POST,
        "push",
        json!({"region": region, "organization": organization, "repository": "nginx", "tag": tag, "digest": digest}),
    )
    .await;
}

/// The digest of nginx:`tag` in cn-east-3/platform-dr.
async fn target_digest(env: &Env, tag: &str) -> Option<String> {
    let state = env.admin("state").await;
    state["regions"]["cn-east-3"]["organizations"]["platform-dr"]["repositories"]["nginx"]["tags"]
        [tag]["digest"]
        .as_str()
        .map(String::from)
}

/// Notes of the rule's Events with `reason`.
async fn events(env: &Env, name: &str, reason: &str) -> Vec<String> {
    let all = Api::<Event>::namespaced(env.client.clone(), &env.ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    all.items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.note.unwrap_or_default())
        .collect()
}

fn condition(rule: &ImageSyncRule, type_: &str) -> (String, String) {
    let c = rule
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap();
    (c.status.clone(), c.reason.clone())
}

#[tokio::test]
async fn tags_pushed_before_the_task_are_reported_and_only_repaired_when_asked() {
    // Listings shared for a minute, as by default: the verification after a repair must
    // not judge on the listing from before it.
    let mut env = Env::without_operator("verify-behind").await;
    env.reconciler.swr_list_ttl = std::time::Duration::from_secs(60);
    env.create_secret("swr-credentials").await;
    env.start_operator();
    env.apply("web", verified(false, false)).await.unwrap();
    let (rule, status) = wait_replication(&env, "web", ReplicationState::Behind).await;
    let target = &status.targets[0];
    assert_eq!(
        (target.missing, target.diverged, target.repositories),
        (2, 0, 1)
    );
    assert_eq!(
        target.examples,
        ["nginx:1.25 missing", "nginx:latest missing"]
    );
    assert!(
        target.message.as_deref().unwrap().contains("verify.repair"),
        "{target:?}"
    );
    assert_eq!(status.summary, "behind: 2 tag(s) missing in 1/1 target(s)");
    // The tasks are right and say so; the rule is not Ready, and needs the user.
    assert_eq!(
        rule.status.as_ref().unwrap().summary.as_deref(),
        Some("1/1 tasks in sync")
    );
    assert_eq!(
        condition(&rule, condition_type::READY),
        ("False".into(), "ReplicationBehind".into())
    );
    assert_eq!(
        condition(&rule, condition_type::STALLED),
        ("True".into(), "ReplicationBehind".into())
    );
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 0, "repair is off");
    assert_eq!(events(&env, "web", "ReplicationBehind").await.len(), 1);

    // Asked to repair, the operator copies them, follows the jobs, and the rule is Ready.
    env.apply("web", verified(true, false)).await.unwrap();
    let (rule, status) = wait_replication(&env, "web", ReplicationState::InSync).await;
    assert!(status.repairs.is_empty(), "{status:?}");
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 1, "one batch");
    assert!(target_digest(&env, "1.25").await.is_some());
    env.wait_for("web", "Ready", |r| {
        r.is_some_and(|r| condition(r, condition_type::READY).0 == "True")
    })
    .await;
    assert_eq!(
        rule.status.as_ref().unwrap().summary.as_deref(),
        Some("1/1 tasks in sync")
    );
    assert_eq!(events(&env, "web", "RepairRequested").await.len(), 1);
    assert_eq!(events(&env, "web", "ReplicationCaughtUp").await.len(), 1);
    let metrics = env.metrics.render();
    for line in [
        "swr_sync_repairs_total{outcome=\"requested\"} 2",
        "swr_sync_repairs_total{outcome=\"succeeded\"} 2",
    ] {
        assert!(metrics.contains(line), "no {line} in:\n{metrics}");
    }
    assert!(metrics.contains("swr_sync_verifications_total{outcome=\"ok\"}"));
}

#[tokio::test]
async fn a_diverged_tag_is_repaired_only_where_override_allows() {
    let env = Env::start("verify-diverged").await;
    // 1.25 holds another image in the target before any task exists.
    push(&env, "cn-east-3", "platform-dr", "1.25", "sha256:other").await;
    env.apply("web", verified(true, false)).await.unwrap();
    let (rule, status) = wait_replication(&env, "web", ReplicationState::Diverged).await;
    let target = &status.targets[0];
    assert_eq!(
        (target.missing, target.diverged),
        (0, 1),
        "latest was repaired: {status:?}"
    );
    assert!(
        target
            .message
            .as_deref()
            .unwrap()
            .contains("override: true"),
        "{target:?}"
    );
    assert_eq!(
        condition(&rule, condition_type::READY),
        ("False".into(), "ReplicationDiverged".into())
    );
    assert_eq!(
        target_digest(&env, "1.25").await.as_deref(),
        Some("sha256:other"),
        "not overwritten"
    );
    // Only latest was asked for: without override, a copy of 1.25 could only fail.
    assert!(status.repairs.is_empty(), "{:?}", status.repairs);
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 1);
    assert_eq!(events(&env, "web", "ReplicationDiverged").await.len(), 1);

    // With override, the repair overwrites it.
    env.apply("web", verified(true, true)).await.unwrap();
    wait_replication(&env, "web", ReplicationState::InSync).await;
    let source = env.admin("state").await["regions"]["cn-north-4"]["organizations"]["platform"]
        ["repositories"]["nginx"]["tags"]["1.25"]["digest"]
        .clone();
    assert_eq!(
        target_digest(&env, "1.25").await.as_deref(),
        source.as_str()
    );
}

#[tokio::test]
async fn a_replication_job_that_timed_out_is_named_and_caught_up_once() {
    let env = Env::start("verify-timeout").await;
    let mut quiet = verified(false, false);
    quiet["existingImages"] = json!("SyncOnCreate");
    env.apply("web", quiet.clone()).await.unwrap();
    wait_replication(&env, "web", ReplicationState::InSync).await;
    assert!(
        events(&env, "web", "ReplicationCaughtUp").await.is_empty(),
        "a first verification in sync says nothing"
    );

    env.admin_send(
        Method::PUT,
        "faults",
        json!({"job_failure_rate": 1.0, "job_failure_status": "timeout"}),
    )
    .await;
    push(&env, "cn-north-4", "platform", "2.0", "sha256:two").await;
    env.request_reconcile("web", "after-push").await;
    let (_, status) = wait_replication(&env, "web", ReplicationState::Behind).await;
    let target = &status.targets[0];
    assert_eq!((target.missing, target.failed_jobs), (1, 1));
    assert_eq!(target.examples, ["nginx:2.0 missing (sync job timeout)"]);

    env.admin_send(Method::DELETE, "faults", json!({})).await;
    let mut repairing = quiet;
    repairing["verify"]["repair"] = json!(true);
    env.apply("web", repairing).await.unwrap();
    wait_replication(&env, "web", ReplicationState::InSync).await;
    assert_eq!(
        target_digest(&env, "2.0").await.as_deref(),
        Some("sha256:two")
    );
    for pass in ["again", "and-again"] {
        env.reconcile_now("web", pass).await;
    }
    assert_eq!(events(&env, "web", "ReplicationBehind").await.len(), 1);
    assert_eq!(
        events(&env, "web", "ReplicationCaughtUp").await.len(),
        1,
        "one Event per change, not per pass"
    );
}

#[tokio::test]
async fn a_tag_deleted_in_the_target_is_repaired() {
    let env = Env::start("verify-deleted").await;
    let mut s = verified(true, false);
    s["existingImages"] = json!("SyncOnCreate");
    env.apply("web", s).await.unwrap();
    wait_replication(&env, "web", ReplicationState::InSync).await;
    assert_eq!(
        env.calls_of(SYNC_IMAGES).await,
        1,
        "the copy of the existing tags"
    );

    // Somebody deletes a tag in the disaster-recovery region (SWR's DeleteRepoTag).
    let swr = Signed::new(&env.emulator.base_url());
    let deleted = swr
        .send(
            Method::DELETE,
            "/cn-east-3/v2/manage/namespaces/platform-dr/repos/nginx/tags/1.25",
            &[],
            b"",
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(target_digest(&env, "1.25").await, None);
    env.request_reconcile("web", "after-delete").await;
    env.wait_for("web", "the repair", |r| {
        replication(r)
            .is_some_and(|s| !s.repairs.is_empty() || s.targets.iter().any(|t| t.missing > 0))
    })
    .await;
    wait_replication(&env, "web", ReplicationState::InSync).await;
    assert!(target_digest(&env, "1.25").await.is_some(), "1.25 is back");
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 2);
    let requested = events(&env, "web", "RepairRequested").await;
    assert_eq!(requested.len(), 1);
    assert!(
        requested[0].contains("nginx:1.25 -> cn-east-3/platform-dr"),
        "{requested:?}"
    );
}

#[tokio::test]
async fn a_failed_repair_is_not_repeated_until_the_source_changes() {
    let env = Env::start("verify-failed-repair").await;
    let faults = json!({"job_failure_rate": 1.0, "job_failure_status": "cancel"});
    env.admin_send(Method::PUT, "faults", faults).await;
    env.apply("web", verified(true, false)).await.unwrap();
    let rule = env
        .wait_for("web", "failed repairs", |r| {
            replication(r).is_some_and(|s| {
                s.repairs.len() == 2
                    && s.repairs
                        .iter()
                        .all(|r| r.outcome.as_deref() == Some("cancel"))
            })
        })
        .await
        .unwrap();
    assert_eq!(
        replication(Some(&rule)).unwrap().state,
        ReplicationState::Behind
    );
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 1);
    let failed = events(&env, "web", "RepairFailed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("nginx:1.25 -> cn-east-3/platform-dr (cancel)"),
        "{failed:?}"
    );

    // Verified again, with SWR healthy: the same digests are not asked for again...
    env.admin_send(Method::DELETE, "faults", json!({})).await;
    for pass in ["again", "and-again"] {
        env.reconcile_now("web", pass).await;
    }
    assert_eq!(
        env.calls_of(SYNC_IMAGES).await,
        1,
        "a failed repair was repeated"
    );
    // ...but a tag the source moved is: its failure is forgotten. (Auto-sync off, so that
    // only repair can copy it.)
    let mut paused = verified(true, false);
    paused["targets"][0]["syncAuto"] = json!(false);
    let generation = env.apply("web", paused).await.unwrap().metadata.generation;
    env.wait_for("web", "the new spec", |r| {
        r.and_then(|r| r.status.as_ref())
            .is_some_and(|s| s.observed_generation == generation)
    })
    .await;
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 1);
    push(&env, "cn-north-4", "platform", "latest", "sha256:moved").await;
    env.request_reconcile("web", "moved").await;
    env.wait_for("web", "latest repaired", |r| {
        replication(r).is_some_and(|s| s.repairs.iter().all(|r| r.tag != "latest"))
    })
    .await;
    assert_eq!(
        target_digest(&env, "latest").await.as_deref(),
        Some("sha256:moved")
    );
    let (_, status) = wait_replication(&env, "web", ReplicationState::Behind).await;
    assert_eq!(
        status.repairs.len(),
        1,
        "1.25 still failed: {:?}",
        status.repairs
    );
}

#[tokio::test]
async fn a_rule_without_verify_lists_no_tags() {
    let env = Env::start("verify-off").await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    let rule = env.wait_ready("web", "1/1 tasks in sync").await;
    env.reconcile_now("web", "again").await;
    assert_eq!(env.calls_of(LIST_TAGS).await, 0);
    assert!(rule.status.unwrap().replication.is_none());
}

#[tokio::test]
async fn plan_shows_what_verification_finds_and_what_repair_would_copy() {
    let env = Env::start("verify-plan").await;
    env.apply("web", verified(false, false)).await.unwrap();
    wait_replication(&env, "web", ReplicationState::Behind).await;
    // The same rule with repair on, from a file: plan shows the copies, and makes none.
    let file = write_yaml(&env, "repair", &[rule("web", verified(true, false))]);
    let file = file.to_str().unwrap();
    let (code, rows) = plan_rows(
        &env,
        cluster::kubeconfig(),
        &["-f", file, "--verify-grace", "0s"],
    )
    .await;
    assert_eq!(code, 0, "no task changes pending: {rows:?}");
    let find = |action: &str| {
        rows.iter()
            .find(|r| r["action"] == action)
            .unwrap_or_else(|| panic!("no {action} row: {rows:?}"))
    };
    let verify = find("verify");
    assert_eq!(verify["task"], "cn-east-3/platform-dr");
    assert!(
        verify["note"]
            .as_str()
            .unwrap()
            .starts_with("Behind: 2 missing, 0 diverged"),
        "{verify}"
    );
    let repair = find("repair");
    assert_eq!(repair["task"], "nginx -> cn-east-3/platform-dr");
    assert_eq!(repair["note"], "would copy 2 tag(s): 1.25, latest");
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 0, "plan copied something");
}
