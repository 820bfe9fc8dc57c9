//! Live authentication state of one set of credentials: cached IAM tokens and project ids
//! per region, handed out as request authentication.

use std::collections::HashMap;

use chrono::Utc;
use tokio::sync::Mutex;

use super::credentials::{Credentials, PasswordLogin};
use super::iam::{self, IamToken};
use crate::cloud::{ApiError, RequestAuth, Transport};

/// Authentication for one credential set. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct CloudAuth {
    credentials: Credentials,
    // One lock for the fetch as well, so concurrent calls wait for one token request
    // instead of each making their own.
    tokens: Mutex<HashMap<String, IamToken>>,
    projects: Mutex<HashMap<String, String>>,
}

impl CloudAuth {
    /// State for `credentials`, with empty caches.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            tokens: Mutex::new(HashMap::new()),
            projects: Mutex::new(HashMap::new()),
        }
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Authentication for a call to `region`, fetching an IAM token when needed.
    pub async fn request_auth(
        &self,
        transport: &Transport,
        region: &str,
    ) -> Result<RequestAuth, ApiError> {
        match &self.credentials {
            Credentials::AccessKey(key) => Ok(RequestAuth::Sign(key.clone())),
            Credentials::Password(login) => Ok(RequestAuth::Token(
                self.token(transport, login, region).await?.value,
            )),
        }
    }

    /// The project id for `region`: given with the AK/SK, else the token's scope, else
    /// looked up in IAM (and cached).
    pub async fn project_id(
        &self,
        transport: &Transport,
        region: &str,
    ) -> Result<String, ApiError> {
        match &self.credentials {
            Credentials::AccessKey(key) => {
                if let Some(id) = key.project_for(region) {
                    return Ok(id.to_string());
                }
                let mut projects = self.projects.lock().await;
                if let Some(id) = projects.get(region) {
                    return Ok(id.clone());
                }
                let id =
                    iam::project_id(transport, &RequestAuth::Sign(key.clone()), region).await?;
                projects.insert(region.to_string(), id.clone());
                Ok(id)
            }
            Credentials::Password(login) => {
                Ok(self.token(transport, login, region).await?.project_id)
            }
        }
    }

    /// Drops the cached token of `region` (after a 401, so the next call logs in again).
    pub async fn forget_token(&self, region: &str) {
        self.tokens.lock().await.remove(region);
    }

    async fn token(
        &self,
        transport: &Transport,
        login: &PasswordLogin,
        region: &str,
    ) -> Result<IamToken, ApiError> {
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(region).filter(|t| !t.needs_refresh(Utc::now())) {
            return Ok(token.clone());
        }
        let token = iam::create_token(transport, login, region).await?;
        tokens.insert(region.to_string(), token.clone());
        Ok(token)
    }
}
