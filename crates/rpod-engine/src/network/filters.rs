//! `network ls --filter` and the REST services' network filters: podman's keys (`name`,
//! `id`, `driver`, `label`, `label!`, `until`, `dangling`).

use super::Network;
use crate::filter_values::key_passes;

/// Whether `network` passes the filter `key` with its `values` (one of them, or every one
/// for `label` and `label!`); an unknown key or a bad value is an error saying so. `in_use`
/// says whether containers are configured to join the network (asked for `dangling` only).
pub fn passes(
    network: &Network,
    key: &str,
    values: &[&str],
    in_use: &dyn Fn() -> bool,
) -> Result<bool, String> {
    let mut results = Vec::new();
    for value in values {
        let passed = match key {
            "name" => {
                crate::filter_values::check_name_pattern("name", value)?;
                crate::filter_values::name_matches(&network.name, value)
            }
            "id" => network.id.starts_with(value),
            "driver" => network.driver == *value,
            "label" => crate::labels::matches(&network.labels, value),
            "label!" => !crate::labels::matches(&network.labels, value),
            "until" => {
                network.created < crate::filter_values::until(value).map_err(|e| e.to_string())?
            }
            "dangling" => {
                crate::filter_values::check_dangling(value).map_err(|e| e.to_string())?;
                matches!(*value, "true" | "1") != in_use()
            }
            other => {
                return Err(format!(
                    "invalid network filter {other:?}: use name, id, driver, label, label!, until or dangling"
                ))
            }
        };
        results.push(passed);
    }
    Ok(key_passes(key, results.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(name: &str, labels: &[(&str, &str)]) -> Network {
        let mut value = serde_json::json!({
            "name": name, "id": format!("{name}0000"), "driver": "bridge",
            "network_interface": "rpodt0", "subnets": [], "ipv6_enabled": false,
            "internal": false, "dns_enabled": false, "ipam_options": {"driver": "host-local"},
        });
        value["labels"] = labels
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        serde_json::from_value(value).expect("a network")
    }

    #[test]
    fn names_pass_on_any_value_labels_on_all() {
        let n1 = network("n1", &[("x", "1"), ("y", "2")]);
        let n2 = network("n2", &[("x", "1")]);
        let unused = || false;
        assert_eq!(passes(&n1, "name", &["n1", "n2"], &unused), Ok(true));
        assert_eq!(passes(&n2, "name", &["n1", "n2"], &unused), Ok(true));
        assert_eq!(passes(&n1, "label", &["x=1", "y=2"], &unused), Ok(true));
        assert_eq!(passes(&n2, "label", &["x=1", "y=2"], &unused), Ok(false));
        assert!(passes(&n1, "colour", &["red"], &unused)
            .unwrap_err()
            .contains("invalid network filter \"colour\""));
        // name= is a regular expression, as podman's; one that is not is refused.
        assert_eq!(passes(&n1, "name", &["^n[0-9]$"], &unused), Ok(true));
        assert_eq!(passes(&n1, "name", &["^1"], &unused), Ok(false));
        assert!(passes(&n1, "name", &["("], &unused)
            .unwrap_err()
            .contains("not a regular expression"));
    }

    #[test]
    fn label_not_until_and_dangling() {
        let n1 = network("n1", &[("x", "1"), ("y", "2")]);
        let n2 = network("n2", &[("x", "1")]);
        let unused = || false;
        let used = || true;
        // label!: none of the values may match.
        assert_eq!(passes(&n1, "label!", &["y"], &unused), Ok(false));
        assert_eq!(passes(&n2, "label!", &["y"], &unused), Ok(true));
        assert_eq!(passes(&n2, "label!", &["y", "x=1"], &unused), Ok(false));
        // until: made before the time (the test's networks were made just now).
        assert_eq!(passes(&n1, "until", &["2000-01-01"], &unused), Ok(false));
        assert_eq!(passes(&n1, "until", &["2999-01-01"], &unused), Ok(true));
        assert!(passes(&n1, "until", &["soon"], &unused).is_err());
        // dangling: no container joins it.
        assert_eq!(passes(&n1, "dangling", &["true"], &unused), Ok(true));
        assert_eq!(passes(&n1, "dangling", &["true"], &used), Ok(false));
        assert_eq!(passes(&n1, "dangling", &["false"], &used), Ok(true));
        assert!(passes(&n1, "dangling", &["maybe"], &used).is_err());
    }
}
