//! A real registry for tests: Debian's docker-registry (the Distribution project's
//! server) on a port of its own, over HTTP or TLS, with or without htpasswd users.
#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REGISTRY: &str = "/usr/bin/docker-registry";

/// A docker-registry process serving a temporary directory; killed when dropped.
pub struct Registry {
    child: Child,
    pub host: String,
    pub dir: tempfile::TempDir,
}

pub struct RegistrySetup {
    /// `(user, password)` for htpasswd authentication.
    pub user: Option<(&'static str, &'static str)>,
    pub tls: bool,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    pub fn start(setup: RegistrySetup) -> Registry {
        assert!(
            Path::new(REGISTRY).exists(),
            "{REGISTRY} is missing: run scripts/install-deps.sh"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        if setup.tls {
            make_certificate(dir.path());
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("server.crt").display(),
                dir.path().join("server.key").display()
            ));
        }
        if let Some((user, password)) = setup.user {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (apache2-utils) is missing: run scripts/install-deps.sh");
            assert!(out.status.success());
            fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new(REGISTRY)
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.path().join("registry.log")).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&host).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry did not start: {}",
                fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry { child, host, dir }
    }

    pub fn plain() -> Registry {
        Registry::start(RegistrySetup {
            user: None,
            tls: false,
        })
    }

    /// The directory holding the CA certificate of a TLS registry (as `--cert-dir`).
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA (`certs/ca.crt`, what `--cert-dir` is given), a server certificate for
/// 127.0.0.1 signed by it (`server.crt`, `server.key`; webpki refuses a self-signed
/// certificate that is its own CA) and a client certificate (`client.crt`, `client.key`).
pub fn make_certificate(dir: &Path) {
    fs::create_dir_all(dir.join("certs")).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=rpod test CA",
        "-keyout",
        "ca.key",
        "-out",
        "certs/ca.crt",
    ]);
    // Each certificate: a key and a request, signed by the CA with its own extensions.
    for (who, subject, extensions) in [
        (
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        (
            "client",
            "/CN=rpod test client",
            "extendedKeyUsage=clientAuth\n",
        ),
    ] {
        let (key, csr, ext, crt) = (
            format!("{who}.key"),
            format!("{who}.csr"),
            format!("{who}.ext"),
            format!("{who}.crt"),
        );
        fs::write(
            dir.join(&ext),
            format!("basicConstraints=CA:FALSE\n{extensions}"),
        )
        .unwrap();
        openssl(&[
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", &key, "-out", &csr,
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "certs/ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &crt,
        ]);
    }
}
