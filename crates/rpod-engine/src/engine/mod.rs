//! The engine: container lifecycle over the state store, the per-container locks and an
//! [`OciRuntime`]. Every operation that changes a container takes its lock, re-reads its
//! record, syncs it from the monitor's files, decides, acts, and saves in one transaction.

mod accounts;
pub mod auto_update;
mod build;
pub mod checkpoint;
mod checkpoint_archive;
mod clone;
mod copy;
mod create;
mod disk_usage;
mod etc_files;
mod exec;
mod filesystem;
mod filters;
mod healthcheck;
pub use healthcheck::HealthRun;
mod images;
mod kube;
mod leftovers;
mod link_env;
mod manage;
mod manifests;
mod migrate;
mod namespaces;
mod netcreate;
mod netsetup;
mod network_handover;
mod networks;
mod observe;
mod pods;
mod query;
mod reboot;
mod registry;
mod remove;
mod reset;
mod secrets;
mod shm;
mod start;
mod stop;
mod sync;
mod update;
mod volumes;
mod wait;

pub use wait::{WaitBegun, WaitCondition, WaitOptions, WaitOutcome};

pub use build::successfully_tagged;
pub use build::{
    containerfile_in_local_context, file_in_context, parse_build_network, parse_build_timestamp,
    parse_cache_repository, parse_secret_flag, parse_ssh_flag, BuildContext, BuildOptions,
    BuildPull, BuildSecret, FetchedContext, RemoteContext, Squash, SshSource, StepSettings,
};
pub use clone::{CloneOptions, PodCloneOptions, PodNetworkSettings, PodSettings};
pub use images::{HistoryStep, ImageRemoval, LocalSource};
pub use kube::{
    parse_kube_log_driver, PlayOptions, PlayReport, PlayedPod, DEFAULT_SECCOMP_PROFILE_ROOT,
};
pub use migrate::MigrateReport;
pub use pods::{PodOptions, PodView, PAUSE_IMAGE};
pub use reset::ResetReport;

pub use copy::{CopyInto, CopyOwner, HostSource, PathStat};
pub use disk_usage::{
    pruned_ids, reclaimed, ContainerUsage, DiskUsage, ImageUsage, Pruned, SystemPruneOptions,
    SystemPruned, VolumeUsage,
};
pub use exec::{ExecReattached, ExecRequest, ExecStarted};
pub use filesystem::CommitOptions;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use rpod_oci::exitfile::{read_exit_file, wait_exit_file};
use rpod_oci::process::pid_alive;
use rpod_oci::{
    AttachSession, HttpAttachOptions, LogDriver, OciContainer, OciRuntime, RuntimeConfig,
    TerminalSize,
};

use crate::container::*;
use crate::events::{self, Event, EventType};
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
    /// The monitor (conmon or rpod-monitor); `None` takes the configuration's
    /// `conmon_path`, else the default (`rpod_oci::conmon::default_monitor`).
    pub conmon: Option<PathBuf>,
    /// Log level name (`error`, `warn`, `info`, `debug`), passed on to conmon and cleanup.
    pub log_level: String,
    /// The rpod executable that conmon runs as the exit command.
    pub exe: PathBuf,
    /// Settings from rpod.conf.
    pub config: crate::config::EngineConfig,
    /// Extra global flags for every runtime call (`--runtime-flag`, without the dashes).
    pub runtime_flags: Vec<String>,
    /// Whether events are written to the event log (`--events-backend file`, not `none`).
    pub events: bool,
    /// Where the cgroup hierarchies are (`/sys/fs/cgroup`): pods make their cgroups there.
    pub cgroup_root: PathBuf,
    /// `--hooks-dir`: the OCI hook directories, over the configuration's (empty: those).
    pub hooks_dirs: Vec<PathBuf>,
    /// `--volumepath`: where the local driver's volumes live, over the configuration's
    /// `volume_path` (`None`: the one the store recorded, else ROOT/volumes).
    pub volume_path: Option<PathBuf>,
    /// `--network-config-dir`: where the network definitions live, over the
    /// configuration's `network_config_dir` (`None`: ROOT/networks).
    pub network_config_dir: Option<PathBuf>,
    /// `--syslog`: log messages go to the system log too; passed on to the exit command.
    pub syslog: bool,
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
    /// `workdir` must exist in the container when it starts, as podman's `--workdir`
    /// must; else a missing one is made then (the image's always, and Docker's API's,
    /// as dockerd makes it).
    pub workdir_must_exist: bool,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<i32>,
    pub stop_timeout: Option<u32>,
    pub memory: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub read_only: bool,
    /// The network mode; the configured default (`bridge` unless rpod.conf says otherwise)
    /// when `None`. `Container` may name the other container by name or ID prefix.
    pub network: Option<NetworkMode>,
    /// Networks (by name; the default one when empty for `bridge`), ports, DNS, hosts.
    pub net: crate::container::NetworkConfig,
    /// `--ip`, `--ip6`, `--mac-address`, `--network-alias`: for the first network.
    pub ip: Option<std::net::Ipv4Addr>,
    pub ip6: Option<std::net::Ipv6Addr>,
    pub mac_address: Option<String>,
    pub network_aliases: Vec<String>,
    pub runtime: Option<String>,
    pub auto_remove: bool,
    /// `--restart`.
    pub restart: crate::restart::RestartPolicy,
    /// `--log-opt max-size`: the log is rotated at this size.
    pub log_size_max: Option<u64>,
    /// `--log-opt max-file`: kept in this many files (rpod-monitor).
    pub log_max_files: Option<u32>,
    /// `--log-opt tag`.
    pub log_tag: Option<String>,
    /// `--log-opt path`.
    pub log_path: Option<PathBuf>,
    /// `--log-opt labels=`, `env=`, `labels-regex=`, `env-regex=`.
    pub log_attributes: crate::logs::LogAttributes,
    /// `--log-driver passthrough`.
    pub passthrough: bool,
    /// `--sdnotify conmon`.
    pub sdnotify_conmon: bool,
    /// `--sdnotify container`.
    pub sdnotify_container: bool,
    /// `--systemd`: when the container runs in systemd mode.
    pub systemd: crate::systemd_mode::SystemdMode,
    /// `--cgroups disabled`.
    pub no_cgroups: bool,
    /// `--timeout`: seconds the container may run before the monitor kills it.
    pub timeout: Option<u32>,
    /// `--annotation`s for the OCI spec.
    pub annotations: BTreeMap<String, String>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--pidfile`: the container's PID is written there at each start.
    pub pidfile: Option<PathBuf>,
    /// `--health-*`. `None` takes the image's check, if it has one.
    pub healthcheck: Option<crate::health::HealthCheck>,
    /// `--no-healthcheck`: no check, not even the image's.
    pub no_healthcheck: bool,
    /// The Docker API's `Healthcheck` when `healthcheck` is `None`: merged into the
    /// image's check (`HealthCheck::merge_api`).
    pub healthcheck_over_image: Option<serde_json::Value>,
    /// `--health-on-failure` for the image's check, when `healthcheck` is `None` (a given
    /// check carries its own).
    pub image_health_on_failure: crate::health::OnFailure,
    /// `--secret`s.
    pub secrets: Vec<crate::secrets::SecretUse>,
    /// `--conmon-pidfile`: the monitor's PID is written there at each start.
    pub conmon_pidfile: Option<PathBuf>,
    /// A build's RUN step (`ContainerConfig::build_step`).
    pub build_step: bool,
    pub log_to_file: bool,
    /// No log driver was asked for: `log_to_file` is rpod.conf's `[containers]
    /// log_driver`'s.
    pub log_driver_from_config: bool,
    /// Allocate a terminal for the container (`-t`).
    pub terminal: bool,
    /// Keep the container's stdin open (`-i`).
    pub stdin: bool,
    pub security: crate::security::SecurityOptions,
    /// The terminal's initial size for `-t` containers, when known at create.
    pub console_size: Option<TerminalSize>,
    /// Bind and tmpfs mounts (see `mounts`).
    pub mounts: Vec<crate::mounts::MountSpec>,
    /// `--volumes-from CTR[:ro|rw]`: the volumes and bind mounts of other containers, at
    /// the same places (a mount given here at the same place wins).
    pub volumes_from: Vec<String>,
    /// What the image's `VOLUME` paths get.
    pub image_volumes: ImageVolumes,
    /// `--pid`, `--ipc`, `--uts` (`container:` may name the other by name), `--shm-size`,
    /// `--sysctl`, `--ulimit`, `--device`, `--group-add`; `init` is set from `init`/`init_path`.
    pub isolation: crate::isolation::Isolation,
    /// cgroup limits besides memory, cpus and PIDs (`--memory-swap`, `--cpu-shares`, ...).
    pub resources: crate::resources::Resources,
    /// `--init`, with `--init-path` or catatonit.
    pub init: bool,
    pub init_path: Option<PathBuf>,
    /// `--env-merge`, `--unsetenv`, `--unsetenv-all` (see `environment`).
    pub env_merge: Vec<String>,
    pub unset_env: Vec<String>,
    pub unset_env_all: bool,
    /// `--http-proxy`: pass this process's proxy variables on.
    pub http_proxy: bool,
    /// `--umask`.
    pub umask: Option<u32>,
    /// `--cgroup-parent`.
    pub cgroup_parent: Option<String>,
    /// `--domainname` (the NIS domain name of the container's UTS namespace).
    pub domainname: Option<String>,
    /// `--platform` and the like: the image must be for it.
    pub platform: Option<crate::image::platform::Platform>,
    /// `--passwd=false`: no passwd or group entries for users the image lacks.
    pub no_passwd_entries: bool,
    /// `--passwd-entry`: the template of those entries.
    pub passwd_entry: Option<String>,
    /// `--hostuser`: host accounts (names or numbers) to add to the container's passwd.
    pub host_users: Vec<String>,
    /// `--tz ZONE|local` (see `ContainerConfig::time_zone`).
    pub time_zone: Option<String>,
    /// `--chrootdirs`: absolute container paths (see `ContainerConfig::chroot_dirs`).
    pub chroot_dirs: Vec<String>,
    /// The command line that asked for the container (shown as `CreateCommand`).
    pub create_command: Vec<String>,
    /// `--cidfile`: where the CLI writes the new container's ID (shown by inspect as
    /// `HostConfig.ContainerIDFile`; the CLI writes it).
    pub cid_file: Option<std::path::PathBuf>,
    /// `--requires`: containers (names or IDs) to start before this one.
    pub requires: Vec<String>,
    /// `--personality LINUX|LINUX32`.
    pub personality: Option<String>,
    /// `--seccomp-policy image`: the image's profile label, when it has one, instead of
    /// the default profile.
    pub seccomp_from_image: bool,
    /// `--read-only-tmpfs`: with `read_only`, a tmpfs on /tmp, /var/tmp and /run (where
    /// no other mount is asked for).
    pub read_only_tmpfs: bool,
    /// `--pod`: the pod (name or ID) the container joins.
    pub pod: Option<String>,
    /// `--init-ctr`: the container is one of its pod's init containers.
    pub init_container: Option<crate::container::InitContainerType>,
    /// `--uidmap`, `--gidmap`: a user namespace of the container's own.
    pub id_mappings: Option<crate::userns::IdMappings>,
    /// `--userns auto`: one with subordinate IDs no other container has (`id_mappings` is
    /// then made at create).
    pub userns_auto: Option<crate::userns::AutoUserns>,
    /// `--userns container:NAME`: that container's user namespace and mappings.
    pub userns_container: Option<String>,
}

/// podman's `--image-volume`: what an image's `VOLUME` paths get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ImageVolumes {
    /// An anonymous volume each, filled with the image's content (podman's `bind`).
    #[default]
    Anonymous,
    /// An empty tmpfs each.
    Tmpfs,
    /// Nothing: the paths stay part of the container's root file system.
    Ignore,
}

/// Runs once the monitor is up and before the container's process starts, or right after a
/// create that started it, before the monitor reads its output (see `Engine::start`).
pub type BeforeStart<'a> = dyn FnMut(&ContainerRecord) -> Result<()> + 'a;

#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    pub force: bool,
    /// Remove the container's anonymous volumes too (`rm -v`).
    pub volumes: bool,
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
    /// Descriptors the next create in the runtime gives the container (`run
    /// --preserve-fds`): this process's own, so they are not part of any record.
    create_fds: Mutex<Vec<Arc<std::os::fd::OwnedFd>>>,
    /// Containers this process is removing, from the removal's first step (a removal
    /// reaches `Removing` only after its lock, sync and leftovers): a removal refused
    /// for dependents waits for those that are leaving (`await_departing_dependents`).
    departing: Mutex<std::collections::HashSet<String>>,
}

/// Whether `path` is on a file system mounted read-only.
/// What reads or changes a container's cgroup is refused for one without (`--cgroups
/// disabled`), as podman refuses it.
fn needs_cgroup(record: &ContainerRecord, what: &str) -> Result<()> {
    if record.config.no_cgroups {
        return Err(EngineError::state(
            record.id(),
            format!(
                "cannot {what} container {} without cgroups: it was created with --cgroups disabled",
                record.config.name
            ),
        ));
    }
    Ok(())
}

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
        "the state database {} is {} but the store holds {containers} container and {images} image directories: it was truncated or deleted. Restore it from a backup (removing {0}-wal and {0}-shm, which belong to the lost one), or move {} aside to start with an empty store",
        database.display(),
        if database.exists() { "empty" } else { "missing" },
        roots.root.display()
    )))
}

/// Where the store's volumes are (`Store::settle_volume_path`): where it has volumes, a
/// path asked for that differs is refused, as podman refuses it, since they would not be
/// found.
fn settle_volume_path(
    store: &Store,
    options: &EngineOptions,
    roots: &Roots,
    read_only: bool,
) -> Result<PathBuf> {
    let requested = match options.volume_path.as_ref().or(options
        .config
        .engine
        .volume_path
        .as_ref())
    {
        Some(path) => {
            if path.to_str().is_none() {
                return Err(EngineError::InvalidArg(format!(
                    "volume path {}: only UTF-8 paths can be recorded",
                    path.display()
                )));
            }
            Some(std::path::absolute(path).map_err(|e| EngineError::io("resolving", path, e))?)
        }
        None => None,
    };
    let default = &roots.volumes;
    let settled = if read_only {
        store
            .recorded_volume_path()?
            .unwrap_or_else(|| default.clone())
    } else {
        store.settle_volume_path(requested.as_deref(), default)?
    };
    match requested {
        Some(asked) if asked != settled => Err(EngineError::InvalidArg(format!(
            "the store at {} has volumes in {}: volume path {} would not find them (leave --volumepath and rpod.conf's volume_path out, or give that directory)",
            roots.root.display(),
            settled.display(),
            asked.display()
        ))),
        _ => Ok(settled),
    }
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

/// Move a container to `next`, if that is a legal transition (`Status::can_become`); the
/// one place where the engine changes a container's status.
pub(super) fn transition(record: &mut ContainerRecord, next: Status) -> Result<()> {
    let current = record.state.status;
    if !current.can_become(next) {
        return Err(EngineError::state(
            record.id(),
            format!(
                "container {} cannot go from {} to {}",
                record.id(),
                current.as_str(),
                next.as_str()
            ),
        ));
    }
    record.state.status = next;
    Ok(())
}

impl Engine {
    /// Record a container event (see `events`).
    pub(super) fn container_event(
        &self,
        record: &ContainerRecord,
        status: &str,
        attributes: &[(&str, String)],
    ) {
        self.record_event(&Self::new_container_event(record, status, attributes));
    }

    /// A container event with the container's name, image and labels.
    pub(super) fn new_container_event(
        record: &ContainerRecord,
        status: &str,
        attributes: &[(&str, String)],
    ) -> Event {
        let mut event = Event::new(EventType::Container, status, record.id());
        event.name = record.config.name.clone();
        event.image = record.config.image_name.clone();
        event.pod_id = record.config.pod.clone().unwrap_or_default();
        // The container's labels first, as podman records them (`events --filter label=`).
        event.attributes = record.config.labels.clone();
        event
            .attributes
            .extend(attributes.iter().map(|(k, v)| (k.to_string(), v.clone())));
        event
    }

    /// Append `event` to the log, unless events are off (`--events-backend none`).
    pub(super) fn record_event(&self, event: &Event) {
        if self.options.events {
            events::append(&self.roots, event);
        }
    }

    /// A volume's or a network's event (a volume's ID is its name).
    pub(super) fn object_event(
        &self,
        kind: EventType,
        id: &str,
        name: &str,
        status: &str,
        attributes: &[(&str, String)],
    ) {
        let mut event = Event::new(kind, status, id);
        event.name = name.to_string();
        event.attributes = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.record_event(&event);
    }

    /// Record an image event.
    pub(super) fn image_event(&self, id: &str, status: &str, name: &str) {
        let mut event = Event::new(EventType::Image, status, id);
        event.name = name.to_string();
        self.record_event(&event);
    }

    /// Open (creating if needed) the store under the two roots, and reconcile after a reboot.
    pub fn open(options: EngineOptions) -> Result<Self> {
        Self::open_with_runtimes(options, Arc::new(rpod_oci::monitored_runtime))
    }

    /// Open with runtimes made by `make_runtime` instead of the default.
    pub fn open_with_runtimes(
        mut options: EngineOptions,
        make_runtime: Arc<RuntimeMaker>,
    ) -> Result<Self> {
        // The caller's choice first (`--conmon`, `RPOD_CONMON`), then rpod.conf's.
        if options.conmon.is_none() {
            options.conmon = options.config.engine.conmon_path.clone();
        }
        // Nested rpod processes (the exit command) are given it and run elsewhere.
        if let Some(dir) = &options.network_config_dir {
            options.network_config_dir =
                Some(std::path::absolute(dir).map_err(|e| EngineError::io("resolving", dir, e))?);
        }
        let mut roots = Roots {
            root: options.root.clone(),
            runroot: options.runroot.clone(),
            keep_free: options.config.keep_free(),
            volumes: crate::paths::default_volumes(&options.root),
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
            (Store::open_read_only(&roots.database())?, None)
        } else {
            let store = Store::open(&roots.database())?;
            roots.make_database_private()?;
            let boot_id = fs::read_to_string(BOOT_ID_FILE)
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            let reset = store.reconcile_boot(&boot_id)?;
            (store, reset)
        };
        roots.volumes = settle_volume_path(&store, &options, &roots, read_only)?;
        let engine = Engine {
            options,
            roots,
            store,
            make_runtime,
            runtimes: Mutex::new(HashMap::new()),
            create_fds: Mutex::new(Vec::new()),
            departing: Mutex::new(std::collections::HashSet::new()),
        };
        if let Some(reset) = reset {
            engine.clear_previous_boot(&reset);
        }
        Ok(engine)
    }

    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// The configuration this engine was opened with (rpod.conf).
    pub fn config(&self) -> &crate::config::EngineConfig {
        &self.options.config
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
            runtime_flags: self
                .options
                .runtime_flags
                .iter()
                .map(|f| format!("--{}", f.trim_start_matches('-')))
                .collect(),
            log_level: conmon_log_level(&self.options.log_level).to_string(),
            criu: rpod_oci::conmon::find_criu(self.options.config.engine.criu_path.as_deref()),
        })?;
        runtimes.insert(name.to_string(), runtime.clone());
        Ok(runtime)
    }

    pub fn default_runtime(&self) -> Result<Arc<dyn OciRuntime>> {
        let name = self.options.runtime.clone();
        self.runtime(&name)
    }

    /// The command conmon runs when the container (or one of its exec sessions) exits.
    pub(super) fn exit_command(&self, id: &str, exec_session: Option<&str>) -> Vec<String> {
        let mut command = self.rpod_command();
        command.extend(["container".into(), "cleanup".into()]);
        if let Some(session) = exec_session {
            command.extend(["--exec".into(), session.to_string()]);
        }
        command.push(id.to_string());
        command
    }

    /// rpod's own command line on this store, for the processes it starts to finish its
    /// work later (the exit command, a removed container's network teardown); the
    /// subcommand follows.
    pub(super) fn rpod_command(&self) -> Vec<String> {
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
        for flag in &self.options.runtime_flags {
            command.push(format!("--runtime-flag={flag}"));
        }
        // A restart policy's start comes from the exit command: the same hooks.
        for dir in &self.options.hooks_dirs {
            command.push(format!("--hooks-dir={}", dir.display()));
        }
        // A restart policy's start reads the networks' definitions. (The volume path is
        // recorded in the store.)
        if let Some(dir) = &self.options.network_config_dir {
            command.push(format!("--network-config-dir={}", dir.display()));
        }
        // The exit command has no terminal: with --syslog its messages are kept.
        if self.options.syslog {
            command.push("--syslog".into());
        }
        if !self.options.events {
            command.push("--events-backend=none".into());
        }
        command
    }

    /// Give the next container created in the runtime these descriptors as its 3, 4, ...
    /// (`run --preserve-fds`).
    pub fn pass_fds_to_next_create(&self, fds: Vec<Arc<std::os::fd::OwnedFd>>) {
        *self.create_fds.lock().unwrap_or_else(|p| p.into_inner()) = fds;
    }

    /// What the runtime layer needs to know about a container.
    pub fn oci_container(&self, record: &ContainerRecord) -> OciContainer {
        let id = record.id();
        OciContainer {
            id: id.to_string(),
            name: record.config.name.clone(),
            bundle_dir: self.roots.bundle_dir(id),
            run_dir: self.roots.run_dir(id),
            log_driver: if record.config.passthrough {
                LogDriver::Passthrough
            } else if record.config.log_to_file {
                LogDriver::KubeFile(self.log_path(record))
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
            cgroups: !record.config.no_cgroups,
            monitor: rpod_oci::MonitorOptions {
                log_size_max: record.config.log_size_max,
                log_max_files: record.config.log_max_files,
                timeout: record.config.timeout,
                // A `--rm` container's own log goes with it right after the exit.
                no_sync_log: record.config.auto_remove && record.config.log_path.is_none(),
                // A `--rm` container leaves the runtime at its exit, whoever removes it.
                delete_at_exit: record.config.auto_remove,
                // Only a monitor being started needs it: `monitored_container`.
                health_check: None,
                // Set by the start that passes the socket on.
                sdnotify_socket: None,
            },
            pass_fds: Vec::new(),
        }
    }

    /// The container as a monitor about to start for it (a create or a restore) needs it:
    /// with the health check it runs on its interval (`--health-interval disable` is 0:
    /// run by hand only), its startup check first on its own.
    pub(super) fn monitored_container(&self, record: &ContainerRecord) -> OciContainer {
        let mut oci = self.oci_container(record);
        oci.monitor.health_check = record
            .config
            .healthcheck
            .as_ref()
            .filter(|check| check.interval_secs > 0 || check.startup.is_some())
            .map(|check| rpod_oci::HealthCheckRun {
                // The monitor's limit (136 years): a longer one never comes anyway.
                interval_secs: check.interval_secs.min(u64::from(u32::MAX)),
                startup_interval_secs: check
                    .startup
                    .as_ref()
                    .map_or(0, |s| s.interval_secs.clamp(1, u64::from(u32::MAX))),
                argv: {
                    let mut argv = self.rpod_command();
                    argv.extend(["healthcheck".into(), "run".into(), record.id().to_string()]);
                    argv
                },
            });
        oci
    }

    pub(super) fn lock(&self, id: &str) -> Result<ContainerLock> {
        ContainerLock::acquire(&self.roots.lock_dir(), id, &self.roots.container_dir(id))
    }

    /// Re-read a container after taking its lock; it may have been removed meanwhile.
    pub(super) fn reload(&self, id: &str, asked_as: &str) -> Result<ContainerRecord> {
        self.store
            .container(id)?
            .ok_or_else(|| EngineError::NoSuchContainer(asked_as.to_string()))
    }

    pub fn lookup(&self, name_or_id: &str) -> Result<ContainerRecord> {
        self.store.lookup_container(name_or_id)
    }

    pub(super) fn save(&self, record: &ContainerRecord) -> Result<()> {
        if !self.store.save_state(record)? {
            return Err(EngineError::NoSuchContainer(record.id().to_string()));
        }
        Ok(())
    }
}
