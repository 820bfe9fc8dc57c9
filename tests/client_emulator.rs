//! The cloud client against the emulator over 127.0.0.1: every operation, every error class,
//! the rate limit, retries and timeouts.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::operator::{ACCESS_KEY, SECRET_KEY};
use swr_sync_operator::auth::{AccessKey, CloudAuth, Credentials, PasswordLogin, SecretString};
use swr_sync_operator::cloud::endpoint::Endpoints;
use swr_sync_operator::cloud::transport::RetryPolicy;
use swr_sync_operator::cloud::{CloudClient, ErrorClass, Transport, TransportConfig};
use swr_sync_operator::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use swr_sync_operator::hss::HssClient;
use swr_sync_operator::swr::model::{CreateSyncTask, ManualSync, SyncTarget};
use swr_sync_operator::swr::{DeleteOutcome, SourceRepo, SwrApi, SwrClient};

struct Setup {
    emulator: EmulatorHandle,
    http: reqwest::Client,
}

impl Setup {
    async fn new() -> Self {
        Self::with_config(EmulatorConfig::embedded_default()).await
    }

    async fn with_config(config: EmulatorConfig) -> Self {
        let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Self {
            emulator,
            http: reqwest::Client::new(),
        }
    }

    fn transport(&self, tune: impl FnOnce(&mut TransportConfig)) -> Arc<Transport> {
        let mut config = TransportConfig {
            endpoints: Endpoints::single(&self.emulator.endpoint_template()).unwrap(),
            timeout: Duration::from_secs(2),
            qps: 1000.0,
            burst: 1000,
            retry: RetryPolicy {
                max_retries: 2,
                base: Duration::from_millis(10),
                max_backoff: Duration::from_millis(100),
            },
        };
        tune(&mut config);
        Arc::new(Transport::new(config).unwrap())
    }

    fn cloud(&self, transport: Arc<Transport>, credentials: Credentials) -> CloudClient {
        CloudClient::new(transport, Arc::new(CloudAuth::new(credentials)))
    }

    fn swr(&self) -> SwrClient {
        SwrClient::new(self.cloud(self.transport(|_| {}), aksk(SECRET_KEY)))
    }

    async fn faults(&self, body: serde_json::Value) {
        let r = self
            .http
            .put(format!("{}/_admin/faults", self.emulator.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// Revokes every IAM token the emulator issued; returns how many.
    async fn revoke_tokens(&self) -> u64 {
        let v: serde_json::Value = self
            .http
            .delete(format!("{}/_admin/tokens", self.emulator.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["revoked"].as_u64().unwrap()
    }

    /// Calls of `operation` per status, as `(status, count)` sorted by status.
    async fn statuses_of(&self, operation: &str) -> Vec<(u64, u64)> {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/_admin/calls", self.emulator.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut out: Vec<(u64, u64)> = v["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["operation"] == operation)
            .map(|c| (c["status"].as_u64().unwrap(), c["count"].as_u64().unwrap()))
            .collect();
        out.sort();
        out
    }

    async fn calls_of(&self, operation: &str) -> u64 {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/_admin/calls", self.emulator.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["operation"] == operation)
            .map(|c| c["count"].as_u64().unwrap())
            .sum()
    }
}

fn aksk(secret: &str) -> Credentials {
    Credentials::AccessKey(AccessKey {
        access_key: ACCESS_KEY.into(),
        secret_key: SecretString::new(secret),
        security_token: None,
        project_id: None,
        region_projects: Default::default(),
    })
}

fn password(password: &str) -> Credentials {
    Credentials::Password(PasswordLogin {
        username: "swr-operator".into(),
        password: SecretString::new(password),
        domain: "example-domain".into(),
    })
}

fn nginx() -> SourceRepo {
    SourceRepo::new("cn-north-4", "platform", "nginx").unwrap()
}

fn dr(region: &str) -> CreateSyncTask {
    CreateSyncTask {
        remote_region_id: region.into(),
        remote_namespace: "platform-dr".into(),
        sync_auto: true,
        override_existing: false,
    }
}

fn target(region: &str) -> SyncTarget {
    SyncTarget {
        remote_region_id: region.into(),
        remote_namespace: "platform-dr".into(),
    }
}

#[tokio::test]
async fn sync_task_lifecycle() {
    let s = Setup::new().await;
    let swr = s.swr();
    assert!(swr.list_sync_tasks(&nginx()).await.unwrap().is_empty());
    swr.create_sync_task(&nginx(), &dr("cn-east-3"))
        .await
        .unwrap();
    let tasks = swr.list_sync_tasks(&nginx()).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].remote_region_id.as_str(), tasks[0].sync_auto),
        ("cn-east-3", true)
    );
    assert_eq!(
        swr.delete_sync_task(&nginx(), &target("cn-east-3"))
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        swr.delete_sync_task(&nginx(), &target("cn-east-3"))
            .await
            .unwrap(),
        DeleteOutcome::AlreadyAbsent,
        "deleting a missing task is not an error"
    );
}

#[tokio::test]
async fn nested_repository_names_travel_as_dollar() {
    let s = Setup::new().await;
    let swr = s.swr();
    let api = SourceRepo::new("cn-north-4", "platform", "team/api").unwrap();
    swr.create_sync_task(&api, &dr("cn-east-3")).await.unwrap();
    let tasks = swr.list_sync_tasks(&api).await.unwrap();
    assert_eq!(tasks[0].repo_name, "team/api");
}

#[tokio::test]
async fn manual_sync_jobs_regions_organizations_repositories_tags() {
    let s = Setup::new().await;
    let swr = s.swr();
    let tags: Vec<String> = swr
        .list_tags(&nginx())
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.tag)
        .collect();
    assert!(tags.contains(&"latest".to_string()), "{tags:?}");
    swr.sync_images(
        &nginx(),
        &ManualSync {
            image_tag: tags.clone(),
            override_existing: false,
            remote_namespace: "platform-dr".into(),
            remote_region_id: "cn-east-3".into(),
        },
    )
    .await
    .unwrap();
    let jobs = swr.list_sync_jobs(&nginx(), 10, 0).await.unwrap();
    assert_eq!(jobs.len(), tags.len());
    assert_eq!(
        swr.list_sync_jobs(&nginx(), 1, 1).await.unwrap().len(),
        1,
        "paging"
    );
    let copied = SourceRepo::new("cn-east-3", "platform-dr", "nginx").unwrap();
    assert_eq!(
        swr.list_tags(&copied).await.unwrap().len(),
        tags.len(),
        "tags arrived"
    );

    let regions = swr.list_regions("cn-north-4").await.unwrap();
    assert!(regions.contains(&"cn-east-3".to_string()), "{regions:?}");
    let orgs = swr.list_organizations("cn-north-4").await.unwrap();
    assert!(orgs.iter().any(|o| o.name == "platform"), "{orgs:?}");
    let repos = swr
        .list_repositories("cn-north-4", "platform")
        .await
        .unwrap();
    let names: Vec<_> = repos.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&"nginx") && names.contains(&"team/api"),
        "{names:?}"
    );
}

#[tokio::test]
async fn repositories_are_read_across_pages() {
    let s = Setup::new().await;
    for i in 0..130 {
        let r = s
            .http
            .post(format!("{}/_admin/push", s.emulator.base_url()))
            .json(&json!({"region": "cn-north-4", "organization": "platform", "repository": format!("bulk{i:03}"), "tag": "v1"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let repos = s
        .swr()
        .list_repositories("cn-north-4", "platform")
        .await
        .unwrap();
    assert!(repos.len() >= 132, "{}", repos.len());
    assert_eq!(
        s.calls_of("swr.list_repositories").await,
        2,
        "two pages of 100"
    );
}

#[tokio::test]
async fn hss_refresh_with_aksk_project_lookup_and_with_iam_tokens() {
    let s = Setup::new().await;
    let hss = HssClient::new(s.cloud(s.transport(|_| {}), aksk(SECRET_KEY)));
    hss.synchronize_images("cn-north-4", "private_image", Some("all_granted_eps"))
        .await
        .unwrap();
    assert_eq!(
        s.calls_of("iam.list_projects").await,
        1,
        "project id looked up"
    );
    hss.synchronize_images("cn-north-4", "shared_image", None)
        .await
        .unwrap();
    assert_eq!(s.calls_of("iam.list_projects").await, 1, "and cached");
    assert!(hss
        .synchronize_images("cn-north-4", "bogus", None)
        .await
        .is_err());

    let cloud = s.cloud(s.transport(|_| {}), password("s3cret!"));
    let swr = SwrClient::new(cloud.clone());
    swr.list_sync_tasks(&nginx()).await.unwrap();
    swr.list_sync_tasks(&nginx()).await.unwrap();
    HssClient::new(cloud)
        .synchronize_images("cn-north-4", "private_image", None)
        .await
        .unwrap();
    assert_eq!(
        s.calls_of("iam.create_token").await,
        1,
        "one token serves many calls"
    );
}

#[tokio::test]
async fn a_refused_cached_token_gets_one_fresh_login() {
    let s = Setup::new().await;
    let swr = SwrClient::new(s.cloud(s.transport(|_| {}), password("s3cret!")));
    swr.list_sync_tasks(&nginx()).await.unwrap();
    assert_eq!(s.calls_of("iam.create_token").await, 1);

    // Revoked server-side: the cached token gets a 401, one new login, and the call succeeds.
    assert_eq!(s.revoke_tokens().await, 1);
    swr.list_sync_tasks(&nginx()).await.unwrap();
    assert_eq!(
        s.calls_of("iam.create_token").await,
        2,
        "exactly one new login"
    );
    assert_eq!(
        s.statuses_of("swr.list_sync_tasks").await,
        [(200, 2), (401, 1)]
    );
    swr.list_sync_tasks(&nginx()).await.unwrap();
    assert_eq!(
        s.calls_of("iam.create_token").await,
        2,
        "the new token is cached"
    );

    // Every answer a 401: the cached token is retried once with a new one, no more.
    s.faults(json!({"error_rate": 1.0, "error_status": 401,
        "operations": ["swr.list_sync_tasks"]}))
        .await;
    let err = swr.list_sync_tasks(&nginx()).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unauthorized);
    assert_eq!(s.calls_of("iam.create_token").await, 3);
    assert_eq!(
        s.statuses_of("swr.list_sync_tasks").await,
        [(200, 3), (401, 3)]
    );
    // The token refused last was fetched for that call: dropped, and not retried.
    swr.list_sync_tasks(&nginx()).await.unwrap_err();
    assert_eq!(s.calls_of("iam.create_token").await, 4);
    assert_eq!(
        s.statuses_of("swr.list_sync_tasks").await,
        [(200, 3), (401, 4)]
    );
}

#[tokio::test]
async fn refused_credentials_fail_at_once() {
    let s = Setup::new().await;
    // A wrong password: the login itself is a 401, returned as such, once per call.
    let wrong = SwrClient::new(s.cloud(s.transport(|_| {}), password("not-the-password")));
    for attempt in 1..=2 {
        let err = wrong.list_sync_tasks(&nginx()).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Unauthorized);
        assert!(!format!("{err} {err:?}").contains("not-the-password"));
        assert_eq!(s.statuses_of("iam.create_token").await, [(401, attempt)]);
    }
    assert_eq!(s.calls_of("swr.list_sync_tasks").await, 0);

    // A refused signature is not sent again.
    let wrong_key = SwrClient::new(s.cloud(s.transport(|_| {}), aksk("not-the-secret")));
    let err = wrong_key.list_sync_tasks(&nginx()).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unauthorized);
    assert_eq!(s.statuses_of("swr.list_sync_tasks").await, [(401, 1)]);
}

#[tokio::test]
async fn each_error_class() {
    let s = Setup::new().await;
    let swr = s.swr();
    let class = |r: Result<(), swr_sync_operator::swr::SwrError>| r.unwrap_err().class();

    // 400: target organization does not exist.
    let mut bad = dr("cn-east-3");
    bad.remote_namespace = "nowhere".into();
    assert_eq!(
        class(swr.create_sync_task(&nginx(), &bad).await),
        ErrorClass::InvalidRequest
    );
    // 404: no such repository.
    let missing = SourceRepo::new("cn-north-4", "platform", "nope").unwrap();
    assert_eq!(
        swr.list_sync_tasks(&missing).await.unwrap_err().class(),
        ErrorClass::NotFound
    );
    // 409: duplicate.
    swr.create_sync_task(&nginx(), &dr("cn-east-3"))
        .await
        .unwrap();
    let dup = swr
        .create_sync_task(&nginx(), &dr("cn-east-3"))
        .await
        .unwrap_err();
    assert_eq!(dup.class(), ErrorClass::Conflict);
    assert!(dup.api().evidence.request_id.is_some(), "request id kept");
    // 401: wrong secret key; the message names no secret.
    let wrong = SwrClient::new(s.cloud(s.transport(|_| {}), aksk("not-the-secret")));
    let err = wrong.list_sync_tasks(&nginx()).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unauthorized);
    assert!(!format!("{err} {err:?}").contains("not-the-secret"));
    // 403: HSS with a project that is not the caller's.
    let foreign_project = Credentials::AccessKey(AccessKey {
        project_id: Some("ffffffffffffffffffffffffffffffff".into()),
        region_projects: Default::default(),
        ..match aksk(SECRET_KEY) {
            Credentials::AccessKey(k) => k,
            _ => unreachable!(),
        }
    });
    let hss = HssClient::new(s.cloud(s.transport(|_| {}), foreign_project));
    assert_eq!(
        hss.synchronize_images("cn-north-4", "private_image", None)
            .await
            .unwrap_err()
            .class(),
        ErrorClass::Forbidden
    );
    // 5xx, 429, timeout.
    s.faults(json!({"error_rate": 1.0, "operations": ["swr.list_sync_tasks"]}))
        .await;
    assert_eq!(
        swr.list_sync_tasks(&nginx()).await.unwrap_err().class(),
        ErrorClass::Server
    );
    s.faults(json!({"qps_limit": 1.0, "retry_after_seconds": 30}))
        .await;
    let _ = swr.list_sync_tasks(&nginx()).await;
    let throttled = swr.list_sync_tasks(&nginx()).await.unwrap_err();
    assert_eq!(throttled.class(), ErrorClass::Throttled);
    assert_eq!(throttled.api().retry_after, Some(Duration::from_secs(30)));
    s.faults(json!({"hang": 1.0})).await;
    let t0 = Instant::now();
    let hung = SwrClient::new(s.cloud(
        s.transport(|c| {
            c.timeout = Duration::from_millis(300);
            c.retry.max_retries = 0;
        }),
        aksk(SECRET_KEY),
    ));
    assert_eq!(
        hung.list_sync_tasks(&nginx()).await.unwrap_err().class(),
        ErrorClass::Timeout
    );
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "timed out promptly: {:?}",
        t0.elapsed()
    );
    // Transport: nothing listens there.
    let closed = Transport::new(TransportConfig {
        endpoints: Endpoints::single("http://127.0.0.1:9/{region}").unwrap(),
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        ..TransportConfig::default()
    })
    .unwrap();
    let dead = SwrClient::new(s.cloud(Arc::new(closed), aksk(SECRET_KEY)));
    assert_eq!(
        dead.list_sync_tasks(&nginx()).await.unwrap_err().class(),
        ErrorClass::Transport
    );
}

#[tokio::test]
async fn retries_stop_at_their_bound_and_creates_are_never_retried() {
    let s = Setup::new().await;
    let swr = s.swr();
    s.faults(json!({"error_rate": 1.0})).await;
    assert!(swr.list_sync_tasks(&nginx()).await.is_err());
    assert_eq!(
        s.calls_of("swr.list_sync_tasks").await,
        3,
        "1 try + 2 retries"
    );
    assert!(swr
        .create_sync_task(&nginx(), &dr("cn-east-3"))
        .await
        .is_err());
    assert_eq!(
        s.calls_of("swr.create_sync_task").await,
        1,
        "create is not retried"
    );
}

#[tokio::test]
async fn the_rate_limit_holds_under_a_burst() {
    let s = Setup::new().await;
    let transport = s.transport(|c| {
        c.qps = 20.0;
        c.burst = 5;
    });
    let swr = SwrClient::new(s.cloud(transport, aksk(SECRET_KEY)));
    let t0 = Instant::now();
    let calls = (0..45).map(|_| {
        let swr = swr.clone();
        tokio::spawn(async move { swr.list_sync_tasks(&nginx()).await.map(drop) })
    });
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let elapsed = t0.elapsed();
    eprintln!("45 calls at qps 20 burst 5 took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(1950),
        "{elapsed:?}: (45 - 5) / 20 = 2 s at least"
    );
    assert_eq!(s.calls_of("swr.list_sync_tasks").await, 45);
}
