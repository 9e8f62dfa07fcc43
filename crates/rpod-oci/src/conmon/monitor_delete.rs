//! The runtime's delete that rpod-monitor starts at a container's exit (`--delete-at-exit`,
//! for a container removed then): announced by `PERSIST/delete`, which the monitor holds
//! locked while the delete runs and into which it writes the delete's exit status before it
//! lets go. rpod-monitor's `delete.rs` is the other side (the name and the status's size
//! are in `rpod-monitor-protocol`).

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rustix::fs::FlockOperation;

pub use rpod_monitor_protocol::DELETE_ANNOUNCEMENT as DELETE;
use rpod_monitor_protocol::DELETE_STATUS_MAX;

/// The monitor's announcement in `persist`, when it began a delete.
pub fn announced(persist: &Path) -> Option<File> {
    File::open(persist.join(DELETE)).ok()
}

/// Wait, at most `limit`, for the announced delete to end; whether it deleted the container.
/// No status (the monitor died, and its delete with it) or a failed one is `false`. The
/// status is read through the announcement's own descriptor: the caller's clean-up may have
/// removed the directory meanwhile.
pub fn deleted_by_monitor(announcement: File, limit: Duration) -> bool {
    let ended = if rustix::fs::flock(&announcement, FlockOperation::NonBlockingLockShared).is_ok() {
        // The delete ended before the caller came to wait for it: no thread needed.
        announcement
    } else {
        let (ended, wait) = std::sync::mpsc::channel();
        // A blocking lock returns the moment the monitor lets go or dies. It is taken on a
        // thread so that a monitor that hangs is not waited for past `limit`; the thread
        // then ends with the process.
        std::thread::spawn(move || {
            let locked = rustix::io::retry_on_intr(|| {
                rustix::fs::flock(&announcement, FlockOperation::LockShared)
            });
            let _ = ended.send(locked.map(|()| announcement));
        });
        let Ok(Ok(announcement)) = wait.recv_timeout(limit) else {
            return false;
        };
        announcement
    };
    // An exit status: a few bytes; more is not the monitor's.
    let mut status = String::new();
    ended
        .take(DELETE_STATUS_MAX as u64)
        .read_to_string(&mut status)
        .is_ok()
        && status.trim() == "0"
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
}
