//! libpod image endpoints with shapes of their own.

use serde_json::json;

use rpod_engine::views::ImageInspect;
use rpod_engine::{EngineError, ImageRemoval};

use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::service::Context;

pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let engine = &context.engine;
    let filters = engine.image_filters(
        crate::compat::images::filter_pairs(ex)?,
        rpod_engine::image_filters::FilterUse::List,
    )?;
    let mut out = Vec::new();
    // A build's intermediate images only with `all`, as podman's.
    let all = ex.query_bool("all")?;
    let mut infos = engine.image_infos()?;
    infos.retain(|info| all || !info.is_intermediate());
    // Manifest lists too, as podman's service lists them.
    infos.extend(engine.manifest_list_images()?);
    // Every name of an image that matches (podman's service lists them all; a `reference`
    // filter chooses images, not names).
    infos.retain(|info| filters.matches(info));
    let containers = engine.containers_per_image()?;
    for info in infos {
        let created = info.record.created.unwrap_or(info.record.added);
        let labels = info.labels();
        out.push(json!({
            "Id": info.record.id,
            "ParentId": info.record.parent.clone().unwrap_or_default(),
            "RepoTags": info.names,
            "RepoDigests": info.repo_digests(),
            "Created": created.timestamp(),
            "Size": info.record.size,
            "SharedSize": 0,
            "VirtualSize": info.record.size,
            "Labels": labels,
            "Containers": containers.get(&info.record.id).copied().unwrap_or(0),
            "Names": info.names,
            "Digest": info.digest(),
            "Dangling": info.is_dangling(),
            "ReadOnly": false,
        }));
    }
    ex.json(200, &out)
}

pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    // A manifest list's name: its image for this platform, as podman's.
    let record = context.engine.resolve_image_or_list(name, None)?;
    let info = context.engine.image_info(record)?;
    ex.json(200, &ImageInspect::new(context.engine.roots(), &info))
}

pub fn exists(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    // An image, or a manifest list (podman's lists are images).
    match context.engine.resolve_image(name) {
        Err(rpod_engine::EngineError::NoSuchImage(_))
            if context.engine.manifest_exists(name)? => {}
        other => {
            other?;
        }
    }
    ex.empty(204)
}

pub fn remove(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let force = ex.query_bool("force")?;
    let (untagged, deleted) = match context.engine.remove_image(name, force)? {
        ImageRemoval::Untagged(name) => (vec![name], Vec::new()),
        ImageRemoval::Deleted { id, names, parent } => {
            let mut deleted = vec![id];
            deleted.extend(context.engine.prune_parents(parent)?);
            (names, deleted)
        }
    };
    ex.json(
        200,
        &json!({ "Untagged": untagged, "Deleted": deleted, "Errors": [], "ExitCode": 0 }),
    )
}

/// `DELETE /libpod/images/remove?images=&all=&force=&ignore=` (`podman rmi` remote): every
/// image named (or all of them), the failures reported with podman's exit code (1 for an
/// unknown image, 2 for one in use) rather than as an HTTP error.
pub fn remove_many(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let force = ex.query_bool("force")?;
    let ignore = ex.query_bool("ignore")?;
    let no_prune = ex.query_bool("noprune")?;
    let mut names: Vec<String> = ex
        .req
        .query_all("images")
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    let all = ex.query_bool("all")?;
    if all {
        names = context.engine.images()?.into_iter().map(|r| r.id).collect();
    }
    let (mut untagged, mut deleted, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    let mut exit_code = 0;
    for name in &names {
        match context.engine.remove_image(name, force) {
            Ok(ImageRemoval::Untagged(name)) => untagged.push(name),
            Ok(ImageRemoval::Deleted { id, names, parent }) => {
                untagged.extend(names);
                deleted.push(id);
                if !no_prune {
                    deleted.extend(context.engine.prune_parents(parent)?);
                }
            }
            // podman 4's `manifest rm` asks here: a manifest list of the name goes.
            Err(EngineError::NoSuchImage(_)) if context.engine.manifest_exists(name)? => {
                let list = context.engine.manifest_delete(name)?;
                untagged.push(list.name);
                deleted.push(list.id);
            }
            // With `all`, an intermediate image an image removed before took with it.
            Err(EngineError::NoSuchImage(_)) if ignore || all => {}
            Err(e) => {
                exit_code = match e {
                    EngineError::NoSuchImage(_) => 1,
                    EngineError::ImageInUse { .. } => 2,
                    _ => 125,
                };
                errors.push(e.to_string());
            }
        }
    }
    ex.json(
        200,
        &json!({ "Untagged": untagged, "Deleted": deleted, "Errors": errors, "ExitCode": exit_code }),
    )
}

/// `POST /libpod/images/{name}/untag?repo=&tag=` (`podman untag` remote); without `repo`
/// every name goes.
pub fn untag(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let names: Vec<String> = match ex.req.query("repo").filter(|r| !r.is_empty()) {
        Some(repo) => {
            let tag = ex
                .req
                .query("tag")
                .filter(|t| !t.is_empty())
                .unwrap_or("latest");
            vec![format!("{repo}:{tag}")]
        }
        None => Vec::new(),
    };
    context.engine.untag_image(name, &names)?;
    ex.empty(201)
}

/// `GET /libpod/images/export?references=&format=` and `GET /libpod/images/{name}/get`
/// (`podman save` remote): a docker-archive (the default), or one image as an
/// oci-archive, or as an oci-dir or docker-dir in a tar.
pub fn export(context: &Context, ex: &mut Exchange, name: Option<&str>) -> ApiResult<()> {
    let names: Vec<String> = match name {
        Some(name) => vec![name.to_string()],
        None => ex
            .req
            .query_all("references")
            .into_iter()
            .filter(|r| !r.is_empty())
            .map(String::from)
            .collect(),
    };
    if names.is_empty() {
        return Err(ApiError::bad_request("export needs at least one reference"));
    }
    let format: rpod_engine::image::ArchiveFormat = ex
        .req
        .query("format")
        .filter(|f| !f.is_empty())
        .unwrap_or("docker-archive")
        .parse()?;
    // A docker-dir's layers gzip-compressed (podman-remote's `save --compress`).
    let compress = ex.query_bool("compress")?;
    format.check_save(names.len(), compress)?;
    let mut images = Vec::new();
    for name in &names {
        images.push(context.engine.image_for_save(name)?);
    }
    // A directory format goes out as a tar of the directory, as podman's service sends it.
    ex.send_archive(&[], |out| {
        context.engine.save_images(&images, format, compress, out)
    })
}

/// `GET /libpod/images/{name}/tree` (`podman image tree` remote): the text the command
/// prints.
pub fn tree(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let what_requires = ex.query_bool("whatrequires")?;
    let info = context
        .engine
        .image_info(context.engine.resolve_image(name)?)?;
    let tree = context.engine.image_tree(&info, what_requires)?;
    ex.json(200, &json!({ "Tree": tree }))
}

pub fn load(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let loaded = context
        .engine
        .load_images(ex.conn.body(), "(API request body)", None)?;
    let names: Vec<String> = loaded
        .iter()
        .flat_map(|(record, names)| {
            if names.is_empty() {
                vec![format!("sha256:{}", record.id)]
            } else {
                names.clone()
            }
        })
        .collect();
    ex.json(200, &json!({ "Names": names }))
}
