//! An authenticated cloud client: the shared transport plus one credential set. The SWR and
//! HSS clients are thin typed layers over it.

use std::sync::Arc;

use super::{ApiError, CloudRequest, CloudResponse, ErrorClass, Transport};
use crate::auth::CloudAuth;

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

    /// Sends an authenticated request. A 401 drops the cached IAM token of that region so
    /// the next call logs in afresh (tokens can be revoked before they expire).
    pub async fn call(&self, request: &CloudRequest) -> Result<CloudResponse, ApiError> {
        let auth = self
            .auth
            .request_auth(&self.transport, &request.region)
            .await?;
        let result = self.transport.send(request, &auth).await;
        if matches!(&result, Err(e) if e.class == ErrorClass::Unauthorized) {
            self.auth.forget_token(&request.region).await;
        }
        result
    }

    /// The project id of `region` for these credentials.
    pub async fn project_id(&self, region: &str) -> Result<String, ApiError> {
        self.auth.project_id(&self.transport, region).await
    }
}
