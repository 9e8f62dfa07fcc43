//! Errors as the API answers them: a status and Docker's `{"message": …}` body.

use rpod_engine::EngineError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
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
        // Docker's words for the two errors its clients print most.
        let message = match &e {
            EngineError::NoSuchContainer(name) => format!("No such container: {name}"),
            EngineError::NoSuchImage(name) => format!("No such image: {name}"),
            other => other.to_string(),
        };
        ApiError { status, message }
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
}
