//! conmon's attach socket (SOCK_SEQPACKET): output records are one stream byte (2 stdout,
//! 3 stderr) and up to 8192 bytes of payload; input is raw bytes, at most 32 KiB per send.
//! Also the ctl fifo used for terminal resizes.

use std::io::{BufWriter, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::socket::{
    connect, recv, send, shutdown, socket, AddressFamily, MsgFlags, Shutdown, SockFlag, SockType,
    UnixAddr,
};
use nix::sys::stat::Mode;

use crate::detach::{DetachMatcher, DetachStep};
use crate::types::{AttachStreams, TerminalSize};
use crate::{OciError, Result};

/// conmon reads at most this much per input record.
const INPUT_CHUNK: usize = 32 * 1024;
/// Output records are at most 8193 bytes; a larger buffer never truncates one.
const OUTPUT_BUFFER: usize = 64 * 1024;
/// Output collected before one write to the user's stream.
const OUTPUT_BATCH: usize = 256 * 1024;
const STDOUT_RECORD: u8 = 2;
const STDERR_RECORD: u8 = 3;
/// How long opening the ctl fifo may keep failing with EAGAIN.
const CTL_OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to a container's (or exec session's) attach socket.
pub struct AttachConnection {
    socket: Arc<OwnedFd>,
}

impl crate::types::AttachSession for AttachConnection {
    fn copy(self: Box<Self>, streams: AttachStreams, detach_keys: Vec<u8>) -> Result<()> {
        AttachConnection::copy(*self, streams, detach_keys)
    }
}

impl AttachConnection {
    /// Connect to the socket at `path`. The path may be longer than a socket address
    /// allows: the socket file is opened with O_PATH and reached through /proc/self/fd.
    pub fn connect(path: &Path) -> Result<Self> {
        let file = open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| OciError::io("opening attach socket", path, std::io::Error::from(e)))?;
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let address = UnixAddr::new(proc_path.as_str())
            .map_err(|e| OciError::sys("naming the attach socket", e))?;
        let socket = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| OciError::sys("creating a socket", e))?;
        connect(socket.as_raw_fd(), &address).map_err(|e| {
            OciError::io("connecting to attach socket", path, std::io::Error::from(e))
        })?;
        Ok(AttachConnection {
            socket: Arc::new(socket),
        })
    }

    /// Copy the container's output to the streams and, on another thread, the input to the
    /// container, until the container closes the connection (it exited) or the user types
    /// the detach keys (`OciError::Detached`). End of input half-closes the connection, which
    /// closes the container's stdin when it was created with `-i`.
    pub fn copy(self, streams: AttachStreams, detach_keys: Vec<u8>) -> Result<()> {
        let detached = Arc::new(AtomicBool::new(false));
        if let (true, Some(input)) = (streams.attach_input, streams.input) {
            let socket = self.socket.clone();
            let flag = detached.clone();
            std::thread::spawn(move || copy_input(input, socket, detach_keys, flag));
        }
        // Output is buffered while records keep coming and flushed as soon as none is
        // waiting (or the stream changes, which keeps stdout and stderr in order): one write
        // per burst instead of one per 8 KiB record, with no added latency.
        let buffered = |w: Box<dyn Write + Send>| BufWriter::with_capacity(OUTPUT_BATCH, w);
        let mut output = streams
            .output
            .filter(|_| streams.attach_output)
            .map(buffered);
        let mut error = streams.error.filter(|_| streams.attach_error).map(buffered);
        let write_err = |e| OciError::io("writing container output to", "(attach output)", e);
        let mut unflushed: Option<u8> = None;
        let mut buffer = vec![0u8; OUTPUT_BUFFER];
        loop {
            let flags = if unflushed.is_some() {
                MsgFlags::MSG_DONTWAIT
            } else {
                MsgFlags::empty()
            };
            let n = match recv(self.socket.as_raw_fd(), &mut buffer, flags) {
                Ok(0) | Err(Errno::ECONNRESET) => break,
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => {
                    flush_stream(unflushed.take(), &mut output, &mut error).map_err(write_err)?;
                    continue;
                }
                Err(e) => return Err(OciError::sys("reading from the attach socket", e)),
            };
            let stream = buffer[0];
            if unflushed.is_some_and(|s| s != stream) {
                flush_stream(unflushed.take(), &mut output, &mut error).map_err(write_err)?;
            }
            let target = match stream {
                STDOUT_RECORD => output.as_mut(),
                STDERR_RECORD => error.as_mut(),
                _ => None,
            };
            if let Some(target) = target {
                target.write_all(&buffer[1..n]).map_err(write_err)?;
                unflushed = Some(stream);
            }
        }
        flush_stream(Some(STDOUT_RECORD), &mut output, &mut error).map_err(write_err)?;
        flush_stream(Some(STDERR_RECORD), &mut output, &mut error).map_err(write_err)?;
        if detached.load(Ordering::SeqCst) {
            Err(OciError::Detached)
        } else {
            Ok(())
        }
    }
}

type Output = Option<BufWriter<Box<dyn Write + Send>>>;

fn flush_stream(
    stream: Option<u8>,
    output: &mut Output,
    error: &mut Output,
) -> std::io::Result<()> {
    let target = match stream {
        Some(STDOUT_RECORD) => output.as_mut(),
        Some(STDERR_RECORD) => error.as_mut(),
        _ => None,
    };
    match target {
        Some(target) => target.flush(),
        None => Ok(()),
    }
}

fn send_all(socket: &OwnedFd, mut data: &[u8]) -> std::result::Result<(), Errno> {
    while !data.is_empty() {
        let chunk = &data[..data.len().min(INPUT_CHUNK)];
        match send(socket.as_raw_fd(), chunk, MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn copy_input(
    mut input: Box<dyn Read + Send>,
    socket: Arc<OwnedFd>,
    keys: Vec<u8>,
    detached: Arc<AtomicBool>,
) {
    let mut matcher = DetachMatcher::new(keys);
    let mut buffer = vec![0u8; INPUT_CHUNK];
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => {
                let _ = shutdown(socket.as_raw_fd(), Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        match matcher.feed(&buffer[..n]) {
            DetachStep::Forward(bytes) => {
                if send_all(&socket, &bytes).is_err() {
                    return;
                }
            }
            DetachStep::Detach => {
                detached.store(true, Ordering::SeqCst);
                // Ends the output loop too: its next read sees end of file.
                let _ = shutdown(socket.as_raw_fd(), Shutdown::Both);
                return;
            }
        }
    }
}

/// Ask conmon to resize the terminal: `1 <height> <width>\n` on the ctl fifo.
pub fn write_resize(ctl: &Path, size: TerminalSize) -> Result<()> {
    let deadline = Instant::now() + CTL_OPEN_TIMEOUT;
    let fd = loop {
        match open(
            ctl,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => break fd,
            Err(Errno::EAGAIN | Errno::EINTR) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                return Err(OciError::io(
                    "could not open ctl file for terminal resize",
                    ctl,
                    std::io::Error::from(e),
                ))
            }
        }
    };
    let message = format!("1 {} {}\n", size.height, size.width);
    let mut file = std::fs::File::from(fd);
    file.write_all(message.as_bytes())
        .map_err(|e| OciError::io("writing terminal size to", ctl, e))
}
