//! A container's files as its processes see them, for `cp`: its root file system with the
//! bind mounts (volumes, the user's bind mounts, rpod's own `/etc/hosts` and the like) laid
//! over it, found on the host without mounting anything.
//!
//! A path is walked one name at a time from the root's descriptor, as the kernel would walk
//! it inside the container: a name that is a mount's destination continues in the mount's
//! source, a symbolic link is read and its target walked in its place (an absolute one from
//! the container's root, `..` never above it), and every step is an `O_NOFOLLOW` open of a
//! single name in the directory before it. So a link the container made, in its root or in
//! a volume, leads somewhere in the container's view and never onto the host.
//!
//! Written by hand: `openat2(RESOLVE_IN_ROOT)` (see `confined.rs`) resolves inside one
//! directory tree only, and no crate resolves paths across a table of mounts.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

/// As many links as the kernel follows in one path.
const MAX_LINKS: usize = 40;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// One mount over the root file system, as the container's spec has it.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeMount {
    /// Where it is in the container (absolute).
    pub destination: PathBuf,
    /// The host path a bind mount shows; `None` for a file system that is not on the host
    /// (tmpfs, proc, sysfs, devpts, ...).
    pub source: Option<PathBuf>,
    pub read_only: bool,
}

/// Why a path could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{path} is on a mount that is not on the host ({destination}, a tmpfs or a kernel file system)")]
    NotOnHost { path: PathBuf, destination: PathBuf },
    #[error("{path}: too many levels of symbolic links")]
    Loop { path: PathBuf },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

type Result<T> = std::result::Result<T, TreeError>;

/// An entry of the tree (which may not exist yet): the host directory that holds it and its
/// name there.
#[derive(Debug)]
pub struct Entry {
    pub dir: OwnedFd,
    /// The name in `dir`: the container's own name, except for a mount's top, whose name is
    /// the source's on the host (`_data` for a volume).
    pub name: OsString,
    /// Where it is as the container sees it, links resolved.
    pub path: PathBuf,
    /// What it is (links not followed); `None` when missing.
    pub kind: Option<FileType>,
    /// It is the top of a mount (replacing it would detach it from the container).
    pub mount_top: bool,
    /// It is on a read-only mount.
    pub read_only: bool,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.kind == Some(FileType::Directory)
    }

    /// The entry as a directory of its own.
    pub fn open_dir(&self) -> io::Result<OwnedFd> {
        rfs::openat(&self.dir, &self.name, DIR_FLAGS, Mode::empty()).map_err(Into::into)
    }
}

/// One directory of the walk.
struct Step {
    path: PathBuf,
    dir: OwnedFd,
    read_only: bool,
}

/// A container's root file system and the mounts over it.
pub struct MountedTree {
    root: OwnedFd,
    mounts: Vec<TreeMount>,
}

impl MountedTree {
    /// `root` is the root file system's top directory; `mounts` in the order the runtime
    /// mounts them (a later one over an earlier one at the same place).
    pub fn new(root: OwnedFd, mounts: Vec<TreeMount>) -> Self {
        MountedTree { root, mounts }
    }

    fn mount_at(&self, path: &Path) -> Option<&TreeMount> {
        self.mounts.iter().rev().find(|m| m.destination == path)
    }

    /// The mounts strictly below `path`, outermost first.
    pub fn mounts_below(&self, path: &Path) -> Vec<&TreeMount> {
        let mut below: Vec<&TreeMount> = self
            .mounts
            .iter()
            .filter(|m| m.destination != path && m.destination.starts_with(path))
            .collect();
        below.sort_by_key(|m| m.destination.components().count());
        below
    }

    /// A mount's top as an entry: the directory holding its source on the host, and the
    /// source's name there.
    pub fn mount_entry(&self, mount: &TreeMount) -> Result<Entry> {
        let not_on_host = || TreeError::NotOnHost {
            path: mount.destination.clone(),
            destination: mount.destination.clone(),
        };
        let source = mount.source.as_deref().ok_or_else(not_on_host)?;
        let (parent, name) = match (source.parent(), source.file_name()) {
            (Some(parent), Some(name)) => (parent, name.to_os_string()),
            // `/` itself.
            _ => (source, OsString::from(".")),
        };
        let io_err = |e: rustix::io::Errno| TreeError::Io {
            action: "opening",
            path: source.to_path_buf(),
            source: e.into(),
        };
        // The source is a host path from the container's configuration (the user's, or
        // rpod's own): the host's links in it are followed, as the runtime did.
        let dir = rfs::open(
            parent,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        let kind = match rfs::statat(&dir, &name, AtFlags::empty()) {
            Ok(stat) => Some(FileType::from_raw_mode(stat.st_mode)),
            Err(rustix::io::Errno::NOENT) => None,
            Err(e) => return Err(io_err(e)),
        };
        Ok(Entry {
            dir,
            name,
            path: mount.destination.clone(),
            kind,
            mount_top: true,
            read_only: mount.read_only,
        })
    }

    /// The root directory itself, as an entry named `.`.
    pub fn root_entry(&self) -> Result<Entry> {
        let dir =
            rfs::openat(&self.root, ".", DIR_FLAGS, Mode::empty()).map_err(|e| TreeError::Io {
                action: "opening",
                path: "/".into(),
                source: e.into(),
            })?;
        Ok(Entry {
            dir,
            name: ".".into(),
            path: "/".into(),
            kind: Some(FileType::Directory),
            mount_top: false,
            read_only: false,
        })
    }

    /// Find `path` (absolute or relative to the container's `/`) as the container sees it.
    /// With `follow_last`, a link at the end is followed too. `Ok(None)` when a directory on
    /// the way is missing or not a directory; an entry whose `kind` is `None` when only the
    /// last name is missing.
    pub fn locate(&self, path: &Path, follow_last: bool) -> Result<Option<Entry>> {
        let mut pending: VecDeque<OsString> = names(path);
        if pending.is_empty() {
            return self.root_entry().map(Some);
        }
        let mut walk = vec![self.root_step()?];
        let mut links = 0;
        while let Some(name) = pending.pop_front() {
            if name == ".." {
                if walk.len() > 1 {
                    walk.pop();
                }
                if pending.is_empty() {
                    return self.entry_of_step(&mut walk).map(Some);
                }
                continue;
            }
            let last = pending.is_empty();
            let here = walk.last().expect("the walk keeps its root");
            let path_here = here.path.join(&name);
            if let Some(mount) = self.mount_at(&path_here) {
                let entry = match mount.source {
                    Some(_) => self.mount_entry(mount)?,
                    None => {
                        return Err(TreeError::NotOnHost {
                            path: Path::new("/").join(path),
                            destination: mount.destination.clone(),
                        })
                    }
                };
                if last {
                    return Ok(Some(entry));
                }
                if !entry.is_dir() {
                    return Ok(None);
                }
                let dir = open_dir_at(&entry.dir, &entry.name, &path_here)?;
                walk.push(Step {
                    path: path_here,
                    dir,
                    read_only: mount.read_only,
                });
                continue;
            }
            let kind = match rfs::statat(&here.dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => Some(FileType::from_raw_mode(stat.st_mode)),
                Err(rustix::io::Errno::NOENT) => None,
                Err(e) => {
                    return Err(TreeError::Io {
                        action: "inspecting",
                        path: path_here,
                        source: e.into(),
                    })
                }
            };
            match kind {
                Some(FileType::Symlink) if !last || follow_last => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(TreeError::Loop {
                            path: Path::new("/").join(path),
                        });
                    }
                    let target = rfs::readlinkat(&here.dir, &name, Vec::new()).map_err(|e| {
                        TreeError::Io {
                            action: "reading the link",
                            path: path_here.clone(),
                            source: e.into(),
                        }
                    })?;
                    let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                    if target.is_absolute() {
                        walk.truncate(1);
                    }
                    for part in names(target).into_iter().rev() {
                        pending.push_front(part);
                    }
                    if pending.is_empty() {
                        // A link to `/`.
                        return self.entry_of_step(&mut walk).map(Some);
                    }
                }
                Some(FileType::Directory) if !last => {
                    let dir = open_dir_at(&here.dir, &name, &path_here)?;
                    let read_only = here.read_only;
                    walk.push(Step {
                        path: path_here,
                        dir,
                        read_only,
                    });
                }
                _ if last => {
                    let here = walk.pop().expect("the walk keeps its root");
                    return Ok(Some(Entry {
                        dir: here.dir,
                        name,
                        path: path_here,
                        kind,
                        mount_top: false,
                        read_only: here.read_only,
                    }));
                }
                // Missing, or not a directory, on the way.
                _ => return Ok(None),
            }
        }
        unreachable!("the last name returns")
    }

    fn root_step(&self) -> Result<Step> {
        let dir =
            rfs::openat(&self.root, ".", DIR_FLAGS, Mode::empty()).map_err(|e| TreeError::Io {
                action: "opening",
                path: "/".into(),
                source: e.into(),
            })?;
        Ok(Step {
            path: "/".into(),
            dir,
            read_only: false,
        })
    }

    /// The directory the walk ended in, as an entry (a path ending in `..` or in a link to
    /// a directory above).
    fn entry_of_step(&self, walk: &mut Vec<Step>) -> Result<Entry> {
        if walk.len() == 1 {
            return self.root_entry();
        }
        let path = walk.last().expect("more than the root").path.clone();
        if let Some(mount) = self.mount_at(&path) {
            return self.mount_entry(mount);
        }
        walk.pop();
        let parent = walk.pop().expect("more than the root");
        let name = path
            .file_name()
            .expect("a path below the root has a name")
            .to_os_string();
        Ok(Entry {
            dir: parent.dir,
            name,
            path,
            kind: Some(FileType::Directory),
            mount_top: false,
            read_only: parent.read_only,
        })
    }
}

/// The names of a path, `.` and `/` dropped, `..` kept (the walk resolves it).
fn names(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn open_dir_at(dir: &OwnedFd, name: &OsStr, shown: &Path) -> Result<OwnedFd> {
    rfs::openat(dir, name, DIR_FLAGS, Mode::empty()).map_err(|e| TreeError::Io {
        action: "opening",
        path: shown.to_path_buf(),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    struct Fixture {
        root: tempfile::TempDir,
        volume: tempfile::TempDir,
        files: tempfile::TempDir,
        host: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let f = Fixture {
            root: tempfile::tempdir().unwrap(),
            volume: tempfile::tempdir().unwrap(),
            files: tempfile::tempdir().unwrap(),
            host: tempfile::tempdir().unwrap(),
        };
        let root = f.root.path();
        fs::create_dir_all(root.join("data")).unwrap();
        fs::write(root.join("data/hidden"), "under the volume").unwrap();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/hosts"), "the image's").unwrap();
        fs::write(root.join("etc/passwd"), "root:x:0:0").unwrap();
        fs::create_dir_all(root.join("dev/shm")).unwrap();
        symlink("/data", root.join("to-data")).unwrap();
        symlink("/loop-b", root.join("loop-a")).unwrap();
        symlink("/loop-a", root.join("loop-b")).unwrap();
        fs::write(f.volume.path().join("kept"), "in the volume").unwrap();
        fs::create_dir(f.volume.path().join("sub")).unwrap();
        // Links the container made in its volume: absolute ones mean its own root.
        symlink("/etc/passwd", f.volume.path().join("pw")).unwrap();
        symlink("../etc", f.volume.path().join("up")).unwrap();
        symlink("../../../../../../..", f.volume.path().join("far")).unwrap();
        fs::write(f.files.path().join("hosts"), "rpod's").unwrap();
        fs::write(f.host.path().join("secret"), "host").unwrap();
        f
    }

    fn tree(f: &Fixture) -> MountedTree {
        let root = rfs::open(f.root.path(), DIR_FLAGS, Mode::empty()).unwrap();
        MountedTree::new(
            root,
            vec![
                TreeMount {
                    destination: "/data".into(),
                    source: Some(f.volume.path().into()),
                    read_only: false,
                },
                TreeMount {
                    destination: "/etc/hosts".into(),
                    source: Some(f.files.path().join("hosts")),
                    read_only: true,
                },
                TreeMount {
                    destination: "/dev/shm".into(),
                    source: None,
                    read_only: false,
                },
            ],
        )
    }

    fn read(entry: &Entry) -> String {
        let fd = rfs::openat(
            &entry.dir,
            &entry.name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        io::read_to_string(fs::File::from(fd)).unwrap()
    }

    #[test]
    fn paths_continue_in_the_mounts_sources() {
        let f = fixture();
        let t = tree(&f);
        let kept = t.locate(Path::new("/data/kept"), false).unwrap().unwrap();
        assert_eq!(read(&kept), "in the volume");
        assert_eq!(kept.path, Path::new("/data/kept"));
        assert!(!kept.mount_top && !kept.read_only);
        // What the volume hides is not found.
        let hidden = t.locate(Path::new("data/hidden"), false).unwrap().unwrap();
        assert_eq!(hidden.kind, None);
        // A mount's top is its source.
        let hosts = t.locate(Path::new("/etc/hosts"), false).unwrap().unwrap();
        assert_eq!(read(&hosts), "rpod's");
        assert!(hosts.mount_top && hosts.read_only);
        let data = t.locate(Path::new("/data"), false).unwrap().unwrap();
        assert!(data.mount_top && data.is_dir());
        assert_eq!(
            Some(data.name.as_os_str()),
            f.volume.path().file_name(),
            "the source's own name"
        );
        // Outside the mounts: the root file system.
        let passwd = t.locate(Path::new("/etc/passwd"), false).unwrap().unwrap();
        assert_eq!(read(&passwd), "root:x:0:0");
        // A missing directory on the way.
        assert!(t.locate(Path::new("/nope/x"), false).unwrap().is_none());
        assert!(t
            .locate(Path::new("/etc/passwd/x"), false)
            .unwrap()
            .is_none());
    }

    #[test]
    fn links_are_resolved_in_the_containers_view() {
        let f = fixture();
        let t = tree(&f);
        // A link in the root into a mount.
        let via = t
            .locate(Path::new("/to-data/kept"), false)
            .unwrap()
            .unwrap();
        assert_eq!(read(&via), "in the volume");
        assert_eq!(via.path, Path::new("/data/kept"));
        // An absolute link in a volume leads to the container's root, not the volume's.
        let pw = t.locate(Path::new("/data/pw"), true).unwrap().unwrap();
        assert_eq!(read(&pw), "root:x:0:0");
        // Not followed at the end unless asked.
        let link = t.locate(Path::new("/data/pw"), false).unwrap().unwrap();
        assert_eq!(link.kind, Some(FileType::Symlink));
        // `..` from a mount's top goes to the mount point's parent.
        let up = t
            .locate(Path::new("/data/up/passwd"), false)
            .unwrap()
            .unwrap();
        assert_eq!(read(&up), "root:x:0:0");
        assert_eq!(up.path, Path::new("/etc/passwd"));
        // ... and never above the root: `far` is the container's `/`.
        let far = t
            .locate(Path::new("/data/far/etc/passwd"), false)
            .unwrap()
            .unwrap();
        assert_eq!(far.path, Path::new("/etc/passwd"));
        let top = t.locate(Path::new("/data/far"), true).unwrap().unwrap();
        assert_eq!(
            (top.path.as_path(), top.name.as_os_str()),
            (Path::new("/"), OsStr::new("."))
        );
        // A link to the host's files stays in the container.
        symlink(f.host.path(), f.volume.path().join("host")).unwrap();
        let secret = t
            .locate(&Path::new("/data/host").join("secret"), false)
            .unwrap();
        assert!(secret.is_none(), "{secret:?}");
        // A loop ends.
        assert!(matches!(
            t.locate(Path::new("/loop-a/x"), false),
            Err(TreeError::Loop { .. })
        ));
    }

    #[test]
    fn mounts_not_on_the_host_are_refused_and_listed() {
        let f = fixture();
        let t = tree(&f);
        assert!(matches!(
            t.locate(Path::new("/dev/shm/x"), false),
            Err(TreeError::NotOnHost { .. })
        ));
        // `/dev` itself is the root file system's.
        assert!(t
            .locate(Path::new("/dev"), false)
            .unwrap()
            .unwrap()
            .is_dir());
        let below: Vec<&Path> = t
            .mounts_below(Path::new("/"))
            .iter()
            .map(|m| m.destination.as_path())
            .collect();
        assert_eq!(
            below,
            [
                Path::new("/data"),
                Path::new("/etc/hosts"),
                Path::new("/dev/shm")
            ]
        );
        assert!(t.mounts_below(Path::new("/data")).is_empty());
        assert_eq!(t.mounts_below(Path::new("/etc")).len(), 1);
    }

    #[test]
    fn the_later_of_two_mounts_at_one_place_is_seen() {
        let f = fixture();
        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join("kept"), "over it").unwrap();
        let root = rfs::open(f.root.path(), DIR_FLAGS, Mode::empty()).unwrap();
        let t = MountedTree::new(
            root,
            vec![
                TreeMount {
                    destination: "/data".into(),
                    source: Some(f.volume.path().into()),
                    read_only: false,
                },
                TreeMount {
                    destination: "/data".into(),
                    source: Some(other.path().into()),
                    read_only: true,
                },
            ],
        );
        let kept = t.locate(Path::new("/data/kept"), false).unwrap().unwrap();
        assert_eq!(read(&kept), "over it");
        assert!(kept.read_only);
    }
}
