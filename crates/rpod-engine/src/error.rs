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

    #[error("no pod with name or ID {0} found: no such pod")]
    NoSuchPod(String),

    #[error("pod name \"{name}\" is in use by pod {id}: that name is already in use")]
    PodNameInUse { name: String, id: String },

    #[error("no volume with name \"{0}\" found: no such volume")]
    NoSuchVolume(String),

    #[error("no secret with name or id \"{0}\": no such secret")]
    NoSuchSecret(String),

    #[error("volume with name {0} already exists: volume already exists")]
    VolumeExists(String),

    #[error("volume {name} is being used by the following container(s): {containers}: volume is being used")]
    VolumeInUse { name: String, containers: String },

    #[error("unable to find network with name or ID {0}: network not found")]
    NoSuchNetwork(String),

    #[error("network name {0} already used: network already exists")]
    NetworkExists(String),

    /// The network's bridge already carries another network's address (see
    /// `network::bridge_owner`).
    #[error("the bridge {bridge} of network {network} is in use by another network: it carries {address}, outside this network's subnets (two stores, or rpod and another tool, gave their networks the same bridge name); remove the other network or create this one with its own --interface-name")]
    BridgeTaken {
        network: String,
        bridge: String,
        address: std::net::Ipv4Addr,
    },

    #[error("default network {0} cannot be removed")]
    DefaultNetwork(String),

    #[error("\"{name}\" has associated containers with it ({containers}). Use -f to forcibly delete containers: network is being used")]
    NetworkInUse { name: String, containers: String },

    #[error("the container name \"{name}\" is already in use by {id}. You have to remove that container to be able to reuse that name: that name is already in use")]
    NameInUse { name: String, id: String },

    /// The container's state does not allow the operation.
    #[error("{message}: container state improper")]
    StateInvalid { id: String, message: String },

    /// Some of a pod's containers failed an operation on the pod: one line each, with its
    /// own reason (which ends with its own kind, `container state improper` or another).
    #[error("{message}")]
    PodMembersFailed { id: String, message: String },

    /// Removing a container that others join (`--network container:` and the like) or
    /// require (`--requires`).
    #[error("container {name} has dependent containers which must be removed before it: {dependents}: container state improper")]
    HasDependents {
        id: String,
        name: String,
        dependents: String,
    },

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

    /// A build's RUN step ended with another status than 0: the build's exit code, as
    /// podman's.
    #[error("{message}")]
    StepFailed { message: String, status: i32 },

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

    /// A path that is not in a container (`cp`).
    #[error("{0}")]
    NoSuchPath(String),

    #[error("{0} is not supported yet by rpod")]
    NotSupported(String),

    /// A registry refused or failed a request (the message names the registry and what
    /// was asked, with the registry's own words).
    #[error("{0}")]
    Registry(String),

    /// The signature policy (policy.json) refused an image coming in.
    #[error("Source image rejected: {0}")]
    PolicyRejected(String),

    /// A registry does not have the image or tag asked for.
    #[error("{0}")]
    RegistryNotFound(String),

    /// The operation found nothing to do (starting a running container, stopping a stopped
    /// one). Front ends treat it as success; the REST service answers 304.
    #[error("{0}")]
    NotModified(String),

    /// Outside data would leave less free space than rpod keeps (`free_space.rs`).
    #[error("{0}")]
    NoSpace(crate::free_space::NoSpace),

    /// A volume plugin refused a request or could not be reached (its own words).
    #[error("volume plugin {plugin}: {message}")]
    VolumePlugin { plugin: String, message: String },
}

/// What kind of failure an error is, for front ends that answer with a status: the REST
/// service maps these to 404, 409, 400 and 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such container, image or session.
    NotFound,
    /// The object's state or a name in use does not allow it.
    Conflict,
    /// The request itself is wrong (a bad value, a broken archive, a command that cannot
    /// run), or asks for what rpod does not support.
    InvalidArgument,
    /// Nothing to do: already in the state asked for.
    NotModified,
    /// Anything else: the system, the runtime, the database.
    Internal,
}

impl ErrorKind {
    /// The HTTP status the Docker and libpod APIs answer with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::InvalidArgument => 400,
            ErrorKind::NotModified => 304,
            ErrorKind::Internal => 500,
        }
    }
}

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NoSuchContainer(_)
            | EngineError::NoSuchImage(_)
            | EngineError::NoSuchVolume(_)
            | EngineError::NoSuchSecret(_)
            | EngineError::NoSuchPod(_)
            | EngineError::NoSuchNetwork(_)
            | EngineError::NoSuchPath(_)
            | EngineError::RegistryNotFound(_) => ErrorKind::NotFound,
            EngineError::VolumeExists(_)
            | EngineError::VolumeInUse { .. }
            | EngineError::NetworkExists(_)
            | EngineError::NetworkInUse { .. }
            | EngineError::DefaultNetwork(_)
            | EngineError::BridgeTaken { .. } => ErrorKind::Conflict,
            EngineError::NameInUse { .. }
            | EngineError::PodNameInUse { .. }
            | EngineError::StateInvalid { .. }
            | EngineError::PodMembersFailed { .. }
            | EngineError::HasDependents { .. }
            | EngineError::RemoveRunning { .. }
            | EngineError::ImageInUse { .. } => ErrorKind::Conflict,
            EngineError::InvalidArg(_)
            | EngineError::CannotInvoke(_)
            | EngineError::StepFailed { .. }
            | EngineError::BadArchive { .. }
            | EngineError::NotSupported(_) => ErrorKind::InvalidArgument,
            EngineError::Oci(error) => match error {
                OciError::CtrStateInvalid { .. } => ErrorKind::Conflict,
                OciError::InvalidArg(_)
                | OciError::NotSupported { .. }
                | OciError::Unavailable { .. }
                | OciError::CommandNotFound { .. }
                | OciError::PermissionDenied { .. }
                | OciError::ExecutableNotFound { .. } => ErrorKind::InvalidArgument,
                _ => ErrorKind::Internal,
            },
            EngineError::NotModified(_) => ErrorKind::NotModified,
            EngineError::Io { .. }
            | EngineError::Db { .. }
            | EngineError::Registry(_)
            | EngineError::PolicyRejected(_)
            | EngineError::NoSpace(_)
            | EngineError::VolumePlugin { .. } => ErrorKind::Internal,
        }
    }

    /// The exit code podman gives a command that fails with this error: 127 when the
    /// container's command is not found, 126 when it cannot be invoked (a user that does
    /// not exist, no permission), a failed build step's own status, else 125 (rpod itself
    /// failed).
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Oci(OciError::CommandNotFound { .. }) => 127,
            EngineError::Oci(OciError::PermissionDenied { .. }) | EngineError::CannotInvoke(_) => {
                126
            }
            EngineError::StepFailed { status, .. } if (1..=255).contains(status) => *status,
            _ => 125,
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// `error`, or the refusal of rpod's free-space reserve it carries; `otherwise` makes
    /// the error for anything else.
    pub fn from_io_or(
        error: std::io::Error,
        otherwise: impl FnOnce(std::io::Error) -> EngineError,
    ) -> Self {
        match crate::free_space::NoSpace::within(&error) {
            Some(refusal) => EngineError::NoSpace(refusal),
            None => otherwise(error),
        }
    }

    /// An I/O error that carries a refusal of the free-space reserve becomes that refusal.
    pub fn or_no_space(self) -> Self {
        match self {
            EngineError::Io {
                source,
                action,
                path,
            } => EngineError::from_io_or(source, |source| EngineError::Io {
                action,
                path,
                source,
            }),
            other => other,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_http_statuses() {
        let status = |e: EngineError| e.kind().http_status();
        assert_eq!(status(EngineError::NoSuchContainer("x".into())), 404);
        assert_eq!(status(EngineError::NoSuchImage("x".into())), 404);
        assert_eq!(
            status(EngineError::NameInUse {
                name: "n".into(),
                id: "i".into()
            }),
            409
        );
        assert_eq!(status(EngineError::state("i", "not running")), 409);
        assert_eq!(status(EngineError::InvalidArg("bad".into())), 400);
        assert_eq!(status(EngineError::NotModified("running".into())), 304);
        assert_eq!(status(EngineError::NotSupported("x".into())), 400);
        assert_eq!(
            status(EngineError::io(
                "reading",
                "/x",
                std::io::Error::other("disk")
            )),
            500
        );
        assert_eq!(
            status(EngineError::Oci(OciError::CtrStateInvalid {
                message: "gone".into()
            })),
            409
        );
    }
}
