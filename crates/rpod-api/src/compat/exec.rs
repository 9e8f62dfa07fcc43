//! Exec endpoints: create an instance, start it (hijacked, or detached), resize it, inspect
//! it for its exit code.

use serde::Deserialize;
use serde_json::json;

use rpod_engine::container::Status;
use rpod_engine::{EngineError, ExecRequest};
use rpod_oci::{HttpAttachOptions, HttpAttachStreams, OciError, TerminalSize};

use super::containers::{stream_type, terminal_size};
use crate::error::{ApiError, ApiResult};
use crate::exchange::{Exchange, Flavour};
use crate::execs::{no_such_exec, ExecInstance, ExecState};
use crate::service::Context;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    cmd: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: String,
    user: String,
    tty: bool,
    privileged: bool,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    detach_keys: String,
}

pub fn create(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let body: CreateBody = ex.body_json()?;
    let cmd = body.cmd.unwrap_or_default();
    if cmd.is_empty() {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    if !body.detach_keys.is_empty() {
        rpod_oci::detach::parse_detach_keys(&body.detach_keys)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let record = context.engine.inspect(name)?;
    if record.state.status != Status::Running {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            record.id()
        )));
    }
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    let instance = ExecInstance {
        id: rpod_engine::names::random_id(),
        container_id: record.id().to_string(),
        request: ExecRequest {
            cmd,
            env: body.env.unwrap_or_default(),
            workdir: non_empty(body.working_dir),
            user: non_empty(body.user),
            terminal: body.tty,
            privileged: body.privileged,
            pass_fds: Vec::new(),
            detach_keys: non_empty(body.detach_keys),
        },
        attach_stdin: body.attach_stdin,
        attach_stdout: body.attach_stdout,
        attach_stderr: body.attach_stderr,
        state: ExecState::Created,
        created: std::time::Instant::now(),
        ended: None,
    };
    let id = instance.id.clone();
    context.execs.insert(instance);
    ex.json(201, &json!({ "Id": id }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StartBody {
    #[serde(rename = "Detach")]
    detach: bool,
    #[serde(rename = "Tty")]
    tty: Option<bool>,
    #[serde(rename = "ConsoleSize")]
    console_size: Option<[u16; 2]>,
    /// libpod's spelling of the size.
    h: Option<u16>,
    w: Option<u16>,
}

pub fn start(context: &Context, ex: &mut Exchange, id: &str) -> ApiResult<()> {
    let body: StartBody = ex.body_json_or_default()?;
    let instance = context.execs.claim(id)?;
    let mut request = instance.request.clone();
    if let Some(tty) = body.tty {
        request.terminal = request.terminal || tty;
    }
    let size = match (body.console_size, body.h, body.w) {
        (Some([h, w]), _, _) | (None, Some(h), Some(w)) if h > 0 && w > 0 => Some(TerminalSize {
            height: h,
            width: w,
        }),
        _ => None,
    };
    let engine = &context.engine;
    // A session that could not start has the exit code the local command would exit
    // with (127, 126, else 125), never none: clients take a missing code for success.
    let failed = |cause: EngineError| {
        let code = Some(cause.exit_code());
        context
            .execs
            .set_state(id, ExecState::Exited { pid: 0, code });
        ApiError::from(cause)
    };
    if body.detach {
        let started = engine
            .exec_start(&instance.container_id, &request, None, None)
            .map_err(failed)?;
        context.execs.set_state(
            id,
            ExecState::Running {
                pid: started.pid,
                session_id: started.session_id.clone(),
                detached: true,
            },
        );
        return ex.empty(200);
    }
    let content_type = stream_type(ex, request.terminal);
    let (connection, preamble) = ex.hijack(content_type)?;
    // The head goes out before the session can write anything, as dockerd and podman do:
    // clients that parse the head with a buffered reader and then read the socket itself
    // (docker-py, podman-remote) lose whatever came in the same read. A failure to start
    // is then told in the stream, and the exit code (126, 127) by the instance.
    let mut out = crate::http::FdWriter(connection.clone());
    preamble(&mut out).map_err(|e| ApiError::internal(format!("writing the answer: {e}")))?;
    let options = HttpAttachOptions {
        connection,
        streams: HttpAttachStreams {
            stdin: instance.attach_stdin,
            stdout: instance.attach_stdout,
            stderr: instance.attach_stderr,
        },
        detach_keys: request.detach_keys.clone(),
        preamble: None,
        stream: true,
    };
    let started = match engine.exec_start_http(&instance.container_id, &request, options, size) {
        Ok(started) => started,
        Err(e) => {
            let error = failed(e);
            let text = format!("Error: {}\n", error.libpod_message);
            let mut out = Vec::new();
            if !request.terminal {
                let kind = rpod_oci::framing::StreamKind::Stderr;
                out.extend_from_slice(&rpod_oci::framing::frame_header(kind, text.len() as u32));
            }
            out.extend_from_slice(text.as_bytes());
            // The head was read already (the preamble waits for that): this comes alone.
            let _ = crate::http::write_fd(ex.conn.fd(), &out);
            return Ok(());
        }
    };
    let (pid, session_id) = (started.pid, started.session_id.clone());
    context.execs.set_state(
        id,
        ExecState::Running {
            pid,
            session_id: session_id.clone(),
            detached: false,
        },
    );
    match engine.exec_finish(started) {
        Ok(code) => context.execs.set_state(
            id,
            ExecState::Exited {
                pid,
                code: Some(code),
            },
        ),
        // Detached, or the client went away: the command goes on.
        Err(EngineError::Oci(OciError::Detached | OciError::Cancelled)) => context.execs.set_state(
            id,
            ExecState::Running {
                pid,
                session_id,
                detached: true,
            },
        ),
        Err(e) => {
            tracing::debug!("exec {id}: {e}");
            let code = ended_code(context, &session_id);
            context.execs.set_state(id, ExecState::Exited { pid, code });
        }
    }
    Ok(())
}

/// The exit code the engine kept for an engine session that ended, if any.
fn ended_code(context: &Context, session_id: &str) -> Option<i32> {
    context
        .engine
        .ended_exec_code(session_id)
        .ok()
        .flatten()
        .flatten()
}

pub fn resize(context: &Context, ex: &mut Exchange, id: &str) -> ApiResult<()> {
    let size = terminal_size(ex)?;
    let instance = context.execs.get(id).ok_or_else(|| no_such_exec(id))?;
    let ExecState::Running { session_id, .. } = &instance.state else {
        return Err(ApiError::conflict(format!(
            "exec session {id} is not running"
        )));
    };
    if session_id.is_empty() {
        return Err(ApiError::conflict(format!("exec session {id} is starting")));
    }
    context
        .engine
        .exec_resize(&instance.container_id, session_id, size)?;
    match ex.flavour {
        Flavour::Libpod => ex.json(201, &json!({})),
        Flavour::Compat => ex.empty(200),
    }
}

/// The instance's state, with a detached session that has ended seen as exited, with the
/// exit code the engine kept for it.
fn current_state(context: &Context, instance: &ExecInstance) -> ExecState {
    if let ExecState::Running {
        pid,
        session_id,
        detached: true,
    } = &instance.state
    {
        let alive = context
            .engine
            .lookup(&instance.container_id)
            .and_then(|record| context.engine.exec_sessions(&record))
            .map(|sessions| sessions.iter().any(|s| &s.id == session_id))
            .unwrap_or(false);
        if !alive {
            let ended = ExecState::Exited {
                pid: *pid,
                code: ended_code(context, session_id),
            };
            context.execs.set_state(&instance.id, ended.clone());
            return ended;
        }
    }
    instance.state.clone()
}

pub fn inspect(context: &Context, ex: &mut Exchange, id: &str) -> ApiResult<()> {
    let instance = context.execs.get(id).ok_or_else(|| no_such_exec(id))?;
    let state = current_state(context, &instance);
    let (running, code, pid) = match &state {
        ExecState::Created => (false, None, 0),
        ExecState::Running { pid, .. } => (true, None, *pid),
        ExecState::Exited { pid, code } => (false, *code, *pid),
    };
    let request = &instance.request;
    ex.json(
        200,
        &json!({
            "ID": instance.id,
            "ContainerID": instance.container_id,
            "Running": running,
            "ExitCode": code,
            "Pid": pid,
            "OpenStdin": instance.attach_stdin,
            "OpenStdout": instance.attach_stdout,
            "OpenStderr": instance.attach_stderr,
            "CanRemove": false,
            "DetachKeys": request.detach_keys.clone().unwrap_or_default(),
            "ProcessConfig": {
                "tty": request.terminal,
                "entrypoint": request.cmd.first(),
                "arguments": request.cmd.get(1..).unwrap_or_default(),
                "privileged": request.privileged,
                "user": request.user.clone().unwrap_or_default(),
            },
        }),
    )
}
