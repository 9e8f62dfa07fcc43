//! podman-remote's `manifest` commands: `/libpod/manifests/{name}` (create with POST,
//! change with PUT: add, remove, annotate), `.../json`, `.../exists`, `DELETE`, and
//! `.../registry/{destination}` (push). Each answers once, with the list's ID (the push
//! with its digest), as podman 4's client reads it.

use serde_json::{json, Value};

use rpod_engine::image::manifest_list::EntryOptions;
use rpod_engine::image::registry::PushOptions;
use rpod_engine::EngineError;

use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::service::Context;

/// `POST /libpod/manifests/{name}?images=&amend=&all=`.
pub fn create(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let registry = crate::registries::libpod_options(ex, name)?;
    let images: Vec<String> = ex
        .req
        .query_all("images")
        .into_iter()
        .filter(|i| !i.is_empty())
        .map(String::from)
        .collect();
    let list = context.engine.manifest_create(
        name,
        &images,
        ex.query_bool("amend")?,
        ex.query_bool("all")?,
        &registry,
    )?;
    ex.json(200, &json!({ "Id": list.id }))
}

/// The value of `key` in podman's ModifyOptions body, whose keys its clients write in one
/// case or another.
fn field<'a>(body: &'a Value, key: &str) -> Option<&'a Value> {
    body.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn text(body: &Value, key: &str) -> Option<String> {
    field(body, key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn words(body: &Value, key: &str) -> ApiResult<Vec<String>> {
    match field(body, key) {
        None => Ok(Vec::new()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|_| ApiError::bad_request(format!("{key} must be a list of strings"))),
    }
}

/// An entry's platform and annotations as the body gives them (annotations as a map, or
/// as `KEY=VALUE` strings).
fn entry_options(body: &Value) -> ApiResult<EntryOptions> {
    let mut annotations = Vec::new();
    for key in ["annotations", "annotation"] {
        match field(body, key) {
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    annotations.push(format!("{k}={}", v.as_str().unwrap_or_default()));
                }
            }
            Some(_) => annotations.extend(words(body, key)?),
            None => {}
        }
    }
    let mut os_features = words(body, "os_features")?;
    os_features.extend(words(body, "osfeatures")?);
    Ok(EntryOptions {
        arch: text(body, "arch"),
        os: text(body, "os"),
        variant: text(body, "variant"),
        os_version: text(body, "os_version").or_else(|| text(body, "osversion")),
        os_features,
        annotations,
    })
}

/// `PUT /libpod/manifests/{name}`: `operation` update (add `images`), remove (the entries
/// `images` names by digest) or annotate.
pub fn modify(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let body: Value = ex.body_json_or_default()?;
    let operation = text(&body, "operation").unwrap_or_default();
    let images = words(&body, "images")?;
    let all = field(&body, "all").and_then(Value::as_bool) == Some(true);
    let options = entry_options(&body)?;
    let registry = crate::registries::libpod_options(ex, images.first().map_or(name, |i| i))?;
    let engine = &context.engine;
    let mut list = engine.manifest_list(name)?;
    for image in &images {
        list = match operation.as_str() {
            "update" => engine.manifest_add(name, image, &options, all, &registry)?,
            "remove" => engine.manifest_remove(name, image)?,
            "annotate" => engine.manifest_annotate(name, image, &options)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown manifest operation {other:?}: update, remove or annotate"
                )))
            }
        };
    }
    ex.json(200, &json!({ "Id": list.id, "images": images }))
}

/// `GET /libpod/manifests/{name}/json`: the list, or the manifest a registry has.
pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let options = crate::registries::libpod_options(ex, name)?;
    let document = context.engine.manifest_inspect(name, &options)?;
    ex.send(200, "application/json", &document)
}

/// `GET /libpod/manifests/{name}/exists`.
pub fn exists(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    if context.engine.manifest_exists(name)? {
        ex.empty(204)
    } else {
        Err(ApiError::not_found(format!(
            "{name}: no such manifest list"
        )))
    }
}

/// `DELETE /libpod/manifests/{name}`.
pub fn delete(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let list = context.engine.manifest_delete(name)?;
    ex.json(
        200,
        &json!({ "Deleted": [list.id], "Untagged": [list.name], "Errors": [], "ExitCode": 0 }),
    )
}

/// `POST /libpod/manifests/{name}/registry/{destination}?all=&tlsVerify=&format=`: the
/// list pushed (with its images unless `all=false`); answers with its digest.
pub fn push(context: &Context, ex: &mut Exchange, name: &str, destination: &str) -> ApiResult<()> {
    if ex.req.query("format").is_some_and(|f| !f.is_empty()) {
        return Err(ApiError::unsupported(
            "pushing a manifest list in another format (it goes as its entries were made)",
        ));
    }
    let options = PushOptions {
        registry: crate::registries::libpod_options(ex, destination)?,
        ..Default::default()
    };
    let all = ex.query_bool_or("all", true)?;
    let digest = context
        .engine
        .manifest_push(name, destination, &options, all, &mut |_| {})
        .map_err(|e| match e {
            EngineError::NoSuchImage(_) => ApiError::not_found(e.to_string()),
            other => other.into(),
        })?;
    ex.json(200, &json!({ "Id": digest }))
}
