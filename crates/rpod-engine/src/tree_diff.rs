//! `diff A B`: what makes B's file system A's. Each side is flattened from its layers (and a
//! container's upper directory), bottom first, as overlay would show it, and the two trees
//! are compared entry by entry, as containers/storage compares two layers: an entry is
//! changed when its type, permissions, owner or device differ, or, for anything but a
//! directory, its size or modification time; a directory with changes below it counts as
//! changed itself; a deletion is listed at the topmost path that went.
//!
//! The layers are walked with `upper_diff::walk` (descriptors, never following a link), so
//! a running container's upper directory is read as safely as for `commit`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use crate::upper_diff::{self, Change, ChangeKind, Entry};

/// What a name given to `diff` may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffSubject {
    /// A container, else an image (`diff`).
    Any,
    /// A container (`container diff`).
    Container,
    /// An image (`image diff`).
    Image,
}

/// What the comparison looks at of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    rdev: u64,
    size: i64,
    mtime: (i64, u64),
}

impl Meta {
    fn is_dir(&self) -> bool {
        FileType::from_raw_mode(self.mode) == FileType::Directory
    }

    /// containers/storage's test: sizes and times do not count for directories, whose
    /// entries are compared one by one.
    fn differs_from(&self, other: &Meta) -> bool {
        self.mode != other.mode
            || self.uid != other.uid
            || self.gid != other.gid
            || self.rdev != other.rdev
            || (!self.is_dir() && (self.size != other.size || !same_time(self.mtime, other.mtime)))
    }
}

/// Two modification times are the same when equal, or in the same second with one of them
/// holding no fraction: a layer's tar header keeps whole seconds, so a file committed from a
/// container (nanoseconds) and the same file unpacked from the layer are one file.
fn same_time(a: (i64, u64), b: (i64, u64)) -> bool {
    a == b || (a.0 == b.0 && (a.1 == 0 || b.1 == 0))
}

/// A flattened file system: every path (relative, no leading `/`) and its entry.
pub type Tree = BTreeMap<PathBuf, Meta>;

/// Remove `path`'s descendants from `tree` (and `path` itself with `including`). A path's
/// descendants sort right after it (paths compare component by component).
pub(crate) fn remove_below<V>(tree: &mut BTreeMap<PathBuf, V>, path: &Path, including: bool) {
    let doomed: Vec<PathBuf> = tree
        .range(path.to_path_buf()..)
        .map(|(p, _)| p)
        .take_while(|p| p.starts_with(path))
        .filter(|p| including || p.as_path() != path)
        .cloned()
        .collect();
    for p in doomed {
        tree.remove(&p);
    }
}

/// The file system `layers` (bottom first) make together: whiteouts delete, opaque
/// directories hide what the layers below had in them, an entry replaces the one below.
pub fn flatten(layers: &[PathBuf]) -> io::Result<Tree> {
    let mut tree = Tree::new();
    for layer in layers {
        add_layer(&mut tree, layer, &|_| false)?;
    }
    Ok(tree)
}

/// Put `layer` on top of `tree`, but for the entries at paths `skip` names.
pub fn add_layer(tree: &mut Tree, layer: &Path, skip: &dyn Fn(&Path) -> bool) -> io::Result<()> {
    upper_diff::walk(layer, &mut |entry| {
        match entry {
            Entry::Deleted(path) => remove_below(tree, path, true),
            Entry::Opaque(path) => remove_below(tree, path, false),
            Entry::Present { path, .. } if skip(path) => {}
            Entry::Present { path, stat, .. } => {
                let meta = Meta {
                    mode: stat.st_mode,
                    uid: stat.st_uid,
                    gid: stat.st_gid,
                    rdev: stat.st_rdev,
                    size: stat.st_size,
                    mtime: (stat.st_mtime, stat.st_mtime_nsec),
                };
                if !meta.is_dir() {
                    // A file in place of a directory hides what was below it.
                    remove_below(tree, path, false);
                }
                tree.insert(path.to_path_buf(), meta);
            }
        }
        Ok(())
    })
}

/// The changes that make `old` into `new`, sorted by path, each with a leading `/`.
pub fn compare(new: &Tree, old: &Tree) -> Vec<Change> {
    let mut changes: BTreeMap<PathBuf, ChangeKind> = BTreeMap::new();
    for (path, meta) in new {
        match old.get(path) {
            None => {
                changes.insert(path.clone(), ChangeKind::Added);
            }
            Some(before) if meta.differs_from(before) => {
                changes.insert(path.clone(), ChangeKind::Changed);
            }
            Some(_) => {}
        }
    }
    for path in old.keys().filter(|p| !new.contains_key(*p)) {
        // Only the topmost path that went: one whose directory is still a directory.
        let parent = path.parent().unwrap_or(Path::new(""));
        let parent_stays =
            parent.as_os_str().is_empty() || new.get(parent).is_some_and(Meta::is_dir);
        if parent_stays {
            changes.insert(path.clone(), ChangeKind::Deleted);
        }
    }
    // A directory with changes below it is changed too (containers/storage lists it, so
    // that its permissions go with what is applied below it).
    let changed: Vec<PathBuf> = changes.keys().cloned().collect();
    for path in changed {
        for ancestor in path.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() {
                break;
            }
            changes
                .entry(ancestor.to_path_buf())
                .or_insert(ChangeKind::Changed);
        }
    }
    changes
        .into_iter()
        .map(|(path, kind)| Change {
            kind,
            path: Path::new("/").join(path),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn listed(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path.display()))
            .collect()
    }

    #[test]
    fn a_time_cut_to_whole_seconds_is_the_same_time() {
        let file = |mtime| Meta {
            mode: libc::S_IFREG | 0o644,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 3,
            mtime,
        };
        // Written in a container, then stored in a layer's tar header.
        assert!(!file((1000, 123_456_789)).differs_from(&file((1000, 0))));
        assert!(!file((1000, 0)).differs_from(&file((1000, 123_456_789))));
        assert!(file((1000, 1)).differs_from(&file((1000, 2))));
        assert!(file((1001, 0)).differs_from(&file((1000, 0))));
        assert!(file((1001, 0)).differs_from(&file((1000, 500))));
    }

    fn set_mtime(path: &Path, seconds: i64) {
        let time = rustix::fs::Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            path,
            &rustix::fs::Timestamps {
                last_access: time,
                last_modification: time,
            },
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }

    /// Two layers: `base` with etc/conf, etc/old, lib/a, lib/b and bin/sh; `top` changes
    /// etc/conf, adds etc/new and usr/share/doc, and replaces bin by a file.
    fn layers(dir: &Path) -> (PathBuf, PathBuf) {
        let base = dir.join("base");
        let top = dir.join("top");
        for d in ["etc", "lib", "bin"] {
            fs::create_dir_all(base.join(d)).unwrap();
        }
        for (f, text) in [
            ("etc/conf", "a=1\n"),
            ("etc/old", "x"),
            ("lib/a", "a"),
            ("lib/b", "b"),
            ("bin/sh", "sh"),
        ] {
            fs::write(base.join(f), text).unwrap();
            set_mtime(&base.join(f), 1000);
        }
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::create_dir_all(top.join("usr/share")).unwrap();
        fs::write(top.join("etc/conf"), "a=2\n").unwrap();
        fs::write(top.join("etc/new"), "n").unwrap();
        fs::write(top.join("usr/share/doc"), "d").unwrap();
        fs::write(top.join("bin"), "not a directory").unwrap();
        (base, top)
    }

    #[test]
    fn layers_flatten_with_replacements() {
        let dir = tempfile::tempdir().unwrap();
        let (base, top) = layers(dir.path());
        let tree = flatten(&[base, top]).unwrap();
        let paths: Vec<String> = tree.keys().map(|p| p.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "bin",
                "etc",
                "etc/conf",
                "etc/new",
                "etc/old",
                "lib",
                "lib/a",
                "lib/b",
                "usr",
                "usr/share",
                "usr/share/doc"
            ]
        );
        assert!(!tree[Path::new("bin")].is_dir());
    }

    #[test]
    fn the_changes_from_one_tree_to_another() {
        let dir = tempfile::tempdir().unwrap();
        let (base, top) = layers(dir.path());
        let old = flatten(std::slice::from_ref(&base)).unwrap();
        let new = flatten(&[base.clone(), top]).unwrap();
        assert_eq!(
            listed(&compare(&new, &old)),
            [
                "C /bin",
                "C /etc",
                "C /etc/conf",
                "A /etc/new",
                "A /usr",
                "A /usr/share",
                "A /usr/share/doc",
            ]
        );
        // The other way: what goes is listed at its top, under directories that stay; a
        // directory in place of a file brings what it holds.
        assert_eq!(
            listed(&compare(&old, &new)),
            [
                "C /bin",
                "A /bin/sh",
                "C /etc",
                "C /etc/conf",
                "D /etc/new",
                "D /usr"
            ]
        );
        // A tree against itself has no changes; a directory's own time does not count.
        assert!(compare(&old, &old).is_empty());
        let mut touched = old.clone();
        set_mtime(&base.join("lib"), 5);
        let again = flatten(std::slice::from_ref(&base)).unwrap();
        touched.insert("lib".into(), again[Path::new("lib")]);
        assert!(compare(&touched, &old).is_empty());
    }

    #[test]
    fn whiteouts_and_opaque_directories_hide_what_is_below() {
        let dir = tempfile::tempdir().unwrap();
        let (base, _) = layers(dir.path());
        let top = dir.path().join("marks");
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::create_dir_all(top.join("lib")).unwrap();
        fs::write(top.join("lib/c"), "c").unwrap();
        // Whiteouts need CAP_MKNOD and the opaque mark CAP_SYS_ADMIN (root, as in CI);
        // without them there is nothing to check here.
        let whiteout = rustix::fs::mknodat(
            rustix::fs::CWD,
            top.join("etc/old"),
            FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        );
        let opaque = rustix::fs::setxattr(
            top.join("lib"),
            "trusted.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        );
        if whiteout.is_err() || opaque.is_err() {
            return;
        }
        let tree = flatten(&[base, top]).unwrap();
        let paths: Vec<String> = tree.keys().map(|p| p.display().to_string()).collect();
        assert_eq!(paths, ["bin", "bin/sh", "etc", "etc/conf", "lib", "lib/c"]);
    }

    #[test]
    fn deleted_directories_are_listed_once_and_their_parents_changed() {
        let dir = tempfile::tempdir().unwrap();
        let (base, _) = layers(dir.path());
        let old = flatten(std::slice::from_ref(&base)).unwrap();
        let mut new = old.clone();
        remove_below(&mut new, Path::new("lib"), true);
        assert_eq!(listed(&compare(&new, &old)), ["D /lib"]);
        let mut new = old.clone();
        new.remove(Path::new("lib/a"));
        assert_eq!(listed(&compare(&new, &old)), ["C /lib", "D /lib/a"]);
    }
}
