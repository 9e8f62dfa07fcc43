//! conmon's attach socket (SOCK_SEQPACKET): output records are one stream byte (2 stdout,
//! 3 stderr) and up to 8192 bytes of payload (rpod-monitor's up to `MONITOR_RECORD_PAYLOAD`,
//! which rpod asks it for); input is raw bytes, at most 32 KiB per send.
//! Also the ctl fifo used for terminal resizes.

use std::io::{BufWriter, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
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
/// The largest record payload rpod asks rpod-monitor for (`--attach-record-size`).
pub const MONITOR_RECORD_PAYLOAD: usize = rpod_monitor_protocol::LARGEST_RECORD_PAYLOAD;
/// One read of an output record: conmon's are at most 8193 bytes, rpod-monitor's up to a
/// stream byte and `MONITOR_RECORD_PAYLOAD` (a SOCK_SEQPACKET record larger than the read
/// would be cut short).
const OUTPUT_BUFFER: usize = MONITOR_RECORD_PAYLOAD + 1;
/// Output collected before one write to the user's stream.
const OUTPUT_BATCH: usize = 256 * 1024;
const STDOUT_RECORD: u8 = 2;
const STDERR_RECORD: u8 = 3;
/// How long opening the ctl fifo may keep failing with EAGAIN.
const CTL_OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to a container's (or exec session's) attach socket.
pub struct AttachConnection {
    socket: Arc<OwnedFd>,
    /// The reading end of a `CancelHandle`'s pipe, once one was asked for.
    cancel: Option<OwnedFd>,
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
            cancel: None,
        })
    }

    /// A handle that ends `copy` from another thread (a client that went away). Ask for it
    /// before calling `copy`.
    pub fn canceller(&mut self) -> Result<CancelHandle> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
            .map_err(|e| OciError::sys("creating a pipe", e))?;
        self.cancel = Some(read);
        Ok(CancelHandle { write })
    }

    /// Copy between the container and the streams in one poll loop, until the container
    /// closes the connection (it exited), the user types the detach keys
    /// (`OciError::Detached`), or a `CancelHandle` fires (`OciError::Cancelled`). End of
    /// input half-closes the connection, which closes the container's stdin when it was
    /// created with `-i`. Nothing is left running when it returns.
    pub fn copy(self, streams: AttachStreams, detach_keys: Vec<u8>) -> Result<()> {
        let socket = self.socket.as_raw_fd();
        // Output is buffered while records keep coming and flushed once none is waiting
        // (or the stream changes, which keeps stdout and stderr in order): one write per
        // burst instead of one per 8 KiB record, with no added latency.
        let buffered = |w: Box<dyn Write + Send>| BufWriter::with_capacity(OUTPUT_BATCH, w);
        let mut output = streams
            .output
            .filter(|_| streams.attach_output)
            .map(buffered);
        let mut error = streams.error.filter(|_| streams.attach_error).map(buffered);
        let write_err = |e| OciError::io("writing container output to", "(attach output)", e);
        let input = streams.input.filter(|_| streams.attach_input);
        let hangup = streams.hangup;
        let mut input_open = input.is_some();
        let mut matcher = DetachMatcher::new(detach_keys);
        // Input read but not yet taken by the socket.
        let mut pending: Vec<u8> = Vec::new();
        let mut write_shut = false;
        let mut buffer = vec![0u8; OUTPUT_BUFFER];
        let mut in_buffer = vec![0u8; INPUT_CHUNK];
        loop {
            let mut socket_events = PollFlags::POLLIN;
            if !pending.is_empty() {
                socket_events |= PollFlags::POLLOUT;
            }
            let socket_fd = unsafe_borrow(socket);
            let mut fds = vec![PollFd::new(socket_fd, socket_events)];
            let input_slot = match (&input, input_open && pending.is_empty()) {
                (Some(input), true) => {
                    fds.push(PollFd::new(input.as_fd(), PollFlags::POLLIN));
                    Some(fds.len() - 1)
                }
                _ => None,
            };
            let cancel_slot = self.cancel.as_ref().map(|cancel| {
                fds.push(PollFd::new(cancel.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            // No events asked: poll reports only POLLHUP and POLLERR for it.
            let hangup_slot = hangup.as_ref().map(|peer| {
                fds.push(PollFd::new(peer.as_fd(), PollFlags::empty()));
                fds.len() - 1
            });
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(OciError::sys("waiting on the attach socket", e)),
            }
            let ready = |slot: Option<usize>| {
                slot.and_then(|i| fds[i].revents())
                    .is_some_and(|r| !r.is_empty())
            };
            if ready(cancel_slot) || ready(hangup_slot) {
                let _ = shutdown(socket, Shutdown::Both);
                flush_all(&mut output, &mut error).map_err(write_err)?;
                return Err(OciError::Cancelled);
            }
            let socket_ready = fds[0].revents().unwrap_or(PollFlags::empty());
            let input_ready = ready(input_slot);
            // The container's output, as much as is waiting.
            if socket_ready.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            {
                let mut reset = false;
                let mut last: Option<u8> = None;
                // Whether the output ended (else: nothing more waiting for now).
                let ended = loop {
                    // MSG_TRUNC: the record's whole length, so that one larger than the
                    // buffer is an error rather than output silently cut short.
                    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC;
                    let n = match recv(socket, &mut buffer, flags) {
                        Ok(0) => break true,
                        // The monitor closed with input of ours unread. The kernel says so
                        // once, before the output records still queued here: the next
                        // reads return them, then the end.
                        Err(Errno::ECONNRESET) => {
                            reset = true;
                            continue;
                        }
                        Ok(n) if n > buffer.len() => {
                            flush_all(&mut output, &mut error).map_err(write_err)?;
                            return Err(OciError::Sys {
                                action: format!(
                                    "reading an output record of {n} bytes from the attach \
                                     socket (at most {OUTPUT_BUFFER} are read)"
                                ),
                                source: Errno::EMSGSIZE,
                            });
                        }
                        Ok(n) => n,
                        Err(Errno::EINTR) => continue,
                        Err(Errno::EAGAIN) => break reset,
                        Err(e) => return Err(OciError::sys("reading from the attach socket", e)),
                    };
                    let stream = buffer[0];
                    if last.is_some_and(|s| s != stream) {
                        flush_stream(last, &mut output, &mut error).map_err(write_err)?;
                    }
                    let target = match stream {
                        STDOUT_RECORD => output.as_mut(),
                        STDERR_RECORD => error.as_mut(),
                        _ => None,
                    };
                    if let Some(target) = target {
                        target.write_all(&buffer[1..n]).map_err(write_err)?;
                        last = Some(stream);
                    }
                };
                flush_stream(last, &mut output, &mut error).map_err(write_err)?;
                if ended {
                    break;
                }
            }
            // Input the socket can take now.
            if !pending.is_empty() && socket_ready.contains(PollFlags::POLLOUT) {
                let chunk = pending.len().min(INPUT_CHUNK);
                match send(
                    socket,
                    &pending[..chunk],
                    MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
                ) {
                    Ok(n) => {
                        pending.drain(..n);
                    }
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    // The container's stdin is gone: stop sending it anything.
                    Err(_) => {
                        pending.clear();
                        input_open = false;
                        write_shut = true;
                    }
                }
            }
            if input_ready {
                if let Some(input) = &input {
                    match nix::unistd::read(input.as_fd(), &mut in_buffer) {
                        Ok(0) => input_open = false,
                        Ok(n) => match matcher.feed(&in_buffer[..n]) {
                            DetachStep::Forward(bytes) => pending.extend_from_slice(&bytes),
                            DetachStep::Detach => {
                                let _ = shutdown(socket, Shutdown::Both);
                                flush_all(&mut output, &mut error).map_err(write_err)?;
                                return Err(OciError::Detached);
                            }
                        },
                        Err(Errno::EAGAIN | Errno::EINTR) => {}
                        Err(_) => input_open = false,
                    }
                }
            }
            // End of input, once all of it was sent: the container's stdin closes.
            if input.is_some() && !input_open && pending.is_empty() && !write_shut {
                let _ = shutdown(socket, Shutdown::Write);
                write_shut = true;
            }
        }
        flush_all(&mut output, &mut error).map_err(write_err)
    }
}

/// The socket's descriptor for one `poll`, borrowed from the connection that owns it.
fn unsafe_borrow(fd: std::os::fd::RawFd) -> std::os::fd::BorrowedFd<'static> {
    #[allow(unsafe_code)]
    // SAFETY: the descriptor belongs to the connection's `Arc<OwnedFd>`, which outlives
    // every poll of `copy` (it is held by `self` for the whole loop).
    unsafe {
        std::os::fd::BorrowedFd::borrow_raw(fd)
    }
}

/// Ends an `AttachConnection::copy` from another thread.
pub struct CancelHandle {
    write: OwnedFd,
}

impl CancelHandle {
    pub fn cancel(&self) {
        let _ = nix::unistd::write(&self.write, &[1u8]);
    }
}

type Output = Option<BufWriter<Box<dyn Write + Send>>>;

fn flush_all(output: &mut Output, error: &mut Output) -> std::io::Result<()> {
    flush_stream(Some(STDOUT_RECORD), output, error)?;
    flush_stream(Some(STDERR_RECORD), output, error)
}

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

/// Ask the monitor to resize the terminal: `1 <height> <width>\n` on the ctl fifo. With
/// `acknowledged` (rpod-monitor), the line carries a token and this returns once the monitor
/// has set the size (`wait_for_ack`): a resize before a start then reaches the terminal
/// before the process can read it. conmon gives no answer; its resizes land when it reads
/// them.
pub fn write_resize(ctl: &Path, size: TerminalSize, acknowledged: bool) -> Result<()> {
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
    let token = acknowledged.then(ack_token);
    let message = match &token {
        Some(token) => format!("1 {} {} {token}\n", size.height, size.width),
        None => format!("1 {} {}\n", size.height, size.width),
    };
    let mut file = std::fs::File::from(fd);
    file.write_all(message.as_bytes())
        .map_err(|e| OciError::io("writing terminal size to", ctl, e))?;
    match (token, ctl.parent()) {
        (Some(token), Some(dir)) => wait_for_ack(dir, &token, CTL_ACK_TIMEOUT),
        _ => Ok(()),
    }
}

/// How long a monitor may take to act on a ctl line (it reads the FIFO between its other
/// work; a monitor that never answers was killed).
const CTL_ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// A token no other writer of the FIFO uses: this process's, a counter, and the time (a
/// file left by a killed writer whose PID came back has another time).
fn ack_token() -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("{:x}x{count:x}x{nanos:x}", std::process::id())
}

/// Wait for the monitor's acknowledgement of `token` in `dir`, and remove it.
fn wait_for_ack(dir: &Path, token: &str, timeout: Duration) -> Result<()> {
    let path = dir.join(format!("{}{token}", rpod_monitor_protocol::CTL_ACK_PREFIX));
    let deadline = Instant::now() + timeout;
    // The monitor usually answers within a fraction of a millisecond: look often at first.
    let mut pause = Duration::from_micros(100);
    loop {
        match std::fs::remove_file(&path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(OciError::io(
                    "removing the monitor's acknowledgement",
                    &path,
                    e,
                ))
            }
        }
        if Instant::now() >= deadline {
            return Err(OciError::Timeout(format!(
                "the container's monitor did not apply the terminal resize within {:?} \
                 (no {})",
                timeout,
                path.display()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod resize_tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A ctl FIFO in a fresh directory, and its reading end (a monitor's).
    fn fifo() -> (tempfile::TempDir, std::path::PathBuf, std::fs::File) {
        let dir = tempfile::tempdir().unwrap();
        let ctl = dir.path().join("ctl");
        nix::unistd::mkfifo(&ctl, Mode::from_bits_truncate(0o600)).unwrap();
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&ctl)
            .unwrap();
        (dir, ctl, reader)
    }

    #[test]
    fn an_acknowledged_resize_returns_once_the_monitor_applied_it() {
        let (dir, ctl, reader) = fifo();
        let applied = Arc::new(AtomicBool::new(false));
        let monitor = {
            let applied = applied.clone();
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut line = String::new();
                BufReader::new(reader).read_line(&mut line).unwrap();
                // A monitor busy with something else for a while.
                std::thread::sleep(Duration::from_millis(200));
                applied.store(true, Ordering::SeqCst);
                let token = line.split_whitespace().nth(3).unwrap().to_string();
                std::fs::write(
                    dir.join(format!("{}{token}", rpod_monitor_protocol::CTL_ACK_PREFIX)),
                    "",
                )
                .unwrap();
                line
            })
        };
        let size = TerminalSize {
            height: 24,
            width: 80,
        };
        write_resize(&ctl, size, true).unwrap();
        assert!(
            applied.load(Ordering::SeqCst),
            "returned before the monitor acted"
        );
        let line = monitor.join().unwrap();
        assert!(line.starts_with("1 24 80 "), "{line:?}");
        let token = line.split_whitespace().nth(3).unwrap();
        assert!(rpod_monitor_protocol::is_ctl_ack_token(token), "{token}");
        // The acknowledgement is taken away; only the FIFO is left.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["ctl"]);
    }

    #[test]
    fn a_resize_for_conmon_carries_no_token() {
        let (_dir, ctl, reader) = fifo();
        let size = TerminalSize {
            height: 5,
            width: 7,
        };
        write_resize(&ctl, size, false).unwrap();
        let mut line = String::new();
        BufReader::new(reader).read_line(&mut line).unwrap();
        assert_eq!(line, "1 5 7\n");
    }

    #[test]
    fn a_monitor_that_never_answers_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let error = wait_for_ack(dir.path(), "abc", Duration::from_millis(50)).unwrap_err();
        assert!(matches!(error, OciError::Timeout(_)), "{error}");
        assert!(error.to_string().contains("ctl-ack-abc"), "{error}");
    }

    #[test]
    fn tokens_differ_within_a_process() {
        let first = ack_token();
        let second = ack_token();
        assert_ne!(first, second);
        assert!(rpod_monitor_protocol::is_ctl_ack_token(&first), "{first}");
    }
}

#[cfg(test)]
mod copy_tests {
    use super::*;
    use std::sync::Mutex;

    /// A writer whose bytes the test reads afterwards.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Our end as an `AttachConnection`, and the monitor's end.
    fn pair() -> (AttachConnection, OwnedFd) {
        let (ours, theirs) = nix::sys::socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        (
            AttachConnection {
                socket: Arc::new(ours),
                cancel: None,
            },
            theirs,
        )
    }

    fn streams(
        out: &Capture,
        err: &Capture,
        input: Option<Box<dyn crate::types::AttachInput>>,
    ) -> AttachStreams {
        AttachStreams {
            output: Some(Box::new(out.clone())),
            error: Some(Box::new(err.clone())),
            attach_input: input.is_some(),
            input,
            attach_output: true,
            attach_error: true,
            hangup: None,
        }
    }

    #[test]
    fn output_records_reach_their_streams_and_end_of_output_ends_the_copy() {
        let (connection, monitor) = pair();
        let (out, err) = (Capture::default(), Capture::default());
        send(monitor.as_raw_fd(), b"\x02hello ", MsgFlags::empty()).unwrap();
        send(monitor.as_raw_fd(), b"\x03oops", MsgFlags::empty()).unwrap();
        send(monitor.as_raw_fd(), b"\x02world", MsgFlags::empty()).unwrap();
        drop(monitor);
        connection
            .copy(streams(&out, &err, None), Vec::new())
            .unwrap();
        assert_eq!(&*out.0.lock().unwrap(), b"hello world");
        assert_eq!(&*err.0.lock().unwrap(), b"oops");
    }

    /// A monitor that closes with our input unread (a container that exited while input
    /// kept coming, `yes | run -i IMAGE head -c 4`): the kernel reports the reset before
    /// the output still queued here, which must all be delivered.
    #[test]
    fn output_queued_before_a_reset_is_delivered() {
        let (connection, monitor) = pair();
        let (out, err) = (Capture::default(), Capture::default());
        send(
            connection.socket.as_raw_fd(),
            b"input nobody reads",
            MsgFlags::empty(),
        )
        .unwrap();
        send(monitor.as_raw_fd(), b"\x02y\ny\n", MsgFlags::empty()).unwrap();
        send(monitor.as_raw_fd(), b"\x03last words", MsgFlags::empty()).unwrap();
        drop(monitor);
        connection
            .copy(streams(&out, &err, None), Vec::new())
            .unwrap();
        assert_eq!(&*out.0.lock().unwrap(), b"y\ny\n");
        assert_eq!(&*err.0.lock().unwrap(), b"last words");
    }

    #[test]
    fn a_record_larger_than_the_read_is_an_error_not_lost_output() {
        let (connection, monitor) = pair();
        let (out, err) = (Capture::default(), Capture::default());
        let mut largest = vec![b'a'; OUTPUT_BUFFER];
        largest[0] = STDOUT_RECORD;
        send(monitor.as_raw_fd(), &largest, MsgFlags::empty()).unwrap();
        let mut larger = vec![b'b'; OUTPUT_BUFFER + 1];
        larger[0] = STDOUT_RECORD;
        send(monitor.as_raw_fd(), &larger, MsgFlags::empty()).unwrap();
        let failed = connection
            .copy(streams(&out, &err, None), Vec::new())
            .unwrap_err();
        assert!(failed.to_string().contains("65537 bytes"), "{failed}");
        // What came before it was delivered, whole.
        assert!(*out.0.lock().unwrap() == vec![b'a'; OUTPUT_BUFFER - 1]);
    }

    #[test]
    fn input_is_echoed_without_deadlock_and_its_end_closes_the_write_side() {
        let (connection, monitor) = pair();
        let (out, err) = (Capture::default(), Capture::default());
        let (input_read, input_write) = nix::unistd::pipe().unwrap();
        let data: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
        let feeder = {
            let data = data.clone();
            std::thread::spawn(move || {
                let mut file = std::fs::File::from(input_write);
                file.write_all(&data).unwrap();
            })
        };
        // The monitor sends every input record straight back as output, as `cat` would.
        let echo = std::thread::spawn(move || {
            let mut buffer = vec![0u8; INPUT_CHUNK + 1];
            loop {
                let n = recv(monitor.as_raw_fd(), &mut buffer[1..], MsgFlags::empty()).unwrap();
                if n == 0 {
                    return; // our write side was shut: end of input
                }
                buffer[0] = STDOUT_RECORD;
                let mut sent = 0;
                while sent < n {
                    let end = (sent + 8192).min(n);
                    let mut record = vec![STDOUT_RECORD];
                    record.extend_from_slice(&buffer[1 + sent..1 + end]);
                    send(monitor.as_raw_fd(), &record, MsgFlags::empty()).unwrap();
                    sent = end;
                }
            }
        });
        let copier = std::thread::spawn(move || {
            connection
                .copy(streams(&out, &err, Some(Box::new(input_read))), Vec::new())
                .map(|()| out)
        });
        feeder.join().unwrap();
        echo.join().unwrap();
        // The monitor is gone once it saw the end of input: the copy ends.
        let out = copier.join().unwrap().unwrap();
        assert!(*out.0.lock().unwrap() == data, "the echoed bytes differ");
    }

    #[test]
    fn detach_keys_and_cancel_end_the_copy() {
        let (connection, monitor) = pair();
        let (out, err) = (Capture::default(), Capture::default());
        let (input_read, input_write) = nix::unistd::pipe().unwrap();
        let typist = std::thread::spawn(move || {
            for key in [16u8, 17u8] {
                nix::unistd::write(&input_write, &[key]).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            input_write
        });
        let result = connection.copy(
            streams(&out, &err, Some(Box::new(input_read))),
            vec![16, 17],
        );
        assert!(matches!(result, Err(OciError::Detached)), "{result:?}");
        drop(typist.join().unwrap());
        drop(monitor);

        let (mut connection, _monitor) = pair();
        let cancel = connection.canceller().unwrap();
        let copier =
            std::thread::spawn(move || connection.copy(streams(&out, &err, None), Vec::new()));
        std::thread::sleep(std::time::Duration::from_millis(100));
        cancel.cancel();
        assert!(matches!(copier.join().unwrap(), Err(OciError::Cancelled)));
    }
}
