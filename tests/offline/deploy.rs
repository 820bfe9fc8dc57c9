//! The install manifests: `deploy/install.yaml` is exactly what `kubectl kustomize deploy/`
//! renders, the Deployment is locked down, the RBAC is exactly the operator's needs, and
//! each optional component and example overlay renders to what it promises.
//! (`tests/own_cluster/rbac.rs` applies install.yaml to a real API server and runs the
//! operator with it.)

use std::path::Path;

use serde_json::{json, Value};
use testkit::manifests::{documents, env_value, find, kinds, kustomize};
use testkit::root;

/// Exactly what the operator calls; a rule added here must be added on purpose.
fn expected_rules() -> Value {
    json!([
        {"apiGroups": ["swrsync.io"], "resources": ["imagesyncrules"], "verbs": ["get", "list", "watch", "patch", "update"]},
        {"apiGroups": ["swrsync.io"], "resources": ["imagesyncrules/status"], "verbs": ["get", "patch", "update"]},
        {"apiGroups": ["swrsync.io"], "resources": ["imagesyncrules/finalizers"], "verbs": ["update"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]},
    ])
}

#[test]
fn install_yaml_is_what_kustomize_renders() {
    let rendered = kustomize("deploy");
    let path = root().join("deploy/install.yaml");
    let checked_in = std::fs::read_to_string(&path).expect("deploy/install.yaml exists");
    if rendered != checked_in {
        let line = rendered
            .lines()
            .zip(checked_in.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "its end".to_string(), |n| format!("line {}", n + 1));
        panic!(
            "{} differs from `kubectl kustomize deploy/` at {line}; run hack/render-manifests.sh",
            Path::new("deploy/install.yaml").display()
        );
    }
}

#[test]
fn the_deployment_is_locked_down_and_probed() {
    let docs = documents(&kustomize("deploy"));
    let deployment = find(&docs, "Deployment", "swr-sync-operator");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 2);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "swr-sync-operator");
    assert!(pod["terminationGracePeriodSeconds"].as_u64() >= Some(25));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                container["resources"][kind][resource].is_string(),
                "{kind}.{resource} unset"
            );
        }
    }
    assert_eq!(
        env_value(deployment, "POD_NAMESPACE").unwrap()["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert!(container["image"]
        .as_str()
        .unwrap()
        .starts_with("ghcr.io/swr-sync-operator/swr-sync-operator:"));
    let service = find(&docs, "Service", "swr-sync-operator-metrics");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
}

#[test]
fn rbac_is_exactly_what_the_operator_needs() {
    let docs = documents(&kustomize("deploy"));
    let cluster_role = find(&docs, "ClusterRole", "swr-sync-operator");
    assert_eq!(cluster_role["rules"], expected_rules());
    let lease_role = find(&docs, "Role", "swr-sync-operator-leader-election");
    assert_eq!(lease_role["metadata"]["namespace"], "swr-sync-system");
    assert_eq!(
        lease_role["rules"],
        json!([{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}])
    );
    let roles = docs
        .iter()
        .filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole")
        .count();
    assert_eq!(roles, 2, "an unexpected Role or ClusterRole");
    for binding in ["ClusterRoleBinding", "RoleBinding"] {
        for doc in docs.iter().filter(|d| d["kind"] == binding) {
            assert_eq!(
                doc["subjects"],
                json!([{"kind": "ServiceAccount", "name": "swr-sync-operator", "namespace": "swr-sync-system"}])
            );
        }
    }
}

#[test]
fn single_namespace_mode_has_nothing_cluster_wide_but_the_crd() {
    let docs = documents(&kustomize("deploy/examples/overlays/single-namespace"));
    let cluster_scoped: Vec<&str> = kinds(&docs)
        .into_iter()
        .filter(|k| k.starts_with("Cluster"))
        .collect();
    assert!(cluster_scoped.is_empty(), "{cluster_scoped:?}");
    let role = find(&docs, "Role", "swr-sync-operator");
    assert_eq!(role["metadata"]["namespace"], "swr-sync-system");
    assert_eq!(role["rules"], expected_rules());
    find(&docs, "RoleBinding", "swr-sync-operator");
    let deployment = find(&docs, "Deployment", "swr-sync-operator");
    assert_eq!(
        env_value(deployment, "SWR_SYNC_NAMESPACE").unwrap()["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
}

#[test]
fn the_production_overlay_adds_monitoring_network_policy_and_a_budget() {
    let docs = documents(&kustomize("deploy/examples/overlays/production"));
    let monitor = find(&docs, "ServiceMonitor", "swr-sync-operator");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    let policy = find(&docs, "NetworkPolicy", "swr-sync-operator");
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], 8080);
    let budget = find(&docs, "PodDisruptionBudget", "swr-sync-operator");
    assert_eq!(budget["spec"]["minAvailable"], 1);
    // The PrometheusRule holds exactly the rules of deploy/monitoring/alerts.yaml.
    let rules: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("deploy/monitoring/alerts.yaml")).unwrap(),
    )
    .unwrap();
    let prometheus_rule = find(&docs, "PrometheusRule", "swr-sync-operator");
    assert!(
        prometheus_rule["spec"]["groups"] == rules["groups"],
        "deploy/components/prometheusrule is stale; run hack/render-manifests.sh"
    );
}

#[test]
fn scale_out_runs_two_deployments_on_disjoint_rules_and_leases() {
    let docs = documents(&kustomize("deploy/examples/scale-out"));
    let a = find(&docs, "Deployment", "swr-sync-operator");
    let b = find(&docs, "Deployment", "swr-sync-operator-shard-b");
    assert_ne!(a["spec"]["selector"], b["spec"]["selector"]);
    let setting = |d: &Value, name| env_value(d, name).map(|e| e["value"].clone());
    assert_eq!(
        setting(a, "SWR_SYNC_LABEL_SELECTOR"),
        Some(json!("swrsync.io/shard!=b"))
    );
    assert_eq!(
        setting(b, "SWR_SYNC_LABEL_SELECTOR"),
        Some(json!("swrsync.io/shard=b"))
    );
    assert_ne!(
        setting(a, "SWR_SYNC_LEADER_ELECTION_LEASE_NAME"),
        setting(b, "SWR_SYNC_LEADER_ELECTION_LEASE_NAME")
    );
    assert_eq!(
        kinds(&docs)
            .iter()
            .filter(|k| **k == "CustomResourceDefinition")
            .count(),
        1
    );
}
