//! Registries: push, pull, login and logout against a real registry (Debian's
//! docker-registry, the Distribution project's server, on a port of its own), and pulls
//! from a hostile registry written here that lies about what it serves.

mod common;
#[path = "common/registry_server.rs"]
mod registry_server;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{stderr_of, Rpod};
use registry_server::{Registry, RegistrySetup};
use sha2::{Digest, Sha256};

fn image_id(rpod: &Rpod, name: &str) -> String {
    rpod.ok(&["image", "inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string()
}

/// podman itself (Debian's 4.3.1) over a store of the test's own; vfs, so that no mount
/// of podman's own is left behind the test.
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Podman {
        let dir = tempfile::tempdir().unwrap();
        // podman insists that the credentials file it is given exists.
        fs::write(dir.path().join("auth.json"), "{}").unwrap();
        Podman { dir }
    }

    /// Run podman and require success; its standard output, trimmed.
    fn ok(&self, args: &[&str]) -> String {
        let out = Command::new("podman")
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(["--events-backend", "none", "--storage-driver", "vfs"])
            .args(args)
            .env("REGISTRY_AUTH_FILE", self.dir.path().join("auth.json"))
            .output()
            .unwrap();
        assert!(out.status.success(), "podman {args:?}: {}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// A store's credentials file, so that no test reads or writes the user's own.
fn with_auth(command: &mut Command, auth: &Path) {
    command.env("REGISTRY_AUTH_FILE", auth);
}

fn run_with_auth(rpod: &Rpod, auth: &Path, args: &[&str]) -> std::process::Output {
    let mut command = rpod.command(args);
    with_auth(&mut command, auth);
    command.output().unwrap()
}

#[test]
fn a_pushed_image_pulls_back_the_same_and_runs() {
    let registry = Registry::plain();
    let source = Rpod::with_image("runc");
    let auth = source.dir.path().join("auth.json");
    let target = format!("{}/team/demo:v1", registry.host);
    let digest_file = source.dir.path().join("digest");
    let out = run_with_auth(
        &source,
        &auth,
        &[
            "push",
            "--tls-verify=false",
            "--digestfile",
            digest_file.to_str().unwrap(),
            "demo",
            &target,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
    let progress = stderr_of(&out);
    assert!(
        progress.contains("Copying blob") && progress.contains("Writing manifest"),
        "{progress}"
    );
    let digest = fs::read_to_string(&digest_file).unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    // The registry has the manifest under that digest.
    let manifest = registry
        .dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&digest[7..9])
        .join(&digest[7..]);
    assert!(manifest.exists(), "{}", manifest.display());

    // (podman's --compress, for a dir: destination, and Docker's --disable-content-trust
    // change nothing of a push to a registry.)
    let again = run_with_auth(
        &source,
        &auth,
        &[
            "push",
            "--tls-verify=false",
            "--compress",
            "--disable-content-trust",
            "demo",
            &target,
        ],
    );
    assert!(
        stderr_of(&again).contains("skipped: already exists"),
        "{}",
        stderr_of(&again)
    );

    let puller = Rpod::new("runc");
    let out = run_with_auth(&puller, &auth, &["pull", "--tls-verify=false", &target]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(printed.trim(), image_id(&source, "demo"));
    assert_eq!(image_id(&puller, &target), image_id(&source, "demo"));
    assert!(stderr_of(&out).contains(&format!(
        "Trying to pull {target}...\nGetting image source signatures\n"
    )));
    // A registry that does not answer: nothing said of signatures.
    let out = puller.run(&["pull", "--tls-verify=false", "127.0.0.1:1/none:1"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr_of(&out));
    assert!(
        !stderr_of(&out).contains("signatures"),
        "{}",
        stderr_of(&out)
    );
    let listed = puller.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(listed.trim(), target);
    let ran = puller.ok(&["run", "--rm", &target, "echo", "pulled and running"]);
    assert_eq!(ran, "pulled and running\n");
    // The manifest's digest is the image's: in RepoDigests, and a name it answers to.
    let by_digest = format!("{}/team/demo@{digest}", registry.host);
    assert_eq!(
        puller.inspect(&target, "{{json .RepoDigests}} {{.Digest}}"),
        format!("[\"{by_digest}\"] {digest}")
    );
    assert_eq!(
        puller.ok(&["images", "--format", "{{.Digest}}"]).trim(),
        digest
    );
    let out = run_with_auth(
        &puller,
        &auth,
        &["run", "--rm", &by_digest, "echo", "by digest"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "by digest\n");
    assert!(out.stderr.is_empty(), "pulled again: {}", stderr_of(&out));

    // Uncompressed layers and Docker's manifest format read back too; -q prints the ID only.
    for (flags, tag) in [
        (vec!["--compression-format", "none"], "raw"),
        (vec!["--format", "v2s2"], "docker"),
    ] {
        let tagged = format!("{}/team/demo:{tag}", registry.host);
        let mut args = vec!["push", "--tls-verify=false", "-q"];
        args.extend(flags);
        args.extend(["demo", tagged.as_str()]);
        let out = run_with_auth(&source, &auth, &args);
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
        let out = run_with_auth(
            &puller,
            &auth,
            &["pull", "-q", "--tls-verify=false", &tagged],
        );
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            image_id(&source, "demo")
        );
        assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    }

    // An image is pushed in its own format unless told otherwise: a Docker-format build
    // goes with a Docker manifest, and its health check comes back with it.
    assert_eq!(
        puller.inspect(&target, "{{.ManifestType}}"),
        "application/vnd.oci.image.manifest.v1+json"
    );
    let ctx = source.dir.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Containerfile"),
        "FROM demo\nHEALTHCHECK CMD [\"true\"]\n",
    )
    .unwrap();
    source.ok(&[
        "build",
        "-q",
        "--format",
        "docker",
        "-t",
        "checked",
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(
        source.inspect("checked", "{{.ManifestType}}"),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let checked = format!("{}/team/checked:v1", registry.host);
    let out = run_with_auth(
        &source,
        &auth,
        &[
            "push",
            "--tls-verify=false",
            "--digestfile",
            digest_file.to_str().unwrap(),
            "checked",
            &checked,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let digest = fs::read_to_string(&digest_file).unwrap();
    let manifest = registry
        .dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&digest[7..9])
        .join(&digest[7..])
        .join("data");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let out = run_with_auth(
        &puller,
        &auth,
        &["pull", "-q", "--tls-verify=false", &checked],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        puller.inspect(&checked, "{{.ManifestType}} {{json .HealthCheck.Test}}"),
        r#"application/vnd.docker.distribution.manifest.v2+json ["CMD","true"]"#
    );
    puller.ok(&["create", "--name", "checked", &checked, "true"]);
    assert_eq!(
        puller.inspect("checked", "{{json .Config.Healthcheck.Test}}"),
        r#"["CMD","true"]"#
    );
    // Told otherwise: an OCI manifest.
    let out = run_with_auth(
        &source,
        &auth,
        &[
            "push",
            "-q",
            "--tls-verify=false",
            "--format",
            "oci",
            "checked",
            &checked,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));

    // A tag the registry does not have: a clear error, nothing recorded.
    let missing = format!("{}/team/demo:nope", registry.host);
    let out = run_with_auth(&puller, &auth, &["pull", "--tls-verify=false", &missing]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("manifest unknown"),
        "{}",
        stderr_of(&out)
    );
    // Without --tls-verify=false an HTTP registry is refused, saying why.
    let out = run_with_auth(&puller, &auth, &["pull", &target]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("plain HTTP"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn run_pulls_a_missing_image_as_its_pull_policy_says() {
    let registry = Registry::plain();
    let source = Rpod::with_image("runc");
    let auth = source.dir.path().join("auth.json");
    let target = format!("{}/demo:latest", registry.host);
    let out = run_with_auth(
        &source,
        &auth,
        &["push", "--tls-verify=false", "demo", &target],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));

    let runner = Rpod::new("runc");
    let out = run_with_auth(
        &runner,
        &auth,
        &["run", "--rm", "--pull", "never", &target, "true"],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("image not known"),
        "{}",
        stderr_of(&out)
    );

    let out = run_with_auth(
        &runner,
        &auth,
        &[
            "run",
            "--rm",
            "--tls-verify=false",
            &target,
            "echo",
            "first",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first\n");
    assert!(
        stderr_of(&out).contains("Trying to pull"),
        "{}",
        stderr_of(&out)
    );
    // Present now: missing pulls nothing; always pulls again (its layers skipped).
    let out = run_with_auth(&runner, &auth, &["run", "--rm", &target, "true"]);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        stderr_of(&out)
    );
    let out = run_with_auth(
        &runner,
        &auth,
        &[
            "create",
            "--pull",
            "always",
            "--tls-verify=false",
            &target,
            "true",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("skipped: already exists"),
        "{}",
        stderr_of(&out)
    );
    // newer keeps the local image when the registry cannot be reached.
    drop(registry);
    let out = run_with_auth(
        &runner,
        &auth,
        &[
            "run",
            "--rm",
            "--pull",
            "newer",
            "--tls-verify=false",
            &target,
            "echo",
            "kept",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\n");
    let out = run_with_auth(
        &runner,
        &auth,
        &[
            "run",
            "--rm",
            "--pull",
            "always",
            "--tls-verify=false",
            &target,
            "true",
        ],
    );
    assert_eq!(out.status.code(), Some(125), "{}", stderr_of(&out));
}

#[test]
fn login_saves_credentials_that_push_and_pull_use_and_logout_removes_them() {
    let registry = Registry::start(RegistrySetup {
        user: Some(("alice", "s3cret")),
        tls: false,
    });
    let rpod = Rpod::with_image("runc");
    let auth = rpod.dir.path().join("auth/auth.json");
    let target = format!("{}/private/demo:1", registry.host);
    let host = registry.host.as_str();

    let out = run_with_auth(
        &rpod,
        &auth,
        &["push", "--tls-verify=false", "demo", &target],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("authentication required"),
        "{}",
        stderr_of(&out)
    );

    let out = run_with_auth(
        &rpod,
        &auth,
        &[
            "login",
            "--tls-verify=false",
            "-u",
            "alice",
            "-p",
            "wrong",
            host,
        ],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("invalid username/password"),
        "{}",
        stderr_of(&out)
    );
    assert!(!auth.exists(), "a failed login saved credentials");

    let out = run_with_auth(
        &rpod,
        &auth,
        &[
            "login",
            "--tls-verify=false",
            "-v",
            "-u",
            "alice",
            "-p",
            "s3cret",
            host,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    // -v: the credentials file used, as podman's.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Used: {}\nLogin Succeeded!\n", auth.display())
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&auth).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let saved: serde_json::Value = serde_json::from_slice(&fs::read(&auth).unwrap()).unwrap();
    assert!(saved["auths"][host]["auth"].is_string(), "{saved}");
    let out = run_with_auth(&rpod, &auth, &["login", "--get-login", host]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alice\n");
    // Logged in already: login without a password checks the saved credentials.
    let out = run_with_auth(&rpod, &auth, &["login", "--tls-verify=false", host]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Already logged in"));

    let out = run_with_auth(
        &rpod,
        &auth,
        &["push", "--tls-verify=false", "demo", &target],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let puller = Rpod::new("runc");
    let out = run_with_auth(
        &puller,
        &auth,
        &["pull", "-q", "--tls-verify=false", &target],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));

    let out = run_with_auth(&rpod, &auth, &["logout", host]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Removed login credentials for {host}\n")
    );
    let out = run_with_auth(&rpod, &auth, &["logout", host]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr_of(&out).contains(&format!("not logged into {host}")));
    let out = run_with_auth(&puller, &auth, &["pull", "--tls-verify=false", &target]);
    assert_eq!(out.status.code(), Some(125), "pulled without credentials");

    // --creds instead of a saved login; --password-stdin.
    let out = run_with_auth(
        &puller,
        &auth,
        &[
            "pull",
            "-q",
            "--tls-verify=false",
            "--creds",
            "alice:s3cret",
            &target,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut command = rpod.command(&[
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "--password-stdin",
        host,
    ]);
    with_auth(&mut command, &auth);
    let out = common::pipe_through(&mut command, b"s3cret\n");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = run_with_auth(&rpod, &auth, &["logout", "--all"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = run_with_auth(&rpod, &auth, &["login", "--get-login", host]);
    assert_eq!(out.status.code(), Some(125));
    // Credentials for a namespace of the registry, and what it says back.
    let namespace = format!("{host}/private");
    let out = run_with_auth(
        &rpod,
        &auth,
        &[
            "login",
            "--tls-verify=false",
            "-u",
            "alice",
            "-p",
            "s3cret",
            &namespace,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = run_with_auth(&rpod, &auth, &["login", "--get-login", &namespace]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alice\n");
    // No password, and no terminal to ask at: said, not waited for.
    let out = run_with_auth(
        &rpod,
        &auth,
        &["login", "-u", "alice", &format!("{host}/other")],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("password is needed"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_tls_registry_is_trusted_through_its_ca_or_with_tls_verify_false() {
    let registry = Registry::start(RegistrySetup {
        user: None,
        tls: true,
    });
    let rpod = Rpod::with_image("runc");
    let auth = rpod.dir.path().join("auth.json");
    let target = format!("{}/secure/demo:1", registry.host);
    let out = run_with_auth(&rpod, &auth, &["push", "demo", &target]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("--cert-dir"),
        "{}",
        stderr_of(&out)
    );
    let cert_dir = registry.cert_dir();
    let out = run_with_auth(
        &rpod,
        &auth,
        &[
            "push",
            "--cert-dir",
            cert_dir.to_str().unwrap(),
            "demo",
            &target,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let puller = Rpod::new("runc");
    let out = run_with_auth(
        &puller,
        &auth,
        &["pull", "-q", "--tls-verify=false", &target],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(image_id(&puller, &target), image_id(&rpod, "demo"));
}

#[test]
fn rpod_conf_names_search_and_insecure_registries() {
    let registry = Registry::plain();
    let config = format!(
        "[containers]\nnetns = \"none\"\n[registries]\nsearch = [\"{0}\"]\ninsecure = [\"{0}\"]\n",
        registry.host
    );
    let source = Rpod::with_image("runc");
    let auth = source.dir.path().join("auth.json");
    let out = run_with_auth(
        &source,
        &auth,
        &[
            "push",
            "--tls-verify=false",
            "demo",
            &format!("{}/tools/demo:2", registry.host),
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let puller = Rpod::with_config("runc", &config);
    // A short name, pulled from the search registry over HTTP without flags.
    let out = run_with_auth(&puller, &auth, &["pull", "-q", "tools/demo:2"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        puller
            .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        format!("{}/tools/demo:2", registry.host)
    );
    // Other transports are refused, not taken for registry names.
    let out = run_with_auth(&puller, &auth, &["pull", "docker-daemon:demo:1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("not supported"),
        "{}",
        stderr_of(&out)
    );
}

// ---------------------------------------------------------------------------------------
// A hostile registry: it serves what the test tells it to, whatever the digests say.

type Routes = Arc<Mutex<Vec<(String, Route)>>>;

#[derive(Clone)]
struct Route {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Only with this `Authorization` header; 401 with `challenge` otherwise.
    needs: Option<(String, String)>,
    /// Answered only once this is set (a download that hangs until the test lets it go).
    gate: Option<Arc<std::sync::atomic::AtomicBool>>,
}

fn route(body: Vec<u8>, content_type: &str) -> Route {
    Route {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body,
        needs: None,
        gate: None,
    }
}

/// Serve `routes` (matched by path prefix, query ignored) on a port of its own until the
/// test ends. Requests are logged with their Authorization header.
fn serve(routes: Routes, log: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let routes = routes.clone();
            let log = log.clone();
            std::thread::spawn(move || answer(stream, &routes, &log));
        }
    });
    host
}

fn answer(stream: TcpStream, routes: &Routes, log: &Arc<Mutex<Vec<String>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut authorization = String::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "authorization" => authorization = value.trim().to_string(),
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push(format!("{path} {authorization}"));
        let bare = path.split('?').next().unwrap_or("").to_string();
        let found = routes
            .lock()
            .unwrap()
            .iter()
            .find(|(prefix, _)| bare.starts_with(prefix.as_str()))
            .map(|(_, r)| r.clone());
        if let Some(gate) = found.as_ref().and_then(|r| r.gate.clone()) {
            while !gate.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let (status, headers, body) = match found {
            Some(r) => match &r.needs {
                Some((wanted, challenge)) if authorization != *wanted => (
                    401,
                    vec![("WWW-Authenticate".to_string(), challenge.clone())],
                    b"{}".to_vec(),
                ),
                _ => (r.status, r.headers.clone(), r.body.clone()),
            },
            None => (
                404,
                Vec::new(),
                br#"{"errors":[{"code":"NOT_FOUND","message":"nothing here"}]}"#.to_vec(),
            ),
        };
        let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&body).is_err() {
            return;
        }
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A one-file layer tar, gzip-compressed, and its diff id.
fn small_layer(content: &[u8]) -> (Vec<u8>, String) {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, "hello.txt", content)
        .unwrap();
    let tar = builder.into_inner().unwrap();
    let diff_id = sha256(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// Routes of a one-layer image `repo:tag`; `layer_served` is what the blob URL answers.
fn image_routes(layer: &[u8], diff_id: &str, layer_served: Vec<u8>) -> Vec<(String, Route)> {
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    })
    .to_string()
    .into_bytes();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(layer), "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    vec![
        ("/v2/".into(), route(b"{}".to_vec(), "application/json")),
        (
            "/v2/x/manifests/".into(),
            route(manifest, "application/vnd.oci.image.manifest.v1+json"),
        ),
        (
            format!("/v2/x/blobs/{}", sha256(&config)),
            route(config.clone(), "application/octet-stream"),
        ),
        (
            format!("/v2/x/blobs/{}", sha256(layer)),
            route(layer_served, "application/octet-stream"),
        ),
    ]
    .into_iter()
    // Longer paths first, so that /v2/ does not shadow them.
    .rev()
    .collect()
}

fn store_is_clean(rpod: &Rpod) {
    let count = |dir: &str| {
        fs::read_dir(rpod.root().join(dir))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(count("images/layers"), 0, "a layer stayed behind");
    assert_eq!(count("images/blobs"), 0, "a layer blob stayed behind");
    assert_eq!(count("tmp"), 0, "scratch files stayed behind");
    assert_eq!(rpod.ok(&["images", "-q"]), "");
}

#[test]
fn a_registry_that_lies_about_its_blobs_leaves_nothing_behind() {
    let (layer, diff_id) = small_layer(b"hello\n");
    let rpod = Rpod::new("runc");
    let auth = rpod.dir.path().join("auth.json");
    let log = Arc::new(Mutex::new(Vec::new()));

    // A layer whose bytes are not the ones its digest names.
    let (other, _) = small_layer(b"evil!\n");
    let routes = Arc::new(Mutex::new(image_routes(&layer, &diff_id, other)));
    let host = serve(routes.clone(), log.clone());
    let name = format!("{host}/x:1");
    let out = run_with_auth(&rpod, &auth, &["pull", "--tls-verify=false", &name]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("digest") || stderr_of(&out).contains("bytes"),
        "{}",
        stderr_of(&out)
    );
    store_is_clean(&rpod);

    // Longer than the manifest says.
    let mut longer = layer.clone();
    longer.extend_from_slice(&[0u8; 100]);
    *routes.lock().unwrap() = image_routes(&layer, &diff_id, longer);
    let out = run_with_auth(&rpod, &auth, &["pull", "--tls-verify=false", &name]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr_of(&out).contains("more than"), "{}", stderr_of(&out));
    store_is_clean(&rpod);

    // A manifest far larger than any real one.
    let mut huge = image_routes(&layer, &diff_id, layer.clone());
    for (prefix, route) in huge.iter_mut() {
        if prefix.contains("manifests") {
            route.body = vec![b' '; 5 << 20];
        }
    }
    *routes.lock().unwrap() = huge;
    let out = run_with_auth(&rpod, &auth, &["pull", "--tls-verify=false", &name]);
    assert_eq!(out.status.code(), Some(125));
    store_is_clean(&rpod);

    // A layer the manifest says is larger than the disk: refused before its download.
    let mut declared = image_routes(&layer, &diff_id, layer.clone());
    for (prefix, route) in declared.iter_mut() {
        if prefix.contains("manifests") {
            let mut manifest: serde_json::Value = serde_json::from_slice(&route.body).unwrap();
            manifest["layers"][0]["size"] = serde_json::json!(1u64 << 50);
            route.body = serde_json::to_vec(&manifest).unwrap();
        }
    }
    *routes.lock().unwrap() = declared;
    log.lock().unwrap().clear();
    let out = run_with_auth(&rpod, &auth, &["pull", "--tls-verify=false", &name]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("it needs 1.13 PB") && stderr_of(&out).contains("keep_free"),
        "{}",
        stderr_of(&out)
    );
    let layer_path = format!("/v2/x/blobs/{}", sha256(&layer));
    assert!(
        !log.lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with(&layer_path)),
        "the layer was downloaded"
    );
    store_is_clean(&rpod);

    // A manifest asked for by digest that is not the one served.
    *routes.lock().unwrap() = image_routes(&layer, &diff_id, layer.clone());
    let by_digest = format!("{host}/x@sha256:{}", "ab".repeat(32));
    let out = run_with_auth(&rpod, &auth, &["pull", "--tls-verify=false", &by_digest]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr_of(&out).contains("digest"), "{}", stderr_of(&out));
    store_is_clean(&rpod);

    // And served honestly, the same image pulls and its file is there.
    let out = run_with_auth(&rpod, &auth, &["pull", "-q", "--tls-verify=false", &name]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let layers = fs::read_dir(rpod.root().join("images/layers"))
        .unwrap()
        .count();
    assert_eq!(layers, 1);
    let unpacked = rpod
        .root()
        .join("images/layers")
        .join(&diff_id[7..])
        .join("hello.txt");
    assert_eq!(fs::read(unpacked).unwrap(), b"hello\n");
}

#[test]
fn a_bearer_token_is_fetched_with_the_credentials_and_sent() {
    let (layer, diff_id) = small_layer(b"token\n");
    let rpod = Rpod::new("runc");
    let auth = rpod.dir.path().join("auth.json");
    let log = Arc::new(Mutex::new(Vec::new()));
    let routes = Arc::new(Mutex::new(Vec::new()));
    let host = serve(routes.clone(), log.clone());
    let challenge = format!(r#"Bearer realm="http://{host}/token",service="fake""#);
    let mut served = vec![(
        "/token".to_string(),
        Route {
            needs: Some((
                // alice:pw
                "Basic YWxpY2U6cHc=".into(),
                r#"Basic realm="tokens""#.into(),
            )),
            ..route(br#"{"token":"T0KEN"}"#.to_vec(), "application/json")
        },
    )];
    for (prefix, r) in image_routes(&layer, &diff_id, layer.clone()) {
        served.push((
            prefix,
            Route {
                needs: Some(("Bearer T0KEN".into(), challenge.clone())),
                ..r
            },
        ));
    }
    *routes.lock().unwrap() = served;
    let name = format!("{host}/x:1");
    let out = run_with_auth(&rpod, &auth, &["pull", "--tls-verify=false", &name]);
    assert_eq!(out.status.code(), Some(125), "pulled without credentials");
    let out = run_with_auth(
        &rpod,
        &auth,
        &[
            "pull",
            "-q",
            "--tls-verify=false",
            "--creds",
            "alice:pw",
            &name,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let log = log.lock().unwrap();
    let token_request = log
        .iter()
        .find(|l| l.starts_with("/token?") && l.ends_with("Basic YWxpY2U6cHc="))
        .expect("no token request with the credentials");
    assert!(token_request.contains("service=fake"), "{token_request}");
    assert!(
        token_request.contains("scope=repository%3Ax%3Apull"),
        "{token_request}"
    );
    assert!(log
        .iter()
        .any(|l| l.contains("/blobs/") && l.ends_with("Bearer T0KEN")));
}

/// A one-layer image for `arch`: its manifest, and the routes of its config and layer.
fn image_for(arch: &str, content: &[u8]) -> (Vec<u8>, Vec<(String, Route)>) {
    let (layer, diff_id) = small_layer(content);
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    })
    .to_string()
    .into_bytes();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(&layer), "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    let routes = vec![
        (
            format!("/v2/x/blobs/{}", sha256(&config)),
            route(config, "application/octet-stream"),
        ),
        (
            format!("/v2/x/blobs/{}", sha256(&layer)),
            route(layer, "application/octet-stream"),
        ),
        (
            format!("/v2/x/manifests/{}", sha256(&manifest)),
            route(
                manifest.clone(),
                "application/vnd.oci.image.manifest.v1+json",
            ),
        ),
    ];
    (manifest, routes)
}

#[test]
fn a_manifest_list_gives_the_image_for_the_platform_asked_for() {
    let (host_arch, other_arch) = match std::env::consts::ARCH {
        "aarch64" => ("arm64", "amd64"),
        _ => ("amd64", "arm64"),
    };
    let (host_manifest, mut routes) = image_for(host_arch, b"host\n");
    let (other_manifest, other_routes) = image_for(other_arch, b"other\n");
    routes.extend(other_routes);
    let entry = |manifest: &[u8], arch: &str| {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha256(manifest), "size": manifest.len(),
            "platform": {"os": "linux", "architecture": arch},
        })
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry(&other_manifest, other_arch), entry(&host_manifest, host_arch)],
    })
    .to_string()
    .into_bytes();
    routes.push((
        "/v2/x/manifests/1".into(),
        route(index.clone(), "application/vnd.oci.image.index.v1+json"),
    ));
    routes.push(("/v2/".into(), route(b"{}".to_vec(), "application/json")));
    let host = serve(
        Arc::new(Mutex::new(routes)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let name = format!("{host}/x:1");
    let rpod = Rpod::new("runc");
    let arch_of = |rpod: &Rpod| rpod.inspect(&name, "{{.Architecture}}");

    rpod.ok(&["pull", "-q", "--tls-verify=false", &name]);
    assert_eq!(arch_of(&rpod), host_arch);
    // Known by the list's digest and by its own manifest's.
    let digests = rpod.inspect(&name, "{{json .RepoDigests}}");
    assert!(digests.contains(&sha256(&index)), "{digests}");
    assert!(digests.contains(&sha256(&host_manifest)), "{digests}");
    let other = format!("linux/{other_arch}");
    rpod.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--platform",
        &other,
        &name,
    ]);
    assert_eq!(arch_of(&rpod), other_arch);
    // create --platform with a local image of another platform pulls the one asked for.
    let this = format!("linux/{host_arch}");
    rpod.ok(&[
        "create",
        "--tls-verify=false",
        "--platform",
        &this,
        &name,
        "true",
    ]);
    assert_eq!(arch_of(&rpod), host_arch);
    let err = rpod.fails(
        &[
            "pull",
            "--tls-verify=false",
            "--platform",
            "linux/s390x",
            &name,
        ],
        125,
    );
    assert!(err.contains("no image for linux/s390x"), "{err}");
}

#[test]
fn a_pull_downloads_without_holding_the_image_store() {
    let (layer, diff_id) = small_layer(b"slow\n");
    let gate = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut routes = image_routes(&layer, &diff_id, layer.clone());
    for (prefix, route) in routes.iter_mut() {
        if prefix.ends_with(&sha256(&layer)) {
            route.gate = Some(gate.clone());
        }
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let host = serve(Arc::new(Mutex::new(routes)), log.clone());
    let rpod = Rpod::with_image("runc");
    let mut pull = rpod
        .command(&["pull", "-q", "--tls-verify=false", &format!("{host}/x:1")])
        .spawn()
        .unwrap();
    common::wait_until("the layer's download to start", || {
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(&sha256(&layer)))
    });
    // While the download hangs, other image work goes on (a create takes the image lock).
    // `timeout` ends the create if it waits for the pull, failing the test.
    let mut create = Command::new("timeout");
    create.arg("20").arg(env!("CARGO_BIN_EXE_rpod"));
    let probe = rpod.command(&["create", "demo", "true"]);
    create.args(probe.get_args());
    for (key, value) in probe.get_envs() {
        if let Some(value) = value {
            create.env(key, value);
        }
    }
    let out = create.output().unwrap();
    let pull_still_running = pull.try_wait().unwrap().is_none();
    gate.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(out.status.success(), "create waited for the pull: {out:?}");
    assert!(pull_still_running, "the pull ended before the create");
    assert!(pull.wait().unwrap().success());
    assert_eq!(rpod.ok(&["images", "-q"]).lines().count(), 2);
}

#[test]
fn an_image_podman_pushed_with_zstd_layers_pulls_and_runs() {
    let registry = Registry::plain();
    let source = Rpod::with_image("runc");
    let archive = source.dir.path().join("demo.tar");
    source.ok(&["save", "-o", archive.to_str().unwrap(), "demo"]);
    let podman_store = Podman::new();
    let podman = |args: &[&str]| podman_store.ok(args);
    podman(&["load", "-q", "-i", archive.to_str().unwrap()]);
    let target = format!("{}/zstd/demo:1", registry.host);
    podman(&[
        "push",
        "-q",
        "--tls-verify=false",
        "--compression-format",
        "zstd",
        "localhost/demo:latest",
        &target,
    ]);
    let manifest = registry_manifest(&registry.host, "zstd/demo", "1");
    assert!(manifest.contains("tar+zstd"), "{manifest}");
    let puller = Rpod::new("runc");
    let out = puller.run(&["pull", "-q", "--tls-verify=false", &target]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        puller.ok(&["run", "--rm", &target, "echo", "from zstd"]),
        "from zstd\n"
    );
    assert_eq!(image_id(&puller, &target), image_id(&source, "demo"));
}

#[test]
fn rpod_pushes_zstd_layers_that_podman_and_rpod_pull() {
    let registry = Registry::plain();
    let source = Rpod::with_image("runc");
    let target = format!("{}/zstd/rpod:1", registry.host);
    source.ok(&[
        "push",
        "--tls-verify=false",
        "--compression-format",
        "zstd",
        "demo",
        &target,
    ]);
    let manifest = registry_manifest(&registry.host, "zstd/rpod", "1");
    assert!(
        manifest.contains("application/vnd.oci.image.layer.v1.tar+zstd"),
        "{manifest}"
    );
    let puller = Rpod::new("runc");
    puller.ok(&["pull", "-q", "--tls-verify=false", &target]);
    assert_eq!(image_id(&puller, &target), image_id(&source, "demo"));
    assert_eq!(
        puller.ok(&["run", "--rm", &target, "echo", "zstd by rpod"]),
        "zstd by rpod\n"
    );
    // podman (Debian's 4.3.1) reads rpod's zstd too.
    let pulled = Podman::new().ok(&["pull", "-q", "--tls-verify=false", &target]);
    assert_eq!(pulled, image_id(&source, "demo"));
    // Docker's manifests take gzip only.
    let err = source.fails(
        &[
            "push",
            "--tls-verify=false",
            "--compression-format",
            "zstd",
            "--format",
            "v2s2",
            "demo",
            &target,
        ],
        125,
    );
    assert!(err.contains("need gzip layers"), "{err}");
}

/// A manifest as the registry serves it, read with a plain HTTP request.
fn registry_manifest(host: &str, repository: &str, tag: &str) -> String {
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /v2/{repository}/manifests/{tag} HTTP/1.0\r\nHost: {host}\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn the_layers_of_an_image_download_side_by_side_and_stack_in_order() {
    // More layers than downloads run at once, each with a file of its own.
    let layers: Vec<(Vec<u8>, String)> = (0..9)
        .map(|i| small_layer(format!("layer {i}\n").as_bytes()))
        .collect();
    let diff_ids: Vec<&str> = layers.iter().map(|(_, d)| d.as_str()).collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes();
    let descriptors: Vec<serde_json::Value> = layers
        .iter()
        .map(|(blob, _)| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": sha256(blob), "size": blob.len(),
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": descriptors,
    })
    .to_string()
    .into_bytes();
    let mut routes: Vec<(String, Route)> = layers
        .iter()
        .map(|(blob, _)| {
            (
                format!("/v2/x/blobs/{}", sha256(blob)),
                route(blob.clone(), "application/octet-stream"),
            )
        })
        .collect();
    routes.push((
        format!("/v2/x/blobs/{}", sha256(&config)),
        route(config, "application/octet-stream"),
    ));
    routes.push((
        "/v2/x/manifests/".into(),
        route(manifest, "application/vnd.oci.image.manifest.v1+json"),
    ));
    routes.push(("/v2/".into(), route(b"{}".to_vec(), "application/json")));
    // The first layer's download hangs until another has begun beside it.
    let gate = Arc::new(std::sync::atomic::AtomicBool::new(false));
    routes[0].1.gate = Some(gate.clone());
    let log = Arc::new(Mutex::new(Vec::new()));
    let host = serve(Arc::new(Mutex::new(routes)), log.clone());
    let rpod = Rpod::new("runc");
    let name = format!("{host}/x:1");
    let pull = rpod
        .command(&["pull", "--tls-verify=false", &name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until(
        "a second layer's download to begin beside the first",
        || {
            let log = log.lock().unwrap();
            log.iter().any(|l| l.contains(&sha256(&layers[0].0)))
                && log.iter().any(|l| l.contains(&sha256(&layers[1].0)))
        },
    );
    gate.store(true, std::sync::atomic::Ordering::SeqCst);
    let out = pull.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out).matches("Copying blob").count(), 9);
    let stacked = rpod.inspect(&name, "{{json .RootFS.Layers}}");
    let expected: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    assert_eq!(stacked, serde_json::to_string(&expected).unwrap());
    for (i, diff_id) in diff_ids.iter().enumerate() {
        let file = rpod
            .root()
            .join("images/layers")
            .join(&diff_id[7..])
            .join("hello.txt");
        assert_eq!(fs::read_to_string(file).unwrap(), format!("layer {i}\n"));
    }
}

#[test]
fn credentials_never_follow_an_upload_to_another_host() {
    // Another host, where the registry sends the upload.
    let other_log = Arc::new(Mutex::new(Vec::new()));
    let elsewhere = serve(
        Arc::new(Mutex::new(vec![(
            "/upload".to_string(),
            Route {
                status: 201,
                ..route(Vec::new(), "text/plain")
            },
        )])),
        other_log.clone(),
    );
    let basic = "Basic YWxpY2U6cHc="; // alice:pw
    let guarded = |r: Route| Route {
        needs: Some((basic.into(), r#"Basic realm="r""#.into())),
        ..r
    };
    let started = Route {
        status: 202,
        headers: vec![(
            "Location".into(),
            format!("http://{elsewhere}/upload?state=1"),
        )],
        ..route(Vec::new(), "text/plain")
    };
    let routes = vec![
        ("/v2/x/blobs/uploads/".to_string(), guarded(started)),
        // No blob is there yet.
        (
            "/v2/x/blobs/sha256:".into(),
            guarded(Route {
                status: 404,
                ..route(Vec::new(), "text/plain")
            }),
        ),
        (
            "/v2/x/manifests/".into(),
            guarded(Route {
                status: 201,
                ..route(Vec::new(), "text/plain")
            }),
        ),
        (
            "/v2/".into(),
            guarded(route(b"{}".to_vec(), "application/json")),
        ),
    ];
    let log = Arc::new(Mutex::new(Vec::new()));
    let host = serve(Arc::new(Mutex::new(routes)), log.clone());
    let rpod = Rpod::with_image("runc");
    let out = rpod.run(&[
        "push",
        "--tls-verify=false",
        "--creds",
        "alice:pw",
        "demo",
        &format!("{host}/x:1"),
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let other = other_log.lock().unwrap();
    assert!(!other.is_empty(), "nothing was uploaded elsewhere");
    for line in other.iter() {
        assert!(
            line.ends_with(' '),
            "credentials sent to another host: {line}"
        );
    }
    assert!(log.lock().unwrap().iter().any(|l| l.ends_with(basic)));
}

#[test]
fn search_lists_a_registrys_repositories_and_a_repositorys_tags() {
    let registry = Registry::plain();
    let host = registry.host.clone();
    let rpod = Rpod::with_image("runc");
    for target in ["team/demo:v1", "team/demo:v2", "team/other:1", "solo:1"] {
        rpod.ok(&[
            "push",
            "-q",
            "--tls-verify=false",
            "demo",
            &format!("{host}/{target}"),
        ]);
    }
    let found = rpod.ok(&["search", "--tls-verify=false", &format!("{host}/team")]);
    let rows: Vec<Vec<&str>> = found
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["NAME", "DESCRIPTION"],
            vec![format!("{host}/team/demo").as_str()],
            vec![format!("{host}/team/other").as_str()],
        ]
    );
    let names = |args: &[&str]| rpod.ok(args).lines().map(String::from).collect::<Vec<_>>();
    let term = format!("{host}/solo");
    assert_eq!(
        names(&[
            "search",
            "--tls-verify=false",
            "--format",
            "{{.Name}} {{.Index}}",
            &term
        ]),
        [format!("{host}/solo {host}")]
    );
    assert_eq!(
        names(&[
            "search",
            "--tls-verify=false",
            "--limit",
            "1",
            "--format",
            "{{.Name}}",
            &format!("{host}/")
        ])
        .len(),
        1
    );
    assert!(names(&["search", "--tls-verify=false", "--filter", "stars=1", &term]).is_empty());
    rpod.fails(&["search", "--filter", "color=red", &term], 125);
    let tags = format!("{host}/team/demo");
    assert_eq!(
        names(&[
            "search",
            "--tls-verify=false",
            "--list-tags",
            "--format",
            "{{.Tag}}",
            &tags
        ]),
        ["v1", "v2"]
    );
    let err = rpod.fails(&["search", "--list-tags", &format!("{tags}:v1")], 125);
    assert!(err.contains("without a tag"), "{err}");
    // A term without a registry is searched on rpod.conf's search registries.
    let configured = Rpod::with_config(
        "runc",
        &format!("[registries]\nsearch = [\"{host}\"]\ninsecure = [\"{host}\"]\n"),
    );
    assert_eq!(
        configured
            .ok(&["search", "--format", "{{.Name}}", "other"])
            .trim(),
        format!("{host}/team/other")
    );
}

/// A push reads what it opened when it began: an `rmi` of the image during the upload
/// neither waits for the push nor breaks it.
#[test]
fn an_image_removed_during_its_push_is_still_pushed() {
    let gate = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let accepted = |status: u16| Route {
        status,
        ..route(Vec::new(), "text/plain")
    };
    let routes = vec![
        (
            "/v2/x/blobs/uploads/".to_string(),
            Route {
                headers: vec![("Location".into(), "/upload?state=1".into())],
                gate: Some(gate.clone()),
                ..accepted(202)
            },
        ),
        ("/upload".into(), accepted(201)),
        // No blob is there yet.
        ("/v2/x/blobs/sha256:".into(), accepted(404)),
        ("/v2/x/manifests/".into(), accepted(201)),
        ("/v2/".into(), route(b"{}".to_vec(), "application/json")),
    ];
    let log = Arc::new(Mutex::new(Vec::new()));
    let host = serve(Arc::new(Mutex::new(routes)), log.clone());
    let rpod = Rpod::with_image("runc");
    let push = rpod
        .command(&["push", "--tls-verify=false", "demo", &format!("{host}/x:1")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until("the push's first upload waits", || {
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("/v2/x/blobs/uploads/"))
    });
    rpod.ok(&["rmi", "demo"]);
    assert_eq!(rpod.ok(&["images", "-q"]), "");
    gate.store(true, std::sync::atomic::Ordering::SeqCst);
    let out = push.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let log = log.lock().unwrap();
    assert!(
        log.iter().any(|l| l.starts_with("/v2/x/manifests/1")),
        "no manifest was written: {log:?}"
    );
    // Both blobs (the layer, then the config) went up.
    assert_eq!(
        log.iter().filter(|l| l.starts_with("/upload")).count(),
        2,
        "{log:?}"
    );
}

/// A fake `docker-credential-NAME` in a directory of its own, keeping what it is given in
/// files there (one per server) and logging its calls.
fn credential_helper(dir: &Path, name: &str) -> PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let script = bin.join(format!("docker-credential-{name}"));
    let store = dir.join("store");
    fs::create_dir_all(&store).unwrap();
    fs::write(
        &script,
        format!(
            r#"#!/bin/sh
input=$(cat)
echo "$1 $input" >> {log}
case "$1" in
get)
    file="{store}/$(echo "$input" | tr '/:' '__')"
    if [ -f "$file" ]; then cat "$file"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
    server=$(echo "$input" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/')
    echo "$input" > "{store}/$(echo "$server" | tr '/:' '__')" ;;
erase)
    file="{store}/$(echo "$input" | tr '/:' '__')"
    if [ -f "$file" ]; then rm "$file"; else echo "credentials not found in native keychain"; exit 1; fi ;;
esac
"#,
            log = dir.join("calls").display(),
            store = store.display(),
        ),
    )
    .unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bin
}

/// Credentials kept by a credential helper (`credHelpers` in auth.json, docker's
/// `credsStore` in its config.json): login stores them there, push and pull read them,
/// logout erases them; none is written into the file.
#[test]
fn credential_helpers_keep_the_credentials_of_their_registries() {
    let registry = Registry::start(RegistrySetup {
        user: Some(("alice", "s3cret")),
        tls: false,
    });
    let host = registry.host.as_str();
    let rpod = Rpod::with_image("runc");
    let helper_dir = rpod.dir.path().join("helper");
    let bin = credential_helper(&helper_dir, "rpodtest");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let auth = rpod.dir.path().join("auth.json");
    fs::write(
        &auth,
        format!(r#"{{"credHelpers":{{"{host}":"rpodtest"}}}}"#),
    )
    .unwrap();
    let run = |args: &[&str]| rpod.command(args).env("PATH", &path).output().unwrap();

    let out = run(&[
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "s3cret",
        host,
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let saved = fs::read_to_string(&auth).unwrap();
    assert!(!saved.contains("auths"), "saved in the file: {saved}");
    let calls = fs::read_to_string(helper_dir.join("calls")).unwrap();
    assert!(
        calls.contains(&format!(
            r#"store {{"ServerURL":"{host}","Username":"alice","Secret":"s3cret"}}"#
        )),
        "{calls}"
    );
    let target = format!("{host}/private/demo:1");
    let out = run(&["push", "--tls-verify=false", "demo", &target]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = run(&["login", "--get-login", host]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "alice",
        "{}",
        stderr_of(&out)
    );
    let out = run(&["logout", host]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = run(&["pull", "--tls-verify=false", &target]);
    assert_eq!(out.status.code(), Some(125), "pulled after the logout");
    assert!(fs::read_dir(helper_dir.join("store"))
        .unwrap()
        .next()
        .is_none());

    // docker's config.json, read after auth.json: its credsStore keeps every registry's.
    fs::remove_file(&auth).unwrap();
    let docker = rpod.dir.path().join("docker");
    fs::create_dir_all(&docker).unwrap();
    fs::write(docker.join("config.json"), r#"{"credsStore":"rpodtest"}"#).unwrap();
    let kept = helper_dir.join("store").join(host.replace(':', "_"));
    fs::write(
        &kept,
        r#"{"ServerURL":"x","Username":"alice","Secret":"s3cret"}"#,
    )
    .unwrap();
    let out = run(&["pull", "-q", "--tls-verify=false", &target]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A helper that fails is an error that names it, not an anonymous pull.
    fs::write(&kept, "not json").unwrap();
    let out = run(&["pull", "--tls-verify=false", &target]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("docker-credential-rpodtest"),
        "{}",
        stderr_of(&out)
    );
    // A helper's name is a word: a file cannot make rpod run a path.
    fs::write(
        docker.join("config.json"),
        r#"{"credsStore":"../../bin/sh"}"#,
    )
    .unwrap();
    let out = run(&["pull", "--tls-verify=false", &target]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("not a credential helper"),
        "{}",
        stderr_of(&out)
    );
}

/// `pull --all-tags`: every tag of a repository, each under its own name.
#[test]
fn pull_all_tags_pulls_every_tag_of_a_repository() {
    let registry = Registry::plain();
    let source = Rpod::with_image("runc");
    let other = source.ok(&["run", "--name", "changed", "demo", "touch", "/new"]);
    assert_eq!(other, "");
    source.ok(&["commit", "changed", "changed-image"]);
    let repository = format!("{}/team/many", registry.host);
    for (image, tag) in [("demo", "1"), ("demo", "2"), ("changed-image", "3")] {
        source.ok(&[
            "push",
            "-q",
            "--tls-verify=false",
            image,
            &format!("{repository}:{tag}"),
        ]);
    }
    let rpod = Rpod::new("runc");
    let out = rpod.ok(&["pull", "--all-tags", "--tls-verify=false", &repository]);
    assert_eq!(out.lines().count(), 3, "{out}");
    let names = rpod.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("{repository}:1"),
            format!("{repository}:2"),
            format!("{repository}:3")
        ]
    );
    assert_eq!(
        rpod.ok(&["run", "--rm", &format!("{repository}:3"), "ls", "/new"]),
        "/new\n"
    );
    let err = rpod.fails(
        &[
            "pull",
            "--all-tags",
            "--tls-verify=false",
            &format!("{repository}:1"),
        ],
        125,
    );
    assert!(err.contains("without a tag"), "{err}");
    let err = rpod.fails(
        &["pull", "-a", "--tls-verify=false", &repository, &repository],
        125,
    );
    assert!(err.contains("one repository"), "{err}");
}

/// `manifest`: a list of two local images (one made for arm64) with their platforms and an
/// annotation; inspected, changed, pushed with its images, and pulled back by platform;
/// inspected on the registry; what it refuses.
#[test]
fn a_manifest_list_pushes_with_its_images_and_pulls_by_platform() {
    let registry = Registry::plain();
    let rpod = Rpod::with_image("crun");
    let tarball = common::busybox_tarball().display().to_string();
    rpod.ok(&[
        "import",
        "--arch",
        "arm64",
        "--variant",
        "v8",
        &tarball,
        "armimg",
    ]);
    let id = rpod.ok(&["manifest", "create", "multi", "demo"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let added = rpod.ok(&[
        "manifest",
        "add",
        "--annotation",
        "note=arm",
        "multi",
        "armimg",
    ]);
    assert_eq!(added, id);
    assert_eq!(
        rpod.run(&["manifest", "exists", "multi"]).status.code(),
        Some(0)
    );
    assert_eq!(
        rpod.run(&["manifest", "exists", "nope"]).status.code(),
        Some(1)
    );
    // `images` lists it beside the images, as podman's does: by name, by filter, by ID.
    let rows = rpod.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    let short = &id.trim()[..12];
    assert!(
        rows.contains(&format!("localhost/multi:latest {short}")),
        "{rows}"
    );
    assert!(rows.contains("localhost/demo:latest"), "{rows}");
    assert_eq!(
        rpod.ok(&["images", "--format", "{{.ID}}", "multi"]).trim(),
        short
    );
    assert_eq!(
        rpod.ok(&["images", "-q", "--filter", "reference=multi"])
            .trim(),
        short
    );
    let json: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["images", "--format", "json", "multi"])).unwrap();
    assert_eq!(json[0]["Names"][0], "localhost/multi:latest");
    assert!(json[0]["Size"].as_u64().unwrap() > 0);
    assert!(!rpod
        .ok(&["images", "-q", "--filter", "dangling=true"])
        .contains(short));
    // Its name runs, inspects and exists as its image for this machine (demo's, amd64), as
    // podman takes a list; a list without one says which platforms it has.
    assert_eq!(
        rpod.ok(&["run", "--rm", "multi", "echo", "from-the-list"]),
        "from-the-list\n"
    );
    assert_eq!(
        rpod.ok(&["image", "inspect", "--format", "{{.Id}}", "multi"]),
        rpod.ok(&["image", "inspect", "--format", "{{.Id}}", "demo"])
    );
    assert_eq!(
        rpod.run(&["image", "exists", "multi"]).status.code(),
        Some(0)
    );
    rpod.ok(&["manifest", "create", "armonly", "armimg"]);
    let err = rpod.fails(&["run", "--rm", "--pull", "never", "armonly", "true"], 125);
    assert!(err.contains("linux/arm64"), "{err}");
    // The platform asked for picks its entry (here made, not run: arm64 does not run here).
    let made = rpod.ok(&["create", "--platform", "linux/arm64", "multi", "true"]);
    assert_eq!(
        rpod.inspect(made.trim(), "{{.Image}}"),
        rpod.ok(&["image", "inspect", "--format", "{{.Id}}", "armimg"])
            .trim()
    );
    rpod.ok(&["rm", made.trim()]);
    assert_eq!(
        rpod.run(&["image", "exists", "armonly"]).status.code(),
        Some(0)
    );
    rpod.ok(&["manifest", "rm", "armonly"]);
    let inspect = |name: &str| -> serde_json::Value {
        serde_json::from_str(&rpod.ok(&["manifest", "inspect", "--tls-verify=false", name]))
            .unwrap()
    };
    let list = inspect("multi");
    assert_eq!(list["mediaType"], "application/vnd.oci.image.index.v1+json");
    let manifests = list["manifests"].as_array().unwrap().clone();
    assert_eq!(manifests.len(), 2);
    assert_eq!(manifests[0]["platform"]["architecture"], "amd64");
    assert_eq!(manifests[1]["platform"]["architecture"], "arm64");
    assert_eq!(manifests[1]["platform"]["variant"], "v8");
    assert_eq!(manifests[1]["annotations"]["note"], "arm");
    let arm_digest = manifests[1]["digest"].as_str().unwrap().to_string();
    // annotate and remove work on an entry by its digest.
    rpod.ok(&[
        "manifest",
        "annotate",
        "--os-version",
        "1.0",
        "multi",
        &arm_digest,
    ]);
    assert_eq!(
        inspect("multi")["manifests"][1]["platform"]["os.version"],
        "1.0"
    );
    rpod.ok(&["manifest", "create", "scratchlist", "demo", "armimg"]);
    rpod.ok(&["manifest", "remove", "scratchlist", &arm_digest]);
    assert_eq!(
        inspect("scratchlist")["manifests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let removed = rpod.ok(&["manifest", "rm", "scratchlist"]);
    assert!(
        removed.contains("Untagged: localhost/scratchlist:latest"),
        "{removed}"
    );
    assert_eq!(
        rpod.run(&["manifest", "exists", "scratchlist"])
            .status
            .code(),
        Some(1)
    );

    // Pushed with its images; the list's digest in the file.
    let target = format!("{}/team/multi:v1", registry.host);
    let digest_file = rpod.dir.path().join("digest");
    rpod.ok(&[
        "manifest",
        "push",
        "--tls-verify=false",
        "--digestfile",
        digest_file.to_str().unwrap(),
        "multi",
        &target,
    ]);
    let digest = fs::read_to_string(&digest_file).unwrap();
    // The registry has the list as it is here, under that digest.
    let local = rpod.ok(&["manifest", "inspect", "multi"]);
    let remote = rpod.ok(&["manifest", "inspect", "--tls-verify=false", &target]);
    assert_eq!(remote, local);
    let pushed = local.strip_suffix('\n').unwrap();
    assert_eq!(format!("sha256:{:x}", Sha256::digest(pushed)), digest);
    // Pulled by platform: this machine's runs, arm64's is arm64's.
    let puller = Rpod::new("crun");
    puller.ok(&["pull", "-q", "--tls-verify=false", &target]);
    assert_eq!(
        puller.ok(&["run", "--rm", &target, "echo", "from the list"]),
        "from the list\n"
    );
    assert_eq!(puller.inspect(&target, "{{.Architecture}}"), "amd64");
    let arm = Rpod::new("crun");
    arm.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--arch",
        "arm64",
        &target,
    ]);
    assert_eq!(
        arm.inspect(&target, "{{.Architecture}} {{.Variant}}"),
        "arm64 v8"
    );
    assert_eq!(
        arm.inspect(&target, "{{.Id}}"),
        rpod.inspect("armimg", "{{.Id}}")
    );
    // Another compression than the entries' is refused; gzip and --remove-signatures
    // (rpod keeps no signatures with images) are what is done anyway.
    let err = rpod.fails(
        &[
            "manifest",
            "push",
            "--compression-format",
            "zstd",
            "--tls-verify=false",
            "multi",
            &target,
        ],
        125,
    );
    assert!(err.contains("with gzip layers"), "{err}");
    // --rm deletes the list once pushed.
    rpod.ok(&[
        "manifest",
        "push",
        "-q",
        "--rm",
        "--compression-format",
        "gzip",
        "--remove-signatures",
        "--tls-verify=false",
        "multi",
        &target,
    ]);
    assert_eq!(
        rpod.run(&["manifest", "exists", "multi"]).status.code(),
        Some(1)
    );

    // Refused, saying why.
    let err = rpod.fails(&["manifest", "add", "nolist", "demo"], 125);
    assert!(err.contains("no such manifest list"), "{err}");
    rpod.ok(&["manifest", "create", "empty"]);
    let err = rpod.fails(&["manifest", "create", "empty"], 125);
    assert!(err.contains("--amend"), "{err}");
    rpod.ok(&["manifest", "create", "--amend", "empty"]);
    // A list's name is not an image's too.
    let err = rpod.fails(&["tag", "demo", "empty"], 125);
    assert!(
        err.contains("localhost/empty:latest is the name of a manifest list"),
        "{err}"
    );
    // Nor by any other way an image gets a name (the store refuses it), and a refused load
    // takes back only what it added: demo, in the archive too, stays.
    rpod.ok(&["create", "--name", "tocommit", "demo", "true"]);
    let err = rpod.fails(&["commit", "tocommit", "empty"], 125);
    assert!(err.contains("is the name of a manifest list"), "{err}");
    let archive = rpod.dir.path().join("two.tar");
    let archive = archive.to_str().unwrap();
    rpod.ok(&["commit", "-q", "tocommit", "committed"]);
    rpod.ok(&["save", "-m", "-o", archive, "demo", "committed"]);
    rpod.ok(&["rm", "tocommit"]);
    rpod.ok(&["rmi", "committed"]);
    let err = rpod.fails(&["import", archive, "empty"], 125);
    assert!(err.contains("is the name of a manifest list"), "{err}");
    rpod.ok(&["manifest", "rm", "empty"]);
    rpod.ok(&["manifest", "create", "localhost/committed:latest"]);
    let images_before = rpod.ok(&["images", "-qa", "--no-trunc"]);
    let err = rpod.fails(&["load", "-i", archive], 125);
    assert!(err.contains("is the name of a manifest list"), "{err}");
    assert_eq!(rpod.ok(&["images", "-qa", "--no-trunc"]), images_before);
    rpod.ok(&["manifest", "rm", "committed"]);
    rpod.ok(&["manifest", "create", "empty"]);
    let missing = format!("{}/team/nothing:1", registry.host);
    let err = rpod.fails(
        &["manifest", "add", "--tls-verify=false", "empty", &missing],
        125,
    );
    assert!(err.contains("no registry has it"), "{err}");
    let err = rpod.fails(&["manifest", "create", "demo"], 125);
    assert!(err.contains("names an image"), "{err}");
    let err = rpod.fails(
        &["manifest", "push", "--tls-verify=false", "empty", &target],
        125,
    );
    assert!(err.contains("no entries"), "{err}");
    let err = rpod.fails(&["manifest", "add", "--all", "empty", "demo"], 125);
    assert!(
        err.contains("--all takes a registry's manifest list"),
        "{err}"
    );
    // A list that is not there exits 1, as rmi's and podman's.
    let err = rpod.fails(&["manifest", "rm", "nolist"], 1);
    assert!(err.contains("no such manifest list"), "{err}");
    rpod.ok(&["manifest", "rm", "-i", "nolist", "empty"]);
    // An entry's local image removed since: the push says so, and sends nothing.
    rpod.ok(&["manifest", "create", "orphaned", "armimg"]);
    rpod.ok(&["rmi", "armimg"]);
    let err = rpod.fails(
        &[
            "manifest",
            "push",
            "--tls-verify=false",
            "orphaned",
            &target,
        ],
        125,
    );
    assert!(err.contains("is no longer here"), "{err}");
    // rmi of a list's name removes the list, as podman's does.
    rpod.ok(&["manifest", "create", "byrmi"]);
    let removed = rpod.ok(&["rmi", "byrmi"]);
    assert!(
        removed.contains("Untagged: localhost/byrmi:latest"),
        "{removed}"
    );
    assert_eq!(
        rpod.run(&["manifest", "exists", "byrmi"]).status.code(),
        Some(1)
    );
}

/// `manifest add` of registries' images, as a multi-platform release is assembled from
/// images pushed one by one: entries taken from the registry (an image with its config's
/// platform, a list's entries with `--all`), and a push that copies them into another
/// repository (blobs through this host, checked) or finds them in its own.
#[test]
fn a_manifest_list_of_registry_images_is_assembled_and_pushed_elsewhere() {
    let registry = Registry::plain();
    let host = &registry.host;
    let builder = Rpod::with_image("crun");
    let tarball = common::busybox_tarball().display().to_string();
    builder.ok(&["import", "--arch", "arm64", &tarball, "armimg"]);
    for (image, tag) in [("demo", "amd64"), ("armimg", "arm64")] {
        let target = format!("{host}/team/app:{tag}");
        builder.ok(&["push", "-q", "--tls-verify=false", image, &target]);
    }
    // Another store, without those images.
    let rpod = Rpod::new("crun");
    rpod.ok(&["manifest", "create", "release"]);
    rpod.ok(&[
        "manifest",
        "add",
        "--tls-verify=false",
        "release",
        &format!("docker://{host}/team/app:amd64"),
    ]);
    rpod.ok(&[
        "manifest",
        "add",
        "--tls-verify=false",
        "release",
        &format!("{host}/team/app:arm64"),
    ]);
    let list: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["manifest", "inspect", "release"])).unwrap();
    let platforms: Vec<String> = list["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(platforms, ["amd64", "arm64"]);
    // Its entry for this machine is a registry's image: a container of it says where.
    let err = rpod.fails(&["create", "--pull", "never", "release", "true"], 125);
    assert!(
        err.contains(&format!("is an image of {host}/team/app")),
        "{err}"
    );
    // Pushed into their own repository: nothing to copy; into another: copied.
    rpod.ok(&[
        "manifest",
        "push",
        "-q",
        "--tls-verify=false",
        "release",
        &format!("{host}/team/app:1.0"),
    ]);
    let elsewhere = format!("{host}/other/app:1.0");
    let out = rpod.run(&[
        "manifest",
        "push",
        "--tls-verify=false",
        "release",
        &elsewhere,
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("Copying blob"),
        "{}",
        stderr_of(&out)
    );
    for (arch, image) in [("amd64", "demo"), ("arm64", "armimg")] {
        let puller = Rpod::new("crun");
        puller.ok(&[
            "pull",
            "-q",
            "--tls-verify=false",
            "--arch",
            arch,
            &elsewhere,
        ]);
        assert_eq!(
            puller.inspect(&elsewhere, "{{.Id}}"),
            builder.inspect(image, "{{.Id}}"),
            "{arch}"
        );
    }
    // A registry's list: its entry for this machine, or with --all each of them.
    rpod.ok(&["manifest", "create", "one"]);
    rpod.ok(&["manifest", "add", "--tls-verify=false", "one", &elsewhere]);
    let one: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["manifest", "inspect", "one"])).unwrap();
    assert_eq!(one["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(one["manifests"][0]["platform"]["architecture"], "amd64");
    rpod.ok(&["manifest", "create", "every"]);
    rpod.ok(&[
        "manifest",
        "add",
        "--all",
        "--tls-verify=false",
        "every",
        &elsewhere,
    ]);
    let every: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["manifest", "inspect", "every"])).unwrap();
    assert_eq!(every["manifests"], list["manifests"]);
}

/// What rpod pushes, podman reads as rpod means it: a Docker-format build's health check
/// (podman takes it only from a Docker manifest), and a manifest list's entry for the
/// platform asked for.
#[test]
fn podman_reads_rpods_docker_format_images_and_manifest_lists() {
    let registry = Registry::plain();
    let host = &registry.host;
    let rpod = Rpod::with_image("crun");
    let ctx = rpod.dir.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Containerfile"),
        "FROM demo\nHEALTHCHECK CMD [\"true\"]\n",
    )
    .unwrap();
    rpod.ok(&[
        "build",
        "-q",
        "--format",
        "docker",
        "-t",
        "checked",
        ctx.to_str().unwrap(),
    ]);
    let checked = format!("{host}/interop/checked:1");
    rpod.ok(&["push", "-q", "--tls-verify=false", "checked", &checked]);
    let tarball = common::busybox_tarball().display().to_string();
    rpod.ok(&["import", "--arch", "arm64", &tarball, "armimg"]);
    rpod.ok(&["manifest", "create", "multi", "demo", "armimg"]);
    let multi = format!("{host}/interop/multi:1");
    // A list of Docker-format images goes as a Docker manifest list.
    rpod.ok(&["manifest", "create", "dockers", "checked"]);
    let dockers = format!("{host}/interop/dockers:1");
    rpod.ok(&[
        "manifest",
        "push",
        "-q",
        "--tls-verify=false",
        "dockers",
        &dockers,
    ]);
    let pushed = rpod.ok(&["manifest", "inspect", "--tls-verify=false", &dockers]);
    assert!(
        pushed.contains("application/vnd.docker.distribution.manifest.list.v2+json"),
        "{pushed}"
    );
    rpod.ok(&[
        "manifest",
        "push",
        "-q",
        "--tls-verify=false",
        "multi",
        &multi,
    ]);

    let podman_store = Podman::new();
    let podman = |args: &[&str]| podman_store.ok(args);
    // The image pushed by itself, and the one pushed within its Docker list.
    for pushed in [&checked, &dockers] {
        podman(&["pull", "-q", "--tls-verify=false", pushed]);
        let format = "{{json .HealthCheck.Test}}";
        assert_eq!(
            podman(&["image", "inspect", "--format", format, pushed]),
            r#"["CMD","true"]"#,
            "{pushed}"
        );
    }
    podman(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--arch",
        "arm64",
        &multi,
    ]);
    assert_eq!(
        podman(&[
            "image",
            "inspect",
            "--format",
            "{{.Architecture}} {{.Id}}",
            &multi
        ]),
        format!("arm64 {}", rpod.inspect("armimg", "{{.Id}}"))
    );
}

#[test]
fn registries_conf_gives_aliases_search_registries_mirrors_and_blocks() {
    let primary = Registry::plain();
    let mirror = Registry::plain();
    let (a, b) = (primary.host.clone(), mirror.host.clone());
    let source = Rpod::with_image("runc");
    // Only the mirror has the aliased image; the primary has another for the search.
    source.ok(&[
        "push",
        "--tls-verify=false",
        "demo",
        &format!("{b}/team/app:1"),
    ]);
    source.ok(&[
        "push",
        "--tls-verify=false",
        "demo",
        &format!("{a}/other:1"),
    ]);
    let rpod = Rpod::new("runc");
    fs::write(
        rpod.dir.path().join("registries.conf"),
        format!(
            "unqualified-search-registries = [\"{a}\"]\n\n[[registry]]\nlocation = \"{a}\"\ninsecure = true\n\n[[registry.mirror]]\nlocation = \"{b}\"\ninsecure = true\n\n[[registry]]\nprefix = \"blocked.example\"\nblocked = true\n\n[aliases]\n\"app\" = \"{a}/team/app\"\n"
        ),
    )
    .unwrap();
    // The alias names the primary, whose mirror serves it (over HTTP: both insecure).
    let pulled = rpod.ok(&["pull", "app:1"]);
    assert_eq!(pulled.trim(), image_id(&source, "demo"));
    assert_eq!(
        rpod.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        format!("{a}/team/app:1")
    );
    // A short name without an alias goes to the search registries.
    rpod.ok(&["pull", "other:1"]);
    assert_eq!(
        image_id(&rpod, &format!("{a}/other:1")),
        image_id(&source, "demo")
    );
    // Blocked: pulls and pushes refused before anything is asked of the registry.
    let err = rpod.fails(&["pull", "blocked.example/x:1"], 125);
    assert!(
        err.contains("registry blocked.example is blocked in registries.conf"),
        "{err}"
    );
    rpod.ok(&["tag", &format!("{a}/other:1"), "mine"]);
    let err = rpod.fails(&["push", "mine", "blocked.example/x:1"], 125);
    assert!(err.contains("blocked in registries.conf"), "{err}");
    // A file podman would refuse is refused, naming it.
    fs::write(
        rpod.dir.path().join("registries.conf"),
        "[registries.search]\nregistries = [\"docker.io\"]\n",
    )
    .unwrap();
    let err = rpod.fails(&["pull", "other:1"], 125);
    assert!(
        err.contains("registries.conf") && err.contains("version 1"),
        "{err}"
    );
}

#[test]
fn tag_lists_are_followed_page_by_page_on_the_same_registry_only() {
    let rpod = Rpod::new("runc");
    let log = Arc::new(Mutex::new(Vec::new()));
    let page = |tags: &[&str], next: Option<&str>| {
        let mut answer = route(
            serde_json::json!({"name": "x", "tags": tags})
                .to_string()
                .into_bytes(),
            "application/json",
        );
        if let Some(next) = next {
            answer
                .headers
                .push(("Link".into(), format!("<{next}>; rel=\"next\"")));
        }
        answer
    };
    // Longer paths first: routes match by prefix.
    let routes: Routes = Arc::new(Mutex::new(vec![
        ("/v2/x/tags/list-3".into(), page(&["e"], None)),
        (
            "/v2/x/tags/list-2".into(),
            page(&["c", "d"], Some("/v2/x/tags/list-3?n=2&last=d")),
        ),
        (
            "/v2/x/tags/list".into(),
            page(&["a", "b"], Some("/v2/x/tags/list-2?n=2&last=b")),
        ),
        ("/v2/".into(), route(b"{}".to_vec(), "application/json")),
    ]));
    let host = serve(routes.clone(), log.clone());
    let listed = |limit: &str| {
        rpod.ok(&[
            "search",
            "--list-tags",
            "--tls-verify=false",
            "--limit",
            limit,
            "--format",
            "{{.Tag}}",
            &format!("{host}/x"),
        ])
    };
    assert_eq!(listed("100"), "a\nb\nc\nd\ne\n");
    // Enough pages for the limit, no more.
    log.lock().unwrap().clear();
    assert_eq!(listed("3"), "a\nb\nc\n");
    assert!(!log.lock().unwrap().iter().any(|l| l.contains("list-3")));
    // A next page on another host is not followed.
    routes.lock().unwrap()[2].1 = page(&["a", "b"], Some("http://198.51.100.1/v2/x/tags/list-2"));
    assert_eq!(listed("100"), "a\nb\n");
    // A registry that always names a next page is stopped.
    routes.lock().unwrap()[2].1 = page(&["a"], Some("/v2/x/tags/list?n=1&last=a"));
    let err = rpod.fails(
        &[
            "search",
            "--list-tags",
            "--tls-verify=false",
            "--limit",
            "1000",
            &format!("{host}/x"),
        ],
        125,
    );
    assert!(err.contains("more than 100 pages"), "{err}");
}

/// `build --cache-to` pushes each step's image to a repository, tagged with its cache key;
/// another store's `--cache-from` takes the steps from there instead of running them (the
/// same image, its RUN step's output from the first build), without the cache's names. An
/// unreachable cache is told and the steps run; a repository with a tag is refused.
#[test]
fn build_cache_goes_through_a_registry() {
    let registry = Registry::plain();
    let first = Rpod::with_image("crun");
    let base = format!("{}/team/base:1", registry.host);
    first.ok(&["push", "-q", "--tls-verify=false", "demo", &base]);
    let cache = format!("{}/team/cache", registry.host);
    let dir = first.dir.path().join("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Containerfile"),
        format!(
            "FROM {base}\nRUN echo the-step-ran && cat /proc/sys/kernel/random/uuid > /once\nENV CACHED=1\n"
        ),
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let built = first.ok(&[
        "build",
        "-q",
        "--tls-verify=false",
        "--cache-to",
        &cache,
        &ctx,
    ]);
    let once = first.ok(&["run", "--rm", built.trim(), "cat", "/once"]);

    let second = Rpod::new("crun");
    let out = second.ok(&[
        "build",
        "--tls-verify=false",
        "--cache-from",
        &cache,
        "-t",
        "fromcache",
        &ctx,
    ]);
    assert_eq!(out.matches("Using cache").count(), 2, "{out}");
    assert!(!out.lines().any(|l| l == "the-step-ran"), "{out}");
    assert_eq!(second.inspect("fromcache", "{{.Id}}"), built.trim());
    assert_eq!(
        second.ok(&["run", "--rm", "fromcache", "cat", "/once"]),
        once
    );
    let names = second.ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!names.contains("team/cache"), "{names}");
    let cached: Vec<String> = second
        .ok(&["images", "-a", "-q", "--no-trunc"])
        .lines()
        .map(str::to_string)
        .collect();

    // Cached steps older than --cache-ttl are pulled, found too old and removed again
    // (nothing has them): the steps run and the store keeps only what its build made.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let fourth = Rpod::new("crun");
    let out = fourth.ok(&[
        "build",
        "--tls-verify=false",
        "--cache-from",
        &cache,
        "--cache-ttl",
        "1s",
        &ctx,
    ]);
    assert_eq!(out.matches("Using cache").count(), 0, "{out}");
    assert!(out.lines().any(|l| l == "the-step-ran"), "{out}");
    let kept = fourth.ok(&["images", "-a", "-q", "--no-trunc"]);
    let base_id = first.inspect(&base, "{{.Id}}");
    for id in cached.iter().filter(|id| !id.ends_with(&base_id)) {
        assert!(!kept.contains(id.as_str()), "{id} kept:\n{kept}");
    }

    // A cache that cannot be reached: told, and the steps run.
    let third = Rpod::new("crun");
    let out = third.ok(&[
        "build",
        "--tls-verify=false",
        "--cache-from",
        "127.0.0.1:1/nothing/here",
        &ctx,
    ]);
    assert!(out.contains("WARN: --cache-from"), "{out}");
    assert_eq!(out.matches("Using cache").count(), 0, "{out}");
    assert!(out.lines().any(|l| l == "the-step-ran"), "{out}");
    // A step the cache has not: a quiet miss.
    std::fs::write(
        dir.join("Containerfile"),
        format!("FROM {base}\nRUN echo the-step-ran\n"),
    )
    .unwrap();
    let out = third.ok(&["build", "--tls-verify=false", "--cache-from", &cache, &ctx]);
    assert!(!out.contains("WARN"), "{out}");
    assert!(out.lines().any(|l| l == "the-step-ran"), "{out}");
    let err = third.fails(
        &["build", "--cache-from", &format!("{cache}:tag"), &ctx],
        125,
    );
    assert!(err.contains("no tag"), "{err}");
}

/// An image's annotations (`build --annotation`) travel in its OCI manifest: the registry
/// has them, rpod and podman pulling it show them. A Docker manifest has none.
#[test]
fn annotations_travel_with_an_oci_image() {
    let registry = Registry::plain();
    let source = Rpod::with_image("runc");
    let ctx = source.dir.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Containerfile"), "FROM demo\nRUN echo x > /x\n").unwrap();
    source.ok(&[
        "build",
        "-q",
        "-t",
        "noted",
        "--annotation",
        "org.example.team=web",
        &ctx.display().to_string(),
    ]);
    let target = format!("{}/noted/img:1", registry.host);
    source.ok(&["push", "-q", "--tls-verify=false", "noted", &target]);
    let manifest = registry_manifest(&registry.host, "noted/img", "1");
    assert!(
        manifest.contains(r#""annotations":{"org.example.team":"web"}"#),
        "{manifest}"
    );
    let puller = Rpod::new("runc");
    puller.ok(&["pull", "-q", "--tls-verify=false", &target]);
    assert_eq!(
        puller.inspect(&target, "{{.Annotations}}"),
        "map[org.example.team:web]"
    );
    let podman = Podman::new();
    podman.ok(&["pull", "-q", "--tls-verify=false", &target]);
    assert_eq!(
        podman.ok(&["image", "inspect", "--format", "{{.Annotations}}", &target]),
        "map[org.example.team:web]"
    );
    let docker_target = format!("{}/noted/img:v2s2", registry.host);
    source.ok(&[
        "push",
        "-q",
        "--tls-verify=false",
        "--format",
        "v2s2",
        "noted",
        &docker_target,
    ]);
    let manifest = registry_manifest(&registry.host, "noted/img", "v2s2");
    assert!(!manifest.contains("annotations"), "{manifest}");
}
