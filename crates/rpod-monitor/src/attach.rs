//! The attach socket: a SOCK_SEQPACKET listener in the bundle. Every client gets every output
//! record (`stream id` byte, then at most 8192 bytes, or up to 65535 with
//! `--attach-record-size`); what clients send is the container's input, raw.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{
    accept4, bind, listen, recv, send, socket, AddressFamily, Backlog, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use nix::sys::time::TimeValLike;

pub use rpod_monitor_protocol::{LARGEST_RECORD_PAYLOAD, RECORD_PAYLOAD};
/// Largest input record read from a client (conmon's CONN_SOCK_BUF_SIZE).
pub const INPUT_RECORD: usize = 32 * 1024;

pub const STDOUT_ID: u8 = 2;
pub const STDERR_ID: u8 = 3;

pub struct Client {
    pub fd: OwnedFd,
    /// Still sending input (no EOF seen yet).
    pub reading: bool,
}

pub struct AttachServer {
    pub listener: OwnedFd,
    /// The socket's path while it is there.
    path: Option<PathBuf>,
    pub clients: Vec<Client>,
    /// How long one output record may wait for a client that does not read; `None`: for
    /// ever, as conmon.
    send_timeout: Option<std::time::Duration>,
    /// Largest payload of one output record.
    record_payload: usize,
}

impl AttachServer {
    /// Bind `bundle/attach` through `/proc/self/fd/N` of the bundle directory, so that a
    /// bundle path longer than a socket address allows still works.
    pub fn bind(
        bundle: &Path,
        send_timeout: Option<std::time::Duration>,
        record_payload: usize,
    ) -> Result<AttachServer, String> {
        let dir = nix::fcntl::open(
            bundle,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| format!("opening bundle {}: {e}", bundle.display()))?;
        let path = bundle.join("attach");
        let _ = std::fs::remove_file(&path);
        let short = format!("/proc/self/fd/{}/attach", dir.as_raw_fd());
        let listener = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .map_err(|e| format!("creating the attach socket: {e}"))?;
        let address = UnixAddr::new(short.as_str())
            .map_err(|e| format!("attach socket address {short}: {e}"))?;
        bind(listener.as_raw_fd(), &address)
            .map_err(|e| format!("binding the attach socket {}: {e}", path.display()))?;
        nix::sys::stat::fchmodat(
            &dir,
            "attach",
            nix::sys::stat::Mode::from_bits_truncate(0o700),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
        listen(&listener, Backlog::new(10).unwrap_or(Backlog::MAXCONN))
            .map_err(|e| format!("listening on {}: {e}", path.display()))?;
        Ok(AttachServer {
            listener,
            path: Some(path),
            clients: Vec::new(),
            send_timeout,
            record_payload,
        })
    }

    /// Take every pending connection.
    pub fn accept(&mut self) {
        loop {
            match accept4(&self.listener, SockFlag::SOCK_CLOEXEC) {
                Ok(fd) => {
                    if let Some(timeout) = self.send_timeout {
                        let micros = i64::try_from(timeout.as_micros()).unwrap_or(i64::MAX);
                        let timeout = nix::sys::time::TimeVal::microseconds(micros);
                        let _ = nix::sys::socket::setsockopt(
                            &fd,
                            nix::sys::socket::sockopt::SendTimeout,
                            &timeout,
                        );
                    }
                    if self.record_payload > RECORD_PAYLOAD {
                        // Room for a few large records, as the default has for small
                        // ones; the kernel caps it (`net.core.wmem_max`).
                        let _ = nix::sys::socket::setsockopt(
                            &fd,
                            nix::sys::socket::sockopt::SndBuf,
                            &(4 * (self.record_payload + 1)),
                        );
                    }
                    self.clients.push(Client { fd, reading: true });
                }
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
        }
    }

    /// Send output to every client, in records of at most the record payload. A client that
    /// cannot take it (gone) is dropped; a slow one is waited for, so every client gets every
    /// byte, but not past the send timeout: a client that stopped reading is dropped then,
    /// rather than stopping the monitor (and the container's output, and the record of its
    /// exit).
    pub fn broadcast(&mut self, stream_id: u8, data: &[u8], record: &mut Vec<u8>) {
        if self.clients.is_empty() {
            return;
        }
        for chunk in data.chunks(self.record_payload) {
            fill_record(record, stream_id, chunk);
            self.clients
                .retain(|client| send_record(&client.fd, record).is_ok());
        }
    }

    /// Read one input record from client `index`: `Some(n)` bytes (0: nothing yet), `None`
    /// at its end (EOF or an error).
    pub fn read_input(&mut self, index: usize, buffer: &mut [u8]) -> Option<usize> {
        let client = &mut self.clients[index];
        loop {
            match recv(client.fd.as_raw_fd(), buffer, MsgFlags::MSG_DONTWAIT) {
                Ok(0) => return None,
                Ok(n) => return Some(n),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Some(0),
                Err(_) => return None,
            }
        }
    }

    /// Remove the socket from the bundle: no client connects any more, and a monitor of the
    /// container's next run may bind its own there (so this one must not remove it later).
    pub fn unlink(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Close every client (they see EOF) and remove the socket if it is still there.
    pub fn close(mut self) {
        self.unlink();
        drop(self.clients);
        drop(self.listener);
    }
}

/// Send one record; one too large for the client's socket buffer (a host with a small
/// `net.core.wmem_max`) goes in records of conmon's size instead.
fn send_record(fd: &OwnedFd, record: &[u8]) -> Result<(), Errno> {
    match send_whole(fd, record) {
        Err(Errno::EMSGSIZE) if record.len() > RECORD_PAYLOAD + 1 => {
            let mut piece = Vec::with_capacity(RECORD_PAYLOAD + 1);
            for chunk in record[1..].chunks(RECORD_PAYLOAD) {
                fill_record(&mut piece, record[0], chunk);
                send_whole(fd, &piece)?;
            }
            Ok(())
        }
        other => other,
    }
}

/// Make `record` the output record of `payload` on stream `stream_id`.
fn fill_record(record: &mut Vec<u8>, stream_id: u8, payload: &[u8]) {
    record.clear();
    record.push(stream_id);
    record.extend_from_slice(payload);
}

fn send_whole(fd: &OwnedFd, record: &[u8]) -> Result<(), Errno> {
    loop {
        match send(fd.as_fd().as_raw_fd(), record, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{setsockopt, socketpair, sockopt::SndBuf};

    /// A client of large records gets room for four of them (as the default has for
    /// conmon's), as far as `net.core.wmem_max` allows; a client of conmon's records keeps
    /// the default.
    #[test]
    fn a_client_of_large_records_gets_a_send_buffer_for_them() {
        use nix::sys::socket::{connect, getsockopt};
        let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let default = {
            let (ours, _theirs) = socketpair(
                AddressFamily::Unix,
                SockType::SeqPacket,
                None,
                SockFlag::empty(),
            )
            .unwrap();
            getsockopt(&ours, SndBuf).unwrap()
        };
        for (payload, expected) in [
            (RECORD_PAYLOAD, default),
            // The kernel doubles what it is given, after the cap.
            (
                LARGEST_RECORD_PAYLOAD,
                2 * wmem_max.min(4 * (LARGEST_RECORD_PAYLOAD + 1)),
            ),
        ] {
            let bundle = tempfile::tempdir().unwrap();
            let mut server = AttachServer::bind(bundle.path(), None, payload).unwrap();
            let client = socket(
                AddressFamily::Unix,
                SockType::SeqPacket,
                SockFlag::empty(),
                None,
            )
            .unwrap();
            let address = UnixAddr::new(&bundle.path().join("attach")).unwrap();
            connect(client.as_raw_fd(), &address).unwrap();
            server.accept();
            assert_eq!(server.clients.len(), 1);
            let given = getsockopt(&server.clients[0].fd, SndBuf).unwrap();
            assert_eq!(given, expected, "records of {payload} bytes");
        }
    }

    /// A host whose socket buffers cannot hold one large record still gets all of it.
    #[test]
    fn a_record_too_large_for_the_socket_goes_in_conmons_size() {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        // The kernel doubles it: about 20000 bytes, less than the record, more than 8193.
        setsockopt(&ours, SndBuf, &10000).unwrap();
        let payload: Vec<u8> = (0..LARGEST_RECORD_PAYLOAD).map(|i| i as u8).collect();
        let mut record = vec![STDERR_ID];
        record.extend_from_slice(&payload);
        let reader = std::thread::spawn(move || {
            let (mut got, mut sizes) = (Vec::new(), Vec::new());
            let mut buffer = vec![0u8; 128 * 1024];
            while got.len() < LARGEST_RECORD_PAYLOAD {
                let n = recv(theirs.as_raw_fd(), &mut buffer, MsgFlags::empty()).unwrap();
                assert_eq!(buffer[0], STDERR_ID);
                got.extend_from_slice(&buffer[1..n]);
                sizes.push(n - 1);
            }
            (got, sizes)
        });
        send_record(&ours, &record).unwrap();
        let (got, sizes) = reader.join().unwrap();
        assert!(got == payload, "the payload arrived changed");
        assert!(sizes.iter().all(|&n| n <= RECORD_PAYLOAD), "{sizes:?}");
        assert_eq!(sizes.len(), LARGEST_RECORD_PAYLOAD.div_ceil(RECORD_PAYLOAD));
    }
}
