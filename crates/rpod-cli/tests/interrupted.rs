//! Interrupted operations leave nothing behind: rpod killed at any moment of `run` and
//! `start`, the run root deleted under live containers, an attached exec killed, `load`
//! killed midway, a lost database, a read-only store.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{busybox_tarball, network_leftovers, pid_alive, wait_until, Rpod};

/// A small deterministic generator: the delays differ from round to round and from run to
/// run of the suite (seeded by the clock), and a failure prints its seed.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % (max + 1)
    }
}

fn kill_after(rpod: &Rpod, args: &[&str], delay: Duration) {
    let mut child = rpod
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
}

fn runtime_containers(rpod: &Rpod) -> Vec<String> {
    let state = rpod.runroot().join("runtimes").join(&rpod.runtime);
    fs::read_dir(state)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Live monitors of this store (their command lines name its run root).
fn monitors(rpod: &Rpod) -> Vec<i32> {
    let needle = rpod.runroot().display().to_string();
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let text = String::from_utf8_lossy(&c);
                // conmon or rpod's own monitor, whichever the suite runs on.
                ["conmon", "rpod-monitor"].iter().any(|name| {
                    text.starts_with(&format!("{name}\0")) || text.contains(&format!("/{name}\0"))
                })
            } && String::from_utf8_lossy(&c).contains(&needle))
        })
        .filter(|pid| pid_alive(*pid))
        .collect()
}

fn mounts_under(path: &Path) -> Vec<String> {
    let needle = path.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(String::from)
        .collect()
}

fn cgroups_of(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for hierarchy in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let dir = hierarchy.path().join("rpod").join(id);
        if dir.exists() {
            found.push(dir);
        }
    }
    found
}

/// Kill `run` and `start` at random moments; `network` runs them on a bridge network of
/// the given number (10.93.N.0/24, bridge rpodtN) with a published port.
fn kill_rounds(runtime: &str, network: Option<u8>) {
    let rpod = Rpod::with_image(runtime);
    let mut extra: Vec<String> = Vec::new();
    if let Some(n) = network {
        rpod.lab_network("lab", n);
        extra = ["--network", "lab", "-p", "127.0.0.1::80"]
            .map(String::from)
            .to_vec();
    }
    let rounds = if network.is_some() { 30 } else { 50 };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut delays = Delays(seed);
    for round in 0..rounds {
        let name = format!("k{round}");
        let delay =
            Duration::from_millis(delays.next_ms(if network.is_some() { 200 } else { 100 }));
        let mut args = vec!["run", "-d", "--name", &name];
        args.extend(extra.iter().map(String::as_str));
        args.extend(["demo", "sleep", "1000"]);
        kill_after(&rpod, &args, delay);
        if round % 2 == 0 {
            let delay = Duration::from_millis(delays.next_ms(100));
            kill_after(&rpod, &["start", &name], delay);
        }
    }
    let ids: Vec<String> = rpod
        .ok(&["ps", "-a", "-q", "--no-trunc"])
        .lines()
        .map(String::from)
        .collect();
    // The next command that needs a container clean gets it clean: every one starts.
    for id in &ids {
        let out = rpod.run(&["start", id]);
        assert!(
            out.status.success(),
            "seed {seed}: start {id} after an interrupted command: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    rpod.ok(&["rm", "-f", "--all", "-t", "0"]);
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "", "seed {seed}");
    assert_eq!(
        runtime_containers(&rpod),
        Vec::<String>::new(),
        "seed {seed}: runtime containers left"
    );
    wait_until("monitors to exit", || monitors(&rpod).is_empty());
    assert_eq!(
        mounts_under(&rpod.root()),
        Vec::<String>::new(),
        "seed {seed}: mounts left"
    );
    for id in &ids {
        assert_eq!(
            cgroups_of(id),
            Vec::<PathBuf>::new(),
            "seed {seed}: cgroups left"
        );
    }
    if let Some(n) = network {
        assert_eq!(
            network_leftovers(&rpod, &format!("rpodt{n}"), &format!("10.93.{n}.")),
            Vec::<String>::new(),
            "seed {seed}: network state left"
        );
        // Every address is free again: the next container gets the first one.
        let out = rpod.ok(&[
            "run",
            "--rm",
            "--network",
            "lab",
            "demo",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ]);
        assert!(
            out.contains(&format!("10.93.{n}.2/24")),
            "seed {seed}: {out}"
        );
    }
}

#[test]
fn killed_run_and_start_leave_nothing_on_runc() {
    kill_rounds("runc", None);
}

#[test]
fn killed_run_and_start_leave_nothing_on_crun() {
    kill_rounds("crun", None);
}

#[test]
fn killed_bridged_runs_leave_no_network_state_on_runc() {
    kill_rounds("runc", Some(85));
}

#[test]
fn killed_bridged_runs_leave_no_network_state_on_crun() {
    kill_rounds("crun", Some(86));
}

#[test]
fn a_deleted_run_root_does_not_stop_stop_kill_or_rm() {
    let rpod = Rpod::with_image("runc");
    let stopped = rpod.detached(&["demo", "sleep", "1000"]);
    let killed = rpod.detached(&["demo", "sleep", "1000"]);
    let removed = rpod.detached(&["demo", "sleep", "1000"]);
    let pids: Vec<i32> = [&stopped, &killed, &removed]
        .iter()
        .map(|id| rpod.inspect(id, "{{.State.Pid}}").parse().unwrap())
        .collect();
    fs::remove_dir_all(rpod.runroot()).unwrap();
    rpod.ok(&["stop", "-t", "1", &stopped]);
    assert!(!pid_alive(pids[0]), "stop left the process running");
    assert_eq!(rpod.inspect(&stopped, "{{.State.Status}}"), "exited");
    rpod.ok(&["kill", &killed]);
    wait_until("the killed container to exit", || !pid_alive(pids[1]));
    assert_ne!(rpod.inspect(&killed, "{{.State.Status}}"), "stopping");
    rpod.ok(&["rm", "-f", "-t", "0", &removed]);
    assert!(!pid_alive(pids[2]), "rm -f left the process running");
    rpod.ok(&["rm", "-f", "--all", "-t", "0"]);
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "");
    assert_eq!(mounts_under(&rpod.root()), Vec::<String>::new());
}

fn exec_session_rows(rpod: &Rpod) -> i64 {
    let db = rusqlite::Connection::open(rpod.root().join("rpod.db")).unwrap();
    db.query_row("SELECT COUNT(*) FROM exec_sessions", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_killed_attached_exec_is_cleaned_when_its_process_ends() {
    let rpod = Rpod::with_image("runc");
    let id = rpod.detached(&["demo", "sleep", "1000"]);
    kill_after(
        &rpod,
        &["exec", &id, "sleep", "1"],
        Duration::from_millis(500),
    );
    assert_eq!(
        exec_session_rows(&rpod),
        1,
        "the session runs on after its client died"
    );
    // Nothing but the session's own exit command cleans it (no rpod command runs meanwhile).
    let deadline = Instant::now() + Duration::from_secs(20);
    while exec_session_rows(&rpod) != 0 {
        assert!(
            Instant::now() < deadline,
            "the ended session was never cleaned up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sessions = rpod.runroot().join("containers").join(&id).join("exec");
    let session_dirs = fs::read_dir(&sessions).unwrap().flatten().count();
    assert_eq!(session_dirs, 0, "the session's directory was left");
}

#[test]
fn ps_does_not_show_up_when_monitor_and_process_are_dead() {
    let rpod = Rpod::with_image("runc");
    let id = rpod.detached(&["demo", "sleep", "1000"]);
    let pid: i32 = rpod.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let conmon: i32 = rpod.inspect(&id, "{{.State.ConmonPid}}").parse().unwrap();
    for victim in [conmon, pid] {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(victim),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    wait_until("both to die", || !pid_alive(pid) && !pid_alive(conmon));
    let status = rpod.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(!status.starts_with("Up"), "{status}");
}

#[test]
fn a_killed_load_leaves_no_temporary_files() {
    let rpod = Rpod::new("runc");
    let dir = tempfile::tempdir().unwrap();
    // A large layer, so that the load is still busy when it is killed.
    let big = dir.path().join("rootfs");
    fs::create_dir(&big).unwrap();
    fs::write(big.join("blob"), vec![7u8; 400 << 20]).unwrap();
    let tarball = dir.path().join("big.tar");
    assert!(std::process::Command::new("tar")
        .args([
            "-C",
            &big.display().to_string(),
            "-cf",
            &tarball.display().to_string(),
            "."
        ])
        .status()
        .unwrap()
        .success());
    fs::remove_dir_all(&big).unwrap();
    for command in ["import", "load"] {
        let args: Vec<&str> = if command == "import" {
            vec!["import", tarball.to_str().unwrap(), "big"]
        } else {
            vec!["load", "-i", tarball.to_str().unwrap()]
        };
        kill_after(&rpod, &args, Duration::from_millis(700));
    }
    // Entries of dead processes are removed by the next command, once they are a few
    // seconds old.
    std::thread::sleep(Duration::from_secs(3));
    rpod.ok(&["images"]);
    let left: Vec<_> = fs::read_dir(rpod.root().join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let save_dir = tempfile::tempdir().unwrap();
    let source = Rpod::with_image("runc");
    let _ = busybox_tarball();
    kill_after(
        &source,
        &[
            "save",
            "-o",
            &save_dir.path().join("out.tar").display().to_string(),
            "demo",
        ],
        Duration::from_millis(30),
    );
    let names: Vec<_> = fs::read_dir(save_dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "out.tar")
        .collect();
    assert!(names.is_empty(), "save left {names:?}");
}

#[test]
fn a_lost_database_is_refused_not_taken_as_empty() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["create", "--name", "keep", "demo", "true"]);
    let db = rpod.root().join("rpod.db");
    fs::write(&db, b"").unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = fs::remove_file(rpod.root().join(format!("rpod.db{suffix}")));
    }
    let err = rpod.fails(&["ps", "-a"], 125);
    assert!(err.contains("truncated or deleted"), "{err}");
    fs::remove_file(&db).unwrap();
    let err = rpod.fails(&["images"], 125);
    assert!(err.contains("missing"), "{err}");
    // A brand-new store is fine.
    Rpod::new("runc").ok(&["ps", "-a"]);
}

#[test]
fn a_read_only_store_still_answers_read_only_commands() {
    let rpod = Rpod::with_image("runc");
    let id = rpod.ok(&["run", "--name", "done", "demo", "echo", "hello"]);
    assert_eq!(id, "hello\n");
    let root = rpod.root();
    let root_text = root.display().to_string();
    // The monitor's exit command may still be at the database; once no process of this
    // store is left, the log is folded into the database, which a read-only open reads.
    // Whether the last process to close it did so depends on which one it was (one that
    // wrote nothing durable leaves the log, by design: store.rs), so a durable write folds
    // what is left.
    wait_until("no process uses the store", || {
        !common::processes_mentioning(&root_text)
    });
    let log = root.join("rpod.db-wal");
    if log.exists() {
        rpod.ok(&["tag", "demo", "fold:1"]);
        rpod.ok(&["untag", "demo", "fold:1"]);
    }
    wait_until("the log is folded into the database", || !log.exists());
    let mount = |args: &[&str]| {
        assert!(std::process::Command::new("mount")
            .args(args)
            .status()
            .unwrap()
            .success());
    };
    mount(&["--bind", &root_text, &root_text]);
    mount(&["-o", "remount,ro,bind", &root_text]);
    let outcome = std::panic::catch_unwind(|| {
        assert!(rpod
            .ok(&["ps", "-a", "--format", "{{.Names}}"])
            .contains("done"));
        assert!(rpod
            .ok(&["images", "--format", "{{.Repository}}"])
            .contains("localhost/demo"));
        assert_eq!(rpod.inspect("done", "{{.State.ExitCode}}"), "0");
        assert_eq!(rpod.ok(&["logs", "done"]), "hello\n");
        rpod.fails(&["run", "--rm", "demo", "true"], 125);
    });
    let _ = std::process::Command::new("umount")
        .arg(&root_text)
        .status();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A process that looks like the runtime's create of container `id` in the store's runc
/// root, as a killed command leaves one. (Short sleeps: killed, the shell leaves no
/// long-lived child holding anything.)
fn stray_runtime_call(rpod: &Rpod, id: &str) -> std::process::Child {
    std::process::Command::new("sh")
        .args(["-c", "while :; do sleep 0.1; done", "runc", "--root"])
        .arg(rpod.runroot().join("runtimes/runc"))
        .args(["create", "--bundle", "/nonexistent", id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Whether `stray` ends within 2 s (it is killed if not).
fn ends_soon(stray: &mut std::process::Child) -> bool {
    let gone = (0..100).any(|_| {
        if let Ok(Some(_)) = stray.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
        false
    });
    if !gone {
        let _ = stray.kill();
        let _ = stray.wait();
    }
    gone
}

/// A runtime call a killed command left running (its `runc create`, outside the
/// container's cgroups, cleans up after itself when it fails, and would remove the state
/// of the next create) is killed before the container starts again.
#[test]
fn a_runtime_call_left_running_is_killed_before_the_next_start() {
    let rpod = Rpod::with_image("runc");
    let id = rpod
        .ok(&["create", "demo", "sleep", "1000"])
        .trim()
        .to_string();
    // What the killed command left: its monitor's PID file (the monitor itself gone) and a
    // process that looks like the runtime's create of this container.
    let run_dir = rpod.runroot().join("containers").join(&id);
    fs::create_dir_all(&run_dir).unwrap();
    fs::write(run_dir.join("conmon.pid"), "999999").unwrap();
    let mut stray = stray_runtime_call(&rpod, &id);
    let pid = stray.id();
    rpod.ok(&["start", &id]);
    assert!(
        ends_soon(&mut stray),
        "the stray runtime call {pid} was left running"
    );
    rpod.ok(&["rm", "-f", "-t", "0", &id]);
}

/// A container whose last run ended has no runtime call left to look for: its next start
/// does not go through every process (one that looks like such a call is left alone),
/// unless a monitor was started after that end (a start killed on its way).
#[test]
fn only_a_start_since_the_last_exit_looks_for_runtime_calls() {
    let rpod = Rpod::with_image("runc");
    let id = rpod.ok(&["run", "-d", "demo", "true"]).trim().to_string();
    rpod.ok(&["wait", &id]);
    let mut stray = stray_runtime_call(&rpod, &id);
    rpod.ok(&["start", &id]);
    rpod.ok(&["wait", &id]);
    let left_alone = stray.try_wait().unwrap().is_none();
    let _ = stray.kill();
    let _ = stray.wait();
    assert!(left_alone, "a normal restart looked for runtime calls");
    // A monitor PID file written after the exit: a start that was interrupted.
    std::thread::sleep(Duration::from_millis(20));
    let run_dir = rpod.runroot().join("containers").join(&id);
    fs::write(run_dir.join("conmon.pid"), "999999").unwrap();
    let mut stray = stray_runtime_call(&rpod, &id);
    rpod.ok(&["start", &id]);
    assert!(
        ends_soon(&mut stray),
        "the stray runtime call was left running"
    );
    rpod.ok(&["rm", "-f", "-t", "0", &id]);
}
