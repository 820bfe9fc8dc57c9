//! Task ownership at its edges, on a real kube-apiserver (with kube-controller-manager, for
//! namespace deletion) and the emulator: overlapping rules deleted together, namespaces and
//! Secrets deleted with their rules, freed tasks taken over at once (also from a rule with
//! other credentials), rules that cannot act, tasks made outside the operator, a failing
//! regions lookup.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::{json, Value};
use swr_sync_operator::api::spec::FINALIZER;
use swr_sync_operator::api::spec::RECONCILE_REQUESTED_AT;
use swr_sync_operator::api::status::{Ownership, TaskState, TaskStatus};
use swr_sync_operator::api::ImageSyncRule;
use swr_sync_operator::reconcile::secrets::SECRET_FINALIZER;
use swr_sync_operator::swr::model::CreateSyncTask;
use swr_sync_operator::swr::{SourceRepo, SwrApi};
use testkit::cluster;
use testkit::operator::{in_sync_now, ready_reason, spec, Env, BOTH_DR, EAST_DR};

const LIST_REGIONS: &str = "swr.list_regions";

fn reason_is(rule: Option<&ImageSyncRule>, expected: &str) -> bool {
    rule.is_some_and(|r| ready_reason(r).as_deref() == Some(expected))
}

/// The emulator's tasks as (repository, target region, id).
async fn task_ids(env: &Env) -> Vec<(String, String, i64)> {
    let tasks = env.admin("tasks").await;
    let mut out: Vec<_> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["repoName"].as_str().unwrap().to_string(),
                t["remoteRegionId"].as_str().unwrap().to_string(),
                t["id"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Somebody else (console, Terraform) creates nginx -> cn-east-3/platform-dr.
async fn create_outside(env: &Env, override_existing: bool) {
    let nginx = SourceRepo::new("cn-north-4", "platform", "nginx").unwrap();
    let task = CreateSyncTask {
        remote_region_id: "cn-east-3".into(),
        remote_namespace: "platform-dr".into(),
        sync_auto: true,
        override_existing,
    };
    env.swr_client()
        .create_sync_task(&nginx, &task)
        .await
        .unwrap();
}

fn with(mut spec: Value, field: &str, value: Value) -> Value {
    spec[field] = value;
    spec
}

/// Waits for a rule's Ready `status/reason` and checks that its message says `hint`.
async fn wait_reason_saying(env: &Env, name: &str, reason: &str, hint: &str) {
    let rule = env
        .wait_for(name, reason, |r| reason_is(r, reason))
        .await
        .unwrap();
    let ready = rule
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready");
    let message = ready.unwrap().message;
    assert!(message.contains(hint), "{message}");
}

/// The ownership recorded for the one task of a rule's status.
fn ownership_of(rule: &ImageSyncRule) -> Option<String> {
    let task = rule.status.as_ref()?.tasks.first()?;
    serde_json::to_value(task).unwrap()["ownership"]
        .as_str()
        .map(String::from)
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    secs: u64,
    check: impl Fn() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn overlapping_rules_deleted_together_leave_no_task_behind() {
    let env = Env::start("own-both").await;
    env.apply("a", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("a", "1/1 tasks in sync").await;
    env.apply("b", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_for("b", "b in Conflict", |r| reason_is(r, "False/Conflict"))
        .await;

    // Another controller holds b a while: it lingers, being deleted, when a's cleanup runs.
    let hold = json!({"metadata": {"finalizers": ["swrsync.io/cleanup", "example.com/hold"]}});
    env.rules()
        .patch("b", &Default::default(), &kube::api::Patch::Merge(&hold))
        .await
        .unwrap();

    // As `kubectl delete isr b a`, a namespace deletion or a GitOps prune does. b goes first
    // so that a's cleanup surely sees it being deleted: in the other order a may hand the
    // task to b while b is still live (then b owns it and its own cleanup deletes it).
    env.delete("b").await;
    env.delete("a").await;
    env.wait_for("a", "a gone", |r| r.is_none()).await;
    assert_eq!(
        task_ids(&env).await,
        vec![],
        "not handed to a rule being deleted"
    );
    let release = json!({"metadata": {"finalizers": null}});
    env.rules()
        .patch("b", &Default::default(), &kube::api::Patch::Merge(&release))
        .await
        .unwrap();
    env.wait_for("b", "b gone", |r| r.is_none()).await;
    assert_eq!(task_ids(&env).await, vec![], "the task left with its rules");
}

#[tokio::test]
async fn deleting_a_namespace_with_its_secret_deletes_the_tasks() {
    let env = Env::start("own-ns").await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.apply("more", spec(&["team/api"], BOTH_DR))
        .await
        .unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    env.wait_ready("more", "2/2 tasks in sync").await;
    assert_eq!(task_ids(&env).await.len(), 3);

    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    namespaces
        .delete(&env.ns, &DeleteParams::default())
        .await
        .unwrap();
    let started = Instant::now();
    wait_until("the namespace to go", 120, || async {
        namespaces.get_opt(&env.ns).await.unwrap().is_none()
    })
    .await;
    eprintln!(
        "namespace gone {:.1}s after its deletion",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(task_ids(&env).await, vec![], "every task was deleted");
}

#[tokio::test]
async fn a_gitops_prune_of_the_secret_and_the_rules_deletes_the_tasks_across_a_restart() {
    let mut env = Env::start("own-prune").await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);

    // The operator is down while the Secret goes first, then the rule.
    env.kill_operator();
    secrets
        .delete("swr-credentials", &DeleteParams::default())
        .await
        .unwrap();
    env.delete("web").await;
    let held = secrets
        .get("swr-credentials")
        .await
        .expect("kept by its finalizer");
    assert!(held.metadata.deletion_timestamp.is_some());

    env.start_operator();
    env.wait_for("web", "web gone", |r| r.is_none()).await;
    assert_eq!(task_ids(&env).await, vec![], "the task was deleted");
    wait_until("the Secret to go", 30, || async {
        secrets.get_opt("swr-credentials").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test]
async fn a_secret_deleted_before_the_operator_protected_it_leaves_a_clear_condition() {
    // Rules made before this version ran have unprotected Secrets: cleanup cannot proceed,
    // and says why and what to do.
    let env = Env::start("own-nosecret").await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);
    let unprotect = json!({"metadata": {"finalizers": null}});
    secrets
        .patch(
            "swr-credentials",
            &Default::default(),
            &kube::api::Patch::Merge(&unprotect),
        )
        .await
        .unwrap();
    secrets
        .delete("swr-credentials", &DeleteParams::default())
        .await
        .unwrap();
    env.delete("web").await;
    wait_reason_saying(&env, "web", "False/Deleting", "deletionPolicy: Orphan").await;
    assert_eq!(
        task_ids(&env).await.len(),
        1,
        "nothing deleted without credentials"
    );
    env.create_secret("swr-credentials").await;
    env.wait_for("web", "web gone", |r| r.is_none()).await;
    assert_eq!(task_ids(&env).await, vec![]);
}

#[tokio::test]
async fn a_freed_task_is_taken_over_at_once() {
    let env = Env::start("own-free").await;
    let orphan = with(spec(&["nginx"], EAST_DR), "deletionPolicy", json!("Orphan"));
    env.apply("a", orphan).await.unwrap();
    env.wait_ready("a", "1/1 tasks in sync").await;
    let before = task_ids(&env).await;
    // A resync far away: only a wake-up can make b act in time.
    let waiting = with(spec(&["nginx"], EAST_DR), "resyncInterval", json!("10m"));
    env.apply("b", waiting).await.unwrap();
    env.wait_for("b", "b in Conflict", |r| reason_is(r, "False/Conflict"))
        .await;

    let started = Instant::now();
    env.delete("a").await;
    let b = env.wait_ready("b", "1/1 tasks in sync").await;
    let took = started.elapsed();
    eprintln!(
        "b took the task over {:.2}s after a's deletion",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(30), "woken, not resynced");
    assert_eq!(ownership_of(&b).as_deref(), Some("HandedOver"));
    assert_eq!(task_ids(&env).await, before, "the same task, not a new one");
    env.wait_for("a", "a gone", |r| r.is_none()).await;

    // b owns it now: deleting b deletes it.
    env.delete("b").await;
    env.wait_for("b", "b gone", |r| r.is_none()).await;
    assert_eq!(task_ids(&env).await, vec![]);
}

#[tokio::test]
async fn a_rule_without_credentials_does_not_block_another_namespace() {
    let mut env = Env::without_operator("own-tenant").await;
    env.all_namespaces = true;
    let other = cluster::namespace(&env.client, "own-tenant-b").await;
    // The older rule, in this namespace, has no Secret at all.
    env.apply("old", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.start_operator();
    env.wait_for("old", "old CredentialsMissing", |r| {
        reason_is(r, "False/CredentialsMissing")
    })
    .await;
    // A newer rule of another tenant, with working credentials, wants the same task.
    env.create_secret_in(&other, "swr-credentials").await;
    env.apply_in(&other, "new", spec(&["nginx"], EAST_DR))
        .await
        .unwrap();
    env.wait_for_in(&other, "new", "new Ready", |r| reason_is(r, "True/InSync"))
        .await;
    assert_eq!(task_ids(&env).await.len(), 1);

    // The older rule's credentials arrive: the task stays with the rule that made it.
    env.create_secret("swr-credentials").await;
    env.wait_for("old", "old in Conflict", |r| reason_is(r, "False/Conflict"))
        .await;
    assert_eq!(task_ids(&env).await.len(), 1, "never duplicated");
    // The older rule goes: it has nothing to delete.
    env.delete("old").await;
    env.wait_for("old", "old gone", |r| r.is_none()).await;
    assert_eq!(task_ids(&env).await.len(), 1, "not the other tenant's task");
}

#[tokio::test]
async fn a_task_made_outside_is_left_alone_unless_adopted() {
    let env = Env::start("own-external").await;
    create_outside(&env, false).await;
    let outside = task_ids(&env).await;

    // Matching: Ready, reported as external, never deleted with the rule.
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    let rule = env.wait_ready("web", "1/1 tasks in sync, 1 external").await;
    assert_eq!(
        rule.status.unwrap().tasks[0].state,
        swr_sync_operator::api::status::TaskState::External
    );
    env.delete("web").await;
    env.wait_for("web", "web gone", |r| r.is_none()).await;
    assert_eq!(
        task_ids(&env).await,
        outside,
        "somebody else's task survives its rule"
    );

    // Differing settings: the rule says so and changes nothing.
    let mut over = spec(&["nginx"], EAST_DR);
    over["targets"][0]["override"] = json!(true);
    env.apply("web", over.clone()).await.unwrap();
    wait_reason_saying(&env, "web", "False/ExternalTask", "existingTasks: Adopt").await;
    assert_eq!(task_ids(&env).await, outside, "not replaced");

    // Adopting: replaced to the rule's settings, owned, and deleted with the rule.
    env.apply("web", with(over, "existingTasks", json!("Adopt")))
        .await
        .unwrap();
    let rule = env.wait_ready("web", "1/1 tasks in sync").await;
    assert_eq!(ownership_of(&rule).as_deref(), Some("Adopted"));
    assert_ne!(task_ids(&env).await, outside, "replaced");
    env.delete("web").await;
    env.wait_for("web", "web gone", |r| r.is_none()).await;
    assert_eq!(
        task_ids(&env).await,
        vec![],
        "an adopted task goes with its rule"
    );
}

#[tokio::test]
async fn a_failing_regions_lookup_is_skipped_with_a_warning() {
    let env = Env::start("own-regions").await;
    // Not found, as where the regions API is not served: never SourceNotFound.
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"error_rate": 1.0, "error_status": 404, "operations": [LIST_REGIONS]}),
    )
    .await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    let events = Api::<Event>::namespaced(env.client.clone(), &env.ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    let warning = events
        .items
        .iter()
        .find(|e| e.reason.as_deref() == Some("RegionCheckSkipped"))
        .expect("a RegionCheckSkipped Event");
    assert_eq!(warning.type_.as_deref(), Some("Warning"));

    // A successful answer that lacks the target still makes the spec invalid.
    env.admin_send(reqwest::Method::DELETE, "faults", json!({}))
        .await;
    env.apply("far", spec(&["nginx"], &[("eu-west-101", "platform-dr")]))
        .await
        .unwrap();
    env.wait_for("far", "InvalidSpec", |r| reason_is(r, "False/InvalidSpec"))
        .await;
}

#[tokio::test]
async fn a_retryable_failure_behind_a_permanent_problem_is_retried_with_backoff() {
    let env = Env::start("own-mixed").await;
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"error_rate": 1.0, "operations": ["swr.create_sync_task"]}),
    )
    .await;
    // One repository is missing (needs the user), the other's create fails (passing).
    let mixed = with(
        spec(&["nginx", "no-such-repo"], EAST_DR),
        "resyncInterval",
        json!("10m"),
    );
    env.apply("web", mixed).await.unwrap();
    env.wait_for("web", "SourceNotFound", |r| {
        reason_is(r, "False/SourceNotFound")
    })
    .await;
    env.admin_send(reqwest::Method::DELETE, "faults", json!({}))
        .await;
    // Retried with backoff (5 s, 10 s, ...), not at the 10-minute resync.
    wait_until("the nginx task", 45, || async {
        task_ids(&env).await.len() == 1
    })
    .await;
}

#[tokio::test]
async fn a_selector_prunes_a_repository_only_once_swr_confirms_it_is_gone() {
    let env = Env::start("own-selector").await;
    let mut selector = spec(&[], EAST_DR);
    selector["source"]["repositorySelector"] = json!({"include": ["*"]});
    env.apply("all", selector).await.unwrap();
    env.wait_ready("all", "2/2 tasks in sync").await;
    assert_eq!(task_ids(&env).await.len(), 2);

    // The listing leaves team/api out, although it exists: its task stays.
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"hidden_repositories": ["platform/team/api"]}),
    )
    .await;
    env.request_reconcile("all", "hidden").await;
    env.wait_for("all", "the pass with the hidden repository", |r| {
        r.and_then(|r| r.status.as_ref())
            .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some("hidden"))
    })
    .await;
    assert_eq!(
        task_ids(&env).await.len(),
        2,
        "no prune on a listing's word"
    );

    // Gone for real: its task listing answers 404, and the task goes with it.
    env.admin_send(reqwest::Method::DELETE, "faults", json!({}))
        .await;
    let deleted = env
        .admin_send(
            reqwest::Method::DELETE,
            "repositories",
            json!({"region": "cn-north-4", "organization": "platform", "repository": "team/api"}),
        )
        .await;
    eprintln!("deleting the repository: {deleted}");
    env.request_reconcile("all", "gone").await;
    env.wait_ready("all", "1/1 tasks in sync").await;
}

#[tokio::test]
async fn a_secret_being_deleted_stays_while_live_rules_use_it_across_a_restart() {
    let mut env = Env::start("own-held").await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);
    secrets
        .delete("swr-credentials", &DeleteParams::default())
        .await
        .unwrap();
    // A new leader starts while the Secret is held by its finalizer: it must not take the
    // finalizer away before it knows the rules that use the Secret.
    for _ in 0..3 {
        env.kill_operator();
        env.start_operator();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let held = secrets.get_opt("swr-credentials").await.unwrap();
        assert!(held.is_some(), "the Secret went while a rule uses it");
    }
    env.request_reconcile("web", "after-restarts").await;
    env.wait_for("web", "a pass after the restarts", |r| {
        r.and_then(|r| r.status.as_ref())
            .is_some_and(|s| s.last_handled_reconcile_at.as_deref() == Some("after-restarts"))
    })
    .await;
    env.wait_ready("web", "1/1 tasks in sync").await;
    // The rule goes: its task with it, then the Secret.
    env.delete("web").await;
    env.wait_for("web", "web gone", |r| r.is_none()).await;
    assert_eq!(task_ids(&env).await, vec![]);
    wait_until("the Secret to go", 30, || async {
        secrets.get_opt("swr-credentials").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test]
async fn a_sharded_operator_keeps_the_secret_protected_while_another_shards_rules_use_it() {
    // This operator watches only the rules labelled for this test (a label selector).
    let mut env = Env::without_operator("own-shard").await;
    env.all_namespaces = true;
    env.create_secret("swr-credentials").await;
    env.start_operator();
    // A rule another deployment watches (another label) uses the same Secret and deletes
    // its tasks: that deployment put its cleanup finalizer on it.
    let theirs: ImageSyncRule = serde_json::from_value(json!({
        "apiVersion": "swrsync.io/v1alpha1",
        "kind": "ImageSyncRule",
        "metadata": {"name": "theirs", "labels": {"shard": "other"}, "finalizers": [FINALIZER]},
        "spec": spec(&["redis"], EAST_DR),
    }))
    .unwrap();
    env.rules()
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    env.apply("ours", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("ours", "1/1 tasks in sync").await;
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);
    let protected = || async {
        let secret = secrets.get("swr-credentials").await.unwrap();
        secret.finalizers().iter().any(|f| f == SECRET_FINALIZER)
    };
    assert!(
        protected().await,
        "protected while this shard's rule uses it"
    );

    // This shard's last rule goes; the other shard's rule still needs the Secret.
    env.delete("ours").await;
    env.wait_for("ours", "ours gone", |r| r.is_none()).await;
    assert_eq!(task_ids(&env).await, vec![], "ours deleted its task");
    assert!(
        protected().await,
        "the finalizer stays while a rule this operator does not watch uses the Secret"
    );
}

/// A rule's line for the cn-east-3 task.
fn east_line(rule: &ImageSyncRule) -> Option<TaskStatus> {
    let tasks = &rule.status.as_ref()?.tasks;
    tasks
        .iter()
        .find(|t| t.target_region == "cn-east-3")
        .cloned()
}

#[tokio::test]
async fn a_task_handed_over_from_another_account_stays_owned_when_the_takers_listing_is_older() {
    // Listings are shared per account (namespace and Secret), here for ten minutes: a's
    // listing of the repository predates the task that b, with other credentials, makes.
    let mut env = Env::without_operator("own-stale").await;
    env.reconciler.swr_list_ttl = Duration::from_secs(600);
    env.create_secret("swr-credentials").await;
    env.create_secret("other-credentials").await;
    env.start_operator();
    let west = [("ap-southeast-1", "platform-dr")];
    env.apply("a", spec(&["nginx"], &west)).await.unwrap();
    env.wait_ready("a", "1/1 tasks in sync").await;
    let mut other = spec(&["nginx"], EAST_DR);
    other["credentialsSecretRef"]["name"] = json!("other-credentials");
    env.apply("b", other).await.unwrap();
    env.wait_ready("b", "1/1 tasks in sync").await;
    // a wants b's task too: b holds it.
    env.apply("a", spec(&["nginx"], BOTH_DR)).await.unwrap();
    env.wait_for("a", "a in Conflict", |r| reason_is(r, "False/Conflict"))
        .await;
    let before = task_ids(&env).await;
    assert_eq!(before.len(), 2);

    // Every status a gets from now on: none may call the task made outside.
    let external = Arc::new(AtomicBool::new(false));
    let follow = {
        let external = external.clone();
        let config = watcher::Config::default().fields("metadata.name=a");
        let versions = watcher(env.rules(), config).applied_objects();
        tokio::spawn(async move {
            futures::pin_mut!(versions);
            while let Some(event) = versions.next().await {
                let line = event.ok().as_ref().and_then(east_line);
                if line.is_some_and(|t| t.state == TaskState::External) {
                    external.store(true, Ordering::SeqCst);
                }
            }
        })
    };

    // b goes and releases its task to a. Creates answer slowly (within the timeout), and b
    // looks again while a takes the task (as its hand-over poll or any wake-up may make it).
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"latency": 1500, "operations": ["swr.create_sync_task"]}),
    )
    .await;
    env.delete("b").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = env.rules().get("a").await.unwrap();
        let taking =
            east_line(&a).is_some_and(|t| t.state == TaskState::Pending || t.ownership.is_some());
        if taking {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a never took the task: {:?}",
            a.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let poke = json!({"metadata": {"annotations": {RECONCILE_REQUESTED_AT: "poke"}}});
    match env
        .rules()
        .patch("b", &Default::default(), &kube::api::Patch::Merge(&poke))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => panic!("annotating b: {e}"),
    }
    env.wait_for("b", "b gone", |r| r.is_none()).await;
    env.admin_send(reqwest::Method::DELETE, "faults", json!({}))
        .await;

    // a owns the task it was handed, the same one: not mistaken for one made outside.
    let a = env
        .wait_for("a", "a in sync with no task pending", |r| {
            r.is_some_and(|r| {
                in_sync_now(r) && east_line(r).is_some_and(|t| t.state != TaskState::Pending)
            })
        })
        .await
        .unwrap();
    follow.abort();
    let line = east_line(&a).unwrap();
    assert_eq!(
        (line.state, line.ownership),
        (TaskState::InSync, Some(Ownership::HandedOver)),
        "{:?}",
        a.status
    );
    assert!(
        !external.load(Ordering::SeqCst),
        "a called the task it was handed made outside"
    );
    assert_eq!(
        task_ids(&env).await,
        before,
        "the same tasks, none made again"
    );
    env.delete("a").await;
    env.wait_for("a", "a gone", |r| r.is_none()).await;
    assert_eq!(task_ids(&env).await, vec![], "nothing leaked");
}

/// Somebody else creates nginx -> `region`/platform-dr (with the settings the rules want).
async fn create_outside_to(env: &Env, region: &str) {
    let nginx = SourceRepo::new("cn-north-4", "platform", "nginx").unwrap();
    let task = CreateSyncTask {
        remote_region_id: region.into(),
        remote_namespace: "platform-dr".into(),
        sync_auto: true,
        override_existing: false,
    };
    env.swr_client()
        .create_sync_task(&nginx, &task)
        .await
        .unwrap();
}

/// A rule's line for the task to `region`.
fn line_to(rule: &ImageSyncRule, region: &str) -> Option<TaskStatus> {
    let tasks = &rule.status.as_ref()?.tasks;
    tasks.iter().find(|t| t.target_region == region).cloned()
}

/// Deletes answer after 2.5 s, past the operator's 2 s timeout: each takes effect, and the
/// operator never learns it.
async fn lose_delete_answers(env: &Env) {
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"latency": 2500, "operations": ["swr.delete_sync_task"]}),
    )
    .await;
}

#[tokio::test]
async fn a_task_made_again_outside_after_a_delete_whose_answer_was_lost_survives_the_cleanup() {
    let env = Env::start("own-aba-cleanup").await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    let made = task_ids(&env).await;
    assert_eq!(made.len(), 1);

    // The rule goes; its delete takes effect but the answer is lost: the cleanup fails, the
    // task still listed as the rule's, and is retried with backoff (5 s).
    lose_delete_answers(&env).await;
    env.delete("web").await;
    env.wait_for("web", "web's delete to fail", |r| {
        r.and_then(east_line)
            .is_some_and(|t| t.state == TaskState::Failed)
    })
    .await;
    assert_eq!(task_ids(&env).await, vec![], "the delete took effect");

    // Meanwhile somebody makes the same task anew.
    env.admin_send(reqwest::Method::DELETE, "faults", json!({}))
        .await;
    create_outside_to(&env, "cn-east-3").await;
    let outside = task_ids(&env).await;
    assert_eq!(outside.len(), 1);
    assert_ne!(outside, made, "a new task, with a new id");

    // The retried cleanup tells it from the rule's task by its id, and leaves it.
    env.wait_for("web", "web gone", |r| r.is_none()).await;
    assert_eq!(
        task_ids(&env).await,
        outside,
        "a task made outside survives the rule whose delete it followed"
    );
}

#[tokio::test]
async fn a_task_made_again_outside_after_a_prune_whose_answer_was_lost_is_not_pruned() {
    let env = Env::start("own-aba-prune").await;
    env.apply("web", spec(&["nginx"], BOTH_DR)).await.unwrap();
    env.wait_ready("web", "2/2 tasks in sync").await;
    let west = "ap-southeast-1";

    // The rule stops wanting the west task; its delete takes effect, the answer is lost.
    lose_delete_answers(&env).await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_for("web", "the prune to fail", |r| {
        r.and_then(|r| line_to(r, west))
            .is_some_and(|t| t.state == TaskState::Failed)
    })
    .await;
    let left = task_ids(&env).await;
    assert_eq!(left.len(), 1, "the delete took effect: {left:?}");

    // Meanwhile somebody makes the same task anew.
    env.admin_send(reqwest::Method::DELETE, "faults", json!({}))
        .await;
    create_outside_to(&env, west).await;
    let outside = task_ids(&env).await;
    assert_eq!(outside.len(), 2);

    // The retried pass tells it from the rule's task by its id: not the rule's, not pruned.
    let rule = env.wait_ready("web", "1/1 tasks in sync").await;
    assert!(line_to(&rule, west).is_none(), "{:?}", rule.status);
    assert_eq!(task_ids(&env).await, outside, "the task made outside stays");

    // And the rule's deletion leaves it too.
    env.delete("web").await;
    env.wait_for("web", "web gone", |r| r.is_none()).await;
    let west_only: Vec<_> = outside.into_iter().filter(|t| t.1 == west).collect();
    assert_eq!(task_ids(&env).await, west_only);
}
