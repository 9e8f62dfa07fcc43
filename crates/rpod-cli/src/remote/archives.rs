//! Remote commands that move archives: `export`, `save` and `volume export` write what the
//! service sends as the local commands write theirs; `load`, `import` and `volume import`
//! send a file or standard input.

use std::io::{self, IsTerminal, Read};

use serde_json::Value;

use crate::cli::{ExportArgs, ImportArgs, LoadArgs, SaveArgs, VolumeExportArgs, VolumeImportArgs};
use crate::commands::write_archive;
use crate::exit::{usage, Failure, Outcome};

use super::{encode, expect, Client};

/// The service's archive at `path` to `output` (standard output when `None`), as the local
/// commands write theirs: never to a terminal, a file replaced only once it is whole. A
/// stream the service cuts short is an error, and leaves no file.
fn download(client: &mut Client, path: &str, output: Option<&std::path::Path>) -> Outcome {
    download_from(client, "GET", path, output)
}

/// `download`, the archive being the answer to a `method` request (a checkpoint's export
/// answers a POST).
pub(super) fn download_from(
    client: &mut Client,
    method: &str,
    path: &str,
    output: Option<&std::path::Path>,
) -> Outcome {
    if output.is_none() && io::stdout().is_terminal() {
        return Err(usage(
            "refusing to write an archive to a terminal: use -o FILE or redirect",
        ));
    }
    let mut streamed = client.stream(method, path, None, false)?;
    if streamed.status != 200 {
        return Err(super::streamed_failure(streamed));
    }
    write_archive(output, |out| io::copy(&mut streamed.body, out).map(|_| ()))?;
    Ok(0)
}

/// `export CONTAINER`: its root file system as a tar.
pub fn export(client: &mut Client, args: &ExportArgs) -> Outcome {
    let path = format!("/containers/{}/export", encode(&args.container));
    download(client, &path, args.output.as_deref())
}

/// `volume export VOLUME`: its content as a tar.
pub fn volume_export(client: &mut Client, args: &VolumeExportArgs) -> Outcome {
    let path = format!("/volumes/{}/export", encode(&args.name));
    download(client, &path, args.output.as_deref())
}

/// `volume import VOLUME FILE|-`: the archive's content added to the volume by the service.
pub fn volume_import(client: &mut Client, args: &VolumeImportArgs) -> Outcome {
    let mut body = crate::commands::volume::import_source(&args.source)?;
    let path = format!("/volumes/{}/import", encode(&args.name));
    let reply = client.upload("POST", &path, "application/x-tar", &mut |out| {
        io::copy(&mut body, out).map(|_| ())
    })?;
    expect(reply, &[204])?;
    Ok(0)
}

/// `save IMAGE...`: the images as a docker-archive, or one as an oci-archive; or one as
/// an oci-dir or docker-dir, which the service sends as a tar that is unpacked here.
pub fn save(client: &mut Client, args: &SaveArgs) -> Outcome {
    // Checked here as the local command checks it; the service checks again.
    let format = crate::commands::image::check_save(args)?;
    let mut path = format!("/images/export?format={}", encode(&args.format));
    if args.compress {
        path.push_str("&compress=true");
    }
    for image in &args.images {
        path.push_str(&format!("&references={}", encode(image)));
    }
    match (&args.output, format.is_directory()) {
        (Some(dir), true) => {
            let streamed = client.stream("GET", &path, None, false)?;
            if streamed.status != 200 {
                return Err(super::streamed_failure(streamed));
            }
            rpod_engine::image::unpack_directory(streamed.body, dir)?;
            Ok(0)
        }
        _ => download(client, &path, args.output.as_deref()),
    }
}

/// What `load` and `import` send: `-i FILE`/a path, or standard input (`-`), never a
/// terminal.
fn source(path: Option<&str>) -> Result<Box<dyn Read>, Failure> {
    match path {
        Some(path) => crate::commands::image::open_input(path),
        None if io::stdin().is_terminal() => Err(usage(
            "cannot read an archive from a terminal: use -i FILE or a pipe",
        )),
        None => Ok(Box::new(io::stdin().lock())),
    }
}

/// `body` sent to `path`; the service's JSON answer.
fn send(client: &mut Client, path: &str, mut body: Box<dyn Read>) -> Result<Value, Failure> {
    let reply = client.upload("POST", path, "application/x-tar", &mut |out| {
        io::copy(&mut body, out).map(|_| ())
    })?;
    Ok(expect(reply, &[200])?.json()?)
}

/// `load [-i FILE]`: the archive's images loaded by the service, named as the local
/// command names them.
pub fn load(client: &mut Client, args: &LoadArgs) -> Outcome {
    let body: Box<dyn Read> = match args.input.as_deref().filter(|p| p.is_dir()) {
        // An oci-dir or docker-dir goes as a tar of its files, as podman-remote sends it.
        Some(dir) => {
            use std::io::Seek;
            let mut packed = rpod_engine::scratch::unnamed_file(&std::env::temp_dir())?;
            rpod_engine::image::pack_directory(dir, &mut packed)?;
            packed
                .rewind()
                .map_err(|e| usage(format!("rewinding the packed {}: {e}", dir.display())))?;
            Box::new(packed)
        }
        None => {
            let input = args.input.as_ref().map(|p| p.display().to_string());
            source(input.as_deref())?
        }
    };
    let answer = send(client, "/images/load", body)?;
    for name in answer["Names"].as_array().into_iter().flatten() {
        println!("Loaded image: {}", name.as_str().unwrap_or_default());
    }
    Ok(0)
}

/// `import TARBALL|- [NAME]`: a root file system made an image by the service; its ID
/// printed as the local command prints it.
pub fn import(client: &mut Client, args: &ImportArgs) -> Outcome {
    let mut path = String::from("/images/import?");
    let mut query = Vec::new();
    if let Some(name) = &args.reference {
        query.push(format!("reference={}", encode(name)));
    }
    if let Some(message) = &args.message {
        query.push(format!("message={}", encode(message)));
    }
    for change in &args.changes {
        query.push(format!("changes={}", encode(change)));
    }
    path.push_str(&query.join("&"));
    let answer = send(client, &path, source(Some(&args.source))?)?;
    let id = answer["Id"].as_str().unwrap_or_default();
    println!("{}", id.trim_start_matches("sha256:"));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::super::client::{tests::serve_once, Endpoint};
    use super::*;

    #[test]
    fn an_archive_the_service_cuts_short_is_an_error_and_leaves_no_file() {
        let (socket, _server, dir) = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        );
        let mut client = Client::new(Endpoint::Unix(socket));
        let file = dir.path().join("out.tar");
        let err = download(&mut client, "/containers/c/export", Some(&file)).unwrap_err();
        assert!(err.message().contains("ended early"), "{}", err.message());
        assert!(!file.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only the socket"
        );
    }

    #[test]
    fn a_whole_archive_is_written() {
        let (socket, _server, dir) = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        );
        let mut client = Client::new(Endpoint::Unix(socket));
        let file = dir.path().join("out.tar");
        assert_eq!(
            download(&mut client, "/containers/c/export", Some(&file)).unwrap(),
            0
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"hello");
    }
}
