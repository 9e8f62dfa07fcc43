//! rpod's client side of TLS to a service on TCP (`--tls-ca`, `--tls-cert`, `--tls-key`,
//! podman 5's client flags): the handshake is done before the connection is handed over,
//! so a certificate the client does not trust fails there, with rustls's reason; then the
//! relay of `tls.rs` carries the bytes, and the client reads and writes a plain socket
//! pair, half-closes included, as for a unix socket.

use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore};

use crate::tls::{certificates, handshake, relay};

/// What a client trusts and what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientFiles {
    /// The CA certificates (PEM) the service's certificate must chain to.
    pub ca: PathBuf,
    /// The client's certificate chain and its private key (PEM), for a service that asks
    /// for one.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// Why a connection's relay ended early, once it has (the peer's alert, a broken record):
/// the client reads only an end of its plain socket, and says this instead.
pub type RelayFailure = Arc<OnceLock<String>>;

/// A loaded client configuration.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
}

impl TlsClient {
    /// Read and check the files: the CA file must hold a usable certificate, the key must
    /// match the client's certificate.
    pub fn load(files: &TlsClientFiles) -> Result<TlsClient, String> {
        let mut roots = RootCertStore::empty();
        for cert in certificates(&files.ca)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: not a usable CA: {e}", files.ca.display()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("setting up TLS: {e}"))?
            .with_root_certificates(roots);
        let mut config = match &files.identity {
            Some((cert, key)) => {
                let certs = certificates(cert)?;
                let private = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("reading the private key {}: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(certs, private)
                    .map_err(|e| format!("{} and {}: {e}", cert.display(), key.display()))?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsClient {
            config: Arc::new(config),
        })
    }

    /// TLS on `tcp`, connected to `address` (HOST:PORT; HOST is what the service's
    /// certificate must name): the handshake here, then a relay thread. Returns the plain
    /// end and where the relay leaves why it failed, if it does.
    pub fn connect(&self, address: &str, tcp: TcpStream) -> io::Result<(UnixStream, RelayFailure)> {
        let host = host_of(address);
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host:?} cannot be checked against a certificate: {e}"),
            )
        })?;
        let mut tls = Connection::Client(
            ClientConnection::new(self.config.clone(), name).map_err(io::Error::other)?,
        );
        let mut tcp = tcp;
        handshake(&mut tls, &mut tcp)?;
        let (inner, outer) = UnixStream::pair()?;
        let failure = RelayFailure::default();
        let noted = failure.clone();
        std::thread::Builder::new()
            .name("client-tls".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut outer = outer;
                if let Err(e) = relay(tls, tcp, &mut outer, None) {
                    // Noted before the plain end closes, so a reader that sees the end
                    // finds the reason.
                    let _ = noted.set(e.to_string());
                }
                drop(outer);
            })?;
        Ok((inner, failure))
    }
}

/// HOST of HOST:PORT, without an IPv6 address's brackets.
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::tests::testdata;
    use crate::tls::{Tls, TlsFiles};
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::os::fd::OwnedFd;

    fn client(identity: bool) -> TlsClient {
        TlsClient::load(&TlsClientFiles {
            ca: testdata("ca.crt"),
            identity: identity.then(|| (testdata("client.crt"), testdata("client.key"))),
        })
        .unwrap()
    }

    /// A service's TLS end on a listener of its own: the plain ends it accepts.
    fn service(verifies_clients: bool) -> (u16, std::sync::mpsc::Receiver<UnixStream>) {
        let tls = Tls::load(&TlsFiles {
            cert: testdata("server.crt"),
            key: testdata("server.key"),
            client_ca: verifies_clients.then(|| testdata("ca.crt")),
        })
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, accepted) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let plain = UnixStream::from(tls.terminate(OwnedFd::from(tcp)).unwrap());
                if sender.send(plain).is_err() {
                    return;
                }
            }
        });
        (port, accepted)
    }

    fn dial(client: &TlsClient, port: u16) -> io::Result<(UnixStream, RelayFailure)> {
        let address = format!("127.0.0.1:{port}");
        client.connect(&address, TcpStream::connect(&address)?)
    }

    #[test]
    fn plain_bytes_and_half_closes_cross_both_relays() {
        let (port, accepted) = service(true);
        let (mut mine, failure) = dial(&client(true), port).unwrap();
        let mut theirs = accepted.recv().unwrap();
        mine.write_all(b"request").unwrap();
        mine.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).unwrap();
        assert_eq!(
            got, b"request",
            "the client's half-close ends what it sends"
        );
        // The service answers long after the client's half-close (an attach's output
        // after stdin's end): the client's side does not give up on it.
        std::thread::sleep(crate::tls::LINGER + std::time::Duration::from_millis(500));
        let big = vec![5u8; 3 << 20];
        theirs.write_all(&big).unwrap();
        theirs.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        mine.read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), big.len());
        assert!(back == big);
        assert!(failure.get().is_none(), "{:?}", failure.get());
    }

    #[test]
    fn a_service_certificate_of_another_ca_fails_the_handshake() {
        let (port, _accepted) = service(false);
        // The service's own certificate is no CA: nothing chains to it.
        let stranger = TlsClient::load(&TlsClientFiles {
            ca: testdata("server.crt"),
            identity: None,
        })
        .unwrap();
        let err = dial(&stranger, port).expect_err("an untrusted service");
        assert!(err.to_string().contains("certificate"), "{err}");
        // Named by an address the certificate does not hold (it names 127.0.0.1).
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let err = client(false)
            .connect(&format!("localhost:{port}"), tcp)
            .expect_err("a name the certificate does not hold");
        assert!(err.to_string().contains("certificate"), "{err}");
    }

    #[test]
    fn a_client_without_the_certificate_a_service_asks_for_learns_why() {
        let (port, _accepted) = service(true);
        match dial(&client(false), port) {
            // TLS 1.2 refuses in the handshake.
            Err(e) => assert!(!e.to_string().is_empty()),
            // TLS 1.3 finishes the client's side first: the refusal comes as an alert,
            // and the relay notes it before the plain end closes.
            Ok((mut mine, failure)) => {
                let _ = mine.write_all(b"GET / HTTP/1.1\r\n\r\n");
                let mut answer = Vec::new();
                let _ = mine.read_to_end(&mut answer);
                assert!(answer.is_empty(), "answered: {answer:?}");
                let why = failure.get().expect("the relay's reason");
                assert!(why.contains("Certificate"), "{why}");
            }
        }
    }

    #[test]
    fn files_that_do_not_fit_are_refused_with_their_names() {
        let load = |ca: &str, identity: Option<(&str, &str)>| {
            TlsClient::load(&TlsClientFiles {
                ca: testdata(ca),
                identity: identity.map(|(c, k)| (testdata(c), testdata(k))),
            })
            .err()
        };
        let err = load("README.md", None).unwrap();
        assert!(err.contains("README.md"), "{err}");
        let err = load("ca.crt", Some(("client.crt", "server.key"))).unwrap();
        assert!(err.contains("server.key"), "{err}");
        let err = load("ca.crt", Some(("client.crt", "missing.key"))).unwrap();
        assert!(err.contains("missing.key"), "{err}");
        assert!(load("ca.crt", Some(("client.crt", "client.key"))).is_none());
        assert_eq!(host_of("[::1]:8443"), "::1");
        assert_eq!(host_of("example.com:8443"), "example.com");
    }
}
