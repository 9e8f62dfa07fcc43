//! Network endpoints, both flavours: Docker's (`/networks`, its `NetworkResource` shape) and
//! libpod's (`/libpod/networks`, the netavark definition as podman returns it).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use rpod_engine::container::{ContainerRecord, NetworkJoin};
use rpod_engine::network::definitions::{IpRange, NetworkRequest, SubnetRequest};
use rpod_engine::network::Network;
use rpod_engine::EngineError;

use crate::compat::containers::parse_filters;
use crate::error::{ApiError, ApiResult};
use crate::exchange::{Exchange, Flavour};
use crate::service::Context;

/// The containers attached to a network now, with what they got there.
fn attached(context: &Context, network: &Network) -> ApiResult<BTreeMap<String, Value>> {
    let mut containers = BTreeMap::new();
    for record in context.engine.list()? {
        if let Some(attachment) = record.state.networks.get(&network.name) {
            containers.insert(
                record.config.id.clone(),
                json!({
                    "Name": record.config.name,
                    "EndpointID": "",
                    "MacAddress": attachment.mac_address,
                    "IPv4Address": attachment.ipv4().map(|a| a.to_string()).unwrap_or_default(),
                    "IPv6Address": attachment.ipv6().map(|a| a.to_string()).unwrap_or_default(),
                }),
            );
        }
    }
    Ok(containers)
}

/// The network's options by Docker's names where create took Docker's (a bridge name given,
/// the MTU): docker-compose compares the options it gives with these, and refuses to go on
/// when one differs.
fn docker_options(network: &Network) -> BTreeMap<String, String> {
    let mut options: BTreeMap<String, String> = network
        .options
        .iter()
        .map(|(key, value)| match key.as_str() {
            "mtu" => ("com.docker.network.driver.mtu".to_string(), value.clone()),
            _ => (key.clone(), value.clone()),
        })
        .collect();
    if let Some(interface) = network.network_interface.as_ref().filter(|name| {
        network.is_bridge() && !rpod_engine::network::definitions::chosen_bridge_name(name)
    }) {
        options.insert("com.docker.network.bridge.name".into(), interface.clone());
    }
    if network.driver == "macvlan" {
        // Docker's names: `parent`, `macvlan_mode`.
        if let Some(mode) = options.remove("mode") {
            options.insert("macvlan_mode".into(), mode);
        }
        if let Some(parent) = &network.network_interface {
            options.insert("parent".into(), parent.clone());
        }
    }
    options
}

/// Docker's `NetworkResource`.
fn docker_view(context: &Context, network: &Network, with_containers: bool) -> ApiResult<Value> {
    let config: Vec<Value> = network
        .subnets
        .iter()
        .map(|s| {
            let mut config = json!({
                "Subnet": s.subnet.to_string(),
                "Gateway": s.gateway.map(|g| g.to_string()).unwrap_or_default(),
            });
            // Docker shows a range as one CIDR; a range that is none is left out.
            let cidrs = s.lease_range.map(range_cidrs).unwrap_or_default();
            if let [cidr] = cidrs.as_slice() {
                config["IPRange"] = json!(cidr.to_string());
            }
            config
        })
        .collect();
    let containers = if with_containers {
        attached(context, network)?
    } else {
        BTreeMap::new()
    };
    Ok(json!({
        "Name": DockerNetworkNames::of(&context.engine).shown(&network.name),
        "Id": network.id,
        "Created": network.created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "Scope": "local",
        "Driver": network.driver,
        "EnableIPv6": network.ipv6_enabled,
        "IPAM": {
            "Driver": if network.gives_addresses() { "default" } else { "null" },
            "Options": {},
            "Config": config,
        },
        "Internal": network.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": containers,
        "Options": docker_options(network),
        "Labels": network.labels,
    }))
}

/// The CIDRs that cover a lease range exactly.
fn range_cidrs(range: rpod_engine::network::LeaseRange) -> Vec<ipnet::IpNet> {
    use std::net::IpAddr;
    match (range.start_ip, range.end_ip) {
        (IpAddr::V4(start), IpAddr::V4(end)) => ipnet::Ipv4Subnets::new(start, end, 0)
            .map(ipnet::IpNet::V4)
            .collect(),
        (IpAddr::V6(start), IpAddr::V6(end)) => ipnet::Ipv6Subnets::new(start, end, 0)
            .map(ipnet::IpNet::V6)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `network` passes the list's `filters`; `used`: the networks in use, read once
/// for the whole list when a `dangling` filter first asks.
fn matches(
    context: &Context,
    flavour: Flavour,
    network: &Network,
    filters: &std::collections::HashMap<String, Vec<String>>,
    used: &std::cell::OnceCell<std::collections::HashSet<String>>,
) -> ApiResult<bool> {
    let in_use = || {
        used.get_or_init(|| context.engine.networks_in_use().unwrap_or_default())
            .contains(&network.name)
    };
    let names = DockerNetworkNames::of(&context.engine);
    let shown_name = names.shown(&network.name);
    for (key, values) in filters {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let passed = match (flavour, key.as_str()) {
            // Docker's own keys: every network is local; the default one is built in.
            (Flavour::Compat, "scope") => values.contains(&"local"),
            (Flavour::Compat, "type") => {
                let builtin = network.name == context.engine.default_network_name();
                let mut passed = false;
                for value in &values {
                    passed |= match *value {
                        "builtin" => builtin,
                        "custom" => !builtin,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "invalid filter type={other:?}: builtin or custom"
                            )))
                        }
                    };
                }
                passed
            }
            // Docker's clients filter by the names they are shown.
            (Flavour::Compat, _) if shown_name != network.name => {
                let shown = Network {
                    name: shown_name.to_string(),
                    ..network.clone()
                };
                rpod_engine::network::filters::passes(&shown, key, &values, &in_use)
                    .map_err(ApiError::bad_request)?
            }
            _ => rpod_engine::network::filters::passes(network, key, &values, &in_use)
                .map_err(ApiError::bad_request)?,
        };
        if !passed {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let filters = parse_filters(ex)?;
    let mut out = Vec::new();
    let used = std::cell::OnceCell::new();
    for network in context.engine.networks()? {
        if !matches(context, ex.flavour, &network, &filters, &used)? {
            continue;
        }
        out.push(match ex.flavour {
            Flavour::Compat => docker_view(context, &network, false)?,
            Flavour::Libpod => {
                serde_json::to_value(&network).map_err(|e| ApiError::new(500, e.to_string()))?
            }
        });
    }
    ex.json(200, &out)
}

/// Docker's default network is named `bridge`, and Docker's clients name it so (`docker
/// network inspect bridge` for its gateway, `network connect bridge CTR`, a container's
/// address under `NetworkSettings.Networks.bridge`): on Docker's API rpod's default
/// network has that name. (No network of rpod's may be called `bridge`.)
pub struct DockerNetworkNames {
    default: String,
}

impl DockerNetworkNames {
    pub fn of(engine: &rpod_engine::Engine) -> Self {
        DockerNetworkNames {
            default: engine.default_network_name().to_string(),
        }
    }

    /// The name Docker's clients see for the network named `name`.
    pub fn shown<'a>(&self, name: &'a str) -> &'a str {
        match name == self.default {
            true => "bridge",
            false => name,
        }
    }

    /// The network a Docker client names `name` (or its ID).
    pub fn resolved(&self, name: &str) -> String {
        match name {
            "bridge" => self.default.clone(),
            _ => name.to_string(),
        }
    }
}

/// The network a request names: Docker's `bridge` is the default network.
fn named(context: &Context, ex: &Exchange, name: &str) -> String {
    match ex.flavour {
        Flavour::Compat => DockerNetworkNames::of(&context.engine).resolved(name),
        Flavour::Libpod => name.to_string(),
    }
}

pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let network = context.engine.network(&named(context, ex, name))?;
    match ex.flavour {
        Flavour::Compat => {
            let view = docker_view(context, &network, true)?;
            ex.json(200, &view)
        }
        Flavour::Libpod => ex.json(200, &network),
    }
}

pub fn exists(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    context.engine.network(name)?;
    ex.empty(204)
}

/// Docker's create body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DockerCreate {
    name: String,
    driver: String,
    internal: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: Option<Value>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// libpod's create body (a network definition).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LibpodCreate {
    name: String,
    driver: String,
    network_interface: String,
    subnets: Option<Vec<LibpodSubnet>>,
    ipv6_enabled: bool,
    internal: bool,
    dns_enabled: Option<bool>,
    labels: Option<BTreeMap<String, String>>,
    options: Option<BTreeMap<String, String>>,
    ipam_options: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LibpodSubnet {
    subnet: String,
    gateway: String,
    lease_range: Option<rpod_engine::network::LeaseRange>,
}

/// A subnet and its gateway as the bodies give them (the gateway may be empty).
fn parse_subnet(subnet: &str, gateway: &str) -> ApiResult<SubnetRequest> {
    let net = subnet
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid subnet {subnet:?}")))?;
    let mut request = SubnetRequest::new(net);
    if !gateway.is_empty() {
        request.gateway = Some(
            gateway
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid gateway {gateway:?}")))?,
        );
    }
    Ok(request)
}

/// One of Docker's `IPAM.Config` entries.
fn docker_subnet(config: &Value) -> ApiResult<SubnetRequest> {
    let text = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or("");
    if text("Subnet").is_empty() {
        return Err(ApiError::bad_request(
            "an IPAM Config entry needs its Subnet (rpod chooses subnets only when none is given)",
        ));
    }
    let mut request = parse_subnet(text("Subnet"), text("Gateway"))?;
    if !text("IPRange").is_empty() {
        let range = text("IPRange")
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid IPRange {:?}", text("IPRange"))))?;
        request.ip_range = Some(IpRange::Cidr(range));
    }
    let aux = config.get("AuxiliaryAddresses");
    if aux.is_some_and(|a| a.as_object().is_some_and(|o| !o.is_empty())) {
        return Err(ApiError::unsupported("IPAM AuxiliaryAddresses"));
    }
    Ok(request)
}

pub fn create(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let mut request = NetworkRequest::default();
    match ex.flavour {
        Flavour::Compat => {
            let body: DockerCreate = ex.body_json()?;
            // Docker's names for the bridge, the MTU and a macvlan network's parent and
            // mode are the options rpod honours; the others would be silently lost.
            let macvlan = body.driver == "macvlan";
            for (key, value) in body.options.unwrap_or_default() {
                match key.as_str() {
                    "com.docker.network.bridge.name" => request.interface = Some(value),
                    "com.docker.network.driver.mtu" => {
                        request.options.insert("mtu".into(), value);
                    }
                    // Docker's macvlan options.
                    "parent" if macvlan => request.interface = Some(value),
                    "macvlan_mode" if macvlan => {
                        request.options.insert("mode".into(), value);
                    }
                    _ => return Err(ApiError::unsupported(format!("the network option {key:?}"))),
                }
            }
            let configs = body
                .ipam
                .as_ref()
                .and_then(|i| i.get("Config"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            request.subnets = configs
                .iter()
                .map(docker_subnet)
                .collect::<ApiResult<_>>()?;
            // Docker keeps a network's IPv4 subnets before its IPv6 ones, whatever the
            // request's order (the docker CLI's is that of a Go map: random).
            request.subnets.sort_by_key(|s| s.subnet.addr().is_ipv6());
            // Docker's IPAM drivers: `default` (rpod's host-local), `null` (no addresses).
            match body
                .ipam
                .as_ref()
                .and_then(|i| i.get("Driver"))
                .and_then(Value::as_str)
            {
                None | Some("" | "default") => {}
                Some("null") => request.no_ipam = true,
                Some(other) => {
                    return Err(ApiError::unsupported(format!(
                        "the IPAM driver {other:?} (default or null)"
                    )))
                }
            }
            request.ipv6 = body.enable_ipv6;
            request.name = body.name;
            request.driver = (!body.driver.is_empty()).then_some(body.driver);
            request.internal = body.internal;
            request.labels = body.labels.unwrap_or_default();
        }
        Flavour::Libpod => {
            let body: LibpodCreate = ex.body_json()?;
            // Checked with the request (`mtu` only).
            request.options = body.options.clone().unwrap_or_default();
            for s in body.subnets.unwrap_or_default() {
                let mut subnet = parse_subnet(&s.subnet, &s.gateway)?;
                subnet.ip_range = s
                    .lease_range
                    .as_ref()
                    .map(|r| IpRange::Addresses(r.start_ip, r.end_ip));
                request.subnets.push(subnet);
            }
            request.ipv6 = body.ipv6_enabled;
            match body.ipam_options.get("driver").map(String::as_str) {
                None | Some("" | "host-local") => {}
                Some("none") => request.no_ipam = true,
                Some(other) => {
                    return Err(ApiError::unsupported(format!("the IPAM driver {other:?}")))
                }
            }
            request.name = body.name;
            request.driver = (!body.driver.is_empty()).then_some(body.driver);
            request.interface =
                (!body.network_interface.is_empty()).then_some(body.network_interface);
            request.internal = body.internal;
            request.disable_dns = body.dns_enabled == Some(false);
            request.labels = body.labels.unwrap_or_default();
        }
    }
    let network = context.engine.network_create(request)?;
    match ex.flavour {
        Flavour::Compat => ex.json(201, &json!({ "Id": network.id, "Warning": "" })),
        Flavour::Libpod => ex.json(200, &network),
    }
}

pub fn remove(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let force = ex.query_bool("force")?;
    let timeout = ex.query_int::<u32>("timeout")?;
    let network = named(context, ex, name);
    let removed = match context.engine.network_remove(&network, force, timeout) {
        // Docker's `bridge` is predefined: its clients cannot remove it, by any of its
        // names, and are told so in Docker's words.
        Err(EngineError::DefaultNetwork(_)) if ex.flavour == Flavour::Compat => {
            return Err(ApiError::new(
                403,
                format!("{name} is a pre-defined network and cannot be removed"),
            ))
        }
        removed => removed?,
    };
    match ex.flavour {
        Flavour::Compat => ex.empty(204),
        Flavour::Libpod => ex.json(200, &json!([{ "Name": removed, "Err": null }])),
    }
}

pub fn prune(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let filters: Vec<String> = parse_filters(ex)?
        .iter()
        .flat_map(|(key, values)| values.iter().map(move |value| format!("{key}={value}")))
        .collect();
    let removed = context.engine.network_prune(&filters)?;
    match ex.flavour {
        Flavour::Compat => ex.json(200, &json!({ "NetworksDeleted": removed })),
        Flavour::Libpod => {
            let reports: Vec<Value> = removed
                .iter()
                .map(|n| json!({ "Name": n, "Error": null }))
                .collect();
            ex.json(200, &reports)
        }
    }
}

/// Connect and disconnect bodies of both flavours (Docker's and libpod's spellings).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConnectBody {
    #[serde(alias = "container", rename = "Container")]
    container: String,
    #[serde(rename = "EndpointConfig")]
    endpoint: Option<Value>,
    aliases: Option<Vec<String>>,
    static_ips: Option<Vec<String>>,
    static_mac: Option<String>,
    interface_name: Option<String>,
}

fn container_of(context: &Context, name: &str) -> ApiResult<ContainerRecord> {
    if name.is_empty() {
        return Err(ApiError::bad_request("a container is required"));
    }
    Ok(context.engine.lookup(name)?)
}

pub fn connect(context: &Context, ex: &mut Exchange, network: &str) -> ApiResult<()> {
    let network = &named(context, ex, network);
    let body: ConnectBody = ex.body_json()?;
    let record = container_of(context, &body.container)?;
    let mut join = NetworkJoin {
        name: network.to_string(),
        aliases: body.aliases.unwrap_or_default(),
        mac: body.static_mac.filter(|m| !m.is_empty()),
        interface_name: body.interface_name.filter(|n| !n.is_empty()),
        ..Default::default()
    };
    // libpod's `static_ips` (either family), Docker's `IPAMConfig` addresses.
    let mut addresses = body.static_ips.unwrap_or_default();
    if let Some(endpoint) = &body.endpoint {
        addresses.extend(crate::compat::create::ipam_addresses(
            endpoint.get("IPAMConfig"),
            network,
        )?);
        if let Some(aliases) = endpoint.get("Aliases").and_then(Value::as_array) {
            join.aliases
                .extend(aliases.iter().filter_map(Value::as_str).map(String::from));
        }
    }
    crate::compat::create::set_static_ips(&mut join, &addresses)?;
    context.engine.network_connect(network, record.id(), join)?;
    ex.empty(200)
}

pub fn disconnect(context: &Context, ex: &mut Exchange, network: &str) -> ApiResult<()> {
    let network = &named(context, ex, network);
    let body: ConnectBody = ex.body_json()?;
    let record = container_of(context, &body.container)?;
    context.engine.network_disconnect(network, record.id())?;
    ex.empty(200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_clients_call_the_default_network_bridge() {
        let names = DockerNetworkNames {
            default: "rpod".into(),
        };
        assert_eq!(names.shown("rpod"), "bridge");
        assert_eq!(names.shown("lab"), "lab");
        assert_eq!(names.resolved("bridge"), "rpod");
        assert_eq!(names.resolved("rpod"), "rpod");
        assert_eq!(names.resolved("lab"), "lab");
    }

    #[test]
    fn docker_options_show_what_was_given() {
        let mut network: Network = serde_json::from_value(json!({
            "name": "n", "id": "0", "driver": "bridge", "network_interface": "rpod3",
            "subnets": [], "ipv6_enabled": false, "internal": false, "dns_enabled": true,
            "options": {"mtu": "1400"}, "ipam_options": {"driver": "host-local"},
        }))
        .unwrap();
        // rpod's own bridge name was no option; a name given is one.
        assert_eq!(
            docker_options(&network),
            BTreeMap::from([("com.docker.network.driver.mtu".into(), "1400".into())])
        );
        network.network_interface = Some("front0".into());
        assert_eq!(
            docker_options(&network)["com.docker.network.bridge.name"],
            "front0"
        );
        for given in ["rpod", "rpodx1", "front0"] {
            assert!(!rpod_engine::network::definitions::chosen_bridge_name(
                given
            ));
        }
        assert!(rpod_engine::network::definitions::chosen_bridge_name(
            "rpod12"
        ));
    }
}
