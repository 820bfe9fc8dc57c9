//! Errors a reconcile returns to the controller (cloud failures become status instead).

use kube::runtime::finalizer;

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
    /// Reading or changing the finalizer of a credentials Secret failed.
    #[error("finalizer of Secret {name}: {source}")]
    PatchSecret {
        /// Secret name.
        name: String,
        /// Cause.
        source: kube::Error,
    },
    /// Listing the rules of a namespace failed.
    #[error("listing ImageSyncRules: {0}")]
    ListRules(#[source] kube::Error),
    /// Writing the rule's status failed.
    #[error("writing status: {0}")]
    PatchStatus(#[source] kube::Error),
    /// Adding or removing the finalizer failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// Deleting the rule's tasks has not finished; the finalizer stays.
    #[error("cleanup not finished: {0}")]
    CleanupPending(String),
    /// The rule being deleted waits for other rules to take over its tasks; the finalizer
    /// stays.
    #[error("waiting for {0} task(s) to be taken over")]
    HandoverPending(usize),
}

impl Error {
    /// Whether this is a deleted rule waiting for its tasks to be taken over.
    pub fn handover_pending(&self) -> bool {
        match self {
            Self::HandoverPending(_) => true,
            Self::Finalizer(e) => matches!(
                e.as_ref(),
                finalizer::Error::CleanupFailed(inner) if inner.handover_pending()
            ),
            _ => false,
        }
    }

    /// Metrics label. Every reconcile runs inside the finalizer helper, so an error of the
    /// sync or cleanup itself is labelled by what failed, not as `finalizer`; that label is
    /// left for the finalizer's own patches.
    pub fn label(&self) -> &'static str {
        match self {
            Self::GetSecret { .. } => "get_secret",
            Self::PatchSecret { .. } => "patch_secret",
            Self::ListRules(_) => "list_rules",
            Self::PatchStatus(_) => "patch_status",
            Self::Finalizer(e) => match e.as_ref() {
                finalizer::Error::ApplyFailed(inner) | finalizer::Error::CleanupFailed(inner) => {
                    inner.label()
                }
                _ => "finalizer",
            },
            Self::CleanupPending(_) => "cleanup_pending",
            Self::HandoverPending(_) => "handover_pending",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_look_through_the_finalizer() {
        let pending = || Error::CleanupPending("tasks left".into());
        let wrapped = |e: finalizer::Error<Error>| Error::Finalizer(Box::new(e));
        assert_eq!(pending().label(), "cleanup_pending");
        assert_eq!(
            wrapped(finalizer::Error::CleanupFailed(pending())).label(),
            "cleanup_pending"
        );
        let status = Error::PatchStatus(kube::Error::LinesCodecMaxLineLengthExceeded);
        assert_eq!(
            wrapped(finalizer::Error::ApplyFailed(status)).label(),
            "patch_status"
        );
        assert_eq!(
            wrapped(finalizer::Error::UnnamedObject).label(),
            "finalizer"
        );
    }
}
