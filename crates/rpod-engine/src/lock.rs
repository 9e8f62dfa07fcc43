//! Per-container locks: an exclusive `flock` on a file under the run root. No fixed-size lock
//! table, so the number of containers is unbounded, and a lock held by a process that dies
//! is released by the kernel.
//!
//! A lock file goes with its container: whoever holds the lock when the container is gone
//! removes the file. That is safe against processes waiting for the same lock because a
//! waiter checks, once it holds the `flock`, that the file it locked is still the one at the
//! path; if it was removed meanwhile, it locks the path afresh.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::{EngineError, Result};

/// Holds the lock until dropped.
pub struct ContainerLock {
    lock: Option<Flock<File>>,
    path: PathBuf,
    /// The container's directory: when it no longer exists, the container is gone.
    container_dir: PathBuf,
}

impl ContainerLock {
    pub fn acquire(lock_dir: &Path, id: &str, container_dir: &Path) -> Result<Self> {
        loop {
            match Self::lock_once(lock_dir, id, container_dir, FlockArg::LockExclusive)? {
                Attempt::Held(lock) => return Ok(lock),
                // Removed (and perhaps made anew) while we waited: lock the path again.
                Attempt::Replaced | Attempt::Busy => {}
            }
        }
    }

    /// The lock shared with other such holders, exclusive of `acquire`'s: for what only
    /// must not change while held (the networks a container being made names).
    pub fn acquire_shared(lock_dir: &Path, id: &str, container_dir: &Path) -> Result<Self> {
        loop {
            match Self::lock_once(lock_dir, id, container_dir, FlockArg::LockShared)? {
                Attempt::Held(lock) => return Ok(lock),
                Attempt::Replaced | Attempt::Busy => {}
            }
        }
    }

    /// The lock if no one holds it now (`None` when someone does, or when its file went
    /// with its container meanwhile).
    pub fn try_acquire(lock_dir: &Path, id: &str, container_dir: &Path) -> Result<Option<Self>> {
        match Self::lock_once(lock_dir, id, container_dir, FlockArg::LockExclusiveNonblock)? {
            Attempt::Held(lock) => Ok(Some(lock)),
            Attempt::Replaced | Attempt::Busy => Ok(None),
        }
    }

    /// Open the lock file and `flock` it as `how` says, checking that the file locked is
    /// still the one at the path.
    fn lock_once(
        lock_dir: &Path,
        id: &str,
        container_dir: &Path,
        how: FlockArg,
    ) -> Result<Attempt> {
        std::fs::create_dir_all(lock_dir)
            .map_err(|e| EngineError::io("creating lock directory", lock_dir, e))?;
        let path = lock_dir.join(format!("{id}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| EngineError::io("opening lock file", &path, e))?;
        let lock = match Flock::lock(file, how) {
            Ok(lock) => lock,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(Attempt::Busy),
            Err((_, errno)) => {
                return Err(EngineError::io(
                    "locking",
                    &path,
                    std::io::Error::from(errno),
                ))
            }
        };
        let held = lock
            .metadata()
            .map_err(|e| EngineError::io("inspecting lock file", &path, e))?;
        let current = std::fs::metadata(&path).ok();
        if !current.is_some_and(|c| c.ino() == held.ino() && c.dev() == held.dev()) {
            return Ok(Attempt::Replaced);
        }
        Ok(Attempt::Held(ContainerLock {
            lock: Some(lock),
            path,
            container_dir: container_dir.to_path_buf(),
        }))
    }
}

/// What one try to lock gave.
enum Attempt {
    Held(ContainerLock),
    /// Someone holds it (only for a try that does not wait).
    Busy,
    /// The file locked was removed meanwhile (its container went).
    Replaced,
}

impl Drop for ContainerLock {
    fn drop(&mut self) {
        if !self.container_dir.exists() {
            // Still holding the lock: no one else can be using this file.
            let _ = std::fs::remove_file(&self.path);
        }
        drop(self.lock.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn shared_holders_keep_the_lock_from_an_exclusive_one() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        let first = ContainerLock::acquire_shared(&locks, "n", dir.path()).unwrap();
        let second = ContainerLock::acquire_shared(&locks, "n", dir.path()).unwrap();
        assert!(ContainerLock::try_acquire(&locks, "n", dir.path())
            .unwrap()
            .is_none());
        drop(first);
        assert!(ContainerLock::try_acquire(&locks, "n", dir.path())
            .unwrap()
            .is_none());
        drop(second);
        assert!(ContainerLock::try_acquire(&locks, "n", dir.path())
            .unwrap()
            .is_some());
    }

    #[test]
    fn lock_files_go_with_their_container_and_waiters_relock() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        let container = dir.path().join("c");
        std::fs::create_dir(&container).unwrap();
        let first = ContainerLock::acquire(&locks, "c", &container).unwrap();
        // Held: a try finds it taken.
        assert!(ContainerLock::try_acquire(&locks, "c", &container)
            .unwrap()
            .is_none());
        let barrier = Arc::new(Barrier::new(2));
        let waiter = {
            let (locks, container, barrier) = (locks.clone(), container.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                // Blocks until `first` is dropped, then finds its file removed and relocks.
                let lock = ContainerLock::acquire(&locks, "c", &container).unwrap();
                assert!(
                    locks.join("c.lock").exists(),
                    "the waiter holds a lock file"
                );
                drop(lock);
            })
        };
        barrier.wait();
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::remove_dir(&container).unwrap();
        drop(first);
        waiter.join().unwrap();
        assert!(
            !locks.join("c.lock").exists(),
            "the lock file of a removed container stayed"
        );
        // A container that exists keeps its lock file.
        std::fs::create_dir(&container).unwrap();
        drop(ContainerLock::acquire(&locks, "c", &container).unwrap());
        assert!(locks.join("c.lock").exists());
    }
}
