//! The user's side of attaching: raw mode for the user's terminal, its size, resizes on
//! SIGWINCH, and forwarding signals to the container (`--sig-proxy`).

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, OptionalActions, Termios};
use signal_hook::consts::signal::*;
use signal_hook::iterator::Signals;

use rpod_oci::attach::write_resize;
use rpod_oci::{OciContainer, OciRuntime, TerminalSize};

/// The size of the terminal on our stdout (or stdin), if there is one.
pub fn size() -> Option<TerminalSize> {
    let from = |fd: rustix::fd::BorrowedFd<'_>| {
        tcgetwinsize(fd)
            .ok()
            .filter(|w| w.ws_row > 0 && w.ws_col > 0)
            .map(|w| TerminalSize {
                height: w.ws_row,
                width: w.ws_col,
            })
    };
    from(rustix::stdio::stdout()).or_else(|| from(rustix::stdio::stdin()))
}

/// The user's terminal in raw mode; restored when dropped, on every way out of attach.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Put stdin's terminal in raw mode; `None` when stdin is not a terminal.
    pub fn enter() -> Option<RawMode> {
        if !io::stdin().is_terminal() {
            return None;
        }
        let stdin = rustix::stdio::stdin();
        let saved = tcgetattr(stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// How long a resize waits for the ctl fifo to exist (a resize that comes before the
/// container is up is kept until it is).
const EARLY_RESIZE_PATIENCE: Duration = Duration::from_secs(10);

/// Follow the user's terminal size: every SIGWINCH writes the new size to the ctl fifo. The
/// writing happens on the watcher's own thread, so a resize never blocks the session, and one
/// that comes before the fifo exists is retried until it does.
pub fn watch_resizes(ctl: PathBuf) {
    let Ok(mut signals) = Signals::new([SIGWINCH]) else {
        return;
    };
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if let Some(size) = size() {
                resize_when_ready(&ctl, size, EARLY_RESIZE_PATIENCE);
            }
        }
    });
}

/// Write a resize to the ctl fifo, waiting up to `patience` for the fifo to appear.
fn resize_when_ready(ctl: &std::path::Path, size: TerminalSize, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        match write_resize(ctl, size) {
            Ok(()) => return,
            Err(e) if Instant::now() >= deadline => {
                tracing::debug!(%e, "resizing the container's terminal");
                return;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Forward the signals a user sends rpod to the container's init process.
pub fn proxy_signals(runtime: Arc<dyn OciRuntime>, ctr: OciContainer) {
    let forwarded = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM];
    let Ok(mut signals) = Signals::new(forwarded) else {
        return;
    };
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if let Err(e) = runtime.kill_container(&ctr, signal, false) {
                tracing::debug!(%e, signal, "forwarding a signal to the container");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    #[test]
    fn a_resize_before_the_fifo_exists_is_delivered_once_it_does() {
        let dir = tempfile::tempdir().unwrap();
        let ctl = dir.path().join("ctl");
        let target = ctl.clone();
        let writer = std::thread::spawn(move || {
            let size = TerminalSize {
                height: 42,
                width: 132,
            };
            resize_when_ready(&target, size, Duration::from_secs(10));
        });
        std::thread::sleep(Duration::from_millis(200));
        nix::unistd::mkfifo(&ctl, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Opening the reading end lets the queued writer's non-blocking open succeed.
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&ctl)
            .unwrap();
        writer.join().unwrap();
        let mut message = String::new();
        reader.read_to_string(&mut message).unwrap();
        assert_eq!(message, "1 42 132\n");
    }
}
