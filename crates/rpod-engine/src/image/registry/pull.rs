//! Pulling an image: its manifest (through an index to this platform's), its config and
//! the layers this store does not have, each checked against the digest and size that
//! named it before the image is recorded.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::sync::{mpsc, Mutex};

use oci_spec::image::ImageConfiguration;
use sha2::{Digest, Sha256};
use ureq::http::StatusCode;

use super::client::{read_small, registry_error, RegistryOptions, RepositoryClient};
use super::manifest::{self, Document};
use super::signatures::RegistrySignatures;
use crate::image::layer::{self, LayerDirs, StoredLayer};
use crate::image::platform::Platform;
use crate::image::policy::{Incoming, Named, Policy};
use crate::image::reference::Reference;
use crate::image::{add_image, discard_new_layers, layer_dirs, ImageRecord};
use crate::paths::Roots;
use crate::scratch;
use crate::store::Store;
use crate::{EngineError, Result};

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub registry: RegistryOptions,
    /// The platform to choose from a manifest list (this machine's when `None`), which
    /// the image's config must also name.
    pub platform: Option<Platform>,
    /// The registries.d directory naming lookaside signature stores (containers/image's
    /// choice when `None`).
    pub registries_d: Option<std::path::PathBuf>,
    /// Where to fetch the image from, in order (registries.conf's mirrors and location:
    /// a reference, its registry, the options for it); none: the name pulled itself. The
    /// image is recorded, and judged by the policy, under the name pulled.
    pub sources: Vec<(Reference, String, RegistryOptions)>,
}

/// Short form of a digest for progress lines (`sha256:0123...` → `0123456789ab`).
fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// Pull `reference` from `registry` (its own, or the search registry tried) and record
/// it under its full name. `progress` gets podman's progress lines; `lock_images` takes
/// the image store's lock, held from the first unpack to the record.
#[allow(clippy::too_many_arguments)]
pub fn pull<L>(
    store: &Store,
    roots: &Roots,
    reference: &Reference,
    registry: &str,
    options: &PullOptions,
    policy: &Policy,
    progress: &mut dyn FnMut(&str),
    lock_images: impl FnOnce() -> Result<L>,
) -> Result<ImageRecord> {
    let name = reference.render(registry);
    let (mut client, bytes, content_type) = if options.sources.is_empty() {
        connect_and_fetch(reference, registry, &options.registry)?
    } else {
        fetch_from_first(&options.sources)?
    };
    // Said once the registry answered with a manifest, as podman says it.
    progress("Getting image source signatures");
    // The digests the image is known by: a list's, then the image manifest's.
    let mut manifest_digests = vec![manifest::sha256_of(&bytes)];
    // The signature policy judges what the reference named (a list, for a list), before
    // anything else of the image is fetched.
    let identity = Named::pulled(reference, registry);
    policy.check(
        &Incoming::Registry {
            reference: &identity,
            manifest_digest: &manifest_digests[0],
        },
        &mut RegistrySignatures {
            client: &mut client,
            digest: &manifest_digests[0],
            name: &name,
            identity: &identity,
            registries_d: options.registries_d.as_deref(),
        },
    )?;
    let mut document = manifest::parse(&content_type, &bytes, &name)?;
    if let Document::Index(index) = &document {
        let entry = manifest::choose(index, options.platform.as_ref(), &name)?;
        let digest = manifest::checked_digest(entry.digest().as_ref())?;
        let (entry_bytes, entry_type) = fetch_manifest(&mut client, &digest, &name)?;
        verify_digest(&entry_bytes, &digest, &name)?;
        document = manifest::parse(&entry_type, &entry_bytes, &name)?;
        manifest_digests.push(digest);
    }
    let Document::Image(image_manifest) = document else {
        return Err(EngineError::Registry(format!(
            "{name}: a manifest list names another list where an image manifest belongs"
        )));
    };
    drop(bytes);
    let config_descriptor = image_manifest.config();
    let (config_digest, config_bytes, config) = fetch_config(&mut client, &image_manifest, &name)?;
    if let Some(platform) = &options.platform {
        platform.check(&name, &config)?;
    }
    let diff_ids: Vec<String> = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| manifest::checked_digest(d).map(|d| d.trim_start_matches("sha256:").to_string()))
        .collect::<Result<_>>()?;
    if diff_ids.len() != image_manifest.layers().len() {
        return Err(EngineError::Registry(format!(
            "{name}: the manifest lists {} layers and the config {}",
            image_manifest.layers().len(),
            diff_ids.len()
        )));
    }

    let dirs = layer_dirs(roots);
    let present = |diff_id: &str| dirs.dir(diff_id).is_dir() && dirs.blob(diff_id).is_file();
    // First, without the image lock (so that other image work and container creates go
    // on during a long download): the layers this store lacks, each into an unnamed
    // scratch file, checked against its digest and size before anything unpacks it.
    let mut downloads: Vec<(String, Option<File>)> = Vec::new();
    let mut missing: Vec<(usize, String, u64)> = Vec::new();
    for (index, (descriptor, diff_id)) in image_manifest.layers().iter().zip(&diff_ids).enumerate()
    {
        let digest = manifest::checked_digest(descriptor.digest().as_ref())?;
        if present(diff_id) {
            progress(&format!(
                "Copying blob {} skipped: already exists",
                short(&digest)
            ));
        } else {
            manifest::check_layer_type(descriptor.media_type().as_ref(), &name)?;
            missing.push((index, digest.clone(), descriptor.size()));
        }
        downloads.push((digest, None));
    }
    // What the registry says the downloads weigh must fit beside rpod's reserve (each
    // download is also counted as it streams in, and each unpack after it).
    // Saturating: a registry's sizes are its own word, and a sum that wrapped would pass.
    let declared = missing
        .iter()
        .fold(0u64, |total, (_, _, size)| total.saturating_add(*size));
    dirs.space.check(declared).map_err(EngineError::NoSpace)?;
    for (index, file) in download_all(&client, missing, &name, &dirs, progress)? {
        downloads[index].1 = Some(file);
    }
    // Then, under the lock: the layers unpacked and the image recorded.
    let _lock = lock_images()?;
    let mut stored: Vec<StoredLayer> = Vec::new();
    let result = (|| -> Result<()> {
        for ((descriptor, diff_id), (digest, download)) in
            image_manifest.layers().iter().zip(&diff_ids).zip(downloads)
        {
            let file = match download {
                Some(file) => file,
                None if present(diff_id) => {
                    stored.push(StoredLayer {
                        diff_id: diff_id.clone(),
                        size: std::fs::metadata(dirs.blob(diff_id))
                            .map(|m| m.len())
                            .unwrap_or(0),
                        created: false,
                    });
                    continue;
                }
                // Removed with another image since it was seen: fetched now.
                None => download_blob(&mut client, &digest, descriptor.size(), &name, &dirs)?,
            };
            let layer = layer::store_layer(&dirs, file, &name)?;
            let matches = layer.diff_id == *diff_id;
            let got = layer.diff_id.clone();
            stored.push(layer);
            if !matches {
                return Err(EngineError::Registry(format!(
                    "{name}: layer {digest} unpacks to sha256:{got}, not to sha256:{diff_id} as the image's config says"
                )));
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        discard_new_layers(store, roots, &stored);
        return Err(e);
    }
    progress(&format!("Copying config {} done", short(&config_digest)));
    progress("Writing manifest to image destination");
    let format = if config_descriptor.media_type().to_string() == manifest::DOCKER_CONFIG {
        crate::image::ImageFormat::Docker
    } else {
        crate::image::ImageFormat::Oci
    };
    let mut record = match add_image(
        store,
        roots,
        &config_bytes,
        &stored,
        std::slice::from_ref(&name),
        format,
    ) {
        Ok(record) => record,
        Err(e) => {
            discard_new_layers(store, roots, &stored);
            return Err(e);
        }
    };
    for digest in manifest_digests {
        store.add_image_digest(&record.id, &digest)?;
        if !record.digests.contains(&digest) {
            record.digests.push(digest);
        }
    }
    if let Some(annotations) = image_manifest.annotations() {
        let annotations = annotations.clone().into_iter().collect();
        store.add_image_annotations(&record.id, &annotations)?;
        record.annotations.extend(annotations);
    }
    Ok(record)
}

fn verify_digest(bytes: &[u8], expected: &str, name: &str) -> Result<()> {
    let got = manifest::sha256_of(bytes);
    if got != expected.to_ascii_lowercase() {
        return Err(EngineError::Registry(format!(
            "{name}: the registry sent a document whose digest is {got}, not {expected}"
        )));
    }
    Ok(())
}

/// The manifest (an image's, or a list's) `reference` names on `registry`, as the registry
/// serves it: its bytes and media type (`manifest inspect` of a remote image).
pub fn fetch_manifest_of(
    reference: &Reference,
    registry: &str,
    options: &RegistryOptions,
) -> Result<(Vec<u8>, String)> {
    connect_and_fetch(reference, registry, options).map(|(_, bytes, kind)| (bytes, kind))
}

/// A client of the repository `reference` names, and the manifest it names there (its
/// tag's, `latest` without one, or its digest's, checked against that digest).
fn connect_and_fetch(
    reference: &Reference,
    registry: &str,
    options: &RegistryOptions,
) -> Result<(RepositoryClient, Vec<u8>, String)> {
    let name = reference.render(registry);
    let (registry, repository) = reference.repository(registry);
    let mut client = RepositoryClient::connect(&registry, &repository, false, options)?;
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| crate::image::reference::DEFAULT_TAG.to_string());
    let (bytes, content_type) = fetch_manifest(&mut client, &wanted, &name)?;
    if let Some(digest) = &reference.digest {
        verify_digest(&bytes, digest, &name)?;
    }
    Ok((client, bytes, content_type))
}

/// The manifest from the first of `sources` that serves it (a mirror that fails or lacks
/// it is passed over); all their failures when none does.
fn fetch_from_first(
    sources: &[(Reference, String, RegistryOptions)],
) -> Result<(RepositoryClient, Vec<u8>, String)> {
    let mut failures = Vec::new();
    for (reference, registry, options) in sources {
        match connect_and_fetch(reference, registry, options) {
            Ok(found) => return Ok(found),
            Err(e) => failures.push(e),
        }
    }
    match failures.len() {
        1 => Err(failures.remove(0)),
        _ => Err(EngineError::Registry(
            failures
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

/// An image manifest's config: its digest, bytes (bounded, checked against the digest)
/// and what they say.
fn fetch_config(
    client: &mut RepositoryClient,
    image: &oci_spec::image::ImageManifest,
    name: &str,
) -> Result<(String, Vec<u8>, ImageConfiguration)> {
    let descriptor = image.config();
    let digest = manifest::checked_digest(descriptor.digest().as_ref())?;
    if descriptor.size() > manifest::CONFIG_LIMIT {
        return Err(registry_error(
            &client.registry,
            "pulling",
            format!(
                "{name}: the image config is larger than {} bytes",
                manifest::CONFIG_LIMIT
            ),
        ));
    }
    let bytes = fetch_small_blob(client, &digest, descriptor.size(), name)?;
    let config: ImageConfiguration = serde_json::from_slice(&bytes)
        .map_err(|e| EngineError::Registry(format!("{name}: unreadable image config: {e}")))?;
    Ok((digest, bytes, config))
}

/// A manifest by tag or digest, with its Content-Type.
pub(super) fn fetch_manifest(
    client: &mut RepositoryClient,
    reference: &str,
    name: &str,
) -> Result<(Vec<u8>, String)> {
    let url = client.url(&format!("manifests/{reference}"));
    let response = client.call(
        "GET",
        &url,
        &[("Accept", manifest::ACCEPT)],
        &super::client::Payload::Empty,
    )?;
    if response.status() == StatusCode::NOT_FOUND {
        return Err(EngineError::RegistryNotFound(format!(
            "{name}: manifest unknown on registry {} (no such image or tag)",
            client.registry
        )));
    }
    let response = client.expect(
        response,
        &[StatusCode::OK],
        &format!("reading manifest {name}"),
    )?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = read_small(response, manifest::MANIFEST_LIMIT)
        .map_err(|e| registry_error(&client.registry, &format!("reading manifest {name}"), e))?;
    Ok((bytes, content_type))
}

/// A blob small enough to hold in memory (a config), checked against its digest and size.
pub(super) fn fetch_small_blob(
    client: &mut RepositoryClient,
    digest: &str,
    size: u64,
    name: &str,
) -> Result<Vec<u8>> {
    let response = open_blob(client, digest, name)?;
    let bytes = read_small(
        response,
        size.saturating_add(1).min(manifest::CONFIG_LIMIT + 1),
    )
    .map_err(|e| registry_error(&client.registry, &format!("reading blob {digest}"), e))?;
    if bytes.len() as u64 != size {
        return Err(EngineError::Registry(format!(
            "{name}: blob {digest} has {} bytes, not the {size} its manifest says",
            bytes.len()
        )));
    }
    verify_digest(&bytes, digest, name)?;
    Ok(bytes)
}

fn open_blob(
    client: &mut RepositoryClient,
    digest: &str,
    name: &str,
) -> Result<ureq::http::Response<ureq::Body>> {
    let url = client.url(&format!("blobs/{digest}"));
    let response = client.call("GET", &url, &[], &super::client::Payload::Empty)?;
    if response.status() == StatusCode::NOT_FOUND {
        return Err(EngineError::RegistryNotFound(format!(
            "{name}: blob {digest} unknown on registry {}",
            client.registry
        )));
    }
    client.expect(
        response,
        &[StatusCode::OK],
        &format!("reading blob {digest}"),
    )
}

/// How many blobs one pull downloads at once (podman's default too).
const PARALLEL_DOWNLOADS: usize = 6;

/// Download blobs (index in the manifest, digest, size) side by side, each on a clone of
/// the client; returns them by index once all are in, or the first failure.
fn download_all(
    client: &RepositoryClient,
    blobs: Vec<(usize, String, u64)>,
    name: &str,
    dirs: &LayerDirs,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<(usize, File)>> {
    let workers = PARALLEL_DOWNLOADS.min(blobs.len());
    let queue = Mutex::new(blobs.into_iter());
    let (sender, receiver) = mpsc::channel();
    let mut files = Vec::new();
    let mut failure: Option<EngineError> = None;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let mut own = client.clone();
            let queue = &queue;
            scope.spawn(move || loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((index, digest, size)) = next else {
                    break;
                };
                let result = download_blob(&mut own, &digest, size, name, dirs);
                if sender.send((index, digest, result)).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        for (index, digest, result) in receiver {
            match result {
                Ok(file) => {
                    progress(&format!("Copying blob {} done", short(&digest)));
                    files.push((index, file));
                }
                Err(e) => {
                    // The others finish what they started; nothing new is begun.
                    queue
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .by_ref()
                        .for_each(drop);
                    failure.get_or_insert(e);
                }
            }
        }
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(files),
    }
}

/// A blob downloaded into an unnamed scratch file (gone with the process if anything
/// fails), its digest and size checked as it streams in; returned read from its start.
fn download_blob(
    client: &mut RepositoryClient,
    digest: &str,
    size: u64,
    name: &str,
    dirs: &LayerDirs,
) -> Result<File> {
    dirs.space.check(size).map_err(EngineError::NoSpace)?;
    let response = open_blob(client, digest, name)?;
    let verified = Verified::new(response.into_body().into_reader(), digest, size);
    let mut file = scratch::unnamed_file(&dirs.tmp)?;
    io::copy(&mut dirs.space.reader(verified), &mut file).map_err(|e| {
        EngineError::from_io_or(e, |e| {
            EngineError::Registry(format!("{name}: layer {digest}: {e}"))
        })
    })?;
    file.rewind()
        .map_err(|e| EngineError::io("rewinding a download in", &dirs.tmp, e))?;
    Ok(file)
}

/// A blob's bytes, counted and hashed; more bytes than expected, fewer, or another digest
/// is an error (at the end of the stream, or at `finish`).
struct Verified<R> {
    inner: R,
    hasher: Sha256,
    expected_digest: String,
    expected_size: u64,
    seen: u64,
    checked: bool,
}

impl<R: Read> Verified<R> {
    fn new(inner: R, digest: &str, size: u64) -> Self {
        Verified {
            inner,
            hasher: Sha256::new(),
            expected_digest: digest.to_ascii_lowercase(),
            expected_size: size,
            seen: 0,
            checked: false,
        }
    }

    fn check(&mut self) -> io::Result<()> {
        if self.checked {
            return Ok(());
        }
        self.checked = true;
        if self.seen != self.expected_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the registry sent {} bytes, not the {} the manifest says",
                    self.seen, self.expected_size
                ),
            ));
        }
        let got = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
        if got != self.expected_digest {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the registry sent bytes whose digest is {got}, not {}",
                    self.expected_digest
                ),
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buffer)?;
        if n == 0 {
            self.check()?;
            return Ok(0);
        }
        self.seen += n as u64;
        if self.seen > self.expected_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the registry sent more than the {} bytes the manifest says",
                    self.expected_size
                ),
            ));
        }
        self.hasher.update(&buffer[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(bytes: &[u8]) -> String {
        manifest::sha256_of(bytes)
    }

    #[test]
    fn a_blob_is_accepted_only_whole_and_with_its_digest() {
        let data = b"layer bytes".to_vec();
        let mut ok = Verified::new(&data[..], &digest_of(&data), data.len() as u64);
        let mut out = Vec::new();
        ok.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);

        let mut short = Verified::new(&data[..4], &digest_of(&data), data.len() as u64);
        assert!(short.read_to_end(&mut Vec::new()).is_err());

        let mut long = Verified::new(&data[..], &digest_of(&data[..4]), 4);
        let err = long.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("more than the 4 bytes"), "{err}");

        let mut wrong = Verified::new(&data[..], &digest_of(b"other bytes"), data.len() as u64);
        let err = wrong.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("digest"), "{err}");
    }
}

/// A manifest on a registry as a manifest list names it.
#[derive(Debug, Clone)]
pub struct RemoteManifest {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub arch: String,
    pub os: String,
    pub variant: Option<String>,
    /// `REGISTRY/REPOSITORY` it is in.
    pub source: String,
}

/// The manifests `reference` names on `registry` for a manifest list (`manifest add` of a
/// registry's image): an image manifest with its config's platform; of a list, the entry
/// for `platform` (this machine's when `None`), or with `all` every entry, as the list
/// gives their platforms.
pub fn remote_manifests(
    reference: &Reference,
    registry: &str,
    options: &RegistryOptions,
    platform: Option<&Platform>,
    all: bool,
) -> Result<Vec<RemoteManifest>> {
    let name = reference.render(registry);
    let (mut client, bytes, content_type) = connect_and_fetch(reference, registry, options)?;
    let (host, repository) = reference.repository(registry);
    let source = format!("{host}/{repository}");
    match manifest::parse(&content_type, &bytes, &name)? {
        Document::Index(index) => {
            let chosen: Vec<&oci_spec::image::Descriptor> = if all {
                index.manifests().iter().collect()
            } else {
                vec![manifest::choose(&index, platform, &name)?]
            };
            chosen
                .into_iter()
                .map(|d| {
                    let p = d.platform().as_ref();
                    Ok(RemoteManifest {
                        media_type: d.media_type().to_string(),
                        digest: manifest::checked_digest(d.digest().as_ref())?,
                        size: d.size(),
                        arch: p.map(|p| p.architecture().to_string()).unwrap_or_default(),
                        os: p.map(|p| p.os().to_string()).unwrap_or_default(),
                        variant: p.and_then(|p| p.variant().clone()),
                        source: source.clone(),
                    })
                })
                .collect()
        }
        Document::Image(image) => {
            let (_, _, config) = fetch_config(&mut client, &image, &name)?;
            let media_type = image
                .media_type()
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_else(|| content_type.clone());
            Ok(vec![RemoteManifest {
                media_type,
                digest: manifest::sha256_of(&bytes),
                size: bytes.len() as u64,
                arch: config.architecture().to_string(),
                os: config.os().to_string(),
                variant: config.variant().clone(),
                source,
            }])
        }
    }
}

/// Copy the image manifest `digest` of `source` (`REGISTRY/REPOSITORY`) into the
/// repository `destination` is connected to, with its config and layers (those it lacks),
/// each blob checked against its digest on the way through a scratch file.
pub(super) fn copy_remote_image(
    destination: &mut RepositoryClient,
    source: &str,
    digest: &str,
    options: &RegistryOptions,
    dirs: &LayerDirs,
    progress: &mut dyn FnMut(&str),
) -> Result<(Vec<u8>, String)> {
    let reference = Reference::parse(&format!("{source}@{digest}"))?;
    let registry = reference
        .domain
        .clone()
        .unwrap_or_else(|| crate::image::reference::DEFAULT_DOMAIN.to_string());
    let name = reference.render(&registry);
    let (mut client, bytes, content_type) = connect_and_fetch(&reference, &registry, options)?;
    let Document::Image(image) = manifest::parse(&content_type, &bytes, &name)? else {
        return Err(EngineError::Registry(format!(
            "{name}: a manifest list where an image manifest belongs"
        )));
    };
    let blobs = std::iter::once(image.config())
        .chain(image.layers().iter())
        .map(|d| Ok((manifest::checked_digest(d.digest().as_ref())?, d.size())))
        .collect::<Result<Vec<_>>>()?;
    for (blob, size) in blobs {
        if super::push::has_blob(destination, &blob)? {
            progress(&format!(
                "Copying blob {} skipped: already exists",
                short(&blob)
            ));
            continue;
        }
        let file = download_blob(&mut client, &blob, size, &name, dirs)?;
        super::push::upload_file(destination, file, &blob, size)?;
        progress(&format!("Copying blob {} done", short(&blob)));
    }
    let media_type = image
        .media_type()
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or(content_type);
    Ok((bytes, media_type))
}
