//! The exit command's handover (`--exit-command-handover FILE`, rpod's own option).
//!
//! The exit command (`rpod container cleanup ID`) records the exit and cleans up after the
//! container. When somebody was waiting for the exit (an attached `rpod run`, `rpod wait`,
//! an API wait), that waiter does the same work at once, and the exit command is a second
//! rpod process that only contends with it for the container's lock. A waiter holds FILE
//! locked (shared) while it waits and handles the exit, and writes `handled` into it once it
//! has. After writing the exit file the monitor takes FILE's lock exclusively, which waits
//! for those waiters, and runs the exit command only when none wrote `handled`. A waiter
//! that dies releases its lock without writing, so the exit command runs: no exit goes
//! unhandled. The waiters' side is rpod-oci's `exitfile::ExitHandover`.

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a waiter writes once it has handled the exit.
pub use rpod_monitor_protocol::HANDOVER_HANDLED as HANDLED;

/// How long the monitor waits for the waiters before running the exit command anyway. A
/// waiter handles an exit in milliseconds; one that takes longer may be stuck (stopped, or
/// blocked writing to a terminal nobody reads), and the command is harmless beside it.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Whether a waiter handled the exit, so that the exit command is not needed.
pub fn handled_by_waiter(path: &Path, patience: Duration) -> bool {
    let file = match File::options().read(true).write(true).open(path) {
        Ok(file) => file,
        // No waiter ever came, or the container was removed (its directory went with it,
        // and the removal cleaned up already).
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return path.parent().is_some_and(|dir| !dir.exists());
        }
        Err(_) => return false,
    };
    if !lock_exclusive(&file, patience) {
        return false;
    }
    let mut content = [0u8; 16];
    let handled = file
        .read_at(&mut content, 0)
        .is_ok_and(|n| &content[..n] == HANDLED);
    // Removed while we waited (`--rm`): the remover cleaned up.
    let removed = file.metadata().is_ok_and(|m| m.nlink() == 0);
    handled || removed
}

/// Take the lock exclusively, waiting at most `patience` for its holders.
fn lock_exclusive(file: &File, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    let mut pause = Duration::from_micros(500);
    loop {
        // SAFETY: flock on a descriptor this function borrows.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_lock(path: &Path) -> File {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .unwrap();
        // SAFETY: flock on a descriptor owned by the test.
        assert_eq!(
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) },
            0
        );
        file
    }

    /// The monitor's decision about `path`, taken on a thread (it waits for the waiters).
    fn deciding(path: &Path) -> std::thread::JoinHandle<bool> {
        let path = path.to_path_buf();
        std::thread::spawn(move || handled_by_waiter(&path, PATIENCE))
    }

    #[test]
    fn no_waiter_means_the_exit_command_runs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!handled_by_waiter(&dir.path().join("waiters"), PATIENCE));
        // A waiter that went away without handling the exit.
        drop(shared_lock(&dir.path().join("waiters")));
        assert!(!handled_by_waiter(&dir.path().join("waiters"), PATIENCE));
    }

    #[test]
    fn a_waiter_that_handled_the_exit_spares_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("waiters");
        let waiter = shared_lock(&path);
        let monitor = deciding(&path);
        // The monitor waits for the waiter's lock.
        std::thread::sleep(Duration::from_millis(50));
        assert!(!monitor.is_finished());
        waiter.write_all_at(HANDLED, 0).unwrap();
        drop(waiter);
        assert!(monitor.join().unwrap());
    }

    #[test]
    fn a_waiter_that_dies_without_handling_leaves_it_to_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("waiters");
        let waiter = shared_lock(&path);
        let monitor = deciding(&path);
        std::thread::sleep(Duration::from_millis(20));
        drop(waiter);
        assert!(!monitor.join().unwrap());
    }

    #[test]
    fn a_removed_container_needs_no_command() {
        let dir = tempfile::tempdir().unwrap();
        let persist = dir.path().join("persist");
        std::fs::create_dir(&persist).unwrap();
        let path = persist.join("waiters");
        let waiter = shared_lock(&path);
        let monitor = deciding(&path);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::remove_dir_all(&persist).unwrap();
        drop(waiter);
        assert!(monitor.join().unwrap());
        // Removed before the monitor looked.
        assert!(handled_by_waiter(&path, PATIENCE));
    }

    #[test]
    fn a_waiter_that_never_finishes_is_waited_for_a_bounded_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("waiters");
        let waiter = shared_lock(&path);
        waiter.write_all_at(HANDLED, 0).unwrap();
        let started = Instant::now();
        assert!(!handled_by_waiter(&path, Duration::from_millis(100)));
        assert!(started.elapsed() >= Duration::from_millis(100));
    }
}
