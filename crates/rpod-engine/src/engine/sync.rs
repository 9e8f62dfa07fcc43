//! What the monitor recorded: exits, OOM kills, a dead monitor, and the cleanup after an exit.

use std::os::unix::process::CommandExt;

use super::stop::kill_frozen;
use super::*;

/// What a sync found.
#[derive(Debug, PartialEq, Eq)]
enum Synced {
    /// The state is up to date (an exit recorded, or nothing to record).
    Done,
    /// The monitor died without recording the exit, and with it the exit command it
    /// would have run: the exit was recorded as unknown just now.
    MonitorDied,
}

/// Whether the container is `Stopping` for a stop whose process is gone, and still runs.
pub(super) fn stop_interrupted(state: &ContainerState) -> bool {
    state.status == Status::Stopping
        && state.stopping_pid > 0
        && !rpod_oci::process::same_process_alive(state.stopping_pid, state.stopping_start)
        && pid_alive(state.pid)
}

impl Engine {
    pub(super) fn exit_file(&self, record: &ContainerRecord) -> Result<PathBuf> {
        let runtime = self.runtime(&record.config.runtime)?;
        Ok(runtime.exit_file_path(&self.oci_container(record))?)
    }

    /// A waiter's part in the monitor's exit-command handover, when the monitor has one.
    /// Joined before the container is started, it spares the monitor its exit command even
    /// when the container exits before the wait begins. Never for a container with a
    /// restart policy: its exit command decides about the restart, and its waiters wait for
    /// the monitor (which would wait for them).
    pub fn exit_handover(
        &self,
        record: &ContainerRecord,
    ) -> Option<rpod_oci::exitfile::ExitHandover> {
        if record.config.restart.is_set() {
            return None;
        }
        let runtime = self.runtime(&record.config.runtime).ok()?;
        runtime.exit_handover(&self.oci_container(record))
    }

    pub(super) fn oom_file(&self, record: &ContainerRecord) -> Result<PathBuf> {
        let runtime = self.runtime(&record.config.runtime)?;
        Ok(runtime.oom_file_path(&self.oci_container(record))?)
    }

    /// Apply an exit file's content to the state.
    pub(super) fn record_exit(
        &self,
        record: &mut ContainerRecord,
        code: i32,
        finished: DateTime<Utc>,
    ) -> Result<()> {
        let oom_killed = self.oom_file(record)?.exists();
        self.record_end(record, code, finished, oom_killed)
    }

    /// The end of the container's process: stopped, with its code, kept after removal too,
    /// and told as a `died` event.
    fn record_end(
        &self,
        record: &mut ContainerRecord,
        code: i32,
        finished: DateTime<Utc>,
        oom_killed: bool,
    ) -> Result<()> {
        transition(record, Status::Stopped)?;
        record.state.pid = 0;
        record.state.conmon_pid = 0;
        record.state.exit_code = Some(code);
        record.state.finished_at = Some(finished);
        record.state.oom_killed = oom_killed;
        self.save(record)?;
        self.store.save_exit_code(record, code)?;
        if oom_killed {
            // Told before the exit, as dockerd tells its clients (`oom`, then `die`).
            self.container_event(record, "oom", &[]);
        }
        self.container_event(record, "died", &[("containerExitCode", code.to_string())]);
        Ok(())
    }

    /// Bring the state up to date from the exit file and the monitor's liveness. Called
    /// under the lock. When the monitor died without an exit file and the container's
    /// process is gone too, the exit is recorded with an unknown code (-1), and the exit
    /// command the monitor would have run is started: it cleans the container up,
    /// removes a `--rm` one, applies its pod's exit policy and restarts it when its
    /// restart policy says so (podman leaves such a container as it is, its restart
    /// policy unheeded).
    pub(super) fn sync(&self, record: &mut ContainerRecord) -> Result<()> {
        if self.sync_state(record)? == Synced::MonitorDied {
            self.start_exit_command(record);
        }
        Ok(())
    }

    /// `sync` without starting the exit command: for the exit command itself.
    fn sync_state(&self, record: &mut ContainerRecord) -> Result<Synced> {
        if !record.state.status.is_active() {
            return Ok(Synced::Done);
        }
        self.repair_interrupted_stop(record)?;
        let exit_file = self.exit_file(record)?;
        if let Some(exit) = read_exit_file(&exit_file)? {
            self.record_exit(record, exit.code, exit.finished.into())?;
            return Ok(Synced::Done);
        }
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        if !runtime.check_conmon_running(&oci)? {
            // The monitor may have written the file just before it went away.
            if let Some(exit) = read_exit_file(&exit_file)? {
                self.record_exit(record, exit.code, exit.finished.into())?;
                return Ok(Synced::Done);
            }
            if !pid_alive(record.state.pid) {
                self.record_monitor_death(record)?;
                return Ok(Synced::MonitorDied);
            }
        }
        Ok(Synced::Done)
    }

    /// Start `rpod container cleanup` for a container whose monitor died before it could:
    /// in a process of its own, which waits for this one's lock, so that a listing that
    /// noticed the death is not held up by a restart.
    pub(super) fn start_exit_command(&self, record: &ContainerRecord) {
        let argv = self.exit_command(record.id(), None);
        let mut command = std::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            // Out of the terminal's process group, as the monitor's exit command is.
            .process_group(0);
        match command.spawn() {
            // Reaped by a thread: in the REST service it would stay a zombie.
            Ok(mut child) => {
                let _ = std::thread::Builder::new()
                    .name("exit-command".into())
                    .spawn(move || child.wait());
            }
            Err(e) => tracing::warn!(
                id = record.id(),
                %e,
                "starting the exit command of a container whose monitor died"
            ),
        }
    }

    /// A stop whose process died (killed, or the machine's OOM killer) leaves `Stopping`
    /// behind: while the container still runs, it is running again.
    pub(super) fn repair_interrupted_stop(&self, record: &mut ContainerRecord) -> Result<()> {
        if !stop_interrupted(&record.state) {
            return Ok(());
        }
        tracing::info!(
            id = record.id(),
            "the stop of this container was interrupted; it still runs"
        );
        transition(record, Status::Running)?;
        record.state.stopping_pid = 0;
        record.state.stopping_start = 0;
        self.save(record)
    }

    /// The monitor is gone and will never write the exit file.
    pub(super) fn record_monitor_death(&self, record: &mut ContainerRecord) -> Result<()> {
        tracing::warn!(
            id = record.id(),
            "conmon died without writing an exit file; the container's exit code is unknown"
        );
        record.state.error =
            "conmon died without writing exit file, container exit code could not be retrieved"
                .into();
        self.record_end(record, -1, Utc::now(), false)
    }

    /// The monitor is dead but the container may still run: kill what is left of it and
    /// record the exit as unknown. Called under the lock.
    pub(super) fn handle_dead_monitor(&self, record: &mut ContainerRecord) -> Result<()> {
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        if record.state.status == Status::Paused {
            let _ = kill_frozen(runtime.as_ref(), &oci);
        }
        if let Err(e) = runtime.stop_container(&oci, 0, oci.stop_with_all()) {
            tracing::warn!(id = record.id(), %e, "killing a container whose monitor died");
        }
        if let Some(exit) = read_exit_file(&self.exit_file(record)?)? {
            return self.record_exit(record, exit.code, exit.finished.into());
        }
        self.record_monitor_death(record)
    }

    /// Remove the container from the runtime and unmount its root (Stopped → Exited,
    /// Created → Configured). Called under the lock.
    pub(super) fn cleanup_runtime(&self, record: &mut ContainerRecord) -> Result<()> {
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        if record.state.status.known_to_runtime() {
            if let Err(e) = runtime.delete_container(&oci) {
                // Already gone from the runtime is what we want.
                tracing::debug!(id = record.id(), %e, "runtime delete");
            }
        }
        // Exec sessions die with the container.
        for session in self.store.exec_sessions_of(record.id())? {
            let _ = runtime.exec_remove(&oci, &session.id);
        }
        self.store.remove_exec_sessions(None, record.id())?;
        self.network_down(record);
        self.unmount_shm(record.id())?;
        // A root the user mounted (`rpod mount`) stays mounted until `rpod unmount`.
        if record.state.user_mounts == 0 {
            self.unmount_rootfs(record)?;
            record.state.mounted = false;
        }
        let after_exit = record.state.status == Status::Stopped;
        let next = match record.state.status {
            Status::Stopped => Status::Exited,
            Status::Created => Status::Configured,
            other => other,
        };
        transition(record, next)?;
        record.state.pid = 0;
        record.state.conmon_pid = 0;
        self.save(record)?;
        // podman's `cleanup` event: what the exit left (mounts, network) is released.
        if after_exit {
            self.container_event(record, "cleanup", &[]);
        }
        Ok(())
    }

    /// What conmon's exit command runs: record the exit, clean the runtime up, and remove
    /// `--rm` containers.
    pub fn cleanup(&self, name_or_id: &str) -> Result<()> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let Some(mut record) = self.store.container(found.id())? else {
            return Ok(());
        };
        self.sync_state(&mut record)?;
        self.finish_exited(&mut record)?;
        self.restart_by_policy(record)
    }

    /// After an exit: start the container again when its restart policy says so (the
    /// cleanup command's job, as podman's). Called under the lock.
    fn restart_by_policy(&self, mut record: ContainerRecord) -> Result<()> {
        let state = &record.state;
        let wanted = state.status == Status::Exited
            && !state.checkpointed
            && record.config.restart.should_restart(
                state.exit_code,
                state.stopped_by_user,
                state.restart_retries,
            );
        if !wanted {
            return Ok(());
        }
        record.state.restart_count += 1;
        record.state.restart_retries += 1;
        self.save(&record)?;
        tracing::info!(
            id = record.id(),
            count = record.state.restart_count,
            "restarting by the container's restart policy"
        );
        self.container_event(&record, "restart", &[]);
        self.start_locked(record, None, None).map(|_| ())
    }

    /// Once a container has exited: clean the runtime up, remove `--rm` containers, and
    /// apply the exit policy of the container's pod. Called under the lock.
    pub(super) fn finish_exited(&self, record: &mut ContainerRecord) -> Result<()> {
        let exited = matches!(record.state.status, Status::Stopped | Status::Removing);
        self.clean_up_exited(record)?;
        if exited && record.config.pod.is_some() {
            self.apply_pod_exit_policy(record);
        }
        Ok(())
    }

    /// `finish_exited` but for the pod.
    fn clean_up_exited(&self, record: &mut ContainerRecord) -> Result<()> {
        // A checkpointed container waits for its restore, `--rm` or not (as podman).
        let remove = record.config.auto_remove && !record.state.checkpointed;
        match record.state.status {
            // The removal cleans the runtime up itself, its delete beside the rest; going
            // through Exited first would only save the record once more.
            // podman's `run --rm` takes the anonymous volumes with the container.
            Status::Stopped | Status::Exited if remove => self.remove_locked(record, true),
            // The removal of a `--rm` container was interrupted (the attached `run` that
            // was removing it was killed): the exit command finishes it.
            Status::Removing if remove => self.remove_locked(record, true),
            Status::Stopped => self.cleanup_runtime(record),
            _ => Ok(()),
        }
    }
}
