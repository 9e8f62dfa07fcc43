//! The contenders and their setup: an rpod store, a podman store (when podman is installed)
//! and bare runtime bundles, all under one temporary directory, with the same busybox image.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::Options;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Contender {
    /// rpod with its own monitor (the default).
    Rpod,
    /// rpod with conmon as the monitor (`--conmon`), to show what the monitor changes.
    #[serde(rename = "rpod-conmon")]
    RpodConmon,
    Podman,
    Bare,
}

pub const IMAGE: &str = "bench";

/// A tmpfs mounted for the run roots, unmounted when dropped.
struct RunTmpfs(PathBuf);

impl Drop for RunTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

pub struct Env {
    /// Declared before `work`: unmounted before the work directory is removed.
    _run_tmpfs: Option<RunTmpfs>,
    pub work: tempfile::TempDir,
    pub runtime: String,
    pub runtime_path: PathBuf,
    pub runtime_version: String,
    pub rpod: PathBuf,
    pub rpod_version: String,
    pub podman: Option<PathBuf>,
    pub podman_version: Option<String>,
    /// conmon, for the rpod-with-conmon contender.
    pub conmon: Option<PathBuf>,
    pub rootfs: PathBuf,
    /// Where the run roots lie (on a tmpfs with `--run-on-tmpfs`).
    run: PathBuf,
    counter: AtomicUsize,
    /// `--pause`: idle time before each timed command.
    pause: Duration,
    /// `rpod_seccomp`'s answer, asked once.
    seccomp: std::sync::OnceLock<serde_json::Value>,
}

/// The bench's store goes with its temporary directory; what rpod made outside of it goes
/// first (a reset): containers, and the default network's bridge and firewall chains,
/// which a network keeps while it exists (docs/networks.md) and which would otherwise stay
/// until the next reboot, one more bridge on the same subnet per run of the bench.
impl Drop for Env {
    fn drop(&mut self) {
        let _ = run_quiet(&mut self.rpod(&["system", "reset", "--force"]));
        // podman's storage keeps a mount of its own under the work directory, which would
        // stop the directory's removal (and leave rpod's store in it too).
        if self.podman.is_some() {
            let _ = run_quiet(&mut self.podman(&["system", "reset", "--force"]));
        }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .ok()?
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn first_line(command: &mut Command) -> String {
    command
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

/// Run a command to completion, quietly; fail with its stderr.
pub fn run_quiet(command: &mut Command) -> Result<String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Copy rpod, and `monitor` (else the rpod-monitor beside rpod, when there is one), into
/// `dir`, as an installation does; the copy of rpod. A binary as the linker wrote it starts
/// slower here than a copy of it (about 0.1 ms per process, 1.2 ms over a `run --rm`;
/// presumably how its page cache was filled), and podman and the runtimes are measured as
/// installed.
fn install_copy(rpod: &Path, monitor: Option<&Path>, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let monitor = match monitor {
        Some(path) if !path.is_file() => bail!("{} not found", path.display()),
        Some(path) => path.to_path_buf(),
        None => rpod
            .parent()
            .context("locating rpod's directory")?
            .join("rpod-monitor"),
    };
    for (from, name) in [(rpod.to_path_buf(), "rpod"), (monitor, "rpod-monitor")] {
        if from.is_file() {
            std::fs::copy(&from, dir.join(name))
                .with_context(|| format!("copying {} into {}", from.display(), dir.display()))?;
        }
    }
    Ok(dir.join("rpod"))
}

impl Env {
    /// Milliseconds `command` takes; it must succeed. The host idles for the `--pause`
    /// first, so that the command starts as one typed alone would.
    pub fn time_ms(&self, command: &mut Command) -> Result<f64> {
        std::thread::sleep(self.pause);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let out = command.output().with_context(|| format!("{command:?}"))?;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        if !out.status.success() {
            bail!(
                "{command:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(elapsed)
    }

    pub fn prepare(options: &Options) -> Result<Env> {
        if !nix::unistd::geteuid().is_root() {
            bail!("the benchmarks run containers: run them as root");
        }
        let runtime_path = which(&options.runtime)
            .with_context(|| format!("runtime {} not found", options.runtime))?;
        let rpod = match &options.rpod {
            Some(p) => p.clone(),
            None => std::env::current_exe()?
                .parent()
                .map(|d| d.join("rpod"))
                .context("locating rpod")?,
        };
        if !rpod.is_file() {
            bail!(
                "{} not found: build it with cargo build --release",
                rpod.display()
            );
        }
        let podman = if options.no_podman {
            None
        } else {
            which("podman")
        };
        let work = tempfile::Builder::new()
            .prefix("rpod-bench-")
            .tempdir_in("/var/tmp")?;
        let rpod = install_copy(&rpod, options.monitor.as_deref(), &work.path().join("bin"))?;
        let run = work.path().join("run");
        std::fs::create_dir_all(&run)?;
        let run_tmpfs = if options.run_on_tmpfs {
            nix::mount::mount(
                Some("tmpfs"),
                &run,
                Some("tmpfs"),
                nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
                Some("mode=0711"),
            )
            .with_context(|| format!("mounting a tmpfs at {}", run.display()))?;
            Some(RunTmpfs(run.clone()))
        } else {
            None
        };
        std::fs::write(
            work.path().join("rpod.conf"),
            // No network unless a scenario asks (podman gets --network none too); the
            // default network's subnet apart from podman's 10.88.0.0/16.
            "[containers]\nnetns = \"none\"\n[network]\ndefault_subnet = \"10.213.0.0/24\"\n",
        )?;
        let tarball = work.path().join("busybox.tar");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-rootfs.sh");
        run_quiet(Command::new("bash").arg(&script).arg(&tarball))?;
        let rootfs = work.path().join("rootfs");
        std::fs::create_dir_all(&rootfs)?;
        run_quiet(
            Command::new("tar")
                .arg("-xf")
                .arg(&tarball)
                .arg("-C")
                .arg(&rootfs),
        )?;
        let env = Env {
            runtime: options.runtime.clone(),
            runtime_version: first_line(Command::new(&runtime_path).arg("--version")),
            runtime_path,
            rpod_version: first_line(
                Command::new(&rpod)
                    .arg("version")
                    .arg("--format")
                    .arg("{{.Client.Version}}"),
            ),
            rpod,
            podman_version: podman
                .as_ref()
                .map(|p| first_line(Command::new(p).arg("--version"))),
            podman,
            conmon: if options.no_conmon {
                None
            } else {
                which("conmon")
            },
            rootfs,
            work,
            run,
            _run_tmpfs: run_tmpfs,
            counter: AtomicUsize::new(0),
            pause: Duration::from_millis(options.pause),
            seccomp: std::sync::OnceLock::new(),
        };
        run_quiet(&mut env.rpod(&["import", &tarball.display().to_string(), IMAGE]))?;
        if env.podman.is_some() {
            run_quiet(&mut env.podman(&["import", &tarball.display().to_string(), IMAGE]))?;
        }
        Ok(env)
    }

    pub fn contenders(&self, with_bare: bool) -> Vec<Contender> {
        let mut all = vec![Contender::Rpod];
        if self.conmon.is_some() {
            all.push(Contender::RpodConmon);
        }
        if self.podman.is_some() {
            all.push(Contender::Podman);
        }
        if with_bare {
            all.push(Contender::Bare);
        }
        all
    }

    pub fn unique(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.counter.fetch_add(1, Ordering::SeqCst))
    }

    pub fn rpod(&self, args: &[&str]) -> Command {
        self.rpod_with_monitor(None, args)
    }

    /// rpod with `--conmon MONITOR` when given, else with its default monitor.
    fn rpod_with_monitor(&self, monitor: Option<&Path>, args: &[&str]) -> Command {
        let mut command = Command::new(&self.rpod);
        if let Some(monitor) = monitor {
            command.arg("--conmon").arg(monitor);
        }
        command
            .arg("--root")
            .arg(self.work.path().join("rpod/root"))
            .arg("--runroot")
            .arg(self.run.join("rpod"))
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args)
            // Compared with podman's `--network none` runs: no bridge for rpod either.
            .env("RPOD_CONFIG", self.work.path().join("rpod.conf"));
        command
    }

    pub fn podman(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.podman.as_deref().unwrap_or(Path::new("podman")));
        command
            .arg("--root")
            .arg(self.work.path().join("podman/root"))
            .arg("--runroot")
            .arg(self.run.join("podman"))
            .arg("--runtime")
            .arg(&self.runtime)
            .args([
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--storage-driver",
                "overlay",
            ])
            .args(args);
        command
    }

    /// Options podman needs here to run at all (host limits; see MACHINE-NOTES).
    pub fn podman_run_flags() -> [&'static str; 6] {
        [
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ]
    }

    /// `podman`/`rpod` command for a contender, `args` after the subcommand's own flags.
    pub fn engine(&self, contender: Contender, args: &[&str]) -> Command {
        match contender {
            Contender::Rpod => self.rpod(args),
            Contender::RpodConmon => self.rpod_with_monitor(self.conmon.as_deref(), args),
            Contender::Podman => self.podman(args),
            Contender::Bare => unreachable!("the bare runtime has no engine commands"),
        }
    }

    pub fn bare(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.runtime_path);
        command
            .arg("--root")
            .arg(self.run.join("bare-state"))
            .args(args);
        command
    }

    /// A bundle for the bare runtime running `args`, over the shared root file system.
    pub fn bundle(&self, args: &[&str]) -> Result<PathBuf> {
        self.bundle_with_seccomp(args, None)
    }

    /// The seccomp section of the spec rpod writes for a default container (its profile,
    /// decided for this machine), so that the bare runtime can be timed with it too.
    pub fn rpod_seccomp(&self) -> Result<serde_json::Value> {
        if let Some(seccomp) = self.seccomp.get() {
            return Ok(seccomp.clone());
        }
        let seccomp = self.probe_seccomp()?;
        Ok(self.seccomp.get_or_init(|| seccomp).clone())
    }

    fn probe_seccomp(&self) -> Result<serde_json::Value> {
        let id = run_quiet(&mut self.rpod(&["run", "-d", IMAGE, "sleep", "1000"]))?;
        let spec_path = self
            .work
            .path()
            .join("rpod/root/containers")
            .join(&id)
            .join("userdata/config.json");
        let spec: Result<serde_json::Value> = std::fs::read(&spec_path)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(serde_json::from_slice(&bytes)?));
        run_quiet(&mut self.rpod(&["rm", "-f", "-t", "0", &id]))?;
        let seccomp = spec?["linux"]["seccomp"].clone();
        anyhow::ensure!(!seccomp.is_null(), "rpod's spec has no seccomp filter");
        Ok(seccomp)
    }

    /// `bundle`, with `seccomp` as the spec's `linux.seccomp` when given.
    pub fn bundle_with_seccomp(
        &self,
        args: &[&str],
        seccomp: Option<&serde_json::Value>,
    ) -> Result<PathBuf> {
        let dir = self.work.path().join(self.unique("bundle"));
        std::fs::create_dir_all(&dir)?;
        run_quiet(
            Command::new(&self.runtime_path)
                .arg("spec")
                .current_dir(&dir),
        )?;
        let path = dir.join("config.json");
        let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        spec["process"]["terminal"] = false.into();
        spec["process"]["args"] = serde_json::json!(args);
        spec["root"]["path"] = self.rootfs.display().to_string().into();
        spec["root"]["readonly"] = true.into();
        if let Some(seccomp) = seccomp {
            spec["linux"]["seccomp"] = seccomp.clone();
        }
        std::fs::write(&path, serde_json::to_vec(&spec)?)?;
        Ok(dir)
    }
}

/// Hidden mode: `rpod-bench --measure-rss CMD...` runs CMD and prints the peak RSS (KiB) of
/// it and everything it waited for. A process of its own, so nothing else is counted.
pub fn measure_rss_mode() -> Result<Option<i32>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("--measure-rss") {
        return Ok(None);
    }
    // Nothing of ours may reach a detached container: it would hold our pipes open.
    let status = Command::new(&args[2])
        .args(&args[3..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    println!("{}", usage.max_rss());
    Ok(Some(if status.success() { 0 } else { 1 }))
}
