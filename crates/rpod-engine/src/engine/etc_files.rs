//! The files rpod writes for a container into its run directory and binds over the image's:
//! `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname`, `/run/.containerenv` (their contents
//! are made by `network::etc_files`).

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::Engine;
use crate::confined::{ConfinedDir, ConfinedError};
use crate::container::{ContainerRecord, NetworkMode};
use crate::network::etc_files::{self, HostsInput, ResolvInput};
use crate::{EngineError, Result};

/// The host's files a container's are made from.
const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";
const HOST_HOSTS: &str = "/etc/hosts";

/// Written in place, not replaced: a running container's bind mount keeps seeing the file
/// when it is rewritten (a network connected later).
pub(super) fn write_file(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let write = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.write_all(text.as_bytes())?;
        // rpod's own umask is private; these files are read by the container's users.
        file.set_permissions(fs::Permissions::from_mode(0o644))
    };
    write().map_err(|e| EngineError::io("writing", path, e))
}

/// `/etc/mtab` as a link to `/proc/mounts` in a root that has none, as podman makes it at
/// every start (`mount` and `df` read it). Made inside the root only: an image whose
/// `/etc` is a link gets none, and a root on a read-only file system (`--rootfs`) none
/// either. `root` is the container's root user as the host sees it.
pub(super) fn link_mtab(rootfs: &Path, root: (u32, u32)) -> Result<()> {
    use rustix::fs::{self as rfs, AtFlags};
    use rustix::io::Errno;
    let read_only = |e: &std::io::Error| e.raw_os_error() == Some(Errno::ROFS.raw_os_error());
    let tree = ConfinedDir::open(rootfs)
        .map_err(|e| EngineError::InvalidArg(format!("opening the container's root: {e}")))?;
    let etc = match tree.dir_owned_by(Path::new("etc"), root) {
        Ok(etc) => etc,
        Err(ConfinedError::Escapes { .. }) => return Ok(()),
        Err(ConfinedError::Io { source, .. }) if read_only(&source) => return Ok(()),
        Err(ConfinedError::Io { path, source, .. }) => {
            return Err(EngineError::io("making /etc/mtab in", path, source))
        }
    };
    match rfs::symlinkat("/proc/mounts", &etc, "mtab") {
        Ok(()) => {}
        Err(Errno::EXIST | Errno::ROFS) => return Ok(()),
        Err(e) => return Err(EngineError::io("making /etc/mtab in", rootfs, e.into())),
    }
    if root != (0, 0) {
        rfs::chownat(
            &etc,
            "mtab",
            Some(rfs::Uid::from_raw(root.0)),
            Some(rfs::Gid::from_raw(root.1)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| EngineError::io("setting the owner of /etc/mtab in", rootfs, e.into()))?;
    }
    Ok(())
}

impl Engine {
    /// The `/etc/hosts` lines of a container's Docker links: each linked container's address
    /// (on a network both are on, else its first) under the link's alias and its name. As
    /// Docker's, a start needs its linked containers running (`starting`); a rewrite for a
    /// network connected later leaves out those that are not, and keeps the rest.
    fn link_hosts(
        &self,
        record: &ContainerRecord,
        starting: bool,
    ) -> Result<Vec<etc_files::HostEntry>> {
        let mut entries = Vec::new();
        for link in &record.config.net.links {
            match self.link_host(record, link) {
                Ok(entry) => entries.push(entry),
                Err(e) if starting => return Err(e),
                Err(_) => {}
            }
        }
        Ok(entries)
    }

    /// After a container started (its address may be another than before): the running
    /// containers linked to it get their `/etc/hosts` written again, as Docker's do. One
    /// busy with something else (a start, a stop) is left alone: a start writes its own.
    pub(super) fn refresh_linking_hosts(&self, target: &ContainerRecord) {
        // Links need the target's address on a network.
        if target.config.net.networks.is_empty() {
            return;
        }
        let linking = match self.store.containers_linking_to(target.id()) {
            Ok(linking) => linking,
            Err(e) => {
                tracing::warn!(id = target.id(), %e, "finding the containers linked to it");
                return;
            }
        };
        let running = |r: &ContainerRecord| r.state.status.is_running_or_paused();
        for linker in linking.iter().filter(|r| running(r)) {
            let lock = crate::lock::ContainerLock::try_acquire(
                &self.roots.lock_dir(),
                linker.id(),
                &self.roots.container_dir(linker.id()),
            );
            let Ok(Some(_lock)) = lock else { continue };
            let Ok(Some(linker)) = self.store.container(linker.id()) else {
                continue;
            };
            if running(&linker) {
                if let Err(e) = self.write_etc_files(&linker, false) {
                    tracing::warn!(id = linker.id(), %e, "rewriting the hosts of a linked container");
                }
            }
        }
    }

    /// One link's hosts line (`link_hosts`).
    fn link_host(
        &self,
        record: &ContainerRecord,
        link: &crate::container::ContainerLink,
    ) -> Result<etc_files::HostEntry> {
        let target = self.lookup(&link.container).map_err(|_| {
            EngineError::InvalidArg(format!(
                "cannot link to container {} as {}: it no longer exists",
                link.container, link.alias
            ))
        })?;
        let refused = |why: &str| {
            EngineError::InvalidArg(format!(
                "cannot link to container {} as {}: {why}",
                target.config.name, link.alias
            ))
        };
        if !target.state.status.is_running_or_paused() {
            return Err(refused("it is not running"));
        }
        let shared = record
            .config
            .net
            .networks
            .iter()
            .filter_map(|join| target.state.networks.get(&join.name));
        let address = shared
            .chain(target.state.networks.values())
            .find_map(|a| a.ipv4())
            .ok_or_else(|| refused("it has no address on a network"))?;
        let mut names = vec![link.alias.clone()];
        if target.config.name != link.alias {
            names.push(target.config.name.clone());
        }
        Ok(etc_files::HostEntry {
            names,
            ip: address.addr().to_string(),
        })
    }

    /// The host's address as the container reaches it: its first network's gateway, the
    /// host's end of that network's bridge. A macvlan network's gateway is a router of the
    /// parent's link, not the host, so such a network gives none.
    fn host_address(&self, record: &ContainerRecord) -> Option<IpAddr> {
        let first = record.config.net.networks.first()?;
        let attachment = record.state.networks.get(&first.name)?;
        let bridged = self.network(&first.name).map_or(true, |n| n.is_bridge());
        attachment.any_gateway().filter(|_| bridged)
    }

    /// Write /etc/hosts, /etc/resolv.conf, /etc/hostname and /run/.containerenv into the
    /// container's run directory; the bind mounts that put them in place.
    /// `starting`: for a start (its links must all be there), not a rewrite after a
    /// network change.
    pub(super) fn write_etc_files(
        &self,
        record: &ContainerRecord,
        starting: bool,
    ) -> Result<Vec<(PathBuf, String)>> {
        let config = &record.config;
        let dir = self.roots.run_dir(record.id());
        fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
        let mut mounts = Vec::new();

        let hostname = dir.join("hostname");
        write_file(&hostname, &format!("{}\n", config.hostname))?;
        mounts.push((hostname, "/etc/hostname".to_string()));

        if let NetworkMode::Container(other) = &config.network {
            // The other container's name resolution is this one's too.
            let other_dir = self.roots.run_dir(other);
            for (file, destination) in
                [("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf")]
            {
                let source = other_dir.join(file);
                if source.exists() && !(file == "hosts" && config.net.no_hosts) {
                    mounts.push((source, destination.to_string()));
                }
            }
        } else {
            let host_network = config.network == NetworkMode::Host;
            let attachments: Vec<&crate::network::Attachment> = config
                .net
                .networks
                .iter()
                .filter_map(|join| record.state.networks.get(&join.name))
                .collect();
            // Every address on every network (a dual-stack network's IPv4 and IPv6 ones), as
            // podman writes them.
            let own: Vec<IpAddr> = attachments
                .iter()
                .flat_map(|a| a.addresses.iter().map(|n| n.addr()))
                .collect();
            let network_servers: Vec<IpAddr> = attachments
                .iter()
                .flat_map(|a| a.dns_servers.iter().copied())
                .collect();
            let network_search: Vec<String> = attachments
                .iter()
                .flat_map(|a| a.dns_search.iter().cloned())
                .fold(Vec::new(), |mut all, s| {
                    if !all.contains(&s) {
                        all.push(s);
                    }
                    all
                });
            if !config.net.no_hosts {
                let host_hosts =
                    host_network.then(|| fs::read_to_string(HOST_HOSTS).unwrap_or_default());
                let mut add_hosts = self.link_hosts(record, starting)?;
                add_hosts.extend(config.net.add_hosts.iter().cloned());
                let text = etc_files::hosts(&HostsInput {
                    base: host_hosts.as_deref(),
                    add_hosts: &add_hosts,
                    own_addresses: &own,
                    hostname: &config.hostname,
                    name: &config.name,
                    host_address: self.host_address(record),
                });
                let hosts = dir.join("hosts");
                write_file(&hosts, &text)?;
                mounts.push((hosts, "/etc/hosts".to_string()));
            }
            let host_resolv = fs::read_to_string(HOST_RESOLV_CONF).unwrap_or_default();
            let text = etc_files::resolv_conf(&ResolvInput {
                host: &host_resolv,
                host_network,
                network_servers: &network_servers,
                network_search: &network_search,
                dns: &config.net.dns_servers,
                dns_search: &config.net.dns_search,
                dns_options: &config.net.dns_options,
            });
            let resolv = dir.join("resolv.conf");
            write_file(&resolv, &text)?;
            mounts.push((resolv, "/etc/resolv.conf".to_string()));
        }

        // `--chrootdirs`: the name resolution files under each directory's `etc` too, as
        // podman binds them (not `/etc/hostname`).
        let for_chroots: Vec<(PathBuf, String)> = mounts
            .iter()
            .filter(|(_, at)| at == "/etc/hosts" || at == "/etc/resolv.conf")
            .flat_map(|(file, at)| {
                config
                    .chroot_dirs
                    .iter()
                    .map(move |dir| (file.clone(), format!("{}{at}", dir.trim_end_matches('/'))))
            })
            .collect();
        mounts.extend(for_chroots);

        let containerenv = dir.join("containerenv");
        write_file(
            &containerenv,
            &etc_files::containerenv(
                &config.name,
                &config.id,
                &config.image_name,
                &config.image_id,
            ),
        )?;
        mounts.push((containerenv, "/run/.containerenv".to_string()));
        Ok(mounts)
    }
}

#[cfg(test)]
mod tests {
    use super::link_mtab;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn mtab_is_linked_inside_the_root_only() {
        // A root without /etc gets one, with the link.
        let root = tempfile::tempdir().unwrap();
        link_mtab(root.path(), (0, 0)).unwrap();
        let link = root.path().join("etc/mtab");
        assert_eq!(fs::read_link(&link).unwrap().to_str(), Some("/proc/mounts"));
        // An image's own /etc/mtab stays as it is.
        fs::remove_file(&link).unwrap();
        fs::write(&link, "mine").unwrap();
        link_mtab(root.path(), (0, 0)).unwrap();
        assert_eq!(fs::read_to_string(&link).unwrap(), "mine");
        // An /etc that is a link (here to a directory outside the root) is not followed.
        let outside = tempfile::tempdir().unwrap();
        let linked = tempfile::tempdir().unwrap();
        symlink(outside.path(), linked.path().join("etc")).unwrap();
        link_mtab(linked.path(), (0, 0)).unwrap();
        assert!(fs::read_dir(outside.path()).unwrap().next().is_none());
    }
}
