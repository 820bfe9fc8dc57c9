//! The credentials step, and the Secret's finalizer: a Secret that rules with
//! `deletionPolicy: Delete` use is kept (finalizer `swrsync.io/credentials-in-use`) until no
//! such rule is left, so that deleting a namespace, or a GitOps prune that removes the
//! Secret together with its rules, still lets every rule delete its tasks. The operator
//! only ever adds or removes its own finalizer; it never reads a Secret's data other than
//! through `get` while reconciling.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::account::Account;
use super::context::Context;
use super::error::Error;
use super::report::Problem;
use super::standing::name_of;
use crate::api::spec::DeletionPolicy;
use crate::api::spec::FINALIZER;
use crate::api::status::{reason, RuleName};
use crate::api::ImageSyncRule;
use crate::auth::Credentials;
use crate::hss::HssClient;
use crate::swr::SwrClient;

/// Finalizer on a credentials Secret while rules that delete their tasks use it.
pub const SECRET_FINALIZER: &str = "swrsync.io/credentials-in-use";

/// The rule's credentials from the Secret in its namespace (also while that Secret is being
/// deleted), as SWR and HSS clients; a problem when the Secret is absent or incomplete.
/// With `protect`, a rule that deletes its tasks puts the finalizer on the Secret first.
pub async fn credentials(
    rule: &ImageSyncRule,
    ctx: &Context,
    protect: bool,
) -> Result<Result<(SwrClient, HssClient), Problem>, Error> {
    let account = Account::of(rule);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), account.namespace());
    let missing = |message: String| Ok(Err(Problem::stalled(reason::CREDENTIALS_MISSING, message)));
    let secret = match secrets.get_opt(account.secret()).await {
        Ok(Some(secret)) => secret,
        Ok(None) => return missing(format!("Secret {account} not found")),
        Err(source) => {
            return Err(Error::GetSecret {
                name: account.secret().to_string(),
                source,
            })
        }
    };
    let credentials = match Credentials::from_secret(&secret) {
        Ok(credentials) => credentials,
        Err(e) => return missing(format!("Secret {account}: {e}")),
    };
    if protect && rule.spec.deletion_policy == DeletionPolicy::Delete {
        // Best effort: a rule that cannot protect its Secret still works (and tries again at
        // its next pass); failing it would block replication for a deletion-time nicety.
        if let Err(e) = keep(&secrets, &secret).await {
            tracing::warn!(error = %e, "protecting the credentials Secret failed; going on without");
        }
    }
    Ok(Ok(ctx.clients(account, credentials)))
}

/// Adds the finalizer, unless it is there or the Secret is already being deleted (the API
/// server refuses new finalizers then; the rules using it still read it meanwhile).
async fn keep(secrets: &Api<Secret>, secret: &Secret) -> Result<(), Error> {
    let finalizers = secret.finalizers();
    if secret.metadata.deletion_timestamp.is_some()
        || finalizers.iter().any(|f| f == SECRET_FINALIZER)
    {
        return Ok(());
    }
    let mut wanted = finalizers.to_vec();
    wanted.push(SECRET_FINALIZER.to_string());
    set_finalizers(secrets, secret, wanted).await
}

/// Removes the finalizer from `account`'s Secret if no rule that deletes its tasks uses it
/// any more (`leaving`: a rule whose cleanup has just finished, still in the cache).
/// An operator that watches only the rules a label selector picks asks the API server
/// before it removes the finalizer: rules another deployment watches may use the Secret.
pub async fn release_if_unused(
    ctx: &Context,
    account: &Account,
    leaving: Option<&RuleName>,
) -> Result<(), Error> {
    let (namespace, name) = (account.namespace(), account.secret());
    let uses = |r: &ImageSyncRule| {
        account.is_of(r)
            && r.spec.deletion_policy == DeletionPolicy::Delete
            && r.finalizers().iter().any(|f| f == FINALIZER)
            && Some(&name_of(r)) != leaving
    };
    if ctx.rules.state().iter().any(|r| uses(r)) {
        return Ok(());
    }
    if ctx.sharded {
        let rules: Api<ImageSyncRule> = Api::namespaced(ctx.client.clone(), namespace);
        let all = rules
            .list(&ListParams::default())
            .await
            .map_err(Error::ListRules)?;
        if all.items.iter().any(uses) {
            return Ok(());
        }
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let failed = |source| Error::PatchSecret {
        name: name.to_string(),
        source,
    };
    let Some(secret) = secrets.get_opt(name).await.map_err(failed)? else {
        return Ok(());
    };
    if !secret.finalizers().iter().any(|f| f == SECRET_FINALIZER) {
        return Ok(());
    }
    let rest = secret
        .finalizers()
        .iter()
        .filter(|f| *f != SECRET_FINALIZER)
        .cloned()
        .collect();
    match set_finalizers(&secrets, &secret, rest).await {
        // An installation that took the `patch` right away never protected anything.
        Err(Error::PatchSecret {
            source: kube::Error::Api(refused),
            ..
        }) if refused.code == 403 => Ok(()),
        other => other,
    }
}

/// A merge patch of the finalizer list, guarded by the resourceVersion read: a concurrent
/// change of the list makes it fail (and the pass is retried) rather than lose an entry.
async fn set_finalizers(
    secrets: &Api<Secret>,
    secret: &Secret,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let name = secret.name_any();
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": secret.resource_version(),
    }});
    secrets
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(|source| Error::PatchSecret { name, source })
}
