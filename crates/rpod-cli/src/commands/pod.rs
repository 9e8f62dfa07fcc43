//! `rpod pod create|clone|ps|inspect|start|stop|restart|kill|pause|unpause|rm|prune|exists`.

use serde_json::{json, Value};

use rpod_engine::labels::parse_pairs;
use rpod_engine::pod_cgroups::PodLimits;
use rpod_engine::pods::SharedNamespace;
use rpod_engine::views::PodInspect;
use rpod_engine::{CreateOptions, Engine, EngineError, PodCloneOptions, PodOptions};
use rpod_oci::signal::parse_signal;

use crate::cli::*;
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use crate::format;

pub fn pod(engine: &Engine, command: PodCommand) -> Outcome {
    match command {
        PodCommand::Create(args) => create(engine, *args),
        PodCommand::Ps(args) => ps(engine, args),
        PodCommand::Inspect(args) => inspect(engine, args),
        PodCommand::Start(args) => each(engine, &args, false, |id| engine.pod_start(id)),
        PodCommand::Stop(args) => each(engine, &args.pick, args.ignore, |id| {
            engine.pod_stop(id, args.time)
        }),
        PodCommand::Restart(args) => each(engine, &args.pick, args.ignore, |id| {
            engine.pod_restart(id, args.time)
        }),
        PodCommand::Kill(args) => {
            let signal = parse_signal(&args.signal).map_err(usage)?;
            each(engine, &args.pick, false, |id| engine.pod_kill(id, signal))
        }
        PodCommand::Pause(args) => each(engine, &args, false, |id| engine.pod_pause(id)),
        PodCommand::Unpause(args) => unpause(engine, &args),
        PodCommand::Rm(args) => rm(engine, args),
        PodCommand::Prune(_) => {
            for id in engine.pod_prune()? {
                println!("{id}");
            }
            Ok(0)
        }
        PodCommand::Clone(args) => clone(engine, *args),
        PodCommand::Logs(args) => logs(engine, args),
        PodCommand::Top(args) => super::observe::pod_top(engine, args),
        PodCommand::Stats(args) => super::observe::pod_stats(engine, args),
        PodCommand::Exists(args) => match engine.lookup_pod(&args.name) {
            Ok(_) => Ok(0),
            Err(EngineError::NoSuchPod(_)) => Ok(1),
            Err(e) => Err(e.into()),
        },
    }
}

fn create(engine: &Engine, args: PodCreateArgs) -> Outcome {
    // The pod's user namespace is its infra container's, which its containers join.
    super::container::refuse_existing_id_file(args.pod_id_file.as_deref(), "pod")?;
    let (id_mappings, userns_auto) = pod_user_namespace(engine, "create", &args.userns)?;
    let pod = engine.create_pod(pod_options(&args, id_mappings, userns_auto)?)?;
    if let Some(file) = &args.pod_id_file {
        if let Err(failure) = super::container::write_id_file(file, &pod.id, "pod") {
            let _ = engine.pod_remove(&pod.id, true, Some(0));
            return Err(failure);
        }
    }
    println!("{}", pod.id);
    Ok(0)
}

/// `pod create`'s flags read (and checked) as the pod's options; its user namespace as
/// the caller found it.
pub(crate) fn pod_options(
    args: &PodCreateArgs,
    id_mappings: Option<rpod_engine::userns::IdMappings>,
    userns_auto: Option<rpod_engine::userns::AutoUserns>,
) -> Result<PodOptions, Failure> {
    let shared = args
        .share
        .as_deref()
        .map(SharedNamespace::parse_list)
        .transpose()?;
    let (network, networks) = rpod_engine::network::parse_network_flags(&args.net.network)?;
    let infra_options = CreateOptions {
        network,
        net: super::container::network_config(&args.net, networks)?,
        ip: args.net.ip,
        ip6: args.net.ip6,
        mac_address: args.net.mac_address.clone(),
        network_aliases: args.net.network_alias.clone(),
        id_mappings,
        userns_auto,
        mounts: super::container::volume_mounts(&args.pod.volume)?,
        volumes_from: args.pod.volumes_from.clone(),
        isolation: infra_isolation(&args.pod)?,
        security: rpod_engine::security::SecurityOptions::from_flags(
            false,
            &[],
            &[],
            &args.pod.security_opt,
        )?,
        ..Default::default()
    };
    let mut labels = parse_pairs(&super::container::label_file_entries(&args.pod.label_file)?);
    labels.extend(parse_pairs(&args.labels));
    let infra_command = infra_command(&args.pod)?;
    // `pod create NAME` (podman's) or `--name NAME`, not both.
    let name = match (&args.name, &args.name_word) {
        (Some(_), Some(_)) => {
            return Err(usage("cannot specify --name and NAME at the same time"));
        }
        (flag, word) => flag.clone().or_else(|| word.clone()),
    };
    Ok(PodOptions {
        replace: args.replace && name.is_some(),
        name,
        labels,
        infra: args.infra,
        shared,
        hostname: args.hostname.clone().filter(|h| !h.is_empty()),
        infra_name: args.infra_name.clone(),
        infra_command,
        infra_image: args.infra_image.clone(),
        infra_options,
        create_command: super::command_line(),
        exit_policy: rpod_engine::pods::ExitPolicy::parse(&args.exit_policy)?,
        infra_conmon_pidfile: args.pod.infra_conmon_pidfile.clone(),
        share_parent: args.share_parent,
        cgroup_parent: args.pod.cgroup_parent.clone(),
        limits: pod_limits(&args.limits)?,
    })
}

/// A pod's user namespace from `--userns`, `--uidmap`, `--gidmap`, `--subuidname` and
/// `--subgidname` (of `pod {command}`): mappings, or an automatic range; neither for the
/// host's.
fn pod_user_namespace(
    engine: &Engine,
    command: &str,
    flags: &PodUsernsFlags,
) -> Result<
    (
        Option<rpod_engine::userns::IdMappings>,
        Option<rpod_engine::userns::AutoUserns>,
    ),
    Failure,
> {
    let userns = flags.userns.as_deref();
    let id_mappings = engine.id_mappings_for(
        &flags.uidmap,
        &flags.gidmap,
        flags.subuidname.as_deref(),
        flags.subgidname.as_deref(),
        rpod_engine::userns::FlagNames::RUN,
    )?;
    let userns_auto = pod_userns_auto(command, userns)?;
    if let Some(why) = userns
        .and_then(super::container::userns_refuses_mappings)
        .filter(|_| id_mappings.is_some())
    {
        return Err(usage(why));
    }
    Ok((id_mappings, userns_auto))
}

/// A pod's `--userns` (of `pod {command}`): an automatic range, or none for the host's;
/// other modes refused.
pub(crate) fn pod_userns_auto(
    command: &str,
    userns: Option<&str>,
) -> Result<Option<rpod_engine::userns::AutoUserns>, Failure> {
    match userns {
        None | Some("" | "host") => Ok(None),
        Some(mode) => match rpod_engine::userns::AutoUserns::parse(mode)? {
            Some(auto) => Ok(Some(auto)),
            None => Err(Failure::new(
                ENGINE_ERROR,
                EngineError::NotSupported(format!(
                    "pod {command} --userns {mode} (a pod's user namespace is made with auto, or with --uidmap and --gidmap)"
                )),
            )),
        },
    }
}

/// The network settings given to `pod clone`, each to replace the original's.
fn clone_network(flags: &NetworkFlags) -> Result<rpod_engine::PodNetworkSettings, Failure> {
    let network = match flags.network.is_empty() {
        true => None,
        false => Some(rpod_engine::network::parse_network_flags(&flags.network)?),
    };
    // Parsed as a create parses them (and refused alike); only those given are kept.
    let parsed = super::container::network_config(flags, Vec::new())?;
    let given = |words: &[String]| !words.is_empty();
    Ok(rpod_engine::PodNetworkSettings {
        network,
        ports: (given(&flags.publish) || flags.publish_all)
            .then(|| (parsed.ports.clone(), parsed.publish_all)),
        exposed: given(&flags.expose).then(|| parsed.exposed.clone()),
        dns_servers: given(&flags.dns).then(|| parsed.dns_servers.clone()),
        dns_search: given(&flags.dns_search).then(|| parsed.dns_search.clone()),
        dns_options: given(&flags.dns_option).then(|| parsed.dns_options.clone()),
        add_hosts: given(&flags.add_host).then(|| parsed.add_hosts.clone()),
        no_hosts: flags.no_hosts.then_some(true),
        ip: flags.ip,
        ip6: flags.ip6,
        mac_address: flags.mac_address.clone(),
        network_aliases: given(&flags.network_alias).then(|| flags.network_alias.clone()),
    })
}

/// `--infra-command`: a JSON array, or one word.
fn infra_command(flags: &PodSettingFlags) -> Result<Option<Vec<String>>, Failure> {
    Ok(match &flags.infra_command {
        Some(text) if text.trim_start().starts_with('[') => Some(
            serde_json::from_str::<Vec<String>>(text)
                .map_err(|e| usage(format!("invalid --infra-command {text:?}: {e}")))?,
        ),
        Some(text) => Some(vec![text.clone()]),
        None => None,
    })
}

/// The infra container's namespaces, sysctls, `/dev/shm` size and devices.
fn infra_isolation(flags: &PodSettingFlags) -> Result<rpod_engine::isolation::Isolation, Failure> {
    use rpod_engine::isolation::{parse_device, Isolation, NamespaceMode};
    let mode = |flag: &str, value: &Option<String>| {
        NamespaceMode::parse(flag, value.as_deref().unwrap_or(""))
    };
    Ok(Isolation {
        pid: mode("pid", &flags.pid)?,
        uts: mode("uts", &flags.uts)?,
        shm_size: super::container::shm_size(flags.shm_size.as_deref())?,
        sysctls: super::container::sysctls(&flags.sysctl)?,
        devices: flags
            .device
            .iter()
            .map(|d| parse_device(d))
            .collect::<Result<_, _>>()?,
        ..Default::default()
    })
}

/// A clone's settings: those given, read as `pod create` reads them.
fn clone_settings(flags: &PodSettingFlags) -> Result<rpod_engine::PodSettings, Failure> {
    let isolation = infra_isolation(flags)?;
    let mounts = match flags.volume.is_empty() {
        true => None,
        false => Some(super::container::volume_mounts(&flags.volume)?),
    };
    let security = match flags.security_opt.is_empty() {
        true => None,
        false => Some(rpod_engine::security::SecurityOptions::from_flags(
            false,
            &[],
            &[],
            &flags.security_opt,
        )?),
    };
    Ok(rpod_engine::PodSettings {
        cgroup_parent: flags.cgroup_parent.clone(),
        infra_command: infra_command(flags)?,
        infra_conmon_pidfile: flags.infra_conmon_pidfile.clone(),
        mounts,
        volumes_from: (!flags.volumes_from.is_empty()).then(|| flags.volumes_from.clone()),
        devices: (!flags.device.is_empty()).then_some(isolation.devices),
        sysctls: (!flags.sysctl.is_empty()).then_some(isolation.sysctls),
        shm_size: isolation.shm_size,
        pid: flags.pid.as_ref().map(|_| isolation.pid),
        uts: flags.uts.as_ref().map(|_| isolation.uts),
        security,
        ..Default::default()
    })
}

/// The limits given on the command line.
fn pod_limits(flags: &PodLimitFlags) -> Result<PodLimits, Failure> {
    Ok(PodLimits {
        cpus: flags.cpus,
        cpu_shares: flags.cpu_shares,
        cpuset_cpus: flags.cpuset_cpus.clone(),
        cpuset_mems: flags.cpuset_mems.clone(),
        memory: flags
            .memory
            .as_deref()
            .map(super::container::parse_memory)
            .transpose()
            .map_err(usage)?,
        memory_swap: flags
            .memory_swap
            .as_deref()
            .map(super::container::size_or_unlimited)
            .transpose()?,
        blkio_weight: flags.blkio_weight,
        device_read_bps: throttles(&flags.device_read_bps, "--device-read-bps")?,
        device_write_bps: throttles(&flags.device_write_bps, "--device-write-bps")?,
        blkio_weight_device: flags
            .blkio_weight_device
            .iter()
            .map(|w| rpod_engine::resources::WeightDevice::parse(w))
            .collect::<Result<_, _>>()?,
    })
}

/// `--device-read-bps`/`--device-write-bps` words.
fn throttles(
    words: &[String],
    flag: &str,
) -> Result<Vec<rpod_engine::resources::Throttle>, Failure> {
    Ok(words
        .iter()
        .map(|w| rpod_engine::resources::Throttle::parse(w, flag))
        .collect::<Result<_, _>>()?)
}

/// `pod clone`: a copy of the pod and its containers; prints the new pod's ID.
fn clone(engine: &Engine, args: PodCloneArgs) -> Outcome {
    let name = match (args.name, args.new_name) {
        (Some(_), Some(_)) => return Err(usage("give the new name once: --name or a second word")),
        (name, word) => name.or(word),
    };
    let mut labels = parse_pairs(&super::container::label_file_entries(
        &args.settings.label_file,
    )?);
    labels.extend(parse_pairs(&args.labels));
    let mut settings = clone_settings(&args.settings)?;
    if args.userns.given() {
        settings.userns = Some(pod_user_namespace(engine, "clone", &args.userns)?);
    }
    settings.net = clone_network(&args.net)?;
    let pod = engine.clone_pod(
        &args.pod,
        &PodCloneOptions {
            name,
            labels,
            hostname: args.hostname,
            infra_name: args.infra_name,
            limits: pod_limits(&args.limits)?,
            settings,
            destroy: args.destroy,
        },
    )?;
    if args.start {
        engine.pod_start(&pod.id)?;
    }
    println!("{}", pod.id);
    Ok(0)
}

/// `pod logs`: `logs` of the pod's containers but its infra container (one with `-c`).
fn logs(engine: &Engine, mut args: PodLogsArgs) -> Outcome {
    let name = match (args.logs.latest, args.logs.containers.as_slice()) {
        (true, []) => engine
            .pods()?
            .into_iter()
            .last()
            .map(|p| p.id)
            .ok_or_else(|| usage("no pod to show the logs of"))?,
        (false, [pod]) => pod.clone(),
        _ => return Err(usage("give one pod, or --latest")),
    };
    let view = engine.pod_view(engine.lookup_pod(&name)?)?;
    let mut members: Vec<String> = view
        .containers
        .iter()
        .filter(|c| Some(c.id()) != view.pod.infra_id.as_deref())
        .map(|c| c.id().to_string())
        .collect();
    if let Some(wanted) = &args.container {
        let record = engine.lookup(wanted)?;
        if !members.iter().any(|id| id == record.id()) {
            return Err(usage(format!(
                "container {wanted} is not in pod {}",
                view.pod.name
            )));
        }
        members = vec![record.id().to_string()];
    }
    if members.is_empty() {
        return Err(usage(format!(
            "pod {} has no containers but its infra container",
            view.pod.name
        )));
    }
    args.logs.latest = false;
    args.logs.containers = members;
    super::container::logs(engine, args.logs)
}

/// What a pod command's pick asks for, before any pod is looked at.
pub(crate) enum PodsPicked {
    /// The pods named, and those whose IDs the `--pod-id-file`s hold.
    Named(Vec<String>),
    All,
    Latest,
}

/// The pick's flags checked against each other, and its `--pod-id-file`s read (a missing
/// file is skipped with `ignore`).
pub(crate) fn pods_picked(pick: &PodPickArgs, ignore: bool) -> Result<PodsPicked, Failure> {
    let mut names = pick.names.clone();
    for file in &pick.pod_id_file {
        match std::fs::read_to_string(file) {
            Ok(text) => names.push(text.trim().to_string()),
            Err(_) if ignore => {}
            Err(e) => return Err(usage(format!("reading {}: {e}", file.display()))),
        }
    }
    let named = !pick.names.is_empty() || !pick.pod_id_file.is_empty();
    match (pick.all, pick.latest, named) {
        (true, true, _) => Err(usage("--all and --latest cannot be given together")),
        (true, false, true) | (false, true, true) => {
            Err(usage("--all and --latest take no pod names"))
        }
        (true, false, false) => Ok(PodsPicked::All),
        (false, true, false) => Ok(PodsPicked::Latest),
        (false, false, false) => Err(usage("choose the pods, --all or --latest")),
        (false, false, true) => Ok(PodsPicked::Named(names)),
    }
}

/// The pods named (by name, ID, or in `--pod-id-file` files: a missing file is skipped
/// with `ignore`), or every pod with `--all`, or the latest. As podman's, every pod named
/// must be known before any is acted on (an unknown one is left out with `ignore`).
fn picked(engine: &Engine, pick: &PodPickArgs, ignore: bool) -> Result<Vec<String>, Failure> {
    match pods_picked(pick, ignore)? {
        PodsPicked::Named(names) => {
            let mut known = Vec::with_capacity(names.len());
            for name in names {
                match engine.lookup_pod(&name) {
                    Ok(_) => known.push(name),
                    Err(EngineError::NoSuchPod(_)) if ignore => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(known)
        }
        PodsPicked::All => Ok(engine.pods()?.into_iter().map(|p| p.id).collect()),
        PodsPicked::Latest => {
            let latest = engine.pods()?.into_iter().max_by_key(|p| p.created);
            match latest {
                Some(pod) => Ok(vec![pod.id]),
                None => Err(Failure::new(
                    crate::exit::ENGINE_ERROR,
                    EngineError::InvalidArg("--latest: there is no pod".into()),
                )),
            }
        }
    }
}

/// Act on each pod picked, printing its ID; the errors are printed and make the exit
/// code (an unknown pod is skipped silently with `ignore`).
fn each(
    engine: &Engine,
    pick: &PodPickArgs,
    ignore: bool,
    act: impl Fn(&str) -> rpod_engine::Result<rpod_engine::pods::PodRecord>,
) -> Outcome {
    let mut code = 0;
    for name in picked(engine, pick, ignore)? {
        match act(&name) {
            Ok(pod) => println!("{}", pod.id),
            Err(EngineError::NoSuchPod(_)) if ignore => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = ENGINE_ERROR;
            }
        }
    }
    Ok(code)
}

/// `pod unpause`: as podman's command, a pod neither paused nor degraded (nothing of it
/// paused) is passed over without a word (nor an event); the others are unpaused and
/// printed.
fn unpause(engine: &Engine, pick: &PodPickArgs) -> Outcome {
    use rpod_engine::pods::PodStatus;
    let mut code = 0;
    for name in picked(engine, pick, false)? {
        let outcome = engine
            .lookup_pod(&name)
            .and_then(|pod| engine.pod_view(pod))
            .and_then(|view| match view.status {
                PodStatus::Paused | PodStatus::Degraded => engine.pod_unpause_view(view).map(Some),
                _ => Ok(None),
            });
        match outcome {
            Ok(Some(pod)) => println!("{}", pod.id),
            Ok(None) => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = ENGINE_ERROR;
            }
        }
    }
    Ok(code)
}

/// Whether a failure is "no such pod": `pod rm` exits 1 for it, as podman's (and as `rm`
/// for a container).
pub(crate) fn is_unknown_pod(failure: &Failure) -> bool {
    matches!(
        failure.error.downcast_ref::<EngineError>(),
        Some(EngineError::NoSuchPod(_))
    )
}

fn rm(engine: &Engine, args: PodRmArgs) -> Outcome {
    // `--force` passes over a pod that is not there, as `--ignore` and as podman's.
    let ignore = args.ignore || args.force;
    let names = match picked(engine, &args.pick, ignore) {
        Ok(names) => names,
        Err(failure) if is_unknown_pod(&failure) => {
            eprintln!("Error: {}", failure.message());
            return Ok(1);
        }
        Err(failure) => return Err(failure),
    };
    let mut code = 0;
    for name in names {
        // podman prints each pod's ID.
        let removal = engine.lookup_pod(&name).and_then(|pod| {
            engine
                .pod_remove(&pod.id, args.force, args.time)
                .map(|_| pod.id)
        });
        match removal {
            Ok(id) => println!("{id}"),
            Err(EngineError::NoSuchPod(_)) if ignore => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = match e {
                    EngineError::NoSuchPod(_) => 1,
                    _ => ENGINE_ERROR,
                };
            }
        }
    }
    Ok(code)
}

/// One pod as `rpod inspect` shows it.
pub fn inspect_value(engine: &Engine, name: &str) -> Result<Value, Failure> {
    let view = engine.pod_view(engine.lookup_pod(name)?)?;
    Ok(serde_json::to_value(PodInspect::new(&view))?)
}

fn inspect(engine: &Engine, args: PodInspectArgs) -> Outcome {
    let mut views = Vec::new();
    let mut misses = super::InspectMisses::new("object");
    let names = if args.latest {
        let pick = crate::cli::PodPickArgs {
            latest: true,
            ..Default::default()
        };
        picked(engine, &pick, false)?
    } else {
        args.names.clone()
    };
    for name in &names {
        match inspect_value(engine, name) {
            Ok(view) => views.push(view),
            Err(failure) => misses.add(Some("pod"), name, &failure),
        }
    }
    print_pod_inspect(args.format.as_deref(), views)?;
    misses.outcome()
}

/// `pod inspect`'s output: `--format`'s template over each pod, or the JSON (podman 4
/// prints one pod as an object, several as an array).
pub(crate) fn print_pod_inspect(format: Option<&str>, views: Vec<Value>) -> Result<(), Failure> {
    match format {
        Some(template) => format::print(template, &views, &format::upper_header)?,
        None if views.len() == 1 => println!("{}", serde_json::to_string_pretty(&views[0])?),
        None => println!("{}", serde_json::to_string_pretty(&Value::Array(views))?),
    }
    Ok(())
}

fn ps(engine: &Engine, args: PodPsArgs) -> Outcome {
    let mut filters: std::collections::HashMap<String, Vec<String>> = Default::default();
    for word in &args.filter {
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| usage(format!("invalid --filter {word:?}: use KEY=VALUE")))?;
        filters
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }
    rpod_engine::PodView::check_filters(&filters)?;
    let filters = engine.resolve_pod_filters(filters);
    let mut reports = Vec::new();
    for pod in engine.pods()? {
        let view = engine.pod_view(pod)?;
        if view.passes(&filters)? {
            // podman's `ListPodsReport`, as `--format json` prints it.
            reports.push(serde_json::to_value(rpod_engine::views::ListPod::new(
                &view,
            ))?);
        }
    }
    sort_pods(&mut reports, &args.sort)?;
    if args.latest {
        sort_pods(&mut reports, "created")?;
        reports.truncate(1);
    }
    print_pods(&args, reports)
}

/// A `ListPodsReport`'s creation time.
fn pod_created(report: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    report["Created"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `pod ps --sort`: created (newest first), id, name, number (of containers) or status.
pub(crate) fn sort_pods(reports: &mut [Value], sort: &str) -> Result<(), Failure> {
    let text = |report: &Value, key: &str| report[key].as_str().unwrap_or_default().to_string();
    match sort {
        "created" => reports.sort_by_key(|r| std::cmp::Reverse(pod_created(r))),
        "id" => reports.sort_by_key(|r| text(r, "Id")),
        "name" | "names" => reports.sort_by_key(|r| text(r, "Name")),
        "number" => reports.sort_by_key(|r| r["Containers"].as_array().map_or(0, Vec::len)),
        "status" => reports.sort_by_key(|r| text(r, "Status")),
        other => {
            return Err(usage(format!(
                "invalid --sort {other:?}: created, id, name, number or status"
            )))
        }
    }
    Ok(())
}

/// `pod ps`'s output of `reports` (podman's `ListPodsReport`s, listed and sorted): the
/// IDs, the JSON, or the table (or `--format`'s template) with its columns.
pub(crate) fn print_pods(args: &PodPsArgs, reports: Vec<Value>) -> Outcome {
    let short = |id: &str| -> String {
        if args.no_trunc {
            id.to_string()
        } else {
            id.chars().take(12).collect()
        }
    };
    let mut rows = Vec::new();
    for report in &reports {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
        let containers = report["Containers"].as_array().cloned().unwrap_or_default();
        let joined = |key: &str, shorten: bool| -> String {
            containers
                .iter()
                .map(|c| {
                    let value = text(&c[key]);
                    if shorten {
                        short(&value)
                    } else {
                        value
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        rows.push(json!({
            "Id": short(&text(&report["Id"])),
            "Name": report["Name"],
            "Status": report["Status"],
            "Created": pod_created(report).map(rpod_engine::human::ago).unwrap_or_default(),
            "InfraId": short(&text(&report["InfraId"])),
            "NumberOfContainers": containers.len(),
            "Labels": report["Labels"],
            "ContainerNames": joined("Names", false),
            "ContainerIds": joined("Id", true),
            "ContainerStatuses": joined("Status", false),
            "Cgroup": report["Cgroup"],
            "Namespace": report["Namespace"],
        }));
    }
    if args.quiet {
        for row in &rows {
            println!("{}", row["Id"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    if args.format.as_deref() == Some("json") {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(0);
    }
    let format = args.format.clone().unwrap_or_else(|| {
        let mut columns = vec!["{{.Id}}", "{{.Name}}", "{{.Status}}", "{{.Created}}"];
        columns.push("{{.InfraId}}");
        if args.ns {
            columns.push("{{.Cgroup}}");
            columns.push("{{.Namespace}}");
        }
        if args.ctr_names {
            columns.push("{{.ContainerNames}}");
        }
        if args.ctr_ids {
            columns.push("{{.ContainerIds}}");
        }
        if args.ctr_status {
            columns.push("{{.ContainerStatuses}}");
        }
        if !(args.ctr_names || args.ctr_ids || args.ctr_status) {
            columns.push("{{.NumberOfContainers}}");
        }
        format!("table {}", columns.join("\t"))
    });
    let header = |field: &str| match field {
        "Id" => "POD ID".to_string(),
        "InfraId" => "INFRA ID".to_string(),
        "NumberOfContainers" => "# OF CONTAINERS".to_string(),
        "ContainerNames" => "NAMES".to_string(),
        "ContainerIds" => "IDS".to_string(),
        "ContainerStatuses" => "STATUS".to_string(),
        "Namespace" => "NAMESPACES".to_string(),
        other => other.to_uppercase(),
    };
    format::print_table(&format, &rows, &header, args.no_heading)?;
    Ok(0)
}
