//! The signature policy (containers-policy.json): pulls judged by it against a real
//! registry (Debian's docker-registry), with cosign signatures made here and stored as
//! cosign stores them; loads and imports judged by it too.

mod common;
#[path = "common/registry_server.rs"]
mod registry_server;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::{busybox_tarball, stderr_of, Gpg, Rpod};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use registry_server::Registry;
use sha2::{Digest, Sha256};

const SIGNATURE_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A blob uploaded as the distribution API has it: a session opened, then closed with
/// the whole blob and its digest.
fn upload_blob(registry: &Registry, repository: &str, bytes: &[u8]) -> (String, usize) {
    let digest = sha256(bytes);
    let opened = Command::new("curl")
        .args(["-sS", "-f", "-X", "POST", "-D", "-", "-o", "/dev/null"])
        .arg(format!(
            "http://{}/v2/{repository}/blobs/uploads/",
            registry.host
        ))
        .output()
        .unwrap();
    assert!(opened.status.success(), "upload: {}", stderr_of(&opened));
    let headers = String::from_utf8_lossy(&opened.stdout).into_owned();
    let location = headers
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no Location in {headers}"));
    let location = match location.starts_with("http") {
        true => location,
        false => format!("http://{}{location}", registry.host),
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let file = registry.dir.path().join("upload");
    fs::write(&file, bytes).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "-f", "-X", "PUT", "-H"])
        .arg("Content-Type: application/octet-stream")
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!("{location}{separator}digest={digest}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "upload: {}", stderr_of(&out));
    (digest, bytes.len())
}

/// Store cosign's signature artifact for `manifest_digest`: one layer per signature, each
/// a payload claiming `(digest, reference)` signed by `key`.
fn attach_signatures(
    registry: &Registry,
    repository: &str,
    manifest_digest: &str,
    signatures: &[(&SigningKey, &str, &str)],
) {
    let (config_digest, config_size) = upload_blob(registry, repository, b"{}");
    let layers: Vec<serde_json::Value> = signatures
        .iter()
        .map(|(key, digest, reference)| {
            let payload = serde_json::to_vec(&serde_json::json!({
                "critical": {
                    "identity": {"docker-reference": reference},
                    "image": {"docker-manifest-digest": digest},
                    "type": "cosign container image signature",
                },
                "optional": null,
            }))
            .unwrap();
            let signature: DerSignature = key.sign(&payload);
            let (digest, size) = upload_blob(registry, repository, &payload);
            serde_json::json!({
                "mediaType": SIGNATURE_TYPE,
                "digest": digest,
                "size": size,
                "annotations": {"dev.cosignproject.cosign/signature":
                    base64::engine::general_purpose::STANDARD.encode(signature.as_bytes())},
            })
        })
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": layers,
    }))
    .unwrap();
    let file = registry.dir.path().join("artifact");
    fs::write(&file, &manifest).unwrap();
    let tag = manifest_digest.replacen(':', "-", 1) + ".sig";
    let out = Command::new("curl")
        .args(["-sS", "-X", "PUT", "-H"])
        .arg("Content-Type: application/vnd.oci.image.manifest.v1+json")
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!(
            "http://{}/v2/{repository}/manifests/{tag}",
            registry.host
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "artifact: {} {}",
        stderr_of(&out),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Push `image` of `source` to `target`; the pushed manifest's digest.
fn push(source: &Rpod, image: &str, target: &str) -> String {
    let digest_file = source.dir.path().join("digest");
    source.ok(&[
        "push",
        "--tls-verify=false",
        "--digestfile",
        digest_file.to_str().unwrap(),
        image,
        target,
    ]);
    fs::read_to_string(digest_file).unwrap().trim().to_string()
}

fn new_key(dir: &Path, name: &str) -> (SigningKey, PathBuf) {
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let path = dir.join(name);
    fs::write(&path, pem).unwrap();
    (key, path)
}

fn pull(rpod: &Rpod, policy: &Path, image: &str) -> std::process::Output {
    rpod.run(&[
        "pull",
        "--tls-verify=false",
        "--signature-policy",
        policy.to_str().unwrap(),
        image,
    ])
}

fn refused(rpod: &Rpod, policy: &Path, image: &str, because: &str) {
    let out = pull(rpod, policy, image);
    assert_eq!(out.status.code(), Some(125), "{image} was pulled");
    let err = stderr_of(&out);
    assert!(
        err.contains("Source image rejected") && err.contains(because),
        "{image}: {err}"
    );
    // Nothing of the image was stored.
    assert_eq!(rpod.ok(&["images", "-q"]), "");
    let layers = fs::read_dir(rpod.root().join("images/layers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(layers, 0, "a layer of {image} stayed behind");
}

#[test]
fn pulls_need_what_the_policy_asks_and_cosign_signatures_are_verified() {
    let registry = Registry::plain();
    let host = registry.host.clone();
    let source = Rpod::with_image("runc");
    source.ok(&[
        "import",
        "--change",
        "CMD [\"true\"]",
        busybox_tarball().to_str().unwrap(),
        "other",
    ]);
    let signed = push(&source, "demo", &format!("{host}/team/app:1"));
    push(&source, "demo", &format!("{host}/team/app:2"));
    let other = push(&source, "other", &format!("{host}/team/app:3"));
    push(&source, "demo", &format!("{host}/team/blocked:1"));
    push(&source, "demo", &format!("{host}/team/open:1"));

    let (trusted, trusted_pem) = new_key(source.dir.path(), "trusted.pub");
    let (stranger, _) = new_key(source.dir.path(), "stranger.pub");
    let policy = source.dir.path().join("policy.json");
    fs::write(
        &policy,
        serde_json::to_string(&serde_json::json!({
            "default": [{"type": "insecureAcceptAnything"}],
            "transports": {"docker": {
                host.clone(): [{"type": "sigstoreSigned", "keyPath": trusted_pem}],
                format!("{host}/team/blocked"): [{"type": "reject"}],
                format!("{host}/team/open"): [{"type": "insecureAcceptAnything"}],
            }},
        }))
        .unwrap(),
    )
    .unwrap();

    let puller = Rpod::new("runc");
    let app1 = format!("{host}/team/app:1");
    refused(
        &puller,
        &policy,
        &app1,
        "A signature was required, but no signature exists",
    );
    // A signature by a key the policy does not name.
    attach_signatures(
        &registry,
        "team/app",
        &signed,
        &[(&stranger, &signed, &app1)],
    );
    refused(&puller, &policy, &app1, "verification failed");
    // A more specific scope than the registry's decides.
    refused(
        &puller,
        &policy,
        &format!("{host}/team/blocked:1"),
        &format!("Running image docker://{host}/team/blocked:1 is rejected by policy."),
    );
    let out = pull(&puller, &policy, &format!("{host}/team/open:1"));
    assert!(out.status.success(), "{}", stderr_of(&out));
    puller.ok(&["rmi", "-a"]);

    // The trusted key's signature among others: the image comes in and runs.
    attach_signatures(
        &registry,
        "team/app",
        &signed,
        &[(&stranger, &signed, &app1), (&trusted, &signed, &app1)],
    );
    let out = pull(&puller, &policy, &app1);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        puller.ok(&["run", "--rm", &app1, "echo", "signed and running"]),
        "signed and running\n"
    );
    // By digest, a signature for any tag of the repository serves.
    let out = pull(&puller, &policy, &format!("{host}/team/app@{signed}"));
    assert!(out.status.success(), "{}", stderr_of(&out));
    puller.ok(&["rmi", "-a", "-f"]);
    // The same manifest under another tag: the signature names tag 1, not 2.
    refused(
        &puller,
        &policy,
        &format!("{host}/team/app:2"),
        &format!("Signature for identity \"{app1}\" is not accepted"),
    );
    // A signature moved to another manifest claims the first one's digest.
    let app3 = format!("{host}/team/app:3");
    attach_signatures(&registry, "team/app", &other, &[(&trusted, &signed, &app3)]);
    refused(
        &puller,
        &policy,
        &app3,
        &format!("Signature for digest {signed} does not match"),
    );

    // `run` pulls through the same policy; rpod.conf can name the policy too.
    let configured = Rpod::with_config(
        "runc",
        &format!(
            "[containers]\nnetns = \"none\"\n[image]\nsignature_policy = \"{}\"\n",
            policy.display()
        ),
    );
    let out = configured.run(&[
        "run",
        "--rm",
        "--tls-verify=false",
        &format!("{host}/team/blocked:1"),
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("rejected by policy"),
        "{}",
        stderr_of(&out)
    );
    let out = configured.run(&["run", "--rm", "--tls-verify=false", &app1, "true"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn loads_and_imports_are_judged_by_their_transport() {
    let rpod = Rpod::with_image("runc");
    let dir = rpod.dir.path();
    let docker_archive = dir.join("docker.tar");
    let oci_dir = dir.join("oci");
    fs::create_dir(&oci_dir).unwrap();
    let oci_archive = oci_dir.join("oci.tar");
    rpod.ok(&["save", "-o", docker_archive.to_str().unwrap(), "demo"]);
    rpod.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        oci_archive.to_str().unwrap(),
        "demo",
    ]);
    let policy = dir.join("policy.json");
    fs::write(
        &policy,
        serde_json::to_string(&serde_json::json!({
            "default": [{"type": "reject"}],
            "transports": {
                "docker-archive": {"": [{"type": "insecureAcceptAnything"}]},
                "oci-archive": {oci_dir.canonicalize().unwrap().to_str().unwrap():
                    [{"type": "insecureAcceptAnything"}]},
            },
        }))
        .unwrap(),
    )
    .unwrap();
    let fresh = Rpod::new("runc");
    let policy_flag = ["--signature-policy", policy.to_str().unwrap()];
    let with_policy = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(policy_flag);
        fresh.run(&all)
    };
    let out = with_policy(&["import", busybox_tarball().to_str().unwrap(), "x"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains(&format!(
            "Running image tarball:{} is rejected by policy.",
            busybox_tarball().display()
        )),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(fresh.ok(&["images", "-q"]), "");
    // The oci-archive's directory is a scope of its own; a copy elsewhere is not in it.
    let elsewhere = dir.join("copy.tar");
    fs::copy(&oci_archive, &elsewhere).unwrap();
    let out = with_policy(&["load", "-i", elsewhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("rejected by policy"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(fresh.ok(&["images", "-q"]), "");
    let out = with_policy(&["load", "-i", oci_archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    fresh.ok(&["rmi", "-a"]);
    let out = with_policy(&["load", "-i", docker_archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A policy that cannot be read stops the load, saying why.
    fs::write(&policy, r#"{"default": [{"type": "acceptEverything"}]}"#).unwrap();
    let out = with_policy(&["load", "-i", docker_archive.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("unknown policy requirement type \"acceptEverything\""),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn image_trust_sets_the_policy_that_loads_then_obey() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    let rpod = Rpod::with_config(
        "runc",
        &format!(
            "[containers]\nnetns = \"none\"\n[image]\nsignature_policy = \"{}\"\n",
            policy.display()
        ),
    );
    let err = rpod.fails(&["image", "trust", "set", "-t", "reject", "r.io"], 125);
    assert!(
        err.contains("the default trust policy must be set first"),
        "{err}"
    );
    rpod.ok(&["image", "trust", "set", "--type", "reject", "default"]);
    let key = dir.path().join("cosign.pub");
    fs::write(&key, "a key").unwrap();
    rpod.ok(&[
        "image",
        "trust",
        "set",
        "-t",
        "sigstoreSigned",
        "-f",
        key.to_str().unwrap(),
        "r.io/team",
    ]);
    let err = rpod.fails(
        &["image", "trust", "set", "-t", "sigstoreSigned", "q.io"],
        125,
    );
    assert!(err.contains("at least one public key"), "{err}");
    let err = rpod.fails(&["image", "trust", "set", "-t", "trusted", "q.io"], 125);
    assert!(err.contains("invalid choice: trusted"), "{err}");

    let shown = rpod.ok(&["image", "trust", "show"]);
    let rows: Vec<Vec<&str>> = shown
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["TRANSPORT", "NAME", "TYPE", "ID", "STORE"],
            vec!["all", "default", "reject"],
            vec!["repository", "r.io/team", "sigstoreSigned", "N/A"],
        ]
    );
    let listed: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["image", "trust", "show", "--json", "r.io/team"])).unwrap();
    assert_eq!(
        listed,
        serde_json::json!([{"transport": "repository", "name": "r.io/team",
            "repo_name": "r.io/team", "type": "sigstoreSigned", "gpg_id": "N/A"}])
    );
    let raw: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["image", "trust", "show", "--raw"])).unwrap();
    assert_eq!(
        raw["transports"]["docker"]["r.io/team"][0]["keyPath"],
        key.to_str().unwrap()
    );

    // The policy rpod.conf names is the one imports obey.
    let err = rpod.fails(&["import", busybox_tarball().to_str().unwrap(), "x"], 125);
    assert!(err.contains("rejected by policy"), "{err}");
    rpod.ok(&["image", "trust", "set", "-t", "accept", "default"]);
    rpod.ok(&["import", busybox_tarball().to_str().unwrap(), "x"]);
}

/// A new key pair in `dir` as cosign writes it: the private key file (sealed with
/// `passphrase`) and the public key's.
fn cosign_key_files(dir: &Path, passphrase: &str) -> (PathBuf, PathBuf) {
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let private = dir.join("cosign.key");
    let sealed = rpod_test_support::cosign_key_file(&key, passphrase.as_bytes(), 15);
    fs::write(&private, sealed).unwrap();
    let public = dir.join("cosign.pub");
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    fs::write(&public, pem).unwrap();
    (private, public)
}

/// The layers of the signature artifact of `digest` in `repository`.
fn artifact_layers(registry: &Registry, repository: &str, digest: &str) -> Vec<serde_json::Value> {
    let tag = digest.replacen(':', "-", 1) + ".sig";
    let out = Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!(
            "http://{}/v2/{repository}/manifests/{tag}",
            registry.host
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "artifact: {}", stderr_of(&out));
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    manifest["layers"].as_array().unwrap().clone()
}

#[test]
fn a_push_signed_with_a_cosign_key_is_what_the_policy_lets_in() {
    let registry = Registry::plain();
    let host = registry.host.clone();
    let source = Rpod::with_image("runc");
    let dir = source.dir.path();
    let (key_file, public) = cosign_key_files(dir, "pass phrase");
    let (_, stranger) = new_key(dir, "stranger.pub");
    let (good_pass, bad_pass) = (dir.join("pass"), dir.join("wrong"));
    fs::write(&good_pass, "pass phrase\nnot part of it\n").unwrap();
    fs::write(&bad_pass, "pass word\n").unwrap();
    let target = format!("{host}/team/signed:1");
    let push = |pass: &Path| {
        source.run(&[
            "push",
            "--tls-verify=false",
            "--sign-by-sigstore-private-key",
            key_file.to_str().unwrap(),
            "--sign-passphrase-file",
            pass.to_str().unwrap(),
            "demo",
            &target,
        ])
    };
    // A wrong passphrase stops the push before anything is sent.
    let out = push(&bad_pass);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("wrong passphrase"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        !stderr_of(&out).contains("Copying blob"),
        "{}",
        stderr_of(&out)
    );
    let err = source.fails(
        &[
            "push",
            "--tls-verify=false",
            "--sign-passphrase-file",
            "/x",
            "demo",
            &target,
        ],
        125,
    );
    assert!(
        err.contains("only for --sign-by or --sign-by-sigstore-private-key"),
        "{err}"
    );

    let out = push(&good_pass);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("Storing signatures"),
        "{}",
        stderr_of(&out)
    );
    // A second signed push adds its signature beside the first.
    let digest_file = dir.join("digest");
    source.ok(&[
        "push",
        "--tls-verify=false",
        "--sign-by-sigstore-private-key",
        key_file.to_str().unwrap(),
        "--sign-passphrase-file",
        good_pass.to_str().unwrap(),
        "--digestfile",
        digest_file.to_str().unwrap(),
        "demo",
        &target,
    ]);
    let digest = fs::read_to_string(&digest_file).unwrap();
    let layers = artifact_layers(&registry, "team/signed", &digest);
    assert_eq!(layers.len(), 2, "{layers:?}");
    assert!(layers.iter().all(|l| l["mediaType"] == SIGNATURE_TYPE));

    let policy_with = |key: &Path, name: &str| {
        let path = dir.join(name);
        fs::write(
            &path,
            serde_json::json!({"default": [{"type": "reject"}], "transports": {"docker": {
                host.clone(): [{"type": "sigstoreSigned", "keyPath": key}]}}})
            .to_string(),
        )
        .unwrap();
        path
    };
    let puller = Rpod::new("runc");
    refused(
        &puller,
        &policy_with(&stranger, "stranger.json"),
        &target,
        "verification failed",
    );
    let out = pull(&puller, &policy_with(&public, "trusted.json"), &target);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(puller.ok(&["run", "--rm", &target, "echo", "ok"]), "ok\n");
}

impl Gpg {
    /// A simple signing signature by `user` of the claim (`digest`, `reference`).
    fn sign(&self, user: &str, digest: &str, reference: &str, out: &Path) {
        self.sign_with(user, digest, reference, out, &[]);
    }

    fn sign_with(&self, user: &str, digest: &str, reference: &str, out: &Path, extra: &[&str]) {
        let payload = self.home.path().join("payload");
        fs::write(
            &payload,
            serde_json::json!({"critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": "atomic container signature"},
                "optional": {"creator": "rpod tests", "timestamp": 1764547200}})
            .to_string(),
        )
        .unwrap();
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        let _ = fs::remove_file(out);
        let mut args = vec!["--batch", "--local-user", user];
        args.extend_from_slice(extra);
        args.extend([
            "--sign",
            "--output",
            out.to_str().unwrap(),
            payload.to_str().unwrap(),
        ]);
        self.ok(&args);
    }
}

#[test]
fn gpg_signatures_from_the_lookaside_store_are_verified_with_gpgv() {
    let registry = Registry::plain();
    let host = registry.host.clone();
    let source = Rpod::with_image("runc");
    let digest = push(&source, "demo", &format!("{host}/team/gpg:1"));
    push(&source, "demo", &format!("{host}/team/gpg:2"));
    let dir = tempfile::tempdir().unwrap();
    let gpg = Gpg::new(&["signer@example.com", "stranger@example.com"]);
    // The trusted keyring holds the signer's key only, ASCII-armored.
    let keyring = dir.path().join("signer.asc");
    fs::write(
        &keyring,
        gpg.ok(&["--armor", "--export", "signer@example.com"]),
    )
    .unwrap();
    let lookaside = dir.path().join("lookaside");
    let registries_d = dir.path().join("registries.d");
    fs::create_dir(&registries_d).unwrap();
    fs::write(
        registries_d.join("test.yaml"),
        format!(
            "docker:\n  {host}:\n    lookaside: file://{}\n",
            lookaside.display()
        ),
    )
    .unwrap();
    let policy = dir.path().join("policy.json");
    fs::write(
        &policy,
        serde_json::json!({"default": [{"type": "insecureAcceptAnything"}],
            "transports": {"docker": {host.clone(): [
                {"type": "signedBy", "keyType": "GPGKeys", "keyPath": keyring}]}}})
        .to_string(),
    )
    .unwrap();
    let puller = Rpod::with_config(
        "runc",
        &format!(
            "[containers]\nnetns = \"none\"\n[image]\nregistries_d = \"{}\"\n",
            registries_d.display()
        ),
    );
    let image = format!("{host}/team/gpg:1");
    let signatures = lookaside.join(format!("team/gpg@{}", digest.replacen(':', "=", 1)));
    refused(
        &puller,
        &policy,
        &image,
        "A signature was required, but no signature exists",
    );
    // By a key the policy does not name.
    gpg.sign(
        "stranger@example.com",
        &digest,
        &image,
        &signatures.join("signature-1"),
    );
    refused(
        &puller,
        &policy,
        &image,
        "not made by a key the policy trusts",
    );
    // A signed claim changed after signing (uncompressed, so that the claim's bytes are
    // there to change).
    let first = signatures.join("signature-1");
    gpg.sign_with(
        "signer@example.com",
        &digest,
        &image,
        &first,
        &["--compress-algo", "none"],
    );
    let bytes = fs::read(&first).unwrap();
    let at = bytes.windows(10).position(|w| w == b"rpod tests").unwrap();
    let mut changed = bytes.clone();
    changed[at..at + 10].copy_from_slice(b"rpod TESTS");
    fs::write(&first, &changed).unwrap();
    refused(
        &puller,
        &policy,
        &image,
        "cryptographic signature verification failed",
    );
    // The stranger's signature first, then the signer's: one good one is enough.
    gpg.sign(
        "stranger@example.com",
        &digest,
        &image,
        &signatures.join("signature-1"),
    );
    gpg.sign(
        "signer@example.com",
        &digest,
        &image,
        &signatures.join("signature-2"),
    );
    let out = pull(&puller, &policy, &image);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(puller.ok(&["run", "--rm", &image, "echo", "gpg"]), "gpg\n");
    puller.ok(&["rmi", "-a"]);
    // The same manifest under tag 2: the signatures claim tag 1.
    refused(
        &puller,
        &policy,
        &format!("{host}/team/gpg:2"),
        &format!("Signature for identity \"{image}\" is not accepted"),
    );
    // A signature whose signed content is larger than rpod reads (small, compressed).
    fs::remove_file(signatures.join("signature-2")).unwrap();
    fs::remove_file(signatures.join("signature-1")).unwrap();
    let big = dir.path().join("big");
    fs::write(&big, vec![b' '; 5 << 20]).unwrap();
    let first = signatures.join("signature-1");
    gpg.ok(&[
        "--batch",
        "--local-user",
        "signer@example.com",
        "--sign",
        "--output",
        first.to_str().unwrap(),
        big.to_str().unwrap(),
    ]);
    assert!(fs::metadata(&first).unwrap().len() < 1 << 20);
    refused(&puller, &policy, &image, "larger than");
    // `image trust show` lists the key's ID and the scope's store from registries.d.
    let shown = puller.ok(&[
        "image",
        "trust",
        "show",
        "--policypath",
        policy.to_str().unwrap(),
    ]);
    let row: Vec<&str> = shown
        .lines()
        .find(|l| l.starts_with("repository"))
        .unwrap()
        .split_whitespace()
        .collect();
    let key_id = String::from_utf8(gpg.ok(&["--with-colons", "--list-keys", "signer@example.com"]))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("pub:"))
        .and_then(|l| l.split(':').nth(4).map(str::to_string))
        .unwrap();
    let store = format!("file://{}", lookaside.display());
    assert_eq!(
        row,
        [
            "repository",
            host.as_str(),
            "signed",
            key_id.as_str(),
            store.as_str()
        ]
    );
}

#[test]
fn a_push_signed_by_a_gpg_key_is_what_a_signed_by_policy_lets_in() {
    let registry = Registry::plain();
    let host = registry.host.clone();
    let dir = tempfile::tempdir().unwrap();
    let gpg = Gpg::new(&[]);
    gpg.ok(&[
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "key pass",
        "--quick-gen-key",
        "pusher@example.com",
        "ed25519",
        "sign",
        "never",
    ]);
    let keyring = dir.path().join("pusher.gpg");
    fs::write(&keyring, gpg.ok(&["--export", "pusher@example.com"])).unwrap();
    let lookaside = dir.path().join("lookaside");
    let registries_d = dir.path().join("registries.d");
    fs::create_dir(&registries_d).unwrap();
    fs::write(
        registries_d.join("test.yaml"),
        format!(
            "docker:\n  {host}:\n    lookaside: file://{0}\n    lookaside-staging: file://{0}\n  {host}/team/web-only:\n    lookaside: https://sigs.example\n",
            lookaside.display()
        ),
    )
    .unwrap();
    let config = format!(
        "[containers]\nnetns = \"none\"\n[image]\nregistries_d = \"{}\"\n",
        registries_d.display()
    );
    let source = Rpod::with_config("runc", &config);
    source.ok(&["import", busybox_tarball().to_str().unwrap(), "demo"]);
    let pass = dir.path().join("pass");
    fs::write(&pass, "key pass\n").unwrap();
    let target = format!("{host}/team/gpg-pushed:1");
    let push_signed_to = |key: &str, target: &str| {
        source
            .command(&[
                "push",
                "--tls-verify=false",
                "--sign-by",
                key,
                "--sign-passphrase-file",
                pass.to_str().unwrap(),
                "demo",
                target,
            ])
            .env("GNUPGHOME", gpg.home.path())
            .output()
            .unwrap()
    };
    let push_signed = |key: &str| push_signed_to(key, &target);
    // A store rpod cannot write (a web server's) stops the push before anything is signed
    // or written.
    let out = push_signed_to("pusher@example.com", &format!("{host}/team/web-only:1"));
    assert_eq!(out.status.code(), Some(125));
    let err = stderr_of(&out);
    assert!(
        err.contains("written to a file:// lookaside store"),
        "{err}"
    );
    assert!(!err.contains("Writing manifest"), "{err}");
    // A key gpg does not have stops the push before its manifest is written.
    let out = push_signed("nobody@example.com");
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr_of(&out).contains("gpg could not sign with nobody@example.com"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        !stderr_of(&out).contains("Writing manifest"),
        "{}",
        stderr_of(&out)
    );
    let out = push_signed("pusher@example.com");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("Storing signatures"),
        "{}",
        stderr_of(&out)
    );
    let signatures: Vec<_> = fs::read_dir(lookaside.join("team"))
        .unwrap()
        .flat_map(|d| fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(signatures, ["signature-1"]);

    let policy = dir.path().join("policy.json");
    fs::write(
        &policy,
        serde_json::json!({"default": [{"type": "reject"}], "transports": {"docker": {
            host.clone(): [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": keyring}]}}})
        .to_string(),
    )
    .unwrap();
    let puller = Rpod::with_config("runc", &config);
    let out = pull(&puller, &policy, &target);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        puller.ok(&["run", "--rm", &target, "echo", "pushed"]),
        "pushed\n"
    );
}

#[test]
fn a_manifest_list_pushed_with_a_cosign_key_is_signed_itself() {
    let registry = Registry::plain();
    let host = registry.host.clone();
    let source = Rpod::with_image("runc");
    let dir = source.dir.path();
    let (key_file, public) = cosign_key_files(dir, "pw");
    let pass = dir.join("pass");
    fs::write(&pass, "pw\n").unwrap();
    source.ok(&["manifest", "create", "multi", "demo"]);
    let target = format!("{host}/team/list:1");
    let digest_file = dir.join("digest");
    source.ok(&[
        "manifest",
        "push",
        "--tls-verify=false",
        "--sign-by-sigstore-private-key",
        key_file.to_str().unwrap(),
        "--sign-passphrase-file",
        pass.to_str().unwrap(),
        "--digestfile",
        digest_file.to_str().unwrap(),
        "multi",
        &target,
    ]);
    let list_digest = fs::read_to_string(&digest_file).unwrap();
    assert_eq!(
        artifact_layers(&registry, "team/list", &list_digest).len(),
        1
    );
    let policy = dir.join("policy.json");
    fs::write(
        &policy,
        serde_json::json!({"default": [{"type": "reject"}], "transports": {"docker": {
            host.clone(): [{"type": "sigstoreSigned", "keyPath": public}]}}})
        .to_string(),
    )
    .unwrap();
    let puller = Rpod::new("runc");
    let out = pull(&puller, &policy, &target);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn image_sign_writes_gpg_signatures_a_signed_by_policy_accepts() {
    let registry = Registry::plain();
    let host = registry.host.clone();
    let source = Rpod::with_image("runc");
    let image = format!("{host}/team/signed-later:1");
    let digest = push(&source, "demo", &image);
    let gpg = Gpg::new(&["signer@example.com"]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = source
        .command(&[
            "image",
            "sign",
            "--sign-by",
            "signer@example.com",
            "--tls-verify=false",
            "-d",
            store.to_str().unwrap(),
            &format!("docker://{image}"),
        ])
        .env("GNUPGHOME", gpg.home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let written = store
        .join(format!(
            "team/signed-later@{}",
            digest.replacen(':', "=", 1)
        ))
        .join("signature-1");
    assert!(written.is_file(), "{}", written.display());

    let keyring = dir.path().join("signer.gpg");
    fs::write(&keyring, gpg.ok(&["--export", "signer@example.com"])).unwrap();
    let registries_d = dir.path().join("registries.d");
    fs::create_dir(&registries_d).unwrap();
    fs::write(
        registries_d.join("store.yaml"),
        format!("default-docker:\n  lookaside: file://{}\n", store.display()),
    )
    .unwrap();
    let policy = dir.path().join("policy.json");
    fs::write(
        &policy,
        serde_json::json!({"default": [{"type": "signedBy", "keyType": "GPGKeys",
            "keyPath": keyring}]})
        .to_string(),
    )
    .unwrap();
    let puller = Rpod::with_config(
        "runc",
        &format!(
            "[containers]\nnetns = \"none\"\n[image]\nregistries_d = \"{}\"\n",
            registries_d.display()
        ),
    );
    let out = pull(&puller, &policy, &image);
    assert!(out.status.success(), "{}", stderr_of(&out));
}
