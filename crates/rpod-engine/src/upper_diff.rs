//! A container's changes: its overlay's upper directory, walked through directory
//! descriptors (every step `O_NOFOLLOW`, so a running container that swaps a file for a
//! symbolic link mid-walk makes rpod read nothing outside the upper directory), as a layer
//! tar (`commit`, checkpoint export) or as a list of changes (`diff`).
//!
//! Written by hand because the `tar` crate's directory walker follows paths by name.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};

use crate::userns::IdMappings;

pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";
pub(crate) const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// One entry of the upper directory, as the walk meets it (parents before children).
pub enum Entry<'a> {
    /// A deletion of `path` in the layers below (an overlay whiteout).
    Deleted(&'a Path),
    /// A directory that hides everything below it in the lower layers.
    Opaque(&'a Path),
    /// A file, directory, link or node at `path`; `file` is open for regular files (walked
    /// by `walk`).
    Present {
        path: &'a Path,
        stat: &'a Stat,
        file: Option<File>,
        link: Option<OsString>,
    },
}

fn open_dir_at(parent: &impl AsFd, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn is_opaque(dir: &impl AsFd) -> bool {
    let mut value = [0u8; 1];
    rfs::fgetxattr(dir, "trusted.overlay.opaque", &mut value)
        .is_ok_and(|n| n == 1 && value[0] == b'y')
}

/// Call `visit` for every entry below `upper`, sorted by name, parents first. A missing
/// upper directory (a container never mounted) has no changes.
pub fn walk(upper: &Path, visit: &mut dyn FnMut(Entry) -> io::Result<()>) -> io::Result<()> {
    walk_tree(upper, true, visit)
}

/// The bytes of the files in a tree (a container's upper layer, a volume), as podman
/// measures them: every entry but directories at its own size (a symbolic link's is the
/// length of its target), a file with several names once. Walked by descriptor, as
/// `walk`, without opening the files.
pub fn disk_usage(root: &Path) -> io::Result<u64> {
    let mut total = 0u64;
    let mut linked = std::collections::HashSet::new();
    walk_tree(root, false, &mut |entry| {
        if let Entry::Present { stat, .. } = entry {
            let directory = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
            let counted = stat.st_nlink < 2 || linked.insert((stat.st_dev, stat.st_ino));
            if !directory && counted {
                total += u64::try_from(stat.st_size).unwrap_or(0);
            }
        }
        Ok(())
    })?;
    Ok(total)
}

/// `walk`, with regular files opened (`open_files`) or only described by their stat.
fn walk_tree(
    upper: &Path,
    open_files: bool,
    visit: &mut dyn FnMut(Entry) -> io::Result<()>,
) -> io::Result<()> {
    let top = match rfs::open(
        upper,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    walk_dir(&top, Path::new(""), open_files, visit)
}

fn walk_dir(
    dir: &OwnedFd,
    rel: &Path,
    open_files: bool,
    visit: &mut dyn FnMut(Entry) -> io::Result<()>,
) -> io::Result<()> {
    let mut names: Vec<OsString> = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(&name).to_os_string());
        }
    }
    names.sort();
    for name in names {
        let path = rel.join(&name);
        let stat = match rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            // Removed by the running container since the listing.
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let kind = FileType::from_raw_mode(stat.st_mode);
        match kind {
            FileType::CharacterDevice if stat.st_rdev == 0 => visit(Entry::Deleted(&path))?,
            FileType::RegularFile if !open_files => visit(Entry::Present {
                path: &path,
                stat: &stat,
                file: None,
                link: None,
            })?,
            FileType::RegularFile => {
                let fd = match rfs::openat(
                    dir,
                    &name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(rustix::io::Errno::NOENT) => continue,
                    Err(e) => return Err(e.into()),
                };
                // What was opened is what is described: a swap after the stat is skipped.
                let now = rfs::fstat(&fd)?;
                if FileType::from_raw_mode(now.st_mode) != FileType::RegularFile {
                    continue;
                }
                visit(Entry::Present {
                    path: &path,
                    stat: &now,
                    file: Some(File::from(fd)),
                    link: None,
                })?;
            }
            FileType::Symlink => {
                let target = match rfs::readlinkat(dir, &name, Vec::new()) {
                    Ok(target) => OsStr::from_bytes(target.to_bytes()).to_os_string(),
                    Err(rustix::io::Errno::NOENT | rustix::io::Errno::INVAL) => continue,
                    Err(e) => return Err(e.into()),
                };
                visit(Entry::Present {
                    path: &path,
                    stat: &stat,
                    file: None,
                    link: Some(target),
                })?;
            }
            FileType::Directory => {
                let child = match open_dir_at(dir, &name) {
                    Ok(fd) => fd,
                    // Gone, or replaced by a link or a file since the stat: skipped.
                    Err(
                        rustix::io::Errno::NOENT
                        | rustix::io::Errno::LOOP
                        | rustix::io::Errno::NOTDIR,
                    ) => continue,
                    Err(e) => return Err(e.into()),
                };
                let now = rfs::fstat(&child)?;
                visit(Entry::Present {
                    path: &path,
                    stat: &now,
                    file: None,
                    link: None,
                })?;
                if is_opaque(&child) {
                    visit(Entry::Opaque(&path))?;
                }
                walk_dir(&child, &path, open_files, visit)?;
            }
            _ => visit(Entry::Present {
                path: &path,
                stat: &stat,
                file: None,
                link: None,
            })?,
        }
    }
    Ok(())
}

/// A tar header with an entry's metadata; its owner as the container sees it when the
/// files hold the host's IDs of a container with a user namespace (`mapped`).
fn header_for(
    stat: &Stat,
    kind: tar::EntryType,
    size: u64,
    mapped: Option<&IdMappings>,
    mtime: Option<u64>,
) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(stat.st_mode & 0o7777);
    let (uid, gid) = match mapped {
        Some(m) => m.to_container(stat.st_uid, stat.st_gid),
        None => (stat.st_uid, stat.st_gid),
    };
    header.set_uid(u64::from(uid));
    header.set_gid(u64::from(gid));
    header.set_mtime(mtime.unwrap_or_else(|| u64::try_from(stat.st_mtime).unwrap_or(0)));
    header
}

/// An empty regular file's header (whiteout markers).
pub(crate) fn marker_header() -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(0);
    header.set_mode(0o600);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

/// `DIR/.wh.NAME`, the marker that deletes `DIR/NAME` of the layers below.
pub(crate) fn whiteout_name(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!("{WHITEOUT_PREFIX}{name}"))
}

/// Write the upper directory's changes into `builder` as an OCI layer: deletions become
/// `.wh.NAME` files, opaque directories get `.wh..wh..opq`. A file with several names in
/// the layer is stored once, its other names as hard links to the first (as podman's
/// layers have them: a package's hard-linked programs are not stored again for each
/// name, and stay one file in the image). Directories and empty files at a path `placeholder` names are left out
/// (the mount points rpod made, which are no change of the container's). `mapped`: the
/// files' owners are the host's IDs of a container with these mappings (`header_for`).
pub fn append_layer<W: Write>(
    builder: &mut tar::Builder<W>,
    upper: &Path,
    placeholder: &dyn Fn(&Path) -> bool,
    mapped: Option<&IdMappings>,
) -> io::Result<()> {
    append_layer_dated(builder, upper, placeholder, mapped, None)
}

/// `append_layer`, every entry dated `mtime` (seconds since 1970) when it is given rather
/// than by its file's modification time: `build --timestamp`, whose layers are then the
/// same bytes for the same files.
pub fn append_layer_dated<W: Write>(
    builder: &mut tar::Builder<W>,
    upper: &Path,
    placeholder: &dyn Fn(&Path) -> bool,
    mapped: Option<&IdMappings>,
    mtime: Option<u64>,
) -> io::Result<()> {
    // The first name written of each file that has several.
    let mut first_names: std::collections::HashMap<(u64, u64), PathBuf> = Default::default();
    walk(upper, &mut |entry| match entry {
        Entry::Present { path, stat, .. }
            if placeholder(path)
                && match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory => true,
                    FileType::RegularFile => stat.st_size == 0,
                    _ => false,
                } =>
        {
            Ok(())
        }
        Entry::Deleted(path) => {
            builder.append_data(&mut marker_header(), whiteout_name(path), io::empty())
        }
        Entry::Opaque(path) => {
            builder.append_data(&mut marker_header(), path.join(OPAQUE_MARKER), io::empty())
        }
        Entry::Present {
            path,
            stat,
            file,
            link,
        } => {
            let kind = FileType::from_raw_mode(stat.st_mode);
            if file.is_some() && stat.st_nlink > 1 {
                match first_names.entry((stat.st_dev, stat.st_ino)) {
                    std::collections::hash_map::Entry::Occupied(first) => {
                        let mut header = header_for(stat, tar::EntryType::Link, 0, mapped, mtime);
                        return builder.append_link(&mut header, path, first.get());
                    }
                    std::collections::hash_map::Entry::Vacant(vacant) => {
                        vacant.insert(path.to_path_buf());
                    }
                }
            }
            if let Some(mut file) = file {
                // A running container may be rewriting the file: copy what it holds now,
                // and give the archive that copy's exact length.
                let mut copy = tempfile::tempfile()?;
                let length = io::copy(&mut file, &mut copy)?;
                io::Seek::rewind(&mut copy)?;
                let mut header = header_for(stat, tar::EntryType::Regular, length, mapped, mtime);
                return builder.append_data(&mut header, path, copy);
            }
            if let Some(target) = link {
                let mut header = header_for(stat, tar::EntryType::Symlink, 0, mapped, mtime);
                return builder.append_link(&mut header, path, target);
            }
            let entry_type = match kind {
                FileType::Directory => tar::EntryType::Directory,
                FileType::Fifo => tar::EntryType::Fifo,
                FileType::CharacterDevice => tar::EntryType::Char,
                FileType::BlockDevice => tar::EntryType::Block,
                // Sockets do not go into layers.
                _ => return Ok(()),
            };
            let mut header = header_for(stat, entry_type, 0, mapped, mtime);
            if matches!(kind, FileType::CharacterDevice | FileType::BlockDevice) {
                crate::scratch::set_node_device(&mut header, stat.st_rdev)?;
            }
            builder.append_data(&mut header, path, io::empty())
        }
    })
}

/// One line of `diff`: added, changed or deleted, with the path inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Changed,
    Deleted,
}

impl ChangeKind {
    /// podman's letter: A, C or D.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Changed => 'C',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// The changes in `upper` against the image's layers (`lower`, bottom first): an entry is
/// changed when a lower layer has that path, added otherwise. `skip` leaves out paths rpod
/// itself puts there (the mount points of `/etc/hosts` and the like when they were made).
pub fn changes(
    upper: &Path,
    lower: &[PathBuf],
    skip: &dyn Fn(&Path) -> bool,
) -> io::Result<Vec<Change>> {
    Ok(changes_and_left_out(upper, lower, skip)?.0)
}

/// `changes`, and the paths (relative to `upper`) it left out: those `skip` names and the
/// directories added only to hold them.
pub fn changes_and_left_out(
    upper: &Path,
    lower: &[PathBuf],
    skip: &dyn Fn(&Path) -> bool,
) -> io::Result<(Vec<Change>, Vec<PathBuf>)> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    // The layers are opened once; paths below them (the container's names) are looked up
    // without following any symlink, as overlay itself looks them up: a layer's link to an
    // absolute path must not make a host file count.
    let layers: Vec<OwnedFd> = lower
        .iter()
        .filter_map(|layer| {
            rfs::open(
                layer,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok()
        })
        .collect();
    walk(upper, &mut |entry| {
        let (path, kind) = match entry {
            Entry::Deleted(path) => (path, ChangeKind::Deleted),
            Entry::Opaque(_) => return Ok(()),
            Entry::Present { path, .. } => {
                let below = layers.iter().any(|layer| {
                    crate::confined::openat2(
                        layer,
                        path,
                        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                        rfs::ResolveFlags::BENEATH | rfs::ResolveFlags::NO_SYMLINKS,
                    )
                    .is_ok()
                });
                let kind = if below {
                    ChangeKind::Changed
                } else {
                    ChangeKind::Added
                };
                (path, kind)
            }
        };
        if skip(path) {
            skipped.push(path.to_path_buf());
        } else {
            out.push(Change {
                kind,
                path: path.to_path_buf(),
            });
        }
        Ok(())
    })?;
    // A directory added only to hold skipped mount points (`/run` for `/run/.containerenv`)
    // is no change of the container's either.
    let holds_only_skipped = |dir: &Path, out: &[Change]| {
        skipped.iter().any(|s| s.starts_with(dir))
            && !out.iter().any(|c| c.path != dir && c.path.starts_with(dir))
    };
    let (holders, kept): (Vec<Change>, Vec<Change>) = out
        .iter()
        .cloned()
        .partition(|c| c.kind == ChangeKind::Added && holds_only_skipped(&c.path, &out));
    skipped.extend(holders.into_iter().map(|c| c.path));
    let kept = kept
        .into_iter()
        .map(|c| Change {
            path: Path::new("/").join(c.path),
            ..c
        })
        .collect();
    Ok((kept, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names_in(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType)> {
        tar::Archive::new(tar_bytes)
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect()
    }

    #[test]
    fn disk_usage_counts_files_and_links_once_each() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/blob"), [0u8; 1000]).unwrap();
        std::fs::hard_link(dir.path().join("sub/blob"), dir.path().join("again")).unwrap();
        symlink("/aaaa/bbbb", dir.path().join("link")).unwrap();
        // The file once for its two names, the link at its target's length, no directory.
        assert_eq!(disk_usage(dir.path()).unwrap(), 1010);
        assert_eq!(disk_usage(&dir.path().join("none")).unwrap(), 0);
    }

    #[test]
    fn a_mapped_containers_files_go_in_with_the_owners_it_sees() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        symlink("file", dir.path().join("link")).unwrap();
        // This process's IDs stand for the host's IDs of the container's 5 and 6; what
        // has no mapping is the kernel's overflow ID.
        let (uid, gid) = (rustix::process::getuid(), rustix::process::getgid());
        let range = |container, host| crate::userns::IdRange {
            container,
            host,
            size: 1,
        };
        let mapped = IdMappings {
            uids: vec![range(5, uid.as_raw())],
            gids: vec![range(6, gid.as_raw())],
        };
        let owners = |mapped: Option<&IdMappings>| {
            let mut builder = tar::Builder::new(Vec::new());
            append_layer(&mut builder, dir.path(), &|_| false, mapped).unwrap();
            let bytes = builder.into_inner().unwrap();
            let mut archive = tar::Archive::new(bytes.as_slice());
            archive
                .entries()
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let h = e.header();
                    (h.uid().unwrap(), h.gid().unwrap())
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(owners(Some(&mapped)), vec![(5, 6), (5, 6)]);
        let plain = (u64::from(uid.as_raw()), u64::from(gid.as_raw()));
        assert_eq!(owners(None), vec![plain, plain]);
        let unmapped = IdMappings {
            uids: vec![range(0, uid.as_raw() + 1)],
            gids: vec![range(0, gid.as_raw() + 1)],
        };
        let overflow = u64::from(crate::userns::OVERFLOW_ID);
        assert_eq!(owners(Some(&unmapped)), vec![(overflow, overflow); 2]);
    }

    /// A file with several names is stored once, its other names as hard links to the
    /// first; unpacked, they are one file again.
    #[test]
    fn hard_links_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path().join("upper");
        std::fs::create_dir_all(upper.join("bin")).unwrap();
        std::fs::write(upper.join("bin/tool"), "program").unwrap();
        std::fs::hard_link(upper.join("bin/tool"), upper.join("bin/alias")).unwrap();
        std::fs::hard_link(upper.join("bin/tool"), upper.join("other")).unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        append_layer(&mut builder, &upper, &|_| false, None).unwrap();
        let bytes = builder.into_inner().unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries: Vec<(String, tar::EntryType, u64, Option<String>)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let target = e.link_name().unwrap().map(|t| t.display().to_string());
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                    e.header().size().unwrap(),
                    target,
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("bin".to_string(), tar::EntryType::Directory, 0, None),
                ("bin/alias".into(), tar::EntryType::Regular, 7, None),
                (
                    "bin/tool".into(),
                    tar::EntryType::Link,
                    0,
                    Some("bin/alias".into())
                ),
                (
                    "other".into(),
                    tar::EntryType::Link,
                    0,
                    Some("bin/alias".into())
                ),
            ]
        );
        let unpacked = dir.path().join("layer");
        std::fs::create_dir(&unpacked).unwrap();
        crate::image::layer::unpack(bytes.as_slice(), &unpacked).unwrap();
        use std::os::unix::fs::MetadataExt;
        let tool = std::fs::metadata(unpacked.join("bin/tool")).unwrap();
        assert_eq!(tool.nlink(), 3);
        assert_eq!(std::fs::read(unpacked.join("other")).unwrap(), b"program");
    }

    #[test]
    fn a_layer_has_files_dirs_links_and_whiteouts_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path().join("upper");
        std::fs::create_dir_all(upper.join("etc/conf.d")).unwrap();
        std::fs::write(upper.join("etc/conf.d/a.conf"), "x=1\n").unwrap();
        symlink("/etc/shadow", upper.join("etc/link")).unwrap();
        // A whiteout needs CAP_MKNOD; as a plain user, the rest is still checked.
        let whiteout = rustix::fs::mknodat(
            rfs::CWD,
            upper.join("gone"),
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o600),
            0,
        )
        .is_ok();
        let mut builder = tar::Builder::new(Vec::new());
        append_layer(&mut builder, &upper, &|_| false, None).unwrap();
        let bytes = builder.into_inner().unwrap();
        let mut expected = vec![
            ("etc".to_string(), tar::EntryType::Directory),
            ("etc/conf.d".into(), tar::EntryType::Directory),
            ("etc/conf.d/a.conf".into(), tar::EntryType::Regular),
            ("etc/link".into(), tar::EntryType::Symlink),
        ];
        if whiteout {
            expected.push((".wh.gone".into(), tar::EntryType::Regular));
        }
        assert_eq!(names_in(&bytes), expected);
        // The link is stored as a link: its target's content is never read.
        let mut archive = tar::Archive::new(bytes.as_slice());
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            if entry.path().unwrap().ends_with("link") {
                assert_eq!(
                    entry.link_name().unwrap().unwrap(),
                    Path::new("/etc/shadow")
                );
                assert_eq!(entry.header().size().unwrap(), 0);
            }
        }
    }

    #[test]
    fn changes_say_added_or_changed_against_the_layers() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, lower) = (dir.path().join("upper"), dir.path().join("lower"));
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/passwd"), "").unwrap();
        std::fs::write(upper.join("etc/passwd"), "root").unwrap();
        std::fs::write(upper.join("etc/hosts"), "").unwrap();
        std::fs::write(upper.join("new"), "").unwrap();
        let found = changes(&upper, &[lower], &|p| p == Path::new("etc/hosts")).unwrap();
        let lines: Vec<String> = found
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path.display()))
            .collect();
        assert_eq!(lines, ["C /etc", "C /etc/passwd", "A /new"]);
        // No upper directory: no changes.
        assert!(changes(&dir.path().join("none"), &[], &|_| false)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_layers_symlink_is_never_followed_onto_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, lower, host) = (
            dir.path().join("upper"),
            dir.path().join("lower"),
            dir.path().join("host"),
        );
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("secret"), "").unwrap();
        std::fs::create_dir_all(&lower).unwrap();
        // The image's `a` points at a host directory; the container made `a` a directory.
        std::os::unix::fs::symlink(&host, lower.join("a")).unwrap();
        std::fs::create_dir_all(upper.join("a")).unwrap();
        std::fs::write(upper.join("a/secret"), "").unwrap();
        let found = changes(&upper, &[lower], &|_| false).unwrap();
        let lines: Vec<String> = found
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path.display()))
            .collect();
        assert_eq!(lines, ["C /a", "A /a/secret"]);
    }
}
