//! Address management: netavark assigns no addresses itself (podman hands it static ones),
//! so rpod picks each container's address in the network's subnet and records it in the
//! store (table `network_leases`), where concurrent commands see each other's choices.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::{Network, Subnet};
use crate::error::{EngineError, Result};

/// The lowest host address of the subnet (in its lease range, if it has one) that is
/// neither the gateway nor leased.
pub fn next_free(subnet: &Subnet, leased: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    subnet.subnet.hosts().find(|a| {
        Some(*a) != subnet.gateway
            && !leased.contains(a)
            && subnet.lease_range.is_none_or(|r| r.contains(*a))
    })
}

/// Check an address asked for with `--ip` against the network it is for.
pub fn check_static(network: &Network, address: Ipv4Addr) -> Result<()> {
    let Some(subnet) = network.subnets.first() else {
        return Err(EngineError::InvalidArg(format!(
            "network {} has no subnet to take {address} from",
            network.name
        )));
    };
    let net = subnet.subnet;
    if !net.contains(&address) || address == net.network() || address == net.broadcast() {
        return Err(EngineError::InvalidArg(format!(
            "requested static ip {address} not in any subnet on network {}",
            network.name
        )));
    }
    if Some(address) == subnet.gateway {
        return Err(EngineError::InvalidArg(format!(
            "requested static ip {address} is the gateway of network {}",
            network.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::Ipv4Net;

    #[test]
    fn lowest_free_host_address() {
        let subnet = Subnet {
            subnet: "10.5.0.0/29".parse().unwrap(),
            gateway: Some(Ipv4Addr::new(10, 5, 0, 1)),
            lease_range: None,
        };
        let mut leased = HashSet::new();
        let mut given = Vec::new();
        while let Some(next) = next_free(&subnet, &leased) {
            leased.insert(next);
            given.push(next.to_string());
        }
        // .0 is the network, .1 the gateway, .7 the broadcast address.
        assert_eq!(
            given,
            ["10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5", "10.5.0.6"]
        );
        leased.remove(&Ipv4Addr::new(10, 5, 0, 4));
        assert_eq!(
            next_free(&subnet, &leased),
            Some(Ipv4Addr::new(10, 5, 0, 4))
        );
    }

    #[test]
    fn a_lease_range_narrows_the_addresses_given() {
        let net: Ipv4Net = "10.6.0.0/24".parse().unwrap();
        let range =
            super::super::LeaseRange::within("10.6.0.128/30".parse().unwrap(), &net).unwrap();
        assert_eq!(range.start_ip, Ipv4Addr::new(10, 6, 0, 128));
        assert_eq!(range.end_ip, Ipv4Addr::new(10, 6, 0, 131));
        let subnet = Subnet {
            subnet: net,
            gateway: Some(Ipv4Addr::new(10, 6, 0, 1)),
            lease_range: Some(range),
        };
        let mut leased = HashSet::new();
        while let Some(next) = next_free(&subnet, &leased) {
            leased.insert(next);
        }
        let mut given: Vec<String> = leased.iter().map(|a| a.to_string()).collect();
        given.sort();
        assert_eq!(
            given,
            ["10.6.0.128", "10.6.0.129", "10.6.0.130", "10.6.0.131"]
        );
        // The subnet's own network and broadcast addresses are never in a range.
        let whole = super::super::LeaseRange::within("10.6.0.0/24".parse().unwrap(), &net).unwrap();
        assert_eq!(
            (whole.start_ip, whole.end_ip),
            (Ipv4Addr::new(10, 6, 0, 1), Ipv4Addr::new(10, 6, 0, 254))
        );
        assert!(super::super::LeaseRange::within("10.7.0.0/25".parse().unwrap(), &net).is_err());
    }
}
