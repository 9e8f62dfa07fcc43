//! Noticing a client that went away while its request waits on the engine (a `wait`, a
//! followed log): a thread polls the connection and sets a cancel flag the engine checks.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Watches a connection until dropped; `cancelled()` is the flag to hand to the engine.
pub struct HangupWatch {
    flag: Arc<AtomicBool>,
    /// Dropping the write end wakes the watcher to end.
    done: Option<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl HangupWatch {
    pub fn start(connection: Arc<OwnedFd>) -> std::io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        let (done_read, done_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let set = flag.clone();
        let thread = std::thread::Builder::new()
            .name("hangup-watch".into())
            .stack_size(64 * 1024)
            .spawn(move || loop {
                // nix names no POLLRDHUP; the kernel's bit is libc's.
                let rdhup = PollFlags::from_bits_retain(libc::POLLRDHUP);
                // RDHUP: the client closed (it sends nothing more while it waits).
                let mut fds = [
                    PollFd::new(connection.as_fd(), rdhup),
                    PollFd::new(done_read.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return,
                    Ok(_) => {}
                }
                if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                    return;
                }
                // nix reports bits it has no name for (RDHUP) as `None`.
                if fds[0].revents().is_none_or(|r| !r.is_empty()) {
                    set.store(true, Ordering::SeqCst);
                    return;
                }
            })?;
        Ok(HangupWatch {
            flag,
            done: Some(done_write),
            thread: Some(thread),
        })
    }

    pub fn cancelled(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    pub fn hung_up(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for HangupWatch {
    fn drop(&mut self) {
        self.done.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};

    #[test]
    fn a_closed_client_sets_the_flag_and_dropping_ends_the_watch() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let watch = HangupWatch::start(Arc::new(ours.into())).unwrap();
        assert!(!watch.hung_up());
        drop(theirs);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !watch.hung_up() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(watch.hung_up());

        let (ours, _theirs) = UnixStream::pair().unwrap();
        let watch = HangupWatch::start(Arc::new(ours.into())).unwrap();
        drop(watch); // joins its thread
    }
}
