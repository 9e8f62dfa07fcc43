//! Exec instances of the API. Docker's exec is two calls (create, then start), and its
//! exit code is read after the session ended; the engine's sessions live only while they
//! run. The service keeps each instance here from create until a while after it ended.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rpod_engine::ExecRequest;

use crate::error::ApiError;

pub fn no_such_exec(id: &str) -> ApiError {
    ApiError::not_found(format!("No such exec instance: {id}")).with_cause("no such exec session")
}

/// Ended instances are forgotten after this long, and the oldest ones past this count.
const KEEP_ENDED: Duration = Duration::from_secs(3600);
const MAX_INSTANCES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecState {
    Created,
    Running {
        pid: i32,
        session_id: String,
        detached: bool,
    },
    Exited {
        pid: i32,
        /// `None` when nobody could collect it (a detached session's exit).
        code: Option<i32>,
    },
}

#[derive(Debug, Clone)]
pub struct ExecInstance {
    pub id: String,
    pub container_id: String,
    pub request: ExecRequest,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub state: ExecState,
    pub created: Instant,
    pub ended: Option<Instant>,
}

#[derive(Default)]
pub struct ExecRegistry {
    instances: Mutex<HashMap<String, ExecInstance>>,
}

impl ExecRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecInstance>> {
        // A panicked handler leaves consistent entries (each update is one assignment).
        self.instances.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert(&self, instance: ExecInstance) {
        let mut instances = self.lock();
        instances.retain(|_, i| i.ended.is_none_or(|t| t.elapsed() < KEEP_ENDED));
        if instances.len() >= MAX_INSTANCES {
            // Forget the oldest instances that are not running.
            let mut idle: Vec<(Instant, String)> = instances
                .values()
                .filter(|i| !matches!(i.state, ExecState::Running { .. }))
                .map(|i| (i.created, i.id.clone()))
                .collect();
            idle.sort();
            for (_, id) in idle.iter().take(instances.len() + 1 - MAX_INSTANCES) {
                instances.remove(id);
            }
        }
        instances.insert(instance.id.clone(), instance);
    }

    pub fn get(&self, id: &str) -> Option<ExecInstance> {
        self.lock().get(id).cloned()
    }

    /// Move an instance from `Created` to `Running`, once: a second start is refused.
    pub fn claim(&self, id: &str) -> Result<ExecInstance, ApiError> {
        let mut instances = self.lock();
        match instances.get_mut(id) {
            Some(instance) if instance.state == ExecState::Created => {
                instance.state = ExecState::Running {
                    pid: 0,
                    session_id: String::new(),
                    detached: false,
                };
                Ok(instance.clone())
            }
            Some(instance) => Err(ApiError::conflict(match instance.state {
                ExecState::Exited { .. } => format!("exec session {id} has already exited"),
                _ => format!("exec session {id} is already running"),
            })),
            None => Err(no_such_exec(id)),
        }
    }

    pub fn set_state(&self, id: &str, state: ExecState) {
        if let Some(instance) = self.lock().get_mut(id) {
            if matches!(state, ExecState::Exited { .. }) {
                instance.ended = Some(Instant::now());
            }
            instance.state = state;
        }
    }

    /// The ids of a container's instances.
    pub fn of_container(&self, container_id: &str) -> Vec<String> {
        self.lock()
            .values()
            .filter(|i| i.container_id == container_id)
            .map(|i| i.id.clone())
            .collect()
    }

    pub fn forget_container(&self, container_id: &str) {
        self.lock().retain(|_, i| i.container_id != container_id);
    }
}
