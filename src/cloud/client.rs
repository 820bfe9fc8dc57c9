//! An authenticated cloud client: the shared transport plus one credential set. The SWR and
//! HSS clients are thin typed layers over it.

use std::sync::Arc;
use std::time::Instant;

use super::{ApiError, CloudRequest, CloudResponse, ErrorClass, Transport};
use crate::auth::{CloudAuth, IssuedAuth};

/// Transport + credentials.
#[derive(Debug, Clone)]
pub struct CloudClient {
    transport: Arc<Transport>,
    auth: Arc<CloudAuth>,
}

impl CloudClient {
    /// A client calling through `transport` as `auth`.
    pub fn new(transport: Arc<Transport>, auth: Arc<CloudAuth>) -> Self {
        Self { transport, auth }
    }

    /// Sends an authenticated request. A 401 drops the cached IAM token of that region; when
    /// the refused token came from the cache (it may have been revoked or expired early),
    /// the request goes once more with a token logged in afresh, and only that answer counts.
    /// Signed requests and tokens fetched for this very call are not retried: the same
    /// credentials would be refused again. Credentials refused lately are not sent at all
    /// (see [`crate::auth::refusal`]).
    pub async fn call(&self, request: &CloudRequest) -> Result<CloudResponse, ApiError> {
        let _one_at_a_time = self.auth.refusals().until_proven().await;
        self.admit(request.operation)?;
        let result = self.call_admitted(request).await;
        self.note(&result);
        result
    }

    async fn call_admitted(&self, request: &CloudRequest) -> Result<CloudResponse, ApiError> {
        let first = self.auth.issue(&self.transport, &request.region).await?;
        let result = self.send(request, &first).await;
        if !(first.cached_token && unauthorized(&result)) {
            return result;
        }
        // A 401 means the request was not acted on, so even a non-idempotent one may go again.
        tracing::debug!(
            operation = request.operation,
            region = %request.region,
            "cached IAM token refused; logging in again"
        );
        let second = self.auth.issue(&self.transport, &request.region).await?;
        self.send(request, &second).await
    }

    /// The project id of `region` for these credentials.
    pub async fn project_id(&self, region: &str) -> Result<String, ApiError> {
        let _one_at_a_time = self.auth.refusals().until_proven().await;
        self.admit(crate::auth::iam::OP_LIST_PROJECTS)?;
        let result = self.auth.project_id(&self.transport, region).await;
        // An id given with the credentials comes without asking the cloud: only a refusal
        // tells something here.
        if matches!(&result, Err(e) if e.class == ErrorClass::Unauthorized) {
            self.auth.refusals().refused(Instant::now());
        }
        result
    }

    /// Refuses locally while the credentials are held back after a refusal.
    fn admit(&self, operation: &'static str) -> Result<(), ApiError> {
        self.auth.refusals().admit(Instant::now()).map_err(|wait| {
            ApiError::without_response(
                operation,
                ErrorClass::Unauthorized,
                format!(
                    "not sent: the cloud refused these credentials lately; the next try goes \
                     in {} s at the earliest (trying a refused key again and again gets it \
                     locked by the API gateway)",
                    wait.as_secs().max(1)
                ),
            )
        })
    }

    /// Records whether the cloud accepted the credentials; an answer that never came says
    /// nothing.
    fn note<T>(&self, result: &Result<T, ApiError>) {
        match result {
            Err(e) if e.class == ErrorClass::Unauthorized => {
                self.auth.refusals().refused(Instant::now())
            }
            Err(e) if e.status.is_none() => {}
            _ => self.auth.refusals().accepted(),
        }
    }

    /// One attempt; a 401 drops the token it carried so that no later call reuses it.
    async fn send(
        &self,
        request: &CloudRequest,
        issued: &IssuedAuth,
    ) -> Result<CloudResponse, ApiError> {
        let result = self.transport.send(request, &issued.auth).await;
        if unauthorized(&result) {
            self.auth
                .forget_refused(&request.region, &issued.auth)
                .await;
        }
        result
    }
}

fn unauthorized(result: &Result<CloudResponse, ApiError>) -> bool {
    matches!(result, Err(e) if e.class == ErrorClass::Unauthorized)
}
