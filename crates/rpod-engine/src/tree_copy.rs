//! Whole-tree operations on open directories, never resolving a path through a symbolic
//! link: copying an image's content into a new volume (podman's copy-up, from a container's
//! root file system, which is hostile input) and changing the owner of a mount's source
//! (the `U` volume option). Every step is an `*at` call on a directory descriptor with one
//! plain name, and symlinks are copied or re-owned as links, never followed.
//! Written with rustix's wrappers: no maintained crate walks a tree by descriptor like this.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use crate::userns::IdMappings;

/// Deeper trees are refused rather than risk the stack.
const MAX_DEPTH: usize = 256;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// The names in `dir`, sorted, without `.` and `..`.
pub fn entries(dir: &OwnedFd) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

fn owner(stat: &rfs::Stat) -> (Option<rfs::Uid>, Option<rfs::Gid>) {
    (
        Some(rfs::Uid::from_raw(stat.st_uid)),
        Some(rfs::Gid::from_raw(stat.st_gid)),
    )
}

fn mode_of(stat: &rfs::Stat) -> Mode {
    Mode::from_raw_mode(stat.st_mode & 0o7777)
}

/// The access and modification times of `stat`, which a copy keeps (as podman's `cp`).
fn times_of(stat: &rfs::Stat) -> rfs::Timestamps {
    rfs::Timestamps {
        last_access: rfs::Timespec {
            tv_sec: stat.st_atime,
            tv_nsec: stat.st_atime_nsec as _,
        },
        last_modification: rfs::Timespec {
            tv_sec: stat.st_mtime,
            tv_nsec: stat.st_mtime_nsec as _,
        },
    }
}

/// Copy everything in `src` into `dst` (which should be empty): directories, regular files
/// (contents, mode, owner), symbolic links as links. Devices, FIFOs and sockets are left
/// out. `dst` itself takes `src`'s mode and owner, as a volume takes those of the image
/// directory it is mounted on. Returns how many entries were copied.
pub fn copy_tree(src: &OwnedFd, dst: &OwnedFd) -> io::Result<u64> {
    let top = rfs::fstat(src)?;
    let copied = copy_dir(src, dst, 0, false, &CopyAs::default(), Path::new(""))?;
    let (uid, gid) = owner(&top);
    rfs::fchown(dst, uid, gid)?;
    rfs::fchmod(dst, mode_of(&top))?;
    Ok(copied)
}

/// With `merge`, entries already in `dst` are replaced (a directory is merged into), as
/// `cp` does; otherwise `dst` must not have them.
/// How a copy writes what it copies, beyond the source's own metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyAs<'a> {
    /// Every copied entry's owner instead of its source's (`cp`'s `--archive`).
    pub owner: Option<(u32, u32)>,
    /// Source directories (paths from the copy's top, the top's own name first) that a tar
    /// only implied: one already at the destination keeps its mode, owner and times (the
    /// archive said nothing of it); a new one is made 0755, as Docker makes them.
    pub implied: Option<&'a HashSet<PathBuf>>,
    /// The owners written, translated for a container with a user namespace.
    pub owners: Option<Owners<'a>>,
    /// Every copied file's and directory's permissions instead of its source's (`COPY
    /// --chmod`); links have none of their own.
    pub mode: Option<u32>,
    /// A directory already there is never replaced by a non-directory, nor a non-directory
    /// (a link too) by a directory: the copy fails there instead (`cp`'s rule, as podman's
    /// and Docker's copies keep it). Otherwise what is there gives way.
    pub keep_kinds: bool,
    /// Device nodes are left out (a copy onto the host: `cp CTR:PATH HOST_PATH`).
    pub skip_devices: bool,
}

impl CopyAs<'_> {
    /// The permissions a copy of an entry with `stat` gets.
    fn mode_for(&self, stat: &rfs::Stat) -> Mode {
        match self.mode {
            Some(mode) => Mode::from_raw_mode(mode & 0o7777),
            None => mode_of(stat),
        }
    }

    /// The owner a copy of an entry with `stat` gets.
    pub fn owner_of(&self, stat: &rfs::Stat) -> (u32, u32) {
        let (uid, gid) = self.owner.unwrap_or((stat.st_uid, stat.st_gid));
        match self.owners {
            Some(owners) => owners.translate(uid, gid),
            None => (uid, gid),
        }
    }
}

/// Which way a copy translates owners for a container with a user namespace, whose files
/// hold the host's IDs.
#[derive(Debug, Clone, Copy)]
pub enum Owners<'a> {
    /// Into the container: the owners asked for (or the source's) are the container's.
    ToHost(&'a IdMappings),
    /// Out of the container: the copy gets the owners the container sees.
    ToContainer(&'a IdMappings),
}

impl Owners<'_> {
    fn translate(self, uid: u32, gid: u32) -> (u32, u32) {
        match self {
            // An ID the container has no mapping for is the one it would see as such.
            Owners::ToHost(m) => m
                .to_host(uid, gid)
                .unwrap_or((crate::userns::OVERFLOW_ID, crate::userns::OVERFLOW_ID)),
            Owners::ToContainer(m) => m.to_container(uid, gid),
        }
    }
}

fn copy_dir(
    src: &OwnedFd,
    dst: &OwnedFd,
    depth: usize,
    merge: bool,
    how: &CopyAs,
    rel: &Path,
) -> io::Result<u64> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!(
            "more than {MAX_DEPTH} directory levels"
        )));
    }
    let mut copied = 0;
    for name in entries(src)? {
        copied += copy_one(src, &name, dst, &name, depth, merge, how, &rel.join(&name))?;
    }
    Ok(copied)
}

/// Copy one entry of `src` named `name` (at `rel` from the copy's top) into `dst` as
/// `to_name`; how many were copied.
#[allow(clippy::too_many_arguments)]
fn copy_one(
    src: &OwnedFd,
    name: &OsStr,
    dst: &OwnedFd,
    to_name: &OsStr,
    depth: usize,
    merge: bool,
    how: &CopyAs,
    rel: &Path,
) -> io::Result<u64> {
    let mut copied = 0;
    let stat = rfs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let owner = how.owner_of(&stat);
    let (uid, gid) = (
        Some(rfs::Uid::from_raw(owner.0)),
        Some(rfs::Gid::from_raw(owner.1)),
    );
    let kind = FileType::from_raw_mode(stat.st_mode);
    if merge {
        // What is there already gives way, unless both are directories. A symlink is
        // removed, never followed.
        if let Ok(there) = rfs::statat(dst, to_name, AtFlags::SYMLINK_NOFOLLOW) {
            let there = FileType::from_raw_mode(there.st_mode);
            let (dir_here, dir_there) = (kind == FileType::Directory, there == FileType::Directory);
            if how.keep_kinds && dir_here != dir_there {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{}: cannot replace {} with {}",
                        rel.display(),
                        if dir_there {
                            "a directory"
                        } else {
                            "a non-directory"
                        },
                        if dir_here {
                            "a directory"
                        } else {
                            "a non-directory"
                        },
                    ),
                ));
            }
            if !(dir_here && dir_there) {
                crate::confined::remove_entry(dst, to_name)?;
            }
        }
    }
    match kind {
        FileType::Directory => {
            let existed = match rfs::mkdirat(dst, to_name, Mode::from_raw_mode(0o700)) {
                Err(rustix::io::Errno::EXIST) if merge => true,
                other => {
                    other?;
                    false
                }
            };
            let from = rfs::openat(src, name, DIR_FLAGS, Mode::empty())?;
            let to = rfs::openat(dst, to_name, DIR_FLAGS, Mode::empty())?;
            copied += copy_dir(&from, &to, depth + 1, merge, how, rel)?;
            let implied = how.implied.is_some_and(|set| set.contains(rel));
            if !(implied && existed) {
                rfs::fchown(&to, uid, gid)?;
                if implied {
                    rfs::fchmod(&to, Mode::from_raw_mode(0o755))?;
                } else {
                    rfs::fchmod(&to, how.mode_for(&stat))?;
                    // After the entries, whose copies changed it.
                    rfs::futimens(&to, &times_of(&stat))?;
                }
            }
        }
        FileType::RegularFile => {
            let from = rfs::openat(
                src,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
                Mode::empty(),
            )?;
            let to = rfs::openat(
                dst,
                to_name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            let mut reader = std::fs::File::from(from);
            let mut writer = std::fs::File::from(to);
            io::copy(&mut reader, &mut writer)?;
            rfs::fchown(&writer, uid, gid)?;
            // After the owner: chown clears set-id bits.
            rfs::fchmod(&writer, how.mode_for(&stat))?;
            rfs::futimens(&writer, &times_of(&stat))?;
        }
        FileType::Symlink => {
            let target = rfs::readlinkat(src, name, Vec::new())?;
            rfs::symlinkat(target.as_c_str(), dst, to_name)?;
            rfs::chownat(dst, to_name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
            rfs::utimensat(dst, to_name, &times_of(&stat), AtFlags::SYMLINK_NOFOLLOW)?;
        }
        FileType::CharacterDevice | FileType::BlockDevice if how.skip_devices => return Ok(0),
        FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
            crate::confined::make_node(
                dst,
                to_name,
                kind,
                how.mode_for(&stat),
                stat.st_rdev,
                Some(owner),
            )?;
            rfs::utimensat(dst, to_name, &times_of(&stat), AtFlags::SYMLINK_NOFOLLOW)?;
        }
        // Sockets belong to the process that bound them; no copy carries them (podman's
        // neither).
        _ => return Ok(0),
    }
    copied += 1;
    Ok(copied)
}

/// `cp`: copy the entry `name` of `src` into `dst` as `to_name`, replacing what is there
/// (a directory is merged into a directory). Never follows a symlink on either side.
pub fn copy_entry(src: &OwnedFd, name: &OsStr, dst: &OwnedFd, to_name: &OsStr) -> io::Result<u64> {
    copy_entry_as(src, name, dst, to_name, &CopyAs::default())
}

/// `copy_entry`, written as `how` says.
pub fn copy_entry_as(
    src: &OwnedFd,
    name: &OsStr,
    dst: &OwnedFd,
    to_name: &OsStr,
    how: &CopyAs,
) -> io::Result<u64> {
    copy_entry_at(src, name, dst, to_name, how, Path::new(name))
}

/// `copy_entry_as` of an entry `rel` below the copy's top (as `how.implied` names it), for
/// a copy that went down part of the way itself.
pub fn copy_entry_at(
    src: &OwnedFd,
    name: &OsStr,
    dst: &OwnedFd,
    to_name: &OsStr,
    how: &CopyAs,
    rel: &Path,
) -> io::Result<u64> {
    copy_one(src, name, dst, to_name, 0, true, how, rel)
}

/// Give everything under `dir`, and `dir` itself, to `uid:gid`; symbolic links are
/// re-owned, not followed.
pub fn chown_tree(dir: &OwnedFd, uid: u32, gid: u32) -> io::Result<()> {
    let (uid, gid) = (Some(rfs::Uid::from_raw(uid)), Some(rfs::Gid::from_raw(gid)));
    chown_dir(dir, uid, gid, 0)?;
    rfs::fchown(dir, uid, gid).map_err(Into::into)
}

fn chown_dir(
    dir: &OwnedFd,
    uid: Option<rfs::Uid>,
    gid: Option<rfs::Gid>,
    depth: usize,
) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!(
            "more than {MAX_DEPTH} directory levels"
        )));
    }
    for name in entries(dir)? {
        let stat = rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            let child = rfs::openat(dir, &name, DIR_FLAGS, Mode::empty())?;
            chown_dir(&child, uid, gid, depth + 1)?;
        }
        rfs::chownat(dir, &name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
        // chown clears set-id bits of files; put the mode back as it was.
        if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
            && stat.st_mode & 0o6000 != 0
        {
            rfs::chmodat(dir, &name, mode_of(&stat), AtFlags::empty())?;
        }
    }
    Ok(())
}

/// Open the directory `name` in `dir`, refusing a symlink.
pub fn open_dir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    rfs::openat(dir, name, DIR_FLAGS, Mode::empty()).map_err(Into::into)
}

/// Open a directory for the walks above, refusing a symlink at the last step.
pub fn open_dir(path: &std::path::Path) -> io::Result<OwnedFd> {
    rfs::open(path, DIR_FLAGS, Mode::empty()).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    #[test]
    fn copies_a_tree_without_following_links() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "host data").unwrap();
        fs::create_dir_all(src.path().join("a/b")).unwrap();
        fs::write(src.path().join("a/b/file"), "content").unwrap();
        fs::set_permissions(
            src.path().join("a/b/file"),
            fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        symlink(outside.path(), src.path().join("a/escape")).unwrap();
        symlink(outside.path().join("secret"), src.path().join("link")).unwrap();
        fs::set_permissions(src.path(), fs::Permissions::from_mode(0o751)).unwrap();
        // Times from long ago, which the copies keep (links and directories too).
        let old = rfs::Timestamps {
            last_access: rfs::Timespec {
                tv_sec: 1_000_000_000,
                tv_nsec: 5,
            },
            last_modification: rfs::Timespec {
                tv_sec: 1_000_000_000,
                tv_nsec: 5,
            },
        };
        for name in ["a/b/file", "link", "a/b", "a"] {
            rfs::utimensat(
                rfs::CWD,
                src.path().join(name),
                &old,
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .unwrap();
        }
        let copied = copy_tree(
            &open_dir(src.path()).unwrap(),
            &open_dir(dst.path()).unwrap(),
        )
        .unwrap();
        assert_eq!(copied, 5);
        assert_eq!(
            fs::read_to_string(dst.path().join("a/b/file")).unwrap(),
            "content"
        );
        let mode = fs::metadata(dst.path().join("a/b/file")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(fs::metadata(dst.path()).unwrap().mode() & 0o777, 0o751);
        // Links are copied as links: nothing of the host was read.
        assert!(fs::symlink_metadata(dst.path().join("link"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::symlink_metadata(dst.path().join("a/escape"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
        for name in ["a/b/file", "link", "a/b", "a"] {
            let copy = fs::symlink_metadata(dst.path().join(name)).unwrap();
            assert_eq!(
                (copy.mtime(), copy.mtime_nsec()),
                (1_000_000_000, 5),
                "{name}"
            );
        }
    }

    /// A fifo is copied as a fifo with its mode and time (copies skipped it before, as
    /// they still skip sockets); device nodes take the same path, and need root to make.
    #[test]
    fn copies_fifos_with_their_mode() {
        use std::os::unix::fs::FileTypeExt;
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&src.path().join("pipe"), nix::sys::stat::Mode::empty()).unwrap();
        fs::set_permissions(src.path().join("pipe"), fs::Permissions::from_mode(0o662)).unwrap();
        let old = rfs::Timestamps {
            last_access: rfs::Timespec {
                tv_sec: 1_000_000_000,
                tv_nsec: 0,
            },
            last_modification: rfs::Timespec {
                tv_sec: 1_000_000_000,
                tv_nsec: 0,
            },
        };
        rfs::utimensat(rfs::CWD, src.path().join("pipe"), &old, AtFlags::empty()).unwrap();
        let copied = copy_tree(
            &open_dir(src.path()).unwrap(),
            &open_dir(dst.path()).unwrap(),
        )
        .unwrap();
        assert_eq!(copied, 1);
        let pipe = fs::symlink_metadata(dst.path().join("pipe")).unwrap();
        assert!(pipe.file_type().is_fifo());
        assert_eq!(pipe.mode() & 0o7777, 0o662);
        assert_eq!(pipe.mtime(), 1_000_000_000);
    }

    #[test]
    fn chown_reaches_every_entry_but_no_link_target() {
        if !nix::unistd::geteuid().is_root() {
            return; // changing owners needs root; the copy test covers the walk.
        }
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("x/y")).unwrap();
        fs::write(dir.path().join("x/y/f"), "").unwrap();
        symlink(outside.path(), dir.path().join("x/out")).unwrap();
        chown_tree(&open_dir(dir.path()).unwrap(), 4321, 8765).unwrap();
        for path in ["", "x", "x/y", "x/y/f"] {
            let meta = fs::symlink_metadata(dir.path().join(path)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (4321, 8765), "{path}");
        }
        let link = fs::symlink_metadata(dir.path().join("x/out")).unwrap();
        assert_eq!(link.uid(), 4321);
        assert_eq!(fs::metadata(outside.path()).unwrap().uid(), 0);
    }

    #[test]
    fn copies_translate_owners_for_a_user_namespace() {
        // Without root a copy can only give files to this process's own IDs: the
        // translation itself (`owner_of`) is what is checked there.
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        let mappings = IdMappings::from_flags(&[format!("0:{uid}:1")], &[format!("0:{gid}:1")])
            .unwrap()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), "x").unwrap();
        let stat = rfs::stat(dir.path().join("f")).unwrap();
        let out = CopyAs {
            owners: Some(Owners::ToContainer(&mappings)),
            ..Default::default()
        };
        assert_eq!(out.owner_of(&stat), (0, 0));
        // Into the container: the owner asked for is the container's; one it has no
        // mapping for is the one it sees as such.
        let asked = |owner| CopyAs {
            owner: Some(owner),
            owners: Some(Owners::ToHost(&mappings)),
            ..Default::default()
        };
        assert_eq!(asked((0, 0)).owner_of(&stat), (uid, gid));
        let overflow = crate::userns::OVERFLOW_ID;
        assert_eq!(asked((7, 0)).owner_of(&stat), (overflow, overflow));
        // A real copy into the "container": the file gets the host's IDs of its root.
        let to = tempfile::tempdir().unwrap();
        let copied = copy_entry_as(
            &open_dir(dir.path()).unwrap(),
            OsStr::new("f"),
            &open_dir(to.path()).unwrap(),
            OsStr::new("f"),
            &asked((0, 0)),
        )
        .unwrap();
        assert_eq!(copied, 1);
        let meta = fs::metadata(to.path().join("f")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    }
}
