//! The Helm chart, rendered and linted by the real Helm engine (no cluster): with default
//! values it renders the same objects as the kustomize base (so the two cannot drift), each
//! option shows up in the objects, every operator flag is a value, bad values are refused by
//! the schema with a clear message, and the packaged chart carries the crate's version.
//! (tests/own_cluster/helm_install.rs installs it on a real API server.)

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use clap::CommandFactory;
use serde_json::{json, Value};
use swr_sync_operator::cli::Cli;
use testkit::helm::{self, render, render_as};
use testkit::manifests::{documents, env_value, find, kustomize};
use testkit::root;

/// Keys only Helm writes: release bookkeeping labels and the CRD's keep policy.
const HELM_ONLY: [&str; 5] = [
    "helm.sh/chart",
    "helm.sh/resource-policy",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
];

fn strip_helm_only(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in HELM_ONLY {
                map.remove(key);
            }
            map.values_mut().for_each(strip_helm_only);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_helm_only),
        _ => {}
    }
}

/// An object as both renderings must agree on it: Helm's bookkeeping removed, the
/// `app.kubernetes.io/name` label on the object itself ignored (the chart puts it on every
/// object, deploy/ only on the workload's), empty metadata maps dropped, environment
/// variables in name order.
fn comparable(mut object: Value) -> Value {
    strip_helm_only(&mut object);
    let metadata = object["metadata"].as_object_mut().expect("metadata");
    if let Some(labels) = metadata.get_mut("labels").and_then(Value::as_object_mut) {
        labels.remove("app.kubernetes.io/name");
    }
    metadata.retain(|_, v| v.as_object().is_none_or(|m| !m.is_empty()));
    if let Some(env) = object
        .pointer_mut("/spec/template/spec/containers/0/env")
        .and_then(Value::as_array_mut)
    {
        env.sort_by_key(|e| e["name"].as_str().unwrap_or_default().to_string());
    }
    object
}

/// Objects by (kind, namespace, name), comparable.
fn by_identity(docs: Vec<Value>) -> BTreeMap<String, Value> {
    docs.into_iter()
        .map(|d| {
            let key = format!(
                "{} {}/{}",
                d["kind"].as_str().unwrap_or_default(),
                d["metadata"]["namespace"].as_str().unwrap_or("-"),
                d["metadata"]["name"].as_str().unwrap_or_default()
            );
            (key, comparable(d))
        })
        .collect()
}

/// Asserts that the chart (with `values`) and `kubectl kustomize <dir>` render the same
/// objects, but the Namespace, which Helm leaves to `--create-namespace`.
fn assert_same_objects(values: Value, dir: &str) {
    let chart = by_identity(render(values));
    let mut kustomized = by_identity(documents(&kustomize(dir)));
    kustomized.retain(|key, _| !key.starts_with("Namespace "));
    assert_eq!(
        chart.keys().collect::<Vec<_>>(),
        kustomized.keys().collect::<Vec<_>>(),
        "the chart and {dir} render different objects"
    );
    for (key, object) in &chart {
        assert_eq!(
            object, &kustomized[key],
            "{key} differs between the chart and {dir}"
        );
    }
}

fn all_options() -> Value {
    let text = std::fs::read_to_string(helm::chart().join("ci/all-options-values.yaml"))
        .expect("the all-options values file");
    serde_yaml::from_str(&text).expect("valid YAML")
}

fn lint_findings(values: Value) -> Vec<Value> {
    let report = helm::request(json!({"op": "lint", "values": values, "strict": true}))
        .unwrap_or_else(|r| panic!("lint could not run: {r:?}"));
    assert_eq!(report["errors"], json!([]), "lint errors: {report}");
    report["messages"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_chart_carries_the_crate_version() {
    let text = std::fs::read_to_string(helm::chart().join("Chart.yaml")).unwrap();
    let chart: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(chart["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_charts_copies_are_current() {
    for (source, copy) in [
        ("crds/imagesyncrule.yaml", "files/imagesyncrule.yaml"),
        ("deploy/monitoring/alerts.yaml", "files/alerts.yaml"),
    ] {
        let original = std::fs::read_to_string(root().join(source)).unwrap();
        let copied = std::fs::read_to_string(helm::chart().join(copy)).unwrap();
        assert!(
            original == copied,
            "the chart's {copy} is stale; run hack/render-manifests.sh"
        );
    }
}

#[test]
fn lint_is_clean_in_strict_mode() {
    for values in [
        json!({}),
        all_options(),
        json!({"rbac": {"scope": "namespace"}}),
    ] {
        let findings = lint_findings(values);
        // INFO "icon is recommended" is the only finding: the project hosts no icon.
        let unexpected: Vec<&Value> = findings
            .iter()
            .filter(|m| !(m["severity"] == 1 && m["error"] == "icon is recommended"))
            .collect();
        assert!(unexpected.is_empty(), "lint findings: {unexpected:?}");
    }
}

#[test]
fn default_values_render_what_kustomize_renders() {
    assert_same_objects(json!({}), "deploy");
}

#[test]
fn namespace_scope_renders_the_single_namespace_overlay() {
    assert_same_objects(
        json!({"rbac": {"scope": "namespace"}}),
        "deploy/examples/overlays/single-namespace",
    );
}

#[test]
fn the_optional_objects_render_the_production_overlay() {
    assert_same_objects(
        json!({
            "serviceMonitor": {"enabled": true},
            "prometheusRule": {"enabled": true},
            "networkPolicy": {"enabled": true},
            "podDisruptionBudget": {"enabled": true},
        }),
        "deploy/examples/overlays/production",
    );
}

#[test]
fn every_option_shows_up_in_the_objects() {
    let values = all_options();
    let docs = render_as("x", "ops", values.clone()).expect("all options render");
    let deployment = find(&docs, "Deployment", "replication");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(
        container["image"],
        format!(
            "registry.example.com/platform/swr-sync-operator@{}",
            values["image"]["digest"].as_str().unwrap()
        )
    );
    assert_eq!(container["imagePullPolicy"], "Always");
    assert_eq!(container["resources"], values["resources"]);
    assert_eq!(container["securityContext"], values["securityContext"]);
    assert_eq!(container["ports"][0]["containerPort"], 9090);
    assert_eq!(pod["securityContext"], values["podSecurityContext"]);
    for key in [
        "imagePullSecrets",
        "nodeSelector",
        "tolerations",
        "affinity",
        "topologySpreadConstraints",
        "priorityClassName",
        "terminationGracePeriodSeconds",
    ] {
        assert_eq!(pod[key], values[key], "{key}");
    }
    assert_eq!(pod["serviceAccountName"], "replication-sa");
    let template = &deployment["spec"]["template"]["metadata"];
    assert_eq!(template["labels"]["team"], "platform");
    assert_eq!(template["annotations"], values["podAnnotations"]);
    assert_eq!(
        env_value(deployment, "HTTPS_PROXY").unwrap()["value"],
        "http://proxy.example.com:3128"
    );
    assert_eq!(
        env_value(deployment, "SWR_SYNC_METRICS_ADDRESS").unwrap()["value"],
        "0.0.0.0:9090"
    );

    let account = find(&docs, "ServiceAccount", "replication-sa");
    assert_eq!(
        account["metadata"]["annotations"],
        values["serviceAccount"]["annotations"]
    );
    let binding = find(&docs, "ClusterRoleBinding", "replication");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "replication-sa", "namespace": "ops"}])
    );
    let lease_role = find(&docs, "Role", "replication-leader-election");
    assert_eq!(lease_role["metadata"]["namespace"], "platform-system");
    let service = find(&docs, "Service", "replication-metrics");
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(service["spec"]["ports"][0]["port"], 9090);
    assert_eq!(
        service["metadata"]["annotations"],
        values["metrics"]["service"]["annotations"]
    );
    let monitor = find(&docs, "ServiceMonitor", "replication");
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["interval"], "15s");
    assert_eq!(monitor["spec"]["endpoints"][0]["scrapeTimeout"], "10s");
    let rule = find(&docs, "PrometheusRule", "replication");
    assert_eq!(
        rule["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    let policy = find(&docs, "NetworkPolicy", "replication");
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], 9090);
    assert_eq!(
        policy["spec"]["ingress"][0]["from"],
        values["networkPolicy"]["metricsFrom"]
    );
    assert_eq!(
        policy["spec"]["egress"][1]["ports"],
        json!([{"port": 443, "protocol": "TCP"}, {"port": 8443, "protocol": "TCP"}])
    );
    let budget = find(&docs, "PodDisruptionBudget", "replication");
    assert_eq!(budget["spec"]["minAvailable"], 2);
    let crd = find(
        &docs,
        "CustomResourceDefinition",
        "imagesyncrules.swrsync.io",
    );
    assert!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"].is_null(),
        "crds.keep=false still keeps the CRD"
    );
    // Every selector names the release's pods by the overridden name.
    for selector in [
        &deployment["spec"]["selector"]["matchLabels"],
        &service["spec"]["selector"],
        &monitor["spec"]["selector"]["matchLabels"],
        &policy["spec"]["podSelector"]["matchLabels"],
        &budget["spec"]["selector"]["matchLabels"],
    ] {
        assert_eq!(
            selector,
            &json!({"app.kubernetes.io/name": "sso", "app.kubernetes.io/instance": "x"})
        );
    }
}

#[test]
fn without_crds_the_chart_installs_no_crd() {
    let docs = render(json!({"crds": {"install": false}}));
    assert!(docs.iter().all(|d| d["kind"] != "CustomResourceDefinition"));
    let notes = helm::notes(json!({"crds": {"install": false}}));
    assert!(
        notes.contains("did not install the ImageSyncRule CRD"),
        "{notes}"
    );
}

/// The chart's value for each `run` flag (the flag's name in camelCase), or None with the
/// reason the chart sets it itself.
fn value_of_flag(long: &str) -> Result<String, &'static str> {
    match long {
        "metrics-address" => Err("set from metrics.port, which the probes and Service share"),
        "leader-election-identity" => Err(
            "each pod's own name ($POD_NAME): one value would give every replica the same identity",
        ),
        "namespace" => Ok("watchNamespace".into()),
        "endpoint-override" => Ok("endpointOverrides".into()),
        _ => {
            let mut parts = long.split('-');
            let first = parts.next().unwrap_or_default().to_string();
            Ok(parts.fold(first, |mut name, part| {
                let mut chars = part.chars();
                if let Some(c) = chars.next() {
                    name.extend(c.to_uppercase());
                    name.push_str(chars.as_str());
                }
                name
            }))
        }
    }
}

#[test]
fn every_operator_flag_is_a_value() {
    let mut cli = Cli::command();
    cli.build();
    let run = cli.find_subcommand("run").expect("a run subcommand");
    let flags: Vec<(String, String)> = run
        .get_arguments()
        .filter_map(|arg| {
            Some((
                arg.get_long()?.to_string(),
                arg.get_env()?.to_str()?.to_string(),
            ))
        })
        .collect();
    assert!(flags.len() > 20, "the run flags were not found: {flags:?}");

    let values = all_options();
    let docs = render_as("x", "ops", values.clone()).expect("all options render");
    let deployment = find(&docs, "Deployment", "replication");
    let defaults: Value =
        serde_yaml::from_str(&std::fs::read_to_string(helm::chart().join("values.yaml")).unwrap())
            .unwrap();
    let mut keys = BTreeSet::new();
    for (long, env) in &flags {
        let Ok(key) = value_of_flag(long) else {
            continue;
        };
        let set = &values["operator"][&key];
        assert!(
            !set.is_null(),
            "--{long}: ci/all-options-values.yaml sets no operator.{key}"
        );
        let expected = match set {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        let rendered = env_value(deployment, env)
            .unwrap_or_else(|| panic!("--{long}: operator.{key} sets no {env}"));
        assert_eq!(
            rendered["value"], expected,
            "--{long} (operator.{key}) as {env}"
        );
        keys.insert(key);
    }
    let documented: BTreeSet<String> = defaults["operator"]
        .as_object()
        .expect("an operator block in values.yaml")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        documented, keys,
        "values.yaml's operator block and the operator's flags differ"
    );
}

#[test]
fn bad_values_are_refused_by_the_schema_with_a_clear_message() {
    let cases = [
        (
            json!({"replicas": 3}),
            "additional properties 'replicas' not allowed",
        ),
        (
            json!({"replicaCount": "two"}),
            "/replicaCount': got string, want integer",
        ),
        (
            json!({"operator": {"swrQps": "fast"}}),
            "/operator/swrQps': got string, want null or number",
        ),
        (
            json!({"operator": {"swrQPS": 5}}),
            "/operator': additional properties 'swrQPS' not allowed",
        ),
        (
            json!({"operator": {"hssDebounce": "5 minutes"}}),
            "/operator/hssDebounce': '5 minutes' does not match",
        ),
        (json!({"rbac": {"scope": "everywhere"}}), "/rbac/scope'"),
        (json!({"image": {"digest": "latest"}}), "/image/digest'"),
        (
            json!({"crds": {"install": "yes"}}),
            "/crds/install': got string, want boolean",
        ),
        (json!({"metrics": {"port": 70000}}), "/metrics/port'"),
        // A null deletes a value in Helm: one the chart cannot do without is required.
        (
            json!({"operator": {"logFormat": null}}),
            "missing property 'logFormat'",
        ),
        (
            json!({"image": {"repository": null}}),
            "missing property 'repository'",
        ),
        // No port would let all egress through.
        (
            json!({"networkPolicy": {"egressPorts": []}}),
            "/networkPolicy/egressPorts': minItems",
        ),
        (
            json!({"podDisruptionBudget": {"minAvailable": "abc"}}),
            "/podDisruptionBudget/minAvailable'",
        ),
        // The operator splits overrides on commas.
        (
            json!({"operator": {"endpointOverrides": ["swr:r=https://a,b"]}}),
            "/operator/endpointOverrides/0'",
        ),
        (
            json!({"operator": {"swrBurst": 5_000_000_000u64}}),
            "/operator/swrBurst'",
        ),
    ];
    for (values, expected) in cases {
        match helm::render_as("swr-sync-operator", "swr-sync-system", values.clone()) {
            Ok(_) => panic!("{values} was accepted"),
            Err(refusal) => {
                assert_eq!(refusal.kind, "HelmValuesError", "{values}: {refusal:?}");
                assert!(
                    refusal.message.contains(expected),
                    "{values}: {:?} does not say {expected:?}",
                    refusal.message
                );
            }
        }
    }
}

#[test]
fn without_leader_election_one_pod_runs_at_a_time() {
    let refusal = helm::render_as(
        "swr-sync-operator",
        "swr-sync-system",
        json!({"operator": {"leaderElect": false}}),
    )
    .expect_err("two unelected replicas were rendered");
    assert!(
        refusal.message.contains("set replicaCount to 0 or 1"),
        "{refusal:?}"
    );
    let docs = render(json!({"operator": {"leaderElect": false}, "replicaCount": 1}));
    let deployment = find(&docs, "Deployment", "swr-sync-operator");
    assert_eq!(deployment["spec"]["strategy"], json!({"type": "Recreate"}));
    assert!(
        docs.iter()
            .all(|d| d["metadata"]["name"] != "swr-sync-operator-leader-election"),
        "a Lease Role without an election"
    );
}

#[test]
fn whole_numbers_and_long_names_render_as_kubernetes_takes_them() {
    let docs = render(json!({
        "fullnameOverride": "a".repeat(63),
        "image": {"tag": 20240101},
        "operator": {"swrBurst": 1_000_000, "swrQps": 0.5},
    }));
    let deployment = find(&docs, "Deployment", &"a".repeat(63));
    assert!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .ends_with(":20240101")
    );
    assert_eq!(
        env_value(deployment, "SWR_SYNC_SWR_BURST").unwrap()["value"],
        "1000000"
    );
    assert_eq!(
        env_value(deployment, "SWR_SYNC_SWR_QPS").unwrap()["value"],
        "0.5"
    );
    let service = docs.iter().find(|d| d["kind"] == "Service").unwrap();
    let name = service["metadata"]["name"].as_str().unwrap();
    assert!(name.len() <= 63 && name.ends_with("-metrics"), "{name}");
}

#[test]
fn the_notes_say_what_to_do_next() {
    let notes = helm::notes(json!({}));
    for step in [
        "rollout status deployment/swr-sync-operator",
        "create secret generic swr-credentials",
        "get imagesyncrules",
        "service swr-sync-operator-metrics, port 8080",
        "The ImageSyncRule CRD stays when you uninstall",
    ] {
        assert!(notes.contains(step), "NOTES.txt lacks {step:?}:\n{notes}");
    }
    let scoped = helm::notes(json!({"rbac": {"scope": "namespace"}}));
    assert!(
        scoped.contains("watching namespace swr-sync-system only"),
        "{scoped}"
    );
    assert!(
        scoped.contains("kubectl -n swr-sync-system create secret"),
        "{scoped}"
    );
    let careful = helm::notes(json!({
        "crds": {"keep": false},
        "operator": {"labelSelector": "swrsync.io/shard=b"},
    }));
    assert!(
        careful.contains("matching the label selector swrsync.io/shard=b"),
        "{careful}"
    );
    assert!(careful.contains("WARNING: crds.keep=false"), "{careful}");
}

#[test]
fn the_package_script_packs_the_chart_at_the_crate_version() {
    let destination = std::env::temp_dir().join(format!("swr-chart-{}", std::process::id()));
    let out = Command::new(root().join("hack/package-chart.sh"))
        .arg(&destination)
        .output()
        .expect("running hack/package-chart.sh");
    assert!(
        out.status.success(),
        "hack/package-chart.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = destination.join(format!(
        "swr-sync-operator-{}.tgz",
        env!("CARGO_PKG_VERSION")
    ));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        archive.display().to_string()
    );
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let files = String::from_utf8_lossy(&listing.stdout).to_string();
    for file in [
        "swr-sync-operator/Chart.yaml",
        "swr-sync-operator/values.schema.json",
        "swr-sync-operator/templates/deployment.yaml",
        "swr-sync-operator/files/imagesyncrule.yaml",
    ] {
        assert!(
            files.lines().any(|l| l == file),
            "{file} not in the package:\n{files}"
        );
    }
    assert!(
        !files.contains("/ci/"),
        "test values were packaged:\n{files}"
    );
    // The archive renders the same objects as the chart's directory.
    let packaged = helm::request(json!({"op": "render", "chart": archive, "values": {}}))
        .expect("the packaged chart renders");
    let directory = helm::request(json!({"op": "render", "values": {}})).unwrap();
    assert_eq!(packaged, directory);
    std::fs::remove_dir_all(&destination).ok();
}
