//! HTTP/1.1 on one client connection: reading requests (heads parsed by `httparse`), their
//! bodies (by length or chunked), and writing responses (by length, chunked, or hijacked).
//!
//! Written here rather than served by hyper: Docker's protocol takes over the connection
//! after a `200 OK` too (podman-remote's exec start and plain clients send no `Upgrade`),
//! and hyper hands a connection over only after a `101`. The rest is the small part of
//! HTTP/1.1 that Docker's clients use.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recv, send, shutdown, MsgFlags, Shutdown};

/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// The most of an unread body drained to keep a connection open; a larger rest closes it.
const MAX_DRAIN: u64 = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;

/// What went wrong with a request before any handler saw it.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    BadRequest(String),
    #[error("request head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl HttpError {
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BadRequest(_) => 400,
            HttpError::HeadTooLarge => 431,
            HttpError::Io(_) => 500,
        }
    }
}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Length(u64),
    Chunked,
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// HTTP/1.0 (no chunked responses, close unless asked to keep alive).
    pub http10: bool,
    pub body: BodyKind,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of a query parameter (as Go's `Query().Get` finds the first; clients
    /// send each once). A name given in no other case is found in any: podman-remote sends
    /// libpod's camel-case parameters in lower case (`leaverunning` for `leaveRunning`),
    /// and podman's decoder takes either.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .or_else(|| {
                self.query
                    .iter()
                    .rev()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter, its name in any case when no value has it as given
    /// (as `query`).
    pub fn query_all(&self, name: &str) -> Vec<&str> {
        let exact: Vec<&str> = self
            .query
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        self.query
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether the client keeps the connection for another request.
    pub fn keep_alive(&self) -> bool {
        let connection = self
            .header("connection")
            .map(|v| v.to_ascii_lowercase())
            .unwrap_or_default();
        let tokens: Vec<&str> = connection.split(',').map(str::trim).collect();
        if self.http10 {
            tokens.contains(&"keep-alive")
        } else {
            !tokens.contains(&"close")
        }
    }

    /// The client asks to take over the connection (`Connection: Upgrade`, `Upgrade: tcp`).
    pub fn wants_upgrade(&self) -> bool {
        self.header("upgrade").is_some()
            && self
                .header("connection")
                .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
    }
}

/// Parse a request head (everything up to and including the blank line).
pub fn parse_head(head: &[u8]) -> Result<Request, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HttpError::BadRequest("incomplete request head".into()))
        }
        Err(e) => return Err(HttpError::BadRequest(format!("malformed request: {e}"))),
    }
    let method = parsed.method.unwrap_or_default().to_string();
    let target = parsed.path.unwrap_or_default();
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(raw_path)?;
    let query = form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let body =
        match (find("transfer-encoding"), find("content-length")) {
            (Some(te), _) => {
                if te.eq_ignore_ascii_case("chunked") {
                    BodyKind::Chunked
                } else {
                    return Err(HttpError::BadRequest(format!(
                        "unsupported transfer encoding {te:?}"
                    )));
                }
            }
            (None, Some(length)) => BodyKind::Length(length.parse().map_err(|_| {
                HttpError::BadRequest(format!("invalid Content-Length {length:?}"))
            })?),
            (None, None) => BodyKind::Length(0),
        };
    Ok(Request {
        method,
        path,
        query,
        headers,
        http10: parsed.version == Some(0),
        body,
    })
}

/// Decode `%XX` escapes of a path (a `+` stays a `+` in paths).
fn percent_decode(text: &str) -> Result<String, HttpError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| HttpError::BadRequest(format!("invalid escape in path {text:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| HttpError::BadRequest("path is not UTF-8".into()))
}

/// Where the body of the current request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    /// This many bytes of a length-delimited body are unread.
    Remaining(u64),
    /// Inside a chunked body: this many bytes of the current chunk are unread (0: at a
    /// chunk header).
    Chunk(u64),
    /// After the chunk's data: its CRLF comes next.
    ChunkEnd,
    Done,
}

/// One client connection: a stream socket (unix or TCP) and the bytes read but not used
/// yet.
pub struct Connection {
    fd: Arc<OwnedFd>,
    buffer: Vec<u8>,
    start: usize,
    body: BodyState,
}

impl Connection {
    pub fn new(fd: OwnedFd) -> Self {
        Connection {
            fd: Arc::new(fd),
            buffer: Vec::new(),
            start: 0,
            body: BodyState::Done,
        }
    }

    pub fn fd(&self) -> &Arc<OwnedFd> {
        &self.fd
    }

    fn buffered(&self) -> &[u8] {
        &self.buffer[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
    }

    /// Read more from the socket into the buffer; 0 at end of input.
    fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        let old = self.buffer.len();
        self.buffer.resize(old + READ_CHUNK, 0);
        loop {
            match recv(
                self.fd.as_raw_fd(),
                &mut self.buffer[old..],
                MsgFlags::empty(),
            ) {
                Ok(n) => {
                    self.buffer.truncate(old + n);
                    return Ok(n);
                }
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    self.buffer.truncate(old);
                    return Err(io::Error::from(e));
                }
            }
        }
    }

    /// Whether bytes beyond the current request were already read (a client that sent
    /// data before its hijacked stream was set up).
    pub fn has_unread_input(&self) -> bool {
        !self.buffered().is_empty()
    }

    /// Wait for the next request: `Ok(None)` when the client closes, stays idle for
    /// `idle`, or `stop` becomes readable or hung up (the service stops).
    pub fn next_request(
        &mut self,
        idle: Duration,
        stop: std::os::fd::BorrowedFd<'_>,
    ) -> Result<Option<Request>, HttpError> {
        if self.body != BodyState::Done {
            return Err(HttpError::BadRequest("previous body not read".into()));
        }
        loop {
            if let Some(end) = find_head_end(self.buffered()) {
                let request = parse_head(&self.buffered()[..end])?;
                self.consume(end);
                self.body = match request.body {
                    BodyKind::Length(0) => BodyState::Done,
                    BodyKind::Length(n) => BodyState::Remaining(n),
                    BodyKind::Chunked => BodyState::Chunk(0),
                };
                return Ok(Some(request));
            }
            if self.buffered().len() > MAX_HEAD {
                return Err(HttpError::HeadTooLarge);
            }
            if self.buffered().is_empty() {
                // Between requests: wait for the client, the idle limit or the stop.
                let timeout = PollTimeout::try_from(idle).unwrap_or(PollTimeout::MAX);
                let mut fds = [
                    PollFd::new(self.fd.as_fd(), PollFlags::POLLIN),
                    PollFd::new(stop, PollFlags::POLLIN),
                ];
                match poll(&mut fds, timeout) {
                    Ok(0) => return Ok(None),
                    Ok(_) => {}
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(HttpError::Io(e.into())),
                }
                if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                    return Ok(None);
                }
            }
            match self.fill() {
                Ok(0) if self.buffered().is_empty() => return Ok(None),
                Ok(0) => return Err(HttpError::BadRequest("request head cut short".into())),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(HttpError::Io(e)),
            }
        }
    }

    /// The current request's body as a reader.
    pub fn body(&mut self) -> BodyReader<'_> {
        BodyReader { conn: self }
    }

    /// Read the whole body, refusing one larger than `limit` bytes.
    pub fn read_body(&mut self, limit: u64) -> Result<Vec<u8>, BodyError> {
        let mut out = Vec::new();
        let mut reader = self.body().take(limit + 1);
        reader.read_to_end(&mut out).map_err(BodyError::Io)?;
        if out.len() as u64 > limit {
            return Err(BodyError::TooLarge(limit));
        }
        Ok(out)
    }

    /// Skip what is left of the body, so the next request can be read. `false` when too
    /// much is left (the connection should close instead).
    pub fn finish_body(&mut self) -> bool {
        if self.body == BodyState::Done {
            return true;
        }
        let mut sink = io::sink();
        match io::copy(&mut self.body().take(MAX_DRAIN), &mut sink) {
            Ok(_) => self.body == BodyState::Done,
            Err(_) => false,
        }
    }

    /// Write all of `data` (never raising SIGPIPE).
    pub fn write_all(&self, data: &[u8]) -> io::Result<()> {
        write_fd(&self.fd, data)
    }

    /// Close both directions (the client sees the end of the stream).
    pub fn shutdown(&self) {
        let _ = shutdown(self.fd.as_raw_fd(), Shutdown::Both);
    }

    /// End the connection without losing what was sent: closing a socket with unread
    /// input resets it, and a client reading the last output (a terminal's keys still in
    /// flight after the session ended) would get an error instead. So: end our side,
    /// read and drop what the client still sends, until it closes or `linger` passes.
    pub fn linger_close(self, linger: Duration) {
        let _ = shutdown(self.fd.as_raw_fd(), Shutdown::Write);
        let deadline = std::time::Instant::now() + linger;
        // Bounded by time only: a client still sending a refused body is read to its end
        // (so it can read the refusal), a client that never stops costs `linger` at most.
        let mut sink = vec![0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(0) => break,
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
            match recv(self.fd.as_raw_fd(), &mut sink, MsgFlags::MSG_DONTWAIT) {
                Ok(0) => break,
                Ok(_) | Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => break,
            }
        }
    }
}

/// Write all of `data` to a socket, without SIGPIPE when the peer is gone.
pub fn write_fd(fd: &OwnedFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match send(fd.as_raw_fd(), data, MsgFlags::MSG_NOSIGNAL) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Wait, at most `limit`, until the peer of Unix socket `fd` has read all that was sent
/// to it (`SIOCOUTQ`: the bytes sent and not yet read; on another kind of socket, what is
/// not yet acknowledged). podman-remote reads an answer's head with a buffered reader and
/// then the socket itself, so what arrives in the same read as the head is lost: a
/// hijacked answer's head waits for this (Exchange::hijack).
pub fn await_peer_read(fd: &OwnedFd, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let mut unread: libc::c_int = 0;
        #[allow(unsafe_code)]
        // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int through the pointer, which points at one.
        let asked = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut unread) };
        if asked != 0 || unread == 0 || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A writer over a shared socket descriptor.
pub struct FdWriter(pub Arc<OwnedFd>);

impl Write for FdWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        write_fd(&self.0, data)?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body larger than {0} bytes")]
    TooLarge(u64),
    #[error("reading the request body: {0}")]
    Io(io::Error),
}

fn find_head_end(data: &[u8]) -> Option<usize> {
    data.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

/// Reads the current request's body, decoding chunks; ends at the body's end.
pub struct BodyReader<'a> {
    conn: &'a mut Connection,
}

impl BodyReader<'_> {
    /// Bytes of the buffer, filling it when empty; an early end is an error.
    fn available(&mut self) -> io::Result<&[u8]> {
        if self.conn.buffered().is_empty() && self.conn.fill()? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client ended the connection inside the request body",
            ));
        }
        Ok(self.conn.buffered())
    }

    /// Read a line ending in CRLF (a chunk header or trailer), at most 4 KiB.
    fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            let data = self.available()?;
            if let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
                let line = data[..pos + 2].to_vec();
                self.conn.consume(pos + 2);
                return Ok(line);
            }
            if data.len() > 4096 {
                return Err(invalid("chunk header too long"));
            }
            if self.conn.fill()? == 0 {
                return Err(invalid("the body ended inside a chunk header"));
            }
        }
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

impl Read for BodyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.body {
                BodyState::Done => return Ok(0),
                BodyState::Remaining(left) => {
                    let data = self.available()?;
                    let n = data.len().min(out.len()).min(left as usize);
                    out[..n].copy_from_slice(&data[..n]);
                    self.conn.consume(n);
                    self.conn.body = match left - n as u64 {
                        0 => BodyState::Done,
                        rest => BodyState::Remaining(rest),
                    };
                    return Ok(n);
                }
                BodyState::Chunk(0) => {
                    let line = self.line()?;
                    let size = match httparse::parse_chunk_size(&line) {
                        Ok(httparse::Status::Complete((_, size))) => size,
                        _ => return Err(invalid("malformed chunk header")),
                    };
                    if size == 0 {
                        // Trailers, up to the blank line.
                        loop {
                            if self.line()? == b"\r\n" {
                                break;
                            }
                        }
                        self.conn.body = BodyState::Done;
                        return Ok(0);
                    }
                    self.conn.body = BodyState::Chunk(size);
                }
                BodyState::Chunk(left) => {
                    let data = self.available()?;
                    let n = data.len().min(out.len()).min(left as usize);
                    out[..n].copy_from_slice(&data[..n]);
                    self.conn.consume(n);
                    self.conn.body = match left - n as u64 {
                        0 => BodyState::ChunkEnd,
                        rest => BodyState::Chunk(rest),
                    };
                    return Ok(n);
                }
                BodyState::ChunkEnd => {
                    if self.line()? != b"\r\n" {
                        return Err(invalid("chunk data longer than its header said"));
                    }
                    self.conn.body = BodyState::Chunk(0);
                }
            }
        }
    }
}

/// The reason phrase of a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "UPGRADED",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// The CORS headers of `--cors ORIGIN`: one origin per process (a service's setting,
/// given before it serves), kept here because every response head is written through
/// `head`, which no handler's context reaches.
static CORS: std::sync::OnceLock<Vec<(&'static str, String)>> = std::sync::OnceLock::new();

/// Put `origin` in every response's CORS headers, as podman's `--cors`. An origin is one
/// header value: a line break is refused; a second, other origin in the same process too.
pub fn set_cors(origin: &str) -> Result<(), String> {
    if origin.is_empty() || origin.chars().any(|c| c.is_control()) {
        return Err(format!(
            "invalid --cors {origin:?}: an origin such as https://host or *"
        ));
    }
    let headers = vec![
        ("Access-Control-Allow-Origin", origin.to_string()),
        (
            "Access-Control-Allow-Headers",
            "Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth, Connection, Upgrade, X-Registry-Config"
                .to_string(),
        ),
        (
            "Access-Control-Allow-Methods",
            "HEAD, GET, POST, DELETE, PUT, OPTIONS".to_string(),
        ),
    ];
    let set = CORS.get_or_init(|| headers.clone());
    if *set != headers {
        return Err("this process serves CORS for another origin already".into());
    }
    Ok(())
}

/// Whether `--cors` was given (preflight requests are answered then).
pub fn cors_enabled() -> bool {
    CORS.get().is_some()
}

/// A response head: the status line, the headers every answer carries, `extra`, and the
/// blank line.
pub fn head(status: u16, extra: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in crate::COMMON_HEADERS
        .iter()
        .chain(CORS.get().into_iter().flatten())
    {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A streamed response body: chunked, or raw for an HTTP/1.0 client (ended by closing).
/// The last chunk is written by `finish` (or on drop).
pub struct ChunkedWriter {
    fd: Arc<OwnedFd>,
    finished: bool,
    chunked: bool,
}

impl ChunkedWriter {
    pub fn new(fd: Arc<OwnedFd>) -> Self {
        ChunkedWriter {
            fd,
            finished: false,
            chunked: true,
        }
    }

    pub fn raw(fd: Arc<OwnedFd>) -> Self {
        ChunkedWriter {
            fd,
            finished: true,
            chunked: false,
        }
    }

    pub fn finish(mut self) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        write_fd(&self.fd, b"0\r\n\r\n")
    }
}

impl Write for ChunkedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if !self.chunked {
            write_fd(&self.fd, data)?;
            return Ok(data.len());
        }
        let mut frame = format!("{:x}\r\n", data.len()).into_bytes();
        frame.extend_from_slice(data);
        frame.extend_from_slice(b"\r\n");
        write_fd(&self.fd, &frame)?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ChunkedWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = write_fd(&self.fd, b"0\r\n\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn pair() -> (Connection, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        (Connection::new(ours.into()), theirs)
    }

    fn never() -> OwnedFd {
        let (read, write) = nix::unistd::pipe().unwrap();
        std::mem::forget(write);
        read
    }

    /// A parameter's name is found as given first, else in any case (podman-remote's
    /// `leaverunning` is libpod's `leaveRunning`); every value of one likewise.
    #[test]
    fn query_names_are_found_as_given_then_in_any_case() {
        let req =
            parse_head(b"POST /x?leaverunning=true&t=a&T=b&network=n1&network=n2 HTTP/1.1\r\n\r\n")
                .unwrap();
        assert_eq!(req.query("leaveRunning"), Some("true"));
        assert_eq!(req.query("t"), Some("a"));
        assert_eq!(req.query("T"), Some("b"));
        assert_eq!(req.query("nothing"), None);
        assert_eq!(req.query_all("Network"), ["n1", "n2"]);
        assert_eq!(req.query_all("t"), ["a"]);
    }

    #[test]
    fn heads_parse_with_decoded_paths_queries_and_lower_case_headers() {
        let req = parse_head(
            b"POST /v1.41/containers/a%2Fb/attach?stream=1&detachKeys=ctrl-p%2Cctrl-q HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/v1.41/containers/a/b/attach");
        assert_eq!(req.query("detachKeys"), Some("ctrl-p,ctrl-q"));
        assert!(req.wants_upgrade() && req.keep_alive() && !req.http10);
        assert_eq!(req.body, BodyKind::Length(0));
        for bad in [
            &b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"GET /%zz HTTP/1.1\r\n\r\n",
            b"\x00\x01 HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                parse_head(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bodies_by_length_and_chunked_and_pipelined_requests() {
        let (mut conn, mut client) = pair();
        client
            .write_all(
                b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
            )
            .unwrap();
        let stop = never();
        let idle = Duration::from_secs(5);
        let a = conn.next_request(idle, stop.as_fd()).unwrap().unwrap();
        assert_eq!(a.path, "/a");
        assert_eq!(conn.read_body(100).unwrap(), b"hello");
        let b = conn.next_request(idle, stop.as_fd()).unwrap().unwrap();
        assert_eq!(b.body, BodyKind::Chunked);
        assert_eq!(conn.read_body(100).unwrap(), b"abcdefg");
        let c = conn.next_request(idle, stop.as_fd()).unwrap().unwrap();
        assert_eq!(c.path, "/c");
        drop(client);
        assert!(conn.next_request(idle, stop.as_fd()).unwrap().is_none());
    }

    #[test]
    fn large_bodies_are_refused_and_unread_bodies_are_skipped() {
        let (mut conn, mut client) = pair();
        let stop = never();
        let idle = Duration::from_secs(5);
        client
            .write_all(b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789")
            .unwrap();
        conn.next_request(idle, stop.as_fd()).unwrap().unwrap();
        assert!(matches!(conn.read_body(4), Err(BodyError::TooLarge(4))));
        assert!(conn.finish_body());
        client
            .write_all(b"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz")
            .unwrap();
        conn.next_request(idle, stop.as_fd()).unwrap().unwrap();
        assert!(conn.finish_body());
        client.write_all(b"GET /c HTTP/1.1\r\n\r\n").unwrap();
        let c = conn.next_request(idle, stop.as_fd()).unwrap().unwrap();
        assert_eq!(c.path, "/c");
    }

    #[test]
    fn idle_connections_and_a_stop_end_the_wait() {
        let (mut conn, _client) = pair();
        let stop = never();
        let started = std::time::Instant::now();
        assert!(conn
            .next_request(Duration::from_millis(50), stop.as_fd())
            .unwrap()
            .is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
        let (stop_read, stop_write) = nix::unistd::pipe().unwrap();
        drop(stop_write);
        assert!(conn
            .next_request(Duration::from_secs(60), stop_read.as_fd())
            .unwrap()
            .is_none());
    }

    #[test]
    fn random_input_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let pieces: [&[u8]; 12] = [
            b"GET ",
            b"POST /v1.41/x?a=%zz&b",
            b" HTTP/1.1\r\n",
            b"Transfer-Encoding: chunked\r\n",
            b"Content-Length: 3\r\n",
            b"\r\n",
            b"ffffffffffffffffffff\r\n",
            b"3\r\nab",
            b"0\r\n\r\n",
            b"\x00\xff\xfe",
            b"%",
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n",
        ];
        for _ in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..rng.gen_range(1..12) {
                if rng.gen_bool(0.2) {
                    let n = rng.gen_range(1..40);
                    input.extend((0..n).map(|_| rng.gen::<u8>()));
                } else {
                    input.extend_from_slice(pieces[rng.gen_range(0..pieces.len())]);
                }
            }
            let _ = parse_head(&input);
            let (mut conn, mut client) = pair();
            client.write_all(&input).unwrap();
            drop(client);
            let stop = never();
            while let Ok(Some(_)) = conn.next_request(Duration::from_secs(1), stop.as_fd()) {
                let _ = conn.read_body(1 << 20);
                if !conn.finish_body() {
                    break;
                }
            }
        }
    }
}
