//! Every request the official SDK sent (the captured vectors), replayed byte for byte over
//! HTTP, is accepted by the emulator; any one-byte change to what is signed gets a 401.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use swr_sync_operator::auth::signer::Authorization;
use swr_sync_operator::emulator::{EmulatorConfig, EmulatorHandle};
use testkit::signed::{self, read};
use testkit::vectors::{self, Captured};

/// Wide enough for the vectors' fixed X-Sdk-Date, whenever the tests run.
const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 86_400);

async fn start(max_clock_skew: Duration) -> EmulatorHandle {
    let mut config = EmulatorConfig::embedded_default();
    config.max_clock_skew = max_clock_skew;
    signed::start(config).await.0
}

/// Sends the capture as it is: method, target, every header (Host and Authorization too;
/// Content-Length is recomputed to the same value) and body.
async fn replay(base: &str, c: &Captured) -> (StatusCode, serde_json::Value) {
    let target = match c.raw_query.as_str() {
        "" => c.path.clone(),
        q => format!("{}?{q}", c.path),
    };
    let method = Method::from_bytes(c.method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{target}"))
        .body(c.body.clone());
    for (name, value) in &c.headers {
        if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name, value);
        }
    }
    read(request.send().await.unwrap()).await
}

fn expected_status(name: &str) -> StatusCode {
    match name {
        "iam_token_by_password" => StatusCode::CREATED,
        _ => StatusCode::OK,
    }
}

#[tokio::test]
async fn every_captured_sdk_request_is_accepted() {
    let emulator = start(TEN_YEARS).await;
    let cases = vectors::captured();
    assert!(cases.len() >= 9, "expected the nine captured requests");
    // In capture order: create comes before delete, so both succeed.
    for c in &cases {
        let (status, body) = replay(&emulator.base_url(), c).await;
        assert_eq!(status, expected_status(&c.name), "case {}: {body}", c.name);
    }
}

fn tampered(c: &Captured) -> Vec<(String, Captured)> {
    let mut out = Vec::new();
    let mut t = c.clone();
    t.method = if c.method == "GET" { "DELETE" } else { "GET" }.into();
    out.push(("method".to_string(), t));
    // Another region's copy of the same API, so that the path still names an API.
    let mut t = c.clone();
    t.path = format!("/cn-east-3{}", c.path);
    out.push(("path".into(), t));
    let mut t = c.clone();
    t.raw_query = if c.raw_query.is_empty() {
        "a=1".into()
    } else {
        c.raw_query.replacen('0', "1", 1).replacen("all", "alL", 1)
    };
    out.push(("query".into(), t));
    let mut t = c.clone();
    t.body.push(b' ');
    out.push(("body".into(), t));
    let authorization = &c
        .headers
        .iter()
        .find(|(n, _)| n == "Authorization")
        .unwrap()
        .1;
    for signed in Authorization::parse(authorization).unwrap().signed_headers {
        let mut t = c.clone();
        for (n, v) in &mut t.headers {
            if n.eq_ignore_ascii_case(&signed) {
                v.push('x');
            }
        }
        out.push((format!("header {signed}"), t));
    }
    out
}

#[tokio::test]
async fn any_tampering_is_refused_with_401() {
    let emulator = start(TEN_YEARS).await;
    for c in vectors::captured() {
        for (what, t) in tampered(&c) {
            let (status, body) = replay(&emulator.base_url(), &t).await;
            // A method that makes the request no API at all is refused by the gateway
            // before any signature check.
            let no_api = status == StatusCode::NOT_FOUND && body["error_code"] == "APIGW.0101";
            assert!(
                status == StatusCode::UNAUTHORIZED || (what == "method" && no_api),
                "case {} with tampered {what}: {status} {body}",
                c.name
            );
            let text = body.to_string();
            assert!(
                !text.contains("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"),
                "{text}"
            );
        }
    }
    // Nothing changed: every tampered write was refused.
    let (_, tasks) = signed::admin(&emulator.base_url(), Method::GET, "tasks", None).await;
    assert_eq!(tasks, serde_json::json!([]));
}

#[tokio::test]
async fn a_narrow_clock_skew_refuses_stale_signatures() {
    let emulator = start(Duration::from_secs(1)).await;
    let c = &vectors::captured()[0];
    let (status, body) = replay(&emulator.base_url(), c).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error_code"], "APIGW.0301");
    assert!(
        body["error_msg"].as_str().unwrap().contains("clock skew"),
        "{body}"
    );
}
