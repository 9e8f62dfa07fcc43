//! One module per command family.

pub mod auto_update;
pub mod completion;
pub mod connection;
pub mod container;
pub mod events;
pub mod filesystem;
pub mod generate;
pub mod image;
pub mod kube;
pub mod logs;
pub mod manifest;
pub mod network;
pub mod observe;
pub mod pod;
pub mod registry;
pub mod runlabel;
pub mod secret;
pub mod select;
pub mod system;
pub mod volume;

/// What an `inspect` command could not show, said as podman says it once the output is
/// printed: each miss but the first as `error inspecting OBJECT: ...`, the first as the
/// command's error (`Error: inspecting OBJECT: ...`, exit 125).
pub(crate) struct InspectMisses {
    /// `object`, or `secret` for `secret inspect`.
    object: &'static str,
    messages: Vec<String>,
}

impl InspectMisses {
    pub fn new(object: &'static str) -> Self {
        InspectMisses {
            object,
            messages: Vec::new(),
        }
    }

    /// A failure of the local engine (`add_said`).
    pub fn add(&mut self, kind: Option<&str>, name: &str, failure: &crate::exit::Failure) {
        self.add_said(kind, name, failure.is_not_found(), failure.message());
    }

    /// A name not found (`kind`: container, image, volume, network, pod, secret, or
    /// `None` for any kind) in podman's words, else another error's own `message`.
    pub fn add_said(&mut self, kind: Option<&str>, name: &str, not_found: bool, message: String) {
        self.messages.push(match (not_found, kind) {
            (false, _) => message,
            (true, None) => format!("no such object: \"{name}\""),
            (true, Some(kind @ ("container" | "volume" | "pod"))) => {
                format!("no such {kind} {name}")
            }
            (true, Some("network")) => format!("network {name}: {message}"),
            (true, Some(_)) => message,
        });
    }

    /// The command's outcome, after its output.
    pub fn outcome(self) -> crate::exit::Outcome {
        let mut messages = self.messages.into_iter();
        let Some(first) = messages.next() else {
            return Ok(0);
        };
        for other in messages {
            eprintln!("error inspecting {}: {other}", self.object);
        }
        Err(crate::exit::usage(format!(
            "inspecting {}: {first}",
            self.object
        )))
    }
}

/// rpod's command line as it was given (a container's and a pod's `CreateCommand`), each
/// word read lossily: a path flag (`--root`, `--cidfile`) need not be UTF-8, and
/// `std::env::args` panics on such a word.
pub(crate) fn command_line() -> Vec<String> {
    std::env::args_os()
        .map(|word| word.to_string_lossy().into_owned())
        .collect()
}

/// Write an archive (`save`, `export`) to `output`, or to standard output when it is not a
/// terminal. A file is written unnamed beside its target and named only once complete: a
/// failed or killed write leaves neither a truncated archive nor a temporary file.
pub(crate) fn write_archive<E: Into<crate::exit::Failure>>(
    output: Option<&std::path::Path>,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<(), E>,
) -> Result<(), crate::exit::Failure> {
    use std::io::IsTerminal;
    match output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            // Named by the file asked for: the unnamed one is rpod's business.
            let mut tmp = rpod_engine::scratch::unnamed_file(dir).map_err(|e| match e {
                rpod_engine::EngineError::Io { source, .. } => {
                    rpod_engine::EngineError::io("creating", path, source)
                }
                other => other,
            })?;
            buffered(&mut tmp, write)?;
            rpod_engine::scratch::replace_with_unnamed(&tmp, path)?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                return Err(crate::exit::usage(
                    "refusing to write an archive to a terminal: use -o FILE or redirect",
                ));
            }
            buffered(std::io::stdout().lock(), write)?;
        }
    }
    Ok(())
}

/// Run `write` on a buffer over `out`, then flush both: a buffer dropped unflushed would
/// lose its last write's error (a full disk), and a truncated archive would be named.
fn buffered<W: std::io::Write, E: Into<crate::exit::Failure>>(
    out: W,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<(), E>,
) -> Result<(), crate::exit::Failure> {
    let mut buffer = std::io::BufWriter::new(out);
    write(&mut buffer).map_err(Into::into)?;
    buffer.into_inner().map_err(|e| e.into_error())?.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes writes until `room` bytes are used, then fails as a full disk does.
    struct SmallDisk {
        room: usize,
    }

    impl std::io::Write for SmallDisk {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            if data.len() > self.room {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            self.room -= data.len();
            Ok(data.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn hundred_bytes(out: &mut dyn std::io::Write) -> rpod_engine::Result<()> {
        out.write_all(&[0u8; 100])
            .map_err(|e| rpod_engine::EngineError::io("writing", "archive", e))
    }

    #[test]
    fn the_last_buffered_write_failing_is_an_error() {
        // Small enough to stay in the buffer until the end.
        assert!(buffered(SmallDisk { room: 10 }, hundred_bytes).is_err());
        assert!(buffered(SmallDisk { room: 100 }, hundred_bytes).is_ok());
    }
}
