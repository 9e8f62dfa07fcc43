//! rpod's own monitor (crates/rpod-monitor) as a conmon drop-in: chosen by default, podman
//! runs on it, a full log disk costs neither the container nor its clients anything, and
//! its death in any state is survived. The rest of the suite runs on it as well (and again
//! on conmon: scripts/test.sh).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

/// The rpod-monitor built beside the rpod under test, which rpod finds by itself.
fn built_monitor_path() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_rpod")).with_file_name("rpod-monitor")
}

/// The rpod-monitor under test: the one `RPOD_CONMON` names when it is an rpod-monitor
/// (scripts/test.sh names the build an installation gets), else the one built beside rpod.
fn monitor_path() -> PathBuf {
    match std::env::var_os("RPOD_CONMON") {
        Some(path) if !on_conmon() => PathBuf::from(path),
        _ => built_monitor_path(),
    }
}

fn conmon_path() -> PathBuf {
    ["/usr/bin/conmon", "/usr/libexec/podman/conmon"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("conmon is installed (scripts/install-deps.sh)")
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn cmdline(pid: &str) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[test]
fn rpod_monitors_with_its_own_monitor_unless_told_otherwise() {
    let rpod = Rpod::with_image("runc");
    let run_in = |rpod: &Rpod, extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend(["run", "-d", "demo", "sleep", "1000"]);
        let out = rpod
            .command(&args)
            .env_remove("RPOD_CONMON")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let pid = rpod.inspect(&id, "{{.State.ConmonPid}}");
        let program = cmdline(&pid)[0].clone();
        rpod.ok(&["rm", "-f", "-t", "0", &id]);
        program
    };
    let run = |extra: &[&str]| run_in(&rpod, extra);
    assert_eq!(PathBuf::from(run(&[])), built_monitor_path());
    let conmon = conmon_path().display().to_string();
    assert_eq!(run(&["--conmon", &conmon]), conmon);
    // podman's containers.conf key, in rpod.conf.
    let configured = Rpod::with_config(
        "runc",
        &format!("{NO_NETWORK_CONFIG}[engine]\nconmon_path = \"{conmon}\"\n"),
    );
    configured.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    assert_eq!(run_in(&configured, &[]), conmon);
    let monitor = monitor_path().display().to_string();
    assert_eq!(run_in(&configured, &["--conmon", &monitor]), monitor);
    let info = rpod
        .command(&[
            "info",
            "--format",
            "{{.Host.Conmon.Path}} {{.Host.Conmon.Version}}",
        ])
        .env_remove("RPOD_CONMON")
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("rpod-monitor"), "{info}");
}

#[test]
fn the_monitor_speaks_conmons_version_and_refuses_bad_options() {
    let version = Command::new(monitor_path())
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(text.starts_with("conmon version 2."), "{text}");
    assert!(text.contains("rpod-monitor"), "{text}");
    for (args, needle) in [
        (vec!["--nosuchflag"], "--nosuchflag"),
        (
            vec!["-u", "x", "-r", "/bin/true", "-l", "none"],
            "Container ID",
        ),
        (
            vec![
                "-c",
                "x",
                "-u",
                "x",
                "-r",
                "/nonexistent/runtime",
                "-l",
                "none",
            ],
            "not valid",
        ),
        (
            vec!["-c", "x", "-u", "x", "-r", "/bin/true", "-l", "journald"],
            "journald",
        ),
    ] {
        let out = Command::new(monitor_path())
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

/// podman itself, with `--conmon` pointing at rpod-monitor, in a store of its own.
#[test]
fn podman_runs_on_rpod_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let podman = |args: &[&str]| {
        let mut command = Command::new("podman");
        command
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("--runroot")
            .arg(dir.path().join("run"))
            .arg("--tmpdir")
            .arg(dir.path().join("tmp"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .arg("--conmon")
            .arg(monitor_path())
            .args(args)
            .stdin(Stdio::null());
        command
    };
    let ok = |args: &[&str]| {
        let out = podman(args).output().unwrap();
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&["import", &busybox_tarball().display().to_string(), "img"]);
    let limits = [
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ];
    let with = |head: &[&str], tail: &[&str]| -> Vec<String> {
        head.iter()
            .chain(limits.iter())
            .chain(tail.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let args = with(&["run", "--rm"], &["img", "echo", "hello from podman"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(ok(&args), "hello from podman\n");

    // Input through the attach socket, byte-exact.
    let input: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let args = with(&["run", "--rm", "-i"], &["img", "cat"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = pipe_through(&mut podman(&args), &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == input,
        "cat gave back {} bytes",
        out.stdout.len()
    );

    let args = with(
        &["run", "-d"],
        // Running until the test is done with its execs, however slow the machine.
        &[
            "img",
            "sh",
            "-c",
            "echo out; echo err >&2; until [ -e /tmp/done ]; do sleep 0.1; done; exit 3",
        ],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = ok(&args).trim().to_string();
    let monitor = ok(&["inspect", "--format", "{{.State.ConmonPid}}", &id]);
    assert_eq!(PathBuf::from(&cmdline(monitor.trim())[0]), monitor_path());
    assert_eq!(ok(&["exec", &id, "sh", "-c", "echo in-exec"]), "in-exec\n");
    let exec = podman(&["exec", &id, "sh", "-c", "exit 5"])
        .output()
        .unwrap();
    assert_eq!(
        exec.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&exec.stderr)
    );
    // Copied in, not made by an exec: the container ends as soon as it sees the file and
    // the kernel kills what is left in its pid namespace, so an exec `touch` that had not
    // exited yet would end with 137.
    let done = dir.path().join("done");
    fs::write(&done, "").unwrap();
    ok(&["cp", done.to_str().unwrap(), &format!("{id}:/tmp/done")]);
    assert_eq!(ok(&["wait", &id]).trim(), "3");
    let logs = podman(&["logs", &id]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "err\n");
    ok(&["rm", &id]);
}

#[test]
fn a_full_log_disk_stops_neither_the_container_nor_its_output() {
    for runtime in ["runc", "crun"] {
        let rpod = Rpod::with_image(runtime);
        let scratch = tempfile::tempdir().unwrap();
        let disk = SmallDisk::mount(scratch.path().join("small"), "256k");
        let signals = scratch.path().join("signals");
        fs::create_dir_all(&signals).unwrap();
        let filler = disk.path.join("filler");
        fs::write(&filler, vec![0u8; 160 * 1024]).unwrap();
        let log = disk.path.join("ctr.log");
        let script = "head -c 300000 /dev/zero | tr '\\0' a; echo; \
                      while [ ! -e /signals/go ]; do sleep 0.05; done; echo after";
        let monitor = monitor_path().display().to_string();
        let mut child = rpod
            .command(&[
                // rpod-monitor's own behaviour: conmon writes no such note.
                "--conmon",
                &monitor,
                "run",
                "--name",
                "logger",
                "--log-opt",
                &format!("path={}", log.display()),
                "-v",
                &format!("{}:/signals", signals.display()),
                "demo",
                "sh",
                "-c",
                script,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The attached output is read all along: a client that stopped reading would hold
        // the monitor's output back, and what it took later could fill the disk again.
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let reader = {
            let mut stdout = child.stdout.take().unwrap();
            let received = received.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 65536];
                loop {
                    match std::io::Read::read(&mut stdout, &mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => received.lock().unwrap().extend_from_slice(&chunk[..n]),
                    }
                }
            })
        };
        // The log fills the disk while all of the first output goes by; then room is made
        // and the container goes on.
        wait_until("the log disk fills up and the output went by", || {
            available_bytes(&disk.path) < 4096 && received.lock().unwrap().len() >= 300_001
        });
        fs::remove_file(&filler).unwrap();
        fs::write(signals.join("go"), b"").unwrap();
        let out = child.wait_with_output().unwrap();
        reader.join().unwrap();
        let stdout = received.lock().unwrap().clone();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{runtime}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut expected = vec![b'a'; 300_000];
        expected.extend_from_slice(b"\nafter\n");
        assert!(
            stdout == expected,
            "{runtime}: attached output of {} bytes",
            stdout.len()
        );
        let text = fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("stderr F rpod-monitor:")
                && text.contains("bytes of output were not logged: No space left on device"),
            "{runtime}: the log does not say what was lost:\n{}",
            text.lines()
                .filter(|l| !l.contains(" stdout "))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            text.trim_end().ends_with("stdout F after"),
            "{runtime}: {}",
            &text[text.len().saturating_sub(200)..]
        );
        rpod.ok(&["rm", "logger"]);
    }
}

#[test]
fn a_killed_monitor_is_noticed_in_every_state() {
    let rpod = Rpod::with_image("runc");
    let kill_monitor = |id: &str| {
        let pid: i32 = rpod.inspect(id, "{{.State.ConmonPid}}").parse().unwrap();
        assert!(pid > 0, "{id} has no monitor");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_until("the monitor dies", || !pid_alive(pid));
    };
    // Running: the exit code is unknown (-1) and says why; the process is stopped.
    let id = rpod.detached(&["demo", "sleep", "1000"]);
    let pid: i32 = rpod.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    kill_monitor(&id);
    rpod.ok(&["stop", "-t", "1", &id]);
    assert!(!pid_alive(pid));
    assert_eq!(
        rpod.inspect(&id, "{{.State.Status}} {{.State.ExitCode}}"),
        "exited -1"
    );
    // It starts again, with a new monitor.
    rpod.ok(&["start", &id]);
    assert_eq!(rpod.inspect(&id, "{{.State.Status}}"), "running");
    rpod.ok(&["rm", "-f", "-t", "0", &id]);

    // Paused.
    let id = rpod.detached(&["demo", "sleep", "1000"]);
    let pid: i32 = rpod.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    rpod.ok(&["pause", &id]);
    kill_monitor(&id);
    rpod.ok(&["rm", "-f", "-t", "0", &id]);
    assert!(!pid_alive(pid));
    assert!(!rpod.ok(&["ps", "-a", "-q", "--no-trunc"]).contains(&id));

    // During an exec session: the container's end is still recorded.
    let id = rpod.detached(&["demo", "sleep", "1000"]);
    let session = rpod
        .command(&["exec", &id, "sleep", "1000"])
        .spawn()
        .unwrap();
    wait_until("the exec session runs", || {
        rpod.ok(&["top", &id, "args"]).matches("sleep 1000").count() >= 2
    });
    kill_monitor(&id);
    rpod.ok(&["rm", "-f", "-t", "0", &id]);
    let status = session.wait_with_output().unwrap().status;
    assert!(!status.success());
    assert!(!rpod.ok(&["ps", "-a", "-q", "--no-trunc"]).contains(&id));
}

/// A killed monitor runs no exit command. Once the container's process has ended too,
/// the next command that looks at it records the unknown exit and runs that command in
/// the monitor's place: the restart policy still restarts the container (podman's does
/// not) and a `--rm` container is still removed.
#[test]
fn a_killed_monitors_exit_command_still_runs() {
    let rpod = Rpod::with_image("crun");
    let kill_monitor_and_wait_for = |id: &str| {
        let pid: i32 = rpod.inspect(id, "{{.State.Pid}}").parse().unwrap();
        let monitor: i32 = rpod.inspect(id, "{{.State.ConmonPid}}").parse().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_until("the monitor and the process end", || {
            !pid_alive(monitor) && !pid_alive(pid)
        });
    };
    let id = rpod.detached(&["--restart", "always", "demo", "sh", "-c", "sleep 1; exit 3"]);
    kill_monitor_and_wait_for(&id);
    // `ps` notices (without a lock); the exit command restarts it in the background.
    assert!(rpod.ok(&["ps", "-a"]).contains("Exited (-1)"));
    wait_until("the container restarts", || {
        rpod.inspect(&id, "{{.RestartCount}}") != "0"
    });
    let events = rpod.ok(&[
        "events",
        "--stream=false",
        "--filter",
        &format!("container={id}"),
        "--format",
        "{{.Status}} {{.ContainerExitCode}}",
    ]);
    assert!(events.contains("died -1"), "{events}");
    rpod.ok(&["rm", "-f", "-t", "0", &id]);

    let id = rpod.detached(&["--rm", "demo", "sleep", "1"]);
    kill_monitor_and_wait_for(&id);
    rpod.ok(&["ps", "-a", "-q"]);
    wait_until("the --rm container is removed", || {
        !rpod.ok(&["ps", "-aq", "--no-trunc"]).contains(&id)
    });
}

/// An attached `run` handles its container's exit itself and tells rpod-monitor so (the
/// exit-command handover): no `rpod container cleanup` process follows. A `run` killed
/// before the exit leaves it to the exit command, which still records and removes.
#[test]
fn the_exit_is_handed_over_to_its_waiter_and_back_when_the_waiter_dies() {
    for runtime in ["runc", "crun"] {
        let rpod = Rpod::with_image(runtime);
        // rpod-monitor even in the suite's conmon pass (conmon has no handover).
        let monitor = monitor_path().display().to_string();
        let on_monitor = |args: &[&str]| -> Vec<String> {
            ["--conmon", monitor.as_str()]
                .iter()
                .chain(args)
                .map(|s| s.to_string())
                .collect()
        };
        let handover = |id: &str| {
            rpod.runroot()
                .join("monitor/persist")
                .join(id)
                .join("waiters")
        };
        let out = rpod.run(&strs(&on_monitor(&[
            "run",
            "--name",
            "handed",
            "demo",
            "sh",
            "-c",
            "echo hi; exit 4",
        ])));
        assert_eq!(out.status.code(), Some(4));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
        let id = rpod.inspect("handed", "{{.Id}}");
        assert_eq!(fs::read_to_string(handover(&id)).unwrap(), "handled");
        assert_eq!(
            rpod.inspect(&id, "{{.State.Status}} {{.State.ExitCode}}"),
            "exited 4"
        );
        // Started again, the old handover does not count: a detached run's exit is the
        // exit command's to handle (and it does).
        rpod.ok(&strs(&on_monitor(&["start", &id])));
        assert!(
            !handover(&id).exists(),
            "a stale handover outlived the restart"
        );
        wait_until("the exit command records the exit", || {
            rpod.inspect(&id, "{{.State.Status}}") == "exited"
        });
        assert_eq!(rpod.inspect(&id, "{{.State.ExitCode}}"), "4");
        assert!(!handover(&id).exists());

        // The waiter dies (SIGKILL) while the container runs: the exit command handles it.
        let mut run = rpod
            .command(&strs(&on_monitor(&[
                "run",
                "--rm",
                "--name",
                "orphaned",
                "demo",
                "sh",
                "-c",
                "sleep 1; exit 5",
            ])))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_until("the container runs", || {
            rpod.run(&["inspect", "--format", "{{.State.Status}}", "orphaned"])
                .stdout
                .starts_with(b"running")
        });
        let id = rpod.inspect("orphaned", "{{.Id}}");
        wait_until("the waiter holds the handover", || handover(&id).exists());
        run.kill().unwrap();
        run.wait().unwrap();
        wait_until("the exit command removes the --rm container", || {
            !rpod.ok(&["ps", "-a", "-q", "--no-trunc"]).contains(&id)
        });
        assert_eq!(rpod.ok(&["wait", &id]).trim(), "5");
        assert!(!rpod.runroot().join("monitor/persist").join(&id).exists());

        // With a restart policy the exit command decides about the restart: no handover.
        let out = rpod.run(&strs(&on_monitor(&[
            "run",
            "--name",
            "again",
            "--restart",
            "on-failure:1",
            "demo",
            "sh",
            "-c",
            "exit 3",
        ])));
        assert_eq!(out.status.code(), Some(3));
        wait_until("the exit command restarts it once", || {
            rpod.inspect("again", "{{.RestartCount}} {{.State.Status}}") == "1 exited"
        });
        let id = rpod.inspect("again", "{{.Id}}");
        assert!(!handover(&id).exists());
    }
}

/// With rpod-monitor, a `run` creates and starts in one call of the runtime (its `run
/// --detach`): the attached `run` still gets every byte the container writes at once (more
/// than its pipe holds) and its exit code. With conmon it creates, then starts. The runtime
/// is a script that logs its command lines and runs the real one.
#[test]
fn rpod_monitor_creates_and_starts_in_one_runtime_call() {
    for runtime in ["runc", "crun"] {
        let mut rpod = Rpod::new(runtime);
        let log = rpod.dir.path().join("runtime-calls");
        wrap_runtime(
            &mut rpod,
            runtime,
            &format!("echo \"$*\" >> {}\n", log.display()),
        );
        let script = "head -c 300000 /dev/zero | tr '\\0' x; exit 6";
        let calls = |conmon: Option<&str>| {
            let _ = fs::remove_file(&log);
            let mut args = Vec::new();
            if let Some(conmon) = conmon {
                args.extend(["--conmon", conmon]);
            }
            args.extend(["run", "--rm", "demo", "sh", "-c", script]);
            let out = rpod
                .command(&args)
                .env_remove("RPOD_CONMON")
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(6),
                "{runtime}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout.len(), 300_000, "{runtime}");
            assert!(out.stdout.iter().all(|b| *b == b'x'));
            // rpod-monitor's delete at the exit may still run (`run --rm` does not wait for
            // it), its line not yet written: every runtime call of the store ends first.
            let store = rpod.dir.path().display().to_string();
            wait_until("the runtime calls end", || !processes_mentioning(&store));
            let text = fs::read_to_string(&log).unwrap();
            text.lines()
                .filter_map(|l| {
                    ["create", "run", "start", "delete"]
                        .into_iter()
                        .find(|c| l.split_whitespace().any(|w| w == *c))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(calls(None), ["run", "delete"], "{runtime}");
        let conmon = conmon_path().display().to_string();
        assert_eq!(
            calls(Some(&conmon)),
            ["create", "start", "delete"],
            "{runtime}"
        );
    }
}

/// The runtime's executions (PID and line) in an strace log: its command lines start with
/// `--root` (runc's `init` is another one).
fn runtime_execs(trace: &Path, runtime: &str) -> Vec<(String, String)> {
    fs::read_to_string(trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!("/{runtime}\", \"--root\"")))
        .filter(|l| l.contains(" execve(") || l.contains(" execveat("))
        .map(|l| {
            let pid = l.split_whitespace().next().unwrap_or_default().to_string();
            (pid, l.to_string())
        })
        .collect()
}

/// A small runtime runs from a sealed copy of it (the rpod-sealed crate), so that it does
/// not execute itself a second time (its guard against CVE-2019-5736): crun is executed
/// once per call, from a descriptor, by rpod-monitor (the run and the delete of a `--rm`
/// container) and by rpod itself (the kill of a stop, the delete of a removal), never by
/// its path, and no crun process executes itself again. runc (8.7 MB) is run by its path
/// and guards itself. Traced with strace.
#[test]
fn crun_runs_once_per_call_from_a_sealed_copy() {
    for runtime in ["crun", "runc"] {
        let rpod = Rpod::new(runtime);
        rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
        let trace = rpod.dir.path().join("trace");
        let traced = |args: &[&str]| -> String {
            let command = rpod.command(args);
            let out = Command::new("strace")
                .args([
                    "-f",
                    "-qq",
                    "-a",
                    "0",
                    "-e",
                    "trace=execve,execveat",
                    "-A",
                    "-o",
                ])
                .arg(&trace)
                .arg(command.get_program())
                .args(command.get_args())
                .env("RPOD_CONFIG", rpod.config_path())
                .env_remove("RPOD_CONMON")
                .stdin(Stdio::null())
                .output()
                .expect("strace is installed (scripts/install-deps.sh)");
            assert!(
                out.status.success(),
                "{runtime} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        traced(&["run", "--rm", "demo", "true"]);
        // Not traced: strace would wait for the monitor, which outlives the command.
        let id = rpod.ok(&["run", "-d", "demo", "sleep", "1000"]);
        traced(&["stop", "-t", "0", id.trim()]);
        traced(&["rm", id.trim()]);
        let execs = runtime_execs(&trace, runtime);
        let by_path = execs
            .iter()
            .filter(|(_, l)| {
                l.contains(&format!(" execve(\"/usr/bin/{runtime}\""))
                    || l.contains(&format!(" execve(\"/usr/sbin/{runtime}\""))
            })
            .count();
        // At least the run and the delete of the `run --rm`, and the kill of the stop.
        assert!(execs.len() >= 3, "{runtime}: {execs:#?}");
        if runtime == "crun" {
            assert_eq!(by_path, 0, "{execs:#?}");
            let count = |what: &str| execs.iter().filter(|(_, l)| l.contains(what)).count();
            assert!(count(" execveat(") >= 2, "the monitor's calls: {execs:#?}");
            assert!(
                count(" execve(\"/proc/self/fd/") >= 1,
                "rpod's own calls: {execs:#?}"
            );
            let mut pids: Vec<&str> = execs.iter().map(|(pid, _)| pid.as_str()).collect();
            pids.sort();
            pids.dedup();
            assert_eq!(
                pids.len(),
                execs.len(),
                "crun executed itself again: {execs:#?}"
            );
        } else {
            assert_eq!(by_path, execs.len(), "{execs:#?}");
        }
    }
}

/// rpod asks rpod-monitor for 64 KiB output records (its readers take them); conmon, which
/// knows no such option, is not asked.
#[test]
fn only_rpod_monitor_is_asked_for_large_attach_records() {
    let rpod = Rpod::with_image("runc");
    let id = rpod
        .ok(&["run", "-d", "demo", "sleep", "1000"])
        .trim()
        .to_string();
    let argv = cmdline(&rpod.inspect(&id, "{{.State.ConmonPid}}"));
    let ours = Path::new(&argv[0]).file_name() == Some("rpod-monitor".as_ref());
    assert_eq!(
        argv.windows(2)
            .any(|w| w == ["--attach-record-size", "65535"]),
        ours,
        "{argv:?}"
    );
    rpod.ok(&["rm", "-f", "-t", "0", &id]);
}

/// rpod-monitor runs a container's health check on its interval while it runs (conmon
/// leaves that to systemd's timers, which rpod does not make): the container turns
/// unhealthy and healthy again with nobody running `healthcheck run`, and a check never
/// runs twice at once. `--health-interval disable` leaves it to be run by hand.
#[test]
fn rpod_monitor_runs_the_health_check_on_its_interval() {
    let rpod = Rpod::with_image("crun");
    let run_checked = |monitor: &Path, name: &str, check: &str, interval: &str| {
        let monitor = monitor.display().to_string();
        let out = rpod
            .command(&[
                "--conmon",
                &monitor,
                "run",
                "-d",
                "--name",
                name,
                "--health-cmd",
                check,
                "--health-interval",
                interval,
                "--health-retries",
                "1",
                "demo",
                "sleep",
                "1000",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    let run = |monitor: &Path, name: &str, interval: &str| {
        run_checked(
            monitor,
            name,
            "echo x >> /tmp/checks; test -e /tmp/ok",
            interval,
        )
    };
    let status = |name: &str| rpod.inspect(name, "{{.State.Health.Status}}");
    run(&monitor_path(), "timed", "1s");
    wait_until("the first check failed", || status("timed") == "unhealthy");
    rpod.ok(&["exec", "timed", "touch", "/tmp/ok"]);
    wait_until("a later check passed", || status("timed") == "healthy");
    let checks = rpod
        .ok(&["exec", "timed", "cat", "/tmp/checks"])
        .lines()
        .count();
    assert!(checks >= 2, "{checks}");
    // A check that takes longer than the interval is not started again before it ends.
    run_checked(
        &monitor_path(),
        "slow",
        "echo s >> /tmp/l; sleep 1.5; echo e >> /tmp/l",
        "1s",
    );
    wait_until("three checks began", || {
        rpod.run(&["exec", "slow", "cat", "/tmp/l"])
            .stdout
            .iter()
            .filter(|b| **b == b's')
            .count()
            >= 3
    });
    let log = rpod.ok(&["exec", "slow", "cat", "/tmp/l"]);
    let marks: Vec<&str> = log.lines().collect();
    for (i, mark) in marks.iter().enumerate() {
        assert_eq!(*mark, if i % 2 == 0 { "s" } else { "e" }, "{marks:?}");
    }
    // conmon runs none, and neither does rpod-monitor for `disable`.
    run(&conmon_path(), "by-hand", "1s");
    run(&monitor_path(), "disabled", "disable");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    for name in ["by-hand", "disabled"] {
        assert_eq!(status(name), "starting", "{name}");
        let checks = rpod.run(&["exec", name, "cat", "/tmp/checks"]);
        assert!(!checks.status.success(), "{name}: a check ran");
    }
    // By hand it runs.
    rpod.run(&["healthcheck", "run", "disabled"]);
    assert_eq!(status("disabled"), "unhealthy");
    rpod.ok(&[
        "rm", "-f", "-t", "0", "timed", "slow", "by-hand", "disabled",
    ]);
}

/// A `--rm` container's log goes with it right after the exit: its monitor is told not to
/// sync it (`--no-sync-log`), and to delete the container from the runtime as soon as it
/// exited (`--delete-at-exit`); any other container's log is synced, and its delete left to
/// rpod.
#[test]
fn a_removed_containers_monitor_neither_syncs_its_log_nor_leaves_the_delete() {
    let rpod = Rpod::with_image("runc");
    for remove in [true, false] {
        let mut args = vec!["run", "-d"];
        if remove {
            args.push("--rm");
        }
        args.extend(["demo", "sleep", "1000"]);
        let id = rpod.ok(&args).trim().to_string();
        let pid = rpod.inspect(&id, "{{.State.ConmonPid}}");
        let argv = cmdline(&pid);
        // conmon has no `--delete-at-exit` (the suite also runs on conmon).
        let ours = argv[0].ends_with("rpod-monitor");
        for (option, expected) in [
            ("--no-sync-log", remove),
            ("--delete-at-exit", remove && ours),
        ] {
            assert_eq!(
                argv.iter().any(|a| a == option),
                expected,
                "{option}, --rm {remove}: {argv:?}"
            );
        }
        rpod.ok(&["rm", "-f", "-t", "0", &id]);
    }
}

/// A store whose runtime is a script around the real `runtime`: its `delete` waits while
/// the returned marker exists (recording its PID in the returned file), then runs the real
/// one. Returns the marker, the PID file and the real runtime's path.
fn hanging_delete_runtime(rpod: &mut Rpod, runtime: &str) -> (PathBuf, PathBuf, String) {
    let dir = rpod.dir.path().to_path_buf();
    let hang = dir.join("hang-delete");
    let delete_pid = dir.join("delete.pid");
    let real = wrap_runtime(
        rpod,
        runtime,
        &format!(
            "for a in \"$@\"; do\n  if [ \"$a\" = delete ] && [ -e {hang} ]; then\n    \
             echo $$ > {pid}.tmp && mv {pid}.tmp {pid}\n    \
             while [ -e {hang} ]; do sleep 0.05; done\n  fi\ndone\n",
            hang = hang.display(),
            pid = delete_pid.display(),
        ),
    );
    fs::write(&hang, "").unwrap();
    (hang, delete_pid, real)
}

/// Make `rpod` run `runtime` through a shell script: `prelude` (where `@REAL@` stands for
/// the real runtime's path), then the real runtime with the same arguments; the demo image
/// is imported. Returns the real runtime's path.
fn wrap_runtime(rpod: &mut Rpod, runtime: &str, prelude: &str) -> String {
    let real = [
        "/usr/sbin/runc",
        "/usr/bin/runc",
        "/usr/bin/crun",
        "/usr/local/bin/crun",
    ]
    .into_iter()
    .find(|p| p.ends_with(runtime) && Path::new(p).is_file())
    .unwrap_or_else(|| panic!("{runtime} is installed (scripts/install-deps.sh)"));
    let wrapper = rpod.dir.path().join("wrapped").join(runtime);
    fs::create_dir_all(wrapper.parent().unwrap()).unwrap();
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n{}exec {real} \"$@\"\n",
            prelude.replace("@REAL@", real)
        ),
    )
    .unwrap();
    fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    rpod.runtime = wrapper.display().to_string();
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    real.to_string()
}

/// The runtime's start fails after it released the container, whose process then exited
/// (the monitor's delete at the exit can remove the runtime's state under a `runc start`
/// that is finishing: "remove .../exec.fifo: no such file or directory"). The container
/// did start: `start -a` reports its exit code, not the start's failure.
#[test]
fn a_start_that_fails_after_the_container_ran_is_a_start() {
    for runtime in ["runc", "crun"] {
        let mut rpod = Rpod::new(runtime);
        wrap_runtime(
            &mut rpod,
            runtime,
            "state=\nfor a in \"$@\"; do\n  [ \"$a\" = start ] && a=state\n  state=\"$state $a\"\ndone\n\
             case \" $* \" in *\" start \"*)\n  @REAL@ \"$@\" || exit $?\n  \
             while @REAL@ $state | grep -q '\"running\"'; do sleep 0.05; done\n  \
             echo 'simulated: remove exec.fifo: no such file or directory' >&2\n  exit 1\n\
             esac\n",
        );
        rpod.ok(&["create", "--name", "quick", "demo", "sh", "-c", "exit 3"]);
        // A start of its own, apart from the create (rpod-monitor creates and starts in
        // one runtime call where it can; a bridge network or conmon needs the two).
        let out = rpod
            .command(&["start", "-a", "quick"])
            .env("RPOD_CONMON", conmon_path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{runtime}: {}", stderr(&out));
        assert_eq!(
            rpod.ok(&["inspect", "--format", "{{.State.ExitCode}}", "quick"])
                .trim(),
            "3",
            "{runtime}"
        );
    }
}

/// An attached `run --rm` reports the exit and removes the container without waiting for
/// the monitor's delete at the exit (`--delete-at-exit`). The monitor killed during that
/// delete leaves the container in the runtime; the next removal deletes it, and nothing is
/// left behind.
#[test]
fn the_next_removal_deletes_what_a_monitor_killed_during_its_delete_left() {
    for runtime in ["runc", "crun"] {
        let HungDelete {
            rpod,
            hang,
            real,
            delete,
            monitor,
            ..
        } = run_rm_leaving_its_delete_hung(runtime);
        assert_eq!(rpod.ok(&["ps", "-a", "-q"]).trim(), "", "{runtime}");
        kill(monitor);
        // The hanging delete dies with its monitor (PDEATHSIG).
        wait_until("the monitor's delete is gone", || !pid_alive(delete));
        fs::remove_file(&hang).unwrap();
        let left = runtime_list(&rpod, runtime, &real);
        assert_eq!(left.len(), 1, "{runtime}");
        assert_eq!(pending_deletes(&rpod, runtime), left, "{runtime}");
        rpod.ok(&["run", "--rm", "demo", "true"]);
        nothing_left(&rpod, runtime, &real);
        // This run's own delete may still be pending (it can outlast the removal).
        assert!(
            !pending_deletes(&rpod, runtime).contains(&left[0]),
            "{runtime}: the killed monitor's delete is forgotten"
        );
    }
}

/// A delete of the monitor's that the removal left running and that then succeeded is
/// only forgotten by the next removal; the runtime is not asked again.
#[test]
fn a_delete_left_running_that_succeeds_is_forgotten_by_the_next_removal() {
    for runtime in ["runc", "crun"] {
        let HungDelete {
            rpod,
            hang,
            delete_pid,
            real,
            monitor,
            ..
        } = run_rm_leaving_its_delete_hung(runtime);
        let left = pending_deletes(&rpod, runtime);
        assert_eq!(left.len(), 1, "{runtime}");
        fs::remove_file(&hang).unwrap();
        wait_until("the monitor is done", || !pid_alive(monitor));
        nothing_left(&rpod, runtime, &real);
        // From here on, a delete of the first container would hang again.
        fs::write(&hang, "").unwrap();
        fs::remove_file(&delete_pid).unwrap();
        // On rpod-monitor again (the suite also runs on conmon, which has no delete at
        // the exit: rpod's own delete would hang).
        let next = rpod
            .command(&["run", "--rm", "--name", "next", "demo", "true"])
            .env_remove("RPOD_CONMON")
            .output()
            .unwrap();
        assert!(next.status.success(), "{runtime}: {}", stderr(&next));
        assert!(
            !pending_deletes(&rpod, runtime).contains(&left[0]),
            "{runtime}: the first delete is forgotten"
        );
        // Only the second container's delete ran (and hangs) since.
        wait_until("the second delete runs", || delete_pid.exists());
        fs::remove_file(&hang).unwrap();
        wait_until("the second delete is done", || {
            runtime_list(&rpod, runtime, &real).is_empty()
        });
    }
}

/// Start an attached `run --rm` (on rpod-monitor) whose container exits with 7, and wait
/// until the monitor's delete hangs. Returns the `run` and the delete's and the monitor's
/// PIDs.
fn run_until_the_delete_hangs(rpod: &Rpod, delete_pid: &Path) -> (std::process::Child, i32, i32) {
    let run = rpod
        .command(&[
            "run", "--rm", "--name", "gone", "demo", "sh", "-c", "exit 7",
        ])
        .env_remove("RPOD_CONMON")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the monitor's delete runs", || delete_pid.exists());
    let delete = rpod_test_support::read_pid_file(delete_pid);
    let monitor = rpod_test_support::parent_pid(delete);
    assert!(cmdline(&monitor.to_string())[0].ends_with("rpod-monitor"));
    (run, delete, monitor)
}

/// A `run --rm` that ended (with its container's exit code, 7) while its monitor's delete
/// hangs, and what the test needs of it.
struct HungDelete {
    rpod: Rpod,
    /// While this file exists, the runtime's deletes hang.
    hang: PathBuf,
    /// The hanging delete writes its PID here.
    delete_pid: PathBuf,
    /// The real runtime's path.
    real: String,
    delete: i32,
    monitor: i32,
}

fn run_rm_leaving_its_delete_hung(runtime: &str) -> HungDelete {
    let mut rpod = Rpod::new(runtime);
    let (hang, delete_pid, real) = hanging_delete_runtime(&mut rpod, runtime);
    let (mut run, delete, monitor) = run_until_the_delete_hangs(&rpod, &delete_pid);
    wait_until("the run exits", || run.try_wait().unwrap().is_some());
    assert!(pid_alive(delete), "{runtime}: the delete still hangs");
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{runtime}: {}", stderr(&out));
    HungDelete {
        rpod,
        hang,
        delete_pid,
        real,
        delete,
        monitor,
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The containers `real` (the runtime, its state under the store's run root) knows.
fn runtime_list(rpod: &Rpod, runtime: &str, real: &str) -> Vec<String> {
    let listed = Command::new(real)
        .arg("--root")
        .arg(rpod.runroot().join("runtimes").join(runtime))
        .args(["list", "-q"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The monitors' deletes that removals left to the next one (rpod-oci's monitor_delete.rs).
fn pending_deletes(rpod: &Rpod, runtime: &str) -> Vec<String> {
    let dir = rpod
        .runroot()
        .join("monitor")
        .join("deleting")
        .join(runtime);
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Neither rpod nor the runtime (`real`, its state under the store's run root) knows a
/// container any more.
fn nothing_left(rpod: &Rpod, runtime: &str, real: &str) {
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]).trim(), "", "{runtime}");
    assert_eq!(
        runtime_list(rpod, runtime, real),
        Vec::<String>::new(),
        "{runtime} still knows the container"
    );
}

fn kill(pid: i32) {
    signal(pid, nix::sys::signal::Signal::SIGKILL);
}

fn signal(pid: i32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).unwrap();
}

/// A detached exec seen between its process's end and its monitor's exit file (the
/// monitor held stopped here, the process killed): the listing that notices the session
/// ended waits for the file, and the exit code is kept, not taken for lost (docker-py's
/// exec_inspect right after a detached start saw no exit code, now and then).
#[test]
fn an_exec_seen_ending_before_its_exit_file_keeps_its_exit_code() {
    use nix::sys::signal::Signal;
    let rpod = Rpod::with_image("runc");
    let id = rpod.detached(&["--name", "ex", "demo", "sleep", "1000"]);
    let session = rpod
        .ok(&["exec", "-d", "ex", "sleep", "1000"])
        .trim()
        .to_string();
    let session_pid_file = rpod
        .runroot()
        .join("containers")
        .join(&id)
        .join("exec")
        .join(&session)
        .join("exec_pid");
    let process: i32 = fs::read_to_string(&session_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stat = |pid: i32| fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let parent: i32 = stat(process)
        .rsplit(") ")
        .next()
        .and_then(|rest| rest.split(' ').nth(1))
        .and_then(|ppid| ppid.parse().ok())
        .unwrap();
    assert!(
        cmdline(&parent.to_string())
            .iter()
            .any(|a| a.contains(&session)),
        "the session's monitor is its process's parent"
    );
    signal(parent, Signal::SIGSTOP);
    kill(process);
    wait_until("the process is a zombie", || {
        stat(process)
            .rsplit(") ")
            .next()
            .unwrap_or("")
            .starts_with('Z')
    });
    let resume = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        signal(parent, Signal::SIGCONT);
    });
    // The listing notices the ended session and records its end.
    assert_eq!(rpod.inspect("ex", "{{len .ExecIDs}}"), "0");
    resume.join().unwrap();
    assert_eq!(
        rpod.ok(&[
            "events",
            "--stream=false",
            "--filter",
            "event=exec_died",
            "--format",
            "{{.ContainerExitCode}}",
        ]),
        "137\n"
    );
    rpod.ok(&["rm", "-f", "-t", "0", "ex"]);
}

/// `--log-opt max-file`: rpod-monitor keeps the log in that many files of max-size each,
/// and `logs` reads them back in order; conmon, which starts its log afresh, is refused.
#[test]
fn a_log_kept_in_several_files_is_read_back_whole() {
    let rpod = Rpod::with_image("crun");
    let monitor = monitor_path().display().to_string();
    rpod.ok(&[
        "--conmon",
        &monitor,
        "run",
        "--name",
        "rotating",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=3",
        "demo",
        "seq",
        "1",
        "2000",
    ]);
    let log = rpod.inspect("rotating", "{{.HostConfig.LogConfig.Path}}");
    let log = PathBuf::from(log);
    let rotated = |n: u32| PathBuf::from(format!("{}.{n}", log.display()));
    for file in [log.clone(), rotated(1), rotated(2)] {
        let size = fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .len();
        assert!(size <= 2000, "{}: {size}", file.display());
    }
    assert!(!rotated(3).exists(), "more files than asked for");
    // The newest lines, in order, none missing between the first kept and 2000.
    let shown = rpod.ok(&["logs", "rotating"]);
    let numbers: Vec<u32> = shown.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(*numbers.last().unwrap(), 2000);
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{shown}");
    // Three files of about 2 kB hold more than one would (a record is about 45 bytes).
    assert!(numbers.len() > 100, "{} lines", numbers.len());
    assert_eq!(
        rpod.ok(&["logs", "--tail", "2", "rotating"]),
        "1999\n2000\n"
    );
    let err = rpod.fails(
        &[
            "--conmon",
            &conmon_path().display().to_string(),
            "run",
            "--rm",
            "--log-opt",
            "max-size=2k",
            "--log-opt",
            "max-file=3",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("rpod-monitor"), "{err}");
    let err = rpod.fails(&["create", "--log-opt", "max-file=3", "demo", "true"], 125);
    assert!(err.contains("needs max-size"), "{err}");
}

#[test]
fn a_link_planted_at_a_log_path_fails_the_start_and_is_never_written_through() {
    let rpod = Rpod::with_image("crun");
    let monitor = monitor_path().display().to_string();
    let shared = tempfile::tempdir().unwrap();
    let target = shared.path().join("precious");
    fs::write(&target, "kept\n").unwrap();
    let log = shared.path().join("ctr.log");
    let log_opt = format!("path={}", log.display());
    // Refused at once when the link is already there.
    std::os::unix::fs::symlink(&target, &log).unwrap();
    let err = rpod.fails(&["create", "--log-opt", &log_opt, "demo", "true"], 125);
    assert!(err.contains("symbolic link"), "{err}");
    // Put there between the create and the start: the monitor refuses it before the
    // runtime runs, and says so (before, the container ran with no log and no monitor).
    fs::remove_file(&log).unwrap();
    rpod.ok(&[
        "create",
        "--name",
        "late",
        "--log-opt",
        &log_opt,
        "demo",
        "echo",
        "hi",
    ]);
    std::os::unix::fs::symlink(&target, &log).unwrap();
    let err = rpod.fails(&["--conmon", &monitor, "start", "-a", "late"], 125);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(fs::read_to_string(&target).unwrap(), "kept\n");
    assert_eq!(rpod.inspect("late", "{{.State.Status}}"), "created");
    // `logs` does not read through it either.
    let err = rpod.fails(&["logs", "late"], 125);
    assert!(err.contains("symbolic link"), "{err}");
    // With the link gone the same container starts and logs.
    fs::remove_file(&log).unwrap();
    assert_eq!(
        rpod.ok(&["--conmon", &monitor, "start", "-a", "late"]),
        "hi\n"
    );
    assert_eq!(rpod.ok(&["logs", "late"]), "hi\n");
}

/// The user's terminal resized while an `exec -it` session starts (here the runtime's exec
/// takes a second): the new size reaches the session once it runs. rpod caught SIGWINCH
/// only after the start, so such a resize was lost and the session kept the old size.
#[test]
fn a_resize_while_an_exec_starts_reaches_the_session() {
    let mut rpod = Rpod::new("crun");
    wrap_runtime(
        &mut rpod,
        "crun",
        "case \" $* \" in *\" exec \"*) sleep 1 ;; esac\n",
    );
    let id = rpod.detached(&["demo", "sleep", "1000"]);
    let mut pty = PtyRun::spawn(&rpod, &["exec", "-it", &id, "sh"], 27, 99);
    // Inside the runtime's exec, whatever the machine's load (rpod's own start included).
    std::thread::sleep(std::time::Duration::from_millis(500));
    pty.resize(40, 120);
    let resized = (0..20).any(|_| {
        pty.write(b"stty size\n");
        pty.shows_within("40 120", std::time::Duration::from_millis(500))
    });
    assert!(resized, "never saw 40 120 in {:?}", pty.text());
    pty.write(b"exit 4\n");
    assert_eq!(pty.wait(), 4);
}

/// A startup check (`--health-startup-cmd`): rpod-monitor runs it on its own interval
/// while the container starts, the check not at all; once it passes the check's own
/// schedule begins. One that fails its retries restarts the container. By hand (conmon
/// runs none), `healthcheck run` says `starting` and exits 1 until the startup passes.
#[test]
fn a_startup_check_runs_first_and_restarts_a_container_that_never_starts() {
    let rpod = Rpod::with_image("crun");
    let run = |monitor: &Path, name: &str, startup: &str, more: &[&str]| {
        let monitor = monitor.display().to_string();
        let mut args = vec![
            "--conmon",
            monitor.as_str(),
            "run",
            "-d",
            "--name",
            name,
            "--health-cmd",
            "echo check >> /tmp/runs",
            "--health-interval",
            "1s",
            "--health-startup-cmd",
            startup,
            "--health-startup-interval",
            "1s",
        ];
        args.extend_from_slice(more);
        args.extend_from_slice(&["demo", "sleep", "1000"]);
        let out = rpod.command(&args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    let status = |name: &str| rpod.inspect(name, "{{.State.Health.Status}}");
    let runs = |name: &str| rpod.ok(&["exec", name, "cat", "/tmp/runs"]);
    run(
        &monitor_path(),
        "starts",
        "echo startup >> /tmp/runs; test -e /tmp/up",
        &[],
    );
    wait_until("two startup checks", || {
        rpod.run(&["exec", "starts", "cat", "/tmp/runs"]).stdout == b"startup\nstartup\n"
    });
    assert_eq!(status("starts"), "starting");
    rpod.ok(&["exec", "starts", "touch", "/tmp/up"]);
    wait_until("the check's own runs", || status("starts") == "healthy");
    let seen = runs("starts");
    let first_check = seen.lines().position(|l| l == "check").unwrap();
    assert!(
        seen.lines().skip(first_check).all(|l| l == "check"),
        "{seen}"
    );
    assert_eq!(
        rpod.inspect("starts", "{{.Config.StartupHealthCheck.Successes}}"),
        "1"
    );

    // Two failures in a row restart it.
    run(
        &monitor_path(),
        "never",
        "false",
        &["--health-startup-retries", "2", "--stop-timeout", "0"],
    );
    let first_start = rpod.inspect("never", "{{.State.StartedAt}}");
    wait_until("the container restarted", || {
        rpod.inspect("never", "{{.State.StartedAt}}") != first_start
    });
    assert_eq!(rpod.inspect("never", "{{.State.Status}}"), "running");

    // By hand, with conmon: `starting` until it passes, then the check.
    run(&conmon_path(), "by-hand", "test -e /tmp/up", &[]);
    let said = rpod.run(&["healthcheck", "run", "by-hand"]);
    assert_eq!(said.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&said.stdout), "starting\n");
    rpod.ok(&["exec", "by-hand", "touch", "/tmp/up"]);
    assert_eq!(rpod.ok(&["healthcheck", "run", "by-hand"]), "");
    assert_eq!(status("by-hand"), "starting");
    assert_eq!(rpod.ok(&["healthcheck", "run", "by-hand"]), "");
    assert_eq!(status("by-hand"), "healthy");
    assert_eq!(runs("by-hand"), "check\n");

    let err = rpod.fails(
        &[
            "run",
            "-d",
            "--health-startup-cmd",
            "true",
            "demo",
            "sleep",
            "1",
        ],
        125,
    );
    assert!(err.contains("needs a --health-cmd"), "{err}");
    rpod.ok(&["rm", "-f", "-t", "0", "starts", "never", "by-hand"]);
}
