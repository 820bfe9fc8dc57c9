//! An authenticated cloud client: the shared transport plus one credential set. The SWR and
//! HSS clients are thin typed layers over it.

use std::sync::Arc;

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
    /// credentials would be refused again.
    pub async fn call(&self, request: &CloudRequest) -> Result<CloudResponse, ApiError> {
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
        self.auth.project_id(&self.transport, region).await
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
