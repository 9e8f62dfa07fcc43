//! Which distribution package owns an executable (for `info`), as podman reports it.

use std::path::Path;
use std::process::Command;

/// `name_version_arch` of the Debian package that owns `path`, or "Unknown".
pub fn package_of(path: &Path) -> String {
    let mut candidates = vec![path.to_path_buf()];
    if let Ok(real) = std::fs::canonicalize(path) {
        candidates.push(real);
    }
    for candidate in candidates {
        if let Some(package) = dpkg_owner(&candidate) {
            return package;
        }
    }
    "Unknown".to_string()
}

fn dpkg_owner(path: &Path) -> Option<String> {
    let out = Command::new("dpkg").arg("-S").arg(path).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let name = text.lines().next()?.split(':').next()?.trim().to_string();
    let query = Command::new("dpkg-query")
        .args(["-f", "${Package}_${Version}_${Architecture}", "-W", &name])
        .output()
        .ok()?;
    query
        .status
        .success()
        .then(|| String::from_utf8_lossy(&query.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}
