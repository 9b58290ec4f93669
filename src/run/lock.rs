//! One writer per output folder, and temporary files that never collide.
//!
//! A run, sweep, resume or merge takes the folder's [`FolderLock`] before it writes there: a
//! file [`LOCK_FILE`] holding the writer's process id, made with an exclusive create, so a
//! second writer on the same folder is refused ([`RunError::Locked`], exit status 2) instead
//! of mixing its files with the first one's. Dropping the lock removes the file, so a
//! finished folder holds no lock.
//!
//! ```text
//!  acquire ──create_new──► held ──drop──► (no lock file)
//!     │ exists
//!     ├─ holder alive (/proc/<pid>) ──► refused: names the folder and the pid
//!     └─ holder dead ──► take over: remove its temporary files, then create_new again
//! ```
//!
//! Every file is written to a temporary file of its own ([`temp_path`]:
//! `.<name>.<pid>-<counter>.tmp` beside it) and renamed into place, so two writers (or two
//! threads of one) never write the same temporary file, and a writer that died leaves
//! temporary files that the next one recognises by the pid and removes.
//!
//! Liveness is judged by `/proc/<pid>`; where there is no `/proc`, a lock is taken to be held
//! (the message says which file to remove). A pid reused by an unrelated process keeps a
//! stale lock held in the same way.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::RunError;

/// The lock file's name inside a locked folder.
pub const LOCK_FILE: &str = ".secsim.lock";

/// How many times [`FolderLock::acquire`] tries to create the lock after taking over stale
/// ones (each round removes one stale lock; more means other writers keep racing for it).
const ATTEMPTS: usize = 8;

/// Temporary files made by this process so far (part of their names).
static TEMP_FILES: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary path beside `path` for writing it atomically:
/// `.<file name>.<pid>-<counter>.tmp` in the same folder (so the rename stays in one file
/// system), unique within the process and across live processes.
pub fn temp_path(path: &Path) -> PathBuf {
    let n = TEMP_FILES.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// The pid in a temporary file's name made by [`temp_path`], if it is one.
fn temp_pid(name: &str) -> Option<u32> {
    let stem = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, tail) = stem.rsplit_once('.')?;
    let (pid, counter) = tail.split_once('-')?;
    if counter.is_empty() || !counter.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` is alive; without `/proc`, assumed so.
fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// The pid a lock file names, if it names one.
fn holder(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Removes the temporary files of process `pid` in `dir` and its subfolders (a sweep's
/// `points/pNNNNN`), at most `depth` levels down.
fn remove_temp_files(dir: &Path, pid: u32, depth: usize) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        let path = e.path();
        if kind.is_dir() && depth > 0 {
            remove_temp_files(&path, pid, depth - 1);
        } else if kind.is_file() && e.file_name().to_str().and_then(temp_pid) == Some(pid) {
            let _ = fs::remove_file(&path);
        }
    }
}

/// The exclusive right to write one output folder, held until dropped.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    pid: u32,
}

impl FolderLock {
    /// Locks `dir` (which must exist) for this process. Refused with [`RunError::Locked`] if
    /// a live process holds it; a lock left by a dead process is taken over, and that
    /// process's temporary files in the folder are removed.
    pub fn acquire(dir: &Path) -> Result<FolderLock, RunError> {
        let path = dir.join(LOCK_FILE);
        let pid = std::process::id();
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |error| RunError::Io { path: p, error }
        };
        for _ in 0..ATTEMPTS {
            // The pid is written to a temporary file first and linked into place, so the lock
            // file never exists without its pid (a link fails if the lock exists).
            let tmp = temp_path(&path);
            let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
            let written = writeln!(f, "{pid}").and_then(|_| f.sync_all());
            drop(f);
            let linked = written.and_then(|_| match fs::hard_link(&tmp, &path) {
                // A file system without hard links: an exclusive create, then the pid.
                Err(e) if e.kind() == std::io::ErrorKind::Unsupported => fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .and_then(|mut f| writeln!(f, "{pid}")),
                linked => linked,
            });
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => return Ok(FolderLock { path, pid }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(&path)(e)),
            }
            match holder(&path) {
                Some(other) if alive(other) => {
                    return Err(RunError::Locked {
                        dir: dir.display().to_string(),
                        pid: other,
                    });
                }
                _ => Self::take_over(dir, &path)?,
            }
        }
        Err(RunError::Io {
            path: path.display().to_string(),
            error: std::io::Error::other(format!(
                "could not take the lock after {ATTEMPTS} attempts (other writers keep taking it)"
            )),
        })
    }

    /// Moves a stale lock aside, checks that it is still the dead writer's (another writer
    /// may have replaced it meanwhile), and removes it and that writer's temporary files.
    fn take_over(dir: &Path, path: &Path) -> Result<(), RunError> {
        let aside = temp_path(path);
        match fs::rename(path, &aside) {
            Ok(()) => {}
            // Someone else moved or removed it first: try again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                return Err(RunError::Io {
                    path: path.display().to_string(),
                    error,
                });
            }
        }
        match holder(&aside) {
            Some(other) if alive(other) => {
                // A live writer's lock, taken between the check and the move: put it back
                // (unless yet another lock is there now) and give up.
                let _ = fs::hard_link(&aside, path);
                let _ = fs::remove_file(&aside);
                Err(RunError::Locked {
                    dir: dir.display().to_string(),
                    pid: other,
                })
            }
            dead => {
                let _ = fs::remove_file(&aside);
                if let Some(pid) = dead {
                    remove_temp_files(dir, pid, 2);
                }
                Ok(())
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Only our own lock: should another writer have taken it over, it is theirs.
        if holder(&self.path) == Some(self.pid) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("secsim-lock-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn temp_paths_are_unique_and_name_the_pid() {
        let p = Path::new("/x/records.csv");
        let (a, b) = (temp_path(p), temp_path(p));
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(".records.csv.") && name.ends_with(".tmp"), "{name}");
        assert_eq!(temp_pid(name), Some(std::process::id()));
        assert_eq!(temp_pid("records.csv.tmp"), None);
        assert_eq!(temp_pid(".a.b.12-x.tmp"), None);
        assert_eq!(temp_pid(".a.12-3.tmp"), Some(12));
    }

    #[test]
    fn held_lock_refuses_a_second_writer_and_drop_removes_it() {
        let d = scratch("held");
        let lock = FolderLock::acquire(&d).unwrap();
        assert_eq!(holder(lock.path()), Some(std::process::id()));
        match FolderLock::acquire(&d) {
            Err(RunError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("{other:?}"),
        }
        drop(lock);
        assert!(!d.join(LOCK_FILE).exists());
        drop(FolderLock::acquire(&d).unwrap());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn stale_lock_is_taken_over_with_its_temporary_files() {
        let d = scratch("stale");
        // A pid above the kernel's limit (2^22) is never alive.
        let dead = 4_194_400u32;
        fs::write(d.join(LOCK_FILE), format!("{dead}\n")).unwrap();
        fs::create_dir_all(d.join("points/p00000")).unwrap();
        let theirs = d.join(format!("points/p00000/.point.json.{dead}-3.tmp"));
        let other = d.join(".records.csv.1-0.tmp");
        fs::write(&theirs, "half").unwrap();
        fs::write(&other, "another writer's").unwrap();
        let lock = FolderLock::acquire(&d).unwrap();
        assert_eq!(holder(lock.path()), Some(std::process::id()));
        assert!(!theirs.exists());
        assert!(other.exists());
        drop(lock);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn garbage_lock_is_taken_over() {
        let d = scratch("garbage");
        fs::write(d.join(LOCK_FILE), "not a pid").unwrap();
        drop(FolderLock::acquire(&d).unwrap());
        assert!(!d.join(LOCK_FILE).exists());
        let _ = fs::remove_dir_all(&d);
    }
}
