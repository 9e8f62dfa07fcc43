//! `_ping`, `version`, `info`.

use serde_json::json;

use crate::error::ApiResult;
use crate::exchange::Exchange;
use crate::service::Context;

pub fn ping(ex: &mut Exchange) -> ApiResult<()> {
    // Docker's clients negotiate from the headers every answer carries; HEAD has no body.
    ex.send(200, "text/plain; charset=utf-8", b"OK")
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Go's name for the machine's architecture, as Docker reports it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

pub fn version(_context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let version = env!("CARGO_PKG_VERSION");
    let api = crate::DOCKER_API_VERSION;
    let min = crate::MIN_DOCKER_API_VERSION;
    ex.json(
        200,
        &json!({
            "Platform": { "Name": "rpod" },
            "Components": [{
                "Name": "Engine",
                "Version": version,
                "Details": {
                    "ApiVersion": api,
                    "Arch": go_arch(),
                    "MinAPIVersion": min,
                    "Os": "linux",
                    "KernelVersion": kernel(),
                },
            }],
            "Version": version,
            "ApiVersion": api,
            "MinAPIVersion": min,
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": go_arch(),
            "KernelVersion": kernel(),
            "BuildTime": "",
        }),
    )
}

pub fn info(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let engine = &context.engine;
    let info = engine.info()?;
    let counts = &info.store.container_store;
    let total_memory = nix::sys::sysinfo::sysinfo()
        .map(|s| s.ram_total())
        .unwrap_or(0);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let runtime = &info.host.oci_runtime;
    let mut security = vec!["name=seccomp,profile=default".to_string()];
    if nix::unistd::geteuid().is_root() {
        security.push("name=cgroupns".into());
    }
    ex.json(
        200,
        &json!({
            "ID": "",
            "Containers": counts.number,
            "ContainersRunning": counts.running,
            "ContainersPaused": counts.paused,
            "ContainersStopped": counts.stopped,
            "Images": info.store.image_store.number,
            "Driver": info.store.graph_driver_name,
            "DriverStatus": [],
            "DockerRootDir": info.store.graph_root,
            "Plugins": { "Volume": [], "Network": [], "Authorization": null, "Log": ["k8s-file", "none"] },
            "MemoryLimit": true,
            "SwapLimit": true,
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "OomKillDisable": false,
            "IPv4Forwarding": false,
            "Debug": false,
            "NFd": 0,
            "NGoroutines": 0,
            "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "LoggingDriver": info.host.log_driver,
            "CgroupDriver": info.host.cgroup_manager,
            "CgroupVersion": info.host.cgroup_version.trim_start_matches('v'),
            "KernelVersion": info.host.kernel,
            "OperatingSystem": "linux",
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "NCPU": cpus,
            "MemTotal": total_memory,
            "IndexServerAddress": "",
            "RegistryConfig": null,
            "Name": info.host.hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Runtimes": { runtime.name.clone(): { "path": runtime.path } },
            "DefaultRuntime": runtime.name,
            "Swarm": { "LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": false, "Error": "", "RemoteManagers": null },
            "LiveRestoreEnabled": false,
            "Isolation": "",
            "InitBinary": "",
            "SecurityOptions": security,
            "Warnings": [],
        }),
    )
}
