//! `network ls --filter` and the REST services' network filters: podman's keys (`name`,
//! `id`, `driver`, `label`).

use super::Network;
use crate::filter_values::key_passes;

/// Whether `network` passes the filter `key` with its `values` (one of them, or every one
/// for `label`); an unknown key is an error naming the known ones.
pub fn passes(network: &Network, key: &str, values: &[&str]) -> Result<bool, String> {
    let test: &dyn Fn(&str) -> bool = match key {
        "name" => &|v| network.name.contains(v),
        "id" => &|v| network.id.starts_with(v),
        "driver" => &|v| network.driver == v,
        "label" => &|v| crate::labels::matches(&network.labels, v),
        other => {
            return Err(format!(
                "invalid network filter {other:?}: use name, id, driver or label"
            ))
        }
    };
    Ok(key_passes(key, values.iter().map(|v| test(v))))
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
        assert_eq!(passes(&n1, "name", &["n1", "n2"]), Ok(true));
        assert_eq!(passes(&n2, "name", &["n1", "n2"]), Ok(true));
        assert_eq!(passes(&n1, "label", &["x=1", "y=2"]), Ok(true));
        assert_eq!(passes(&n2, "label", &["x=1", "y=2"]), Ok(false));
        assert!(passes(&n1, "colour", &["red"])
            .unwrap_err()
            .contains("invalid network filter \"colour\""));
    }
}
