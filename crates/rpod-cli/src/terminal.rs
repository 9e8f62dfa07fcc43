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
            let deadline = Instant::now() + EARLY_RESIZE_PATIENCE;
            while let Some(size) = size() {
                match write_resize(&ctl, size) {
                    Ok(()) => break,
                    Err(e) if Instant::now() >= deadline => {
                        tracing::debug!(%e, "resizing the container's terminal");
                        break;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
    });
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
