//! Moving an install from kustomize to the Helm chart, as the README says, on a real
//! kube-apiserver: the CRD is adopted into the release (never deleted, which would delete
//! every rule), the rest of the kustomize install is removed and the chart installed; the
//! rules and the CRD are the same objects afterwards. (On an API server of its own: it starts
//! from a cluster where kubectl, not Helm, created the CRD.)

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use serde_json::json;
use testkit::cluster::{self, kubectl};
use testkit::helm::Release;
use testkit::operator::{spec, Env, EAST_DR};
use testkit::rbac::kubectl_apply;

const CRD: &str = "imagesyncrules.swrsync.io";

#[tokio::test]
async fn a_kustomize_install_moves_to_helm_without_losing_a_rule() {
    let _server = cluster::own();
    kubectl_apply(
        "-f",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/install.yaml"),
    );
    let env = Env::without_operator("migrate").await;
    let rule = env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    let crds = Api::<CustomResourceDefinition>::all(env.client.clone());
    let crd_before = crds.get(CRD).await.unwrap();

    // The README's steps, verbatim.
    kubectl(&[
        "annotate",
        "crd",
        CRD,
        "meta.helm.sh/release-name=swr-sync-operator",
        "meta.helm.sh/release-namespace=swr-sync-system",
    ]);
    kubectl(&["label", "crd", CRD, "app.kubernetes.io/managed-by=Helm"]);
    kubectl(&[
        "-n",
        "swr-sync-system",
        "delete",
        "deployment,service,serviceaccount,role,rolebinding",
        "-l",
        "app.kubernetes.io/part-of=swr-sync-operator",
    ]);
    kubectl(&[
        "delete",
        "clusterrole,clusterrolebinding",
        "-l",
        "app.kubernetes.io/part-of=swr-sync-operator",
    ]);
    let release = Release::new("swr-sync-operator", "swr-sync-system");
    let installed = release.install(json!({})).await;
    assert_eq!(installed["status"], "deployed");

    let crd_after = crds.get(CRD).await.unwrap();
    assert_eq!(
        crd_after.metadata.uid, crd_before.metadata.uid,
        "the CRD was re-created"
    );
    assert_eq!(
        crd_after.metadata.annotations.unwrap_or_default()["helm.sh/resource-policy"],
        "keep",
        "the release did not take the CRD over"
    );
    let kept = env
        .rules()
        .get("web")
        .await
        .expect("the rule survived the move");
    assert_eq!(kept.metadata.uid, rule.metadata.uid);
    let deployment = Api::<Deployment>::namespaced(env.client.clone(), "swr-sync-system")
        .get("swr-sync-operator")
        .await
        .expect("the chart's Deployment");
    assert_eq!(
        deployment.metadata.labels.unwrap_or_default()["app.kubernetes.io/managed-by"],
        "Helm"
    );
    // And the release owns the CRD from now on: uninstalling keeps it, and the rule.
    let info = release.uninstall().await;
    assert!(info.contains(CRD), "{info}");
    assert!(crds.get_opt(CRD).await.unwrap().is_some());
    assert!(env.rules().get_opt("web").await.unwrap().is_some());
}
