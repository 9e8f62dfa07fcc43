//! From a request's path to its handler: the API version prefix (`/v1.41`, `/v4.3.1`) is
//! optional, `/libpod` selects podman's API, and names in paths are ids, id prefixes or
//! names (image names may hold slashes).

use crate::compat;
use crate::error::{ApiError, ApiResult};
use crate::exchange::{Exchange, Flavour};
use crate::http::{Connection, Request};
use crate::registries;
use crate::service::Context;

/// Split `/v1.41/libpod/containers/x/json` into its version, flavour and segments.
pub fn split_path(path: &str) -> (Option<(u32, u32)>, Flavour, Vec<String>) {
    let mut segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let mut version = None;
    if let Some(first) = segments.first() {
        if let Some(number) = first.strip_prefix('v') {
            let numbers: Option<Vec<u32>> = number.split('.').map(|p| p.parse().ok()).collect();
            if let Some(numbers) = numbers {
                version = Some((numbers[0], numbers.get(1).copied().unwrap_or(0)));
                segments.remove(0);
            }
        }
    }
    let flavour = if segments.first().is_some_and(|s| s == "libpod") {
        segments.remove(0);
        Flavour::Libpod
    } else {
        Flavour::Compat
    };
    (version, flavour, segments)
}

/// Handle one request; whether the connection can carry another.
pub fn handle(context: &Context, request: Request, conn: &mut Connection) -> bool {
    let keep_alive = request.keep_alive();
    let (version, flavour, segments) = split_path(&request.path);
    let method = request.method.clone();
    let mut exchange = Exchange::new(request, conn, flavour, version);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let result = dispatch(context, &mut exchange, &method, &segments);
    if let Err(error) = result {
        tracing::debug!(
            status = error.status,
            "{method} {}: {}",
            exchange.req.path,
            error.message
        );
        if exchange.responded() || exchange.error(&error).is_err() {
            exchange.close = true;
        }
    }
    let close = exchange.close;
    drop(exchange);
    keep_alive && !close && conn.finish_body()
}

fn dispatch(context: &Context, ex: &mut Exchange, method: &str, path: &[&str]) -> ApiResult<()> {
    // A browser's preflight, before a cross-origin request: the CORS headers say what may
    // come (every answer carries them).
    if method == "OPTIONS" && crate::http::cors_enabled() {
        return ex.empty(200);
    }
    if ex.flavour == Flavour::Libpod {
        if let Some(result) = dispatch_libpod(context, ex, method, path) {
            return result;
        }
    }
    use crate::{networks, volumes};
    use compat::{container_files, container_observe, containers, exec, images, system};
    match (method, path) {
        ("GET" | "HEAD", ["_ping"]) => system::ping(ex),
        ("GET", ["version"]) => system::version(context, ex),
        ("GET", ["info"]) => system::info(context, ex),
        ("GET", ["events"]) => system::events(context, ex),
        ("GET", ["system", "df"]) => system::df(context, ex),
        ("POST", ["build", "prune"]) => system::build_prune(context, ex),
        ("POST", ["build"]) => compat::build::build(context, ex),

        ("POST", ["containers", "create"]) => containers::create(context, ex),
        ("GET", ["containers", "json"]) => containers::list(context, ex),
        ("GET", ["containers", name, "json"]) => containers::inspect(context, ex, name),
        ("GET", ["containers", name, "exists"]) => containers::exists(context, ex, name),
        ("POST", ["containers", name, "start"]) => containers::start(context, ex, name),
        ("POST", ["containers", name, "stop"]) => containers::stop(context, ex, name),
        ("POST", ["containers", name, "restart"]) => containers::restart(context, ex, name),
        ("POST", ["containers", name, "kill"]) => containers::kill(context, ex, name),
        ("POST", ["containers", name, "pause"]) => containers::pause(context, ex, name),
        ("POST", ["containers", name, "unpause"]) => containers::unpause(context, ex, name),
        ("POST", ["containers", name, "wait"]) => containers::wait(context, ex, name),
        ("POST", ["containers", name, "attach"]) => containers::attach(context, ex, name),
        ("POST", ["containers", name, "resize"]) => containers::resize(context, ex, name),
        ("GET", ["containers", name, "logs"]) => containers::logs(context, ex, name),
        ("DELETE", ["containers", name]) => containers::remove(context, ex, name),
        ("POST", ["containers", "prune"]) => containers::prune(context, ex),
        ("POST", ["containers", name, "rename"]) => containers::rename(context, ex, name),
        ("POST", ["containers", name, "update"]) => containers::update(context, ex, name),
        ("GET", ["containers", name, "top"]) => container_observe::top(context, ex, name),
        ("GET", ["containers", name, "stats"]) => container_observe::stats(context, ex, name),
        ("GET", ["containers", name, "changes"]) => container_files::changes(context, ex, name),
        ("GET", ["containers", name, "export"]) => container_files::export(context, ex, name),
        ("HEAD", ["containers", name, "archive"]) => {
            container_files::archive_stat(context, ex, name)
        }
        ("GET", ["containers", name, "archive"]) => container_files::archive_get(context, ex, name),
        ("PUT", ["containers", name, "archive"]) => container_files::archive_put(context, ex, name),

        ("POST", ["containers", name, "exec"]) => exec::create(context, ex, name),
        ("POST", ["exec", id, "start"]) => exec::start(context, ex, id),
        ("POST", ["exec", id, "resize"]) => exec::resize(context, ex, id),
        ("GET", ["exec", id, "json"]) => exec::inspect(context, ex, id),

        ("GET", ["images", "json"]) => images::list(context, ex),
        ("POST", ["images", "create"]) => images::create(context, ex),
        ("POST", ["images", "load"]) => images::load(context, ex),
        ("GET", ["images", "get"]) => images::get(context, ex, None),
        ("GET", ["images", name @ .., "get"]) if !name.is_empty() => {
            images::get(context, ex, Some(&name.join("/")))
        }
        ("GET", ["images", name @ .., "json"]) if !name.is_empty() => {
            images::inspect(context, ex, &name.join("/"))
        }
        ("GET", ["images", name @ .., "history"]) if !name.is_empty() => {
            images::history(context, ex, &name.join("/"))
        }
        ("POST", ["images", "prune"]) => images::prune(context, ex),
        ("POST", ["commit"]) => images::commit(context, ex),
        ("POST", ["images", name @ .., "tag"]) if !name.is_empty() => {
            images::tag(context, ex, &name.join("/"))
        }
        ("DELETE", ["images", name @ ..]) if !name.is_empty() => {
            images::remove(context, ex, &name.join("/"))
        }
        ("GET", ["images", "search"]) => registries::docker_search(context, ex),
        ("POST", ["auth"]) => registries::auth(ex),
        ("POST", ["images", name @ .., "push"]) if !name.is_empty() => {
            registries::docker_push(context, ex, &name.join("/"))
        }
        ("GET", ["networks"]) => networks::list(context, ex),
        ("POST", ["networks", "create"]) => networks::create(context, ex),
        ("POST", ["networks", "prune"]) => networks::prune(context, ex),
        ("GET", ["networks", name]) => networks::inspect(context, ex, name),
        ("DELETE", ["networks", name]) => networks::remove(context, ex, name),
        ("POST", ["networks", name, "connect"]) => networks::connect(context, ex, name),
        ("POST", ["networks", name, "disconnect"]) => networks::disconnect(context, ex, name),

        ("GET", ["volumes"]) => volumes::list(context, ex),
        ("POST", ["volumes", "create"]) => volumes::create(context, ex),
        ("POST", ["volumes", "prune"]) => volumes::prune(context, ex),
        ("GET", ["volumes", name]) => volumes::inspect(context, ex, name),
        ("DELETE", ["volumes", name]) => volumes::remove(context, ex, name),
        // Docker's managed plugins (`docker plugin ...`): rpod has none to list (its volume
        // plugins are rpod.conf's, as dockerd's legacy plugins, which `docker plugin ls`
        // does not list either); the rest is refused.
        ("GET", ["plugins"]) if ex.flavour == Flavour::Compat => {
            ex.json(200, &serde_json::json!([]))
        }
        (_, ["plugins", ..]) if ex.flavour == Flavour::Compat => Err(ApiError::new(
            501,
            "managed plugins (docker plugin install) are not supported by rpod; volume \
             plugins are named in rpod.conf's [engine.volume_plugins]",
        )),
        // Swarm mode: rpod runs none (`info` says `inactive`). Joining or making one is
        // refused; the rest answer as a daemon outside a swarm does, so that the docker
        // CLI prints dockerd's words (`docker secret ls`, `docker service ls`, ...).
        ("POST", ["swarm", "init" | "join"]) if ex.flavour == Flavour::Compat => Err(ApiError::new(
            501,
            "swarm mode is not supported by rpod (it runs containers on this machine only)",
        )),
        (_, ["swarm" | "services" | "nodes" | "secrets" | "configs" | "tasks", ..])
            if ex.flavour == Flavour::Compat =>
        {
            Err(ApiError::new(
                503,
                "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.",
            ))
        }
        _ => Err(ApiError::not_found(format!(
            "no such endpoint: {method} {}",
            ex.req.path
        ))),
    }
}

/// The libpod routes whose shapes differ from Docker's; `None` for the shared ones.
fn dispatch_libpod(
    context: &Context,
    ex: &mut Exchange,
    method: &str,
    path: &[&str],
) -> Option<ApiResult<()>> {
    use crate::libpod::{containers, images, manifests, pods, secrets};
    Some(match (method, path) {
        ("POST", ["pods", "create"]) => pods::create(context, ex),
        ("POST", ["play", "kube"] | ["kube", "play"]) => pods::play_kube(context, ex),
        ("DELETE", ["play", "kube"] | ["kube", "play"]) => pods::down_kube(context, ex),
        ("GET", ["pods", "json"]) => pods::list(context, ex),
        ("POST", ["pods", "prune"]) => pods::prune(context, ex),
        ("GET", ["pods", "stats"]) => pods::stats(context, ex),
        ("GET", ["pods", name, "top"]) => pods::top(context, ex, name),
        ("GET", ["pods", name, "json"]) => pods::inspect(context, ex, name),
        ("GET", ["pods", name, "exists"]) => pods::exists(context, ex, name),
        ("POST", ["pods", name, "start"]) => pods::start(context, ex, name),
        ("POST", ["pods", name, "stop"]) => pods::stop(context, ex, name),
        ("POST", ["pods", name, "restart"]) => pods::restart(context, ex, name),
        ("POST", ["pods", name, "kill"]) => pods::kill(context, ex, name),
        ("POST", ["pods", name, "pause"]) => pods::pause(context, ex, name),
        ("POST", ["pods", name, "unpause"]) => pods::unpause(context, ex, name),
        ("DELETE", ["pods", name]) => pods::remove(context, ex, name),
        ("GET", ["info"]) => context
            .engine
            .info()
            .map_err(ApiError::from)
            .and_then(|info| ex.json(200, &info)),
        ("POST", ["containers", "create"]) => containers::create(context, ex),
        ("GET", ["containers", "json"]) => containers::list(context, ex),
        ("GET", ["containers", name, "json"]) => containers::inspect(context, ex, name),
        ("POST", ["system", "prune"]) => compat::system::libpod_prune(context, ex),
        ("GET", ["containers", "stats"]) => compat::container_observe::libpod_stats(context, ex),
        ("POST", ["containers", name, "update"]) => containers::update(context, ex, name),
        ("GET", ["containers", name, "healthcheck"]) => containers::healthcheck(context, ex, name),
        ("POST", ["containers", name, "checkpoint"]) => containers::checkpoint(context, ex, name),
        ("POST", ["containers", name, "restore"]) => containers::restore(context, ex, name),
        ("POST", ["containers", name, "init"]) => containers::init(context, ex, name),
        ("GET", ["generate", "kube"] | ["kube", "generate"]) => pods::generate_kube(context, ex),
        ("GET", ["generate", name, "systemd"]) => containers::generate_systemd(context, ex, name),
        ("POST", ["containers", name, "shouldrestart"]) => {
            containers::should_restart(context, ex, name)
        }
        ("POST", ["manifests", rest @ ..]) if rest.contains(&"registry") => {
            let at = rest.iter().position(|s| *s == "registry").unwrap_or(0);
            let (name, destination) = (rest[..at].join("/"), rest[at + 1..].join("/"));
            manifests::push(context, ex, &name, &destination)
        }
        ("POST", ["manifests", name @ ..]) if !name.is_empty() => {
            manifests::create(context, ex, &name.join("/"))
        }
        ("PUT", ["manifests", name @ ..]) if !name.is_empty() => {
            manifests::modify(context, ex, &name.join("/"))
        }
        ("GET", ["manifests", name @ .., "json"]) if !name.is_empty() => {
            manifests::inspect(context, ex, &name.join("/"))
        }
        ("GET", ["manifests", name @ .., "exists"]) if !name.is_empty() => {
            manifests::exists(context, ex, &name.join("/"))
        }
        ("DELETE", ["manifests", name @ ..]) if !name.is_empty() => {
            manifests::delete(context, ex, &name.join("/"))
        }
        ("GET", ["images", "json"]) => images::list(context, ex),
        ("POST", ["images", "pull"]) => registries::libpod_pull(context, ex),
        ("GET", ["images", "search"]) => registries::libpod_search(context, ex),
        ("POST", ["images", name @ .., "push"]) if !name.is_empty() => {
            registries::libpod_push(context, ex, &name.join("/"))
        }
        ("POST", ["images", "import"]) => crate::compat::images::libpod_import(context, ex),
        ("POST", ["images", "load"]) => images::load(context, ex),
        ("GET", ["images", name @ .., "exists"]) if !name.is_empty() => {
            images::exists(context, ex, &name.join("/"))
        }
        ("GET", ["images", name @ .., "json"]) if !name.is_empty() => {
            images::inspect(context, ex, &name.join("/"))
        }
        ("DELETE", ["images", "remove"]) => images::remove_many(context, ex),
        ("GET", ["images", "export"]) => images::export(context, ex, None),
        ("GET", ["images", name @ .., "changes"]) if !name.is_empty() => {
            compat::container_files::image_changes(context, ex, &name.join("/"))
        }
        ("GET", ["images", name @ .., "tree"]) if !name.is_empty() => {
            images::tree(context, ex, &name.join("/"))
        }
        ("GET", ["images", name @ .., "get"]) if !name.is_empty() => {
            images::export(context, ex, Some(&name.join("/")))
        }
        ("POST", ["images", name @ .., "untag"]) if !name.is_empty() => {
            images::untag(context, ex, &name.join("/"))
        }
        ("DELETE", ["images", name @ ..]) if !name.is_empty() => {
            images::remove(context, ex, &name.join("/"))
        }
        ("GET", ["networks", "json"]) => crate::networks::list(context, ex),
        ("GET", ["networks", name, "json"]) => crate::networks::inspect(context, ex, name),
        ("GET", ["networks", name, "exists"]) => crate::networks::exists(context, ex, name),
        ("GET", ["volumes", "json"]) => crate::volumes::list(context, ex),
        ("GET", ["volumes", name, "json"]) => crate::volumes::inspect(context, ex, name),
        ("GET", ["volumes", name, "exists"]) => crate::volumes::exists(context, ex, name),
        ("GET", ["volumes", name, "export"]) => crate::volumes::export(context, ex, name),
        ("POST", ["volumes", name, "import"]) => crate::volumes::import(context, ex, name),
        ("POST", ["secrets", "create"]) => secrets::create(context, ex),
        ("GET", ["secrets", "json"]) => secrets::list(context, ex),
        ("GET", ["secrets", name, "json"]) => secrets::inspect(context, ex, name),
        ("DELETE", ["secrets", name]) => secrets::remove(context, ex, name),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_flavours_are_split_off() {
        let (v, f, s) = split_path("/v1.41/containers/json");
        assert_eq!(
            (v, f, s),
            (
                Some((1, 41)),
                Flavour::Compat,
                vec!["containers".to_string(), "json".into()]
            )
        );
        let (v, f, s) = split_path("/v4.3.1/libpod/_ping");
        assert_eq!(
            (v, f, s),
            (Some((4, 3)), Flavour::Libpod, vec!["_ping".to_string()])
        );
        let (v, f, s) = split_path("/_ping");
        assert_eq!(
            (v, f, s),
            (None, Flavour::Compat, vec!["_ping".to_string()])
        );
        // A name that starts with "v" is not a version.
        let (v, _, s) = split_path("/volumes/x");
        assert_eq!(v, None);
        assert_eq!(s[0], "volumes");
    }
}
