//! What rpod's end-to-end test crates (rpod-oci's and rpod-cli's) share. Only tests depend
//! on this crate.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The host's static busybox, from which the tests' root file systems are built.
pub fn busybox() -> &'static Path {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("busybox not found: apt-get install busybox-static")
}

/// A name for a fixture built from `inputs`: their sizes, change times and, for the small
/// ones (scripts), their contents. A fixture kept under it is rebuilt when an input changes.
pub fn fixture_key(inputs: &[&Path]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .unwrap_or_else(|e| panic!("fixture input {}: {e}", input.display()));
        (meta.len(), meta.mtime(), meta.mtime_nsec()).hash(&mut hasher);
        if meta.len() < 64 * 1024 {
            std::fs::read(input)
                .unwrap_or_else(|e| panic!("fixture input {}: {e}", input.display()))
                .hash(&mut hasher);
        }
    }
    hasher.finish()
}

/// Whether a live process's command line mentions `text`.
pub fn processes_mentioning(text: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(text))
    })
}

/// The PID a test's helper script wrote into `file` (`echo $$ > file`).
pub fn read_pid_file(file: &Path) -> i32 {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("PID file {}: {e}", file.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("PID file {} holds {text:?}: {e}", file.display()))
}

/// The parent of live process `pid` (field 4 of `/proc/PID/stat`, after the command name,
/// which may hold spaces and parentheses).
pub fn parent_pid(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    stat.rsplit_once(')')
        .and_then(|(_, fields)| fields.split_whitespace().nth(1))
        .and_then(|ppid| ppid.parse().ok())
        .unwrap_or_else(|| panic!("no parent in /proc/{pid}/stat: {stat:?}"))
}

/// `key` as cosign writes a private key file (`cosign generate-key-pair`): PEM holding JSON
/// that names scrypt (log2 N `log_n`, r 8, p 1, a random salt), NaCl's secretbox (a
/// random nonce) and the sealed PKCS#8 key. podman 4.3 makes no such files and cosign is
/// not packaged here, so the tests write their own.
pub fn cosign_key_file(key: &p256::ecdsa::SigningKey, passphrase: &[u8], log_n: u8) -> String {
    use base64::Engine as _;
    use crypto_secretbox::aead::{Aead, KeyInit};
    use p256::pkcs8::EncodePrivateKey;
    use rand::RngCore;
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut secret = [0u8; 32];
    let params = scrypt::Params::new(log_n, 8, 1, 32).expect("scrypt parameters");
    scrypt::scrypt(passphrase, &salt, &params, &mut secret).expect("scrypt");
    let der = key.to_pkcs8_der().expect("PKCS#8");
    let sealed = crypto_secretbox::XSalsa20Poly1305::new(&secret.into())
        .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), der.as_bytes())
        .expect("sealing");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let envelope = serde_json::json!({
        "kdf": {"name": "scrypt", "params": {"N": 1u64 << log_n, "r": 8, "p": 1}, "salt": b64(&salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": b64(&nonce)},
        "ciphertext": b64(&sealed),
    });
    let body = b64(&serde_json::to_vec(&envelope).expect("JSON"));
    let mut pem = String::from("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_key_follows_its_inputs_contents() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("make.sh");
        std::fs::write(&script, "echo one\n").unwrap();
        let first = fixture_key(&[&script]);
        assert_eq!(fixture_key(&[&script]), first);
        // Same size, and possibly the same change time on a coarse clock: the contents
        // still tell them apart.
        std::fs::write(&script, "echo two\n").unwrap();
        assert_ne!(fixture_key(&[&script]), first);
    }

    #[test]
    fn a_child_names_this_process_as_its_parent() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30; exit 0"])
            .spawn()
            .unwrap();
        assert_eq!(parent_pid(child.id() as i32), std::process::id() as i32);
        child.kill().unwrap();
        child.wait().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pid");
        std::fs::write(&file, "1234\n").unwrap();
        assert_eq!(read_pid_file(&file), 1234);
    }

    #[test]
    fn a_live_process_is_found_by_its_command_line() {
        let marker = format!("rpod-test-support-marker-{}", std::process::id());
        assert!(!processes_mentioning(&marker));
        // The marker is the shell's `$0`, in its command line only; a second command keeps
        // the shell from replacing itself with `sleep`.
        let mut sleeper = std::process::Command::new("sh")
            .args(["-c", "sleep 30; exit 0", &marker])
            .spawn()
            .unwrap();
        // The kernel lets the parent go on during the child's exec, before the new
        // command line is in place (/proc/PID/cmdline is empty for that moment): look
        // again for a while.
        let found = (0..1000).any(|_| {
            processes_mentioning(&marker) || {
                std::thread::sleep(std::time::Duration::from_millis(10));
                false
            }
        });
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
        assert!(found, "no process mentions {marker}");
        // The shell's child for `sleep` has the shell's command line from its fork until
        // its exec, which a loaded machine may delay past the shell's kill (a CI run saw
        // it): the marker goes with that exec.
        let gone = (0..1000).any(|_| {
            !processes_mentioning(&marker) || {
                std::thread::sleep(std::time::Duration::from_millis(10));
                false
            }
        });
        assert!(gone, "the sleeper is gone");
    }
}
