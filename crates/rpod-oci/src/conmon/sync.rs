//! Messages on conmon's sync pipe and the runtime's JSON error log.

use std::path::Path;

use serde::Deserialize;

/// One sync-pipe message: `{"data": N}` or `{"data": -1, "message": "..."}`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct SyncMessage {
    pub data: i64,
    #[serde(default)]
    pub message: Option<String>,
}

/// Parse the first line of what conmon sent.
pub fn parse_sync_message(raw: &[u8]) -> Result<SyncMessage, String> {
    let text = String::from_utf8_lossy(raw);
    let line = text.split('\n').next().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("conmon bytes {text:?}: {e}"))
}

#[derive(Debug, Deserialize)]
struct LogLine {
    #[serde(default)]
    level: String,
    #[serde(default)]
    msg: String,
}

/// The most useful message of a runtime's JSON log (one JSON object per line, as runc and
/// crun write it): the last error, or else the last message of any level.
pub fn last_runtime_error(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<LogLine> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<LogLine>(l).ok())
        .filter(|l| !l.msg.trim().is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.level == "error" || l.level == "fatal")
        .or(lines.last())
        .map(|l| l.msg.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pid_and_error_messages() {
        assert_eq!(
            parse_sync_message(b"{\"data\": 1234}\n").unwrap(),
            SyncMessage {
                data: 1234,
                message: None
            }
        );
        let m = parse_sync_message(b"{\"data\": -1, \"message\": \"boom\\nbang\"}\n").unwrap();
        assert_eq!(m.data, -1);
        assert_eq!(m.message.as_deref(), Some("boom\nbang"));
        assert!(parse_sync_message(b"").is_err());
    }

    #[test]
    fn last_error_of_a_multi_line_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oci-log");
        std::fs::write(
            &path,
            "{\"level\":\"warning\",\"msg\":\"w\"}\n{\"level\":\"error\",\"msg\":\"exec: \\\"nope\\\": executable file not found in $PATH\"}\n{\"level\":\"info\",\"msg\":\"later\"}\n",
        )
        .unwrap();
        assert_eq!(
            last_runtime_error(&path).unwrap(),
            "exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(last_runtime_error(&dir.path().join("missing")), None);
    }
}
