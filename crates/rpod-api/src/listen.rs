//! Where the service listens: a unix socket (the default), a TCP address, or a socket
//! inherited through systemd's socket activation.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A listening address as `rpod system service` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenUri {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl ListenUri {
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "{text}: a unix socket needs an absolute path (unix:///path/to.sock)"
                ));
            }
            return Ok(ListenUri::Unix(PathBuf::from(path)));
        }
        if let Some(address) = text.strip_prefix("tcp://") {
            let address = address.trim_end_matches('/');
            return address.parse().map(ListenUri::Tcp).map_err(|_| {
                format!("{text}: expected tcp://IP:PORT (e.g. tcp://127.0.0.1:8080)")
            });
        }
        Err(format!(
            "{text}: unsupported address, use unix:///PATH or tcp://IP:PORT"
        ))
    }
}

impl std::fmt::Display for ListenUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenUri::Unix(path) => write!(f, "unix://{}", path.display()),
            ListenUri::Tcp(address) => write!(f, "tcp://{address}"),
        }
    }
}

/// A bound listener. A unix socket made by the service is removed when it is dropped.
pub struct Listener {
    pub kind: ListenerKind,
    /// The socket file the service made (and removes), with the lock that keeps a second
    /// service off it.
    owned_path: Option<(PathBuf, nix::fcntl::Flock<fs::File>)>,
}

pub enum ListenerKind {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match &self.kind {
            ListenerKind::Unix(l) => l.as_fd(),
            ListenerKind::Tcp(l) => l.as_fd(),
        }
    }

    /// The address of a TCP listener.
    pub fn tcp_address(&self) -> Option<SocketAddr> {
        match &self.kind {
            ListenerKind::Tcp(l) => l.local_addr().ok(),
            ListenerKind::Unix(_) => None,
        }
    }

    /// What a person should know before exposing this listener: a TCP address other than
    /// loopback that lets in anyone who reaches it (no TLS, or TLS without client
    /// certificates).
    pub fn exposure_warning(&self, tls: Option<&crate::tls::Tls>) -> Option<String> {
        let address = self.tcp_address().filter(|a| !a.ip().is_loopback())?;
        match tls {
            None => Some(format!(
                "the API on tcp://{address} has no authentication: anyone who reaches it controls rpod as root (--tls-cert, --tls-key and --tls-client-ca)"
            )),
            Some(tls) if !tls.verifies_clients() => Some(format!(
                "the API on tcp://{address} takes any TLS client: anyone who reaches it controls rpod as root (--tls-client-ca)"
            )),
            Some(_) => None,
        }
    }

    /// Accept one connection (blocking: call once the listener is readable).
    pub fn accept(&self) -> std::io::Result<OwnedFd> {
        match &self.kind {
            ListenerKind::Unix(l) => l.accept().map(|(s, _)| OwnedFd::from(s)),
            ListenerKind::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                OwnedFd::from(s)
            }),
        }
    }

    pub fn set_nonblocking(&self) -> std::io::Result<()> {
        match &self.kind {
            ListenerKind::Unix(l) => l.set_nonblocking(true),
            ListenerKind::Tcp(l) => l.set_nonblocking(true),
        }
    }

    /// Bind `uri`. A unix socket is made with mode 0660 in a directory made 0700 when
    /// missing; a stale socket file (nobody listening) is replaced, a live one is not.
    pub fn bind(uri: &ListenUri) -> Result<Listener, String> {
        match uri {
            ListenUri::Tcp(address) => {
                let listener = TcpListener::bind(address)
                    .map_err(|e| format!("listening on tcp://{address}: {e}"))?;
                Ok(Listener {
                    kind: ListenerKind::Tcp(listener),
                    owned_path: None,
                })
            }
            ListenUri::Unix(path) => bind_unix(path),
        }
    }

    /// The socket systemd passed (`LISTEN_PID` is us, `LISTEN_FDS` ≥ 1: descriptor 3), if
    /// any. The variables are removed so that children do not take the socket for theirs.
    pub fn from_activation() -> Result<Option<Listener>, String> {
        let pid_matches = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            .is_some_and(|p| p == std::process::id());
        let count = std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(0);
        if !pid_matches || count == 0 {
            return Ok(None);
        }
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
        const FIRST: i32 = 3;
        let address = nix::sys::socket::getsockname::<nix::sys::socket::SockaddrStorage>(FIRST)
            .map_err(|e| format!("socket activation: descriptor 3 is not a socket: {e}"))?;
        #[allow(unsafe_code)]
        // SAFETY: systemd's protocol hands descriptor 3 to this process, and nothing else
        // in it owns that descriptor; it becomes the listener's alone.
        let fd = unsafe { OwnedFd::from_raw_fd(FIRST) };
        let _ = nix::fcntl::fcntl(
            &fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        let kind = if address.as_unix_addr().is_some() {
            ListenerKind::Unix(UnixListener::from(fd))
        } else if address.as_sockaddr_in().is_some() || address.as_sockaddr_in6().is_some() {
            ListenerKind::Tcp(TcpListener::from(fd))
        } else {
            return Err(
                "socket activation: descriptor 3 is neither a unix nor a TCP socket".into(),
            );
        };
        Ok(Some(Listener {
            kind,
            owned_path: None,
        }))
    }
}

fn bind_unix(path: &Path) -> Result<Listener, String> {
    let shown = path.display();
    if let Some(parent) = path.parent() {
        if !parent.exists() {
            fs::create_dir_all(parent)
                .and_then(|()| fs::set_permissions(parent, fs::Permissions::from_mode(0o700)))
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
    }
    // The lock keeps two services from both judging the socket stale and replacing it.
    let lock_path = PathBuf::from(format!("{shown}.lock"));
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("opening {}: {e}", lock_path.display()))?;
    let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| format!("{shown} is in use: another rpod service is listening on it"))?;
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(format!("{shown} is in use: a service is listening on it"));
            }
            // Left by a service that was killed.
            fs::remove_file(path).map_err(|e| format!("removing stale socket {shown}: {e}"))?;
        }
        Ok(_) => {
            return Err(format!(
                "{shown} exists and is not a socket; remove it or choose another path"
            ))
        }
        Err(_) => {}
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("listening on {shown}: {e}"))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("setting the mode of {shown}: {e}"))?;
    Ok(Listener {
        kind: ListenerKind::Unix(listener),
        owned_path: Some((path.to_path_buf(), lock)),
    })
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some((path, _lock)) = &self.owned_path {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_and_bad_ones_say_why() {
        assert_eq!(
            ListenUri::parse("unix:///run/rpod/rpod.sock").unwrap(),
            ListenUri::Unix("/run/rpod/rpod.sock".into())
        );
        assert_eq!(
            ListenUri::parse("tcp://127.0.0.1:8080").unwrap(),
            ListenUri::Tcp("127.0.0.1:8080".parse().unwrap())
        );
        for bad in [
            "unix://relative.sock",
            "tcp://localhost",
            "http://x",
            "/run/x.sock",
        ] {
            assert!(ListenUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unix_sockets_are_0660_stale_ones_replaced_live_ones_kept_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/api.sock");
        let uri = ListenUri::Unix(path.clone());
        let first = Listener::bind(&uri).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let parent_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(parent_mode & 0o777, 0o700);
        let err = Listener::bind(&uri).err().unwrap();
        assert!(err.contains("in use"), "{err}");
        // A stale socket: bound by a listener that is gone, file left behind.
        drop(first);
        assert!(!path.exists());
        let stale = UnixListener::bind(&path).unwrap();
        drop(stale);
        assert!(path.exists());
        let second = Listener::bind(&uri).unwrap();
        assert!(UnixStream::connect(&path).is_ok());
        drop(second);
        // Not a socket: left alone.
        fs::write(&path, "data").unwrap();
        let err = Listener::bind(&uri).err().unwrap();
        assert!(err.contains("not a socket"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "data");
    }
}
