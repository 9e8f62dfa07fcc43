//! `--platform`, `--arch`, `--os`, `--variant`: the platform an image must be for. A pull
//! chooses that platform from a manifest list; a container is never made from a local
//! image for another platform (`run` and `create` pull the one asked for first).

use oci_spec::image::ImageConfiguration;

use crate::{EngineError, Result};

/// A platform asked for; `None` parts match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Platform {
    pub os: Option<String>,
    pub arch: Option<String>,
    pub variant: Option<String>,
}

/// Go's names (`amd64`, `arm64`) for the architectures also known by the kernel's
/// (`x86_64`, `aarch64`).
pub fn go_arch(arch: &str) -> String {
    match arch {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        other => other.to_ascii_lowercase(),
    }
}

impl Platform {
    /// From `--platform OS/ARCH[/VARIANT]` and the separate flags (which win over its
    /// parts); `None` when none is given.
    pub fn from_flags(
        platform: Option<&str>,
        os: Option<&str>,
        arch: Option<&str>,
        variant: Option<&str>,
    ) -> Result<Option<Platform>> {
        let mut wanted = Platform::default();
        if let Some(text) = platform.filter(|p| !p.is_empty()) {
            let parts: Vec<&str> = text.split('/').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
                return Err(EngineError::InvalidArg(format!(
                    "invalid --platform {text:?}: use OS/ARCH[/VARIANT], like linux/amd64"
                )));
            }
            wanted.os = Some(parts[0].to_string());
            wanted.arch = Some(parts[1].to_string());
            wanted.variant = parts.get(2).map(|v| v.to_string());
        }
        let given = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(String::from);
        wanted.os = given(os).or(wanted.os);
        wanted.arch = given(arch).or(wanted.arch);
        wanted.variant = given(variant).or(wanted.variant);
        Ok((wanted != Platform::default()).then_some(wanted))
    }

    /// Whether the image `name` with `config` is for this platform.
    pub fn check(&self, name: &str, config: &ImageConfiguration) -> Result<()> {
        let os = config.os().to_string();
        let arch = config.architecture().to_string();
        let variant = config.variant().clone().unwrap_or_default();
        let os_ok = self.os.as_ref().is_none_or(|o| o.eq_ignore_ascii_case(&os));
        let arch_ok = self
            .arch
            .as_ref()
            .is_none_or(|a| go_arch(a) == go_arch(&arch));
        // An image that names no variant is taken for the architecture's usual one.
        let variant_ok = self
            .variant
            .as_ref()
            .is_none_or(|v| variant.is_empty() || v.eq_ignore_ascii_case(&variant));
        if os_ok && arch_ok && variant_ok {
            return Ok(());
        }
        let platform = |os: &str, arch: &str, variant: &str| {
            let mut text = format!("{os}/{arch}");
            if !variant.is_empty() {
                text.push('/');
                text.push_str(variant);
            }
            text
        };
        let asked = platform(
            self.os.as_deref().unwrap_or(&os),
            self.arch.as_deref().unwrap_or(&arch),
            self.variant.as_deref().unwrap_or_default(),
        );
        Err(EngineError::InvalidArg(format!(
            "image {name} is for {}, not {asked}: pull the image for {asked} first",
            platform(&os, &arch, &variant)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(os: &str, arch: &str, variant: Option<&str>) -> ImageConfiguration {
        let mut json = serde_json::json!({
            "os": os, "architecture": arch, "rootfs": {"type": "layers", "diff_ids": []}
        });
        if let Some(v) = variant {
            json["variant"] = v.into();
        }
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn flags_make_a_platform() {
        assert_eq!(Platform::from_flags(None, None, None, None).unwrap(), None);
        let p = Platform::from_flags(Some("linux/arm64/v8"), None, Some("amd64"), None)
            .unwrap()
            .unwrap();
        assert_eq!(p.os.as_deref(), Some("linux"));
        assert_eq!(p.arch.as_deref(), Some("amd64"));
        assert_eq!(p.variant.as_deref(), Some("v8"));
        for bad in ["linux", "linux/", "a/b/c/d"] {
            assert!(
                Platform::from_flags(Some(bad), None, None, None).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn images_match_or_are_refused_with_both_platforms_named() {
        let amd64 = image("linux", "amd64", None);
        let arm = image("linux", "arm", Some("v7"));
        let wanted = |text: &str| {
            Platform::from_flags(Some(text), None, None, None)
                .unwrap()
                .unwrap()
        };
        assert!(wanted("linux/amd64").check("i", &amd64).is_ok());
        assert!(wanted("linux/x86_64").check("i", &amd64).is_ok());
        assert!(wanted("linux/amd64/v2").check("i", &amd64).is_ok());
        assert!(wanted("linux/arm/v7").check("i", &arm).is_ok());
        let err = wanted("linux/arm/v6")
            .check("i", &arm)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is for linux/arm/v7, not linux/arm/v6"),
            "{err}"
        );
        let err = wanted("linux/arm64")
            .check("i", &amd64)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is for linux/amd64, not linux/arm64"), "{err}");
        let windows = Platform::from_flags(None, Some("windows"), None, None)
            .unwrap()
            .unwrap();
        assert!(windows.check("i", &amd64).is_err());
    }
}
