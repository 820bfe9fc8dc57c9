//! The scenarios, in one run: the operator's cold start, drift and no-op passes, then the
//! script peer's on a reset emulator, each measured against the same expected tasks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Client;
use serde_json::json;
use swr_sync_operator::api::ImageSyncRule;
use swr_sync_operator::emulator::{Emulator, EmulatorHandle};
use swr_sync_operator::swr::model::{CreateSyncTask, SyncTarget};
use swr_sync_operator::swr::{SourceRepo, SwrApi};

use super::{peer, Args};
use testkit::cloud::{self, Admin};
use testkit::cluster;
use testkit::fleet::{self, for_each_parallel, Drift, Fleet, Task};
use testkit::metrics::{apiserver_writes, delta, sum};
use testkit::operator::{in_sync_now, ACCESS_KEY, SECRET_KEY};
use testkit::process::{binary, OperatorProcess};

/// A scenario of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// SWR empty, every rule new.
    Cold,
    /// A tenth of the tasks missing, a tenth foreign, a tenth to prune; operator restarted.
    Drift,
    /// Everything in place; operator restarted.
    NoOp,
}

impl Scenario {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cold => "cold",
            Self::Drift => "drift",
            Self::NoOp => "no-op",
        }
    }
}

/// What one actor did in one scenario.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Wall time from process start to converged.
    pub seconds: f64,
    /// SWR calls by operation (every status), as the emulator counted them.
    pub calls: BTreeMap<String, u64>,
    /// Of which answered 429.
    pub throttled: u64,
    /// Kubernetes writes by kind, as the API server counted them (operator only).
    pub writes: BTreeMap<String, f64>,
    /// Reconciles per rule (operator only).
    pub reconciles_per_rule: Option<f64>,
    /// Peak resident memory, bytes (operator only).
    pub peak_rss: Option<u64>,
    /// CPU seconds (operator only).
    pub cpu_seconds: Option<f64>,
}

impl Measured {
    /// Every SWR call.
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

/// Everything measured, per scenario.
#[derive(Debug, Default)]
pub struct Results {
    /// The operator's runs.
    pub operator: BTreeMap<Scenario, Measured>,
    /// The script's runs.
    pub script: BTreeMap<Scenario, Measured>,
    /// Lower bound L per scenario: one list per repository + every create and delete needed.
    pub lower_bound: BTreeMap<Scenario, u64>,
    /// Tasks the polling model manages (one read per task per interval).
    pub managed_tasks: BTreeMap<Scenario, u64>,
    /// Writes (creates + deletes) each scenario needs.
    pub needed_writes: BTreeMap<Scenario, u64>,
    /// With `--verify`: the tag listings one verification of every rule needs (part of the
    /// cold scenario's L; the later passes are within the interval and verify nothing).
    pub verification_bound: Option<u64>,
}

struct Bench {
    client: Client,
    ns: String,
    emulator: EmulatorHandle,
    admin: Admin,
    rules: Store<ImageSyncRule>,
    fleet: Fleet,
    args: Args,
    latency_ms: u64,
}

/// Runs every scenario for the operator at `latency_ms`, then, with `script`, for the script.
pub async fn all(args: &Args, latency_ms: u64, script: bool) -> Results {
    let bench = Bench::start(args, latency_ms).await;
    let fleet = bench.fleet;
    let drift = fleet.drift();
    let cold = fleet.desired(&[]);
    let mut after: BTreeSet<Task> = fleet.desired(&drift.dropped);
    after.extend(drift.foreign.iter().cloned());
    let tasks = (fleet.rules * fleet.targets) as u64;
    let repos = fleet.repos.min(fleet.rules) as u64;
    let changes = (drift.missing.len() + drift.dropped.len()) as u64;
    // Verification lists each source repository and each target repository once (one page:
    // one tag each); every rule's targets are its own.
    let verification = if args.verify { repos + tasks } else { 0 };
    let mut results = Results {
        verification_bound: args.verify.then_some(verification),
        lower_bound: [
            (Scenario::Cold, repos + tasks + verification),
            (Scenario::Drift, repos + changes),
            (Scenario::NoOp, repos),
        ]
        .into(),
        needed_writes: [
            (Scenario::Cold, tasks),
            (Scenario::Drift, changes),
            (Scenario::NoOp, 0),
        ]
        .into(),
        managed_tasks: [
            (Scenario::Cold, tasks),
            (Scenario::Drift, tasks),
            (Scenario::NoOp, tasks - drift.dropped.len() as u64),
        ]
        .into(),
        ..Results::default()
    };

    eprintln!("== operator: cold start ({} rules)", fleet.rules);
    fleet
        .create(&bench.client, &bench.ns, 32, fleet.targets)
        .await;
    results
        .operator
        .insert(Scenario::Cold, bench.operator_pass(&cold).await);
    eprintln!("== operator: drift");
    bench.swr_drift(&drift).await;
    fleet
        .drop_targets(&bench.client, &bench.ns, &drift.dropped)
        .await;
    results
        .operator
        .insert(Scenario::Drift, bench.operator_pass(&after).await);
    eprintln!("== operator: no-op");
    results
        .operator
        .insert(Scenario::NoOp, bench.operator_pass(&after).await);

    if script {
        let python = peer::install();
        bench.reset_emulator().await;
        let dropped: Vec<Task> = drift
            .dropped
            .iter()
            .map(|(i, j)| fleet.task(*i, *j))
            .collect();
        let want_after = fleet.desired(&drift.dropped);
        eprintln!("== script: cold start");
        let run = bench.script_pass(&python, &cold, &[], &cold).await;
        results.script.insert(Scenario::Cold, run);
        eprintln!("== script: drift");
        bench.swr_drift(&drift).await;
        let run = bench
            .script_pass(&python, &want_after, &dropped, &after)
            .await;
        results.script.insert(Scenario::Drift, run);
        eprintln!("== script: no-op");
        let run = bench
            .script_pass(&python, &want_after, &dropped, &after)
            .await;
        results.script.insert(Scenario::NoOp, run);
    }
    bench.emulator.shutdown().await.expect("emulator stops");
    results
}

impl Bench {
    async fn start(args: &Args, latency_ms: u64) -> Self {
        let fleet = Fleet {
            rules: args.rules,
            repos: args.repos,
            targets: args.targets,
            resync: None,
            verify: args.verify,
        };
        let client = cluster::client().await;
        cluster::install_crd(&client).await;
        let ns = cluster::namespace(&client, "bench").await;
        let emulator = Emulator::start(fleet.emulator_config(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let (rules, writer) = reflector::store();
        let stream = reflector::reflector(
            writer,
            watcher(
                Api::<ImageSyncRule>::namespaced(client.clone(), &ns),
                Default::default(),
            ),
        );
        tokio::spawn(stream.applied_objects().for_each(|_| async {}));
        let bench = Self {
            client,
            ns,
            admin: Admin::of(&emulator),
            emulator,
            rules,
            fleet,
            args: args.clone(),
            latency_ms,
        };
        bench.set_faults().await;
        bench
    }

    /// Latency and the qps cap on every cloud operation.
    async fn set_faults(&self) {
        let spec = json!({"latency": self.latency_ms, "qps_limit": self.args.qps});
        self.admin.set_faults(spec).await;
    }

    async fn reset_emulator(&self) {
        self.admin.send(reqwest::Method::POST, "reset", None).await;
        self.set_faults().await;
    }

    async fn tasks(&self) -> BTreeSet<Task> {
        fleet::tasks_of(&self.admin.tasks().await)
    }

    /// Calls made since `before`: by operation, and how many were throttled.
    async fn calls_since(
        &self,
        before: &BTreeMap<(String, u64), u64>,
    ) -> (BTreeMap<String, u64>, u64) {
        let mut by_op = BTreeMap::new();
        let mut throttled = 0;
        for ((op, status), n) in self.admin.calls().await {
            let made = n - before
                .get(&(op.clone(), status))
                .copied()
                .unwrap_or_default();
            if made > 0 {
                *by_op.entry(op).or_default() += made;
                if status == 429 {
                    throttled += made;
                }
            }
        }
        (by_op, throttled)
    }

    /// Starts the operator, waits until every rule is Ready at its current generation,
    /// every rule was reconciled by this process and SWR holds exactly `expected`; stops it.
    async fn operator_pass(&self, expected: &BTreeSet<Task>) -> Measured {
        let calls = self.admin.calls().await;
        let writes = apiserver_writes(&self.client).await;
        let started = Instant::now();
        let qps = self.args.qps.to_string();
        let mut flags = vec![
            "--swr-qps".to_string(),
            qps,
            "--swr-burst".into(),
            "10".into(),
        ];
        if let Some(concurrency) = self.args.concurrency {
            flags.extend(["--concurrency".to_string(), concurrency.to_string()]);
        }
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let mut operator = OperatorProcess::start_in(
            self.args.operator_bin.as_deref().unwrap_or(binary()),
            "bench-operator",
            &self.ns,
            &self.emulator.endpoint_template(),
            &flags,
        );
        let n = self.fleet.rules as f64;
        loop {
            let reconciled = operator
                .get("/metrics")
                .await
                .map(|(_, body)| {
                    sum(
                        &testkit::metrics::parse(&body),
                        "swr_sync_reconciles_total",
                        &[],
                    )
                })
                .unwrap_or_default();
            if self.args.timeline {
                let made: u64 = self.calls_since(&calls).await.0.values().sum();
                let (at, ready) = (started.elapsed().as_secs_f64(), self.ready_count());
                eprintln!(
                    "timeline {at:.2} s: {made} calls, {reconciled} reconciles, {ready} Ready"
                );
            }
            if reconciled >= n && self.all_ready() && self.tasks().await == *expected {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(3600),
                "no convergence within an hour: {reconciled} reconciles, {} of {n} rules ready; log tail:\n{}",
                self.ready_count(),
                operator.log_tail(20)
            );
            // Fine enough not to add to a no-op pass of a second or two; the costly check
            // (every task in the emulator) runs only once the cheap ones pass.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        // Late writes (an Event after the last status) still count.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let scraped = operator.metrics().await;
        let (calls, throttled) = self.calls_since(&calls).await;
        let measured = Measured {
            seconds,
            calls,
            throttled,
            writes: operator_kinds(delta(&writes, &apiserver_writes(&self.client).await)),
            reconciles_per_rule: Some(sum(&scraped, "swr_sync_reconciles_total", &[]) / n),
            peak_rss: operator.peak_rss(),
            cpu_seconds: scraped.get("process_cpu_seconds_total").copied(),
        };
        operator.terminate(Duration::from_secs(60)).await;
        measured
    }

    fn ready_count(&self) -> usize {
        self.rules.state().iter().filter(|r| in_sync_now(r)).count()
    }

    fn all_ready(&self) -> bool {
        self.ready_count() == self.fleet.rules
    }

    /// Runs the script with `desired` and `remove`; checks SWR then holds `expected`.
    async fn script_pass(
        &self,
        python: &str,
        desired: &BTreeSet<Task>,
        remove: &[Task],
        expected: &BTreeSet<Task>,
    ) -> Measured {
        let calls = self.admin.calls().await;
        let plan = json!({
            "endpoint": self.emulator.base_url(), "ak": ACCESS_KEY, "sk": SECRET_KEY,
            "projectId": fleet::PROJECT_ID, "desired": desired, "remove": remove,
        });
        let seconds = peer::run_script(python, &plan).await;
        let (calls, throttled) = self.calls_since(&calls).await;
        let found = self.tasks().await;
        assert!(
            found == *expected,
            "the script left {} tasks, {} expected",
            found.len(),
            expected.len()
        );
        Measured {
            seconds,
            calls,
            throttled,
            ..Measured::default()
        }
    }

    /// Changes SWR behind everybody's back: deletes the missing tasks, adds the foreign ones.
    async fn swr_drift(&self, drift: &Drift) {
        let swr = cloud::swr_client(&self.emulator, Some(fleet::PROJECT_ID), self.args.qps / 2.0);
        let work: Vec<(bool, Task)> = drift
            .missing
            .iter()
            .map(|t| (false, t.clone()))
            .chain(drift.foreign.iter().map(|t| (true, t.clone())))
            .collect();
        for_each_parallel(work, 8, |(create, (org, repo, region, target_org))| {
            let swr = swr.clone();
            async move {
                let source = SourceRepo::new(fleet::SOURCE_REGION, &org, &repo).unwrap();
                let result = if create {
                    let body = CreateSyncTask {
                        remote_region_id: region,
                        remote_namespace: target_org,
                        sync_auto: true,
                        override_existing: false,
                    };
                    swr.create_sync_task(&source, &body).await
                } else {
                    let target = SyncTarget {
                        remote_region_id: region,
                        remote_namespace: target_org,
                    };
                    swr.delete_sync_task(&source, &target).await.map(|_| ())
                };
                result.expect("changing SWR for the drift scenario");
            }
        })
        .await;
    }
}

/// The kinds the operator may write (its RBAC): the API server's own start-up writes
/// (roles, service accounts...) land in the same counters and are left out.
fn operator_kinds(writes: BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    const KINDS: [&str; 4] = [
        "imagesyncrules",
        "imagesyncrules/status",
        "events",
        "leases",
    ];
    writes
        .into_iter()
        .filter(|(kind, _)| KINDS.contains(&kind.as_str()))
        .collect()
}
