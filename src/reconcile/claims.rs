//! Desired tasks of a rule, and other rules' claims on them and on the tasks it owns: who
//! holds a task, who it is handed over to. Pure: works on rules as the controller's cache
//! holds them, and on the ledger.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::ledger::{Holding, Ledger};
use super::plan::Claim;
use super::report::TaskLine;
use super::select::wants;
use super::standing::{name_of, standing, Standing};
use super::status::owned;
use super::task::{Settings, TaskKey};
use crate::api::status::{RuleName, TaskState};
use crate::api::ImageSyncRule;
use crate::api::ImageSyncRuleSpec;

/// The tasks a spec asks for: every one of `repositories` (see `select::repositories`) to
/// every target.
pub fn desired_tasks<'a>(
    spec: &ImageSyncRuleSpec,
    repositories: impl IntoIterator<Item = &'a String>,
) -> BTreeMap<TaskKey, Settings> {
    let mut out = BTreeMap::new();
    let source = &spec.source;
    for repository in repositories {
        for target in &spec.targets {
            // Names the spec's validation refuses make no task (an invalid rule wants none).
            let source = (
                source.region.as_str(),
                source.organization.as_str(),
                repository.as_str(),
            );
            let Ok(key) = TaskKey::from_names(source, (&target.region, &target.organization))
            else {
                continue;
            };
            out.insert(
                key,
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

/// How long a rule waits for the rule it released a task to before passing it over (that
/// rule may turn out unable to take it without ever saying so: a pass that keeps failing).
pub const HANDOVER_DEADLINE: Duration = Duration::from_secs(120);

/// The rules `claims` looks at: other rules that may want or own the keys (as the cache
/// holds them), and the ledger of this process's own recent decisions.
pub struct Others<'a, R> {
    /// Candidate rules (a superset is fine; the rule itself is skipped).
    pub rules: &'a [R],
    /// Ownership as decided by this process (ahead of the cache).
    pub ledger: &'a Ledger,
}

/// Claims on this rule's `desired` keys and on the tasks it `owns` (inventory lines with an
/// ownership). Ownership decides: a task another rule owns is held by that rule until it
/// releases it, and it releases it only to a rule that wants it and can act (or has yet to
/// show it cannot); among several, the oldest. A free task is nobody's claim: whoever
/// acquires it first (see `Ledger::acquire`) owns it.
pub fn claims<R: Borrow<ImageSyncRule>>(
    rule: &ImageSyncRule,
    desired: &BTreeSet<TaskKey>,
    owns: &BTreeMap<TaskKey, TaskLine>,
    others: &Others<'_, R>,
) -> BTreeMap<TaskKey, Claim> {
    let me = name_of(rule);
    let others_only: Vec<&ImageSyncRule> = others
        .rules
        .iter()
        .map(Borrow::borrow)
        .filter(|o| name_of(o) != me)
        .collect();
    // Read once per pass, not once per key: each candidate's inventory and standing.
    let keys: BTreeSet<&TaskKey> = desired.iter().chain(owns.keys()).collect();
    let cached = cached_holdings(&keys, &others_only);
    let may_succeed: Vec<&ImageSyncRule> = others_only
        .iter()
        .copied()
        .filter(|o| standing(o) != Standing::Unable)
        .collect();
    let mut out = BTreeMap::new();
    for key in keys {
        let holder = match others.ledger.holding(key) {
            Some(h) => (h.holder != me).then_some(h),
            None => cached.get(key).cloned(),
        };
        let mine = owns.get(key);
        let claim = match (desired.contains(key), mine, holder) {
            // Taken over while this rule was releasing it.
            (_, Some(line), Some(h))
                if line.state == TaskState::Releasing && h.releasing_to.is_none() =>
            {
                Some(if desired.contains(key) {
                    Claim::Held(h.holder)
                } else {
                    Claim::Taken(h.holder)
                })
            }
            (true, Some(_), _) => None,
            (true, None, Some(h)) if h.releasing_to.as_ref() == Some(&me) => {
                Some(Claim::HandedOver(h.holder))
            }
            (true, None, Some(h)) => Some(Claim::Held(h.holder)),
            (true, None, None) => None,
            (false, Some(_), _) => {
                // A successor that has not taken it in time is passed over.
                let overdue = others.ledger.overdue(key, &me, HANDOVER_DEADLINE);
                let willing: Vec<&ImageSyncRule> = may_succeed
                    .iter()
                    .copied()
                    .filter(|o| Some(name_of(o)) != overdue)
                    .collect();
                successor(key, &willing).map(Claim::Wanted)
            }
            (false, None, _) => None,
        };
        if let Some(claim) = claim {
            out.insert(key.clone(), claim);
        }
    }
    out
}

/// The SWR id each task handed over to this rule had when its giver last recorded it (from
/// the giver's status as `rules` hold it; `None` when unknown), for `plan::remade`: a task
/// listed under another id was deleted and made again by somebody else since, and is not
/// the giver's to hand over.
pub fn handed_over_ids<R: Borrow<ImageSyncRule>>(
    claims: &BTreeMap<TaskKey, Claim>,
    rules: &[R],
) -> BTreeMap<TaskKey, Option<i64>> {
    claims
        .iter()
        .filter_map(|(key, claim)| {
            let Claim::HandedOver(giver) = claim else {
                return None;
            };
            let giver = rules
                .iter()
                .map(Borrow::borrow)
                .find(|r| name_of(r) == *giver);
            let id = giver.and_then(|g| owned(g.status.as_ref()).remove(key)?.id);
            Some((key.clone(), id))
        })
        .collect()
}

/// Who holds each of `keys` as the cached inventories of `others` say (an owner keeping a
/// task beats one releasing it; ties go by name, whatever order the candidates come in).
fn cached_holdings(
    keys: &BTreeSet<&TaskKey>,
    others: &[&ImageSyncRule],
) -> BTreeMap<TaskKey, Holding> {
    let mut found: BTreeMap<TaskKey, Vec<Holding>> = BTreeMap::new();
    for other in others {
        for (key, line) in owned(other.status.as_ref()) {
            if !keys.contains(&key) {
                continue;
            }
            let releasing_to = (line.state == TaskState::Releasing)
                .then_some(line.other_rule)
                .flatten();
            let holding = Holding {
                holder: name_of(other),
                releasing_to,
            };
            found.entry(key).or_default().push(holding);
        }
    }
    found
        .into_iter()
        .filter_map(|(key, mut holdings)| {
            holdings.sort_by(|a, b| {
                (a.releasing_to.is_some(), &a.holder).cmp(&(b.releasing_to.is_some(), &b.holder))
            });
            Some((key, holdings.into_iter().next()?))
        })
        .collect()
}

/// The rule a task is released to: the oldest of `candidates` (other rules that can act, or
/// have not been judged yet: a rule just created to replace another must not lose the task
/// to a delete) that wants it. `None`: nobody.
fn successor(key: &TaskKey, candidates: &[&ImageSyncRule]) -> Option<RuleName> {
    candidates
        .iter()
        .filter(|o| wants(&o.spec, key))
        .min_by(|a, b| age_order(a, b))
        .map(|o| name_of(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::status::{Condition, ImageSyncRuleStatus, Ownership, TaskStatus};
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

    fn status_with(rule: &mut ImageSyncRule, reason: &str, lines: Vec<TaskStatus>) {
        rule.metadata.generation = Some(1);
        rule.status = Some(ImageSyncRuleStatus {
            observed_generation: Some(1),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: reason.into(),
                message: String::new(),
                last_transition_time: None,
                observed_generation: Some(1),
            }],
            tasks: lines,
            ..ImageSyncRuleStatus::default()
        });
    }

    fn line(
        key: &TaskKey,
        state: TaskState,
        ownership: Option<Ownership>,
        other: Option<&str>,
    ) -> TaskStatus {
        TaskStatus {
            source_region: key.source().region().to_string(),
            source_organization: key.source().organization().to_string(),
            repository: key.source().repository().to_string(),
            target_region: key.target().region().to_string(),
            target_organization: key.target().organization().to_string(),
            override_existing: false,
            sync_auto: true,
            state,
            id: Some(1),
            ownership,
            other_rule: other.map(|name| RuleName {
                namespace: "ns".into(),
                name: name.into(),
            }),
            message: None,
        }
    }

    #[test]
    fn a_task_handed_over_is_compared_with_the_id_its_giver_recorded() {
        let me = rule("me", 1, &["nginx"]);
        let t = nginx(&me);
        let created = Some(Ownership::Created);
        let mut giver = rule("giver", 5, &["nginx"]);
        let releasing = line(&t, TaskState::Releasing, created, Some("me"));
        status_with(&mut giver, "InSync", vec![releasing.clone()]);
        let handed: BTreeMap<TaskKey, Claim> =
            [(t.clone(), Claim::HandedOver(name("giver")))].into();
        let held: BTreeMap<TaskKey, Claim> = [(t.clone(), Claim::Held(name("giver")))].into();
        assert_eq!(
            handed_over_ids(&handed, &[&giver]),
            [(t.clone(), Some(1))].into()
        );
        assert_eq!(
            handed_over_ids(&held, &[&giver]),
            BTreeMap::new(),
            "only hand-overs"
        );
        status_with(
            &mut giver,
            "InSync",
            vec![TaskStatus {
                id: None,
                ..releasing
            }],
        );
        assert_eq!(
            handed_over_ids(&handed, &[&giver]),
            [(t.clone(), None)].into(),
            "an id never recorded proves nothing"
        );
        assert_eq!(
            handed_over_ids(&handed, &[] as &[&ImageSyncRule]),
            [(t, None)].into()
        );
    }

    fn name(n: &str) -> RuleName {
        RuleName {
            namespace: "ns".into(),
            name: n.into(),
        }
    }

    fn nginx(rule: &ImageSyncRule) -> TaskKey {
        desired_tasks(&rule.spec, &["nginx".to_string()])
            .into_keys()
            .next()
            .unwrap()
    }

    /// Claims of `rule` wanting nginx (or, with `owns`, owning it and wanting nothing).
    fn claim_on(
        rule: &ImageSyncRule,
        owns: bool,
        others: &[&ImageSyncRule],
        ledger: &Ledger,
    ) -> Option<Claim> {
        let key = nginx(rule);
        let (desired, owned) = if owns {
            let lines = owned(rule.status.as_ref());
            (BTreeSet::new(), lines)
        } else {
            ([key.clone()].into(), BTreeMap::new())
        };
        let others = Others {
            rules: others,
            ledger,
        };
        claims(rule, &desired, &owned, &others).remove(&key)
    }

    #[test]
    fn an_owner_holds_its_task_until_it_releases_it() {
        let created = Some(Ownership::Created);
        let me = rule("me", 1, &["nginx"]);
        let t = nginx(&me);
        let ledger = Ledger::default();
        let mut owner = rule("owner", 5, &["nginx"]);
        status_with(
            &mut owner,
            "InSync",
            vec![line(&t, TaskState::InSync, created, None)],
        );
        assert_eq!(
            claim_on(&me, false, &[&owner], &ledger),
            Some(Claim::Held(name("owner"))),
            "older or not, the owner holds it"
        );

        status_with(
            &mut owner,
            "InSync",
            vec![line(&t, TaskState::Releasing, created, Some("me"))],
        );
        assert_eq!(
            claim_on(&me, false, &[&owner], &ledger),
            Some(Claim::HandedOver(name("owner")))
        );
        status_with(
            &mut owner,
            "InSync",
            vec![line(&t, TaskState::Releasing, created, Some("third"))],
        );
        assert_eq!(
            claim_on(&me, false, &[&owner], &ledger),
            Some(Claim::Held(name("owner")))
        );

        // A conflict line or an external one is nobody's ownership.
        status_with(
            &mut owner,
            "Conflict",
            vec![line(&t, TaskState::Conflict, None, Some("x"))],
        );
        assert_eq!(claim_on(&me, false, &[&owner], &ledger), None);
        status_with(
            &mut owner,
            "InSync",
            vec![line(&t, TaskState::External, None, None)],
        );
        assert_eq!(claim_on(&me, false, &[&owner], &ledger), None);

        // The ledger is ahead of the cache, once the acquisition is written.
        ledger.acquire(&name("fast"), [&t]);
        assert_eq!(
            claim_on(&me, false, &[&owner], &ledger),
            None,
            "not shown before it is written..."
        );
        let refused = ledger.acquire(&name("me"), [&t]);
        assert_eq!(
            refused.get(&t),
            Some(&name("fast")),
            "...but not free either"
        );
        ledger.record(&name("fast"), [(&t, None)]);
        assert_eq!(
            claim_on(&me, false, &[&owner], &ledger),
            Some(Claim::Held(name("fast")))
        );
        ledger.record(&name("fast"), [(&t, Some(&name("me")))]);
        assert_eq!(
            claim_on(&me, false, &[&owner], &ledger),
            Some(Claim::HandedOver(name("fast")))
        );
    }

    #[test]
    fn a_free_task_is_nobodys_claim_whatever_the_ages() {
        let ledger = Ledger::default();
        let mut older = rule("older", 1, &["nginx"]);
        status_with(&mut older, "InSync", vec![]);
        let newer = rule("newer", 9, &["nginx"]);
        assert_eq!(claim_on(&newer, false, &[&older, &newer], &ledger), None);
    }

    #[test]
    fn an_unwanted_task_goes_to_the_oldest_rule_that_wants_it_and_can_act() {
        let ledger = Ledger::default();
        let mut me = rule("me", 1, &["nginx"]);
        let t = nginx(&me);
        status_with(
            &mut me,
            "InSync",
            vec![line(&t, TaskState::InSync, Some(Ownership::Created), None)],
        );
        let mut able = rule("able", 7, &["nginx"]);
        status_with(&mut able, "Conflict", vec![]);
        let mut older_unable = rule("broken", 3, &["nginx"]);
        status_with(&mut older_unable, "CredentialsMissing", vec![]);
        let mut deleting = rule("deleting", 2, &["nginx"]);
        status_with(&mut deleting, "Conflict", vec![]);
        deleting.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        let others = [&able, &older_unable, &deleting, &me];
        assert_eq!(
            claim_on(&me, true, &others, &ledger),
            Some(Claim::Wanted(name("able")))
        );

        // A rule not judged yet is waited for: it may be the one replacing this one.
        let fresh = rule("fresh", 5, &["nginx"]);
        assert_eq!(
            claim_on(&me, true, &[&able, &fresh], &ledger),
            Some(Claim::Wanted(name("fresh")))
        );
        // Nobody able: no claim (the rule prunes, retains or deletes it).
        assert_eq!(
            claim_on(&me, true, &[&older_unable, &deleting], &ledger),
            None
        );

        // Once the successor holds it, it is taken.
        status_with(
            &mut me,
            "InSync",
            vec![line(
                &t,
                TaskState::Releasing,
                Some(Ownership::Created),
                Some("able"),
            )],
        );
        ledger.record(&name("me"), [(&t, Some(&name("able")))]);
        assert_eq!(
            claim_on(&me, true, &[&able], &ledger),
            Some(Claim::Wanted(name("able")))
        );
        ledger.acquire(&name("able"), [&t]);
        assert_eq!(
            claim_on(&me, true, &[&able], &ledger),
            Some(Claim::Wanted(name("able"))),
            "taken only once the taker's status is written"
        );
        ledger.record(&name("able"), [(&t, None)]);
        assert_eq!(
            claim_on(&me, true, &[&able], &ledger),
            Some(Claim::Taken(name("able")))
        );
    }
}
