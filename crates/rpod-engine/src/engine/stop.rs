//! Stopping, killing, pausing and unpausing.

use super::*;

impl Engine {
    /// Wait, without the lock, for the container's exit to be recorded and for its monitor
    /// (which runs the cleanup) to finish; then sync under the lock.
    pub(super) fn wait_for_exit(&self, id: &str, conmon_pid: i32) -> Result<()> {
        let Some(record) = self.store.container(id)? else {
            return Ok(());
        };
        let exit_file = self.exit_file(&record)?;
        // Until the monitor writes the exit file, or is gone and never will (asked of the
        // runtime: the monitor's PID may be unknown).
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(&record);
        wait_exit_file(&exit_file, EXIT_FILE_TIMEOUT, || {
            !runtime.check_conmon_running(&oci).unwrap_or(false)
        })?;
        wait_pid_gone_quietly(conmon_pid, MONITOR_EXIT_TIMEOUT);
        let _lock = self.lock(id)?;
        let Some(mut record) = self.store.container(id)? else {
            return Ok(());
        };
        self.sync(&mut record)?;
        if record.state.status.is_active() {
            let runtime = self.runtime(&record.config.runtime)?;
            if !runtime.check_conmon_running(&self.oci_container(&record))? {
                self.handle_dead_monitor(&mut record)?;
            }
        }
        self.finish_exited(&mut record)
    }

    /// Stop a container: its stop signal, then SIGKILL after `timeout` seconds. Returns once
    /// the exit is recorded and cleanup has run. Stopping a stopped container succeeds.
    pub fn stop(&self, name_or_id: &str, timeout: Option<u32>) -> Result<ContainerRecord> {
        self.stop_with_signal(name_or_id, timeout, None)
    }

    /// `stop` with another first signal than the container's (the API's `signal=`).
    pub fn stop_with_signal(
        &self,
        name_or_id: &str,
        timeout: Option<u32>,
        signal: Option<i32>,
    ) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        let id = found.id().to_string();
        let (oci, runtime, timeout, paused) = {
            let _lock = self.lock(&id)?;
            let mut record = self.reload(&id, name_or_id)?;
            self.sync(&mut record)?;
            if !record.state.status.can_stop() {
                if record.state.status == Status::Stopped {
                    self.cleanup_runtime(&mut record)?;
                }
                // Between an exit and the restart its policy makes: the stop stands.
                if record.config.restart.is_set() && !record.state.stopped_by_user {
                    record.state.stopped_by_user = true;
                    self.save(&record)?;
                }
                return Err(EngineError::NotModified(format!(
                    "container {id} is already stopped"
                )));
            }
            let runtime = self.runtime(&record.config.runtime)?;
            let mut oci = self.oci_container(&record);
            if let Some(signal) = signal {
                oci.stop_signal = signal;
            }
            if !runtime.check_conmon_running(&oci)? {
                self.handle_dead_monitor(&mut record)?;
                self.cleanup_runtime(&mut record)?;
                return Ok(record);
            }
            let paused = record.state.status == Status::Paused;
            // Created in the runtime (`init`), its command never started: the runtime's
            // process waiting there gets SIGKILL at once, not a stop signal that crun's
            // leaves unanswered for the whole stop timeout. Nothing of the container's
            // own has run that a stop signal would let finish.
            let timeout = if record.state.status == Status::Created {
                Some(0)
            } else {
                timeout
            };
            transition(&mut record, Status::Stopping)?;
            record.state.stopped_by_user = true;
            let me = std::process::id() as i32;
            record.state.stopping_pid = me;
            record.state.stopping_start = rpod_oci::process::start_time(me).unwrap_or(0);
            self.save(&record)?;
            (
                oci,
                runtime,
                timeout.unwrap_or(record.config.stop_timeout),
                paused,
            )
        };
        // The lock is released while waiting, so that other commands (and the cleanup
        // command conmon runs) are not blocked by a long stop.
        let stopped = if paused {
            kill_frozen(runtime.as_ref(), &oci)
                .and_then(|_| runtime.stop_container(&oci, 0, oci.stop_with_all()))
        } else {
            runtime.stop_container(&oci, timeout, oci.stop_with_all())
        };
        if let Err(e) = stopped {
            if pid_alive(oci.pid) {
                // The container still runs: it is not stopping any more.
                self.undo_stopping(&id, paused)?;
                return Err(e.into());
            }
        }
        self.wait_for_exit(&id, oci.conmon_pid)?;
        let record = self.store.container(&id)?.unwrap_or(found);
        self.container_event(&record, "stop", &[]);
        Ok(record)
    }

    /// Kill a container with its lock held, and record its exit: for a removal, which must
    /// not let go of the container between the kill and its end. (A stop lets go while it
    /// waits, `stop_with_signal`.) The monitor's exit command, which waits for the lock,
    /// finds the container gone afterwards.
    pub(super) fn kill_holding_lock(&self, record: &mut ContainerRecord) -> Result<()> {
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        if !runtime.check_conmon_running(&oci)? {
            return self.handle_dead_monitor(record);
        }
        if record.state.status == Status::Paused {
            let _ = kill_frozen(runtime.as_ref(), &oci);
        }
        if let Err(e) = runtime.stop_container(&oci, 0, oci.stop_with_all()) {
            if pid_alive(oci.pid) {
                return Err(e.into());
            }
        }
        let exit_file = self.exit_file(record)?;
        wait_exit_file(&exit_file, EXIT_FILE_TIMEOUT, || {
            !runtime.check_conmon_running(&oci).unwrap_or(false)
        })?;
        self.sync(record)?;
        if record.state.status.is_active() {
            self.handle_dead_monitor(record)?;
        }
        Ok(())
    }

    /// A stop that failed leaves the container as it was, never `Stopping`.
    pub(super) fn undo_stopping(&self, id: &str, paused: bool) -> Result<()> {
        let _lock = self.lock(id)?;
        let Some(mut record) = self.store.container(id)? else {
            return Ok(());
        };
        if record.state.status == Status::Stopping {
            transition(
                &mut record,
                if paused {
                    Status::Paused
                } else {
                    Status::Running
                },
            )?;
            record.state.stopped_by_user = false;
            self.save(&record)?;
        }
        Ok(())
    }

    /// Send a signal to the container's init process.
    pub fn kill(&self, name_or_id: &str, signal: i32) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        let id = found.id().to_string();
        let oci = {
            let _lock = self.lock(&id)?;
            let mut record = self.reload(&id, name_or_id)?;
            self.sync(&mut record)?;
            if !record.state.status.can_kill() {
                return Err(EngineError::state(
                    &id,
                    format!(
                        "can only kill running containers. {} is in state {}",
                        id,
                        record.state.status.as_str()
                    ),
                ));
            }
            let runtime = self.runtime(&record.config.runtime)?;
            let oci = self.oci_container(&record);
            if !runtime.check_conmon_running(&oci)? {
                if signal == libc::SIGKILL {
                    self.handle_dead_monitor(&mut record)?;
                    self.cleanup_runtime(&mut record)?;
                    return Ok(record);
                }
            } else if signal == libc::SIGKILL {
                record.state.stopped_by_user = true;
                self.save(&record)?;
            }
            if record.state.status == Status::Paused && signal == libc::SIGKILL {
                kill_frozen(runtime.as_ref(), &oci)?;
            } else {
                runtime.kill_container(&oci, signal, false)?;
            }
            self.container_event(&record, "kill", &[("signal", signal.to_string())]);
            oci
        };
        if signal == libc::SIGKILL {
            self.wait_for_exit(&id, oci.conmon_pid)?;
        }
        Ok(self.store.container(&id)?.unwrap_or(found))
    }

    pub fn pause(&self, name_or_id: &str) -> Result<ContainerRecord> {
        self.freeze(name_or_id, true)
    }

    pub fn unpause(&self, name_or_id: &str) -> Result<ContainerRecord> {
        self.freeze(name_or_id, false)
    }

    pub(super) fn freeze(&self, name_or_id: &str, pause: bool) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        let (needed, next, verb) = if pause {
            (Status::Running, Status::Paused, "pause")
        } else {
            (Status::Paused, Status::Running, "unpause")
        };
        if pause && record.state.status == Status::Paused {
            return Err(EngineError::state(
                record.id(),
                format!("\"{}\" is already paused", record.id()),
            ));
        }
        if record.state.status != needed {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "\"{}\" is not {}, can't {verb}",
                    record.id(),
                    if pause { "running" } else { "paused" }
                ),
            ));
        }
        needs_cgroup(&record, verb)?;
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(&record);
        if pause {
            runtime.pause_container(&oci)?;
        } else {
            runtime.unpause_container(&oci)?;
        }
        transition(&mut record, next)?;
        self.save(&record)?;
        self.container_event(&record, verb, &[]);
        Ok(record)
    }
}

/// A frozen process acts on no signal: SIGKILL every process, then thaw them so they die.
pub(super) fn kill_frozen(runtime: &dyn OciRuntime, oci: &OciContainer) -> rpod_oci::Result<()> {
    let killed = runtime.kill_container(oci, libc::SIGKILL, oci.stop_with_all());
    let _ = runtime.unpause_container(oci);
    killed
}

pub(super) fn wait_pid_gone_quietly(pid: i32, timeout: Duration) {
    if !rpod_oci::process::wait_pid_gone(pid, timeout) {
        tracing::warn!(pid, "conmon is still running after the container exited");
    }
}
