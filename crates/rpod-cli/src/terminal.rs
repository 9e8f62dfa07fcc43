//! The user's side of attaching: raw mode for the user's terminal, its size, resizes on
//! SIGWINCH, and forwarding signals to the container (`--sig-proxy`).

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, OptionalActions, Termios};
use signal_hook::consts::signal::*;
use signal_hook::iterator::Signals;

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

/// Stdin's terminal in another mode (raw for attach, without echo for a password);
/// restored when dropped, on every way out.
pub struct StdinMode {
    saved: Termios,
}

impl StdinMode {
    /// Change stdin's terminal settings; `None` when stdin is not a terminal.
    fn enter(change: impl FnOnce(&mut Termios)) -> Option<StdinMode> {
        if !io::stdin().is_terminal() {
            return None;
        }
        let stdin = rustix::stdio::stdin();
        let saved = tcgetattr(stdin).ok()?;
        let mut changed = saved.clone();
        change(&mut changed);
        tcsetattr(stdin, OptionalActions::Now, &changed).ok()?;
        Some(StdinMode { saved })
    }

    /// Raw mode: keys go to the container as typed.
    pub fn raw() -> Option<StdinMode> {
        Self::enter(|t| t.make_raw())
    }

    /// No echo, for a password prompt.
    pub fn without_echo() -> Option<StdinMode> {
        Self::enter(|t| t.local_modes.remove(rustix::termios::LocalModes::ECHO))
    }
}

impl Drop for StdinMode {
    fn drop(&mut self) {
        let _ = tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// How long a resize keeps being retried while the container's terminal is not ready (a
/// resize that comes before the container is up is kept until it is).
const EARLY_RESIZE_PATIENCE: Duration = Duration::from_secs(10);

/// Follow the user's terminal size: every SIGWINCH hands the new size to `resize` (the
/// runtime's resize of the container or exec session). It runs on the watcher's own thread,
/// so a resize never blocks the session, and one that fails because the terminal is not
/// ready yet is retried until it is.
pub fn watch_resizes(resize: impl Fn(TerminalSize) -> rpod_oci::Result<()> + Send + 'static) {
    if let Some(watch) = ResizeWatch::begin() {
        watch.follow(resize, false);
    }
}

/// SIGWINCH caught from now on, for a resize target that does not exist yet (an exec
/// session, known once started): a resize of the user's terminal in between is kept, not
/// lost to SIGWINCH's default of being ignored.
pub struct ResizeWatch(Signals);

impl ResizeWatch {
    pub fn begin() -> Option<ResizeWatch> {
        Signals::new([SIGWINCH]).ok().map(ResizeWatch)
    }

    /// Hand every later size to `resize` (with `now`, the present size first), in order, on
    /// a thread of its own.
    pub fn follow(
        self,
        resize: impl Fn(TerminalSize) -> rpod_oci::Result<()> + Send + 'static,
        now: bool,
    ) {
        let ResizeWatch(mut signals) = self;
        std::thread::spawn(move || {
            if now {
                if let Some(size) = size() {
                    resize_when_ready(&resize, size, EARLY_RESIZE_PATIENCE);
                }
            }
            for _ in signals.forever() {
                if let Some(size) = size() {
                    resize_when_ready(&resize, size, EARLY_RESIZE_PATIENCE);
                }
            }
        });
    }
}

/// Resize, retrying for up to `patience` while it fails.
fn resize_when_ready(
    resize: &impl Fn(TerminalSize) -> rpod_oci::Result<()>,
    size: TerminalSize,
    patience: Duration,
) {
    let deadline = Instant::now() + patience;
    loop {
        match resize(size) {
            Ok(()) => return,
            Err(e) if Instant::now() >= deadline => {
                tracing::debug!(%e, "resizing the container's terminal");
                return;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// `--preserve-fds N`: our descriptors 3 to 2+N, as the caller handed them to us, duplicated
/// so that exactly these are passed on. A number that is not open is an error.
pub fn inherited_fds(count: u32) -> anyhow::Result<Vec<Arc<std::os::fd::OwnedFd>>> {
    (3..3 + count as i32)
        .map(|fd| {
            if !std::path::Path::new(&format!("/proc/self/fd/{fd}")).exists() {
                anyhow::bail!("--preserve-fds: descriptor {fd} is not open");
            }
            duplicate_inherited(fd)
                .map(Arc::new)
                .map_err(|e| anyhow::anyhow!("--preserve-fds: descriptor {fd}: {e}"))
        })
        .collect()
}

#[allow(unsafe_code)]
fn duplicate_inherited(fd: i32) -> std::io::Result<std::os::fd::OwnedFd> {
    // SAFETY: `fd` was checked to be open just before, and this process never closes
    // descriptors it did not open, so it stays open for this borrow.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    Ok(rustix::io::fcntl_dupfd_cloexec(borrowed, 3)?)
}

/// Forward the signals a user sends rpod to the container's init process.
pub fn proxy_signals(runtime: Arc<dyn OciRuntime>, ctr: OciContainer) {
    forward_signals(move |signal| {
        if let Err(e) = runtime.kill_container(&ctr, signal, false) {
            tracing::debug!(%e, signal, "forwarding a signal to the container");
        }
    });
}

/// `--sig-proxy`'s signals, caught from now on and each handed to `forward` (on a thread
/// of its own) instead of ending rpod.
pub fn forward_signals(mut forward: impl FnMut(i32) + Send + 'static) {
    let forwarded = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM];
    let Ok(mut signals) = Signals::new(forwarded) else {
        return;
    };
    std::thread::spawn(move || {
        for signal in signals.forever() {
            forward(signal);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resize_that_fails_at_first_is_retried_until_it_succeeds() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let attempts = AtomicU32::new(0);
        let delivered = std::sync::Mutex::new(None);
        let resize = |size: TerminalSize| {
            if attempts.fetch_add(1, Ordering::SeqCst) < 5 {
                return Err(rpod_oci::OciError::InvalidArg("not ready".into()));
            }
            *delivered.lock().unwrap() = Some(size);
            Ok(())
        };
        let size = TerminalSize {
            height: 42,
            width: 132,
        };
        resize_when_ready(&resize, size, Duration::from_secs(10));
        assert_eq!(*delivered.lock().unwrap(), Some(size));
        assert_eq!(attempts.load(Ordering::SeqCst), 6);
        // Past its patience, a resize that never succeeds gives up.
        let never = |_: TerminalSize| Err(rpod_oci::OciError::InvalidArg("no".into()));
        resize_when_ready(&never, size, Duration::from_millis(50));
    }
}
