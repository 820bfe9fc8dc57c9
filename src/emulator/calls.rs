//! Counts of cloud API calls by operation and answered status (`GET /_admin/calls`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// Status recorded for a request the emulator never answers (a hang).
pub const STATUS_UNANSWERED: u16 = 0;

/// One row of the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallCount {
    /// Operation name.
    pub operation: &'static str,
    /// HTTP status answered (0: never answered).
    pub status: u16,
    /// How many.
    pub count: u64,
}

/// The counts as the admin API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallReport {
    /// All calls.
    pub total: u64,
    /// By operation, then status.
    pub calls: Vec<CallCount>,
}

/// Call counters.
#[derive(Debug, Default)]
pub struct Calls(Mutex<BTreeMap<(&'static str, u16), u64>>);

impl Calls {
    /// Counts one call.
    pub fn record(&self, operation: &'static str, status: u16) {
        *self
            .0
            .lock()
            .expect("calls lock")
            .entry((operation, status))
            .or_default() += 1;
    }

    /// The counts so far.
    pub fn report(&self) -> CallReport {
        let counts = self.0.lock().expect("calls lock");
        CallReport {
            total: counts.values().sum(),
            calls: counts
                .iter()
                .map(|(&(operation, status), &count)| CallCount {
                    operation,
                    status,
                    count,
                })
                .collect(),
        }
    }

    /// Back to zero.
    pub fn clear(&self) {
        self.0.lock().expect("calls lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_operation_and_status() {
        let calls = Calls::default();
        calls.record("swr.create_sync_task", 200);
        calls.record("swr.create_sync_task", 200);
        calls.record("swr.create_sync_task", 409);
        calls.record("hss.image_synchronize", STATUS_UNANSWERED);
        let report = calls.report();
        assert_eq!(report.total, 4);
        assert_eq!(
            report.calls[1],
            CallCount {
                operation: "swr.create_sync_task",
                status: 200,
                count: 2
            }
        );
        calls.clear();
        assert_eq!(calls.report().total, 0);
    }
}
