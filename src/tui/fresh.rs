//! Staying fresh: when to rebuild the queues after another process (a `scan` or `train` in
//! another terminal, or a background job of this session) changed the catalog. The app polls
//! SQLite's `data_version` on a timer; this decides, without I/O, whether a rebuild is due.

use std::time::{Duration, Instant};

/// A rebuild at most this often, and taking at most an eighth of the time (a rebuild reads
/// every embedding); a twentieth while this session's own scan runs, which commits every
/// half second and must keep 90% of its speed (see `pacing.rs`).
const MIN_INTERVAL: Duration = Duration::from_secs(2);
const MAX_SHARE: u32 = 8;
const MAX_SHARE_SCANNING: u32 = 20;

#[derive(Debug, Default)]
pub struct Freshness {
    seen: Option<i64>,
    changed: bool,
    last_start: Option<Instant>,
    last_took: Duration,
}

impl Freshness {
    /// The catalog's `data_version` now; a new value means someone else committed.
    pub fn observe(&mut self, version: i64) {
        if self.seen.is_some_and(|v| v != version) {
            self.changed = true;
        }
        self.seen = Some(version);
    }

    /// Whether to start a rebuild now (and if so, it counts as started). `waiting`: nothing
    /// is on screen (a new library filling up), so the first photos are worth a rebuild at once.
    /// `scanning`: this session's scan job runs.
    pub fn due(&mut self, now: Instant, rebuilding: bool, waiting: bool, scanning: bool) -> bool {
        if !self.changed || rebuilding {
            return false;
        }
        let share = if scanning { MAX_SHARE_SCANNING } else { MAX_SHARE };
        let wait = MIN_INTERVAL.max(self.last_took * share);
        if !waiting && self.last_start.is_some_and(|at| now.duration_since(at) < wait) {
            return false;
        }
        self.changed = false;
        self.last_start = Some(now);
        true
    }

    /// A rebuild (whoever started it) finished after `took`.
    pub fn built(&mut self, now: Instant, took: Duration) {
        self.last_took = took;
        self.last_start.get_or_insert(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_by_another_process_starts_one_rebuild_at_a_time() {
        let mut f = Freshness::default();
        let t0 = Instant::now();
        f.observe(1);
        assert!(!f.due(t0, false, false, false), "the first reading is no change");
        f.observe(2);
        assert!(!f.due(t0, true, false, false), "not while a rebuild runs");
        assert!(f.due(t0, false, false, false));
        assert!(!f.due(t0, false, false, false), "once per change");
        f.observe(3);
        assert!(!f.due(t0 + Duration::from_secs(1), false, false, false), "not twice within 2 s");
        assert!(f.due(t0 + Duration::from_secs(2), false, false, false));
    }

    #[test]
    fn slow_rebuilds_run_less_often() {
        let mut f = Freshness::default();
        let t0 = Instant::now();
        f.observe(1);
        f.observe(2);
        assert!(f.due(t0, false, false, false));
        f.built(t0, Duration::from_secs(3));
        f.observe(3);
        assert!(!f.due(t0 + Duration::from_secs(20), false, false, false));
        assert!(f.due(t0 + Duration::from_secs(24), false, false, false));
        f.observe(4);
        assert!(
            f.due(t0 + Duration::from_secs(25), false, true, false),
            "nothing on screen: at once"
        );
        f.built(t0 + Duration::from_secs(25), Duration::from_secs(1));
        f.observe(5);
        assert!(!f.due(t0 + Duration::from_secs(44), false, false, true), "scanning: 1 s of 20");
        assert!(f.due(t0 + Duration::from_secs(45), false, false, true));
    }
}
