//! Remote `generate systemd` and `generate kube` (`kube generate`): the service writes the
//! units (naming its own rpod) and the YAML; they are printed, or written to files here,
//! by the local command's code.

use crate::cli::{GenerateKubeArgs, GenerateSystemdArgs};
use crate::commands::generate::{print_units, unit_options, write_kube};
use crate::exit::{usage, Outcome};

use super::{encode, expect, Client};

pub fn systemd(client: &mut Client, args: &GenerateSystemdArgs) -> Outcome {
    let options = unit_options(args)?;
    let mut query = vec![
        format!("useName={}", options.use_name),
        format!("new={}", options.new),
        format!("templateUnitFile={}", options.template),
        format!("restartPolicy={}", encode(&options.restart_policy)),
        format!("containerPrefix={}", encode(&options.container_prefix)),
        format!("podPrefix={}", encode(&options.pod_prefix)),
        format!("separator={}", encode(&options.separator)),
        format!("noHeader={}", options.no_header),
    ];
    for (key, value) in [
        ("restartSec", options.restart_sec),
        ("stopTimeout", options.stop_timeout),
        ("startTimeout", options.start_timeout),
    ] {
        if let Some(value) = value {
            query.push(format!("{key}={value}"));
        }
    }
    for (key, values) in [
        ("wants", &options.wants),
        ("after", &options.after),
        ("requires", &options.requires),
        ("additionalEnvVariables", &options.env),
    ] {
        query.extend(values.iter().map(|v| format!("{key}={}", encode(v))));
    }
    let path = format!(
        "/generate/{}/systemd?{}",
        encode(&args.container),
        query.join("&")
    );
    let answer = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    let units = answer
        .as_object()
        .ok_or_else(|| usage("the service's units are not a JSON object"))?
        .iter()
        .map(|(name, text)| (name.clone(), text.as_str().unwrap_or_default().to_string()))
        .collect();
    print_units(units, args)
}

pub fn kube(client: &mut Client, args: &GenerateKubeArgs) -> Outcome {
    let mut query = vec![format!("service={}", args.service)];
    query.extend(args.names.iter().map(|n| format!("names={}", encode(n))));
    let path = format!("/generate/kube?{}", query.join("&"));
    let reply = expect(client.call("GET", &path, None)?, &[200])?;
    let yaml =
        String::from_utf8(reply.body).map_err(|_| usage("the service's YAML is not UTF-8"))?;
    write_kube(&yaml, args.filename.as_deref())
}
