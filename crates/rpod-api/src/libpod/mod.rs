//! Handlers of podman's libpod API (`/v4.x/libpod/...`) where its shapes differ from
//! Docker's: the create request (a SpecGenerator), listings, inspect, images, pulls.
//! Where they agree (start, stop, kill, attach, exec, ...) the Docker handlers serve both.

pub mod containers;
pub mod create;
pub mod images;
pub mod manifests;
pub mod pods;
pub mod secrets;
pub mod spec_out;

/// podman's prune reports (containers, images, volumes): each removal's ID or name and the
/// bytes it took.
pub fn prune_reports(pruned: &[rpod_engine::engine::Pruned]) -> Vec<serde_json::Value> {
    pruned
        .iter()
        .map(|p| serde_json::json!({ "Id": p.id, "Size": p.size }))
        .collect()
}
