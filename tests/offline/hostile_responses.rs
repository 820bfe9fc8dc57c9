//! Malformed answers from a broken or hostile SWR: truncated JSON, wrong types, HTML, huge
//! bodies (with and without Content-Length), unreadable error bodies. Each is a clear,
//! classified error of the call; nothing panics and no body is read past the size cap.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Router;
use futures::stream;
use swr_sync_operator::auth::{AccessKey, CloudAuth, Credentials, SecretString};
use swr_sync_operator::cloud::endpoint::Endpoints;
use swr_sync_operator::cloud::transport::{RetryPolicy, MAX_RESPONSE_BYTES};
use swr_sync_operator::cloud::{CloudClient, ErrorClass, Transport, TransportConfig};
use swr_sync_operator::swr::{SourceRepo, SwrApi, SwrClient};

/// Answers by the organization named in the path: each is one kind of bad answer.
async fn hostile(request: Request) -> Response {
    let path = request.uri().path().to_string();
    let case = path
        .split("/namespaces/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string();
    let json = |status: StatusCode, body: Body| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap()
    };
    match case.as_str() {
        "truncated" => json(StatusCode::OK, Body::from(r#"[{"remoteRegionId": "cn-ea"#)),
        "wrongtypes" => json(StatusCode::OK, Body::from(r#"{"tasks": 42}"#)),
        "html" => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/html")
            .body(Body::from("<html><body>maintenance</body></html>"))
            .unwrap(),
        "huge" => json(
            StatusCode::OK,
            Body::from(vec![b' '; MAX_RESPONSE_BYTES + 1]),
        ),
        "hugechunked" => {
            // No Content-Length: 1 MiB chunks until well past the cap.
            let chunks = stream::iter(
                (0..(MAX_RESPONSE_BYTES >> 20) + 4)
                    .map(|_| Ok::<_, std::io::Error>(vec![b' '; 1 << 20])),
            );
            json(StatusCode::OK, Body::from_stream(chunks))
        }
        "badjson500" => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            Body::from(r#"{"errorCode": "SVCSTG.SWR.5000"#),
        ),
        "badjson400" => Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("\u{0}\u{1}not json at all"))
            .unwrap(),
        _ => json(StatusCode::OK, Body::from("[]")),
    }
}

async fn client() -> SwrClient {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, Router::new().fallback(hostile))
            .await
            .unwrap()
    });
    let transport = Transport::new(TransportConfig {
        endpoints: Endpoints::single(&format!("{base}/{{region}}")).unwrap(),
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        ..TransportConfig::default()
    })
    .unwrap();
    let credentials = Credentials::AccessKey(AccessKey {
        access_key: "AK".into(),
        secret_key: SecretString::new("SK"),
        security_token: None,
        project_id: Some("p".into()),
        region_projects: Default::default(),
    });
    SwrClient::new(CloudClient::new(
        Arc::new(transport),
        Arc::new(CloudAuth::new(credentials)),
    ))
}

#[tokio::test]
async fn every_malformed_answer_is_a_classified_error() {
    let swr = client().await;
    let cases = [
        (
            "truncated",
            ErrorClass::UnexpectedResponse,
            "unexpected response body",
        ),
        (
            "wrongtypes",
            ErrorClass::UnexpectedResponse,
            "unexpected response body",
        ),
        (
            "html",
            ErrorClass::UnexpectedResponse,
            "unexpected response body",
        ),
        ("huge", ErrorClass::UnexpectedResponse, "larger than"),
        ("hugechunked", ErrorClass::UnexpectedResponse, "larger than"),
        ("badjson500", ErrorClass::Server, "500"),
        ("badjson400", ErrorClass::InvalidRequest, "400"),
    ];
    for (case, class, hint) in cases {
        let repo = SourceRepo::new("cn-north-4", case, "nginx").unwrap();
        let err = swr
            .list_sync_tasks(&repo)
            .await
            .expect_err(&format!("{case}: a malformed answer was accepted"));
        let message = err.to_string();
        assert_eq!(err.class(), class, "{case}: {message}");
        assert!(message.contains(hint), "{case}: {message}");
    }
    // A well-formed answer from the same server still works.
    let fine = SourceRepo::new("cn-north-4", "fine", "nginx").unwrap();
    assert!(swr.list_sync_tasks(&fine).await.unwrap().is_empty());
}
