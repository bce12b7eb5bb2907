//! The SQLite catalog: every SQL statement of photosift lives in this module and its children.
//!
//! Opening applies the pragmas (WAL, foreign keys, busy timeout) and the numbered migrations,
//! refusing a catalog written by a newer photosift and backing the file up before migrating.

mod embeddings;
mod labels;
mod models;
mod photo_writes;
mod photos;
mod picks;
mod score_blobs;
mod session;
mod synthetic;
mod videos;

// The domain's nouns, for this module's files (`super::PhotoId`); callers import them from
// `crate::domain`, where they live.
use crate::domain::{ModelId, ModelKind, PhotoId};
pub use labels::LabelCounts;
pub use models::{EmbeddingTable, ModelInfo, NewModel};
pub use photo_writes::{KnownFile, NewPhoto, PhotoCounts, ScanIndex, ScanOp};
pub use photos::{Photo, PhotoState, Source, TakenSource};
pub use picks::{DuplicateFile, Pick};
pub use videos::VideoFile;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use thiserror::Error;

/// One schema change: SQL, then optionally code that moves data SQL alone cannot (in the
/// same transaction).
#[derive(Clone, Copy)]
struct Migration {
    sql: &'static str,
    then: Option<fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>>,
}

impl Migration {
    const fn sql(sql: &'static str) -> Self {
        Self { sql, then: None }
    }
}

/// Migrations in order; `user_version` counts how many were applied.
/// Released migrations are never edited: append a new one.
const MIGRATIONS: &[Migration] = &[
    Migration::sql(include_str!("schema_001.sql")),
    Migration::sql(include_str!("schema_002_phone_library.sql")),
    Migration::sql(include_str!("schema_003_session.sql")),
    Migration {
        sql: include_str!("schema_004_score_blobs.sql"),
        then: Some(score_blobs::migrate_rows_to_blobs),
    },
    Migration {
        sql: include_str!("schema_005_ask_first.sql"),
        then: Some(models::migrate_ask_first),
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error(
        "the catalog {path} has schema version {found}, newer than this photosift knows \
         ({supported}); upgrade photosift (the file was left untouched)"
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    /// Not an SQLite file at all, or its header is broken. The library adds how to restore
    /// its newest backup (it knows where they are).
    #[error("{path} is not a photosift catalog or is damaged ({source}); it was left untouched")]
    Corrupt { path: PathBuf, source: rusqlite::Error },
    /// A 0-byte file, or one with no table in it: nothing to lose, but nothing to read either,
    /// and writing a new schema over it would hide that the real catalog is gone.
    #[error(
        "the catalog {path} is empty (it holds no photos, labels or models); it was left untouched"
    )]
    Empty { path: PathBuf },
    /// The catalog or its `-wal`/`-shm` file may not be read or written by this user (one
    /// `sudo photosift` leaves them owned by root). Labels may be in the `-wal` file, so this
    /// is never called damage.
    #[error(
        "photosift may not {need} {file} ({owner}): a permission problem, nothing wrong with \
         the catalog itself; labels may still be in that file, so do not move or delete it. \
         Give it back to your user, e.g. `sudo chown \"$USER\" {file}` (one `sudo photosift` \
         run leaves its files owned by root)"
    )]
    Permission { file: PathBuf, need: &'static str, owner: String },
    #[error("{path} is not a file (a folder?): it cannot be photosift's catalog; move it aside")]
    NotAFile { path: PathBuf },
    #[error("cannot open the catalog {path}: {source}")]
    CannotOpen { path: PathBuf, source: rusqlite::Error },
    #[error("cannot back up the catalog to {path} before migrating: {error}")]
    Backup { path: PathBuf, error: rusqlite::Error },
    #[error(
        "the catalog {path} is damaged inside ({}); photosift left it as it is: copy it aside, \
         then restore a backup (catalog.sqlite.bak-v*) or salvage what is readable with \
         `sqlite3 catalog.sqlite .recover | sqlite3 recovered.sqlite`",
        problems.join("; ")
    )]
    Damaged { path: PathBuf, problems: Vec<String> },
    #[error("the catalog is damaged (`photosift status` checks it)")]
    DamagedQuery(#[source] rusqlite::Error),
    #[error(
        "the catalog is read-only (on a read-only disk or folder): photosift can show it \
         (`status`, `queue`, `export`) but not change it"
    )]
    ReadOnly(#[source] rusqlite::Error),
    #[error(
        "the read-only catalog {path} has schema version {found}; this photosift needs \
             {supported}: open it once where it is writable to upgrade it"
    )]
    ReadOnlyOld { path: PathBuf, found: i64, supported: i64 },
    #[error("cannot flush the folder of the new catalog {path} to disk: {error}")]
    SyncFolder { path: PathBuf, error: std::io::Error },
    #[error(transparent)]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for CatalogError {
    /// SQLite finding the file damaged in the middle of some query says so, and what to run.
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Self::DamagedQuery(e),
            Some(ErrorCode::ReadOnly) => Self::ReadOnly(e),
            _ => Self::Sqlite(e),
        }
    }
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// How long a statement waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The busy handler: waits for another connection's lock, trying again every millisecond, for
/// up to [`BUSY_TIMEOUT`]. SQLite's own (`busy_timeout`) sleeps 1, 2, 5, 10, 15, 20, 25 ms
/// between tries, so a label waiting for a retrain's 8-ms write would get the lock only after
/// 18 ms; this gets it within a millisecond of its release.
fn retry_every_millisecond(tries: i32) -> bool {
    if Duration::from_millis(u64::try_from(tries).unwrap_or(0)) >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}

/// Runs `f` again while SQLite answers "busy" or "locked" without waiting, for up to
/// [`BUSY_TIMEOUT`]. The busy handler does not cover every case: switching a new catalog to WAL
/// while another process creates it returns SQLITE_BUSY at once (seen with two scans started
/// together on a new library).
fn while_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// An open catalog. One connection; callers on other threads open their own.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

/// What opening does with a catalog file that exists but is empty (0 bytes, or no table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenEmpty {
    /// Write a new schema into it: a library that holds nothing yet.
    Initialize,
    /// Refuse it ([`CatalogError::Empty`]) without writing: a command that only reads, or a
    /// library whose thumbnails or models show that a real catalog was there.
    Refuse,
}

impl Catalog {
    /// Opens (creating when missing) the catalog file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, MIGRATIONS, WhenEmpty::Initialize)
    }

    /// [`Catalog::open`] that never writes a schema into an existing empty file
    /// ([`WhenEmpty::Refuse`]); a missing file is still created unless the caller checked.
    pub fn open_refusing_empty(path: &Path) -> Result<Self> {
        Self::open_with(path, MIGRATIONS, WhenEmpty::Refuse)
    }

    /// [`Catalog::open`] with a given migration list (tests add a future migration).
    fn open_with(path: &Path, migrations: &[Migration], empty: WhenEmpty) -> Result<Self> {
        let supported = migrations.len() as i64;
        let is_new = match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                return Err(CatalogError::NotAFile { path: path.to_path_buf() });
            }
            Ok(meta) if meta.len() == 0 && empty == WhenEmpty::Refuse => {
                return Err(CatalogError::Empty { path: path.to_path_buf() });
            }
            Ok(_) => false,
            Err(_) => true,
        };
        if !is_new {
            match access_problem(path) {
                Access::Fine => {}
                Access::ReadOnly => return Self::open_read_only(path, supported),
                Access::Denied { file, need, owner } => {
                    return Err(CatalogError::Permission { file, need, owner });
                }
            }
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| CatalogError::CannotOpen { path: path.to_path_buf(), source })?;
        let corrupt = |source: rusqlite::Error| corrupt_or_not(path, source);
        // Before the first read: another photosift writing must mean a wait, not "damaged".
        conn.busy_handler(Some(retry_every_millisecond))?;
        // The first read of the header is where a non-database file shows itself.
        let version: i64 = while_busy(|| conn.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .map_err(corrupt)?;
        if version > supported {
            return Err(CatalogError::NewerSchema {
                path: path.to_path_buf(),
                found: version,
                supported,
            });
        }
        if version == 0 && !is_new && empty == WhenEmpty::Refuse {
            // Still nothing written: the journal mode is switched only below.
            let tables: i64 = while_busy(|| {
                conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            })
            .map_err(corrupt)?;
            if tables == 0 {
                return Err(CatalogError::Empty { path: path.to_path_buf() });
            }
        }
        let mut catalog = Self { conn, path: path.to_path_buf() };
        while_busy(|| catalog.configure()).map_err(corrupt)?;
        if version > 0 && version < supported {
            catalog.backup_before_migrating(version)?;
        }
        catalog.migrate(migrations, version)?;
        if is_new {
            // The new file's name must survive a power cut as well as its contents.
            sync_folder_of(path)
                .map_err(|error| CatalogError::SyncFolder { path: path.to_path_buf(), error })?;
        }
        Ok(catalog)
    }

    /// A catalog on a read-only disk or in a read-only folder, opened for reading. SQLite's
    /// WAL mode needs to write its `-shm` file even to read, so the file is opened as
    /// immutable: nothing may change it while photosift reads (on a read-only disk nothing
    /// can).
    fn open_read_only(path: &Path, supported: i64) -> Result<Self> {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let mut uri = b"file:".to_vec();
        for &b in path.as_os_str().as_bytes() {
            match b {
                b'%' | b'?' | b'#' => uri.extend_from_slice(format!("%{b:02x}").as_bytes()),
                _ => uri.push(b),
            }
        }
        uri.extend_from_slice(b"?immutable=1");
        let uri = PathBuf::from(std::ffi::OsString::from_vec(uri));
        let conn = Connection::open_with_flags(
            &uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| CatalogError::CannotOpen { path: path.to_path_buf(), source })?;
        let corrupt = |source| corrupt_or_not(path, source);
        let version: i64 =
            conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(corrupt)?;
        if version > supported {
            return Err(CatalogError::NewerSchema {
                path: path.to_path_buf(),
                found: version,
                supported,
            });
        }
        if version < supported {
            return Err(CatalogError::ReadOnlyOld {
                path: path.to_path_buf(),
                found: version,
                supported,
            });
        }
        conn.pragma_update(None, "foreign_keys", "ON").map_err(corrupt)?;
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())).map_err(corrupt)?;
        Ok(Self { conn, path: path.to_path_buf() })
    }

    /// A private in-memory catalog, for tests and simulations.
    pub fn open_in_memory() -> Result<Self> {
        let mut catalog = Self { conn: Connection::open_in_memory()?, path: PathBuf::new() };
        catalog.configure()?;
        catalog.migrate(MIGRATIONS, 0)?;
        Ok(catalog)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&mut self) -> rusqlite::Result<()> {
        self.conn.busy_handler(Some(retry_every_millisecond))?;
        // WAL: readers never block the writer, and a kill loses at most uncommitted work.
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // Fail on a damaged file now rather than halfway through a scan.
        self.conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
    }

    /// Leaves WAL checkpoints to the other connections: for a connection whose commits must
    /// stay short (the TUI's labels). A commit that finds the log over 1,000 pages copies
    /// it back into the database first (and syncs it) — a retrain's 25,000 scores fill that
    /// much, and the next commit was often the user's label, waiting for it. The other
    /// connections (jobs, scans) and closing the last connection still checkpoint.
    pub fn leave_checkpoints_to_others(&self) -> Result<()> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    /// Reads every page of the catalog (SQLite's `quick_check`): damage inside the file, which
    /// opening does not notice, is found here. `Err(Damaged)` lists what SQLite reported.
    pub fn check(&self) -> Result<()> {
        let mut stmt = self.conn.prepare("PRAGMA quick_check(20)")?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()
            .or_else(|e| match e.sqlite_error_code() {
                Some(ErrorCode::DatabaseCorrupt) => Ok(vec![e.to_string()]),
                _ => Err(e),
            })?;
        if rows.len() == 1 && rows[0] == "ok" {
            return Ok(());
        }
        Err(CatalogError::Damaged { path: self.path.clone(), problems: rows })
    }

    fn backup_before_migrating(&self, from: i64) -> Result<()> {
        let backup = self.path.with_extension(format!("sqlite.bak-v{from}"));
        let target = backup.to_string_lossy().into_owned();
        if backup.exists() {
            return Ok(());
        }
        self.conn
            .execute("VACUUM INTO ?1", [&target])
            .map(|_| ())
            .map_err(|error| CatalogError::Backup { path: backup, error })
    }

    fn migrate(&mut self, migrations: &[Migration], from: i64) -> Result<()> {
        for (i, migration) in migrations.iter().enumerate().skip(from as usize) {
            // Immediate: the write lock is taken before the version is read again, so two
            // processes opening a new catalog at once do not both create its tables.
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(migration.sql)?;
            if let Some(then) = migration.then {
                then(&tx)?;
            }
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    #[cfg(test)]
    fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// An error met while opening or first reading a catalog: damage only when SQLite says the
/// file is not a database or is malformed; a busy catalog is a wait (see [`while_busy`]); a
/// file SQLite cannot open (permissions, a vanished folder) is said as such.
fn corrupt_or_not(path: &Path, source: rusqlite::Error) -> CatalogError {
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            CatalogError::Corrupt { path: path.to_path_buf(), source }
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::ReadOnly) => {
            CatalogError::from(source)
        }
        Some(_) => match access_problem(path) {
            Access::Denied { file, need, owner } => CatalogError::Permission { file, need, owner },
            Access::Fine | Access::ReadOnly => {
                CatalogError::CannotOpen { path: path.to_path_buf(), source }
            }
        },
        None => CatalogError::Sqlite(source),
    }
}

/// How this process may use an existing catalog and the files beside it.
#[derive(Debug, PartialEq, Eq)]
enum Access {
    Fine,
    /// Readable, but photosift may not write it: a read-only disk, or (for users other than
    /// root) read-only permissions on the catalog or its folder with no `-wal` file holding
    /// changes (immutable reading would not see them).
    ReadOnly,
    /// `file` may not be read, or is a `-wal`/`-shm` file that SQLite must write.
    Denied {
        file: PathBuf,
        need: &'static str,
        owner: String,
    },
}

/// Looks at the catalog, its `-wal` and `-shm` files and its folder with access(2): a
/// permission problem is named with its file, so it is never taken for damage.
fn access_problem(path: &Path) -> Access {
    use std::os::unix::ffi::OsStrExt;
    let check = |p: &Path, mode: libc::c_int| -> Option<i32> {
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
        // SAFETY: access(2) on a valid NUL-terminated path.
        if unsafe { libc::access(c.as_ptr(), mode) } == 0 {
            None
        } else {
            std::io::Error::last_os_error().raw_os_error()
        }
    };
    let denied = |e: i32| e == libc::EACCES || e == libc::EPERM;
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let beside = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let (wal, shm) = (beside("-wal"), beside("-shm"));
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).ok();
    let deny = |file: &Path, need: &'static str| Access::Denied {
        file: file.to_path_buf(),
        need,
        owner: owner_of(file),
    };
    // Reading: the catalog, and the -wal/-shm files where they exist.
    for file in [path, &wal, &shm] {
        if (file == path || std::fs::symlink_metadata(file).is_ok())
            && check(file, libc::R_OK).is_some_and(denied)
        {
            return deny(file, "read");
        }
    }
    if check(folder, libc::X_OK).is_some_and(denied) {
        return deny(folder, "enter the folder");
    }
    // Writing: a read-only disk is read as it is; so are read-only permissions, unless the
    // -wal file holds changes that only a connection able to write its -shm can read.
    let mut read_only = false;
    for (file, mode) in [(path, libc::W_OK), (folder, libc::W_OK)] {
        match check(file, mode) {
            None => {}
            Some(libc::EROFS) => read_only = true,
            Some(e) if denied(e) && wal_len.unwrap_or(0) == 0 => read_only = true,
            Some(e) if denied(e) => return deny(file, "write"),
            Some(_) => {}
        }
    }
    for file in [&wal, &shm] {
        if std::fs::symlink_metadata(file).is_ok()
            && let Some(e) = check(file, libc::W_OK)
            && e != libc::EROFS
            && denied(e)
        {
            return deny(file, "write");
        }
    }
    if read_only { Access::ReadOnly } else { Access::Fine }
}

/// "owned by uid 0, mode 0000", for a permission message.
fn owner_of(file: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(file) {
        Ok(m) => format!("owned by uid {}, mode {:04o}", m.uid(), m.mode() & 0o7777),
        Err(e) => e.to_string(),
    }
}

/// fsync of the folder holding `path`, so that a new name in it is on disk.
fn sync_folder_of(path: &Path) -> std::io::Result<()> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(folder)?.sync_all()
}

/// Unix time now, in seconds.
pub(crate) fn now_secs() -> i64 {
    now_ms() / 1000
}

/// Unix time now, in milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A head model version on `backbone` for tests: one yes, one no, no parameters.
#[cfg(test)]
pub(crate) fn test_model(backbone: &str) -> NewModel {
    NewModel {
        backbone: backbone.into(),
        kind: ModelKind::Head,
        n_positive: 1,
        n_negative: 1,
        n_synthetic: 0,
        cv_auc: None,
        params: vec![],
        info: "{}".into(),
    }
}

/// A test catalog with photos 1..=n: `/p/<i>.jpg`, 4000x3000 px, taken at second 1000 + i.
#[cfg(test)]
pub(crate) fn test_catalog_with_photos(n: i64) -> Catalog {
    let cat = Catalog::open_in_memory().expect("in-memory catalog");
    for i in 1..=n {
        cat.conn()
            .execute(
                "INSERT INTO photos (id, path, content_hash, byte_size, mtime_ns, width, height,
                                     taken_at, added_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, 1, 4000, 3000, ?4, 0, 0)",
                rusqlite::params![i, format!("/p/{i}.jpg").into_bytes(), format!("h{i}"), 1000 + i],
            )
            .expect("test photo row");
    }
    cat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_catalog_has_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let cat = Catalog::open(&path).unwrap();
        let v: i64 = cat.conn().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        drop(cat);
        // Reopening is a no-op.
        Catalog::open(&path).unwrap();
    }

    #[test]
    fn newer_schema_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        drop(Catalog::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = Catalog::open(&path).err().unwrap();
        assert!(matches!(err, CatalogError::NewerSchema { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn migrating_backs_up_first_and_a_failed_migration_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let cat = Catalog::open(&path).unwrap();
        cat.conn()
            .execute(
                "INSERT INTO photos (path, content_hash, byte_size, mtime_ns, added_at, updated_at)
                 VALUES (x'2f612e6a7067', 'h', 1, 1, 1, 1)",
                [],
            )
            .unwrap();
        drop(cat);
        let version = |p: &Path| -> i64 {
            Connection::open(p).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
        };
        let backup = dir.path().join(format!("catalog.sqlite.bak-v{SCHEMA_VERSION}"));

        // A future migration that fails: refused, the catalog stays as it was, backup made.
        let mut broken = MIGRATIONS.to_vec();
        broken.push(Migration::sql("CREATE TABLE extra (x INTEGER); THIS IS NOT SQL;"));
        assert!(Catalog::open_with(&path, &broken, WhenEmpty::Initialize).is_err());
        assert_eq!(version(&path), SCHEMA_VERSION);
        assert!(backup.exists());
        std::fs::remove_file(&backup).unwrap();

        let mut next = MIGRATIONS.to_vec();
        next.push(Migration::sql("CREATE TABLE extra (x INTEGER);"));
        let cat = Catalog::open_with(&path, &next, WhenEmpty::Initialize).unwrap();
        assert_eq!(version(&path), SCHEMA_VERSION + 1);
        let rows: i64 =
            cat.conn().query_row("SELECT count(*) FROM photos", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1);
        // The backup is the catalog as it was before: old version, same rows, no new table.
        assert_eq!(version(&backup), SCHEMA_VERSION);
        let old = Connection::open(&backup).unwrap();
        let rows: i64 = old.query_row("SELECT count(*) FROM photos", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1);
        assert!(old.query_row("SELECT count(*) FROM extra", [], |r| r.get::<_, i64>(0)).is_err());
    }

    #[test]
    fn garbage_file_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let junk = vec![0x5au8; 8192];
        std::fs::write(&path, &junk).unwrap();
        let err = Catalog::open(&path).err().unwrap();
        assert!(matches!(err, CatalogError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), junk);
    }
}
