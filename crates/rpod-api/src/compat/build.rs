//! `POST /build`: `docker build` (the CLI's classic builder) and `podman --remote build`
//! against the service. The body is the build context as a tar, plain or compressed
//! (podman-remote gzips it; bzip2, xz and zstd are taken too, as Docker's), unpacked into
//! a scratch directory of rpod's and built by the engine's `build`; progress and each RUN
//! step's output go back as `stream` lines, the image's ID as Docker's `aux` (or, for
//! podman-remote, which takes the last line that looks like an ID, as the last `stream`
//! line), a failure as an `errorDetail` line (the answer has begun by then).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::exchange::Flavour;
use crate::registries::send_line;
use crate::service::Context;

/// A JSON object of strings in a query parameter (`buildargs`, `labels`); `null` values
/// (Docker's "take it from the environment", which a service does not have) are left out.
fn string_map(ex: &Exchange, name: &str) -> ApiResult<BTreeMap<String, String>> {
    let Some(text) = ex.req.query(name).filter(|t| !t.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    /// Docker's object, or podman-remote's array of `KEY=VALUE` (its `labels`).
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Pairs {
        Object(BTreeMap<String, Option<String>>),
        List(Vec<String>),
    }
    let pairs: Pairs = serde_json::from_str(text).map_err(|e| {
        ApiError::bad_request(format!(
            "{name}: neither a JSON object of strings nor a list of KEY=VALUE: {e}"
        ))
    })?;
    Ok(match pairs {
        Pairs::Object(map) => map
            .into_iter()
            .filter_map(|(key, value)| value.map(|v| (key, v)))
            .collect(),
        Pairs::List(list) => rpod_engine::labels::parse_pairs(&list),
    })
}

/// The query parameters that ask for what rpod's build does not do, when set.
const REFUSED: &[&str] = &["outputs", "manifest"];

/// The Containerfile's path in the context: Docker's `dockerfile`, or podman-remote's
/// JSON array of one.
fn dockerfile_param(ex: &Exchange) -> ApiResult<String> {
    let given = ex.req.query("dockerfile").unwrap_or("").trim();
    if given.starts_with('[') {
        let files: Vec<String> = serde_json::from_str(given)
            .map_err(|e| ApiError::bad_request(format!("dockerfile: {e}")))?;
        return match files.as_slice() {
            [] => Ok("Dockerfile".into()),
            [one] => Ok(one.clone()),
            _ => Err(ApiError::unsupported("a build of several Containerfiles")),
        };
    }
    Ok(if given.is_empty() {
        "Dockerfile".into()
    } else {
        given.to_string()
    })
}

/// The image format: podman-remote names it as a manifest type (OCI by default); the
/// docker CLI's builds make Docker-format images (which keep a HEALTHCHECK).
fn output_format(ex: &Exchange) -> ApiResult<rpod_engine::image::ImageFormat> {
    use rpod_engine::image::ImageFormat;
    match ex.req.query("outputformat").unwrap_or("") {
        "" if ex.flavour == Flavour::Libpod => Ok(ImageFormat::Oci),
        "" => Ok(ImageFormat::Docker),
        "application/vnd.oci.image.manifest.v1+json" | "oci" => Ok(ImageFormat::Oci),
        "application/vnd.docker.distribution.manifest.v2+json" | "docker" => {
            Ok(ImageFormat::Docker)
        }
        other => Err(ApiError::unsupported(format!(
            "building in the format {other:?} (oci and docker are written)"
        ))),
    }
}

/// The RUN steps' network: the default, or the docker CLI's `none` and `host`
/// (podman-remote numbers its choice: its default and "enabled" are taken).
fn build_network(ex: &Exchange) -> ApiResult<Option<rpod_engine::container::NetworkMode>> {
    use rpod_engine::container::NetworkMode;
    let network = ex.req.query("networkmode").unwrap_or("");
    match (ex.flavour, network) {
        // buildah's NetworkDefault (0) and NetworkEnabled (2).
        (Flavour::Libpod, "" | "0" | "2") => Ok(None),
        (Flavour::Compat, "" | "default" | "bridge") => Ok(None),
        (Flavour::Compat, "none") => Ok(Some(NetworkMode::None)),
        (Flavour::Compat, "host") => Ok(Some(NetworkMode::Host)),
        _ => Err(ApiError::unsupported(format!(
            "build steps on the network {network:?}"
        ))),
    }
}

/// `timestamp` (podman-remote's `build --timestamp`): seconds since 1970.
fn timestamp_param(ex: &Exchange) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    ex.query_int::<i64>("timestamp")?
        .map(|seconds| {
            rpod_engine::parse_build_timestamp(seconds)
                .map_err(|e| ApiError::bad_request(e.to_string()))
        })
        .transpose()
}

/// The platform to build for: `platform=OS/ARCH[/VARIANT]`, whose empty parts (podman-remote
/// sends `/` when none was asked for) are this machine's; several are refused.
fn platform_param(ex: &Exchange) -> ApiResult<Option<rpod_engine::image::platform::Platform>> {
    let given: Vec<&str> = ex
        .req
        .query_all("platform")
        .into_iter()
        .flat_map(|p| p.split(','))
        .filter(|p| !p.trim_matches('/').is_empty())
        .collect();
    match given.as_slice() {
        [] => Ok(None),
        [one] => {
            let mut parts = one.split('/').map(|p| Some(p).filter(|p| !p.is_empty()));
            let (os, arch, variant) = (
                parts.next().flatten(),
                parts.next().flatten(),
                parts.next().flatten(),
            );
            if parts.next().is_some() {
                return Err(ApiError::bad_request(format!(
                    "platform {one:?}: OS/ARCH[/VARIANT]"
                )));
            }
            Ok(rpod_engine::image::platform::Platform::from_flags(
                None, os, arch, variant,
            )?)
        }
        _ => Err(ApiError::unsupported(
            "a build for several platforms (rpod builds for one)",
        )),
    }
}

/// `isolation`: Docker's `default`, or podman-remote's number (buildah's: 0 the default, 1
/// OCI); chroot (2), rootless (3) and Windows' kinds are refused.
fn check_isolation(ex: &Exchange) -> ApiResult<()> {
    match ex.req.query("isolation").unwrap_or("") {
        "" | "default" | "0" | "1" | "oci" => Ok(()),
        other => Err(ApiError::unsupported(format!(
            "build isolation {other} (RUN steps run in containers of the OCI runtime)"
        ))),
    }
}

/// podman-remote's `idmappingoptions` (buildah's, with the runtime spec's names for the
/// ranges): the RUN steps' user namespace, `None` for the host's.
fn step_id_mappings(ex: &Exchange) -> ApiResult<Option<rpod_engine::userns::IdMappings>> {
    let Some(text) = ex.req.query("idmappingoptions").filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let options: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("idmappingoptions: {e}")))?;
    if options
        .get("AutoUserNs")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
    {
        return Err(ApiError::unsupported(
            "build --userns auto (the steps' ranges are given with --userns-uid-map)",
        ));
    }
    let ranges = |key: &str| -> ApiResult<Vec<String>> {
        let list = match options.get(key) {
            None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
            Some(list) => list.as_array().ok_or_else(|| {
                ApiError::bad_request(format!("idmappingoptions.{key} is not a list"))
            })?,
        };
        list.iter()
            .map(|range| {
                let field = |name: &str| range.get(name).and_then(serde_json::Value::as_u64);
                match (field("containerID"), field("hostID"), field("size")) {
                    (Some(c), Some(h), Some(n)) => Ok(format!("{c}:{h}:{n}")),
                    _ => Err(ApiError::bad_request(format!(
                        "idmappingoptions.{key}: each range needs containerID, hostID and size"
                    ))),
                }
            })
            .collect()
    };
    Ok(rpod_engine::userns::IdMappings::from_flags(
        &ranges("UIDMap")?,
        &ranges("GIDMap")?,
    )?)
}

pub fn build(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    ex.refuse_set("build option", REFUSED)?;
    check_isolation(ex)?;
    // Secrets come with podman-remote's context (`build_secrets`); Docker sends none so.
    if ex.flavour == Flavour::Compat {
        ex.refuse_set("build option", &["secrets"])?;
    }
    // Checked before the context is read: a refused setting costs no upload.
    let mut step_template = super::build_steps::step_settings(ex)?.template()?;
    step_template.id_mappings = step_id_mappings(ex)?;
    let cache = super::build_steps::remote_cache(ex)?;
    let timestamp = timestamp_param(ex)?;
    let pull = super::build_steps::pull(ex)?;
    let network = build_network(ex)?;
    let squash = if ex.query_bool("squash")? {
        rpod_engine::Squash::New
    } else {
        rpod_engine::Squash::No
    };
    let format = output_format(ex)?;
    let podman = ex.flavour == Flavour::Libpod;
    let dockerfile = dockerfile_param(ex)?;
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
        .map(|t| super::images::new_image_name(ex, t.to_string()))
        .collect::<ApiResult<_>>()?;
    let build_args = string_map(ex, "buildargs")?;
    let labels = string_map(ex, "labels")?;
    // podman-remote's `--annotation`: a JSON list of KEY=VALUE (or one per parameter).
    let annotations = rpod_engine::image::parse_annotations(&ex.query_list("annotations")?)?;
    let quiet = ex.query_bool("q")?;
    let target = ex
        .req
        .query("target")
        .filter(|t| !t.is_empty())
        .map(String::from);
    // podman-remote's `--from`.
    let from = ex
        .req
        .query("from")
        .filter(|f| !f.is_empty())
        .map(String::from);
    // `remote` (docker-py's `build(path=URL)`): the context is fetched from there (a Git
    // repository, an archive, a Containerfile alone). Else the body is the context as a
    // tar, which the client may compress (`docker build --compress`): gzip's magic tells.
    let remote = ex
        .req
        .query("remote")
        .filter(|r| !r.is_empty())
        .map(String::from);
    let secrets_param = ex.req.query("secrets").map(String::from);
    let context_sent = remote.is_none();
    let (_kept, context_dir, downloaded): (Box<dyn std::any::Any>, PathBuf, Option<PathBuf>) =
        match remote {
            Some(_)
                if secrets_param
                    .as_deref()
                    .is_some_and(|s| !s.is_empty() && s != "[]") =>
            {
                return Err(ApiError::bad_request(
                    "secrets come with the build context, which remote replaces",
                ))
            }
            Some(url) => {
                let Some(remote) = rpod_engine::RemoteContext::parse(&url)? else {
                    return Err(ApiError::bad_request(format!(
                        "remote {url:?}: a Git repository's or an http(s) URL"
                    )));
                };
                let fetched = context.engine.fetch_build_context(&remote)?;
                let (dir, file) = (fetched.dir.clone(), fetched.containerfile.clone());
                (Box::new(fetched), dir, file)
            }
            None => {
                let dir = context.engine.build_context_from_tar(ex.conn.body())?;
                let path = dir.path().to_path_buf();
                (Box::new(dir), path, None)
            }
        };
    // A sent context's secrets, taken out of it before anything reads it.
    let sent = if context_sent {
        super::build_secrets::take(
            &context.engine.roots().tmp(),
            secrets_param.as_deref(),
            &context_dir,
        )?
    } else {
        super::build_secrets::SentSecrets::none()
    };
    // The context is the client's: its Dockerfile is read as a file of its own, a link
    // followed inside the context only (on the host it could lead to any file).
    let containerfile = match downloaded {
        Some(file) => file,
        None => rpod_engine::file_in_context(&context_dir, &dockerfile)?,
    };
    // Docker's builds take the cache unless `nocache`; podman-remote says `layers` too.
    let layers = match ex.flavour {
        Flavour::Libpod => ex.query_bool_or("layers", true)?,
        Flavour::Compat => true,
    };
    let no_cache = ex.query_bool("nocache")?;
    let options = rpod_engine::BuildOptions {
        containerfile,
        context: context_dir,
        tags: tags.clone(),
        build_args,
        target,
        from,
        quiet,
        capture_run_output: true,
        labels,
        annotations,
        step_labels: BTreeMap::new(),
        pull,
        format,
        step_images: Default::default(),
        layers,
        no_cache,
        secrets: sent.secrets.clone(),
        network,
        step_template,
        squash,
        platform: platform_param(ex)?,
        skip_unused_stages: ex.query_bool_or("skipunusedstages", true)?,
        timestamp,
        omit_history: ex.query_bool("omithistory")?,
        // podman-remote's `--tls-verify` for the base images' pulls and the remote cache.
        registry: match ex.flavour {
            Flavour::Libpod => crate::registries::libpod_tls(ex)?,
            Flavour::Compat => Default::default(),
        },
        cache_from: cache.from,
        cache_to: cache.to,
        cache_ttl: cache.ttl,
        ..Default::default()
    };
    let mut out = ex.start_stream(200, "application/json")?;
    let built = context.engine.build(&options, &mut |line| {
        if !quiet {
            send_line(&mut out, &json!({ "stream": format!("{line}\n") }));
        }
    });
    match built {
        Ok(image) if podman => {
            // A quiet build prints the ID alone, as podman's.
            for tag in tags.iter().filter(|_| !quiet) {
                let line = rpod_engine::successfully_tagged(tag);
                send_line(&mut out, &json!({ "stream": format!("{line}\n") }));
            }
            // Last: podman-remote takes the last line that looks like an ID for the ID.
            send_line(&mut out, &json!({ "stream": format!("{}\n", image.id) }));
        }
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
                    &json!({ "stream": format!("Successfully built {}\n", image.id.get(..12).unwrap_or(&image.id)) }),
                );
                for tag in &tags {
                    // As Docker words it: Docker Hub's names without the domain.
                    let shown = rpod_engine::image::reference::familiar(tag);
                    send_line(
                        &mut out,
                        &json!({ "stream": format!("Successfully tagged {shown}\n") }),
                    );
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            // A failed RUN step's status, which the docker CLI exits with (Docker's own).
            let detail = match &e {
                rpod_engine::EngineError::StepFailed { status, .. } => {
                    json!({ "message": message, "code": status })
                }
                _ => json!({ "message": message }),
            };
            send_line(
                &mut out,
                &json!({ "errorDetail": detail, "error": message }),
            );
        }
    }
    let _ = out.finish();
    Ok(())
}
