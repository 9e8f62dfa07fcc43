//! What runs in a container and what it uses: `stats` (cgroup counters) and `top`
//! (its processes).

use std::path::Path;

use super::*;
use crate::stats::{self, PodStatsReport, Sample, CGROUP_ROOT};
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

    /// `pod stats` of `pods`: a row per container of each, in the pod's order, `--` for
    /// one not running (or without cgroups to read). `previous` holds each container's CPU
    /// time at its last reading and when that was, for the CPU % since (the CPU % since
    /// its start without); it is updated here. The store's containers are read once.
    pub fn pod_stats(
        &self,
        pods: Vec<crate::pods::PodRecord>,
        previous: &mut HashMap<String, (u64, std::time::Instant)>,
    ) -> Result<Vec<PodStatsReport>> {
        let all = self.store.containers()?;
        let mut reports = Vec::new();
        for pod in pods {
            for record in self.pod_members(&pod.id, &all)? {
                let sample = match record.config.no_cgroups {
                    true => None,
                    false => self.stats(&record)?,
                };
                let shown = sample.as_ref().map(|sample| {
                    let before = previous
                        .get(record.id())
                        .map(|(cpu, at)| (*cpu, at.elapsed()));
                    previous.insert(
                        record.id().to_string(),
                        (sample.cpu_nanos, std::time::Instant::now()),
                    );
                    sample.shown(record.state.started_at, before)
                });
                let reading = sample.as_ref().zip(shown.as_ref());
                reports.push(PodStatsReport::new(
                    &pod.id,
                    record.id(),
                    &record.config.name,
                    reading,
                ));
            }
        }
        Ok(reports)
    }

    /// A running container's processes described by `words` (podman's default set when
    /// none): the headers and one row per process. Words are descriptors, separate or
    /// comma-separated (`-eo pid,comm` reads as `pid comm`); words that are not all
    /// descriptors are ps(1)'s arguments (`-ef`, `aux`, `-o pid,rss`), run with the
    /// container's own `ps` as podman does, its columns split at white space.
    pub fn top(
        &self,
        name_or_id: &str,
        words: &[String],
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
        let descriptors = top::descriptor_words(words);
        if words.is_empty() {
            return self.top_table(&record, &default_descriptors());
        }
        match top::headers(&descriptors) {
            Ok(_) if !descriptors.is_empty() => self.top_table(&record, &descriptors),
            _ => self.top_by_ps(&record, words),
        }
    }

    /// `top`'s table of a container's processes, read from `/proc`, for descriptors known
    /// to be good.
    fn top_table(
        &self,
        record: &ContainerRecord,
        descriptors: &[String],
    ) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let headers = top::headers(descriptors)?
            .into_iter()
            .map(String::from)
            .collect();
        // The container's processes are those of its cgroup.
        needs_cgroup(record, "list the processes of")?;
        let (users, groups) = spec::account_names(&self.root_path(record))?;
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
            boot_time: top::boot_time(),
            ticks,
            all_caps: top::all_capabilities(),
        };
        let processes = top::processes(
            Path::new(CGROUP_ROOT),
            &spec::cgroup_path(&record.config),
            top::wants_labels(descriptors),
        );
        let rows = processes
            .iter()
            .map(|p| top::row(descriptors, p, &processes, &context))
            .collect();
        Ok((headers, rows))
    }

    /// `top` with ps(1)'s arguments: the container's own `ps` run with them, its columns
    /// split at white space (the last one keeps the rest of the line, the command).
    fn top_by_ps(
        &self,
        record: &ContainerRecord,
        options: &[String],
    ) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let mut argv = vec!["ps".to_string()];
        argv.extend(options.iter().cloned());
        // Says why ps ran, should it fail: a misspelt descriptor is the likely cause.
        let failed = |what: String| {
            let unknown = top::descriptor_words(options)
                .into_iter()
                .find(|d| top::headers(std::slice::from_ref(d)).is_err())
                .unwrap_or_else(|| options.join(" "));
            EngineError::InvalidArg(format!(
                "ps(1) with {:?} in container {} {what} ({unknown:?} is not one of rpod's descriptors: {})",
                options.join(" "),
                record.config.name,
                top::known_descriptors().join(", ")
            ))
        };
        let ran = self
            .exec_captured(record.id(), argv.clone(), PS_TIMEOUT, PS_OUTPUT_LIMIT)
            .map_err(|e| failed(format!("could not run: {e}")))?;
        let text = String::from_utf8_lossy(&ran.output).into_owned();
        if ran.timed_out {
            return Err(failed(format!(
                "did not end within {} s",
                PS_TIMEOUT.as_secs()
            )));
        }
        if ran.exit_code != 0 {
            return Err(failed(format!(
                "exited with {}: {}",
                ran.exit_code,
                text.trim()
            )));
        }
        Ok(top::split_ps_output(&text, &argv.join(" ")))
    }
}

/// podman's default descriptors.
fn default_descriptors() -> Vec<String> {
    top::DEFAULT_DESCRIPTORS
        .iter()
        .map(|d| d.to_string())
        .collect()
}

/// How long `top`'s `ps` may take, and how much of its output is kept.
const PS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const PS_OUTPUT_LIMIT: usize = 4 << 20;
