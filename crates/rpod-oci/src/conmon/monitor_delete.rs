//! The runtime's delete that rpod-monitor starts at a container's exit (`--delete-at-exit`,
//! for a container removed then): announced by `PERSIST/delete`, which the monitor holds
//! locked while the delete runs and into which it writes the delete's exit status before it
//! lets go. rpod-monitor's `delete.rs` is the other side (the name and the status's size
//! are in `rpod-monitor-protocol`).
//!
//! A removal need not wait for that delete: nothing of the removal depends on it. It links
//! the announcement into a directory of pending deletes under the container's ID and goes
//! on; the inode outlives the persist directory, the monitor still writes its status into
//! it. The next removal sweeps that directory: a delete that ended well is forgotten, one
//! whose monitor died or failed is done again by the caller. So a monitor killed during
//! its delete leaves the runtime's state behind only until the next removal.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::Duration;

use rustix::fs::FlockOperation;

pub use rpod_monitor_protocol::DELETE_ANNOUNCEMENT as DELETE;
use rpod_monitor_protocol::DELETE_STATUS_MAX;

/// The monitor's announcement in `persist`, when it began a delete.
pub fn announced(persist: &Path) -> Option<File> {
    File::open(persist.join(DELETE)).ok()
}

/// Where the monitor's delete stands, looked at without waiting.
#[derive(Debug)]
pub enum MonitorDelete {
    /// It ended; whether it deleted the container. No status (the monitor died, and its
    /// delete with it) or a failed one is `false`.
    Ended(bool),
    /// It still runs: the monitor holds the announcement.
    Running(File),
}

/// Look at the announced delete without waiting for it.
pub fn look(announcement: File) -> MonitorDelete {
    if rustix::fs::flock(&announcement, FlockOperation::NonBlockingLockShared).is_ok() {
        MonitorDelete::Ended(read_status(announcement))
    } else {
        MonitorDelete::Running(announcement)
    }
}

/// Wait, at most `limit`, for the announced delete to end; whether it deleted the container.
/// The status is read through the announcement's own descriptor: the caller's clean-up may
/// have removed the directory meanwhile.
pub fn deleted_by_monitor(announcement: File, limit: Duration) -> bool {
    let announcement = match look(announcement) {
        MonitorDelete::Ended(deleted) => return deleted,
        MonitorDelete::Running(announcement) => announcement,
    };
    let (ended, wait) = std::sync::mpsc::channel();
    // A blocking lock returns the moment the monitor lets go or dies. It is taken on a
    // thread so that a monitor that hangs is not waited for past `limit`; the thread then
    // ends with the process.
    std::thread::spawn(move || {
        let locked = rustix::io::retry_on_intr(|| {
            rustix::fs::flock(&announcement, FlockOperation::LockShared)
        });
        let _ = ended.send(locked.map(|()| announcement));
    });
    match wait.recv_timeout(limit) {
        Ok(Ok(announcement)) => read_status(announcement),
        _ => false,
    }
}

/// Whether the status the monitor wrote says its delete succeeded.
fn read_status(announcement: File) -> bool {
    // An exit status: a few bytes; more is not the monitor's.
    let mut status = String::new();
    announcement
        .take(DELETE_STATUS_MAX as u64)
        .read_to_string(&mut status)
        .is_ok()
        && status.trim() == "0"
}

/// Leave the delete announced in `persist` to the sweep of `pending`: a link to the
/// announcement named `id`, made before the caller removes `persist`.
pub fn leave_to_sweep(persist: &Path, pending: &Path, id: &str) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(pending)?;
    std::fs::hard_link(persist.join(DELETE), pending.join(id))
}

/// Go through the deletes left in `pending`: those still running stay; those that ended are
/// forgotten, after `delete(id)` for each that did not delete its container.
pub fn sweep(pending: &Path, mut delete: impl FnMut(&str)) {
    let Ok(entries) = std::fs::read_dir(pending) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        // Only rpod puts files here; anything else is left alone, and never handed to
        // the runtime as an argument.
        let Some(id) = name.to_str().filter(|id| is_container_id(id)) else {
            continue;
        };
        let path = entry.path();
        let Ok(announcement) = File::open(&path) else {
            continue;
        };
        match look(announcement) {
            MonitorDelete::Running(_) => continue,
            MonitorDelete::Ended(true) => {}
            MonitorDelete::Ended(false) => delete(id),
        }
        let _ = std::fs::remove_file(&path);
    }
}

/// A name the runtime takes as a container's ID, and nothing else (no option, no path).
fn is_container_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with(['-', '.'])
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn announce(persist: &Path) -> File {
        let file = File::create(persist.join(DELETE)).unwrap();
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).unwrap();
        file
    }

    #[test]
    fn the_monitors_status_decides_once_it_lets_go() {
        for (status, deleted) in [(Some("0"), true), (Some("1"), false), (None, false)] {
            let persist = tempfile::tempdir().unwrap();
            assert!(announced(persist.path()).is_none());
            let mut lock = announce(persist.path());
            let announcement = announced(persist.path()).unwrap();
            // The clean-up beside the delete removes the directory.
            std::fs::remove_dir_all(persist.path()).unwrap();
            let waiter = std::thread::spawn(move || {
                deleted_by_monitor(announcement, Duration::from_secs(60))
            });
            std::thread::sleep(Duration::from_millis(50));
            assert!(
                !waiter.is_finished(),
                "the waiter did not wait for the lock"
            );
            // The monitor writes the status while it holds the lock, then lets go.
            if let Some(status) = status {
                lock.write_all(status.as_bytes()).unwrap();
            }
            drop(lock);
            assert_eq!(waiter.join().unwrap(), deleted, "{status:?}");
        }
    }

    #[test]
    fn a_delete_that_ended_before_the_wait_is_read_at_once() {
        for (status, deleted) in [("0", true), ("137", false), ("0\nand more", false)] {
            let persist = tempfile::tempdir().unwrap();
            let mut lock = announce(persist.path());
            lock.write_all(status.as_bytes()).unwrap();
            drop(lock);
            let announcement = announced(persist.path()).unwrap();
            assert_eq!(
                deleted_by_monitor(announcement, Duration::ZERO),
                deleted,
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_monitor_that_hangs_is_waited_for_a_bounded_time() {
        let persist = tempfile::tempdir().unwrap();
        let mut lock = announce(persist.path());
        lock.write_all(b"0").unwrap();
        let announcement = announced(persist.path()).unwrap();
        assert!(!deleted_by_monitor(
            announcement,
            Duration::from_millis(100)
        ));
    }

    /// Sweep `pending`, returning the IDs handed to the delete.
    fn swept(pending: &Path) -> Vec<String> {
        let mut deleted = Vec::new();
        sweep(pending, |id| deleted.push(id.to_string()));
        deleted
    }

    #[test]
    fn a_delete_left_to_the_sweep_stays_while_it_runs_and_is_redone_only_when_it_failed() {
        for (status, redone) in [(Some("0"), false), (Some("1"), true), (None, true)] {
            let dir = tempfile::tempdir().unwrap();
            let persist = dir.path().join("persist");
            let pending = dir.path().join("deleting").join("crun");
            std::fs::create_dir(&persist).unwrap();
            let mut lock = announce(&persist);
            leave_to_sweep(&persist, &pending, "c0ffee").unwrap();
            // The removal goes on and takes the persist directory.
            std::fs::remove_dir_all(&persist).unwrap();
            assert!(swept(&pending).is_empty());
            assert!(pending.join("c0ffee").exists(), "a running delete stays");
            if let Some(status) = status {
                lock.write_all(status.as_bytes()).unwrap();
            }
            drop(lock);
            let expected: Vec<String> = if redone {
                vec!["c0ffee".into()]
            } else {
                vec![]
            };
            assert_eq!(swept(&pending), expected, "{status:?}");
            assert!(!pending.join("c0ffee").exists(), "{status:?}");
            assert!(swept(&pending).is_empty(), "forgotten once swept");
        }
    }

    #[test]
    fn the_sweep_hands_the_runtime_only_container_ids() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["-rf", ".hidden", "a b", "ok-1.x_Y"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(swept(dir.path()), ["ok-1.x_Y"]);
        for name in ["-rf", ".hidden", "a b"] {
            assert!(dir.path().join(name).exists(), "{name} left alone");
        }
        assert!(swept(&dir.path().join("none")).is_empty());
    }
}
