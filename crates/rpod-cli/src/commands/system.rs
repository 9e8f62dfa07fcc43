//! `info` and `version`.

use serde_json::{json, Map, Value};

use rpod_engine::container::Status;
use rpod_engine::Engine;

use crate::cli::FormatArgs;
use crate::exit::Outcome;
use crate::format;

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// JSON keys (`ociRuntime`) to the Go field names templates use (`OCIRuntime`).
fn go_names(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k.as_str() {
                        "ociRuntime" => "OCIRuntime".to_string(),
                        "os" => "OS".to_string(),
                        other => {
                            let mut chars = other.chars();
                            chars
                                .next()
                                .map(|c| c.to_uppercase().chain(chars).collect())
                                .unwrap_or_default()
                        }
                    };
                    (key, go_names(v))
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(go_names).collect()),
        other => other.clone(),
    }
}

/// A small YAML rendering of JSON, as podman prints `info`.
fn yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        yaml(v, indent + 2, out);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        for item in items {
                            out.push_str(&format!("{pad}- {}\n", scalar(item)));
                        }
                    }
                    other => out.push_str(&format!("{pad}{key}: {}\n", scalar(other))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s)
            if s.is_empty() || s.contains(": ") || s.starts_with(['*', '&', '!', '{', '[']) =>
        {
            format!("{s:?}")
        }
        Value::String(s) => s.clone(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn cgroup_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(fs) if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "v2",
        _ => "v1",
    }
}

pub fn info(engine: &Engine, args: FormatArgs) -> Outcome {
    let runtime = engine.default_runtime()?;
    let (conmon, oci) = runtime
        .runtime_info()
        .map_err(rpod_engine::EngineError::from)?;
    let containers = engine.list()?;
    let count = |wanted: &[Status]| {
        containers
            .iter()
            .filter(|c| wanted.contains(&c.state.status))
            .count()
    };
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let roots = engine.roots().clone();
    let data = json!({
        "host": {
            "arch": go_arch(),
            "os": "linux",
            "kernel": kernel_release(),
            "hostname": hostname,
            "cgroupManager": "cgroupfs",
            "cgroupVersion": cgroup_version(),
            "conmon": conmon,
            "ociRuntime": oci,
            "supportsCheckpoint": runtime.supports_checkpoint(),
            "supportsJSONErrors": runtime.supports_json_errors(),
            "supportsNoCgroups": runtime.supports_no_cgroups(),
            "supportsKVM": runtime.supports_kvm(),
        },
        "store": {
            "graphRoot": roots.root.display().to_string(),
            "runRoot": roots.runroot.display().to_string(),
            "graphDriverName": "overlay",
            "containerStore": {
                "number": containers.len(),
                "paused": count(&[Status::Paused]),
                "running": count(&[Status::Running]),
                "stopped": count(&[Status::Configured, Status::Created, Status::Stopped, Status::Exited]),
            },
            "imageStore": { "number": engine.images()?.len() },
        },
        "version": {
            "Version": env!("CARGO_PKG_VERSION"),
            "OsArch": format!("linux/{}", go_arch()),
        },
    });
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&data)?),
        Some(template) => format::print(template, &[go_names(&data)], &format::upper_header)?,
        None => {
            let mut out = String::new();
            yaml(&data, 0, &mut out);
            print!("{out}");
        }
    }
    Ok(0)
}

pub fn version(args: &FormatArgs) -> Outcome {
    let data = json!({
        "Client": {
            "Version": env!("CARGO_PKG_VERSION"),
            "APIVersion": env!("CARGO_PKG_VERSION"),
            "OsArch": format!("linux/{}", go_arch()),
            "Os": "linux",
        }
    });
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&data)?),
        Some(template) => format::print(template, &[data], &format::upper_header)?,
        None => {
            println!("Version:      {}", env!("CARGO_PKG_VERSION"));
            println!("API Version:  {}", env!("CARGO_PKG_VERSION"));
            println!("OS/Arch:      linux/{}", go_arch());
        }
    }
    Ok(0)
}
