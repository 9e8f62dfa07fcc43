//! GPG "simple signing" signatures (the signature policy's `signedBy`): an OpenPGP signed
//! message whose content is a JSON claim like cosign's (type `atomic container signature`).
//! The OpenPGP part is checked by `gpgv`, GnuPG's verifier (on every Debian system: apt
//! verifies its repositories with it), against the policy's keyrings alone, in a home
//! directory of its own; the claim is then read here.

use std::io::Read;
use std::process::{Command, Stdio};

use base64::Engine as _;

use super::sigstore::{self, Claim};

/// The `critical.type` of a simple signing claim.
const PAYLOAD_TYPE: &str = "atomic container signature";

/// Verify `signature` with the keys of `keyrings` (binary or ASCII-armored OpenPGP
/// keyrings): exactly one signature, good, by a key of theirs that has not expired or
/// been revoked. Returns what it claims.
pub fn verify(keyrings: &[Vec<u8>], signature: &[u8]) -> Result<Claim, String> {
    let scratch = tempfile::tempdir().map_err(|e| format!("a scratch directory: {e}"))?;
    let home = scratch.path().join("home");
    std::fs::create_dir(&home).map_err(|e| format!("a scratch directory: {e}"))?;
    let mut command = Command::new("gpgv");
    command.arg("--homedir").arg(&home);
    for (index, keyring) in keyrings.iter().enumerate() {
        let path = scratch.path().join(format!("keyring-{index}.gpg"));
        std::fs::write(&path, dearmored(keyring)).map_err(|e| format!("writing a keyring: {e}"))?;
        command.arg("--keyring").arg(path);
    }
    let signed = scratch.path().join("signature");
    std::fs::write(&signed, signature).map_err(|e| format!("writing the signature: {e}"))?;
    // The signed content comes through a pipe, read up to the bound: a small signature
    // may hold a compressed payload of any size, which must fill neither a disk nor memory.
    let mut child = command
        .args(["--status-fd", "2", "--output", "-"])
        .arg(&signed)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot run gpgv (GnuPG's verifier, needed for GPG signatures): {e}")
        })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("gpgv's output could not be read".into());
    };
    let status_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.take(STATUS_LIMIT).read_to_end(&mut text);
        text
    });
    let mut payload = Vec::new();
    let read = stdout
        .take(sigstore::PAYLOAD_LIMIT + 1)
        .read_to_end(&mut payload);
    let too_large = payload.len() as u64 > sigstore::PAYLOAD_LIMIT;
    if too_large {
        let _ = child.kill();
    }
    let exit = child.wait().map_err(|e| format!("waiting for gpgv: {e}"))?;
    let status = status_reader.join().unwrap_or_default();
    read.map_err(|e| format!("reading gpgv's output: {e}"))?;
    if too_large {
        return Err(format!(
            "the signed payload is larger than {} bytes",
            sigstore::PAYLOAD_LIMIT
        ));
    }
    check_status(&String::from_utf8_lossy(&status), exit.success())?;
    sigstore::parse_claim(&payload, PAYLOAD_TYPE)
}

/// The most of gpgv's status lines and messages read.
const STATUS_LIMIT: u64 = 1 << 20;

/// A simple signing signature of the manifest `digest` for `reference` (the full name
/// pushed to), made by `gpg` with the key `key` (a fingerprint or user ID) of the user's
/// keyring (`GNUPGHOME`, else `~/.gnupg`), as podman's `push --sign-by` makes one; the
/// key's passphrase, when given, goes to gpg through a file only it reads.
pub fn sign(
    key: &str,
    digest: &str,
    reference: &str,
    passphrase: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let scratch = tempfile::tempdir().map_err(|e| format!("a scratch directory: {e}"))?;
    let payload = sigstore::claim_payload(digest, reference, PAYLOAD_TYPE);
    let payload_file = scratch.path().join("payload");
    let signed = scratch.path().join("signature");
    std::fs::write(&payload_file, payload).map_err(|e| format!("writing the payload: {e}"))?;
    let mut command = Command::new("gpg");
    command.args(["--batch", "--no-tty"]);
    if let Some(passphrase) = passphrase {
        let file = scratch.path().join("passphrase");
        std::fs::write(&file, passphrase).map_err(|e| format!("writing the passphrase: {e}"))?;
        command
            .args(["--pinentry-mode", "loopback", "--passphrase-file"])
            .arg(file);
    }
    let out = command
        .arg("--local-user")
        .arg(key)
        .arg("--output")
        .arg(&signed)
        .arg("--sign")
        .arg(&payload_file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run gpg (GnuPG, needed to sign with --sign-by): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "gpg could not sign with {key}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    std::fs::read(&signed).map_err(|e| format!("reading gpg's signature: {e}"))
}

/// What gpgv's status lines say: one signature, good and valid, and nothing amiss.
fn check_status(status: &str, succeeded: bool) -> Result<(), String> {
    let words: Vec<Vec<&str>> = status
        .lines()
        .filter_map(|line| line.strip_prefix("[GNUPG:] "))
        .map(|line| line.split_whitespace().collect())
        .collect();
    let has = |word: &str| words.iter().any(|w| w.first() == Some(&word));
    let count = |word: &str| words.iter().filter(|w| w.first() == Some(&word)).count();
    for (word, why) in [
        ("EXPKEYSIG", "made by a key that has expired"),
        ("REVKEYSIG", "made by a key that was revoked"),
        ("EXPSIG", "expired"),
        ("BADSIG", "cryptographic signature verification failed"),
        ("NO_PUBKEY", "not made by a key the policy trusts"),
        ("ERRSIG", "could not be checked"),
    ] {
        if has(word) {
            return Err(format!("the GPG signature is {why}"));
        }
    }
    if count("NEWSIG") != 1 {
        return Err(format!(
            "a signature must hold one GPG signature, this holds {}",
            count("NEWSIG")
        ));
    }
    if !succeeded || !has("GOODSIG") || count("VALIDSIG") != 1 {
        return Err("cryptographic signature verification failed".into());
    }
    Ok(())
}

/// A keyring as gpgv reads it: binary; ASCII armor (`-----BEGIN PGP PUBLIC KEY
/// BLOCK-----`, headers, base64, a `=CRC` line) is taken off every block. Written here:
/// gpgv reads binary keyrings only, and `gpg --dearmor` is not on every machine.
fn dearmored(keyring: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(keyring) else {
        return keyring.to_vec();
    };
    if !text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        return keyring.to_vec();
    }
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    let mut in_headers = false;
    for line in text.lines().map(str::trim) {
        if line == "-----BEGIN PGP PUBLIC KEY BLOCK-----" {
            body = Some(String::new());
            in_headers = true;
            continue;
        }
        let Some(collected) = body.as_mut() else {
            continue;
        };
        if line == "-----END PGP PUBLIC KEY BLOCK-----" {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(collected.as_str())
            {
                out.extend(bytes);
            }
            body = None;
            continue;
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                continue;
            }
            if line.contains(": ") {
                continue;
            }
            in_headers = false;
        }
        if !line.starts_with('=') {
            collected.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpgv_status_is_read_strictly() {
        let good =
            "[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG 6C27 a@b\n[GNUPG:] VALIDSIG A1E7 2026-11-30\n";
        assert!(check_status(good, true).is_ok());
        assert!(check_status(good, false).is_err());
        let expired = format!("{good}[GNUPG:] EXPKEYSIG 6C27 a@b\n");
        assert!(check_status(&expired, true)
            .unwrap_err()
            .contains("expired"));
        let two = format!("[GNUPG:] NEWSIG\n{good}");
        assert!(check_status(&two, true).unwrap_err().contains("holds 2"));
        let unknown = "[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG 6C27\n[GNUPG:] NO_PUBKEY 6C27\n";
        assert!(check_status(unknown, false)
            .unwrap_err()
            .contains("not made by a key the policy trusts"));
    }

    #[test]
    fn armor_is_taken_off_every_block() {
        let armored = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nVersion: x\n\nAQID\nBA==\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nBQY=\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert_eq!(dearmored(armored.as_bytes()), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(dearmored(&[0x99, 1, 2]), vec![0x99, 1, 2]);
    }
}
