//! What `info` says of the host beyond the kernel: its distribution (`/etc/os-release`) and
//! its uptime as podman writes it.

use serde::Serialize;

/// The host's distribution, podman's `host.distribution` (`pretty_name` is Docker's
/// `OperatingSystem`, which podman does not show).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Distribution {
    pub distribution: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub codename: String,
    #[serde(skip)]
    pub pretty_name: String,
}

/// Where the distribution is described; the second is the fallback the file's format
/// names.
const OS_RELEASE: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

impl Distribution {
    pub fn of_host() -> Distribution {
        OS_RELEASE
            .iter()
            .find_map(|path| std::fs::read_to_string(path).ok())
            .map(|text| Distribution::parse(&text))
            .unwrap_or_default()
    }

    /// os-release's `KEY=VALUE` lines, values quoted or not. Read by hand: the format is a
    /// few shell-like assignments, and only four keys are wanted.
    pub fn parse(text: &str) -> Distribution {
        let mut found = Distribution::default();
        for line in text.lines() {
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value)
                .replace("\\\"", "\"");
            match key {
                "ID" => found.distribution = value,
                "VARIANT_ID" => found.variant = value,
                "VERSION_ID" => found.version = value,
                "VERSION_CODENAME" => found.codename = value,
                "PRETTY_NAME" => found.pretty_name = value,
                _ => {}
            }
        }
        if found.pretty_name.is_empty() {
            found.pretty_name = "Linux".into();
        }
        found
    }
}

/// How long the host has run, as podman writes it: `15h 15m 50.00s (Approximately 0.62
/// days)`.
pub fn uptime_text(seconds: f64) -> String {
    let whole = seconds as u64;
    let (hours, minutes) = (whole / 3600, whole % 3600 / 60);
    let rest = seconds - (hours * 3600 + minutes * 60) as f64;
    format!(
        "{hours}h {minutes}m {rest:.2}s (Approximately {:.2} days)",
        seconds / 86400.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_is_read_with_and_without_quotes() {
        let found = Distribution::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n\
             VERSION_CODENAME=bookworm\nID=debian\n# a comment\nHOME_URL='x'\n",
        );
        assert_eq!(
            found,
            Distribution {
                distribution: "debian".into(),
                variant: String::new(),
                version: "12".into(),
                codename: "bookworm".into(),
                pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            }
        );
        assert_eq!(Distribution::parse("").pretty_name, "Linux");
    }

    #[test]
    fn uptime_as_podman_writes_it() {
        assert_eq!(
            uptime_text(54950.0),
            "15h 15m 50.00s (Approximately 0.64 days)"
        );
    }
}
