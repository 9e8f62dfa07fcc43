//! conmon's command line, as libpod and rpod pass it, so that this monitor is a drop-in.
//!
//! GLib's option parser, which conmon uses, takes `--name value`, `--name=value` and `-x value`;
//! values may begin with `-` (`--runtime-arg --root`), so every value option allows that.
//! Options that only matter to features this monitor does not have are refused by name rather
//! than ignored (journald, sd-notify, seccomp notification).

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "rpod-monitor",
    about = "rpod's container monitor: speaks conmon's command line and protocols",
    disable_version_flag = true
)]
pub struct Options {
    /// Conmon API version to use (a flag: libpod passes `--api-version 1`, and the `1` is an
    /// ignored positional argument, as with conmon).
    #[arg(long = "api-version")]
    pub api_version: bool,
    /// Location of the OCI bundle.
    #[arg(short = 'b', long = "bundle", allow_hyphen_values = true)]
    pub bundle: Option<PathBuf>,
    /// The container's id (names the exit file).
    #[arg(short = 'c', long = "cid", allow_hyphen_values = true)]
    pub cid: Option<String>,
    /// PID file for the monitor process.
    #[arg(short = 'P', long = "conmon-pidfile", allow_hyphen_values = true)]
    pub conmon_pidfile: Option<PathBuf>,
    /// PID file the runtime writes the container's (or exec session's) PID to.
    #[arg(short = 'p', long = "container-pidfile", allow_hyphen_values = true)]
    pub container_pidfile: Option<PathBuf>,
    /// The container's UUID (the exec session's id in exec mode).
    #[arg(short = 'u', long = "cuuid", allow_hyphen_values = true)]
    pub cuuid: Option<String>,
    /// Run a command in a running container.
    #[arg(short = 'e', long = "exec")]
    pub exec: bool,
    /// Wait for a client to attach before running the exec command.
    #[arg(long = "exec-attach")]
    pub exec_attach: bool,
    /// The exec session's process spec.
    #[arg(long = "exec-process-spec", allow_hyphen_values = true)]
    pub exec_process_spec: Option<PathBuf>,
    /// Program run when the container has exited.
    #[arg(long = "exit-command", allow_hyphen_values = true)]
    pub exit_command: Option<PathBuf>,
    /// An argument of the exit command (repeatable).
    #[arg(long = "exit-command-arg", allow_hyphen_values = true)]
    pub exit_command_arg: Vec<String>,
    /// Seconds to wait before running the exit command.
    #[arg(long = "exit-delay", default_value_t = 0)]
    pub exit_delay: u64,
    /// Directory the exit file (named after the container) is written to.
    #[arg(long = "exit-dir", allow_hyphen_values = true)]
    pub exit_dir: Option<PathBuf>,
    /// Keep the container's stdin open when an attached client goes away.
    #[arg(long = "leave-stdin-open")]
    pub leave_stdin_open: bool,
    /// Log level of the monitor's own messages.
    #[arg(long = "log-level", default_value = "error")]
    pub log_level: String,
    /// Log driver and path: `k8s-file:PATH`, a bare PATH, `none`, `passthrough` (repeatable).
    #[arg(short = 'l', long = "log-path", allow_hyphen_values = true)]
    pub log_path: Vec<String>,
    /// Largest size of the k8s-file log; past it the file starts afresh.
    #[arg(long = "log-size-max", default_value_t = -1, allow_hyphen_values = true)]
    pub log_size_max: i64,
    /// Largest size of all log files together (logging stops past it).
    #[arg(long = "log-global-size-max", default_value_t = -1, allow_hyphen_values = true)]
    pub log_global_size_max: i64,
    /// A tag for the log (journald only; refused with k8s-file, as conmon does).
    #[arg(long = "log-tag", allow_hyphen_values = true)]
    pub log_tag: Option<String>,
    /// A journald label (refused: no journald driver here).
    #[arg(long = "log-label", allow_hyphen_values = true)]
    pub log_label: Vec<String>,
    /// The container's name.
    #[arg(short = 'n', long = "name", allow_hyphen_values = true)]
    pub name: Option<String>,
    /// Passed on to the runtime's create.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Passed on to the runtime's create.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not fsync the log when the container exits.
    #[arg(long = "no-sync-log")]
    pub no_sync_log: bool,
    /// Directory for the monitor's own copies of the exit status and the OOM marker.
    #[arg(short = '0', long = "persist-dir", allow_hyphen_values = true)]
    pub persist_dir: Option<PathBuf>,
    /// Set LISTEN_PID to the runtime's PID.
    #[arg(long = "replace-listen-pid")]
    pub replace_listen_pid: bool,
    /// Restore the container from this checkpoint instead of creating it.
    #[arg(long = "restore", allow_hyphen_values = true)]
    pub restore: Option<PathBuf>,
    /// The OCI runtime's executable.
    #[arg(short = 'r', long = "runtime", allow_hyphen_values = true)]
    pub runtime: Option<PathBuf>,
    /// A global flag for the runtime (repeatable).
    #[arg(long = "runtime-arg", allow_hyphen_values = true)]
    pub runtime_arg: Vec<String>,
    /// An option of the runtime's create, restore or exec (repeatable).
    #[arg(long = "runtime-opt", allow_hyphen_values = true)]
    pub runtime_opt: Vec<String>,
    /// Relay sd-notify messages to this socket (not supported).
    #[arg(long = "sdnotify-socket", allow_hyphen_values = true)]
    pub sdnotify_socket: Option<PathBuf>,
    /// Where attach sockets go without `--full-attach` (a link to the bundle is made there).
    #[arg(long = "socket-dir-path", allow_hyphen_values = true)]
    pub socket_dir_path: Option<PathBuf>,
    /// Open a pipe to the container's stdin.
    #[arg(short = 'i', long = "stdin")]
    pub stdin: bool,
    /// Do not fork: the process that was started is the monitor.
    #[arg(long = "sync")]
    pub sync: bool,
    /// Also log to syslog (accepted; the monitor's messages go to stderr).
    #[arg(long = "syslog")]
    pub syslog: bool,
    /// Use the systemd cgroup manager (passed on to the runtime's create).
    #[arg(short = 's', long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Give the container a terminal.
    #[arg(short = 't', long = "terminal")]
    pub terminal: bool,
    /// Kill the container after this many seconds.
    #[arg(short = 'T', long = "timeout", default_value_t = 0)]
    pub timeout: u64,
    /// rpod-monitor's own: kill the runtime's create, restore or exec when it has not
    /// finished after this many seconds (0: never), and report the failure. The default is
    /// libpod's own limit for a create.
    #[arg(long = "runtime-timeout", default_value_t = 240)]
    pub runtime_timeout: u64,
    /// rpod-monitor's own: drop an attach client that has not taken an output record for
    /// this many seconds (0: wait for ever, as conmon). A slow reader still gets every byte.
    #[arg(long = "client-timeout", default_value_t = 60)]
    pub client_timeout: u64,
    /// rpod-monitor's own: before the exit command, wait for the waiters holding this file
    /// locked (shared), and skip the command when one wrote that it handled the exit (see
    /// handover.rs).
    #[arg(long = "exit-command-handover", allow_hyphen_values = true)]
    pub exit_command_handover: Option<PathBuf>,
    /// rpod-monitor's own: create the container and start its process in one call of the
    /// runtime (`run --detach`), for a start that needs nothing done in between. Saves the
    /// runtime's `start`: two more runs of its executable.
    #[arg(long = "start-at-create")]
    pub start_at_create: bool,
    /// rpod-monitor's own, with `--start-at-create`: read none of the container's output
    /// until the first attach client connects, so that a client that attaches right after
    /// the create misses nothing; at most this many seconds (0: do not wait), and no longer
    /// than the process that started the monitor lives. The exit is recorded only after the
    /// wait, with the output that came before it.
    #[arg(long = "hold-output-for-attach", default_value_t = 0)]
    pub hold_output_for_attach: u64,
    /// Print the version and exit.
    #[arg(long = "version")]
    pub version: bool,
    /// Bind the attach socket in the bundle, whatever its path's length.
    #[arg(long = "full-attach")]
    pub full_attach: bool,
    /// seccomp notification (not supported).
    #[arg(long = "seccomp-notify-socket", allow_hyphen_values = true)]
    pub seccomp_notify_socket: Option<PathBuf>,
    #[arg(long = "seccomp-notify-plugins", allow_hyphen_values = true)]
    pub seccomp_notify_plugins: Option<String>,
    /// Ignored positional arguments (libpod's `1` after `--api-version`).
    #[arg(hide = true)]
    pub positional: Vec<String>,
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
        if self.hold_output_for_attach > 0 && !self.start_at_create {
            return Err("--hold-output-for-attach needs --start-at-create".into());
        }
        if self.exec_attach && !self.exec {
            return Err("Attach can only be specified with exec".into());
        }
        if self.exec_attach && !self.api_version {
            return Err("Attach can only be specified for a non-legacy exec session".into());
        }
        for (set, what) in [
            (self.sdnotify_socket.is_some(), "--sdnotify-socket"),
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

    fn parse(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("rpod-monitor").chain(args.iter().copied()))
            .unwrap()
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
