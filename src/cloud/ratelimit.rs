//! Client-side rate limit: a token bucket (at most `burst` calls at once, refilled at `qps`
//! per second) that also never lets more than `qps` calls start within one second.
//!
//! The second rule is for the API gateway, which counts calls per second: a full bucket's
//! burst on top of a full second's rate would go over its quota when `--swr-qps` is set to
//! it, as it is meant to be.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A token bucket shared by every call the process makes to the cloud.
#[derive(Debug)]
pub struct RateLimiter {
    qps: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
    /// When the last calls started, oldest first: at most `qps` of them, within [`WINDOW`].
    started: VecDeque<Instant>,
}

/// The span in which at most `qps` calls start: a second, and a margin for calls that reach
/// the gateway a little later than they left (scheduling, connection set-up), which would
/// otherwise land in the gateway's next second together with that second's own calls.
const WINDOW: Duration = Duration::from_millis(1020);

impl RateLimiter {
    /// A bucket that starts full. `qps` must be positive; `burst` is at least 1, and more
    /// than `qps` of it is never used (at most `qps` calls start within a second).
    pub fn new(qps: f64, burst: u32) -> Self {
        assert!(qps > 0.0, "qps must be positive");
        let burst = f64::from(burst.max(1));
        Self {
            qps,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                refilled_at: Instant::now(),
                started: VecDeque::new(),
            }),
        }
    }

    /// Waits for a token; returns how long it waited. Waiters queue on the mutex, so they
    /// are served in arrival order.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        let mut bucket = self.state.lock().await;
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.qps).min(self.burst);
        bucket.refilled_at = now;
        if bucket.tokens < 1.0 {
            // Sleeping with the lock held keeps later callers behind this one.
            let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / self.qps);
            tokio::time::sleep(wait).await;
            // A sleep ends on the timer's next millisecond tick, or later: what it overslept
            // is refilled like any other time, or every call would lose it (at 200 qps, a
            // millisecond of 5 is a sixth of the rate).
            let now = Instant::now();
            let slept = now.duration_since(bucket.refilled_at).as_secs_f64();
            bucket.tokens = (bucket.tokens + slept * self.qps).clamp(1.0, self.burst);
            bucket.refilled_at = now;
        }
        bucket.tokens -= 1.0;
        let per_window = self.qps.floor().max(1.0) as usize;
        if bucket.started.len() >= per_window {
            let oldest = bucket.started.pop_front().expect("at least one call");
            tokio::time::sleep_until(oldest + WINDOW).await;
        }
        bucket.started.push_back(Instant::now());
        started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_is_free_then_calls_are_spaced_by_qps() {
        let limiter = RateLimiter::new(10.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.acquire().await, Duration::ZERO);
        }
        for _ in 0..10 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(999) && elapsed < Duration::from_millis(1100),
            "13 calls at qps 10 burst 3 took {elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_holds_when_the_timer_rounds_sleeps_up() {
        // 1/300 s is not a whole number of milliseconds: every wait is rounded up.
        let limiter = RateLimiter::new(300.0, 2);
        let start = Instant::now();
        for _ in 0..302 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed < Duration::from_millis(1050),
            "302 calls at qps 300 burst 2 took {elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_counts_against_its_second() {
        let limiter = RateLimiter::new(10.0, 10);
        let mut starts = Vec::new();
        for _ in 0..30 {
            limiter.acquire().await;
            starts.push(Instant::now());
        }
        for (first, eleventh) in starts.iter().zip(&starts[10..]) {
            assert!(
                *eleventh - *first >= Duration::from_secs(1),
                "11 calls within a second: {:?}",
                *eleventh - *first
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_refills_up_to_burst_only() {
        let limiter = RateLimiter::new(2.0, 2);
        limiter.acquire().await;
        limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(499));
    }
}
