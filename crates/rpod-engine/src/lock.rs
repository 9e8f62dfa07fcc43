//! Per-container locks: an exclusive `flock` on a file under the run root. No fixed-size lock
//! table, so the number of containers is unbounded, and a lock held by a process that dies
//! is released by the kernel.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::{EngineError, Result};

/// Holds the lock until dropped.
pub struct ContainerLock {
    _lock: Flock<File>,
}

impl ContainerLock {
    pub fn acquire(lock_dir: &Path, id: &str) -> Result<Self> {
        std::fs::create_dir_all(lock_dir)
            .map_err(|e| EngineError::io("creating lock directory", lock_dir, e))?;
        let path = lock_dir.join(format!("{id}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| EngineError::io("opening lock file", &path, e))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| EngineError::io("locking", &path, std::io::Error::from(errno)))?;
        Ok(ContainerLock { _lock: lock })
    }

    /// Remove the lock file of a container that no longer exists.
    pub fn remove_file(lock_dir: &Path, id: &str) {
        let _ = std::fs::remove_file(lock_dir.join(format!("{id}.lock")));
    }
}
