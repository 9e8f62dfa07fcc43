//! The delete at the exit (`--delete-at-exit`, rpod-monitor's own option).
//!
//! A container removed at its exit (`--rm`) is deleted from the runtime: a run of the
//! runtime's `delete --force`, two executions of crun or runc. The caller learns of the exit
//! from the exit file and would start that delete a millisecond or two later, then wait for
//! it; the monitor starts it the moment the container exited, so it runs beside the caller's
//! own clean-up.
//!
//! Before it writes the exit file, the monitor creates `PERSIST/delete`, empty, and holds it
//! locked (exclusively) while the delete runs; then it writes the delete's exit status into
//! it and lets the lock go. A caller that finds the file opens it and takes its lock
//! (shared), which waits for the delete, and reads it through its own descriptor (so it does
//! not matter that the caller's clean-up may have removed the directory meanwhile): `0`
//! means the container is deleted; another status, or nothing (the monitor died, and its
//! delete with it), means the caller deletes it itself. rpod-oci's `ConmonRuntime` is that
//! caller; a removal does not wait but links the file into a directory of pending deletes
//! that the next removal sweeps (rpod-oci's `monitor_delete.rs`). A monitor that cannot
//! create the file (the container's directory is gone) deletes nothing and leaves it to
//! the caller.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Empty and locked while the monitor's delete runs; its exit status after.
pub use rpod_monitor_protocol::DELETE_ANNOUNCEMENT as DELETE;

/// Announce the delete in `persist`: its file, empty and locked. `None` when that fails.
pub fn announce(persist: &Path) -> Option<File> {
    let file = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(persist.join(DELETE))
        .ok()?;
    // SAFETY: flock on a descriptor this function owns. Nobody else takes this lock
    // exclusively, and a caller's shared lock comes after this: it does not wait.
    (unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0).then_some(file)
}

/// Record the delete's `status` in the announcement and let the waiting callers go.
pub fn record(announcement: File, status: i32) {
    let _ = announcement.write_all_at(status.to_string().as_bytes(), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_shared(file: &File) -> bool {
        // SAFETY: flock on a descriptor the test owns.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) == 0 }
    }

    #[test]
    fn the_announcement_is_locked_until_the_status_is_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock = announce(dir.path()).unwrap();
        let caller = File::open(dir.path().join(DELETE)).unwrap();
        assert!(
            !try_shared(&caller),
            "a caller would not wait for the delete"
        );
        // The caller's clean-up may remove the directory meanwhile.
        std::fs::remove_dir_all(dir.path()).unwrap();
        record(lock, 0);
        assert!(try_shared(&caller));
        let mut status = String::new();
        std::io::Read::read_to_string(&mut &caller, &mut status).unwrap();
        assert_eq!(status, "0");
    }

    #[test]
    fn no_directory_no_announcement() {
        let dir = tempfile::tempdir().unwrap();
        assert!(announce(&dir.path().join("gone")).is_none());
    }
}
