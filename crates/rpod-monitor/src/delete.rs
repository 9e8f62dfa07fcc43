//! The delete at the exit (`--delete-at-exit`, rpod-monitor's own option).
//!
//! A container removed at its exit (`--rm`) is deleted from the runtime: a run of the
//! runtime's `delete --force`, two executions of crun or runc. The caller learns of the exit
//! from the exit file and would start that delete a millisecond or two later, then wait for
//! it; the monitor starts it the moment the container exited, so it runs beside the caller's
//! own clean-up.
//!
//! Before it writes the exit file, the monitor creates `PERSIST/deleting` and holds it
//! locked (exclusively) while the delete runs; then it writes the delete's status to
//! `PERSIST/deleted` and lets the lock go. A caller that finds `deleting` takes its lock
//! (shared), which waits for the delete, and reads `deleted`: 0 means the container is
//! deleted; another status, or no file (the monitor died and its delete with it), means the
//! caller deletes it itself. rpod-oci's `ConmonRuntime::begin_delete_container` is that
//! caller. A monitor that cannot create `deleting` (the container's directory is gone)
//! deletes nothing and leaves it to the caller.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Created and locked while the monitor's delete runs.
pub const DELETING: &str = "deleting";
/// The delete's exit status, written when it ended.
pub const DELETED: &str = "deleted";

/// Announce the delete in `persist`: its `deleting` file, locked. `None` when that fails.
pub fn announce(persist: &Path) -> Option<File> {
    let file = File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(persist.join(DELETING))
        .ok()?;
    // SAFETY: flock on a descriptor this function owns. Nobody else takes this lock
    // exclusively, and callers take it only once the file exists: this does not wait.
    (unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0).then_some(file)
}

/// Record the delete's `status` and let the waiting callers go (the lock goes with `lock`).
pub fn record(persist: &Path, lock: File, status: i32) {
    let _ = crate::monitor::write_atomically(&persist.join(DELETED), status.to_string().as_bytes());
    drop(lock);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_shared(path: &Path) -> bool {
        let file = File::open(path).unwrap();
        // SAFETY: flock on a descriptor the test owns.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) == 0 }
    }

    #[test]
    fn the_announcement_is_locked_until_the_status_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let lock = announce(dir.path()).unwrap();
        let deleting = dir.path().join(DELETING);
        assert!(
            !try_shared(&deleting),
            "a caller would not wait for the delete"
        );
        assert!(!dir.path().join(DELETED).exists());
        record(dir.path(), lock, 0);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(DELETED)).unwrap(),
            "0"
        );
        assert!(try_shared(&deleting));
    }

    #[test]
    fn no_directory_no_announcement() {
        let dir = tempfile::tempdir().unwrap();
        assert!(announce(&dir.path().join("gone")).is_none());
    }
}
