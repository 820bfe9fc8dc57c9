//! Single-namespace mode on a real kube-apiserver: the `single-namespace` example overlay is
//! applied, the operator runs with its ServiceAccount's real token watching only
//! `swr-sync-system`, reconciles a rule there, and is refused rules and Secrets anywhere
//! else. (A test binary of its own: its API server has no ClusterRoleBinding at all.)

mod support;

use std::path::Path;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use support::cluster;
use support::operator::{spec, Env, EAST_DR};
use support::process::OperatorProcess;
use support::rbac::{
    assert_forbidden, assert_never_refused, delete_through_finalizer, kubectl_apply,
};
use swr_sync_operator::api::ImageSyncRule;

const SYSTEM_NS: &str = "swr-sync-system";

#[tokio::test]
async fn the_operator_works_in_its_namespace_and_nowhere_else() {
    let mut env = Env::without_operator("single").await;
    let elsewhere = env.ns.clone();
    let overlay =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples/overlays/single-namespace");
    kubectl_apply("-k", &overlay);
    let kubeconfig =
        cluster::service_account_kubeconfig(&env.client, SYSTEM_NS, "swr-sync-operator").await;
    // In this mode rules and their Secrets live in the operator's namespace.
    env.ns = SYSTEM_NS.into();
    env.create_secret("swr-credentials").await;
    let operator = OperatorProcess::start(
        "single-namespace-operator",
        &kubeconfig,
        &env.emulator.endpoint_template(),
        &[
            "--namespace",
            SYSTEM_NS,
            "--leader-election-namespace",
            SYSTEM_NS,
        ],
    );
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    delete_through_finalizer(&env, "web").await;
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
