//! The local driver's options, as podman's: `type`, `device` and `o` mount something on the
//! volume's directory (a tmpfs, a host directory with `o=bind`, a block device), and `o`'s
//! `uid=`/`gid=` alone give the directory an owner. The mount is made when a container first
//! needs the volume and undone by `volume rm`, before the directory goes, so removing a
//! volume never deletes what a device holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{EngineError, Result};

/// What a volume's options ask for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalOptions {
    pub fs_type: Option<String>,
    pub device: Option<String>,
    /// Flags from `o` (`ro`, `nosuid`, `bind`, ...).
    pub flags: Vec<String>,
    /// The rest of `o`, passed to the file system (`size=64m`, `mode=1777`, ...).
    pub data: Vec<String>,
    /// `o=uid=N,gid=N` without a device: the owner of the volume's directory.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

const FLAGS: &[(&str, MsFlags)] = &[
    ("ro", MsFlags::MS_RDONLY),
    ("nosuid", MsFlags::MS_NOSUID),
    ("nodev", MsFlags::MS_NODEV),
    ("noexec", MsFlags::MS_NOEXEC),
    ("sync", MsFlags::MS_SYNCHRONOUS),
    ("noatime", MsFlags::MS_NOATIME),
    ("nodiratime", MsFlags::MS_NODIRATIME),
    ("relatime", MsFlags::MS_RELATIME),
    ("bind", MsFlags::MS_BIND),
    ("rbind", MsFlags::MS_BIND.union(MsFlags::MS_REC)),
];
/// Words that only undo a flag's default.
const NEUTRAL: &[&str] = &["rw", "suid", "dev", "exec", "async", "atime", "defaults"];

fn invalid(message: String) -> EngineError {
    EngineError::InvalidArg(message)
}

impl LocalOptions {
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self> {
        let mut parsed = LocalOptions::default();
        for (key, value) in options {
            match key.as_str() {
                "type" => parsed.fs_type = Some(value.clone()),
                "device" => parsed.device = Some(value.clone()),
                "o" => {
                    for word in value.split(',').filter(|w| !w.is_empty()) {
                        if FLAGS.iter().any(|(f, _)| *f == word) {
                            parsed.flags.push(word.to_string());
                        } else if NEUTRAL.contains(&word) {
                        } else if let Some(id) = word.strip_prefix("uid=") {
                            parsed.uid = Some(id.parse().map_err(|_| {
                                invalid(format!("invalid volume option o={value}: bad uid"))
                            })?);
                            parsed.data.push(word.to_string());
                        } else if let Some(id) = word.strip_prefix("gid=") {
                            parsed.gid = Some(id.parse().map_err(|_| {
                                invalid(format!("invalid volume option o={value}: bad gid"))
                            })?);
                            parsed.data.push(word.to_string());
                        } else if word.contains(',') || word.chars().any(char::is_whitespace) {
                            return Err(invalid(format!("invalid volume option o={value}")));
                        } else {
                            parsed.data.push(word.to_string());
                        }
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "invalid mount option {other} for driver 'local': use type, device and o"
                    )))
                }
            }
        }
        if parsed.fs_type.as_deref() == Some("tmpfs") {
            // Refused at create, as podman's, not at the first container's mount.
            for size in parsed.data.iter().filter_map(|d| d.strip_prefix("size=")) {
                if !crate::mounts::tmpfs_value_fits("size", size) {
                    return Err(invalid(format!(
                        "invalid tmpfs volume size {size:?}: bytes, with k, m, g, t, p or e, or a % of memory"
                    )));
                }
            }
        }
        let bind = parsed.flags.iter().any(|f| f == "bind" || f == "rbind");
        match (&parsed.device, &parsed.fs_type) {
            (None, None) => {
                // Only an owner: nothing to mount.
                let only_owner = parsed
                    .data
                    .iter()
                    .all(|d| d.starts_with("uid=") || d.starts_with("gid="))
                    && parsed.flags.is_empty();
                if !only_owner {
                    return Err(invalid(
                        "volume options other than o=uid=,gid= need type and device".into(),
                    ));
                }
            }
            (Some(device), _) if bind => {
                if !device.starts_with('/') || !Path::new(device).is_dir() {
                    return Err(invalid(format!(
                        "volume device {device}: a bind needs an existing absolute directory"
                    )));
                }
            }
            (Some(_), Some(_)) => {}
            (Some(_), None) => return Err(invalid("a volume device needs a type".into())),
            (None, Some(t)) => {
                return Err(invalid(format!("volume type {t} needs a device")));
            }
        }
        Ok(parsed)
    }

    /// Whether the volume's directory gets something mounted on it.
    pub fn mounts(&self) -> bool {
        self.device.is_some()
    }

    /// Whether the volume is a host directory bound on its directory (`o=bind`).
    pub fn binds(&self) -> bool {
        self.mounts() && self.flags.iter().any(|f| f == "bind" || f == "rbind")
    }

    /// Whether the options give the volume an owner (`o=uid=`, `o=gid=`).
    pub fn sets_owner(&self) -> bool {
        self.uid.is_some() || self.gid.is_some()
    }

    /// The owner to give the directory of a volume that mounts nothing.
    pub fn owner(&self) -> Option<(Option<u32>, Option<u32>)> {
        (!self.mounts() && (self.uid.is_some() || self.gid.is_some()))
            .then_some((self.uid, self.gid))
    }

    /// Mount the device on `target` unless something is mounted there already.
    pub fn mount_on(&self, target: &Path) -> Result<()> {
        let Some(device) = &self.device else {
            return Ok(());
        };
        if is_mountpoint(target) {
            return Ok(());
        }
        let mut flags = MsFlags::empty();
        for word in &self.flags {
            if let Some((_, f)) = FLAGS.iter().find(|(w, _)| w == word) {
                flags |= *f;
            }
        }
        let data = self.data.join(",");
        let bind = flags.contains(MsFlags::MS_BIND);
        let fs_type = if bind { None } else { self.fs_type.as_deref() };
        mount(
            Some(device.as_str()),
            target,
            fs_type,
            flags,
            (!bind && !data.is_empty()).then_some(data.as_str()),
        )
        .map_err(|errno| {
            // Say which of the volume's options the kernel most likely refused.
            let hint = match (errno, fs_type) {
                (nix::errno::Errno::ENODEV, Some(kind)) => {
                    format!(" (the kernel knows no file system type {kind:?})")
                }
                (nix::errno::Errno::EINVAL, _) if !data.is_empty() => {
                    format!(" (the options given with o=: {data:?})")
                }
                _ => String::new(),
            };
            invalid(format!(
                "mounting volume device {device} (type {}) on {}: {}{hint}",
                fs_type.unwrap_or("bind"),
                target.display(),
                std::io::Error::from(errno)
            ))
        })?;
        // A bind takes its flags (read-only, ...) only from a remount.
        let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if bind && !extra.is_empty() {
            mount(
                None::<&str>,
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
                None::<&str>,
            )
            .map_err(|errno| {
                let _ = umount2(target, MntFlags::MNT_DETACH);
                invalid(format!(
                    "remounting volume {} with its options: {}",
                    target.display(),
                    std::io::Error::from(errno)
                ))
            })?;
        }
        Ok(())
    }
}

/// Bind `source`, a directory a volume plugin mounted a volume on, onto the volume's
/// directory `target`.
pub fn bind_directory(source: &Path, target: &Path) -> Result<()> {
    if !source.is_dir() {
        return Err(invalid(format!(
            "the volume's mount point {} is not a directory",
            source.display()
        )));
    }
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|errno| {
        invalid(format!(
            "binding {} on {}: {}",
            source.display(),
            target.display(),
            std::io::Error::from(errno)
        ))
    })
}

/// Whether `path` is a mount point (listed in this process's mount table).
pub fn is_mountpoint(path: &Path) -> bool {
    let wanted: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    crate::mountinfo::mount_points().is_some_and(|points| points.contains(&wanted))
}

/// Unmount whatever is mounted on `target` (all of it); an error when it stays mounted.
pub fn unmount_all(target: &Path) -> Result<()> {
    for _ in 0..16 {
        if !is_mountpoint(target) {
            return Ok(());
        }
        umount2(target, MntFlags::MNT_DETACH).map_err(|errno| {
            EngineError::io(
                "unmounting the volume's device from",
                target,
                std::io::Error::from(errno),
            )
        })?;
    }
    Err(invalid(format!(
        "{} stays mounted: not removing it",
        target.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn podmans_local_options() {
        let tmpfs = LocalOptions::parse(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=1m,nodev,uid=1000"),
        ]))
        .unwrap();
        assert!(tmpfs.mounts());
        assert_eq!(tmpfs.flags, ["nodev"]);
        assert_eq!(tmpfs.data, ["size=1m", "uid=1000"]);
        assert_eq!(tmpfs.owner(), None);
        let owned = LocalOptions::parse(&opts(&[("o", "uid=1000,gid=1001")])).unwrap();
        assert_eq!(owned.owner(), Some((Some(1000), Some(1001))));
        let bind = LocalOptions::parse(&opts(&[
            ("type", "none"),
            ("device", "/tmp"),
            ("o", "bind,ro"),
        ]))
        .unwrap();
        assert!(bind.mounts());
        for bad in [
            opts(&[("bogus", "1")]),
            opts(&[("o", "size=1m")]),
            opts(&[("device", "/dev/sda1")]),
            opts(&[("type", "tmpfs")]),
            opts(&[("device", "/no/such"), ("o", "bind")]),
            opts(&[("o", "uid=abc")]),
        ] {
            assert!(LocalOptions::parse(&bad).is_err(), "{bad:?}");
        }
        // A tmpfs size the kernel would refuse at the first mount is refused now.
        let tmpfs = |o: &str| {
            LocalOptions::parse(&opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", o)]))
        };
        for good in ["size=1048576", "size=64m", "size=1G", "size=50%"] {
            assert!(tmpfs(good).is_ok(), "{good}");
        }
        for bad in [
            "size=bogus",
            "size=",
            "size=1.5g",
            "size=64mb",
            "size=-1",
            "size=%",
        ] {
            let err = tmpfs(bad).unwrap_err().to_string();
            assert!(err.contains("invalid tmpfs volume size"), "{bad}: {err}");
        }
    }
}
