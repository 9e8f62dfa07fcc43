//! The scenarios. Each alternates its contenders run by run.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::env::{run_quiet, Contender, Env, IMAGE};
use crate::stats::summarize;
use crate::{Options, Scenario};

/// Run `measure` for each contender in turn, `runs` times (A B C A B C ...).
fn alternate(
    contenders: &[Contender],
    runs: usize,
    mut measure: impl FnMut(Contender) -> Result<f64>,
) -> Result<BTreeMap<Contender, Vec<f64>>> {
    let mut samples: BTreeMap<Contender, Vec<f64>> = BTreeMap::new();
    for _ in 0..runs {
        for contender in contenders {
            samples
                .entry(*contender)
                .or_default()
                .push(measure(*contender)?);
        }
    }
    Ok(samples)
}

pub(crate) fn finish(mut scenario: Scenario, samples: BTreeMap<Contender, Vec<f64>>) -> Scenario {
    for (contender, values) in samples {
        scenario.results.insert(contender, summarize(&values));
    }
    scenario
}

fn run_args<'a>(contender: Contender, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run"];
    if contender == Contender::Podman {
        args.extend(Env::podman_run_flags());
    }
    args.extend_from_slice(rest);
    args
}

/// 1. `run --rm IMAGE true`, end to end.
pub fn run_rm(env: &Env, options: &Options) -> Result<Scenario> {
    eprintln!("run --rm true ...");
    let bundle = env.bundle(&["true"])?;
    let seccomp = env.rpod_seccomp()?;
    let confined = env.bundle_with_seccomp(&["true"], Some(&seccomp))?;
    let mut with_profile = Vec::new();
    let samples = alternate(&env.contenders(true), options.runs, |c| match c {
        Contender::Bare => {
            let id = env.unique("bare");
            let ms = env.time_ms(&mut env.bare(&[
                "run",
                "--bundle",
                &bundle.display().to_string(),
                &id,
            ]))?;
            let id = env.unique("bare-seccomp");
            with_profile.push(env.time_ms(&mut env.bare(&[
                "run",
                "--bundle",
                &confined.display().to_string(),
                &id,
            ]))?);
            Ok(ms)
        }
        engine => env.time_ms(&mut env.engine(engine, &run_args(engine, &["--rm", IMAGE, "true"]))),
    })?;
    let mut scenario = finish(Scenario::new("run --rm IMAGE true", "ms"), samples);
    note_same_profile(&mut scenario, &with_profile);
    Ok(scenario)
}

/// The bare runtime timed again with rpod's seccomp profile (the default spec has none),
/// right after its run without: what of rpod's time is the runtime's work for the filter.
fn note_same_profile(scenario: &mut Scenario, with_profile: &[f64]) {
    if with_profile.is_empty() {
        return;
    }
    let confined = summarize(with_profile);
    let versus = scenario
        .results
        .get(&Contender::Rpod)
        .map(|rpod| format!("; rpod/that = {:.2}x", rpod.median / confined.median))
        .unwrap_or_default();
    scenario.notes.push(format!(
        "bare runtime with rpod's seccomp profile in the same run: {:.1} ±{:.1} ms{versus}",
        confined.median,
        confined.iqr / 2.0
    ));
}

/// 1b. `run --rm IMAGE true` on the default bridge network (rpod and podman), beside rpod
/// with `--network none` in the same alternation, so the cost of networking shows.
pub fn run_rm_bridge(env: &Env, options: &Options) -> Result<Scenario> {
    eprintln!("run --rm true on the bridge ...");
    #[derive(Clone, Copy)]
    enum Run {
        Engine(Contender),
        RpodNone,
    }
    let mut runs: Vec<Run> = env.contenders(false).into_iter().map(Run::Engine).collect();
    runs.push(Run::RpodNone);
    let mut samples: BTreeMap<Contender, Vec<f64>> = BTreeMap::new();
    let mut without_network = Vec::new();
    for _ in 0..options.runs {
        for run in &runs {
            match *run {
                Run::Engine(Contender::Podman) => {
                    let args = [
                        "run",
                        "--rm",
                        "--network",
                        "bridge",
                        "--ulimit",
                        "nofile=1024:1024",
                        "--ulimit",
                        "nproc=1024:1024",
                        IMAGE,
                        "true",
                    ];
                    let ms = env.time_ms(&mut env.podman(&args))?;
                    samples.entry(Contender::Podman).or_default().push(ms);
                }
                Run::Engine(contender) => {
                    let args = ["run", "--rm", "--network", "bridge", IMAGE, "true"];
                    let ms = env.time_ms(&mut env.engine(contender, &args))?;
                    samples.entry(contender).or_default().push(ms);
                }
                Run::RpodNone => {
                    let args = ["run", "--rm", "--network", "none", IMAGE, "true"];
                    without_network.push(env.time_ms(&mut env.rpod(&args))?);
                }
            }
        }
    }
    let mut scenario = finish(
        Scenario::new("run --rm IMAGE true, bridge network", "ms"),
        samples,
    );
    let none = summarize(&without_network);
    if let Some(bridge) = scenario.results.get(&Contender::Rpod) {
        scenario.notes.push(format!(
            "rpod --network none in the same run: {:.1} ±{:.1} ms; bridge/none = {:.2}x",
            none.median,
            none.iqr / 2.0,
            bridge.median / none.median
        ));
    }
    Ok(scenario)
}

/// 2. One container's create, start, stop -t 0 and rm.
pub fn lifecycle(env: &Env, options: &Options) -> Result<Scenario> {
    eprintln!("create, start, stop -t 0, rm ...");
    let bundle = env.bundle(&["sleep", "1000"])?;
    let bundle = bundle.display().to_string();
    let samples = alternate(&env.contenders(true), options.runs, |c| {
        let start = Instant::now();
        match c {
            Contender::Bare => {
                let id = env.unique("bare");
                run_quiet(
                    env.bare(&["create", "--bundle", &bundle, &id])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null()),
                )?;
                run_quiet(&mut env.bare(&["start", &id]))?;
                run_quiet(&mut env.bare(&["kill", &id, "KILL"]))?;
                // delete --force waits for the process to be gone.
                run_quiet(&mut env.bare(&["delete", "--force", &id]))?;
            }
            engine => {
                let mut create = vec!["create"];
                if engine == Contender::Podman {
                    create.extend(Env::podman_run_flags());
                }
                create.extend([IMAGE, "sleep", "1000"]);
                let id = run_quiet(&mut env.engine(engine, &create))?;
                run_quiet(&mut env.engine(engine, &["start", &id]))?;
                run_quiet(&mut env.engine(engine, &["stop", "-t", "0", &id]))?;
                run_quiet(&mut env.engine(engine, &["rm", &id]))?;
            }
        }
        Ok(start.elapsed().as_secs_f64() * 1000.0)
    })?;
    Ok(finish(
        Scenario::new("create + start + stop -t 0 + rm", "ms"),
        samples,
    ))
}

/// 3. `exec CID true` in a running container.
pub fn exec(env: &Env, options: &Options) -> Result<Scenario> {
    eprintln!("exec true ...");
    let start_bare = |seccomp: Option<&serde_json::Value>| -> Result<String> {
        let bundle = env.bundle_with_seccomp(&["sleep", "1000"], seccomp)?;
        let id = env.unique("bare");
        run_quiet(
            env.bare(&["run", "-d", "--bundle", &bundle.display().to_string(), &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?;
        Ok(id)
    };
    let confined = start_bare(Some(&env.rpod_seccomp()?))?;
    let mut with_profile = Vec::new();
    let mut targets: BTreeMap<Contender, String> = BTreeMap::new();
    for c in env.contenders(true) {
        let id = match c {
            Contender::Bare => start_bare(None)?,
            engine => run_quiet(
                &mut env.engine(engine, &run_args(engine, &["-d", IMAGE, "sleep", "1000"])),
            )?,
        };
        targets.insert(c, id);
    }
    let samples = alternate(&env.contenders(true), options.runs, |c| {
        let id = &targets[&c];
        match c {
            Contender::Bare => {
                let ms = env.time_ms(&mut env.bare(&["exec", id, "true"]))?;
                with_profile.push(env.time_ms(&mut env.bare(&["exec", &confined, "true"]))?);
                Ok(ms)
            }
            engine => env.time_ms(&mut env.engine(engine, &["exec", id, "true"])),
        }
    });
    let _ = run_quiet(&mut env.bare(&["delete", "--force", &confined]));
    for (c, id) in &targets {
        let _ = match c {
            Contender::Bare => run_quiet(&mut env.bare(&["delete", "--force", id])),
            engine => run_quiet(&mut env.engine(*engine, &["rm", "-f", "-t", "0", id])),
        };
    }
    let mut scenario = finish(Scenario::new("exec CID true", "ms"), samples?);
    note_same_profile(&mut scenario, &with_profile);
    Ok(scenario)
}

/// Read a child's stdout to the end, counting bytes.
pub(crate) fn drain(command: &mut Command) -> Result<(f64, u64)> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let start = Instant::now();
    let mut child = command.spawn()?;
    let mut stdout = child.stdout.take().context("no stdout")?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = stdout.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let status = child.wait()?;
    let elapsed = start.elapsed().as_secs_f64() * 1000.0;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok((elapsed, total))
}

/// 4. A large stdout through `run` into a pipe, with the default log driver and without.
pub fn output(env: &Env, options: &Options) -> Result<Vec<Scenario>> {
    // 1 MiB writes: the container's own writing costs little, the path to the reader shows.
    let script = format!(
        "dd if=/dev/zero bs=1048576 count={} 2>/dev/null",
        options.output_bytes.div_ceil(1 << 20)
    );
    let bundle = env.bundle(&["sh", "-c", &script])?.display().to_string();
    let mut scenarios = Vec::new();
    for (label, extra) in [
        ("k8s-file", vec![]),
        ("--log-driver none", vec!["--log-driver", "none"]),
    ] {
        eprintln!("{} bytes of stdout, {label} ...", options.output_bytes);
        let mut wrong = Vec::new();
        let samples = alternate(&env.contenders(true), options.slow_runs, |c| {
            let (ms, bytes) = match c {
                Contender::Bare => {
                    let id = env.unique("bare");
                    drain(&mut env.bare(&["run", "--bundle", &bundle, &id]))?
                }
                engine => {
                    let mut rest = vec!["--rm"];
                    rest.extend(extra.iter().copied());
                    rest.extend([IMAGE, "sh", "-c", script.as_str()]);
                    drain(&mut env.engine(engine, &run_args(engine, &rest)))?
                }
            };
            if bytes != options.output_bytes {
                wrong.push(format!(
                    "{c:?} delivered {bytes} of {} bytes",
                    options.output_bytes
                ));
            }
            Ok(ms)
        })?;
        let mut scenario = finish(
            Scenario::new(
                &format!("{} MiB stdout, {label}", options.output_bytes >> 20),
                "ms",
            ),
            samples,
        );
        scenario.notes.extend(wrong);
        scenarios.push(scenario);
    }
    Ok(scenarios)
}

/// 5. Many `run -d` at once, then `stop -a -t 0`: wall time and failures.
pub fn parallel(env: &Env, options: &Options) -> Result<Vec<Scenario>> {
    eprintln!("{} parallel run -d ...", options.parallel);
    let mut failures: BTreeMap<Contender, usize> = BTreeMap::new();
    let mut stop_samples: BTreeMap<Contender, Vec<f64>> = BTreeMap::new();
    let samples = alternate(&env.contenders(false), options.slow_runs, |c| {
        let start = Instant::now();
        let children: Vec<_> = (0..options.parallel)
            .map(|_| {
                env.engine(c, &run_args(c, &["-d", IMAGE, "sleep", "1000"]))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
            })
            .collect::<std::io::Result<_>>()?;
        let mut failed = 0;
        for mut child in children {
            if !child.wait()?.success() {
                failed += 1;
            }
        }
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        *failures.entry(c).or_default() += failed;
        stop_samples
            .entry(c)
            .or_default()
            .push(env.time_ms(&mut env.engine(c, &["stop", "-a", "-t", "0"]))?);
        run_quiet(&mut env.engine(c, &["rm", "-a", "-f"]))?;
        Ok(elapsed)
    })?;
    let mut started = finish(
        Scenario::new(
            &format!("{} parallel run -d (wall)", options.parallel),
            "ms",
        ),
        samples,
    );
    started.failures = failures;
    let stopped = finish(Scenario::new("then stop -a -t 0", "ms"), stop_samples);
    Ok(vec![started, stopped])
}

/// 6. `ps -a` with many created containers.
pub fn ps(env: &Env, options: &Options) -> Result<Scenario> {
    eprintln!(
        "creating {} containers for ps -a ...",
        options.ps_containers
    );
    let contenders = env.contenders(false);
    for c in &contenders {
        // Four creators at a time: setup, not measured.
        let per_thread = options.ps_containers.div_ceil(4);
        std::thread::scope(|scope| -> Result<()> {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    scope.spawn(move || -> Result<()> {
                        let count =
                            per_thread.min(options.ps_containers.saturating_sub(t * per_thread));
                        for _ in 0..count {
                            let mut args = vec!["create"];
                            if *c == Contender::Podman {
                                args.extend(Env::podman_run_flags());
                            }
                            args.extend([IMAGE, "true"]);
                            run_quiet(&mut env.engine(*c, &args))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for handle in handles {
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("creator thread panicked"))??;
            }
            Ok(())
        })?;
    }
    eprintln!("ps -a ...");
    let samples = alternate(&contenders, options.runs, |c| {
        env.time_ms(&mut env.engine(c, &["ps", "-a"]))
    });
    for c in &contenders {
        let _ = run_quiet(&mut env.engine(*c, &["rm", "-a", "-f"]));
    }
    Ok(finish(
        Scenario::new(
            &format!("ps -a with {} containers", options.ps_containers),
            "ms",
        ),
        samples?,
    ))
}

/// A `Name:   N kB` field of a /proc file, in KiB.
fn kib_field(path: &str, field: &str) -> Result<f64> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .with_context(|| format!("no {field} in {path}"))
}

/// Scenario 7, memory: the monitors of `options.memory_containers` running containers,
/// their mean RSS and mean PSS (PSS splits the pages they share among them, as the kernel
/// does), and the CLI's peak RSS for `run -d`.
pub fn memory(env: &Env, options: &Options) -> Result<Vec<Scenario>> {
    eprintln!("memory ...");
    let count = options.memory_containers.max(1);
    let mut monitor_rss =
        Scenario::new(&format!("monitor RSS per container, {count} running"), "MB");
    let mut monitor_pss =
        Scenario::new(&format!("monitor PSS per container, {count} running"), "MB");
    let mut cli = Scenario::new("CLI peak RSS for run -d", "MB");
    let me = std::env::current_exe()?;
    for c in env.contenders(true) {
        let mut args: Vec<String> = vec!["--measure-rss".into()];
        let bare_id = env.unique("bare");
        let command = match c {
            Contender::Bare => {
                let bundle = env.bundle(&["sleep", "1000"])?;
                env.bare(&[
                    "run",
                    "-d",
                    "--bundle",
                    &bundle.display().to_string(),
                    &bare_id,
                ])
            }
            engine => env.engine(engine, &run_args(engine, &["-d", IMAGE, "sleep", "1000"])),
        };
        args.push(command.get_program().to_string_lossy().into_owned());
        args.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
        let peak_kib: f64 = run_quiet(Command::new(&me).args(&args))?.parse()?;
        cli.results.insert(c, summarize(&[peak_kib / 1024.0]));
        if c == Contender::Bare {
            let _ = run_quiet(&mut env.bare(&["delete", "--force", &bare_id]));
            continue;
        }
        // That one, and more up to `count`.
        let mut ids = vec![run_quiet(
            &mut env.engine(c, &["ps", "-q", "--no-trunc", "-l"]),
        )?];
        let measured = (|| -> Result<(f64, f64)> {
            while ids.len() < count {
                let run = run_args(c, &["-d", IMAGE, "sleep", "1000"]);
                ids.push(run_quiet(&mut env.engine(c, &run))?);
            }
            // Measured settled: rpod-monitor gives back its start-up code a second after
            // its container started (docs/monitor.md); conmon does not change.
            std::thread::sleep(Duration::from_millis(1500));
            let (mut rss, mut pss) = (0.0, 0.0);
            for id in &ids {
                let pid = run_quiet(
                    &mut env.engine(c, &["inspect", "--format", "{{.State.ConmonPid}}", id]),
                )?;
                rss += kib_field(&format!("/proc/{pid}/status"), "VmRSS:")?;
                pss += kib_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:")?;
            }
            Ok((rss / ids.len() as f64, pss / ids.len() as f64))
        })();
        for id in &ids {
            let _ = run_quiet(&mut env.engine(c, &["rm", "-f", "-t", "0", id]));
        }
        let (rss, pss) = measured?;
        monitor_rss.results.insert(c, summarize(&[rss / 1024.0]));
        monitor_pss.results.insert(c, summarize(&[pss / 1024.0]));
    }
    monitor_rss.notes.push("bare: no monitor process".into());
    Ok(vec![monitor_rss, monitor_pss, cli])
}

/// A process holding 256 MiB of touched anonymous memory (a shell variable), then idle.
const BIG_MEMORY: &str = "x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo ready; sleep 100000";

/// Wait until a container's memory use (its cgroup's, v1 or v2) reaches 256 MiB.
fn wait_for_memory(cgroup: &str) -> Result<()> {
    let files = [
        format!("/sys/fs/cgroup/memory/{cgroup}/memory.usage_in_bytes"),
        format!("/sys/fs/cgroup/{cgroup}/memory.current"),
    ];
    for _ in 0..600 {
        let used = files
            .iter()
            .find_map(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if used >= 256 << 20 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{cgroup} never reached 256 MiB")
}

/// 8. Checkpoint and restore of a container with 256 MiB of touched memory.
///
/// rpod beside the bare runtime (its checkpoint and restore with the same CRIU), and podman
/// when its own CRIU works.
pub fn checkpoint(env: &Env, options: &Options) -> Result<Vec<Scenario>> {
    eprintln!("checkpoint and restore, 256 MiB ...");
    let Some(criu) =
        rpod_oci::conmon::find_criu(None).filter(|c| rpod_oci::conmon::criu_version(c).is_some())
    else {
        bail!("no working CRIU: run scripts/install-criu.sh");
    };
    let criu = criu.display().to_string();
    let mut dumps: BTreeMap<Contender, Vec<f64>> = BTreeMap::new();
    let mut restores: BTreeMap<Contender, Vec<f64>> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut contenders = env.contenders(true);
    for _ in 0..options.slow_runs {
        for contender in contenders.clone() {
            let result = match contender {
                Contender::Bare => checkpoint_bare(env, &criu),
                engine => checkpoint_engine(env, engine),
            };
            match result {
                Ok((dump, restore)) => {
                    dumps.entry(contender).or_default().push(dump);
                    restores.entry(contender).or_default().push(restore);
                }
                Err(e) if contender == Contender::Podman => {
                    notes.push(format!("podman left out: its checkpoint failed: {e}"));
                    contenders.retain(|c| *c != Contender::Podman);
                }
                Err(e) => return Err(e),
            }
        }
    }
    let mut dump = finish(Scenario::new("checkpoint, 256 MiB touched", "ms"), dumps);
    dump.notes = notes;
    let restore = finish(Scenario::new("restore, 256 MiB touched", "ms"), restores);
    Ok(vec![dump, restore])
}

fn checkpoint_engine(env: &Env, contender: Contender) -> Result<(f64, f64)> {
    let name = env.unique("ck");
    let run = ["-d", "--name", &name, IMAGE, "sh", "-c", BIG_MEMORY];
    let id = run_quiet(&mut env.engine(contender, &run_args(contender, &run)))?;
    let id = id.trim().to_string();
    let cgroup = match contender {
        Contender::Rpod | Contender::RpodConmon => format!("rpod/{id}"),
        _ => format!("libpod_parent/libpod-{id}"),
    };
    let result = (|| {
        wait_for_memory(&cgroup)?;
        let dump = env.time_ms(&mut env.engine(contender, &["container", "checkpoint", &id]))?;
        let restore = env.time_ms(&mut env.engine(contender, &["container", "restore", &id]))?;
        Ok((dump, restore))
    })();
    let _ = run_quiet(&mut env.engine(contender, &["rm", "-f", "-t", "0", &id]));
    result
}

fn checkpoint_bare(env: &Env, criu: &str) -> Result<(f64, f64)> {
    let bundle = env.bundle(&["sh", "-c", BIG_MEMORY])?;
    let bundle_text = bundle.display().to_string();
    let id = env.unique("bare-ck");
    let images = bundle.join("images").display().to_string();
    run_quiet(
        env.bare(&["run", "-d", "--bundle", &bundle_text, &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let result = (|| {
        let pid = run_quiet(&mut env.bare(&["state", &id]))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["pid"].as_i64())
            .context("the bare container's pid")?;
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?
            .lines()
            .find_map(|l| {
                let (_, rest) = l.split_once(':')?;
                let (controllers, path) = rest.split_once(':')?;
                (controllers == "memory" || controllers.is_empty())
                    .then(|| path.trim_start_matches('/').to_string())
            })
            .context("the bare container's cgroup")?;
        wait_for_memory(&cgroup)?;
        let dump = env.time_ms(&mut env.bare(&[
            "--criu",
            criu,
            "checkpoint",
            "--image-path",
            &images,
            &id,
        ]))?;
        let restore = env.time_ms(&mut env.bare(&[
            "--criu",
            criu,
            "restore",
            "-d",
            "--image-path",
            &images,
            "--bundle",
            &bundle_text,
            &id,
        ]))?;
        Ok((dump, restore))
    })();
    let _ = run_quiet(&mut env.bare(&["delete", "--force", &id]));
    result
}
