//! The engine's typed error. Each variant says what a person needs to act on.

use std::path::PathBuf;

use rpod_oci::OciError;

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no container with name or ID \"{0}\" found: no such container")]
    NoSuchContainer(String),

    #[error("{0}: image not known")]
    NoSuchImage(String),

    #[error("the container name \"{name}\" is already in use by {id}. You have to remove that container to be able to reuse that name: that name is already in use")]
    NameInUse { name: String, id: String },

    /// The container's state does not allow the operation.
    #[error("{message}: container state improper")]
    StateInvalid { id: String, message: String },

    /// Removing a running or paused container without force.
    #[error("cannot remove container {id} as it is {state} - running or paused containers cannot be removed without force: container state improper")]
    RemoveRunning { id: String, state: String },

    #[error("image is in use by a container: {image} used by {containers}")]
    ImageInUse { image: String, containers: String },

    #[error("{0}")]
    InvalidArg(String),

    /// The container's command cannot be run as asked: an unknown user or group, a
    /// working directory that is not a directory (podman's exit code 126).
    #[error("{0}")]
    CannotInvoke(String),

    /// An image archive or tarball that cannot be read.
    #[error("{path}: {message}")]
    BadArchive { path: String, message: String },

    #[error(transparent)]
    Oci(#[from] OciError),

    #[error("{action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}", db_message(path, source))]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("{0} is not supported yet by rpod")]
    NotSupported(String),
}

impl EngineError {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub fn state(id: &str, message: impl Into<String>) -> Self {
        EngineError::StateInvalid {
            id: id.to_string(),
            message: message.into(),
        }
    }
}

/// "state database PATH: what SQLite says", without the path twice when SQLite names it.
fn db_message(path: &std::path::Path, source: &rusqlite::Error) -> String {
    let shown = path.display().to_string();
    let text = source.to_string();
    let text = text
        .strip_suffix(&format!(": {shown}"))
        .unwrap_or(&text)
        .to_string();
    format!("state database {shown}: {text}")
}
