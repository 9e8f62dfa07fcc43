//! A container's user namespace (`--uidmap`, `--gidmap`): which host IDs its IDs are.
//!
//! The container's root is then an unprivileged user of the host. Its root file system
//! shows the image's files as the container's own: the image's layers are seen through an
//! ID-mapped mount (`idmapped.rs`), and what the container writes lands in its upper layer
//! with the host's IDs (as podman's chowned layers hold them). Whatever reads or writes the
//! container's files from the host (`cp`, `commit`, `export`, `diff`) translates with
//! `to_container` and `to_host`.

use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

/// The ID the kernel shows for one that has no mapping (`/proc/sys/kernel/overflowuid`).
pub const OVERFLOW_ID: u32 = 65534;

/// One range: container IDs `container..container+size` are host IDs `host..host+size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl IdRange {
    /// `CONTAINER:HOST:SIZE`, as podman's `--uidmap`.
    fn parse(text: &str, flag: &str) -> Result<Self> {
        let invalid = |why: &str| {
            EngineError::InvalidArg(format!(
                "invalid {flag} {text:?}: {why} (use CONTAINER_ID:HOST_ID:SIZE, like 0:100000:65536)"
            ))
        };
        let parts: Vec<&str> = text.split(':').collect();
        let [container, host, size] = parts.as_slice() else {
            return Err(invalid("three numbers are needed"));
        };
        let number = |n: &str| n.trim().parse::<u32>().map_err(|_| invalid("not a number"));
        let range = IdRange {
            container: number(container)?,
            host: number(host)?,
            size: number(size)?,
        };
        if range.size == 0 {
            return Err(invalid("the size is 0"));
        }
        let fits = |start: u32| u64::from(start) + u64::from(range.size) <= u64::from(u32::MAX);
        if !fits(range.container) || !fits(range.host) {
            return Err(invalid("the range goes past the largest ID"));
        }
        Ok(range)
    }

    fn overlaps(&self, other: &IdRange, side: impl Fn(&IdRange) -> u32) -> bool {
        let (a, b) = (u64::from(side(self)), u64::from(side(other)));
        a < b + u64::from(other.size) && b < a + u64::from(self.size)
    }

    pub fn to_flag(self) -> String {
        format!("{}:{}:{}", self.container, self.host, self.size)
    }
}

/// The mappings of one container's user namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMappings {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

impl IdMappings {
    /// From `--uidmap` and `--gidmap` values: either alone serves for both (as podman's).
    /// `None` when neither is given.
    pub fn from_flags(uidmap: &[String], gidmap: &[String]) -> Result<Option<Self>> {
        let parse = |values: &[String], flag: &str| -> Result<Vec<IdRange>> {
            let ranges = values
                .iter()
                .flat_map(|v| v.split(',').filter(|s| !s.is_empty()))
                .map(|v| IdRange::parse(v, flag))
                .collect::<Result<Vec<_>>>()?;
            check_ranges(&ranges, flag)?;
            Ok(ranges)
        };
        let uids = parse(uidmap, "--uidmap")?;
        let gids = parse(gidmap, "--gidmap")?;
        let (uids, gids) = match (uids.is_empty(), gids.is_empty()) {
            (true, true) => return Ok(None),
            (false, true) => (uids.clone(), uids),
            (true, false) => (gids.clone(), gids),
            (false, false) => (uids, gids),
        };
        Ok(Some(IdMappings { uids, gids }))
    }

    /// The host's UID and GID of the container's root, which owns what rpod makes for it.
    pub fn root(&self) -> (u32, u32) {
        (
            to_host(&self.uids, 0).unwrap_or(OVERFLOW_ID),
            to_host(&self.gids, 0).unwrap_or(OVERFLOW_ID),
        )
    }

    /// A file's owner as the container sees it, from the host's.
    pub fn to_container(&self, uid: u32, gid: u32) -> (u32, u32) {
        (
            to_container(&self.uids, uid).unwrap_or(OVERFLOW_ID),
            to_container(&self.gids, gid).unwrap_or(OVERFLOW_ID),
        )
    }

    /// A file's owner on the host, from the container's; an ID the container has no
    /// mapping for is refused (the container could not have made it).
    pub fn to_host(&self, uid: u32, gid: u32) -> Result<(u32, u32)> {
        let unmapped = |kind: &str, id: u32| {
            EngineError::InvalidArg(format!(
                "{kind} {id} has no mapping in the container's user namespace"
            ))
        };
        Ok((
            to_host(&self.uids, uid).ok_or_else(|| unmapped("user ID", uid))?,
            to_host(&self.gids, gid).ok_or_else(|| unmapped("group ID", gid))?,
        ))
    }

    /// As podman's inspect shows them (`CONTAINER:HOST:SIZE`).
    pub fn uid_flags(&self) -> Vec<String> {
        self.uids.iter().map(|r| r.to_flag()).collect()
    }
    pub fn gid_flags(&self) -> Vec<String> {
        self.gids.iter().map(|r| r.to_flag()).collect()
    }
}

/// The kernel takes no overlapping ranges, on either side; the container's root must be
/// mapped, or its process could not run as root and rpod would have no owner for the files
/// it makes for it.
fn check_ranges(ranges: &[IdRange], flag: &str) -> Result<()> {
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            if a.overlaps(b, |r| r.container) || a.overlaps(b, |r| r.host) {
                return Err(EngineError::InvalidArg(format!(
                    "{flag}: the ranges {} and {} overlap",
                    a.to_flag(),
                    b.to_flag()
                )));
            }
        }
    }
    // The kernel's limit on lines of a map (since 4.15).
    if ranges.len() > 340 {
        return Err(EngineError::InvalidArg(format!(
            "{flag}: at most 340 ranges"
        )));
    }
    if !ranges.is_empty() && to_host(ranges, 0).is_none() {
        return Err(EngineError::InvalidArg(format!(
            "{flag} must map the container's ID 0 (its root)"
        )));
    }
    Ok(())
}

fn to_host(ranges: &[IdRange], id: u32) -> Option<u32> {
    ranges
        .iter()
        .find(|r| id >= r.container && id - r.container < r.size)
        .map(|r| r.host + (id - r.container))
}

fn to_container(ranges: &[IdRange], id: u32) -> Option<u32> {
    ranges
        .iter()
        .find(|r| id >= r.host && id - r.host < r.size)
        .map(|r| r.container + (id - r.host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_flag_serves_for_both() {
        let m = IdMappings::from_flags(&flags(&["0:100000:65536"]), &[])
            .unwrap()
            .unwrap();
        assert_eq!(m.uids, m.gids);
        assert_eq!(m.root(), (100000, 100000));
        let m = IdMappings::from_flags(&[], &flags(&["0:200000:10"]))
            .unwrap()
            .unwrap();
        assert_eq!(m.uids[0].host, 200000);
        assert!(IdMappings::from_flags(&[], &[]).unwrap().is_none());
    }

    #[test]
    fn translates_both_ways_and_overflows() {
        let m = IdMappings::from_flags(
            &flags(&["0:100000:1000", "1000:500:1"]),
            &flags(&["0:300000:65536"]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.to_container(100005, 300007), (5, 7));
        assert_eq!(m.to_container(500, 0), (1000, OVERFLOW_ID));
        assert_eq!(m.to_host(1000, 65535).unwrap(), (500, 365535));
        assert!(m.to_host(1001, 0).is_err());
        assert_eq!(m.uid_flags(), ["0:100000:1000", "1000:500:1"]);
    }

    #[test]
    fn bad_ranges_are_refused() {
        for (bad, why) in [
            ("0:100000", "three numbers"),
            ("0:x:5", "not a number"),
            ("0:1:0", "size is 0"),
            ("0:4294967000:1000", "past the largest"),
            ("1:100000:10", "ID 0"),
        ] {
            let e = IdMappings::from_flags(&flags(&[bad]), &[]).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
        let e = IdMappings::from_flags(&flags(&["0:100000:10", "5:200000:10"]), &[]).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
        let e = IdMappings::from_flags(&flags(&["0:100000:10", "10:100005:10"]), &[]).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
        // Several ranges in one value, as podman takes them.
        let m = IdMappings::from_flags(&flags(&["0:100000:10,10:200000:10"]), &[])
            .unwrap()
            .unwrap();
        assert_eq!(m.uids.len(), 2);
    }
}
