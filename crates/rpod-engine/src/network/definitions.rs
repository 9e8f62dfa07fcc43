//! Network definitions on disk: `<root>/networks/NAME.json`, each in the JSON format netavark
//! reads, so what rpod stores is what netavark is given.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;

use super::{first_host, valid_interface_name, valid_name, Network, Subnet};
use crate::error::{EngineError, Result};

/// Where podman's default network lives; rpod's default starts here as well, and user
/// networks are carved from the range after it as /24s (as podman does).
const DEFAULT_SUBNET: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(10, 88, 0, 0), 16) {
    Ok(net) => net,
    Err(_) => panic!("constant subnet"),
};
const USER_SUBNET_BASE: [u8; 2] = [10, 89];

/// Prefix of the bridges rpod names (`rpod0`, `rpod1`, ...).
const BRIDGE_PREFIX: &str = "rpod";

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    pub name: String,
    pub driver: Option<String>,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub interface: Option<String>,
    pub internal: bool,
    pub disable_dns: bool,
    pub labels: BTreeMap<String, String>,
    /// `--ip-range`: where in the subnet containers' addresses come from.
    pub ip_range: Option<IpRange>,
    /// Driver options (`-o KEY=VALUE`): `mtu` only, which netavark gives the bridge and
    /// the containers' interfaces.
    pub options: BTreeMap<String, String>,
}

/// The smallest and largest MTU of an IPv4 link.
const MTU_RANGE: std::ops::RangeInclusive<u32> = 68..=65535;

/// The driver options a network may have, checked (`mtu` only; netavark 1.4 knows no other
/// of podman's bridge options).
fn checked_options(options: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    for (key, value) in options {
        match key.as_str() {
            "mtu" => {
                let valid = value
                    .parse::<u32>()
                    .is_ok_and(|mtu| MTU_RANGE.contains(&mtu));
                if !valid {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid network option mtu={value:?}: a number from {} to {}",
                        MTU_RANGE.start(),
                        MTU_RANGE.end()
                    )));
                }
            }
            other => {
                return Err(EngineError::NotSupported(format!(
                    "the network option {other:?} (rpod's bridge networks take mtu)"
                )))
            }
        }
    }
    Ok(options.clone())
}

/// A part of a subnet: a CIDR (`--ip-range`, Docker's `IPRange`) or first and last
/// addresses (podman's `lease_range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRange {
    Cidr(Ipv4Net),
    Addresses(Ipv4Addr, Ipv4Addr),
}

/// What the host already uses, so that a new network does not collide with it.
#[derive(Debug, Clone, Default)]
pub struct HostNetworking {
    pub links: HashSet<String>,
    pub routes: Vec<Ipv4Net>,
}

impl HostNetworking {
    /// The host's interface names and IPv4 routes.
    pub fn read() -> Self {
        let links = fs::read_dir("/sys/class/net")
            .map(|dir| {
                dir.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let routes = fs::read_to_string("/proc/net/route")
            .map(|text| parse_routes(&text))
            .unwrap_or_default();
        HostNetworking { links, routes }
    }
}

/// `/proc/net/route`: destination and mask in hex, in the host's byte order (little endian
/// on every machine rpod runs on). The default route (mask 0) covers everything and is
/// left out.
fn parse_routes(text: &str) -> Vec<Ipv4Net> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let destination = u32::from_str_radix(fields.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(fields.get(7)?, 16).ok()?;
            if mask == 0 {
                return None;
            }
            let address = Ipv4Addr::from(destination.to_le_bytes());
            let prefix = mask.count_ones() as u8;
            Ipv4Net::new(address, prefix).ok()
        })
        .collect()
}

pub struct Definitions {
    dir: PathBuf,
}

impl Definitions {
    pub fn new(root: &Path) -> Self {
        Definitions {
            dir: root.join("networks"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Every stored network, by name.
    pub fn list(&self) -> Result<Vec<Network>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(EngineError::io("reading", &self.dir, e)),
        };
        let mut networks = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match read(&path) {
                Ok(network) => networks.push(network),
                Err(e) => tracing::warn!(%e, "skipping an unreadable network definition"),
            }
        }
        networks.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(networks)
    }

    /// A network by name, full id or unique id prefix.
    pub fn get(&self, name_or_id: &str) -> Result<Network> {
        if valid_name(name_or_id) {
            let path = self.file(name_or_id);
            if path.exists() {
                return read(&path);
            }
        }
        let matching: Vec<Network> = self
            .list()?
            .into_iter()
            .filter(|n| !name_or_id.is_empty() && n.id.starts_with(name_or_id))
            .collect();
        match matching.len() {
            1 => Ok(matching.into_iter().next().expect("one")),
            0 => Err(EngineError::NoSuchNetwork(name_or_id.to_string())),
            _ => Err(EngineError::InvalidArg(format!(
                "more than one network matches {name_or_id:?}: give more of its ID"
            ))),
        }
    }

    /// Make a network's definition from a request, choosing what it leaves open, and store
    /// it. The caller holds the networks' lock.
    pub fn create(&self, request: &NetworkRequest, host: &HostNetworking) -> Result<Network> {
        let network = self.plan(request, host)?;
        self.write_new(&network)?;
        Ok(network)
    }

    /// The definition a request makes, checked against the stored networks and the host.
    pub fn plan(&self, request: &NetworkRequest, host: &HostNetworking) -> Result<Network> {
        if !valid_name(&request.name) {
            return Err(EngineError::InvalidArg(format!(
                "invalid network name {:?}: must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                request.name
            )));
        }
        let driver = request.driver.as_deref().unwrap_or("bridge");
        if driver != "bridge" {
            return Err(EngineError::NotSupported(format!(
                "the network driver {driver:?} (only bridge)"
            )));
        }
        let existing = self.list()?;
        if existing.iter().any(|n| n.name == request.name) {
            return Err(EngineError::NetworkExists(request.name.clone()));
        }
        let interface = match &request.interface {
            Some(name) => {
                if !valid_interface_name(name) {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid interface name {name:?}: at most 15 letters, digits, '.', '_' or '-'"
                    )));
                }
                if let Some(other) = existing
                    .iter()
                    .find(|n| n.network_interface.as_deref() == Some(name))
                {
                    return Err(EngineError::InvalidArg(format!(
                        "bridge name {name} already in use by network {}",
                        other.name
                    )));
                }
                name.clone()
            }
            None => free_bridge_name(&existing, host)?,
        };
        let subnet = match request.subnet {
            Some(asked) => {
                let subnet = asked.trunc();
                if subnet.prefix_len() > 30 {
                    return Err(EngineError::InvalidArg(format!(
                        "subnet {asked} is too small: it needs room for a gateway and a container"
                    )));
                }
                if let Some(other) = existing
                    .iter()
                    .find(|n| n.subnets.iter().any(|s| overlaps(&s.subnet, &subnet)))
                {
                    return Err(EngineError::InvalidArg(format!(
                        "subnet {subnet} is already used by network {}",
                        other.name
                    )));
                }
                subnet
            }
            None => free_subnet(&existing, host, request.name.as_str())?,
        };
        if request.gateway.is_some() && request.subnet.is_none() {
            return Err(EngineError::InvalidArg(
                "a gateway needs a subnet: give --subnet too".into(),
            ));
        }
        let gateway = match request.gateway {
            Some(gateway) => {
                if !subnet.contains(&gateway)
                    || gateway == subnet.network()
                    || gateway == subnet.broadcast()
                {
                    return Err(EngineError::InvalidArg(format!(
                        "gateway {gateway} is not a host address of subnet {subnet}"
                    )));
                }
                gateway
            }
            None => first_host(&subnet).ok_or_else(|| {
                EngineError::InvalidArg(format!("subnet {subnet} has no host addresses"))
            })?,
        };
        if request.ip_range.is_some() && request.subnet.is_none() {
            return Err(EngineError::InvalidArg(
                "an IP range needs a subnet: give --subnet too".into(),
            ));
        }
        let lease_range = match request.ip_range {
            None => None,
            Some(IpRange::Cidr(range)) => Some(super::LeaseRange::within(range, &subnet)?),
            Some(IpRange::Addresses(start, end)) => {
                let hosts = super::LeaseRange::within(subnet, &subnet)?;
                if start > end || !hosts.contains(start) || !hosts.contains(end) {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid IP range {start}-{end}: host addresses of the subnet {subnet}, the first not after the last"
                    )));
                }
                Some(super::LeaseRange {
                    start_ip: start,
                    end_ip: end,
                })
            }
        };
        Ok(Network {
            name: request.name.clone(),
            id: crate::names::random_id(),
            driver: driver.to_string(),
            network_interface: Some(interface),
            created: chrono::Utc::now(),
            subnets: vec![Subnet {
                subnet,
                gateway: Some(gateway),
                lease_range,
            }],
            ipv6_enabled: false,
            internal: request.internal,
            dns_enabled: !request.disable_dns,
            labels: request.labels.clone(),
            options: checked_options(&request.options)?,
            ipam_options: BTreeMap::from([("driver".to_string(), "host-local".to_string())]),
        })
    }

    /// Store a new definition; an existing file of that name is an error.
    fn write_new(&self, network: &Network) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| EngineError::io("creating", &self.dir, e))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| EngineError::io("setting the mode of", &self.dir, e))?;
        let json = serde_json::to_vec_pretty(network)
            .map_err(|e| EngineError::InvalidArg(format!("serializing a network: {e}")))?;
        let path = self.file(&network.name);
        let tmp = self.dir.join(format!(".{}.json.tmp", network.name));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            // A hard link fails when the name exists: no definition is ever overwritten.
            fs::hard_link(&tmp, &path)?;
            fs::remove_file(&tmp)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                EngineError::NetworkExists(network.name.clone())
            } else {
                EngineError::io("writing", &path, e)
            }
        })
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        let path = self.file(name);
        fs::remove_file(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                EngineError::NoSuchNetwork(name.to_string())
            } else {
                EngineError::io("removing", &path, e)
            }
        })
    }
}

fn read(path: &Path) -> Result<Network> {
    let text = fs::read(path).map_err(|e| EngineError::io("reading", path, e))?;
    serde_json::from_slice(&text).map_err(|e| {
        EngineError::InvalidArg(format!(
            "network definition {} is damaged: {e}",
            path.display()
        ))
    })
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Whether a bridge name is of those rpod chooses itself (`rpodN`), not one a user gave
/// (Docker's inspect shows only a name given as an option).
pub fn chosen_bridge_name(name: &str) -> bool {
    name.strip_prefix(BRIDGE_PREFIX)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn free_bridge_name(existing: &[Network], host: &HostNetworking) -> Result<String> {
    (0..1000)
        .map(|n| format!("{BRIDGE_PREFIX}{n}"))
        .find(|name| {
            !host.links.contains(name)
                && !existing
                    .iter()
                    .any(|n| n.network_interface.as_deref() == Some(name))
        })
        .ok_or_else(|| EngineError::InvalidArg("no free bridge name rpod0..rpod999".into()))
}

/// The default network's subnet when it is free, else (and for every other network) the
/// first /24 of 10.89.0.0/16 that neither a network nor a host route uses.
fn free_subnet(existing: &[Network], host: &HostNetworking, name: &str) -> Result<Ipv4Net> {
    let taken = |candidate: &Ipv4Net| {
        existing
            .iter()
            .flat_map(|n| n.subnets.iter())
            .any(|s| overlaps(&s.subnet, candidate))
            || host.routes.iter().any(|r| overlaps(r, candidate))
    };
    if name == crate::config::DEFAULT_NETWORK && !taken(&DEFAULT_SUBNET) {
        return Ok(DEFAULT_SUBNET);
    }
    (0..=255u8)
        .filter_map(|third| {
            let [a, b] = USER_SUBNET_BASE;
            Ipv4Net::new(Ipv4Addr::new(a, b, third, 0), 24).ok()
        })
        .find(|candidate| !taken(candidate))
        .ok_or_else(|| {
            EngineError::InvalidArg("no free subnet in 10.89.0.0/16: give --subnet".into())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str) -> NetworkRequest {
        NetworkRequest {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn routes_from_proc() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
podman0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(
            parse_routes(text),
            vec![
                "192.168.2.0/24".parse::<Ipv4Net>().unwrap(),
                "10.88.0.0/16".parse().unwrap()
            ]
        );
    }

    #[test]
    fn picks_free_names_and_subnets() {
        let dir = tempfile::tempdir().unwrap();
        let defs = Definitions::new(dir.path());
        let host = HostNetworking {
            links: HashSet::from(["rpod0".to_string()]),
            routes: vec!["10.89.0.0/24".parse().unwrap()],
        };
        let default = defs.create(&request("rpod"), &host).unwrap();
        assert_eq!(default.network_interface.as_deref(), Some("rpod1"));
        assert_eq!(default.subnets[0].subnet.to_string(), "10.88.0.0/16");
        assert_eq!(default.gateway(), Some(Ipv4Addr::new(10, 88, 0, 1)));
        assert!(default.dns_enabled);
        let second = defs.create(&request("web"), &host).unwrap();
        assert_eq!(second.network_interface.as_deref(), Some("rpod2"));
        assert_eq!(second.subnets[0].subnet.to_string(), "10.89.1.0/24");
        assert_eq!(defs.get("web").unwrap(), second);
        assert_eq!(defs.get(&second.id[..12]).unwrap().name, "web");
        assert_eq!(
            defs.list()
                .unwrap()
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>(),
            ["rpod", "web"]
        );
        // The default subnet, already routed by the host, is not taken again.
        let host = HostNetworking {
            links: HashSet::new(),
            routes: vec!["10.88.0.0/16".parse().unwrap()],
        };
        let other = Definitions::new(&dir.path().join("other"));
        let moved = other.create(&request("rpod"), &host).unwrap();
        assert_eq!(moved.subnets[0].subnet.to_string(), "10.89.0.0/24");
    }

    #[test]
    fn takes_an_mtu_and_no_other_option() {
        let dir = tempfile::tempdir().unwrap();
        let defs = Definitions::new(dir.path());
        let host = HostNetworking::default();
        let with = |name: &str, key: &str, value: &str| NetworkRequest {
            options: BTreeMap::from([(key.to_string(), value.to_string())]),
            ..request(name)
        };
        let made = defs.create(&with("small", "mtu", "1400"), &host).unwrap();
        assert_eq!(made.options.get("mtu").map(String::as_str), Some("1400"));
        // netavark reads it from the stored definition.
        let stored = defs.get("small").unwrap();
        assert_eq!(stored.options, made.options);
        for bad in ["0", "67", "65536", "big", ""] {
            assert!(
                defs.create(&with("bad", "mtu", bad), &host).is_err(),
                "mtu={bad}"
            );
        }
        assert!(matches!(
            defs.create(&with("bad", "vlan", "5"), &host),
            Err(EngineError::NotSupported(_))
        ));
        assert!(defs.get("bad").is_err());
    }

    #[test]
    fn refuses_bad_requests() {
        let dir = tempfile::tempdir().unwrap();
        let defs = Definitions::new(dir.path());
        let host = HostNetworking::default();
        let asked = NetworkRequest {
            name: "lab".into(),
            subnet: Some("10.99.3.0/24".parse().unwrap()),
            gateway: Some(Ipv4Addr::new(10, 99, 3, 254)),
            interface: Some("labbr".into()),
            internal: true,
            ..Default::default()
        };
        let lab = defs.create(&asked, &host).unwrap();
        assert_eq!(lab.gateway(), Some(Ipv4Addr::new(10, 99, 3, 254)));
        assert!(lab.internal);
        let again = defs.create(&asked, &host).unwrap_err();
        assert!(matches!(again, EngineError::NetworkExists(_)), "{again}");
        for (bad, what) in [
            (
                NetworkRequest {
                    name: "x".into(),
                    subnet: Some("10.99.3.128/25".parse().unwrap()),
                    ..Default::default()
                },
                "already used by network lab",
            ),
            (
                NetworkRequest {
                    name: "x".into(),
                    interface: Some("labbr".into()),
                    ..Default::default()
                },
                "already in use",
            ),
            (
                NetworkRequest {
                    name: "x".into(),
                    subnet: Some("10.98.0.0/24".parse().unwrap()),
                    gateway: Some(Ipv4Addr::new(10, 97, 0, 1)),
                    ..Default::default()
                },
                "not a host address",
            ),
            (
                NetworkRequest {
                    name: "x".into(),
                    driver: Some("macvlan".into()),
                    ..Default::default()
                },
                "macvlan",
            ),
            (request("a/b"), "invalid network name"),
            (
                NetworkRequest {
                    name: "x".into(),
                    interface: Some("eth0; rm".into()),
                    ..Default::default()
                },
                "invalid interface name",
            ),
        ] {
            let error = defs.create(&bad, &host).unwrap_err().to_string();
            assert!(error.contains(what), "{error}");
        }
        defs.remove("lab").unwrap();
        assert!(matches!(
            defs.get("lab").unwrap_err(),
            EngineError::NoSuchNetwork(_)
        ));
        assert!(matches!(
            defs.remove("lab").unwrap_err(),
            EngineError::NoSuchNetwork(_)
        ));
    }
}
