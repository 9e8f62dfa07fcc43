//! conmon failing in the middle of an exec handshake: the session's start fails with an
//! error and the monitor process is waited for (no zombie, nothing left running). A shell
//! script stands in for conmon; no container is needed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rpod_oci::*;

/// Children of this process that have exited and were never waited for.
fn zombie_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str())
        })
        .collect()
}

fn script(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("conmon");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_failed_exec_handshake_leaves_no_conmon_behind() {
    let dir = tempfile::tempdir().unwrap();
    // Says the attach socket is ready (on fd 5), but never makes one; then waits for the
    // start pipe (fd 4) to close.
    let conmon = script(dir.path(), "printf '{\"data\": 1}' >&5\ncat <&4 >/dev/null");
    let runtime = monitored_runtime(RuntimeConfig {
        runtime: "/bin/true".into(),
        conmon: Some(conmon),
        tmp_dir: dir.path().join("monitor"),
        state_root: Some(dir.path().join("state")),
        runtime_flags: Vec::new(),
        log_level: "error".into(),
        criu: rpod_oci::conmon::find_criu(None),
    })
    .unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(
        bundle.join("config.json"),
        r#"{"ociVersion":"1.0.2","process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}}}"#,
    )
    .unwrap();
    let ctr = OciContainer {
        id: "a".repeat(64),
        name: "fake".into(),
        bundle_dir: bundle,
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
    let options = ExecOptions {
        cmd: vec!["true".into()],
        env: Vec::new(),
        unset_env: Vec::new(),
        terminal: false,
        cwd: None,
        user: None,
        additional_gids: Vec::new(),
        streams: Some(AttachStreams {
            output: Some(Box::new(std::io::sink())),
            error: Some(Box::new(std::io::sink())),
            input: None,
            attach_output: true,
            attach_error: true,
            attach_input: false,
            hangup: None,
        }),
        pass_fds: Vec::new(),
        detach_keys: None,
        exit_command: Vec::new(),
        exit_command_delay: 0,
        privileged: false,
    };
    let before = zombie_children();
    let result = runtime.exec_container(&ctr, "session", options, None);
    assert!(result.is_err(), "the attach socket never existed");
    // Give a monitor that was not waited for time to exit and become a zombie.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let after: Vec<i32> = zombie_children()
        .into_iter()
        .filter(|z| !before.contains(z))
        .collect();
    assert!(
        after.is_empty(),
        "conmon was not waited for: zombies {after:?}"
    );
}
