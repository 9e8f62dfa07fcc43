//! Restart policies, podman's daemonless way: when a container exits, the cleanup command
//! its monitor runs decides whether to start it again. Nothing runs between exits, so a
//! container whose monitor was killed, or a host that rebooted, restarts only when
//! something starts it (`rpod start --all --filter restart-policy=always` at boot).

use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartKind {
    #[default]
    No,
    OnFailure,
    Always,
    UnlessStopped,
}

/// A container's restart policy (`--restart`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    pub kind: RestartKind,
    /// For `on-failure`: how many restarts in a row at most (0: no limit).
    pub max_retries: u32,
}

impl RestartPolicy {
    /// `no`, `on-failure[:N]`, `always`, `unless-stopped` (empty: `no`).
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || {
            EngineError::InvalidArg(format!(
                "invalid restart policy {text:?}: use no, on-failure[:N], always or unless-stopped"
            ))
        };
        let (name, retries) = match text.split_once(':') {
            Some((name, count)) => (name, Some(count.parse::<u32>().map_err(|_| invalid())?)),
            None => (text, None),
        };
        let kind = match name {
            "" | "no" => RestartKind::No,
            "on-failure" => RestartKind::OnFailure,
            "always" => RestartKind::Always,
            "unless-stopped" => RestartKind::UnlessStopped,
            _ => return Err(invalid()),
        };
        if retries.is_some() && kind != RestartKind::OnFailure {
            return Err(EngineError::InvalidArg(format!(
                "restart policy {name:?} takes no retry count: only on-failure does"
            )));
        }
        Ok(RestartPolicy {
            kind,
            max_retries: retries.unwrap_or(0),
        })
    }

    /// podman's name: `""` for none, `on-failure`, `always`, `unless-stopped`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            RestartKind::No => "",
            RestartKind::OnFailure => "on-failure",
            RestartKind::Always => "always",
            RestartKind::UnlessStopped => "unless-stopped",
        }
    }

    pub fn is_set(&self) -> bool {
        self.kind != RestartKind::No
    }

    /// Whether a container that exited with `exit_code` starts again. A stop by the user
    /// (`stop`, `kill -s KILL`, `rm -f`) is never undone; `retries` counts the restarts
    /// since the user last started it.
    pub fn should_restart(
        &self,
        exit_code: Option<i32>,
        stopped_by_user: bool,
        retries: u32,
    ) -> bool {
        if stopped_by_user {
            return false;
        }
        match self.kind {
            RestartKind::No => false,
            RestartKind::Always | RestartKind::UnlessStopped => true,
            RestartKind::OnFailure => {
                exit_code != Some(0) && (self.max_retries == 0 || retries < self.max_retries)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_podmans() {
        assert_eq!(RestartPolicy::parse("").unwrap(), RestartPolicy::default());
        assert_eq!(RestartPolicy::parse("no").unwrap().kind, RestartKind::No);
        let on_failure = RestartPolicy::parse("on-failure:3").unwrap();
        assert_eq!(
            (on_failure.kind, on_failure.max_retries),
            (RestartKind::OnFailure, 3)
        );
        assert_eq!(
            RestartPolicy::parse("unless-stopped").unwrap().name(),
            "unless-stopped"
        );
        for bad in ["sometimes", "always:2", "on-failure:x", "on-failure:-1"] {
            assert!(RestartPolicy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn restarts_follow_the_policy_and_the_user() {
        let always = RestartPolicy::parse("always").unwrap();
        assert!(always.should_restart(Some(0), false, 100));
        assert!(!always.should_restart(Some(1), true, 0));
        let twice = RestartPolicy::parse("on-failure:2").unwrap();
        assert!(!twice.should_restart(Some(0), false, 0));
        assert!(twice.should_restart(Some(3), false, 1));
        assert!(!twice.should_restart(Some(3), false, 2));
        assert!(twice.should_restart(None, false, 0));
        let unlimited = RestartPolicy::parse("on-failure").unwrap();
        assert!(unlimited.should_restart(Some(1), false, 1000));
        assert!(!RestartPolicy::default().should_restart(Some(1), false, 0));
    }
}
