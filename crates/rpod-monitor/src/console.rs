//! The console socket: the runtime connects to it and passes the terminal's master side
//! (SCM_RIGHTS), as `--console-socket` asks of an OCI runtime.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::socket::{
    accept4, bind, listen, recvmsg, socket, AddressFamily, Backlog, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr,
};

pub struct ConsoleSocket {
    pub listener: OwnedFd,
    pub path: PathBuf,
}

impl ConsoleSocket {
    /// A listening socket with a fresh name in `$TMPDIR` (or /tmp). bind(2) never follows
    /// or replaces an existing file, so a name taken by someone else fails instead.
    pub fn create() -> Result<ConsoleSocket, String> {
        let dir = std::env::var_os("TMPDIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let listener = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .map_err(|e| format!("creating the console socket: {e}"))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let mut last_error = String::new();
        for attempt in 0..16u32 {
            let path = dir.join(format!(
                "rpod-monitor-term.{}.{:08x}",
                std::process::id(),
                nanos.wrapping_add(attempt.wrapping_mul(0x9e37_79b9))
            ));
            let address = UnixAddr::new(&path)
                .map_err(|e| format!("console socket address {}: {e}", path.display()))?;
            match bind(listener.as_raw_fd(), &address) {
                Ok(()) => {
                    listen(&listener, Backlog::new(1).unwrap_or(Backlog::MAXCONN))
                        .map_err(|e| format!("listening on {}: {e}", path.display()))?;
                    return Ok(ConsoleSocket { listener, path });
                }
                Err(Errno::EADDRINUSE) => last_error = format!("{} exists", path.display()),
                Err(e) => return Err(format!("binding {}: {e}", path.display())),
            }
        }
        Err(format!("no free console socket name: {last_error}"))
    }

    /// Accept the runtime's connection and take the descriptor it sends; `None` when no
    /// connection is pending yet.
    pub fn receive_terminal(&self) -> Result<Option<OwnedFd>, String> {
        let connection = match accept4(&self.listener, SockFlag::SOCK_CLOEXEC) {
            Ok(fd) => fd,
            Err(Errno::EAGAIN | Errno::EINTR) => return Ok(None),
            Err(e) => return Err(format!("accepting on the console socket: {e}")),
        };
        let mut name = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let message = loop {
            match recvmsg::<()>(
                connection.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => break m,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(format!("receiving the terminal: {e}")),
            }
        };
        let mut received = Vec::new();
        for cmsg in message
            .cmsgs()
            .map_err(|e| format!("reading the terminal message: {e}"))?
        {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                // SAFETY: SCM_RIGHTS installed these descriptors in this process for us.
                received.extend(
                    fds.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        let mut received = received.into_iter();
        received
            .next()
            .map(Some)
            .ok_or_else(|| "the runtime sent no terminal descriptor".to_string())
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        self.remove();
    }
}
