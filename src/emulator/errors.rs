//! Error answers in the shape of whoever gives them: the API gateway in front of every
//! service (`{"error_code","error_msg","request_id"}`, codes `APIGW.*`), SWR (its current
//! object form, or the legacy top-level array of older regions), HSS
//! (`{"error_code","error_msg","error_description"}`) and IAM (`{"error":{"code","message",
//! "title"}}`). Sources are in `docs/emulator.md`, "Fidelity".

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::AuthError;
use super::config::SwrErrorFormat;
use super::router::Service;
use super::state::StateError;

/// SWR: invalid parameter, name or body (status 400).
pub const SWR_INVALID_PARAMETER: &str = "SVCSTG.SWR.4000014";
/// SWR: deleting a sync task that does not exist (status 400, as the real service answers).
pub const SWR_TASK_NOT_FOUND: &str = "SVCSTG.SWR.4001158";
/// SWR: the organization was not found (status 404).
pub const SWR_ORGANIZATION_NOT_FOUND: &str = "SVCSTG.SWR.4040058";
/// SWR: the image (a repository, or a tag of one) does not exist (status 404).
pub const SWR_IMAGE_NOT_FOUND: &str = "SVCSTG.SWR.4040010";
/// SWR: insufficient permissions, e.g. another account's organization (status 403).
pub const SWR_FORBIDDEN: &str = "SVCSTG.SWR.4030170";
/// HSS: invalid parameter (status 400).
pub const HSS_INVALID_PARAMETER: &str = "HSS.0001";
/// HSS: access denied, e.g. another project's path (status 400, as every HSS error).
pub const HSS_ACCESS_DENIED: &str = "HSS.0010";
/// HSS: insufficient permissions (status 400).
pub const HSS_INSUFFICIENT_PERMISSIONS: &str = "HSS.0013";
/// API gateway: no API at this method and path (status 404).
pub const APIGW_NO_SUCH_API: &str = "APIGW.0101";
/// API gateway: AK/SK or token refused, or the access key locked (status 401).
pub const APIGW_AUTH_REFUSED: &str = "APIGW.0301";
/// API gateway: the IAM user may not call this API (status 403).
pub const APIGW_NOT_AUTHORIZED: &str = "APIGW.0302";
/// API gateway: the token has expired or belongs to another region (status 401).
pub const APIGW_TOKEN_EXPIRED: &str = "APIGW.0307";
/// API gateway: throttled (status 429).
pub const APIGW_THROTTLED: &str = "APIGW.0308";

/// Who answers an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The service behind the gateway, in its own shape.
    Service,
    /// The API gateway, before the request reaches any service.
    Gateway,
}

/// An error answer, rendered in the shape of whoever gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status.
    pub status: StatusCode,
    /// Error code; when `None` it follows from the status (see [`Failure::code`]).
    pub code: Option<&'static str>,
    /// Human-readable message; never holds credentials.
    pub message: String,
    /// Seconds for a `Retry-After` header (the real gateway sends none; faults may ask).
    pub retry_after: Option<u64>,
    /// The gateway or the service.
    pub origin: Origin,
}

impl Failure {
    /// A failure of the service, with the status's default code.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: None,
            message: message.into(),
            retry_after: None,
            origin: Origin::Service,
        }
    }

    /// A failure of the API gateway.
    pub fn gateway(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code: Some(code),
            origin: Origin::Gateway,
            ..Self::new(status, message)
        }
    }

    /// 400 with the service's invalid-parameter code.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// Sets the error code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The error code: the explicit one, else derived from the status — SWR
    /// `SVCSTG.SWR.<status>0000` (400 → [`SWR_INVALID_PARAMETER`]), HSS
    /// [`HSS_INVALID_PARAMETER`] for 400 and `HSS.0<status>` otherwise (its pages list 400s
    /// only); IAM's code is the status number.
    pub fn code(&self, service: Service) -> String {
        let status = self.status.as_u16();
        match (self.code, service) {
            (Some(code), _) => code.to_string(),
            (None, Service::Swr) if status == 400 => SWR_INVALID_PARAMETER.to_string(),
            (None, Service::Swr) => format!("SVCSTG.SWR.{status}0000"),
            (None, Service::Hss) if status == 400 => HSS_INVALID_PARAMETER.to_string(),
            (None, Service::Hss) => format!("HSS.{status:04}"),
            (None, Service::Iam) => status.to_string(),
        }
    }

    /// The JSON body.
    fn body(&self, service: Service, swr_format: SwrErrorFormat, request_id: &str) -> Value {
        let code = self.code(service);
        let message = &self.message;
        let entry = json!({"errorCode": code, "errorMessage": message, "detail": ""});
        match (self.origin, service, swr_format) {
            (Origin::Gateway, _, _) => {
                json!({"error_code": code, "error_msg": message, "request_id": request_id})
            }
            (Origin::Service, Service::Swr, SwrErrorFormat::Array) => json!([entry]),
            (Origin::Service, Service::Swr, SwrErrorFormat::Object) => json!({
                "errors": [entry],
                "error_code": code,
                "error_msg": message,
                "details": [{"error_code": code, "error_msg": ""}],
            }),
            (Origin::Service, Service::Hss, _) => json!({
                "error_code": code, "error_msg": message, "error_description": message,
            }),
            (Origin::Service, Service::Iam, _) => json!({"error": {
                "code": self.status.as_u16(),
                "message": message,
                "title": self.status.canonical_reason().unwrap_or_default(),
            }}),
        }
    }

    /// The HTTP answer; `request_id` is also the answer's `X-Request-Id`.
    pub fn render(
        &self,
        service: Service,
        swr_format: SwrErrorFormat,
        request_id: &str,
    ) -> Response {
        let body = Json(self.body(service, swr_format, request_id));
        let mut response = (self.status, body).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The gateway's code for an error status it answers itself (`devg-apisign`
/// `api-sign-errorcode`).
pub fn gateway_code(status: StatusCode) -> Option<&'static str> {
    match status.as_u16() {
        401 => Some(APIGW_AUTH_REFUSED),
        403 => Some(APIGW_NOT_AUTHORIZED),
        404 => Some(APIGW_NO_SUCH_API),
        429 => Some(APIGW_THROTTLED),
        _ => None,
    }
}

/// The answer to a request that is not authenticated. IAM answers its own requests in its
/// own shape; SWR and HSS requests are refused by the gateway in front of them, with the
/// gateway's words before the detail.
pub fn auth_failure(err: &AuthError, service: Service) -> Failure {
    let status = StatusCode::UNAUTHORIZED;
    match (service, err) {
        (Service::Iam, _) => Failure::new(status, err.to_string()),
        (_, AuthError::ExpiredToken | AuthError::TokenRegion { .. }) => Failure::gateway(
            status,
            APIGW_TOKEN_EXPIRED,
            format!("The token must be updated: {err}"),
        ),
        _ => Failure::gateway(
            status,
            APIGW_AUTH_REFUSED,
            format!("Incorrect IAM authentication information: {err}"),
        ),
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
            StateError::OrganizationNotFound { .. } => {
                failure.with_code(SWR_ORGANIZATION_NOT_FOUND)
            }
            StateError::RepositoryNotFound(_) | StateError::TagNotFound { .. } => {
                failure.with_code(SWR_IMAGE_NOT_FOUND)
            }
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
        assert_eq!(
            Failure::bad_request("x").code(Service::Hss),
            HSS_INVALID_PARAMETER
        );
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

    fn body(f: &Failure, service: Service, format: SwrErrorFormat) -> Value {
        f.body(service, format, "r1")
    }

    #[test]
    fn each_origin_and_service_answers_in_its_own_shape() {
        let f = Failure::from(StateError::TaskNotFound(
            crate::swr::SourceRepo::new("r", "o", "p").unwrap(),
            "t".into(),
        ));
        let code = SWR_TASK_NOT_FOUND;
        let message = f.message.clone();
        assert_eq!(
            body(&f, Service::Swr, SwrErrorFormat::Object),
            json!({
                "errors": [{"errorCode": code, "errorMessage": message, "detail": ""}],
                "error_code": code,
                "error_msg": message,
                "details": [{"error_code": code, "error_msg": ""}],
            })
        );
        assert_eq!(
            body(&f, Service::Swr, SwrErrorFormat::Array),
            json!([{"errorCode": code, "errorMessage": message, "detail": ""}])
        );
        let throttled = Failure::gateway(StatusCode::TOO_MANY_REQUESTS, APIGW_THROTTLED, "slow");
        for service in [Service::Swr, Service::Hss, Service::Iam] {
            assert_eq!(
                body(&throttled, service, SwrErrorFormat::Array),
                json!({"error_code": APIGW_THROTTLED, "error_msg": "slow", "request_id": "r1"})
            );
        }
        assert_eq!(
            body(
                &Failure::bad_request("bad"),
                Service::Hss,
                SwrErrorFormat::Object
            ),
            json!({"error_code": HSS_INVALID_PARAMETER, "error_msg": "bad", "error_description": "bad"})
        );
        assert_eq!(
            body(
                &Failure::new(StatusCode::UNAUTHORIZED, "no"),
                Service::Iam,
                SwrErrorFormat::Object
            ),
            json!({"error": {"code": 401, "message": "no", "title": "Unauthorized"}})
        );
    }

    #[test]
    fn authentication_failures_come_from_the_gateway_except_at_iam() {
        let expired = auth_failure(&AuthError::ExpiredToken, Service::Swr);
        assert_eq!(
            (expired.code, expired.origin),
            (Some(APIGW_TOKEN_EXPIRED), Origin::Gateway)
        );
        let refused = auth_failure(&AuthError::Missing, Service::Hss);
        assert_eq!(
            (refused.code, refused.origin),
            (Some(APIGW_AUTH_REFUSED), Origin::Gateway)
        );
        assert!(refused
            .message
            .starts_with("Incorrect IAM authentication information: "));
        let iam = auth_failure(&AuthError::Missing, Service::Iam);
        assert_eq!((iam.code, iam.origin), (None, Origin::Service));
    }
}
