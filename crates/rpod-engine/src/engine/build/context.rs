//! A build context: the directory COPY, ADD and `RUN --mount=type=bind` take files from
//! (the main one, or one `--build-context NAME=DIR` names), with the ignore file that
//! leaves paths out. Its files are hostile input: a source outside it or reached through a
//! link is refused, a source that is a link is followed inside it only, links inside a
//! copied directory are copied as links, never followed.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{not_supported, step_error};
use crate::containerfile::{IgnoreRules, Instruction};
use crate::{EngineError, Result};

/// A context directory and what its ignore file leaves out.
pub(super) struct ContextDir {
    /// The directory, canonical.
    pub root: PathBuf,
    pub ignore: IgnoreRules,
}

impl ContextDir {
    /// `dir` (`what` names it in messages) with its ignore file: `ignore_file`, else its
    /// `.containerignore`, else its `.dockerignore`, as podman reads them.
    pub fn open(dir: &Path, ignore_file: Option<&Path>, what: &str) -> Result<ContextDir> {
        let root = fs::canonicalize(dir)
            .map_err(|e| EngineError::io("opening the build context", dir, e))?;
        if !root.is_dir() {
            return Err(EngineError::InvalidArg(format!(
                "{what} {} is not a directory",
                root.display()
            )));
        }
        let mut ignore = IgnoreRules::default();
        if let Some(file) = ignore_file {
            ignore = IgnoreRules::parse(&super::read_bounded(file)?)?;
            return Ok(ContextDir { root, ignore });
        }
        for name in [".containerignore", ".dockerignore"] {
            let path = root.join(name);
            match path.symlink_metadata() {
                Ok(meta) if meta.is_file() => {
                    ignore = IgnoreRules::parse(&super::read_bounded(&path)?)?;
                    break;
                }
                Ok(_) => {
                    return Err(EngineError::InvalidArg(format!(
                        "{}: not a plain file",
                        path.display()
                    )))
                }
                Err(_) => {}
            }
        }
        Ok(ContextDir { root, ignore })
    }

    /// The context's files named by `sources` (a `*` or `?` in the last part matches
    /// names), refused when they lie outside the context or are reached through a link.
    pub fn sources(&self, sources: &[String], instruction: &Instruction) -> Result<Vec<PathBuf>> {
        let mut found = Vec::new();
        for source in sources {
            let mut relative = PathBuf::new();
            for part in Path::new(source).components() {
                match part {
                    std::path::Component::Normal(name) => relative.push(name),
                    std::path::Component::ParentDir if !relative.pop() => {
                        return Err(step_error(
                            instruction,
                            format!("{source} is outside the build context"),
                        ));
                    }
                    _ => {}
                }
            }
            let (parent, last) = match relative.file_name() {
                Some(last) => (
                    relative.parent().map(Path::to_path_buf).unwrap_or_default(),
                    Some(last.to_string_lossy().into_owned()),
                ),
                None => (PathBuf::new(), None),
            };
            // Every directory on the way is a directory of the context, not a link.
            let mut dir = self.root.clone();
            for part in parent.components() {
                dir.push(part);
                let meta = dir
                    .symlink_metadata()
                    .map_err(|e| step_error(instruction, format!("{source}: {e}")))?;
                if !meta.is_dir() {
                    return Err(step_error(
                        instruction,
                        format!(
                            "{source}: {} is not a directory of the build context",
                            dir.display()
                        ),
                    ));
                }
            }
            match last {
                None => found.push(dir),
                Some(pattern) if pattern.contains(['*', '?', '[']) => {
                    if pattern.contains('[') {
                        return Err(not_supported(instruction, "`[` in a source pattern"));
                    }
                    let mut names: Vec<String> = fs::read_dir(&dir)
                        .map_err(|e| EngineError::io("listing", &dir, e))?
                        .filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|name| {
                            crate::security::segment_matches(pattern.as_bytes(), name.as_bytes())
                        })
                        .filter(|name| !self.ignore.excludes(&parent.join(name)))
                        .collect();
                    names.sort();
                    if names.is_empty() {
                        return Err(step_error(
                            instruction,
                            format!("{source}: no file matches"),
                        ));
                    }
                    found.extend(names.into_iter().map(|n| dir.join(n)));
                }
                Some(name) => {
                    if self.ignore.excludes(&parent.join(&name)) {
                        return Err(step_error(
                            instruction,
                            format!("{source} is left out by the context's ignore file"),
                        ));
                    }
                    let path = dir.join(&name);
                    path.symlink_metadata()
                        .map_err(|e| step_error(instruction, format!("{source}: {e}")))?;
                    found.push(path);
                }
            }
        }
        Ok(found)
    }

    /// `path`, a path of the context, with a link at its end followed as if the context
    /// were `/` (an absolute target is a path of the context, `..` stops at its top), as
    /// Docker's and buildah's COPY take a source that is a link; anything else as it is.
    /// The kernel resolves it (`RESOLVE_IN_ROOT`), so no target, however written, leads
    /// out of the context: a link to `/etc/shadow` is the context's `etc/shadow`. A target
    /// the ignore file leaves out is refused, as a source that is left out.
    pub fn followed(&self, path: &Path) -> Result<PathBuf> {
        let meta = path
            .symlink_metadata()
            .map_err(|e| EngineError::io("reading", path, e))?;
        if !meta.file_type().is_symlink() {
            return Ok(path.to_path_buf());
        }
        let relative = path.strip_prefix(&self.root).map_err(|_| {
            EngineError::InvalidArg(format!("{}: not in the build context", path.display()))
        })?;
        let (resolved, stat) =
            crate::confined::path_in_root(&self.root, relative).map_err(|e| {
                let link = fs::read_link(path).unwrap_or_default();
                EngineError::InvalidArg(format!(
                    "{}: the link to {} is not followed inside the build context: {e}",
                    relative.display(),
                    link.display()
                ))
            })?;
        let inside = resolved.strip_prefix(&self.root).unwrap_or(&resolved);
        let is_dir = rustix::fs::FileType::from_raw_mode(stat.st_mode).is_dir();
        if !is_dir && self.ignore.excludes(inside) {
            return Err(EngineError::InvalidArg(format!(
                "{}: its link leads to {}, which the context's ignore file leaves out",
                relative.display(),
                inside.display()
            )));
        }
        Ok(resolved)
    }

    /// The digest of what COPY would take from the context's `paths`: names, kinds,
    /// permissions, link targets and contents, what the ignore file leaves out left out
    /// as `tar` leaves it out. Owners and times are not in it (COPY makes root's
    /// files; a checkout's new times do not make the files new), as in Docker's cache.
    pub fn digest(&self, paths: &[PathBuf]) -> Result<String> {
        use sha2::Digest;
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::PermissionsExt;
        let mut hasher = sha2::Sha256::new();
        for path in paths {
            // A link's name (the copy's) and what it leads to (what is copied).
            let named = path.strip_prefix(&self.root).unwrap_or(path);
            hasher.update(named.as_os_str().as_bytes());
            let mut pending = vec![self.followed(path)?];
            while let Some(source) = pending.pop() {
                let err = |e: std::io::Error| EngineError::io("reading", &source, e);
                let meta = source.symlink_metadata().map_err(err)?;
                let relative = source.strip_prefix(&self.root).unwrap_or(&source);
                if self.ignore.excludes(relative)
                    && !(meta.is_dir() && self.ignore.has_exceptions())
                {
                    continue;
                }
                let kind = meta.file_type();
                hasher.update(relative.as_os_str().as_bytes());
                let size = if kind.is_file() { meta.len() } else { 0 };
                hasher.update(format!("\0{:o}\0{size}\0", meta.permissions().mode()).as_bytes());
                if kind.is_dir() {
                    // (Sorted backwards: popped in order.)
                    pending.extend(children(&source)?.into_iter().map(|(child, _)| child));
                } else if kind.is_symlink() {
                    hasher.update(fs::read_link(&source).map_err(err)?.as_os_str().as_bytes());
                } else if kind.is_char_device() || kind.is_block_device() {
                    hasher.update(meta.rdev().to_le_bytes());
                } else if kind.is_file() {
                    let mut contents = fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(&source)
                        .map_err(err)?;
                    std::io::copy(&mut contents, &mut hasher).map_err(err)?;
                }
                hasher.update(b"\0");
            }
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// A tar of a context file (named `name`) or of a directory's contents, every entry
    /// root's (as COPY makes them, whoever owns the context), links kept as links (never
    /// followed), in an unnamed scratch file.
    pub fn tar(&self, tmp: &Path, path: &Path, name: Option<&str>) -> Result<fs::File> {
        use std::io::Seek;
        let file = crate::scratch::unnamed_file(tmp)?;
        let err = |e: std::io::Error| EngineError::io("packing", path, e);
        let mut archive = tar::Builder::new(file);
        let mut pending: Vec<(PathBuf, PathBuf)> = match name {
            Some(name) => vec![(path.to_path_buf(), PathBuf::from(name))],
            None => children(path)?,
        };
        while let Some((source, entry_name)) = pending.pop() {
            let meta = source.symlink_metadata().map_err(err)?;
            // What the ignore file leaves out; a directory is still looked in when a
            // pattern may take something below it back.
            let relative = source.strip_prefix(&self.root).unwrap_or(&source);
            if self.ignore.excludes(relative) && !(meta.is_dir() && self.ignore.has_exceptions()) {
                continue;
            }
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            header.set_uid(0);
            header.set_gid(0);
            let kind = meta.file_type();
            if kind.is_dir() {
                header.set_size(0);
                archive
                    .append_data(&mut header, &entry_name, std::io::empty())
                    .map_err(err)?;
                for (child, child_name) in children(&source)? {
                    pending.push((child, entry_name.join(child_name)));
                }
            } else if kind.is_symlink() {
                let target = fs::read_link(&source).map_err(err)?;
                header.set_size(0);
                archive
                    .append_link(&mut header, &entry_name, &target)
                    .map_err(err)?;
            } else if kind.is_file() {
                // Never through a link put at that name since it was looked at.
                let contents = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&source)
                    .map_err(err)?;
                archive
                    .append_data(&mut header, &entry_name, contents)
                    .map_err(err)?;
            } else if kind.is_fifo() || kind.is_char_device() || kind.is_block_device() {
                // The header says what it is (its type, a device's numbers), as buildah's
                // copy carries them.
                header.set_size(0);
                crate::scratch::set_node_device(&mut header, meta.rdev()).map_err(err)?;
                archive
                    .append_data(&mut header, &entry_name, std::io::empty())
                    .map_err(err)?;
            } else {
                return Err(EngineError::InvalidArg(format!(
                    "{}: COPY takes files, directories, links, fifos and devices, not sockets",
                    source.display()
                )));
            }
        }
        let mut file = archive.into_inner().map_err(err)?;
        file.rewind().map_err(err)?;
        Ok(file)
    }
}

/// A directory's entries and their names, sorted.
fn children(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut entries: Vec<(PathBuf, PathBuf)> = fs::read_dir(dir)
        .map_err(|e| EngineError::io("listing", dir, e))?
        .map(|entry| {
            entry
                .map(|e| (e.path(), PathBuf::from(e.file_name())))
                .map_err(|e| EngineError::io("listing", dir, e))
        })
        .collect::<Result<_>>()?;
    // Popped from the end: the last name first, so sort backwards to pack in order.
    entries.sort_by(|a, b| b.1.cmp(&a.1));
    Ok(entries)
}
