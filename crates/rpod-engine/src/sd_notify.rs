//! systemd's readiness protocol, for `--sdnotify conmon`: once rpod has started the
//! container, it tells the service manager that named a socket in `NOTIFY_SOCKET` that
//! the service is ready and that its main process is the container's monitor (which
//! outlives rpod), as podman does for that mode. With `--sdnotify container` it tells
//! only the main process: the container says when it is ready, through its monitor.
//!
//! Written by hand: it is one datagram to one socket, which the standard library sends.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The message: the main process, then readiness.
fn ready_message(main_pid: i32) -> String {
    format!("MAINPID={main_pid}\nREADY=1\n")
}

/// The socket `NOTIFY_SOCKET` names: a path, or with `@` a name in the abstract namespace
/// (taken as bytes: a path need not be UTF-8).
fn socket_address(text: &OsStr) -> io::Result<SocketAddr> {
    match text.as_bytes().strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        None => SocketAddr::from_pathname(text),
    }
}

/// Tell the service manager the service is ready, its main process `main_pid`. Nothing
/// happens without `NOTIFY_SOCKET`.
pub fn notify_ready(main_pid: i32) -> io::Result<()> {
    send(&ready_message(main_pid))
}

/// Tell the service manager the service's main process is `main_pid` (`--sdnotify
/// container`: the container says when it is ready).
pub fn notify_main_pid(main_pid: i32) -> io::Result<()> {
    send(&format!("MAINPID={main_pid}\n"))
}

/// One message to `NOTIFY_SOCKET`'s socket; nothing without it.
fn send(message: &str) -> io::Result<()> {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let address = socket_address(&socket)?;
    let sender = UnixDatagram::unbound()?;
    sender.send_to_addr(message.as_bytes(), &address)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_monitor_then_readiness() {
        assert_eq!(ready_message(4321), "MAINPID=4321\nREADY=1\n");
    }

    #[test]
    fn a_message_reaches_a_socket_by_path_and_by_abstract_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let receiver = UnixDatagram::bind(&path).unwrap();
        let sender = UnixDatagram::unbound().unwrap();
        sender
            .send_to_addr(b"x", &socket_address(path.as_os_str()).unwrap())
            .unwrap();
        let mut buffer = [0u8; 8];
        assert_eq!(receiver.recv(&mut buffer).unwrap(), 1);
        let name = format!("@rpod-test-{}", std::process::id());
        let address = socket_address(OsStr::new(&name)).unwrap();
        let abstract_receiver = UnixDatagram::bind_addr(&address).unwrap();
        sender.send_to_addr(b"yz", &address).unwrap();
        assert_eq!(abstract_receiver.recv(&mut buffer).unwrap(), 2);
    }
}
