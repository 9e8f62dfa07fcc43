//! `rpod-bench`: rpod beside podman (when installed) and the bare OCI runtime, in one run.
//! Contenders alternate run by run so that machine noise hits all of them alike. Prints a
//! table of medians, spreads and ratios, and writes the results as JSON. Speed is reported,
//! never asserted: a person judges.

mod api;
mod env;
mod scenarios;
mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use serde::Serialize;

use env::{Contender, Env};
use stats::Summary;

#[derive(Debug, Parser)]
#[command(
    name = "rpod-bench",
    about = "Benchmark rpod beside podman and the bare OCI runtime"
)]
pub struct Options {
    /// OCI runtime used by every contender: runc or crun.
    #[arg(long, default_value = "runc")]
    pub runtime: String,
    /// Path of the rpod binary (default: next to this one).
    #[arg(long)]
    pub rpod: Option<PathBuf>,
    /// Path of the rpod-monitor installed beside rpod for the run (default: the one beside
    /// rpod; scripts/bench.sh gives the build an installation gets).
    #[arg(long)]
    pub monitor: Option<PathBuf>,
    /// Runs per contender for the quick scenarios.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Runs per contender for the slow scenarios (1 GiB output, 50 parallel runs).
    #[arg(long, default_value_t = 3)]
    pub slow_runs: usize,
    /// Containers created before timing `ps -a`.
    #[arg(long, default_value_t = 1000)]
    pub ps_containers: usize,
    /// Running containers whose monitors are measured in the memory scenario.
    #[arg(long, default_value_t = 100)]
    pub memory_containers: usize,
    /// Containers started at once in the parallel scenario.
    #[arg(long, default_value_t = 50)]
    pub parallel: usize,
    /// Bytes of stdout in the output scenario (whole MiB).
    #[arg(long, default_value_t = 1 << 30)]
    pub output_bytes: u64,
    /// Leave podman out even when it is installed.
    #[arg(long)]
    pub no_podman: bool,
    /// Leave out rpod with conmon as its monitor (shown beside rpod's own monitor).
    #[arg(long)]
    pub no_conmon: bool,
    /// Only these scenarios (run-rm, run-rm-bridge, checkpoint, lifecycle, exec, output, parallel, ps, memory,
    /// api-lifecycle, api-list, api-attach).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Keep the run roots (rpod's and podman's, the bare runtime's state) on a tmpfs, as
    /// /run is on a stock host; by default they lie in the work directory under /var/tmp,
    /// with the stores.
    #[arg(long)]
    pub run_on_tmpfs: bool,
    /// Milliseconds the host idles before each timed command, so that each starts as a
    /// command typed alone would: the kernel's lazily kept states (the cgroup-move lock's
    /// fast mode, caches) have lapsed. 0 (the default) runs them back to back.
    #[arg(long, default_value_t = 0)]
    pub pause: u64,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results.json")]
    pub json: PathBuf,
}

/// One scenario's results.
#[derive(Debug, Serialize)]
pub struct Scenario {
    pub name: String,
    /// Unit of the numbers: "ms" or "MB".
    pub unit: String,
    pub results: BTreeMap<Contender, Summary>,
    /// Failures counted per contender (e.g. parallel runs that failed).
    pub failures: BTreeMap<Contender, usize>,
    pub notes: Vec<String>,
}

impl Scenario {
    pub fn new(name: &str, unit: &str) -> Self {
        Scenario {
            name: name.into(),
            unit: unit.into(),
            results: BTreeMap::new(),
            failures: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    fn ratio(&self, a: Contender, b: Contender) -> Option<f64> {
        let a = self.results.get(&a)?.median;
        let b = self.results.get(&b)?.median;
        (b > 0.0).then(|| a / b)
    }
}

#[derive(Debug, Serialize)]
struct Report {
    runtime: String,
    runtime_version: String,
    podman_version: Option<String>,
    rpod_version: String,
    /// `--pause`: idle milliseconds before each timed command (0: back to back).
    pause_ms: u64,
    scenarios: Vec<Scenario>,
}

fn cell(summary: Option<&Summary>) -> String {
    match summary {
        Some(s) => format!("{:.1} ±{:.1}", s.median, s.iqr / 2.0),
        None => "-".into(),
    }
}

fn ratio_cell(ratio: Option<f64>) -> String {
    ratio
        .map(|r| format!("{r:.2}x"))
        .unwrap_or_else(|| "-".into())
}

fn print_table(scenarios: &[Scenario]) {
    println!(
        "\n{:<44} {:>16} {:>16} {:>16} {:>16} {:>12} {:>10} {:>12}",
        "scenario (median ±IQR/2)",
        "rpod",
        "rpod+conmon",
        "podman",
        "bare",
        "rpod/podman",
        "rpod/bare",
        "conmon/bare"
    );
    for s in scenarios {
        println!(
            "{:<44} {:>16} {:>16} {:>16} {:>16} {:>12} {:>10} {:>12}",
            format!("{} [{}]", s.name, s.unit),
            cell(s.results.get(&Contender::Rpod)),
            cell(s.results.get(&Contender::RpodConmon)),
            cell(s.results.get(&Contender::Podman)),
            cell(s.results.get(&Contender::Bare)),
            ratio_cell(s.ratio(Contender::Rpod, Contender::Podman)),
            ratio_cell(s.ratio(Contender::Rpod, Contender::Bare)),
            ratio_cell(s.ratio(Contender::RpodConmon, Contender::Bare)),
        );
        for (contender, failures) in &s.failures {
            println!("    {contender:?}: {failures} failures");
        }
        for note in &s.notes {
            println!("    {note}");
        }
    }
}

fn main() -> Result<()> {
    if let Some(code) = env::measure_rss_mode()? {
        std::process::exit(code);
    }
    let options = Options::parse();
    let env = Env::prepare(&options)?;
    eprintln!(
        "contenders: rpod ({}), {}, bare {}; run roots {}; {}",
        env.rpod.display(),
        env.podman
            .as_ref()
            .map(|p| format!("podman ({})", p.display()))
            .unwrap_or_else(|| "no podman".into()),
        env.runtime_path.display(),
        match options.run_on_tmpfs {
            true => "on a tmpfs",
            false => "beside the stores",
        },
        match options.pause {
            0 => "timed back to back".to_string(),
            ms => format!("{ms} ms idle before each timed command"),
        }
    );
    let wanted = |name: &str| options.only.is_empty() || options.only.iter().any(|o| o == name);
    let mut scenarios = Vec::new();
    if wanted("run-rm") {
        scenarios.push(scenarios::run_rm(&env, &options)?);
    }
    if wanted("checkpoint") {
        scenarios.extend(scenarios::checkpoint(&env, &options)?);
    }
    if wanted("run-rm-bridge") {
        scenarios.push(scenarios::run_rm_bridge(&env, &options)?);
    }
    if wanted("lifecycle") {
        scenarios.push(scenarios::lifecycle(&env, &options)?);
    }
    if wanted("exec") {
        scenarios.push(scenarios::exec(&env, &options)?);
    }
    if wanted("output") {
        scenarios.extend(scenarios::output(&env, &options)?);
    }
    if wanted("parallel") {
        scenarios.extend(scenarios::parallel(&env, &options)?);
    }
    if wanted("ps") {
        scenarios.push(scenarios::ps(&env, &options)?);
    }
    if wanted("memory") {
        scenarios.extend(scenarios::memory(&env, &options)?);
    }
    if wanted("api-lifecycle") {
        scenarios.push(api::lifecycle(&env, &options)?);
    }
    if wanted("api-list") {
        scenarios.push(api::list(&env, &options)?);
    }
    if wanted("api-attach") {
        scenarios.extend(api::attach(&env, &options)?);
    }
    print_table(&scenarios);
    let report = Report {
        runtime: env.runtime.clone(),
        runtime_version: env.runtime_version.clone(),
        podman_version: env.podman_version.clone(),
        rpod_version: env.rpod_version.clone(),
        pause_ms: options.pause,
        scenarios,
    };
    std::fs::write(&options.json, serde_json::to_vec_pretty(&report)?)?;
    eprintln!("results written to {}", options.json.display());
    Ok(())
}
