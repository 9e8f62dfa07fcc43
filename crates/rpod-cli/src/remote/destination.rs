//! Which service a remote command talks to: `--url`, `--connection`, their variables, the
//! default connection, else this host's own `rpod system service` socket.

use std::path::{Path, PathBuf};

use rpod_api::tls_client::TlsClientFiles;

use crate::connections::{Connections, Destination, SshTarget, TlsPaths};
use crate::exit::{usage, Failure};

use super::client::{Endpoint, SshRoute};

/// What the command line and the environment say.
pub struct Choice<'a> {
    pub url: Option<&'a str>,
    pub connection: Option<&'a str>,
    /// Both were given as flags (not from the environment).
    pub both_flags: bool,
    pub identity: Option<&'a Path>,
    /// `--tls-ca`, `--tls-cert`, `--tls-key` (each before a connection's own).
    pub tls: TlsPaths,
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
    let of_destination = |destination: &Destination| {
        let given = &choice.tls;
        let kept = &destination.tls;
        let tls = TlsPaths {
            tls_ca: given.tls_ca.clone().or_else(|| kept.tls_ca.clone()),
            tls_cert: given.tls_cert.clone().or_else(|| kept.tls_cert.clone()),
            tls_key: given.tls_key.clone().or_else(|| kept.tls_key.clone()),
        };
        parse_url(
            &destination.uri,
            identity.clone().or_else(|| destination.identity.clone()),
            &tls,
            choice.ssh_config,
        )
        .map_err(|e| usage(format!("connection {}: {e}", destination.name)))
    };
    if let Some(name) = choice.connection {
        let destination = connections.get(name).ok_or_else(|| {
            usage(format!(
                "no connection named {name:?}: add one with \"rpod system connection add\""
            ))
        })?;
        return of_destination(destination);
    }
    if let Some(url) = choice.url {
        return parse_url(url, identity, &choice.tls, choice.ssh_config).map_err(usage);
    }
    if let Some(destination) = connections
        .default
        .as_deref()
        .and_then(|name| connections.get(name))
    {
        return of_destination(destination);
    }
    if choice.tls.wanted() {
        return Err(usage(
            "--tls-ca, --tls-cert and --tls-key are for a tcp:// service (--url or a connection)",
        ));
    }
    Ok(Endpoint::Unix(choice.own_socket.clone()))
}

/// `unix:///PATH`, `tcp://HOST:PORT` or `ssh://[USER@]HOST[:PORT][/PATH]` (the path of the
/// socket on that host; root's podman socket when it names none). `tls`: TLS to a TCP
/// service, when any of its files is named.
pub fn parse_url(
    url: &str,
    identity: Option<PathBuf>,
    tls: &TlsPaths,
    ssh_config: Option<&Path>,
) -> Result<Endpoint, String> {
    let invalid = |why: &str| {
        format!(
            "invalid service URL {url:?}: {why} (unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]/PATH)"
        )
    };
    if tls.wanted() && !url.starts_with("tcp://") {
        return Err(format!(
            "TLS (--tls-ca, --tls-cert, --tls-key) is for a tcp:// service, not {url:?}"
        ));
    }
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
        if tls.wanted() {
            return Ok(Endpoint::Tls {
                address: address.to_string(),
                files: tls_files(tls)?,
            });
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

/// The files of TLS to a service: its CA (the system's bundle when none is named), and
/// the client's certificate with its key.
fn tls_files(tls: &TlsPaths) -> Result<TlsClientFiles, String> {
    let ca = match &tls.tls_ca {
        Some(ca) => ca.clone(),
        None => rpod_engine::image::registry::system_ca_bundle()
            .map(Path::to_path_buf)
            .ok_or(
                "no --tls-ca given, and this system has no CA bundle to check the service with",
            )?,
    };
    let identity = match (&tls.tls_cert, &tls.tls_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    Ok(TlsClientFiles { ca, identity })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice<'a>(url: Option<&'a str>, connection: Option<&'a str>) -> Choice<'a> {
        Choice {
            url,
            connection,
            both_flags: false,
            identity: None,
            tls: TlsPaths::default(),
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
                ..Destination::default()
            },
            false,
        );
        connections.add(
            Destination {
                name: "near".into(),
                uri: "unix:///run/near.sock".into(),
                ..Destination::default()
            },
            false,
        );
        connections
    }

    #[test]
    fn urls_of_each_scheme_are_read_and_bad_ones_refused() {
        assert_eq!(
            parse_url("unix:///run/x.sock", None, &TlsPaths::default(), None),
            Ok(Endpoint::Unix("/run/x.sock".into()))
        );
        assert_eq!(
            parse_url("tcp://127.0.0.1:8080", None, &TlsPaths::default(), None),
            Ok(Endpoint::Tcp("127.0.0.1:8080".into()))
        );
        assert_eq!(
            parse_url("tcp://[::1]:8080", None, &TlsPaths::default(), None),
            Ok(Endpoint::Tcp("[::1]:8080".into()))
        );
        let Ok(Endpoint::Ssh(route)) =
            parse_url("ssh://me@h:2200", None, &TlsPaths::default(), None)
        else {
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
            assert!(
                parse_url(bad, None, &TlsPaths::default(), None).is_err(),
                "{bad}"
            );
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

    #[test]
    fn tls_files_make_a_tcp_service_a_tls_one_and_nothing_else() {
        let tls = |ca: Option<&str>, cert: Option<&str>, key: Option<&str>| TlsPaths {
            tls_ca: ca.map(PathBuf::from),
            tls_cert: cert.map(PathBuf::from),
            tls_key: key.map(PathBuf::from),
        };
        assert_eq!(
            parse_url(
                "tcp://127.0.0.1:8443",
                None,
                &tls(Some("/pki/ca.crt"), Some("/pki/c.crt"), Some("/pki/c.key")),
                None
            ),
            Ok(Endpoint::Tls {
                address: "127.0.0.1:8443".into(),
                files: TlsClientFiles {
                    ca: "/pki/ca.crt".into(),
                    identity: Some(("/pki/c.crt".into(), "/pki/c.key".into())),
                },
            })
        );
        let only_ca = tls(Some("/pki/ca.crt"), None, None);
        let Ok(Endpoint::Tls { files, .. }) = parse_url("tcp://h:1", None, &only_ca, None) else {
            panic!("not TLS");
        };
        assert_eq!(files.identity, None);
        let error = parse_url("tcp://h:1", None, &tls(None, Some("/c"), None), None).unwrap_err();
        assert!(error.contains("go together"), "{error}");
        for url in ["unix:///run/x.sock", "ssh://me@h"] {
            let error = parse_url(url, None, &only_ca, None).unwrap_err();
            assert!(error.contains("tcp://"), "{error}");
        }
        // A connection's files, each beaten by the flag of its own.
        let mut connections = Connections::default();
        connections.add(
            Destination {
                name: "safe".into(),
                uri: "tcp://h:8443".into(),
                tls: tls(
                    Some("/kept/ca.crt"),
                    Some("/kept/c.crt"),
                    Some("/kept/c.key"),
                ),
                ..Destination::default()
            },
            false,
        );
        let mut flagged = choice(None, Some("safe"));
        flagged.tls = tls(Some("/given/ca.crt"), None, None);
        let Endpoint::Tls { files, .. } = resolve(&flagged, &connections).unwrap() else {
            panic!("not TLS");
        };
        assert_eq!(files.ca, PathBuf::from("/given/ca.crt"));
        assert_eq!(
            files.identity,
            Some(("/kept/c.crt".into(), "/kept/c.key".into()))
        );
        // TLS flags with nothing to use them on are refused, not dropped.
        connections.default = None;
        let mut lone = choice(None, None);
        lone.tls = only_ca;
        assert!(resolve(&lone, &connections).is_err());
    }
}
