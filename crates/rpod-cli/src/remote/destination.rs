//! Which service a remote command talks to: `--url`, `--connection`, their variables, the
//! default connection, else this host's own `rpod system service` socket.

use std::path::{Path, PathBuf};

use crate::connections::{Connections, SshTarget};
use crate::exit::{usage, Failure};

use super::client::{Endpoint, SshRoute};

/// What the command line and the environment say.
pub struct Choice<'a> {
    pub url: Option<&'a str>,
    pub connection: Option<&'a str>,
    /// Both were given as flags (not from the environment).
    pub both_flags: bool,
    pub identity: Option<&'a Path>,
    /// Where `rpod system service` listens by default: RUNROOT/rpod.sock.
    pub own_socket: PathBuf,
    /// rpod.conf's `[engine] ssh_config`.
    pub ssh_config: Option<&'a Path>,
}

/// The endpoint chosen: a connection (by `--connection` or `CONTAINER_CONNECTION`) before a
/// URL (`--url` or `CONTAINER_HOST`), then the default connection, then this host's
/// service socket.
pub fn resolve(choice: &Choice, connections: &Connections) -> Result<Endpoint, Failure> {
    if choice.both_flags {
        return Err(usage("--url and --connection cannot be used together"));
    }
    let identity = choice.identity.map(Path::to_path_buf);
    if let Some(name) = choice.connection {
        let destination = connections.get(name).ok_or_else(|| {
            usage(format!(
                "no connection named {name:?}: add one with \"rpod system connection add\""
            ))
        })?;
        return parse_url(
            &destination.uri,
            identity.or_else(|| destination.identity.clone()),
            choice.ssh_config,
        )
        .map_err(|e| usage(format!("connection {name}: {e}")));
    }
    if let Some(url) = choice.url {
        return parse_url(url, identity, choice.ssh_config).map_err(usage);
    }
    if let Some(destination) = connections
        .default
        .as_deref()
        .and_then(|name| connections.get(name))
    {
        return parse_url(
            &destination.uri,
            identity.or_else(|| destination.identity.clone()),
            choice.ssh_config,
        )
        .map_err(|e| usage(format!("connection {}: {e}", destination.name)));
    }
    Ok(Endpoint::Unix(choice.own_socket.clone()))
}

/// `unix:///PATH`, `tcp://HOST:PORT` or `ssh://[USER@]HOST[:PORT][/PATH]` (the path of the
/// socket on that host; root's podman socket when it names none).
pub fn parse_url(
    url: &str,
    identity: Option<PathBuf>,
    ssh_config: Option<&Path>,
) -> Result<Endpoint, String> {
    let invalid = |why: &str| {
        format!(
            "invalid service URL {url:?}: {why} (unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]/PATH)"
        )
    };
    if let Some(path) = url.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(invalid("the socket's path must be absolute"));
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    if let Some(address) = url.strip_prefix("tcp://") {
        let address = address.trim_end_matches('/');
        let port = address
            .rsplit_once(':')
            .map(|(_, port)| port)
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p > 0);
        if port.is_none() || address.contains('/') {
            return Err(invalid("a TCP address needs a host and a port"));
        }
        return Ok(Endpoint::Tcp(address.to_string()));
    }
    if url.starts_with("ssh://") {
        let target = SshTarget::parse(url).map_err(|e| e.to_string())?;
        let socket = target
            .path
            .clone()
            .unwrap_or_else(|| crate::connections::ROOT_SOCKET.to_string());
        return Ok(Endpoint::Ssh(SshRoute {
            target,
            socket,
            identity,
            config: ssh_config.map(Path::to_path_buf),
        }));
    }
    Err(invalid("an unknown scheme"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connections::Destination;

    fn choice<'a>(url: Option<&'a str>, connection: Option<&'a str>) -> Choice<'a> {
        Choice {
            url,
            connection,
            both_flags: false,
            identity: None,
            own_socket: "/run/rpod/rpod.sock".into(),
            ssh_config: None,
        }
    }

    fn connections() -> Connections {
        let mut connections = Connections::default();
        connections.add(
            Destination {
                name: "far".into(),
                uri: "ssh://core@host.example:2222/run/rpod/rpod.sock".into(),
                identity: Some("/keys/id".into()),
            },
            false,
        );
        connections.add(
            Destination {
                name: "near".into(),
                uri: "unix:///run/near.sock".into(),
                identity: None,
            },
            false,
        );
        connections
    }

    #[test]
    fn urls_of_each_scheme_are_read_and_bad_ones_refused() {
        assert_eq!(
            parse_url("unix:///run/x.sock", None, None),
            Ok(Endpoint::Unix("/run/x.sock".into()))
        );
        assert_eq!(
            parse_url("tcp://127.0.0.1:8080", None, None),
            Ok(Endpoint::Tcp("127.0.0.1:8080".into()))
        );
        assert_eq!(
            parse_url("tcp://[::1]:8080", None, None),
            Ok(Endpoint::Tcp("[::1]:8080".into()))
        );
        let Ok(Endpoint::Ssh(route)) = parse_url("ssh://me@h:2200", None, None) else {
            panic!("not ssh");
        };
        assert_eq!(route.socket, "/run/podman/podman.sock");
        assert_eq!(route.target.port, Some(2200));
        for bad in [
            "unix://relative.sock",
            "tcp://host",
            "tcp://host:0",
            "tcp://host:80/path",
            "http://host:80",
            "/run/x.sock",
            "ssh://-oProxyCommand=x",
        ] {
            assert!(parse_url(bad, None, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_connection_comes_before_a_url_then_the_default_then_the_own_socket() {
        let mut connections = connections();
        // Neither: the default connection (the first one added).
        let Endpoint::Ssh(route) = resolve(&choice(None, None), &connections).unwrap() else {
            panic!("not the default connection");
        };
        assert_eq!(route.socket, "/run/rpod/rpod.sock");
        assert_eq!(route.identity, Some(PathBuf::from("/keys/id")));
        assert_eq!(
            resolve(&choice(Some("unix:///u.sock"), Some("near")), &connections).unwrap(),
            Endpoint::Unix("/run/near.sock".into())
        );
        assert_eq!(
            resolve(&choice(Some("unix:///u.sock"), None), &connections).unwrap(),
            Endpoint::Unix("/u.sock".into())
        );
        let error = resolve(&choice(None, Some("nowhere")), &connections).unwrap_err();
        assert!(error.message().contains("no connection named \"nowhere\""));
        let mut both = choice(Some("unix:///u.sock"), Some("near"));
        both.both_flags = true;
        assert!(resolve(&both, &connections).is_err());
        // An identity given on the command line beats the connection's.
        let mut keyed = choice(None, Some("far"));
        keyed.identity = Some(Path::new("/keys/other"));
        let Endpoint::Ssh(route) = resolve(&keyed, &connections).unwrap() else {
            panic!("not ssh");
        };
        assert_eq!(route.identity, Some(PathBuf::from("/keys/other")));
        connections.default = None;
        assert_eq!(
            resolve(&choice(None, None), &connections).unwrap(),
            Endpoint::Unix("/run/rpod/rpod.sock".into())
        );
    }
}
