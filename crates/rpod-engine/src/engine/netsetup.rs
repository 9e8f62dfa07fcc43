//! A container's networking over its life: settled at create (mode, networks, ports),
//! set up before the runtime creates it (namespace, netavark, the files under /etc), and
//! torn down at cleanup, on every failure path, and when a leftover is found.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{CreateOptions, Engine};
use crate::container::{ContainerRecord, NetworkConfig, NetworkJoin, NetworkMode, Status};
use crate::network::etc_files::{self, HostsInput, ResolvInput};
use crate::network::netavark::{Netavark, NetworkOptions, PerNetworkOptions};
use crate::network::{ipam, netns, ports, Attachment};
use crate::spec::Prepared;
use crate::{EngineError, Result};

/// The host's files a container's are made from.
const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";
const HOST_HOSTS: &str = "/etc/hosts";

/// Written in place, not replaced: a running container's bind mount keeps seeing the file
/// when it is rewritten (a network connected later).
fn write_file(path: &Path, text: &str) -> Result<()> {
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

impl Engine {
    pub(super) fn netavark(&self) -> Result<Netavark> {
        Netavark::find(self.roots.runroot.join("netavark"))
    }

    pub(super) fn netns_path(&self, id: &str) -> PathBuf {
        netns::path_for(&self.roots.runroot, id)
    }

    /// The options of the container's last setup, which its teardown needs. Beside the
    /// namespace, not in the container's directories: a teardown may outlive the record.
    fn network_options_file(&self, id: &str) -> PathBuf {
        self.netns_path(id).with_extension("json")
    }

    /// Settle a new container's network mode and settings: names resolved, networks
    /// checked, `-P` expanded, free host ports chosen.
    pub(super) fn network_for_create(
        &self,
        options: &CreateOptions,
        exposed: &[String],
    ) -> Result<(NetworkMode, NetworkConfig)> {
        let mode = match &options.network {
            Some(NetworkMode::Container(name)) => {
                NetworkMode::Container(self.lookup(name)?.id().to_string())
            }
            Some(NetworkMode::Path(path)) => {
                if !path.exists() {
                    return Err(EngineError::InvalidArg(format!(
                        "network namespace {} does not exist",
                        path.display()
                    )));
                }
                NetworkMode::Path(path.clone())
            }
            Some(mode) => mode.clone(),
            None => match self.options.config.default_network_mode() {
                "none" => NetworkMode::None,
                "host" => NetworkMode::Host,
                _ => NetworkMode::Bridge,
            },
        };
        let mut net = options.net.clone();
        let per_network = options.ip.is_some()
            || options.mac_address.is_some()
            || !options.network_aliases.is_empty();
        if mode != NetworkMode::Bridge {
            if !net.networks.is_empty() || per_network {
                return Err(EngineError::InvalidArg(format!(
                    "networks, --ip, --mac-address and --network-alias need a bridged network, not --network {}",
                    mode.as_string()
                )));
            }
            if !net.ports.is_empty() || net.publish_all {
                // podman drops them too, with the same warning.
                tracing::warn!(
                    "port mappings have been discarded as the network mode {} does not publish ports",
                    mode.as_string()
                );
                net.ports.clear();
                net.publish_all = false;
            }
            if matches!(mode, NetworkMode::Container(_))
                && (!net.dns_servers.is_empty()
                    || !net.dns_search.is_empty()
                    || !net.dns_options.is_empty()
                    || !net.add_hosts.is_empty())
            {
                return Err(EngineError::InvalidArg(
                    "--dns, --dns-search, --dns-option and --add-host cannot be used with --network container: the other container's files are shared".into(),
                ));
            }
            return Ok((mode, net));
        }
        if net.networks.is_empty() {
            net.networks.push(NetworkJoin {
                name: self.default_network_name().to_string(),
                ..Default::default()
            });
        }
        let mut seen = Vec::new();
        for join in &mut net.networks {
            let network = self.network(&join.name)?;
            join.name = network.name.clone();
            if seen.contains(&join.name) {
                return Err(EngineError::InvalidArg(format!(
                    "network {} is given twice",
                    join.name
                )));
            }
            seen.push(join.name.clone());
            if let Some(ip) = join.ip {
                ipam::check_static(&network, ip)?;
            }
        }
        let first = &mut net.networks[0];
        if let Some(ip) = options.ip {
            let network = self.network(&first.name)?;
            ipam::check_static(&network, ip)?;
            first.ip = Some(ip);
        }
        if let Some(mac) = &options.mac_address {
            if !valid_mac(mac) {
                return Err(EngineError::InvalidArg(format!(
                    "invalid --mac-address {mac:?}: expected six hex bytes like 92:d0:c6:0a:29:33"
                )));
            }
            first.mac = Some(mac.clone());
        }
        for alias in &options.network_aliases {
            if !crate::names::valid_name(alias) {
                return Err(EngineError::InvalidArg(format!(
                    "invalid --network-alias {alias:?}"
                )));
            }
            first.aliases.push(alias.clone());
        }
        for server in &net.dns_servers {
            if server.parse::<IpAddr>().is_err() {
                return Err(EngineError::InvalidArg(format!(
                    "invalid --dns {server:?}: not an IP address"
                )));
            }
        }
        if net.publish_all {
            // The image's exposed ports that are not published already.
            for key in exposed {
                for mapping in ports::parse_exposed(key)? {
                    let published = net.ports.iter().any(|p| {
                        p.protocol == mapping.protocol
                            && (p.container_port..p.container_port + p.range)
                                .contains(&mapping.container_port)
                    });
                    if !published {
                        net.ports.push(mapping);
                    }
                }
            }
        }
        ports::assign_host_ports(&mut net.ports)?;
        Ok((mode, net))
    }

    /// Before the runtime creates the container: its namespace connected to its networks,
    /// and the files under /etc written. Called under the lock; on failure nothing is
    /// left set up.
    pub(super) fn network_up(
        &self,
        record: &mut ContainerRecord,
    ) -> Result<(Prepared, Option<PendingSetup>)> {
        let mut options = None;
        let result = (|| {
            let namespace_path = match &record.config.network {
                NetworkMode::Bridge => {
                    options = Some(self.connect_namespace(record)?);
                    Some(self.netns_path(record.id()))
                }
                NetworkMode::Container(other) => Some(self.shared_namespace(other)?),
                NetworkMode::Path(path) => Some(path.clone()),
                NetworkMode::None | NetworkMode::Host => None,
            };
            let files = self.write_etc_files(record)?;
            Ok(Prepared {
                namespace_path,
                files,
                ..Default::default()
            })
        })();
        match result {
            Ok(prepared) => {
                let pending = match options {
                    Some(options) => Some(self.start_setup(record, options)?),
                    None => None,
                };
                Ok((prepared, pending))
            }
            Err(e) => {
                self.network_down(record);
                Err(e)
            }
        }
    }

    /// Start netavark's setup on a thread, to run beside the runtime's create: the
    /// namespace only needs to be connected before the process starts.
    fn start_setup(
        &self,
        record: &mut ContainerRecord,
        options: NetworkOptions,
    ) -> Result<PendingSetup> {
        let netavark = match self.netavark() {
            Ok(netavark) => netavark,
            Err(e) => {
                self.network_down(record);
                return Err(e);
            }
        };
        let path = self.netns_path(record.id());
        let bridges: Vec<String> = options
            .network_info
            .values()
            .filter_map(|n| n.network_interface.clone())
            .collect();
        let handle = std::thread::spawn(move || {
            let attachments = netavark.setup(&path, &options)?;
            for bridge in &bridges {
                crate::network::anchor::ensure(bridge);
            }
            Ok(attachments)
        });
        Ok(PendingSetup { handle })
    }

    /// The namespace of a running container whose network another one joins.
    fn shared_namespace(&self, id: &str) -> Result<PathBuf> {
        Ok(PathBuf::from(format!(
            "/proc/{}/ns/net",
            self.running_pid(id, "network")?
        )))
    }

    /// The PID of a running container another one shares a namespace (`what`) with.
    pub(super) fn running_pid(&self, id: &str, what: &str) -> Result<i32> {
        let mut other = self
            .store
            .container(id)?
            .ok_or_else(|| EngineError::NoSuchContainer(id.to_string()))?;
        self.sync(&mut other)?;
        if !matches!(other.state.status, Status::Running | Status::Paused) || other.state.pid <= 0 {
            return Err(EngineError::state(
                id,
                format!(
                    "container {} must be running to share its {what} namespace",
                    other.config.name
                ),
            ));
        }
        Ok(other.state.pid)
    }

    /// The other namespaces a container joins (`--pid`, `--ipc`, `--uts container:`), the
    /// host's `/dev/shm` with its IPC namespace, and the `--group-add` groups. Another
    /// container's `/dev/shm` is a mount in its own mount namespace, which cannot be bound
    /// from here: `--ipc container:` shares System V IPC and message queues, not `/dev/shm`.
    pub(super) fn join_namespaces(
        &self,
        record: &ContainerRecord,
        root: &Path,
        prepared: &mut Prepared,
    ) -> Result<()> {
        use crate::isolation::NamespaceMode;
        use oci_spec::runtime::LinuxNamespaceType;
        let iso = &record.config.isolation;
        for (mode, typ, name, what) in [
            (&iso.pid, LinuxNamespaceType::Pid, "pid", "PID"),
            (&iso.ipc, LinuxNamespaceType::Ipc, "ipc", "IPC"),
            (&iso.uts, LinuxNamespaceType::Uts, "uts", "UTS"),
        ] {
            if let NamespaceMode::Container(other) = mode {
                let pid = self.running_pid(other, what)?;
                prepared
                    .shared
                    .push((typ, PathBuf::from(format!("/proc/{pid}/ns/{name}"))));
            }
        }
        if iso.ipc == NamespaceMode::Host {
            prepared.shm_source = Some(PathBuf::from("/dev/shm"));
        }
        prepared.extra_gids = crate::spec::resolve_groups(root, &iso.group_add)?;
        Ok(())
    }

    /// Refuse host ports another running container publishes, or something on the host
    /// listens on: netavark would forward them all the same, and one of the two would
    /// silently lose its traffic.
    fn check_ports_free(&self, record: &ContainerRecord) -> Result<()> {
        let mine = ports::expand(&record.config.net.ports);
        if mine.is_empty() {
            return Ok(());
        }
        let overlaps = |a: &str, b: &str| a == b || a == "0.0.0.0" || b == "0.0.0.0";
        for other in self.store.containers()? {
            if other.id() == record.id() || other.state.networks.is_empty() {
                continue;
            }
            for (_, protocol, ip, port) in ports::expand(&other.config.net.ports) {
                if let Some((_, _, _, taken)) = mine
                    .iter()
                    .find(|(_, p, i, h)| *p == protocol && *h == port && overlaps(i, &ip))
                {
                    return Err(EngineError::InvalidArg(format!(
                        "failed to publish host port {taken}/{protocol}: it is already published by container {}",
                        other.config.name
                    )));
                }
            }
        }
        for (_, protocol, ip, port) in &mine {
            if !ports::host_port_free(ip, protocol, *port) {
                return Err(EngineError::InvalidArg(format!(
                    "failed to publish host port {port}/{protocol} on {ip}: address already in use"
                )));
            }
        }
        Ok(())
    }

    /// Make the namespace, lease the addresses and record netavark's options; what the
    /// container will get is known from them (`record.state.networks`), so its files can be
    /// written before netavark has run.
    fn connect_namespace(&self, record: &mut ContainerRecord) -> Result<NetworkOptions> {
        // Addresses and ports of containers already removed whose teardown never finished
        // are freed first.
        self.sweep_network_orphans();
        self.check_ports_free(record)?;
        if self.has_network_leftovers(record.id()) {
            self.network_down(record);
        }
        let path = self.netns_path(record.id());
        netns::create(&path)?;
        let joins = record.config.net.networks.clone();
        let options = self.netavark_options(record, &joins, 0)?;
        self.save_network_options(record.id(), &options)?;
        record.state.networks = expected_attachments(&options);
        Ok(options)
    }

    /// netavark's options for joining `joins`, whose first gets `eth{first_index}`;
    /// addresses are leased now.
    fn netavark_options(
        &self,
        record: &ContainerRecord,
        joins: &[NetworkJoin],
        first_index: usize,
    ) -> Result<NetworkOptions> {
        let mut options = NetworkOptions {
            container_id: record.id().to_string(),
            container_name: record.config.name.clone(),
            networks: Default::default(),
            network_info: Default::default(),
            port_mappings: Some(record.config.net.ports.clone()).filter(|p| !p.is_empty()),
            dns_servers: Some(
                record
                    .config
                    .net
                    .dns_servers
                    .iter()
                    .filter_map(|s| s.parse().ok())
                    .collect::<Vec<IpAddr>>(),
            )
            .filter(|s| !s.is_empty()),
        };
        for (index, join) in joins.iter().enumerate() {
            let network = self.network(&join.name)?;
            let address = self.store.lease_address(&network, record.id(), join.ip)?;
            let mut aliases = join.aliases.clone();
            // Docker and podman also resolve a container by its short ID.
            aliases.push(record.id()[..12].to_string());
            options.networks.insert(
                network.name.clone(),
                PerNetworkOptions {
                    aliases: Some(aliases),
                    interface_name: format!("eth{}", first_index + index),
                    static_ips: Some(vec![IpAddr::V4(address)]),
                    static_mac: join.mac.clone(),
                },
            );
            options.network_info.insert(network.name.clone(), network);
        }
        Ok(options)
    }

    pub(super) fn save_network_options(&self, id: &str, options: &NetworkOptions) -> Result<()> {
        let file = self.network_options_file(id);
        if let Some(dir) = file.parent() {
            fs::create_dir_all(dir).map_err(|e| EngineError::io("creating", dir, e))?;
        }
        let json = serde_json::to_string(options)
            .map_err(|e| EngineError::InvalidArg(format!("serializing network options: {e}")))?;
        write_file(&self.network_options_file(id), &json)
    }

    fn load_network_options(&self, id: &str) -> Option<NetworkOptions> {
        let text = fs::read(self.network_options_file(id)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Undo `network_up`, as far as it got: netavark's teardown (interfaces, firewall
    /// rules, DNS entries), the namespace, the leases. Never fails. netavark's teardown goes
    /// on past what it cannot find (a setup that was interrupted made only part of it) and
    /// reports it; there is nothing a later attempt could do better, so the namespace and
    /// the addresses go in any case, and what netavark reported is logged.
    pub(super) fn network_down(&self, record: &mut ContainerRecord) {
        self.teardown_network(record.id());
        record.state.networks.clear();
    }

    pub(super) fn teardown_network(&self, id: &str) {
        let path = self.netns_path(id);
        if let Some(options) = self.load_network_options(id) {
            if netns::is_bound(&path) {
                let result = self
                    .netavark()
                    .and_then(|netavark| netavark.teardown(&path, &options));
                if let Err(e) = result {
                    tracing::warn!(id, %e, "tearing the container's network down");
                }
            }
        }
        if let Err(e) = netns::remove(&path) {
            tracing::warn!(id, %e, "removing the container's network namespace");
        }
        let _ = fs::remove_file(self.network_options_file(id));
        if let Err(e) = self.store.release_addresses(id, None) {
            tracing::warn!(id, %e, "releasing the container's addresses");
        }
    }

    /// Tear down the network a removed container left (its namespace file and netavark's
    /// options remain, its record does not). One sweeper at a time per namespace.
    fn teardown_network_orphan(&self, id: &str) -> Result<()> {
        if self.store.container(id)?.is_some() {
            return Err(EngineError::InvalidArg(format!(
                "container {id} exists: its network is its own to tear down"
            )));
        }
        let Some(_lock) = self.try_orphan_lock(id)? else {
            return Ok(());
        };
        self.teardown_network(id);
        Ok(())
    }

    pub(super) fn try_orphan_lock(&self, id: &str) -> Result<Option<nix::fcntl::Flock<fs::File>>> {
        let dir = self.roots.lock_dir();
        fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
        let path = dir.join(format!("netns-{id}.lock"));
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| EngineError::io("opening", &path, e))?;
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(lock)),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(EngineError::io(
                "locking",
                &path,
                std::io::Error::from(errno),
            )),
        }
    }

    /// Tear down namespaces no container accounts for: a `network rm` killed while it
    /// retired its bridge, a record lost with a damaged database. Containers that exist
    /// are left to their own cleanup.
    pub(super) fn sweep_network_orphans(&self) {
        let dir = self.roots.runroot.join("netns");
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = name.strip_suffix(".json").unwrap_or(&name).to_string();
                (id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit())).then_some(id)
            })
            .collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            if let Ok(None) = self.store.container(&id) {
                tracing::info!(
                    id,
                    "tearing down a network namespace no container accounts for"
                );
                if let Err(e) = self.teardown_network_orphan(&id) {
                    tracing::warn!(id, %e, "tearing down a left network");
                }
            }
        }
    }

    /// Whether a network namespace of this container is still around.
    pub(super) fn has_network_leftovers(&self, id: &str) -> bool {
        self.netns_path(id).exists() || self.network_options_file(id).exists()
    }

    /// Connect a live container's namespace to one more network.
    pub(super) fn connect_running(
        &self,
        record: &mut ContainerRecord,
        join: &NetworkJoin,
    ) -> Result<()> {
        let path = self.netns_path(record.id());
        let mut all = self.load_network_options(record.id()).ok_or_else(|| {
            EngineError::state(
                record.id(),
                format!(
                    "container {} has no network namespace set up",
                    record.config.name
                ),
            )
        })?;
        let index = all.networks.len();
        let mut one = self.netavark_options(record, std::slice::from_ref(join), index)?;
        // Ports are published once, with the first network.
        one.port_mappings = None;
        let attachments = match self.netavark()?.setup(&path, &one) {
            Ok(attachments) => attachments,
            Err(e) => {
                let _ = self.store.release_addresses(record.id(), Some(&join.name));
                return Err(e);
            }
        };
        all.networks.extend(one.networks);
        all.network_info.extend(one.network_info);
        self.save_network_options(record.id(), &all)?;
        record.state.networks.extend(attachments);
        self.save(record)?;
        let _ = self.write_etc_files(record);
        Ok(())
    }

    /// Disconnect a live container's namespace from one network.
    pub(super) fn disconnect_running(
        &self,
        record: &mut ContainerRecord,
        name: &str,
    ) -> Result<()> {
        let path = self.netns_path(record.id());
        let Some(mut all) = self.load_network_options(record.id()) else {
            record.state.networks.remove(name);
            return Ok(());
        };
        let mut one = all.clone();
        one.networks.retain(|n, _| n == name);
        one.network_info.retain(|n, _| n == name);
        one.port_mappings = None;
        self.netavark()?.teardown(&path, &one)?;
        all.networks.remove(name);
        all.network_info.remove(name);
        self.save_network_options(record.id(), &all)?;
        self.store.release_addresses(record.id(), Some(name))?;
        record.state.networks.remove(name);
        self.save(record)?;
        let _ = self.write_etc_files(record);
        Ok(())
    }

    /// Write /etc/hosts, /etc/resolv.conf, /etc/hostname and /run/.containerenv into the
    /// container's run directory; the bind mounts that put them in place.
    fn write_etc_files(&self, record: &ContainerRecord) -> Result<Vec<(PathBuf, String)>> {
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
            let own: Vec<IpAddr> = attachments
                .iter()
                .filter_map(|a| a.ipv4())
                .map(|a| a.addr())
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
                let text = etc_files::hosts(&HostsInput {
                    base: host_hosts.as_deref(),
                    add_hosts: &config.net.add_hosts,
                    own_addresses: &own,
                    hostname: &config.hostname,
                    name: &config.name,
                    host_address: attachments.first().and_then(|a| a.gateway),
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

/// A netavark setup running on its own thread.
pub(super) struct PendingSetup {
    handle: std::thread::JoinHandle<Result<BTreeMap<String, Attachment>>>,
}

impl PendingSetup {
    /// What the container got on each network, once netavark is done.
    pub(super) fn wait(self) -> Result<BTreeMap<String, Attachment>> {
        self.handle.join().unwrap_or_else(|_| {
            Err(EngineError::InvalidArg(
                "the thread running netavark setup panicked".into(),
            ))
        })
    }
}

/// What netavark will give a container, known from its options: rpod chose the addresses,
/// the gateway is the network's, and aardvark-dns answers on the gateway of a network with
/// DNS, under podman's search domain.
fn expected_attachments(options: &NetworkOptions) -> BTreeMap<String, Attachment> {
    let mut attachments = BTreeMap::new();
    for (name, per) in &options.networks {
        let Some(network) = options.network_info.get(name) else {
            continue;
        };
        let subnet = network.subnets.first();
        let gateway = subnet.and_then(|s| s.gateway).map(IpAddr::V4);
        let addresses = per
            .static_ips
            .iter()
            .flatten()
            .filter_map(|ip| {
                let prefix = subnet.map(|s| s.subnet.prefix_len()).unwrap_or(32);
                ipnet::IpNet::new(*ip, prefix).ok()
            })
            .collect();
        attachments.insert(
            name.clone(),
            Attachment {
                interface: per.interface_name.clone(),
                mac_address: per.static_mac.clone().unwrap_or_default(),
                addresses,
                gateway,
                dns_servers: if network.dns_enabled {
                    gateway.into_iter().collect()
                } else {
                    Vec::new()
                },
                dns_search: if network.dns_enabled {
                    vec![DNS_SEARCH_DOMAIN.to_string()]
                } else {
                    Vec::new()
                },
            },
        );
    }
    attachments
}

/// The search domain aardvark-dns answers under (netavark's constant).
const DNS_SEARCH_DOMAIN: &str = "dns.podman";

fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mac_addresses() {
        assert!(super::valid_mac("92:d0:c6:0a:29:33"));
        assert!(!super::valid_mac("92:d0:c6:0a:29"));
        assert!(!super::valid_mac("92:d0:c6:0a:29:zz"));
    }
}
