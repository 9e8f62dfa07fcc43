//! A container's networking at run time: set up at init (namespace, leases, netavark
//! beside the runtime's create), connected and disconnected while it runs, torn down at
//! cleanup, on every failure path, and when a leftover is found. Create-time settling is
//! in `netcreate.rs`.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;

use super::etc_files::write_file;
use super::Engine;
use crate::container::{ContainerRecord, NetworkJoin, NetworkMode};
use crate::network::netavark::{Netavark, NetworkOptions, PerNetworkOptions};
use crate::network::{netns, ports, Attachment};
use crate::spec::Prepared;
use crate::{EngineError, Result};

impl Engine {
    pub(super) fn netavark(&self) -> Result<Netavark> {
        // netavark's own state: private, whatever mode netavark would give it.
        let dir = self.roots.runroot.join("netavark");
        crate::paths::create_private(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
        Netavark::find(dir, &self.options.config.engine.helper_binaries_dir)
    }

    pub(super) fn netns_path(&self, id: &str) -> PathBuf {
        netns::path_for(&self.roots.runroot, id)
    }

    /// The options of the container's last setup, which its teardown needs. Beside the
    /// namespace, not in the container's directories: a teardown may outlive the record.
    fn network_options_file(&self, id: &str) -> PathBuf {
        self.netns_path(id).with_extension("json")
    }

    /// At init, before the runtime creates the container: the namespace made, addresses
    /// leased, the files under /etc written, and netavark started on connecting the
    /// namespace (`PendingSetup`, to be waited for before the process starts). Called
    /// under the lock; on failure nothing is left set up.
    pub(super) fn network_up(
        &self,
        record: &mut ContainerRecord,
    ) -> Result<(Prepared, Option<PendingSetup>)> {
        let mut setup = None;
        let result = (|| {
            let namespace_path = match &record.config.network {
                NetworkMode::Bridge if record.config.id_mappings.is_some() => {
                    setup = Some(self.connect_namespace(record, false)?);
                    None
                }
                NetworkMode::Bridge => {
                    setup = Some(self.connect_namespace(record, true)?);
                    Some(self.netns_path(record.id()))
                }
                NetworkMode::Container(other) => Some(self.shared_namespace(other)?),
                NetworkMode::Path(path) => Some(path.clone()),
                NetworkMode::None | NetworkMode::Host => None,
            };
            let files = self.write_etc_files(record, true)?;
            Ok(Prepared {
                namespace_path,
                files,
                ..Default::default()
            })
        })();
        match result {
            Ok(prepared) => {
                let pending = setup.map(|(netavark, options)| {
                    if prepared.namespace_path.is_some() {
                        self.start_setup(record, netavark, options)
                    } else {
                        PendingSetup::AfterCreate(netavark, options)
                    }
                });
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
        record: &ContainerRecord,
        netavark: Netavark,
        options: NetworkOptions,
    ) -> PendingSetup {
        let path = self.netns_path(record.id());
        // Each bridge with its network's MTU, which its anchor must have too: a bridge
        // takes the smallest MTU of its ports.
        let bridges: Vec<(String, Option<String>)> = options
            .network_info
            .values()
            .filter(|n| n.is_bridge())
            .filter_map(|n| {
                let mtu = n.options.get("mtu").cloned();
                n.network_interface.clone().map(|bridge| (bridge, mtu))
            })
            .collect();
        let handle = std::thread::spawn(move || {
            let attachments = netavark.setup(&path, &options)?;
            for (bridge, mtu) in &bridges {
                crate::network::anchor::ensure(bridge, mtu.as_deref());
            }
            wait_for_dns(&attachments, &options.container_name, &options.container_id);
            Ok(attachments)
        });
        PendingSetup::Running(handle)
    }

    /// Once the runtime created the container (`pid`, not started): a setup that waited
    /// for its network namespace binds it where rpod keeps namespaces and starts; one
    /// already running is left as it is.
    pub(super) fn resume_setup(
        &self,
        record: &ContainerRecord,
        pending: PendingSetup,
        pid: i32,
    ) -> Result<PendingSetup> {
        match pending {
            PendingSetup::AfterCreate(netavark, options) => {
                netns::bind_existing(&self.netns_path(record.id()), pid)?;
                Ok(self.start_setup(record, netavark, options))
            }
            running => Ok(running),
        }
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

    /// Make the namespace (with `make_namespace`; else the runtime makes it:
    /// `PendingSetup::AfterCreate`), lease the addresses and record netavark's options; what
    /// the container will get is known from them (`record.state.networks`), so its files
    /// can be written before netavark has run.
    fn connect_namespace(
        &self,
        record: &mut ContainerRecord,
        make_namespace: bool,
    ) -> Result<(Netavark, NetworkOptions)> {
        let netavark = self.netavark()?;
        // Addresses held by namespaces no container accounts for are freed first.
        self.sweep_network_orphans();
        self.check_ports_free(record)?;
        if self.has_network_leftovers(record.id()) {
            self.network_down(record);
        }
        if make_namespace {
            netns::create(&self.netns_path(record.id()))?;
        }
        let joins = record.config.net.networks.clone();
        let options = self.netavark_options(record, &joins, &[])?;
        self.save_network_options(record.id(), &options)?;
        record.state.networks = expected_attachments(&options);
        Ok((netavark, options))
    }

    /// The name aardvark-dns answers for the container: a pod's infra container answers for
    /// the pod (podman's: the pod's containers share its namespace), any other container for
    /// its own name.
    fn dns_name(&self, record: &ContainerRecord) -> String {
        let pod = record
            .config
            .pod
            .as_ref()
            .and_then(|pod| self.store.lookup_pod(pod).ok());
        match pod {
            Some(pod) if pod.infra_id.as_deref() == Some(record.id()) => pod.name,
            _ => record.config.name.clone(),
        }
    }

    /// netavark's options for joining `joins`, in a namespace whose interfaces are named
    /// `in_use` already; addresses are leased now.
    fn netavark_options(
        &self,
        record: &ContainerRecord,
        joins: &[NetworkJoin],
        in_use: &[String],
    ) -> Result<NetworkOptions> {
        let mut options = NetworkOptions {
            container_id: record.id().to_string(),
            container_name: self.dns_name(record),
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
        let interfaces = crate::network::interface_names(joins, in_use);
        for (join, interface_name) in joins.iter().zip(interfaces) {
            let network = self.network(&join.name)?;
            if network.is_bridge() {
                crate::network::bridge_owner::check_bridge_is_free(&network)?;
            }
            let addresses =
                self.store
                    .lease_addresses(&network, record.id(), &join.static_ips())?;
            let mut aliases = join.aliases.clone();
            // Docker and podman also resolve a container by its short ID.
            aliases.push(record.id()[..12].to_string());
            options.networks.insert(
                network.name.clone(),
                PerNetworkOptions {
                    aliases: Some(aliases),
                    interface_name,
                    static_ips: Some(addresses),
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
            crate::paths::create_private(dir).map_err(|e| EngineError::io("creating", dir, e))?;
        }
        let json = serde_json::to_string(options)
            .map_err(|e| EngineError::InvalidArg(format!("serializing network options: {e}")))?;
        write_file(&self.network_options_file(id), &json)
    }

    pub(super) fn load_network_options(&self, id: &str) -> Option<NetworkOptions> {
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

    /// The lock of a namespace no container accounts for; `None` when another process
    /// holds it (and is tearing it down).
    pub(super) fn try_orphan_lock(&self, id: &str) -> Result<Option<OrphanLock>> {
        let dir = self.roots.lock_dir();
        fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
        let path = self.orphan_lock_path(id);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| EngineError::io("opening", &path, e))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(OrphanLock {
                file,
                path,
                remove_file: true,
            })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(errno) => Err(EngineError::io(
                "locking",
                &path,
                std::io::Error::from(errno),
            )),
        }
    }

    pub(super) fn orphan_lock_path(&self, id: &str) -> PathBuf {
        self.roots.lock_dir().join(format!("netns-{id}.lock"))
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
                crate::names::is_id(&id).then_some(id)
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

    /// The options of a live container's network setup, which it must have.
    fn set_up_network_options(&self, record: &ContainerRecord) -> Result<NetworkOptions> {
        self.load_network_options(record.id()).ok_or_else(|| {
            EngineError::state(
                record.id(),
                format!(
                    "container {} has no network namespace set up",
                    record.config.name
                ),
            )
        })
    }

    /// Connect a live container's namespace to one more network.
    pub(super) fn connect_running(
        &self,
        record: &mut ContainerRecord,
        join: &NetworkJoin,
    ) -> Result<()> {
        let path = self.netns_path(record.id());
        let mut all = self.set_up_network_options(record)?;
        let in_use: Vec<String> = all
            .networks
            .values()
            .map(|n| n.interface_name.clone())
            .collect();
        if let Some(name) = join.interface_name.as_ref().filter(|n| in_use.contains(n)) {
            return Err(EngineError::InvalidArg(format!(
                "container {} has an interface {name} already",
                record.config.name
            )));
        }
        let mut one = self.netavark_options(record, std::slice::from_ref(join), &in_use)?;
        // The container's ports are published on every network it joins, as at its start
        // (and as podman's connect does): its disconnect takes them off that network.
        one.port_mappings = all.port_mappings.clone();
        let attachments = match self.netavark()?.setup(&path, &one) {
            Ok(attachments) => attachments,
            Err(e) => {
                let _ = self.store.release_addresses(record.id(), Some(&join.name));
                return Err(e);
            }
        };
        wait_for_dns(&attachments, &one.container_name, &one.container_id);
        all.networks.extend(one.networks);
        all.network_info.extend(one.network_info);
        self.save_network_options(record.id(), &all)?;
        record.state.networks.extend(attachments);
        self.save(record)?;
        let _ = self.write_etc_files(record, false);
        Ok(())
    }

    /// `network reload`: netavark's teardown and setup again for a live container, with
    /// the addresses and MAC addresses it has, which puts back firewall rules something
    /// else removed (a firewall's reload flushing the tables).
    pub(super) fn reload_running(&self, record: &mut ContainerRecord) -> Result<()> {
        let path = self.netns_path(record.id());
        let mut options = self.set_up_network_options(record)?;
        for (name, network) in options.networks.iter_mut() {
            if let Some(attachment) = record.state.networks.get(name) {
                if network.static_mac.is_none() && !attachment.mac_address.is_empty() {
                    network.static_mac = Some(attachment.mac_address.clone());
                }
            }
        }
        let netavark = self.netavark()?;
        // What is gone already is reported, and does not stop the setup.
        if let Err(e) = netavark.teardown(&path, &options) {
            tracing::info!(id = record.id(), %e, "tearing down before a network reload");
        }
        let attachments = netavark.setup(&path, &options)?;
        self.save_network_options(record.id(), &options)?;
        record.state.networks = attachments;
        self.save(record)
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
        // With the ports: their forwarding to this network's address goes with it (it
        // was left behind, and a connect again published nothing).
        let mut one = all.clone();
        one.networks.retain(|n, _| n == name);
        one.network_info.retain(|n, _| n == name);
        self.netavark()?.teardown(&path, &one)?;
        all.networks.remove(name);
        all.network_info.remove(name);
        self.save_network_options(record.id(), &all)?;
        self.store.release_addresses(record.id(), Some(name))?;
        record.state.networks.remove(name);
        self.save(record)?;
        let _ = self.write_etc_files(record, false);
        Ok(())
    }
}

/// Held while a namespace no container accounts for is torn down; its file goes with it
/// (removed while still locked, so no one else can be holding it). A `flock` lock belongs
/// to the open file, so a child given a copy of the descriptor holds it too
/// (`OrphanLock::leave_to_child`, network_handover.rs).
pub(super) struct OrphanLock {
    pub(super) file: fs::File,
    pub(super) path: PathBuf,
    /// Whether dropping this removes the lock's file: not once it is handed over.
    pub(super) remove_file: bool,
}

impl OrphanLock {
    /// Let go of this lock's descriptor once a child holds a copy of it: the child then
    /// holds the lock alone, and removes its file.
    pub(super) fn leave_to_child(mut self) {
        self.remove_file = false;
    }
}

impl Drop for OrphanLock {
    fn drop(&mut self) {
        if self.remove_file {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A netavark setup: running on its own thread, or waiting for the runtime to make the
/// namespace.
pub(super) enum PendingSetup {
    Running(std::thread::JoinHandle<Result<BTreeMap<String, Attachment>>>),
    /// A container with a user namespace gets a network namespace its user namespace owns,
    /// which only the runtime can make: connected once the runtime made it (podman's
    /// "post-configured" namespace). One of the host's user namespace could not be joined
    /// by runc's exec, which enters the user namespace first.
    AfterCreate(Netavark, NetworkOptions),
}

impl PendingSetup {
    /// What the container got on each network, once netavark is done.
    pub(super) fn wait(self) -> Result<BTreeMap<String, Attachment>> {
        match self {
            PendingSetup::Running(handle) => handle.join().unwrap_or_else(|_| {
                Err(EngineError::InvalidArg(
                    "the thread running netavark setup panicked".into(),
                ))
            }),
            PendingSetup::AfterCreate(..) => Err(EngineError::InvalidArg(
                "a network namespace was to be connected after the runtime's create, which did not happen".into(),
            )),
        }
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
        let mut attachment = Attachment {
            interface: per.interface_name.clone(),
            mac_address: per.static_mac.clone().unwrap_or_default(),
            ..Default::default()
        };
        // Each address with its subnet's prefix and gateway, as netavark configures them.
        for ip in per.static_ips.iter().flatten() {
            let Some(subnet) = network.subnets.iter().find(|s| s.subnet.contains(ip)) else {
                continue;
            };
            if let Ok(address) = ipnet::IpNet::new(*ip, subnet.subnet.prefix_len()) {
                attachment.addresses.push(address);
            }
            if let Some(gateway) = subnet.gateway {
                attachment.add_gateway(gateway);
                if network.dns_enabled && network.is_bridge() {
                    // aardvark-dns answers on every gateway of the network.
                    attachment.dns_servers.push(gateway);
                }
            }
        }
        if network.dns_enabled && network.is_bridge() {
            attachment.dns_search = vec![DNS_SEARCH_DOMAIN.to_string()];
        }
        attachments.insert(name.clone(), attachment);
    }
    attachments
}

/// Wait until aardvark-dns answers for the container on the gateways of its networks with
/// DNS (netavark returns before aardvark-dns has loaded what it wrote; `dns_ready`).
fn wait_for_dns(
    attachments: &BTreeMap<String, Attachment>,
    container_name: &str,
    container_id: &str,
) {
    let mut gateways: Vec<std::net::IpAddr> = attachments
        .values()
        .flat_map(|a| a.dns_servers.iter().copied())
        .collect();
    gateways.sort();
    gateways.dedup();
    if gateways.is_empty() {
        return;
    }
    crate::network::dns_ready::wait_for_answers(&gateways, container_name, container_id);
}

/// The search domain aardvark-dns answers under (netavark's constant).
const DNS_SEARCH_DOMAIN: &str = "dns.podman";
