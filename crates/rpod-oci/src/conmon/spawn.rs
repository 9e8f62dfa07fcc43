//! Starting conmon with its sync and start pipes on fixed descriptor numbers: conmon expects
//! them on the exact descriptors named by `_OCI_SYNCPIPE` and `_OCI_STARTPIPE`, without
//! close-on-exec, and in its own process group so that a terminal's Ctrl-C does not reach it
//! (the `rpod-spawn` crate places them).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::{OciError, Result};
pub(crate) use rpod_spawn::Spawned;
use rpod_spawn::{Environment, Placement};

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

/// conmon's standard streams.
pub enum ConmonStdio {
    /// None in, none out, its messages to this file.
    Quiet(File),
    /// rpod's own (the passthrough log driver: they become the container's); stdin only
    /// when `stdin`.
    Inherit { stdin: bool },
}

/// Spawn conmon with `argv` and exactly the environment `env`. The descriptors `passed`
/// become conmon's 3, 4, ... (for the container's process); the sync, start and (with
/// `attach_pipe`) attach pipes follow them. Nothing else of this process is inherited:
/// everything else is closed at the exec.
/// `umask`: the monitor's, which the runtime it runs passes on (an exec's process gets it
/// from runc, which does not apply the process spec's `umask` to an exec); else rpod's.
pub fn spawn(
    conmon: &Path,
    argv: &[String],
    env: &[(String, String)],
    stdio: ConmonStdio,
    attach_pipe: bool,
    passed: &[i32],
    umask: Option<u32>,
) -> Result<(Spawned, ConmonPipes)> {
    let (sync_ours, sync_child) = seqpacket_pair()?;
    let (start_ours, start_child) = seqpacket_pair()?;
    let attach = if attach_pipe {
        Some(seqpacket_pair()?)
    } else {
        None
    };
    // In the order they must appear from descriptor 3 on.
    let numbered: Vec<i32> = passed
        .iter()
        .copied()
        .chain(
            [
                Some(&sync_child),
                Some(&start_child),
                attach.as_ref().map(|p| &p.1),
            ]
            .into_iter()
            .flatten()
            .map(|fd| fd.as_raw_fd()),
        )
        .collect();
    let dev_null = || {
        File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| OciError::io("opening", Path::new("/dev/null"), e))
    };
    // Kept open until the child has been started.
    let (null, stderr_file);
    let stdio = match stdio {
        ConmonStdio::Quiet(stderr) => {
            null = Some(dev_null()?);
            stderr_file = Some(stderr);
            let null = null.as_ref().map(|f| f.as_raw_fd());
            [null, null, stderr_file.as_ref().map(|f| f.as_raw_fd())]
        }
        ConmonStdio::Inherit { stdin } => {
            null = if stdin { None } else { Some(dev_null()?) };
            stderr_file = None;
            [null.as_ref().map(|f| f.as_raw_fd()), None, None]
        }
    };
    let placement = Placement {
        stdio,
        numbered: &numbered,
        umask,
        new_process_group: true,
        die_with_parent: false,
    };
    let child = rpod_spawn::spawn(conmon, argv, Environment::Exactly(env), &placement)
        .map_err(|e| OciError::io("starting conmon", conmon, e))?;
    drop((null, stderr_file));
    // Our copies of the child's ends are dropped (closed) here.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn conmon_gets_exactly_the_passed_descriptors_and_its_pipes() {
        let dir = tempfile::tempdir().unwrap();
        let passed = File::open("/dev/null").unwrap();
        // A descriptor someone left inheritable (not close-on-exec): it must not leak.
        let stray = File::open("/dev/null").unwrap();
        nix::fcntl::fcntl(
            &stray,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .unwrap();
        let listing = dir.path().join("fds");
        let script = format!("ls /proc/$$/fd > {}", listing.display());
        let stderr = File::create(dir.path().join("stderr")).unwrap();
        let (mut child, _pipes) = spawn(
            Path::new("/bin/sh"),
            &["-c".to_string(), script],
            &[("PATH".into(), "/usr/bin:/bin".into())],
            ConmonStdio::Quiet(stderr),
            false,
            &[passed.as_raw_fd()],
            None,
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
        let mut fds: Vec<i32> = std::fs::read_to_string(&listing)
            .unwrap()
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        fds.sort_unstable();
        // 0-2, the passed one at 3, the sync and start pipes at 4 and 5, and the one `ls`
        // itself opens to read the directory.
        assert_eq!(&fds[..6], &[0, 1, 2, 3, 4, 5], "{fds:?}");
        assert!(
            fds.len() <= 7,
            "a stray descriptor reached the child: {fds:?}"
        );
        drop(stray);
    }
}
