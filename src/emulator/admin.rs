//! The admin API under `/_admin/` (unauthenticated, loopback peers only unless configured):
//! seed organizations and tags, read state, tasks and call counts, set faults, revoke IAM
//! tokens, reset.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::app::{json, App};
use super::errors::Failure;
use super::faults::{FaultSpec, FaultsError};
use super::state::{StateError, World};
use crate::swr::SourceRepo;

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The peer is not on loopback and remote admin is off.
    #[error("the admin API answers loopback peers only (set adminAllowRemote to change)")]
    Remote,
    /// The body is not the expected JSON.
    #[error("invalid request body: {0}")]
    Body(#[from] serde_json::Error),
    /// A state change was refused.
    #[error(transparent)]
    State(#[from] StateError),
    /// A fault specification was refused.
    #[error(transparent)]
    Faults(#[from] FaultsError),
    /// No such admin endpoint.
    #[error("no such admin endpoint")]
    NotFound,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Remote => StatusCode::FORBIDDEN,
            Self::Body(_) | Self::Faults(_) => StatusCode::BAD_REQUEST,
            Self::State(e) => Failure::from(e.clone()).status,
            Self::NotFound => StatusCode::NOT_FOUND,
        };
        json(status, &json!({"error": self.to_string()}))
    }
}

type AppState = State<Arc<App>>;

/// The admin routes, to be nested under `/_admin`.
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/push", post(push))
        .route("/organizations", post(create_organization))
        .route("/repositories", delete(delete_repository))
        .route("/state", get(state))
        .route("/tasks", get(tasks))
        .route("/calls", get(calls))
        .route("/faults", get(faults).put(set_faults).delete(clear_faults))
        .route("/tokens", delete(revoke_tokens))
        .route("/reset", post(reset))
        .fallback(|| async { AdminError::NotFound })
        .layer(middleware::from_fn_with_state(app, loopback_only))
}

async fn loopback_only(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if allowed(app.config.admin_allow_remote, peer.ip()) {
        next.run(request).await
    } else {
        AdminError::Remote.into_response()
    }
}

/// Loopback peers always; others only when remote admin is on. IPv4-mapped IPv6 loopback
/// (`::ffff:127.0.0.1`, seen on dual-stack listeners) counts as loopback.
fn allowed(allow_remote: bool, peer: IpAddr) -> bool {
    allow_remote || peer.to_canonical().is_loopback()
}

/// Bodies are read as JSON whatever their content type, so plain `curl -d` works.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, AdminError> {
    Ok(serde_json::from_slice(body)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Push {
    region: String,
    organization: String,
    repository: String,
    tag: String,
    #[serde(default)]
    digest: Option<String>,
}

/// Pushes a tag; without a digest it is a new image (random digest).
async fn push(State(app): AppState, body: Bytes) -> Result<Response, AdminError> {
    let push: Push = parse(&body)?;
    let repo = SourceRepo::new(&push.region, &push.organization, &push.repository)
        .map_err(StateError::from)?;
    let digest = push.digest.unwrap_or_else(|| {
        format!(
            "sha256:{}",
            hex::encode(rand::thread_rng().gen::<[u8; 32]>())
        )
    });
    let faults = &app.faults;
    let jobs = app
        .world()
        .push(&repo, &push.tag, &digest, &mut || faults.job_ending())?;
    Ok(json(
        StatusCode::OK,
        &json!({"digest": digest, "jobs": jobs}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrganization {
    region: String,
    name: String,
    /// Owning domain name; absent: the first configured domain.
    #[serde(default)]
    domain: Option<String>,
}

async fn create_organization(State(app): AppState, body: Bytes) -> Result<Response, AdminError> {
    let new: NewOrganization = parse(&body)?;
    let org = app
        .world()
        .create_organization(&new.region, &new.name, new.domain.as_deref())?
        .listed(&new.name);
    Ok(json(StatusCode::CREATED, &org))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoneRepository {
    region: String,
    organization: String,
    repository: String,
}

/// Deletes a repository (and its tasks), as its owner would in the console.
async fn delete_repository(State(app): AppState, body: Bytes) -> Result<Response, AdminError> {
    let gone: GoneRepository = parse(&body)?;
    let repo = SourceRepo::new(&gone.region, &gone.organization, &gone.repository)
        .map_err(|e| AdminError::from(StateError::from(e)))?;
    app.world().delete_repository(&repo)?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"deleted": repo.to_string()}),
    ))
}

async fn state(State(app): AppState) -> Response {
    json(StatusCode::OK, &*app.world())
}

async fn tasks(State(app): AppState) -> Response {
    json(StatusCode::OK, &app.world().tasks)
}

async fn calls(State(app): AppState) -> Response {
    json(StatusCode::OK, &app.calls.report())
}

async fn faults(State(app): AppState) -> Response {
    json(StatusCode::OK, &app.faults.get())
}

async fn set_faults(State(app): AppState, body: Bytes) -> Result<Response, AdminError> {
    app.faults.set(parse(&body)?)?;
    Ok(faults(State(app)).await)
}

async fn clear_faults(State(app): AppState) -> Response {
    app.faults
        .set(FaultSpec::default())
        .expect("no faults is a valid spec");
    faults(State(app)).await
}

/// Revokes every IAM token issued so far: clients holding one get 401 until they log in
/// again.
async fn revoke_tokens(State(app): AppState) -> Response {
    let revoked = app.tokens.revoke_all();
    json(StatusCode::OK, &json!({"revoked": revoked}))
}

/// Back to the start-up state: data, call counts, faults and key lockouts. Issued tokens
/// stay valid.
async fn reset(State(app): AppState) -> StatusCode {
    *app.world() = World::from_config(&app.config);
    app.calls.clear();
    app.lockouts.clear();
    app.faults
        .set(FaultSpec::default())
        .expect("no faults is a valid spec");
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_unless_remote_is_allowed() {
        let table = [
            ("127.0.0.1", false, true),
            ("::1", false, true),
            ("::ffff:127.0.0.1", false, true),
            ("10.1.2.3", false, false),
            ("2001:db8::1", false, false),
            ("10.1.2.3", true, true),
        ];
        for (ip, allow_remote, ok) in table {
            assert_eq!(
                allowed(allow_remote, ip.parse().unwrap()),
                ok,
                "{ip} {allow_remote}"
            );
        }
    }
}
