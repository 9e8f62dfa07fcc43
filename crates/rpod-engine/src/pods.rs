//! Pods, as podman has them: a group of containers that share namespaces with the pod's
//! infra container (a process that only waits, `catatonit -P`), created, started, stopped and
//! removed together. Here: the record, the `--share` list and the pod's status; the
//! operations are in `engine/pods.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::container::Status;
use crate::error::{EngineError, Result};

/// A namespace the pod's containers share with its infra container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SharedNamespace {
    Cgroup,
    Ipc,
    Net,
    Pid,
    Uts,
}

impl SharedNamespace {
    pub fn as_str(self) -> &'static str {
        match self {
            SharedNamespace::Cgroup => "cgroup",
            SharedNamespace::Ipc => "ipc",
            SharedNamespace::Net => "net",
            SharedNamespace::Pid => "pid",
            SharedNamespace::Uts => "uts",
        }
    }

    /// podman's default `--share` (Kubernetes'): IPC, the network and UTS.
    pub fn defaults() -> Vec<SharedNamespace> {
        vec![
            SharedNamespace::Ipc,
            SharedNamespace::Net,
            SharedNamespace::Uts,
        ]
    }

    /// `--share`: a comma-separated list of `cgroup`, `ipc`, `net`, `pid`, `uts`, or
    /// `none` (or nothing) for none; a leading `+` adds to the defaults.
    pub fn parse_list(text: &str) -> Result<Vec<SharedNamespace>> {
        let (mut shared, list) = match text.strip_prefix('+') {
            Some(rest) => (Self::defaults(), rest),
            None => (Vec::new(), text),
        };
        for word in list.split(',').map(str::trim) {
            let kind = match word {
                "" | "none" => continue,
                "cgroup" => SharedNamespace::Cgroup,
                "ipc" => SharedNamespace::Ipc,
                "net" => SharedNamespace::Net,
                "pid" => SharedNamespace::Pid,
                "uts" => SharedNamespace::Uts,
                other => {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid --share {text:?}: {other:?} is not a namespace a pod shares \
                         (cgroup, ipc, net, pid, uts or none)"
                    )))
                }
            };
            if !shared.contains(&kind) {
                shared.push(kind);
            }
        }
        shared.sort();
        Ok(shared)
    }
}

/// What happens when the last container of a pod (its infra container aside) exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitPolicy {
    /// The infra container runs on (podman's default).
    #[default]
    Continue,
    /// The infra container is stopped: the pod exits.
    Stop,
}

impl ExitPolicy {
    pub fn parse(text: &str) -> Result<ExitPolicy> {
        match text {
            "" | "continue" => Ok(ExitPolicy::Continue),
            "stop" => Ok(ExitPolicy::Stop),
            other => Err(EngineError::InvalidArg(format!(
                "invalid --exit-policy {other:?}: use continue or stop"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExitPolicy::Continue => "continue",
            ExitPolicy::Stop => "stop",
        }
    }
}

/// A pod's record in the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodRecord {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    pub labels: BTreeMap<String, String>,
    /// The infra container's ID; `None` for a pod made with `--infra=false`, or while the
    /// pod is being made.
    pub infra_id: Option<String>,
    /// Made with an infra container (`--infra`, the default).
    pub infra: bool,
    /// What the containers share with the infra container (nothing without one).
    pub shared: Vec<SharedNamespace>,
    /// The pod's host name (the infra container's, which the containers sharing UTS see).
    pub hostname: String,
    /// The command line that made the pod (podman's `CreateCommand`).
    #[serde(default)]
    pub create_command: Vec<String>,
    #[serde(default)]
    pub exit_policy: ExitPolicy,
    /// The pod's own cgroup, its containers' parent (`None`: `--share-parent=false`, or a
    /// pod made before rpod made pod cgroups).
    #[serde(default)]
    pub cgroup: Option<String>,
    /// `--cgroup-parent`: where the pod's cgroup is made.
    #[serde(default)]
    pub cgroup_parent: Option<String>,
    /// The pod's limits, written to its cgroup.
    #[serde(default)]
    pub limits: crate::pod_cgroups::PodLimits,
}

impl PodRecord {
    pub fn shares(&self, kind: SharedNamespace) -> bool {
        self.infra_id.is_some() && self.shared.contains(&kind)
    }
}

/// The statuses podman gives a pod, from its containers' (infra included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodStatus {
    Created,
    Running,
    /// Some containers run, others do not.
    Degraded,
    Paused,
    /// Every container exited.
    Exited,
    /// Some exited, none runs.
    Stopped,
    Error,
}

impl PodStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PodStatus::Created => "Created",
            PodStatus::Running => "Running",
            PodStatus::Degraded => "Degraded",
            PodStatus::Paused => "Paused",
            PodStatus::Exited => "Exited",
            PodStatus::Stopped => "Stopped",
            PodStatus::Error => "Error",
        }
    }

    /// The pod's status from its containers' statuses, as podman decides it.
    pub fn of(statuses: &[Status]) -> PodStatus {
        if statuses.is_empty() {
            return PodStatus::Created;
        }
        let count = |wanted: &[Status]| statuses.iter().filter(|s| wanted.contains(s)).count();
        let total = statuses.len();
        let running = count(&[Status::Running]);
        let paused = count(&[Status::Paused]);
        let exited = count(&[Status::Exited, Status::Stopped]);
        let created = count(&[Status::Created, Status::Configured]);
        let errored = total - running - paused - exited - created;
        if running == total {
            PodStatus::Running
        } else if running > 0 {
            PodStatus::Degraded
        } else if paused == total {
            PodStatus::Paused
        } else if exited == total {
            PodStatus::Exited
        } else if exited > 0 {
            PodStatus::Stopped
        } else if errored > 0 {
            PodStatus::Error
        } else {
            PodStatus::Created
        }
    }

    /// A `--filter status=` value.
    pub fn from_filter(text: &str) -> Option<PodStatus> {
        [
            PodStatus::Created,
            PodStatus::Running,
            PodStatus::Degraded,
            PodStatus::Paused,
            PodStatus::Exited,
            PodStatus::Stopped,
            PodStatus::Error,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

#[cfg(test)]
mod tests {
    use super::SharedNamespace::*;
    use super::*;

    #[test]
    fn share_lists_are_parsed_and_checked() {
        assert_eq!(SharedNamespace::parse_list("net,uts").unwrap(), [Net, Uts]);
        assert_eq!(
            SharedNamespace::parse_list("uts,net,uts").unwrap(),
            [Net, Uts]
        );
        assert!(SharedNamespace::parse_list("none").unwrap().is_empty());
        assert!(SharedNamespace::parse_list("").unwrap().is_empty());
        assert_eq!(
            SharedNamespace::parse_list("+pid").unwrap(),
            [Ipc, Net, Pid, Uts]
        );
        assert_eq!(SharedNamespace::parse_list("cgroup").unwrap(), [Cgroup]);
        let error = SharedNamespace::parse_list("net,user").unwrap_err();
        assert!(error.to_string().contains("\"user\""), "{error}");
    }

    #[test]
    fn a_pods_status_follows_podmans_rules() {
        use Status::*;
        assert_eq!(PodStatus::of(&[]), PodStatus::Created);
        assert_eq!(PodStatus::of(&[Running, Running]), PodStatus::Running);
        assert_eq!(PodStatus::of(&[Running, Exited]), PodStatus::Degraded);
        assert_eq!(PodStatus::of(&[Running, Configured]), PodStatus::Degraded);
        assert_eq!(PodStatus::of(&[Paused, Paused]), PodStatus::Paused);
        assert_eq!(PodStatus::of(&[Exited, Stopped]), PodStatus::Exited);
        assert_eq!(PodStatus::of(&[Exited, Configured]), PodStatus::Stopped);
        assert_eq!(PodStatus::of(&[Configured, Created]), PodStatus::Created);
        assert_eq!(PodStatus::of(&[Removing, Configured]), PodStatus::Error);
        assert_eq!(PodStatus::of(&[Paused, Exited]), PodStatus::Stopped);
        assert_eq!(
            PodStatus::from_filter("degraded"),
            Some(PodStatus::Degraded)
        );
        assert_eq!(PodStatus::from_filter("dead"), None);
    }

    #[test]
    fn exit_policies_are_podmans() {
        assert_eq!(ExitPolicy::parse("").unwrap(), ExitPolicy::Continue);
        assert_eq!(ExitPolicy::parse("stop").unwrap(), ExitPolicy::Stop);
        assert!(ExitPolicy::parse("halt")
            .unwrap_err()
            .to_string()
            .contains("halt"));
    }
}
