//! Remote `manifest create|add|annotate|remove|rm|exists|inspect|push` on libpod's
//! `/manifests` endpoints, printed as the local commands print. The service reaches the
//! registries with its own settings but for `--tls-verify` and `--creds`, which go with
//! each request.

use std::io::Write;

use serde_json::{json, Value};

use crate::cli::{ManifestCommand, ManifestEntryFlags, RegistryFlags};
use crate::exit::{usage, Outcome};

use super::{encode, expect, failure, registry_params, Client};

/// The flags of each `manifest` command the service gets (clap's ids).
pub const FLAGS: &[&str] = &[
    "amend",
    "all",
    "tls_verify",
    "creds",
    "name",
    "images",
    "arch",
    "os",
    "variant",
    "os_version",
    "os_features",
    "annotations",
    "list",
    "image",
    "digest",
    "ignore",
    "lists",
    "rm",
    "quiet",
    "digestfile",
    "format",
    "compression_format",
    "remove_signatures",
    "destination",
];

/// `--tls-verify` and `--creds` as query parameters.
fn registry_query(flags: &RegistryFlags) -> String {
    registry_params(flags).join("&")
}

/// A change of a list (`PUT`): podman's ModifyOptions, the entry's platform and
/// annotations with it.
fn modify(
    client: &mut Client,
    list: &str,
    operation: &str,
    image: &str,
    entry: Option<&ManifestEntryFlags>,
    all: bool,
    query: &str,
) -> Outcome {
    let mut body = json!({ "operation": operation, "images": [image], "all": all });
    if let Some(entry) = entry {
        for (key, value) in [
            ("arch", &entry.arch),
            ("os", &entry.os),
            ("variant", &entry.variant),
            ("os_version", &entry.os_version),
        ] {
            if let Some(value) = value {
                body[key] = json!(value);
            }
        }
        body["os_features"] = json!(entry.os_features);
        body["annotations"] = json!(entry.annotations);
    }
    let path = format!("/manifests/{}?{query}", encode(list));
    let answer = expect(client.call("PUT", &path, Some(&body))?, &[200])?.json()?;
    println!("{}", answer["Id"].as_str().unwrap_or_default());
    Ok(0)
}

pub fn manifest(client: &mut Client, command: &ManifestCommand) -> Outcome {
    match command {
        ManifestCommand::Create(args) => {
            let mut query = vec![
                format!("amend={}", args.amend),
                format!("all={}", args.all),
                registry_query(&args.registry),
            ];
            query.extend(args.images.iter().map(|i| format!("images={}", encode(i))));
            let path = format!("/manifests/{}?{}", encode(&args.name), query.join("&"));
            let answer = expect(client.call("POST", &path, None)?, &[200, 201])?.json()?;
            println!("{}", answer["Id"].as_str().unwrap_or_default());
            Ok(0)
        }
        ManifestCommand::Add(args) => modify(
            client,
            &args.list,
            "update",
            &args.image,
            Some(&args.entry),
            args.all,
            &registry_query(&args.registry),
        ),
        ManifestCommand::Annotate(args) => modify(
            client,
            &args.list,
            "annotate",
            &args.digest,
            Some(&args.entry),
            false,
            "",
        ),
        ManifestCommand::Remove(args) => {
            modify(client, &args.list, "remove", &args.digest, None, false, "")
        }
        ManifestCommand::Rm(args) => {
            let mut code = 0;
            for name in &args.lists {
                let reply = client.call("DELETE", &format!("/manifests/{}", encode(name)), None)?;
                match reply.status {
                    200 => {
                        let answer = reply.json()?;
                        let first =
                            |key: &str| answer[key][0].as_str().unwrap_or_default().to_string();
                        println!("Untagged: {}", first("Untagged"));
                        println!("Deleted: {}", first("Deleted"));
                    }
                    404 if args.ignore => {}
                    status => {
                        let error = failure(&reply);
                        eprintln!("Error: {}", error.message());
                        // A list that is not there exits 1, as the local command's.
                        code = code.max(if status == 404 { 1 } else { error.code });
                    }
                }
            }
            Ok(code)
        }
        ManifestCommand::Exists(args) => {
            let path = format!("/manifests/{}/exists", encode(&args.name));
            let reply = client.call("GET", &path, None)?;
            match reply.status {
                204 => Ok(0),
                404 => Ok(1),
                _ => Err(failure(&reply)),
            }
        }
        ManifestCommand::Inspect(args) => {
            let path = format!(
                "/manifests/{}/json?{}",
                encode(&args.name),
                registry_query(&args.registry)
            );
            let reply = expect(client.call("GET", &path, None)?, &[200])?;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&reply.body);
            let _ = out.write_all(b"\n");
            Ok(0)
        }
        ManifestCommand::Push(args) => {
            if let Some(format) = &args.format {
                return Err(rpod_engine::EngineError::NotSupported(format!(
                    "manifest push --format {format} (a list is pushed as its entries were made: add images in the format wanted)"
                ))
                .into());
            }
            // Checked as locally; the service pushes a list's layers as they were made.
            let compression: rpod_engine::image::registry::LayerCompression =
                args.compression_format.parse()?;
            if compression != Default::default() {
                return Err(usage(format!(
                    "--compression-format {} of \"rpod manifest push\" is not supported with a remote service (it pushes with gzip)",
                    args.compression_format
                )));
            }
            // Without a destination, the list goes under the name it was given by.
            let destination = args.destination.as_deref().unwrap_or(&args.list);
            let destination = destination.strip_prefix("docker://").unwrap_or(destination);
            let path = format!(
                "/manifests/{}/registry/{}?all={}&{}",
                encode(&args.list),
                encode(destination),
                args.all,
                registry_query(&args.registry)
            );
            let answer: Value = expect(client.call("POST", &path, None)?, &[200])?.json()?;
            let digest = answer["Id"].as_str().unwrap_or_default();
            if let Some(path) = &args.digestfile {
                std::fs::write(path, digest)
                    .map_err(|e| usage(format!("writing {}: {e}", path.display())))?;
            }
            if args.rm {
                let path = format!("/manifests/{}", encode(&args.list));
                expect(client.call("DELETE", &path, None)?, &[200])?;
            }
            Ok(0)
        }
    }
}
