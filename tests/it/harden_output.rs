//! Issue 31, item 5: what every subcommand prints, with hostile names planted in folders,
//! files, EXIF, the config, the environment and the `--library` path. (`label` is the TUI:
//! it draws through ratatui's cells, not through these streams.) No control character
//! (but the newline and the tab of the output's own layout) and no bidi override, isolate or
//! mark may reach stdout or stderr, and the output must be UTF-8 (a name that is not is
//! escaped as `\xff`).
//!
//! `queue --null` is the one mode that prints paths raw, on purpose (for `xargs -0`): its
//! records are checked apart — each ends in a NUL, its path is byte for byte a catalog path,
//! and everything else in it is clean.

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue};
use photosift::library::Library;

use crate::encode::{jpeg, pattern};

/// Sets the clipboard (OSC 52), clears the screen, moves the cursor, and reverses the text
/// after it (U+202E) — with a bell, a carriage return and an isolate for good measure.
const HOSTILE: &str = "\u{1b}]52;c;aGVsbG8=\u{7}\u{1b}[2J\u{1b}[3;3H\r\u{202e}gpj\u{2066}\u{200f}";

/// Characters that must not reach the terminal: C0/C1 controls and DEL but the newline and
/// the tab, the bidi embeddings, overrides, isolates and marks, and the line separators.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// The forbidden characters in `bytes`, or that they are not UTF-8.
fn problems(bytes: &[u8]) -> Vec<String> {
    match std::str::from_utf8(bytes) {
        Err(e) => vec![format!("not UTF-8 at byte {}", e.valid_up_to())],
        Ok(text) => text
            .char_indices()
            .filter(|(_, c)| forbidden(*c))
            .map(|(i, c)| {
                let at = text[..i].rfind('\n').map_or(0, |n| n + 1);
                format!("{c:?} in line {:?}", &text[at..i + c.len_utf8()])
            })
            .collect(),
    }
}

/// The binary under test; `PHOTOSIFT_BIN` runs this test against another build.
fn binary() -> PathBuf {
    std::env::var_os("PHOTOSIFT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_photosift")))
}

struct Sweep {
    dir: tempfile::TempDir,
    library: PathBuf,
    photos: PathBuf,
    config: PathBuf,
    /// (command, what was wrong) for every dirty output.
    dirty: Vec<String>,
    ran: Vec<String>,
}

impl Sweep {
    fn command(&self, args: &[&OsStr]) -> Command {
        let mut c = Command::new(binary());
        c.arg("--library").arg(&self.library).arg("--config").arg(&self.config).args(args);
        c.env("HOME", self.dir.path()).env("HF_HOME", self.dir.path().join("hf"));
        c
    }

    /// Runs `cmd` and records any forbidden character in what it printed.
    fn check(&mut self, what: &str, mut cmd: Command) -> Output {
        let out = cmd.output().unwrap();
        // Shown when the test fails: what each command said.
        eprintln!(
            "--- {what}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let found = problems(bytes);
            if !found.is_empty() {
                self.dirty.push(format!("{what} ({stream}): {}", found.join("; ")));
            }
            assert!(
                !String::from_utf8_lossy(bytes).contains("panicked"),
                "{what}: {}",
                String::from_utf8_lossy(bytes)
            );
        }
        self.ran.push(what.to_owned());
        out
    }

    fn run(&mut self, args: &[&str]) -> Output {
        let os: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let cmd = self.command(&os);
        self.check(&args.join(" "), cmd)
    }
}

/// A hostile name: `HOSTILE` around `stem`, plus bytes that are not UTF-8.
fn hostile_name(stem: &str, ext: &str) -> std::ffi::OsString {
    let mut bytes = format!("{HOSTILE}{stem}").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe");
    bytes.extend_from_slice(format!("\n{HOSTILE}.{ext}").as_bytes());
    OsStr::from_bytes(&bytes).to_owned()
}

#[test]
fn no_command_prints_a_control_or_bidi_character_from_a_hostile_name() {
    crate::empty_hf_home();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    // The library itself lives under a hostile folder name (`--library` is printed).
    let library = root.join(hostile_name("library", "d"));
    let photos = root.join(hostile_name("photos", "d"));
    let inner = photos.join(hostile_name("inner", "d"));
    std::fs::create_dir_all(&inner).unwrap();
    // Photos with hostile names and hostile EXIF text (an unparseable capture time).
    let mut exif_text = "\u{1b}[2J\u{202e}".to_owned();
    while exif_text.len() < 19 {
        exif_text.push('x');
    }
    for i in 0..6u8 {
        let folder = if i % 2 == 0 { &photos } else { &inner };
        let bytes = crate::fixtures::with_exif(&jpeg(&pattern(160, 120, i * 40)), 1, &exif_text);
        std::fs::write(folder.join(hostile_name(&format!("p{i}"), "jpg")), bytes).unwrap();
    }
    // A broken file (a failure whose message names it), a FIFO named like a photo (a walk
    // issue), and a link back to a hostile ancestor (a loop).
    std::fs::write(photos.join(hostile_name("broken", "jpg")), b"\xff\xd8\xff garbage").unwrap();
    let fifo = inner.join(hostile_name("fifo", "jpg"));
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo(3) on a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink(&photos, inner.join(hostile_name("loop", "d"))).unwrap();
    // Example folders for `seed`: one with a broken hostile file, one missing.
    let examples = root.join(hostile_name("examples", "d"));
    std::fs::create_dir_all(&examples).unwrap();
    std::fs::write(examples.join(hostile_name("bad", "jpg")), b"not a photo").unwrap();
    let missing_examples = root.join(hostile_name("gone", "d"));
    // The config: hostile prompts and example folders (TOML strings escape the controls).
    let toml_str = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let lossy = |p: &Path| toml_str(&p.to_string_lossy());
    let config = root.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[seed]\nwant = [{}]\ndont_want = [{}]\nimages_per_prompt = 1\nexamples_want = [{}]\n\
             examples_dont_want = [{}]\n",
            toml_str(&format!("a dog {HOSTILE}")),
            toml_str(&format!("a receipt {HOSTILE}")),
            lossy(&examples),
            lossy(&missing_examples),
        ),
    )
    .unwrap();
    let mut s = Sweep { dir, library, photos, config, dirty: Vec::new(), ran: Vec::new() };
    let photos_arg = s.photos.clone();

    // scan (with its embedding), twice: the second finds the loop and the FIFO again.
    let scan = |s: &mut Sweep| {
        let cmd = s.command(&[OsStr::new("scan"), photos_arg.as_os_str()]);
        s.check("scan", cmd)
    };
    let out = scan(&mut s);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    scan(&mut s);
    // Labels and picks for train, queue and export.
    {
        let lib = Library::open_existing(&s.library).unwrap();
        let mut catalog = lib.open_catalog().unwrap();
        let photos = catalog.photos().unwrap();
        let ok: Vec<_> = photos.iter().filter(|p| p.thumb_path.is_some()).collect();
        assert!(ok.len() >= 4, "{} photos read", ok.len());
        // Four labeled (both kinds, for `train`), the others left for the ambiguous queue.
        for (i, p) in ok.iter().take(4).enumerate() {
            let value = if i % 2 == 0 { LabelValue::Yes } else { LabelValue::No };
            let d = Decision::single(p.id, DecisionMode::Ambiguous, LabelKind::Kind, value);
            catalog.record_decisions(std::slice::from_ref(&d)).unwrap();
        }
        for p in ok.iter().take(3) {
            let d = Decision::single(p.id, DecisionMode::Best, LabelKind::Print, LabelValue::Yes);
            catalog.record_decisions(std::slice::from_ref(&d)).unwrap();
        }
        // One original gone, for `status --missing`.
        std::fs::remove_file(&ok[3].path).unwrap();
    }
    let out = scan(&mut s);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for args in [
        &["status"][..],
        &["status", "--errors"],
        &["status", "--missing"],
        &["embed"],
        &["train", "--frozen"],
        &["score"],
        &["queue"],
        &["queue", "--mode", "best"],
        &["seed", "--dry-run"],
        &["seed", "--offline"],
    ] {
        s.run(args);
    }
    let dest = root.join(hostile_name("prints", "d"));
    let cmd = s.command(&[OsStr::new("export"), dest.as_os_str()]);
    let out = s.check("export", cmd);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // An export into a hostile folder that is a file: the error names it.
    let not_a_folder = root.join(hostile_name("file", "txt"));
    std::fs::write(&not_a_folder, b"x").unwrap();
    let cmd = s.command(&[OsStr::new("export"), not_a_folder.as_os_str()]);
    s.check("export into a file", cmd);

    // doctor, with a hostile terminal environment.
    let mut cmd = s.command(&[OsStr::new("doctor")]);
    cmd.env("TERM_PROGRAM", HOSTILE).env("LC_TERMINAL", HOSTILE).env("TERM", HOSTILE);
    s.check("doctor", cmd);

    // eval: a truth file (UTF-8, as it must be) naming hostile files that are not there: the
    // rows that match nothing are quoted back.
    let truth = root.join("truth.csv");
    let rows: Vec<String> = (0..4).map(|i| format!("{HOSTILE}nowhere{i}.jpg,{}", i % 2)).collect();
    std::fs::write(&truth, format!("file,label\n{}\n", rows.join("\n"))).unwrap();
    let plot = root.join("eval.png");
    let cmd = s.command(&[
        OsStr::new("eval"),
        OsStr::new("--truth"),
        truth.as_os_str(),
        OsStr::new("--runs"),
        OsStr::new("1"),
        OsStr::new("--max-labels"),
        OsStr::new("2"),
        OsStr::new("--every"),
        OsStr::new("1"),
        OsStr::new("--plot"),
        plot.as_os_str(),
        photos_arg.as_os_str(),
    ]);
    s.check("eval", cmd);

    // A hostile --library that does not exist, and a bad config value echoed back.
    let mut cmd = Command::new(binary());
    cmd.arg("--library").arg(root.join(hostile_name("nowhere", "d"))).arg("status");
    s.check("status of a missing library", cmd);
    let bad = root.join("bad.toml");
    std::fs::write(&bad, format!("[tui]\ngraphics = {}\n", toml_str(HOSTILE))).unwrap();
    let mut cmd = Command::new(binary());
    cmd.arg("--config").arg(&bad).arg("doctor");
    s.check("doctor with a bad config", cmd);

    // demo, built into a hostile library of its own (it prints the library and its folders).
    let mut cmd = Command::new(binary());
    cmd.arg("--library").arg(root.join(hostile_name("demo", "d"))).arg("--config").arg(&s.config);
    cmd.args(["demo", "--no-tui"]).env("HOME", s.dir.path());
    let out = s.check("demo --no-tui", cmd);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // queue --null: raw paths on purpose, NUL-terminated; the rest of each record is clean.
    let lib = Library::open_existing(&s.library).unwrap();
    let known: Vec<Vec<u8>> = lib
        .open_catalog()
        .unwrap()
        .photos()
        .unwrap()
        .into_iter()
        .map(|p| p.path.into_os_string().into_vec())
        .collect();
    for mode in ["ambiguous", "best"] {
        let out = s.command(&[
            OsStr::new("queue"),
            OsStr::new("--null"),
            OsStr::new("--mode"),
            OsStr::new(mode),
        ]);
        let out = { out }.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(problems(&out.stderr).is_empty(), "queue --null stderr: {:?}", out.stderr);
        assert!(
            out.stdout.ends_with(b"\0"),
            "each record ends in NUL: {:?} {}",
            out.stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let records: Vec<&[u8]> = out.stdout[..out.stdout.len() - 1].split(|&b| b == 0).collect();
        assert!(!records.is_empty());
        for record in records {
            // p<TAB>[group<TAB>]path: numeric fields, then a path (the first `/`).
            let at = record.iter().position(|&b| b == b'/').unwrap();
            let (fields, path) = record.split_at(at);
            assert!(
                fields.iter().all(|b| b.is_ascii_digit() || b".-\t".contains(b)),
                "queue --null fields: {fields:?}"
            );
            assert!(known.iter().any(|k| k == path), "not a catalog path: {path:?}");
        }
        s.ran.push(format!("queue --null --mode {mode}"));
    }
    eprintln!("output sweep ran: {}", s.ran.join(" | "));
    assert!(s.dirty.is_empty(), "raw control or bidi characters printed:\n{}", s.dirty.join("\n"));
}
