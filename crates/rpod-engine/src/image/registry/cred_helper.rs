//! Credential helpers: the `docker-credential-NAME` programs that keep registry passwords in
//! a keychain, a password store or a cloud's token service, named by a credentials file's
//! `credHelpers` (per registry) or `credsStore` (for every registry). Their protocol is the
//! docker-credential-helpers one: `get` reads a server on stdin and prints
//! `{"ServerURL","Username","Secret"}`; `store` reads that JSON; `erase` reads a server.

use std::io::Write;
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

/// Run `program action` with `input` on stdin: (success, stdout, stderr).
fn run(program: &str, action: &str, input: &[u8]) -> Result<(bool, String, String)> {
    let mut child = Command::new(program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            EngineError::Registry(format!("running the credential helper {program}: {e}"))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its answer.
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().map_err(|e| {
        EngineError::Registry(format!("running the credential helper {program}: {e}"))
    })?;
    if out.stdout.len() > MAX_ANSWER {
        return Err(EngineError::Registry(format!(
            "the credential helper {program} printed more than {MAX_ANSWER} bytes"
        )));
    }
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    ))
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
    let program = program(helper)?;
    let (ok, stdout, stderr) = run(&program, "get", server.as_bytes())?;
    if !ok {
        if stdout.contains(NOT_FOUND) || stderr.contains(NOT_FOUND) {
            return Ok(None);
        }
        return Err(failed(&program, "get", &stdout, &stderr));
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
    let program = program(helper)?;
    let input = serde_json::to_vec(&HelperCredentials {
        server_url: server.to_string(),
        username: credentials.username.clone(),
        secret: credentials.password.clone(),
    })
    .map_err(|e| EngineError::InvalidArg(format!("encoding credentials: {e}")))?;
    let (ok, stdout, stderr) = run(&program, "store", &input)?;
    if !ok {
        return Err(failed(&program, "store", &stdout, &stderr));
    }
    Ok(())
}

/// Forget what `helper` holds for `server`. Whether it held anything.
pub fn erase(helper: &str, server: &str) -> Result<bool> {
    let program = program(helper)?;
    let (ok, stdout, stderr) = run(&program, "erase", server.as_bytes())?;
    if ok {
        return Ok(true);
    }
    if stdout.contains(NOT_FOUND) || stderr.contains(NOT_FOUND) {
        return Ok(false);
    }
    Err(failed(&program, "erase", &stdout, &stderr))
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
}
