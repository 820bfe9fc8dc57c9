//! IAM calls: a password login's project-scoped token, and a region's project id.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::credentials::{PasswordLogin, SecretString};
use crate::cloud::{ApiError, CloudRequest, ErrorClass, RequestAuth, Service, Transport};

/// Operation name of a token request.
pub const OP_CREATE_TOKEN: &str = "iam.create_token";
/// Operation name of a project lookup.
pub const OP_LIST_PROJECTS: &str = "iam.list_projects";

/// A token scoped to one region's project.
#[derive(Debug, Clone)]
pub struct IamToken {
    /// The token (`X-Subject-Token`).
    pub value: SecretString,
    /// When IAM stops accepting it.
    pub expires_at: DateTime<Utc>,
    /// When it was issued (by our clock, to size the refresh margin).
    pub fetched_at: DateTime<Utc>,
    /// The project it is scoped to.
    pub project_id: String,
}

impl IamToken {
    /// Whether to fetch a new one now: within a fifth of its life (at most 10 minutes) of
    /// expiring, so calls in flight never carry an expired token.
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        let margin = ((self.expires_at - self.fetched_at) / 5).min(chrono::Duration::minutes(10));
        now + margin >= self.expires_at
    }
}

/// Body of IAM's token response; public so the response parsers can be fuzzed by type.
#[derive(Deserialize)]
pub struct TokenBody {
    token: TokenInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    expires_at: DateTime<Utc>,
    project: Option<ProjectRef>,
}

#[derive(Deserialize)]
struct ProjectRef {
    id: String,
}

/// Body of IAM's project list; public so the response parsers can be fuzzed by type.
#[derive(Deserialize)]
pub struct ProjectList {
    projects: Vec<ProjectRef>,
}

fn malformed(operation: &'static str, what: &str) -> ApiError {
    ApiError::without_response(
        operation,
        ErrorClass::UnexpectedResponse,
        format!("IAM answered without {what}"),
    )
}

/// `POST /v3/auth/tokens` with a password, scoped to the project named after `region`.
pub async fn create_token(
    transport: &Transport,
    login: &PasswordLogin,
    region: &str,
) -> Result<IamToken, ApiError> {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "domain": {"name": login.domain},
            "name": login.username,
            "password": login.password.expose(),
        }}},
        "scope": {"project": {"name": region}},
    }});
    let mut request = CloudRequest::new(
        OP_CREATE_TOKEN,
        Service::Iam,
        region,
        Method::POST,
        "/v3/auth/tokens".into(),
    )
    .json(&body)
    .idempotent(true);
    request.content_type = "application/json;charset=utf-8";
    let fetched_at = Utc::now();
    let response = transport.send(&request, &RequestAuth::Anonymous).await?;
    let value = response
        .header("x-subject-token")
        .ok_or_else(|| malformed(OP_CREATE_TOKEN, "X-Subject-Token"))?
        .to_string();
    let info = response.json::<TokenBody>()?.token;
    Ok(IamToken {
        value: SecretString::new(value),
        expires_at: info.expires_at,
        fetched_at,
        project_id: info
            .project
            .ok_or_else(|| malformed(OP_CREATE_TOKEN, "a project scope"))?
            .id,
    })
}

/// `GET /v3/projects?name={region}`: the id of the project named after `region`.
pub async fn project_id(
    transport: &Transport,
    auth: &RequestAuth,
    region: &str,
) -> Result<String, ApiError> {
    let request = CloudRequest::new(
        OP_LIST_PROJECTS,
        Service::Iam,
        region,
        Method::GET,
        "/v3/projects".into(),
    )
    .query("name", region);
    let list: ProjectList = transport.send(&request, auth).await?.json()?;
    list.projects
        .into_iter()
        .next()
        .map(|p| p.id)
        .ok_or_else(|| {
            ApiError::without_response(
                OP_LIST_PROJECTS,
                ErrorClass::NotFound,
                format!("IAM knows no project named {region}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_margin_scales_with_lifetime() {
        let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0).unwrap();
        let token = |life: i64| IamToken {
            value: SecretString::new("t"),
            expires_at: at(life),
            fetched_at: at(0),
            project_id: "p".into(),
        };
        // 24 h token: refreshed 10 minutes before expiry.
        assert!(!token(86_400).needs_refresh(at(86_400 - 601)));
        assert!(token(86_400).needs_refresh(at(86_400 - 600)));
        // 10 s token: refreshed in its last 2 s.
        assert!(!token(10).needs_refresh(at(7)));
        assert!(token(10).needs_refresh(at(8)));
    }
}
