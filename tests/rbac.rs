//! Least privilege, shown on a real kube-apiserver: `deploy/install.yaml` is applied, the
//! operator binary runs with a real token of its ServiceAccount and does its whole job (a
//! rule made Ready, events, the Lease, a deletion through the finalizer) with those rights,
//! and the same token is refused everything beyond them.

mod support;

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;
use support::cluster;
use support::operator::{spec, Env, EAST_DR};
use support::process::OperatorProcess;
use support::rbac::{
    assert_forbidden, assert_never_refused, delete_through_finalizer, kubectl_apply,
};
use swr_sync_operator::api::ImageSyncRule;

const SYSTEM_NS: &str = "swr-sync-system";
const SERVICE_ACCOUNT: &str = "swr-sync-operator";

/// What the ServiceAccount must not do, each tried for real.
async fn assert_refused_beyond_its_rights(sa: &Client, ns: &str) {
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
    let deployments: Api<Deployment> = Api::namespaced(sa.clone(), SYSTEM_NS);
    assert_forbidden(
        "patch its own Deployment",
        deployments
            .patch(SERVICE_ACCOUNT, &PatchParams::default(), &label)
            .await,
    );
    let crds: Api<CustomResourceDefinition> = Api::all(sa.clone());
    assert_forbidden(
        "delete the CRD",
        crds.delete("imagesyncrules.swrsync.io", &DeleteParams::default())
            .await,
    );
}

#[tokio::test]
async fn the_operator_works_with_exactly_the_installed_rights() {
    let env = Env::without_operator("rbac").await;
    kubectl_apply(
        "-f",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/install.yaml"),
    );
    let kubeconfig =
        cluster::service_account_kubeconfig(&env.client, SYSTEM_NS, SERVICE_ACCOUNT).await;
    let sa = cluster::client_from(&kubeconfig).await;
    env.create_secret("swr-credentials").await;

    // All namespaces, the Lease in its own: as the Deployment runs it.
    let operator = OperatorProcess::start(
        "rbac-operator",
        &kubeconfig,
        &env.emulator.endpoint_template(),
        &["--leader-election-namespace", SYSTEM_NS],
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
    let lease = Api::<Lease>::namespaced(env.client.clone(), SYSTEM_NS)
        .get(SERVICE_ACCOUNT)
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
    delete_through_finalizer(&env, "web").await;
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
        !log.contains(support::operator::SECRET_KEY),
        "the operator logged the SK"
    );
    assert_refused_beyond_its_rights(&sa, &env.ns).await;
}
