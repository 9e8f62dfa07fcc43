//! libpod container endpoints with shapes of their own.

use serde_json::{json, Value};

use super::create::{create_options, SpecGenerator};
use crate::compat::containers::parse_filters;
use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::service::Context;

pub fn create(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let spec: SpecGenerator = ex.body_json()?;
    let options = create_options(spec)?;
    let record = context.engine.create(options)?;
    ex.json(201, &json!({ "Id": record.id(), "Warnings": [] }))
}

/// `GET /libpod/containers/json`: `ps`'s filters (docs/containers.md), `last` (podman's
/// clients' name for `limit`: the newest that pass, in every state), `sync`, `size`.
pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let all = ex.query_bool("all")?;
    let limit: Option<i64> = match ex.req.query("last") {
        Some(_) => ex.query_int("last")?,
        None => ex.query_int("limit")?,
    };
    let limit = limit.filter(|l| *l > 0);
    let pods = context.engine.pods()?;
    let mut filters = Vec::new();
    for (key, values) in parse_filters(ex)? {
        for value in values {
            let filter = format!("{key}={value}");
            rpod_engine::container_filters::validate(&filter).map_err(ApiError::bad_request)?;
            filters.push(filter);
        }
    }
    let filters = context.engine.resolve_container_filters(&filters)?;
    let status_filter = filters.iter().any(|f| f.starts_with("status="));
    let size = ex.query_bool("size")?;
    let mut records = if ex.query_bool("sync")? {
        context.engine.list_synced()?
    } else {
        context.engine.list()?
    };
    records.sort_by_key(|r| std::cmp::Reverse(r.config.created));
    let mut out = Vec::new();
    for record in &records {
        let running = record.state.status.is_active();
        // As podman's: a status filter or `last` looks at every container.
        if !all && !running && !status_filter && limit.is_none() {
            continue;
        }
        if !rpod_engine::container_filters::matches_all(record, &filters, &records) {
            continue;
        }
        if limit.is_some_and(|l| out.len() as i64 >= l) {
            break;
        }
        out.push(context.engine.list_container(record, &pods, size)?);
    }
    ex.json(200, &out)
}

pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let record = context.engine.inspect(name)?;
    let execs = context.execs.of_container(record.id());
    let view = context.engine.inspect_view(&record, execs)?;
    let mut value = serde_json::to_value(view)
        .map_err(|e| ApiError::internal(format!("encoding the answer: {e}")))?;
    // podman 4's clients decode the stop signal as a number.
    value["Config"]["StopSignal"] = json!(record.config.stop_signal);
    if ex.query_bool("size")? {
        let (written, total) = context.engine.container_size(&record)?;
        value["SizeRw"] = json!(written);
        value["SizeRootFs"] = json!(total);
    }
    ex.json(200, &value)
}

/// `GET /libpod/generate/{name}/systemd` (`podman --remote generate systemd`): the unit,
/// as `{"NAME": "TEXT"}`, running the service's own rpod. podman's clients name the
/// parameters in lower case (`restartpolicy`), its documentation in camel case; both are
/// taken, as podman's decoder takes them.
pub fn generate_systemd(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    use rpod_engine::systemd_unit::UnitOptions;
    let all = |key: &str| -> Vec<String> {
        ex.req
            .query
            .iter()
            .filter(|(n, v)| n.eq_ignore_ascii_case(key) && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    };
    let one = |key: &str| all(key).pop();
    let flag = |key: &str| -> ApiResult<bool> {
        match one(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if matches!(v.as_str(), "1" | "true" | "t" | "yes") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "f" | "no") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!(
                "invalid boolean {v:?} for {key}"
            ))),
        }
    };
    let number = |key: &str| -> ApiResult<Option<u32>> {
        one(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid number {v:?} for {key}")))
            })
            .transpose()
    };
    let template = flag("templateUnitFile")?;
    let options = UnitOptions {
        use_name: flag("useName")?,
        new: flag("new")? || template,
        template,
        restart_policy: one("restartPolicy").unwrap_or_else(|| "on-failure".into()),
        restart_sec: number("restartSec")?.filter(|s| *s > 0),
        stop_timeout: number("stopTimeout")?,
        start_timeout: number("startTimeout")?.filter(|s| *s > 0),
        container_prefix: one("containerPrefix").unwrap_or_else(|| "container".into()),
        pod_prefix: one("podPrefix").unwrap_or_else(|| "pod".into()),
        separator: one("separator").unwrap_or_else(|| "-".into()),
        no_header: flag("noHeader")?,
        wants: all("wants"),
        after: all("after"),
        requires: all("requires"),
        env: all("additionalEnvVariables"),
    };
    let executable = std::env::current_exe()
        .map_err(|e| ApiError::internal(format!("finding rpod's own executable: {e}")))?;
    let units: serde_json::Map<String, Value> = context
        .engine
        .systemd_units(name, &executable, &options)?
        .into_iter()
        .map(|(unit, body)| (unit, Value::String(body)))
        .collect();
    ex.json(200, &units)
}

/// `POST /libpod/containers/{name}/init` (`podman --remote init`): 204, or 304 when the
/// container is already created in the runtime (or running), as podman answers.
pub fn init(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    match context.engine.init_container(name) {
        Ok(_) => ex.empty(204),
        Err(rpod_engine::EngineError::StateInvalid { .. }) => ex.empty(304),
        Err(e) => Err(e.into()),
    }
}

/// `POST /libpod/containers/{name}/update` (`podman update`): the body is the OCI spec's
/// `linux.resources`, as at create; answers the container's ID.
pub fn update(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let resources: Value = ex.body_json()?;
    // podman 5's restart policy of an update: query parameters.
    let restart = match ex.req.query("restartPolicy").filter(|p| !p.is_empty()) {
        None => None,
        Some(policy) => {
            let retries: Option<u32> = ex.query_int("restartRetries")?;
            let text = match retries {
                Some(n) if policy == "on-failure" => format!("{policy}:{n}"),
                _ => policy.to_string(),
            };
            Some(rpod_engine::restart::RestartPolicy::parse(&text)?)
        }
    };
    // -1 is "unlimited" here (`update --pids-limit -1`), where a create takes it as unset.
    let unlimited_pids = resources["pids"]["limit"].as_i64() == Some(-1);
    // A quota of the default period is `--cpus` (what podman's clients send for it);
    // anything else stays a quota and a period, as `update --cpu-quota --cpu-period`
    // keeps them locally.
    let quota = resources["cpu"]["quota"].as_i64().filter(|q| *q > 0);
    let period = resources["cpu"]["period"].as_u64().filter(|p| *p > 0);
    let as_cpus = quota.is_some() && period == Some(100_000);
    let (memory, cpus, pids_limit, extra) = super::create::limits(&Some(resources))?;
    let pids_limit = pids_limit.or(unlimited_pids.then_some(-1));
    let (cpus, cpu_quota, cpu_period) = if as_cpus {
        (cpus, None, None)
    } else {
        (None, quota, period)
    };
    let changes = rpod_engine::resources::LimitChanges {
        memory,
        memory_swap: extra.memory_swap,
        memory_reservation: extra.memory_reservation,
        cpus,
        cpu_shares: extra.cpu_shares,
        cpu_quota,
        cpu_period,
        cpuset_cpus: extra.cpuset_cpus,
        cpuset_mems: extra.cpuset_mems,
        pids_limit,
        blkio_weight: extra.blkio_weight,
        blkio_weight_device: Vec::new(),
        memory_swappiness: extra.memory_swappiness,
        cpu_rt_period: extra.cpu_rt_period,
        cpu_rt_runtime: extra.cpu_rt_runtime,
        // podman's client sends no per-device limits with an update (its LinuxResources
        // would name devices by number; such fields are refused by `limits`).
        device_read_bps: Vec::new(),
        device_write_bps: Vec::new(),
        device_read_iops: Vec::new(),
        device_write_iops: Vec::new(),
        restart,
    };
    let record = context.engine.update(name, &changes)?;
    ex.json(201, &json!(record.id()))
}

/// `GET /libpod/containers/{name}/healthcheck` (`podman healthcheck run` remote): run the
/// container's check once. `Status` is this run's outcome, as podman answers (`healthy`,
/// or `unhealthy` for a failed run even before the retries are used up; `starting` for a
/// startup check not passed yet); the streak and the log are the container's recorded
/// ones.
pub fn healthcheck(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let outcome = context.engine.healthcheck_run(name)?;
    let record = context.engine.inspect(name)?;
    let mut health = serde_json::to_value(&record.state.health)
        .map_err(|e| ApiError::internal(format!("encoding the answer: {e}")))?;
    if !health.is_object() {
        health = json!({ "FailingStreak": 0, "Log": [] });
    }
    health["Status"] = json!(if outcome.startup_pending {
        "starting"
    } else if outcome.passed {
        "healthy"
    } else {
        "unhealthy"
    });
    ex.json(200, &health)
}

/// `POST /libpod/containers/{name}/checkpoint` (`podman container checkpoint` remote):
/// with `export`, the answer is the checkpoint's archive; otherwise podman's report.
pub fn checkpoint(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    ex.refuse_set("checkpoint option", &["preCheckpoint", "withPrevious"])?;
    let export = ex.query_bool("export")?;
    let staging = if export {
        Some(rpod_engine::scratch::ScratchDir::new(
            &context.engine.roots().tmp(),
            "checkpoint-",
        )?)
    } else {
        None
    };
    let archive = staging.as_ref().map(|s| s.path().join("checkpoint.tar.gz"));
    let request = rpod_engine::CheckpointRequest {
        leave_running: ex.query_bool("leaveRunning")?,
        keep: ex.query_bool("keep")?,
        tcp_established: ex.query_bool("tcpEstablished")?,
        file_locks: ex.query_bool("fileLocks")?,
        export: archive.clone(),
        ignore_rootfs: ex.query_bool("ignoreRootFS")?,
        ignore_volumes: ex.query_bool("ignoreVolumes")?,
        // podman's service compresses as its CLI does by default.
        compression: Default::default(),
        create_image: ex
            .req
            .query("createImage")
            .filter(|n| !n.is_empty())
            .map(String::from),
    };
    let report = context.engine.checkpoint(name, &request)?;
    let Some(archive) = archive else {
        return ex.json(
            200,
            &json!({
                "Id": report.id,
                "RawInput": name,
                "runtime_checkpoint_duration": report.runtime_micros,
                "criu_statistics": null,
            }),
        );
    };
    let file = std::fs::File::open(&archive)
        .map_err(|e| ApiError::internal(format!("opening {}: {e}", archive.display())))?;
    ex.send_archive(&[], |out| {
        std::io::copy(&mut std::io::BufReader::new(file), out).map(drop)
    })
}

/// `POST /libpod/containers/{name}/restore` (`podman container restore` remote): with
/// `import`, the body is an exported checkpoint restored into a new container (`name`).
pub fn restore(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    // rpod cannot checkpoint a pod's containers (they share the infra container's
    // network), so there is none to restore into a pod.
    ex.refuse_set("checkpoint option", &["pod"])?;
    let staging;
    let import = if ex.query_bool("import")? {
        staging = rpod_engine::scratch::ScratchDir::new(&context.engine.roots().tmp(), "restore-")?;
        let path = staging.path().join("checkpoint.tar.gz");
        let mut file = std::fs::File::create(&path)
            .map_err(|e| ApiError::internal(format!("creating {}: {e}", path.display())))?;
        let space = context.engine.roots().space_guard();
        std::io::copy(&mut space.reader(ex.conn.body()), &mut file).map_err(|e| {
            match rpod_engine::free_space::NoSpace::within(&e) {
                Some(refusal) => ApiError::from(rpod_engine::EngineError::NoSpace(refusal)),
                None => ApiError::bad_request(format!("reading the archive: {e}")),
            }
        })?;
        Some(path)
    } else {
        None
    };
    let request = rpod_engine::RestoreRequest {
        keep: ex.query_bool("keep")?,
        tcp_established: ex.query_bool("tcpEstablished")?,
        file_locks: ex.query_bool("fileLocks")?,
        ignore_rootfs: ex.query_bool("ignoreRootFS")?,
        name: ex
            .req
            .query("name")
            .filter(|n| !n.is_empty())
            .map(String::from),
        import,
        ignore_volumes: ex.query_bool("ignoreVolumes")?,
        ignore_static_ip: ex.query_bool("ignoreStaticIP")?,
        ignore_static_mac: ex.query_bool("ignoreStaticMAC")?,
        publish: ex.query_values("publishPorts"),
    };
    let imported = request.import.is_some();
    let report = context.engine.restore(name, &request)?;
    ex.json(
        200,
        &json!({
            "Id": report.id,
            // What the client prints: the new container's ID for an import.
            "RawInput": if imported { report.id.as_str() } else { name },
            "runtime_restore_duration": report.runtime_micros,
            "criu_statistics": null,
        }),
    )
}

/// Whether the container's restart policy would start it again after its last exit
/// (204), or not (404), as podman answers.
pub fn should_restart(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let record = context.engine.inspect(name)?;
    let state = &record.state;
    if record.config.restart.should_restart(
        state.exit_code,
        state.stopped_by_user,
        state.restart_retries,
    ) {
        return ex.empty(204);
    }
    Err(ApiError::not_found(format!(
        "container {} should not restart",
        record.id()
    )))
}
