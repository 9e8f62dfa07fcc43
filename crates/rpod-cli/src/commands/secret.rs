//! `rpod secret`: create, list, inspect, remove secrets (podman's file and shell drivers).

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::{json, Value};

use rpod_engine::secrets::{SecretFilter, SecretRecord};
use rpod_engine::Engine;

use crate::cli::{SecretCommand, SecretCreateArgs, SecretInspectArgs, SecretLsArgs};
use crate::exit::{usage, Failure, Outcome};
use crate::format;

/// `secret inspect --pretty`: podman's lines, values aligned.
fn pretty(secret: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let fields = [
        ("ID:", text(&secret["ID"])),
        ("Name:", text(&secret["Spec"]["Name"])),
        ("Driver:", text(&secret["Spec"]["Driver"]["Name"])),
        ("Created at:", text(&secret["CreatedAt"])),
        ("Updated at:", text(&secret["UpdatedAt"])),
    ];
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let line = |(key, value): &(&str, String)| format!("{key:width$}{value}\n");
    let mut out: String = fields[..2].iter().map(line).collect();
    let labels = secret["Spec"]["Labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if !labels.is_empty() {
        out.push_str("Labels:\n");
    }
    for (key, value) in labels {
        match value.as_str().filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&format!(" - {key}={v}\n")),
            None => out.push_str(&format!(" - {key}\n")),
        }
    }
    out.extend(fields[2..].iter().map(line));
    out
}

/// A secret as podman's `secret inspect` shows it (never its data).
fn secret_json(secret: &SecretRecord) -> Value {
    rpod_engine::views::secret_info(secret)
}

/// `--driver-opts` KEY=VALUE words (comma-separated or repeated).
pub(crate) fn driver_options(words: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    let mut options = BTreeMap::new();
    for pair in words.iter().flat_map(|o| o.split(',')) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(format!("invalid --driver-opts {pair:?}: KEY=VALUE")))?;
        options.insert(key.to_string(), value.to_string());
    }
    Ok(options)
}

/// The data of `secret create` (local and remote): a variable's value with `--env`, else a
/// file or standard input (`-`). At most one byte past the limit is read, so that an
/// oversized secret (or /dev/zero) is refused by size without its whole content in memory.
pub(crate) fn secret_data(args: &SecretCreateArgs) -> Result<Vec<u8>, Failure> {
    if args.env {
        return std::env::var(&args.source)
            .map(String::into_bytes)
            .map_err(|_| usage(format!("environment variable {} is not set", args.source)));
    }
    let source: Box<dyn Read> = if args.source == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(&args.source)
                .map_err(|e| usage(format!("reading {}: {e}", args.source)))?,
        )
    };
    let mut data = Vec::new();
    source
        .take(rpod_engine::secrets::MAX_SECRET_SIZE as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| usage(format!("reading {}: {e}", args.source)))?;
    Ok(data)
}

/// `secret ls --filter` words, checked as the engine reads them.
pub(crate) fn list_filters(words: &[String]) -> Result<Vec<SecretFilter>, Failure> {
    words
        .iter()
        .map(|filter| {
            let (key, value) = filter
                .split_once('=')
                .ok_or_else(|| usage(format!("invalid filter {filter:?}: use name= or id=")))?;
            Ok(SecretFilter::new(key, value)?)
        })
        .collect()
}

/// `secret ls`'s output of secrets as `secret inspect` shows them (local or a service's).
pub(crate) fn print_list(secrets: &[Value], args: &SecretLsArgs) -> Outcome {
    if args.quiet {
        for secret in secrets {
            println!("{}", secret["ID"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    let rows: Vec<Value> = secrets
        .iter()
        .map(|secret| {
            let created = secret["CreatedAt"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| rpod_engine::human::ago(t.with_timezone(&chrono::Utc)))
                .unwrap_or_default();
            let mut row = secret.clone();
            row["Name"] = secret["Spec"]["Name"].clone();
            row["Driver"] = secret["Spec"]["Driver"]["Name"].clone();
            row["CreatedAt"] = json!(created);
            row["UpdatedAt"] = json!(created);
            row
        })
        .collect();
    let template = args.format.clone().unwrap_or_else(|| {
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}".into()
    });
    let header = |f: &str| match f {
        "CreatedAt" => "CREATED".to_string(),
        "UpdatedAt" => "UPDATED".to_string(),
        other => other.to_uppercase(),
    };
    if args.noheading {
        format::print_without_header(&template, &rows)?;
    } else {
        format::print(&template, &rows, &header)?;
    }
    Ok(0)
}

/// `secret inspect`'s output of the secrets found (local or a service's).
pub(crate) fn print_inspect(found: &[Value], args: &SecretInspectArgs) -> Result<(), Failure> {
    match (&args.format, args.pretty) {
        (Some(_), true) => return Err(usage("--format and --pretty cannot be used together")),
        (Some(template), false) => format::print(template, found, &format::upper_header)?,
        (None, true) => {
            for (i, secret) in found.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                print!("{}", pretty(secret));
            }
        }
        (None, false) => println!("{}", serde_json::to_string_pretty(found)?),
    }
    Ok(())
}

pub fn secret(engine: &Engine, command: SecretCommand) -> Outcome {
    match command {
        SecretCommand::Create(args) => {
            let options = driver_options(&args.driver_opts)?;
            let driver = engine.secret_driver(args.driver.as_deref(), &options)?;
            let data = secret_data(&args)?;
            let labels = rpod_engine::labels::parse_pairs(&args.labels);
            let secret = engine.secret_create(&args.name, &data, labels, args.replace, &driver)?;
            println!("{}", secret.id);
            Ok(0)
        }
        SecretCommand::Ls(args) => {
            let filters = list_filters(&args.filter)?;
            let listed: Vec<Value> = engine
                .secrets()?
                .iter()
                .filter(|secret| filters.iter().all(|f| f.matches(secret)))
                .map(secret_json)
                .collect();
            print_list(&listed, &args)
        }
        SecretCommand::Inspect(args) => {
            let mut found = Vec::new();
            let mut misses = super::InspectMisses::new("secret");
            for name in &args.names {
                match engine.secret(name) {
                    Ok(secret) => found.push(secret_json(&secret)),
                    Err(e) => misses.add(Some("secret"), name, &e.into()),
                }
            }
            print_inspect(&found, &args)?;
            misses.outcome()
        }
        SecretCommand::Rm(args) => {
            let names: Vec<String> = if args.all {
                engine.secrets()?.into_iter().map(|s| s.id).collect()
            } else if args.names.is_empty() {
                return Err(usage("you must provide at least one secret name or id"));
            } else {
                args.names
            };
            let mut code = 0;
            for name in &names {
                match engine.secret_remove(name) {
                    Ok(secret) => println!("{}", secret.id),
                    Err(_) if args.ignore && engine.secret(name).is_err() => {}
                    Err(e) => {
                        eprintln!("Error: {e}");
                        code = crate::exit::ENGINE_ERROR;
                    }
                }
            }
            Ok(code)
        }
        SecretCommand::Exists(args) => Ok(if engine.secret(&args.name).is_ok() {
            0
        } else {
            1
        }),
    }
}
