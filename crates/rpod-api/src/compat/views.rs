//! Docker's shapes of containers and images, built from the engine's records and views.
//! Go clients decode whole documents, so every field has the Docker schema's type.

use serde_json::{json, Map, Value};

use rpod_engine::container::{ContainerRecord, NetworkMode, Status};
use rpod_engine::image::ImageInfo;
use rpod_engine::views::ImageInspect;
use rpod_engine::Engine;

use crate::networks::DockerNetworkNames;

/// Docker's state names: libpod's configured and initialized containers are `created`,
/// and stopped ones `exited`.
pub fn docker_status(status: Status) -> &'static str {
    match status {
        Status::Configured | Status::Created => "created",
        Status::Running | Status::Stopping => "running",
        Status::Paused => "paused",
        Status::Stopped | Status::Exited => "exited",
        Status::Removing => "removing",
    }
}

/// Docker names a bridged container's mode after its first network.
fn network_mode(record: &ContainerRecord, names: &DockerNetworkNames) -> String {
    match &record.config.network {
        NetworkMode::Bridge => record
            .config
            .net
            .networks
            .first()
            .map(|n| names.shown(&n.name).to_string())
            .unwrap_or_else(|| "bridge".into()),
        other => other.as_string(),
    }
}

/// Docker's `NetworkSettings` (inspect), from the engine's view; the ports only while
/// they are bound (`ports_bound`).
fn network_settings(
    settings: &rpod_engine::views::NetworkSettings,
    ports_bound: bool,
    names: &DockerNetworkNames,
) -> Value {
    let networks: serde_json::Map<String, Value> = settings
        .networks
        .iter()
        .map(|(name, e)| {
            (
                names.shown(name).to_string(),
                with_addresses(
                    json!({
                        "IPAMConfig": null,
                        "Links": null,
                        "Aliases": e.aliases,
                        "NetworkID": e.network_id,
                        "EndpointID": e.endpoint_id,
                        "DriverOpts": null,
                    }),
                    &e.addresses,
                ),
            )
        })
        .collect();
    // Docker names the address a port listens on when none was given (every one of the
    // host's: 0.0.0.0), as its listing's `IP` does; docker-compose prints it.
    let mut ports = if ports_bound {
        settings.ports.clone()
    } else {
        Default::default()
    };
    for binding in ports.values_mut().flatten().flatten() {
        if binding.host_ip.is_empty() {
            binding.host_ip = "0.0.0.0".into();
        }
    }
    with_addresses(
        json!({
            "Bridge": "",
            "SandboxID": "",
            "EndpointID": settings.endpoint_id,
            "HairpinMode": false,
            "LinkLocalIPv6Address": settings.link_local_ipv6_address,
            "LinkLocalIPv6PrefixLen": settings.link_local_ipv6_prefix_len,
            "SecondaryIPAddresses": null,
            "SecondaryIPv6Addresses": null,
            "Ports": ports,
            "SandboxKey": settings.sandbox_key,
            "Networks": networks,
        }),
        &settings.addresses,
    )
}

/// `object` with the address fields (Docker's names) added.
fn with_addresses(mut object: Value, addresses: &rpod_engine::views::EndpointAddresses) -> Value {
    if let (Some(fields), Ok(Value::Object(more))) =
        (object.as_object_mut(), serde_json::to_value(addresses))
    {
        fields.extend(more);
    }
    object
}

/// Whether Docker would show the container's published ports: only while it runs (they
/// are bound then; a stopped container lists none, in `docker ps -a` and inspect alike).
fn ports_bound(record: &ContainerRecord) -> bool {
    record.state.status.is_running_or_paused()
}

/// Docker's `Port`s of a container listing.
fn summary_ports(record: &ContainerRecord) -> Value {
    if !ports_bound(record) {
        return json!([]);
    }
    let published = rpod_engine::network::ports::expand(&record.config.net.ports);
    let mut ports: Vec<Value> = published
        .iter()
        .map(|(private, protocol, ip, public)| {
            json!({ "IP": ip, "PrivatePort": private, "PublicPort": public, "Type": protocol })
        })
        .collect();
    // Exposed and not published: the container's side alone, as Docker lists them.
    let published: std::collections::HashSet<String> = published
        .iter()
        .map(|(port, protocol, _, _)| format!("{port}/{protocol}"))
        .collect();
    for key in record
        .config
        .net
        .exposed
        .iter()
        .filter(|k| !published.contains(*k))
    {
        if let Some((Ok(port), protocol)) = key
            .split_once('/')
            .map(|(port, protocol)| (port.parse::<u16>(), protocol))
        {
            ports.push(json!({ "PrivatePort": port, "Type": protocol }));
        }
    }
    json!(ports)
}

/// A time as Docker's JSON has it (RFC 3339 with nanoseconds, UTC).
fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

/// `GET /containers/{id}/json`.
pub fn container_inspect(
    engine: &Engine,
    record: &ContainerRecord,
    exec_ids: Vec<String>,
) -> crate::error::ApiResult<Value> {
    let base = engine.inspect_view(record, Vec::new())?;
    let names = DockerNetworkNames::of(engine);
    let c = &record.config;
    let iso = &c.isolation;
    let s = &record.state;
    let console = c
        .console_size
        .map(|t| json!([t.height, t.width]))
        .unwrap_or(json!([0, 0]));
    let mut state = json!({
        "Status": docker_status(s.status),
        "Running": base.state.running,
        "Paused": base.state.paused,
        "Restarting": false,
        "OOMKilled": s.oom_killed,
        "Dead": false,
        "Pid": s.pid,
        "ExitCode": s.exit_code.unwrap_or(0),
        "Error": s.error,
        "StartedAt": time(s.started_at),
        "FinishedAt": time(s.finished_at),
    });
    // Docker's `State.Health`, for a container with a check (its verdicts, once run).
    if let (Some(health), Some(fields)) = (&base.state.health, state.as_object_mut()) {
        fields.insert("Health".into(), json!(health));
    }
    let mut host_config = json!({
        "Binds": if base.host_config.binds.is_empty() {
            Value::Null
        } else {
            json!(base.host_config.binds)
        },
        "ContainerIDFile": base.host_config.container_id_file,
        // Docker's clients read logs only from drivers they know to keep them
        // (docker-py's `run` checks for json-file); rpod's log file answers the logs
        // API as Docker's json-file does.
        "LogConfig": { "Type": if c.log_to_file { "json-file" } else { "none" }, "Config": log_options(c) },
        "NetworkMode": network_mode(record, &names),
        "PortBindings": base.host_config.port_bindings,
        "RestartPolicy": {
            "Name": match c.restart.name() { "" => "no", name => name },
            "MaximumRetryCount": c.restart.max_retries,
        },
        "AutoRemove": c.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": base.host_config.volumes_from,
        "ConsoleSize": console,
        "CapAdd": base.host_config.cap_add,
        "CapDrop": base.host_config.cap_drop,
        "CgroupnsMode": iso.cgroup.as_string(),
        "Dns": base.host_config.dns,
        "DnsOptions": base.host_config.dns_options,
        "DnsSearch": base.host_config.dns_search,
        "ExtraHosts": base.host_config.extra_hosts,
        "GroupAdd": if iso.group_add.is_empty() { json!(null) } else { json!(iso.group_add) },
        "IpcMode": iso.ipc.as_string(),
        "Cgroup": "",
        "Links": links(engine, record),
        "OomScoreAdj": base.host_config.oom_score_adj,
        "PidMode": docker_namespace(&iso.pid),
        "Privileged": base.host_config.privileged,
        "PublishAllPorts": base.host_config.publish_all_ports,
        "ReadonlyRootfs": c.read_only,
        "SecurityOpt": base.host_config.security_opt,
        "UTSMode": docker_namespace(&iso.uts),
        "UsernsMode": "",
        "ShmSize": base.host_config.shm_size,
        "Runtime": c.runtime,
        "Isolation": "",
        "CpuShares": base.host_config.cpu_shares,
        "Memory": c.memory.unwrap_or(0),
        "NanoCpus": base.host_config.nano_cpus,
        "CgroupParent": c.cgroup_parent.clone().unwrap_or_default(),
        "BlkioWeightDevice": base.host_config.blkio_weight_device,
        "BlkioDeviceReadBps": base.host_config.blkio_device_read_bps,
        "BlkioDeviceWriteBps": base.host_config.blkio_device_write_bps,
        "BlkioDeviceReadIOps": base.host_config.blkio_device_read_iops,
        "BlkioDeviceWriteIOps": base.host_config.blkio_device_write_iops,
        "CpuRealtimePeriod": base.host_config.cpu_realtime_period,
        "CpuRealtimeRuntime": base.host_config.cpu_realtime_runtime,
        "BlkioWeight": base.host_config.blkio_weight,
        "CpuPeriod": base.host_config.cpu_period,
        "CpusetCpus": base.host_config.cpuset_cpus,
        "CpusetMems": base.host_config.cpuset_mems,
        "CpuQuota": base.host_config.cpu_quota,
        "Devices": base.host_config.devices,
        "DeviceCgroupRules": if iso.device_cgroup_rules.is_empty() {
            Value::Null
        } else {
            iso.device_cgroup_rules.iter().map(ToString::to_string).collect()
        },
        // GPUs (`--gpus`) are refused at create.
        "DeviceRequests": null,
        "MemoryReservation": base.host_config.memory_reservation,
        "MemorySwap": base.host_config.memory_swap,
        "MemorySwappiness": c.resources.memory_swappiness,
        "OomKillDisable": c.resources.oom_kill_disable,
        "PidsLimit": c.pids_limit.unwrap_or(0),
        // Windows' and legacy limits, never set here: zero as Docker shows them unset.
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "KernelMemory": 0,
        "KernelMemoryTCP": 0,
        // null: the runtime's defaults, less what --security-opt unmask= opens.
        "MaskedPaths": null,
        "ReadonlyPaths": null,
        "Ulimits": iso.ulimits.iter().map(|u| json!({
            // Docker's short names (`nofile`).
            "Name": u.name.trim_start_matches("RLIMIT_").to_ascii_lowercase(),
            "Soft": u.soft,
            "Hard": u.hard,
        })).collect::<Vec<_>>(),
    });
    // Docker leaves these out when unset.
    if let Some(fields) = host_config.as_object_mut() {
        if iso.init.is_some() {
            fields.insert("Init".into(), json!(true));
        }
        if !iso.sysctls.is_empty() {
            fields.insert("Sysctls".into(), json!(iso.sysctls));
        }
        if !base.host_config.tmpfs.is_empty() {
            fields.insert("Tmpfs".into(), json!(base.host_config.tmpfs));
        }
        if !c.annotations.is_empty() {
            fields.insert("Annotations".into(), json!(c.annotations));
        }
    }
    Ok(json!({
        "Id": c.id,
        "Created": time(Some(c.created)),
        "Path": base.path,
        "Args": base.args,
        "State": state,
        "Image": if c.image_id.is_empty() { String::new() } else { format!("sha256:{}", c.image_id) },
        "ResolvConfPath": base.resolv_conf_path,
        "HostnamePath": base.hostname_path,
        "HostsPath": base.hosts_path,
        "LogPath": base.host_config.log_config.path,
        "Name": format!("/{}", c.name),
        "RestartCount": s.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": if exec_ids.is_empty() { Value::Null } else { json!(exec_ids) },
        "HostConfig": host_config,
        "GraphDriver": base.graph_driver,
        "Mounts": mount_points(record),
        "Config": {
            "Hostname": c.hostname,
            "Domainname": c.domainname.clone().unwrap_or_default(),
            "User": c.user,
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "Tty": c.terminal,
            "OpenStdin": c.stdin,
            "StdinOnce": false,
            "Env": base.config.env,
            "Cmd": base.config.cmd,
            "Image": c.image_name,
            "Volumes": null,
            "WorkingDir": c.workdir,
            "Entrypoint": entrypoint(record),
            "OnBuild": null,
            "Healthcheck": base.config.healthcheck,
            "Labels": c.labels,
            "StopSignal": base.config.stop_signal,
            // (Docker's -1, "however long it takes", is kept as the longest wait.)
            "StopTimeout": match c.stop_timeout { u32::MAX => -1, t => i64::from(t) },
            "ExposedPorts": if c.net.exposed.is_empty() {
                Value::Null
            } else {
                c.net.exposed.iter().map(|key| (key.clone(), json!({}))).collect::<Map<String, Value>>().into()
            },
        },
        "NetworkSettings": network_settings(&base.network_settings, ports_bound(record), &names),
    }))
}

/// Docker's `HostConfig.LogConfig.Config`: the log's options as `--log-opt` gives them
/// (the size in bytes).
fn log_options(c: &rpod_engine::container::ContainerConfig) -> Value {
    let options = rpod_engine::logs::LogOptions {
        max_size: c.log_size_max,
        max_file: c.log_max_files,
        tag: c.log_tag.clone(),
        path: c.log_path.clone(),
        attributes: c.log_attributes.clone(),
    };
    json!(options.pairs())
}

/// Docker's `HostConfig.Links`: `/LINKED:/THIS/ALIAS` (null without links); a linked
/// container that is gone shows by its ID.
fn links(engine: &Engine, record: &ContainerRecord) -> Value {
    let links = &record.config.net.links;
    if links.is_empty() {
        return Value::Null;
    }
    let texts: Vec<String> = links
        .iter()
        .map(|link| {
            let target = engine
                .lookup(&link.container)
                .map(|t| t.config.name)
                .unwrap_or_else(|_| link.container.clone());
            format!("/{target}:/{}/{}", record.config.name, link.alias)
        })
        .collect();
    json!(texts)
}

/// A PID or UTS namespace mode as Docker shows it: empty for the container's own.
fn docker_namespace(mode: &rpod_engine::isolation::NamespaceMode) -> String {
    match mode {
        rpod_engine::isolation::NamespaceMode::Private => String::new(),
        other => other.as_string(),
    }
}

/// Docker's `MountPoint`s of a container.
fn mount_points(record: &ContainerRecord) -> Value {
    let points: Vec<Value> = record
        .config
        .mounts
        .iter()
        .map(|m| {
            let view = rpod_engine::views::InspectMount::new(m);
            json!({
                "Type": view.kind,
                "Name": view.name,
                "Source": view.source,
                "Destination": view.destination,
                "Driver": if view.kind == "volume" { "local" } else { "" },
                "Mode": if view.rw { "" } else { "ro" },
                "RW": view.rw,
                "Propagation": view.propagation,
            })
        })
        .collect();
    json!(points)
}

/// The entrypoint as Docker has it: a list, or null when there is none.
fn entrypoint(record: &ContainerRecord) -> Value {
    let c = &record.config;
    let words = &c.args[..c.entrypoint_len.min(c.args.len())];
    if words.is_empty() {
        Value::Null
    } else {
        json!(words)
    }
}

/// One entry of `GET /containers/json`.
pub fn container_summary(record: &ContainerRecord, names: &DockerNetworkNames) -> Value {
    let c = &record.config;
    json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image_name,
        "ImageID": if c.image_id.is_empty() { String::new() } else { format!("sha256:{}", c.image_id) },
        "Command": c.args.join(" "),
        "Created": c.created.timestamp(),
        "Ports": summary_ports(record),
        "Labels": c.labels,
        "State": docker_status(record.state.status),
        "Status": rpod_engine::human::container_status(record),
        "HostConfig": { "NetworkMode": network_mode(record, names) },
        "NetworkSettings": {
            "Networks": c.net.networks.iter().map(|n| (names.shown(&n.name).to_string(), json!({"NetworkID": n.name}))).collect::<serde_json::Map<String, Value>>()
        },
        "Mounts": mount_points(record),
    })
}

/// One entry of `GET /images/json`.
/// The image it was committed on, as Docker names it (`sha256:...`), or empty.
fn docker_parent(info: &ImageInfo) -> String {
    info.record
        .parent
        .as_ref()
        .map_or_else(String::new, |parent| format!("sha256:{parent}"))
}

pub fn image_summary(info: &ImageInfo) -> Value {
    let created = info.record.created.unwrap_or(info.record.added);
    let labels = info.labels();
    json!({
        "Id": format!("sha256:{}", info.record.id),
        "ParentId": docker_parent(info),
        "RepoTags": info.names,
        "RepoDigests": info.repo_digests(),
        "Created": created.timestamp(),
        "Size": info.record.size,
        "SharedSize": -1,
        "VirtualSize": info.record.size,
        "Labels": labels,
        "Containers": -1,
    })
}

/// `GET /images/{name}/json`.
pub fn image_inspect(roots: &rpod_engine::paths::Roots, info: &ImageInfo) -> Value {
    let base = ImageInspect::new(roots, info);
    let mut config = base.config;
    // Docker shows its own config fields, which the OCI config lacks, within `Config`.
    if let Some(fields) = config.as_object_mut() {
        let docker = &info.docker;
        if let Some(check) = &docker.healthcheck {
            fields.insert("Healthcheck".into(), check.clone());
        }
        if !docker.on_build.is_empty() {
            fields.insert("OnBuild".into(), json!(docker.on_build));
        }
        if !docker.shell.is_empty() {
            fields.insert("Shell".into(), json!(docker.shell));
        }
    }
    let mut inspect = json!({
        "Id": format!("sha256:{}", info.record.id),
        "RepoTags": base.repo_tags,
        "RepoDigests": base.repo_digests,
        "Parent": docker_parent(info),
        "Comment": base.comment,
        "Created": time(base.created),
        "DockerVersion": "",
        "Author": base.author,
        // The API before 1.45 has the container a classic build committed; rpod keeps
        // none, and shows what Docker shows for an image that none made (BuildKit's):
        // empty. docker-compose 1.x reads its `Volumes` when it recreates a container.
        "Container": "",
        "ContainerConfig": {
            "Hostname": "", "Domainname": "", "User": "",
            "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
            "Tty": false, "OpenStdin": false, "StdinOnce": false,
            "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
            "Entrypoint": null, "OnBuild": null, "Labels": null,
        },
        "Config": config,
        "Architecture": base.architecture,
        "Os": base.os,
        "Size": base.size,
        "VirtualSize": base.size,
        "GraphDriver": base.graph_driver,
        "RootFS": { "Type": "layers", "Layers": base.root_fs.layers },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
    });
    // Docker's, left out when the config names none (`build --os-version`).
    if let Some(version) = info.config.os_version() {
        inspect["OsVersion"] = json!(version);
    }
    inspect
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpod_states_map_to_dockers() {
        assert_eq!(docker_status(Status::Configured), "created");
        assert_eq!(docker_status(Status::Created), "created");
        assert_eq!(docker_status(Status::Stopped), "exited");
        assert_eq!(docker_status(Status::Exited), "exited");
        assert_eq!(docker_status(Status::Paused), "paused");
    }
}
