//! Remote `kube play` (`play kube`) and `kube down`: the YAML read here and sent as the
//! body of libpod's `/play/kube`; the service makes (or removes) the pods, pulling with
//! its own registry settings but for `--tls-verify`. Reported as the local commands report.

use serde_json::Value;

use crate::cli::{KubeDownArgs, KubePlayArgs};
use crate::commands::kube::{print_down, print_played, read_yaml};
use crate::exit::Outcome;

use super::{encode, expect, Client};

/// The flags of `kube play` the service gets (clap's ids); the others are refused by name
/// (builds and ConfigMap files would be this side's files, the seccomp profiles and
/// registry files the service's).
pub const PLAY_FLAGS: &[&str] = &[
    "start",
    "replace",
    "quiet",
    "userns",
    "network",
    "log_driver",
    "log_opt",
    "no_hosts",
    "annotation",
    "ip",
    "mac_address",
    "tls_verify",
    "file",
];

/// The IDs of a report's list (`[{"Id": ...}]`).
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["Id"].as_str().map(str::to_string))
        .collect()
}

pub fn play(client: &mut Client, args: &KubePlayArgs) -> Outcome {
    let yaml = read_yaml(&args.file)?;
    let mut query = vec![
        format!("start={}", args.start),
        format!("replace={}", args.replace),
        format!("noHosts={}", args.no_hosts),
    ];
    if let Some(userns) = &args.userns {
        query.push(format!("userns={}", encode(userns)));
    }
    if let Some(driver) = &args.log_driver {
        query.push(format!("logDriver={}", encode(driver)));
    }
    query.extend(super::registry_params(&args.registry));
    let repeated = [
        ("network", &args.network),
        ("logOptions", &args.log_opt),
        ("staticMACs", &args.mac_address),
    ];
    for (key, values) in repeated {
        query.extend(values.iter().map(|v| format!("{key}={}", encode(v))));
    }
    query.extend(args.ip.iter().map(|ip| format!("staticIPs={ip}")));
    if !args.annotation.is_empty() {
        let annotations = rpod_engine::labels::parse_pairs(&args.annotation);
        let text = serde_json::to_string(&annotations)?;
        query.push(format!("annotations={}", encode(&text)));
    }
    let path = format!("/play/kube?{}", query.join("&"));
    let reply = client.upload("POST", &path, "application/yaml", &mut |out| {
        out.write_all(yaml.as_bytes())
    })?;
    let report = expect(reply, &[200])?.json()?;
    let volumes: Vec<String> = report["Volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["Name"].as_str().map(str::to_string))
        .collect();
    let pods: Vec<(String, Vec<String>)> = report["Pods"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pod| {
            let containers = pod["Containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect();
            (
                pod["ID"].as_str().unwrap_or_default().to_string(),
                containers,
            )
        })
        .collect();
    print_played(&volumes, &pods);
    Ok(0)
}

pub fn down(client: &mut Client, args: &KubeDownArgs) -> Outcome {
    let yaml = read_yaml(&args.file)?;
    let reply = client.upload("DELETE", "/play/kube", "application/yaml", &mut |out| {
        out.write_all(yaml.as_bytes())
    })?;
    let report = expect(reply, &[200])?.json()?;
    print_down(&ids(&report["StopReport"]), &ids(&report["RmReport"]));
    Ok(0)
}
