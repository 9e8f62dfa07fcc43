//! Remote `pod` commands: create (the flags read by the local command's own reader and
//! written as a PodSpecGenerator), ps, inspect, exists, top, the lifecycle moves, rm and
//! prune.

use serde_json::{json, Value};

use crate::cli::{
    LogsArgs, PodCreateArgs, PodInspectArgs, PodKillArgs, PodLogsArgs, PodPickArgs, PodPsArgs,
    PodRmArgs, PodStatsArgs, PodStopArgs, PodTopArgs,
};
use crate::commands::pod;
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};

use super::{encode, expect, failure, filters_map, Client};

/// The flags of `pod create` a remote service cannot get (clap's ids): mappings come
/// from the service's store.
pub const CREATE_FLAGS_KEPT_LOCAL: &[&str] = &["uidmap", "gidmap", "subuidname", "subgidname"];

pub fn create(client: &mut Client, args: &PodCreateArgs) -> Outcome {
    crate::commands::container::refuse_existing_id_file(args.pod_id_file.as_deref(), "pod")?;
    let userns_auto = pod::pod_userns_auto("create", args.userns.userns.as_deref())?;
    let mut options = pod::pod_options(args, None, userns_auto)?;
    // `--replace` is the client's to do: the spec has no field for it.
    let replace = std::mem::take(&mut options.replace);
    super::sessions::move_per_network_flags(&mut options.infra_options)?;
    let (spec, losses) = rpod_api::libpod::spec_out::pod_spec_and_losses(&options);
    if !losses.is_empty() {
        return Err(usage(format!(
            "these settings are not supported with a remote service (its API has no field for them): {}",
            losses.join(", ")
        )));
    }
    if let (true, Some(name)) = (replace, &options.name) {
        let path = format!("/pods/{}?force=true&timeout=0", encode(name));
        let reply = client.call("DELETE", &path, None)?;
        if !matches!(reply.status, 200 | 404) {
            return Err(failure(&reply));
        }
    }
    let answer = expect(
        client.call("POST", "/pods/create", Some(&spec))?,
        &[201, 200],
    )?
    .json()?;
    let id = answer["Id"]
        .as_str()
        .ok_or_else(|| usage("the service's pod create answer has no pod ID"))?
        .to_string();
    if let Some(file) = &args.pod_id_file {
        if let Err(failure) = crate::commands::container::write_id_file(file, &id, "pod") {
            let path = format!("/pods/{}?force=true&timeout=0", encode(&id));
            let _ = client.call("DELETE", &path, None);
            return Err(failure);
        }
    }
    println!("{id}");
    Ok(0)
}

/// The service's pods (`ListPodsReport`s), filtered by the service.
fn list(client: &mut Client, filters: &[String]) -> Result<Vec<Value>, Failure> {
    let mut path = "/pods/json".to_string();
    let filters = filters_map(filters)?;
    if !filters.is_empty() {
        path.push_str(&format!(
            "?filters={}",
            encode(&Value::Object(filters).to_string())
        ));
    }
    let reports = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    Ok(reports.as_array().cloned().unwrap_or_default())
}

pub fn ps(client: &mut Client, args: &PodPsArgs) -> Outcome {
    let mut reports = list(client, &args.filter)?;
    pod::sort_pods(&mut reports, &args.sort)?;
    pod::print_pods(args, reports)
}

pub fn inspect(client: &mut Client, args: &PodInspectArgs) -> Outcome {
    if args.names.is_empty() {
        return Err(usage("give the pods to inspect"));
    }
    let mut views = Vec::new();
    let mut misses = crate::commands::InspectMisses::new("object");
    for name in &args.names {
        let reply = client.call("GET", &format!("/pods/{}/json", encode(name)), None)?;
        if reply.status == 200 {
            views.push(reply.json()?);
        } else {
            misses.add_reply("pod", name, &reply);
        }
    }
    pod::print_pod_inspect(args.format.as_deref(), views)?;
    misses.outcome()
}

pub fn top(client: &mut Client, args: &PodTopArgs) -> Outcome {
    let (pod, descriptors) = args.args.split_first().ok_or_else(|| usage("give a pod"))?;
    let path = format!(
        "/pods/{}/top{}",
        encode(pod),
        super::containers::ps_args_query(descriptors)
    );
    let answer = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    super::containers::print_top_answer(&answer)
}

/// The IDs of the pods a lifecycle command names: its names and `--pod-id-file`s' IDs, as
/// the local command reads them, or every pod of the service with `--all` (`--latest` is
/// not taken, as for containers). Every pod named must be known before any is acted on, as
/// locally (an unknown one is left out with `ignore`).
fn picked(client: &mut Client, pick: &PodPickArgs, ignore: bool) -> Result<Vec<String>, Failure> {
    match pod::pods_picked(pick, ignore)? {
        pod::PodsPicked::Named(names) => {
            let mut known = Vec::with_capacity(names.len());
            for name in names {
                match pod_id(client, &name)? {
                    Some(id) => known.push(id),
                    None if ignore => {}
                    None => return Err(rpod_engine::EngineError::NoSuchPod(name).into()),
                }
            }
            Ok(known)
        }
        pod::PodsPicked::All => Ok(list(client, &[])?
            .iter()
            .filter_map(|report| report["Id"].as_str().map(str::to_string))
            .collect()),
        pod::PodsPicked::Latest => Err(usage(
            "--latest is not supported with a remote service: name the pod",
        )),
    }
}

/// A pod's ID, by its name or ID; `None` when the service knows no such pod.
fn pod_id(client: &mut Client, name: &str) -> Result<Option<String>, Failure> {
    let reply = client.call("GET", &format!("/pods/{}/json", encode(name)), None)?;
    match reply.status {
        200 => Ok(reply.json()?["Id"].as_str().map(str::to_string)),
        404 => Ok(None),
        _ => Err(failure(&reply)),
    }
}

/// One of the lifecycle moves of a pod (`start`, `stop?timeout=`, `kill?signal=`, ...).
pub enum Move {
    Start,
    Stop { time: Option<u32> },
    Restart { time: Option<u32> },
    Kill { signal: String },
    Pause,
    Unpause,
}

/// Do `action` to each pod picked, printing its ID (as the local command); an unknown pod
/// is skipped silently with `ignore`, any other failure reported (exit 125).
pub fn each(client: &mut Client, pick: &PodPickArgs, ignore: bool, action: Move) -> Outcome {
    if let Move::Kill { signal } = &action {
        rpod_oci::signal::parse_signal(signal).map_err(usage)?;
    }
    let mut code = 0;
    for id in picked(client, pick, ignore)? {
        let n = encode(&id);
        let path = match &action {
            Move::Start => format!("/pods/{n}/start"),
            Move::Stop { time } | Move::Restart { time } => {
                let verb = if matches!(action, Move::Stop { .. }) {
                    "stop"
                } else {
                    "restart"
                };
                match time {
                    Some(t) => format!("/pods/{n}/{verb}?timeout={t}"),
                    None => format!("/pods/{n}/{verb}"),
                }
            }
            Move::Kill { signal } => format!("/pods/{n}/kill?signal={}", encode(signal)),
            Move::Pause => format!("/pods/{n}/pause"),
            Move::Unpause => format!("/pods/{n}/unpause"),
        };
        let reply = client.call("POST", &path, None)?;
        let errors: Vec<String> = match reply.status {
            // Removed since it was picked.
            404 if ignore => continue,
            200 => reply.json()?["Errs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                .collect(),
            304 => Vec::new(),
            _ => vec![failure(&reply).message()],
        };
        if errors.is_empty() {
            println!("{id}");
        } else {
            for error in errors {
                eprintln!("Error: {error}");
            }
            code = ENGINE_ERROR;
        }
    }
    Ok(code)
}

pub fn stop(client: &mut Client, args: &PodStopArgs, restart: bool) -> Outcome {
    let action = if restart {
        Move::Restart { time: args.time }
    } else {
        Move::Stop { time: args.time }
    };
    each(client, &args.pick, args.ignore, action)
}

pub fn kill(client: &mut Client, args: &PodKillArgs) -> Outcome {
    let action = Move::Kill {
        signal: args.signal.clone(),
    };
    each(client, &args.pick, false, action)
}

pub fn rm(client: &mut Client, args: &PodRmArgs) -> Outcome {
    // `--force` passes over a pod that is not there, as `--ignore` and as podman's.
    let ignore = args.ignore || args.force;
    let ids = match picked(client, &args.pick, ignore) {
        Ok(ids) => ids,
        Err(failure) if pod::is_unknown_pod(&failure) => {
            eprintln!("Error: {}", failure.message());
            return Ok(1);
        }
        Err(failure) => return Err(failure),
    };
    let mut code = 0;
    for id in ids {
        let mut path = format!("/pods/{}?force={}", encode(&id), args.force);
        if let Some(t) = args.time {
            path.push_str(&format!("&timeout={t}"));
        }
        let reply = client.call("DELETE", &path, None)?;
        let report = if reply.status == 200 {
            reply.json()?
        } else {
            json!(null)
        };
        match (reply.status, super::objects::report_error(&report)) {
            (200, None) => println!("{}", report["Id"].as_str().unwrap_or(&id)),
            (404, _) if ignore => {}
            (200, Some(error)) => {
                eprintln!("Error: {error}");
                code = ENGINE_ERROR;
            }
            (status, _) => {
                eprintln!("Error: {}", failure(&reply).message());
                code = if status == 404 { 1 } else { ENGINE_ERROR };
            }
        }
    }
    Ok(code)
}

/// A pod's inspect report.
fn report(client: &mut Client, name: &str) -> Result<Value, Failure> {
    let reply = client.call("GET", &format!("/pods/{}/json", encode(name)), None)?;
    Ok(expect(reply, &[200])?.json()?)
}

/// A pod report's containers but its infra container.
fn members(report: &Value) -> Vec<&Value> {
    let infra = report["InfraContainerID"].as_str().unwrap_or_default();
    report["Containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["Id"].as_str() != Some(infra))
        .collect()
}

/// `pod logs POD`: the logs of the pod's containers but its infra container (`-c`: one of
/// them), as the local command shows them.
pub fn logs(client: &mut Client, args: &PodLogsArgs) -> Outcome {
    let [pod] = args.logs.containers.as_slice() else {
        return Err(usage("give one pod (--latest is local only)"));
    };
    let report = report(client, pod)?;
    let name = report["Name"].as_str().unwrap_or(pod);
    let members = members(&report);
    let id_of = |c: &&Value| c["Id"].as_str().unwrap_or_default().to_string();
    let mut ids: Vec<String> = members.iter().map(id_of).collect();
    if let Some(wanted) = &args.container {
        let found = members.iter().find(|c| {
            let id = c["Id"].as_str().unwrap_or_default();
            c["Name"].as_str() == Some(wanted)
                || (!wanted.is_empty() && id.starts_with(wanted.as_str()))
        });
        let found =
            found.ok_or_else(|| usage(format!("container {wanted} is not in pod {name}")))?;
        ids = vec![id_of(found)];
    }
    if ids.is_empty() {
        return Err(usage(format!(
            "pod {name} has no containers but its infra container"
        )));
    }
    let logs = LogsArgs {
        containers: ids,
        ..args.logs.clone()
    };
    super::containers::logs(client, &logs)
}

/// `pod stats [POD...]`: the service's report of every container of the pods named (of
/// every pod with `--all` or none named), printed as the local command prints its own,
/// every second until interrupted or once with `--no-stream`.
pub fn stats(client: &mut Client, args: &PodStatsArgs) -> Outcome {
    crate::commands::observe::check_pod_stats_args(args)?;
    let mut path = format!("/pods/stats?all={}", args.all);
    for pod in &args.pods {
        path.push_str(&format!("&namesOrIDs={}", encode(pod)));
    }
    loop {
        let reply = client.call("GET", &path, None)?;
        let reports: Vec<rpod_engine::stats::PodStatsReport> =
            serde_json::from_value(expect(reply, &[200])?.json()?)?;
        crate::commands::observe::print_pod_stats(args, &reports)?;
        if args.no_stream {
            return Ok(0);
        }
        std::thread::sleep(crate::commands::observe::POD_STATS_INTERVAL);
    }
}
