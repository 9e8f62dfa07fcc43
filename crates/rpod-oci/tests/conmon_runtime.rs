//! Integration tests of `ConmonRuntime` against the real conmon and the real runtimes.
//! They need root, conmon, runc, crun and Debian's busybox-static (`.ci/run` installs them);
//! a missing prerequisite fails the test with a message saying what to install.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oci_spec::runtime::{LinuxMemoryBuilder, LinuxResourcesBuilder, Spec};
use rpod_oci::exitfile::{read_exit_file, wait_exit_file};
use rpod_oci::process::{pid_alive, wait_pid_gone};
use rpod_oci::*;

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn unique_id(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("rpodtest-{tag}-{}-{n}-{nanos}", std::process::id())
}

/// The monitor under test: `RPOD_CONMON` when set (conmon's path, to run this suite on
/// conmon), else the workspace's rpod-monitor, which `cargo test --workspace` builds.
fn monitor() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RPOD_CONMON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    // Test executables live in target/<profile>/deps; binaries one level up.
    let exe = std::env::current_exe().unwrap();
    let built = exe.parent().unwrap().parent().unwrap().join("rpod-monitor");
    assert!(
        built.is_file(),
        "{} is missing: build it first (cargo build -p rpod-monitor)",
        built.display()
    );
    Some(built)
}

/// A container `id` whose bundle (`bundle/`, with its k8s-file log) and run directory
/// (`run/`) are in `dir`.
fn test_container(id: &str, dir: &Path) -> OciContainer {
    let bundle = dir.join("bundle");
    OciContainer {
        id: id.to_string(),
        name: format!("test-{id}"),
        bundle_dir: bundle.clone(),
        run_dir: dir.join("run"),
        log_driver: LogDriver::KubeFile(bundle.join("ctr.log")),
        terminal: false,
        stdin: false,
        stop_signal: libc::SIGTERM,
        pid: 0,
        conmon_pid: 0,
        exit_command: vec![],
        pid_namespace: true,
        cgroups: true,
        monitor: Default::default(),
        pass_fds: Vec::new(),
    }
}

/// Whether the fixture's monitor is rpod-monitor (not conmon).
fn monitor_is_rpod_monitor(f: &Fixture) -> bool {
    f.runtime.conmon_path().file_name() == Some(std::ffi::OsStr::new("rpod-monitor"))
}

/// A busybox root file system, built once and kept in cargo's directory for test files
/// (under `target/`), named after the busybox it holds: every test process shares it (the
/// containers mount it read-only), and none leaves a copy behind in /tmp.
fn rootfs() -> &'static Path {
    static ROOTFS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOTFS.get_or_init(|| {
        assert!(nix::unistd::geteuid().is_root(), "these tests need root");
        let busybox = rpod_test_support::busybox();
        let key = rpod_test_support::fixture_key(&[busybox]);
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rpod-oci-rootfs-{key:016x}"));
        if dir.join("etc/passwd").exists() {
            return dir;
        }
        // Built under a name of this process's own and renamed when complete; when another
        // process got there first, its copy is used.
        let partial = dir.with_extension(std::process::id().to_string());
        let _ = fs::remove_dir_all(&partial);
        for sub in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
            fs::create_dir_all(partial.join(sub)).unwrap();
        }
        fs::copy(busybox, partial.join("bin/busybox")).unwrap();
        let list = Command::new(busybox).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ =
                    std::os::unix::fs::symlink("/bin/busybox", partial.join("bin").join(applet));
            }
        }
        fs::write(
            partial.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n",
        )
        .unwrap();
        if fs::rename(&partial, &dir).is_err() {
            fs::remove_dir_all(&partial).unwrap();
            assert!(
                dir.join("etc/passwd").exists(),
                "{} incomplete",
                dir.display()
            );
        }
        dir
    })
}

/// One container's directories and the runtime that drives it.
struct Fixture {
    _dir: tempfile::TempDir,
    runtime: ConmonRuntime,
    ctr: OciContainer,
    state_root: PathBuf,
}

impl Fixture {
    fn new(runtime_name: &str, args: &[&str]) -> Fixture {
        Self::with_spec(runtime_name, args, |_| {})
    }

    fn with_spec(runtime_name: &str, args: &[&str], edit: impl FnOnce(&mut Spec)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state_root = dir.path().join("state");
        let runtime = ConmonRuntime::new(ConmonRuntimeConfig {
            runtime: runtime_name.to_string(),
            conmon: monitor(),
            tmp_dir: dir.path().join("tmp"),
            state_root: Some(state_root.clone()),
            runtime_flags: vec![],
            log_level: "error".into(),
            criu: rpod_oci::conmon::find_criu(None),
        })
        .unwrap_or_else(|e| panic!("{runtime_name} or conmon missing: {e}"));
        let id = unique_id(runtime_name);
        let bundle = dir.path().join("bundle");
        fs::create_dir_all(&bundle).unwrap();
        let mut spec = Spec::default();
        let mut root = spec.root().clone().unwrap();
        root.set_path(rootfs().to_path_buf());
        root.set_readonly(Some(true));
        spec.set_root(Some(root));
        let mut process = spec.process().clone().unwrap();
        process.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
        process.set_terminal(Some(false));
        spec.set_process(Some(process));
        let mut linux = spec.linux().clone().unwrap();
        linux.set_cgroups_path(Some(PathBuf::from(format!("/rpod-test/{id}"))));
        spec.set_linux(Some(linux));
        edit(&mut spec);
        fs::write(
            bundle.join("config.json"),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();
        let ctr = test_container(&id, dir.path());
        Fixture {
            _dir: dir,
            runtime,
            ctr,
            state_root,
        }
    }

    fn create(&mut self) {
        let outcome = self.runtime.create_container(&self.ctr, None).unwrap();
        assert!(outcome.pid > 0 && outcome.conmon_pid > 0, "{outcome:?}");
        self.ctr.pid = outcome.pid;
        self.ctr.conmon_pid = outcome.conmon_pid;
    }

    fn create_and_start(&mut self) {
        self.create();
        self.runtime.start_container(&self.ctr).unwrap();
    }

    fn exit_code(&self) -> i32 {
        let path = self.runtime.exit_file_path(&self.ctr).unwrap();
        let pid = self.ctr.conmon_pid;
        wait_exit_file(&path, Duration::from_secs(20), || !pid_alive(pid))
            .unwrap()
            .unwrap_or_else(|| panic!("no exit file at {}", path.display()))
            .code
    }

    /// The runtime's own view of the container's status.
    fn runtime_status(&self) -> Option<String> {
        let out = Command::new(self.runtime.path())
            .arg("--root")
            .arg(&self.state_root)
            .args(["state", &self.ctr.id])
            .output()
            .unwrap();
        if !out.status.success() {
            return None;
        }
        let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        state["status"].as_str().map(String::from)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.ctr.bundle_dir.join("ctr.log")).unwrap_or_default()
    }

    /// Wait until the container's log holds `text`.
    fn wait_for_log(&self, text: &str) {
        for _ in 0..2000 {
            if self.log().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("log never showed {text:?}: {}", self.log());
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if pid_alive(self.ctr.pid) {
            let _ = self.runtime.kill_container(&self.ctr, libc::SIGKILL, false);
            wait_pid_gone(self.ctr.pid, Duration::from_secs(5));
        }
        let _ = self.runtime.delete_container(&self.ctr);
        wait_pid_gone(self.ctr.conmon_pid, Duration::from_secs(5));
    }
}

/// Collects what a stream writes.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Output and error both into this capture; no input.
    fn streams(&self) -> AttachStreams {
        AttachStreams {
            output: Some(Box::new(self.clone())),
            error: Some(Box::new(self.clone())),
            input: None,
            attach_output: true,
            attach_error: true,
            attach_input: false,
            hangup: None,
        }
    }
}

fn exec_exit_code(f: &Fixture, session: &str) -> i32 {
    let exit = rpod_oci::conmon::exec::exec_exit_file(&f.ctr, session).unwrap();
    wait_exit_file(&exit, Duration::from_secs(10), || false)
        .unwrap()
        .unwrap_or_else(|| panic!("no exit file for session {session}"))
        .code
}

fn exec_options(cmd: &[&str], streams: Option<AttachStreams>) -> ExecOptions {
    ExecOptions {
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        env: vec![],
        unset_env: Vec::new(),
        terminal: false,
        cwd: None,
        user: None,
        additional_gids: Vec::new(),
        streams,
        pass_fds: Vec::new(),
        detach_keys: None,
        exit_command: vec![],
        exit_command_delay: 0,
        privileged: false,
    }
}

/// The children of a process, from /proc.
fn children(pid: i32) -> Vec<i32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out waiting until {what}");
}

/// The server's end of a hijacked connection, and the client's.
fn http_pair() -> (
    std::sync::Arc<std::os::fd::OwnedFd>,
    std::os::unix::net::UnixStream,
) {
    let (server, client) = std::os::unix::net::UnixStream::pair().unwrap();
    (std::sync::Arc::new(server.into()), client)
}

const HEAD: &[u8] = b"HTTP/1.1 101 UPGRADED\r\n\r\n";

fn http_options(
    connection: std::sync::Arc<std::os::fd::OwnedFd>,
    stdin: bool,
    stream: bool,
) -> HttpAttachOptions {
    HttpAttachOptions {
        connection,
        streams: HttpAttachStreams {
            stdin,
            stdout: true,
            stderr: true,
        },
        detach_keys: None,
        preamble: Some(Box::new(|w: &mut dyn std::io::Write| w.write_all(HEAD))),
        stream,
    }
}

/// A multiplexed stream holds `stdout` on stdout and `stderr` on stderr.
fn assert_demultiplexed(got: &[u8], stdout: &[u8], stderr: &[u8]) {
    let (out, err) = demultiplex(got);
    assert!(
        out == stdout,
        "stdout differs: {} bytes of {}",
        out.len(),
        stdout.len()
    );
    assert_eq!(err, stderr);
}

/// Send `data` and half-close from a thread, while reading everything that comes back.
fn send_then_read_all(client: &mut std::os::unix::net::UnixStream, data: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut writer = client.try_clone().unwrap();
    let data = data.to_vec();
    let feeder = std::thread::spawn(move || {
        writer.write_all(&data).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    feeder.join().unwrap();
    got
}

/// Read the response head a hijacked connection starts with.
fn read_head(client: &mut std::os::unix::net::UnixStream) {
    use std::io::Read;
    let mut head = vec![0u8; HEAD.len()];
    client.read_exact(&mut head).unwrap();
    assert_eq!(head, HEAD);
}

/// Split a multiplexed stream into (stdout, stderr).
fn demultiplex(mut data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while !data.is_empty() {
        let (stream, len) = (data[0], u32::from_be_bytes(data[4..8].try_into().unwrap()));
        let payload = &data[8..8 + len as usize];
        match stream {
            1 => out.extend_from_slice(payload),
            2 => err.extend_from_slice(payload),
            other => panic!("frame of stream {other}"),
        }
        data = &data[8 + len as usize..];
    }
    (out, err)
}

macro_rules! runtime_tests {
    ($module:ident, $runtime:literal) => {
        mod $module {
            use super::*;
            const RT: &str = $runtime;

            #[test]
            fn name_and_path() {
                let f = Fixture::new(RT, &["true"]);
                assert_eq!(f.runtime.name(), RT);
                assert!(f.runtime.path().is_file());
                assert!(f.runtime.path().ends_with(RT));
            }

            #[test]
            fn create_start_output_and_exit_code() {
                let mut f = Fixture::new(RT, &["sh", "-c", "echo out; echo err >&2; exit 42"]);
                f.create();
                assert_eq!(f.runtime_status().as_deref(), Some("created"));
                assert!(f.runtime.check_conmon_running(&f.ctr).unwrap());
                f.runtime.start_container(&f.ctr).unwrap();
                assert_eq!(f.exit_code(), 42);
                let log = f.log();
                assert!(log.contains(" stdout F out\n"), "{log}");
                assert!(log.contains(" stderr F err\n"), "{log}");
            }

            /// rpod-monitor creates and starts in one runtime call; with an attach to
            /// follow, the output (100 kB, written at once) and the exit wait for the
            /// client, which gets every byte. conmon says it cannot.
            #[test]
            fn create_started_holds_the_output_for_the_attach() {
                let script = "head -c 100000 /dev/zero | tr '\\0' x; echo; echo err >&2; exit 9";
                let mut f = Fixture::new(RT, &["sh", "-c", script]);
                if !f.runtime.supports_start_at_create() {
                    let err = f.runtime.create_started_container(&f.ctr, true).unwrap_err();
                    assert!(matches!(err, OciError::NotSupported { .. }), "{err:?}");
                    return;
                }
                let outcome = f.runtime.create_started_container(&f.ctr, true).unwrap();
                f.ctr.pid = outcome.pid;
                f.ctr.conmon_pid = outcome.conmon_pid;
                // It runs (and ends) without a start; its exit waits for the client.
                wait_until("the process ends", || !pid_alive(outcome.pid));
                std::thread::sleep(Duration::from_millis(200));
                let exit = f.runtime.exit_file_path(&f.ctr).unwrap();
                assert!(!exit.exists(), "the exit was recorded before the attach");
                assert!(!f.log().contains("xxx"), "the output was read before the attach");
                let out = Capture::default();
                let options = AttachOptions {
                    streams: out.streams(),
                    detach_keys: None,
                    initial_size: None,
                    start: false,
                };
                f.runtime.attach(&f.ctr, options).unwrap();
                let text = out.text();
                assert_eq!(text.matches('x').count(), 100_000);
                assert!(text.ends_with("x\nerr\n"), "{:?}", &text[text.len() - 20..]);
                assert_eq!(f.exit_code(), 9);
                assert!(f.log().contains(" stderr F err\n"));
            }

            /// Without an attach to follow, the output is not held.
            #[test]
            fn create_started_without_an_attach() {
                let mut f = Fixture::new(RT, &["sh", "-c", "echo at-once; exit 4"]);
                if !f.runtime.supports_start_at_create() {
                    return;
                }
                let outcome = f.runtime.create_started_container(&f.ctr, false).unwrap();
                f.ctr.pid = outcome.pid;
                f.ctr.conmon_pid = outcome.conmon_pid;
                assert_eq!(f.exit_code(), 4);
                f.wait_for_log(" stdout F at-once\n");
            }

            #[test]
            fn signal_deaths_are_128_plus_the_signal() {
                // PID 1 ignores signals it has no handler for, except SIGKILL.
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.create_and_start();
                f.runtime
                    .kill_container(&f.ctr, libc::SIGKILL, false)
                    .unwrap();
                assert_eq!(f.exit_code(), 128 + libc::SIGKILL);
            }

            #[test]
            fn create_failure_carries_the_runtime_message_and_cleans_up() {
                let f = Fixture::new(RT, &["/no/such/binary"]);
                let err = f.runtime.create_container(&f.ctr, None).unwrap_err();
                assert!(matches!(err, OciError::CommandNotFound { .. }), "{err:?}");
                assert!(err.to_string().contains("/no/such/binary"), "{err}");
                assert_eq!(
                    f.runtime_status(),
                    None,
                    "the failed container was not deleted"
                );
            }

            #[test]
            fn permission_denied_is_classified() {
                let f = Fixture::new(RT, &["/etc/passwd"]);
                let err = f.runtime.create_container(&f.ctr, None).unwrap_err();
                assert!(matches!(err, OciError::PermissionDenied { .. }), "{err:?}");
            }

            #[test]
            fn kill_signals_init_only_or_every_process() {
                let script = "trap 'echo got-usr1' USR1; sleep 1000 & while true; do wait; done";
                let mut f = Fixture::new(RT, &["sh", "-c", script]);
                f.create_and_start();
                let init = f.ctr.pid;
                wait_until("the child sleep runs", || !children(init).is_empty());
                let child = children(init)[0];
                f.runtime
                    .kill_container(&f.ctr, libc::SIGUSR1, false)
                    .unwrap();
                f.wait_for_log("got-usr1");
                assert!(pid_alive(child), "signalling init alone reached its child");
                f.runtime
                    .kill_container(&f.ctr, libc::SIGUSR1, true)
                    .unwrap();
                wait_until("the child dies", || !pid_alive(child));
                assert!(pid_alive(init), "init has a handler and must survive");
            }

            #[test]
            fn kill_of_an_exited_container_is_a_state_error() {
                let mut f = Fixture::new(RT, &["true"]);
                f.create_and_start();
                assert_eq!(f.exit_code(), 0);
                wait_pid_gone(f.ctr.pid, Duration::from_secs(5));
                let err = f
                    .runtime
                    .kill_container(&f.ctr, libc::SIGTERM, false)
                    .unwrap_err();
                assert!(matches!(err, OciError::CtrStateInvalid { .. }), "{err:?}");
            }

            #[test]
            fn stop_sends_the_stop_signal_first() {
                let mut f = Fixture::new(
                    RT,
                    &[
                        "sh",
                        "-c",
                        "trap 'exit 0' TERM; echo trap-set; while true; do sleep 0.05; done",
                    ],
                );
                f.create_and_start();
                // A SIGTERM before the trap is set would be ignored (PID 1), then killed.
                f.wait_for_log("trap-set");
                f.runtime.stop_container(&f.ctr, 30, false).unwrap();
                assert!(
                    !pid_alive(f.ctr.pid),
                    "stop returned before the process was gone"
                );
                assert_eq!(f.exit_code(), 0, "the container did not get SIGTERM");
            }

            #[test]
            fn stop_uses_the_containers_stop_signal() {
                let mut f = Fixture::new(
                    RT,
                    &[
                        "sh",
                        "-c",
                        "trap 'exit 3' USR2; echo trap-set; while true; do sleep 0.05; done",
                    ],
                );
                f.ctr.stop_signal = libc::SIGUSR2;
                f.create_and_start();
                f.wait_for_log("trap-set");
                f.runtime.stop_container(&f.ctr, 30, false).unwrap();
                assert_eq!(f.exit_code(), 3);
            }

            #[test]
            fn stop_escalates_to_sigkill_after_the_timeout() {
                // sleep as PID 1 has no SIGTERM handler, so the kernel ignores SIGTERM.
                // The start returns before runc's init (a Go program, whose runtime
                // exits 2 on SIGTERM) has run the command: stop once the shell runs.
                let mut f = Fixture::new(RT, &["sh", "-c", "echo running; exec sleep 1000"]);
                f.create_and_start();
                f.wait_for_log("running");
                f.runtime.stop_container(&f.ctr, 1, false).unwrap();
                assert!(!pid_alive(f.ctr.pid));
                assert_eq!(f.exit_code(), 137);
            }

            #[test]
            fn stop_with_timeout_zero_kills_at_once() {
                let mut f = Fixture::new(
                    RT,
                    &[
                        "sh",
                        "-c",
                        "trap 'exit 0' TERM; while true; do sleep 0.05; done",
                    ],
                );
                f.create_and_start();
                f.runtime.stop_container(&f.ctr, 0, false).unwrap();
                assert!(!pid_alive(f.ctr.pid));
                assert_eq!(f.exit_code(), 137, "SIGTERM was sent before SIGKILL");
            }

            #[test]
            fn stop_of_a_gone_process_succeeds() {
                let mut f = Fixture::new(RT, &["true"]);
                f.create_and_start();
                f.exit_code();
                wait_pid_gone(f.ctr.pid, Duration::from_secs(5));
                f.runtime.stop_container(&f.ctr, 10, false).unwrap();
            }

            #[test]
            fn delete_removes_the_container_from_the_runtime() {
                let mut f = Fixture::new(RT, &["true"]);
                f.create_and_start();
                f.exit_code();
                assert!(f.runtime_status().is_some());
                f.runtime.delete_container(&f.ctr).unwrap();
                assert_eq!(f.runtime_status(), None);
            }

            /// The delete a caller does other work beside: done once finished; as the
            /// delete is forced, a second one of what is gone succeeds too.
            #[test]
            fn a_delete_begun_is_done_once_finished() {
                let mut f = Fixture::new(RT, &["true"]);
                f.create_and_start();
                f.exit_code();
                let pending = f.runtime.begin_delete_container(&f.ctr);
                pending.finish().unwrap();
                assert_eq!(f.runtime_status(), None);
                f.runtime.begin_delete_container(&f.ctr).finish().unwrap();
            }

            /// A container removed at its exit: rpod-monitor deletes it from the runtime
            /// itself (`--delete-at-exit`), and a delete then waits for that one. With
            /// conmon, which has no such option, the delete does it.
            #[test]
            fn the_monitor_deletes_a_container_removed_at_its_exit() {
                let mut f = Fixture::new(RT, &["true"]);
                f.ctr.monitor.delete_at_exit = true;
                f.create_and_start();
                f.exit_code();
                let announced = f.runtime.persist_dir(&f.ctr).join("delete");
                assert_eq!(announced.exists(), monitor_is_rpod_monitor(&f));
                f.runtime.delete_container(&f.ctr).unwrap();
                assert_eq!(f.runtime_status(), None);
                if announced.exists() {
                    assert_eq!(fs::read_to_string(&announced).unwrap(), "0");
                }
            }

            /// An announcement without a status (its monitor died before the delete
            /// ended): the begun delete deletes the container itself.
            #[test]
            fn a_delete_the_monitor_did_not_finish_is_done_by_the_caller() {
                let mut f = Fixture::new(RT, &["true"]);
                f.create_and_start();
                f.exit_code();
                fs::write(f.runtime.persist_dir(&f.ctr).join("delete"), "").unwrap();
                assert!(f.runtime_status().is_some());
                f.runtime.begin_delete_container(&f.ctr).finish().unwrap();
                assert_eq!(f.runtime_status(), None);
            }

            #[test]
            fn pause_and_unpause() {
                let mut f = Fixture::new(
                    RT,
                    &["sh", "-c", "while true; do echo tick; sleep 0.02; done"],
                );
                f.create_and_start();
                f.wait_for_log("tick");
                f.runtime.pause_container(&f.ctr).unwrap();
                // crun on cgroup v1 may report a freezer still FREEZING as running for a
                // moment after its pause returned (seen once in CI).
                wait_until("the runtime reports it paused", || {
                    f.runtime_status().as_deref() == Some("paused")
                });
                // Frozen: the log stops growing.
                std::thread::sleep(Duration::from_millis(100));
                let frozen = f.log().len();
                std::thread::sleep(Duration::from_millis(200));
                assert_eq!(f.log().len(), frozen, "a paused container kept writing");
                f.runtime.unpause_container(&f.ctr).unwrap();
                assert_eq!(f.runtime_status().as_deref(), Some("running"));
                wait_until("output resumes", || f.log().len() > frozen);
            }

            #[test]
            fn conmon_liveness() {
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.create_and_start();
                assert!(f.runtime.check_conmon_running(&f.ctr).unwrap());
                // Another process's PID is not our monitor.
                let mut other = f.ctr.clone();
                other.conmon_pid = std::process::id() as i32;
                assert!(!f.runtime.check_conmon_running(&other).unwrap());
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(f.ctr.conmon_pid),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .unwrap();
                wait_pid_gone(f.ctr.conmon_pid, Duration::from_secs(5));
                assert!(!f.runtime.check_conmon_running(&f.ctr).unwrap());
                // The container outlives its monitor; stop still kills it.
                assert!(pid_alive(f.ctr.pid));
                f.runtime.stop_container(&f.ctr, 0, false).unwrap();
                assert!(!pid_alive(f.ctr.pid));
            }

            #[test]
            fn capability_queries() {
                let f = Fixture::new(RT, &["true"]);
                let probe = Command::new(f.runtime.path())
                    .args(["checkpoint", "--help"])
                    .output()
                    .unwrap()
                    .status
                    .success();
                assert_eq!(f.runtime.supports_checkpoint(), probe);
                assert!(f.runtime.supports_json_errors());
                assert_eq!(f.runtime.supports_no_cgroups(), RT == "crun");
                assert!(!f.runtime.supports_kvm());
            }

            #[test]
            fn socket_and_file_paths() {
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.create();
                let attach = f.runtime.attach_socket_path(&f.ctr).unwrap();
                assert_eq!(attach, f.ctr.bundle_dir.join("attach"));
                assert!(fs::metadata(&attach).unwrap().file_type().is_socket());
                assert_eq!(
                    f.runtime.exec_attach_socket_path(&f.ctr, "sess").unwrap(),
                    f.ctr.run_dir.join("exec").join("sess").join("attach")
                );
                assert!(f.runtime.exec_attach_socket_path(&f.ctr, "").is_err());
                let exit = f.runtime.exit_file_path(&f.ctr).unwrap();
                assert_eq!(exit.file_name().unwrap().to_str().unwrap(), f.ctr.id);
                assert_eq!(read_exit_file(&exit).unwrap(), None);
                let oom = f.runtime.oom_file_path(&f.ctr).unwrap();
                assert!(oom.ends_with(format!("persist/{}/oom", f.ctr.id)));
                f.runtime
                    .kill_container(&f.ctr, libc::SIGKILL, false)
                    .unwrap();
                assert_eq!(f.exit_code(), 137);
                assert!(exit.exists());
                assert!(!oom.exists(), "no OOM happened");
            }

            #[test]
            fn oom_kill_leaves_the_oom_file() {
                let mut f = Fixture::with_spec(
                    RT,
                    &[
                        "sh",
                        "-c",
                        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
                    ],
                    |spec| {
                        let mut linux = spec.linux().clone().unwrap();
                        linux.set_resources(Some(
                            LinuxResourcesBuilder::default()
                                .memory(
                                    LinuxMemoryBuilder::default()
                                        .limit(16 << 20)
                                        .build()
                                        .unwrap(),
                                )
                                .build()
                                .unwrap(),
                        ));
                        spec.set_linux(Some(linux));
                    },
                );
                f.create_and_start();
                let code = f.exit_code();
                assert_ne!(code, 0, "the allocation should not fit in 16 MiB");
                let oom = f.runtime.oom_file_path(&f.ctr).unwrap();
                assert!(oom.exists(), "no OOM file after an OOM kill (exit {code})");
            }

            #[test]
            fn runtime_info_reports_both_binaries() {
                let f = Fixture::new(RT, &["true"]);
                let (conmon, runtime) = f.runtime.runtime_info().unwrap();
                assert_eq!(runtime.name, RT);
                assert!(
                    runtime.version.contains(&format!("{RT} version")),
                    "{}",
                    runtime.version
                );
                assert!(
                    runtime.package.starts_with(&format!("{RT}_")),
                    "{}",
                    runtime.package
                );
                assert_eq!(runtime.path, f.runtime.path().display().to_string());
                assert!(
                    conmon.version.starts_with("conmon version"),
                    "{}",
                    conmon.version
                );
                if conmon.path.ends_with("rpod-monitor") {
                    assert!(conmon.version.contains("rpod-monitor"), "{}", conmon.version);
                } else {
                    assert!(conmon.package.starts_with("conmon_"), "{}", conmon.package);
                }
                assert!(!conmon.version.contains('\n'));
            }

            #[test]
            fn attach_and_resize_a_terminal() {
                let mut f = Fixture::with_spec(
                    RT,
                    &["sh", "-c", "sleep 1; stty size; echo done"],
                    |spec| {
                        let mut process = spec.process().clone().unwrap();
                        process.set_terminal(Some(true));
                        spec.set_process(Some(process));
                    },
                );
                f.ctr.terminal = true;
                f.create();
                let out = Capture::default();
                let options = AttachOptions {
                    streams: out.streams(),
                    detach_keys: None,
                    initial_size: Some(TerminalSize {
                        height: 20,
                        width: 60,
                    }),
                    start: true,
                };
                let runtime = f.runtime.clone();
                let ctr = f.ctr.clone();
                let resizer = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(150));
                    runtime
                        .attach_resize(
                            &ctr,
                            TerminalSize {
                                height: 31,
                                width: 91,
                            },
                        )
                        .unwrap();
                });
                f.runtime.attach(&f.ctr, options).unwrap();
                resizer.join().unwrap();
                assert_eq!(out.text(), "31 91\r\ndone\r\n");
                assert_eq!(f.exit_code(), 0);
            }

            #[test]
            fn a_resize_before_the_start_reaches_the_process() {
                // conmon acts on a resize when it reads it, so a process started right after
                // may see the old size: only rpod-monitor answers (docs/monitor.md).
                let mut f = Fixture::with_spec(RT, &["stty", "size"], |spec| {
                    let mut process = spec.process().clone().unwrap();
                    process.set_terminal(Some(true));
                    spec.set_process(Some(process));
                });
                if !monitor_is_rpod_monitor(&f) {
                    return;
                }
                f.ctr.terminal = true;
                f.create();
                // A monitor slow to read its ctl FIFO, as on a loaded machine: stopped until
                // well after the resize was sent.
                let monitor = nix::unistd::Pid::from_raw(f.ctr.conmon_pid);
                nix::sys::signal::kill(monitor, nix::sys::signal::SIGSTOP).unwrap();
                let waker = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    nix::sys::signal::kill(monitor, nix::sys::signal::SIGCONT).unwrap();
                });
                let size = TerminalSize {
                    height: 37,
                    width: 101,
                };
                f.runtime.attach_resize(&f.ctr, size).unwrap();
                let out = Capture::default();
                let options = AttachOptions {
                    streams: out.streams(),
                    detach_keys: None,
                    initial_size: None,
                    start: true,
                };
                f.runtime.attach(&f.ctr, options).unwrap();
                waker.join().unwrap();
                assert_eq!(out.text(), "37 101\r\n");
                assert_eq!(f.exit_code(), 0);
                let left: Vec<_> = std::fs::read_dir(&f.ctr.bundle_dir)
                    .unwrap()
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().starts_with("ctl-ack-"))
                    .collect();
                assert!(left.is_empty(), "acknowledgements left: {left:?}");
            }

            #[test]
            fn attached_exec_output_and_exit_code() {
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.create_and_start();
                let out = Capture::default();
                let err = Capture::default();
                let mut streams = out.streams();
                streams.error = Some(Box::new(err.clone()));
                let cmd = ["sh", "-c", "echo out; echo err >&2; exit 7"];
                let (pid, done) = f
                    .runtime
                    .exec_container(&f.ctr, "s1", exec_options(&cmd, Some(streams)), None)
                    .unwrap();
                assert!(pid > 0);
                done.recv().unwrap().unwrap();
                assert_eq!(out.text(), "out\n");
                assert_eq!(err.text(), "err\n");
                assert_eq!(exec_exit_code(&f, "s1"), 7);
                assert!(!f.runtime.exec_update_status(&f.ctr, "s1").unwrap());
            }

            /// The exit-command handover (rpod-monitor's): a client that handled its
            /// session spares the monitor the exit command; one that let go without
            /// handling it (it died) leaves the session to the command. conmon has none.
            #[test]
            fn exec_handover_spares_the_exit_command_unless_dropped() {
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.create_and_start();
                let on_conmon = monitor().is_some_and(|m| !m.ends_with("rpod-monitor"));
                for handled in [true, false] {
                    let session = unique_id("handover");
                    let marker = f.ctr.bundle_dir.join(format!("{session}.ran"));
                    let handover = f.runtime.exec_handover(&f.ctr, &session);
                    assert_eq!(handover.is_none(), on_conmon);
                    let out = Capture::default();
                    let mut options = exec_options(&["sh", "-c", "echo hi"], Some(out.streams()));
                    options.exit_command = vec![
                        "/bin/sh".into(),
                        "-c".into(),
                        format!("echo ran > {}", marker.display()),
                    ];
                    let (_pid, done) = f
                        .runtime
                        .exec_container(&f.ctr, &session, options, None)
                        .unwrap();
                    done.recv().unwrap().unwrap();
                    assert_eq!(exec_exit_code(&f, &session), 0);
                    assert_eq!(out.text(), "hi\n");
                    if let Some(handover) = &handover {
                        if handled {
                            handover.handled();
                        }
                    }
                    drop(handover);
                    // The monitor runs the exit command (when it does) before it exits.
                    wait_until("the session's monitor exits", || {
                        !rpod_test_support::processes_mentioning(&session)
                    });
                    assert_eq!(marker.exists(), !handled || on_conmon, "handled: {handled}");
                }
            }

            #[test]
            fn exec_terminal_initial_size_and_resize() {
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.create_and_start();
                let out = Capture::default();
                // crun lets an exec's process run before it sets the terminal's size (see
                // docs/streams.md), so the first size is the first that is not 0x0; then
                // the command waits for it to change.
                let script = "i=0; until s=$(stty size 2>/dev/null) && [ -n \"$s\" ] \
                    || [ $i -ge 500 ]; do i=$((i+1)); sleep 0.01; done; echo \"$s\"; \
                    until [ \"$(stty size)\" != \"$s\" ] || [ $i -ge 1000 ]; do \
                    i=$((i+1)); sleep 0.01; done; stty size";
                let cmd = ["sh", "-c", script];
                let mut options = exec_options(&cmd, Some(out.streams()));
                options.terminal = true;
                let size = TerminalSize {
                    height: 20,
                    width: 60,
                };
                let (_, done) = f
                    .runtime
                    .exec_container(&f.ctr, "tty", options, Some(size))
                    .unwrap();
                wait_until("the first size is printed", || !out.text().is_empty());
                let bigger = TerminalSize {
                    height: 30,
                    width: 90,
                };
                f.runtime.exec_attach_resize(&f.ctr, "tty", bigger).unwrap();
                done.recv().unwrap().unwrap();
                assert_eq!(out.text(), "20 60\r\n30 90\r\n");
            }

            #[test]
            fn detached_exec_status_and_stop() {
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.create_and_start();
                let detached = |id: &str, cmd: &[&str]| {
                    f.runtime
                        .exec_container_detached(&f.ctr, id, exec_options(cmd, None), false)
                        .unwrap()
                };
                // Stops on SIGTERM.
                let pid = detached("polite", &["sleep", "1000"]);
                assert!(pid_alive(pid));
                assert!(f.runtime.exec_update_status(&f.ctr, "polite").unwrap());
                f.runtime.exec_stop_container(&f.ctr, "polite", 10).unwrap();
                assert!(!f.runtime.exec_update_status(&f.ctr, "polite").unwrap());
                assert_eq!(exec_exit_code(&f, "polite"), 143);
                // Ignores SIGTERM: SIGKILL after the timeout.
                let pid = detached(
                    "stubborn",
                    &["sh", "-c", "trap '' TERM; while true; do sleep 0.05; done"],
                );
                // Its loop runs (so the trap is set) once it has a child.
                wait_until("the trap is set", || !children(pid).is_empty());
                f.runtime
                    .exec_stop_container(&f.ctr, "stubborn", 1)
                    .unwrap();
                assert_eq!(exec_exit_code(&f, "stubborn"), 137);
                // Timeout 0: SIGKILL at once, even for a process that would exit on SIGTERM.
                detached(
                    "now",
                    &[
                        "sh",
                        "-c",
                        "trap 'exit 0' TERM; while true; do sleep 0.05; done",
                    ],
                );
                f.runtime.exec_stop_container(&f.ctr, "now", 0).unwrap();
                assert_eq!(exec_exit_code(&f, "now"), 137);
            }

            #[test]
            fn exec_failures_are_classified() {
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.create_and_start();
                let options = exec_options(&["/no/such"], None);
                let err = f
                    .runtime
                    .exec_container_detached(&f.ctr, "a", options, false)
                    .unwrap_err();
                assert!(matches!(err, OciError::CommandNotFound { .. }), "{err:?}");
                let options = exec_options(&["/etc/passwd"], None);
                let err = f
                    .runtime
                    .exec_container_detached(&f.ctr, "b", options, false)
                    .unwrap_err();
                assert!(matches!(err, OciError::PermissionDenied { .. }), "{err:?}");
            }

            #[test]
            fn http_attach_frames_output_and_reads_input_until_half_close() {
                let script = "cat; echo err >&2; exit 3";
                let mut f = Fixture::new(RT, &["sh", "-c", script]);
                f.ctr.stdin = true;
                f.create();
                let (server, mut client) = http_pair();
                let runtime = f.runtime.clone();
                let ctr = f.ctr.clone();
                let attach = std::thread::spawn(move || {
                    runtime.http_attach(&ctr, http_options(server, true, true))
                });
                // The head comes once the container's streams are reached.
                read_head(&mut client);
                f.runtime.start_container(&f.ctr).unwrap();
                let data: Vec<u8> = (0..1 << 20).map(|i| (i % 253) as u8).collect();
                let got = send_then_read_all(&mut client, &data);
                attach.join().unwrap().unwrap();
                assert_demultiplexed(&got, &data, b"err\n");
                assert_eq!(f.exit_code(), 3);
            }

            #[test]
            fn http_attach_with_a_terminal_is_raw_and_without_stream_only_the_preamble() {
                use std::io::Read;
                let mut f = Fixture::with_spec(RT, &["sh", "-c", "sleep 0.2; echo hi"], |spec| {
                    let mut process = spec.process().clone().unwrap();
                    process.set_terminal(Some(true));
                    spec.set_process(Some(process));
                });
                f.ctr.terminal = true;
                f.create();
                // stream=false: the preamble, and nothing of the container.
                let (server, mut client) = http_pair();
                f.runtime
                    .http_attach(&f.ctr, http_options(server, false, false))
                    .unwrap();
                let mut got = Vec::new();
                client.read_to_end(&mut got).unwrap();
                assert_eq!(got, HEAD);

                let (server, mut client) = http_pair();
                let runtime = f.runtime.clone();
                let ctr = f.ctr.clone();
                let attach = std::thread::spawn(move || {
                    runtime.http_attach(&ctr, http_options(server, false, true))
                });
                read_head(&mut client);
                f.runtime.start_container(&f.ctr).unwrap();
                let mut got = Vec::new();
                client.read_to_end(&mut got).unwrap();
                attach.join().unwrap().unwrap();
                assert_eq!(got, b"hi\r\n");
            }

            #[test]
            fn http_attach_detach_keys_and_client_hangup_leave_the_container_running() {
                use std::io::Write;
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.ctr.stdin = true;
                f.create_and_start();
                // Detach keys typed by the client.
                let (server, mut client) = http_pair();
                let runtime = f.runtime.clone();
                let ctr = f.ctr.clone();
                let attach = std::thread::spawn(move || {
                    runtime.http_attach(&ctr, http_options(server, true, true))
                });
                read_head(&mut client);
                // Typed one by one, as podman and dockerd match them.
                for key in [16u8, 17] {
                    client.write_all(&[key]).unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                }
                let result = attach.join().unwrap();
                assert!(matches!(result, Err(OciError::Detached)), "{result:?}");
                // A client that goes away while the container is quiet.
                let (server, mut client) = http_pair();
                let runtime = f.runtime.clone();
                let ctr = f.ctr.clone();
                let attach = std::thread::spawn(move || {
                    runtime.http_attach(&ctr, http_options(server, false, true))
                });
                read_head(&mut client);
                drop(client);
                let result = attach.join().unwrap();
                assert!(matches!(result, Err(OciError::Cancelled)), "{result:?}");
                assert!(pid_alive(f.ctr.pid), "the container died with its client");
            }

            #[test]
            fn exec_over_http_echoes_input_byte_exact_with_its_exit_code() {
                let mut f = Fixture::new(RT, &["sleep", "1000"]);
                f.create_and_start();
                let (server, mut client) = http_pair();
                let cmd = ["sh", "-c", "cat; echo done >&2; exit 5"];
                let (pid, done) = f
                    .runtime
                    .exec_container_http(
                        &f.ctr,
                        "h1",
                        exec_options(&cmd, None),
                        http_options(server, true, true),
                        None,
                    )
                    .unwrap();
                assert!(pid > 0);
                read_head(&mut client);
                let data: Vec<u8> = (0..1 << 20).map(|i| (i % 241) as u8).collect();
                let got = send_then_read_all(&mut client, &data);
                done.recv().unwrap().unwrap();
                assert_demultiplexed(&got, &data, b"done\n");
                assert_eq!(exec_exit_code(&f, "h1"), 5);
            }

            #[test]
            fn update_changes_the_cgroup_and_checkpoint_is_probed() {
                let mut f = Fixture::new(RT, &["sleep", "100"]);
                f.create_and_start();
                let resources: oci_spec::runtime::LinuxResources = serde_json::from_value(
                    serde_json::json!({ "memory": { "limit": 50 << 20 }, "pids": { "limit": 42 } }),
                )
                .unwrap();
                f.runtime.update_container(&f.ctr, &resources).unwrap();
                let cgroup = |v1: &str, v2: &str| {
                    let (controller, file) = v1.split_once('/').unwrap();
                    [
                        format!("/sys/fs/cgroup/{controller}/rpod-test/{}/{file}", f.ctr.id),
                        format!("/sys/fs/cgroup/rpod-test/{}/{v2}", f.ctr.id),
                    ]
                    .iter()
                    .find_map(|p| fs::read_to_string(p).ok())
                    .map(|t| t.trim().to_string())
                };
                assert_eq!(
                    cgroup("memory/memory.limit_in_bytes", "memory.max").as_deref(),
                    Some("52428800")
                );
                assert_eq!(cgroup("pids/pids.max", "pids.max").as_deref(), Some("42"));
                // A limit the kernel refuses is the runtime's error, and changes nothing.
                let bad: oci_spec::runtime::LinuxResources = serde_json::from_value(
                    serde_json::json!({ "cpu": { "cpus": "0-4096" } }),
                )
                .unwrap();
                assert!(f.runtime.update_container(&f.ctr, &bad).is_err());
                assert_eq!(cgroup("pids/pids.max", "pids.max").as_deref(), Some("42"));
                // Checkpoints: done where CRIU works, refused with the reason elsewhere.
                if f.runtime.supports_checkpoint() {
                    let micros = f
                        .runtime
                        .checkpoint_container(
                            &f.ctr,
                            &CheckpointOptions { keep_running: true, ..Default::default() },
                        )
                        .unwrap();
                    assert!(micros > 0);
                    assert!(f.ctr.bundle_dir.join("checkpoint/inventory.img").exists());
                    assert!(pid_alive(f.ctr.pid), "--leave-running stopped the container");
                } else {
                    let err = f
                        .runtime
                        .checkpoint_container(&f.ctr, &CheckpointOptions::default())
                        .unwrap_err();
                    assert!(matches!(err, OciError::Unavailable { .. }), "{err}");
                    assert!(pid_alive(f.ctr.pid));
                }
                f.runtime.kill_container(&f.ctr, 9, false).unwrap();
                f.exit_code();
            }
        }
    };
}

runtime_tests!(runc, "runc");
runtime_tests!(crun, "crun");

/// A runtime that fails `checkpoint --help` does not support checkpoints.
#[test]
fn checkpoint_support_is_probed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fakert");
    fs::write(
        &fake,
        "#!/bin/sh\n[ \"$1\" = checkpoint ] && exit 1\nexit 0\n",
    )
    .unwrap();
    fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let runtime =
        ConmonRuntime::new(plain_config(&fake.display().to_string(), dir.path())).unwrap();
    assert_eq!(runtime.name(), "fakert");
    assert!(!runtime.supports_checkpoint());
    assert!(!runtime.supports_json_errors());
}

/// A configuration for `runtime` with the default monitor and no state root of its own,
/// its directories in `dir/tmp`.
fn plain_config(runtime: &str, dir: &Path) -> ConmonRuntimeConfig {
    ConmonRuntimeConfig {
        runtime: runtime.into(),
        conmon: None,
        tmp_dir: dir.join("tmp"),
        state_root: None,
        runtime_flags: vec![],
        log_level: "error".into(),
        criu: rpod_oci::conmon::find_criu(None),
    }
}

#[test]
fn unknown_runtimes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let err = ConmonRuntime::new(plain_config("no-such-runtime", dir.path())).unwrap_err();
    assert!(err.to_string().contains("no-such-runtime"), "{err}");
}

/// A runtime that cannot be started at all (here: removed after rpod found it) fails the
/// delete begun on it, with the runtime's path, when the call is finished; nothing waits.
#[test]
fn a_delete_begun_on_a_runtime_that_cannot_start_fails_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("gone-runtime");
    fs::write(&fake, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let runtime =
        ConmonRuntime::new(plain_config(&fake.display().to_string(), dir.path())).unwrap();
    fs::remove_file(&fake).unwrap();
    let ctr = test_container(&"a".repeat(64), dir.path());
    let err = runtime
        .begin_delete_container(&ctr)
        .finish()
        .expect_err("a runtime that is gone deleted nothing");
    assert!(err.to_string().contains("gone-runtime"), "{err}");
}

/// Waiting for a session's exit file: it is read once there; a session whose directory
/// goes (its exit command removed it) is given up on at once, not after the timeout.
#[test]
fn an_exec_exit_code_wait_ends_when_the_session_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fakert");
    fs::write(&fake, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let runtime =
        ConmonRuntime::new(plain_config(&fake.display().to_string(), dir.path())).unwrap();
    let ctr = test_container(&"e".repeat(64), dir.path());
    let session = dir.path().join("run").join("exec").join("s1");
    fs::create_dir_all(&session).unwrap();
    fs::write(session.join(&ctr.id), "7").unwrap();
    assert_eq!(
        runtime
            .exec_exit_code(&ctr, "s1", Duration::from_secs(30))
            .unwrap(),
        Some(7)
    );
    fs::remove_file(session.join(&ctr.id)).unwrap();
    let remover = {
        let session = session.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            fs::remove_dir_all(session).unwrap();
        })
    };
    let waited = std::time::Instant::now();
    assert_eq!(
        runtime
            .exec_exit_code(&ctr, "s1", Duration::from_secs(30))
            .unwrap(),
        None
    );
    remover.join().unwrap();
    // Well before the 30 s timeout, which a wait that missed the removal would reach.
    assert!(waited.elapsed() < Duration::from_secs(20));
}
