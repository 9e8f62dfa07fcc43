//! Network definitions on disk: `<root>/networks/NAME.json` (or `--network-config-dir`),
//! each in the JSON format netavark reads, so what rpod stores is what netavark is given.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::{first_host_of, is_host_of, valid_interface_name, valid_name, Network, Subnet};
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
    /// `bridge` (the default) or `macvlan`.
    pub driver: Option<String>,
    /// `--subnet` (with `--gateway` and `--ip-range` in the same order): none makes one
    /// IPv4 subnet chosen by rpod.
    pub subnets: Vec<SubnetRequest>,
    /// `--ipv6`: a dual-stack network, the IPv4 or IPv6 subnet that `subnets` lacks chosen
    /// by rpod (an IPv6 subnet given makes an IPv6 network without it).
    pub ipv6: bool,
    pub interface: Option<String>,
    pub internal: bool,
    pub disable_dns: bool,
    pub labels: BTreeMap<String, String>,
    /// `--ipam-driver none`: containers get no addresses on the network (they configure
    /// their own), so it has no subnet.
    pub no_ipam: bool,
    /// Driver options (`-o KEY=VALUE`): `mtu`, which netavark gives the bridge and the
    /// containers' interfaces; a macvlan network's `mode`. (A macvlan network's parent
    /// interface is `interface`, as podman stores it.)
    pub options: BTreeMap<String, String>,
}

/// One subnet asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetRequest {
    pub subnet: IpNet,
    pub gateway: Option<IpAddr>,
    /// `--ip-range`: where in the subnet containers' addresses come from.
    pub ip_range: Option<IpRange>,
}

impl SubnetRequest {
    pub fn new(subnet: IpNet) -> Self {
        SubnetRequest {
            subnet,
            gateway: None,
            ip_range: None,
        }
    }
}

/// The smallest and largest MTU of an IPv4 link.
const MTU_RANGE: std::ops::RangeInclusive<u32> = 68..=65535;

/// The modes of a macvlan interface netavark sets (the kernel's).
const MACVLAN_MODES: [&str; 4] = ["bridge", "private", "vepa", "passthru"];

/// The driver options a network may have, checked: `mtu` (netavark 1.4 knows no other of
/// podman's bridge options), and a macvlan network's `mode`.
fn checked_options(
    driver: Driver,
    options: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    for (key, value) in options {
        match key.as_str() {
            "mode" if driver == Driver::Macvlan => {
                if !MACVLAN_MODES.contains(&value.as_str()) {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid macvlan mode={value:?}: one of {}",
                        MACVLAN_MODES.join(", ")
                    )));
                }
            }
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
                    "the network option {other:?} (rpod's bridge networks take mtu, macvlan networks mtu and mode)"
                )))
            }
        }
    }
    Ok(options.clone())
}

/// The network drivers rpod makes networks with (netavark's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    Bridge,
    /// Containers' interfaces on a host interface of their own MAC addresses: no bridge,
    /// no firewall rules, no published ports, no name server.
    Macvlan,
}

impl Driver {
    fn parse(name: &str) -> Result<Driver> {
        match name {
            "bridge" => Ok(Driver::Bridge),
            "macvlan" => Ok(Driver::Macvlan),
            "ipvlan" => Err(EngineError::NotSupported(
                "the network driver \"ipvlan\" (bridge or macvlan; netavark 1.4 has no ipvlan)"
                    .into(),
            )),
            // podman's words for a driver it does not know either.
            other => Err(EngineError::InvalidArg(format!(
                "unsupported driver {other}: invalid argument"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Macvlan => "macvlan",
        }
    }
}

/// A part of a subnet: a CIDR (`--ip-range`, Docker's `IPRange`) or first and last
/// addresses (podman's `lease_range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRange {
    Cidr(IpNet),
    Addresses(IpAddr, IpAddr),
}

/// What the host already uses, so that a new network does not collide with it.
#[derive(Debug, Clone, Default)]
pub struct HostNetworking {
    pub links: HashSet<String>,
    pub routes: Vec<IpNet>,
    /// The interface of the IPv4 default route: a macvlan network's parent when none is
    /// given, as podman chooses it.
    pub default_interface: Option<String>,
}

impl HostNetworking {
    /// The host's interface names and routes.
    pub fn read() -> Self {
        let links = fs::read_dir("/sys/class/net")
            .map(|dir| {
                dir.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let table = fs::read_to_string("/proc/net/route").unwrap_or_default();
        let mut routes = parse_routes(&table);
        let default_interface = default_route_interface(&table);
        routes.extend(
            fs::read_to_string("/proc/net/ipv6_route")
                .map(|text| parse_ipv6_routes(&text))
                .unwrap_or_default(),
        );
        HostNetworking {
            links,
            routes,
            default_interface,
        }
    }
}

/// `/proc/net/route`: destination and mask in hex, in the host's byte order (little endian
/// on every machine rpod runs on). The default route (mask 0) covers everything and is
/// left out.
fn parse_routes(text: &str) -> Vec<IpNet> {
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
            Ipv4Net::new(address, prefix).ok().map(IpNet::V4)
        })
        .collect()
}

/// The interface of `/proc/net/route`'s first default route (destination and mask 0).
fn default_route_interface(text: &str) -> Option<String> {
    text.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let default = fields.get(1) == Some(&"00000000") && fields.get(7) == Some(&"00000000");
        default.then(|| fields[0].to_string())
    })
}

/// `/proc/net/ipv6_route`: the destination in 32 hex digits and its prefix length in hex,
/// first on each line. Default routes (prefix 0) and multicast and link-local routes, which
/// no network's subnet can take, are left out.
fn parse_ipv6_routes(text: &str) -> Vec<IpNet> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let destination = u128::from_str_radix(fields.next()?, 16).ok()?;
            let prefix = u8::from_str_radix(fields.next()?, 16).ok()?;
            let address = Ipv6Addr::from(destination);
            let special = address.is_multicast() || address.segments()[0] & 0xffc0 == 0xfe80;
            if prefix == 0 || special {
                return None;
            }
            Ipv6Net::new(address, prefix).ok().map(IpNet::V6)
        })
        .collect()
}

pub struct Definitions {
    dir: PathBuf,
}

impl Definitions {
    /// The definitions in `dir` (ROOT/networks, or `--network-config-dir`).
    pub fn new(dir: &Path) -> Self {
        Definitions {
            dir: dir.to_path_buf(),
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
        let driver = Driver::parse(request.driver.as_deref().unwrap_or("bridge"))?;
        let existing = self.list()?;
        if existing.iter().any(|n| n.name == request.name) {
            return Err(EngineError::NetworkExists(request.name.clone()));
        }
        let interface = match driver {
            Driver::Bridge => bridge_name(request, &existing, host)?,
            Driver::Macvlan => macvlan_parent(request, host)?,
        };
        if driver == Driver::Macvlan {
            if request.subnets.is_empty() && !request.no_ipam {
                return Err(EngineError::InvalidArg(
                    "a macvlan network needs --subnet (its addresses are rpod's to give: rpod has no DHCP)".into(),
                ));
            }
            if request.internal {
                return Err(EngineError::NotSupported(
                    "--internal for a macvlan network (its interfaces are on the host's link)"
                        .into(),
                ));
            }
        }
        if request.no_ipam {
            if !request.subnets.is_empty() || request.ipv6 {
                return Err(EngineError::InvalidArg(
                    "--ipam-driver none gives no addresses: it takes no --subnet, --gateway, --ip-range or --ipv6".into(),
                ));
            }
            return Ok(Network {
                subnets: Vec::new(),
                ipv6_enabled: false,
                // aardvark-dns answers on the gateway's address, which there is none of.
                dns_enabled: false,
                ipam_options: BTreeMap::from([("driver".to_string(), "none".to_string())]),
                ..network_of(request, driver, interface)?
            });
        }
        // A bridge's subnet must not be the host's already (an interface's, or a route's,
        // as another store's bridge): the host would route it elsewhere, as podman refuses
        // it. A macvlan network's is usually its parent's link's own.
        let host_routes: &[IpNet] = match driver {
            Driver::Bridge => &host.routes,
            Driver::Macvlan => &[],
        };
        let mut subnets: Vec<Subnet> = Vec::new();
        for asked in &request.subnets {
            let subnet = checked_subnet(asked, &existing, host_routes, &subnets)?;
            subnets.push(subnet);
        }
        let has =
            |subnets: &[Subnet], v6: bool| subnets.iter().any(|s| s.subnet.addr().is_ipv6() == v6);
        // podman's rule: no subnet makes an IPv4 one; `--ipv6` makes the network dual-stack.
        if subnets.is_empty() || (request.ipv6 && !has(&subnets, false)) {
            let chosen = free_subnet(&existing, host, request.name.as_str())?;
            subnets.push(chosen_subnet(IpNet::V4(chosen)));
        }
        if request.ipv6 && !has(&subnets, true) {
            let chosen = free_ipv6_subnet(&existing, host)?;
            subnets.push(chosen_subnet(IpNet::V6(chosen)));
        }
        let ipv6_enabled = has(&subnets, true);
        Ok(Network {
            subnets,
            ipv6_enabled,
            ..network_of(request, driver, interface)?
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

/// The definition's parts every request makes alike; host-local addresses, no subnet yet.
fn network_of(request: &NetworkRequest, driver: Driver, interface: String) -> Result<Network> {
    Ok(Network {
        name: request.name.clone(),
        id: crate::names::random_id(),
        driver: driver.name().to_string(),
        network_interface: Some(interface),
        created: chrono::Utc::now(),
        subnets: Vec::new(),
        ipv6_enabled: false,
        internal: request.internal,
        // aardvark-dns serves bridge networks only (netavark's).
        dns_enabled: driver == Driver::Bridge && !request.disable_dns,
        labels: request.labels.clone(),
        options: checked_options(driver, &request.options)?,
        ipam_options: BTreeMap::from([("driver".to_string(), "host-local".to_string())]),
    })
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// A subnet rpod chose: its gateway is its first host address.
fn chosen_subnet(subnet: IpNet) -> Subnet {
    Subnet {
        subnet,
        gateway: Some(first_host_of(&subnet)),
        lease_range: None,
    }
}

/// A subnet asked for, checked: room for a gateway and a container, no overlap with the
/// stored networks, the host's routes given or the request's other subnets, a gateway and
/// a range inside it.
fn checked_subnet(
    asked: &SubnetRequest,
    existing: &[Network],
    host_routes: &[IpNet],
    earlier: &[Subnet],
) -> Result<Subnet> {
    let subnet = asked.subnet.trunc();
    let smallest = if subnet.addr().is_ipv6() { 126 } else { 30 };
    if subnet.prefix_len() > smallest {
        return Err(EngineError::InvalidArg(format!(
            "subnet {} is too small: it needs room for a gateway and a container",
            asked.subnet
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
    if let Some(route) = host_routes.iter().find(|r| overlaps(r, &subnet)) {
        return Err(EngineError::InvalidArg(format!(
            "subnet {subnet} is already used on the host (its route to {route})"
        )));
    }
    if let Some(other) = earlier.iter().find(|s| overlaps(&s.subnet, &subnet)) {
        return Err(EngineError::InvalidArg(format!(
            "subnet {subnet} overlaps the subnet {} given before it",
            other.subnet
        )));
    }
    let gateway = match asked.gateway {
        Some(gateway) => {
            if !is_host_of(&subnet, gateway) {
                return Err(EngineError::InvalidArg(format!(
                    "gateway {gateway} is not a host address of subnet {subnet}"
                )));
            }
            gateway
        }
        None => first_host_of(&subnet),
    };
    let lease_range = match asked.ip_range {
        None => None,
        Some(IpRange::Cidr(range)) => Some(super::LeaseRange::within(range, &subnet)?),
        Some(IpRange::Addresses(start, end)) => {
            // Addresses of the subnet, the first not after the last; its network and
            // broadcast addresses left out (podman's clients send a CIDR's last address,
            // the broadcast one for a range at the subnet's end).
            let inside = subnet.contains(&start) && subnet.contains(&end);
            let first = start.max(first_host_of(&subnet));
            let last = end.min(super::last_host_of(&subnet));
            if !inside || first > last {
                return Err(EngineError::InvalidArg(format!(
                    "invalid IP range {start}-{end}: addresses of the subnet {subnet}, the first not after the last, a host address among them"
                )));
            }
            Some(super::LeaseRange {
                start_ip: first,
                end_ip: last,
            })
        }
    };
    Ok(Subnet {
        subnet,
        gateway: Some(gateway),
        lease_range,
    })
}

/// A bridge network's bridge: the name asked for (not another network's bridge), else the
/// first free `rpodN`.
fn bridge_name(
    request: &NetworkRequest,
    existing: &[Network],
    host: &HostNetworking,
) -> Result<String> {
    let Some(name) = &request.interface else {
        return free_bridge_name(existing, host);
    };
    if !valid_interface_name(name) {
        return Err(EngineError::InvalidArg(format!(
            "invalid interface name {name:?}: at most 15 letters, digits, '.', '_' or '-'"
        )));
    }
    if let Some(other) = existing
        .iter()
        .find(|n| n.is_bridge() && n.network_interface.as_deref() == Some(name))
    {
        return Err(EngineError::InvalidArg(format!(
            "bridge name {name} already in use by network {}",
            other.name
        )));
    }
    Ok(name.clone())
}

/// A macvlan network's parent: the host interface asked for, else that of the default
/// route. Several macvlan networks may share one.
fn macvlan_parent(request: &NetworkRequest, host: &HostNetworking) -> Result<String> {
    let parent = match &request.interface {
        Some(name) => name.clone(),
        None => host.default_interface.clone().ok_or_else(|| {
            EngineError::InvalidArg(
                "the host has no default route to take a macvlan parent from: give -o parent=INTERFACE".into(),
            )
        })?,
    };
    if !valid_interface_name(&parent) || !host.links.contains(&parent) {
        return Err(EngineError::InvalidArg(format!(
            "parent interface {parent:?} does not exist on the host"
        )));
    }
    Ok(parent)
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
    let taken = |candidate: &Ipv4Net| subnet_taken(existing, host, &IpNet::V4(*candidate));
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

fn subnet_taken(existing: &[Network], host: &HostNetworking, candidate: &IpNet) -> bool {
    existing
        .iter()
        .flat_map(|n| n.subnets.iter())
        .any(|s| overlaps(&s.subnet, candidate))
        || host.routes.iter().any(|r| overlaps(r, candidate))
}

/// A random unique local /64 (`fdXX:XXXX:XXXX:XXXX::/64`, RFC 4193's global ID and a
/// subnet ID, as podman chooses one) that neither a network nor a host route uses.
fn free_ipv6_subnet(existing: &[Network], host: &HostNetworking) -> Result<Ipv6Net> {
    use rand::RngCore;
    for _ in 0..100 {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes[1..8]);
        bytes[0] = 0xfd;
        let candidate = Ipv6Net::new(Ipv6Addr::from(bytes), 64)
            .map_err(|e| EngineError::InvalidArg(format!("an IPv6 subnet: {e}")))?;
        if !subnet_taken(existing, host, &IpNet::V6(candidate)) {
            return Ok(candidate);
        }
    }
    Err(EngineError::InvalidArg(
        "no free IPv6 subnet found: give one with --subnet".into(),
    ))
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

    fn subnet(text: &str) -> SubnetRequest {
        SubnetRequest::new(text.parse().unwrap())
    }

    fn with_subnets(name: &str, subnets: Vec<SubnetRequest>) -> NetworkRequest {
        NetworkRequest {
            subnets,
            ..request(name)
        }
    }

    fn subnet_texts(network: &Network) -> Vec<(String, String)> {
        network
            .subnets
            .iter()
            .map(|s| {
                let gateway = s.gateway.map(|g| g.to_string()).unwrap_or_default();
                (s.subnet.to_string(), gateway)
            })
            .collect()
    }

    #[test]
    fn drivers_rpod_lacks_are_not_supported_unknown_ones_invalid() {
        assert!(matches!(
            Driver::parse("ipvlan"),
            Err(EngineError::NotSupported(_))
        ));
        let err = Driver::parse("bogus").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported driver bogus: invalid argument"
        );
        assert!(matches!(err, EngineError::InvalidArg(_)));
    }

    #[test]
    fn ipv6_and_dual_stack_networks_as_podman_makes_them() {
        let dir = tempfile::tempdir().unwrap();
        let defs = Definitions::new(&dir.path().join("networks"));
        let host = HostNetworking::default();
        // Given subnets of both families, gateways in their order.
        let dual = defs
            .create(
                &with_subnets(
                    "dual",
                    vec![
                        SubnetRequest {
                            gateway: Some(IpAddr::from([10, 77, 0, 254])),
                            ..subnet("10.77.0.0/24")
                        },
                        SubnetRequest {
                            gateway: Some("fd77::fe".parse().unwrap()),
                            ..subnet("fd77::/64")
                        },
                    ],
                ),
                &host,
            )
            .unwrap();
        assert!(dual.ipv6_enabled);
        assert_eq!(
            subnet_texts(&dual),
            [
                ("10.77.0.0/24".into(), "10.77.0.254".into()),
                ("fd77::/64".into(), "fd77::fe".into())
            ]
        );
        // An IPv6 subnet alone: an IPv6 network, its first address the gateway.
        let only = defs
            .create(&with_subnets("only6", vec![subnet("fd88::5/64")]), &host)
            .unwrap();
        assert!(only.ipv6_enabled);
        assert_eq!(
            subnet_texts(&only),
            [("fd88::/64".into(), "fd88::1".into())]
        );
        // --ipv6 alone: a free IPv4 /24 and a random unique local /64.
        let chosen = defs
            .create(
                &NetworkRequest {
                    ipv6: true,
                    ..request("v6lab")
                },
                &host,
            )
            .unwrap();
        assert!(chosen.ipv6_enabled);
        assert_eq!(chosen.subnets.len(), 2);
        assert_eq!(chosen.subnets[0].subnet.to_string(), "10.89.0.0/24");
        let v6 = chosen.subnets[1].subnet;
        assert_eq!(v6.prefix_len(), 64);
        assert!(v6.to_string().starts_with("fd"), "{v6}");
        assert_eq!(chosen.subnets[1].gateway, Some(first_host_of(&v6)));
        // A host that routes every unique local address leaves none to choose.
        let routed = HostNetworking {
            routes: vec!["fd00::/8".parse().unwrap()],
            ..HostNetworking::default()
        };
        let none_free = defs
            .create(
                &NetworkRequest {
                    ipv6: true,
                    ..request("nofree")
                },
                &routed,
            )
            .unwrap_err()
            .to_string();
        assert!(none_free.contains("no free IPv6 subnet"), "{none_free}");
        assert!(defs.get("nofree").is_err());
        // --ipv6 with an IPv4 subnet given: the IPv6 one is added; with an IPv6 one, the
        // IPv4 one.
        let v4_given = defs
            .create(
                &NetworkRequest {
                    ipv6: true,
                    ..with_subnets("v4given", vec![subnet("10.66.0.0/24")])
                },
                &host,
            )
            .unwrap();
        assert_eq!(v4_given.subnets.len(), 2);
        assert!(v4_given.subnets[1].subnet.addr().is_ipv6());
        let v6_given = defs
            .create(
                &NetworkRequest {
                    ipv6: true,
                    ..with_subnets("v6given", vec![subnet("fd66::/64")])
                },
                &host,
            )
            .unwrap();
        assert_eq!(v6_given.subnets[0].subnet.to_string(), "fd66::/64");
        assert_eq!(v6_given.subnets[1].subnet.to_string(), "10.89.1.0/24");
        // An IPv6 range, as podman's client sends it.
        let ranged = defs
            .create(
                &with_subnets(
                    "r6",
                    vec![SubnetRequest {
                        ip_range: Some(IpRange::Addresses(
                            "fd99::101".parse().unwrap(),
                            "fd99::1ff".parse().unwrap(),
                        )),
                        ..subnet("fd99::/64")
                    }],
                ),
                &host,
            )
            .unwrap();
        let range = ranged.subnets[0].lease_range.unwrap();
        assert_eq!(range.start_ip.to_string(), "fd99::101");
        // The stored form is netavark's (and podman's).
        let stored: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join("networks/r6.json")).unwrap())
                .unwrap();
        assert_eq!(
            stored["subnets"][0],
            serde_json::json!({"subnet": "fd99::/64", "gateway": "fd99::1",
                "lease_range": {"start_ip": "fd99::101", "end_ip": "fd99::1ff"}})
        );
        // podman's client sends a CIDR range's last address, the broadcast one for a range at
        // the subnet's end: hosts only are leased.
        let ended = defs
            .create(
                &with_subnets(
                    "r4",
                    vec![SubnetRequest {
                        ip_range: Some(IpRange::Addresses(
                            "10.98.0.128".parse().unwrap(),
                            "10.98.0.255".parse().unwrap(),
                        )),
                        ..subnet("10.98.0.0/24")
                    }],
                ),
                &host,
            )
            .unwrap();
        let range = ended.subnets[0].lease_range.unwrap();
        assert_eq!(
            (range.start_ip.to_string(), range.end_ip.to_string()),
            ("10.98.0.128".to_string(), "10.98.0.254".to_string())
        );
        for (start, end) in [("10.97.0.5", "10.97.0.9"), ("10.97.0.9", "10.97.0.5")] {
            let error = defs
                .create(
                    &with_subnets(
                        "bad-range",
                        vec![SubnetRequest {
                            ip_range: Some(IpRange::Addresses(
                                start.parse().unwrap(),
                                end.parse().unwrap(),
                            )),
                            ..subnet(if start < end {
                                "10.96.0.0/24"
                            } else {
                                "10.97.0.0/24"
                            })
                        }],
                    ),
                    &host,
                )
                .unwrap_err();
            assert!(error.to_string().contains("invalid IP range"), "{error}");
        }
        // A used IPv6 subnet is refused like an IPv4 one.
        let error = defs
            .create(&with_subnets("again", vec![subnet("fd77::/48")]), &host)
            .unwrap_err();
        assert!(
            error.to_string().contains("already used by network dual"),
            "{error}"
        );
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
                "192.168.2.0/24".parse::<IpNet>().unwrap(),
                "10.88.0.0/16".parse().unwrap()
            ]
        );
        // Default, link-local and multicast routes are left out.
        let text = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00200200       lo
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000003 00000000 00000001     eth0
";
        assert_eq!(
            parse_ipv6_routes(text),
            vec!["fd00::/64".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn macvlan_networks_as_podman_stores_them() {
        let dir = tempfile::tempdir().unwrap();
        let defs = Definitions::new(&dir.path().join("networks"));
        let host = HostNetworking {
            links: HashSet::from(["eth0".to_string(), "eth1".to_string()]),
            routes: Vec::new(),
            default_interface: Some("eth0".into()),
        };
        let macvlan = |name: &str, interface: Option<&str>, mode: Option<&str>| NetworkRequest {
            driver: Some("macvlan".into()),
            interface: interface.map(String::from),
            options: mode
                .map(|m| BTreeMap::from([("mode".to_string(), m.to_string())]))
                .unwrap_or_default(),
            ..with_subnets(name, vec![subnet("192.168.7.0/24")])
        };
        // The default route's interface is the parent when none is given.
        let lan = defs.create(&macvlan("lan", None, None), &host).unwrap();
        assert_eq!(lan.driver, "macvlan");
        assert_eq!(lan.network_interface.as_deref(), Some("eth0"));
        assert!(!lan.is_bridge());
        assert!(!lan.dns_enabled, "aardvark-dns serves bridges only");
        assert_eq!(lan.gateway(), Some(IpAddr::from([192, 168, 7, 1])));
        let private = defs
            .create(
                &NetworkRequest {
                    subnets: vec![subnet("192.168.8.0/24")],
                    ..macvlan("quiet", Some("eth1"), Some("private"))
                },
                &host,
            )
            .unwrap();
        assert_eq!(private.network_interface.as_deref(), Some("eth1"));
        assert_eq!(private.options["mode"], "private");
        for (request, says) in [
            (
                NetworkRequest {
                    subnets: Vec::new(),
                    ..macvlan("x", None, None)
                },
                "needs --subnet",
            ),
            (macvlan("x", Some("eth9"), None), "does not exist"),
            (
                macvlan("x", Some("eth0"), Some("loud")),
                "invalid macvlan mode",
            ),
            (
                NetworkRequest {
                    internal: true,
                    ..macvlan("x", None, None)
                },
                "--internal",
            ),
            (
                NetworkRequest {
                    options: BTreeMap::from([("mode".to_string(), "private".to_string())]),
                    ..request("x")
                },
                "\"mode\"",
            ),
        ] {
            // A subnet no network has, so that the refusal is the request's own.
            let request = NetworkRequest {
                subnets: match request.subnets.is_empty() {
                    true => Vec::new(),
                    false => vec![subnet("192.168.10.0/24")],
                },
                ..request
            };
            let error = defs.create(&request, &host).unwrap_err().to_string();
            assert!(error.contains(says), "{error}");
        }
        // No default route, no parent given: said so.
        let error = defs
            .create(
                &NetworkRequest {
                    subnets: vec![subnet("192.168.9.0/24")],
                    ..macvlan("y", None, None)
                },
                &HostNetworking::default(),
            )
            .unwrap_err();
        assert!(error.to_string().contains("-o parent="), "{error}");
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
ens3\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
ens3\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(default_route_interface(table).as_deref(), Some("ens3"));
    }

    #[test]
    fn a_network_without_address_management_has_no_subnet() {
        let dir = tempfile::tempdir().unwrap();
        let defs = Definitions::new(&dir.path().join("networks"));
        let host = HostNetworking::default();
        let bare = defs
            .create(
                &NetworkRequest {
                    no_ipam: true,
                    ..request("bare")
                },
                &host,
            )
            .unwrap();
        assert!(bare.subnets.is_empty());
        assert!(!bare.gives_addresses());
        assert!(!bare.dns_enabled);
        assert_eq!(bare.ipam_options["driver"], "none");
        // As podman stores it (no `subnets` key is read as none).
        let stored = fs::read_to_string(dir.path().join("networks/bare.json")).unwrap();
        assert!(stored.contains("\"driver\": \"none\""), "{stored}");
        for refused in [
            NetworkRequest {
                no_ipam: true,
                ..with_subnets("x", vec![subnet("10.70.0.0/24")])
            },
            NetworkRequest {
                no_ipam: true,
                ipv6: true,
                ..request("x")
            },
        ] {
            let error = defs.create(&refused, &host).unwrap_err().to_string();
            assert!(error.contains("gives no addresses"), "{error}");
        }
    }

    #[test]
    fn picks_free_names_and_subnets() {
        let dir = tempfile::tempdir().unwrap();
        let defs = Definitions::new(&dir.path().join("networks"));
        let host = HostNetworking {
            links: HashSet::from(["rpod0".to_string()]),
            routes: vec!["10.89.0.0/24".parse().unwrap()],
            default_interface: None,
        };
        let default = defs.create(&request("rpod"), &host).unwrap();
        assert_eq!(default.network_interface.as_deref(), Some("rpod1"));
        assert_eq!(default.subnets[0].subnet.to_string(), "10.88.0.0/16");
        assert_eq!(default.gateway(), Some(IpAddr::from([10, 88, 0, 1])));
        assert!(!default.ipv6_enabled);
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
            default_interface: None,
        };
        assert!(subnet_taken(&[], &host, &"10.88.3.0/24".parse().unwrap()));
        let other = Definitions::new(&dir.path().join("other/networks"));
        let moved = other.create(&request("rpod"), &host).unwrap();
        assert_eq!(moved.subnets[0].subnet.to_string(), "10.89.0.0/24");
        // Nor is it taken when asked for, by a bridge; a macvlan network may share it.
        let asked = |driver: &str| NetworkRequest {
            driver: Some(driver.to_string()),
            interface: (driver == "macvlan").then(|| "eth9".to_string()),
            subnets: vec![SubnetRequest::new("10.88.3.0/24".parse().unwrap())],
            ..request("asked")
        };
        let err = other.plan(&asked("bridge"), &host).unwrap_err().to_string();
        assert!(err.contains("already used on the host"), "{err}");
        let host = HostNetworking {
            links: HashSet::from(["eth9".to_string()]),
            ..host
        };
        assert!(other.plan(&asked("macvlan"), &host).is_ok());
    }

    #[test]
    fn takes_an_mtu_and_no_other_option() {
        let dir = tempfile::tempdir().unwrap();
        let defs = Definitions::new(&dir.path().join("networks"));
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
        let defs = Definitions::new(&dir.path().join("networks"));
        let host = HostNetworking::default();
        let asked = NetworkRequest {
            name: "lab".into(),
            subnets: vec![SubnetRequest {
                gateway: Some(IpAddr::from([10, 99, 3, 254])),
                ..subnet("10.99.3.0/24")
            }],
            interface: Some("labbr".into()),
            internal: true,
            ..Default::default()
        };
        let lab = defs.create(&asked, &host).unwrap();
        assert_eq!(lab.gateway(), Some(IpAddr::from([10, 99, 3, 254])));
        assert!(lab.internal);
        let again = defs.create(&asked, &host).unwrap_err();
        assert!(matches!(again, EngineError::NetworkExists(_)), "{again}");
        for (bad, what) in [
            (
                with_subnets("x", vec![subnet("10.99.3.128/25")]),
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
                with_subnets(
                    "x",
                    vec![SubnetRequest {
                        gateway: Some(IpAddr::from([10, 97, 0, 1])),
                        ..subnet("10.98.0.0/24")
                    }],
                ),
                "not a host address",
            ),
            (
                with_subnets(
                    "x",
                    vec![SubnetRequest {
                        gateway: Some("fd98::1".parse().unwrap()),
                        ..subnet("10.98.0.0/24")
                    }],
                ),
                "not a host address",
            ),
            (
                with_subnets("x", vec![subnet("fd98::/64"), subnet("fd98::/48")]),
                "overlaps the subnet fd98::/64",
            ),
            (with_subnets("x", vec![subnet("fd98::/127")]), "too small"),
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
