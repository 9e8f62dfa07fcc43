//! Docker's link variables: a container linked to another on Docker's default bridge gets
//! its address, ports and environment as variables (`DB_PORT_5432_TCP_ADDR=10.88.0.5`,
//! `DB_NAME=/web/db`, `DB_ENV_POSTGRES_DB=app`), which older images' entry points read.
//! Docker sets them only on its default bridge, so rpod sets them only when both
//! containers are on its default network (the one Docker's `bridge` names).

use super::Engine;
use crate::container::{ContainerConfig, ContainerRecord};

/// The most ports of a linked container that get variables (in Docker's order).
const MAX_LINK_PORTS: usize = 1024;

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
            let mut ports = target_ports(&target);
            if ports.len() > MAX_LINK_PORTS {
                // Four variables a port: a container exposing every port would make an
                // environment too large for the kernel to start the process with.
                tracing::warn!(
                    link = %link.alias,
                    ports = ports.len(),
                    "link variables for the first {MAX_LINK_PORTS} ports only"
                );
                ports.truncate(MAX_LINK_PORTS);
            }
            variables.extend(link_variables(
                &link.alias,
                &record.config.name,
                &address.addr().to_string(),
                &ports,
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
/// once, in Docker's order: tcp ones first, then by protocol, each protocol's by number.
fn target_ports(target: &ContainerRecord) -> Vec<(u16, String)> {
    // The exposed keys are `exposed_keys`' own (`PORT/PROTO`), so their parse holds.
    let exposed = target
        .config
        .net
        .exposed
        .iter()
        .filter_map(|key| crate::network::ports::parse_exposed(key).ok())
        .flatten();
    let mut ports = std::collections::BTreeSet::new();
    for mapping in exposed.chain(target.config.net.ports.iter().cloned()) {
        let last = mapping
            .container_port
            .saturating_add(mapping.range.max(1) - 1);
        for port in mapping.container_port..=last {
            ports.insert((mapping.protocol != "tcp", mapping.protocol.clone(), port));
        }
    }
    ports
        .into_iter()
        .map(|(_, protocol, port)| (port, protocol))
        .collect()
}

/// One link's variables, Docker's names: the first port's URL as `ALIAS_PORT`; for each
/// port `ALIAS_PORT_<PORT>_<PROTO>` (a URL) with its `_ADDR`, `_PORT` and `_PROTO`; for
/// each run of consecutive ports of one protocol, its first one's `_START`, `_PORT_START`,
/// `_END` and `_PORT_END`; `ALIAS_NAME`; and `ALIAS_ENV_<NAME>` for each of the linked
/// container's variables but `HOME` and `PATH`. The alias is upper-cased, its `-` made
/// `_`. `ports` are in `target_ports`' order.
fn link_variables(
    alias: &str,
    parent: &str,
    address: &str,
    ports: &[(u16, String)],
    env: &[String],
) -> Vec<String> {
    let prefix = alias.to_uppercase().replace('-', "_");
    let key =
        |port: u16, protocol: &str| format!("{prefix}_PORT_{port}_{}", protocol.to_uppercase());
    let mut variables = Vec::new();
    if let Some((port, protocol)) = ports.first() {
        variables.push(format!("{prefix}_PORT={protocol}://{address}:{port}"));
    }
    let mut index = 0;
    while index < ports.len() {
        // The run of consecutive ports of one protocol that starts here.
        let (first, protocol) = &ports[index];
        let mut last = index;
        while ports.get(last + 1).is_some_and(|(port, proto)| {
            proto == protocol && u32::from(*port) == u32::from(ports[last].0) + 1
        }) {
            last += 1;
        }
        for (port, protocol) in &ports[index..=last] {
            let key = key(*port, protocol);
            variables.push(format!("{key}={protocol}://{address}:{port}"));
            variables.push(format!("{key}_ADDR={address}"));
            variables.push(format!("{key}_PORT={port}"));
            variables.push(format!("{key}_PROTO={protocol}"));
        }
        if last > index {
            let end = ports[last].0;
            let key = key(*first, protocol);
            variables.push(format!("{key}_START={protocol}://{address}:{first}"));
            variables.push(format!("{key}_PORT_START={first}"));
            variables.push(format!("{key}_END={protocol}://{address}:{end}"));
            variables.push(format!("{key}_PORT_END={end}"));
        }
        index = last + 1;
    }
    variables.push(format!("{prefix}_NAME=/{parent}/{alias}"));
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
        // tcp first whatever the numbers; then by protocol, by number.
        let ports = [
            (5432, "tcp".to_string()),
            (53, "udp".to_string()),
            (5432, "udp".to_string()),
        ];
        let env = [
            "PATH=/usr/bin".to_string(),
            "POSTGRES_DB=app".to_string(),
            "HOME=/root".to_string(),
            "EMPTY=".to_string(),
        ];
        assert_eq!(
            link_variables("main-db", "web", "10.88.0.5", &ports, &env),
            [
                "MAIN_DB_PORT=tcp://10.88.0.5:5432",
                "MAIN_DB_PORT_5432_TCP=tcp://10.88.0.5:5432",
                "MAIN_DB_PORT_5432_TCP_ADDR=10.88.0.5",
                "MAIN_DB_PORT_5432_TCP_PORT=5432",
                "MAIN_DB_PORT_5432_TCP_PROTO=tcp",
                "MAIN_DB_PORT_53_UDP=udp://10.88.0.5:53",
                "MAIN_DB_PORT_53_UDP_ADDR=10.88.0.5",
                "MAIN_DB_PORT_53_UDP_PORT=53",
                "MAIN_DB_PORT_53_UDP_PROTO=udp",
                "MAIN_DB_PORT_5432_UDP=udp://10.88.0.5:5432",
                "MAIN_DB_PORT_5432_UDP_ADDR=10.88.0.5",
                "MAIN_DB_PORT_5432_UDP_PORT=5432",
                "MAIN_DB_PORT_5432_UDP_PROTO=udp",
                "MAIN_DB_NAME=/web/main-db",
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

    #[test]
    fn a_run_of_consecutive_ports_gets_its_start_and_end() {
        let ports: Vec<(u16, String)> = [8000, 8001, 8002, 9000]
            .into_iter()
            .map(|p| (p, "tcp".to_string()))
            .collect();
        let variables = link_variables("web", "app", "10.0.0.2", &ports, &[]);
        let ranges: Vec<&str> = variables
            .iter()
            .map(String::as_str)
            .filter(|v| v.contains("_START") || v.contains("_END"))
            .collect();
        assert_eq!(
            ranges,
            [
                "WEB_PORT_8000_TCP_START=tcp://10.0.0.2:8000",
                "WEB_PORT_8000_TCP_PORT_START=8000",
                "WEB_PORT_8000_TCP_END=tcp://10.0.0.2:8002",
                "WEB_PORT_8000_TCP_PORT_END=8002",
            ]
        );
        assert!(variables.contains(&"WEB_PORT_8001_TCP_PORT=8001".to_string()));
        assert!(variables.contains(&"WEB_PORT_9000_TCP_ADDR=10.0.0.2".to_string()));
        assert_eq!(variables[0], "WEB_PORT=tcp://10.0.0.2:8000");
    }
}
