//! Hostile specs on a real kube-apiserver with the operator running: each is refused by the
//! API server's schema with a message naming the field, or becomes an InvalidSpec condition,
//! and none reaches SWR. The operator keeps serving a good rule meanwhile.

use std::time::Duration;

use serde_json::{json, Value};
use testkit::operator::{ready_reason, spec, Env, EAST_DR};

/// What must happen to a spec.
enum Outcome {
    /// The API server refuses it; its message contains this.
    Refused(&'static str),
    /// It is stored and the operator marks it InvalidSpec.
    Invalid,
}

fn with(path: &[&str], value: Value) -> Value {
    let mut s = spec(&["nginx"], EAST_DR);
    let mut at = &mut s;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
    s
}

#[tokio::test]
async fn hostile_specs_are_refused_or_invalid_and_never_reach_swr() {
    let env = Env::start("hostile").await;
    let many: Vec<String> = (0..5000).map(|i| format!("r{i}")).collect();
    let cases: Vec<(&str, Value, Outcome)> = vec![
        (
            "overlong organization",
            with(&["source", "organization"], json!("a".repeat(300))),
            Outcome::Refused("spec.source.organization"),
        ),
        (
            "unicode repository",
            with(&["source", "repositories"], json!(["nginx✓"])),
            Outcome::Refused("spec.source.repositories"),
        ),
        (
            "path traversal",
            with(&["source", "repositories"], json!(["../../etc/passwd"])),
            Outcome::Refused("spec.source.repositories"),
        ),
        (
            "thousands of repositories",
            with(&["source", "repositories"], json!(many)),
            Outcome::Refused("spec.source.repositories"),
        ),
        (
            "wrong type",
            with(&["prune"], json!("yes")),
            Outcome::Refused("spec.prune"),
        ),
        (
            "unknown deletion policy",
            with(&["deletionPolicy"], json!("Shred")),
            Outcome::Refused("spec.deletionPolicy"),
        ),
        (
            "glob with a space",
            with(
                &["source", "repositorySelector"],
                json!({"include": ["a b"]}),
            ),
            Outcome::Refused("spec.source.repositorySelector.include"),
        ),
        (
            "duplicate targets",
            with(
                &["targets"],
                json!([{"region": "cn-east-3", "organization": "dr"}, {"region": "cn-east-3", "organization": "dr"}]),
            ),
            Outcome::Invalid,
        ),
        (
            "resync every second",
            with(&["resyncInterval"], json!("1s")),
            Outcome::Invalid,
        ),
    ];
    let mut invalid = Vec::new();
    for (i, (what, spec, outcome)) in cases.into_iter().enumerate() {
        let name = format!("hostile-{i}");
        match (env.apply(&name, spec).await, outcome) {
            (Err(e), Outcome::Refused(field)) => {
                let message = e.to_string();
                assert!(message.contains(field), "{what}: {message}");
                assert!(
                    message.len() < 4096,
                    "{what}: a {} byte message",
                    message.len()
                );
            }
            (Ok(_), Outcome::Invalid) => invalid.push((what, name)),
            (Ok(_), Outcome::Refused(_)) => panic!("{what}: accepted by the API server"),
            (Err(e), Outcome::Invalid) => panic!("{what}: refused ({e}), expected InvalidSpec"),
        }
    }
    for (what, name) in &invalid {
        env.wait_for(name, what, |r| {
            r.and_then(ready_reason).as_deref() == Some("False/InvalidSpec")
        })
        .await;
    }
    // Meanwhile a good rule converges, and nothing hostile reached SWR.
    env.apply("good", spec(&["team/api"], EAST_DR))
        .await
        .unwrap();
    env.wait_ready("good", "1/1 tasks in sync").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let calls = env.calls().await;
    let creates: u64 = calls
        .iter()
        .filter(|((op, _), _)| op == "swr.create_sync_task")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(creates, 1, "{calls:?}");
    assert_eq!(env.tasks().await.len(), 1);
}
