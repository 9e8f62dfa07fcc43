//! `auto-update`, as podman's: containers labelled `io.containers.autoupdate` that run in
//! a systemd unit (`PODMAN_SYSTEMD_UNIT`, which rpod sets from the unit's environment, as
//! `generate systemd --new` units give it) are brought to their image's newest version:
//! with `registry` (or `image`), when the registry's manifest for the image's name is not
//! the one the local image came from, the image is pulled; with `local`, when the name
//! now means another local image. Either way the unit is restarted (`systemctl restart`),
//! which makes the container again from the name. A restart that fails puts the previous
//! image back under the name and restarts again (`--rollback`).

use std::collections::BTreeMap;
use std::process::Command;

use super::Engine;
use crate::container::ContainerRecord;
use crate::image::registry::{self, PullOptions, RegistryOptions};
use crate::{EngineError, Result};

/// The label naming a container's policy.
pub const POLICY_LABEL: &str = "io.containers.autoupdate";
/// The label naming the systemd unit a container runs in.
pub const UNIT_LABEL: &str = "PODMAN_SYSTEMD_UNIT";

#[derive(Debug, Clone, Default)]
pub struct AutoUpdateOptions {
    pub registry: RegistryOptions,
    /// Only say what would be updated.
    pub dry_run: bool,
    /// Put the previous image back when the restart fails.
    pub rollback: bool,
    /// The program that restarts units (`systemctl` in `$PATH` when `None`).
    pub systemctl: Option<std::path::PathBuf>,
}

/// One line of the report (podman's columns).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AutoUpdateReport {
    #[serde(rename = "Unit")]
    pub unit: String,
    /// `ID (name)`.
    #[serde(rename = "Container")]
    pub container: String,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    #[serde(rename = "ContainerName")]
    pub container_name: String,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "Policy")]
    pub policy: String,
    /// `true`, `false`, `pending` (a dry run), `rolled back` or `failed`.
    #[serde(rename = "Updated")]
    pub updated: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Registry,
    Local,
}

/// A container that takes part, with what it needs.
struct Candidate {
    record: ContainerRecord,
    unit: String,
    policy: Policy,
}

impl Engine {
    /// Check and update every container with an auto-update policy. The report has a line
    /// per such container; the errors are those that kept one from being checked or
    /// updated (the others go on).
    pub fn auto_update(
        &self,
        options: &AutoUpdateOptions,
    ) -> Result<(Vec<AutoUpdateReport>, Vec<EngineError>)> {
        let mut errors = Vec::new();
        let mut candidates = Vec::new();
        for record in self.list()? {
            let Some(policy) = record.config.labels.get(POLICY_LABEL) else {
                continue;
            };
            let policy = match policy.as_str() {
                "registry" | "image" => Policy::Registry,
                "local" => Policy::Local,
                "" | "disabled" => continue,
                other => {
                    errors.push(EngineError::InvalidArg(format!(
                        "auto-updating container {}: invalid auto-update policy {other:?} (registry, image, local or disabled)",
                        record.id()
                    )));
                    continue;
                }
            };
            let Some(unit) = record.config.labels.get(UNIT_LABEL).cloned() else {
                errors.push(EngineError::InvalidArg(format!(
                    "auto-updating container {}: no {UNIT_LABEL} label found (run it from a unit of generate systemd --new)",
                    record.id()
                )));
                continue;
            };
            candidates.push(Candidate {
                record,
                unit,
                policy,
            });
        }
        // A unit is restarted once, whichever of its containers asked for it.
        let mut by_unit: BTreeMap<String, Vec<(Candidate, bool)>> = BTreeMap::new();
        for candidate in candidates {
            let outdated = match self.outdated(&candidate, options) {
                Ok(outdated) => outdated,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            by_unit
                .entry(candidate.unit.clone())
                .or_default()
                .push((candidate, outdated));
        }
        let mut reports = Vec::new();
        for (unit, members) in by_unit {
            let needed = members.iter().any(|(_, outdated)| *outdated);
            let updated = if !needed {
                "false".to_string()
            } else if options.dry_run {
                "pending".to_string()
            } else {
                match self.update_unit(&unit, &members, options) {
                    Ok(outcome) => outcome.to_string(),
                    Err(e) => {
                        errors.push(e);
                        "failed".to_string()
                    }
                }
            };
            for (candidate, _) in &members {
                let record = &candidate.record;
                reports.push(AutoUpdateReport {
                    unit: unit.clone(),
                    container: format!("{} ({})", &record.id()[..12], record.config.name),
                    container_id: record.id().to_string(),
                    container_name: record.config.name.clone(),
                    image: record.config.image_name.clone(),
                    policy: match candidate.policy {
                        Policy::Registry => "registry",
                        Policy::Local => "local",
                    }
                    .to_string(),
                    updated: updated.clone(),
                });
            }
        }
        Ok((reports, errors))
    }

    /// Whether the container's image is no longer the newest its name stands for.
    fn outdated(&self, candidate: &Candidate, options: &AutoUpdateOptions) -> Result<bool> {
        let record = &candidate.record;
        let name = &record.config.image_name;
        match candidate.policy {
            Policy::Local => {
                let current = self.resolve_image(name).map_err(|e| {
                    EngineError::InvalidArg(format!(
                        "auto-updating container {}: image {name}: {e}",
                        record.id()
                    ))
                })?;
                Ok(current.id != record.config.image_id)
            }
            Policy::Registry => {
                let reference = crate::image::reference::Reference::parse(name)?;
                let Some(registry) = reference.domain.clone() else {
                    return Err(EngineError::InvalidArg(format!(
                        "auto-updating container {}: image name {name:?} must be fully qualified (REGISTRY/REPOSITORY[:TAG]) for the registry policy",
                        record.id()
                    )));
                };
                let reach = self.options_for(&registry, &options.registry)?;
                let (bytes, _) = registry::fetch_manifest_of(&reference, &registry, &reach)?;
                let remote = registry::manifest::sha256_of(&bytes);
                let local = self.store.image(&record.config.image_id)?;
                Ok(!local.is_some_and(|image| image.digests.contains(&remote)))
            }
        }
    }

    /// Pull what the registry members need, restart the unit; on failure, put the
    /// previous images back and restart again when asked. What happened, for the report.
    fn update_unit(
        &self,
        unit: &str,
        members: &[(Candidate, bool)],
        options: &AutoUpdateOptions,
    ) -> Result<&'static str> {
        // Each name once, however many of the unit's containers run it.
        let mut previous: Vec<(String, String)> = Vec::new();
        for (candidate, outdated) in members {
            let name = &candidate.record.config.image_name;
            if *outdated
                && candidate.policy == Policy::Registry
                && !previous.iter().any(|(pulled, _)| pulled == name)
            {
                let pull = PullOptions {
                    registry: options.registry.clone(),
                    ..PullOptions::default()
                };
                self.pull_image(name, &pull, &mut |_| {})?;
                previous.push((name.clone(), candidate.record.config.image_id.clone()));
            }
        }
        let restarted = restart_unit(unit, options);
        let Err(failure) = restarted else {
            return Ok("true");
        };
        if !options.rollback || previous.is_empty() {
            return Err(failure);
        }
        for (name, id) in &previous {
            self.tag_image(id, std::slice::from_ref(name))?;
        }
        restart_unit(unit, options).map_err(|again| {
            EngineError::InvalidArg(format!(
                "{failure}; after putting the previous image back: {again}"
            ))
        })?;
        Ok("rolled back")
    }
}

/// `systemctl restart UNIT`.
fn restart_unit(unit: &str, options: &AutoUpdateOptions) -> Result<()> {
    let program = options
        .systemctl
        .clone()
        .unwrap_or_else(|| "systemctl".into());
    let out = Command::new(&program)
        .args(["restart", unit])
        .output()
        .map_err(|e| {
            EngineError::CannotInvoke(format!("restarting {unit}: {}: {e}", program.display()))
        })?;
    if !out.status.success() {
        return Err(EngineError::InvalidArg(format!(
            "restarting unit {unit}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}
