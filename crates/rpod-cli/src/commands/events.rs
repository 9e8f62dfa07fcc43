//! `rpod events`: the event log (podman's `file` backend) as podman prints it, past events
//! from `--since`, then new ones as they are written unless `--stream=false`.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use rpod_engine::events::{self, Event, EventReader, EventType};
use rpod_engine::Engine;

use crate::cli::EventsArgs;
use crate::exit::{usage, Failure, Outcome};
use crate::format::{self, Format};

use super::logs::parse_time;

/// How often a followed log is read again.
const POLL: Duration = Duration::from_millis(100);

/// `--filter KEY=VALUE` flags as key to values.
pub fn parse_filters(flags: &[String]) -> Result<HashMap<String, Vec<String>>, Failure> {
    let mut filters: HashMap<String, Vec<String>> = HashMap::new();
    for flag in flags {
        let (key, value) = flag
            .split_once('=')
            .ok_or_else(|| usage(format!("invalid filter {flag:?}: use KEY=VALUE")))?;
        if !events::FILTER_KEYS.contains(&key) {
            return Err(usage(format!(
                "invalid filter {key:?}: use type, event, container, image, label, volume or network"
            )));
        }
        filters
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }
    Ok(filters)
}

/// podman's way of printing a time: Go's `2006-01-02 15:04:05.999999999 -0700 MST`.
fn podman_time(time: DateTime<Utc>) -> String {
    crate::format::go_time(time.fixed_offset())
}

fn event_time(event: &Event) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(event.time_nanos)
}

/// What a template sees: podman's `events.Event` fields. Its JSON has the time in RFC 3339
/// (`as_json`), a template Go's default time format.
fn event_value(event: &Event, full_ids: bool, as_json: bool) -> Value {
    let time = if as_json {
        event_time(event).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    } else {
        podman_time(event_time(event))
    };
    // A volume's ID is its name: never shortened.
    let id = if full_ids || event.id.len() < 12 || event.kind == EventType::Volume {
        event.id.as_str()
    } else {
        &event.id[..12]
    };
    // A `died` event's code is a field of podman's event, not one of its attributes (the
    // container's labels); its JSON leaves a 0 out.
    let mut attributes = event.attributes.clone();
    let exit_code = attributes
        .remove(CONTAINER_EXIT_CODE)
        .and_then(|code| code.parse::<i32>().ok())
        .unwrap_or(0);
    let mut value = json!({
        "ID": id,
        "Image": event.image,
        "Name": event.name,
        "Status": event.status,
        "Time": time,
        "Type": event.kind.as_str(),
        "Attributes": attributes,
    });
    if exit_code != 0 || !as_json {
        value["ContainerExitCode"] = json!(exit_code);
    }
    // A network event's network (podman's `Network`) and a pod container's pod: JSON
    // leaves them out when empty, a template sees empty words.
    let network = match event.kind {
        EventType::Network => event.name.as_str(),
        _ => "",
    };
    for (field, text) in [("Network", network), ("PodID", event.pod_id.as_str())] {
        if !text.is_empty() || !as_json {
            value[field] = json!(text);
        }
    }
    value
}

/// The attribute under which a `died` event records the exit code.
const CONTAINER_EXIT_CODE: &str = "containerExitCode";

/// The default line: time, type, what happened, the ID, then the attributes.
fn event_line(event: &Event, full_ids: bool) -> String {
    let value = event_value(event, full_ids, false);
    let id = value["ID"].as_str().unwrap_or_default();
    let mut line = format!(
        "{} {} {} {id}",
        podman_time(event_time(event)),
        event.kind.as_str(),
        event.status
    );
    match event.kind {
        EventType::Image => {
            if !event.name.is_empty() {
                line.push(' ');
                line.push_str(&event.name);
            }
        }
        // podman's: a volume by its name alone; a network with its name and what else.
        EventType::Volume => {}
        EventType::Network | EventType::Pod => {
            let mut attributes = vec![format!("name={}", event.name)];
            attributes.extend(event.attributes.iter().map(|(k, v)| format!("{k}={v}")));
            line.push_str(&format!(" ({})", attributes.join(", ")));
        }
        EventType::Container => {
            let mut attributes = vec![];
            if !event.image.is_empty() {
                attributes.push(format!("image={}", event.image));
            }
            if !event.name.is_empty() {
                attributes.push(format!("name={}", event.name));
            }
            attributes.extend(event.attributes.iter().map(|(k, v)| format!("{k}={v}")));
            if !attributes.is_empty() {
                line.push_str(&format!(" ({})", attributes.join(", ")));
            }
        }
    }
    line
}

/// How each event is printed.
pub enum Printer {
    Line,
    Json,
    Template(Box<Format>),
}

impl Printer {
    pub fn new(format: Option<&str>) -> Result<Self, Failure> {
        Ok(match format {
            None | Some("") => Printer::Line,
            Some("json") | Some("{{json .}}") => Printer::Json,
            Some(template) => Printer::Template(Box::new(
                Format::parse(template, &format::upper_header).map_err(Failure::from)?,
            )),
        })
    }

    pub fn render(&self, event: &Event, full_ids: bool) -> Result<String, Failure> {
        Ok(match self {
            Printer::Line => format!("{}\n", event_line(event, full_ids)),
            Printer::Json => format!("{}\n", event_value(event, full_ids, true)),
            Printer::Template(format) => {
                format.render_all(&[event_value(event, full_ids, false)])?
            }
        })
    }
}

/// A `--since` or `--until` time, in nanoseconds since the epoch.
pub fn time_bound(text: &Option<String>) -> Result<Option<i64>, Failure> {
    text.as_deref()
        .map(|t| {
            // Beyond what nanoseconds in an i64 can say (after 2262): the far end.
            parse_time(t)
                .map(|t| {
                    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() > 0 {
                        i64::MAX
                    } else {
                        i64::MIN
                    })
                })
                .map_err(Failure::from)
        })
        .transpose()
}

/// Write `text` and flush; false when the reader has gone away (a closed pipe).
pub fn emit(out: &mut impl Write, text: &str) -> bool {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

pub fn events(engine: &Engine, args: EventsArgs) -> Outcome {
    let filters = parse_filters(&args.filter)?;
    let (since, until) = (time_bound(&args.since)?, time_bound(&args.until)?);
    let printer = Printer::new(args.format.as_deref())?;
    // Past events when asked for, or when not following; otherwise only new ones.
    let mut reader = if since.is_some() || until.is_some() || !args.stream {
        EventReader::from_start(engine.roots())
    } else {
        EventReader::from_end(engine.roots())
    };
    let mut out = std::io::stdout().lock();
    loop {
        let batch = reader
            .read_new()
            .map_err(|e| usage(format!("reading the event log: {e}")))?;
        for event in batch {
            if since.is_some_and(|s| event.time_nanos < s)
                || until.is_some_and(|u| event.time_nanos > u)
                || !events::matches(&event, &filters)
            {
                continue;
            }
            let text = printer.render(&event, args.no_trunc)?;
            if !emit(&mut out, &text) {
                return Ok(0);
            }
        }
        let now = Utc::now().timestamp_nanos_opt().unwrap_or(0);
        if !args.stream || until.is_some_and(|u| now > u) {
            return Ok(0);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        let mut event = Event::new(EventType::Container, "start", &"ab".repeat(32));
        event.time_nanos = 1_700_000_000_123_456_789;
        event.name = "web".into();
        event.image = "localhost/demo:latest".into();
        event
    }

    #[test]
    fn lines_look_like_podmans() {
        assert_eq!(
            event_line(&event(), true),
            format!(
                "2023-11-14 22:13:20.123456789 +0000 UTC container start {} (image=localhost/demo:latest, name=web)",
                "ab".repeat(32)
            )
        );
        assert!(event_line(&event(), false).contains(" abababababab ("));
        let mut image = Event::new(EventType::Image, "tag", "0123456789abcdef");
        image.time_nanos = 0;
        image.name = "localhost/x:1".into();
        assert_eq!(
            event_line(&image, true),
            // Go's time: trailing zeros of the fraction left out.
            "1970-01-01 00:00:00 +0000 UTC image tag 0123456789abcdef localhost/x:1"
        );
    }

    #[test]
    fn filters_are_checked_and_grouped() {
        let filters = parse_filters(&["event=start".into(), "event=stop".into()]).unwrap();
        assert_eq!(filters["event"], ["start", "stop"]);
        assert!(parse_filters(&["colour=red".into()]).is_err());
        assert!(parse_filters(&["event".into()]).is_err());
    }

    #[test]
    fn templates_see_podmans_fields() {
        let printer = Printer::new(Some("{{.Status}} {{.Name}} {{.Type}} {{.Image}}")).unwrap();
        assert_eq!(
            printer.render(&event(), true).unwrap(),
            "start web container localhost/demo:latest\n"
        );
        let json = Printer::new(Some("json")).unwrap();
        let value: Value = serde_json::from_str(&json.render(&event(), true).unwrap()).unwrap();
        assert_eq!(value["Time"], "2023-11-14T22:13:20.123456789Z");
        assert!(value.get("PodID").is_none() && value.get("Network").is_none());
        // A pod's container names its pod; a network event its network.
        let mut in_pod = event();
        in_pod.pod_id = "p0d".into();
        let fields = Printer::new(Some("{{.PodID}}|{{.Network}}")).unwrap();
        assert_eq!(fields.render(&in_pod, true).unwrap(), "p0d|\n");
        assert_eq!(
            serde_json::from_str::<Value>(&json.render(&in_pod, true).unwrap()).unwrap()["PodID"],
            "p0d"
        );
        let mut network = Event::new(EventType::Network, "create", "n1d");
        network.name = "lab".into();
        assert_eq!(fields.render(&network, true).unwrap(), "|lab\n");
    }
}
