//! Failed sign-ins, counted per key (a login name, a client address) in a fixed window: give it a key,
//! get whether it may try now; tell it about a failure or a success.
//!
//! In memory and per process: several replicas each allow the limit, which still turns an online
//! password guess from millions of tries into tens per window.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Keys remembered at most; past it, the expired ones are forgotten first, then the oldest.
const MAX_KEYS: usize = 10_000;

#[derive(Debug)]
pub struct Throttle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    /// `None` when `key` may try now, else how long until it may.
    pub fn wait_for(&self, key: &str) -> Option<Duration> {
        let failures = self.failures.lock();
        let (count, since) = failures.get(key)?;
        let elapsed = since.elapsed();
        (*count >= self.max_failures && elapsed < self.window).then(|| self.window - elapsed)
    }

    pub fn failed(&self, key: &str) {
        let mut failures = self.failures.lock();
        if failures.len() >= MAX_KEYS && !failures.contains_key(key) {
            let window = self.window;
            failures.retain(|_, (_, since)| since.elapsed() < window);
            if failures.len() >= MAX_KEYS {
                if let Some(oldest) = failures.iter().min_by_key(|(_, (_, since))| *since).map(|(k, _)| k.clone()) {
                    failures.remove(&oldest);
                }
            }
        }
        let entry = failures.entry(key.to_string()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_waits_after_too_many_failures_and_others_do_not() {
        let throttle = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            throttle.failed("alice");
        }
        assert_eq!(throttle.wait_for("alice"), None);
        throttle.failed("alice");
        let wait = throttle.wait_for("alice").expect("the third failure locks");
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60), "{wait:?}");
        assert_eq!(throttle.wait_for("bob"), None);
        throttle.succeeded("alice");
        assert_eq!(throttle.wait_for("alice"), None);
    }

    #[test]
    fn the_window_passes() {
        let throttle = Throttle::new(1, Duration::from_millis(20));
        throttle.failed("k");
        assert!(throttle.wait_for("k").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(throttle.wait_for("k"), None);
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = Throttle::new(1, Duration::from_secs(60));
        for n in 0..MAX_KEYS + 50 {
            throttle.failed(&n.to_string());
        }
        assert!(throttle.failures.lock().len() <= MAX_KEYS);
    }
}
