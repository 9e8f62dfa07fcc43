//! A network's bridge outlives its containers, as Docker's `docker0` does: netavark deletes a
//! bridge (and its network-wide firewall chains) when the last container leaves it, and
//! makes them again for the next one, which costs more than the rest of a container's
//! start and removal together. rpod keeps one idle interface on each bridge (the "anchor",
//! one end of a veth pair whose other end stays down: veth is there wherever netavark
//! works, unlike the `dummy` type), so netavark sees a port left and keeps the bridge; `network rm` takes the
//! anchor away and has netavark remove the bridge. Only the network lives on the host while
//! no container runs: containers still leave nothing.

use std::path::Path;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

/// The anchor's name for a bridge: short enough for the kernel's 15 bytes whatever the
/// bridge is called.
pub fn name(bridge: &str) -> String {
    let digest = Sha256::digest(bridge.as_bytes());
    format!("rpk{}", &hex::encode(digest)[..10])
}

/// The name of the anchor's idle peer.
fn peer_name(bridge: &str) -> String {
    let digest = Sha256::digest(bridge.as_bytes());
    format!("rpq{}", &hex::encode(digest)[..10])
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Put an anchor on `bridge` if it has none, with the network's MTU if it has one (a bridge
/// takes the smallest MTU of its ports: a default one would raise it to 1500 once the last
/// container left). Failing (no `ip`, say) only costs speed: the bridge then goes with its
/// last container, as in podman.
pub fn ensure(bridge: &str, mtu: Option<&str>) {
    let anchor = name(bridge);
    if !link_exists(bridge) || link_exists(&anchor) {
        return;
    }
    let peer = peer_name(bridge);
    let mtu = mtu.unwrap_or("1500");
    let made = ip(&[
        "link", "add", &anchor, "mtu", mtu, "type", "veth", "peer", "name", &peer, "mtu", mtu,
    ]) && ip(&["link", "set", &anchor, "master", bridge])
        && ip(&["link", "set", &anchor, "up"]);
    if !made {
        tracing::debug!(
            bridge,
            "no anchor on the bridge: it goes with its last container"
        );
        ip(&["link", "del", &anchor]);
    }
}

/// Whether `bridge` has its anchor.
pub fn present(bridge: &str) -> bool {
    link_exists(&name(bridge))
}

/// Take the anchor away (the bridge then goes with its last container); its peer goes
/// with it.
pub fn remove(bridge: &str) {
    let anchor = name(bridge);
    if link_exists(&anchor) && !ip(&["link", "del", &anchor]) {
        tracing::warn!(bridge, anchor, "removing the bridge's anchor");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_fit_the_kernel() {
        let a = super::name("rpod0");
        assert_eq!(a.len(), 13);
        assert_ne!(a, super::name("rpod1"));
        assert_eq!(super::name("a-fifteen-bytes").len(), 13);
    }
}
