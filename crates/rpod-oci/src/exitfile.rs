//! Exit files written by the monitor: `<exit dir>/<container id>` holding the decimal exit
//! status without a newline.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::{OciError, Result};

/// How often the exit file is looked for while waiting.
const EXIT_FILE_POLL: Duration = Duration::from_millis(5);

/// An exit file's content and the time it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitRecord {
    pub code: i32,
    pub finished: SystemTime,
}

/// Read an exit file if it exists.
pub fn read_exit_file(path: &Path) -> Result<Option<ExitRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(OciError::io("reading exit file", path, e)),
    };
    let code = text.trim().parse::<i32>().map_err(|e| {
        OciError::InvalidArg(format!(
            "exit file {} holds {text:?}, not an exit code ({e})",
            path.display()
        ))
    })?;
    let finished = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| SystemTime::now());
    Ok(Some(ExitRecord { code, finished }))
}

/// Wait for an exit file to appear, for at most `timeout`, giving up early when `give_up`
/// says so (e.g. the monitor died and will never write it).
pub fn wait_exit_file(
    path: &Path,
    timeout: Duration,
    mut give_up: impl FnMut() -> bool,
) -> Result<Option<ExitRecord>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(record) = read_exit_file(path)? {
            return Ok(Some(record));
        }
        if give_up() {
            // One last look: the writer may have finished just before it went away.
            return read_exit_file(path);
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(EXIT_FILE_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_codes_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        assert_eq!(read_exit_file(&path).unwrap(), None);
        std::fs::write(&path, "42").unwrap();
        assert_eq!(read_exit_file(&path).unwrap().unwrap().code, 42);
        std::fs::write(&path, "-1").unwrap();
        assert_eq!(read_exit_file(&path).unwrap().unwrap().code, -1);
        std::fs::write(&path, "x").unwrap();
        assert!(read_exit_file(&path).is_err());
    }

    #[test]
    fn waiting_stops_when_told_to_give_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        let got = wait_exit_file(&path, Duration::from_secs(60), || true).unwrap();
        assert_eq!(got, None);
    }
}
