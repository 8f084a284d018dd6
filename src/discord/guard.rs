//! Guard rails: the per-user cooldown, the mention channel allowlist, the memory of events already
//! handled (so that an event Discord delivers twice, e.g. replayed after a gateway RESUME, is
//! answered once), and the tracker of work in flight that lets a shutdown stop taking new questions
//! and wait for the replies being sent.
//!
//! Plain Rust with the clock passed in, so every rule is tested without Discord or sleeping.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Per-user cooldown between questions.
#[derive(Debug)]
pub struct Cooldowns {
    period: Duration,
    last: Mutex<HashMap<u64, Instant>>,
}

/// Entries kept before old ones are dropped.
const COOLDOWN_ENTRIES: usize = 10_000;

impl Cooldowns {
    /// A cooldown of `period` (zero: none).
    pub fn new(period: Duration) -> Cooldowns {
        Cooldowns { period, last: Mutex::new(HashMap::new()) }
    }

    /// Ok when `user` may ask at `now` (and records the question), else the whole seconds to wait
    /// (at least 1).
    pub fn try_ask(&self, user: u64, now: Instant) -> Result<(), u64> {
        if self.period.is_zero() {
            return Ok(());
        }
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(&at) = last.get(&user) {
            let elapsed = now.saturating_duration_since(at);
            if elapsed < self.period {
                let wait = self.period - elapsed;
                return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
            }
        }
        if last.len() >= COOLDOWN_ENTRIES {
            let period = self.period;
            last.retain(|_, at| now.saturating_duration_since(*at) < period);
        }
        last.insert(user, now);
        Ok(())
    }
}

/// Whether a mention in `channel` may be answered: the allowlist is empty or lists it.
pub fn channel_allowed(allowlist: &[u64], channel: u64) -> bool {
    allowlist.is_empty() || allowlist.contains(&channel)
}

/// The ids (message or interaction snowflakes) of the events already handled, the newest
/// `capacity` of them: memory stays bounded, and a replay comes within seconds of the original, long
/// before its id is forgotten.
#[derive(Debug)]
pub struct Seen {
    capacity: usize,
    ids: Mutex<(HashSet<u64>, VecDeque<u64>)>,
}

/// Event ids remembered by the bot: hours of a busy server's questions.
pub const SEEN_IDS: usize = 50_000;

impl Seen {
    /// Remembers up to `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Seen {
        Seen { capacity: capacity.max(1), ids: Mutex::new((HashSet::new(), VecDeque::new())) }
    }

    /// True the first time `id` is offered (and remembers it); false for a repeat. Atomic: of two
    /// copies of one event handled at once, exactly one gets true.
    pub fn first_time(&self, id: u64) -> bool {
        let mut guard = self.ids.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (set, order) = &mut *guard;
        if !set.insert(id) {
            return false;
        }
        order.push_back(id);
        if order.len() > self.capacity
            && let Some(oldest) = order.pop_front()
        {
            set.remove(&oldest);
        }
        true
    }

    /// Ids remembered now.
    pub fn len(&self) -> usize {
        self.ids.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).1.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counts the handlers running, and refuses new ones once a shutdown has begun.
#[derive(Debug, Default)]
pub struct Work {
    closed: AtomicBool,
    running: AtomicUsize,
    idle: Notify,
}

/// Held by a running handler; dropping it marks the work done.
#[derive(Debug)]
pub struct WorkGuard<'a>(&'a Work);

/// Held by work moved onto a task of its own (a follow-up sent after the response); dropping it
/// marks the work done.
#[derive(Debug)]
pub struct OwnedWorkGuard(Arc<Work>);

impl Work {
    /// Starts a piece of work, or None when the bot is shutting down.
    pub fn begin(&self) -> Option<WorkGuard<'_>> {
        self.start().then(|| WorkGuard(self))
    }

    /// [`Work::begin`] for work that outlives the caller's borrow.
    pub fn begin_owned(self: &Arc<Self>) -> Option<OwnedWorkGuard> {
        self.start().then(|| OwnedWorkGuard(self.clone()))
    }

    fn start(&self) -> bool {
        self.running.fetch_add(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.finish();
            return false;
        }
        true
    }

    /// Stops accepting new work.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// True once [`Work::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Work running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Waits until no work runs, or `limit` passes; true when idle.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.running() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    fn finish(&self) {
        if self.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

impl Drop for WorkGuard<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

impl Drop for OwnedWorkGuard {
    fn drop(&mut self) {
        self.0.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_counts_down_per_user() {
        let c = Cooldowns::new(Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(c.try_ask(1, t0), Ok(()));
        assert_eq!(c.try_ask(1, t0 + Duration::from_millis(100)), Err(5));
        assert_eq!(c.try_ask(1, t0 + Duration::from_millis(4100)), Err(1));
        assert_eq!(c.try_ask(2, t0 + Duration::from_millis(100)), Ok(()), "other users are not affected");
        assert_eq!(c.try_ask(1, t0 + Duration::from_secs(5)), Ok(()));
    }

    #[test]
    fn zero_cooldown_is_off() {
        let c = Cooldowns::new(Duration::ZERO);
        let t0 = Instant::now();
        assert!(c.try_ask(1, t0).is_ok() && c.try_ask(1, t0).is_ok());
    }

    #[test]
    fn allowlist() {
        assert!(channel_allowed(&[], 7));
        assert!(channel_allowed(&[7, 8], 7));
        assert!(!channel_allowed(&[8], 7));
    }

    #[test]
    fn an_event_is_handled_once_and_memory_stays_bounded() {
        let seen = Seen::new(3);
        assert!(seen.first_time(10));
        assert!(!seen.first_time(10), "a replay is refused");
        for id in [11, 12, 13] {
            assert!(seen.first_time(id));
        }
        assert_eq!(seen.len(), 3, "the oldest id was forgotten");
        assert!(seen.first_time(10), "only after capacity newer ids");
        assert!(!seen.first_time(13));
    }

    #[test]
    fn of_two_copies_handled_at_once_exactly_one_wins() {
        let seen = std::sync::Arc::new(Seen::new(SEEN_IDS));
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let seen = seen.clone();
                    s.spawn(move || (0..1000u64).filter(|id| seen.first_time(*id)).count())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(winners, 1000);
    }

    #[tokio::test]
    async fn shutdown_waits_for_work_in_flight_and_refuses_new_work() {
        let work = std::sync::Arc::new(Work::default());
        let guard_holder = work.clone();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _g = guard_holder.begin().unwrap();
            let _ = started_tx.send(());
            tokio::time::sleep(Duration::from_millis(150)).await;
        });
        started_rx.await.unwrap();
        work.close();
        assert!(work.begin().is_none(), "no new work after close");
        assert_eq!(work.running(), 1);
        assert!(!work.wait_idle(Duration::from_millis(10)).await);
        assert!(work.wait_idle(Duration::from_secs(5)).await);
        assert_eq!(work.running(), 0);
        task.await.unwrap();
    }
}
