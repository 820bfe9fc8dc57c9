//! The cloud account a rule acts as: the credentials Secret it names. Task and tag listings,
//! HSS refresh slots and the start-up warm-up are shared per account, since what SWR shows
//! and allows depends on the credentials alone.

use std::fmt;

use kube::ResourceExt;

use crate::api::ImageSyncRule;

/// The account of a rule: the namespace and name of its credentials Secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Account {
    namespace: String,
    secret: String,
}

impl Account {
    /// The account `rule` acts as.
    pub fn of(rule: &ImageSyncRule) -> Self {
        Self::new(
            &rule.namespace().unwrap_or_default(),
            &rule.spec.credentials_secret_ref.name,
        )
    }

    /// The account of Secret `namespace`/`secret`.
    pub fn new(namespace: &str, secret: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            secret: secret.to_string(),
        }
    }
}

/// `namespace/secret`, for logs.
impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.secret)
    }
}
