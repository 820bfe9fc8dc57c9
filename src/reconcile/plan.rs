//! The planner: desired tasks + what SWR has + the tasks the rule owns + other rules' claims
//! → the actions to take and how every task stands. Pure: no I/O, no clock.
//!
//! Only owned tasks are ever changed or deleted. A wanted task that exists but nobody owns
//! was made outside the operator: it is left alone (`external`) unless the rule adopts.

use std::collections::BTreeMap;

use super::task::{ObservedTask, Settings, TaskKey};
use crate::api::status::{Ownership, RuleName};

/// Another rule's standing on a task, as far as this rule is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Another rule holds it (owns it, or is handing it to a third rule): leave it alone.
    Held(RuleName),
    /// Its owner is releasing it to this rule: take it over.
    HandedOver(RuleName),
    /// (A task this rule owns and no longer wants, or cannot act on.) This rule, another
    /// rule wants it and may act: release it to that rule instead of deleting it.
    Wanted(RuleName),
    /// (A task this rule owns and no longer wants.) The rule it was released to has taken
    /// it: drop it from the inventory.
    Taken(RuleName),
}

/// What to change in SWR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create a missing task (the rule then owns it as `Created`).
    Create {
        /// Task.
        key: TaskKey,
        /// Desired settings.
        settings: Settings,
    },
    /// Delete and re-create a task whose settings drifted.
    Replace {
        /// Task.
        key: TaskKey,
        /// Id of the drifted task, if known.
        id: Option<i64>,
        /// Desired settings.
        settings: Settings,
        /// How the rule holds it (an adopted or handed-over task stays so).
        ownership: Ownership,
    },
    /// Delete a task the rule owns and no longer wants.
    Delete {
        /// Task.
        key: TaskKey,
        /// Id of the task, if known.
        id: Option<i64>,
        /// Its settings (kept in the inventory until the delete succeeds).
        settings: Settings,
        /// How the rule holds it.
        ownership: Ownership,
    },
}

impl Action {
    /// The task acted on.
    pub fn key(&self) -> &TaskKey {
        match self {
            Self::Create { key, .. } | Self::Replace { key, .. } | Self::Delete { key, .. } => key,
        }
    }

    /// How the rule holds the task once the action is done (or while it is under way).
    pub fn ownership(&self) -> Ownership {
        match self {
            Self::Create { .. } => Ownership::Created,
            Self::Replace { ownership, .. } | Self::Delete { ownership, .. } => *ownership,
        }
    }
}

/// Inputs of [`plan`].
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    /// What the rule wants.
    pub desired: BTreeMap<TaskKey, Settings>,
    /// What SWR has, for every repository that was listed.
    pub observed: BTreeMap<TaskKey, ObservedTask>,
    /// Tasks this rule owns (its status inventory), and how.
    pub owned: BTreeMap<TaskKey, Ownership>,
    /// Other rules' claims (see `claims::claims`).
    pub claims: BTreeMap<TaskKey, Claim>,
    /// Delete owned tasks that are no longer desired.
    pub prune: bool,
    /// Take wanted tasks made outside the operator into the inventory.
    pub adopt: bool,
}

/// A task found in SWR, and how this rule holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// As SWR lists it.
    pub found: ObservedTask,
    /// How this rule holds it.
    pub ownership: Ownership,
}

/// The outcome of planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Changes to make, creates and replaces first, then deletes.
    pub actions: Vec<Action>,
    /// Desired tasks the rule owns that already match.
    pub in_sync: BTreeMap<TaskKey, Held>,
    /// Desired tasks made outside the operator, left alone, with the settings the rule
    /// wants (they may differ from what SWR has).
    pub external: BTreeMap<TaskKey, (ObservedTask, Settings)>,
    /// Desired tasks another rule holds; left alone.
    pub conflicts: BTreeMap<TaskKey, (Settings, RuleName)>,
    /// Unwanted owned tasks kept because `prune` is off.
    pub retained: BTreeMap<TaskKey, Held>,
    /// Unwanted owned tasks another rule wants: kept until that rule takes them over.
    pub releasing: BTreeMap<TaskKey, (Held, RuleName)>,
}

impl Plan {
    /// Gives up the tasks another rule acquired first (see `Ledger::acquire`): their
    /// actions are dropped and they become conflicts.
    pub fn yield_to(
        &mut self,
        taken: &BTreeMap<TaskKey, RuleName>,
        desired: &BTreeMap<TaskKey, Settings>,
    ) {
        self.actions.retain(|a| !taken.contains_key(a.key()));
        for (key, holder) in taken {
            self.in_sync.remove(key);
            if let Some(settings) = desired.get(key) {
                self.conflicts
                    .insert(key.clone(), (*settings, holder.clone()));
            }
        }
    }

    /// The tasks this plan acts on or keeps as the rule's: they must be acquired before
    /// anything is written or called (a task taken over, or one released meanwhile, may be
    /// another rule's by now).
    pub fn acquisitions(&self) -> impl Iterator<Item = &TaskKey> {
        self.actions
            .iter()
            .map(Action::key)
            .chain(self.in_sync.keys())
    }
}

/// The owned tasks SWR now lists under another id than the one the rule recorded: the
/// rule's task was deleted (by its own delete whose answer was lost, or by somebody else)
/// and the task there now was made again by somebody else. They are not the rule's: it
/// must neither keep nor delete them (`docs/ownership.md`, "Task ids"). An id unknown on
/// either side (a create's answer carries none, and the listings keep none for a task this
/// process made since they were fetched) proves nothing.
pub fn remade<'a>(
    recorded: impl IntoIterator<Item = (&'a TaskKey, Option<i64>)>,
    observed: &BTreeMap<TaskKey, ObservedTask>,
) -> BTreeMap<TaskKey, (i64, i64)> {
    recorded
        .into_iter()
        .filter_map(|(key, id)| {
            let listed = observed.get(key)?.id?;
            let id = id?;
            (id != listed).then(|| (key.clone(), (id, listed)))
        })
        .collect()
}

/// Decides what to do. Deterministic: the same input always gives the same plan.
pub fn plan(input: &PlanInput) -> Plan {
    let mut out = Plan::default();
    let mut deletes = Vec::new();
    for (key, &settings) in &input.desired {
        let ownership = match (input.claims.get(key), input.owned.get(key)) {
            (Some(Claim::Held(holder)), _) => {
                out.conflicts
                    .insert(key.clone(), (settings, holder.clone()));
                continue;
            }
            (Some(Claim::HandedOver(_)), _) => Some(Ownership::HandedOver),
            (_, Some(&ownership)) => Some(ownership),
            _ if input.adopt => Some(Ownership::Adopted),
            _ => None,
        };
        match (input.observed.get(key), ownership) {
            (None, _) => out.actions.push(Action::Create {
                key: key.clone(),
                settings,
            }),
            (Some(found), None) => {
                out.external.insert(key.clone(), (found.clone(), settings));
            }
            (Some(found), Some(ownership)) if found.settings == settings => {
                let held = Held {
                    found: found.clone(),
                    ownership,
                };
                out.in_sync.insert(key.clone(), held);
            }
            (Some(found), Some(ownership)) => out.actions.push(Action::Replace {
                key: key.clone(),
                id: found.id,
                settings,
                ownership,
            }),
        }
    }
    for (key, &ownership) in &input.owned {
        if input.desired.contains_key(key) {
            continue;
        }
        // Gone from SWR, or taken over by the rule it was released to: no longer ours.
        let Some(found) = input.observed.get(key) else {
            continue;
        };
        let held = Held {
            found: found.clone(),
            ownership,
        };
        match input.claims.get(key) {
            Some(Claim::Taken(_) | Claim::Held(_) | Claim::HandedOver(_)) => {}
            Some(Claim::Wanted(successor)) => {
                out.releasing.insert(key.clone(), (held, successor.clone()));
            }
            None if input.prune => deletes.push(Action::Delete {
                key: key.clone(),
                id: found.id,
                settings: found.settings,
                ownership,
            }),
            None => {
                out.retained.insert(key.clone(), held);
            }
        }
    }
    out.actions.extend(deletes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(repo: &str, region: &str) -> TaskKey {
        TaskKey::sample(repo, region)
    }

    const AUTO: Settings = Settings {
        override_existing: false,
        sync_auto: true,
    };
    const OVERRIDE: Settings = Settings {
        override_existing: true,
        sync_auto: true,
    };

    fn seen(id: i64, settings: Settings) -> ObservedTask {
        ObservedTask {
            id: Some(id),
            settings,
        }
    }

    const CREATED: Ownership = Ownership::Created;

    fn rule(name: &str) -> RuleName {
        RuleName {
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    struct Case {
        name: &'static str,
        desired: Vec<(TaskKey, Settings)>,
        observed: Vec<(TaskKey, ObservedTask)>,
        owned: Vec<(TaskKey, Ownership)>,
        claims: Vec<(TaskKey, Claim)>,
        prune: bool,
        adopt: bool,
        expect_actions: Vec<Action>,
        /// (in sync, external, conflicts, retained, releasing)
        expect: (usize, usize, usize, usize, usize),
    }

    impl Default for Case {
        fn default() -> Self {
            Self {
                name: "",
                desired: vec![],
                observed: vec![],
                owned: vec![],
                claims: vec![],
                prune: true,
                adopt: false,
                expect_actions: vec![],
                expect: (0, 0, 0, 0, 0),
            }
        }
    }

    #[test]
    fn planner_table() {
        let a = key("nginx", "cn-east-3");
        let b = key("nginx", "ap-southeast-1");
        let create_a = Action::Create {
            key: a.clone(),
            settings: AUTO,
        };
        let cases = vec![
            Case {
                name: "missing task is created",
                desired: vec![(a.clone(), AUTO)],
                expect_actions: vec![create_a.clone()],
                ..Case::default()
            },
            Case {
                name: "owned matching task is left alone",
                desired: vec![(a.clone(), AUTO)],
                observed: vec![(a.clone(), seen(7, AUTO))],
                owned: vec![(a.clone(), CREATED)],
                expect: (1, 0, 0, 0, 0),
                ..Case::default()
            },
            Case {
                name: "owned drifted task is replaced, keeping its ownership",
                desired: vec![(a.clone(), OVERRIDE)],
                observed: vec![(a.clone(), seen(7, AUTO))],
                owned: vec![(a.clone(), Ownership::Adopted)],
                expect_actions: vec![Action::Replace {
                    key: a.clone(),
                    id: Some(7),
                    settings: OVERRIDE,
                    ownership: Ownership::Adopted,
                }],
                ..Case::default()
            },
            Case {
                name: "a matching task made outside is external, not taken",
                desired: vec![(a.clone(), AUTO)],
                observed: vec![(a.clone(), seen(7, AUTO))],
                expect: (0, 1, 0, 0, 0),
                ..Case::default()
            },
            Case {
                name: "a drifted task made outside is external, never replaced",
                desired: vec![(a.clone(), OVERRIDE)],
                observed: vec![(a.clone(), seen(7, AUTO))],
                expect: (0, 1, 0, 0, 0),
                ..Case::default()
            },
            Case {
                name: "adopting takes a matching task made outside",
                desired: vec![(a.clone(), AUTO)],
                observed: vec![(a.clone(), seen(7, AUTO))],
                adopt: true,
                expect: (1, 0, 0, 0, 0),
                ..Case::default()
            },
            Case {
                name: "adopting replaces a drifted task made outside",
                desired: vec![(a.clone(), OVERRIDE)],
                observed: vec![(a.clone(), seen(7, AUTO))],
                adopt: true,
                expect_actions: vec![Action::Replace {
                    key: a.clone(),
                    id: Some(7),
                    settings: OVERRIDE,
                    ownership: Ownership::Adopted,
                }],
                ..Case::default()
            },
            Case {
                name: "owned task no longer wanted is pruned",
                observed: vec![(b.clone(), seen(9, AUTO))],
                owned: vec![(b.clone(), CREATED)],
                expect_actions: vec![Action::Delete {
                    key: b.clone(),
                    id: Some(9),
                    settings: AUTO,
                    ownership: CREATED,
                }],
                ..Case::default()
            },
            Case {
                name: "prune off retains it",
                observed: vec![(b.clone(), seen(9, AUTO))],
                owned: vec![(b.clone(), CREATED)],
                prune: false,
                expect: (0, 0, 0, 1, 0),
                ..Case::default()
            },
            Case {
                name: "a task not owned is never deleted",
                desired: vec![(a.clone(), AUTO)],
                observed: vec![(a.clone(), seen(7, AUTO)), (b.clone(), seen(9, AUTO))],
                owned: vec![(a.clone(), CREATED)],
                expect: (1, 0, 0, 0, 0),
                ..Case::default()
            },
            Case {
                name: "a task another rule holds is a conflict, nothing is done",
                desired: vec![(a.clone(), AUTO)],
                claims: vec![(a.clone(), Claim::Held(rule("other")))],
                expect: (0, 0, 1, 0, 0),
                ..Case::default()
            },
            Case {
                name: "a task handed over is taken as it is",
                desired: vec![(a.clone(), AUTO)],
                observed: vec![(a.clone(), seen(7, AUTO))],
                claims: vec![(a.clone(), Claim::HandedOver(rule("other")))],
                expect: (1, 0, 0, 0, 0),
                ..Case::default()
            },
            Case {
                name: "an unwanted task another rule wants is released, not deleted",
                observed: vec![(b.clone(), seen(9, AUTO))],
                owned: vec![(b.clone(), CREATED)],
                claims: vec![(b.clone(), Claim::Wanted(rule("other")))],
                expect: (0, 0, 0, 0, 1),
                ..Case::default()
            },
            Case {
                name: "a released task once taken leaves the inventory",
                observed: vec![(b.clone(), seen(9, AUTO))],
                owned: vec![(b.clone(), CREATED)],
                claims: vec![(b.clone(), Claim::Taken(rule("other")))],
                ..Case::default()
            },
            Case {
                name: "owned task already gone needs nothing",
                owned: vec![(b.clone(), CREATED)],
                ..Case::default()
            },
            Case {
                name: "creates come before deletes",
                desired: vec![(a.clone(), AUTO)],
                observed: vec![(b.clone(), seen(9, AUTO))],
                owned: vec![(b.clone(), CREATED)],
                expect_actions: vec![
                    create_a.clone(),
                    Action::Delete {
                        key: b.clone(),
                        id: Some(9),
                        settings: AUTO,
                        ownership: CREATED,
                    },
                ],
                ..Case::default()
            },
        ];
        for case in cases {
            let input = PlanInput {
                desired: case.desired.into_iter().collect(),
                observed: case.observed.into_iter().collect(),
                owned: case.owned.into_iter().collect(),
                claims: case.claims.into_iter().collect(),
                prune: case.prune,
                adopt: case.adopt,
            };
            let p = plan(&input);
            assert_eq!(p.actions, case.expect_actions, "{}", case.name);
            let counts = (
                p.in_sync.len(),
                p.external.len(),
                p.conflicts.len(),
                p.retained.len(),
                p.releasing.len(),
            );
            assert_eq!(counts, case.expect, "{}", case.name);
            assert_eq!(plan(&input), p, "{} is deterministic", case.name);
        }
    }

    #[test]
    fn a_task_listed_under_another_id_was_made_again_by_somebody_else() {
        let (a, b, c) = (key("a", "x"), key("b", "x"), key("c", "x"));
        let (d, e) = (key("d", "x"), key("e", "x"));
        let unknown = ObservedTask {
            id: None,
            settings: AUTO,
        };
        let observed = [
            (a.clone(), seen(7, AUTO)),
            (b.clone(), seen(8, AUTO)),
            (c.clone(), seen(9, AUTO)),
            (d.clone(), unknown),
        ]
        .into();
        let recorded = [
            (&a, Some(7)),
            (&b, Some(5)),
            (&c, None),
            (&d, Some(4)),
            (&e, Some(3)),
        ];
        assert_eq!(
            remade(recorded, &observed),
            [(b.clone(), (5, 8))].into(),
            "the same id, an id unknown on either side, or a task gone prove nothing"
        );
    }

    #[test]
    fn a_task_acquired_by_another_rule_first_becomes_a_conflict() {
        let a = key("nginx", "cn-east-3");
        let input = PlanInput {
            desired: [(a.clone(), AUTO)].into(),
            ..PlanInput::default()
        };
        let mut p = plan(&input);
        assert_eq!(p.acquisitions().collect::<Vec<_>>(), vec![&a]);
        p.yield_to(&[(a.clone(), rule("first"))].into(), &input.desired);
        assert!(p.actions.is_empty());
        assert_eq!(p.conflicts[&a].1, rule("first"));
    }
}
