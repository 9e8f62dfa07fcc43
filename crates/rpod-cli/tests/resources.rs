//! `rpod update` and the limits of `run`: each read back from the container's cgroup (v1
//! controllers here, the unified file on a v2 host), on runc and crun.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::json;

/// A cgroup file of a container: the v1 controller's, else the unified hierarchy's.
fn cgroup_file(id: &str, v1: (&str, &str), v2: &str) -> Option<String> {
    let candidates = [
        PathBuf::from(format!("/sys/fs/cgroup/{}/rpod/{id}/{}", v1.0, v1.1)),
        PathBuf::from(format!("/sys/fs/cgroup/rpod/{id}/{v2}")),
    ];
    candidates
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.trim().to_string())
}

fn memory_limit(id: &str) -> String {
    cgroup_file(id, ("memory", "memory.limit_in_bytes"), "memory.max").unwrap()
}

fn pids_max(id: &str) -> String {
    cgroup_file(id, ("pids", "pids.max"), "pids.max").unwrap()
}

fn cpu_quota(id: &str) -> String {
    match cgroup_file(id, ("cpu", "cpu.cfs_quota_us"), "cpu.max") {
        Some(text) => text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        None => String::new(),
    }
}

fn check_update(runtime: &str) {
    let rpod = Rpod::with_image(runtime);
    let id = rpod.detached(&[
        "--name",
        "u",
        "-m",
        "64m",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "demo",
        "sleep",
        "300",
    ]);
    assert_eq!(memory_limit(&id), (64u64 << 20).to_string());
    assert_eq!(
        cgroup_file(&id, ("cpuset", "cpuset.cpus"), "cpuset.cpus").unwrap(),
        "0"
    );
    // A running container.
    assert_eq!(
        rpod.ok(&[
            "update",
            "--memory",
            "96m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "77",
            "u"
        ]),
        format!("{id}\n")
    );
    assert_eq!(memory_limit(&id), (96u64 << 20).to_string());
    assert_eq!(cpu_quota(&id), "50000");
    assert_eq!(pids_max(&id), "77");
    assert_eq!(
        rpod.inspect("u", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}}"),
        format!("{} 500000000 77 512", 96u64 << 20)
    );
    // --cpus is the quota the cgroup got, in podman's period, as podman shows it.
    assert_eq!(
        rpod.inspect("u", "{{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}"),
        "50000 100000"
    );
    // Invalid values change nothing; so does a value the runtime refuses.
    let err = rpod.fails(&["update", "--memory", "1k", "u"], 125);
    assert!(err.contains("minimum is 6MB"), "{err}");
    rpod.fails(&["update", "--cpu-shares", "1", "u"], 125);
    rpod.fails(&["update", "--cpus", "1", "--cpu-quota", "50000", "u"], 125);
    rpod.fails(&["update", "u"], 125);
    rpod.fails(&["update", "--memory", "10m", "nosuch"], 125);
    // At create, 0 is no limit, as podman and Docker take it.
    let unlimited = rpod.ok(&["create", "--cpus", "0", "--cpu-shares", "0", "demo", "true"]);
    assert_eq!(
        rpod.inspect(
            unlimited.trim(),
            "{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}}"
        ),
        "0 0"
    );
    rpod.ok(&["rm", unlimited.trim()]);
    let refused = rpod.run(&["update", "--cpuset-cpus", "0-1000", "u"]);
    assert_eq!(refused.status.code(), Some(125));
    assert_eq!(
        cgroup_file(&id, ("cpuset", "cpuset.cpus"), "cpuset.cpus").unwrap(),
        "0"
    );
    assert_eq!(rpod.inspect("u", "{{.HostConfig.CpusetCpus}}"), "0");
    // The restart policy changes alone too (no runtime call), and a bad one is refused.
    rpod.ok(&["update", "--restart", "on-failure:3", "u"]);
    assert_eq!(
        rpod.inspect(
            "u",
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure 3"
    );
    rpod.fails(&["update", "--restart", "sometimes", "u"], 125);
    rpod.ok(&["update", "--restart", "no", "u"]);
    // A paused one.
    rpod.ok(&["pause", "u"]);
    rpod.ok(&["update", "--pids-limit", "55", "u"]);
    assert_eq!(pids_max(&id), "55");
    rpod.ok(&["unpause", "u"]);
    // The limits stay for the next start; a stopped container's update waits for it.
    rpod.ok(&["stop", "-t", "0", "u"]);
    rpod.ok(&["update", "--memory", "80m", "u"]);
    rpod.ok(&["start", "u"]);
    assert_eq!(memory_limit(&id), (80u64 << 20).to_string());
    assert_eq!(pids_max(&id), "55");
    assert_eq!(cpu_quota(&id), "50000");
    // Flags of run: quota and period, swap, reservation.
    let id = rpod.detached(&[
        "--cpu-quota",
        "25000",
        "--cpu-period",
        "50000",
        "-m",
        "32m",
        "--memory-reservation",
        "16m",
        "demo",
        "sleep",
        "300",
    ]);
    assert_eq!(cpu_quota(&id), "25000");
    assert_eq!(
        cgroup_file(&id, ("memory", "memory.soft_limit_in_bytes"), "memory.low").unwrap(),
        (16u64 << 20).to_string()
    );
    rpod.fails(
        &[
            "create",
            "--cpus",
            "1",
            "--cpu-quota",
            "1000",
            "demo",
            "true",
        ],
        125,
    );
    rpod.fails(
        &[
            "create",
            "--memory-swap",
            "16m",
            "-m",
            "32m",
            "demo",
            "true",
        ],
        125,
    );
}

#[test]
fn update_changes_limits_on_runc() {
    check_update("runc");
}

#[test]
fn update_changes_limits_on_crun() {
    check_update("crun");
}

fn check_swappiness_rates_and_real_time(runtime: &str) {
    let rpod = Rpod::with_image(runtime);
    let swappiness = |id: &str| cgroup_file(id, ("memory", "memory.swappiness"), "none");
    let id = rpod.detached(&[
        "--name",
        "s",
        "--memory-swappiness",
        "10",
        "demo",
        "sleep",
        "300",
    ]);
    // cgroup v2 has no swappiness; the runtime's own check decides there.
    if let Some(value) = swappiness(&id) {
        assert_eq!(value, "10");
        assert_eq!(rpod.inspect("s", "{{.HostConfig.MemorySwappiness}}"), "10");
        if runtime == "runc" {
            // runc's update would ignore it: refused, nothing changed.
            let err = rpod.fails(&["update", "--memory-swappiness", "33", "s"], 125);
            assert!(err.contains("runc's update ignores it"), "{err}");
            assert_eq!(rpod.inspect("s", "{{.HostConfig.MemorySwappiness}}"), "10");
            rpod.ok(&["stop", "-t", "0", "s"]);
        }
        rpod.ok(&["update", "--memory-swappiness", "33", "s"]);
        rpod.ok(&["start", "s"]);
        assert_eq!(swappiness(&id).as_deref(), Some("33"));
    }
    for bad in [
        vec!["--memory-swappiness", "101"],
        vec!["--memory-swappiness", "-2"],
        vec!["--cpu-rt-runtime", "2000000"],
        vec!["--cpu-rt-period", "0"],
        vec!["--blkio-weight-device", "/dev/null:100"],
        vec!["--blkio-weight-device", "nodevice"],
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(&bad);
        args.extend_from_slice(&["demo", "true"]);
        rpod.fails(&args, 125);
    }
    // A cgroup v1 block I/O controller without weight files (no proportional I/O scheduler)
    // cannot take the weight: refused at create, saying why (the runtime failed at start).
    let blkio = std::path::Path::new("/sys/fs/cgroup/blkio");
    let no_weights = blkio.is_dir()
        && !["blkio.weight_device", "blkio.bfq.weight_device"]
            .iter()
            .any(|file| blkio.join(file).exists());
    if let (Some((device, _)), true) = (some_block_device(), no_weights) {
        let weight = format!("{device}:300");
        let err = rpod.fails(
            &["create", "--blkio-weight-device", &weight, "demo", "true"],
            125,
        );
        assert!(err.contains("takes no weights"), "{err}");
    } else if let Some((device, _)) = some_block_device() {
        // Recorded and shown; whether the kernel takes it depends on the device's I/O
        // scheduler, so the container is not started.
        rpod.ok(&[
            "create",
            "--name",
            "weighted",
            "--blkio-weight-device",
            &format!("{device}:300"),
            "demo",
            "true",
        ]);
        assert_eq!(
            rpod.inspect(
                "weighted",
                "{{range .HostConfig.BlkioWeightDevice}}{{.Path}}:{{.Weight}}{{end}}"
            ),
            format!("{device}:300")
        );
        rpod.fails(
            &[
                "create",
                "--blkio-weight-device",
                &format!("{device}:5"),
                "demo",
                "true",
            ],
            125,
        );
    }

    // Per-device rates change with update: at once on crun; runc's update would ignore
    // them, so a live runc container's are refused and change at the next start.
    let throttle = |id: &str, file: &str| {
        cgroup_file(id, ("blkio", file), "none")
            .map(|t| t.split(' ').nth(1).unwrap_or("").to_string())
    };
    if let (Some((device, _)), true) = (
        some_block_device(),
        std::path::Path::new("/sys/fs/cgroup/blkio").is_dir(),
    ) {
        let id = rpod.detached(&[
            "--name",
            "rated",
            "--device-read-bps",
            &format!("{device}:1mb"),
            "demo",
            "sleep",
            "300",
        ]);
        assert_eq!(
            throttle(&id, "blkio.throttle.read_bps_device").as_deref(),
            Some("1048576")
        );
        let update = [
            "update",
            "--device-read-bps",
            &format!("{device}:2mb"),
            "--device-write-iops",
            &format!("{device}:300"),
            "rated",
        ];
        if runtime == "runc" {
            let err = rpod.fails(&update, 125);
            assert!(
                err.contains("--device-read-bps and --device-write-iops"),
                "{err}"
            );
            assert_eq!(
                throttle(&id, "blkio.throttle.read_bps_device").as_deref(),
                Some("1048576")
            );
            rpod.ok(&["stop", "-t", "0", "rated"]);
            rpod.ok(&update);
            rpod.ok(&["start", "rated"]);
        } else {
            rpod.ok(&update);
        }
        assert_eq!(
            throttle(&id, "blkio.throttle.read_bps_device").as_deref(),
            Some("2097152")
        );
        assert_eq!(
            throttle(&id, "blkio.throttle.write_iops_device").as_deref(),
            Some("300")
        );
        rpod.ok(&["rm", "-f", "-t", "0", "rated"]);
    }

    // Real-time time needs a budget in the parent cgroup (cgroup v1's cpu controller).
    let parent = format!(
        "/sys/fs/cgroup/cpu/rpod-test-rt-{}-{runtime}",
        std::process::id()
    );
    if std::fs::create_dir(&parent).is_err() {
        return;
    }
    std::fs::write(format!("{parent}/cpu.rt_runtime_us"), "20000").unwrap();
    let group = parent.trim_start_matches("/sys/fs/cgroup/cpu");
    let id = rpod.detached(&[
        "--cgroup-parent",
        group,
        "--cpu-rt-runtime",
        "5000",
        "demo",
        "sleep",
        "300",
    ]);
    let rt = || std::fs::read_to_string(format!("{parent}/{id}/cpu.rt_runtime_us")).unwrap();
    assert_eq!(rt().trim(), "5000");
    rpod.ok(&["update", "--cpu-rt-runtime", "7000", &id]);
    assert_eq!(rt().trim(), "7000");
    assert_eq!(
        rpod.inspect(&id, "{{.HostConfig.CpuRealtimeRuntime}}"),
        "7000"
    );
    // More than the parent's budget: the runtime's own error.
    let err = rpod.fails(
        &[
            "run",
            "--rm",
            "--cgroup-parent",
            group,
            "--cpu-rt-runtime",
            "50000",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("rt_runtime"), "{err}");
    rpod.ok(&["rm", "-a", "-f", "-t", "0"]);
    remove_cgroup_parent(group);
}

#[test]
fn swappiness_rates_and_real_time_on_runc() {
    check_swappiness_rates_and_real_time("runc");
}

#[test]
fn swappiness_rates_and_real_time_on_crun() {
    check_swappiness_rates_and_real_time("crun");
}

fn check_stats_and_top(runtime: &str) {
    let rpod = Rpod::with_image(runtime);
    let busy = rpod.detached(&[
        "--name",
        "busy",
        "-m",
        "64m",
        "demo",
        "sh",
        "-c",
        "sleep 300 & sleep 300 & while :; do :; done",
    ]);
    rpod.detached(&["--name", "idle", "-u", "nobody", "demo", "sleep", "300"]);
    rpod.ok(&["create", "--name", "stopped", "demo", "true"]);
    // Every field a template sees, as podman's: its numbers and its words.
    let read = |name: &str| -> serde_json::Value {
        let out = rpod.ok(&["stats", "--no-stream", "--format", "{{json .}}", name]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let first = read("busy");
    assert_eq!(first["Name"], "busy");
    assert_eq!((&first["PIDs"], &first["PIDS"]), (&json!(3), &json!("3")));
    assert_eq!(first["MemLimit"], 64u64 << 20);
    let usage = first["MemUsage"].as_str().unwrap();
    assert!(
        usage.ends_with(" / 67.11MB") && !usage.starts_with("0B"),
        "{first}"
    );
    assert!(
        first["MemUsageBytes"]
            .as_str()
            .unwrap()
            .ends_with(" / 64MiB"),
        "{first}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = read("busy");
    let cpu = |reading: &serde_json::Value| reading["CPUNano"].as_u64().unwrap();
    assert!(cpu(&second) > cpu(&first), "{first} {second}");
    assert_eq!(second["Duration"], cpu(&second));
    // podman's UpTime is the CPU time, as Go prints a duration; its CPU the percentage.
    let cpu_time = second["UpTime"].as_str().unwrap();
    assert!(
        cpu_time.ends_with("ms") || cpu_time.ends_with('s'),
        "{second}"
    );
    assert!(second["CPU"].as_f64().unwrap() > 10.0, "{second}");
    assert!(second["CPUPerc"].as_str().unwrap().ends_with('%'));
    assert_eq!(read("idle")["NetIO"], "0B / 0B");
    // --format json: podman's report, its words only.
    let out = rpod.ok(&["stats", "--no-stream", "--format", "json", "idle"]);
    assert!(out.starts_with("[\n {\n  \"id\": "), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&str> = out
        .lines()
        .filter_map(|line| line.trim().strip_prefix('"')?.split('"').next())
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "cpu_time",
            "cpu_percent",
            "avg_cpu",
            "mem_usage",
            "mem_percent",
            "net_io",
            "block_io",
            "pids"
        ]
    );
    assert_eq!(
        (&report[0]["name"], &report[0]["pids"]),
        (&json!("idle"), &json!("1"))
    );
    // The table: running containers only, unless --all.
    let table = rpod.ok(&["stats", "--no-stream"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("MEM USAGE / LIMIT") && table.contains("busy") && !table.contains("stopped"),
        "{table}"
    );
    let all = rpod.ok(&[
        "stats",
        "--no-stream",
        "--all",
        "--format",
        "{{.Name}} {{.PIDs}}",
    ]);
    assert!(all.contains("stopped 0"), "{all}");
    rpod.fails(&["stats", "--no-stream", "nosuch"], 125);
    // top: PIDs as the container sees them, its users by its own names.
    let out = rpod.ok(&["top", "busy", "pid", "comm"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("PID") && lines[0].contains("COMMAND"),
        "{out}"
    );
    assert!(
        lines[1].split_whitespace().collect::<Vec<_>>() == ["1", "sh"],
        "{out}"
    );
    assert_eq!(lines.len(), 4, "{out}");
    let hpid = rpod.ok(&["top", "busy", "hpid"]);
    assert!(
        hpid.contains(&rpod.inspect(&busy, "{{.State.Pid}}")),
        "{hpid}"
    );
    let idle = rpod.ok(&["top", "idle"]);
    assert!(idle.starts_with("USER"), "{idle}");
    let row: Vec<&str> = idle.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!((row[0], row[1], row[2]), ("nobody", "1", "0"), "{idle}");
    assert_eq!(row.last(), Some(&"300"));
    let err = rpod.fails(&["top", "stopped"], 125);
    assert!(err.contains("running containers"), "{err}");
    // psgo's descriptors beyond ps's, and ps's AIX codes.
    let more = rpod.ok(&[
        "top",
        "busy",
        "%p",
        "seccomp,capinh",
        "ruser",
        "%c",
        "stime",
    ]);
    let lines: Vec<&str> = more.lines().collect();
    for header in [
        "PID",
        "SECCOMP",
        "INHERITED CAPS",
        "RUSER",
        "COMMAND",
        "STIME",
    ] {
        assert!(lines[0].contains(header), "{more}");
    }
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[..5], ["1", "filter", "none", "root", "sh"], "{more}");
    assert!(lines[1].ends_with("+0000 UTC"), "{more}");
    let caps = rpod.ok(&["top", "busy", "pid,capeff"]);
    assert!(
        caps.contains("EFFECTIVE CAPS") && caps.contains("CHOWN"),
        "{caps}"
    );
    // A word that is no descriptor: ps(1) runs with the words, as podman's top falls back
    // to it; when ps fails, its own message and the descriptor that was not one.
    let rss = rpod.ok(&["top", "busy", "-o", "pid,rss"]);
    assert!(rss.starts_with("PID") && rss.contains("RSS"), "{rss}");
    let err = rpod.fails(&["top", "busy", "-o", "pid,nosuchdescriptor"], 125);
    assert!(
        err.contains("bad -o argument") && err.contains("\"nosuchdescriptor\" is not one of"),
        "{err}"
    );
    // ps(1)'s options run the container's own ps, as podman does.
    let ps = rpod.ok(&["top", "busy", "-ef"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert!(
        lines[0].starts_with("PID") && lines[0].contains("COMMAND"),
        "{ps}"
    );
    // The container's processes, without the ps that listed them (as podman's).
    assert!(lines.iter().any(|l| l.contains("sleep")), "{ps}");
    assert!(!lines.iter().any(|l| l.ends_with("ps -ef")), "{ps}");
    let err = rpod.fails(&["top", "busy", "--no-such-option"], 125);
    assert!(err.contains("ps(1) with \"--no-such-option\""), "{err}");
}

#[test]
fn stats_and_top_on_runc() {
    check_stats_and_top("runc");
}

#[test]
fn stats_and_top_on_crun() {
    check_stats_and_top("crun");
}
