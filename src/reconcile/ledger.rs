//! The leader's record of who owns which task, updated by each pass as it decides, before the
//! status write reaches the watch cache. Without it, two rules reconciled at the same time
//! could both take a free task, and a rule woken to take over a released task could still
//! see the old owner in its cache. Statuses remain the durable record: a new leader starts
//! with an empty ledger and reads ownership from the cached statuses.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::task::TaskKey;
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
    tasks: HashMap<TaskKey, Entry>,
    of_rule: HashMap<RuleName, HashSet<TaskKey>>,
}

/// A task's holding. An acquisition is provisional until the pass that made it has written
/// its status (`record`); until then the holding it replaced is kept, to be restored if the
/// pass fails (`rollback`), and it is what other rules are shown (`holding`).
#[derive(Debug, Clone)]
struct Entry {
    now: Holding,
    confirmed: bool,
    before: Option<Holding>,
    /// Since when `now` has been released to its `releasing_to`.
    releasing_since: Option<Instant>,
}

impl Ledger {
    /// Who holds `key` as far as the written statuses go (a provisional acquisition is not
    /// shown yet), if this process has decided it.
    pub fn holding(&self, key: &TaskKey) -> Option<Holding> {
        let books = self.books();
        let entry = books.tasks.get(key)?;
        match entry.confirmed {
            true => Some(entry.now.clone()),
            false => entry.before.clone(),
        }
    }

    /// The rule `key` has been released to by `rule` for longer than `limit`.
    pub fn overdue(&self, key: &TaskKey, rule: &RuleName, limit: Duration) -> Option<RuleName> {
        let books = self.books();
        let entry = books.tasks.get(key).filter(|e| &e.now.holder == rule)?;
        let since = entry.releasing_since?;
        (since.elapsed() > limit)
            .then(|| entry.now.releasing_to.clone())
            .flatten()
    }

    /// Takes `keys` for `rule` before it acts on them: each must be free, `rule`'s own (one
    /// it was releasing is taken back), or released to `rule`. Returns the keys another
    /// rule holds, with that rule; those are not taken and must not be acted on.
    pub fn acquire<'a>(
        &self,
        rule: &RuleName,
        keys: impl IntoIterator<Item = &'a TaskKey>,
    ) -> BTreeMap<TaskKey, RuleName> {
        let mut books = self.books();
        let mut refused = BTreeMap::new();
        for key in keys {
            let current = books.tasks.get(key).cloned();
            match current {
                Some(e) if &e.now.holder == rule && e.now.releasing_to.is_none() => {}
                Some(e) if &e.now.holder == rule || e.now.releasing_to.as_ref() == Some(rule) => {
                    books.hold(key, rule, None, false, Some(e.now));
                }
                Some(e) => {
                    refused.insert(key.clone(), e.now.holder);
                }
                None => books.hold(key, rule, None, false, None),
            }
        }
        refused
    }

    /// Records what `rule` holds after a pass whose status was written (each owned task,
    /// with the rule it is being released to): its acquisitions are confirmed, what it no
    /// longer lists is let go. A task another rule has taken since is left with that rule.
    pub fn record<'a>(
        &self,
        rule: &RuleName,
        owned: impl IntoIterator<Item = (&'a TaskKey, Option<&'a RuleName>)>,
    ) {
        let mut books = self.books();
        let owned: BTreeMap<&TaskKey, Option<&RuleName>> = owned.into_iter().collect();
        for key in books.of_rule.get(rule).cloned().unwrap_or_default() {
            if !owned.contains_key(&key) {
                books.let_go(&key, rule);
            }
        }
        for (key, releasing_to) in owned {
            match books.tasks.get(key) {
                Some(e) if &e.now.holder != rule => {}
                _ => books.hold(key, rule, releasing_to.cloned(), true, None),
            }
        }
    }

    /// Undoes `rule`'s provisional acquisitions (its pass failed before writing them).
    pub fn rollback(&self, rule: &RuleName) {
        let mut books = self.books();
        for key in books.of_rule.get(rule).cloned().unwrap_or_default() {
            if books.tasks.get(&key).is_some_and(|e| !e.confirmed) {
                books.let_go(&key, rule);
            }
        }
    }

    /// Forgets a rule that is gone.
    pub fn forget(&self, rule: &RuleName) {
        let mut books = self.books();
        for key in books.of_rule.remove(rule).unwrap_or_default() {
            if books.tasks.get(&key).is_some_and(|e| &e.now.holder == rule) {
                books.tasks.remove(&key);
            }
        }
        for entry in books.tasks.values_mut() {
            if entry.before.as_ref().is_some_and(|b| &b.holder == rule) {
                entry.before = None;
            }
        }
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.inner.lock().expect("ledger lock")
    }
}

impl Books {
    fn hold(
        &mut self,
        key: &TaskKey,
        rule: &RuleName,
        releasing_to: Option<RuleName>,
        confirmed: bool,
        before: Option<Holding>,
    ) {
        let previous = self.tasks.get(key);
        if let Some(p) = previous.filter(|p| &p.now.holder != rule) {
            let holder = p.now.holder.clone();
            if let Some(keys) = self.of_rule.get_mut(&holder) {
                keys.remove(key);
            }
        }
        let releasing_since = match previous {
            Some(p) if p.now.holder == *rule && p.now.releasing_to == releasing_to => {
                p.releasing_since
            }
            _ => releasing_to.is_some().then(Instant::now),
        };
        let before = match previous {
            // A provisional entry keeps what it replaced until confirmed.
            Some(p) if !confirmed && !p.confirmed => p.before.clone(),
            _ => before,
        };
        let now = Holding {
            holder: rule.clone(),
            releasing_to,
        };
        let entry = Entry {
            now,
            confirmed,
            before: if confirmed { None } else { before },
            releasing_since,
        };
        self.tasks.insert(key.clone(), entry);
        self.of_rule
            .entry(rule.clone())
            .or_default()
            .insert(key.clone());
    }

    /// `rule` lets go of `key`: a provisional acquisition gives it back to its previous
    /// holder, anything else frees it.
    fn let_go(&mut self, key: &TaskKey, rule: &RuleName) {
        if let Some(keys) = self.of_rule.get_mut(rule) {
            keys.remove(key);
        }
        let Some(entry) = self.tasks.remove(key) else {
            return;
        };
        if let Some(before) = entry.before.filter(|_| !entry.confirmed) {
            let holder = before.holder.clone();
            self.tasks.insert(
                key.clone(),
                Entry {
                    releasing_since: before.releasing_to.as_ref().map(|_| Instant::now()),
                    now: before,
                    confirmed: true,
                    before: None,
                },
            );
            self.of_rule.entry(holder).or_default().insert(key.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(repo: &str) -> TaskKey {
        TaskKey::sample(repo, "cn-east-3")
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
        assert_eq!(
            ledger.holding(&t),
            None,
            "not shown before a's status is written"
        );
        ledger.record(&a, [(&t, None)]);
        assert_eq!(ledger.holding(&t).unwrap().holder, a);

        // a releases it to b: c still cannot take it, b can.
        ledger.record(&a, [(&t, Some(&b))]);
        assert_eq!(ledger.acquire(&c, [&t]), [(t.clone(), a.clone())].into());
        assert!(ledger.acquire(&b, [&t]).is_empty());
        // Until b's status is written, a still sees its release, not a taking.
        assert_eq!(ledger.holding(&t).unwrap().releasing_to, Some(b.clone()));
        ledger.record(&b, [(&t, None)]);
        assert_eq!(ledger.holding(&t).unwrap().holder, b);

        // a's next record no longer lists it, and must not take it from b.
        ledger.record(&a, [(&t, None)]);
        assert_eq!(ledger.holding(&t).unwrap().holder, b);
        ledger.record(&a, []);
        assert_eq!(ledger.holding(&t).unwrap().holder, b);
    }

    #[test]
    fn a_failed_pass_gives_a_task_back_to_its_giver() {
        let ledger = Ledger::default();
        let (a, b) = (rule("a"), rule("b"));
        let t = key("nginx");
        ledger.record(&a, [(&t, Some(&b))]);
        assert!(ledger.acquire(&b, [&t]).is_empty());
        ledger.rollback(&b);
        let back = ledger.holding(&t).unwrap();
        assert_eq!(
            (back.holder, back.releasing_to),
            (a.clone(), Some(b.clone()))
        );
        // b tries again and makes it.
        assert!(ledger.acquire(&b, [&t]).is_empty());
        ledger.record(&b, [(&t, None)]);
        ledger.rollback(&b);
        assert_eq!(
            ledger.holding(&t).unwrap().holder,
            b,
            "confirmed: no rollback"
        );
    }

    #[test]
    fn taking_back_a_release_and_taking_it_over_exclude_each_other() {
        let (a, b) = (rule("a"), rule("b"));
        let t = key("nginx");
        // a takes it back first: b is refused.
        let ledger = Ledger::default();
        ledger.record(&a, [(&t, Some(&b))]);
        assert!(ledger.acquire(&a, [&t]).is_empty());
        assert_eq!(ledger.acquire(&b, [&t]), [(t.clone(), a.clone())].into());
        // b takes it first: a is refused (it must not delete or keep it).
        let ledger = Ledger::default();
        ledger.record(&a, [(&t, Some(&b))]);
        assert!(ledger.acquire(&b, [&t]).is_empty());
        assert_eq!(ledger.acquire(&a, [&t]), [(t.clone(), b.clone())].into());
    }

    #[test]
    fn a_release_is_overdue_after_the_limit() {
        let ledger = Ledger::default();
        let (a, b) = (rule("a"), rule("b"));
        let t = key("nginx");
        ledger.record(&a, [(&t, Some(&b))]);
        assert_eq!(ledger.overdue(&t, &a, Duration::from_secs(60)), None);
        assert_eq!(ledger.overdue(&t, &a, Duration::ZERO), Some(b.clone()));
        assert_eq!(
            ledger.overdue(&t, &b, Duration::ZERO),
            None,
            "only the holder asks"
        );
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
        ledger.record(&b, [(&u, None)]);
        ledger.forget(&a);
        assert!(ledger.holding(&t).is_none());
        assert_eq!(ledger.holding(&u).unwrap().holder, b);
    }
}
