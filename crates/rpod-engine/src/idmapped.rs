//! ID-mapped mounts: a directory seen with its owners shifted by a user namespace's
//! mappings (kernel 5.12; overlayfs takes such mounts as layers since 5.19).
//!
//! The mount API's `mount_setattr` has no wrapper in nix or rustix (rustix has only its
//! flags), so it is called directly; the rest goes through rustix. Making the namespace
//! needs a child of this process (`fork`): the two are this crate's only unsafe code.
#![allow(unsafe_code)]

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use crate::userns::{IdMappings, IdRange};
use crate::{EngineError, Result};

/// A user namespace with a container's mappings, held open while mounts are mapped with it.
/// It is made by a child that only unshares and waits; the namespace outlives the child
/// through the descriptor.
pub struct MappedNamespace {
    fd: OwnedFd,
}

impl MappedNamespace {
    pub fn new(mappings: &IdMappings) -> Result<Self> {
        // Errors name what failed; the path is the file involved, if any.
        let failed = |what: &str, e: std::io::Error| {
            EngineError::io(
                "making a user namespace for an ID-mapped mount:",
                what.to_string(),
                e,
            )
        };
        let (ready_read, ready_write) =
            nix::unistd::pipe().map_err(|e| failed("pipe", e.into()))?;
        let (done_read, done_write) = nix::unistd::pipe().map_err(|e| failed("pipe", e.into()))?;
        // SAFETY: the child calls only unshare, write, read and _exit, which are
        // async-signal-safe, so forking a threaded process (the service) is sound.
        let child = match unsafe { fork() }.map_err(|e| failed("fork", e.into()))? {
            ForkResult::Child => {
                drop(ready_read);
                drop(done_write);
                let status = match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
                    Ok(()) => 0u8,
                    Err(_) => 1,
                };
                let _ = nix::unistd::write(&ready_write, &[status]);
                let mut byte = [0u8];
                let _ = nix::unistd::read(&done_read, &mut byte);
                // SAFETY: _exit ends the child without running the parent's handlers.
                unsafe { libc::_exit(0) }
            }
            ForkResult::Parent { child } => child,
        };
        drop(ready_write);
        drop(done_read);
        let result = (|| {
            let mut status = [1u8];
            let read = nix::unistd::read(&ready_read, &mut status)
                .map_err(|e| failed("waiting for the child", e.into()))?;
            if read != 1 || status[0] != 0 {
                return Err(failed(
                    "unshare",
                    std::io::Error::other("the kernel refused a new user namespace"),
                ));
            }
            let proc = format!("/proc/{child}");
            for (file, ranges) in [("uid_map", &mappings.uids), ("gid_map", &mappings.gids)] {
                let path = format!("{proc}/{file}");
                fs::write(&path, map_text(ranges)).map_err(|e| failed(&path, e))?;
            }
            let path = format!("{proc}/ns/user");
            let file = fs::File::open(&path).map_err(|e| failed(&path, e))?;
            Ok(MappedNamespace { fd: file.into() })
        })();
        drop(done_write);
        let _ = waitpid(child, None);
        result
    }

    /// Mount `source` (not what is mounted below it) at `target` with its owners as this
    /// namespace maps them: a file owned by container ID N shows as the host ID N maps to.
    pub fn bind(&self, source: &Path, target: &Path) -> Result<()> {
        use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};
        let failed = |what: &'static str, e: std::io::Error| EngineError::io(what, source, e);
        let tree = open_tree(
            rustix::fs::CWD,
            source,
            OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )
        .map_err(|e| failed("making an ID-mapped mount (open_tree) of", e.into()))?;
        let attr = libc::mount_attr {
            attr_set: libc::MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: self.fd.as_raw_fd() as u64,
        };
        // SAFETY: `attr` lives across the call and its size is passed with it; the path is
        // a valid empty C string.
        let set = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                tree.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                &attr as *const libc::mount_attr,
                std::mem::size_of::<libc::mount_attr>(),
            )
        };
        if set != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINVAL) {
                return Err(EngineError::NotSupported(format!(
                    "an ID-mapped mount of {} ({e}): user namespaces need a kernel and a file system of the store with ID-mapped mounts (Linux 5.12 or later; ext4, xfs or btrfs; tmpfs from 6.3)",
                    source.display()
                )));
            }
            return Err(failed("making an ID-mapped mount (mount_setattr) of", e));
        }
        move_mount(
            &tree,
            "",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(|e| failed("making an ID-mapped mount (move_mount) of", e.into()))
    }
}

/// A `/proc/PID/uid_map` text.
fn map_text(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| format!("{} {} {}\n", r.container, r.host, r.size))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_text_has_a_line_per_range() {
        let ranges = [
            IdRange {
                container: 0,
                host: 100000,
                size: 1000,
            },
            IdRange {
                container: 1000,
                host: 500,
                size: 1,
            },
        ];
        assert_eq!(map_text(&ranges), "0 100000 1000\n1000 500 1\n");
    }
}
