//! A time-limited cache whose misses are fetched once: concurrent callers for one key wait
//! for the fetch already in flight instead of repeating it (rules reconciled together ask
//! for the same listing at the same moment).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Slot<V> = Arc<tokio::sync::Mutex<Option<(Instant, V)>>>;

/// Fewest slots worth sweeping for.
const SWEEP_FLOOR: usize = 64;

/// Values per key, trusted for `ttl` after they were fetched.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    slots: Mutex<Slots<K, V>>,
}

#[derive(Debug)]
struct Slots<K, V> {
    map: HashMap<K, Slot<V>>,
    /// The size at which stale slots are next swept out: twice what was left after the last
    /// sweep, so sweeping costs O(1) per new key and keys that went away do not pile up.
    sweep_at: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// An empty cache.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Mutex::new(Slots {
                map: HashMap::new(),
                sweep_at: SWEEP_FLOOR,
            }),
        }
    }

    fn slot(&self, key: &K) -> Slot<V> {
        let mut slots = self.slots.lock().expect("cache lock");
        if slots.map.len() >= slots.sweep_at {
            let ttl = self.ttl;
            // A slot only the map holds is in nobody's hands (slots are handed out under
            // this lock), so dropping it when empty or stale loses nothing.
            slots.map.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().map_or(true, |entry| {
                        entry.as_ref().is_some_and(|(at, _)| at.elapsed() < ttl)
                    })
            });
            slots.sweep_at = (slots.map.len() * 2).max(SWEEP_FLOOR);
        }
        slots.map.entry(key.clone()).or_default().clone()
    }

    /// The cached value of `key` if it is fresh (and, given `fetched_since`, was fetched at
    /// or after that instant), else `fetch`'s (cached on success). Failures are not cached.
    pub async fn get_or_fetch<E, Fut>(
        &self,
        key: &K,
        fetched_since: Option<Instant>,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<V, E>
    where
        Fut: Future<Output = Result<V, E>>,
    {
        let slot = self.slot(key);
        // Held across the fetch on purpose: it is what makes other callers wait for it.
        let mut entry = slot.lock().await;
        if let Some((at, value)) = entry.as_ref() {
            if at.elapsed() < self.ttl && fetched_since.is_none_or(|since| *at >= since) {
                return Ok(value.clone());
            }
        }
        let value = fetch().await?;
        *entry = Some((Instant::now(), value.clone()));
        Ok(value)
    }

    /// Applies `change` to the cached value of `key`, if there is one: a write the caller
    /// made, so the next reader need not fetch to see it. Waits for a fetch in flight, so
    /// the change lands on what that fetch returns.
    pub async fn update(&self, key: &K, change: impl FnOnce(&mut V)) {
        let slot = self.slot(key);
        let mut entry = slot.lock().await;
        if let Some((_, value)) = entry.as_mut() {
            change(value);
        }
    }

    /// Forgets `key`: its next reader fetches.
    pub async fn forget(&self, key: &K) {
        let slot = self.slot(key);
        *slot.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_misses_fetch_once_and_only_values_fetched_since_serve_a_refresh() {
        let cache: TtlCache<&str, u32> = TtlCache::new(Duration::from_secs(60));
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, ()>(7)
        };
        let (a, b) = tokio::join!(
            cache.get_or_fetch(&"k", None, fetch),
            cache.get_or_fetch(&"k", None, fetch)
        );
        assert_eq!((a, b), (Ok(7), Ok(7)));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        cache.update(&"k", |v| *v += 1).await;
        assert_eq!(cache.get_or_fetch(&"k", None, fetch).await, Ok(8));
        let since = Instant::now();
        assert_eq!(cache.get_or_fetch(&"k", Some(since), fetch).await, Ok(7));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        // Fetched since: shared with the next pass that began before it.
        cache.update(&"k", |v| *v += 1).await;
        assert_eq!(cache.get_or_fetch(&"k", Some(since), fetch).await, Ok(8));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        cache.forget(&"k").await;
        assert_eq!(cache.get_or_fetch(&"k", None, fetch).await, Ok(7));
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn keys_that_go_stale_are_swept_out() {
        let cache: TtlCache<u32, u32> = TtlCache::new(Duration::ZERO);
        for key in 0..1000 {
            let value = cache.get_or_fetch(&key, None, || async { Ok::<_, ()>(key) });
            assert_eq!(value.await, Ok(key));
        }
        let kept = cache.slots.lock().unwrap().map.len();
        assert!(kept <= SWEEP_FLOOR, "{kept} slots kept");

        // Fresh values survive a sweep.
        let cache: TtlCache<u32, u32> = TtlCache::new(Duration::from_secs(60));
        for key in 0..200 {
            cache
                .get_or_fetch(&key, None, || async { Ok::<_, ()>(key) })
                .await
                .unwrap();
        }
        assert_eq!(cache.slots.lock().unwrap().map.len(), 200);
    }

    #[tokio::test]
    async fn stale_values_and_failures_are_fetched_again() {
        let cache: TtlCache<&str, u32> = TtlCache::new(Duration::ZERO);
        assert_eq!(
            cache
                .get_or_fetch(&"k", None, || async { Ok::<_, ()>(1) })
                .await,
            Ok(1)
        );
        assert_eq!(
            cache
                .get_or_fetch(&"k", None, || async { Ok::<_, ()>(2) })
                .await,
            Ok(2)
        );
        assert_eq!(
            cache
                .get_or_fetch(&"k", None, || async { Err::<u32, _>("down") })
                .await,
            Err("down")
        );
        cache.update(&"nothing", |v| *v = 9).await;
        assert_eq!(
            cache
                .get_or_fetch(&"nothing", None, || async { Ok::<_, ()>(3) })
                .await,
            Ok(3)
        );
    }
}
