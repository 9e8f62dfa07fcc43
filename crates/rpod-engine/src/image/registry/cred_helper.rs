//! Credential helpers: the `docker-credential-NAME` programs that keep registry passwords in
//! a keychain, a password store or a cloud's token service, named by a credentials file's
//! `credHelpers` (per registry) or `credsStore` (for every registry). Their protocol is the
//! docker-credential-helpers one: `get` reads a server on stdin and prints
//! `{"ServerURL","Username","Secret"}`; `store` reads that JSON; `erase` reads a server.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::auth_file::Credentials;
use crate::{EngineError, Result};

/// The most a helper may print (a token answer is a few kilobytes).
const MAX_ANSWER: usize = 1 << 20;

/// What helpers print when they hold nothing for a server (exit code 1).
const NOT_FOUND: &str = "credentials not found in native keychain";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperCredentials {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
}

/// The program a helper name stands for. A name is a word, never a path: a credentials file
/// must not be able to run `docker-credential-../../anything`.
fn program(helper: &str) -> Result<String> {
    let plain = !helper.is_empty()
        && helper
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !helper.starts_with('.');
    if !plain {
        return Err(EngineError::InvalidArg(format!(
            "{helper:?} is not a credential helper's name (docker-credential-NAME)"
        )));
    }
    Ok(format!("docker-credential-{helper}"))
}

/// Run `program action` with `input` on stdin: (success, stdout, stderr). Each output is
/// read up to `MAX_ANSWER` bytes; a helper that prints more is killed.
fn run(program: &str, action: &str, input: &[u8]) -> Result<(bool, String, String)> {
    let trouble = |e: std::io::Error| {
        EngineError::Registry(format!("running the credential helper {program}: {e}"))
    };
    let mut child = Command::new(program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(trouble)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its answer.
        let _ = stdin.write_all(input);
    }
    let stderr = child
        .stderr
        .take()
        .map(|pipe| std::thread::spawn(move || read_bounded(pipe)));
    let stdout = child.stdout.take().map(read_bounded).transpose();
    let stderr = stderr
        .map(|reader| reader.join().unwrap_or_else(|_| Ok(Vec::new())))
        .transpose();
    let too_much = |out: &Option<Vec<u8>>| out.as_ref().is_some_and(|o| o.len() > MAX_ANSWER);
    let outputs = match (stdout, stderr) {
        (Ok(stdout), Ok(stderr)) if !too_much(&stdout) && !too_much(&stderr) => {
            Ok((stdout.unwrap_or_default(), stderr.unwrap_or_default()))
        }
        (Err(e), _) | (_, Err(e)) => Err(trouble(e)),
        _ => Err(EngineError::Registry(format!(
            "the credential helper {program} printed more than {MAX_ANSWER} bytes"
        ))),
    };
    if outputs.is_err() {
        // It may still be writing; what it says is not read any more.
        let _ = child.kill();
    }
    let status = child.wait().map_err(trouble)?;
    let (stdout, stderr) = outputs?;
    Ok((
        status.success(),
        String::from_utf8_lossy(&stdout).trim().to_string(),
        String::from_utf8_lossy(&stderr).trim().to_string(),
    ))
}

/// A pipe's bytes up to one more than `MAX_ANSWER`, so that too much shows.
fn read_bounded(pipe: impl Read) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    pipe.take(MAX_ANSWER as u64 + 1).read_to_end(&mut out)?;
    Ok(out)
}

fn failed(program: &str, action: &str, stdout: &str, stderr: &str) -> EngineError {
    let said = [stdout, stderr]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    EngineError::Registry(format!("credential helper {program} {action}: {said}"))
}

/// What `helper` holds for `server`, if anything.
pub fn get(helper: &str, server: &str) -> Result<Option<Credentials>> {
    get_from(&program(helper)?, server)
}

fn get_from(program: &str, server: &str) -> Result<Option<Credentials>> {
    let (ok, stdout, stderr) = run(program, "get", server.as_bytes())?;
    if !ok {
        if stdout.contains(NOT_FOUND) || stderr.contains(NOT_FOUND) {
            return Ok(None);
        }
        return Err(failed(program, "get", &stdout, &stderr));
    }
    let answer: HelperCredentials = serde_json::from_str(&stdout).map_err(|e| {
        EngineError::Registry(format!(
            "credential helper {program} get: not a credentials answer: {e}"
        ))
    })?;
    if answer.username == "<token>" {
        return Err(EngineError::NotSupported(format!(
            "identity tokens (what {program} holds for {server})"
        )));
    }
    if answer.username.is_empty() && answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: answer.username,
        password: answer.secret,
    }))
}

/// Keep `credentials` for `server` in `helper`.
pub fn store(helper: &str, server: &str, credentials: &Credentials) -> Result<()> {
    store_in(&program(helper)?, server, credentials)
}

fn store_in(program: &str, server: &str, credentials: &Credentials) -> Result<()> {
    let input = serde_json::to_vec(&HelperCredentials {
        server_url: server.to_string(),
        username: credentials.username.clone(),
        secret: credentials.password.clone(),
    })
    .map_err(|e| EngineError::InvalidArg(format!("encoding credentials: {e}")))?;
    let (ok, stdout, stderr) = run(program, "store", &input)?;
    if !ok {
        return Err(failed(program, "store", &stdout, &stderr));
    }
    Ok(())
}

/// Forget what `helper` holds for `server`. Whether it held anything.
pub fn erase(helper: &str, server: &str) -> Result<bool> {
    erase_from(&program(helper)?, server)
}

fn erase_from(program: &str, server: &str) -> Result<bool> {
    let (ok, stdout, stderr) = run(program, "erase", server.as_bytes())?;
    if ok {
        return Ok(true);
    }
    if stdout.contains(NOT_FOUND) || stderr.contains(NOT_FOUND) {
        return Ok(false);
    }
    Err(failed(program, "erase", &stdout, &stderr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_names_are_words_never_paths() {
        assert_eq!(program("pass").unwrap(), "docker-credential-pass");
        assert_eq!(program("ecr-login").unwrap(), "docker-credential-ecr-login");
        for bad in ["", "../../bin/sh", "a/b", ".hidden", "x y", "$(id)"] {
            assert!(program(bad).is_err(), "{bad:?} was taken");
        }
    }

    /// A helper script in a directory of its own; its path.
    fn helper(dir: &tempfile::TempDir, body: &str) -> String {
        let path = dir.path().join("docker-credential-test");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path.display().to_string()
    }

    fn alice() -> Credentials {
        Credentials {
            username: "alice".into(),
            password: "s3cret".into(),
        }
    }

    #[test]
    fn a_helper_that_prints_without_end_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        for body in ["exec yes", "yes >&2"] {
            let endless = helper(&dir, body);
            let err = get_from(&endless, "registry.example")
                .unwrap_err()
                .to_string();
            assert!(err.contains("printed more than 1048576 bytes"), "{err}");
        }
    }

    #[test]
    fn a_failed_store_or_erase_says_what_the_helper_said() {
        let dir = tempfile::tempdir().unwrap();
        let refusing = helper(&dir, "cat >/dev/null; echo 'keychain locked' >&2; exit 3");
        let err = store_in(&refusing, "registry.example", &alice())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docker-credential-test store: keychain locked"),
            "{err}"
        );
        let err = erase_from(&refusing, "registry.example")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docker-credential-test erase: keychain locked"),
            "{err}"
        );
    }

    #[test]
    fn store_hands_over_the_credentials_and_erase_tells_whether_there_were_any() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept");
        let keeping = helper(
            &dir,
            &format!(
                "case $1 in store) cat > {kept};; erase) cat >/dev/null; if [ -f {kept} ]; then rm {kept}; else echo '{NOT_FOUND}'; exit 1; fi;; esac",
                kept = kept.display()
            ),
        );
        store_in(&keeping, "registry.example", &alice()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&kept).unwrap(),
            r#"{"ServerURL":"registry.example","Username":"alice","Secret":"s3cret"}"#
        );
        assert!(erase_from(&keeping, "registry.example").unwrap());
        assert!(!erase_from(&keeping, "registry.example").unwrap());
    }
}
