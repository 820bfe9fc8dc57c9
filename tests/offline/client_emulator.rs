//! The cloud client against the emulator over 127.0.0.1: every operation, every error class,
//! the rate limit, retries and timeouts, and repository listings that neither skip nor
//! repeat and keep to one organization.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use swr_sync_operator::auth::{AccessKey, CloudAuth, Credentials, PasswordLogin, SecretString};
use swr_sync_operator::cloud::endpoint::Endpoints;
use swr_sync_operator::cloud::transport::RetryPolicy;
use swr_sync_operator::cloud::{CloudClient, ErrorClass, Priority, Transport, TransportConfig};
use swr_sync_operator::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use swr_sync_operator::hss::HssClient;
use swr_sync_operator::swr::model::{CreateSyncTask, ManualSync, Repository, SyncTarget};
use swr_sync_operator::swr::{DeleteOutcome, SourceRepo, SwrApi, SwrClient};
use testkit::operator::{ACCESS_KEY, SECRET_KEY};

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
            max_in_flight: None,
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

    /// Pushes a tag into cn-north-4 (the repository is created when missing).
    async fn push(&self, organization: &str, repository: &str, tag: &str) {
        push_to(
            &self.http,
            &self.emulator.base_url(),
            organization,
            repository,
            tag,
        )
        .await;
    }

    async fn create_organization(&self, name: &str) {
        let r = self
            .http
            .post(format!("{}/_admin/organizations", self.emulator.base_url()))
            .json(&json!({"region": "cn-north-4", "name": name}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
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

/// Pushes a tag into cn-north-4 through the admin API.
async fn push_to(
    http: &reqwest::Client,
    base: &str,
    organization: &str,
    repository: &str,
    tag: &str,
) {
    let r = http
        .post(format!("{base}/_admin/push"))
        .json(&json!({"region": "cn-north-4", "organization": organization, "repository": repository, "tag": tag}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
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
        .list_tags(&nginx(), Priority::Foreground)
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
        swr.list_tags(&copied, Priority::Foreground)
            .await
            .unwrap()
            .len(),
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

/// Names of a listing, in the order listed.
fn names(repos: &[Repository]) -> Vec<String> {
    repos.iter().map(|r| r.name.clone()).collect()
}

/// `bulk000`…: `n` repository names.
fn bulk(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("bulk{i:03}")).collect()
}

#[tokio::test]
async fn repositories_come_back_complete_in_name_order_and_once() {
    let s = Setup::new().await;
    // Pushed out of name order: unasked, the emulator lists the newest update first, so a
    // client that did not ask for the name order would get them shuffled.
    for i in 0..250 {
        s.push("platform", &format!("bulk{:03}", i * 97 % 250), "v1")
            .await;
    }
    let repos = s
        .swr()
        .list_repositories("cn-north-4", "platform")
        .await
        .unwrap();
    let mut expected = bulk(250);
    expected.extend(["nginx".to_string(), "team/api".to_string()]);
    expected.sort();
    assert_eq!(names(&repos), expected, "complete, by name, each once");
    assert_eq!(
        s.calls_of("swr.list_repositories").await,
        3,
        "three pages of 100"
    );
}

#[tokio::test]
async fn pushes_and_new_repositories_while_paging_neither_skip_nor_repeat() {
    let s = Setup::new().await;
    for name in bulk(250) {
        s.push("platform", &name, "v1").await;
    }
    // Each page is held back, and meanwhile tags land in listed repositories (which moves
    // them in an update-time order) and repositories sorting first appear (which shifts
    // every later page by one: its first entry repeats).
    s.faults(json!({"latency": {"fixed_ms": 150}, "operations": ["swr.list_repositories"]}))
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let pusher = {
        let (http, base, stop) = (s.http.clone(), s.emulator.base_url(), stop.clone());
        tokio::spawn(async move {
            let mut rounds = 0;
            while rounds < 20 && !stop.load(Ordering::Relaxed) {
                let repo = format!("bulk{:03}", rounds * 37 % 250);
                push_to(&http, &base, "platform", &repo, "v2").await;
                push_to(&http, &base, "platform", &format!("a-new{rounds:02}"), "v1").await;
                rounds += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            rounds
        })
    };
    let repos = s
        .swr()
        .list_repositories("cn-north-4", "platform")
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let rounds = pusher.await.unwrap();
    assert!(
        rounds > 5,
        "the pushes ran while the pages were read: {rounds}"
    );
    let listed = names(&repos);
    assert!(
        listed.windows(2).all(|w| w[0] < w[1]),
        "by name, each once: {listed:?}"
    );
    let missing: Vec<_> = bulk(250)
        .into_iter()
        .chain(["nginx".into(), "team/api".into()])
        .filter(|name| !listed.contains(name))
        .collect();
    assert!(missing.is_empty(), "skipped: {missing:?}");
}

#[tokio::test]
async fn an_organization_lists_only_its_own_repositories() {
    let s = Setup::new().await;
    // Organizations whose names contain "platform": the listing's namespace filter is
    // fuzzy, so their repositories come back in the pages for "platform" too, some under
    // the same names, and more than a page of them.
    for org in ["platform-dr", "my-platform"] {
        s.create_organization(org).await;
    }
    for name in bulk(120) {
        s.push("platform-dr", &name, "v1").await;
    }
    for (org, repo) in [
        ("platform-dr", "nginx"),
        ("my-platform", "nginx"),
        ("my-platform", "team/api"),
    ] {
        s.push(org, repo, "v1").await;
    }
    let swr = s.swr();
    let list = |org: &'static str| {
        let swr = swr.clone();
        async move { swr.list_repositories("cn-north-4", org).await.unwrap() }
    };
    let platform = list("platform").await;
    assert_eq!(names(&platform), ["nginx", "team/api"]);
    assert!(platform.iter().all(|r| r.namespace == "platform"));
    let mut dr = bulk(120);
    dr.push("nginx".into());
    dr.sort();
    assert_eq!(names(&list("platform-dr").await), dr);
    assert_eq!(names(&list("my-platform").await), ["nginx", "team/api"]);
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
    // The credentials were refused even with a fresh token: held back, nothing is sent
    // (a login or a request each refusal would count towards locking the user).
    let held = swr.list_sync_tasks(&nginx()).await.unwrap_err();
    assert_eq!(held.class(), ErrorClass::Unauthorized);
    assert!(held.to_string().contains("not sent"), "{held}");
    assert_eq!(s.calls_of("iam.create_token").await, 3);
    assert_eq!(
        s.statuses_of("swr.list_sync_tasks").await,
        [(200, 3), (401, 3)]
    );
}

#[tokio::test]
async fn refused_credentials_fail_at_once() {
    let s = Setup::new().await;
    // A wrong password: the login itself is a 401, returned as such; later calls are held
    // back without logging in again.
    let wrong = SwrClient::new(s.cloud(s.transport(|_| {}), password("not-the-password")));
    for _ in 1..=2 {
        let err = wrong.list_sync_tasks(&nginx()).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Unauthorized);
        assert!(!format!("{err} {err:?}").contains("not-the-password"));
        assert_eq!(s.statuses_of("iam.create_token").await, [(401, 1)]);
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
    // HSS with a project that is not the caller's: 400 "Access denied" (HSS answers every
    // error 400).
    let foreign_project = Credentials::AccessKey(AccessKey {
        project_id: Some("ffffffffffffffffffffffffffffffff".into()),
        region_projects: Default::default(),
        ..match aksk(SECRET_KEY) {
            Credentials::AccessKey(k) => k,
            _ => unreachable!(),
        }
    });
    let hss = HssClient::new(s.cloud(s.transport(|_| {}), foreign_project));
    let denied = hss
        .synchronize_images("cn-north-4", "private_image", None)
        .await
        .unwrap_err();
    assert_eq!(denied.class(), ErrorClass::InvalidRequest);
    assert!(denied.to_string().contains("HSS.0010"), "{denied}");
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
async fn retries_stop_at_their_bound_and_creates_and_deletes_are_never_retried() {
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
    // A task is deleted by its key: a repeat could delete one made again meanwhile.
    assert!(swr
        .delete_sync_task(&nginx(), &target("cn-east-3"))
        .await
        .is_err());
    assert_eq!(
        s.calls_of("swr.delete_sync_task").await,
        1,
        "delete is not retried"
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

#[tokio::test]
async fn creates_the_gateway_throttled_are_retried_but_not_those_swr_refused() {
    let s = Setup::new().await;
    let swr = SwrClient::new(s.cloud(
        s.transport(|c| {
            c.retry = RetryPolicy {
                max_retries: 8,
                base: Duration::from_millis(200),
                max_backoff: Duration::from_secs(1),
            }
        }),
        aksk(SECRET_KEY),
    ));
    // The gateway throttled it: it never reached SWR, so even a create may go again.
    s.faults(json!({"qps_limit": 1, "operations": ["swr.create_sync_task"]}))
        .await;
    for region in ["cn-east-3", "ap-southeast-1"] {
        swr.create_sync_task(&nginx(), &dr(region)).await.unwrap();
    }
    let statuses = s.statuses_of("swr.create_sync_task").await;
    assert!(
        statuses.contains(&(429, statuses[1].1)) && statuses[0] == (200, 2),
        "{statuses:?}"
    );
    // SWR itself failed it (a 5xx): it may have been acted on, so it is not repeated.
    s.faults(json!({"error_rate": 1.0, "operations": ["swr.create_sync_task"]}))
        .await;
    let failed = swr.create_sync_task(&nginx(), &dr("cn-east-3")).await;
    assert_eq!(failed.unwrap_err().class(), ErrorClass::Server);
    assert_eq!(
        s.statuses_of("swr.create_sync_task").await.last(),
        Some(&(500, 1))
    );
}

#[tokio::test]
async fn background_calls_leave_most_slots_to_task_management() {
    let setup = Setup::new().await;
    setup
        .faults(json!({"latency": 400, "operations": ["swr.list_tags"]}))
        .await;
    // 8 slots: background calls (verification) hold at most 2 of them.
    let transport = setup.transport(|c| c.max_in_flight = Some(8));
    let swr = SwrClient::new(setup.cloud(transport, aksk(SECRET_KEY)));
    let repo = nginx();
    // Credentials are proven by a first call; the others wait for it (auth::refusal).
    swr.list_tags(&repo, Priority::Foreground).await.unwrap();
    let started = Instant::now();
    let background =
        futures::future::join_all((0..8).map(|_| swr.list_tags(&repo, Priority::Background)));
    let foreground = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        swr.list_tags(&repo, Priority::Foreground).await.unwrap();
        started.elapsed()
    };
    let (listed, foreground) = tokio::join!(background, foreground);
    assert!(listed.iter().all(Result::is_ok));
    let background = started.elapsed();
    // Without the cap the eight background calls take every slot and the foreground one
    // waits a whole round (at least 850 ms); with it, it starts at once.
    assert!(
        foreground < Duration::from_millis(800),
        "the foreground call waited: {foreground:?}"
    );
    assert!(
        background >= Duration::from_millis(1600),
        "more than 2 background calls ran at once: {background:?}"
    );
}
