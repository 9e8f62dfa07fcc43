//! Exec sessions through conmon's exec mode: each session has its own directory under the
//! container's run directory (`<run_dir>/exec/<session>/`) with its process spec, attach
//! socket, ctl fifo, pid file and exit file. A session ends with its container, so its
//! files belong on the run root (usually a tmpfs, where creating and removing them is
//! cheap), not beside the bundle on the persistent root. The directory is also the
//! monitor's exit directory, and no persist directory is given (conmon takes it as
//! optional; nothing reads a session's): every directory made and removed costs an exec
//! 0.1-0.3 ms on a disk.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use oci_spec::runtime::{LinuxCapabilities, Process};

use super::args::{exec_argv, ExecArgs};
use super::spawn;
use super::ConmonRuntime;
use crate::attach::{write_resize, AttachConnection};
use crate::capabilities::host_bounding_set;
use crate::exitfile::read_exit_file;
use crate::process::pid_alive;
use crate::types::{ExecOptions, OciContainer, TerminalSize};
use crate::{OciError, Result};

/// How the exec handshake with conmon failed.
enum Handshake {
    /// conmon did not report its attach socket ready.
    ConmonFailed,
    Error(OciError),
}

impl From<OciError> for Handshake {
    fn from(e: OciError) -> Self {
        Handshake::Error(e)
    }
}

/// How long conmon may take to say an exec session's attach socket is ready.
const ATTACH_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where an exec session lives (see the module's comment).
pub fn session_dir(ctr: &OciContainer, session_id: &str) -> Result<PathBuf> {
    if session_id.is_empty() || session_id.contains('/') || session_id.starts_with('.') {
        return Err(OciError::InvalidArg(format!(
            "invalid exec session id {session_id:?}"
        )));
    }
    Ok(ctr.run_dir.join("exec").join(session_id))
}

/// The file conmon writes the session's exit code to: named after the container, in its
/// exit directory, which is the session's own.
pub fn exec_exit_file(ctr: &OciContainer, session_id: &str) -> Result<PathBuf> {
    Ok(session_dir(ctr, session_id)?.join(&ctr.id))
}

/// The session's process PID, as the runtime wrote it.
pub fn exec_pid(ctr: &OciContainer, session_id: &str) -> Result<i32> {
    let path = session_dir(ctr, session_id)?.join("exec_pid");
    fs::read_to_string(&path)
        .map_err(|e| OciError::io("reading exec pid file", &path, e))?
        .trim()
        .parse()
        .map_err(|e| OciError::InvalidArg(format!("{}: not a pid: {e}", path.display())))
}

/// Whether the session's process still runs. Its exit file settles it: conmon writes the
/// file once it has reaped the process, so a PID that was reused afterwards never counts.
pub fn exec_alive(ctr: &OciContainer, session_id: &str) -> Result<bool> {
    if read_exit_file(&exec_exit_file(ctr, session_id)?)?.is_some() {
        return Ok(false);
    }
    match exec_pid(ctr, session_id) {
        Ok(pid) => Ok(pid_alive(pid)),
        Err(_) => Ok(false),
    }
}

/// The part of a container's spec an exec session starts from. The rest (most of it the
/// seccomp profile: about 20 KB in all) is skipped by the parser, not built.
#[derive(serde::Deserialize)]
struct SpecProcess {
    process: Option<Process>,
}

/// The container's process with the session's command, environment, directory and user.
fn process_spec(
    ctr: &OciContainer,
    options: &ExecOptions,
    initial_size: Option<TerminalSize>,
) -> Result<Process> {
    let config = ctr.bundle_dir.join("config.json");
    let text = fs::read(&config).map_err(|e| OciError::io("reading", &config, e))?;
    let spec: SpecProcess = serde_json::from_slice(&text).map_err(|e| {
        OciError::InvalidArg(format!("reading container spec {}: {e}", config.display()))
    })?;
    let mut process = spec.process.unwrap_or_default();
    process.set_args(Some(options.cmd.clone()));
    // Never inherited from the container: a session has a terminal only when it asks.
    process.set_terminal(Some(options.terminal));
    // The runtime gives the terminal this size before the process runs.
    let console_size = match (options.terminal, initial_size) {
        (true, Some(size)) => Some(
            oci_spec::runtime::BoxBuilder::default()
                .height(u64::from(size.height))
                .width(u64::from(size.width))
                .build()
                .map_err(|e| OciError::InvalidArg(format!("console size: {e}")))?,
        ),
        _ => None,
    };
    process.set_console_size(console_size);
    let mut env = process.env().clone().unwrap_or_default();
    env.retain(|e| {
        let key = e.split('=').next().unwrap_or_default();
        !options.unset_env.iter().any(|unset| unset == key)
    });
    for (key, value) in &options.env {
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(format!("{key}={value}"));
    }
    if options.terminal && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    process.set_env(Some(env));
    if let Some(cwd) = &options.cwd {
        process.set_cwd(PathBuf::from(cwd));
    }
    if let Some(user) = &options.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let parse = |text: &str| {
            text.parse::<u32>().map_err(|_| {
                OciError::InvalidArg(format!("exec user {user:?} must be numeric uid[:gid]"))
            })
        };
        let mut spec_user = process.user().clone();
        spec_user.set_uid(parse(uid)?);
        let gid = match gid {
            Some(g) => parse(g)?,
            None => 0,
        };
        spec_user.set_gid(gid);
        spec_user.set_additional_gids(Some(options.additional_gids.clone()));
        process.set_user(spec_user);
    }
    if options.privileged {
        let all = host_bounding_set();
        let mut caps = LinuxCapabilities::default();
        caps.set_bounding(Some(all.clone()));
        caps.set_effective(Some(all.clone()));
        caps.set_permitted(Some(all));
        caps.set_inheritable(None);
        caps.set_ambient(None);
        process.set_capabilities(Some(caps));
    }
    Ok(process)
}

/// How the caller takes part in the session's I/O.
pub enum ExecIo {
    /// Connect to the session's attach socket before it starts.
    Attach { initial_size: Option<TerminalSize> },
    /// Nobody attaches.
    Detached,
}

impl ConmonRuntime {
    /// Start an exec session through conmon's two-step handshake: conmon sets up the
    /// session's attach socket and says so, we connect, then tell it to run the process.
    /// Returns the process PID and the connection (when attaching).
    pub(crate) fn start_exec(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        options: &ExecOptions,
        io: ExecIo,
        stdin: bool,
    ) -> Result<(i32, Option<AttachConnection>)> {
        if options.cmd.is_empty() {
            return Err(OciError::InvalidArg("exec needs a command".into()));
        }
        let dir = session_dir(ctr, session_id)?;
        // conmon writes into it but does not create it (an attached session's exit handover
        // has made it already).
        fs::create_dir_all(&dir).map_err(|e| OciError::io("creating directory", &dir, e))?;
        let initial_size = match &io {
            ExecIo::Attach { initial_size } => *initial_size,
            ExecIo::Detached => None,
        };
        let process = process_spec(ctr, options, initial_size)?;
        let spec_path = dir.join("exec-process.json");
        fs::write(
            &spec_path,
            serde_json::to_vec(&process)
                .map_err(|e| OciError::InvalidArg(format!("serializing exec process: {e}")))?,
        )
        .map_err(|e| OciError::io("writing", &spec_path, e))?;
        let oci_log = self.oci_log_in(&dir);
        if let Some(log) = &oci_log {
            let _ = fs::remove_file(log);
        }
        let argv = exec_argv(&ExecArgs {
            ctr,
            session_id,
            session_dir: &dir,
            runtime_path: &self.path,
            runtime_flags: &self.flags,
            process_spec: &spec_path,
            oci_log: oci_log.as_deref(),
            log_level: &self.log_level,
            terminal: options.terminal,
            stdin,
            preserve_fds: options.pass_fds.len() as u32,
            exit_command: &options.exit_command,
            exit_delay: options.exit_command_delay,
            exit_handover: self
                .monitor_is_ours()
                .then(|| Self::exit_handover_file(&dir)),
            attach_record_size: self.attach_record_size(),
        });
        tracing::debug!(?argv, "starting conmon for exec");
        let stderr_path = dir.join("conmon.stderr");
        let stderr = fs::File::create(&stderr_path)
            .map_err(|e| OciError::io("creating file", &stderr_path, e))?;
        let passed: Vec<i32> = options
            .pass_fds
            .iter()
            .map(|fd| std::os::fd::AsRawFd::as_raw_fd(fd.as_ref()))
            .collect();
        let (mut child, pipes) = spawn::spawn(
            &self.conmon,
            &argv,
            &self.conmon_env(passed.len() as u32, true),
            spawn::ConmonStdio::Quiet(stderr),
            true,
            &passed,
            // The container's (podman's 0022 when its spec has none), not rpod's own 077.
            Some(process.user().umask().unwrap_or(0o022)),
        )?;
        let conmon_failed = |child: &mut spawn::Spawned| -> OciError {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            OciError::Conmon {
                id: ctr.id.clone(),
                message: format!("cannot run conmon for exec: {status}: {}", stderr.trim()),
            }
        };
        // Up to the second start byte conmon waits on us; any failure ends it here, and it
        // is always waited for, so no conmon and no zombie is left behind.
        let handshake = (|| -> std::result::Result<Option<AttachConnection>, Handshake> {
            spawn::signal_start(&pipes.start)?;
            let attach_pipe = pipes
                .attach
                .as_ref()
                .ok_or_else(|| OciError::InvalidArg("exec needs conmon's attach pipe".into()))?;
            match spawn::read_message(attach_pipe, ATTACH_READY_TIMEOUT)? {
                Some(raw) if super::parse_sync_message(&raw).is_ok_and(|m| m.data >= 0) => {}
                _ => return Err(Handshake::ConmonFailed),
            }
            let connection = match io {
                ExecIo::Attach { .. } => Some(AttachConnection::connect(&dir.join("attach"))?),
                ExecIo::Detached => None,
            };
            // The second start byte lets conmon run the process.
            spawn::signal_start(&pipes.start)?;
            Ok(connection)
        })();
        let connection = match handshake {
            Ok(connection) => connection,
            // conmon gave up: its exit status and stderr say why.
            Err(Handshake::ConmonFailed) => {
                drop(pipes);
                return Err(conmon_failed(&mut child));
            }
            Err(Handshake::Error(e)) => {
                drop(pipes);
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let status = child
            .wait()
            .map_err(|e| OciError::io("waiting for conmon", &self.conmon, e))?;
        if !status.success() {
            return Err(conmon_failed(&mut child));
        }
        let pid = self.read_started_pid(&pipes.sync, oci_log.as_deref(), ctr, "exec")?;
        Ok((pid, connection))
    }

    pub(crate) fn resize_exec(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        size: TerminalSize,
    ) -> Result<()> {
        write_resize(
            &session_dir(ctr, session_id)?.join("ctl"),
            size,
            self.monitor_is_ours(),
        )
    }

    /// SIGTERM, then SIGKILL after `timeout` seconds (at once when 0); returns when the
    /// session's process is gone.
    pub(crate) fn stop_exec(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        timeout: u32,
    ) -> Result<()> {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let signal = |sig: Signal| -> Result<()> {
            if !exec_alive(ctr, session_id)? {
                return Ok(());
            }
            let pid = exec_pid(ctr, session_id)?;
            match kill(Pid::from_raw(pid), sig) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
                Err(e) => Err(OciError::sys(
                    format!("signalling exec session {session_id}"),
                    e,
                )),
            }
        };
        let gone_within = |limit: Duration| -> Result<bool> {
            let deadline = std::time::Instant::now() + limit;
            loop {
                if !exec_alive(ctr, session_id)? {
                    return Ok(true);
                }
                if std::time::Instant::now() >= deadline {
                    return Ok(false);
                }
                std::thread::sleep(crate::process::LIVENESS_POLL);
            }
        };
        if timeout > 0 {
            signal(Signal::SIGTERM)?;
            if gone_within(Duration::from_secs(u64::from(timeout)))? {
                return Ok(());
            }
        }
        signal(Signal::SIGKILL)?;
        if gone_within(Duration::from_secs(5))? {
            Ok(())
        } else {
            Err(OciError::Timeout(format!(
                "timed out waiting for container {} exec session {session_id} to stop after SIGKILL",
                ctr.id
            )))
        }
    }
}

/// Remove a session's directory.
pub fn remove_session_dir(ctr: &OciContainer, session_id: &str) -> Result<()> {
    let dir = session_dir(ctr, session_id)?;
    match fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(OciError::io("removing exec session directory", &dir, e)),
    }
}
