//! Container endpoints of the Docker API (and the libpod ones that share their handler).

use std::collections::HashMap;
use std::io::Write;

use serde_json::{json, Value};

use rpod_engine::container::{ContainerRecord, Status};
use rpod_engine::logs::{LogFilter, LogLine, Stream};
use rpod_engine::{EngineError, RemoveOptions, WaitCondition, WaitOptions, WaitOutcome};
use rpod_oci::framing::{frame_header, StreamKind};
use rpod_oci::{HttpAttachOptions, HttpAttachStreams, TerminalSize};

use super::create::{create_options, missing_bind_sources, CreateBody};
use super::views;
use crate::error::{ApiError, ApiResult};
use crate::exchange::{Exchange, Flavour};
use crate::hangup::HangupWatch;
use crate::service::Context;

pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
pub const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// The content type of a container's or session's stream: framing follows the terminal,
/// and API versions before 1.42 call every stream raw.
pub fn stream_type(ex: &Exchange, terminal: bool) -> &'static str {
    if terminal || ex.flavour == Flavour::Libpod || !ex.version_at_least(1, 42) {
        RAW_STREAM
    } else {
        MULTIPLEXED_STREAM
    }
}

pub fn create(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let name = ex
        .req
        .query("name")
        .filter(|n| !n.is_empty())
        .map(String::from);
    let body: CreateBody = ex.body_json()?;
    let missing_sources = missing_bind_sources(&body)?;
    let mut options = create_options(body, name)?;
    // `docker run --platform`.
    options.platform = rpod_engine::image::platform::Platform::from_flags(
        ex.req.query("platform"),
        None,
        None,
        None,
    )?;
    for dir in &missing_sources {
        rpod_engine::mounts::make_host_dir(dir)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let record = context.engine.create(options).map_err(create_error)?;
    ex.json(201, &json!({ "Id": record.id(), "Warnings": [] }))
}

/// A failed create as Docker's clients should take it. The docker CLI pulls the image on
/// any 404 of a create and then tries again, so only a missing image may be one: a missing
/// network, container (`--volumes-from`) or secret the request names is a bad request.
fn create_error(e: rpod_engine::EngineError) -> ApiError {
    let missing_image = matches!(e, rpod_engine::EngineError::NoSuchImage(_));
    let mut error = ApiError::from(e);
    if error.status == 404 && !missing_image {
        error.status = 400;
    }
    error
}

/// Docker's `filters` query parameter: `{"key": ["value", ...]}` (or the older
/// `{"key": {"value": true}}`).
pub fn parse_filters(ex: &Exchange) -> ApiResult<HashMap<String, Vec<String>>> {
    let Some(text) = ex.req.query("filters").filter(|t| !t.is_empty()) else {
        return Ok(HashMap::new());
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("invalid filters {text:?}: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::bad_request(format!("invalid filters {text:?}: not an object")))?;
    let mut out = HashMap::new();
    for (key, values) in object {
        let list: Vec<String> = match values {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(String::from))
                .collect::<Option<_>>()
                .ok_or_else(|| ApiError::bad_request(format!("invalid filter {key:?}")))?,
            Value::Object(map) => map.keys().cloned().collect(),
            _ => return Err(ApiError::bad_request(format!("invalid filter {key:?}"))),
        };
        out.insert(key.clone(), list);
    }
    Ok(out)
}

/// Refuse unknown filters before any container is looked at: Docker's statuses, and
/// podman's keys and values for the rest (`container_filters`).
fn validate_filters(filters: &HashMap<String, Vec<String>>) -> ApiResult<()> {
    for (key, values) in filters {
        if key == "status" {
            continue;
        }
        for value in values {
            rpod_engine::container_filters::validate(&format!("{key}={value}"))
                .map_err(ApiError::bad_request)?;
        }
    }
    Ok(())
}

/// Whether a container passes every filter (one value of each key, every value of
/// `label`: `filter_values::key_passes`).
fn matches_filters(
    record: &ContainerRecord,
    filters: &HashMap<String, Vec<String>>,
    all: &[ContainerRecord],
) -> bool {
    filters.iter().all(|(key, values)| {
        let mut results = values.iter().map(|value| match key.as_str() {
            // Docker's names for the states (created, running, exited, ...), and podman's.
            "status" => {
                value == views::docker_status(record.state.status)
                    || value == record.state.status.as_str()
            }
            // A regular expression, as Docker's, which tries it on the name and on the
            // name with its leading slash (`^db$` and `^/db$` both find db).
            "name" => {
                let name = &record.config.name;
                rpod_engine::filter_values::name_matches(name, value)
                    || rpod_engine::filter_values::name_matches(&format!("/{name}"), value)
            }
            _ => rpod_engine::container_filters::matches(record, &format!("{key}={value}"), all),
        });
        rpod_engine::filter_values::key_passes(key, &mut results)
    })
}

pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let all = ex.query_bool("all")?;
    let size = ex.query_bool("size")?;
    let limit: Option<i64> = ex.query_int("limit")?;
    let mut filters = parse_filters(ex)?;
    validate_filters(&filters)?;
    let mut records = context.engine.list()?;
    let names = crate::networks::DockerNetworkNames::of(&context.engine);
    // A network by Docker's name for it, its own or its ID.
    for value in filters.get_mut("network").into_iter().flatten() {
        *value = context
            .engine
            .network_name_for_filter(&names.resolved(value));
    }
    records.sort_by_key(|r| std::cmp::Reverse(r.config.created));
    // As dockerd: a status filter or a limit (`docker ps -n N`, `-l`) looks at containers
    // in every state.
    let every_state = all || filters.contains_key("status") || limit.is_some_and(|l| l > 0);
    let mut out = Vec::new();
    for record in &records {
        let running = matches!(
            record.state.status,
            Status::Running | Status::Paused | Status::Stopping
        );
        if (!every_state && !running) || !matches_filters(record, &filters, &records) {
            continue;
        }
        let mut summary = views::container_summary(record, &names);
        if size {
            let (written, total) = context.engine.container_size(record)?;
            summary["SizeRw"] = json!(written);
            summary["SizeRootFs"] = json!(total);
        }
        out.push(summary);
    }
    if let Some(limit) = limit.filter(|l| *l > 0) {
        out.truncate(limit as usize);
    }
    ex.json(200, &out)
}

pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let record = context.engine.inspect(name)?;
    let exec_ids = context.execs.of_container(record.id());
    let mut value = views::container_inspect(&context.engine, &record, exec_ids)?;
    if ex.query_bool("size")? {
        let (written, total) = context.engine.container_size(&record)?;
        value["SizeRw"] = json!(written);
        value["SizeRootFs"] = json!(total);
    }
    ex.json(200, &value)
}

pub fn exists(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    context.engine.lookup(name)?;
    ex.empty(204)
}

/// 204, or 304 when there was nothing to do.
fn done_or_not_modified(ex: &mut Exchange, result: Result<(), EngineError>) -> ApiResult<()> {
    match result {
        Ok(()) => ex.empty(204),
        Err(EngineError::NotModified(_)) => ex.empty(304),
        Err(e) => Err(e.into()),
    }
}

pub fn start(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let result = context.engine.start(name, None, None).map(drop);
    if let Err(e) = &result {
        // A `--rm` container that cannot start is removed, as `docker run --rm` waits for
        // (and `rpod run --rm` does).
        match context.engine.lookup(name) {
            Ok(record) if record.config.auto_remove && !record.state.status.is_active() => {
                tracing::debug!("removing {} after its failed start: {e}", record.id());
                let removal = RemoveOptions {
                    force: true,
                    timeout: Some(0),
                    volumes: true,
                };
                let _ = context.engine.remove(record.id(), removal);
            }
            _ => {}
        }
    }
    done_or_not_modified(ex, result)
}

/// The stop timeout of `?t=` (Docker) or `?timeout=` (libpod).
pub(crate) fn stop_timeout(ex: &Exchange) -> ApiResult<Option<u32>> {
    let t: Option<i64> = match ex.query_int("t")? {
        Some(t) => Some(t),
        None => ex.query_int("timeout")?,
    };
    match t {
        None => Ok(None),
        Some(t) if t < 0 => Ok(Some(0)),
        Some(t) => Ok(Some(t.min(i64::from(u32::MAX)) as u32)),
    }
}

/// The `signal=` of stop and restart (API 1.42 and later), by name or number.
fn stop_signal(ex: &Exchange) -> ApiResult<Option<i32>> {
    match ex.req.query("signal").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => rpod_oci::signal::parse_signal(text)
            .map(Some)
            .map_err(|e| ApiError::bad_request(e.to_string())),
    }
}

pub fn stop(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let signal = stop_signal(ex)?;
    let timeout = stop_timeout(ex)?;
    let result = context
        .engine
        .stop_with_signal(name, timeout, signal)
        .map(drop);
    done_or_not_modified(ex, result)
}

pub fn restart(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let signal = stop_signal(ex)?;
    let timeout = stop_timeout(ex)?;
    context.engine.restart_with_signal(name, timeout, signal)?;
    ex.empty(204)
}

pub fn kill(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let signal = match ex.req.query("signal").filter(|s| !s.is_empty()) {
        Some(text) => rpod_oci::signal::parse_signal(text)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => libc::SIGKILL,
    };
    context.engine.kill(name, signal)?;
    ex.empty(204)
}

/// The fields of Docker's update body that rpod changes; the client sends every field, so
/// any other is accepted only at its neutral value.
const UPDATE_FIELDS: &[&str] = &[
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "NanoCpus",
    "CpuShares",
    "CpuQuota",
    "CpuPeriod",
    "CpusetCpus",
    "CpusetMems",
    "PidsLimit",
    "BlkioWeight",
    "BlkioWeightDevice",
    "MemorySwappiness",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "RestartPolicy",
];

/// `POST /containers/{name}/update` (`docker update`): change the cgroup limits of a
/// container, running or not; a zero or empty field leaves its limit as it is.
pub fn update(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    use super::create::{host_throttles, typed};
    let body: serde_json::Map<String, Value> = ex.body_json()?;
    for (key, value) in &body {
        if !UPDATE_FIELDS.contains(&key.as_str()) && !super::create::zeroish(value) {
            return Err(ApiError::unsupported(format!("updating {key}")));
        }
    }
    // The client always sends a policy; an empty name leaves the container's as it is.
    let named_policy = body
        .get("RestartPolicy")
        .and_then(|p| p.get("Name"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    // Zero leaves a limit as it is.
    let positive = |key: &str| super::create::limit(&body, key, false);
    let text = |key: &str| -> ApiResult<Option<String>> {
        Ok(typed::<String>(&body, key)?.filter(|v| !v.is_empty()))
    };
    let changes = rpod_engine::resources::LimitChanges {
        memory: positive("Memory")?,
        // -1 lifts the swap limit.
        memory_swap: super::create::limit(&body, "MemorySwap", true)?,
        memory_reservation: positive("MemoryReservation")?,
        cpus: positive("NanoCpus")?.map(|n| n as f64 / 1e9),
        cpu_shares: positive("CpuShares")?.map(|s| s as u64),
        // -1 lifts the quota.
        cpu_quota: super::create::limit(&body, "CpuQuota", true)?,
        cpu_period: positive("CpuPeriod")?.map(|p| p as u64),
        cpuset_cpus: text("CpusetCpus")?,
        cpuset_mems: text("CpusetMems")?,
        // null leaves it; 0 and -1 lift it.
        pids_limit: typed::<i64>(&body, "PidsLimit")?.map(|p| if p <= 0 { -1 } else { p }),
        blkio_weight: typed::<u16>(&body, "BlkioWeight")?.filter(|w| *w > 0),
        blkio_weight_device: super::create::host_weights(&body)?,
        memory_swappiness: typed::<i64>(&body, "MemorySwappiness")?
            .filter(|s| *s >= 0)
            .map(|s| s as u64),
        cpu_rt_period: positive("CpuRealtimePeriod")?.map(|p| p as u64),
        cpu_rt_runtime: super::create::limit(&body, "CpuRealtimeRuntime", true)?,
        device_read_bps: host_throttles(&body, "BlkioDeviceReadBps", "--device-read-bps")?,
        device_write_bps: host_throttles(&body, "BlkioDeviceWriteBps", "--device-write-bps")?,
        device_read_iops: host_throttles(&body, "BlkioDeviceReadIOps", "--device-read-iops")?,
        device_write_iops: host_throttles(&body, "BlkioDeviceWriteIOps", "--device-write-iops")?,
        restart: if named_policy {
            super::create::restart_policy(&body)?
        } else {
            None
        },
    };
    context.engine.update(name, &changes)?;
    ex.json(200, &json!({ "Warnings": [] }))
}

/// `POST /containers/{name}/rename?name=NEW`.
pub fn rename(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let new_name = ex
        .req
        .query("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("the name parameter is required"))?
        .to_string();
    context.engine.rename(name, &new_name)?;
    ex.empty(204)
}

/// `POST /containers/prune`: remove the containers that do not run, as `filters` pick
/// them (`label`, `label!`, `until`).
pub fn prune(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    type Test = Box<dyn Fn(&ContainerRecord) -> bool>;
    let mut tests: Vec<Test> = Vec::new();
    for (key, values) in parse_filters(ex)? {
        for value in values {
            tests.push(match key.as_str() {
                "label" => {
                    Box::new(move |r| rpod_engine::labels::matches(&r.config.labels, &value))
                }
                "label!" => {
                    Box::new(move |r| !rpod_engine::labels::matches(&r.config.labels, &value))
                }
                "until" => {
                    let until = rpod_engine::human::parse_time(&value)
                        .map_err(ApiError::bad_request)?
                        .with_timezone(&chrono::Utc);
                    Box::new(move |r| r.config.created < until)
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filter {other:?}: use label, label! or until"
                    )))
                }
            });
        }
    }
    let removed = context.engine.prune(&|r| tests.iter().all(|t| t(r)))?;
    match ex.flavour {
        Flavour::Compat => ex.json(
            200,
            &json!({
                "ContainersDeleted": rpod_engine::engine::pruned_ids(&removed),
                "SpaceReclaimed": rpod_engine::engine::reclaimed(&removed),
            }),
        ),
        Flavour::Libpod => ex.json(200, &crate::libpod::prune_reports(&removed)),
    }
}

pub fn pause(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    context.engine.pause(name)?;
    ex.empty(204)
}

pub fn unpause(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    context.engine.unpause(name)?;
    ex.empty(204)
}

pub fn wait(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let mut conditions = Vec::new();
    for text in ex.req.query_all("condition") {
        if !text.is_empty() {
            conditions.push(text.parse::<WaitCondition>()?);
        }
    }
    // Unknown containers are a 404, before the answer starts; and where the container
    // stands is noted before the head goes out, since the client may start it (and it may
    // exit) the moment it has the head.
    let conditions_only = WaitOptions {
        conditions: conditions.clone(),
        ..Default::default()
    };
    let begun = context.engine.wait_begin(name, &conditions_only)?;
    let flavour = ex.flavour;
    // The head goes out at once: `docker run` waits for it before it starts the container.
    let mut body = ex.start_stream(200, "application/json")?;
    let watch = HangupWatch::start(ex.conn.fd().clone())
        .map_err(|e| ApiError::internal(format!("watching the connection: {e}")))?;
    let options = WaitOptions {
        conditions,
        deadline: None,
        cancel: Some(watch.cancelled()),
        handover: None,
    };
    let outcome = context.engine.wait_on(begun, &options);
    drop(watch);
    let answer = match outcome {
        Ok(WaitOutcome::Met { exit_code, status }) => {
            // A state other than an exit's that was waited for is no exit: -1, as podman
            // answers (the last exit code would be taken for this one's).
            let state_reached = status.is_some_and(|s| {
                !matches!(s, Status::Stopped | Status::Exited)
                    && conditions_only
                        .conditions
                        .contains(&WaitCondition::State(s))
            });
            let code = match exit_code {
                _ if state_reached => -1,
                Some(code) => code,
                None if status.is_some() => 0,
                None => -1,
            };
            match flavour {
                Flavour::Libpod => json!(code),
                Flavour::Compat => json!({ "StatusCode": code, "Error": null }),
            }
        }
        Ok(WaitOutcome::Cancelled) | Ok(WaitOutcome::TimedOut) => {
            ex.close = true;
            return Ok(());
        }
        Err(e) => match flavour {
            Flavour::Libpod => {
                json!({ "cause": e.to_string(), "message": e.to_string(), "response": 500 })
            }
            Flavour::Compat => json!({ "StatusCode": -1, "Error": { "Message": e.to_string() } }),
        },
    };
    let mut text = answer.to_string();
    text.push('\n');
    if body
        .write_all(text.as_bytes())
        .and_then(|()| body.finish())
        .is_err()
    {
        ex.close = true;
    }
    Ok(())
}

/// How a logs stream writes its lines: framed (without a terminal), dated
/// (`timestamps`), with Docker's `details` (the log attributes and a space) after the date.
#[derive(Clone, Copy)]
struct LineStyle<'a> {
    terminal: bool,
    timestamps: bool,
    details: Option<&'a str>,
}

/// Past log lines as an attach or logs stream carries them: framed without a terminal.
fn write_log_line(
    out: &mut dyn Write,
    line: &LogLine,
    style: LineStyle,
    wanted: (bool, bool),
) -> std::io::Result<()> {
    let LineStyle {
        terminal,
        timestamps,
        details,
    } = style;
    let (stdout, stderr) = wanted;
    let kind = match line.stream {
        Stream::Stdout if stdout => StreamKind::Stdout,
        Stream::Stderr if stderr => StreamKind::Stderr,
        _ => return Ok(()),
    };
    let mut payload = Vec::with_capacity(line.text.len() + 40);
    if timestamps {
        let time = line
            .time
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        payload.extend_from_slice(time.as_bytes());
        payload.push(b' ');
    }
    if let Some(details) = details {
        payload.extend_from_slice(details.as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(line.text.as_bytes());
    if line.complete {
        payload.push(b'\n');
    }
    if !terminal {
        out.write_all(&frame_header(kind, payload.len() as u32))?;
    }
    out.write_all(&payload)
}

pub fn attach(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let stream = ex.query_bool("stream")?;
    let logs = ex.query_bool("logs")?;
    let streams = HttpAttachStreams {
        stdin: ex.query_bool("stdin")?,
        stdout: ex.query_bool("stdout")?,
        stderr: ex.query_bool("stderr")?,
    };
    let detach_keys = ex.req.query("detachKeys").map(String::from);
    if let Some(keys) = &detach_keys {
        rpod_oci::detach::parse_detach_keys(keys)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let record = context.engine.inspect(name)?;
    let terminal = record.config.terminal;
    // The past output, read as it is sent (not held whole) once the stream is set up.
    let past = (logs && record.config.log_to_file).then(|| context.engine.log_path(&record));
    let content_type = stream_type(ex, terminal);
    let (connection, head) = ex.hijack(content_type)?;
    let wanted = (streams.stdout, streams.stderr);
    let preamble: rpod_oci::HttpPreamble = Box::new(move |out| {
        // Returns once the client has read the head (Exchange::hijack).
        head(out)?;
        if let Some(path) = past {
            rpod_engine::logs::each_line(&path, &LogFilter::default(), |line| {
                let style = LineStyle {
                    terminal,
                    timestamps: false,
                    details: None,
                };
                write_log_line(out, line, style, wanted)
            })
            .map_err(std::io::Error::other)?;
        }
        Ok(())
    });
    let options = HttpAttachOptions {
        connection,
        streams,
        detach_keys,
        preamble: Some(preamble),
        stream,
    };
    let was_running = record.state.status.is_active();
    match context.engine.attach_http(record.id(), options) {
        Ok(()) => Ok(()),
        // The container could not be created in the runtime for the attach (its command
        // does not exist, say). Docker's clients attach, then start: the stream ends
        // empty, and the start that follows reports the error (and `docker run` its exit
        // code, 127 or 126).
        Err(e) if stream && !was_running && !ex.responded() => {
            tracing::debug!("attach to {}: {e}", record.id());
            ex.hijack_and_end(content_type)
        }
        Err(e) => Err(e.into()),
    }
}

pub fn resize(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let size = terminal_size(ex)?;
    context.engine.resize(name, size)?;
    match ex.flavour {
        Flavour::Libpod => ex.json(201, &json!({})),
        Flavour::Compat => ex.empty(200),
    }
}

/// `?h=&w=` of a resize.
pub fn terminal_size(ex: &Exchange) -> ApiResult<TerminalSize> {
    let height: Option<u16> = ex.query_int("h")?;
    let width: Option<u16> = ex.query_int("w")?;
    match (height, width) {
        (Some(height), Some(width)) => Ok(TerminalSize { height, width }),
        _ => Err(ApiError::bad_request("a resize needs h and w")),
    }
}

/// `since`/`until` of logs and events: Unix seconds with an optional fraction (Docker's
/// clients), an RFC 3339 time (podman-remote's logs; its zero time means unset), or what
/// podman-remote's `events --since 10m` passes on as the user wrote it (a duration back from
/// now, a date), which podman's service reads as its CLI does.
pub(crate) fn log_time(
    ex: &Exchange,
    name: &str,
) -> ApiResult<Option<chrono::DateTime<chrono::FixedOffset>>> {
    let Some(text) = ex.req.query(name).filter(|t| !t.is_empty() && *t != "0") else {
        return Ok(None);
    };
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok((time.timestamp() > 0).then_some(time));
    }
    let bad = || {
        ApiError::bad_request(format!(
            "invalid {name} {text:?}: expected Unix seconds, an RFC 3339 time or a duration"
        ))
    };
    let (secs, frac) = text.split_once('.').unwrap_or((text, "0"));
    let Ok(secs) = secs.parse::<i64>() else {
        return rpod_engine::human::parse_time(text)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("invalid {name}: {e}")));
    };
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let frac_digits: String = frac.chars().take(9).collect();
    let nanos: u32 = format!("{frac_digits:0<9}").parse().map_err(|_| bad())?;
    let time = chrono::DateTime::from_timestamp(secs, nanos).ok_or_else(bad)?;
    Ok(Some(time.fixed_offset()))
}

pub fn logs(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let follow = ex.query_bool("follow")?;
    let timestamps = ex.query_bool("timestamps")?;
    let stdout = ex.query_bool("stdout")?;
    let stderr = ex.query_bool("stderr")?;
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tail = match ex.req.query("tail") {
        None | Some("") | Some("all") => None,
        Some(n) => match n.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => return Err(ApiError::bad_request(format!("invalid tail {n:?}"))),
        },
    };
    let filter = LogFilter {
        tail,
        since: log_time(ex, "since")?,
        until: log_time(ex, "until")?,
    };
    let record = context.engine.inspect(name)?;
    if !record.config.log_to_file {
        return Err(ApiError::bad_request(format!(
            "container {name} uses the none log driver: it has no logs"
        )));
    }
    let content_type = stream_type(ex, record.config.terminal);
    // Docker's `details`: each line after its log attributes (none: a space alone).
    let details = match ex.flavour == Flavour::Compat && ex.query_bool("details")? {
        true => Some(rpod_engine::logs::LogAttributes::details(
            &record
                .config
                .log_attributes
                .values(&record.config.labels, &record.config.env),
        )),
        false => None,
    };
    let style = LineStyle {
        // libpod's logs are framed even for a terminal; Docker's only without one.
        terminal: record.config.terminal && ex.flavour == Flavour::Compat,
        timestamps,
        details: details.as_deref(),
    };
    let mut body =
        std::io::BufWriter::with_capacity(64 * 1024, ex.start_stream(200, content_type)?);
    let wanted = (stdout, stderr);
    let result = if follow && record.state.status.is_active() {
        let watch = HangupWatch::start(ex.conn.fd().clone())
            .map_err(|e| ApiError::internal(format!("watching the connection: {e}")))?;
        let cancel = watch.cancelled();
        let mut writer = &mut body;
        context
            .engine
            .follow_logs(&record, &filter, Some(&cancel), |line| {
                write_log_line(&mut writer, line, style, wanted)?;
                // Each line goes out as it comes: a follower waits for it.
                writer.flush()
            })
            .map_err(|e| e.to_string())
    } else {
        let path = context.engine.log_path(&record);
        rpod_engine::logs::each_line(&path, &filter, |line| {
            write_log_line(&mut body, line, style, wanted)
        })
        .map_err(|e| e.to_string())
    };
    ex.end_stream(body, result, |w| w.finish())
}

pub fn remove(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let force = ex.query_bool("force")?;
    // Docker's `v`; podman's clients send `volumes`.
    let volumes = ex.query_bool("v")? || ex.query_bool("volumes")?;
    let mut timeout = stop_timeout(ex)?;
    if force && ex.flavour == Flavour::Compat {
        // Docker's forced removal kills at once (podman's stops with the timeout).
        timeout = timeout.or(Some(0));
    }
    let options = RemoveOptions {
        force,
        timeout,
        volumes,
    };
    if ex.flavour == Flavour::Compat {
        // Docker's clients remove containers in any order, at once.
        let id = context.engine.remove_among_departing(name, options)?;
        context.execs.forget_container(&id);
        return ex.empty(204);
    }
    // podman's: `depend` removes the containers that depend on it first; `ignore` takes an
    // unknown container as removed already.
    let depend = ex.query_bool("depend")?;
    let removed = if depend {
        context.engine.remove_with_dependents(name, options)
    } else {
        context.engine.remove(name, options).map(|id| vec![id])
    };
    let removed = match removed {
        Err(EngineError::NoSuchContainer(_)) if ex.query_bool("ignore")? => Vec::new(),
        other => other?,
    };
    // podman-remote prints `RawInput`: the name the user gave, or with `depend` each
    // container's ID, as podman prints them.
    let reports: Vec<Value> = removed
        .iter()
        .map(|id| {
            context.execs.forget_container(id);
            let shown = if depend { id.as_str() } else { name };
            json!({ "Id": id, "Err": null, "RawInput": shown })
        })
        .collect();
    ex.json(200, &reports)
}
