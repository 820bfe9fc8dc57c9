//! The admin API: organizations, state and task dumps (without secrets), errors, and reset.

use reqwest::{Method, StatusCode};
use serde_json::json;
use swr_sync_operator::emulator::EmulatorConfig;
use testkit::signed::{admin, read, start, SECRET_KEY};

const SYNC_REPO: &str = "/v2/manage/namespaces/platform/repos/nginx/sync_repo";

#[tokio::test]
async fn organizations_can_be_added() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let qa = json!({"region": "cn-east-3", "name": "qa"});
    let (status, org) = admin(&swr.base, Method::POST, "organizations", Some(qa.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    assert_eq!((&org["name"], &org["auth"]), (&json!("qa"), &json!(7)));
    let table = [
        (qa, StatusCode::CONFLICT),
        (
            json!({"region": "mars-1", "name": "qa"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"region": "cn-east-3", "name": "Q A"}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"region": "cn-east-3"}), StatusCode::BAD_REQUEST),
    ];
    for (body, status) in table {
        let (got, answer) =
            admin(&swr.base, Method::POST, "organizations", Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {answer}");
    }
    let (_, orgs) = read(swr.get("/cn-east-3/v2/manage/namespaces").await).await;
    assert_eq!(orgs["namespaces"][1]["name"], "qa");
    let task = json!({"remoteRegionId": "cn-east-3", "remoteNamespace": "qa"});
    assert_eq!(
        swr.post(SYNC_REPO, &task).await.status(),
        StatusCode::OK,
        "a target now"
    );
}

#[tokio::test]
async fn state_and_tasks_show_everything_but_secrets() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let task =
        json!({"remoteRegionId": "cn-east-3", "remoteNamespace": "platform-dr", "syncAuto": true});
    swr.post(SYNC_REPO, &task).await;
    let push = json!({"region": "cn-north-4", "organization": "platform",
        "repository": "nginx", "tag": "2.0"});
    admin(&swr.base, Method::POST, "push", Some(push)).await;

    let (status, state) = admin(&swr.base, Method::GET, "state", None).await;
    assert_eq!(status, StatusCode::OK);
    let nginx =
        &state["regions"]["cn-north-4"]["organizations"]["platform"]["repositories"]["nginx"];
    assert!(nginx["tags"]["2.0"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(
        state["regions"]["cn-east-3"]["organizations"]["platform-dr"]["repositories"]["nginx"]
            ["tags"]["2.0"]
            .is_object()
    );
    assert_eq!(state["tasks"][0]["remoteNamespace"], "platform-dr");
    assert_eq!(state["jobs"][0]["status"], "success");
    assert_eq!(state["hssEvents"], json!([]));
    let text = state.to_string();
    for secret in [SECRET_KEY, "s3cret!"] {
        assert!(!text.contains(secret), "the state holds no credentials");
    }

    let (_, tasks) = admin(&swr.base, Method::GET, "tasks", None).await;
    let t = &tasks[0];
    assert_eq!(
        (
            &t["region"],
            &t["namespace"],
            &t["repoName"],
            &t["remoteRegionId"],
            &t["syncAuto"]
        ),
        (
            &json!("cn-north-4"),
            &json!("platform"),
            &json!("nginx"),
            &json!("cn-east-3"),
            &json!(true)
        )
    );
}

#[tokio::test]
async fn admin_errors_are_json() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let (status, body) = admin(&swr.base, Method::GET, "nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
    let raw = reqwest::Client::new()
        .post(format!("{}/_admin/push", swr.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = read(raw).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("invalid request body"));
    let (_, calls) = admin(&swr.base, Method::GET, "calls", None).await;
    assert_eq!(calls["total"], 0, "admin calls are not counted");
}

#[tokio::test]
async fn reset_returns_to_the_start_up_state_and_keeps_sessions() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let (_, pristine) = admin(&swr.base, Method::GET, "state", None).await;
    let login = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "domain": {"name": "example-domain"}, "name": "swr-operator", "password": "s3cret!"}}},
        "scope": {"project": {"name": "cn-north-4"}}}});
    let token = swr.post("/v3/auth/tokens", &login).await.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_string();
    swr.post(
        SYNC_REPO,
        &json!({"remoteRegionId": "cn-east-3", "remoteNamespace": "platform-dr"}),
    )
    .await;
    let push = json!({"region": "cn-north-4", "organization": "platform",
        "repository": "extra", "tag": "v1"});
    admin(&swr.base, Method::POST, "push", Some(push)).await;
    admin(
        &swr.base,
        Method::POST,
        "organizations",
        Some(json!({"region": "cn-north-4", "name": "qa"})),
    )
    .await;
    admin(
        &swr.base,
        Method::PUT,
        "faults",
        Some(json!({"error_rate": 1, "operations": ["swr.list_tags"]})),
    )
    .await;

    let (status, _) = admin(&swr.base, Method::POST, "reset", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, state) = admin(&swr.base, Method::GET, "state", None).await;
    assert_eq!(state["tasks"], json!([]));
    assert_eq!(state["jobs"], json!([]));
    assert!(state["regions"]["cn-north-4"]["organizations"]["qa"].is_null());
    assert!(
        state["regions"]["cn-north-4"]["organizations"]["platform"]["repositories"]["extra"]
            .is_null()
    );
    let names = |s: &serde_json::Value| {
        s["regions"]["cn-north-4"]["organizations"]["platform"]["repositories"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&state), names(&pristine));
    assert_eq!(
        admin(&swr.base, Method::GET, "calls", None).await.1["total"],
        0
    );
    assert_eq!(
        admin(&swr.base, Method::GET, "faults", None).await.1["operations"],
        json!([])
    );
    assert_eq!(
        swr.get("/v2/manage/namespaces/platform/repos/nginx/tags")
            .await
            .status(),
        StatusCode::OK
    );
    let with_token = reqwest::Client::new()
        .get(format!("{}/v2/manage/regions", swr.base))
        .header("X-Auth-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_token.status(),
        StatusCode::OK,
        "tokens survive a reset"
    );
}
