//! `rpod healthcheck run`: the container's check command as an exec session whose output
//! is kept, stopped at its timeout, and its verdict recorded in the container's state.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::health::{HealthLogEntry, MAX_OUTPUT};

/// Output kept in memory up to a limit.
#[derive(Clone)]
struct Kept {
    data: Arc<Mutex<Vec<u8>>>,
    limit: usize,
}

impl Write for Kept {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut kept = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let room = self.limit.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a command run in a container by rpod itself printed and how it ended.
pub(super) struct Captured {
    pub exit_code: i32,
    /// Its output and error output together, at most the limit asked for.
    pub output: Vec<u8>,
    /// It was stopped at its timeout.
    pub timed_out: bool,
}

/// What one `healthcheck run` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRun {
    /// The container's health after it: `healthy`, `unhealthy` or `starting`.
    pub status: String,
    /// The startup check ran and has not passed yet (it failed, or needs more passes).
    pub startup_pending: bool,
    /// This run's command passed (exited 0 in time).
    pub passed: bool,
}

impl Engine {
    /// Run the container's health check once and record the result: its startup check
    /// instead, until that has passed since the last start.
    pub fn healthcheck_run(&self, name_or_id: &str) -> Result<HealthRun> {
        let record = self.inspect(name_or_id)?;
        let Some(check) = record.config.healthcheck.clone() else {
            return Err(EngineError::InvalidArg(format!(
                "container {} has no defined healthcheck",
                record.id()
            )));
        };
        if record.state.status != Status::Running {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "container {} is not running: it is {}",
                    record.id(),
                    record.state.status.as_str()
                ),
            ));
        }
        let startup = check.startup.as_ref().filter(|_| {
            !record
                .state
                .health
                .as_ref()
                .is_some_and(|h| h.startup_passed)
        });
        if let Some(startup) = startup {
            let entry = self.run_check(record.id(), startup.argv(), startup.timeout_secs);
            return self.record_startup(&record, name_or_id, startup, entry);
        }
        let entry = self.run_check(record.id(), check.argv(), check.timeout_secs);
        let passed = entry.exit_code == 0;
        let status = self.record_health(&record, name_or_id, &check, entry)?;
        if status == "unhealthy" {
            self.act_on_failure(record.id(), check.on_failure)?;
        }
        Ok(HealthRun {
            status,
            startup_pending: false,
            passed,
        })
    }

    /// Run a check's command in the container, stopped at its timeout: its log entry.
    fn run_check(&self, id: &str, argv: Vec<String>, timeout_secs: u64) -> HealthLogEntry {
        let start = Utc::now();
        let timeout = Duration::from_secs(timeout_secs.max(1));
        let ran = self.exec_captured(id, argv, timeout, MAX_OUTPUT);
        let (exit_code, output) = match ran {
            Ok(Captured {
                exit_code,
                output,
                timed_out: false,
            }) => (exit_code, output),
            Ok(Captured {
                mut output,
                timed_out: true,
                ..
            }) => {
                output.extend_from_slice(
                    format!("Healthcheck command timed out after {}s", timeout.as_secs())
                        .as_bytes(),
                );
                (1, output)
            }
            // A command that cannot be found or run is a failed check (podman's code for a
            // check that could not be run).
            Err(e) => (125, e.to_string().into_bytes()),
        };
        HealthLogEntry {
            start,
            end: Utc::now(),
            exit_code,
            output: String::from_utf8_lossy(&output).into_owned(),
        }
    }

    /// Record a startup check's result; the container is restarted when the startup has
    /// failed its retries.
    fn record_startup(
        &self,
        record: &ContainerRecord,
        name_or_id: &str,
        startup: &crate::health::StartupCheck,
        entry: HealthLogEntry,
    ) -> Result<HealthRun> {
        use crate::health::StartupVerdict;
        let verdict = self.update_health(record, name_or_id, |health, started_at| {
            let counts = started_at.is_none_or(|started| {
                (entry.start - started).num_seconds()
                    >= i64::try_from(startup.delay_secs).unwrap_or(i64::MAX)
            });
            let verdict = health.record_startup(startup, entry, counts);
            // Only the pass changes what the status means: the check's schedule begins.
            (verdict, verdict == StartupVerdict::Passed)
        })?;
        if verdict == StartupVerdict::Failed {
            // As podman's: a startup that fails its retries restarts the container.
            self.restart(record.id(), None)?;
        }
        Ok(HealthRun {
            status: "starting".into(),
            startup_pending: verdict != StartupVerdict::Passed,
            passed: verdict == StartupVerdict::Passed,
        })
    }

    /// Record one check's result in the container's health; its status after it.
    fn record_health(
        &self,
        record: &ContainerRecord,
        name_or_id: &str,
        check: &crate::health::HealthCheck,
        entry: HealthLogEntry,
    ) -> Result<String> {
        self.update_health(record, name_or_id, |health, started_at| {
            let in_start_period = started_at.is_some_and(|started| {
                (entry.start - started).num_seconds()
                    < i64::try_from(check.start_period_secs).unwrap_or(0)
            });
            health.record(check, entry, in_start_period);
            (health.status.clone(), true)
        })
    }

    /// Change the container's health under its lock (`change` gets it and the time of the
    /// last start, and says whether a `health_status` event is due) and save it.
    fn update_health<T>(
        &self,
        record: &ContainerRecord,
        name_or_id: &str,
        change: impl FnOnce(&mut crate::health::HealthState, Option<chrono::DateTime<Utc>>) -> (T, bool),
    ) -> Result<T> {
        let _lock = self.lock(record.id())?;
        let mut current = self.reload(record.id(), name_or_id)?;
        let mut health = current
            .state
            .health
            .take()
            .unwrap_or_else(crate::health::HealthState::starting);
        let (outcome, event) = change(&mut health, current.state.started_at);
        let status = health.status.clone();
        current.state.health = Some(health);
        self.save(&current)?;
        if event {
            self.container_event(&current, "health_status", &[("health_status", status)]);
        }
        Ok(outcome)
    }

    /// `--health-on-failure`: what a check that leaves the container unhealthy does to it,
    /// as podman's (a restart with the container's stop timeout).
    fn act_on_failure(&self, id: &str, action: crate::health::OnFailure) -> Result<()> {
        use crate::health::OnFailure;
        match action {
            OnFailure::None => {}
            OnFailure::Kill => {
                self.kill(id, libc::SIGKILL)?;
            }
            OnFailure::Restart => {
                self.restart(id, None)?;
            }
            OnFailure::Stop => {
                self.stop(id, None)?;
            }
        }
        Ok(())
    }

    /// Run `argv` in running container `id` as an exec session of rpod's own (health
    /// checks, `top`'s `ps`), its output kept up to `limit` bytes, stopped after `timeout`.
    pub(super) fn exec_captured(
        &self,
        id: &str,
        argv: Vec<String>,
        timeout: Duration,
        limit: usize,
    ) -> Result<Captured> {
        let kept = Kept {
            data: Arc::default(),
            limit,
        };
        let streams = rpod_oci::AttachStreams {
            output: Some(Box::new(kept.clone())),
            error: Some(Box::new(kept.clone())),
            input: None,
            attach_output: true,
            attach_error: true,
            attach_input: false,
            hangup: None,
        };
        let request = ExecRequest {
            cmd: argv,
            ..ExecRequest::default()
        };
        let started = self.exec_start(id, &request, Some(streams), None)?;
        let session = started.session_id.clone();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        // The command is stopped at its timeout; the attach then ends.
        let (code, timed_out) = std::thread::scope(|scope| {
            let session = &session;
            let watcher = scope.spawn(move || {
                if finished.recv_timeout(timeout).is_err() {
                    let _ = self.exec_stop(id, session, 0);
                    return true;
                }
                false
            });
            let code = self.exec_finish(started);
            let _ = done.send(());
            (code, watcher.join().unwrap_or(false))
        });
        let output = std::mem::take(&mut *kept.data.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(Captured {
            exit_code: if timed_out { 1 } else { code? },
            output,
            timed_out,
        })
    }
}
