//! Image endpoints: list, inspect, tag, remove, load (a docker-archive), get (save), and
//! `images/create`, which rpod can answer only for images it has (no registry client yet).

use std::io::Write;

use serde_json::json;

use rpod_engine::image::ArchiveFormat;
use rpod_engine::ImageRemoval;

use super::containers::parse_filters;
use super::views;
use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::service::Context;

pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let filters = parse_filters(ex)?;
    if let Some(key) = filters
        .keys()
        .find(|k| !matches!(k.as_str(), "reference" | "dangling"))
    {
        return Err(ApiError::bad_request(format!(
            "invalid filter {key:?}: rpod filters images by reference and dangling"
        )));
    }
    let engine = &context.engine;
    let mut out = Vec::new();
    for record in engine.images()? {
        let info = engine.image_info(record)?;
        let reference_ok = filters.get("reference").is_none_or(|refs| {
            refs.iter().any(|r| {
                info.names.iter().any(|n| {
                    n == r
                        || n.ends_with(&format!("/{r}"))
                        || n.split(':')
                            .next()
                            .is_some_and(|repo| repo == r || repo.ends_with(&format!("/{r}")))
                })
            })
        });
        let dangling_ok = filters
            .get("dangling")
            .is_none_or(|d| d.iter().any(|v| (v == "true") == info.names.is_empty()));
        if reference_ok && dangling_ok {
            out.push(views::image_summary(&info));
        }
    }
    ex.json(200, &out)
}

pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let record = context.engine.resolve_image(name)?;
    let info = context.engine.image_info(record)?;
    ex.json(200, &views::image_inspect(&info))
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
    let new_name = format!("{repo}:{tag}");
    context.engine.tag_image(name, &[new_name])?;
    ex.empty(201)
}

pub fn remove(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let force = ex.query_bool("force")?;
    let answer = match context.engine.remove_image(name, force)? {
        ImageRemoval::Untagged(name) => json!([{ "Untagged": name }]),
        ImageRemoval::Deleted { id, names } => {
            let mut list: Vec<_> = names.iter().map(|n| json!({ "Untagged": n })).collect();
            list.push(json!({ "Deleted": format!("sha256:{id}") }));
            json!(list)
        }
    };
    ex.json(200, &answer)
}

/// `POST /images/create?fromImage=NAME&tag=TAG`: a pull. rpod has no registry client, so
/// an image it has is reported up to date, and any other is an error that says so.
pub fn create(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    if ex.req.query("fromSrc").is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::unsupported("importing through images/create"));
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
    match context.engine.resolve_image(&reference) {
        Ok(_) => {
            let mut body = ex.start_stream(200, "application/json")?;
            let line = json!({ "status": format!("Image is up to date for {reference}") });
            let _ = writeln!(body, "{line}");
            let _ = body.finish();
            Ok(())
        }
        Err(rpod_engine::EngineError::NoSuchImage(_)) => Err(ApiError::not_found(format!(
            "image {reference} is not present locally, and rpod cannot pull from registries: load it with `docker load` or `rpod load`"
        ))),
        Err(e) => Err(e.into()),
    }
}

pub fn load(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let loaded = context
        .engine
        .load_images(ex.conn.body(), "(API request body)")?;
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
    let body = ex.start_stream(200, "application/x-tar")?;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, body);
    let result = context
        .engine
        .save_images(&images, ArchiveFormat::DockerArchive, &mut out);
    ex.end_stream(out, result.map_err(|e| e.to_string()), |w| w.finish())
}
