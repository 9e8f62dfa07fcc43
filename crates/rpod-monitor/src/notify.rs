//! `--sdnotify-socket HOST_SOCKET` (`--sdnotify container`), as conmon serves it: the
//! monitor binds a datagram socket at `BUNDLE/notify/notify.sock` (the engine mounts that
//! directory at `/run/notify` in the container and gives it `NOTIFY_SOCKET`), and passes
//! what the container tells systemd on to the host's socket for as long as the container
//! runs. Only the messages of a service's own state go on (conmon's list): the main
//! process is the monitor's, which the engine tells systemd itself.
//!
//! Written by hand: a datagram socket the standard library has; the proxy is a read and a
//! send.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};

/// The lines passed on: whole ones, and those that begin so.
const WHOLE: &[&str] = &[
    "READY=1",
    "RELOADING=1",
    "STOPPING=1",
    "WATCHDOG=1",
    "WATCHDOG=trigger",
];
const PREFIXES: &[&str] = &["STATUS=", "ERRNO=", "BUSERROR=", "MONOTONIC_USEC="];

/// The most messages passed on in one turn of the monitor's loop.
const MAX_MESSAGES_AT_ONCE: usize = 64;

/// The largest message read (systemd's own limit for one is larger, but a service's state
/// fits many times over).
const MAX_MESSAGE: usize = 4096;

/// The lines of `message` that may reach the host's socket, as one message (`None`: none).
pub fn passed_on(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let lines: Vec<&str> = text
        .split('\n')
        .filter(|line| WHOLE.contains(line) || PREFIXES.iter().any(|p| line.starts_with(p)))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// A socket address `NOTIFY_SOCKET` names: a path, or with `@` an abstract name.
fn address(text: &OsStr) -> io::Result<SocketAddr> {
    match text.as_bytes().strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        None => SocketAddr::from_pathname(text),
    }
}

/// The proxy: the container's socket and the host's address.
pub struct NotifyProxy {
    socket: UnixDatagram,
    path: PathBuf,
    host: SocketAddr,
}

impl NotifyProxy {
    /// Bind `BUNDLE/notify/notify.sock` (the directory made if missing; a socket left
    /// there by an earlier start replaced), writable by the container's every user.
    pub fn bind(bundle: &Path, host: &OsStr) -> io::Result<NotifyProxy> {
        let host = address(host)?;
        let dir = bundle.join("notify");
        match std::fs::create_dir(&dir) {
            Ok(()) => std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let path = dir.join("notify.sock");
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // Bound through the directory's descriptor: a bundle's path may be longer than a
        // socket address holds (as the attach socket is bound with `--full-attach`).
        let dir_fd = std::fs::File::open(&dir)?;
        let short = format!("/proc/self/fd/{}/notify.sock", dir_fd.as_raw_fd());
        let socket = UnixDatagram::bind(&short)?;
        drop(dir_fd);
        socket.set_nonblocking(true)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))?;
        Ok(NotifyProxy { socket, path, host })
    }

    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Pass on what waits to be read, up to `MAX_MESSAGES_AT_ONCE` (the poll loop comes
    /// back for the rest: a container that floods its socket cannot hold the monitor from
    /// its other work). A host socket that is gone loses the message (as systemd's own
    /// clients do); the container goes on.
    pub fn relay(&self) {
        let mut buffer = [0u8; MAX_MESSAGE];
        for _ in 0..MAX_MESSAGES_AT_ONCE {
            let n = match self.socket.recv(&mut buffer) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            if let Some(message) = passed_on(&buffer[..n]) {
                let _ = self.socket.send_to_addr(message.as_bytes(), &self.host);
            }
        }
    }
}

impl Drop for NotifyProxy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service's state goes on; the main process and other lines do not.
    #[test]
    fn only_a_services_state_is_passed_on() {
        assert_eq!(
            passed_on(b"READY=1\nMAINPID=1\nSTATUS=up\nX_SYSTEMD_UNIT=x").as_deref(),
            Some("READY=1\nSTATUS=up")
        );
        assert_eq!(passed_on(b"MAINPID=7\n"), None);
        assert_eq!(passed_on(b"READY=10"), None);
        assert_eq!(
            passed_on(b"WATCHDOG=trigger\nERRNO=2").as_deref(),
            Some("WATCHDOG=trigger\nERRNO=2")
        );
    }

    /// What the container sends reaches the host's socket, filtered; the socket goes when
    /// the proxy does.
    #[test]
    fn messages_reach_the_hosts_socket() {
        let dir = tempfile::tempdir().unwrap();
        let host_path = dir.path().join("host.sock");
        let host = UnixDatagram::bind(&host_path).unwrap();
        host.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let proxy = NotifyProxy::bind(dir.path(), host_path.as_os_str()).unwrap();
        let inside = dir.path().join("notify/notify.sock");
        let mode = std::fs::metadata(&inside).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o777);
        let sender = UnixDatagram::unbound().unwrap();
        sender.send_to(b"MAINPID=3\nREADY=1\n", &inside).unwrap();
        sender.send_to(b"MAINPID=3\n", &inside).unwrap();
        sender.send_to(b"STATUS=serving", &inside).unwrap();
        proxy.relay();
        let mut buffer = [0u8; 64];
        let n = host.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"READY=1");
        let n = host.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"STATUS=serving");
        drop(proxy);
        assert!(!inside.exists());
    }
}
