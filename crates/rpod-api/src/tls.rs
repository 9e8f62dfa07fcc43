//! TLS for a service on TCP (`--tls-cert`, `--tls-key`, `--tls-client-ca`, podman 5's
//! flags; the docker CLI's `--tlsverify` is the client).
//!
//! Each accepted connection's TLS ends in a relay thread of its own, which hands the
//! plain bytes to the usual connection code over a socket pair. Everything that works on a
//! connection's descriptor (poll, half-close, hang-up detection, the attach and exec
//! copies of the OCI layer) thus works unchanged over TLS; the price, a thread and a copy
//! per connection, is paid by remote clients only. rustls does the TLS (ring's provider,
//! the same rustls the registry client links). rpod's own client of a TLS service
//! (`tls_client.rs`) runs the same relay on its side.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{Connection, RootCertStore, ServerConfig, ServerConnection};

/// How long a handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// The most plaintext moved at once in either direction.
const CHUNK: usize = 64 * 1024;
/// How long a client may go on sending once the service closed its side.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// The files a TLS service is given.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Accept only clients with a certificate signed by one of these CAs (PEM).
    pub client_ca: Option<PathBuf>,
}

/// A loaded TLS configuration, ready to take connections.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
    verifies_clients: bool,
}

pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("reading certificates from {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reading certificates from {shown}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{shown} holds no PEM certificate"));
    }
    Ok(certs)
}

impl Tls {
    /// Read and check the files: the key must match the certificate, and a client CA file
    /// must hold at least one CA.
    pub fn load(files: &TlsFiles) -> Result<Tls, String> {
        let certs = certificates(&files.cert)?;
        let key = PrivateKeyDer::from_pem_file(&files.key)
            .map_err(|e| format!("reading the private key {}: {e}", files.key.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("setting up TLS: {e}"))?;
        let builder = match &files.client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(ca)? {
                    roots
                        .add(cert)
                        .map_err(|e| format!("{}: not a usable CA: {e}", ca.display()))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("{} and {}: {e}", files.cert.display(), files.key.display()))?;
        // The API is HTTP/1.1 (attach and exec take the connection over).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            verifies_clients: files.client_ca.is_some(),
        })
    }

    /// Whether only clients with a certificate of the client CA get in.
    pub fn verifies_clients(&self) -> bool {
        self.verifies_clients
    }

    /// Take over an accepted TCP connection: returns the plain end, which the usual
    /// connection code serves; a relay thread does the TLS on the other.
    pub fn terminate(&self, tcp: OwnedFd) -> io::Result<OwnedFd> {
        let (inner, outer) = UnixStream::pair()?;
        let tcp = TcpStream::from(tcp);
        let config = self.config.clone();
        std::thread::Builder::new()
            .name("api-tls".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut outer = outer;
                let served = ServerConnection::new(config)
                    .map_err(io::Error::other)
                    .map(Connection::Server)
                    .and_then(|mut tls| {
                        let mut tcp = tcp;
                        if let Err(e) = handshake(&mut tls, &mut tcp) {
                            refuse_gently(&mut tls, &mut tcp);
                            return Err(e);
                        }
                        relay(tls, tcp, &mut outer, Some(LINGER))
                    });
                if let Err(e) = served {
                    tracing::debug!("TLS connection: {e}");
                }
            })?;
        Ok(OwnedFd::from(inner))
    }
}

/// After a failed handshake: the alert that says why (a missing client certificate, ...)
/// sent, then the connection closed without a reset. A TLS 1.3 client sends its request
/// right after its part of the handshake; closing with that request unread makes the
/// kernel reset the connection, and the client may see the reset before the alert
/// ("closed without an answer" instead of "certificate required"). So the sending side is
/// shut and what the client sent is read away, for at most `LINGER`.
fn refuse_gently(tls: &mut Connection, tcp: &mut TcpStream) {
    let deadline = Instant::now() + LINGER;
    let _ = tcp.set_write_timeout(Some(LINGER));
    while tls.wants_write() {
        if !matches!(tls.write_tls(tcp), Ok(n) if n > 0) {
            break;
        }
    }
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || tcp.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match tcp.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The handshake, bounded by `HANDSHAKE` (either side's).
pub(crate) fn handshake(tls: &mut Connection, tcp: &mut TcpStream) -> io::Result<()> {
    let deadline = Instant::now() + HANDSHAKE;
    while tls.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "handshake too slow",
            ));
        }
        tcp.set_read_timeout(Some(left))?;
        tcp.set_write_timeout(Some(left))?;
        if tls.complete_io(tcp)? == (0, 0) && tls.is_handshaking() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed during the handshake",
            ));
        }
    }
    Ok(())
}

/// After the handshake: the two directions between the peer (`tcp`) and the plain end's
/// other side (`plain`), until both ended. Either side's: the service's for each client,
/// rpod's client for its connection to a TLS service. `linger`: how long the peer may go
/// on sending once the inner side ended (a service's bound on a client that does not
/// close; none for a client, whose service sends an attach's output long after stdin).
pub(crate) fn relay(
    mut tls: Connection,
    tcp: TcpStream,
    plain: &mut UnixStream,
    linger: Option<Duration>,
) -> io::Result<()> {
    tcp.set_read_timeout(None)?;
    tcp.set_write_timeout(None)?;
    // Backpressure is the loop's (it takes no more from a side whose bytes are pending).
    tls.set_buffer_limit(None);
    tcp.set_nonblocking(true)?;
    plain.set_nonblocking(true)?;
    Relay {
        tls,
        tcp,
        plain,
        to_plain: Vec::new(),
        sent: 0,
        tcp_eof: false,
        peer_ended: false,
        plain_shut: false,
        inner_ended: false,
        tcp_shut: false,
        linger,
        linger_until: None,
    }
    .run()
}

struct Relay<'a> {
    tls: Connection,
    tcp: TcpStream,
    plain: &'a mut UnixStream,
    /// Decrypted bytes not yet taken by the inner side, from `sent` on.
    to_plain: Vec<u8>,
    sent: usize,
    /// No more TLS records will come (the socket's end, or the peer's close_notify).
    tcp_eof: bool,
    /// Every byte the peer sent is decrypted.
    peer_ended: bool,
    /// The inner side was told (half-close) that the peer ended.
    plain_shut: bool,
    /// The inner side closed its writing end.
    inner_ended: bool,
    /// The peer was told (close_notify, half-close) that the inner side ended.
    tcp_shut: bool,
    linger: Option<Duration>,
    linger_until: Option<Instant>,
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl Relay<'_> {
    fn run(mut self) -> io::Result<()> {
        let mut buffer = vec![0u8; CHUNK];
        loop {
            self.deliver_plaintext(&mut buffer)?;
            self.send_records()?;
            if self.plain_shut && self.tcp_shut {
                return Ok(());
            }
            let tcp_in = !self.tcp_eof && !self.peer_ended && self.to_plain.is_empty();
            let tcp_out = self.tls.wants_write();
            let plain_in = !self.inner_ended && !self.tls.wants_write();
            let plain_out = !self.to_plain.is_empty();
            if !(tcp_in || tcp_out || plain_in || plain_out) {
                return Ok(());
            }
            // Once the inner side is closed and sent, the peer gets a moment to close
            // its own, not forever.
            let timeout = match self.linger_until {
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(());
                    }
                    PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            let flags = |read: bool, write: bool| {
                let mut flags = PollFlags::empty();
                if read {
                    flags |= PollFlags::POLLIN;
                }
                if write {
                    flags |= PollFlags::POLLOUT;
                }
                flags
            };
            let (tcp_ready, plain_ready) = {
                let mut fds = [
                    PollFd::new(self.tcp.as_fd(), flags(tcp_in, tcp_out)),
                    PollFd::new(self.plain.as_fd(), flags(plain_in, plain_out)),
                ];
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
                let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
                (ready(&fds[0]), ready(&fds[1]))
            };
            if tcp_ready && tcp_in {
                self.receive_records()?;
            }
            if plain_ready && plain_in {
                self.take_plaintext(&mut buffer)?;
            }
        }
    }

    /// Decrypted bytes to the inner side, as far as it takes them.
    fn deliver_plaintext(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        loop {
            if self.sent < self.to_plain.len() {
                match self.plain.write(&self.to_plain[self.sent..]) {
                    Ok(n) => self.sent += n,
                    Err(e) if would_block(&e) => return Ok(()),
                    Err(e) => return Err(e),
                }
                continue;
            }
            self.to_plain.clear();
            self.sent = 0;
            if self.peer_ended {
                if !self.plain_shut {
                    let _ = self.plain.shutdown(std::net::Shutdown::Write);
                    self.plain_shut = true;
                }
                return Ok(());
            }
            match self.tls.reader().read(buffer) {
                Ok(0) => self.peer_ended = true,
                Ok(n) => self.to_plain.extend_from_slice(&buffer[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                // The socket ended without a close_notify: nothing more will come.
                Err(_) => self.peer_ended = true,
            }
        }
    }

    /// Encrypted records to the peer, as far as its socket takes them.
    fn send_records(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        if self.inner_ended && !self.tcp_shut {
            let _ = self.tcp.shutdown(std::net::Shutdown::Write);
            self.tcp_shut = true;
            self.linger_until = self.linger.map(|linger| Instant::now() + linger);
        }
        Ok(())
    }

    fn receive_records(&mut self) -> io::Result<()> {
        match self.tls.read_tls(&mut self.tcp) {
            Ok(0) => {
                self.tcp_eof = true;
                Ok(())
            }
            Ok(_) => match self.tls.process_new_packets() {
                Ok(_) => Ok(()),
                Err(e) => {
                    // The alert that says why, if the socket takes it.
                    let _ = self.tls.write_tls(&mut self.tcp);
                    Err(io::Error::new(io::ErrorKind::InvalidData, e))
                }
            },
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn take_plaintext(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        match self.plain.read(buffer) {
            Ok(0) => {
                self.inner_ended = true;
                self.tls.send_close_notify();
            }
            Ok(n) => self.tls.writer().write_all(&buffer[..n])?,
            Err(e) if would_block(&e) => {}
            Err(_) => {
                self.inner_ended = true;
                self.tls.send_close_notify();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, StreamOwned};
    use std::net::TcpListener;

    /// A file of the tests' certificates (`testdata/tls`), also `tls_client.rs`'s.
    pub(crate) fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/tls")
            .join(name)
    }

    fn server(client_ca: bool) -> Tls {
        Tls::load(&TlsFiles {
            cert: testdata("server.crt"),
            key: testdata("server.key"),
            client_ca: client_ca.then(|| testdata("ca.crt")),
        })
        .unwrap()
    }

    /// A TLS client of the server's CA, with the client certificate or without one.
    fn client(
        port: u16,
        with_certificate: bool,
    ) -> io::Result<StreamOwned<ClientConnection, TcpStream>> {
        let mut roots = RootCertStore::empty();
        roots
            .add(certificates(&testdata("ca.crt")).unwrap()[0].clone())
            .unwrap();
        let builder =
            ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots);
        let config = if with_certificate {
            let certs = certificates(&testdata("client.crt")).unwrap();
            let key = PrivateKeyDer::from_pem_file(testdata("client.key")).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let connection = ClientConnection::new(Arc::new(config), name).unwrap();
        let mut stream = StreamOwned::new(connection, TcpStream::connect(("127.0.0.1", port))?);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(stream)
    }

    /// One accepted connection, handed to `tls`: the plain end.
    fn accept(listener: &TcpListener, tls: &Tls) -> UnixStream {
        let (tcp, _) = listener.accept().unwrap();
        UnixStream::from(tls.terminate(OwnedFd::from(tcp)).unwrap())
    }

    #[test]
    fn bytes_and_half_closes_cross_the_relay_both_ways() {
        let tls = server(true);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let talker = std::thread::spawn(move || {
            let mut stream = client(port, true).unwrap();
            stream.write_all(b"ping").unwrap();
            stream.flush().unwrap();
            let mut answer = [0u8; 4];
            stream.read_exact(&mut answer).unwrap();
            assert_eq!(&answer, b"pong");
            // The client is done sending; the service still answers.
            stream.conn.send_close_notify();
            stream.flush().unwrap();
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).unwrap();
            rest
        });
        let mut plain = accept(&listener, &tls);
        let mut got = [0u8; 4];
        plain.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        plain.write_all(b"pong").unwrap();
        let mut after = Vec::new();
        plain.read_to_end(&mut after).unwrap();
        assert!(
            after.is_empty(),
            "the client's close_notify ends what it sends"
        );
        let big = vec![7u8; 3 << 20];
        plain.write_all(&big).unwrap();
        plain.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(talker.join().unwrap(), big);
    }

    #[test]
    fn a_client_without_a_certificate_never_reaches_the_service() {
        let tls = server(true);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let talker = std::thread::spawn(move || {
            // TLS 1.3 may finish the client's side before the server refuses it: then its
            // first read fails.
            match client(port, false) {
                Err(_) => true,
                Ok(mut stream) => {
                    let _ = stream.write_all(b"GET / HTTP/1.1\r\n\r\n");
                    let mut answer = Vec::new();
                    stream.read_to_end(&mut answer).is_err() || answer.is_empty()
                }
            }
        });
        let mut plain = accept(&listener, &tls);
        let mut got = Vec::new();
        plain.read_to_end(&mut got).unwrap();
        assert!(got.is_empty(), "the service saw {got:?}");
        assert!(talker.join().unwrap(), "the client was answered");
        // Without --tls-client-ca, the same client gets through.
        let open = server(false);
        let talker = std::thread::spawn(move || {
            let mut stream = client(port, false).unwrap();
            stream.write_all(b"hi").unwrap();
            stream.flush().unwrap();
            stream.conn.send_close_notify();
            stream.flush().unwrap();
        });
        let mut plain = accept(&listener, &open);
        let mut got = Vec::new();
        plain.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hi");
        talker.join().unwrap();
    }

    #[test]
    fn files_that_do_not_fit_are_refused_with_their_names() {
        let load = |cert: &str, key: &str, ca: Option<&str>| {
            Tls::load(&TlsFiles {
                cert: testdata(cert),
                key: testdata(key),
                client_ca: ca.map(testdata),
            })
        };
        let err = load("server.crt", "client.key", None).err().unwrap();
        assert!(err.contains("client.key"), "{err}");
        let err = load("server.key", "server.key", None).err().unwrap();
        assert!(err.contains("no PEM certificate"), "{err}");
        let err = load("server.crt", "missing.key", None).err().unwrap();
        assert!(err.contains("missing.key"), "{err}");
        let err = load("server.crt", "server.key", Some("README.md"))
            .err()
            .unwrap();
        assert!(err.contains("README.md"), "{err}");
        assert!(load("server.crt", "server.key", Some("ca.crt")).is_ok());
    }
}
