//! `_ping`, `version`, `info`, `events`.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use rpod_engine::events::{self, Event, EventReader};

use super::containers::{log_time, parse_filters};
use crate::error::{ApiError, ApiResult};
use crate::exchange::{Exchange, Flavour};
use crate::hangup::HangupWatch;
use crate::service::Context;

pub fn ping(ex: &mut Exchange) -> ApiResult<()> {
    // Docker's clients negotiate from the headers every answer carries; HEAD has no body.
    ex.send(200, "text/plain; charset=utf-8", b"OK")
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn version(_context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let version = env!("CARGO_PKG_VERSION");
    let api = crate::DOCKER_API_VERSION;
    let min = crate::MIN_DOCKER_API_VERSION;
    ex.json(
        200,
        &json!({
            "Platform": { "Name": "rpod" },
            "Components": [{
                "Name": "Engine",
                "Version": version,
                "Details": {
                    "ApiVersion": api,
                    "Arch": rpod_engine::views::go_arch(),
                    "MinAPIVersion": min,
                    "Os": "linux",
                    "KernelVersion": kernel(),
                },
            }],
            "Version": version,
            "ApiVersion": api,
            "MinAPIVersion": min,
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": rpod_engine::views::go_arch(),
            "KernelVersion": kernel(),
            "BuildTime": "",
        }),
    )
}

pub fn info(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let engine = &context.engine;
    let info = engine.info()?;
    let counts = &info.store.container_store;
    let total_memory = info.host.mem_total;
    let cpus = info.host.cpus;
    let runtime = &info.host.oci_runtime;
    let mut security = vec!["name=seccomp,profile=default".to_string()];
    if nix::unistd::geteuid().is_root() {
        security.push("name=cgroupns".into());
    }
    ex.json(
        200,
        &json!({
            "ID": "",
            "Containers": counts.number,
            "ContainersRunning": counts.running,
            "ContainersPaused": counts.paused,
            "ContainersStopped": counts.stopped,
            "Images": info.store.image_store.number,
            "Driver": info.store.graph_driver_name,
            "DriverStatus": [],
            "DockerRootDir": info.store.graph_root,
            "Plugins": { "Volume": [], "Network": [], "Authorization": null, "Log": ["k8s-file", "none"] },
            "MemoryLimit": true,
            "SwapLimit": true,
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "OomKillDisable": false,
            "IPv4Forwarding": false,
            "Debug": false,
            "NFd": 0,
            "NGoroutines": 0,
            "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "LoggingDriver": info.host.log_driver,
            "CgroupDriver": info.host.cgroup_manager,
            "CgroupVersion": info.host.cgroup_version.trim_start_matches('v'),
            "KernelVersion": info.host.kernel,
            "OperatingSystem": info.host.distribution.pretty_name,
            "OSVersion": info.host.distribution.version,
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "NCPU": cpus,
            "MemTotal": total_memory,
            "IndexServerAddress": "",
            "RegistryConfig": null,
            "Name": info.host.hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Runtimes": { runtime.name.clone(): { "path": runtime.path } },
            "DefaultRuntime": runtime.name,
            "Swarm": { "LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": false, "Error": "", "RemoteManagers": null },
            "LiveRestoreEnabled": false,
            "Isolation": "",
            "InitBinary": "",
            "SecurityOptions": security,
            "Warnings": [],
        }),
    )
}

/// An event as Docker's `events.Message` (which podman-remote decodes too).
pub fn event_json(event: &Event, flavour: Flavour) -> serde_json::Value {
    let action = match (flavour, event.attributes.get("health_status")) {
        // Docker's action names the verdict (`docker events` prints it; its `event=`
        // filter takes `health_status` alone too, as rpod's does).
        (Flavour::Compat, Some(verdict)) if event.status == "health_status" => {
            format!("health_status: {verdict}")
        }
        // And the command of an exec (`exec_start: sh -c date`), which its filter finds by
        // `exec_start` alone as well.
        (Flavour::Compat, _) if event.status == "exec" && !event.command.is_empty() => {
            format!("{}: {}", event.docker_action(), event.command)
        }
        (Flavour::Compat, _) => event.docker_action().to_string(),
        (Flavour::Libpod, _) => event.status.clone(),
    };
    let mut attributes = event.attributes.clone();
    match flavour {
        // A `die` event's code: Docker's `exitCode` too, beside podman's own name (which
        // podman's compatible API also sends).
        Flavour::Compat => {
            if let Some(code) = attributes.get("containerExitCode").cloned() {
                attributes.insert("exitCode".into(), code);
            }
        }
        // podman's service gives every event a `containerExitCode` ("0" but for a death)
        // and a `podId`; podman-remote 4.3 drops an event without the code and then crashes
        // printing it.
        Flavour::Libpod => {
            attributes
                .entry("containerExitCode".into())
                .or_insert_with(|| "0".into());
            attributes
                .entry("podId".into())
                .or_insert_with(|| event.pod_id.clone());
        }
    }
    if !event.name.is_empty() {
        attributes.insert("name".into(), event.name.clone());
    }
    if !event.image.is_empty() {
        attributes.insert("image".into(), event.image.clone());
    }
    json!({
        "status": action,
        "id": event.id,
        "from": event.image,
        "Type": event.kind.as_str(),
        "Action": action,
        "Actor": { "ID": event.id, "Attributes": attributes },
        "scope": "local",
        "time": event.time_nanos / 1_000_000_000,
        "timeNano": event.time_nanos,
    })
}

/// Whether a libpod client decodes the event: podman-remote 4 knows no `update` status
/// (`rpod update`'s event), drops such an event and then crashes printing it; rpod's own
/// client (which names itself in `User-Agent`) and later podman-remotes know it.
fn client_knows(event: &Event, version: Option<(u32, u32)>, rpods_client: bool) -> bool {
    event.status != "update" || rpods_client || version.is_none_or(|v| v >= (5, 0))
}

/// How often a followed event stream looks for new events.
const EVENTS_POLL: Duration = Duration::from_millis(100);

/// `GET /events`: past events from `since`, then new ones as they happen, until `until`
/// or until the client goes away (libpod's `stream=false` ends after the past ones).
pub fn events(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let since = log_time(ex, "since")?;
    let until = log_time(ex, "until")?;
    let filters = parse_filters(ex)?;
    if let Some(key) = filters
        .keys()
        .find(|k| !events::FILTER_KEYS.contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "invalid filter {key:?}: rpod filters events by type, event, container and image"
        )));
    }
    let stream = ex.query_bool_or("stream", true)?;
    let roots = context.engine.roots();
    // Past events when asked for (`since`, even 0) or when not streaming; else new ones.
    let past = ex.req.query("since").is_some_and(|s| !s.is_empty()) || !stream;
    let mut reader = if past {
        EventReader::from_start(roots)
    } else {
        EventReader::from_end(roots)
    };
    let nanos = |t: chrono::DateTime<chrono::FixedOffset>| t.timestamp_nanos_opt().unwrap_or(0);
    let (since, until) = (since.map(nanos), until.map(nanos));
    let (flavour, version) = (ex.flavour, ex.version);
    let rpods_client = ex
        .req
        .header("user-agent")
        .is_some_and(|agent| agent.starts_with("rpod/"));
    let mut body = ex.start_stream(200, "application/json")?;
    let watch = HangupWatch::start(ex.conn.fd().clone())
        .map_err(|e| ApiError::internal(format!("watching the connection: {e}")))?;
    loop {
        let events = reader
            .read_new()
            .map_err(|e| ApiError::internal(format!("reading the event log: {e}")))?;
        for event in events {
            if since.is_some_and(|s| event.time_nanos < s)
                || until.is_some_and(|u| event.time_nanos > u)
                || !events::matches(&event, &filters)
                || (flavour == Flavour::Libpod && !client_knows(&event, version, rpods_client))
            {
                continue;
            }
            let mut line = event_json(&event, flavour).to_string();
            line.push('\n');
            if body.write_all(line.as_bytes()).is_err() {
                ex.close = true;
                return Ok(());
            }
        }
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        if !stream || until.is_some_and(|u| now > u) {
            break;
        }
        if watch.hung_up() {
            ex.close = true;
            return Ok(());
        }
        std::thread::sleep(EVENTS_POLL);
    }
    drop(watch);
    if body.finish().is_err() {
        ex.close = true;
    }
    Ok(())
}

/// `GET /system/df`: what the store holds and uses, in each flavour's shape (`docker
/// system df`, `podman system df`).
pub fn df(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let engine = &context.engine;
    let usage = engine.disk_usage()?;
    if ex.flavour == Flavour::Libpod {
        // A report per name, as podman's (an image without one: `<none>`).
        let images: Vec<serde_json::Value> = usage
            .images
            .iter()
            .flat_map(|i| {
                let names = rpod_engine::image::reference::rows_of_names(&i.names);
                names.into_iter().map(move |(repository, tag)| {
                    json!({
                        "Repository": repository,
                        "Tag": tag,
                        "ImageID": i.record.id,
                        "Created": i.record.created.unwrap_or(i.record.added).to_rfc3339(),
                        "Size": i.record.size,
                        "SharedSize": i.shared,
                        "UniqueSize": i.unique(),
                        "Containers": i.containers,
                    })
                })
            })
            .collect();
        let containers: Vec<serde_json::Value> = usage
            .containers
            .iter()
            .map(|c| {
                let r = &c.record;
                json!({
                    "ContainerID": r.id(),
                    "Image": r.config.image_id,
                    "Command": r.config.args,
                    "LocalVolumes": r.config.mounts.iter().filter(|m| m.volume.is_some()).count(),
                    "Size": c.total,
                    "RWSize": c.written,
                    "Created": r.config.created.to_rfc3339(),
                    "Status": r.state.status.as_str(),
                    "Names": r.config.name,
                })
            })
            .collect();
        let volumes: Vec<serde_json::Value> = usage
            .volumes
            .iter()
            .map(|v| {
                json!({
                    "VolumeName": v.record.name,
                    "Links": v.users,
                    "Size": v.size,
                    "ReclaimableSize": if v.users == 0 { v.size } else { 0 },
                })
            })
            .collect();
        let images_size: u64 = usage.images.iter().map(|i| i.record.size).sum();
        return ex.json(
            200,
            &json!({
                "ImagesSize": images_size,
                "Images": images,
                "Containers": containers,
                "Volumes": volumes,
            }),
        );
    }
    let mut images = Vec::new();
    for image in &usage.images {
        let info = engine.image_info(image.record.clone())?;
        let mut summary = super::views::image_summary(&info);
        summary["Containers"] = json!(image.containers);
        summary["SharedSize"] = json!(image.shared);
        images.push(summary);
    }
    let names = crate::networks::DockerNetworkNames::of(engine);
    let containers: Vec<serde_json::Value> = usage
        .containers
        .iter()
        .map(|c| {
            let mut summary = super::views::container_summary(&c.record, &names);
            summary["SizeRw"] = json!(c.written);
            summary["SizeRootFs"] = json!(c.total);
            summary
        })
        .collect();
    let volumes: Vec<serde_json::Value> = usage
        .volumes
        .iter()
        .map(|v| {
            json!({
                "Name": v.record.name,
                "Driver": v.record.driver,
                "Mountpoint": engine.volume_path(&v.record.name).display().to_string(),
                "CreatedAt": v.record.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "Labels": v.record.labels,
                "Scope": "local",
                "Options": v.record.options,
                "UsageData": { "Size": v.size, "RefCount": v.users },
            })
        })
        .collect();
    ex.json(
        200,
        &json!({
            "LayersSize": usage.images.iter().map(|i| i.record.size).sum::<u64>(),
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }),
    )
}

/// `POST /build/prune` (`docker builder prune`, and `docker system prune` asks for it):
/// the directories of builds' cache mounts. (The steps' images the build cache goes on
/// from are images: `image prune` takes those that are dangling.)
pub fn build_prune(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let (removed, bytes) = context.engine.prune_build_cache_mounts()?;
    ex.json(
        200,
        &json!({ "CachesDeleted": removed, "SpaceReclaimed": bytes }),
    )
}

/// `POST /libpod/system/prune` (`podman system prune`): stopped containers, networks no
/// container uses, unnamed images (every unused one with `all`), and with `volumes` the
/// volumes no container uses.
pub fn libpod_prune(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let all = ex.query_bool("all")?;
    let volumes = ex.query_bool("volumes")?;
    if let Some(key) = parse_filters(ex)?.keys().next() {
        return Err(ApiError::bad_request(format!(
            "invalid filter {key:?}: rpod's system prune over the API takes none"
        )));
    }
    let pruned = context
        .engine
        .system_prune(&rpod_engine::engine::SystemPruneOptions {
            pods: true,
            volumes,
            all_images: all,
            container: &|_| true,
            image: &|_| true,
        })?;
    let reports = crate::libpod::prune_reports;
    ex.json(
        200,
        &json!({
            "PodPruneReport": pruned.pods.iter().map(|id| json!({ "Id": id, "Err": null })).collect::<Vec<_>>(),
            "ContainerPruneReports": reports(&pruned.containers),
            "ImagePruneReports": reports(&pruned.images),
            "NetworkPruneReports": pruned.networks.iter().map(|n| json!({ "Name": n })).collect::<Vec<_>>(),
            "VolumePruneReports": reports(&pruned.volumes),
            "ReclaimedSpace": pruned.reclaimed(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpod_engine::events::EventType;

    #[test]
    fn libpod_events_carry_what_podman_remote_needs_to_decode_them() {
        let mut paused = Event::new(EventType::Container, "pause", "abc");
        paused.pod_id = "pod1".into();
        let json = event_json(&paused, Flavour::Libpod);
        let attributes = &json["Actor"]["Attributes"];
        assert_eq!(attributes["containerExitCode"], "0", "{json}");
        assert_eq!(attributes["podId"], "pod1", "{json}");
        // A death keeps its own code; Docker's flavour has its `exitCode` beside it.
        let mut died = Event::new(EventType::Container, "died", "abc");
        died.attributes
            .insert("containerExitCode".into(), "3".into());
        let json = event_json(&died, Flavour::Libpod);
        assert_eq!(json["Actor"]["Attributes"]["containerExitCode"], "3");
        let json = event_json(&died, Flavour::Compat);
        assert_eq!(json["Actor"]["Attributes"]["exitCode"], "3");
        assert_eq!(json["Action"], "die");
        assert!(json["Actor"]["Attributes"].get("podId").is_none(), "{json}");
    }

    #[test]
    fn update_events_go_to_clients_that_know_them() {
        let update = Event::new(EventType::Container, "update", "abc");
        assert!(!client_knows(&update, Some((4, 3)), false));
        assert!(client_knows(&update, Some((4, 3)), true));
        assert!(client_knows(&update, Some((5, 0)), false));
        assert!(client_knows(&update, None, false));
        let pause = Event::new(EventType::Container, "pause", "abc");
        assert!(client_knows(&pause, Some((4, 3)), false));
    }
}
