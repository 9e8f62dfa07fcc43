//! File access confined to one directory tree: an image layer being unpacked, or a
//! container's root file system. Paths inside such a tree come from hostile input (a layer's
//! tar entries, an image's `/etc/passwd`), so no path is ever resolved through the host's
//! view of a symbolic link.
//!
//! Everything goes through `openat2(2)` from a descriptor of the tree's top and then through
//! `*at` calls on the parent's descriptor with a single, checked name. Two resolution rules:
//! - writing (layers): `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so a symlink anywhere in a
//!   parent path is refused outright. A layer unpacks into an empty directory, so a
//!   well-formed layer never holds entries under a symlink of its own.
//! - reading as the container would (`/etc/passwd`): `RESOLVE_IN_ROOT`, so symlinks are
//!   followed as if the tree were `/`, and can never leave it.
//!
//! Written with rustix's thin syscall wrappers: no maintained crate offers both rules
//! together with the `*at` creation calls that layer unpacking needs.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags};

/// How often `openat2` is tried while the kernel answers EAGAIN.
const OPENAT2_TRIES: u32 = 100;

/// `openat2(2)`, tried again while it fails with EAGAIN. With `RESOLVE_IN_ROOT` or
/// `RESOLVE_BENEATH` the kernel gives up a walk through `..` when a mount or a rename
/// anywhere on the host raced with it (other containers starting), and says to retry.
/// Bounded, so that a host that never stops mounting gets the error instead of a hang.
pub fn openat2<P: rustix::path::Arg + Copy>(
    dir: &impl AsFd,
    path: P,
    flags: OFlags,
    mode: Mode,
    resolve: ResolveFlags,
) -> rustix::io::Result<OwnedFd> {
    let mut tries = 1;
    loop {
        match rfs::openat2(dir, path, flags, mode, resolve) {
            Err(rustix::io::Errno::AGAIN) if tries < OPENAT2_TRIES => tries += 1,
            result => return result,
        }
    }
}

/// `rel` resolved inside the tree `root` as if it were `/` (`RESOLVE_IN_ROOT`: links
/// followed, none leading out, `..` stopping at the top): the host path where the walk
/// ended, as the kernel names the descriptor it opened (no link left in it), and what is
/// there. For a path that must be handed on by name (a bind's source, a file to read):
/// the name is only as good as the tree is still when it is used.
pub fn path_in_root(root: &Path, rel: &Path) -> io::Result<(PathBuf, rfs::Stat)> {
    let top = rfs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let found = openat2(
        &top,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?;
    let stat = rfs::fstat(&found)?;
    let resolved = std::fs::read_link(format!("/proc/self/fd/{}", found.as_raw_fd()))?;
    // The kernel kept the walk inside; a name that says otherwise is not handed on.
    let top_path = std::fs::canonicalize(root)?;
    if !resolved.starts_with(&top_path) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "resolves to {}, outside {}",
                resolved.display(),
                top_path.display()
            ),
        ));
    }
    Ok((resolved, stat))
}

/// Why a path inside the tree could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfinedError {
    /// The path names `..`, or a parent is a symlink or not a directory.
    #[error("{path}: {reason}")]
    Escapes { path: String, reason: String },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
}

impl ConfinedError {
    fn io(action: &'static str, path: &Path, source: impl Into<io::Error>) -> Self {
        ConfinedError::Io {
            action,
            path: path.display().to_string(),
            source: source.into(),
        }
    }
}

type Result<T> = std::result::Result<T, ConfinedError>;

/// A path as a list of plain names: `.` and `/` dropped, `..` refused.
pub fn plain_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// A path given by a user for a tree (a container's `cp` path) as plain names from the
/// tree's top, its `..` taken lexically and never above the top, as Docker's and podman's
/// copies clean theirs: `/tmp/../etc` is `etc`, `../../etc` is `etc` too. (Links are then
/// followed inside the tree by `openat2`, never by this.)
pub fn lexically_within(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The top of a confined tree.
pub struct ConfinedDir {
    top: OwnedFd,
    path: PathBuf,
}

const WRITE_RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl ConfinedDir {
    /// Open the top of the tree. The top itself is ours (a store path), so it may be reached
    /// through symlinks of the host; nothing below it is.
    pub fn open(path: &Path) -> Result<Self> {
        let top = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ConfinedError::io("opening", path, e))?;
        Ok(ConfinedDir {
            top,
            path: path.to_path_buf(),
        })
    }

    /// The descriptor of the top directory.
    pub fn top(&self) -> &OwnedFd {
        &self.top
    }

    fn shown(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    fn escapes(&self, rel: &Path, reason: impl Into<String>) -> ConfinedError {
        ConfinedError::Escapes {
            path: rel.display().to_string(),
            reason: reason.into(),
        }
    }

    /// Open the directory at `rel` (plain names only), never through a symlink. With
    /// `create`, missing directories are made (mode 0755; the caller sets the real mode).
    pub fn dir(&self, rel: &Path, create: bool) -> Result<OwnedFd> {
        self.dir_made_as(rel, create, None)
    }

    /// `dir`, creating what is missing, each directory made owned by `owner` (uid, gid).
    pub fn dir_owned_by(&self, rel: &Path, owner: (u32, u32)) -> Result<OwnedFd> {
        self.dir_made_as(rel, true, Some(owner))
    }

    fn dir_made_as(&self, rel: &Path, create: bool, owner: Option<(u32, u32)>) -> Result<OwnedFd> {
        let rel = plain_relative(rel).ok_or_else(|| self.escapes(rel, "path leaves the tree"))?;
        let mut current = rfs::openat(&self.top, ".", DIR_FLAGS, Mode::empty())
            .map_err(|e| ConfinedError::io("opening", &self.path, e))?;
        let mut walked = PathBuf::new();
        for name in rel.iter() {
            walked.push(name);
            current = match self.step(&current, name, &walked) {
                Err(ConfinedError::Io { source, .. })
                    if create && source.kind() == io::ErrorKind::NotFound =>
                {
                    match rfs::mkdirat(&current, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => {
                            return Err(ConfinedError::io(
                                "creating directory",
                                &self.shown(&walked),
                                e,
                            ))
                        }
                    }
                    let made = self.step(&current, name, &walked)?;
                    // 0755 whatever the process's umask: a directory the archive does not
                    // list must still be usable by the container's users.
                    rfs::fchmod(&made, Mode::from_raw_mode(0o755)).map_err(|e| {
                        ConfinedError::io("setting the mode of", &self.shown(&walked), e)
                    })?;
                    if let Some((uid, gid)) = owner {
                        rfs::fchown(
                            &made,
                            Some(rfs::Uid::from_raw(uid)),
                            Some(rfs::Gid::from_raw(gid)),
                        )
                        .map_err(|e| {
                            ConfinedError::io("setting the owner of", &self.shown(&walked), e)
                        })?;
                    }
                    made
                }
                other => other?,
            };
        }
        Ok(current)
    }

    /// One component down, refusing symlinks and non-directories.
    fn step(&self, parent: &OwnedFd, name: &OsStr, walked: &Path) -> Result<OwnedFd> {
        match openat2(parent, name, DIR_FLAGS, Mode::empty(), WRITE_RESOLVE) {
            Ok(fd) => Ok(fd),
            Err(rustix::io::Errno::LOOP) | Err(rustix::io::Errno::XDEV) => {
                Err(self.escapes(walked, "is a symbolic link; refusing to follow it"))
            }
            Err(rustix::io::Errno::NOTDIR) => {
                let symlink = rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|s| {
                    rfs::FileType::from_raw_mode(s.st_mode) == rfs::FileType::Symlink
                });
                Err(self.escapes(
                    walked,
                    if symlink {
                        "is a symbolic link; refusing to follow it"
                    } else {
                        "is not a directory"
                    },
                ))
            }
            Err(e) => Err(ConfinedError::io("opening", &self.shown(walked), e)),
        }
    }

    /// The parent directory of `rel` (created when missing) and the final name, which is
    /// checked to be a plain name.
    pub fn parent_of(&self, rel: &Path, create: bool) -> Result<(OwnedFd, OsString)> {
        let rel = plain_relative(rel).ok_or_else(|| self.escapes(rel, "path leaves the tree"))?;
        let name = rel
            .file_name()
            .ok_or_else(|| self.escapes(&rel, "names no file"))?
            .to_os_string();
        let parent = self.dir(rel.parent().unwrap_or(Path::new("")), create)?;
        Ok((parent, name))
    }

    /// Open the regular file at `rel` for reading, through no symbolic link at all (none
    /// in its path, none at its end): a file of an image directory given to `load`.
    /// `Ok(None)` when there is no such file; anything but a regular file is refused.
    pub fn open_regular_strict(&self, rel: &Path) -> Result<Option<std::fs::File>> {
        let rel = plain_relative(rel).ok_or_else(|| self.escapes(rel, "path leaves the tree"))?;
        let shown = self.shown(&rel);
        // Non-blocking, so that a FIFO put there does not hold the open; refused below.
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let fd = match openat2(&self.top, &rel, flags, Mode::empty(), WRITE_RESOLVE) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(rustix::io::Errno::LOOP) | Err(rustix::io::Errno::XDEV) => {
                return Err(self.escapes(
                    &rel,
                    "is or lies under a symbolic link; refusing to follow it",
                ))
            }
            Err(e) => return Err(ConfinedError::io("opening", &shown, e)),
        };
        let stat = rfs::fstat(&fd).map_err(|e| ConfinedError::io("inspecting", &shown, e))?;
        if rfs::FileType::from_raw_mode(stat.st_mode) != rfs::FileType::RegularFile {
            return Err(self.escapes(&rel, "is not a regular file"));
        }
        Ok(Some(std::fs::File::from(fd)))
    }

    /// Make the regular file `rel` (0644), with its missing parent directories, never
    /// through a symbolic link and never over an existing file.
    pub fn create_regular(&self, rel: &Path) -> Result<std::fs::File> {
        let (parent, name) = self.parent_of(rel, true)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rfs::openat(&parent, name.as_os_str(), flags, Mode::from_raw_mode(0o644))
            .map_err(|e| ConfinedError::io("creating", &self.shown(rel), e))?;
        // 0644 whatever the process's umask, as the directories are 0755.
        rfs::fchmod(&fd, Mode::from_raw_mode(0o644))
            .map_err(|e| ConfinedError::io("setting the mode of", &self.shown(rel), e))?;
        Ok(std::fs::File::from(fd))
    }

    /// Read a regular file as the container sees it: symlinks are followed, but only inside
    /// the tree. `Ok(None)` when there is no such file. Anything but a regular file (a device,
    /// a FIFO, a directory) and anything larger than `limit` bytes is refused.
    pub fn read_regular(&self, rel: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
        let shown = self.shown(rel);
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let handle = match openat2(
            &self.top,
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(ConfinedError::io("opening", &shown, e)),
        };
        let stat = rfs::fstat(&handle).map_err(|e| ConfinedError::io("inspecting", &shown, e))?;
        if rfs::FileType::from_raw_mode(stat.st_mode) != rfs::FileType::RegularFile {
            return Err(self.escapes(rel, "is not a regular file"));
        }
        if stat.st_size as u64 > limit {
            return Err(self.escapes(rel, format!("is larger than {limit} bytes")));
        }
        // Reopen the very inode that was checked (not the path again, which could change).
        let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle));
        let file = rfs::open(
            proc_path.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(|e| ConfinedError::io("opening", &shown, e))?;
        let mut bytes = Vec::new();
        std::fs::File::from(file)
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ConfinedError::io("reading", &shown, e))?;
        if bytes.len() as u64 > limit {
            return Err(self.escapes(rel, format!("is larger than {limit} bytes")));
        }
        Ok(Some(bytes))
    }

    /// Append `bytes` to the regular file at `rel` as the container sees it (symlinks
    /// followed inside the tree only), or make it (0644) in its existing directory when it
    /// is missing. Anything but a regular file is refused: a FIFO would block, a device is
    /// not the container's to write through rpod.
    pub fn append_regular(&self, rel: &Path, bytes: &[u8]) -> Result<()> {
        let shown = self.shown(rel);
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let file = match openat2(
            &self.top,
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        ) {
            Ok(handle) => {
                let stat =
                    rfs::fstat(&handle).map_err(|e| ConfinedError::io("inspecting", &shown, e))?;
                if rfs::FileType::from_raw_mode(stat.st_mode) != rfs::FileType::RegularFile {
                    return Err(self.escapes(rel, "is not a regular file"));
                }
                // Reopen the very inode that was checked.
                let proc_path =
                    format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle));
                rfs::open(
                    proc_path.as_str(),
                    OFlags::WRONLY | OFlags::APPEND | OFlags::CLOEXEC | OFlags::NOCTTY,
                    Mode::empty(),
                )
                .map_err(|e| ConfinedError::io("opening", &shown, e))?
            }
            Err(rustix::io::Errno::NOENT) => {
                let (parent, name) = self.parent_of(rel, false)?;
                let made = rfs::openat(
                    &parent,
                    name.as_os_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )
                .map_err(|e| ConfinedError::io("creating", &shown, e))?;
                // 0644 whatever rpod's (private) umask.
                rfs::fchmod(&made, Mode::from_raw_mode(0o644))
                    .map_err(|e| ConfinedError::io("setting the mode of", &shown, e))?;
                made
            }
            Err(e) => return Err(ConfinedError::io("opening", &shown, e)),
        };
        std::fs::File::from(file)
            .write_all(bytes)
            .map_err(|e| ConfinedError::io("writing", &shown, e))
    }

    /// The directory at `rel` as the container sees it (symlinks followed inside the tree
    /// only); `None` when it is missing or not a directory.
    pub fn dir_in_root(&self, rel: &Path) -> Result<Option<OwnedFd>> {
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        match openat2(
            &self.top,
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        ) {
            Ok(fd) => Ok(Some(fd)),
            Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => Ok(None),
            Err(e) => Err(ConfinedError::io("opening", &self.shown(rel), e)),
        }
    }

    /// What kind of file `rel` is, resolved as the container sees it; `None` if missing.
    pub fn kind_in_root(&self, rel: &Path) -> Result<Option<rfs::FileType>> {
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        match openat2(
            &self.top,
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        ) {
            Ok(fd) => {
                let stat = rfs::fstat(&fd)
                    .map_err(|e| ConfinedError::io("inspecting", &self.shown(rel), e))?;
                Ok(Some(rfs::FileType::from_raw_mode(stat.st_mode)))
            }
            Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => Ok(None),
            Err(e) => Err(ConfinedError::io("opening", &self.shown(rel), e)),
        }
    }
}

/// Give the entry `name` of `parent` exactly `mode` (the process's umask played a part in
/// its creation), never through a symbolic link: Linux has no `lchmod`, and `fchmod`
/// refuses a descriptor opened as a path, so the entry is opened as a path without
/// following it, checked to be no link, and changed through that descriptor's link in
/// /proc (which names the inode itself). For entries that cannot be opened for I/O
/// (device nodes, fifos), in trees others may write to (a running container's root).
pub fn set_mode_no_follow(parent: &impl AsFd, name: &OsStr, mode: Mode) -> io::Result<()> {
    let entry = rfs::openat(
        parent,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let stat = rfs::fstat(&entry)?;
    if rfs::FileType::from_raw_mode(stat.st_mode) == rfs::FileType::Symlink {
        return Err(io::Error::other(format!(
            "{} became a symbolic link",
            Path::new(name).display()
        )));
    }
    rfs::chmod(
        format!("/proc/self/fd/{}", entry.as_raw_fd()).as_str(),
        mode,
    )?;
    Ok(())
}

/// Make a device node or fifo `name` in `parent` (nothing may be there) with exactly
/// `mode`, owned by `owner` when given: what unpacking and copying a tree do for such
/// entries, as podman's do.
pub fn make_node(
    parent: &impl AsFd,
    name: &OsStr,
    kind: rfs::FileType,
    mode: Mode,
    device: rfs::Dev,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    rfs::mknodat(parent, name, kind, Mode::from_raw_mode(0o600), device)?;
    if let Some((uid, gid)) = owner {
        rfs::chownat(
            parent,
            name,
            Some(rfs::Uid::from_raw(uid)),
            Some(rfs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
    }
    // After the owner, which may clear set-id bits.
    set_mode_no_follow(parent, name, mode)
}

/// Remove `name` in `parent` whatever it is (a directory with all it holds), without ever
/// following a symlink. Missing is fine.
pub fn remove_entry(parent: &impl AsFd, name: &OsStr) -> io::Result<()> {
    let stat = match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if rfs::FileType::from_raw_mode(stat.st_mode) != rfs::FileType::Directory {
        return rfs::unlinkat(parent, name, AtFlags::empty()).map_err(Into::into);
    }
    let dir = rfs::openat(parent, name, DIR_FLAGS, Mode::empty())?;
    let mut children = Vec::new();
    for entry in rfs::Dir::read_from(&dir)? {
        let entry = entry?;
        let child = entry.file_name().to_bytes();
        if child != b"." && child != b".." {
            children.push(OsStr::from_bytes(child).to_os_string());
        }
    }
    for child in children {
        remove_entry(&dir, &child)?;
    }
    rfs::unlinkat(parent, name, AtFlags::REMOVEDIR).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// Links are followed as if the tree were `/`: never out of it.
    #[test]
    fn path_in_root_follows_links_inside_the_tree_only() {
        let dir = tempfile::tempdir().unwrap();
        let top = fs::canonicalize(dir.path()).unwrap();
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::write(top.join("etc/hostname"), "inside\n").unwrap();
        symlink("/etc/hostname", top.join("absolute")).unwrap();
        symlink("../../../etc/hostname", top.join("climbing")).unwrap();
        symlink("/etc/shadow", top.join("missing")).unwrap();
        for name in ["absolute", "climbing", "etc/hostname"] {
            let (path, stat) = path_in_root(&top, Path::new(name)).unwrap();
            assert_eq!(path, top.join("etc/hostname"), "{name}");
            assert_eq!(stat.st_size, 7, "{name}");
        }
        let err = path_in_root(&top, Path::new("missing")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        let (path, _) = path_in_root(&top, Path::new("")).unwrap();
        assert_eq!(path, top);
    }

    #[test]
    fn lexically_within_never_climbs_above_the_top() {
        for (given, cleaned) in [
            ("/tmp/../etc/hostname", "etc/hostname"),
            ("../../etc/passwd", "etc/passwd"),
            ("/a/./b/../c/", "a/c"),
            ("/..", ""),
            ("/", ""),
        ] {
            assert_eq!(
                lexically_within(Path::new(given)),
                Path::new(cleaned),
                "{given}"
            );
        }
    }

    #[test]
    fn plain_relative_refuses_parent_components() {
        assert_eq!(
            plain_relative(Path::new("/a/./b")),
            Some(PathBuf::from("a/b"))
        );
        assert_eq!(plain_relative(Path::new("a/../../b")), None);
    }

    #[test]
    fn directories_are_never_reached_through_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        let tree = tempfile::tempdir().unwrap();
        symlink(outside.path(), tree.path().join("abs")).unwrap();
        symlink("../../../../../..", tree.path().join("rel")).unwrap();
        symlink("inside", tree.path().join("near")).unwrap();
        fs::create_dir(tree.path().join("inside")).unwrap();
        let dir = ConfinedDir::open(tree.path()).unwrap();
        for path in ["abs/x", "rel/x", "near/x", "abs/deeper/x"] {
            let err = dir.parent_of(Path::new(path), true).unwrap_err();
            assert!(
                matches!(err, ConfinedError::Escapes { .. }),
                "{path}: {err}"
            );
        }
        assert!(dir.parent_of(Path::new("../x"), true).is_err());
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
        let (_, name) = dir.parent_of(Path::new("new/dirs/file"), true).unwrap();
        assert_eq!(name, "file");
        assert!(tree.path().join("new/dirs").is_dir());
    }

    #[test]
    fn reads_stay_in_the_root_and_take_only_bounded_regular_files() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "host\n").unwrap();
        let tree = tempfile::tempdir().unwrap();
        fs::create_dir(tree.path().join("etc")).unwrap();
        fs::write(tree.path().join("etc/real"), "inside\n").unwrap();
        symlink(outside.path().join("secret"), tree.path().join("etc/host")).unwrap();
        symlink("/etc/real", tree.path().join("etc/abs")).unwrap();
        symlink("/dev/zero", tree.path().join("etc/zero")).unwrap();
        symlink("/", tree.path().join("etc/dir")).unwrap();
        fs::write(tree.path().join("etc/big"), vec![b'x'; 100]).unwrap();
        let dir = ConfinedDir::open(tree.path()).unwrap();
        let read = |p: &str| dir.read_regular(Path::new(p), 64);
        assert_eq!(read("etc/abs").unwrap().unwrap(), b"inside\n");
        // The host's file is not reached: inside the root that path does not exist.
        assert_eq!(read("etc/host").unwrap(), None);
        assert_eq!(read("etc/zero").unwrap(), None);
        assert!(read("etc/dir").is_err());
        assert!(read("etc/big").is_err());
        fs::create_dir(tree.path().join("dev")).unwrap();
        nix::unistd::mkfifo(&tree.path().join("dev/zero"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(read("etc/zero").is_err(), "a FIFO is no passwd file");
    }

    #[test]
    fn appends_stay_in_the_root_and_write_only_regular_files() {
        use std::os::unix::fs::PermissionsExt;
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("passwd"), "host\n").unwrap();
        let tree = tempfile::tempdir().unwrap();
        fs::create_dir(tree.path().join("etc")).unwrap();
        fs::write(tree.path().join("etc/real"), "a\n").unwrap();
        symlink("/etc/real", tree.path().join("etc/passwd")).unwrap();
        symlink(outside.path().join("passwd"), tree.path().join("etc/group")).unwrap();
        nix::unistd::mkfifo(&tree.path().join("etc/fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let dir = ConfinedDir::open(tree.path()).unwrap();
        // A link inside the root is followed there.
        dir.append_regular(Path::new("etc/passwd"), b"b\n").unwrap();
        assert_eq!(
            fs::read_to_string(tree.path().join("etc/real")).unwrap(),
            "a\nb\n"
        );
        // A link to the host's file resolves inside the root, where nothing is: refused
        // (its parent there is missing), and the host's file is untouched.
        assert!(dir.append_regular(Path::new("etc/group"), b"x\n").is_err());
        assert_eq!(
            fs::read_to_string(outside.path().join("passwd")).unwrap(),
            "host\n"
        );
        // A FIFO would block a writer: refused at once.
        assert!(dir.append_regular(Path::new("etc/fifo"), b"x\n").is_err());
        // A missing file is made, readable by all whatever the umask.
        dir.append_regular(Path::new("etc/new"), b"n\n").unwrap();
        let made = tree.path().join("etc/new");
        assert_eq!(fs::read_to_string(&made).unwrap(), "n\n");
        assert_eq!(
            fs::metadata(&made).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    /// A walk through `..` in the root that races with mounts elsewhere on the host (here:
    /// a thread mounting and unmounting a tmpfs) still succeeds: the kernel's EAGAIN is
    /// retried. Needs root to mount; skipped without.
    #[test]
    fn reads_through_parent_links_survive_mounts_elsewhere() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: mounting needs root");
            return;
        }
        let tree = tempfile::tempdir().unwrap();
        fs::create_dir_all(tree.path().join("a/b")).unwrap();
        fs::write(tree.path().join("f"), "found\n").unwrap();
        // `..` past the top stays at the top (RESOLVE_IN_ROOT); each one is checked against
        // concurrent mounts.
        symlink("../../../../../../f", tree.path().join("a/b/up")).unwrap();
        let dir = ConfinedDir::open(tree.path()).unwrap();
        let mounts = tempfile::tempdir().unwrap();
        let target = mounts.path().to_path_buf();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mounting = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                use nix::mount::{mount, umount, MsFlags};
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    mount(
                        Some("tmpfs"),
                        &target,
                        Some("tmpfs"),
                        MsFlags::empty(),
                        None::<&str>,
                    )
                    .unwrap();
                    umount(&target).unwrap();
                }
            })
        };
        let failures = (0..3000)
            .filter(|_| dir.read_regular(Path::new("a/b/up"), 64).is_err())
            .count();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        mounting.join().unwrap();
        assert_eq!(failures, 0);
    }

    #[test]
    fn remove_entry_removes_trees_but_never_follows_links() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("keep"), "x").unwrap();
        let tree = tempfile::tempdir().unwrap();
        fs::create_dir_all(tree.path().join("d/e")).unwrap();
        fs::write(tree.path().join("d/e/f"), "x").unwrap();
        symlink(outside.path(), tree.path().join("d/link")).unwrap();
        let top = ConfinedDir::open(tree.path()).unwrap();
        remove_entry(top.top(), OsStr::new("d")).unwrap();
        assert!(!tree.path().join("d").exists());
        assert!(outside.path().join("keep").exists());
        remove_entry(top.top(), OsStr::new("missing")).unwrap();
    }

    /// A node's mode is set on the node itself; an entry swapped for a link meanwhile is
    /// refused, and what it points at keeps its mode.
    #[test]
    fn a_mode_is_never_set_through_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        fs::write(&target, "x").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        let tree = tempfile::tempdir().unwrap();
        fs::write(tree.path().join("file"), "x").unwrap();
        symlink(&target, tree.path().join("swapped")).unwrap();
        let top = ConfinedDir::open(tree.path()).unwrap();
        let mode = Mode::from_raw_mode(0o4755);
        set_mode_no_follow(top.top(), OsStr::new("file"), mode).unwrap();
        let set = fs::metadata(tree.path().join("file")).unwrap();
        assert_eq!(set.permissions().mode() & 0o7777, 0o4755);
        let refused = set_mode_no_follow(top.top(), OsStr::new("swapped"), mode).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("swapped became a symbolic link"),
            "{refused}"
        );
        let kept = fs::metadata(&target).unwrap();
        assert_eq!(kept.permissions().mode() & 0o7777, 0o600);
    }
}
