//! Errors as the API answers them: a status and Docker's `{"message": …}` body.

use rpod_engine::EngineError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// The message in Docker's words.
    pub message: String,
    /// The message as podman words it, for libpod requests (podman's errors end in their
    /// cause: "no container with name or ID \"x\" found: no such container").
    pub libpod_message: String,
    /// podman's cause, which podman-remote maps back to its error values (it ignores "no
    /// such container" where that is fine, as after `run --rm`).
    pub cause: String,
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status,
            libpod_message: message.clone(),
            cause: message.clone(),
            message,
        }
    }

    /// podman's cause for this error (see `cause`).
    pub fn with_cause(mut self, cause: &str) -> Self {
        self.libpod_message = format!("{}: {cause}", self.libpod_message);
        self.cause = cause.to_string();
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// An option the service understands but rpod does not provide (yet): refused, never
    /// silently dropped.
    pub fn unsupported(what: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("{what} is not supported by rpod"))
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = e.kind().http_status();
        let libpod_message = e.to_string();
        // Docker's words for the two errors its clients print most.
        let message = match &e {
            EngineError::NoSuchContainer(name) => format!("No such container: {name}"),
            EngineError::NoSuchImage(name) => format!("No such image: {name}"),
            EngineError::NoSuchVolume(name) => format!("get {name}: no such volume"),
            EngineError::NoSuchNetwork(name) => format!("network {name} not found"),
            // The docker CLI takes `run`'s exit code from the words of a failed start, as
            // Docker's runtimes word them: 127 for "executable file not found", 126 for
            // "permission denied" (which podman's words for it say too). crun says the
            // first its own way ("executable file `x` not found in $PATH: No such file or
            // directory").
            EngineError::Oci(rpod_oci::OciError::CommandNotFound { .. })
                if !libpod_message.contains("executable file not found") =>
            {
                format!("{libpod_message}: executable file not found")
            }
            _ => libpod_message.clone(),
        };
        let cause = match &e {
            EngineError::NoSuchContainer(_) => "no such container".to_string(),
            EngineError::NoSuchImage(_) => "image not known".to_string(),
            EngineError::NameInUse { .. } => "that name is already in use".to_string(),
            EngineError::NoSuchVolume(_) => "no such volume".to_string(),
            EngineError::NoSuchPod(_) => "no such pod".to_string(),
            EngineError::NoSuchSecret(_) => "no such secret".to_string(),
            EngineError::NoSuchNetwork(_) => "network not found".to_string(),
            EngineError::VolumeExists(_) => "volume already exists".to_string(),
            EngineError::NetworkExists(_) => "network already exists".to_string(),
            EngineError::VolumeInUse { .. } => "volume is being used".to_string(),
            EngineError::NetworkInUse { .. } => "network is being used".to_string(),
            EngineError::StateInvalid { .. }
            | EngineError::HasDependents { .. }
            | EngineError::RemoveRunning { .. } => "container state improper".to_string(),
            _ => libpod_message.clone(),
        };
        ApiError {
            status,
            message,
            libpod_message,
            cause,
        }
    }
}

impl From<rpod_oci::OciError> for ApiError {
    fn from(e: rpod_oci::OciError) -> Self {
        ApiError::from(EngineError::from(e))
    }
}

impl From<crate::http::BodyError> for ApiError {
    fn from(e: crate::http::BodyError) -> Self {
        match e {
            crate::http::BodyError::TooLarge(_) => ApiError::new(413, e.to_string()),
            crate::http::BodyError::Io(_) => ApiError::bad_request(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_kind_as_the_status() {
        let e = ApiError::from(EngineError::NoSuchContainer("web".into()));
        assert_eq!(
            (e.status, e.message.as_str()),
            (404, "No such container: web")
        );
        let e = ApiError::from(EngineError::InvalidArg("bad".into()));
        assert_eq!(e.status, 400);
        let e = ApiError::from(EngineError::state("abc", "container abc is running"));
        assert_eq!(e.status, 409);
    }

    /// A command that cannot be run is worded so that the docker CLI exits 127 or 126 for
    /// it, as with Docker, whatever words the runtime used; podman's own words stay.
    #[test]
    fn a_failed_start_has_the_words_the_docker_cli_reads() {
        let not_found = rpod_oci::OciError::CommandNotFound {
            runtime: "crun".into(),
            message: "executable file `x` not found in $PATH: No such file or directory".into(),
        };
        let e = ApiError::from(EngineError::from(not_found));
        assert!(
            e.message.contains("executable file not found"),
            "{}",
            e.message
        );
        assert!(!e.libpod_message.contains("executable file not found"));
        let denied = rpod_oci::OciError::PermissionDenied {
            runtime: "crun".into(),
            message: "open executable: Permission denied".into(),
        };
        let e = ApiError::from(EngineError::from(denied));
        assert!(e.message.contains("permission denied"), "{}", e.message);
        let runc = rpod_oci::OciError::CommandNotFound {
            runtime: "runc".into(),
            message: "exec: \"x\": executable file not found in $PATH".into(),
        };
        let e = ApiError::from(EngineError::from(runc));
        assert_eq!(e.message, e.libpod_message);
    }
}
