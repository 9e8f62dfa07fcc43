//! Remote `cp`: files between this host and a container on the service's host, through
//! the Docker API's archive endpoints (which both rpod's and podman's services serve).
//!
//! What comes back from a container is hostile: it is unpacked with the tar crate's
//! `unpack_in` (no `..`, no absolute paths, nothing written through a link it made, hard
//! links only to what is inside), without owners, set-ID bits or extended attributes, and
//! device nodes are left out; it stops once less than rpod.conf's reserve of free space
//! (`[storage] keep_free`) would be left on this host.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

use crate::cli::CpArgs;
use crate::commands::filesystem::{cp_end, CpEnd};
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use rpod_engine::copy_destination::{check_destination, check_host_destination, CopiedKind};
use rpod_engine::free_space::{KeepFree, SpaceGuard};

use super::client::COMPAT_PREFIX;
use super::{encode, failure, streamed_failure, Client};

/// Go's `os.ModeDir`, in the stat the archive endpoints give.
const GO_MODE_DIR: u64 = 1 << 31;

fn io_failure(what: String) -> impl FnOnce(io::Error) -> Failure {
    move |e| Failure::new(ENGINE_ERROR, anyhow::anyhow!("{what}: {e}"))
}

/// `keep`: the free space left on this host's file system while a container's files
/// are written here (rpod.conf's `[storage] keep_free`, as for the local store).
pub fn cp(client: &mut Client, args: &CpArgs, keep: KeepFree) -> Outcome {
    match (cp_end(&args.source), cp_end(&args.destination)) {
        // The archive unpacked here has no way to replace another kind safely (its own
        // links could lead the removal anywhere).
        (CpEnd::Container(..), CpEnd::Host(_)) if args.overwrite => Err(Failure::new(
            ENGINE_ERROR,
            rpod_engine::EngineError::NotSupported(
                "--overwrite copying out of a container with a remote service".into(),
            ),
        )),
        (CpEnd::Container(name, path), CpEnd::Host(dest)) => {
            download(client, name, path, Path::new(dest), keep)
        }
        (CpEnd::Container(name, path), CpEnd::Stream) => {
            if io::IsTerminal::is_terminal(&io::stdout()) {
                return Err(usage(
                    "refusing to write an archive to a terminal: redirect the output",
                ));
            }
            let mut archive = archive_of(client, name, path)?;
            io::copy(&mut archive.body, &mut io::stdout().lock())
                .map_err(io_failure("writing the archive".into()))?;
            Ok(0)
        }
        (CpEnd::Host(source), CpEnd::Container(name, path)) => {
            upload(client, Path::new(source), name, path, args.overwrite)
        }
        (CpEnd::Stream, CpEnd::Container(name, path)) => {
            let mut stdin = crate::commands::filesystem::archive_on_stdin()?;
            let reply = client.upload(
                "PUT",
                &put_url(name, path, args.overwrite),
                "application/x-tar",
                &mut |out| io::copy(&mut stdin, out).map(|_| ()),
            )?;
            put_answer(reply)
        }
        (CpEnd::Container(..), CpEnd::Container(..)) => Err(usage(
            "copying between two containers is not supported with a remote service",
        )),
        _ => Err(usage(
            "invalid arguments: one of SOURCE and DESTINATION must be CONTAINER:PATH",
        )),
    }
}

/// The archive endpoint of `path` in container `name`.
fn archive_url(name: &str, path: &str) -> String {
    format!(
        "{COMPAT_PREFIX}/containers/{}/archive?path={}",
        encode(name),
        encode(path)
    )
}

/// The archive endpoint's PUT of `path` in container `name`: with `overwrite`, saying that
/// a directory may replace a non-directory and the reverse (the service refuses it
/// otherwise).
fn put_url(name: &str, path: &str, overwrite: bool) -> String {
    format!(
        "{}&noOverwriteDirNonDir={}",
        archive_url(name, path),
        !overwrite
    )
}

/// `GET .../archive?path=`: a tar of `path` in container `name`, its top named as the path.
fn archive_of(
    client: &mut Client,
    name: &str,
    path: &str,
) -> Result<super::client::Streamed, Failure> {
    let streamed = client.stream("GET", &archive_url(name, path), None, false)?;
    if streamed.status != 200 {
        return Err(streamed_failure(streamed));
    }
    Ok(streamed)
}

/// A path's stat from an archive endpoint's header: its name and whether it is a directory.
fn stat(header: Option<&str>) -> Option<(String, bool)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header?)
        .ok()?;
    let stat: Value = serde_json::from_slice(&bytes).ok()?;
    let is_dir = stat["mode"].as_u64().is_some_and(|m| m & GO_MODE_DIR != 0);
    Some((stat["name"].as_str()?.to_string(), is_dir))
}

/// Copy `path` of container `name` to `dest` here: into it when it is a directory, else as
/// it (its directory must exist).
fn download(client: &mut Client, name: &str, path: &str, dest: &Path, keep: KeepFree) -> Outcome {
    let archive = archive_of(client, name, path)?;
    if dest.is_dir() {
        unpack_within(archive.body, dest, dest, keep)?;
        return Ok(0);
    }
    // What is copied (the answer's stat) decides where it may go here, before any of it
    // is read.
    let is_dir = stat(archive.path_stat.as_deref()).is_some_and(|(_, is_dir)| is_dir);
    check_host_destination(CopiedKind::of(is_dir), dest, true)?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(usage(format!(
            "{}: no such directory to copy into",
            parent.display()
        )));
    }
    // Unpacked beside the destination, then renamed to it: the archive's top is named
    // after the source.
    let scratch = tempfile::Builder::new()
        .prefix(".rpod-cp-")
        .tempdir_in(&parent)
        .map_err(io_failure(format!(
            "making a directory in {}",
            parent.display()
        )))?;
    unpack_within(archive.body, scratch.path(), &parent, keep)?;
    let top = single_entry(scratch.path())?;
    std::fs::rename(&top, dest)
        .map_err(io_failure(format!("moving the copy to {}", dest.display())))?;
    Ok(0)
}

/// The one entry an archive of one path unpacked to.
fn single_entry(dir: &Path) -> Result<PathBuf, Failure> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(io_failure(format!("reading {}", dir.display())))?
        .filter_map(Result::ok);
    match (entries.next(), entries.next()) {
        (Some(only), None) => Ok(only.path()),
        _ => Err(usage(
            "the service's archive does not hold exactly one file or directory",
        )),
    }
}

/// [`unpack`], stopped once less than `keep` would be left free on `space_at`'s file
/// system.
fn unpack_within(
    from: impl Read,
    into: &Path,
    space_at: &Path,
    keep: KeepFree,
) -> Result<(), Failure> {
    unpack(SpaceGuard::new(space_at, keep).reader(from), into)
}

/// Unpack a container's archive into `into` (see the module's comment).
fn unpack(from: impl Read, into: &Path) -> Result<(), Failure> {
    let mut archive = tar::Archive::new(from);
    archive.set_preserve_permissions(false);
    archive.set_preserve_ownerships(false);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    let failed = |e: io::Error| {
        Failure::new(
            ENGINE_ERROR,
            anyhow::anyhow!(
                "unpacking the service's archive into {}: {e}",
                into.display()
            ),
        )
    };
    for entry in archive.entries().map_err(failed)? {
        let mut entry = entry.map_err(failed)?;
        let kind = entry.header().entry_type();
        if kind.is_block_special() || kind.is_character_special() || kind.is_fifo() {
            eprintln!(
                "WARNING: {} left out: device nodes and pipes are not made on this host",
                String::from_utf8_lossy(&entry.path_bytes())
            );
            continue;
        }
        if !entry.unpack_in(into).map_err(failed)? {
            eprintln!(
                "WARNING: {} left out: a path that leaves the destination",
                String::from_utf8_lossy(&entry.path_bytes())
            );
        }
    }
    Ok(())
}

/// Copy host `source` into container `name` at `path`: into it when it is a directory
/// there, else as it; with `overwrite`, replacing another kind there.
fn upload(client: &mut Client, source: &Path, name: &str, path: &str, overwrite: bool) -> Outcome {
    let meta =
        std::fs::symlink_metadata(source).map_err(io_failure(format!("{}", source.display())))?;
    // `DIR/.` (which Path's parsing drops): what the directory holds goes into an existing
    // directory, not the directory itself.
    let contents = source.as_os_str().as_encoded_bytes().ends_with(b"/.");
    let own_name = match source.file_name() {
        Some(name) if !contents => name.to_string_lossy().into_owned(),
        _ => ".".into(),
    };
    // Where it lands: into an existing directory under its own name, else as `path`.
    let stat_reply = client.call("HEAD", &archive_url(name, path), None)?;
    let there = stat(stat_reply.path_stat.as_deref());
    let (into, top) = match (stat_reply.status, there) {
        (200, Some((_, true))) => (path.to_string(), own_name),
        (status @ (200 | 404), _) => {
            let existing = (status == 200).then_some(rustix::fs::FileType::RegularFile);
            let place = format!("container {name}");
            let wants_dir = path.ends_with('/');
            check_destination(
                CopiedKind::of(meta.is_dir()),
                existing,
                wants_dir,
                !overwrite,
                path,
                &place,
            )?;
            let trimmed = path.trim_end_matches('/');
            let (parent, leaf) = match trimmed.rsplit_once('/') {
                Some(("", leaf)) => ("/", leaf),
                Some((parent, leaf)) => (parent, leaf),
                None => (".", trimmed),
            };
            if leaf.is_empty() {
                return Err(usage(format!("{path}: not a place to copy to")));
            }
            (parent.to_string(), leaf.to_string())
        }
        _ => return Err(failure(&stat_reply)),
    };
    let reply = client.upload(
        "PUT",
        &put_url(name, &into, overwrite),
        "application/x-tar",
        &mut |out| {
            let mut builder = tar::Builder::new(out);
            builder.follow_symlinks(false);
            if meta.is_dir() {
                builder.append_dir_all(&top, source)?;
            } else {
                builder.append_path_with_name(source, &top)?;
            }
            builder.finish()
        },
    )?;
    put_answer(reply)
}

fn put_answer(reply: super::client::Reply) -> Outcome {
    match reply.status {
        200 | 204 => Ok(0),
        _ => Err(failure(&reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(0o4755);
        header
    }

    #[test]
    fn an_archive_that_would_leave_less_than_the_reserve_free_stops() {
        let dir = tempfile::tempdir().unwrap();
        let archive = tar_of(|b| {
            let mut head = header(tar::EntryType::Regular, 5);
            b.append_data(&mut head, "big", &b"12345"[..]).unwrap();
        });
        let error = unpack_within(
            &archive[..],
            dir.path(),
            dir.path(),
            KeepFree::Bytes(u64::MAX / 4),
        )
        .unwrap_err()
        .message();
        assert!(error.contains("keep_free"), "{error}");
        assert!(!dir.path().join("big").exists());
        unpack_within(&archive[..], dir.path(), dir.path(), KeepFree::Bytes(0)).unwrap();
        assert_eq!(std::fs::read(dir.path().join("big")).unwrap(), b"12345");
    }

    #[test]
    fn a_hostile_archive_stays_inside_and_makes_no_devices_or_set_id_files() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let into = dir.path().join("into");
        std::fs::create_dir(&into).unwrap();
        let archive = tar_of(|b| {
            // A link to outside, then a file through it.
            let mut link = header(tar::EntryType::Symlink, 0);
            b.append_link(&mut link, "escape", outside.path()).unwrap();
            let mut file = header(tar::EntryType::Regular, 2);
            b.append_data(&mut file, "escape/owned", &b"hi"[..])
                .unwrap();
            // A device node and a set-ID file.
            let mut device = header(tar::EntryType::Char, 0);
            device.set_device_major(1).unwrap();
            device.set_device_minor(3).unwrap();
            b.append_data(&mut device, "null", &b""[..]).unwrap();
            let mut suid = header(tar::EntryType::Regular, 2);
            b.append_data(&mut suid, "tool", &b"#!"[..]).unwrap();
        });
        // The write through the link fails the copy, and nothing lands outside.
        assert!(unpack(&archive[..], &into).is_err());
        assert!(!outside.path().join("owned").exists());
        // Without the escape: the rest, the set-ID bit gone, no device.
        let archive = tar_of(|b| {
            let mut device = header(tar::EntryType::Char, 0);
            b.append_data(&mut device, "null", &b""[..]).unwrap();
            let mut suid = header(tar::EntryType::Regular, 2);
            b.append_data(&mut suid, "tool", &b"#!"[..]).unwrap();
        });
        unpack(&archive[..], &into).unwrap();
        assert!(!into.join("null").exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(into.join("tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7000, 0, "{mode:o}");
    }

    #[test]
    fn the_stat_header_says_name_and_kind() {
        let encode = |json: &str| base64::engine::general_purpose::STANDARD.encode(json);
        assert_eq!(
            stat(Some(&encode(r#"{"name":"etc","mode":2147484141}"#))),
            Some(("etc".into(), true))
        );
        assert_eq!(
            stat(Some(&encode(r#"{"name":"passwd","mode":420}"#))),
            Some(("passwd".into(), false))
        );
        assert_eq!(stat(Some("not base64!")), None);
        assert_eq!(stat(None), None);
    }
}
