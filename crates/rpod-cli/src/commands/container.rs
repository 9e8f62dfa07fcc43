//! Container commands: create, run, start, stop, kill, rm, pause, unpause, wait, ps,
//! inspect, logs, exists, cleanup.

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use rpod_engine::container::{ContainerRecord, Status};
use rpod_engine::health::{HealthCheck, HealthCommand};
use rpod_engine::logs::LogFilter;
use rpod_engine::resources::Throttle;
use rpod_engine::{CreateOptions, Engine, EngineError, ExecRequest, RemoveOptions};
use rpod_oci::signal::parse_signal;
use rpod_oci::{AttachSession, AttachStreams, OciError};

use crate::cli::*;
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use crate::{format, inspect};

use super::select::Selection;

/// `64m`, `1g`, `512k`, `100b` or plain bytes (binary units, as podman), above 0.
pub fn parse_memory(text: &str) -> anyhow::Result<i64> {
    let bytes = parse_size(text)?;
    if bytes <= 0 {
        bail!("invalid size {text:?}: must be positive");
    }
    Ok(bytes)
}

/// A size as `parse_memory` takes it, 0 included.
fn parse_size(text: &str) -> anyhow::Result<i64> {
    let lower = text.to_ascii_lowercase();
    let (number, unit) = rpod_engine::human::number_and_unit(&lower)
        .ok_or_else(|| anyhow!("invalid size {text:?}"))?;
    let factor: f64 = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0_f64.powi(4),
        _ => bail!("invalid size {text:?}: use a number with b, k, m or g"),
    };
    let bytes = (number * factor) as i64;
    // Only 0 itself is none: a fraction of a byte is no size.
    if number < 0.0 || (number > 0.0 && bytes == 0) {
        bail!("invalid size {text:?}: must be positive");
    }
    Ok(bytes)
}

/// `-e` values: `KEY=VALUE` as given; a bare `KEY` takes rpod's own value, and is left out
/// when rpod has none (as podman); a bare `PREFIX*` takes every variable of rpod's whose
/// name starts with `PREFIX` (podman's `-e 'FOO*'`; `-e '*'` is all of them). An empty
/// entry or an empty name is refused.
pub(crate) fn expand_env(entries: &[String]) -> Result<Vec<String>, Failure> {
    expand_env_from(entries, &rpod_engine::environment::host_vars())
}

fn expand_env_from(entries: &[String], host: &[(String, String)]) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for entry in entries {
        let name = entry.split('=').next().unwrap_or_default();
        if name.is_empty() {
            return Err(usage(format!(
                "invalid environment variable {entry:?}: the name is empty"
            )));
        }
        if name.chars().any(char::is_whitespace) {
            return Err(usage(format!(
                "invalid environment variable {entry:?}: the name has white space"
            )));
        }
        if entry.contains('=') {
            out.push(entry.clone());
        } else if let Some(prefix) = name.strip_suffix('*') {
            out.extend(
                host.iter()
                    .filter(|(key, _)| key.starts_with(prefix))
                    .map(|(key, value)| format!("{key}={value}")),
            );
        } else if let Some((_, value)) = host.iter().find(|(key, _)| key == name) {
            out.push(format!("{name}={value}"));
        }
    }
    Ok(out)
}

/// The entries of `--env-file` files: one `KEY=VALUE` or `KEY` a line; blank lines and
/// lines starting with `#` are skipped.
pub(crate) fn env_file_entries(files: &[std::path::PathBuf]) -> Result<Vec<String>, Failure> {
    file_entries(files, &|file, why| {
        format!("parsing env file {:?}: {why}", file.display().to_string())
    })
}

/// The entries of `--label-file` files, read as `env_file_entries` reads env files; a
/// name with white space in it is refused, as podman's and Docker's refuse it (`a b=1`
/// is a mistake in a file; `--label 'a b=1'` is taken as given, as theirs).
pub(crate) fn label_file_entries(files: &[std::path::PathBuf]) -> Result<Vec<String>, Failure> {
    let describe = |why: String| format!("unable to process labels: {why}");
    let entries = file_entries(files, &|_, why| describe(why))?;
    for entry in &entries {
        let name = entry.split('=').next().unwrap_or_default();
        if entry.contains('=') && name.chars().any(char::is_whitespace) {
            return Err(usage(describe(format!(
                "name {name:?} has white spaces, poorly formatted name"
            ))));
        }
    }
    Ok(entries)
}

fn file_entries(
    files: &[std::path::PathBuf],
    describe: &dyn Fn(&std::path::Path, String) -> String,
) -> Result<Vec<String>, Failure> {
    let mut entries = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            // Go's words (`open /x: no such file or directory`), which podman's quote; the
            // system's own words become Go's in every message (`Failure::message`).
            .map_err(|e| usage(describe(file, format!("open {}: {e}", file.display()))))?;
        entries.extend(
            text.lines()
                .map(|l| l.trim_start())
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.trim_end_matches('\r').to_string()),
        );
    }
    Ok(entries)
}

/// `-v`s; relative host paths are taken from the current directory.
pub(crate) fn volume_mounts(
    volumes: &[String],
) -> Result<Vec<rpod_engine::mounts::MountSpec>, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| usage(format!("finding the current directory: {e}")))?;
    let mut mounts = Vec::new();
    for volume in volumes {
        mounts.push(rpod_engine::mounts::parse_volume(volume, &cwd)?);
    }
    Ok(mounts)
}

/// `-v`, `--mount` and `--tmpfs`; relative host paths are taken from the current directory.
fn mounts(args: &RunArgs) -> Result<Vec<rpod_engine::mounts::MountSpec>, Failure> {
    use rpod_engine::mounts::{parse_mount, parse_tmpfs};
    let cwd = std::env::current_dir()
        .map_err(|e| usage(format!("finding the current directory: {e}")))?;
    let mut mounts = volume_mounts(&args.volume)?;
    for mount in &args.mount {
        mounts.push(parse_mount(mount, &cwd)?);
    }
    for tmpfs in &args.tmpfs {
        mounts.push(parse_tmpfs(tmpfs)?);
    }
    Ok(mounts)
}

/// A `--health-cmd` or `--health-startup-cmd`, read as podman reads it.
fn health_command(text: Option<&str>) -> Result<HealthCommand, Failure> {
    Ok(text.map_or(Ok(HealthCommand::NotGiven), HealthCheck::parse_command)?)
}

/// `--health-*`: the check, or none (then the image's), and whether checks are off
/// (`--no-healthcheck`, `--health-cmd none`: not even the image's).
fn health_check(args: &RunArgs) -> Result<(Option<HealthCheck>, bool), Failure> {
    let on_failure = rpod_engine::health::OnFailure::parse(&args.health_on_failure)?;
    let command = health_command(args.health_cmd.as_deref())?;
    let startup = health_command(args.health_startup_cmd.as_deref())?;
    let off = args.no_healthcheck || command == HealthCommand::Disabled;
    let HealthCommand::Test(test) = command else {
        if startup != HealthCommand::NotGiven {
            return Err(usage("--health-startup-cmd needs a --health-cmd"));
        }
        return Ok((None, off));
    };
    if args.no_healthcheck {
        return Err(usage(
            "--no-healthcheck and --health-cmd cannot be used together",
        ));
    }
    let seconds = |flag: &str, text: &str| -> Result<u64, Failure> {
        if text == "disable" && flag == "--health-interval" {
            return Ok(0);
        }
        super::logs::parse_duration(text)
            .and_then(|d| u64::try_from(d.num_seconds()).ok())
            .ok_or_else(|| usage(format!("invalid {flag} {text:?}: use a duration like 30s")))
    };
    let startup_test = match startup {
        HealthCommand::Test(test) => Some(test),
        HealthCommand::NotGiven => None,
        HealthCommand::Disabled => {
            return Err(usage(
                "--health-startup-cmd none: leave the flag out for no startup check",
            ))
        }
    };
    let check = HealthCheck {
        test,
        interval_secs: seconds("--health-interval", &args.health_interval)?,
        timeout_secs: seconds("--health-timeout", &args.health_timeout)?.max(1),
        start_period_secs: seconds("--health-start-period", &args.health_start_period)?,
        retries: args.health_retries.max(1),
        on_failure,
        startup: startup_test
            .map(|test| -> Result<_, Failure> {
                Ok(rpod_engine::health::StartupCheck {
                    test,
                    interval_secs: seconds(
                        "--health-startup-interval",
                        &args.health_startup_interval,
                    )?
                    .max(1),
                    timeout_secs: seconds(
                        "--health-startup-timeout",
                        &args.health_startup_timeout,
                    )?
                    .max(1),
                    retries: args.health_startup_retries,
                    successes: args.health_startup_success.max(1),
                    delay_secs: 0,
                })
            })
            .transpose()?,
    };
    Ok((Some(check), off))
}

/// `--log-opt KEY=VALUE`, each.
pub(crate) fn log_options(opts: &[String]) -> Result<rpod_engine::logs::LogOptions, Failure> {
    let pairs = opts
        .iter()
        .map(|opt| opt.split_once('=').unwrap_or((opt.as_str(), "")));
    Ok(rpod_engine::logs::LogOptions::parse(pairs)?)
}

/// Ports, DNS and hosts flags.
pub fn network_config(
    args: &NetworkFlags,
    networks: Vec<rpod_engine::container::NetworkJoin>,
) -> Result<rpod_engine::container::NetworkConfig, Failure> {
    use rpod_engine::network::{etc_files, ports};
    let mut published = Vec::new();
    for spec in &args.publish {
        published.extend(ports::parse_publish(spec)?);
    }
    let exposed = ports::exposed_keys(&args.expose)?;
    if args.publish_all {
        for spec in &args.expose {
            published.extend(ports::parse_exposed(spec)?);
        }
    }
    let add_hosts = args
        .add_host
        .iter()
        .map(|h| etc_files::parse_add_host(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(usage)?;
    Ok(rpod_engine::container::NetworkConfig {
        networks,
        ports: published,
        publish_all: args.publish_all,
        exposed,
        dns_servers: args.dns.clone(),
        dns_search: args.dns_search.clone(),
        dns_options: args.dns_option.clone(),
        add_hosts,
        no_hosts: args.no_hosts,
        // podman's CLI has no `--link` (Docker's links come through the REST service).
        links: Vec::new(),
    })
}

/// A memory size, or -1 (unlimited) where that is allowed.
pub fn size_or_unlimited(text: &str) -> Result<i64, Failure> {
    if text == "-1" {
        return Ok(-1);
    }
    parse_memory(text).map_err(usage)
}

/// The limits of `--memory-swap`, `--cpu-shares`, ... as a create takes them.
fn limit_resources(args: &LimitArgs) -> Result<rpod_engine::resources::Resources, Failure> {
    Ok(rpod_engine::resources::Resources {
        memory_swap: args
            .memory_swap
            .as_deref()
            .map(size_or_unlimited)
            .transpose()?,
        memory_reservation: args
            .memory_reservation
            .as_deref()
            .map(|s| parse_memory(s).map_err(usage))
            .transpose()?,
        cpu_shares: args.cpu_shares,
        cpu_quota: args.cpu_quota,
        cpu_period: args.cpu_period,
        cpuset_cpus: args.cpuset_cpus.clone(),
        cpuset_mems: args.cpuset_mems.clone(),
        blkio_weight: args.blkio_weight,
        blkio_weight_device: args
            .blkio_weight_device
            .iter()
            .map(|w| rpod_engine::resources::WeightDevice::parse(w))
            .collect::<Result<_, _>>()?,
        // -1: the kernel's default, as podman.
        memory_swappiness: match args.memory_swappiness {
            None | Some(-1) => None,
            Some(s) if s < 0 => {
                return Err(usage(format!(
                    "invalid --memory-swappiness {s}: from 0 to 100, or -1"
                )))
            }
            Some(s) => Some(s as u64),
        },
        cpu_rt_period: args.cpu_rt_period,
        cpu_rt_runtime: args.cpu_rt_runtime,
        device_read_bps: throttles(&args.device_read_bps, "--device-read-bps", Throttle::parse)?,
        device_write_bps: throttles(
            &args.device_write_bps,
            "--device-write-bps",
            Throttle::parse,
        )?,
        device_read_iops: throttles(
            &args.device_read_iops,
            "--device-read-iops",
            Throttle::parse_iops,
        )?,
        device_write_iops: throttles(
            &args.device_write_iops,
            "--device-write-iops",
            Throttle::parse_iops,
        )?,
        ..Default::default()
    })
}

/// Per-device limits of one flag, each `PATH:VALUE`.
fn throttles(
    texts: &[String],
    flag: &str,
    parse: impl Fn(&str, &str) -> Result<Throttle, EngineError>,
) -> Result<Vec<Throttle>, Failure> {
    Ok(texts
        .iter()
        .map(|t| parse(t, flag))
        .collect::<Result<_, _>>()?)
}

/// `container clone`: prints the clone's ID, as podman.
pub fn clone(engine: &Engine, args: CloneArgs) -> Outcome {
    // An empty second argument names nothing (it lets a third give the image).
    let new_name = args.new_name.clone().filter(|n| !n.is_empty());
    if args.name.is_some() && new_name.is_some() {
        return Err(usage(
            "give the clone's name once: --name or the second argument",
        ));
    }
    let extra = limit_resources(&args.limits)?;
    let limits = rpod_engine::resources::LimitChanges {
        memory: memory_flag(args.memory.as_deref())?,
        cpus: args.cpus,
        ..limit_changes(extra)
    };
    let options = rpod_engine::CloneOptions {
        name: args.name.clone().or(new_name),
        image: args.image.clone(),
        limits,
        destroy: args.destroy,
        force: args.force,
        pod: args.pod.clone(),
    };
    let record = engine.clone_container(&args.container, &options)?;
    if args.run {
        engine.start(record.id(), None, None)?;
    }
    println!("{}", record.id());
    Ok(0)
}

/// `--memory` of `update` and `clone`.
fn memory_flag(text: Option<&str>) -> Result<Option<i64>, Failure> {
    text.map(|s| parse_memory(s).map_err(usage)).transpose()
}

/// The changes `--memory-swap`, `--cpu-shares`, ... ask for (`update`, `clone`).
fn limit_changes(extra: rpod_engine::resources::Resources) -> rpod_engine::resources::LimitChanges {
    rpod_engine::resources::LimitChanges {
        memory_swap: extra.memory_swap,
        memory_reservation: extra.memory_reservation,
        cpu_shares: extra.cpu_shares,
        cpu_quota: extra.cpu_quota,
        cpu_period: extra.cpu_period,
        cpuset_cpus: extra.cpuset_cpus,
        cpuset_mems: extra.cpuset_mems,
        blkio_weight: extra.blkio_weight,
        blkio_weight_device: extra.blkio_weight_device,
        memory_swappiness: extra.memory_swappiness,
        cpu_rt_period: extra.cpu_rt_period,
        cpu_rt_runtime: extra.cpu_rt_runtime,
        device_read_bps: extra.device_read_bps,
        device_write_bps: extra.device_write_bps,
        device_read_iops: extra.device_read_iops,
        device_write_iops: extra.device_write_iops,
        ..Default::default()
    }
}

/// `rpod update`: prints each container's ID, as podman.
pub fn update(engine: &Engine, args: UpdateArgs) -> Outcome {
    let changes = update_changes(&args)?;
    for name in &args.containers {
        let record = engine.update(name, &changes)?;
        println!("{}", record.id());
    }
    Ok(0)
}

/// What `update`'s flags change (local and remote).
pub(crate) fn update_changes(
    args: &UpdateArgs,
) -> Result<rpod_engine::resources::LimitChanges, Failure> {
    let extra = limit_resources(&args.limits)?;
    Ok(rpod_engine::resources::LimitChanges {
        memory: memory_flag(args.memory.as_deref())?,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        restart: args
            .restart
            .as_deref()
            .map(rpod_engine::restart::RestartPolicy::parse)
            .transpose()?,
        ..limit_changes(extra)
    })
}

/// `--shm-size`: a size, or 0 for no limit (podman's: a tmpfs with `size=0`).
pub(crate) fn shm_size(text: Option<&str>) -> Result<Option<u64>, Failure> {
    text.map(|s| {
        parse_size(s)
            .ok()
            .map(|n| n as u64)
            .ok_or_else(|| usage(format!("invalid --shm-size {s:?}")))
    })
    .transpose()
}

/// `--sysctl KEY=VALUE`s.
pub(crate) fn sysctls(
    entries: &[String],
) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut sysctls = std::collections::BTreeMap::new();
    for entry in entries {
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| usage(format!("invalid --sysctl {entry:?}: use KEY=VALUE")))?;
        sysctls.insert(key.to_string(), value.to_string());
    }
    Ok(sysctls)
}

/// `--pid`, `--ipc`, `--uts`, `--cgroupns`, `--shm-size`, `--sysctl`, `--ulimit`, `--device`, `--group-add`.
fn isolation(args: &RunArgs) -> Result<rpod_engine::isolation::Isolation, Failure> {
    use rpod_engine::isolation::{parse_device, parse_ulimits, Isolation, NamespaceMode};
    let mode = |flag: &str, value: &Option<String>| {
        NamespaceMode::parse(flag, value.as_deref().unwrap_or(""))
    };
    let sysctls = sysctls(&args.sysctl)?;
    let (ulimits, ulimits_host) = parse_ulimits(&args.ulimit)?;
    let shm_size = shm_size(args.shm_size.as_deref())?;
    Ok(Isolation {
        pid: mode("pid", &args.pid)?,
        ipc: mode("ipc", &args.ipc)?,
        uts: mode("uts", &args.uts)?,
        cgroup: mode("cgroupns", &args.cgroupns)?,
        init: None,
        shm_size,
        sysctls,
        ulimits,
        ulimits_host,
        devices: args
            .device
            .iter()
            .map(|d| parse_device(d))
            .collect::<Result<_, _>>()?,
        group_add: args.group_add.clone(),
        device_cgroup_rules: args
            .device_cgroup_rule
            .iter()
            .map(|r| rpod_engine::isolation::DeviceRule::parse(r))
            .collect::<Result<_, _>>()?,
    })
}

/// What `build`'s flags give every RUN step's container (the builder sets the rest).
pub(crate) fn build_step_template(flags: &BuildStepFlags) -> Result<CreateOptions, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| usage(format!("finding the current directory: {e}")))?;
    let mounts = flags
        .volume
        .iter()
        .map(|v| rpod_engine::mounts::parse_volume(v, &cwd))
        .collect::<Result<Vec<_>, _>>()?;
    let settings = rpod_engine::StepSettings {
        mounts,
        add_hosts: flags.add_host.clone(),
        dns_servers: flags.dns.clone(),
        dns_search: flags.dns_search.clone(),
        dns_options: flags.dns_option.clone(),
        no_hosts: flags.no_hosts,
        cap_add: flags.cap_add.clone(),
        cap_drop: flags.cap_drop.clone(),
        security_opt: flags.security_opt.clone(),
        ulimits: flags.ulimit.clone(),
        devices: flags.device.clone(),
        shm_size: shm_size(flags.shm_size.as_deref())?,
        memory: flags
            .memory
            .as_deref()
            .filter(|m| m.trim() != "0")
            .map(parse_memory)
            .transpose()
            .map_err(usage)?,
        memory_swap: flags
            .memory_swap
            .as_deref()
            .map(size_or_unlimited)
            .transpose()?,
        cpu_shares: flags.cpu_shares,
        cpu_period: flags.cpu_period,
        cpu_quota: flags.cpu_quota,
        cpuset_cpus: flags.cpuset_cpus.clone(),
        cpuset_mems: flags.cpuset_mems.clone(),
        cgroup_parent: flags.cgroup_parent.clone(),
        http_proxy: flags.http_proxy,
        pid: flags.pid.clone(),
        ipc: flags.ipc.clone(),
        uts: flags.uts.clone(),
        cgroupns: flags.cgroupns.clone(),
    };
    // A bad setting is the user's mistake: a usage error, as the flags' own.
    settings.template().map_err(usage)
}

pub(crate) fn create_options(args: &RunArgs) -> Result<CreateOptions, Failure> {
    let mut words = args.image_and_command.iter();
    let first = words.next().ok_or_else(|| usage("an image is required"))?;
    let command: Vec<String> = words.cloned().collect();
    let (image, rootfs) = if args.rootfs {
        (None, Some(std::path::PathBuf::from(first)))
    } else {
        (Some(first.clone()), None)
    };
    let entrypoint = match &args.entrypoint {
        None => None,
        Some(e) if e.trim_start().starts_with('[') => Some(
            serde_json::from_str::<Vec<String>>(e)
                .map_err(|err| usage(format!("invalid --entrypoint {e:?}: {err}")))?,
        ),
        Some(e) if e.is_empty() => Some(Vec::new()),
        Some(e) => Some(vec![e.clone()]),
    };
    let mut env: Vec<String> = if args.env_host {
        rpod_engine::environment::host_vars()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    } else {
        Vec::new()
    };
    env.extend(expand_env(&env_file_entries(&args.env_file)?)?);
    env.extend(expand_env(&args.env)?);
    let security = rpod_engine::security::SecurityOptions::from_flags(
        args.privileged,
        &args.cap_add,
        &args.cap_drop,
        &args.security_opt,
    )?;
    let mut labels = rpod_engine::labels::parse_pairs(&label_file_entries(&args.label_file)?);
    labels.extend(rpod_engine::labels::parse_pairs(&args.labels));
    // As podman's: a container made by a systemd unit (`generate systemd --new`, whose
    // units set this) is labelled with the unit, which `auto-update` restarts.
    if let Some(unit) = std::env::var_os(rpod_engine::engine::auto_update::UNIT_LABEL) {
        if !unit.is_empty() {
            labels.insert(
                rpod_engine::engine::auto_update::UNIT_LABEL.to_string(),
                unit.to_string_lossy().into_owned(),
            );
        }
    }
    let stop_signal = args
        .stop_signal
        .as_deref()
        .map(parse_signal)
        .transpose()
        .map_err(usage)?;
    let memory = args
        .memory
        .as_deref()
        // `--memory 0`: no limit, as podman reads it.
        .filter(|m| m.trim() != "0")
        .map(parse_memory)
        .transpose()
        .map_err(usage)?;
    let (network, networks) = rpod_engine::network::parse_network_flags(&args.net.network)?;
    let net = network_config(&args.net, networks)?;
    let (log_to_file, passthrough) = match args.log_driver.as_deref().unwrap_or("k8s-file") {
        "k8s-file" | "json-file" => (true, false),
        "none" => (false, false),
        "passthrough" => (false, true),
        other => {
            return Err(Failure::new(
                ENGINE_ERROR,
                EngineError::NotSupported(format!(
                    "log driver {other:?} (use k8s-file, none or passthrough)"
                )),
            ))
        }
    };
    let restart =
        rpod_engine::restart::RestartPolicy::parse(args.restart.as_deref().unwrap_or(""))?;
    let log = log_options(&args.log_opt)?;
    let annotations = rpod_engine::labels::parse_pairs(&args.annotation);
    let systemd = rpod_engine::systemd_mode::SystemdMode::parse(&args.systemd)?;
    let secrets = args
        .secret
        .iter()
        .map(|s| rpod_engine::secrets::SecretUse::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let (healthcheck, no_healthcheck) = health_check(args)?;
    Ok(CreateOptions {
        passthrough,
        sdnotify_conmon: args.sdnotify == "conmon",
        sdnotify_container: args.sdnotify == "container",
        systemd,
        no_cgroups: args.cgroups == "disabled",
        // Set by `create_container`: the subordinate IDs' files are the store's settings.
        id_mappings: None,
        userns_auto: match args.userns.as_deref() {
            Some(mode) => rpod_engine::userns::AutoUserns::parse(mode)?,
            None => None,
        },
        userns_container: args
            .userns
            .as_deref()
            .and_then(|mode| mode.strip_prefix("container:"))
            .map(String::from),
        secrets,
        healthcheck,
        no_healthcheck,
        healthcheck_over_image: None,
        image_health_on_failure: rpod_engine::health::OnFailure::parse(&args.health_on_failure)?,
        log_size_max: log.max_size,
        log_max_files: log.max_file,
        log_tag: log.tag,
        log_path: log.path,
        log_attributes: log.attributes,
        timeout: args.timeout.filter(|t| *t > 0),
        annotations,
        oom_score_adj: args.oom_score_adj,
        pidfile: args.pidfile.clone(),
        conmon_pidfile: args.conmon_pidfile.clone(),
        build_step: false,
        restart,
        image,
        rootfs,
        name: args.name.clone(),
        command,
        entrypoint,
        env,
        workdir: args.workdir.clone(),
        // podman's `--workdir` must exist (the image's is made).
        workdir_must_exist: args.workdir.is_some(),
        user: args.user.clone(),
        // Empty: the default, as podman's and Docker's.
        hostname: args.hostname.clone().filter(|h| !h.is_empty()),
        labels,
        stop_signal,
        stop_timeout: args.stop_timeout,
        memory,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        read_only: args.read_only,
        network,
        net,
        ip: args.net.ip,
        ip6: args.net.ip6,
        mac_address: args.net.mac_address.clone(),
        network_aliases: args.net.network_alias.clone(),
        runtime: None,
        auto_remove: args.rm,
        log_to_file,
        log_driver_from_config: args.log_driver.is_none(),
        terminal: args.tty,
        stdin: args.interactive,
        security,
        console_size: None,
        mounts: mounts(args)?,
        volumes_from: args.volumes_from.clone(),
        isolation: isolation(args)?,
        resources: {
            if args.cpus.is_some()
                && (args.limits.cpu_quota.is_some() || args.limits.cpu_period.is_some())
            {
                return Err(usage(
                    "--cpus and --cpu-quota/--cpu-period cannot be given together",
                ));
            }
            let mut resources = limit_resources(&args.limits)?;
            resources.oom_kill_disable = args.oom_kill_disable;
            resources
        },
        init: args.init,
        init_path: args.init_path.clone(),
        image_volumes: match args.image_volume.as_str() {
            "tmpfs" => rpod_engine::ImageVolumes::Tmpfs,
            "ignore" => rpod_engine::ImageVolumes::Ignore,
            _ => rpod_engine::ImageVolumes::Anonymous,
        },
        env_merge: args.env_merge.clone(),
        unset_env: args.unsetenv.clone(),
        unset_env_all: args.unsetenv_all,
        http_proxy: args.http_proxy,
        umask: args
            .umask
            .as_deref()
            .map(rpod_engine::spec::parse_umask)
            .transpose()?,
        cgroup_parent: args.cgroup_parent.clone(),
        domainname: args.domainname.clone(),
        read_only_tmpfs: args.read_only_tmpfs,
        create_command: super::command_line(),
        cid_file: args.cidfile.clone(),
        requires: args.requires.clone(),
        pod: pod_of(args)?,
        init_container: args
            .init_ctr
            .as_deref()
            .map(rpod_engine::container::InitContainerType::parse)
            .transpose()
            .map_err(|e| usage(e.to_string()))?,
        personality: args.personality.clone(),
        seccomp_from_image: args.seccomp_policy == "image",
        no_passwd_entries: !args.passwd,
        passwd_entry: args.passwd_entry.clone(),
        host_users: args.hostuser.clone(),
        time_zone: args.tz.clone(),
        chroot_dirs: args
            .chrootdirs
            .iter()
            .flat_map(|dirs| dirs.split(','))
            .filter(|dir| !dir.is_empty())
            .map(String::from)
            .collect(),
        platform: args.target_platform.parsed()?,
    })
}

/// `--pod NAME` (or `new:NAME`), or the pod whose ID `--pod-id-file` holds.
fn pod_of(args: &RunArgs) -> Result<Option<String>, Failure> {
    match (&args.pod, &args.pod_id_file) {
        (Some(_), Some(_)) => Err(usage("--pod and --pod-id-file cannot be given together")),
        (Some(pod), None) => Ok(Some(pod.clone())),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| usage(format!("reading --pod-id-file {}: {e}", file.display())))?;
            Ok(Some(text.trim().to_string()))
        }
        (None, None) => Ok(None),
    }
}

/// Flags whose other values ask for what rpod does not do: said so, never ignored.
/// Why `--userns MODE` cannot be given with `--uidmap`, `--gidmap`, `--subuidname` or
/// `--subgidname`, when it cannot (run's, create's and pod create's modes alike).
pub(crate) fn userns_refuses_mappings(mode: &str) -> Option<&'static str> {
    match mode {
        "host" => Some("--userns host shares the host's user namespace: it cannot be given with --uidmap, --gidmap, --subuidname or --subgidname"),
        auto if auto == "auto" || auto.starts_with("auto:") => Some("--userns auto chooses the mappings itself: it cannot be given with --uidmap, --gidmap, --subuidname or --subgidname"),
        joined if joined.starts_with("container:") => Some("--userns container: takes that container's mappings: it cannot be given with --uidmap, --gidmap, --subuidname or --subgidname"),
        _ => None,
    }
}

pub(crate) fn refuse_unsupported_modes(args: &RunArgs) -> Result<(), Failure> {
    let refuse = |what: String| Err(Failure::new(ENGINE_ERROR, EngineError::NotSupported(what)));
    let mapped = !args.uidmap.is_empty()
        || !args.gidmap.is_empty()
        || args.subuidname.is_some()
        || args.subgidname.is_some();
    if let Some(why) = args
        .userns
        .as_deref()
        .and_then(userns_refuses_mappings)
        .filter(|_| mapped)
    {
        return Err(usage(why));
    }
    match args.userns.as_deref() {
        None | Some("" | "host") => {}
        Some(auto) if auto == "auto" || auto.starts_with("auto:") => {}
        Some(joined) if joined.starts_with("container:") => {
            if joined == "container:" {
                return Err(usage("--userns container: needs a container's name or ID"));
            }
        }
        // podman's answers as root: these two are rootless podman's.
        Some(mode) if mode == "nomap" || mode == "keep-id" || mode.starts_with("keep-id:") => {
            let name = mode.split(':').next().unwrap_or(mode);
            return Err(usage(format!("{name} is only supported in rootless mode")));
        }
        Some(other) if other != "private" && !other.starts_with("ns:") => {
            return Err(usage(format!(
                "unrecognized namespace mode {other} passed"
            )))
        }
        Some(other) => {
            return refuse(format!(
                "--userns {other} (a user namespace is made with auto, or with --uidmap and --gidmap, or joined with container:NAME)"
            ))
        }
    }
    match args.cgroups.as_str() {
        // rpod never moves its monitor into a cgroup of the container's (podman's
        // cgroupfs `enabled` does): `no-conmon` is what it does anyway.
        "enabled" | "no-conmon" | "disabled" => {}
        "split" => return refuse("--cgroups split".into()),
        other => {
            return Err(usage(format!(
                "invalid --cgroups {other:?}: use enabled, disabled, no-conmon or split"
            )))
        }
    }
    if !args.cgroup_conf.is_empty() {
        return refuse("--cgroup-conf (cgroup v2 settings)".into());
    }
    if args.kernel_memory.is_some() {
        // podman 4.3 and Docker take it and do nothing (current kernels accept the cgroup
        // v1 setting and ignore it): a limit asked for and not set is refused here.
        return refuse("--kernel-memory (current kernels set no kernel memory limit)".into());
    }
    if args.gpus.is_some() {
        // podman 4.3's `run` drops it without a word: a GPU asked for and not given.
        return refuse("--gpus (GPUs for a container)".into());
    }
    match args.sdnotify.as_str() {
        "ignore" | "conmon" | "container" => {}
        other => {
            return Err(usage(format!(
                "invalid --sdnotify {other:?}: use container, conmon or ignore"
            )))
        }
    }
    Ok(())
}

/// What `run` and `create` do around the engine's create: `--pull`, `--replace`,
/// `--cidfile`.
fn create_container(engine: &Engine, args: &RunArgs) -> Result<ContainerRecord, Failure> {
    refuse_unsupported_modes(args)?;
    check_cidfile(args)?;
    let mut options = create_options(args)?;
    options.id_mappings = engine.id_mappings_for(
        &args.uidmap,
        &args.gidmap,
        args.subuidname.as_deref(),
        args.subgidname.as_deref(),
        rpod_engine::userns::FlagNames::RUN,
    )?;
    if let Some(image) = options.image.clone() {
        match rpod_engine::LocalSource::parse(&image) {
            // A local transport's image (`run oci-archive:app.tar`) is read from it every
            // time, as podman's, and the container made from what was read: by its name,
            // else its ID.
            Some(source) => {
                let record = engine.pull_local(&source)?;
                let names = engine.image_names(&record.id)?;
                options.image = Some(names.into_iter().next().unwrap_or(record.id));
            }
            None => super::registry::pull_for_run(engine, args, &image)?,
        }
    }
    if let (true, Some(name)) = (args.replace, &options.name) {
        match engine.remove(
            name,
            RemoveOptions {
                force: true,
                timeout: Some(0),
                volumes: false,
            },
        ) {
            Ok(_) | Err(EngineError::NoSuchContainer(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let record = engine.create(options)?;
    if let Err(failure) = write_cidfile(args, record.id()) {
        let _ = engine.remove(record.id(), RemoveOptions::default());
        return Err(failure);
    }
    Ok(record)
}

/// `--cidfile`: refused before the create when the file is there already.
pub(crate) fn check_cidfile(args: &RunArgs) -> Result<(), Failure> {
    refuse_existing_id_file(args.cidfile.as_deref(), "container")
}

/// `--cidfile`: the new container's ID written to a file made for it (the caller removes
/// the container when this fails).
pub(crate) fn write_cidfile(args: &RunArgs, id: &str) -> Result<(), Failure> {
    match &args.cidfile {
        Some(file) => write_id_file(file, id, "container"),
        None => Ok(()),
    }
}

/// A file to get a new container's or pod's ID (`--cidfile`, `--pod-id-file`) that is
/// there already is refused before anything is made, as podman refuses it: it may be
/// another's.
pub(crate) fn refuse_existing_id_file(
    file: Option<&std::path::Path>,
    what: &str,
) -> Result<(), Failure> {
    match file {
        Some(file) if file.exists() => Err(usage(format!(
            "{what} id file {} exists: remove it or choose another",
            file.display()
        ))),
        _ => Ok(()),
    }
}

/// The new container's or pod's ID written to a file made for it (never one that is
/// there: made by another meanwhile, it is left alone).
pub(crate) fn write_id_file(file: &std::path::Path, id: &str, what: &str) -> Result<(), Failure> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, id.as_bytes()))
        .map_err(|e| {
            usage(format!(
                "writing the {what} id file {}: {e}",
                file.display()
            ))
        })
}

pub fn create(engine: &Engine, args: RunArgs) -> Outcome {
    if args.preserve_fds > 0 {
        return Err(usage(
            "--preserve-fds is for run and exec: a created container starts later, without them",
        ));
    }
    let record = create_container(engine, &args)?;
    println!("{}", record.id());
    Ok(0)
}

/// The streams `run -a STREAM...` attaches (all three when none is named).
pub(crate) struct AttachedStreams {
    pub input: bool,
    pub output: bool,
    pub error: bool,
}

/// `run`'s `-a/--attach` words: stdin, stdout and stderr, in any case.
pub(crate) fn attached_streams(streams: &[String]) -> Result<AttachedStreams, Failure> {
    for stream in streams {
        if !matches!(
            stream.to_ascii_lowercase().as_str(),
            "stdin" | "stdout" | "stderr"
        ) {
            return Err(usage(format!(
                "invalid stream {stream:?} for --attach: use stdin, stdout or stderr"
            )));
        }
    }
    let named =
        |name: &str| streams.is_empty() || streams.iter().any(|s| s.eq_ignore_ascii_case(name));
    Ok(AttachedStreams {
        input: named("stdin"),
        output: named("stdout"),
        error: named("stderr"),
    })
}

/// How a command attaches to a container.
struct Attach {
    /// Send our stdin to the container.
    input: bool,
    /// Print the container's stdout and stderr (`run -a` may leave one out).
    output: bool,
    error: bool,
    detach_keys: Vec<u8>,
    sig_proxy: bool,
}

impl Attach {
    fn new(input: bool, flags: &AttachFlags) -> Result<Attach, Failure> {
        Ok(Attach {
            input,
            output: true,
            error: true,
            detach_keys: rpod_oci::detach::parse_detach_keys(&flags.detach_keys)?,
            sig_proxy: flags.sig_proxy,
        })
    }

    /// `run -a STREAM...`: only the streams named.
    fn only(mut self, streams: &[String]) -> Result<Attach, Failure> {
        let named = attached_streams(streams)?;
        self.input &= named.input;
        self.output = named.output;
        self.error = named.error;
        Ok(self)
    }

    /// Copy between the container and our stdio until it exits or the user detaches.
    /// Returns the container's exit code, or 0 after a detach.
    /// `handover`: the monitor's exit-command handover, joined before the start (see
    /// `Engine::exit_handover`).
    fn copy(
        self,
        engine: &Engine,
        record: &ContainerRecord,
        connection: Box<dyn AttachSession>,
        handover: Option<rpod_oci::exitfile::ExitHandover>,
    ) -> Result<i32, Failure> {
        let runtime = engine.runtime(&record.config.runtime)?;
        let oci = engine.oci_container(record);
        let tty = record.config.terminal;
        if !tty && self.sig_proxy {
            crate::terminal::proxy_signals(runtime, oci);
        }
        let input = self.input && record.config.stdin;
        // Raw mode only when our stdin goes to the container's terminal; restored on drop.
        let raw = (tty && input)
            .then(crate::terminal::StdinMode::raw)
            .flatten();
        let streams = AttachStreams {
            attach_output: self.output,
            attach_error: self.error,
            ..our_stdio(input)
        };
        let result = connection.copy(streams, self.detach_keys);
        drop(raw);
        match result {
            Ok(()) => {
                let options = rpod_engine::WaitOptions {
                    handover: handover.map(std::sync::Arc::new),
                    ..Default::default()
                };
                Ok(engine.wait_exit_code(record.id(), &options)?)
            }
            Err(OciError::Detached) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

/// Start a container attached to our stdio; returns its exit code.
fn start_attached(engine: &Engine, id: &str, attach: Attach) -> Result<i32, Failure> {
    let found = engine.lookup(id)?;
    if found.config.passthrough {
        // The container writes to our stdio itself: nothing to attach, only its exit to
        // wait for.
        engine.start(found.id(), None, None)?;
        return Ok(engine.wait(found.id())?);
    }
    let runtime = engine.runtime(&found.config.runtime)?;
    let console_size = if found.config.terminal {
        // Watch before starting, so that no resize is missed in between.
        let (runtime, oci) = (runtime.clone(), engine.oci_container(&found));
        crate::terminal::watch_resizes(move |size| runtime.attach_resize(&oci, size));
        crate::terminal::size()
    } else {
        None
    };
    let mut connection: Option<Box<dyn AttachSession>> = None;
    let mut handover = None;
    // Connect once the monitor is up and before the process starts (or, when the runtime
    // started it at create, before the monitor reads its output): no output is lost. The
    // exit is ours to handle from then on, however soon it comes; the handover is taken
    // first, as the monitor may record the exit as soon as we connect.
    let mut connect = |record: &ContainerRecord| -> rpod_engine::Result<()> {
        handover = engine.exit_handover(record);
        connection = Some(runtime.attach_connect(&engine.oci_container(record))?);
        Ok(())
    };
    let record = engine.start(found.id(), console_size, Some(&mut connect))?;
    let connection = connection.ok_or_else(|| usage("the container was already running"))?;
    engine.note_attached(&record);
    attach.copy(engine, &record, connection, handover)
}

/// `for_each` for the commands of other modules: unknown containers exit 125.
pub(super) fn for_each_name(
    engine: &Engine,
    names: &[String],
    op: impl FnMut(&str) -> Result<(), Failure>,
) -> Outcome {
    for_each(engine, names, ENGINE_ERROR, false, op)
}

/// Run `op` on each name; print each failure, and return the exit code of the last one
/// (`missing_code` when it was "no such container"). As podman's, every name must be
/// known before any is acted on, so that a wrong one changes nothing; unless missing ones
/// are ignored (`ignore_missing`), when they are skipped.
fn for_each(
    engine: &Engine,
    names: &[String],
    missing_code: i32,
    ignore_missing: bool,
    op: impl FnMut(&str) -> Result<(), Failure>,
) -> Outcome {
    let checked = check_names(names, missing_code, ignore_missing, |name| {
        engine.lookup(name).map(drop)
    });
    match checked {
        Some(code) => Ok(code),
        None => each_name(names, missing_code, ignore_missing, op),
    }
}

/// Check every name with `known` before anything is done: the first that fails is said
/// and its exit code returned (`missing_code` for "no such container", unless missing
/// ones are ignored).
fn check_names(
    names: &[String],
    missing_code: i32,
    ignore_missing: bool,
    known: impl Fn(&str) -> Result<(), EngineError>,
) -> Option<i32> {
    for name in names {
        if let Err(error) = known(name) {
            let missing = matches!(error, EngineError::NoSuchContainer(_));
            if missing && ignore_missing {
                continue;
            }
            let failure = Failure::from(error);
            eprintln!("Error: {}", failure.message());
            return Some(if missing { missing_code } else { failure.code });
        }
    }
    None
}

/// `op` on each name, each failure said; the exit code of the last one.
fn each_name(
    names: &[String],
    missing_code: i32,
    ignore_missing: bool,
    mut op: impl FnMut(&str) -> Result<(), Failure>,
) -> Outcome {
    let mut code = 0;
    for name in names {
        match op(name) {
            Ok(()) => {}
            Err(failure) => {
                let missing = matches!(
                    failure.error.downcast_ref::<EngineError>(),
                    Some(EngineError::NoSuchContainer(_))
                );
                if missing && ignore_missing {
                    continue;
                }
                eprintln!("Error: {}", failure.message());
                code = if missing { missing_code } else { failure.code };
            }
        }
    }
    Ok(code)
}

pub fn start(engine: &Engine, args: StartArgs) -> Outcome {
    let names = args.selection().resolve(engine, |_| true)?;
    if args.attach || args.interactive {
        if names.len() != 1 {
            return Err(usage(
                "you cannot start and attach multiple containers at once",
            ));
        }
        let attach = Attach::new(args.interactive, &args.flags)?;
        let auto_remove = engine.lookup(&names[0])?.config.auto_remove;
        let code = start_attached(engine, &names[0], attach)?;
        if auto_remove {
            remove_after_its_exit(engine, &names[0])?;
        }
        return Ok(code);
    }
    for_each(engine, &names, ENGINE_ERROR, false, |name| {
        match engine.start(name, None, None) {
            Ok(_) | Err(EngineError::NotModified(_)) => {}
            // podman's start says 125 where run says 126/127: the runtime's create failed.
            Err(e) => return Err(Failure::new(ENGINE_ERROR, e)),
        }
        println!("{name}");
        Ok(())
    })
}

/// `run`'s flags that cannot be given together (with a local store or a remote service).
pub(crate) fn refuse_run_conflicts(args: &RunArgs) -> Result<(), Failure> {
    if args.detach && !args.attach.is_empty() {
        return Err(usage("--attach and --detach cannot be used together"));
    }
    if args.rmi && args.detach {
        return Err(usage("the --rmi option does not work with -d (detach)"));
    }
    Ok(())
}

/// `pass_fds`: `--preserve-fds`'s descriptors, taken when rpod started.
pub fn run(
    engine: &Engine,
    args: RunArgs,
    pass_fds: Vec<std::sync::Arc<std::os::fd::OwnedFd>>,
) -> Outcome {
    let attach = Attach::new(args.interactive, &args.flags)?.only(&args.attach)?;
    refuse_run_conflicts(&args)?;
    let mut args = args;
    // `--rmi` implies `--rm`.
    args.rm |= args.rmi;
    if args.tty
        && args.interactive
        && !args.detach
        && !std::io::IsTerminal::is_terminal(&std::io::stdin())
    {
        // As podman: a warning, and the run goes on.
        tracing::warn!(
            "The input device is not a TTY. The --tty and --interactive flags might not work properly"
        );
    }
    let record = create_container(engine, &args)?;
    let id = record.id().to_string();
    engine.pass_fds_to_next_create(pass_fds);
    if args.detach {
        if let Err(e) = engine.start(&id, None, None) {
            let _ = engine.remove(
                &id,
                RemoveOptions {
                    force: true,
                    timeout: Some(0),
                    volumes: true,
                },
            );
            return Err(e.into());
        }
        println!("{id}");
        return Ok(0);
    }
    match start_attached(engine, &id, attach) {
        Ok(code) => {
            if args.rm {
                remove_after_its_exit(engine, &id)?;
            }
            if args.rmi {
                remove_run_image(engine, &record);
            }
            Ok(code)
        }
        Err(failure) => {
            if args.rm {
                let _ = engine.remove(
                    &id,
                    RemoveOptions {
                        force: true,
                        timeout: Some(0),
                        volumes: true,
                    },
                );
            }
            Err(failure)
        }
    }
}

/// A `--rm` container that ran attached (`run --rm`, `start -a`), once it has exited. The
/// exit command (conmon's, or rpod-monitor's when no waiter took the exit over) removes it
/// too, but maybe not yet: when the command returns, the container is gone, as podman's.
/// One that is running again (a detach) stays.
fn remove_after_its_exit(engine: &Engine, id: &str) -> Result<(), Failure> {
    let removed = engine.remove(
        id,
        RemoveOptions {
            force: false,
            timeout: None,
            volumes: true,
        },
    );
    match removed {
        Ok(_) | Err(EngineError::NoSuchContainer(_)) | Err(EngineError::RemoveRunning { .. }) => {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// `run --rmi`: remove the container's image once it is gone; an image another container
/// uses stays, with a warning (as podman).
fn remove_run_image(engine: &Engine, record: &ContainerRecord) {
    let config = &record.config;
    if config.image_id.is_empty() {
        return;
    }
    // By the name it ran under (an image with other names only loses that one), unless
    // the name went to another image meanwhile.
    let name = match engine.resolve_image(&config.image_name) {
        Ok(image) if image.id == config.image_id => &config.image_name,
        _ => &config.image_id,
    };
    if let Err(e) = engine.remove_image(name, false) {
        tracing::warn!("Failed removing image {}: {e}", record.config.image_name);
    }
}

fn timeout_arg(time: Option<i64>) -> Option<u32> {
    // A negative timeout means "wait (almost) forever", as podman's stop -t -1.
    time.map(|t| u32::try_from(t).unwrap_or(u32::MAX))
}

/// `stop`: the containers stopped at once, as podman's (three that ignore SIGTERM take
/// one timeout, not three); each said afterwards in the order given. `--all` is every
/// container, stopped ones too (nothing to do, and said), as podman's.
pub fn stop(engine: &Engine, args: StopArgs) -> Outcome {
    // Containers listed (`--all`, `--filter`), not named, may be gone before their stop (a
    // `--rm` one that exited): nothing to stop, no error.
    let listed = args.all || !args.filter.is_empty();
    let selection = args.pick.selection(args.all, args.filter);
    let names = selection.resolve(engine, |_| true)?;
    let timeout = timeout_arg(args.time);
    for_each_at_once(engine, &names, args.ignore || listed, |name| {
        match engine.stop(name, timeout) {
            Ok(_) | Err(EngineError::NotModified(_)) => Ok(()),
            Err(e) => Err(Failure::from(e)),
        }
    })
}

/// `for_each` with `op` run on every name at once, each name printed afterwards in the
/// order given (or its failure said), as `stop` and `restart` print them.
fn for_each_at_once(
    engine: &Engine,
    names: &[String],
    ignore_missing: bool,
    op: impl Fn(&str) -> Result<(), Failure> + Sync,
) -> Outcome {
    if let Some(code) = check_names(names, ENGINE_ERROR, ignore_missing, |name| {
        engine.lookup(name).map(drop)
    }) {
        return Ok(code);
    }
    let mut results = rpod_engine::at_once::at_once(names, |name| op(name)).into_iter();
    each_name(names, ENGINE_ERROR, ignore_missing, |name| {
        results.next().unwrap_or(Ok(()))?;
        println!("{name}");
        Ok(())
    })
}

pub fn restart(engine: &Engine, args: RestartArgs) -> Outcome {
    if args.running && !args.all {
        return Err(usage("--running goes with --all"));
    }
    let selection = args.pick.selection(args.all, args.filter);
    let names = selection.resolve(engine, |r| {
        !args.running || r.state.status == Status::Running
    })?;
    let timeout = timeout_arg(args.time);
    // At once, as `stop`.
    for_each_at_once(engine, &names, false, |name| {
        engine
            .restart(name, timeout)
            .map(drop)
            .map_err(Failure::from)
    })
}

pub fn rename(engine: &Engine, args: RenameArgs) -> Outcome {
    engine.rename(&args.container, &args.new_name)?;
    Ok(0)
}

/// `container prune --filter`: `label=`, `label!=`, `until=` (a time or a duration ago).
/// A test a container passes or not.
type ContainerTest = Box<dyn Fn(&ContainerRecord) -> bool>;

pub(super) fn prune_filter(filter: &str) -> Result<ContainerTest, Failure> {
    let (key, value) = filter
        .split_once('=')
        .ok_or_else(|| usage(format!("invalid filter {filter:?}: use KEY=VALUE")))?;
    let value = value.to_string();
    Ok(match key {
        "label" => Box::new(move |r| rpod_engine::labels::matches(&r.config.labels, &value)),
        "label!" => Box::new(move |r| !rpod_engine::labels::matches(&r.config.labels, &value)),
        "until" => {
            let until = super::logs::parse_time(&value)
                .map_err(|e| usage(format!("invalid until={value}: {e}")))?
                .with_timezone(&chrono::Utc);
            Box::new(move |r| r.config.created < until)
        }
        other => {
            return Err(usage(format!(
                "invalid filter {other:?}: use label, label! or until"
            )))
        }
    })
}

pub fn prune(engine: &Engine, args: PruneArgs) -> Outcome {
    let filters = args
        .filter
        .iter()
        .map(|f| prune_filter(f))
        .collect::<Result<Vec<_>, _>>()?;
    for pruned in engine.prune(&|r| filters.iter().all(|f| f(r)))? {
        println!("{}", pruned.id);
    }
    Ok(0)
}

pub fn kill(engine: &Engine, args: KillArgs) -> Outcome {
    let signal = parse_signal(&args.signal).map_err(usage)?;
    let selection = args.pick.selection(args.all, Vec::new());
    let names = selection.resolve(engine, |r| r.state.status.can_kill())?;
    for_each(engine, &names, ENGINE_ERROR, false, |name| {
        engine.kill(name, signal)?;
        println!("{name}");
        Ok(())
    })
}

pub fn rm(engine: &Engine, args: RmArgs) -> Outcome {
    let selection = args.pick.selection(args.all, args.filter);
    // podman's --force ignores missing containers too.
    let ignore = args.ignore || args.force;
    // `--all` removes pods whole (an infra container goes only with its pod), as podman's.
    let mut pods_code = 0;
    if args.all {
        for pod in engine.pods()? {
            match engine.pod_remove(&pod.id, args.force, timeout_arg(args.time)) {
                Ok(removed) => removed.iter().for_each(|id| println!("{id}")),
                Err(e) => {
                    eprintln!("Error: {e}");
                    pods_code = 2;
                }
            }
        }
    }
    let names = selection.resolve(engine, |r| {
        !args.all || !engine.is_infra(r).unwrap_or(false)
    })?;
    // Dependents before what they depend on, as podman removes them.
    let names = engine.removal_order(&names)?;
    let options = RemoveOptions {
        force: args.force,
        timeout: timeout_arg(args.time),
        volumes: args.volumes,
    };
    if args.force && names.len() > 1 {
        stop_before_removal(engine, &names, options.timeout);
    }
    let code = for_each(engine, &names, 1, ignore, |name| {
        if args.depend {
            // podman prints every container removed, by ID.
            let removed = engine
                .remove_with_dependents(name, options)
                .map_err(|e| match e {
                    e @ EngineError::RemoveRunning { .. } => Failure::new(2, e),
                    e => e.into(),
                })?;
            for id in removed {
                println!("{id}");
            }
            return Ok(());
        }
        match engine.remove(name, options) {
            Ok(_) => {
                println!("{name}");
                Ok(())
            }
            Err(e @ EngineError::RemoveRunning { .. }) => Err(Failure::new(2, e)),
            Err(e) => Err(e.into()),
        }
    })?;
    Ok(code.max(pods_code))
}

/// `rm -f` of several containers: the running ones are stopped at once first, as podman's
/// (ten that ignore the stop signal take one timeout, not ten), then removed in order,
/// dependents first. A `--rm` container is left to its removal: stopped here, its exit
/// would remove it under the command's feet. What fails here is said by the removal.
fn stop_before_removal(engine: &Engine, names: &[String], timeout: Option<u32>) {
    let running: Vec<String> = names
        .iter()
        .filter(|name| {
            engine
                .lookup(name)
                .is_ok_and(|r| r.state.status.can_stop() && !r.config.auto_remove)
        })
        .cloned()
        .collect();
    rpod_engine::at_once::at_once(&running, |name| drop(engine.stop(name, timeout)));
}

/// `rpod init`: create containers in the runtime without starting their process; `--all`
/// passes over those already created, as podman's.
pub fn init(engine: &Engine, args: AllArgs) -> Outcome {
    let selection = args.pick.selection(args.all, args.filter);
    let names = selection.resolve(engine, |r| {
        matches!(
            r.state.status,
            Status::Configured | Status::Exited | Status::Stopped
        )
    })?;
    for_each(engine, &names, ENGINE_ERROR, false, |name| {
        engine.init_container(name)?;
        println!("{name}");
        Ok(())
    })
}

pub fn pause(engine: &Engine, args: AllArgs, pausing: bool) -> Outcome {
    let wanted = if pausing {
        Status::Running
    } else {
        Status::Paused
    };
    let selection = args.pick.selection(args.all, args.filter);
    let names = selection.resolve(engine, |r| r.state.status == wanted)?;
    for_each(engine, &names, ENGINE_ERROR, false, |name| {
        if pausing {
            engine.pause(name)?;
        } else {
            engine.unpause(name)?;
        }
        println!("{name}");
        Ok(())
    })
}

pub fn wait(engine: &Engine, args: WaitArgs) -> Outcome {
    let condition = WaitCondition::parse(&args.condition)?;
    let interval = parse_interval(&args.interval)?;
    let selection = Selection {
        names: args.containers,
        latest: args.latest,
        ..Selection::default()
    };
    let names = selection.resolve(engine, |_| true)?;
    // Known, or gone with its exit code kept (a `--rm` container's full ID), as a wait
    // takes them.
    let known = |name: &str| {
        engine
            .wait_begin(name, &rpod_engine::WaitOptions::default())
            .map(drop)
    };
    if let Some(code) = check_names(&names, ENGINE_ERROR, false, known) {
        return Ok(code);
    }
    each_name(&names, ENGINE_ERROR, false, |name| {
        let code = if condition.states.is_empty() && condition.health.is_empty() {
            engine.wait(name)?
        } else {
            loop {
                let record = engine.inspect(name)?;
                let status = record.state.status;
                let health = record.state.health.map(|h| h.status).unwrap_or_default();
                if condition.states.contains(&status) || condition.health.contains(&health) {
                    // podman prints -1 for a state that is not an exit.
                    break -1;
                }
                if condition.exit && matches!(status, Status::Exited | Status::Stopped) {
                    break engine.wait(name)?;
                }
                std::thread::sleep(interval);
            }
        };
        println!("{code}");
        Ok(())
    })
}

/// `wait --condition`: states to wait for (polled; -1 is printed when one is reached) and
/// whether an exit counts (its exit code is printed).
struct WaitCondition {
    exit: bool,
    states: Vec<Status>,
    /// Health verdicts (`healthy`, `unhealthy`) recorded by `healthcheck run`.
    health: Vec<String>,
}

impl WaitCondition {
    fn parse(conditions: &[String]) -> Result<Self, Failure> {
        let mut wanted = WaitCondition {
            exit: conditions.is_empty(),
            states: Vec::new(),
            health: Vec::new(),
        };
        for condition in conditions {
            match condition.as_str() {
                "stopped" | "exited" => wanted.exit = true,
                // podman's "created" is a container not yet in the runtime (its state's
                // name), "initialized" one created there (`init`); "configured" is the
                // REST service's other word for the first.
                "configured" => wanted.states.push(Status::Configured),
                "healthy" | "unhealthy" => wanted.health.push(condition.clone()),
                other => match Status::from_filter(other) {
                    Some(found) => wanted.states.extend(found),
                    None => {
                        return Err(usage(format!(
                            "unknown container state: {other}: use created, initialized, running, paused, stopping, stopped, exited, removing, healthy or unhealthy"
                        )))
                    }
                },
            }
        }
        Ok(wanted)
    }
}

/// A polling interval, as podman reads it: a Go duration (`250ms`, `2s`, `1m30s`) or a
/// number of milliseconds. 0, which podman takes, polls every millisecond: never a loop
/// that does nothing but poll.
fn parse_interval(text: &str) -> Result<std::time::Duration, Failure> {
    let invalid = || usage(format!("invalid interval {text:?}: use e.g. 250ms or 1s"));
    let interval = match text.parse::<u64>() {
        Ok(millis) => std::time::Duration::from_millis(millis),
        Err(_) => super::logs::parse_duration(text)
            .and_then(|d| d.to_std().ok())
            .ok_or_else(invalid)?,
    };
    Ok(interval.max(std::time::Duration::from_millis(1)))
}

/// Refuse unknown filter keys and status values before looking at any container.
pub(super) fn validate_filter(filter: &str) -> Result<(), Failure> {
    rpod_engine::container_filters::validate(filter).map_err(usage)
}

pub fn ps(engine: &Engine, args: PsArgs) -> Outcome {
    for filter in &args.filters {
        validate_filter(filter)?;
    }
    let Some(seconds) = args.watch.filter(|s| *s > 0) else {
        return ps_once(engine, &args);
    };
    if args.format.as_deref() == Some("json") {
        return Err(usage("--watch cannot be used with --format json"));
    }
    loop {
        // Clear the screen and go home, as podman's watch does.
        print!("\x1b[2J\x1b[H");
        ps_once(engine, &args)?;
        std::io::Write::flush(&mut std::io::stdout())?;
        std::thread::sleep(std::time::Duration::from_secs(seconds));
    }
}

fn ps_once(engine: &Engine, args: &PsArgs) -> Outcome {
    let mut records = if args.sync {
        engine.list_synced()?
    } else {
        engine.list()?
    };
    // Oldest first, as podman 4's default `--sort created` lists them (docker's newest
    // first is the Docker API's order); the other sorts keep that order among equals.
    records.sort_by_key(|r| r.config.created);
    match args.sort.as_str() {
        "created" => {}
        // As podman's: never started ones first, then by start, the earliest first.
        "runningfor" => records.sort_by_key(|r| r.state.started_at),
        "id" => records.sort_by(|a, b| a.config.id.cmp(&b.config.id)),
        "image" => records.sort_by(|a, b| a.config.image_name.cmp(&b.config.image_name)),
        "names" => records.sort_by(|a, b| a.config.name.cmp(&b.config.name)),
        "command" => records.sort_by(|a, b| a.config.args.cmp(&b.config.args)),
        "status" => records.sort_by_key(|r| r.state.status.as_str()),
        "size" => {}
        other => {
            return Err(usage(format!(
                "invalid --sort {other:?}: use command, created, id, image, names, runningfor, size or status"
            )))
        }
    }
    let all = args.all || args.last.is_some();
    let everyone = records.clone();
    let pods = engine.pods()?;
    let filters = engine.resolve_container_filters(&args.filters)?;
    let mut shown = Vec::new();
    for record in records {
        let running = matches!(
            record.state.status,
            Status::Running | Status::Paused | Status::Stopping
        );
        // As podman: a status filter looks at every container, other filters only at
        // running ones unless --all.
        let status_filter = args.filters.iter().any(|f| f.starts_with("status="));
        if !all && !status_filter && !running {
            continue;
        }
        if rpod_engine::container_filters::matches_all(&record, &filters, &everyone) {
            shown.push(record);
        }
    }
    if args.latest {
        // The last created, whatever the sort.
        let newest = shown.iter().max_by_key(|r| r.config.created).cloned();
        shown = newest.into_iter().collect();
    }
    if let Some(last) = args.last {
        // The last created, whatever the sort shows them in.
        let mut newest: Vec<&ContainerRecord> = shown.iter().collect();
        newest.sort_by_key(|r| std::cmp::Reverse(r.config.created));
        let keep: Vec<String> = newest
            .iter()
            .take(last)
            .map(|r| r.id().to_string())
            .collect();
        shown.retain(|r| keep.iter().any(|k| k == r.id()));
    }
    if args.quiet {
        for record in &shown {
            let id = record.id();
            println!("{}", if args.no_trunc { id } else { &id[..12] });
        }
        return Ok(0);
    }
    if args.format.as_deref() == Some("json") {
        let mut items = Vec::new();
        for record in &shown {
            items.push(ps_json(engine, record, &pods, args)?);
        }
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(0);
    }
    // A template that shows sizes measures them, as docker's `ps` does (podman leaves
    // the field empty and logs an error unless --size is given).
    let sized = args.size
        || args
            .format
            .as_deref()
            .is_some_and(|format| format.contains(".Size"));
    let mut rows = Vec::new();
    for record in &shown {
        let mut row = inspect::ps_row(record, args.no_trunc);
        if sized {
            let (written, total) = engine.container_size(record)?;
            // podman's words: "12B (virtual 1.99MB)".
            row["Size"] = json!(format!(
                "{} (virtual {})",
                rpod_engine::human::size_compact(written),
                rpod_engine::human::size_compact(total)
            ));
            row["SizeRw"] = json!(written);
            row["SizeRootFs"] = json!(total);
        }
        // Read only with --ns; without, the fields are there and empty, as podman's.
        row["Namespaces"] = namespaces_of(if args.ns { record.state.pid } else { 0 });
        let pod = record
            .config
            .pod
            .as_deref()
            .and_then(|id| pods.iter().find(|p| p.id == id));
        row["Pod"] = json!(pod
            .map(|p| if args.no_trunc {
                &p.id[..]
            } else {
                &p.id[..12]
            })
            .unwrap_or_default());
        row["PodName"] = json!(pod.map(|p| p.name.as_str()).unwrap_or_default());
        row["IsInfra"] = json!(pod.is_some_and(|p| p.infra_id.as_deref() == Some(record.id())));
        rows.push(row);
    }
    let format = args.format.clone().unwrap_or_else(|| {
        if args.ns {
            "table {{.ID}}\t{{.Names}}\t{{.Pid}}\t{{.Namespaces.Cgroup}}\t{{.Namespaces.IPC}}\t{{.Namespaces.MNT}}\t{{.Namespaces.NET}}\t{{.Namespaces.PIDNS}}\t{{.Namespaces.User}}\t{{.Namespaces.UTS}}".into()
        } else if args.size {
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}".into()
        } else if args.pod {
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Pod}}\t{{.PodName}}".into()
        } else {
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}".into()
        }
    });
    if args.no_heading {
        format::print_without_header(&format, &rows)?;
    } else {
        format::print(&format, &rows, &inspect::ps_header)?;
    }
    Ok(0)
}

/// One container of `ps --format json`: podman's `ListContainer` as its `ps` prints it
/// (what scripts read with jq: `Names` and `Command` are lists, times Unix seconds).
fn ps_json(
    engine: &Engine,
    record: &ContainerRecord,
    pods: &[rpod_engine::pods::PodRecord],
    args: &PsArgs,
) -> Result<Value, Failure> {
    let mut item = engine.list_container(record, pods, args.size)?;
    item.created_at = rpod_engine::human::ago(record.config.created);
    item.status = inspect::status_text(record);
    if args.ns {
        // podman's JSON names them otherwise than its template does, and leaves empty
        // ones out.
        let inodes = namespaces_of(record.state.pid);
        for (template, json) in [
            ("Cgroup", "Cgroup"),
            ("IPC", "Ipc"),
            ("MNT", "Mnt"),
            ("NET", "Net"),
            ("PIDNS", "Pidns"),
            ("User", "User"),
            ("UTS", "Uts"),
        ] {
            if let Some(inode) = inodes[template].as_str().filter(|i| !i.is_empty()) {
                item.namespaces.insert(json.to_string(), inode.to_string());
            }
        }
    }
    let mut value = serde_json::to_value(item)?;
    value["Created"] = json!(record.config.created.timestamp());
    Ok(value)
}

/// A process's namespaces by inode number, as podman's `ps --ns` shows them; empty for a
/// container that does not run (a `pid` of 0).
fn namespaces_of(pid: i32) -> Value {
    let inode = |kind: &str| {
        if pid <= 0 {
            return String::new();
        }
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
            .ok()
            .and_then(|link| {
                let text = link.to_string_lossy().into_owned();
                let start = text.find('[')? + 1;
                let end = text.find(']')?;
                Some(text[start..end].to_string())
            })
            .unwrap_or_default()
    };
    json!({
        "Cgroup": inode("cgroup"),
        "IPC": inode("ipc"),
        "MNT": inode("mnt"),
        "NET": inode("net"),
        "PIDNS": inode("pid"),
        "User": inode("user"),
        "UTS": inode("uts"),
    })
}

/// `healthcheck run`: 0 when healthy; 1 and "unhealthy" when not, as podman's.
pub fn healthcheck_run(engine: &Engine, args: HealthcheckRunArgs) -> Outcome {
    let run = engine.healthcheck_run(&args.container).map_err(|e| {
        let context = format!(
            "unable to look up {} to perform a health check",
            args.container
        );
        Failure::from(e).not_found_in(context)
    })?;
    if run.startup_pending {
        // Not started yet: exit 1, and rpod-monitor runs it again on the startup interval.
        println!("starting");
        Ok(1)
    } else if run.passed {
        Ok(0)
    } else {
        println!("unhealthy");
        Ok(1)
    }
}

pub fn inspect(engine: &Engine, args: InspectArgs) -> Outcome {
    let mut items = Vec::new();
    let mut misses = super::InspectMisses::new("object");
    let names = if args.latest {
        if !args.names.is_empty() || !matches!(args.kind.as_str(), "container" | "all") {
            return Err(usage(
                "--latest takes no names and inspects the latest container",
            ));
        }
        Selection {
            latest: true,
            ..Selection::default()
        }
        .resolve(engine, |_| true)?
    } else {
        args.names.clone()
    };
    // A template reads fields that podman's JSON leaves out when empty.
    let templated = !matches!(args.format.as_deref(), None | Some("json"));
    for name in &names {
        let as_container = |engine: &Engine| -> Result<Value, Failure> {
            let record = engine.inspect(name)?;
            let exec_ids = engine
                .exec_sessions(&record)?
                .into_iter()
                .map(|s| s.id)
                .collect();
            let mut item = inspect::container(engine, &record, exec_ids)?;
            if args.size {
                let (written, total) = engine.container_size(&record)?;
                item["SizeRw"] = written.into();
                item["SizeRootFs"] = total.into();
            }
            if templated {
                rpod_engine::views::container_template_fields(&mut item);
            }
            Ok(item)
        };
        let as_image = |engine: &Engine| super::image::inspect_json(engine, name, templated);
        let as_volume = |engine: &Engine| super::volume::inspect_value(engine, name, templated);
        let as_network = |engine: &Engine| super::network::inspect_value(engine, name, templated);
        let as_pod = |engine: &Engine| super::pod::inspect_value(engine, name);
        let found = match args.kind.as_str() {
            "container" => as_container(engine),
            "image" => as_image(engine),
            "volume" => as_volume(engine),
            "network" => as_network(engine),
            "pod" => as_pod(engine),
            // podman's order: the first kind of object with that name or ID.
            "all" => match engine.lookup(name) {
                Ok(_) => as_container(engine),
                Err(EngineError::NoSuchContainer(_)) => as_image(engine)
                    .or_else(|_| as_volume(engine))
                    .or_else(|_| as_network(engine))
                    .or_else(|_| as_pod(engine)),
                Err(e) => Err(e.into()),
            },
            other => {
                return Err(usage(format!(
                    "invalid type {other:?}: use container, image, volume, network, pod or all"
                )))
            }
        };
        match found {
            Ok(item) => items.push(item),
            Err(failure) => {
                let kind = Some(args.kind.as_str()).filter(|k| *k != "all");
                misses.add(kind, name, &failure);
            }
        }
    }
    print_inspected(items, args.format.as_deref())?;
    misses.outcome()
}

/// `inspect`'s output of what was found (here, or by a remote service).
pub fn print_inspected(items: Vec<Value>, format: Option<&str>) -> Result<(), Failure> {
    match format {
        None | Some("json") => {
            println!("{}", serde_json::to_string_pretty(&Value::Array(items))?);
        }
        Some(template) => {
            // Templates see podman's times as Go prints a time.Time.
            let items: Vec<Value> = items.into_iter().map(format::go_times).collect();
            format::print(template, &items, &format::upper_header)?
        }
    }
    Ok(())
}

/// What goes before each log line of a container labelled `label` (nothing without a
/// label), coloured when `color`, in the colour of its `turn` among the coloured ones.
pub fn log_prefix(label: &str, color: bool, turn: &mut usize) -> String {
    // Colours of podman's prefixes, one per container in turn.
    const COLOURS: [&str; 6] = [
        "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[35m", "\x1b[36m", "\x1b[31m",
    ];
    match (label.is_empty(), color) {
        (true, _) => String::new(),
        (false, false) => format!("{label} "),
        (false, true) => {
            *turn += 1;
            format!("{}{label}\x1b[0m ", COLOURS[(*turn - 1) % COLOURS.len()])
        }
    }
}

pub fn logs(engine: &Engine, args: LogsArgs) -> Outcome {
    let filter = LogFilter {
        tail: args.tail.and_then(|t| usize::try_from(t).ok()),
        since: args
            .since
            .as_deref()
            .map(super::logs::parse_time)
            .transpose()
            .map_err(usage)?,
        until: args
            .until
            .as_deref()
            .map(super::logs::parse_time)
            .transpose()
            .map_err(usage)?,
    };
    let containers = Selection {
        names: args.containers,
        latest: args.latest,
        ..Selection::default()
    }
    .resolve(engine, |_| true)?;
    let several = containers.len() > 1;
    let mut turn = 0;
    // Every followed container is followed at once, each on its own thread; each line is
    // written whole.
    std::thread::scope(|scope| {
        let mut followers = Vec::new();
        let code = for_each(engine, &containers, ENGINE_ERROR, false, |name| {
            let record = engine.inspect(name)?;
            if !record.config.log_to_file {
                return Err(usage(format!(
                    "container {name} uses the {} log driver: it has no logs",
                    if record.config.passthrough {
                        "passthrough"
                    } else {
                        "none"
                    }
                )));
            }
            // Only the lines of several containers say whose they are (podman's way:
            // `--names` and `--color` change how, not whether).
            let label = match (several, args.names) {
                (false, _) => String::new(),
                (true, true) => record.config.name.clone(),
                (true, false) => record.id()[..12].to_string(),
            };
            let prefix = log_prefix(&label, args.color, &mut turn);
            if args.follow && record.state.status.is_active() {
                let (filter, timestamps) = (filter.clone(), args.timestamps);
                followers.push(scope.spawn(move || {
                    engine.follow_logs(&record, &filter, None, |line| {
                        super::logs::print_line(line, &prefix, timestamps)
                    })
                }));
                return Ok(());
            }
            let path = engine.log_path(&record);
            super::logs::print_log(&path, &prefix, &filter, args.timestamps)
                .with_context(|| format!("reading the logs of {name}"))?;
            Ok(())
        })?;
        for follower in followers {
            match follower.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(usage("following a log failed")),
            }
        }
        Ok(code)
    })
}

pub fn attach(engine: &Engine, args: AttachArgs) -> Outcome {
    if let Some(session) = &args.exec_session {
        return attach_exec(engine, session, &args.flags);
    }
    let attach = Attach::new(!args.no_stdin, &args.flags)?;
    let container = super::select::one_container(engine, args.latest, args.container.as_deref())?;
    let watch = crate::terminal::ResizeWatch::begin();
    let (record, connection) = engine.attach(&container)?;
    if record.config.terminal {
        let runtime = engine.runtime(&record.config.runtime)?;
        let oci = engine.oci_container(&record);
        if let Some(size) = crate::terminal::size() {
            runtime.attach_resize(&oci, size)?;
        }
        if let Some(watch) = watch {
            // With what changed since the size above, if anything did.
            watch.follow(move |size| runtime.attach_resize(&oci, size), false);
        }
    }
    let handover = engine.exit_handover(&record);
    attach.copy(engine, &record, connection, handover)
}

/// This process's stdout and stderr for a container's (or session's) output, and its stdin
/// for the input when `input`.
fn our_stdio(input: bool) -> AttachStreams {
    AttachStreams {
        output: Some(Box::new(std::io::stdout())),
        error: Some(Box::new(std::io::stderr())),
        input: input.then(|| Box::new(std::io::stdin()) as Box<dyn rpod_oci::AttachInput>),
        attach_output: true,
        attach_error: true,
        attach_input: input,
        hangup: None,
    }
}

/// `attach --exec SESSION`: a detached exec session's output from now on, until it ends;
/// its exit code is ours. Its terminal, if it has one, takes our size.
fn attach_exec(engine: &Engine, session: &str, flags: &crate::cli::AttachFlags) -> Outcome {
    let detach_keys = rpod_oci::detach::parse_detach_keys(&flags.detach_keys)?;
    let watch = crate::terminal::ResizeWatch::begin();
    let (reattached, connection) = engine.exec_reattach(session)?;
    if reattached.session.terminal {
        let runtime = engine.runtime(&reattached.container.config.runtime)?;
        let oci = engine.oci_container(&reattached.container);
        let id = reattached.session.id.clone();
        if let Some(size) = crate::terminal::size() {
            // The session may end at any moment: a resize that comes too late is no error.
            let _ = runtime.exec_attach_resize(&oci, &id, size);
        }
        if let Some(watch) = watch {
            watch.follow(
                move |size| runtime.exec_attach_resize(&oci, &id, size),
                false,
            );
        }
    }
    let result = connection.copy(our_stdio(false), detach_keys);
    match engine.exec_reattach_finish(reattached, result) {
        Ok(code) => Ok(code),
        Err(rpod_engine::EngineError::Oci(OciError::Detached)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// `pass_fds`: `--preserve-fds`'s descriptors, taken when rpod started.
pub fn exec(
    engine: &Engine,
    args: ExecArgs,
    pass_fds: Vec<std::sync::Arc<std::os::fd::OwnedFd>>,
) -> Outcome {
    let (container, command) =
        super::select::container_and_rest(engine, args.latest, &args.container_and_command)?;
    if command.is_empty() {
        return Err(usage("exec needs a container and a command"));
    }
    let mut env = expand_env(&env_file_entries(&args.env_file)?)?;
    env.extend(expand_env(&args.env)?);
    let container = &container;
    // Bad detach keys are refused before anything runs.
    rpod_oci::detach::parse_detach_keys(&args.detach_keys)?;
    let request = ExecRequest {
        cmd: command,
        env,
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        terminal: args.tty,
        privileged: args.privileged,
        pass_fds,
        detach_keys: Some(args.detach_keys.clone()),
    };
    if args.detach {
        let started = engine.exec_start(container, &request, None, None)?;
        println!("{}", started.session_id);
        return Ok(0);
    }
    let streams = our_stdio(args.interactive);
    let size = if args.tty {
        crate::terminal::size()
    } else {
        None
    };
    // Caught from before the start: a resize while the session starts is not lost.
    let watch = args.tty.then(crate::terminal::ResizeWatch::begin).flatten();
    let started = engine.exec_start(container, &request, Some(streams), size)?;
    if let Some(watch) = watch {
        let runtime = engine.runtime(&started.container.config.runtime)?;
        let oci = engine.oci_container(&started.container);
        let session = started.session_id.clone();
        let resize = move |size| runtime.exec_attach_resize(&oci, &session, size);
        // The runtime sizes the terminal from the process spec; under load crun was seen
        // to leave it 0x0, so the size is also sent once the session runs (first, on the
        // thread that sends every later one, so that they land in order).
        watch.follow(resize, size.is_some());
    }
    let raw = (args.tty && args.interactive)
        .then(crate::terminal::StdinMode::raw)
        .flatten();
    let result = engine.exec_finish(started);
    drop(raw);
    match result {
        Ok(code) => Ok(code),
        Err(EngineError::Oci(OciError::Detached)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

pub fn exists(engine: &Engine, args: ContainerExistsArgs) -> Outcome {
    match engine.lookup(&args.name) {
        Ok(_) => Ok(0),
        Err(EngineError::NoSuchContainer(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

/// `container cleanup`: what a container (or exec session) left at its exit undone; the
/// monitors' exit command, and podman's command for users (`--all`, `--latest`, `--rm`,
/// `--rmi`).
pub fn cleanup(engine: &Engine, args: CleanupArgs) -> Outcome {
    if let Some(session) = &args.exec {
        let [container] = args.containers.as_slice() else {
            return Err(usage(
                "--exec cleans up one container's session: give that container",
            ));
        };
        return match engine.cleanup_exec(container, session) {
            // Already removed (e.g. by `rm -f` racing the monitor): nothing left to clean.
            Ok(()) | Err(EngineError::NoSuchContainer(_)) => Ok(0),
            Err(e) => Err(e.into()),
        };
    }
    let selection = Selection {
        names: args.containers,
        all: args.all,
        latest: args.latest,
        ..Selection::default()
    };
    let names = selection.resolve(engine, |r| {
        matches!(r.state.status, Status::Exited | Status::Stopped)
    })?;
    let remove = args.rm || args.rmi;
    // A container already removed (the exit command may come after an `rm -f`) is nothing
    // to clean.
    for_each(engine, &names, ENGINE_ERROR, true, |name| {
        let record = match engine.cleanup(name) {
            Ok(()) if remove => engine.inspect(name)?,
            Ok(()) | Err(EngineError::NoSuchContainer(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        engine.remove(record.id(), RemoveOptions::default())?;
        if args.rmi {
            remove_run_image(engine, &record);
        }
        Ok(())
    })
}

/// `container teardown-network ID` (hidden): the network teardown a removal handed over,
/// with the namespace's lock as standard input.
pub fn teardown_network(engine: &Engine, args: TeardownNetworkArgs) -> Outcome {
    use std::os::fd::AsFd;
    let lock = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from);
    engine.teardown_handed_over_network(&args.id, lock)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_intervals_read_as_podmans() {
        let ms = |text: &str| parse_interval(text).ok().map(|d| d.as_millis());
        assert_eq!(ms("250"), Some(250));
        assert_eq!(ms("250ms"), Some(250));
        assert_eq!(ms("1m30s"), Some(90_000));
        // 0, which podman takes: every millisecond, not a busy loop.
        assert_eq!(ms("0"), Some(1));
        assert_eq!(ms("soon"), None);
        assert_eq!(ms("-1s"), None);
    }

    #[test]
    fn env_entries_take_rpods_own_variables() {
        let host: Vec<(String, String)> = [("GLOB_A", "1"), ("GLOB_B", "2"), ("X", "3")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let expand = |entries: &[&str]| {
            let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
            expand_env_from(&entries, &host).unwrap()
        };
        assert_eq!(expand(&["A=b", "X", "MISSING"]), ["A=b", "X=3"]);
        assert_eq!(expand(&["GLOB_*"]), ["GLOB_A=1", "GLOB_B=2"]);
        assert_eq!(expand(&["*"]), ["GLOB_A=1", "GLOB_B=2", "X=3"]);
        assert!(expand(&["NONE*"]).is_empty());
        // A value with a star is a value.
        assert_eq!(expand(&["G*=1"]), ["G*=1"]);
        assert!(expand_env_from(&["=x".to_string()], &host).is_err());
    }

    #[test]
    fn label_files_refuse_names_with_white_space() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("labels");
        std::fs::write(&file, "a=1\n  b=2 \n# note\n\nbare\n").unwrap();
        let entries = label_file_entries(std::slice::from_ref(&file)).unwrap();
        assert_eq!(entries, ["a=1", "b=2 ", "bare"]);
        std::fs::write(&file, "a=1\nc d=3\n").unwrap();
        let err = label_file_entries(&[file]).unwrap_err().message();
        assert!(
            err.contains(r#"name "c d" has white spaces, poorly formatted name"#),
            "{err}"
        );
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("64m").unwrap(), 64 << 20);
        assert_eq!(parse_memory("1g").unwrap(), 1 << 30);
        assert_eq!(parse_memory("512k").unwrap(), 512 << 10);
        assert_eq!(parse_memory("100").unwrap(), 100);
        assert_eq!(parse_memory("10MB").unwrap(), 10 << 20);
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("0").is_err());
        // --shm-size: 0 (with or without a unit) is no limit; a fraction of a byte, a
        // bad unit or a negative size is refused, not taken for 0.
        for none in ["0", "0m", "0k", "0b"] {
            assert_eq!(shm_size(Some(none)).unwrap(), Some(0), "{none}");
        }
        assert_eq!(shm_size(Some("2m")).unwrap(), Some(2 << 20));
        for bad in ["0.5", "0x", "0mm", "-1", "lots"] {
            assert!(shm_size(Some(bad)).is_err(), "{bad}");
        }
    }
}
