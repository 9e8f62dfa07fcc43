//! A container's user namespace (`--uidmap`, `--gidmap`, `--userns auto`): which host IDs
//! its IDs are.
//!
//! The container's root is then an unprivileged user of the host. Its root file system
//! shows the image's files as the container's own: the image's layers are seen through an
//! ID-mapped mount (`idmapped.rs`), and what the container writes lands in its upper layer
//! with the host's IDs (as podman's chowned layers hold them). Whatever reads or writes the
//! container's files from the host (`cp`, `commit`, `export`), or shows its processes'
//! owners (`top`), translates with `to_container` and `to_host`.

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

/// The names of the four flags that give a user namespace's ranges in a command, which its
/// errors say: run's and create's (`--uidmap`, ...), build's (`--userns-uid-map`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagNames {
    pub uidmap: &'static str,
    pub gidmap: &'static str,
    pub user: &'static str,
    pub group: &'static str,
}

impl FlagNames {
    pub const RUN: FlagNames = FlagNames {
        uidmap: "--uidmap",
        gidmap: "--gidmap",
        user: "--subuidname",
        group: "--subgidname",
    };
    pub const BUILD: FlagNames = FlagNames {
        uidmap: "--userns-uid-map",
        gidmap: "--userns-gid-map",
        user: "--userns-uid-map-user",
        group: "--userns-gid-map-group",
    };
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
        Self::parse_flags(uidmap, gidmap, true, FlagNames::RUN)
    }

    /// `from_flags` for a command whose flags have other names.
    pub fn from_flags_named(
        uidmap: &[String],
        gidmap: &[String],
        names: FlagNames,
    ) -> Result<Option<Self>> {
        Self::parse_flags(uidmap, gidmap, true, names)
    }

    /// `from_flags` for ranges that go after others (`joined`), which map the container's
    /// root: theirs need not.
    pub fn more_from_flags(
        uidmap: &[String],
        gidmap: &[String],
        names: FlagNames,
    ) -> Result<Option<Self>> {
        Self::parse_flags(uidmap, gidmap, false, names)
    }

    fn parse_flags(
        uidmap: &[String],
        gidmap: &[String],
        whole: bool,
        names: FlagNames,
    ) -> Result<Option<Self>> {
        let parse = |values: &[String], flag: &str| -> Result<Vec<IdRange>> {
            let ranges = values
                .iter()
                .flat_map(|v| v.split(',').filter(|s| !s.is_empty()))
                .map(|v| IdRange::parse(v, flag))
                .collect::<Result<Vec<_>>>()?;
            if whole {
                check_ranges(&ranges, flag)?;
            }
            Ok(ranges)
        };
        let uids = parse(uidmap, names.uidmap)?;
        let gids = parse(gidmap, names.gidmap)?;
        let (uids, gids) = match (uids.is_empty(), gids.is_empty()) {
            (true, true) => return Ok(None),
            (false, true) => (uids.clone(), uids),
            (true, false) => (gids.clone(), gids),
            (false, false) => (uids, gids),
        };
        Ok(Some(IdMappings { uids, gids }))
    }

    /// podman's `--subuidname USER` and `--subgidname GROUP` (either alone serves for
    /// both): every range of USER in `subuid` and of GROUP in `subgid` (the files' texts,
    /// with their names), in the files' order, one after another from container ID 0.
    pub fn from_subordinate(
        user: Option<&str>,
        group: Option<&str>,
        (subuid, subuid_file): (&str, &str),
        (subgid, subgid_file): (&str, &str),
        names: FlagNames,
    ) -> Result<Option<Self>> {
        let (user, group) = match (user, group) {
            (None, None) => return Ok(None),
            (Some(user), None) => (user, user),
            (None, Some(group)) => (group, group),
            (Some(user), Some(group)) => (user, group),
        };
        let ranges = |text: &str, file: &str, name: &str, flag: &str| -> Result<Vec<IdRange>> {
            let mut next = 0u64;
            let mut ranges = Vec::new();
            for (start, count) in subordinate_ranges(text, name) {
                let size = u32::try_from(count.min(u64::from(u32::MAX) - next)).unwrap_or(u32::MAX);
                let (Ok(container), Ok(host)) = (u32::try_from(next), u32::try_from(start)) else {
                    break;
                };
                if size == 0 {
                    break;
                }
                ranges.push(IdRange {
                    container,
                    host,
                    size,
                });
                next += u64::from(size);
            }
            if ranges.is_empty() {
                return Err(EngineError::InvalidArg(format!(
                    "{flag} {name}: no ranges of {name:?} in {file}"
                )));
            }
            check_ranges(&ranges, flag)?;
            Ok(ranges)
        };
        Ok(Some(IdMappings {
            uids: ranges(subuid, subuid_file, user, names.user)?,
            gids: ranges(subgid, subgid_file, group, names.group)?,
        }))
    }

    /// `self` and `more` together (podman puts `--uidmap`'s ranges after those of
    /// `--subuidname`); ranges that overlap are refused.
    pub fn joined(mut self, more: IdMappings, names: FlagNames) -> Result<Self> {
        self.uids.extend(more.uids);
        self.gids.extend(more.gids);
        check_ranges(&self.uids, &format!("{} with {}", names.user, names.uidmap))?;
        check_ranges(
            &self.gids,
            &format!("{} with {}", names.group, names.gidmap),
        )?;
        Ok(self)
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

/// `--userns auto[:size=N]`: a range of the host's subordinate IDs no other container has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoUserns {
    /// How many IDs (podman's `size=`); `DEFAULT_AUTO_SIZE` when not given.
    pub size: u32,
}

/// The IDs `--userns auto` maps when no size is asked for: every ID a distribution's image
/// uses (podman sizes it from the image's accounts instead).
pub const DEFAULT_AUTO_SIZE: u32 = 65536;

impl AutoUserns {
    /// `auto` or `auto:size=N`; `None` for any other mode.
    pub fn parse(mode: &str) -> Result<Option<Self>> {
        let Some(rest) = mode.strip_prefix("auto") else {
            return Ok(None);
        };
        let options = match rest {
            "" => "",
            rest => match rest.strip_prefix(':') {
                Some(options) => options,
                None => return Ok(None),
            },
        };
        let mut size = DEFAULT_AUTO_SIZE;
        for option in options.split(',').filter(|o| !o.is_empty()) {
            match option.split_once('=') {
                Some(("size", n)) => {
                    size = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        EngineError::InvalidArg(format!(
                            "invalid --userns {mode:?}: size must be a number above 0"
                        ))
                    })?;
                }
                _ => {
                    return Err(EngineError::NotSupported(format!(
                        "--userns auto option {option:?} (only size=N is)"
                    )))
                }
            }
        }
        Ok(Some(AutoUserns { size }))
    }

    /// Mappings of `size` IDs from `subuid` and `subgid` (the texts of `/etc/subuid` and
    /// `/etc/subgid`, with the files' names), the ranges of `user`, meeting none of the
    /// host IDs in `taken`.
    pub fn allocate(
        &self,
        user: &str,
        (subuid, subuid_file): (&str, &str),
        (subgid, subgid_file): (&str, &str),
        taken: &[IdMappings],
    ) -> Result<IdMappings> {
        let pick = |text: &str, file: &str, ids: &dyn Fn(&IdMappings) -> &Vec<IdRange>| {
            let available = subordinate_ranges(text, user);
            if available.is_empty() {
                return Err(EngineError::InvalidArg(format!(
                    "--userns auto needs subordinate IDs of user {user:?} in {file} (a line like {user}:2147483647:2147483648)"
                )));
            }
            let used: Vec<(u64, u64)> = taken
                .iter()
                .flat_map(|m| ids(m).iter())
                .map(|r| (u64::from(r.host), u64::from(r.size)))
                .collect();
            first_free(&available, &used, u64::from(self.size))
                .map(|host| IdRange {
                    container: 0,
                    host,
                    size: self.size,
                })
                .ok_or_else(|| {
                    EngineError::InvalidArg(format!(
                        "--userns auto: no {} IDs of user {user:?} in {file} are free (other containers have them)",
                        self.size
                    ))
                })
        };
        Ok(IdMappings {
            uids: vec![pick(subuid, subuid_file, &|m| &m.uids)?],
            gids: vec![pick(subgid, subgid_file, &|m| &m.gids)?],
        })
    }
}

/// `user`'s ranges (start, count) in an `/etc/subuid`-style text (`NAME:START:COUNT`).
fn subordinate_ranges(text: &str, user: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let (name, start, count) = (fields.next()?, fields.next()?, fields.next()?);
            let start: u32 = start.parse().ok()?;
            let count: u32 = count.parse().ok()?;
            // A range must stay within the IDs the kernel maps.
            let end = (u64::from(start) + u64::from(count)).min(u64::from(u32::MAX));
            (name == user && end > u64::from(start))
                .then(|| (u64::from(start), end - u64::from(start)))
        })
        .collect()
}

/// The lowest start of `size` IDs within one of `available` that meets none of `used`.
fn first_free(available: &[(u64, u64)], used: &[(u64, u64)], size: u64) -> Option<u32> {
    let mut ranges = available.to_vec();
    ranges.sort();
    for (start, count) in ranges {
        let end = start + count;
        let mut candidate = start;
        loop {
            if candidate + size > end {
                break;
            }
            // The first used range the candidate meets: try again after it.
            match used
                .iter()
                .filter(|(u, n)| *u < candidate + size && candidate < u + n)
                .map(|(u, n)| u + n)
                .max()
            {
                Some(after) => candidate = after,
                None => return u32::try_from(candidate).ok(),
            }
        }
    }
    None
}

/// The kernel takes no overlapping ranges, on either side; the container's root must be
/// mapped, or its process could not run as root and rpod would have no owner for the files
/// it makes for it.
fn check_ranges(ranges: &[IdRange], flag: &str) -> Result<()> {
    // The kernel's limit on lines of a map (since 4.15), checked first: the overlap check
    // compares every pair, and a request may send any number.
    if ranges.len() > 340 {
        return Err(EngineError::InvalidArg(format!(
            "{flag}: at most 340 ranges"
        )));
    }
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

    /// `--subuidname`/`--subgidname`: a name's ranges in file order from 0, either name
    /// for both, a name without ranges refused naming the file.
    #[test]
    fn subordinate_names_take_every_range_in_order() {
        let subuid = "alice:300000:1000\nbob:1:1\nalice:500000:500\n";
        let subgid = "alice:400000:1500\n";
        let files = |name: &str| -> (&str, &str) {
            match name {
                "uid" => (subuid, "/etc/subuid"),
                _ => (subgid, "/etc/subgid"),
            }
        };
        let mapped = IdMappings::from_subordinate(
            Some("alice"),
            None,
            files("uid"),
            files("gid"),
            FlagNames::RUN,
        )
        .unwrap()
        .unwrap();
        let flags = |ranges: &[IdRange]| ranges.iter().map(|r| r.to_flag()).collect::<Vec<_>>();
        assert_eq!(flags(&mapped.uids), ["0:300000:1000", "1000:500000:500"]);
        assert_eq!(flags(&mapped.gids), ["0:400000:1500"]);
        assert!(IdMappings::from_subordinate(
            None,
            None,
            files("uid"),
            files("gid"),
            FlagNames::RUN
        )
        .unwrap()
        .is_none());
        let err = IdMappings::from_subordinate(
            Some("bob"),
            None,
            files("uid"),
            files("gid"),
            FlagNames::RUN,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no ranges of \"bob\" in /etc/subgid"), "{err}");
        let more = IdMappings::more_from_flags(&["5000:600000:10".into()], &[], FlagNames::RUN)
            .unwrap()
            .unwrap();
        let joined = mapped.clone().joined(more, FlagNames::RUN).unwrap();
        assert_eq!(joined.uids.len(), 3);
        let clash = IdMappings::more_from_flags(&["10:1:1".into()], &[], FlagNames::BUILD)
            .unwrap()
            .unwrap();
        // A command's own flag names are said.
        let error = mapped
            .joined(clash, FlagNames::BUILD)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--userns-uid-map-user with --userns-uid-map"),
            "{error}"
        );
        let error = IdMappings::from_flags_named(&["1:2".into()], &[], FlagNames::BUILD)
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid --userns-uid-map"), "{error}");
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
    fn auto_takes_the_first_free_subordinate_ids() {
        assert_eq!(AutoUserns::parse("host").unwrap(), None);
        assert_eq!(AutoUserns::parse("automatic").unwrap(), None);
        assert_eq!(
            AutoUserns::parse("auto").unwrap(),
            Some(AutoUserns { size: 65536 })
        );
        let auto = AutoUserns::parse("auto:size=1000").unwrap().unwrap();
        assert_eq!(auto.size, 1000);
        assert!(AutoUserns::parse("auto:size=0").is_err());
        let e = AutoUserns::parse("auto:uidmapping=0:1:1").unwrap_err();
        assert!(e.to_string().contains("uidmapping"), "{e}");

        let subuid = "alice:100000:65536\ncontainers:1000000:3000\n# not a range\n";
        let subgid = "containers:2000000:5000\n";
        let first = auto
            .allocate(
                "containers",
                (subuid, "/etc/subuid"),
                (subgid, "/etc/subgid"),
                &[],
            )
            .unwrap();
        assert_eq!(first.uid_flags(), ["0:1000000:1000"]);
        assert_eq!(first.gid_flags(), ["0:2000000:1000"]);
        // The next one goes after it; one that meets a container's range moves past it.
        let explicit = IdMappings::from_flags(&["0:1001500:10".into()], &[])
            .unwrap()
            .unwrap();
        let second = auto
            .allocate(
                "containers",
                (subuid, "/etc/subuid"),
                (subgid, "/etc/subgid"),
                &[first.clone(), explicit.clone()],
            )
            .unwrap();
        assert_eq!(second.uid_flags(), ["0:1001510:1000"]);
        assert_eq!(second.gid_flags(), ["0:2001000:1000"]);
        // No room left (3000 IDs, 2010 taken by then, the free 490 split), no ranges at
        // all: said so.
        let e = auto
            .allocate(
                "containers",
                (subuid, "/etc/subuid"),
                (subgid, "/etc/subgid"),
                &[first, second, explicit],
            )
            .unwrap_err();
        assert!(e.to_string().contains("are free"), "{e}");
        let e = auto
            .allocate("nobody", (subuid, "/s/uid"), (subgid, "/s/gid"), &[])
            .unwrap_err();
        assert!(e.to_string().contains("/s/uid"), "{e}");
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
        // More ranges than the kernel takes are refused before any pair is compared.
        let many: Vec<String> = (0..10_000u32)
            .map(|i| format!("{i}:{}:1", 100_000 + i))
            .collect();
        let e = IdMappings::from_flags(&many, &[]).unwrap_err();
        assert!(e.to_string().contains("at most 340"), "{e}");
        // Several ranges in one value, as podman takes them.
        let m = IdMappings::from_flags(&flags(&["0:100000:10,10:200000:10"]), &[])
            .unwrap()
            .unwrap();
        assert_eq!(m.uids.len(), 2);
    }
}
