//! What a cloud call is: the request (service, region, operation, how it authenticates)
//! and the successful response, independent of how it is sent.

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{without_bom, ApiError, ErrorClass};
use crate::auth::credentials::{AccessKey, SecretString};

/// The service a request goes to; picks the endpoint template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Software Repository for Container.
    Swr,
    /// Host Security Service.
    Hss,
    /// Identity and Access Management.
    Iam,
}

impl Service {
    /// Metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Swr => "swr",
            Self::Hss => "hss",
            Self::Iam => "iam",
        }
    }
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum RequestAuth {
    /// No authentication (IAM password logins carry theirs in the body).
    Anonymous,
    /// AK/SK signature.
    Sign(AccessKey),
    /// IAM token in `X-Auth-Token`.
    Token(SecretString),
}

/// One cloud API request.
#[derive(Debug, Clone)]
pub struct CloudRequest {
    /// Operation name for errors, logs and metrics (`swr.list_sync_tasks`).
    pub operation: &'static str,
    /// Target service.
    pub service: Service,
    /// Region the endpoint template is expanded for.
    pub region: String,
    /// HTTP method.
    pub method: Method,
    /// Path below the endpoint, already percent-encoded.
    pub path: String,
    /// Query parameters (decoded).
    pub query: Vec<(String, String)>,
    /// Extra headers, signed with the rest.
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Vec<u8>>,
    /// Whether a repeat is harmless, so failures may be retried.
    pub idempotent: bool,
    /// Content type; the SDKs send one on every request.
    pub content_type: &'static str,
    /// Whether the request may wait behind the operator's own work (verification), or is
    /// part of it (task management).
    pub priority: Priority,
}

/// How a request competes for the process's cloud capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Priority {
    /// Task management: the whole capacity.
    #[default]
    Foreground,
    /// Verification: a bounded share, so that it never starves task management.
    Background,
}

impl CloudRequest {
    /// A request without query, body or extra headers; idempotent when the method is.
    pub fn new(
        operation: &'static str,
        service: Service,
        region: &str,
        method: Method,
        path: String,
    ) -> Self {
        Self {
            operation,
            service,
            region: region.to_string(),
            idempotent: matches!(method, Method::GET | Method::DELETE),
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            content_type: "application/json",
            priority: Priority::Foreground,
        }
    }

    /// Sets how the request competes for capacity.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: &impl Serialize) -> Self {
        self.body = Some(serde_json::to_vec(body).expect("request bodies serialize"));
        self
    }

    /// Marks the request as safe (or not) to repeat.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct CloudResponse {
    /// Operation it answers.
    pub operation: &'static str,
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl CloudResponse {
    /// Decodes the JSON body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(without_bom(&self.body)).map_err(|e| {
            ApiError::without_response(
                self.operation,
                ErrorClass::UnexpectedResponse,
                format!("unexpected response body: {e}"),
            )
        })
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_are_idempotent_by_default() {
        let get = CloudRequest::new("x", Service::Swr, "r", Method::GET, "/".into());
        let post = CloudRequest::new("x", Service::Swr, "r", Method::POST, "/".into());
        assert!(get.idempotent && !post.idempotent);
        assert!(post.idempotent(true).idempotent);
    }
}
