//! IAM handlers: password logins that issue project-scoped tokens (`POST /v3/auth/tokens`)
//! and project lookup by region name (`GET /v3/projects?name=`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json as value, Value};

use super::app::{json, CloudCall};
use super::auth::{Caller, IssuedToken};
use super::config::{derived_id, DomainConfig};
use super::errors::Failure;
use super::state::{stamp, Actor};
use crate::auth::signer::signatures_match;

/// Header that carries a new token.
const SUBJECT_TOKEN_HEADER: &str = "x-subject-token";

#[derive(Deserialize)]
struct TokenRequest {
    auth: TokenAuth,
}

#[derive(Deserialize)]
struct TokenAuth {
    identity: Identity,
    scope: Scope,
}

#[derive(Deserialize)]
struct Identity {
    methods: Vec<String>,
    password: PasswordIdentity,
}

#[derive(Deserialize)]
struct PasswordIdentity {
    user: UserLogin,
}

#[derive(Deserialize)]
struct UserLogin {
    domain: NameRef,
    name: String,
    password: String,
}

#[derive(Deserialize)]
struct NameRef {
    name: String,
}

#[derive(Deserialize)]
struct Scope {
    project: ProjectRef,
}

#[derive(Deserialize)]
struct ProjectRef {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `DELETE /v3/auth/tokens`: invalidates the token in `X-Subject-Token`, "no matter whether
/// the token has expired or not" (IAM API `iam_02_0063`): 204. A caller may delete its own
/// user's tokens (deleting another user's needs the Security Administrator role, which the
/// emulator does not model: 403); an unknown token is 404.
pub fn revoke_token(call: &CloudCall<'_>, caller: &Caller) -> Result<Response, Failure> {
    let subject = call
        .header(SUBJECT_TOKEN_HEADER)
        .ok_or_else(|| Failure::bad_request("X-Subject-Token is required."))?;
    let token = call.app.tokens.find(subject).ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_FOUND,
            "The requested resource could not be found.",
        )
    })?;
    let own = token.actor.domain_name == caller.actor.domain_name
        && token.actor.operator_name == caller.actor.operator_name;
    if !own {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "You are not authorized to perform the requested action.",
        ));
    }
    call.app.tokens.revoke(subject);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn wrong_login() -> Failure {
    Failure::new(
        StatusCode::UNAUTHORIZED,
        "The username or password is wrong.",
    )
}

/// `POST /v3/auth/tokens` (the caller's signature, if any, is already checked).
pub fn create_token(call: &CloudCall<'_>) -> Result<Response, Failure> {
    let config = &call.app.config;
    let now = Utc::now();
    // serde's messages may quote a value, and a value here may be the password.
    let malformed = || Failure::bad_request("The request body is malformed.");
    let request: TokenRequest =
        serde_json::from_slice(call.request.body).map_err(|_| malformed())?;
    let TokenAuth { identity, scope } = request.auth;
    if !identity.methods.iter().any(|m| m == "password") {
        return Err(malformed());
    }
    let login = identity.password.user;
    let domain = config.domain(&login.domain.name).ok_or_else(wrong_login)?;
    let user = config
        .users
        .iter()
        .find(|u| u.domain == domain.name && u.name == login.name)
        .filter(|u| signatures_match(u.password.expose(), &login.password))
        .ok_or_else(wrong_login)?;
    let region = match (&scope.project.name, &scope.project.id) {
        (Some(name), _) => config.region(name),
        (None, Some(id)) => config
            .regions
            .iter()
            .find(|r| r.project_for(&domain.name) == *id),
        (None, None) => return Err(malformed()),
    }
    .ok_or_else(|| {
        Failure::new(
            StatusCode::UNAUTHORIZED,
            "The project in the scope does not exist.",
        )
    })?;
    let project_id = region.project_for(&domain.name);
    let user_id = derived_id(&["user", &domain.name, &user.name]);
    let expires_at = chrono::Duration::from_std(config.token_lifetime)
        .ok()
        .and_then(|lifetime| now.checked_add_signed(lifetime))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let token = call.app.tokens.issue(IssuedToken {
        actor: Actor {
            domain_id: domain.id.clone(),
            domain_name: domain.name.clone(),
            operator_id: user_id.clone(),
            operator_name: user.name.clone(),
        },
        region: region.id.clone(),
        project_id: project_id.clone(),
        expires_at,
    });
    let domain_ref = value!({"id": domain.id, "name": domain.name});
    let body = value!({"token": {
        "expires_at": stamp(expires_at),
        "issued_at": stamp(now),
        "methods": ["password"],
        "project": {"id": project_id, "name": region.id, "domain": domain_ref},
        "user": {"id": user_id, "name": user.name, "domain": domain_ref},
        "catalog": [],
    }});
    let mut response = json(StatusCode::CREATED, &body);
    response.headers_mut().insert(
        SUBJECT_TOKEN_HEADER,
        HeaderValue::from_str(&token).expect("tokens are hex"),
    );
    Ok(response)
}

fn project(id: String, region: &str, domain: &DomainConfig) -> Value {
    value!({
        "id": id,
        "name": region,
        "domain_id": domain.id,
        "enabled": true,
        "description": "",
        "parent_id": domain.id,
    })
}

/// `GET /v3/projects[?name=REGION]`: the caller's domain's projects (one per region).
pub fn list_projects(call: &CloudCall<'_>, caller: &Caller) -> Result<Response, Failure> {
    let config = &call.app.config;
    let domain = config
        .domain(&caller.actor.domain_name)
        .expect("callers belong to configured domains");
    let name = call.query("name");
    let projects: Vec<Value> = config
        .regions
        .iter()
        .filter(|r| name.is_none_or(|n| n == r.id))
        .map(|r| project(r.project_for(&domain.name), &r.id, domain))
        .collect();
    let query = match call.request.raw_query {
        "" => String::new(),
        q => format!("?{q}"),
    };
    let own_url = format!(
        "http://{}{}{query}",
        call.header("host").unwrap_or("localhost"),
        call.request.path
    );
    Ok(json(
        StatusCode::OK,
        &value!({"projects": projects, "links": {"self": own_url}}),
    ))
}
