//! Prometheus metrics: reconciles and their failures, cloud calls, rate-limiter waits, rules
//! by Ready state, leadership, and the process's own memory and CPU (for sizing the pod).

use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::api::status::ready_state;
use crate::api::status::{reason, status_value};
use crate::api::ImageSyncRule;

/// Labels of `reconcile_failures_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
}

/// Labels of `cloud_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloudCall {
    service: String,
    operation: String,
    status: String,
}

/// Labels of `cloud_request_duration_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Service {
    service: String,
}

/// Labels of `rules`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Ready {
    ready: String,
}

/// Labels of `verifications_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

/// Labels of the replication gauges: the target region (bounded by the cloud's regions).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetRegion {
    target_region: String,
}

/// Every metric the operator exports. One per process, shared as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    process: Registry,
    reconciles: Counter,
    failures: Family<Reason, Counter>,
    reconcile_duration: Histogram,
    cloud_requests: Family<CloudCall, Counter>,
    cloud_duration: Family<Service, Histogram>,
    limiter_wait: Histogram,
    rules: Family<Ready, Gauge>,
    not_ready: Family<Reason, Gauge>,
    leader: Gauge,
    verifications: Family<Outcome, Counter>,
    repairs: Family<Outcome, Counter>,
    missing_tags: Family<TargetRegion, Gauge>,
    diverged_tags: Family<TargetRegion, Gauge>,
    store: Mutex<Option<Store<ImageSyncRule>>>,
}

/// Buckets from 1 ms to about 2.5 minutes.
fn seconds_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.5, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("swr_sync");
        let reconciles = Counter::default();
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        let failures = Family::<Reason, Counter>::default();
        registry.register(
            "reconcile_failures",
            "Reconciles that failed or left the rule not Ready, by reason",
            failures.clone(),
        );
        let reconcile_duration = seconds_buckets();
        registry.register(
            "reconcile_duration_seconds",
            "Time a reconcile took",
            reconcile_duration.clone(),
        );
        let cloud_requests = Family::<CloudCall, Counter>::default();
        registry.register(
            "cloud_requests",
            "HTTP attempts to SWR, HSS and IAM by service, operation and status code \
             (timeout or transport when there was no response)",
            cloud_requests.clone(),
        );
        let cloud_duration = Family::<Service, Histogram>::new_with_constructor(seconds_buckets);
        registry.register(
            "cloud_request_duration_seconds",
            "Time of an HTTP attempt to the cloud, by service",
            cloud_duration.clone(),
        );
        let limiter_wait = seconds_buckets();
        registry.register(
            "rate_limiter_wait_seconds",
            "Time a cloud call waited for a slot among the requests in flight and a rate-limiter token",
            limiter_wait.clone(),
        );
        let rules = Family::<Ready, Gauge>::default();
        registry.register(
            "rules",
            "ImageSyncRules this process watches, by the status of their Ready condition",
            rules.clone(),
        );
        let not_ready = Family::<Reason, Gauge>::default();
        registry.register(
            "rules_not_ready",
            "ImageSyncRules this process watches whose Ready condition is not True, by its reason \
             (a condition reason constant: bounded)",
            not_ready.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this process holds the leader Lease and reconciles",
            leader.clone(),
        );
        let verifications = Family::<Outcome, Counter>::default();
        registry.register(
            "verifications",
            "Replication verifications (spec.verify) that compared tags, by outcome (ok, error)",
            verifications.clone(),
        );
        let repairs = Family::<Outcome, Counter>::default();
        registry.register(
            "repairs",
            "Tags repair asked SWR to copy (requested), and repair copies that ended (succeeded, failed)",
            repairs.clone(),
        );
        let missing_tags = Family::<TargetRegion, Gauge>::default();
        registry.register(
            "replication_missing_tags",
            "Source tags missing in targets at the last verification, summed over rules, by target region",
            missing_tags.clone(),
        );
        let diverged_tags = Family::<TargetRegion, Gauge>::default();
        registry.register(
            "replication_diverged_tags",
            "Tags with another digest in targets at the last verification, summed over rules, by target region",
            diverged_tags.clone(),
        );
        let mut process = Registry::default();
        process.register_collector(Box::new(ProcessCollector));
        Self {
            registry,
            process,
            reconciles,
            failures,
            reconcile_duration,
            cloud_requests,
            cloud_duration,
            limiter_wait,
            rules,
            not_ready,
            leader,
            verifications,
            repairs,
            missing_tags,
            diverged_tags,
            store: Mutex::new(None),
        }
    }

    /// Records a verification pass: whether it compared tags (and how that went), and the
    /// repair copies it requested, saw succeed and saw fail.
    pub fn verified(&self, outcome: Option<&Result<(), String>>, repairs: [usize; 3]) {
        if let Some(outcome) = outcome {
            let outcome = if outcome.is_ok() { "ok" } else { "error" };
            self.verifications
                .get_or_create(&Outcome {
                    outcome: outcome.into(),
                })
                .inc();
        }
        let [requested, succeeded, failed] = repairs;
        let outcomes = [
            ("requested", requested),
            ("succeeded", succeeded),
            ("failed", failed),
        ];
        for (outcome, count) in outcomes {
            if count > 0 {
                let counter = self.repairs.get_or_create(&Outcome {
                    outcome: outcome.into(),
                });
                counter.inc_by(count as u64);
            }
        }
    }

    /// Records a finished reconcile; `failure` is the error's label when it failed.
    pub fn reconciled(&self, took: Duration, failure: Option<&str>) {
        self.reconciles.inc();
        self.reconcile_duration.observe(took.as_secs_f64());
        if let Some(reason) = failure {
            self.failed(reason);
        }
    }

    /// Records a reconcile that ended with the rule not Ready, by the condition's reason.
    pub fn failed(&self, reason: &str) {
        self.failures
            .get_or_create(&Reason {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Records one HTTP attempt to the cloud.
    pub fn cloud_request(&self, service: &str, operation: &str, status: &str, took: Duration) {
        let call = CloudCall {
            service: service.to_string(),
            operation: operation.to_string(),
            status: status.to_string(),
        };
        self.cloud_requests.get_or_create(&call).inc();
        let service = Service {
            service: service.to_string(),
        };
        self.cloud_duration
            .get_or_create(&service)
            .observe(took.as_secs_f64());
    }

    /// Records a wait for the rate limiter.
    pub fn rate_limited(&self, waited: Duration) {
        self.limiter_wait.observe(waited.as_secs_f64());
    }

    /// Sets whether this process leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The controller's cache of rules, counted by Ready state at each scrape (None when the
    /// controller stops, so a standby exports no stale counts).
    pub fn watch_rules(&self, store: Option<Store<ImageSyncRule>>) {
        *self.store.lock().expect("metrics store lock") = store;
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        self.count_rules();
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.process);
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }

    fn count_rules(&self) {
        let states = [
            status_value::TRUE,
            status_value::FALSE,
            status_value::UNKNOWN,
        ];
        let store = self.store.lock().expect("metrics store lock");
        self.rules.clear();
        let Some(store) = store.as_ref() else { return };
        for state in states {
            self.rules
                .get_or_create(&Ready {
                    ready: state.to_string(),
                })
                .set(0);
        }
        self.missing_tags.clear();
        self.diverged_tags.clear();
        self.not_ready.clear();
        for rule in store.state() {
            let (state, reason) = ready_state(rule.status.as_ref()).unwrap_or_else(|| {
                // Not reconciled yet.
                (
                    status_value::UNKNOWN.to_string(),
                    reason::PROGRESSING.to_string(),
                )
            });
            if state != status_value::TRUE {
                self.not_ready.get_or_create(&Reason { reason }).inc();
            }
            self.rules.get_or_create(&Ready { ready: state }).inc();
            let targets = rule.status.as_ref().and_then(|s| s.replication.as_ref());
            for target in targets.map(|r| r.targets.as_slice()).unwrap_or_default() {
                let region = TargetRegion {
                    target_region: target.region.clone(),
                };
                self.missing_tags
                    .get_or_create(&region)
                    .inc_by(i64::from(target.missing));
                self.diverged_tags
                    .get_or_create(&region)
                    .inc_by(i64::from(target.diverged));
            }
        }
    }
}

/// `process_resident_memory_bytes` and `process_cpu_seconds_total` from /proc/self (Linux).
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some((rss, cpu)) = process_usage() else {
            return Ok(());
        };
        let memory = ConstGauge::new(rss);
        memory.encode(encoder.encode_descriptor(
            "process_resident_memory_bytes",
            "Resident memory of the process",
            None,
            memory.metric_type(),
        )?)?;
        let cpu = ConstCounter::new(cpu);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time of the process",
            None,
            cpu.metric_type(),
        )?)?;
        Ok(())
    }
}

/// (resident bytes, CPU seconds) of this process.
fn process_usage() -> Option<(i64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: i64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3; utime and
    // stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((rss_kib * 1024, ticks / 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_show_up_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.reconciled(Duration::from_millis(30), None);
        metrics.reconciled(Duration::from_millis(30), Some("InvalidSpec"));
        metrics.cloud_request(
            "swr",
            "swr.list_sync_tasks",
            "200",
            Duration::from_millis(5),
        );
        metrics.cloud_request(
            "swr",
            "swr.list_sync_tasks",
            "timeout",
            Duration::from_secs(2),
        );
        metrics.rate_limited(Duration::from_millis(100));
        metrics.set_leader(true);
        let text = metrics.render();
        for line in [
            "swr_sync_reconciles_total 2",
            "swr_sync_reconcile_failures_total{reason=\"InvalidSpec\"} 1",
            "swr_sync_cloud_requests_total{service=\"swr\",operation=\"swr.list_sync_tasks\",status=\"200\"} 1",
            "swr_sync_cloud_requests_total{service=\"swr\",operation=\"swr.list_sync_tasks\",status=\"timeout\"} 1",
            "swr_sync_cloud_request_duration_seconds_count{service=\"swr\"} 2",
            "swr_sync_rate_limiter_wait_seconds_count 1",
            "swr_sync_reconcile_duration_seconds_bucket{le=\"0.0390625\"} 2",
            "swr_sync_leader 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        // No store registered: no rule counts rather than zeros that look real.
        assert!(!text.contains("swr_sync_rules{"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_usage_is_read() {
        let (rss, cpu) = process_usage().expect("/proc/self is readable");
        assert!(rss > 1024 * 1024, "rss {rss}");
        assert!(cpu >= 0.0);
        let text = Metrics::new().render();
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
    }
}
