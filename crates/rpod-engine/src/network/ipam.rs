//! Address management: netavark assigns no addresses itself (podman hands it static ones),
//! so rpod picks each container's address in the network's subnet and records it in the
//! store (table `network_leases`), where concurrent commands see each other's choices.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::Network;
use crate::error::{EngineError, Result};

/// The lowest host address of the subnet that is neither the gateway nor leased.
pub fn next_free(
    subnet: &Ipv4Net,
    gateway: Option<Ipv4Addr>,
    leased: &HashSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    subnet
        .hosts()
        .find(|a| Some(*a) != gateway && !leased.contains(a))
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

    #[test]
    fn lowest_free_host_address() {
        let subnet: Ipv4Net = "10.5.0.0/29".parse().unwrap();
        let gateway = Some(Ipv4Addr::new(10, 5, 0, 1));
        let mut leased = HashSet::new();
        let mut given = Vec::new();
        while let Some(next) = next_free(&subnet, gateway, &leased) {
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
            next_free(&subnet, gateway, &leased),
            Some(Ipv4Addr::new(10, 5, 0, 4))
        );
    }
}
