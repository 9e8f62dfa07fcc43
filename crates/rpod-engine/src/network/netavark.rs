//! Calling netavark, podman's network tool: `setup` connects a namespace to networks
//! (bridge, veth, addresses, firewall rules, published ports, aardvark-dns entries), and
//! `teardown` undoes it. Both read the same options on stdin, so rpod keeps the options of
//! every setup until the teardown.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ports::PortMapping;
use super::{Attachment, Network};
use crate::error::{EngineError, Result};

/// Where Debian and Fedora install netavark and aardvark-dns, before `$PATH` is searched.
const LIBEXEC_DIRS: [&str; 3] = [
    "/usr/libexec/podman",
    "/usr/lib/podman",
    "/usr/local/libexec/podman",
];

/// netavark changes host-wide state (firewall chains shared by all networks) without
/// locking it: two calls at once fail with "chain already exists". Every rpod store on the
/// host takes this lock around its calls.
const HOST_LOCK_DIR: &str = "/run/lock";
const HOST_LOCK_FILE: &str = "rpod-netavark.lock";

/// netavark's input: the container, the networks it joins, and its ports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetworkOptions {
    pub container_id: String,
    pub container_name: String,
    pub networks: BTreeMap<String, PerNetworkOptions>,
    pub network_info: BTreeMap<String, Network>,
    pub port_mappings: Option<Vec<PortMapping>>,
    pub dns_servers: Option<Vec<IpAddr>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PerNetworkOptions {
    pub aliases: Option<Vec<String>>,
    pub interface_name: String,
    pub static_ips: Option<Vec<IpAddr>>,
    pub static_mac: Option<String>,
}

/// netavark's answer for one network.
#[derive(Debug, Clone, Deserialize)]
struct StatusBlock {
    dns_search_domains: Option<Vec<String>>,
    dns_server_ips: Option<Vec<IpAddr>>,
    interfaces: Option<BTreeMap<String, NetInterface>>,
}

#[derive(Debug, Clone, Deserialize)]
struct NetInterface {
    mac_address: String,
    subnets: Option<Vec<NetAddress>>,
}

#[derive(Debug, Clone, Deserialize)]
struct NetAddress {
    gateway: Option<IpAddr>,
    ipnet: ipnet::IpNet,
}

#[derive(Debug, Deserialize)]
struct JsonError {
    error: String,
}

/// The netavark and aardvark-dns binaries, and the directory netavark keeps aardvark-dns's
/// configuration in.
#[derive(Debug, Clone)]
pub struct Netavark {
    pub binary: PathBuf,
    pub aardvark: PathBuf,
    pub config_dir: PathBuf,
}

fn find_binary(name: &str, helper_dirs: &[PathBuf]) -> Option<PathBuf> {
    helper_dirs
        .iter()
        .map(|dir| dir.join(name))
        .chain(LIBEXEC_DIRS.iter().map(|dir| Path::new(dir).join(name)))
        .chain(
            std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join(name))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        )
        .find(|p| p.is_file())
}

impl Netavark {
    /// Find netavark and aardvark-dns, in `helper_dirs` first (`helper_binaries_dir` of
    /// rpod.conf, as podman's), then where podman's packages put them, then in `$PATH`; a
    /// clear error says how to install them.
    pub fn find(config_dir: PathBuf, helper_dirs: &[PathBuf]) -> Result<Self> {
        let missing = |what: &str| {
            EngineError::NotSupported(format!(
                "bridge networking without {what} (install the netavark and aardvark-dns packages, or use --network none or host)"
            ))
        };
        let binary = find_binary("netavark", helper_dirs).ok_or_else(|| missing("netavark"))?;
        let aardvark =
            find_binary("aardvark-dns", helper_dirs).ok_or_else(|| missing("aardvark-dns"))?;
        Ok(Netavark {
            binary,
            aardvark,
            config_dir,
        })
    }

    /// Connect the namespace at `netns` to the networks of `options`; what the container
    /// got on each, by network name.
    pub fn setup(
        &self,
        netns: &Path,
        options: &NetworkOptions,
    ) -> Result<BTreeMap<String, Attachment>> {
        let output = self.call("setup", netns, options)?;
        let blocks: BTreeMap<String, StatusBlock> =
            serde_json::from_slice(&output).map_err(|e| {
                EngineError::InvalidArg(format!(
                    "netavark setup answered something unreadable ({e}): {}",
                    String::from_utf8_lossy(&output)
                ))
            })?;
        let mut attachments = BTreeMap::new();
        for (network, block) in blocks {
            let interface = options
                .networks
                .get(&network)
                .map(|n| n.interface_name.clone())
                .unwrap_or_default();
            let found = block
                .interfaces
                .as_ref()
                .and_then(|i| i.get(&interface).or_else(|| i.values().next()));
            let mut attachment = Attachment {
                interface,
                dns_servers: block.dns_server_ips.unwrap_or_default(),
                dns_search: block.dns_search_domains.unwrap_or_default(),
                ..Default::default()
            };
            if let Some(found) = found {
                attachment.mac_address = found.mac_address.clone();
                for address in found.subnets.iter().flatten() {
                    attachment.addresses.push(address.ipnet);
                    if let Some(gateway) = address.gateway {
                        attachment.add_gateway(gateway);
                    }
                }
            }
            attachments.insert(network, attachment);
        }
        Ok(attachments)
    }

    /// The host-wide lock (in the store's own directory where /run/lock is missing).
    fn host_lock(&self) -> Result<nix::fcntl::Flock<std::fs::File>> {
        let dir = if Path::new(HOST_LOCK_DIR).is_dir() {
            PathBuf::from(HOST_LOCK_DIR)
        } else {
            self.config_dir.clone()
        };
        let path = dir.join(HOST_LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| EngineError::io("opening", &path, e))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| EngineError::io("locking", &path, std::io::Error::from(errno)))
    }

    pub fn teardown(&self, netns: &Path, options: &NetworkOptions) -> Result<()> {
        self.call("teardown", netns, options).map(drop)
    }

    fn call(&self, command: &str, netns: &Path, options: &NetworkOptions) -> Result<Vec<u8>> {
        let input = serde_json::to_vec(options)
            .map_err(|e| EngineError::InvalidArg(format!("serializing network options: {e}")))?;
        std::fs::create_dir_all(&self.config_dir)
            .map_err(|e| EngineError::io("creating", &self.config_dir, e))?;
        let _lock = self.host_lock()?;
        let args: Vec<std::ffi::OsString> = vec![
            "--config".into(),
            self.config_dir.clone().into(),
            "--rootless=false".into(),
            "--aardvark-binary".into(),
            self.aardvark.clone().into(),
            command.into(),
            netns.into(),
        ];
        let program = self.binary.clone();
        // netavark dies with the thread that runs it. The host lock is ours, not
        // netavark's: if rpod is killed while netavark sets a network up, the lock goes
        // with rpod, and a netavark left running would go on adding rules beside the
        // teardown that the next rpod command runs under the lock, leaving rules nobody
        // accounts for. (aardvark-dns, which netavark starts, does not inherit this.)
        let run = move || rpod_spawn::output(&program, &args, &input, true);
        let output = if systemd_present_but_not_running() {
            run_without_systemd(run)
        } else {
            run()
        }
        .map_err(|e| EngineError::io("running", &self.binary, e))?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let message = serde_json::from_slice::<JsonError>(&output.stdout)
            .map(|e| e.error)
            .unwrap_or_else(|_| {
                let text = String::from_utf8_lossy(&output.stderr).trim().to_string();
                if text.is_empty() {
                    String::from_utf8_lossy(&output.stdout).trim().to_string()
                } else {
                    text
                }
            });
        Err(EngineError::InvalidArg(format!(
            "netavark {command} failed ({}): {message}",
            output.status
        )))
    }
}

/// netavark starts aardvark-dns through `systemd-run` whenever `/run/systemd/system` exists
/// (systemd's own test for "booted with systemd"). Some hosts keep that directory without a
/// running systemd, and there `systemd-run` fails ("Failed to connect to bus"), so names
/// never resolve. Such a host is detected the way systemd-run would fail: nothing answers
/// on systemd's private socket.
fn systemd_present_but_not_running() -> bool {
    Path::new("/run/systemd/system").exists()
        && find_binary("systemd-run", &[]).is_some()
        && std::os::unix::net::UnixStream::connect("/run/systemd/private").is_err()
}

/// Run `run` in a private mount namespace, made on a thread of its own, where `/run/systemd`
/// is an empty tmpfs: netavark then starts aardvark-dns directly. The host's mounts are not
/// changed; aardvark-dns keeps that namespace, which differs from the host's only there.
fn run_without_systemd<T: Send + 'static>(
    mut run: impl FnMut() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    std::thread::spawn(move || {
        // The thread stops sharing its file system context and mount namespace with the
        // process; what it spawns inherits the new namespace.
        unshare(CloneFlags::CLONE_FS | CloneFlags::CLONE_NEWNS)?;
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )?;
        mount(
            Some("tmpfs"),
            "/run/systemd",
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=0755,size=64k"),
        )?;
        run()
    })
    .join()
    .unwrap_or_else(|_| {
        Err(std::io::Error::other(
            "the thread running netavark panicked",
        ))
    })
}
