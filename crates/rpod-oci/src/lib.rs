//! rpod's OCI runtime layer.
//!
//! The [`OciRuntime`] trait mirrors podman's libpod `OCIRuntime` interface. It is a thin wrapper
//! around a real OCI runtime (runc, crun, ...) driven through a per-container monitor (conmon):
//! it never decides whether an operation is legal in the container's current state. The engine
//! decides that, under the per-container lock, and keeps the state.
#![deny(unsafe_code)]

pub mod attach;
pub mod capabilities;
pub mod cgroup_prime;
pub mod conmon;
pub mod detach;
pub mod error;
pub mod exitfile;
pub mod framing;
pub mod http_attach;
pub mod pkginfo;
pub mod process;
pub mod runtime;
pub mod signal;
pub mod types;

pub use conmon::ConmonRuntimeConfig as RuntimeConfig;
pub use conmon::{ConmonRuntime, ConmonRuntimeConfig};
pub use error::{OciError, Result};
/// What any runtime of this crate is made from: the runtime, the monitor, their directories.
/// The names of a log's rotated files and how many there may be (rpod-monitor's).
pub use rpod_monitor_protocol::{rotated_log_path, LOG_FILES_MAX};
pub use runtime::{OciRuntime, PendingCall};
pub use types::*;

/// The runtime the engine uses by default: the OCI runtime driven through a per-container
/// monitor (conmon). The engine knows only this function and the `OciRuntime` trait, so the
/// monitor can change without the engine changing.
pub fn monitored_runtime(config: RuntimeConfig) -> Result<std::sync::Arc<dyn OciRuntime>> {
    Ok(std::sync::Arc::new(ConmonRuntime::new(config)?))
}
