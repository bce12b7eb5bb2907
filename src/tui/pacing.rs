//! Pacing the automatic retrains while a scan runs. A retrain after every answer is what
//! makes the labels count at once, but each one reads every embedding, fits a head with
//! cross-validation and rescores the library: back to back, as a fast labeler causes them,
//! they would take most of the CPU the background scan needs (it ran at 27% of its
//! standalone speed). While the scan job runs, an automatic retrain therefore starts only
//! once the background work since the previous one started (that retrain and the queue
//! rebuilds after it) is a small share of the time gone by; the answers given meanwhile are
//! all in the deferred one. Without a scan, and for the R key, retrains
//! start at once. This decides, without I/O; the app loop asks it on each request and tick.

use std::time::{Duration, Instant};

/// While scanning, retrains and queue rebuilds may run at most one part in this many of the
/// wall time. Both use up to two threads: on two cores, 1/20 of the time is at most a tenth of
/// the CPU, so the scan keeps 90% of its speed.
const SHARE: u32 = 20;

#[derive(Debug, Default)]
pub struct RetrainPacing {
    /// When the last retrain started.
    last_start: Option<Instant>,
    /// The background work since then: the retrain, and the queue rebuilds that finished.
    cost: Duration,
    /// An automatic retrain was asked for and not started yet.
    deferred: bool,
}

impl RetrainPacing {
    /// An automatic retrain is asked for: whether to start it now. If not, it is kept and
    /// [`RetrainPacing::due`] says when.
    pub fn request(&mut self, now: Instant, scanning: bool) -> bool {
        if self.may_start(now, scanning) {
            self.started(now);
            true
        } else {
            self.deferred = true;
            false
        }
    }

    /// On a tick: whether the deferred retrain may start now (it then counts as started).
    pub fn due(&mut self, now: Instant, scanning: bool) -> bool {
        if self.deferred && self.may_start(now, scanning) {
            self.started(now);
            return true;
        }
        false
    }

    /// A retrain started (asked for by the user, or let through here).
    pub fn started(&mut self, now: Instant) {
        self.deferred = false;
        self.last_start = Some(now);
        self.cost = Duration::ZERO;
    }

    /// A retrain or a queue rebuild finished after `took`.
    pub fn finished(&mut self, took: Duration) {
        self.cost += took;
    }

    fn may_start(&self, now: Instant, scanning: bool) -> bool {
        !scanning || self.last_start.is_none_or(|at| now.duration_since(at) >= self.cost * SHARE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_scan_every_retrain_starts_at_once() {
        let mut p = RetrainPacing::default();
        let t0 = Instant::now();
        assert!(p.request(t0, false));
        p.finished(Duration::from_secs(3));
        assert!(p.request(t0 + Duration::from_secs(3), false));
        assert!(!p.due(t0 + Duration::from_secs(4), false), "nothing was deferred");
    }

    #[test]
    fn while_scanning_retrains_and_rebuilds_take_a_twentieth_of_the_time_at_most() {
        let mut p = RetrainPacing::default();
        let t0 = Instant::now();
        assert!(p.request(t0, true), "the first one starts at once");
        p.finished(Duration::from_millis(700));
        p.finished(Duration::from_millis(300)); // the queue rebuild after it
        assert!(!p.request(t0 + Duration::from_secs(1), true), "deferred: 1 s of 1 s");
        assert!(!p.request(t0 + Duration::from_secs(2), true), "still one deferred");
        assert!(!p.due(t0 + Duration::from_secs(19), true));
        assert!(p.due(t0 + Duration::from_secs(20), true), "1 s of 20 s");
        assert!(!p.due(t0 + Duration::from_secs(21), true), "only once");
    }

    #[test]
    fn a_deferred_retrain_starts_when_the_scan_ends_or_the_user_asks() {
        let mut p = RetrainPacing::default();
        let t0 = Instant::now();
        assert!(p.request(t0, true));
        p.finished(Duration::from_secs(2));
        assert!(!p.request(t0 + Duration::from_secs(2), true));
        assert!(p.due(t0 + Duration::from_secs(3), false), "the scan is over");
        p.finished(Duration::from_secs(2));
        assert!(!p.request(t0 + Duration::from_secs(5), true), "a scan again");
        p.started(t0 + Duration::from_secs(6));
        assert!(!p.due(t0 + Duration::from_secs(60), true), "R took the deferred one");
    }
}
