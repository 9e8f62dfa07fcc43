//! What `inspect` and the listings show, as typed values with podman's field names, so that
//! the CLI and the REST service serialise the same data. Times are RFC 3339 in UTC with `Z`
//! (podman's zero time `0001-01-01T00:00:00Z` when unset), sizes are numbers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::container::{ContainerRecord, Status};
use crate::image::reference::repository_and_tag;
use crate::image::ImageInfo;
use crate::paths::Roots;

/// An optional time as podman prints it: the zero time when unset.
fn time_or_zero<S: Serializer>(time: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => t.serialize(s),
        None => s.serialize_str("0001-01-01T00:00:00Z"),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub oci_version: &'static str,
    pub status: &'static str,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub conmon_pid: i32,
    pub exit_code: i32,
    pub error: String,
    #[serde(serialize_with = "time_or_zero")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time_or_zero")]
    pub finished_at: Option<DateTime<Utc>>,
    pub stopped_by_user: bool,
    /// The container's cgroup while it runs (relative to the hierarchy's root), empty
    /// otherwise, as podman's.
    pub cgroup_path: String,
    pub checkpointed: bool,
    #[serde(serialize_with = "time_or_zero")]
    pub checkpointed_at: Option<DateTime<Utc>>,
    pub restored: bool,
    #[serde(serialize_with = "time_or_zero")]
    pub restored_at: Option<DateTime<Utc>>,
    /// The health check's verdicts (containers with one only).
    /// Without a check: podman's empty health (`Status` empty), so that a template asking
    /// for `.State.Health.Status` gets nothing rather than an error.
    #[serde(serialize_with = "health_or_empty")]
    pub health: Option<crate::health::HealthState>,
}

fn health_or_empty<S: Serializer>(
    health: &Option<crate::health::HealthState>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match health {
        Some(health) => health.serialize(s),
        None => serde_json::json!({"Status": "", "FailingStreak": 0, "Log": null}).serialize(s),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfigView {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    /// The entrypoint's words joined by spaces, as podman 4 shows it (a string; podman
    /// 5 made it a list).
    pub entrypoint: String,
    pub image: String,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: String,
    pub stop_timeout: u32,
    /// `--timeout` (0: none).
    pub timeout: u32,
    /// The health check, in podman's shape (`Test`, `Interval`, ... in nanoseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    /// The startup check, as podman 4.4's `StartupHealthCheck` (times in nanoseconds).
    #[serde(rename = "StartupHealthCheck", skip_serializing_if = "Option::is_none")]
    pub startup_healthcheck: Option<serde_json::Value>,
    /// `--health-on-failure` (podman's `HealthcheckOnFailureAction`).
    #[serde(rename = "HealthcheckOnFailureAction")]
    pub healthcheck_on_failure_action: &'static str,
    pub annotations: BTreeMap<String, String>,
    pub umask: String,
    /// The command line that created the container (podman's; empty when unknown).
    pub create_command: Vec<String>,
    /// Whether it runs in systemd mode (`--systemd`).
    pub systemd_mode: bool,
    /// `--passwd` (podman's field): whether rpod adds the user's entry to `/etc/passwd`.
    pub passwd: bool,
    /// `--tz` (podman's field, shown when given).
    #[serde(rename = "Timezone", skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `--chrootdirs` (podman's field, shown when there are some).
    #[serde(rename = "ChrootDirs", skip_serializing_if = "Vec::is_empty")]
    pub chroot_dirs: Vec<String>,
    /// `--sdnotify`: conmon, container or ignore (podman's field, spelled as its JSON).
    #[serde(rename = "sdNotifyMode")]
    pub sd_notify_mode: &'static str,
    /// Docker's fields podman shows empty: the image's volumes and `ONBUILD` triggers are
    /// the image's (`image inspect`).
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub on_build: Option<Vec<String>>,
    pub tty: bool,
    pub open_stdin: bool,
    /// Always false, as podman's (its stdin is not closed after one attach).
    pub stdin_once: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub path: String,
    /// `--log-opt tag`.
    pub tag: String,
    /// `--log-opt max-size`, as podman shows it (`1kB`); `0B` for no limit.
    pub size: String,
    /// A log driver's other options: podman shows none (null).
    pub config: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdMappingsView {
    #[serde(rename = "UidMap")]
    pub uid_map: Vec<String>,
    #[serde(rename = "GidMap")]
    pub gid_map: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    pub network_mode: String,
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    pub publish_all_ports: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub auto_remove: bool,
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_shares: u64,
    pub cpu_quota: i64,
    pub cpu_period: u64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub blkio_weight: u16,
    pub blkio_weight_device: Vec<WeightDeviceView>,
    /// `--device-read-bps` and the other throttles, as podman shows them: each list (empty
    /// or not) when any is set, else null.
    pub blkio_device_read_bps: Option<Vec<ThrottleView>>,
    pub blkio_device_write_bps: Option<Vec<ThrottleView>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleView>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleView>>,
    pub memory_swappiness: i64,
    pub cpu_realtime_period: u64,
    pub cpu_realtime_runtime: i64,
    /// podman's word for the cgroup namespace (`private`, `host`, `container:ID`).
    pub cgroup_mode: String,
    /// `--cgroups`, as podman shows it: `default` or `disabled`.
    pub cgroups: &'static str,
    pub cgroup_parent: String,
    /// podman's word for the user namespace: `private` with `--uidmap`, `auto` with
    /// `--userns auto`, `container:ID`, empty for the host's.
    pub userns_mode: String,
    /// `--uidmap`, `--gidmap` as podman shows them (`CONTAINER:HOST:SIZE`).
    #[serde(rename = "IDMappings", skip_serializing_if = "Option::is_none")]
    pub id_mappings: Option<IdMappingsView>,
    /// `--personality` (podman shows the OCI spec's field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personality: Option<String>,
    pub pids_limit: i64,
    pub readonly_rootfs: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub log_config: LogConfig,
    pub restart_policy: RestartPolicy,
    pub oom_score_adj: i32,
    /// Bind mounts and named volumes as podman lists them: `SOURCE:DESTINATION:OPTIONS`
    /// (a volume by its name).
    pub binds: Vec<String>,
    /// tmpfs mounts: each destination's options.
    pub tmpfs: BTreeMap<String, String>,
    pub ulimits: Vec<UlimitView>,
    pub devices: Vec<DeviceView>,
    pub shm_size: u64,
    pub group_add: Vec<String>,
    pub ipc_mode: String,
    pub pid_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    /// podman's constant: every OCI runtime is `oci` here.
    pub runtime: &'static str,
    pub cgroup_manager: &'static str,
    pub oom_kill_disable: bool,
    /// `--console-size` (height, width); zeros when not given.
    pub console_size: [u16; 2],
    /// `--cidfile`, empty without one.
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    /// `--volumes-from` as given (null without).
    pub volumes_from: Option<Vec<String>>,
    /// Docker's fields podman shows empty or zero (Windows', legacy or of other drivers):
    /// there for templates that name them.
    pub links: Option<Vec<String>>,
    pub cgroup: String,
    pub cgroup_conf: Option<BTreeMap<String, String>>,
    pub cpu_count: u64,
    pub cpu_percent: u64,
    pub disk_quota: u64,
    #[serde(rename = "IOMaximumBandwidth")]
    pub io_maximum_bandwidth: u64,
    #[serde(rename = "IOMaximumIOps")]
    pub io_maximum_iops: u64,
    pub isolation: &'static str,
    pub kernel_memory: i64,
    pub volume_driver: &'static str,
}

/// A resource limit in inspect (`RLIMIT_NOFILE`, as podman names it).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UlimitView {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// A device given to the container, in inspect.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceView {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// Where the container's root lives: rpod's overlay directories (the image's layers,
/// beneath, are the image's).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: &'static str,
    pub data: BTreeMap<&'static str, String>,
}

impl DeviceView {
    fn new(device: &crate::isolation::DeviceMapping) -> Self {
        DeviceView {
            path_on_host: device.host.display().to_string(),
            path_in_container: device.container.display().to_string(),
            cgroup_permissions: device.permissions.clone(),
        }
    }
}

/// A block I/O weight on one device, in inspect.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightDeviceView {
    pub path: String,
    pub weight: u16,
}

/// A block I/O throttle on one device, in inspect (bytes or operations per second).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleView {
    pub path: String,
    pub rate: u64,
}

/// One host side of a published port.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// Published ports by `PORT/PROTOCOL`, as inspect shows them.
pub fn port_bindings(
    config: &crate::container::ContainerConfig,
) -> BTreeMap<String, Vec<PortBinding>> {
    let mut bindings: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for m in &config.net.ports {
        for i in 0..m.range {
            bindings
                .entry(format!("{}/{}", m.container_port + i, m.protocol))
                .or_default()
                .push(PortBinding {
                    host_ip: m.host_ip.clone(),
                    host_port: (m.host_port + i).to_string(),
                });
        }
    }
    bindings
}

/// `port_bindings`, and the exposed ports not published, with no host side.
fn published_and_exposed(
    config: &crate::container::ContainerConfig,
) -> BTreeMap<String, Option<Vec<PortBinding>>> {
    let mut ports: BTreeMap<String, Option<Vec<PortBinding>>> = port_bindings(config)
        .into_iter()
        .map(|(key, bindings)| (key, Some(bindings)))
        .collect();
    for key in &config.net.exposed {
        ports.entry(key.clone()).or_insert(None);
    }
    ports
}

/// A container on one network, in inspect.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointView {
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(flatten)]
    pub addresses: EndpointAddresses,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    pub aliases: Vec<String>,
}

/// A container's addresses on one network by Docker's names, which inspect shows for each
/// network and, for the first, at the top of `NetworkSettings`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointAddresses {
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    pub mac_address: String,
}

/// `NetworkSettings` of inspect: the first network's address at the top, as Docker does,
/// and every network under `Networks`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    /// Docker's fields podman shows empty (rpod has no endpoint IDs or sandboxes).
    #[serde(rename = "EndpointID")]
    pub endpoint_id: &'static str,
    #[serde(flatten)]
    pub addresses: EndpointAddresses,
    pub bridge: &'static str,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: &'static str,
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: &'static str,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: u8,
    /// Published ports with their host sides, and exposed ones without (null), as
    /// podman shows them.
    pub ports: BTreeMap<String, Option<Vec<PortBinding>>>,
    pub sandbox_key: String,
    pub networks: BTreeMap<String, EndpointView>,
}

impl NetworkSettings {
    pub fn new(roots: &Roots, record: &ContainerRecord) -> Self {
        let c = &record.config;
        let mut networks = BTreeMap::new();
        for join in &c.net.networks {
            let attached = record.state.networks.get(&join.name);
            let address = attached.and_then(|a| a.ipv4());
            let address6 = attached.and_then(|a| a.ipv6());
            let text = |ip: Option<std::net::IpAddr>| ip.map(|g| g.to_string()).unwrap_or_default();
            let mut aliases = join.aliases.clone();
            aliases.push(c.id.chars().take(12).collect());
            networks.insert(
                join.name.clone(),
                EndpointView {
                    endpoint_id: String::new(),
                    addresses: EndpointAddresses {
                        gateway: text(attached.and_then(|a| a.gateway)),
                        ip_address: text(address.map(|a| a.addr())),
                        ip_prefix_len: address.map(|a| a.prefix_len()).unwrap_or(0),
                        ipv6_gateway: text(attached.and_then(|a| a.ipv6_gateway)),
                        global_ipv6_address: text(address6.map(|a| a.addr())),
                        global_ipv6_prefix_len: address6.map(|a| a.prefix_len()).unwrap_or(0),
                        mac_address: attached.map(|a| a.mac_address.clone()).unwrap_or_default(),
                    },
                    network_id: join.name.clone(),
                    aliases,
                },
            );
        }
        let first = c.net.networks.first().and_then(|j| networks.get(&j.name));
        let running = !record.state.networks.is_empty();
        NetworkSettings {
            endpoint_id: "",
            addresses: first.map(|e| e.addresses.clone()).unwrap_or_default(),
            bridge: "",
            sandbox_id: "",
            hairpin_mode: false,
            link_local_ipv6_address: "",
            link_local_ipv6_prefix_len: 0,
            ports: published_and_exposed(c),
            sandbox_key: if running {
                crate::network::netns::path_for(&roots.runroot, &c.id)
                    .display()
                    .to_string()
            } else {
                String::new()
            },
            networks,
        }
    }
}

/// A container's security options as `--security-opt` words, as podman shows them.
pub fn security_opt_list(security: &crate::security::SecurityOptions) -> Vec<String> {
    let mut security_opt = Vec::new();
    if security.no_new_privileges {
        security_opt.push("no-new-privileges".to_string());
    }
    match &security.seccomp {
        crate::security::SeccompChoice::Default => {}
        crate::security::SeccompChoice::Unconfined => {
            security_opt.push("seccomp=unconfined".into())
        }
        crate::security::SeccompChoice::Profile(path) => {
            security_opt.push(format!("seccomp={}", path.display()))
        }
        crate::security::SeccompChoice::Image(_) => {
            security_opt.push(format!("seccomp={}", crate::security::IMAGE_SECCOMP_LABEL))
        }
    }
    if !security.proc_opts.is_empty() {
        security_opt.push(format!("proc-opts={}", security.proc_opts.join(",")));
    }
    security_opt
}

/// A mount in `inspect`, as podman shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectMount {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// The volume's name, for a volume.
    pub name: String,
    pub source: String,
    pub destination: String,
    pub driver: String,
    pub mode: String,
    pub options: Vec<String>,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

impl InspectMount {
    pub fn new(mount: &crate::mounts::MountSpec) -> Self {
        use crate::mounts::MountKind;
        InspectMount {
            kind: match (mount.kind, &mount.volume) {
                (MountKind::Bind, Some(_)) => "volume",
                (MountKind::Bind, None) => "bind",
                (MountKind::Tmpfs, _) => "tmpfs",
                (MountKind::Devpts, _) => "devpts",
                (MountKind::Image, _) => "image",
            },
            name: mount.volume.clone().unwrap_or_default(),
            source: match mount.kind {
                MountKind::Bind | MountKind::Devpts | MountKind::Image => {
                    mount.source.display().to_string()
                }
                MountKind::Tmpfs => "tmpfs".into(),
            },
            destination: mount.destination.clone(),
            driver: String::new(),
            mode: String::new(),
            // An image mount's `ro`/`rw` is its `RW` (podman shows no options); an
            // overlay mount's source is its lower layer, and `O` says so.
            options: match (mount.kind, &mount.overlay) {
                (MountKind::Image, _) => Vec::new(),
                (_, Some(layers)) => [mount.options.clone(), layers.words()].concat(),
                _ => mount.options.clone(),
            },
            rw: !mount.read_only(),
            propagation: mount.propagation().to_string(),
        }
    }
}

/// `inspect` of a container.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    pub id: String,
    pub created: DateTime<Utc>,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    /// The image's digest (`Engine::inspect_view` knows the images).
    pub image_digest: String,
    pub image_name: String,
    pub rootfs: String,
    pub static_dir: String,
    #[serde(rename = "OCIConfigPath")]
    pub oci_config_path: String,
    #[serde(rename = "OCIRuntime")]
    pub oci_runtime: String,
    pub conmon_pid_file: String,
    pub pid_file: String,
    pub name: String,
    pub restart_count: u32,
    pub driver: &'static str,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Vec<String>,
    pub mounts: Vec<InspectMount>,
    /// `--requires`: the containers (IDs) started before this one.
    pub dependencies: Vec<String>,
    /// The pod's ID; empty outside a pod.
    pub pod: String,
    pub network_settings: NetworkSettings,
    pub config: ContainerConfigView,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    /// The container's capabilities (its bounding set and its process's effective set
    /// alike, as rpod gives them).
    pub effective_caps: Vec<String>,
    pub bounding_caps: Vec<String>,
    /// The files rpod makes for the container's `/etc/resolv.conf`, `/etc/hostname` and
    /// `/etc/hosts`, once made (empty before its first start, as podman's).
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    /// Whether it is a pod's infra container (`Engine::inspect_view` knows the pods).
    pub is_infra: bool,
    /// Whether it is a `kube play` service container: rpod makes none.
    pub is_service: bool,
    /// podman's libpod namespace: rpod has none, empty as podman's default.
    pub namespace: &'static str,
    /// Labels of security modules rpod does not use: empty, as podman's without them.
    pub mount_label: &'static str,
    pub process_label: &'static str,
    pub app_armor_profile: &'static str,
}

/// The environment a container's process has (podman's inspect shows its spec's): as the
/// spec written at its last start has it (with `HOME` from the image's passwd), or, before
/// a start, as the spec would have it; never the values of secrets given as variables.
fn spec_env(bundle: &std::path::Path, c: &crate::container::ContainerConfig) -> Vec<String> {
    /// The one part of the spec read; the rest (most of it the seccomp profile) is skipped.
    #[derive(serde::Deserialize)]
    struct SpecEnv {
        process: Option<ProcessEnv>,
    }
    #[derive(serde::Deserialize)]
    struct ProcessEnv {
        env: Option<Vec<String>>,
    }
    let env = std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_slice::<SpecEnv>(&text).ok())
        .and_then(|spec| spec.process?.env)
        .unwrap_or_else(|| crate::spec::process_env(c, None));
    crate::spec::without_secrets(c, env)
}

impl ContainerInspect {
    pub fn new(roots: &Roots, record: &ContainerRecord, exec_ids: Vec<String>) -> Self {
        let c = &record.config;
        let s = &record.state;
        let id = c.id.as_str();
        let active = matches!(
            s.status,
            Status::Running | Status::Paused | Status::Stopping
        );
        let bundle = roots.bundle_dir(id);
        let run_dir = roots.run_dir(id);
        let made = |path: std::path::PathBuf| {
            if path.exists() {
                path.display().to_string()
            } else {
                String::new()
            }
        };
        let capabilities: Vec<String> = c.security.capabilities().into_iter().collect();
        let split = c.entrypoint_len.min(c.args.len());
        let (entrypoint, cmd) = c.args.split_at(split);
        let security = &c.security;
        let security_opt = security_opt_list(security);
        let r = &c.resources;
        let throttled = !(r.device_read_bps.is_empty()
            && r.device_write_bps.is_empty()
            && r.device_read_iops.is_empty()
            && r.device_write_iops.is_empty());
        let throttles = |list: &[crate::resources::Throttle]| {
            throttled.then(|| {
                list.iter()
                    .map(|t| ThrottleView {
                        path: t.device.display().to_string(),
                        rate: t.rate,
                    })
                    .collect()
            })
        };
        ContainerInspect {
            id: id.to_string(),
            created: c.created,
            path: c.args.first().cloned().unwrap_or_default(),
            args: c.args.iter().skip(1).cloned().collect(),
            state: ContainerState {
                oci_version: "1.0.2-dev",
                status: s.status.as_str(),
                running: active && s.status != Status::Paused,
                paused: s.status == Status::Paused,
                restarting: false,
                oom_killed: s.oom_killed,
                dead: false,
                pid: s.pid,
                conmon_pid: s.conmon_pid,
                exit_code: s.exit_code.unwrap_or(0),
                error: s.error.clone(),
                started_at: s.started_at,
                finished_at: s.finished_at,
                stopped_by_user: s.stopped_by_user,
                cgroup_path: match active && !c.no_cgroups {
                    true => crate::spec::cgroup_path(c),
                    false => String::new(),
                },
                health: s.health.clone(),
                checkpointed: s.checkpointed,
                checkpointed_at: s.checkpointed_at,
                restored: s.restored,
                restored_at: s.restored_at,
            },
            image: c.image_id.clone(),
            image_digest: String::new(),
            image_name: c.image_name.clone(),
            rootfs: c
                .rootfs
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            static_dir: roots.container_dir(id).display().to_string(),
            oci_config_path: bundle.join("config.json").display().to_string(),
            oci_runtime: c.runtime.clone(),
            conmon_pid_file: run_dir.join("conmon.pid").display().to_string(),
            pid_file: run_dir.join("pidfile").display().to_string(),
            name: c.name.clone(),
            restart_count: record.state.restart_count,
            driver: "overlay",
            exec_ids,
            mounts: c.mounts.iter().map(InspectMount::new).collect(),
            dependencies: c.requires.clone(),
            pod: c.pod.clone().unwrap_or_default(),
            network_settings: NetworkSettings::new(roots, record),
            config: ContainerConfigView {
                hostname: c.hostname.clone(),
                domainname: c.domainname.clone().unwrap_or_default(),
                user: c.user.clone(),
                env: spec_env(&bundle, c),
                cmd: cmd.to_vec(),
                entrypoint: entrypoint.join(" "),
                image: c.image_name.clone(),
                working_dir: c.workdir.clone(),
                labels: c.labels.clone(),
                stop_signal: rpod_oci::signal::signal_name(c.stop_signal),
                stop_timeout: c.stop_timeout,
                timeout: c.timeout.unwrap_or(0),
                healthcheck_on_failure_action: c
                    .healthcheck
                    .as_ref()
                    .map_or("none", |h| h.on_failure.as_str()),
                healthcheck: c.healthcheck.as_ref().map(|h| h.to_api()),
                startup_healthcheck: c
                    .healthcheck
                    .as_ref()
                    .and_then(|h| h.startup.as_ref())
                    .map(crate::health::StartupCheck::to_api),
                annotations: c.annotations.clone(),
                umask: format!("{:04o}", c.umask.unwrap_or(crate::spec::DEFAULT_UMASK)),
                create_command: c.create_command.clone(),
                systemd_mode: c.systemd,
                passwd: !c.no_passwd_entries,
                chroot_dirs: c.chroot_dirs.clone(),
                timezone: c.time_zone.clone(),
                sd_notify_mode: match (c.sdnotify_conmon, c.sdnotify_container) {
                    (true, _) => "conmon",
                    (false, true) => "container",
                    (false, false) => "ignore",
                },
                volumes: None,
                on_build: None,
                tty: c.terminal,
                open_stdin: c.stdin,
                stdin_once: false,
                attach_stdin: false,
                attach_stdout: false,
                attach_stderr: false,
            },
            host_config: HostConfig {
                network_mode: c.network.as_string(),
                port_bindings: port_bindings(c),
                publish_all_ports: c.net.publish_all,
                dns: c.net.dns_servers.clone(),
                dns_search: c.net.dns_search.clone(),
                dns_options: c.net.dns_options.clone(),
                extra_hosts: c
                    .net
                    .add_hosts
                    .iter()
                    .map(|h| format!("{}:{}", h.names.join(";"), h.ip))
                    .collect(),
                auto_remove: c.auto_remove,
                memory: c.memory.unwrap_or(0),
                memory_swap: c.resources.memory_swap.unwrap_or(0),
                memory_reservation: c.resources.memory_reservation.unwrap_or(0),
                nano_cpus: c.cpus.map(|n| (n * 1e9) as i64).unwrap_or(0),
                cpu_shares: c.resources.cpu_shares.unwrap_or(0),
                // As podman shows them: `--cpus 0.5` is a quota of 50000 in 100000.
                cpu_quota: crate::resources::cfs_limits(c)
                    .and_then(|(quota, _)| quota)
                    .unwrap_or(0),
                cpu_period: c
                    .resources
                    .cpu_period
                    .or(c.cpus.map(|_| crate::resources::CPU_PERIOD))
                    .unwrap_or(0),
                cpuset_cpus: c.resources.cpuset_cpus.clone().unwrap_or_default(),
                cpuset_mems: c.resources.cpuset_mems.clone().unwrap_or_default(),
                blkio_weight: c.resources.blkio_weight.unwrap_or(0),
                blkio_weight_device: c
                    .resources
                    .blkio_weight_device
                    .iter()
                    .map(|w| WeightDeviceView {
                        path: w.device.display().to_string(),
                        weight: w.weight,
                    })
                    .collect(),
                blkio_device_read_bps: throttles(&c.resources.device_read_bps),
                blkio_device_write_bps: throttles(&c.resources.device_write_bps),
                blkio_device_read_iops: throttles(&c.resources.device_read_iops),
                blkio_device_write_iops: throttles(&c.resources.device_write_iops),
                memory_swappiness: c.resources.memory_swappiness.map_or(-1, |s| s as i64),
                cpu_realtime_period: c.resources.cpu_rt_period.unwrap_or(0),
                cpu_realtime_runtime: c.resources.cpu_rt_runtime.unwrap_or(0),
                cgroup_mode: c.isolation.cgroup.as_string(),
                cgroups: if c.no_cgroups { "disabled" } else { "default" },
                cgroup_parent: c
                    .cgroup_parent
                    .clone()
                    .unwrap_or_else(|| crate::spec::DEFAULT_CGROUP_PARENT.to_string()),
                userns_mode: match (&c.id_mappings, c.userns_auto, &c.userns_container) {
                    (Some(_), _, Some(other)) => format!("container:{other}"),
                    (Some(_), true, None) => "auto".into(),
                    (Some(_), false, None) => "private".into(),
                    (None, _, _) => String::new(),
                },
                id_mappings: c.id_mappings.as_ref().map(|m| IdMappingsView {
                    uid_map: m.uid_flags(),
                    gid_map: m.gid_flags(),
                }),
                personality: c.personality.clone(),
                pids_limit: c.pids_limit.unwrap_or(0),
                readonly_rootfs: c.read_only,
                privileged: security.privileged,
                cap_add: security.cap_add.clone(),
                cap_drop: security.cap_drop.clone(),
                security_opt,
                log_config: LogConfig {
                    kind: if c.passthrough {
                        "passthrough"
                    } else if c.log_to_file {
                        "k8s-file"
                    } else {
                        "none"
                    },
                    path: if c.log_to_file {
                        c.log_path
                            .clone()
                            .unwrap_or_else(|| roots.log_path(id))
                            .display()
                            .to_string()
                    } else {
                        String::new()
                    },
                    tag: c.log_tag.clone().unwrap_or_default(),
                    size: crate::human::size(c.log_size_max.unwrap_or(0)).replace(' ', ""),
                    config: None,
                },
                restart_policy: RestartPolicy {
                    name: c.restart.name().to_string(),
                    maximum_retry_count: c.restart.max_retries,
                },
                oom_score_adj: c.oom_score_adj.unwrap_or(0),
                binds: c
                    .mounts
                    .iter()
                    .filter(|m| m.kind == crate::mounts::MountKind::Bind)
                    .map(|m| {
                        let source = match &m.volume {
                            Some(name) => name.clone(),
                            None => m.source.display().to_string(),
                        };
                        format!("{source}:{}:{}", m.destination, m.options.join(","))
                    })
                    .collect(),
                tmpfs: c
                    .mounts
                    .iter()
                    .filter(|m| m.kind == crate::mounts::MountKind::Tmpfs)
                    .map(|m| (m.destination.clone(), m.options.join(",")))
                    .collect(),
                ulimits: c
                    .isolation
                    .ulimits
                    .iter()
                    .map(|u| UlimitView {
                        name: u.name.clone(),
                        soft: u.soft,
                        hard: u.hard,
                    })
                    .collect(),
                devices: c.isolation.devices.iter().map(DeviceView::new).collect(),
                shm_size: c
                    .isolation
                    .shm_size
                    .unwrap_or(crate::isolation::DEFAULT_SHM_SIZE),
                group_add: c.isolation.group_add.clone(),
                ipc_mode: c.isolation.ipc.as_string(),
                pid_mode: c.isolation.pid.as_string(),
                uts_mode: c.isolation.uts.as_string(),
                runtime: "oci",
                cgroup_manager: "cgroupfs",
                oom_kill_disable: c.resources.oom_kill_disable,
                console_size: c.console_size.map_or([0, 0], |t| [t.height, t.width]),
                container_id_file: c.cid_file.clone().unwrap_or_default(),
                volumes_from: (!c.volumes_from.is_empty()).then(|| c.volumes_from.clone()),
                links: None,
                cgroup: String::new(),
                cgroup_conf: None,
                cpu_count: 0,
                cpu_percent: 0,
                disk_quota: 0,
                io_maximum_bandwidth: 0,
                io_maximum_iops: 0,
                isolation: "",
                kernel_memory: 0,
                volume_driver: "",
            },
            graph_driver: GraphDriver {
                name: "overlay",
                data: {
                    let dirs = crate::rootfs::OverlayDirs::new(&roots.overlay_dir(id));
                    let mut data = BTreeMap::new();
                    // Made at the container's first start (its root mounted).
                    if c.rootfs.is_none() && dirs.upper.is_dir() {
                        data.insert("UpperDir", dirs.upper.display().to_string());
                        data.insert("WorkDir", dirs.work.display().to_string());
                        if s.mounted {
                            data.insert("MergedDir", dirs.merged.display().to_string());
                        }
                    }
                    data
                },
            },
            effective_caps: capabilities.clone(),
            bounding_caps: capabilities,
            resolv_conf_path: made(run_dir.join("resolv.conf")),
            hostname_path: made(run_dir.join("hostname")),
            hosts_path: made(run_dir.join("hosts")),
            is_infra: false,
            is_service: false,
            namespace: "",
            mount_label: "",
            process_label: "",
            app_armor_profile: "",
        }
    }
}

/// The image a listing shows for a container: its name, or the root directory of a
/// `--rootfs` container.
fn listed_image(c: &crate::container::ContainerConfig) -> String {
    if c.image_name.is_empty() {
        c.rootfs
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    } else {
        c.image_name.clone()
    }
}

/// One container of a listing (`ps`), the data podman's `ps --format` offers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created_at: DateTime<Utc>,
    pub state: &'static str,
    pub exit_code: i32,
    pub exited: bool,
    pub names: String,
    pub pid: i32,
    pub labels: BTreeMap<String, String>,
    pub auto_remove: bool,
    #[serde(serialize_with = "time_or_zero")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time_or_zero")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl ContainerSummary {
    pub fn new(record: &ContainerRecord) -> Self {
        let c = &record.config;
        let s = &record.state;
        let image = listed_image(c);
        ContainerSummary {
            id: c.id.clone(),
            image,
            image_id: c.image_id.clone(),
            command: c.args.join(" "),
            created_at: c.created,
            state: s.status.as_str(),
            exit_code: s.exit_code.unwrap_or(0),
            exited: matches!(s.status, Status::Stopped | Status::Exited),
            names: c.name.clone(),
            pid: s.pid,
            labels: c.labels.clone(),
            auto_remove: c.auto_remove,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

/// What Go's zero time is in Unix seconds: podman's `StartedAt`/`ExitedAt` of a container
/// that never started or never exited.
const GO_ZERO_UNIX: i64 = -62_135_596_800;

/// One container as podman lists it (its `ListContainer`): an entry of the libpod API's
/// `GET /libpod/containers/json`, which podman-remote's `ps` reads, and of `ps --format
/// json`. The two differ in `Created` (a time here, Unix seconds in `ps`), `CreatedAt`
/// (empty here, "5 minutes ago" in `ps`) and `Status` (empty here, `ps`'s status text),
/// which `ps` sets; `Size` is filled when sizes were asked for, `Namespaces` by `ps --ns`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListContainer {
    pub auto_remove: bool,
    pub command: Vec<String>,
    pub created: DateTime<Utc>,
    pub created_at: String,
    pub exited: bool,
    pub exited_at: i64,
    pub exit_code: i32,
    pub id: String,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub is_infra: bool,
    pub labels: BTreeMap<String, String>,
    /// Where the user's volumes and mounts are in the container.
    pub mounts: Vec<String>,
    pub names: Vec<String>,
    pub namespaces: BTreeMap<String, String>,
    pub networks: Vec<String>,
    pub pid: i32,
    pub pod: String,
    pub pod_name: String,
    /// `null` without published ports, as podman's.
    pub ports: Option<Vec<crate::network::ports::PortMapping>>,
    pub size: Option<ListSize>,
    pub started_at: i64,
    pub state: &'static str,
    pub status: String,
}

/// Where a pod's cgroup is made, as podman shows it; empty for a pod without a cgroup of
/// its own.
fn pod_cgroup_parent(pod: &crate::pods::PodRecord) -> String {
    pod.cgroup.as_ref().map_or_else(String::new, |_| {
        pod.cgroup_parent
            .clone()
            .unwrap_or_else(|| crate::spec::DEFAULT_CGROUP_PARENT.to_string())
    })
}

/// One pod as podman lists it (its `ListPodsReport`): an entry of the libpod API's
/// `GET /libpod/pods/json` and of `pod ps --format json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPod {
    /// The pod's cgroup parent (empty for a pod without a cgroup of its own).
    pub cgroup: String,
    pub containers: Vec<ListPodContainer>,
    pub created: DateTime<Utc>,
    pub id: String,
    pub infra_id: String,
    pub name: String,
    pub namespace: &'static str,
    /// The infra container's networks.
    pub networks: Vec<String>,
    pub status: &'static str,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPodContainer {
    pub id: String,
    pub names: String,
    pub status: &'static str,
}

impl ListPod {
    pub fn new(view: &crate::engine::PodView) -> Self {
        let pod = &view.pod;
        let infra = pod
            .infra_id
            .as_deref()
            .and_then(|id| view.containers.iter().find(|c| c.id() == id));
        ListPod {
            cgroup: pod_cgroup_parent(pod),
            containers: view
                .containers
                .iter()
                .map(|c| ListPodContainer {
                    id: c.id().to_string(),
                    names: c.config.name.clone(),
                    status: c.state.status.as_str(),
                })
                .collect(),
            created: pod.created,
            id: pod.id.clone(),
            infra_id: pod.infra_id.clone().unwrap_or_default(),
            name: pod.name.clone(),
            namespace: "",
            networks: infra
                .map(|i| {
                    i.config
                        .net
                        .networks
                        .iter()
                        .map(|n| n.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            status: view.status.as_str(),
            labels: pod.labels.clone(),
        }
    }
}

/// A listed container's sizes: what it wrote and its whole root.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ListSize {
    #[serde(rename = "rootFsSize")]
    pub root_fs: u64,
    #[serde(rename = "rwSize")]
    pub written: u64,
}

impl ListContainer {
    /// `pod`: the container's pod, if it is in one.
    pub fn new(record: &ContainerRecord, pod: Option<&crate::pods::PodRecord>) -> Self {
        let c = &record.config;
        let s = &record.state;
        let unix = |t: Option<DateTime<Utc>>| t.map_or(GO_ZERO_UNIX, |t| t.timestamp());
        let image = listed_image(c);
        ListContainer {
            auto_remove: c.auto_remove,
            command: c.args.clone(),
            created: c.created,
            created_at: String::new(),
            exited: matches!(s.status, Status::Stopped | Status::Exited),
            exited_at: unix(s.finished_at),
            exit_code: s.exit_code.unwrap_or(0),
            id: c.id.clone(),
            image,
            image_id: c.image_id.clone(),
            is_infra: pod.is_some_and(|p| p.infra_id.as_deref() == Some(c.id.as_str())),
            labels: c.labels.clone(),
            mounts: c.mounts.iter().map(|m| m.destination.clone()).collect(),
            names: vec![c.name.clone()],
            namespaces: BTreeMap::new(),
            networks: c.net.networks.iter().map(|n| n.name.clone()).collect(),
            pid: s.pid,
            pod: pod.map(|p| p.id.clone()).unwrap_or_default(),
            pod_name: pod.map(|p| p.name.clone()).unwrap_or_default(),
            ports: (!c.net.ports.is_empty()).then(|| c.net.ports.clone()),
            size: None,
            started_at: unix(s.started_at),
            state: s.status.as_str(),
            status: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub layers: Vec<String>,
}

/// `image inspect`: `Id` as podman and Docker name it, and `ID` as `image inspect --format`
/// scripts written for podman also use.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    #[serde(rename = "ID")]
    pub id_upper: String,
    pub digest: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// The image this one was committed on (podman's `Parent`), or empty.
    pub parent: String,
    #[serde(serialize_with = "time_or_zero")]
    pub created: Option<DateTime<Utc>>,
    pub config: serde_json::Value,
    pub architecture: serde_json::Value,
    pub os: serde_json::Value,
    /// The architecture's variant (`v7`), when the image names one (as Docker shows it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    pub size: u64,
    pub virtual_size: u64,
    pub labels: BTreeMap<String, String>,
    /// Its manifest's annotations, as podman shows them (left out when none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    pub history: serde_json::Value,
    pub names_history: Vec<String>,
    pub author: String,
    /// The comment of the newest history entry (`commit -m`, `import -m`).
    pub comment: String,
    /// The manifest type the image is kept (and by default pushed) in, as podman names it.
    pub manifest_type: &'static str,
    /// A Docker-format image's health check, where podman's inspect shows it.
    #[serde(rename = "HealthCheck", skip_serializing_if = "Option::is_none")]
    pub health_check: Option<serde_json::Value>,
    /// The user its containers run as (the config's, podman's field).
    pub user: String,
    /// podman's `Version` (the Docker version a Docker config names): empty, as rpod keeps
    /// no such field of a config (`oci-spec`'s type has none).
    pub version: &'static str,
    /// Where its layers are: the top one as `UpperDir`, those beneath as `LowerDir`
    /// (topmost first), as podman shows an image.
    pub graph_driver: GraphDriver,
}

/// An image's inspect JSON (this view's, or a service's) made whole for a template: the
/// fields JSON leaves out when empty, as a Go template reads them from podman's struct
/// (`{{.Annotations}}` is `map[]`, `{{.Config.Env}}` of an image without one `[]`).
pub fn image_template_fields(value: &mut serde_json::Value) {
    let Some(map) = value.as_object_mut() else {
        return;
    };
    map.entry("Annotations").or_insert(serde_json::json!({}));
    if let Some(config) = map.get_mut("Config").and_then(|c| c.as_object_mut()) {
        // The fields of the image spec's config (podman's `v1.ImageConfig`).
        for (name, zero) in [
            ("User", serde_json::json!("")),
            ("ExposedPorts", serde_json::json!({})),
            ("Env", serde_json::json!([])),
            ("Entrypoint", serde_json::json!([])),
            ("Cmd", serde_json::json!([])),
            ("Volumes", serde_json::json!({})),
            ("WorkingDir", serde_json::json!("")),
            ("Labels", serde_json::json!({})),
            ("StopSignal", serde_json::json!("")),
            ("ArgsEscaped", serde_json::json!(false)),
        ] {
            config.entry(name).or_insert(zero);
        }
    }
}

/// A container's inspect JSON (this view's, or a service's) made whole for a template:
/// names podman's struct answers that its JSON does not have. `.State.Healthcheck` is a
/// method of podman's state, kept for templates written for Docker's older name of
/// `.State.Health`: the same value.
pub fn container_template_fields(value: &mut serde_json::Value) {
    if let Some(state) = value.get_mut("State").and_then(|s| s.as_object_mut()) {
        if let Some(health) = state.get("Health").cloned() {
            state.insert("Healthcheck".into(), health);
        }
    }
}

impl ImageInspect {
    /// The view for a template: every field, those JSON leaves out too (a Go template
    /// reads a struct's every field: `{{.Annotations}}` is `map[]`).
    pub fn for_template(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        image_template_fields(&mut value);
        value
    }

    pub fn new(roots: &Roots, info: &ImageInfo) -> Self {
        let layers = crate::image::layer_dirs(roots);
        let mut dirs = info.record.layers.iter().rev().map(|l| layers.dir(l));
        let mut graph_data = BTreeMap::new();
        if let Some(top) = dirs.next() {
            graph_data.insert("UpperDir", top.display().to_string());
        }
        let lower: Vec<String> = dirs.map(|d| d.display().to_string()).collect();
        if !lower.is_empty() {
            graph_data.insert("LowerDir", lower.join(":"));
        }
        let config =
            crate::go_json::to_value_sorted(&info.config).unwrap_or(serde_json::Value::Null);
        let field = |name: &str| config.get(name).cloned().unwrap_or(serde_json::Value::Null);
        ImageInspect {
            id: info.record.id.clone(),
            id_upper: info.record.id.clone(),
            digest: info.digest(),
            repo_tags: info.names.clone(),
            repo_digests: info.repo_digests(),
            parent: info.record.parent.clone().unwrap_or_default(),
            created: info.record.created,
            config: config
                .get("config")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({})),
            architecture: field("architecture"),
            os: field("os"),
            variant: info.config.variant().clone().unwrap_or_default(),
            size: info.record.size,
            virtual_size: info.record.size,
            labels: info.labels(),
            annotations: info.record.annotations.clone(),
            root_fs: RootFs {
                kind: "layers",
                layers: info
                    .record
                    .layers
                    .iter()
                    .map(|l| format!("sha256:{l}"))
                    .collect(),
            },
            history: config
                .get("history")
                .cloned()
                .unwrap_or_else(|| serde_json::json!([])),
            names_history: info.names.clone(),
            author: info.config.author().clone().unwrap_or_default(),
            comment: info
                .config
                .history()
                .as_ref()
                .and_then(|h| h.last())
                .and_then(|h| h.comment().clone())
                .unwrap_or_default(),
            manifest_type: info.record.format().manifest_type(),
            health_check: info.docker.healthcheck.clone(),
            user: info
                .config
                .config()
                .as_ref()
                .and_then(|c| c.user().clone())
                .unwrap_or_default(),
            version: "",
            graph_driver: GraphDriver {
                name: "overlay",
                data: graph_data,
            },
        }
    }
}

/// One row of an image listing: one per name, or one `<none>` row for an unnamed image.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    pub id: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub created_at: DateTime<Utc>,
    pub size: u64,
    pub virtual_size: u64,
    pub labels: BTreeMap<String, String>,
    pub names: Vec<String>,
}

impl ImageSummary {
    pub fn rows(info: &ImageInfo) -> Vec<Self> {
        let created = info.record.created.unwrap_or(info.record.added);
        let names: Vec<Option<&String>> = if info.names.is_empty() {
            vec![None]
        } else {
            info.names.iter().map(Some).collect()
        };
        names
            .into_iter()
            .map(|name| {
                let (repository, tag) = name
                    .map(|n| repository_and_tag(n))
                    .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
                ImageSummary {
                    id: info.record.id.clone(),
                    repository,
                    tag,
                    digest: info.digest(),
                    created_at: created,
                    size: info.record.size,
                    virtual_size: info.record.size,
                    labels: info.labels(),
                    names: info.names.clone(),
                }
            })
            .collect()
    }
}

/// `info`: the host, the store and the version, as podman names them.
#[derive(Debug, Clone, Serialize)]
pub struct SystemInfo {
    pub host: HostInfo,
    pub plugins: PluginsInfo,
    /// The search registries (`search`) and registries.conf's tables by prefix, as
    /// podman's `registries`.
    pub registries: serde_json::Map<String, serde_json::Value>,
    pub store: StoreInfo,
    pub version: VersionInfo,
}

/// podman's `plugins`: the volume drivers (`local` and rpod.conf's volume plugins), the
/// network drivers and the log drivers rpod has.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginsInfo {
    pub volume: Vec<String>,
    pub network: Vec<&'static str>,
    pub log: Vec<&'static str>,
    /// Always null: no authorization plugins.
    pub authorization: Option<Vec<String>>,
}

/// podman's `host.security`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityInfo {
    /// rpod confines containers with neither AppArmor nor SELinux.
    pub apparmor_enabled: bool,
    /// The default capabilities, sorted, comma-separated.
    pub capabilities: String,
    pub rootless: bool,
    /// The kernel filters system calls (a process has a `Seccomp:` status).
    pub seccomp_enabled: bool,
    /// The seccomp profile new containers get, empty when none is installed.
    pub seccomp_profile_path: String,
    pub selinux_enabled: bool,
}

/// podman's `host.idMappings`: a rootless user's mappings; null for root.
#[derive(Debug, Clone, Serialize)]
pub struct IdMappingsInfo {
    pub gidmap: Option<Vec<String>>,
    pub uidmap: Option<Vec<String>>,
}

/// podman's `host.remoteSocket`: where `system service` listens by default.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteSocketInfo {
    pub path: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exists: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostInfo {
    pub arch: &'static str,
    pub os: &'static str,
    pub kernel: String,
    pub hostname: String,
    pub cgroup_manager: &'static str,
    pub cgroup_version: &'static str,
    pub cgroup_controllers: Vec<String>,
    pub cpu_utilization: crate::host_system::CpuUsage,
    /// The event log's backend: rpod's is a file, as podman's `file`.
    pub event_logger: &'static str,
    pub id_mappings: IdMappingsInfo,
    /// How rpod is linked (podman's word for a Go build: `dynamic`).
    pub linkmode: &'static str,
    pub network_backend: &'static str,
    pub remote_socket: RemoteSocketInfo,
    pub security: SecurityInfo,
    /// Set by a client that asked a service (`--url`).
    pub service_is_remote: bool,
    pub conmon: rpod_oci::ConmonInfo,
    pub oci_runtime: rpod_oci::OciRuntimeInfo,
    pub log_driver: &'static str,
    pub supports_checkpoint: bool,
    /// CRIU's version, when one that passes `criu check` is found.
    #[serde(rename = "CRIUVersion")]
    pub criu_version: String,
    #[serde(rename = "supportsJSONErrors")]
    pub supports_json_errors: bool,
    pub supports_no_cgroups: bool,
    #[serde(rename = "supportsKVM")]
    pub supports_kvm: bool,
    pub distribution: crate::host_system::Distribution,
    pub mem_total: u64,
    pub mem_free: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    pub cpus: usize,
    pub uptime: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerCounts {
    pub number: usize,
    pub paused: usize,
    pub running: usize,
    pub stopped: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageCounts {
    pub number: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreInfo {
    /// rpod.conf, when one was read.
    pub config_file: String,
    pub graph_root: String,
    /// The size and use of the graph root's file system, in bytes.
    pub graph_root_allocated: u64,
    pub graph_root_used: u64,
    pub run_root: String,
    pub graph_driver_name: &'static str,
    pub graph_options: serde_json::Map<String, serde_json::Value>,
    /// containers/storage's words for the overlay driver's state.
    pub graph_status: BTreeMap<&'static str, String>,
    /// Where images are unpacked and archives made before they are kept.
    pub image_copy_tmp_dir: String,
    pub volume_path: String,
    pub container_store: ContainerCounts,
    pub image_store: ImageCounts,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    #[serde(rename = "APIVersion")]
    pub api_version: &'static str,
    pub version: &'static str,
    /// Empty: rpod is not built with Go.
    pub go_version: &'static str,
    pub git_commit: &'static str,
    /// No build time is recorded: 0, which Go's clock shows as the epoch.
    pub built_time: &'static str,
    pub built: i64,
    pub os_arch: String,
    pub os: &'static str,
}

impl VersionInfo {
    /// This build of rpod's (`info`'s `version`, `version`'s `Client`).
    pub fn of_this_build() -> VersionInfo {
        VersionInfo {
            api_version: env!("CARGO_PKG_VERSION"),
            version: env!("CARGO_PKG_VERSION"),
            go_version: "",
            git_commit: "",
            built_time: "Thu Jan  1 00:00:00 1970",
            built: 0,
            os_arch: format!("linux/{}", go_arch()),
            os: "linux",
        }
    }
}

/// Go's name for the machine's architecture, as podman and Docker report it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The cgroup version the host mounts at `/sys/fs/cgroup`.
pub fn cgroup_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(fs) if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "v2",
        _ => "v1",
    }
}

impl ContainerCounts {
    pub fn of(records: &[ContainerRecord]) -> Self {
        let count = |wanted: &[Status]| {
            records
                .iter()
                .filter(|c| wanted.contains(&c.state.status))
                .count()
        };
        ContainerCounts {
            number: records.len(),
            paused: count(&[Status::Paused]),
            running: count(&[Status::Running]),
            stopped: count(&[
                Status::Configured,
                Status::Created,
                Status::Stopped,
                Status::Exited,
            ]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_times_are_podmans_zero_and_set_ones_end_in_z() {
        #[derive(Serialize)]
        struct T {
            #[serde(serialize_with = "time_or_zero")]
            a: Option<DateTime<Utc>>,
            #[serde(serialize_with = "time_or_zero")]
            b: Option<DateTime<Utc>>,
        }
        let t = T {
            a: None,
            b: Some(DateTime::from_timestamp(1_700_000_000, 5).unwrap()),
        };
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["a"], "0001-01-01T00:00:00Z");
        assert!(json["b"].as_str().unwrap().ends_with('Z'), "{json}");
    }
}

/// One container of a pod in its inspect view.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PodContainerView {
    pub id: String,
    pub name: String,
    pub state: &'static str,
}

/// `pod inspect` (podman's `InspectPodData`, the fields rpod has).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PodInspect {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    pub create_command: Vec<String>,
    pub state: &'static str,
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    pub create_infra: bool,
    #[serde(rename = "InfraContainerID")]
    pub infra_container_id: String,
    pub shared_namespaces: Vec<&'static str>,
    pub exit_policy: &'static str,
    pub num_containers: usize,
    pub containers: Vec<PodContainerView>,
    /// Whether the pod has a cgroup of its own.
    pub create_cgroup: bool,
    /// The infra container's network and namespace settings; `null` for a pod without
    /// one (podman's JSON leaves it out; a template still finds the field).
    pub infra_config: Option<InfraConfig>,
    /// The pod's cgroup's parent and path (podman's; empty with `--share-parent=false`), and
    /// its limits (0 or empty: none; podman leaves those out of its JSON).
    pub cgroup_parent: String,
    pub cgroup_path: String,
    #[serde(rename = "cpu_period")]
    pub cpu_period: u64,
    #[serde(rename = "cpu_quota")]
    pub cpu_quota: i64,
    #[serde(rename = "cpu_shares")]
    pub cpu_shares: u64,
    #[serde(rename = "cpuset_cpus")]
    pub cpuset_cpus: String,
    #[serde(rename = "cpuset_mems")]
    pub cpuset_mems: String,
    #[serde(rename = "memory_limit")]
    pub memory_limit: u64,
    #[serde(rename = "memory_swap")]
    pub memory_swap: u64,
    #[serde(rename = "blkio_weight")]
    pub blkio_weight: u64,
    /// The infra container's volumes and bind mounts and its devices, which every
    /// container of the pod gets, and its security options (podman's lower-case names,
    /// left out when empty).
    #[serde(rename = "mounts", skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<InspectMount>,
    #[serde(rename = "devices", skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceView>,
    #[serde(rename = "security_opt", skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
}

/// A pod's `InfraConfig` in `pod inspect`: what its infra container was made with.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InfraConfig {
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    pub host_network: bool,
    #[serde(rename = "StaticIP")]
    pub static_ip: String,
    #[serde(rename = "StaticMAC")]
    pub static_mac: String,
    pub no_manage_resolv_conf: bool,
    #[serde(rename = "DNSServer")]
    pub dns_server: Option<Vec<String>>,
    #[serde(rename = "DNSSearch")]
    pub dns_search: Option<Vec<String>>,
    #[serde(rename = "DNSOption")]
    pub dns_option: Option<Vec<String>>,
    pub no_manage_hosts: bool,
    pub host_add: Option<Vec<String>>,
    pub networks: Option<Vec<String>>,
    pub network_options: Option<BTreeMap<String, Vec<String>>>,
    #[serde(rename = "pid_ns")]
    pub pid_ns: String,
    #[serde(rename = "userns")]
    pub userns: String,
    #[serde(rename = "uts_ns")]
    pub uts_ns: String,
}

impl InfraConfig {
    fn new(infra: &ContainerRecord) -> Self {
        use crate::container::NetworkMode;
        let c = &infra.config;
        let net = &c.net;
        // podman writes `null` for a list nobody set.
        let given = |list: &Vec<String>| (!list.is_empty()).then(|| list.clone());
        let first = net.networks.first();
        let userns = if c.userns_auto {
            "auto".to_string()
        } else if let Some(other) = &c.userns_container {
            format!("container:{other}")
        } else if c.id_mappings.is_some() {
            "private".to_string()
        } else {
            "host".to_string()
        };
        InfraConfig {
            port_bindings: port_bindings(c),
            host_network: c.network == NetworkMode::Host,
            static_ip: first
                .and_then(|n| n.ip)
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            static_mac: first.and_then(|n| n.mac.clone()).unwrap_or_default(),
            no_manage_resolv_conf: false,
            dns_server: given(&net.dns_servers),
            dns_search: given(&net.dns_search),
            dns_option: given(&net.dns_options),
            no_manage_hosts: net.no_hosts,
            host_add: (!net.add_hosts.is_empty()).then(|| {
                net.add_hosts
                    .iter()
                    .map(|h| format!("{}:{}", h.names.join(";"), h.ip))
                    .collect()
            }),
            networks: (!net.networks.is_empty())
                .then(|| net.networks.iter().map(|n| n.name.clone()).collect()),
            network_options: None,
            pid_ns: c.isolation.pid.as_string(),
            userns,
            uts_ns: c.isolation.uts.as_string(),
        }
    }
}

impl PodInspect {
    pub fn new(view: &crate::engine::PodView) -> Self {
        let pod = &view.pod;
        let limits = &pod.limits;
        let infra = pod
            .infra_id
            .as_deref()
            .and_then(|id| view.containers.iter().find(|c| c.id() == id));
        PodInspect {
            id: pod.id.clone(),
            name: pod.name.clone(),
            created: pod.created,
            create_command: pod.create_command.clone(),
            state: view.status.as_str(),
            // What was asked: none (the pod's name, its containers' host name) shows empty,
            // as podman's.
            hostname: if pod.hostname == pod.name {
                String::new()
            } else {
                pod.hostname.clone()
            },
            labels: pod.labels.clone(),
            create_infra: pod.infra,
            infra_container_id: pod.infra_id.clone().unwrap_or_default(),
            shared_namespaces: pod.shared.iter().map(|s| s.as_str()).collect(),
            exit_policy: pod.exit_policy.as_str(),
            num_containers: view.containers.len(),
            containers: view
                .containers
                .iter()
                .map(|c| PodContainerView {
                    id: c.id().to_string(),
                    name: c.config.name.clone(),
                    state: c.state.status.as_str(),
                })
                .collect(),
            create_cgroup: pod.cgroup.is_some(),
            infra_config: infra.map(InfraConfig::new),
            cgroup_parent: pod_cgroup_parent(pod),
            cgroup_path: pod.cgroup.clone().unwrap_or_default(),
            cpu_period: limits.cpu_quota().map_or(0, |(_, period)| period),
            cpu_quota: limits.cpu_quota().map_or(0, |(quota, _)| quota),
            cpu_shares: limits.cpu_shares.unwrap_or(0),
            cpuset_cpus: limits.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: limits.cpuset_mems.clone().unwrap_or_default(),
            memory_limit: limits.memory.map_or(0, |m| m.max(0) as u64),
            memory_swap: limits.memory_swap.map_or(0, |s| s.max(0) as u64),
            blkio_weight: limits.blkio_weight.map_or(0, u64::from),
            mounts: infra.map_or_else(Vec::new, |i| {
                i.config
                    .mounts
                    .iter()
                    .filter(|m| m.kind == crate::mounts::MountKind::Bind)
                    .map(InspectMount::new)
                    .collect()
            }),
            devices: infra.map_or_else(Vec::new, |i| {
                i.config
                    .isolation
                    .devices
                    .iter()
                    .map(DeviceView::new)
                    .collect()
            }),
            security_opt: infra.map_or_else(Vec::new, |i| security_opt_list(&i.config.security)),
        }
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// A volume as podman's `volume inspect` and `volume ls --format json` show it (its
/// `InspectVolumeData`, fields in its order, the same left out when false or zero), also
/// the libpod API's. Docker's API takes the first seven.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeView {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub created_at: DateTime<Utc>,
    pub labels: BTreeMap<String, String>,
    pub scope: &'static str,
    pub options: BTreeMap<String, String>,
    #[serde(rename = "UID", skip_serializing_if = "is_zero")]
    pub uid: u32,
    #[serde(rename = "GID", skip_serializing_if = "is_zero")]
    pub gid: u32,
    #[serde(skip_serializing_if = "is_false")]
    pub anonymous: bool,
    /// How many times its device is mounted: 0 for a volume that mounts nothing (podman's
    /// count); for one that does, the running containers using it, or 1 while it stays
    /// mounted with none (rpod leaves a device mounted until `volume unmount` or `rm`).
    pub mount_count: u32,
    #[serde(skip_serializing_if = "is_false")]
    pub needs_copy_up: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub needs_chown: bool,
}

impl VolumeView {
    /// The view for a template: every field, those JSON leaves out too (a Go template
    /// reads a struct's every field, `{{.UID}}` is 0).
    pub fn for_template(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("UID".into(), self.uid.into());
            map.insert("GID".into(), self.gid.into());
            map.insert("Anonymous".into(), self.anonymous.into());
            map.insert("NeedsCopyUp".into(), self.needs_copy_up.into());
            map.insert("NeedsChown".into(), self.needs_chown.into());
        }
        value
    }
}

/// A secret as podman's `secret inspect` and the libpod API show it (never its data).
pub fn secret_info(secret: &crate::secrets::SecretRecord) -> serde_json::Value {
    let time = secret
        .created
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    serde_json::json!({
        "ID": secret.id,
        "CreatedAt": time,
        "UpdatedAt": time,
        "Spec": {
            "Name": secret.name,
            "Driver": { "Name": secret.driver, "Options": secret.driver_options },
            "Labels": secret.labels,
        },
    })
}
