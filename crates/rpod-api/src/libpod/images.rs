//! libpod image endpoints with shapes of their own.

use std::io::Write;

use serde_json::json;

use rpod_engine::views::ImageInspect;
use rpod_engine::ImageRemoval;

use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::service::Context;

pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let engine = &context.engine;
    let mut out = Vec::new();
    for record in engine.images()? {
        let info = engine.image_info(record)?;
        let created = info.record.created.unwrap_or(info.record.added);
        let labels = ImageInspect::new(&info).labels;
        out.push(json!({
            "Id": info.record.id,
            "ParentId": "",
            "RepoTags": info.names,
            "RepoDigests": [],
            "Created": created.timestamp(),
            "Size": info.record.size,
            "SharedSize": 0,
            "VirtualSize": info.record.size,
            "Labels": labels,
            "Containers": 0,
            "Names": info.names,
            "Digest": format!("sha256:{}", info.record.id),
            "Dangling": info.names.is_empty(),
            "ReadOnly": false,
        }));
    }
    ex.json(200, &out)
}

pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let record = context.engine.resolve_image(name)?;
    let info = context.engine.image_info(record)?;
    ex.json(200, &ImageInspect::new(&info))
}

pub fn exists(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    context.engine.resolve_image(name)?;
    ex.empty(204)
}

/// `POST /libpod/images/pull?reference=...`: the image when it is here (what
/// `--pull missing`, podman's default, asks), a clear error otherwise.
pub fn pull(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let reference = ex
        .req
        .query("reference")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad_request("a pull needs reference"))?
        .to_string();
    let policy = ex.req.query("policy").unwrap_or("always").to_string();
    match context.engine.resolve_image(&reference) {
        Ok(record) if policy != "always" => {
            let mut body = ex.start_stream(200, "application/json")?;
            let line = json!({ "images": [record.id], "id": record.id });
            let _ = writeln!(body, "{line}");
            let _ = body.finish();
            Ok(())
        }
        Ok(_) => Err(ApiError::bad_request(format!(
            "rpod cannot pull from registries: {reference} is present locally; use --pull missing or never"
        ))),
        Err(rpod_engine::EngineError::NoSuchImage(_)) => Err(ApiError::not_found(format!(
            "image {reference} is not present locally, and rpod cannot pull from registries: load it with `podman load` or `rpod load`"
        ))),
        Err(e) => Err(e.into()),
    }
}

pub fn remove(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let force = ex.query_bool("force")?;
    let (untagged, deleted) = match context.engine.remove_image(name, force)? {
        ImageRemoval::Untagged(name) => (vec![name], Vec::new()),
        ImageRemoval::Deleted { id, names } => (names, vec![id]),
    };
    ex.json(
        200,
        &json!({ "Untagged": untagged, "Deleted": deleted, "Errors": [], "ExitCode": 0 }),
    )
}

pub fn load(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let loaded = context
        .engine
        .load_images(ex.conn.body(), "(API request body)")?;
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
