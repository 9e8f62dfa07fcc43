//! A container's files over the Docker API (and libpod's, which shares the shapes):
//! `changes` (`docker diff`), `export`, and `archive` (`docker cp`: HEAD to stat a path,
//! GET to copy out as a tar, PUT to unpack a tar into a directory).

use base64::Engine as _;
use serde_json::json;

use rpod_engine::tree_diff::DiffSubject;
use rpod_engine::upper_diff::ChangeKind;
use rpod_engine::{HostSource, PathStat};

use crate::error::{ApiError, ApiResult};
use crate::exchange::{Exchange, Flavour};
use crate::service::Context;

/// The header `docker cp` reads a path's stat from (base64 of a JSON object).
const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// `GET /containers/{name}/changes`: what the container changed in its image's files;
/// `Kind` 0 changed, 1 added, 2 deleted. libpod's takes `parent` too (compare with that
/// container or image instead: `podman --remote diff A B`) and `diffType` (`all`,
/// `container` or `image`: what the names may be).
pub fn changes(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let subject = match ex.flavour {
        Flavour::Compat => DiffSubject::Container,
        Flavour::Libpod => match ex.req.query("diffType").unwrap_or_default() {
            "" | "all" => DiffSubject::Any,
            "container" => DiffSubject::Container,
            "image" => DiffSubject::Image,
            other => {
                return Err(ApiError::bad_request(format!(
                    "invalid diffType value {other:?}"
                )))
            }
        },
    };
    changes_as(context, ex, name, subject)
}

/// `GET /libpod/images/{name}/changes`: what the image's top layer changes, or (with
/// `parent`) what makes that image's file system this one's.
pub fn image_changes(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    changes_as(context, ex, name, DiffSubject::Image)
}

fn changes_as(
    context: &Context,
    ex: &mut Exchange,
    name: &str,
    subject: DiffSubject,
) -> ApiResult<()> {
    let parent = match ex.flavour {
        Flavour::Compat => None,
        Flavour::Libpod => ex.req.query("parent").filter(|p| !p.is_empty()),
    };
    let found = context.engine.diff_changes(name, parent, subject)?;
    let changes: Vec<serde_json::Value> = found
        .into_iter()
        .map(|c| {
            let kind = match c.kind {
                ChangeKind::Changed => 0,
                ChangeKind::Added => 1,
                ChangeKind::Deleted => 2,
            };
            json!({ "Path": c.path.display().to_string(), "Kind": kind })
        })
        .collect();
    ex.json(200, &changes)
}

/// `GET /containers/{name}/export`: the container's root file system as a tar.
pub fn export(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    // Found first, so that an unknown name is a 404 rather than a cut stream.
    context.engine.lookup(name)?;
    ex.send_archive(&[], |out| context.engine.export(name, out))
}

/// The `path` query parameter of the archive endpoints.
fn archive_path(ex: &Exchange) -> ApiResult<String> {
    ex.req
        .query("path")
        .filter(|p| !p.is_empty())
        .map(String::from)
        .ok_or_else(|| ApiError::bad_request("the path parameter is required"))
}

/// Go's `os.FileMode` of a `st_mode`: the permission bits, and the kind and special bits
/// where Go keeps them (what the Docker client tests with `IsDir()` and friends).
fn go_file_mode(st_mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const NAMED_PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHAR_DEVICE: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut mode = st_mode & 0o777;
    mode |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => DIR,
        libc::S_IFLNK => SYMLINK,
        libc::S_IFBLK => DEVICE,
        libc::S_IFCHR => DEVICE | CHAR_DEVICE,
        libc::S_IFIFO => NAMED_PIPE,
        libc::S_IFSOCK => SOCKET,
        _ => 0,
    };
    for (bit, go) in [
        (libc::S_ISUID, SETUID),
        (libc::S_ISGID, SETGID),
        (libc::S_ISVTX, STICKY),
    ] {
        if st_mode & bit != 0 {
            mode |= go;
        }
    }
    mode
}

/// The stat header's value: base64 of the JSON, in the alphabet each client decodes
/// (Docker's the standard one, podman's the URL-safe one).
fn stat_header(ex: &Exchange, stat: &PathStat) -> String {
    let value = json!({
        "name": stat.name,
        "size": stat.size,
        "mode": go_file_mode(stat.mode),
        "mtime": stat.mtime.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "isDir": stat.mode & libc::S_IFMT == libc::S_IFDIR,
        "linkTarget": stat.link_target,
    });
    let text = value.to_string();
    match ex.flavour {
        Flavour::Compat => base64::engine::general_purpose::STANDARD.encode(text),
        Flavour::Libpod => base64::engine::general_purpose::URL_SAFE.encode(text),
    }
}

/// `HEAD /containers/{name}/archive?path=`: the path's stat, in a header.
pub fn archive_stat(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let path = archive_path(ex)?;
    let stat = context.engine.stat_container_path(name, &path)?;
    ex.send_with(
        200,
        "application/json",
        &[(PATH_STAT_HEADER, stat_header(ex, &stat))],
        b"",
    )
}

/// `GET /containers/{name}/archive?path=`: the path as a tar (a directory with everything
/// in it, under its own name), its stat in a header.
pub fn archive_get(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let path = archive_path(ex)?;
    let stat = context.engine.stat_container_path(name, &path)?;
    let header = stat_header(ex, &stat);
    ex.send_archive(&[(PATH_STAT_HEADER, header)], |out| {
        context.engine.copy_from_container_tar(name, &path, out)
    })
}

/// `PUT /containers/{name}/archive?path=`: unpack the tar of the body into the directory
/// `path`. Docker's `copyUIDGID` (libpod's `chown`) gives the files to the container's
/// user; otherwise they keep the tar's owners. A directory there is not replaced by a
/// non-directory, nor the reverse, unless `noOverwriteDirNonDir=false` is said (Docker's
/// default is to replace, but its CLI always asks not to; `cp --overwrite` says false).
pub fn archive_put(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let path = archive_path(ex)?;
    let chown = ex.query_bool("copyUIDGID")? || ex.query_bool("chown")?;
    let how = rpod_engine::CopyInto {
        keep_kinds: ex.query_bool_or("noOverwriteDirNonDir", true)?,
        ..rpod_engine::CopyInto::chown(chown)
    };
    context.engine.lookup(name)?;
    let mut body = ex.conn.body();
    context
        .engine
        .copy_into_container_as(name, HostSource::Tar(&mut body), &path, &how)?;
    ex.empty(200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_modes_are_gos() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            (1 << 23) | 0o755
        );
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
    }
}
