//! The event log: the lifecycle events of containers and images, from every process that
//! changes them (the CLI, the service, the cleanup command conmon runs), one JSON line each
//! in a file on the run root, like podman's `file` events backend. Each line is appended
//! with one `write` on an `O_APPEND` descriptor, so lines of different processes never
//! interleave. Writing an event never fails the operation that made it.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::Roots;

/// The log is set aside (one older generation kept) once it is larger than this.
const ROTATE_AT: u64 = 8 << 20;
/// Lines longer than this are not events (a damaged file): skipped.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Container,
    Image,
    Volume,
    Network,
    Pod,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Volume => "volume",
            EventType::Network => "network",
            EventType::Pod => "pod",
        }
    }
}

/// One event, with podman's names for what happened (`create`, `init`, `start`, `attach`,
/// `exec`, `exec_died`, `kill`, `pause`, `unpause`, `stop`, `died`, `remove`; for images
/// `import`, `load`, `tag`, `untag`, `remove`; for volumes `create`, `remove`; for
/// networks `create`, `remove`, `connect`, `disconnect`). A volume's ID is its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Nanoseconds since the Unix epoch.
    pub time_nanos: i64,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub status: String,
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// An exec session's command, words joined by spaces: Docker's action names it
    /// (`exec_start: sh -c date`); podman's views leave it out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    /// A container event's pod, when the container is in one (podman's `PodID`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_id: String,
}

impl Event {
    pub fn new(kind: EventType, status: &str, id: &str) -> Self {
        Event {
            time_nanos: chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            kind,
            status: status.to_string(),
            id: id.to_string(),
            name: String::new(),
            image: String::new(),
            attributes: BTreeMap::new(),
            command: String::new(),
            pod_id: String::new(),
        }
    }
}

impl Event {
    /// Docker's name for what happened.
    pub fn docker_action(&self) -> &str {
        match (self.kind, self.status.as_str()) {
            (EventType::Container, "died") => "die",
            (EventType::Container, "remove") => "destroy",
            (EventType::Container, "exec") => "exec_start",
            (EventType::Container, "exec_died") => "exec_die",
            (EventType::Image, "remove") => "delete",
            (EventType::Volume | EventType::Network, "remove") => "destroy",
            (_, other) => other,
        }
    }
}

/// The keys events can be filtered by.
pub const FILTER_KEYS: [&str; 9] = [
    "type",
    "event",
    "status",
    "container",
    "image",
    "label",
    "volume",
    "network",
    "pod",
];

/// Whether `event` passes `filters` (key to values): every key must match one of its
/// values (every one, for `label`: `filter_values::key_passes`). `event`/`status` take
/// podman's and Docker's names; `container` an ID prefix or a name; `image` the image of
/// a container event, or an image's ID prefix or name;
/// `label` `KEY` or `KEY=VALUE` of a container's labels; `volume` a volume's name;
/// `network` a network's ID prefix or name; `pod` a pod's.
pub fn matches(event: &Event, filters: &HashMap<String, Vec<String>>) -> bool {
    filters.iter().all(|(key, values)| {
        let mut results = values.iter().map(|v| match key.as_str() {
            "type" => event.kind.as_str() == v,
            "event" | "status" => event.status == *v || event.docker_action() == v,
            "container" => {
                event.kind == EventType::Container
                    && (event.id.starts_with(v.as_str()) || event.name == *v)
            }
            "label" => match v.split_once('=') {
                Some((key, value)) => event.attributes.get(key).is_some_and(|a| a == value),
                None => event.attributes.contains_key(v.as_str()),
            },
            "image" => {
                event.image == *v
                    || (event.kind == EventType::Image
                        && (event.id.starts_with(v.as_str())
                            || event.name.split(',').any(|n| n == v)))
            }
            "volume" => event.kind == EventType::Volume && event.id == *v,
            "network" => {
                event.kind == EventType::Network
                    && (event.id.starts_with(v.as_str()) || event.name == *v)
            }
            "pod" => {
                event.kind == EventType::Pod
                    && (event.id.starts_with(v.as_str()) || event.name == *v)
            }
            _ => false,
        });
        crate::filter_values::key_passes(key, &mut results)
    })
}

pub fn log_path(roots: &Roots) -> PathBuf {
    roots.runroot.join("events").join("events.log")
}

/// Append `event` to the log; failures are reported in the service's log only.
pub fn append(roots: &Roots, event: &Event) {
    if let Err(e) = try_append(&log_path(roots), event) {
        tracing::warn!("recording the {} event of {}: {e}", event.status, event.id);
    }
}

fn try_append(path: &Path, event: &Event) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::paths::create_private(dir)?;
    }
    if fs::metadata(path).is_ok_and(|m| m.len() > ROTATE_AT) {
        // Two writers may both rotate: the second renames a fresh file, losing at most
        // the few events written between them.
        let _ = fs::rename(path, path.with_extension("log.1"));
    }
    let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(&line)
}

/// Reads the log from an offset on, whole lines at a time.
pub struct EventReader {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl EventReader {
    /// From the start of the log.
    pub fn from_start(roots: &Roots) -> Self {
        EventReader {
            path: log_path(roots),
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// From the current end of the log: only events written from now on.
    pub fn from_end(roots: &Roots) -> Self {
        let path = log_path(roots);
        let offset = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        EventReader {
            path,
            offset,
            partial: Vec::new(),
        }
    }

    /// The events written since the last call. A log that was rotated (smaller than the
    /// offset) is read again from its start.
    pub fn read_new(&mut self) -> std::io::Result<Vec<Event>> {
        let mut file = match fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut data = Vec::new();
        file.take(len - self.offset).read_to_end(&mut data)?;
        self.offset += data.len() as u64;
        self.partial.extend_from_slice(&data);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(end) = self.partial[start..].iter().position(|b| *b == b'\n') {
            let line = &self.partial[start..start + end];
            if line.len() <= MAX_LINE {
                if let Ok(event) = serde_json::from_slice::<Event>(line) {
                    events.push(event);
                }
            }
            start += end + 1;
        }
        self.partial.drain(..start);
        if self.partial.len() > MAX_LINE {
            self.partial.clear();
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(dir: &Path) -> Roots {
        Roots {
            root: dir.join("root"),
            runroot: dir.join("run"),
            keep_free: crate::free_space::TEST_KEEP_FREE,
            volumes: dir.join("root/volumes"),
        }
    }

    /// What happened, in the events not read yet.
    fn statuses(reader: &mut EventReader) -> Vec<String> {
        reader
            .read_new()
            .unwrap()
            .into_iter()
            .map(|e| e.status)
            .collect()
    }

    #[test]
    fn events_are_appended_and_read_back_in_order_without_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let roots = roots(dir.path());
        let mut from_start = EventReader::from_start(&roots);
        assert!(from_start.read_new().unwrap().is_empty());
        append(&roots, &Event::new(EventType::Container, "create", "a"));
        let mut from_end = EventReader::from_end(&roots);
        append(&roots, &Event::new(EventType::Container, "start", "a"));
        // A line being written (no newline yet) is not read until it is whole.
        let path = log_path(&roots);
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        let whole = serde_json::to_string(&Event::new(EventType::Image, "tag", "i")).unwrap();
        file.write_all(&whole.as_bytes()[..10]).unwrap();
        let seen = statuses(&mut from_start);
        assert_eq!(seen, ["create", "start"]);
        file.write_all(&whole.as_bytes()[10..]).unwrap();
        file.write_all(b"\nnot json\n").unwrap();
        let seen = statuses(&mut from_start);
        assert_eq!(seen, ["tag"]);
        let seen = statuses(&mut from_end);
        assert_eq!(seen, ["start", "tag"]);
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
    }
}
