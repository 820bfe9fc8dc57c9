//! Running one schedule: a fresh namespace and emulator, two operator replicas, the faults
//! in order, then (faults off) the wait for convergence and the check that SWR holds
//! exactly the tasks the rules want plus the foreign ones nobody owns.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use swr_sync_operator::api::ImageSyncRule;
use swr_sync_operator::emulator::{Emulator, EmulatorHandle};
use swr_sync_operator::swr::model::CreateSyncTask;
use swr_sync_operator::swr::{SourceRepo, SwrApi};

use super::replicas::{retry, Replicas, Scope};
use super::schedule::{Fault, Schedule};
use testkit::cloud::{self, Admin};
use testkit::cluster;
use testkit::fleet::{self, Fleet, Task};
use testkit::operator::{in_sync_now, ready_reason, ACCESS_KEY, SECRET_KEY};

/// The rules of every schedule: 8 rules over 4 repositories, 2 of 3 possible targets each.
pub const FLEET: Fleet = Fleet {
    rules: 8,
    repos: 4,
    targets: 3,
    resync: Some("20s"),
    verify: false,
};
/// Longest wait for convergence once the faults are off.
pub const CONVERGE_LIMIT: Duration = Duration::from_secs(180);

/// What one schedule showed.
#[derive(Debug)]
pub struct Outcome {
    /// The fleet: `disjoint` or `overlap`.
    pub fleet: &'static str,
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
    replicas: Replicas,
    foreign: BTreeSet<Task>,
    deleted: BTreeSet<usize>,
    third: BTreeSet<usize>,
    second_key: bool,
}

/// A fleet under test: what the schedule driver needs of it.
pub trait FleetWorld {
    /// `disjoint` or `overlap`, for the report.
    const NAME: &'static str;
    /// Its replicas (and the emulator's fault switch).
    fn replicas(&mut self) -> &mut Replicas;
    /// Injects a fault the replicas do not handle.
    async fn inject(&mut self, fault: &Fault);
    /// Puts back what the faults took away (credentials), before convergence is awaited.
    async fn restore(&mut self);
    /// What is wrong now (empty: converged).
    async fn violations(&self) -> Vec<String>;
    /// Stops the replicas and the emulator.
    async fn stop(self);
}

/// Runs `schedule` against `world`: the faults in order, then (faults off, two replicas)
/// the wait for convergence and the check of the fleet's invariants.
pub async fn drive<W: FleetWorld>(mut world: W, schedule: &Schedule) -> Outcome {
    let mut faults = Vec::new();
    for (pause, fault) in &schedule.steps {
        tokio::time::sleep(Duration::from_secs_f64(*pause)).await;
        world.replicas().expire_faults().await;
        eprintln!("  fault: {fault:?}");
        if !world.replicas().inject(fault).await {
            world.inject(fault).await;
        }
        faults.push(fault.kind());
    }
    world.replicas().set_faults(json!({})).await;
    world.restore().await;
    world.replicas().fill();
    let last_fault = Instant::now();
    let mut violations = world.violations().await;
    let mut shown = Instant::now();
    while !violations.is_empty() && last_fault.elapsed() < CONVERGE_LIMIT {
        if shown.elapsed() > Duration::from_secs(10) {
            eprintln!("  still converging: {violations:?}");
            shown = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        violations = world.violations().await;
    }
    let converge_seconds = last_fault.elapsed().as_secs_f64();
    if !violations.is_empty() {
        world.replicas().dump_logs();
    }
    world.stop().await;
    Outcome {
        fleet: W::NAME,
        seed: schedule.seed,
        faults,
        violations,
        converge_seconds,
    }
}

/// Runs `schedule` against the disjoint fleet.
pub async fn run(schedule: &Schedule) -> Outcome {
    drive(World::start().await, schedule).await
}

impl FleetWorld for World {
    const NAME: &'static str = "disjoint";

    fn replicas(&mut self) -> &mut Replicas {
        &mut self.replicas
    }

    async fn inject(&mut self, fault: &Fault) {
        self.inject_own(fault).await;
    }

    async fn restore(&mut self) {
        self.set_secret(true).await;
    }

    async fn violations(&self) -> Vec<String> {
        self.find_violations().await
    }

    async fn stop(mut self) {
        self.replicas.stop().await;
        self.emulator.shutdown().await.expect("emulator stops");
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
        let mut foreign = make_foreign_tasks(&emulator).await;
        FLEET.create(&client, &ns, 8, 2).await;
        let scope = Scope::Namespace(ns.clone());
        let replicas = Replicas::start(scope, emulator.endpoint_template(), Admin::of(&emulator));
        Self {
            client,
            ns,
            emulator,
            replicas,
            foreign: std::mem::take(&mut foreign),
            deleted: BTreeSet::new(),
            third: BTreeSet::new(),
            second_key: false,
        }
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
        write_targets(self.rules(), i, self.third.contains(&i)).await;
    }

    /// The faults only this fleet has.
    async fn inject_own(&mut self, fault: &Fault) {
        match fault {
            Fault::KillAfterCreate => {
                let rule =
                    (0..FLEET.rules).find(|i| !self.deleted.contains(i) && !self.third.contains(i));
                if let Some(rule) = rule {
                    // The rule then wants a new task: a create.
                    self.third.insert(rule);
                }
                let rules = self.rules();
                let provoke = async move {
                    match rule {
                        Some(rule) => {
                            write_targets(rules, rule, true).await;
                            true
                        }
                        None => false,
                    }
                };
                self.replicas.kill_after_create(provoke).await;
            }
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
            other => panic!("{other:?} is not a fault of this fleet"),
        }
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
    async fn find_violations(&self) -> Vec<String> {
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
        let listed = self.replicas.admin.tasks().await;
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
}

/// Sets rule `i`'s targets: its first two, plus the third with `third`.
async fn write_targets(rules: Api<ImageSyncRule>, i: usize, third: bool) {
    let targets = (0..2).chain(third.then_some(2));
    let patch = json!({"spec": {"targets": FLEET.spec(i, targets)["targets"]}});
    let name = Fleet::rule_name(i);
    retry("editing a rule", || async {
        rules
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
    })
    .await;
}

/// Two tasks nobody's rule wants, made by "somebody else": they must survive.
async fn make_foreign_tasks(emulator: &EmulatorHandle) -> BTreeSet<Task> {
    let swr = cloud::swr_client(emulator, Some(fleet::PROJECT_ID), 10.0);
    let mut foreign = BTreeSet::new();
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
        foreign.insert(task);
    }
    foreign
}
