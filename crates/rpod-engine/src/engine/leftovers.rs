//! What an interrupted `create`, `run` or `start` leaves behind: a runtime container, its
//! `runc init`, a monitor, a mounted root, a cgroup, none of which the container's record
//! accounts for (the process that made them was killed before it could write the record).
//! The next command that needs the container clean (`start`, `rm`) removes them first.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use rpod_oci::process::{pid_alive, wait_pid_exit};

use super::Engine;
use crate::container::{ContainerRecord, Status};
use crate::rootfs;
use crate::spec::cgroup_path;
use crate::Result;

/// How long a monitor may take to notice that its container was deleted and exit.
const MONITOR_GONE_TIMEOUT: Duration = Duration::from_secs(5);

/// The cgroup hierarchies, v1 controllers and the v2 tree alike.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

impl Engine {
    /// Remove runtime state, monitor, processes, mounts and cgroups of a container whose
    /// record says the runtime does not know it (Configured or Exited). Called under the
    /// container's lock, so no live operation of ours owns them.
    pub(super) fn remove_leftovers(&self, record: &ContainerRecord) -> Result<()> {
        if record.state.status.known_to_runtime() {
            return Ok(());
        }
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        let runtime_root = self.roots.runtime_state(runtime.name());
        let state_dir = runtime_root.join(record.id());
        // Signs of an interrupted command (a fresh container has neither, nor does one
        // whose last run ended): only then is it worth looking through every process for
        // its runtime calls below.
        let pid_file = self.roots.run_dir(record.id()).join("conmon.pid");
        let interrupted =
            state_dir.exists() || monitor_started_since_exit(&pid_file, record.state.finished_at);
        if state_dir.exists() {
            tracing::info!(
                id = record.id(),
                "removing a runtime container left by an interrupted command"
            );
            if let Err(e) = runtime.delete_container(&oci) {
                tracing::warn!(id = record.id(), %e, "deleting a leftover runtime container");
            }
        }
        // Only a container that never got as far as the runtime can have a monitor nobody
        // knows of; an exited one's monitor may still be running its exit command.
        let never_created = record.state.status == Status::Configured;
        if let Some(pid) = never_created
            .then(|| self.leftover_monitor(record))
            .flatten()
        {
            // With its container gone the monitor records an exit and runs its exit
            // command, which waits for this container's lock (held here), and rpod-monitor
            // waits for its exit command: so the exit record, not the monitor's end, says
            // it is done with the container. One that does neither (it was killed before
            // starting the runtime) is killed.
            let exit_file = self.exit_file(record)?;
            let recorded =
                rpod_oci::exitfile::wait_exit_file(&exit_file, MONITOR_GONE_TIMEOUT, || {
                    !pid_alive(pid)
                })
                .ok()
                .flatten()
                .is_some();
            if !recorded && pid_alive(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                wait_pid_exit(pid, Some(MONITOR_GONE_TIMEOUT));
            }
        }
        // A runtime call the killed command or its monitor had started (`runc create`,
        // outside the container's cgroups) would clean up after itself when its child
        // dies, removing the state directory of the create that follows: it goes first.
        if interrupted {
            kill_runtime_calls(&runtime_root, record.id());
        }
        remove_cgroups(&record.config);
        // A runtime killed while creating may leave a state directory it cannot read back
        // (crun: no config.json yet), so its own delete fails and its create would say
        // "already exists". The container's processes are gone with its cgroups: the
        // directory (under rpod's runtime state root) is removed here.
        if state_dir.exists() {
            tracing::info!(id = record.id(), "removing unreadable runtime state");
            fs::remove_dir_all(&state_dir)
                .map_err(|e| crate::EngineError::io("removing", &state_dir, e))?;
        }
        if self.has_network_leftovers(record.id()) {
            tracing::info!(id = record.id(), "removing a network namespace left behind");
            self.network_down(&mut record.clone());
        }
        self.unmount_shm(record.id())?;
        if record.config.rootfs.is_none() && record.state.user_mounts == 0 {
            rootfs::unmount(&self.root_path(record))?;
        }
        Ok(())
    }

    /// The PID of a live monitor of this container that the record does not account for,
    /// checked by its command line so that a reused PID is never signalled.
    fn leftover_monitor(&self, record: &ContainerRecord) -> Option<i32> {
        let pid_file = self.roots.run_dir(record.id()).join("conmon.pid");
        let pid: i32 = fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
        if pid <= 0 || !pid_alive(pid) || pid == std::os::unix::process::parent_id() as i32 {
            return None;
        }
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let mut args = cmdline.split(|b| *b == 0).map(String::from_utf8_lossy);
        let is_conmon = args.next().is_some_and(|exe| {
            matches!(
                exe.rsplit('/').next(),
                Some("conmon" | rpod_oci::conmon::RPOD_MONITOR)
            )
        });
        let names_container = args.any(|a| a == record.id());
        (is_conmon && names_container).then_some(pid)
    }
}

/// Whether a monitor was started for the container after its last recorded exit (its PID
/// file is newer): a start that did not get as far as an exit, which a killed command
/// leaves. A monitor writes the file as it starts, and the exit is recorded after it.
fn monitor_started_since_exit(
    pid_file: &std::path::Path,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
) -> bool {
    let Ok(written) = fs::metadata(pid_file).and_then(|m| m.modified()) else {
        return false;
    };
    finished_at.is_none_or(|exit| chrono::DateTime::<chrono::Utc>::from(written) > exit)
}

/// Kill and wait for the runtime calls about the container: processes whose command line
/// has this store's runtime root as its `--root` and the container's ID (`runc --root
/// ROOT ... create ... ID`; a monitor passes the root on as `--runtime-arg`s, so it is not
/// one of them).
fn kill_runtime_calls(runtime_root: &std::path::Path, id: &str) {
    let root = runtime_root.as_os_str().as_encoded_bytes();
    let mut joined = b"--root=".to_vec();
    joined.extend_from_slice(root);
    let me = std::process::id() as i32;
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    let mut killed = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let names_root = args
            .windows(2)
            .any(|pair| pair[0] == b"--root" && pair[1] == root)
            || args.contains(&joined.as_slice());
        let names_container = args.contains(&id.as_bytes());
        if names_root && names_container {
            tracing::info!(
                pid,
                id,
                "killing a runtime call left by an interrupted command"
            );
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            killed.push(pid);
        }
    }
    for pid in killed {
        wait_pid_exit(pid, Some(MONITOR_GONE_TIMEOUT));
    }
}

/// The container's cgroup in every hierarchy where it exists.
fn cgroup_dirs(config: &crate::container::ContainerConfig) -> Vec<PathBuf> {
    let relative = cgroup_path(config);
    let relative = relative.trim_start_matches('/');
    let mut dirs = Vec::new();
    let Ok(hierarchies) = fs::read_dir(CGROUP_ROOT) else {
        return dirs;
    };
    for hierarchy in hierarchies.flatten() {
        let dir = hierarchy.path().join(relative);
        if dir.is_dir() {
            dirs.push(dir);
        }
    }
    let unified = PathBuf::from(CGROUP_ROOT).join(relative);
    if unified.is_dir() {
        dirs.push(unified);
    }
    dirs
}

/// Kill what still runs in the container's cgroups and remove them. Its processes belong
/// to it by construction (the cgroup is named after the container's id).
fn remove_cgroups(config: &crate::container::ContainerConfig) {
    for dir in cgroup_dirs(config) {
        // A frozen cgroup keeps its killed processes: thaw it first (v1 freezer).
        let _ = fs::write(dir.join("freezer.state"), "THAWED");
        for _ in 0..50 {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            let pids: Vec<i32> = procs
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Err(e) = fs::remove_dir(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(cgroup = %dir.display(), %e, "removing a leftover cgroup");
            }
        }
    }
}
