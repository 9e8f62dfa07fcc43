//! The engine's operations against a fake runtime: no root, no runc, no conmon. The fake
//! runs a container's command as a plain host process (stopped until `start`), and a thread
//! plays the monitor: it waits for the process and writes the exit file as conmon would.
//! Runnable by any user with `cargo test`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use rpod_engine::{
    CreateOptions, Engine, EngineError, EngineOptions, ErrorKind, RemoveOptions, Status,
    WaitCondition, WaitOptions, WaitOutcome,
};
use rpod_oci::*;

struct FakeRuntime {
    exits: PathBuf,
    persist: PathBuf,
    /// Per container: its process and whether its monitor thread still runs.
    containers: Mutex<HashMap<String, (i32, Arc<AtomicBool>)>>,
    /// Whether it creates and starts in one call (as rpod-monitor does).
    start_at_create: bool,
    /// The calls that create or start, in order (`create`, `start`, `create-started`,
    /// `create-started+attach`).
    calls: Arc<Mutex<Vec<&'static str>>>,
    /// What each removal from the runtime saw: `begun`, then how it finished.
    deletes: Arc<Mutex<Vec<&'static str>>>,
    /// The engine's store, which a removal looks at when it is waited for.
    database: PathBuf,
    /// The freezes, thaws and dumps, in order (`pause`, `unpause`, `dump` or `dump of a
    /// frozen container`).
    freezes: Arc<Mutex<Vec<&'static str>>>,
    /// The calls that fail: `create`, `dump`, `thaw`.
    failing: &'static [&'static str],
}

/// `rm -f -t 0`.
const FORCED_AT_ONCE: RemoveOptions = RemoveOptions {
    force: true,
    timeout: Some(0),
    volumes: false,
};

fn unsupported(operation: &'static str) -> OciError {
    OciError::NotSupported {
        operation,
        runtime: "fake".into(),
    }
}

impl FakeRuntime {
    fn new(config: RuntimeConfig) -> Self {
        FakeRuntime {
            exits: config.tmp_dir.join("exits"),
            persist: config.tmp_dir.join("persist"),
            containers: Mutex::new(HashMap::new()),
            start_at_create: false,
            calls: Arc::default(),
            deletes: Arc::default(),
            database: PathBuf::new(),
            freezes: Arc::default(),
            failing: &[],
        }
    }

    fn pid(&self, ctr: &OciContainer) -> Option<i32> {
        self.containers.lock().unwrap().get(&ctr.id).map(|c| c.0)
    }

    fn signal(&self, ctr: &OciContainer, signal: i32) -> Result<()> {
        let pid = self.pid(ctr).ok_or_else(|| OciError::CtrStateInvalid {
            message: format!("fake: no container {}", ctr.id),
        })?;
        let signal = Signal::try_from(signal).map_err(|e| OciError::InvalidArg(e.to_string()))?;
        kill(Pid::from_raw(pid), signal).map_err(|e| OciError::CtrStateInvalid {
            message: format!("fake: {e}"),
        })
    }

    /// The command as a host process, stopped until `continue_stopped`.
    fn spawn_stopped(&self, ctr: &OciContainer) -> Result<CreateOutcome> {
        let spec_path = ctr.bundle_dir.join("config.json");
        let spec: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&spec_path).map_err(|e| OciError::io("reading", &spec_path, e))?,
        )
        .map_err(|e| OciError::InvalidArg(e.to_string()))?;
        let args: Vec<String> = serde_json::from_value(spec["process"]["args"].clone())
            .map_err(|e| OciError::InvalidArg(e.to_string()))?;
        // A new run has no exit yet (as conmon, which removes the previous run's file).
        let _ = std::fs::remove_file(self.exits.join(&ctr.id));
        // The shell stops itself until `start` continues it, then becomes the command.
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("kill -STOP $$; exec \"$@\"")
            .arg("sh")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| OciError::io("spawning", "/bin/sh", e))?;
        let pid = child.id() as i32;
        let monitoring = Arc::new(AtomicBool::new(true));
        let (exits, id, flag) = (self.exits.clone(), ctr.id.clone(), monitoring.clone());
        std::thread::spawn(move || {
            let code = exit_code(&mut child);
            std::fs::create_dir_all(&exits).unwrap();
            let partial = exits.join(format!(".{id}"));
            std::fs::write(&partial, code.to_string()).unwrap();
            std::fs::rename(&partial, exits.join(&id)).unwrap();
            flag.store(false, Ordering::SeqCst);
        });
        self.containers
            .lock()
            .unwrap()
            .insert(ctr.id.clone(), (pid, monitoring));
        Ok(CreateOutcome {
            pid,
            // Unknown, as when conmon writes no pid file: liveness comes from
            // `check_conmon_running`.
            conmon_pid: 0,
            restore_micros: 0,
        })
    }

    fn continue_stopped(&self, ctr: &OciContainer) -> Result<()> {
        // The shell must have stopped itself first, or the continue would come too early
        // and the process would then stop for good.
        self.wait_stopped(ctr);
        self.signal(ctr, libc::SIGCONT)
    }

    /// Wait until the container's process is stopped (or gone): a stop signal takes effect
    /// some time after it was sent, and only a stopped state (`T`) says it has; a busy
    /// machine may take its time to get there.
    fn wait_stopped(&self, ctr: &OciContainer) {
        let Some(pid) = self.pid(ctr) else {
            return;
        };
        for _ in 0..3000 {
            match process_state(pid).as_deref() {
                Some("T" | "t" | "Z" | "X") | None => break,
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

impl Drop for FakeRuntime {
    /// A test that failed halfway leaves no "container" running after it.
    fn drop(&mut self) {
        let containers = self.containers.get_mut().unwrap_or_else(|p| p.into_inner());
        for (pid, _) in containers.values() {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }
}

/// The state letter of `/proc/PID/stat`.
fn process_state(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let i = stat.rfind(')')?;
    stat[i + 1..].split_whitespace().next().map(str::to_string)
}

/// The process's exit status as conmon writes it: the code, or 128 + the signal.
fn exit_code(child: &mut Child) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match child.wait() {
        Ok(status) => status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(-1),
        Err(_) => -1,
    }
}

impl OciRuntime for FakeRuntime {
    fn name(&self) -> &str {
        "fake"
    }
    fn path(&self) -> &Path {
        Path::new("/bin/sh")
    }

    fn create_container(
        &self,
        ctr: &OciContainer,
        _restore: Option<&CheckpointOptions>,
    ) -> Result<CreateOutcome> {
        self.calls.lock().unwrap().push("create");
        if self.failing.contains(&"create") {
            return Err(OciError::InvalidArg("fake: no create today".into()));
        }
        self.spawn_stopped(ctr)
    }

    fn supports_start_at_create(&self) -> bool {
        self.start_at_create
    }

    fn create_started_container(
        &self,
        ctr: &OciContainer,
        attach_follows: bool,
    ) -> Result<CreateOutcome> {
        assert!(self.start_at_create, "asked to start at create");
        self.calls.lock().unwrap().push(if attach_follows {
            "create-started+attach"
        } else {
            "create-started"
        });
        let outcome = self.spawn_stopped(ctr)?;
        self.continue_stopped(ctr)?;
        Ok(outcome)
    }

    fn start_container(&self, ctr: &OciContainer) -> Result<()> {
        self.calls.lock().unwrap().push("start");
        self.continue_stopped(ctr)
    }
    fn kill_container(&self, ctr: &OciContainer, signal: i32, _all: bool) -> Result<()> {
        self.signal(ctr, signal)?;
        // A stopped process takes its signal only once continued.
        let _ = self.signal(ctr, libc::SIGCONT);
        Ok(())
    }

    fn stop_container(&self, ctr: &OciContainer, timeout: u32, _all: bool) -> Result<()> {
        if timeout > 0 {
            let _ = self.kill_container(ctr, ctr.stop_signal, false);
            if rpod_oci::process::wait_pid_exit(ctr.pid, Some(Duration::from_secs(timeout.into())))
            {
                return Ok(());
            }
        }
        let _ = self.kill_container(ctr, libc::SIGKILL, false);
        rpod_oci::process::wait_pid_exit(ctr.pid, Some(Duration::from_secs(5)));
        Ok(())
    }

    fn delete_container(&self, ctr: &OciContainer) -> Result<()> {
        if let Some((pid, _)) = self.containers.lock().unwrap().remove(&ctr.id) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        Ok(())
    }

    /// Removes the container at once but "finishes" only when waited for, telling whether
    /// the container's files were gone by then and its record still there; the removal
    /// fails, as a runtime's delete of a container it no longer knows would.
    fn begin_delete_container(&self, ctr: &OciContainer) -> PendingCall {
        self.deletes.lock().unwrap().push("begun");
        let _ = self.delete_container(ctr);
        let (deletes, bundle) = (self.deletes.clone(), ctr.bundle_dir.clone());
        let (database, id) = (self.database.clone(), ctr.id.clone());
        PendingCall::deferred(move || {
            let recorded = rpod_engine::store::Store::open(&database)
                .and_then(|store| store.container(&id))
                .is_ok_and(|record| record.is_some());
            deletes
                .lock()
                .unwrap()
                .push(match (bundle.exists(), recorded) {
                    (false, true) => "finished after the bundle went, before the record",
                    (true, _) => "finished with the bundle still there",
                    (false, false) => "finished after the record went",
                });
            Err(OciError::CtrStateInvalid {
                message: "fake: no such container".into(),
            })
        })
    }

    fn pause_container(&self, ctr: &OciContainer) -> Result<()> {
        self.freezes.lock().unwrap().push("pause");
        self.signal(ctr, libc::SIGSTOP)?;
        // As a runtime's pause, which returns once the cgroup is frozen.
        self.wait_stopped(ctr);
        Ok(())
    }
    fn unpause_container(&self, ctr: &OciContainer) -> Result<()> {
        self.freezes.lock().unwrap().push("unpause");
        if self.failing.contains(&"thaw") {
            return Err(OciError::Conmon {
                id: ctr.id.clone(),
                message: "fake: the thaw failed".into(),
            });
        }
        self.signal(ctr, libc::SIGCONT)
    }

    fn attach(&self, _: &OciContainer, _: AttachOptions) -> Result<()> {
        Err(unsupported("attach"))
    }
    fn http_attach(&self, _: &OciContainer, _: HttpAttachOptions) -> Result<()> {
        Err(unsupported("HTTP attach"))
    }
    fn attach_resize(&self, _: &OciContainer, _: TerminalSize) -> Result<()> {
        Err(unsupported("resize"))
    }
    fn exec_container(
        &self,
        _: &OciContainer,
        _: &str,
        _: ExecOptions,
        _: Option<TerminalSize>,
    ) -> Result<(i32, ExecAttachResult)> {
        Err(unsupported("exec"))
    }
    fn exec_container_http(
        &self,
        _: &OciContainer,
        _: &str,
        _: ExecOptions,
        _: HttpAttachOptions,
        _: Option<TerminalSize>,
    ) -> Result<(i32, ExecAttachResult)> {
        Err(unsupported("exec"))
    }
    fn exec_container_detached(
        &self,
        _: &OciContainer,
        _: &str,
        _: ExecOptions,
        _: bool,
    ) -> Result<i32> {
        Err(unsupported("exec"))
    }
    fn exec_attach_resize(&self, _: &OciContainer, _: &str, _: TerminalSize) -> Result<()> {
        Err(unsupported("exec"))
    }
    fn exec_stop_container(&self, _: &OciContainer, _: &str, _: u32) -> Result<()> {
        Err(unsupported("exec"))
    }
    fn exec_update_status(&self, _: &OciContainer, _: &str) -> Result<bool> {
        Ok(false)
    }
    /// A "dump" that leaves the process running: an image file in the bundle.
    fn checkpoint_container(&self, ctr: &OciContainer, options: &CheckpointOptions) -> Result<i64> {
        assert!(
            options.keep_running,
            "the fake dumps only containers left running"
        );
        let frozen = self
            .pid(ctr)
            .is_some_and(|pid| process_state(pid).as_deref() == Some("T"));
        self.freezes.lock().unwrap().push(if frozen {
            "dump of a frozen container"
        } else {
            "dump"
        });
        if self.failing.contains(&"dump") {
            return Err(OciError::Conmon {
                id: ctr.id.clone(),
                message: "fake: the dump failed".into(),
            });
        }
        let images = ctr.bundle_dir.join("checkpoint");
        std::fs::create_dir_all(&images).map_err(|e| OciError::io("creating", &images, e))?;
        for image in ["pages-1.img", "inventory.img"] {
            std::fs::write(images.join(image), b"fake")
                .map_err(|e| OciError::io("writing", &images, e))?;
        }
        Ok(1)
    }
    fn check_conmon_running(&self, ctr: &OciContainer) -> Result<bool> {
        Ok(self
            .containers
            .lock()
            .unwrap()
            .get(&ctr.id)
            .is_some_and(|c| c.1.load(Ordering::SeqCst)))
    }
    fn supports_checkpoint(&self) -> bool {
        false
    }
    fn supports_json_errors(&self) -> bool {
        false
    }
    fn supports_no_cgroups(&self) -> bool {
        true
    }
    fn supports_kvm(&self) -> bool {
        false
    }
    fn attach_connect(&self, _: &OciContainer) -> Result<Box<dyn AttachSession>> {
        Err(unsupported("attach"))
    }
    fn exec_exit_code(&self, _: &OciContainer, _: &str, _: Duration) -> Result<Option<i32>> {
        Ok(None)
    }
    fn exec_remove(&self, _: &OciContainer, _: &str) -> Result<()> {
        Ok(())
    }
    fn attach_socket_path(&self, ctr: &OciContainer) -> Result<PathBuf> {
        Ok(ctr.bundle_dir.join("attach"))
    }
    fn exec_attach_socket_path(&self, ctr: &OciContainer, session: &str) -> Result<PathBuf> {
        Ok(ctr.run_dir.join("exec").join(session).join("attach"))
    }
    fn exit_file_path(&self, ctr: &OciContainer) -> Result<PathBuf> {
        Ok(self.exits.join(&ctr.id))
    }
    fn oom_file_path(&self, ctr: &OciContainer) -> Result<PathBuf> {
        Ok(self.persist.join(&ctr.id).join("oom"))
    }
    fn runtime_info(&self) -> Result<(ConmonInfo, OciRuntimeInfo)> {
        Err(unsupported("info"))
    }
    fn update_container(&self, _: &OciContainer, _: &LinuxResources) -> Result<()> {
        Err(unsupported("update"))
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    rootfs: PathBuf,
    engine: Arc<Engine>,
    /// The fake runtime's create and start calls.
    calls: Arc<Mutex<Vec<&'static str>>>,
    /// The fake runtime's removals (`FakeRuntime::deletes`).
    deletes: Arc<Mutex<Vec<&'static str>>>,
    /// The fake runtime's freezes and dumps (`FakeRuntime::freezes`).
    freezes: Arc<Mutex<Vec<&'static str>>>,
}

fn fixture() -> Fixture {
    fixture_with(false)
}

/// `start_at_create`: the fake creates and starts in one call, as rpod-monitor does.
fn fixture_with(start_at_create: bool) -> Fixture {
    fixture_of(start_at_create, &[])
}

/// `fixture_with`, and the fake's calls that fail (`FakeRuntime::failing`).
fn fixture_of(start_at_create: bool, failing: &'static [&'static str]) -> Fixture {
    let calls: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let deletes: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let freezes: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let (shared, shared_deletes) = (calls.clone(), deletes.clone());
    let shared_freezes = freezes.clone();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    let database = dir.path().join("root").join("rpod.db");
    let engine = Engine::open_with_runtimes(
        EngineOptions {
            root: dir.path().join("root"),
            runroot: dir.path().join("run"),
            runtime: "fake".into(),
            conmon: None,
            log_level: "warn".into(),
            exe: "/bin/true".into(),
            // A small reserve of free space: the test passes on a nearly full disk.
            config: rpod_engine::config::EngineConfig::parse(
                "[containers]\nnetns = \"none\"\n[storage]\nkeep_free = \"16m\"\n",
            )
            .unwrap(),
            runtime_flags: Vec::new(),
            events: true,
            // An empty tree: pods' cgroups are made nowhere real.
            cgroup_root: dir.path().join("cgroup"),
            hooks_dirs: Vec::new(),
            volume_path: None,
            network_config_dir: None,
            syslog: false,
        },
        Arc::new(move |config| {
            let mut runtime = FakeRuntime::new(config);
            runtime.start_at_create = start_at_create;
            runtime.calls = shared.clone();
            runtime.deletes = shared_deletes.clone();
            runtime.database = database.clone();
            runtime.freezes = shared_freezes.clone();
            runtime.failing = failing;
            Ok(Arc::new(runtime) as Arc<dyn OciRuntime>)
        }),
    )
    .unwrap();
    Fixture {
        dir,
        rootfs,
        engine: Arc::new(engine),
        calls,
        deletes,
        freezes,
    }
}

impl Fixture {
    fn create(&self, name: &str, command: &[&str]) -> String {
        let options = CreateOptions {
            rootfs: Some(self.rootfs.clone()),
            name: Some(name.into()),
            command: command.iter().map(|s| s.to_string()).collect(),
            security: rpod_engine::security::SecurityOptions {
                seccomp: rpod_engine::security::SeccompChoice::Unconfined,
                ..Default::default()
            },
            ..Default::default()
        };
        self.engine.create(options).unwrap().id().to_string()
    }
}

fn status(engine: &Engine, id: &str) -> Status {
    engine.inspect(id).unwrap().state.status
}

#[test]
fn the_lifecycle_runs_on_a_fake_runtime() {
    let f = fixture();
    let e = &f.engine;
    let id = f.create("life", &["sleep", "1000"]);
    assert_eq!(status(e, &id), Status::Configured);
    e.start(&id, None, None).unwrap();
    assert_eq!(status(e, &id), Status::Running);
    // Starting what runs has nothing to do, and says so.
    let again = e.start(&id, None, None).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotModified, "{again}");
    e.pause(&id).unwrap();
    assert_eq!(status(e, &id), Status::Paused);
    let err = e.pause(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    e.unpause(&id).unwrap();
    let err = e
        .remove(
            &id,
            RemoveOptions {
                force: false,
                timeout: None,
                volumes: false,
            },
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::RemoveRunning { .. }), "{err}");
    e.stop(&id, Some(1)).unwrap();
    let record = e.inspect(&id).unwrap();
    assert_eq!(record.state.status, Status::Exited);
    assert_eq!(record.state.exit_code, Some(143), "SIGTERM ends sleep");
    assert_eq!(e.wait(&id).unwrap(), 143);
    let again = e.stop(&id, Some(1)).unwrap_err();
    assert_eq!(again.kind().http_status(), 304, "{again}");
    // And again.
    e.start(&id, None, None).unwrap();
    e.kill(&id, libc::SIGKILL).unwrap();
    assert_eq!(e.wait(&id).unwrap(), 137);
    e.remove(
        &id,
        RemoveOptions {
            force: false,
            timeout: None,
            volumes: false,
        },
    )
    .unwrap();
    assert_eq!(e.lookup(&id).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        e.wait(&id).unwrap(),
        137,
        "the exit code outlives the container"
    );
}

/// The calls made since the last look.
fn take_calls(f: &Fixture) -> Vec<&'static str> {
    std::mem::take(&mut *f.calls.lock().unwrap())
}

/// Start `id` with a hook (as an attached run connects); returns the status the hook saw.
fn start_seeing_status(engine: &Engine, id: &str) -> Status {
    let mut seen = None;
    let mut hook = |record: &rpod_engine::ContainerRecord| {
        seen = Some(record.state.status);
        Ok(())
    };
    engine.start(id, None, Some(&mut hook)).unwrap();
    seen.expect("the hook ran")
}

/// A runtime that creates and starts in one call gets one call for a start that needs
/// nothing in between; the start is recorded as any other (state, events, PID), and a
/// hook runs once it runs, told that an attach follows.
#[test]
fn a_start_with_nothing_in_between_is_one_runtime_call() {
    let f = fixture_with(true);
    let e = &f.engine;
    let mut events = rpod_engine::events::EventReader::from_start(e.roots());
    let id = f.create("at-once", &["sleep", "1000"]);
    let record = e.start(&id, None, None).unwrap();
    assert_eq!(take_calls(&f), ["create-started"]);
    assert_eq!(record.state.status, Status::Running);
    assert!(record.state.pid > 0 && record.state.started_at.is_some());
    assert_eq!(status(e, &id), Status::Running, "the start was saved");
    let statuses: Vec<String> = events
        .read_new()
        .unwrap()
        .into_iter()
        .filter(|ev| ev.id == id)
        .map(|ev| ev.status)
        .collect();
    assert_eq!(statuses, ["create", "init", "start"]);

    let attached = f.create("attached", &["sh", "-c", "exit 7"]);
    assert_eq!(start_seeing_status(e, &attached), Status::Running);
    assert_eq!(take_calls(&f), ["create-started+attach"]);
    assert_eq!(e.wait(&attached).unwrap(), 7);

    // A hook that fails after such a start: the error is told, and the container runs.
    let failing = f.create("failing-hook", &["sleep", "1000"]);
    let mut hook =
        |_: &rpod_engine::ContainerRecord| Err(EngineError::InvalidArg("the attach failed".into()));
    let err = e.start(&failing, None, Some(&mut hook)).unwrap_err();
    assert!(err.to_string().contains("the attach failed"), "{err}");
    assert_eq!(status(e, &failing), Status::Running);
    for id in [&id, &failing] {
        e.kill(id, libc::SIGKILL).unwrap();
        assert_eq!(e.wait(id).unwrap(), 137);
    }
}

/// Without that ability the runtime creates, then starts; the hook runs in between.
#[test]
fn a_runtime_that_cannot_start_at_create_creates_then_starts() {
    let f = fixture();
    let e = &f.engine;
    let id = f.create("apart", &["sh", "-c", "exit 2"]);
    assert_eq!(start_seeing_status(e, &id), Status::Created);
    assert_eq!(take_calls(&f), ["create", "start"]);
    assert_eq!(e.wait(&id).unwrap(), 2);
}

/// A `--rm` container is removed at its exit in one go: the runtime's delete runs while
/// its files are taken apart, and is waited for before its record goes; a delete that
/// fails (the runtime no longer knows it) does not stop the removal.
#[test]
fn a_removal_takes_the_container_apart_while_the_runtime_deletes_it() {
    let f = fixture();
    let e = &f.engine;
    let id = e
        .create(CreateOptions {
            rootfs: Some(f.rootfs.clone()),
            name: Some("gone".into()),
            command: vec!["sh".into(), "-c".into(), "exit 4".into()],
            auto_remove: true,
            ..Default::default()
        })
        .unwrap()
        .id()
        .to_string();
    e.start(&id, None, None).unwrap();
    assert_eq!(e.wait(&id).unwrap(), 4);
    assert_eq!(e.inspect(&id).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        *f.deletes.lock().unwrap(),
        ["begun", "finished after the bundle went, before the record"]
    );
}

/// A removal waits for the removals of its dependents that others run at the same moment
/// (docker-compose's `down`), and not long for one that stays.
#[test]
fn a_removal_awaits_its_dependents_removed_meanwhile() {
    let f = fixture();
    let base = f.create("base", &["true"]);
    let side = f.engine.create(CreateOptions {
        rootfs: Some(f.rootfs.clone()),
        name: Some("side".into()),
        command: vec!["true".into()],
        network: Some(rpod_engine::container::NetworkMode::Container(
            "base".into(),
        )),
        ..Default::default()
    });
    let side = side.unwrap().id().to_string();
    let engine = f.engine.clone();
    let waiter =
        std::thread::spawn(move || engine.remove_among_departing("base", RemoveOptions::default()));
    std::thread::sleep(std::time::Duration::from_millis(100));
    f.engine.remove(&side, RemoveOptions::default()).unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), base);
    // Without dependents: removed at once.
    let lone = f.create("lone", &["true"]);
    f.engine.await_departing_dependents(&lone).unwrap();
    assert_eq!(
        f.engine
            .remove_among_departing(&lone, RemoveOptions::default())
            .unwrap(),
        lone
    );

    // A dependent that nobody removes: the wait ends, and the removal says why.
    f.create("base", &["true"]);
    f.engine
        .create(CreateOptions {
            rootfs: Some(f.rootfs.clone()),
            name: Some("stays".into()),
            command: vec!["true".into()],
            network: Some(rpod_engine::container::NetworkMode::Container(
                "base".into(),
            )),
            ..Default::default()
        })
        .unwrap();
    let err = f
        .engine
        .remove_among_departing("base", RemoveOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, EngineError::HasDependents { ref dependents, .. } if dependents == "stays"),
        "{err}"
    );
    assert!(err.to_string().contains("dependent containers"), "{err}");
}

/// A checkpoint left running and exported freezes the container from before the dump until
/// what goes into the archive was taken, and thaws it also when the dump fails; one that is
/// not exported does not freeze it. A thaw that fails leaves the container recorded paused.
#[test]
fn an_export_left_running_is_dumped_frozen_and_thawed_whatever_happens() {
    let frozen_dump = ["pause", "dump of a frozen container", "unpause"];
    let cases: [(bool, &'static [&'static str], &[&str], Status); 5] = [
        (true, &[], &frozen_dump, Status::Running),
        (true, &["dump"], &frozen_dump, Status::Running),
        (true, &["thaw"], &frozen_dump, Status::Paused),
        (true, &["dump", "thaw"], &frozen_dump, Status::Paused),
        (false, &[], &["dump"], Status::Running),
    ];
    for (export, failing, expected, status_after) in cases {
        let f = fixture_of(false, failing);
        let e = &f.engine;
        let id = f.create("frozen", &["sleep", "1000"]);
        e.start(&id, None, None).unwrap();
        let archive = f.dir.path().join("frozen.tar.gz");
        let request = rpod_engine::CheckpointRequest {
            leave_running: true,
            export: export.then(|| archive.clone()),
            ..Default::default()
        };
        let result = e.checkpoint(&id, &request);
        let freezes = f.freezes.lock().unwrap().clone();
        let case = format!("export {export}, failing {failing:?}: {freezes:?}");
        assert_eq!(freezes, expected, "{case}");
        assert_eq!(result.is_err(), !failing.is_empty(), "{case}");
        assert_eq!(archive.exists(), failing.is_empty() && export, "{case}");
        assert_eq!(status(e, &id), status_after, "{case}");
        if let Err(err) = &result {
            let message = err.to_string();
            assert_eq!(
                message.contains("stays paused"),
                failing.contains(&"thaw"),
                "{message}"
            );
            assert_eq!(
                message.contains("the dump failed"),
                failing.contains(&"dump"),
                "{message}"
            );
        }
        e.kill(&id, libc::SIGKILL).unwrap();
    }
}

/// The members of an exported checkpoint, each with its content decompressed.
fn archive_members(archive: &Path) -> HashMap<String, Vec<u8>> {
    let file = std::fs::File::open(archive).unwrap();
    let plain = rpod_engine::image::compression::decompressed(file).unwrap();
    let mut members = HashMap::new();
    for entry in tar::Archive::new(plain).entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        members.insert(name, content);
    }
    members
}

/// The names in a tar.
fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = tar::Archive::new(tar)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    names
}

/// An export holds each volume's content (`volumes/NAME.tar`, podman's layout), compressed
/// as asked. Its import makes a named volume again with that content, and refuses one that
/// is here already unless told to use it as it is (`--ignore-volumes`), as podman's; an
/// anonymous volume is a new one, filled from the archive.
#[test]
fn an_exported_checkpoint_carries_its_volumes_content() {
    let f = fixture();
    let e = &f.engine;
    let options = CreateOptions {
        rootfs: Some(f.rootfs.clone()),
        name: Some("keeper".into()),
        command: vec!["sleep".into(), "1000".into()],
        mounts: vec![
            rpod_engine::mounts::named_volume("data", "/data", &[]).unwrap(),
            rpod_engine::mounts::anonymous_volume("/scratch", &[]).unwrap(),
        ],
        security: rpod_engine::security::SecurityOptions {
            seccomp: rpod_engine::security::SeccompChoice::Unconfined,
            ..Default::default()
        },
        ..Default::default()
    };
    let id = e.create(options).unwrap().id().to_string();
    let anonymous = e.inspect(&id).unwrap().config.mounts[1]
        .volume
        .clone()
        .unwrap();
    std::fs::write(e.volume_mount("data").unwrap().join("kept"), b"named").unwrap();
    std::fs::create_dir(e.volume_mount(&anonymous).unwrap().join("dir")).unwrap();
    e.start(&id, None, None).unwrap();
    let expected_members = |members: &HashMap<String, Vec<u8>>, volumes: bool| {
        let mut names: Vec<&str> = members.keys().map(String::as_str).collect();
        names.sort();
        let mut expected = vec!["checkpoint/", "checkpoint/inventory.img"];
        expected.extend(["checkpoint/network.status", "checkpoint/pages-1.img"]);
        expected.extend(["config.dump", "spec.dump"]);
        if volumes {
            expected.push("volumes/data.tar");
        }
        let volume = format!("volumes/{anonymous}.tar");
        if volumes {
            expected.push(&volume);
        }
        expected.sort();
        assert_eq!(names, expected);
    };
    for (compression, magic) in [
        (
            rpod_engine::ArchiveCompression::Zstd,
            &[0x28, 0xb5, 0x2f, 0xfd][..],
        ),
        (rpod_engine::ArchiveCompression::Gzip, &[0x1f, 0x8b][..]),
        (rpod_engine::ArchiveCompression::None, &b"config.dump"[..]),
    ] {
        let archive = f.dir.path().join(format!("{compression:?}.tar"));
        let request = rpod_engine::CheckpointRequest {
            leave_running: true,
            export: Some(archive.clone()),
            compression,
            ..Default::default()
        };
        e.checkpoint(&id, &request).unwrap();
        assert!(
            std::fs::read(&archive).unwrap().starts_with(magic),
            "{compression:?}"
        );
        let members = archive_members(&archive);
        expected_members(&members, true);
        assert_eq!(tar_names(&members["volumes/data.tar"]), ["kept"]);
        assert_eq!(
            tar_names(&members[&format!("volumes/{anonymous}.tar")]),
            ["dir/"]
        );
    }
    let without = f.dir.path().join("without.tar");
    let request = rpod_engine::CheckpointRequest {
        leave_running: true,
        export: Some(without.clone()),
        ignore_volumes: true,
        ..Default::default()
    };
    e.checkpoint(&id, &request).unwrap();
    expected_members(&archive_members(&without), false);
    // Without an export, --ignore-volumes means nothing: refused.
    let request = rpod_engine::CheckpointRequest {
        leave_running: true,
        ignore_volumes: true,
        ..Default::default()
    };
    let err = e.checkpoint(&id, &request).unwrap_err().to_string();
    assert!(
        err.contains("--ignore-volumes can only be used with --export"),
        "{err}"
    );

    let archive = f.dir.path().join("Zstd.tar");
    let import = |name: &str, ignore_volumes: bool| {
        let request = rpod_engine::RestoreRequest {
            import: Some(archive.clone()),
            name: Some(name.into()),
            ignore_volumes,
            ..Default::default()
        };
        e.restore("", &request)
    };
    // "data" is here: its content would mix with the archive's.
    let err = import("copy", false).unwrap_err().to_string();
    assert!(
        err.contains("volume with name data already exists. Use --ignore-volumes"),
        "{err}"
    );
    assert_eq!(e.list().unwrap().len(), 1);
    let volumes_before = e.volumes().unwrap().len();
    assert_eq!(volumes_before, 2);
    // Told to use it as it is: the copy shares "data", with a new anonymous volume left
    // empty.
    let copy = import("copy", true).unwrap().id;
    let copy_mounts = e.inspect(&copy).unwrap().config.mounts;
    assert_eq!(copy_mounts[0].volume.as_deref(), Some("data"));
    let copy_anonymous = copy_mounts[1].volume.clone().unwrap();
    assert_ne!(copy_anonymous, anonymous);
    let copy_dir = e.volume_mount(&copy_anonymous).unwrap();
    assert_eq!(std::fs::read_dir(copy_dir).unwrap().count(), 0);
    // With "data" gone, the import makes it again from the archive, and fills its new
    // anonymous volume.
    for gone in [&id, &copy] {
        let options = RemoveOptions {
            force: true,
            volumes: true,
            timeout: Some(0),
        };
        e.remove(gone, options).unwrap();
    }
    e.volume_remove("data", false).unwrap();
    assert!(e.volumes().unwrap().is_empty());
    let again = import("again", false).unwrap().id;
    let mounts = e.inspect(&again).unwrap().config.mounts;
    let data = e.volume_mount("data").unwrap();
    assert_eq!(std::fs::read(data.join("kept")).unwrap(), b"named");
    let filled = e
        .volume_mount(mounts[1].volume.as_deref().unwrap())
        .unwrap();
    assert!(filled.join("dir").is_dir());
    e.kill(&again, libc::SIGKILL).unwrap();
}

#[test]
fn exit_codes_and_names() {
    let f = fixture();
    let e = &f.engine;
    let id = f.create("three", &["sh", "-c", "exit 3"]);
    e.start(&id, None, None).unwrap();
    assert_eq!(e.wait(&id).unwrap(), 3);
    let outcome = e
        .wait_for(
            &id,
            &WaitOptions {
                conditions: vec![WaitCondition::State(Status::Exited)],
                ..Default::default()
            },
        )
        .unwrap();
    assert!(matches!(
        outcome,
        WaitOutcome::Met {
            exit_code: Some(3),
            ..
        }
    ));
    let taken = e
        .create(CreateOptions {
            rootfs: Some(f.rootfs.clone()),
            name: Some("three".into()),
            command: vec!["true".into()],
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::Conflict, "{taken}");
    assert!(e
        .create(CreateOptions {
            rootfs: Some(f.rootfs.clone()),
            name: Some("bad name!".into()),
            command: vec!["true".into()],
            ..Default::default()
        })
        .is_err());
    assert_eq!(e.list().unwrap().len(), 1);
}

#[test]
fn one_engine_many_threads_on_a_fake_runtime() {
    let f = fixture();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let engine = f.engine.clone();
            let rootfs = f.rootfs.clone();
            std::thread::spawn(move || {
                for i in 0..6 {
                    let id = engine
                        .create(CreateOptions {
                            rootfs: Some(rootfs.clone()),
                            name: Some(format!("t{t}-{i}")),
                            command: vec!["sleep".into(), "1000".into()],
                            security: rpod_engine::security::SecurityOptions {
                                seccomp: rpod_engine::security::SeccompChoice::Unconfined,
                                ..Default::default()
                            },
                            ..Default::default()
                        })
                        .unwrap()
                        .id()
                        .to_string();
                    engine.start(&id, None, None).unwrap();
                    engine.list().unwrap();
                    engine.stop(&id, Some(0)).unwrap();
                    assert_eq!(engine.wait(&id).unwrap(), 137);
                    engine.remove(&id, FORCED_AT_ONCE).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(f.engine.list().unwrap().is_empty());
}

/// `rm -f` removes a container that another command starts again while the removal stops it
/// (a `restart` or `start` beside it, another request to the service): it is killed again
/// with the lock held, and never left running with "cannot be removed without force".
#[test]
fn a_forced_removal_outlasts_starts_beside_it() {
    let f = fixture();
    for round in 0..6 {
        let id = f.create(&format!("r{round}"), &["sleep", "1000"]);
        f.engine.start(&id, None, None).unwrap();
        let removing = Arc::new(AtomicBool::new(true));
        let starter = {
            let (engine, id, removing) = (f.engine.clone(), id.clone(), removing.clone());
            // Starts it whenever it has stopped, until it is gone.
            std::thread::spawn(move || {
                while removing.load(Ordering::SeqCst) {
                    if let Err(e) = engine.start(&id, None, None) {
                        if e.kind() == ErrorKind::NotFound {
                            break;
                        }
                    }
                }
            })
        };
        let removed = f.engine.remove(&id, FORCED_AT_ONCE);
        removing.store(false, Ordering::SeqCst);
        starter.join().unwrap();
        assert_eq!(removed.unwrap(), id, "round {round}");
        assert_eq!(
            f.engine.lookup(&id).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
}

/// Restarts of one container at the same moment (two scripts, requests to the service) all
/// succeed and leave it running: each one's start may find the container started by
/// another, or being stopped by another.
#[test]
fn restarts_at_the_same_moment_all_succeed() {
    let f = fixture();
    let id = f.create("restarted", &["sleep", "1000"]);
    f.engine.start(&id, None, None).unwrap();
    let restarters: Vec<_> = (0..3)
        .map(|_| {
            let (engine, id) = (f.engine.clone(), id.clone());
            std::thread::spawn(move || {
                for round in 0..4 {
                    let restarted = engine.restart(&id, Some(0));
                    assert!(restarted.is_ok(), "round {round}: {restarted:?}");
                }
            })
        })
        .collect();
    for restarter in restarters {
        restarter.join().unwrap();
    }
    assert_eq!(status(&f.engine, &id), Status::Running);
    f.engine.remove(&id, FORCED_AT_ONCE).unwrap();
}

/// A pod without an infra container (nothing shared, so no image to run) on the fake.
fn pod_without_infra(f: &Fixture, name: &str) -> rpod_engine::pods::PodRecord {
    f.engine
        .create_pod(rpod_engine::PodOptions {
            name: Some(name.into()),
            shared: Some(Vec::new()),
            ..Default::default()
        })
        .unwrap()
}

impl Fixture {
    fn create_in_pod(&self, name: &str, pod: &str) -> rpod_engine::Result<String> {
        let options = CreateOptions {
            rootfs: Some(self.rootfs.clone()),
            name: Some(name.into()),
            command: vec!["sleep".into(), "1000".into()],
            pod: Some(pod.into()),
            security: rpod_engine::security::SecurityOptions {
                seccomp: rpod_engine::security::SeccompChoice::Unconfined,
                ..Default::default()
            },
            ..Default::default()
        };
        self.engine.create(options).map(|r| r.id().to_string())
    }
}

#[test]
fn a_pods_containers_start_stop_and_go_with_it() {
    use rpod_engine::pods::PodStatus;
    let f = fixture();
    let e = &f.engine;
    let pod = pod_without_infra(&f, "crew");
    assert!(!pod.infra && pod.infra_id.is_none() && pod.shared.is_empty());
    let first = f.create_in_pod("crew-a", "crew").unwrap();
    let second = f.create_in_pod("crew-b", &pod.id[..8]).unwrap();
    let view = |e: &Engine| e.pod_view(e.lookup_pod("crew").unwrap()).unwrap();
    assert_eq!(view(e).status, PodStatus::Created);
    assert_eq!(view(e).containers.len(), 2);
    e.pod_start("crew").unwrap();
    assert_eq!(view(e).status, PodStatus::Running);
    e.stop(&first, Some(0)).unwrap();
    assert_eq!(view(e).status, PodStatus::Degraded);
    e.pod_stop("crew", Some(0)).unwrap();
    assert_eq!(view(e).status, PodStatus::Exited);
    e.pod_start("crew").unwrap();
    let err = e.pod_remove("crew", false, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(view(e).containers.len(), 2, "nothing removed");
    let removed = e.pod_remove("crew", true, Some(0)).unwrap();
    assert_eq!(removed.len(), 2);
    for id in [&first, &second] {
        assert_eq!(e.lookup(id).unwrap_err().kind(), ErrorKind::NotFound);
    }
    assert!(matches!(
        e.lookup_pod("crew").unwrap_err(),
        EngineError::NoSuchPod(_)
    ));
    let err = f.create_in_pod("late", "crew").unwrap_err();
    assert!(matches!(err, EngineError::NoSuchPod(_)), "{err}");
}

/// A pod's operation that some of its containers fail names each with its own reason, and
/// says nothing more after them (no kind of its own repeated after the last reason).
#[test]
fn a_pods_failed_start_names_each_container_and_its_reason() {
    let f = fixture_of(false, &["create"]);
    pod_without_infra(&f, "crew");
    f.create_in_pod("crew-a", "crew").unwrap();
    let err = f.engine.pod_start("crew").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let own = f
        .engine
        .start("crew-a", None, None)
        .unwrap_err()
        .to_string();
    assert!(own.starts_with("fake: no create today"), "{own}");
    assert_eq!(
        err.to_string(),
        format!("start of pod crew failed for 1 container(s):\ncrew-a: {own}")
    );
}

/// Restarts of one pod at the same moment all succeed and leave its containers running,
/// as restarts of one container do.
#[test]
fn pod_restarts_at_the_same_moment_all_succeed() {
    use rpod_engine::pods::PodStatus;
    let f = fixture();
    pod_without_infra(&f, "crew");
    f.create_in_pod("crew-a", "crew").unwrap();
    f.create_in_pod("crew-b", "crew").unwrap();
    f.engine.pod_start("crew").unwrap();
    let restarters: Vec<_> = (0..3)
        .map(|_| {
            let engine = f.engine.clone();
            std::thread::spawn(move || {
                for round in 0..4 {
                    let restarted = engine.pod_restart("crew", Some(0));
                    assert!(restarted.is_ok(), "round {round}: {restarted:?}");
                }
            })
        })
        .collect();
    for restarter in restarters {
        restarter.join().unwrap();
    }
    let view = f
        .engine
        .pod_view(f.engine.lookup_pod("crew").unwrap())
        .unwrap();
    assert_eq!(view.status, PodStatus::Running);
    f.engine.pod_remove("crew", true, Some(0)).unwrap();
}

/// `on_a_thread` (on a thread of its own) and `here` let go at the same moment; both
/// results.
fn at_the_same_moment<A: Send + 'static, B>(
    f: &Fixture,
    on_a_thread: impl FnOnce(&Engine) -> A + Send + 'static,
    here: impl FnOnce(&Engine) -> B,
) -> (A, B) {
    let both = Arc::new(std::sync::Barrier::new(2));
    let (engine, together) = (f.engine.clone(), both.clone());
    let thread = std::thread::spawn(move || {
        together.wait();
        on_a_thread(&engine)
    });
    both.wait();
    let here = here(&f.engine);
    (thread.join().unwrap(), here)
}

/// A pod's start and stop at the same moment go one after the other: both succeed, and
/// the pod is then running or stopped as a whole, never with some of its containers up
/// and others down (or a start failing for a member the stop stopped under it).
#[test]
fn a_pods_start_beside_its_stop_leaves_it_whole() {
    use rpod_engine::pods::PodStatus;
    let f = fixture();
    pod_without_infra(&f, "crew");
    for name in ["crew-a", "crew-b", "crew-c", "crew-d"] {
        f.create_in_pod(name, "crew").unwrap();
    }
    for round in 0..24 {
        let (started, stopped) = at_the_same_moment(
            &f,
            |e| e.pod_start("crew").map(drop),
            |e| e.pod_stop("crew", Some(0)),
        );
        assert!(started.is_ok(), "round {round}: {started:?}");
        assert!(stopped.is_ok(), "round {round}: {stopped:?}");
        let view = f
            .engine
            .pod_view(f.engine.lookup_pod("crew").unwrap())
            .unwrap();
        assert!(
            matches!(view.status, PodStatus::Running | PodStatus::Exited),
            "round {round}: {:?}",
            view.status
        );
    }
    f.engine.pod_remove("crew", true, Some(0)).unwrap();
}

/// A network's removal beside the making of a container on it, or a connection to it: the
/// container is refused (no such network) or the removal is (in use), never both let
/// through, which would leave a container on a network that is gone (its start failing
/// ever after).
#[test]
fn no_container_is_made_on_a_network_being_removed() {
    use rpod_engine::container::{NetworkJoin, NetworkMode};
    let f = fixture();
    for round in 0..16 {
        let request = rpod_engine::network::definitions::NetworkRequest {
            name: "lab".into(),
            ..Default::default()
        };
        f.engine.network_create(request).unwrap();
        let mut options = CreateOptions {
            rootfs: Some(f.rootfs.clone()),
            name: Some(format!("on-lab-{round}")),
            command: vec!["true".into()],
            network: Some(NetworkMode::Bridge),
            ..Default::default()
        };
        options.net.networks.push(NetworkJoin {
            name: "lab".into(),
            ..Default::default()
        });
        let (made, removed) = at_the_same_moment(
            &f,
            |e| e.create(options).map(|record| record.id().to_string()),
            |e| e.network_remove("lab", false, None),
        );
        assert!(
            made.is_err() || removed.is_err(),
            "round {round}: a container was made on a network removed beside it"
        );
        if let Ok(id) = made {
            f.engine.remove(&id, Default::default()).unwrap();
            f.engine.network_remove("lab", false, None).unwrap();
        }
    }
    // The same for a connection of a container made before.
    let mut options = CreateOptions {
        rootfs: Some(f.rootfs.clone()),
        name: Some("standby".into()),
        command: vec!["true".into()],
        network: Some(NetworkMode::Bridge),
        ..Default::default()
    };
    options.net.networks.push(NetworkJoin {
        name: f.engine.default_network_name().into(),
        ..Default::default()
    });
    f.engine.create(options).unwrap();
    for round in 0..16 {
        let request = rpod_engine::network::definitions::NetworkRequest {
            name: "lab".into(),
            ..Default::default()
        };
        f.engine.network_create(request).unwrap();
        let (connected, removed) = at_the_same_moment(
            &f,
            |e| e.network_connect("lab", "standby", NetworkJoin::default()),
            |e| e.network_remove("lab", false, None),
        );
        assert!(
            connected.is_err() || removed.is_err(),
            "round {round}: a container was connected to a network removed beside it"
        );
        if connected.is_ok() {
            f.engine.network_disconnect("lab", "standby").unwrap();
            f.engine.network_remove("lab", false, None).unwrap();
        }
    }
}

/// The same for a volume: a container made with a volume at the moment the volume is
/// removed either makes it anew (the removal went first) or has the removal refused (in
/// use); never is a container recorded with a volume that is gone, nor do the two meet
/// halfway (a removal failing on a directory the making filled).
#[test]
fn no_container_is_recorded_with_a_volume_being_removed() {
    let f = fixture();
    for round in 0..16 {
        f.engine
            .volume_create(Some("vault".into()), Default::default(), Default::default())
            .unwrap();
        let options = CreateOptions {
            rootfs: Some(f.rootfs.clone()),
            name: Some(format!("with-vault-{round}")),
            command: vec!["true".into()],
            mounts: vec![rpod_engine::mounts::named_volume("vault", "/v", &[]).unwrap()],
            ..Default::default()
        };
        let (made, removed) = at_the_same_moment(
            &f,
            |e| e.create(options).map(|record| record.id().to_string()),
            |e| e.volume_remove("vault", false),
        );
        let id = made.unwrap();
        match removed {
            // Removed first: the container made the volume anew.
            Ok(()) => {}
            Err(EngineError::VolumeInUse { .. }) => {}
            Err(e) => panic!("round {round}: {e}"),
        }
        assert!(
            f.engine.volume("vault").is_ok(),
            "round {round}: the container's volume is gone"
        );
        f.engine.remove(&id, Default::default()).unwrap();
        f.engine.volume_remove("vault", false).unwrap();
    }
}

#[test]
fn no_container_joins_a_pod_while_it_is_removed() {
    // Containers made while their pod is removed are removed with it, or refused: none is
    // left belonging to a pod that is gone.
    let f = fixture();
    for round in 0..4 {
        let name = format!("busy{round}");
        pod_without_infra(&f, &name);
        f.create_in_pod(&format!("{name}-first"), &name).unwrap();
        std::thread::scope(|scope| {
            for n in 0..6 {
                let (f, name) = (&f, &name);
                scope.spawn(
                    move || match f.create_in_pod(&format!("{name}-{n}"), name) {
                        Ok(_) | Err(EngineError::NoSuchPod(_)) => {}
                        Err(e) => panic!("{e}"),
                    },
                );
            }
            scope.spawn(|| f.engine.pod_remove(&name, true, Some(0)).unwrap());
        });
        let left: Vec<String> = f
            .engine
            .list()
            .unwrap()
            .into_iter()
            .filter(|r| r.config.name.starts_with(&name))
            .map(|r| r.config.name)
            .collect();
        assert!(left.is_empty(), "left in a removed pod: {left:?}");
    }
}

#[test]
fn a_pod_whose_infra_container_was_never_made_takes_no_container() {
    // What a crash between the pod's record and its infra container leaves.
    let f = fixture();
    let store =
        rpod_engine::store::Store::open(&f.dir.path().join("root").join("rpod.db")).unwrap();
    let pod = rpod_engine::pods::PodRecord {
        id: "ab".repeat(32),
        name: "halfmade".into(),
        created: chrono::Utc::now(),
        labels: Default::default(),
        infra_id: None,
        infra: true,
        shared: rpod_engine::pods::SharedNamespace::defaults(),
        hostname: "halfmade".into(),
        create_command: Vec::new(),
        exit_policy: Default::default(),
        cgroup: None,
        cgroup_parent: None,
        limits: Default::default(),
    };
    store.insert_pod(&pod).unwrap();
    drop(store);
    let err = f.create_in_pod("joiner", "halfmade").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("no infra container yet"), "{err}");
    assert_eq!(
        f.engine.lookup("joiner").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    f.engine.pod_remove("halfmade", false, None).unwrap();
    assert!(matches!(
        f.engine.lookup_pod("halfmade").unwrap_err(),
        EngineError::NoSuchPod(_)
    ));
}

/// The default network is refused by a removal, forced or not, by name or ID, and is not
/// made by a refusal when it did not exist yet; a reset removes it.
#[test]
fn the_default_network_goes_with_a_reset_only() {
    let f = fixture();
    let default = f.engine.default_network_name().to_string();
    let definition = f
        .dir
        .path()
        .join("root/networks")
        .join(format!("{default}.json"));
    let refused = |name: &str, force: bool| {
        let err = f.engine.network_remove(name, force, None).unwrap_err();
        assert!(
            matches!(&err, EngineError::DefaultNetwork(n) if *n == default),
            "{name}: {err}"
        );
        assert_eq!(
            err.to_string(),
            format!("default network {default} cannot be removed")
        );
    };
    refused(&default, false);
    assert!(!definition.exists(), "a refusal made the default network");
    let made = f.engine.network(&default).unwrap();
    assert!(definition.exists());
    refused(&default, false);
    refused(&default, true);
    refused(&made.id, true);
    refused(&made.id[..12], false);
    assert!(f
        .engine
        .networks()
        .unwrap()
        .iter()
        .any(|n| n.name == default));
    let report = f.engine.reset().unwrap();
    assert_eq!(report.networks, vec![default]);
    assert!(!definition.exists(), "a reset kept the default network");
}
