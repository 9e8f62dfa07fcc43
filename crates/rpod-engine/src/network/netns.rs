//! Network namespaces that outlive the process that made them: a new namespace is bound to
//! a file (`<runroot>/netns/<container id>`), which netavark configures and the runtime
//! joins. Named after the container, so a namespace left by a killed rpod is found again.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::error::{EngineError, Result};

/// Where a container's namespace is bound.
pub fn path_for(runroot: &Path, id: &str) -> PathBuf {
    runroot.join("netns").join(id)
}

/// Whether `path` holds a bound namespace (a mount of nsfs), not just the empty file.
pub fn is_bound(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
        .unwrap_or(false)
}

/// Make a new network namespace and bind it at `path`.
pub fn create(path: &Path) -> Result<()> {
    namespace_file(path)?;
    let target = path.to_path_buf();
    // unshare moves only the calling thread into the new namespace: do it on a thread of
    // its own, which ends right after binding it, so no other work runs in it.
    let bound = std::thread::spawn(move || -> nix::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    })
    .join();
    let result = match bound {
        Ok(Ok(())) => Ok(()),
        Ok(Err(errno)) => Err(EngineError::io(
            "binding a new network namespace at",
            path,
            std::io::Error::from(errno),
        )),
        Err(_) => Err(EngineError::InvalidArg(
            "the thread making a network namespace panicked".into(),
        )),
    };
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// An empty file at `path` for a namespace to be bound on. A namespace still bound there
/// (its teardown was never reached) would be stacked under the new one: unbound first.
fn namespace_file(path: &Path) -> Result<()> {
    if is_bound(path) {
        umount2(path, MntFlags::MNT_DETACH).map_err(|errno| {
            EngineError::io(
                "unmounting a stale network namespace at",
                path,
                std::io::Error::from(errno),
            )
        })?;
    }
    if let Some(dir) = path.parent() {
        crate::paths::create_private(dir).map_err(|e| EngineError::io("creating", dir, e))?;
    }
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| EngineError::io("creating the namespace file", path, e))?;
    Ok(())
}

/// Keep the network namespace of process `pid` (one the runtime made) at `path`, as
/// `create` keeps a new one.
pub fn bind_existing(path: &Path, pid: i32) -> Result<()> {
    namespace_file(path)?;
    let source = format!("/proc/{pid}/ns/net");
    mount(
        Some(source.as_str()),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|errno| {
        let _ = fs::remove_file(path);
        EngineError::io(
            "binding the network namespace of",
            source.clone(),
            errno.into(),
        )
    })
}

/// Unbind and remove a namespace file; one that is already gone is fine.
pub fn remove(path: &Path) -> Result<()> {
    if is_bound(path) {
        umount2(path, MntFlags::MNT_DETACH).map_err(|errno| {
            EngineError::io(
                "unmounting the network namespace",
                path,
                std::io::Error::from(errno),
            )
        })?;
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::io("removing", path, e)),
    }
}
