//! The signatures a registry keeps beside an image: cosign's artifact, tagged
//! `sha256-<manifest hex>.sig` in the image's repository, each of its layers a signature
//! payload with the signature in its annotations. A registry is a stranger: the artifact's
//! manifest, its number of layers and each payload are bounded, and every payload is
//! checked against its digest (the signature itself is checked by the policy). A push
//! with a signing key adds its signature to that artifact, as podman's does.

use oci_spec::image::ImageManifest;
use serde_json::json;

use super::client::RepositoryClient;
use super::manifest;
use crate::image::sigstore::{self, Attachment};
use crate::{EngineError, Result};

/// The most layers an artifact may list (cosign adds one per signature).
const MOST_ATTACHMENTS: usize = 64;

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
