//! A small blocking HTTP/1.1 client for a container engine's REST service (rpod's or
//! podman's libpod API), over a unix socket, TCP, or an ssh tunnel to the remote host's
//! socket.
//!
//! Written by hand: ureq (the workspace's HTTP client, for registries) reaches TCP hosts
//! only in its stable API, and this needs unix sockets and the raw connection after an
//! attach's or exec's answer (the "hijacked" stream). httparse reads the answers' heads.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use rpod_api::tls_client::{RelayFailure, TlsClient, TlsClientFiles};

/// The API version in request paths: podman 4.3's (rpod's service takes any).
pub const API_PREFIX: &str = "/v4.3.1/libpod";
/// The Docker API's version in request paths, for what libpod has no endpoint of its own
/// for (a wait for the next exit or the removal).
pub const COMPAT_PREFIX: &str = "/v1.41";
/// The longest answer head read (podman's are a few hundred bytes).
const MAX_HEAD: usize = 64 * 1024;
/// The largest answer body read whole (a listing of thousands of containers fits).
const MAX_BODY: u64 = 256 * 1024 * 1024;

/// Where the service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
    /// TCP with TLS (`--tls-ca`, `--tls-cert`, `--tls-key`): HOST:PORT, and the files.
    Tls {
        address: String,
        files: TlsClientFiles,
    },
    /// An SSH login and the socket on that host: an OpenSSH tunnel (`ssh -L`) from a
    /// socket here carries the connections.
    Ssh(SshRoute),
}

/// What `ssh` needs to reach a socket on another host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshRoute {
    pub target: crate::connections::SshTarget,
    pub socket: String,
    pub identity: Option<PathBuf>,
    /// rpod.conf's `[engine] ssh_config`.
    pub config: Option<PathBuf>,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp(address) | Endpoint::Tls { address, .. } => {
                write!(f, "tcp://{address}")
            }
            Endpoint::Ssh(route) => write!(f, "{}", route.target.uri()),
        }
    }
}

/// The socket or pipes of one connection; a write half that can be closed alone (stdin's
/// end for an attach).
enum Transport {
    Unix(UnixStream),
    Tcp(TcpStream),
}

/// One connection to the service.
pub struct Connection {
    reader: BufReader<Box<dyn Read + Send>>,
    transport: Transport,
    /// For a TLS connection (a socket pair to its relay): why the relay ended, if it
    /// failed.
    tls_failure: Option<RelayFailure>,
}

impl Connection {
    /// Connect to `dial` (an ssh tunnel's socket here for an ssh:// service), naming
    /// `service` in errors.
    fn open(dial: &Endpoint, service: &Endpoint) -> Result<Connection> {
        let (reader, transport): (Box<dyn Read + Send>, Transport) = match dial {
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path).with_context(|| {
                    format!(
                        "connecting to the service at {service} (is `rpod system service` running there?)"
                    )
                })?;
                (Box::new(stream.try_clone()?), Transport::Unix(stream))
            }
            Endpoint::Tcp(address) => {
                let stream = TcpStream::connect(address)
                    .with_context(|| format!("connecting to the service at {service}"))?;
                stream.set_nodelay(true)?;
                (Box::new(stream.try_clone()?), Transport::Tcp(stream))
            }
            Endpoint::Ssh(_) => bail!("an ssh:// service is reached through a tunnel"),
            Endpoint::Tls { .. } => bail!("a TLS service is reached with its configuration"),
        };
        Ok(Connection {
            reader: BufReader::with_capacity(64 * 1024, reader),
            transport,
            tls_failure: None,
        })
    }

    /// Connect to the TLS service at `address`: the handshake, then a relay thread whose
    /// plain end this connection reads and writes.
    fn open_tls(address: &str, tls: &TlsClient, service: &Endpoint) -> Result<Connection> {
        let tcp = TcpStream::connect(address)
            .with_context(|| format!("connecting to the service at {service}"))?;
        tcp.set_nodelay(true)?;
        let (plain, failure) = tls
            .connect(address, tcp)
            .with_context(|| format!("TLS with the service at {service}"))?;
        Ok(Connection {
            reader: BufReader::with_capacity(64 * 1024, Box::new(plain.try_clone()?)),
            transport: Transport::Unix(plain),
            tls_failure: Some(failure),
        })
    }

    /// The reason a TLS connection's relay failed, when it has: a better word than the
    /// end of the plain socket it leaves.
    fn tls_failed(&self) -> Option<anyhow::Error> {
        let why = self.tls_reason()?;
        Some(anyhow::Error::new(StaleConnection(Some(why))))
    }

    fn tls_reason(&self) -> Option<String> {
        self.tls_failure.as_ref()?.get().cloned()
    }

    /// The connection ended before an answer, with the TLS relay's reason when it failed
    /// (a refusal's alert can end it before the request is even written).
    fn ended(&self) -> anyhow::Error {
        anyhow::Error::new(StaleConnection(self.tls_reason()))
    }

    fn writer(&mut self) -> Box<dyn Write + '_> {
        match &self.transport {
            Transport::Unix(stream) => Box::new(Quiet(stream)),
            Transport::Tcp(stream) => Box::new(stream),
        }
    }

    /// Send a request. `body`: JSON when given.
    fn send(&mut self, method: &str, path: &str, body: Option<&[u8]>, upgrade: bool) -> Result<()> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: d\r\nUser-Agent: rpod/{}\r\n",
            env!("CARGO_PKG_VERSION")
        );
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        } else if method != "GET" {
            head.push_str("Content-Length: 0\r\n");
        }
        if upgrade {
            head.push_str("Connection: Upgrade\r\nUpgrade: tcp\r\n");
        }
        head.push_str("\r\n");
        let mut writer = self.writer();
        writer.write_all(head.as_bytes())?;
        if let Some(body) = body {
            writer.write_all(body)?;
        }
        writer.flush()?;
        Ok(())
    }

    /// Read an answer's head.
    fn head(&mut self) -> Result<Head> {
        let mut raw = Vec::new();
        loop {
            let before = raw.len();
            let read = match self.reader.read_until(b'\n', &mut raw) {
                Ok(read) => read,
                // Reset before any byte of an answer: the service closed the (kept)
                // connection with the request unread, as a closing end does when data
                // is still queued for it.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset && raw.is_empty() => {
                    return Err(self.ended())
                }
                Err(e) => return Err(e.into()),
            };
            if read == 0 && raw.is_empty() {
                return Err(self.ended());
            }
            if read == 0 {
                bail!("the service closed the connection in the middle of its answer");
            }
            if raw.len() > MAX_HEAD {
                bail!("the service's answer has a head over {MAX_HEAD} bytes");
            }
            if &raw[before..] == b"\r\n" || &raw[before..] == b"\n" {
                break;
            }
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        response
            .parse(&raw)
            .map_err(|e| anyhow!("the service's answer is not HTTP: {e}"))?;
        let status = response
            .code
            .context("the service's answer has no status")?;
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
        };
        let length =
            match header("content-length") {
                Some(text) => Some(text.parse::<u64>().map_err(|_| {
                    anyhow!("the service's Content-Length {text:?} is not a number")
                })?),
                None => None,
            };
        let chunked =
            header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
        let path_stat = header("x-docker-container-path-stat");
        Ok(Head {
            status,
            length,
            chunked,
            path_stat,
        })
    }

    /// A second handle on the direction towards the service, for a thread that copies
    /// stdin into a hijacked stream; dropping it closes that direction.
    pub fn input_handle(&mut self) -> Result<Input> {
        Ok(match &mut self.transport {
            Transport::Unix(stream) => Input::Unix(stream.try_clone()?),
            Transport::Tcp(stream) => Input::Tcp(stream.try_clone()?),
        })
    }
}

/// Writes to a unix socket that fail with EPIPE when the service has closed it, where a
/// plain `write` would raise SIGPIPE (rpod's commands take its default action, to end
/// quietly on a closed stdout: an attached session's exit code must outlive a closed
/// connection). std's TcpStream already sends this way.
struct Quiet<'a>(&'a UnixStream);

impl Write for Quiet<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        nix::sys::socket::send(
            self.0.as_raw_fd(),
            buf,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        )
        .map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The direction towards the service of a hijacked connection.
pub enum Input {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Write for Input {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Input::Unix(stream) => Quiet(stream).write(buf),
            Input::Tcp(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Input::Unix(stream) => stream.flush(),
            Input::Tcp(stream) => stream.flush(),
        }
    }
}

impl Input {
    /// End the connection both ways (a detach): the session's output here ends too.
    pub fn end_both(&self) {
        let _ = match self {
            Input::Unix(stream) => stream.shutdown(std::net::Shutdown::Both),
            Input::Tcp(stream) => stream.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Drop for Input {
    /// A clone shares the socket: its end must be said.
    fn drop(&mut self) {
        match self {
            Input::Unix(stream) => {
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
            Input::Tcp(stream) => {
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
        }
    }
}

/// How long a tunnel's socket may refuse connections after ssh made it.
const TUNNEL_LISTEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether `error` is a refused connection.
fn refused(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::ConnectionRefused)
}

/// How long the tunnel may take to log in and make its socket here.
const TUNNEL_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// An `ssh -N -L HERE:THERE` process: connections to the socket HERE (in a private
/// directory of its own) reach the socket THERE on the remote host. One ssh (one login)
/// for all the requests of a command; ended with the client.
///
/// (`ssh -W PATH`, one ssh per connection, would be simpler, but OpenSSH 9.2's client
/// forwards only to host:port that way.)
struct Tunnel {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tunnel {
    fn open(route: &SshRoute) -> Result<Tunnel> {
        let dir = tempfile::Builder::new()
            .prefix("rpod-ssh-")
            .tempdir()
            .context("making a directory for the ssh tunnel's socket")?;
        let socket = dir.path().join("api.sock");
        let mut command = crate::connections::ssh_command(
            &route.target,
            route.identity.as_deref(),
            route.config.as_deref(),
        );
        command
            .args([
                "-N",
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "StreamLocalBindUnlink=yes",
                "-L",
            ])
            .arg(format!("{}:{}", socket.display(), route.socket))
            .arg("--")
            .arg(route.target.login())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .context("running ssh for a remote service (install openssh-client)")?;
        let deadline = std::time::Instant::now() + TUNNEL_PATIENCE;
        while !socket.exists() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "ssh to {} ended ({status}) before its tunnel to {} was up",
                    route.target.login(),
                    route.socket
                );
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "ssh to {} made no tunnel in {TUNNEL_PATIENCE:?}",
                    route.target.login()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Ok(Tunnel {
            child,
            socket,
            _dir: dir,
        })
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The connection ended before an answer (a kept connection the service dropped): a
/// request on a kept connection is sent again on a new one. For TLS, why the relay failed
/// when it did, which a new connection's failure then says.
#[derive(Debug)]
struct StaleConnection(Option<String>);

impl std::fmt::Display for StaleConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(why) => write!(f, "the TLS connection to the service failed: {why}"),
            None => f.write_str("the service closed the connection without an answer"),
        }
    }
}

impl std::error::Error for StaleConnection {}

struct Head {
    status: u16,
    length: Option<u64>,
    chunked: bool,
    /// A path's stat, as the archive endpoints give it (base64 of JSON).
    path_stat: Option<String>,
}

/// An answer read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `X-Docker-Container-Path-Stat` header of an archive endpoint's answer.
    pub path_stat: Option<String>,
}

impl Reply {
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "the service's answer is not JSON: {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
            )
        })
    }
}

/// An answer whose body is read as it comes (logs, pull progress), or a hijacked stream.
pub struct Streamed {
    pub status: u16,
    pub body: Box<dyn Read + Send>,
    /// The connection, when the stream is the connection itself (attach, exec): its input
    /// direction is still open.
    pub connection: Option<Connection>,
    /// The `X-Docker-Container-Path-Stat` header of an archive endpoint's answer.
    pub path_stat: Option<String>,
}

/// A client of one service: a connection kept between requests when the service keeps it.
pub struct Client {
    endpoint: Endpoint,
    idle: Option<Connection>,
    tunnel: Option<Tunnel>,
    /// A TLS service's client configuration, read at the first connection.
    tls: Option<TlsClient>,
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Client {
        Client {
            endpoint,
            idle: None,
            tunnel: None,
            tls: None,
        }
    }

    /// Another client of the same service, for another thread: through this one's ssh
    /// tunnel (made now if need be), which lives as long as this client.
    pub fn sibling(&mut self) -> Result<Client> {
        if let (Endpoint::Ssh(route), None) = (&self.endpoint, &self.tunnel) {
            self.tunnel = Some(Tunnel::open(route)?);
        }
        let endpoint = match &self.tunnel {
            Some(tunnel) => Endpoint::Unix(tunnel.socket.clone()),
            None => self.endpoint.clone(),
        };
        Ok(Client::new(endpoint))
    }

    /// A new connection to the service (through the ssh tunnel, made the first time).
    fn connect(&mut self) -> Result<Connection> {
        if let Endpoint::Tls { address, files } = &self.endpoint {
            if self.tls.is_none() {
                self.tls = Some(TlsClient::load(files).map_err(|e| anyhow!(e))?);
            }
            let tls = self
                .tls
                .as_ref()
                .context("the TLS configuration was read")?;
            return Connection::open_tls(address, tls, &self.endpoint);
        }
        if let (Endpoint::Ssh(route), None) = (&self.endpoint, &self.tunnel) {
            self.tunnel = Some(Tunnel::open(route)?);
        }
        let Some(tunnel) = &self.tunnel else {
            return Connection::open(&self.endpoint, &self.endpoint);
        };
        // ssh binds the socket before it listens on it: a connection in between is
        // refused, and is tried again.
        let dial = Endpoint::Unix(tunnel.socket.clone());
        let deadline = std::time::Instant::now() + TUNNEL_LISTEN_PATIENCE;
        loop {
            match Connection::open(&dial, &self.endpoint) {
                Err(e) if refused(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                other => return other,
            }
        }
    }

    /// A request to the libpod API (`path` after `/v4.3.1/libpod`), its answer read whole.
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply> {
        let body = body.map(serde_json::to_vec).transpose()?;
        let full = full_path(path);
        // A kept connection the service closed meanwhile fails before any answer: the
        // request is sent again on a new one.
        if let Some(mut connection) = self.idle.take() {
            match Self::exchange(&mut connection, method, &full, body.as_deref()) {
                Ok(reply) => {
                    self.idle = Some(connection);
                    return Ok(reply);
                }
                Err(e) if e.is::<StaleConnection>() => {}
                Err(e) => return Err(e.context(format!("{method} {full} at {}", self.endpoint))),
            }
        }
        let mut connection = self.connect()?;
        let reply = Self::exchange(&mut connection, method, &full, body.as_deref())
            .with_context(|| format!("{method} {full} at {}", self.endpoint))?;
        self.idle = Some(connection);
        Ok(reply)
    }

    fn exchange(
        connection: &mut Connection,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Reply> {
        if connection.send(method, path, body, false).is_err() {
            return Err(connection.ended());
        }
        let head = connection.head()?;
        Self::read_reply(connection, head, method)
    }

    /// The answer whose head was read, its body read whole (bounded).
    fn read_reply(connection: &mut Connection, head: Head, method: &str) -> Result<Reply> {
        let mut body = Vec::new();
        body_reader(connection.reader.by_ref(), &head, method)
            .take(MAX_BODY + 1)
            .read_to_end(&mut body)?;
        if body.len() as u64 > MAX_BODY {
            bail!("the service's answer is over {MAX_BODY} bytes");
        }
        Ok(Reply {
            status: head.status,
            body,
            path_stat: head.path_stat,
        })
    }

    /// A request whose body `write_body` writes as it goes (sent chunked: an archive of
    /// any size is never held whole), its answer read whole.
    pub fn upload(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        write_body: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<Reply> {
        let (mut connection, head) = self.send_body(method, path, content_type, write_body)?;
        let full = full_path(path);
        Self::read_reply(&mut connection, head, method)
            .with_context(|| format!("{method} {full} at {}", self.endpoint))
    }

    /// The same, its answer read as it comes (a build's progress).
    pub fn upload_streamed(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        write_body: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<Streamed> {
        let (connection, head) = self.send_body(method, path, content_type, write_body)?;
        Ok(Self::streamed_body(connection, &head))
    }

    /// Send a request with a chunked body; the connection and the answer's head.
    fn send_body(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        write_body: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(Connection, Head)> {
        let full = full_path(path);
        let mut connection = self.connect()?;
        let context = || format!("{method} {full} at {}", self.endpoint);
        let head = format!(
            "{method} {full} HTTP/1.1\r\nHost: d\r\nUser-Agent: rpod/{}\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        let sent = (|| -> io::Result<()> {
            let mut writer = connection.writer();
            writer.write_all(head.as_bytes())?;
            let mut chunks = io::BufWriter::with_capacity(256 * 1024, ChunkWriter(&mut writer));
            write_body(&mut chunks)?;
            chunks.flush()?;
            drop(chunks);
            writer.write_all(b"0\r\n\r\n")?;
            writer.flush()
        })();
        // The service may answer (an error) before it has read the whole body.
        let answer = connection.head();
        match (sent, answer) {
            (_, Ok(head)) => Ok((connection, head)),
            (Err(e), Err(_)) => Err(connection
                .tls_failed()
                .unwrap_or_else(|| anyhow::Error::new(e))
                .context(context())),
            (Ok(()), Err(e)) => Err(e.context(context())),
        }
    }

    /// A request on a connection of its own whose answer is read as it comes; `upgrade`
    /// asks for the connection itself (attach, exec start).
    pub fn stream(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        upgrade: bool,
    ) -> Result<Streamed> {
        let body = body.map(serde_json::to_vec).transpose()?;
        let full = full_path(path);
        let mut connection = self.connect()?;
        if let Err(e) = connection.send(method, &full, body.as_deref(), upgrade) {
            return Err(connection
                .tls_failed()
                .unwrap_or(e)
                .context(format!("{method} {full} at {}", self.endpoint)));
        }
        let head = connection
            .head()
            .with_context(|| format!("{method} {full} at {}", self.endpoint))?;
        let hijacked = head.status == 101
            || (upgrade && head.status == 200 && head.length.is_none() && !head.chunked);
        if hijacked {
            let reader = std::mem::replace(
                &mut connection.reader,
                BufReader::new(Box::new(io::empty())),
            );
            return Ok(Streamed {
                status: head.status,
                body: Box::new(reader),
                connection: Some(connection),
                path_stat: head.path_stat,
            });
        }
        Ok(Self::streamed_body(connection, &head))
    }

    /// The answer whose head was read, its body to be read as it comes.
    fn streamed_body(mut connection: Connection, head: &Head) -> Streamed {
        let reader = std::mem::replace(
            &mut connection.reader,
            BufReader::new(Box::new(io::empty())),
        );
        let body: Box<dyn Read + Send> = if head.chunked {
            Box::new(Chunked::new(reader))
        } else if let Some(length) = head.length {
            Box::new(reader.take(length))
        } else {
            Box::new(reader)
        };
        // The connection's ssh process (if any) must live as long as its output is read.
        Streamed {
            status: head.status,
            body: Box::new(Owning {
                body,
                _connection: connection,
            }),
            connection: None,
            path_stat: head.path_stat.clone(),
        }
    }
}

/// A libpod path under the API's prefix; a Docker API path (under `COMPAT_PREFIX`) as it is.
fn full_path(path: &str) -> String {
    if path.starts_with(COMPAT_PREFIX) {
        path.to_string()
    } else {
        format!("{API_PREFIX}{path}")
    }
}

/// Each write a chunk of a chunked body (RFC 9112 7.1).
struct ChunkWriter<W: Write>(W);

impl<W: Write> Write for ChunkWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.0
            .write_all(format!("{:x}\r\n", buf.len()).as_bytes())?;
        self.0.write_all(buf)?;
        self.0.write_all(b"\r\n")?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A body that keeps its connection alive while it is read.
struct Owning {
    body: Box<dyn Read + Send>,
    _connection: Connection,
}

impl Read for Owning {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

fn body_reader<'a, R: BufRead + 'a>(reader: R, head: &Head, method: &str) -> Box<dyn Read + 'a> {
    if method == "HEAD"
        || head.status == 204
        || head.status == 304
        || (100..200).contains(&head.status)
    {
        Box::new(io::empty())
    } else if head.chunked {
        Box::new(Chunked::new(reader))
    } else if let Some(length) = head.length {
        Box::new(reader.take(length))
    } else {
        Box::new(reader)
    }
}

/// A chunked body (RFC 9112 7.1), read chunk by chunk; trailers are skipped.
pub struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    pub fn new(inner: R) -> Self {
        Chunked {
            inner,
            left: 0,
            done: false,
        }
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        (&mut self.inner).take(4096).read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the service's chunked answer ended early",
            ));
        }
        Ok(String::from_utf8_lossy(&line).trim().to_string())
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let line = self.line()?;
            let size = line.split(';').next().unwrap_or_default().trim();
            self.left = u64::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the service's chunk size {size:?} is not hexadecimal"),
                )
            })?;
            if self.left == 0 {
                // Trailers, up to the empty line.
                while !self.line()?.is_empty() {}
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let read = self.inner.read(&mut buf[..want])?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the service's chunked answer ended early",
            ));
        }
        self.left -= read as u64;
        if self.left == 0 {
            let end = self.line()?;
            if !end.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the service's chunk does not end where its size says",
                ));
            }
        }
        Ok(read)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined_and_bad_ones_refused() {
        let mut text = String::new();
        Chunked::new(&b"5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nTrailer: 1\r\n\r\n"[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hello!");
        let mut sink = Vec::new();
        let early = Chunked::new(&b"5\r\nhel"[..]).read_to_end(&mut sink);
        assert_eq!(early.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        let bad = Chunked::new(&b"zz\r\nhello\r\n"[..]).read_to_end(&mut sink);
        assert_eq!(bad.unwrap_err().kind(), io::ErrorKind::InvalidData);
        let long = Chunked::new(&b"2\r\nhello\r\n0\r\n\r\n"[..]).read_to_end(&mut sink);
        assert_eq!(long.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    /// A one-shot server on a unix socket that answers with `answer` and hands back what
    /// it was sent.
    pub(crate) fn serve_once(
        answer: &'static [u8],
    ) -> (PathBuf, std::thread::JoinHandle<Vec<u8>>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(answer).unwrap();
            request
        });
        (path, server, dir)
    }

    #[test]
    fn requests_go_to_the_libpod_api_and_answers_are_read_whole() {
        let (path, server, _dir) = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n",
        );
        let mut client = Client::new(Endpoint::Unix(path));
        let reply = client
            .call("GET", "/containers/json?all=true", None)
            .unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json().unwrap(), serde_json::json!([1, 2]));
        let request = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(
            request.starts_with("GET /v4.3.1/libpod/containers/json?all=true HTTP/1.1\r\n"),
            "{request}"
        );
    }

    #[test]
    fn a_kept_connection_the_service_closed_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        // Each connection answers one request, then is closed by the "service".
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                    .unwrap();
            }
        });
        let mut client = Client::new(Endpoint::Unix(path));
        assert_eq!(client.call("GET", "/a", None).unwrap().status, 200);
        // Sent on the kept connection first, which the service closed: sent again.
        assert_eq!(client.call("POST", "/b", None).unwrap().status, 200);
        server.join().unwrap();
    }

    /// The service closes a kept connection just as the next request arrives, unread: the
    /// client reads a reset, not an end, and must send the request again all the same.
    #[test]
    fn a_kept_connection_reset_with_the_request_unread_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        let read_request = |stream: &mut UnixStream| {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
            }
        };
        let server = std::thread::spawn(move || {
            let (mut first, _) = listener.accept().unwrap();
            read_request(&mut first);
            first.write_all(answer).unwrap();
            // Closed once the second request is there, all but its first byte unread.
            first.read_exact(&mut [0u8; 1]).unwrap();
            drop(first);
            let (mut second, _) = listener.accept().unwrap();
            read_request(&mut second);
            second.write_all(answer).unwrap();
        });
        let mut client = Client::new(Endpoint::Unix(path));
        assert_eq!(client.call("GET", "/a", None).unwrap().status, 200);
        assert_eq!(client.call("POST", "/b", None).unwrap().status, 200);
        server.join().unwrap();
    }

    /// A TLS 1.3 service refuses a client without a certificate by an alert after the
    /// client's side of the handshake: the relay can end on it before the request is
    /// written. The write's failure then says why, not "closed without an answer".
    #[test]
    fn a_tls_refusal_before_the_request_is_written_says_why() {
        let testdata = |name: &str| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../rpod-api/testdata/tls")
                .join(name)
        };
        let tls = rpod_api::tls::Tls::load(&rpod_api::tls::TlsFiles {
            cert: testdata("server.crt"),
            key: testdata("server.key"),
            client_ca: Some(testdata("ca.crt")),
        })
        .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            for tcp in listener.incoming().flatten() {
                kept.push(tls.terminate(std::os::fd::OwnedFd::from(tcp)));
            }
        });
        let files = TlsClientFiles {
            ca: testdata("ca.crt"),
            identity: None,
        };
        let client = TlsClient::load(&files).unwrap();
        let endpoint = Endpoint::Tls {
            address: address.clone(),
            files,
        };
        let mut connection = Connection::open_tls(&address, &client, &endpoint).unwrap();
        let failure = connection.tls_failure.clone().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while failure.get().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The relay closes its plain end right after noting why.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let error = Client::exchange(&mut connection, "GET", "/_ping", None).unwrap_err();
        assert!(
            format!("{error:#}").contains("CertificateRequired"),
            "{error:#}"
        );
    }

    #[test]
    fn writes_to_a_closed_socket_are_broken_pipe_errors() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        drop(theirs);
        let error = Quiet(&ours).write(b"x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn an_answer_that_is_not_http_is_an_error() {
        let (path, server, _dir) = serve_once(b"SSH-2.0-OpenSSH\r\n\r\n");
        let mut client = Client::new(Endpoint::Unix(path));
        let error = client.call("GET", "/version", None).unwrap_err();
        assert!(format!("{error:#}").contains("not HTTP"), "{error:#}");
        server.join().unwrap();
    }

    #[test]
    fn a_missing_socket_says_where_it_looked() {
        let mut client = Client::new(Endpoint::Unix("/nonexistent/api.sock".into()));
        let error = client.call("GET", "/version", None).unwrap_err();
        assert!(
            format!("{error:#}").contains("unix:///nonexistent/api.sock"),
            "{error:#}"
        );
    }
}
