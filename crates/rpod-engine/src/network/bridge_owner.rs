//! Whose is a bridge? A network's bridge name is unique within one store, but two stores
//! (two `--root`s, a test suite beside the host's store) or another tool can pick the same
//! name before either has made the bridge: both then take the first free `rpodN`. netavark
//! would silently join the second network to the first one's bridge (two subnets on one
//! bridge), and when the second goes its firewall rules stay, because the bridge still has
//! the first one's ports; removing the second network would take the first one's anchor
//! away. So a bridge that carries an address outside a network's subnets is another
//! network's: rpod refuses to set up on it and leaves it alone when its network goes.

use std::net::Ipv4Addr;

use super::Network;
use crate::{EngineError, Result};

/// The IPv4 addresses on a host interface; none when it does not exist.
fn ipv4_addresses(interface: &str) -> Vec<Ipv4Addr> {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addresses
        .filter(|a| a.interface_name == interface)
        .filter_map(|a| a.address?.as_sockaddr_in().map(|s| s.ip()))
        .collect()
}

/// The first of `addresses` that lies in none of the network's subnets.
fn foreign_address(addresses: &[Ipv4Addr], network: &Network) -> Option<Ipv4Addr> {
    addresses.iter().copied().find(|address| {
        let address = std::net::IpAddr::V4(*address);
        !network.subnets.iter().any(|s| s.subnet.contains(&address))
    })
}

/// Another network's address on the network's bridge, if the bridge exists and has one.
pub fn foreign_address_on_bridge(network: &Network) -> Option<(String, Ipv4Addr)> {
    let bridge = network.network_interface.as_deref()?;
    foreign_address(&ipv4_addresses(bridge), network).map(|a| (bridge.to_string(), a))
}

/// Refuse to connect anything to the network while its bridge is another network's.
pub fn check_bridge_is_free(network: &Network) -> Result<()> {
    match foreign_address_on_bridge(network) {
        None => Ok(()),
        Some((bridge, address)) => Err(EngineError::BridgeTaken {
            network: network.name.clone(),
            bridge,
            address,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(subnets: &[&str]) -> Network {
        let mut network: Network = serde_json::from_value(serde_json::json!({
            "name": "lab", "id": "1", "driver": "bridge", "network_interface": "rpod0",
            "subnets": [], "ipv6_enabled": false, "internal": false, "dns_enabled": false,
            "ipam_options": {"driver": "host-local"}
        }))
        .unwrap();
        network.subnets = subnets
            .iter()
            .map(|s| super::super::Subnet {
                subnet: s.parse().unwrap(),
                gateway: None,
                lease_range: None,
            })
            .collect();
        network
    }

    #[test]
    fn the_networks_own_gateway_is_not_foreign() {
        let lab = network(&["10.93.20.0/24"]);
        assert_eq!(foreign_address(&[], &lab), None);
        assert_eq!(
            foreign_address(&["10.93.20.1".parse().unwrap()], &lab),
            None
        );
    }

    #[test]
    fn an_address_of_another_subnet_is_foreign() {
        let lab = network(&["10.93.20.0/24"]);
        let other: Ipv4Addr = "10.93.10.1".parse().unwrap();
        assert_eq!(
            foreign_address(&["10.93.20.1".parse().unwrap(), other], &lab),
            Some(other)
        );
        let two = network(&["10.93.20.0/24", "10.93.10.0/24"]);
        assert_eq!(foreign_address(&[other], &two), None);
    }

    #[test]
    fn the_loopback_interface_carries_a_foreign_address() {
        // Read from the host for real: every machine has `lo` with 127.0.0.1.
        let mut lab = network(&["10.93.20.0/24"]);
        lab.network_interface = Some("lo".into());
        let (bridge, address) = foreign_address_on_bridge(&lab).unwrap();
        assert_eq!((bridge.as_str(), address), ("lo", Ipv4Addr::LOCALHOST));
        let err = check_bridge_is_free(&lab).unwrap_err().to_string();
        assert!(err.contains("lo") && err.contains("127.0.0.1"), "{err}");
        lab.network_interface = Some("rpod-absent".into());
        assert!(check_bridge_is_free(&lab).is_ok());
    }
}
