//! Desired tasks of a rule, and which of them other rules claim (one owner per task: the
//! older rule wins). Pure: works on rules as the controller's cache holds them.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::jiff::Timestamp;

use super::plan::{Claim, Settings, TaskKey};
use super::select::wants;
use crate::api::ImageSyncRule;
use crate::api::ImageSyncRuleSpec;

/// The tasks a spec asks for: every one of `repositories` (see `select::repositories`) to
/// every target.
pub fn desired_tasks<'a>(
    spec: &ImageSyncRuleSpec,
    repositories: impl IntoIterator<Item = &'a String>,
) -> BTreeMap<TaskKey, Settings> {
    let mut out = BTreeMap::new();
    for repository in repositories {
        for target in &spec.targets {
            out.insert(
                TaskKey {
                    source_region: spec.source.region.clone(),
                    source_organization: spec.source.organization.clone(),
                    repository: repository.clone(),
                    target_region: target.region.clone(),
                    target_organization: target.organization.clone(),
                },
                Settings {
                    override_existing: target.override_existing,
                    sync_auto: target.sync_auto,
                },
            );
        }
    }
    out
}

/// Orders rules by age: creation time, then namespace and name so ties are settled the same
/// way by every replica.
fn age_order(a: &ImageSyncRule, b: &ImageSyncRule) -> Ordering {
    // Borrowed, not `ResourceExt`'s owned strings: this runs for every candidate.
    fn key(r: &ImageSyncRule) -> (Option<Timestamp>, Option<&str>, Option<&str>) {
        let meta = &r.metadata;
        (
            meta.creation_timestamp.as_ref().map(|t| t.0),
            meta.namespace.as_deref(),
            meta.name.as_deref(),
        )
    }
    key(a).cmp(&key(b))
}

/// Claims of `others` on `keys` (the rule's desired and inventory tasks). `others` may hold
/// rules that want none of them (the index's candidates, or every rule); a rule never
/// conflicts with itself (same uid).
pub fn claims(
    rule: &ImageSyncRule,
    keys: &BTreeSet<TaskKey>,
    others: impl IntoIterator<Item = impl Borrow<ImageSyncRule>>,
) -> BTreeMap<TaskKey, Claim> {
    let mut out = BTreeMap::new();
    // The cheap tests on the spec come first: nothing is allocated for a rule that wants
    // none of the keys.
    for other in others {
        let other = other.borrow();
        let mut wanted = keys.iter().filter(|key| wants(&other.spec, key)).peekable();
        if wanted.peek().is_none() || other.metadata.uid == rule.metadata.uid {
            continue;
        }
        let claim = if age_order(other, rule) == Ordering::Less {
            Claim::Older
        } else {
            Claim::Newer
        };
        for key in wanted {
            // An older claim outweighs a newer one.
            let entry = out.entry(key.clone()).or_insert(claim);
            if claim == Claim::Older {
                *entry = Claim::Older;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn rule(name: &str, created: i64, repos: &[&str]) -> ImageSyncRule {
        let mut r: ImageSyncRule = serde_json::from_value(serde_json::json!({
            "apiVersion": "swrsync.io/v1alpha1",
            "kind": "ImageSyncRule",
            "metadata": {"name": name, "namespace": "ns", "uid": name},
            "spec": {
                "source": {"region": "cn-north-4", "organization": "platform", "repositories": repos},
                "targets": [{"region": "cn-east-3", "organization": "dr"}],
                "credentialsSecretRef": {"name": "creds"},
            },
        }))
        .unwrap();
        r.metadata.creation_timestamp = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(created).unwrap(),
        ));
        r
    }

    #[test]
    fn desired_is_every_repository_to_every_target() {
        let mut r = rule("a", 1, &["nginx", "team/api"]);
        r.spec.targets.push(r.spec.targets[0].clone());
        r.spec.targets[1].region = "ap-southeast-1".into();
        let d = desired_tasks(&r.spec, &r.spec.source.repositories);
        assert_eq!(d.len(), 4);
        assert!(d.values().all(|s| s.sync_auto && !s.override_existing));
    }

    #[test]
    fn older_rule_wins_and_self_is_ignored() {
        let old = rule("old", 1, &["nginx"]);
        let new = rule("new", 2, &["nginx", "redis"]);
        let keys: BTreeSet<_> = desired_tasks(&new.spec, &new.spec.source.repositories)
            .into_keys()
            .collect();
        let c = claims(&new, &keys, [&old, &new]);
        assert_eq!(c.len(), 1);
        assert_eq!(c.values().next(), Some(&Claim::Older));

        let keys: BTreeSet<_> = desired_tasks(&old.spec, &old.spec.source.repositories)
            .into_keys()
            .collect();
        let c = claims(&old, &keys, [&old, &new]);
        assert_eq!(c.values().collect::<Vec<_>>(), vec![&Claim::Newer]);
    }

    #[test]
    fn same_age_is_settled_by_name() {
        let a = rule("a", 5, &["nginx"]);
        let b = rule("b", 5, &["nginx"]);
        let keys: BTreeSet<_> = desired_tasks(&b.spec, &b.spec.source.repositories)
            .into_keys()
            .collect();
        assert_eq!(claims(&b, &keys, [&a]).values().next(), Some(&Claim::Older));
        assert_eq!(claims(&a, &keys, [&b]).values().next(), Some(&Claim::Newer));
    }
}
