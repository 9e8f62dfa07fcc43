//! `ADD URL DEST` for `build`: a file downloaded from a web server (HTTP or HTTPS) into the
//! image, as Docker and buildah add it: not unpacked, mode 0600 (or `--chmod`), its time
//! the server's `Last-Modified` when it gives one, named after the URL's last path part
//! when the destination is a directory. `--checksum=sha256:HEX` checks what came. The
//! download goes to an unnamed scratch file of rpod's, within the store's free-space
//! reserve; the build cache keys the step by its content (a build downloads it again, as
//! podman's does, and goes on from the cache when nothing changed).

use std::io::{Read, Seek, Write};

use sha2::Digest;

use super::{step_error, Builder};
use crate::containerfile::Instruction;
use crate::{EngineError, Result};

/// A file `ADD` downloaded.
pub(super) struct Download {
    pub url: String,
    /// The name it gets in a destination directory: the URL's last path part.
    pub name: Option<String>,
    pub file: std::fs::File,
    /// `sha256:HEX` of its content.
    pub digest: String,
    /// Seconds since the epoch, from `Last-Modified`.
    pub modified: Option<u64>,
    /// The file's mode in the image: 0600 for a download (Docker's), 0644 for a heredoc.
    pub mode: u32,
}

/// A COPY or ADD heredoc as a file to copy, as a download is: its lines, with the build's
/// variables put in unless its delimiter was quoted (`vars`).
pub(super) fn heredoc_file(
    heredoc: &crate::containerfile::Heredoc,
    vars: &std::collections::BTreeMap<String, String>,
    line: usize,
    tmp: &std::path::Path,
) -> Result<Download> {
    use sha2::Digest;
    use std::io::Write;
    let content = match heredoc.expand {
        true => crate::containerfile::expand(&heredoc.content, vars, line)?,
        false => heredoc.content.clone(),
    };
    let mut file =
        tempfile::tempfile_in(tmp).map_err(|e| EngineError::io("making a file in", tmp, e))?;
    file.write_all(content.as_bytes())
        .map_err(|e| EngineError::io("writing a heredoc in", tmp, e))?;
    Ok(Download {
        url: format!("<<{}", heredoc.delimiter),
        name: Some(heredoc.delimiter.clone()),
        file,
        digest: format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(content.as_bytes()))
        ),
        modified: None,
        mode: 0o644,
    })
}

/// Whether an ADD source is a URL rpod downloads (`http://`, `https://`); other schemes
/// and Git sources are refused by `download`.
pub(super) fn is_url(source: &str) -> bool {
    source.contains("://") || source.starts_with("git@")
}

/// The last part of a URL's path (without query or fragment), the file's name.
fn url_file_name(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .split_once('/')
        .map(|(_, path)| path)?;
    let name = path.rsplit('/').next().filter(|n| !n.is_empty())?;
    (name != "." && name != "..").then(|| name.to_string())
}

impl Builder<'_> {
    /// Download `url` for an ADD step; `checksum` is `--checksum`'s `sha256:HEX`.
    pub(super) fn download(
        &self,
        url: &str,
        checksum: Option<&str>,
        instruction: &Instruction,
    ) -> Result<Download> {
        if !matches!(url.split_once("://"), Some(("http" | "https", _))) {
            return Err(EngineError::NotSupported(format!(
                "Containerfile line {} (ADD): {url}: only http:// and https:// URLs are downloaded (not Git or other sources)",
                instruction.line
            )));
        }
        let failed = |what: String| step_error(instruction, format!("{url}: {what}"));
        let fetched = download_url(self.engine, url, &failed)?;
        if let Some(wanted) = checksum {
            if !wanted.eq_ignore_ascii_case(&fetched.digest) {
                return Err(failed(format!(
                    "its digest is {}, not {wanted}",
                    fetched.digest
                )));
            }
        }
        Ok(Download {
            url: url.to_string(),
            name: url_file_name(url),
            file: fetched.file,
            digest: fetched.digest,
            modified: fetched.modified,
            mode: 0o600,
        })
    }
}

/// What `download_url` fetched.
pub(super) struct Fetched {
    /// An unnamed scratch file of rpod's, at its start.
    pub file: std::fs::File,
    /// `sha256:HEX` of its content.
    pub digest: String,
    /// Seconds since the epoch, from `Last-Modified`.
    pub modified: Option<u64>,
}

/// Download `url` (`http://` or `https://`) into an unnamed scratch file of rpod's, within
/// the store's free-space reserve; what goes wrong with the URL, the server or the transfer
/// is `failed`'s error.
pub(super) fn download_url(
    engine: &crate::Engine,
    url: &str,
    failed: &dyn Fn(String) -> EngineError,
) -> Result<Fetched> {
    let Some(("http" | "https", rest)) = url.split_once("://") else {
        return Err(failed(
            "only http:// and https:// URLs are downloaded".into(),
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    // The host also names a directory of certs.d (`web_agent`): a host name's
    // characters only, never `..`.
    let plain_host = !host.is_empty()
        && host != "."
        && host != ".."
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !plain_host {
        return Err(failed(format!("{host:?} is not a host name")));
    }
    let agent = crate::image::registry::web_agent(host)?;
    let response = agent
        .get(url)
        .call()
        .map_err(|e| failed(format!("downloading: {e}")))?;
    if !response.status().is_success() {
        return Err(failed(format!("the server answered {}", response.status())));
    }
    let modified = response
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .and_then(|t| u64::try_from(t.timestamp()).ok());
    let mut body = response.into_body().into_reader();
    let tmp = engine.roots.tmp();
    std::fs::create_dir_all(&tmp).map_err(|e| EngineError::io("creating directory", &tmp, e))?;
    let file = crate::scratch::unnamed_file(&tmp)?;
    let space = engine.roots.space_guard();
    let mut out = space.writer(file);
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match body.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(failed(format!("downloading: {e}"))),
        };
        hasher.update(&buffer[..read]);
        out.write_all(&buffer[..read]).map_err(|e| {
            match crate::free_space::NoSpace::within(&e) {
                Some(no_space) => EngineError::NoSpace(no_space),
                None => EngineError::io("writing the download of", std::path::Path::new(url), e),
            }
        })?;
    }
    let mut file = out.into_inner();
    file.rewind()
        .map_err(|e| EngineError::io("reading the download of", std::path::Path::new(url), e))?;
    Ok(Fetched {
        file,
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        modified,
    })
}

/// A tar of one downloaded file named `name`: root's, mode 0600, the server's time.
pub(super) fn download_tar(download: &mut Download, name: &str) -> Result<Vec<u8>> {
    let err = |e: std::io::Error| {
        EngineError::io(
            "packing the download of",
            std::path::Path::new(&download.url),
            e,
        )
    };
    let size = download.file.metadata().map_err(err)?.len();
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(download.mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(download.modified.unwrap_or_else(|| {
        // No Last-Modified: the time it came.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }));
    let mut archive = tar::Builder::new(Vec::new());
    download.file.rewind().map_err(err)?;
    archive
        .append_data(&mut header, name, &mut download.file)
        .map_err(err)?;
    archive.into_inner().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_file_name_is_its_paths_last_part() {
        assert_eq!(
            url_file_name("https://h/a/b.tar.gz").as_deref(),
            Some("b.tar.gz")
        );
        assert_eq!(url_file_name("http://h:8080/x?y=1#z").as_deref(), Some("x"));
        assert_eq!(url_file_name("https://h/dir/"), None);
        assert_eq!(url_file_name("https://h"), None);
        assert_eq!(url_file_name("https://h/.."), None);
        assert!(is_url("https://h/x") && is_url("git@github.com:a/b") && !is_url("local.txt"));
    }
}
