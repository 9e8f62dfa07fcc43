//! `ConmonRuntime`: the [`OciRuntime`] implementation that drives a runc-compatible runtime
//! through conmon, the way libpod does.

mod args;
pub mod exec;
mod monitor_delete;
mod seccomp_bpf;
mod spawn;
mod sync;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The umask of a container's monitor and so of the runtime's create: the usual one
/// (0755 directories), which runc gives the mount points it makes.
const CREATE_UMASK: u32 = 0o022;

use oci_spec::runtime::LinuxResources;

pub use args::{create_argv, kill_argv, CreateArgs};
pub use sync::{last_runtime_error, parse_sync_message, SyncMessage};

use crate::attach::{write_resize, AttachConnection};
use crate::detach::keys_or_default;
use crate::exitfile::{wait_exit_file, ExitHandover};
use crate::http_attach;
use crate::process::{in_container_cgroup, pid_alive, wait_pid_gone};
use crate::signal::signal_name;
use crate::types::*;
use crate::{OciError, OciRuntime, PendingCall, Result};
use monitor_delete::MonitorDelete;

/// How long conmon may take to report a created container (libpod's ContainerCreateTimeout).
const CREATE_TIMEOUT: Duration = Duration::from_secs(240);
/// How long a container may take to die after SIGKILL.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long at most rpod-monitor holds a container's output for the client that attaches
/// right after a create that started it (`create_started_container`): far more than that
/// takes. The hold also ends when the caller exits, so a caller killed in between delays
/// nothing.
const ATTACH_HOLD_SECS: u64 = 60;

/// Runtimes known to write JSON error logs (`--log-format=json`).
const JSON_ERROR_RUNTIMES: &[&str] = &["crun", "runc", "kata", "runsc", "youki", "krun", "ocijail"];
/// Runtimes that can run containers without cgroups.
const NO_CGROUP_RUNTIMES: &[&str] = &["crun", "krun"];
/// Runtimes that isolate containers with KVM.
const KVM_RUNTIMES: &[&str] = &["kata", "kata-runtime", "kata-qemu", "kata-fc", "krun"];

/// Where executables are looked for after `$PATH`.
const EXTRA_SEARCH_DIRS: &[&str] = &[
    "/usr/libexec/podman",
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// How to build a [`ConmonRuntime`].
#[derive(Debug, Clone)]
pub struct ConmonRuntimeConfig {
    /// Runtime name (`runc`, `crun`, looked up in `$PATH`) or path to its executable.
    pub runtime: String,
    /// conmon's path; looked up when `None`.
    pub conmon: Option<PathBuf>,
    /// Directory for exit files (`exits/`) and persist dirs (`persist/`).
    pub tmp_dir: PathBuf,
    /// The runtime's own state directory (`--root`), so that separate rpod roots never share
    /// runtime state. `None` leaves the runtime's default.
    pub state_root: Option<PathBuf>,
    /// Extra global flags for every runtime invocation.
    pub runtime_flags: Vec<String>,
    /// conmon's log level (`error`, `warning`, `info`, `debug`).
    pub log_level: String,
    /// CRIU for checkpoint and restore (`find_criu`); `None` when there is none.
    pub criu: Option<PathBuf>,
}

/// Where rpod's installer puts a working CRIU (see scripts/install-criu.sh).
pub const PRIVATE_CRIU: &str = "/usr/local/lib/rpod/criu/criu";

/// The CRIU to use: the configured path, else rpod's private one, else `criu` in `$PATH`.
pub fn find_criu(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = configured {
        return Some(path.to_path_buf());
    }
    let private = Path::new(PRIVATE_CRIU);
    if private.is_file() {
        return Some(private.to_path_buf());
    }
    find_executable("CRIU", "criu").ok()
}

/// CRIU's version line (`Version: 4.1.1`), when it runs and passes `criu check`.
pub fn criu_version(criu: &Path) -> Option<String> {
    let run = |args: &[&str]| {
        Command::new(criu)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    run(&["check"])?;
    let version = run(&["--version"])?;
    String::from_utf8_lossy(&version.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Version:").map(|v| v.trim().to_string()))
}

/// The errors of a CRIU log worth showing: all of them when there are few, else the first
/// three (the cause is among them: the file that could not be opened, the resource that
/// differs; the first is often a harmless one) and the last two (what failed as a result).
/// `None` when the log has none.
fn criu_errors(log: &str) -> Option<String> {
    const SHOWN: usize = 5;
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("Error")).collect();
    if errors.is_empty() {
        return None;
    }
    if errors.len() <= SHOWN {
        return Some(errors.join("; "));
    }
    let skipped = errors.len() - SHOWN;
    Some(format!(
        "{}; ({skipped} more); {}",
        errors[..3].join("; "),
        errors[errors.len() - 2..].join("; ")
    ))
}

/// The most of a CRIU log read for its errors; a larger one is read from its start.
const CRIU_LOG_LIMIT: u64 = 32 << 20;

/// `criu_errors` of the CRIU log at `path`. The log names the container's files, whose names
/// need not be UTF-8: it is read as bytes, and its size is bounded.
fn criu_log_errors(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|file| file.take(CRIU_LOG_LIMIT).read_to_end(&mut bytes))
        .ok()?;
    criu_errors(&String::from_utf8_lossy(&bytes))
}

/// How long one runtime command (start, kill, delete, pause, ...) may take before it is
/// killed: a hung runtime must not hang rpod with it.
const RUNTIME_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// A command started with its output collected on its own threads (so a command that
/// writes much never blocks on a full pipe), not yet waited for: the caller may do other
/// work before `finish`, which kills it once its time has run out.
pub(crate) struct BoundedCommand {
    started: std::time::Instant,
    child: std::process::Child,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl BoundedCommand {
    pub(crate) fn spawn(command: &mut Command) -> std::io::Result<Self> {
        use std::io::Read;
        let started = std::time::Instant::now();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let collect = |stream: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut stream) = stream {
                    let _ = stream.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = collect(
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        let stderr = collect(
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        Ok(Self {
            started,
            child,
            stdout,
            stderr,
        })
    }

    /// Wait for the command, killing it once `timeout` has passed since it was started
    /// (work done between the spawn and this wait counts).
    pub(crate) fn finish(mut self, timeout: Duration) -> std::io::Result<Output> {
        let left = timeout.saturating_sub(self.started.elapsed());
        if !crate::process::wait_pid_exit(self.child.id() as i32, Some(left)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "did not finish within {} s and was killed",
                    timeout.as_secs()
                ),
            ));
        }
        let status = self.child.wait()?;
        Ok(Output {
            status,
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
        })
    }
}

/// One run of the runtime, started and not yet waited for.
struct RuntimeCall {
    running: BoundedCommand,
    command_line: String,
    path: PathBuf,
}

impl RuntimeCall {
    /// Wait for the runtime (at most `RUNTIME_CALL_TIMEOUT`): its output when it
    /// succeeded, its status and stderr in the error when it did not.
    fn finish(self) -> Result<Output> {
        let output = self
            .running
            .finish(RUNTIME_CALL_TIMEOUT)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut => {
                    OciError::Timeout(format!("{}: {e}", self.command_line))
                }
                _ => OciError::io("running OCI runtime", &self.path, e),
            })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(OciError::RuntimeCommand {
                command: self.command_line,
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
    }
}

/// An OCI runtime driven through conmon.
#[derive(Debug, Clone)]
pub struct ConmonRuntime {
    name: String,
    path: PathBuf,
    conmon: PathBuf,
    tmp_dir: PathBuf,
    flags: Vec<String>,
    log_level: String,
    criu: Option<PathBuf>,
    /// What the runtime and conmon said about themselves, asked once: their versions and
    /// features do not change while rpod runs.
    probes: std::sync::Arc<Probes>,
    /// crun's compiled seccomp filters, reused across creates (`None` for other runtimes).
    seccomp_cache: Option<seccomp_bpf::SeccompCache>,
}

#[derive(Debug, Default)]
struct Probes {
    checkpoint: std::sync::OnceLock<bool>,
    info: std::sync::OnceLock<(ConmonInfo, OciRuntimeInfo)>,
}

/// Find an executable: a path is taken as it is (it must be a regular file); a bare name is
/// looked up in `$PATH` and then in the usual system directories.
pub fn find_executable(what: &'static str, name: &str) -> Result<PathBuf> {
    let not_found = |detail: String| OciError::ExecutableNotFound {
        what,
        name: name.to_string(),
        detail,
    };
    if name.is_empty() {
        return Err(OciError::InvalidArg(format!("empty {what} name")));
    }
    if name.contains('/') {
        let path = PathBuf::from(name);
        return match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => Err(not_found(format!(
                "{} is not a regular file",
                path.display()
            ))),
            Err(e) => Err(not_found(format!("{}: {e}", path.display()))),
        };
    }
    let path_var = std::env::var("PATH").unwrap_or_default();
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(EXTRA_SEARCH_DIRS.iter().copied())
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| fs::metadata(candidate).is_ok_and(|m| m.is_file()))
        .ok_or_else(|| not_found("not found in $PATH or the system directories".into()))
}

/// The monitor's executable name (rpod's own, a conmon drop-in: crates/rpod-monitor).
pub const RPOD_MONITOR: &str = "rpod-monitor";

/// The monitor used when none is configured: `rpod-monitor` beside the running executable
/// (where `cargo build` and `scripts/setup.sh` put it), else in `$PATH` or the system
/// directories, else conmon.
pub fn default_monitor() -> Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(RPOD_MONITOR)))
        .filter(|path| path.is_file());
    if let Some(path) = beside {
        return Ok(path);
    }
    find_executable("conmon", RPOD_MONITOR).or_else(|_| find_executable("conmon", "conmon"))
}

impl ConmonRuntime {
    pub fn new(config: ConmonRuntimeConfig) -> Result<Self> {
        let path = find_executable("OCI runtime", &config.runtime)?;
        let name = Path::new(&config.runtime)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| config.runtime.clone());
        let conmon = match &config.conmon {
            Some(path) => find_executable("conmon", &path.to_string_lossy())?,
            None => default_monitor()?,
        };
        let mut flags = Vec::new();
        if let Some(root) = &config.state_root {
            flags.push("--root".to_string());
            flags.push(root.display().to_string());
        }
        flags.extend(config.runtime_flags.iter().cloned());
        for dir in ["exits", "persist"] {
            let dir = config.tmp_dir.join(dir);
            fs::create_dir_all(&dir).map_err(|e| OciError::io("creating directory", &dir, e))?;
        }
        let seccomp_cache = match (&config.state_root, name.as_str()) {
            (Some(root), "crun") => Some(seccomp_bpf::SeccompCache::new(
                config.tmp_dir.join("seccomp-cache"),
                root.clone(),
                path.clone(),
            )),
            _ => None,
        };
        Ok(ConmonRuntime {
            seccomp_cache,
            name,
            path,
            conmon,
            tmp_dir: config.tmp_dir,
            flags,
            log_level: config.log_level,
            criu: config.criu,
            probes: Default::default(),
        })
    }

    /// Path of conmon's executable.
    pub fn conmon_path(&self) -> &Path {
        &self.conmon
    }

    /// The global flags put before every runtime subcommand.
    pub fn runtime_flags(&self) -> &[String] {
        &self.flags
    }

    fn exit_dir(&self) -> PathBuf {
        self.tmp_dir.join("exits")
    }

    /// Directory where conmon keeps its own copy of the exit status and the OOM marker.
    pub fn persist_dir(&self, ctr: &OciContainer) -> PathBuf {
        args::persist_dir(&self.tmp_dir, &ctr.id)
    }

    fn pid_file(ctr: &OciContainer) -> PathBuf {
        ctr.run_dir.join("pidfile")
    }

    fn conmon_pid_file(ctr: &OciContainer) -> PathBuf {
        ctr.run_dir.join("conmon.pid")
    }

    fn oci_log(&self, ctr: &OciContainer) -> Option<PathBuf> {
        self.oci_log_in(&ctr.run_dir)
    }

    /// The runtime's JSON error log in `dir`, when the runtime writes one. At debug level
    /// the runtime's messages go to conmon's output instead.
    fn oci_log_in(&self, dir: &Path) -> Option<PathBuf> {
        (self.supports_json_errors() && self.log_level != "debug").then(|| dir.join("oci-log"))
    }

    /// Run the runtime directly with a minimal environment: `XDG_RUNTIME_DIR` (empty as
    /// root) and, for operations that run hooks, `PATH`.
    fn run(&self, subcommand: &[&str], with_path: bool) -> Result<Output> {
        self.spawn_runtime(subcommand, with_path)?.finish()
    }

    /// Start the runtime's forced delete of container `id`.
    fn spawn_delete(&self, id: &str) -> Result<RuntimeCall> {
        self.spawn_runtime(&["delete", "--force", id], false)
    }

    /// Where removals leave the monitors' deletes that still run (see monitor_delete.rs).
    fn pending_deletes(&self) -> PathBuf {
        self.tmp_dir.join("deleting").join(&self.name)
    }

    /// Delete the containers whose monitors left their deletes undone (killed during
    /// them, or the delete failed); forget the deletes that are done.
    fn sweep_pending_deletes(&self) {
        monitor_delete::sweep(&self.pending_deletes(), |id| {
            tracing::info!(id, "deleting a container its monitor did not delete");
            if let Err(e) = self.spawn_delete(id).and_then(|call| call.finish()) {
                // Already gone from the runtime is what we want.
                tracing::debug!(id, %e, "runtime delete");
            }
        });
    }

    /// The runtime's delete, after the one rpod-monitor began at the exit (when it did).
    /// With `leave_running`, a delete of the monitor's that still runs is left to the sweep
    /// of pending deletes instead of waited for: only for a removal, which takes the
    /// monitor's files next.
    fn delete_after_monitor(&self, ctr: &OciContainer, leave_running: bool) -> PendingCall {
        let persist = self.persist_dir(ctr);
        if let Some(announcement) = monitor_delete::announced(&persist) {
            let runtime = self.clone();
            let id = ctr.id.clone();
            // As a call of our own, it is waited for at most the limit since now.
            let deadline = std::time::Instant::now() + RUNTIME_CALL_TIMEOUT;
            return PendingCall::deferred(move || {
                let running = match monitor_delete::look(announcement) {
                    MonitorDelete::Ended(true) => return Ok(()),
                    MonitorDelete::Ended(false) => None,
                    MonitorDelete::Running(announcement) => Some(announcement),
                };
                if let Some(announcement) = running {
                    if leave_running {
                        match monitor_delete::leave_to_sweep(
                            &persist,
                            &runtime.pending_deletes(),
                            &id,
                        ) {
                            Ok(()) => return Ok(()),
                            Err(e) => tracing::debug!(id, %e, "leaving the delete to the sweep"),
                        }
                    }
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if monitor_delete::deleted_by_monitor(announcement, left) {
                        return Ok(());
                    }
                }
                runtime.spawn_delete(&id)?.finish().map(drop)
            });
        }
        match self.spawn_delete(&ctr.id) {
            Ok(call) => PendingCall::deferred(move || call.finish().map(drop)),
            Err(e) => PendingCall::done(Err(e)),
        }
    }

    /// Start the runtime with `subcommand`; `RuntimeCall::finish` waits for it.
    fn spawn_runtime(&self, subcommand: &[&str], with_path: bool) -> Result<RuntimeCall> {
        let argv = args::runtime_argv(&self.flags, subcommand);
        // A small runtime (crun) runs from a sealed copy of itself, which spares it its own
        // (rpod-sealed). The kernel resolves `/proc/self/fd/N` at the exec, before it closes
        // the descriptor; argv[0] stays the runtime's path.
        let copy = rpod_sealed::copy(&self.path);
        let mut command = match &copy {
            Some(copy) => {
                let fd = std::os::fd::AsRawFd::as_raw_fd(copy);
                let mut command = Command::new(format!("/proc/self/fd/{fd}"));
                std::os::unix::process::CommandExt::arg0(&mut command, &self.path);
                command
            }
            None => Command::new(&self.path),
        };
        command
            .args(&argv)
            .env_clear()
            .env("XDG_RUNTIME_DIR", "")
            .stdin(Stdio::null());
        if with_path {
            if let Ok(path) = std::env::var("PATH") {
                command.env("PATH", path);
            }
        }
        let command_line = format!("{} {}", self.path.display(), argv.join(" "));
        let running = BoundedCommand::spawn(&mut command)
            .map_err(|e| OciError::io("running OCI runtime", &self.path, e))?;
        drop(copy);
        Ok(RuntimeCall {
            running,
            command_line,
            path: self.path.clone(),
        })
    }

    /// conmon's environment: ours, without the variables that must not leak into it, plus
    /// the pipe numbers. Later entries win over earlier ones, as with libpod.
    fn conmon_env(&self, preserve_fds: u32, attach_pipe: bool) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![(
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        )];
        // A variable whose name or value is not UTF-8 is left out (`std::env::vars` would
        // panic on it): the monitor and the runtime need none, and the container's own
        // environment comes from its spec.
        env.extend(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| k != "NOTIFY_SOCKET" && k != "DBUS_SESSION_BUS_ADDRESS"),
        );
        let (sync_fd, start_fd, attach_fd) = spawn::pipe_numbers(preserve_fds);
        env.push(("_OCI_SYNCPIPE".into(), sync_fd.to_string()));
        env.push(("_OCI_STARTPIPE".into(), start_fd.to_string()));
        if attach_pipe {
            env.push(("_OCI_ATTACHPIPE".into(), attach_fd.to_string()));
        }
        env.push(("XDG_RUNTIME_DIR".into(), String::new()));
        let mut deduped: Vec<(String, String)> = Vec::new();
        for (key, value) in env {
            deduped.retain(|(k, _)| *k != key);
            deduped.push((key, value));
        }
        deduped
    }

    /// The monitor is rpod-monitor, which takes options conmon has not
    /// (`--exit-command-handover`, `--start-at-create`).
    fn monitor_is_ours(&self) -> bool {
        self.conmon.file_name() == Some(std::ffi::OsStr::new(RPOD_MONITOR))
    }

    /// Output records as large as rpod's attach reader takes, from rpod-monitor (every
    /// client of the attach socket of a container rpod runs is rpod's: the CLI or the
    /// service); conmon's are 8 KiB.
    fn attach_record_size(&self) -> Option<usize> {
        self.monitor_is_ours()
            .then_some(crate::attach::MONITOR_RECORD_PAYLOAD)
    }

    /// The handover file in a container's persist directory or an exec session's.
    fn exit_handover_file(dir: &Path) -> PathBuf {
        dir.join("waiters")
    }

    fn remove_stale_files(&self, ctr: &OciContainer) {
        let persist = self.persist_dir(ctr);
        for path in [
            Self::exit_handover_file(&persist),
            self.exit_dir().join(&ctr.id),
            persist.join("exit"),
            persist.join("oom"),
            persist.join(monitor_delete::DELETE),
            Self::pid_file(ctr),
            Self::conmon_pid_file(ctr),
            ctr.run_dir.join("oci-log"),
            ctr.bundle_dir.join("attach"),
            ctr.bundle_dir.join("ctl"),
            ctr.bundle_dir.join("winsz"),
            ctr.bundle_dir.join("oom"),
        ] {
            let _ = fs::remove_file(path);
        }
    }

    /// Read the PID conmon reports on the sync pipe once the runtime started the process.
    /// A failure carries the runtime's own message: the last error of its JSON log, else
    /// what conmon relayed from its stderr.
    fn read_started_pid(
        &self,
        sync: &std::os::fd::OwnedFd,
        oci_log: Option<&Path>,
        ctr: &OciContainer,
        what: &str,
    ) -> Result<i32> {
        let message = match spawn::read_message(sync, CREATE_TIMEOUT)? {
            Some(raw) => match parse_sync_message(&raw) {
                Ok(SyncMessage { data, .. }) if data > 0 => return Ok(data as i32),
                Ok(SyncMessage { message, .. }) => message,
                Err(parse_error) => Some(parse_error),
            },
            None => None,
        };
        let from_log = oci_log.and_then(last_runtime_error);
        Err(
            match from_log.or(message.filter(|m| !m.trim().is_empty())) {
                Some(text) => OciError::from_runtime_message(&self.name, &text),
                None => OciError::Conmon {
                    id: ctr.id.clone(),
                    message: format!("{what} failed: no message from the runtime"),
                },
            },
        )
    }

    fn wait_gone_or_kill(&self, ctr: &OciContainer, all: bool) -> Result<()> {
        self.signal_tolerating_exit(ctr, libc::SIGKILL, all)
            .map_err(|e| OciError::Runtime {
                runtime: self.name.clone(),
                message: format!("sending SIGKILL to container {}: {e}", ctr.id),
            })?;
        if wait_pid_gone(ctr.pid, KILL_TIMEOUT) {
            Ok(())
        } else {
            Err(OciError::Timeout(format!(
                "container {}: given PID {} did not die within timeout",
                ctr.id, ctr.pid
            )))
        }
    }

    /// The monitor's create (or restore); `start_at_create` holds the seconds of
    /// `--hold-output-for-attach` when the create also starts the process.
    fn create(
        &self,
        ctr: &OciContainer,
        restore: Option<&CheckpointOptions>,
        start_at_create: Option<u64>,
    ) -> Result<CreateOutcome> {
        if restore.is_some() && !self.supports_checkpoint() {
            return Err(self.checkpoint_unsupported());
        }
        let log_max_files = ctr.monitor.log_max_files.filter(|files| *files > 1);
        if log_max_files.is_some() && !self.monitor_is_ours() {
            return Err(OciError::Unavailable {
                operation: "a log kept in several files (--log-opt max-file)",
                runtime: self.conmon.display().to_string(),
                reason: "conmon starts the log afresh at its size limit; rpod-monitor keeps the full files".into(),
            });
        }
        let persist = self.persist_dir(ctr);
        for dir in [&ctr.run_dir, &persist, &self.exit_dir()] {
            fs::create_dir_all(dir).map_err(|e| OciError::io("creating directory", dir, e))?;
        }
        self.remove_stale_files(ctr);
        // A restore compiles no filter of its own: nothing of the spec's waits for it.
        if let (Some(cache), Some(_)) = (&self.seccomp_cache, restore) {
            cache.forget(&ctr.id);
        }
        let oci_log = self.oci_log(ctr);
        let argv = create_argv(&CreateArgs {
            ctr,
            runtime_path: &self.path,
            runtime_flags: &self.flags,
            exit_dir: &self.exit_dir(),
            persist_dir: &persist,
            pid_file: &Self::pid_file(ctr),
            conmon_pid_file: &Self::conmon_pid_file(ctr),
            oci_log: oci_log.as_deref(),
            log_level: &self.log_level,
            exit_handover: self
                .monitor_is_ours()
                .then(|| Self::exit_handover_file(&persist)),
            restore: restore.map(|options| args::Restore {
                images: Self::checkpoint_dir(ctr),
                runtime_args: self.criu_flags().iter().map(|s| s.to_string()).collect(),
                tcp_established: options.tcp_established,
                file_locks: options.file_locks,
            }),
            start_at_create,
            attach_record_size: self.attach_record_size(),
            delete_at_exit: ctr.monitor.delete_at_exit && self.monitor_is_ours(),
            health_check: ctr
                .monitor
                .health_check
                .as_ref()
                .filter(|_| self.monitor_is_ours()),
            log_max_files,
        });
        tracing::debug!(conmon = %self.conmon.display(), ?argv, "starting conmon");
        let stderr_path = ctr.run_dir.join("conmon.stderr");
        let stderr = File::create(&stderr_path)
            .map_err(|e| OciError::io("creating file", &stderr_path, e))?;
        let passed: Vec<i32> = ctr
            .pass_fds
            .iter()
            .map(|fd| std::os::fd::AsRawFd::as_raw_fd(fd.as_ref()))
            .collect();
        let stdio = match ctr.log_driver {
            LogDriver::Passthrough => spawn::ConmonStdio::Inherit { stdin: ctr.stdin },
            _ => spawn::ConmonStdio::Quiet(stderr),
        };
        let (mut child, pipes) = spawn::spawn(
            &self.conmon,
            &argv,
            &self.conmon_env(passed.len() as u32, false),
            stdio,
            false,
            &passed,
            // The runtime makes the directories that mount points need inside the
            // container's root with the monitor's umask: with rpod's private one, runc
            // made them 0700 and the container's other users could not reach what was
            // mounted there (crun sets their mode itself). What the monitor writes lies
            // in rpod's private directories.
            Some(CREATE_UMASK),
        )?;
        let started = spawn::signal_start(&pipes.start);
        let status = child
            .wait()
            .map_err(|e| OciError::io("waiting for conmon", &self.conmon, e))?;
        started?;
        if !status.success() {
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            return Err(OciError::Conmon {
                id: ctr.id.clone(),
                message: format!("conmon failed: {status}: {}", stderr.trim()),
            });
        }
        let what = if restore.is_some() {
            "container restore"
        } else {
            "container create"
        };
        let started_at = std::time::Instant::now();
        let outcome = self
            .read_started_pid(&pipes.sync, oci_log.as_deref(), ctr, what)
            .map_err(|e| match restore {
                Some(_) => self.with_criu_log(ctr, "restore.log", e),
                None => e,
            });
        let pid = match outcome {
            Ok(pid) => pid,
            Err(e) => {
                if let Some(cache) = &self.seccomp_cache {
                    cache.forget(&ctr.id);
                }
                if let Err(delete_error) = self.delete_container(ctr) {
                    tracing::debug!(id = %ctr.id, %delete_error, "removing a failed container");
                }
                return Err(e);
            }
        };
        if let Some(cache) = &self.seccomp_cache {
            cache.created(&ctr.id);
        }
        let conmon_pid = fs::read_to_string(Self::conmon_pid_file(ctr))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .unwrap_or(0);
        if conmon_pid == 0 {
            tracing::warn!(id = %ctr.id, "conmon did not write its pid file");
        }
        Ok(CreateOutcome {
            pid,
            conmon_pid,
            restore_micros: if restore.is_some() {
                started_at.elapsed().as_micros() as i64
            } else {
                0
            },
        })
    }

    /// Send a signal; a failure because the process is already gone is no failure for stop.
    fn signal_tolerating_exit(&self, ctr: &OciContainer, signal: i32, all: bool) -> Result<()> {
        match self.kill_container(ctr, signal, all) {
            Ok(()) => Ok(()),
            Err(_) if !pid_alive(ctr.pid) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl OciRuntime for ConmonRuntime {
    fn name(&self) -> &str {
        &self.name
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn prepare_spec(&self, id: &str, spec: &mut oci_spec::runtime::Spec) {
        if let Some(cache) = &self.seccomp_cache {
            cache.prepare(id, spec);
        }
    }

    fn create_container(
        &self,
        ctr: &OciContainer,
        restore: Option<&CheckpointOptions>,
    ) -> Result<CreateOutcome> {
        self.create(ctr, restore, None)
    }

    fn supports_start_at_create(&self) -> bool {
        self.monitor_is_ours()
    }

    fn create_started_container(
        &self,
        ctr: &OciContainer,
        attach_follows: bool,
    ) -> Result<CreateOutcome> {
        if !self.supports_start_at_create() {
            return Err(OciError::NotSupported {
                operation: "create-and-start (it needs rpod-monitor)",
                runtime: self.name.clone(),
            });
        }
        let hold = if attach_follows { ATTACH_HOLD_SECS } else { 0 };
        self.create(ctr, None, Some(hold))
    }

    fn start_container(&self, ctr: &OciContainer) -> Result<()> {
        match self.run(&["start", &ctr.id], true) {
            Ok(_) => Ok(()),
            // The start released the container, whose process then exited before the
            // runtime was done (the monitor's delete at the exit can remove the runtime's
            // state under it: runc then fails removing its exec FIFO). It started: its
            // exit is the monitor's to report. An unstarted container's process waits.
            Err(e) if ctr.pid > 0 && !pid_alive(ctr.pid) => {
                tracing::debug!(id = %ctr.id, %e, "the runtime's start failed after the container ran");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn kill_container(&self, ctr: &OciContainer, signal: i32, all: bool) -> Result<()> {
        let argv = kill_argv(&[], &ctr.id, signal, all);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        match self.run(&argv, false) {
            Ok(_) => Ok(()),
            // The runtime lost track of a container whose process still runs (its state
            // under the run root was deleted): signal the process itself, once it is
            // certain to be the container's.
            Err(e) if pid_alive(ctr.pid) && in_container_cgroup(ctr.pid, &ctr.id) => {
                tracing::warn!(id = %ctr.id, pid = ctr.pid, %e, "the runtime lost track of the container; signalling its process directly");
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(ctr.pid),
                    nix::sys::signal::Signal::try_from(signal)
                        .map_err(|_| OciError::InvalidArg(format!("invalid signal {signal}")))?,
                )
                .map_err(|errno| OciError::Runtime {
                    runtime: self.name.clone(),
                    message: format!("sending signal to container {}: {errno}", ctr.id),
                })
            }
            Err(e) if !pid_alive(ctr.pid) => Err(OciError::CtrStateInvalid {
                message: format!("sending signal to container {}: {e}", ctr.id),
            }),
            Err(e) => Err(OciError::Runtime {
                runtime: self.name.clone(),
                message: format!("sending signal to container {}: {e}", ctr.id),
            }),
        }
    }

    fn stop_container(&self, ctr: &OciContainer, timeout: u32, all: bool) -> Result<()> {
        if !pid_alive(ctr.pid) {
            return Ok(());
        }
        if timeout > 0 {
            self.signal_tolerating_exit(ctr, ctr.stop_signal, all)?;
            if wait_pid_gone(ctr.pid, Duration::from_secs(u64::from(timeout))) {
                return Ok(());
            }
            tracing::warn!(
                "StopSignal {} failed to stop container {} in {} seconds, resorting to SIGKILL",
                signal_name(ctr.stop_signal),
                ctr.name,
                timeout
            );
        }
        self.wait_gone_or_kill(ctr, all)
    }

    fn delete_container(&self, ctr: &OciContainer) -> Result<()> {
        self.delete_after_monitor(ctr, false).finish()
    }

    fn begin_delete_container(&self, ctr: &OciContainer) -> PendingCall {
        // A removal is where deletes left by earlier removals are looked after.
        self.sweep_pending_deletes();
        self.delete_after_monitor(ctr, true)
    }

    fn pause_container(&self, ctr: &OciContainer) -> Result<()> {
        self.run(&["pause", &ctr.id], false).map(drop)
    }

    fn unpause_container(&self, ctr: &OciContainer) -> Result<()> {
        self.run(&["resume", &ctr.id], false).map(drop)
    }

    fn attach(&self, ctr: &OciContainer, options: AttachOptions) -> Result<()> {
        let streams = &options.streams;
        if !(streams.attach_input || streams.attach_output || streams.attach_error) {
            return Err(OciError::InvalidArg(
                "must provide at least one stream to attach to".into(),
            ));
        }
        let keys = keys_or_default(options.detach_keys.as_deref())?;
        if let Some(size) = options.initial_size {
            self.attach_resize(ctr, size)?;
        }
        // Connect before starting, so that no output of a short-lived container is lost.
        let connection = AttachConnection::connect(&self.attach_socket_path(ctr)?)?;
        if options.start {
            self.start_container(ctr)?;
        }
        connection.copy(options.streams, keys)
    }

    fn http_attach(&self, ctr: &OciContainer, options: HttpAttachOptions) -> Result<()> {
        let keys = keys_or_default(options.detach_keys.as_deref())?;
        if !options.stream {
            return http_attach::write_preamble(&options.connection, options.preamble);
        }
        // Reach the streams first: a container that cannot be attached to is still
        // answered with an HTTP error, as nothing was written yet.
        let connection = AttachConnection::connect(&self.attach_socket_path(ctr)?)?;
        let streams =
            http_attach::connection_streams(&options.connection, options.streams, ctr.terminal)?;
        http_attach::write_preamble(&options.connection, options.preamble)?;
        connection.copy(streams, keys)
    }

    fn attach_connect(&self, ctr: &OciContainer) -> Result<Box<dyn AttachSession>> {
        Ok(Box::new(AttachConnection::connect(
            &self.attach_socket_path(ctr)?,
        )?))
    }

    fn exec_exit_code(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        timeout: Duration,
    ) -> Result<Option<i32>> {
        let exit_file = exec::exec_exit_file(ctr, session_id)?;
        // A session whose directory went was removed (by its exit command): no file comes.
        let session_dir = exec::session_dir(ctr, session_id)?;
        Ok(wait_exit_file(&exit_file, timeout, || !session_dir.exists())?.map(|e| e.code))
    }

    fn exec_remove(&self, ctr: &OciContainer, session_id: &str) -> Result<()> {
        exec::remove_session_dir(ctr, session_id)
    }

    fn attach_resize(&self, ctr: &OciContainer, size: TerminalSize) -> Result<()> {
        write_resize(&ctr.bundle_dir.join("ctl"), size, self.monitor_is_ours())
    }

    fn exec_container(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        mut options: ExecOptions,
        initial_size: Option<TerminalSize>,
    ) -> Result<(i32, ExecAttachResult)> {
        let keys = keys_or_default(options.detach_keys.as_deref())?;
        let streams = options
            .streams
            .take()
            .ok_or_else(|| OciError::InvalidArg("an attached exec needs streams".into()))?;
        let stdin = streams.attach_input;
        let (pid, connection) = self.start_exec(
            ctr,
            session_id,
            &options,
            exec::ExecIo::Attach { initial_size },
            stdin,
        )?;
        let connection =
            connection.ok_or_else(|| OciError::InvalidArg("exec attach did not connect".into()))?;
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(connection.copy(streams, keys));
        });
        Ok((pid, receiver))
    }

    fn exec_container_http(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        options: ExecOptions,
        http: HttpAttachOptions,
        initial_size: Option<TerminalSize>,
    ) -> Result<(i32, ExecAttachResult)> {
        let keys = keys_or_default(http.detach_keys.as_deref())?;
        let streams =
            http_attach::connection_streams(&http.connection, http.streams, options.terminal)?;
        let (pid, connection) = self.start_exec(
            ctr,
            session_id,
            &options,
            exec::ExecIo::Attach { initial_size },
            http.streams.stdin,
        )?;
        let connection =
            connection.ok_or_else(|| OciError::InvalidArg("exec attach did not connect".into()))?;
        let (sender, receiver) = std::sync::mpsc::channel();
        // The session runs from here on: a preamble that cannot be written ends only the
        // copy, and is reported through the receiver like any other copy error.
        std::thread::spawn(move || {
            let result = http_attach::write_preamble(&http.connection, http.preamble)
                .and_then(|()| connection.copy(streams, keys));
            let _ = sender.send(result);
        });
        Ok((pid, receiver))
    }

    fn exec_container_detached(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        options: ExecOptions,
        stdin: bool,
    ) -> Result<i32> {
        let (pid, _) = self.start_exec(ctr, session_id, &options, exec::ExecIo::Detached, stdin)?;
        Ok(pid)
    }

    fn exec_attach_resize(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        size: TerminalSize,
    ) -> Result<()> {
        self.resize_exec(ctr, session_id, size)
    }

    fn exec_stop_container(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        timeout: u32,
    ) -> Result<()> {
        self.stop_exec(ctr, session_id, timeout)
    }

    fn exec_update_status(&self, ctr: &OciContainer, session_id: &str) -> Result<bool> {
        exec::exec_alive(ctr, session_id)
    }

    /// `runtime checkpoint --image-path BUNDLE/checkpoint --work-path BUNDLE`: CRIU dumps
    /// the container's processes; unless `keep_running`, they are gone afterwards. Returns
    /// how long the runtime took, in microseconds.
    fn checkpoint_container(&self, ctr: &OciContainer, options: &CheckpointOptions) -> Result<i64> {
        if !self.supports_checkpoint() {
            return Err(self.checkpoint_unsupported());
        }
        let images = Self::checkpoint_dir(ctr);
        let _ = fs::remove_dir_all(&images);
        fs::create_dir_all(&images).map_err(|e| OciError::io("creating directory", &images, e))?;
        let images_arg = images.display().to_string();
        let work_arg = ctr.bundle_dir.display().to_string();
        let mut args: Vec<&str> = self.criu_flags();
        args.extend([
            "checkpoint",
            "--image-path",
            &images_arg,
            "--work-path",
            &work_arg,
        ]);
        if options.keep_running {
            args.push("--leave-running");
        }
        if options.tcp_established {
            args.push("--tcp-established");
        }
        if options.file_locks {
            args.push("--file-locks");
        }
        args.push(&ctr.id);
        let started = std::time::Instant::now();
        self.run(&args, true)
            .map_err(|e| self.with_criu_log(ctr, "dump.log", e))?;
        Ok(started.elapsed().as_micros() as i64)
    }

    fn check_conmon_running(&self, ctr: &OciContainer) -> Result<bool> {
        if ctr.conmon_pid <= 0 {
            // Without a recorded monitor PID there is nothing to check; the seed asks
            // implementations to assume it runs.
            return Ok(true);
        }
        if !pid_alive(ctr.conmon_pid) {
            return Ok(false);
        }
        // Guard against PID reuse: our monitor's command line names the container.
        match fs::read(format!("/proc/{}/cmdline", ctr.conmon_pid)) {
            Ok(cmdline) => Ok(cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == ctr.id.as_bytes())),
            Err(_) => Ok(true),
        }
    }

    fn supports_checkpoint(&self) -> bool {
        *self
            .probes
            .checkpoint
            .get_or_init(|| self.probe_checkpoint())
    }

    fn supports_json_errors(&self) -> bool {
        JSON_ERROR_RUNTIMES.contains(&self.name.as_str())
    }

    fn supports_no_cgroups(&self) -> bool {
        NO_CGROUP_RUNTIMES.contains(&self.name.as_str())
    }

    fn supports_kvm(&self) -> bool {
        KVM_RUNTIMES.contains(&self.name.as_str())
    }

    fn attach_socket_path(&self, ctr: &OciContainer) -> Result<PathBuf> {
        Ok(ctr.bundle_dir.join("attach"))
    }

    fn exec_attach_socket_path(&self, ctr: &OciContainer, session_id: &str) -> Result<PathBuf> {
        // `session_dir` refuses an empty or path-like session id.
        Ok(exec::session_dir(ctr, session_id)?.join("attach"))
    }

    fn exit_file_path(&self, ctr: &OciContainer) -> Result<PathBuf> {
        Ok(self.exit_dir().join(&ctr.id))
    }

    fn exit_handover(&self, ctr: &OciContainer) -> Option<ExitHandover> {
        if !self.monitor_is_ours() {
            return None;
        }
        ExitHandover::join(&Self::exit_handover_file(&self.persist_dir(ctr)))
    }

    fn exec_handover(&self, ctr: &OciContainer, session_id: &str) -> Option<ExitHandover> {
        if !self.monitor_is_ours() {
            return None;
        }
        let dir = exec::session_dir(ctr, session_id).ok()?;
        fs::create_dir_all(&dir).ok()?;
        ExitHandover::join(&Self::exit_handover_file(&dir))
    }

    fn oom_file_path(&self, ctr: &OciContainer) -> Result<PathBuf> {
        Ok(self.persist_dir(ctr).join("oom"))
    }

    fn runtime_info(&self) -> Result<(ConmonInfo, OciRuntimeInfo)> {
        if let Some(info) = self.probes.info.get() {
            return Ok(info.clone());
        }
        let info = self.probe_info()?;
        Ok(self.probes.info.get_or_init(|| info).clone())
    }

    /// `runtime update --resources FILE ID`: runc and crun both read the spec's
    /// `linux.resources` from a file; they change the cgroup and their own state, so a
    /// failure leaves the old limits.
    fn update_container(&self, ctr: &OciContainer, resources: &LinuxResources) -> Result<()> {
        let json = serde_json::to_vec(resources)
            .map_err(|e| OciError::InvalidArg(format!("serializing resources: {e}")))?;
        let file = ctr.bundle_dir.join("resources-update.json");
        std::fs::write(&file, json).map_err(|e| OciError::io("writing", &file, e))?;
        let path = file.display().to_string();
        let result = self.run(&["update", "--resources", &path, &ctr.id], false);
        let _ = std::fs::remove_file(&file);
        result.map(drop)
    }
}

impl ConmonRuntime {
    /// Whether checkpoints work: crun only when built with CRIU (`+CRIU` in its version);
    /// runc (and others) when it has a `checkpoint` command and a CRIU that passes
    /// `criu check` is at hand.
    fn probe_checkpoint(&self) -> bool {
        let output = |args: &[&str]| {
            Command::new(&self.path)
                .args(args)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
        };
        if self.name == "crun" {
            return output(&["--version"])
                .is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains("+CRIU"));
        }
        output(&["checkpoint", "--help"]).is_some()
            && self.criu.as_deref().and_then(criu_version).is_some()
    }

    fn checkpoint_unsupported(&self) -> OciError {
        let why = if self.name == "crun" {
            "crun here is built without CRIU (its --version lists no +CRIU)".to_string()
        } else {
            match &self.criu {
                None => "no CRIU was found (scripts/install-criu.sh installs one)".into(),
                Some(path) => format!("CRIU at {} does not pass `criu check`", path.display()),
            }
        };
        OciError::Unavailable {
            operation: "checkpointing",
            runtime: self.name.clone(),
            reason: why,
        }
    }

    /// Where a container's checkpoint images go.
    fn checkpoint_dir(ctr: &OciContainer) -> PathBuf {
        ctr.bundle_dir.join("checkpoint")
    }

    /// runc's global flag naming CRIU (crun links CRIU in).
    fn criu_flags(&self) -> Vec<&str> {
        match (&self.criu, self.name.as_str()) {
            (Some(path), name) if name != "crun" => {
                vec!["--criu", path.to_str().unwrap_or("criu")]
            }
            _ => Vec::new(),
        }
    }

    /// Add CRIU's errors from its own log (in the bundle) to a failed dump or restore.
    fn with_criu_log(&self, ctr: &OciContainer, log: &str, error: OciError) -> OciError {
        match criu_log_errors(&ctr.bundle_dir.join(log)) {
            Some(errors) => OciError::Conmon {
                id: ctr.id.clone(),
                message: format!("{error} (CRIU: {errors})"),
            },
            None => error,
        }
    }

    /// The versions and packages of the runtime and of conmon.
    fn probe_info(&self) -> Result<(ConmonInfo, OciRuntimeInfo)> {
        let version_of = |path: &Path, what: &str| -> Result<String> {
            let out = Command::new(path)
                .arg("--version")
                .stdin(Stdio::null())
                .output()
                .map_err(|e| OciError::io("running", path, e))?;
            if !out.status.success() {
                return Err(OciError::Runtime {
                    runtime: self.name.clone(),
                    message: format!("getting version of {what}: {}", out.status),
                });
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let runtime_version = version_of(&self.path, "OCI runtime")?;
        let conmon_version = version_of(&self.conmon, "conmon")?;
        let conmon = ConmonInfo {
            package: crate::pkginfo::package_of(&self.conmon),
            path: self.conmon.display().to_string(),
            version: conmon_version.trim_end().replacen('\n', ", ", 1),
        };
        let runtime = OciRuntimeInfo {
            name: self.name.clone(),
            package: crate::pkginfo::package_of(&self.path),
            path: self.path.display().to_string(),
            version: runtime_version
                .strip_suffix('\n')
                .unwrap_or(&runtime_version)
                .to_string(),
        };
        Ok((conmon, runtime))
    }
}

#[cfg(test)]
mod criu_log_tests {
    use super::criu_errors;

    #[test]
    fn a_few_errors_are_all_shown_and_many_are_cut_in_the_middle() {
        let log = "(00.01) 1: restoring\n\
                   (00.02) Error (util.c:1533): rlimit: Can't setup RLIMIT_NOFILE\n\
                   (00.03) 1: Error (files-reg.c:2192): File tmp/grows has bad size\n\
                   (00.04) 1: Error (files.c:1221): Unable to open fd=3 id=0x5\n\
                   (00.05) Error (cr-restore.c:2320): Restoring FAILED.\n";
        assert_eq!(
            criu_errors(log).unwrap(),
            "(00.02) Error (util.c:1533): rlimit: Can't setup RLIMIT_NOFILE; \
             (00.03) 1: Error (files-reg.c:2192): File tmp/grows has bad size; \
             (00.04) 1: Error (files.c:1221): Unable to open fd=3 id=0x5; \
             (00.05) Error (cr-restore.c:2320): Restoring FAILED."
        );
        let many: String = (1..=9).map(|n| format!("Error {n}\n")).collect();
        assert_eq!(
            criu_errors(&many).unwrap(),
            "Error 1; Error 2; Error 3; (4 more); Error 8; Error 9"
        );
        assert_eq!(criu_errors("(00.01) all fine\n"), None);
    }

    /// A log that names a file whose name is not UTF-8 still shows its errors.
    #[test]
    fn errors_are_read_from_a_log_that_is_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("restore.log");
        std::fs::write(
            &log,
            b"(00.01) Error (files.c:1): Unable to open tmp/\xff\xfe\n",
        )
        .unwrap();
        let errors = super::criu_log_errors(&log).unwrap();
        assert!(
            errors.starts_with("(00.01) Error (files.c:1): Unable to open tmp/"),
            "{errors}"
        );
        assert_eq!(
            super::criu_log_errors(&dir.path().join("missing.log")),
            None
        );
    }
}

#[cfg(test)]
mod bounded_tests {
    use super::*;

    fn run_bounded(command: &mut Command, timeout: Duration) -> std::io::Result<Output> {
        BoundedCommand::spawn(command)?.finish(timeout)
    }

    #[test]
    fn a_command_that_hangs_is_killed_at_its_deadline() {
        let started = std::time::Instant::now();
        let err =
            run_bounded(Command::new("sleep").arg("30"), Duration::from_millis(300)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(10));
        let out = run_bounded(
            Command::new("sh").args(["-c", "head -c 200000 /dev/zero; echo err >&2; exit 3"]),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(out.stdout.len(), 200_000);
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
    }

    /// The limit counts from the spawn: a command waited for once its time has run out is
    /// killed at once, not given the whole limit again.
    #[test]
    fn the_limit_counts_from_the_spawn() {
        let running = BoundedCommand::spawn(Command::new("sleep").arg("30")).unwrap();
        std::thread::sleep(Duration::from_secs(3));
        let waited = std::time::Instant::now();
        let err = running.finish(Duration::from_secs(3)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(
            waited.elapsed() < Duration::from_secs(2),
            "{:?}",
            waited.elapsed()
        );
    }
}

#[cfg(test)]
mod pending_delete_tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::mpsc;

    /// A removal whose monitor's delete cannot be left to the sweep (here an entry of the
    /// same name is pending already, so the link fails) waits for that delete instead; when
    /// it succeeded, the runtime is not asked again. No root: a script stands in for the
    /// runtime, and the test holds the monitor's announcement.
    #[test]
    fn a_delete_that_cannot_be_left_to_the_sweep_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls");
        let script = dir.path().join("fake-runtime");
        fs::write(
            &script,
            format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display()),
        )
        .unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let runtime = ConmonRuntime::new(ConmonRuntimeConfig {
            runtime: script.display().to_string(),
            conmon: Some("/bin/true".into()),
            tmp_dir: dir.path().join("monitor"),
            state_root: Some(dir.path().join("state")),
            runtime_flags: Vec::new(),
            log_level: "error".into(),
            criu: None,
        })
        .unwrap();
        let ctr = OciContainer {
            id: "b".repeat(64),
            name: "removed".into(),
            bundle_dir: dir.path().join("bundle"),
            run_dir: dir.path().join("run"),
            log_driver: LogDriver::None,
            terminal: false,
            stdin: false,
            stop_signal: 15,
            pid: 0,
            conmon_pid: 0,
            exit_command: Vec::new(),
            pid_namespace: true,
            cgroups: true,
            monitor: Default::default(),
            pass_fds: Vec::new(),
        };
        // The monitor's delete runs: it holds its announcement locked.
        let persist = runtime.persist_dir(&ctr);
        fs::create_dir_all(&persist).unwrap();
        let announced = persist.join(monitor_delete::DELETE);
        let mut monitor = File::create(&announced).unwrap();
        rustix::fs::flock(&monitor, rustix::fs::FlockOperation::LockExclusive).unwrap();
        let pending = runtime.pending_deletes();
        fs::create_dir_all(&pending).unwrap();
        fs::hard_link(&announced, pending.join(&ctr.id)).unwrap();

        let call = runtime.begin_delete_container(&ctr);
        let (finished, removal) = mpsc::channel();
        std::thread::spawn(move || finished.send(call.finish()));
        assert!(
            removal.recv_timeout(Duration::from_millis(300)).is_err(),
            "the removal went on while the monitor's delete ran, and nothing will sweep it"
        );
        monitor.write_all(b"0").unwrap();
        drop(monitor);
        removal
            .recv_timeout(Duration::from_secs(30))
            .expect("the removal ends with the monitor's delete")
            .unwrap();
        assert!(
            !calls.exists(),
            "the runtime was asked: {:?}",
            fs::read_to_string(&calls)
        );
    }
}
