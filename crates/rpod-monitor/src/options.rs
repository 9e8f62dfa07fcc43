//! conmon's command line, as libpod and rpod pass it, so that this monitor is a drop-in.
//!
//! GLib's option parser, which conmon uses, takes `--name value`, `--name=value` and `-x value`;
//! values may begin with `-` (`--runtime-arg --root`), so every value option allows that.
//! Options that only matter to features this monitor does not have are refused by name rather
//! than ignored (journald, seccomp notification).

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

#[derive(Debug)]
pub struct Options {
    /// Conmon API version to use (a flag: libpod passes `--api-version 1`, and the `1` is an
    /// ignored positional argument, as with conmon).
    pub api_version: bool,
    /// Location of the OCI bundle.
    pub bundle: Option<PathBuf>,
    /// The container's id (names the exit file).
    pub cid: Option<String>,
    /// PID file for the monitor process.
    pub conmon_pidfile: Option<PathBuf>,
    /// PID file the runtime writes the container's (or exec session's) PID to.
    pub container_pidfile: Option<PathBuf>,
    /// The container's UUID (the exec session's id in exec mode).
    pub cuuid: Option<String>,
    /// Run a command in a running container.
    pub exec: bool,
    /// Wait for a client to attach before running the exec command.
    pub exec_attach: bool,
    /// The exec session's process spec.
    pub exec_process_spec: Option<PathBuf>,
    /// Program run when the container has exited.
    pub exit_command: Option<PathBuf>,
    /// An argument of the exit command (repeatable).
    pub exit_command_arg: Vec<String>,
    /// Seconds to wait before running the exit command.
    pub exit_delay: u64,
    /// Directory the exit file (named after the container) is written to.
    pub exit_dir: Option<PathBuf>,
    /// Keep the container's stdin open when an attached client goes away.
    pub leave_stdin_open: bool,
    /// Log level of the monitor's own messages.
    pub log_level: String,
    /// Log driver and path: `k8s-file:PATH`, a bare PATH, `none`, `passthrough` (repeatable).
    pub log_path: Vec<String>,
    /// Largest size of the k8s-file log; past it the file starts afresh.
    pub log_size_max: i64,
    /// Largest size of all log files together (logging stops past it).
    pub log_global_size_max: i64,
    /// A tag for the log (journald only; refused with k8s-file, as conmon does).
    pub log_tag: Option<String>,
    /// A journald label (refused: no journald driver here).
    pub log_label: Vec<String>,
    /// The container's name.
    pub name: Option<String>,
    /// Passed on to the runtime's create.
    pub no_new_keyring: bool,
    /// Passed on to the runtime's create.
    pub no_pivot: bool,
    /// Do not fsync the log when the container exits.
    pub no_sync_log: bool,
    /// Directory for the monitor's own copies of the exit status and the OOM marker.
    pub persist_dir: Option<PathBuf>,
    /// Set LISTEN_PID to the runtime's PID.
    pub replace_listen_pid: bool,
    /// Restore the container from this checkpoint instead of creating it.
    pub restore: Option<PathBuf>,
    /// The OCI runtime's executable.
    pub runtime: Option<PathBuf>,
    /// A global flag for the runtime (repeatable).
    pub runtime_arg: Vec<String>,
    /// An option of the runtime's create, restore or exec (repeatable).
    pub runtime_opt: Vec<String>,
    /// Relay sd-notify messages to this socket (not supported).
    pub sdnotify_socket: Option<PathBuf>,
    /// Where attach sockets go without `--full-attach` (a link to the bundle is made there).
    pub socket_dir_path: Option<PathBuf>,
    /// Open a pipe to the container's stdin.
    pub stdin: bool,
    /// Do not fork: the process that was started is the monitor.
    pub sync: bool,
    /// Also log to syslog (accepted; the monitor's messages go to stderr).
    pub syslog: bool,
    /// Use the systemd cgroup manager (passed on to the runtime's create).
    pub systemd_cgroup: bool,
    /// Give the container a terminal.
    pub terminal: bool,
    /// Kill the container after this many seconds.
    pub timeout: u64,
    /// rpod-monitor's own: kill the runtime's create, restore or exec when it has not
    /// finished after this many seconds (0: never), and report the failure. The default is
    /// libpod's own limit for a create.
    pub runtime_timeout: u64,
    /// rpod-monitor's own: drop an attach client that has not taken an output record for
    /// this many seconds (0: wait for ever, as conmon). A slow reader still gets every byte.
    pub client_timeout: u64,
    /// rpod-monitor's own: before the exit command, wait for the waiters holding this file
    /// locked (shared), and skip the command when one wrote that it handled the exit (see
    /// handover.rs).
    pub exit_command_handover: Option<PathBuf>,
    /// rpod-monitor's own: create the container and start its process in one call of the
    /// runtime (`run --detach`), for a start that needs nothing done in between. Saves the
    /// runtime's `start`: two more runs of its executable.
    pub start_at_create: bool,
    /// rpod-monitor's own, with `--start-at-create`: read none of the container's output
    /// until the first attach client connects, so that a client that attaches right after
    /// the create misses nothing; at most this many seconds (0: do not wait), and no longer
    /// than the process that started the monitor lives. The exit is recorded only after the
    /// wait, with the output that came before it.
    pub hold_output_for_attach: u64,
    /// rpod-monitor's own: the largest payload of an output record on the attach socket,
    /// for clients that take records this large (rpod's); conmon's 8192 by default, which
    /// podman's clients expect. Fewer, larger records are fewer calls on both sides.
    pub attach_record_size: usize,
    /// rpod-monitor's own: the files the k8s-file log is kept in at `--log-size-max`, itself
    /// included (1, conmon's way, starts it afresh; more keep the full ones as `PATH.1`,
    /// `PATH.2`, ..., as Docker's `max-file`).
    pub log_max_files: u32,
    /// rpod-monitor's own: once the container exited, run the runtime's `delete --force`
    /// for it (for a container removed at its exit), beside the caller's own clean-up
    /// instead of after it. See `delete.rs` for how the caller learns of it.
    pub delete_at_exit: bool,
    /// rpod-monitor's own: while the container runs, run this command every
    /// `health_interval` seconds (the first that long after the start; never two at once):
    /// the caller's health check of the container (`rpod healthcheck run ID`), which conmon
    /// leaves to a timer of systemd's.
    pub health_command: Option<PathBuf>,
    pub health_command_arg: Vec<String>,
    pub health_interval: u64,
    /// Before that, every `health_startup_interval` seconds (when not 0) until the command
    /// exits 0 once: the container's startup check, which the same command runs until it
    /// has passed. A `health_interval` of 0 then ends the checks there.
    pub health_startup_interval: u64,
    /// Print the version and exit.
    pub version: bool,
    /// Bind the attach socket in the bundle, whatever its path's length.
    pub full_attach: bool,
    /// seccomp notification (not supported).
    pub seccomp_notify_socket: Option<PathBuf>,
    pub seccomp_notify_plugins: Option<String>,
    /// Ignored positional arguments (libpod's `1` after `--api-version`).
    pub positional: Vec<String>,
}

impl Default for Options {
    /// conmon's defaults, and rpod-monitor's own.
    fn default() -> Self {
        Options {
            api_version: false,
            bundle: None,
            cid: None,
            conmon_pidfile: None,
            container_pidfile: None,
            cuuid: None,
            exec: false,
            exec_attach: false,
            exec_process_spec: None,
            exit_command: None,
            exit_command_arg: Vec::new(),
            exit_delay: 0,
            exit_dir: None,
            leave_stdin_open: false,
            log_level: "error".into(),
            log_path: Vec::new(),
            log_size_max: -1,
            log_global_size_max: -1,
            log_tag: None,
            log_label: Vec::new(),
            name: None,
            no_new_keyring: false,
            no_pivot: false,
            no_sync_log: false,
            delete_at_exit: false,
            persist_dir: None,
            replace_listen_pid: false,
            restore: None,
            runtime: None,
            runtime_arg: Vec::new(),
            runtime_opt: Vec::new(),
            sdnotify_socket: None,
            socket_dir_path: None,
            stdin: false,
            sync: false,
            syslog: false,
            systemd_cgroup: false,
            terminal: false,
            timeout: 0,
            runtime_timeout: 240,
            client_timeout: 60,
            exit_command_handover: None,
            start_at_create: false,
            hold_output_for_attach: 0,
            attach_record_size: crate::attach::RECORD_PAYLOAD,
            log_max_files: 1,
            health_command: None,
            health_command_arg: Vec::new(),
            health_interval: 0,
            health_startup_interval: 0,
            version: false,
            full_attach: false,
            seccomp_notify_socket: None,
            seccomp_notify_plugins: None,
            positional: Vec::new(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Options>),
    Help,
}

/// The text of `--help`.
pub const USAGE: &str = "\
Usage: rpod-monitor [OPTIONS]
rpod's container monitor: speaks conmon's command line and protocols.

conmon's options (as libpod passes them):
  --api-version, -c/--cid ID, -u/--cuuid ID, -n/--name NAME, -r/--runtime PATH,
  -b/--bundle DIR, -p/--container-pidfile PATH, -P/--conmon-pidfile PATH,
  --exit-dir DIR, -0/--persist-dir DIR, --full-attach, --socket-dir-path DIR,
  --runtime-arg ARG, --runtime-opt OPT, -s/--systemd-cgroup, --no-pivot,
  --no-new-keyring, -l/--log-path [k8s-file:]PATH|none|passthrough,
  --log-size-max BYTES, --log-global-size-max BYTES, --log-level LEVEL, --log-tag TAG,
  --no-sync-log, --syslog, -i/--stdin, -t/--terminal, --leave-stdin-open,
  -e/--exec, --exec-attach, --exec-process-spec PATH, --restore DIR,
  --exit-command PATH, --exit-command-arg ARG, --exit-delay SECS, -T/--timeout SECS,
  --sync, --replace-listen-pid, --version
rpod-monitor's own:
  --runtime-timeout SECS        kill a runtime create/restore/exec that hangs (240)
  --client-timeout SECS         drop an attach client that stops reading (60)
  --exit-command-handover FILE  skip the exit command when a waiter handled the exit
  --start-at-create             create and start in one call (the runtime's run --detach)
  --hold-output-for-attach SECS hold the output until the first attach client
  --attach-record-size BYTES    output records up to this size (8192 to 65535; 8192)
  --delete-at-exit              run the runtime's delete once the container exited
  --log-max-files N             keep the log in N files at --log-size-max (1 to 100; 1)
  --health-command PATH, --health-command-arg ARG, --health-interval SECS
                                run the command every SECS seconds while the container runs
  --health-startup-interval SECS
                                before that, every SECS seconds until it exits 0 once
Refused: the journald log driver, --log-label, --seccomp-notify-socket,
  --seccomp-notify-plugins.
";

/// Parse the command line (its first item is the program's name).
///
/// lexopt rather than clap: the monitor runs once per container and lives as long as it, and
/// clap, with what it pulled in, was half of its code (pages every monitor maps). Values are taken
/// whole even when they begin with `-` (`--runtime-arg --root`), as GLib's parser does; a
/// later value of a single option replaces an earlier one.
pub fn parse<I>(args: I) -> Result<Parsed, String>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    parse_options(args).map_err(|e| e.to_string())
}

fn parse_options<I>(args: I) -> Result<Parsed, lexopt::Error>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut o = Options::default();
    let mut parser = lexopt::Parser::from_iter(args);
    let text = |parser: &mut lexopt::Parser| parser.value()?.string();
    let path = |parser: &mut lexopt::Parser| parser.value().map(PathBuf::from);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("api-version") => o.api_version = true,
            Short('b') | Long("bundle") => o.bundle = Some(path(&mut parser)?),
            Short('c') | Long("cid") => o.cid = Some(text(&mut parser)?),
            Short('P') | Long("conmon-pidfile") => o.conmon_pidfile = Some(path(&mut parser)?),
            Short('p') | Long("container-pidfile") => {
                o.container_pidfile = Some(path(&mut parser)?)
            }
            Short('u') | Long("cuuid") => o.cuuid = Some(text(&mut parser)?),
            Short('e') | Long("exec") => o.exec = true,
            Long("exec-attach") => o.exec_attach = true,
            Long("exec-process-spec") => o.exec_process_spec = Some(path(&mut parser)?),
            Long("exit-command") => o.exit_command = Some(path(&mut parser)?),
            Long("exit-command-arg") => o.exit_command_arg.push(text(&mut parser)?),
            Long("exit-delay") => o.exit_delay = number(&mut parser, "--exit-delay")?,
            Long("exit-dir") => o.exit_dir = Some(path(&mut parser)?),
            Long("leave-stdin-open") => o.leave_stdin_open = true,
            Long("log-level") => o.log_level = text(&mut parser)?,
            Short('l') | Long("log-path") => o.log_path.push(text(&mut parser)?),
            Long("log-size-max") => o.log_size_max = number(&mut parser, "--log-size-max")?,
            Long("log-global-size-max") => {
                o.log_global_size_max = number(&mut parser, "--log-global-size-max")?
            }
            Long("log-tag") => o.log_tag = Some(text(&mut parser)?),
            Long("log-label") => o.log_label.push(text(&mut parser)?),
            Short('n') | Long("name") => o.name = Some(text(&mut parser)?),
            Long("no-new-keyring") => o.no_new_keyring = true,
            Long("no-pivot") => o.no_pivot = true,
            Long("no-sync-log") => o.no_sync_log = true,
            Short('0') | Long("persist-dir") => o.persist_dir = Some(path(&mut parser)?),
            Long("replace-listen-pid") => o.replace_listen_pid = true,
            Long("restore") => o.restore = Some(path(&mut parser)?),
            Short('r') | Long("runtime") => o.runtime = Some(path(&mut parser)?),
            Long("runtime-arg") => o.runtime_arg.push(text(&mut parser)?),
            Long("runtime-opt") => o.runtime_opt.push(text(&mut parser)?),
            Long("sdnotify-socket") => o.sdnotify_socket = Some(path(&mut parser)?),
            Long("socket-dir-path") => o.socket_dir_path = Some(path(&mut parser)?),
            Short('i') | Long("stdin") => o.stdin = true,
            Long("sync") => o.sync = true,
            Long("syslog") => o.syslog = true,
            Short('s') | Long("systemd-cgroup") => o.systemd_cgroup = true,
            Short('t') | Long("terminal") => o.terminal = true,
            Short('T') | Long("timeout") => o.timeout = number(&mut parser, "--timeout")?,
            Long("runtime-timeout") => {
                o.runtime_timeout = number(&mut parser, "--runtime-timeout")?
            }
            Long("client-timeout") => o.client_timeout = number(&mut parser, "--client-timeout")?,
            Long("exit-command-handover") => o.exit_command_handover = Some(path(&mut parser)?),
            Long("start-at-create") => o.start_at_create = true,
            Long("delete-at-exit") => o.delete_at_exit = true,
            Long("hold-output-for-attach") => {
                o.hold_output_for_attach = number(&mut parser, "--hold-output-for-attach")?
            }
            Long("log-max-files") => o.log_max_files = number(&mut parser, "--log-max-files")?,
            Long("health-command") => o.health_command = Some(path(&mut parser)?),
            Long("health-command-arg") => o.health_command_arg.push(text(&mut parser)?),
            Long("health-interval") => {
                o.health_interval = number(&mut parser, "--health-interval")?
            }
            Long("health-startup-interval") => {
                o.health_startup_interval = number(&mut parser, "--health-startup-interval")?
            }
            Long("attach-record-size") => {
                o.attach_record_size = number(&mut parser, "--attach-record-size")?
            }
            Long("version") => o.version = true,
            Long("full-attach") => o.full_attach = true,
            Long("seccomp-notify-socket") => o.seccomp_notify_socket = Some(path(&mut parser)?),
            Long("seccomp-notify-plugins") => o.seccomp_notify_plugins = Some(text(&mut parser)?),
            Short('h') | Long("help") => return Ok(Parsed::Help),
            Value(value) => o.positional.push(value.string()?),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Parsed::Run(Box::new(o)))
}

/// The value of a numeric option; a bad one is reported with the option's name.
fn number<T>(parser: &mut lexopt::Parser, option: &str) -> Result<T, lexopt::Error>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    parser
        .value()?
        .parse()
        .map_err(|e: lexopt::Error| lexopt::Error::Custom(format!("{option}: {e}").into()))
}

/// Where the container's output is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDriver {
    KubeFile(PathBuf),
    /// The container shares the monitor's standard streams; no attach socket.
    Passthrough,
}

/// A checked configuration: what the monitor runs and where it writes.
#[derive(Debug)]
pub struct Config {
    pub cid: String,
    pub runtime: PathBuf,
    pub bundle: PathBuf,
    pub container_pidfile: PathBuf,
    pub exit_dir: Option<PathBuf>,
    pub persist_dir: Option<PathBuf>,
    pub logs: Vec<LogDriver>,
    pub exec: Option<ExecMode>,
    pub options: Options,
}

#[derive(Debug)]
pub struct ExecMode {
    pub process_spec: PathBuf,
    pub attach: bool,
}

impl Config {
    pub fn passthrough(&self) -> bool {
        self.logs.contains(&LogDriver::Passthrough)
    }

    pub fn kube_log(&self) -> Option<&PathBuf> {
        self.logs.iter().find_map(|l| match l {
            LogDriver::KubeFile(p) => Some(p),
            LogDriver::Passthrough => None,
        })
    }
}

/// One `-l` value. Like conmon, `DRIVER:PATH` splits at the first colon.
pub fn parse_log_driver(value: &str) -> Result<Option<LogDriver>, String> {
    let (driver, path) = match value.split_once(':') {
        Some((driver, path)) => (driver, Some(path)),
        None if value.contains('/') => ("k8s-file", Some(value)),
        None => (value, None),
    };
    match (driver, path) {
        ("none" | "off" | "null", _) => Ok(None),
        ("passthrough", _) => Ok(Some(LogDriver::Passthrough)),
        ("k8s-file", Some(path)) if !path.is_empty() => {
            Ok(Some(LogDriver::KubeFile(PathBuf::from(path))))
        }
        ("k8s-file", _) => Err("k8s-file requires a filename".into()),
        ("journald", _) => Err("the journald log driver is not supported by rpod-monitor".into()),
        (other, _) => Err(format!("No such log driver {other}")),
    }
}

impl Options {
    /// Check the options as conmon does before it forks; the error is printed and the
    /// monitor exits with 1.
    pub fn check(self) -> Result<Config, String> {
        let cid = self
            .cid
            .clone()
            .ok_or("Container ID not provided. Use --cid")?;
        // Required as conmon requires it; it only names the link made without --full-attach.
        self.cuuid
            .as_ref()
            .ok_or("Container UUID not provided. Use --cuuid")?;
        let runtime = self
            .runtime
            .clone()
            .ok_or("Runtime path not provided. Use --runtime")?;
        if nix::unistd::access(&runtime, nix::unistd::AccessFlags::X_OK).is_err() {
            return Err(format!("Runtime path {} is not valid", runtime.display()));
        }
        if self.exec && self.restore.is_some() {
            return Err("Cannot use 'exec' and 'restore' at the same time".into());
        }
        if self.start_at_create && (self.exec || self.restore.is_some()) {
            return Err("--start-at-create is for a container's create only".into());
        }
        if self.delete_at_exit && (self.exec || self.persist_dir.is_none()) {
            return Err("--delete-at-exit is for a container's monitor with --persist-dir".into());
        }
        if self.hold_output_for_attach > 0 && !self.start_at_create {
            return Err("--hold-output-for-attach needs --start-at-create".into());
        }
        if !(crate::attach::RECORD_PAYLOAD..=crate::attach::LARGEST_RECORD_PAYLOAD)
            .contains(&self.attach_record_size)
        {
            return Err(format!(
                "--attach-record-size {} is not between {} and {}",
                self.attach_record_size,
                crate::attach::RECORD_PAYLOAD,
                crate::attach::LARGEST_RECORD_PAYLOAD
            ));
        }
        if !(1..=rpod_monitor_protocol::LOG_FILES_MAX).contains(&self.log_max_files) {
            return Err(format!(
                "--log-max-files {} is not between 1 and {}",
                self.log_max_files,
                rpod_monitor_protocol::LOG_FILES_MAX
            ));
        }
        let scheduled = self.health_interval > 0 || self.health_startup_interval > 0;
        if self.health_command.is_some() != scheduled {
            return Err(
                "--health-command and a --health-interval or --health-startup-interval above 0 go together"
                    .into(),
            );
        }
        for (flag, interval) in [
            ("--health-interval", self.health_interval),
            ("--health-startup-interval", self.health_startup_interval),
        ] {
            if interval > u64::from(u32::MAX) {
                return Err(format!("{flag} {interval} is over {} seconds", u32::MAX));
            }
        }
        if self.health_command.is_some() && self.exec {
            return Err("--health-command is for a container's monitor".into());
        }
        if self.exec_attach && !self.exec {
            return Err("Attach can only be specified with exec".into());
        }
        if self.exec_attach && !self.api_version {
            return Err("Attach can only be specified for a non-legacy exec session".into());
        }
        if self.sdnotify_socket.is_some() && self.exec {
            return Err("--sdnotify-socket is for a container's monitor".into());
        }
        for (set, what) in [
            (
                self.seccomp_notify_socket.is_some(),
                "--seccomp-notify-socket",
            ),
            (!self.log_label.is_empty(), "--log-label"),
        ] {
            if set {
                return Err(format!("{what} is not supported by rpod-monitor"));
            }
        }
        if !self.full_attach && self.socket_dir_path.is_some() {
            return Err(
                "--socket-dir-path without --full-attach is not supported by rpod-monitor".into(),
            );
        }
        let exec = if self.exec {
            let process_spec = self
                .exec_process_spec
                .clone()
                .ok_or("Exec process spec path not provided. Use --exec-process-spec")?;
            Some(ExecMode {
                process_spec,
                attach: self.exec_attach,
            })
        } else {
            None
        };
        let bundle = match &self.bundle {
            Some(b) => b.clone(),
            None => std::env::current_dir().map_err(|e| format!("Failed to get cwd: {e}"))?,
        };
        let container_pidfile = self
            .container_pidfile
            .clone()
            .unwrap_or_else(|| bundle.join(format!("pidfile-{cid}")));
        let mut logs = Vec::new();
        for value in &self.log_path {
            if let Some(driver) = parse_log_driver(value)? {
                logs.push(driver);
            }
        }
        if self.log_path.is_empty() {
            return Err("Log driver not provided. Use --log-path".into());
        }
        if self.log_tag.is_some() && logs.iter().any(|l| matches!(l, LogDriver::KubeFile(_))) {
            return Err("k8s-file doesn't support --log-tag".into());
        }
        Ok(Config {
            cid,
            runtime,
            bundle,
            container_pidfile,
            exit_dir: self.exit_dir.clone(),
            persist_dir: self.persist_dir.clone(),
            logs,
            exec,
            options: self,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The monitor's command line with `args` after its name.
    fn parsed(args: &[&str]) -> Result<Parsed, String> {
        super::parse(std::iter::once("rpod-monitor").chain(args.iter().copied()))
    }

    fn parse(args: &[&str]) -> Options {
        match parsed(args) {
            Ok(Parsed::Run(options)) => *options,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn libpods_create_line_parses() {
        let o = parse(&[
            "--api-version",
            "1",
            "-c",
            "abc",
            "-u",
            "abc",
            "-r",
            "/bin/true",
            "-b",
            "/b",
            "-p",
            "/r/pidfile",
            "-n",
            "web",
            "--exit-dir",
            "/t/exits",
            "--persist-dir",
            "/t/persist/abc",
            "--full-attach",
            "--runtime-arg",
            "--root",
            "--runtime-arg",
            "/s",
            "-l",
            "k8s-file:/b/ctr.log",
            "--log-level",
            "warning",
            "--runtime-arg",
            "--log-format=json",
            "--runtime-arg",
            "--log",
            "--runtime-arg=/r/oci-log",
            "-i",
            "--conmon-pidfile",
            "/r/conmon.pid",
            "--exit-command",
            "/bin/rpod",
            "--exit-command-arg",
            "--root",
            "--exit-command-arg",
            "container",
            "--runtime-opt",
            "--preserve-fds",
            "--runtime-opt",
            "2",
            "--syslog",
        ]);
        assert!(o.api_version && o.stdin && o.full_attach && !o.terminal);
        assert_eq!(
            o.runtime_arg,
            ["--root", "/s", "--log-format=json", "--log", "/r/oci-log"]
        );
        assert_eq!(o.runtime_opt, ["--preserve-fds", "2"]);
        assert_eq!(o.exit_command_arg, ["--root", "container"]);
        assert_eq!(o.positional, ["1"]);
        let c = o.check().unwrap();
        assert_eq!(c.logs, [LogDriver::KubeFile("/b/ctr.log".into())]);
        assert!(c.exec.is_none());
    }

    #[test]
    fn checks_as_conmon_does() {
        let base = ["-c", "a", "-u", "a", "-r", "/bin/true", "-l", "none"];
        let with = |extra: &[&str]| {
            let mut args: Vec<&str> = base.to_vec();
            args.extend_from_slice(extra);
            parse(&args).check()
        };
        assert!(with(&[]).is_ok());
        assert!(with(&["--exec-attach"])
            .unwrap_err()
            .contains("only be specified with exec"));
        assert!(with(&["-e"]).unwrap_err().contains("process spec"));
        assert!(
            with(&["-e", "--restore", "/x", "--exec-process-spec", "/p"])
                .unwrap_err()
                .contains("at the same time")
        );
        assert!(with(&["-l", "journald"])
            .unwrap_err()
            .contains("not supported"));
        assert!(with(&["-l", "k8s-file:/l", "--log-tag", "t"]).is_err());
        assert!(
            parse(&["-c", "a", "-u", "a", "-r", "/nonexistent", "-l", "none"])
                .check()
                .unwrap_err()
                .contains("not valid")
        );
        let exec = with(&[
            "--api-version",
            "-e",
            "--exec-attach",
            "--exec-process-spec",
            "/p",
        ])
        .unwrap();
        assert!(exec.exec.unwrap().attach);
        assert!(with(&["--start-at-create", "--hold-output-for-attach", "5"]).is_ok());
        assert_eq!(with(&[]).unwrap().options.attach_record_size, 8192);
        assert_eq!(
            with(&["--log-max-files", "5"])
                .unwrap()
                .options
                .log_max_files,
            5
        );
        for files in ["0", "101"] {
            assert!(with(&["--log-max-files", files]).is_err(), "{files}");
        }
        assert_eq!(
            with(&["--attach-record-size", "65535"])
                .unwrap()
                .options
                .attach_record_size,
            65535
        );
        for size in ["8191", "65536"] {
            assert!(with(&["--attach-record-size", size])
                .unwrap_err()
                .contains("not between 8192 and 65535"));
        }
        assert!(with(&["--hold-output-for-attach", "5"])
            .unwrap_err()
            .contains("needs --start-at-create"));
        for other in [
            &["--restore", "/x"][..],
            &["-e", "--exec-process-spec", "/p"],
        ] {
            let mut args = vec!["--start-at-create"];
            args.extend_from_slice(other);
            assert!(with(&args).unwrap_err().contains("create only"));
        }
        assert!(
            with(&["--delete-at-exit", "--persist-dir", "/p"])
                .unwrap()
                .options
                .delete_at_exit
        );
        for without in [
            &["--delete-at-exit"][..],
            &[
                "--delete-at-exit",
                "--persist-dir",
                "/p",
                "-e",
                "--exec-process-spec",
                "/s",
            ],
        ] {
            assert!(with(without)
                .unwrap_err()
                .contains("--delete-at-exit is for"));
        }
        let health = with(&[
            "--health-command",
            "/bin/rpod",
            "--health-command-arg",
            "healthcheck",
            "--health-interval",
            "30",
        ])
        .unwrap()
        .options;
        assert_eq!(health.health_command, Some(PathBuf::from("/bin/rpod")));
        assert_eq!(
            (health.health_command_arg.len(), health.health_interval),
            (1, 30)
        );
        for half in [
            &["--health-command", "/bin/rpod"][..],
            &["--health-interval", "30"],
            &["--health-command", "/bin/rpod", "--health-interval", "0"],
        ] {
            assert!(with(half).unwrap_err().contains("go together"), "{half:?}");
        }
        let far = with(&["--health-command", "/r", "--health-interval", "4294967296"]);
        assert!(far.unwrap_err().contains("is over"));
        // A startup interval alone schedules the command too (a check run until it passes).
        let startup = with(&["--health-command", "/r", "--health-startup-interval", "2"])
            .unwrap()
            .options;
        assert_eq!(
            (startup.health_interval, startup.health_startup_interval),
            (0, 2)
        );
        let exec = [
            "--health-command",
            "/r",
            "--health-interval",
            "1",
            "-e",
            "--exec-process-spec",
            "/s",
        ];
        assert!(with(&exec).unwrap_err().contains("container's monitor"));
    }

    #[test]
    fn values_may_begin_with_a_dash_and_take_every_form() {
        let o = parse(&[
            "--runtime-arg=--root",
            "--runtime-arg",
            "-x",
            "-c",
            "first",
            "-csecond",
            "--log-size-max",
            "-1",
            "-it",
            "--exit-delay=3",
        ]);
        assert_eq!(o.runtime_arg, ["--root", "-x"]);
        assert_eq!(o.cid.as_deref(), Some("second"), "the last value wins");
        assert_eq!(o.log_size_max, -1);
        assert!(o.stdin && o.terminal);
        assert_eq!(o.exit_delay, 3);
        assert_eq!((o.runtime_timeout, o.client_timeout), (240, 60));
        let bad = |args: &[&str]| parsed(args).unwrap_err();
        assert!(bad(&["--nosuchflag"]).contains("--nosuchflag"));
        assert!(bad(&["--exit-delay", "soon"]).contains("--exit-delay"));
        assert!(bad(&["--cid"]).contains("--cid"));
        assert!(bad(&["--sync=yes"]).contains("--sync"));
        assert!(matches!(parsed(&["--help"]), Ok(Parsed::Help)));
    }

    #[test]
    fn log_drivers() {
        assert_eq!(parse_log_driver("none"), Ok(None));
        assert_eq!(
            parse_log_driver("/var/log/x"),
            Ok(Some(LogDriver::KubeFile("/var/log/x".into())))
        );
        assert_eq!(
            parse_log_driver("passthrough"),
            Ok(Some(LogDriver::Passthrough))
        );
        assert!(parse_log_driver("k8s-file").is_err());
        assert!(parse_log_driver("syslog")
            .unwrap_err()
            .contains("No such log driver"));
    }
}
