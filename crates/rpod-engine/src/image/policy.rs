//! The signature policy of containers/image (`containers-policy.json(5)`): which images
//! may come into the store, by where they come from. podman applies it to every pull,
//! load and import, and so does rpod. The file is read as strictly as containers/image
//! reads it: an unknown field, requirement or identity rule refuses the whole file, and so
//! the operation.
//!
//! Requirements: `insecureAcceptAnything`; `reject`; `sigstoreSigned` with public keys
//! (cosign's signatures, fetched from the registry and verified here); `signedBy` (GPG
//! simple signing from the registry's lookaside store, verified by gpgv). `sigstoreSigned`
//! with Fulcio, PKI or Rekor is read but rpod cannot check it yet, so an image it applies
//! to is refused, saying so (never let through).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::reference::{Reference, DEFAULT_DOMAIN};
use super::sigstore::{self, Attachment};
use super::simple_signing;
use crate::{EngineError, Result};

/// The system's policy, podman's (containers-common's) file.
pub const SYSTEM_POLICY: &str = "/etc/containers/policy.json";

/// A parsed policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    default: Vec<Requirement>,
    /// Transport name → scope (`""`: the transport's default) → requirements.
    transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
}

/// One requirement of a scope; an image must satisfy all of its scope's.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    AcceptAnything,
    Reject,
    /// GPG simple signing, from the registry's lookaside store, checked by gpgv.
    SignedBy(SignedByRequirement),
    SigstoreSigned(SigstoreRequirement),
}

/// `signedBy`: a GPG signature by a key of `keys` (keyrings), claiming an identity
/// `identity` accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedByRequirement {
    keys: Vec<KeySource>,
    identity: SignedIdentity,
}

/// `sigstoreSigned`: a cosign signature by one of `keys`, claiming an identity `identity`
/// accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct SigstoreRequirement {
    keys: Vec<KeySource>,
    /// What the requirement asks that rpod cannot check (`fulcio`, `pki`, Rekor keys).
    unsupported: Option<&'static str>,
    identity: SignedIdentity,
}

#[derive(Debug, Clone, PartialEq)]
enum KeySource {
    Path(PathBuf),
    Data(Vec<u8>),
}

/// Which references a signature may claim for the image (`signedIdentity`).
#[derive(Debug, Clone, PartialEq)]
pub enum SignedIdentity {
    MatchExact,
    MatchRepoDigestOrExact,
    MatchRepository,
    ExactReference(Named),
    ExactRepository(Named),
    RemapIdentity {
        prefix: String,
        signed_prefix: String,
    },
}

/// A reference in containers/image's normalised form: `busybox` is
/// `docker.io/library/busybox`, with the tag or digest only when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// `host/path`.
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Named {
    pub fn parse(text: &str) -> Option<Named> {
        let reference = Reference::parse(text).ok()?;
        Some(Named::from_reference(&reference, DEFAULT_DOMAIN))
    }

    /// `reference` as pulled from `registry`: without a tag or digest it means `latest`.
    pub fn pulled(reference: &Reference, registry: &str) -> Named {
        let mut named = Named::from_reference(reference, registry);
        if named.tag.is_none() && named.digest.is_none() {
            named.tag = Some(super::reference::DEFAULT_TAG.to_string());
        }
        named
    }

    fn from_reference(reference: &Reference, registry: &str) -> Named {
        let (domain, path) = reference.repository(registry);
        Named {
            name: format!("{domain}/{path}"),
            tag: reference.tag.clone(),
            digest: reference.digest.clone(),
        }
    }

    fn name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The reference in full: `name[:tag][@digest]`.
    pub fn full(&self) -> String {
        let mut out = self.name.clone();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    /// The most specific scope: the repository with its digest, else its tag.
    pub(crate) fn scope(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => format!("{}@{digest}", self.name),
            (None, Some(tag)) => format!("{}:{tag}", self.name),
            (None, None) => self.name.clone(),
        }
    }

    /// The wider scopes, most specific first: the repository, each namespace above it,
    /// the registry, then `*.domain` for each parent domain of the host (port dropped).
    pub(crate) fn namespaces(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut name = self.name.as_str();
        loop {
            out.push(name.to_string());
            match name.rfind('/') {
                Some(slash) => name = &name[..slash],
                None => break,
            }
        }
        let mut host = name.split(':').next().unwrap_or(name);
        while let Some((_, parent)) = host.split_once('.') {
            out.push(format!("*.{parent}"));
            host = parent;
        }
        out
    }
}

/// Where an image comes from, as the policy tells transports and scopes apart.
pub enum Incoming<'a> {
    /// A registry (`docker:`): the reference pulled and the digest of the manifest it
    /// named (a list's, for a list).
    Registry {
        reference: &'a Named,
        manifest_digest: &'a str,
    },
    /// `load` of a docker-archive (only the transport's default scope applies).
    DockerArchive { origin: &'a str },
    /// `load` of an oci-archive: the archive's path, when it came from a file.
    OciArchive {
        origin: &'a str,
        path: Option<&'a Path>,
    },
    /// `import` of a root file system (containers/image's `tarball:`).
    Tarball { origin: &'a str },
    /// `load` of an OCI layout in a directory (containers/image's `oci:`).
    OciLayout { origin: &'a str, path: &'a Path },
    /// `load` of containers/image's `dir:` (a docker-dir; its path unless it came as a
    /// tar, from a remote client).
    Dir {
        origin: &'a str,
        path: Option<&'a Path>,
    },
}

impl Incoming<'_> {
    fn transport(&self) -> &'static str {
        match self {
            Incoming::Registry { .. } => "docker",
            Incoming::DockerArchive { .. } => "docker-archive",
            Incoming::OciArchive { .. } => "oci-archive",
            Incoming::Tarball { .. } => "tarball",
            Incoming::OciLayout { .. } => "oci",
            Incoming::Dir { .. } => "dir",
        }
    }

    /// The image as podman's messages name it (`docker://host/repo:tag`).
    fn image_name(&self) -> String {
        match self {
            Incoming::Registry { reference, .. } => format!("docker://{}", reference.full()),
            Incoming::DockerArchive { origin }
            | Incoming::OciArchive { origin, .. }
            | Incoming::Tarball { origin }
            | Incoming::OciLayout { origin, .. }
            | Incoming::Dir { origin, .. } => format!("{}:{origin}", self.transport()),
        }
    }

    /// Scopes to look up, most specific first (the transport's default comes after).
    fn scopes(&self) -> Vec<String> {
        match self {
            Incoming::Registry { reference, .. } => {
                let mut scopes = vec![reference.scope()];
                scopes.extend(reference.namespaces());
                scopes
            }
            Incoming::OciArchive {
                path: Some(path), ..
            }
            | Incoming::OciLayout { path, .. }
            | Incoming::Dir {
                path: Some(path), ..
            } => {
                // The resolved path (a scope names no symlinks), then its parent
                // directories; `/` itself is no scope.
                let Ok(resolved) = std::fs::canonicalize(path) else {
                    return Vec::new();
                };
                resolved
                    .ancestors()
                    .filter(|p| *p != Path::new("/"))
                    .map(|p| p.display().to_string())
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The policy file: `explicit`, else containers/image's own choice,
/// `$HOME/.config/containers/policy.json` when it exists, else the system's (which may not
/// exist).
pub fn path(explicit: Option<&Path>) -> PathBuf {
    crate::config::containers_path(explicit, ".config/containers/policy.json", SYSTEM_POLICY)
}

/// Why the policy refused an image (podman's words after "Source image rejected: ").
fn rejected(why: impl std::fmt::Display) -> EngineError {
    EngineError::PolicyRejected(why.to_string())
}

impl Policy {
    /// A policy letting everything in (what rpod does without a policy file).
    pub fn accept_anything() -> Policy {
        Policy {
            default: vec![Requirement::AcceptAnything],
            transports: BTreeMap::new(),
        }
    }

    /// The policy in force: the file `explicit` names (which must exist), else the file
    /// `path` finds; without any file, everything is accepted.
    pub fn load(explicit: Option<&Path>) -> Result<Policy> {
        if let Some(path) = explicit {
            return Policy::read(path);
        }
        let path = path(None);
        match path.exists() {
            true => Policy::read(&path),
            false => Ok(Policy::accept_anything()),
        }
    }

    pub fn read(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EngineError::io("reading the signature policy", path, e))?;
        Policy::parse(&text).map_err(|e| {
            EngineError::InvalidArg(format!("invalid signature policy {}: {e}", path.display()))
        })
    }

    pub fn parse(text: &str) -> std::result::Result<Policy, String> {
        // containers/image refuses a key given twice in one object; a `Value` would keep
        // the last silently.
        serde_json::from_str::<NoDuplicateKeys>(text).map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let top = object(&value, "the policy")?;
        only_fields(top, &["default", "transports"], "the policy")?;
        let default = requirements(
            top.get("default")
                .ok_or("the policy has no \"default\" requirements")?,
            "default",
        )?;
        let mut transports = BTreeMap::new();
        if let Some(all) = top.get("transports").filter(|v| !v.is_null()) {
            for (transport, scopes) in object(all, "transports")? {
                let mut parsed = BTreeMap::new();
                for (scope, list) in object(scopes, &format!("transports.{transport}"))? {
                    let what = format!("transports.{transport}.{scope:?}");
                    parsed.insert(scope.clone(), requirements(list, &what)?);
                }
                transports.insert(transport.clone(), parsed);
            }
        }
        Ok(Policy {
            default,
            transports,
        })
    }

    /// The global default requirements.
    pub fn default_requirements(&self) -> &[Requirement] {
        &self.default
    }

    /// Every scope the policy names: transport, scope (`""`: the transport's default) and
    /// its requirements, by transport and scope.
    pub fn scopes(&self) -> impl Iterator<Item = (&str, &str, &[Requirement])> {
        self.transports.iter().flat_map(|(transport, scopes)| {
            scopes
                .iter()
                .map(move |(scope, list)| (transport.as_str(), scope.as_str(), list.as_slice()))
        })
    }

    /// The requirements for `image`: its transport's most specific scope that the policy
    /// names, else the transport's default, else the global default.
    pub fn requirements_for(&self, image: &Incoming<'_>) -> &[Requirement] {
        if let Some(scopes) = self.transports.get(image.transport()) {
            for scope in image.scopes() {
                if let Some(found) = scopes.get(&scope) {
                    return found;
                }
            }
            if let Some(found) = scopes.get("") {
                return found;
            }
        }
        &self.default
    }

    /// Whether `image` may come in: every requirement of its scope must accept it.
    /// `signatures` fetches the image's signatures of each kind, once at most and only
    /// when a requirement needs them.
    pub fn check(&self, image: &Incoming<'_>, signatures: &mut dyn SignatureSource) -> Result<()> {
        let mut attachments: Option<Vec<Attachment>> = None;
        let mut gpg_signatures: Option<Vec<Vec<u8>>> = None;
        for requirement in self.requirements_for(image) {
            let (reference, manifest_digest) = match (requirement, image) {
                (Requirement::AcceptAnything, _) => continue,
                (Requirement::Reject, _) => {
                    return Err(rejected(format!(
                        "Running image {} is rejected by policy.",
                        image.image_name()
                    )))
                }
                (
                    Requirement::SigstoreSigned(SigstoreRequirement {
                        unsupported: Some(what),
                        ..
                    }),
                    _,
                ) => {
                    return Err(rejected(format!(
                        "{}: the signature policy requires a sigstore signature checked with {what}, which rpod cannot verify yet (only public keys)",
                        image.image_name()
                    )));
                }
                (
                    _,
                    Incoming::Registry {
                        reference,
                        manifest_digest,
                    },
                ) => (*reference, *manifest_digest),
                // Archives and root file systems carry no signatures at all.
                _ => return Err(rejected(NO_SIGNATURE)),
            };
            match requirement {
                Requirement::SigstoreSigned(wanted) => {
                    if attachments.is_none() {
                        attachments = Some(signatures.sigstore()?);
                    }
                    let found = attachments.as_deref().unwrap_or_default();
                    let keys = wanted.public_keys()?;
                    let payloads: Vec<&Attachment> = found
                        .iter()
                        .filter(|a| a.media_type == sigstore::SIGNATURE_MEDIA_TYPE)
                        .collect();
                    let verdicts = payloads.iter().map(|a| sigstore::verify(&keys, a));
                    let none = match found.len() {
                        0 => NO_SIGNATURE.to_string(),
                        n => format!("{NO_SIGNATURE} ({n} sigstore non-signature attachments)"),
                    };
                    wanted
                        .identity
                        .first_accepted(reference, manifest_digest, verdicts, none)?;
                }
                Requirement::SignedBy(wanted) => {
                    if gpg_signatures.is_none() {
                        gpg_signatures = Some(signatures.simple()?);
                    }
                    let found = gpg_signatures.as_deref().unwrap_or_default();
                    let keyrings = wanted.keyrings()?;
                    let verdicts = found
                        .iter()
                        .map(|signature| simple_signing::verify(&keyrings, signature));
                    wanted.identity.first_accepted(
                        reference,
                        manifest_digest,
                        verdicts,
                        NO_SIGNATURE.to_string(),
                    )?;
                }
                Requirement::AcceptAnything | Requirement::Reject => {}
            }
        }
        Ok(())
    }
}

/// podman's words when an image has no signature a requirement could look at.
const NO_SIGNATURE: &str = "A signature was required, but no signature exists";

/// The signatures an image brings, each kind fetched only when a requirement asks.
pub trait SignatureSource {
    /// cosign's signature attachments (a registry's artifact beside the image).
    fn sigstore(&mut self) -> Result<Vec<Attachment>>;
    /// GPG simple signing signatures (a registry's lookaside store).
    fn simple(&mut self) -> Result<Vec<Vec<u8>>>;
}

/// What archives and root file systems bring: no signatures.
pub struct Unsigned;

/// A JSON document walked only to refuse an object that names a key twice. (serde_json
/// has no such option, and no maintained crate checks this.)
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Walk;
        impl<'de> serde::de::Visitor<'de> for Walk {
            type Value = NoDuplicateKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
                Ok(NoDuplicateKeys)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut seen = std::collections::BTreeSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "the key {key:?} is given twice in one object"
                        )));
                    }
                    map.next_value::<NoDuplicateKeys>()?;
                }
                Ok(NoDuplicateKeys)
            }
        }
        deserializer.deserialize_any(Walk)
    }
}

impl SignatureSource for Unsigned {
    fn sigstore(&mut self) -> Result<Vec<Attachment>> {
        Ok(Vec::new())
    }
    fn simple(&mut self) -> Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }
}

/// Read a key or keyring of the policy (a file or inline data).
fn key_bytes(source: &KeySource, index: usize) -> Result<(Vec<u8>, String)> {
    match source {
        KeySource::Path(path) => Ok((
            std::fs::read(path)
                .map_err(|e| EngineError::io("reading a key of the signature policy", path, e))?,
            path.display().to_string(),
        )),
        KeySource::Data(data) => Ok((data.clone(), format!("keyData {}", index + 1))),
    }
}

impl SignedByRequirement {
    fn keyrings(&self) -> Result<Vec<Vec<u8>>> {
        self.keys
            .iter()
            .enumerate()
            .map(|(index, source)| key_bytes(source, index).map(|(bytes, _)| bytes))
            .collect()
    }

    /// The keyring files named (for `image trust show`).
    pub fn keyring_paths(&self) -> Vec<PathBuf> {
        self.keys
            .iter()
            .filter_map(|k| match k {
                KeySource::Path(path) => Some(path.clone()),
                KeySource::Data(_) => None,
            })
            .collect()
    }
}

impl SigstoreRequirement {
    fn public_keys(&self) -> Result<Vec<p256::ecdsa::VerifyingKey>> {
        self.keys
            .iter()
            .enumerate()
            .map(|(index, source)| {
                let (pem, origin) = key_bytes(source, index)?;
                sigstore::public_key(&pem).map_err(|e| {
                    EngineError::InvalidArg(format!("signature policy: public key {origin}: {e}"))
                })
            })
            .collect()
    }
}

impl SignedIdentity {
    /// Accept when one of `verdicts` (each signature's verification and claim) is good,
    /// claims `manifest_digest` and an identity this accepts for `image`; otherwise say
    /// why, podman's way (`none` when there was no signature to look at).
    fn first_accepted(
        &self,
        image: &Named,
        manifest_digest: &str,
        verdicts: impl Iterator<Item = std::result::Result<sigstore::Claim, String>>,
        none: String,
    ) -> Result<()> {
        let mut reasons = Vec::new();
        for verdict in verdicts {
            let verdict = verdict.and_then(|claim| {
                if !claim.manifest_digest.eq_ignore_ascii_case(manifest_digest) {
                    return Err(format!(
                        "Signature for digest {} does not match",
                        claim.manifest_digest
                    ));
                }
                if !self.accepts(image, &claim.reference) {
                    return Err(format!(
                        "Signature for identity {:?} is not accepted",
                        claim.reference
                    ));
                }
                Ok(())
            });
            match verdict {
                Ok(()) => return Ok(()),
                Err(reason) => reasons.push(reason),
            }
        }
        Err(rejected(match reasons.len() {
            0 => none,
            1 => reasons.remove(0),
            _ => format!(
                "None of the signatures were accepted, reasons: {}",
                reasons.join("; ")
            ),
        }))
    }

    /// Whether a signature claiming `signed` (as written in it) may stand for `image`.
    fn accepts(&self, image: &Named, signed: &str) -> bool {
        let Some(signed) = Named::parse(signed) else {
            return false;
        };
        match self {
            SignedIdentity::MatchExact => {
                !image.name_only() && !signed.name_only() && image.full() == signed.full()
            }
            SignedIdentity::MatchRepoDigestOrExact => repo_digest_or_exact(image, &signed),
            SignedIdentity::MatchRepository => image.name == signed.name,
            SignedIdentity::ExactReference(wanted) => {
                !signed.name_only() && wanted.full() == signed.full()
            }
            SignedIdentity::ExactRepository(wanted) => wanted.name == signed.name,
            SignedIdentity::RemapIdentity {
                prefix,
                signed_prefix,
            } => {
                let under_prefix = image.name == *prefix
                    || image
                        .name
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'));
                if !under_prefix {
                    return repo_digest_or_exact(image, &signed);
                }
                let remapped = image.full().replacen(prefix.as_str(), signed_prefix, 1);
                match Named::parse(&remapped) {
                    Some(remapped) => repo_digest_or_exact(&remapped, &signed),
                    None => false,
                }
            }
        }
    }
}

/// `matchRepoDigestOrExact`: an image pulled by tag needs a signature for exactly that
/// tag; one pulled by digest (already checked against it), any of its repository's.
fn repo_digest_or_exact(image: &Named, signed: &Named) -> bool {
    if signed.name_only() {
        return false;
    }
    if image.tag.is_some() {
        return image.full() == signed.full();
    }
    image.digest.is_some() && image.name == signed.name
}

fn object<'a>(value: &'a Value, what: &str) -> std::result::Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{what} is not a JSON object"))
}

fn only_fields(
    object: &Map<String, Value>,
    fields: &[&str],
    what: &str,
) -> std::result::Result<(), String> {
    match object.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(unknown) => Err(format!("{what}: unknown field {unknown:?}")),
        None => Ok(()),
    }
}

fn string_field(
    object: &Map<String, Value>,
    field: &str,
    what: &str,
) -> std::result::Result<Option<String>, String> {
    match object.get(field) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("{what}: {field} is not a string")),
    }
}

fn string_list(
    object: &Map<String, Value>,
    field: &str,
    what: &str,
) -> std::result::Result<Option<Vec<String>>, String> {
    match object.get(field) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what}: {field} holds something other than strings"))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{what}: {field} is not a list")),
    }
}

/// JSON byte strings are base64, as Go writes `[]byte`.
fn decoded(text: &str, field: &str, what: &str) -> std::result::Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("{what}: {field} is not base64: {e}"))
}

fn requirements(value: &Value, what: &str) -> std::result::Result<Vec<Requirement>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("{what}: the requirements are not a list"))?;
    if items.is_empty() {
        return Err(format!(
            "{what}: the list of requirements must not be empty (use insecureAcceptAnything)"
        ));
    }
    items.iter().map(|item| requirement(item, what)).collect()
}

fn requirement(value: &Value, what: &str) -> std::result::Result<Requirement, String> {
    let fields = object(value, what)?;
    let kind = string_field(fields, "type", what)?
        .ok_or_else(|| format!("{what}: a requirement without a type"))?;
    match kind.as_str() {
        "insecureAcceptAnything" => {
            only_fields(fields, &["type"], what)?;
            Ok(Requirement::AcceptAnything)
        }
        "reject" => {
            only_fields(fields, &["type"], what)?;
            Ok(Requirement::Reject)
        }
        "signedBy" => {
            only_fields(
                fields,
                &[
                    "type",
                    "keyType",
                    "keyPath",
                    "keyPaths",
                    "keyData",
                    "signedIdentity",
                ],
                what,
            )?;
            match string_field(fields, "keyType", what)?.as_deref() {
                Some("GPGKeys") => {}
                Some(other) => return Err(format!("{what}: unknown keyType {other:?}")),
                None => return Err(format!("{what}: signedBy needs a keyType")),
            }
            let sources = ["keyPath", "keyPaths", "keyData"]
                .iter()
                .filter(|f| fields.contains_key(**f))
                .count();
            if sources != 1 {
                return Err(format!(
                    "{what}: signedBy needs exactly one of keyPath, keyPaths and keyData"
                ));
            }
            let mut keys: Vec<KeySource> = string_list(fields, "keyPaths", what)?
                .unwrap_or_default()
                .into_iter()
                .map(|p| KeySource::Path(p.into()))
                .collect();
            keys.extend(string_field(fields, "keyPath", what)?.map(|p| KeySource::Path(p.into())));
            if let Some(data) = string_field(fields, "keyData", what)? {
                keys.push(KeySource::Data(decoded(&data, "keyData", what)?));
            }
            if keys.is_empty() {
                return Err(format!("{what}: signedBy lists no keyring"));
            }
            Ok(Requirement::SignedBy(SignedByRequirement {
                keys,
                identity: signed_identity(fields.get("signedIdentity"), what)?,
            }))
        }
        "sigstoreSigned" => sigstore_requirement(fields, what).map(Requirement::SigstoreSigned),
        other => Err(format!("{what}: unknown policy requirement type {other:?}")),
    }
}

fn sigstore_requirement(
    fields: &Map<String, Value>,
    what: &str,
) -> std::result::Result<SigstoreRequirement, String> {
    only_fields(
        fields,
        &[
            "type",
            "keyPath",
            "keyPaths",
            "keyData",
            "keyDatas",
            "fulcio",
            "pki",
            "rekorPublicKeyPath",
            "rekorPublicKeyPaths",
            "rekorPublicKeyData",
            "rekorPublicKeyDatas",
            "signedIdentity",
        ],
        what,
    )?;
    let mut keys = Vec::new();
    let mut key_fields = 0;
    if let Some(path) = string_field(fields, "keyPath", what)? {
        key_fields += 1;
        keys.push(KeySource::Path(path.into()));
    }
    if let Some(paths) = string_list(fields, "keyPaths", what)? {
        key_fields += 1;
        keys.extend(paths.into_iter().map(|p| KeySource::Path(p.into())));
    }
    if let Some(data) = string_field(fields, "keyData", what)? {
        key_fields += 1;
        keys.push(KeySource::Data(decoded(&data, "keyData", what)?));
    }
    if let Some(datas) = string_list(fields, "keyDatas", what)? {
        key_fields += 1;
        for data in datas {
            keys.push(KeySource::Data(decoded(&data, "keyDatas", what)?));
        }
    }
    if key_fields > 1 {
        return Err(format!(
            "{what}: sigstoreSigned takes one of keyPath, keyPaths, keyData and keyDatas"
        ));
    }
    let certificates = ["fulcio", "pki"]
        .iter()
        .filter(|f| fields.contains_key(**f))
        .count();
    if key_fields + certificates != 1 {
        return Err(format!(
            "{what}: sigstoreSigned needs exactly one of public keys, fulcio and pki"
        ));
    }
    if key_fields == 1 && keys.is_empty() {
        return Err(format!("{what}: sigstoreSigned lists no public key"));
    }
    let rekor = [
        "rekorPublicKeyPath",
        "rekorPublicKeyPaths",
        "rekorPublicKeyData",
        "rekorPublicKeyDatas",
    ]
    .iter()
    .any(|f| fields.contains_key(*f));
    let unsupported = if fields.contains_key("fulcio") {
        Some("Fulcio certificates")
    } else if fields.contains_key("pki") {
        Some("PKI certificates")
    } else if rekor {
        Some("a Rekor log")
    } else {
        None
    };
    Ok(SigstoreRequirement {
        keys,
        unsupported,
        identity: signed_identity(fields.get("signedIdentity"), what)?,
    })
}

fn signed_identity(
    value: Option<&Value>,
    what: &str,
) -> std::result::Result<SignedIdentity, String> {
    let Some(value) = value else {
        return Ok(SignedIdentity::MatchRepoDigestOrExact);
    };
    let what = format!("{what}: signedIdentity");
    let fields = object(value, &what)?;
    let kind = string_field(fields, "type", &what)?.ok_or_else(|| format!("{what} has no type"))?;
    let reference = |field: &str| -> std::result::Result<Named, String> {
        let text = string_field(fields, field, &what)?
            .ok_or_else(|| format!("{what}: {kind} needs {field}"))?;
        Named::parse(&text).ok_or_else(|| format!("{what}: invalid {field} {text:?}"))
    };
    match kind.as_str() {
        "matchExact" | "matchRepoDigestOrExact" | "matchRepository" => {
            only_fields(fields, &["type"], &what)?;
            Ok(match kind.as_str() {
                "matchExact" => SignedIdentity::MatchExact,
                "matchRepository" => SignedIdentity::MatchRepository,
                _ => SignedIdentity::MatchRepoDigestOrExact,
            })
        }
        "exactReference" => {
            only_fields(fields, &["type", "dockerReference"], &what)?;
            let wanted = reference("dockerReference")?;
            if wanted.name_only() {
                return Err(format!("{what}: dockerReference needs a tag or digest"));
            }
            Ok(SignedIdentity::ExactReference(wanted))
        }
        "exactRepository" => {
            only_fields(fields, &["type", "dockerRepository"], &what)?;
            Ok(SignedIdentity::ExactRepository(reference(
                "dockerRepository",
            )?))
        }
        "remapIdentity" => {
            only_fields(fields, &["type", "prefix", "signedPrefix"], &what)?;
            let prefix = |field: &str| -> std::result::Result<String, String> {
                let text = string_field(fields, field, &what)?
                    .ok_or_else(|| format!("{what}: remapIdentity needs {field}"))?;
                check_prefix(&text).map_err(|e| format!("{what}: {field} {text:?}: {e}"))?;
                Ok(text)
            };
            Ok(SignedIdentity::RemapIdentity {
                prefix: prefix("prefix")?,
                signed_prefix: prefix("signedPrefix")?,
            })
        }
        other => Err(format!("{what}: unknown type {other:?}")),
    }
}

/// A `remapIdentity` prefix: a registry host, or a namespace or repository with its
/// registry (no tag or digest).
fn check_prefix(text: &str) -> std::result::Result<(), String> {
    let valid = match text.contains('/') {
        true => Reference::parse(text)
            .is_ok_and(|r| r.domain.is_some() && r.tag.is_none() && r.digest.is_none()),
        false => {
            Reference::parse(&format!("{text}/x")).is_ok_and(|r| r.domain.as_deref() == Some(text))
        }
    };
    match valid {
        true => Ok(()),
        false => Err(
            "not a registry, namespace or repository with its registry (and no tag or digest)"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::sigstore::tests::{key_pair, payload, signed};

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn named(text: &str) -> Named {
        let reference = Reference::parse(text).unwrap();
        Named::pulled(&reference, DEFAULT_DOMAIN)
    }

    /// A source no requirement should ask.
    struct NeverAsked;

    impl SignatureSource for NeverAsked {
        fn sigstore(&mut self) -> Result<Vec<Attachment>> {
            panic!("no signature should be fetched")
        }
        fn simple(&mut self) -> Result<Vec<Vec<u8>>> {
            panic!("no signature should be fetched")
        }
    }

    /// A source with the given signatures, counting how often each kind is asked for.
    #[derive(Default)]
    struct Fixed {
        attachments: Vec<Attachment>,
        gpg: Vec<Vec<u8>>,
        calls: (usize, usize),
    }

    impl SignatureSource for Fixed {
        fn sigstore(&mut self) -> Result<Vec<Attachment>> {
            self.calls.0 += 1;
            Ok(self.attachments.clone())
        }
        fn simple(&mut self) -> Result<Vec<Vec<u8>>> {
            self.calls.1 += 1;
            Ok(self.gpg.clone())
        }
    }

    fn registry_check(policy: &Policy, image: &str) -> Result<()> {
        let reference = named(image);
        policy.check(
            &Incoming::Registry {
                reference: &reference,
                manifest_digest: DIGEST,
            },
            &mut NeverAsked,
        )
    }

    #[test]
    fn a_key_given_twice_refuses_the_file() {
        // The second "r.io" would otherwise quietly replace the first's reject.
        for text in [
            r#"{"default": [{"type": "reject"}], "transports": {"docker": {
                "r.io": [{"type": "reject"}], "r.io": [{"type": "insecureAcceptAnything"}]}}}"#,
            r#"{"default": [{"type": "reject"}], "default": [{"type": "insecureAcceptAnything"}]}"#,
            r#"{"default": [{"type": "reject", "type": "insecureAcceptAnything"}]}"#,
        ] {
            let err = Policy::parse(text).unwrap_err();
            assert!(err.contains("given twice"), "{text}: {err}");
        }
        assert!(Policy::parse(r#"{"default": [{"type": "reject"}], "transports": {"docker": {"a": [{"type": "reject"}]}, "atomic": {"a": [{"type": "reject"}]}}}"#).is_ok());
    }

    #[test]
    fn the_most_specific_scope_wins() {
        let policy = Policy::parse(
            r#"{"default": [{"type": "reject"}],
                "transports": {"docker": {
                    "": [{"type": "reject"}],
                    "r.io": [{"type": "insecureAcceptAnything"}],
                    "r.io/team": [{"type": "reject"}],
                    "r.io/team/app:1": [{"type": "insecureAcceptAnything"}],
                    "*.example.com": [{"type": "insecureAcceptAnything"}],
                    "docker.io/library/busybox": [{"type": "insecureAcceptAnything"}]
                }, "docker-archive": {"": [{"type": "insecureAcceptAnything"}]}}}"#,
        )
        .unwrap();
        assert!(registry_check(&policy, "r.io/other:1").is_ok());
        assert!(registry_check(&policy, "r.io/team/app:2").is_err());
        assert!(registry_check(&policy, "r.io/team/app:1").is_ok());
        assert!(registry_check(&policy, "busybox").is_ok());
        assert!(registry_check(&policy, "alpine").is_err());
        assert!(registry_check(&policy, "a.b.example.com:5000/x/y").is_ok());
        assert!(registry_check(&policy, "example.com/x").is_err());
        let err = registry_check(&policy, "quay.io/x/y:2")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Source image rejected: Running image docker://quay.io/x/y:2 is rejected by policy."
        );
        let archive = Incoming::DockerArchive { origin: "/a.tar" };
        assert!(policy.check(&archive, &mut NeverAsked).is_ok());
        let tarball = Incoming::Tarball { origin: "/a.tar" };
        assert!(policy.check(&tarball, &mut NeverAsked).is_err());
    }

    #[test]
    fn oci_archives_are_scoped_by_their_resolved_path_and_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.tar");
        std::fs::write(&archive, "x").unwrap();
        let link = dir.path().join("link.tar");
        std::os::unix::fs::symlink(&archive, &link).unwrap();
        let resolved = std::fs::canonicalize(dir.path()).unwrap();
        let policy = Policy::parse(&format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"oci-archive": {{
                "{}": [{{"type": "insecureAcceptAnything"}}]}}}}}}"#,
            resolved.display()
        ))
        .unwrap();
        let check = |path: &Path| {
            policy.check(
                &Incoming::OciArchive {
                    origin: "x",
                    path: Some(path),
                },
                &mut NeverAsked,
            )
        };
        assert!(check(&archive).is_ok());
        assert!(check(&link).is_ok());
        assert!(check(Path::new("/tmp")).is_err());
        let stdin = Incoming::OciArchive {
            origin: "-",
            path: None,
        };
        assert!(policy.check(&stdin, &mut NeverAsked).is_err());
    }

    #[test]
    fn image_directories_are_scoped_by_their_paths() {
        let dir = tempfile::tempdir().unwrap();
        let resolved = std::fs::canonicalize(dir.path()).unwrap();
        let policy = Policy::parse(&format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{
                "oci": {{"{0}": [{{"type": "insecureAcceptAnything"}}]}},
                "dir": {{"{0}": [{{"type": "insecureAcceptAnything"}}]}}}}}}"#,
            resolved.display()
        ))
        .unwrap();
        let inside = dir.path().join("image");
        std::fs::create_dir(&inside).unwrap();
        let check = |incoming: Incoming<'_>| policy.check(&incoming, &mut NeverAsked);
        assert!(check(Incoming::OciLayout {
            origin: "x",
            path: &inside
        })
        .is_ok());
        assert!(check(Incoming::Dir {
            origin: "x",
            path: Some(&inside)
        })
        .is_ok());
        assert!(check(Incoming::OciLayout {
            origin: "x",
            path: Path::new("/tmp")
        })
        .is_err());
        // A docker-dir sent as a tar has no path: only the transport's default scope.
        assert!(check(Incoming::Dir {
            origin: "x",
            path: None
        })
        .is_err());
    }

    #[test]
    fn files_are_read_strictly() {
        for bad in [
            r#"{}"#,
            r#"{"default": []}"#,
            r#"{"default": [{"type": "acceptAll"}]}"#,
            r#"{"default": [{"type": "reject", "extra": 1}]}"#,
            r#"{"default": [{"type": "reject"}], "other": 1}"#,
            r#"{"default": [{"type": "signedBy", "keyPath": "/k"}]}"#,
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "keyData": "AA=="}]}"#,
            r#"{"default": [{"type": "sigstoreSigned"}]}"#,
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/k", "fulcio": {}}]}"#,
            r#"{"default": [{"type": "sigstoreSigned", "keyData": "not base64"}]}"#,
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/k", "signedIdentity": {"type": "matchAll"}}]}"#,
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/k", "signedIdentity": {"type": "exactReference", "dockerReference": "r.io/a"}}]}"#,
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/k", "signedIdentity": {"type": "remapIdentity", "prefix": "r.io/a:1", "signedPrefix": "s.io"}}]}"#,
            r#"{"default": [{"type": "reject"}], "transports": {"docker": {"r.io": []}}}"#,
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad}");
        }
        let good = Policy::parse(
            r#"{"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {
                "r.io:5000/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": [{"type": "reject"}],
                "*.r.io": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": ["/k"],
                    "signedIdentity": {"type": "remapIdentity", "prefix": "r.io", "signedPrefix": "s.io/mirror"}}],
                "docker.io": [{"type": "sigstoreSigned", "keyDatas": ["AA=="],
                    "signedIdentity": {"type": "exactRepository", "dockerRepository": "docker.io/library/x"}}]
            }, "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}}}"#,
        );
        assert!(good.is_ok(), "{good:?}");
    }

    #[test]
    fn what_rpod_cannot_check_and_archives_needing_signatures_are_refused() {
        let policy = Policy::parse(
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "AA=="}],
                "transports": {"docker": {"r.io": [{"type": "sigstoreSigned",
                    "fulcio": {"caPath": "/ca", "oidcIssuer": "https://i", "subjectEmail": "a@b"},
                    "rekorPublicKeyPath": "/r"}]}}}"#,
        )
        .unwrap();
        // signedBy looks for GPG signatures (none here), never at cosign's.
        let reference = named("q.io/a");
        let mut source = Fixed::default();
        let err = policy
            .check(
                &Incoming::Registry {
                    reference: &reference,
                    manifest_digest: DIGEST,
                },
                &mut source,
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("no signature exists"), "{err}");
        assert_eq!(source.calls, (0, 1));
        let err = registry_check(&policy, "r.io/a").unwrap_err().to_string();
        assert!(err.contains("Fulcio"), "{err}");
        let tarball = Incoming::Tarball { origin: "a" };
        let err = policy
            .check(&tarball, &mut NeverAsked)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no signature exists"), "{err}");
    }

    fn signed_policy(pem: &str, identity: &str) -> Policy {
        let data = base64::engine::general_purpose::STANDARD.encode(pem);
        Policy::parse(&format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{"r.io": [
                {{"type": "sigstoreSigned", "keyData": "{data}"{identity}}}]}}}}}}"#
        ))
        .unwrap()
    }

    fn check_with(policy: &Policy, image: &str, found: Vec<Attachment>) -> Result<()> {
        let reference = named(image);
        let mut source = Fixed {
            attachments: found,
            ..Fixed::default()
        };
        let result = policy.check(
            &Incoming::Registry {
                reference: &reference,
                manifest_digest: DIGEST,
            },
            &mut source,
        );
        assert!(source.calls.0 <= 1 && source.calls.1 == 0);
        result
    }

    #[test]
    fn sigstore_signatures_must_be_trusted_and_name_this_manifest_and_reference() {
        let (key, pem) = key_pair();
        let (stranger, _) = key_pair();
        let policy = signed_policy(&pem, "");
        let good = signed(&key, payload(DIGEST, "r.io/app:1"));
        assert!(check_with(&policy, "r.io/app:1", vec![good.clone()]).is_ok());
        // The tag is part of the identity; by digest, any tag of the repository.
        let err = check_with(&policy, "r.io/app:2", vec![good.clone()]).unwrap_err();
        assert!(err.to_string().contains("identity"), "{err}");
        assert!(check_with(&policy, &format!("r.io/app@{DIGEST}"), vec![good.clone()]).is_ok());
        let other_digest = DIGEST.replace("0123", "9999");
        let moved = signed(&key, payload(&other_digest, "r.io/app:1"));
        let err = check_with(&policy, "r.io/app:1", vec![moved]).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        let forged = signed(&stranger, payload(DIGEST, "r.io/app:1"));
        let err = check_with(&policy, "r.io/app:1", vec![forged.clone()]).unwrap_err();
        assert!(err.to_string().contains("verification failed"), "{err}");
        // One good signature among bad ones is enough.
        assert!(check_with(&policy, "r.io/app:1", vec![forged.clone(), good]).is_ok());
        let err = check_with(&policy, "r.io/app:1", vec![]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Source image rejected: A signature was required, but no signature exists"
        );
        let mut attestation = forged;
        attestation.media_type = "application/vnd.in-toto+json".into();
        let err = check_with(&policy, "r.io/app:1", vec![attestation]).unwrap_err();
        assert!(err.to_string().contains("non-signature"), "{err}");
    }

    #[test]
    fn signed_identities_other_than_the_default() {
        let (key, pem) = key_pair();
        let signature = signed(&key, payload(DIGEST, "s.io/mirror/app:1"));
        let remap = signed_policy(
            &pem,
            r#", "signedIdentity": {"type": "remapIdentity", "prefix": "r.io", "signedPrefix": "s.io/mirror"}"#,
        );
        assert!(check_with(&remap, "r.io/app:1", vec![signature.clone()]).is_ok());
        assert!(check_with(&remap, "r.io/app:2", vec![signature.clone()]).is_err());
        let repository = signed_policy(
            &pem,
            r#", "signedIdentity": {"type": "exactRepository", "dockerRepository": "s.io/mirror/app"}"#,
        );
        assert!(check_with(&repository, "r.io/other:9", vec![signature.clone()]).is_ok());
        let exact = signed_policy(
            &pem,
            r#", "signedIdentity": {"type": "exactReference", "dockerReference": "s.io/mirror/app:2"}"#,
        );
        assert!(check_with(&exact, "r.io/app:1", vec![signature]).is_err());
        let short = signed(&key, payload(DIGEST, "r.io/app:latest"));
        let any_tag = signed_policy(&pem, r#", "signedIdentity": {"type": "matchRepository"}"#);
        assert!(check_with(&any_tag, "r.io/app:7", vec![short.clone()]).is_ok());
        let exactly = signed_policy(&pem, r#", "signedIdentity": {"type": "matchExact"}"#);
        assert!(check_with(&exactly, "r.io/app", vec![short.clone()]).is_ok());
        assert!(check_with(&exactly, &format!("r.io/app@{DIGEST}"), vec![short]).is_err());
    }

    #[test]
    fn a_key_that_cannot_be_read_is_an_error() {
        let policy = Policy::parse(
            r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/nonexistent/key.pub"}]}"#,
        )
        .unwrap();
        let (key, _) = key_pair();
        let err = check_with(
            &policy,
            "r.io/a:1",
            vec![signed(&key, payload(DIGEST, "r.io/a:1"))],
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/key.pub"), "{err}");
    }

    #[test]
    fn without_a_file_everything_is_accepted_and_a_named_file_must_exist() {
        assert!(Policy::load(Some(Path::new("/nonexistent/policy.json"))).is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        std::fs::write(&file, r#"{"default": [{"type": "reject"}]}"#).unwrap();
        let policy = Policy::load(Some(&file)).unwrap();
        assert!(registry_check(&policy, "r.io/a").is_err());
        std::fs::write(&file, "{").unwrap();
        let err = Policy::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("invalid signature policy"), "{err}");
        assert!(registry_check(&Policy::accept_anything(), "r.io/a").is_ok());
    }
}
