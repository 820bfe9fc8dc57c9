//! Authentication over HTTP: AK/SK signatures and security tokens, IAM password logins and
//! token scope and expiry, project lookup, and HSS's project checks.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use swr_sync_operator::emulator::EmulatorConfig;
use testkit::signed::{admin, read, start, Key, Signed, PROJECT_ID};

const REGIONS: &str = "/v2/manage/regions";

fn login(password: &str, scope: Value) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "domain": {"name": "example-domain"}, "name": "swr-operator", "password": password}}},
        "scope": {"project": scope},
    }})
}

/// Logs in unsigned; returns status, the X-Subject-Token and the body.
async fn token(base: &str, prefix: &str, body: &Value) -> (StatusCode, Option<String>, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{base}{prefix}/v3/auth/tokens"))
        .json(body)
        .send()
        .await
        .unwrap();
    let subject = answer
        .headers()
        .get("x-subject-token")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = read(answer).await;
    (status, subject, body)
}

async fn with_token(base: &str, target: &str, token: &str) -> (StatusCode, Value) {
    let answer = reqwest::Client::new()
        .get(format!("{base}{target}"))
        .header("X-Auth-Token", token)
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    read(answer).await
}

#[tokio::test]
async fn iam_tokens_work_in_their_region_only() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let base = &swr.base;
    let (status, subject, body) =
        token(base, "", &login("s3cret!", json!({"name": "cn-north-4"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let north = subject.expect("X-Subject-Token");
    let t = &body["token"];
    assert_eq!(t["project"]["id"], PROJECT_ID);
    assert_eq!(t["project"]["name"], "cn-north-4");
    assert_eq!(t["project"]["domain"]["name"], "example-domain");
    assert_eq!(t["user"]["name"], "swr-operator");
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["catalog"], json!([]));
    let expires = chrono::DateTime::parse_from_rfc3339(t["expires_at"].as_str().unwrap()).unwrap();
    let issued = chrono::DateTime::parse_from_rfc3339(t["issued_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - issued).num_hours(), 24);
    assert!(t["expires_at"].as_str().unwrap().ends_with('Z'));

    assert_eq!(with_token(base, REGIONS, &north).await.0, StatusCode::OK);
    assert_eq!(
        with_token(base, &format!("/cn-north-4{REGIONS}"), &north)
            .await
            .0,
        StatusCode::OK
    );
    let (status, body) = with_token(base, &format!("/cn-east-3{REGIONS}"), &north).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The gateway refuses it: "An API of another region may have been called."
    assert_eq!(body["error_code"], "APIGW.0307", "{body}");
    assert!(
        !body.to_string().contains(&north),
        "the token is not echoed"
    );

    // Scoped by project id (as listed by IAM), through a region prefix.
    let (_, projects) = read(swr.get("/v3/projects?name=cn-east-3").await).await;
    let east_id = projects["projects"][0]["id"].as_str().unwrap().to_string();
    let (status, east, _) = token(
        base,
        "/cn-east-3",
        &login("s3cret!", json!({"id": east_id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let east = east.unwrap();
    assert_eq!(
        with_token(base, &format!("/cn-east-3{REGIONS}"), &east)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        with_token(base, REGIONS, &east).await.0,
        StatusCode::UNAUTHORIZED
    );
    // IAM itself takes a token of any region.
    let (status, projects) = with_token(base, "/v3/projects?name=cn-north-4", &east).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(projects["projects"][0]["id"], PROJECT_ID);
    assert_eq!(
        with_token(base, REGIONS, "MIIforged").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn tokens_expire() {
    let mut config = EmulatorConfig::embedded_default();
    config.token_lifetime = Duration::from_millis(300);
    let (_emulator, swr) = start(config).await;
    let (_, subject, _) = token(
        &swr.base,
        "",
        &login("s3cret!", json!({"name": "cn-north-4"})),
    )
    .await;
    let value = subject.unwrap();
    assert_eq!(
        with_token(&swr.base, REGIONS, &value).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = with_token(&swr.base, REGIONS, &value).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error_msg"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn revoked_tokens_are_refused_until_the_next_login() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let north = json!({"name": "cn-north-4"});
    let (_, old, _) = token(&swr.base, "", &login("s3cret!", north.clone())).await;
    let old = old.unwrap();
    assert_eq!(with_token(&swr.base, REGIONS, &old).await.0, StatusCode::OK);

    let (status, body) = admin(&swr.base, Method::DELETE, "tokens", None).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({"revoked": 1})));
    let (status, body) = with_token(&swr.base, REGIONS, &old).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.to_string().contains(&old), "the token is not echoed");

    let (_, new, _) = token(&swr.base, "", &login("s3cret!", north)).await;
    assert_eq!(
        with_token(&swr.base, REGIONS, &new.unwrap()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        with_token(&swr.base, REGIONS, &old).await.0,
        StatusCode::UNAUTHORIZED,
        "a revoked token stays revoked"
    );
}

/// `DELETE /v3/auth/tokens` with the caller's token and the one to revoke.
async fn revoke(base: &str, caller: &str, subject: &str) -> (StatusCode, Value) {
    let answer = reqwest::Client::new()
        .delete(format!("{base}/v3/auth/tokens"))
        .header("X-Auth-Token", caller)
        .header("X-Subject-Token", subject)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn tokens_revoked_through_the_iam_api_are_refused_by_the_gateway() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let north = json!({"name": "cn-north-4"});
    let (_, first, _) = token(&swr.base, "", &login("s3cret!", north.clone())).await;
    let (_, second, _) = token(&swr.base, "", &login("s3cret!", north)).await;
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(
        revoke(&swr.base, &second, &first).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = with_token(&swr.base, REGIONS, &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_code"], "APIGW.0301", "{body}");
    assert_eq!(
        with_token(&swr.base, REGIONS, &second).await.0,
        StatusCode::OK
    );
    // Gone is gone; a token that never was is not found.
    let (status, body) = revoke(&swr.base, &second, &first).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], 404, "IAM's own shape: {body}");
    // Another user's token is not the caller's to revoke (an AK/SK caller is not the user).
    let (status, _) = read(
        swr.send(
            Method::DELETE,
            "/v3/auth/tokens",
            &[("X-Subject-Token", second.as_str())],
            b"",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_logins_get_iam_errors() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let mut unknown_user = login("s3cret!", json!({"name": "cn-north-4"}));
    unknown_user["auth"]["identity"]["password"]["user"]["name"] = json!("nobody");
    let table = [
        (
            login("wrong", json!({"name": "cn-north-4"})),
            401,
            "The username or password is wrong.",
        ),
        (unknown_user, 401, "The username or password is wrong."),
        (
            login("s3cret!", json!({"name": "mars-1"})),
            401,
            "The project in the scope does not exist.",
        ),
        (
            login("s3cret!", json!({})),
            400,
            "The request body is malformed.",
        ),
        (
            json!({"auth": {"identity": {"methods": ["password"]}}}),
            400,
            "The request body is malformed.",
        ),
        (
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "domain": {"name": "example-domain"}, "name": "swr-operator", "password": 12345}}},
            "scope": {"project": {"name": "cn-north-4"}}}}),
            400,
            "The request body is malformed.",
        ),
    ];
    for (body, status, message) in table {
        let (got, subject, answer) = token(&swr.base, "", &body).await;
        assert_eq!(got.as_u16(), status, "{body}: {answer}");
        assert_eq!(subject, None);
        assert_eq!(answer["error"]["code"], status, "{answer}");
        assert_eq!(answer["error"]["message"], message);
        assert!(answer["error"]["title"].is_string());
        assert!(
            !answer.to_string().contains("12345"),
            "no password in messages"
        );
    }
}

#[tokio::test]
async fn project_lookup_by_region_name() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let answer = swr.get("/v3/projects?name=cn-north-4").await;
    let (status, body) = read(answer).await;
    assert_eq!(status, StatusCode::OK);
    let p = &body["projects"][0];
    assert_eq!(body["projects"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&p["id"], &p["name"], &p["enabled"]),
        (&json!(PROJECT_ID), &json!("cn-north-4"), &json!(true))
    );
    assert_eq!(p["domain_id"], "0a1b2c3d4e5f60718293a4b5c6d7e8f9");
    assert!(body["links"]["self"]
        .as_str()
        .unwrap()
        .ends_with("/v3/projects?name=cn-north-4"));
    let (_, all) = read(swr.get("/v3/projects").await).await;
    assert_eq!(all["projects"].as_array().unwrap().len(), 3);
    let (_, none) = read(swr.get("/v3/projects?name=mars-1").await).await;
    assert_eq!(none["projects"], json!([]));
    let (status, body) = read(
        reqwest::get(format!("{}/v3/projects", swr.base))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], 401);
}

#[tokio::test]
async fn signatures_keys_and_security_tokens() {
    let config = EmulatorConfig::from_yaml(
        &swr_sync_operator::emulator::config::EMBEDDED_DEFAULT.replace(
            "    # securityToken: ...",
            "    securityToken: temporary-session-token",
        ),
    )
    .unwrap();
    let (_emulator, swr) = start(config).await;
    let (status, body) = read(swr.get(REGIONS).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "security token required");
    assert!(body["error_msg"]
        .as_str()
        .unwrap()
        .contains("X-Security-Token"));
    let mut with_token = swr.clone();
    with_token.key.security_token = Some("temporary-session-token".into());
    assert_eq!(with_token.get(REGIONS).await.status(), StatusCode::OK);
    with_token.key.security_token = Some("another".into());
    assert_eq!(
        with_token.get(REGIONS).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let strangers = [
        Key {
            access_key: "UNKNOWNKEY".into(),
            ..Key::demo()
        },
        Key {
            secret_key: "wrong-secret".into(),
            ..Key::demo()
        },
    ];
    for key in strangers {
        let client = Signed { key, ..swr.clone() };
        let (status, body) = read(client.get(REGIONS).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(!body.to_string().contains("wrong-secret"), "{body}");
    }
    let (status, body) = read(
        reqwest::get(format!("{}{REGIONS}", swr.base))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error_msg"]
        .as_str()
        .unwrap()
        .contains("no credentials"));
}

/// Target, extra headers, image type, expected status and error code.
type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str, u16, &'a str);

#[tokio::test]
async fn hss_accepts_the_callers_own_project_only() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let target = |project: &str| {
        format!("/v5/{project}/image/synchronize?enterprise_project_id=all_granted_eps")
    };
    let private = json!({"image_type": "private_image"}).to_string();
    let ok = swr
        .send(
            Method::POST,
            &target(PROJECT_ID),
            &[("X-Project-Id", PROJECT_ID), ("region", "cn-north-4")],
            private.as_bytes(),
        )
        .await;
    let (status, body) = read(ok).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"error_code": 0, "error_description": "success"})
    );

    let table: [Case; 4] = [
        (
            target("ffffffffffffffffffffffffffffffff"),
            vec![],
            "private_image",
            400,
            "HSS.0010",
        ),
        (
            target(PROJECT_ID),
            vec![("X-Project-Id", "ffffffffffffffffffffffffffffffff")],
            "private_image",
            400,
            "HSS.0010",
        ),
        (
            format!("/cn-east-3{}", target(PROJECT_ID)),
            vec![],
            "private_image",
            400,
            "HSS.0010",
        ),
        (target(PROJECT_ID), vec![], "public_image", 400, "HSS.0001"),
    ];
    for (target, headers, image_type, status, code) in table {
        let body = json!({"image_type": image_type}).to_string();
        let (got, answer) = read(
            swr.send(Method::POST, &target, &headers, body.as_bytes())
                .await,
        )
        .await;
        assert_eq!(got.as_u16(), status, "{target} {headers:?}: {answer}");
        assert_eq!(answer["error_code"], code);
        assert!(answer["error_msg"].is_string());
    }

    // A token scoped to cn-east-3 refreshes that region's project.
    let (_, subject, login_body) = token(
        &swr.base,
        "",
        &login("s3cret!", json!({"name": "cn-east-3"})),
    )
    .await;
    let east_project = login_body["token"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/cn-east-3/v5/{east_project}/image/synchronize",
            swr.base
        ))
        .header("X-Auth-Token", subject.unwrap())
        .body(json!({"image_type": "shared_image"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    let (_, state) = admin(&swr.base, Method::GET, "state", None).await;
    let events: Vec<(&str, &str, &str)> = state["hssEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["region"].as_str().unwrap(),
                e["projectId"].as_str().unwrap(),
                e["imageType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("cn-north-4", PROJECT_ID, "private_image"),
            ("cn-east-3", east_project.as_str(), "shared_image")
        ]
    );
    assert_eq!(
        state["hssEvents"][0]["enterpriseProjectId"],
        "all_granted_eps"
    );
}
