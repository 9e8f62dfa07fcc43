//! Exec sessions: a command run in a running container through conmon's exec mode. A
//! session is recorded with its container while it runs and removed when it ends; one that
//! fails to start leaves nothing behind.

use std::time::Duration;

use chrono::Utc;

use rpod_oci::{
    AttachStreams, ExecAttachResult, ExecOptions, HttpAttachOptions, OciError, TerminalSize,
};

use super::Engine;
use crate::container::{ContainerRecord, ExecSession, Status};
use crate::names::random_id;
use crate::{spec, EngineError, Result};

/// How long the exit file of an ended session may take to appear.
const EXEC_EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// What `exec` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    /// `KEY=VALUE` entries added to the container's environment (the caller expands a bare
    /// `KEY` from its own environment, as it does for `run -e`); a bare `KEY` left is taken
    /// away from the process's environment, as Docker's exec takes it.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// `user[:group]`, names resolved in the container.
    pub user: Option<String>,
    pub terminal: bool,
    pub privileged: bool,
    /// Descriptors given to the process as its 3, 4, ... (`--preserve-fds`).
    pub pass_fds: Vec<std::sync::Arc<std::os::fd::OwnedFd>>,
    pub detach_keys: Option<String>,
}

/// Where an exec session's streams go.
enum ExecIo {
    Streams(AttachStreams),
    Http(HttpAttachOptions),
    Detached,
}

/// A detached session attached to again ([`Engine::exec_reattach`]).
pub struct ExecReattached {
    pub container: ContainerRecord,
    pub session: ExecSession,
    handover: Option<rpod_oci::exitfile::ExitHandover>,
}

/// A started session.
pub struct ExecStarted {
    pub container: ContainerRecord,
    pub session_id: String,
    pub pid: i32,
    /// For attached sessions: delivers the end of the attach.
    pub attach: Option<ExecAttachResult>,
    /// An attached session's part in its monitor's exit-command handover: the client
    /// removes the session itself, so the monitor need not start `rpod container cleanup`.
    handover: Option<rpod_oci::exitfile::ExitHandover>,
}

impl Engine {
    fn exec_options(
        &self,
        record: &ContainerRecord,
        request: &ExecRequest,
        session_id: &str,
    ) -> Result<ExecOptions> {
        let (pairs, unset_env): (Vec<&String>, Vec<&String>) =
            request.env.iter().partition(|e| e.contains('='));
        let mut env: Vec<(String, String)> = pairs
            .into_iter()
            .filter_map(|e| e.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let unset_env = unset_env.into_iter().cloned().collect();
        let (user, additional_gids) = match &request.user {
            Some(user) => {
                let resolved = spec::resolve_user(&self.root_path(record), user)?;
                if !env.iter().any(|(k, _)| k == "HOME") {
                    env.push(("HOME".into(), resolved.home.clone()));
                }
                let numeric = format!("{}:{}", resolved.uid, resolved.gid);
                (Some(numeric), resolved.listed_gids)
            }
            None => (None, Vec::new()),
        };
        let exit_command = self.exit_command(record.id(), Some(session_id));
        Ok(ExecOptions {
            cmd: request.cmd.clone(),
            env,
            unset_env,
            terminal: request.terminal,
            cwd: request.workdir.clone(),
            user,
            additional_gids,
            streams: None,
            pass_fds: request.pass_fds.clone(),
            detach_keys: request.detach_keys.clone(),
            exit_command,
            exit_command_delay: 0,
            privileged: request.privileged,
        })
    }

    /// Start a session. With `streams` it is attached (the caller then calls
    /// [`Engine::exec_finish`]); without, it runs detached and its exit command cleans up.
    pub fn exec_start(
        &self,
        name_or_id: &str,
        request: &ExecRequest,
        streams: Option<AttachStreams>,
        initial_size: Option<TerminalSize>,
    ) -> Result<ExecStarted> {
        let io = match streams {
            Some(streams) => ExecIo::Streams(streams),
            None => ExecIo::Detached,
        };
        self.exec_start_with(name_or_id, request, io, initial_size)
    }

    /// Start a session attached to a hijacked HTTP connection (the REST service's exec
    /// start); collected with [`Engine::exec_finish`] like any attached session.
    pub fn exec_start_http(
        &self,
        name_or_id: &str,
        request: &ExecRequest,
        connection: HttpAttachOptions,
        initial_size: Option<TerminalSize>,
    ) -> Result<ExecStarted> {
        self.exec_start_with(name_or_id, request, ExecIo::Http(connection), initial_size)
    }

    fn exec_start_with(
        &self,
        name_or_id: &str,
        request: &ExecRequest,
        io: ExecIo,
        initial_size: Option<TerminalSize>,
    ) -> Result<ExecStarted> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        match record.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::state(
                    record.id(),
                    format!("container {} is paused, cannot exec into it", record.id()),
                ))
            }
            other => {
                return Err(EngineError::state(
                    record.id(),
                    format!(
                        "can only create exec sessions on running containers: container {} is {}",
                        record.id(),
                        other.as_str()
                    ),
                ))
            }
        }
        if request.cmd.is_empty() {
            return Err(EngineError::InvalidArg("exec needs a command".into()));
        }
        if !record.config.no_cgroups {
            // The runtime moves the session's process into the container's cgroups.
            rpod_oci::cgroup_prime::prime_cgroup_moves();
        }
        let session_id = random_id();
        let mut options = self.exec_options(&record, request, &session_id)?;
        let attached = !matches!(io, ExecIo::Detached);
        let mut session = ExecSession {
            id: session_id.clone(),
            container_id: record.id().to_string(),
            cmd: request.cmd.clone(),
            terminal: request.terminal,
            pid: 0,
            waited_for: attached,
            client_pid: if attached {
                std::process::id() as i32
            } else {
                0
            },
            client_start: if attached {
                rpod_oci::process::start_time(std::process::id() as i32).unwrap_or(0)
            } else {
                0
            },
            created: Utc::now(),
        };
        self.store.save_exec_session(&session)?;
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(&record);
        // Joined before the session starts: however soon it ends, its client handles it.
        let handover = attached
            .then(|| runtime.exec_handover(&oci, &session_id))
            .flatten();
        let started = match io {
            ExecIo::Streams(streams) => {
                options.streams = Some(streams);
                runtime
                    .exec_container(&oci, &session_id, options, initial_size)
                    .map(|(pid, receiver)| (pid, Some(receiver)))
            }
            ExecIo::Http(connection) => runtime
                .exec_container_http(&oci, &session_id, options, connection, initial_size)
                .map(|(pid, receiver)| (pid, Some(receiver))),
            ExecIo::Detached => runtime
                .exec_container_detached(&oci, &session_id, options, false)
                .map(|pid| (pid, None)),
        };
        let (pid, attach) = match started {
            Ok(started) => started,
            Err(e) => {
                // A session that never ran leaves nothing behind.
                self.store
                    .remove_exec_sessions(Some(&session_id), record.id())?;
                let _ = runtime.exec_remove(&oci, &session_id);
                return Err(e.into());
            }
        };
        session.pid = pid;
        self.store.save_exec_session(&session)?;
        let mut event =
            Self::new_container_event(&record, "exec", &[("execID", session_id.clone())]);
        event.command = request.cmd.join(" ");
        self.record_event(&event);
        Ok(ExecStarted {
            container: record,
            session_id,
            pid,
            attach,
            handover,
        })
    }

    /// Collect an attached session: its exit code once the attach ended, after which the
    /// session is removed. After a detach the session goes on and its exit command cleans up.
    pub fn exec_finish(&self, started: ExecStarted) -> Result<i32> {
        let ExecStarted {
            container,
            session_id,
            attach,
            handover,
            ..
        } = started;
        let result = match attach {
            Some(receiver) => receiver.recv().unwrap_or_else(|_| {
                Err(OciError::InvalidArg("exec attach ended abnormally".into()))
            }),
            None => Ok(()),
        };
        self.collect_exec(&container, &session_id, result, handover)
    }

    /// Attach again to a running session started detached (`exec -d`): its output from now
    /// on, until it ends. The caller copies the connection's streams (output only: a
    /// detached session has no input), then collects the
    /// session with [`Engine::exec_reattach_finish`], as an attached `exec` collects its own.
    pub fn exec_reattach(
        &self,
        session_id: &str,
    ) -> Result<(ExecReattached, Box<dyn rpod_oci::AttachSession>)> {
        let unknown = || EngineError::InvalidArg(format!("no such exec session {session_id}"));
        let session = self.store.exec_session(session_id)?.ok_or_else(unknown)?;
        let found = self.lookup(&session.container_id)?;
        let _lock = self.lock(found.id())?;
        let container = self.reload(found.id(), &session.container_id)?;
        let mut session = self.store.exec_session(session_id)?.ok_or_else(unknown)?;
        if session.collected_by_client() {
            return Err(EngineError::state(
                container.id(),
                format!("exec session {session_id} has a client attached already"),
            ));
        }
        let runtime = self.runtime(&container.config.runtime)?;
        let oci = self.oci_container(&container);
        if session.pid <= 0 || !runtime.exec_update_status(&oci, session_id)? {
            self.reap_exec_if_done(&container, session_id)?;
            return Err(EngineError::state(
                container.id(),
                format!("exec session {session_id} has ended"),
            ));
        }
        // Ours to collect from now on (the exit command leaves it to us while we live).
        let handover = runtime.exec_handover(&oci, session_id);
        let me = std::process::id() as i32;
        session.waited_for = true;
        session.client_pid = me;
        session.client_start = rpod_oci::process::start_time(me).unwrap_or(0);
        self.store.save_exec_session(&session)?;
        let socket = runtime.exec_attach_socket_path(&oci, session_id)?;
        let connection = match rpod_oci::attach::AttachConnection::connect(&socket) {
            Ok(connection) => connection,
            Err(e) => {
                // It ended meanwhile (its socket is gone): collect it as its end would.
                let _ = self.give_back_exec(&container, session_id);
                return Err(e.into());
            }
        };
        let reattached = ExecReattached {
            container,
            session,
            handover,
        };
        Ok((reattached, Box::new(connection)))
    }

    /// Collect a reattached session once the copy of its streams ended (`result`): its exit
    /// code, the session removed; after a detach it goes on as before.
    pub fn exec_reattach_finish(
        &self,
        reattached: ExecReattached,
        result: std::result::Result<(), OciError>,
    ) -> Result<i32> {
        let ExecReattached {
            container,
            session,
            handover,
        } = reattached;
        self.collect_exec(&container, &session.id, result, handover)
    }

    /// Leave a session to its exit command again (its client went), removing it at once
    /// when it ended meanwhile.
    fn give_back_exec(&self, container: &ContainerRecord, session_id: &str) -> Result<()> {
        let _lock = self.lock(container.id())?;
        if let Some(mut session) = self.store.exec_session(session_id)? {
            session.waited_for = false;
            self.store.save_exec_session(&session)?;
        }
        // It may have ended already; then nobody else would clean it up.
        self.reap_exec_if_done(container, session_id)
    }

    /// The end of a client's copy of a session's streams (`result`): its exit code read and
    /// the session removed; after a detach (or when the client went) it goes on, left to
    /// its exit command.
    fn collect_exec(
        &self,
        container: &ContainerRecord,
        session_id: &str,
        result: std::result::Result<(), OciError>,
        handover: Option<rpod_oci::exitfile::ExitHandover>,
    ) -> Result<i32> {
        let oci = self.oci_container(container);
        // Detached, or its client went away (the REST service): the command goes on, and
        // its exit command removes the session when it ends.
        if let Err(ended @ (OciError::Detached | OciError::Cancelled)) = result {
            self.give_back_exec(container, session_id)?;
            return Err(ended.into());
        }
        let runtime = self.runtime(&container.config.runtime)?;
        let code = runtime
            .exec_exit_code(&oci, session_id, EXEC_EXIT_TIMEOUT)?
            .unwrap_or(-1);
        let _lock = self.lock(container.id())?;
        runtime.exec_remove(&oci, session_id)?;
        self.end_exec_session(container, session_id, (code >= 0).then_some(code))?;
        if let Some(handover) = &handover {
            handover.handled();
        }
        result?;
        Ok(code)
    }

    /// The exit command of a session: remove it once ended, unless an attached client
    /// collects it.
    pub fn cleanup_exec(&self, name_or_id: &str, session_id: &str) -> Result<()> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        match self.store.exec_session(session_id)? {
            Some(session) if session.collected_by_client() => Ok(()),
            _ => self.reap_exec_if_done(&found, session_id),
        }
    }

    /// Remove a session whose process has exited. Called under the container lock.
    fn reap_exec_if_done(&self, container: &ContainerRecord, session_id: &str) -> Result<()> {
        let runtime = self.runtime(&container.config.runtime)?;
        let oci = self.oci_container(container);
        if runtime.exec_update_status(&oci, session_id)? {
            return Ok(());
        }
        let code = runtime
            .exec_exit_code(&oci, session_id, Duration::ZERO)
            .ok()
            .flatten();
        // The files first: a session whose row is gone is gone for good, and a failure
        // here leaves the row for the next try.
        runtime.exec_remove(&oci, session_id)?;
        self.end_exec_session(container, session_id, code)
    }

    /// A session's end: its row removed, its exit code kept for a while (the REST
    /// service's exec inspect reports it afterwards) and the `exec_died` event, once: an
    /// exit command may come for a session its client collected already.
    fn end_exec_session(
        &self,
        container: &ContainerRecord,
        session_id: &str,
        code: Option<i32>,
    ) -> Result<()> {
        if self
            .store
            .end_exec_session(session_id, container.id(), code)?
        {
            self.exec_died_event(container, session_id, code);
        }
        Ok(())
    }

    /// The exit code of a session that ended (and was removed) in the last minutes: `None`
    /// when none is known, `Some(None)` when it ended without one (its monitor died).
    pub fn ended_exec_code(&self, session_id: &str) -> Result<Option<Option<i32>>> {
        self.store.exec_exit_code(session_id)
    }

    /// The end of a session, as podman's `exec_died` (Docker's `exec_die`), with its exit
    /// code when its monitor recorded one.
    fn exec_died_event(&self, container: &ContainerRecord, session_id: &str, code: Option<i32>) {
        let mut attributes = vec![("execID", session_id.to_string())];
        if let Some(code) = code {
            attributes.push(("containerExitCode", code.to_string()));
        }
        self.container_event(container, "exec_died", &attributes);
    }

    /// Sessions of a container; ended ones whose cleanup did not run yet are removed first.
    /// Takes the container's lock for that: never called under it.
    pub fn exec_sessions(&self, record: &ContainerRecord) -> Result<Vec<ExecSession>> {
        let sessions = self.store.exec_sessions_of(record.id())?;
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        let mut live = Vec::new();
        for session in sessions {
            if session.pid > 0
                && !session.collected_by_client()
                && !runtime.exec_update_status(&oci, &session.id)?
            {
                // The process is gone; its monitor writes the exit file right after it
                // reaps it. Looked at in between, the session was taken for one whose
                // monitor died, and its exit code was lost (docker-py's exec_inspect
                // right after a detached start saw none, 1 time in 20). So the file is
                // awaited (without the lock, which others would wait for meanwhile; a
                // session whose monitor did die costs this wait once), and then ended as
                // its exit command ends it, under the lock: whichever comes second finds
                // it ended.
                let _ = runtime.exec_exit_code(&oci, &session.id, EXEC_EXIT_TIMEOUT);
                if let Err(e) = self.cleanup_exec(record.id(), &session.id) {
                    tracing::debug!("ending exec session {}: {e}", session.id);
                }
                continue;
            }
            live.push(session);
        }
        Ok(live)
    }

    /// Stop a session: SIGTERM, then SIGKILL after `timeout` seconds.
    pub fn exec_stop(&self, name_or_id: &str, session_id: &str, timeout: u32) -> Result<()> {
        let record = self.lookup(name_or_id)?;
        let runtime = self.runtime(&record.config.runtime)?;
        Ok(runtime.exec_stop_container(&self.oci_container(&record), session_id, timeout)?)
    }
}
