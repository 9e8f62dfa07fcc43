//! Starting conmon with its sync and start pipes on fixed descriptor numbers.
//!
//! Written by hand because it needs a `pre_exec` hook: conmon expects the pipes on the exact
//! descriptors named by `_OCI_SYNCPIPE` and `_OCI_STARTPIPE`, without close-on-exec, and in its
//! own process group so that a terminal's Ctrl-C does not reach it. No crate does this.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::{OciError, Result};

/// Descriptor numbers conmon receives its pipes on.
pub const SYNC_FD: i32 = 3;
pub const START_FD: i32 = 4;

/// Largest sync message accepted (conmon sends at most ~8 KiB of runtime stderr).
const SYNC_BUFFER: usize = 64 * 1024;

/// Our ends of the pipes to a freshly spawned conmon.
pub struct ConmonPipes {
    pub sync: OwnedFd,
    pub start: OwnedFd,
}

fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| OciError::sys("creating a socket pair for conmon", e))
}

/// Spawn conmon with `argv` and exactly the environment `env`.
pub fn spawn(
    conmon: &Path,
    argv: &[String],
    env: &[(String, String)],
    stderr: File,
) -> Result<(Child, ConmonPipes)> {
    let (sync_ours, sync_child) = seqpacket_pair()?;
    let (start_ours, start_child) = seqpacket_pair()?;
    let sync_raw = sync_child.as_raw_fd();
    let start_raw = start_child.as_raw_fd();

    let mut command = Command::new(conmon);
    command
        .args(argv)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: the hook runs in the child between fork and exec and calls only
    // async-signal-safe functions (fcntl, dup2, close, setpgid) on descriptors that stay
    // valid in the child; it allocates nothing and touches no locks.
    unsafe {
        command.pre_exec(move || {
            // Copy both ends above the target numbers first, so that placing one cannot
            // overwrite the other.
            let sync_copy = libc::fcntl(sync_raw, libc::F_DUPFD, 10);
            let start_copy = libc::fcntl(start_raw, libc::F_DUPFD, 10);
            if sync_copy < 0
                || start_copy < 0
                || libc::dup2(sync_copy, SYNC_FD) < 0
                || libc::dup2(start_copy, START_FD) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(sync_copy);
            libc::close(start_copy);
            if libc::setpgid(0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| OciError::io("starting conmon", conmon, e))?;
    // Our copies of the child's ends are dropped (closed) here, spawned or not.
    drop(sync_child);
    drop(start_child);
    Ok((
        child,
        ConmonPipes {
            sync: sync_ours,
            start: start_ours,
        },
    ))
}

/// Tell conmon to go on. A closed pipe means conmon already exited; its wait status says why.
pub fn signal_start(start: &OwnedFd) -> Result<()> {
    match nix::unistd::write(start, &[0u8]) {
        Ok(_) | Err(Errno::EPIPE) => Ok(()),
        Err(e) => Err(OciError::sys("writing to conmon's start pipe", e)),
    }
}

/// Read one message from a pipe, waiting at most `timeout`. `Ok(None)` on EOF.
pub fn read_message(fd: &OwnedFd, timeout: Duration) -> Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(OciError::Timeout(
                "timed out waiting for conmon to report the container".into(),
            ));
        }
        let millis = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut fds,
            PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => break,
            Err(e) => return Err(OciError::sys("waiting for conmon's sync pipe", e)),
        }
    }
    let mut buffer = vec![0u8; SYNC_BUFFER];
    loop {
        match nix::unistd::read(fd, &mut buffer) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                buffer.truncate(n);
                return Ok(Some(buffer));
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::ECONNRESET) => return Ok(None),
            Err(e) => return Err(OciError::sys("reading conmon's sync pipe", e)),
        }
    }
}
