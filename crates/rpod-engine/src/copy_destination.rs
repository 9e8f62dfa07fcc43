//! Where a copy may go: Docker's rules for `cp`'s destination, shared by the local copies
//! and the remote client's, so that no copy replaces a file with a directory or makes a
//! file of a name the user ended in `/`.

use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use crate::{EngineError, Result};

/// What a copy copies, as the rules for its destination tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopiedKind {
    File,
    Directory,
    /// A tar (`cp -`, the API's archive): unpacked into a directory.
    Archive,
}

impl CopiedKind {
    /// A directory's copy, or a file's (any other kind: a link is copied as one).
    pub fn of(is_dir: bool) -> CopiedKind {
        if is_dir {
            CopiedKind::Directory
        } else {
            CopiedKind::File
        }
    }
}

/// Docker's rules for a copy's destination that is not an existing directory: a file
/// becomes it (replacing a file there) unless it ends in `/` (a directory that must
/// exist); a directory becomes it only where nothing is (or, with `keep_kinds` off, cp's
/// `--overwrite`, replacing what is there); a tar goes only into a directory. Never is a
/// name ending in `/` made a file. `existing` is what is there (links not followed);
/// `shown` the destination as the user wrote it, and `place` where it is (`container
/// NAME`, `the host`).
pub fn check_destination(
    copied: CopiedKind,
    existing: Option<FileType>,
    wants_dir: bool,
    keep_kinds: bool,
    shown: &str,
    place: &str,
) -> Result<()> {
    match (existing, copied) {
        (None, CopiedKind::Archive) => Err(EngineError::NoSuchPath(format!(
            "\"{shown}\" could not be found on {place}: an archive is copied into a directory"
        ))),
        (None, _) if wants_dir => Err(EngineError::NoSuchPath(format!(
            "\"{shown}\" could not be found on {place}: no such directory"
        ))),
        (None, _) => Ok(()),
        (Some(_), CopiedKind::Archive) => Err(EngineError::InvalidArg(format!(
            "\"{shown}\" on {place} is not a directory: an archive is copied into a directory"
        ))),
        (Some(_), _) if wants_dir => Err(EngineError::InvalidArg(format!(
            "\"{shown}\" on {place} is not a directory"
        ))),
        (Some(_), CopiedKind::Directory) if keep_kinds => Err(EngineError::InvalidArg(format!(
            "cannot copy a directory onto \"{shown}\" on {place}: it is not a directory (--overwrite replaces it)"
        ))),
        (Some(_), _) => Ok(()),
    }
}

/// [`check_destination`] for `dest` on the host, unless it is a directory (links
/// followed), which a copy goes into.
pub fn check_host_destination(copied: CopiedKind, dest: &Path, keep_kinds: bool) -> Result<()> {
    if dest.is_dir() {
        return Ok(());
    }
    // What is there: the name itself (with its trailing `/`, a link would be followed).
    let existing = std::fs::symlink_metadata(dest.components().collect::<PathBuf>())
        .ok()
        .map(|m| FileType::from_raw_mode(std::os::unix::fs::MetadataExt::mode(&m)));
    let wants_dir = dest.as_os_str().as_encoded_bytes().ends_with(b"/");
    check_destination(
        copied,
        existing,
        wants_dir,
        keep_kinds,
        &dest.to_string_lossy(),
        "the host",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: Option<FileType> = Some(FileType::RegularFile);
    const LINK: Option<FileType> = Some(FileType::Symlink);

    fn message(copied: CopiedKind, existing: Option<FileType>, wants_dir: bool) -> String {
        match check_destination(copied, existing, wants_dir, true, "/x", "container c") {
            Ok(()) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_file_becomes_the_destination_unless_it_names_a_directory() {
        assert_eq!(message(CopiedKind::File, None, false), "ok");
        assert_eq!(message(CopiedKind::File, FILE, false), "ok");
        assert_eq!(message(CopiedKind::File, LINK, false), "ok");
        let missing = message(CopiedKind::File, None, true);
        assert!(
            missing.contains("\"/x\" could not be found on container c"),
            "{missing}"
        );
        let file = message(CopiedKind::File, FILE, true);
        assert!(file.contains("is not a directory"), "{file}");
    }

    #[test]
    fn a_directory_never_replaces_a_non_directory() {
        assert_eq!(message(CopiedKind::Directory, None, false), "ok");
        for existing in [FILE, LINK] {
            let refused = message(CopiedKind::Directory, existing, false);
            assert!(
                refused.contains("cannot copy a directory onto"),
                "{refused}"
            );
        }
        assert!(message(CopiedKind::Directory, None, true).contains("could not be found"));
        // `--overwrite`: what is there gives way, but a trailing `/` still wants a directory.
        check_destination(CopiedKind::Directory, FILE, false, false, "/x", "the host").unwrap();
        assert!(check_destination(CopiedKind::File, FILE, true, false, "/x/", "the host").is_err());
    }

    #[test]
    fn an_archive_goes_only_into_a_directory() {
        for (existing, wants_dir) in [(None, false), (None, true), (FILE, false)] {
            let refused = message(CopiedKind::Archive, existing, wants_dir);
            assert!(
                refused.contains("an archive is copied into a directory"),
                "{refused}"
            );
        }
        assert!(matches!(
            check_destination(CopiedKind::Archive, None, false, true, "/x", "the host"),
            Err(EngineError::NoSuchPath(_))
        ));
    }

    #[test]
    fn host_destinations_are_judged_by_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "kept").unwrap();
        check_host_destination(CopiedKind::Directory, dir.path(), true).unwrap();
        check_host_destination(CopiedKind::File, &file, true).unwrap();
        check_host_destination(CopiedKind::Directory, &dir.path().join("new"), true).unwrap();
        assert!(check_host_destination(CopiedKind::Directory, &file, true).is_err());
        let slashed = PathBuf::from(format!("{}/", file.display()));
        assert!(check_host_destination(CopiedKind::File, &slashed, true).is_err());
        let new_slashed = PathBuf::from(format!("{}/new/", dir.path().display()));
        assert!(check_host_destination(CopiedKind::File, &new_slashed, true).is_err());
        // A link to a directory is gone into.
        std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
        check_host_destination(CopiedKind::Directory, &dir.path().join("link"), true).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept");
    }
}
