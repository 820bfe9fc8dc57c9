//! A real Prometheus server (Debian's 2.42, installed by `hack/prometheus/install.sh`) on
//! loopback: it scrapes the given targets and evaluates the given rule files every second,
//! and answers through its HTTP API as it would answer Grafana and on-call.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::installed;
use crate::process::free_port;

/// The scrape job of the operator, as the dashboard's `$job` variable selects it.
pub const JOB: &str = "swr-sync-operator";

/// A running `prometheus`, killed (and its data removed) on drop.
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    base: String,
    http: reqwest::Client,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port` of `/metrics`) as [`JOB`] and
    /// evaluating `rule_files`, both every second; waits until it is ready.
    pub async fn start(targets: &[String], rule_files: &[&Path]) -> Self {
        let bin = installed("hack/prometheus/install.sh", "Prometheus").join("prometheus");
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("swr-sync-prometheus-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = json!({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": rule_files,
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": targets}]}],
        });
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, serde_yaml::to_string(&config).unwrap()).unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e})", bin.display()));
        let prometheus = Self {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        prometheus.wait_ready().await;
        prometheus
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self.http.get(format!("{}/-/ready", self.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus not ready within 30s; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// GET `/api/v1/<path>` with `query`: the `data` of a success, or the error Prometheus
    /// gave (a query that does not parse, say).
    pub async fn api(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        let response = self
            .http
            .get(format!("{}/api/v1/{path}", self.base))
            .query(query)
            .send()
            .await
            .map_err(|e| format!("Prometheus unreachable: {e}"))?;
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        match body["status"].as_str() {
            Some("success") => Ok(body["data"].clone()),
            _ => Err(format!("{}: {}", body["errorType"], body["error"])),
        }
    }

    /// The series an instant query returns now.
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api("query", &[("query", expr)]).await?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// The alerts pending or firing now.
    pub async fn alerts(&self) -> Vec<Value> {
        let data = self
            .api("alerts", &[])
            .await
            .expect("the alerts API answers");
        data["alerts"].as_array().cloned().unwrap_or_default()
    }

    /// Every rule as loaded, with its health and last evaluation error.
    pub async fn rules(&self) -> Vec<Value> {
        let data = self.api("rules", &[]).await.expect("the rules API answers");
        data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// The state of each scrape target (`up`, `down`), with its last error.
    pub async fn targets(&self) -> Vec<(String, String)> {
        let data = self
            .api("targets", &[])
            .await
            .expect("the targets API answers");
        data["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let health = t["health"].as_str().unwrap_or_default().to_string();
                (
                    health,
                    t["lastError"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
