//! Remote `container checkpoint` and `container restore`: libpod's endpoints, the archive
//! of `--export` downloaded here and that of `--import` uploaded from here; what is printed
//! is the local command's (each container's ID, or `--print-stats`).

use std::time::Instant;

use serde_json::Value;

use crate::cli::{CheckpointArgs, RestoreArgs};
use crate::commands::observe::{
    picked, print_stats, refuse_checkpoint_flags, refuse_restore_flags, refuse_several_exported,
};
use crate::exit::{usage, Outcome};
use rpod_engine::CheckpointReport;

use super::containers::{inspect_container, select, state_is};
use super::{encode, expect, Client};

/// The flags both take, as libpod's query parameters.
fn common_query(
    keep: bool,
    tcp_established: bool,
    file_locks: bool,
    rootfs: bool,
    volumes: bool,
) -> Vec<String> {
    vec![
        format!("keep={keep}"),
        format!("tcpEstablished={tcp_established}"),
        format!("fileLocks={file_locks}"),
        format!("ignoreRootFS={rootfs}"),
        format!("ignoreVolumes={volumes}"),
    ]
}

/// A report of the service's answer (`Id` and the runtime's time under `duration_key`).
fn report_of(answer: &Value, duration_key: &str, name: &str) -> CheckpointReport {
    CheckpointReport {
        id: answer["Id"].as_str().unwrap_or(name).to_string(),
        runtime_micros: answer[duration_key].as_i64().unwrap_or(0),
        total_micros: 0,
    }
}

/// A container's full ID, as the service has it.
fn full_id(client: &mut Client, name: &str) -> Result<String, crate::exit::Failure> {
    let inspected = inspect_container(client, name)?;
    Ok(inspected["Id"].as_str().unwrap_or(name).to_string())
}

pub fn checkpoint(client: &mut Client, args: &CheckpointArgs) -> Outcome {
    refuse_checkpoint_flags(args)?;
    let selection = picked(&args.containers, args.all, args.latest);
    let names = select(client, &selection, |item| {
        state_is(item, |s| s == rpod_engine::Status::Running)
    })?
    .names;
    refuse_several_exported(args, &names)?;
    let mut query = common_query(
        args.keep,
        args.tcp_established,
        args.file_locks,
        args.ignore_rootfs,
        args.ignore_volumes,
    );
    query.push(format!("leaveRunning={}", args.leave_running));
    query.push(format!("export={}", args.export.is_some()));
    if let Some(image) = &args.create_image {
        query.push(format!("createImage={}", encode(image)));
    }
    let started = Instant::now();
    let mut reports = Vec::new();
    for name in &names {
        let path = format!(
            "/containers/{}/checkpoint?{}",
            encode(name),
            query.join("&")
        );
        let report = match &args.export {
            // The archive is the answer: written whole to the file, or not at all.
            Some(file) => {
                let id = full_id(client, name)?;
                super::archives::download_from(client, "POST", &path, Some(file))?;
                CheckpointReport {
                    id,
                    runtime_micros: 0,
                    total_micros: 0,
                }
            }
            None => {
                let answer = expect(client.call("POST", &path, None)?, &[200])?.json()?;
                report_of(&answer, "runtime_checkpoint_duration", name)
            }
        };
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

pub fn restore(client: &mut Client, args: &RestoreArgs) -> Outcome {
    refuse_restore_flags(args)?;
    let mut query = common_query(
        args.keep,
        args.tcp_established,
        args.file_locks,
        args.ignore_rootfs,
        args.ignore_volumes,
    );
    query.push(format!("ignoreStaticIP={}", args.ignore_static_ip));
    query.push(format!("ignoreStaticMAC={}", args.ignore_static_mac));
    if let Some(name) = &args.name {
        query.push(format!("name={}", encode(name)));
    }
    for port in &args.publish {
        query.push(format!("publishPorts={}", encode(port)));
    }
    let started = Instant::now();
    let mut reports = Vec::new();
    let mut restored = |report: CheckpointReport| {
        if !args.print_stats {
            println!("{}", report.id);
        }
        reports.push(report);
    };
    if let Some(archive) = &args.import {
        let mut file = std::fs::File::open(archive)
            .map_err(|e| usage(format!("{}: {e}", archive.display())))?;
        query.push("import=true".into());
        // The path names no container: the archive does.
        let path = format!("/containers/import/restore?{}", query.join("&"));
        let reply = client.upload("POST", &path, "application/x-tar", &mut |out| {
            std::io::copy(&mut file, out).map(drop)
        })?;
        let answer = expect(reply, &[200])?.json()?;
        restored(report_of(&answer, "runtime_restore_duration", ""));
    } else {
        let selection = picked(&args.containers, args.all, args.latest);
        // The listing does not say which are checkpointed: each one's inspect does.
        let mut names = select(client, &selection, |_| true)?.names;
        if args.all {
            let mut checkpointed = Vec::new();
            for name in names {
                let inspected = inspect_container(client, &name)?;
                if inspected["State"]["Checkpointed"] == Value::Bool(true) {
                    checkpointed.push(name);
                }
            }
            names = checkpointed;
        }
        for name in &names {
            let path = format!("/containers/{}/restore?{}", encode(name), query.join("&"));
            let answer = expect(client.call("POST", &path, None)?, &[200])?.json()?;
            restored(report_of(&answer, "runtime_restore_duration", name));
        }
    }
    if args.print_stats {
        print_stats("restore", &reports, started.elapsed());
    }
    Ok(0)
}
