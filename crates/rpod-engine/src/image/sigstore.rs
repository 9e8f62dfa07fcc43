//! cosign's image signatures (containers/image calls them "sigstore" signatures): a small
//! JSON payload claiming an image manifest's digest and a reference, signed with ECDSA
//! P-256 over SHA-256. A registry keeps them as an OCI artifact beside the image, tagged
//! `sha256-<manifest hex>.sig`: each of its layers is a payload, its signature in base64 in
//! the layer's annotations. Everything here is untrusted until `verify` says otherwise.

use std::collections::HashMap;

use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
pub use p256::ecdsa::SigningKey;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::{Map, Value};

/// The media type of a signature payload among an artifact's layers.
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the payload's signature (base64 of its DER form).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `critical.type` every payload must carry.
const PAYLOAD_TYPE: &str = "cosign container image signature";
/// The largest payload read from a registry (containers/image's bound for signatures).
pub const PAYLOAD_LIMIT: u64 = 4 << 20;

/// One layer of a signature artifact, as a registry served it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub media_type: String,
    pub payload: Vec<u8>,
    pub annotations: HashMap<String, String>,
}

/// What a verified payload claims: the manifest digest it signs and the reference it
/// was signed for (as written: it may be short, `busybox`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub manifest_digest: String,
    pub reference: String,
}

/// The tag a registry keeps the signatures of the manifest `digest` (`sha256:<hex>`) under.
pub fn attachment_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1) + ".sig"
}

/// A public key in PEM (`-----BEGIN PUBLIC KEY-----`, as `cosign generate-key-pair`
/// writes it). Only ECDSA P-256 keys, cosign's, are taken.
pub fn public_key(pem: &[u8]) -> Result<VerifyingKey, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "not PEM text".to_string())?;
    VerifyingKey::from_public_key_pem(text.trim()).map_err(|e| {
        format!("not an ECDSA P-256 public key in PEM (the only kind rpod verifies): {e}")
    })
}

/// The PEM labels of cosign's private key files (podman takes both).
const PRIVATE_KEY_LABELS: &[&str] = &[
    "ENCRYPTED SIGSTORE PRIVATE KEY",
    "ENCRYPTED COSIGN PRIVATE KEY",
];

/// The scrypt costs a key file may ask for (log2 N, with r 8 and p 1): those of the
/// format's writers; anything else is refused, so a file cannot ask for any amount of
/// memory and time.
const SCRYPT_LOG_N: &[u8] = &[15, 16, 17];

/// A cosign private key file (`cosign generate-key-pair`), as podman's
/// `--sign-by-sigstore-private-key` reads it: PEM whose body is JSON naming the key
/// derivation (scrypt, with its salt), the cipher (NaCl secretbox, with its nonce) and the
/// ciphertext of the PKCS#8 key; only ECDSA P-256 keys are taken.
pub fn private_key(pem: &[u8], passphrase: &[u8]) -> Result<SigningKey, String> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let (label, body) = pem_block(pem).ok_or("not a PEM private key file")?;
    if !PRIVATE_KEY_LABELS.contains(&label.as_str()) {
        return Err(format!("unsupported PEM type {label:?} (a cosign private key is ENCRYPTED SIGSTORE PRIVATE KEY)"));
    }
    let envelope: Value = serde_json::from_slice(&body)
        .map_err(|e| format!("the key's envelope is not JSON: {e}"))?;
    let field = |path: &[&str]| -> Result<&Value, String> {
        path.iter()
            .try_fold(&envelope, |value, key| value.get(key))
            .ok_or_else(|| format!("the key's envelope lacks {}", path.join(".")))
    };
    let bytes = |path: &[&str]| -> Result<Vec<u8>, String> {
        let text = field(path)?
            .as_str()
            .ok_or_else(|| format!("{} is not a string", path.join(".")))?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("{} is not base64: {e}", path.join(".")))
    };
    if field(&["kdf", "name"])?.as_str() != Some("scrypt")
        || field(&["cipher", "name"])?.as_str() != Some("nacl/secretbox")
    {
        return Err("the key is not encrypted with scrypt and nacl/secretbox".into());
    }
    let number = |name: &str| field(&["kdf", "params", name]).map(|v| v.as_u64());
    let log_n = match (number("N")?, number("r")?, number("p")?) {
        (Some(n), Some(8), Some(1)) if n.is_power_of_two() => n.trailing_zeros() as u8,
        _ => 0,
    };
    if !SCRYPT_LOG_N.contains(&log_n) {
        return Err("unsupported scrypt parameters".into());
    }
    let params = scrypt::Params::new(log_n, 8, 1, 32).map_err(|e| e.to_string())?;
    let mut secret = [0u8; 32];
    scrypt::scrypt(passphrase, &bytes(&["kdf", "salt"])?, &params, &mut secret)
        .map_err(|e| e.to_string())?;
    let nonce = bytes(&["cipher", "nonce"])?;
    if nonce.len() != 24 {
        return Err("the key's nonce is not 24 bytes".into());
    }
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&secret.into());
    let der = cipher
        .decrypt(
            crypto_secretbox::Nonce::from_slice(&nonce),
            bytes(&["ciphertext"])?.as_slice(),
        )
        .map_err(|_| {
            "decryption failed: wrong passphrase, or not a key of this file".to_string()
        })?;
    SigningKey::from_pkcs8_der(&der)
        .map_err(|e| format!("not an ECDSA P-256 private key (the only kind rpod signs with): {e}"))
}

/// The first PEM block of `text`: its label and decoded body. Written here because the
/// PEM crate takes only 64-column lines, and Go's reader (podman's) takes any width.
fn pem_block(text: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = text.lines().map(str::trim);
    let label = lines.find_map(|line| {
        line.strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
    })?;
    let mut body = String::new();
    for line in lines {
        if line == format!("-----END {label}-----") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&body)
                .ok()?;
            return Some((label.to_string(), bytes));
        }
        if line.contains(':') {
            continue; // a header line (`Proc-Type: ...`), not base64
        }
        body.push_str(line);
    }
    None
}

/// The claim a signature is made over: the manifest `digest` and the `reference`, of the
/// type `kind` (cosign's and GPG simple signing's differ only in it), with rpod as its
/// creator and the time.
pub fn claim_payload(digest: &str, reference: &str, kind: &str) -> Vec<u8> {
    let payload = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": kind,
        },
        "optional": {
            "creator": concat!("rpod ", env!("CARGO_PKG_VERSION")),
            "timestamp": chrono::Utc::now().timestamp(),
        },
    });
    // Serializing a `Value` into memory cannot fail.
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// A signature of the manifest `digest` for `reference` (the full name pushed to), as a
/// layer of the signature artifact.
pub fn sign(key: &SigningKey, digest: &str, reference: &str) -> Attachment {
    let payload = claim_payload(digest, reference, PAYLOAD_TYPE);
    let signature: DerSignature = key.sign(&payload);
    Attachment {
        media_type: SIGNATURE_MEDIA_TYPE.into(),
        payload,
        annotations: HashMap::from([(
            SIGNATURE_ANNOTATION.to_string(),
            base64::engine::general_purpose::STANDARD.encode(signature.as_bytes()),
        )]),
    }
}

/// Check `attachment`'s signature against `keys` (one must have made it) and read the
/// payload; the caller still has to match the claim against the image.
pub fn verify(keys: &[VerifyingKey], attachment: &Attachment) -> Result<Claim, String> {
    let encoded = attachment
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or_else(|| format!("missing {SIGNATURE_ANNOTATION} annotation"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("the signature is not base64: {e}"))?;
    let signature = DerSignature::try_from(raw.as_slice())
        .map_err(|_| "cryptographic signature verification failed: not a DER ECDSA signature")?;
    if !keys
        .iter()
        .any(|key| key.verify(&attachment.payload, &signature).is_ok())
    {
        return Err(
            "cryptographic signature verification failed: no trusted key made this signature"
                .into(),
        );
    }
    parse_claim(&attachment.payload, PAYLOAD_TYPE)
}

/// An object with exactly the fields `fields` (containers/image reads payloads as strictly).
fn exact_object<'a>(
    value: &'a Value,
    fields: &[&str],
    what: &str,
) -> Result<&'a Map<String, Value>, String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("{what} is not a JSON object"))?;
    for key in object.keys() {
        if !fields.contains(&key.as_str()) {
            return Err(format!("{what} has an unknown field {key:?}"));
        }
    }
    for field in fields {
        if !object.contains_key(*field) {
            return Err(format!("{what} lacks the field {field:?}"));
        }
    }
    Ok(object)
}

fn string_of<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    what: &str,
) -> Result<&'a str, String> {
    object
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{what}.{field} is not a string"))
}

/// A payload's claim: `{"critical": {"type", "image": {"docker-manifest-digest"},
/// "identity": {"docker-reference"}}, "optional": ...}`, nothing else, of the type `kind`
/// (cosign's and GPG simple signing's payloads differ only in it).
pub fn parse_claim(bytes: &[u8], kind: &str) -> Result<Claim, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the payload is not JSON: {e}"))?;
    let top = exact_object(&value, &["critical", "optional"], "the payload")?;
    if let Some(optional) = top.get("optional").filter(|v| !v.is_null()) {
        let optional = optional
            .as_object()
            .ok_or("the payload's optional part is not an object")?;
        if let Some(timestamp) = optional.get("timestamp") {
            if !(timestamp.is_i64() || timestamp.is_u64()) {
                return Err("optional.timestamp is not an integer".into());
            }
        }
        if optional.get("creator").is_some_and(|c| !c.is_string()) {
            return Err("optional.creator is not a string".into());
        }
    }
    let critical = exact_object(&top["critical"], &["type", "image", "identity"], "critical")?;
    let found = string_of(critical, "type", "critical")?;
    if found != kind {
        return Err(format!("unrecognized signature type {found:?}"));
    }
    let image = exact_object(
        &critical["image"],
        &["docker-manifest-digest"],
        "critical.image",
    )?;
    let digest = string_of(image, "docker-manifest-digest", "critical.image")?;
    let valid_digest = digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !valid_digest {
        return Err(format!("invalid docker-manifest-digest {digest:?}"));
    }
    let identity = exact_object(
        &critical["identity"],
        &["docker-reference"],
        "critical.identity",
    )?;
    Ok(Claim {
        manifest_digest: digest.to_ascii_lowercase(),
        reference: string_of(identity, "docker-reference", "critical.identity")?.to_string(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    pub(crate) fn key_pair() -> (SigningKey, String) {
        let signing = SigningKey::random(&mut rand::rngs::OsRng);
        let pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (signing, pem)
    }

    pub(crate) fn payload(digest: &str, reference: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": PAYLOAD_TYPE,
            },
            "optional": {"creator": "rpod tests", "timestamp": 1764547200},
        }))
        .unwrap()
    }

    pub(crate) fn signed(key: &SigningKey, payload: Vec<u8>) -> Attachment {
        let signature: DerSignature = key.sign(&payload);
        let encoded = base64::engine::general_purpose::STANDARD.encode(signature.as_bytes());
        Attachment {
            media_type: SIGNATURE_MEDIA_TYPE.into(),
            payload,
            annotations: HashMap::from([(SIGNATURE_ANNOTATION.to_string(), encoded)]),
        }
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_cosign_key_file_signs_what_its_public_key_verifies() {
        let (key, pem) = key_pair();
        let file = rpod_test_support::cosign_key_file(&key, b"s3cret", 15);
        let opened = private_key(file.as_bytes(), b"s3cret").unwrap();
        let attachment = sign(&opened, DIGEST, "r.io/app:1");
        let claim = verify(&[public_key(pem.as_bytes()).unwrap()], &attachment).unwrap();
        assert_eq!(claim.reference, "r.io/app:1");
        let err = private_key(file.as_bytes(), b"wrong").unwrap_err();
        assert!(err.contains("wrong passphrase"), "{err}");
        // A cost no writer of the format uses is refused before any work.
        let costly = rpod_test_support::cosign_key_file(&key, b"s3cret", 10);
        assert!(private_key(costly.as_bytes(), b"s3cret")
            .unwrap_err()
            .contains("scrypt parameters"));
        assert!(private_key(pem.as_bytes(), b"")
            .unwrap_err()
            .contains("PEM type"));
        assert!(private_key(b"junk", b"").is_err());
    }

    #[test]
    fn a_signature_by_a_trusted_key_gives_its_claim() {
        let (signing, pem) = key_pair();
        let key = public_key(pem.as_bytes()).unwrap();
        let attachment = signed(&signing, payload(DIGEST, "r.io/app:1"));
        let claim = verify(&[key], &attachment).unwrap();
        assert_eq!(claim.manifest_digest, DIGEST);
        assert_eq!(claim.reference, "r.io/app:1");
    }

    #[test]
    fn another_key_a_changed_payload_or_a_broken_signature_is_refused() {
        let (signing, _) = key_pair();
        let (_, other_pem) = key_pair();
        let other = public_key(other_pem.as_bytes()).unwrap();
        let attachment = signed(&signing, payload(DIGEST, "r.io/app:1"));
        let err = verify(std::slice::from_ref(&other), &attachment).unwrap_err();
        assert!(err.contains("no trusted key"), "{err}");

        let mut changed = attachment.clone();
        changed.payload = payload(DIGEST, "r.io/evil:1");
        let right = VerifyingKey::from(&signing);
        assert!(verify(std::slice::from_ref(&right), &changed).is_err());

        let mut garbled = attachment.clone();
        garbled
            .annotations
            .insert(SIGNATURE_ANNOTATION.into(), "not base64!".into());
        assert!(verify(std::slice::from_ref(&right), &garbled)
            .unwrap_err()
            .contains("base64"));
        garbled.annotations.clear();
        assert!(verify(&[right], &garbled).unwrap_err().contains("missing"));
    }

    #[test]
    fn payloads_are_read_strictly() {
        let (signing, pem) = key_pair();
        let key = public_key(pem.as_bytes()).unwrap();
        let sign_value = |value: serde_json::Value| {
            verify(
                std::slice::from_ref(&key),
                &signed(&signing, serde_json::to_vec(&value).unwrap()),
            )
        };
        let good = serde_json::json!({"critical": {"identity": {"docker-reference": "a"},
            "image": {"docker-manifest-digest": DIGEST}, "type": PAYLOAD_TYPE}, "optional": null});
        assert!(sign_value(good.clone()).is_ok());
        let mut extra = good.clone();
        extra["critical"]["extra"] = "x".into();
        assert!(sign_value(extra).unwrap_err().contains("unknown field"));
        let mut kind = good.clone();
        kind["critical"]["type"] = "atomic container signature".into();
        assert!(sign_value(kind).unwrap_err().contains("signature type"));
        let mut digest = good.clone();
        digest["critical"]["image"]["docker-manifest-digest"] = "sha256:12".into();
        assert!(sign_value(digest).unwrap_err().contains("digest"));
        let mut stamp = good.clone();
        stamp["optional"] = serde_json::json!({"timestamp": 1.5});
        assert!(sign_value(stamp).unwrap_err().contains("timestamp"));
        let mut missing = good;
        missing["critical"]
            .as_object_mut()
            .unwrap()
            .remove("identity");
        assert!(sign_value(missing).unwrap_err().contains("lacks"));
    }

    #[test]
    fn keys_other_than_p256_pem_are_refused_and_tags_are_named_by_digest() {
        assert!(
            public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err()
        );
        assert!(public_key(b"garbage").is_err());
        assert_eq!(attachment_tag("sha256:abc"), "sha256-abc.sig");
    }
}
