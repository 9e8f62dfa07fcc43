//! The signatures a registry keeps beside an image: cosign's artifact, tagged
//! `sha256-<manifest hex>.sig` in the image's repository, each of its layers a signature
//! payload with the signature in its annotations. A registry is a stranger: the artifact's
//! manifest, its number of layers and each payload are bounded, and every payload is
//! checked against its digest (the signature itself is checked by the policy). A push
//! with a signing key adds its signature to that artifact, as podman's does.

use oci_spec::image::ImageManifest;
use serde_json::json;

use super::client::{read_small, RepositoryClient};
use super::manifest;
use std::path::Path;

use crate::image::policy::{Named, SignatureSource};
use crate::image::registries_d::{self, Lookaside};
use crate::image::sigstore::{self, Attachment};
use crate::{EngineError, Result};

/// The most layers an artifact may list (cosign adds one per signature).
const MOST_ATTACHMENTS: usize = 64;

/// The most GPG signatures read from a lookaside store for one manifest.
const MOST_LOOKASIDE_SIGNATURES: usize = 64;

/// The most bytes of signatures of either kind held for one manifest.
const SIGNATURES_TOTAL_LIMIT: u64 = 16 << 20;

/// The signatures of a manifest pulled from a registry: cosign's artifact beside it, and
/// the GPG signatures of the lookaside store that registries.d names for it.
pub struct RegistrySignatures<'a> {
    pub client: &'a mut RepositoryClient,
    /// The manifest's digest (`sha256:...`).
    pub digest: &'a str,
    /// The image, for messages.
    pub name: &'a str,
    /// The name pulled, whose registries.d scope says where its GPG signatures are.
    pub identity: &'a Named,
    /// The registries.d directory (containers/image's choice when `None`), read only when
    /// a requirement asks for GPG signatures.
    pub registries_d: Option<&'a Path>,
}

impl SignatureSource for RegistrySignatures<'_> {
    fn sigstore(&mut self) -> Result<Vec<Attachment>> {
        sigstore_attachments(self.client, self.digest, self.name)
    }

    fn simple(&mut self) -> Result<Vec<Vec<u8>>> {
        let base = Lookaside::load(&registries_d::dir(self.registries_d))?.base_for(self.identity);
        lookaside_signatures(&base, self.digest, self.name)
    }
}

/// The GPG signatures of the manifest `digest` in the lookaside store at `base` (a
/// `file://` directory or an HTTP(S) server): `signature-1`, `signature-2`, ... until the
/// first that is missing. Each is bounded like cosign's payloads.
pub fn lookaside_signatures(base: &str, digest: &str, name: &str) -> Result<Vec<Vec<u8>>> {
    let mut found = Vec::new();
    let mut total = 0u64;
    let agent = base
        .starts_with("http")
        .then(|| super::client::plain_agent(true));
    for index in 1..=MOST_LOOKASIDE_SIGNATURES + 1 {
        let url = registries_d::signature_url(base, digest, index);
        let failed = |why: String| {
            EngineError::Registry(format!("{name}: reading the signature {url}: {why}"))
        };
        let signature = if let Some(path) = url.strip_prefix("file://") {
            match std::fs::File::open(path) {
                Ok(file) => {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(
                        &mut std::io::Read::take(file, sigstore::PAYLOAD_LIMIT + 1),
                        &mut bytes,
                    )
                    .map_err(|e| failed(e.to_string()))?;
                    bytes
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(failed(e.to_string())),
            }
        } else if let Some(agent) = &agent {
            let response = agent.get(&url).call().map_err(|e| failed(e.to_string()))?;
            match response.status().as_u16() {
                200 => read_small(response, sigstore::PAYLOAD_LIMIT + 1).map_err(failed)?,
                404 => break,
                status => return Err(failed(format!("the server answered {status}"))),
            }
        } else {
            return Err(failed(
                "a lookaside store is a file:// directory or an http(s):// server".into(),
            ));
        };
        if signature.len() as u64 > sigstore::PAYLOAD_LIMIT {
            return Err(failed(format!(
                "larger than {} bytes",
                sigstore::PAYLOAD_LIMIT
            )));
        }
        if index > MOST_LOOKASIDE_SIGNATURES {
            return Err(failed(format!(
                "more than {MOST_LOOKASIDE_SIGNATURES} signatures"
            )));
        }
        total += signature.len() as u64;
        if total > SIGNATURES_TOTAL_LIMIT {
            return Err(failed(format!(
                "the signatures come to more than {SIGNATURES_TOTAL_LIMIT} bytes"
            )));
        }
        found.push(signature);
    }
    Ok(found)
}

/// The signature attachments of the manifest `digest` in `client`'s repository; none
/// when the registry has no artifact for it.
pub fn sigstore_attachments(
    client: &mut RepositoryClient,
    digest: &str,
    name: &str,
) -> Result<Vec<Attachment>> {
    let tag = sigstore::attachment_tag(digest);
    let (bytes, _) = match super::pull::fetch_manifest(client, &tag, name) {
        Ok(found) => found,
        Err(EngineError::RegistryNotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let artifact: ImageManifest = serde_json::from_slice(&bytes).map_err(|e| {
        EngineError::Registry(format!(
            "{name}: the signature artifact {tag} is not an OCI image manifest: {e}"
        ))
    })?;
    if artifact.layers().len() > MOST_ATTACHMENTS {
        return Err(EngineError::Registry(format!(
            "{name}: the signature artifact {tag} lists {} layers, more than the {MOST_ATTACHMENTS} rpod reads",
            artifact.layers().len()
        )));
    }
    let declared = artifact
        .layers()
        .iter()
        .fold(0u64, |sum, layer| sum.saturating_add(layer.size()));
    if declared > SIGNATURES_TOTAL_LIMIT {
        return Err(EngineError::Registry(format!(
            "{name}: the signature artifact {tag} declares {declared} bytes of payloads, more than the {SIGNATURES_TOTAL_LIMIT} rpod reads"
        )));
    }
    artifact
        .layers()
        .iter()
        .map(|layer| {
            let digest = manifest::checked_digest(layer.digest().as_ref())?;
            if layer.size() > sigstore::PAYLOAD_LIMIT {
                return Err(EngineError::Registry(format!(
                    "{name}: a signature payload of {tag} is larger than {} bytes",
                    sigstore::PAYLOAD_LIMIT
                )));
            }
            Ok(Attachment {
                media_type: layer.media_type().to_string(),
                payload: super::pull::fetch_small_blob(client, &digest, layer.size(), name)?,
                annotations: layer.annotations().clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Add `signature` to the artifact of the manifest `digest` in `client`'s repository
/// (made when there is none; the signatures already there are kept, as containers/image
/// keeps them).
pub fn attach(
    client: &mut RepositoryClient,
    digest: &str,
    name: &str,
    signature: &Attachment,
) -> Result<()> {
    let tag = sigstore::attachment_tag(digest);
    let mut layers: Vec<serde_json::Value> = match super::pull::fetch_manifest(client, &tag, name) {
        Ok((bytes, _)) => {
            let existing: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                EngineError::Registry(format!(
                    "{name}: the signature artifact {tag} is not JSON: {e}"
                ))
            })?;
            existing["layers"].as_array().cloned().unwrap_or_default()
        }
        Err(EngineError::RegistryNotFound(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let (payload_digest, payload_size) = super::push::upload_bytes(client, &signature.payload)?;
    layers.push(json!({
        "mediaType": signature.media_type,
        "digest": payload_digest,
        "size": payload_size,
        "annotations": signature.annotations,
    }));
    // The artifact's config, as cosign writes one: its "layers" are the payloads.
    let diff_ids: Vec<&serde_json::Value> = layers.iter().map(|l| &l["digest"]).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .map_err(|e| EngineError::InvalidArg(format!("encoding the signature artifact: {e}")))?;
    let (config_digest, config_size) = super::push::upload_bytes(client, &config)?;
    let artifact = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": layers,
    }))
    .map_err(|e| EngineError::InvalidArg(format!("encoding the signature artifact: {e}")))?;
    super::push::put_manifest(
        client,
        &tag,
        &artifact,
        "application/vnd.oci.image.manifest.v1+json",
    )
}

/// The directory of a lookaside store rpod can write to: a `file://` one (as
/// containers/image writes only those).
pub fn lookaside_directory(base: &str) -> Result<&str> {
    base.strip_prefix("file://").ok_or_else(|| {
        EngineError::InvalidArg(format!(
            "GPG signatures are written to a file:// lookaside store, not {base} (give the scope a lookaside-staging in registries.d)"
        ))
    })
}

/// Write `signature` as the next `signature-N` of the manifest `digest` in the lookaside
/// store at `base`, which must be a `file://` directory (as containers/image writes
/// only those); the file written.
pub fn store_in_lookaside(
    base: &str,
    digest: &str,
    signature: &[u8],
) -> Result<std::path::PathBuf> {
    lookaside_directory(base)?;
    for index in 1..=MOST_LOOKASIDE_SIGNATURES {
        let url = registries_d::signature_url(base, digest, index);
        let path = std::path::PathBuf::from(url.trim_start_matches("file://"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| EngineError::io("creating", dir, e))?;
        }
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path);
        match created {
            Ok(mut file) => {
                std::io::Write::write_all(&mut file, signature)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| EngineError::io("writing the signature", &path, e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(EngineError::io("writing the signature", &path, e)),
        }
    }
    Err(EngineError::InvalidArg(format!(
        "the lookaside store {base} already holds {MOST_LOOKASIDE_SIGNATURES} signatures of {digest}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// An HTTP server answering `answer(path)` (status, body) on a port of its own.
    fn serve(answer: fn(&str) -> (u16, Vec<u8>)) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                        loop {
                            let mut header = String::new();
                            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                                return;
                            }
                            if header.trim_end().is_empty() {
                                break;
                            }
                        }
                        let (status, body) = answer(&path);
                        let head = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        );
                        if writer.write_all(head.as_bytes()).is_err()
                            || writer.write_all(&body).is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        host
    }

    #[test]
    fn a_lookaside_server_is_read_until_its_first_404_and_within_bounds() {
        let host = serve(|path| match path.rsplit('/').next().unwrap_or("") {
            "signature-1" if path.starts_with("/ok/") => (200, b"one".to_vec()),
            "signature-1" if path.starts_with("/big/") => {
                (200, vec![0; (sigstore::PAYLOAD_LIMIT + 1) as usize])
            }
            "signature-1" if path.starts_with("/broken/") => (500, b"oops".to_vec()),
            _ => (404, Vec::new()),
        });
        let base = |store: &str| format!("http://{host}/{store}/team/app");
        assert_eq!(
            lookaside_signatures(&base("ok"), DIGEST, "x").unwrap(),
            [b"one".to_vec()]
        );
        assert!(lookaside_signatures(&base("none"), DIGEST, "x")
            .unwrap()
            .is_empty());
        let err = lookaside_signatures(&base("big"), DIGEST, "x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("larger than") || err.contains("limit"),
            "{err}"
        );
        let err = lookaside_signatures(&base("broken"), DIGEST, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("answered 500"), "{err}");
    }

    #[test]
    fn a_lookaside_directory_is_read_in_order_and_within_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let base = format!("file://{}/team/app", dir.path().display());
        assert!(lookaside_signatures(&base, DIGEST, "x").unwrap().is_empty());
        let write = |index: usize, bytes: &[u8]| {
            let url = registries_d::signature_url(&base, DIGEST, index);
            let path = std::path::PathBuf::from(url.trim_start_matches("file://"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        write(1, b"one");
        write(2, b"two");
        write(4, b"after a gap: not read");
        assert_eq!(
            lookaside_signatures(&base, DIGEST, "x").unwrap(),
            [b"one".to_vec(), b"two".to_vec()]
        );
        let stored = store_in_lookaside(&base, DIGEST, b"three").unwrap();
        assert!(stored.ends_with("signature-3"), "{}", stored.display());
        write(3, &vec![0; (sigstore::PAYLOAD_LIMIT + 1) as usize]);
        let err = lookaside_signatures(&base, DIGEST, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than"), "{err}");
        let big = vec![0; sigstore::PAYLOAD_LIMIT as usize];
        for index in 3..=6 {
            write(index, &big);
        }
        let err = lookaside_signatures(&base, DIGEST, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 16777216 bytes"), "{err}");
        assert!(lookaside_signatures("ftp://x", DIGEST, "x").is_err());
        assert!(store_in_lookaside("https://x", DIGEST, b"s").is_err());
    }
}
