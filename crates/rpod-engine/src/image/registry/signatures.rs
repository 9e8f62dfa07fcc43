//! The signatures a registry keeps beside an image: cosign's artifact, tagged
//! `sha256-<manifest hex>.sig` in the image's repository, each of its layers a signature
//! payload with the signature in its annotations. A registry is a stranger: the artifact's
//! manifest, its number of layers and each payload are bounded, and every payload is
//! checked against its digest (the signature itself is checked by the policy).

use oci_spec::image::ImageManifest;

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
