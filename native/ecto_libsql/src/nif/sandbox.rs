//! Private copies of a local database, for tests that run in parallel.
//!
//! A sandboxed test does not need a transaction on the shared test file; it
//! needs a database of its own that starts as the shared one. The source
//! database keeps one *template*: a `VACUUM INTO` snapshot, taken again only
//! when the source has changed since (a migration, an unsandboxed write).
//! Each copy is a file copy of the template, owned by the copy's database
//! handle: removed when the sandbox discards it at checkin, or at the latest
//! when that handle is dropped, however its owner ends.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::runtime::{block_on, Driver};

/// SQLITE_IOERR: a copy that cannot be written is an I/O failure.
const IOERR: i32 = 10;

static FILES: AtomicU64 = AtomicU64::new(0);

/// A file this library made, removed (with its journal, WAL and shared
/// memory files) when dropped.
#[derive(Debug)]
pub struct OwnedFile(PathBuf);

impl OwnedFile {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for OwnedFile {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            // Already gone is fine; anything else is left for the OS's
            // temporary-file cleanup: a destructor has no one to tell.
            let _ = std::fs::remove_file(name);
        }
    }
}

/// The snapshot copies are made from, and how to tell it is stale.
pub struct Template {
    /// A connection of the source's own, so that `PRAGMA data_version`
    /// (which counts other connections' commits) is comparable over time.
    keeper: libsql::Connection,
    version: i64,
    file: Arc<OwnedFile>,
}

/// Where templates and copies live: a RAM-backed directory when the system
/// has one (a copy is then a memory copy), else the temporary directory.
/// Files, not a directory of them: nothing is left once they are dropped.
fn new_path(kind: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let writable = std::fs::metadata(shm)
        .map(|m| m.is_dir() && !m.permissions().readonly())
        .unwrap_or(false);
    let dir = if writable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    SWEEP.call_once(|| sweep(&dir));
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("ecto_libsql-{}-{kind}-{n}.db", std::process::id()))
}

static SWEEP: std::sync::Once = std::sync::Once::new();

/// Removes what VMs that are gone left behind: a VM halts without dropping
/// its resources, so a pool's template (and any copy still open) outlives
/// it. A file's owner is the OS process named in it; only where `/proc`
/// says which processes exist.
fn sweep(dir: &Path) {
    let proc = Path::new("/proc");
    let (true, Ok(entries)) = (proc.join("self").exists(), std::fs::read_dir(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("ecto_libsql-"))
            .and_then(|rest| rest.split('-').next())
            .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if !proc.join(pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn io(what: &str, path: &Path, err: std::io::Error) -> Error {
    Error::Sqlite {
        extended_code: Some(IOERR),
        message: format!("{what} ({}): {err}", path.display()),
    }
}

async fn data_version(conn: &libsql::Connection) -> std::result::Result<i64, libsql::Error> {
    let mut rows = conn.query("PRAGMA data_version", ()).await?;
    match rows.next().await? {
        Some(row) => row.get::<i64>(0),
        None => Ok(0),
    }
}

/// The operating system's own VFS, named in the snapshot's URI: `VACUUM
/// INTO` would otherwise write through the source's VFS, which for a
/// `:memory:` database is memdb (a template that never reaches the disk).
#[cfg(unix)]
const DISK_VFS: &str = "unix";
#[cfg(windows)]
const DISK_VFS: &str = "win32";

/// `path` as an SQLite URI filename on the disk VFS.
fn disk_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
            c => uri.push(c),
        }
    }
    format!("{uri}?vfs={DISK_VFS}")
}

/// Takes a new snapshot of `db` through `keeper`.
fn snapshot(keeper: libsql::Connection) -> Result<Template> {
    let path = new_path("template");
    let target = disk_uri(&path);
    let version = block_on(Driver::Inline, async {
        let version = data_version(&keeper).await?;
        keeper.execute("VACUUM INTO ?1", [target]).await?;
        Ok::<_, libsql::Error>(version)
    })??;
    Ok(Template {
        keeper,
        version,
        file: Arc::new(OwnedFile(path)),
    })
}

/// The current template of `db`, taken again if the source changed since.
fn current(db: &libsql::Database, slot: &Mutex<Option<Template>>) -> Result<Arc<OwnedFile>> {
    let mut slot = slot.lock().map_err(|_| {
        Error::misuse("the sandbox template lock was poisoned by an earlier failure")
    })?;
    let fresh = match slot.take() {
        Some(template) => {
            let now = block_on(Driver::Inline, data_version(&template.keeper))??;
            if now == template.version {
                template
            } else {
                // The stale file goes when the last copy being made from
                // it is done (the Arc), not under a copier's feet.
                snapshot(template.keeper)?
            }
        }
        None => {
            let keeper = db.connect()?;
            // Snapshots read while the pool writes: wait out a lock, as the
            // pool's own connections do.
            keeper.busy_timeout(crate::nif::database::INIT_BUSY_TIMEOUT)?;
            snapshot(keeper)?
        }
    };
    let file = fresh.file.clone();
    *slot = Some(fresh);
    Ok(file)
}

/// A new private copy of `db`'s current contents, as a file owned by the
/// caller.
pub fn copy(db: &libsql::Database, slot: &Mutex<Option<Template>>) -> Result<OwnedFile> {
    let template = current(db, slot)?;
    let path = new_path("copy");
    // Owned before it exists: a failed copy leaves nothing behind.
    let copy = OwnedFile(path);
    std::fs::copy(template.path(), copy.path())
        .map_err(|e| io("cannot copy the sandbox template", copy.path(), e))?;
    Ok(copy)
}
