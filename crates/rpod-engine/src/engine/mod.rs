//! The engine: container lifecycle over the state store, the per-container locks and an
//! [`OciRuntime`]. Every operation that changes a container takes its lock, re-reads its
//! record, syncs it from the monitor's files, decides, acts, and saves in one transaction.

mod exec;
mod images;
mod leftovers;
mod wait;

pub use wait::{WaitCondition, WaitOptions, WaitOutcome};

pub use images::ImageRemoval;

pub use exec::{ExecRequest, ExecStarted};

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use rpod_oci::exitfile::{read_exit_file, wait_exit_file};
use rpod_oci::process::pid_alive;
use rpod_oci::{AttachSession, LogDriver, OciContainer, OciRuntime, RuntimeConfig, TerminalSize};

use crate::container::*;
use crate::image::{self, ImageRecord};
use crate::lock::ContainerLock;
use crate::names::{random_id, random_name, valid_name};
use crate::paths::Roots;
use crate::rootfs::{self, OverlayDirs};
use crate::scratch;
use crate::spec;
use crate::store::Store;
use crate::{EngineError, Result};

/// Default seconds between the stop signal and SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: u32 = 10;
/// How long the exit file may take to appear once the container's process is gone.
const EXIT_FILE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the monitor may take to finish (it runs the cleanup command) after the exit.
const MONITOR_EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest pause between checks while waiting for a container nothing can be waited on.
pub(super) const WAIT_BACKOFF_MAX_MS: u64 = 300;
/// Checks (about 3 s) after which a container whose process is gone and whose monitor is
/// unknown counts as exited with an unknown code.
pub(super) const UNKNOWN_MONITOR_ROUNDS: u32 = 15;

const BOOT_ID_FILE: &str = "/proc/sys/kernel/random/boot_id";

/// How to open an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub root: PathBuf,
    pub runroot: PathBuf,
    /// Default runtime: a name (`runc`, `crun`) or a path.
    pub runtime: String,
    pub conmon: Option<PathBuf>,
    /// Log level name (`error`, `warn`, `info`, `debug`), passed on to conmon and cleanup.
    pub log_level: String,
    /// The rpod executable that conmon runs as the exit command.
    pub exe: PathBuf,
}

/// What `create` takes (the CLI's flags, parsed).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: Option<String>,
    pub rootfs: Option<PathBuf>,
    pub name: Option<String>,
    pub command: Vec<String>,
    /// `Some(vec![])` clears the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<i32>,
    pub stop_timeout: Option<u32>,
    pub memory: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub read_only: bool,
    pub network: NetworkMode,
    pub runtime: Option<String>,
    pub auto_remove: bool,
    pub log_to_file: bool,
    /// Allocate a terminal for the container (`-t`).
    pub terminal: bool,
    /// Keep the container's stdin open (`-i`).
    pub stdin: bool,
    pub security: crate::security::SecurityOptions,
}

/// Runs once the monitor is up and before the container's process starts.
pub type BeforeStart<'a> = dyn FnMut(&ContainerRecord) -> Result<()> + 'a;

#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    pub force: bool,
    /// Seconds to wait for a forced stop; the container's stop timeout when `None`.
    pub timeout: Option<u32>,
}

/// Makes the runtime for a name or path: `rpod_oci::monitored_runtime` unless another is
/// injected (a fake one in tests, another monitor later).
pub type RuntimeMaker =
    dyn Fn(RuntimeConfig) -> rpod_oci::Result<Arc<dyn OciRuntime>> + Send + Sync;

pub struct Engine {
    options: EngineOptions,
    roots: Roots,
    store: Store,
    make_runtime: Arc<RuntimeMaker>,
    /// Runtimes by the name or path they were asked for, made on first use.
    runtimes: Mutex<HashMap<String, Arc<dyn OciRuntime>>>,
}

/// Whether `path` is on a file system mounted read-only.
fn is_read_only(path: &Path) -> bool {
    nix::sys::statvfs::statvfs(path)
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false)
}

/// A store whose database is missing or empty while containers or images are on disk lost
/// its database (truncated, deleted): opening it would silently show an empty store and
/// let new records collide with the old files. Refuse, and say how to recover.
fn check_database_present(roots: &Roots) -> Result<()> {
    let database = roots.database();
    let size = fs::metadata(&database).map(|m| m.len()).unwrap_or(0);
    if size > 0 {
        return Ok(());
    }
    let count = |dir: PathBuf| fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    let containers = count(roots.root.join("containers"));
    let images = count(roots.images().join("configs"));
    if containers == 0 && images == 0 {
        return Ok(());
    }
    Err(EngineError::InvalidArg(format!(
        "the state database {} is {} but the store holds {containers} container and {images} image directories: it was truncated or deleted. Restore it from a backup, or move {} aside to start with an empty store",
        database.display(),
        if database.exists() { "empty" } else { "missing" },
        roots.root.display()
    )))
}

fn conmon_log_level(level: &str) -> &'static str {
    match level {
        "trace" | "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warning",
        _ => "error",
    }
}

// Many threads (and later async tasks) share one engine.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Engine>();
};

impl Engine {
    /// Open (creating if needed) the store under the two roots, and reconcile after a reboot.
    pub fn open(options: EngineOptions) -> Result<Self> {
        Self::open_with_runtimes(options, Arc::new(rpod_oci::monitored_runtime))
    }

    /// Open with runtimes made by `make_runtime` instead of the default.
    pub fn open_with_runtimes(
        options: EngineOptions,
        make_runtime: Arc<RuntimeMaker>,
    ) -> Result<Self> {
        let roots = Roots {
            root: options.root.clone(),
            runroot: options.runroot.clone(),
        };
        let read_only = is_read_only(&roots.root);
        if !read_only {
            roots.make_private()?;
            scratch::clean_stale(&roots.tmp());
        }
        check_database_present(&roots)?;
        let (store, reset) = if read_only {
            // Read-only commands (ps, images, inspect, logs) still work; the rest fail on
            // their first write with the database's own message.
            (Store::open_read_only(&roots.database())?, Vec::new())
        } else {
            let store = Store::open(&roots.database())?;
            roots.make_database_private()?;
            let boot_id = fs::read_to_string(BOOT_ID_FILE)
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            let reset = store.reconcile_boot(&boot_id)?;
            (store, reset)
        };
        let engine = Engine {
            options,
            roots,
            store,
            make_runtime,
            runtimes: Mutex::new(HashMap::new()),
        };
        if !reset.is_empty() {
            tracing::info!(
                containers = reset.len(),
                "the system rebooted: containers that were running are now exited"
            );
            engine.forget_previous_boot(&reset);
        }
        Ok(engine)
    }

    /// A run root that is not on tmpfs keeps the runtime's state and our mounts' records
    /// across a reboot: clear what the previous boot left so the containers can start again.
    fn forget_previous_boot(&self, reset: &[ContainerRecord]) {
        for record in reset {
            if let Ok(runtime) = self.runtime(&record.config.runtime) {
                let _ = runtime.delete_container(&self.oci_container(record));
            }
            let _ = self.unmount_rootfs(record);
        }
    }

    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// The runtime for a name or path, created on first use.
    pub fn runtime(&self, name: &str) -> Result<Arc<dyn OciRuntime>> {
        let mut runtimes = self.runtimes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(runtime) = runtimes.get(name) {
            return Ok(runtime.clone());
        }
        let base = Path::new(name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string());
        let runtime = (self.make_runtime)(RuntimeConfig {
            runtime: name.to_string(),
            conmon: self.options.conmon.clone(),
            tmp_dir: self.roots.monitor_tmp(),
            state_root: Some(self.roots.runtime_state(&base)),
            runtime_flags: Vec::new(),
            log_level: conmon_log_level(&self.options.log_level).to_string(),
        })?;
        runtimes.insert(name.to_string(), runtime.clone());
        Ok(runtime)
    }

    pub fn default_runtime(&self) -> Result<Arc<dyn OciRuntime>> {
        let name = self.options.runtime.clone();
        self.runtime(&name)
    }

    /// The command conmon runs when the container (or one of its exec sessions) exits.
    fn exit_command(&self, id: &str, exec_session: Option<&str>) -> Vec<String> {
        let mut command = vec![
            self.options.exe.display().to_string(),
            "--root".into(),
            self.roots.root.display().to_string(),
            "--runroot".into(),
            self.roots.runroot.display().to_string(),
            "--log-level".into(),
            self.options.log_level.clone(),
        ];
        if let Some(conmon) = &self.options.conmon {
            command.push("--conmon".into());
            command.push(conmon.display().to_string());
        }
        command.extend(["container".into(), "cleanup".into()]);
        if let Some(session) = exec_session {
            command.extend(["--exec".into(), session.to_string()]);
        }
        command.push(id.to_string());
        command
    }

    /// What the runtime layer needs to know about a container.
    pub fn oci_container(&self, record: &ContainerRecord) -> OciContainer {
        let id = record.id();
        OciContainer {
            id: id.to_string(),
            name: record.config.name.clone(),
            bundle_dir: self.roots.bundle_dir(id),
            run_dir: self.roots.run_dir(id),
            log_driver: if record.config.log_to_file {
                LogDriver::KubeFile(self.roots.log_path(id))
            } else {
                LogDriver::None
            },
            terminal: record.config.terminal,
            stdin: record.config.stdin,
            stop_signal: record.config.stop_signal,
            pid: record.state.pid,
            conmon_pid: record.state.conmon_pid,
            exit_command: self.exit_command(id, None),
            pid_namespace: true,
            cgroups: true,
        }
    }

    fn lock(&self, id: &str) -> Result<ContainerLock> {
        ContainerLock::acquire(&self.roots.lock_dir(), id, &self.roots.container_dir(id))
    }

    /// Re-read a container after taking its lock; it may have been removed meanwhile.
    fn reload(&self, id: &str, asked_as: &str) -> Result<ContainerRecord> {
        self.store
            .container(id)?
            .ok_or_else(|| EngineError::NoSuchContainer(asked_as.to_string()))
    }

    pub fn lookup(&self, name_or_id: &str) -> Result<ContainerRecord> {
        self.store.lookup_container(name_or_id)
    }

    fn save(&self, record: &ContainerRecord) -> Result<()> {
        if !self.store.save_state(record.id(), &record.state)? {
            return Err(EngineError::NoSuchContainer(record.id().to_string()));
        }
        Ok(())
    }

    // ----- create -----

    pub fn create(&self, options: CreateOptions) -> Result<ContainerRecord> {
        let runtime_name = options
            .runtime
            .clone()
            .unwrap_or_else(|| self.options.runtime.clone());
        // Fail now, not at start, when the runtime or conmon is missing, or the seccomp
        // profile cannot be had.
        self.runtime(&runtime_name)?;
        options.security.seccomp()?;

        // Held until the container is recorded: its image cannot be removed meanwhile.
        let image_lock = match options.image {
            Some(_) => Some(self.image_lock()?),
            None => None,
        };
        let (image, image_config) = match (&options.image, &options.rootfs) {
            (_, Some(dir)) => {
                if !dir.is_dir() {
                    return Err(EngineError::InvalidArg(format!(
                        "--rootfs {}: not a directory",
                        dir.display()
                    )));
                }
                (None, None)
            }
            (Some(name), None) => {
                let record = image::resolve(&self.store, name)?;
                let config = image::config(&self.roots, &record.id)?;
                (Some((record, name.clone())), config.config().clone())
            }
            (None, None) => {
                return Err(EngineError::InvalidArg(
                    "an image or --rootfs is required".into(),
                ))
            }
        };
        let image_cfg = image_config.unwrap_or_default();

        let entrypoint = match &options.entrypoint {
            Some(e) => e.clone(),
            None => image_cfg.entrypoint().clone().unwrap_or_default(),
        };
        let cmd = if !options.command.is_empty() {
            options.command.clone()
        } else if options.entrypoint.is_some() {
            Vec::new()
        } else {
            image_cfg.cmd().clone().unwrap_or_default()
        };
        let entrypoint_len = entrypoint.len();
        let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        if args.is_empty() {
            return Err(EngineError::InvalidArg(
                "no command or entrypoint provided, and no CMD or ENTRYPOINT from image".into(),
            ));
        }

        let mut env: Vec<String> = image_cfg.env().clone().unwrap_or_default();
        for entry in &options.env {
            let key = entry.split('=').next().unwrap_or(entry);
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(entry.clone());
        }
        let mut labels: BTreeMap<String, String> = image_cfg
            .labels()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        labels.extend(options.labels.clone());
        let stop_signal = match options.stop_signal {
            Some(signal) => signal,
            None => match image_cfg.stop_signal() {
                Some(text) => rpod_oci::signal::parse_signal(text).unwrap_or(libc::SIGTERM),
                None => libc::SIGTERM,
            },
        };

        let id = random_id();
        let name = match &options.name {
            Some(name) => {
                if !valid_name(name) {
                    return Err(EngineError::InvalidArg(format!(
                        "container name {name:?} must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
                    )));
                }
                name.clone()
            }
            None => random_name(),
        };
        let (image_id, image_name) = match &image {
            Some((record, asked)) => {
                let names = self.store.image_names(&record.id)?;
                let resolved = image::reference::lookup_candidates(asked)
                    .ok()
                    .and_then(|c| c.into_iter().find(|n| names.contains(n)))
                    .or_else(|| names.first().cloned())
                    .unwrap_or_else(|| record.id.clone());
                (record.id.clone(), resolved)
            }
            None => (String::new(), String::new()),
        };
        let config = ContainerConfig {
            hostname: options
                .hostname
                .clone()
                .unwrap_or_else(|| id[..12].to_string()),
            id,
            name,
            image_id,
            image_name,
            rootfs: options.rootfs.clone(),
            entrypoint: options.entrypoint.clone(),
            cmd: options.command.clone(),
            args,
            entrypoint_len,
            env,
            workdir: options
                .workdir
                .clone()
                .or_else(|| image_cfg.working_dir().clone())
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            user: options
                .user
                .clone()
                .or_else(|| image_cfg.user().clone())
                .unwrap_or_default(),
            labels,
            stop_signal,
            stop_timeout: options.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
            memory: options.memory,
            cpus: options.cpus,
            pids_limit: options.pids_limit,
            read_only: options.read_only,
            network: options.network,
            runtime: runtime_name,
            auto_remove: options.auto_remove,
            log_to_file: options.log_to_file,
            terminal: options.terminal,
            stdin: options.stdin,
            created: Utc::now(),
            security: options.security.clone(),
        };
        let mut record = ContainerRecord {
            config,
            state: ContainerState::new(),
        };
        let needs_random_name = options.name.is_none();
        loop {
            match self.store.insert_container(&record) {
                Ok(()) => break,
                Err(EngineError::NameInUse { .. }) if needs_random_name => {
                    record.config.name = random_name();
                }
                Err(e) => return Err(e),
            }
        }
        let bundle = self.roots.bundle_dir(record.id());
        if let Err(e) = fs::create_dir_all(&bundle) {
            let _ = self.store.remove_container(record.id());
            return Err(EngineError::io("creating directory", &bundle, e));
        }
        drop(image_lock);
        Ok(record)
    }

    // ----- init / start -----

    /// The root file system's path, mounting the overlay when the container uses an image.
    /// Where the container's root file system is (mounted or not).
    fn root_path(&self, record: &ContainerRecord) -> PathBuf {
        match &record.config.rootfs {
            Some(dir) => dir.clone(),
            None => OverlayDirs::new(&self.roots.overlay_dir(record.id())).merged,
        }
    }

    fn mount_rootfs(&self, record: &ContainerRecord) -> Result<PathBuf> {
        if record.config.rootfs.is_some() {
            return Ok(self.root_path(record));
        }
        let image = self
            .store
            .image(&record.config.image_id)?
            .ok_or_else(|| EngineError::NoSuchImage(record.config.image_id.clone()))?;
        let dirs = image::layer_dirs(&self.roots);
        let lower: Vec<PathBuf> = image.layers.iter().map(|l| dirs.dir(l)).collect();
        let overlay = OverlayDirs::new(&self.roots.overlay_dir(record.id()));
        rootfs::mount_overlay(&lower, &overlay)?;
        Ok(overlay.merged)
    }

    fn unmount_rootfs(&self, record: &ContainerRecord) -> Result<()> {
        if record.config.rootfs.is_some() {
            return Ok(());
        }
        rootfs::unmount(&self.root_path(record))
    }

    /// Create the container in the runtime (state Created). Called under the lock.
    fn init(&self, record: &mut ContainerRecord, console_size: Option<TerminalSize>) -> Result<()> {
        self.remove_leftovers(record)?;
        let root_path = self.mount_rootfs(record)?;
        record.state.mounted = true;
        let result = (|| {
            let user = spec::resolve_user(&root_path, &record.config.user)?;
            spec::check_workdir(&root_path, record.id(), &record.config.workdir)?;
            let spec = spec::generate(&record.config, &root_path, &user, console_size)?;
            let bundle = self.roots.bundle_dir(record.id());
            fs::create_dir_all(&bundle)
                .map_err(|e| EngineError::io("creating directory", &bundle, e))?;
            let spec_path = bundle.join("config.json");
            let json = serde_json::to_vec_pretty(&spec)
                .map_err(|e| EngineError::InvalidArg(format!("serializing the spec: {e}")))?;
            fs::write(&spec_path, json).map_err(|e| EngineError::io("writing", &spec_path, e))?;
            let runtime = self.runtime(&record.config.runtime)?;
            let outcome = runtime.create_container(&self.oci_container(record), None)?;
            Ok(outcome)
        })();
        match result {
            Ok(outcome) => {
                record.state.status = Status::Created;
                record.state.pid = outcome.pid;
                record.state.conmon_pid = outcome.conmon_pid;
                record.state.exit_code = None;
                record.state.oom_killed = false;
                record.state.finished_at = None;
                record.state.error.clear();
                record.state.stopped_by_user = false;
                self.save(record)
            }
            Err(e) => {
                let _ = self.unmount_rootfs(record);
                record.state.mounted = false;
                let _ = self.save(record);
                Err(e)
            }
        }
    }

    /// Start a container, creating it in the runtime first when needed. `before_start` runs
    /// once the monitor is up and before the process starts (e.g. to connect to the attach
    /// socket, so that no output is lost).
    /// `console_size` is the terminal's size for `-t` containers, set before the process
    /// starts.
    pub fn start(
        &self,
        name_or_id: &str,
        console_size: Option<TerminalSize>,
        before_start: Option<&mut BeforeStart<'_>>,
    ) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        match record.state.status {
            Status::Running => return Ok(record),
            Status::Stopped => self.cleanup_runtime(&mut record)?,
            Status::Configured | Status::Exited | Status::Created => {}
            other => {
                return Err(EngineError::state(
                    record.id(),
                    format!(
                        "container {} is {}, it cannot be started",
                        record.id(),
                        other.as_str()
                    ),
                ))
            }
        }
        let was_created = record.state.status == Status::Created;
        if !was_created {
            self.init(&mut record, console_size)?;
        } else if let (true, Some(size)) = (record.config.terminal, console_size) {
            // Created earlier with another size: resize before the process starts.
            let runtime = self.runtime(&record.config.runtime)?;
            runtime.attach_resize(&self.oci_container(&record), size)?;
        }
        if let Some(hook) = before_start {
            hook(&record)?;
        }
        let runtime = self.runtime(&record.config.runtime)?;
        if let Err(e) = runtime.start_container(&self.oci_container(&record)) {
            // A start that was killed after the runtime started the process, before it
            // could record that: the container runs, and this start has nothing to do.
            if was_created
                && pid_alive(record.state.pid)
                && rpod_oci::process::in_container_cgroup(record.state.pid, record.id())
            {
                tracing::info!(
                    id = record.id(),
                    "the container was started by an interrupted command"
                );
                record.state.status = Status::Running;
                record.state.started_at = Some(Utc::now());
                self.save(&record)?;
                return Ok(record);
            }
            // Leave nothing half-started behind: the next start creates it afresh.
            let _ = runtime.delete_container(&self.oci_container(&record));
            let _ = self.unmount_rootfs(&record);
            record.state.status = Status::Configured;
            record.state.mounted = false;
            record.state.pid = 0;
            record.state.conmon_pid = 0;
            self.save(&record)?;
            return Err(e.into());
        }
        record.state.status = Status::Running;
        record.state.started_at = Some(Utc::now());
        self.save(&record)?;
        Ok(record)
    }

    // ----- syncing from the monitor -----

    fn exit_file(&self, record: &ContainerRecord) -> Result<PathBuf> {
        let runtime = self.runtime(&record.config.runtime)?;
        Ok(runtime.exit_file_path(&self.oci_container(record))?)
    }

    fn oom_file(&self, record: &ContainerRecord) -> Result<PathBuf> {
        let runtime = self.runtime(&record.config.runtime)?;
        Ok(runtime.oom_file_path(&self.oci_container(record))?)
    }

    /// Apply an exit file's content to the state.
    fn record_exit(
        &self,
        record: &mut ContainerRecord,
        code: i32,
        finished: DateTime<Utc>,
    ) -> Result<()> {
        let oom_file = self.oom_file(record)?;
        record.state.status = Status::Stopped;
        record.state.pid = 0;
        record.state.conmon_pid = 0;
        record.state.exit_code = Some(code);
        record.state.finished_at = Some(finished);
        record.state.oom_killed = oom_file.exists();
        self.save(record)?;
        self.store.save_exit_code(record.id(), code)
    }

    /// Bring the state up to date from the exit file and the monitor's liveness. Called
    /// under the lock. When the monitor died without an exit file and the container's
    /// process is gone too, the exit is recorded with an unknown code (-1).
    fn sync(&self, record: &mut ContainerRecord) -> Result<()> {
        if !record.state.status.is_active() {
            return Ok(());
        }
        self.repair_interrupted_stop(record)?;
        let exit_file = self.exit_file(record)?;
        if let Some(exit) = read_exit_file(&exit_file)? {
            return self.record_exit(record, exit.code, exit.finished.into());
        }
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        if !runtime.check_conmon_running(&oci)? {
            // The monitor may have written the file just before it went away.
            if let Some(exit) = read_exit_file(&exit_file)? {
                return self.record_exit(record, exit.code, exit.finished.into());
            }
            if !pid_alive(record.state.pid) {
                self.record_monitor_death(record)?;
            }
        }
        Ok(())
    }

    /// A stop whose process died (killed, or the machine's OOM killer) leaves `Stopping`
    /// behind: while the container still runs, it is running again.
    fn repair_interrupted_stop(&self, record: &mut ContainerRecord) -> Result<()> {
        let state = &record.state;
        if state.status != Status::Stopping
            || state.stopping_pid <= 0
            || rpod_oci::process::same_process_alive(state.stopping_pid, state.stopping_start)
            || !pid_alive(state.pid)
        {
            return Ok(());
        }
        tracing::info!(
            id = record.id(),
            "the stop of this container was interrupted; it still runs"
        );
        record.state.status = Status::Running;
        record.state.stopping_pid = 0;
        record.state.stopping_start = 0;
        self.save(record)
    }

    /// The monitor is gone and will never write the exit file.
    fn record_monitor_death(&self, record: &mut ContainerRecord) -> Result<()> {
        tracing::warn!(
            id = record.id(),
            "conmon died without writing an exit file; the container's exit code is unknown"
        );
        record.state.status = Status::Stopped;
        record.state.pid = 0;
        record.state.conmon_pid = 0;
        record.state.exit_code = Some(-1);
        record.state.finished_at = Some(Utc::now());
        record.state.error =
            "conmon died without writing exit file, container exit code could not be retrieved"
                .into();
        self.save(record)?;
        self.store.save_exit_code(record.id(), -1)
    }

    /// The monitor is dead but the container may still run: kill what is left of it and
    /// record the exit as unknown. Called under the lock.
    fn handle_dead_monitor(&self, record: &mut ContainerRecord) -> Result<()> {
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        if record.state.status == Status::Paused {
            let _ = kill_frozen(runtime.as_ref(), &oci);
        }
        if let Err(e) = runtime.stop_container(&oci, 0, oci.stop_with_all()) {
            tracing::warn!(id = record.id(), %e, "killing a container whose monitor died");
        }
        if let Some(exit) = read_exit_file(&self.exit_file(record)?)? {
            return self.record_exit(record, exit.code, exit.finished.into());
        }
        self.record_monitor_death(record)
    }

    /// Remove the container from the runtime and unmount its root (Stopped → Exited,
    /// Created → Configured). Called under the lock.
    fn cleanup_runtime(&self, record: &mut ContainerRecord) -> Result<()> {
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        if record.state.status.known_to_runtime() {
            if let Err(e) = runtime.delete_container(&oci) {
                // Already gone from the runtime is what we want.
                tracing::debug!(id = record.id(), %e, "runtime delete");
            }
        }
        // Exec sessions die with the container.
        for session in self.store.exec_sessions_of(record.id())? {
            let _ = runtime.exec_remove(&oci, &session.id);
        }
        self.store.remove_exec_sessions(None, record.id())?;
        self.unmount_rootfs(record)?;
        record.state.mounted = false;
        record.state.status = match record.state.status {
            Status::Stopped => Status::Exited,
            Status::Created => Status::Configured,
            other => other,
        };
        record.state.pid = 0;
        record.state.conmon_pid = 0;
        self.save(record)
    }

    /// What conmon's exit command runs: record the exit, clean the runtime up, and remove
    /// `--rm` containers.
    pub fn cleanup(&self, name_or_id: &str) -> Result<()> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let Some(mut record) = self.store.container(found.id())? else {
            return Ok(());
        };
        self.sync(&mut record)?;
        self.finish_exited(&mut record)
    }

    /// Once a container has exited: clean the runtime up, and remove `--rm` containers.
    /// Called under the lock.
    fn finish_exited(&self, record: &mut ContainerRecord) -> Result<()> {
        if record.state.status == Status::Stopped {
            self.cleanup_runtime(record)?;
        }
        if record.state.status == Status::Exited && record.config.auto_remove {
            self.remove_locked(record)?;
        }
        Ok(())
    }

    // ----- stop / kill -----

    /// Wait, without the lock, for the container's exit to be recorded and for its monitor
    /// (which runs the cleanup) to finish; then sync under the lock.
    fn wait_for_exit(&self, id: &str, conmon_pid: i32) -> Result<()> {
        let Some(record) = self.store.container(id)? else {
            return Ok(());
        };
        let exit_file = self.exit_file(&record)?;
        wait_exit_file(&exit_file, EXIT_FILE_TIMEOUT, || !pid_alive(conmon_pid))?;
        wait_pid_gone_quietly(conmon_pid, MONITOR_EXIT_TIMEOUT);
        let _lock = self.lock(id)?;
        let Some(mut record) = self.store.container(id)? else {
            return Ok(());
        };
        self.sync(&mut record)?;
        if record.state.status.is_active() {
            let runtime = self.runtime(&record.config.runtime)?;
            if !runtime.check_conmon_running(&self.oci_container(&record))? {
                self.handle_dead_monitor(&mut record)?;
            }
        }
        self.finish_exited(&mut record)
    }

    /// Stop a container: its stop signal, then SIGKILL after `timeout` seconds. Returns once
    /// the exit is recorded and cleanup has run. Stopping a stopped container succeeds.
    pub fn stop(&self, name_or_id: &str, timeout: Option<u32>) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        let id = found.id().to_string();
        let (oci, runtime, timeout, paused) = {
            let _lock = self.lock(&id)?;
            let mut record = self.reload(&id, name_or_id)?;
            self.sync(&mut record)?;
            if !record.state.status.can_stop() {
                if record.state.status == Status::Stopped {
                    self.cleanup_runtime(&mut record)?;
                }
                return Ok(record);
            }
            let runtime = self.runtime(&record.config.runtime)?;
            let oci = self.oci_container(&record);
            if !runtime.check_conmon_running(&oci)? {
                self.handle_dead_monitor(&mut record)?;
                self.cleanup_runtime(&mut record)?;
                return Ok(record);
            }
            let paused = record.state.status == Status::Paused;
            record.state.status = Status::Stopping;
            record.state.stopped_by_user = true;
            let me = std::process::id() as i32;
            record.state.stopping_pid = me;
            record.state.stopping_start = rpod_oci::process::start_time(me).unwrap_or(0);
            self.save(&record)?;
            (
                oci,
                runtime,
                timeout.unwrap_or(record.config.stop_timeout),
                paused,
            )
        };
        // The lock is released while waiting, so that other commands (and the cleanup
        // command conmon runs) are not blocked by a long stop.
        let stopped = if paused {
            kill_frozen(runtime.as_ref(), &oci)
                .and_then(|_| runtime.stop_container(&oci, 0, oci.stop_with_all()))
        } else {
            runtime.stop_container(&oci, timeout, oci.stop_with_all())
        };
        if let Err(e) = stopped {
            if pid_alive(oci.pid) {
                // The container still runs: it is not stopping any more.
                self.undo_stopping(&id, paused)?;
                return Err(e.into());
            }
        }
        self.wait_for_exit(&id, oci.conmon_pid)?;
        Ok(self.store.container(&id)?.unwrap_or(found))
    }

    /// A stop that failed leaves the container as it was, never `Stopping`.
    fn undo_stopping(&self, id: &str, paused: bool) -> Result<()> {
        let _lock = self.lock(id)?;
        let Some(mut record) = self.store.container(id)? else {
            return Ok(());
        };
        if record.state.status == Status::Stopping {
            record.state.status = if paused {
                Status::Paused
            } else {
                Status::Running
            };
            record.state.stopped_by_user = false;
            self.save(&record)?;
        }
        Ok(())
    }

    /// Send a signal to the container's init process.
    pub fn kill(&self, name_or_id: &str, signal: i32) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        let id = found.id().to_string();
        let oci = {
            let _lock = self.lock(&id)?;
            let mut record = self.reload(&id, name_or_id)?;
            self.sync(&mut record)?;
            if !record.state.status.can_kill() {
                return Err(EngineError::state(
                    &id,
                    format!(
                        "can only kill running containers. {} is in state {}",
                        id,
                        record.state.status.as_str()
                    ),
                ));
            }
            let runtime = self.runtime(&record.config.runtime)?;
            let oci = self.oci_container(&record);
            if !runtime.check_conmon_running(&oci)? {
                if signal == libc::SIGKILL {
                    self.handle_dead_monitor(&mut record)?;
                    self.cleanup_runtime(&mut record)?;
                    return Ok(record);
                }
            } else if signal == libc::SIGKILL {
                record.state.stopped_by_user = true;
                self.save(&record)?;
            }
            if record.state.status == Status::Paused && signal == libc::SIGKILL {
                kill_frozen(runtime.as_ref(), &oci)?;
            } else {
                runtime.kill_container(&oci, signal, false)?;
            }
            oci
        };
        if signal == libc::SIGKILL {
            self.wait_for_exit(&id, oci.conmon_pid)?;
        }
        Ok(self.store.container(&id)?.unwrap_or(found))
    }

    pub fn pause(&self, name_or_id: &str) -> Result<ContainerRecord> {
        self.freeze(name_or_id, true)
    }

    pub fn unpause(&self, name_or_id: &str) -> Result<ContainerRecord> {
        self.freeze(name_or_id, false)
    }

    fn freeze(&self, name_or_id: &str, pause: bool) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        let (needed, next, verb) = if pause {
            (Status::Running, Status::Paused, "pause")
        } else {
            (Status::Paused, Status::Running, "unpause")
        };
        if record.state.status != needed {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "\"{}\" is not {}, can't {verb}",
                    record.id(),
                    if pause { "running" } else { "paused" }
                ),
            ));
        }
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(&record);
        if pause {
            runtime.pause_container(&oci)?;
        } else {
            runtime.unpause_container(&oci)?;
        }
        record.state.status = next;
        self.save(&record)?;
        Ok(record)
    }

    // ----- remove -----

    /// Remove a container; running or paused ones only with `force` (they are stopped first).
    pub fn remove(&self, name_or_id: &str, options: RemoveOptions) -> Result<String> {
        let found = self.lookup(name_or_id)?;
        let id = found.id().to_string();
        let needs_stop = {
            let _lock = self.lock(&id)?;
            let mut record = self.reload(&id, name_or_id)?;
            self.sync(&mut record)?;
            let status = record.state.status;
            if matches!(status, Status::Running | Status::Paused | Status::Stopping) {
                if !options.force {
                    return Err(EngineError::RemoveRunning {
                        id,
                        state: status.as_str().to_string(),
                    });
                }
                true
            } else {
                status == Status::Created
            }
        };
        if needs_stop {
            self.stop(&id, options.timeout)?;
        }
        let _lock = self.lock(&id)?;
        let Some(mut record) = self.store.container(&id)? else {
            // Removed meanwhile (an --rm container's cleanup).
            return Ok(id);
        };
        self.sync(&mut record)?;
        if record.state.status.is_active() {
            return Err(EngineError::RemoveRunning {
                id,
                state: record.state.status.as_str().to_string(),
            });
        }
        self.remove_locked(&mut record)?;
        Ok(id)
    }

    /// Remove a container that is not running. Called under the lock.
    fn remove_locked(&self, record: &mut ContainerRecord) -> Result<()> {
        self.remove_leftovers(record)?;
        let known_to_runtime = record.state.status.known_to_runtime();
        record.state.status = Status::Removing;
        self.save(record)?;
        if record.state.mounted || record.config.rootfs.is_none() {
            self.unmount_rootfs(record)?;
        }
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        if known_to_runtime {
            let _ = runtime.delete_container(&oci);
        }
        if let Ok(exit_file) = runtime.exit_file_path(&oci) {
            let _ = fs::remove_file(exit_file);
        }
        if let Ok(oom_file) = runtime.oom_file_path(&oci) {
            if let Some(persist) = oom_file.parent() {
                let _ = fs::remove_dir_all(persist);
            }
        }
        for dir in [
            self.roots.container_dir(record.id()),
            self.roots.run_dir(record.id()),
        ] {
            if let Err(e) = fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(EngineError::io("removing", &dir, e));
                }
            }
        }
        self.store.remove_exec_sessions(None, record.id())?;
        self.store.remove_container(record.id())?;
        Ok(())
    }

    // ----- attach -----

    /// Connect to a running container's attach socket. Copying happens without the lock.
    pub fn attach(&self, name_or_id: &str) -> Result<(ContainerRecord, Box<dyn AttachSession>)> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        if record.state.status != Status::Running {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "you can only attach to running containers: {} is {}",
                    record.id(),
                    record.state.status.as_str()
                ),
            ));
        }
        let runtime = self.runtime(&record.config.runtime)?;
        let connection = runtime.attach_connect(&self.oci_container(&record))?;
        Ok((record, connection))
    }

    // ----- wait / inspect / list -----

    /// A container's record, synced with the monitor's files.
    pub fn inspect(&self, name_or_id: &str) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        Ok(record)
    }

    /// Every container, with exits the monitor has recorded but nobody synced yet shown as
    /// exited. Takes no lock and writes nothing, so listing stays fast.
    pub fn list(&self) -> Result<Vec<ContainerRecord>> {
        let mut records = self.store.containers()?;
        let exits = self.roots.monitor_tmp().join("exits");
        for record in &mut records {
            if !record.state.status.is_active() {
                continue;
            }
            if let Ok(Some(exit)) = read_exit_file(&exits.join(record.id())) {
                record.state.status = Status::Stopped;
                record.state.exit_code = Some(exit.code);
                record.state.finished_at = Some(exit.finished.into());
                record.state.pid = 0;
            } else if record.state.conmon_pid > 0
                && !pid_alive(record.state.conmon_pid)
                && !pid_alive(record.state.pid)
            {
                // Monitor and process both gone without an exit file: the next command
                // that takes the lock records it; a listing must not show it as up.
                record.state.status = Status::Stopped;
                record.state.exit_code = Some(-1);
                record.state.pid = 0;
            }
        }
        Ok(records)
    }

    /// The k8s-file log of a container.
    pub fn log_path(&self, record: &ContainerRecord) -> PathBuf {
        self.roots.log_path(record.id())
    }

    /// Images used by containers (for `rmi`).
    pub fn containers_using_image(&self, image: &ImageRecord) -> Result<Vec<ContainerRecord>> {
        Ok(self
            .store
            .containers()?
            .into_iter()
            .filter(|c| c.config.image_id == image.id)
            .collect())
    }
}

/// A frozen process acts on no signal: SIGKILL every process, then thaw them so they die.
fn kill_frozen(runtime: &dyn OciRuntime, oci: &OciContainer) -> rpod_oci::Result<()> {
    let killed = runtime.kill_container(oci, libc::SIGKILL, oci.stop_with_all());
    let _ = runtime.unpause_container(oci);
    killed
}

fn wait_pid_gone_quietly(pid: i32, timeout: Duration) {
    if !rpod_oci::process::wait_pid_gone(pid, timeout) {
        tracing::warn!(pid, "conmon is still running after the container exited");
    }
}
