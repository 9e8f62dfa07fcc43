//! The RUN steps' settings and the pull policy of a build over the REST service, as the
//! docker CLI (`extrahosts` repeated, `ulimits` as Docker's objects, sizes in bytes) and
//! podman-remote (lists as JSON arrays of strings, `pullpolicy`) send them.

use rpod_engine::{BuildPull, StepSettings};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;

/// The seccomp profile podman-remote names in every build (the client's default file):
/// rpod's steps use rpod's default profile, which is the same one.
const PODMAN_DEFAULT_SECCOMP: &str = "/usr/share/containers/seccomp.json";

/// A list parameter: repeated (Docker) and/or each a JSON array of strings (podman).
fn list(ex: &Exchange, name: &str) -> ApiResult<Vec<String>> {
    ex.query_list(name)
}

/// Docker's form of one ulimit.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerUlimit {
    name: String,
    soft: i64,
    hard: i64,
}

/// `ulimits`: Docker's `[{"Name":..,"Soft":..,"Hard":..}]` or podman's `["NAME=SOFT:HARD"]`,
/// as `NAME=SOFT:HARD`.
fn ulimits(ex: &Exchange) -> ApiResult<Vec<String>> {
    let Some(text) = ex.req.query("ulimits").filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    if let Ok(docker) = serde_json::from_str::<Vec<DockerUlimit>>(text) {
        return Ok(docker
            .into_iter()
            .map(|u| format!("{}={}:{}", u.name, u.soft, u.hard))
            .collect());
    }
    serde_json::from_str::<Vec<String>>(text).map_err(|e| {
        ApiError::bad_request(format!(
            "ulimits: neither Docker's objects nor NAME=SOFT:HARD strings: {e}"
        ))
    })
}

/// A size in bytes; 0 or absent is none.
fn bytes(ex: &Exchange, name: &str) -> ApiResult<Option<i64>> {
    Ok(ex.query_int::<i64>(name)?.filter(|n| *n != 0))
}

/// The steps' settings the request gives.
pub fn step_settings(ex: &Exchange) -> ApiResult<StepSettings> {
    let text = |name: &str| {
        ex.req
            .query(name)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    if let Some(profile) = text("seccomp").filter(|p| p != PODMAN_DEFAULT_SECCOMP) {
        return Err(ApiError::unsupported(format!(
            "build steps with the seccomp profile {profile:?} (a file of the client's; rpod's steps use rpod's default profile)"
        )));
    }
    let shm_size = match bytes(ex, "shmsize")? {
        None => None,
        Some(size) => Some(u64::try_from(size).map_err(|_| {
            ApiError::bad_request(format!("shmsize {size}: a size in bytes above 0"))
        })?),
    };
    Ok(StepSettings {
        add_hosts: list(ex, "extrahosts")?,
        dns_servers: list(ex, "dnsservers")?,
        dns_search: list(ex, "dnssearch")?,
        dns_options: list(ex, "dnsoptions")?,
        cap_add: list(ex, "addcaps")?,
        cap_drop: list(ex, "dropcaps")?,
        security_opt: list(ex, "labelopts")?
            .into_iter()
            .map(|option| format!("label={option}"))
            .collect(),
        ulimits: ulimits(ex)?,
        devices: list(ex, "devices")?,
        shm_size,
        memory: bytes(ex, "memory")?,
        memory_swap: bytes(ex, "memswap")?,
        cpu_shares: ex.query_int::<u64>("cpushares")?.filter(|n| *n != 0),
        cpu_period: ex.query_int::<u64>("cpuperiod")?.filter(|n| *n != 0),
        cpu_quota: ex.query_int::<i64>("cpuquota")?.filter(|n| *n != 0),
        cpuset_cpus: text("cpusetcpus"),
        cpuset_mems: text("cpusetmems"),
        cgroup_parent: text("cgroupparent"),
        // The service's own proxy settings are not the client's.
        http_proxy: false,
        ..Default::default()
    })
}

/// A build's remote cache: podman-remote's `cachefrom`, `cacheto` (registry repositories)
/// and `cachettl` (a Go duration). Docker's `cachefrom` names local images, another
/// thing: refused.
pub struct RemoteCache {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub ttl: Option<std::time::Duration>,
}

pub fn remote_cache(ex: &Exchange) -> ApiResult<RemoteCache> {
    if ex.flavour == crate::exchange::Flavour::Compat && !list(ex, "cachefrom")?.is_empty() {
        return Err(ApiError::unsupported(
            "Docker's cachefrom (local images as a cache): rpod's build cache is its own",
        ));
    }
    let repositories = |name: &str| -> ApiResult<Vec<String>> {
        list(ex, name)?
            .iter()
            .map(|r| rpod_engine::parse_cache_repository(r).map_err(ApiError::from))
            .collect()
    };
    Ok(RemoteCache {
        from: repositories("cachefrom")?,
        to: repositories("cacheto")?,
        ttl: match ex
            .req
            .query("cachettl")
            .filter(|t| !t.is_empty() && *t != "0s")
        {
            None => None,
            Some(text) => Some(
                rpod_engine::human::parse_duration(text)
                    .and_then(|d| d.to_std().ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("cachettl {text:?}: a duration"))
                    })?,
            ),
        },
    })
}

/// Docker's `pull` (pull the base images every time) or podman's `pullpolicy`.
pub fn pull(ex: &Exchange) -> ApiResult<BuildPull> {
    match ex.req.query("pullpolicy").unwrap_or("") {
        "always" => return Ok(BuildPull::Always),
        "never" => return Ok(BuildPull::Never),
        // buildah's name of it, which podman-remote sends.
        "ifnewer" | "newer" => return Ok(BuildPull::Newer),
        "" | "missing" | "ifmissing" => {}
        other => {
            return Err(ApiError::unsupported(format!(
                "the pull policy {other:?} (rpod's are always, missing, never and ifnewer)"
            )))
        }
    }
    Ok(if ex.query_bool("pull")? {
        BuildPull::Always
    } else {
        BuildPull::Missing
    })
}
