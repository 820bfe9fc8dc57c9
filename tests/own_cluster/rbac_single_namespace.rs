//! Single-namespace mode on a real kube-apiserver: the `single-namespace` example overlay is
//! applied, the operator runs with its ServiceAccount's real token watching only
//! `swr-sync-system`, reconciles a rule there, and is refused rules and Secrets anywhere
//! else. (On an API server of its own: it has no ClusterRoleBinding at all.)

use std::path::Path;

use testkit::cluster;
use testkit::operator::Env;
use testkit::rbac::{assert_the_operator_works_in_its_namespace_only, kubectl_apply, Installed};

#[tokio::test]
async fn the_operator_works_in_its_namespace_and_nowhere_else() {
    let _server = cluster::own();
    let mut env = Env::without_operator("single").await;
    let overlay =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples/overlays/single-namespace");
    kubectl_apply("-k", &overlay);
    let installed = Installed {
        namespace: "swr-sync-system",
        service_account: "swr-sync-operator",
    };
    assert_the_operator_works_in_its_namespace_only(&mut env, &installed).await;
}
