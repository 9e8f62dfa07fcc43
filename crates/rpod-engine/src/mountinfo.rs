//! This process's mount table, from `/proc/self/mountinfo`: the one reader of it that the
//! root file systems, the volumes and the reboot's clean-up share.

use std::path::PathBuf;

/// The mount points of this process's mount namespace; `None` when they cannot be read.
pub fn mount_points() -> Option<Vec<PathBuf>> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    Some(
        mountinfo
            .lines()
            .filter_map(|line| line.split(' ').nth(4))
            .map(|field| PathBuf::from(unescape(field)))
            .collect(),
    )
}

/// A mount point as mountinfo writes it, with space, tab, newline and backslash as octal
/// escapes (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match octal {
            Some(digits) => {
                out.push(
                    digits
                        .iter()
                        .fold(0u8, |n, d| n.wrapping_mul(8) + (d - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/a\\040b/c\\134d"), "/a b/c\\d");
        assert_eq!(unescape("/plain\\04"), "/plain\\04");
        assert_eq!(unescape("/end\\040"), "/end ");
        let points = mount_points().unwrap();
        assert!(points.iter().any(|p| p == std::path::Path::new("/proc")));
    }
}
