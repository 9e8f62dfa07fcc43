//! Pushing an image: each layer compressed (or not) into a scratch file to learn its digest,
//! uploaded unless the repository has it, then the config and a manifest naming them.

use std::fs::File;
use std::io::{self, Seek, Write};

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use ureq::http::StatusCode;

use super::client::{Payload, RegistryOptions, RepositoryClient};
use super::manifest;
use crate::image::policy::Named;
use crate::image::reference::Reference;
use crate::image::registries_d::{self, Lookaside};
use crate::image::{config_bytes, layer, layer_dirs, ImageRecord};
use crate::image::{sigstore, simple_signing};
use crate::paths::Roots;
use crate::scratch;
use crate::{EngineError, Result};

/// The manifest format pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManifestFormat {
    /// An OCI image manifest (podman's default).
    #[default]
    Oci,
    /// A Docker schema 2 manifest (`--format v2s2`).
    DockerV2s2,
}

/// An image pushed in its own format.
impl From<crate::image::ImageFormat> for ManifestFormat {
    fn from(format: crate::image::ImageFormat) -> Self {
        match format {
            crate::image::ImageFormat::Oci => ManifestFormat::Oci,
            crate::image::ImageFormat::Docker => ManifestFormat::DockerV2s2,
        }
    }
}

impl std::str::FromStr for ManifestFormat {
    type Err = EngineError;
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "oci" => Ok(ManifestFormat::Oci),
            "v2s2" | "docker" => Ok(ManifestFormat::DockerV2s2),
            "v2s1" => Err(EngineError::NotSupported(
                "pushing Docker schema 1 manifests".into(),
            )),
            other => Err(EngineError::InvalidArg(format!(
                "unknown manifest format {other:?}: use oci or v2s2"
            ))),
        }
    }
}

/// How layers are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerCompression {
    #[default]
    Gzip,
    /// Uncompressed (OCI manifests only).
    None,
    /// zstd (OCI manifests only).
    Zstd,
}

impl std::str::FromStr for LayerCompression {
    type Err = EngineError;
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "gzip" => Ok(LayerCompression::Gzip),
            "none" | "uncompressed" => Ok(LayerCompression::None),
            "zstd" => Ok(LayerCompression::Zstd),
            "zstd:chunked" => Err(EngineError::NotSupported(format!(
                "--compression-format {text} (use zstd: chunked layers' table of contents is not written)"
            ))),
            other => Err(EngineError::InvalidArg(format!(
                "unknown compression format {other:?}: use gzip, zstd or none"
            ))),
        }
    }
}

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub registry: RegistryOptions,
    /// Sign the pushed manifest with this key (cosign's signature, stored beside it).
    pub sign_with: Option<p256::ecdsa::SigningKey>,
    /// Sign the pushed manifest with this GPG key (a fingerprint or user ID of the user's
    /// keyring) and its passphrase, into the lookaside store registries.d names.
    pub sign_by_gpg: Option<(String, Option<Vec<u8>>)>,
    /// The registries.d directory (containers/image's choice when `None`).
    pub registries_d: Option<std::path::PathBuf>,
    /// The manifest format; none pushes the image in its own (`ImageRecord::format`).
    pub format: Option<ManifestFormat>,
    pub compression: LayerCompression,
    /// podman's `--compress`: a `dir:` destination's layers gzip-compressed (they are
    /// written as stored, uncompressed, otherwise).
    pub compress_directory: bool,
}

impl PushOptions {
    /// The format `image` is pushed in: the one asked for, else the image's own (an
    /// uncompressed push is an OCI one: Docker's manifests have no such layers).
    pub fn format_for(&self, image: &ImageRecord) -> ManifestFormat {
        match (self.format, self.compression) {
            (Some(format), _) => format,
            (None, LayerCompression::Gzip) => image.format().into(),
            (None, LayerCompression::None | LayerCompression::Zstd) => ManifestFormat::Oci,
        }
    }
}

/// A blob ready to upload: a scratch file (or the stored layer itself), its digest, size.
struct ReadyBlob {
    file: File,
    digest: String,
    size: u64,
}

/// What a push reads of the store, opened while the image lock is held: the layers' blobs
/// (open descriptors, so an `rmi` during the upload removes nothing the push still reads)
/// and the config.
pub struct PushSource {
    layers: Vec<(String, File)>,
    config: Vec<u8>,
}

impl PushSource {
    /// Open `image`'s layers and read its config (call under the image lock).
    pub fn open(roots: &Roots, image: &ImageRecord) -> Result<PushSource> {
        let dirs = layer_dirs(roots);
        let layers = image
            .layers
            .iter()
            .map(|diff_id| Ok((diff_id.clone(), layer::open_blob(&dirs, diff_id)?)))
            .collect::<Result<_>>()?;
        Ok(PushSource {
            layers,
            config: config_bytes(roots, &image.id)?,
        })
    }

    /// The image's config, as read.
    pub fn config(&self) -> &[u8] {
        &self.config
    }
}

/// Push `image` (its `source`, opened before) to `destination` (a reference with a
/// registry); returns the manifest's digest. `progress` gets podman's progress lines.
pub fn push(
    roots: &Roots,
    image: &ImageRecord,
    source: PushSource,
    destination: &Reference,
    options: &PushOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<String> {
    let format = options.format_for(image);
    check_format(format, options.compression)?;
    let mut client = connect(destination, options)?;
    progress("Getting image source signatures");
    let (bytes, manifest_type) = send_image(
        roots,
        image,
        source,
        format,
        options.compression,
        Some(&mut client),
        progress,
    )?;
    let digest = manifest::sha256_of(&bytes);
    let signing = Signing::prepare(destination, &digest, options, progress)?;
    progress("Writing manifest to image destination");
    put_manifest(&mut client, &tag_of(destination), &bytes, manifest_type)?;
    signing.store(&mut client, options, progress)?;
    Ok(digest)
}

/// The manifest a push of `image` in `format` writes (its bytes and media type), made
/// without a registry: each layer compressed as the push would, and only hashed, to learn
/// its digest. The compression is the same every time, so the push writes these bytes.
pub fn image_manifest(
    roots: &Roots,
    image: &ImageRecord,
    source: PushSource,
    format: ManifestFormat,
    compression: LayerCompression,
) -> Result<(Vec<u8>, &'static str)> {
    check_format(format, compression)?;
    send_image(roots, image, source, format, compression, None, &mut |_| {})
}

/// A manifest list (`index`, of `index_type`) pushed to `destination`'s tag after the local
/// images it names (`images`: each with its source, opened before, the format its entry
/// was made in and the digest the entry gives), each pushed by its digest, and the
/// registries' images it names (`remote`: digest, `REGISTRY/REPOSITORY` and how to reach
/// that registry), copied unless they are in the destination's repository already.
/// Returns the list's digest.
#[allow(clippy::too_many_arguments)]
pub fn push_list(
    roots: &Roots,
    index: &[u8],
    index_type: &str,
    images: Vec<(ImageRecord, PushSource, ManifestFormat, String)>,
    remote: Vec<(String, String, RegistryOptions)>,
    destination: &Reference,
    options: &PushOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<String> {
    let mut client = connect(destination, options)?;
    progress("Getting image list signatures");
    let (host, repository) = destination.repository(crate::image::reference::DEFAULT_DOMAIN);
    let here = format!("{host}/{repository}");
    let dirs = layer_dirs(roots);
    for (digest, source, source_options) in remote {
        if source == here {
            continue;
        }
        let (bytes, media_type) = super::pull::copy_remote_image(
            &mut client,
            &source,
            &digest,
            &source_options,
            &dirs,
            progress,
        )?;
        put_manifest(&mut client, &digest, &bytes, &media_type)?;
    }
    for (image, source, format, digest) in images {
        let (bytes, manifest_type) = send_image(
            roots,
            &image,
            source,
            format,
            options.compression,
            Some(&mut client),
            progress,
        )?;
        let pushed = manifest::sha256_of(&bytes);
        if pushed != digest {
            return Err(EngineError::InvalidArg(format!(
                "image {} makes the manifest {pushed} now, not the list's {digest}: add it to the list again",
                &image.id[..12]
            )));
        }
        put_manifest(&mut client, &digest, &bytes, manifest_type)?;
    }
    // As podman signs a list: the list itself, not its images.
    let digest = manifest::sha256_of(index);
    let signing = Signing::prepare(destination, &digest, options, progress)?;
    progress("Writing manifest list to image destination");
    put_manifest(&mut client, &tag_of(destination), index, index_type)?;
    signing.store(&mut client, options, progress)?;
    Ok(digest)
}

/// The signatures a push makes of the manifest it writes, for the destination's full name
/// (as podman's): a GPG one is made, and where it goes checked, before the manifest is
/// written (a key gpg cannot use, or a store rpod cannot write, stops the push before the
/// image is under its tag); both are stored after.
struct Signing {
    named: Named,
    digest: String,
    /// The GPG signature and the lookaside store it goes to.
    gpg: Option<(Vec<u8>, String)>,
}

impl Signing {
    fn prepare(
        destination: &Reference,
        digest: &str,
        options: &PushOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Signing> {
        let named = Named::pulled(destination, crate::image::reference::DEFAULT_DOMAIN);
        let gpg = match &options.sign_by_gpg {
            Some((key, passphrase)) => {
                let store = Lookaside::load(&registries_d::dir(options.registries_d.as_deref()))?
                    .write_base_for(&named);
                super::signatures::lookaside_directory(&store)?;
                progress("Signing manifest using simple signing");
                let signature =
                    simple_signing::sign(key, digest, &named.full(), passphrase.as_deref())
                        .map_err(EngineError::InvalidArg)?;
                Some((signature, store))
            }
            None => None,
        };
        Ok(Signing {
            named,
            digest: digest.to_string(),
            gpg,
        })
    }

    fn store(
        self,
        client: &mut RepositoryClient,
        options: &PushOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        if let Some((signature, store)) = &self.gpg {
            progress("Storing signatures");
            super::signatures::store_in_lookaside(store, &self.digest, signature)?;
        }
        if let Some(key) = &options.sign_with {
            progress("Storing signatures");
            let reference = self.named.full();
            let signature = sigstore::sign(key, &self.digest, &reference);
            super::signatures::attach(client, &self.digest, &reference, &signature)?;
        }
        Ok(())
    }
}

fn check_format(format: ManifestFormat, compression: LayerCompression) -> Result<()> {
    if format == ManifestFormat::DockerV2s2 && compression != LayerCompression::Gzip {
        return Err(EngineError::InvalidArg(
            "Docker v2s2 manifests need gzip layers: use --compression-format gzip".into(),
        ));
    }
    Ok(())
}

fn connect(destination: &Reference, options: &PushOptions) -> Result<RepositoryClient> {
    if destination.digest.is_some() {
        return Err(EngineError::InvalidArg(
            "a push destination names a tag, not a digest".into(),
        ));
    }
    let (registry, repository) = destination.repository(crate::image::reference::DEFAULT_DOMAIN);
    RepositoryClient::connect(&registry, &repository, true, &options.registry)
}

fn tag_of(destination: &Reference) -> String {
    destination
        .tag
        .clone()
        .unwrap_or_else(|| crate::image::reference::DEFAULT_TAG.to_string())
}

/// Ready `image`'s layers and config as a push sends them, uploading each (a layer at a
/// time, so only one compressed copy exists at once) when given a `client`; the manifest
/// that names them.
fn send_image(
    roots: &Roots,
    image: &ImageRecord,
    source: PushSource,
    format: ManifestFormat,
    compression: LayerCompression,
    mut client: Option<&mut RepositoryClient>,
    progress: &mut dyn FnMut(&str),
) -> Result<(Vec<u8>, &'static str)> {
    let dirs = layer_dirs(roots);
    let mut layer_descriptors = Vec::new();
    for (diff_id, file) in source.layers {
        let (digest, size) = match client.as_deref_mut() {
            Some(client) => {
                let blob = ready_layer(&dirs, &diff_id, file, compression)?;
                let uploaded = upload(client, &blob)?;
                progress(&format!(
                    "Copying blob {} {}",
                    &blob.digest["sha256:".len().."sha256:".len() + 12],
                    if uploaded {
                        "done"
                    } else {
                        "skipped: already exists"
                    }
                ));
                (blob.digest, blob.size)
            }
            // Only the digest is wanted: the compressed bytes are hashed, not kept.
            None => match compression {
                LayerCompression::None => (
                    format!("sha256:{diff_id}"),
                    blob_size(&dirs, &diff_id, &file)?,
                ),
                LayerCompression::Gzip | LayerCompression::Zstd => {
                    let (digest, size, _) =
                        compressed_hashed(&dirs, file, io::sink(), compression)?;
                    (digest, size)
                }
            },
        };
        let media_type = match (format, compression) {
            (ManifestFormat::DockerV2s2, _) => manifest::DOCKER_LAYER_GZIP,
            (ManifestFormat::Oci, LayerCompression::Gzip) => manifest::OCI_LAYER_GZIP,
            (ManifestFormat::Oci, LayerCompression::Zstd) => manifest::OCI_LAYER_ZSTD,
            (ManifestFormat::Oci, LayerCompression::None) => manifest::OCI_LAYER,
        };
        layer_descriptors.push(serde_json::json!({
            "mediaType": media_type,
            "digest": digest,
            "size": size,
        }));
    }
    let config = source.config;
    let config_digest = manifest::sha256_of(&config);
    if let Some(client) = client {
        let config_blob = ReadyBlob {
            file: scratch_with(&dirs.tmp, &config)?,
            digest: config_digest.clone(),
            size: config.len() as u64,
        };
        upload(client, &config_blob)?;
        progress(&format!("Copying config {} done", &image.id[..12]));
    }
    let (manifest_type, config_type) = match format {
        ManifestFormat::Oci => (manifest::OCI_MANIFEST, manifest::OCI_CONFIG),
        ManifestFormat::DockerV2s2 => (manifest::DOCKER_MANIFEST, manifest::DOCKER_CONFIG),
    };
    let mut document = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config.len()},
        "layers": layer_descriptors,
    });
    // A Docker manifest has no annotations.
    if format == ManifestFormat::Oci && !image.annotations.is_empty() {
        document["annotations"] = serde_json::json!(image.annotations);
    }
    let bytes = serde_json::to_vec(&document)
        .map_err(|e| EngineError::InvalidArg(format!("encoding the manifest: {e}")))?;
    Ok((bytes, manifest_type))
}

/// Write a manifest under `reference` (a tag or a digest).
pub(super) fn put_manifest(
    client: &mut RepositoryClient,
    reference: &str,
    bytes: &[u8],
    media_type: &str,
) -> Result<()> {
    let url = client.url(&format!("manifests/{reference}"));
    let response = client.call(
        "PUT",
        &url,
        &[("Content-Type", media_type)],
        &Payload::Bytes(bytes),
    )?;
    client.expect(
        response,
        &[StatusCode::CREATED, StatusCode::OK, StatusCode::ACCEPTED],
        "writing the manifest",
    )?;
    Ok(())
}

/// A scratch file holding `bytes`, read from its start.
fn scratch_with(tmp: &std::path::Path, bytes: &[u8]) -> Result<File> {
    let mut file = scratch::unnamed_file(tmp)?;
    file.write_all(bytes)
        .and_then(|_| file.rewind())
        .map_err(|e| EngineError::io("writing a scratch file in", tmp, e))?;
    Ok(file)
}

/// The stored layer as it will be uploaded: gzip-compressed into a scratch file, or the
/// stored tar itself.
fn ready_layer(
    dirs: &layer::LayerDirs,
    diff_id: &str,
    source: File,
    compression: LayerCompression,
) -> Result<ReadyBlob> {
    match compression {
        LayerCompression::None => Ok(ReadyBlob {
            size: blob_size(dirs, diff_id, &source)?,
            file: source,
            digest: format!("sha256:{diff_id}"),
        }),
        LayerCompression::Gzip | LayerCompression::Zstd => {
            let file = scratch::unnamed_file(&dirs.tmp)?;
            let (digest, size, mut file) = compressed_hashed(dirs, source, file, compression)?;
            file.rewind()
                .map_err(|e| EngineError::io("rewinding", &dirs.tmp, e))?;
            Ok(ReadyBlob { file, digest, size })
        }
    }
}

fn blob_size(dirs: &layer::LayerDirs, diff_id: &str, blob: &File) -> Result<u64> {
    Ok(blob
        .metadata()
        .map_err(|e| EngineError::io("reading", dirs.blob(diff_id), e))?
        .len())
}

/// A stored layer gzip-compressed into `out` as a push sends it (the same bytes every
/// time): the compressed bytes' digest and size, and `out` back.
fn compressed_hashed<W: Write>(
    dirs: &layer::LayerDirs,
    mut source: File,
    out: W,
    compression: LayerCompression,
) -> Result<(String, u64, W)> {
    let mut hashing = HashingWriter {
        inner: out,
        hasher: Sha256::new(),
        size: 0,
    };
    // Read through the reserve's check: a compressed copy may be written beside it.
    let mut reader = dirs.space.reader(&mut source);
    let written = match compression {
        LayerCompression::Zstd => {
            crate::image::compression::zstd_compress(&mut reader, &mut hashing)
        }
        _ => {
            let mut encoder = GzEncoder::new(&mut hashing, Compression::default());
            io::copy(&mut reader, &mut encoder).and_then(|_| encoder.finish().map(drop))
        }
    };
    written.map_err(|e| EngineError::io("compressing layer in", &dirs.tmp, e).or_no_space())?;
    let digest = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
    Ok((digest, hashing.size, hashing.inner))
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buffer)?;
        self.hasher.update(&buffer[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Whether the repository has the blob `digest`.
pub(super) fn has_blob(client: &mut RepositoryClient, digest: &str) -> Result<bool> {
    let head_url = client.url(&format!("blobs/{digest}"));
    let head = client.call("HEAD", &head_url, &[], &Payload::Empty)?;
    Ok(head.status() == StatusCode::OK)
}

/// Upload `file` (read from its start) as the blob `digest` of `size` bytes.
pub(super) fn upload_file(
    client: &mut RepositoryClient,
    file: File,
    digest: &str,
    size: u64,
) -> Result<()> {
    send_blob(
        client,
        &ReadyBlob {
            file,
            digest: digest.to_string(),
            size,
        },
    )
}

/// Upload `bytes` as a blob unless the repository has it; its digest and size.
pub(super) fn upload_bytes(client: &mut RepositoryClient, bytes: &[u8]) -> Result<(String, u64)> {
    let digest = manifest::sha256_of(bytes);
    if !has_blob(client, &digest)? {
        send_payload(client, &digest, &Payload::Bytes(bytes))?;
    }
    Ok((digest, bytes.len() as u64))
}

/// Upload a blob unless the repository has it. Whether it was uploaded.
fn upload(client: &mut RepositoryClient, blob: &ReadyBlob) -> Result<bool> {
    if has_blob(client, &blob.digest)? {
        return Ok(false);
    }
    send_blob(client, blob)?;
    Ok(true)
}

/// Upload a blob (monolithically: a POST for the upload's place, a PUT of the bytes).
fn send_blob(client: &mut RepositoryClient, blob: &ReadyBlob) -> Result<()> {
    send_payload(client, &blob.digest, &Payload::File(&blob.file))
}

/// Upload `payload` as the blob `digest`.
fn send_payload(client: &mut RepositoryClient, digest: &str, payload: &Payload) -> Result<()> {
    let start_url = client.url("blobs/uploads/");
    let started = client.call(
        "POST",
        &start_url,
        &[("Content-Length", "0")],
        &Payload::Empty,
    )?;
    let started = client.expect(started, &[StatusCode::ACCEPTED], "starting an upload")?;
    let location = started
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            EngineError::Registry(format!(
                "registry {} started an upload without saying where to send it",
                client.registry
            ))
        })?
        .to_string();
    let mut url = client.absolute(&location);
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(
        &form_urlencoded::Serializer::new(String::new())
            .append_pair("digest", digest)
            .finish(),
    );
    let sent = client.call(
        "PUT",
        &url,
        &[("Content-Type", "application/octet-stream")],
        payload,
    )?;
    client.expect(
        sent,
        &[StatusCode::CREATED, StatusCode::NO_CONTENT, StatusCode::OK],
        &format!("uploading blob {digest}"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {

    use super::*;
    use std::io::Read;

    #[test]
    fn formats_and_compressions_are_named_as_podman_names_them() {
        assert_eq!(
            "oci".parse::<ManifestFormat>().unwrap(),
            ManifestFormat::Oci
        );
        assert_eq!(
            "v2s2".parse::<ManifestFormat>().unwrap(),
            ManifestFormat::DockerV2s2
        );
        assert!(matches!(
            "v2s1".parse::<ManifestFormat>(),
            Err(EngineError::NotSupported(_))
        ));
        assert!("xml".parse::<ManifestFormat>().is_err());
        assert_eq!(
            "gzip".parse::<LayerCompression>().unwrap(),
            LayerCompression::Gzip
        );
        assert_eq!(
            "zstd".parse::<LayerCompression>().unwrap(),
            LayerCompression::Zstd
        );
        assert!(matches!(
            "zstd:chunked".parse::<LayerCompression>(),
            Err(EngineError::NotSupported(_))
        ));
    }

    #[test]
    fn a_gzip_layer_hashes_what_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = layer::LayerDirs::new(
            dir.path(),
            &dir.path().join("tmp"),
            crate::free_space::SpaceGuard::new(dir.path(), crate::free_space::TEST_KEEP_FREE),
        );
        std::fs::create_dir_all(&dirs.blobs).unwrap();
        std::fs::create_dir_all(&dirs.tmp).unwrap();
        std::fs::write(dirs.blob("abc"), vec![7u8; 100_000]).unwrap();
        let mut blob = ready_layer(
            &dirs,
            "abc",
            layer::open_blob(&dirs, "abc").unwrap(),
            LayerCompression::Gzip,
        )
        .unwrap();
        let mut compressed = Vec::new();
        blob.file.read_to_end(&mut compressed).unwrap();
        assert_eq!(compressed.len() as u64, blob.size);
        assert_eq!(manifest::sha256_of(&compressed), blob.digest);
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, vec![7u8; 100_000]);
        let raw = ready_layer(
            &dirs,
            "abc",
            layer::open_blob(&dirs, "abc").unwrap(),
            LayerCompression::None,
        )
        .unwrap();
        assert_eq!((raw.digest.as_str(), raw.size), ("sha256:abc", 100_000));
    }
}
