//! What the Docker and libpod APIs share for registries: credentials from the
//! `X-Registry-Auth` header (base64url JSON, as docker and podman-remote send it), TLS
//! verification (libpod's `tlsVerify`; for Docker, a loopback registry is insecure, as the
//! Docker daemon treats 127.0.0.0/8), and the answers for pull, push and `/auth`.

use std::io::Write;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use rpod_engine::image::platform::Platform;
use rpod_engine::image::registry::{self, Credentials, PullOptions, PushOptions, RegistryOptions};
use rpod_engine::EngineError;

use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::http::ChunkedWriter;
use crate::service::Context;

/// The most a credentials header may hold.
const AUTH_HEADER_LIMIT: usize = 16 * 1024;

/// Credentials of one auth config: `username` and `password`, or docker's `auth`
/// (base64 of USER:PASSWORD). Identity tokens (OAuth refresh tokens) are not supported.
fn config_credentials(config: &Value) -> ApiResult<Option<Credentials>> {
    if config
        .get("identitytoken")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        return Err(ApiError::unsupported("identity tokens in X-Registry-Auth"));
    }
    let text = |key: &str| config.get(key).and_then(Value::as_str).unwrap_or("");
    if !text("username").is_empty() {
        return Ok(Some(Credentials {
            username: text("username").to_string(),
            password: text("password").to_string(),
        }));
    }
    if !text("auth").is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text("auth"))
            .map_err(|e| ApiError::bad_request(format!("auth in X-Registry-Auth: {e}")))?;
        let pair = String::from_utf8_lossy(&decoded).into_owned();
        return Ok(Some(Credentials::parse(&pair)?));
    }
    Ok(None)
}

/// Credentials for `registry` from `X-Registry-Config` or `X-Registry-Auth`: one auth
/// config (docker, podman-remote with `--creds`), or a map of registries to configs
/// (podman-remote's credentials file, `""` for any registry).
pub fn header_credentials(ex: &Exchange, registry: Option<&str>) -> ApiResult<Option<Credentials>> {
    for name in ["x-registry-config", "x-registry-auth"] {
        let Some(text) = ex.req.header(name).map(str::trim) else {
            continue;
        };
        if text.is_empty() || text == "null" {
            continue;
        }
        if text.len() > AUTH_HEADER_LIMIT {
            return Err(ApiError::bad_request(format!("{name} is too large")));
        }
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
            .map_err(|e| ApiError::bad_request(format!("{name} is not base64: {e}")))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("{name} is not JSON: {e}")))?;
        let Some(object) = value.as_object() else {
            return Err(ApiError::bad_request(format!(
                "{name} is not an auth config"
            )));
        };
        let single = ["username", "password", "auth", "identitytoken"]
            .iter()
            .any(|k| object.contains_key(*k));
        if single {
            return config_credentials(&value);
        }
        let matching = object.iter().find(|(key, _)| {
            registry.is_some_and(|r| {
                registry::login_key(key).is_ok_and(|k| k.split('/').next() == Some(r))
            })
        });
        if let Some((_, config)) = matching.or_else(|| object.get_key_value("")) {
            return config_credentials(config);
        }
    }
    Ok(None)
}

/// Whether a registry is on the loopback interface, which the Docker daemon treats as
/// insecure without being told.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => registry,
    };
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

/// Registry options for a Docker API request about `reference`.
fn docker_options(ex: &Exchange, reference: &str) -> ApiResult<RegistryOptions> {
    let registry = registry_of(reference);
    Ok(RegistryOptions {
        tls_verify: registry
            .as_deref()
            .filter(|r| is_loopback(r))
            .map(|_| false),
        credentials: header_credentials(ex, registry.as_deref())?,
        ..RegistryOptions::default()
    })
}

/// The registry a reference names (Docker Hub for a short one).
fn registry_of(reference: &str) -> Option<String> {
    let parsed = rpod_engine::image::reference::Reference::parse(reference).ok()?;
    Some(
        parsed
            .domain
            .unwrap_or_else(|| rpod_engine::image::reference::DEFAULT_DOMAIN.to_string()),
    )
}

/// Registry options of a libpod request's `tlsVerify` alone (a build's: its pulls and
/// pushes go to several registries).
pub(crate) fn libpod_tls(ex: &Exchange) -> ApiResult<RegistryOptions> {
    // Any case: podman-remote's is `tlsverify` (`Request::query`).
    let tls_verify = match ex.req.query("tlsVerify") {
        Some(_) => Some(ex.query_bool("tlsVerify")?),
        None => None,
    };
    Ok(RegistryOptions {
        tls_verify,
        ..RegistryOptions::default()
    })
}

/// Registry options for a libpod request about `reference` (`tlsVerify`,
/// `credentials=USER:PASSWORD` or the headers).
pub(crate) fn libpod_options(ex: &Exchange, reference: &str) -> ApiResult<RegistryOptions> {
    let tls_verify = libpod_tls(ex)?.tls_verify;
    let credentials = match ex.req.query("credentials").filter(|c| !c.is_empty()) {
        Some(text) => Some(Credentials::parse(text)?),
        None => header_credentials(ex, registry_of(reference).as_deref())?,
    };
    Ok(RegistryOptions {
        tls_verify,
        credentials,
        ..RegistryOptions::default()
    })
}

/// `POST /images/create?fromImage=NAME&tag=TAG` (`docker pull`, and `docker run` of a
/// missing image). The pull's progress is sent as it comes; when the registry cannot give
/// the image and a local one exists, the local one is used, saying so.
pub fn docker_pull(context: &Context, ex: &mut Exchange, reference: &str) -> ApiResult<()> {
    let local = context.engine.resolve_image(reference).ok().map(|r| r.id);
    let options = PullOptions {
        registry: docker_options(ex, reference)?,
        platform: Platform::from_flags(ex.req.query("platform"), None, None, None)?,
        ..PullOptions::default()
    };
    // Progress goes out as it comes (a large image takes minutes); so do errors, as
    // Docker's `errorDetail` lines, which the docker CLI prints.
    let mut body = ex.start_stream(200, "application/json")?;
    let pulled = context.engine.pull_image(reference, &options, &mut |line| {
        send_line(&mut body, &json!({ "status": line }))
    });
    let last = match (pulled, &local) {
        (Ok(record), Some(id)) if record.id == *id => {
            json!({ "status": format!("Status: Image is up to date for {reference}") })
        }
        (Ok(_), _) => {
            json!({ "status": format!("Status: Downloaded newer image for {reference}") })
        }
        (Err(e), Some(_)) => {
            json!({ "status": format!("Status: using the local image {reference}: {e}") })
        }
        (Err(e), None) => {
            let message =
                format!("image {reference} is not present locally, and pulling it failed: {e}");
            json!({ "errorDetail": { "message": message }, "error": message })
        }
    };
    send_line(&mut body, &last);
    let _ = body.finish();
    Ok(())
}

/// One JSON document and a newline, in one chunk. A client that went away ends nothing
/// here: the work goes on and the rest of its answer is dropped.
pub(crate) fn send_line(body: &mut ChunkedWriter, value: &Value) {
    let _ = body.write_all(format!("{value}\n").as_bytes());
}

/// `POST /libpod/images/pull?reference=&policy=&tlsVerify=&quiet=&credentials=`
/// (`podman pull` remote): progress as `stream` lines, then the image's ID.
pub fn libpod_pull(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let reference = ex
        .req
        .query("reference")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad_request("a pull needs reference"))?
        .to_string();
    let policy = ex.req.query("policy").unwrap_or("always").to_string();
    let quiet = ex.query_bool("quiet")?;
    let local = context.engine.resolve_image(&reference).ok();
    let wanted = match policy.as_str() {
        "never" => false,
        "missing" => local.is_none(),
        "always" | "newer" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown pull policy {other:?}: use always, missing, newer or never"
            )))
        }
    };
    let record = match local {
        Some(record) if !wanted => record,
        None if !wanted => return Err(EngineError::NoSuchImage(reference).into()),
        _ => {
            let options = PullOptions {
                registry: libpod_options(ex, &reference)?,
                platform: Platform::from_flags(
                    None,
                    ex.req.query("OS"),
                    ex.req.query("Arch"),
                    ex.req.query("Variant"),
                )?,
                ..PullOptions::default()
            };
            // Progress goes out as it comes; an error ends the stream as podman's does.
            let mut body = ex.start_stream(200, "application/json")?;
            let pulled = context
                .engine
                .pull_image(&reference, &options, &mut |line| {
                    if !quiet {
                        send_line(&mut body, &json!({ "stream": format!("{line}\n") }));
                    }
                });
            let last = match (pulled, local) {
                (Ok(record), _) => json!({ "images": [record.id], "id": record.id }),
                (Err(e), Some(record)) if policy == "newer" => {
                    tracing::warn!("pulling {reference} failed, using the local image: {e}");
                    json!({ "images": [record.id], "id": record.id })
                }
                (Err(e), _) => json!({ "error": e.to_string() }),
            };
            send_line(&mut body, &last);
            let _ = body.finish();
            return Ok(());
        }
    };
    let mut body = ex.start_stream(200, "application/json")?;
    send_line(
        &mut body,
        &json!({ "images": [record.id], "id": record.id }),
    );
    let _ = body.finish();
    Ok(())
}

/// `POST /images/{name}/push?tag=` (`docker push`): progress as status lines as it comes,
/// then the digest docker prints, or Docker's `errorDetail`.
pub fn docker_push(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let reference = match ex.req.query("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{name}:{tag}"),
        None => name.to_string(),
    };
    let options = PushOptions {
        registry: docker_options(ex, &reference)?,
        format: Some(registry::ManifestFormat::DockerV2s2),
        ..PushOptions::default()
    };
    // An image that is not here is a 404, before any progress.
    context.engine.resolve_image(&reference)?;
    let mut body = ex.start_stream(200, "application/json")?;
    // Docker pushes an image under the name it is asked for: that name is the destination.
    let pushed = context
        .engine
        .push_image(&reference, Some(&reference), &options, &mut |line| {
            send_line(&mut body, &json!({ "status": line }))
        });
    let last = match pushed {
        Ok(digest) => {
            let tag = rpod_engine::image::reference::Reference::parse(&reference)
                .ok()
                .and_then(|r| r.tag)
                .unwrap_or_else(|| "latest".into());
            json!({ "status": format!("{tag}: digest: {digest}") })
        }
        Err(e) => json!({ "errorDetail": { "message": e.to_string() }, "error": e.to_string() }),
    };
    send_line(&mut body, &last);
    let _ = body.finish();
    Ok(())
}

/// `POST /libpod/images/{name}/push?destination=&tlsVerify=&format=&compressionFormat=`.
pub fn libpod_push(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let destination = ex
        .req
        .query("destination")
        .filter(|d| !d.is_empty())
        .map(String::from);
    let options = PushOptions {
        registry: libpod_options(ex, destination.as_deref().unwrap_or(name))?,
        format: ex
            .req
            .query("format")
            .filter(|f| !f.is_empty())
            .map(str::parse)
            .transpose()?,
        compression: match ex.req.query("compressionFormat").filter(|f| !f.is_empty()) {
            Some(f) => f.parse()?,
            None => Default::default(),
        },
        // podman-remote does not sign through the service (its client refuses to).
        ..PushOptions::default()
    };
    let quiet = ex.query_bool("quiet")?;
    // An image that is not here is a 404, before any progress.
    context.engine.resolve_image(name)?;
    let mut body = ex.start_stream(200, "application/json")?;
    let pushed = context
        .engine
        .push_image(name, destination.as_deref(), &options, &mut |line| {
            if !quiet {
                send_line(&mut body, &json!({ "stream": format!("{line}\n") }));
            }
        });
    // podman 4's client takes `stream` and `error` lines only (later ones also read a
    // `manifestdigest`): the digest is said in words.
    let last = match pushed {
        // A push to the service's own files (`dir:PATH`...) has no digest to say.
        Ok(digest) if digest.is_empty() => None,
        Ok(digest) => Some(json!({ "stream": format!("Pushed manifest {digest}\n") })),
        Err(e) => Some(json!({ "error": e.to_string() })),
    };
    if let Some(last) = last {
        send_line(&mut body, &last);
    }
    let _ = body.finish();
    Ok(())
}

#[derive(Deserialize)]
struct AuthRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "serveraddress")]
    server_address: String,
}

/// `POST /auth` (`docker login`): check the credentials against the registry. The docker
/// CLI keeps them itself; rpod saves nothing.
pub fn auth(ex: &mut Exchange) -> ApiResult<()> {
    let request: AuthRequest = ex.body_json()?;
    if request.username.is_empty() {
        return Err(ApiError::bad_request("auth request without a username"));
    }
    let key = registry::login_key(if request.server_address.is_empty() {
        "docker.io"
    } else {
        &request.server_address
    })?;
    let host = key.split('/').next().unwrap_or(&key).to_string();
    let options = RegistryOptions {
        tls_verify: is_loopback(&host).then_some(false),
        credentials: Some(Credentials {
            username: request.username,
            password: request.password,
        }),
        ..RegistryOptions::default()
    };
    registry::check_login(&host, &options).map_err(|e| ApiError::new(401, e.to_string()))?;
    ex.json(
        200,
        &json!({ "Status": "Login Succeeded", "IdentityToken": "" }),
    )
}

/// The search a request asks for: `term`, `limit` (25), `filters`, and libpod's
/// `listTags`.
fn search_results(
    context: &Context,
    ex: &Exchange,
    options: &RegistryOptions,
) -> ApiResult<Vec<registry::SearchResult>> {
    let term = ex
        .req
        .query("term")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("a search needs term"))?;
    let limit = ex
        .query_int::<usize>("limit")?
        .filter(|l| *l > 0)
        .unwrap_or(25);
    let words: Vec<String> = crate::compat::images::filter_pairs(ex)?
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let filter = registry::SearchFilter::parse(&words)?;
    // podman-remote 4 spells it in lower case.
    let list_tags = ex.query_bool("listTags")? || ex.query_bool("listtags")?;
    Ok(context
        .engine
        .search_images(term, limit, &filter, list_tags, options)?)
}

/// `GET /images/search?term=&limit=&filters=` (`docker search`).
pub fn docker_search(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let term = ex.req.query("term").unwrap_or_default().to_string();
    let options = docker_options(ex, &term)?;
    let results = search_results(context, ex, &options)?;
    let answer: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "description": r.description,
                "star_count": r.stars,
                "is_official": !r.official.is_empty(),
                "is_automated": !r.automated.is_empty(),
            })
        })
        .collect();
    ex.json(200, &answer)
}

/// `GET /libpod/images/search?term=&limit=&filters=&tlsVerify=&listTags=` (`podman
/// search` remote): podman's report shape.
pub fn libpod_search(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let term = ex.req.query("term").unwrap_or_default().to_string();
    let options = libpod_options(ex, &term)?;
    let results = search_results(context, ex, &options)?;
    ex.json(200, &results)
}
