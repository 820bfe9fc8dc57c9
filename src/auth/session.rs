//! Live authentication state of one set of credentials: cached IAM tokens and project ids
//! per region, handed out as request authentication.

use std::collections::HashMap;

use chrono::Utc;
use tokio::sync::Mutex;

use super::credentials::{Credentials, PasswordLogin};
use super::iam::{self, IamToken};
use super::refusal::RefusalHold;
use crate::cloud::{ApiError, RequestAuth, Transport};

/// Request authentication as handed out for one call, with where its token came from.
#[derive(Debug, Clone)]
pub struct IssuedAuth {
    /// What the request carries.
    pub auth: RequestAuth,
    /// An IAM token taken from the cache rather than obtained for this call. A 401 to it
    /// may only mean the token was revoked or expired early, so a fresh login can help;
    /// a 401 to a token just issued, or to a signature, will not change on a second try.
    pub cached_token: bool,
}

/// Authentication for one credential set. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct CloudAuth {
    credentials: Credentials,
    // One lock for the fetch as well, so concurrent calls wait for one token request
    // instead of each making their own.
    tokens: Mutex<HashMap<String, IamToken>>,
    projects: Mutex<HashMap<String, String>>,
    refusals: RefusalHold,
}

impl CloudAuth {
    /// State for `credentials`, with empty caches.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            tokens: Mutex::new(HashMap::new()),
            projects: Mutex::new(HashMap::new()),
            refusals: RefusalHold::default(),
        }
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// How the cloud has been answering these credentials (see [`RefusalHold`]).
    pub fn refusals(&self) -> &RefusalHold {
        &self.refusals
    }

    /// Authentication for a call to `region`, fetching an IAM token when needed.
    pub async fn request_auth(
        &self,
        transport: &Transport,
        region: &str,
    ) -> Result<RequestAuth, ApiError> {
        Ok(self.issue(transport, region).await?.auth)
    }

    /// Like [`CloudAuth::request_auth`], telling also whether the token came from the cache.
    pub async fn issue(&self, transport: &Transport, region: &str) -> Result<IssuedAuth, ApiError> {
        match &self.credentials {
            Credentials::AccessKey(key) => Ok(IssuedAuth {
                auth: RequestAuth::Sign(key.clone()),
                cached_token: false,
            }),
            Credentials::Password(login) => {
                let (token, cached) = self.cached_or_new_token(transport, login, region).await?;
                Ok(IssuedAuth {
                    auth: RequestAuth::Token(token.value),
                    cached_token: cached,
                })
            }
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
            Credentials::Password(login) => Ok(self
                .cached_or_new_token(transport, login, region)
                .await?
                .0
                .project_id),
        }
    }

    /// Drops the cached token of `region` (after a 401, so the next call logs in again).
    pub async fn forget_token(&self, region: &str) {
        self.tokens.lock().await.remove(region);
    }

    /// Drops the cached token of `region` if it is the one `refused` carried. A call that
    /// got its 401 late must not throw away a token another call has fetched meanwhile.
    pub async fn forget_refused(&self, region: &str, refused: &RequestAuth) {
        let RequestAuth::Token(value) = refused else {
            return;
        };
        let mut tokens = self.tokens.lock().await;
        if tokens.get(region).is_some_and(|t| &t.value == value) {
            tokens.remove(region);
        }
    }

    /// The cached token of `region` while it is fresh enough (`true`), else a new one.
    async fn cached_or_new_token(
        &self,
        transport: &Transport,
        login: &PasswordLogin,
        region: &str,
    ) -> Result<(IamToken, bool), ApiError> {
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(region).filter(|t| !t.needs_refresh(Utc::now())) {
            return Ok((token.clone(), true));
        }
        let token = iam::create_token(transport, login, region).await?;
        tokens.insert(region.to_string(), token.clone());
        Ok((token, false))
    }
}
