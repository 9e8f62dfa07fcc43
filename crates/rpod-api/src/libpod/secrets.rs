//! `/libpod/secrets` (podman-remote's `secret create|ls|inspect|rm`): the store's secrets
//! with podman's file or shell driver. Their data goes in (the request's body) and never out.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::{json, Value};

use rpod_engine::secrets::{SecretFilter, MAX_SECRET_SIZE};

use crate::compat::containers::parse_filters;
use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::service::Context;

/// A query parameter holding a JSON object of strings (podman-remote's `labels`,
/// `driveropts`); none when absent or empty.
fn string_map(ex: &Exchange, name: &str) -> ApiResult<BTreeMap<String, String>> {
    match ex.req.query(name).filter(|t| !t.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            ApiError::bad_request(format!("{name}: not a JSON object of strings: {e}"))
        }),
    }
}

/// `POST /libpod/secrets/create?name=NAME`: the body is the secret; `{"ID": ...}` back.
pub fn create(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let name = ex
        .req
        .query("name")
        .filter(|n| !n.is_empty())
        .map(String::from)
        .ok_or_else(|| ApiError::bad_request("a secret needs a name"))?;
    let driver = ex.req.query("driver").filter(|d| !d.is_empty());
    let driver = context
        .engine
        .secret_driver(driver, &string_map(ex, "driveropts")?)?;
    let labels = string_map(ex, "labels")?;
    let replace = ex.query_bool("replace")?;
    // One byte past the limit at most, so that an oversized secret is refused by size.
    let mut data = Vec::new();
    ex.conn
        .body()
        .take(MAX_SECRET_SIZE as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| ApiError::bad_request(format!("reading the secret: {e}")))?;
    let secret = context
        .engine
        .secret_create(&name, &data, labels, replace, &driver)?;
    ex.json(200, &json!({ "ID": secret.id }))
}

/// `GET /libpod/secrets/json`: every secret passing the `name` and `id` filters.
pub fn list(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let mut filters = Vec::new();
    for (key, values) in parse_filters(ex)? {
        for value in values {
            filters.push(SecretFilter::new(&key, &value)?);
        }
    }
    let listed: Vec<Value> = context
        .engine
        .secrets()?
        .iter()
        .filter(|secret| filters.iter().all(|f| f.matches(secret)))
        .map(rpod_engine::views::secret_info)
        .collect();
    ex.json(200, &listed)
}

/// `GET /libpod/secrets/{name}/json`.
pub fn inspect(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let secret = context.engine.secret(name)?;
    ex.json(200, &rpod_engine::views::secret_info(&secret))
}

/// `DELETE /libpod/secrets/{name}` (with `all`, every secret): 204.
pub fn remove(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    if ex.query_bool("all")? {
        for secret in context.engine.secrets()? {
            context.engine.secret_remove(&secret.id)?;
        }
    } else {
        context.engine.secret_remove(name)?;
    }
    ex.empty(204)
}
