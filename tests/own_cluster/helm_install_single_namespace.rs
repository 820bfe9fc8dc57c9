//! The chart in single-namespace mode (`rbac.scope: namespace`) on a real kube-apiserver: it
//! installs nothing cluster-wide but the CRD, the operator run with the installed
//! ServiceAccount's own token reconciles a rule in its namespace and is refused rules and
//! Secrets anywhere else, and uninstalling removes its Role. (On an API server of its own:
//! the chart creates the CRD.)

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role};
use kube::api::{Api, ListParams};
use serde_json::json;
use testkit::cluster;
use testkit::helm::Release;
use testkit::operator::Env;
use testkit::rbac::{assert_the_operator_works_in_its_namespace_only, Installed};

const NS: &str = "swr-sync-system";
const NAME: &str = "swr-sync-operator";

#[tokio::test]
async fn the_namespace_scoped_release_works_in_its_namespace_only() {
    let _server = cluster::own();
    let client = cluster::client().await;
    let release = Release::new(NAME, NS);
    release
        .install(json!({"rbac": {"scope": "namespace"}}))
        .await;
    release.assert_history(&[(1, "deployed")]).await;
    let mine = ListParams::default().labels(&format!("app.kubernetes.io/instance={NAME}"));
    let cluster_roles = Api::<ClusterRole>::all(client.clone())
        .list(&mine)
        .await
        .unwrap();
    let cluster_bindings = Api::<ClusterRoleBinding>::all(client.clone())
        .list(&mine)
        .await
        .unwrap();
    assert!(
        cluster_roles.items.is_empty() && cluster_bindings.items.is_empty(),
        "namespace scope installed cluster-wide RBAC"
    );
    let roles = Api::<Role>::namespaced(client.clone(), NS);
    assert!(roles.get_opt(NAME).await.unwrap().is_some(), "no Role");

    let mut env = Env::without_operator("helm-single").await;
    let account = Installed {
        namespace: NS,
        service_account: NAME,
    };
    assert_the_operator_works_in_its_namespace_only(&mut env, &account).await;

    release.uninstall().await;
    assert!(
        release.history().await.is_err(),
        "the release is still known"
    );
    assert!(
        roles.get_opt(NAME).await.unwrap().is_none(),
        "the Role was left behind"
    );
}
