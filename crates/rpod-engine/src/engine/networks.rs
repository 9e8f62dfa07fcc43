//! Networks: create, list, inspect, remove, prune, and connecting containers to them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Engine, RemoveOptions};
use crate::container::{NetworkJoin, NetworkMode, Status};
use crate::events::EventType;
use crate::lock::ContainerLock;
use crate::network::definitions::{Definitions, HostNetworking, NetworkRequest, SubnetRequest};
use crate::network::Network;
use crate::{EngineError, Result};

/// The lock that orders changes to network definitions (a name no container id can have).
const NETWORKS_LOCK: &str = "networks";

impl Engine {
    pub(super) fn definitions(&self) -> Definitions {
        Definitions::new(&self.network_config_dir())
    }

    /// Where the network definitions are: `--network-config-dir`, else rpod.conf's
    /// `network_config_dir`, else ROOT/networks.
    pub fn network_config_dir(&self) -> PathBuf {
        self.options
            .network_config_dir
            .clone()
            .or_else(|| self.options.config.network.network_config_dir.clone())
            .unwrap_or_else(|| self.roots.root.join("networks"))
    }

    fn networks_lock(&self) -> Result<ContainerLock> {
        let definitions = self.definitions();
        std::fs::create_dir_all(definitions.dir())
            .map_err(|e| EngineError::io("creating", definitions.dir(), e))?;
        ContainerLock::acquire(&self.roots.lock_dir(), NETWORKS_LOCK, definitions.dir())
    }

    /// The networks' lock shared: held from the moment a container being made or
    /// connected finds its networks until it is recorded as theirs, so that a network's
    /// removal (which holds the lock alone and then counts its containers) cannot take a
    /// network away under it. The default network is made first if it is missing (its
    /// making needs the lock alone); it is never removed but by `system reset`.
    pub(super) fn networks_shared_lock(&self) -> Result<ContainerLock> {
        self.ensure_default_network()?;
        let dir = self.definitions().dir().to_path_buf();
        ContainerLock::acquire_shared(&self.roots.lock_dir(), NETWORKS_LOCK, &dir)
    }

    /// The name `bridge` stands for.
    pub fn default_network_name(&self) -> &str {
        self.options.config.default_network()
    }

    pub fn network_create(&self, mut request: NetworkRequest) -> Result<Network> {
        let _lock = self.networks_lock()?;
        if request.name.is_empty() {
            let taken: Vec<String> = self
                .definitions()
                .list()?
                .into_iter()
                .map(|n| n.name)
                .collect();
            request.name = (1..)
                .map(|n| format!("rpod{n}"))
                .find(|n| !taken.contains(n))
                .unwrap_or_default();
        }
        if request.name == "bridge" || request.name == "none" || request.name == "host" {
            return Err(EngineError::InvalidArg(format!(
                "cannot create network with name {:?} because it conflicts with a valid network mode",
                request.name
            )));
        }
        let network = self
            .definitions()
            .create(&request, &HostNetworking::read())?;
        self.network_event(&network, "create", &[]);
        Ok(network)
    }

    fn network_event(&self, network: &Network, status: &str, extra: &[(&str, String)]) {
        let mut attributes = vec![("type", network.driver.clone())];
        attributes.extend(extra.iter().cloned());
        self.object_event(
            EventType::Network,
            &network.id,
            &network.name,
            status,
            &attributes,
        );
    }

    /// A network by name or ID; the default network exists once asked for.
    pub fn network(&self, name_or_id: &str) -> Result<Network> {
        match self.definitions().get(name_or_id) {
            Err(EngineError::NoSuchNetwork(_)) if name_or_id == self.default_network_name() => {
                self.ensure_default_network()
            }
            other => other,
        }
    }

    /// Every network, the default one included (made now if it does not exist yet).
    pub fn networks(&self) -> Result<Vec<Network>> {
        self.ensure_default_network()?;
        self.definitions().list()
    }

    /// Make the default network on first use: no DNS (as podman's default), the
    /// configured subnet or a free one.
    pub(super) fn ensure_default_network(&self) -> Result<Network> {
        let name = self.default_network_name().to_string();
        if let Ok(network) = self.definitions().get(&name) {
            return Ok(network);
        }
        let _lock = self.networks_lock()?;
        if let Ok(network) = self.definitions().get(&name) {
            return Ok(network);
        }
        let request = NetworkRequest {
            name,
            subnets: self
                .options
                .config
                .network
                .default_subnet
                .map(|subnet| SubnetRequest::new(subnet.into()))
                .into_iter()
                .collect(),
            disable_dns: true,
            ..Default::default()
        };
        self.definitions().create(&request, &HostNetworking::read())
    }

    /// The networks that bridged containers are configured to join, from one read of the
    /// containers (a list's `dangling` filter asks it once, not once per network).
    pub fn networks_in_use(&self) -> Result<std::collections::HashSet<String>> {
        Ok(self
            .store
            .containers()?
            .into_iter()
            .filter(|c| c.config.network == NetworkMode::Bridge)
            .flat_map(|c| c.config.net.networks.into_iter().map(|n| n.name))
            .collect())
    }

    /// The containers configured to join a network, by name.
    pub fn network_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .containers()?
            .into_iter()
            .filter(|c| {
                c.config.network == NetworkMode::Bridge
                    && c.config.net.networks.iter().any(|n| n.name == name)
            })
            .map(|c| c.config.name)
            .collect())
    }

    /// Remove a network; with `force` its containers are removed first. The default
    /// network is refused, as podman refuses it: its containers would lose their network,
    /// and it would come back at the next use anyway (`system reset` alone removes it).
    pub fn network_remove(
        &self,
        name_or_id: &str,
        force: bool,
        timeout: Option<u32>,
    ) -> Result<String> {
        let default = self.default_network_name();
        let network = match self.definitions().get(name_or_id) {
            // Not made yet: refused all the same, and not made to be refused.
            Err(EngineError::NoSuchNetwork(_)) if name_or_id == default => {
                return Err(EngineError::DefaultNetwork(default.to_string()))
            }
            found => found?,
        };
        if network.name == default {
            return Err(EngineError::DefaultNetwork(network.name));
        }
        self.remove_network(network, force, timeout)
    }

    /// Remove a network, the default one too (`system reset`).
    pub(super) fn remove_network(
        &self,
        network: Network,
        force: bool,
        timeout: Option<u32>,
    ) -> Result<String> {
        let users = self.network_users(&network.name)?;
        if !users.is_empty() {
            if !force {
                return Err(EngineError::NetworkInUse {
                    name: network.name,
                    containers: users.join(", "),
                });
            }
            for user in &users {
                match self.remove(
                    user,
                    RemoveOptions {
                        force: true,
                        timeout,
                        volumes: false,
                    },
                ) {
                    Ok(_) | Err(EngineError::NoSuchContainer(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let _lock = self.networks_lock()?;
        let users = self.network_users(&network.name)?;
        if !users.is_empty() {
            return Err(EngineError::NetworkInUse {
                name: network.name,
                containers: users.join(", "),
            });
        }
        // Teardowns still pending (also those of the containers removed above) must not
        // find their network gone: those left by processes that died are done here; those
        // that removals handed over hold netavark's host-wide lock, which retiring the
        // bridge waits for (network_handover.rs).
        self.sweep_network_orphans();
        self.retire_bridge(&network)?;
        self.definitions().remove(&network.name)?;
        self.network_event(&network, "remove", &[]);
        Ok(network.name)
    }

    /// Remove every network no container uses, except the default one; with `filters`
    /// (`label=`, `label!=`, `until=`), only networks that pass them all.
    pub fn network_prune(&self, filters: &[String]) -> Result<Vec<String>> {
        let groups = crate::filter_values::group_by_key(filters);
        for (key, _) in &groups {
            crate::filter_values::check_key("network prune", key, &["label", "label!", "until"])?;
        }
        let mut removed = Vec::new();
        'networks: for network in self.definitions().list()? {
            if network.name == self.default_network_name() {
                continue;
            }
            for (key, values) in &groups {
                // In use or not, a network is only removed when no container uses it.
                let passed = crate::network::filters::passes(&network, key, values, &|| false)
                    .map_err(EngineError::InvalidArg)?;
                if !passed {
                    continue 'networks;
                }
            }
            match self.network_remove(&network.name, false, None) {
                Ok(name) => removed.push(name),
                Err(EngineError::NetworkInUse { .. }) | Err(EngineError::NoSuchNetwork(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Connect a container to a network: recorded for its next start, and set up now in
    /// its namespace when it runs.
    pub fn network_connect(&self, network: &str, container: &str, join: NetworkJoin) -> Result<()> {
        let _networks = self.networks_shared_lock()?;
        let network = self.network(network)?;
        let found = self.lookup(container)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), container)?;
        self.sync(&mut record)?;
        if record.config.network != NetworkMode::Bridge {
            return Err(EngineError::InvalidArg(format!(
                "container {} uses the network mode {}: only bridged containers join networks",
                record.config.name,
                record.config.network.as_string()
            )));
        }
        if record
            .config
            .net
            .networks
            .iter()
            .any(|n| n.name == network.name)
        {
            return Err(EngineError::InvalidArg(format!(
                "container {} is already connected to network {}",
                record.config.name, network.name
            )));
        }
        for ip in join.static_ips() {
            crate::network::ipam::check_static(&network, ip)?;
        }
        if let Some(name) = join.interface_name.as_deref() {
            let taken = record
                .config
                .net
                .networks
                .iter()
                .any(|n| n.interface_name.as_deref() == Some(name));
            if taken || !crate::network::valid_interface_name(name) {
                return Err(EngineError::InvalidArg(format!(
                    "interface_name={name:?} is not a free interface name of container {}",
                    record.config.name
                )));
            }
        }
        let join = NetworkJoin {
            name: network.name.clone(),
            ..join
        };
        record.config.net.networks.push(join.clone());
        if matches!(
            record.state.status,
            Status::Running | Status::Paused | Status::Created
        ) {
            self.connect_running(&mut record, &join)?;
        }
        self.store.save_config(&record.config)?;
        self.save(&record)?;
        self.network_event(
            &network,
            "connect",
            &[("container", record.id().to_string())],
        );
        Ok(())
    }

    /// `network reload`: set a running bridged container's networks up again (its
    /// firewall rules, interfaces and routes), keeping its addresses. Returns its ID.
    pub fn network_reload(&self, container: &str) -> Result<String> {
        let found = self.lookup(container)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), container)?;
        self.sync(&mut record)?;
        if record.config.network != NetworkMode::Bridge {
            return Err(EngineError::InvalidArg(format!(
                "container {} uses the network mode {}: only bridged containers have networks \
                 to reload",
                record.config.name,
                record.config.network.as_string()
            )));
        }
        if !record.state.status.is_running_or_paused() {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "container {} is {}: only a running container's network is reloaded",
                    record.config.name,
                    record.state.status.as_str()
                ),
            ));
        }
        self.reload_running(&mut record)?;
        Ok(record.id().to_string())
    }

    /// Disconnect a container from a network, now if it runs, and for its next starts.
    pub fn network_disconnect(&self, network: &str, container: &str) -> Result<()> {
        let network = self.network(network)?;
        let found = self.lookup(container)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), container)?;
        self.sync(&mut record)?;
        let Some(position) = record
            .config
            .net
            .networks
            .iter()
            .position(|n| n.name == network.name)
        else {
            return Err(EngineError::InvalidArg(format!(
                "container {} is not connected to network {}",
                record.config.name, network.name
            )));
        };
        let join = record.config.net.networks.remove(position);
        if record.state.networks.contains_key(&network.name) {
            if let Err(e) = self.disconnect_running(&mut record, &network.name) {
                record.config.net.networks.insert(position, join);
                return Err(e);
            }
        }
        self.store.save_config(&record.config)?;
        self.save(&record)?;
        self.network_event(
            &network,
            "disconnect",
            &[("container", record.id().to_string())],
        );
        Ok(())
    }

    /// Remove a network's bridge and firewall chains, which its anchor kept after its last
    /// container (see `network::anchor`): a short-lived namespace joins the network, the
    /// anchor goes, and netavark's teardown of that namespace, now the last port, removes
    /// them, exactly as it does for a last container. A bridge that carries another
    /// network's address is that network's (`network::bridge_owner`) and is left alone.
    fn retire_bridge(&self, network: &Network) -> Result<()> {
        use crate::network::netavark::{NetworkOptions, PerNetworkOptions};
        use crate::network::{anchor, bridge_owner, netns};
        let Some(bridge) = network
            .network_interface
            .as_deref()
            .filter(|_| network.is_bridge())
        else {
            return Ok(());
        };
        if let Some((_, address)) = bridge_owner::foreign_address_on_bridge(network) {
            tracing::warn!(
                network = network.name,
                bridge,
                %address,
                "the bridge carries another network's address: it is left to that network"
            );
            return Ok(());
        }
        if !anchor::present(bridge) {
            return Ok(());
        }
        let id = crate::names::random_id();
        // A sweep must not take this namespace for a removed container's.
        let _lock = self.try_orphan_lock(&id)?;
        let path = netns::path_for(&self.roots.runroot, &id);
        netns::create(&path)?;
        let result = (|| {
            let addresses = self.store.lease_addresses(network, &id, &[])?;
            let options = NetworkOptions {
                container_id: id.clone(),
                container_name: format!("rpod-network-rm-{}", network.name),
                networks: BTreeMap::from([(
                    network.name.clone(),
                    PerNetworkOptions {
                        aliases: None,
                        interface_name: "eth0".into(),
                        static_ips: Some(addresses),
                        static_mac: None,
                    },
                )]),
                network_info: BTreeMap::from([(network.name.clone(), network.clone())]),
                port_mappings: None,
                dns_servers: None,
            };
            self.save_network_options(&id, &options)?;
            self.netavark()?.setup(&path, &options)?;
            anchor::remove(bridge);
            Ok(())
        })();
        self.teardown_network(&id);
        result
    }
}
