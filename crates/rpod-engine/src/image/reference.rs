//! Image names, normalised as podman does: `busybox` is `docker.io/library/busybox:latest`,
//! names created locally without a registry (`import`, `tag`) go under `localhost/`.

use crate::{EngineError, Result};

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const LOCAL_DOMAIN: &str = "localhost";
pub const DEFAULT_TAG: &str = "latest";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry, if the name had one.
    pub domain: Option<String>,
    /// Repository path below the registry (`library/busybox`).
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

fn looks_like_domain(part: &str) -> bool {
    part.contains('.') || part.contains(':') || part == LOCAL_DOMAIN
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference> {
        let invalid =
            |why: &str| EngineError::InvalidArg(format!("invalid image reference {text:?}: {why}"));
        if text.is_empty() {
            return Err(invalid("empty name"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                if !digest.starts_with("sha256:") || digest.len() != 71 {
                    return Err(invalid("bad digest"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if let Some(tag) = &tag {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !ok {
                return Err(invalid("bad tag"));
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest)) if looks_like_domain(first) => (Some(first.to_string()), rest),
            _ => (None, name),
        };
        if path.is_empty() || path.split('/').any(str::is_empty) {
            return Err(invalid("empty path component"));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid("repository name must be lowercase"));
        }
        if !path.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '/' | '_' | '.' | '-')
        }) {
            return Err(invalid("invalid characters"));
        }
        Ok(Reference {
            domain,
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// Full name with the given default domain; `library/` is added for Docker Hub.
    fn render(&self, default_domain: &str) -> String {
        let domain = self.domain.as_deref().unwrap_or(default_domain);
        let path = if domain == DEFAULT_DOMAIN && !self.path.contains('/') {
            format!("library/{}", self.path)
        } else {
            self.path.clone()
        };
        let mut out = format!("{domain}/{path}");
        match (&self.tag, &self.digest) {
            (Some(tag), _) => {
                out.push(':');
                out.push_str(tag);
            }
            (None, None) => {
                out.push(':');
                out.push_str(DEFAULT_TAG);
            }
            (None, Some(_)) => {}
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    pub fn has_domain(&self) -> bool {
        self.domain.is_some()
    }
}

/// A name from an image archive or a registry: `busybox` → `docker.io/library/busybox:latest`.
pub fn normalize(text: &str) -> Result<String> {
    Ok(Reference::parse(text)?.render(DEFAULT_DOMAIN))
}

/// A name a user gives a local image (`import`, `tag`): `demo` → `localhost/demo:latest`.
pub fn normalize_local(text: &str) -> Result<String> {
    Ok(Reference::parse(text)?.render(LOCAL_DOMAIN))
}

/// The full names an image reference typed by a user may stand for, most specific first.
pub fn lookup_candidates(text: &str) -> Result<Vec<String>> {
    let reference = Reference::parse(text)?;
    if reference.has_domain() {
        return Ok(vec![reference.render(DEFAULT_DOMAIN)]);
    }
    Ok(vec![
        reference.render(LOCAL_DOMAIN),
        reference.render(DEFAULT_DOMAIN),
    ])
}

/// Split a full name into repository and tag for listings (`<none>` when missing).
pub fn repository_and_tag(name: &str) -> (String, String) {
    let without_digest = name.split('@').next().unwrap_or(name);
    match without_digest.rfind(':') {
        Some(i) if !without_digest[i..].contains('/') => (
            without_digest[..i].to_string(),
            without_digest[i + 1..].to_string(),
        ),
        _ => (without_digest.to_string(), "<none>".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_short_names() {
        assert_eq!(
            normalize("busybox").unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            normalize("busybox:1.35").unwrap(),
            "docker.io/library/busybox:1.35"
        );
        assert_eq!(normalize("user/app").unwrap(), "docker.io/user/app:latest");
        assert_eq!(normalize("quay.io/a/b:v1").unwrap(), "quay.io/a/b:v1");
        assert_eq!(
            normalize("localhost:5000/x").unwrap(),
            "localhost:5000/x:latest"
        );
    }

    #[test]
    fn local_names_stay_local() {
        assert_eq!(normalize_local("demo").unwrap(), "localhost/demo:latest");
        assert_eq!(
            normalize_local("localhost/x").unwrap(),
            "localhost/x:latest"
        );
        assert_eq!(normalize("localhost/x:2").unwrap(), "localhost/x:2");
        assert_eq!(normalize_local("quay.io/a:1").unwrap(), "quay.io/a:1");
    }

    #[test]
    fn candidates_and_errors() {
        assert_eq!(
            lookup_candidates("x").unwrap(),
            ["localhost/x:latest", "docker.io/library/x:latest"]
        );
        assert_eq!(
            lookup_candidates("quay.io/x").unwrap(),
            ["quay.io/x:latest"]
        );
        assert!(Reference::parse("Busybox").is_err());
        assert!(Reference::parse("a//b").is_err());
        assert!(Reference::parse("a:b c").is_err());
        assert!(Reference::parse("").is_err());
        let digest = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(
            normalize(&digest).unwrap(),
            format!("docker.io/library/busybox@sha256:{}", "a".repeat(64))
        );
    }

    #[test]
    fn repository_and_tag_split() {
        assert_eq!(
            repository_and_tag("localhost:5000/a:b"),
            ("localhost:5000/a".to_string(), "b".to_string())
        );
        assert_eq!(
            repository_and_tag("localhost:5000/a"),
            ("localhost:5000/a".to_string(), "<none>".to_string())
        );
    }
}
