//! Errors a reconcile returns to the controller (cloud failures become status instead).

/// A failed reconcile; the controller retries it with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the credentials Secret failed (other than its absence).
    #[error("reading Secret {name}: {source}")]
    GetSecret {
        /// Secret name.
        name: String,
        /// Cause.
        source: kube::Error,
    },
    /// Writing the rule's status failed.
    #[error("writing status: {0}")]
    PatchStatus(#[source] kube::Error),
    /// Adding or removing the finalizer failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// Deleting the rule's tasks has not finished; the finalizer stays.
    #[error("cleanup not finished: {0}")]
    CleanupPending(String),
}

impl Error {
    /// Metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::GetSecret { .. } => "get_secret",
            Self::PatchStatus(_) => "patch_status",
            Self::Finalizer(_) => "finalizer",
            Self::CleanupPending(_) => "cleanup_pending",
        }
    }
}
