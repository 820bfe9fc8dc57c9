//! A real kube-apiserver for tests. A test binary's tests share one: `SWR_TEST_KUBECONFIG`
//! names an existing cluster, or the project's script starts one on loopback on first use.
//! A test that installs cluster-wide objects takes a server of its own instead ([`own`]).
//! A watchdog stops every server when the test process exits. Absent prerequisites fail
//! loudly; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, CustomResourceExt};
use swr_sync_operator::api::ImageSyncRule;

/// The kubeconfig of the server held by an [`OwnServer`], while one is.
static OWNED: Mutex<Option<&'static Path>> = Mutex::new(None);
/// Tests that own a server take turns: the helpers below talk to one server at a time.
static TURN: Mutex<()> = Mutex::new(());
/// The server this process's tests share, once one is used.
static SHARED: OnceLock<PathBuf> = OnceLock::new();
/// Whether a test of this process ever owned a server: then none may use a shared one.
static OWNING: AtomicBool = AtomicBool::new(false);

fn locked<T>(mutex: &'static Mutex<T>) -> MutexGuard<'static, T> {
    // A test that panicked while holding the lock leaves nothing half-done behind it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Path of the kubeconfig to use: the owned server's while a test holds one, else the
/// shared one, started on first use.
fn kubeconfig_path() -> &'static Path {
    if let Some(owned) = *locked(&OWNED) {
        return owned;
    }
    // A test of a binary whose tests own their servers, talking to the cluster before it
    // took its own, would otherwise get a shared server no one asked for.
    assert!(
        !OWNING.load(Ordering::SeqCst),
        "this test binary's tests each own an API server: call cluster::own() first"
    );
    SHARED.get_or_init(|| match std::env::var_os("SWR_TEST_KUBECONFIG") {
        Some(path) => PathBuf::from(path),
        None => start(
            &state_dir("shared"),
            "run hack/kube-apiserver/install.sh first, or set SWR_TEST_KUBECONFIG to an existing \
             cluster",
        ),
    })
}

/// A fresh directory name for a server's state.
fn state_dir(role: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "swr-sync-apiserver-{}-{role}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    ))
}

/// Starts a control plane with its state in `state`; returns its admin kubeconfig. A failure
/// says what went wrong and `remedy`.
// The watchdog process is meant to outlive the test binary, so it is never waited for.
#[allow(clippy::zombie_processes)]
fn start(state: &Path, remedy: &str) -> PathBuf {
    let script = crate::root().join("hack/kube-apiserver/start.sh");
    let started = Instant::now();
    let out = Command::new(&script)
        .arg(state)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); the integration tests need a real API server",
                script.display()
            )
        });
    assert!(
        out.status.success(),
        "starting the test API server failed ({remedy}):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "test API server ready in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    // Stops the API server once this test process is gone; it outlives us on purpose.
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; '{}' '{}' >/dev/null 2>&1; rm -rf '{}'",
            std::process::id(),
            stop_script().display(),
            state.display(),
            state.display()
        ))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting the API server watchdog");
    let path = String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    PathBuf::from(path)
}

fn stop_script() -> PathBuf {
    crate::root().join("hack/kube-apiserver/stop.sh")
}

/// A test's own API server: while it is held, every helper of this module (and so every
/// `Env`, kubectl call and Helm release) talks to it, and other tests that want one wait
/// their turn. Dropping it stops the server. Only for binaries whose tests all own one
/// (`tests/own_cluster`): a test sharing the binary's server would be redirected too, so
/// both [`own`] and the shared server's first use refuse to mix them.
/// `SWR_TEST_KUBECONFIG` does not apply: the point is a server no other test touched.
#[must_use = "the server stops when this is dropped: keep it in a named binding"]
pub struct OwnServer {
    state: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

/// Starts an API server of the calling test's own (see [`OwnServer`]).
pub fn own() -> OwnServer {
    assert!(
        SHARED.get().is_none(),
        "this test binary's tests share an API server: cluster::own() would redirect them"
    );
    OWNING.store(true, Ordering::SeqCst);
    let turn = locked(&TURN);
    let state = state_dir("own");
    let kubeconfig = start(&state, "run hack/kube-apiserver/install.sh first");
    *locked(&OWNED) = Some(Box::leak(kubeconfig.into_boxed_path()));
    OwnServer { state, _turn: turn }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        *locked(&OWNED) = None;
        let _ = Command::new(stop_script()).arg(&self.state).output();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// Path of the test cluster's admin kubeconfig (for processes and kubectl).
pub fn kubeconfig() -> &'static Path {
    kubeconfig_path()
}

/// Runs kubectl with `args` against the test cluster (admin rights); panics with its
/// message when it fails.
pub fn kubectl(args: &[&str]) {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig())
        .output()
        .expect("kubectl is needed (hack/kube-apiserver/install.sh installs it)");
    assert!(
        out.status.success(),
        "kubectl {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client of the test cluster (admin rights).
pub async fn client() -> Client {
    client_from(kubeconfig_path()).await
}

/// A client for the kubeconfig at `path`.
pub async fn client_from(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("reading kubeconfig {}: {e}", path.display()));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig is usable");
    Client::try_from(config).expect("client")
}

/// A kubeconfig that authenticates as ServiceAccount `namespace/name` with a real token
/// from the TokenRequest API, exactly as a pod of that ServiceAccount would.
pub async fn service_account_kubeconfig(client: &Client, namespace: &str, name: &str) -> PathBuf {
    let request: TokenRequest = serde_json::from_value(serde_json::json!({
        "spec": {"audiences": [], "expirationSeconds": 3600}
    }))
    .unwrap();
    let token = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .expect("requesting a ServiceAccount token")
        .status
        .and_then(|s| s.token)
        .expect("a token in the TokenRequest response");
    let admin = std::fs::read_to_string(kubeconfig_path()).expect("reading the admin kubeconfig");
    // start.sh writes one user with a static token; swap it for the ServiceAccount's.
    let config: String = admin
        .lines()
        .map(|line| match line.trim_start().strip_prefix("token: ") {
            Some(_) => format!("    token: {token}"),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        config.contains(&token),
        "admin kubeconfig has no token line"
    );
    let path = kubeconfig_path().with_file_name(format!("{namespace}-{name}.kubeconfig"));
    std::fs::write(&path, config).expect("writing the ServiceAccount kubeconfig");
    path
}

/// Installs (or updates) the CRD and waits until it is served.
pub async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = ImageSyncRule::crd();
    crds.patch(
        "imagesyncrules.swrsync.io",
        &PatchParams::apply("swr-sync-tests").force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("applying the CRD");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let established = crds
            .get("imagesyncrules.swrsync.io")
            .await
            .ok()
            .and_then(|c| c.status)
            .and_then(|s| s.conditions)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if established {
            break;
        }
        assert!(Instant::now() < deadline, "CRD not established within 30s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a fresh namespace with a unique name.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let name = format!(
        "{prefix}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("creating a namespace");
    name
}
