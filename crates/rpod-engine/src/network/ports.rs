//! Published ports: `-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]` as podman parses it,
//! ranges, and host ports chosen for the ones left open.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// One published port or range, in netavark's shape (it is passed to netavark as it is).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortMapping {
    /// The host address to bind; empty for all.
    pub host_ip: String,
    pub container_port: u16,
    /// 0 until a free port is chosen (`-p 80`, `-P`).
    pub host_port: u16,
    pub protocol: String,
    /// How many consecutive ports, from both starts.
    pub range: u16,
}

fn invalid(spec: &str, why: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("invalid port format {spec:?}: {why}"))
}

/// `START[-END]`, as a start and a count.
fn parse_range(text: &str, spec: &str) -> Result<(u16, u16)> {
    let number = |t: &str| -> Result<u16> {
        match t.parse::<u16>() {
            Ok(0) | Err(_) => Err(invalid(spec, format!("{t:?} is not a port (1-65535)"))),
            Ok(n) => Ok(n),
        }
    };
    match text.split_once('-') {
        None => Ok((number(text)?, 1)),
        Some((start, end)) => {
            let (start, end) = (number(start)?, number(end)?);
            if end < start {
                return Err(invalid(spec, "the range ends before it starts"));
            }
            Ok((start, end - start + 1))
        }
    }
}

/// Parse one `-p` value into one mapping per protocol.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
    let (addresses, protocols) = match spec.rsplit_once('/') {
        Some((rest, protocols)) => (rest, protocols),
        None => (spec, "tcp"),
    };
    let protocols: Vec<&str> = protocols.split(',').collect();
    for protocol in &protocols {
        if !matches!(*protocol, "tcp" | "udp" | "sctp") {
            return Err(invalid(
                spec,
                format!("unknown protocol {protocol:?} (tcp, udp or sctp)"),
            ));
        }
    }
    // An IPv6 host address comes in brackets: [::1]:8080:80.
    let (host_ip, ports) = if let Some(rest) = addresses.strip_prefix('[') {
        let (ip, rest) = rest
            .split_once(']')
            .ok_or_else(|| invalid(spec, "missing ']'"))?;
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| invalid(spec, "a host address needs ports after it"))?;
        (ip.to_string(), rest)
    } else {
        let parts: Vec<&str> = addresses.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), addresses),
            3 => (parts[0].to_string(), &addresses[parts[0].len() + 1..]),
            _ => return Err(invalid(spec, "too many ':'")),
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<IpAddr>().is_err() {
        return Err(invalid(spec, format!("{host_ip:?} is not an IP address")));
    }
    let (host, container) = match ports.split_once(':') {
        Some((host, container)) => (host, container),
        None => ("", ports),
    };
    let (container_port, range) = parse_range(container, spec)?;
    let host_port = if host.is_empty() {
        0
    } else {
        let (start, count) = parse_range(host, spec)?;
        if count != range {
            return Err(invalid(
                spec,
                "the host and container ranges differ in length",
            ));
        }
        start
    };
    if u32::from(container_port) + u32::from(range) - 1 > 65535
        || u32::from(host_port) + u32::from(range) - 1 > 65535
    {
        return Err(invalid(spec, "the range goes past 65535"));
    }
    Ok(protocols
        .into_iter()
        .map(|protocol| PortMapping {
            host_ip: host_ip.clone(),
            container_port,
            host_port,
            protocol: protocol.to_string(),
            range,
        })
        .collect())
}

/// An image's `ExposedPorts` key (`80/tcp`, `53/udp`, `8000-8002`) as mappings to be given
/// host ports (`-P`).
pub fn parse_exposed(key: &str) -> Result<Vec<PortMapping>> {
    let (ports, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
    let (container_port, range) = parse_range(ports, key)?;
    if !matches!(protocol, "tcp" | "udp" | "sctp") {
        return Err(invalid(key, format!("unknown protocol {protocol:?}")));
    }
    Ok(vec![PortMapping {
        host_ip: String::new(),
        container_port,
        host_port: 0,
        protocol: protocol.to_string(),
        range,
    }])
}

/// The most ports a container may expose: every port of each protocol. A bound on what a
/// request or an image (whose ranges are spelled out one port each) makes rpod keep.
pub const MAX_EXPOSED: u64 = 3 * 65535;

/// Exposed ports (`80`, `53/udp`, `8000-8002/tcp`) as `PORT/PROTOCOL` keys, one per port,
/// as Docker's `ExposedPorts` has them: sorted, each once. Ranges adding up to more than
/// `MAX_EXPOSED` ports are refused before any is spelled out.
pub fn exposed_keys<S: AsRef<str>>(specs: &[S]) -> Result<Vec<String>> {
    let mut mappings = Vec::new();
    for spec in specs {
        mappings.extend(parse_exposed(spec.as_ref())?);
    }
    let total: u64 = mappings.iter().map(|m| u64::from(m.range.max(1))).sum();
    if total > MAX_EXPOSED {
        return Err(EngineError::InvalidArg(format!(
            "{total} exposed ports: at most {MAX_EXPOSED} (every port of tcp, udp and sctp)"
        )));
    }
    let mut keys = std::collections::BTreeSet::new();
    for mapping in &mappings {
        let last = mapping
            .container_port
            .saturating_add(mapping.range.max(1) - 1);
        for port in mapping.container_port..=last {
            keys.insert(format!("{port}/{}", mapping.protocol));
        }
    }
    Ok(keys.into_iter().collect())
}

/// Choose free host ports for mappings that have none, and refuse two mappings of one
/// host port. A chosen port is free when chosen; like podman, rpod does not hold it, but it
/// never chooses one that another container (`others`, running or not) publishes, which
/// would make the two conflict when both run.
pub fn assign_host_ports(mappings: &mut [PortMapping], others: &[PortMapping]) -> Result<()> {
    let mut used: BTreeMap<(String, String, u16), ()> = BTreeMap::new();
    let taken: std::collections::BTreeSet<(String, u16)> = others
        .iter()
        .flat_map(|m| {
            (m.host_port..m.host_port.saturating_add(m.range)).map(|p| (m.protocol.clone(), p))
        })
        .collect();
    let claim = |m: &PortMapping, used: &mut BTreeMap<_, _>| -> Result<()> {
        for port in m.host_port..m.host_port + m.range {
            let key = (m.host_ip.clone(), m.protocol.clone(), port);
            if used.insert(key, ()).is_some() {
                return Err(EngineError::InvalidArg(format!(
                    "host port {port}/{} is published twice",
                    m.protocol
                )));
            }
        }
        Ok(())
    };
    for m in mappings.iter().filter(|m| m.host_port != 0) {
        claim(m, &mut used)?;
    }
    for m in mappings.iter_mut().filter(|m| m.host_port == 0) {
        m.host_port = free_port_range(&m.host_ip, &m.protocol, m.range, |p| {
            (p..p + m.range).all(|q| {
                !used.contains_key(&(m.host_ip.clone(), m.protocol.clone(), q))
                    && !taken.contains(&(m.protocol.clone(), q))
            })
        })?;
        claim(m, &mut used)?;
    }
    Ok(())
}

/// A start port such that `count` ports from it can be bound now, from the kernel's
/// ephemeral choice (binding port 0) for single ports.
fn free_port_range(
    host_ip: &str,
    protocol: &str,
    count: u16,
    unclaimed: impl Fn(u16) -> bool,
) -> Result<u16> {
    let ip: IpAddr = if host_ip.is_empty() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        host_ip
            .parse()
            .map_err(|_| EngineError::InvalidArg(format!("{host_ip:?} is not an IP address")))?
    };
    let bindable = |port: u16| -> bool {
        let address = SocketAddr::new(ip, port);
        match protocol {
            "udp" => UdpSocket::bind(address).is_ok(),
            _ => TcpListener::bind(address).is_ok(),
        }
    };
    for _ in 0..100 {
        let start = match protocol {
            "udp" => UdpSocket::bind(SocketAddr::new(ip, 0)).and_then(|s| s.local_addr()),
            _ => TcpListener::bind(SocketAddr::new(ip, 0)).and_then(|s| s.local_addr()),
        }
        .map_err(|e| EngineError::InvalidArg(format!("finding a free host port on {ip}: {e}")))?
        .port();
        if u32::from(start) + u32::from(count) > 65536 || !unclaimed(start) {
            continue;
        }
        if (start..start + count).all(bindable) {
            return Ok(start);
        }
    }
    Err(EngineError::InvalidArg(format!(
        "no {count} free consecutive {protocol} ports on {ip}"
    )))
}

/// Whether `port` can be bound on the host now (nothing of the host listens there).
pub fn host_port_free(host_ip: &str, protocol: &str, port: u16) -> bool {
    let Ok(ip) = (if host_ip.is_empty() {
        "0.0.0.0"
    } else {
        host_ip
    })
    .parse::<IpAddr>() else {
        return false;
    };
    let address = SocketAddr::new(ip, port);
    match protocol {
        "udp" => UdpSocket::bind(address).is_ok(),
        "tcp" => TcpListener::bind(address).is_ok(),
        // SCTP needs a socket type std does not have; netavark checks nothing either.
        _ => true,
    }
}

/// Every single port of the mappings: (container port, protocol, host ip, host port), as
/// `rpod port` and inspect list them.
pub fn expand(mappings: &[PortMapping]) -> Vec<(u16, String, String, u16)> {
    let mut ports = Vec::new();
    for m in mappings {
        for i in 0..m.range {
            let host_ip = if m.host_ip.is_empty() {
                "0.0.0.0".to_string()
            } else {
                m.host_ip.clone()
            };
            ports.push((
                m.container_port + i,
                m.protocol.clone(),
                host_ip,
                m.host_port + i,
            ));
        }
    }
    ports.sort();
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_ports_are_spelled_out_once_each_within_a_bound() {
        assert_eq!(
            exposed_keys(&["9000", "53/udp", "7000-7001", "9000/tcp"]).unwrap(),
            ["53/udp", "7000/tcp", "7001/tcp", "9000/tcp"]
        );
        assert!(exposed_keys(&["1-65535", "1-65535/udp", "1-65535/sctp"]).is_ok());
        let err = exposed_keys(&["1-65535"; 4]).unwrap_err().to_string();
        assert!(err.contains("at most 196605"), "{err}");
        assert!(exposed_keys(&["0"]).is_err());
    }

    fn one(spec: &str) -> PortMapping {
        let mut all = parse_publish(spec).unwrap();
        assert_eq!(all.len(), 1, "{spec}");
        all.remove(0)
    }

    #[test]
    fn podman_forms() {
        let m = one("8080:80");
        assert_eq!(
            (m.host_ip.as_str(), m.host_port, m.container_port),
            ("", 8080, 80)
        );
        assert_eq!((m.protocol.as_str(), m.range), ("tcp", 1));
        let m = one("127.0.0.1:8080:80/udp");
        assert_eq!(
            (m.host_ip.as_str(), m.host_port, m.protocol.as_str()),
            ("127.0.0.1", 8080, "udp")
        );
        let m = one("127.0.0.1::80");
        assert_eq!((m.host_ip.as_str(), m.host_port), ("127.0.0.1", 0));
        let m = one("80");
        assert_eq!((m.host_port, m.container_port), (0, 80));
        let m = one("9000-9002:7000-7002");
        assert_eq!((m.host_port, m.container_port, m.range), (9000, 7000, 3));
        let m = one("[::1]:8080:80");
        assert_eq!(m.host_ip, "::1");
        let both = parse_publish("53:53/tcp,udp").unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(both[1].protocol, "udp");
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "0",
            "70000",
            "80/icmp",
            "a:80",
            "1.2.3:80:80",
            "1:2:3:4",
            "9000-9001:80",
            "8080:",
            "[::1:80:80",
            "90-80",
            "65535-65536:1-2",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn never_chooses_a_port_another_container_publishes() {
        // Other containers publish every port the kernel hands out for port 0: nothing can
        // be chosen (without the check, the kernel's first choice would be taken).
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let bounds: Vec<u16> = range
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        let everything = PortMapping {
            host_ip: String::new(),
            container_port: 1,
            host_port: bounds[0],
            protocol: "tcp".into(),
            range: bounds[1] - bounds[0] + 1,
        };
        let mut wanted = parse_publish("127.0.0.1::80").unwrap();
        assert!(assign_host_ports(&mut wanted, std::slice::from_ref(&everything)).is_err());
        // Another protocol's ports are no obstacle.
        let udp = PortMapping {
            protocol: "udp".into(),
            ..everything
        };
        assign_host_ports(&mut wanted, &[udp]).unwrap();
        assert_ne!(wanted[0].host_port, 0);
    }

    #[test]
    fn chooses_free_ports_and_refuses_duplicates() {
        let mut mappings = parse_publish("127.0.0.1::80").unwrap();
        mappings.extend(parse_publish("127.0.0.1::81-83").unwrap());
        assign_host_ports(&mut mappings, &[]).unwrap();
        assert_ne!(mappings[0].host_port, 0);
        assert_ne!(mappings[1].host_port, 0);
        let expanded = expand(&mappings);
        assert_eq!(expanded.len(), 4);
        assert_eq!(expanded[0].0, 80);
        assert_eq!(expanded[0].2, "127.0.0.1");
        let mut twice = parse_publish("8080:80").unwrap();
        twice.extend(parse_publish("8080:81").unwrap());
        let error = assign_host_ports(&mut twice, &[]).unwrap_err().to_string();
        assert!(error.contains("published twice"), "{error}");
        let exposed = parse_exposed("53/udp").unwrap();
        assert_eq!(
            (exposed[0].container_port, exposed[0].protocol.as_str()),
            (53, "udp")
        );
    }
}
