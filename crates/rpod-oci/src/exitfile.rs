//! Exit files written by the monitor: `<exit dir>/<container id>` holding the decimal exit
//! status without a newline.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::{OciError, Result};

/// How often the exit file is looked for while waiting.
const EXIT_FILE_POLL: Duration = Duration::from_millis(5);

/// An exit file's content and the time it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitRecord {
    pub code: i32,
    pub finished: SystemTime,
}

/// Read an exit file if it exists.
pub fn read_exit_file(path: &Path) -> Result<Option<ExitRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(OciError::io("reading exit file", path, e)),
    };
    let code = text.trim().parse::<i32>().map_err(|e| {
        OciError::InvalidArg(format!(
            "exit file {} holds {text:?}, not an exit code ({e})",
            path.display()
        ))
    })?;
    let finished = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| SystemTime::now());
    Ok(Some(ExitRecord { code, finished }))
}

/// Wait for an exit file to appear, for at most `timeout`, giving up early when `give_up`
/// says so (e.g. the monitor died and will never write it). The exit directory is watched
/// with inotify (after a few quick looks), so the file is seen the moment the monitor
/// renames it into place; `give_up` is asked between events. Without inotify (the
/// directory is missing, or no watch can be had) the file is looked for every few
/// milliseconds.
pub fn wait_exit_file(
    path: &Path,
    timeout: Duration,
    mut give_up: impl FnMut() -> bool,
) -> Result<Option<ExitRecord>> {
    let deadline = Instant::now() + timeout;
    // The file usually comes within milliseconds of the moment a waiter starts looking (an
    // attach that ended, a stop's signal), and closing an inotify instance that held a
    // watch waits for the kernel's RCU grace period: 10-20 ms here, longer than such a
    // wait. So look a few times before watching.
    let mut quick_looks = 0;
    let mut watch: Option<Option<Inotify>> = None;
    loop {
        if let Some(record) = read_exit_file(path)? {
            return Ok(Some(record));
        }
        if give_up() {
            // One last look: the writer may have finished just before it went away.
            return read_exit_file(path);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        if quick_looks < QUICK_LOOKS {
            quick_looks += 1;
            std::thread::sleep(left.min(QUICK_LOOK_INTERVAL));
            continue;
        }
        match &watch {
            // Watch from now on, and look once more first: the file may have come just
            // before the watch.
            None => watch = Some(path.parent().and_then(watch_directory)),
            Some(Some(inotify)) => wait_for_event(inotify, left.min(GIVE_UP_CHECK)),
            Some(None) => std::thread::sleep(EXIT_FILE_POLL),
        }
    }
}

/// Looks at the file, a millisecond apart, before an inotify watch is set up.
const QUICK_LOOKS: u32 = 20;
const QUICK_LOOK_INTERVAL: Duration = Duration::from_millis(1);

/// How often `give_up` is asked while waiting on inotify.
const GIVE_UP_CHECK: Duration = Duration::from_millis(100);

fn watch_directory(dir: &Path) -> Option<Inotify> {
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok()?;
    inotify
        .add_watch(
            dir,
            AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CLOSE_WRITE,
        )
        .ok()?;
    Some(inotify)
}

/// Block until something happens in the watched directory, or `timeout` passes.
fn wait_for_event(inotify: &Inotify, timeout: Duration) {
    use std::os::fd::AsFd;
    let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [nix::poll::PollFd::new(
        inotify.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    if let Ok(n) = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(millis)) {
        if n > 0 {
            // Drain: which file changed does not matter, the caller looks again.
            let _ = inotify.read_events();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_codes_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        assert_eq!(read_exit_file(&path).unwrap(), None);
        std::fs::write(&path, "42").unwrap();
        assert_eq!(read_exit_file(&path).unwrap().unwrap().code, 42);
        std::fs::write(&path, "-1").unwrap();
        assert_eq!(read_exit_file(&path).unwrap().unwrap().code, -1);
        std::fs::write(&path, "x").unwrap();
        assert!(read_exit_file(&path).is_err());
    }

    #[test]
    fn a_file_renamed_into_place_is_seen_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        let writer = {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                std::fs::write(dir.join(".id.tmp"), "7").unwrap();
                std::fs::rename(dir.join(".id.tmp"), dir.join("id")).unwrap();
            })
        };
        let got = wait_exit_file(&path, Duration::from_secs(30), || false).unwrap();
        assert_eq!(got.unwrap().code, 7);
        writer.join().unwrap();
        // A directory that does not exist falls back to looking every few milliseconds.
        let missing = dir.path().join("nope/id");
        let started = Instant::now();
        let got = wait_exit_file(&missing, Duration::from_millis(200), || false).unwrap();
        assert_eq!(got, None);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn waiting_stops_when_told_to_give_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        let got = wait_exit_file(&path, Duration::from_secs(60), || true).unwrap();
        assert_eq!(got, None);
    }
}

/// What a waiter writes into the handover file once it has handled an exit (rpod-monitor's
/// `--exit-command-handover`, crates/rpod-monitor/src/handover.rs, reads it).
pub use rpod_monitor_protocol::HANDOVER_HANDLED;

/// A waiter's part in the exit command's handover. rpod-monitor, after writing the exit
/// file, takes an exclusive lock on the handover file (so it waits for the waiters that hold
/// it shared) and skips the exit command when a waiter wrote that it handled the exit. A
/// waiter that dies releases its lock without writing, and the exit command runs: no exit
/// goes unhandled. This saves starting a whole `rpod container cleanup` process (and its
/// contention for the container's lock) after every exit someone was waiting for.
#[derive(Debug)]
pub struct ExitHandover {
    file: std::fs::File,
}

impl ExitHandover {
    /// Join as a waiter: a shared lock on `path`, the file made when missing. `None` when
    /// the file cannot be had or the lock not at once (the monitor is deciding right now):
    /// the exit command then runs as usual.
    pub fn join(path: &Path) -> Option<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .ok()?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared).ok()?;
        Some(ExitHandover { file })
    }

    /// The exit was recorded and cleaned up after: the monitor need not run its exit
    /// command. Dropping the handover releases the lock.
    pub fn handled(&self) {
        use std::os::unix::fs::FileExt;
        if let Err(error) = self.file.write_all_at(HANDOVER_HANDLED, 0) {
            tracing::debug!(%error, "writing the exit handover");
        }
    }
}
