//! `cp`: files between the host and a container's root file system, running or not. Paths
//! inside the container are resolved as the container sees them (`RESOLVE_IN_ROOT`: its
//! symlinks lead somewhere inside its root, never onto the host), and every entry is copied
//! by descriptor, never through a symlink (`tree_copy`).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, FileType};

use super::*;
use crate::confined::{plain_relative, ConfinedDir};
use crate::tree_copy;

/// Where a copy into a container comes from on the host.
pub enum HostSource<'a> {
    /// A file or directory (`DIR/.` for what the directory holds).
    Path(&'a Path),
    /// A tar stream (`-`).
    Tar(&'a mut dyn Read),
}

fn copy_err(
    what: &'static str,
    path: impl AsRef<Path>,
    e: impl Into<std::io::Error>,
) -> EngineError {
    EngineError::io(what, path.as_ref(), e.into())
}

/// A container path as a directory part and a last name; `contents` when it ends in `/.`
/// (copy what the directory holds, not the directory).
struct ContainerPath {
    parent: PathBuf,
    name: Option<OsString>,
    contents: bool,
}

impl ContainerPath {
    fn parse(path: &str) -> Result<Self> {
        if path.is_empty() {
            return Err(EngineError::InvalidArg(
                "an empty path in the container".into(),
            ));
        }
        let contents = path.ends_with("/.") || path == ".";
        let rel = plain_relative(Path::new(path)).ok_or_else(|| {
            EngineError::InvalidArg(format!("{path}: a path with `..` is not supported"))
        })?;
        // openat2 wants "." for the top itself.
        let parent = rel
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Ok(ContainerPath {
            parent: parent.to_path_buf(),
            name: rel.file_name().map(OsStr::to_os_string),
            contents,
        })
    }
}

fn name_of(path: &Path) -> Result<OsString> {
    path.file_name()
        .map(OsStr::to_os_string)
        .ok_or_else(|| EngineError::InvalidArg(format!("{}: names no file", path.display())))
}

fn kind_at(dir: &OwnedFd, name: &OsStr) -> Option<FileType> {
    rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|s| FileType::from_raw_mode(s.st_mode))
}

/// Copy `name` (or everything in it, with `contents`) from `src` into `dst_dir`, as
/// `to_name` when given (with `contents`: into a directory of that name, made when
/// missing). Returns the names made or replaced in `dst_dir`.
fn copy_into(
    src: &OwnedFd,
    name: &OsStr,
    contents: bool,
    dst_dir: &OwnedFd,
    to_name: Option<&OsStr>,
) -> std::io::Result<Vec<OsString>> {
    if !contents {
        let to = to_name.unwrap_or(name);
        tree_copy::copy_entry(src, name, dst_dir, to)?;
        return Ok(vec![to.to_os_string()]);
    }
    let inner = tree_copy::open_dir_at(src, name)?;
    let target = match to_name {
        Some(to) => {
            match rfs::mkdirat(dst_dir, to, rfs::Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            // Never through a symlink: an existing link there fails here.
            Some(tree_copy::open_dir_at(dst_dir, to)?)
        }
        None => None,
    };
    let into = target.as_ref().unwrap_or(dst_dir);
    let mut made = Vec::new();
    for child in tree_copy::entries(&inner)? {
        tree_copy::copy_entry(&inner, &child, into, &child)?;
        made.push(child);
    }
    Ok(match to_name {
        Some(to) => vec![to.to_os_string()],
        None => made,
    })
}

impl Engine {
    /// Run `op` on the container's root (mounted for the time of it when the container is
    /// not running), under the container's lock.
    pub(super) fn with_root<T>(
        &self,
        name_or_id: &str,
        op: impl FnOnce(&ContainerRecord, &ConfinedDir, &Path) -> Result<T>,
    ) -> Result<T> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        let mounted_here = !record.state.mounted;
        let root = self.mount_rootfs(&record)?;
        let result = ConfinedDir::open(&root)
            .map_err(|e| EngineError::InvalidArg(e.to_string()))
            .and_then(|tree| op(&record, &tree, &root));
        if mounted_here {
            self.unmount_rootfs(&record)?;
        }
        result
    }

    /// Paths under the container's mounts (volumes, bind mounts, rpod's own `/etc/hosts` and
    /// the like) are not in its root file system as the host sees it: refused rather than
    /// copied from or to the wrong place. `dir` is already resolved, so a symlink cannot
    /// lead around this check.
    fn refuse_mounted(
        &self,
        record: &ContainerRecord,
        root: &Path,
        dir: &OwnedFd,
        name: &OsStr,
    ) -> Result<()> {
        let fd_path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        let host = fs::read_link(&fd_path).map_err(|e| copy_err("resolving", &fd_path, e))?;
        let inside = host
            .strip_prefix(root)
            .map(|rel| Path::new("/").join(rel))
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(name);
        let own = super::filesystem::OWN_MOUNT_POINTS
            .iter()
            .map(|p| format!("/{p}"));
        let mounted = record
            .config
            .mounts
            .iter()
            .map(|m| m.destination.clone())
            .chain(own)
            .find(|m| inside.starts_with(m) || Path::new(m).starts_with(&inside) && name != ".");
        match mounted {
            Some(mount) => Err(EngineError::NotSupported(format!(
                "copying {} of container {} (under {mount}, a volume, bind mount or rpod's own file: copy from or to its source on the host)",
                inside.display(),
                record.config.name
            ))),
            None => Ok(()),
        }
    }

    /// Copy `path` in the container to the host: into `dest` when it is a directory (under
    /// its own name), otherwise as `dest`.
    pub fn copy_from_container(&self, name_or_id: &str, path: &str, dest: &Path) -> Result<()> {
        let source = ContainerPath::parse(path)?;
        self.with_root(name_or_id, |record, tree, root| {
            let missing = || {
                EngineError::InvalidArg(format!(
                    "\"{path}\" could not be found on container {}: no such file or directory",
                    record.config.name
                ))
            };
            let parent = tree
                .dir_in_root(&source.parent)
                .map_err(|e| EngineError::InvalidArg(e.to_string()))?
                .ok_or_else(missing)?;
            // The root itself: its contents.
            let (parent, name, contents) = match &source.name {
                Some(name) => (parent, name.clone(), source.contents),
                None => (
                    tree.dir_in_root(Path::new("."))
                        .map_err(|e| EngineError::InvalidArg(e.to_string()))?
                        .ok_or_else(missing)?,
                    OsString::from("."),
                    true,
                ),
            };
            if name != "." && kind_at(&parent, &name).is_none() {
                return Err(missing());
            }
            self.refuse_mounted(record, root, &parent, &name)?;
            let (dir, to_name) = host_target(dest)?;
            copy_into(&parent, &name, contents, &dir, to_name.as_deref())
                .map_err(|e| copy_err("copying to", dest, e))?;
            Ok(())
        })
    }

    /// Copy `path` in the container into a tar written to `out` (`cp CTR:PATH -`).
    pub fn copy_from_container_tar(
        &self,
        name_or_id: &str,
        path: &str,
        out: &mut dyn Write,
    ) -> Result<()> {
        let staging = crate::scratch::ScratchDir::new(&self.roots.tmp(), "cp-")?;
        self.copy_from_container(name_or_id, path, staging.path())?;
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        // Each top entry under its own name: no `./` entry whose mode would be the scratch
        // directory's.
        let written = (|| {
            let mut names: Vec<_> = fs::read_dir(staging.path())?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<std::io::Result<_>>()?;
            names.sort();
            for name in names {
                let entry = staging.path().join(&name);
                if entry.symlink_metadata()?.is_dir() {
                    builder.append_dir_all(&name, &entry)?;
                } else {
                    builder.append_path_with_name(&entry, &name)?;
                }
            }
            builder.finish()
        })();
        written.map_err(|e| copy_err("writing the archive of", path, e))
    }

    /// Copy host files (a path, or a tar stream) to `path` in the container. With
    /// `chown`, what is copied gets the container user's uid and gid (podman's --archive).
    pub fn copy_into_container(
        &self,
        name_or_id: &str,
        from: HostSource<'_>,
        path: &str,
        chown: bool,
    ) -> Result<()> {
        // A tar is unpacked on the host first (into rpod's own scratch directory), then
        // copied like a directory's contents.
        let staging;
        let (src_dir, src_name, contents) = match from {
            HostSource::Path(source) => {
                // `DIR/.` (which Path's parsing drops): the directory's contents.
                let contents = source.to_string_lossy().ends_with("/.");
                let parent = if contents {
                    source
                } else {
                    source
                        .parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(Path::new("."))
                };
                let dir = host_dir(parent)?;
                let name = if contents {
                    OsString::from(".")
                } else {
                    name_of(source)?
                };
                if name != "." && kind_at(&dir, &name).is_none() {
                    return Err(EngineError::InvalidArg(format!(
                        "{}: no such file or directory",
                        source.display()
                    )));
                }
                (dir, name, contents)
            }
            HostSource::Tar(reader) => {
                staging = crate::scratch::ScratchDir::new(&self.roots.tmp(), "cp-")?;
                let mut archive = tar::Archive::new(reader);
                archive.set_preserve_permissions(true);
                archive.set_overwrite(true);
                archive
                    .unpack(staging.path())
                    .map_err(|e| EngineError::BadArchive {
                        path: "-".into(),
                        message: e.to_string(),
                    })?;
                let dir = tree_copy::open_dir(staging.path())
                    .map_err(|e| copy_err("opening", staging.path(), e))?;
                (dir, OsString::from("."), true)
            }
        };
        let dest = ContainerPath::parse(path)?;
        self.with_root(name_or_id, |record, tree, root| {
            let full = match &dest.name {
                Some(name) => dest.parent.join(name),
                None => dest.parent.clone(),
            };
            let resolve = |rel: &Path| {
                tree.dir_in_root(rel)
                    .map_err(|e| EngineError::InvalidArg(e.to_string()))
            };
            // An existing directory takes the source under its own name; otherwise the
            // source becomes the last name of `path`, in a directory that must exist.
            let (dir, to_name) = match resolve(&full)? {
                Some(dir) => (dir, None),
                None if dest.contents || dest.name.is_none() => {
                    return Err(EngineError::InvalidArg(format!(
                        "{path}: no such directory in the container"
                    )))
                }
                None => {
                    let parent = resolve(&dest.parent)?.ok_or_else(|| {
                        EngineError::InvalidArg(format!(
                            "{}: no such directory in the container",
                            Path::new("/").join(&dest.parent).display()
                        ))
                    })?;
                    (parent, dest.name.clone())
                }
            };
            let contents = contents || src_name == ".";
            let checked: &OsStr = match &to_name {
                Some(name) => name,
                None if contents => OsStr::new("."),
                None => &src_name,
            };
            self.refuse_mounted(record, root, &dir, checked)?;
            let made = copy_into(&src_dir, &src_name, contents, &dir, to_name.as_deref())
                .map_err(|e| copy_err("copying into the container at", path, e))?;
            if chown {
                let user = spec::resolve_user(root, &record.config.user)?;
                for name in made {
                    chown_entry(&dir, &name, user.uid, user.gid)
                        .map_err(|e| copy_err("changing the owner of", path, e))?;
                }
            }
            Ok(())
        })
    }
}

/// A directory the user named on the host, symbolic links followed (the host's paths are
/// the user's own; only the container's are confined).
fn host_dir(path: &Path) -> Result<OwnedFd> {
    rfs::open(
        path,
        rfs::OFlags::RDONLY | rfs::OFlags::DIRECTORY | rfs::OFlags::CLOEXEC,
        rfs::Mode::empty(),
    )
    .map_err(|e| copy_err("opening", path, e))
}

/// Where a copy to `dest` on the host goes: into `dest` when it is a directory, otherwise
/// `dest`'s last name in its parent.
fn host_target(dest: &Path) -> Result<(OwnedFd, Option<OsString>)> {
    if dest.is_dir() {
        let dir = host_dir(dest)?;
        return Ok((dir, None));
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = host_dir(parent)?;
    Ok((dir, Some(name_of(dest)?)))
}

/// Give `name` in `dir` (a whole tree for a directory) to `uid:gid`, never through a link.
fn chown_entry(dir: &OwnedFd, name: &OsStr, uid: u32, gid: u32) -> std::io::Result<()> {
    if kind_at(dir, name) == Some(FileType::Directory) {
        let inner = tree_copy::open_dir_at(dir, name)?;
        return tree_copy::chown_tree(&inner, uid, gid);
    }
    rfs::chownat(
        dir,
        name,
        Some(rfs::Uid::from_raw(uid)),
        Some(rfs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(Into::into)
}
