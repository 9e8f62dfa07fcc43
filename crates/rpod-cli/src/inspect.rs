//! JSON shapes of `inspect`, `ps` and `images`, with podman's field names.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use rpod_engine::container::{ContainerRecord, NetworkMode, Status};
use rpod_engine::image::reference::repository_and_tag;
use rpod_engine::image::ImageInfo;
use rpod_engine::Engine;

use crate::human;

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

fn signal_name(number: i32) -> String {
    rpod_oci::signal::signal_name(number)
}

/// `rpod inspect` of a container.
pub fn container(engine: &Engine, record: &ContainerRecord, exec_ids: Vec<String>) -> Value {
    let c = &record.config;
    let s = &record.state;
    let id = c.id.as_str();
    let roots = engine.roots();
    let running = matches!(
        s.status,
        Status::Running | Status::Paused | Status::Stopping
    );
    let bundle = roots.bundle_dir(id);
    let run_dir = roots.run_dir(id);
    let split = c.entrypoint_len.min(c.args.len());
    let (image_entrypoint, cmd) = c.args.split_at(split);
    json!({
        "Id": id,
        "Created": time(Some(c.created)),
        "Path": c.args.first().cloned().unwrap_or_default(),
        "Args": c.args.iter().skip(1).cloned().collect::<Vec<_>>(),
        "State": {
            "OciVersion": "1.0.2-dev",
            "Status": s.status.as_str(),
            "Running": running && s.status != Status::Paused,
            "Paused": s.status == Status::Paused,
            "Restarting": false,
            "OOMKilled": s.oom_killed,
            "Dead": false,
            "Pid": s.pid,
            "ConmonPid": s.conmon_pid,
            "ExitCode": s.exit_code.unwrap_or(0),
            "Error": s.error,
            "StartedAt": time(s.started_at),
            "FinishedAt": time(s.finished_at),
            "StoppedByUser": s.stopped_by_user,
        },
        "Image": c.image_id,
        "ImageName": c.image_name,
        "Rootfs": c.rootfs.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "StaticDir": roots.container_dir(id).display().to_string(),
        "OCIConfigPath": bundle.join("config.json").display().to_string(),
        "OCIRuntime": c.runtime,
        "ConmonPidFile": run_dir.join("conmon.pid").display().to_string(),
        "PidFile": run_dir.join("pidfile").display().to_string(),
        "Name": c.name,
        "RestartCount": 0,
        "Driver": "overlay",
        "ExecIDs": exec_ids,
        "Mounts": [],
        "Config": {
            "Hostname": c.hostname,
            "User": c.user,
            "Env": c.env,
            "Cmd": cmd,
            "Entrypoint": image_entrypoint,
            "Image": c.image_name,
            "WorkingDir": c.workdir,
            "Labels": c.labels,
            "StopSignal": signal_name(c.stop_signal),
            "StopTimeout": c.stop_timeout,
            "Tty": c.terminal,
            "OpenStdin": c.stdin,
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
        },
        "HostConfig": {
            "NetworkMode": match c.network { NetworkMode::None => "none", NetworkMode::Host => "host" },
            "AutoRemove": c.auto_remove,
            "Memory": c.memory.unwrap_or(0),
            "NanoCpus": c.cpus.map(|n| (n * 1e9) as i64).unwrap_or(0),
            "PidsLimit": c.pids_limit.unwrap_or(0),
            "ReadonlyRootfs": c.read_only,
            "LogConfig": {
                "Type": if c.log_to_file { "k8s-file" } else { "none" },
                "Path": if c.log_to_file { engine.log_path(record).display().to_string() } else { String::new() },
            },
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
        },
    })
}

/// The status column of `ps`.
pub fn status_text(record: &ContainerRecord) -> String {
    let s = &record.state;
    match s.status {
        Status::Running => format!("Up {}", human::duration(since(s.started_at))),
        Status::Paused => format!("Up {} (paused)", human::duration(since(s.started_at))),
        Status::Stopped | Status::Exited => format!(
            "Exited ({}) {}",
            s.exit_code.unwrap_or(0),
            s.finished_at.map(human::ago).unwrap_or_default()
        ),
        Status::Configured => "Created".into(),
        Status::Created => "Initialized".into(),
        Status::Stopping => "Stopping".into(),
        Status::Removing => "Removing".into(),
    }
}

fn since(t: Option<DateTime<Utc>>) -> i64 {
    t.map(|t| (Utc::now() - t).num_seconds()).unwrap_or(0)
}

/// One row of `ps`, with the fields podman's `ps --format` offers.
pub fn ps_row(record: &ContainerRecord, no_trunc: bool) -> Value {
    let c = &record.config;
    let s = &record.state;
    let id = if no_trunc {
        c.id.clone()
    } else {
        c.id[..12].to_string()
    };
    let image = if c.image_name.is_empty() {
        c.rootfs
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    } else {
        c.image_name.clone()
    };
    json!({
        "ID": id,
        "Id": c.id,
        "Image": image,
        "ImageID": c.image_id,
        "Command": c.args.join(" "),
        "Created": c.created.timestamp(),
        "CreatedAt": c.created.to_rfc3339(),
        "CreatedHuman": human::ago(c.created),
        "Status": status_text(record),
        "State": s.status.as_str(),
        "ExitCode": s.exit_code.unwrap_or(0),
        "Exited": matches!(s.status, Status::Stopped | Status::Exited),
        "Names": c.name,
        "Pid": s.pid,
        "Labels": c.labels,
        "Ports": "",
        "AutoRemove": c.auto_remove,
    })
}

/// Column headers of `ps` tables.
pub fn ps_header(field: &str) -> String {
    match field {
        "ID" | "Id" => "CONTAINER ID".into(),
        "CreatedHuman" | "Created" | "CreatedAt" => "CREATED".into(),
        "ImageID" => "IMAGE ID".into(),
        "ExitCode" => "EXIT CODE".into(),
        other => other.to_uppercase(),
    }
}

/// `rpod image inspect`.
pub fn image(info: &ImageInfo) -> Value {
    let config = serde_json::to_value(&info.config).unwrap_or(Value::Null);
    let inner = config.get("config").cloned().unwrap_or(json!({}));
    json!({
        "Id": info.record.id,
        "Digest": format!("sha256:{}", info.record.id),
        "RepoTags": info.names,
        "RepoDigests": [],
        "Created": time(info.record.created),
        "Config": inner,
        "Architecture": config.get("architecture").cloned().unwrap_or(Value::Null),
        "Os": config.get("os").cloned().unwrap_or(Value::Null),
        "Size": info.record.size,
        "VirtualSize": info.record.size,
        "RootFS": {
            "Type": "layers",
            "Layers": info.record.layers.iter().map(|l| format!("sha256:{l}")).collect::<Vec<_>>(),
        },
        "History": config.get("history").cloned().unwrap_or(json!([])),
        "NamesHistory": info.names,
    })
}

/// Rows of `images`: one per name, or one `<none>` row for an unnamed image.
pub fn image_rows(info: &ImageInfo, no_trunc: bool) -> Vec<Value> {
    let id = if no_trunc {
        format!("sha256:{}", info.record.id)
    } else {
        info.record.id[..12].to_string()
    };
    let created = info.record.created.unwrap_or(info.record.added);
    let names: Vec<Option<&String>> = if info.names.is_empty() {
        vec![None]
    } else {
        info.names.iter().map(Some).collect()
    };
    names
        .into_iter()
        .map(|name| {
            let (repository, tag) = name
                .map(|n| repository_and_tag(n))
                .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
            json!({
                "ID": id,
                "Id": info.record.id,
                "Repository": repository,
                "Tag": tag,
                "Digest": format!("sha256:{}", info.record.id),
                "Created": created.timestamp(),
                "CreatedAt": created.to_rfc3339(),
                "CreatedSince": human::ago(created),
                "Size": human::size(info.record.size),
                "VirtualSize": info.record.size,
                "Names": info.names,
            })
        })
        .collect()
}

pub fn image_header(field: &str) -> String {
    match field {
        "ID" | "Id" => "IMAGE ID".into(),
        "CreatedSince" | "Created" | "CreatedAt" => "CREATED".into(),
        other => other.to_uppercase(),
    }
}
