//! Error answers in each service's own shape: SWR `[{"errorCode","errorMessage","detail"}]`,
//! HSS `{"error_code","error_msg"}` and IAM `{"error":{"code","message","title"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use super::auth::AuthError;
use super::router::Service;
use super::state::StateError;

/// SWR: invalid parameter, name or body (status 400).
pub const SWR_INVALID_PARAMETER: &str = "SVCSTG.SWR.4000014";
/// SWR: deleting a sync task that does not exist (status 400, as the real service answers).
pub const SWR_TASK_NOT_FOUND: &str = "SVCSTG.SWR.4001158";
/// HSS: the path's project is not the caller's project in this region (status 403).
pub const HSS_PROJECT_MISMATCH: &str = "HSS.0004";

/// SWR's error entry, a struct so the fields keep the documented order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SwrErrorBody<'a> {
    error_code: &'a str,
    error_message: &'a str,
    detail: &'a str,
}

/// An error answer, rendered in the shape of the service that gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status.
    pub status: StatusCode,
    /// Service error code; when `None` it follows from the status (see [`Failure::code`]).
    pub code: Option<&'static str>,
    /// Human-readable message; never holds credentials.
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl Failure {
    /// A failure with the status's default code.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 with SWR's invalid-parameter code.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// Sets the service error code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The error code the service gives: the explicit one, else derived from the status —
    /// SWR `SVCSTG.SWR.<status>0000` (400 → [`SWR_INVALID_PARAMETER`]), HSS `HSS.0<status>`;
    /// IAM's code is the status number.
    pub fn code(&self, service: Service) -> String {
        let status = self.status.as_u16();
        match (self.code, service) {
            (Some(code), _) => code.to_string(),
            (None, Service::Swr) if status == 400 => SWR_INVALID_PARAMETER.to_string(),
            (None, Service::Swr) => format!("SVCSTG.SWR.{status}0000"),
            (None, Service::Hss) => format!("HSS.{status:04}"),
            (None, Service::Iam) => status.to_string(),
        }
    }

    /// The HTTP answer.
    pub fn render(&self, service: Service) -> Response {
        let code = self.code(service);
        let body = match service {
            Service::Swr => Json([SwrErrorBody {
                error_code: &code,
                error_message: &self.message,
                detail: "",
            }])
            .into_response(),
            Service::Hss => {
                Json(json!({"error_code": code, "error_msg": self.message})).into_response()
            }
            Service::Iam => Json(json!({"error": {
                "code": self.status.as_u16(),
                "message": self.message,
                "title": self.status.canonical_reason().unwrap_or_default(),
            }}))
            .into_response(),
        };
        let mut response = (self.status, body).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<AuthError> for Failure {
    fn from(err: AuthError) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, err.to_string())
    }
}

impl From<StateError> for Failure {
    fn from(err: StateError) -> Self {
        let status = match &err {
            StateError::RegionNotFound(_)
            | StateError::OrganizationNotFound { .. }
            | StateError::RepositoryNotFound(_)
            | StateError::TagNotFound { .. } => StatusCode::NOT_FOUND,
            StateError::OrganizationExists { .. } | StateError::TaskExists(..) => {
                StatusCode::CONFLICT
            }
            StateError::Name(_)
            | StateError::TargetRegion(_)
            | StateError::TargetIsSource
            | StateError::TargetOrganization { .. }
            | StateError::TaskNotFound(..)
            | StateError::NoTags => StatusCode::BAD_REQUEST,
        };
        let failure = Self::new(status, err.to_string());
        match err {
            StateError::TaskNotFound(..) => failure.with_code(SWR_TASK_NOT_FOUND),
            _ => failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_status_unless_set() {
        let f = Failure::new(StatusCode::TOO_MANY_REQUESTS, "slow down");
        assert_eq!(f.code(Service::Swr), "SVCSTG.SWR.4290000");
        assert_eq!(f.code(Service::Hss), "HSS.0429");
        assert_eq!(f.code(Service::Iam), "429");
        assert_eq!(
            Failure::bad_request("x").code(Service::Swr),
            SWR_INVALID_PARAMETER
        );
        let f = Failure::from(StateError::TaskNotFound(
            crate::swr::SourceRepo::new("r", "o", "p").unwrap(),
            "t".into(),
        ));
        assert_eq!(
            (f.status, f.code(Service::Swr).as_str()),
            (StatusCode::BAD_REQUEST, SWR_TASK_NOT_FOUND)
        );
    }
}
