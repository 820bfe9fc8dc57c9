//! Two (then three) real operator processes against a real kube-apiserver and the emulator:
//! only the leader reconciles, a killed leader is replaced within the lease duration with no
//! duplicate SWR work, a stopped leader releases its Lease at once, and no process ever logs
//! a secret.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::{json, Value};
use testkit::cluster;
use testkit::metrics::sum;
use testkit::operator::{spec, Env, BOTH_DR, EAST_DR, SECRET_KEY};
use testkit::process::OperatorProcess;

/// Lease timing for the test: client-go's ratios, shorter.
const LEASE_FLAGS: &[&str] = &[
    "--leader-election-lease-duration",
    "4s",
    "--leader-election-renew-deadline",
    "3s",
    "--leader-election-retry-period",
    "500ms",
];
const LEASE_DURATION: Duration = Duration::from_secs(4);
/// The embedded emulator's IAM password (a second kind of secret that must never be logged).
const IAM_PASSWORD: &str = "s3cret!";
const CREATE: &str = "swr.create_sync_task";

/// A rule for `team/api` that logs in with the IAM password Secret.
fn api_rule(targets: &[(&str, &str)]) -> Value {
    let mut rule = spec(&["team/api"], targets);
    rule["credentialsSecretRef"]["name"] = json!("swr-password");
    rule
}

/// An operator process for the env's namespace, electing its leader there.
fn replica(env: &Env, name: &str) -> OperatorProcess {
    let mut args = vec![
        "--namespace",
        &env.ns,
        "--leader-election-namespace",
        &env.ns,
    ];
    args.extend(LEASE_FLAGS);
    let endpoint = env.emulator.endpoint_template();
    OperatorProcess::start(name, cluster::kubeconfig(), &endpoint, &args)
}

/// Waits until `process` leads; returns how long that took.
async fn wait_leader(process: &OperatorProcess, limit: Duration) -> Duration {
    let started = Instant::now();
    while !process.is_leader().await {
        assert!(
            started.elapsed() < limit,
            "{} did not lead within {limit:?}; log:\n{}",
            process.name,
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

async fn lease_holder(env: &Env) -> Option<String> {
    Api::<Lease>::namespaced(env.client.clone(), &env.ns)
        .get("swr-sync-operator")
        .await
        .expect("reading the Lease")
        .spec
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

async fn create_password_secret(env: &Env) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "swr-password"},
        "stringData": {"username": "swr-operator", "password": IAM_PASSWORD, "domainName": "example-domain"},
    }))
    .unwrap();
    Api::<Secret>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("creating the password Secret");
}

/// Checks a process's JSON log: no secret value anywhere, and every line about a rule's
/// reconcile names the rule and its namespace.
fn check_log(process: &OperatorProcess, ns: &str) {
    let log = process.log();
    for secret in [SECRET_KEY, IAM_PASSWORD] {
        assert!(
            !log.contains(secret),
            "{} logged a secret value",
            process.name
        );
    }
    let mut reconcile_lines = 0;
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            panic!("{}: not a JSON log line: {line}", process.name);
        };
        let target = entry["target"].as_str().unwrap_or_default();
        // The controller's own lines (watch errors...) are about no rule in particular.
        let about_a_rule = (target.starts_with("swr_sync_operator::reconcile")
            && target != "swr_sync_operator::reconcile::controller")
            || target.starts_with("swr_sync_operator::cloud");
        if !about_a_rule {
            continue;
        }
        reconcile_lines += 1;
        let text = entry.to_string();
        assert!(
            text.contains(&format!("\"namespace\":\"{ns}\"")) && text.contains("\"rule\":\""),
            "{}: a reconcile log line lacks the rule's namespace/name: {line}",
            process.name
        );
    }
    eprintln!(
        "{}: {reconcile_lines} reconcile log lines checked",
        process.name
    );
}

#[tokio::test]
async fn only_the_leader_reconciles_and_hands_over_on_kill_and_on_stop() {
    let env = Env::without_operator("ha").await;
    env.create_secret("swr-credentials").await;
    create_password_secret(&env).await;

    let mut a = replica(&env, "operator-a");
    wait_leader(&a, Duration::from_secs(30)).await;
    let b = replica(&env, "operator-b");
    b.wait_ready().await;

    env.apply("web", spec(&["nginx"], BOTH_DR)).await.unwrap();
    env.apply("api", api_rule(EAST_DR)).await.unwrap();
    env.wait_ready("web", "2/2 tasks in sync").await;
    env.wait_ready("api", "1/1 tasks in sync").await;

    // Only the leader did anything.
    assert!(a.is_leader().await && !b.is_leader().await);
    let standby = b.metrics().await;
    assert_eq!(sum(&standby, "swr_sync_reconciles_total", &[]), 0.0);
    assert_eq!(sum(&standby, "swr_sync_cloud_requests_total", &[]), 0.0);
    assert!(sum(&a.metrics().await, "swr_sync_reconciles_total", &[]) >= 2.0);
    assert_eq!(env.calls_of(CREATE).await, 3);

    // The leader dies: the standby takes over within the lease duration (plus a retry).
    a.kill();
    let handover = wait_leader(&b, Duration::from_secs(15)).await;
    eprintln!("hand-over after SIGKILL: {handover:?} (lease duration {LEASE_DURATION:?})");
    assert!(handover <= LEASE_DURATION + Duration::from_secs(2));
    env.apply("api", api_rule(BOTH_DR)).await.unwrap();
    env.wait_ready("api", "2/2 tasks in sync").await;
    env.wait_ready("web", "2/2 tasks in sync").await;
    // The new leader re-listed everything but created only the one new task.
    assert_eq!(env.calls_of(CREATE).await, 4);
    assert_eq!(env.tasks().await.len(), 4);
    assert_eq!(env.calls_of("swr.delete_sync_task").await, 0);

    // A stopping leader releases the Lease: the next standby leads at once, not after expiry.
    let c = replica(&env, "operator-c");
    c.wait_ready().await;
    let mut b = b;
    let stopped = Instant::now();
    let exit = b.terminate(Duration::from_secs(25)).await;
    let handover = wait_leader(&c, Duration::from_secs(15)).await + exit;
    eprintln!(
        "SIGTERM: leader exited in {exit:?}; hand-over after stop {:?}",
        stopped.elapsed()
    );
    assert!(
        handover < LEASE_DURATION,
        "a released Lease should be taken at once, took {handover:?}"
    );
    assert_eq!(lease_holder(&env).await.as_deref(), Some("operator-c"));

    for process in [&a, &b, &c] {
        check_log(process, &env.ns);
    }
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_reconcile_finish_then_releases_the_lease() {
    let env = Env::without_operator("ha-stop").await;
    env.create_secret("swr-credentials").await;
    let mut operator = replica(&env, "stopping");
    wait_leader(&operator, Duration::from_secs(30)).await;
    // SWR takes 3 s to answer the create: the reconcile is in flight when SIGTERM arrives.
    env.admin_send(
        reqwest::Method::PUT,
        "faults",
        json!({"latency": {"fixed_ms": 3000}, "operations": [CREATE]}),
    )
    .await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.calls_of(CREATE).await == 0 {
        assert!(Instant::now() < deadline, "no create within 20s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let exit = operator.terminate(Duration::from_secs(25)).await;
    eprintln!("SIGTERM with a create in flight: exited after {exit:?}");
    assert!(
        exit >= Duration::from_secs(2),
        "exited after {exit:?}, before the in-flight create was answered"
    );
    // The reconcile finished before the process exited: the task is in the status.
    let rule = env.rules().get("web").await.unwrap();
    let status = rule.status.expect("status written before exit");
    assert_eq!(status.summary.as_deref(), Some("1/1 tasks in sync"));
    assert_eq!(lease_holder(&env).await, None, "the Lease was not released");
    assert_eq!(env.calls_of(CREATE).await, 1);
}
