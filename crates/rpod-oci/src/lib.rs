//! rpod's OCI runtime layer.
//!
//! The [`OciRuntime`] trait mirrors podman's libpod `OCIRuntime` interface. It is a thin wrapper
//! around a real OCI runtime (runc, crun, ...) driven through a per-container monitor (conmon):
//! it never decides whether an operation is legal in the container's current state. The engine
//! decides that, under the per-container lock, and keeps the state.
#![deny(unsafe_code)]

pub mod attach;
pub mod capabilities;
pub mod conmon;
pub mod detach;
pub mod error;
pub mod exitfile;
pub mod pkginfo;
pub mod process;
pub mod runtime;
pub mod signal;
pub mod types;

pub use conmon::{ConmonRuntime, ConmonRuntimeConfig};
pub use error::{OciError, Result};
pub use runtime::OciRuntime;
pub use types::*;
