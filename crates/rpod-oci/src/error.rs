//! The typed error of the OCI layer.
//!
//! Variants carry what a person needs to act on: the container id, the path involved, the
//! runtime's own message.

use std::path::PathBuf;

pub type Result<T, E = OciError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The runtime refused with a permission problem (podman: "OCI permission denied").
    /// The CLI maps this to exit code 126.
    #[error("{runtime}: {message}: OCI permission denied")]
    PermissionDenied { runtime: String, message: String },

    /// The runtime could not find the command to run. The CLI maps this to exit code 127.
    #[error("{runtime}: {message}: OCI runtime attempted to invoke a command that was not found")]
    CommandNotFound { runtime: String, message: String },

    /// Any other failure reported by the runtime, with its own message.
    #[error("{runtime}: {message}: OCI runtime error")]
    Runtime { runtime: String, message: String },

    /// A direct runtime invocation failed.
    #[error("`{command}` failed: {status}{}", stderr_suffix(.stderr))]
    RuntimeCommand {
        command: String,
        status: String,
        stderr: String,
    },

    /// The container is not in a state where the operation makes sense (e.g. it already exited).
    #[error("{message}: container state improper")]
    CtrStateInvalid { message: String },

    /// conmon itself failed.
    #[error("conmon failed for container {id}: {message}")]
    Conmon { id: String, message: String },

    /// An executable (runtime or conmon) could not be found.
    #[error("no valid executable found for {what} {name:?}: {detail}")]
    ExecutableNotFound {
        what: &'static str,
        name: String,
        detail: String,
    },

    /// The user typed the detach keys; the container keeps running.
    #[error("detached from container")]
    Detached,

    /// The session was ended from our side (a `CancelHandle`).
    #[error("the attach session was cancelled")]
    Cancelled,

    /// A caller passed something that cannot work.
    #[error("{0}: invalid argument")]
    InvalidArg(String),

    /// Waiting for something (an exit file, a process to die) took too long.
    #[error("{0}")]
    Timeout(String),

    /// The operation exists in the seed interface but rpod does not implement it yet.
    #[error("{operation} is not supported yet by rpod's {runtime} runtime layer")]
    NotSupported {
        operation: &'static str,
        runtime: String,
    },

    /// The operation is implemented but this host cannot do it (a runtime built without a
    /// feature, a missing helper); the reason says what to do.
    #[error("{operation} is not available with {runtime}: {reason}")]
    Unavailable {
        operation: &'static str,
        runtime: String,
        reason: String,
    },

    /// A file-system or process operation failed.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A syscall failed.
    #[error("{action}: {source}")]
    Sys {
        action: String,
        #[source]
        source: nix::Error,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!(": {trimmed}")
    }
}

impl OciError {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        OciError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub fn sys(action: impl Into<String>, source: nix::Error) -> Self {
        OciError::Sys {
            action: action.into(),
            source,
        }
    }

    /// A runtime's failure with a note after its own message (what rpod knows that the
    /// runtime did not say); other errors are returned as they are.
    pub fn with_note(mut self, note: &str) -> Self {
        if let OciError::PermissionDenied { message, .. }
        | OciError::CommandNotFound { message, .. }
        | OciError::Runtime { message, .. }
        | OciError::Conmon { message, .. } = &mut self
        {
            message.push_str(&format!(" ({note})"));
        }
        self
    }

    /// Classify a runtime's error text the way libpod does: permission problems, missing
    /// commands, and everything else. Only the matching line is kept, so that a long runtime
    /// log does not drown the useful part.
    pub fn from_runtime_message(runtime: &str, message: &str) -> Self {
        let runtime = runtime.to_string();
        let find = |patterns: &[&str]| {
            message
                .lines()
                .map(str::trim)
                .find(|line| {
                    let lower = line.to_ascii_lowercase();
                    patterns.iter().any(|p| lower.contains(p))
                })
                .map(str::to_string)
        };
        if let Some(line) = find(&["permission denied", "operation not permitted"]) {
            return OciError::PermissionDenied {
                runtime,
                message: line,
            };
        }
        if let Some(line) = find(&[
            "executable file not found in",
            "no such file or directory",
            "open executable",
        ]) {
            return OciError::CommandNotFound {
                runtime,
                message: line,
            };
        }
        OciError::Runtime {
            runtime,
            message: message.trim().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_follows_the_runtimes_message_and_keeps_its_kind() {
        let noted = OciError::from_runtime_message("crun", "open `x`: Permission denied")
            .with_note("a hint");
        assert!(matches!(noted, OciError::PermissionDenied { .. }));
        assert_eq!(
            noted.to_string(),
            "crun: open `x`: Permission denied (a hint): OCI permission denied"
        );
        // Not a runtime's failure: left as it is.
        let timeout = OciError::Timeout("waited".into()).with_note("a hint");
        assert_eq!(timeout.to_string(), "waited");
    }
}
