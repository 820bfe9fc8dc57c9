//! The chart's release lifecycle on a real kube-apiserver, by the real Helm engine: install
//! (the CRD, RBAC and workload exist, and the operator run with the installed
//! ServiceAccount's own token does its whole job and nothing more), upgrade (exactly the
//! changed fields change), rollback (they come back), uninstall (everything goes but the CRD,
//! kept by policy), with the release history checked at each step. On an API server of its
//! own: the chart must create the CRD, which a shared server already has.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::Client;
use serde_json::{json, Value};
use testkit::cluster;
use testkit::helm::Release;
use testkit::operator::Env;
use testkit::rbac::{assert_the_operator_works_with_exactly_its_rights, Installed};

const NS: &str = "swr-sync-system";
const NAME: &str = "swr-sync-operator";
const CRD: &str = "imagesyncrules.swrsync.io";

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serializable")
}

/// What the release installed, but the Deployment, as the API server holds it (the parts
/// that say what each object does).
async fn other_objects(client: &Client) -> BTreeMap<&'static str, Value> {
    let cluster_role = Api::<ClusterRole>::all(client.clone())
        .get(NAME)
        .await
        .unwrap();
    let cluster_binding = Api::<ClusterRoleBinding>::all(client.clone())
        .get(NAME)
        .await
        .unwrap();
    let lease_role = Api::<Role>::namespaced(client.clone(), NS)
        .get(&format!("{NAME}-leader-election"))
        .await
        .unwrap();
    let lease_binding = Api::<RoleBinding>::namespaced(client.clone(), NS)
        .get(&format!("{NAME}-leader-election"))
        .await
        .unwrap();
    let service = Api::<Service>::namespaced(client.clone(), NS)
        .get(&format!("{NAME}-metrics"))
        .await
        .unwrap();
    let account = Api::<ServiceAccount>::namespaced(client.clone(), NS)
        .get(NAME)
        .await
        .unwrap();
    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get(CRD)
        .await
        .unwrap();
    BTreeMap::from([
        ("ClusterRole", json(&cluster_role.rules)),
        (
            "ClusterRoleBinding",
            json(&(cluster_binding.role_ref, cluster_binding.subjects)),
        ),
        ("Role", json(&lease_role.rules)),
        (
            "RoleBinding",
            json(&(lease_binding.role_ref, lease_binding.subjects)),
        ),
        ("Service", json(&service.spec)),
        ("ServiceAccount", json(&account.metadata.uid)),
        ("CustomResourceDefinition", json(&crd.spec)),
    ])
}

/// The release's objects, but the CRD, still in the cluster (by kind).
async fn leftovers(client: &Client) -> Vec<String> {
    let lease = format!("{NAME}-leader-election");
    let metrics = format!("{NAME}-metrics");
    let objects = [
        (ApiResource::erase::<Deployment>(&()), true, NAME),
        (ApiResource::erase::<Service>(&()), true, metrics.as_str()),
        (ApiResource::erase::<ServiceAccount>(&()), true, NAME),
        (ApiResource::erase::<Role>(&()), true, lease.as_str()),
        (ApiResource::erase::<RoleBinding>(&()), true, lease.as_str()),
        (ApiResource::erase::<ClusterRole>(&()), false, NAME),
        (ApiResource::erase::<ClusterRoleBinding>(&()), false, NAME),
    ];
    let mut left = Vec::new();
    for (resource, namespaced, name) in objects {
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(client.clone(), NS, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        };
        if api.get_opt(name).await.unwrap().is_some() {
            left.push(format!("{} {name}", resource.kind));
        }
    }
    left
}

async fn deployment_spec(client: &Client) -> Value {
    let deployment = Api::<Deployment>::namespaced(client.clone(), NS)
        .get(NAME)
        .await
        .expect("the release's Deployment");
    serde_json::to_value(deployment.spec).unwrap()
}

/// The number of Helm's release records (`sh.helm.release.v1.<name>.v<revision>` Secrets).
async fn release_records(client: &Client) -> usize {
    Api::<Secret>::namespaced(client.clone(), NS)
        .list(&ListParams::default().labels(&format!("owner=helm,name={NAME}")))
        .await
        .unwrap()
        .items
        .len()
}

#[tokio::test]
async fn install_upgrade_rollback_and_uninstall_the_chart() {
    let _server = cluster::own();
    let client = cluster::client().await;
    let release = Release::new(NAME, NS);

    // Install: revision 1, the CRD kept by policy and owned by the release.
    let installed = release.install(json!({})).await;
    assert_eq!(installed["revision"], 1);
    assert_eq!(installed["status"], "deployed");
    assert_eq!(installed["chart_version"], env!("CARGO_PKG_VERSION"));
    release.assert_history(&[(1, "deployed")]).await;
    assert_eq!(release_records(&client).await, 1);
    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get(CRD)
        .await
        .expect("the chart installed the CRD");
    let annotations = crd.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations["helm.sh/resource-policy"], "keep");
    assert_eq!(annotations["meta.helm.sh/release-name"], NAME);
    let objects = other_objects(&client).await;
    let spec = deployment_spec(&client).await;
    assert_eq!(spec["replicas"], 2);

    // A rule applied afterwards is accepted and reconciled by the operator running with the
    // installed ServiceAccount's own token, which can do nothing beyond its job.
    let env = Env::without_operator("helm").await;
    let account = Installed {
        namespace: NS,
        service_account: NAME,
    };
    assert_the_operator_works_with_exactly_its_rights(&env, &account).await;

    // Upgrade: exactly the replicas and the flag change.
    let upgraded = release
        .upgrade(json!({"replicaCount": 3, "operator": {"swrQps": 50}}))
        .await;
    assert_eq!(upgraded["revision"], 2);
    release
        .assert_history(&[(1, "superseded"), (2, "deployed")])
        .await;
    assert_eq!(release_records(&client).await, 2);
    let mut expected = spec.clone();
    expected["replicas"] = json!(3);
    expected["template"]["spec"]["containers"][0]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "SWR_SYNC_SWR_QPS", "value": "50"}));
    assert_eq!(deployment_spec(&client).await, expected);
    assert_eq!(other_objects(&client).await, objects);

    // Rollback to revision 1: a new revision 3 with revision 1's objects.
    release.rollback(1).await;
    release
        .assert_history(&[(1, "superseded"), (2, "superseded"), (3, "deployed")])
        .await;
    assert_eq!(release_records(&client).await, 3);
    assert_eq!(deployment_spec(&client).await, spec);
    assert_eq!(other_objects(&client).await, objects);

    // Uninstall: everything goes but the CRD, and the release is forgotten.
    let info = release.uninstall().await;
    assert!(
        info.contains("kept due to the resource policy") && info.contains(CRD),
        "{info}"
    );
    let refusal = release.history().await.expect_err("the release is gone");
    assert_eq!(refusal.kind, "HelmNotFoundError", "{refusal:?}");
    assert_eq!(release_records(&client).await, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = leftovers(&client).await;
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "uninstall left objects behind: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        Api::<CustomResourceDefinition>::all(client.clone())
            .get_opt(CRD)
            .await
            .unwrap()
            .is_some(),
        "the CRD was deleted despite helm.sh/resource-policy: keep"
    );
}
