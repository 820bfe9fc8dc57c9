//! RBAC checks against the test cluster: applying manifests, asserting refusals, and the
//! operator binary run with a real token of an installed ServiceAccount (whether kubectl or
//! Helm installed it) doing its whole job and nothing more.

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;
use swr_sync_operator::api::ImageSyncRule;

use crate::cluster;
use crate::operator::{spec, Env, EAST_DR};
use crate::process::OperatorProcess;

/// The operator's default Lease name.
const LEASE: &str = "swr-sync-operator";

/// An installed operator: the namespace of its ServiceAccount (and Deployment, and Lease),
/// and the name of its ServiceAccount (and Deployment).
pub struct Installed<'a> {
    /// The operator's own namespace.
    pub namespace: &'a str,
    /// Its ServiceAccount's name, which is also its Deployment's.
    pub service_account: &'a str,
}

/// `kubectl apply -f <file>` (or `-k <dir>` with `how = "-k"`) to the test cluster.
pub fn kubectl_apply(how: &str, file: &Path) {
    let file = file.to_str().expect("a UTF-8 path");
    cluster::kubectl(&["apply", "--server-side", "--force-conflicts", how, file]);
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

/// What the ServiceAccount must not do, each tried for real.
async fn assert_refused_beyond_its_rights(sa: &Client, ns: &str, installed: &Installed<'_>) {
    let pods: Api<Pod> = Api::namespaced(sa.clone(), ns);
    assert_forbidden("list pods", pods.list(&ListParams::default()).await);
    let config_maps: Api<ConfigMap> = Api::namespaced(sa.clone(), ns);
    assert_forbidden(
        "list configmaps",
        config_maps.list(&ListParams::default()).await,
    );
    let secrets: Api<Secret> = Api::namespaced(sa.clone(), ns);
    let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "stolen"}})).unwrap();
    assert_forbidden(
        "create a Secret",
        secrets.create(&PostParams::default(), &secret).await,
    );
    let label = Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}}));
    let mut current = secrets.get("swr-credentials").await.unwrap();
    current.metadata.labels = Some([("touched".to_string(), "yes".to_string())].into());
    assert_forbidden(
        "update a Secret",
        secrets
            .replace("swr-credentials", &PostParams::default(), &current)
            .await,
    );
    assert_forbidden(
        "delete a Secret",
        secrets
            .delete("swr-credentials", &DeleteParams::default())
            .await,
    );
    let rules: Api<ImageSyncRule> = Api::namespaced(sa.clone(), ns);
    assert_forbidden(
        "delete an ImageSyncRule",
        rules.delete("web", &DeleteParams::default()).await,
    );
    let rule: ImageSyncRule = serde_json::from_value(json!({
        "apiVersion": "swrsync.io/v1alpha1", "kind": "ImageSyncRule",
        "metadata": {"name": "sneaky"}, "spec": spec(&["nginx"], EAST_DR),
    }))
    .unwrap();
    assert_forbidden(
        "create an ImageSyncRule",
        rules.create(&PostParams::default(), &rule).await,
    );
    let leases_elsewhere: Api<Lease> = Api::namespaced(sa.clone(), ns);
    assert_forbidden(
        "list Leases outside its namespace",
        leases_elsewhere.list(&ListParams::default()).await,
    );
    let deployments: Api<Deployment> = Api::namespaced(sa.clone(), installed.namespace);
    assert_forbidden(
        "patch its own Deployment",
        deployments
            .patch(installed.service_account, &PatchParams::default(), &label)
            .await,
    );
    let crds: Api<CustomResourceDefinition> = Api::all(sa.clone());
    assert_forbidden(
        "delete the CRD",
        crds.delete("imagesyncrules.swrsync.io", &DeleteParams::default())
            .await,
    );
}

/// Runs the operator as its Deployment does (all namespaces, the Lease in its own
/// namespace) with a real token of the installed ServiceAccount, and shows that it does its
/// whole job with those rights (a rule made Ready, Events, the Lease, the Secret's finalizer,
/// a deletion through the rule's finalizer) and that the token is refused everything beyond.
pub async fn assert_the_operator_works_with_exactly_its_rights(
    env: &Env,
    installed: &Installed<'_>,
) {
    let kubeconfig = cluster::service_account_kubeconfig(
        &env.client,
        installed.namespace,
        installed.service_account,
    )
    .await;
    let sa = cluster::client_from(&kubeconfig).await;
    env.create_secret("swr-credentials").await;

    // All namespaces, the Lease in its own: as the Deployment runs it.
    let operator = OperatorProcess::start(
        "rbac-operator",
        &kubeconfig,
        &env.emulator.endpoint_template(),
        &["--leader-election-namespace", installed.namespace],
    );
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    assert_eq!(env.tasks().await.len(), 1);
    let events = Api::<Event>::namespaced(env.client.clone(), &env.ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("TaskCreated")),
        "the operator could not record events"
    );
    let lease = Api::<Lease>::namespaced(env.client.clone(), installed.namespace)
        .get(LEASE)
        .await
        .expect("the operator created its Lease");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("rbac-operator")
    );

    // The Secret is protected while the rule may still need it to delete its tasks...
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);
    let finalizers = |s: Secret| s.metadata.finalizers.unwrap_or_default();
    let protected = finalizers(secrets.get("swr-credentials").await.unwrap());
    assert_eq!(protected, ["swrsync.io/credentials-in-use"]);
    delete_through_finalizer(env, "web").await;
    // ...and released with the operator's own rights once no rule needs it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !finalizers(secrets.get("swr-credentials").await.unwrap()).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the Secret kept its finalizer"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let log = operator.log();
    assert_never_refused(&log);
    let token = std::fs::read_to_string(&kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: ").map(String::from))
        .unwrap();
    assert!(
        !log.contains(&token),
        "the operator logged its ServiceAccount token"
    );
    assert!(
        !log.contains(crate::operator::SECRET_KEY),
        "the operator logged the SK"
    );
    assert_refused_beyond_its_rights(&sa, &env.ns, installed).await;
}

/// Single-namespace mode: runs the operator with a real token of the installed
/// ServiceAccount watching only `installed.namespace`, reconciles a rule there, and shows that
/// the token is refused rules and Secrets anywhere else (`env.ns` on entry). Rules and
/// Secrets then live in the operator's namespace, so `env.ns` is switched to it.
pub async fn assert_the_operator_works_in_its_namespace_only(
    env: &mut Env,
    installed: &Installed<'_>,
) {
    let elsewhere = env.ns.clone();
    let kubeconfig = cluster::service_account_kubeconfig(
        &env.client,
        installed.namespace,
        installed.service_account,
    )
    .await;
    // In this mode rules and their Secrets live in the operator's namespace.
    env.ns = installed.namespace.into();
    env.create_secret("swr-credentials").await;
    let operator = OperatorProcess::start(
        "single-namespace-operator",
        &kubeconfig,
        &env.emulator.endpoint_template(),
        &[
            "--namespace",
            installed.namespace,
            "--leader-election-namespace",
            installed.namespace,
        ],
    );
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    delete_through_finalizer(env, "web").await;
    assert_never_refused(&operator.log());

    let sa = cluster::client_from(&kubeconfig).await;
    let list = ListParams::default();
    assert_forbidden(
        "list rules in all namespaces",
        Api::<ImageSyncRule>::all(sa.clone()).list(&list).await,
    );
    assert_forbidden(
        "list rules in another namespace",
        Api::<ImageSyncRule>::namespaced(sa.clone(), &elsewhere)
            .list(&list)
            .await,
    );
    assert_forbidden(
        "read Secrets in another namespace",
        Api::<Secret>::namespaced(sa.clone(), &elsewhere)
            .list(&list)
            .await,
    );
}
