//! `generate spec`: a container's create options written as podman's SpecGenerator, and a
//! pod's as its PodSpecGenerator, with the fields `create.rs` and `pods.rs` read back: the
//! JSON, posted to `/libpod/containers/create` (or `/libpod/pods/create`), makes the same
//! container (pod) again. What the JSON cannot say is found by reading it back and
//! comparing, field by field, with what was written, so that no setting is lost unsaid.

use serde_json::{json, Map, Value};

use rpod_engine::container::NetworkMode;
use rpod_engine::isolation::NamespaceMode;
use rpod_engine::mounts::{MountKind, MountSpec};
use rpod_engine::resources::LimitChanges;
use rpod_engine::{CreateOptions, PodOptions};

/// A namespace as a SpecGenerator's `{"nsmode", "value"}`.
fn namespace(mode: &NamespaceMode) -> Value {
    match mode {
        NamespaceMode::Container(id) => json!({"nsmode": "container", "value": id}),
        other => json!({"nsmode": other.as_string()}),
    }
}

/// A mount's words as `--volume` or `--mount` would give them (the create's own options,
/// read back by `mounts::bind` and `mounts::named_volume`); a volume's subpath is a field
/// of its own, and a bind mount's none a spec has (told as lost).
fn mount_words(mount: &MountSpec) -> Vec<String> {
    let mut words: Vec<String> = mount
        .options
        .iter()
        .filter(|o| !matches!(o.as_str(), "rbind" | "bind"))
        // An overlay mount takes no propagation word: its default is the overlay's own.
        .filter(|o| mount.overlay.is_none() || o.as_str() != "rprivate")
        .cloned()
        .collect();
    if mount.chown {
        words.push("U".into());
    }
    if mount.idmap {
        words.push("idmap".into());
    }
    if mount.skips_copy_up() {
        words.push("nocopy".into());
    }
    if let Some(layers) = &mount.overlay {
        words.extend(layers.words());
    }
    words
}

/// The network fields a container's and a pod's SpecGenerators share.
fn network_fields(options: &CreateOptions, spec: &mut Map<String, Value>) {
    let netns = match &options.network {
        None => None,
        Some(NetworkMode::Bridge) => Some(json!({"nsmode": "bridge"})),
        Some(NetworkMode::None) => Some(json!({"nsmode": "none"})),
        Some(NetworkMode::Host) => Some(json!({"nsmode": "host"})),
        Some(NetworkMode::Container(id)) => Some(json!({"nsmode": "container", "value": id})),
        Some(NetworkMode::Path(path)) => Some(json!({"nsmode": "path", "value": path})),
    };
    if let Some(netns) = netns {
        spec.insert("netns".into(), netns);
    }
    let net = &options.net;
    // `--ip`, `--ip6`, `--mac-address` and `--network-alias` on the default network: as
    // podman-remote sends them, under the name `default`.
    let default_network = rpod_engine::container::NetworkJoin {
        name: "default".into(),
        aliases: options.network_aliases.clone(),
        ip: options.ip,
        ip6: options.ip6,
        mac: options.mac_address.clone(),
        interface_name: None,
    };
    let default_set = options.ip.is_some()
        || options.ip6.is_some()
        || options.mac_address.is_some()
        || !options.network_aliases.is_empty();
    let networks = if net.networks.is_empty() && default_set {
        std::slice::from_ref(&default_network)
    } else {
        net.networks.as_slice()
    };
    if !networks.is_empty() {
        let networks: Map<String, Value> = networks
            .iter()
            .map(|join| {
                let mut entry = Map::new();
                if !join.aliases.is_empty() {
                    entry.insert("aliases".into(), json!(join.aliases));
                }
                let ips: Vec<String> = join.static_ips().iter().map(|ip| ip.to_string()).collect();
                if !ips.is_empty() {
                    entry.insert("static_ips".into(), json!(ips));
                }
                if let Some(mac) = &join.mac {
                    entry.insert("static_mac".into(), json!(mac));
                }
                if let Some(interface) = &join.interface_name {
                    entry.insert("interface_name".into(), json!(interface));
                }
                (join.name.clone(), Value::Object(entry))
            })
            .collect();
        spec.insert("Networks".into(), Value::Object(networks));
    }
    if !net.ports.is_empty() {
        let ports: Vec<Value> = net
            .ports
            .iter()
            .map(|p| {
                json!({
                    "host_ip": p.host_ip,
                    "container_port": p.container_port,
                    "host_port": p.host_port,
                    "range": p.range,
                    "protocol": p.protocol,
                })
            })
            .collect();
        spec.insert("portmappings".into(), json!(ports));
    }
    if !net.exposed.is_empty() {
        // podman's `expose`: each port with its protocols (`tcp,udp`).
        let mut expose: Map<String, Value> = Map::new();
        for key in &net.exposed {
            let (port, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
            let entry = expose.entry(port).or_insert_with(|| json!(""));
            let joined = match entry.as_str() {
                Some("") | None => protocol.to_string(),
                Some(before) => format!("{before},{protocol}"),
            };
            *entry = json!(joined);
        }
        spec.insert("expose".into(), Value::Object(expose));
    }
    for (key, list) in [
        ("dns_server", &net.dns_servers),
        ("dns_search", &net.dns_search),
        ("dns_option", &net.dns_options),
    ] {
        if !list.is_empty() {
            spec.insert(key.into(), json!(list));
        }
    }
    if !net.add_hosts.is_empty() {
        let hosts: Vec<String> = net
            .add_hosts
            .iter()
            .map(|h| format!("{}:{}", h.names.join(";"), h.ip))
            .collect();
        spec.insert("hostadd".into(), json!(hosts));
    }
    if let Some(mappings) = &options.id_mappings {
        let ranges = |list: &[rpod_engine::userns::IdRange]| -> Vec<Value> {
            list.iter()
                .map(|r| json!({"container_id": r.container, "host_id": r.host, "size": r.size}))
                .collect()
        };
        spec.insert(
            "idmappings".into(),
            json!({"UIDMap": ranges(&mappings.uids), "GIDMap": ranges(&mappings.gids)}),
        );
        spec.insert("userns".into(), json!({"nsmode": "private"}));
    } else if let Some(auto) = &options.userns_auto {
        spec.insert(
            "idmappings".into(),
            json!({"AutoUserNs": true, "AutoUserNsOpts": {"Size": auto.size}}),
        );
        spec.insert("userns".into(), json!({"nsmode": "auto"}));
    }
}

/// A container's (or pod's) mounts as a spec's `mounts` (binds, tmpfs), `volumes` (named
/// and anonymous) and `volumes_from`.
fn mount_fields(options: &CreateOptions, put: &mut dyn FnMut(&str, Value)) {
    let (mut mounts, mut volumes, mut images) = (Vec::new(), Vec::new(), Vec::new());
    let mut overlays = Vec::new();
    for mount in &options.mounts {
        let words = mount_words(mount);
        let volume = |name: &str| {
            let mut words = words.clone();
            words.extend(rpod_engine::mounts::new_volume_words(mount));
            let mut volume = json!({
                "Name": name, "Dest": mount.destination, "Options": words,
                "IsAnonymous": name.is_empty(),
            });
            if let Some(subpath) = &mount.subpath {
                volume["SubPath"] = json!(subpath);
            }
            volume
        };
        match (&mount.kind, &mount.volume) {
            (_, Some(name)) if !mount.anonymous && !name.is_empty() => volumes.push(volume(name)),
            (_, _) if mount.anonymous || mount.volume.is_some() => volumes.push(volume("")),
            (MountKind::Tmpfs, _) => mounts.push(json!({
                "destination": mount.destination, "type": "tmpfs", "source": "tmpfs",
                "options": words,
            })),
            (MountKind::Devpts, _) => mounts.push(json!({
                "destination": mount.destination, "type": "devpts", "source": "devpts",
                "options": words,
            })),
            (MountKind::Image, _) => {
                let mut image = json!({
                    "Source": mount.source, "Destination": mount.destination,
                    "ReadWrite": !mount.read_only(),
                });
                if let Some(subpath) = &mount.subpath {
                    image["subPath"] = json!(subpath);
                }
                images.push(image);
            }
            // podman-remote's `-v DIR:DST:O`.
            _ if mount.overlay.is_some() => overlays.push(json!({
                "destination": mount.destination, "source": mount.source, "options": words,
            })),
            _ => mounts.push(json!({
                "destination": mount.destination, "type": "bind",
                "source": mount.source, "options": words,
            })),
        }
    }
    if !overlays.is_empty() {
        put("overlay_volumes", json!(overlays));
    }
    if !mounts.is_empty() {
        put("mounts", json!(mounts));
    }
    if !volumes.is_empty() {
        put("volumes", json!(volumes));
    }
    if !images.is_empty() {
        put("image_volumes", json!(images));
    }
    if !options.volumes_from.is_empty() {
        put("volumes_from", json!(options.volumes_from));
    }
}

/// The `/dev/shm` size and sysctls as a spec's `shm_size` and `sysctl`.
fn kernel_fields(isolation: &rpod_engine::isolation::Isolation, put: &mut dyn FnMut(&str, Value)) {
    if let Some(size) = isolation.shm_size {
        put("shm_size", json!(size));
    }
    if !isolation.sysctls.is_empty() {
        put("sysctl", json!(isolation.sysctls));
    }
}

/// Per-device limits as a spec's throttle and weight maps (by the device's path): read and
/// write bytes, read and write operations per second.
fn device_limit_fields(
    throttles: [&[rpod_engine::resources::Throttle]; 4],
    weights: &[rpod_engine::resources::WeightDevice],
    put: &mut dyn FnMut(&str, Value),
) {
    let keys = [
        "throttleReadBpsDevice",
        "throttleWriteBpsDevice",
        "throttleReadIOPSDevice",
        "throttleWriteIOPSDevice",
    ];
    for (key, throttles) in keys.into_iter().zip(throttles) {
        if !throttles.is_empty() {
            let map: Map<String, Value> = throttles
                .iter()
                .map(|t| (t.device.display().to_string(), json!({"rate": t.rate})))
                .collect();
            put(key, Value::Object(map));
        }
    }
    if !weights.is_empty() {
        let map: Map<String, Value> = weights
            .iter()
            .map(|w| (w.device.display().to_string(), json!({"weight": w.weight})))
            .collect();
        put("weightDevice", Value::Object(map));
    }
}

/// A container's create options as podman's SpecGenerator.
pub fn container_spec(options: &CreateOptions) -> Value {
    let mut spec = Map::new();
    let mut put = |key: &str, value: Value| {
        spec.insert(key.to_string(), value);
    };
    if let Some(name) = &options.name {
        put("name", json!(name));
    }
    if let Some(pod) = &options.pod {
        put("pod", json!(pod));
    }
    if let Some(kind) = options.init_container {
        put("init_container_type", json!(kind.as_str()));
    }
    if let Some(image) = &options.image {
        put("image", json!(image));
    }
    if !options.command.is_empty() {
        put("command", json!(options.command));
    }
    if let Some(entrypoint) = &options.entrypoint {
        put("entrypoint", json!(entrypoint));
    }
    let env: Map<String, Value> = options
        .env
        .iter()
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    if !env.is_empty() {
        put("env", Value::Object(env));
    }
    for (key, set) in [
        ("terminal", options.terminal),
        ("stdin", options.stdin),
        ("remove", options.auto_remove),
        ("privileged", options.security.privileged),
        ("no_new_privileges", options.security.no_new_privileges),
        ("read_only_filesystem", options.read_only),
        ("init", options.init),
        ("httpproxy", options.http_proxy),
        ("unsetenvall", options.unset_env_all),
    ] {
        if set {
            put(key, json!(true));
        }
    }
    if options.restart.is_set() {
        put("restart_policy", json!(options.restart.name()));
        if options.restart.max_retries > 0 {
            put("restart_tries", json!(options.restart.max_retries));
        }
    }
    if let Some(check) = &options.healthcheck {
        let mut config = check.to_api();
        if check.interval_secs == 0 {
            // `--health-interval disable`: podman's 0.
            config["Interval"] = json!(0);
        }
        put("healthconfig", config);
        if let Some(startup) = &check.startup {
            put("startupHealthConfig", startup.to_api());
        }
        put(
            "health_check_on_failure_action",
            json!(on_failure_number(check.on_failure)),
        );
    } else if options.no_healthcheck {
        put("healthconfig", json!({"Test": ["NONE"]}));
    }
    if options.no_passwd_entries {
        put("manage_password", json!(false));
    }
    if !options.create_command.is_empty() {
        put("containerCreateCommand", json!(options.create_command));
    }
    if !options.requires.is_empty() {
        put("dependencyContainers", json!(options.requires));
    }
    if let Some(domain) = &options.personality {
        put("personality", json!({"domain": domain}));
    }
    put(
        "systemd",
        json!(match options.systemd {
            rpod_engine::systemd_mode::SystemdMode::True => "true",
            rpod_engine::systemd_mode::SystemdMode::False => "false",
            rpod_engine::systemd_mode::SystemdMode::Always => "always",
        }),
    );
    if options.no_cgroups {
        put("cgroups_mode", json!("disabled"));
    }
    if options.workdir.is_some() && !options.workdir_must_exist {
        put("create_working_dir", json!(true));
    }
    for (key, value) in [
        ("passwd_entry", &options.passwd_entry),
        ("work_dir", &options.workdir),
        ("user", &options.user),
        ("hostname", &options.hostname),
        ("oci_runtime", &options.runtime),
        ("cgroup_parent", &options.cgroup_parent),
    ] {
        if let Some(value) = value {
            put(key, json!(value));
        }
    }
    if !options.host_users.is_empty() {
        put("hostusers", json!(options.host_users));
    }
    if let Some(tz) = &options.time_zone {
        put("timezone", json!(tz));
    }
    if !options.chroot_dirs.is_empty() {
        put("chroot_directories", json!(options.chroot_dirs));
    }
    if !options.labels.is_empty() {
        put("labels", json!(options.labels));
    }
    if !options.annotations.is_empty() {
        put("annotations", json!(options.annotations));
    }
    // `--secret`s: files as podman's `secrets`, variables as its `secret_env`.
    let files: Vec<Value> = options
        .secrets
        .iter()
        .filter(|s| !s.env)
        .map(|s| {
            json!({"Source": s.name, "Target": s.target, "UID": s.uid, "GID": s.gid, "Mode": s.mode})
        })
        .collect();
    if !files.is_empty() {
        put("secrets", json!(files));
    }
    let variables: Map<String, Value> = options
        .secrets
        .iter()
        .filter(|s| s.env)
        .map(|s| (s.target.clone(), json!(s.name)))
        .collect();
    if !variables.is_empty() {
        put("secret_env", Value::Object(variables));
    }
    if let Some(adj) = options.oom_score_adj {
        put("oom_score_adj", json!(adj));
    }
    if let Some(path) = &options.conmon_pidfile {
        put("conmon_pid_file", json!(path));
    }
    if let Some(timeout) = options.timeout {
        put("timeout", json!(timeout));
    }
    if let Some(signal) = options.stop_signal {
        put("stop_signal", json!(signal));
    }
    if let Some(timeout) = options.stop_timeout {
        put("stop_timeout", json!(timeout));
    }
    let security = &options.security;
    for (key, list) in [
        ("cap_add", &security.cap_add),
        ("cap_drop", &security.cap_drop),
        ("mask", &security.mask),
        ("unmask", &security.unmask),
        ("procfs_opts", &security.proc_opts),
    ] {
        if !list.is_empty() {
            put(key, json!(list));
        }
    }
    match &security.seccomp {
        rpod_engine::security::SeccompChoice::Profile(path) => {
            put("seccomp_profile_path", json!(path))
        }
        rpod_engine::security::SeccompChoice::Unconfined => {
            put("seccomp_profile_path", json!("unconfined"))
        }
        _ => {}
    }
    if options.seccomp_from_image {
        put("seccomp_policy", json!("image"));
    }
    let limits = resource_limits(options);
    if limits.as_object().is_some_and(|l| !l.is_empty()) {
        put("resource_limits", limits);
    }
    let mut log = Map::new();
    if !options.log_driver_from_config {
        log.insert(
            "driver".into(),
            json!(if options.log_to_file {
                "k8s-file"
            } else {
                "none"
            }),
        );
    }
    if let Some(path) = &options.log_path {
        log.insert("path".into(), json!(path));
    }
    // The path is the configuration's own field, not an option.
    let log_options = rpod_engine::logs::LogOptions {
        max_size: options.log_size_max,
        max_file: options.log_max_files,
        tag: options.log_tag.clone(),
        path: None,
        attributes: options.log_attributes.clone(),
    }
    .pairs();
    if !log_options.is_empty() {
        log.insert("options".into(), json!(log_options));
    }
    if !log.is_empty() {
        put("log_configuration", Value::Object(log));
    }
    if options.net.publish_all {
        put("publish_image_ports", json!(true));
    }
    let isolation = &options.isolation;
    for (key, mode) in [
        ("pidns", &isolation.pid),
        ("ipcns", &isolation.ipc),
        ("utsns", &isolation.uts),
        ("cgroupns", &isolation.cgroup),
    ] {
        put(key, namespace(mode));
    }
    kernel_fields(isolation, &mut put);
    if !isolation.ulimits.is_empty() {
        let limits: Vec<Value> = isolation
            .ulimits
            .iter()
            .map(|u| json!({"type": u.name, "soft": u.soft, "hard": u.hard}))
            .collect();
        put("r_limits", json!(limits));
    }
    if !isolation.devices.is_empty() {
        let devices: Vec<Value> = isolation
            .devices
            .iter()
            .map(|d| {
                json!({"path": format!("{}:{}:{}", d.host.display(), d.container.display(), d.permissions)})
            })
            .collect();
        put("devices", json!(devices));
    }
    if !isolation.device_cgroup_rules.is_empty() {
        // The OCI spec's `LinuxDeviceCgroup`, as podman-remote sends them.
        let rules: Vec<Value> = isolation
            .device_cgroup_rules
            .iter()
            .map(|r| {
                json!({"allow": true, "type": r.kind.to_string(), "major": r.major, "minor": r.minor, "access": r.access})
            })
            .collect();
        put("device_cgroup_rule", json!(rules));
    }
    if !isolation.group_add.is_empty() {
        put("groups", json!(isolation.group_add));
    }
    if let Some(path) = &options.init_path {
        put("init_path", json!(path));
    }
    mount_fields(options, &mut put);
    if let Some(umask) = options.umask {
        put("umask", json!(format!("{umask:04o}")));
    }
    for (key, list) in [
        ("envmerge", &options.env_merge),
        ("unsetenv", &options.unset_env),
    ] {
        if !list.is_empty() {
            put(key, json!(list));
        }
    }
    let resources = &options.resources;
    device_limit_fields(
        [
            &resources.device_read_bps,
            &resources.device_write_bps,
            &resources.device_read_iops,
            &resources.device_write_iops,
        ],
        &resources.blkio_weight_device,
        &mut put,
    );
    if let Some(platform) = &options.platform {
        for (key, value) in [
            ("image_os", &platform.os),
            ("image_arch", &platform.arch),
            ("image_variant", &platform.variant),
        ] {
            if let Some(value) = value {
                put(key, json!(value));
            }
        }
    }
    put(
        "image_volume_mode",
        json!(match options.image_volumes {
            rpod_engine::ImageVolumes::Anonymous => "anonymous",
            rpod_engine::ImageVolumes::Tmpfs => "tmpfs",
            rpod_engine::ImageVolumes::Ignore => "ignore",
        }),
    );
    network_fields(options, &mut spec);
    Value::Object(spec)
}

/// podman's number for a health check's on-failure action.
fn on_failure_number(action: rpod_engine::health::OnFailure) -> i64 {
    use rpod_engine::health::OnFailure;
    match action {
        OnFailure::None => 0,
        OnFailure::Kill => 2,
        OnFailure::Restart => 3,
        OnFailure::Stop => 4,
    }
}

/// Limits as the OCI spec's `linux.resources` (what `create::limits` and the pods'
/// reader take): each section with the values set, and none without.
#[derive(Default)]
struct LinuxResources {
    memory: Map<String, Value>,
    cpu: Map<String, Value>,
    pids: Option<i64>,
    blkio_weight: Option<u16>,
}

impl LinuxResources {
    fn memory(&mut self, key: &str, value: Option<impl Into<Value>>) -> &mut Self {
        if let Some(value) = value {
            self.memory.insert(key.into(), value.into());
        }
        self
    }

    fn cpu(&mut self, key: &str, value: Option<impl Into<Value>>) -> &mut Self {
        if let Some(value) = value {
            self.cpu.insert(key.into(), value.into());
        }
        self
    }

    /// `--cpus` as a quota of a 100 ms period.
    fn cpus(&mut self, cpus: Option<f64>) -> &mut Self {
        self.cpu("quota", cpus.map(|c| (c * 100_000.0).round() as i64))
            .cpu("period", cpus.map(|_| 100_000))
    }

    fn into_value(self) -> Value {
        let mut limits = Map::new();
        if !self.memory.is_empty() {
            limits.insert("memory".into(), Value::Object(self.memory));
        }
        if !self.cpu.is_empty() {
            limits.insert("cpu".into(), Value::Object(self.cpu));
        }
        if let Some(limit) = self.pids {
            limits.insert("pids".into(), json!({"limit": limit}));
        }
        if let Some(weight) = self.blkio_weight {
            limits.insert("blockIO".into(), json!({"weight": weight}));
        }
        Value::Object(limits)
    }
}

/// The container's limits as the OCI spec's `linux.resources` (`create::limits` reads).
fn resource_limits(options: &CreateOptions) -> Value {
    let r = &options.resources;
    let mut limits = LinuxResources {
        pids: options.pids_limit,
        blkio_weight: r.blkio_weight,
        ..Default::default()
    };
    limits
        .memory("limit", options.memory)
        .memory("swap", r.memory_swap)
        .memory("reservation", r.memory_reservation)
        .memory("swappiness", r.memory_swappiness)
        .memory("disableOOMKiller", r.oom_kill_disable.then_some(true))
        .cpus(options.cpus)
        .cpu("shares", r.cpu_shares)
        .cpu("cpus", r.cpuset_cpus.clone())
        .cpu("mems", r.cpuset_mems.clone())
        .cpu("realtimePeriod", r.cpu_rt_period)
        .cpu("realtimeRuntime", r.cpu_rt_runtime);
    limits.into_value()
}

/// `update`'s changes as the body of libpod's update (`linux.resources`, what the service's
/// update reads), and the changes it cannot carry: the per-device limits, which name a
/// device by its numbers on the service's host, and the restart policy (a query
/// parameter of the update, not the body).
pub fn update_resources(changes: &LimitChanges) -> (Value, Vec<String>) {
    let mut limits = LinuxResources {
        pids: changes.pids_limit,
        blkio_weight: changes.blkio_weight,
        ..Default::default()
    };
    limits
        .memory("limit", changes.memory)
        .memory("swap", changes.memory_swap)
        .memory("reservation", changes.memory_reservation)
        .memory("swappiness", changes.memory_swappiness)
        .cpu("shares", changes.cpu_shares)
        .cpu("cpus", changes.cpuset_cpus.clone())
        .cpu("mems", changes.cpuset_mems.clone())
        .cpu("realtimePeriod", changes.cpu_rt_period)
        .cpu("realtimeRuntime", changes.cpu_rt_runtime);
    if changes.cpus.is_some() {
        limits.cpus(changes.cpus);
    } else {
        limits
            .cpu("quota", changes.cpu_quota)
            .cpu("period", changes.cpu_period);
    }
    let mut losses = Vec::new();
    for (flag, given) in [
        (
            "--blkio-weight-device",
            !changes.blkio_weight_device.is_empty(),
        ),
        ("--device-read-bps", !changes.device_read_bps.is_empty()),
        ("--device-write-bps", !changes.device_write_bps.is_empty()),
        ("--device-read-iops", !changes.device_read_iops.is_empty()),
        ("--device-write-iops", !changes.device_write_iops.is_empty()),
    ] {
        if given {
            losses.push(flag.to_string());
        }
    }
    (limits.into_value(), losses)
}

/// A pod's options as podman's PodSpecGenerator.
pub fn pod_spec(options: &PodOptions) -> Value {
    let mut spec = Map::new();
    if let Some(name) = &options.name {
        spec.insert("name".into(), json!(name));
    }
    if let Some(hostname) = &options.hostname {
        spec.insert("hostname".into(), json!(hostname));
    }
    if !options.labels.is_empty() {
        spec.insert("labels".into(), json!(options.labels));
    }
    if options.infra == Some(false) {
        spec.insert("no_infra".into(), json!(true));
    }
    if let Some(command) = &options.infra_command {
        spec.insert("infra_command".into(), json!(command));
    }
    for (key, value) in [
        ("infra_image", &options.infra_image),
        ("infra_name", &options.infra_name),
        ("cgroup_parent", &options.cgroup_parent),
    ] {
        if let Some(value) = value {
            spec.insert(key.into(), json!(value));
        }
    }
    if let Some(shared) = &options.shared {
        let names: Vec<&str> = shared.iter().map(|s| s.as_str()).collect();
        spec.insert("shared_namespaces".into(), json!(names));
    }
    if !options.create_command.is_empty() {
        spec.insert("pod_create_command".into(), json!(options.create_command));
    }
    if let Some(path) = &options.infra_conmon_pidfile {
        spec.insert("infra_conmon_pid_file".into(), json!(path));
    }
    spec.insert("exit_policy".into(), json!(options.exit_policy.as_str()));
    if let Some(share) = options.share_parent {
        spec.insert("share_parent".into(), json!(share));
    }
    let l = &options.limits;
    let mut limits = LinuxResources {
        blkio_weight: l.blkio_weight,
        ..Default::default()
    };
    limits
        .cpus(l.cpus)
        .cpu("shares", l.cpu_shares)
        .cpu("cpus", l.cpuset_cpus.clone())
        .cpu("mems", l.cpuset_mems.clone())
        .memory("limit", l.memory)
        .memory("swap", l.memory_swap);
    let limits = limits.into_value();
    if limits.as_object().is_some_and(|l| !l.is_empty()) {
        spec.insert("resource_limits".into(), limits);
    }
    if options.infra_options.net.no_hosts {
        spec.insert("no_manage_hosts".into(), json!(true));
    }
    network_fields(&options.infra_options, &mut spec);
    // What the pod gives its containers, and its namespaces' settings.
    let infra = &options.infra_options;
    let mut put = |key: &str, value: Value| {
        spec.insert(key.to_string(), value);
    };
    mount_fields(infra, &mut put);
    let isolation = &infra.isolation;
    for (key, mode) in [("pidns", &isolation.pid), ("utsns", &isolation.uts)] {
        if *mode != NamespaceMode::Private {
            put(key, namespace(mode));
        }
    }
    kernel_fields(isolation, &mut put);
    if !isolation.devices.is_empty() {
        let devices: Vec<String> = isolation
            .devices
            .iter()
            .map(|d| {
                format!(
                    "{}:{}:{}",
                    d.host.display(),
                    d.container.display(),
                    d.permissions
                )
            })
            .collect();
        put("pod_devices", json!(devices));
    }
    let security_opt = rpod_engine::views::security_opt_list(&infra.security);
    if !security_opt.is_empty() {
        put("security_opt", json!(security_opt));
    }
    device_limit_fields(
        [&l.device_read_bps, &l.device_write_bps, &[], &[]],
        &l.blkio_weight_device,
        &mut put,
    );
    Value::Object(spec)
}

/// Settings of a container's whose difference a SpecGenerator does not carry, or need not:
/// the create decides the log driver from the configuration when none was given
/// (`log_driver_from_config`), and a terminal's first size comes with the attach.
/// `cid_file` is where the client writes the new container's ID, not a setting of it (a
/// SpecGenerator has no field for it, as podman's).
const NOT_SETTINGS: &[&str] = &["log_driver_from_config", "console_size", "cid_file"];

/// How a loss that is the whole spec begins: the spec written does not read back.
pub const UNREADABLE: &str = "the spec does not read back: ";

/// A container's SpecGenerator and the settings it cannot say (read back and compared).
pub fn container_spec_and_losses(options: &CreateOptions) -> (Value, Vec<String>) {
    let mut options = options.clone();
    if let Err(e) = options.read_only_tmpfs_as_mounts() {
        return (Value::Null, vec![format!("read_only_tmpfs ({e})")]);
    }
    let options = &options;
    let spec = container_spec(options);
    let read_back = serde_json::from_value::<super::create::SpecGenerator>(spec.clone())
        .map_err(|e| e.to_string())
        .and_then(|generator| super::create::create_options(generator).map_err(|e| e.message));
    // A named volume's source is its directory, found again by name at the create; the
    // spec lists mounts and volumes apart, so their order is compared by destination.
    let mut written = options.clone();
    for mount in &mut written.mounts {
        if mount.volume.is_some() {
            mount.source = Default::default();
        }
        // Of a bind, `nocopy` says nothing (`mount_words` leaves it out).
        mount.no_copy = mount.skips_copy_up();
    }
    // A secret's ID is found again by name at the create; files and variables come back
    // apart, so their order is compared by kind and target.
    for secret in &mut written.secrets {
        secret.id.clear();
    }
    let secret_order = |a: &rpod_engine::secrets::SecretUse,
                        b: &rpod_engine::secrets::SecretUse| {
        (a.env, &a.target).cmp(&(b.env, &b.target))
    };
    written.secrets.sort_by(secret_order);
    let losses = match read_back {
        Ok(mut back) => {
            written
                .mounts
                .sort_by(|a, b| a.destination.cmp(&b.destination));
            back.mounts
                .sort_by(|a, b| a.destination.cmp(&b.destination));
            back.secrets.sort_by(secret_order);
            differing_fields(&format!("{written:#?}"), &format!("{back:#?}"))
        }
        .into_iter()
        .filter(|field| !NOT_SETTINGS.contains(&field.as_str()))
        .collect::<Vec<_>>(),
        Err(e) => vec![format!("{UNREADABLE}{e}")],
    };
    (spec, losses)
}

/// A pod's PodSpecGenerator and the settings it cannot say.
pub fn pod_spec_and_losses(options: &PodOptions) -> (Value, Vec<String>) {
    let spec = pod_spec(options);
    let read_back = serde_json::from_value::<super::pods::PodSpec>(spec.clone())
        .map_err(|e| e.to_string())
        .and_then(|generator| super::pods::pod_options(generator).map_err(|e| e.message));
    // An infra container is the default; of the infra container's settings a pod spec
    // says (and a pod takes) its network, user namespace, mounts, devices, sysctls,
    // `/dev/shm` size, PID and UTS namespaces and security options only.
    let comparable = |options: &PodOptions| {
        let mut options = options.clone();
        if options.infra == Some(true) {
            options.infra = None;
        }
        let infra = &options.infra_options;
        let isolation = &infra.isolation;
        // A named volume's source is its directory, found again by name at the create.
        let mut mounts = infra.mounts.clone();
        for mount in &mut mounts {
            if mount.volume.is_some() {
                mount.source = Default::default();
            }
        }
        mounts.sort_by(|a, b| a.destination.cmp(&b.destination));
        options.infra_options = CreateOptions {
            network: infra.network.clone(),
            net: infra.net.clone(),
            id_mappings: infra.id_mappings.clone(),
            userns_auto: infra.userns_auto,
            mounts,
            volumes_from: infra.volumes_from.clone(),
            isolation: rpod_engine::isolation::Isolation {
                pid: isolation.pid.clone(),
                uts: isolation.uts.clone(),
                shm_size: isolation.shm_size,
                sysctls: isolation.sysctls.clone(),
                devices: isolation.devices.clone(),
                ..Default::default()
            },
            security: infra.security.clone(),
            ..Default::default()
        };
        format!("{options:#?}")
    };
    let losses = match read_back {
        Ok(back) => differing_fields(&comparable(options), &comparable(&back)),
        Err(e) => vec![format!("{UNREADABLE}{e}")],
    };
    (spec, losses)
}

/// The top-level fields whose values differ between two pretty `Debug` texts of the same
/// struct (`{:#?}`, each field on a line of its own four spaces in).
fn differing_fields(written: &str, read_back: &str) -> Vec<String> {
    fn fields(text: &str) -> std::collections::BTreeMap<String, String> {
        let mut map = std::collections::BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let top = line
                .strip_prefix("    ")
                .filter(|rest| !rest.starts_with(' '))
                .and_then(|rest| rest.split_once(':'))
                .map(|(name, _)| name.to_string());
            if let Some(name) = top {
                current = Some(name.clone());
                map.insert(name, String::new());
            }
            if let Some(name) = &current {
                if let Some(value) = map.get_mut(name) {
                    value.push_str(line);
                    value.push('\n');
                }
            }
        }
        map
    }
    let (a, b) = (fields(written), fields(read_back));
    a.iter()
        .filter(|(name, value)| b.get(*name) != Some(*value))
        .map(|(name, _)| name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options read from a SpecGenerator with a setting of every kind rpod's create takes.
    fn rich_options() -> CreateOptions {
        let json = r#"{
            "name": "web", "image": "busybox", "command": ["httpd", "-f"],
            "entrypoint": ["/bin/sh", "-c"], "env": {"A": "1", "B": "two"},
            "terminal": true, "stdin": true, "work_dir": "/srv", "user": "1000:100",
            "hostname": "front", "labels": {"team": "web"}, "annotations": {"org.x/y": "z"},
            "stop_signal": 2, "stop_timeout": 7, "oom_score_adj": 100, "timeout": 60,
            "conmon_pid_file": "/run/web-monitor.pid",
            "privileged": false, "cap_add": ["CAP_NET_ADMIN"], "cap_drop": ["CAP_CHOWN"],
            "no_new_privileges": true, "mask": ["/opt"], "read_only_filesystem": true,
            "oci_runtime": "crun", "restart_policy": "on-failure", "restart_tries": 3,
            "healthconfig": {"Test": ["CMD-SHELL", "true"], "Interval": 5000000000, "Retries": 2},
            "health_check_on_failure_action": 3,
            "resource_limits": {"memory": {"limit": 67108864, "reservation": 1048576, "swappiness": 10,
                                           "disableOOMKiller": true},
                                "cpu": {"quota": 50000, "period": 100000, "shares": 512, "cpus": "0", "mems": "0"},
                                "pids": {"limit": 64}, "blockIO": {"weight": 300}},
            "log_configuration": {"driver": "k8s-file", "options": {"max-size": "1048576", "tag": "web"}},
            "netns": {"nsmode": "bridge"},
            "Networks": {"front": {"aliases": ["www"], "static_ips": ["10.1.2.3"]}},
            "portmappings": [{"container_port": 80, "host_port": 8080, "protocol": "tcp"}],
            "expose": {"53": "tcp,udp", "9000": "tcp"}, "publish_image_ports": true,
            "dns_server": ["1.1.1.1"], "dns_search": ["example.com"], "dns_option": ["ndots:2"],
            "hostadd": ["db:10.0.0.9"],
            "pidns": {"nsmode": "host"}, "ipcns": {"nsmode": "shareable"},
            "utsns": {"nsmode": "private"}, "cgroupns": {"nsmode": "private"},
            "shm_size": 1048576, "sysctl": {"net.ipv4.ip_forward": "1"},
            "r_limits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
            "devices": [{"path": "/dev/null:/dev/mynull:rw"}], "groups": ["10"],
            "device_cgroup_rule": [{"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
                                   {"allow": true, "type": "b", "major": 8, "access": "r"}],
            "init": true,
            "mounts": [{"destination": "/site", "type": "bind", "source": "/tmp", "options": ["ro"]},
                       {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
                       {"destination": "/dev/pts2", "type": "devpts", "source": "devpts", "options": ["uid=5", "mode=620"]}],
            "image_volumes": [{"Source": "tools", "Destination": "/tools", "ReadWrite": true, "subPath": "usr/bin"},
                              {"Source": "docs", "Destination": "/docs", "ReadWrite": false}],
            "overlay_volumes": [{"source": "/srv", "destination": "/ov", "options": ["upperdir=/u", "workdir=/w"]}],
            "volumes": [{"Name": "data", "Dest": "/data", "Options": []},
                        {"Name": "data", "Dest": "/layered", "Options": ["O"]},
                        {"Name": "data", "Dest": "/part", "SubPath": "a/b"},
                        {"Name": "", "Dest": "/cache", "IsAnonymous": true}],
            "volumes_from": ["other:ro"], "umask": "0027", "cgroup_parent": "/custom",
            "httpproxy": true, "unsetenv": ["PATH"], "systemd": "always",
            "idmappings": {"UIDMap": [{"container_id": 0, "host_id": 100000, "size": 1000}],
                           "GIDMap": [{"container_id": 0, "host_id": 100000, "size": 1000}]},
            "userns": {"nsmode": "private"},
            "image_os": "linux", "image_arch": "amd64", "init_container_type": "always", "pod": "team",
            "secrets": [{"Source": "tok", "Target": "/etc/tok", "UID": 1, "GID": 2, "Mode": 256},
                        {"Source": "other"}],
            "secret_env": {"TOKEN": "tok"},
            "chroot_directories": ["/jail"], "timezone": "local"
        }"#;
        super::super::create::create_options(serde_json::from_str(json).unwrap()).unwrap()
    }

    /// Every setting the libpod API's create takes is written so that it reads back the
    /// same: nothing is named lost.
    #[test]
    fn a_container_spec_reads_back_whole() {
        let options = rich_options();
        let (spec, losses) = container_spec_and_losses(&options);
        assert!(losses.is_empty(), "{losses:?}\n{spec:#}");
        assert_eq!(spec["name"], "web");
        assert_eq!(spec["pidns"], json!({"nsmode": "host"}));
        assert_eq!(spec["resource_limits"]["cpu"]["quota"], 50000);
        assert_eq!(spec["resource_limits"]["memory"]["disableOOMKiller"], true);
        assert_eq!(spec["device_cgroup_rule"][1]["type"], "b");
        assert_eq!(spec["expose"], json!({"53": "tcp,udp", "9000": "tcp"}));
        assert_eq!(
            spec["image_volumes"],
            json!([{"Source": "tools", "Destination": "/tools", "ReadWrite": true, "subPath": "usr/bin"},
                   {"Source": "docs", "Destination": "/docs", "ReadWrite": false}])
        );
        assert_eq!(spec["mounts"][2]["type"], "devpts");
        // Overlay mounts go as podman-remote sends them, without the default propagation
        // (an overlay takes none).
        assert_eq!(
            spec["overlay_volumes"],
            json!([{"source": "/srv", "destination": "/ov",
                    "options": ["O", "upperdir=/u", "workdir=/w"]}])
        );
        assert_eq!(
            spec["volumes"][1]["Options"],
            json!(["nosuid", "nodev", "O"])
        );
        assert_eq!(
            options.net.exposed,
            ["53/tcp", "53/udp", "9000/tcp"],
            "exposed, and published once each"
        );
        assert_eq!(options.net.ports.len(), 4, "{:?}", options.net.ports);
        assert!(options.workdir_must_exist, "podman's work_dir must exist");
        assert_eq!(spec.get("create_working_dir"), None);
        // One made when missing (Docker's API's) says so, and reads back so.
        let made = CreateOptions {
            workdir_must_exist: false,
            ..options
        };
        let (spec, losses) = container_spec_and_losses(&made);
        assert!(losses.is_empty(), "{losses:?}");
        assert_eq!(spec["create_working_dir"], true);
    }

    /// `--ip`, `--mac-address` and `--network-alias` on the default network go as
    /// podman-remote sends them (the network `default`) and read back the same.
    #[test]
    fn the_default_networks_settings_read_back_whole() {
        let options = CreateOptions {
            image: Some("busybox".into()),
            network: Some(NetworkMode::Bridge),
            ip: Some("10.89.0.9".parse().unwrap()),
            mac_address: Some("92:d0:c6:0a:29:33".into()),
            network_aliases: vec!["db".into()],
            ..Default::default()
        };
        let (spec, losses) = container_spec_and_losses(&options);
        assert!(losses.is_empty(), "{losses:?}\n{spec:#}");
        assert_eq!(
            spec["Networks"]["default"]["static_ips"],
            json!(["10.89.0.9"])
        );
    }

    /// `--read-only` with `--read-only-tmpfs` (on by default) is sent as podman 4's clients
    /// send it: the tmpfs mounts, where the user has none of their own.
    #[test]
    fn a_read_only_containers_tmpfs_are_sent_as_mounts() {
        let mut options = rich_options();
        options.read_only = true;
        options.read_only_tmpfs = true;
        options
            .mounts
            .push(rpod_engine::mounts::bind("/srv", "/run", &[], None).unwrap());
        let (spec, losses) = container_spec_and_losses(&options);
        assert!(losses.is_empty(), "{losses:?}");
        assert_eq!(spec["read_only_filesystem"], true);
        let tmpfs: Vec<&str> = spec["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] == "tmpfs")
            .filter_map(|m| m["destination"].as_str())
            .collect();
        assert!(
            tmpfs.contains(&"/tmp") && tmpfs.contains(&"/var/tmp") && !tmpfs.contains(&"/run"),
            "{spec:#}"
        );
    }

    /// What a SpecGenerator cannot say is named by its field: here the log handed to the
    /// caller's terminal, a domain name and a bind mount's subpath.
    #[test]
    fn what_a_spec_cannot_say_is_named() {
        let mut options = rich_options();
        options.passthrough = true;
        options.domainname = Some("example.com".into());
        let (_, losses) = container_spec_and_losses(&options);
        assert_eq!(losses, ["domainname", "passthrough"]);
        let mut options = rich_options();
        let bind = rpod_engine::mounts::bind("/tmp", "/sub", &[], None).unwrap();
        options
            .mounts
            .push(rpod_engine::mounts::with_subpath(bind, "x").unwrap());
        let (_, losses) = container_spec_and_losses(&options);
        assert_eq!(losses, ["mounts"]);
    }

    /// A bind shared by `--volumes-from` from an earlier rpod carries a volume's `nocopy`,
    /// which a spec cannot say of a bind: it is left out, and the spec reads back.
    #[test]
    fn a_binds_nocopy_is_not_written() {
        let mut options = rich_options();
        let mut bind = rpod_engine::mounts::bind("/tmp", "/shared", &[], None).unwrap();
        bind.no_copy = true;
        options.mounts.push(bind);
        let (spec, losses) = container_spec_and_losses(&options);
        assert!(losses.is_empty(), "{losses:?}");
        assert!(!spec.to_string().contains("nocopy"), "{spec:#}");
        // `cid_file` is the client's to write, not a setting.
        options.cid_file = Some("/run/x.cid".into());
        assert!(container_spec_and_losses(&options).1.is_empty());
    }

    /// A pod's settings (labels, host name, shared namespaces, limits, network) read back
    /// the same.
    #[test]
    fn a_pod_spec_reads_back_whole() {
        let json = r#"{
            "name": "team", "hostname": "crew", "labels": {"a": "b"},
            "shared_namespaces": ["net", "ipc"], "exit_policy": "stop",
            "infra_image": "pause:1", "infra_name": "team-infra",
            "infra_conmon_pid_file": "/run/team-infra.pid",
            "resource_limits": {"cpu": {"quota": 50000, "period": 100000, "shares": 300},
                                "memory": {"limit": 33554432}},
            "netns": {"nsmode": "bridge"}, "portmappings": [{"container_port": 80, "host_port": 8080}],
            "dns_server": ["9.9.9.9"]
        }"#;
        let options = super::super::pods::pod_options(serde_json::from_str(json).unwrap()).unwrap();
        let (spec, losses) = pod_spec_and_losses(&options);
        assert!(losses.is_empty(), "{losses:?}\n{spec:#}");
        assert_eq!(spec["exit_policy"], "stop");
    }

    #[test]
    fn differing_fields_are_the_top_level_ones() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct S {
            a: Vec<u8>,
            b: Option<String>,
            c: u8,
        }
        let one = format!(
            "{:#?}",
            S {
                a: vec![1, 2],
                b: None,
                c: 3
            }
        );
        let two = format!(
            "{:#?}",
            S {
                a: vec![1, 4],
                b: None,
                c: 5
            }
        );
        assert_eq!(differing_fields(&one, &two), ["a", "c"]);
        assert!(differing_fields(&one, &one).is_empty());
    }

    #[test]
    fn an_update_is_a_linux_resources_body_and_per_device_limits_are_losses() {
        let changes = LimitChanges {
            memory: Some(96 << 20),
            cpus: Some(0.5),
            pids_limit: Some(-1),
            cpu_shares: Some(512),
            ..Default::default()
        };
        let (body, losses) = update_resources(&changes);
        assert!(losses.is_empty(), "{losses:?}");
        assert_eq!(
            body,
            json!({
                "memory": {"limit": 96 << 20},
                "cpu": {"quota": 50000, "period": 100000, "shares": 512},
                "pids": {"limit": -1},
            })
        );
        // A quota and a period as given, when --cpus is not.
        let (body, _) = update_resources(&LimitChanges {
            cpu_quota: Some(25000),
            ..Default::default()
        });
        assert_eq!(body, json!({"cpu": {"quota": 25000}}));
        let (_, losses) = update_resources(&LimitChanges {
            device_read_bps: vec![rpod_engine::resources::Throttle {
                device: "/dev/sda".into(),
                rate: 1 << 20,
            }],
            ..Default::default()
        });
        assert_eq!(losses, ["--device-read-bps"]);
    }
}
