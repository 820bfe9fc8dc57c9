//! Holding back credentials the cloud refused, so that the operator never locks a user's key.
//!
//! The API gateway locks an access key for five minutes after five failed signatures in a
//! row (devg-apisign `api-sign-0001`), and IAM locks a user after repeated wrong passwords
//! (`IAM.0061`). A Secret with a wrong key would otherwise be tried by every rule that uses
//! it on every pass, and lock the key for everyone who shares it. After a refusal no request
//! carries the credentials until a hold has passed; then one request does (the probe), and
//! the hold doubles each time the probe is refused too. Until the cloud has accepted the
//! credentials once, requests go one at a time, so that many rules starting together on a
//! wrong Secret send one request, not one each. Changed credentials start afresh (the caller
//! builds new state for them).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex as AsyncMutex, MutexGuard};

/// The hold after the first refusal.
pub const FIRST_HOLD: Duration = Duration::from_secs(60);
/// The longest hold.
pub const MAX_HOLD: Duration = Duration::from_secs(60 * 60);

/// Refusals of one credential set.
#[derive(Debug, Default)]
pub struct RefusalHold {
    hold: Mutex<Option<Hold>>,
    proven: AtomicBool,
    one_at_a_time: AsyncMutex<()>,
}

#[derive(Debug, Clone, Copy)]
struct Hold {
    until: Instant,
    length: Duration,
}

impl RefusalHold {
    /// Until the credentials have been accepted once, a guard that lets one request go at a
    /// time; `None` once they have, also to the requests that were waiting for the guard
    /// (they go together, rather than one at a time behind a proof that came already).
    pub async fn until_proven(&self) -> Option<MutexGuard<'_, ()>> {
        if self.proven.load(Ordering::Acquire) {
            return None;
        }
        let guard = self.one_at_a_time.lock().await;
        (!self.proven.load(Ordering::Acquire)).then_some(guard)
    }

    /// `Ok` when a request may carry the credentials now, else how long until one may.
    /// When a hold has just ended this call takes the probe: others wait while it is out.
    pub fn admit(&self, now: Instant) -> Result<(), Duration> {
        let mut hold = self.hold.lock().expect("refusal lock");
        match hold.as_mut() {
            None => Ok(()),
            Some(h) if now < h.until => Err(h.until - now),
            Some(h) => {
                h.until = now + h.length;
                Ok(())
            }
        }
    }

    /// The cloud refused the credentials (401): hold them back, longer each time.
    pub fn refused(&self, now: Instant) {
        self.proven.store(false, Ordering::Release);
        let mut hold = self.hold.lock().expect("refusal lock");
        let length = hold
            .map_or(FIRST_HOLD, |h| h.length.saturating_mul(2))
            .min(MAX_HOLD);
        *hold = Some(Hold {
            until: now + length,
            length,
        });
    }

    /// The cloud accepted the credentials (any answer but 401).
    pub fn accepted(&self) {
        *self.hold.lock().expect("refusal lock") = None;
        self.proven.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_hold_back_longer_each_time_and_one_probe_goes_at_a_time() {
        let hold = RefusalHold::default();
        let t0 = Instant::now();
        assert_eq!(hold.admit(t0), Ok(()));
        hold.refused(t0);
        assert_eq!(hold.admit(t0), Err(FIRST_HOLD));
        let after = t0 + FIRST_HOLD;
        assert_eq!(hold.admit(after), Ok(()), "the probe");
        assert!(hold.admit(after).is_err(), "nobody else while it is out");
        hold.refused(after);
        assert_eq!(hold.admit(after), Err(2 * FIRST_HOLD));
        for _ in 0..10 {
            hold.refused(after);
        }
        assert_eq!(hold.admit(after), Err(MAX_HOLD));
        hold.accepted();
        assert_eq!(hold.admit(after), Ok(()));
        assert_eq!(
            hold.admit(after),
            Ok(()),
            "accepted credentials are not held"
        );
    }

    #[tokio::test]
    async fn requests_go_one_at_a_time_until_the_credentials_are_accepted() {
        let hold = RefusalHold::default();
        let first = hold.until_proven().await;
        assert!(first.is_some());
        assert!(
            hold.one_at_a_time.try_lock().is_err(),
            "a second request waits"
        );
        hold.accepted();
        drop(first);
        assert!(hold.until_proven().await.is_none());
        hold.refused(Instant::now());
        assert!(
            hold.until_proven().await.is_some(),
            "a refusal makes them unproven again"
        );
    }

    #[tokio::test]
    async fn requests_waiting_when_the_credentials_are_accepted_all_go_at_once() {
        let hold = RefusalHold::default();
        let first = hold.until_proven().await.expect("unproven: one at a time");
        let waiting = futures::future::join_all(
            (0..3).map(|_| async { hold.until_proven().await.is_some() }),
        );
        let accept = async {
            tokio::task::yield_now().await;
            hold.accepted();
            drop(first);
        };
        let (guards, ()) = tokio::join!(waiting, accept);
        assert_eq!(guards, [false; 3], "none of them holds the others back");
    }
}
