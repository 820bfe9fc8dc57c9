//! `swr-sync-operator plan` end to end: the binary against a real kube-apiserver and the
//! emulator, from files and from the cluster, with and without a cluster at all. It shows
//! what the operator then does, exits 2 while changes are pending, and never writes to SWR.

use std::path::Path;

use serde_json::json;
use testkit::cluster;
use testkit::operator::{spec, Env, ACCESS_KEY, BOTH_DR, EAST_DR, SECRET_KEY};
use testkit::plan::{plan_rows, rule, write_yaml};

/// Runs `plan -o json` with `args`; returns (exit code, rows as (rule, action, task)).
async fn plan(env: &Env, kubeconfig: &Path, args: &[&str]) -> (i32, Vec<(String, String, String)>) {
    let (code, rows) = plan_rows(env, kubeconfig, args).await;
    let mut rows: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("rule"), s("action"), s("task"))
        })
        .collect();
    rows.sort();
    (code, rows)
}

fn row(rule: &str, action: &str, task: &str) -> (String, String, String) {
    (rule.into(), action.into(), task.into())
}

const NGINX_EAST: &str = "cn-north-4:platform/nginx -> cn-east-3/platform-dr";
const NGINX_AP: &str = "cn-north-4:platform/nginx -> ap-southeast-1/platform-dr";

#[tokio::test]
async fn plan_shows_what_the_operator_will_do_and_changes_nothing() {
    let mut env = Env::without_operator("plan").await;
    env.create_secret("swr-credentials").await;
    let admin = cluster::kubeconfig();
    let rules = write_yaml(&env, "rules", &[rule("web", spec(&["nginx"], BOTH_DR))]);
    let file = rules.to_str().unwrap();

    // Nothing exists yet: two creates pending.
    let (code, rows) = plan(&env, admin, &["-f", file]).await;
    assert_eq!(code, 2, "{rows:?}");
    assert_eq!(
        rows,
        vec![
            row("web", "create", NGINX_AP),
            row("web", "create", NGINX_EAST)
        ]
    );

    // Without a cluster, with the credentials from a Secret manifest: the same plan.
    let secret = write_yaml(
        &env,
        "secret",
        &[
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "c"},
                 "stringData": {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}}),
        ],
    );
    let nowhere = Path::new("/nonexistent/kubeconfig");
    let offline = plan(
        &env,
        nowhere,
        &["-f", file, "--credentials", secret.to_str().unwrap()],
    )
    .await;
    assert_eq!(offline, (code, rows));
    // Reads only: the plans made no task, region lists aside.
    assert!(env.tasks().await.is_empty());
    let writes: u64 = env
        .calls()
        .await
        .iter()
        .filter(|((op, _), _)| !op.starts_with("swr.list") && !op.starts_with("iam."))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(writes, 0, "plan called SWR beyond listing");

    // The operator applies it; the cluster's plan is then empty.
    env.start_operator();
    env.apply("web", spec(&["nginx"], BOTH_DR)).await.unwrap();
    env.wait_ready("web", "2/2 tasks in sync").await;
    let (code, rows) = plan(&env, admin, &[]).await;
    assert_eq!(code, 0, "{rows:?}");
    assert_eq!(
        rows,
        vec![row("web", "keep", NGINX_AP), row("web", "keep", NGINX_EAST)]
    );

    // A narrower spec in a file: the plan prunes, using the cluster's inventory; a new rule
    // that wants a task web keeps is a conflict; an invalid rule cannot be planned (exit 1).
    let narrower = write_yaml(
        &env,
        "narrower",
        &[
            rule("web", spec(&["nginx"], EAST_DR)),
            rule("late", spec(&["nginx"], EAST_DR)),
        ],
    );
    let (code, rows) = plan(&env, admin, &["-f", narrower.to_str().unwrap()]).await;
    assert_eq!(code, 2, "{rows:?}");
    assert_eq!(
        rows,
        vec![
            row("late", "conflict", NGINX_EAST),
            row("web", "delete", NGINX_AP),
            row("web", "keep", NGINX_EAST),
        ]
    );
    let looping = write_yaml(
        &env,
        "loop",
        &[rule(
            "loop",
            spec(&["nginx"], &[("cn-north-4", "platform")]),
        )],
    );
    let (code, rows) = plan(&env, admin, &["-f", looping.to_str().unwrap()]).await;
    assert_eq!((code, rows), (1, vec![row("loop", "error", "")]));
    let mut paused = spec(&["team/api"], EAST_DR);
    paused["suspend"] = json!(true);
    let paused = write_yaml(&env, "paused", &[rule("paused", paused)]);
    let (code, rows) = plan(&env, admin, &["-f", paused.to_str().unwrap()]).await;
    assert_eq!((code, rows), (0, vec![row("paused", "suspended", "")]));
    assert_eq!(env.tasks().await.len(), 2, "plan changed SWR");
}
