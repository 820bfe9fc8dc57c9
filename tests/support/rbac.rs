//! RBAC checks against the test cluster: applying manifests, asserting refusals.

use std::path::Path;
use std::process::Command;

use super::cluster;
use super::operator::Env;

/// `kubectl apply -f <file>` (or `-k <dir>` with `how = "-k"`) to the test cluster.
pub fn kubectl_apply(how: &str, file: &Path) {
    let out = Command::new("kubectl")
        .args(["apply", "--server-side", "--force-conflicts", how])
        .arg(file)
        .env("KUBECONFIG", cluster::kubeconfig())
        .output()
        .expect("kubectl is needed to apply the install manifests (hack/kube-apiserver/install.sh installs it)");
    assert!(
        out.status.success(),
        "kubectl apply {how} {} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts that a call was refused by RBAC (403), not failed for another reason.
pub fn assert_forbidden<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) {
    match result {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

/// Deletes a rule and waits until the operator, through its finalizer, removed it and its
/// tasks: proof that it could patch the rule and call SWR with the rule's Secret.
pub async fn delete_through_finalizer(env: &Env, name: &str) {
    env.delete(name).await;
    env.wait_for(name, &format!("{name} deleted"), |r| r.is_none())
        .await;
    assert!(
        env.tasks().await.is_empty(),
        "the rule's tasks were not deleted"
    );
}

/// Asserts that the operator's log shows no refusal by the API server.
pub fn assert_never_refused(log: &str) {
    assert!(
        !log.contains("forbidden") && !log.contains("Forbidden"),
        "the operator was refused something it needs:\n{log}"
    );
}
