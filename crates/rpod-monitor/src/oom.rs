//! Noticing that the kernel's OOM killer struck in the container's cgroup.
//!
//! cgroup v1: an eventfd registered on `memory.oom_control`; cgroup v2: inotify on
//! `memory.events`. Either way the kill counter is read once more when the container has
//! exited, so an OOM kill whose event arrives with (or after) the exit is still seen.

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

enum Source {
    V1 {
        event: EventFd,
        _control: std::fs::File,
    },
    V2 {
        inotify: Inotify,
    },
}

pub struct OomWatch {
    source: Source,
    /// The memory cgroup's directory.
    dir: PathBuf,
    /// The kill counter when the watch began (or at the last event).
    seen: u64,
    pub fired: bool,
}

/// The memory cgroup of `pid`, and whether it is a v1 hierarchy.
fn memory_cgroup(pid: i32) -> Option<(PathBuf, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mut unified = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "memory") {
            return Some((Path::new(CGROUP_ROOT).join("memory").join(path), true));
        }
        if controllers.is_empty() {
            unified = Some(Path::new(CGROUP_ROOT).join(path));
        }
    }
    unified.map(|dir| (dir, false))
}

/// A counter from a `key value` file (`memory.events`, `memory.oom_control`).
fn counter(file: &Path, keys: &[&str]) -> u64 {
    std::fs::read_to_string(file)
        .map(|text| {
            text.lines()
                .filter_map(|l| l.split_once(' '))
                .filter(|(k, _)| keys.contains(k))
                .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

impl OomWatch {
    /// Watch the memory cgroup of `pid`; `None` when it has none that can be watched, or
    /// shares the monitor's (a container without cgroups of its own, crun's
    /// `--cgroup-manager disabled`): an OOM kill there is no sign of the container's.
    pub fn start(pid: i32) -> Option<OomWatch> {
        let (dir, v1) = memory_cgroup(pid)?;
        if memory_cgroup(std::process::id() as i32).is_some_and(|(own, _)| own == dir) {
            return None;
        }
        if v1 {
            let control = std::fs::File::open(dir.join("memory.oom_control")).ok()?;
            let event =
                EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                    .ok()?;
            let registration = format!("{} {}", event.as_fd().as_raw_fd(), control.as_raw_fd());
            std::fs::write(dir.join("cgroup.event_control"), registration).ok()?;
            let seen = counter(&dir.join("memory.oom_control"), &["oom_kill"]);
            Some(OomWatch {
                source: Source::V1 {
                    event,
                    _control: control,
                },
                dir,
                seen,
                fired: false,
            })
        } else {
            let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok()?;
            inotify
                .add_watch(&dir.join("memory.events"), AddWatchFlags::IN_MODIFY)
                .ok()?;
            let seen = counter(&dir.join("memory.events"), &["oom", "oom_kill"]);
            Some(OomWatch {
                source: Source::V2 { inotify },
                dir,
                seen,
                fired: false,
            })
        }
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match &self.source {
            Source::V1 { event, .. } => event.as_fd(),
            Source::V2 { inotify } => inotify.as_fd(),
        }
    }

    fn current(&self) -> u64 {
        match self.source {
            Source::V1 { .. } => counter(&self.dir.join("memory.oom_control"), &["oom_kill"]),
            Source::V2 { .. } => counter(&self.dir.join("memory.events"), &["oom", "oom_kill"]),
        }
    }

    /// Handle the watch's descriptor being readable; true when an OOM kill happened.
    pub fn on_event(&mut self) -> bool {
        match &self.source {
            Source::V1 { event, .. } => {
                let _ = event.read();
                // The event also fires when the cgroup is removed: that is no OOM kill.
                if self.dir.exists() {
                    self.fired = true;
                    return true;
                }
                false
            }
            Source::V2 { inotify } => {
                let _ = inotify.read_events();
                self.check()
            }
        }
    }

    /// Compare the kill counter with the last one seen.
    pub fn check(&mut self) -> bool {
        let now = self.current();
        if now > self.seen {
            self.seen = now;
            self.fired = true;
            return true;
        }
        false
    }
}

/// An OOM kill's marker: an empty `oom` file in each of `dirs`.
pub fn write_markers(dirs: &[&Path]) {
    for dir in dirs {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("oom"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitors_own_memory_cgroup_is_not_watched() {
        // A container without cgroups of its own (crun's `--cgroup-manager disabled`)
        // shares its monitor's: the test process stands for both. As root the watch could
        // be set up there; it is refused because it is the monitor's own.
        let own = std::process::id() as i32;
        assert!(memory_cgroup(own).is_some());
        assert!(OomWatch::start(own).is_none());
    }

    #[test]
    fn counters_from_key_value_files() {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("memory.events");
        std::fs::write(&events, "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n").unwrap();
        assert_eq!(counter(&events, &["oom", "oom_kill"]), 3);
        let control = dir.path().join("memory.oom_control");
        std::fs::write(&control, "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n").unwrap();
        assert_eq!(counter(&control, &["oom_kill"]), 4);
        assert_eq!(counter(&dir.path().join("missing"), &["oom"]), 0);
    }
}
