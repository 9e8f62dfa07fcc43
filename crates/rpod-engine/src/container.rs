//! A container's configuration (fixed at create) and its state (changes over its life).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The lifecycle states, as libpod names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In the database only; nothing exists in the runtime.
    Configured,
    /// Created in the runtime, not started.
    Created,
    Running,
    Paused,
    /// A stop is under way.
    Stopping,
    /// The process exited; the runtime still knows the container.
    Stopped,
    /// Exited and cleaned up.
    Exited,
    Removing,
}

impl Status {
    /// The name users see. As in podman, a container only in the database shows as
    /// "created" (Docker's word) and one created in the runtime as "initialized".
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Configured => "created",
            Status::Created => "initialized",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Exited => "exited",
            Status::Removing => "removing",
        }
    }

    /// Parse a `--filter status=` value.
    pub fn from_filter(text: &str) -> Option<Vec<Status>> {
        Some(match text {
            "created" => vec![Status::Configured],
            "initialized" => vec![Status::Created],
            "running" => vec![Status::Running],
            "paused" => vec![Status::Paused],
            "stopping" => vec![Status::Stopping],
            "stopped" => vec![Status::Stopped],
            "exited" => vec![Status::Exited, Status::Stopped],
            "removing" => vec![Status::Removing],
            _ => return None,
        })
    }

    /// The container's process was started and has not been seen to end (it may be
    /// frozen).
    pub fn is_running_or_paused(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    /// A process of the container may be alive.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Created | Status::Running | Status::Paused | Status::Stopping
        )
    }

    /// The transitions the engine makes. Anything else is refused: a caller that finds a
    /// state it did not expect has raced with another command, and must re-read.
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        match (self, next) {
            (current, next) if current == next => true,
            // init: created in the runtime
            (Configured | Exited, Created) => true,
            // start, or a failed start taken back, or a stop before it ran
            (Created, Running | Configured | Stopping) => true,
            // the monitor recorded an exit (or died)
            (Created | Running | Paused | Stopping, Stopped) => true,
            (Running, Paused | Stopping) | (Paused, Running | Stopping) => true,
            // a stop that failed or was interrupted while the container still runs
            (Stopping, Running | Paused) => true,
            // cleanup after an exit
            (Stopped, Exited) => true,
            (Configured | Exited | Stopped, Removing) => true,
            _ => false,
        }
    }

    /// The runtime still has the container (it was created and not yet deleted).
    pub fn known_to_runtime(self) -> bool {
        matches!(
            self,
            Status::Created | Status::Running | Status::Paused | Status::Stopping | Status::Stopped
        )
    }

    pub fn can_stop(self) -> bool {
        matches!(
            self,
            Status::Created | Status::Running | Status::Paused | Status::Stopping
        )
    }

    pub fn can_kill(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Stopping)
    }
}

#[cfg(test)]
mod status_tests {
    use super::Status::{self, *};

    const ALL: [Status; 8] = [
        Configured, Created, Running, Paused, Stopping, Stopped, Exited, Removing,
    ];

    #[test]
    fn the_lifecycle_is_allowed_and_shortcuts_are_not() {
        let path = [
            Configured, Created, Running, Paused, Running, Stopping, Stopped, Exited,
        ];
        for pair in path.windows(2) {
            assert!(
                pair[0].can_become(pair[1]),
                "{:?} -> {:?}",
                pair[0],
                pair[1]
            );
        }
        assert!(Exited.can_become(Created), "a container runs again");
        assert!(Exited.can_become(Removing));
        for refused in [
            (Configured, Running),
            (Exited, Running),
            (Running, Exited),
            (Running, Removing),
            (Paused, Removing),
            (Removing, Configured),
            (Stopped, Running),
            (Configured, Stopped),
        ] {
            assert!(!refused.0.can_become(refused.1), "{refused:?}");
        }
        // Nothing leaves Removing, and every state may stay as it is.
        for s in ALL {
            assert!(s.can_become(s));
            if s != Removing {
                assert!(!Removing.can_become(s));
            }
        }
        // Only states whose process may be alive are stopped by an exit.
        for s in ALL {
            assert_eq!(
                s.can_become(Stopped),
                s.is_active() || s == Stopped,
                "{s:?}"
            );
        }
        // A started process that may be frozen: what stats, top and namespace sharing need.
        let started: Vec<Status> = ALL
            .into_iter()
            .filter(|s| s.is_running_or_paused())
            .collect();
        assert_eq!(started, [Running, Paused]);
    }
}

/// The network namespace a container runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A network namespace of its own with only a loopback interface.
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// A namespace of its own connected to networks through netavark (`config.net.networks`).
    Bridge,
    /// The namespace of another container (its ID).
    Container(String),
    /// An existing namespace, by path (`ns:PATH`).
    Path(PathBuf),
}

impl NetworkMode {
    /// The mode as podman spells it (`bridge`, `container:ID`, `ns:PATH`).
    pub fn as_string(&self) -> String {
        match self {
            NetworkMode::None => "none".into(),
            NetworkMode::Host => "host".into(),
            NetworkMode::Bridge => "bridge".into(),
            NetworkMode::Container(id) => format!("container:{id}"),
            NetworkMode::Path(path) => format!("ns:{}", path.display()),
        }
    }
}

/// One network a bridged container joins, with what was asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NetworkJoin {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--ip6`, `ip6=`: the address asked for in the network's IPv6 subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<std::net::Ipv6Addr>,
    #[serde(default)]
    pub mac: Option<String>,
    /// `interface_name=`: the interface's name in the container (else the lowest free
    /// `ethN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
}

impl NetworkJoin {
    /// The addresses asked for on this network.
    pub fn static_ips(&self) -> Vec<std::net::IpAddr> {
        let v4 = self.ip.map(std::net::IpAddr::V4);
        let v6 = self.ip6.map(std::net::IpAddr::V6);
        v4.into_iter().chain(v6).collect()
    }
}

/// Everything about a container's networking besides the mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NetworkConfig {
    /// The networks of a bridged container, in order: the first gets `eth0`.
    #[serde(default)]
    pub networks: Vec<NetworkJoin>,
    /// Published ports, host ports chosen.
    #[serde(default)]
    pub ports: Vec<crate::network::ports::PortMapping>,
    /// `-P`: the image's exposed ports were published (they are in `ports`).
    #[serde(default)]
    pub publish_all: bool,
    /// The ports the container exposes, the image's among them (`--expose`, Docker's
    /// `ExposedPorts`, libpod's `expose`): `PORT/PROTOCOL` each, ranges spelled out. Only
    /// `-P` publishes them; inspect and listings show them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<String>,
    #[serde(default)]
    pub dns_servers: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    #[serde(default)]
    pub add_hosts: Vec<crate::network::etc_files::HostEntry>,
    /// `--no-hosts`: leave the image's `/etc/hosts` alone.
    #[serde(default)]
    pub no_hosts: bool,
    /// Docker's legacy links (`docker run --link`, docker-compose's `links` and the links
    /// of its one-off containers): other containers' addresses under names in this one's
    /// `/etc/hosts`, looked up at each start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<ContainerLink>,
}

/// One Docker link: the container (its ID once created; the name or ID given before) and
/// the name it has in this container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLink {
    pub container: String,
    pub alias: String,
}

impl ContainerLink {
    /// Docker's `NAME[:ALIAS]` (the alias is the name when not given).
    pub fn parse(text: &str) -> crate::Result<ContainerLink> {
        let (name, alias) = text.split_once(':').unwrap_or((text, text));
        let name = name.trim_start_matches('/');
        let alias = alias.trim_start_matches('/');
        if name.is_empty() || !crate::names::valid_name(alias) {
            return Err(crate::EngineError::InvalidArg(format!(
                "invalid link {text:?}: use CONTAINER[:ALIAS]"
            )));
        }
        Ok(ContainerLink {
            container: name.to_string(),
            alias: alias.to_string(),
        })
    }
}

/// `--init-ctr`: a container of a pod that `pod start` runs to its end, in the order
/// the pod's init containers were made, before it starts the pod's other containers:
/// at every start of the pod (`Always`), or at the first only (`Once`: removed once it
/// has run well).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitContainerType {
    Always,
    Once,
}

impl InitContainerType {
    /// `always` or `once`, as podman spells them.
    pub fn parse(text: &str) -> crate::Result<InitContainerType> {
        match text {
            "always" => Ok(InitContainerType::Always),
            "once" => Ok(InitContainerType::Once),
            other => Err(crate::EngineError::InvalidArg(format!(
                "invalid --init-ctr {other:?}: use always or once"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InitContainerType::Always => "always",
            InitContainerType::Once => "once",
        }
    }
}

/// Everything fixed when the container is created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    /// Image id, empty when running from `--rootfs`.
    pub image_id: String,
    /// The image name as resolved (e.g. `docker.io/library/busybox:latest`).
    pub image_name: String,
    /// `--rootfs DIR` instead of an image.
    pub rootfs: Option<PathBuf>,
    /// The user's `--entrypoint`, if given.
    pub entrypoint: Option<Vec<String>>,
    /// The user's command, if given.
    pub cmd: Vec<String>,
    /// The process arguments actually run (entrypoint + cmd after image defaults).
    pub args: Vec<String>,
    /// How many of `args` come from the entrypoint (the rest is the command).
    #[serde(default)]
    pub entrypoint_len: usize,
    pub env: Vec<String>,
    pub workdir: String,
    /// The working directory was given and must exist (else it is made at the start).
    #[serde(default)]
    pub workdir_must_exist: bool,
    pub user: String,
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: i32,
    pub stop_timeout: u32,
    pub memory: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub read_only: bool,
    pub network: NetworkMode,
    pub runtime: String,
    pub auto_remove: bool,
    /// `--restart`: what the cleanup after an exit does.
    #[serde(default)]
    pub restart: crate::restart::RestartPolicy,
    /// `--log-opt max-size`: the log is rotated by the monitor at this size.
    #[serde(default)]
    pub log_size_max: Option<u64>,
    /// `--log-opt max-file`: the files the log is kept in at that size.
    #[serde(default)]
    pub log_max_files: Option<u32>,
    /// `--log-driver passthrough`: the container gets the stdio of the rpod that started
    /// it; no log, no attach.
    #[serde(default)]
    pub passthrough: bool,
    /// `--sdnotify conmon`: at each start, rpod tells systemd (`NOTIFY_SOCKET`) that the
    /// service is ready, its main process the monitor.
    #[serde(default)]
    pub sdnotify_conmon: bool,
    /// `--sdnotify container`: at each start under a service manager (`NOTIFY_SOCKET`),
    /// the container gets a socket of its monitor's at `/run/notify/notify.sock`, whose
    /// messages the monitor passes on; rpod tells the manager the monitor is the main
    /// process.
    #[serde(default)]
    pub sdnotify_container: bool,
    /// systemd mode (`--systemd`, decided at create from the command): see
    /// `systemd_mode.rs`.
    #[serde(default)]
    pub systemd: bool,
    /// `--cgroups disabled`: the runtime makes no cgroup; the container stays in its
    /// monitor's (crun only; no limits, pause, stats or update).
    #[serde(default)]
    pub no_cgroups: bool,
    /// `--log-opt path`: the log file, instead of the one in the container's directory.
    #[serde(default)]
    pub log_path: Option<PathBuf>,
    /// `--log-opt tag`: kept and shown (conmon's k8s-file log has no tags; podman uses them
    /// for journald only).
    #[serde(default)]
    pub log_tag: Option<String>,
    /// `--log-opt labels=`, `env=`, ...: Docker's log attributes (see `LogAttributes`).
    #[serde(default, skip_serializing_if = "crate::logs::LogAttributes::is_empty")]
    pub log_attributes: crate::logs::LogAttributes,
    /// `--timeout`: seconds the container may run before its monitor kills it.
    #[serde(default)]
    pub timeout: Option<u32>,
    /// `--annotation`s, in the OCI spec.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `--oom-score-adj` of the container's processes.
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// `--pidfile`: the container's PID is written there at each start.
    #[serde(default)]
    pub pidfile: Option<PathBuf>,
    /// `--secret`s: how the container uses them (copies were made at create).
    #[serde(default)]
    pub secrets: Vec<crate::secrets::SecretUse>,
    /// `--secret NAME,type=env`: the variables, with the values copied at create. Kept out
    /// of inspect's environment.
    #[serde(default)]
    pub secret_env: Vec<String>,
    /// `--health-*`: the check `rpod healthcheck run` runs.
    #[serde(default)]
    pub healthcheck: Option<crate::health::HealthCheck>,
    /// `--conmon-pidfile`: the monitor's PID is written there at each start.
    #[serde(default)]
    pub conmon_pidfile: Option<PathBuf>,
    /// A build's RUN step: its root gets no `/etc/mtab` link (`etc_files::link_mtab`), which
    /// would go into the image (buildah's steps make none).
    #[serde(default)]
    pub build_step: bool,
    pub log_to_file: bool,
    pub terminal: bool,
    pub stdin: bool,
    pub created: DateTime<Utc>,
    /// Capabilities, seccomp, no-new-privileges, privileged mode.
    #[serde(default)]
    pub security: crate::security::SecurityOptions,
    /// The terminal size asked for at create (the REST API's `ConsoleSize`), used when the
    /// start or attach gives none.
    #[serde(default)]
    pub console_size: Option<rpod_oci::TerminalSize>,
    /// Bind and tmpfs mounts asked for (`-v`, `--mount`, `--tmpfs`).
    #[serde(default)]
    pub mounts: Vec<crate::mounts::MountSpec>,
    /// Networks, ports, DNS and hosts settings.
    #[serde(default)]
    pub net: NetworkConfig,
    /// Namespaces shared, init, limits, devices, groups.
    #[serde(default)]
    pub isolation: crate::isolation::Isolation,
    /// cgroup limits besides `memory`, `cpus` and `pids_limit` (changed by `rpod update`).
    #[serde(default)]
    pub resources: crate::resources::Resources,
    /// `--umask` of the container's processes (podman's 0022 when `None`).
    #[serde(default)]
    pub umask: Option<u32>,
    /// `--cgroup-parent`: the cgroup the container's own is made in (`/rpod` when `None`).
    #[serde(default)]
    pub cgroup_parent: Option<String>,
    /// `--unsetenv` names and `--unsetenv-all`: defaults rpod's spec does not add (`PATH`,
    /// `TERM`, `container`; the image's were left out of `env` at create).
    #[serde(default)]
    pub unset_env: Vec<String>,
    #[serde(default)]
    pub unset_env_all: bool,
    /// `--domainname`: the NIS domain name in the container's UTS namespace.
    #[serde(default)]
    pub domainname: Option<String>,
    /// `--passwd=false`, `--passwd-entry`, `--hostuser` (see `accounts`).
    #[serde(default)]
    pub no_passwd_entries: bool,
    #[serde(default)]
    pub passwd_entry: Option<String>,
    #[serde(default)]
    pub host_users: Vec<String>,
    /// `--tz`: the zone (or `local`) whose host file is bound at `/etc/localtime` at each
    /// start. (Containers of earlier rpods have a bind mount of it among `mounts`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// `--chrootdirs`: directories in the container that get rpod's `/etc/hosts` and
    /// `/etc/resolv.conf` too, under their own `etc` (for a program that chroots there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chroot_dirs: Vec<String>,
    /// The command line that created the container (podman's `CreateCommand`), for
    /// `generate systemd --new`.
    #[serde(default)]
    pub create_command: Vec<String>,
    /// `--cidfile`, as given (inspect's `HostConfig.ContainerIDFile`), read lossily: a
    /// path that is not UTF-8 is shown, not used, and the record is JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid_file: Option<String>,
    /// `--volumes-from`, as given (inspect's `HostConfig.VolumesFrom`): the mounts they
    /// brought are in `mounts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    /// `--requires`: containers (by ID) started before this one, and removed after it.
    #[serde(default)]
    pub requires: Vec<String>,
    /// `--personality LINUX|LINUX32`: the execution domain (`uname -m` of a 32-bit
    /// machine with LINUX32).
    #[serde(default)]
    pub personality: Option<String>,
    /// The pod (its ID) the container belongs to.
    #[serde(default)]
    pub pod: Option<String>,
    /// `--init-ctr`: an init container of its pod, run by `pod start` before the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container: Option<InitContainerType>,
    /// `--uidmap`, `--gidmap`: a user namespace of its own with these mappings
    /// (`userns.rs`); `None` shares the host's.
    #[serde(default)]
    pub id_mappings: Option<crate::userns::IdMappings>,
    /// The mappings were `--userns auto`'s (subordinate IDs given to this container alone).
    #[serde(default)]
    pub userns_auto: bool,
    /// `--userns container:ID`: the user namespace (and so the mappings) of that container.
    #[serde(default)]
    pub userns_container: Option<String>,
}

/// What changes over the container's life.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Status,
    pub pid: i32,
    pub conmon_pid: i32,
    /// `None` while it never exited; -1 when the exit code could not be known.
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the last run ended abnormally (e.g. the monitor died).
    pub error: String,
    pub stopped_by_user: bool,
    /// The health check's verdicts since the last start.
    #[serde(default)]
    pub health: Option<crate::health::HealthState>,
    /// `rpod mount`s not yet undone by `rpod unmount`: the root stays mounted after exits.
    #[serde(default)]
    pub user_mounts: u32,
    /// Restarts by the restart policy, ever.
    #[serde(default)]
    pub restart_count: u32,
    /// Restarts by the policy since the user last started the container (on-failure:N).
    #[serde(default)]
    pub restart_retries: u32,
    /// Whether the root file system is mounted for this container.
    pub mounted: bool,
    /// The process carrying out a stop (PID and start time), so that a stop whose process
    /// was killed is noticed and the container does not stay `Stopping`.
    #[serde(default)]
    pub stopping_pid: i32,
    #[serde(default)]
    pub stopping_start: u64,
    /// What the container got on each network while its namespace is set up.
    #[serde(default)]
    pub networks: BTreeMap<String, crate::network::Attachment>,
    /// Its processes were dumped by a checkpoint and can be restored.
    #[serde(default)]
    pub checkpointed: bool,
    #[serde(default)]
    pub checkpointed_at: Option<DateTime<Utc>>,
    /// It runs from a restored checkpoint.
    #[serde(default)]
    pub restored: bool,
    #[serde(default)]
    pub restored_at: Option<DateTime<Utc>>,
}

impl ContainerState {
    pub fn new() -> Self {
        ContainerState {
            status: Status::Configured,
            pid: 0,
            conmon_pid: 0,
            exit_code: None,
            oom_killed: false,
            started_at: None,
            finished_at: None,
            error: String::new(),
            stopped_by_user: false,
            health: None,
            user_mounts: 0,
            restart_count: 0,
            restart_retries: 0,
            mounted: false,
            stopping_pid: 0,
            stopping_start: 0,
            networks: BTreeMap::new(),
            checkpointed: false,
            checkpointed_at: None,
            restored: false,
            restored_at: None,
        }
    }
}

impl Default for ContainerState {
    fn default() -> Self {
        Self::new()
    }
}

/// An exec session of a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSession {
    pub id: String,
    pub container_id: String,
    pub cmd: Vec<String>,
    pub terminal: bool,
    /// The process PID once started.
    pub pid: i32,
    /// An attached client waits to collect the exit code and clean up; otherwise the
    /// exit command conmon runs does.
    pub waited_for: bool,
    /// The attached client (PID and start time): once it is gone, nobody collects the
    /// session, and the exit command removes it.
    #[serde(default)]
    pub client_pid: i32,
    #[serde(default)]
    pub client_start: u64,
    pub created: DateTime<Utc>,
}

/// A container as stored.
#[derive(Debug, Clone)]
pub struct ContainerRecord {
    pub config: ContainerConfig,
    pub state: ContainerState,
}

impl ExecSession {
    /// An attached client is still there to collect the session.
    pub fn collected_by_client(&self) -> bool {
        self.waited_for
            && (self.client_pid <= 0
                || rpod_oci::process::same_process_alive(self.client_pid, self.client_start))
    }
}

impl ContainerRecord {
    pub fn id(&self) -> &str {
        &self.config.id
    }
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

/// A container configuration with only the fields every configuration has, for unit tests.
#[cfg(test)]
pub(crate) fn test_config() -> ContainerConfig {
    serde_json::from_value(serde_json::json!({
        "id": "a", "name": "n", "image_id": "", "image_name": "", "rootfs": null,
        "entrypoint": null, "cmd": [], "args": ["true"], "env": [], "workdir": "/",
        "user": "", "hostname": "h", "labels": {}, "stop_signal": 15, "stop_timeout": 10,
        "memory": null, "cpus": null, "pids_limit": null, "read_only": false,
        "network": "none", "runtime": "runc", "auto_remove": false, "log_to_file": true,
        "terminal": false, "stdin": false, "created": "2026-01-01T00:00:00Z"
    }))
    .expect("the fields every configuration has")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_links_take_an_alias_or_the_name() {
        let link = ContainerLink::parse("/db:/database").unwrap();
        assert_eq!(
            (link.container.as_str(), link.alias.as_str()),
            ("db", "database")
        );
        let link = ContainerLink::parse("db").unwrap();
        assert_eq!((link.container.as_str(), link.alias.as_str()), ("db", "db"));
        for bad in [":db", "db:", "db:a b"] {
            assert!(ContainerLink::parse(bad).is_err(), "{bad}");
        }
    }
}
