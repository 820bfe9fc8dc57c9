//! A real kube-apiserver for tests: `SWR_TEST_KUBECONFIG` names an existing cluster, or the
//! project's script starts one (once per test binary) on loopback. A watchdog stops it when
//! the test process exits. Absent prerequisites fail loudly; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, CustomResourceExt};
use swr_sync_operator::api::ImageSyncRule;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of the kubeconfig to use, starting a local API server on first use.
// The watchdog process is meant to outlive the test binary, so it is never waited for.
#[allow(clippy::zombie_processes)]
fn kubeconfig_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("SWR_TEST_KUBECONFIG") {
            return PathBuf::from(path);
        }
        let state = std::env::temp_dir().join(format!(
            "swr-sync-apiserver-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        ));
        let script = repo_root().join("hack/kube-apiserver/start.sh");
        let started = Instant::now();
        let out = Command::new(&script).arg(&state).output().unwrap_or_else(|e| {
            panic!("cannot run {} ({e}); the integration tests need a real API server", script.display())
        });
        assert!(
            out.status.success(),
            "starting the test API server failed (run hack/kube-apiserver/install.sh first, or set \
             SWR_TEST_KUBECONFIG to an existing cluster):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("test API server ready in {:.1}s", started.elapsed().as_secs_f64());
        // Stops the API server once this test process is gone; it outlives us on purpose.
        let stop = repo_root().join("hack/kube-apiserver/stop.sh");
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {} 2>/dev/null; do sleep 1; done; '{}' '{}' >/dev/null 2>&1; rm -rf '{}'",
                std::process::id(),
                stop.display(),
                state.display(),
                state.display()
            ))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting the API server watchdog");
        let path = String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or_default().to_string();
        PathBuf::from(path)
    })
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
