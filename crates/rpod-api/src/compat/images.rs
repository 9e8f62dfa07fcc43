//! Image endpoints: list, inspect, tag, remove, load (a docker-archive), get (save), and
//! `images/create` (an import, or a pull: `registries::docker_pull`).

use std::io::Write;

use serde_json::json;

use rpod_engine::image::{ArchiveFormat, ImageFormat};
use rpod_engine::ImageRemoval;

use super::containers::parse_filters;
use super::views;
use crate::error::{ApiError, ApiResult};
use crate::exchange::{Exchange, Flavour};
use crate::service::Context;
use rpod_engine::image_filters::FilterUse;

/// The service's `filters` as keys and values.
pub fn filter_pairs(ex: &Exchange) -> ApiResult<Vec<(String, String)>> {
    Ok(parse_filters(ex)?
        .into_iter()
        .flat_map(|(key, values)| values.into_iter().map(move |v| (key.clone(), v)))
        .collect())
}

pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let engine = &context.engine;
    let filters = engine.image_filters(filter_pairs(ex)?, FilterUse::List)?;
    // A build's intermediate images only with `all`, as Docker's.
    let all = ex.query_bool("all")?;
    let mut out = Vec::new();
    // Docker lists only the names a `reference` filter matches (the docker CLI shows a row
    // per name), not every name of an image one name of which matched.
    let references = filters.references();
    for mut info in engine.image_infos()? {
        if (all || !info.is_intermediate()) && filters.matches(&info) {
            if !references.is_empty() {
                info.names.retain(|name| {
                    references
                        .iter()
                        .any(|pattern| rpod_engine::image_filters::reference_matches(name, pattern))
                });
            }
            out.push(views::image_summary(&info));
        }
    }
    ex.json(200, &out)
}

pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let record = context.engine.resolve_image(name)?;
    let info = context.engine.image_info(record)?;
    ex.json(200, &views::image_inspect(context.engine.roots(), &info))
}

pub fn tag(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let repo = ex
        .req
        .query("repo")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad_request("a tag needs repo"))?;
    let tag = ex
        .req
        .query("tag")
        .filter(|t| !t.is_empty())
        .unwrap_or("latest");
    let new_name = new_image_name(ex, format!("{repo}:{tag}"))?;
    context.engine.tag_image(name, &[new_name])?;
    ex.empty(201)
}

pub fn remove(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let force = ex.query_bool("force")?;
    let no_prune = ex.query_bool("noprune")?;
    let answer = match context.engine.remove_image(name, force)? {
        ImageRemoval::Untagged(name) => json!([{ "Untagged": name }]),
        ImageRemoval::Deleted { id, names, parent } => {
            let mut list: Vec<_> = names.iter().map(|n| json!({ "Untagged": n })).collect();
            list.push(json!({ "Deleted": format!("sha256:{id}") }));
            if !no_prune {
                for parent in context.engine.prune_parents(parent)? {
                    list.push(json!({ "Deleted": format!("sha256:{parent}") }));
                }
            }
            json!(list)
        }
    };
    ex.json(200, &answer)
}

/// The `changes` query parameters (repeated, or several in one separated by newlines).
fn change_params(ex: &Exchange) -> Vec<String> {
    ex.req
        .query_all("changes")
        .into_iter()
        .flat_map(|c| c.split('\n'))
        .filter(|c| !c.trim().is_empty())
        .map(String::from)
        .collect()
}

/// The name a client gives a new image (`repo` and `tag`, a build's `t`): a Docker
/// client's short name is Docker Hub's (`snap:1` is `docker.io/library/snap:1`, as Docker
/// and podman's compat API name it, and as the docker CLI then pushes it); a podman
/// client's is local (`localhost/snap:1`), as the engine makes it.
pub(crate) fn new_image_name(ex: &Exchange, name: String) -> ApiResult<String> {
    match ex.flavour {
        Flavour::Compat => Ok(rpod_engine::image::reference::normalize(&name)?),
        Flavour::Libpod => Ok(name),
    }
}

/// Import the request body (a root file system tarball, compressed or not) as an image.
fn import_body(
    context: &Context,
    ex: &mut Exchange,
    name: Option<String>,
) -> ApiResult<rpod_engine::image::ImageRecord> {
    // `docker import --platform OS/ARCH[/VARIANT]`.
    let platform = rpod_engine::image::platform::Platform::from_flags(
        ex.req.query("platform"),
        None,
        None,
        None,
    )?
    .unwrap_or_default();
    let options = rpod_engine::image::ImportOptions {
        name,
        changes: change_params(ex),
        message: ex
            .req
            .query("message")
            .filter(|m| !m.is_empty())
            .map(String::from),
        os: platform.os,
        arch: platform.arch,
        variant: platform.variant,
    };
    Ok(context
        .engine
        .import_image(ex.conn.body(), "(API request body)", &options)?)
}

/// `POST /libpod/images/import?reference=&changes=&message=` (`podman import`).
pub fn libpod_import(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    if ex.req.query("url").is_some_and(|u| !u.is_empty()) {
        return Err(ApiError::unsupported(
            "importing from a URL (rpod fetches nothing): send the tarball as the body",
        ));
    }
    let name = ex
        .req
        .query("reference")
        .filter(|r| !r.is_empty())
        .map(String::from);
    let record = import_body(context, ex, name)?;
    ex.json(200, &json!({ "Id": format!("sha256:{}", record.id) }))
}

/// `POST /images/create`: an import (`fromSrc=-`, the tarball as the body) or a pull
/// (`fromImage=NAME&tag=TAG`).
pub fn create(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    if let Some(source) = ex.req.query("fromSrc").filter(|s| !s.is_empty()) {
        // `docker import`: the tarball is the body (`-`); rpod fetches no URL.
        if source != "-" {
            return Err(ApiError::unsupported(
                "importing from a URL (rpod fetches nothing): send the tarball as the body",
            ));
        }
        let name = match (
            ex.req.query("repo").filter(|r| !r.is_empty()),
            ex.req.query("tag").filter(|t| !t.is_empty()),
        ) {
            (Some(repo), Some(tag)) => Some(format!("{repo}:{tag}")),
            (Some(repo), None) => Some(repo.to_string()),
            _ => None,
        };
        let name = name.map(|n| new_image_name(ex, n)).transpose()?;
        let record = import_body(context, ex, name)?;
        let mut body = ex.start_stream(200, "application/json")?;
        let line = json!({ "status": format!("sha256:{}", record.id) });
        let _ = writeln!(body, "{line}");
        let _ = body.finish();
        return Ok(());
    }
    let image = ex
        .req
        .query("fromImage")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("images/create needs fromImage"))?;
    let tag = ex.req.query("tag").filter(|t| !t.is_empty());
    let reference = match tag {
        Some(tag) if tag.starts_with("sha256:") => format!("{image}@{tag}"),
        Some(tag) => format!("{image}:{tag}"),
        None => image.to_string(),
    };
    crate::registries::docker_pull(context, ex, &reference)
}

pub fn load(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let loaded = context
        .engine
        .load_images(ex.conn.body(), "(API request body)", None)?;
    let mut lines = String::new();
    for (record, names) in &loaded {
        if names.is_empty() {
            lines.push_str(
                &json!({ "stream": format!("Loaded image ID: sha256:{}\n", record.id) })
                    .to_string(),
            );
            lines.push('\n');
        }
        for name in names {
            lines.push_str(&json!({ "stream": format!("Loaded image: {name}\n") }).to_string());
            lines.push('\n');
        }
    }
    ex.send(200, "application/json", lines.as_bytes())
}

/// `GET /images/{name}/get` and `GET /images/get?names=...`: a docker-archive.
pub fn get(context: &Context, ex: &mut Exchange, name: Option<&str>) -> ApiResult<()> {
    let names: Vec<String> = match name {
        Some(name) => vec![name.to_string()],
        None => ex
            .req
            .query_all("names")
            .into_iter()
            .map(String::from)
            .collect(),
    };
    if names.is_empty() {
        return Err(ApiError::bad_request("images/get needs at least one name"));
    }
    let mut images = Vec::new();
    for name in &names {
        images.push(context.engine.image_for_save(name)?);
    }
    ex.send_archive(&[], |out| {
        context
            .engine
            .save_images(&images, ArchiveFormat::DockerArchive, false, out)
    })
}

/// `GET /images/{name}/history`: the image's steps, newest first.
pub fn history(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let engine = &context.engine;
    let info = engine.image_info(engine.resolve_image(name)?)?;
    let steps: Vec<serde_json::Value> = engine
        .image_history(&info)
        .iter()
        .map(|step| {
            let id = step
                .image
                .as_ref()
                .map_or_else(|| "<missing>".into(), |id| format!("sha256:{id}"));
            let tags = step
                .image
                .as_ref()
                .and_then(|id| engine.image_names(id).ok())
                .filter(|names| !names.is_empty());
            // podman's clients read Docker's shape too.
            json!({
                "Id": id,
                "Created": step.created.map_or(0, |c| c.timestamp()),
                "CreatedBy": step.created_by,
                "Tags": tags,
                "Size": step.size,
                "Comment": step.comment,
            })
        })
        .collect();
    ex.json(200, &steps)
}

/// `POST /images/prune`: remove the images no container uses; only unnamed ones unless
/// `dangling=false` (Docker) or `all` (libpod). Filters `label`, `label!`, `until`.
pub fn prune(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let mut all = ex.query_bool("all")?;
    let mut pairs = filter_pairs(ex)?;
    // `dangling=false` (Docker's `prune -a`) takes named images too.
    for (_, value) in pairs.iter().filter(|(key, _)| key == "dangling") {
        all = matches!(value.as_str(), "false" | "0");
    }
    pairs.retain(|(key, _)| key != "dangling");
    let filters = context.engine.image_filters(pairs, FilterUse::Prune)?;
    let removed = context
        .engine
        .prune_images(all, &|info| filters.matches(info))?;
    match ex.flavour {
        Flavour::Compat => {
            let deleted: Vec<serde_json::Value> = removed
                .iter()
                .map(|p| json!({ "Deleted": format!("sha256:{}", p.id) }))
                .collect();
            ex.json(
                200,
                &json!({
                    "ImagesDeleted": deleted,
                    "SpaceReclaimed": rpod_engine::engine::reclaimed(&removed),
                }),
            )
        }
        Flavour::Libpod => ex.json(200, &crate::libpod::prune_reports(&removed)),
    }
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=` (libpod's too): a
/// new image from a container's changes. Docker's body is a config for the image, which
/// the container's settings complete (`GivenConfig`); `changes` apply after it.
pub fn commit(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let container = ex
        .req
        .query("container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("the container parameter is required"))?
        .to_string();
    let body: serde_json::Value = ex.body_json_or_default()?;
    let given_config = given_config(body)?;
    let text = |name: &str| {
        ex.req
            .query(name)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    let name = match (text("repo"), text("tag")) {
        (Some(repo), Some(tag)) => Some(format!("{repo}:{tag}")),
        (Some(repo), None) => Some(repo),
        (None, Some(_)) => return Err(ApiError::bad_request("a tag needs a repo")),
        (None, None) => None,
    };
    let name = name.map(|n| new_image_name(ex, n)).transpose()?;
    let changes = ex
        .req
        .query_all("changes")
        .into_iter()
        .flat_map(|c| c.split('\n'))
        .filter(|c| !c.trim().is_empty())
        .map(String::from)
        .collect();
    let options = rpod_engine::CommitOptions {
        name,
        changes,
        message: text("comment"),
        author: text("author"),
        pause: ex.query_bool_or("pause", true)?,
        // podman-remote's `commit --squash`.
        squash: ex.query_bool("squash")?,
        include_volumes: false,
        // Docker's images are Docker-format ones (its commit keeps the health check);
        // podman-remote says which it wants (`format`, oci by default).
        format: match (text("format"), ex.flavour) {
            (Some(format), _) => format
                .parse()
                .map_err(|e: rpod_engine::EngineError| ApiError::bad_request(e.to_string()))?,
            (None, Flavour::Libpod) => ImageFormat::Oci,
            (None, _) => ImageFormat::Docker,
        },
        given_config,
        ..Default::default()
    };
    let image = context.engine.commit(&container, &options)?;
    // Docker's ID has its algorithm; libpod's is the bare ID, which podman-remote prints.
    let id = match ex.flavour {
        Flavour::Libpod => image.id,
        _ => format!("sha256:{}", image.id),
    };
    ex.json(201, &json!({ "Id": id }))
}

/// The image config fields of Docker's commit body; the rest of its `Config` (a
/// container's hostname, terminal, streams...) is no part of an image and is refused unless
/// unset.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CommitBody {
    // Options: a null is what an unset field is to Go's clients too.
    user: Option<String>,
    exposed_ports: Option<serde_json::Map<String, serde_json::Value>>,
    env: Option<Vec<String>>,
    entrypoint: Option<super::create::StrSlice>,
    cmd: Option<super::create::StrSlice>,
    volumes: Option<serde_json::Map<String, serde_json::Value>>,
    working_dir: Option<String>,
    labels: Option<std::collections::BTreeMap<String, String>>,
    stop_signal: Option<String>,
    healthcheck: Option<serde_json::Value>,
    on_build: Option<Vec<String>>,
    shell: Option<Vec<String>>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// Docker's commit body as a config for the engine; none when it gives nothing.
fn given_config(
    body: serde_json::Value,
) -> ApiResult<Option<rpod_engine::commit_config::GivenConfig>> {
    if body.is_null() {
        return Ok(None);
    }
    let body: CommitBody = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("the commit's config: {e}")))?;
    if let Some((key, _)) = body.rest.iter().find(|(_, v)| !super::create::zeroish(v)) {
        return Err(ApiError::unsupported(format!(
            "{key} in the commit's config (not part of an image's config)"
        )));
    }
    let keys = |map: Option<serde_json::Map<String, serde_json::Value>>| -> Vec<String> {
        map.map(|m| m.into_iter().map(|(key, _)| key).collect())
            .unwrap_or_default()
    };
    let given = rpod_engine::commit_config::GivenConfig {
        user: body.user.unwrap_or_default(),
        exposed_ports: keys(body.exposed_ports),
        env: body.env.unwrap_or_default(),
        entrypoint: body.entrypoint.map(super::create::StrSlice::into_vec),
        cmd: body
            .cmd
            .map(super::create::StrSlice::into_vec)
            .unwrap_or_default(),
        volumes: keys(body.volumes),
        working_dir: body.working_dir.unwrap_or_default(),
        labels: body.labels.unwrap_or_default(),
        stop_signal: body.stop_signal.unwrap_or_default(),
        healthcheck: body
            .healthcheck
            .filter(|check| !super::create::zeroish(check)),
        on_build: body.on_build.unwrap_or_default(),
        shell: body.shell.unwrap_or_default(),
    };
    Ok((given != Default::default()).then_some(given))
}
