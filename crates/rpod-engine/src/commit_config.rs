//! A config given with a commit: the body of Docker's `POST /commit` (docker-py's
//! `commit(conf=...)`). Docker keeps what the body gives and completes it with the
//! container's settings, before the `changes` apply: lists and maps (environment, labels,
//! exposed ports, volumes) get the container's entries the body lacks, single values (user,
//! working directory, stop signal) are the container's when the body leaves them empty, and
//! the command is the container's only when the body gives neither a command nor an entry
//! point (an entry point alone keeps no command of the container's).

use std::collections::BTreeMap;

use oci_spec::image::Config;

use crate::error::{EngineError, Result};
use crate::health::HealthCheck;
use crate::image::DockerFields;

/// The image config fields a commit's body can give; empty ones are not given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GivenConfig {
    pub user: String,
    /// `PORT/PROTOCOL` (a bare port is TCP).
    pub exposed_ports: Vec<String>,
    pub env: Vec<String>,
    /// `None` when not given; given empty, the image has no entry point.
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Vec<String>,
    pub volumes: Vec<String>,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: String,
    /// Docker's `HealthConfig`, merged over the container's check part by part.
    pub healthcheck: Option<serde_json::Value>,
    pub on_build: Vec<String>,
    pub shell: Vec<String>,
}

impl GivenConfig {
    /// Whether it gives anything only a Docker-format image keeps.
    fn gives_docker_fields(&self) -> bool {
        self.healthcheck.is_some() || !self.on_build.is_empty() || !self.shell.is_empty()
    }

    /// `config` and `docker` (made from the container; `docker` for a Docker-format image)
    /// with what this gives, as Docker's commit merges them.
    pub fn apply(&self, config: &mut Config, docker: Option<&mut DockerFields>) -> Result<()> {
        if !self.user.is_empty() {
            config.set_user(Some(self.user.clone()));
        }
        if !self.working_dir.is_empty() {
            config.set_working_dir(Some(self.working_dir.clone()));
        }
        if !self.stop_signal.is_empty() {
            rpod_oci::signal::parse_signal(&self.stop_signal).map_err(EngineError::InvalidArg)?;
            config.set_stop_signal(Some(self.stop_signal.clone()));
        }
        self.apply_env(config);
        self.apply_command(config);
        let mut labels = config.labels().clone().unwrap_or_default();
        labels.extend(self.labels.clone());
        config.set_labels((!labels.is_empty()).then_some(labels));
        let mut ports = config.exposed_ports().clone().unwrap_or_default();
        for port in &self.exposed_ports {
            crate::image::expose(&mut ports, port)?;
        }
        config.set_exposed_ports((!ports.is_empty()).then_some(ports));
        let mut volumes = config.volumes().clone().unwrap_or_default();
        for path in &self.volumes {
            if !crate::image::add_volume(&mut volumes, path.clone()) {
                return Err(EngineError::InvalidArg(format!(
                    "volume {path:?} in the commit's config is not an absolute path"
                )));
            }
        }
        config.set_volumes((!volumes.is_empty()).then_some(volumes));
        match docker {
            Some(fields) => self.apply_docker_fields(fields),
            None if self.gives_docker_fields() => Err(EngineError::InvalidArg(
                "a health check, ONBUILD or shell in the commit's config is kept only in a Docker-format image".into(),
            )),
            None => Ok(()),
        }
    }

    /// The body's variables, then the container's whose names it does not set.
    fn apply_env(&self, config: &mut Config) {
        if self.env.is_empty() {
            return;
        }
        let name = |pair: &str| pair.split('=').next().unwrap_or_default().to_string();
        let mut env = self.env.clone();
        for pair in config.env().clone().unwrap_or_default() {
            if !self.env.iter().any(|given| name(given) == name(&pair)) {
                env.push(pair);
            }
        }
        config.set_env(Some(env));
    }

    /// Docker's rule: with an entry point given, the body's command (maybe none) goes
    /// with it; without one, a command given replaces the container's and keeps its entry
    /// point.
    fn apply_command(&self, config: &mut Config) {
        match &self.entrypoint {
            Some(entrypoint) if !entrypoint.is_empty() => {
                config.set_entrypoint(Some(entrypoint.clone()));
                config.set_cmd((!self.cmd.is_empty()).then(|| self.cmd.clone()));
            }
            given => {
                if given.is_some() {
                    config.set_entrypoint(None);
                }
                if !self.cmd.is_empty() {
                    config.set_cmd(Some(self.cmd.clone()));
                }
            }
        }
    }

    fn apply_docker_fields(&self, fields: &mut DockerFields) -> Result<()> {
        if let Some(given) = &self.healthcheck {
            let merged = if HealthCheck::api_disables(given) {
                given.clone()
            } else {
                let container = match &fields.healthcheck {
                    Some(check) if !HealthCheck::api_disables(check) => {
                        HealthCheck::from_api(check)?
                    }
                    _ => None,
                };
                let merged = HealthCheck::merge_api(given, container.as_ref());
                // Checked as a container's would be.
                HealthCheck::from_api(&merged)?;
                merged
            };
            fields.healthcheck = Some(merged);
        }
        if !self.on_build.is_empty() {
            fields.on_build = self.on_build.clone();
        }
        if !self.shell.is_empty() {
            fields.shell = self.shell.clone();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container_config() -> Config {
        let mut config = Config::default();
        config.set_user(Some("1000".into()));
        config.set_working_dir(Some("/srv".into()));
        config.set_env(Some(vec!["A=1".into(), "PATH=/bin".into()]));
        config.set_entrypoint(Some(vec!["/entry".into()]));
        config.set_cmd(Some(vec!["serve".into()]));
        config.set_labels(Some([("k".to_string(), "c".to_string())].into()));
        config.set_exposed_ports(Some(vec!["80/tcp".into()]));
        config.set_volumes(Some(vec!["/data".into()]));
        config.set_stop_signal(Some("SIGTERM".into()));
        config
    }

    #[test]
    fn nothing_given_keeps_the_container_s_config() {
        let mut config = container_config();
        GivenConfig::default().apply(&mut config, None).unwrap();
        assert_eq!(config, container_config());
    }

    #[test]
    fn given_values_win_and_the_container_fills_in_the_rest() {
        let given = GivenConfig {
            user: "nobody".into(),
            env: vec!["A=2".into(), "B=3".into()],
            labels: [
                ("k".to_string(), "given".to_string()),
                ("n".into(), "1".into()),
            ]
            .into(),
            exposed_ports: vec!["53/udp".into(), "8080".into()],
            volumes: vec!["/logs".into()],
            stop_signal: "SIGINT".into(),
            ..Default::default()
        };
        let mut config = container_config();
        given.apply(&mut config, None).unwrap();
        assert_eq!(config.user().as_deref(), Some("nobody"));
        assert_eq!(config.working_dir().as_deref(), Some("/srv"));
        assert_eq!(config.env().clone().unwrap(), ["A=2", "B=3", "PATH=/bin"]);
        let labels = config.labels().clone().unwrap();
        assert_eq!((labels["k"].as_str(), labels["n"].as_str()), ("given", "1"));
        assert_eq!(
            config.exposed_ports().clone().unwrap(),
            ["80/tcp", "53/udp", "8080/tcp"]
        );
        assert_eq!(config.volumes().clone().unwrap(), ["/data", "/logs"]);
        assert_eq!(config.stop_signal().as_deref(), Some("SIGINT"));
    }

    #[test]
    fn the_command_follows_docker_s_rule() {
        let command = |entrypoint: Option<&[&str]>, cmd: &[&str]| {
            let given = GivenConfig {
                entrypoint: entrypoint.map(|e| e.iter().map(|w| w.to_string()).collect()),
                cmd: cmd.iter().map(|w| w.to_string()).collect(),
                ..Default::default()
            };
            let mut config = container_config();
            given.apply(&mut config, None).unwrap();
            (config.entrypoint().clone(), config.cmd().clone())
        };
        let words = |w: &[&str]| Some(w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        // A command alone keeps the container's entry point.
        assert_eq!(
            command(None, &["other"]),
            (words(&["/entry"]), words(&["other"]))
        );
        // An entry point takes no command of the container's.
        assert_eq!(command(Some(&["/new"]), &[]), (words(&["/new"]), None));
        // An empty entry point given is none.
        assert_eq!(command(Some(&[]), &["sh"]), (None, words(&["sh"])));
    }

    #[test]
    fn bad_values_are_refused() {
        let refused = |given: GivenConfig| given.apply(&mut container_config(), None).is_err();
        assert!(refused(GivenConfig {
            stop_signal: "SIGNOPE".into(),
            ..Default::default()
        }));
        assert!(refused(GivenConfig {
            volumes: vec!["relative".into()],
            ..Default::default()
        }));
        assert!(refused(GivenConfig {
            exposed_ports: vec!["http/tcp".into()],
            ..Default::default()
        }));
        // Only a Docker-format image keeps a health check.
        assert!(refused(GivenConfig {
            healthcheck: Some(serde_json::json!({"Test": ["CMD", "true"]})),
            ..Default::default()
        }));
    }

    #[test]
    fn a_given_health_check_is_merged_over_the_container_s() {
        let mut fields = DockerFields {
            healthcheck: Some(serde_json::json!({
                "Test": ["CMD-SHELL", "check"], "Interval": 30_000_000_000u64, "Retries": 3
            })),
            on_build: vec!["RUN old".into()],
            shell: Vec::new(),
        };
        let given = GivenConfig {
            healthcheck: Some(serde_json::json!({"Interval": 5_000_000_000u64})),
            on_build: vec!["RUN new".into()],
            ..Default::default()
        };
        given
            .apply(&mut container_config(), Some(&mut fields))
            .unwrap();
        let check = fields.healthcheck.unwrap();
        assert_eq!(check["Test"], serde_json::json!(["CMD-SHELL", "check"]));
        assert_eq!(check["Interval"], 5_000_000_000u64);
        assert_eq!(check["Retries"], 3);
        assert_eq!(fields.on_build, ["RUN new"]);
        // A check that cannot run is refused.
        let bad = GivenConfig {
            healthcheck: Some(serde_json::json!({"Test": ["BOGUS"]})),
            ..Default::default()
        };
        let mut fields = DockerFields::default();
        assert!(bad
            .apply(&mut container_config(), Some(&mut fields))
            .is_err());
    }
}
