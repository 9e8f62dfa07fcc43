//! `rpod healthcheck run`: the container's check command as an exec session whose output
//! is kept, stopped at its timeout, and its verdict recorded in the container's state.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::health::{HealthLogEntry, MAX_OUTPUT};

/// The output of a check, kept in memory up to a limit.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let room = MAX_OUTPUT.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Engine {
    /// Run the container's health check once and record the result; returns the status
    /// (`healthy`, `unhealthy` or `starting`).
    pub fn healthcheck_run(&self, name_or_id: &str) -> Result<String> {
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
        let start = Utc::now();
        let captured = Captured::default();
        let streams = rpod_oci::AttachStreams {
            output: Some(Box::new(captured.clone())),
            error: Some(Box::new(captured.clone())),
            input: None,
            attach_output: true,
            attach_error: true,
            attach_input: false,
            hangup: None,
        };
        let request = ExecRequest {
            cmd: check.argv(),
            ..ExecRequest::default()
        };
        let exit_code = match self.exec_start(record.id(), &request, Some(streams), None) {
            Ok(started) => {
                let session = started.session_id.clone();
                let timeout = Duration::from_secs(check.timeout_secs.max(1));
                let (done, finished) = std::sync::mpsc::channel::<()>();
                // The check is stopped at its timeout; the attach then ends.
                let stopper = {
                    let id = record.id().to_string();
                    std::thread::scope(|scope| {
                        let (id, session) = (&id, &session);
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
                    })
                };
                match stopper {
                    (_, true) => {
                        let mut out = captured.0.lock().unwrap_or_else(|p| p.into_inner());
                        out.extend_from_slice(
                            format!("Healthcheck command timed out after {}s", timeout.as_secs())
                                .as_bytes(),
                        );
                        1
                    }
                    (Ok(code), false) => code,
                    (Err(e), false) => {
                        let mut out = captured.0.lock().unwrap_or_else(|p| p.into_inner());
                        out.extend_from_slice(e.to_string().as_bytes());
                        // podman's code for a check that could not be run.
                        125
                    }
                }
            }
            // A command that cannot be found or run is a failed check.
            Err(e) => {
                let mut out = captured.0.lock().unwrap_or_else(|p| p.into_inner());
                out.extend_from_slice(e.to_string().as_bytes());
                125
            }
        };
        let output = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner()))
            .into_owned();
        let entry = HealthLogEntry {
            start,
            end: Utc::now(),
            exit_code,
            output,
        };
        let _lock = self.lock(record.id())?;
        let mut current = self.reload(record.id(), name_or_id)?;
        let in_start_period = current.state.started_at.is_some_and(|started| {
            (start - started).num_seconds() < i64::try_from(check.start_period_secs).unwrap_or(0)
        });
        let mut health = current
            .state
            .health
            .take()
            .unwrap_or_else(crate::health::HealthState::starting);
        health.record(&check, entry, in_start_period);
        let status = health.status.clone();
        current.state.health = Some(health);
        self.save(&current)?;
        self.container_event(
            &current,
            "health_status",
            &[("health_status", status.clone())],
        );
        Ok(status)
    }
}
