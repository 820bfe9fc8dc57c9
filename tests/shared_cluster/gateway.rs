//! The operator behind the API gateway, on a real kube-apiserver with the emulator: a
//! gateway 404 on delete is not a deleted task, throttling without `Retry-After` is ridden
//! out with jittered backoff, and a wrong Secret never gets the access key locked.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use reqwest::Method;
use serde_json::json;
use testkit::operator::{spec, Env, ACCESS_KEY, EAST_DR, SECRET_KEY};

/// Calls of `operation` answered with `status`.
async fn answered(env: &Env, operation: &str, status: u16) -> u64 {
    let calls = env.calls().await;
    calls
        .get(&(operation.to_string(), status))
        .copied()
        .unwrap_or_default()
}

/// Calls of any operation answered with `status`.
async fn answered_any(env: &Env, status: u16) -> u64 {
    let calls = env.calls().await;
    calls
        .iter()
        .filter(|((_, s), _)| *s == status)
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test]
async fn a_gateway_404_on_delete_is_not_a_deleted_task() {
    let env = Env::start("gw-delete").await;
    env.apply("web", spec(&["nginx"], EAST_DR)).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    // The gateway answers the delete "no such API" (as it would a path built wrong).
    let faults = json!({"error_rate": 1.0, "error_status": 404, "from_gateway": true,
        "operations": ["swr.delete_sync_task"]});
    env.admin_send(Method::PUT, "faults", faults).await;
    env.delete("web").await;
    // Two refused deletes: the rule tried, and tried again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered(&env, "swr.delete_sync_task", 404).await < 2 {
        assert!(
            Instant::now() < deadline,
            "no second delete: the first 404 was taken for a deleted task; calls {:?}",
            env.calls().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(env.tasks().await.len(), 1, "the task is still in SWR");
    assert!(
        env.rules().get_opt("web").await.unwrap().is_some(),
        "the rule keeps its finalizer until the task is really gone"
    );
    env.admin_send(Method::DELETE, "faults", json!({})).await;
    env.wait_for("web", "the rule gone", |r| r.is_none()).await;
    assert!(
        env.tasks().await.is_empty(),
        "deleted once the delete went through"
    );
}

#[tokio::test]
async fn throttling_without_retry_after_is_ridden_out() {
    let env = Env::start("gw-throttle").await;
    // Four requests a second (the operator's own limiter allows 20), and no Retry-After, as
    // the real gateway answers. Creates are retried too: a throttled request never reached
    // SWR.
    env.admin_send(Method::PUT, "faults", json!({"qps_limit": 4}))
        .await;
    let repos = ["nginx", "team/api"];
    env.apply("web", spec(&repos, testkit::operator::BOTH_DR))
        .await
        .unwrap();
    env.wait_ready("web", "4/4 tasks in sync").await;
    let throttled = answered_any(&env, 429).await;
    assert!(
        throttled > 0,
        "the gateway did throttle: {:?}",
        env.calls().await
    );
    assert_eq!(env.tasks().await.len(), 4);
}

#[tokio::test]
async fn a_wrong_secret_never_gets_the_key_locked() {
    let env = Env::start("gw-lockout").await;
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);
    let put = |secret_key: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "swr-credentials"},
               "stringData": {"accessKey": ACCESS_KEY, "secretKey": secret_key}})
    };
    let apply = PatchParams::apply("test").force();
    secrets
        .patch(
            "swr-credentials",
            &apply,
            &Patch::Apply(put("not-the-secret-key")),
        )
        .await
        .unwrap();
    // Many rules on the wrong key, reconciled together and again and again.
    let names: Vec<String> = (0..8).map(|i| format!("rule-{i}")).collect();
    let repos = ["nginx", "team/api"];
    for (i, name) in names.iter().enumerate() {
        env.apply(name, spec(&repos[i % 2..i % 2 + 1], EAST_DR))
            .await
            .unwrap();
    }
    for name in &names {
        env.wait_for(name, "AuthFailed", |r| {
            let reason = r.and_then(testkit::operator::ready_reason);
            reason.as_deref() == Some("False/AuthFailed")
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(15)).await;
    let refused = answered_any(&env, 401).await;
    assert!(
        refused < 5,
        "{refused} refused signatures: five in a row lock the key"
    );
    // Fixed: the key works at once, nobody locked it. The rules want the same two tasks:
    // one owner each, the others in Conflict.
    secrets
        .patch("swr-credentials", &apply, &Patch::Apply(put(SECRET_KEY)))
        .await
        .unwrap();
    for name in &names {
        env.wait_for(name, "working credentials", |r| {
            let reason = r.and_then(testkit::operator::ready_reason);
            matches!(reason.as_deref(), Some("True/InSync" | "False/Conflict"))
        })
        .await;
    }
    assert_eq!(env.tasks().await.len(), 2);
}
