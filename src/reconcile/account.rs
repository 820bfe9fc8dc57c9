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

    /// The Secret's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Secret's name.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether `rule` acts as this account (without building its account: this runs over
    /// every cached rule).
    pub fn is_of(&self, rule: &ImageSyncRule) -> bool {
        rule.metadata.namespace.as_deref() == Some(self.namespace.as_str())
            && rule.spec.credentials_secret_ref.name == self.secret
    }
}

/// `namespace/secret`, for logs.
impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.secret)
    }
}
