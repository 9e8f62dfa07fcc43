//! Waiting for a container: until it stops running (the default), exits next, is removed,
//! or reaches one of libpod's states; bounded by a deadline and cancellable, for a service
//! whose clients may go away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rpod_oci::exitfile::ExitHandover;
use rpod_oci::process::{pid_alive, wait_pid_exit};

use super::{Engine, UNKNOWN_MONITOR_ROUNDS, WAIT_BACKOFF_MAX_MS};
use crate::container::{ContainerRecord, Status};
use crate::{EngineError, Result};

/// How often a wait that cannot block on a process checks its condition, its deadline and
/// its cancel flag.
const POLL: Duration = Duration::from_millis(100);
/// How long one round waits for an exit file when nothing else bounds it (the monitor's
/// liveness is checked all along); then the state is synced and the round repeated.
const EXIT_FILE_ROUND: Duration = Duration::from_secs(30);

/// What a wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Not running: never started, stopped or exited (Docker's `not-running`).
    NotRunning,
    /// An exit that happens after the wait began (Docker's `next-exit`).
    NextExit,
    /// The container is gone (Docker's `removed`).
    Removed,
    /// One of libpod's states.
    State(Status),
}

impl std::str::FromStr for WaitCondition {
    type Err = EngineError;
    fn from_str(text: &str) -> Result<Self> {
        Ok(match text {
            "not-running" => WaitCondition::NotRunning,
            "next-exit" => WaitCondition::NextExit,
            "removed" => WaitCondition::Removed,
            "configured" | "created" => WaitCondition::State(Status::Configured),
            "initialized" => WaitCondition::State(Status::Created),
            "running" => WaitCondition::State(Status::Running),
            "paused" => WaitCondition::State(Status::Paused),
            "stopping" => WaitCondition::State(Status::Stopping),
            "stopped" => WaitCondition::State(Status::Stopped),
            "exited" => WaitCondition::State(Status::Exited),
            "removing" => WaitCondition::State(Status::Removing),
            other => {
                return Err(EngineError::InvalidArg(format!(
                    "invalid wait condition {other:?}: use not-running, next-exit, removed or a container state"
                )))
            }
        })
    }
}

/// How to wait.
#[derive(Debug, Clone, Default)]
pub struct WaitOptions {
    /// Any one of them ends the wait; none means `NotRunning`.
    pub conditions: Vec<WaitCondition>,
    /// Give up at this moment.
    pub deadline: Option<Instant>,
    /// Give up once this is set (a client that went away).
    pub cancel: Option<Arc<AtomicBool>>,
    /// The monitor's exit-command handover, joined before the container could exit
    /// (`Engine::exit_handover`); otherwise the wait joins it when it begins waiting.
    pub handover: Option<Arc<ExitHandover>>,
}

/// A wait that has begun (see `Engine::wait_begin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitBegun {
    /// The container was gone already: the outcome is known.
    Gone(WaitOutcome),
    /// Watching the container, whose last exit (if any) finished at `finished_at`.
    Watching {
        id: String,
        finished_at: Option<DateTime<Utc>>,
    },
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A condition was met. `status` is `None` when the container is gone; `exit_code` is
    /// its last exit code, if it ever exited.
    Met {
        status: Option<Status>,
        exit_code: Option<i32>,
    },
    TimedOut,
    Cancelled,
}

fn not_running(status: Status) -> bool {
    matches!(
        status,
        Status::Configured | Status::Exited | Status::Stopped | Status::Removing
    )
}

fn met(
    record: &ContainerRecord,
    conditions: &[WaitCondition],
    started_finished: Option<DateTime<Utc>>,
) -> bool {
    let status = record.state.status;
    conditions.iter().any(|condition| match condition {
        WaitCondition::NotRunning => not_running(status),
        WaitCondition::NextExit => {
            not_running(status)
                && record
                    .state
                    .finished_at
                    .is_some_and(|f| Some(f) != started_finished)
        }
        WaitCondition::Removed => false,
        WaitCondition::State(wanted) => {
            status == *wanted || (*wanted == Status::Exited && status == Status::Stopped)
        }
    })
}

impl Engine {
    /// Wait until the container exits; returns its exit code. A container that never ran
    /// returns 0 at once, and one that was removed its kept exit code.
    pub fn wait(&self, name_or_id: &str) -> Result<i32> {
        self.wait_exit_code(name_or_id, &WaitOptions::default())
    }

    /// `wait` with options (a handover joined earlier; neither deadline nor cancel flag).
    pub fn wait_exit_code(&self, name_or_id: &str, options: &WaitOptions) -> Result<i32> {
        match self.wait_for(name_or_id, options)? {
            WaitOutcome::Met { exit_code, status } => Ok(exit_code.unwrap_or(match status {
                Some(_) => 0,
                None => -1,
            })),
            // Neither can happen without a deadline or a cancel flag.
            WaitOutcome::TimedOut | WaitOutcome::Cancelled => Ok(-1),
        }
    }

    /// Wait for any of `options.conditions`.
    pub fn wait_for(&self, name_or_id: &str, options: &WaitOptions) -> Result<WaitOutcome> {
        let begun = self.wait_begin(name_or_id, options)?;
        self.wait_on(begun, options)
    }

    /// The first half of a wait: find the container and note where it stands, so that
    /// "the next exit" means an exit after this call. A service calls it before it tells
    /// its client that the wait is set up (the client may start the container at once),
    /// then `wait_on`.
    pub fn wait_begin(&self, name_or_id: &str, options: &WaitOptions) -> Result<WaitBegun> {
        let wants_removed = options.conditions.contains(&WaitCondition::Removed);
        let gone = |engine: &Engine, id: &str| -> Result<WaitBegun> {
            Ok(WaitBegun::Gone(WaitOutcome::Met {
                status: None,
                exit_code: engine.store.exit_code(id)?,
            }))
        };
        let id = match self.lookup(name_or_id) {
            Ok(found) => found.id().to_string(),
            // A full id of a container that is gone (e.g. removed by --rm): its exit code
            // is kept.
            Err(EngineError::NoSuchContainer(_)) => {
                let kept = self.store.exit_code(name_or_id)?;
                if wants_removed || kept.is_some() {
                    return gone(self, name_or_id);
                }
                return Err(EngineError::NoSuchContainer(name_or_id.to_string()));
            }
            Err(e) => return Err(e),
        };
        let Some(record) = self.store.container(&id)? else {
            return gone(self, &id);
        };
        Ok(WaitBegun::Watching {
            id,
            finished_at: record.state.finished_at,
        })
    }

    /// The second half of a wait (see `wait_begin`).
    pub fn wait_on(&self, begun: WaitBegun, options: &WaitOptions) -> Result<WaitOutcome> {
        let (id, started_finished) = match begun {
            WaitBegun::Gone(outcome) => return Ok(outcome),
            WaitBegun::Watching { id, finished_at } => (id, finished_at),
        };
        let conditions: Vec<WaitCondition> = if options.conditions.is_empty() {
            vec![WaitCondition::NotRunning]
        } else {
            options.conditions.clone()
        };
        let gone = |engine: &Engine, id: &str| -> Result<WaitOutcome> {
            Ok(WaitOutcome::Met {
                status: None,
                exit_code: engine.store.exit_code(id)?,
            })
        };
        // Only conditions about the end of the process can block on it; the rest poll.
        let blocks_on_process = conditions
            .iter()
            .all(|c| matches!(c, WaitCondition::NotRunning | WaitCondition::NextExit))
            && options.deadline.is_none()
            && options.cancel.is_none();
        // Rounds in which neither the monitor nor the process could be waited for (their
        // PIDs unknown or already gone) and no exit was recorded: back off instead of
        // spinning, and give up on a monitor that is not there.
        let mut idle_rounds = 0u32;
        loop {
            let Some(record) = self.store.container(&id)? else {
                return gone(self, &id);
            };
            if met(&record, &conditions, started_finished) {
                return Ok(WaitOutcome::Met {
                    status: Some(record.state.status),
                    exit_code: record.state.exit_code,
                });
            }
            if options
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::SeqCst))
            {
                return Ok(WaitOutcome::Cancelled);
            }
            let slice = match options.deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(WaitOutcome::TimedOut);
                    }
                    Some(left.min(POLL))
                }
                None if blocks_on_process => None,
                None => Some(POLL),
            };
            let conmon_pid = record.state.conmon_pid;
            let blocked = pid_alive(conmon_pid) || pid_alive(record.state.pid);
            // Without a restart policy the exit file settles it: the waiter records the exit
            // and cleans up itself, without waiting for the monitor's exit command (a process
            // of its own) to do it. With one, the exit command decides about the restart, so
            // the wait lasts until the monitor, which outlives that command, is gone.
            let settled_by_exit_file = !record.config.restart.is_set()
                && record.state.pid > 0
                && matches!(
                    record.state.status,
                    Status::Running | Status::Paused | Status::Stopping
                );
            // Held while this waiter waits and handles the exit: the monitor then need not
            // run its exit command (rpod-monitor's handover; see exitfile::ExitHandover).
            let mut handover = None;
            if settled_by_exit_file {
                handover = options
                    .handover
                    .clone()
                    .or_else(|| self.exit_handover(&record).map(Arc::new));
                // The exit file, not the PID (which may be reused), says the process ended.
                let exit_file = self.exit_file(&record)?;
                rpod_oci::exitfile::wait_exit_file(
                    &exit_file,
                    slice.unwrap_or(EXIT_FILE_ROUND),
                    || !pid_alive(conmon_pid),
                )?;
            } else if record.state.status.is_active() {
                // Until the monitor (which outlives its cleanup command) and the container's
                // process are both gone, or the slice is over.
                wait_pid_exit(conmon_pid, slice);
                wait_pid_exit(record.state.pid, slice);
            } else {
                // Waiting for a state the container may reach later (started, removed).
                std::thread::sleep(slice.unwrap_or(POLL));
            }
            if !blocked && record.state.status.is_active() {
                idle_rounds += 1;
                std::thread::sleep(Duration::from_millis(
                    (10u64 << idle_rounds.min(5)).min(WAIT_BACKOFF_MAX_MS),
                ));
            }
            let _lock = self.lock(&id)?;
            let Some(mut record) = self.store.container(&id)? else {
                return gone(self, &id);
            };
            self.sync(&mut record)?;
            if settled_by_exit_file && record.state.status == Status::Stopped {
                // What the exit command would do: a `--rm` container is gone when the wait
                // returns, as after podman's wait.
                self.finish_exited(&mut record)?;
                if let Some(handover) = &handover {
                    handover.handled();
                }
                if self.store.container(&id)?.is_none() {
                    return gone(self, &id);
                }
            }
            let process_gone = !pid_alive(record.state.pid);
            let monitor_unknown = record.state.conmon_pid <= 0;
            if record.state.status.is_active()
                && process_gone
                && (record.state.status == Status::Created
                    || (monitor_unknown && idle_rounds >= UNKNOWN_MONITOR_ROUNDS))
            {
                self.record_monitor_death(&mut record)?;
            }
        }
    }
}
