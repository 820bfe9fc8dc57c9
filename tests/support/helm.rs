//! The real Helm engine for the chart's tests: helm-python-sdk (Helm v4.2.3's Go SDK as a C
//! library), installed by `hack/helm/venv.sh` and driven through `hack/helm/helm.py`.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::manifests::{documents, root};
use super::python::{run_json_with, venv_python};

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
        venv_python(
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
