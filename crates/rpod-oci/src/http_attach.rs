//! Attach and exec over a hijacked HTTP connection (the REST service's attach and exec
//! start): the container's output goes to the connection, in Docker's multiplexed frames
//! when there is no terminal and raw when there is one, and the connection's bytes go to the
//! container's stdin. The copy itself is the one poll loop of [`crate::attach`].

use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::framing::multiplexed;
use crate::types::{AttachStreams, HttpAttachStreams, HttpPreamble};
use crate::{OciError, Result};

/// A writer of its own on the connection (a duplicate descriptor).
fn writer(connection: &OwnedFd) -> Result<std::fs::File> {
    connection
        .try_clone()
        .map(std::fs::File::from)
        .map_err(|e| OciError::io("duplicating", "(HTTP connection)", e))
}

/// The attach streams of a hijacked connection: framing follows `terminal`, as the docker
/// CLI expects (it decides from the container's `Tty`, not from the content type).
pub fn connection_streams(
    connection: &Arc<OwnedFd>,
    wanted: HttpAttachStreams,
    terminal: bool,
) -> Result<AttachStreams> {
    let (output, error): (Box<dyn Write + Send>, Box<dyn Write + Send>) = if terminal {
        (Box::new(writer(connection)?), Box::new(writer(connection)?))
    } else {
        let (out, err) = multiplexed(writer(connection)?);
        (Box::new(out), Box::new(err))
    };
    let input: Option<Box<dyn crate::types::AttachInput>> = if wanted.stdin {
        Some(Box::new(writer(connection)?))
    } else {
        None
    };
    Ok(AttachStreams {
        output: Some(output),
        error: Some(error),
        input,
        attach_output: wanted.stdout,
        attach_error: wanted.stderr,
        attach_input: wanted.stdin,
        hangup: Some(connection.clone()),
    })
}

/// Write the preamble (the response head, past logs) before the stream's first byte.
pub fn write_preamble(connection: &OwnedFd, preamble: Option<HttpPreamble>) -> Result<()> {
    let Some(preamble) = preamble else {
        return Ok(());
    };
    let mut out = std::io::BufWriter::new(writer(connection)?);
    preamble(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| OciError::io("writing to", "(HTTP connection)", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    #[test]
    fn without_a_terminal_output_is_framed_and_with_one_it_is_raw() {
        for terminal in [false, true] {
            let (ours, mut theirs) = UnixStream::pair().unwrap();
            let connection = Arc::new(OwnedFd::from(ours));
            let wanted = HttpAttachStreams {
                stdin: false,
                stdout: true,
                stderr: true,
            };
            let mut streams = connection_streams(&connection, wanted, terminal).unwrap();
            write_preamble(
                &connection,
                Some(Box::new(|w: &mut dyn Write| w.write_all(b"HEAD\r\n"))),
            )
            .unwrap();
            streams.output.as_mut().unwrap().write_all(b"out").unwrap();
            streams.error.as_mut().unwrap().write_all(b"err").unwrap();
            drop(streams);
            drop(connection);
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).unwrap();
            let expected: &[u8] = if terminal {
                b"HEAD\r\nouterr"
            } else {
                b"HEAD\r\n\x01\x00\x00\x00\x00\x00\x00\x03out\x02\x00\x00\x00\x00\x00\x00\x03err"
            };
            assert_eq!(got, expected, "terminal: {terminal}");
        }
    }
}
