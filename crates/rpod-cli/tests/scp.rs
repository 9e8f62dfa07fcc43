//! `system connection` and `image scp` against a real OpenSSH server of the test's own (on a
//! port of its own, logging in as root with a key made here), whose sessions run rpod on a
//! second store: the "remote host".

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{busybox_tarball, free_port, KillOnDrop, Rpod, NO_NETWORK_CONFIG};

/// An sshd in the foreground on 127.0.0.1:port, killed when dropped; its sessions get the
/// remote store's variables (sshd_config's `SetEnv`).
struct Sshd {
    child: Child,
    port: u16,
    /// The client's key, and the ssh configuration that trusts this server's host key.
    identity: PathBuf,
    ssh_config: PathBuf,
}

impl Sshd {
    fn start(dir: &Path, remote: &Rpod) -> Sshd {
        let keygen = |path: &Path| {
            let made = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path)
                .output()
                .expect("ssh-keygen (openssh-client) is missing: run scripts/install-deps.sh");
            assert!(made.status.success(), "{made:?}");
        };
        let (host_key, identity) = (dir.join("host_key"), dir.join("id"));
        keygen(&host_key);
        keygen(&identity);
        fs::copy(dir.join("id.pub"), dir.join("authorized_keys")).unwrap();
        // sshd wants its privilege separation directory (the package's service makes it).
        fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        let config = dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\n\
                 AuthorizedKeysFile {}\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nSetEnv RPOD_ROOT={} RPOD_RUNROOT={} RPOD_CONFIG={}\n",
                host_key.display(),
                dir.join("sshd.pid").display(),
                dir.join("authorized_keys").display(),
                remote.root().display(),
                remote.runroot().display(),
                remote.config_path().display(),
            ),
        )
        .unwrap();
        let host_public = fs::read_to_string(dir.join("host_key.pub")).unwrap();
        fs::write(
            dir.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_public}"),
        )
        .unwrap();
        let ssh_config = dir.join("ssh_config");
        fs::write(
            &ssh_config,
            format!(
                "Host *\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 10\n",
                dir.join("known_hosts").display()
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .expect("sshd (openssh-server) is missing: run scripts/install-deps.sh");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            child,
            port,
            identity,
            ssh_config,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The local store, whose rpod.conf names the test's ssh configuration.
fn local_store(sshd: &Sshd) -> Rpod {
    let rpod = Rpod::with_config(
        "crun",
        &format!(
            "{NO_NETWORK_CONFIG}[engine]\nssh_config = \"{}\"\n",
            sshd.ssh_config.display()
        ),
    );
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    rpod
}

fn images(rpod: &Rpod) -> String {
    rpod.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
}

/// An image to a host, from it, from it to itself under another name, tagged there;
/// podman's words for each; what cannot be copied said, and nothing run on the far side
/// from a name.
#[test]
fn image_scp_copies_images_to_and_from_a_host_over_ssh() {
    let dir = tempfile::tempdir().unwrap();
    let remote = Rpod::new("crun");
    let sshd = Sshd::start(dir.path(), &remote);
    let local = local_store(&sshd);
    let uri = format!("ssh://root@127.0.0.1:{}", sshd.port);
    local.ok(&[
        "system",
        "connection",
        "add",
        "--identity",
        &sshd.identity.display().to_string(),
        "lab",
        &uri,
    ]);
    assert_eq!(
        local.ok(&[
            "system",
            "connection",
            "ls",
            "--format",
            "{{.Name}} {{.URI}} {{.Default}}"
        ]),
        format!(
            "lab ssh://root@127.0.0.1:{}/run/podman/podman.sock true\n",
            sshd.port
        )
    );

    // Here to there: the remote store gets the image, under its name.
    assert_eq!(
        local.ok(&["image", "scp", "demo", "lab::"]),
        "Loaded image: localhost/demo:latest\n"
    );
    assert_eq!(images(&remote), "localhost/demo:latest\n");
    let id = local.ok(&["images", "-q", "--no-trunc", "demo"]);
    assert_eq!(remote.ok(&["images", "-q", "--no-trunc", "demo"]), id);
    // Tagged there as asked.
    local.ok(&["image", "scp", "-q", "demo", "lab::copy:1"]);
    assert!(images(&remote).contains("localhost/copy:1\n"));
    // There to here (the local copy removed first), and from the host to itself.
    local.ok(&["rmi", "demo"]);
    assert_eq!(
        local.ok(&["image", "scp", "lab::copy:1"]),
        "Loaded image: localhost/copy:1\n"
    );
    assert_eq!(images(&local), "localhost/copy:1\n");
    local.ok(&["image", "scp", "lab::demo", "lab::again"]);
    assert!(images(&remote).contains("localhost/again:latest\n"));
    // Through an ad-hoc user@host too (the connection's key and port given in the ssh
    // configuration instead).
    fs::write(
        &sshd.ssh_config,
        format!(
            "{}  IdentityFile {}\n  Port {}\n",
            fs::read_to_string(&sshd.ssh_config).unwrap(),
            sshd.identity.display(),
            sshd.port
        ),
    )
    .unwrap();
    local.ok(&["image", "scp", "-q", "copy:1", "root@127.0.0.1::adhoc"]);
    assert!(images(&remote).contains("localhost/adhoc:latest\n"));

    // What cannot be done is said, exit 125; a name is never run as a command there.
    let marker = dir.path().join("ran");
    let hostile = format!("lab::x'; touch {}; '", marker.display());
    for (args, says) in [
        (vec!["image", "scp", "nosuch", "lab::"], "nosuch"),
        (
            vec!["image", "scp", "lab::nosuch"],
            "saving the image on lab failed",
        ),
        (
            vec!["image", "scp", &hostile],
            "saving the image on lab failed",
        ),
        (
            vec!["image", "scp", "copy:1", "elsewhere::"],
            "no connection named \"elsewhere\"",
        ),
        (vec!["image", "scp", "copy:1"], "give a destination"),
        (vec!["image", "scp", "lab::"], "name the image to copy"),
        (
            vec!["image", "scp", "lab::copy:1", "here"],
            "the destination of a copy here",
        ),
        // The copy is loaded there, and its tag refused there: said as the far side's.
        (
            vec!["image", "scp", "copy:1", "lab::Not-A-Name"],
            "tagging the image on lab failed",
        ),
        (
            vec!["image", "scp", "copy:1", "root@-oProxyCommand=x::"],
            "invalid SSH destination",
        ),
    ] {
        let err = local.fails(&args, 125);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(!marker.exists());
    // A host that does not answer: ssh's failure, said as such.
    local.ok(&[
        "system",
        "connection",
        "add",
        "closed",
        &format!("ssh://root@127.0.0.1:{}", free_port()),
    ]);
    let err = local.fails(&["image", "scp", "copy:1", "closed::"], 125);
    assert!(err.contains("ssh could not reach it or log in"), "{err}");
    // The connections live beside the configuration, readable by root only.
    let kept = local.dir.path().join("rpod-connections.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600
    );
    local.ok(&["system", "connection", "rm", "--all"]);
    assert_eq!(local.ok(&["system", "connection", "ls", "-q"]), "");
}

/// `system connection add|ls|default|rename|rm` as podman's: the first destination is the
/// default, `user@host` gets port 22 and root's socket, an identity that is not there and
/// a name nobody added are refused, removing an unknown one is no error.
#[test]
fn system_connection_keeps_destinations_as_podman() {
    let rpod = Rpod::new("crun");
    let key = rpod.dir.path().join("key");
    fs::write(&key, "not a real key").unwrap();
    let key = key.display().to_string();
    rpod.ok(&[
        "system",
        "connection",
        "add",
        "--identity",
        &key,
        "a",
        "ssh://core@h1:2222/run/x.sock",
    ]);
    rpod.ok(&["system", "connection", "add", "-p", "2200", "b", "admin@h2"]);
    rpod.ok(&[
        "system",
        "connection",
        "add",
        "c",
        "unix:///run/rpod/rpod.sock",
    ]);
    let shown = rpod.ok(&["system", "connection", "list"]);
    let lines: Vec<Vec<&str>> = shown
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["Name", "URI", "Identity", "Default"]);
    assert_eq!(
        lines[1],
        ["a", "ssh://core@h1:2222/run/x.sock", key.as_str(), "true"]
    );
    assert_eq!(
        lines[2],
        ["b", "ssh://admin@h2:2200/run/podman/podman.sock", "false"]
    );
    assert_eq!(lines[3], ["c", "unix:///run/rpod/rpod.sock", "false"]);
    rpod.ok(&["system", "connection", "default", "b"]);
    rpod.ok(&["system", "connection", "rename", "b", "bee"]);
    let json: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["system", "connection", "ls", "--format", "json"]))
            .unwrap();
    let defaults: Vec<(&str, bool)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["Name"].as_str().unwrap(), c["Default"].as_bool().unwrap()))
        .collect();
    assert_eq!(defaults, [("a", false), ("bee", true), ("c", false)]);
    rpod.ok(&["system", "connection", "rm", "nosuch"]);
    for (args, says) in [
        (
            vec!["default", "nosuch"],
            "\"nosuch\" destination is not defined",
        ),
        (
            vec!["rename", "nosuch", "x"],
            "\"nosuch\" destination is not defined",
        ),
        (vec!["rename", "a", "c"], "already exists"),
        (
            vec!["add", "--identity", "/no/such/key", "d", "root@h"],
            "failed to read identity",
        ),
        (vec!["add", "d", "http://h"], "invalid SSH destination"),
        (vec!["add", "d e", "root@h"], "invalid connection name"),
        (vec!["rm"], "give a connection's name, or --all"),
    ] {
        let mut full = vec!["system", "connection"];
        full.extend(args.iter().copied());
        let err = rpod.fails(&full, 125);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    rpod.ok(&["system", "connection", "rm", "bee"]);
    assert_eq!(rpod.ok(&["system", "connection", "ls", "-q"]), "a\nc\n");
    // No store was opened for any of it.
    assert!(!rpod.root().exists());
}

/// `rpod -c NAME` over an ssh:// connection: each request goes through `ssh -W` to the
/// service's socket on the "remote host" (the test's sshd), with the connection's key.
#[test]
fn remote_commands_reach_a_service_over_ssh() {
    let dir = tempfile::tempdir().unwrap();
    let remote = Rpod::new("crun");
    remote.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    let socket = remote.dir.path().join("api.sock");
    // Killed when the test ends, whichever way it ends.
    let _service = KillOnDrop(
        remote
            .command(&[
                "system",
                "service",
                "--time",
                "0",
                &format!("unix://{}", socket.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let sshd = Sshd::start(dir.path(), &remote);
    let local = local_store(&sshd);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the service did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let uri = format!("ssh://root@127.0.0.1:{}{}", sshd.port, socket.display());
    local.ok(&[
        "system",
        "connection",
        "add",
        "--identity",
        &sshd.identity.display().to_string(),
        "far",
        &uri,
    ]);
    // The client takes its ssh configuration and connections from rpod.conf's directory,
    // and uses no store.
    let client = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rpod"))
            .args(args)
            .env("RPOD_CONFIG", local.config_path())
            .env("RPOD_ROOT", dir.path().join("unused"))
            .env("RPOD_RUNROOT", dir.path().join("unused"))
            .env_remove("CONTAINER_HOST")
            .env_remove("CONTAINER_CONNECTION")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = client(&[
        "-c",
        "far",
        "run",
        "--rm",
        "demo",
        "sh",
        "-c",
        "echo over-ssh; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "over-ssh\n");
    let out = client(&[
        "-c", "far", "run", "-d", "--name", "far-away", "demo", "sleep", "60",
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = client(&["-c", "far", "ps", "--format", "{{.Names}}"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "far-away\n",
        "{out:?}"
    );
    assert_eq!(remote.ok(&["ps", "--format", "{{.Names}}"]), "far-away\n");
    let out = client(&["-c", "far", "rm", "-f", "-t", "0", "far-away"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(remote.ok(&["ps", "-aq"]), "");
    // A key the server does not know: ssh's failure is the error.
    let other = dir.path().join("other");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(made.status.success());
    let out = client(&[
        "-c",
        "far",
        "--identity",
        &other.display().to_string(),
        "ps",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(!dir.path().join("unused").exists());
}
