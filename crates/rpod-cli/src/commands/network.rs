//! `rpod network create|ls|inspect|rm|connect|disconnect|exists|prune` and `rpod port`.

use serde_json::{json, Value};

use rpod_engine::container::NetworkJoin;
use rpod_engine::network::definitions::{IpRange, NetworkRequest, SubnetRequest};
use rpod_engine::network::ports;
use rpod_engine::network::Network;
use rpod_engine::{Engine, EngineError};

use crate::cli::*;
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use crate::format;

/// A network with podman's Go field names, for `--format` templates.
pub(crate) fn template_view(network: &Network) -> Value {
    json!({
        "Name": network.name,
        "ID": network.id,
        "Driver": network.driver,
        "NetworkInterface": network.network_interface,
        "Created": format::go_time(network.created.fixed_offset()),
        "Subnets": network.subnets.iter().map(|s| json!({
            "Subnet": s.subnet.to_string(),
            "Gateway": s.gateway.map(|g| g.to_string()).unwrap_or_default(),
            "LeaseRange": s.lease_range.map(|r| json!({
                "StartIP": r.start_ip.to_string(),
                "EndIP": r.end_ip.to_string(),
            })),
        })).collect::<Vec<_>>(),
        "IPv6Enabled": network.ipv6_enabled,
        "Internal": network.internal,
        "DNSEnabled": network.dns_enabled,
        "Labels": network.labels,
        "Options": network.options,
        "IPAMOptions": network.ipam_options,
    })
}

/// One row of `network ls` for a template: the network's fields, its ID short unless
/// `no_trunc`, and `Labels` as podman's listing gives them (`a=b,c=d`, its report's
/// method; `inspect` gives the map).
pub(crate) fn list_row(network: &Network, no_trunc: bool) -> Value {
    let mut row = template_view(network);
    if !no_trunc {
        row["ID"] = json!(network.id.chars().take(12).collect::<String>());
    }
    let labels: Vec<String> = network
        .labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    row["Labels"] = json!(labels.join(","));
    row
}

pub fn create(engine: &Engine, args: NetworkCreateArgs) -> Outcome {
    let mut options = std::collections::BTreeMap::new();
    for option in &args.opts {
        let Some((key, value)) = option.split_once('=') else {
            return Err(usage(format!("invalid -o {option:?}: use KEY=VALUE")));
        };
        options.insert(key.to_string(), value.to_string());
    }
    let no_ipam = match args.ipam_driver.as_deref() {
        None | Some("host-local") => false,
        Some("none") => true,
        Some(other) => {
            return Err(Failure::new(
                ENGINE_ERROR,
                EngineError::NotSupported(format!(
                    "the IPAM driver {other:?} (host-local or none; rpod has no DHCP)"
                )),
            ))
        }
    };
    // A macvlan network's parent is its interface, as podman's client makes it.
    let mut interface = args.interface_name.clone();
    if let Some(parent) = options.remove("parent") {
        if args.driver != "macvlan" {
            return Err(usage("-o parent= is an option of macvlan networks"));
        }
        if interface.replace(parent).is_some() {
            return Err(usage(
                "give the parent interface once: -o parent= or --interface-name",
            ));
        }
    }
    let request = NetworkRequest {
        name: args.name.clone().unwrap_or_default(),
        driver: Some(args.driver.clone()),
        subnets: subnet_requests(&args)?,
        ipv6: args.ipv6,
        interface,
        internal: args.internal,
        disable_dns: args.disable_dns,
        labels: rpod_engine::labels::parse_pairs(&args.labels),
        no_ipam,
        options,
    };
    match engine.network_create(request) {
        Ok(network) => println!("{}", network.name),
        Err(EngineError::NetworkExists(name)) if args.ignore => println!("{name}"),
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}

/// `--subnet`, `--gateway` and `--ip-range`, matched by their order as podman matches them:
/// the first gateway and range belong to the first subnet, and so on.
fn subnet_requests(args: &NetworkCreateArgs) -> Result<Vec<SubnetRequest>, Failure> {
    if args.gateway.len() > args.subnet.len() {
        return Err(usage(
            "each --gateway needs its --subnet: give as many subnets",
        ));
    }
    if args.ip_range.len() > args.subnet.len() {
        return Err(usage(
            "each --ip-range needs its --subnet: give as many subnets",
        ));
    }
    let mut requests = Vec::new();
    for (index, text) in args.subnet.iter().enumerate() {
        let subnet = text.parse::<ipnet::IpNet>().map_err(|_| {
            usage(format!(
                "invalid --subnet {text:?}: expected a CIDR like 10.89.5.0/24 or fd00:5::/64"
            ))
        })?;
        let mut request = SubnetRequest::new(subnet);
        request.gateway = args.gateway.get(index).copied();
        if let Some(range_text) = args.ip_range.get(index) {
            let range = range_text.parse::<ipnet::IpNet>().map_err(|_| {
                usage(format!(
                    "invalid --ip-range {range_text:?}: expected a CIDR like 10.89.5.128/25"
                ))
            })?;
            let lease = rpod_engine::network::LeaseRange::podman(range, &subnet.trunc())?;
            request.ip_range = Some(IpRange::Addresses(lease.start_ip, lease.end_ip));
        }
        requests.push(request);
    }
    Ok(requests)
}

pub fn ls(engine: &Engine, args: NetworkLsArgs) -> Outcome {
    let mut rows = Vec::new();
    let mut listed = Vec::new();
    // Read once, when a `dangling` filter first asks.
    let used = std::cell::OnceCell::new();
    for network in engine.networks()? {
        let mut keep = true;
        for (key, values) in rpod_engine::filter_values::group_by_key(&args.filter) {
            let in_use = || {
                used.get_or_init(|| engine.networks_in_use().unwrap_or_default())
                    .contains(&network.name)
            };
            keep &= rpod_engine::network::filters::passes(&network, key, &values, &in_use)
                .map_err(usage)?;
        }
        if keep {
            rows.push(list_row(&network, args.no_trunc));
            listed.push(network);
        }
    }
    if args.quiet {
        for row in &rows {
            println!("{}", row["Name"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    // `--format json`: the networks as podman stores them (netavark's form), as its
    // `network ls` and `network inspect` print them.
    if args.format.as_deref() == Some("json") {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(0);
    }
    let format = args
        .format
        .unwrap_or_else(|| "table {{.ID}}\t{{.Name}}\t{{.Driver}}".into());
    if args.no_heading {
        format::print_without_header(&format, &rows)?;
    } else {
        format::print(&format, &rows, &header)?;
    }
    Ok(0)
}

/// Column headers of `network ls` tables.
pub(crate) fn header(field: &str) -> String {
    match field {
        "ID" => "NETWORK ID".to_string(),
        other => other.to_uppercase(),
    }
}

/// One network as `rpod inspect` shows it: its JSON, or what a template reads.
pub fn inspect_value(engine: &Engine, name: &str, templated: bool) -> Result<Value, Failure> {
    let network = engine.network(name)?;
    Ok(match templated {
        true => template_view(&network),
        false => serde_json::to_value(&network)?,
    })
}

pub fn inspect(engine: &Engine, args: NetworkInspectArgs) -> Outcome {
    let mut networks = Vec::new();
    let mut misses = super::InspectMisses::new("object");
    for name in &args.names {
        match engine.network(name) {
            Ok(network) => networks.push(network),
            Err(e) => misses.add(Some("network"), name, &e.into()),
        }
    }
    match &args.format {
        Some(template) => {
            let views: Vec<Value> = networks.iter().map(template_view).collect();
            format::print(template, &views, &format::upper_header)?;
        }
        None => println!("{}", serde_json::to_string_pretty(&networks)?),
    }
    misses.outcome()
}

pub fn rm(engine: &Engine, args: NetworkRmArgs) -> Outcome {
    let mut code = 0;
    for name in &args.names {
        match engine.network_remove(name, args.force, args.time) {
            Ok(name) => println!("{name}"),
            // `--force` passes over a network that is not there, as podman's.
            Err(EngineError::NoSuchNetwork(_)) if args.force => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = match e {
                    EngineError::NoSuchNetwork(_) => 1,
                    EngineError::NetworkInUse { .. } => 2,
                    _ => ENGINE_ERROR,
                };
            }
        }
    }
    Ok(code)
}

pub fn connect(engine: &Engine, args: NetworkConnectArgs) -> Outcome {
    let join = NetworkJoin {
        name: args.network.clone(),
        aliases: args.alias.clone(),
        ip: args.ip,
        ip6: args.ip6,
        mac: args.mac_address.clone(),
        interface_name: None,
    };
    engine.network_connect(&args.network, &args.container, join)?;
    Ok(0)
}

pub fn disconnect(engine: &Engine, args: NetworkDisconnectArgs) -> Outcome {
    engine.network_disconnect(&args.network, &args.container)?;
    Ok(0)
}

pub fn exists(engine: &Engine, args: ExistsArgs) -> Outcome {
    match engine.network(&args.name) {
        Ok(_) => Ok(0),
        Err(EngineError::NoSuchNetwork(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

pub fn prune(engine: &Engine, args: NetworkPruneArgs) -> Outcome {
    for name in engine.network_prune(&args.filter)? {
        println!("{name}");
    }
    Ok(0)
}

/// `rpod port CTR [PORT[/PROTO]]`, `rpod port --all`. As podman's, only running containers
/// that publish ports are looked at: for any other, nothing is printed and nothing fails.
pub fn port(engine: &Engine, args: PortArgs) -> Outcome {
    let publishing = |record: &rpod_engine::ContainerRecord| {
        record.state.status == rpod_engine::Status::Running && !record.config.net.ports.is_empty()
    };
    if args.all {
        if !args.args.is_empty() || args.latest {
            return Err(usage("--all takes no container"));
        }
        for record in engine.list()?.iter().filter(|r| publishing(r)) {
            for (port, protocol, ip, host_port) in ports::expand(&record.config.net.ports) {
                println!(
                    "{}\t{port}/{protocol} -> {ip}:{host_port}",
                    &record.config.id[..12]
                );
            }
        }
        return Ok(0);
    }
    let (container, rest) = super::select::container_and_rest(engine, args.latest, &args.args)?;
    let wanted = match rest.as_slice() {
        [] => None,
        [port] => Some(WantedPort::parse(port)?),
        _ => return Err(usage("give a container, and optionally one of its ports")),
    };
    let record = engine.inspect(&container)?;
    if !publishing(&record) {
        return Ok(0);
    }
    print_ports(ports::expand(&record.config.net.ports), wanted.as_ref())?;
    Ok(0)
}

/// The port `port CTR PORT[/PROTOCOL]` asks about, checked before the container is looked
/// at (as podman's: `port CTR abc` fails even for a container that publishes nothing).
pub(crate) struct WantedPort {
    number: u16,
    protocol: String,
    /// As the user wrote it, for the message when it is not published.
    said: String,
}

impl WantedPort {
    pub(crate) fn parse(said: &str) -> Result<Self, Failure> {
        let (number, protocol) = said.split_once('/').unwrap_or((said, "tcp"));
        let number = number
            .parse()
            .map_err(|_| usage(format!("invalid port {said:?}")))?;
        Ok(WantedPort {
            number,
            protocol: protocol.to_string(),
            said: said.to_string(),
        })
    }
}

/// A container's published ports (container port, protocol, host address, host port) as
/// `port` prints them: each with its host side, or the host sides of `wanted` alone.
pub(crate) fn print_ports(
    ports: Vec<(u16, String, String, u16)>,
    wanted: Option<&WantedPort>,
) -> Result<(), Failure> {
    let Some(wanted) = wanted else {
        for (port, protocol, ip, host_port) in ports {
            println!("{port}/{protocol} -> {ip}:{host_port}");
        }
        return Ok(());
    };
    let found: Vec<_> = ports
        .into_iter()
        .filter(|(p, proto, _, _)| *p == wanted.number && *proto == wanted.protocol)
        .collect();
    if found.is_empty() {
        return Err(Failure::new(
            ENGINE_ERROR,
            EngineError::InvalidArg(format!("failed to find published port {:?}", wanted.said)),
        ));
    }
    for (_, _, ip, host_port) in found {
        println!("{ip}:{host_port}");
    }
    Ok(())
}

/// `network reload`: each container's networks set up again; its ID printed.
pub fn reload(engine: &Engine, args: NetworkReloadArgs) -> Outcome {
    use rpod_engine::container::NetworkMode;
    let names = super::select::Selection {
        names: args.containers,
        all: args.all,
        latest: args.latest,
        ..Default::default()
    }
    .resolve(engine, |r| {
        r.config.network == NetworkMode::Bridge && r.state.status.is_running_or_paused()
    })?;
    if names.is_empty() && !args.all {
        return Err(usage("choose the containers, --all or --latest"));
    }
    let mut code = 0;
    for name in &names {
        match engine.network_reload(name) {
            Ok(id) => println!("{id}"),
            Err(e) => {
                eprintln!("Error: {e}");
                code = ENGINE_ERROR;
            }
        }
    }
    Ok(code)
}
