//! Options and results of the [`crate::OciRuntime`] methods.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Result;

/// Where conmon sends the container's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogDriver {
    /// conmon's k8s-file format, written to this path.
    KubeFile(PathBuf),
    /// No log at all.
    None,
    /// conmon passes the stdio it was given (rpod's) to the container: no log, no
    /// attach.
    Passthrough,
}

/// What the runtime layer needs to know about one container. The engine builds it from its
/// own records; the runtime layer never changes it.
#[derive(Debug, Clone)]
pub struct OciContainer {
    /// Full 64-hex container id; also the runtime's container id.
    pub id: String,
    /// Human name (passed to conmon for its messages).
    pub name: String,
    /// Bundle directory: holds `config.json`; conmon puts `attach` and `ctl` here.
    pub bundle_dir: PathBuf,
    /// Per-container directory on the run root: pid files and the runtime's JSON log.
    pub run_dir: PathBuf,
    pub log_driver: LogDriver,
    /// The spec asks for a terminal.
    pub terminal: bool,
    /// Keep stdin open (`-i`).
    pub stdin: bool,
    /// Signal number sent first by `stop_container`.
    pub stop_signal: i32,
    /// Container init PID as last recorded, 0 if unknown.
    pub pid: i32,
    /// conmon's PID as last recorded, 0 if unknown.
    pub conmon_pid: i32,
    /// Command conmon runs after the container exits (`rpod container cleanup ID`).
    pub exit_command: Vec<String>,
    /// The container has its own PID namespace (then killing init kills everything).
    pub pid_namespace: bool,
    /// The container runs inside cgroups (needed for `kill --all`, pause and unpause).
    pub cgroups: bool,
    /// What the monitor does besides copying streams (log limits, a run-time limit).
    pub monitor: MonitorOptions,
    /// Descriptors given to the container's process as its 3, 4, ... at create
    /// (`run --preserve-fds`); empty otherwise.
    pub pass_fds: Vec<std::sync::Arc<std::os::fd::OwnedFd>>,
}

/// Settings of the per-container monitor (conmon's options of the same names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorOptions {
    /// The k8s-file log is rotated once it is this many bytes (`--log-size-max`).
    pub log_size_max: Option<u64>,
    /// The files the log is kept in at that size, itself included (rpod-monitor's
    /// `--log-max-files`; more than one is refused with conmon).
    pub log_max_files: Option<u32>,
    /// The container is killed after this many seconds (`--timeout`).
    pub timeout: Option<u32>,
    /// Do not sync the log to disk after the exit (`--no-sync-log`): for a log that is
    /// removed with the container right after.
    pub no_sync_log: bool,
    /// The monitor runs the runtime's delete once the container exited (rpod-monitor's
    /// `--delete-at-exit`): for a container removed at its exit. Ignored with conmon.
    pub delete_at_exit: bool,
    /// The container's health check, run by the monitor on its interval while the
    /// container runs (rpod-monitor's `--health-command`). Ignored with conmon, which
    /// leaves it to systemd's timers.
    pub health_check: Option<HealthCheckRun>,
    /// `--sdnotify container`: the service manager's socket (`NOTIFY_SOCKET`) the monitor
    /// passes the container's messages on to, from `BUNDLE/notify/notify.sock`
    /// (`--sdnotify-socket`, conmon's and rpod-monitor's).
    pub sdnotify_socket: Option<String>,
}

/// A command the monitor runs every `interval_secs` seconds while the container runs
/// (0: never); first every `startup_interval_secs` seconds, when that is not 0, until it
/// exits 0 once (the startup check passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckRun {
    pub interval_secs: u64,
    pub startup_interval_secs: u64,
    /// The program and its arguments (`rpod ... healthcheck run ID`).
    pub argv: Vec<String>,
}

impl OciContainer {
    /// Whether stop should signal every process (`kill --all`), as libpod's `stopWithAll`.
    pub fn stop_with_all(&self) -> bool {
        !self.pid_namespace && self.cgroups
    }
}

/// What `create_container` learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateOutcome {
    pub pid: i32,
    pub conmon_pid: i32,
    /// Microseconds spent restoring a checkpoint (0 unless restoring with stats).
    pub restore_micros: i64,
}

/// Terminal size for resizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSize {
    pub height: u16,
    pub width: u16,
}

/// Where a session's input comes from: anything with a descriptor (stdin, a socket, a pipe).
pub trait AttachInput: std::os::fd::AsFd + Send {}
impl<T: std::os::fd::AsFd + Send> AttachInput for T {}

/// The standard streams of an attach session.
pub struct AttachStreams {
    pub output: Option<Box<dyn std::io::Write + Send>>,
    pub error: Option<Box<dyn std::io::Write + Send>>,
    /// Read by descriptor (polled with the attach socket, never by a thread of its own).
    pub input: Option<Box<dyn AttachInput>>,
    pub attach_output: bool,
    pub attach_error: bool,
    pub attach_input: bool,
    /// A client connection whose hangup (closed in both directions) ends the copy with
    /// `OciError::Cancelled`, even while the container is quiet. A half-close (the end of
    /// the client's input) does not.
    pub hangup: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

/// A connection to a container's (or exec session's) standard streams, made before the
/// process starts so that no output is lost, and copied once it runs. What travels on it
/// (conmon's attach socket today) is the runtime's business.
pub trait AttachSession: Send {
    /// Copy between the container and `streams` until its output ends or the user types
    /// the detach keys (`OciError::Detached`).
    fn copy(self: Box<Self>, streams: AttachStreams, detach_keys: Vec<u8>) -> Result<()>;
}

/// Options of [`crate::OciRuntime::attach`].
pub struct AttachOptions {
    pub streams: AttachStreams,
    /// `None`: the default keys (ctrl-p,ctrl-q); `Some("")`: detaching disabled.
    pub detach_keys: Option<String>,
    pub initial_size: Option<TerminalSize>,
    /// Start the container once attached.
    pub start: bool,
}

/// Which streams an HTTP attach forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HttpAttachStreams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Written to a hijacked connection once the container's streams are reached and before any
/// of their bytes: the HTTP response head (and, for `logs=1`, the past output). Doing it
/// here, not before the call, lets a failure to reach the streams still be answered with an
/// HTTP error status.
pub type HttpPreamble = Box<dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send>;

/// Options of [`crate::OciRuntime::http_attach`] and [`crate::OciRuntime::exec_container_http`].
///
/// After the preamble the connection carries raw bytes both ways: the container's output,
/// in Docker's multiplexed frames when it has no terminal and unframed when it has one, and
/// the client's bytes as its stdin. The client's half-close ends the input and still reads
/// all output; its full close ends the copy.
pub struct HttpAttachOptions {
    /// The client's connection (a stream socket: unix or TCP).
    pub connection: std::sync::Arc<std::os::fd::OwnedFd>,
    pub streams: HttpAttachStreams,
    /// `None`: the default keys (ctrl-p,ctrl-q); `Some("")`: detaching disabled.
    pub detach_keys: Option<String>,
    pub preamble: Option<HttpPreamble>,
    /// Copy the live streams; `false` ends after the preamble (`attach?stream=0`).
    pub stream: bool,
}
/// Options of the exec family.
pub struct ExecOptions {
    pub cmd: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Variables of the container's environment the process does not get (Docker's bare
    /// `Env` names).
    pub unset_env: Vec<String>,
    pub terminal: bool,
    pub cwd: Option<String>,
    /// `UID[:GID]`, numeric (the caller looks names up in the container).
    pub user: Option<String>,
    /// With `user`: its supplementary groups.
    pub additional_gids: Vec<u32>,
    pub streams: Option<AttachStreams>,
    /// Descriptors passed to the process as its 3, 4, ...: exactly these, never whatever
    /// else the caller has open (in a service, other clients' sockets).
    pub pass_fds: Vec<std::sync::Arc<std::os::fd::OwnedFd>>,
    pub detach_keys: Option<String>,
    pub exit_command: Vec<String>,
    pub exit_command_delay: u32,
    pub privileged: bool,
}

/// A running exec session's attach result, delivered when the attach ends.
pub type ExecAttachResult = std::sync::mpsc::Receiver<crate::Result<()>>;

/// Options of [`crate::OciRuntime::checkpoint_container`].
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    pub keep: bool,
    pub keep_running: bool,
    pub tcp_established: bool,
    pub file_locks: bool,
    pub pre_checkpoint: bool,
    pub with_previous: bool,
    pub print_stats: bool,
}

/// The monitor's identity, as podman's `ConmonInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConmonInfo {
    pub package: String,
    pub path: String,
    pub version: String,
}

/// The runtime's identity, as podman's `OCIRuntimeInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciRuntimeInfo {
    pub name: String,
    pub package: String,
    pub path: String,
    pub version: String,
}
