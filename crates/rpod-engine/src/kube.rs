//! Kubernetes YAML for `kube play` and `kube down`: the `Pod` and `Deployment` documents
//! of a file turned into what `pod create` and `create --pod` take, as podman's `kube play`
//! does. Only the fields rpod can honour are read; any other field that would change what
//! runs is refused by its path (`spec.containers[0].livenessProbe`), never dropped.
//! Fields that only inform a scheduler or a cluster (`resources.requests`,
//! `terminationMessagePath`, ...) are passed over.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_norway::Value;

use crate::engine::{CreateOptions, PodOptions};
use crate::mounts::MountSpec;
use crate::network::ports::PortMapping;
use crate::restart::RestartPolicy;
use crate::{EngineError, Result};

/// The largest Kubernetes YAML `kube play` and `kube down` read (from a file, standard
/// input or a request body): such files are small, and a larger input is refused unread.
pub const MAX_YAML: u64 = 4 << 20;

/// A document's fields that no kind of rpod's uses but that do not change what runs.
const PASSED_OVER: &[&str] = &[
    // Container.
    "terminationMessagePath",
    "terminationMessagePolicy",
    // PodSpec.
    "dnsPolicy",
    "schedulerName",
    "enableServiceLinks",
    "serviceAccountName",
    "serviceAccount",
    "nodeSelector",
    "affinity",
    "tolerations",
    "priority",
    "priorityClassName",
    // Metadata.
    "namespace",
    "creationTimestamp",
    "uid",
    "resourceVersion",
    "generation",
    // Deployment, DaemonSet.
    "selector",
    "strategy",
    "updateStrategy",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "minReadySeconds",
];

fn refuse(path: &str, what: impl std::fmt::Display) -> EngineError {
    EngineError::NotSupported(format!("kube play: {path}: {what}"))
}

fn bad(path: &str, what: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("kube play: {path}: {what}"))
}

/// Fields left in `rest` that change what runs.
fn check_rest(path: &str, rest: &BTreeMap<String, Value>) -> Result<()> {
    match rest
        .iter()
        .find(|(key, value)| !PASSED_OVER.contains(&key.as_str()) && !is_empty(value))
    {
        Some((key, _)) => Err(refuse(&format!("{path}.{key}"), "not supported")),
        None => Ok(()),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Mapping(m) => m.is_empty(),
        Value::Sequence(s) => s.is_empty(),
        _ => false,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    spec: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentSpec {
    #[serde(default)]
    replicas: Option<u32>,
    template: Template,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Template {
    #[serde(default)]
    metadata: Metadata,
    /// Read as a `PodSpec` once for each replica.
    spec: Value,
}

/// The most replicas of a Deployment one `kube play` makes: each is a pod with its infra
/// container and its own, on this one host.
const MAX_REPLICAS: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    containers: Vec<Container>,
    /// Run one at a time, each to a successful end, before the containers start.
    #[serde(default)]
    init_containers: Vec<Container>,
    #[serde(default)]
    restart_policy: Option<String>,
    #[serde(default)]
    host_network: bool,
    /// `false`: a user namespace of the pod's own (Kubernetes' user namespaces), which
    /// `kube play` makes as `--userns auto` does, as podman does.
    #[serde(default)]
    host_users: Option<bool>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    volumes: Vec<Volume>,
    #[serde(default)]
    termination_grace_period_seconds: Option<u32>,
    /// The pod's: only its seccomp profile is taken (the rest is refused).
    #[serde(default)]
    security_context: Option<PodSecurityContext>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSecurityContext {
    #[serde(default)]
    seccomp_profile: Option<SeccompProfile>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// `securityContext.seccompProfile`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeccompProfile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    localhost_profile: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: String,
    image: String,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Vec<EnvVar>,
    #[serde(default)]
    env_from: Vec<EnvFromSource>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    ports: Vec<ContainerPort>,
    #[serde(default)]
    resources: Option<Resources>,
    #[serde(default)]
    security_context: Option<SecurityContext>,
    #[serde(default)]
    volume_mounts: Vec<VolumeMount>,
    #[serde(default)]
    stdin: bool,
    #[serde(default)]
    tty: bool,
    #[serde(default)]
    image_pull_policy: Option<String>,
    #[serde(default)]
    liveness_probe: Option<Probe>,
    /// Run instead of the liveness probe until it passes; restarts the container when it
    /// fails `failureThreshold` times.
    #[serde(default)]
    startup_probe: Option<Probe>,
    /// Only a Service's routing waits for it: passed over, as podman does.
    #[serde(default)]
    #[allow(dead_code)]
    readiness_probe: Option<Value>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// A `livenessProbe`: the container's health check, which restarts it when it fails, as
/// Kubernetes does (and podman's `kube play`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    exec: Option<ExecAction>,
    #[serde(default)]
    http_get: Option<HttpGetAction>,
    #[serde(default)]
    tcp_socket: Option<TcpSocketAction>,
    #[serde(default)]
    initial_delay_seconds: Option<u64>,
    #[serde(default)]
    period_seconds: Option<u64>,
    #[serde(default)]
    timeout_seconds: Option<u64>,
    #[serde(default)]
    failure_threshold: Option<u32>,
    /// Always 1 for liveness and startup probes (Kubernetes refuses another value).
    #[serde(default)]
    success_threshold: Option<u32>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
struct ExecAction {
    command: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpGetAction {
    #[serde(default)]
    path: Option<String>,
    port: Value,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    http_headers: Vec<HttpHeader>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// A header an `httpGet` probe sends.
#[derive(Debug, Deserialize)]
struct HttpHeader {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct TcpSocketAction {
    port: Value,
    #[serde(default)]
    host: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvVar {
    name: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    value_from: Option<Value>,
}

/// `envFrom`: every key of a ConfigMap as a variable.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvFromSource {
    #[serde(default)]
    config_map_ref: Option<ConfigMapRef>,
    #[serde(default)]
    secret_ref: Option<ConfigMapRef>,
    #[serde(default)]
    prefix: String,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMapRef {
    name: String,
    #[serde(default)]
    optional: bool,
}

/// `valueFrom.configMapKeyRef`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMapKeyRef {
    name: String,
    key: String,
    #[serde(default)]
    optional: bool,
}

/// `valueFrom.fieldRef`: a field of the pod's own.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FieldRef {
    field_path: String,
}

/// `valueFrom.resourceFieldRef`: the container's limit or request of a resource.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceFieldRef {
    resource: String,
    #[serde(default)]
    divisor: Option<Value>,
    /// Only the container's own resources are known here.
    #[serde(default)]
    container_name: Option<String>,
}

/// What a pod's containers may read of it (`fieldRef`).
struct PodFields<'a> {
    name: &'a str,
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
}

/// A `configMap` volume: the ConfigMap's keys (or `items` of them) as files.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMapVolume {
    name: String,
    #[serde(default)]
    items: Vec<KeyToPath>,
    #[serde(default)]
    default_mode: Option<Value>,
    #[serde(default)]
    optional: bool,
}

/// A file mode as Kubernetes YAML writes it: a number (`420`), or `0440`, which YAML 1.1
/// (Kubernetes' reader) takes as octal and this reader keeps as text; `0o440` too.
fn file_mode(value: &Value, at: &str) -> Result<u32> {
    let mode = match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(text) => {
            let octal = text.strip_prefix("0o").or_else(|| text.strip_prefix('0'));
            match octal {
                Some(digits) if !digits.is_empty() => u32::from_str_radix(digits, 8).ok(),
                _ => text.parse().ok(),
            }
        }
        _ => None,
    };
    mode.filter(|m| *m <= 0o777)
        .ok_or_else(|| bad(at, format!("{value:?} is not a file mode within 0777")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyToPath {
    key: String,
    path: String,
    #[serde(default)]
    mode: Option<Value>,
}

/// The ConfigMaps `kube play` knows: the file's `kind: ConfigMap` documents and those of
/// `--configmap` files, by name: each key's value.
pub type ConfigMaps = BTreeMap<String, DataKeys>;

/// A ConfigMap's or Secret's keys and values.
pub type DataKeys = BTreeMap<String, Vec<u8>>;

/// Where `kube play` looks for a Secret the file has not: rpod's secret store, by name
/// (the stored data), so that only the secrets a file names are read.
pub type StoredSecrets<'a> = &'a dyn Fn(&str) -> Option<Vec<u8>>;

/// What the pods of a file take from besides their images: ConfigMaps and the file's
/// Secrets (the same shape: keys and values), by name; Secrets the file has not are looked
/// up in `stored` when named, once each.
struct KubeData<'a> {
    config_maps: ConfigMaps,
    secrets: ConfigMaps,
    stored: StoredSecrets<'a>,
    /// What `stored` gave for each name looked up (`None`: no Secret there).
    stored_seen: std::cell::RefCell<BTreeMap<String, Option<DataKeys>>>,
}

/// Which of `KubeData`'s maps a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    ConfigMap,
    Secret,
}

impl DataKind {
    fn name(self) -> &'static str {
        match self {
            DataKind::ConfigMap => "ConfigMap",
            DataKind::Secret => "Secret",
        }
    }

    /// Where one was looked for, beyond the file, for an error.
    fn looked_in(self) -> &'static str {
        match self {
            DataKind::ConfigMap => "",
            DataKind::Secret => {
                " (in the file, or in rpod's secret store as a Kubernetes Secret's YAML)"
            }
        }
    }
}

impl KubeData<'_> {
    /// The keys of the ConfigMap or Secret `name`.
    fn get(&self, kind: DataKind, name: &str) -> Option<DataKeys> {
        match kind {
            DataKind::ConfigMap => self.config_maps.get(name).cloned(),
            DataKind::Secret => self
                .secrets
                .get(name)
                .cloned()
                .or_else(|| self.stored_secret(name)),
        }
    }

    /// The stored secret `name` when it holds a Kubernetes Secret's YAML (as podman's
    /// `kube play` takes its store's); another stored secret is not one.
    fn stored_secret(&self, name: &str) -> Option<DataKeys> {
        if let Some(keys) = self.stored_seen.borrow().get(name) {
            return keys.clone();
        }
        let keys = (self.stored)(name)
            .and_then(|data| String::from_utf8(data).ok())
            .and_then(|text| documents(&text).ok())
            .and_then(|values| values.into_iter().next())
            .filter(|value| value.get("kind").and_then(Value::as_str) == Some("Secret"))
            .and_then(|value| data_document(&value, DataKind::Secret).ok())
            .map(|(_, keys)| keys);
        self.stored_seen
            .borrow_mut()
            .insert(name.to_string(), keys.clone());
        keys
    }
}

/// A volume `kube play` fills before the pod's containers are made: the files of a
/// `configMap` volume (path in the volume, content, permissions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilledVolume {
    /// The named volume (the ConfigMap's name, as podman names it).
    pub name: String,
    pub files: Vec<(std::path::PathBuf, Vec<u8>, u32)>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerPort {
    container_port: u16,
    #[serde(default)]
    host_port: Option<u16>,
    #[serde(default, rename = "hostIP")]
    host_ip: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    /// Names the port for a Service, and for a probe's `port`.
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resources {
    #[serde(default)]
    limits: BTreeMap<String, Value>,
    /// Scheduling hints: nothing runs differently for them, but `resourceFieldRef`
    /// reads them.
    #[serde(default)]
    requests: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecurityContext {
    #[serde(default)]
    privileged: Option<bool>,
    #[serde(default)]
    run_as_user: Option<u32>,
    #[serde(default)]
    run_as_group: Option<u32>,
    #[serde(default)]
    read_only_root_filesystem: Option<bool>,
    #[serde(default)]
    allow_privilege_escalation: Option<bool>,
    #[serde(default)]
    capabilities: Option<Capabilities>,
    #[serde(default)]
    seccomp_profile: Option<SeccompProfile>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Capabilities {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    drop: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    name: String,
    mount_path: String,
    #[serde(default)]
    read_only: bool,
    /// Only this path inside the volume (resolved inside it at each start).
    #[serde(default)]
    sub_path: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    name: String,
    #[serde(default)]
    host_path: Option<HostPath>,
    #[serde(default)]
    empty_dir: Option<Value>,
    #[serde(default)]
    persistent_volume_claim: Option<Claim>,
    #[serde(default)]
    config_map: Option<ConfigMapVolume>,
    #[serde(default)]
    secret: Option<SecretVolume>,
    #[serde(default)]
    image: Option<ImageSource>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

impl Volume {
    /// How many sources the volume names (`hostPath`, `emptyDir`, ...).
    fn sources(&self) -> usize {
        [
            self.host_path.is_some(),
            self.empty_dir.is_some(),
            self.persistent_volume_claim.is_some(),
            self.config_map.is_some(),
            self.secret.is_some(),
            self.image.is_some(),
        ]
        .into_iter()
        .filter(|given| *given)
        .count()
    }
}

/// An `image` volume (Kubernetes 1.31's): a local or pulled image's files, read-only.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageSource {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    pull_policy: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// A `secret` volume: a Secret's keys (or `items` of them) as files.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretVolume {
    secret_name: String,
    #[serde(default)]
    items: Vec<KeyToPath>,
    #[serde(default)]
    default_mode: Option<Value>,
    #[serde(default)]
    optional: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostPath {
    path: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claim {
    claim_name: String,
    #[serde(default)]
    read_only: bool,
}

/// When a container's image is pulled (`imagePullPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// `IfNotPresent` (the default here, as podman's for a tagged image).
    Missing,
    Always,
    Never,
}

/// One container of a planned pod.
#[derive(Debug, Clone)]
pub struct PlannedContainer {
    pub options: CreateOptions,
    pub pull: PullPolicy,
    /// A `hostPath` of type `DirectoryOrCreate` is made before the create.
    pub make_dirs: Vec<std::path::PathBuf>,
    /// A `Localhost` seccomp profile: its path under `kube play --seccomp-profile-root`
    /// (relative, without `..`), resolved when the pod is played.
    pub seccomp_profile: Option<String>,
    /// Variables whose value is the pod's ID (`fieldRef` to `metadata.uid`, podman's
    /// pod ID), known only once the pod is made: set then (`with_pod_id`).
    pub pod_id_env: Vec<String>,
}

impl PlannedContainer {
    /// The options with the pod's ID in the variables that read `metadata.uid`.
    pub fn with_pod_id(mut self, pod_id: &str) -> CreateOptions {
        for name in &self.pod_id_env {
            if let Some(entry) = self
                .options
                .env
                .iter_mut()
                .find(|e| e.split('=').next() == Some(name.as_str()))
            {
                *entry = format!("{name}={pod_id}");
            }
        }
        self.options
    }
}

/// The seccomp profile a pod or container asks for (Kubernetes' `seccompProfile`, or the
/// older annotations podman reads).
#[derive(Debug, Clone, PartialEq, Eq)]
enum KubeSeccomp {
    RuntimeDefault,
    Unconfined,
    /// A file under the profile root.
    Localhost(String),
}

/// The pod's seccomp annotation, and the prefix of a container's (followed by its name),
/// as podman reads them.
const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// A `Localhost` profile's path: relative, and never out of the profile root.
fn localhost_profile(path: &str, at: &str) -> Result<KubeSeccomp> {
    let relative = std::path::Path::new(path);
    let inside = !path.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(bad(
            at,
            format!("{path:?} is not a path under the seccomp profile root"),
        ));
    }
    Ok(KubeSeccomp::Localhost(path.to_string()))
}

/// An annotation's value: `runtime/default` (or Docker's `docker/default`), `unconfined`,
/// `localhost/PATH`.
fn seccomp_annotation(value: &str, at: &str) -> Result<KubeSeccomp> {
    match value {
        "runtime/default" | "docker/default" => Ok(KubeSeccomp::RuntimeDefault),
        "unconfined" => Ok(KubeSeccomp::Unconfined),
        other => match other.strip_prefix("localhost/") {
            Some(path) => localhost_profile(path, at),
            None => Err(bad(
                at,
                format!("{other:?} is not runtime/default, unconfined or localhost/PATH"),
            )),
        },
    }
}

impl SeccompProfile {
    fn choice(&self, at: &str) -> Result<KubeSeccomp> {
        check_rest(at, &self.rest)?;
        let given = self.localhost_profile.as_deref();
        match (self.kind.as_str(), given) {
            ("RuntimeDefault", None) => Ok(KubeSeccomp::RuntimeDefault),
            ("Unconfined", None) => Ok(KubeSeccomp::Unconfined),
            ("Localhost", Some(path)) => localhost_profile(path, &format!("{at}.localhostProfile")),
            ("Localhost", None) => Err(bad(at, "type Localhost needs its localhostProfile")),
            ("RuntimeDefault" | "Unconfined", Some(_)) => Err(bad(
                &format!("{at}.localhostProfile"),
                "only with type Localhost",
            )),
            (other, _) => Err(bad(
                &format!("{at}.type"),
                format!("{other:?} is not RuntimeDefault, Unconfined or Localhost"),
            )),
        }
    }
}

/// A pod of the file, ready to be made.
#[derive(Debug, Clone)]
pub struct PlannedPod {
    pub name: String,
    pub pod: PodOptions,
    /// `initContainers`: the pod's init containers (`--init-ctr`), `once` unless the pod's
    /// `io.podman.annotations.init.container.type` annotation says `always` (as podman's).
    pub init_containers: Vec<PlannedContainer>,
    pub containers: Vec<PlannedContainer>,
    /// The `configMap` volumes its containers mount, filled before they are made.
    pub filled_volumes: Vec<FilledVolume>,
    /// The volumes of its `emptyDir`s on disk (`empty_dir_volume_name`), made empty for
    /// the pod and shared by the containers that mount them, init containers included.
    pub empty_dirs: Vec<String>,
    /// The images of its `image` volumes, pulled as their `pullPolicy` says before the
    /// containers are made.
    pub volume_images: Vec<(String, PullPolicy)>,
}

/// The label that marks a volume as the emptyDir of the pod it names.
pub const EMPTY_DIR_LABEL: &str = "io.rpod.kube.emptydir";

/// The volume of a pod's `emptyDir` named `volume`.
pub fn empty_dir_volume_name(pod: &str, volume: &str) -> String {
    format!("{pod}-{volume}-emptydir")
}

/// The emptyDir's name in `empty_dir_volume_name`'s `volume` of pod `pod`.
pub fn empty_dir_of_volume<'a>(volume: &'a str, pod: &str) -> Option<&'a str> {
    volume
        .strip_prefix(pod)?
        .strip_prefix('-')?
        .strip_suffix("-emptydir")
}

/// The names of the pods a file makes (`kube down`): its Pods' names, its Deployments'
/// with `-pod`; what the pods take (ConfigMaps) need not be there, and its claims'
/// volumes are the user's data, which `kube down` keeps.
pub fn pod_names(yaml: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    // A PersistentVolumeClaim, Deployment or DaemonSet (one scaled to none has no pod).
    let mut named_something = false;
    for (index, value) in documents(yaml)?.into_iter().enumerate() {
        let document: Document = serde_norway::from_value(value)
            .map_err(|e| bad(&format!("document {}", index + 1), e))?;
        match document.kind.as_str() {
            "Pod" => names.push(document.metadata.name),
            kind @ ("Deployment" | "DaemonSet") => {
                let replicas = document
                    .spec
                    .get("replicas")
                    .map(|r| {
                        serde_norway::from_value::<u32>(r.clone())
                            .map_err(|e| bad("spec.replicas", e))
                    })
                    .transpose()?;
                names.extend(workload_pod_names(kind, &document.metadata.name, replicas)?);
                named_something = true;
            }
            "PersistentVolumeClaim" => named_something = true,
            "ConfigMap" | "Secret" | "Service" => {}
            other => return Err(kind_error(other, index)),
        }
    }
    if names.is_empty() && !named_something {
        return Err(bad(
            "the file",
            "no Pod, Deployment, DaemonSet or PersistentVolumeClaim in it",
        ));
    }
    Ok(names)
}

/// The pods of a Deployment or DaemonSet named `name`: podman names one after it, with
/// `-pod` (later podmans, which make one replica), and each of a Deployment's `replicas` (when
/// not 1) `-pod-N` (4.3, which makes them all); a DaemonSet's is one, on this one node.
fn workload_pod_names(kind: &str, name: &str, replicas: Option<u32>) -> Result<Vec<String>> {
    let base = format!("{name}-pod");
    match (kind, replicas) {
        ("Deployment", Some(n)) if n > MAX_REPLICAS => Err(refuse(
            "spec.replicas",
            format!("more than {MAX_REPLICAS} replicas on one host"),
        )),
        ("Deployment", Some(n)) if n != 1 => Ok((0..n).map(|i| format!("{base}-{i}")).collect()),
        _ => Ok(vec![base]),
    }
}

/// A `kind: PersistentVolumeClaim`: the named volume it stands for, as podman makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedVolume {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The local driver's options (`device`, `type`, `o`), from podman's annotations.
    pub options: BTreeMap<String, String>,
}

/// podman's annotations of a claim that set its volume's options.
const VOLUME_ANNOTATIONS: &str = "volume.podman.io/";

/// The file's `PersistentVolumeClaim`s as volumes: `metadata.name`, its labels, and the
/// local driver's options from podman's annotations (`volume.podman.io/device`, `type`,
/// `mount-options`, `uid`, `gid`; `driver` only `local`). What a claim asks of a cluster
/// (`spec.accessModes`, `resources.requests.storage`, a storage class) is passed over.
#[cfg(test)]
pub fn volume_claims(yaml: &str) -> Result<Vec<PlannedVolume>> {
    volume_claims_of(&documents(yaml)?)
}

/// `volume_claims` of a file's documents.
fn volume_claims_of(values: &[Value]) -> Result<Vec<PlannedVolume>> {
    let mut volumes = Vec::new();
    for (index, value) in values.iter().enumerate() {
        if value.get("kind").and_then(Value::as_str) != Some("PersistentVolumeClaim") {
            continue;
        }
        let at = format!("document {} (PersistentVolumeClaim)", index + 1);
        let document: Document =
            serde_norway::from_value(value.clone()).map_err(|e| bad(&at, e))?;
        check_rest("metadata", &document.metadata.rest)?;
        let name = document.metadata.name;
        if name.is_empty() {
            return Err(bad(&format!("{at} metadata.name"), "a claim needs a name"));
        }
        let mut options = BTreeMap::new();
        let mut mount_options = Vec::new();
        for (key, value) in &document.metadata.annotations {
            let Some(option) = key.strip_prefix(VOLUME_ANNOTATIONS) else {
                continue;
            };
            let path = format!("{at} metadata.annotations.{key}");
            match option {
                "driver" if value == "local" => {}
                "driver" => return Err(refuse(&path, format!("the volume driver {value:?}"))),
                "device" | "type" => {
                    options.insert(option.to_string(), value.clone());
                }
                "mount-options" => mount_options.push(value.clone()),
                "uid" | "gid" => {
                    value
                        .parse::<u32>()
                        .map_err(|_| bad(&path, format!("{value:?} is not a number")))?;
                    mount_options.push(format!("{option}={value}"));
                }
                _ => return Err(refuse(&path, "not supported")),
            }
        }
        if !mount_options.is_empty() {
            options.insert("o".into(), mount_options.join(","));
        }
        volumes.push(PlannedVolume {
            name,
            labels: document.metadata.labels,
            options,
        });
    }
    Ok(volumes)
}

/// The names of the file's `Service` documents. A Service needs a cluster (its address,
/// its node ports on every node): `kube play` makes nothing of one, as podman's, and the
/// pods' own `hostPort`s publish their ports; the caller says so.
#[cfg(test)]
pub fn service_names(yaml: &str) -> Result<Vec<String>> {
    service_names_of(&documents(yaml)?)
}

/// `service_names` of a file's documents.
fn service_names_of(values: &[Value]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (index, value) in values.iter().enumerate() {
        if value.get("kind").and_then(Value::as_str) != Some("Service") {
            continue;
        }
        let document: Document = serde_norway::from_value(value.clone())
            .map_err(|e| bad(&format!("document {}", index + 1), e))?;
        names.push(document.metadata.name);
    }
    Ok(names)
}

/// The error for document `index` of a kind rpod does not play (or of none).
fn kind_error(kind: &str, index: usize) -> EngineError {
    if kind.is_empty() {
        return bad(&format!("document {}", index + 1), "no kind");
    }
    refuse(
        "kind",
        format!(
            "{kind} (rpod plays Pod, Deployment, DaemonSet, PersistentVolumeClaim, ConfigMap and Secret, and reads Service)"
        ),
    )
}

/// The documents of a YAML text, as values (empty ones left out).
fn documents(yaml: &str) -> Result<Vec<Value>> {
    let mut values = Vec::new();
    for (index, document) in serde_norway::Deserializer::from_str(yaml).enumerate() {
        let value =
            Value::deserialize(document).map_err(|e| bad(&format!("document {}", index + 1), e))?;
        if !value.is_null() {
            values.push(value);
        }
    }
    Ok(values)
}

/// A `kind: ConfigMap` or `kind: Secret` document's name and keys: a ConfigMap's `data` as
/// it is and `binaryData` in base64, a Secret's `data` in base64 and `stringData` as it is.
fn data_document(value: &Value, kind: DataKind) -> Result<(String, BTreeMap<String, Vec<u8>>)> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Document {
        #[serde(default)]
        metadata: Metadata,
        #[serde(default)]
        data: BTreeMap<String, String>,
        #[serde(default)]
        binary_data: BTreeMap<String, String>,
        #[serde(default)]
        string_data: BTreeMap<String, String>,
    }
    use base64::Engine as _;
    let what = kind.name();
    let document: Document = serde_norway::from_value(value.clone()).map_err(|e| bad(what, e))?;
    let name = document.metadata.name;
    if name.is_empty() {
        return Err(bad(
            &format!("{what} metadata.name"),
            format!("a {what} needs a name"),
        ));
    }
    let (plain, encoded, encoded_field) = match kind {
        DataKind::ConfigMap => (document.data, document.binary_data, "binaryData"),
        DataKind::Secret => (document.string_data, document.data, "data"),
    };
    let mut keys: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (key, value) in encoded {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|e| bad(&format!("{what} {name} {encoded_field}.{key}"), e))?;
        keys.insert(key, bytes);
    }
    for (key, value) in plain {
        keys.insert(key, value.into_bytes());
    }
    check_keys(what, &name, &keys)?;
    Ok((name, keys))
}

/// A ConfigMap's or Secret's keys are file names: letters, digits, `-`, `_` and `.`.
fn check_keys(kind: &str, name: &str, keys: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    for key in keys.keys() {
        let valid = !key.is_empty()
            && key != "."
            && key != ".."
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(bad(
                &format!("{kind} {name}"),
                format!("{key:?} is not a valid key"),
            ));
        }
    }
    Ok(())
}

/// The ConfigMaps of `--configmap` files (every document must be one).
pub fn config_maps(files: &[String]) -> Result<ConfigMaps> {
    let mut maps = ConfigMaps::new();
    for text in files {
        for value in documents(text)? {
            match value.get("kind").and_then(Value::as_str) {
                Some("ConfigMap") => {
                    let (name, keys) = data_document(&value, DataKind::ConfigMap)?;
                    maps.insert(name, keys);
                }
                other => {
                    return Err(bad(
                        "--configmap",
                        format!("a document of kind {other:?}: ConfigMaps only"),
                    ))
                }
            }
        }
    }
    Ok(maps)
}

/// Every document of the file, turned into pods, with the file's ConfigMaps and
/// `extra` ones (`--configmap`). A file with no Pod or Deployment, or with another kind,
/// is refused.
pub fn plan(yaml: &str, extra: &[String]) -> Result<Vec<PlannedPod>> {
    plan_play(yaml, extra, &|_| None).map(|play| play.pods)
}

/// What `kube play` makes of a file, read once: its pods, its claims' volumes and the
/// names of its Services (read, not played).
#[derive(Debug)]
pub struct KubePlan {
    pub pods: Vec<PlannedPod>,
    pub claims: Vec<PlannedVolume>,
    pub services: Vec<String>,
}

/// `plan`, with the secrets of rpod's secret store (`stored`: the data of a stored secret
/// by name) that hold a Kubernetes Secret's YAML taken as that Secret under the stored
/// secret's name, as podman's `kube play` takes its own store's; the file's own Secrets
/// come first. A stored secret that is no Secret's YAML is not one. Only the secrets a pod
/// names are looked up.
pub fn plan_play(yaml: &str, extra: &[String], stored: StoredSecrets) -> Result<KubePlan> {
    let values = documents(yaml)?;
    let claims = volume_claims_of(&values)?;
    let services = service_names_of(&values)?;
    // The ConfigMaps first: a pod may come before the ConfigMap it takes from.
    let mut maps = KubeData {
        config_maps: config_maps(extra)?,
        secrets: ConfigMaps::new(),
        stored,
        stored_seen: Default::default(),
    };
    for value in &values {
        match value.get("kind").and_then(Value::as_str) {
            Some("ConfigMap") => {
                let (name, keys) = data_document(value, DataKind::ConfigMap)?;
                maps.config_maps.insert(name, keys);
            }
            Some("Secret") => {
                let (name, keys) = data_document(value, DataKind::Secret)?;
                maps.secrets.insert(name, keys);
            }
            _ => {}
        }
    }
    let mut pods = Vec::new();
    // Deployments and DaemonSets read (one scaled to no replicas makes no pod).
    let mut workloads = 0;
    for (index, value) in values.into_iter().enumerate() {
        if matches!(
            value.get("kind").and_then(Value::as_str),
            Some("ConfigMap" | "Secret" | "PersistentVolumeClaim" | "Service")
        ) {
            continue;
        }
        let document: Document = serde_norway::from_value(value)
            .map_err(|e| bad(&format!("document {}", index + 1), e))?;
        check_rest("metadata", &document.metadata.rest)?;
        match document.kind.as_str() {
            "Pod" => {
                let spec: PodSpec =
                    serde_norway::from_value(document.spec).map_err(|e| bad("Pod spec", e))?;
                pods.push(plan_pod(
                    &document.metadata,
                    document.metadata.name.clone(),
                    spec,
                    "spec",
                    &maps,
                )?);
            }
            // A DaemonSet runs a pod on every node: here, on this one.
            kind @ ("Deployment" | "DaemonSet") => {
                let spec: DeploymentSpec = serde_norway::from_value(document.spec)
                    .map_err(|e| bad(&format!("{kind} spec"), e))?;
                check_rest("spec", &spec.rest)?;
                check_rest("spec.template.metadata", &spec.template.metadata.rest)?;
                let mut metadata = spec.template.metadata;
                if metadata.labels.is_empty() {
                    metadata.labels = document.metadata.labels.clone();
                }
                for name in workload_pod_names(kind, &document.metadata.name, spec.replicas)? {
                    let pod_spec: PodSpec = serde_norway::from_value(spec.template.spec.clone())
                        .map_err(|e| bad(&format!("{kind} spec.template.spec"), e))?;
                    pods.push(plan_pod(
                        &metadata,
                        name,
                        pod_spec,
                        "spec.template.spec",
                        &maps,
                    )?);
                }
                workloads += 1;
            }
            other => return Err(kind_error(other, index)),
        }
    }
    if pods.is_empty() && claims.is_empty() && workloads == 0 {
        return Err(bad(
            "the file",
            "no Pod, Deployment, DaemonSet or PersistentVolumeClaim in it",
        ));
    }
    Ok(KubePlan {
        pods,
        claims,
        services,
    })
}

/// The pod annotation that makes its init containers run at every start of the pod
/// (`always`) instead of the first only (`once`, the default), as podman's.
pub(crate) const INIT_CONTAINER_TYPE_ANNOTATION: &str = "io.podman.annotations.init.container.type";

fn plan_pod(
    metadata: &Metadata,
    name: String,
    spec: PodSpec,
    at: &str,
    maps: &KubeData,
) -> Result<PlannedPod> {
    check_rest(at, &spec.rest)?;
    if name.is_empty() || name == "-pod" {
        return Err(bad("metadata.name", "a pod needs a name"));
    }
    if spec.containers.is_empty() {
        return Err(bad(&format!("{at}.containers"), "a pod needs a container"));
    }
    let restart = match spec.restart_policy.as_deref() {
        None | Some("Always") => "always",
        Some("OnFailure") => "on-failure",
        Some("Never") => "no",
        Some(other) => {
            return Err(bad(
                &format!("{at}.restartPolicy"),
                format!("{other:?} is not Always, OnFailure or Never"),
            ))
        }
    };
    let restart = RestartPolicy::parse(restart)?;
    // Kubernetes' order: a container's securityContext, its annotation, the pod's
    // securityContext, the pod's annotation (podman 4.3 reads the annotations only).
    let pod_seccomp = match &spec.security_context {
        Some(context) => {
            let at = format!("{at}.securityContext");
            check_rest(&at, &context.rest)?;
            context
                .seccomp_profile
                .as_ref()
                .map(|p| p.choice(&format!("{at}.seccompProfile")))
                .transpose()?
        }
        None => None,
    };
    let pod_seccomp = match (
        pod_seccomp,
        metadata.annotations.get(SECCOMP_POD_ANNOTATION),
    ) {
        (Some(choice), _) => Some(choice),
        (None, Some(value)) => Some(seccomp_annotation(
            value,
            &format!("metadata.annotations.{SECCOMP_POD_ANNOTATION}"),
        )?),
        (None, None) => None,
    };
    for key in metadata.annotations.keys() {
        if let Some(container) = key.strip_prefix(SECCOMP_CONTAINER_ANNOTATION) {
            let known = spec
                .containers
                .iter()
                .chain(&spec.init_containers)
                .any(|c| c.name == container);
            if !known {
                return Err(bad(
                    &format!("metadata.annotations.{key}"),
                    "names no container of the pod",
                ));
            }
        }
    }
    let init_type = match metadata.annotations.get(INIT_CONTAINER_TYPE_ANNOTATION) {
        None => crate::container::InitContainerType::Once,
        Some(text) => crate::container::InitContainerType::parse(text).map_err(|_| {
            bad(
                &format!("metadata.annotations.{INIT_CONTAINER_TYPE_ANNOTATION}"),
                format!("{text:?} is not always or once"),
            )
        })?,
    };
    let volumes: BTreeMap<&str, &Volume> =
        spec.volumes.iter().map(|v| (v.name.as_str(), v)).collect();
    for (i, volume) in spec.volumes.iter().enumerate() {
        check_rest(&format!("{at}.volumes[{i}]"), &volume.rest)?;
        // Kubernetes takes one source per volume: a second would be read over.
        if volume.sources() > 1 {
            return Err(bad(
                &format!("{at}.volumes[{i}]"),
                format!("volume {:?} has more than one source", volume.name),
            ));
        }
    }
    let mut infra_options = CreateOptions {
        network: spec
            .host_network
            .then_some(crate::container::NetworkMode::Host),
        userns_auto: (spec.host_users == Some(false)).then_some(crate::userns::AutoUserns {
            size: crate::userns::DEFAULT_AUTO_SIZE,
        }),
        ..Default::default()
    };
    let mut containers = Vec::new();
    let mut init_containers = Vec::new();
    let all = spec
        .init_containers
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("{at}.initContainers[{i}]"), c, true))
        .chain(
            spec.containers
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("{at}.containers[{i}]"), c, false)),
        );
    let fields = PodFields {
        name: &name,
        labels: &metadata.labels,
        annotations: &metadata.annotations,
    };
    for (path, container, init) in all {
        check_rest(&path, &container.rest)?;
        let (mut options, pod_id_env) =
            container_options(container, &path, &volumes, maps, &fields)?;
        options.name = Some(format!("{name}-{}", container.name));
        let own_seccomp = container
            .security_context
            .as_ref()
            .and_then(|c| c.seccomp_profile.as_ref())
            .map(|p| p.choice(&format!("{path}.securityContext.seccompProfile")))
            .transpose()?;
        let annotation = format!("{SECCOMP_CONTAINER_ANNOTATION}{}", container.name);
        let annotated = metadata
            .annotations
            .get(&annotation)
            .map(|value| seccomp_annotation(value, &format!("metadata.annotations.{annotation}")))
            .transpose()?;
        let mut seccomp_profile = None;
        match own_seccomp.or(annotated).or_else(|| pod_seccomp.clone()) {
            None | Some(KubeSeccomp::RuntimeDefault) => {}
            Some(KubeSeccomp::Unconfined) => {
                options.security.seccomp = crate::security::SeccompChoice::Unconfined
            }
            Some(KubeSeccomp::Localhost(path)) => seccomp_profile = Some(path),
        }
        // An init container runs at the pod's start: a restart policy would run it again.
        options.restart = if init {
            RestartPolicy::default()
        } else {
            restart
        };
        if init {
            options.init_container = Some(init_type);
        }
        for (probe, field) in [
            (&container.liveness_probe, "livenessProbe"),
            (&container.startup_probe, "startupProbe"),
        ] {
            if init && probe.is_some() {
                return Err(bad(
                    &format!("{path}.{field}"),
                    "an init container has no probes",
                ));
            }
        }
        options.labels = metadata.labels.clone();
        options.annotations = metadata.annotations.clone();
        options.stop_timeout = spec.termination_grace_period_seconds;
        for (p, port) in container.ports.iter().enumerate() {
            if let Some(mapping) = port_mapping(port, &format!("{path}.ports[{p}]"))? {
                infra_options.net.ports.push(mapping);
            }
        }
        let pull = pull_policy(
            container.image_pull_policy.as_deref(),
            &format!("{path}.imagePullPolicy"),
        )?;
        let make_dirs = container
            .volume_mounts
            .iter()
            .filter_map(|m| volumes.get(m.name.as_str()))
            .filter_map(|v| v.host_path.as_ref())
            .filter(|h| h.kind.as_deref() == Some("DirectoryOrCreate"))
            .map(|h| std::path::PathBuf::from(&h.path))
            .collect();
        let planned = PlannedContainer {
            options,
            pull,
            make_dirs,
            seccomp_profile,
            pod_id_env,
        };
        if init {
            init_containers.push(planned);
        } else {
            containers.push(planned);
        }
    }
    // The configMap volumes a container mounts, with their files.
    let mut filled_volumes = Vec::new();
    let mut empty_dirs = Vec::new();
    let mut volume_images = Vec::new();
    for (i, volume) in spec.volumes.iter().enumerate() {
        let mounted = spec
            .containers
            .iter()
            .chain(&spec.init_containers)
            .any(|c| c.volume_mounts.iter().any(|m| m.name == volume.name));
        if !mounted {
            continue;
        }
        if volume
            .empty_dir
            .as_ref()
            .is_some_and(|e| !empty_dir_in_memory(e))
        {
            empty_dirs.push(empty_dir_volume_name(&name, &volume.name));
        }
        if let Some(source) = &volume.image {
            let at = format!("{at}.volumes[{i}].image");
            check_rest(&at, &source.rest)?;
            let pull = pull_policy(source.pull_policy.as_deref(), &format!("{at}.pullPolicy"))?;
            // Two volumes of one image and policy are one pull.
            let wanted = (source.reference.clone(), pull);
            if !volume_images.contains(&wanted) {
                volume_images.push(wanted);
            }
        }
        if let Some(source) = &volume.config_map {
            let at = format!("{at}.volumes[{i}].configMap");
            let files = DataFiles {
                kind: DataKind::ConfigMap,
                name: &source.name,
                items: &source.items,
                default_mode: source.default_mode.as_ref(),
                optional: source.optional,
            };
            filled_volumes.extend(files.volume(maps, &source.name, &at)?);
        }
        if let Some(source) = &volume.secret {
            let at = format!("{at}.volumes[{i}].secret");
            let files = DataFiles {
                kind: DataKind::Secret,
                name: &source.secret_name,
                items: &source.items,
                default_mode: source.default_mode.as_ref(),
                optional: source.optional,
            };
            let volume = secret_volume_name(&source.secret_name);
            filled_volumes.extend(files.volume(maps, &volume, &at)?);
        }
    }
    let pod = PodOptions {
        name: Some(name.clone()),
        labels: metadata.labels.clone(),
        hostname: spec.hostname.clone(),
        infra_options,
        ..Default::default()
    };
    Ok(PlannedPod {
        name,
        pod,
        init_containers,
        containers,
        filled_volumes,
        empty_dirs,
        volume_images,
    })
}

/// The named volume that holds a `secret` volume's files (kept apart from a ConfigMap's
/// of the same name).
fn secret_volume_name(secret: &str) -> String {
    format!("{secret}-secret")
}

/// A `configMap` or `secret` volume's source.
struct DataFiles<'a> {
    kind: DataKind,
    name: &'a str,
    items: &'a [KeyToPath],
    default_mode: Option<&'a Value>,
    optional: bool,
}

impl DataFiles<'_> {
    /// The volume `volume` with each key (or each of `items`) at its path, with its mode
    /// (`defaultMode`, else 0644); `None` for a missing source the volume says is optional.
    fn volume(&self, maps: &KubeData, volume: &str, at: &str) -> Result<Option<FilledVolume>> {
        let kind = self.kind.name();
        let Some(keys) = maps.get(self.kind, self.name) else {
            if self.optional {
                return Ok(None);
            }
            return Err(bad(
                at,
                format!("no {kind} named {:?}{}", self.name, self.kind.looked_in()),
            ));
        };
        let mode_of = |mode: Option<&Value>| -> Result<u32> {
            match mode.or(self.default_mode) {
                Some(value) => file_mode(value, at),
                None => Ok(0o644),
            }
        };
        let mut files = Vec::new();
        if self.items.is_empty() {
            for (key, value) in keys {
                files.push((std::path::PathBuf::from(key), value.clone(), mode_of(None)?));
            }
        } else {
            for item in self.items {
                let value = keys.get(&item.key).ok_or_else(|| {
                    bad(
                        at,
                        format!("{kind} {:?} has no key {:?}", self.name, item.key),
                    )
                })?;
                let path = crate::confined::plain_relative(std::path::Path::new(&item.path))
                    .filter(|p| !p.as_os_str().is_empty() && !item.path.starts_with('/'))
                    .ok_or_else(|| {
                        bad(
                            at,
                            format!(
                                "path {:?} is not a relative path inside the volume",
                                item.path
                            ),
                        )
                    })?;
                files.push((path, value.clone(), mode_of(item.mode.as_ref())?));
            }
        }
        Ok(Some(FilledVolume {
            name: volume.to_string(),
            files,
        }))
    }
}

/// A container of the pod as create options, with the variables that read the pod's ID
/// (filled once the pod is made).
fn container_options(
    container: &Container,
    path: &str,
    volumes: &BTreeMap<&str, &Volume>,
    maps: &KubeData,
    pod: &PodFields,
) -> Result<(CreateOptions, Vec<String>)> {
    if container.image.is_empty() {
        return Err(bad(&format!("{path}.image"), "a container needs an image"));
    }
    let mut options = CreateOptions {
        image: Some(container.image.clone()),
        // Kubernetes' command replaces the entrypoint, its args the command.
        entrypoint: container.command.clone(),
        command: container.args.clone().unwrap_or_default(),
        workdir: container.working_dir.clone(),
        terminal: container.tty,
        stdin: container.stdin,
        log_to_file: true,
        // rpod.conf's log driver, as podman's kube play takes containers.conf's.
        log_driver_from_config: true,
        // An init command runs in systemd mode, as with podman's kube play.
        systemd: crate::systemd_mode::SystemdMode::True,
        ..Default::default()
    };
    if container.command.is_some() && container.args.is_none() {
        // A command alone runs as given, without the image's CMD.
        options.command = Vec::new();
    }
    // `envFrom` first: `env` says otherwise for a name, as in Kubernetes.
    let text = |bytes: &[u8], at: &str| {
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            bad(
                at,
                "a ConfigMap's or Secret's value that is not text cannot be a variable",
            )
        })
    };
    for (e, from) in container.env_from.iter().enumerate() {
        let at = format!("{path}.envFrom[{e}]");
        check_rest(&at, &from.rest)?;
        let (kind, reference) = match (&from.config_map_ref, &from.secret_ref) {
            (Some(reference), None) => (DataKind::ConfigMap, reference),
            (None, Some(reference)) => (DataKind::Secret, reference),
            _ => return Err(bad(&at, "one configMapRef or secretRef")),
        };
        match maps.get(kind, &reference.name) {
            Some(keys) => {
                for (key, value) in keys {
                    let name = format!("{}{key}", from.prefix);
                    options
                        .env
                        .retain(|e| e.split('=').next() != Some(name.as_str()));
                    options.env.push(format!("{name}={}", text(&value, &at)?));
                }
            }
            None if reference.optional => {}
            None => {
                return Err(bad(
                    &at,
                    format!(
                        "no {} named {:?}{}",
                        kind.name(),
                        reference.name,
                        kind.looked_in()
                    ),
                ))
            }
        }
    }
    // The variables whose (last) value is the pod's ID, set once the pod is made.
    let mut pod_id_env: Vec<String> = Vec::new();
    for (e, var) in container.env.iter().enumerate() {
        let at = format!("{path}.env[{e}].valueFrom");
        let mut reads_pod_id = false;
        let value = match &var.value_from {
            None => Some(var.value.clone().unwrap_or_default()),
            Some(from)
                if from.get("fieldRef").is_some() || from.get("resourceFieldRef").is_some() =>
            {
                if from.as_mapping().is_some_and(|m| m.len() != 1) {
                    return Err(bad(&at, "one source of a value, not several"));
                }
                Some(match from.get("fieldRef") {
                    Some(field) => {
                        let field: FieldRef =
                            serde_norway::from_value(field.clone()).map_err(|e| bad(&at, e))?;
                        reads_pod_id = field.field_path == POD_UID_FIELD;
                        pod_field(pod, &field.field_path, &format!("{at}.fieldRef"))?
                    }
                    None => {
                        let at = format!("{at}.resourceFieldRef");
                        let resource = from.get("resourceFieldRef").cloned().unwrap_or_default();
                        let resource: ResourceFieldRef =
                            serde_norway::from_value(resource).map_err(|e| bad(&at, e))?;
                        resource_field(container, &resource, &at)?
                    }
                })
            }
            Some(from) => {
                let one = from.as_mapping().is_some_and(|m| m.len() == 1);
                let found = [
                    ("configMapKeyRef", DataKind::ConfigMap),
                    ("secretKeyRef", DataKind::Secret),
                ]
                .into_iter()
                .find_map(|(field, kind)| from.get(field).map(|r| (kind, r)));
                let Some((kind, reference)) = found.filter(|_| one) else {
                    return Err(refuse(
                        &at,
                        "a value from anything but a ConfigMap, a Secret, a field or a resource",
                    ));
                };
                let reference: ConfigMapKeyRef =
                    serde_norway::from_value(reference.clone()).map_err(|e| bad(&at, e))?;
                match maps
                    .get(kind, &reference.name)
                    .and_then(|keys| keys.get(&reference.key).cloned())
                {
                    Some(value) => Some(text(&value, &at)?),
                    None if reference.optional => None,
                    None => {
                        return Err(bad(
                            &at,
                            format!(
                                "no key {:?} in a {} named {:?}",
                                reference.key,
                                kind.name(),
                                reference.name
                            ),
                        ))
                    }
                }
            }
        };
        if let Some(value) = value {
            options
                .env
                .retain(|e| e.split('=').next() != Some(var.name.as_str()));
            options.env.push(format!("{}={value}", var.name));
            pod_id_env.retain(|n| n != &var.name);
            if reads_pod_id {
                pod_id_env.push(var.name.clone());
            }
        }
    }
    if let Some(resources) = &container.resources {
        for (key, value) in &resources.limits {
            let at = format!("{path}.resources.limits.{key}");
            match key.as_str() {
                "memory" => options.memory = Some(memory_quantity(value, &at)?),
                "cpu" => options.cpus = Some(cpu_quantity(value, &at)?),
                _ => return Err(refuse(&at, "not supported")),
            }
        }
    }
    if let Some(context) = &container.security_context {
        check_rest(&format!("{path}.securityContext"), &context.rest)?;
        let capabilities = context.capabilities.as_ref();
        let mut opts = Vec::new();
        if context.allow_privilege_escalation == Some(false) {
            opts.push("no-new-privileges".to_string());
        }
        options.security = crate::security::SecurityOptions::from_flags(
            context.privileged.unwrap_or(false),
            capabilities.map(|c| c.add.as_slice()).unwrap_or_default(),
            capabilities.map(|c| c.drop.as_slice()).unwrap_or_default(),
            &opts,
        )?;
        options.read_only = context.read_only_root_filesystem.unwrap_or(false);
        options.user = match (context.run_as_user, context.run_as_group) {
            (Some(uid), Some(gid)) => Some(format!("{uid}:{gid}")),
            (Some(uid), None) => Some(uid.to_string()),
            (None, Some(_)) => {
                return Err(refuse(
                    &format!("{path}.securityContext.runAsGroup"),
                    "without runAsUser",
                ))
            }
            (None, None) => None,
        };
    }
    let liveness = container
        .liveness_probe
        .as_ref()
        .map(|probe| liveness_check(probe, container, &format!("{path}.livenessProbe")))
        .transpose()?;
    let startup = container
        .startup_probe
        .as_ref()
        .map(|probe| startup_check(probe, container, &format!("{path}.startupProbe")))
        .transpose()?;
    options.healthcheck = match (liveness, startup) {
        (Some(check), startup) => Some(crate::health::HealthCheck { startup, ..check }),
        // A startup probe alone: the check after it is never scheduled (interval 0).
        (None, Some(startup)) => Some(crate::health::HealthCheck {
            test: startup.test.clone(),
            interval_secs: 0,
            timeout_secs: startup.timeout_secs,
            start_period_secs: 0,
            retries: startup.retries.max(1),
            on_failure: crate::health::OnFailure::Restart,
            startup: Some(startup),
        }),
        (None, None) => None,
    };
    for (m, mount) in container.volume_mounts.iter().enumerate() {
        let at = format!("{path}.volumeMounts[{m}]");
        check_rest(&at, &mount.rest)?;
        let volume = volumes
            .get(mount.name.as_str())
            .ok_or_else(|| bad(&at, format!("no volume named {:?}", mount.name)))?;
        let spec = mount_of(volume, mount, &at, pod.name)?;
        options.mounts.push(match mount.sub_path.as_deref() {
            None | Some("") => spec,
            Some(sub_path) => crate::mounts::with_subpath(spec, sub_path)
                .map_err(|e| bad(&format!("{at}.subPath"), e))?,
        });
    }
    Ok((options, pod_id_env))
}

/// Whether an emptyDir is a tmpfs (`medium: Memory`).
fn empty_dir_in_memory(empty_dir: &Value) -> bool {
    empty_dir.get("medium").and_then(Value::as_str) == Some("Memory")
}

/// An image's pull policy (`imagePullPolicy`, an image volume's `pullPolicy`): without
/// one, pulled when missing (podman's, for every tag).
fn pull_policy(policy: Option<&str>, at: &str) -> Result<PullPolicy> {
    match policy {
        None | Some("IfNotPresent") => Ok(PullPolicy::Missing),
        Some("Always") => Ok(PullPolicy::Always),
        Some("Never") => Ok(PullPolicy::Never),
        Some(other) => Err(bad(
            at,
            format!("{other:?} is not Always, IfNotPresent or Never"),
        )),
    }
}

fn mount_of(volume: &Volume, mount: &VolumeMount, at: &str, pod: &str) -> Result<MountSpec> {
    let target = &mount.mount_path;
    if let Some(image) = &volume.image {
        // Read-only whatever the mount says, as Kubernetes mounts an image.
        if image.reference.is_empty() {
            return Err(bad(
                at,
                format!("image volume {:?} needs a reference", volume.name),
            ));
        }
        return crate::mounts::image(&image.reference, target, false);
    }
    let read_only = |ro: bool| if ro { ":ro" } else { "" };
    if let Some(host) = &volume.host_path {
        match host.kind.as_deref() {
            None | Some("") | Some("Directory") | Some("DirectoryOrCreate") | Some("File") => {}
            Some(other) => return Err(refuse(&format!("{at} hostPath type"), other)),
        }
        if !host.path.starts_with('/') {
            return Err(bad(at, format!("hostPath {:?} is not absolute", host.path)));
        }
        if host.kind.as_deref() == Some("DirectoryOrCreate") {
            // Made by `kube play` before the create (`PlannedContainer::make_dirs`).
            let words: &[&str] = if mount.read_only { &["ro"] } else { &[] };
            return crate::mounts::bind_to_make(&host.path, target, words);
        }
        let text = format!("{}:{target}{}", host.path, read_only(mount.read_only));
        return crate::mounts::parse_volume_absolute(&text);
    }
    if let Some(claim) = &volume.persistent_volume_claim {
        let text = format!(
            "{}:{target}{}",
            claim.claim_name,
            read_only(mount.read_only || claim.read_only)
        );
        return crate::mounts::parse_volume_absolute(&text);
    }
    if let Some(empty_dir) = &volume.empty_dir {
        match empty_dir.get("medium").and_then(Value::as_str) {
            None | Some("") => {}
            // A tmpfs, as podman's kube play makes it (and `generate kube` writes a tmpfs).
            Some("Memory") => {
                let words: Vec<String> = if mount.read_only {
                    vec!["ro".into()]
                } else {
                    Vec::new()
                };
                return crate::mounts::tmpfs(target, &words);
            }
            Some(other) => return Err(refuse(&format!("{at} emptyDir medium"), other)),
        }
        // The pod's volume for it, which every container mounting it shares, as
        // Kubernetes shares an emptyDir (an init container fills it for the others).
        let words: &[&str] = if mount.read_only { &["ro"] } else { &[] };
        return crate::mounts::named_volume(
            &empty_dir_volume_name(pod, &volume.name),
            target,
            words,
        );
    }
    // The named volume `kube play` fills with the ConfigMap's or Secret's files
    // (read-only, as Kubernetes mounts them; nothing of the image is copied in).
    let filled = match (&volume.config_map, &volume.secret) {
        (Some(source), _) => Some(source.name.clone()),
        (None, Some(source)) => Some(secret_volume_name(&source.secret_name)),
        (None, None) => None,
    };
    if let Some(name) = filled {
        let text = format!("{name}:{target}:ro,nocopy");
        return crate::mounts::parse_volume_absolute(&text);
    }
    Err(refuse(
        at,
        format!(
            "volume {:?} is not a hostPath, persistentVolumeClaim, emptyDir, configMap, secret or image",
            volume.name
        ),
    ))
}

/// A liveness probe as a health check: its command (`probe_test`), Kubernetes' timing
/// defaults (every 10 s, 1 s to answer, 3 failures), and a restart when it fails.
fn liveness_check(
    probe: &Probe,
    container: &Container,
    at: &str,
) -> Result<crate::health::HealthCheck> {
    Ok(crate::health::HealthCheck {
        test: probe_test(probe, container, at)?,
        interval_secs: probe.period_seconds.unwrap_or(10).max(1),
        timeout_secs: probe.timeout_seconds.unwrap_or(1).max(1),
        start_period_secs: probe.initial_delay_seconds.unwrap_or(0),
        retries: probe.failure_threshold.unwrap_or(3).max(1),
        on_failure: crate::health::OnFailure::Restart,
        startup: None,
    })
}

/// A startup probe as the check run after each start until it passes once, with
/// Kubernetes' timing defaults (every 10 s, 1 s to answer, a restart after 3 failures in a
/// row; results before `initialDelaySeconds` do not count).
fn startup_check(
    probe: &Probe,
    container: &Container,
    at: &str,
) -> Result<crate::health::StartupCheck> {
    if probe.success_threshold.is_some_and(|n| n != 1) {
        return Err(bad(
            &format!("{at}.successThreshold"),
            "must be 1 for a startup probe",
        ));
    }
    Ok(crate::health::StartupCheck {
        test: probe_test(probe, container, at)?,
        interval_secs: probe.period_seconds.unwrap_or(10).max(1),
        timeout_secs: probe.timeout_seconds.unwrap_or(1).max(1),
        retries: probe.failure_threshold.unwrap_or(3).max(1),
        successes: 1,
        delay_secs: probe.initial_delay_seconds.unwrap_or(0),
    })
}

/// A probe's command as a check's test: an `exec`'s; an `httpGet` asks with curl, else
/// wget, as the image has one; a `tcpSocket` connects with nc.
fn probe_test(probe: &Probe, container: &Container, at: &str) -> Result<Vec<String>> {
    check_rest(at, &probe.rest)?;
    // A port by number, or by the name of one of the container's ports.
    let port_of = |value: &Value, at: &str| -> Result<u16> {
        match value {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(at, format!("port {n} is not a port"))),
            Value::String(name) => match name.parse::<u16>() {
                Ok(port) if port > 0 => Ok(port),
                _ => container
                    .ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .map(|p| p.container_port)
                    .ok_or_else(|| bad(at, format!("no container port named {name:?}"))),
            },
            other => Err(bad(at, format!("port {other:?} is not a port"))),
        }
    };
    let quote = |text: &str| format!("'{}'", text.replace('\'', r"'\''"));
    let test = match (&probe.exec, &probe.http_get, &probe.tcp_socket) {
        (Some(exec), None, None) if !exec.command.is_empty() => std::iter::once("CMD".to_string())
            .chain(exec.command.iter().cloned())
            .collect(),
        (None, Some(get), None) => {
            let at = format!("{at}.httpGet");
            check_rest(&at, &get.rest)?;
            let scheme = match get.scheme.as_deref().unwrap_or("HTTP") {
                "HTTP" | "http" => "http",
                "HTTPS" | "https" => "https",
                other => return Err(bad(&at, format!("scheme {other:?}: HTTP or HTTPS"))),
            };
            let host = get.host.as_deref().unwrap_or("localhost");
            let path = get.path.as_deref().unwrap_or("/");
            let path = if path.starts_with('/') {
                path.to_string()
            } else {
                format!("/{path}")
            };
            let url = quote(&format!(
                "{scheme}://{host}:{}{path}",
                port_of(&get.port, &at)?
            ));
            // Each header as curl's `-H` and wget's `--header` take it (busybox's too).
            let mut curl_headers = String::new();
            let mut wget_headers = String::new();
            for (h, header) in get.http_headers.iter().enumerate() {
                let at = format!("{at}.httpHeaders[{h}]");
                let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
                if header.name.is_empty() || !header.name.chars().all(token) {
                    return Err(bad(&at, format!("{:?} is not a header name", header.name)));
                }
                if header.value.chars().any(|c| c.is_control() && c != '\t') {
                    return Err(bad(&at, "a header value holds a control character"));
                }
                let header = quote(&format!("{}: {}", header.name, header.value.trim()));
                curl_headers.push_str(&format!(" -H {header}"));
                wget_headers.push_str(&format!(" --header {header}"));
            }
            let command = format!(
                "if command -v curl >/dev/null 2>&1; then curl -fsS -o /dev/null{curl_headers} {url}; else wget -q -O /dev/null{wget_headers} {url}; fi"
            );
            vec!["CMD-SHELL".to_string(), command]
        }
        (None, None, Some(tcp)) => {
            let at = format!("{at}.tcpSocket");
            let host = quote(tcp.host.as_deref().unwrap_or("localhost"));
            let command = format!("nc -z {host} {}", port_of(&tcp.port, &at)?);
            vec!["CMD-SHELL".to_string(), command]
        }
        _ => {
            return Err(refuse(
                at,
                "a probe other than one exec, httpGet or tcpSocket (gRPC is not taken)",
            ))
        }
    };
    Ok(test)
}

fn port_mapping(port: &ContainerPort, at: &str) -> Result<Option<PortMapping>> {
    let protocol = port
        .protocol
        .as_deref()
        .unwrap_or("TCP")
        .to_ascii_lowercase();
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad(at, format!("protocol {protocol:?}")));
    }
    // Only a host port publishes (as podman's kube play): a containerPort alone informs.
    let Some(host_port) = port.host_port.filter(|p| *p > 0) else {
        return Ok(None);
    };
    let host_ip = port.host_ip.clone().unwrap_or_default();
    let spec = if host_ip.is_empty() {
        format!("{host_port}:{}/{protocol}", port.container_port)
    } else {
        format!("{host_ip}:{host_port}:{}/{protocol}", port.container_port)
    };
    let mut mappings = crate::network::ports::parse_publish(&spec)?;
    Ok(mappings.pop())
}

fn quantity_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `128Mi`, `1G`, `500k`, bytes.
fn memory_quantity(value: &Value, at: &str) -> Result<i64> {
    let text = quantity_text(value).ok_or_else(|| bad(at, "not a quantity"))?;
    let (number, unit) = crate::human::number_and_unit(&text)
        .ok_or_else(|| bad(at, format!("{text:?} is not a quantity")))?;
    let factor: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0_f64.powi(4),
        other => return Err(bad(at, format!("unknown unit {other:?}"))),
    };
    let bytes = (number * factor) as i64;
    if bytes <= 0 {
        return Err(bad(at, format!("{text:?} is not more than zero")));
    }
    Ok(bytes)
}

/// The `fieldRef` that reads the pod's ID, filled in when the pod is made.
const POD_UID_FIELD: &str = "metadata.uid";

/// A `fieldRef`'s value: the pod's name, one of its labels or annotations; empty for
/// its ID until the pod is made (`PlannedContainer::pod_id_env`).
fn pod_field(pod: &PodFields, path: &str, at: &str) -> Result<String> {
    let keyed = |prefix: &str| {
        path.strip_prefix(prefix)?
            .strip_suffix("']")
            .map(str::to_string)
    };
    if path == "metadata.name" {
        return Ok(pod.name.to_string());
    }
    if path == "metadata.namespace" {
        return Ok("default".into());
    }
    if path == POD_UID_FIELD {
        return Ok(String::new());
    }
    if let Some(key) = keyed("metadata.labels['") {
        return Ok(pod.labels.get(&key).cloned().unwrap_or_default());
    }
    if let Some(key) = keyed("metadata.annotations['") {
        return Ok(pod.annotations.get(&key).cloned().unwrap_or_default());
    }
    Err(refuse(
        at,
        format!(
            "the field {path:?} (metadata.name, metadata.namespace, metadata.uid, metadata.labels['KEY'] and metadata.annotations['KEY'] are taken)"
        ),
    ))
}

/// A `resourceFieldRef`'s value, as Kubernetes gives it: the container's limit (the
/// host's memory or CPUs without one) or request (its limit without one, else 0), in
/// units of the divisor, rounded up.
fn resource_field(container: &Container, reference: &ResourceFieldRef, at: &str) -> Result<String> {
    if reference
        .container_name
        .as_deref()
        .is_some_and(|name| !name.is_empty() && name != container.name)
    {
        return Err(refuse(
            &format!("{at}.containerName"),
            "another container's resources",
        ));
    }
    let (kind, resource) = reference
        .resource
        .split_once('.')
        .filter(|(kind, resource)| {
            matches!(*kind, "limits" | "requests") && matches!(*resource, "memory" | "cpu")
        })
        .ok_or_else(|| {
            refuse(
                &format!("{at}.resource"),
                format!(
                    "{:?} (limits.memory, limits.cpu, requests.memory and requests.cpu are taken)",
                    reference.resource
                ),
            )
        })?;
    let resources = container.resources.as_ref();
    let given = |kind: &str| {
        resources.and_then(|r| match kind {
            "limits" => r.limits.get(resource),
            _ => r.requests.get(resource),
        })
    };
    let quantity = |value: &Value| -> Result<f64> {
        match resource {
            "memory" => memory_quantity(value, at).map(|bytes| bytes as f64),
            _ => cpu_quantity(value, at),
        }
    };
    let amount = match (kind, given(kind), given("limits")) {
        (_, Some(value), _) | ("requests", None, Some(value)) => quantity(value)?,
        ("requests", None, None) => 0.0,
        _ if resource == "memory" => nix::sys::sysinfo::sysinfo()
            .map(|info| info.ram_total() as f64)
            .map_err(|e| bad(at, format!("reading the host's memory: {e}")))?,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
    };
    let divisor = match &reference.divisor {
        Some(divisor) => quantity(divisor)?,
        None => 1.0,
    };
    Ok(format!("{}", (amount / divisor).ceil() as u64))
}

/// `500m`, `1`, `0.5`.
fn cpu_quantity(value: &Value, at: &str) -> Result<f64> {
    let text = quantity_text(value).ok_or_else(|| bad(at, "not a quantity"))?;
    let cpus = match text.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().map(|m| m / 1000.0),
        None => text.parse::<f64>(),
    }
    .map_err(|_| bad(at, format!("{text:?} is not a CPU quantity")))?;
    if !(cpus > 0.0 && cpus.is_finite()) {
        return Err(bad(at, format!("{text:?} is not more than zero")));
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: shop
spec:
  restartPolicy: Never
  hostname: front
  containers:
  - name: server
    image: demo
    command: ["httpd", "-f"]
    args: ["-p", "80"]
    env:
    - name: MODE
      value: test
    workingDir: /srv
    ports:
    - containerPort: 80
      hostPort: 8080
      hostIP: 127.0.0.1
    - containerPort: 9000
    resources:
      limits:
        memory: 64Mi
        cpu: 500m
      requests:
        memory: 32Mi
    securityContext:
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities:
        drop: [NET_RAW]
    volumeMounts:
    - name: data
      mountPath: /data
    - name: scratch
      mountPath: /scratch
    terminationMessagePath: /dev/termination-log
  - name: sidecar
    image: demo
    command: ["sleep", "1000"]
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: shop-data
  - name: scratch
    emptyDir: {}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  replicas: 1
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
      - name: job
        image: demo
        imagePullPolicy: Never
"#;

    #[test]
    fn pods_and_deployments_become_pods_and_their_containers() {
        let pods = plan(WEB, &[]).unwrap();
        assert_eq!(pods.len(), 2);
        let web = &pods[0];
        assert_eq!(web.name, "web");
        assert_eq!(web.pod.hostname.as_deref(), Some("front"));
        assert_eq!(web.pod.labels["app"], "shop");
        let ports = &web.pod.infra_options.net.ports;
        assert_eq!(ports.len(), 1, "only a hostPort publishes");
        assert_eq!(
            (
                ports[0].host_ip.as_str(),
                ports[0].host_port,
                ports[0].container_port
            ),
            ("127.0.0.1", 8080, 80)
        );
        let server = &web.containers[0].options;
        assert_eq!(server.name.as_deref(), Some("web-server"));
        assert_eq!(
            server.entrypoint,
            Some(vec!["httpd".to_string(), "-f".to_string()])
        );
        assert_eq!(server.command, ["-p", "80"]);
        assert_eq!(server.env, ["MODE=test"]);
        assert_eq!(server.workdir.as_deref(), Some("/srv"));
        assert_eq!(server.memory, Some(64 << 20));
        assert_eq!(server.cpus, Some(0.5));
        assert!(server.read_only && server.security.no_new_privileges);
        assert_eq!(server.security.cap_drop, ["CAP_NET_RAW"]);
        assert_eq!(server.mounts.len(), 2);
        assert_eq!(server.mounts[0].volume.as_deref(), Some("shop-data"));
        // The pod's emptyDir: a volume of the pod's, made empty for it.
        assert!(!server.mounts[1].anonymous);
        assert_eq!(
            server.mounts[1].volume.as_deref(),
            Some("web-scratch-emptydir")
        );
        assert_eq!(web.empty_dirs, ["web-scratch-emptydir"]);
        assert_eq!(web.containers[0].pull, PullPolicy::Missing);
        assert_eq!(server.systemd, crate::systemd_mode::SystemdMode::True);
        let sidecar = &web.containers[1].options;
        assert_eq!(
            sidecar.entrypoint,
            Some(vec!["sleep".to_string(), "1000".to_string()])
        );
        assert!(
            sidecar.command.is_empty(),
            "a command alone drops the image's CMD"
        );
        let worker = &pods[1];
        assert_eq!(worker.name, "worker-pod");
        assert_eq!(
            worker.containers[0].options.name.as_deref(),
            Some("worker-pod-job")
        );
        assert_eq!(worker.containers[0].pull, PullPolicy::Never);
        assert_eq!(
            worker.containers[0].options.restart,
            RestartPolicy::parse("always").unwrap()
        );
        assert_eq!(pod_names(WEB).unwrap(), ["web", "worker-pod"]);
        // Replicas (but 1) are pods of their own, `-pod-N`, as podman 4.3 makes them; none
        // is no pod, and no error.
        let scaled = WEB.replace("replicas: 1", "replicas: 3");
        let pods = plan(&scaled, &[]).unwrap();
        let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["web", "worker-pod-0", "worker-pod-1", "worker-pod-2"]
        );
        assert_eq!(
            pods[3].containers[0].options.name.as_deref(),
            Some("worker-pod-2-job")
        );
        assert_eq!(pod_names(&scaled).unwrap()[1..], names[1..]);
        let none = WEB.replace("replicas: 1", "replicas: 0");
        assert_eq!(plan(&none, &[]).unwrap().len(), 1);
        assert_eq!(pod_names(&none).unwrap(), ["web"]);
        let only =
            &WEB[WEB.find("apiVersion: apps/v1").unwrap()..].replace("replicas: 1", "replicas: 0");
        assert!(plan(only, &[]).unwrap().is_empty());
        assert!(pod_names(only).unwrap().is_empty());
    }

    #[test]
    fn what_would_change_what_runs_is_refused_by_its_path() {
        let pod = |containers: &str| {
            format!("kind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n{containers}")
        };
        for (yaml, says) in [
            (pod("  - {name: a, image: demo, startupProbe: {exec: {command: ['true']}, successThreshold: 2}}\n"), "startupProbe.successThreshold"),
            (pod("  - {name: a, image: demo, startupProbe: {grpc: {port: 1}}}\n"), "startupProbe.grpc"),
            (pod("  - {name: a, image: demo, livenessProbe: {grpc: {port: 1}}}\n"), "livenessProbe.grpc"),
            (pod("  - {name: a, image: demo, livenessProbe: {httpGet: {port: web}}}\n"), "no container port named"),
            (pod("  - {name: a, image: demo, livenessProbe: {httpGet: {port: 80, httpHeaders: [{name: 'X Y', value: y}]}}}\n"), "httpHeaders[0]"),
            (pod("  - {name: a, image: demo, livenessProbe: {httpGet: {port: 80, httpHeaders: [{name: X, value: \"a\\nb\"}]}}}\n"), "control character"),
            (pod("  - {name: a, image: demo, env: [{name: X, valueFrom: {secretKeyRef: {name: s, key: k}}}]}\n"), "valueFrom"),
            (pod("  - {name: a, image: demo, resources: {limits: {nvidia.com/gpu: 1}}}\n"), "nvidia.com/gpu"),
            (pod("  - {name: a, image: demo, volumeMounts: [{name: nope, mountPath: /x}]}\n"), "no volume named"),
            (pod("  - {name: a, image: demo, resources: {limits: {memory: 12Qi}}}\n"), "unit"),
            ("kind: Pod\nmetadata: {name: p}\nspec: {volumes: [{name: v, emptyDir: {medium: HugePages}}], containers: [{name: a, image: demo, volumeMounts: [{name: v, mountPath: /v}]}]}\n".to_string(), "HugePages"),
            ("kind: Job\nmetadata: {name: j}\n".to_string(), "Job"),
            ("kind: Service\nmetadata: {name: s}\n".to_string(), "no Pod"),
            ("kind: Deployment\nmetadata: {name: d}\nspec: {replicas: 101, template: {spec: {containers: [{name: a, image: demo}]}}}\n".to_string(), "more than 100 replicas"),
            ("kind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: [1]}}\n".to_string(), "Deployment spec.template.spec"),
            ("kind: Pod\nmetadata: {name: p}\nspec: {initContainers: [{name: i, image: demo, livenessProbe: {exec: {command: ['true']}}}], containers: [{name: a, image: demo}]}\n".to_string(), "initContainers[0].livenessProbe"),
            ("kind: Pod\nmetadata: {name: p}\nspec: {initContainers: [{name: i, image: demo, startupProbe: {exec: {command: ['true']}}}], containers: [{name: a, image: demo}]}\n".to_string(), "spec.initContainers[0].startupProbe"),
            ("kind: Pod\nmetadata: {name: p}\nspec: {restartPolicy: Sometimes, containers: [{name: a, image: demo}]}\n".to_string(), "Sometimes"),
            ("".to_string(), "no Pod"),
            ("kind: Pod\nmetadata: {name: p}\nspec: [1]\n".to_string(), "Pod spec"),
        ] {
            let err = plan(&yaml, &[]).unwrap_err().to_string();
            assert!(err.contains(says), "{says}: {err}");
        }
    }

    /// A `PersistentVolumeClaim` is its volume: name, labels, podman's annotations as the
    /// local driver's options; what a cluster would do with it is passed over; another
    /// driver or annotation is refused. A file of claims only is played.
    #[test]
    fn claims_are_volumes_with_podmans_annotations() {
        let yaml = "kind: PersistentVolumeClaim\nmetadata:\n  name: data\n  labels: {team: web}\n  \
            annotations:\n    volume.podman.io/driver: local\n    volume.podman.io/type: tmpfs\n    \
            volume.podman.io/device: tmpfs\n    volume.podman.io/mount-options: size=1m\n    \
            volume.podman.io/uid: '1000'\n    other.example/ignored: x\n\
            spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n";
        let claims = volume_claims(yaml).unwrap();
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].name, "data");
        assert_eq!(
            claims[0].labels.get("team").map(String::as_str),
            Some("web")
        );
        let options: Vec<(&str, &str)> = claims[0]
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            options,
            [
                ("device", "tmpfs"),
                ("o", "size=1m,uid=1000"),
                ("type", "tmpfs")
            ]
        );
        assert!(plan(yaml, &[]).unwrap().is_empty());
        assert!(pod_names(yaml).unwrap().is_empty());
        for (bad, says) in [
            ("volume.podman.io/driver: nfs", "driver"),
            ("volume.podman.io/import-source: /x.tar", "import-source"),
            ("volume.podman.io/uid: me", "not a number"),
        ] {
            let yaml = format!(
                "kind: PersistentVolumeClaim\nmetadata:\n  name: d\n  annotations:\n    {bad}\n"
            );
            let err = volume_claims(&yaml).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let err = volume_claims("kind: PersistentVolumeClaim\nmetadata: {}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a name"), "{err}");
    }

    /// A `startupProbe` is the check's startup check (Kubernetes' defaults, its delay); alone
    /// it makes a check that is never scheduled after it.
    #[test]
    fn startup_probes_come_before_liveness_probes() {
        let yaml = "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  \
            - name: a\n    image: demo\n    \
            startupProbe: {exec: {command: [test, -e, /up]}, initialDelaySeconds: 4, failureThreshold: 30}\n    \
            livenessProbe: {exec: {command: ['true']}, periodSeconds: 5}\n  \
            - name: b\n    image: demo\n    startupProbe: {tcpSocket: {port: 80}}\n";
        let pods = plan(yaml, &[]).unwrap();
        let both = pods[0].containers[0].options.healthcheck.clone().unwrap();
        assert_eq!((both.test[1].as_str(), both.interval_secs), ("true", 5));
        let startup = both.startup.unwrap();
        assert_eq!(startup.test, ["CMD", "test", "-e", "/up"]);
        assert_eq!(
            (
                startup.interval_secs,
                startup.timeout_secs,
                startup.retries,
                startup.successes,
                startup.delay_secs
            ),
            (10, 1, 30, 1, 4)
        );
        let alone = pods[0].containers[1].options.healthcheck.clone().unwrap();
        assert_eq!(alone.interval_secs, 0);
        assert_eq!(alone.on_failure, crate::health::OnFailure::Restart);
        assert!(alone.startup.unwrap().test[1].contains("nc -z"));
    }

    /// A Secret a pod names that the file has not is taken from rpod's secret store when
    /// the stored secret of that name holds a Kubernetes Secret's YAML (as podman's);
    /// another stored secret is not one, and the error says where it was looked for.
    #[test]
    fn stored_secrets_holding_a_secret_document_are_taken() {
        let stored = BTreeMap::from([
            (
                "creds".to_string(),
                b"apiVersion: v1\nkind: Secret\nmetadata: {name: other}\nstringData: {password: hunter2}\n"
                    .to_vec(),
            ),
            ("plain".to_string(), b"just a password".to_vec()),
        ]);
        let pod = |secret: &str| {
            format!(
                "kind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: a\n    image: demo\n    \
                 env: [{{name: PW, valueFrom: {{secretKeyRef: {{name: {secret}, key: password}}}}}}]\n"
            )
        };
        let looked_up = std::cell::RefCell::new(Vec::new());
        let lookup = |name: &str| {
            looked_up.borrow_mut().push(name.to_string());
            stored.get(name).cloned()
        };
        let pods = plan_play(&pod("creds"), &[], &lookup).unwrap().pods;
        // Only the secret the pod names is read, once.
        assert_eq!(*looked_up.borrow(), ["creds"]);
        assert!(pods[0].containers[0]
            .options
            .env
            .contains(&"PW=hunter2".to_string()));
        for missing in ["plain", "nothing"] {
            let err = plan_play(&pod(missing), &[], &lookup)
                .unwrap_err()
                .to_string();
            assert!(err.contains(missing), "{err}");
        }
        // Not looked up without the store.
        assert!(plan(&pod("creds"), &[]).is_err());
    }

    /// A DaemonSet is its template's pod on this one node, named as podman names it
    /// (`NAME-pod`); its selector and update strategy are the cluster's.
    #[test]
    fn a_daemon_set_is_one_pod_here() {
        let yaml = "kind: DaemonSet\nmetadata: {name: agent, labels: {app: agent}}\nspec:\n  \
            selector: {matchLabels: {app: agent}}\n  updateStrategy: {type: RollingUpdate}\n  \
            template:\n    metadata: {labels: {app: agent}}\n    spec:\n      \
            containers: [{name: a, image: demo}]\n";
        let pods = plan(yaml, &[]).unwrap();
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0].name, "agent-pod");
        assert_eq!(
            pods[0].containers[0].options.name.as_deref(),
            Some("agent-pod-a")
        );
        assert_eq!(pod_names(yaml).unwrap(), ["agent-pod"]);
        let err = plan(&yaml.replace("updateStrategy", "minimumNodes"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.minimumNodes"), "{err}");
    }

    /// Seccomp: a container's securityContext, then its annotation, then the pod's
    /// securityContext, then the pod's annotation; what cannot be read, and an annotation
    /// for a container the pod has not, are refused by their path.
    #[test]
    fn seccomp_profiles_are_taken_in_kubernetes_order() {
        use crate::security::SeccompChoice;
        let yaml = "kind: Pod\nmetadata:\n  name: p\n  annotations:\n    \
            seccomp.security.alpha.kubernetes.io/pod: unconfined\n    \
            container.seccomp.security.alpha.kubernetes.io/b: localhost/b.json\n\
            spec:\n  securityContext: {seccompProfile: {type: Localhost, localhostProfile: p/pod.json}}\n  \
            containers:\n  - {name: a, image: demo}\n  - {name: b, image: demo}\n  \
            - {name: c, image: demo, securityContext: {seccompProfile: {type: Unconfined}}}\n";
        let pods = plan(yaml, &[]).unwrap();
        let chosen: Vec<(Option<&str>, &SeccompChoice)> = pods[0]
            .containers
            .iter()
            .map(|c| (c.seccomp_profile.as_deref(), &c.options.security.seccomp))
            .collect();
        assert_eq!(
            chosen,
            [
                (Some("p/pod.json"), &SeccompChoice::Default),
                (Some("b.json"), &SeccompChoice::Default),
                (None, &SeccompChoice::Unconfined),
            ]
        );
        // Without the pod's securityContext, its annotation.
        let annotated = yaml.replace(
            "securityContext: {seccompProfile: {type: Localhost, localhostProfile: p/pod.json}}",
            "hostname: h",
        );
        let pods = plan(&annotated, &[]).unwrap();
        assert_eq!(
            pods[0].containers[0].options.security.seccomp,
            SeccompChoice::Unconfined
        );
        for (from, to, says) in [
            (
                "localhost/b.json",
                "localhost/../b.json",
                "not a path under",
            ),
            ("localhost/b.json", "localhost/", "not a path under"),
            ("localhost/b.json", "localhost//etc/x", "not a path under"),
            ("localhost/b.json", "default", "is not runtime/default"),
            ("kubernetes.io/b:", "kubernetes.io/z:", "names no container"),
            ("p/pod.json", "/abs.json", "not a path under"),
            (
                "type: Localhost, localhostProfile: p/pod.json",
                "type: Localhost",
                "needs its",
            ),
            ("type: Unconfined", "type: Strict", "is not RuntimeDefault"),
            (
                "type: Unconfined",
                "type: Unconfined, localhostProfile: x",
                "only with type",
            ),
            (
                "securityContext: {seccompProfile",
                "securityContext: {runAsNonRoot: true, seccompProfile",
                "spec.securityContext.runAsNonRoot",
            ),
        ] {
            let bad = yaml.replacen(from, to, 1);
            assert_ne!(bad, yaml, "{from}");
            let err = plan(&bad, &[]).unwrap_err().to_string();
            assert!(err.contains(says), "{to}: {err}");
        }
    }

    /// An `image` volume is a read-only image mount of its reference (a sub path inside
    /// the image), its image pulled as its `pullPolicy` says when a container mounts it.
    #[test]
    fn image_volumes_are_read_only_image_mounts() {
        use crate::mounts::MountKind;
        let yaml = "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  \
            - name: a\n    image: demo\n    volumeMounts:\n    \
            - {name: tools, mountPath: /t}\n    - {name: tools, mountPath: /bin2, subPath: bin}\n    \
            - {name: again, mountPath: /again}\n  \
            volumes:\n  - {name: tools, image: {reference: 'localhost/tools:1', pullPolicy: Never}}\n  \
            - {name: again, image: {reference: 'localhost/tools:1', pullPolicy: Never}}\n  \
            - {name: unused, image: {reference: other}}\n";
        let pods = plan(yaml, &[]).unwrap();
        assert_eq!(
            pods[0].volume_images,
            [("localhost/tools:1".to_string(), PullPolicy::Never)]
        );
        let mounts = &pods[0].containers[0].options.mounts;
        assert_eq!(mounts.len(), 3);
        for mount in mounts {
            assert_eq!(mount.kind, MountKind::Image);
            assert_eq!(mount.source, std::path::Path::new("localhost/tools:1"));
            assert!(mount.read_only());
        }
        assert_eq!(
            mounts[1].subpath.as_deref(),
            Some(std::path::Path::new("bin"))
        );
        let default = yaml.replace(", pullPolicy: Never", "");
        assert_eq!(
            plan(&default, &[]).unwrap()[0].volume_images[0].1,
            PullPolicy::Missing
        );
        for (from, to, says) in [
            (
                "pullPolicy: Never",
                "pullPolicy: Sometimes",
                "volumes[0].image.pullPolicy",
            ),
            ("reference: 'localhost/tools:1', ", "", "needs a reference"),
            (
                "pullPolicy: Never",
                "pullPolicy: Never, extra: 1",
                "volumes[0].image.extra",
            ),
            (
                "- {name: tools, image:",
                "- {name: tools, emptyDir: {}, image:",
                "more than one source",
            ),
        ] {
            let bad = yaml.replace(from, to);
            let err = plan(&bad, &[]).unwrap_err().to_string();
            assert!(err.contains(says), "{to}: {err}");
        }
    }

    /// `initContainers` are planned apart, in their order, named as the pod's containers
    /// are, with no restart policy, as `once` init containers unless the pod's annotation
    /// says `always`, their volumes' files filled too.
    #[test]
    fn init_containers_are_planned_in_order_to_run_once() {
        let yaml = "kind: ConfigMap\nmetadata: {name: conf}\ndata: {a: '1'}\n---\n\
            kind: Pod\nmetadata: {name: p}\nspec:\n  restartPolicy: Always\n  initContainers:\n  \
            - {name: first, image: demo, command: [sh, -c, 'echo 1'], volumeMounts: [{name: c, mountPath: /c}]}\n  \
            - {name: second, image: demo}\n  containers:\n  - {name: app, image: demo}\n  \
            volumes:\n  - {name: c, configMap: {name: conf}}\n";
        let pods = plan(yaml, &[]).unwrap();
        let pod = &pods[0];
        let names: Vec<_> = pod
            .init_containers
            .iter()
            .map(|c| c.options.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["p-first", "p-second"]);
        assert_eq!(
            pod.init_containers[0].options.restart,
            RestartPolicy::default()
        );
        assert_ne!(pod.containers[0].options.restart, RestartPolicy::default());
        assert_eq!(pod.containers.len(), 1);
        // The ConfigMap volume only an init container mounts is filled all the same.
        assert_eq!(pod.filled_volumes.len(), 1);
        use crate::container::InitContainerType::{Always, Once};
        let kinds = |pod: &PlannedPod| -> Vec<_> {
            pod.init_containers
                .iter()
                .chain(&pod.containers)
                .map(|c| c.options.init_container)
                .collect()
        };
        assert_eq!(kinds(pod), [Some(Once), Some(Once), None]);
        let annotated = |kind: &str| {
            yaml.replace(
                "metadata: {name: p}",
                &format!(
                    "metadata: {{name: p, annotations: {{io.podman.annotations.init.container.type: {kind}}}}}"
                ),
            )
        };
        let pods = plan(&annotated("always"), &[]).unwrap();
        assert_eq!(kinds(&pods[0]), [Some(Always), Some(Always), None]);
        let err = plan(&annotated("sometimes"), &[]).unwrap_err().to_string();
        assert!(
            err.contains("init.container.type") && err.contains("sometimes"),
            "{err}"
        );
    }

    #[test]
    fn a_host_directory_to_create_is_made_before_the_create() {
        let yaml = "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: demo, volumeMounts: [{name: made, mountPath: /m}, {name: kept, mountPath: /k}]}\n  volumes:\n  - {name: made, hostPath: {path: /srv/made, type: DirectoryOrCreate}}\n  - {name: kept, hostPath: {path: /tmp, type: Directory}}\n";
        let pods = plan(yaml, &[]).unwrap();
        let container = &pods[0].containers[0];
        assert_eq!(container.make_dirs, [std::path::PathBuf::from("/srv/made")]);
        assert_eq!(container.options.mounts.len(), 2);
        // An emptyDir in memory is a tmpfs, read-only when mounted so; another is a volume.
        let memory = yaml.replace(
            "{name: made, hostPath: {path: /srv/made, type: DirectoryOrCreate}}",
            "{name: made, emptyDir: {medium: Memory}}",
        );
        let mounts = &plan(&memory, &[]).unwrap()[0].containers[0].options.mounts;
        assert_eq!(mounts[0].kind, crate::mounts::MountKind::Tmpfs);
        let plain = memory.replace("{medium: Memory}", "{}");
        let pods = plan(&plain, &[]).unwrap();
        let mounts = &pods[0].containers[0].options.mounts;
        assert_eq!(mounts[0].volume.as_deref(), Some("p-made-emptydir"));
        assert_eq!(pods[0].empty_dirs, ["p-made-emptydir"]);
        assert_eq!(empty_dir_of_volume("p-made-emptydir", "p"), Some("made"));
        assert_eq!(empty_dir_of_volume("p-made-emptydir", "q"), None);
        assert_eq!(empty_dir_of_volume("p-made", "p"), None);
        // In memory, no volume is made.
        assert!(plan(&memory, &[]).unwrap()[0].empty_dirs.is_empty());
        let socket = yaml.replace("type: Directory}", "type: Socket}");
        let err = plan(&socket, &[]).unwrap_err().to_string();
        assert!(err.contains("Socket"), "{err}");
    }

    /// `fieldRef` reads the pod's name, ID, labels and annotations; `resourceFieldRef` the
    /// container's limits and requests, in units of the divisor, rounded up.
    #[test]
    fn values_from_the_pods_fields_and_the_containers_resources() {
        let yaml = r#"kind: Pod
metadata:
  name: fields
  labels: {tier: front}
  annotations: {note: hi}
spec:
  containers:
  - name: c
    image: demo
    env:
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: SPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
    - {name: NOTE, valueFrom: {fieldRef: {fieldPath: "metadata.annotations['note']"}}}
    - {name: NONE, valueFrom: {fieldRef: {fieldPath: "metadata.labels['absent']"}}}
    - {name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
    - {name: LATER, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
    - {name: LATER, value: kept}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: MEM_BYTES, valueFrom: {resourceFieldRef: {resource: limits.memory}}}
    - {name: CPU_MILLI, valueFrom: {resourceFieldRef: {containerName: c, resource: requests.cpu, divisor: 1m}}}
    - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
    - {name: ASKED, valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: 1Mi}}}
    resources:
      limits: {memory: 33Mi, cpu: 1500m}
      requests: {memory: 5M}
"#;
        let pods = plan(yaml, &[]).unwrap();
        let planned = pods[0].containers[0].clone();
        // The pod's ID is known once the pod is made; a later definition wins.
        assert_eq!(planned.pod_id_env, ["UID"]);
        assert_eq!(
            planned.with_pod_id("0123abcd").env,
            [
                "NAME=fields",
                "SPACE=default",
                "TIER=front",
                "NOTE=hi",
                "NONE=",
                "UID=0123abcd",
                "LATER=kept",
                "MEM=33",
                "MEM_BYTES=34603008",
                // No request: the limit, as Kubernetes defaults it.
                "CPU_MILLI=1500",
                // 1.5 CPUs, rounded up.
                "CPU=2",
                // 5 MB is 4.77 MiB.
                "ASKED=5",
            ]
        );
        // Without a limit, the host's.
        let unlimited = yaml.replace("limits: {memory: 33Mi, cpu: 1500m}", "limits: {}");
        let env = plan(&unlimited, &[]).unwrap()[0].containers[0]
            .options
            .env
            .clone();
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert!(env.contains(&format!("CPU={cpus}")), "{env:?}");
        assert!(env.contains(&"CPU_MILLI=0".to_string()), "{env:?}");
        for (from, says) in [
            ("{fieldRef: {fieldPath: status.podIP}}", "status.podIP"),
            (
                "{resourceFieldRef: {resource: limits.ephemeral-storage}}",
                "ephemeral-storage",
            ),
            (
                "{resourceFieldRef: {containerName: other, resource: limits.cpu}}",
                "containerName",
            ),
            // A zero divisor is no quantity: no endless quotient.
            (
                "{resourceFieldRef: {resource: limits.memory, divisor: 0}}",
                "not more than zero",
            ),
        ] {
            let refused = yaml.replace("{fieldRef: {fieldPath: metadata.name}}", from);
            let err = plan(&refused, &[]).unwrap_err().to_string();
            assert!(
                err.contains(says) && err.contains("env[0]"),
                "{from}: {err}"
            );
        }
    }

    #[test]
    fn aliases_that_multiply_a_document_are_refused() {
        // A "billion laughs": nine levels of nine aliases each.
        let mut yaml = String::from("a0: &a0 [x]\n");
        for level in 1..10 {
            let refs = vec![format!("*a{}", level - 1); 9].join(", ");
            yaml.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        yaml.push_str(
            "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: *a9}]}\n",
        );
        let started = std::time::Instant::now();
        let err = plan(&yaml, &[]).unwrap_err().to_string();
        assert!(err.contains("repetition limit"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        let value = |t: &str| Value::String(t.into());
        assert_eq!(memory_quantity(&value("1Gi"), "m").unwrap(), 1 << 30);
        assert_eq!(memory_quantity(&value("500M"), "m").unwrap(), 500_000_000);
        assert_eq!(
            memory_quantity(&Value::Number(1024.into()), "m").unwrap(),
            1024
        );
        assert!(memory_quantity(&value("0"), "m").is_err());
        assert_eq!(cpu_quantity(&value("250m"), "c").unwrap(), 0.25);
        assert_eq!(cpu_quantity(&Value::Number(2.into()), "c").unwrap(), 2.0);
        assert!(cpu_quantity(&value("lots"), "c").is_err());
    }

    #[test]
    fn secrets_give_variables_and_files() {
        let yaml = r#"
kind: Secret
metadata: {name: creds}
data: {password: czNjcjN0}
stringData: {user: admin}
---
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: demo
    envFrom:
    - secretRef: {name: creds}
    env:
    - name: PASS
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    volumeMounts:
    - {name: s, mountPath: /run/creds}
  volumes:
  - name: s
    secret: {secretName: creds, defaultMode: 0400}
"#;
        let pods = plan(yaml, &[]).unwrap();
        let options = &pods[0].containers[0].options;
        assert_eq!(
            options.env,
            ["password=s3cr3t", "user=admin", "PASS=s3cr3t"]
        );
        assert_eq!(
            pods[0].filled_volumes,
            [FilledVolume {
                name: "creds-secret".into(),
                files: vec![
                    ("password".into(), b"s3cr3t".to_vec(), 0o400),
                    ("user".into(), b"admin".to_vec(), 0o400),
                ],
            }]
        );
        assert_eq!(options.mounts[0].volume.as_deref(), Some("creds-secret"));
        assert!(options.mounts[0].read_only());
        // A ConfigMap of the same name is another thing.
        let err = plan(&yaml.replace("secretKeyRef", "configMapKeyRef"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("in a ConfigMap named \"creds\""), "{err}");
        assert!(plan(&yaml.replace("czNjcjN0", "not base64!"), &[]).is_err());
        assert_eq!(pod_names(yaml).unwrap(), ["p"]);
    }

    #[test]
    fn liveness_probes_become_health_checks_that_restart() {
        let yaml = r#"
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: exec
    image: demo
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      initialDelaySeconds: 5
      periodSeconds: 2
      timeoutSeconds: 3
      failureThreshold: 4
    readinessProbe: {httpGet: {port: 80}}
  - name: web
    image: demo
    ports: [{containerPort: 8080, name: http}]
    livenessProbe: {httpGet: {port: http, path: health, httpHeaders: [{name: X-Probe, value: "it's me"}]}}
  - name: tcp
    image: demo
    livenessProbe: {tcpSocket: {port: 5432}}
"#;
        let pods = plan(yaml, &[]).unwrap();
        let check = |i: usize| pods[0].containers[i].options.healthcheck.clone().unwrap();
        let exec = check(0);
        assert_eq!(exec.test, ["CMD", "cat", "/tmp/healthy"]);
        assert_eq!(
            (
                exec.start_period_secs,
                exec.interval_secs,
                exec.timeout_secs,
                exec.retries
            ),
            (5, 2, 3, 4)
        );
        assert_eq!(exec.on_failure, crate::health::OnFailure::Restart);
        let web = check(1);
        assert_eq!(web.test[0], "CMD-SHELL");
        assert!(
            web.test[1].contains("'http://localhost:8080/health'"),
            "{:?}",
            web.test
        );
        assert!(
            web.test[1].contains(r"-H 'X-Probe: it'\''s me'")
                && web.test[1].contains(r"--header 'X-Probe: it'\''s me'"),
            "{:?}",
            web.test
        );
        assert_eq!(
            (web.interval_secs, web.timeout_secs, web.retries),
            (10, 1, 3)
        );
        assert_eq!(check(2).test, ["CMD-SHELL", "nc -z 'localhost' 5432"]);
    }

    #[test]
    fn config_maps_give_variables_and_files() {
        let yaml = r#"
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: demo
    envFrom:
    - configMapRef: {name: settings}
      prefix: APP_
    - configMapRef: {name: absent, optional: true}
    env:
    - name: APP_MODE
      value: overridden
    - name: LEVEL
      valueFrom: {configMapKeyRef: {name: settings, key: level}}
    - name: MAYBE
      valueFrom: {configMapKeyRef: {name: settings, key: nope, optional: true}}
    volumeMounts:
    - {name: conf, mountPath: /etc/app}
    - {name: picked, mountPath: /etc/picked}
  volumes:
  - name: conf
    configMap: {name: settings, defaultMode: 0440}
  - name: picked
    configMap:
      name: files
      items:
      - {key: app.conf, path: sub/renamed.conf, mode: 0400}
  - name: unused
    configMap: {name: nowhere}
---
kind: ConfigMap
metadata: {name: settings}
data:
  MODE: production
  level: debug
"#;
        let extra = "kind: ConfigMap\nmetadata: {name: files}\ndata: {app.conf: \"a = 1\\n\"}\nbinaryData: {blob: AAEC}\n";
        let pods = plan(yaml, &[extra.to_string()]).unwrap();
        let env = &pods[0].containers[0].options.env;
        assert_eq!(
            env,
            &["APP_level=debug", "APP_MODE=overridden", "LEVEL=debug"]
        );
        assert_eq!(
            pods[0].filled_volumes,
            [
                FilledVolume {
                    name: "settings".into(),
                    files: vec![
                        ("MODE".into(), b"production".to_vec(), 0o440),
                        ("level".into(), b"debug".to_vec(), 0o440),
                    ],
                },
                FilledVolume {
                    name: "files".into(),
                    files: vec![("sub/renamed.conf".into(), b"a = 1\n".to_vec(), 0o400)],
                },
            ]
        );
        let mounts = &pods[0].containers[0].options.mounts;
        assert_eq!(mounts[0].volume.as_deref(), Some("settings"));
        assert!(mounts[0].read_only() && mounts[0].no_copy);
        let maps = config_maps(&[extra.to_string()]).unwrap();
        assert_eq!(maps["files"]["blob"], [0, 1, 2]);
        for (yaml, says) in [
            (
                yaml.replace("key: level", "key: missing"),
                "no key \"missing\"",
            ),
            (
                yaml.replace("name: files\n", "name: other\n"),
                "no ConfigMap named \"other\"",
            ),
            (
                yaml.replace("path: sub/renamed.conf", "path: ../out"),
                "not a relative path",
            ),
            (
                yaml.replace(
                    "configMapRef: {name: absent, optional: true}",
                    "secretRef: {name: s}",
                ),
                "no Secret named \"s\"",
            ),
        ] {
            let err = plan(&yaml, &[extra.to_string()]).unwrap_err().to_string();
            assert!(err.contains(says), "{says}: {err}");
        }
        assert!(config_maps(&["kind: Pod\nmetadata: {name: p}\n".to_string()]).is_err());
        assert_eq!(file_mode(&Value::Number(420.into()), "m").unwrap(), 0o644);
        assert_eq!(
            file_mode(&Value::String("0o600".into()), "m").unwrap(),
            0o600
        );
        assert!(file_mode(&Value::String("0999".into()), "m").is_err());
        assert!(file_mode(&Value::Number(4096.into()), "m").is_err());
        let bad_key = "kind: ConfigMap\nmetadata: {name: m}\ndata: {\"../x\": y}\n";
        assert!(config_maps(&[bad_key.to_string()]).is_err());
    }
}
