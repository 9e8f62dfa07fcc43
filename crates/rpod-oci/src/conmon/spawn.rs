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

/// Largest sync message accepted (conmon sends at most ~8 KiB of runtime stderr).
const SYNC_BUFFER: usize = 64 * 1024;

/// Our ends of the pipes to a freshly spawned conmon, in the order they were asked for.
pub struct ConmonPipes {
    pub sync: OwnedFd,
    pub start: OwnedFd,
    /// Exec only: conmon says here when the session's attach socket is ready.
    pub attach: Option<OwnedFd>,
}

/// The descriptor numbers conmon finds its pipes on, after `preserve_fds` passed ones.
pub fn pipe_numbers(preserve_fds: u32) -> (i32, i32, i32) {
    let base = 3 + preserve_fds as i32;
    (base, base + 1, base + 2)
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

/// Spawn conmon with `argv` and exactly the environment `env`. Descriptors 3 to
/// 3+`preserve_fds`-1 of this process are passed on as they are; the sync, start and (with
/// `attach_pipe`) attach pipes follow them.
pub fn spawn(
    conmon: &Path,
    argv: &[String],
    env: &[(String, String)],
    stderr: File,
    attach_pipe: bool,
    preserve_fds: u32,
) -> Result<(Child, ConmonPipes)> {
    let (sync_ours, sync_child) = seqpacket_pair()?;
    let (start_ours, start_child) = seqpacket_pair()?;
    let attach = if attach_pipe {
        Some(seqpacket_pair()?)
    } else {
        None
    };
    let child_ends: Vec<i32> = [
        Some(&sync_child),
        Some(&start_child),
        attach.as_ref().map(|p| &p.1),
    ]
    .into_iter()
    .flatten()
    .map(|fd| fd.as_raw_fd())
    .collect();
    let first_target = pipe_numbers(preserve_fds).0;

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
    // valid in the child; it allocates nothing (the vector was built before fork) and
    // touches no locks.
    unsafe {
        command.pre_exec(move || {
            // Copy every end above the target numbers first, so that placing one cannot
            // overwrite another.
            let mut copies = [0i32; 3];
            for (i, fd) in child_ends.iter().enumerate() {
                copies[i] = libc::fcntl(*fd, libc::F_DUPFD, first_target + 3);
                if copies[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, copy) in copies.iter().take(child_ends.len()).enumerate() {
                if libc::dup2(*copy, first_target + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(*copy);
            }
            // Passed descriptors must survive exec.
            for fd in 3..first_target {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
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
            attach: attach.map(|(ours, _child)| ours),
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
