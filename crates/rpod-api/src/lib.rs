//! rpod's REST service: the Docker Engine API (what the docker CLI, docker-py and the
//! Docker SDKs speak) and podman's libpod API (what podman-remote speaks), over the engine.
//!
//! One thread per client connection: engine calls block (waits, stops, attaches, runtime
//! calls), and an attached connection is a socket copied by the OCI layer's poll loop, so
//! a thread of its own is what each needs anyway; other connections never wait for it.
#![deny(unsafe_code)]
#![recursion_limit = "256"]

pub mod compat;
pub mod error;
pub mod exchange;
pub mod execs;
pub mod hangup;
pub mod http;
pub mod libpod;
pub mod listen;
pub mod networks;
pub mod registries;
pub mod router;
pub mod service;
pub mod tls;
pub mod tls_client;
pub mod volumes;

pub use error::{ApiError, ApiResult};
pub use listen::{ListenUri, Listener};
pub use service::{serve, Context, ServiceOptions};

/// The Docker API version the service reports; clients use min(theirs, this). 1.42 and
/// later carry the terminal size with exec start (`ConsoleSize`): at 1.41 an `exec -t`
/// starts on a 0x0 terminal until the client's first resize arrives.
pub const DOCKER_API_VERSION: &str = "1.43";
/// The oldest Docker API version answered as such.
pub const MIN_DOCKER_API_VERSION: &str = "1.24";
/// The libpod API version the service reports (podman-remote 4.x needs the header).
pub const LIBPOD_API_VERSION: &str = "4.3.1";

/// Headers on every answer.
pub static COMMON_HEADERS: std::sync::LazyLock<Vec<(&'static str, String)>> =
    std::sync::LazyLock::new(|| {
        vec![
            ("Api-Version", DOCKER_API_VERSION.to_string()),
            ("Libpod-Api-Version", LIBPOD_API_VERSION.to_string()),
            (
                "Server",
                format!("rpod/{} (linux)", env!("CARGO_PKG_VERSION")),
            ),
            ("Ostype", "linux".to_string()),
            ("Docker-Experimental", "false".to_string()),
        ]
    });
