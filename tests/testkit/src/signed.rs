//! Requests to the emulator: SDK-HMAC-SHA256-signed cloud calls made the way the SDKs make
//! them (Content-Type, Host and X-Sdk-Date signed, the current time), and admin calls.

use chrono::Utc;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use swr_sync_operator::auth::signer::{self, Authorization, SignInput, DATE_FORMAT, DATE_HEADER};
use swr_sync_operator::emulator::{Emulator, EmulatorConfig, EmulatorHandle};

/// The demo access key of the embedded emulator config.
pub const ACCESS_KEY: &str = "QTWAOYTTINDUT2QVKYUC";
/// Its secret key.
pub const SECRET_KEY: &str = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
/// The demo domain's project in cn-north-4.
pub const PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";

/// An emulator on a free loopback port, and a client signing for it with the demo key.
pub async fn start(config: EmulatorConfig) -> (EmulatorHandle, Signed) {
    let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the emulator starts");
    let client = Signed::new(&emulator.base_url());
    (emulator, client)
}

/// Credentials to sign with.
#[derive(Debug, Clone)]
pub struct Key {
    pub access_key: String,
    pub secret_key: String,
    /// Sent (and signed) as `X-Security-Token` when set.
    pub security_token: Option<String>,
}

impl Key {
    /// The demo key.
    pub fn demo() -> Self {
        Self {
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            security_token: None,
        }
    }
}

/// A client that signs every request for one emulator.
#[derive(Debug, Clone)]
pub struct Signed {
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub key: Key,
}

impl Signed {
    /// Signs with the demo key.
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.to_string(),
            key: Key::demo(),
        }
    }

    /// Sends `method` to `base + target` (path with optional region prefix and query), with
    /// extra headers (signed too) and `body`.
    pub async fn send(
        &self,
        method: Method,
        target: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.try_send(method, target, extra, body)
            .await
            .expect("the emulator answers")
    }

    /// [`Signed::send`] for clients that may give up (timeouts).
    pub async fn try_send(
        &self,
        method: Method,
        target: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> reqwest::Result<Response> {
        let url = reqwest::Url::parse(&format!("{}{target}", self.base)).unwrap();
        let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let date = Utc::now().format(DATE_FORMAT).to_string();
        let mut headers: Vec<(String, String)> = vec![
            ("Content-Type".into(), "application/json".into()),
            ("Host".into(), host),
            (DATE_HEADER.into(), date.clone()),
        ];
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        if let Some(token) = &self.key.security_token {
            headers.push(("X-Security-Token".into(), token.clone()));
        }
        let signed_headers = signer::signable_header_names(headers.iter().map(|(n, _)| n.as_str()));
        let query = signer::parse_query(url.query().unwrap_or_default());
        let input = SignInput {
            method: method.as_str(),
            path: url.path(),
            query: &query,
            headers: &headers,
            signed_headers: &signed_headers,
            body,
        };
        let signature = signer::signature(&self.key.secret_key, &date, &input).unwrap();
        let authorization = Authorization {
            access_key: self.key.access_key.clone(),
            signed_headers,
            signature,
        };
        headers.push(("Authorization".into(), authorization.render()));
        let mut request = self.http.request(method, url).body(body.to_vec());
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        request.send().await
    }

    /// Signed GET.
    pub async fn get(&self, target: &str) -> Response {
        self.send(Method::GET, target, &[], b"").await
    }

    /// Signed POST of a JSON body.
    pub async fn post(&self, target: &str, body: &Value) -> Response {
        self.send(Method::POST, target, &[], body.to_string().as_bytes())
            .await
    }

    /// Signed DELETE with a JSON body.
    pub async fn delete(&self, target: &str, body: &Value) -> Response {
        self.send(Method::DELETE, target, &[], body.to_string().as_bytes())
            .await
    }
}

/// The status and JSON body (`Null` when empty or not JSON) of a response.
pub async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Calls the admin API; returns status and JSON body.
pub async fn admin(
    base: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{base}/_admin/{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request.send().await.expect("the admin API answers")).await
}
