//! The leader's record of who owns which task, updated by each pass as it decides, before the
//! status write reaches the watch cache. Without it, two rules reconciled at the same time
//! could both take a free task, and a rule woken to take over a released task could still
//! see the old owner in its cache. Statuses remain the durable record: a new leader starts
//! with an empty ledger and reads ownership from the cached statuses.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use super::plan::TaskKey;
use crate::api::status::RuleName;

/// Who holds a task, and to whom it is being released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// The owner.
    pub holder: RuleName,
    /// The rule it is being handed over to, if any.
    pub releasing_to: Option<RuleName>,
}

/// Task ownership as this process last decided it.
#[derive(Debug, Default)]
pub struct Ledger {
    // Never held across an await.
    inner: Mutex<Books>,
}

#[derive(Debug, Default)]
struct Books {
    tasks: HashMap<TaskKey, Holding>,
    of_rule: HashMap<RuleName, HashSet<TaskKey>>,
}

impl Ledger {
    /// Who holds `key`, if this process has decided it.
    pub fn holding(&self, key: &TaskKey) -> Option<Holding> {
        self.books().tasks.get(key).cloned()
    }

    /// Takes `keys` for `rule`: each is free, already `rule`'s, or released to `rule`.
    /// Returns the keys another rule holds, with that rule; those are not taken.
    pub fn acquire<'a>(
        &self,
        rule: &RuleName,
        keys: impl IntoIterator<Item = &'a TaskKey>,
    ) -> BTreeMap<TaskKey, RuleName> {
        let mut books = self.books();
        let mut refused = BTreeMap::new();
        for key in keys {
            match books.tasks.get(key) {
                Some(h) if &h.holder != rule && h.releasing_to.as_ref() != Some(rule) => {
                    refused.insert(key.clone(), h.holder.clone());
                }
                _ => books.hold(key, rule, None),
            }
        }
        refused
    }

    /// Records what `rule` holds after a pass (each owned task, with the rule it is being
    /// released to), replacing what it held before. A task another rule has taken since is
    /// left with that rule.
    pub fn record<'a>(
        &self,
        rule: &RuleName,
        owned: impl IntoIterator<Item = (&'a TaskKey, Option<&'a RuleName>)>,
    ) {
        let mut books = self.books();
        let before = books.of_rule.remove(rule).unwrap_or_default();
        for key in &before {
            if books.tasks.get(key).is_some_and(|h| &h.holder == rule) {
                books.tasks.remove(key);
            }
        }
        for (key, releasing_to) in owned {
            match books.tasks.get(key) {
                Some(h) if &h.holder != rule => {}
                _ => books.hold(key, rule, releasing_to.cloned()),
            }
        }
    }

    /// Forgets a rule that is gone.
    pub fn forget(&self, rule: &RuleName) {
        self.record(rule, []);
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.inner.lock().expect("ledger lock")
    }
}

impl Books {
    fn hold(&mut self, key: &TaskKey, rule: &RuleName, releasing_to: Option<RuleName>) {
        if let Some(previous) = self.tasks.get(key) {
            if &previous.holder != rule {
                if let Some(keys) = self.of_rule.get_mut(&previous.holder) {
                    keys.remove(key);
                }
            }
        }
        let holding = Holding {
            holder: rule.clone(),
            releasing_to,
        };
        self.tasks.insert(key.clone(), holding);
        self.of_rule
            .entry(rule.clone())
            .or_default()
            .insert(key.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(repo: &str) -> TaskKey {
        TaskKey {
            source_region: "cn-north-4".into(),
            source_organization: "platform".into(),
            repository: repo.into(),
            target_region: "cn-east-3".into(),
            target_organization: "dr".into(),
        }
    }

    fn rule(name: &str) -> RuleName {
        RuleName {
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    #[test]
    fn the_first_to_acquire_holds_and_a_release_names_the_next() {
        let ledger = Ledger::default();
        let (a, b, c) = (rule("a"), rule("b"), rule("c"));
        let t = key("nginx");
        assert!(ledger.acquire(&a, [&t]).is_empty());
        assert!(ledger.acquire(&a, [&t]).is_empty(), "again: still a's");
        assert_eq!(ledger.acquire(&b, [&t]), [(t.clone(), a.clone())].into());

        // a releases it to b: c still cannot take it, b can.
        ledger.record(&a, [(&t, Some(&b))]);
        assert_eq!(ledger.acquire(&c, [&t]), [(t.clone(), a.clone())].into());
        assert!(ledger.acquire(&b, [&t]).is_empty());
        assert_eq!(ledger.holding(&t).unwrap().holder, b);

        // a's next record no longer lists it, and must not take it from b.
        ledger.record(&a, [(&t, None)]);
        assert_eq!(ledger.holding(&t).unwrap().holder, b);
        ledger.record(&a, []);
        assert_eq!(ledger.holding(&t).unwrap().holder, b);
    }

    #[test]
    fn a_record_replaces_what_the_rule_held_and_forget_frees_everything() {
        let ledger = Ledger::default();
        let (a, b) = (rule("a"), rule("b"));
        let (t, u) = (key("nginx"), key("redis"));
        ledger.acquire(&a, [&t, &u]);
        ledger.record(&a, [(&t, None)]);
        assert!(ledger.holding(&u).is_none(), "u was dropped");
        assert!(ledger.acquire(&b, [&u]).is_empty());
        ledger.forget(&a);
        assert!(ledger.holding(&t).is_none());
        assert_eq!(ledger.holding(&u).unwrap().holder, b);
    }
}
