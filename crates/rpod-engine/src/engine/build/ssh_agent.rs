//! The ssh agent of a build's own for `--ssh ID=KEY[,KEY...]`: OpenSSH's `ssh-agent`, run
//! for the build on a socket in a scratch directory of the store's and given the keys with
//! `ssh-add`, so that a step's `RUN --mount=type=ssh,id=ID` forwards it as any agent.
//!
//! OpenSSH's own programs rather than an agent written here: they parse every key format
//! and cipher OpenSSH has (and ask for a key's passphrase at the terminal, as ssh-add
//! does); what rpod would write is the agent protocol and the signing, which is key
//! handling best left to the project that defines it. The agent dies with the build's
//! thread (rpod killed included) and answers only root, as any agent answers only its
//! owner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::SshSource;
use crate::scratch::ScratchDir;
use crate::{Engine, EngineError, Result};

/// How long the agent may take to make its socket.
const AGENT_START: Duration = Duration::from_secs(10);

/// The agents a build's ssh mounts forward: every `--ssh` ID's socket, with the agents
/// started for key files (stopped when this is dropped, at the build's end).
pub(super) struct SshAgents {
    pub(super) sockets: BTreeMap<String, PathBuf>,
    _own: Vec<KeyAgent>,
}

impl SshAgents {
    pub(super) fn start(engine: &Engine, given: &BTreeMap<String, SshSource>) -> Result<Self> {
        let mut sockets = BTreeMap::new();
        let mut own = Vec::new();
        for (id, source) in given {
            let socket = match source {
                SshSource::Socket(socket) => socket.clone(),
                SshSource::Keys(keys) => {
                    let agent = KeyAgent::start(&engine.roots.tmp(), id, keys)?;
                    let socket = agent.socket.clone();
                    own.push(agent);
                    socket
                }
            };
            sockets.insert(id.clone(), socket);
        }
        Ok(SshAgents { sockets, _own: own })
    }
}

/// A running agent holding a build's keys; stopped when dropped.
struct KeyAgent {
    agent: Child,
    socket: PathBuf,
    /// The socket's directory, removed after the agent is stopped.
    _dir: ScratchDir,
}

impl KeyAgent {
    /// An agent for `--ssh ID=...` holding `keys`, its socket in a scratch directory
    /// under `scratch`.
    fn start(scratch: &Path, id: &str, keys: &[PathBuf]) -> Result<KeyAgent> {
        let dir = ScratchDir::new(scratch, "ssh-agent-")?;
        let socket = dir.path().join("agent.sock");
        let mut command = Command::new("ssh-agent");
        command
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        crate::child::die_with_parent(&mut command);
        let agent = command
            .spawn()
            .map_err(|e| missing_openssh("ssh-agent", e))?;
        let mut started = KeyAgent {
            agent,
            socket,
            _dir: dir,
        };
        started.wait_for_socket(id)?;
        started.add(id, keys)?;
        Ok(started)
    }

    fn wait_for_socket(&mut self, id: &str) -> Result<()> {
        let since = Instant::now();
        while !self.socket.exists() {
            let ended = self
                .agent
                .try_wait()
                .map_err(|e| EngineError::io("waiting for", Path::new("ssh-agent"), e))?;
            if let Some(status) = ended {
                return Err(EngineError::InvalidArg(format!(
                    "--ssh {id}: ssh-agent ended ({status}) before it listened on {}",
                    self.socket.display()
                )));
            }
            if since.elapsed() > AGENT_START {
                return Err(EngineError::InvalidArg(format!(
                    "--ssh {id}: ssh-agent made no socket at {} within {} s",
                    self.socket.display(),
                    AGENT_START.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    fn add(&self, id: &str, keys: &[PathBuf]) -> Result<()> {
        let out = Command::new("ssh-add")
            .arg("-q")
            .arg("--")
            .args(keys)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| missing_openssh("ssh-add", e))?;
        if out.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        Err(EngineError::InvalidArg(format!(
            "--ssh {id}: ssh-add could not load the keys: {}",
            said.trim()
        )))
    }
}

impl Drop for KeyAgent {
    fn drop(&mut self) {
        let _ = self.agent.kill();
        let _ = self.agent.wait();
    }
}

fn missing_openssh(program: &str, e: std::io::Error) -> EngineError {
    EngineError::NotSupported(format!(
        "--ssh with key files needs OpenSSH's {program} (Debian: openssh-client), which could not be run: {e}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An agent that cannot listen (its socket's path is longer than a Unix socket's
    /// address) is reported with what ended it, and its directory goes; so does one given
    /// a file that is no key.
    #[test]
    fn an_agent_that_fails_is_reported_and_leaves_nothing() {
        let top = tempfile::tempdir().unwrap();
        let scratch = top.path().join("d".repeat(120));
        std::fs::create_dir(&scratch).unwrap();
        let key = top.path().join("key");
        std::fs::write(&key, "no key").unwrap();
        let err = KeyAgent::start(&scratch, "default", std::slice::from_ref(&key))
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("--ssh default: ssh-agent ended"), "{text}");
        assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
        let err = KeyAgent::start(top.path(), "default", &[key])
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("ssh-add could not load the keys"), "{text}");
        let left: Vec<_> = std::fs::read_dir(top.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| name.to_string_lossy().starts_with("ssh-agent-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
