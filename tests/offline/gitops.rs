//! The GitOps examples: the Argo CD health check (deploy/examples/gitops/argocd/health.lua),
//! run in Lua 5.1 as Argo CD's gopher-lua runs it, over rule statuses in each state the
//! operator reports; its argocd-cm rendering; and the Flux manifests.

use std::path::PathBuf;
use std::process::Command;

use mlua::{Lua, LuaSerdeExt};
use serde::Deserialize;
use serde_json::{json, Value};
use swr_sync_operator::api::status::{condition_type, reason, status_value};

fn example(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/examples/gitops")
        .join(path)
}

fn health_script() -> String {
    std::fs::read_to_string(example("argocd/health.lua")).expect("health.lua")
}

/// Runs the health script on `obj`: (status, message).
fn health(obj: &Value) -> (String, String) {
    let lua = Lua::new();
    lua.globals()
        .set("obj", lua.to_value(obj).unwrap())
        .unwrap();
    let result: mlua::Table = lua.load(health_script()).eval().expect("health.lua runs");
    (
        result.get("status").unwrap(),
        result.get("message").unwrap(),
    )
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message})
}

/// A rule at generation 2 with the given status.
fn rule(status: Option<Value>) -> Value {
    let mut rule =
        json!({"metadata": {"name": "web", "generation": 2}, "spec": {"suspend": false}});
    if let Some(status) = status {
        rule["status"] = status;
    }
    rule
}

/// The three kstatus conditions as the operator writes them.
fn conditions(ready: (&str, &str), reconciling: &str, stalled: &str, message: &str) -> Value {
    json!([
        condition(condition_type::READY, ready.0, ready.1, message),
        condition(condition_type::RECONCILING, reconciling, ready.1, message),
        condition(condition_type::STALLED, stalled, ready.1, message),
    ])
}

#[test]
fn argocd_health_follows_the_conditions() {
    let (t, f) = (status_value::TRUE, status_value::FALSE);
    let cases = [
        ("no status yet", rule(None), "Progressing"),
        (
            "ready",
            rule(Some(json!({"observedGeneration": 2,
                "conditions": conditions((t, reason::IN_SYNC), f, f, "4/4 tasks in sync")}))),
            "Healthy",
        ),
        (
            "ready, but for an older generation",
            rule(Some(json!({"observedGeneration": 1,
                "conditions": conditions((t, reason::IN_SYNC), f, f, "4/4 tasks in sync")}))),
            "Progressing",
        ),
        (
            "retrying after throttling",
            rule(Some(json!({"observedGeneration": 2,
                "conditions": conditions((f, reason::THROTTLED), t, f, "SWR answered 429")}))),
            "Progressing",
        ),
        (
            "stalled on an invalid spec",
            rule(Some(json!({"observedGeneration": 2,
                "conditions": conditions((f, reason::INVALID_SPEC), f, t, "target equals source")}))),
            "Degraded",
        ),
        (
            "stalled on a conflict",
            rule(Some(json!({"observedGeneration": 2,
                "conditions": conditions((f, reason::CONFLICT), f, t, "owned by platform/other")}))),
            "Degraded",
        ),
    ];
    for (what, obj, expected) in cases {
        let (status, message) = health(&obj);
        assert_eq!(status, expected, "{what}: {message}");
        assert!(!message.is_empty(), "{what}: empty message");
    }
    let (_, message) = health(&rule(Some(json!({"observedGeneration": 2,
        "conditions": conditions((f, reason::INVALID_SPEC), f, t, "target equals source")}))));
    assert_eq!(message, "InvalidSpec: target equals source");

    let mut suspended = rule(None);
    suspended["spec"]["suspend"] = json!(true);
    assert_eq!(health(&suspended).0, "Suspended");
}

#[test]
fn the_argocd_config_map_carries_the_script() {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(example("argocd"))
        .output()
        .expect("kubectl (with kustomize) is needed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config_map: Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(config_map["metadata"]["name"], "argocd-cm");
    assert_eq!(
        config_map["data"]["resource.customizations.health.swrsync.io_ImageSyncRule"],
        health_script()
    );
}

#[test]
fn the_flux_kustomizations_wait_for_healthy_rules() {
    for file in ["flux/rules.yaml", "flux/operator.yaml"] {
        let text = std::fs::read_to_string(example(file)).unwrap();
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|d| Value::deserialize(d).unwrap())
            .collect();
        let kustomization = docs
            .iter()
            .find(|d| d["kind"] == "Kustomization")
            .unwrap_or_else(|| panic!("{file}: no Flux Kustomization"));
        assert_eq!(
            kustomization["apiVersion"],
            "kustomize.toolkit.fluxcd.io/v1"
        );
        assert_eq!(kustomization["spec"]["wait"], true, "{file}");
    }
}
