//! `ps --filter` and the REST services' container filters: `KEY=VALUE` tests of a
//! container, podman's keys and values, and Docker's `publish`, `expose` and `is-task`.

use crate::container::{ContainerRecord, Status};
use crate::filter_values::name_matches;

/// Whether a container passes every filter (`KEY=VALUE`, checked by `validate`): every key
/// must pass, as `filter_values::key_passes` combines its values.
pub fn matches_all(record: &ContainerRecord, filters: &[String], all: &[ContainerRecord]) -> bool {
    crate::filter_values::group_by_key(filters)
        .into_iter()
        .all(|(key, values)| {
            crate::filter_values::key_passes(
                key,
                values
                    .into_iter()
                    .map(|value| matches(record, &format!("{key}={value}"), all)),
            )
        })
}

/// The filters with each `pod=NAME` made `pod=ID`: the `pod` filter takes an ID prefix, and
/// the command line and the services take a pod's name too.
pub fn with_pod_ids(filters: &[String], pods: &[crate::pods::PodRecord]) -> Vec<String> {
    filters
        .iter()
        .map(|filter| {
            let named = filter
                .strip_prefix("pod=")
                .and_then(|name| pods.iter().find(|p| p.name == name));
            match named {
                Some(pod) => format!("pod={}", pod.id),
                None => filter.clone(),
            }
        })
        .collect()
}

/// Whether a container passes a filter already checked by `validate`.
/// `all` is every container (`before=` and `since=` name one of them).
pub fn matches(record: &ContainerRecord, filter: &str, all: &[ContainerRecord]) -> bool {
    let (key, value) = filter.split_once('=').unwrap_or((filter, ""));
    let created_of = |name: &str| named_in(all, name).map(|r| r.config.created);
    match key {
        "before" => created_of(value).is_some_and(|t| record.config.created < t),
        "since" => created_of(value).is_some_and(|t| record.config.created > t),
        "volume" => record
            .config
            .mounts
            .iter()
            .any(|m| m.volume.as_deref() == Some(value) || m.destination == value),
        "network" => record.config.net.networks.iter().any(|n| n.name == value),
        // The front ends turn a pod's name into its ID first.
        "pod" => record
            .config
            .pod
            .as_deref()
            .is_some_and(|pod| !value.is_empty() && pod.starts_with(value)),
        "health" => match &record.state.health {
            Some(health) => health.status == value,
            None => value == "none",
        },
        "status" => Status::from_filter(value).is_some_and(|s| s.contains(&record.state.status)),
        "name" => name_matches(&record.config.name, value),
        "id" => record.config.id.starts_with(value),
        "label" => crate::labels::matches(&record.config.labels, value),
        "exited" => {
            record.state.exit_code.map(|c| c.to_string()).as_deref() == Some(value)
                && matches!(record.state.status, Status::Exited | Status::Stopped)
        }
        "ancestor" => {
            record.config.image_name.contains(value)
                || record
                    .config
                    .image_id
                    .starts_with(value.trim_start_matches("sha256:"))
        }
        "restart-policy" => {
            let name = record.config.restart.name();
            name == value || (name.is_empty() && value == "no")
        }
        // Made before the time (a date, or a duration ago), as podman's.
        "until" => crate::filter_values::until(value).is_ok_and(|t| record.config.created < t),
        "publish" => ports_of(value).is_some_and(|(ports, protocol)| {
            record
                .config
                .net
                .ports
                .iter()
                .any(|m| m.protocol == protocol && any_of(m.host_port, m.range, &ports))
        }),
        "expose" => ports_of(value).is_some_and(|(ports, protocol)| {
            let net = &record.config.net;
            net.ports
                .iter()
                .any(|m| m.protocol == protocol && any_of(m.container_port, m.range, &ports))
                || net.exposed.iter().any(|key| {
                    ports_of(key).is_some_and(|(exposed, p)| {
                        p == protocol && exposed.into_iter().any(|port| ports.contains(&port))
                    })
                })
        }),
        // Docker's swarm tasks: no container of rpod's is one.
        "is-task" => value == "false",
        _ => false,
    }
}

/// The container `name` names among `all`, as a lookup finds it: by its name before any
/// ID that merely starts with the same letters (`c2` is a container's name and the start
/// of another's ID), and by an ID prefix only when one container has it.
fn named_in<'a>(all: &'a [ContainerRecord], name: &str) -> Option<&'a ContainerRecord> {
    if name.is_empty() {
        return None;
    }
    if let Some(named) = all
        .iter()
        .find(|r| r.config.name == name || r.config.id == name)
    {
        return Some(named);
    }
    let mut prefixed = all.iter().filter(|r| r.config.id.starts_with(name));
    match (prefixed.next(), prefixed.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// Whether the `count` ports from `first` (one at least) include one of `ports`.
fn any_of(first: u16, count: u16, ports: &std::ops::RangeInclusive<u16>) -> bool {
    (0..count.max(1)).any(|i| ports.contains(&first.saturating_add(i)))
}

/// `PORT[/PROTOCOL]` or `START-END[/PROTOCOL]` (TCP by default), as Docker's `publish` and
/// `expose` filters take them: the ports and the protocol.
fn ports_of(value: &str) -> Option<(std::ops::RangeInclusive<u16>, String)> {
    let (ports, protocol) = value.split_once('/').unwrap_or((value, "tcp"));
    let number = |text: &str| text.parse::<u16>().ok().filter(|port| *port > 0);
    let (start, end) = match ports.split_once('-') {
        Some((start, end)) => (number(start)?, number(end)?),
        None => (number(ports)?, number(ports)?),
    };
    let known = matches!(protocol, "tcp" | "udp" | "sctp");
    (start <= end && known).then(|| (start..=end, protocol.to_string()))
}

/// Refuse unknown filter keys and status values before looking at any container.
pub fn validate(filter: &str) -> Result<(), String> {
    let (key, value) = filter
        .split_once('=')
        .ok_or_else(|| format!("invalid filter {filter:?}: use KEY=VALUE"))?;
    match key {
        "status" if Status::from_filter(value).is_none() => Err(format!(
            "invalid status {value:?}: use created, initialized, running, paused, stopping, stopped, exited or removing"
        )),
        "name" => crate::filter_values::check_name_pattern("name", value),
        "status" | "id" | "label" | "exited" | "ancestor" | "restart-policy"
        | "before" | "since" | "volume" | "network" | "pod" => Ok(()),
        "health" if !matches!(value, "healthy" | "unhealthy" | "starting" | "none") => Err(
            format!("invalid health {value:?}: use healthy, unhealthy, starting or none"),
        ),
        "health" => Ok(()),
        "until" => crate::filter_values::until(value)
            .map(drop)
            .map_err(|e| e.to_string()),
        "publish" | "expose" if ports_of(value).is_none() => Err(format!(
            "invalid {key} {value:?}: use PORT[/PROTOCOL] or START-END[/PROTOCOL]"
        )),
        "publish" | "expose" => Ok(()),
        "is-task" if !matches!(value, "true" | "false") => {
            Err(format!("invalid is-task {value:?}: use true or false"))
        }
        "is-task" => Ok(()),
        other => Err(format!(
            "invalid filter {other:?}: use status, name, id, label, exited, ancestor, before, since, until, volume, network, pod, health, restart-policy, publish, expose or is-task"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_values_are_refused() {
        assert!(validate("status=running").is_ok());
        assert!(validate("health=healthy").is_ok());
        assert!(validate("exited=0").is_ok());
        assert!(validate("colour=red").is_err());
        assert!(validate("status=sleeping").is_err());
        assert!(validate("health=fine").is_err());
        assert!(validate("novalue").is_err());
        assert!(validate("name=^web-[0-9]+$").is_ok());
        assert!(validate("name=[").is_err());
        for good in [
            "until=1h",
            "publish=80",
            "expose=8000-8080/udp",
            "is-task=false",
        ] {
            assert!(validate(good).is_ok(), "{good}");
        }
        for bad in [
            "until=soon",
            "publish=http",
            "expose=90-80",
            "expose=80/icmp",
            "is-task=x",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn before_and_since_find_a_container_by_name_before_an_id_prefix() {
        let made = |name: &str, id: &str, hours_ago: i64| {
            let mut record = ContainerRecord {
                config: crate::container::test_config(),
                state: Default::default(),
            };
            record.config.name = name.into();
            record.config.id = id.into();
            record.config.created = chrono::Utc::now() - chrono::Duration::hours(hours_ago);
            record
        };
        // `ex`'s ID starts with `c2`, the name of a later container.
        let all = [
            made("ex", "c20263d5", 3),
            made("c1", "a8d2eb", 2),
            made("c2", "3b1b44", 1),
        ];
        let before = |value: &str| -> Vec<&str> {
            all.iter()
                .filter(|r| matches(r, &format!("before={value}"), &all))
                .map(|r| r.config.name.as_str())
                .collect()
        };
        assert_eq!(before("c2"), ["ex", "c1"]);
        assert_eq!(before("c20263d5"), Vec::<&str>::new());
        assert_eq!(before("3b1"), ["ex", "c1"]);
        // A prefix two IDs share names neither.
        let shared = [made("x", "ab1", 2), made("y", "ab2", 1)];
        assert!(!matches(&shared[0], "since=ab", &shared));
    }

    #[test]
    fn ports_and_times_are_matched_as_docker_and_podman_match_them() {
        use crate::network::ports::PortMapping;
        let mut record = ContainerRecord {
            config: crate::container::test_config(),
            state: Default::default(),
        };
        record.config.created = chrono::Utc::now() - chrono::Duration::hours(2);
        record.config.net.ports = vec![PortMapping {
            host_ip: String::new(),
            container_port: 80,
            host_port: 8080,
            protocol: "tcp".into(),
            range: 2,
        }];
        record.config.net.exposed = vec!["53/udp".into()];
        let passes = |filter: &str| matches(&record, filter, &[]);
        for yes in [
            "publish=8081",
            "publish=8000-8080/tcp",
            "expose=81",
            "expose=53/udp",
            "until=1h",
            "is-task=false",
        ] {
            assert!(passes(yes), "{yes}");
        }
        for no in [
            "publish=80",
            "publish=8080/udp",
            "expose=8080",
            "expose=53",
            "until=3h",
            "is-task=true",
        ] {
            assert!(!passes(no), "{no}");
        }
    }
}
