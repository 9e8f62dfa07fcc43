//! `POST /build`: `docker build` (the CLI's classic builder) against the service. The body
//! is the build context as a tar (gzip'd when the client compresses it), unpacked into a
//! scratch directory of rpod's and built by the engine's `build`; progress and each RUN
//! step's output go back as Docker's `stream` lines, the image's ID as `aux`, a failure as
//! an `errorDetail` line (the answer has begun by then).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::exchange::Flavour;
use crate::http::ChunkedWriter;
use crate::service::Context;

/// A JSON object of strings in a query parameter (`buildargs`, `labels`); `null` values
/// (Docker's "take it from the environment", which a service does not have) are left out.
fn string_map(ex: &Exchange, name: &str) -> ApiResult<BTreeMap<String, String>> {
    let Some(text) = ex.req.query(name).filter(|t| !t.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, Option<String>> = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("{name}: not a JSON object of strings: {e}")))?;
    Ok(map
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key, v)))
        .collect())
}

fn send_line(body: &mut ChunkedWriter, value: &Value) {
    let _ = body.write_all(format!("{value}\n").as_bytes());
}

pub fn build(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    if ex.flavour == Flavour::Libpod {
        return Err(ApiError::unsupported(
            "podman-remote's build (`rpod build` builds on the host; the docker CLI's build works)",
        ));
    }
    ex.refuse_set(
        "build option",
        &[
            "remote",
            "squash",
            "pull",
            "cachefrom",
            "extrahosts",
            "outputs",
            "isolation",
            "cpusetcpus",
            "cpushares",
            "cpuquota",
            "cpuperiod",
            "memory",
            "memswap",
            "shmsize",
            "ulimits",
        ],
    )?;
    match ex.req.query("networkmode").unwrap_or("") {
        "" | "default" | "bridge" => {}
        other => {
            return Err(ApiError::unsupported(format!(
                "build steps on the network {other:?}"
            )))
        }
    }
    let dockerfile = ex
        .req
        .query("dockerfile")
        .filter(|d| !d.is_empty())
        .unwrap_or("Dockerfile")
        .to_string();
    let relative = std::path::Path::new(&dockerfile);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(ApiError::bad_request(format!(
            "dockerfile {dockerfile:?}: a path inside the build context"
        )));
    }
    let tags: Vec<String> = ex
        .req
        .query_all("t")
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let build_args = string_map(ex, "buildargs")?;
    let labels = string_map(ex, "labels")?;
    let quiet = ex.query_bool("q")?;
    let target = ex
        .req
        .query("target")
        .filter(|t| !t.is_empty())
        .map(String::from);
    // The client may compress the context (`docker build --compress`): gzip's magic tells.
    let mut body = BufReader::new(ex.conn.body());
    let gzip = body
        .fill_buf()
        .map(|head| head.starts_with(&[0x1f, 0x8b]))
        .unwrap_or(false);
    let dir = if gzip {
        context
            .engine
            .build_context_from_tar(flate2::read::GzDecoder::new(body))?
    } else {
        context.engine.build_context_from_tar(body)?
    };
    // The context is the client's: its Dockerfile is read only as a file of its own, never
    // through a link (which could point at any of the host's files).
    let mut path = dir.path().to_path_buf();
    for part in relative.components() {
        path.push(part);
        if path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(ApiError::bad_request(format!(
                "dockerfile {dockerfile:?}: a link in the build context, which is not followed"
            )));
        }
    }
    let options = rpod_engine::BuildOptions {
        containerfile: dir.path().join(&dockerfile),
        context: dir.path().to_path_buf(),
        tags: tags.clone(),
        build_args,
        target,
        quiet,
        capture_run_output: true,
        labels,
    };
    let mut out = ex.start_stream(200, "application/json")?;
    let built = context.engine.build(&options, &mut |line| {
        if !quiet {
            send_line(&mut out, &json!({ "stream": format!("{line}\n") }));
        }
    });
    match built {
        Ok(image) => {
            send_line(
                &mut out,
                &json!({ "aux": { "ID": format!("sha256:{}", image.id) } }),
            );
            if quiet {
                // What the docker CLI prints of a quiet build: dockerd sends the ID alone.
                send_line(
                    &mut out,
                    &json!({ "stream": format!("sha256:{}\n", image.id) }),
                );
            } else {
                send_line(
                    &mut out,
                    &json!({ "stream": format!("Successfully built {}\n", &image.id[..12]) }),
                );
                for tag in &tags {
                    send_line(
                        &mut out,
                        &json!({ "stream": format!("Successfully tagged {tag}\n") }),
                    );
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            send_line(
                &mut out,
                &json!({ "errorDetail": { "message": message }, "error": message }),
            );
        }
    }
    let _ = out.finish();
    Ok(())
}
