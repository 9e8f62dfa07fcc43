//! `info`, `version` and `system service`.

use serde_json::{json, Map, Value};

use rpod_engine::Engine;

use crate::cli::{FormatArgs, ServiceArgs};
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use crate::format;

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

/// `rpod system service`: serve the REST API until stopped or idle.
pub fn service(engine: Engine, runroot: &std::path::Path, args: ServiceArgs) -> Outcome {
    use rpod_api::{ListenUri, Listener, ServiceOptions};
    let listener = match Listener::from_activation().map_err(usage)? {
        Some(listener) => {
            if args.uri.is_some() {
                tracing::warn!("started by socket activation: the URI argument is ignored");
            }
            listener
        }
        None => {
            let uri = match &args.uri {
                Some(text) => ListenUri::parse(text).map_err(usage)?,
                None => ListenUri::Unix(runroot.join("rpod.sock")),
            };
            Listener::bind(&uri).map_err(|e| Failure::new(ENGINE_ERROR, anyhow::anyhow!(e)))?
        }
    };
    let options = ServiceOptions {
        listener,
        idle_exit: (args.time > 0).then(|| std::time::Duration::from_secs(args.time)),
        grace: std::time::Duration::from_secs(10),
    };
    rpod_api::serve(std::sync::Arc::new(engine), options)
        .map_err(|e| Failure::new(ENGINE_ERROR, anyhow::anyhow!(e)))?;
    Ok(0)
}

pub fn info(engine: &Engine, args: FormatArgs) -> Outcome {
    let data = serde_json::to_value(engine.info()?)?;
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
            "OsArch": format!("linux/{}", rpod_engine::views::go_arch()),
            "Os": "linux",
        }
    });
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&data)?),
        Some(template) => format::print(template, &[data], &format::upper_header)?,
        None => {
            println!("Version:      {}", env!("CARGO_PKG_VERSION"));
            println!("API Version:  {}", env!("CARGO_PKG_VERSION"));
            println!("OS/Arch:      linux/{}", rpod_engine::views::go_arch());
        }
    }
    Ok(0)
}
