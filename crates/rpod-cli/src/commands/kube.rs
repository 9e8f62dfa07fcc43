//! `rpod kube play` (also `play kube`) and `rpod kube down`: the engine's `kube_play` and
//! `kube_down` over a YAML file or standard input, reported as podman reports them.

use std::io::Read;

use rpod_engine::kube::MAX_YAML;
use rpod_engine::{Engine, PlayOptions};

use crate::cli::{KubeDownArgs, KubePlayArgs};
use crate::exit::{usage, Outcome};

/// A YAML file, or standard input for `-`, at most `MAX_YAML` (local and remote).
pub(crate) fn read_yaml(file: &str) -> Result<String, crate::exit::Failure> {
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin()
            .take(MAX_YAML + 1)
            .read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(MAX_YAML + 1).read_to_string(&mut text))
    };
    read.map_err(|e| usage(format!("reading {file}: {e}")))?;
    if text.len() as u64 > MAX_YAML {
        return Err(usage(format!("{file}: larger than {MAX_YAML} bytes")));
    }
    Ok(text)
}

pub fn play(engine: &Engine, args: KubePlayArgs) -> Outcome {
    if args.down {
        return down(engine, KubeDownArgs { file: args.file });
    }
    let yaml = read_yaml(&args.file)?;
    let quiet = args.quiet;
    let mut progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let userns_auto = match args.userns.as_deref() {
        None | Some("" | "host") => None,
        Some(mode) => Some(
            rpod_engine::userns::AutoUserns::parse(mode)?.ok_or_else(|| {
                crate::exit::Failure::new(
                    crate::exit::ENGINE_ERROR,
                    rpod_engine::EngineError::NotSupported(format!(
                        "kube play --userns {mode} (a pod's user namespace is made with auto)"
                    )),
                )
            })?,
        ),
    };
    let mut configmaps = Vec::new();
    for file in &args.configmaps {
        configmaps.push(read_yaml(&file.display().to_string())?);
    }
    let options = PlayOptions {
        start: args.start,
        replace: args.replace,
        userns_auto,
        configmaps,
        // podman's: images are built from the current directory.
        build_dir: args
            .context_dir
            .clone()
            .or_else(|| std::env::current_dir().ok()),
        build: args.build,
        network: (!args.network.is_empty())
            .then(|| rpod_engine::network::parse_network_flags(&args.network))
            .transpose()?,
        log_to_file: args
            .log_driver
            .as_deref()
            .map(rpod_engine::parse_kube_log_driver)
            .transpose()?,
        log: super::container::log_options(&args.log_opt)?,
        registry: super::registry::registry_options(&args.registry)?,
        no_hosts: args.no_hosts,
        annotations: rpod_engine::labels::parse_pairs(&args.annotation),
        ips: args.ip.clone(),
        macs: args.mac_address.clone(),
        seccomp_profile_root: args.seccomp_profile_root.clone(),
    };
    let played = engine.kube_play(&yaml, &options, &mut progress)?;
    for service in &played.services {
        eprintln!(
            "Service {service}: not played (a Service needs a cluster; the pods' hostPorts publish their ports)"
        );
    }
    let pods: Vec<(String, Vec<String>)> = played
        .pods
        .into_iter()
        .map(|pod| (pod.id, pod.containers))
        .collect();
    print_played(&played.volumes, &pods);
    Ok(0)
}

/// podman's report of a play: the claims' volumes, then each pod (its ID and its
/// containers'), local and remote.
pub(crate) fn print_played(volumes: &[String], pods: &[(String, Vec<String>)]) {
    if !volumes.is_empty() {
        println!("Volumes:");
        for volume in volumes {
            println!("{volume}");
        }
    }
    for (pod, containers) in pods {
        println!("Pod:\n{pod}");
        println!(
            "{}",
            if containers.len() == 1 {
                "Container:"
            } else {
                "Containers:"
            }
        );
        for id in containers {
            println!("{id}");
        }
        println!();
    }
}

pub fn down(engine: &Engine, args: KubeDownArgs) -> Outcome {
    let yaml = read_yaml(&args.file)?;
    let removed = engine.kube_down(&yaml)?;
    print_down(&removed, &removed);
    Ok(0)
}

/// podman's report of a `kube down` (local and remote).
pub(crate) fn print_down(stopped: &[String], removed: &[String]) {
    println!("Pods stopped:");
    for id in stopped {
        println!("{id}");
    }
    println!("Pods removed:");
    for id in removed {
        println!("{id}");
    }
}
