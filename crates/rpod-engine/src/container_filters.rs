//! `ps --filter` and the REST services' container filters: `KEY=VALUE` tests of a
//! container, podman's keys and values.

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

/// Whether a container passes a filter already checked by `validate`.
/// `all` is every container (`before=` and `since=` name one of them).
pub fn matches(record: &ContainerRecord, filter: &str, all: &[ContainerRecord]) -> bool {
    let (key, value) = filter.split_once('=').unwrap_or((filter, ""));
    let created_of = |name: &str| {
        all.iter()
            .find(|r| r.config.name == name || r.config.id.starts_with(name))
            .map(|r| r.config.created)
    };
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
        _ => false,
    }
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
        "name" => crate::filter_values::check_name_pattern(value),
        "status" | "id" | "label" | "exited" | "ancestor" | "restart-policy"
        | "before" | "since" | "volume" | "network" | "pod" => Ok(()),
        "health" if !matches!(value, "healthy" | "unhealthy" | "starting" | "none") => Err(
            format!("invalid health {value:?}: use healthy, unhealthy, starting or none"),
        ),
        "health" => Ok(()),
        other => Err(format!(
            "invalid filter {other:?}: use status, name, id, label, exited, ancestor, before, since, volume, network, pod, health or restart-policy"
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
    }
}
