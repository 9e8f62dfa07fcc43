//! What runs in a container and what it uses: `stats` (cgroup counters) and `top`
//! (its processes).

use std::path::Path;

use super::*;
use crate::stats::{self, Sample, CGROUP_ROOT};
use crate::top;

impl Engine {
    /// A reading of a running (or paused) container's counters; `None` for one that is not
    /// running.
    pub fn stats(&self, record: &ContainerRecord) -> Result<Option<Sample>> {
        if !record.state.status.is_running_or_paused() {
            return Ok(None);
        }
        needs_cgroup(record, "read the counters of")?;
        Ok(stats::sample(
            Path::new(CGROUP_ROOT),
            &spec::cgroup_path(&record.config),
            record.state.pid,
        ))
    }

    /// A running container's processes described by `descriptors` (podman's default set
    /// when empty): the headers and one row per process.
    pub fn top(
        &self,
        name_or_id: &str,
        descriptors: &[String],
    ) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let mut record = self.lookup(name_or_id)?;
        self.sync(&mut record)?;
        if !record.state.status.is_running_or_paused() {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "top can only be used on running containers: {} is {}",
                    record.config.name,
                    record.state.status.as_str()
                ),
            ));
        }
        let descriptors: Vec<String> = if descriptors.is_empty() {
            top::DEFAULT_DESCRIPTORS
                .iter()
                .map(|d| d.to_string())
                .collect()
        } else {
            descriptors.to_vec()
        };
        let headers = match top::headers(&descriptors) {
            Ok(headers) => headers.into_iter().map(String::from).collect(),
            // ps(1)'s options (`-ef`, `aux`): run inside the container as podman does. A
            // misspelt descriptor stays an error rather than some ps output.
            Err(_) if top::looks_like_ps_options(&descriptors) => {
                return self.top_by_ps(&record, &descriptors)
            }
            Err(e) => return Err(e),
        };
        // The container's processes are those of its cgroup.
        needs_cgroup(&record, "list the processes of")?;
        let (users, groups) = spec::account_names(&self.root_path(&record))?;
        let (host_users, host_groups) = spec::account_names(Path::new("/"))?;
        let uptime = fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        let context = top::Context {
            users: &users,
            groups: &groups,
            host_users: &host_users,
            host_groups: &host_groups,
            mappings: record.config.id_mappings.as_ref(),
            uptime,
            ticks,
        };
        let processes = top::processes(Path::new(CGROUP_ROOT), &spec::cgroup_path(&record.config));
        let rows = processes
            .iter()
            .map(|p| top::row(&descriptors, p, &processes, &context))
            .collect();
        Ok((headers, rows))
    }

    /// `top` with ps(1)'s options: the container's own `ps` run with them, its columns
    /// split at white space (the last one keeps the rest of the line, the command).
    fn top_by_ps(
        &self,
        record: &ContainerRecord,
        options: &[String],
    ) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let mut argv = vec!["ps".to_string()];
        argv.extend(options.iter().cloned());
        let ran = self
            .exec_captured(record.id(), argv.clone(), PS_TIMEOUT, PS_OUTPUT_LIMIT)
            .map_err(|e| {
                EngineError::InvalidArg(format!(
                    "{} are not descriptors rpod knows, and running ps with them in container {} failed: {e}",
                    options.join(" "),
                    record.config.name
                ))
            })?;
        let text = String::from_utf8_lossy(&ran.output).into_owned();
        if ran.exit_code != 0 || ran.timed_out {
            return Err(EngineError::InvalidArg(format!(
                "ps {} in container {} failed ({}): {}",
                options.join(" "),
                record.config.name,
                ran.exit_code,
                text.trim()
            )));
        }
        Ok(top::split_ps_output(&text, &argv.join(" ")))
    }
}

/// How long `top`'s `ps` may take, and how much of its output is kept.
const PS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const PS_OUTPUT_LIMIT: usize = 4 << 20;
