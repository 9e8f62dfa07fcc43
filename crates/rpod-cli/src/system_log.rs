//! `--syslog`: rpod's log messages go to the system log (`/dev/log`) as well as to
//! standard error, as podman's do. Written here rather than taken from a crate: a message is
//! one datagram in the BSD syslog format (RFC 3164) that every local syslog daemon and
//! journald read, a few lines beside tracing's own formatter.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::Arc;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Where the system's syslog daemon (or journald) listens.
pub const SYSTEM_LOG: &str = "/dev/log";

/// The `user` facility (RFC 3164's 1), as it sits in a priority: facility times 8.
const USER_FACILITY: u8 = 1 << 3;

/// A connection to the system log; each formatted event becomes one message.
#[derive(Clone)]
pub struct SystemLog {
    socket: Arc<UnixDatagram>,
    /// `rpod[PID]`, the program and process the messages are from.
    tag: String,
}

impl SystemLog {
    pub fn connect(path: &Path) -> io::Result<SystemLog> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        Ok(SystemLog {
            socket: Arc::new(socket),
            tag: format!("rpod[{}]", std::process::id()),
        })
    }

    fn message(&self, level: Level) -> Message<'_> {
        Message {
            log: self,
            severity: severity(level),
            text: Vec::new(),
        }
    }
}

/// RFC 3164's severities: error, warning, informational, debug.
fn severity(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// One event's text, sent when the formatter is done with it.
pub struct Message<'a> {
    log: &'a SystemLog,
    severity: u8,
    text: Vec<u8>,
}

impl Write for Message<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Message<'_> {
    fn drop(&mut self) {
        let text = self.text.trim_ascii_end();
        if text.is_empty() {
            return;
        }
        let mut datagram = format!(
            "<{}>{} {}: ",
            USER_FACILITY + self.severity,
            chrono::Local::now().format("%b %e %H:%M:%S"),
            self.log.tag
        )
        .into_bytes();
        datagram.extend_from_slice(text);
        // A full or vanished log is not rpod's failure: the message went to stderr too.
        let _ = self.log.socket.send(&datagram);
    }
}

impl<'a> MakeWriter<'a> for SystemLog {
    type Writer = Message<'a>;

    fn make_writer(&'a self) -> Message<'a> {
        self.message(Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Message<'a> {
        self.message(*meta.level())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    /// Each event is one datagram with the user facility's priority for its level, a time
    /// stamp, rpod's tag and the message without tracing's level word.
    #[test]
    fn events_arrive_as_syslog_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let daemon = UnixDatagram::bind(&path).unwrap();
        let log = SystemLog::connect(&path).unwrap();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(log)
                .with_ansi(false)
                .with_target(false)
                .with_level(false)
                .without_time(),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("the disk is full");
            tracing::error!(id = "abc", "the runtime failed");
        });
        let mut buffer = [0u8; 512];
        let mut received = Vec::new();
        for _ in 0..2 {
            let n = daemon.recv(&mut buffer).unwrap();
            received.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
        let tag = format!(" rpod[{}]: ", std::process::id());
        assert!(received[0].starts_with("<12>"), "{received:?}");
        assert!(
            received[0].ends_with(&format!("{tag}the disk is full")),
            "{received:?}"
        );
        assert!(received[1].starts_with("<11>"), "{received:?}");
        assert!(
            received[1].ends_with(&format!("{tag}the runtime failed id=\"abc\"")),
            "{received:?}"
        );
        // `<12>Dec  7 01:02:03 rpod[...]`: RFC 3164's time stamp, 15 characters.
        let stamp = &received[0]["<12>".len()..received[0].find(" rpod[").unwrap()];
        assert_eq!(stamp.len(), 15, "{stamp:?}");
    }

    #[test]
    fn a_missing_log_is_an_error_at_connect() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SystemLog::connect(&dir.path().join("absent")).is_err());
    }
}
