//! Least privilege, shown on a real kube-apiserver: `deploy/install.yaml` is applied, the
//! operator binary runs with a real token of its ServiceAccount and does its whole job (a
//! rule made Ready, events, the Lease, a deletion through the finalizer) with those rights,
//! and the same token is refused everything beyond them. (On an API server of its own: the
//! install is cluster-wide, and its operator watches every namespace.)

use std::path::Path;

use testkit::cluster;
use testkit::operator::Env;
use testkit::rbac::{assert_the_operator_works_with_exactly_its_rights, kubectl_apply, Installed};

#[tokio::test]
async fn the_operator_works_with_exactly_the_installed_rights() {
    let _server = cluster::own();
    let env = Env::without_operator("rbac").await;
    kubectl_apply(
        "-f",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/install.yaml"),
    );
    let installed = Installed {
        namespace: "swr-sync-system",
        service_account: "swr-sync-operator",
    };
    assert_the_operator_works_with_exactly_its_rights(&env, &installed).await;
}
