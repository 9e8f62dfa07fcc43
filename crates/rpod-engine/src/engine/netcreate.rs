//! A new container's networking, settled at create: the mode (other containers by ID), the
//! networks it joins (checked to exist, the default one when none), addresses and MACs
//! asked for, `-P` expanded and free host ports chosen.

use std::net::IpAddr;

use super::{CreateOptions, Engine};
use crate::container::{NetworkConfig, NetworkJoin, NetworkMode};
use crate::network::{ipam, ports};
use crate::{EngineError, Result};

impl CreateOptions {
    /// `--ip`, `--ip6`, `--mac-address` and `--network-alias`, which are settings of the
    /// first network a container joins, given to `first` (checked as far as no network's
    /// definition is needed: the addresses are the caller's to check against it). A
    /// SpecGenerator says them only in a network's entry, so a remote client moves them
    /// there too.
    pub fn move_per_network_flags(&self, first: &mut NetworkJoin) -> Result<()> {
        let given_twice = |what: &str, flag: &str| {
            EngineError::InvalidArg(format!(
                "{flag} and --network {}:{what}= both give the network's {what}",
                first.name
            ))
        };
        if self.ip.is_some() && first.ip.is_some() {
            return Err(given_twice("ip", "--ip"));
        }
        if self.ip6.is_some() && first.ip6.is_some() {
            return Err(given_twice("ip6", "--ip6"));
        }
        if let Some(mac) = &self.mac_address {
            if first.mac.is_some() {
                return Err(given_twice("mac", "--mac-address"));
            }
            if !valid_mac(mac) {
                return Err(EngineError::InvalidArg(format!(
                    "invalid --mac-address {mac:?}: expected six hex bytes like 92:d0:c6:0a:29:33"
                )));
            }
        }
        if let Some(alias) = self
            .network_aliases
            .iter()
            .find(|alias| !crate::names::valid_name(alias))
        {
            return Err(EngineError::InvalidArg(format!(
                "invalid --network-alias {alias:?}"
            )));
        }
        first.ip = first.ip.or(self.ip);
        first.ip6 = first.ip6.or(self.ip6);
        if self.mac_address.is_some() {
            first.mac = self.mac_address.clone();
        }
        first.aliases.extend(self.network_aliases.iter().cloned());
        Ok(())
    }
}

impl Engine {
    /// The network mode of a container that names none: rpod.conf's `netns`.
    pub(super) fn configured_network_mode(&self) -> NetworkMode {
        match self.options.config.default_network_mode() {
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => NetworkMode::Bridge,
        }
    }

    /// Settle a new container's network mode and settings: names resolved, networks
    /// checked, `-P` expanded, free host ports chosen.
    pub(super) fn network_for_create(
        &self,
        options: &CreateOptions,
        exposed: &[String],
    ) -> Result<(NetworkMode, NetworkConfig)> {
        let mode = match &options.network {
            Some(NetworkMode::Container(name)) => {
                NetworkMode::Container(self.lookup(name)?.id().to_string())
            }
            Some(NetworkMode::Path(path)) => {
                if !path.exists() {
                    return Err(EngineError::InvalidArg(format!(
                        "network namespace {} does not exist",
                        path.display()
                    )));
                }
                NetworkMode::Path(path.clone())
            }
            Some(mode) => mode.clone(),
            None => self.configured_network_mode(),
        };
        let mut net = options.net.clone();
        // The image's exposed ports are the container's too (as Docker and podman show
        // them); a key the image spells wrongly is not one. Sorted, each once, bounded
        // (`exposed_keys`): one order for every way in, which `generate spec` compares.
        let image_keys = exposed
            .iter()
            .filter(|key| crate::network::ports::parse_exposed(key).is_ok());
        let all: Vec<&String> = net.exposed.iter().chain(image_keys).collect();
        net.exposed = crate::network::ports::exposed_keys(&all)?;
        if !net.links.is_empty() && mode != NetworkMode::Bridge {
            return Err(EngineError::InvalidArg(format!(
                "links need a bridged network, not --network {}: the linked names are written into the container's own /etc/hosts",
                mode.as_string()
            )));
        }
        for link in &mut net.links {
            link.container = self.lookup(&link.container)?.id().to_string();
        }
        let per_network = options.ip.is_some()
            || options.ip6.is_some()
            || options.mac_address.is_some()
            || !options.network_aliases.is_empty();
        if mode != NetworkMode::Bridge {
            if !net.networks.is_empty() || per_network {
                return Err(EngineError::InvalidArg(format!(
                    "networks, --ip, --ip6, --mac-address and --network-alias need a bridged network, not --network {}",
                    mode.as_string()
                )));
            }
            if !net.ports.is_empty() || net.publish_all {
                // podman drops them too, with the same warning.
                tracing::warn!(
                    "Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use"
                );
                net.ports.clear();
                net.publish_all = false;
            }
            if matches!(mode, NetworkMode::Container(_))
                && (!net.dns_servers.is_empty()
                    || !net.dns_search.is_empty()
                    || !net.dns_options.is_empty()
                    || !net.add_hosts.is_empty())
            {
                return Err(EngineError::InvalidArg(
                    "--dns, --dns-search, --dns-option and --add-host cannot be used with --network container: the other container's files are shared".into(),
                ));
            }
            return Ok((mode, net));
        }
        if net.networks.is_empty() {
            net.networks.push(NetworkJoin {
                name: self.default_network_name().to_string(),
                ..Default::default()
            });
        }
        let mut seen = Vec::new();
        let mut any_bridge = false;
        // The address families the container's bridge networks give it: a port published
        // on a host address of another family reaches nothing (netavark forwards within a
        // family).
        let mut families = (false, false);
        let mut interfaces: Vec<&str> = Vec::new();
        for join in &net.networks {
            if let Some(name) = join.interface_name.as_deref() {
                if interfaces.contains(&name) {
                    return Err(EngineError::InvalidArg(format!(
                        "interface_name={name} is given to two networks"
                    )));
                }
                // The interface must be valid whichever way it came (the API's too).
                if !crate::network::valid_interface_name(name) {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid interface_name={name:?} for network {}",
                        join.name
                    )));
                }
                interfaces.push(name);
            }
        }
        // The first network's definition, for `--ip` and `--ip6` (read once).
        let mut first_network = None;
        for join in &mut net.networks {
            let network = self.network(&join.name)?;
            join.name = network.name.clone();
            if network.is_bridge() && network.gives_addresses() {
                any_bridge = true;
                families.0 |= network.has_ipv4();
                families.1 |= network.has_ipv6();
            }
            if seen.contains(&join.name) {
                return Err(EngineError::InvalidArg(format!(
                    "network {} is given twice",
                    join.name
                )));
            }
            seen.push(join.name.clone());
            for ip in join.static_ips() {
                ipam::check_static(&network, ip)?;
            }
            // From `--network NAME:mac=...,alias=...`.
            if let Some(mac) = join.mac.as_deref().filter(|m| !valid_mac(m)) {
                return Err(EngineError::InvalidArg(format!(
                    "invalid mac={mac:?} for network {}: expected six hex bytes like 92:d0:c6:0a:29:33",
                    join.name
                )));
            }
            if let Some(alias) = join.aliases.iter().find(|a| !crate::names::valid_name(a)) {
                return Err(EngineError::InvalidArg(format!(
                    "invalid alias={alias:?} for network {}",
                    join.name
                )));
            }
            first_network.get_or_insert(network);
        }
        let first_network = first_network.ok_or_else(|| {
            EngineError::InvalidArg("a bridged container joins at least one network".into())
        })?;
        options.move_per_network_flags(&mut net.networks[0])?;
        if let Some(ip) = options.ip {
            ipam::check_static(&first_network, IpAddr::V4(ip))?;
        }
        if let Some(ip6) = options.ip6 {
            ipam::check_static(&first_network, IpAddr::V6(ip6))?;
        }
        for server in &net.dns_servers {
            if server.parse::<IpAddr>().is_err() {
                return Err(EngineError::InvalidArg(format!(
                    "invalid --dns {server:?}: not an IP address"
                )));
            }
        }
        if net.publish_all {
            // The image's exposed ports that are not published already.
            for key in exposed {
                for mapping in ports::parse_exposed(key)? {
                    let published = net.ports.iter().any(|p| {
                        p.protocol == mapping.protocol
                            && (p.container_port..p.container_port + p.range)
                                .contains(&mapping.container_port)
                    });
                    if !published {
                        net.ports.push(mapping);
                    }
                }
            }
        }
        if !any_bridge && !net.ports.is_empty() {
            // netavark forwards ports to the addresses of bridge networks only: they would
            // not be published.
            return Err(EngineError::InvalidArg(format!(
                "published ports need a bridge network with addresses: {} has none",
                seen.join(", ")
            )));
        }
        for port in &net.ports {
            let Ok(host_ip) = port.host_ip.parse::<IpAddr>() else {
                continue;
            };
            let (family, served) = match host_ip {
                IpAddr::V4(_) => ("IPv4", families.0),
                IpAddr::V6(_) => ("IPv6", families.1),
            };
            if !served {
                return Err(EngineError::InvalidArg(format!(
                    "port {} is published on {host_ip}, an {family} address, but no network of the container has an {family} subnet",
                    port.container_port
                )));
            }
        }
        let others: Vec<ports::PortMapping> = self
            .store
            .containers()?
            .into_iter()
            .flat_map(|c| c.config.net.ports)
            .collect();
        ports::assign_host_ports(&mut net.ports, &others)?;
        Ok((mode, net))
    }
}

fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mac_addresses() {
        assert!(super::valid_mac("92:d0:c6:0a:29:33"));
        assert!(!super::valid_mac("92:d0:c6:0a:29"));
        assert!(!super::valid_mac("92:d0:c6:0a:29:zz"));
    }
}
