//! Address management: netavark assigns no addresses itself (podman hands it static ones),
//! so rpod picks each container's addresses, one in each of the network's subnets (an IPv4
//! and an IPv6 one on a dual-stack network), and records them in the store (table
//! `network_leases`), where concurrent commands see each other's choices.

use std::collections::HashSet;
use std::net::IpAddr;

use super::{address_after, first_host_of, is_host_of, last_host_of, Network, Subnet};
use crate::error::{EngineError, Result};

/// The lowest host address of the subnet (in its lease range, if it has one) that is
/// neither the gateway nor leased. Counting up from the first host address stops at the
/// first free one, so an IPv6 subnet's size costs nothing; a lease range is cut to the
/// subnet's hosts first (a definition file, podman's too, may hold any range).
pub fn next_free(subnet: &Subnet, leased: &HashSet<IpAddr>) -> Option<IpAddr> {
    let (mut first, mut last) = (first_host_of(&subnet.subnet), last_host_of(&subnet.subnet));
    if let Some(range) = subnet.lease_range {
        first = first.max(range.start_ip);
        last = last.min(range.end_ip);
    }
    if first.is_ipv4() != last.is_ipv4() {
        return None;
    }
    let mut candidate = first;
    while candidate <= last {
        if Some(candidate) != subnet.gateway && !leased.contains(&candidate) {
            return Some(candidate);
        }
        let next = address_after(candidate);
        if next == candidate {
            break;
        }
        candidate = next;
    }
    None
}

/// The subnet of `network` an address asked for with `--ip` or `--ip6` belongs to, checked.
pub fn check_static(network: &Network, address: IpAddr) -> Result<&Subnet> {
    let subnet = network
        .subnets
        .iter()
        .find(|s| is_host_of(&s.subnet, address))
        .ok_or_else(|| {
            EngineError::InvalidArg(format!(
                "requested static ip {address} not in any subnet on network {}",
                network.name
            ))
        })?;
    if Some(address) == subnet.gateway {
        return Err(EngineError::InvalidArg(format!(
            "requested static ip {address} is the gateway of network {}",
            network.name
        )));
    }
    Ok(subnet)
}

/// The address each of the network's subnets gives a container, in the subnets' order:
/// the one asked for in that subnet, else the one the container holds there already,
/// else the lowest free one. `leases` are the network's leases as (address, holder).
pub fn choose(
    network: &Network,
    container: &str,
    asked: &[IpAddr],
    leases: &[(IpAddr, String)],
) -> Result<Vec<IpAddr>> {
    for address in asked {
        check_static(network, *address)?;
    }
    let mut chosen = Vec::new();
    for subnet in &network.subnets {
        let in_subnet = |a: &IpAddr| subnet.subnet.contains(a);
        let address = match asked.iter().find(|a| in_subnet(a)) {
            Some(address) => {
                if leases
                    .iter()
                    .any(|(a, holder)| a == address && holder != container)
                {
                    return Err(EngineError::InvalidArg(format!(
                        "IP address {address} is already allocated on network {}",
                        network.name
                    )));
                }
                *address
            }
            None => match leases
                .iter()
                .find(|(a, holder)| holder == container && in_subnet(a))
            {
                Some((held, _)) => *held,
                None => {
                    let leased = leases.iter().map(|(a, _)| *a).collect();
                    next_free(subnet, &leased).ok_or_else(|| {
                        EngineError::InvalidArg(format!(
                            "network {} has no free address left in {}",
                            network.name, subnet.subnet
                        ))
                    })?
                }
            },
        };
        chosen.push(address);
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::LeaseRange;
    use ipnet::IpNet;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn subnet(net: &str, gateway: &str) -> Subnet {
        Subnet {
            subnet: net.parse().unwrap(),
            gateway: Some(ip(gateway)),
            lease_range: None,
        }
    }

    fn all_given(subnet: &Subnet) -> Vec<String> {
        let mut leased = HashSet::new();
        let mut given = Vec::new();
        while let Some(next) = next_free(subnet, &leased) {
            leased.insert(next);
            given.push(next.to_string());
        }
        given
    }

    #[test]
    fn lowest_free_host_address() {
        let subnet = subnet("10.5.0.0/29", "10.5.0.1");
        // .0 is the network, .1 the gateway, .7 the broadcast address.
        assert_eq!(
            all_given(&subnet),
            ["10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5", "10.5.0.6"]
        );
        let mut leased: HashSet<IpAddr> = [ip("10.5.0.2"), ip("10.5.0.3")].into();
        assert_eq!(next_free(&subnet, &leased), Some(ip("10.5.0.4")));
        leased.remove(&ip("10.5.0.2"));
        assert_eq!(next_free(&subnet, &leased), Some(ip("10.5.0.2")));
    }

    #[test]
    fn ipv6_subnets_give_every_address_but_the_network_one() {
        // IPv6 has no broadcast address: the last one is given too.
        let subnet = subnet("fd00:7::/125", "fd00:7::1");
        assert_eq!(
            all_given(&subnet),
            [
                "fd00:7::2",
                "fd00:7::3",
                "fd00:7::4",
                "fd00:7::5",
                "fd00:7::6",
                "fd00:7::7"
            ]
        );
        // A /64 is not walked: the first free address is found at once.
        let big = self::subnet("fd00:8::/64", "fd00:8::1");
        let leased: HashSet<IpAddr> = [ip("fd00:8::2")].into();
        assert_eq!(next_free(&big, &leased), Some(ip("fd00:8::3")));
    }

    #[test]
    fn a_lease_range_narrows_the_addresses_given() {
        let net: IpNet = "10.6.0.0/24".parse().unwrap();
        let range = LeaseRange::within("10.6.0.128/30".parse().unwrap(), &net).unwrap();
        assert_eq!(
            (range.start_ip, range.end_ip),
            (ip("10.6.0.128"), ip("10.6.0.131"))
        );
        let subnet = Subnet {
            lease_range: Some(range),
            ..subnet("10.6.0.0/24", "10.6.0.1")
        };
        assert_eq!(
            all_given(&subnet),
            ["10.6.0.128", "10.6.0.129", "10.6.0.130", "10.6.0.131"]
        );
        // The subnet's own network and broadcast addresses are never in a range.
        let whole = LeaseRange::within("10.6.0.0/24".parse().unwrap(), &net).unwrap();
        assert_eq!(
            (whole.start_ip, whole.end_ip),
            (ip("10.6.0.1"), ip("10.6.0.254"))
        );
        assert!(LeaseRange::within("10.7.0.0/25".parse().unwrap(), &net).is_err());
        // podman's reading of an IPv6 range, as podman 4.3 stores it.
        let net6: IpNet = "fd99::/64".parse().unwrap();
        let podman = LeaseRange::podman("fd99::100/120".parse().unwrap(), &net6).unwrap();
        assert_eq!(
            (podman.start_ip, podman.end_ip),
            (ip("fd99::101"), ip("fd99::1ff"))
        );
        assert!(LeaseRange::within("10.6.0.0/25".parse().unwrap(), &net6).is_err());
    }

    #[test]
    fn a_lease_range_beyond_the_subnet_is_cut_to_its_hosts() {
        // As a hand-edited or foreign definition may hold it: the whole IPv4 space.
        let wide = Subnet {
            lease_range: Some(LeaseRange {
                start_ip: ip("0.0.0.0"),
                end_ip: ip("255.255.255.255"),
            }),
            ..subnet("10.5.0.0/29", "10.5.0.1")
        };
        assert_eq!(
            all_given(&wide),
            ["10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5", "10.5.0.6"]
        );
        // A range of the other family gives nothing.
        let other = Subnet {
            lease_range: Some(LeaseRange {
                start_ip: ip("fd00::1"),
                end_ip: ip("fd00::9"),
            }),
            ..subnet("10.5.0.0/29", "10.5.0.1")
        };
        assert_eq!(next_free(&other, &HashSet::new()), None);
    }

    fn dual_stack() -> Network {
        serde_json::from_value(serde_json::json!({
            "name": "dual", "id": "0", "driver": "bridge", "network_interface": "rpod7",
            "subnets": [
                {"subnet": "10.77.0.0/24", "gateway": "10.77.0.254"},
                {"subnet": "fd77::/64", "gateway": "fd77::fe"}
            ],
            "ipv6_enabled": true
        }))
        .unwrap()
    }

    #[test]
    fn one_address_in_every_subnet() {
        let network = dual_stack();
        let leases = vec![
            (ip("10.77.0.1"), "a".to_string()),
            (ip("fd77::1"), "a".into()),
        ];
        // A new container: the lowest free of each.
        assert_eq!(
            choose(&network, "b", &[], &leases).unwrap(),
            [ip("10.77.0.2"), ip("fd77::2")]
        );
        // One that holds addresses keeps them.
        assert_eq!(
            choose(&network, "a", &[], &leases).unwrap(),
            [ip("10.77.0.1"), ip("fd77::1")]
        );
        // An address asked for in one subnet; the other's is chosen.
        assert_eq!(
            choose(&network, "b", &[ip("fd77::99")], &leases).unwrap(),
            [ip("10.77.0.2"), ip("fd77::99")]
        );
        assert_eq!(
            choose(&network, "a", &[ip("10.77.0.9")], &leases).unwrap(),
            [ip("10.77.0.9"), ip("fd77::1")]
        );
        // Another's address, a gateway, an address of no subnet: refused.
        for (asked, says) in [
            ("fd77::1", "already allocated"),
            ("fd77::fe", "gateway"),
            ("fd78::5", "not in any subnet"),
            ("fd77::", "not in any subnet"),
            ("10.77.0.255", "not in any subnet"),
        ] {
            let error = choose(&network, "b", &[ip(asked)], &leases).unwrap_err();
            assert!(error.to_string().contains(says), "{asked}: {error}");
        }
    }
}
