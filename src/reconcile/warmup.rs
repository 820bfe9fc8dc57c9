//! Start-up warm-up: while the rules cache loads (no pass may run before it is complete:
//! claims are judged against every rule), the repositories the rules loaded so far name are
//! listed into the shared listings, so that the first passes find them there. At thousands
//! of rules the cache takes seconds to load; the listings would otherwise only start after.
//!
//! It makes no call a pass would not make: one listing per (account, repository) that a
//! rule able to act names, served to the passes for `--swr-list-ttl`. Passes that delete,
//! replace or take over still list afresh (`assess`): a warm listing predates them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::{pin_mut, Stream, StreamExt};
use kube::runtime::watcher;
use kube::ResourceExt;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::account::Account;
use super::claims::desired_tasks;
use super::context::Context;
use super::secrets::credentials;
use super::standing::{standing, Standing};
use crate::api::ImageSyncRule;
use crate::swr::{SourceRepo, SwrClient};

/// Picks, from the cache's first load, what the warm-up lists: each (account, repository)
/// the first time a rule able to act (or not judged yet) names it, so that at most one copy
/// of a rule per repository waits for the warm-up.
#[derive(Debug, Default)]
pub struct FirstLoad {
    named: HashSet<(Account, SourceRepo)>,
    done: bool,
}

/// Repositories to list for one rule's account, and the rule (its Secret, its name for logs).
#[derive(Debug)]
pub struct ToList {
    rule: ImageSyncRule,
    account: Account,
    repos: Vec<SourceRepo>,
}

impl FirstLoad {
    /// The repositories of `event`'s rule that no rule before it named, during the first
    /// load only.
    pub fn offer(&mut self, event: &watcher::Event<ImageSyncRule>) -> Option<ToList> {
        match event {
            watcher::Event::InitApply(rule) if !self.done && standing(rule) != Standing::Unable => {
                let account = Account::of(rule);
                let repos: Vec<SourceRepo> = named_repositories(rule)
                    .into_iter()
                    .filter(|r| self.named.insert((account.clone(), r.clone())))
                    .collect();
                (!repos.is_empty()).then(|| ToList {
                    rule: rule.clone(),
                    account,
                    repos,
                })
            }
            watcher::Event::InitDone => {
                self.done = true;
                self.named = HashSet::new();
                None
            }
            _ => None,
        }
    }
}

/// Lists what [`FirstLoad`] picks (as the cache's first load streams in) until the cache is
/// complete, then waits for the listings under way. Dropped (the controller stopping), it
/// aborts them.
pub async fn warm_up(picked: impl Stream<Item = ToList>, ctx: Arc<Context>) {
    let loading = picked.take_until(ctx.rules.wait_until_ready());
    pin_mut!(loading);
    let mut clients: HashMap<Account, Option<SwrClient>> = HashMap::new();
    let mut fetches = JoinSet::new();
    while let Some(ToList {
        rule,
        account,
        repos,
    }) = loading.next().await
    {
        if !clients.contains_key(&account) {
            // One Secret read per account; a rule whose Secret is missing or broken finds
            // that out in its own pass.
            let found = credentials(&rule, &ctx, false).await;
            let swr = found.ok().and_then(Result::ok).map(|(swr, _)| swr);
            clients.insert(account.clone(), swr);
        }
        let Some(swr) = clients[&account].clone() else {
            continue;
        };
        for repo in repos {
            let (ctx, swr, account) = (ctx.clone(), swr.clone(), account.clone());
            // Its log lines name the rule it lists for, as a pass's do.
            let span = tracing::info_span!("warm_up", namespace = %rule.namespace().unwrap_or_default(), rule = %rule.name_any());
            let fetch = async move {
                let listings = ctx.listings.for_account(account, false);
                if let Err(e) = listings.tasks(&swr, &repo).await {
                    tracing::debug!(%repo, error = %e, "warm-up listing failed; the pass lists");
                }
            };
            fetches.spawn(fetch.instrument(span));
        }
    }
    while fetches.join_next().await.is_some() {}
}

/// The source repositories a rule names (a selector's are only known from SWR).
fn named_repositories(rule: &ImageSyncRule) -> HashSet<SourceRepo> {
    let desired = desired_tasks(&rule.spec, &rule.spec.source.repositories);
    desired.keys().map(|k| k.source().clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, secret: &str, repos: &[&str], suspend: bool) -> ImageSyncRule {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "swrsync.io/v1alpha1",
            "kind": "ImageSyncRule",
            "metadata": {"name": name, "namespace": "ns", "generation": 1},
            "spec": {
                "source": {"region": "cn-north-4", "organization": "platform", "repositories": repos},
                "targets": [{"region": "cn-east-3", "organization": "dr"}],
                "credentialsSecretRef": {"name": secret},
                "suspend": suspend,
            },
        }))
        .unwrap()
    }

    fn offered(load: &mut FirstLoad, rule: ImageSyncRule) -> bool {
        load.offer(&watcher::Event::InitApply(rule)).is_some()
    }

    #[test]
    fn the_first_able_rule_naming_each_repository_of_each_account_is_offered_during_the_first_load()
    {
        let mut load = FirstLoad::default();
        assert!(offered(&mut load, rule("a", "creds", &["nginx"], false)));
        assert!(
            !offered(&mut load, rule("b", "creds", &["nginx"], false)),
            "named before"
        );
        assert!(
            offered(&mut load, rule("c", "creds", &["nginx", "redis"], false)),
            "redis is new"
        );
        assert!(
            offered(&mut load, rule("d", "other", &["nginx"], false)),
            "another account"
        );
        assert!(
            !offered(&mut load, rule("e", "creds", &["mysql"], true)),
            "suspended"
        );
        assert!(offered(&mut load, rule("f", "creds", &["mysql"], false)));
        assert!(load.offer(&watcher::Event::InitDone).is_none());
        assert!(
            !offered(&mut load, rule("g", "creds", &["etcd"], false)),
            "after the first load"
        );
    }
}
