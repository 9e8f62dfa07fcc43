//! Docker's link variables: a container linked to another on Docker's default bridge gets
//! its address, ports and environment as variables (`DB_PORT_5432_TCP_ADDR=10.88.0.5`,
//! `DB_NAME=/web/db`, `DB_ENV_POSTGRES_DB=app`), which older images' entry points read.
//! Docker sets them only on its default bridge, so rpod sets them only when both
//! containers are on its default network (the one Docker's `bridge` names).

use super::Engine;
use crate::container::{ContainerConfig, ContainerRecord};

impl Engine {
    /// The container's configuration with its links' variables added before its own
    /// environment (a variable it sets itself wins, as in Docker).
    pub(super) fn with_link_env<'a>(
        &self,
        config: std::borrow::Cow<'a, ContainerConfig>,
        record: &ContainerRecord,
    ) -> std::borrow::Cow<'a, ContainerConfig> {
        let default = self.default_network_name();
        if record.config.net.links.is_empty()
            || !record.config.net.networks.iter().any(|n| n.name == default)
        {
            return config;
        }
        let mut variables = Vec::new();
        for link in &record.config.net.links {
            let Ok(target) = self.lookup(&link.container) else {
                continue;
            };
            let Some(address) = target
                .state
                .networks
                .get(default)
                .and_then(|attachment| attachment.ipv4())
            else {
                continue;
            };
            variables.extend(link_variables(
                &link.alias,
                &record.config.name,
                &address.addr().to_string(),
                &target_ports(&target),
                &target.config.env,
            ));
        }
        let own: std::collections::HashSet<&str> = config
            .env
            .iter()
            .map(|e| crate::environment::name_of(e))
            .collect();
        variables.retain(|v| !own.contains(crate::environment::name_of(v)));
        if variables.is_empty() {
            return config;
        }
        let mut config = config.into_owned();
        variables.append(&mut config.env);
        config.env = variables;
        std::borrow::Cow::Owned(config)
    }
}

/// The ports a linked container offers: those it exposes and those it publishes, each
/// once, by number (tcp first of one number, as Docker sorts them).
fn target_ports(target: &ContainerRecord) -> Vec<(u16, String)> {
    let mut ports = std::collections::BTreeSet::new();
    for key in &target.config.net.exposed {
        if let Some((port, protocol)) = key.split_once('/') {
            if let Ok(port) = port.parse::<u16>() {
                ports.insert((port, protocol != "tcp", protocol.to_string()));
            }
        }
    }
    for mapping in &target.config.net.ports {
        let last = mapping
            .container_port
            .saturating_add(mapping.range.max(1) - 1);
        for port in mapping.container_port..=last {
            let protocol = mapping.protocol.clone();
            ports.insert((port, protocol != "tcp", protocol));
        }
    }
    ports
        .into_iter()
        .map(|(port, _, protocol)| (port, protocol))
        .collect()
}

/// One link's variables, Docker's names: `ALIAS_NAME`, for each port
/// `ALIAS_PORT_<PORT>_<PROTO>` (a URL) with its `_ADDR`, `_PORT` and `_PROTO`, the lowest
/// port's URL as `ALIAS_PORT`, and `ALIAS_ENV_<NAME>` for each of the linked container's
/// variables but `HOME` and `PATH`. The alias is upper-cased, its `-` made `_`.
fn link_variables(
    alias: &str,
    parent: &str,
    address: &str,
    ports: &[(u16, String)],
    env: &[String],
) -> Vec<String> {
    let prefix = alias.to_uppercase().replace('-', "_");
    let mut variables = vec![format!("{prefix}_NAME=/{parent}/{alias}")];
    if let Some((port, protocol)) = ports.first() {
        variables.push(format!("{prefix}_PORT={protocol}://{address}:{port}"));
    }
    for (port, protocol) in ports {
        let key = format!("{prefix}_PORT_{port}_{}", protocol.to_uppercase());
        variables.push(format!("{key}={protocol}://{address}:{port}"));
        variables.push(format!("{key}_ADDR={address}"));
        variables.push(format!("{key}_PORT={port}"));
        variables.push(format!("{key}_PROTO={protocol}"));
    }
    for variable in env {
        let Some((name, value)) = variable.split_once('=') else {
            continue;
        };
        if name != "HOME" && name != "PATH" {
            variables.push(format!("{prefix}_ENV_{name}={value}"));
        }
    }
    variables
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_names_for_a_links_variables() {
        let ports = [(5432, "tcp".to_string()), (5432, "udp".to_string())];
        let env = [
            "PATH=/usr/bin".to_string(),
            "POSTGRES_DB=app".to_string(),
            "HOME=/root".to_string(),
            "EMPTY=".to_string(),
        ];
        assert_eq!(
            link_variables("main-db", "web", "10.88.0.5", &ports, &env),
            [
                "MAIN_DB_NAME=/web/main-db",
                "MAIN_DB_PORT=tcp://10.88.0.5:5432",
                "MAIN_DB_PORT_5432_TCP=tcp://10.88.0.5:5432",
                "MAIN_DB_PORT_5432_TCP_ADDR=10.88.0.5",
                "MAIN_DB_PORT_5432_TCP_PORT=5432",
                "MAIN_DB_PORT_5432_TCP_PROTO=tcp",
                "MAIN_DB_PORT_5432_UDP=udp://10.88.0.5:5432",
                "MAIN_DB_PORT_5432_UDP_ADDR=10.88.0.5",
                "MAIN_DB_PORT_5432_UDP_PORT=5432",
                "MAIN_DB_PORT_5432_UDP_PROTO=udp",
                "MAIN_DB_ENV_POSTGRES_DB=app",
                "MAIN_DB_ENV_EMPTY=",
            ]
        );
        // No ports: the name and environment only.
        assert_eq!(
            link_variables("db", "web", "10.88.0.5", &[], &[]),
            ["DB_NAME=/web/db"]
        );
    }
}
