//! `POST /libpod/containers/create`: podman's SpecGenerator into the engine's create
//! options. Fields rpod supports are taken; a field that asks for anything else is refused
//! with a 400 naming it. podman-remote sends many fields with their neutral values (empty
//! namespaces, `image_volume_mode: anonymous`, ...), which are accepted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value};

use rpod_engine::container::{NetworkConfig, NetworkJoin, NetworkMode};
use rpod_engine::network::ports::PortMapping;
use rpod_engine::security::SecurityOptions;
use rpod_engine::CreateOptions;

use crate::compat::create::{log_to_file, network_mode, zeroish};
use crate::error::{ApiError, ApiResult};

/// A mount of a SpecGenerator (an OCI spec mount).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecMount {
    destination: String,
    #[serde(rename = "type")]
    kind: String,
    source: String,
    options: Option<Vec<String>>,
}

/// An image mount of a SpecGenerator (podman-remote's `--mount type=image`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SpecImageVolume {
    source: String,
    destination: String,
    read_write: bool,
    /// podman 5's: only this path of the image.
    #[serde(rename = "subPath")]
    sub_path: String,
}

/// A named volume of a SpecGenerator.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SpecVolume {
    name: String,
    dest: String,
    options: Option<Vec<String>>,
    is_anonymous: bool,
    /// Only this path inside the volume (podman's `SubPath`).
    sub_path: String,
}

/// An overlay mount of a SpecGenerator (podman-remote's `-v SRC:DST:O`): a host
/// directory as the lower layer; its other words among the options.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecOverlayVolume {
    source: String,
    destination: String,
    options: Option<Vec<String>>,
}

/// One network of a SpecGenerator (podman's PerNetworkOptions).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecNetwork {
    aliases: Option<Vec<String>>,
    static_ips: Option<Vec<String>>,
    static_mac: String,
    interface_name: String,
}

/// A port mapping of a SpecGenerator (netavark's shape, with podman's zero defaults).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecPort {
    host_ip: String,
    container_port: u16,
    host_port: u16,
    range: u16,
    protocol: String,
}

/// A resource limit of a SpecGenerator (the OCI spec's rlimit).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecRlimit {
    #[serde(rename = "type")]
    kind: String,
    hard: u64,
    soft: u64,
}

/// A `--secret` mounted as a file, as a SpecGenerator holds it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecSecret {
    #[serde(rename = "Source")]
    pub source: String,
    #[serde(rename = "Target")]
    pub target: String,
    #[serde(rename = "UID")]
    pub uid: u32,
    #[serde(rename = "GID")]
    pub gid: u32,
    /// 0: podman's default, 0444.
    #[serde(rename = "Mode")]
    pub mode: u32,
}

/// A SpecGenerator's secrets (`--secret`) as the engine's: files (`secrets`) and
/// environment variables (`secret_env`, variable to secret), checked as the CLI's are.
fn secret_uses(
    files: &[SpecSecret],
    env: &BTreeMap<String, String>,
) -> ApiResult<Vec<rpod_engine::secrets::SecretUse>> {
    let mut uses = Vec::new();
    for file in files {
        let mode = if file.mode == 0 { 0o444 } else { file.mode };
        let mut text = format!(
            "{},type=mount,uid={},gid={},mode={mode:o}",
            file.source, file.uid, file.gid
        );
        if !file.target.is_empty() {
            text.push_str(&format!(",target={}", file.target));
        }
        uses.push(rpod_engine::secrets::SecretUse::parse(&text)?);
    }
    for (variable, secret) in env {
        uses.push(rpod_engine::secrets::SecretUse::parse(&format!(
            "{secret},type=env,target={variable}"
        ))?);
    }
    Ok(uses)
}

/// A per-device limit of a SpecGenerator, keyed by the device's path (podman's server
/// looks the device's numbers up).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecThrottle {
    rate: u64,
}

/// A per-device block I/O weight of a SpecGenerator, keyed by the device's path.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecWeight {
    weight: u16,
}

/// A device of a SpecGenerator: podman-remote sends the `--device` text as the path.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecDevice {
    path: String,
}

/// A device cgroup rule of a SpecGenerator (the OCI spec's `LinuxDeviceCgroup`), as
/// podman-remote sends `--device-cgroup-rule`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecDeviceRule {
    allow: bool,
    #[serde(rename = "type")]
    kind: String,
    major: Option<i64>,
    minor: Option<i64>,
    access: String,
}

impl SpecDeviceRule {
    /// The rule, checked as `--device-cgroup-rule` is; only rules that allow are taken
    /// (the container's devices are denied unless allowed).
    fn rule(&self) -> ApiResult<rpod_engine::isolation::DeviceRule> {
        if !self.allow {
            return Err(ApiError::unsupported(
                "a device cgroup rule that denies (rules allow devices beyond the defaults)",
            ));
        }
        // The OCI spec leaves the type out for all devices.
        let kind = if self.kind.is_empty() {
            "a"
        } else {
            &self.kind
        };
        Ok(rpod_engine::isolation::DeviceRule::new(
            kind,
            self.major,
            self.minor,
            &self.access,
        )?)
    }
}

/// A SpecGenerator namespace (`{"nsmode": "container", "value": "ID"}`) as a mode.
fn namespace(
    flag: &str,
    value: &Option<Value>,
) -> ApiResult<rpod_engine::isolation::NamespaceMode> {
    let text = |key: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mode = match text("nsmode").as_str() {
        "container" => format!("container:{}", text("value")),
        other => other.to_string(),
    };
    Ok(rpod_engine::isolation::NamespaceMode::parse(flag, &mode)?)
}

/// `pidns`, `ipcns`, `utsns`, `cgroupns`, `shm_size`, `sysctl`, `r_limits`, `devices`,
/// `device_cgroup_rule`, `groups`.
fn spec_isolation(spec: &SpecGenerator) -> ApiResult<rpod_engine::isolation::Isolation> {
    use rpod_engine::isolation::{parse_device, parse_ulimit, Isolation};
    let mut isolation = Isolation {
        pid: namespace("pid", &spec.pidns)?,
        ipc: namespace("ipc", &spec.ipcns)?,
        uts: namespace("uts", &spec.utsns)?,
        cgroup: namespace("cgroupns", &spec.cgroupns)?,
        shm_size: spec.shm_size.filter(|s| *s > 0).map(|s| s as u64),
        sysctls: spec.sysctl.clone().unwrap_or_default(),
        group_add: spec.groups.clone().unwrap_or_default(),
        ..Default::default()
    };
    for limit in spec.r_limits.iter().flatten() {
        let name = limit
            .kind
            .strip_prefix("RLIMIT_")
            .unwrap_or(&limit.kind)
            .to_ascii_lowercase();
        let value = |v: u64| {
            if v == u64::MAX {
                "unlimited".to_string()
            } else {
                v.to_string()
            }
        };
        isolation.ulimits.push(parse_ulimit(&format!(
            "{name}={}:{}",
            value(limit.soft),
            value(limit.hard)
        ))?);
    }
    for device in spec.devices.iter().flatten() {
        isolation.devices.push(parse_device(&device.path)?);
    }
    for rule in spec.device_cgroup_rule.iter().flatten() {
        isolation.device_cgroup_rules.push(rule.rule()?);
    }
    Ok(isolation)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecGenerator {
    pub name: String,
    /// The pod (name or ID) the container joins.
    pub pod: String,
    /// `--init-ctr`: `always`, `once` or empty.
    pub init_container_type: String,
    /// `--annotation`s; podman's own bookkeeping (`PODMAN_ANNOTATIONS`), which
    /// podman-remote always sends, is passed over.
    pub annotations: Option<BTreeMap<String, String>>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--timeout`: seconds the container may run.
    pub timeout: Option<u32>,
    /// `--conmon-pidfile`: where the monitor's PID is written at each start.
    pub conmon_pid_file: String,
    pub image: String,
    pub raw_image_name: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub terminal: bool,
    pub stdin: bool,
    pub remove: bool,
    pub restart_policy: Option<String>,
    /// podman 4's clients send `healthconfig`.
    #[serde(alias = "healthconfig")]
    pub health_config: Option<Value>,
    /// podman 4.4's startup check (`--health-startup-*`): a `HealthConfig` with
    /// `Successes`.
    #[serde(rename = "startupHealthConfig")]
    pub startup_health_config: Option<Value>,
    pub health_check_on_failure_action: i64,
    pub manage_password: Option<bool>,
    #[serde(rename = "containerCreateCommand")]
    pub create_command: Option<Vec<String>>,
    #[serde(rename = "dependencyContainers")]
    pub dependency_containers: Option<Vec<String>>,
    pub personality: Option<Value>,
    /// `true` (podman's default, also when absent), `false` or `always`.
    pub systemd: String,
    /// `enabled` (also when absent), `no-conmon`, `disabled` or `split` (refused).
    pub cgroups_mode: String,
    pub passwd_entry: String,
    pub hostusers: Option<Vec<String>>,
    /// `--chrootdirs`.
    pub chroot_directories: Option<Vec<String>>,
    pub restart_tries: Option<u32>,
    pub work_dir: String,
    /// A missing `work_dir` is made (else it must exist, as podman's `--workdir`).
    pub create_working_dir: bool,
    pub user: String,
    pub hostname: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<i32>,
    pub stop_timeout: Option<u32>,
    pub privileged: bool,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub no_new_privileges: bool,
    /// `--security-opt mask=` and `unmask=` paths.
    pub mask: Option<Vec<String>>,
    pub unmask: Option<Vec<String>>,
    /// `--security-opt proc-opts=`: options of the container's `/proc`.
    pub procfs_opts: Option<Vec<String>>,
    /// `--security-opt label=...` without the `label=`; rpod applies no SELinux label, so
    /// only `disable` is what happens.
    pub selinux_opts: Option<Vec<String>>,
    /// `--security-opt apparmor=...`: only `unconfined` (rpod applies no profile).
    pub apparmor_profile: String,
    /// `--tz ZONE|local`: the service host's zone file as `/etc/localtime`.
    pub timezone: String,
    pub seccomp_policy: String,
    pub seccomp_profile_path: String,
    pub read_only_filesystem: bool,
    pub oci_runtime: String,
    pub resource_limits: Option<Value>,
    pub log_configuration: Option<Value>,
    pub netns: Option<Value>,
    #[serde(rename = "Networks")]
    pub networks: Option<BTreeMap<String, SpecNetwork>>,
    pub portmappings: Option<Vec<SpecPort>>,
    pub publish_image_ports: bool,
    pub expose: Option<BTreeMap<String, String>>,
    pub dns_server: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_option: Option<Vec<String>>,
    pub hostadd: Option<Vec<String>>,
    pub pidns: Option<Value>,
    pub ipcns: Option<Value>,
    pub utsns: Option<Value>,
    pub shm_size: Option<i64>,
    pub sysctl: Option<BTreeMap<String, String>>,
    pub r_limits: Option<Vec<SpecRlimit>>,
    pub devices: Option<Vec<SpecDevice>>,
    /// `--device-cgroup-rule`s.
    pub device_cgroup_rule: Option<Vec<SpecDeviceRule>>,
    pub groups: Option<Vec<String>>,
    pub init: bool,
    pub init_path: String,
    pub mounts: Option<Vec<SpecMount>>,
    pub volumes: Option<Vec<SpecVolume>>,
    pub image_volumes: Option<Vec<SpecImageVolume>>,
    pub overlay_volumes: Option<Vec<SpecOverlayVolume>>,
    pub volumes_from: Option<Vec<String>>,
    pub cgroupns: Option<Value>,
    /// c/storage's ID mapping options: the host's IDs, or `UIDMap`/`GIDMap` ranges.
    pub idmappings: Option<Value>,
    pub userns: Option<Value>,
    pub image_os: String,
    pub image_arch: String,
    pub image_variant: String,
    pub cgroup_parent: String,
    pub umask: String,
    pub httpproxy: bool,
    pub envmerge: Option<Vec<String>>,
    pub unsetenv: Option<Vec<String>>,
    pub unsetenvall: bool,
    #[serde(rename = "weightDevice")]
    pub weight_device: Option<BTreeMap<String, SpecWeight>>,
    #[serde(rename = "throttleReadBpsDevice")]
    pub throttle_read_bps_device: Option<BTreeMap<String, SpecThrottle>>,
    #[serde(rename = "throttleWriteBpsDevice")]
    pub throttle_write_bps_device: Option<BTreeMap<String, SpecThrottle>>,
    #[serde(rename = "throttleReadIOPSDevice")]
    pub throttle_read_iops_device: Option<BTreeMap<String, SpecThrottle>>,
    #[serde(rename = "throttleWriteIOPSDevice")]
    pub throttle_write_iops_device: Option<BTreeMap<String, SpecThrottle>>,
    /// `--secret`s mounted as files.
    pub secrets: Option<Vec<SpecSecret>>,
    /// `--secret ...,type=env`: variable to secret.
    pub secret_env: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A SpecGenerator's per-device limits (`--device-read-bps` and the like).
fn spec_throttles(
    limits: &Option<BTreeMap<String, SpecThrottle>>,
    flag: &str,
) -> ApiResult<Vec<rpod_engine::resources::Throttle>> {
    limits
        .iter()
        .flatten()
        .map(|(path, limit)| {
            rpod_engine::resources::Throttle::checked(path, limit.rate, flag).map_err(Into::into)
        })
        .collect()
}

/// Fields podman-remote fills in that carry nothing rpod acts on, whatever their value
/// (identity mappings, where to take image files from, the client's command line, ...).
const ANY_VALUE: &[&str] = &[
    "use_image_resolve_conf",
    "use_image_hosts",
    // podman's hint that the storage of a `--rm` container need not be synced.
    "volatile",
];

/// Fields accepted only with the values that mean what rpod's containers have anyway (for
/// a namespace, its `nsmode`).
const NEUTRAL_VALUES: &[(&str, &[&str])] = &[
    ("image_volume_mode", &["anonymous", "ignore", "tmpfs"]),
    // `container` without a socket of the service's to pass on (rpod passes none).
    ("sdnotifyMode", &["container", "ignore"]),
];

/// Annotation prefixes of podman's own bookkeeping, which podman-remote always sends.
const PODMAN_ANNOTATIONS: &[&str] = &["io.kubernetes.cri-o.", "io.podman.annotations."];

/// Whether an annotation is podman's own bookkeeping.
fn podmans_annotation(key: &str) -> bool {
    PODMAN_ANNOTATIONS.iter().any(|p| key.starts_with(p))
}

/// Whether `key: value` asks for nothing rpod does not do.
pub(crate) fn neutral(key: &str, value: &Value) -> bool {
    if zeroish(value) || ANY_VALUE.contains(&key) {
        return true;
    }
    if key == "annotations" {
        return value
            .as_object()
            .is_some_and(|a| a.keys().all(|k| podmans_annotation(k)));
    }
    let Some((_, allowed)) = NEUTRAL_VALUES.iter().find(|(k, _)| *k == key) else {
        return false;
    };
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Object(o) => o
            .get("nsmode")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => return false,
    };
    text.is_empty() || allowed.contains(&text.as_str())
}

/// A SpecGenerator's `resource_limits` (the OCI spec's `linux.resources`): memory, swap and
/// reservation, CPU quota/period (as `--cpus`), shares and cpusets, PIDs, block I/O
/// weight. Anything else set is refused.
#[allow(clippy::type_complexity)]
pub(crate) fn limits(
    resource: &Option<Value>,
) -> ApiResult<(
    Option<i64>,
    Option<f64>,
    Option<i64>,
    rpod_engine::resources::Resources,
)> {
    let mut extra = rpod_engine::resources::Resources::default();
    let Some(resource) = resource else {
        return Ok((None, None, None, extra));
    };
    const KNOWN: &[(&str, &[&str])] = &[
        (
            "memory",
            &[
                "limit",
                "swap",
                "reservation",
                "swappiness",
                "disableOOMKiller",
            ],
        ),
        (
            "cpu",
            &[
                "quota",
                "period",
                "shares",
                "cpus",
                "mems",
                "realtimePeriod",
                "realtimeRuntime",
            ],
        ),
        ("pids", &["limit"]),
        ("blockIO", &["weight"]),
    ];
    for (key, value) in resource.as_object().into_iter().flatten() {
        let Some((_, fields)) = KNOWN.iter().find(|(k, _)| k == key) else {
            if zeroish(value) {
                continue;
            }
            return Err(ApiError::unsupported(format!("resource_limits.{key}")));
        };
        for (field, v) in value.as_object().into_iter().flatten() {
            if !fields.contains(&field.as_str()) && !zeroish(v) {
                return Err(ApiError::unsupported(format!(
                    "resource_limits.{key}.{field}"
                )));
            }
        }
    }
    let get = |path: &[&str]| {
        let mut v = resource;
        for key in path {
            v = v.get(key)?;
        }
        v.as_i64()
    };
    let text = |path: &[&str]| {
        let mut v = resource;
        for key in path {
            v = v.get(key)?;
        }
        v.as_str().filter(|s| !s.is_empty()).map(String::from)
    };
    let memory = get(&["memory", "limit"]).filter(|m| *m > 0);
    let quota = get(&["cpu", "quota"]).filter(|q| *q > 0);
    let period = get(&["cpu", "period"])
        .filter(|p| *p > 0)
        .unwrap_or(100_000);
    let pids = get(&["pids", "limit"]).filter(|p| *p > 0);
    extra.memory_swap = get(&["memory", "swap"]).filter(|s| *s > 0 || *s == -1);
    extra.memory_reservation = get(&["memory", "reservation"]).filter(|r| *r > 0);
    extra.cpu_shares = get(&["cpu", "shares"]).filter(|s| *s > 0).map(|s| s as u64);
    extra.cpuset_cpus = text(&["cpu", "cpus"]);
    extra.cpuset_mems = text(&["cpu", "mems"]);
    extra.blkio_weight = get(&["blockIO", "weight"])
        .filter(|w| *w > 0)
        .map(|w| u16::try_from(w).unwrap_or(u16::MAX));
    // podman's clients send -1 for "not set".
    extra.memory_swappiness = get(&["memory", "swappiness"])
        .filter(|s| *s >= 0)
        .map(|s| s as u64);
    extra.cpu_rt_period = get(&["cpu", "realtimePeriod"])
        .filter(|p| *p > 0)
        .map(|p| p as u64);
    extra.cpu_rt_runtime = get(&["cpu", "realtimeRuntime"]).filter(|r| *r != 0);
    extra.oom_kill_disable = resource
        .get("memory")
        .and_then(|m| m.get("disableOOMKiller"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((memory, quota.map(|q| q as f64 / period as f64), pids, extra))
}

/// podman-remote's `idmappings` and `userns`: a user namespace of the container's own when
/// ranges are given (podman-remote's `--uidmap`, `--gidmap`); the host's IDs otherwise.
/// c/storage names the fields in Go's way, the ranges' in snake case.
pub(crate) fn user_namespace(
    idmappings: &Option<Value>,
    userns: &Option<Value>,
) -> ApiResult<UserNamespace> {
    let ranges = |key: &str| -> ApiResult<Vec<String>> {
        let Some(list) = idmappings.as_ref().and_then(|m| m.get(key)) else {
            return Ok(Vec::new());
        };
        if list.is_null() {
            return Ok(Vec::new());
        }
        let list = list
            .as_array()
            .ok_or_else(|| ApiError::bad_request(format!("idmappings.{key} is not a list")))?;
        list.iter()
            .map(|range| {
                let field = |name: &str| range.get(name).and_then(Value::as_u64);
                match (field("container_id"), field("host_id"), field("size")) {
                    (Some(c), Some(h), Some(n)) => Ok(format!("{c}:{h}:{n}")),
                    _ => Err(ApiError::bad_request(format!(
                        "idmappings.{key}: each range needs container_id, host_id and size"
                    ))),
                }
            })
            .collect()
    };
    let auto = idmappings
        .as_ref()
        .and_then(|m| m.get("AutoUserNs"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let nsmode = userns
        .as_ref()
        .and_then(|u| u.get("nsmode"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    // `default` (podman-remote's `--pod new:` pod): containers.conf's mode, the host's here.
    if !matches!(nsmode, "" | "default" | "host" | "private" | "auto") {
        return Err(ApiError::unsupported(format!(
            "user namespace mode {nsmode:?} (a user namespace is made with auto, or with --uidmap and --gidmap)"
        )));
    }
    if auto || nsmode == "auto" {
        return auto_userns(idmappings).map(UserNamespace::Auto);
    }
    let mappings =
        rpod_engine::userns::IdMappings::from_flags(&ranges("UIDMap")?, &ranges("GIDMap")?)?;
    match (nsmode, mappings) {
        ("host", Some(_)) => Err(ApiError::bad_request(
            "userns host shares the host's user namespace: it takes no ID mappings",
        )),
        ("private", None) => Err(ApiError::unsupported(
            "a private user namespace without ID mappings (give --uidmap and --gidmap)",
        )),
        (_, Some(mappings)) => Ok(UserNamespace::Mapped(mappings)),
        (_, None) => Ok(UserNamespace::Host),
    }
}

/// What a create's `userns` and `idmappings` ask for.
#[derive(Debug, PartialEq)]
pub(crate) enum UserNamespace {
    Host,
    Mapped(rpod_engine::userns::IdMappings),
    Auto(rpod_engine::userns::AutoUserns),
}

/// `--userns auto[:size=N]` as podman-remote sends it: `AutoUserNsOpts.Size` (0 for
/// rpod's default); the options rpod lacks are refused.
fn auto_userns(idmappings: &Option<Value>) -> ApiResult<rpod_engine::userns::AutoUserns> {
    let options = idmappings.as_ref().and_then(|m| m.get("AutoUserNsOpts"));
    let field = |name: &str| options.and_then(|o| o.get(name));
    for extra in [
        "AdditionalUIDMappings",
        "AdditionalGIDMappings",
        "PasswdFile",
        "GroupFile",
        "InitialSize",
    ] {
        if field(extra).is_some_and(|v| !zeroish(v)) {
            return Err(ApiError::unsupported(format!(
                "the --userns auto option {extra}"
            )));
        }
    }
    let size = field("Size").and_then(Value::as_u64).unwrap_or(0);
    let size = u32::try_from(size)
        .map_err(|_| ApiError::bad_request(format!("AutoUserNsOpts.Size {size} is too large")))?;
    Ok(rpod_engine::userns::AutoUserns {
        size: match size {
            0 => rpod_engine::userns::DEFAULT_AUTO_SIZE,
            size => size,
        },
    })
}

/// podman's `startupHealthConfig`: its test, times in nanoseconds (podman's defaults when
/// 0: 30 s), `Retries` (0: never restart), `Successes` (0 is 1), `StartPeriod` (results
/// before it do not count). No test, or `["NONE"]`: none.
fn startup_check(config: &Value) -> ApiResult<Option<rpod_engine::health::StartupCheck>> {
    let Some(check) = rpod_engine::health::HealthCheck::from_api(config)
        .map_err(|e| ApiError::bad_request(format!("startupHealthConfig: {e}")))?
    else {
        return Ok(None);
    };
    let count = |key: &str| {
        config
            .get(key)
            .and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    Ok(Some(rpod_engine::health::StartupCheck {
        test: check.test,
        interval_secs: check.interval_secs,
        timeout_secs: check.timeout_secs,
        retries: count("Retries"),
        successes: count("Successes").max(1),
        delay_secs: check.start_period_secs,
    }))
}

pub fn create_options(spec: SpecGenerator) -> ApiResult<CreateOptions> {
    let isolation = spec_isolation(&spec)?;
    let (id_mappings, userns_auto) = match user_namespace(&spec.idmappings, &spec.userns)? {
        UserNamespace::Host => (None, None),
        UserNamespace::Mapped(mappings) => (Some(mappings), None),
        UserNamespace::Auto(auto) => (None, Some(auto)),
    };
    for (key, value) in &spec.rest {
        if !neutral(key, value) {
            return Err(ApiError::unsupported(format!(
                "the SpecGenerator field {key} ({value})"
            )));
        }
    }
    let image = if spec.image.is_empty() {
        spec.raw_image_name.clone()
    } else {
        spec.image.clone()
    };
    if image.is_empty() {
        return Err(ApiError::bad_request("a container needs an image"));
    }
    let nsmode = spec
        .netns
        .as_ref()
        .and_then(|n| n.get("nsmode"))
        .and_then(Value::as_str);
    let value = spec
        .netns
        .as_ref()
        .and_then(|n| n.get("value"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let (mut network, mut joins) = match nsmode.unwrap_or("") {
        "container" => (Some(NetworkMode::Container(value.to_string())), Vec::new()),
        "path" => (Some(NetworkMode::Path(value.into())), Vec::new()),
        other => network_mode(other, &["private", "default"])?,
    };
    for (name, options) in spec.networks.unwrap_or_default() {
        let mut join = NetworkJoin {
            name,
            aliases: options.aliases.unwrap_or_default(),
            mac: (!options.static_mac.is_empty()).then_some(options.static_mac),
            interface_name: (!options.interface_name.is_empty()).then_some(options.interface_name),
            ..Default::default()
        };
        crate::compat::create::set_static_ips(&mut join, &options.static_ips.unwrap_or_default())?;
        joins.push(join);
    }
    // podman-remote's `--network bridge --ip X` names the default network `default`,
    // which podman's service takes for its default network: alone, its settings are those
    // of the first network, as the CLI's `--ip` gives them.
    let mut default_network = NetworkJoin::default();
    if let [only] = joins.as_slice() {
        if only.name == "default"
            && only.interface_name.is_none()
            && matches!(network, None | Some(NetworkMode::Bridge))
        {
            default_network = joins.remove(0);
            network = Some(NetworkMode::Bridge);
        }
    }
    if !joins.is_empty() {
        if !matches!(network, None | Some(NetworkMode::Bridge)) {
            return Err(ApiError::bad_request(
                "networks to join need the bridge network mode",
            ));
        }
        network = Some(NetworkMode::Bridge);
    }
    let mut ports = Vec::new();
    for port in spec.portmappings.unwrap_or_default() {
        let protocols = if port.protocol.is_empty() {
            "tcp".to_string()
        } else {
            port.protocol
        };
        for protocol in protocols.split(',') {
            if !matches!(protocol, "tcp" | "udp" | "sctp") || port.container_port == 0 {
                return Err(ApiError::bad_request(format!(
                    "invalid port mapping {}/{protocol}",
                    port.container_port
                )));
            }
            ports.push(PortMapping {
                host_ip: port.host_ip.clone(),
                container_port: port.container_port,
                host_port: port.host_port,
                protocol: protocol.to_string(),
                range: port.range.max(1),
            });
        }
    }
    // podman's `expose`: port to protocols (`tcp`, or several as `tcp,udp`).
    let mut expose_specs = Vec::new();
    for (port, protocols) in spec.expose.unwrap_or_default() {
        for protocol in protocols.split(',').map(str::trim) {
            let protocol = if protocol.is_empty() { "tcp" } else { protocol };
            expose_specs.push(format!("{port}/{protocol}"));
        }
    }
    let exposed = rpod_engine::network::ports::exposed_keys(&expose_specs)?;
    // Published with `publish_image_ports`, unless a port mapping has it already
    // (`generate spec` writes both).
    if spec.publish_image_ports {
        let mapped: std::collections::HashSet<String> = ports
            .iter()
            .flat_map(|m: &PortMapping| {
                let last = m.container_port.saturating_add(m.range.max(1) - 1);
                (m.container_port..=last).map(move |p| format!("{p}/{}", m.protocol))
            })
            .collect();
        for key in exposed.iter().filter(|key| !mapped.contains(*key)) {
            ports.extend(rpod_engine::network::ports::parse_exposed(key)?);
        }
    }
    let add_hosts = spec
        .hostadd
        .unwrap_or_default()
        .iter()
        .map(|h| rpod_engine::network::etc_files::parse_add_host(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::bad_request)?;
    let net = NetworkConfig {
        networks: joins,
        ports,
        publish_all: spec.publish_image_ports,
        exposed,
        dns_servers: spec.dns_server.unwrap_or_default(),
        dns_search: spec.dns_search.unwrap_or_default(),
        dns_options: spec.dns_option.unwrap_or_default(),
        add_hosts,
        no_hosts: false,
        // podman has no links (Docker's `--link`).
        links: Vec::new(),
    };
    let driver = spec
        .log_configuration
        .as_ref()
        .and_then(|l| l.get("driver"))
        .and_then(Value::as_str);
    let log_to_file = log_to_file(driver.unwrap_or(""))?;
    let log_options = libpod_log_options(spec.log_configuration.as_ref())?;
    let (memory, cpus, pids_limit, mut resources) = limits(&spec.resource_limits)?;
    resources.device_read_bps =
        spec_throttles(&spec.throttle_read_bps_device, "--device-read-bps")?;
    resources.device_write_bps =
        spec_throttles(&spec.throttle_write_bps_device, "--device-write-bps")?;
    resources.device_read_iops =
        spec_throttles(&spec.throttle_read_iops_device, "--device-read-iops")?;
    resources.device_write_iops =
        spec_throttles(&spec.throttle_write_iops_device, "--device-write-iops")?;
    resources.blkio_weight_device = spec
        .weight_device
        .iter()
        .flatten()
        .map(|(path, w)| rpod_engine::resources::WeightDevice::checked(path, w.weight))
        .collect::<Result<_, _>>()?;
    let mut security_opt = Vec::new();
    if spec.no_new_privileges {
        security_opt.push("no-new-privileges".to_string());
    }
    let seccomp_from_image = match spec.seccomp_policy.as_str() {
        "" | "default" => false,
        "image" => true,
        other => return Err(ApiError::unsupported(format!("seccomp policy {other:?}"))),
    };
    if !spec.seccomp_profile_path.is_empty() {
        security_opt.push(format!("seccomp={}", spec.seccomp_profile_path));
    }
    for (key, paths) in [("mask", &spec.mask), ("unmask", &spec.unmask)] {
        security_opt.extend(paths.iter().flatten().map(|p| format!("{key}={p}")));
    }
    if let Some(options) = spec.procfs_opts.as_ref().filter(|o| !o.is_empty()) {
        security_opt.push(format!("proc-opts={}", options.join(",")));
    }
    security_opt.extend(
        spec.selinux_opts
            .iter()
            .flatten()
            .map(|o| format!("label={o}")),
    );
    if !spec.apparmor_profile.is_empty() {
        security_opt.push(format!("apparmor={}", spec.apparmor_profile));
    }
    let security = SecurityOptions::from_flags(
        spec.privileged,
        &spec.cap_add.unwrap_or_default(),
        &spec.cap_drop.unwrap_or_default(),
        &security_opt,
    )?;
    let mut mounts = Vec::new();
    for mount in spec.mounts.unwrap_or_default() {
        let words = mount.options.unwrap_or_default();
        mounts.push(match mount.kind.as_str() {
            "bind" => {
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                rpod_engine::mounts::bind(&mount.source, &mount.destination, &words, None)?
            }
            "tmpfs" => rpod_engine::mounts::tmpfs(&mount.destination, &words)?,
            "devpts" => rpod_engine::mounts::devpts(&mount.destination, &words)?,
            other => return Err(ApiError::unsupported(format!("mounts of type {other:?}"))),
        });
    }
    for volume in spec.overlay_volumes.unwrap_or_default() {
        let mut words = volume.options.unwrap_or_default();
        if !words.iter().any(|w| w == "O") {
            words.push("O".into());
        }
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        mounts.push(rpod_engine::mounts::bind(
            &volume.source,
            &volume.destination,
            &words,
            None,
        )?);
    }
    for volume in spec.image_volumes.unwrap_or_default() {
        let mount =
            rpod_engine::mounts::image(&volume.source, &volume.destination, volume.read_write)?;
        mounts.push(match volume.sub_path.as_str() {
            "" => mount,
            path => rpod_engine::mounts::with_subpath(mount, path)?,
        });
    }
    for volume in spec.volumes.unwrap_or_default() {
        // podman-remote's `--mount type=volume,volume-opt=KEY=VALUE`: among the options.
        let (settings, words): (Vec<String>, Vec<String>) = volume
            .options
            .unwrap_or_default()
            .into_iter()
            .partition(|word| rpod_engine::mounts::is_new_volume_word(word));
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let mount = if volume.is_anonymous || volume.name.is_empty() {
            rpod_engine::mounts::anonymous_volume(&volume.dest, &words)?
        } else {
            rpod_engine::mounts::named_volume(&volume.name, &volume.dest, &words)?
        };
        let mount = rpod_engine::mounts::with_new_volume_settings(mount, &settings)?;
        mounts.push(match volume.sub_path.as_str() {
            "" => mount,
            path => rpod_engine::mounts::with_subpath(mount, path)?,
        });
    }
    let secrets = secret_uses(
        spec.secrets.as_deref().unwrap_or_default(),
        &spec.secret_env.clone().unwrap_or_default(),
    )?;
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    let conmon_pidfile = match non_empty(spec.conmon_pid_file).map(PathBuf::from) {
        Some(path) if path.is_relative() => {
            return Err(ApiError::bad_request(format!(
                "conmon_pid_file {}: a path on the service's host must be absolute",
                path.display()
            )))
        }
        path => path,
    };
    Ok(CreateOptions {
        image: Some(image),
        conmon_pidfile,
        rootfs: None,
        name: non_empty(spec.name),
        pod: non_empty(spec.pod),
        init_container: non_empty(spec.init_container_type)
            .map(|kind| rpod_engine::container::InitContainerType::parse(&kind))
            .transpose()?,
        id_mappings,
        userns_auto,
        command: spec.command.unwrap_or_default(),
        entrypoint: spec.entrypoint,
        env: spec
            .env
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        workdir_must_exist: !spec.work_dir.is_empty() && !spec.create_working_dir,
        workdir: non_empty(spec.work_dir),
        user: non_empty(spec.user),
        hostname: non_empty(spec.hostname),
        labels: spec.labels.unwrap_or_default(),
        stop_signal: spec.stop_signal.filter(|s| *s > 0),
        stop_timeout: spec.stop_timeout,
        memory,
        cpus,
        pids_limit,
        read_only: spec.read_only_filesystem,
        network,
        net,
        isolation,
        resources,
        init: spec.init,
        init_path: non_empty(spec.init_path).map(PathBuf::from),
        image_volumes: match spec.rest.get("image_volume_mode").and_then(Value::as_str) {
            Some("ignore") => rpod_engine::ImageVolumes::Ignore,
            Some("tmpfs") => rpod_engine::ImageVolumes::Tmpfs,
            _ => rpod_engine::ImageVolumes::Anonymous,
        },
        ip: default_network.ip,
        ip6: default_network.ip6,
        mac_address: default_network.mac,
        network_aliases: default_network.aliases,
        runtime: non_empty(spec.oci_runtime),
        auto_remove: spec.remove,
        healthcheck: {
            let on_failure =
                rpod_engine::health::OnFailure::from_libpod(spec.health_check_on_failure_action)?;
            let check = match &spec.health_config {
                Some(config) => rpod_engine::health::HealthCheck::from_api(config)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
                None => None,
            };
            // podman's clients send every time; an interval of 0 is `--health-interval
            // disable` (no timer), not Docker's "the default".
            let disabled = spec
                .health_config
                .as_ref()
                .and_then(|c| c.get("Interval"))
                .and_then(serde_json::Value::as_u64)
                == Some(0);
            let startup = spec
                .startup_health_config
                .as_ref()
                .map(startup_check)
                .transpose()?
                .flatten();
            if startup.is_some() && check.is_none() {
                return Err(ApiError::bad_request(
                    "startupHealthConfig needs a healthconfig of the container's own",
                ));
            }
            // Without a check of its own, the image's (which the engine gives the
            // on-failure action, or refuses it when the image has none).
            check.map(|check| rpod_engine::health::HealthCheck {
                on_failure,
                interval_secs: if disabled { 0 } else { check.interval_secs },
                startup,
                ..check
            })
        },
        no_healthcheck: spec
            .health_config
            .as_ref()
            .is_some_and(rpod_engine::health::HealthCheck::api_disables),
        image_health_on_failure: rpod_engine::health::OnFailure::from_libpod(
            spec.health_check_on_failure_action,
        )?,
        restart: {
            let name = spec.restart_policy.unwrap_or_default();
            let text = match spec.restart_tries {
                Some(tries) if tries > 0 && name == "on-failure" => format!("{name}:{tries}"),
                _ => name,
            };
            rpod_engine::restart::RestartPolicy::parse(&text)
                .map_err(|e| ApiError::bad_request(e.to_string()))?
        },
        log_to_file,
        log_driver_from_config: driver.is_none_or(str::is_empty),
        log_size_max: log_options.max_size,
        log_max_files: log_options.max_file,
        log_tag: log_options.tag,
        log_path: log_options.path,
        log_attributes: log_options.attributes,
        terminal: spec.terminal,
        stdin: spec.stdin,
        security,
        console_size: None,
        mounts,
        volumes_from: spec.volumes_from.unwrap_or_default(),
        umask: non_empty(spec.umask)
            .map(|u| rpod_engine::spec::parse_umask(&u))
            .transpose()?,
        cgroup_parent: non_empty(spec.cgroup_parent),
        http_proxy: spec.httpproxy,
        env_merge: spec.envmerge.unwrap_or_default(),
        unset_env: spec.unsetenv.unwrap_or_default(),
        unset_env_all: spec.unsetenvall,
        no_passwd_entries: spec.manage_password == Some(false),
        create_command: spec.create_command.unwrap_or_default(),
        systemd: match spec.systemd.as_str() {
            "" => rpod_engine::systemd_mode::SystemdMode::True,
            text => rpod_engine::systemd_mode::SystemdMode::parse(text)
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        },
        no_cgroups: match spec.cgroups_mode.as_str() {
            "" | "enabled" | "no-conmon" => false,
            "disabled" => true,
            "split" => return Err(ApiError::unsupported("cgroups_mode split")),
            other => {
                return Err(ApiError::bad_request(format!(
                    "invalid cgroups_mode {other:?}: enabled, disabled, no-conmon or split"
                )))
            }
        },
        requires: spec.dependency_containers.unwrap_or_default(),
        seccomp_from_image,
        personality: match &spec.personality {
            None | Some(Value::Null) => None,
            Some(p) => {
                if p.get("flags").is_some_and(|f| !zeroish(f)) {
                    return Err(ApiError::unsupported("personality flags"));
                }
                p.get("domain").and_then(Value::as_str).map(String::from)
            }
        },
        passwd_entry: non_empty(spec.passwd_entry),
        host_users: spec.hostusers.unwrap_or_default(),
        chroot_dirs: spec.chroot_directories.unwrap_or_default(),
        time_zone: (!spec.timezone.is_empty()).then(|| spec.timezone.clone()),
        annotations: spec
            .annotations
            .unwrap_or_default()
            .into_iter()
            .filter(|(key, _)| !podmans_annotation(key))
            .collect(),
        oom_score_adj: spec.oom_score_adj,
        timeout: spec.timeout.filter(|t| *t > 0),
        platform: rpod_engine::image::platform::Platform::from_flags(
            None,
            Some(&spec.image_os),
            Some(&spec.image_arch),
            Some(&spec.image_variant),
        )?,
        secrets,
        ..Default::default()
    })
}

/// A SpecGenerator's `log_configuration` (`{"driver","path","options":{...},"size"}`,
/// podman-remote's `--log-opt`): its size, path and options, or a refusal of what rpod
/// does not take.
fn libpod_log_options(config: Option<&Value>) -> ApiResult<rpod_engine::logs::LogOptions> {
    let Some(config) = config else {
        return Ok(Default::default());
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(Value::Object(options)) = config.get("options") {
        for (key, value) in options {
            pairs.push((key.clone(), value.as_str().unwrap_or_default().to_string()));
        }
    }
    if let Some(path) = config
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        pairs.push(("path".into(), path.to_string()));
    }
    if let Some(size) = config
        .get("size")
        .and_then(Value::as_i64)
        .filter(|s| *s > 0)
    {
        pairs.push(("max-size".into(), size.to_string()));
    }
    Ok(rpod_engine::logs::LogOptions::parse(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ApiResult<CreateOptions> {
        create_options(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn podman_remotes_default_network_takes_the_first_networks_settings() {
        // `podman-remote run --network bridge --ip 10.89.0.9 --network-alias db`, as sent.
        let options = parse(r#"{"image":"x","netns":{"nsmode":"bridge"},"Networks":{"default":{"static_ips":["10.89.0.9"],"aliases":["db"],"static_mac":"92:d0:c6:0a:29:33"}}}"#).unwrap();
        assert_eq!(options.network, Some(NetworkMode::Bridge));
        assert!(
            options.net.networks.is_empty(),
            "{:?}",
            options.net.networks
        );
        assert_eq!(options.ip, Some("10.89.0.9".parse().unwrap()));
        assert_eq!(options.network_aliases, ["db"]);
        assert_eq!(options.mac_address.as_deref(), Some("92:d0:c6:0a:29:33"));
        // With another network mode it is refused, as any network to join is.
        let none = parse(r#"{"image":"x","netns":{"nsmode":"none"},"Networks":{"default":{}}}"#);
        assert_eq!(none.unwrap_err().status, 400);
        // Beside other networks it is one of them, by that name.
        let options = parse(r#"{"image":"x","Networks":{"default":{},"lab":{}}}"#).unwrap();
        assert_eq!(options.net.networks.len(), 2);
        assert!(options.ip.is_none());
    }

    #[test]
    fn a_monitor_pid_file_is_an_absolute_path_on_the_services_host() {
        let options = parse(r#"{"image":"x","conmon_pid_file":"/run/mon.pid"}"#).unwrap();
        assert_eq!(
            options.conmon_pidfile.as_deref(),
            Some(std::path::Path::new("/run/mon.pid"))
        );
        let relative = parse(r#"{"image":"x","conmon_pid_file":"mon.pid"}"#).unwrap_err();
        assert_eq!(relative.status, 400, "{}", relative.message);
    }

    #[test]
    fn podman_remotes_oom_killer_and_device_rules_are_taken() {
        // `podman-remote create --oom-kill-disable --device-cgroup-rule 'b 8:* r'`, as sent.
        let options = parse(r#"{"image":"x","resource_limits":{"memory":{"disableOOMKiller":true}},"device_cgroup_rule":[{"allow":true,"type":"b","major":8,"access":"r"}]}"#).unwrap();
        assert!(options.resources.oom_kill_disable);
        let rules: Vec<String> = options
            .isolation
            .device_cgroup_rules
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(rules, ["b 8:* r"]);
        // A rule that denies is refused, not taken for one that allows.
        let err = parse(r#"{"image":"x","device_cgroup_rule":[{"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#).unwrap_err();
        assert!(err.message.contains("denies"), "{}", err.message);
        let err =
            parse(r#"{"image":"x","device_cgroup_rule":[{"allow":true,"type":"q","access":"r"}]}"#)
                .unwrap_err();
        assert_eq!(err.status, 400, "{}", err.message);
    }

    #[test]
    fn podman_remotes_id_mappings_make_a_user_namespace() {
        // `podman-remote run --uidmap 0:100000:65536 --gidmap 0:200000:65536`, as sent.
        let options = parse(
            r#"{"image":"busybox","userns":{"nsmode":"private"},"idmappings":{"HostUIDMapping":false,"HostGIDMapping":false,"UIDMap":[{"container_id":0,"host_id":100000,"size":65536}],"GIDMap":[{"container_id":0,"host_id":200000,"size":65536}],"AutoUserNs":false,"AutoUserNsOpts":{"Size":0,"InitialSize":0,"PasswdFile":"","GroupFile":"","AdditionalUIDMappings":null,"AdditionalGIDMappings":null}}}"#,
        )
        .unwrap();
        let mappings = options.id_mappings.unwrap();
        assert_eq!(mappings.uid_flags(), ["0:100000:65536"]);
        assert_eq!(mappings.gid_flags(), ["0:200000:65536"]);
        // The host's IDs, as every other create sends them.
        let identity = r#"{"HostUIDMapping":true,"HostGIDMapping":true,"UIDMap":null,"GIDMap":null,"AutoUserNs":false}"#;
        let options = parse(&format!(
            r#"{{"image":"busybox","userns":{{"nsmode":""}},"idmappings":{identity}}}"#
        ))
        .unwrap();
        assert!(options.id_mappings.is_none());
        // `--userns auto:size=2000`.
        let options = parse(r#"{"image":"busybox","userns":{"nsmode":"auto"},"idmappings":{"HostUIDMapping":false,"AutoUserNs":true,"AutoUserNsOpts":{"Size":2000,"InitialSize":0,"PasswdFile":"","GroupFile":"","AdditionalUIDMappings":null,"AdditionalGIDMappings":null}}}"#).unwrap();
        assert_eq!(options.userns_auto.map(|a| a.size), Some(2000));
        let e = parse(r#"{"image":"busybox","idmappings":{"AutoUserNs":true,"AutoUserNsOpts":{"Size":4294967296}}}"#).unwrap_err();
        assert!(e.message.contains("too large"), "{}", e.message);
        // `userns host` with ranges contradicts itself.
        let e = parse(r#"{"image":"busybox","userns":{"nsmode":"host"},"idmappings":{"UIDMap":[{"container_id":0,"host_id":100000,"size":10}]}}"#).unwrap_err();
        assert_eq!(e.status, 400, "{}", e.message);
        assert!(options.id_mappings.is_none());
        for json in [
            r#"{"image":"busybox","idmappings":{"AutoUserNs":true,"AutoUserNsOpts":{"AdditionalUIDMappings":[{"container_id":0,"host_id":1,"size":1}]}}}"#,
            r#"{"image":"busybox","userns":{"nsmode":"keep-id"}}"#,
            r#"{"image":"busybox","userns":{"nsmode":"private"}}"#,
        ] {
            // What rpod does not do is refused, never ignored.
            let e = parse(json).unwrap_err();
            assert!(e.message.contains("not supported"), "{json}: {}", e.message);
        }
        let e = parse(r#"{"image":"busybox","idmappings":{"UIDMap":[{"container_id":0}]}}"#)
            .unwrap_err();
        assert!(e.message.contains("host_id"), "{}", e.message);
    }

    #[test]
    fn networks_and_ports() {
        use rpod_engine::container::NetworkMode;
        let options = parse(r#"{"image":"x","netns":{"nsmode":"bridge"},"Networks":{"lab":{"aliases":["api"],"static_ips":["10.89.0.7"]}},"portmappings":[{"host_ip":"127.0.0.1","container_port":80,"host_port":8080,"range":0,"protocol":"tcp,udp"}],"dns_server":["192.0.2.1"],"hostadd":["db:10.0.0.5"]}"#).unwrap();
        assert_eq!(options.network, Some(NetworkMode::Bridge));
        assert_eq!(options.net.networks[0].name, "lab");
        assert_eq!(
            options.net.networks[0].ip,
            Some("10.89.0.7".parse().unwrap())
        );
        assert_eq!(options.net.ports.len(), 2);
        assert_eq!(options.net.ports[1].protocol, "udp");
        assert_eq!(options.net.ports[0].range, 1);
        assert_eq!(options.net.dns_servers, ["192.0.2.1"]);
        assert_eq!(options.net.add_hosts[0].ip, "10.0.0.5");
        let options =
            parse(r#"{"image":"x","netns":{"nsmode":"container","value":"abc"}}"#).unwrap();
        assert_eq!(options.network, Some(NetworkMode::Container("abc".into())));
        let options = parse(r#"{"image":"x","netns":{"nsmode":""}}"#).unwrap();
        assert_eq!(options.network, None);
    }

    #[test]
    fn neutral_defaults_are_taken_and_real_requests_refused() {
        let options = parse(r#"{"name":"web","image":"busybox","command":["echo","hi"],"env":{"A":"1"},"terminal":true,"stdin":true,"remove":true,"image_volume_mode":"anonymous","systemd":"true","pidns":{"nsmode":""},"userns":{"nsmode":""},"netns":{"nsmode":"none"},"umask":"0022","annotations":{"io.kubernetes.cri-o.TTY":"true"},"cgroups_mode":"enabled","manage_password":true,"volatile":true,"resource_limits":{"memory":{"limit":1048576}}}"#).unwrap();
        assert_eq!(options.name.as_deref(), Some("web"));
        assert_eq!(options.command, ["echo", "hi"]);
        assert_eq!(options.env, ["A=1"]);
        assert!(options.terminal && options.stdin && options.auto_remove);
        assert_eq!(options.memory, Some(1 << 20));
        use rpod_engine::systemd_mode::SystemdMode;
        assert_eq!(options.systemd, SystemdMode::True);
        assert_eq!(
            parse(r#"{"image":"x"}"#).unwrap().systemd,
            SystemdMode::True
        );
        let always = parse(r#"{"image":"x","systemd":"always"}"#).unwrap();
        assert_eq!(always.systemd, SystemdMode::Always);
        assert!(parse(r#"{"image":"x","systemd":"sometimes"}"#).is_err());
        assert!(!options.no_cgroups);
        assert!(
            parse(r#"{"image":"x","cgroups_mode":"disabled"}"#)
                .unwrap()
                .no_cgroups
        );
        assert!(
            !parse(r#"{"image":"x","cgroups_mode":"no-conmon"}"#)
                .unwrap()
                .no_cgroups
        );
        assert!(parse(r#"{"image":"x","cgroups_mode":"split"}"#).is_err());
        assert!(parse(r#"{"image":"x","cgroups_mode":"sometimes"}"#).is_err());
        // podman-remote's `--health-interval disable` is an interval of 0: no timer.
        let check = |json: &str| parse(json).unwrap().healthcheck.unwrap().interval_secs;
        let given = r#"{"image":"x","healthconfig":{"Test":["CMD","true"],"Interval":INTERVAL}}"#;
        assert_eq!(check(&given.replace("INTERVAL", "0")), 0);
        assert_eq!(check(&given.replace("INTERVAL", "5000000000")), 5);
        // podman 4.4's startup check goes with the check; alone it is refused.
        let startup = parse(
            r#"{"image":"x","healthconfig":{"Test":["CMD","true"]},"startupHealthConfig":{"Test":["CMD-SHELL","test -e /up"],"Interval":2000000000,"Retries":4,"Successes":2}}"#,
        )
        .unwrap()
        .healthcheck
        .unwrap()
        .startup
        .unwrap();
        assert_eq!(startup.test, ["CMD-SHELL", "test -e /up"]);
        assert_eq!(
            (
                startup.interval_secs,
                startup.timeout_secs,
                startup.retries,
                startup.successes
            ),
            (2, 30, 4, 2)
        );
        assert!(parse(r#"{"image":"x","startupHealthConfig":{"Test":["CMD","true"]}}"#).is_err());
        // No log driver named: rpod.conf's; a named one is the client's. mask and unmask
        // are security options.
        assert!(options.log_driver_from_config);
        let named = parse(r#"{"image":"x","log_configuration":{"driver":"none"},"unmask":["/proc/keys"],"mask":["/opt"]}"#).unwrap();
        assert!(!named.log_driver_from_config && !named.log_to_file);
        assert_eq!(named.security.unmask, ["/proc/keys"]);
        assert_eq!(named.security.mask, ["/opt"]);
        for (json, named) in [
            (
                r#"{"image":"x","mounts":[{"Destination":"/d","Type":"bind","Source":"/"}]}"#,
                "mounts",
            ),
            (
                r#"{"image":"x","portmappings":[{"container_port":80,"protocol":"icmp"}]}"#,
                "invalid port mapping",
            ),
            (
                r#"{"image":"x","pidns":{"nsmode":"path","value":"/x"}}"#,
                "invalid --pid",
            ),
            (
                r#"{"image":"x","netns":{"nsmode":"slirp4netns"}}"#,
                "network mode",
            ),
            (
                r#"{"image":"x","resource_limits":{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]}}}"#,
                "blockIO.throttleReadBpsDevice",
            ),
            (
                r#"{"image":"x","resource_limits":{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}}"#,
                "hugepageLimits",
            ),
        ] {
            let err = parse(json).unwrap_err();
            assert_eq!(err.status, 400, "{json}");
            assert!(err.message.contains(named), "{json}: {}", err.message);
        }
    }
}
