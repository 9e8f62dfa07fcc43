//! Helper programs that must not outlive the rpod thread that started them.

use std::process::Command;

/// `command`'s process is killed when the thread that spawns it ends (rpod killed
/// included): for a helper whose work means nothing without rpod, or that would go on
/// beside the next rpod command's cleanup.
pub(crate) fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    #[allow(unsafe_code)]
    // SAFETY: the hook runs in the child between fork and exec and makes only the
    // async-signal-safe prctl and getppid calls; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            // The parent died before the line above: nothing would kill us later.
            if std::os::unix::process::parent_id() != parent {
                return Err(std::io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// What `filter` got from a program.
pub(crate) struct Filtered {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    /// The start of its standard error (64 KiB at most), for messages.
    pub stderr: String,
}

/// Run `command` as a filter: `input` on its standard input, its standard output kept.
/// Written and read on threads of their own, so that a program that writes before it has
/// read everything cannot wait on us while we wait on it. It runs in a process group of
/// its own, killed whole (a child holding the output open would keep us waiting) when its
/// output passes `limit` bytes or at `timeout`; either is an error saying so.
pub(crate) fn filter(
    command: &mut Command,
    input: &[u8],
    limit: u64,
    timeout: Option<std::time::Duration>,
) -> std::io::Result<Filtered> {
    use std::io::{Error, ErrorKind, Read, Write};
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    command
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn()?;
    let group = nix::unistd::Pid::from_raw(-i32::try_from(child.id()).unwrap_or(i32::MAX));
    let kill_group = move || {
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
    };
    let stdin = child.stdin.take();
    let input = input.to_vec();
    // One that stops reading early is fine: what it writes is what counts.
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input);
        }
    });
    let stderr = child.stderr.take();
    let messages = std::thread::spawn(move || {
        let mut errors = Vec::new();
        if let Some(stderr) = stderr {
            let _ = stderr.take(64 * 1024).read_to_end(&mut errors);
        }
        String::from_utf8_lossy(&errors).into_owned()
    });
    let (finished, done) = std::sync::mpsc::channel::<()>();
    let watchdog = timeout.map(|timeout| {
        std::thread::spawn(move || {
            let timed_out = matches!(
                done.recv_timeout(timeout),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            );
            if timed_out {
                kill_group();
            }
            timed_out
        })
    });
    let mut stdout = Vec::new();
    let read = match child.stdout.take() {
        Some(out) => out
            .take(limit.saturating_add(1))
            .read_to_end(&mut stdout)
            .map(drop),
        None => Ok(()),
    };
    let too_large = stdout.len() as u64 > limit;
    if read.is_err() || too_large {
        kill_group();
    }
    let status = child.wait();
    let _ = finished.send(());
    let _ = writer.join();
    let stderr = messages.join().unwrap_or_default();
    if watchdog.is_some_and(|w| w.join().unwrap_or(false)) {
        let seconds = timeout.map_or(0, |t| t.as_secs());
        return Err(Error::new(
            ErrorKind::TimedOut,
            format!("killed at its timeout of {seconds} s"),
        ));
    }
    if too_large {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("killed: its output passed {limit} bytes"),
        ));
    }
    read?;
    Ok(Filtered {
        status: status?,
        stdout,
        stderr,
    })
}
