//! Networks: their definitions (stored in netavark's JSON format, one file per network),
//! addresses, published ports, network namespaces, and the netavark calls that connect a
//! container's namespace to them.

pub mod anchor;
pub mod bridge_owner;
pub mod definitions;
pub mod dns_ready;
pub mod etc_files;
pub mod filters;
pub mod ipam;
pub mod netavark;
pub mod netns;
pub mod ports;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A network as podman stores it and netavark reads it (netavark ignores the fields it does
/// not know, such as `created` and `labels`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub network_interface: Option<String>,
    #[serde(default = "Utc::now")]
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub ipv6_enabled: bool,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub dns_enabled: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub ipam_options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Subnet {
    pub subnet: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// `--ip-range`: the addresses containers get (netavark's and podman's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
}

/// The first and last address a subnet hands out.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeaseRange {
    pub start_ip: IpAddr,
    pub end_ip: IpAddr,
}

impl LeaseRange {
    /// The host addresses of `range` (a CIDR inside `subnet`) that `subnet` can give.
    pub fn within(range: IpNet, subnet: &IpNet) -> crate::Result<LeaseRange> {
        let range = range.trunc();
        if !subnet.contains(&range) {
            return Err(crate::EngineError::InvalidArg(format!(
                "--ip-range {range} is not inside the subnet {subnet}"
            )));
        }
        let start = std::cmp::max(range.network(), first_host_of(subnet));
        let end = std::cmp::min(range.broadcast(), last_host_of(subnet));
        if start > end {
            return Err(crate::EngineError::InvalidArg(format!(
                "--ip-range {range} holds no host address of the subnet {subnet}"
            )));
        }
        Ok(LeaseRange {
            start_ip: start,
            end_ip: end,
        })
    }

    /// podman's reading of `--ip-range CIDR`: from the range's first host address (its
    /// network address left out, as podman's client leaves it) to its last address, within
    /// the subnet's hosts. Docker's `IPRange` is the whole CIDR (`within`).
    pub fn podman(range: IpNet, subnet: &IpNet) -> crate::Result<LeaseRange> {
        let mut lease = Self::within(range, subnet)?;
        let first_host = address_after(range.trunc().network());
        lease.start_ip = lease.start_ip.max(first_host);
        if lease.start_ip > lease.end_ip {
            return Err(crate::EngineError::InvalidArg(format!(
                "--ip-range {range} holds no host address"
            )));
        }
        Ok(lease)
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        (self.start_ip..=self.end_ip).contains(&address)
    }
}

/// The address after `address` (itself at the family's last address).
pub fn address_after(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a).saturating_add(1))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a).saturating_add(1))),
    }
}

/// A subnet's first host address: the one after its network address.
pub fn first_host_of(subnet: &IpNet) -> IpAddr {
    address_after(subnet.network())
}

/// A subnet's last host address: before the broadcast address in IPv4; IPv6 has none, so
/// its last address (as podman's address management counts).
pub fn last_host_of(subnet: &IpNet) -> IpAddr {
    match subnet.broadcast() {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a).saturating_sub(1))),
        v6 => v6,
    }
}

/// Whether `address` is one a container or gateway may have in `subnet`.
pub fn is_host_of(subnet: &IpNet, address: IpAddr) -> bool {
    subnet.contains(&address) && (first_host_of(subnet)..=last_host_of(subnet)).contains(&address)
}

impl Network {
    /// The first subnet's gateway: on a bridge network, the host's address on the bridge.
    pub fn gateway(&self) -> Option<IpAddr> {
        self.subnets.first().and_then(|s| s.gateway)
    }

    /// Whether the network's interfaces hang off a bridge of its own (netavark's bridge
    /// driver), which has an anchor, firewall rules, published ports and a name server.
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }

    /// Whether containers get addresses on the network (not `--ipam-driver none`).
    pub fn gives_addresses(&self) -> bool {
        self.ipam_options.get("driver").map(String::as_str) != Some("none")
    }

    /// Whether the network has an IPv4 subnet.
    pub fn has_ipv4(&self) -> bool {
        self.subnets.iter().any(|s| s.subnet.addr().is_ipv4())
    }

    /// Whether the network has an IPv6 subnet.
    pub fn has_ipv6(&self) -> bool {
        self.subnets.iter().any(|s| s.subnet.addr().is_ipv6())
    }
}

/// Network names as podman allows them (the same rule as containers and volumes).
pub use crate::names::valid_name;

/// The interface each of `joins` gets in the container, in order: the name asked for
/// (`interface_name=`), else the lowest `ethN` that neither `in_use` (the container's
/// interfaces already there) nor another of `joins` has, as podman names them.
pub fn interface_names(joins: &[crate::container::NetworkJoin], in_use: &[String]) -> Vec<String> {
    let mut taken: Vec<String> = in_use.to_vec();
    taken.extend(joins.iter().filter_map(|j| j.interface_name.clone()));
    joins
        .iter()
        .map(|join| match &join.interface_name {
            Some(name) => name.clone(),
            None => {
                let free = (0..)
                    .map(|n| format!("eth{n}"))
                    .find(|name| !taken.contains(name))
                    .unwrap_or_default();
                taken.push(free.clone());
                free
            }
        })
        .collect()
}

/// Interface names the kernel accepts (at most 15 bytes, no `/`, blanks or `:`), checked
/// before netavark is asked to make one.
pub fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// What a container was given on one network (netavark's answer to `setup`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Attachment {
    pub interface: String,
    pub mac_address: String,
    /// Addresses with their prefix length, e.g. `10.88.0.2/16`.
    pub addresses: Vec<ipnet::IpNet>,
    /// The IPv4 gateway.
    pub gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_gateway: Option<IpAddr>,
    pub dns_servers: Vec<IpAddr>,
    pub dns_search: Vec<String>,
}

impl Attachment {
    pub fn ipv4(&self) -> Option<ipnet::IpNet> {
        self.addresses.iter().find(|a| a.addr().is_ipv4()).copied()
    }

    pub fn ipv6(&self) -> Option<ipnet::IpNet> {
        self.addresses.iter().find(|a| a.addr().is_ipv6()).copied()
    }

    /// The IPv4 gateway, else the IPv6 one: the host's address as the container sees it.
    pub fn any_gateway(&self) -> Option<IpAddr> {
        self.gateway.or(self.ipv6_gateway)
    }

    /// Record `gateway` as the gateway of its family.
    pub fn add_gateway(&mut self, gateway: IpAddr) {
        let slot = if gateway.is_ipv6() {
            &mut self.ipv6_gateway
        } else {
            &mut self.gateway
        };
        slot.get_or_insert(gateway);
    }
}

/// `--network` values as podman reads them: a mode (`bridge`, `none`, `host`, `private`,
/// `container:NAME`, `ns:PATH`) or network names (several flags or comma-separated), a name
/// with podman's options (`NAME:ip=...,mac=...,alias=...`, one network per flag). `None`
/// when no flag was given (the configured default applies). Networks keep their order: the
/// first gets `eth0`.
pub fn parse_network_flags(
    values: &[String],
) -> crate::Result<(
    Option<crate::container::NetworkMode>,
    Vec<crate::container::NetworkJoin>,
)> {
    use crate::container::{NetworkJoin, NetworkMode};
    // Each flag's value: one network with options, or a comma-separated list.
    let mut items: Vec<Result<NetworkJoin, &str>> = Vec::new();
    for value in values {
        match value.split_once(':') {
            Some((name, options)) if !matches!(name, "container" | "ns") => {
                items.push(Ok(network_with_options(name, options)?));
            }
            _ => items.extend(value.split(',').filter(|w| !w.is_empty()).map(Err)),
        }
    }
    let mut mode = None;
    let mut joins: Vec<NetworkJoin> = Vec::new();
    for item in &items {
        let word = match item {
            Ok(join) => {
                joins.push(join.clone());
                mode = Some(NetworkMode::Bridge);
                continue;
            }
            Err(word) => *word,
        };
        let this = match word {
            "bridge" | "private" | "default" => NetworkMode::Bridge,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            "slirp4netns" | "pasta" => {
                return Err(crate::EngineError::NotSupported(format!(
                    "the network mode {word} (rpod runs rootful: use bridge, none, host, container: or ns:)"
                )))
            }
            other => {
                if let Some(name) = other.strip_prefix("container:") {
                    NetworkMode::Container(name.to_string())
                } else if let Some(path) = other.strip_prefix("ns:") {
                    NetworkMode::Path(std::path::PathBuf::from(path))
                } else {
                    if !valid_name(other) {
                        return Err(crate::EngineError::InvalidArg(format!(
                            "invalid --network {other:?}: not a network mode or name"
                        )));
                    }
                    joins.push(NetworkJoin {
                        name: other.to_string(),
                        ..Default::default()
                    });
                    NetworkMode::Bridge
                }
            }
        };
        let is_keyword = !matches!(this, NetworkMode::Bridge)
            || matches!(word, "bridge" | "private" | "default");
        if is_keyword && items.len() > 1 {
            return Err(crate::EngineError::InvalidArg(format!(
                "--network {word} cannot be combined with other networks"
            )));
        }
        mode = Some(this);
    }
    Ok((mode, joins))
}

/// The words that name a network mode rather than a network.
fn is_mode_word(word: &str) -> bool {
    matches!(
        word,
        "bridge" | "private" | "default" | "none" | "host" | "slirp4netns" | "pasta"
    )
}

/// `NAME:OPTION,...`: a network to join with podman's options `ip=`, `ip6=`, `mac=`,
/// `interface_name=` and `alias=` (which may repeat). The values are checked with the network at create.
fn network_with_options(name: &str, options: &str) -> crate::Result<crate::container::NetworkJoin> {
    let invalid = |message: String| crate::EngineError::InvalidArg(message);
    if !valid_name(name) || is_mode_word(name) {
        return Err(invalid(format!(
            "invalid --network {name}:{options}: options belong to a network's name"
        )));
    }
    let mut join = crate::container::NetworkJoin {
        name: name.to_string(),
        ..Default::default()
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        let (key, value) = option.split_once('=').unwrap_or((option, ""));
        match key {
            "ip" => {
                let ip = value.parse().map_err(|_| {
                    invalid(format!(
                        "invalid --network {name}: ip={value} is not an IPv4 address"
                    ))
                })?;
                if join.ip.replace(ip).is_some() {
                    return Err(invalid(format!("--network {name}: ip= is given twice")));
                }
            }
            "ip6" => {
                let ip = value.parse().map_err(|_| {
                    invalid(format!(
                        "invalid --network {name}: ip6={value} is not an IPv6 address"
                    ))
                })?;
                if join.ip6.replace(ip).is_some() {
                    return Err(invalid(format!("--network {name}: ip6= is given twice")));
                }
            }
            "mac" => {
                if join.mac.replace(value.to_string()).is_some() {
                    return Err(invalid(format!("--network {name}: mac= is given twice")));
                }
            }
            "alias" => join.aliases.push(value.to_string()),
            "interface_name" => {
                if !valid_interface_name(value) {
                    return Err(invalid(format!(
                        "invalid --network {name}: interface_name={value:?} is not an interface name (at most 15 letters, digits, '.', '_' or '-')"
                    )));
                }
                if join.interface_name.replace(value.to_string()).is_some() {
                    return Err(invalid(format!(
                        "--network {name}: interface_name= is given twice"
                    )));
                }
            }
            _ => {
                return Err(invalid(format!(
                    "invalid --network {name}: unknown option {option:?} (ip=, ip6=, mac=, alias=, interface_name=)"
                )))
            }
        }
    }
    Ok(join)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_named_as_podman_names_them() {
        let join = |name: &str, interface: Option<&str>| crate::container::NetworkJoin {
            name: name.into(),
            interface_name: interface.map(String::from),
            ..Default::default()
        };
        assert_eq!(
            interface_names(&[join("a", None), join("b", None)], &[]),
            ["eth0", "eth1"]
        );
        // A name asked for is kept, and not given again.
        assert_eq!(
            interface_names(
                &[join("a", None), join("b", Some("eth0")), join("c", None)],
                &[]
            ),
            ["eth1", "eth0", "eth2"]
        );
        // A connect after a disconnect takes the free name, not the count's.
        assert_eq!(
            interface_names(&[join("c", None)], &["eth1".into()]),
            ["eth0"]
        );
    }

    #[test]
    fn names() {
        assert!(valid_interface_name("rpod0"));
        assert!(!valid_interface_name("a-very-long-interface"));
        assert!(!valid_interface_name("br:0"));
    }

    #[test]
    fn network_flags() {
        use crate::container::NetworkMode;
        let parse =
            |v: &[&str]| parse_network_flags(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(parse(&[]).unwrap(), (None, vec![]));
        assert_eq!(parse(&["bridge"]).unwrap().0, Some(NetworkMode::Bridge));
        assert_eq!(parse(&["host"]).unwrap().0, Some(NetworkMode::Host));
        assert_eq!(
            parse(&["container:web"]).unwrap().0,
            Some(NetworkMode::Container("web".into()))
        );
        let (mode, joins) = parse(&["a,b", "c"]).unwrap();
        assert_eq!(mode, Some(NetworkMode::Bridge));
        let names: Vec<&str> = joins.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(parse(&["host", "a"]).is_err());
        assert!(parse(&["slirp4netns"]).is_err());
        assert!(parse(&["a/b"]).is_err());
    }

    #[test]
    fn network_options_as_podman_gives_them() {
        use crate::container::NetworkMode;
        let parse =
            |v: &[&str]| parse_network_flags(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let (mode, joins) = parse(&[
            "front:ip=10.89.1.5,mac=92:d0:c6:0a:29:33,alias=api,alias=web",
            "back",
        ])
        .unwrap();
        assert_eq!(mode, Some(NetworkMode::Bridge));
        assert_eq!(joins.len(), 2);
        assert_eq!(joins[0].name, "front");
        assert_eq!(joins[0].ip, Some(Ipv4Addr::new(10, 89, 1, 5)));
        assert_eq!(joins[0].mac.as_deref(), Some("92:d0:c6:0a:29:33"));
        assert_eq!(joins[0].aliases, ["api", "web"]);
        assert_eq!(joins[1].name, "back");
        assert_eq!(joins[1].ip, None);
        // The order given is kept.
        let (_, joins) = parse(&["back", "front:alias=api"]).unwrap();
        let names: Vec<&str> = joins.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["back", "front"]);
        // Modes keep their colon; options need a network.
        assert_eq!(
            parse(&["container:web"]).unwrap().0,
            Some(NetworkMode::Container("web".into()))
        );
        for bad in [
            "front:ip=10.89.1",
            "front:ip=1.2.3.4,ip=1.2.3.5",
            "front:color=blue",
            "host:ip=1.2.3.4",
            "a,b:ip=1.2.3.4",
        ] {
            assert!(parse(&[bad]).is_err(), "{bad} was taken");
        }
        let (_, joins) = parse(&["front:ip6=fd00::5,ip=10.89.1.5"]).unwrap();
        assert_eq!(joins[0].ip6, Some("fd00::5".parse().unwrap()));
        assert_eq!(
            joins[0].static_ips(),
            [IpAddr::from([10, 89, 1, 5]), "fd00::5".parse().unwrap()]
        );
        for bad in [
            "front:ip6=10.89.1.5",
            "front:ip=fd00::5",
            "front:ip6=fd00::5,ip6=fd00::6",
        ] {
            assert!(parse(&[bad]).is_err(), "{bad} was taken");
        }
        let (_, joins) = parse(&["front:interface_name=lan0"]).unwrap();
        assert_eq!(joins[0].interface_name.as_deref(), Some("lan0"));
        for bad in [
            "front:interface_name=a/b",
            "front:interface_name=",
            "front:interface_name=x,interface_name=y",
        ] {
            assert!(parse(&[bad]).is_err(), "{bad} was taken");
        }
        assert!(parse(&["front:ip=10.89.1.5", "host"]).is_err());
    }

    #[test]
    fn reads_podmans_json() {
        let text = r#"{"name":"foo","id":"9d81a9a8a8","driver":"bridge","network_interface":"podman1","created":"2023-05-01T10:00:00.1Z","subnets":[{"subnet":"10.89.0.0/24","gateway":"10.89.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":true,"ipam_options":{"driver":"host-local"}}"#;
        let network: Network = serde_json::from_str(text).unwrap();
        assert_eq!(network.gateway(), Some(IpAddr::from([10, 89, 0, 1])));
        assert!(network.dns_enabled);
        let back = serde_json::to_value(&network).unwrap();
        assert_eq!(back["subnets"][0]["subnet"], "10.89.0.0/24");
        assert_eq!(back["network_interface"], "podman1");
    }
}
