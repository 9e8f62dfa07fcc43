//! The directories of build cache mounts (`RUN --mount=type=cache`), kept between builds
//! under `<root>/build-cache`, one per cache ID. A step that uses one holds a lock on it
//! for as long as it runs: shared for `sharing=shared`, exclusive for `sharing=locked`.
//! A prune takes each directory's lock without waiting and removes only those it got, so
//! no step loses its cache directory while it runs.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use sha2::Digest;

use crate::{EngineError, Result};

/// A cache directory in use: its path, and the lock that keeps a prune away from it.
pub(crate) struct CacheDir {
    pub path: PathBuf,
    _lock: Flock<File>,
}

/// How a new cache directory is made.
pub(crate) struct NewDirMode {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The cache directory of `id` below `base`, made on first use as `new` says, locked
/// exclusively when `exclusive` (waiting for other steps that hold it) and shared
/// otherwise.
pub(crate) fn open(base: &Path, id: &str, new: &NewDirMode, exclusive: bool) -> Result<CacheDir> {
    crate::paths::create_private(base)
        .map_err(|e| EngineError::io("creating directory", base, e))?;
    // The ID is the user's text: hashed, it is one plain file name whatever it holds.
    let path = base.join(hex::encode(sha2::Sha256::digest(id.as_bytes())));
    loop {
        match fs::create_dir(&path) {
            Ok(()) => {
                fs::set_permissions(&path, fs::Permissions::from_mode(new.mode))
                    .map_err(|e| EngineError::io("setting the mode of", &path, e))?;
                std::os::unix::fs::chown(&path, Some(new.uid), Some(new.gid))
                    .map_err(|e| EngineError::io("setting the owner of", &path, e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(EngineError::io("creating directory", &path, e)),
        }
        let handle = File::open(&path).map_err(|e| EngineError::io("opening", &path, e))?;
        let how = if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        };
        let lock = Flock::lock(handle, how)
            .map_err(|(_, errno)| EngineError::io("locking", &path, errno.into()))?;
        // A prune may have removed the directory between the open and the lock: then the
        // lock is on a removed directory, and the step would use what nobody keeps. Make
        // it again.
        if still_there(&path, &lock) {
            return Ok(CacheDir { path, _lock: lock });
        }
    }
}

/// Whether `path` is still the directory `locked` was opened as.
fn still_there(path: &Path, locked: &File) -> bool {
    match (fs::symlink_metadata(path), locked.metadata()) {
        (Ok(now), Ok(held)) => now.dev() == held.dev() && now.ino() == held.ino(),
        _ => false,
    }
}

/// Remove every cache directory below `base` that no step holds: their names and the
/// bytes of the files they held.
pub(crate) fn prune(base: &Path) -> Result<(Vec<String>, u64)> {
    let entries = match fs::read_dir(base) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(EngineError::io("listing", base, e)),
    };
    let (mut removed, mut bytes) = (Vec::new(), 0u64);
    for entry in entries {
        let path = entry
            .map_err(|e| EngineError::io("listing", base, e))?
            .path();
        let Ok(handle) = File::open(&path) else {
            continue;
        };
        // Held by a running step (either way): it stays.
        let Ok(_lock) = Flock::lock(handle, FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        let size = crate::upper_diff::disk_usage(&path)
            .map_err(|e| EngineError::io("measuring", &path, e))?;
        fs::remove_dir_all(&path).map_err(|e| EngineError::io("removing", &path, e))?;
        bytes += size;
        removed.push(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    Ok((removed, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode() -> NewDirMode {
        NewDirMode {
            mode: 0o755,
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        }
    }

    /// A directory a step holds, shared or exclusive, survives a prune; one nobody holds
    /// goes, with the size of its files counted.
    #[test]
    fn a_prune_removes_only_the_directories_no_step_holds() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("build-cache");
        let shared = open(&base, "shared", &mode(), false).unwrap();
        let exclusive = open(&base, "locked", &mode(), true).unwrap();
        let idle = open(&base, "idle", &mode(), false).unwrap();
        fs::write(idle.path.join("file"), "12345").unwrap();
        let idle_path = idle.path.clone();
        drop(idle);

        let (removed, bytes) = prune(&base).unwrap();
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert_eq!(bytes, 5);
        assert!(!idle_path.exists());
        assert!(shared.path.is_dir() && exclusive.path.is_dir());

        drop((shared, exclusive));
        assert_eq!(prune(&base).unwrap().0.len(), 2);
        assert_eq!(prune(&base).unwrap().0.len(), 0);
    }

    /// Two steps may share a `sharing=shared` directory at once; the same ID is the same
    /// directory, made with the mode asked for.
    #[test]
    fn shared_users_share_one_directory() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("build-cache");
        let new = NewDirMode {
            mode: 0o700,
            ..mode()
        };
        let first = open(&base, "pip", &new, false).unwrap();
        let second = open(&base, "pip", &new, false).unwrap();
        assert_eq!(first.path, second.path);
        let mode = fs::metadata(&first.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    /// A lock on a directory removed since is known stale (what `open` checks after its
    /// lock, to make the directory again), and the next `open` makes it again.
    #[test]
    fn a_lock_on_a_removed_directory_is_known_stale() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("build-cache");
        let held = open(&base, "x", &mode(), false).unwrap();
        let path = held.path.clone();
        let stale = File::open(&path).unwrap();
        fs::remove_dir(&path).unwrap();
        assert!(!still_there(&path, &stale));
        drop(held);
        let again = open(&base, "x", &mode(), true).unwrap();
        assert!(again.path.is_dir());
        assert!(still_there(&again.path, &File::open(&again.path).unwrap()));
    }

    /// A step waiting for a directory that a prune holds and removes gets a new directory
    /// when the prune lets go, not the removed one: `open` looks again after its lock.
    #[test]
    fn a_step_waiting_through_a_prune_gets_a_new_directory() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("build-cache");
        let path = open(&base, "x", &mode(), false).unwrap().path;
        let old_inode = fs::metadata(&path).unwrap().ino();
        // The prune's hold on the directory.
        let pruning = Flock::lock(File::open(&path).unwrap(), FlockArg::LockExclusive).unwrap();
        let waiting = {
            let base = base.clone();
            std::thread::spawn(move || open(&base, "x", &mode(), true).unwrap())
        };
        // The step is waiting once the kernel lists its lock as blocked on the directory.
        let blocked = format!(":{old_inode} ");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .any(|line| line.contains("->") && line.contains(&blocked))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the step never waited"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        fs::remove_dir(&path).unwrap();
        drop(pruning);
        let got = waiting.join().unwrap();
        assert_eq!(got.path, path);
        let now = fs::metadata(&got.path).unwrap();
        assert!(now.is_dir());
        assert!(still_there(&got.path, &File::open(&got.path).unwrap()));
        // A directory made again (the removed one's inode may be reused, so the lock's
        // file is what tells): the step's lock is on the directory that is there.
        assert!(still_there(&got.path, &got._lock));
    }
}
