//! The files a container expects that rpod writes for it: `/etc/hosts`, `/etc/resolv.conf`,
//! `/etc/hostname` and `/run/.containerenv`. They are generated into the container's run
//! directory and bind-mounted over the image's, so the image is never changed.

use std::net::IpAddr;

/// podman's defaults when the host has no usable name server.
const FALLBACK_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

const LOCALHOST_LINES: &str = "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n";

/// The name podman gives the host inside containers.
pub const HOST_ALIAS: &str = "host.containers.internal";

/// One `--add-host NAME:IP` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostEntry {
    pub names: Vec<String>,
    pub ip: String,
}

/// Parse `--add-host HOST:IP` (podman also takes `HOST1;HOST2:IP`; an IPv6 address may
/// contain colons, so the split is at the first one).
pub fn parse_add_host(text: &str) -> Result<HostEntry, String> {
    let (names, ip) = text
        .split_once(':')
        .ok_or_else(|| format!("invalid --add-host {text:?}: expected HOST:IP"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip != "host-gateway" && ip.parse::<IpAddr>().is_err() {
        return Err(format!(
            "invalid --add-host {text:?}: {ip:?} is not an IP address"
        ));
    }
    let names: Vec<String> = names.split(';').map(str::to_string).collect();
    if names.iter().any(|n| !valid_host_name(n)) {
        return Err(format!("invalid --add-host {text:?}: bad host name"));
    }
    Ok(HostEntry {
        names,
        ip: ip.to_string(),
    })
}

fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// What `/etc/hosts` is made of.
pub struct HostsInput<'a> {
    /// For `--network host`: the host's own file, which the container's starts from.
    pub base: Option<&'a str>,
    pub add_hosts: &'a [HostEntry],
    /// The container's addresses with its hostname and name.
    pub own_addresses: &'a [IpAddr],
    pub hostname: &'a str,
    pub name: &'a str,
    /// The host's address as the container reaches it (its network's gateway).
    pub host_address: Option<IpAddr>,
}

pub fn hosts(input: &HostsInput<'_>) -> String {
    let mut text = String::new();
    for entry in input.add_hosts {
        let ip = match (entry.ip.as_str(), input.host_address) {
            ("host-gateway", Some(address)) => address.to_string(),
            ("host-gateway", None) => continue,
            (ip, _) => ip.to_string(),
        };
        text.push_str(&format!("{ip}\t{}\n", entry.names.join(" ")));
    }
    match input.base {
        Some(base) => {
            text.push_str(base);
            if !base.is_empty() && !base.ends_with('\n') {
                text.push('\n');
            }
        }
        None => text.push_str(LOCALHOST_LINES),
    }
    let names = if input.hostname == input.name {
        input.name.to_string()
    } else {
        format!("{} {}", input.hostname, input.name)
    };
    if input.base.is_none() {
        if input.own_addresses.is_empty() {
            text.push_str(&format!("127.0.0.1\t{names}\n"));
        }
        for address in input.own_addresses {
            text.push_str(&format!("{address}\t{names}\n"));
        }
    }
    if let Some(address) = input.host_address {
        text.push_str(&format!("{address}\t{HOST_ALIAS}\n"));
    }
    text
}

/// The parts of a resolv.conf rpod uses.
#[derive(Debug, Default, PartialEq)]
pub struct Resolv {
    pub nameservers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

pub fn parse_resolv(text: &str) -> Resolv {
    let mut resolv = Resolv::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => resolv.nameservers.extend(words.next().map(str::to_string)),
            // The last search or domain line wins, as in the resolver.
            Some("search") | Some("domain") => {
                resolv.search = words.map(str::to_string).collect();
            }
            Some("options") => resolv.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    resolv
}

/// What the container's resolv.conf is made of.
pub struct ResolvInput<'a> {
    /// The host's `/etc/resolv.conf`.
    pub host: &'a str,
    /// The container uses the host's network: its loopback servers work there.
    pub host_network: bool,
    /// Name servers of the container's networks (aardvark-dns), first.
    pub network_servers: &'a [IpAddr],
    pub network_search: &'a [String],
    /// `--dns`, `--dns-search`, `--dns-option`: each replaces the host's.
    pub dns: &'a [String],
    pub dns_search: &'a [String],
    pub dns_options: &'a [String],
}

fn is_loopback(server: &str) -> bool {
    server
        .parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

pub fn resolv_conf(input: &ResolvInput<'_>) -> String {
    let host = parse_resolv(input.host);
    let mut servers: Vec<String> = input
        .network_servers
        .iter()
        .map(|s| s.to_string())
        .collect();
    if !input.dns.is_empty() {
        servers.extend(input.dns.iter().cloned());
    } else {
        // A loopback server of the host is unreachable from another network namespace.
        let usable: Vec<String> = host
            .nameservers
            .into_iter()
            .filter(|s| input.host_network || !is_loopback(s))
            .collect();
        if usable.is_empty() && servers.is_empty() {
            servers.extend(FALLBACK_NAMESERVERS.iter().map(|s| s.to_string()));
        } else {
            servers.extend(usable);
        }
    }
    let mut search: Vec<String> = input.network_search.to_vec();
    if input.dns_search.iter().any(|s| s == ".") {
        // `--dns-search .` asks for no search domains at all.
        search.clear();
    } else if !input.dns_search.is_empty() {
        search.extend(input.dns_search.iter().cloned());
    } else {
        search.extend(host.search);
    }
    let options = if input.dns_options.is_empty() {
        host.options
    } else {
        input.dns_options.to_vec()
    };
    let mut text = String::new();
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.join(" ")));
    }
    for server in servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    if !options.is_empty() {
        text.push_str(&format!("options {}\n", options.join(" ")));
    }
    text
}

/// `/run/.containerenv`, with podman's keys, so tools inside can tell they run in a
/// container and which.
pub fn containerenv(name: &str, id: &str, image: &str, image_id: &str) -> String {
    format!(
        "engine=\"rpod-{}\"\nname=\"{name}\"\nid=\"{id}\"\nimage=\"{image}\"\nimageid=\"{image_id}\"\nrootless=0\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_host_forms() {
        let entry = parse_add_host("db:10.0.0.5").unwrap();
        assert_eq!(entry.names, ["db"]);
        assert_eq!(entry.ip, "10.0.0.5");
        let entry = parse_add_host("a;b:[fd00::1]").unwrap();
        assert_eq!(entry.names, ["a", "b"]);
        assert_eq!(entry.ip, "fd00::1");
        assert_eq!(
            parse_add_host("gw:host-gateway").unwrap().ip,
            "host-gateway"
        );
        for bad in ["db", "db:10.0.0", ":1.2.3.4", "a b:1.2.3.4"] {
            assert!(parse_add_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_for_a_bridged_container() {
        let add = [parse_add_host("db:10.0.0.5").unwrap()];
        let own: [IpAddr; 1] = ["10.88.0.2".parse().unwrap()];
        let text = hosts(&HostsInput {
            base: None,
            add_hosts: &add,
            own_addresses: &own,
            hostname: "web",
            name: "site",
            host_address: Some("10.88.0.1".parse().unwrap()),
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "10.0.0.5\tdb");
        assert!(lines[1].starts_with("127.0.0.1\tlocalhost"));
        assert_eq!(lines[3], "10.88.0.2\tweb site");
        assert_eq!(lines[4], "10.88.0.1\thost.containers.internal");
    }

    #[test]
    fn hosts_without_a_network_and_on_the_host() {
        let text = hosts(&HostsInput {
            base: None,
            add_hosts: &[],
            own_addresses: &[],
            hostname: "abc",
            name: "abc",
            host_address: None,
        });
        assert!(text.ends_with("127.0.0.1\tabc\n"), "{text}");
        let text = hosts(&HostsInput {
            base: Some("127.0.0.1 localhost\n10.1.1.1 intranet"),
            add_hosts: &[],
            own_addresses: &[],
            hostname: "h",
            name: "n",
            host_address: None,
        });
        assert_eq!(text, "127.0.0.1 localhost\n10.1.1.1 intranet\n");
    }

    #[test]
    fn resolv_replaces_loopback_servers() {
        let host =
            "# comment\nnameserver 127.0.0.53\nnameserver 192.168.1.1\nsearch lan\noptions edns0\n";
        let text = resolv_conf(&ResolvInput {
            host,
            host_network: false,
            network_servers: &[],
            network_search: &[],
            dns: &[],
            dns_search: &[],
            dns_options: &[],
        });
        assert_eq!(text, "search lan\nnameserver 192.168.1.1\noptions edns0\n");
        let only_loopback = resolv_conf(&ResolvInput {
            host: "nameserver 127.0.0.53\n",
            host_network: false,
            network_servers: &[],
            network_search: &[],
            dns: &[],
            dns_search: &[],
            dns_options: &[],
        });
        assert_eq!(only_loopback, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }

    #[test]
    fn resolv_with_aardvark_and_user_settings() {
        let servers: [IpAddr; 1] = ["10.89.0.1".parse().unwrap()];
        let text = resolv_conf(&ResolvInput {
            host: "nameserver 192.168.1.1\nsearch lan\n",
            host_network: false,
            network_servers: &servers,
            network_search: &["dns.podman".to_string()],
            dns: &["1.1.1.1".to_string()],
            dns_search: &["example.com".to_string()],
            dns_options: &["ndots:2".to_string()],
        });
        assert_eq!(
            text,
            "search dns.podman example.com\nnameserver 10.89.0.1\nnameserver 1.1.1.1\noptions ndots:2\n"
        );
        let none = resolv_conf(&ResolvInput {
            host: "nameserver 192.168.1.1\nsearch lan\n",
            host_network: false,
            network_servers: &[],
            network_search: &[],
            dns: &[],
            dns_search: &[".".to_string()],
            dns_options: &[],
        });
        assert_eq!(none, "nameserver 192.168.1.1\n");
    }
}
