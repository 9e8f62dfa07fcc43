//! Volume endpoints, both flavours: Docker's (`/volumes`, answers wrapped in `Volumes`) and
//! libpod's (`/libpod/volumes`, plain lists, podman's extra fields).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use rpod_engine::engine::{pruned_ids, reclaimed};
use rpod_engine::volume_filters::{FilterUse, VolumeFilters};
use rpod_engine::volumes::VolumeRecord;

use crate::compat::containers::parse_filters;
use crate::error::{ApiError, ApiResult};
use crate::exchange::{Exchange, Flavour};
use crate::service::Context;

/// A volume as podman shows it (libpod) or as Docker does: the first seven fields, the
/// creation time in seconds.
fn view(context: &Context, ex: &Exchange, volume: &VolumeRecord) -> ApiResult<Value> {
    Ok(shown(ex, context.engine.volume_view(volume)?))
}

/// A volume's view in the flavour's shape.
fn shown(ex: &Exchange, view: rpod_engine::views::VolumeView) -> Value {
    match ex.flavour {
        Flavour::Libpod => serde_json::to_value(&view).unwrap_or_default(),
        Flavour::Compat => json!({
            "Name": view.name,
            "Driver": view.driver,
            "Mountpoint": view.mountpoint,
            "CreatedAt": view.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "Labels": view.labels,
            "Scope": view.scope,
            "Options": view.options,
        }),
    }
}

/// The service's `filters` as volume filters of `used`; `skip` names keys handled apart.
fn volume_filters(
    filters: &std::collections::HashMap<String, Vec<String>>,
    used: FilterUse,
    skip: &[&str],
) -> ApiResult<VolumeFilters> {
    let pairs = filters
        .iter()
        .filter(|(key, _)| !skip.contains(&key.as_str()))
        .flat_map(|(key, values)| values.iter().map(move |v| (key.clone(), v.clone())));
    VolumeFilters::from_pairs(pairs, used).map_err(|e| ApiError::bad_request(e.to_string()))
}

pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let filters = volume_filters(&parse_filters(ex)?, FilterUse::List, &[])?;
    let mut listed = Vec::new();
    for volume in context.engine.volumes()? {
        if filters.matches(&volume, &|| context.engine.volume_in_use(&volume.name)) {
            listed.push(volume);
        }
    }
    let views: Vec<Value> = context
        .engine
        .volume_views(&listed)?
        .into_iter()
        .map(|view| shown(ex, view))
        .collect();
    match ex.flavour {
        Flavour::Compat => ex.json(200, &json!({ "Volumes": views, "Warnings": [] })),
        Flavour::Libpod => ex.json(200, &views),
    }
}

pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let volume = context.engine.volume(name)?;
    let value = view(context, ex, &volume)?;
    ex.json(200, &value)
}

pub fn exists(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    context.engine.volume(name)?;
    ex.empty(204)
}

/// The create body: Docker's `DriverOpts`/`Labels`, libpod's `Options`/`Label` (podman-remote
/// sends both label fields).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    label: Option<BTreeMap<String, String>>,
}

pub fn create(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let body: CreateBody = ex.body_json_or_default()?;
    let name = (!body.name.is_empty()).then_some(body.name);
    let mut labels = body.labels.unwrap_or_default();
    labels.extend(body.label.unwrap_or_default());
    let mut options = body.driver_opts.unwrap_or_default();
    options.extend(body.options.unwrap_or_default());
    let volume = context
        .engine
        .volume_create_with_driver(name, &body.driver, labels, options)?;
    let value = view(context, ex, &volume)?;
    ex.json(201, &value)
}

/// `GET /libpod/volumes/{name}/export` (podman 5's): the volume's content as a tar, what
/// `volume export` writes.
pub fn export(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    // Found first, so that an unknown name is a 404 rather than a cut stream.
    context.engine.volume(name)?;
    ex.send_archive(&[], |out| context.engine.volume_export(name, out))
}

/// `POST /libpod/volumes/{name}/import` (podman 5's): the tar of the body added to the
/// volume's content, as `volume import` adds it.
pub fn import(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    // The import finds the volume before it reads the body.
    let mut body = ex.conn.body();
    let origin = format!("the archive sent for volume {name}");
    context.engine.volume_import(name, &mut body, &origin)?;
    ex.empty(204)
}

pub fn remove(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let force = ex.query_bool("force")?;
    context.engine.volume_remove(name, force)?;
    ex.empty(204)
}

/// `POST /volumes/prune`: the volumes no container uses. Docker's API from 1.42 on takes
/// only anonymous ones unless the `all` filter says otherwise (`docker volume prune -a`);
/// podman's takes every unused one. Filters `label`, `label!`, `until`.
pub fn prune(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let filters = parse_filters(ex)?;
    let mut all = ex.flavour == Flavour::Libpod || !ex.version_at_least(1, 42);
    for value in filters.get("all").into_iter().flatten() {
        all = matches!(value.as_str(), "true" | "1");
    }
    let picked = volume_filters(&filters, FilterUse::Prune, &["all"])?;
    let removed = context.engine.volume_prune_where(&|volume| {
        (all || volume.anonymous) && picked.matches(volume, &|| false)
    })?;
    match ex.flavour {
        Flavour::Compat => ex.json(
            200,
            &json!({
                "VolumesDeleted": pruned_ids(&removed),
                "SpaceReclaimed": reclaimed(&removed),
            }),
        ),
        Flavour::Libpod => ex.json(200, &crate::libpod::prune_reports(&removed)),
    }
}
