//! `rpod --url events`: the service's events, printed as the local command prints them.

use std::collections::BTreeMap;

use serde_json::Value;

use rpod_engine::events::{Event, EventType};

use crate::cli::EventsArgs;
use crate::commands::events::{emit, parse_filters, time_bound, Printer};
use crate::exit::{usage, Failure, Outcome};

use super::{encode, filters_map, Client};

/// The longest event line read (a longer one is read as two, neither JSON).
const MAX_EVENT_LINE: u64 = 1024 * 1024;

/// A time bound as the API takes it: Unix seconds with nine decimals (none before 1970).
fn api_time(nanos: i64) -> String {
    if nanos <= 0 {
        return "0".into();
    }
    format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
}

/// An event as libpod's API sends it (Docker's shape: `Type`, `status`, `id`, `from`,
/// `Actor.Attributes` with `name` and `image` among them, `timeNano`), as the event log
/// holds it.
fn event_of(value: &Value) -> Result<Event, Failure> {
    let kind = match value["Type"].as_str() {
        Some("container") => EventType::Container,
        Some("image") => EventType::Image,
        Some("volume") => EventType::Volume,
        Some("network") => EventType::Network,
        Some("pod") => EventType::Pod,
        other => {
            return Err(usage(format!(
                "the service sent an event of a type rpod does not know: {other:?}"
            )))
        }
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut attributes: BTreeMap<String, String> = value["Actor"]["Attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(key, v)| v.as_str().map(|v| (key.clone(), v.to_string())))
        .collect();
    let mut event = Event::new(kind, &text(&value["status"]), &text(&value["id"]));
    event.time_nanos = value["timeNano"].as_i64().unwrap_or(0);
    event.name = attributes.remove("name").unwrap_or_default();
    attributes.remove("image");
    event.image = text(&value["from"]);
    // What libpod's API adds to every event for podman-remote's sake: the pod's ID, and an
    // exit code that only a death's event has in the log.
    event.pod_id = attributes.remove("podId").unwrap_or_default();
    if !matches!(event.status.as_str(), "died" | "exec_died") {
        attributes.remove("containerExitCode");
    }
    event.attributes = attributes;
    Ok(event)
}

/// `events`: the flags checked as the local command checks them; past events when a bound
/// is given or `--stream=false`, then new ones until `--until` or until stdout closes.
pub fn events(client: &mut Client, args: EventsArgs) -> Outcome {
    parse_filters(&args.filter)?;
    let printer = Printer::new(args.format.as_deref())?;
    let (since, until) = (time_bound(&args.since)?, time_bound(&args.until)?);
    let mut path = format!("/events?stream={}", args.stream);
    // The local command reads past events when given either bound; the service reads them
    // when given `since`.
    if since.is_some() || until.is_some() {
        path.push_str(&format!("&since={}", api_time(since.unwrap_or(0))));
    }
    if let Some(until) = until {
        path.push_str(&format!("&until={}", api_time(until)));
    }
    if !args.filter.is_empty() {
        let filters = Value::Object(filters_map(&args.filter)?).to_string();
        path.push_str(&format!("&filters={}", encode(&filters)));
    }
    let mut events = super::StreamLines::open(client, "GET", &path, MAX_EVENT_LINE)?;
    let mut out = std::io::stdout().lock();
    while let Some(line) = events.next_line()? {
        let value: Value = serde_json::from_slice(line)
            .map_err(|e| usage(format!("the service sent an event that is not JSON: {e}")))?;
        if !emit(
            &mut out,
            &printer.render(&event_of(&value)?, args.no_trunc)?,
        ) {
            return Ok(0);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpod_api::exchange::Flavour;

    #[test]
    fn events_come_back_as_the_service_sent_them() {
        let mut died = Event::new(EventType::Container, "died", &"ab".repeat(32));
        died.time_nanos = 1_700_000_000_123_456_789;
        died.name = "web".into();
        died.image = "localhost/demo:latest".into();
        died.attributes
            .insert("containerExitCode".into(), "3".into());
        died.attributes.insert("team".into(), "blue".into());
        let mut tagged = Event::new(EventType::Image, "tag", &"cd".repeat(32));
        tagged.name = "localhost/x:1".into();
        let volume = Event::new(EventType::Volume, "create", "data");
        // In a pod: its ID comes back as the event's, not as an attribute, and the API's
        // exit code for podman-remote (a start has none) is left behind.
        let mut started = Event::new(EventType::Container, "start", &"ef".repeat(32));
        started.pod_id = "12".repeat(32);
        for event in [died, tagged, volume, started] {
            let sent = rpod_api::compat::system::event_json(&event, Flavour::Libpod);
            assert_eq!(event_of(&sent).unwrap(), event);
        }
        let odd = serde_json::json!({"Type": "plugin", "status": "x", "id": "y"});
        assert!(event_of(&odd).unwrap_err().message().contains("plugin"));
    }

    #[test]
    fn a_line_that_is_not_json_is_an_error() {
        use clap::Parser;
        let (socket, _server, _dir) = crate::remote::client::tests::serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nnot json\n\r\n0\r\n\r\n",
        );
        let args = match crate::cli::Cli::try_parse_from(["rpod", "events", "--stream=false"])
            .unwrap()
            .command
        {
            crate::cli::Command::Events(args) => args,
            _ => unreachable!(),
        };
        let mut client = Client::new(crate::remote::client::Endpoint::Unix(socket));
        let err = events(&mut client, args).unwrap_err();
        assert!(err.message().contains("not JSON"), "{}", err.message());
    }

    #[test]
    fn bounds_are_unix_seconds_with_nanoseconds() {
        assert_eq!(api_time(1_700_000_000_000_000_042), "1700000000.000000042");
        assert_eq!(api_time(-5), "0");
        assert_eq!(api_time(i64::MAX), "9223372036.854775807");
    }
}
