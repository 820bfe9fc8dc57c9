//! HSS image-list refreshes after a pass created tasks (`securityScan`), debounced: per
//! (credentials, region, image type, enterprise project) the first request calls HSS at
//! once, requests in the following interval wait for its end, when one call covers them all.
//! The outcome per region goes to the rule's status and Events; a failure never blocks
//! replication. Pending requests are kept in the status, so a restart does not lose them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::runtime::events::EventType;

use super::account::Account;
use super::events::{event_reason, Notice};
use super::standing::name_of;
use crate::api::status::{RuleName, ScanState, ScanStatus};
use crate::api::ImageSyncRule;
use crate::hss::{HssClient, HssError};

/// Whose refreshes share one debounce slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScanKey {
    /// Refreshes are per account.
    pub account: Account,
    /// Target region.
    pub region: String,
    /// `private_image` or `shared_image`.
    pub image_type: &'static str,
    /// HSS enterprise project.
    pub enterprise_project_id: Option<String>,
}

/// A rule's request for one region.
type RequestKey = (RuleName, String);

/// The debounce state of the process (in memory; pending requests are also in statuses).
#[derive(Debug)]
pub struct ScanGate {
    interval: Duration,
    started: Instant,
    // The last call per slot, with its outcome once known (None while in flight).
    calls: Mutex<HashMap<ScanKey, (Instant, Option<ScanStatus>)>>,
    // When each waiting rule asked, so that a later call is known to cover it.
    requests: Mutex<HashMap<RequestKey, Instant>>,
}

/// What to do about one request.
enum Decision {
    /// A call made since the request covers it, with this outcome.
    Covered(ScanStatus),
    /// Call now (the slot is taken).
    Call,
    /// Wait until then.
    Wait(Instant),
}

impl ScanGate {
    /// A gate allowing one call per slot per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            started: Instant::now(),
            calls: Mutex::default(),
            requests: Mutex::default(),
        }
    }

    fn decide(&self, slot: &ScanKey, request: &RequestKey, fresh: bool) -> Decision {
        let now = Instant::now();
        let mut requests = self.requests.lock().expect("scan requests lock");
        // A request restored from the status (after a restart) dates from our start.
        let asked =
            *requests
                .entry(request.clone())
                .or_insert(if fresh { now } else { self.started });
        let mut calls = self.calls.lock().expect("scan calls lock");
        match calls.get(slot) {
            Some((at, Some(outcome))) if *at >= asked => {
                requests.remove(request);
                Decision::Covered(outcome.clone())
            }
            // The covering call is in flight: look again shortly.
            Some((at, None)) if *at >= asked => Decision::Wait(now + Duration::from_secs(1)),
            Some((at, _)) if now < *at + self.interval => Decision::Wait(*at + self.interval),
            _ => {
                calls.insert(slot.clone(), (now, None));
                requests.remove(request);
                Decision::Call
            }
        }
    }

    fn record(&self, slot: &ScanKey, outcome: &ScanStatus) {
        if let Some(entry) = self.calls.lock().expect("scan calls lock").get_mut(slot) {
            entry.1 = Some(outcome.clone());
        }
    }
}

/// The scans of one pass.
#[derive(Debug, Default)]
pub struct ScanPass {
    /// The rule's scan statuses after the pass (latest per region).
    pub statuses: Vec<ScanStatus>,
    /// When a pending refresh may be made.
    pub due: Option<Instant>,
    /// Events to publish.
    pub notices: Vec<Notice>,
}

/// Refreshes HSS in the regions where this pass created tasks, and in those still pending
/// (from the rule's status) from earlier passes.
pub async fn refresh(
    rule: &ImageSyncRule,
    created_in: &BTreeSet<String>,
    hss: &HssClient,
    gate: &ScanGate,
    default_enterprise_project: Option<&str>,
    now: &str,
) -> ScanPass {
    let spec = &rule.spec;
    let account = Account::of(rule);
    let rule_key = name_of(rule);
    let previous = rule
        .status
        .as_ref()
        .map(|s| s.security_scans.as_slice())
        .unwrap_or_default();
    let mut statuses: BTreeMap<String, ScanStatus> = previous
        .iter()
        .map(|s| (s.region.clone(), s.clone()))
        .collect();
    let mut pass = ScanPass::default();
    if !spec.security_scan.enabled {
        pass.statuses = statuses.into_values().collect();
        return pass;
    }
    let image_type = spec.security_scan.image_type.as_str();
    let enterprise_project_id = spec
        .security_scan
        .enterprise_project_id
        .as_deref()
        .or(default_enterprise_project);
    let pending: BTreeSet<String> = previous
        .iter()
        .filter(|s| s.state == ScanState::Pending)
        .map(|s| s.region.clone())
        .collect();
    for region in created_in.union(&pending) {
        let slot = ScanKey {
            account: account.clone(),
            region: region.clone(),
            image_type,
            enterprise_project_id: enterprise_project_id.map(String::from),
        };
        let request = (rule_key.clone(), region.clone());
        let status = match gate.decide(&slot, &request, created_in.contains(region)) {
            Decision::Covered(outcome) => outcome,
            Decision::Wait(due) => {
                pass.due = Some(pass.due.map_or(due, |d| d.min(due)));
                ScanStatus {
                    region: region.clone(),
                    state: ScanState::Pending,
                    time: None,
                    error_code: None,
                    message: Some("waiting for the debounce interval".into()),
                }
            }
            Decision::Call => {
                let result = hss
                    .synchronize_images(region, image_type, enterprise_project_id)
                    .await;
                let outcome = outcome(region, now, result);
                gate.record(&slot, &outcome);
                pass.notices.push(notice(&outcome, image_type));
                outcome
            }
        };
        statuses.insert(region.clone(), status);
    }
    pass.statuses = statuses.into_values().collect();
    pass
}

/// A call's result as a status entry.
fn outcome(region: &str, now: &str, result: Result<(), HssError>) -> ScanStatus {
    let (state, error_code, message) = match result {
        Ok(()) => (ScanState::Requested, "0".to_string(), "success".to_string()),
        Err(e) => (ScanState::Failed, e.code(), e.to_string()),
    };
    ScanStatus {
        region: region.to_string(),
        state,
        time: Some(now.to_string()),
        error_code: Some(error_code),
        message: Some(message),
    }
}

fn notice(outcome: &ScanStatus, image_type: &str) -> Notice {
    let region = &outcome.region;
    match outcome.state {
        ScanState::Failed => (
            EventType::Warning,
            event_reason::SCAN_FAILED,
            format!(
                "HSS in {region}: {}",
                outcome.message.as_deref().unwrap_or_default()
            ),
        ),
        _ => (
            EventType::Normal,
            event_reason::SCAN_REQUESTED,
            format!("asked HSS in {region} to refresh its {image_type} list"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> ScanKey {
        ScanKey {
            account: Account::new("ns", "creds"),
            region: "cn-east-3".into(),
            image_type: "private_image",
            enterprise_project_id: None,
        }
    }

    fn req(rule: &str) -> RequestKey {
        let name = RuleName {
            namespace: "ns".into(),
            name: rule.into(),
        };
        (name, "cn-east-3".into())
    }

    fn done() -> ScanStatus {
        outcome("cn-east-3", "t", Ok(()))
    }

    #[test]
    fn the_first_request_calls_later_ones_wait_and_one_call_covers_them() {
        let gate = ScanGate::new(Duration::from_millis(200));
        assert!(matches!(
            gate.decide(&slot(), &req("a"), true),
            Decision::Call
        ));
        gate.record(&slot(), &done());
        // Within the interval: b and c wait for its end.
        for rule in ["b", "c"] {
            assert!(matches!(
                gate.decide(&slot(), &req(rule), true),
                Decision::Wait(_)
            ));
        }
        std::thread::sleep(Duration::from_millis(210));
        // b's retry makes the one call; c, asking again, is covered by it.
        assert!(matches!(
            gate.decide(&slot(), &req("b"), false),
            Decision::Call
        ));
        gate.record(&slot(), &done());
        assert!(matches!(
            gate.decide(&slot(), &req("c"), false),
            Decision::Covered(_)
        ));
        // Another account has a slot of its own.
        let other = ScanKey {
            account: Account::new("other", "creds"),
            ..slot()
        };
        assert!(matches!(
            gate.decide(&other, &req("d"), true),
            Decision::Call
        ));
    }

    #[test]
    fn a_request_restored_after_a_restart_is_covered_by_any_call_since() {
        let gate = ScanGate::new(Duration::from_secs(60));
        assert!(matches!(
            gate.decide(&slot(), &req("a"), true),
            Decision::Call
        ));
        gate.record(&slot(), &done());
        // "b" was pending in its status before this process started.
        assert!(matches!(
            gate.decide(&slot(), &req("b"), false),
            Decision::Covered(_)
        ));
    }
}
