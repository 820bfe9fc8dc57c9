//! The operator end to end: a real kube-apiserver (started by hack/kube-apiserver), the
//! emulator as SWR, the controller in-process. Each test has its own namespace and emulator.

use std::time::Duration;

use serde_json::json;
use swr_sync_operator::swr::model::{CreateSyncTask, SyncTarget};
use swr_sync_operator::swr::{DeleteOutcome, SourceRepo, SwrApi};
use testkit::operator::{ready_reason, spec, Env, BOTH_DR, EAST_DR};

const CREATE: &str = "swr.create_sync_task";
const DELETE: &str = "swr.delete_sync_task";
const LIST: &str = "swr.list_sync_tasks";

fn task(
    repo: &str,
    region: &str,
    org: &str,
    over: bool,
) -> (String, String, String, String, String, bool, bool) {
    (
        "cn-north-4".into(),
        "platform".into(),
        repo.into(),
        region.into(),
        org.into(),
        over,
        true,
    )
}

#[tokio::test]
async fn new_rule_creates_exactly_the_desired_tasks_and_becomes_ready() {
    let env = Env::start("create").await;
    let started = std::time::Instant::now();
    env.apply("web", spec(&["nginx", "team/api"], BOTH_DR))
        .await
        .unwrap();
    let rule = env.wait_ready("web", "4/4 tasks in sync").await;
    eprintln!("rule Ready after {:.2}s", started.elapsed().as_secs_f64());
    assert_eq!(
        env.tasks().await,
        vec![
            task("nginx", "ap-southeast-1", "platform-dr", false),
            task("nginx", "cn-east-3", "platform-dr", false),
            task("team/api", "ap-southeast-1", "platform-dr", false),
            task("team/api", "cn-east-3", "platform-dr", false),
        ]
    );
    assert_eq!(env.calls_of(CREATE).await, 4, "one create per task");
    let status = rule.status.unwrap();
    assert_eq!(status.tasks.len(), 4);
    assert!(rule
        .metadata
        .finalizers
        .unwrap()
        .contains(&"swrsync.io/cleanup".to_string()));
    eprintln!("calls: {:?}", env.calls().await);
}

#[tokio::test]
async fn targets_and_repositories_converge_with_and_without_prune() {
    let env = Env::start("converge").await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;

    // Add a target and a repository.
    env.apply("web", spec(&["nginx", "team/api"], BOTH_DR))
        .await
        .unwrap();
    env.wait_ready("web", "4/4 tasks in sync").await;
    assert_eq!(env.tasks().await.len(), 4);

    // Remove a target: pruned.
    env.apply("web", spec(&["nginx", "team/api"], EAST_DR))
        .await
        .unwrap();
    env.wait_ready("web", "2/2 tasks in sync").await;
    assert_eq!(
        env.tasks().await,
        vec![
            task("nginx", "cn-east-3", "platform-dr", false),
            task("team/api", "cn-east-3", "platform-dr", false)
        ]
    );

    // Remove a repository with prune off: retained.
    let mut no_prune = spec(&["nginx"], EAST_DR);
    no_prune["prune"] = json!(false);
    env.apply("web", no_prune).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync, 1 retained").await;
    assert_eq!(env.tasks().await.len(), 2, "prune off keeps the task");

    // Prune back on: now it goes.
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    assert_eq!(
        env.tasks().await,
        vec![task("nginx", "cn-east-3", "platform-dr", false)]
    );
}

#[tokio::test]
async fn drift_is_repaired_and_foreign_tasks_are_left_alone() {
    let env = Env::start("drift").await;
    // A task somebody else made on the same repository.
    let nginx = SourceRepo::new("cn-north-4", "platform", "nginx").unwrap();
    let other = env.swr_client();
    other
        .create_sync_task(
            &nginx,
            &CreateSyncTask {
                remote_region_id: "ap-southeast-1".into(),
                remote_namespace: "platform-dr".into(),
                sync_auto: true,
                override_existing: false,
            },
        )
        .await
        .unwrap();
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;

    // Changing override replaces the task.
    let mut over = spec(&["nginx"], EAST_DR);
    over["targets"][0]["override"] = json!(true);
    env.apply("web", over).await.unwrap();
    env.wait_for("web", "override task", |r| {
        r.and_then(|r| r.status.as_ref())
            .is_some_and(|s| s.tasks.iter().any(|t| t.override_existing))
    })
    .await;
    env.wait_ready("web", "1/1 tasks in sync").await;
    let tasks = env.tasks().await;
    assert!(
        tasks.contains(&task("nginx", "cn-east-3", "platform-dr", true)),
        "{tasks:?}"
    );
    assert_eq!(env.calls_of(DELETE).await, 1, "replace is one delete");
    // Creates: the foreign task, the first task, and the replacement.
    assert_eq!(env.calls_of(CREATE).await, 3, "and one more create");

    // Deleted behind the operator's back: recreated at the next resync (10s).
    let target = SyncTarget {
        remote_region_id: "cn-east-3".into(),
        remote_namespace: "platform-dr".into(),
    };
    assert_eq!(
        other.delete_sync_task(&nginx, &target).await.unwrap(),
        DeleteOutcome::Deleted
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if env
            .tasks()
            .await
            .contains(&task("nginx", "cn-east-3", "platform-dr", true))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task not recreated within 30s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The foreign task was never touched.
    assert!(env
        .tasks()
        .await
        .contains(&task("nginx", "ap-southeast-1", "platform-dr", false)));
}

#[tokio::test]
async fn deleting_a_rule_deletes_or_orphans_its_tasks() {
    let env = Env::start("delete").await;
    env.apply("gone", spec(&["nginx"], EAST_DR)).await.unwrap();
    let mut orphan = spec(&["team/api"], EAST_DR);
    orphan["deletionPolicy"] = json!("Orphan");
    env.apply("kept", orphan).await.unwrap();
    env.wait_ready("gone", "1/1 tasks in sync").await;
    env.wait_ready("kept", "1/1 tasks in sync").await;

    env.delete("gone").await;
    env.delete("kept").await;
    env.wait_for("gone", "gone deleted", |r| r.is_none()).await;
    env.wait_for("kept", "kept deleted", |r| r.is_none()).await;
    assert_eq!(
        env.tasks().await,
        vec![task("team/api", "cn-east-3", "platform-dr", false)]
    );
}

#[tokio::test]
async fn failing_deletion_keeps_the_finalizer_until_orphan_releases_it() {
    let env = Env::start("stuck").await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"error_rate": 1.0, "operations": [LIST, DELETE]}),
    )
    .await;
    env.delete("web").await;
    env.wait_for("web", "Deleting condition", |r| {
        r.is_some_and(|r| ready_reason(r).as_deref() == Some("False/Deleting"))
    })
    .await;
    assert_eq!(env.tasks().await.len(), 1, "the task is still there");
    // The reconcile failed inside the finalizer helper; it is counted by what failed.
    env.wait_counted(
        "swr_sync_reconcile_failures_total",
        &["reason=\"cleanup_pending\""],
    )
    .await;
    assert!(env.health.is_ready(), "the rules cache has synced");
    let mut orphan = spec(&["nginx"], EAST_DR);
    orphan["deletionPolicy"] = json!("Orphan");
    env.apply("web", orphan).await.unwrap();
    env.wait_for("web", "released", |r| r.is_none()).await;
    assert_eq!(env.tasks().await.len(), 1, "orphaned");
}

#[tokio::test]
async fn invalid_specs_are_refused_or_stalled_without_swr_calls() {
    let env = Env::start("invalid").await;
    // The API server's schema refuses bad names outright.
    let err = env
        .apply("bad-name", spec(&["Nginx!"], EAST_DR))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("repositories"), "{err}");
    // What the schema cannot say becomes InvalidSpec.
    env.apply(
        "dup",
        spec(
            &["nginx"],
            &[("cn-east-3", "platform-dr"), ("cn-east-3", "platform-dr")],
        ),
    )
    .await
    .unwrap();
    let rule = env
        .wait_for("dup", "InvalidSpec", |r| {
            r.is_some_and(|r| ready_reason(r).as_deref() == Some("False/InvalidSpec"))
        })
        .await
        .unwrap();
    let stalled = rule
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Stalled")
        .unwrap();
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "InvalidSpec")
    );
    assert!(
        stalled.message.contains("listed more than once"),
        "{}",
        stalled.message
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = env.calls().await;
    assert!(
        calls.is_empty(),
        "no SWR call for an invalid spec: {calls:?}"
    );
}

#[tokio::test]
async fn missing_secret_then_created_converges() {
    let mut env = Env::without_operator("secret").await;
    env.start_operator();
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_for("web", "CredentialsMissing", |r| {
        r.is_some_and(|r| ready_reason(r).as_deref() == Some("False/CredentialsMissing"))
    })
    .await;
    let started = std::time::Instant::now();
    env.create_secret("swr-credentials").await;
    env.wait_ready("web", "1/1 tasks in sync").await;
    let waited = started.elapsed();
    eprintln!(
        "Ready {:.2}s after the Secret appeared",
        waited.as_secs_f64()
    );
    assert!(
        waited < Duration::from_secs(9),
        "the Secret watch, not the 10s resync, woke the rule"
    );
}

#[tokio::test]
async fn the_rule_that_owns_a_task_keeps_it_and_the_other_waits() {
    let env = Env::start("conflict").await;
    env.apply("first", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("first", "1/1 tasks in sync").await;
    env.apply("second", spec(&["nginx"], EAST_DR))
        .await
        .unwrap();
    let rule = env
        .wait_for("second", "Conflict", |r| {
            r.is_some_and(|r| ready_reason(r).as_deref() == Some("False/Conflict"))
        })
        .await
        .unwrap();
    assert_eq!(
        rule.status.unwrap().summary.as_deref(),
        Some("0/1 tasks in sync, 1 in conflict")
    );
    assert_eq!(env.tasks().await.len(), 1, "the task exists once");
    assert_eq!(env.calls_of(CREATE).await, 1);
    // Deleting the newer rule must not take the older rule's task with it.
    env.delete("second").await;
    env.wait_for("second", "second deleted", |r| r.is_none())
        .await;
    assert_eq!(env.tasks().await.len(), 1);
}

#[tokio::test]
async fn converges_after_swr_errors_and_throttling_without_duplicates() {
    let mut env = Env::without_operator("faults").await;
    env.qps = 5.0;
    env.create_secret("swr-credentials").await;
    env.admin_send(reqwest::Method::PUT, "faults", json!({"error_rate": 1.0}))
        .await;
    let started = std::time::Instant::now();
    env.start_operator();
    env.apply("web", spec(&["nginx", "team/api"], BOTH_DR))
        .await
        .unwrap();
    env.wait_for("web", "ApiError", |r| {
        r.is_some_and(|r| ready_reason(r).as_deref() == Some("False/ApiError"))
    })
    .await;
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"qps_limit": 2.0, "retry_after_seconds": 1}),
    )
    .await;
    env.wait_for("web", "Throttled or Ready", |r| {
        r.is_some_and(|r| {
            matches!(
                ready_reason(r).as_deref(),
                Some("False/Throttled") | Some("True/InSync")
            )
        })
    })
    .await;
    env.admin_send(reqwest::Method::DELETE, "faults", json!({}))
        .await;
    env.wait_ready("web", "4/4 tasks in sync").await;
    assert_eq!(env.tasks().await.len(), 4, "no duplicates");
    let calls = env.calls().await;
    let total: u64 = calls.values().sum();
    eprintln!("calls under faults: {calls:?}");
    assert!(calls.keys().any(|(_, s)| *s == 500), "errors were injected");
    // The whole run's rate stays within the client's limit: qps 5, burst 5.
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = (5.0 * elapsed + 5.0).ceil() as u64;
    eprintln!("{total} calls in {elapsed:.1}s (limit allows {allowed})");
    assert!(
        total <= allowed,
        "{total} calls in {elapsed:.1}s exceed qps 5 + burst 5"
    );
    assert!(env.calls_of(CREATE).await >= 4);
}

#[tokio::test]
async fn a_killed_operator_restarts_without_duplicates_or_leaks() {
    let mut env = Env::without_operator("crash").await;
    // One request at a time, so that the kill falls between the pass's creates (which
    // otherwise run together and land together).
    env.max_in_flight = Some(1);
    env.create_secret("swr-credentials").await;
    env.start_operator();
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"latency": {"fixed_ms": 700}, "operations": [CREATE]}),
    )
    .await;
    env.apply("web", spec(&["nginx", "team/api"], BOTH_DR))
        .await
        .unwrap();
    // Kill it once the first create has been sent.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while env.calls_of(CREATE).await == 0 {
        assert!(std::time::Instant::now() < deadline, "no create seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(900)).await;
    env.kill_operator();
    let partial = env.tasks().await.len();
    assert!(partial < 4, "killed midway ({partial} tasks)");
    // Meanwhile the user removes a repository the dead operator may have created tasks for.
    env.apply("web", spec(&["nginx"], BOTH_DR)).await.unwrap();
    env.admin_send(reqwest::Method::DELETE, "faults", json!({}))
        .await;
    env.start_operator();
    env.wait_ready("web", "2/2 tasks in sync").await;
    assert_eq!(
        env.tasks().await,
        vec![
            task("nginx", "ap-southeast-1", "platform-dr", false),
            task("nginx", "cn-east-3", "platform-dr", false)
        ],
        "no duplicates, and the removed repository's tasks did not leak"
    );
}

#[tokio::test]
async fn a_ready_unchanged_rule_only_lists() {
    let env = Env::start("quiet").await;
    env.apply("web", spec(&["nginx", "team/api"], EAST_DR))
        .await
        .unwrap();
    env.wait_ready("web", "2/2 tasks in sync").await;
    // Let the first resync fill in task ids, then watch three more intervals.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let before = env.calls().await;
    let version = env
        .rules()
        .get("web")
        .await
        .unwrap()
        .metadata
        .resource_version;
    tokio::time::sleep(Duration::from_secs(33)).await;
    let after = env.calls().await;
    let rule = env.rules().get("web").await.unwrap();
    assert_eq!(
        rule.metadata.resource_version, version,
        "no writes to the rule"
    );
    let delta: Vec<_> = after
        .iter()
        .filter(|(k, n)| before.get(*k) != Some(n))
        .map(|((op, status), n)| {
            (
                op.clone(),
                *status,
                n - before.get(&(op.clone(), *status)).copied().unwrap_or(0),
            )
        })
        .collect();
    eprintln!("calls over ~3 resyncs: {delta:?}");
    assert!(
        delta
            .iter()
            .all(|(op, status, _)| op == LIST && *status == 200),
        "only lists: {delta:?}"
    );
    let lists: u64 = delta.iter().map(|(_, _, n)| n).sum();
    assert!(
        (4..=8).contains(&lists),
        "about one list per repository per interval, got {lists}"
    );
}
