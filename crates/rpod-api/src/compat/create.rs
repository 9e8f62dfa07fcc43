//! `POST /containers/create`: Docker's `Config` + `HostConfig` + `NetworkingConfig` into the
//! engine's create options. What rpod supports is taken; anything else that is set (not
//! null, false, zero, empty) is refused with a 400 naming it, never silently dropped.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use rpod_engine::container::{NetworkJoin, NetworkMode};
use rpod_engine::security::SecurityOptions;
use rpod_engine::CreateOptions;
use rpod_oci::TerminalSize;

use crate::error::{ApiError, ApiResult};

/// Docker's `StrSlice`: a string (one word) or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StrSlice {
    One(String),
    Many(Vec<String>),
}

impl StrSlice {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StrSlice::One(s) => vec![s],
            StrSlice::Many(v) => v,
        }
    }
}

/// The part of `Config` rpod reads; everything else lands in `rest` and is checked.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    pub image: String,
    pub cmd: Option<StrSlice>,
    pub entrypoint: Option<StrSlice>,
    pub env: Option<Vec<String>>,
    pub working_dir: String,
    pub user: String,
    pub hostname: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub stop_signal: String,
    pub stop_timeout: Option<i64>,
    pub exposed_ports: Option<Map<String, Value>>,
    /// Anonymous volumes (`docker run -v /path`), by path.
    pub volumes: Option<Map<String, Value>>,
    pub mac_address: String,
    pub host_config: Option<Map<String, Value>>,
    pub networking_config: Option<Value>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `Config` fields that carry no meaning for rpod's containers whatever their value.
const IGNORED_CONFIG: &[&str] = &[
    "ArgsEscaped",
    "Shell",
    "OnBuild",
    // Read below.
    "Domainname",
    // Read below.
    "Healthcheck",
];

/// `HostConfig` fields accepted with any value (read below, or harmless).
const HANDLED_HOST: &[&str] = &[
    "AutoRemove",
    "ContainerIDFile",
    "ConsoleSize",
    "Links",
    "Memory",
    "NanoCpus",
    "CpuPeriod",
    "CpuQuota",
    "PidsLimit",
    "ReadonlyRootfs",
    "Privileged",
    "CapAdd",
    "CapDrop",
    "SecurityOpt",
    "LogConfig",
    "RestartPolicy",
    "NetworkMode",
    "MemorySwap",
    "MemorySwappiness",
    "MemoryReservation",
    "CpuShares",
    "CpusetCpus",
    "CpusetMems",
    "BlkioWeight",
    "Init",
    "Binds",
    "Mounts",
    "Tmpfs",
    "Isolation",
    "CgroupnsMode",
    "Init",
    "PortBindings",
    "PublishAllPorts",
    "Dns",
    "DnsSearch",
    "DnsOptions",
    "ExtraHosts",
    "PidMode",
    "IpcMode",
    "UTSMode",
    "ShmSize",
    "Sysctls",
    "Ulimits",
    "Devices",
    "GroupAdd",
    "VolumesFrom",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "BlkioWeightDevice",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CgroupParent",
    "OomScoreAdj",
    "MaskedPaths",
    "ReadonlyPaths",
    "OomKillDisable",
    "DeviceCgroupRules",
    "Annotations",
    "Runtime",
    "VolumeDriver",
];

/// Docker's per-device block I/O weights: `[{"Path", "Weight"}]`.
pub(crate) fn host_weights(
    host: &Map<String, Value>,
) -> ApiResult<Vec<rpod_engine::resources::WeightDevice>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Weight {
        path: String,
        weight: u16,
    }
    typed::<Vec<Weight>>(host, "BlkioWeightDevice")?
        .unwrap_or_default()
        .into_iter()
        .map(|w| {
            rpod_engine::resources::WeightDevice::checked(&w.path, w.weight).map_err(Into::into)
        })
        .collect()
}

/// A Docker per-device limit (`--device-read-bps` and the like): `{"Path", "Rate"}`.
pub(crate) fn host_throttles(
    host: &Map<String, Value>,
    key: &str,
    flag: &str,
) -> ApiResult<Vec<rpod_engine::resources::Throttle>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Limit {
        path: String,
        rate: u64,
    }
    typed::<Vec<Limit>>(host, key)?
        .unwrap_or_default()
        .into_iter()
        .map(|l| {
            rpod_engine::resources::Throttle::checked(&l.path, l.rate, flag).map_err(Into::into)
        })
        .collect()
}

/// Null, false, zero, or an empty string, list or object: a setting left unset. (An
/// object's keys carry meaning, as `ExposedPorts: {"80/tcp": {}}` shows.)
pub fn zeroish(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A network mode by name: `""` and `default` leave the configured default (the names in
/// `default_names` too), `bridge` is the default network, `none`, `host`,
/// `container:NAME`, `ns:PATH` as podman; any other word names a network.
pub fn network_mode(
    mode: &str,
    default_names: &[&str],
) -> ApiResult<(Option<NetworkMode>, Vec<NetworkJoin>)> {
    if mode.is_empty() || default_names.contains(&mode) {
        return Ok((None, Vec::new()));
    }
    Ok(rpod_engine::network::parse_network_flags(&[
        mode.to_string()
    ])?)
}

/// Docker's `PortBindings` (`{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`) and, with
/// `PublishAllPorts`, the exposed ports left unbound.
fn published_ports(
    host: &Map<String, Value>,
    exposed: &[String],
) -> ApiResult<Vec<rpod_engine::network::ports::PortMapping>> {
    use rpod_engine::network::ports::parse_exposed;
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Binding {
        host_ip: String,
        host_port: String,
    }
    let bindings: BTreeMap<String, Option<Vec<Binding>>> =
        typed(host, "PortBindings")?.unwrap_or_default();
    let mut ports = Vec::new();
    for (key, list) in &bindings {
        let base = parse_exposed(key)?;
        for binding in list.iter().flatten() {
            for mut mapping in base.clone() {
                mapping.host_ip = binding.host_ip.clone();
                if !binding.host_port.is_empty() {
                    let (start, _) = binding
                        .host_port
                        .split_once('-')
                        .unwrap_or((&binding.host_port, ""));
                    mapping.host_port = start.parse().map_err(|_| {
                        ApiError::bad_request(format!(
                            "HostConfig.PortBindings: invalid host port {:?}",
                            binding.host_port
                        ))
                    })?;
                }
                ports.push(mapping);
            }
        }
    }
    if typed::<bool>(host, "PublishAllPorts")?.unwrap_or(false) {
        for key in exposed {
            if !bindings.contains_key(key) {
                ports.extend(parse_exposed(key)?);
            }
        }
    }
    Ok(ports)
}

/// `NetworkingConfig.EndpointsConfig`: the networks to join, with their address, MAC and
/// aliases. The docker CLI sends one all-empty endpoint for the mode's network.
fn endpoint_joins(
    networking: &Value,
    joins: &mut Vec<NetworkJoin>,
    links: &mut Vec<String>,
) -> ApiResult<()> {
    let endpoints = networking.get("EndpointsConfig").and_then(Value::as_object);
    for (network, endpoint) in endpoints.into_iter().flatten() {
        let fields = endpoint.as_object().cloned().unwrap_or_default();
        // The docker CLI sends `--link` here too (for a network of the user's own) as well as
        // in `HostConfig.Links`; rpod's links are the container's, whatever the network.
        if let Some(endpoint_links) = typed::<Vec<String>>(&fields, "Links")? {
            links.extend(endpoint_links);
        }
        for (key, value) in &fields {
            if !matches!(
                key.as_str(),
                "IPAMConfig" | "Aliases" | "MacAddress" | "NetworkID" | "Links"
            ) && !zeroish(value)
            {
                return Err(ApiError::unsupported(format!(
                    "NetworkingConfig.EndpointsConfig.{network}.{key}"
                )));
            }
        }
        let mut given = NetworkJoin::default();
        set_static_ips(
            &mut given,
            &ipam_addresses(fields.get("IPAMConfig"), network)?,
        )?;
        let aliases: Vec<String> = fields
            .get("Aliases")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let mac = fields
            .get("MacAddress")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from);
        // `bridge` is Docker's name of the default network, whose endpoint takes no
        // settings in Docker either (addresses and aliases are user networks' only).
        if matches!(network.as_str(), "default" | "bridge" | "none" | "host") {
            if !given.static_ips().is_empty() || !aliases.is_empty() || mac.is_some() {
                return Err(ApiError::unsupported(format!(
                    "endpoint settings for the network mode {network:?}"
                )));
            }
            continue;
        }
        match joins.iter_mut().find(|j| &j.name == network) {
            Some(join) => {
                join.ip = given.ip.or(join.ip);
                join.ip6 = given.ip6.or(join.ip6);
                join.aliases.extend(aliases);
                join.mac = mac.or(join.mac.take());
            }
            None => joins.push(NetworkJoin {
                name: network.clone(),
                aliases,
                mac,
                ..given
            }),
        }
    }
    Ok(())
}

/// The addresses of an endpoint's `IPAMConfig` (`IPv4Address`, `IPv6Address`), each of
/// its key's family.
pub(crate) fn ipam_addresses(config: Option<&Value>, network: &str) -> ApiResult<Vec<String>> {
    let mut addresses = Vec::new();
    for (key, v6) in [("IPv4Address", false), ("IPv6Address", true)] {
        let Some(text) = config
            .and_then(|c| c.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        if !text
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_ipv6() == v6)
        {
            return Err(ApiError::bad_request(format!(
                "invalid {key} {text:?} for network {network}"
            )));
        }
        addresses.push(text.to_string());
    }
    Ok(addresses)
}

/// Static addresses of a network's endpoint (libpod's `static_ips`, Docker's `IPAMConfig`):
/// at most one of each family, the IPv4 one `ip` and the IPv6 one `ip6`.
pub(crate) fn set_static_ips(join: &mut NetworkJoin, addresses: &[String]) -> ApiResult<()> {
    let (mut v4, mut v6) = (None, None);
    for text in addresses {
        let address: std::net::IpAddr = text
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid static IP {text:?}")))?;
        let taken = match address {
            std::net::IpAddr::V4(a) => v4.replace(a).is_some(),
            std::net::IpAddr::V6(a) => v6.replace(a).is_some(),
        };
        if taken {
            return Err(ApiError::unsupported(
                "more than one static IP of a family on a network",
            ));
        }
    }
    join.ip = v4.or(join.ip);
    join.ip6 = v6.or(join.ip6);
    Ok(())
}

/// Docker's `Ulimits` and `Devices` entries.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DockerUlimit {
    name: String,
    soft: i64,
    hard: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DockerDevice {
    path_on_host: String,
    path_in_container: String,
    cgroup_permissions: String,
}

/// `PidMode`, `IpcMode`, `UTSMode`, `CgroupnsMode`, `ShmSize`, `Sysctls`, `Ulimits`, `Devices`, `GroupAdd`.
fn host_isolation(host: &Map<String, Value>) -> ApiResult<rpod_engine::isolation::Isolation> {
    use rpod_engine::isolation::{parse_device, parse_ulimit, Isolation, NamespaceMode};
    let mode = |field: &str, flag: &str| -> ApiResult<NamespaceMode> {
        let text = typed::<String>(host, field)?.unwrap_or_default();
        Ok(NamespaceMode::parse(flag, &text)?)
    };
    let mut isolation = Isolation {
        pid: mode("PidMode", "pid")?,
        ipc: mode("IpcMode", "ipc")?,
        uts: mode("UTSMode", "uts")?,
        cgroup: mode("CgroupnsMode", "cgroupns")?,
        shm_size: typed::<i64>(host, "ShmSize")?
            .filter(|s| *s > 0)
            .map(|s| s as u64),
        sysctls: typed(host, "Sysctls")?.unwrap_or_default(),
        group_add: typed(host, "GroupAdd")?.unwrap_or_default(),
        device_cgroup_rules: typed::<Vec<String>>(host, "DeviceCgroupRules")?
            .unwrap_or_default()
            .iter()
            .map(|rule| rpod_engine::isolation::DeviceRule::parse(rule))
            .collect::<Result<_, _>>()?,
        ..Default::default()
    };
    for limit in typed::<Vec<DockerUlimit>>(host, "Ulimits")?.unwrap_or_default() {
        // -1 is unlimited; another negative number no limit at all.
        let value = |v: i64| match v {
            -1 => Ok("unlimited".to_string()),
            v if v < 0 => Err(ApiError::bad_request(format!(
                "invalid ulimit {}: {v} is neither a limit nor -1 (unlimited)",
                limit.name
            ))),
            v => Ok(v.to_string()),
        };
        isolation.ulimits.push(parse_ulimit(&format!(
            "{}={}:{}",
            limit.name,
            value(limit.soft)?,
            value(limit.hard)?
        ))?);
    }
    for device in typed::<Vec<DockerDevice>>(host, "Devices")?.unwrap_or_default() {
        let container = if device.path_in_container.is_empty() {
            device.path_on_host.clone()
        } else {
            device.path_in_container.clone()
        };
        let permissions = if device.cgroup_permissions.is_empty() {
            "rwm".to_string()
        } else {
            device.cgroup_permissions.clone()
        };
        isolation.devices.push(parse_device(&format!(
            "{}:{container}:{permissions}",
            device.path_on_host
        ))?);
    }
    Ok(isolation)
}

/// Whether a log driver keeps a log file; drivers rpod lacks are refused.
pub fn log_to_file(driver: &str) -> ApiResult<bool> {
    match driver {
        "" | "k8s-file" | "json-file" => Ok(true),
        "none" => Ok(false),
        other => Err(ApiError::unsupported(format!("log driver {other:?}"))),
    }
}

/// Docker's `MaskedPaths` and `ReadonlyPaths` as security options: absent (`null`) keeps
/// the defaults; empty (what `docker run --security-opt systempaths=unconfined` sends)
/// unmasks that kind's defaults. A list of its own would replace them: refused.
fn system_paths(host: &Map<String, Value>) -> ApiResult<Vec<String>> {
    use rpod_engine::security::{MASKED_PATHS, READONLY_PATHS};
    let mut options = Vec::new();
    for (field, defaults) in [
        ("MaskedPaths", MASKED_PATHS),
        ("ReadonlyPaths", READONLY_PATHS),
    ] {
        match typed::<Vec<String>>(host, field)? {
            None => {}
            Some(paths) if paths.is_empty() => {
                options.push(format!("unmask={}", defaults.join(":")));
            }
            Some(_) => {
                return Err(ApiError::unsupported(format!(
                    "a list of {field} (empty, or none, for the defaults)"
                )))
            }
        }
    }
    Ok(options)
}

/// Docker's `RestartPolicy` (`{"Name", "MaximumRetryCount"}`); `None` when absent.
pub(crate) fn restart_policy(
    host: &Map<String, Value>,
) -> ApiResult<Option<rpod_engine::restart::RestartPolicy>> {
    let Some(policy) = typed::<Map<String, Value>>(host, "RestartPolicy")? else {
        return Ok(None);
    };
    let name = policy.get("Name").and_then(Value::as_str).unwrap_or("");
    let retries = policy
        .get("MaximumRetryCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let text = if name == "on-failure" && retries > 0 {
        format!("{name}:{retries}")
    } else {
        name.to_string()
    };
    rpod_engine::restart::RestartPolicy::parse(&text)
        .map(Some)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

pub(crate) fn field<'a>(host: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    host.get(name).filter(|v| !v.is_null())
}

pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    host: &Map<String, Value>,
    name: &str,
) -> ApiResult<Option<T>> {
    match field(host, name) {
        None => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("HostConfig.{name}: {e}"))),
    }
}

/// A limit where 0 means none: `None` for 0 or absent; a negative one is refused, not taken
/// as none (the client would believe it was set). With `unlimited`, -1 is kept: the value
/// that lifts this limit.
pub(crate) fn limit(
    host: &Map<String, Value>,
    name: &str,
    unlimited: bool,
) -> ApiResult<Option<i64>> {
    match typed::<i64>(host, name)? {
        Some(-1) if unlimited => Ok(Some(-1)),
        Some(v) if v < 0 => Err(ApiError::bad_request(format!(
            "invalid {name} {v}: a limit cannot be negative"
        ))),
        v => Ok(v.filter(|v| *v > 0)),
    }
}

/// Docker's `Mounts` entry. docker-py sends a field it was not given as null (`Source`
/// of a tmpfs, docker-compose's `ReadOnly`): the same as left out.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DockerMount {
    #[serde(rename = "Type", deserialize_with = "null_as_default")]
    kind: String,
    #[serde(deserialize_with = "null_as_default")]
    source: String,
    #[serde(deserialize_with = "null_as_default")]
    target: String,
    #[serde(deserialize_with = "null_as_default")]
    read_only: bool,
    bind_options: Option<Map<String, Value>>,
    tmpfs_options: Option<Map<String, Value>>,
    volume_options: Option<Map<String, Value>>,
    image_options: Option<Map<String, Value>>,
    /// `Consistency` (Docker Desktop's, for macOS file sharing: nothing here) and what
    /// else a client sends, refused unless empty.
    #[serde(flatten)]
    rest: Map<String, Value>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// What a volume mount's `VolumeOptions` say: `NoCopy` (the `nocopy` word), `Subpath`
/// (Docker 26's `volume-subpath`), and the `Labels` and `DriverConfig.Options` of a volume
/// made on first use (the local driver's only; an existing volume keeps its own).
#[derive(Default)]
struct VolumeMountOptions {
    words: Vec<&'static str>,
    subpath: Option<String>,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
}

fn volume_options(options: &Map<String, Value>) -> ApiResult<VolumeMountOptions> {
    let mut read = VolumeMountOptions::default();
    let strings = |value: &Value, what: &str| -> ApiResult<BTreeMap<String, String>> {
        serde_json::from_value::<Option<BTreeMap<String, String>>>(value.clone())
            .map(Option::unwrap_or_default)
            .map_err(|e| ApiError::bad_request(format!("VolumeOptions.{what} of a mount: {e}")))
    };
    for (key, value) in options {
        match key.as_str() {
            "NoCopy" if value.as_bool() == Some(true) => read.words.push("nocopy"),
            "Subpath" => read.subpath = value.as_str().filter(|s| !s.is_empty()).map(String::from),
            _ if zeroish(value) => {}
            "Labels" => read.labels = strings(value, "Labels")?,
            "DriverConfig" => {
                let driver = value.get("Name").and_then(Value::as_str).unwrap_or("");
                if !matches!(driver, "" | "local") {
                    return Err(ApiError::unsupported(format!(
                        "VolumeOptions.DriverConfig.Name {driver:?} of a mount (make the volume with its driver first)"
                    )));
                }
                read.options = strings(
                    value.get("Options").unwrap_or(&Value::Null),
                    "DriverConfig.Options",
                )?;
            }
            other => {
                return Err(ApiError::unsupported(format!(
                    "VolumeOptions.{other} of a mount"
                )))
            }
        }
    }
    Ok(read)
}

/// An image mount's `ImageOptions`: its `Subpath`; other kinds of mount take none.
fn image_options(options: Option<&Map<String, Value>>, kind: &str) -> ApiResult<Option<String>> {
    let Some(options) = options.filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    if kind != "image" {
        return Err(ApiError::unsupported(format!(
            "ImageOptions of a {kind} mount"
        )));
    }
    let mut subpath = None;
    for (key, value) in options {
        match key.as_str() {
            "Subpath" => subpath = value.as_str().filter(|s| !s.is_empty()).map(String::from),
            _ if zeroish(value) => {}
            other => {
                return Err(ApiError::unsupported(format!(
                    "ImageOptions.{other} of a mount"
                )))
            }
        }
    }
    Ok(subpath)
}

/// The host directories of `Binds` entries that do not exist. Docker makes them (0755)
/// at create, and its clients count on it (docker-compose's `./data:/data` for a `data`
/// not made yet); a `Mounts` bind, as Docker's, must exist unless its
/// `BindOptions.CreateMountpoint` (the docker CLI's `bind-create-src`) asks for it.
pub fn missing_bind_sources(body: &CreateBody) -> ApiResult<Vec<std::path::PathBuf>> {
    let Some(host) = &body.host_config else {
        return Ok(Vec::new());
    };
    let mut missing = Vec::new();
    for entry in typed::<Vec<String>>(host, "Binds")?.unwrap_or_default() {
        let spec = rpod_engine::mounts::parse_volume_absolute(&entry)?;
        let bind = spec.kind == rpod_engine::mounts::MountKind::Bind && spec.volume.is_none();
        if bind && std::fs::symlink_metadata(&spec.source).is_err() {
            missing.push(spec.source);
        }
    }
    for mount in typed::<Vec<DockerMount>>(host, "Mounts")?.unwrap_or_default() {
        let create = mount
            .bind_options
            .as_ref()
            .and_then(|o| o.get("CreateMountpoint"))
            .and_then(Value::as_bool)
            == Some(true);
        let source = std::path::PathBuf::from(&mount.source);
        if mount.kind == "bind"
            && create
            && source.is_absolute()
            && std::fs::symlink_metadata(&source).is_err()
        {
            missing.push(source);
        }
    }
    Ok(missing)
}

/// A bind mount's `BindOptions` as `--mount` words (`Propagation`, `NonRecursive`) and how
/// much of it a read-only one is (`ReadOnlyNonRecursive`: the top mount only;
/// `ReadOnlyForceRecursive`: every mount below or none; else below too where the kernel
/// can, as Docker since API 1.44); `CreateMountpoint` is done before the create
/// (`missing_bind_sources`). Others are refused.
fn bind_words(
    options: &Map<String, Value>,
) -> ApiResult<(Vec<&str>, Option<rpod_engine::mounts::ReadOnlyDepth>)> {
    use rpod_engine::mounts::ReadOnlyDepth;
    let mut words = Vec::new();
    let mut depth = None;
    for (key, value) in options {
        match key.as_str() {
            "Propagation" => {
                if let Some(p) = value.as_str().filter(|p| !p.is_empty()) {
                    words.push(p);
                }
            }
            "NonRecursive" if value.as_bool() == Some(true) => words.push("bind"),
            "ReadOnlyNonRecursive" if value.as_bool() == Some(true) => {
                choose_depth(&mut depth, ReadOnlyDepth::TopOnly)?
            }
            "ReadOnlyForceRecursive" if value.as_bool() == Some(true) => {
                choose_depth(&mut depth, ReadOnlyDepth::ForceRecursive)?
            }
            "CreateMountpoint" => {}
            _ if zeroish(value) => {}
            other => {
                return Err(ApiError::unsupported(format!(
                    "BindOptions.{other} of a mount"
                )))
            }
        }
    }
    Ok((words, depth))
}

/// `asked` as a bind's read-only depth, unless one was chosen already: dockerd takes only
/// one of its two fields.
fn choose_depth(
    depth: &mut Option<rpod_engine::mounts::ReadOnlyDepth>,
    asked: rpod_engine::mounts::ReadOnlyDepth,
) -> ApiResult<()> {
    if depth.replace(asked).is_some() {
        return Err(ApiError::bad_request(
            "BindOptions.ReadOnlyNonRecursive and BindOptions.ReadOnlyForceRecursive do not go together",
        ));
    }
    Ok(())
}

/// `Binds`, `Mounts` and `Tmpfs` as rpod's mounts (host paths must be absolute: a service
/// has no current directory of the client's).
fn host_mounts(host: &Map<String, Value>) -> ApiResult<Vec<rpod_engine::mounts::MountSpec>> {
    use rpod_engine::mounts::{bind, tmpfs};
    let mut mounts = Vec::new();
    for entry in typed::<Vec<String>>(host, "Binds")?.unwrap_or_default() {
        mounts.push(rpod_engine::mounts::parse_volume_absolute(&entry)?);
    }
    for mount in typed::<Vec<DockerMount>>(host, "Mounts")?.unwrap_or_default() {
        if let Some((key, _)) = mount
            .rest
            .iter()
            .find(|(key, value)| key.as_str() != "Consistency" && !zeroish(value))
        {
            return Err(ApiError::unsupported(format!("{key} of a mount")));
        }
        let volume = match &mount.volume_options {
            Some(options) if mount.kind == "volume" => volume_options(options)?,
            Some(options) if !options.is_empty() => {
                return Err(ApiError::unsupported(format!(
                    "VolumeOptions of a {} mount",
                    mount.kind
                )))
            }
            _ => VolumeMountOptions::default(),
        };
        let image_subpath = image_options(mount.image_options.as_ref(), &mount.kind)?;
        let subpath = volume.subpath.clone().or(image_subpath);
        let spec = match mount.kind.as_str() {
            "bind" => {
                let options = mount.bind_options.unwrap_or_default();
                let mut words = vec![if mount.read_only { "ro" } else { "rw" }];
                let (more, depth) = bind_words(&options)?;
                words.extend(more);
                let spec = bind(&mount.source, &mount.target, &words, None)?;
                match depth {
                    Some(depth) => rpod_engine::mounts::with_read_only_depth(spec, depth)?,
                    None => spec,
                }
            }
            "tmpfs" => {
                let options = mount.tmpfs_options.unwrap_or_default();
                let mut words = Vec::new();
                if let Some(size) = options
                    .get("SizeBytes")
                    .and_then(Value::as_i64)
                    .filter(|s| *s > 0)
                {
                    words.push(format!("size={size}"));
                }
                if let Some(mode) = options
                    .get("Mode")
                    .and_then(Value::as_u64)
                    .filter(|m| *m > 0)
                {
                    words.push(format!("mode={mode:o}"));
                }
                // API 1.46's flags (`[["exec"]]`, `[["size", "1m"]]`), checked as `--tmpfs`'s.
                for flag in typed::<Vec<Vec<String>>>(&options, "Options")?.unwrap_or_default() {
                    words.push(flag.join("="));
                }
                if let Some(other) = options.iter().find(|(key, value)| {
                    !matches!(key.as_str(), "SizeBytes" | "Mode" | "Options") && !zeroish(value)
                }) {
                    return Err(ApiError::unsupported(format!(
                        "TmpfsOptions.{} of a mount",
                        other.0
                    )));
                }
                if mount.read_only {
                    words.push("ro".into());
                }
                tmpfs(&mount.target, &words)?
            }
            "volume" => {
                let mut words = vec![if mount.read_only { "ro" } else { "rw" }];
                words.extend(volume.words);
                let spec = if mount.source.is_empty() {
                    rpod_engine::mounts::anonymous_volume(&mount.target, &words)?
                } else {
                    rpod_engine::mounts::named_volume(&mount.source, &mount.target, &words)?
                };
                rpod_engine::mounts::MountSpec {
                    volume_options: volume.options,
                    volume_labels: volume.labels,
                    ..spec
                }
            }
            // API 1.48's image mounts, which Docker mounts read-only.
            "image" => rpod_engine::mounts::image(&mount.source, &mount.target, false)?,
            other => {
                return Err(ApiError::unsupported(format!("mounts of type {other:?}")));
            }
        };
        mounts.push(match subpath {
            Some(path) => rpod_engine::mounts::with_subpath(spec, &path)?,
            None => spec,
        });
    }
    for (target, options) in typed::<BTreeMap<String, String>>(host, "Tmpfs")?.unwrap_or_default() {
        let words: Vec<String> = options.split(',').map(String::from).collect();
        mounts.push(tmpfs(&target, &words)?);
    }
    Ok(mounts)
}

/// Docker's `Env`: `NAME=VALUE` entries, and bare names, which Docker takes away from the
/// image's variables (the docker CLI sends `-e NAME` so when its own environment has no
/// NAME). A bare word that is no name is left with the variables, to be refused.
fn docker_env(entries: Vec<String>) -> (Vec<String>, Vec<String>) {
    entries.into_iter().partition(|entry| {
        entry.contains('=') || entry.is_empty() || entry.chars().any(char::is_whitespace)
    })
}

/// Translate a create body; `name` is the `?name=` query parameter.
pub fn create_options(body: CreateBody, name: Option<String>) -> ApiResult<CreateOptions> {
    for (key, value) in &body.rest {
        if !IGNORED_CONFIG.contains(&key.as_str()) && !zeroish(value) {
            return Err(ApiError::unsupported(format!("Config.{key}")));
        }
    }
    if body.image.is_empty() {
        return Err(ApiError::bad_request("Config.Image is required"));
    }
    let host = body.host_config.unwrap_or_default();
    for (key, value) in &host {
        // `docker run --userns host` opts out of a daemon's remapping: rpod's containers
        // share the host's user namespace unless asked otherwise.
        let host_userns = key == "UsernsMode" && value == "host";
        if !HANDLED_HOST.contains(&key.as_str()) && !zeroish(value) && !host_userns {
            return Err(ApiError::unsupported(format!("HostConfig.{key}")));
        }
    }
    let mode = field(&host, "NetworkMode").and_then(Value::as_str);
    let (mut network, mut joins) = network_mode(mode.unwrap_or(""), &["default"])?;
    let mut links: Vec<String> = typed(&host, "Links")?.unwrap_or_default();
    if let Some(networking) = &body.networking_config {
        endpoint_joins(networking, &mut joins, &mut links)?;
    }
    let mut container_links: Vec<rpod_engine::container::ContainerLink> = Vec::new();
    for text in &links {
        let link = rpod_engine::container::ContainerLink::parse(text)?;
        if !container_links.contains(&link) {
            container_links.push(link);
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
    let exposed: Vec<String> = body
        .exposed_ports
        .as_ref()
        .map(|e| e.keys().cloned().collect())
        .unwrap_or_default();
    let add_hosts = typed::<Vec<String>>(&host, "ExtraHosts")?
        .unwrap_or_default()
        .iter()
        .map(|h| rpod_engine::network::etc_files::parse_add_host(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::bad_request)?;
    let net = rpod_engine::container::NetworkConfig {
        networks: joins,
        ports: published_ports(&host, &exposed)?,
        publish_all: typed::<bool>(&host, "PublishAllPorts")?.unwrap_or(false),
        exposed: rpod_engine::network::ports::exposed_keys(&exposed)?,
        dns_servers: typed(&host, "Dns")?.unwrap_or_default(),
        dns_search: typed(&host, "DnsSearch")?.unwrap_or_default(),
        dns_options: typed(&host, "DnsOptions")?.unwrap_or_default(),
        add_hosts,
        no_hosts: false,
        links: container_links,
    };
    // The driver of the volumes a run makes: rpod makes them with the local driver; one of a
    // plugin's is made first (`volume create --driver`), then named.
    match typed::<String>(&host, "VolumeDriver")?.as_deref() {
        None | Some("" | "local") => {}
        Some(driver) => {
            return Err(ApiError::unsupported(format!(
                "volume driver {driver:?} for the volumes a run makes (they are the local \
                 driver's: make the volume first with volume create --driver)"
            )))
        }
    }
    let restart = restart_policy(&host)?.unwrap_or_default();
    let log_config = typed::<Map<String, Value>>(&host, "LogConfig")?;
    let driver = log_config
        .as_ref()
        .and_then(|c| c.get("Type"))
        .and_then(Value::as_str);
    let log_to_file = log_to_file(driver.unwrap_or(""))?;
    // The driver's options (`docker run --log-opt`): taken, or refused, never ignored.
    let log_options = match log_config.as_ref().and_then(|c| c.get("Config")) {
        Some(Value::Object(config)) => {
            let pairs: Vec<(&str, &str)> = config
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                .collect();
            rpod_engine::logs::LogOptions::parse(pairs)?
        }
        _ => Default::default(),
    };
    let isolation = host_isolation(&host)?;
    let resources = rpod_engine::resources::Resources {
        memory_swap: limit(&host, "MemorySwap", true)?,
        memory_reservation: limit(&host, "MemoryReservation", false)?,
        // Unsigned, as podman's service decodes it: a negative weight is refused.
        cpu_shares: typed::<u64>(&host, "CpuShares")?.filter(|s| *s > 0),
        cpuset_cpus: typed::<String>(&host, "CpusetCpus")?.filter(|s| !s.is_empty()),
        cpuset_mems: typed::<String>(&host, "CpusetMems")?.filter(|s| !s.is_empty()),
        blkio_weight: typed::<u16>(&host, "BlkioWeight")?.filter(|w| *w > 0),
        device_read_bps: host_throttles(&host, "BlkioDeviceReadBps", "--device-read-bps")?,
        device_write_bps: host_throttles(&host, "BlkioDeviceWriteBps", "--device-write-bps")?,
        device_read_iops: host_throttles(&host, "BlkioDeviceReadIOps", "--device-read-iops")?,
        device_write_iops: host_throttles(&host, "BlkioDeviceWriteIOps", "--device-write-iops")?,
        blkio_weight_device: host_weights(&host)?,
        // -1 (and null): not set.
        memory_swappiness: typed::<i64>(&host, "MemorySwappiness")?
            .filter(|s| *s >= 0)
            .map(|s| s as u64),
        cpu_rt_period: typed::<u64>(&host, "CpuRealtimePeriod")?.filter(|p| *p > 0),
        cpu_rt_runtime: typed::<i64>(&host, "CpuRealtimeRuntime")?.filter(|r| *r != 0),
        oom_kill_disable: typed::<bool>(&host, "OomKillDisable")?.unwrap_or(false),
        ..Default::default()
    };

    // 0 means no limit; Docker's daemon refuses a negative one.
    let memory = limit(&host, "Memory", false)?;
    let nano_cpus = limit(&host, "NanoCpus", false)?;
    // -1: no quota, as none.
    let quota = limit(&host, "CpuQuota", true)?.filter(|q| *q > 0);
    let period = limit(&host, "CpuPeriod", false)?;
    let cpus = match (nano_cpus, quota) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "NanoCpus and CpuQuota cannot both be set",
            ))
        }
        (Some(nano), None) => Some(nano as f64 / 1e9),
        (None, Some(quota)) => Some(quota as f64 / period.unwrap_or(100_000) as f64),
        (None, None) => None,
    };
    let pids_limit = typed::<i64>(&host, "PidsLimit")?.filter(|p| *p > 0);

    let security_opt: Vec<String> = typed(&host, "SecurityOpt")?.unwrap_or_default();
    if security_opt
        .iter()
        .any(|o| o.starts_with("seccomp=") && o["seccomp=".len()..].trim_start().starts_with('{'))
    {
        return Err(ApiError::unsupported(
            "a seccomp profile sent inline (give the service a profile path)",
        ));
    }
    // Docker's `key:value` spelling of the security options.
    let security_opt: Vec<String> = security_opt
        .into_iter()
        .map(|o| match o.split_once(':') {
            Some((key, value)) if !o.contains('=') => format!("{key}={value}"),
            _ => o,
        })
        .map(|o| {
            if o == "no-new-privileges=true" {
                "no-new-privileges".into()
            } else {
                o
            }
        })
        .chain(system_paths(&host)?)
        .collect();
    let security = SecurityOptions::from_flags(
        typed::<bool>(&host, "Privileged")?.unwrap_or(false),
        &typed::<Vec<String>>(&host, "CapAdd")?.unwrap_or_default(),
        &typed::<Vec<String>>(&host, "CapDrop")?.unwrap_or_default(),
        &security_opt,
    )?;
    let stop_signal = match body.stop_signal.as_str() {
        "" => None,
        text => Some(
            rpod_oci::signal::parse_signal(text)
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        ),
    };
    let stop_timeout = match body.stop_timeout {
        None => None,
        // Docker's "wait for the container however long it takes".
        Some(-1) => Some(u32::MAX),
        Some(t) if (0..=i64::from(u32::MAX)).contains(&t) => Some(t as u32),
        Some(t) => return Err(ApiError::bad_request(format!("invalid StopTimeout {t}"))),
    };
    let console_size = match typed::<[u32; 2]>(&host, "ConsoleSize")? {
        Some([h, w]) if h > 0 && w > 0 => Some(TerminalSize {
            height: h.min(u32::from(u16::MAX)) as u16,
            width: w.min(u32::from(u16::MAX)) as u16,
        }),
        _ => None,
    };
    let entrypoint = body.entrypoint.map(|e| {
        let words = e.into_vec();
        // `--entrypoint ""` clears the image's entrypoint.
        if words.iter().all(String::is_empty) {
            Vec::new()
        } else {
            words
        }
    });
    let domainname = body
        .rest
        .get("Domainname")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    let (env, unset_env) = docker_env(body.env.unwrap_or_default());
    Ok(CreateOptions {
        image: Some(body.image),
        rootfs: None,
        name,
        command: body.cmd.map(StrSlice::into_vec).unwrap_or_default(),
        entrypoint,
        env,
        unset_env,
        workdir: non_empty(body.working_dir),
        user: non_empty(body.user),
        hostname: non_empty(body.hostname),
        labels: body.labels.unwrap_or_default(),
        stop_signal,
        stop_timeout,
        memory,
        cpus,
        pids_limit,
        read_only: typed::<bool>(&host, "ReadonlyRootfs")?.unwrap_or(false),
        network,
        net,
        image_volumes: rpod_engine::ImageVolumes::Anonymous,
        isolation,
        resources,
        init: typed::<bool>(&host, "Init")?.unwrap_or(false),
        init_path: None,
        ip: None,
        mac_address: non_empty(body.mac_address),
        network_aliases: Vec::new(),
        // `docker run --runtime NAME`: a runtime of the service's (by name or path).
        runtime: typed::<String>(&host, "Runtime")?.filter(|r| !r.is_empty()),
        auto_remove: typed::<bool>(&host, "AutoRemove")?.unwrap_or(false),
        // Docker merges the container's check into the image's (a given interval with the
        // image's test, ...): the engine does, once it has the image. Checked here first.
        healthcheck: None,
        healthcheck_over_image: match body.rest.get("Healthcheck") {
            Some(config) if !rpod_engine::health::HealthCheck::api_disables(config) => {
                rpod_engine::health::HealthCheck::from_api(config)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(config.clone())
            }
            _ => None,
        },
        no_healthcheck: body
            .rest
            .get("Healthcheck")
            .is_some_and(rpod_engine::health::HealthCheck::api_disables),
        restart,
        log_to_file,
        log_driver_from_config: driver.is_none_or(str::is_empty),
        log_size_max: log_options.max_size,
        log_max_files: log_options.max_file,
        log_tag: log_options.tag,
        log_path: log_options.path,
        log_attributes: log_options.attributes,
        terminal: body.tty,
        stdin: body.open_stdin,
        security,
        console_size,
        mounts: {
            let mut mounts = host_mounts(&host)?;
            for path in body.volumes.iter().flat_map(|v| v.keys()) {
                if !mounts.iter().any(|m| &m.destination == path) {
                    mounts.push(rpod_engine::mounts::anonymous_volume(path, &[])?);
                }
            }
            mounts
        },
        volumes_from: typed::<Vec<String>>(&host, "VolumesFrom")?.unwrap_or_default(),
        cgroup_parent: typed::<String>(&host, "CgroupParent")?.filter(|p| !p.is_empty()),
        oom_score_adj: match typed::<i32>(&host, "OomScoreAdj")? {
            None | Some(0) => None,
            Some(adj) if (-1000..=1000).contains(&adj) => Some(adj),
            Some(adj) => {
                return Err(ApiError::bad_request(format!(
                    "invalid OomScoreAdj {adj}: from -1000 to 1000"
                )))
            }
        },
        domainname: non_empty(domainname),
        // `docker run --annotation` (API 1.43): the OCI spec's annotations.
        annotations: typed(&host, "Annotations")?.unwrap_or_default(),
        // As podman's service: a read-only container keeps a writable /tmp, /var/tmp, /run.
        read_only_tmpfs: true,
        // `docker run --cidfile FILE`: the client writes the ID into its own file; the
        // path is kept for inspect, as dockerd keeps it.
        cid_file: typed::<String>(&host, "ContainerIDFile")?
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ApiResult<CreateOptions> {
        let body: CreateBody = serde_json::from_str(json).unwrap();
        create_options(body, Some("web".into()))
    }

    /// A bind's `BindOptions`: `Propagation` and `NonRecursive` as words, `CreateMountpoint`
    /// makes a missing source (listed before the create), `ReadOnlyNonRecursive` and
    /// `ReadOnlyForceRecursive` (API 1.44's) say how much of a read-only bind is read-only.
    #[test]
    fn a_binds_options_are_taken_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("made/here");
        let json = format!(
            r#"{{"Image":"x","HostConfig":{{"Mounts":[{{"Type":"bind","Source":"{}","Target":"/m","ReadOnly":true,"BindOptions":{{"Propagation":"rshared","NonRecursive":true,"CreateMountpoint":true,"ReadOnlyNonRecursive":true}}}}]}}}}"#,
            missing.display()
        );
        let body: CreateBody = serde_json::from_str(&json).unwrap();
        assert_eq!(missing_bind_sources(&body).unwrap(), [missing]);
        let options = create_options(body, None).unwrap();
        let mount = &options.mounts[0];
        assert!(mount.read_only());
        assert_eq!(mount.propagation(), "rshared");
        assert!(
            mount.options.iter().any(|o| o == "bind"),
            "{:?}",
            mount.options
        );
        let without = json.replace(r#","CreateMountpoint":true"#, "");
        let body: CreateBody = serde_json::from_str(&without).unwrap();
        assert!(missing_bind_sources(&body).unwrap().is_empty());
        use rpod_engine::mounts::ReadOnlyDepth;
        assert_eq!(mount.read_only_depth, ReadOnlyDepth::TopOnly);
        let recursive = json.replace(r#""NonRecursive":true,"#, "");
        let depth = |json: &str| create_options(serde_json::from_str(json).unwrap(), None);
        let plain = recursive.replace(r#","ReadOnlyNonRecursive":true"#, "");
        assert_eq!(
            depth(&plain).unwrap().mounts[0].read_only_depth,
            ReadOnlyDepth::Recursive
        );
        let forced = recursive.replace("ReadOnlyNonRecursive", "ReadOnlyForceRecursive");
        assert_eq!(
            depth(&forced).unwrap().mounts[0].read_only_depth,
            ReadOnlyDepth::ForceRecursive
        );
        let both = recursive.replace(
            r#""ReadOnlyNonRecursive":true"#,
            r#""ReadOnlyNonRecursive":true,"ReadOnlyForceRecursive":true"#,
        );
        for (json, says) in [
            (
                json.replace("ReadOnlyNonRecursive", "ReadOnlyForceRecursive"),
                "needs a recursive bind",
            ),
            (both, "do not go together"),
            (
                recursive.replace(r#""ReadOnly":true"#, r#""ReadOnly":false"#),
                "are for a read-only mount",
            ),
        ] {
            let e = depth(&json).unwrap_err();
            assert!(e.message.contains(says), "{json}: {}", e.message);
        }
    }

    /// A tmpfs mount's `TmpfsOptions`: its size, mode and flags; another option refused.
    #[test]
    fn a_tmpfs_mounts_options_are_taken_or_refused() {
        let options = parse(
            r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":448,"Options":[["noexec"],["nr_inodes","100"]]}}]}}"#,
        )
        .unwrap();
        let words = &options.mounts[0].options;
        for word in ["size=1048576", "mode=700", "noexec", "nr_inodes=100"] {
            assert!(words.iter().any(|w| w == word), "{word}: {words:?}");
        }
        for (json, says) in [
            (
                r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"Options":[["bogus"]]}}]}}"#,
                "bogus",
            ),
            (
                r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"Huge":true}}]}}"#,
                "TmpfsOptions.Huge",
            ),
            (
                r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t","ClusterOptions":{"x":1},"Consistency":"cached"}]}}"#,
                "ClusterOptions",
            ),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.message.contains(says), "{json}: {}", e.message);
        }
    }

    /// The docker CLI's `--mount type=image,source=demo,target=/img,image-subpath=etc`:
    /// read-only, as Docker mounts images; `ImageOptions` of another kind is refused.
    #[test]
    fn an_image_mount_is_read_only_with_its_subpath() {
        let options = parse(
            r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"image","Source":"demo","Target":"/img","ImageOptions":{"Subpath":"etc"}}]}}"#,
        )
        .unwrap();
        let mount = &options.mounts[0];
        assert_eq!(mount.kind, rpod_engine::mounts::MountKind::Image);
        assert_eq!(mount.source, std::path::Path::new("demo"));
        assert!(mount.read_only());
        assert_eq!(mount.subpath.as_deref(), Some(std::path::Path::new("etc")));
        for json in [
            r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"bind","Source":"/tmp","Target":"/t","ImageOptions":{"Subpath":"etc"}}]}}"#,
            r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"image","Source":"demo","Target":"/i","ImageOptions":{"Other":1}}]}}"#,
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.message.contains("ImageOptions"), "{json}: {}", e.message);
        }
        let e = parse(r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"image","Target":"/i"}]}}"#)
            .unwrap_err();
        assert!(e.message.contains("source"), "{}", e.message);
    }

    #[test]
    fn what_the_docker_cli_sends_for_run_is_taken() {
        let options = parse(r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,"OpenStdin":true,"StdinOnce":true,"Env":null,"Cmd":["sh","-c","echo hi"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[40,120],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":67108864,"NanoCpus":1500000000,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"Devices":[],"DeviceCgroupRules":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":null,"Ulimits":[],"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}"#).unwrap();
        assert_eq!(options.image.as_deref(), Some("busybox"));
        assert_eq!(options.command, ["sh", "-c", "echo hi"]);
        assert!(options.terminal && options.stdin && options.auto_remove && options.log_to_file);
        assert_eq!(options.cid_file, None, "an empty ContainerIDFile");
        // `docker run --cidfile FILE`: the path only, for inspect (the client writes it).
        let with_file =
            parse(r#"{"Image":"x","HostConfig":{"ContainerIDFile":"/tmp/cid"}}"#).unwrap();
        assert_eq!(
            with_file.cid_file.as_deref(),
            Some(std::path::Path::new("/tmp/cid"))
        );
        assert!(
            options.security.unmask.is_empty(),
            "null system paths unmasked"
        );
        // `docker run --security-opt systempaths=unconfined`: both lists empty.
        let open =
            parse(r#"{"Image":"x","HostConfig":{"MaskedPaths":[],"ReadonlyPaths":[]}}"#).unwrap();
        assert!(
            open.security.masked_paths().is_empty() && open.security.readonly_paths().is_empty()
        );
        let masked_only = parse(r#"{"Image":"x","HostConfig":{"MaskedPaths":[]}}"#).unwrap();
        assert!(masked_only.security.masked_paths().is_empty());
        assert!(!masked_only.security.readonly_paths().is_empty());
        let err = parse(r#"{"Image":"x","HostConfig":{"MaskedPaths":["/proc/x"]}}"#).unwrap_err();
        assert_eq!(err.status, 400);
        // No driver named ("Type": ""): rpod.conf's is taken; a named one is the client's.
        assert!(options.log_driver_from_config);
        let none = parse(r#"{"Image":"x","HostConfig":{"LogConfig":{"Type":"none"}}}"#).unwrap();
        assert!(!none.log_driver_from_config && !none.log_to_file);
        let file =
            parse(r#"{"Image":"x","HostConfig":{"LogConfig":{"Type":"json-file"}}}"#).unwrap();
        assert!(!file.log_driver_from_config && file.log_to_file);
        assert_eq!(options.memory, Some(64 << 20));
        assert_eq!(options.cpus, Some(1.5));
        assert_eq!(
            options.console_size,
            Some(TerminalSize {
                height: 40,
                width: 120
            })
        );
        assert_eq!(options.name.as_deref(), Some("web"));
    }

    #[test]
    fn unsupported_settings_are_named_in_a_400() {
        for (json, named) in [
            (
                r#"{"Image":"x","HostConfig":{"Binds":["./a:/b"]}}"#,
                "absolute",
            ),
            (
                r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"npipe","Source":"v","Target":"/v"}]}}"#,
                "npipe",
            ),
            (
                r#"{"Image":"x","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"eighty"}]}}}"#,
                "HostConfig.PortBindings",
            ),
            (
                r#"{"Image":"x","Healthcheck":{"Test":["sh","true"]}}"#,
                "health check",
            ),
            (
                r#"{"Image":"x","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}"#,
                "restart policy",
            ),
            (
                r#"{"Image":"x","HostConfig":{"NetworkMode":"slirp4netns"}}"#,
                "network mode",
            ),
            (
                r#"{"Image":"x","HostConfig":{"LogConfig":{"Type":"syslog"}}}"#,
                "log driver",
            ),
            (
                r#"{"Image":"x","HostConfig":{"PidMode":"ns:/x"}}"#,
                "invalid --pid",
            ),
            (
                r#"{"Image":"x","HostConfig":{"Ulimits":[{"Name":"bogus","Soft":1,"Hard":1}]}}"#,
                "unknown limit",
            ),
            (
                r#"{"Image":"x","HostConfig":{"UsernsMode":"private"}}"#,
                "HostConfig.UsernsMode",
            ),
        ] {
            let err = parse(json).unwrap_err();
            assert_eq!(err.status, 400, "{json}");
            assert!(err.message.contains(named), "{json}: {}", err.message);
        }
        // `--userns host`: what rpod's containers have anyway.
        let host = parse(r#"{"Image":"x","HostConfig":{"UsernsMode":"host"}}"#).unwrap();
        assert!(host.id_mappings.is_none() && host.userns_auto.is_none());
    }

    #[test]
    fn a_negative_cpu_weight_is_refused() {
        let options = parse(r#"{"Image":"x","HostConfig":{"CpuShares":512}}"#).unwrap();
        assert_eq!(options.resources.cpu_shares, Some(512));
        let unset = parse(r#"{"Image":"x","HostConfig":{"CpuShares":0}}"#).unwrap();
        assert_eq!(unset.resources.cpu_shares, None);
        let err = parse(r#"{"Image":"x","HostConfig":{"CpuShares":-1}}"#).unwrap_err();
        assert_eq!(err.status, 400, "{}", err.message);
        assert!(err.message.contains("CpuShares"), "{}", err.message);
    }

    #[test]
    fn a_stop_timeout_of_minus_one_waits_for_ever() {
        let options = parse(r#"{"Image":"x","StopTimeout":-1}"#).unwrap();
        assert_eq!(options.stop_timeout, Some(u32::MAX));
        assert_eq!(
            parse(r#"{"Image":"x","StopTimeout":-2}"#)
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn oom_killer_device_rules_annotations_runtime_and_volume_driver_are_taken() {
        let options = parse(
            r#"{"Image":"x","HostConfig":{"OomKillDisable":true,"DeviceCgroupRules":["c 1:3 rwm","b 8:* r"],"Annotations":{"a":"b"},"Runtime":"crun","VolumeDriver":"local"}}"#,
        )
        .unwrap();
        assert!(options.resources.oom_kill_disable);
        let rules: Vec<String> = options
            .isolation
            .device_cgroup_rules
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(rules, ["c 1:3 rwm", "b 8:* r"]);
        assert_eq!(options.annotations["a"], "b");
        assert_eq!(options.runtime.as_deref(), Some("crun"));
        // Docker's defaults: the OOM killer on, the daemon's runtime.
        let plain =
            parse(r#"{"Image":"x","HostConfig":{"OomKillDisable":false,"Runtime":""}}"#).unwrap();
        assert!(!plain.resources.oom_kill_disable && plain.runtime.is_none());
        let err = parse(r#"{"Image":"x","HostConfig":{"VolumeDriver":"flocker"}}"#).unwrap_err();
        assert!(err.message.contains("\"flocker\""), "{}", err.message);
        let err =
            parse(r#"{"Image":"x","HostConfig":{"DeviceCgroupRules":["c 1:3"]}}"#).unwrap_err();
        assert_eq!(err.status, 400, "{}", err.message);
    }

    #[test]
    fn health_checks_are_taken() {
        let options = parse(
            r#"{"Image":"x","Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":2000000000,"Retries":5}}"#,
        )
        .unwrap();
        // Kept for the engine to merge into the image's check.
        let given = options.healthcheck_over_image.unwrap();
        assert_eq!(given["Interval"], 2_000_000_000u64);
        assert!(options.healthcheck.is_none() && !options.no_healthcheck);
        // `--no-healthcheck`: none, not even the image's.
        let none = parse(r#"{"Image":"x","Healthcheck":{"Test":["NONE"]}}"#).unwrap();
        assert!(none.healthcheck_over_image.is_none() && none.no_healthcheck);
        // Nothing said: the image's (the engine's to find).
        let unsaid = parse(r#"{"Image":"x"}"#).unwrap();
        assert!(unsaid.healthcheck_over_image.is_none() && !unsaid.no_healthcheck);
        // A broken test is refused before anything is made.
        let err = parse(r#"{"Image":"x","Healthcheck":{"Test":["sh"]}}"#).unwrap_err();
        assert_eq!(err.status, 400);
    }

    #[test]
    fn restart_policies_are_taken() {
        let options = parse(
            r#"{"Image":"x","HostConfig":{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":4}}}"#,
        )
        .unwrap();
        assert_eq!(options.restart.name(), "on-failure");
        assert_eq!(options.restart.max_retries, 4);
        let options =
            parse(r#"{"Image":"x","HostConfig":{"RestartPolicy":{"Name":"always"}}}"#).unwrap();
        assert_eq!(options.restart.name(), "always");
    }

    #[test]
    fn networks_ports_and_dns() {
        use rpod_engine::container::NetworkMode;
        let options = parse(r#"{"Image":"x","ExposedPorts":{"80/tcp":{},"53/udp":{}},"HostConfig":{"NetworkMode":"lab","PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]},"PublishAllPorts":true,"Dns":["192.0.2.1"],"DnsSearch":["example.com"],"DnsOptions":["ndots:2"],"ExtraHosts":["db:10.0.0.5"]},"NetworkingConfig":{"EndpointsConfig":{"lab":{"IPAMConfig":{"IPv4Address":"10.89.0.9"},"Aliases":["api"]}}}}"#).unwrap();
        assert_eq!(options.network, Some(NetworkMode::Bridge));
        assert_eq!(options.net.networks.len(), 1);
        let lab = &options.net.networks[0];
        assert_eq!(lab.name, "lab");
        assert_eq!(lab.ip, Some("10.89.0.9".parse().unwrap()));
        assert_eq!(lab.aliases, ["api"]);
        let ports: Vec<(u16, &str, &str, u16)> = options
            .net
            .ports
            .iter()
            .map(|p| {
                (
                    p.container_port,
                    p.protocol.as_str(),
                    p.host_ip.as_str(),
                    p.host_port,
                )
            })
            .collect();
        assert_eq!(ports, [(80, "tcp", "127.0.0.1", 8080), (53, "udp", "", 0)]);
        assert!(options.net.publish_all);
        assert_eq!(options.net.dns_servers, ["192.0.2.1"]);
        assert_eq!(options.net.dns_search, ["example.com"]);
        assert_eq!(options.net.dns_options, ["ndots:2"]);
        assert_eq!(options.net.add_hosts[0].names, ["db"]);
        // The CLI's default: the configured mode, with its all-empty endpoint.
        let options = parse(r#"{"Image":"x","HostConfig":{"NetworkMode":"default"},"NetworkingConfig":{"EndpointsConfig":{"default":{"Aliases":null}}}}"#).unwrap();
        assert_eq!(options.network, None);
        assert!(options.net.networks.is_empty());
        // Docker's `bridge` by its name, as docker-py and curl users send it: the default
        // network, with no settings of its own.
        let options = parse(r#"{"Image":"x","HostConfig":{"NetworkMode":"bridge"},"NetworkingConfig":{"EndpointsConfig":{"bridge":{}}}}"#).unwrap();
        assert_eq!(options.network, Some(NetworkMode::Bridge));
        assert!(options.net.networks.is_empty());
        let options =
            parse(r#"{"Image":"x","HostConfig":{"NetworkMode":"container:web"}}"#).unwrap();
        assert_eq!(options.network, Some(NetworkMode::Container("web".into())));
        for bad in [
            r#"{"Image":"x","HostConfig":{"NetworkMode":"bridge"},"NetworkingConfig":{"EndpointsConfig":{"bridge":{"IPAMConfig":{"IPv4Address":"10.89.0.7"}}}}}"#,
            r#"{"Image":"x","HostConfig":{"NetworkMode":"host"},"NetworkingConfig":{"EndpointsConfig":{"lab":{}}}}"#,
            r#"{"Image":"x","HostConfig":{"ExtraHosts":["nohost"]}}"#,
            r#"{"Image":"x","HostConfig":{"PortBindings":{"80/icmp":[{"HostPort":"1"}]}}}"#,
            r#"{"Image":"x","NetworkingConfig":{"EndpointsConfig":{"lab":{"Links":["a:b c"]}}}}"#,
            r#"{"Image":"x","HostConfig":{"Links":[":db"]}}"#,
            // More exposed ports than there are (each range is spelled out one port each).
            r#"{"Image":"x","ExposedPorts":{"1-65535/tcp":{},"1-65535/udp":{},"1-65535/sctp":{},"1-65535":{}}}"#,
        ] {
            assert_eq!(parse(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn namespaces_limits_and_init() {
        use rpod_engine::isolation::NamespaceMode;
        let options = parse(r#"{"Image":"x","HostConfig":{"Init":true,"PidMode":"host","IpcMode":"container:db","UTSMode":"","ShmSize":1048576,"Sysctls":{"net.ipv4.ip_forward":"1"},"Ulimits":[{"Name":"nofile","Soft":100,"Hard":200}],"Devices":[{"PathOnHost":"/dev/null","PathInContainer":"/dev/x","CgroupPermissions":"rw"}],"GroupAdd":["audio"]}}"#).unwrap();
        assert!(options.init);
        let iso = &options.isolation;
        assert_eq!(iso.pid, NamespaceMode::Host);
        assert_eq!(iso.ipc, NamespaceMode::Container("db".into()));
        assert_eq!(iso.uts, NamespaceMode::Private);
        assert_eq!(iso.shm_size, Some(1 << 20));
        assert_eq!(iso.sysctls["net.ipv4.ip_forward"], "1");
        assert_eq!((iso.ulimits[0].soft, iso.ulimits[0].hard), (100, 200));
        assert_eq!(iso.devices[0].permissions, "rw");
        assert_eq!(iso.group_add, ["audio"]);
    }

    #[test]
    fn anonymous_volumes_from_binds_mounts_and_volumes() {
        let options = parse(r#"{"Image":"x","Volumes":{"/v":{}},"HostConfig":{"Binds":["/b"],"Mounts":[{"Type":"volume","Target":"/m"}]}}"#).unwrap();
        let anonymous: Vec<&str> = options
            .mounts
            .iter()
            .filter(|m| m.anonymous)
            .map(|m| m.destination.as_str())
            .collect();
        assert_eq!(anonymous, ["/b", "/m", "/v"]);
    }

    #[test]
    fn binds_mounts_and_tmpfs_become_mounts() {
        let options = parse(r#"{"Image":"x","HostConfig":{"Binds":["/tmp:/host-tmp:ro"],"Mounts":[{"Type":"bind","Source":"/tmp","Target":"/m","ReadOnly":false,"BindOptions":{"Propagation":"rslave"}},{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":448}}],"Tmpfs":{"/run":"size=2m"}}}"#).unwrap();
        let summary: Vec<(String, Vec<String>)> = options
            .mounts
            .iter()
            .map(|m| (m.destination.clone(), m.options.clone()))
            .collect();
        assert_eq!(summary[0].0, "/host-tmp");
        assert_eq!(summary[0].1, ["rbind", "rprivate", "ro"]);
        assert_eq!(summary[1].1, ["rbind", "rslave"]);
        assert!(summary[2].1.contains(&"size=1048576".to_string()));
        assert!(summary[2].1.contains(&"mode=700".to_string()));
        assert_eq!(summary[3].0, "/run");
        // docker-py's nulls for what it was not given.
        let options = parse(r#"{"Image":"x","HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/cache","Source":null,"ReadOnly":null}]}}"#).unwrap();
        assert_eq!(options.mounts[0].destination, "/cache");
    }

    #[test]
    fn bad_values_are_400s() {
        for json in [
            r#"{"Image":""}"#,
            r#"{"Image":"x","StopSignal":"SIGNOPE"}"#,
            r#"{"Image":"x","HostConfig":{"Memory":"lots"}}"#,
            r#"{"Image":"x","HostConfig":{"Memory":-5}}"#,
            r#"{"Image":"x","HostConfig":{"NanoCpus":-1000}}"#,
            r#"{"Image":"x","HostConfig":{"MemoryReservation":-5}}"#,
            r#"{"Image":"x","HostConfig":{"CpuPeriod":-100000}}"#,
            r#"{"Image":"x","HostConfig":{"CpuQuota":-2}}"#,
            r#"{"Image":"x","HostConfig":{"Memory":104857600,"MemorySwap":-2}}"#,
            r#"{"Image":"x","StopTimeout":-5}"#,
            r#"{"Image":"x","HostConfig":{"Ulimits":[{"Name":"core","Soft":-5,"Hard":-5}]}}"#,
            r#"{"Image":"x","HostConfig":{"SecurityOpt":["seccomp={}"]}}"#,
        ] {
            assert_eq!(parse(json).unwrap_err().status, 400, "{json}");
        }
        // -1 lifts a quota or a swap limit: no limit, as 0.
        let options = parse(
            r#"{"Image":"x","HostConfig":{"CpuQuota":-1,"Memory":104857600,"MemorySwap":-1}}"#,
        )
        .unwrap();
        assert_eq!(options.cpus, None);
        assert_eq!(options.resources.memory_swap, Some(-1));
        let options = parse(
            r#"{"Image":"x","HostConfig":{"Ulimits":[{"Name":"core","Soft":-1,"Hard":-1}]}}"#,
        )
        .unwrap();
        assert_eq!(options.isolation.ulimits[0].soft, u64::MAX);
        // A string Cmd is one word; an empty entrypoint clears the image's.
        let options = parse(r#"{"Image":"x","Cmd":"top","Entrypoint":""}"#).unwrap();
        assert_eq!(options.command, ["top"]);
        assert_eq!(options.entrypoint, Some(vec![]));
    }

    #[test]
    fn endpoint_addresses_of_both_families() {
        let options = parse(r#"{"Image":"x","NetworkingConfig":{"EndpointsConfig":{"lab":{"IPAMConfig":{"IPv4Address":"10.89.0.9","IPv6Address":"fd89::9"}}}}}"#).unwrap();
        let lab = &options.net.networks[0];
        assert_eq!(lab.ip, Some("10.89.0.9".parse().unwrap()));
        assert_eq!(lab.ip6, Some("fd89::9".parse().unwrap()));
        // Each key takes its own family only.
        for body in [
            r#"{"Image":"x","NetworkingConfig":{"EndpointsConfig":{"lab":{"IPAMConfig":{"IPv6Address":"10.89.0.9"}}}}}"#,
            r#"{"Image":"x","NetworkingConfig":{"EndpointsConfig":{"lab":{"IPAMConfig":{"IPv4Address":"fd89::9"}}}}}"#,
        ] {
            assert!(parse(body).is_err(), "{body}");
        }
        // libpod's static_ips: one of each family.
        let mut join = NetworkJoin::default();
        set_static_ips(&mut join, &["fd89::4".into(), "10.89.0.4".into()]).unwrap();
        assert_eq!(join.static_ips().len(), 2);
        assert!(set_static_ips(&mut join, &["fd89::4".into(), "fd89::5".into()]).is_err());
        assert!(set_static_ips(&mut join, &["nonsense".into()]).is_err());
    }
}
