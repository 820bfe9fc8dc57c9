//! Classified cloud API errors: what failed, how the reconciler should treat it, and the
//! evidence (status, error code, request id, raw body) for the user.

use std::time::Duration;

use serde_json::Value;

/// How a failure should be handled; also the low-cardinality metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// 400 and other 4xx not listed below: the request is wrong; retrying will not help.
    InvalidRequest,
    /// 401: credentials missing, wrong or expired.
    Unauthorized,
    /// 403: authenticated but not allowed.
    Forbidden,
    /// 404.
    NotFound,
    /// 409: the thing already exists.
    Conflict,
    /// 429: over the service's rate limit.
    Throttled,
    /// 5xx.
    Server,
    /// No answer within the per-request timeout.
    Timeout,
    /// Connection-level failure (DNS, refused, reset, TLS, a body cut off).
    Transport,
    /// An answer that came through but cannot be read: not JSON, the wrong shape, far too
    /// big. Asking the same server again at once is likely to get the same answer, so the
    /// transport does not retry it; a later pass may find the service mended.
    UnexpectedResponse,
}

impl ErrorClass {
    /// The metrics/condition label.
    pub fn label(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Throttled => "throttled",
            Self::Server => "server_error",
            Self::Timeout => "timeout",
            Self::Transport => "transport",
            Self::UnexpectedResponse => "unexpected_response",
        }
    }

    /// Whether the same request may succeed later without anyone changing anything.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Throttled | Self::Server | Self::Timeout | Self::Transport
        )
    }

    /// The class of an HTTP error status.
    pub fn from_status(status: u16) -> Self {
        match status {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            409 => Self::Conflict,
            429 => Self::Throttled,
            500..=599 => Self::Server,
            _ => Self::InvalidRequest,
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Longest raw body kept in an error, in bytes, before the `…` that marks a cut.
pub const RAW_BODY_LIMIT: usize = 2048;

/// Longest code or message kept in an error, in bytes, before the `…` that marks a cut. Both
/// are printed into status conditions, events and logs: a gateway's HTML error page or a
/// decoder quoting a huge field must not flood them, nor push a status update past the API
/// server's request size limit.
pub const MESSAGE_LIMIT: usize = 1024;

/// `text` cut at a char boundary to at most `limit` bytes, plus a `…` marking the cut.
fn bounded(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// A failed cloud API call. Carries no credentials: bodies are responses, never requests.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}: {class}{}{}{}{}",
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
    evidence.code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(),
    if evidence.message.is_empty() { String::new() } else { format!(": {}", evidence.message) },
    evidence.request_id.as_deref().map(|r| format!(" [request id {r}]")).unwrap_or_default())]
pub struct ApiError {
    /// How to treat it.
    pub class: ErrorClass,
    /// The operation that failed (`swr.create_sync_task`, …).
    pub operation: &'static str,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// `Retry-After` of a throttled response.
    pub retry_after: Option<Duration>,
    /// What the service said; boxed so `Result<_, ApiError>` stays small.
    pub evidence: Box<Evidence>,
}

/// What the service said about a failure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Service error code (`SVCSTG.SWR.4001158`, `APIGW.0301`, …), at most
    /// [`MESSAGE_LIMIT`] bytes when built by [`ApiError`]'s constructors.
    pub code: Option<String>,
    /// Service or transport message, at most [`MESSAGE_LIMIT`] bytes when built by
    /// [`ApiError`]'s constructors.
    pub message: String,
    /// `X-Request-Id` of the response, for support tickets.
    pub request_id: Option<String>,
    /// The response body (truncated).
    pub raw_body: String,
}

impl ApiError {
    /// An error built from an HTTP error response.
    pub fn from_response(
        operation: &'static str,
        status: u16,
        request_id: Option<String>,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Self {
        let (code, message) = parse_error_body(body);
        Self {
            class: ErrorClass::from_status(status),
            operation,
            status: Some(status),
            retry_after,
            evidence: Box::new(Evidence {
                code: code.map(|c| bounded(c, MESSAGE_LIMIT)),
                message: bounded(message.unwrap_or_default(), MESSAGE_LIMIT),
                request_id,
                raw_body: bounded(String::from_utf8_lossy(body).into_owned(), RAW_BODY_LIMIT),
            }),
        }
    }

    /// An error with no HTTP response (timeout, transport, undecodable body).
    pub fn without_response(
        operation: &'static str,
        class: ErrorClass,
        message: impl Into<String>,
    ) -> Self {
        Self {
            class,
            operation,
            status: None,
            retry_after: None,
            evidence: Box::new(Evidence {
                message: bounded(message.into(), MESSAGE_LIMIT),
                ..Evidence::default()
            }),
        }
    }

    /// Whether the service answered with this error code.
    pub fn has_code(&self, code: &str) -> bool {
        self.evidence.code.as_deref() == Some(code)
    }

    /// Whether the API gateway in front of the service gave this answer: the request never
    /// reached the service.
    pub fn from_gateway(&self) -> bool {
        self.evidence
            .code
            .as_deref()
            .is_some_and(|c| c.starts_with(GATEWAY_CODE_PREFIX))
    }

    /// Whether the service itself said that what was asked for does not exist: a 404 with
    /// the service's error code. The gateway's 404 ("no such API", e.g. a path the client
    /// built wrong) and a bare 404 from a proxy say nothing about the thing asked for.
    pub fn is_service_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound && self.evidence.code.is_some() && !self.from_gateway()
    }
}

/// Prefix of the API gateway's error codes (`APIGW.0101`, `APIGW.0308`…).
pub const GATEWAY_CODE_PREFIX: &str = "APIGW.";

/// Reads `(code, message)` from any of the error body shapes Huawei Cloud services use:
/// `[{"errorCode","errorMessage"}]` (SWR), `{"errors":[{...}]}`, flat
/// `{"errorCode","errorMessage"}`, `{"error_code","error_msg"}` (API gateway, HSS) and
/// IAM's `{"error":{"code","message"}}`.
pub fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let body = without_bom(body);
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body).trim().to_string();
        return (None, (!text.is_empty()).then_some(text));
    };
    let object = match &value {
        Value::Array(items) => items.first(),
        Value::Object(map) => match (map.get("errors"), map.get("error")) {
            (Some(Value::Array(items)), _) => items.first(),
            (_, Some(inner @ Value::Object(_))) => Some(inner),
            _ => Some(&value),
        },
        _ => None,
    };
    let field = |names: &[&str]| {
        let object = object?;
        names.iter().find_map(|n| match object.get(*n)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    (
        field(&["errorCode", "error_code", "code"]),
        field(&["errorMessage", "error_msg", "message", "error_description"]),
    )
}

/// `body` without a leading UTF-8 byte-order mark, which some gateways put before JSON and
/// JSON parsers refuse.
pub(crate) fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_known_error_body_shape() {
        let table: [(&str, Option<&str>, Option<&str>); 7] = [
            (
                r#"[{"errorCode":"SVCSTG.SWR.4001048","errorMessage":"Failed to get Token","detail":""}]"#,
                Some("SVCSTG.SWR.4001048"),
                Some("Failed to get Token"),
            ),
            (
                r#"{"errors":[{"errorCode":"SVCSTG.SWR.4000014","errorMessage":"Invalid parameter"}]}"#,
                Some("SVCSTG.SWR.4000014"),
                Some("Invalid parameter"),
            ),
            (
                r#"{"errorCode":"SVCSTG.SWR.4001158","errorMessage":"sync task not found"}"#,
                Some("SVCSTG.SWR.4001158"),
                Some("sync task not found"),
            ),
            (
                r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"x"}"#,
                Some("APIGW.0301"),
                Some("Incorrect IAM authentication information"),
            ),
            (
                r#"{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}"#,
                Some("401"),
                Some("The username or password is wrong."),
            ),
            (
                "upstream connect error",
                None,
                Some("upstream connect error"),
            ),
            ("", None, None),
        ];
        let with_bom = "\u{feff}[{\"errorCode\":\"SVCSTG.SWR.4001048\",\"errorMessage\":\"m\"}]";
        assert_eq!(
            parse_error_body(with_bom.as_bytes()),
            (Some("SVCSTG.SWR.4001048".into()), Some("m".into()))
        );
        for (body, code, message) in table {
            let (c, m) = parse_error_body(body.as_bytes());
            assert_eq!(c.as_deref(), code, "code of {body}");
            assert_eq!(m.as_deref(), message, "message of {body}");
        }
    }

    #[test]
    fn classes_by_status_and_retryability() {
        let table = [
            (400, ErrorClass::InvalidRequest, false),
            (401, ErrorClass::Unauthorized, false),
            (403, ErrorClass::Forbidden, false),
            (404, ErrorClass::NotFound, false),
            (409, ErrorClass::Conflict, false),
            (422, ErrorClass::InvalidRequest, false),
            (429, ErrorClass::Throttled, true),
            (500, ErrorClass::Server, true),
            (503, ErrorClass::Server, true),
        ];
        for (status, class, retryable) in table {
            assert_eq!(ErrorClass::from_status(status), class);
            assert_eq!(class.is_retryable(), retryable);
        }
        assert!(ErrorClass::Timeout.is_retryable() && ErrorClass::Transport.is_retryable());
        assert!(!ErrorClass::UnexpectedResponse.is_retryable());
    }

    #[test]
    fn display_carries_the_evidence_and_bodies_are_bounded() {
        let body = format!(
            r#"[{{"errorCode":"SVCSTG.SWR.4001158","errorMessage":"{}"}}]"#,
            "x".repeat(5000)
        );
        let err = ApiError::from_response(
            "swr.delete_sync_task",
            400,
            Some("req-1".into()),
            None,
            body.as_bytes(),
        );
        assert!(err.has_code("SVCSTG.SWR.4001158"));
        assert!(err.evidence.raw_body.chars().count() <= RAW_BODY_LIMIT + 1);
        assert!(err.evidence.message.ends_with('…'));
        assert!(err.evidence.message.len() <= MESSAGE_LIMIT + '…'.len_utf8());
        let text = err.to_string();
        assert!(text
            .starts_with("swr.delete_sync_task: invalid_request (HTTP 400) SVCSTG.SWR.4001158: x"));
        assert!(text.ends_with("[request id req-1]"));
    }

    #[test]
    fn messages_are_bounded_whatever_the_body() {
        // A gateway's error page is not JSON, so its whole text is the message.
        let page = format!("<html>{}</html>", "é".repeat(4000));
        let err = ApiError::from_response("swr.list_sync_tasks", 502, None, None, page.as_bytes());
        let kept = err.evidence.message.strip_suffix('…').unwrap();
        assert!(kept.len() <= MESSAGE_LIMIT && page.starts_with(kept));
        // Decoders quote what they could not read.
        let err = ApiError::without_response("x", ErrorClass::Transport, "y".repeat(10_000));
        assert_eq!(err.evidence.message.len(), MESSAGE_LIMIT + '…'.len_utf8());
    }
}
