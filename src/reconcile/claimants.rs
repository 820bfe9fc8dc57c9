//! Which rules might want or hold a task, looked up by where the task goes instead of by
//! scanning every rule on every pass: an index kept in step with the rules cache by the
//! same watch.
//!
//! The index answers with a superset; [`super::claims::claims`] makes the exact test. That
//! lets it key on hashes: a collision costs one extra candidate, never a missed one.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::RwLock;

use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event;

use super::task::TaskKey;
use crate::api::ImageSyncRule;

type RuleRef = ObjectRef<ImageSyncRule>;

/// Hash of (source region, source organization, repository or none for "any", target
/// region, target organization).
type Slot = u64;

/// Rules by the tasks they may want. Cheap to query; updated from watch events.
#[derive(Debug, Default)]
pub struct ClaimantIndex {
    // Never held across an await: every method takes and drops it.
    inner: RwLock<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    rules: HashMap<Slot, HashSet<RuleRef>>,
    of_rule: HashMap<RuleRef, Vec<Slot>>,
    /// A relist under way (watcher `Init` … `InitDone`): built aside and swapped in whole,
    /// as the rules cache does, so lookups meanwhile see the previous complete state.
    relist: Option<Box<Slots>>,
}

impl ClaimantIndex {
    /// Applies a watch event on the rules, as the reflector applies it to the cache.
    pub fn apply(&self, event: &Event<ImageSyncRule>) {
        let mut slots = self.inner.write().expect("claimant index lock");
        match event {
            Event::Apply(rule) => slots.insert(rule),
            Event::Delete(rule) => slots.remove(&ObjectRef::from_obj(rule)),
            Event::Init => slots.relist = Some(Box::default()),
            Event::InitApply(rule) => slots.relist.get_or_insert_default().insert(rule),
            Event::InitDone => {
                if let Some(fresh) = slots.relist.take() {
                    *slots = *fresh;
                }
            }
        }
    }

    /// Every rule that may want one of `keys` (a superset: check with `claims`).
    pub fn candidates(&self, keys: &BTreeSet<TaskKey>) -> HashSet<RuleRef> {
        let slots = self.inner.read().expect("claimant index lock");
        keys.iter()
            .flat_map(|key| [Some(key.source().repository()), None].map(|repo| slot(key, repo)))
            .filter_map(|slot| slots.rules.get(&slot))
            .flatten()
            .cloned()
            .collect()
    }
}

impl Slots {
    fn insert(&mut self, rule: &ImageSyncRule) {
        let reference = ObjectRef::from_obj(rule);
        self.remove(&reference);
        let owned = slots_of(rule);
        for slot in &owned {
            self.rules
                .entry(*slot)
                .or_default()
                .insert(reference.clone());
        }
        self.of_rule.insert(reference, owned);
    }

    fn remove(&mut self, reference: &RuleRef) {
        for slot in self.of_rule.remove(reference).unwrap_or_default() {
            if let Some(rules) = self.rules.get_mut(&slot) {
                rules.remove(reference);
                if rules.is_empty() {
                    self.rules.remove(&slot);
                }
            }
        }
    }
}

/// The slots a rule can want or hold tasks in: each listed repository, and "any" for a
/// selector, to each target; and each task its status lists (owned, being released, or
/// waited for).
fn slots_of(rule: &ImageSyncRule) -> Vec<Slot> {
    let spec = &rule.spec;
    let mut repositories: Vec<Option<&str>> = spec
        .source
        .repositories
        .iter()
        .map(|r| Some(r.as_str()))
        .collect();
    if spec.source.repository_selector.is_some() {
        repositories.push(None);
    }
    let mut out: Vec<Slot> = spec
        .targets
        .iter()
        .flat_map(|target| {
            repositories.iter().map(move |repository| {
                hash_of(
                    (&spec.source.region, &spec.source.organization),
                    *repository,
                    (&target.region, &target.organization),
                )
            })
        })
        .collect();
    let listed = rule.status.iter().flat_map(|s| &s.tasks).map(|t| {
        hash_of(
            (t.source_region.as_str(), t.source_organization.as_str()),
            Some(t.repository.as_str()),
            (t.target_region.as_str(), t.target_organization.as_str()),
        )
    });
    out.extend(listed);
    out.sort_unstable();
    out.dedup();
    out
}

fn slot(key: &TaskKey, repository: Option<&str>) -> Slot {
    hash_of(
        (key.source().region(), key.source().organization()),
        repository,
        (key.target().region(), key.target().organization()),
    )
}

fn hash_of(source: (&str, &str), repository: Option<&str>, target: (&str, &str)) -> Slot {
    let mut hasher = DefaultHasher::new();
    (source, repository, target).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::claims::desired_tasks;

    fn rule(name: &str, spec: serde_json::Value) -> ImageSyncRule {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "swrsync.io/v1alpha1",
            "kind": "ImageSyncRule",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn listed(name: &str, repos: &[&str], target_org: &str) -> ImageSyncRule {
        rule(
            name,
            serde_json::json!({
                "source": {"region": "cn-north-4", "organization": "platform", "repositories": repos},
                "targets": [{"region": "cn-east-3", "organization": target_org}],
                "credentialsSecretRef": {"name": "creds"},
            }),
        )
    }

    fn selecting(name: &str, include: &str) -> ImageSyncRule {
        rule(
            name,
            serde_json::json!({
                "source": {"region": "cn-north-4", "organization": "platform",
                           "repositorySelector": {"include": [include]}},
                "targets": [{"region": "cn-east-3", "organization": "dr"}],
                "credentialsSecretRef": {"name": "creds"},
            }),
        )
    }

    fn keys_of(rule: &ImageSyncRule, repos: &[&str]) -> BTreeSet<TaskKey> {
        let repos: Vec<String> = repos.iter().map(|r| r.to_string()).collect();
        desired_tasks(&rule.spec, &repos).into_keys().collect()
    }

    fn names(found: HashSet<RuleRef>) -> BTreeSet<String> {
        found.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn finds_rules_by_repository_and_target_and_selectors_for_any_repository() {
        let a = listed("a", &["nginx", "redis"], "dr");
        let b = listed("b", &["nginx"], "other-dr");
        let c = selecting("c", "team/*");
        let index = ClaimantIndex::default();
        for rule in [a.clone(), b.clone(), c] {
            index.apply(&Event::Apply(rule));
        }
        let nginx_to_dr = keys_of(&a, &["nginx"]);
        // b sends nginx elsewhere; c's selector may cover nginx (claims decides).
        assert_eq!(
            names(index.candidates(&nginx_to_dr)),
            ["a", "c"].map(String::from).into()
        );
        let b_keys = keys_of(&b, &["nginx"]);
        assert_eq!(
            names(index.candidates(&b_keys)),
            ["b"].map(String::from).into()
        );
    }

    #[test]
    fn follows_edits_deletes_and_relists() {
        let a = listed("a", &["nginx"], "dr");
        let keys = keys_of(&a, &["nginx"]);
        let index = ClaimantIndex::default();
        index.apply(&Event::Apply(a.clone()));
        assert_eq!(
            names(index.candidates(&keys)),
            ["a"].map(String::from).into()
        );

        // An edit moves the rule to other slots.
        index.apply(&Event::Apply(listed("a", &["redis"], "dr")));
        assert!(index.candidates(&keys).is_empty());
        index.apply(&Event::Apply(a.clone()));
        index.apply(&Event::Delete(a.clone()));
        assert!(index.candidates(&keys).is_empty());

        // A relist keeps answering from the old state until it is complete.
        index.apply(&Event::Apply(a.clone()));
        index.apply(&Event::Init);
        index.apply(&Event::InitApply(listed("b", &["nginx"], "dr")));
        assert_eq!(
            names(index.candidates(&keys)),
            ["a"].map(String::from).into()
        );
        index.apply(&Event::InitDone);
        assert_eq!(
            names(index.candidates(&keys)),
            ["b"].map(String::from).into()
        );
    }
}
