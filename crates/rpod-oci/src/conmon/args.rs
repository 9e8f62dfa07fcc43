//! conmon's and the runtime's command lines, rendered as plain data so that they are unit
//! tested without root and without running anything.

use std::path::{Path, PathBuf};

use crate::types::{LogDriver, OciContainer};

/// Everything the create command line depends on.
pub struct CreateArgs<'a> {
    pub ctr: &'a OciContainer,
    pub runtime_path: &'a Path,
    pub runtime_flags: &'a [String],
    pub exit_dir: &'a Path,
    pub persist_dir: &'a Path,
    pub pid_file: &'a Path,
    pub conmon_pid_file: &'a Path,
    /// The runtime's JSON error log, when the runtime writes one.
    pub oci_log: Option<&'a Path>,
    pub log_level: &'a str,
    /// rpod-monitor's `--exit-command-handover` file (`exitfile::ExitHandover`).
    pub exit_handover: Option<std::path::PathBuf>,
    /// Restore from a checkpoint instead of creating.
    pub restore: Option<Restore>,
    /// rpod-monitor's `--start-at-create`, with its `--hold-output-for-attach` seconds
    /// (0: none).
    pub start_at_create: Option<u64>,
    /// rpod-monitor's `--attach-record-size`: the largest output record rpod's clients take.
    pub attach_record_size: Option<usize>,
    /// rpod-monitor's `--delete-at-exit`.
    pub delete_at_exit: bool,
    /// rpod-monitor's `--log-max-files` (more than one).
    pub log_max_files: Option<u32>,
    /// rpod-monitor's `--health-command` and `--health-interval`.
    pub health_check: Option<&'a crate::types::HealthCheckRun>,
}

/// What conmon needs to restore instead of create: the checkpoint images (its
/// `--restore`), the runtime's global flags for CRIU, and the restore's own options.
#[derive(Debug, Clone)]
pub struct Restore {
    pub images: std::path::PathBuf,
    pub runtime_args: Vec<String>,
    pub tcp_established: bool,
    pub file_locks: bool,
}

/// conmon's argv (without the conmon path) for creating a container, in libpod's order.
pub fn create_argv(a: &CreateArgs<'_>) -> Vec<String> {
    let ctr = a.ctr;
    let mut argv: Vec<String> = vec![
        // conmon's --api-version is a boolean flag; the "1" is an ignored positional that
        // libpod has always passed.
        "--api-version".into(),
        "1".into(),
        "-c".into(),
        ctr.id.clone(),
        "-u".into(),
        ctr.id.clone(),
        "-r".into(),
        path_str(a.runtime_path),
        "-b".into(),
        path_str(&ctr.bundle_dir),
        "-p".into(),
        path_str(a.pid_file),
        "-n".into(),
        ctr.name.clone(),
        "--exit-dir".into(),
        path_str(a.exit_dir),
        "--persist-dir".into(),
        path_str(a.persist_dir),
        // Bind the attach socket through /proc/self/fd so that long bundle paths work.
        "--full-attach".into(),
    ];
    for flag in a.runtime_flags {
        argv.push("--runtime-arg".into());
        argv.push(flag.clone());
    }
    argv.push("-l".into());
    argv.push(match &ctr.log_driver {
        LogDriver::KubeFile(path) => format!("k8s-file:{}", path.display()),
        LogDriver::None => "none".into(),
        LogDriver::Passthrough => "passthrough".into(),
    });
    if let Some(max) = ctr.monitor.log_size_max {
        argv.push("--log-size-max".into());
        argv.push(max.to_string());
    }
    if ctr.monitor.no_sync_log {
        argv.push("--no-sync-log".into());
    }
    if let Some(timeout) = ctr.monitor.timeout {
        argv.push("--timeout".into());
        argv.push(timeout.to_string());
    }
    if !ctr.pass_fds.is_empty() {
        argv.extend([
            "--runtime-opt".into(),
            "--preserve-fds".into(),
            "--runtime-opt".into(),
            ctr.pass_fds.len().to_string(),
        ]);
    }
    argv.push("--log-level".into());
    argv.push(a.log_level.into());
    push_oci_log(&mut argv, a.oci_log);
    push_no_cgroups(&mut argv, ctr);
    if let Some(socket) = &ctr.monitor.sdnotify_socket {
        argv.push(format!("--sdnotify-socket={socket}"));
    }
    if ctr.terminal {
        argv.push("-t".into());
    } else if ctr.stdin {
        argv.push("-i".into());
    }
    argv.push("--conmon-pidfile".into());
    argv.push(path_str(a.conmon_pid_file));
    push_exit_command(&mut argv, &ctr.exit_command);
    push_exit_handover(&mut argv, a.exit_handover.as_deref(), &ctr.exit_command);
    push_attach_record_size(&mut argv, a.attach_record_size);
    if a.delete_at_exit {
        argv.push("--delete-at-exit".into());
    }
    if let Some(files) = a.log_max_files {
        argv.push("--log-max-files".into());
        argv.push(files.to_string());
    }
    if let Some(check) = a.health_check {
        if let Some((program, args)) = check.argv.split_first() {
            argv.push("--health-command".into());
            argv.push(program.clone());
            for arg in args {
                argv.push(format!("--health-command-arg={arg}"));
            }
            argv.push("--health-interval".into());
            argv.push(check.interval_secs.to_string());
            if check.startup_interval_secs > 0 {
                argv.push("--health-startup-interval".into());
                argv.push(check.startup_interval_secs.to_string());
            }
        }
    }
    if let Some(hold) = a.start_at_create {
        argv.push("--start-at-create".into());
        if hold > 0 {
            argv.push("--hold-output-for-attach".into());
            argv.push(hold.to_string());
        }
    }
    if let Some(restore) = &a.restore {
        argv.push("--restore".into());
        argv.push(path_str(&restore.images));
        for arg in &restore.runtime_args {
            argv.push(format!("--runtime-arg={arg}"));
        }
        for (wanted, opt) in [
            (restore.tcp_established, "--tcp-established"),
            (restore.file_locks, "--file-locks"),
        ] {
            if wanted {
                argv.push(format!("--runtime-opt={opt}"));
            }
        }
    }
    argv
}

/// A direct runtime invocation: global flags first, then the subcommand and its arguments.
pub fn runtime_argv(flags: &[String], subcommand: &[&str]) -> Vec<String> {
    flags
        .iter()
        .cloned()
        .chain(subcommand.iter().map(|s| s.to_string()))
        .collect()
}

pub fn kill_argv(flags: &[String], id: &str, signal: i32, all: bool) -> Vec<String> {
    let signal = signal.to_string();
    if all {
        runtime_argv(flags, &["kill", "--all", id, &signal])
    } else {
        runtime_argv(flags, &["kill", id, &signal])
    }
}

/// `--runtime-arg` flags that make the runtime write its errors as JSON to `oci_log`.
fn push_oci_log(argv: &mut Vec<String>, oci_log: Option<&Path>) {
    if let Some(oci_log) = oci_log {
        argv.extend([
            "--runtime-arg".into(),
            "--log-format=json".into(),
            "--runtime-arg".into(),
            "--log".into(),
            format!("--runtime-arg={}", oci_log.display()),
        ]);
    }
}

/// crun's global `--cgroup-manager disabled` for a container without cgroups, as libpod
/// passes it (through the monitor only: rpod's own runtime calls work from the state).
fn push_no_cgroups(argv: &mut Vec<String>, ctr: &OciContainer) {
    if !ctr.cgroups {
        argv.extend([
            "--runtime-arg".into(),
            "--cgroup-manager".into(),
            "--runtime-arg".into(),
            "disabled".into(),
        ]);
    }
}

/// `--exit-command PROGRAM --exit-command-arg ARG...`.
/// rpod-monitor's `--exit-command-handover` (`exitfile::ExitHandover`), which only means
/// something beside an exit command.
fn push_exit_handover(argv: &mut Vec<String>, handover: Option<&Path>, command: &[String]) {
    if let Some(handover) = handover.filter(|_| !command.is_empty()) {
        argv.push("--exit-command-handover".into());
        argv.push(path_str(handover));
    }
}

/// rpod-monitor's `--attach-record-size`.
fn push_attach_record_size(argv: &mut Vec<String>, size: Option<usize>) {
    if let Some(size) = size {
        argv.push("--attach-record-size".into());
        argv.push(size.to_string());
    }
}

fn push_exit_command(argv: &mut Vec<String>, command: &[String]) {
    if let Some((program, args)) = command.split_first() {
        argv.push("--exit-command".into());
        argv.push(program.clone());
        for arg in args {
            argv.push("--exit-command-arg".into());
            argv.push(arg.clone());
        }
    }
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}

/// Path of the per-container persist directory conmon writes `exit` and `oom` into.
pub fn persist_dir(tmp_dir: &Path, id: &str) -> PathBuf {
    tmp_dir.join("persist").join(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> OciContainer {
        OciContainer {
            id: "abc".into(),
            name: "web".into(),
            bundle_dir: "/b".into(),
            run_dir: "/r".into(),
            log_driver: LogDriver::KubeFile("/b/ctr.log".into()),
            terminal: false,
            stdin: true,
            stop_signal: 15,
            pid: 0,
            conmon_pid: 0,
            exit_command: vec!["/bin/rpod".into(), "container".into(), "cleanup".into()],
            pid_namespace: true,
            cgroups: true,
            monitor: Default::default(),
            pass_fds: Vec::new(),
        }
    }

    #[test]
    fn create_argv_follows_libpod_order() {
        let ctr = container();
        let flags = vec!["--root".to_string(), "/s".to_string()];
        let argv = create_argv(&CreateArgs {
            ctr: &ctr,
            runtime_path: Path::new("/usr/sbin/runc"),
            runtime_flags: &flags,
            exit_dir: Path::new("/t/exits"),
            persist_dir: Path::new("/t/persist/abc"),
            pid_file: Path::new("/r/pidfile"),
            conmon_pid_file: Path::new("/r/conmon.pid"),
            oci_log: Some(Path::new("/r/oci-log")),
            log_level: "warning",
            exit_handover: None,
            restore: None,
            start_at_create: None,
            attach_record_size: None,
            delete_at_exit: false,
            log_max_files: None,
            health_check: None,
        });
        let expected: Vec<String> = [
            "--api-version",
            "1",
            "-c",
            "abc",
            "-u",
            "abc",
            "-r",
            "/usr/sbin/runc",
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
            "container",
            "--exit-command-arg",
            "cleanup",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(argv, expected);
    }

    /// Whether `argv` has `option` followed by `value`.
    fn has(argv: &[String], option: &str, value: &str) -> bool {
        argv.windows(2).any(|w| w == [option, value])
    }

    /// A short create argv for `ctr`, crun's, with the exit-command handover `/p/waiters`.
    fn argv_with_handover(ctr: &OciContainer) -> Vec<String> {
        argv_starting(ctr, None)
    }

    fn argv_starting(ctr: &OciContainer, start_at_create: Option<u64>) -> Vec<String> {
        create_argv(&CreateArgs {
            ctr,
            runtime_path: Path::new("/crun"),
            runtime_flags: &[],
            exit_dir: Path::new("/e"),
            persist_dir: Path::new("/p"),
            pid_file: Path::new("/r/pidfile"),
            conmon_pid_file: Path::new("/r/conmon.pid"),
            oci_log: None,
            log_level: "error",
            exit_handover: Some("/p/waiters".into()),
            restore: None,
            start_at_create,
            attach_record_size: Some(65535),
            delete_at_exit: ctr.monitor.delete_at_exit,
            log_max_files: ctr.monitor.log_max_files,
            health_check: ctr.monitor.health_check.as_ref(),
        })
    }

    #[test]
    fn a_container_without_cgroups_has_crun_told_so() {
        let mut ctr = container();
        let with = argv_with_handover(&ctr);
        assert!(!with.iter().any(|a| a == "--cgroup-manager"));
        ctr.cgroups = false;
        let without = argv_with_handover(&ctr);
        let asked = [
            "--runtime-arg",
            "--cgroup-manager",
            "--runtime-arg",
            "disabled",
        ];
        assert!(without.windows(4).any(|w| w == asked), "{without:?}");
    }

    #[test]
    fn rpod_monitor_is_asked_for_large_attach_records() {
        let argv = argv_with_handover(&container());
        assert!(has(&argv, "--attach-record-size", "65535"));
    }

    /// A container removed at its exit: its log is not synced, and its monitor deletes it
    /// from the runtime; each option only when asked for.
    #[test]
    fn a_container_removed_at_its_exit_gets_its_monitor_options() {
        type Ask = fn(&mut crate::types::MonitorOptions);
        let cases: [(&str, Ask); 2] = [
            ("--no-sync-log", |m| m.no_sync_log = true),
            ("--delete-at-exit", |m| m.delete_at_exit = true),
        ];
        for (option, ask) in cases {
            let mut ctr = container();
            assert!(!argv_with_handover(&ctr).contains(&option.to_string()));
            ask(&mut ctr.monitor);
            assert!(argv_with_handover(&ctr).contains(&option.to_string()));
        }
    }

    #[test]
    fn the_monitor_is_given_the_health_check_to_run() {
        let mut ctr = container();
        assert!(!argv_with_handover(&ctr)
            .iter()
            .any(|a| a.contains("health")));
        ctr.monitor.health_check = Some(crate::types::HealthCheckRun {
            interval_secs: 30,
            startup_interval_secs: 0,
            argv: vec!["/bin/rpod".into(), "--root".into(), "healthcheck".into()],
        });
        let argv = argv_with_handover(&ctr);
        assert!(has(&argv, "--health-command", "/bin/rpod"));
        assert!(argv.contains(&"--health-command-arg=--root".to_string()));
        assert!(argv.contains(&"--health-command-arg=healthcheck".to_string()));
        assert!(has(&argv, "--health-interval", "30"));
        assert!(!argv.iter().any(|a| a == "--health-startup-interval"));
        if let Some(check) = &mut ctr.monitor.health_check {
            check.startup_interval_secs = 2;
        }
        assert!(has(
            &argv_with_handover(&ctr),
            "--health-startup-interval",
            "2"
        ));
    }

    #[test]
    fn start_at_create_and_its_hold() {
        let ctr = container();
        let plain = argv_starting(&ctr, None);
        assert!(!plain.iter().any(|a| a.contains("start-at-create")));
        let started = argv_starting(&ctr, Some(0));
        assert!(started.contains(&"--start-at-create".to_string()));
        assert!(!started.iter().any(|a| a.contains("hold-output")));
        let held = argv_starting(&ctr, Some(60));
        assert!(held.contains(&"--start-at-create".to_string()));
        assert!(has(&held, "--hold-output-for-attach", "60"));
    }

    #[test]
    fn terminal_wins_over_stdin_and_log_none() {
        let mut ctr = container();
        ctr.terminal = true;
        ctr.log_driver = LogDriver::None;
        let argv = argv_with_handover(&ctr);
        assert!(argv.contains(&"-t".to_string()));
        assert!(!argv.contains(&"-i".to_string()));
        assert!(has(&argv, "-l", "none"));
        assert!(!argv.iter().any(|a| a.contains("log-format")));
        assert!(has(&argv, "--exit-command-handover", "/p/waiters"));
    }

    #[test]
    fn no_handover_without_an_exit_command() {
        let mut ctr = container();
        ctr.exit_command.clear();
        let argv = argv_with_handover(&ctr);
        assert!(!argv.iter().any(|a| a.contains("exit-command")), "{argv:?}");
    }

    #[test]
    fn kill_argv_with_and_without_all() {
        let flags = vec!["--root".to_string(), "/s".to_string()];
        assert_eq!(
            kill_argv(&flags, "id", 9, false),
            ["--root", "/s", "kill", "id", "9"]
        );
        assert_eq!(
            kill_argv(&[], "id", 15, true),
            ["kill", "--all", "id", "15"]
        );
    }

    #[test]
    fn restore_adds_the_checkpoint_and_criu() {
        let ctr = container();
        let argv = create_argv(&CreateArgs {
            ctr: &ctr,
            runtime_path: Path::new("/usr/sbin/runc"),
            runtime_flags: &[],
            exit_dir: Path::new("/t/exits"),
            persist_dir: Path::new("/t/persist/abc"),
            pid_file: Path::new("/r/pidfile"),
            conmon_pid_file: Path::new("/r/conmon.pid"),
            oci_log: None,
            log_level: "warning",
            exit_handover: None,
            restore: Some(Restore {
                images: "/b/checkpoint".into(),
                runtime_args: vec!["--criu".into(), "/opt/criu".into()],
                tcp_established: true,
                file_locks: false,
            }),
            start_at_create: None,
            attach_record_size: None,
            delete_at_exit: false,
            log_max_files: None,
            health_check: None,
        });
        let tail = &argv[argv.len() - 5..];
        assert_eq!(
            tail,
            [
                "--restore",
                "/b/checkpoint",
                "--runtime-arg=--criu",
                "--runtime-arg=/opt/criu",
                "--runtime-opt=--tcp-established"
            ]
        );
    }
}

/// Everything an exec command line depends on.
pub struct ExecArgs<'a> {
    pub ctr: &'a OciContainer,
    pub session_id: &'a str,
    pub session_dir: &'a Path,
    pub runtime_path: &'a Path,
    pub runtime_flags: &'a [String],
    pub process_spec: &'a Path,
    pub oci_log: Option<&'a Path>,
    pub log_level: &'a str,
    pub terminal: bool,
    pub stdin: bool,
    pub preserve_fds: u32,
    pub exit_command: &'a [String],
    pub exit_delay: u32,
    /// rpod-monitor's `--exit-command-handover` file (`exitfile::ExitHandover`).
    pub exit_handover: Option<std::path::PathBuf>,
    /// rpod-monitor's `--attach-record-size`.
    pub attach_record_size: Option<usize>,
}

/// conmon's argv for an exec session, in libpod's order.
pub fn exec_argv(a: &ExecArgs<'_>) -> Vec<String> {
    let dir = |name: &str| path_str(&a.session_dir.join(name));
    let mut argv: Vec<String> = vec![
        "--api-version".into(),
        "1".into(),
        "-c".into(),
        a.ctr.id.clone(),
        "-u".into(),
        a.session_id.to_string(),
        "-r".into(),
        path_str(a.runtime_path),
        "-b".into(),
        path_str(a.session_dir),
        "-p".into(),
        dir("exec_pid"),
        "-n".into(),
        a.ctr.name.clone(),
        // The session's directory is its exit directory, and it has no persist directory
        // (exec.rs).
        "--exit-dir".into(),
        path_str(a.session_dir),
        "--full-attach".into(),
    ];
    for flag in a.runtime_flags {
        argv.push("--runtime-arg".into());
        argv.push(flag.clone());
    }
    // Exec sessions never log: their output goes to the attached client only.
    argv.extend([
        "-l".into(),
        "none".into(),
        "--log-level".into(),
        a.log_level.into(),
    ]);
    push_oci_log(&mut argv, a.oci_log);
    push_no_cgroups(&mut argv, a.ctr);
    if a.preserve_fds > 0 {
        argv.extend([
            "--runtime-opt".into(),
            "--preserve-fds".into(),
            "--runtime-opt".into(),
            a.preserve_fds.to_string(),
        ]);
    }
    if a.terminal {
        argv.push("-t".into());
    }
    if a.stdin {
        argv.push("-i".into());
    }
    argv.extend([
        "-e".into(),
        "--exec-attach".into(),
        "--exec-process-spec".into(),
        path_str(a.process_spec),
    ]);
    push_exit_command(&mut argv, a.exit_command);
    push_exit_handover(&mut argv, a.exit_handover.as_deref(), a.exit_command);
    push_attach_record_size(&mut argv, a.attach_record_size);
    if !a.exit_command.is_empty() && a.exit_delay > 0 {
        argv.push("--exit-delay".into());
        argv.push(a.exit_delay.to_string());
    }
    argv
}

#[cfg(test)]
mod exec_tests {
    use super::*;

    #[test]
    fn exec_argv_follows_libpod_order() {
        let ctr = OciContainer {
            id: "cid".into(),
            name: "web".into(),
            bundle_dir: "/b".into(),
            run_dir: "/r".into(),
            log_driver: LogDriver::None,
            terminal: false,
            stdin: false,
            stop_signal: 15,
            pid: 1,
            conmon_pid: 2,
            exit_command: vec![],
            pid_namespace: true,
            cgroups: true,
            monitor: Default::default(),
            pass_fds: Vec::new(),
        };
        let exit_command = vec!["/rpod".to_string(), "cleanup".to_string()];
        let argv = exec_argv(&ExecArgs {
            ctr: &ctr,
            session_id: "sid",
            session_dir: Path::new("/b/sid"),
            runtime_path: Path::new("/crun"),
            runtime_flags: &[],
            process_spec: Path::new("/b/sid/exec-process"),
            oci_log: None,
            log_level: "error",
            terminal: true,
            stdin: true,
            preserve_fds: 2,
            exit_command: &exit_command,
            exit_delay: 0,
            exit_handover: Some("/b/sid/waiters".into()),
            attach_record_size: Some(65535),
        });
        let joined = argv.join(" ");
        assert!(joined.starts_with("--api-version 1 -c cid -u sid -r /crun -b /b/sid -p /b/sid/exec_pid -n web --exit-dir /b/sid --full-attach -l none"), "{joined}");
        assert!(joined.contains("--runtime-opt --preserve-fds --runtime-opt 2 -t -i -e --exec-attach --exec-process-spec /b/sid/exec-process --exit-command /rpod --exit-command-arg cleanup --exit-command-handover /b/sid/waiters --attach-record-size 65535"), "{joined}");
    }
}
