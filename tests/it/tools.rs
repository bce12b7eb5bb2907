//! The tools some tests drive (tmux, Xvfb and the terminal emulators, a tmpfs mount): a test
//! whose tool is missing skips on a laptop, but fails under CI, where a skip would hide a
//! broken install step in `.ci/run`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether the tests run under CI: `CI` set to anything but `false`/`0`/empty (`.ci/run`
/// exports `CI=true`; GitHub Actions and most others set it too).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Whether `program` runs here (`program -V`-style check with `args`).
pub fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|o| o.status.success())
}

/// Whether the test may go on: `available`, else a skip (printed) on a laptop and a failure
/// under CI. `what` names the test part, `missing` what is missing and how to get it.
pub fn require(available: bool, what: &str, missing: &str) -> bool {
    if available {
        return true;
    }
    assert!(!under_ci(), "{what}: {missing}; under CI this fails instead of skipping");
    eprintln!("SKIPPED {what}: {missing}");
    false
}

/// [`require`] for tmux.
pub fn require_tmux(what: &str) -> bool {
    require(runs("tmux", &["-V"]), what, "tmux is not installed (apt-get install tmux)")
}

/// A tmpfs of `size` mounted at `dir` (needs root or CAP_SYS_ADMIN), unmounted on drop.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// The mount, or `None` (a skip, or a failure under CI: see [`require`]) where mounting
    /// is not allowed. `what` names the test.
    pub fn mount(dir: &Path, size: &str, what: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        let ok = out.as_ref().is_ok_and(|o| o.status.success());
        let why = match &out {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => e.to_string(),
        };
        let missing = format!("cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {why}");
        require(ok, what, &missing).then(|| Self(dir.to_path_buf()))
    }

    /// Remounts it with `options` (`size=64m`, `ro`).
    pub fn remount(&self, options: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}
