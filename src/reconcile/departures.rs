//! What follows when a rule leaves the cache or a credentials Secret is being deleted: the
//! ledger forgets the rule, rules that were waiting for its tasks are woken, and a Secret
//! nobody needs any more loses its finalizer.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::ResourceExt;

use super::account::Account;
use super::context::Context;
use super::secrets::{release_if_unused, SECRET_FINALIZER};
use super::standing::name_of;
use super::status::inventory;
use super::task::TaskKey;
use crate::api::status::TaskState;
use crate::api::ImageSyncRule;

/// Something that went away.
#[derive(Debug)]
pub enum Departure {
    /// A rule was deleted (its finalizer is gone).
    Rule(Box<ImageSyncRule>),
    /// A Secret with the operator's finalizer is being deleted: the credentials of this
    /// account.
    Secret(Account),
}

/// Where the watches report departures.
pub type Departures = UnboundedSender<Departure>;

/// The departure a Secret's watch event means, if any.
pub fn of_secret(secret: &PartialObjectMeta<Secret>) -> Option<Departure> {
    let ours = secret.finalizers().iter().any(|f| f == SECRET_FINALIZER);
    (ours && secret.metadata.deletion_timestamp.is_some()).then(|| {
        Departure::Secret(Account::new(
            &secret.namespace().unwrap_or_default(),
            &secret.name_any(),
        ))
    })
}

/// How long before a Secret whose finalizer could not be removed is looked at again.
const RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// Handles departures until the watches stop; `again` (the watches' sender) takes the ones
/// to retry.
pub async fn follow(
    mut departures: UnboundedReceiver<Departure>,
    again: Departures,
    ctx: Arc<Context>,
) {
    // Whether a Secret is still used is read from the rules cache: not before it is full.
    if ctx.rules.wait_until_ready().await.is_err() {
        return;
    }
    while let Some(departure) = departures.next().await {
        let account = match departure {
            Departure::Rule(rule) => {
                left(&rule, &ctx);
                Account::of(&rule)
            }
            Departure::Secret(account) => account,
        };
        if let Err(e) = release_if_unused(&ctx, &account, None).await {
            tracing::warn!(secret = %account, error = %e, "releasing the Secret failed; retrying");
            let again = again.clone();
            tokio::spawn(async move {
                tokio::time::sleep(RETRY).await;
                let _ = again.unbounded_send(Departure::Secret(account));
            });
        }
    }
}

/// A rule is gone: forget what it held, wake those that waited on it.
fn left(rule: &ImageSyncRule, ctx: &Context) {
    let me = name_of(rule);
    ctx.ledger.forget(&me);
    let keys: BTreeSet<TaskKey> = inventory(rule.status.as_ref()).into_keys().collect();
    for other in ctx.claimants_of(&keys) {
        // Those waiting on it, and those releasing tasks to it.
        let concerned = inventory(other.status.as_ref()).values().any(|l| {
            matches!(l.state, TaskState::Conflict | TaskState::Releasing)
                && l.other_rule.as_ref() == Some(&me)
        });
        if concerned {
            ctx.wake(&name_of(&other));
        }
    }
}
