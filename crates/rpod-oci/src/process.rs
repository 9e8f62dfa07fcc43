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
        Ok(()) => !is_zombie(pid),
        Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// A zombie has exited; only its parent has not reaped it yet. When a monitor dies, its
/// container may be re-parented to an init that reaps late, so zombies count as dead.
fn is_zombie(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain spaces.
    stat.rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// Wait until `pid` is gone, for at most `timeout`. Returns whether it died.
pub fn wait_pid_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !pid_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(LIVENESS_POLL);
    }
}
