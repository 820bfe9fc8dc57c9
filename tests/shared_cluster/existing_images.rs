//! Existing images (`existingImages: SyncOnCreate`) end to end on a real kube-apiserver with
//! the emulator: the source's tags are copied to a new task's target in batches, progress is
//! followed through SWR's sync jobs into the status until done, a copy is never repeated,
//! and a failed copy is reported without blocking replication.

use serde_json::{json, Value};
use swr_sync_operator::api::status::{CopyState, ImageCopy};
use testkit::operator::{spec, Env, EAST_DR};

const SYNC_IMAGES: &str = "swr.sync_images";

fn copying(repos: &[&str]) -> Value {
    let mut s = spec(repos, EAST_DR);
    s["existingImages"] = json!("SyncOnCreate");
    s["resyncInterval"] = json!("1h");
    s
}

/// Waits until the rule's copies are all finished; returns them.
async fn finished_copies(env: &Env, name: &str) -> Vec<ImageCopy> {
    env.wait_for(name, &format!("{name}'s copies finished"), |r| {
        r.and_then(|r| r.status.as_ref()).is_some_and(|s| {
            !s.existing_images.is_empty()
                && s.existing_images
                    .iter()
                    .all(|c| c.state != CopyState::Copying)
        })
    })
    .await
    .unwrap()
    .status
    .unwrap()
    .existing_images
}

/// Tags of `repository` in cn-east-3/platform-dr.
async fn target_tags(env: &Env, repository: &str) -> Vec<String> {
    let state = env.admin("state").await;
    let repo = &state["regions"]["cn-east-3"]["organizations"]["platform-dr"]["repositories"]
        [repository]["tags"];
    let mut tags: Vec<String> = repo
        .as_object()
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

#[tokio::test]
async fn existing_tags_are_copied_once_and_followed_to_done() {
    let env = Env::start("copies").await;
    env.apply("web", copying(&["nginx"])).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    let copies = finished_copies(&env, "web").await;
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].state, CopyState::Done, "{copies:?}");
    assert_eq!(
        (copies[0].succeeded, copies[0].failed, copies[0].pending),
        (2, 0, 0)
    );
    assert_eq!(target_tags(&env, "nginx").await, ["1.25", "latest"]);
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 1);

    // Another pass: the copy that succeeded is not requested again.
    env.request_reconcile("web", "again").await;
    env.wait_for("web", "the requested pass", |r| {
        r.and_then(|r| r.status.as_ref())
            .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some("again"))
    })
    .await;
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 1);
}

#[tokio::test]
async fn many_tags_are_copied_in_batches() {
    let env = Env::start("copies-batch").await;
    for i in 0..120 {
        env.admin_send(
            reqwest::Method::POST,
            "push",
            json!({"region": "cn-north-4", "organization": "platform",
                   "repository": "bulk/app", "tag": format!("v{i}")}),
        )
        .await;
    }
    env.apply("bulk", copying(&["bulk/app"])).await.unwrap();
    let copies = finished_copies(&env, "bulk").await;
    assert_eq!(
        (copies[0].state, copies[0].succeeded),
        (CopyState::Done, 120)
    );
    // 50 + 50 + 20 tags.
    assert_eq!(env.calls_of(SYNC_IMAGES).await, 3);
    assert_eq!(target_tags(&env, "bulk/app").await.len(), 120);
}

#[tokio::test]
async fn a_failed_copy_is_reported_and_replication_goes_on() {
    let env = Env::start("copies-fail").await;
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"error_rate": 1.0, "operations": [SYNC_IMAGES]}),
    )
    .await;
    env.apply("web", copying(&["nginx"])).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    let copies = finished_copies(&env, "web").await;
    assert_eq!(copies[0].state, CopyState::Failed, "{copies:?}");
    assert!(
        copies[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .starts_with("requesting the copy"),
        "{copies:?}"
    );
    assert_eq!(env.tasks().await.len(), 1);
}

#[tokio::test]
async fn tags_swr_refuses_at_once_are_reported_without_waiting_for_jobs() {
    let env = Env::start("copies-refused").await;
    // The target holds another image under `latest`; without override SWR refuses that
    // tag in its answer to the copy request.
    env.admin_send(
        reqwest::Method::POST,
        "push",
        json!({"region": "cn-east-3", "organization": "platform-dr",
               "repository": "nginx", "tag": "latest"}),
    )
    .await;
    env.apply("web", copying(&["nginx"])).await.unwrap();
    let copies = finished_copies(&env, "web").await;
    let copy = &copies[0];
    assert_eq!(copy.state, CopyState::Failed, "{copies:?}");
    assert_eq!(copy.refused_tags, ["latest"]);
    assert_eq!((copy.succeeded, copy.failed, copy.pending), (1, 1, 0));
    let message = copy.message.as_deref().unwrap_or_default();
    assert!(
        message.contains("SWR refused to copy 1 tag(s): latest"),
        "{message}"
    );
    assert_eq!(copy.tags, ["1.25"], "only the accepted tag is followed");
    env.wait_ready("web", "1/1 tasks in sync").await;
}

#[tokio::test]
async fn copies_that_take_time_are_followed_through_waiting_and_running() {
    let mut config = swr_sync_operator::emulator::EmulatorConfig::embedded_default();
    config.sync_jobs.waiting = std::time::Duration::from_secs(2);
    config.sync_jobs.running = std::time::Duration::from_secs(3);
    let mut env = Env::with_emulator_config("copies-slow", config).await;
    env.create_secret("swr-credentials").await;
    env.start_operator();
    env.apply("web", copying(&["nginx"])).await.unwrap();
    // While SWR copies, the status says so.
    env.wait_for("web", "a copy in progress", |r| {
        r.and_then(|r| r.status.as_ref()).is_some_and(|s| {
            s.existing_images
                .iter()
                .any(|c| c.state == CopyState::Copying && c.pending == 2)
        })
    })
    .await;
    let copies = finished_copies(&env, "web").await;
    assert_eq!(copies[0].state, CopyState::Done, "{copies:?}");
    assert_eq!((copies[0].succeeded, copies[0].pending), (2, 0));
    assert_eq!(target_tags(&env, "nginx").await, ["1.25", "latest"]);
}

#[tokio::test]
async fn copies_that_time_out_are_reported_with_their_tags() {
    let env = Env::start("copies-timeout").await;
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"job_failure_rate": 1.0, "job_failure_status": "timeout"}),
    )
    .await;
    env.apply("web", copying(&["nginx"])).await.unwrap();
    let copies = finished_copies(&env, "web").await;
    assert_eq!(copies[0].state, CopyState::Failed, "{copies:?}");
    assert_eq!((copies[0].succeeded, copies[0].failed), (0, 2));
    assert_eq!(copies[0].message.as_deref(), Some("failed: 1.25; latest"));
    assert!(target_tags(&env, "nginx").await.is_empty());
}
