//! Remote commands on containers that need no stream of the user's: listing, inspecting,
//! the lifecycle moves, waiting, logs; and `version` and `info`.

use std::io::Write;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use crate::cli::{
    FormatArgs, HealthcheckRunArgs, InspectArgs, LogsArgs, PortArgs, PsArgs, RenameArgs, StatsArgs,
    TopArgs, UpdateArgs,
};
use crate::commands::select::{Picked, Selection};
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use crate::format;
use rpod_engine::human;
use rpod_engine::Status;

use super::{encode, expect, failure, filters_map, short_id, Client};

pub fn version(client: &mut Client, args: &FormatArgs) -> Outcome {
    let server = expect(client.call("GET", "/version", None)?, &[200])?.json()?;
    let data = json!({
        "Client": crate::commands::system::client_version(),
        "Server": {
            "Version": server["Version"],
            "APIVersion": server["ApiVersion"],
            "OsArch": format!("{}/{}", server["Os"].as_str().unwrap_or("linux"), server["Arch"].as_str().unwrap_or_default()),
            "Os": server["Os"],
        },
    });
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&data)?),
        Some(template) => format::print(template, &[data], &format::upper_header)?,
        None => {
            for side in ["Client", "Server"] {
                let part = &data[side];
                if side == "Server" {
                    println!();
                }
                println!("{side}:");
                println!(
                    "Version:      {}",
                    part["Version"].as_str().unwrap_or_default()
                );
                println!(
                    "API Version:  {}",
                    part["APIVersion"].as_str().unwrap_or_default()
                );
                println!(
                    "OS/Arch:      {}",
                    part["OsArch"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(0)
}

pub fn info(client: &mut Client, args: &FormatArgs) -> Outcome {
    let mut data = expect(client.call("GET", "/info", None)?, &[200])?.json()?;
    // As podman-remote says of what it asked a service.
    if let Some(host) = data["host"].as_object_mut() {
        host.insert("serviceIsRemote".into(), Value::Bool(true));
    }
    crate::commands::system::print_info(data, args)
}

/// A libpod `ListContainer`'s status as `ps` words it ("Up 5 seconds ago", "Exited (0) 2
/// minutes ago").
fn status_text(item: &Value) -> String {
    let since = |field: &str| {
        item[field]
            .as_i64()
            .and_then(|t| Utc.timestamp_opt(t, 0).single())
            .filter(|t| t.timestamp() > 0)
    };
    match item["State"].as_str().unwrap_or_default() {
        "running" => match since("StartedAt") {
            Some(started) => format!("Up {}", human::ago(started)),
            None => "Up".into(),
        },
        "paused" => match since("StartedAt") {
            Some(started) => format!("Up {} (paused)", human::ago(started)),
            None => "Paused".into(),
        },
        "exited" | "stopped" => {
            let code = item["ExitCode"].as_i64().unwrap_or(0);
            match since("ExitedAt") {
                Some(exited) => format!("Exited ({code}) {}", human::ago(exited)),
                None => format!("Exited ({code})"),
            }
        }
        "configured" | "created" => "Created".into(),
        "initialized" => "Initialized".into(),
        other => {
            let mut chars = other.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// When a libpod `ListContainer` was created: its `Created` (RFC 3339, to the
/// nanosecond), or Unix seconds from an older service.
fn created_at(item: &Value) -> Option<chrono::DateTime<Utc>> {
    item["Created"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            item["Created"]
                .as_i64()
                .and_then(|t| Utc.timestamp_opt(t, 0).single())
        })
}

/// One `ps` row of a libpod `ListContainer`, with the fields the local `ps` offers.
fn ps_row(item: &Value, no_trunc: bool) -> Value {
    let id = item["Id"].as_str().unwrap_or_default();
    let created = created_at(item);
    let ports: Vec<rpod_engine::network::ports::PortMapping> =
        serde_json::from_value(item["Ports"].clone()).unwrap_or_default();
    let mut row = item.clone();
    let extra = json!({
        "ID": short_id(id, no_trunc),
        "Names": item["Names"].as_array().map(|names| names.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")).unwrap_or_default(),
        "Command": crate::inspect::ps_command(&item["Command"].as_array().map(|words| words.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")).unwrap_or_default(), no_trunc),
        "Created": created.map(|t| t.timestamp()).unwrap_or_default(),
        "CreatedHuman": created.map(human::ago).unwrap_or_default(),
        "RunningFor": created.map(human::ago).unwrap_or_default(),
        "Status": status_text(item),
        "Ports": human::ports(&ports),
    });
    if let (Some(row), Value::Object(extra)) = (row.as_object_mut(), extra) {
        row.extend(extra);
    }
    row
}

pub fn ps(client: &mut Client, args: &PsArgs) -> Outcome {
    let mut query = format!("/containers/json?all={}", args.all || args.last.is_some());
    if !args.filters.is_empty() {
        query.push_str(&format!(
            "&filters={}",
            encode(&Value::Object(filters_map(&args.filters)?).to_string())
        ));
    }
    if let Some(last) = args.last {
        query.push_str(&format!("&last={last}"));
    }
    let list = expect(client.call("GET", &query, None)?, &[200])?.json()?;
    let mut items: Vec<Value> = list.as_array().cloned().unwrap_or_default();
    // The newest `--last`, shown oldest first as the local `ps` lists them.
    items.sort_by_key(|item| std::cmp::Reverse(created_at(item)));
    if let Some(last) = args.last {
        items.truncate(last);
    }
    items.reverse();
    if args.quiet {
        for item in &items {
            let id = item["Id"].as_str().unwrap_or_default();
            println!("{}", short_id(id, args.no_trunc));
        }
        return Ok(0);
    }
    if args.format.as_deref() == Some("json") {
        // As the local `ps --format json` prints them: times in Unix seconds and words.
        let items: Vec<Value> = items
            .into_iter()
            .map(|mut item| {
                let row = ps_row(&item, true);
                item["Created"] = row["Created"].clone();
                item["CreatedAt"] = row["CreatedHuman"].clone();
                item["Status"] = row["Status"].clone();
                item
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(0);
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut row = ps_row(item, args.no_trunc);
            if let Some(created) = created_at(item) {
                let started = item["StartedAt"].as_i64().filter(|t| *t > 0);
                crate::inspect::ps_template_values(&mut row, created, started, args.no_trunc);
            }
            row
        })
        .collect();
    let format = args.format.clone().unwrap_or_else(|| {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}".into()
    });
    format::print_table(&format, &rows, &crate::inspect::ps_header, args.no_heading)?;
    Ok(0)
}

pub fn inspect(client: &mut Client, args: &InspectArgs) -> Outcome {
    let kinds: &[&str] = match args.kind.as_str() {
        "container" => &["containers"],
        "image" => &["images"],
        "volume" => &["volumes"],
        "network" => &["networks"],
        "pod" => &["pods"],
        // podman's order: the first kind of object with that name or ID.
        "all" => &["containers", "images", "volumes", "networks", "pods"],
        other => {
            return Err(usage(format!(
                "invalid type {other:?}: use container, image, volume, network, pod or all"
            )))
        }
    };
    let mut items = Vec::new();
    let mut misses = crate::commands::InspectMisses::new("object");
    for name in &args.names {
        let mut found = None;
        let mut last_error = None;
        for kind in kinds {
            let reply = client.call("GET", &format!("/{kind}/{}/json", encode(name)), None)?;
            match reply.status {
                200 => {
                    let mut item = reply.json()?;
                    if !matches!(args.format.as_deref(), None | Some("json")) {
                        match *kind {
                            "images" => rpod_engine::views::image_template_fields(&mut item),
                            "containers" => {
                                rpod_engine::views::container_template_fields(&mut item)
                            }
                            _ => {}
                        }
                    }
                    found = Some(item);
                    break;
                }
                404 => last_error = Some(failure(&reply)),
                _ => return Err(failure(&reply)),
            }
        }
        match (found, last_error) {
            (Some(item), _) => items.push(item),
            (None, error) => {
                let kind = Some(args.kind.as_str()).filter(|k| *k != "all");
                let message = error.map(|e| e.message()).unwrap_or_default();
                misses.add_said(kind, name, true, message);
            }
        }
    }
    crate::commands::container::print_inspected(items, args.format.as_deref())?;
    misses.outcome()
}

/// A lifecycle move of `each`.
pub enum Action {
    Start,
    Stop {
        time: Option<i64>,
        ignore: bool,
    },
    Restart {
        time: Option<i64>,
    },
    Kill {
        signal: String,
    },
    Pause,
    Unpause,
    Init,
    Remove {
        force: bool,
        volumes: bool,
        ignore: bool,
        time: Option<i64>,
    },
}

/// The containers a lifecycle command acts on, as the local command picks them: those
/// named (and the `--cidfile`s' IDs), or (as IDs, oldest first) every one `eligible` takes
/// by its listing entry (`State`, `IsInfra`) with `--all`, or those the service's
/// filtering passes with `--filter`s. `--latest` is not taken (nor by podman-remote):
/// which container is the latest is a race between clients.
pub fn select(
    client: &mut Client,
    selection: &Selection,
    eligible: impl Fn(&Value) -> bool,
) -> Result<Chosen, Failure> {
    match selection.picked()? {
        Picked::Named(names) => return Ok(Chosen { names, named: true }),
        Picked::Latest => {
            return Err(usage(
                "--latest is not supported with a remote service: name the container",
            ))
        }
        Picked::Listed => {}
    }
    let mut path = "/containers/json?all=true".to_string();
    if !selection.filters.is_empty() {
        path.push_str(&format!(
            "&filters={}",
            encode(&Value::Object(filters_map(&selection.filters)?).to_string())
        ));
    }
    let list = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    let mut items: Vec<Value> = list.as_array().cloned().unwrap_or_default();
    items.sort_by_key(created_at);
    let names = items
        .iter()
        .filter(|item| !selection.filters.is_empty() || eligible(item))
        .filter_map(|item| item["Id"].as_str().map(str::to_string))
        .collect();
    Ok(Chosen {
        names,
        named: false,
    })
}

/// The containers a command acts on (`select`): named by the user, each checked before
/// anything is done (`each`), or the service's own listing, which needs no check.
pub struct Chosen {
    pub names: Vec<String>,
    pub named: bool,
}

/// A listing entry's state (its user-facing word, which a service lists) is one `test`
/// takes: the local commands' own tests on a record's status.
pub fn state_is(item: &Value, test: impl Fn(Status) -> bool) -> bool {
    item["State"]
        .as_str()
        .and_then(Status::from_filter)
        .is_some_and(|statuses| statuses.into_iter().any(test))
}

/// `rm --all`'s pods, removed whole (an infra container goes only with its pod), as the
/// local command removes them: each pod's containers printed once it is gone. The exit
/// code: 2 when a pod could not be removed.
pub fn remove_pods(client: &mut Client, force: bool, time: Option<i64>) -> Result<i32, Failure> {
    let pods = expect(client.call("GET", "/pods/json", None)?, &[200])?.json()?;
    let containers = expect(
        client.call("GET", "/containers/json?all=true", None)?,
        &[200],
    )?
    .json()?;
    let mut code = 0;
    for pod in pods.as_array().into_iter().flatten() {
        let Some(id) = pod["Id"].as_str() else {
            continue;
        };
        let mut path = format!("/pods/{}?force={force}", encode(id));
        if let Some(t) = time {
            path.push_str(&format!("&timeout={t}"));
        }
        let reply = client.call("DELETE", &path, None)?;
        let refused = reply
            .json()
            .ok()
            .and_then(|report| super::objects::report_error(&report));
        match (reply.status, refused) {
            (200, None) => {
                let members = containers.as_array().into_iter().flatten();
                for member in members.filter(|c| c["Pod"].as_str() == Some(id)) {
                    println!("{}", member["Id"].as_str().unwrap_or_default());
                }
            }
            (200, Some(error)) => {
                eprintln!("Error: {error}");
                code = 2;
            }
            _ => {
                eprintln!("Error: {}", failure(&reply).message());
                code = 2;
            }
        }
    }
    Ok(code)
}

/// The first of `names` the service does not know: podman's commands check every name
/// before acting on any, so that a wrong one changes nothing (as the local commands).
fn first_unknown<'a>(client: &mut Client, names: &'a [String]) -> Result<Option<&'a str>, Failure> {
    for name in names {
        if exists(client, "containers", name)? != 0 {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// podman's words for a container nobody knows.
fn no_such_container(name: &str) -> String {
    format!("no container with name or ID \"{name}\" found: no such container")
}

/// Do `action` to each container, printing each one's name as given when done (as the
/// local commands); every name the user gave must be known first (unless missing ones are
/// ignored; the service's own listing is not checked again), then a failure is reported
/// and the others are still done.
pub fn each(client: &mut Client, chosen: &Chosen, action: Action) -> Outcome {
    let containers = &chosen.names;
    if let Action::Kill { signal } = &action {
        // Checked here, as the local command does, so a bad name does nothing anywhere.
        rpod_oci::signal::parse_signal(signal).map_err(usage)?;
    }
    let ignore = match &action {
        Action::Stop { ignore, .. } | Action::Remove { ignore, .. } => *ignore,
        _ => false,
    };
    if !ignore && chosen.named {
        if let Some(name) = first_unknown(client, containers)? {
            eprintln!("Error: {}", no_such_container(name));
            return Ok(match action {
                Action::Remove { .. } => 1,
                _ => ENGINE_ERROR,
            });
        }
    }
    let mut code = 0;
    for name in containers {
        let n = encode(name);
        let (method, path, ok): (&str, String, &[u16]) = match &action {
            Action::Start => ("POST", format!("/containers/{n}/start"), &[204, 304]),
            Action::Stop { time, .. } => (
                "POST",
                match time {
                    Some(t) => format!("/containers/{n}/stop?timeout={t}"),
                    None => format!("/containers/{n}/stop"),
                },
                &[204, 304],
            ),
            Action::Restart { time } => (
                "POST",
                match time {
                    Some(t) => format!("/containers/{n}/restart?t={t}"),
                    None => format!("/containers/{n}/restart"),
                },
                &[204],
            ),
            Action::Kill { signal } => (
                "POST",
                format!("/containers/{n}/kill?signal={}", encode(signal)),
                &[204],
            ),
            Action::Pause => ("POST", format!("/containers/{n}/pause"), &[204]),
            Action::Unpause => ("POST", format!("/containers/{n}/unpause"), &[204]),
            Action::Init => ("POST", format!("/containers/{n}/init"), &[204]),
            Action::Remove {
                force,
                volumes,
                time,
                ..
            } => {
                let mut path = format!("/containers/{n}?force={force}&v={volumes}");
                if let Some(t) = time {
                    path.push_str(&format!("&timeout={t}"));
                }
                ("DELETE", path, &[200, 204])
            }
        };
        let reply = client.call(method, &path, None)?;
        if ok.contains(&reply.status) {
            if let Action::Remove { .. } = action {
                // libpod answers a removal with reports, one per container removed.
                if let Ok(Value::Array(reports)) = reply.json() {
                    if let Some(err) = reports.iter().find_map(super::objects::report_error) {
                        eprintln!("Error: {err}");
                        code = ENGINE_ERROR;
                        continue;
                    }
                }
            }
            println!("{name}");
        } else if ignore && reply.status == 404 {
            continue;
        } else if matches!(action, Action::Init) && reply.status == 304 {
            // libpod's answer for a container the runtime has already (podman-remote's words).
            eprintln!(
                "Error: container {name} has already been created in runtime: container state improper"
            );
            code = ENGINE_ERROR;
        } else {
            let error = failure(&reply);
            eprintln!("Error: {}", error.message());
            code = if reply.status == 404 { 1 } else { error.code };
        }
    }
    Ok(code)
}

/// `diff NAME [OTHER]` (`kind`: `containers` with `diff_type` all or container, or
/// `images`): the service's changes, printed as the local command prints them.
pub fn diff(
    client: &mut Client,
    kind: &str,
    diff_type: Option<&str>,
    names: &[String],
    format: Option<&str>,
) -> Outcome {
    use rpod_engine::upper_diff::{Change, ChangeKind};
    let (name, other) = match names {
        [name] => (name, None),
        [name, other] => (name, Some(other)),
        _ => {
            return Err(usage(
                "give a container or image (and optionally one to compare it with)",
            ))
        }
    };
    // Checked before anything is asked, as the local command's printing checks it.
    if !matches!(format, None | Some("") | Some("json")) {
        return crate::commands::filesystem::print_changes(&[], format);
    }
    let mut query = Vec::new();
    if let Some(other) = other {
        query.push(format!("parent={}", encode(other)));
    }
    if let Some(diff_type) = diff_type {
        query.push(format!("diffType={diff_type}"));
    }
    let path = format!("/{kind}/{}/changes?{}", encode(name), query.join("&"));
    let answer = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    let changes = answer
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let kind = match item["Kind"].as_u64() {
                Some(0) => ChangeKind::Changed,
                Some(1) => ChangeKind::Added,
                Some(2) => ChangeKind::Deleted,
                other => {
                    return Err(usage(format!(
                        "the service's change has a kind rpod does not know: {other:?}"
                    )))
                }
            };
            let path = item["Path"].as_str().unwrap_or_default().into();
            Ok(Change { kind, path })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    crate::commands::filesystem::print_changes(&changes, format)
}

/// The longest stats report line read (a longer one is read as two, neither JSON).
const MAX_STATS_LINE: u64 = 16 * 1024 * 1024;

/// `stats [CONTAINER...]`: the service's readings (of its running containers when none is
/// named), worded and printed as the local command prints its own, every `--interval`
/// seconds until interrupted, or once with `--no-stream`. The readings carry no pod.
pub fn stats(client: &mut Client, args: &StatsArgs) -> Outcome {
    use std::io::IsTerminal;
    if args.interval == 0 {
        return Err(usage("--interval must be at least 1 second"));
    }
    let mut path = format!(
        "/containers/stats?stream={}&interval={}",
        !args.no_stream, args.interval
    );
    // The service reads the running containers when none is named; with `--all` every
    // container is named (a stopped one's readings are zero, as locally).
    let mut names = args.containers.clone();
    if args.all {
        if !names.is_empty() {
            return Err(usage("--all takes no container names"));
        }
        let every = Selection {
            all: true,
            ..Selection::default()
        };
        names = select(client, &every, |_| true)?.names;
    }
    for name in &names {
        path.push_str(&format!("&containers={}", encode(name)));
    }
    let format = args
        .format
        .as_deref()
        .unwrap_or(crate::commands::observe::DEFAULT_STATS_FORMAT);
    let redraw = !args.no_stream && !args.no_reset && std::io::stdout().is_terminal();
    let mut reports = super::StreamLines::open(client, "GET", &path, MAX_STATS_LINE)?;
    while let Some(line) = reports.next_line()? {
        let report: Value = serde_json::from_slice(line)?;
        if let Some(error) = report["Error"].as_str().filter(|e| !e.is_empty()) {
            return Err(usage(error.to_string()));
        }
        let rows: Vec<Value> = report["Stats"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| stats_row_of(item, args.no_trunc))
            .collect();
        if redraw {
            print!("\x1b[2J\x1b[H");
        }
        crate::commands::observe::print_stats_rows(format, &rows)?;
    }
    Ok(0)
}

/// A `stats` row of one of libpod's readings (`ContainerID`, `Name`, `CPU` and `AvgCPU`
/// in percent, the counters in bytes and nanoseconds).
fn stats_row_of(item: &Value, full_id: bool) -> Value {
    let count = |key: &str| item[key].as_u64().unwrap_or(0);
    let sample = rpod_engine::stats::Sample {
        cpu_nanos: count("CPUNano"),
        memory_usage: count("MemUsage"),
        memory_limit: count("MemLimit"),
        pids: count("PIDs"),
        block_read: count("BlockInput"),
        block_write: count("BlockOutput"),
        net_received: count("NetInput"),
        net_sent: count("NetOutput"),
    };
    let percent = |key: &str| item[key].as_f64().unwrap_or(0.0);
    let shown = sample.shown_with(percent("CPU"), percent("AvgCPU"));
    let id = item["ContainerID"].as_str().unwrap_or_default();
    let name = item["Name"].as_str().unwrap_or_default();
    crate::commands::observe::stats_row([id, "", name], &sample, &shown, full_id)
}

/// `rename CONTAINER NAME`.
pub fn rename(client: &mut Client, args: &RenameArgs) -> Outcome {
    let path = format!(
        "/containers/{}/rename?name={}",
        encode(&args.container),
        encode(&args.new_name)
    );
    expect(client.call("POST", &path, None)?, &[204])?;
    Ok(0)
}

/// `update CONTAINER...`: the flags read as the local command reads them, sent as libpod's
/// update (the limits in the body, the restart policy as podman 5's query parameters);
/// each container's ID printed, as locally. A change the API cannot carry is refused by
/// name, never dropped.
pub fn update(client: &mut Client, args: &UpdateArgs) -> Outcome {
    let changes = crate::commands::container::update_changes(args)?;
    let (body, losses) = rpod_api::libpod::spec_out::update_resources(&changes);
    if !losses.is_empty() {
        return Err(usage(format!(
            "these settings are not supported with a remote service (its API has no field for them): {}",
            losses.join(", ")
        )));
    }
    let mut query = String::new();
    if let Some(policy) = &args.restart {
        let (name, retries) = match policy.split_once(':') {
            Some((name, retries)) => (name, Some(retries)),
            None => (policy.as_str(), None),
        };
        query = format!("?restartPolicy={}", encode(name));
        if let Some(retries) = retries {
            query.push_str(&format!("&restartRetries={}", encode(retries)));
        }
    }
    for name in &args.containers {
        let path = format!("/containers/{}/update{query}", encode(name));
        let answer = expect(client.call("POST", &path, Some(&body))?, &[200, 201])?.json()?;
        println!("{}", answer.as_str().unwrap_or(name));
    }
    Ok(0)
}

/// `healthcheck run CONTAINER`: the service runs the check; its verdict printed and
/// exited with as the local command does (0 healthy; `unhealthy` or `starting` and 1).
pub fn healthcheck_run(client: &mut Client, args: &HealthcheckRunArgs) -> Outcome {
    let path = format!("/containers/{}/healthcheck", encode(&args.container));
    let answer = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    match answer["Status"].as_str() {
        Some("healthy") => Ok(0),
        Some(verdict @ ("unhealthy" | "starting")) => {
            println!("{verdict}");
            Ok(1)
        }
        other => Err(usage(format!(
            "the service's health check answer has no verdict rpod knows: {other:?}"
        ))),
    }
}

/// `top CONTAINER [DESCRIPTORS...]`: the service's `ps` of the container, printed as the
/// local command prints it.
pub fn top(client: &mut Client, args: &TopArgs) -> Outcome {
    let (container, descriptors) = args
        .args
        .split_first()
        .ok_or_else(|| usage("give a container"))?;
    let path = format!(
        "/containers/{}/top{}",
        encode(container),
        ps_args_query(descriptors)
    );
    let answer = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    print_top_answer(&answer)
}

/// `top`'s words as libpod's query: a `ps_args` parameter per word, so that none is
/// split or joined on the way (the service also reads podman-remote's words joined with
/// commas, and Docker's with spaces).
pub(crate) fn ps_args_query(words: &[String]) -> String {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| format!("{}ps_args={}", if i == 0 { '?' } else { '&' }, encode(w)))
        .collect()
}

/// A top answer (`{"Titles": [...], "Processes": [[...], ...]}`, a container's or a
/// pod's) printed as the local command prints its table.
pub fn print_top_answer(answer: &Value) -> Outcome {
    let texts = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .map(|cell| cell.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let headers = texts(&answer["Titles"]);
    let rows: Vec<Vec<String>> = answer["Processes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(texts)
        .collect();
    if rows.iter().any(|row| row.len() != headers.len()) {
        return Err(usage(
            "the service's top answer has rows of another width than its titles",
        ));
    }
    crate::commands::observe::print_top(&headers, &rows);
    Ok(0)
}

/// A running container's published ports, from its inspection's `NetworkSettings.Ports`:
/// (container port, protocol, host address, host port), sorted as the local command
/// sorts them.
fn published_ports(inspected: &Value) -> Vec<(u16, String, String, u16)> {
    if inspected["State"]["Running"].as_bool() != Some(true) {
        return Vec::new();
    }
    let mut ports = Vec::new();
    let map = inspected["NetworkSettings"]["Ports"].as_object();
    for (key, bindings) in map.into_iter().flatten() {
        let (number, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
        let Ok(number) = number.parse::<u16>() else {
            continue;
        };
        for binding in bindings.as_array().into_iter().flatten() {
            let Some(host_port) = binding["HostPort"].as_str().and_then(|p| p.parse().ok()) else {
                continue;
            };
            let ip = match binding["HostIp"].as_str().unwrap_or_default() {
                "" => "0.0.0.0",
                ip => ip,
            };
            ports.push((number, protocol.to_string(), ip.to_string(), host_port));
        }
    }
    ports.sort();
    ports
}

/// A container's libpod inspect; the service's error (a 404 for an unknown one) else.
pub fn inspect_container(client: &mut Client, name: &str) -> Result<Value, Failure> {
    let reply = client.call("GET", &format!("/containers/{}/json", encode(name)), None)?;
    Ok(expect(reply, &[200])?.json()?)
}

/// `port CONTAINER [PORT[/PROTOCOL]]` and `port --all`, printed as the local command.
pub fn port(client: &mut Client, args: &PortArgs) -> Outcome {
    if args.all {
        if !args.args.is_empty() {
            return Err(usage("--all takes no container"));
        }
        let selection = Selection {
            all: true,
            ..Selection::default()
        };
        for id in select(client, &selection, |item| {
            state_is(item, |s| s == Status::Running)
        })?
        .names
        {
            for (port, protocol, ip, host_port) in published_ports(&inspect_container(client, &id)?)
            {
                println!(
                    "{}\t{port}/{protocol} -> {ip}:{host_port}",
                    short_id(&id, false)
                );
            }
        }
        return Ok(0);
    }
    use crate::commands::network::{print_ports, WantedPort};
    let (container, wanted) = match args.args.as_slice() {
        [container] => (container, None),
        [container, port] => (container, Some(WantedPort::parse(port)?)),
        [] => return Err(usage("give a container")),
        _ => return Err(usage("give a container, and optionally one of its ports")),
    };
    let ports = published_ports(&inspect_container(client, container)?);
    print_ports(ports, wanted.as_ref())?;
    Ok(0)
}

pub fn wait(client: &mut Client, containers: &[String], conditions: &[String]) -> Outcome {
    if containers.is_empty() {
        return Err(usage(
            "give at least one container (--latest is local only)",
        ));
    }
    let mut code = 0;
    for name in containers {
        let mut path = format!("/containers/{}/wait", encode(name));
        for (i, condition) in conditions.iter().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str(&format!("condition={}", encode(condition)));
        }
        let reply = client.call("POST", &path, None)?;
        if reply.status != 200 {
            let error = failure(&reply);
            eprintln!("Error: {}", error.message());
            code = error.code;
            continue;
        }
        match reply.json()? {
            Value::Number(exit) => println!("{exit}"),
            other => {
                let message = other["message"]
                    .as_str()
                    .unwrap_or("the wait failed")
                    .to_string();
                eprintln!("Error: {message}");
                code = ENGINE_ERROR;
            }
        }
    }
    Ok(code)
}

pub fn exists(client: &mut Client, kind: &str, name: &str) -> Outcome {
    let reply = client.call("GET", &format!("/{kind}/{}/exists", encode(name)), None)?;
    match reply.status {
        204 => Ok(0),
        404 => Ok(1),
        _ => Err(failure(&reply)),
    }
}

/// Read a framed stream (8-byte heads: the stream, three zeros, the length) and write
/// each frame's bytes to stdout or stderr.
pub fn copy_frames(from: impl std::io::Read) -> Result<(), Failure> {
    copy_prefixed_frames(from, "")
}

/// `copy_frames` with `prefix` before each line of each stream (the logs of several
/// containers). Each read of a frame (up to 64 KiB: a log line, usually) is written at
/// once, so lines from several threads do not mix.
fn copy_prefixed_frames(mut from: impl std::io::Read, prefix: &str) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    // Whether stdout's and stderr's next bytes begin a line.
    let mut line_starts = [true, true];
    let mut prefixed = Vec::new();
    let mut head = [0u8; 8];
    let mut payload = vec![0u8; 64 * 1024];
    loop {
        match read_full(&mut from, &mut head)? {
            0 => return Ok(()),
            8 => {}
            _ => return Err(usage("the service's stream ended in the middle of a frame")),
        }
        let mut left = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        while left > 0 {
            let want = left.min(payload.len());
            if read_full(&mut from, &mut payload[..want])? != want {
                return Err(usage("the service's stream ended in the middle of a frame"));
            }
            let mut bytes = &payload[..want];
            if !prefix.is_empty() {
                let line_start = &mut line_starts[usize::from(head[0] == 2)];
                prefixed.clear();
                prefix_lines(bytes, prefix, line_start, &mut prefixed);
                bytes = &prefixed;
            }
            let result = match head[0] {
                2 => stderr.lock().write_all(bytes),
                _ => {
                    let mut out = stdout.lock();
                    out.write_all(bytes).and_then(|()| out.flush())
                }
            };
            result.map_err(|e| Failure::new(ENGINE_ERROR, e))?;
            left -= want;
        }
    }
}

/// `bytes` onto `out` with `prefix` before each line that begins in them; `line_start`:
/// whether the first byte begins a line, and then whether the next one will.
fn prefix_lines(bytes: &[u8], prefix: &str, line_start: &mut bool, out: &mut Vec<u8>) {
    for piece in bytes.split_inclusive(|b| *b == b'\n') {
        if *line_start {
            out.extend_from_slice(prefix.as_bytes());
        }
        out.extend_from_slice(piece);
        *line_start = piece.ends_with(b"\n");
    }
}

/// Read until `buf` is full or the stream ends; how much was read.
fn read_full(from: &mut impl std::io::Read, buf: &mut [u8]) -> Result<usize, Failure> {
    let mut filled = 0;
    while filled < buf.len() {
        match from.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::new(ENGINE_ERROR, e)),
        }
    }
    Ok(filled)
}

/// `logs CONTAINER...`: each container's log as the service sends it, its lines after a
/// prefix as the local command's (the ID with several, the name with `--names`, coloured
/// with `--color`); several followed logs are followed at once.
pub fn logs(client: &mut Client, args: &LogsArgs) -> Outcome {
    if args.containers.is_empty() {
        return Err(usage(
            "give at least one container (--latest is local only)",
        ));
    }
    let mut query = format!(
        "stdout=true&stderr=true&follow={}&timestamps={}",
        args.follow, args.timestamps
    );
    if let Some(tail) = args.tail.filter(|t| *t >= 0) {
        query.push_str(&format!("&tail={tail}"));
    }
    for (key, value) in [("since", &args.since), ("until", &args.until)] {
        if let Some(value) = value {
            let time = crate::commands::logs::parse_time(value).map_err(usage)?;
            query.push_str(&format!("&{key}={}", time.timestamp()));
        }
    }
    // As the local command: every name known first, then each container in turn, a
    // failure said and the next one taken; the exit code is the last failure's. Several
    // followed logs are followed at once.
    if let Some(name) = first_unknown(client, &args.containers)? {
        return Err(usage(no_such_container(name)));
    }
    let several = args.containers.len() > 1;
    let mut turn = 0;
    let mut code = 0;
    let mut said = |error: Failure| {
        eprintln!("Error: {}", error.message());
        code = error.code;
    };
    let print_log = |client: &mut Client, path: &str, prefix: &str| -> Result<(), Failure> {
        let streamed = client.stream("GET", path, None, false)?;
        if streamed.status != 200 {
            return Err(super::streamed_failure(streamed));
        }
        copy_prefixed_frames(streamed.body, prefix)
    };
    let mut followed = Vec::new();
    for name in &args.containers {
        // As locally: only several containers' lines say whose they are.
        let label = if several {
            log_label(client, name, args.names)
        } else {
            Ok(String::new())
        };
        let label = match label {
            Ok(label) => label,
            Err(error) => {
                said(error);
                continue;
            }
        };
        let path = format!("/containers/{}/logs?{query}", encode(name));
        let prefix = crate::commands::container::log_prefix(&label, args.color, &mut turn);
        if args.follow && several {
            followed.push((path, prefix));
        } else if let Err(error) = print_log(client, &path, &prefix) {
            said(error);
        }
    }
    let mut clients = Vec::new();
    for _ in &followed {
        clients.push(client.sibling()?);
    }
    std::thread::scope(|scope| {
        let followers: Vec<_> = followed
            .iter()
            .zip(clients)
            .map(|((path, prefix), mut client)| {
                scope.spawn(move || print_log(&mut client, path, prefix))
            })
            .collect();
        for follower in followers {
            follower
                .join()
                .map_err(|_| usage("following a log failed"))??;
        }
        Ok::<(), Failure>(())
    })?;
    Ok(code)
}

/// What goes before each line of a container's log among several: its name (`names`) or
/// its short ID, as the service knows them.
fn log_label(client: &mut Client, name: &str, names: bool) -> Result<String, Failure> {
    let found = inspect_container(client, name)?;
    Ok(match names {
        true => found["Name"]
            .as_str()
            .unwrap_or(name)
            .trim_start_matches('/')
            .to_string(),
        false => short_id(found["Id"].as_str().unwrap_or(name), false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_are_worded_as_the_local_ps() {
        let now = Utc::now().timestamp();
        let item = json!({
            "Id": "0123456789abcdef0123",
            "Names": ["web"],
            "Command": ["sh", "-c", "true"],
            "Created": "2026-01-01T00:00:00Z",
            "State": "exited",
            "ExitCode": 3,
            "ExitedAt": now - 120,
            "Ports": [{"host_ip": "", "container_port": 80, "host_port": 8080, "protocol": "tcp", "range": 1}],
        });
        let row = ps_row(&item, false);
        assert_eq!(row["ID"], "0123456789ab");
        assert_eq!(row["Names"], "web");
        assert_eq!(row["Command"], "sh -c true");
        // Cut short as podman's: 17 characters and "...", unless --no-trunc.
        let mut long = item.clone();
        long["Command"] = json!(["sh", "-c", "head -c 100000 /dev/zero"]);
        assert_eq!(ps_row(&long, false)["Command"], "sh -c head -c 100...");
        assert_eq!(
            ps_row(&long, true)["Command"],
            "sh -c head -c 100000 /dev/zero"
        );
        assert_eq!(row["Status"], "Exited (3) 2 minutes ago");
        assert_eq!(row["Ports"], "0.0.0.0:8080->80/tcp");
        assert_eq!(row["Created"], 1_767_225_600);
        let running = json!({"Id": "ab", "State": "running", "StartedAt": now - 5});
        assert_eq!(status_text(&running), "Up 5 seconds ago");
        assert_eq!(status_text(&json!({"State": "configured"})), "Created");
        assert_eq!(status_text(&json!({"State": "stopping"})), "Stopping");
    }

    /// `--all` picks by the local commands' tests on a status, from the listed word:
    /// "created" is a container only in the store (nothing to stop), "initialized" one
    /// the runtime holds.
    #[test]
    fn listed_states_are_tested_as_the_local_statuses() {
        let state = |word: &str| json!({ "State": word });
        assert!(!state_is(&state("created"), Status::can_stop));
        assert!(state_is(&state("initialized"), Status::can_stop));
        assert!(state_is(&state("paused"), Status::can_kill));
        assert!(!state_is(&state("exited"), Status::can_stop));
        assert!(!state_is(&state("no such state"), |_| true));
        assert!(!state_is(&json!({}), |_| true));
    }

    #[test]
    fn a_cut_frame_is_an_error() {
        // Frames going to stdout and stderr apart: the service tests' remote runs.
        let cut: &[u8] = &[1, 0, 0, 0, 0, 0, 0, 9, b'a'];
        assert!(copy_frames(cut).is_err());
        let short_head: &[u8] = &[1, 0, 0];
        assert!(copy_frames(short_head).is_err());
        assert!(copy_frames(&b""[..]).is_ok());
    }

    #[test]
    fn prefixes_go_before_each_line_across_reads() {
        let mut out = Vec::new();
        let mut line_start = true;
        prefix_lines(b"one\ntw", "c1 ", &mut line_start, &mut out);
        assert!(!line_start);
        prefix_lines(b"o\n", "c1 ", &mut line_start, &mut out);
        prefix_lines(b"\nthree", "c1 ", &mut line_start, &mut out);
        assert_eq!(out, b"c1 one\nc1 two\nc1 \nc1 three");
        assert!(!line_start);
    }
}
