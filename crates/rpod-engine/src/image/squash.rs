//! Layers merged into one (`build --squash`, `--squash-all`): what the layers' tars make
//! together, bottom first, as one layer tar. An entry replaces the one below at its path (a
//! directory over a directory keeps what is below it); a whiteout (`.wh.NAME`) takes the
//! path and what is below it, an opaque marker (`.wh..wh..opq`) what a directory held. When
//! the merged layer goes on top of other layers (`below` says what paths those have), the
//! whiteouts of what they have are kept, and a directory they have that was made again
//! after a whiteout is marked opaque, so that it does not show the old directory's
//! entries. (A whiteout of nothing must not be kept: overlayfs shows it, a 0/0 character
//! device, in a directory that only one layer has.) Written by hand: no crate
//! merges OCI layers; the tar crate reads and writes them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use crate::tree_diff::remove_below;
use crate::upper_diff::{marker_header, whiteout_name, OPAQUE_MARKER as OPAQUE, WHITEOUT_PREFIX};

/// A layer entry's path as a plain relative path (`./a/b/` is `a/b`); `None` for the root.
fn plain(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(name) => out.push(name),
            Component::CurDir | Component::RootDir => {}
            // A layer the store holds was checked when it came; stay safe anyway.
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// What the merge keeps as it reads the layers.
#[derive(Default)]
struct Merged {
    /// The entry that stays at each path: (layer, its index in that layer's tar).
    chosen: BTreeMap<PathBuf, (usize, usize)>,
    /// What the merged layer must still hide of the layers below it.
    whiteouts: BTreeMap<PathBuf, ()>,
    opaque: BTreeMap<PathBuf, ()>,
}

impl Merged {
    /// Forget what the layers so far said of `path`'s descendants (and of `path` itself
    /// with `including`).
    fn forget(&mut self, path: &Path, including: bool) {
        remove_below(&mut self.chosen, path, including);
        remove_below(&mut self.whiteouts, path, including);
        remove_below(&mut self.opaque, path, including);
    }
}

/// Merge the layer tars `layers` (bottom first) into one, written to `out`. `below`: for a
/// layer that goes on top of others, whether they have a path (relative, as `a/b`).
pub fn merge_layers(
    layers: &[PathBuf],
    out: impl Write,
    below: Option<&dyn Fn(&Path) -> bool>,
) -> io::Result<()> {
    let mut merged = Merged::default();
    for (layer, path) in layers.iter().enumerate() {
        let mut archive = tar::Archive::new(File::open(path)?);
        for (index, entry) in archive.entries()?.enumerate() {
            let entry = entry?;
            let kind = entry.header().entry_type();
            if kind.is_pax_global_extensions() {
                continue;
            }
            let Some(path) = plain(&entry.path()?) else {
                continue;
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
            if name == OPAQUE {
                // What the directory held below goes; the directory stays.
                merged.forget(&parent, false);
                merged.opaque.insert(parent, ());
                continue;
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                let gone = parent.join(hidden);
                merged.forget(&gone, true);
                merged.whiteouts.insert(gone, ());
                continue;
            }
            if kind.is_dir() {
                // A directory made again where one was taken away: it must not show what
                // the old one held.
                if merged.whiteouts.contains_key(&path) {
                    merged.opaque.insert(path.clone(), ());
                }
                merged.whiteouts.remove(&path);
            } else {
                // A file in place of a directory hides what was below it (and is no
                // opaque directory itself).
                merged.forget(&path, true);
            }
            merged.chosen.insert(path, (layer, index));
        }
    }
    let Merged {
        chosen,
        whiteouts,
        opaque,
    } = merged;
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    // Each layer's chosen entries, in its own order (parents before their entries).
    let mut by_layer: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (layer, index) in chosen.values() {
        by_layer.entry(*layer).or_default().insert(*index);
    }
    for (layer, wanted) in &by_layer {
        let mut archive = tar::Archive::new(File::open(&layers[*layer])?);
        for (index, entry) in archive.entries()?.enumerate() {
            let mut entry = entry?;
            if !wanted.contains(&index) {
                continue;
            }
            let Some(path) = plain(&entry.path()?) else {
                continue;
            };
            // Extended attributes (file capabilities) go with the entry.
            let pax: Vec<(String, Vec<u8>)> = match entry.pax_extensions()? {
                Some(extensions) => extensions
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let key = e.key().ok()?;
                        key.starts_with("SCHILY.xattr.")
                            .then(|| (key.to_string(), e.value_bytes().to_vec()))
                    })
                    .collect(),
                None => Vec::new(),
            };
            if !pax.is_empty() {
                builder
                    .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
            }
            let mut header = entry.header().clone();
            let kind = header.entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let target = if kind.is_hard_link() {
                    plain(&target).unwrap_or(target)
                } else {
                    target
                };
                builder.append_link(&mut header, &path, &target)?;
            } else {
                builder.append_data(&mut header, &path, &mut entry)?;
            }
        }
    }
    if let Some(below) = below {
        for gone in whiteouts.keys().filter(|p| below(p)) {
            builder.append_data(&mut marker_header(), whiteout_name(gone), io::empty())?;
        }
        for dir in opaque.keys().filter(|p| below(p)) {
            builder.append_data(&mut marker_header(), dir.join(OPAQUE), io::empty())?;
        }
    }
    builder.into_inner()?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Item<'a> {
        File(&'a str, &'a str),
        Dir(&'a str, u32),
        Link(&'a str, &'a str),
        Marker(&'a str),
    }

    fn layer(dir: &Path, name: &str, items: &[Item]) -> PathBuf {
        let path = dir.join(name);
        let mut builder = tar::Builder::new(File::create(&path).unwrap());
        for item in items {
            let mut header = tar::Header::new_gnu();
            match item {
                Item::File(p, content) => {
                    header.set_size(content.len() as u64);
                    header.set_mode(0o644);
                    builder
                        .append_data(&mut header, p, content.as_bytes())
                        .unwrap();
                }
                Item::Dir(p, mode) => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(*mode);
                    header.set_size(0);
                    builder.append_data(&mut header, p, io::empty()).unwrap();
                }
                Item::Link(p, target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, p, target).unwrap();
                }
                Item::Marker(p) => {
                    header.set_size(0);
                    builder.append_data(&mut header, p, io::empty()).unwrap();
                }
            }
        }
        builder.finish().unwrap();
        path
    }

    fn merged(layers: &[PathBuf], below: Option<&dyn Fn(&Path) -> bool>) -> Vec<String> {
        let mut out = Vec::new();
        merge_layers(layers, &mut out, below).unwrap();
        let mut listed: Vec<String> = tar::Archive::new(out.as_slice())
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let mut content = String::new();
                io::Read::read_to_string(&mut e, &mut content).unwrap();
                match e.header().entry_type() {
                    tar::EntryType::Directory => {
                        format!("{path}/ {:o}", e.header().mode().unwrap())
                    }
                    tar::EntryType::Symlink => {
                        format!("{path} -> {}", e.link_name().unwrap().unwrap().display())
                    }
                    _ => format!("{path}={content}"),
                }
            })
            .collect();
        listed.sort();
        listed
    }

    #[test]
    fn layers_merge_as_they_stack() {
        let dir = tempfile::tempdir().unwrap();
        let one = layer(
            dir.path(),
            "1",
            &[
                Item::Dir("etc", 0o755),
                Item::File("etc/a", "one"),
                Item::File("etc/b", "one"),
                Item::Dir("gone", 0o755),
                Item::File("gone/x", "x"),
                Item::Dir("remade", 0o755),
                Item::File("remade/old", "old"),
                Item::Dir("tmp", 0o1777),
                Item::Dir("cleared", 0o755),
                Item::File("cleared/old", "old"),
            ],
        );
        let two = layer(
            dir.path(),
            "2",
            &[
                Item::Dir("etc", 0o700),
                Item::File("etc/a", "two"),
                Item::Marker("etc/.wh.b"),
                Item::Marker(".wh.gone"),
                Item::Marker(".wh.remade"),
                Item::Marker("base-file-gone-placeholder"),
                Item::Dir("cleared", 0o755),
                Item::Marker("cleared/.wh..wh..opq"),
                Item::File("cleared/new", "new"),
                Item::Link("link", "etc/a"),
            ],
        );
        let three = layer(
            dir.path(),
            "3",
            &[
                Item::Dir("remade", 0o750),
                Item::File("remade/new", "new"),
                Item::Marker(".wh.base-file-gone-placeholder"),
                Item::Dir("tmp", 0o1777),
                Item::Marker("tmp/.wh.base-only"),
            ],
        );
        // Everything into one (squash-all): no whiteout is left.
        assert_eq!(
            merged(&[one.clone(), two.clone(), three.clone()], None),
            [
                "cleared/ 755",
                "cleared/new=new",
                "etc/ 700",
                "etc/a=two",
                "link -> etc/a",
                "remade/ 750",
                "remade/new=new",
                "tmp/ 1777",
            ]
        );
        // The top two onto the first (squash): what they take from the first stays taken,
        // a directory made again is opaque, a directory cleared stays opaque; what the
        // first does not have needs no whiteout.
        let first: BTreeSet<PathBuf> = [
            "etc",
            "etc/a",
            "etc/b",
            "gone",
            "gone/x",
            "remade",
            "remade/old",
            "tmp",
            "tmp/base-only",
            "cleared",
            "cleared/old",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let in_first = |p: &Path| first.contains(p);
        assert_eq!(
            merged(&[two, three], Some(&in_first)),
            [
                ".wh.gone=",
                "cleared/ 755",
                "cleared/.wh..wh..opq=",
                "cleared/new=new",
                "etc/ 700",
                "etc/.wh.b=",
                "etc/a=two",
                "link -> etc/a",
                "remade/ 750",
                "remade/.wh..wh..opq=",
                "remade/new=new",
                "tmp/ 1777",
                "tmp/.wh.base-only=",
            ]
        );
    }
    #[test]
    fn a_file_over_an_opaque_directory_leaves_no_marker_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let one = layer(
            dir.path(),
            "1",
            &[
                Item::Dir("x", 0o755),
                Item::Marker("x/.wh..wh..opq"),
                Item::File("x/in", "in"),
            ],
        );
        let two = layer(dir.path(), "2", &[Item::File("x", "file")]);
        let everything = |_: &Path| true;
        assert_eq!(merged(&[one, two], Some(&everything)), ["x=file"]);
    }
}
