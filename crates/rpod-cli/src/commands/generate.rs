//! `rpod generate systemd`: prints (or writes) the unit `rpod_engine::systemd_unit` makes.
//! `rpod generate kube` (and `kube generate`): the Kubernetes YAML of
//! `rpod_engine::kube_generate`.

use std::path::PathBuf;

use rpod_engine::systemd_unit::UnitOptions;
use rpod_engine::Engine;

use crate::cli::{GenerateKubeArgs, GenerateSpecArgs, GenerateSystemdArgs};
use crate::exit::{usage, Failure, Outcome};

pub fn systemd(engine: &Engine, args: GenerateSystemdArgs) -> Outcome {
    let executable = std::env::current_exe()
        .map_err(|e| usage(format!("finding rpod's own executable: {e}")))?;
    let options = unit_options(&args)?;
    let units = engine.systemd_units(&args.container, &executable, &options)?;
    print_units(units, &args)
}

/// The unit options of `generate systemd`'s flags, checked (local and remote).
pub(crate) fn unit_options(args: &GenerateSystemdArgs) -> Result<UnitOptions, Failure> {
    if args.template && args.new == Some(false) {
        return Err(usage("--template cannot be set with --new=false"));
    }
    if !matches!(args.format.as_deref(), None | Some("") | Some("json")) {
        let other = args.format.as_deref().unwrap_or_default();
        return Err(usage(format!("invalid --format {other:?}: use json")));
    }
    Ok(UnitOptions {
        use_name: args.name,
        new: args.new.unwrap_or(false) || args.template,
        template: args.template,
        restart_policy: args.restart_policy.clone(),
        restart_sec: args.restart_sec,
        stop_timeout: args.time,
        start_timeout: args.start_timeout,
        container_prefix: args.container_prefix.clone(),
        pod_prefix: args.pod_prefix.clone(),
        separator: args.separator.clone(),
        no_header: args.no_header,
        wants: args.wants.clone(),
        after: args.after.clone(),
        requires: args.requires.clone(),
        env: args.env.clone(),
    })
}

/// `generate systemd`'s output of units (a name and its text each): printed, written to
/// files here with `--files`, or a JSON object with `--format json`.
pub(crate) fn print_units(units: Vec<(String, String)>, args: &GenerateSystemdArgs) -> Outcome {
    if args.format.as_deref() == Some("json") {
        let map: serde_json::Map<String, serde_json::Value> = units
            .into_iter()
            .map(|(name, text)| (name, serde_json::Value::String(text)))
            .collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
        return Ok(0);
    }
    for (name, text) in &units {
        if args.files {
            let path = PathBuf::from(format!("{name}.service"));
            std::fs::write(&path, text)
                .map_err(|e| usage(format!("writing {}: {e}", path.display())))?;
            let shown = std::env::current_dir()
                .map(|d| d.join(&path))
                .unwrap_or(path);
            println!("{}", shown.display());
        } else {
            print!("{text}");
        }
    }
    Ok(0)
}

/// `generate spec`: a container's SpecGenerator (a pod's PodSpecGenerator), as podman
/// writes it; what it cannot say is named in a warning.
/// The warning for a setting of `what` (`container web`) its spec cannot say: a field's
/// name, or the whole spec when it does not read back (`spec_out::UNREADABLE`).
fn loss_warning(what: &str, loss: &str) -> String {
    if loss.starts_with(rpod_api::libpod::spec_out::UNREADABLE) {
        format!("{what}: {loss}")
    } else {
        format!("{what}: its {loss} cannot be said in a spec and is left out")
    }
}

pub fn spec(engine: &Engine, args: GenerateSpecArgs) -> Outcome {
    use rpod_api::libpod::spec_out;
    use rpod_engine::EngineError;
    let named = |name: &str| {
        if args.name {
            format!("{name}-clone")
        } else {
            name.to_string()
        }
    };
    let (what, spec, losses) = match engine.inspect(&args.target) {
        Ok(record) => {
            let options = engine.container_spec_options(&record, named(&record.config.name))?;
            let (spec, losses) = spec_out::container_spec_and_losses(&options);
            (format!("container {}", record.config.name), spec, losses)
        }
        Err(EngineError::NoSuchContainer(_)) => match engine.lookup_pod(&args.target) {
            Ok(pod) => {
                let options = engine.pod_spec_options(&pod.id, named(&pod.name))?;
                let (spec, losses) = spec_out::pod_spec_and_losses(&options);
                (format!("pod {}", pod.name), spec, losses)
            }
            Err(EngineError::NoSuchPod(_)) => {
                return Err(EngineError::InvalidArg(format!(
                    "no container or pod named {:?}",
                    args.target
                ))
                .into())
            }
            Err(e) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    for loss in &losses {
        tracing::warn!("{}", loss_warning(&what, loss));
    }
    let text = if args.compact {
        serde_json::to_string(&spec)
    } else {
        serde_json::to_string_pretty(&spec)
    }
    .map_err(|e| usage(format!("writing the spec: {e}")))?;
    match &args.filename {
        None => println!("{text}"),
        Some(path) => {
            std::fs::write(path, format!("{text}\n"))
                .map_err(|e| usage(format!("writing {}: {e}", path.display())))?;
            println!("{}", path.display());
        }
    }
    Ok(0)
}

pub fn kube(engine: &Engine, args: GenerateKubeArgs) -> Outcome {
    let generated = engine.generate_kube(&args.names, args.service)?;
    for warning in &generated.warnings {
        tracing::warn!("{warning}");
    }
    write_kube(&generated.yaml, args.filename.as_deref())
}

/// `generate kube`'s YAML to standard output or to `--filename` (local and remote).
pub(crate) fn write_kube(yaml: &str, filename: Option<&std::path::Path>) -> Outcome {
    match filename {
        None => print!("{yaml}"),
        Some(path) => {
            use std::io::Write;
            // As podman: an existing file is not overwritten.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| usage(format!("writing {}: {e}", path.display())))?;
            file.write_all(yaml.as_bytes())
                .map_err(|e| usage(format!("writing {}: {e}", path.display())))?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_worded_by_kind() {
        assert_eq!(
            loss_warning("container web", "domainname"),
            "container web: its domainname cannot be said in a spec and is left out"
        );
        let whole = format!("{}bad mount", rpod_api::libpod::spec_out::UNREADABLE);
        assert_eq!(
            loss_warning("container web", &whole),
            "container web: the spec does not read back: bad mount"
        );
    }
}
