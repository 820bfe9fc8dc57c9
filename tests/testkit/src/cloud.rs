//! The cloud side of benchmarks and campaigns: the emulator's admin API (faults, call
//! counts, tasks) and an SWR client acting as "somebody else" with the demo access key.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use swr_sync_operator::auth::{AccessKey, CloudAuth, Credentials, SecretString};
use swr_sync_operator::cloud::endpoint::Endpoints;
use swr_sync_operator::cloud::{CloudClient, Transport, TransportConfig};
use swr_sync_operator::emulator::EmulatorHandle;
use swr_sync_operator::swr::SwrClient;

use crate::operator::{ACCESS_KEY, SECRET_KEY};

/// The emulator's `/_admin/` API.
#[derive(Debug, Clone)]
pub struct Admin {
    base: String,
    http: reqwest::Client,
}

impl Admin {
    /// The admin API of `emulator`.
    pub fn of(emulator: &EmulatorHandle) -> Self {
        Self {
            base: format!("{}/_admin", emulator.base_url()),
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request (with a JSON body, if any); panics unless it succeeds.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("emulator admin API answers");
        assert!(
            response.status().is_success(),
            "admin {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or_default()
    }

    /// Replaces the faults in force.
    pub async fn set_faults(&self, spec: Value) {
        self.send(reqwest::Method::PUT, "faults", Some(spec)).await;
    }

    /// Calls so far by (operation, status).
    pub async fn calls(&self) -> BTreeMap<(String, u64), u64> {
        let report = self.send(reqwest::Method::GET, "calls", None).await;
        report["calls"]
            .as_array()
            .expect("calls array")
            .iter()
            .map(|c| {
                let op = c["operation"].as_str().unwrap_or_default().to_string();
                let status = c["status"].as_u64().unwrap_or_default();
                ((op, status), c["count"].as_u64().unwrap_or_default())
            })
            .collect()
    }

    /// Every task, as the admin API lists them.
    pub async fn tasks(&self) -> Value {
        self.send(reqwest::Method::GET, "tasks", None).await
    }
}

/// An SWR client with the demo access key: "somebody else" using the API directly. With
/// `project_id`, no IAM lookup; `qps` paces it (bursts of up to a second's worth).
pub fn swr_client(emulator: &EmulatorHandle, project_id: Option<&str>, qps: f64) -> SwrClient {
    let transport = Transport::new(TransportConfig {
        endpoints: Endpoints::single(&emulator.endpoint_template()).unwrap(),
        qps,
        burst: (qps as u32).max(1),
        ..TransportConfig::default()
    })
    .unwrap();
    let credentials = Credentials::AccessKey(AccessKey {
        access_key: ACCESS_KEY.into(),
        secret_key: SecretString::new(SECRET_KEY),
        security_token: None,
        project_id: project_id.map(Into::into),
        region_projects: Default::default(),
    });
    SwrClient::new(CloudClient::new(
        Arc::new(transport),
        Arc::new(CloudAuth::new(credentials)),
    ))
}
