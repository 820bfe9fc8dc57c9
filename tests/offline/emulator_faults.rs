//! Fault injection over HTTP (errors, operation filters, throttling, latency, hangs) and the
//! call counts the admin API reports.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use swr_sync_operator::emulator::EmulatorConfig;
use testkit::signed::{admin, read, start, Signed};

const REGIONS: &str = "/v2/manage/regions";
const SYNC_REPO: &str = "/v2/manage/namespaces/platform/repos/nginx/sync_repo";

async fn faults(swr: &Signed, spec: Value) -> (StatusCode, Value) {
    admin(&swr.base, Method::PUT, "faults", Some(spec)).await
}

async fn calls(swr: &Signed) -> Value {
    admin(&swr.base, Method::GET, "calls", None).await.1
}

fn dr() -> Value {
    json!({"remoteRegionId": "cn-east-3", "remoteNamespace": "platform-dr"})
}

#[tokio::test]
async fn error_rate_one_fails_every_call_in_its_service_shape() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    assert_eq!(
        faults(&swr, json!({"error_rate": 1.0})).await.0,
        StatusCode::OK
    );
    let (status, body) = read(swr.get(REGIONS).await).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error_code"], "SVCSTG.SWR.5000000");
    let hss = format!("/v5/{}/image/synchronize", testkit::signed::PROJECT_ID);
    let (status, body) = read(
        swr.post(&hss, &json!({"image_type": "private_image"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, &body["error_code"]),
        (StatusCode::INTERNAL_SERVER_ERROR, &json!("HSS.0500"))
    );
    let (status, body) = read(swr.get("/v3/projects").await).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::INTERNAL_SERVER_ERROR, &json!(500))
    );
    // Faults come before authentication, and never touch the admin API.
    let unsigned = reqwest::get(format!("{}{REGIONS}", swr.base))
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(calls(&swr).await["total"], 4);

    assert_eq!(
        admin(&swr.base, Method::DELETE, "faults", None).await.0,
        StatusCode::OK
    );
    assert_eq!(swr.get(REGIONS).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn operations_filter_and_error_status() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let spec =
        json!({"error_rate": 1.0, "error_status": 503, "operations": ["swr.create_sync_task"]});
    let (_, in_force) = faults(&swr, spec).await;
    assert_eq!(in_force["operations"], json!(["swr.create_sync_task"]));
    assert_eq!(
        admin(&swr.base, Method::GET, "faults", None).await.1,
        in_force
    );
    let (status, body) = read(swr.post(SYNC_REPO, &dr()).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error_code"], "SVCSTG.SWR.5030000");
    assert_eq!(swr.get(SYNC_REPO).await.status(), StatusCode::OK);
    let (_, tasks) = admin(&swr.base, Method::GET, "tasks", None).await;
    assert_eq!(tasks, json!([]), "a failed create changes nothing");
}

#[tokio::test]
async fn qps_limit_throttles_in_the_gateways_shape() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    faults(&swr, json!({"qps_limit": 2})).await;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let answer = swr.get(REGIONS).await;
        statuses.push(answer.status().as_u16());
        last = Some(answer);
    }
    assert_eq!(statuses, [200, 200, 429]);
    let throttled = last.unwrap();
    // The real gateway sends no Retry-After; only a fault that asks for one gets it.
    assert!(!throttled.headers().contains_key("retry-after"));
    let id = throttled.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (_, body) = read(throttled).await;
    assert_eq!(body["error_code"], "APIGW.0308");
    assert_eq!(
        body["request_id"],
        id.as_str(),
        "the body quotes the header's id"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        swr.get(REGIONS).await.status(),
        StatusCode::OK,
        "a new window"
    );

    faults(&swr, json!({"qps_limit": 0, "retry_after_seconds": 7})).await;
    let answer = swr.get(REGIONS).await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.headers()["retry-after"], "7");
}

async fn timed(swr: &Signed) -> Duration {
    let t0 = Instant::now();
    assert_eq!(swr.get(REGIONS).await.status(), StatusCode::OK);
    t0.elapsed()
}

#[tokio::test]
async fn latency_delays_answers_not_effects() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    faults(&swr, json!({"latency": {"fixed_ms": 300}})).await;
    assert!(timed(&swr).await >= Duration::from_millis(300));
    faults(&swr, json!({"latency": 150})).await;
    let took = timed(&swr).await;
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(300),
        "{took:?}"
    );
    faults(
        &swr,
        json!({"latency": {"min_ms": 50, "max_ms": 120}, "seed": 1}),
    )
    .await;
    for _ in 0..3 {
        let took = timed(&swr).await;
        assert!(
            took >= Duration::from_millis(50) && took < Duration::from_millis(250),
            "{took:?}"
        );
    }

    // A client that gives up early still changed the state: the lost-response case.
    faults(
        &swr,
        json!({"latency": {"fixed_ms": 1000}, "operations": ["swr.create_sync_task"]}),
    )
    .await;
    assert!(
        timed(&swr).await < Duration::from_millis(500),
        "other operations are not delayed"
    );
    let impatient = Signed {
        http: reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
        ..swr.clone()
    };
    let body = dr().to_string();
    let err = impatient
        .try_send(Method::POST, SYNC_REPO, &[], body.as_bytes())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let (_, tasks) = admin(&swr.base, Method::GET, "tasks", None).await;
    assert_eq!(
        tasks.as_array().unwrap().len(),
        1,
        "created before the answer was due"
    );
}

#[tokio::test]
async fn hangs_outlast_the_client_and_end_at_shutdown() {
    let (emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    faults(
        &swr,
        json!({"hang": 1.0, "operations": ["swr.list_regions"]}),
    )
    .await;
    let t0 = Instant::now();
    let impatient = Signed {
        http: reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
        ..swr.clone()
    };
    let err = impatient
        .try_send(Method::GET, REGIONS, &[], b"")
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    let report = calls(&swr).await;
    assert_eq!(
        report["calls"],
        json!([{"operation": "swr.list_regions", "status": 0, "count": 1}])
    );
    assert_eq!(
        swr.get(SYNC_REPO).await.status(),
        StatusCode::OK,
        "other operations answer"
    );

    // A request still hanging does not keep the emulator from stopping.
    let patient = swr.clone();
    let waiting =
        tokio::spawn(async move { patient.try_send(Method::GET, REGIONS, &[], b"").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(5), emulator.shutdown())
        .await
        .expect("shutdown is prompt")
        .unwrap();
    let released = waiting.await.unwrap();
    assert!(released
        .map(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .unwrap_or(true));
}

#[tokio::test]
async fn invalid_fault_specs_are_refused() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    for spec in [
        json!({"error_rate": 2}),
        json!({"hang": -1}),
        json!({"error_status": 302}),
        json!({"latency": {"min_ms": 5, "max_ms": 1}}),
        json!({"operations": ["swr.nope"]}),
        json!({"typo": true}),
    ] {
        let (status, body) = faults(&swr, spec.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{spec}: {body}");
        assert!(body["error"].is_string());
    }
    assert_eq!(
        admin(&swr.base, Method::GET, "faults", None).await.1["error_rate"],
        0.0
    );
}

#[tokio::test]
async fn call_counts_reflect_what_was_sent() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    assert_eq!(calls(&swr).await, json!({"total": 0, "calls": []}));
    swr.get(REGIONS).await;
    swr.get(REGIONS).await;
    reqwest::get(format!("{}{REGIONS}", swr.base))
        .await
        .unwrap();
    swr.get("/v2/nothing/here").await;
    swr.post(SYNC_REPO, &dr()).await;
    swr.post(SYNC_REPO, &dr()).await;
    swr.get("/mars-1/v2/manage/regions").await;
    let login = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "domain": {"name": "example-domain"}, "name": "swr-operator", "password": "s3cret!"}}},
        "scope": {"project": {"name": "cn-north-4"}}}});
    swr.post("/v3/auth/tokens", &login).await;
    admin(&swr.base, Method::GET, "state", None).await;
    assert_eq!(
        calls(&swr).await,
        json!({"total": 8, "calls": [
            {"operation": "iam.create_token", "status": 201, "count": 1},
            {"operation": "swr.create_sync_task", "status": 200, "count": 1},
            {"operation": "swr.create_sync_task", "status": 409, "count": 1},
            {"operation": "swr.list_regions", "status": 200, "count": 2},
            {"operation": "swr.list_regions", "status": 401, "count": 1},
            {"operation": "swr.list_regions", "status": 404, "count": 1},
            {"operation": "unknown", "status": 404, "count": 1},
        ]})
    );
}
