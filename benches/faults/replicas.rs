//! The operator replicas of a schedule, and the faults that hit the processes, SWR and the
//! API server: shared by both fleets of the campaign.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::schedule::Fault;
use testkit::cloud::Admin;
use testkit::cluster;
use testkit::process::{binary, OperatorProcess};

/// Which rules the replicas watch, and where their Lease is.
pub enum Scope {
    /// One namespace (rules and Lease).
    Namespace(String),
    /// Every namespace, rules with this label selector; the Lease in the namespace given.
    Labelled {
        /// Lease namespace.
        lease: String,
        /// Label selector.
        selector: String,
    },
}

/// Operator processes (two, between faults) and the emulator's fault switch.
pub struct Replicas {
    scope: Scope,
    endpoint: String,
    /// Running processes.
    pub list: Vec<OperatorProcess>,
    started: usize,
    /// The emulator's admin API.
    pub admin: Admin,
    /// When the SWR faults in force end.
    faults_until: Option<Instant>,
}

impl Replicas {
    /// Two replicas for `scope` against the emulator at `endpoint`.
    pub fn start(scope: Scope, endpoint: String, admin: Admin) -> Self {
        let mut replicas = Self {
            scope,
            endpoint,
            list: Vec::new(),
            started: 0,
            admin,
            faults_until: None,
        };
        replicas.fill();
        replicas
    }

    /// Starts replicas until there are two.
    pub fn fill(&mut self) {
        while self.list.len() < 2 {
            self.start_one();
        }
    }

    fn start_one(&mut self) {
        self.started += 1;
        let name = format!("replica-{}", self.started);
        let args = [
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
        ];
        let binary = binary();
        let replica = match &self.scope {
            Scope::Namespace(ns) => {
                OperatorProcess::start_in(binary, &name, ns, &self.endpoint, &args)
            }
            Scope::Labelled { lease, selector } => OperatorProcess::start_labelled(
                binary,
                &name,
                (lease, selector),
                &self.endpoint,
                &args,
            ),
        };
        self.list.push(replica);
    }

    /// Index of the leading replica (waits up to 10 s for one), else the first.
    pub async fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            for (i, replica) in self.list.iter().enumerate() {
                if replica.is_leader().await {
                    return i;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        0
    }

    /// SIGKILLs the leader and starts a replacement.
    pub async fn kill_leader(&mut self) {
        let leader = self.leader().await;
        self.list.remove(leader).kill();
        self.start_one();
    }

    /// Sets the emulator's faults (ending any window in force).
    pub async fn set_faults(&mut self, spec: Value) {
        self.admin.set_faults(spec).await;
        self.faults_until = None;
    }

    /// Turns the SWR faults off if their window is over.
    pub async fn expire_faults(&mut self) {
        if self.faults_until.is_some_and(|t| Instant::now() >= t) {
            self.set_faults(json!({})).await;
        }
    }

    /// Calls of one operation so far, any status.
    pub async fn calls_of(&self, operation: &str) -> u64 {
        let calls = self.admin.calls().await;
        calls
            .iter()
            .filter(|((op, _), _)| op == operation)
            .map(|(_, n)| n)
            .sum()
    }

    /// Injects `fault` if it is one of the kinds every fleet shares; says whether it was.
    pub async fn inject(&mut self, fault: &Fault) -> bool {
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
            Fault::KillLeader => self.kill_leader().await,
            Fault::HandOver => {
                let leader = self.leader().await;
                let mut stopping = self.list.remove(leader);
                stopping.terminate(Duration::from_secs(30)).await;
                self.start_one();
            }
            Fault::RestartApiServer => restart_apiserver(cluster::kubeconfig()).await,
            _ => return false,
        }
        true
    }

    /// Holds SWR's answer to creates, runs `provoke` (which makes the operator create a
    /// task), and SIGKILLs the leader as soon as SWR has the create: the task exists, the
    /// status does not say so.
    pub async fn kill_after_create(&mut self, provoke: impl std::future::Future<Output = bool>) {
        let op = "swr.create_sync_task";
        self.set_faults(json!({"latency": 3000, "operations": [op]}))
            .await;
        let before = self.calls_of(op).await;
        if provoke.await {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.calls_of(op).await == before && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            self.kill_leader().await;
        }
        self.set_faults(json!({})).await;
    }

    /// Prints the replicas' logs (after a violation).
    pub fn dump_logs(&self) {
        for replica in &self.list {
            eprintln!(
                "----- log of {} -----\n{}",
                replica.name,
                replica.log_tail(40)
            );
        }
    }

    /// Stops every replica.
    pub async fn stop(&mut self) {
        for mut replica in self.list.drain(..) {
            replica.terminate(Duration::from_secs(30)).await;
        }
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
pub async fn retry<F, Fut, T, E>(what: &str, mut call: F) -> T
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
