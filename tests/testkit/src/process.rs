//! The operator as a separate process (the real binary), as a Deployment's pods run it:
//! started against the test cluster and an emulator, scraped over HTTP, killed or stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The operator binary this build made: cargo builds it beside the test or bench binary
/// that runs (`target/<profile>/`, one level above that binary's `deps/`), so it is found
/// from the running executable.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let running = std::env::current_exe().expect("the running test's path");
        let profile_dir = running
            .parent()
            .and_then(Path::parent)
            .expect("a test binary under target/<profile>/deps");
        let binary = profile_dir.join(format!("swr-sync-operator{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.is_file(),
            "the operator binary is not at {} (run the tests and benches through cargo, which \
             builds it)",
            binary.display()
        );
        binary
    })
}

/// A running `swr-sync-operator run`.
pub struct OperatorProcess {
    /// Identity in the Lease (`POD_NAME`).
    pub name: String,
    child: Child,
    metrics: String,
    log: PathBuf,
}

/// A free port on 127.0.0.1 (released before the process that is given it binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl OperatorProcess {
    /// Starts `run` with the cluster credentials in `kubeconfig`, the emulator at
    /// `endpoint` for every cloud service, and `args` (namespaces, lease timing...).
    pub fn start(name: &str, kubeconfig: &Path, endpoint: &str, args: &[&str]) -> Self {
        let binary = binary();
        Self::start_logging(binary, "debug", name, kubeconfig, endpoint, args)
    }

    /// `binary` (normally [`binary()`]) for the test cluster's namespace `ns` (its Lease there
    /// too), logging at info as production does: benchmarks and campaigns, where debug logs
    /// would cost.
    pub fn start_in(binary: &Path, name: &str, ns: &str, endpoint: &str, args: &[&str]) -> Self {
        let scope = ["--namespace", ns, "--leader-election-namespace", ns];
        Self::start_scoped(binary, name, &scope, endpoint, args)
    }

    /// As [`Self::start_in`], but watching every namespace for the rules labelled
    /// `selector`, with the Lease in `lease_ns`.
    pub fn start_labelled(
        binary: &Path,
        name: &str,
        (lease_ns, selector): (&str, &str),
        endpoint: &str,
        args: &[&str],
    ) -> Self {
        let scope = [
            "--label-selector",
            selector,
            "--leader-election-namespace",
            lease_ns,
        ];
        Self::start_scoped(binary, name, &scope, endpoint, args)
    }

    fn start_scoped(
        binary: &Path,
        name: &str,
        scope: &[&str],
        endpoint: &str,
        args: &[&str],
    ) -> Self {
        let args: Vec<&str> = scope.iter().chain(args).copied().collect();
        let kubeconfig = crate::cluster::kubeconfig();
        Self::start_logging(binary, "info", name, kubeconfig, endpoint, &args)
    }

    fn start_logging(
        binary: &Path,
        level: &str,
        name: &str,
        kubeconfig: &Path,
        endpoint: &str,
        args: &[&str],
    ) -> Self {
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("swr-sync-{name}-{}-{port}.log", std::process::id()));
        let file = std::fs::File::create(&log).expect("creating the log file");
        let child = Command::new(binary)
            .args(["--log-format", "json", "--log-level", level, "run"])
            .args(["--swr-endpoint", endpoint, "--hss-endpoint", endpoint])
            .args(["--iam-endpoint", endpoint])
            .args(["--metrics-address", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAME", name)
            .env_remove("SWR_SYNC_LOG")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("starting the operator binary");
        Self {
            name: name.into(),
            child,
            metrics: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// `host:port` of its metrics server, as a Prometheus scrape target.
    pub fn metrics_target(&self) -> String {
        self.metrics.trim_start_matches("http://").to_string()
    }

    /// GET a path of the health/metrics server: (status, body), or None if it is not up.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::get(format!("{}{path}", self.metrics)).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.get("/readyz").await.map(|(s, _)| s) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "{} not ready within 30s; log:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The scraped metrics: series (name with labels, as exported) → value.
    pub async fn metrics(&self) -> BTreeMap<String, f64> {
        let (status, body) = self
            .get("/metrics")
            .await
            .expect("metrics endpoint answers");
        assert_eq!(status, 200, "{body}");
        crate::metrics::parse(&body)
    }

    /// Whether this process currently leads (its `swr_sync_leader` gauge).
    pub async fn is_leader(&self) -> bool {
        self.get("/metrics").await.is_some_and(|(_, body)| {
            crate::metrics::parse(&body).get("swr_sync_leader") == Some(&1.0)
        })
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory (VmHWM) in bytes, read from /proc.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// SIGKILL, as a crashed node or OOM kill stops a pod.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as the kubelet stops a pod; returns how long the process took to exit.
    /// Waits asynchronously: the emulator the process talks to may run on this runtime.
    pub async fn terminate(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed");
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the operator") {
                assert!(status.success(), "{} exited with {status}", self.name);
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "{} still running {limit:?} after SIGTERM",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last `lines` lines the process logged.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
