//! Process liveness and waiting, without long fixed sleeps.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// How often liveness is re-checked while waiting for a process to die.
pub const LIVENESS_POLL: Duration = Duration::from_millis(10);

/// Whether `pid` names a live (non-zombie) process. PID 0 and negative PIDs are never alive:
/// `kill(0, 0)` would probe our own process group.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match kill(Pid::from_raw(pid), None) {
        // It existed a moment ago; its stat says whether it still runs. A stat that cannot
        // be read means it was reaped in between.
        Ok(()) => std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| !is_zombie(&stat))
            .unwrap_or(false),
        Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// When a process started (clock ticks since boot, field 22 of its stat), which tells a
/// process from a later one that got the same PID.
pub fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (in parentheses, which may hold spaces); the state is
    // field 3, so the start time is the 20th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process `pid` that started at `started` (from `start_time`) still runs.
pub fn same_process_alive(pid: i32, started: u64) -> bool {
    pid_alive(pid) && start_time(pid) == Some(started)
}

/// Whether `pid` runs in a cgroup whose path names the container `id`. Container ids are
/// 64 random hex digits, so a PID reused by an unrelated process never matches.
pub fn in_container_cgroup(pid: i32, id: &str) -> bool {
    if pid <= 0 || id.is_empty() {
        return false;
    }
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|groups| {
            groups.lines().any(|line| {
                line.rsplit(':')
                    .next()
                    .is_some_and(|path| path.split('/').any(|part| part == id))
            })
        })
        .unwrap_or(false)
}

/// A zombie has exited; only its parent has not reaped it yet. When a monitor dies, its
/// container may be re-parented to an init that reaps late, so zombies count as dead.
fn is_zombie(stat: &str) -> bool {
    // The state follows the command name, which is in parentheses and may contain spaces.
    stat.rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// Wait until `pid` is gone, for at most `timeout` (forever with `None`). Returns whether it
/// died. Waits on a pidfd, which wakes up the moment the process exits; polls liveness only
/// where pidfds are not available.
pub fn wait_pid_exit(pid: i32, timeout: Option<Duration>) -> bool {
    if !pid_alive(pid) {
        return true;
    }
    let Some(raw) = rustix::process::Pid::from_raw(pid) else {
        return true;
    };
    let pidfd = match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return true,
        Err(_) => return poll_pid_gone(pid, timeout),
    };
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return !pid_alive(pid);
                }
                nix::poll::PollTimeout::try_from(left.as_millis().min(60_000) as i32)
                    .unwrap_or(nix::poll::PollTimeout::MAX)
            }
            None => nix::poll::PollTimeout::MAX,
        };
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&pidfd),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, left) {
            Ok(n) if n > 0 => return true,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                return poll_pid_gone(
                    pid,
                    deadline.map(|d| d.saturating_duration_since(Instant::now())),
                )
            }
        }
    }
}

/// Wait until `pid` is gone, for at most `timeout`. Returns whether it died.
pub fn wait_pid_gone(pid: i32, timeout: Duration) -> bool {
    wait_pid_exit(pid, Some(timeout))
}

fn poll_pid_gone(pid: i32, timeout: Option<Duration>) -> bool {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        if !pid_alive(pid) {
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        std::thread::sleep(LIVENESS_POLL);
    }
}

#[cfg(test)]
mod start_time_tests {
    use super::*;

    #[test]
    fn start_times_tell_processes_apart() {
        let me = std::process::id() as i32;
        let started = start_time(me).expect("our own start time");
        assert!(same_process_alive(me, started));
        assert!(!same_process_alive(me, started + 1));
        assert_eq!(start_time(0), None);
    }
}
