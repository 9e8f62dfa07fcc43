//! Remote commands on volumes and networks (create, list, inspect, remove, exists, a
//! network's connections), and the prunes of every kind.

use serde_json::{json, Value};

use crate::cli::{
    NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, NetworkInspectArgs,
    NetworkLsArgs, NetworkRmArgs, VolumeCreateArgs, VolumeLsArgs, VolumeNamesArgs, VolumeRmArgs,
};
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use crate::format;

use super::{encode, expect, failure, filters_map, filters_param, Client};

/// `KEY=VALUE` words as a map (`KEY` alone: an empty value).
fn pairs(words: &[String]) -> serde_json::Map<String, Value> {
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((key, value)) => (key.to_string(), json!(value)),
            None => (w.clone(), json!("")),
        })
        .collect()
}

/// A list's path with its filters.
pub(super) fn list_path(kind: &str, filters: &[String]) -> Result<String, Failure> {
    Ok(match filters_param(filters)? {
        Some(param) => format!("/{kind}/json?{param}"),
        None => format!("/{kind}/json"),
    })
}

/// Remove each of `names` (`/{kind}/NAME`), printing each name removed, as the local
/// commands: exit 1 for an unknown one (passed over with `force`, as podman's `--force`),
/// 2 for one in use.
fn remove_each(
    client: &mut Client,
    kind: &str,
    names: &[String],
    query: &str,
    force: bool,
) -> Outcome {
    let mut code = 0;
    for name in names {
        let reply = client.call("DELETE", &format!("/{kind}/{}?{query}", encode(name)), None)?;
        if matches!(reply.status, 200 | 204) {
            println!("{name}");
            continue;
        }
        if reply.status == 404 && force {
            continue;
        }
        let error = failure(&reply);
        eprintln!("Error: {}", error.message());
        code = match reply.status {
            404 => 1,
            409 => 2,
            _ => error.code,
        };
    }
    Ok(code)
}

/// Inspect each of `names`: their JSON, or `format` for each of them as `for_template`
/// makes them.
fn inspect_each(
    client: &mut Client,
    kind: &str,
    names: &[String],
    format: Option<&str>,
    for_template: &dyn Fn(Value) -> Result<Value, Failure>,
) -> Outcome {
    let mut items = Vec::new();
    let mut misses = crate::commands::InspectMisses::new("object");
    // The kind as `InspectMisses` names it: `volumes` is a volume's.
    let singular = kind.trim_end_matches('s');
    for name in names {
        let reply = client.call("GET", &format!("/{kind}/{}/json", encode(name)), None)?;
        if reply.status == 200 {
            let item = reply.json()?;
            items.push(match format {
                None | Some("json") => item,
                Some(_) => for_template(item)?,
            });
        } else {
            misses.add_reply(singular, name, &reply);
        }
    }
    crate::commands::container::print_inspected(items, format)?;
    misses.outcome()
}

pub fn volume_create(client: &mut Client, args: &VolumeCreateArgs) -> Outcome {
    let body = json!({
        "Name": args.name.clone().unwrap_or_default(),
        "Driver": args.driver,
        "Label": pairs(&args.labels),
        "Options": pairs(&args.opts),
    });
    let reply = expect(
        client.call("POST", "/volumes/create", Some(&body))?,
        &[200, 201],
    )?;
    let created = reply.json()?;
    println!("{}", created["Name"].as_str().unwrap_or_default());
    Ok(0)
}

pub fn volume_ls(client: &mut Client, args: &VolumeLsArgs) -> Outcome {
    let path = list_path("volumes", &args.filter)?;
    let list = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    let items = list.as_array().cloned().unwrap_or_default();
    if args.quiet {
        for item in &items {
            println!("{}", item["Name"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    let format = args
        .format
        .clone()
        .unwrap_or_else(|| "table {{.Driver}}\t{{.Name}}".into());
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(0);
    }
    let rows: Vec<Value> = items.into_iter().map(format::go_times).collect();
    format::print_table(
        &format,
        &rows,
        &crate::commands::volume::header,
        // As the local listing: no header over no volume.
        args.no_heading || rows.is_empty(),
    )?;
    Ok(0)
}

pub fn volume_inspect(client: &mut Client, args: &VolumeNamesArgs) -> Outcome {
    inspect_each(client, "volumes", &args.names, args.format.as_deref(), &Ok)
}

pub fn volume_rm(client: &mut Client, args: &VolumeRmArgs) -> Outcome {
    if args.names.is_empty() {
        return Err(usage("choose the volumes to remove (--all is local only)"));
    }
    let mut query = format!("force={}", args.force);
    if let Some(time) = args.time {
        query.push_str(&format!("&timeout={time}"));
    }
    remove_each(client, "volumes", &args.names, &query, args.force)
}

pub fn network_create(client: &mut Client, args: &NetworkCreateArgs) -> Outcome {
    if args.gateway.len() > args.subnet.len() {
        return Err(usage("each --gateway needs a --subnet before it"));
    }
    let subnets: Vec<Value> = args
        .subnet
        .iter()
        .enumerate()
        .map(|(i, subnet)| {
            let mut item = json!({ "subnet": subnet });
            if let Some(gateway) = args.gateway.get(i) {
                item["gateway"] = json!(gateway.to_string());
            }
            item
        })
        .collect();
    let body = json!({
        "name": args.name.clone().unwrap_or_default(),
        "driver": args.driver,
        "network_interface": args.interface_name.clone().unwrap_or_default(),
        "subnets": subnets,
        "ipv6_enabled": args.ipv6,
        "internal": args.internal,
        "dns_enabled": !args.disable_dns,
        "labels": pairs(&args.labels),
        "options": pairs(&args.opts),
    });
    let reply = client.call("POST", "/networks/create", Some(&body))?;
    if reply.status == 409 && args.ignore {
        println!("{}", args.name.clone().unwrap_or_default());
        return Ok(0);
    }
    let created = expect(reply, &[200, 201])?.json()?;
    println!("{}", created["name"].as_str().unwrap_or_default());
    Ok(0)
}

/// A network as the libpod API gives it (netavark's form).
fn network(item: Value) -> Result<rpod_engine::network::Network, Failure> {
    serde_json::from_value(item).map_err(|e| {
        Failure::new(
            ENGINE_ERROR,
            anyhow::anyhow!("the service's network is not netavark's form: {e}"),
        )
    })
}

pub fn network_ls(client: &mut Client, args: &NetworkLsArgs) -> Outcome {
    let path = list_path("networks", &args.filter)?;
    let list = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    let networks = list
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(network)
        .collect::<Result<Vec<_>, _>>()?;
    if args.quiet {
        for network in &networks {
            println!("{}", network.name);
        }
        return Ok(0);
    }
    if args.format.as_deref() == Some("json") {
        println!("{}", serde_json::to_string_pretty(&networks)?);
        return Ok(0);
    }
    let rows: Vec<Value> = networks
        .iter()
        .map(|network| crate::commands::network::list_row(network, args.no_trunc))
        .collect();
    let format = args
        .format
        .clone()
        .unwrap_or_else(|| "table {{.ID}}\t{{.Name}}\t{{.Driver}}".into());
    format::print_table(
        &format,
        &rows,
        &crate::commands::network::header,
        args.no_heading,
    )?;
    Ok(0)
}

pub fn network_inspect(client: &mut Client, args: &NetworkInspectArgs) -> Outcome {
    // Templates read the fields as the local `network inspect` names them.
    inspect_each(
        client,
        "networks",
        &args.names,
        args.format.as_deref(),
        &|item| Ok(crate::commands::network::template_view(&network(item)?)),
    )
}

pub fn network_rm(client: &mut Client, args: &NetworkRmArgs) -> Outcome {
    let mut query = format!("force={}", args.force);
    if let Some(time) = args.time {
        query.push_str(&format!("&timeout={time}"));
    }
    remove_each(client, "networks", &args.names, &query, args.force)
}

/// `container prune`, `image prune`, `volume prune` and `network prune` (`kind`: the
/// API's word) on the service: what went printed as the local commands print it (IDs;
/// names of volumes and networks), a report's error on stderr (exit 125).
pub fn prune(client: &mut Client, kind: &str, filters: &[String], all: bool) -> Outcome {
    let mut query = Vec::new();
    if all {
        query.push("all=true".to_string());
    }
    let filters = filters_map(filters)?;
    if !filters.is_empty() {
        query.push(format!(
            "filters={}",
            encode(&Value::Object(filters).to_string())
        ));
    }
    let mut path = format!("/{kind}/prune");
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let reports = expect(client.call("POST", &path, None)?, &[200])?.json()?;
    let mut code = 0;
    for report in reports.as_array().into_iter().flatten() {
        if let Some(error) = report_error(report) {
            eprintln!("Error: {error}");
            code = ENGINE_ERROR;
            continue;
        }
        if let Some(name) = report["Id"].as_str().or(report["Name"].as_str()) {
            println!("{name}");
        }
    }
    Ok(code)
}

/// A libpod report's error (`Err` or `Error`: a text, or an object), if any: prune,
/// removal and pod removal reports alike.
pub(super) fn report_error(report: &Value) -> Option<String> {
    let error = match (&report["Err"], &report["Error"]) {
        (Value::Null, other) | (other, _) => other,
    };
    match error {
        Value::Null => None,
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

pub fn network_connect(client: &mut Client, args: &NetworkConnectArgs) -> Outcome {
    let mut body = json!({ "container": args.container });
    if !args.alias.is_empty() {
        body["aliases"] = json!(args.alias);
    }
    let addresses: Vec<String> = args
        .ip
        .map(|ip| ip.to_string())
        .into_iter()
        .chain(args.ip6.map(|ip| ip.to_string()))
        .collect();
    if !addresses.is_empty() {
        body["static_ips"] = json!(addresses);
    }
    if let Some(mac) = &args.mac_address {
        body["static_mac"] = json!(mac);
    }
    let path = format!("/networks/{}/connect", encode(&args.network));
    expect(client.call("POST", &path, Some(&body))?, &[200, 204])?;
    Ok(0)
}

pub fn network_disconnect(client: &mut Client, args: &NetworkDisconnectArgs) -> Outcome {
    let body = json!({ "Container": args.container, "Force": args.force });
    let path = format!("/networks/{}/disconnect", encode(&args.network));
    expect(client.call("POST", &path, Some(&body))?, &[200, 204])?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_list_paths() {
        assert_eq!(
            Value::Object(pairs(&["a=1".into(), "b".into(), "c=x=y".into()])),
            json!({"a": "1", "b": "", "c": "x=y"})
        );
        assert_eq!(list_path("volumes", &[]).unwrap(), "/volumes/json");
        let path = list_path("networks", &["label=a".into()]).unwrap();
        assert!(path.starts_with("/networks/json?filters=%7B"), "{path}");
        assert!(list_path("networks", &["nokey".into()]).is_err());
    }

    #[test]
    fn prune_reports_give_their_errors_in_either_spelling() {
        assert_eq!(report_error(&json!({"Id": "a", "Err": null})), None);
        assert_eq!(report_error(&json!({"Name": "n", "Error": ""})), None);
        assert_eq!(
            report_error(&json!({"Id": "a", "Err": "in use"})).as_deref(),
            Some("in use")
        );
        assert_eq!(
            report_error(&json!({"Name": "n", "Error": "busy"})).as_deref(),
            Some("busy")
        );
        assert_eq!(
            report_error(&json!({"Id": "a", "Err": {"cause": "x"}})).as_deref(),
            Some(r#"{"cause":"x"}"#)
        );
    }
}
