//! Fault injection: latency, error rate, throttling (a per-second cap answered with 429 and
//! `Retry-After`) and hangs, for all operations or a chosen few.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::jobs::{JOB_CANCEL, JOB_FAILED, JOB_TIMEOUT};
use super::router::OPERATION_NAMES;

/// Why a fault specification is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultsError {
    /// A rate outside 0..=1.
    #[error("{0} must be between 0 and 1")]
    Rate(&'static str),
    /// `error_status` is not a 4xx or 5xx status.
    #[error("error_status must be between 400 and 599")]
    Status,
    /// `job_failure_status` is not an end a copy can have.
    #[error("job_failure_status must be failed, timeout or cancel")]
    JobStatus,
    /// `from_gateway` with a status the gateway does not answer.
    #[error("from_gateway needs error_status 401, 403, 404 or 429")]
    GatewayStatus,
    /// `min_ms` above `max_ms`, or a negative `qps_limit`.
    #[error("{0}")]
    Range(&'static str),
    /// An operation name that does not exist.
    #[error("unknown operation {0:?}; known: {names}", names = OPERATION_NAMES.join(", "))]
    Operation(String),
}

/// Added delay: `250` (ms), `{"fixed_ms": 250}` or `{"min_ms": 100, "max_ms": 400}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Latency {
    /// Milliseconds.
    Millis(u64),
    /// Milliseconds, spelled out.
    Fixed {
        /// Delay.
        fixed_ms: u64,
    },
    /// Uniformly random milliseconds.
    Range {
        /// Shortest.
        min_ms: u64,
        /// Longest.
        max_ms: u64,
    },
}

/// The faults in force (`PUT /_admin/faults`). Everything defaults to off.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Delay before the answer (the request takes effect at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Share of requests answered with `error_status`.
    #[serde(default)]
    pub error_rate: f64,
    /// Status of injected errors (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_status: Option<u16>,
    /// Injected errors come from the API gateway, in its shape and with its code for the
    /// status (401, 403, 404 or 429 only), instead of from the service.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_gateway: bool,
    /// Requests allowed per one-second window; more get 429.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qps_limit: Option<f64>,
    /// `Retry-After` seconds of a 429; without it none is sent, as the real API gateway
    /// sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// Share of copies (manual syncs and auto-sync runs) that end with
    /// `job_failure_status` instead of copying.
    #[serde(default)]
    pub job_failure_rate: f64,
    /// How those copies end: `failed`, `timeout` (default) or `cancel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_failure_status: Option<String>,
    /// Share of requests that are never answered.
    #[serde(default)]
    pub hang: f64,
    /// Operation names the faults apply to; empty means all.
    #[serde(default)]
    pub operations: Vec<String>,
    /// Seed for the random choices, for repeatable runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Repositories (`organization/name`) the repository listings leave out although they
    /// exist, as an inconsistent listing would; their tasks still answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_repositories: Vec<String>,
}

impl FaultSpec {
    fn check(&self) -> Result<(), FaultsError> {
        let rates = [
            ("error_rate", self.error_rate),
            ("hang", self.hang),
            ("job_failure_rate", self.job_failure_rate),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultsError::Rate(name));
            }
        }
        if self.error_status.is_some_and(|s| !(400..=599).contains(&s)) {
            return Err(FaultsError::Status);
        }
        if self.from_gateway && !matches!(self.error_status, Some(401 | 403 | 404 | 429)) {
            return Err(FaultsError::GatewayStatus);
        }
        if self
            .job_failure_status
            .as_deref()
            .is_some_and(|s| job_ending(s).is_none())
        {
            return Err(FaultsError::JobStatus);
        }
        if matches!(self.latency, Some(Latency::Range { min_ms, max_ms }) if min_ms > max_ms) {
            return Err(FaultsError::Range("latency min_ms must not exceed max_ms"));
        }
        if self.qps_limit.is_some_and(|q| q < 0.0) {
            return Err(FaultsError::Range("qps_limit must not be negative"));
        }
        match self
            .operations
            .iter()
            .find(|op| !OPERATION_NAMES.contains(&op.as_str()))
        {
            Some(op) => Err(FaultsError::Operation(op.clone())),
            None => Ok(()),
        }
    }
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handled normally.
    Pass,
    /// Answered with this status, by the gateway when `true`.
    Fail(u16, bool),
    /// Answered 429, with `Retry-After` seconds when set.
    Throttle(Option<u64>),
    /// Never answered.
    Hang,
}

/// The decision for one request: its outcome and how long to hold the answer back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Outcome.
    pub outcome: Outcome,
    /// Delay before answering.
    pub delay: Duration,
}

#[derive(Debug)]
struct Active {
    spec: FaultSpec,
    rng: StdRng,
    window_start: Instant,
    window_count: u64,
}

/// The faults in force and their running state (random source, throttling window).
#[derive(Debug)]
pub struct Faults(Mutex<Active>);

impl Default for Faults {
    fn default() -> Self {
        Self(Mutex::new(Active::new(FaultSpec::default())))
    }
}

impl Active {
    fn new(spec: FaultSpec) -> Self {
        let rng = match spec.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        Self {
            spec,
            rng,
            window_start: Instant::now(),
            window_count: 0,
        }
    }

    /// Counts the request in the current one-second window; true when over the cap.
    fn over_limit(&mut self, limit: f64, now: Instant) -> bool {
        if now.duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.window_count = 0;
        }
        self.window_count += 1;
        self.window_count as f64 > limit
    }
}

impl Faults {
    /// Replaces the faults in force (and restarts the throttling window).
    pub fn set(&self, spec: FaultSpec) -> Result<(), FaultsError> {
        spec.check()?;
        *self.0.lock().expect("faults lock") = Active::new(spec);
        Ok(())
    }

    /// The faults in force.
    pub fn get(&self) -> FaultSpec {
        self.0.lock().expect("faults lock").spec.clone()
    }

    /// How the next copy ends by a fault, if one hits it.
    pub fn job_ending(&self) -> Option<&'static str> {
        let mut active = self.0.lock().expect("faults lock");
        let rate = active.spec.job_failure_rate;
        let status = active.spec.job_failure_status.clone();
        let hit = active.rng.gen::<f64>() < rate;
        hit.then(|| job_ending(status.as_deref().unwrap_or(JOB_TIMEOUT)))
            .flatten()
    }

    /// Decides the fate of one request of `operation`: throttling first (a throttled request
    /// is answered at once), then hang, then error, and the latency for what remains.
    pub fn plan(&self, operation: &str) -> Plan {
        let mut active = self.0.lock().expect("faults lock");
        let spec = active.spec.clone();
        let pass = Plan {
            outcome: Outcome::Pass,
            delay: Duration::ZERO,
        };
        if !spec.operations.is_empty() && !spec.operations.iter().any(|o| o == operation) {
            return pass;
        }
        if let Some(limit) = spec.qps_limit {
            if active.over_limit(limit, Instant::now()) {
                let outcome = Outcome::Throttle(spec.retry_after_seconds);
                return Plan { outcome, ..pass };
            }
        }
        // `gen` is in [0, 1), so a rate of 1 always hits and 0 never does.
        let mut hits = |rate: f64| active.rng.gen::<f64>() < rate;
        let outcome = if hits(spec.hang) {
            Outcome::Hang
        } else if hits(spec.error_rate) {
            Outcome::Fail(spec.error_status.unwrap_or(500), spec.from_gateway)
        } else {
            Outcome::Pass
        };
        let delay = match spec.latency {
            None => 0,
            Some(Latency::Millis(ms) | Latency::Fixed { fixed_ms: ms }) => ms,
            Some(Latency::Range { min_ms, max_ms }) => active.rng.gen_range(min_ms..=max_ms),
        };
        Plan {
            outcome,
            delay: Duration::from_millis(delay),
        }
    }
}

/// The job status a fault may end a copy with.
fn job_ending(status: &str) -> Option<&'static str> {
    [JOB_FAILED, JOB_TIMEOUT, JOB_CANCEL]
        .into_iter()
        .find(|s| *s == status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(json: serde_json::Value) -> Faults {
        let f = Faults::default();
        f.set(serde_json::from_value(json).unwrap()).unwrap();
        f
    }

    #[test]
    fn no_faults_pass() {
        let plan = Faults::default().plan("swr.list_regions");
        assert_eq!(plan.outcome, Outcome::Pass);
        assert_eq!(plan.delay, Duration::ZERO);
    }

    #[test]
    fn certain_rates_and_filters() {
        let f = faults(serde_json::json!({"error_rate": 1.0, "error_status": 503,
            "operations": ["swr.create_sync_task"], "latency": {"fixed_ms": 20}}));
        assert_eq!(f.plan("swr.list_sync_tasks").outcome, Outcome::Pass);
        let plan = f.plan("swr.create_sync_task");
        assert_eq!(plan.outcome, Outcome::Fail(503, false));
        assert_eq!(plan.delay, Duration::from_millis(20));
        let f = faults(serde_json::json!({"hang": 1, "error_rate": 1}));
        assert_eq!(f.plan("unknown").outcome, Outcome::Hang);
    }

    #[test]
    fn qps_cap_throttles_the_rest_of_the_window() {
        let f = faults(serde_json::json!({"qps_limit": 2.0, "retry_after_seconds": 3}));
        let outcomes: Vec<Outcome> = (0..4).map(|_| f.plan("x").outcome).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Pass,
                Outcome::Pass,
                Outcome::Throttle(Some(3)),
                Outcome::Throttle(Some(3))
            ]
        );
    }

    #[test]
    fn random_latency_stays_in_range_and_seeds_repeat() {
        let spec = serde_json::json!({"latency": {"min_ms": 5, "max_ms": 9},
            "error_rate": 0.5, "seed": 7});
        let run = || {
            let f = faults(spec.clone());
            (0..20).map(|_| f.plan("x")).collect::<Vec<_>>()
        };
        let first = run();
        assert!(first
            .iter()
            .all(|p| (5..=9).contains(&(p.delay.as_millis() as u64))));
        assert_eq!(first, run());
    }

    #[test]
    fn bad_specs_are_refused() {
        let table = [
            serde_json::json!({"error_rate": 1.5}),
            serde_json::json!({"hang": -0.1}),
            serde_json::json!({"error_status": 200}),
            serde_json::json!({"latency": {"min_ms": 9, "max_ms": 5}}),
            serde_json::json!({"qps_limit": -1}),
            serde_json::json!({"operations": ["swr.nope"]}),
        ];
        for spec in table {
            let spec: FaultSpec = serde_json::from_value(spec.clone()).unwrap();
            assert!(Faults::default().set(spec.clone()).is_err(), "{spec:?}");
        }
        assert!(serde_json::from_value::<FaultSpec>(serde_json::json!({"typo": 1})).is_err());
    }
}
