//! Running one schedule: a fresh namespace and emulator, two operator replicas, the faults
//! in order, then (faults off) the wait for convergence and the check that SWR holds
//! exactly the tasks the rules want plus the foreign ones nobody owns.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use swr_sync_operator::api::ImageSyncRule;
use swr_sync_operator::emulator::{Emulator, EmulatorHandle};
use swr_sync_operator::swr::model::CreateSyncTask;
use swr_sync_operator::swr::{SourceRepo, SwrApi};

use super::schedule::{Fault, Schedule};
use super::support::cloud::{self, Admin};
use super::support::cluster;
use super::support::fleet::{self, Fleet, Task};
use super::support::operator::{in_sync_now, ready_reason, ACCESS_KEY, SECRET_KEY};
use super::support::process::{OperatorProcess, BINARY};

/// The rules of every schedule: 8 rules over 4 repositories, 2 of 3 possible targets each.
pub const FLEET: Fleet = Fleet {
    rules: 8,
    repos: 4,
    targets: 3,
    resync: Some("20s"),
};
/// Longest wait for convergence once the faults are off.
const CONVERGE_LIMIT: Duration = Duration::from_secs(180);

/// What one schedule showed.
#[derive(Debug)]
pub struct Outcome {
    /// The schedule's seed.
    pub seed: u64,
    /// Kinds of the faults injected, in order.
    pub faults: Vec<&'static str>,
    /// Invariants broken once converged (must be empty).
    pub violations: Vec<String>,
    /// Seconds from the last fault to convergence.
    pub converge_seconds: f64,
}

struct World {
    client: Client,
    ns: String,
    emulator: EmulatorHandle,
    admin: Admin,
    replicas: Vec<OperatorProcess>,
    started: usize,
    foreign: BTreeSet<Task>,
    deleted: BTreeSet<usize>,
    third: BTreeSet<usize>,
    second_key: bool,
    faults_until: Option<Instant>,
}

/// Runs `schedule` and checks the result.
pub async fn run(schedule: &Schedule) -> Outcome {
    let mut world = World::start().await;
    let mut faults = Vec::new();
    for (pause, fault) in &schedule.steps {
        tokio::time::sleep(Duration::from_secs_f64(*pause)).await;
        if world.faults_until.is_some_and(|t| Instant::now() >= t) {
            world.set_faults(json!({})).await;
        }
        eprintln!("  fault: {fault:?}");
        world.inject(fault).await;
        faults.push(fault.kind());
    }
    // Faults off: SWR healthy, valid credentials, two replicas.
    world.set_faults(json!({})).await;
    world.set_secret(true).await;
    while world.replicas.len() < 2 {
        world.start_replica();
    }
    let last_fault = Instant::now();
    let mut violations = world.violations().await;
    while !violations.is_empty() && last_fault.elapsed() < CONVERGE_LIMIT {
        tokio::time::sleep(Duration::from_millis(250)).await;
        violations = world.violations().await;
    }
    let converge_seconds = last_fault.elapsed().as_secs_f64();
    if !violations.is_empty() {
        for replica in &world.replicas {
            eprintln!(
                "----- log of {} -----\n{}",
                replica.name,
                replica.log_tail(40)
            );
        }
    }
    world.stop().await;
    Outcome {
        seed: schedule.seed,
        faults,
        violations,
        converge_seconds,
    }
}

impl World {
    async fn start() -> Self {
        let client = cluster::client().await;
        cluster::install_crd(&client).await;
        let ns = cluster::namespace(&client, "faults").await;
        let emulator = Emulator::start(FLEET.emulator_config(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let mut world = Self {
            client,
            ns,
            admin: Admin::of(&emulator),
            emulator,
            replicas: Vec::new(),
            started: 0,
            foreign: BTreeSet::new(),
            deleted: BTreeSet::new(),
            third: BTreeSet::new(),
            second_key: false,
            faults_until: None,
        };
        world.make_foreign_tasks().await;
        FLEET.create(&world.client, &world.ns, 8, 2).await;
        world.start_replica();
        world.start_replica();
        world
    }

    /// Two tasks nobody's rule wants, made by "somebody else": they must survive.
    async fn make_foreign_tasks(&mut self) {
        let swr = cloud::swr_client(&self.emulator, Some(fleet::PROJECT_ID), 10.0);
        for k in 0..2 {
            let task: Task = (
                fleet::SOURCE_ORG.into(),
                format!("app-{k:04}"),
                fleet::TARGET_REGIONS[0].into(),
                "foreign-0".into(),
            );
            let repo = SourceRepo::new(fleet::SOURCE_REGION, &task.0, &task.1).unwrap();
            let body = CreateSyncTask {
                remote_region_id: task.2.clone(),
                remote_namespace: task.3.clone(),
                sync_auto: true,
                override_existing: false,
            };
            swr.create_sync_task(&repo, &body)
                .await
                .expect("creating a foreign task");
            self.foreign.insert(task);
        }
    }

    fn start_replica(&mut self) {
        self.started += 1;
        let name = format!("replica-{}", self.started);
        let replica = OperatorProcess::start_in(
            Path::new(BINARY),
            &name,
            &self.ns,
            &self.emulator.endpoint_template(),
            &[
                "--leader-election-lease-duration",
                "3s",
                "--leader-election-renew-deadline",
                "2s",
                "--leader-election-retry-period",
                "500ms",
                "--swr-timeout",
                "2s",
                "--swr-qps",
                "50",
                "--shutdown-grace",
                "10s",
            ],
        );
        self.replicas.push(replica);
    }

    /// Index of the leading replica (waits up to 10 s for one), else the first.
    async fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            for (i, replica) in self.replicas.iter().enumerate() {
                if replica.is_leader().await {
                    return i;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        0
    }

    async fn set_faults(&mut self, spec: Value) {
        self.admin.set_faults(spec).await;
        self.faults_until = None;
    }

    async fn set_secret(&mut self, valid: bool) {
        let (ak, sk) = match (valid, self.second_key) {
            (true, false) => (ACCESS_KEY, SECRET_KEY),
            (true, true) => (fleet::SECOND_ACCESS_KEY, fleet::SECOND_SECRET_KEY),
            (false, _) => (ACCESS_KEY, "not-the-secret-key-at-all-0000000000000"),
        };
        retry("writing the Secret", || {
            fleet::set_secret(&self.client, &self.ns, ak, sk)
        })
        .await;
    }

    fn rules(&self) -> Api<ImageSyncRule> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Sets rule `i`'s targets: its first two, plus the third when it is in `self.third`.
    async fn write_targets(&self, i: usize) {
        let targets = (0..2).chain(self.third.contains(&i).then_some(2));
        let patch = json!({"spec": {"targets": FLEET.spec(i, targets)["targets"]}});
        let rules = self.rules();
        let name = Fleet::rule_name(i);
        retry("editing a rule", || async {
            rules
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
        })
        .await;
    }

    async fn calls_of(&self, operation: &str) -> u64 {
        let calls = self.admin.calls().await;
        calls
            .iter()
            .filter(|((op, _), _)| op == operation)
            .map(|(_, n)| n)
            .sum()
    }

    async fn inject(&mut self, fault: &Fault) {
        let window = |secs: f64| Some(Instant::now() + Duration::from_secs_f64(secs));
        match fault {
            Fault::ServerErrors { status, rate, secs } => {
                self.set_faults(json!({"error_rate": rate, "error_status": status}))
                    .await;
                self.faults_until = window(*secs);
            }
            Fault::Throttle { qps, secs } => {
                self.set_faults(json!({"qps_limit": qps, "retry_after_seconds": 1}))
                    .await;
                self.faults_until = window(*secs);
            }
            Fault::LatencySpike { max_ms, secs } => {
                self.set_faults(json!({"latency": {"min_ms": 100, "max_ms": max_ms}}))
                    .await;
                self.faults_until = window(*secs);
            }
            Fault::Hang { rate, secs } => {
                self.set_faults(json!({"hang": rate})).await;
                self.faults_until = window(*secs);
            }
            Fault::KillLeader => {
                let leader = self.leader().await;
                self.replicas.remove(leader).kill();
                self.start_replica();
            }
            Fault::KillAfterCreate => self.kill_after_create().await,
            Fault::HandOver => {
                let leader = self.leader().await;
                let mut stopping = self.replicas.remove(leader);
                stopping.terminate(Duration::from_secs(30)).await;
                self.start_replica();
            }
            Fault::RestartApiServer => restart_apiserver(cluster::kubeconfig()).await,
            Fault::RotateSecret { valid } => {
                if *valid {
                    self.second_key = !self.second_key;
                }
                self.set_secret(*valid).await;
            }
            Fault::EditRule { rule } => {
                if !self.deleted.contains(rule) {
                    if !self.third.remove(rule) {
                        self.third.insert(*rule);
                    }
                    self.write_targets(*rule).await;
                }
            }
            Fault::DeleteOrRecreate { rule } => self.delete_or_recreate(*rule).await,
        }
    }

    /// Holds SWR's answer to creates, makes a rule want a new task, and SIGKILLs the
    /// leader as soon as SWR has the create: the task exists, the status does not say so.
    async fn kill_after_create(&mut self) {
        let op = "swr.create_sync_task";
        self.set_faults(json!({"latency": 3000, "operations": [op]}))
            .await;
        let before = self.calls_of(op).await;
        let Some(rule) =
            (0..FLEET.rules).find(|i| !self.deleted.contains(i) && !self.third.contains(i))
        else {
            return;
        };
        self.third.insert(rule);
        self.write_targets(rule).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.calls_of(op).await == before && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let leader = self.leader().await;
        self.replicas.remove(leader).kill();
        self.set_faults(json!({})).await;
        self.start_replica();
    }

    async fn delete_or_recreate(&mut self, i: usize) {
        let rules = self.rules();
        let name = Fleet::rule_name(i);
        if self.deleted.remove(&i) {
            // The old object may still be finishing its cleanup.
            let rule: ImageSyncRule = serde_json::from_value(json!({
                "apiVersion": "swrsync.io/v1alpha1", "kind": "ImageSyncRule",
                "metadata": {"name": name}, "spec": FLEET.spec(i, 0..2),
            }))
            .unwrap();
            self.third.remove(&i);
            retry("recreating a rule", || async {
                match rules.get_opt(&name).await? {
                    Some(_) => Err(kube::Error::Service("still being deleted".into())),
                    None => rules
                        .create(&PostParams::default(), &rule)
                        .await
                        .map(|_| ()),
                }
            })
            .await;
        } else {
            self.deleted.insert(i);
            retry("deleting a rule", || async {
                rules
                    .delete(&name, &DeleteParams::default())
                    .await
                    .map(|_| ())
            })
            .await;
        }
    }

    /// What is wrong now: tasks duplicated, leaked or missing, rules not Ready.
    async fn violations(&self) -> Vec<String> {
        let Ok(rules) = self.rules().list(&ListParams::default()).await else {
            return vec!["the API server does not answer".into()];
        };
        let mut out = Vec::new();
        let mut expected = self.foreign.clone();
        for rule in &rules {
            if rule.metadata.deletion_timestamp.is_some() {
                out.push(format!("{} is still being deleted", rule.name_any()));
                continue;
            }
            if !in_sync_now(rule) {
                let message = rule
                    .status
                    .iter()
                    .flat_map(|s| &s.conditions)
                    .find(|c| c.type_ == "Ready")
                    .map(|c| c.message.as_str());
                out.push(format!(
                    "{} is not Ready at its generation: {:?} {message:?}",
                    rule.name_any(),
                    ready_reason(rule)
                ));
            }
            for repo in &rule.spec.source.repositories {
                for t in &rule.spec.targets {
                    expected.insert((
                        fleet::SOURCE_ORG.into(),
                        repo.clone(),
                        t.region.clone(),
                        t.organization.clone(),
                    ));
                }
            }
        }
        let listed = self.admin.tasks().await;
        let found = fleet::tasks_of(&listed);
        let count = listed.as_array().map_or(0, Vec::len);
        if count != found.len() {
            out.push(format!("{} duplicated task(s)", count - found.len()));
        }
        for task in expected.difference(&found) {
            let what = if self.foreign.contains(task) {
                "foreign task deleted"
            } else {
                "wanted task missing"
            };
            out.push(format!("{what}: {task:?}"));
        }
        for task in found.difference(&expected) {
            out.push(format!("task leaked (no rule wants it): {task:?}"));
        }
        out
    }

    async fn stop(mut self) {
        for mut replica in self.replicas.drain(..) {
            replica.terminate(Duration::from_secs(30)).await;
        }
        self.emulator.shutdown().await.expect("emulator stops");
    }
}

/// Restarts the API server of the project's local control plane (the kubeconfig's folder
/// is its state directory). Blocks a worker thread, not the emulator's runtime.
async fn restart_apiserver(kubeconfig: &Path) {
    assert!(
        std::env::var_os("SWR_TEST_KUBECONFIG").is_none(),
        "the fault campaign restarts the API server, so it needs the local one (unset SWR_TEST_KUBECONFIG)"
    );
    let state = kubeconfig.parent().unwrap().to_path_buf();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/kube-apiserver/restart-apiserver.sh");
    let out =
        tokio::task::spawn_blocking(move || std::process::Command::new(script).arg(state).output())
            .await
            .unwrap()
            .expect("running restart-apiserver.sh");
    assert!(
        out.status.success(),
        "restarting the API server: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Retries a Kubernetes call for up to 60 s (the API server may be restarting).
async fn retry<F, Fut, T, E>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match call().await {
            Ok(value) => return value,
            Err(e) if Instant::now() < deadline => {
                eprintln!("  {what}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}
