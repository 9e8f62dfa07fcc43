//! `image trust`: the signature policy file shown as podman lists it, and changed one
//! scope at a time (`trust set`), as podman's `image trust` does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::policy::{Policy, Requirement};
use super::reference::Reference;
use super::registries_d::Lookaside;
use crate::{EngineError, Result};

/// One line of `image trust show` (podman's JSON field names).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrustEntry {
    /// `all` (the default), `repository` (a registry's scope) or another transport.
    pub transport: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub repo_name: String,
    /// accept, reject, signed (GPG) or sigstoreSigned.
    #[serde(rename = "type")]
    pub kind: String,
    /// The keys' IDs (GPG), `N/A` for sigstore keys.
    #[serde(rename = "gpg_id", skip_serializing_if = "String::is_empty")]
    pub key_ids: String,
    /// Where the scope's GPG signatures are kept (registries.d's lookaside store).
    #[serde(rename = "sigstore", skip_serializing_if = "String::is_empty")]
    pub store: String,
}

/// The entries of `policy`: the default, the registries' scopes, then other transports';
/// the stores `lookaside` names for the default and the registries' scopes.
pub fn entries(policy: &Policy, lookaside: &Lookaside) -> Vec<TrustEntry> {
    let mut out = Vec::new();
    let mut push = |transport: &str, name: &str, repo_name: &str, list: &[Requirement]| {
        let store = match transport {
            "all" | "repository" => lookaside.store_of_scope(repo_name).unwrap_or_default(),
            _ => "",
        };
        for requirement in list {
            let (kind, key_ids) = match requirement {
                Requirement::AcceptAnything => ("accept", String::new()),
                Requirement::Reject => ("reject", String::new()),
                Requirement::SignedBy(wanted) => ("signed", gpg_key_ids(&wanted.keyring_paths())),
                Requirement::SigstoreSigned(_) => ("sigstoreSigned", "N/A".to_string()),
            };
            out.push(TrustEntry {
                transport: transport.to_string(),
                name: name.to_string(),
                repo_name: repo_name.to_string(),
                kind: kind.to_string(),
                key_ids,
                store: store.to_string(),
            });
        }
    };
    push(
        "all",
        "* (default)",
        "default",
        policy.default_requirements(),
    );
    for (_, scope, list) in policy.scopes().filter(|(t, _, _)| *t == "docker") {
        let scope = if scope.is_empty() {
            "* (docker)"
        } else {
            scope
        };
        push("repository", scope, scope, list);
    }
    for (transport, scope, list) in policy.scopes().filter(|(t, _, _)| *t != "docker") {
        push(transport, scope, scope, list);
    }
    out
}

/// The long IDs of the keys in GPG keyrings, as `gpg` lists them; none when `gpg` is
/// missing or cannot read a file (a listing only: nothing is decided by it).
fn gpg_key_ids(keyrings: &[PathBuf]) -> String {
    // gpg makes its home directory when it starts: a scratch one, not the user's.
    let Ok(home) = tempfile::tempdir() else {
        return String::new();
    };
    let mut ids = Vec::new();
    for keyring in keyrings {
        let Ok(out) = Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .args(["--batch", "--with-colons", "--show-keys"])
            .arg(keyring)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        ids.extend(
            text.lines()
                .filter(|line| line.starts_with("pub:"))
                .filter_map(|line| line.split(':').nth(4).map(str::to_string)),
        );
    }
    ids.join(", ")
}

/// What `image trust set --type` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustKind {
    Accept,
    Reject,
    SignedBy,
    SigstoreSigned,
}

impl std::str::FromStr for TrustKind {
    type Err = EngineError;
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "accept" => Ok(TrustKind::Accept),
            "reject" => Ok(TrustKind::Reject),
            "signedBy" => Ok(TrustKind::SignedBy),
            "sigstoreSigned" => Ok(TrustKind::SigstoreSigned),
            other => Err(EngineError::InvalidArg(format!(
                "invalid choice: {other} (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')"
            ))),
        }
    }
}

/// `image trust set`: give `scope` (`default`, or a registry, namespace or repository
/// the docker transport names) the requirement `kind` with `keys`, in the policy file at
/// `path`, keeping the rest of the file. As podman does, each key becomes a requirement of
/// its own (so each key must have signed), and a file is only created with a default.
pub fn set(path: &Path, scope: &str, kind: TrustKind, keys: &[PathBuf]) -> Result<()> {
    let keyed = matches!(kind, TrustKind::SignedBy | TrustKind::SigstoreSigned);
    if keyed && keys.is_empty() {
        return Err(EngineError::InvalidArg(format!(
            "at least one public key must be defined for type '{}'",
            kind_name(kind)
        )));
    }
    if !keyed && !keys.is_empty() {
        return Err(EngineError::InvalidArg(format!(
            "{} public keys unexpectedly provided for trust type {}",
            keys.len(),
            kind_name(kind)
        )));
    }
    if scope != "default" {
        check_scope(scope)?;
    }
    let mut requirements = Vec::new();
    for key in keys {
        let key = std::path::absolute(key)
            .map_err(|e| EngineError::io("finding the public key", key, e))?;
        if !key.is_file() {
            return Err(EngineError::InvalidArg(format!(
                "public key {}: no such file",
                key.display()
            )));
        }
        requirements.push(match kind {
            TrustKind::SignedBy => {
                json!({"type": "signedBy", "keyType": "GPGKeys", "keyPath": key})
            }
            _ => json!({"type": "sigstoreSigned", "keyPath": key}),
        });
    }
    if !keyed {
        requirements.push(json!({"type": kind_name(kind)}));
    }

    let mut document = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes).map_err(|e| {
            EngineError::InvalidArg(format!("invalid signature policy {}: {e}", path.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && scope == "default" => json!({}),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EngineError::InvalidArg(format!(
                "{} does not exist: the default trust policy must be set first (image trust set --type TYPE default)",
                path.display()
            )))
        }
        Err(e) => return Err(EngineError::io("reading the signature policy", path, e)),
    };
    let top = document.as_object_mut().ok_or_else(|| {
        EngineError::InvalidArg(format!(
            "invalid signature policy {}: not a JSON object",
            path.display()
        ))
    })?;
    if scope == "default" {
        top.insert("default".into(), Value::Array(requirements));
    } else {
        let transports = object_entry(top, "transports");
        let docker = transports
            .and_then(|t| object_entry(t, "docker"))
            .ok_or_else(|| {
                EngineError::InvalidArg(format!(
                    "invalid signature policy {}: transports is not a JSON object",
                    path.display()
                ))
            })?;
        docker.insert(scope.to_string(), Value::Array(requirements));
    }
    // What rpod writes, rpod must be able to read.
    let text = pretty(&document);
    Policy::parse(&text).map_err(|e| {
        EngineError::InvalidArg(format!(
            "the signature policy {} would not be valid: {e}",
            path.display()
        ))
    })?;
    write_replacing(path, text.as_bytes())
}

fn kind_name(kind: TrustKind) -> &'static str {
    match kind {
        TrustKind::Accept => "insecureAcceptAnything",
        TrustKind::Reject => "reject",
        TrustKind::SignedBy => "signedBy",
        TrustKind::SigstoreSigned => "sigstoreSigned",
    }
}

/// The object under `key` in `map`, made when missing; `None` when it is something else.
fn object_entry<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    map.entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// A registry scope: `*.domain`, `host[:port]`, or a namespace or repository below one.
fn check_scope(scope: &str) -> Result<()> {
    let probe = scope.strip_prefix("*.").unwrap_or(scope);
    let valid = match probe.contains('/') {
        _ if scope.starts_with("*.") && probe.contains(['/', ':', '*']) => false,
        true => Reference::parse(probe)
            .is_ok_and(|r| r.domain.is_some() && r.tag.is_none() && r.digest.is_none()),
        false => Reference::parse(&format!("{probe}/x"))
            .is_ok_and(|r| r.domain.as_deref() == Some(probe)),
    };
    match valid {
        true => Ok(()),
        false => Err(EngineError::InvalidArg(format!(
            "invalid registry scope {scope:?}: give default, a registry (HOST[:PORT], *.DOMAIN), or a namespace or repository below one"
        ))),
    }
}

/// JSON indented by four spaces, as podman writes the file.
fn pretty(value: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serializing a `Value` into memory cannot fail.
    let _ = value.serialize(&mut serializer);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    text.push('\n');
    text
}

/// Replace `path` whole: a new file beside it, renamed over it (a reader never sees half a
/// policy), keeping the old file's mode.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io("creating", dir, e))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| EngineError::io("writing the signature policy in", dir, e))?;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| std::os::unix::fs::PermissionsExt::from_mode(0o644));
    file.as_file()
        .set_permissions(mode)
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| EngineError::io("writing the signature policy", path, e))?;
    file.persist(path)
        .map_err(|e| EngineError::io("replacing the signature policy", path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_edits_one_scope_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        let err = set(&file, "r.io", TrustKind::Reject, &[]).unwrap_err();
        assert!(err.to_string().contains("default trust policy"), "{err}");
        set(&file, "default", TrustKind::Accept, &[]).unwrap();
        let key = dir.path().join("k.pub");
        std::fs::write(&key, "key").unwrap();
        set(
            &file,
            "r.io/team",
            TrustKind::SigstoreSigned,
            &[key.clone(), key.clone()],
        )
        .unwrap();
        set(&file, "*.example.com", TrustKind::Reject, &[]).unwrap();
        let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(
            written,
            json!({"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {
                "r.io/team": [{"type": "sigstoreSigned", "keyPath": key},
                              {"type": "sigstoreSigned", "keyPath": key}],
                "*.example.com": [{"type": "reject"}]}}})
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("{\n    \"default\""), "{text}");
        let listed = entries(&Policy::parse(&text).unwrap(), &Lookaside::default());
        let kinds: Vec<(&str, &str, &str)> = listed
            .iter()
            .map(|e| (e.transport.as_str(), e.name.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("all", "* (default)", "accept"),
                ("repository", "*.example.com", "reject"),
                ("repository", "r.io/team", "sigstoreSigned"),
                ("repository", "r.io/team", "sigstoreSigned"),
            ]
        );
    }

    #[test]
    fn set_refuses_what_podman_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        set(&file, "default", TrustKind::Reject, &[]).unwrap();
        let before = std::fs::read(&file).unwrap();
        let key = dir.path().join("k.pub");
        std::fs::write(&key, "key").unwrap();
        for (scope, kind, keys) in [
            ("r.io", TrustKind::SignedBy, vec![]),
            ("r.io", TrustKind::Accept, vec![key.clone()]),
            (
                "r.io",
                TrustKind::SigstoreSigned,
                vec![dir.path().join("missing.pub")],
            ),
            ("r.io:tag/x", TrustKind::Reject, vec![]),
            ("busybox", TrustKind::Reject, vec![]),
            ("r.io/app:1", TrustKind::Reject, vec![]),
            ("a*.io", TrustKind::Reject, vec![]),
        ] {
            assert!(set(&file, scope, kind, &keys).is_err(), "{scope}");
        }
        assert_eq!(std::fs::read(&file).unwrap(), before);
        assert!("signed".parse::<TrustKind>().is_err());
    }
}
