//! Repository selectors end to end (real kube-apiserver, emulator): a rule that names its
//! repositories by patterns follows the organization: a repository pushed later is picked up
//! at the next pass, one no longer selected is pruned, and listings past one page are read.

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::{json, Value};
use testkit::operator::{spec, Env, EAST_DR};

fn selector_spec(include: &[&str], exclude: &[&str]) -> Value {
    let mut s = spec(&[], EAST_DR);
    s["source"]["repositorySelector"] = json!({"include": include, "exclude": exclude});
    // Passes happen when the test asks for them.
    s["resyncInterval"] = json!("1h");
    s
}

async fn push(env: &Env, repository: &str) {
    env.admin_send(
        reqwest::Method::POST,
        "push",
        json!({"region": "cn-north-4", "organization": "platform", "repository": repository, "tag": "1.0"}),
    )
    .await;
}

fn repos_of(tasks: &[(String, String, String, String, String, bool, bool)]) -> Vec<&str> {
    tasks.iter().map(|t| t.2.as_str()).collect()
}

#[tokio::test]
async fn a_selector_follows_the_organizations_repositories() {
    let env = Env::start("selector").await;
    env.apply("sel", selector_spec(&["*"], &["team/*"]))
        .await
        .unwrap();
    env.wait_ready("sel", "1/1 tasks in sync").await;
    assert_eq!(repos_of(&env.tasks().await), ["nginx"]);

    // A repository that appears later is picked up at the next pass.
    push(&env, "web").await;
    env.request_reconcile("sel", "1").await;
    env.wait_ready("sel", "2/2 tasks in sync").await;
    assert_eq!(repos_of(&env.tasks().await), ["nginx", "web"]);
    // Each pass's creation has an Event of its own naming its task (not folded into one).
    let notes: Vec<String> = Api::<Event>::namespaced(env.client.clone(), &env.ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("TaskCreated"))
        .filter_map(|e| e.note)
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains("platform/web ->")),
        "{notes:?}"
    );

    // One the selector no longer matches is pruned like any unwanted task.
    env.apply("sel", selector_spec(&["*"], &["team/*", "web"]))
        .await
        .unwrap();
    env.wait_ready("sel", "1/1 tasks in sync").await;
    assert_eq!(repos_of(&env.tasks().await), ["nginx"]);
    assert_eq!(env.calls_of("swr.delete_sync_task").await, 1);
}

#[tokio::test]
async fn a_selector_reads_every_page_of_a_large_organization() {
    let env = Env::start("selector-pages").await;
    // 120 repositories: more than one page of 100.
    for i in 0..120 {
        push(&env, &format!("bulk/r{i:03}")).await;
    }
    env.apply("bulk", selector_spec(&["bulk/*"], &["bulk/r11?"]))
        .await
        .unwrap();
    env.wait_ready("bulk", "110/110 tasks in sync").await;
    let tasks = env.tasks().await;
    assert_eq!(tasks.len(), 110);
    assert!(repos_of(&tasks).iter().all(|r| !r.starts_with("bulk/r11")));
    // One pass: two pages of repositories, one list of tasks per selected repository.
    assert_eq!(env.calls_of("swr.list_repositories").await, 2);
    assert_eq!(env.calls_of("swr.create_sync_task").await, 110);
}
