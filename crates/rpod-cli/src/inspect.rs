//! JSON shapes of `inspect`, `ps` and `images`, with podman's field names.

use serde_json::{json, Value};

use rpod_engine::container::ContainerRecord;
use rpod_engine::image::ImageInfo;
use rpod_engine::views::{ContainerSummary, ImageInspect, ImageSummary};
use rpod_engine::Engine;

use rpod_engine::human;

/// `rpod inspect` of a container.
pub fn container(
    engine: &Engine,
    record: &ContainerRecord,
    exec_ids: Vec<String>,
) -> rpod_engine::Result<Value> {
    Ok(serde_json::to_value(engine.inspect_view(record, exec_ids)?).unwrap_or(Value::Null))
}

/// The status column of `ps`.
/// podman 4 says how long ago a running container started ("Up 5 seconds ago"); the
/// Docker API's text has no "ago", as Docker's.
pub fn status_text(record: &ContainerRecord) -> String {
    let text = human::container_status(record);
    match text.strip_prefix("Up ") {
        Some(rest) => match rest.split_once(" (") {
            Some((uptime, note)) => format!("Up {uptime} ago ({note}"),
            None => format!("Up {rest} ago"),
        },
        None => text,
    }
}

/// Merge presentation fields into a view's JSON object.
fn with_fields(view: impl serde::Serialize, extra: Value) -> Value {
    let mut value = serde_json::to_value(view).unwrap_or(Value::Null);
    if let (Some(object), Value::Object(extra)) = (value.as_object_mut(), extra) {
        object.extend(extra);
    }
    value
}

/// Go's zero time in Unix seconds: podman's `ExitedAt` of a container that never exited.
const GO_ZERO_UNIX: i64 = -62_135_596_800;

/// podman's `ps` template values (its `psReporter`'s) of times and the image: `Created`
/// and `CreatedAt` as Go prints a time, `StartedAt` in Unix seconds (Go's zero time for a
/// container never started), `ImageID` short unless `no_trunc`.
pub fn ps_template_values(
    row: &mut Value,
    created: chrono::DateTime<chrono::Utc>,
    started_unix: Option<i64>,
    no_trunc: bool,
) {
    let created = crate::format::go_time(created.fixed_offset());
    row["Created"] = json!(created);
    row["CreatedAt"] = json!(created);
    row["StartedAt"] = json!(started_unix.unwrap_or(GO_ZERO_UNIX));
    if !no_trunc {
        let short: Option<String> = row["ImageID"]
            .as_str()
            .map(|id| id.chars().take(12).collect());
        if let Some(short) = short {
            row["ImageID"] = json!(short);
        }
    }
}

/// `ps`'s command for a template: as podman's, its first 17 characters and `...` when
/// longer than that, unless `--no-trunc`.
pub fn ps_command(command: &str, no_trunc: bool) -> String {
    const SHOWN: usize = 17;
    match command.char_indices().nth(SHOWN) {
        Some((end, _)) if !no_trunc => format!("{}...", &command[..end]),
        _ => command.to_string(),
    }
}

/// One row of `ps`: the engine's summary, plus what podman's `ps --format` offers for
/// people (a short id, human times, the status text, the command cut short).
pub fn ps_row(record: &ContainerRecord, no_trunc: bool) -> Value {
    let summary = ContainerSummary::new(record);
    let c = &record.config;
    let id = if no_trunc {
        c.id.clone()
    } else {
        c.id[..12].to_string()
    };
    let mut row = with_fields(
        summary,
        json!({
            "ID": id,
            "Id": c.id,
            "CreatedHuman": human::ago(c.created),
            "RunningFor": human::ago(c.created),
            "ExitedAt": record.state.finished_at.map_or(GO_ZERO_UNIX, |t| t.timestamp()),
            "Mounts": c.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>(),
            "Status": status_text(record),
            "Ports": human::ports(&c.net.ports),
            "Networks": c.net.networks.iter().map(|n| n.name.clone()).collect::<Vec<_>>(),
        }),
    );
    let command = row["Command"].as_str().map(|c| ps_command(c, no_trunc));
    if let Some(command) = command {
        row["Command"] = json!(command);
    }
    let started = record.state.started_at.map(|t| t.timestamp());
    ps_template_values(&mut row, c.created, started, no_trunc);
    row
}

/// Column headers of `ps` tables.
pub fn ps_header(field: &str) -> String {
    match field {
        "ID" | "Id" => "CONTAINER ID".into(),
        "CreatedHuman" | "Created" | "CreatedAt" => "CREATED".into(),
        "ImageID" => "IMAGE ID".into(),
        "ExitCode" => "EXIT CODE".into(),
        "Pod" => "POD ID".into(),
        "PodName" => "PODNAME".into(),
        "Namespaces.Cgroup" => "CGROUPNS".into(),
        "Namespaces.User" => "USERNS".into(),
        other => other
            .strip_prefix("Namespaces.")
            .unwrap_or(other)
            .to_uppercase(),
    }
}

/// `rpod image inspect`; `templated`: for a template, with every field.
pub fn image(engine: &rpod_engine::Engine, info: &ImageInfo, templated: bool) -> Value {
    let view = ImageInspect::new(engine.roots(), info);
    if templated {
        return view.for_template();
    }
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// podman's `images` template values (its `imageReporter`'s) beside a row's own: `Created`
/// the human age, `CreatedAt` as Go prints the time (to the second: images keep Unix
/// seconds), the number of `Containers`, `Dangling`, the image it was made on (`ParentId`,
/// empty for none), and `SharedSize` and `ReadOnly` as podman's store has them for a local
/// image (0, false).
pub fn image_template_values(
    row: &mut Value,
    created: Option<chrono::DateTime<chrono::Utc>>,
    containers: u64,
    dangling: bool,
    parent: &str,
) {
    let Some(fields) = row.as_object_mut() else {
        return;
    };
    let whole_seconds = created.and_then(|t| chrono::DateTime::from_timestamp(t.timestamp(), 0));
    fields.extend([
        (
            "Created".to_string(),
            json!(created.map(human::ago).unwrap_or_default()),
        ),
        (
            "CreatedAt".to_string(),
            json!(whole_seconds
                .map(|t| crate::format::go_time(t.fixed_offset()))
                .unwrap_or_default()),
        ),
        ("Containers".to_string(), json!(containers)),
        ("Dangling".to_string(), json!(dangling)),
        ("SharedSize".to_string(), json!(0)),
        ("ReadOnly".to_string(), json!(false)),
        ("ParentId".to_string(), json!(parent)),
    ]);
}

/// Whether an `images` row (its `Repository` and `Tag`) has the name a `reference=`
/// pattern gives, as the local and the remote listings show only those rows.
pub fn image_row_named(row: &Value, pattern: &str) -> bool {
    let name = format!(
        "{}:{}",
        row["Repository"].as_str().unwrap_or_default(),
        row["Tag"].as_str().unwrap_or_default()
    );
    rpod_engine::image_filters::reference_matches(&name, pattern)
}

/// The `images` rows of one image, for templates: one per name, or one `<none>` row for an
/// unnamed image; `containers`: how many containers it has.
pub fn image_rows(info: &ImageInfo, no_trunc: bool, containers: u64) -> Vec<Value> {
    let id = if no_trunc {
        format!("sha256:{}", info.record.id)
    } else {
        info.record.id[..12].to_string()
    };
    let created = info.record.created.unwrap_or(info.record.added);
    ImageSummary::rows(info)
        .into_iter()
        .map(|row| {
            let full_id = row.id.clone();
            let mut row = with_fields(
                row,
                json!({
                    "ID": id,
                    "Id": full_id,
                    "CreatedSince": human::ago(created),
                    "Size": human::size(info.record.size),
                    "SizeBytes": info.record.size,
                    "History": if info.names.is_empty() {
                        "<none>".to_string()
                    } else {
                        info.names.join(", ")
                    },
                }),
            );
            image_template_values(
                &mut row,
                Some(created),
                containers,
                info.is_dangling(),
                info.record.parent.as_deref().unwrap_or_default(),
            );
            row
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

#[cfg(test)]
mod tests {
    use super::ps_command;

    #[test]
    fn ps_cuts_long_commands_as_podman() {
        assert_eq!(ps_command("sleep 1000", false), "sleep 1000");
        // Exactly 17 characters stay whole; more are cut to 17 and "...".
        assert_eq!(ps_command("abcdefghijklmnopq", false), "abcdefghijklmnopq");
        assert_eq!(
            ps_command("sh -c head -c 100000 /dev/zero", false),
            "sh -c head -c 100..."
        );
        assert_eq!(
            ps_command("sh -c head -c 100000", true),
            "sh -c head -c 100000"
        );
        // By characters, never inside one.
        assert_eq!(
            ps_command("échoéchoéchoéchoécho", false),
            "échoéchoéchoéchoé..."
        );
    }
}
