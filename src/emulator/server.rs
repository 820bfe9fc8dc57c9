//! The HTTP front: one fallback handler takes every cloud API request raw (path as sent,
//! query, headers, body bytes — what signature checks need) and runs it through routing,
//! faults, authentication and the service handlers; `/_admin/` is routed apart.

use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::Utc;

use super::app::{App, CloudCall};
use super::auth::{authenticate, check_signature};
use super::calls::STATUS_UNANSWERED;
use super::errors::{auth_failure, gateway_code, Failure, APIGW_NO_SUCH_API, APIGW_THROTTLED};
use super::faults::Outcome;
use super::router::{self, Operation, Route};
use super::{admin, hss_api, iam_api, swr_api};
use crate::auth::verify::ReceivedRequest;

/// Largest accepted request body.
const MAX_BODY: usize = 1 << 20;

/// The whole HTTP service.
pub fn service(app: Arc<App>) -> Router {
    Router::new()
        .nest("/_admin", admin::router(app.clone()))
        .fallback(cloud)
        .with_state(app)
        .layer(middleware::map_response(with_request_id))
}

/// A fresh request id, as the gateway gives every request.
fn request_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Sets `X-Request-Id` on answers that have none (cloud answers set their own, the one
/// their gateway error bodies quote).
async fn with_request_id(mut response: Response) -> Response {
    if !response.headers().contains_key("x-request-id") {
        let id = HeaderValue::from_str(&request_id()).expect("hex is a valid header value");
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

async fn cloud(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let config = &app.config;
    let route = router::route(
        parts.method.as_str(),
        parts.uri.path(),
        &config.default_region,
        |r| config.region(r).is_some(),
    );
    let operation = route.operation.name();
    let service = route.operation.service();
    let id = request_id();
    let render = |failure: Failure| failure.render(service, config.swr_error_format, &id);
    let plan = app.faults.plan(operation);
    let mut response = match plan.outcome {
        Outcome::Hang => {
            app.calls.record(operation, STATUS_UNANSWERED);
            let mut stopping = app.stopping.clone();
            // Only shutdown ends a hang; a client that gives up drops this future first.
            let _ = stopping.wait_for(|s| *s).await;
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        // The gateway throttles, and (as the real one) sends no Retry-After unless the
        // fault asks for one.
        Outcome::Throttle(retry_after) => render(Failure {
            retry_after,
            ..Failure::gateway(
                StatusCode::TOO_MANY_REQUESTS,
                APIGW_THROTTLED,
                "The throttling threshold has been reached: policy user over ratelimit (injected)",
            )
        }),
        Outcome::Fail(status, from_gateway) => {
            let status = StatusCode::from_u16(status).expect("fault specs hold 4xx/5xx statuses");
            let code = gateway_code(status).filter(|_| from_gateway);
            render(match code {
                Some(code) => Failure::gateway(status, code, "injected fault"),
                None => Failure::new(status, "injected fault"),
            })
        }
        Outcome::Pass => match to_bytes(body, MAX_BODY).await {
            Ok(bytes) => handle(&app, &route, &parts, &bytes).unwrap_or_else(render),
            Err(e) => render(Failure::bad_request(format!("unreadable body: {e}"))),
        },
    };
    let id = HeaderValue::from_str(&id).expect("hex is a valid header value");
    response.headers_mut().insert("x-request-id", id);
    app.calls.record(operation, response.status().as_u16());
    // The change is made; only the answer waits, like a slow network or a lost response.
    tokio::time::sleep(plan.delay).await;
    response
}

/// Finds the API (the gateway answers 404 for a method and path it does not publish, before
/// any authentication), authenticates (so a tampered request is a 401 whatever it asks),
/// then resolves the region and dispatches.
fn handle(
    app: &App,
    route: &Route,
    parts: &axum::http::request::Parts,
    body: &[u8],
) -> Result<Response, Failure> {
    if route.operation == Operation::Unknown {
        return Err(no_such_api(parts));
    }
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (n.as_str().to_string(), value)
        })
        .collect();
    let raw_query = parts.uri.query().unwrap_or_default();
    let request = ReceivedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        raw_query,
        headers: &headers,
        body,
    };
    let now = Utc::now();
    // SWR and HSS tokens must be scoped to the routed region; IAM is global.
    let scope = match (&route.operation, &route.region) {
        (Operation::Swr(_) | Operation::ImageSynchronize { .. }, Ok(region)) => {
            Some(region.as_str())
        }
        _ => None,
    };
    let service = route.operation.service();
    let caller = match &route.operation {
        // Logging in needs no signature, but a present one must verify.
        Operation::CreateToken => check_signature(&app.config, &app.lockouts, &request, now),
        _ => authenticate(
            &app.config,
            (&app.tokens, &app.lockouts),
            &request,
            scope,
            now,
        )
        .map(Some),
    }
    .map_err(|err| auth_failure(&err, service))?;
    // A region the emulator does not have is a host that publishes no API.
    let region = route.region.as_deref().map_err(|_| no_such_api(parts))?;
    let call = CloudCall {
        app,
        region,
        request,
        query: crate::auth::signer::parse_query(raw_query),
    };
    match (&route.operation, &caller) {
        (Operation::CreateToken, _) => iam_api::create_token(&call),
        (Operation::Swr(op), Some(caller)) => swr_api::handle(&call, caller, op),
        (Operation::ImageSynchronize { project_id }, Some(caller)) => {
            hss_api::synchronize(&call, caller, project_id)
        }
        (Operation::ListProjects, Some(caller)) => iam_api::list_projects(&call, caller),
        (Operation::RevokeToken, Some(caller)) => iam_api::revoke_token(&call, caller),
        _ => Err(no_such_api(parts)),
    }
}

/// The gateway's answer to a method and path that match no published API; a nested
/// repository name sent with a raw `/` (instead of `$` or `%24`) is one.
fn no_such_api(parts: &axum::http::request::Parts) -> Failure {
    Failure::gateway(
        StatusCode::NOT_FOUND,
        APIGW_NO_SUCH_API,
        format!(
            "The API does not exist or has not been published in the environment: {} {}",
            parts.method,
            parts.uri.path()
        ),
    )
}
