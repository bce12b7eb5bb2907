//! Signals for the real binary under test, and waiting for it to be gone.

use std::path::Path;
use std::time::{Duration, Instant};

/// Sends `signal` to `pid`.
pub fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: plain kill(2) on a process this test started.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid}, {signal})");
}

/// Waits (up to 10 s) until process `pid` is gone.
pub fn wait_gone(pid: i32) {
    let end = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}/exe")).exists() {
        assert!(Instant::now() < end, "process {pid} did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// SIGKILLs `pid` and waits until it is gone.
pub fn sigkill_and_wait(pid: i32) {
    signal(pid, libc::SIGKILL);
    wait_gone(pid);
}
