//! The planner: desired tasks + what SWR has + the rule's inventory + other rules' claims →
//! the actions to take. Pure: no I/O, no clock.

use std::collections::{BTreeMap, BTreeSet};

/// Identity of an SWR auto-sync task: one source repository to one target organization.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    /// Source region.
    pub source_region: String,
    /// Source organization.
    pub source_organization: String,
    /// Source repository.
    pub repository: String,
    /// Target region.
    pub target_region: String,
    /// Target organization.
    pub target_organization: String,
}

/// The mutable part of a task; SWR cannot update it, only delete and create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Settings {
    /// `override`.
    pub override_existing: bool,
    /// `syncAuto`.
    pub sync_auto: bool,
}

/// A task as SWR lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTask {
    /// SWR task id; `None` for a task this process created since SWR last listed it
    /// (a create returns no id).
    pub id: Option<i64>,
    /// Its settings.
    pub settings: Settings,
}

/// Another rule's interest in a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// An older rule wants it: it wins.
    Older,
    /// A newer rule wants it: this rule wins where both want it.
    Newer,
}

/// What to change in SWR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create a missing task.
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
    },
    /// Delete a task the rule made and no longer wants.
    Delete {
        /// Task.
        key: TaskKey,
        /// Id of the task, if known.
        id: Option<i64>,
        /// Its settings (kept in the inventory until the delete succeeds).
        settings: Settings,
    },
}

impl Action {
    /// The task acted on.
    pub fn key(&self) -> &TaskKey {
        match self {
            Self::Create { key, .. } | Self::Replace { key, .. } | Self::Delete { key, .. } => key,
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
    /// Tasks this rule manages (its status inventory, conflicts excluded).
    pub inventory: BTreeSet<TaskKey>,
    /// Other rules' claims on tasks.
    pub claims: BTreeMap<TaskKey, Claim>,
    /// Delete inventory tasks that are no longer desired.
    pub prune: bool,
}

/// The outcome of planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Changes to make, creates and replaces first, then deletes.
    pub actions: Vec<Action>,
    /// Desired tasks that already match.
    pub in_sync: BTreeMap<TaskKey, ObservedTask>,
    /// Desired tasks an older rule manages; left alone.
    pub conflicts: BTreeMap<TaskKey, Settings>,
    /// Unwanted inventory tasks kept because `prune` is off.
    pub retained: BTreeMap<TaskKey, ObservedTask>,
    /// Unwanted inventory tasks another rule wants; handed over, not deleted.
    pub released: BTreeSet<TaskKey>,
}

/// Decides what to do. Deterministic: the same input always gives the same plan.
pub fn plan(input: &PlanInput) -> Plan {
    let mut out = Plan::default();
    let mut deletes = Vec::new();
    for (key, &settings) in &input.desired {
        if input.claims.get(key) == Some(&Claim::Older) {
            out.conflicts.insert(key.clone(), settings);
            continue;
        }
        match input.observed.get(key) {
            Some(found) if found.settings == settings => {
                out.in_sync.insert(key.clone(), found.clone());
            }
            Some(found) => out.actions.push(Action::Replace {
                key: key.clone(),
                id: found.id,
                settings,
            }),
            None => out.actions.push(Action::Create {
                key: key.clone(),
                settings,
            }),
        }
    }
    for (key, found) in &input.observed {
        if input.desired.contains_key(key) {
            continue;
        }
        // Not in the inventory: another rule's or a human's task, not this rule's business.
        // (It is not counted either: such counts change whenever another rule works on the
        // same repository, and would cost this rule status writes.)
        if !input.inventory.contains(key) {
            continue;
        } else if input.claims.contains_key(key) {
            out.released.insert(key.clone());
        } else if input.prune {
            deletes.push(Action::Delete {
                key: key.clone(),
                id: found.id,
                settings: found.settings,
            });
        } else {
            out.retained.insert(key.clone(), found.clone());
        }
    }
    out.actions.extend(deletes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(repo: &str, region: &str) -> TaskKey {
        TaskKey {
            source_region: "cn-north-4".into(),
            source_organization: "platform".into(),
            repository: repo.into(),
            target_region: region.into(),
            target_organization: "dr".into(),
        }
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

    struct Case {
        name: &'static str,
        desired: Vec<(TaskKey, Settings)>,
        observed: Vec<(TaskKey, ObservedTask)>,
        inventory: Vec<TaskKey>,
        claims: Vec<(TaskKey, Claim)>,
        prune: bool,
        expect_actions: Vec<Action>,
        expect_in_sync: usize,
        expect_conflicts: usize,
        expect_retained: usize,
        expect_released: usize,
    }

    impl Default for Case {
        fn default() -> Self {
            Self {
                name: "",
                desired: vec![],
                observed: vec![],
                inventory: vec![],
                claims: vec![],
                prune: true,
                expect_actions: vec![],
                expect_in_sync: 0,
                expect_conflicts: 0,
                expect_retained: 0,
                expect_released: 0,
            }
        }
    }

    #[test]
    fn planner_table() {
        let a = key("nginx", "cn-east-3");
        let b = key("nginx", "ap-southeast-1");
        let cases = vec![
            Case {
                name: "missing task is created",
                desired: vec![(a.clone(), AUTO)],
                expect_actions: vec![Action::Create {
                    key: a.clone(),
                    settings: AUTO,
                }],
                ..Case::default()
            },
            Case {
                name: "matching task is left alone",
                desired: vec![(a.clone(), AUTO)],
                observed: vec![(a.clone(), seen(7, AUTO))],
                inventory: vec![a.clone()],
                expect_in_sync: 1,
                ..Case::default()
            },
            Case {
                name: "override drift is replaced",
                desired: vec![(a.clone(), OVERRIDE)],
                observed: vec![(a.clone(), seen(7, AUTO))],
                inventory: vec![a.clone()],
                expect_actions: vec![Action::Replace {
                    key: a.clone(),
                    id: Some(7),
                    settings: OVERRIDE,
                }],
                ..Case::default()
            },
            Case {
                name: "syncAuto drift is replaced",
                desired: vec![(
                    a.clone(),
                    Settings {
                        sync_auto: false,
                        ..AUTO
                    },
                )],
                observed: vec![(a.clone(), seen(7, AUTO))],
                expect_actions: vec![Action::Replace {
                    key: a.clone(),
                    id: Some(7),
                    settings: Settings {
                        sync_auto: false,
                        ..AUTO
                    },
                }],
                ..Case::default()
            },
            Case {
                name: "inventory task no longer wanted is pruned",
                observed: vec![(b.clone(), seen(9, AUTO))],
                inventory: vec![b.clone()],
                expect_actions: vec![Action::Delete {
                    key: b.clone(),
                    id: Some(9),
                    settings: AUTO,
                }],
                ..Case::default()
            },
            Case {
                name: "prune off retains it",
                observed: vec![(b.clone(), seen(9, AUTO))],
                inventory: vec![b.clone()],
                prune: false,
                expect_retained: 1,
                ..Case::default()
            },
            Case {
                name: "foreign task is left alone",
                desired: vec![(a.clone(), AUTO)],
                observed: vec![(a.clone(), seen(7, AUTO)), (b.clone(), seen(9, AUTO))],
                inventory: vec![a.clone()],
                expect_in_sync: 1,
                ..Case::default()
            },
            Case {
                name: "older rule's claim is a conflict, nothing is done",
                desired: vec![(a.clone(), AUTO)],
                claims: vec![(a.clone(), Claim::Older)],
                expect_conflicts: 1,
                ..Case::default()
            },
            Case {
                name: "newer rule's claim does not stop this rule",
                desired: vec![(a.clone(), AUTO)],
                claims: vec![(a.clone(), Claim::Newer)],
                expect_actions: vec![Action::Create {
                    key: a.clone(),
                    settings: AUTO,
                }],
                ..Case::default()
            },
            Case {
                name: "unwanted task another rule wants is released, not deleted",
                observed: vec![(b.clone(), seen(9, AUTO))],
                inventory: vec![b.clone()],
                claims: vec![(b.clone(), Claim::Newer)],
                expect_released: 1,
                ..Case::default()
            },
            Case {
                name: "inventory task already gone needs nothing",
                inventory: vec![b.clone()],
                ..Case::default()
            },
            Case {
                name: "creates come before deletes",
                desired: vec![(a.clone(), AUTO)],
                observed: vec![(b.clone(), seen(9, AUTO))],
                inventory: vec![b.clone()],
                expect_actions: vec![
                    Action::Create {
                        key: a.clone(),
                        settings: AUTO,
                    },
                    Action::Delete {
                        key: b.clone(),
                        id: Some(9),
                        settings: AUTO,
                    },
                ],
                ..Case::default()
            },
        ];
        for case in cases {
            let input = PlanInput {
                desired: case.desired.into_iter().collect(),
                observed: case.observed.into_iter().collect(),
                inventory: case.inventory.into_iter().collect(),
                claims: case.claims.into_iter().collect(),
                prune: case.prune,
            };
            let p = plan(&input);
            assert_eq!(p.actions, case.expect_actions, "{}", case.name);
            assert_eq!(p.in_sync.len(), case.expect_in_sync, "{}", case.name);
            assert_eq!(p.conflicts.len(), case.expect_conflicts, "{}", case.name);
            assert_eq!(p.retained.len(), case.expect_retained, "{}", case.name);
            assert_eq!(p.released.len(), case.expect_released, "{}", case.name);
            assert_eq!(plan(&input), p, "{} is deterministic", case.name);
        }
    }
}
