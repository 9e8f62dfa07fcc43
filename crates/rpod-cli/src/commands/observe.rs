//! `rpod stats` and `rpod top`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use rpod_engine::container::ContainerRecord;
use rpod_engine::stats::{Sample, Shown};
use rpod_engine::Engine;

use crate::cli::*;
use crate::exit::{usage, Failure, Outcome};
use crate::format;

pub const DEFAULT_STATS_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}\t{{.UpTime}}\t{{.AVGCPU}}";

/// `pod stats`' table, podman's: its `CPU` is the CPU % in words.
const DEFAULT_POD_STATS_FORMAT: &str = "table {{.Pod}}\t{{.CID}}\t{{.Name}}\t{{.CPU}}\t{{.MemUsage}}\t{{.Mem}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}";

/// `pod stats`' column names, podman's (its "MEM USAGE/ LIMIT" included).
fn pod_stats_header(field: &str) -> String {
    match field {
        "CPU" => "CPU %".into(),
        "MemUsage" => "MEM USAGE/ LIMIT".into(),
        "Mem" => "MEM %".into(),
        other => stats_header(other),
    }
}

pub fn stats_header(field: &str) -> String {
    match field {
        "CPUPerc" => "CPU %",
        "MemUsage" => "MEM USAGE / LIMIT",
        "MemPerc" => "MEM %",
        "NetIO" => "NET IO",
        "BlockIO" => "BLOCK IO",
        "PIDs" => "PIDS",
        // podman's UpTime is the CPU time (its `CPU` the CPU %, as a number).
        "UpTime" => "CPU TIME",
        "AVGCPU" => "AVG CPU %",
        other => return other.to_uppercase(),
    }
    .to_string()
}

/// One row of `stats`; `previous` is the container's last reading, for the CPU % since.
fn row(
    record: &ContainerRecord,
    sample: &Sample,
    previous: Option<&(Sample, Instant)>,
    full_id: bool,
) -> Value {
    let shown = sample.shown(
        record.state.started_at,
        previous.map(|(before, at)| (before.cpu_nanos, at.elapsed())),
    );
    let pod = record.config.pod.as_deref().unwrap_or_default();
    stats_row(
        [record.id(), pod, &record.config.name],
        sample,
        &shown,
        full_id,
    )
}

/// A `stats` row of a container's `[id, pod, name]` (IDs cut unless `full_id`), a reading
/// and its wording: what the table and templates see, podman's fields (its
/// `ContainerStats`' numbers and the words of its `stats` command) and rpod's `Pod`.
pub fn stats_row(names: [&str; 3], sample: &Sample, shown: &Shown, full_id: bool) -> Value {
    let [id, pod, name] = names;
    let cut = |text: &str| -> String {
        match full_id {
            true => text.to_string(),
            false => text.chars().take(12).collect(),
        }
    };
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    json!({
        "ID": cut(id),
        "ContainerID": id,
        "Pod": cut(pod),
        "Name": name,
        "CPU": shown.cpu_percent,
        "CPUPerc": shown.cpu,
        "AvgCPU": shown.average_cpu_percent,
        "AVGCPU": shown.average_cpu,
        "CPUNano": sample.cpu_nanos,
        "SystemNano": now,
        "UpTime": shown.cpu_time,
        "Duration": sample.cpu_nanos,
        "MemUsage": shown.memory_usage,
        "MemUsageBytes": shown.memory_usage_binary,
        "MemLimit": sample.memory_limit,
        "MemPerc": shown.memory_percent,
        "NetInput": sample.net_received,
        "NetOutput": sample.net_sent,
        "NetIO": shown.net_io,
        "BlockInput": sample.block_read,
        "BlockOutput": sample.block_write,
        "BlockIO": shown.block_io,
        "PIDs": sample.pids,
        "PIDS": sample.pids.to_string(),
    })
}

/// Rows of `stats` printed with `format`: `json` is podman's report (its words, one space
/// of indentation), anything else a template over the rows.
pub fn print_stats_rows(format: &str, rows: &[Value]) -> Result<(), Failure> {
    if format != "json" {
        format::print(format, rows, &stats_header)?;
        return Ok(());
    }
    /// podman's report of one container, its fields in its order.
    #[derive(serde::Serialize)]
    struct Report<'a> {
        id: &'a Value,
        name: &'a Value,
        cpu_time: &'a Value,
        cpu_percent: &'a Value,
        avg_cpu: &'a Value,
        mem_usage: &'a Value,
        mem_percent: &'a Value,
        net_io: &'a Value,
        block_io: &'a Value,
        pids: &'a Value,
    }
    let reports: Vec<Report> = rows
        .iter()
        .map(|row| Report {
            id: &row["ID"],
            name: &row["Name"],
            cpu_time: &row["UpTime"],
            cpu_percent: &row["CPUPerc"],
            avg_cpu: &row["AVGCPU"],
            mem_usage: &row["MemUsage"],
            mem_percent: &row["MemPerc"],
            net_io: &row["NetIO"],
            block_io: &row["BlockIO"],
            pids: &row["PIDS"],
        })
        .collect();
    Ok(format::print_json_indented(&reports, b" ")?)
}

pub fn stats(engine: &Engine, args: StatsArgs) -> Outcome {
    if args.interval == 0 {
        return Err(usage("--interval must be at least 1 second"));
    }
    let mut containers = args.containers.clone();
    if args.latest {
        if !containers.is_empty() || args.all {
            return Err(usage(
                "--all, --latest, and containers cannot be used together",
            ));
        }
        containers.push(super::select::latest_id(engine)?);
    }
    let named = !containers.is_empty();
    if named && args.all {
        return Err(usage("--all takes no container names"));
    }
    // Unknown names fail before anything is shown.
    let ids: Vec<String> = containers
        .iter()
        .map(|n| engine.lookup(n).map(|r| r.id().to_string()))
        .collect::<Result<_, _>>()?;
    let format = args.format.as_deref().unwrap_or(DEFAULT_STATS_FORMAT);
    let redraw = !args.no_stream && !args.no_reset && std::io::stdout().is_terminal();
    let mut previous: HashMap<String, (Sample, Instant)> = HashMap::new();
    loop {
        let records: Vec<ContainerRecord> = if named {
            ids.iter()
                .map(|id| engine.inspect(id))
                .collect::<Result<_, _>>()?
        } else {
            engine.list()?
        };
        let mut rows = Vec::new();
        for record in &records {
            // A container without cgroups has no counters: refused when named.
            if record.config.no_cgroups && !named {
                continue;
            }
            let sample = match engine.stats(record)? {
                Some(sample) => sample,
                None if named || args.all => Sample::default(),
                None => continue,
            };
            rows.push(row(
                record,
                &sample,
                previous.get(record.id()),
                args.no_trunc,
            ));
            previous.insert(record.id().to_string(), (sample, Instant::now()));
        }
        if redraw {
            print!("\x1b[2J\x1b[H");
        }
        print_stats_rows(format, &rows)?;
        if args.no_stream {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_secs(args.interval));
    }
}

pub fn top(engine: &Engine, args: TopArgs) -> Outcome {
    let (container, descriptors) =
        super::select::container_and_rest(engine, args.latest, &args.args)?;
    let (headers, rows) = engine
        .top(&container, &descriptors)
        .map_err(|e| Failure::from(e).not_found_in("unable to look up requested container"))?;
    print_top(&headers, &rows);
    Ok(0)
}

/// `pod top`: `top` over a pod's running containers.
pub fn pod_top(engine: &Engine, args: PodTopArgs) -> Outcome {
    let (pod, descriptors) = if args.latest {
        let latest = engine.pods()?.into_iter().last();
        let pod = latest.ok_or_else(|| usage("no pod to show the processes of"))?;
        (pod.id, args.args.clone())
    } else {
        let (first, rest) = args
            .args
            .split_first()
            .ok_or_else(|| usage("give a pod, or --latest"))?;
        (first.clone(), rest.to_vec())
    };
    let (headers, rows) = engine.pod_top(&pod, &descriptors)?;
    print_top(&headers, &rows);
    Ok(0)
}

/// How often a streaming `pod stats` reads again (podman's: every second).
pub const POD_STATS_INTERVAL: Duration = Duration::from_secs(1);

/// `pod stats`: podman's report of every container of the pods named (of every pod with
/// `--all` or none named, of the latest with `--latest`), `--` for one not running, every
/// second until interrupted or once with `--no-stream`. The pods are looked up again at
/// every reading, so a streaming `pod stats` shows pods and containers created since.
pub fn pod_stats(engine: &Engine, args: PodStatsArgs) -> Outcome {
    check_pod_stats_args(&args)?;
    let mut previous = HashMap::new();
    loop {
        let pods = match (args.latest, args.pods.is_empty()) {
            (true, _) => {
                let latest = engine.pods()?.into_iter().last();
                vec![latest.ok_or_else(|| usage("no pod to show the statistics of"))?]
            }
            (false, true) => engine.pods()?,
            (false, false) => args
                .pods
                .iter()
                .map(|name| engine.lookup_pod(name))
                .collect::<Result<_, _>>()?,
        };
        let reports = engine.pod_stats(pods, &mut previous)?;
        print_pod_stats(&args, &reports)?;
        if args.no_stream {
            return Ok(0);
        }
        std::thread::sleep(POD_STATS_INTERVAL);
    }
}

/// `pod stats`' choice of pods: `--all`, `--latest` and pod names exclude one another.
pub fn check_pod_stats_args(args: &PodStatsArgs) -> Result<(), Failure> {
    let chosen = [args.all, args.latest, !args.pods.is_empty()];
    match chosen.iter().filter(|&&given| given).count() {
        0 | 1 => Ok(()),
        _ => Err(usage("--all, --latest, and pods cannot be used together")),
    }
}

/// One reading of `pod stats` printed as its `--format` asks (podman's table by default,
/// `json` its report with its indentation). While streaming to a terminal the screen is
/// cleared first, unless `--no-reset`.
pub fn print_pod_stats(
    args: &PodStatsArgs,
    reports: &[rpod_engine::stats::PodStatsReport],
) -> Result<(), Failure> {
    if !args.no_stream && !args.no_reset && std::io::stdout().is_terminal() {
        print!("\x1b[2J\x1b[H");
    }
    match args.format.as_deref().unwrap_or(DEFAULT_POD_STATS_FORMAT) {
        "json" => Ok(format::print_json_indented(&reports, b"     ")?),
        format => {
            let rows = reports
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format::print(format, &rows, &pod_stats_header)?)
        }
    }
}

/// A `top` table, columns padded as podman pads them.
pub(crate) fn print_top(headers: &[String], rows: &[Vec<String>]) {
    // podman's table: columns at least 12 wide, two spaces apart.
    let lines: Vec<String> = std::iter::once(headers)
        .chain(rows.iter().map(Vec::as_slice))
        .map(|cells| cells.join("\t"))
        .collect();
    println!("{}", crate::format::align_columns(&lines));
}

/// podman's `--print-stats` JSON (local and remote).
pub(crate) fn print_stats(label: &str, reports: &[rpod_engine::CheckpointReport], total: Duration) {
    let statistics: Vec<Value> = reports
        .iter()
        .map(|r| json!({ "Id": r.id, format!("runtime_{label}_duration"): r.runtime_micros }))
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            format!("podman_{label}_duration"): total.as_micros() as i64,
            "container_statistics": statistics,
        }))
        .unwrap_or_default()
    );
}

/// `checkpoint`'s refusals before anything is done (local and remote).
pub(crate) fn refuse_checkpoint_flags(args: &CheckpointArgs) -> Result<(), Failure> {
    if args.pre_checkpoint || args.with_previous {
        return Err(rpod_engine::EngineError::NotSupported(
            "memory pre-dumps (checkpoint --pre-checkpoint, --with-previous)".into(),
        )
        .into());
    }
    Ok(())
}

/// `checkpoint`'s check of the containers picked: an archive or image is of one.
pub(crate) fn refuse_several_exported(
    args: &CheckpointArgs,
    names: &[String],
) -> Result<(), Failure> {
    if (args.export.is_some() || args.create_image.is_some()) && names.len() > 1 {
        return Err(usage("--export and --create-image take one container"));
    }
    Ok(())
}

/// The containers named, or `--all`, or `--latest` (checkpoint and restore).
pub(crate) fn picked(names: &[String], all: bool, latest: bool) -> super::select::Selection {
    super::select::Selection {
        names: names.to_vec(),
        all,
        latest,
        ..Default::default()
    }
}

pub fn checkpoint(engine: &Engine, args: CheckpointArgs) -> Outcome {
    refuse_checkpoint_flags(&args)?;
    let selection = picked(&args.containers, args.all, args.latest);
    let names = selection.resolve(engine, |r| r.state.status == rpod_engine::Status::Running)?;
    refuse_several_exported(&args, &names)?;
    let compression = match &args.compress {
        Some(_) if args.export.is_none() => {
            return Err(usage("--compress can only be used with --export"))
        }
        Some(value) => value.parse()?,
        None => Default::default(),
    };
    let request = rpod_engine::CheckpointRequest {
        leave_running: args.leave_running,
        keep: args.keep,
        tcp_established: args.tcp_established,
        file_locks: args.file_locks,
        export: args.export.clone(),
        ignore_rootfs: args.ignore_rootfs,
        ignore_volumes: args.ignore_volumes,
        compression,
        create_image: args.create_image.clone(),
    };
    let started = Instant::now();
    let mut reports = Vec::new();
    for name in &names {
        let report = engine.checkpoint(name, &request)?;
        if !args.print_stats {
            println!("{}", report.id);
        }
        reports.push(report);
    }
    if args.print_stats {
        print_stats("checkpoint", &reports, started.elapsed());
    }
    Ok(0)
}

/// `restore`'s refusals before anything is done (local and remote).
pub(crate) fn refuse_restore_flags(args: &RestoreArgs) -> Result<(), Failure> {
    if args.import_previous.is_some() {
        return Err(rpod_engine::EngineError::NotSupported(
            "memory pre-dumps (restore --import-previous)".into(),
        )
        .into());
    }
    if args.pod.is_some() {
        return Err(rpod_engine::EngineError::NotSupported(
            "restore --pod (rpod does not checkpoint a pod's containers: they share its infra container's network)".into(),
        )
        .into());
    }
    if args.import.is_some() && (args.all || args.latest || !args.containers.is_empty()) {
        return Err(usage("--import takes no container names"));
    }
    Ok(())
}

pub fn restore(engine: &Engine, args: RestoreArgs) -> Outcome {
    refuse_restore_flags(&args)?;
    let names: Vec<String> = if args.import.is_some() {
        vec![String::new()]
    } else {
        picked(&args.containers, args.all, args.latest).resolve(engine, |r| r.state.checkpointed)?
    };
    let request = rpod_engine::RestoreRequest {
        keep: args.keep,
        tcp_established: args.tcp_established,
        file_locks: args.file_locks,
        ignore_rootfs: args.ignore_rootfs,
        import: args.import.clone(),
        name: args.name.clone(),
        ignore_volumes: args.ignore_volumes,
        ignore_static_ip: args.ignore_static_ip,
        ignore_static_mac: args.ignore_static_mac,
        publish: args.publish.clone(),
    };
    let started = Instant::now();
    let mut reports = Vec::new();
    for name in &names {
        let report = engine.restore(name, &request)?;
        if !args.print_stats {
            println!("{}", report.id);
        }
        reports.push(report);
    }
    if args.print_stats {
        print_stats("restore", &reports, started.elapsed());
    }
    Ok(0)
}
