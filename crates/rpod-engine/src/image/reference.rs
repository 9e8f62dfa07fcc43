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

/// A repository path component as the distribution grammar has it: lowercase letters and
/// digits, separated by one `.`, one or two `_`, or any number of `-`; so never `.` or `..`.
fn valid_path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().copied().is_some_and(alnum) || !bytes.last().copied().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &part[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]`: dot-separated labels of letters, digits and inner hyphens.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    host.split('.').all(label_ok)
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
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
                if !digest.starts_with("sha256:")
                    || digest.len() != 71
                    || !digest[7..].bytes().all(|b| b.is_ascii_hexdigit())
                {
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
            // [\w][\w.-]{0,127}
            let ok = tag.len() <= 128
                && tag
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
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
        if let Some(domain) = &domain {
            if !valid_domain(domain) {
                return Err(invalid("invalid registry name"));
            }
        }
        if path.is_empty() || path.split('/').any(str::is_empty) {
            return Err(invalid("empty path component"));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid("repository name must be lowercase"));
        }
        if !path.split('/').all(valid_path_component) {
            return Err(invalid("invalid reference format"));
        }
        if name.len() > 255 {
            return Err(invalid(
                "repository name must not be more than 255 characters",
            ));
        }
        Ok(Reference {
            domain,
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// The registry and repository path this names, with the given default registry;
    /// `library/` is added for Docker Hub.
    pub fn repository(&self, default_domain: &str) -> (String, String) {
        let domain = self.domain.as_deref().unwrap_or(default_domain);
        let path = if domain == DEFAULT_DOMAIN && !self.path.contains('/') {
            format!("library/{}", self.path)
        } else {
            self.path.clone()
        };
        (domain.to_string(), path)
    }

    /// Full name with the given default domain; `library/` is added for Docker Hub.
    pub fn render(&self, default_domain: &str) -> String {
        let (domain, path) = self.repository(default_domain);
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

/// A full name as Docker shows it: Docker Hub's without its domain (and `library/`),
/// others whole (`docker.io/library/web:1` is `web:1`, `docker.io/team/app:1` `team/app:1`).
pub fn familiar(name: &str) -> &str {
    let hub = name
        .strip_prefix(DEFAULT_DOMAIN)
        .and_then(|rest| rest.strip_prefix('/'));
    match hub {
        Some(rest) => rest.strip_prefix("library/").unwrap_or(rest),
        None => name,
    }
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

/// An image's names as a listing's rows: repository and tag of each, or one `<none>` row
/// for an image without a name (podman's `system df -v`).
pub fn rows_of_names(names: &[String]) -> Vec<(String, String)> {
    if names.is_empty() {
        return vec![("<none>".into(), "<none>".into())];
    }
    names.iter().map(|n| repository_and_tag(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_names_as_docker_shows_them() {
        assert_eq!(familiar("docker.io/library/web:1"), "web:1");
        assert_eq!(familiar("docker.io/team/app:1"), "team/app:1");
        assert_eq!(familiar("localhost/web:1"), "localhost/web:1");
        assert_eq!(familiar("docker.io.example/x:1"), "docker.io.example/x:1");
    }

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
        for hostile in [
            "../../etc/x",
            "a/../b",
            "./x",
            ".hidden",
            "x/.",
            "x:.tag",
            "x:-tag",
            "a..b",
            "a___b",
            "-x",
            "x-",
            "bad_host.io/x",
            "x@sha256:../../../../../../../../../../../../../../../../../../../../../../..",
        ] {
            assert!(
                Reference::parse(hostile).is_err(),
                "{hostile} must be refused"
            );
        }
        for fine in [
            "a_b",
            "a__b",
            "a---b",
            "a.b/c-d",
            "my.registry:5000/x/y:v1.2_3",
        ] {
            assert!(Reference::parse(fine).is_ok(), "{fine} is valid");
        }
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
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(rows_of_names(&[]), [pair("<none>", "<none>")]);
        assert_eq!(
            rows_of_names(&["localhost/a:1".into(), "localhost/b:2".into()]),
            [pair("localhost/a", "1"), pair("localhost/b", "2")]
        );
    }
}
