//! `generate kube`: a Kubernetes `Pod` document for containers or for a pod, written with
//! the fields `kube play` (`kube.rs`) reads, so that playing it makes the same containers
//! again. What a container has from its image (its environment, labels, working
//! directory, user) is left out, as the image gives it again. A setting Kubernetes YAML
//! cannot carry is named in a warning instead of being dropped unsaid.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::container::{ContainerConfig, NetworkMode};
use crate::isolation::NamespaceMode;
use crate::mounts::MountKind;
use crate::network::ports::PortMapping;
use crate::restart::RestartKind;
use crate::{EngineError, Result};

/// One container of the generated pod, with its image's own configuration (none for a
/// container whose image is gone).
pub struct Member<'a> {
    pub config: &'a ContainerConfig,
    pub image: Option<&'a oci_spec::image::Config>,
    /// The container's own directory: what rpod mounts from there (its secrets) is rpod's.
    pub own_dir: &'a Path,
    /// The infra container of the member's pod, whose namespaces it joins as any pod's
    /// container does.
    pub infra_id: Option<&'a str>,
    /// The store's default network, which `kube play`'s pods join again.
    pub default_network: &'a str,
    /// The volumes `kube play` made for emptyDirs, each with its emptyDir's name
    /// (`Engine::kube_empty_dirs`): written as emptyDirs again, not as claims.
    pub empty_dirs: &'a BTreeMap<String, String>,
}

/// Whether a container's networks are only the default one, as `kube play` joins it.
pub fn on_default_network(net: &crate::container::NetworkConfig, default: &str) -> bool {
    match net.networks.as_slice() {
        [] => true,
        [join] => {
            join.name == default
                && join.static_ips().is_empty()
                && join.mac.is_none()
                && join.aliases.is_empty()
        }
        _ => false,
    }
}

/// The pod around the members: a pod of the store's, or one named after a container.
pub struct PodShape<'a> {
    pub name: &'a str,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub hostname: Option<&'a str>,
    pub host_network: bool,
    /// Published ports (a pod's are its infra container's); they go with the first member.
    pub ports: &'a [PortMapping],
    pub created: DateTime<Utc>,
    /// Taken off the front of member names (`web-server` in pod `web` is `server`, which
    /// `kube play` names `web-server` again).
    pub strip_prefix: Option<String>,
}

/// Kubernetes YAML and what it could not say.
#[derive(Debug, Clone, Default)]
pub struct GeneratedKube {
    pub yaml: String,
    pub warnings: Vec<String>,
}

/// `generate kube --service`: a `NodePort` Service for the pod `shape` describes, as
/// podman writes one: a port per published container port (named after it), the pod
/// selected by its `app` label (given the pod's name when it has none). Its node ports are
/// in Kubernetes' range (30000-32767), each taken from a hash of the pod's name and the
/// port, so that the same pod gets the same ones (podman draws them at random). `None`,
/// with a warning, for a pod that publishes nothing.
pub fn service_document(shape: &mut PodShape, warnings: &mut Vec<String>) -> Option<Value> {
    use sha2::Digest;
    if shape.ports.is_empty() {
        warnings.push(format!(
            "pod {}: it publishes no port: no Service is written for it",
            shape.name
        ));
        return None;
    }
    let app = shape
        .labels
        .entry("app".to_string())
        .or_insert_with(|| shape.name.to_string())
        .clone();
    let mut ports = Vec::new();
    for mapping in shape.ports {
        for offset in 0..mapping.range.max(1) {
            let port = mapping.container_port.saturating_add(offset);
            let digest =
                sha2::Sha256::digest(format!("{}/{port}/{}", shape.name, mapping.protocol));
            let node_port = 30000 + u16::from_be_bytes([digest[0], digest[1]]) % 2768;
            let mut entry = Map::new();
            entry.insert("name".into(), json!(port.to_string()));
            entry.insert("nodePort".into(), json!(node_port));
            entry.insert("port".into(), json!(port));
            if !mapping.protocol.eq_ignore_ascii_case("tcp") {
                entry.insert(
                    "protocol".into(),
                    json!(mapping.protocol.to_ascii_uppercase()),
                );
            }
            entry.insert("targetPort".into(), json!(port));
            ports.push(Value::Object(entry));
        }
    }
    Some(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "creationTimestamp": shape.created.to_rfc3339_opts(SecondsFormat::Secs, true),
            "labels": { "app": app },
            "name": shape.name,
        },
        "spec": {
            "ports": ports,
            "selector": { "app": app },
            "type": "NodePort",
        },
    }))
}

/// The YAML of `documents`, one after another.
pub fn render(documents: &[Value]) -> Result<String> {
    let mut out = String::from(
        "# Kubernetes YAML generated by rpod: `rpod kube play FILE` makes these pods again,\n\
         # `kubectl create -f FILE` makes them in a cluster.\n",
    );
    for document in documents {
        out.push_str("---\n");
        out.push_str(
            &serde_norway::to_string(document)
                .map_err(|e| EngineError::InvalidArg(format!("writing Kubernetes YAML: {e}")))?,
        );
    }
    Ok(out)
}

/// A volume as the `PersistentVolumeClaim` `kube play` makes it again: its labels, its
/// options as podman's `volume.podman.io/` annotations, and a claim a cluster can serve
/// (podman's: one GiB, ReadWriteOnce).
pub fn claim_document(volume: &crate::volumes::VolumeRecord) -> Value {
    let mut annotations = Map::new();
    annotations.insert("volume.podman.io/driver".into(), json!(volume.driver));
    for (option, annotation) in [
        ("device", "device"),
        ("type", "type"),
        ("o", "mount-options"),
    ] {
        if let Some(value) = volume.options.get(option) {
            annotations.insert(format!("volume.podman.io/{annotation}"), json!(value));
        }
    }
    let mut metadata = Map::new();
    metadata.insert("annotations".into(), Value::Object(annotations));
    metadata.insert(
        "creationTimestamp".into(),
        json!(volume.created.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    if !volume.labels.is_empty() {
        metadata.insert("labels".into(), json!(volume.labels));
    }
    metadata.insert("name".into(), json!(volume.name));
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": { "requests": { "storage": "1Gi" } },
        },
        "status": {},
    })
}

/// The `Pod` document of `shape` with `members`, and the warnings for what it leaves out.
pub fn pod_document(shape: &PodShape, members: &[Member]) -> Result<(Value, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut volumes = Volumes::default();
    let mut containers = Vec::new();
    let mut init_containers = Vec::new();
    // A pod's init containers (`--init-ctr`) are its `initContainers`; the pod's ports,
    // restart policy and grace period are its other containers'.
    let (inits, members): (Vec<&Member>, Vec<&Member>) = members
        .iter()
        .partition(|m| m.config.init_container.is_some());
    if members.is_empty() {
        // Kubernetes (and `kube play`) refuse a pod without one in `spec.containers`.
        return Err(EngineError::InvalidArg(format!(
            "pod {}: it has no container but its infra and init containers: a Kubernetes pod needs one",
            shape.name
        )));
    }
    for (index, member) in inits.iter().chain(&members).enumerate() {
        let init = index < inits.len();
        let ports = if index == inits.len() {
            shape.ports
        } else {
            &[]
        };
        let name = member_name(member.config, shape.strip_prefix.as_deref());
        let mut warn = |what: &str| {
            warnings.push(format!(
                "container {}: {what} cannot be said in Kubernetes YAML and is left out",
                member.config.name
            ))
        };
        let document = container(member, &name, ports, &mut volumes, &mut warn)?;
        if init {
            init_containers.push(document);
        } else {
            containers.push(document);
        }
    }
    let restart = restart_policy(&members, &mut warnings);
    let mut annotations = shape.annotations.clone();
    if let Some(kind) = init_type(&inits, &mut warnings) {
        annotations.insert(
            crate::kube::INIT_CONTAINER_TYPE_ANNOTATION.to_string(),
            kind.as_str().to_string(),
        );
    }
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(shape.name));
    metadata.insert(
        "creationTimestamp".into(),
        json!(shape.created.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    if !shape.labels.is_empty() {
        metadata.insert("labels".into(), json!(shape.labels));
    }
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), json!(annotations));
    }
    let mut spec = Map::new();
    spec.insert("containers".into(), Value::Array(containers));
    if !init_containers.is_empty() {
        spec.insert("initContainers".into(), Value::Array(init_containers));
    }
    spec.insert("restartPolicy".into(), json!(restart));
    if let Some(hostname) = shape.hostname {
        spec.insert("hostname".into(), json!(hostname));
    }
    if shape.host_network {
        spec.insert("hostNetwork".into(), json!(true));
    }
    if let Some(grace) = members
        .first()
        .or(inits.first())
        .map(|m| m.config.stop_timeout)
        .filter(|t| *t != crate::engine::DEFAULT_STOP_TIMEOUT)
    {
        spec.insert("terminationGracePeriodSeconds".into(), json!(grace));
    }
    if !volumes.entries.is_empty() {
        spec.insert("volumes".into(), Value::Array(volumes.entries));
    }
    let document = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
    });
    Ok((document, warnings))
}

fn member_name(config: &ContainerConfig, strip_prefix: Option<&str>) -> String {
    strip_prefix
        .and_then(|prefix| config.name.strip_prefix(prefix))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(&config.name)
        .to_string()
}

/// The pod's annotation for its init containers' type when they run at every start
/// (`once`, what `kube play` makes without it, needs none); the pod has one type for all.
fn init_type(
    inits: &[&Member],
    warnings: &mut Vec<String>,
) -> Option<crate::container::InitContainerType> {
    use crate::container::InitContainerType;
    let kind = inits.first()?.config.init_container?;
    for member in inits {
        if member.config.init_container != Some(kind) {
            warnings.push(format!(
                "container {}: its init container type differs from the pod's ({}), which Kubernetes YAML keeps one of",
                member.config.name,
                kind.as_str()
            ));
        }
    }
    (kind == InitContainerType::Always).then_some(kind)
}

/// The pod's policy from its members' (Kubernetes has one per pod): `Never` for `no`.
fn restart_policy(members: &[&Member], warnings: &mut Vec<String>) -> &'static str {
    let of = |kind: RestartKind| match kind {
        RestartKind::No => "Never",
        RestartKind::OnFailure => "OnFailure",
        RestartKind::Always | RestartKind::UnlessStopped => "Always",
    };
    let Some(first) = members.first() else {
        return "Never";
    };
    let policy = of(first.config.restart.kind);
    for member in members {
        let restart = member.config.restart;
        if of(restart.kind) != policy {
            warnings.push(format!(
                "container {}: its restart policy differs from the pod's ({policy}), which Kubernetes keeps one of",
                member.config.name
            ));
        }
        if restart.kind == RestartKind::OnFailure && restart.max_retries > 0 {
            warnings.push(format!(
                "container {}: the restart policy's retry limit ({}) cannot be said in Kubernetes YAML and is left out",
                member.config.name, restart.max_retries
            ));
        }
    }
    policy
}

fn image_env(image: Option<&oci_spec::image::Config>) -> Vec<String> {
    image.and_then(|i| i.env().clone()).unwrap_or_default()
}

fn container(
    member: &Member,
    name: &str,
    ports: &[PortMapping],
    volumes: &mut Volumes,
    warn: &mut dyn FnMut(&str),
) -> Result<Value> {
    let config = member.config;
    let image = member.image;
    if config.rootfs.is_some() {
        return Err(EngineError::NotSupported(format!(
            "generate kube: container {} runs from --rootfs, and a Kubernetes container needs an image",
            config.name
        )));
    }
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    let image_name = if config.image_name.is_empty() {
        &config.image_id
    } else {
        &config.image_name
    };
    out.insert("image".into(), json!(image_name));
    // Kubernetes' command replaces the image's entrypoint and its args the image's CMD.
    match &config.entrypoint {
        Some(entrypoint) if entrypoint.is_empty() => {
            if config.cmd.is_empty() {
                warn("an entrypoint cleared without a command");
            } else {
                out.insert("command".into(), json!(config.cmd));
            }
        }
        Some(entrypoint) => {
            out.insert("command".into(), json!(entrypoint));
            if !config.cmd.is_empty() {
                out.insert("args".into(), json!(config.cmd));
            }
        }
        None if !config.cmd.is_empty() => {
            out.insert("args".into(), json!(config.cmd));
        }
        None => {}
    }
    let from_image = image_env(image);
    let env: Vec<Value> = config
        .env
        .iter()
        .filter(|e| !from_image.contains(e))
        .map(|e| match e.split_once('=') {
            Some((key, value)) => json!({"name": key, "value": value}),
            None => json!({"name": e, "value": ""}),
        })
        .collect();
    if !env.is_empty() {
        out.insert("env".into(), Value::Array(env));
    }
    let image_workdir = image
        .and_then(|i| i.working_dir().clone())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    if config.workdir != image_workdir {
        out.insert("workingDir".into(), json!(config.workdir));
    }
    let port_list: Vec<Value> = ports
        .iter()
        .flat_map(|p| (0..p.range.max(1)).map(move |i| (p, i)))
        .map(|(p, i)| {
            let mut port = Map::new();
            port.insert("containerPort".into(), json!(p.container_port + i));
            if p.host_port > 0 {
                port.insert("hostPort".into(), json!(p.host_port + i));
            }
            if !p.host_ip.is_empty() {
                port.insert("hostIP".into(), json!(p.host_ip));
            }
            port.insert("protocol".into(), json!(p.protocol.to_ascii_uppercase()));
            Value::Object(port)
        })
        .collect();
    if !port_list.is_empty() {
        out.insert("ports".into(), Value::Array(port_list));
    }
    let mut limits = Map::new();
    if let Some(memory) = config.memory {
        limits.insert("memory".into(), json!(memory));
    }
    if let Some(cpus) = config.cpus {
        limits.insert(
            "cpu".into(),
            json!(format!("{}m", (cpus * 1000.0).round() as u64)),
        );
    }
    if !limits.is_empty() {
        out.insert("resources".into(), json!({ "limits": limits }));
    }
    if let Some(context) = security_context(config, image, warn) {
        out.insert("securityContext".into(), context);
    }
    let mounts = volumes.mounts_of(config, member, warn);
    if !mounts.is_empty() {
        out.insert("volumeMounts".into(), Value::Array(mounts));
    }
    if config.stdin {
        out.insert("stdin".into(), json!(true));
    }
    if config.terminal {
        out.insert("tty".into(), json!(true));
    }
    left_out(member, warn);
    Ok(Value::Object(out))
}

fn security_context(
    config: &ContainerConfig,
    image: Option<&oci_spec::image::Config>,
    warn: &mut dyn FnMut(&str),
) -> Option<Value> {
    let security = &config.security;
    let mut context = Map::new();
    if security.privileged {
        context.insert("privileged".into(), json!(true));
    }
    let bare = |caps: &[String]| -> Vec<String> {
        caps.iter()
            .map(|c| c.strip_prefix("CAP_").unwrap_or(c).to_string())
            .collect()
    };
    let mut capabilities = Map::new();
    if !security.cap_add.is_empty() {
        capabilities.insert("add".into(), json!(bare(&security.cap_add)));
    }
    if !security.cap_drop.is_empty() {
        capabilities.insert("drop".into(), json!(bare(&security.cap_drop)));
    }
    if !capabilities.is_empty() {
        context.insert("capabilities".into(), Value::Object(capabilities));
    }
    if config.read_only {
        context.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    if security.no_new_privileges {
        context.insert("allowPrivilegeEscalation".into(), json!(false));
    }
    let image_user = image.and_then(|i| i.user().clone()).unwrap_or_default();
    if config.user != image_user && !config.user.is_empty() {
        let (user, group) = match config.user.split_once(':') {
            Some((user, group)) => (user, Some(group)),
            None => (config.user.as_str(), None),
        };
        match (user.parse::<u32>(), group.map(str::parse::<u32>)) {
            (Ok(uid), None) => {
                context.insert("runAsUser".into(), json!(uid));
            }
            (Ok(uid), Some(Ok(gid))) => {
                context.insert("runAsUser".into(), json!(uid));
                context.insert("runAsGroup".into(), json!(gid));
            }
            _ => warn(&format!(
                "the user {:?} (Kubernetes takes numbers only)",
                config.user
            )),
        }
    }
    // What `kube play` reads back: no filter, or a profile under its default profile
    // root; another profile file cannot be named in the YAML.
    use crate::security::SeccompChoice;
    let profile_root = std::path::Path::new(crate::engine::DEFAULT_SECCOMP_PROFILE_ROOT);
    match &security.seccomp {
        SeccompChoice::Default => {}
        _ if security.privileged => {}
        SeccompChoice::Unconfined => {
            context.insert("seccompProfile".into(), json!({"type": "Unconfined"}));
        }
        SeccompChoice::Profile(path) if path.starts_with(profile_root) => {
            let relative = path.strip_prefix(profile_root).unwrap_or(path);
            context.insert(
                "seccompProfile".into(),
                json!({"type": "Localhost", "localhostProfile": relative.display().to_string()}),
            );
        }
        SeccompChoice::Profile(_) | SeccompChoice::Image(_) => warn(
            "a seccomp profile of its own (only one under /var/lib/kubelet/seccomp can be named)",
        ),
    }
    if !security.mask.is_empty() || !security.unmask.is_empty() {
        warn("masked paths of its own");
    }
    (!context.is_empty()).then_some(Value::Object(context))
}

/// Warnings for the settings no field above carries.
fn left_out(member: &Member, warn: &mut dyn FnMut(&str)) {
    let config = member.config;
    let isolation = &config.isolation;
    let is_infra = |mode: &NamespaceMode| matches!(mode, NamespaceMode::Container(id) if Some(id.as_str()) == member.infra_id);
    let image_signal = member
        .image
        .and_then(|i| i.stop_signal().clone())
        .and_then(|s| rpod_oci::signal::parse_signal(&s).ok())
        .unwrap_or(libc::SIGTERM);
    let checks: [(bool, &str); 17] = [
        (config.stop_signal != image_signal, "its stop signal"),
        (config.healthcheck.is_some(), "its health check"),
        (!config.secrets.is_empty(), "its secrets"),
        (!isolation.devices.is_empty(), "its devices"),
        (
            !isolation.device_cgroup_rules.is_empty(),
            "its device cgroup rules",
        ),
        (!isolation.ulimits.is_empty(), "its ulimits"),
        (!isolation.sysctls.is_empty(), "its sysctls"),
        (!isolation.group_add.is_empty(), "its added groups"),
        (isolation.init.is_some(), "--init"),
        (
            isolation
                .shm_size
                .is_some_and(|s| s != crate::isolation::DEFAULT_SHM_SIZE),
            "its /dev/shm size",
        ),
        (
            [&isolation.pid, &isolation.ipc, &isolation.uts]
                .iter()
                .any(|mode| **mode != NamespaceMode::Private && !is_infra(mode)),
            "its PID, IPC or UTS namespace",
        ),
        (
            config.resources != crate::resources::Resources::default()
                || config.pids_limit.is_some(),
            "limits other than memory and CPUs",
        ),
        (
            !config.net.dns_servers.is_empty()
                || !config.net.dns_search.is_empty()
                || !config.net.dns_options.is_empty()
                || !config.net.add_hosts.is_empty(),
            "its DNS settings and host entries",
        ),
        (
            !on_default_network(&config.net, member.default_network)
                || !match &config.network {
                    NetworkMode::Bridge | NetworkMode::Host => true,
                    NetworkMode::Container(id) => Some(id.as_str()) == member.infra_id,
                    _ => false,
                },
            "its network (a pod is made on the default network)",
        ),
        (
            config.log_size_max.is_some()
                || config.log_path.is_some()
                || config.log_tag.is_some()
                || !config.log_attributes.is_empty()
                || !config.log_to_file,
            "its log settings",
        ),
        (
            !config.unset_env.is_empty() || config.unset_env_all,
            "its unset environment variables",
        ),
        (config.timeout.is_some(), "its --timeout"),
    ];
    for (set, what) in checks {
        if set {
            warn(what);
        }
    }
}

/// The pod's volumes, named uniquely, as its containers' mounts use them.
#[derive(Default)]
struct Volumes {
    entries: Vec<Value>,
    names: BTreeSet<String>,
    /// A volume already listed, by what it is (so two containers share one entry).
    by_source: BTreeMap<String, String>,
}

impl Volumes {
    fn mounts_of(
        &mut self,
        config: &ContainerConfig,
        member: &Member,
        warn: &mut dyn FnMut(&str),
    ) -> Vec<Value> {
        let own_dir = member.own_dir;
        let mut mounts = Vec::new();
        for mount in &config.mounts {
            let empty_dir = mount.volume.as_ref().and_then(|v| member.empty_dirs.get(v));
            let (key, base, volume) = match (mount.kind, &mount.volume, empty_dir) {
                // No volume of a pod's says it (podman 4.3 writes a devpts as a host path
                // named `devpts`, which a cluster would bind from the host).
                (MountKind::Devpts, _, _) => {
                    warn(&format!("the devpts mount at {}", mount.destination));
                    continue;
                }
                // A volume Kubernetes binds would take the container's writes: none says
                // an overlay whose changes go elsewhere.
                _ if mount.overlay.is_some() => {
                    warn(&format!("the overlay mount (O) at {}", mount.destination));
                    continue;
                }
                // Kubernetes' image volumes are read-only.
                (MountKind::Image, _, _) if !mount.read_only() => {
                    warn(&format!(
                        "the read-write image mount at {}",
                        mount.destination
                    ));
                    continue;
                }
                (MountKind::Image, _, _) => {
                    let image = mount.source.to_string_lossy().into_owned();
                    // The image's last name, without its tag or digest.
                    let last = image.rsplit('/').next().unwrap_or_default();
                    let base = last.split(['@', ':']).next().unwrap_or_default();
                    (
                        Some(format!("image {image}")),
                        format!("{base}-image"),
                        json!({"image": {"reference": image, "pullPolicy": "IfNotPresent"}}),
                    )
                }
                (MountKind::Tmpfs, _, _) => (
                    None,
                    format!("{}-tmpfs", mount.destination),
                    json!({"emptyDir": {"medium": "Memory"}}),
                ),
                (MountKind::Bind, Some(_), _) if mount.anonymous => (
                    None,
                    format!("{}-empty", mount.destination),
                    json!({"emptyDir": {}}),
                ),
                (MountKind::Bind, Some(name), Some(own)) => (
                    Some(format!("volume {name}")),
                    own.clone(),
                    json!({"emptyDir": {}}),
                ),
                (MountKind::Bind, Some(name), None) => (
                    Some(format!("volume {name}")),
                    format!("{name}-pvc"),
                    json!({"persistentVolumeClaim": {"claimName": name}}),
                ),
                (MountKind::Bind, None, _) => {
                    if mount.source.starts_with(own_dir) {
                        // A file rpod made for the container (a secret): not the user's.
                        warn(&format!("the file rpod mounts at {}", mount.destination));
                        continue;
                    }
                    let mut host = Map::new();
                    host.insert("path".into(), json!(mount.source));
                    if let Some(kind) = host_path_type(&mount.source) {
                        host.insert("type".into(), json!(kind));
                    }
                    // podman's names: the path's components joined by `-`, `/` is `root`.
                    let path = mount.source.to_string_lossy();
                    let path = path.trim_matches('/');
                    let base = if path.is_empty() { "root" } else { path };
                    (
                        Some(format!("path {}", mount.source.display())),
                        format!("{base}-host"),
                        json!({ "hostPath": host }),
                    )
                }
            };
            let name = match key.as_ref().and_then(|k| self.by_source.get(k)) {
                Some(name) => name.clone(),
                None => {
                    let name = self.unique_name(&base);
                    let mut entry = Map::new();
                    entry.insert("name".into(), json!(name));
                    if let Value::Object(fields) = volume {
                        entry.extend(fields);
                    }
                    self.entries.push(Value::Object(entry));
                    if let Some(key) = key {
                        self.by_source.insert(key, name.clone());
                    }
                    name
                }
            };
            let mut entry = Map::new();
            entry.insert("name".into(), json!(name));
            entry.insert("mountPath".into(), json!(mount.destination));
            if mount.read_only() {
                entry.insert("readOnly".into(), json!(true));
            }
            if let Some(subpath) = &mount.subpath {
                entry.insert("subPath".into(), json!(subpath.display().to_string()));
            }
            mounts.push(Value::Object(entry));
        }
        mounts
    }

    /// A DNS label (lower-case letters, digits and `-`) from `base`, not yet taken.
    fn unique_name(&mut self, base: &str) -> String {
        let mut label = String::new();
        for c in base.chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                label.push(c);
            } else if !label.is_empty() && !label.ends_with('-') {
                label.push('-');
            }
        }
        let label = label.trim_end_matches('-');
        let label: String = label.chars().take(56).collect();
        let label = if label.is_empty() { "volume" } else { &label };
        let mut name = label.to_string();
        let mut n = 1;
        while !self.names.insert(name.clone()) {
            name = format!("{label}-{n}");
            n += 1;
        }
        name
    }
}

/// podman's hostPath types: what is at the path now, and `DirectoryOrCreate` (which `kube
/// play` makes) for nothing.
fn host_path_type(path: &Path) -> Option<&'static str> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some("DirectoryOrCreate"),
        Err(_) => return None,
    };
    if meta.is_dir() {
        Some("Directory")
    } else if meta.is_file() {
        Some("File")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restart::RestartPolicy;

    static NO_EMPTY_DIRS: BTreeMap<String, String> = BTreeMap::new();

    fn image_config(env: &[&str], workdir: &str) -> oci_spec::image::Config {
        serde_json::from_value(json!({"Env": env, "WorkingDir": workdir})).unwrap()
    }

    /// A seccomp profile under the kubelet's root is named as `Localhost`, relative to
    /// it; a privileged container's is not written (privilege has no filter).
    #[test]
    fn seccomp_profiles_under_the_kubelets_root_are_named() {
        use crate::security::SeccompChoice;
        let mut config = crate::container::test_config();
        config.security.seccomp = SeccompChoice::Profile(
            Path::new(crate::engine::DEFAULT_SECCOMP_PROFILE_ROOT).join("team/audit.json"),
        );
        let mut warnings = Vec::new();
        let context = security_context(&config, None, &mut |w| warnings.push(w.to_string()));
        assert_eq!(
            context.unwrap()["seccompProfile"],
            json!({"type": "Localhost", "localhostProfile": "team/audit.json"})
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        config.security.privileged = true;
        let context = security_context(&config, None, &mut |w| warnings.push(w.to_string()));
        assert_eq!(context.unwrap().get("seccompProfile"), None);
    }

    /// A container with a setting of every kind `kube play` reads back.
    fn web(dir: &Path) -> ContainerConfig {
        let mut config = crate::container::test_config();
        config.name = "web".into();
        config.image_name = "localhost/demo:latest".into();
        config.entrypoint = Some(vec!["httpd".into()]);
        config.cmd = vec!["-f".into(), "-p".into(), "80".into()];
        config.env = vec!["PATH=/bin".into(), "MODE=test".into()];
        config.workdir = "/srv".into();
        config.user = "1000:100".into();
        config.memory = Some(64 << 20);
        config.cpus = Some(0.5);
        config.read_only = true;
        config.terminal = true;
        config.network = NetworkMode::Bridge;
        config.restart = RestartPolicy::parse("always").unwrap();
        config.security = crate::security::SecurityOptions::from_flags(
            false,
            &[],
            &["NET_RAW".into()],
            &["no-new-privileges".into()],
        )
        .unwrap();
        let made_later = dir.join("made-later");
        config.mounts = vec![
            crate::mounts::bind(dir.to_str().unwrap(), "/site", &["ro"], None).unwrap(),
            crate::mounts::bind_to_make(made_later.to_str().unwrap(), "/later", &[]).unwrap(),
            crate::mounts::named_volume("shop-data", "/data", &[]).unwrap(),
            crate::mounts::tmpfs("/scratch", &[]).unwrap(),
            crate::mounts::anonymous_volume("/cache", &[]).unwrap(),
        ];
        config.net.ports = crate::network::ports::parse_publish("127.0.0.1:8080:80/tcp").unwrap();
        config
    }

    fn generate(
        config: &ContainerConfig,
        image: &oci_spec::image::Config,
    ) -> (String, Vec<String>) {
        let own_dir = Path::new("/var/lib/rpod/containers/a");
        let members = [Member {
            config,
            image: Some(image),
            own_dir,
            infra_id: None,
            default_network: "rpod",
            empty_dirs: &NO_EMPTY_DIRS,
        }];
        let shape = PodShape {
            name: "web-pod",
            labels: BTreeMap::from([("app".to_string(), "shop".to_string())]),
            annotations: BTreeMap::new(),
            hostname: Some("front"),
            host_network: false,
            ports: &config.net.ports,
            created: Utc::now(),
            strip_prefix: None,
        };
        let (document, warnings) = pod_document(&shape, &members).unwrap();
        (render(&[document]).unwrap(), warnings)
    }

    /// `--service`: a NodePort Service of the pod's published ports (a range is a port
    /// each; UDP said so), its node ports in Kubernetes' range and the same each time, the
    /// pod selected by an `app` label it is given; none for a pod without ports. `kube play`
    /// reads the Service and plays the pod alone.
    #[test]
    fn a_service_is_written_for_published_ports_and_read_back() {
        let ports = [
            crate::network::ports::parse_publish("8080:80/tcp").unwrap(),
            crate::network::ports::parse_publish("5353-5354:53-54/udp").unwrap(),
        ]
        .concat();
        let shape = || PodShape {
            name: "web",
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            hostname: None,
            host_network: false,
            ports: &ports,
            created: Utc::now(),
            strip_prefix: None,
        };
        let (mut first, mut warnings) = (shape(), Vec::new());
        let service = service_document(&mut first, &mut warnings).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(first.labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(service["spec"]["selector"], json!({"app": "web"}));
        let listed = service["spec"]["ports"].as_array().unwrap();
        let numbers: Vec<u64> = listed.iter().map(|p| p["port"].as_u64().unwrap()).collect();
        assert_eq!(numbers, [80, 53, 54]);
        assert_eq!(listed[1]["protocol"], "UDP");
        assert!(listed[0].get("protocol").is_none());
        for port in listed {
            let node = port["nodePort"].as_u64().unwrap();
            assert!((30000..=32767).contains(&node), "{node}");
        }
        let again = service_document(&mut shape(), &mut Vec::new()).unwrap();
        assert_eq!(again["spec"]["ports"], service["spec"]["ports"]);
        let none: [PortMapping; 0] = [];
        let mut bare = PodShape {
            ports: &none,
            ..shape()
        };
        assert!(service_document(&mut bare, &mut warnings).is_none());
        assert!(warnings[0].contains("no port"), "{warnings:?}");

        let yaml = render(&[
            service,
            json!({"kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": [{"name": "a", "image": "demo"}]}}),
        ])
        .unwrap();
        assert_eq!(crate::kube::plan(&yaml, &[]).unwrap().len(), 1);
        assert_eq!(crate::kube::pod_names(&yaml).unwrap(), ["web"]);
        assert_eq!(crate::kube::service_names(&yaml).unwrap(), ["web"]);
    }

    /// A pod's init containers are its `initContainers`, ahead of the others whatever the
    /// order of the members; their type is the pod's annotation when it is `always` (`once`
    /// is what `kube play` makes without one); the pod's ports and restart policy are its
    /// other containers'. `kube play` makes them init containers again.
    #[test]
    fn init_containers_are_written_and_played_back() {
        let dir = tempfile::tempdir().unwrap();
        let web = web(dir.path());
        let mut setup = crate::container::test_config();
        setup.name = "setup".into();
        setup.image_name = "localhost/demo:latest".into();
        setup.cmd = vec!["true".into()];
        setup.args = vec!["true".into()];
        setup.network = NetworkMode::Bridge;
        let image = image_config(&["PATH=/bin"], "/");
        let own_dir = Path::new("/var/lib/rpod/containers/a");
        let shape = PodShape {
            name: "web-pod",
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            hostname: None,
            host_network: false,
            ports: &web.net.ports,
            created: Utc::now(),
            strip_prefix: None,
        };
        for (kind, annotated) in [
            (crate::container::InitContainerType::Always, true),
            (crate::container::InitContainerType::Once, false),
        ] {
            setup.init_container = Some(kind);
            let member = |config| Member {
                config,
                image: Some(&image),
                own_dir,
                infra_id: None,
                default_network: "rpod",
                empty_dirs: &NO_EMPTY_DIRS,
            };
            let (document, warnings) =
                pod_document(&shape, &[member(&web), member(&setup)]).unwrap();
            assert!(warnings.is_empty(), "{warnings:?}");
            let yaml = render(&[document]).unwrap();
            assert_eq!(
                yaml.contains("io.podman.annotations.init.container.type: always"),
                annotated,
                "{yaml}"
            );
            let plan = &crate::kube::plan(&yaml, &[]).unwrap()[0];
            assert_eq!(plan.init_containers.len(), 1, "{yaml}");
            let init = &plan.init_containers[0].options;
            assert_eq!(init.name.as_deref(), Some("web-pod-setup"));
            assert_eq!(init.init_container, Some(kind));
            // The pod's ports are the web container's.
            let (before_inits, inits) = yaml.split_once("initContainers:").unwrap();
            assert!(before_inits.contains("containerPort: 80"), "{yaml}");
            assert!(!inits.contains("containerPort"), "{yaml}");
            let played = &plan.containers[0].options;
            assert_eq!(played.name.as_deref(), Some("web-pod-web"));
            assert_eq!(played.init_container, None);
            assert_eq!(played.restart, web.restart);
        }
        // A pod of init containers only has no Kubernetes form (`kube play` refuses one):
        // refused, not written with its ports given to no container.
        let only = Member {
            config: &setup,
            image: Some(&image),
            own_dir,
            infra_id: None,
            default_network: "rpod",
            empty_dirs: &NO_EMPTY_DIRS,
        };
        let err = pod_document(&shape, &[only]).unwrap_err().to_string();
        assert!(err.contains("no container but its infra and init"), "{err}");
    }

    #[test]
    fn kube_play_makes_the_container_again() {
        let dir = tempfile::tempdir().unwrap();
        let config = web(dir.path());
        let image = image_config(&["PATH=/bin"], "/");
        let (yaml, warnings) = generate(&config, &image);
        // Nothing is left out: not the default network either (as a bridged container
        // records it), though another network is.
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut on_default = config.clone();
        on_default.net.networks = vec![crate::container::NetworkJoin {
            name: "rpod".into(),
            ..Default::default()
        }];
        assert!(generate(&on_default, &image).1.is_empty());
        let mut elsewhere = on_default.clone();
        elsewhere.net.networks[0].name = "lab".into();
        assert!(generate(&elsewhere, &image).1[0].contains("its network"));
        let plans = crate::kube::plan(&yaml, &[]).unwrap();
        assert_eq!(plans.len(), 1, "{yaml}");
        let plan = &plans[0];
        assert_eq!(plan.name, "web-pod");
        assert_eq!(plan.pod.hostname.as_deref(), Some("front"));
        assert_eq!(plan.pod.labels.get("app").map(String::as_str), Some("shop"));
        assert_eq!(plan.pod.infra_options.net.ports, config.net.ports);
        let played = &plan.containers[0];
        assert_eq!(played.make_dirs, [dir.path().join("made-later")]);
        let options = &played.options;
        assert_eq!(options.name.as_deref(), Some("web-pod-web"));
        assert_eq!(options.image.as_deref(), Some("localhost/demo:latest"));
        assert_eq!(options.entrypoint, config.entrypoint);
        assert_eq!(options.command, config.cmd);
        // The image's PATH comes from the image again.
        assert_eq!(options.env, ["MODE=test"]);
        assert_eq!(options.workdir.as_deref(), Some("/srv"));
        assert_eq!(options.user.as_deref(), Some("1000:100"));
        assert_eq!(options.memory, config.memory);
        assert_eq!(options.cpus, config.cpus);
        assert!(options.read_only && options.terminal && !options.stdin);
        assert_eq!(options.restart, config.restart);
        assert_eq!(options.security, config.security);
        let mounts: Vec<(MountKind, &str, Option<&str>, bool, bool)> = options
            .mounts
            .iter()
            .map(|m| {
                (
                    m.kind,
                    m.destination.as_str(),
                    m.volume.as_deref(),
                    m.anonymous,
                    m.read_only(),
                )
            })
            .collect();
        assert_eq!(
            mounts,
            [
                (MountKind::Bind, "/site", None, false, true),
                (MountKind::Bind, "/later", None, false, false),
                (MountKind::Bind, "/data", Some("shop-data"), false, false),
                (MountKind::Tmpfs, "/scratch", None, false, false),
                // The anonymous volume, written as an emptyDir, comes back as the pod's.
                (
                    MountKind::Bind,
                    "/cache",
                    Some("web-pod-cache-empty-emptydir"),
                    false,
                    false
                ),
            ]
        );
        assert_eq!(options.mounts[0].source, dir.path());
    }

    #[test]
    fn what_kubernetes_cannot_say_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = web(dir.path());
        config.stop_signal = libc::SIGKILL;
        config.user = "www".into();
        config.net.dns_servers = vec!["10.0.0.1".into()];
        config.isolation.ulimits = vec![crate::isolation::parse_ulimit("nofile=10:10").unwrap()];
        config.network = NetworkMode::None;
        config.restart = RestartPolicy::parse("on-failure:3").unwrap();
        // A secret rpod put in the container's directory is rpod's, not a host path.
        let secret = crate::mounts::bind_to_make(
            "/var/lib/rpod/containers/a/secrets/key",
            "/run/secrets/key",
            &[],
        )
        .unwrap();
        config.mounts.push(secret);
        config
            .mounts
            .push(crate::mounts::image("tools", "/tools", true).unwrap());
        config
            .mounts
            .push(crate::mounts::devpts("/dev/pts2", &[]).unwrap());
        // A read-only image mount is an image volume.
        config
            .mounts
            .push(crate::mounts::image("localhost/lib:1", "/lib", false).unwrap());
        let (yaml, warnings) = generate(&config, &image_config(&[], "/"));
        let said = warnings.join("\n");
        assert!(!yaml.contains("tools") && !yaml.contains("pts2"), "{yaml}");
        for line in [
            "reference: localhost/lib:1",
            "pullPolicy: IfNotPresent",
            "name: lib-image",
            "mountPath: /lib",
        ] {
            assert!(yaml.contains(line), "{line} not in {yaml}");
        }
        for what in [
            "the read-write image mount at /tools",
            "the devpts mount at /dev/pts2",
            "its stop signal",
            "the user \"www\"",
            "its DNS settings",
            "its ulimits",
            "its network",
            "retry limit (3)",
            "the file rpod mounts at /run/secrets/key",
        ] {
            assert!(said.contains(what), "{what} not in {said}");
        }
        assert!(!yaml.contains("secrets"), "{yaml}");
        assert!(!yaml.contains("runAsUser"), "{yaml}");
    }

    #[test]
    fn volume_names_are_dns_labels_and_unique() {
        let mut volumes = Volumes::default();
        assert_eq!(volumes.unique_name("srv/My_Data-host"), "srv-my-data-host");
        assert_eq!(
            volumes.unique_name("srv/my.data-host"),
            "srv-my-data-host-1"
        );
        assert_eq!(volumes.unique_name("///"), "volume");
        assert_eq!(volumes.unique_name(&"x".repeat(80)).len(), 56);
    }
}
