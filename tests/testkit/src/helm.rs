//! The real Helm engine for the chart's tests: helm-python-sdk (Helm v4.2.3's Go SDK as a C
//! library), installed by `hack/helm/venv.sh` and driven through `hack/helm/helm.py`.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::installed;
use crate::manifests::documents;
use crate::python::run_json_with;
use crate::root;

/// The chart's directory.
pub fn chart() -> PathBuf {
    root().join("deploy/helm/swr-sync-operator")
}

/// What Helm answered when it refused a request.
#[derive(Debug)]
pub struct Refusal {
    /// The helm_python exception class (e.g. `HelmValuesError`).
    pub kind: String,
    /// Helm's own message.
    pub message: String,
}

/// Sends one request to the Helm driver (`hack/helm/helm.py`); `chart` defaults to the
/// project's chart.
pub fn request(mut req: Value) -> Result<Value, Refusal> {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    let python = PYTHON.get_or_init(|| {
        installed(
            "hack/helm/venv.sh",
            "helm-python-sdk (the Helm engine the chart's tests need)",
        )
    });
    if req.get("chart").is_none() {
        req["chart"] = json!(chart());
    }
    let answer = run_json_with(python, "hack/helm/helm.py", &req);
    match answer.get("error") {
        Some(error) => Err(Refusal {
            kind: error["kind"].as_str().unwrap_or_default().into(),
            message: error["message"].as_str().unwrap_or_default().into(),
        }),
        None => Ok(answer["ok"].clone()),
    }
}

/// The objects the chart renders for `values` as release `release` in `namespace`, in
/// template order; NOTES.txt is left out.
pub fn render_as(release: &str, namespace: &str, values: Value) -> Result<Vec<Value>, Refusal> {
    let templates = request(json!({
        "op": "render", "values": values, "release": release, "namespace": namespace,
    }))?;
    let mut templates: Vec<(&String, &Value)> = templates
        .as_object()
        .expect("render answers a map of templates")
        .iter()
        .filter(|(name, _)| !name.ends_with("NOTES.txt"))
        .collect();
    templates.sort_by_key(|(name, _)| name.as_str());
    Ok(templates
        .into_iter()
        .flat_map(|(_, manifest)| documents(manifest.as_str().unwrap_or_default()))
        .collect())
}

/// The objects the chart renders for `values`, as release swr-sync-operator in
/// swr-sync-system (the names and namespace deploy/ uses).
pub fn render(values: Value) -> Vec<Value> {
    render_as("swr-sync-operator", "swr-sync-system", values)
        .unwrap_or_else(|r| panic!("the chart refused the values: {r:?}"))
}

/// NOTES.txt as rendered for `values`.
pub fn notes(values: Value) -> String {
    let templates = request(json!({"op": "render", "values": values}))
        .unwrap_or_else(|r| panic!("the chart refused the values: {r:?}"));
    templates["swr-sync-operator/templates/NOTES.txt"]
        .as_str()
        .expect("the chart has NOTES.txt")
        .to_string()
}

/// A Helm release on the test cluster (the admin kubeconfig), acted on by the real engine.
pub struct Release {
    /// The release's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
}

/// One revision in a release's history.
#[derive(Debug, PartialEq, Eq)]
pub struct Revision {
    /// The revision number.
    pub revision: u64,
    /// deployed, superseded, ...
    pub status: String,
}

impl Release {
    /// A release named `name` in `namespace` (nothing is installed yet).
    pub fn new(name: &str, namespace: &str) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
        }
    }

    /// Sends `op` for this release, off the async runtime (the emulator serves on it).
    async fn act(&self, op: &str, extra: Value) -> Result<Value, Refusal> {
        let mut req = json!({
            "op": op,
            "release": self.name,
            "namespace": self.namespace,
            "kubeconfig": crate::cluster::kubeconfig(),
        });
        for (key, value) in extra.as_object().into_iter().flatten() {
            req[key] = value.clone();
        }
        tokio::task::spawn_blocking(move || request(req))
            .await
            .expect("the Helm driver ran")
    }

    /// `helm install --create-namespace` with `values`; returns the release Helm reports.
    pub async fn install(&self, values: Value) -> Value {
        self.act(
            "install",
            json!({"values": values, "create_namespace": true}),
        )
        .await
        .unwrap_or_else(|r| panic!("helm install {} failed: {r:?}", self.name))
    }

    /// `helm upgrade` with `values` (they replace the previous ones).
    pub async fn upgrade(&self, values: Value) -> Value {
        self.act("upgrade", json!({"values": values}))
            .await
            .unwrap_or_else(|r| panic!("helm upgrade {} failed: {r:?}", self.name))
    }

    /// `helm rollback` to `revision`.
    pub async fn rollback(&self, revision: u64) {
        self.act("rollback", json!({"version": revision}))
            .await
            .unwrap_or_else(|r| panic!("helm rollback {} failed: {r:?}", self.name));
    }

    /// `helm uninstall`; returns Helm's info line (what it kept).
    pub async fn uninstall(&self) -> String {
        let answer = self
            .act("uninstall", json!({}))
            .await
            .unwrap_or_else(|r| panic!("helm uninstall {} failed: {r:?}", self.name));
        answer["info"].as_str().unwrap_or_default().to_string()
    }

    /// `helm history`, oldest first; Err when Helm knows no such release.
    pub async fn history(&self) -> Result<Vec<Revision>, Refusal> {
        let revisions = self.act("history", json!({})).await?;
        Ok(revisions
            .as_array()
            .expect("history is a list")
            .iter()
            .map(|r| Revision {
                revision: r["revision"].as_u64().expect("a revision number"),
                status: r["status"].as_str().unwrap_or_default().into(),
            })
            .collect())
    }

    /// Asserts the history as (revision, status) pairs.
    pub async fn assert_history(&self, expected: &[(u64, &str)]) {
        let history = self
            .history()
            .await
            .unwrap_or_else(|r| panic!("helm history {} failed: {r:?}", self.name));
        let expected: Vec<Revision> = expected
            .iter()
            .map(|(revision, status)| Revision {
                revision: *revision,
                status: status.to_string(),
            })
            .collect();
        assert_eq!(history, expected, "the history of release {}", self.name);
    }
}
