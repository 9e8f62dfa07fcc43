//! podman's exit codes: 125 when rpod itself fails, 126 when the command cannot be invoked,
//! 127 when it is not found, otherwise the container's own exit code.

use rpod_engine::EngineError;
use rpod_oci::OciError;

pub const ENGINE_ERROR: i32 = 125;
pub const CANNOT_INVOKE: i32 = 126;
pub const NOT_FOUND: i32 = 127;

/// An error and the exit code it leads to.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: i32, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code,
            error: error.into(),
        }
    }

    /// Whether the engine found no such object (container, image, volume, ...).
    pub fn is_not_found(&self) -> bool {
        self.error
            .downcast_ref::<EngineError>()
            .is_some_and(|e| e.kind() == rpod_engine::ErrorKind::NotFound)
    }

    /// A not-found failure with `context` before its message, as podman words some
    /// commands' lookups (`unable to look up requested container: no container ...`).
    pub fn not_found_in(self, context: impl std::fmt::Display) -> Self {
        match self.is_not_found() {
            true => Failure {
                code: self.code,
                error: self.error.context(context.to_string()),
            },
            false => self,
        }
    }

    /// The message printed after "Error: ": the error and each cause in turn, leaving out
    /// a cause whose text the message already says (typed errors often show their source).
    pub fn message(&self) -> String {
        let mut message = String::new();
        for cause in self.error.chain() {
            let text = cause.to_string();
            // "Error code 14: unable to open database file" says nothing new after
            // "unable to open database file".
            let gist = text.rsplit(": ").next().unwrap_or(&text);
            if text.is_empty() || message.contains(&text) || message.contains(gist) {
                continue;
            }
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        go_os_errors(&message)
    }
}

/// Rust's words for a system error (`No such file or directory (os error 2)`) as Go's, which
/// podman's messages have (`no such file or directory`): the number dropped, the first
/// letter lowered.
pub fn go_os_errors(message: &str) -> String {
    const MARK: &str = " (os error ";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + MARK.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || !after[digits..].starts_with(')') {
            out.push_str(&rest[..at + MARK.len()]);
            rest = after;
            continue;
        }
        // The system's words start after the last `: ` before them.
        let before = &rest[..at];
        let start = before.rfind(": ").map_or(0, |i| i + 2);
        out.push_str(&before[..start]);
        let mut words = before[start..].chars();
        out.extend(words.next().map(|c| c.to_ascii_lowercase()));
        out.push_str(words.as_str());
        rest = &after[digits + 1..];
    }
    out.push_str(rest);
    out
}

/// What a command returns: the exit code, or the failure to report.
pub type Outcome = Result<i32, Failure>;

/// A failure of rpod itself (exit 125) with a message for the user.
pub fn usage(message: impl std::fmt::Display) -> Failure {
    Failure::new(ENGINE_ERROR, anyhow::anyhow!("{message}"))
}

/// The exit code an engine error leads to.
pub fn code_of(error: &EngineError) -> i32 {
    // (A build whose RUN step failed exits with the step's status, as podman's.)
    error.exit_code()
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Self {
        Failure::new(code_of(&error), error)
    }
}

impl From<OciError> for Failure {
    fn from(error: OciError) -> Self {
        EngineError::from(error).into()
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        match error.downcast::<EngineError>() {
            Ok(engine) => engine.into(),
            Err(other) => Failure::new(ENGINE_ERROR, other),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::new(ENGINE_ERROR, error)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Self {
        Failure::new(ENGINE_ERROR, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_errors_read_as_go_words_them() {
        assert_eq!(
            go_os_errors("statfs /x: No such file or directory (os error 2)"),
            "statfs /x: no such file or directory"
        );
        assert_eq!(
            go_os_errors("Permission denied (os error 13); then: Is a directory (os error 21)"),
            "permission denied; then: is a directory"
        );
        // Only the system's own marks: text that merely looks like one stays.
        assert_eq!(go_os_errors("x (os error y)"), "x (os error y)");
        assert_eq!(go_os_errors("Nothing to change"), "Nothing to change");
        let failure = Failure::new(
            ENGINE_ERROR,
            EngineError::io(
                "reading",
                "/etc/x",
                std::io::Error::from_raw_os_error(libc::ENOENT),
            ),
        );
        assert_eq!(
            failure.message(),
            "reading /etc/x: no such file or directory"
        );
    }
}
