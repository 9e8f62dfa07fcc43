//! The monitor against fake runtimes (shell scripts), without root: the pipes, the log, the
//! exit files and the exit command, a failing runtime and a hung one. One test (a fork that
//! fails) needs a cgroup of its own, so root; it is skipped without.
#![allow(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["bundle", "exits", "persist"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A fake runtime: a shell script with `body`, which sees the runtime's arguments.
    fn runtime(&self, body: &str) -> PathBuf {
        let path = self.path("fake-runtime");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Start the monitor as libpod does (sync pipe on 3, start pipe on 4), let it go, and
    /// wait for its first process to exit. Returns the sync pipe.
    fn start(&self, runtime: &Path, extra: &[&str]) -> BufReader<UnixStream> {
        self.start_through(&[], runtime, extra)
    }

    /// `start`, with the monitor run by `wrapper` (a command that gets the monitor's
    /// command line as its last arguments) instead of by the test itself.
    fn start_through(
        &self,
        wrapper: &[&str],
        runtime: &Path,
        extra: &[&str],
    ) -> BufReader<UnixStream> {
        let (sync_ours, sync_theirs) = UnixStream::pair().unwrap();
        let (mut start_ours, start_theirs) = UnixStream::pair().unwrap();
        let monitor = env!("CARGO_BIN_EXE_rpod-monitor");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(monitor);
                command
            }
            None => Command::new(monitor),
        };
        command
            .args(["--api-version", "1", "-c", "ctr", "-u", "ctr", "-n", "name"])
            .arg("-r")
            .arg(runtime)
            .arg("-b")
            .arg(self.path("bundle"))
            .arg("-p")
            .arg(self.path("pidfile"))
            .arg("--exit-dir")
            .arg(self.path("exits"))
            .arg("--persist-dir")
            .arg(self.path("persist"))
            .arg("--conmon-pidfile")
            .arg(self.path("monitor.pid"))
            .arg("-l")
            .arg(format!("k8s-file:{}", self.path("ctr.log").display()))
            .args(extra)
            .env("_OCI_SYNCPIPE", "3")
            .env("_OCI_STARTPIPE", "4")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (sync_fd, start_fd) = (sync_theirs.as_raw_fd(), start_theirs.as_raw_fd());
        // SAFETY: dup2 in the child between fork and exec, on descriptors it inherited.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(sync_fd, 3) < 0 || libc::dup2(start_fd, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap();
        drop((sync_theirs, start_theirs));
        start_ours.write_all(&[0]).unwrap();
        assert!(
            child.wait().unwrap().success(),
            "the monitor's parent failed"
        );
        // A monitor that never answers fails the test instead of hanging it.
        sync_ours
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        BufReader::new(sync_ours)
    }

    /// `start_through` with `--start-at-create`, the output held for `hold` seconds, and
    /// `extra`; checks that the monitor reported the container's PID.
    fn start_held(
        &self,
        wrapper: &[&str],
        runtime: &Path,
        hold: &str,
        extra: &[&str],
    ) -> BufReader<UnixStream> {
        let mut args = vec!["--start-at-create", "--hold-output-for-attach", hold];
        args.extend_from_slice(extra);
        let mut sync = self.start_through(wrapper, runtime, &args);
        assert!(message(&mut sync)["data"].as_i64().unwrap() > 0);
        sync
    }
}

/// The monitor's options for an exit command that runs `script` with `sh -c` (the script's
/// `$0` is the first `--exit-command-arg` after these).
fn shell_exit_command(script: &str) -> Vec<String> {
    [
        "--exit-command",
        "/bin/sh",
        "--exit-command-arg",
        "-c",
        "--exit-command-arg",
        script,
    ]
    .map(String::from)
    .to_vec()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn message(sync: &mut BufReader<UnixStream>) -> serde_json::Value {
    let mut line = String::new();
    sync.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

/// The text of `path` once it is `complete` (at most 20 s).
fn wait_for_text(path: &Path, complete: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match std::fs::read_to_string(path) {
            Ok(text) if complete(&text) => return text,
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("{} never appeared complete", path.display());
}

/// A file the monitor writes whole (an exit file, a PID file).
fn wait_for(path: &Path) -> String {
    wait_for_text(path, |_| true)
}

/// What a shell wrote to `path` with `echo ... > path`, once its line is complete: the
/// shell makes the file before it writes, so the file alone may still be empty.
fn wait_for_line(path: &Path) -> String {
    wait_for_text(path, |text| text.ends_with('\n'))
}

/// A runtime whose `create` starts the "container" (a shell command) at once and writes
/// its PID, as a real runtime's create does before the start. Each "container" outlives the
/// fake runtime (a pause before its exit): one that ended first would be reaped by the
/// script, not by the monitor, which a real runtime's init never is.
const STARTS_A_CONTAINER: &str = r#"while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sh -c 'echo out; echo err >&2; printf partial; sleep 0.2; exit 3' &
echo $! > "$pidfile""#;

#[test]
fn a_container_is_reported_logged_and_its_exit_recorded() {
    let setup = Setup::new();
    let runtime = setup.runtime(STARTS_A_CONTAINER);
    let marker = setup.path("exit-command-ran");
    let mut options = shell_exit_command(&format!("echo \"$0\" > {}", marker.display()));
    options.extend(["--exit-command-arg".to_string(), "cleanup".to_string()]);
    let mut sync = setup.start(&runtime, &strs(&options));
    let pid = message(&mut sync)["data"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(wait_for(&setup.path("exits/ctr")), "3");
    assert_eq!(
        std::fs::read_to_string(setup.path("persist/exit")).unwrap(),
        "3"
    );
    assert_eq!(wait_for_line(&marker), "cleanup\n");
    let log = std::fs::read_to_string(setup.path("ctr.log")).unwrap();
    let records: Vec<&str> = log.lines().map(|l| l.split_once(' ').unwrap().1).collect();
    assert!(records.contains(&"stdout F out"), "{log}");
    assert!(records.contains(&"stderr F err"), "{log}");
    assert!(records.contains(&"stdout P partial"), "{log}");
    let monitor: i32 = std::fs::read_to_string(setup.path("monitor.pid"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(monitor > 0);
    // The attach socket is gone with the container; the ctl FIFO stays.
    assert!(!setup.path("bundle/attach").exists());
    assert!(setup.path("bundle/ctl").exists());
}

#[test]
fn a_failing_runtime_is_reported_with_its_message() {
    let setup = Setup::new();
    let runtime = setup.runtime("echo 'boom: the config is bad' >&2; exit 1");
    let mut sync = setup.start(&runtime, &[]);
    let reply = message(&mut sync);
    assert_eq!(reply["data"], -1);
    assert_eq!(reply["message"], "boom: the config is bad");
    assert!(
        !setup.path("exits/ctr").exists(),
        "no exit file for a container never made"
    );
}

#[test]
fn a_hung_runtime_is_killed_at_its_deadline() {
    let setup = Setup::new();
    let started = setup.path("runtime.pid");
    let runtime = setup.runtime(&format!("echo $$ > {}; exec sleep 1000", started.display()));
    let begun = Instant::now();
    let mut sync = setup.start(&runtime, &["--runtime-timeout", "1"]);
    let reply = message(&mut sync);
    assert_eq!(reply["data"], -1);
    let text = reply["message"].as_str().unwrap();
    assert!(
        text.contains("did not finish within 1 s and was killed"),
        "{text}"
    );
    assert!(begun.elapsed() < Duration::from_secs(30));
    let pid: i32 = wait_for_line(&started).trim().parse().unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the hung runtime {pid} was left running"
    );
}

#[test]
fn a_runtime_that_writes_no_pid_is_a_failure() {
    let setup = Setup::new();
    let runtime = setup.runtime("exit 0");
    let mut sync = setup.start(&runtime, &[]);
    let reply = message(&mut sync);
    assert_eq!(reply["data"], -1);
    assert!(
        reply["message"].as_str().unwrap().contains("pid"),
        "{reply}"
    );
}

#[test]
fn the_runtime_gets_default_signal_handling() {
    let setup = Setup::new();
    let status = setup.path("status");
    let runtime = setup.runtime(&format!(
        "grep -E '^Sig(Ign|Blk)' /proc/self/status > {}; exit 1",
        status.display()
    ));
    let mut sync = setup.start(&runtime, &[]);
    assert_eq!(message(&mut sync)["data"], -1);
    let text = wait_for_line(&status);
    // The monitor ignores SIGPIPE and blocks SIGCHLD, SIGTERM, SIGINT and SIGQUIT for
    // itself; none of that may reach the runtime and the container.
    let bit = |signal: i32| 1u64 << (signal - 1);
    let ours = bit(libc::SIGPIPE)
        | bit(libc::SIGCHLD)
        | bit(libc::SIGTERM)
        | bit(libc::SIGINT)
        | bit(libc::SIGQUIT);
    // What this test was started with passes on as across any exec (a shell's background
    // job ignores SIGINT and SIGQUIT), the Rust runtime's own ignored SIGPIPE aside, which
    // the monitor's start gives back: only the monitor's own may not reach the runtime.
    let given = |name: &str| -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        let mask = line.split_once(':').unwrap().1.trim();
        let mask = u64::from_str_radix(mask, 16).unwrap();
        if name == "SigIgn" {
            mask & !bit(libc::SIGPIPE)
        } else {
            mask
        }
    };
    assert_eq!(text.lines().count(), 2, "{text}");
    for line in text.lines() {
        let (name, mask) = line.split_once(':').unwrap();
        let mask = u64::from_str_radix(mask.trim(), 16).unwrap();
        assert_eq!(
            mask & ours & !given(name),
            0,
            "{name} of the runtime: {mask:#x}"
        );
    }
}

#[test]
fn a_writer_that_outlives_the_container_does_not_hold_up_its_exit() {
    let setup = Setup::new();
    let writer = setup.path("writer.pid");
    let runtime = setup.runtime(&format!(
        r#"while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sh -c 'cat /dev/zero & echo $! > {}; sleep 0.2; exit 4' &
echo $! > "$pidfile""#,
        writer.display()
    ));
    let mut sync = setup.start(&runtime, &[]);
    assert!(message(&mut sync)["data"].as_i64().unwrap() > 0);
    let recorded = wait_for(&setup.path("exits/ctr"));
    let pid: i32 = wait_for_line(&writer).trim().parse().unwrap();
    // SAFETY: kill only sends a signal to the test's own writer.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    assert_eq!(recorded, "4");
}

/// The file pages (shared code and data) a process has mapped, in KiB.
fn resident_file_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("RssFile:"))
        .unwrap();
    line.trim().trim_end_matches(" kB").parse().unwrap()
}

/// Wait (at most 20 s) until the process maps fewer file pages than `than` KiB.
fn wait_for_fewer_file_pages(pid: i32, than: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut now = than;
    while now >= than && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        now = resident_file_kib(pid);
    }
    assert!(
        now < than,
        "the monitor still maps {now} KiB of files ({than} KiB before)"
    );
}

#[test]
fn a_settled_monitor_gives_back_its_start_up_code_and_still_records_the_exit() {
    let setup = Setup::new();
    let (go, again) = (setup.path("go"), setup.path("again"));
    // The "container" waits for `go`, writes a line, waits for `again`, each at most 30 s:
    // a failed test leaves nothing running.
    let wait = |path: &Path| {
        format!(
            "n=0; while [ ! -e {} ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done",
            path.display()
        )
    };
    let runtime = setup.runtime(&format!(
        r#"while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sh -c '{}; echo first; {}; echo after; exit 5' &
echo $! > "$pidfile""#,
        wait(&go),
        wait(&again)
    ));
    let mut sync = setup.start(&runtime, &[]);
    assert!(message(&mut sync)["data"].as_i64().unwrap() > 0);
    let monitor: i32 = wait_for(&setup.path("monitor.pid")).parse().unwrap();
    // Read at once: the monitor settles a second after the container started.
    wait_for_fewer_file_pages(monitor, resident_file_kib(monitor));
    // Output brings the logging code back in; a while later it goes again.
    std::fs::write(&go, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(setup.path("ctr.log")).is_ok_and(|l| l.contains("first")) {
        assert!(Instant::now() < deadline, "no output logged");
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_for_fewer_file_pages(monitor, resident_file_kib(monitor));
    // What it dropped is faulted back in as it runs: the output and the exit as ever.
    std::fs::write(&again, "").unwrap();
    assert_eq!(wait_for(&setup.path("exits/ctr")), "5");
    let log = std::fs::read_to_string(setup.path("ctr.log")).unwrap();
    assert!(log.ends_with(" stdout F after\n"), "{log}");
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_the_exit_still_recorded() {
    let setup = Setup::new();
    let runtime = setup.runtime(
        r#"while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sh -c 'sleep 0.5; head -c 20000000 /dev/zero; exit 0' &
echo $! > "$pidfile""#,
    );
    let mut sync = setup.start(&runtime, &["--client-timeout", "1"]);
    assert!(message(&mut sync)["data"].as_i64().unwrap() > 0);
    // A client that connects and never reads.
    let client = connect_client(&setup.path("bundle/attach"));
    assert_eq!(wait_for(&setup.path("exits/ctr")), "0");
    // The log has everything all the same.
    let logged: usize = std::fs::read_to_string(setup.path("ctr.log"))
        .unwrap()
        .lines()
        .map(|l| l.splitn(4, ' ').nth(3).unwrap().len())
        .sum();
    assert_eq!(logged, 20_000_000);
    drop(client);
}

#[test]
fn a_failure_after_the_caller_was_let_go_is_told_on_the_sync_pipe() {
    let setup = Setup::new();
    let runtime = setup.runtime(STARTS_A_CONTAINER);
    // No bundle: the attach socket cannot be made, after the monitor's parent exited.
    std::fs::remove_dir(setup.path("bundle")).unwrap();
    let mut sync = setup.start(&runtime, &[]);
    let reply = message(&mut sync);
    assert_eq!(reply["data"], -1);
    let text = reply["message"].as_str().unwrap();
    assert!(
        text.starts_with("rpod-monitor: ") && text.contains("bundle"),
        "{text}"
    );
    assert!(
        !setup.path("pidfile").exists(),
        "the runtime ran without a monitor"
    );
}

/// The exit command's handover: a waiter that holds the handover file (shared lock) and
/// writes `handled` spares the monitor its exit command; one that lets go without writing
/// (it died) leaves the exit to the command.
#[test]
fn a_waiter_that_handled_the_exit_spares_the_exit_command() {
    for handled in [true, false] {
        let setup = Setup::new();
        let runtime = setup.runtime(STARTS_A_CONTAINER);
        let marker = setup.path("exit-command-ran");
        let handover = setup.path("persist/waiters");
        let waiter = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&handover)
            .unwrap();
        // SAFETY: flock on a descriptor the test owns.
        assert_eq!(unsafe { libc::flock(waiter.as_raw_fd(), libc::LOCK_SH) }, 0);
        let mut options = shell_exit_command(&format!("echo ran > {}", marker.display()));
        options.extend([
            "--exit-command-handover".to_string(),
            handover.display().to_string(),
        ]);
        let mut sync = setup.start(&runtime, &strs(&options));
        assert!(message(&mut sync)["data"].as_i64().unwrap() > 0);
        assert_eq!(wait_for(&setup.path("exits/ctr")), "3");
        let monitor: i32 = wait_for(&setup.path("monitor.pid")).trim().parse().unwrap();
        // The monitor waits for the waiter before deciding.
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            process_alive(monitor),
            "the monitor did not wait for the waiter"
        );
        assert!(!marker.exists());
        if handled {
            std::os::unix::fs::FileExt::write_all_at(&waiter, b"handled", 0).unwrap();
        }
        drop(waiter);
        let deadline = Instant::now() + Duration::from_secs(20);
        while process_alive(monitor) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!process_alive(monitor), "the monitor did not exit");
        assert_eq!(marker.exists(), !handled, "handled: {handled}");
    }
}

fn process_alive(pid: i32) -> bool {
    // A zombie has no command line left; one reaped is gone.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// A client of the attach socket at `path`.
fn connect_client(path: &Path) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
    let client = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    connect(client.as_raw_fd(), &UnixAddr::new(path).unwrap()).unwrap();
    client
}

/// A runtime whose `run --detach` starts the "container" at once: it writes, and exits
/// soon after. Its arguments are kept in `args` beside the script.
const RUNS_A_CONTAINER: &str = r#"echo "$@" > "$(dirname "$0")/args"
while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sh -c 'echo early; echo early-err >&2; sleep 0.2; exit 5' &
echo $! > "$pidfile""#;

/// Connect to the attach socket and read every output record until the monitor closes it;
/// returns stdout's and stderr's bytes.
fn attach_and_read_all(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let (out, err, _) = attach_and_read_records(path);
    (out, err)
}

/// `attach_and_read_all`, and the largest payload of one record.
fn attach_and_read_records(path: &Path) -> (Vec<u8>, Vec<u8>, usize) {
    use nix::sys::socket::{recv, MsgFlags};
    let client = connect_client(path);
    let (mut out, mut err, mut largest) = (Vec::new(), Vec::new(), 0);
    // Larger than any record, so that none is cut short unseen.
    let mut record = vec![0u8; 128 * 1024];
    loop {
        let n = recv(client.as_raw_fd(), &mut record, MsgFlags::empty()).unwrap();
        if n == 0 {
            return (out, err, largest);
        }
        largest = largest.max(n - 1);
        match record[0] {
            2 => out.extend_from_slice(&record[1..n]),
            3 => err.extend_from_slice(&record[1..n]),
            other => panic!("a record of stream {other}"),
        }
    }
}

/// Output sent in records of conmon's 8192 bytes, or as large as `--attach-record-size`
/// asks. The container's 200000 bytes wait in the pipe for the client (the hold), so the
/// monitor reads them at once.
#[test]
fn attach_records_are_as_large_as_asked() {
    const WRITES_AT_ONCE: &str = r#"while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sh -c 'dd if=/dev/zero bs=200000 count=1 2>/dev/null; exit 0' &
echo $! > "$pidfile""#;
    for (extra, expected) in [
        (&[][..], 8192),
        (&["--attach-record-size", "65535"][..], 65535),
    ] {
        let setup = Setup::new();
        let runtime = setup.runtime(WRITES_AT_ONCE);
        let _sync = setup.start_held(&[], &runtime, "60", extra);
        std::thread::sleep(Duration::from_millis(300));
        let (out, _, largest) = attach_and_read_records(&setup.path("bundle/attach"));
        assert_eq!(out, vec![0u8; 200000], "{extra:?}");
        assert_eq!(largest, expected, "{extra:?}");
        assert_eq!(wait_for(&setup.path("exits/ctr")), "0");
    }
}

/// `--start-at-create`: one `run --detach` of the runtime. With `--hold-output-for-attach`
/// the output (and so the exit) waits for the first client, which gets everything the
/// container wrote before it connected.
#[test]
fn a_container_started_at_create_holds_its_output_for_the_first_client() {
    let setup = Setup::new();
    let runtime = setup.runtime(RUNS_A_CONTAINER);
    let _sync = setup.start_held(&[], &runtime, "60", &[]);
    let args = std::fs::read_to_string(setup.path("args")).unwrap();
    assert!(
        args.starts_with("run --bundle ") && args.contains(" --detach "),
        "{args}"
    );
    // The container wrote and exited; its output waits for a client, and its exit with it.
    std::thread::sleep(Duration::from_millis(700));
    assert!(!setup.path("exits/ctr").exists(), "the exit did not wait");
    let logged = std::fs::read_to_string(setup.path("ctr.log")).unwrap_or_default();
    assert!(!logged.contains("early"), "the output was read: {logged}");
    let (out, err) = attach_and_read_all(&setup.path("bundle/attach"));
    assert_eq!(out, b"early\n");
    assert_eq!(err, b"early-err\n");
    assert_eq!(wait_for(&setup.path("exits/ctr")), "5");
}

/// Nobody attaches: the hold runs out, and the output goes to the log and the exit is
/// recorded as usual.
#[test]
fn a_hold_that_runs_out_lets_the_output_go_to_the_log() {
    let setup = Setup::new();
    let runtime = setup.runtime(RUNS_A_CONTAINER);
    let _sync = setup.start_held(&[], &runtime, "1", &[]);
    assert_eq!(wait_for(&setup.path("exits/ctr")), "5");
    let log = std::fs::read_to_string(setup.path("ctr.log")).unwrap();
    assert!(log.contains("stdout F early"), "{log}");
    assert!(log.contains("stderr F early-err"), "{log}");
}

/// The process that started the monitor (and would attach) exits without attaching: the
/// hold ends then, not after its 60 s.
#[test]
fn a_hold_ends_when_its_caller_exits() {
    let setup = Setup::new();
    let runtime = setup.runtime(RUNS_A_CONTAINER);
    // A shell starts the monitor, stays a moment, and exits.
    let wrapper = ["/bin/sh", "-c", "\"$@\"; sleep 0.3", "sh"];
    let _sync = setup.start_held(&wrapper, &runtime, "60", &[]);
    let begun = Instant::now();
    assert_eq!(wait_for(&setup.path("exits/ctr")), "5");
    assert!(begun.elapsed() < Duration::from_secs(20));
    let log = std::fs::read_to_string(setup.path("ctr.log")).unwrap();
    assert!(log.contains("stdout F early"), "{log}");
}

/// A client that saw the end of the output finds the exit recorded: the monitor writes the
/// exit file before it closes the attach socket's clients, and after it removed the socket
/// (a monitor of the container's next run binds its own there). The exit file's temporary
/// name is made a FIFO, so that writing it waits for the test.
#[test]
fn the_exit_is_recorded_before_a_client_sees_the_end_of_the_output() {
    let setup = Setup::new();
    let runtime = setup.runtime(RUNS_A_CONTAINER);
    let pending_exit = setup.path("exits/.ctr.tmp");
    nix::unistd::mkfifo(
        &pending_exit,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let _release = ReleaseFifo(pending_exit.clone());
    let _sync = setup.start_held(&[], &runtime, "60", &[]);
    let (ended_tx, ended) = std::sync::mpsc::channel();
    let attach = setup.path("bundle/attach");
    std::thread::spawn(move || {
        let _ = ended_tx.send(attach_and_read_all(&attach));
    });
    // The container exits after 0.2 s; the monitor then waits in the exit file's open.
    assert!(
        ended.recv_timeout(Duration::from_millis(1500)).is_err(),
        "the client saw the end before the exit was recorded"
    );
    assert!(
        !setup.path("bundle/attach").exists(),
        "the socket is still there while the exit is recorded"
    );
    assert_eq!(std::fs::read_to_string(&pending_exit).unwrap(), "5");
    let (out, err) = ended.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!((out, err), (b"early\n".to_vec(), b"early-err\n".to_vec()));
    assert!(setup.path("exits/ctr").exists());
}

/// Opens a FIFO's reading end when dropped, so that a monitor waiting to write it goes on
/// even when the test failed first.
struct ReleaseFifo(PathBuf);

impl Drop for ReleaseFifo {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.0);
    }
}

/// A runtime whose `create` starts a "container" as `STARTS_A_CONTAINER`'s does, and whose
/// `delete` waits for the test's `go` file (at most 20 s) and fails when `delete-fails`
/// exists. Every call's arguments are appended to `calls` beside the script.
const DELETES_WHEN_TOLD: &str = r#"dir=$(dirname "$0")
echo "$@" >> "$dir/calls"
for a in "$@"; do
  if [ "$a" = delete ]; then
    n=0; while [ ! -e "$dir/go" ] && [ $n -lt 2000 ]; do sleep 0.01; n=$((n+1)); done
    [ -e "$dir/delete-fails" ] && exit 3
    exit 0
  fi
done
while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sh -c 'echo out; sleep 0.2; exit 3' &
echo $! > "$pidfile""#;

fn try_flock(file: &std::fs::File, operation: i32) -> bool {
    // SAFETY: flock on a descriptor the test owns.
    unsafe { libc::flock(file.as_raw_fd(), operation) == 0 }
}

/// `--delete-at-exit`: the runtime's delete starts once the container exited, announced
/// (`persist/delete`, locked while it runs) before the exit file; a caller's shared lock
/// waits for it, and the file then holds its status. Without the option, no delete.
#[test]
fn the_delete_at_exit_is_announced_waited_for_and_recorded() {
    for (option, fails) in [(true, false), (true, true), (false, false)] {
        let setup = Setup::new();
        let runtime = setup.runtime(DELETES_WHEN_TOLD);
        if fails {
            std::fs::write(setup.path("delete-fails"), "").unwrap();
        }
        let extra: &[&str] = if option { &["--delete-at-exit"] } else { &[] };
        let _sync = setup.start(&runtime, extra);
        assert_eq!(wait_for(&setup.path("exits/ctr")), "3");
        let announced = setup.path("persist/delete");
        if !option {
            assert!(!announced.exists());
            let calls = std::fs::read_to_string(setup.path("calls")).unwrap();
            assert!(
                !calls.lines().any(|l| l.split(' ').any(|a| a == "delete")),
                "{calls}"
            );
            continue;
        }
        let announcement = std::fs::File::open(&announced).unwrap();
        assert!(
            !try_flock(&announcement, libc::LOCK_SH | libc::LOCK_NB),
            "the running delete is not locked"
        );
        assert_eq!(std::fs::read_to_string(&announced).unwrap(), "");
        std::fs::write(setup.path("go"), "").unwrap();
        assert!(try_flock(&announcement, libc::LOCK_SH));
        let status = std::fs::read_to_string(&announced).unwrap();
        assert_eq!(status, if fails { "3" } else { "0" });
        let calls = std::fs::read_to_string(setup.path("calls")).unwrap();
        assert!(calls.lines().any(|l| l == "delete --force ctr"), "{calls}");
    }
}

/// The status the monitor recorded for its delete at the exit, once the delete is over (the
/// announcement's lock, taken shared, waits for it).
fn recorded_delete_status(setup: &Setup) -> String {
    let announcement = std::fs::File::open(setup.path("persist/delete")).unwrap();
    assert!(try_flock(&announcement, libc::LOCK_SH));
    std::fs::read_to_string(setup.path("persist/delete")).unwrap()
}

/// A runtime that cannot be executed for the delete (gone since the create) gets no
/// success recorded: the status of the failed execution (127), so the caller deletes.
#[test]
fn a_delete_at_the_exit_whose_runtime_is_gone_is_recorded_as_failed() {
    let setup = Setup::new();
    let runtime = setup.runtime(&format!("rm -f \"$0\"\n{STARTS_A_CONTAINER}"));
    let _sync = setup.start(&runtime, &["--delete-at-exit"]);
    assert_eq!(wait_for(&setup.path("exits/ctr")), "3");
    assert!(!runtime.exists());
    assert_eq!(recorded_delete_status(&setup), "127");
}

/// A pids cgroup of the test's own (v1 or v2), removed when dropped; what is still in it
/// then goes back to the root cgroup.
struct PidsCgroup {
    dir: PathBuf,
    root: PathBuf,
}

impl PidsCgroup {
    /// `None` where the pids controller cannot be had (not root, or not mounted).
    fn new(max: u32) -> Option<PidsCgroup> {
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let v2 = Path::new("/sys/fs/cgroup");
        let root = if v1.join("cgroup.procs").exists() {
            v1
        } else if std::fs::read_to_string(v2.join("cgroup.subtree_control"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "pids"))
        {
            v2
        } else {
            return None;
        };
        let dir = root.join(format!("rpod-monitor-test-{}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let cgroup = PidsCgroup {
            dir,
            root: root.to_path_buf(),
        };
        std::fs::write(cgroup.dir.join("pids.max"), max.to_string()).ok()?;
        Some(cgroup)
    }

    fn enter(&self, pid: i32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap();
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        if let Ok(procs) = std::fs::read_to_string(self.dir.join("cgroup.procs")) {
            for pid in procs.lines() {
                let _ = std::fs::write(self.root.join("cgroup.procs"), pid);
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A delete at the exit that cannot be started (the monitor cannot fork: its pids cgroup
/// is full) is recorded as failed (-1), so that the caller deletes the container itself;
/// the exit is still recorded. Needs root (a cgroup of its own); skipped without it.
#[test]
fn a_delete_at_the_exit_that_cannot_be_forked_is_recorded_as_failed() {
    let Some(cgroup) = PidsCgroup::new(1) else {
        eprintln!("skipped: needs root and the pids cgroup controller");
        return;
    };
    let setup = Setup::new();
    let runtime = setup.runtime(
        r#"dir=$(dirname "$0")
for a in "$@"; do [ "$a" = delete ] && { touch "$dir/deleted"; exit 0; }; done
while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sh -c 'n=0; while [ ! -e "$0/exit-now" ] && [ $n -lt 3000 ]; do sleep 0.01; n=$((n+1)); done; exit 3' "$dir" &
echo $! > "$pidfile""#,
    );
    let mut sync = setup.start(&runtime, &["--delete-at-exit"]);
    // Once the container was created, the monitor alone goes into a cgroup that admits
    // one process: its next fork fails.
    assert!(message(&mut sync)["data"].as_i64().unwrap() > 0);
    let monitor: i32 = wait_for(&setup.path("monitor.pid")).trim().parse().unwrap();
    cgroup.enter(monitor);
    std::fs::write(setup.path("exit-now"), "").unwrap();
    assert_eq!(wait_for(&setup.path("exits/ctr")), "3");
    assert_eq!(recorded_delete_status(&setup), "-1");
    assert!(!setup.path("deleted").exists(), "a delete ran");
    // The monitor ends (no exit command), which empties the cgroup for its removal.
    let procs = cgroup.dir.join("cgroup.procs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&procs).is_ok_and(|p| !p.is_empty()) && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A delete at the exit that hangs is killed after `--runtime-timeout`, and recorded as
/// failed (-1), so that the caller deletes the container itself.
#[test]
fn a_hung_delete_at_the_exit_is_killed_and_recorded_as_failed() {
    let setup = Setup::new();
    let runtime = setup.runtime(DELETES_WHEN_TOLD);
    let _sync = setup.start(&runtime, &["--delete-at-exit", "--runtime-timeout", "1"]);
    assert_eq!(wait_for(&setup.path("exits/ctr")), "3");
    // No `go`: the delete waits until it is killed.
    assert_eq!(recorded_delete_status(&setup), "-1");
}

/// A runtime whose "container" only waits a while, for tests that talk to the monitor.
const STARTS_A_WAITING_CONTAINER: &str = r#"while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sleep 1 &
echo $! > "$pidfile""#;

#[test]
fn ctl_lines_with_a_token_are_acknowledged_beside_the_fifo() {
    let setup = Setup::new();
    let runtime = setup.runtime(STARTS_A_WAITING_CONTAINER);
    let mut sync = setup.start(&runtime, &[]);
    assert!(message(&mut sync)["data"].as_i64().unwrap() > 0);
    // A link where an acknowledgement would go: left alone, its target untouched.
    let target = setup.path("target");
    std::fs::write(&target, "kept").unwrap();
    std::os::unix::fs::symlink(&target, setup.path("bundle/ctl-ack-linked")).unwrap();
    let mut ctl = std::fs::OpenOptions::new()
        .write(true)
        .open(setup.path("bundle/ctl"))
        .unwrap();
    ctl.write_all(b"1 10 20 a/../../escaped\n1 10 20 linked\n1 10 20 first\n2 0 0 second\n")
        .unwrap();
    assert_eq!(wait_for(&setup.path("bundle/ctl-ack-first")), "");
    assert_eq!(wait_for(&setup.path("bundle/ctl-ack-second")), "");
    assert!(!setup.path("escaped").exists());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
    assert_eq!(wait_for(&setup.path("exits/ctr")), "0");
}
