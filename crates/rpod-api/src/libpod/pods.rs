//! libpod's pod endpoints (`/libpod/pods/...`), as podman-remote's `pod` commands use
//! them: create from a PodSpecGenerator, list, inspect, exists, start, stop, restart,
//! kill, pause, unpause, remove and prune. The answers are podman's reports.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use rpod_engine::pods::{PodRecord, PodStatus, SharedNamespace};
use rpod_engine::views::PodInspect;
use rpod_engine::PodOptions;

use super::create::{create_options, neutral, user_namespace, SpecGenerator, UserNamespace};
use crate::compat::containers::parse_filters;
use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::service::Context;

/// The PodSpecGenerator fields rpod takes; the network ones are a SpecGenerator's, read
/// the same way.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PodSpec {
    name: String,
    hostname: String,
    labels: Option<BTreeMap<String, String>>,
    no_infra: bool,
    infra_command: Option<Vec<String>>,
    infra_image: String,
    infra_name: String,
    shared_namespaces: Option<Vec<String>>,
    pod_create_command: Option<Vec<String>>,
    exit_policy: String,
    infra_conmon_pid_file: String,
    /// The pod's cgroup as its containers' parent (podman's default: true).
    share_parent: Option<bool>,
    cgroup_parent: String,
    /// The pod's limits, as an OCI spec's `linux.resources`.
    resource_limits: Option<Value>,
    /// What podman-remote sends for `--cpus` besides the limits' own quota and period.
    cpu_period: u64,
    cpu_quota: i64,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// The fields of a PodSpecGenerator for its infra container that are a SpecGenerator's
/// too: the network, the pod's volumes and mounts, sysctls, `/dev/shm` size, PID and UTS
/// namespaces.
const INFRA_FIELDS: &[&str] = &[
    "netns",
    "Networks",
    "portmappings",
    "dns_server",
    "dns_search",
    "dns_option",
    "hostadd",
    "volumes",
    "mounts",
    "volumes_from",
    "sysctl",
    "shm_size",
    "pidns",
    "utsns",
    // The pod's device limits, moved to its cgroup's limits below.
    "throttleReadBpsDevice",
    "throttleWriteBpsDevice",
    "weightDevice",
];

/// `POST /libpod/pods/create`: 201 and the pod's ID.
pub fn create(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let spec: PodSpec = ex.body_json()?;
    let options = pod_options(spec)?;
    let pod = context.engine.create_pod(options)?;
    ex.json(201, &json!({ "Id": pod.id }))
}

/// A PodSpecGenerator as the engine's pod options.
pub(crate) fn pod_options(mut spec: PodSpec) -> ApiResult<PodOptions> {
    let exit_policy = rpod_engine::pods::ExitPolicy::parse(&spec.exit_policy)?;
    let mut limits = pod_limits(spec.resource_limits.take(), spec.cpu_quota, spec.cpu_period)?;
    let no_hosts = spec
        .rest
        .remove("no_manage_hosts")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    // The pod's user namespace (its infra container's, which its containers join).
    let userns = user_namespace(&spec.rest.remove("idmappings"), &spec.rest.remove("userns"))?;
    let mut infra = Map::new();
    for field in INFRA_FIELDS {
        if let Some(value) = spec.rest.remove(*field) {
            infra.insert(field.to_string(), value);
        }
    }
    // The pod's devices are `--device` words; a SpecGenerator's are objects of them.
    if let Some(devices) = spec.rest.remove("pod_devices") {
        let words: Vec<String> = serde_json::from_value(devices)
            .map_err(|e| ApiError::bad_request(format!("invalid pod_devices: {e}")))?;
        let objects: Vec<Value> = words.iter().map(|w| json!({ "path": w })).collect();
        infra.insert("devices".into(), Value::Array(objects));
    }
    let security_opt: Vec<String> = match spec.rest.remove("security_opt") {
        Some(value) => serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request(format!("invalid security_opt: {e}")))?,
        None => Vec::new(),
    };
    for (key, value) in &spec.rest {
        if !neutral(key, value) {
            return Err(ApiError::unsupported(format!(
                "the PodSpecGenerator field {key} ({value})"
            )));
        }
    }
    // A SpecGenerator of those fields alone (and an image it needs) reads them as a
    // container's create does.
    infra.insert("image".into(), json!("-"));
    let as_container: SpecGenerator = serde_json::from_value(Value::Object(infra))
        .map_err(|e| ApiError::bad_request(format!("invalid pod settings: {e}")))?;
    let mut infra_options = create_options(as_container)?;
    let devices = &mut infra_options.resources;
    limits.device_read_bps = std::mem::take(&mut devices.device_read_bps);
    limits.device_write_bps = std::mem::take(&mut devices.device_write_bps);
    limits.blkio_weight_device = std::mem::take(&mut devices.blkio_weight_device);
    infra_options.security =
        rpod_engine::security::SecurityOptions::from_flags(false, &[], &[], &security_opt)?;
    infra_options.image = None;
    infra_options.net.no_hosts = no_hosts;
    match userns {
        UserNamespace::Host => {}
        UserNamespace::Mapped(mappings) => infra_options.id_mappings = Some(mappings),
        UserNamespace::Auto(auto) => infra_options.userns_auto = Some(auto),
    }
    let shared = spec
        .shared_namespaces
        .as_ref()
        .map(|list| SharedNamespace::parse_list(&list.join(",")))
        .transpose()?;
    let options = PodOptions {
        name: (!spec.name.is_empty()).then(|| spec.name.clone()),
        labels: spec.labels.take().unwrap_or_default(),
        infra: spec.no_infra.then_some(false),
        shared,
        hostname: (!spec.hostname.is_empty()).then(|| spec.hostname.clone()),
        infra_name: (!spec.infra_name.is_empty()).then(|| spec.infra_name.clone()),
        infra_command: spec.infra_command.take().filter(|c| !c.is_empty()),
        infra_image: (!spec.infra_image.is_empty()).then(|| spec.infra_image.clone()),
        infra_options,
        create_command: spec.pod_create_command.take().unwrap_or_default(),
        exit_policy,
        infra_conmon_pidfile: (!spec.infra_conmon_pid_file.is_empty())
            .then(|| spec.infra_conmon_pid_file.clone().into()),
        // podman-remote removes the pod it replaces itself first.
        replace: false,
        share_parent: spec.share_parent,
        cgroup_parent: (!spec.cgroup_parent.is_empty()).then(|| spec.cgroup_parent.clone()),
        limits,
    };
    Ok(options)
}

/// The pod's limits from a PodSpecGenerator's `resource_limits` (an OCI `LinuxResources`:
/// `cpu.quota`/`period`/`shares`/`cpus`/`mems`, `memory.limit`/`swap`, `blockIO.weight`)
/// and its `cpu_quota`/`cpu_period`. Any other limit set is refused.
fn pod_limits(
    resources: Option<Value>,
    cpu_quota: i64,
    cpu_period: u64,
) -> ApiResult<rpod_engine::pod_cgroups::PodLimits> {
    let mut resources = match resources {
        Some(Value::Object(map)) => map,
        Some(Value::Null) | None => Map::new(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid resource_limits: {other}"
            )))
        }
    };
    let mut take = |section: &str, key: &str| -> Option<Value> {
        let found = resources
            .get_mut(section)
            .and_then(Value::as_object_mut)
            .and_then(|m| m.remove(key));
        found.filter(|v| !crate::compat::create::zeroish(v))
    };
    let number = |v: Option<Value>| v.and_then(|v| v.as_i64());
    let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(String::from));
    let quota = number(take("cpu", "quota")).unwrap_or(cpu_quota);
    let period = number(take("cpu", "period"))
        .map(|p| p as u64)
        .unwrap_or(cpu_period);
    let limits = rpod_engine::pod_cgroups::PodLimits {
        cpus: (quota > 0).then(|| quota as f64 / if period > 0 { period } else { 100_000 } as f64),
        cpu_shares: number(take("cpu", "shares")).map(|s| s as u64),
        cpuset_cpus: text(take("cpu", "cpus")),
        cpuset_mems: text(take("cpu", "mems")),
        memory: number(take("memory", "limit")),
        memory_swap: number(take("memory", "swap")),
        blkio_weight: number(take("blockIO", "weight")).map(|w| w as u16),
        ..Default::default()
    };
    let rest = Value::Object(resources);
    if !nothing_set(&rest) {
        return Err(ApiError::unsupported(format!(
            "the pod limits {rest} (rpod's pods take cpu quota, period, shares, cpus and mems, \
             memory limit and swap, and blockIO weight)"
        )));
    }
    Ok(limits)
}

/// A value whose every leaf is empty, zero or false.
fn nothing_set(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().all(nothing_set),
        Value::Array(items) => items.iter().all(nothing_set),
        other => crate::compat::create::zeroish(other),
    }
}

pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let filters = parse_filters(ex)?;
    rpod_engine::PodView::check_filters(&filters)?;
    let filters = context.engine.resolve_pod_filters(filters);
    let mut out = Vec::new();
    for pod in context.engine.pods()? {
        let view = context.engine.pod_view(pod)?;
        if view.passes(&filters)? {
            out.push(rpod_engine::views::ListPod::new(&view));
        }
    }
    ex.json(200, &out)
}

pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let pod = context.engine.lookup_pod(name)?;
    let view = context.engine.pod_view(pod)?;
    ex.json(200, &PodInspect::new(&view))
}

pub fn exists(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    context.engine.lookup_pod(name)?;
    ex.empty(204)
}

/// The report podman's clients read after start, stop, restart, kill, pause, unpause. A
/// conflict goes out in the same shape (`Errs`, each member's failure a line), which is how
/// podman's clients read a pod's 409: as a bare error, podman-remote printed an empty
/// `Error: `.
fn report(ex: &mut Exchange, outcome: rpod_engine::Result<PodRecord>) -> ApiResult<()> {
    let failure = match outcome {
        Ok(pod) => return ex.json(200, &json!({ "Errs": [], "Id": pod.id })),
        Err(e) => e,
    };
    let (id, errs): (String, Vec<String>) = match &failure {
        // The first line says what failed for how many; the rest, one member each.
        rpod_engine::EngineError::PodMembersFailed { id, message } => (
            id.clone(),
            message.lines().skip(1).map(String::from).collect(),
        ),
        _ => (String::new(), vec![failure.to_string()]),
    };
    let error = ApiError::from(failure);
    if error.status != 409 {
        return Err(error);
    }
    ex.json(409, &json!({ "Errs": errs, "Id": id }))
}

pub fn start(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let view = context.engine.pod_view(context.engine.lookup_pod(name)?)?;
    if view.status == PodStatus::Running {
        return ex.empty(304);
    }
    report(ex, context.engine.pod_start(&view.pod.id))
}

pub fn stop(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    // podman-remote sends `timeout`; podman's own server reads `t`.
    let timeout = crate::compat::containers::stop_timeout(ex)?;
    let view = context.engine.pod_view(context.engine.lookup_pod(name)?)?;
    if matches!(view.status, PodStatus::Exited | PodStatus::Stopped) {
        return ex.empty(304);
    }
    report(ex, context.engine.pod_stop(&view.pod.id, timeout))
}

pub fn restart(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let timeout = crate::compat::containers::stop_timeout(ex)?;
    report(ex, context.engine.pod_restart(name, timeout))
}

pub fn kill(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let signal = match ex.req.query("signal").filter(|s| !s.is_empty()) {
        Some(text) => rpod_oci::signal::parse_signal(text)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => libc::SIGKILL,
    };
    report(ex, context.engine.pod_kill(name, signal))
}

pub fn pause(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    report(ex, context.engine.pod_pause(name))
}

pub fn unpause(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    report(ex, context.engine.pod_unpause(name))
}

/// `DELETE /libpod/pods/{name}?force=&timeout=`: podman's `PodRmReport`.
pub fn remove(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let force = ex.query_bool("force")?;
    let timeout: Option<u32> = ex.query_int("timeout")?;
    let pod = context.engine.lookup_pod(name)?;
    context.engine.pod_remove(&pod.id, force, timeout)?;
    ex.json(200, &json!({ "Err": null, "Id": pod.id }))
}

pub fn prune(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let removed: Vec<Value> = context
        .engine
        .pod_prune()?
        .into_iter()
        .map(|id| json!({ "Err": null, "Id": id }))
        .collect();
    ex.json(200, &removed)
}

/// `GET /libpod/pods/{name}/top?ps_args=a,b`: the processes of the pod's running
/// containers, as a container's top answers (`pod top`'s descriptors, in one parameter or
/// a parameter per word).
pub fn top(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let words = crate::compat::container_observe::ps_args_words(ex);
    let (titles, processes) = context.engine.pod_top(name, &words)?;
    ex.json(200, &json!({ "Titles": titles, "Processes": processes }))
}

/// `GET /libpod/pods/stats?namesOrIDs=...&all=`: podman's `PodStatsReport` for each
/// container of the pods named (of every pod with `all` or none named), `--` for one not
/// running; the CPU % is since the container's start.
pub fn stats(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let named: Vec<String> = ex
        .req
        .query_all("namesOrIDs")
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    let pods = if named.is_empty() || ex.query_bool("all")? {
        context.engine.pods()?
    } else {
        named
            .iter()
            .map(|n| context.engine.lookup_pod(n))
            .collect::<Result<_, _>>()?
    };
    let reports = context
        .engine
        .pod_stats(pods, &mut std::collections::HashMap::new())?;
    ex.json(200, &reports)
}

/// `GET /libpod/generate/kube?names=NAME&names=...` (podman-remote's `generate kube`): the
/// Kubernetes YAML of the containers or pods named, as text; what it leaves out is logged.
/// `service=true` adds a Service for each pod's published ports (`--service`).
pub fn generate_kube(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let service = ex.query_bool("service")?;
    let names: Vec<String> = ex
        .req
        .query
        .iter()
        .filter(|(name, value)| name == "names" && !value.is_empty())
        .map(|(_, value)| value.clone())
        .collect();
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "names: at least one container or pod is needed",
        ));
    }
    let generated = context.engine.generate_kube(&names, service)?;
    for warning in &generated.warnings {
        tracing::warn!("{warning}");
    }
    ex.send(200, "text/vnd.yaml", generated.yaml.as_bytes())
}

/// `POST /libpod/play/kube` (podman-remote's `kube play`): the body is the YAML; podman's
/// `PlayKubeReport` back. `start` (true by default), `replace`, `userns` (`host`,
/// `auto[:size=N]`), `network`, `logDriver`, `logOptions`, `staticIPs`, `staticMACs`,
/// `noHosts`, `annotations` (a JSON object) and `tlsVerify` are taken; the other options
/// podman has (builds, ConfigMap files, published ports) are refused when set.
pub fn play_kube(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    ex.refuse_set(
        "kube play option",
        &["build", "contextDir", "configmaps", "publishPorts"],
    )?;
    let all = |name: &str| ex.query_values(name);
    let log_options = all("logOptions");
    let log = rpod_engine::logs::LogOptions::parse(
        log_options
            .iter()
            .map(|opt| opt.split_once('=').unwrap_or((opt.as_str(), ""))),
    )?;
    let ips = all("staticIPs")
        .iter()
        .map(|ip| {
            ip.parse()
                .map_err(|_| ApiError::bad_request(format!("staticIPs: {ip:?} is no IP address")))
        })
        .collect::<ApiResult<Vec<std::net::IpAddr>>>()?;
    let annotations: std::collections::BTreeMap<String, String> = match ex.req.query("annotations")
    {
        Some(text) if !text.is_empty() => serde_json::from_str(text).map_err(|e| {
            ApiError::bad_request(format!("annotations: not a JSON object of strings: {e}"))
        })?,
        _ => std::collections::BTreeMap::new(),
    };
    let userns_auto = match ex.req.query("userns") {
        None | Some("" | "host") => None,
        Some(mode) => Some(
            rpod_engine::userns::AutoUserns::parse(mode)?.ok_or_else(|| {
                ApiError::unsupported(format!(
                    "kube play userns {mode:?} (a pod's user namespace is made with auto)"
                ))
            })?,
        ),
    };
    let options = rpod_engine::PlayOptions {
        start: ex.query_bool_or("start", true)?,
        replace: ex.query_bool("replace")?,
        userns_auto,
        configmaps: Vec::new(),
        // As podman's: no builds through the service (the context would be the client's).
        build_dir: None,
        build: None,
        network: {
            let given: Vec<String> = ex
                .req
                .query_all("network")
                .into_iter()
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect();
            (!given.is_empty())
                .then(|| rpod_engine::network::parse_network_flags(&given))
                .transpose()?
        },
        log_to_file: ex
            .req
            .query("logDriver")
            .filter(|d| !d.is_empty())
            .map(rpod_engine::parse_kube_log_driver)
            .transpose()?,
        log,
        registry: crate::registries::libpod_tls(ex)?,
        no_hosts: ex.query_bool("noHosts")?,
        annotations,
        ips,
        macs: all("staticMACs"),
        // podman's remote client has no --seccomp-profile-root: the service's default.
        seccomp_profile_root: None,
    };
    let yaml = kube_body(ex)?;
    let played = context.engine.kube_play(&yaml, &options, &mut |_| {})?;
    for service in &played.services {
        tracing::warn!(
            service,
            "kube play: a Service is not played (it needs a cluster)"
        );
    }
    let pods: Vec<Value> = played
        .pods
        .iter()
        .map(|pod| {
            json!({
                "ID": pod.id,
                "Containers": pod.containers,
                "InitContainers": [],
                "Logs": [],
                "ContainerErrors": [],
            })
        })
        .collect();
    let volumes: Vec<Value> = played
        .volumes
        .iter()
        .map(|name| json!({ "Name": name }))
        .collect();
    ex.json(
        200,
        &json!({ "Pods": pods, "Volumes": volumes, "RmReport": [], "StopReport": [] }),
    )
}

/// `DELETE /libpod/play/kube` (podman-remote's `kube down`): the pods the YAML makes,
/// removed.
pub fn down_kube(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let yaml = kube_body(ex)?;
    let removed = context.engine.kube_down(&yaml)?;
    let report: Vec<Value> = removed.iter().map(|id| json!({ "Id": id })).collect();
    ex.json(200, &json!({ "StopReport": report, "RmReport": report }))
}

/// A Kubernetes YAML request body (at most `kube::MAX_YAML`).
fn kube_body(ex: &mut Exchange) -> ApiResult<String> {
    let body = ex.conn.read_body(rpod_engine::kube::MAX_YAML)?;
    String::from_utf8(body).map_err(|_| ApiError::bad_request("the YAML is not UTF-8"))
}
