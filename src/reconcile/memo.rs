//! Statuses this process wrote that the watch cache does not show yet. A rule reconciled again
//! right after a pass (woken by another rule, by its own Secret patch, by a deletion) would
//! otherwise start from the status before that pass, and could forget a task it has just
//! taken over or adopted, or, being deleted, leave it behind. Only the operator writes
//! statuses, so the last one it wrote is the newest until the watch has caught up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::runtime::watcher::Event;
use kube::ResourceExt;

use crate::api::{ImageSyncRule, ImageSyncRuleStatus};

/// Written statuses by rule uid, with the resourceVersion the write returned.
#[derive(Debug, Default)]
pub struct StatusMemo {
    // Never held across an await.
    written: Mutex<HashMap<String, (String, ImageSyncRuleStatus)>>,
}

impl StatusMemo {
    /// Remembers what a status write returned.
    pub fn remember(&self, written: &ImageSyncRule) {
        let (Some(uid), Some(version)) = (written.uid(), written.resource_version()) else {
            return;
        };
        let status = written.status.clone().unwrap_or_default();
        self.lock().insert(uid, (version, status));
    }

    /// `rule` with the status this process last wrote, if the cache has not shown it yet.
    pub fn freshest(&self, rule: Arc<ImageSyncRule>) -> Arc<ImageSyncRule> {
        let Some(uid) = rule.uid() else {
            return rule;
        };
        let Some((_, status)) = self.lock().get(&uid).cloned() else {
            return rule;
        };
        let mut fresh = (*rule).clone();
        fresh.status = Some(status);
        Arc::new(fresh)
    }

    /// Follows the watch: a rule seen at the version a write returned (or gone, or relisted)
    /// needs no memo any more.
    pub fn apply(&self, event: &Event<ImageSyncRule>) {
        let mut written = self.lock();
        match event {
            Event::Apply(rule) | Event::InitApply(rule) => {
                let seen = rule.uid().zip(rule.resource_version());
                if let Some((uid, version)) = seen {
                    if written.get(&uid).is_some_and(|(v, _)| *v == version) {
                        written.remove(&uid);
                    }
                }
            }
            Event::Delete(rule) => {
                if let Some(uid) = rule.uid() {
                    written.remove(&uid);
                }
            }
            // A relist is a fresh view of every rule.
            Event::InitDone => written.clear(),
            Event::Init => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, ImageSyncRuleStatus)>> {
        self.written.lock().expect("status memo lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(version: &str, summary: &str) -> ImageSyncRule {
        let mut r: ImageSyncRule = serde_json::from_value(serde_json::json!({
            "apiVersion": "swrsync.io/v1alpha1",
            "kind": "ImageSyncRule",
            "metadata": {"name": "a", "namespace": "ns", "uid": "u1", "resourceVersion": version},
            "spec": {
                "source": {"region": "cn-north-4", "organization": "platform", "repositories": ["nginx"]},
                "targets": [{"region": "cn-east-3", "organization": "dr"}],
                "credentialsSecretRef": {"name": "creds"},
            },
        }))
        .unwrap();
        r.status = Some(ImageSyncRuleStatus {
            summary: Some(summary.into()),
            ..ImageSyncRuleStatus::default()
        });
        r
    }

    fn summary(rule: &ImageSyncRule) -> &str {
        rule.status.as_ref().unwrap().summary.as_deref().unwrap()
    }

    #[test]
    fn the_last_write_stands_until_the_watch_shows_it() {
        let memo = StatusMemo::default();
        memo.remember(&rule("7", "written"));
        let stale = Arc::new(rule("5", "old"));
        assert_eq!(summary(&memo.freshest(stale.clone())), "written");
        // An older event changes nothing; the written version ends the memo.
        memo.apply(&Event::Apply(rule("6", "older")));
        assert_eq!(summary(&memo.freshest(stale.clone())), "written");
        memo.apply(&Event::Apply(rule("7", "written")));
        assert_eq!(summary(&memo.freshest(stale.clone())), "old");
        memo.remember(&rule("9", "again"));
        memo.apply(&Event::Delete(rule("9", "again")));
        assert_eq!(summary(&memo.freshest(stale)), "old");
    }
}
