//! Helpers for end-to-end tests: the `rpod` binary over temporary roots, and a busybox image.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// A busybox root file system tarball, built once and kept in cargo's directory for test
/// files (under `target/`), named after what it is built from: every test process shares
/// it, and none leaves a copy behind in /tmp.
pub fn busybox_tarball() -> &'static Path {
    static TARBALL: OnceLock<PathBuf> = OnceLock::new();
    TARBALL.get_or_init(|| {
        fixture_tarball(
            "busybox",
            "make-busybox-rootfs.sh",
            &[rpod_test_support::busybox()],
            "apt-get install busybox-static",
        )
    })
}

/// The busybox root file system with the host's systemd as its `/sbin/init`
/// (`scripts/make-systemd-rootfs.sh`), built once as [`busybox_tarball`] is.
pub fn systemd_tarball() -> &'static Path {
    static TARBALL: OnceLock<PathBuf> = OnceLock::new();
    TARBALL.get_or_init(|| {
        let busybox_script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-rootfs.sh");
        fixture_tarball(
            "systemd",
            "make-systemd-rootfs.sh",
            &[
                &busybox_script,
                rpod_test_support::busybox(),
                Path::new("/lib/systemd/systemd"),
            ],
            "apt-get install busybox-static systemd",
        )
    })
}

/// `target/.../rpod-NAME-KEY.tar`, made by `scripts/SCRIPT` unless there: the key covers
/// the script and `inputs`.
fn fixture_tarball(name: &str, script: &str, inputs: &[&Path], hint: &str) -> PathBuf {
    assert!(nix::unistd::geteuid().is_root(), "these tests need root");
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(script);
    let mut keyed = vec![script.as_path()];
    keyed.extend_from_slice(inputs);
    let key = fixture_key(&keyed);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rpod-{name}-{key:016x}.tar"));
    if out.exists() {
        return out;
    }
    // Built under a name of this process's own and renamed: a test process that starts
    // meanwhile never reads half a tarball.
    let partial = out.with_extension(format!("tar.{}", std::process::id()));
    let status = Command::new("bash")
        .arg(&script)
        .arg(&partial)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    if !status.success() {
        let _ = std::fs::remove_file(&partial);
        panic!("building the {name} tarball failed ({hint})");
    }
    std::fs::rename(&partial, &out).unwrap();
    out
}

pub use rpod_test_support::{fixture_key, processes_mentioning};

/// One isolated rpod store (its own --root and --runroot) and a runtime.
pub struct Rpod {
    pub dir: tempfile::TempDir,
    pub runtime: String,
}

/// Most tests need no network: their containers get `none` by default (fast, and nothing
/// shared between tests running at once). Network tests give their own configuration.
pub const NO_NETWORK_CONFIG: &str = "[containers]\nnetns = \"none\"\n";

/// The free space a test store keeps (`[storage] keep_free`). rpod's default keeps 5% of
/// the file system, up to 2 GiB: on a machine with little disk left (a CI machine has had
/// 2.1 GB free) every import would be refused. The tests write far less than the disk holds;
/// those of the reserve itself set their own.
pub const TEST_KEEP_FREE: &str = "16m";

/// `config` with `keep_free = TEST_KEEP_FREE` in its `[storage]` table (made if missing),
/// unless it names a reserve of its own.
pub fn with_test_reserve(config: &str) -> String {
    if config.contains("keep_free") {
        return config.to_string();
    }
    let line = format!("keep_free = \"{TEST_KEEP_FREE}\"\n");
    let table = "[storage]\n";
    match config.find(table) {
        Some(at) => {
            let mut with_reserve = config.to_string();
            with_reserve.insert_str(at + table.len(), &line);
            with_reserve
        }
        None => format!("{config}\n{table}{line}"),
    }
}

impl Rpod {
    pub fn new(runtime: &str) -> Rpod {
        Rpod::with_config(runtime, NO_NETWORK_CONFIG)
    }

    /// A store whose rpod.conf (`RPOD_CONFIG`) holds `config` (with the tests' reserve of
    /// free space unless it sets its own: [`with_test_reserve`]).
    pub fn with_config(runtime: &str, config: &str) -> Rpod {
        let dir = tempfile::Builder::new()
            .prefix("rpod-e2e-")
            .tempdir()
            .unwrap();
        let rpod = Rpod {
            dir,
            runtime: runtime.to_string(),
        };
        rpod.set_config(config);
        rpod
    }

    /// Replaces the store's rpod.conf with `config`, as [`Rpod::with_config`] writes it.
    pub fn set_config(&self, config: &str) {
        std::fs::write(self.config_path(), with_test_reserve(config)).unwrap();
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("rpod.conf")
    }

    /// A store with the busybox image imported as `demo`.
    pub fn with_image(runtime: &str) -> Rpod {
        let rpod = Rpod::new(runtime);
        rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
        rpod
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn runroot(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rpod"));
        command
            .arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.runroot())
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args)
            .env("RPOD_CONFIG", self.config_path())
            // Registry credentials of the test's own, never the user's (nor those of the
            // files rpod looks in after it: ~/.config/containers, ~/.docker).
            .env("REGISTRY_AUTH_FILE", self.dir.path().join("auth.json"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            // podman's registries file: the test's own (none unless a test writes it),
            // never the host's aliases, mirrors or blocked registries.
            .env(
                "CONTAINERS_REGISTRIES_CONF",
                self.dir.path().join("registries.conf"),
            )
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rpod {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run and require failure with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "rpod {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// `inspect --format` of one container or image.
    pub fn inspect(&self, name: &str, template: &str) -> String {
        self.ok(&["inspect", "--format", template, name])
            .trim()
            .to_string()
    }

    /// A network `name` of the test's own: subnet 10.93.N.0/24 on bridge rpodtN (each test
    /// takes its own N, so tests running at once never share a bridge).
    pub fn lab_network(&self, name: &str, n: u8) {
        self.ok(&[
            "network",
            "create",
            "--subnet",
            &format!("10.93.{n}.0/24"),
            "--interface-name",
            &format!("rpodt{n}"),
            name,
        ]);
    }

    /// Start a detached container; returns its id.
    pub fn detached(&self, args: &[&str]) -> String {
        let mut full = vec!["run", "-d"];
        full.extend_from_slice(args);
        self.ok(&full).trim().to_string()
    }
}

impl Drop for Rpod {
    fn drop(&mut self) {
        // Stop everything and unmount root file systems before the directory goes; remove
        // the networks, whose bridges would outlive the store.
        let _ = self.command(&["rm", "-a", "-f", "-t", "0"]).output();
        // Volumes with a device (a tmpfs) stay mounted until their removal.
        let _ = self.command(&["volume", "rm", "--all", "--force"]).output();
        if self.root().join("networks").exists() {
            // The removals handed their containers' network teardowns to processes of
            // their own: a network goes once they are done with it.
            let _ = network_teardown_running(self);
            // `network rm` refuses the default network: a reset removes it too.
            let _ = self.command(&["system", "reset", "--force"]).output();
        }
        // A removed `--rm` container's monitor may still run the runtime's delete, which
        // would make the runtime's state directory again under a directory removed next.
        let dir = self.dir.path().display().to_string();
        for _ in 0..1000 {
            if !processes_mentioning(&dir) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Wait (at most 30 s) for the network teardowns that removals handed over to processes of
/// their own: each holds its namespace's lock (`<run root>/locks/netns-ID.lock`) while it
/// runs (rpod-engine's network_handover.rs).
pub fn wait_for_network_teardowns(rpod: &Rpod) {
    if let Some(still) = network_teardown_running(rpod) {
        panic!("a network teardown still runs: {}", still.display());
    }
}

/// Wait (at most 30 s) for the store's network teardowns; the lock of one that still runs
/// then.
fn network_teardown_running(rpod: &Rpod) -> Option<PathBuf> {
    use nix::fcntl::{Flock, FlockArg};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let entries = std::fs::read_dir(rpod.runroot().join("locks")).ok()?;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with("netns-") {
            continue;
        }
        let Ok(mut file) = std::fs::File::open(entry.path()) else {
            continue;
        };
        loop {
            match Flock::lock(file, FlockArg::LockSharedNonblock) {
                Ok(_unlocked_at_drop) => break,
                Err((back, _)) => file = back,
            }
            if std::time::Instant::now() >= deadline {
                return Some(entry.path());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    None
}

/// Run a command with `data` on its stdin (written from another thread, so that large inputs
/// never deadlock against the output) and collect its output.
pub fn pipe_through(command: &mut Command, data: &[u8]) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// A TCP port of 127.0.0.1 free just now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A key of this machine's `/etc/os-release`, unquoted (what `info` should name).
pub fn os_release(key: &str) -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap();
    release
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("/etc/os-release has no {key}"))
        .trim_matches('"')
        .to_string()
}

/// A command's standard error as text.
pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Poll `check` every 10 ms for up to 20 s.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if check() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("timed out waiting until {what}");
}

/// Whether the suite runs on conmon: `RPOD_CONMON` names a monitor that is not an
/// rpod-monitor (scripts/test.sh also names the musl build of rpod-monitor with it).
pub fn on_conmon() -> bool {
    std::env::var_os("RPOD_CONMON").is_some_and(|path| {
        Path::new(&path).file_name() != Some(std::ffi::OsStr::new("rpod-monitor"))
    })
}

pub fn pid_alive(pid: i32) -> bool {
    rpod_oci::process::pid_alive(pid)
}

/// `rpod` running on a pseudo-terminal, as a user at a terminal runs it.
pub struct PtyRun {
    pub master: std::fs::File,
    pub slave: std::os::fd::OwnedFd,
    pub child: std::process::Child,
    pub output: Vec<u8>,
}

impl PtyRun {
    pub fn spawn(rpod: &Rpod, args: &[&str], rows: u16, cols: u16) -> PtyRun {
        Self::spawn_command(rpod.command(args), rows, cols)
    }

    /// Any command on a new pseudo-terminal of `rows` x `cols`.
    pub fn spawn_command(mut command: Command, rows: u16, cols: u16) -> PtyRun {
        use std::os::fd::AsFd;
        let size = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None::<&nix::sys::termios::Termios>).unwrap();
        let stdio = || Stdio::from(pty.slave.as_fd().try_clone_to_owned().unwrap());
        let child = command
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio())
            .spawn()
            .unwrap();
        let master = std::fs::File::from(pty.master);
        nix::fcntl::fcntl(
            &master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        PtyRun {
            master,
            slave: pty.slave,
            child,
            output: Vec::new(),
        }
    }

    /// Read what is there now.
    pub fn pump(&mut self) {
        use std::io::Read;
        let mut buffer = [0u8; 65536];
        loop {
            match self.master.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => self.output.extend_from_slice(&buffer[..n]),
                Err(_) => return,
            }
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// Whether the output holds `needle` within `within`.
    pub fn shows_within(&mut self, needle: &str, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        loop {
            self.pump();
            if self.text().contains(needle) {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Wait until the output holds `needle`.
    pub fn expect(&mut self, needle: &str) {
        for _ in 0..1000 {
            self.pump();
            if self.text().contains(needle) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("never saw {needle:?} in {:?}", self.text());
    }

    /// Type bytes, one write each (as keys arrive from a person), well apart: keys that
    /// a loaded client reads together are input, not a detach.
    pub fn type_keys(&mut self, keys: &[u8]) {
        use std::io::Write;
        for key in keys {
            self.master.write_all(&[*key]).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    pub fn write(&mut self, data: &[u8]) {
        use std::io::Write;
        self.master.write_all(data).unwrap();
    }

    /// Wait for rpod to exit, reading its output meanwhile.
    pub fn wait(&mut self) -> i32 {
        for _ in 0..3000 {
            self.pump();
            if let Some(status) = self.child.try_wait().unwrap() {
                self.pump();
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        panic!("rpod did not exit; output: {:?}", self.text());
    }

    pub fn resize(&mut self, rows: u16, cols: u16) {
        let size = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&self.master, size).unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGWINCH,
        )
        .unwrap();
    }

    /// The terminal settings of the user's side.
    pub fn settings(&self) -> rustix::termios::Termios {
        rustix::termios::tcgetattr(&self.slave).unwrap()
    }
}

/// What containers of a network left on the host: namespace files of the store, interfaces
/// on the bridge (its anchor, the network's own, aside), firewall rules naming an address of
/// the subnet (`10.93.N.`; the network's own rules name the whole `10.93.N.0/24`).
pub fn network_leftovers(rpod: &Rpod, bridge: &str, subnet_prefix: &str) -> Vec<String> {
    wait_for_network_teardowns(rpod);
    let mut left: Vec<String> = std::fs::read_dir(rpod.runroot().join("netns"))
        .map(|d| {
            d.flatten()
                .map(|e| format!("namespace {}", e.path().display()))
                .collect()
        })
        .unwrap_or_default();
    let links = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .unwrap();
    left.extend(
        String::from_utf8_lossy(&links.stdout)
            .lines()
            .filter(|l| !l.contains(": rpk"))
            .map(|l| format!("interface {l}")),
    );
    let network_wide = format!("{subnet_prefix}0/24");
    for table in ["filter", "nat"] {
        let rules = Command::new("iptables-save")
            .args(["-t", table])
            .output()
            .unwrap();
        left.extend(
            String::from_utf8_lossy(&rules.stdout)
                .lines()
                .filter(|l| l.contains(subnet_prefix) && !l.contains(&network_wide))
                .map(|l| format!("{table} rule {l}")),
        );
    }
    left
}

/// A block device of this machine (`/dev/NAME`) and its numbers (`MAJ:MIN`), for limits
/// that need one.
pub fn some_block_device() -> Option<(String, String)> {
    std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .find_map(|e| {
            let numbers = std::fs::read_to_string(e.path().join("dev")).ok()?;
            let device = format!("/dev/{}", e.file_name().to_string_lossy());
            std::path::Path::new(&device)
                .exists()
                .then(|| (device, numbers.trim().to_string()))
        })
}

/// Remove a cgroup parent a test made (`--cgroup-parent /NAME[/...]`) from every
/// hierarchy, children first; the containers' own must be gone.
pub fn remove_cgroup_parent(parent: &str) {
    let parent = parent.trim_matches('/');
    let mut hierarchies: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    hierarchies.push(PathBuf::from("/sys/fs/cgroup"));
    for hierarchy in hierarchies {
        let mut path = parent.to_string();
        loop {
            let _ = std::fs::remove_dir(hierarchy.join(&path));
            match path.rsplit_once('/') {
                Some((up, _)) => path = up.to_string(),
                None => break,
            }
        }
    }
}

/// A small tmpfs, unmounted when the test ends.
pub struct SmallDisk {
    pub path: PathBuf,
}

impl SmallDisk {
    pub fn mount(path: PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        SmallDisk { path }
    }
}

/// A child process (a service, a server) killed and reaped when dropped, however the
/// test ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

pub fn available_bytes(path: &Path) -> u64 {
    let stat = nix::sys::statvfs::statvfs(path).unwrap();
    stat.blocks_available() as u64 * stat.fragment_size() as u64
}

/// A web server on a port of its own that answers `GET PATH` with the bytes `files` holds
/// for PATH (404 else), for builds' downloads; its port. It serves until the test ends.
#[allow(dead_code)]
pub fn serve_bytes(files: Vec<(&'static str, Vec<u8>)>) -> u16 {
    serve_bytes_with(files, "")
}

/// `serve_bytes` whose answers carry `headers` too (each line ending in CRLF).
#[allow(dead_code)]
pub fn serve_bytes_with(files: Vec<(&'static str, Vec<u8>)>, headers: &'static str) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split(' ').nth(1).unwrap_or("");
            let found = files.iter().find(|(p, _)| *p == path);
            let (status, body): (&str, &[u8]) = match found {
                Some((_, body)) => ("200 OK", body),
                None => ("404 Not Found", b""),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    port
}

/// A gzip'd tar of `files` (path, content), each a root-owned 0644 file.
#[allow(dead_code)]
pub fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive
            .append_data(&mut header, path, content.as_bytes())
            .unwrap();
    }
    archive.into_inner().unwrap().finish().unwrap()
}

/// What bash's completion offers for `words` (the last one being completed), with the
/// completion script at `script` sourced as a user's shell would, the rpod under test
/// first in `PATH` (the script runs `rpod` by name), and `env` set.
pub fn bash_completion(script: &Path, words: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {script}\n\
         COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1))\n\
         _clap_complete_rpod rpod \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         echo \"${{COMPREPLY[*]}}\"",
        script = script.display(),
        words = quoted.join(" "),
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_rpod"))
        .parent()
        .expect("rpod's directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .env("PATH", path)
        .envs(env.iter().copied())
        .output()
        .expect("running bash");
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// GnuPG with a home directory of the test's own (its agent stopped when dropped), with a
/// key without a passphrase for each user given (Ed25519 to sign, Curve25519 to encrypt:
/// made at once, where RSA keys take seconds).
pub struct Gpg {
    pub home: tempfile::TempDir,
}

impl Gpg {
    pub fn new(users: &[&str]) -> Gpg {
        let gpg = Gpg {
            home: tempfile::tempdir().unwrap(),
        };
        for user in users {
            gpg.ok(&[
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                user,
                "future-default",
                "default",
                "never",
            ]);
        }
        gpg
    }

    /// Run gpg in this home and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args(args)
            .output()
            .expect("gpg (gnupg) is missing: run scripts/install-deps.sh");
        assert!(out.status.success(), "gpg {args:?}: {}", stderr_of(&out));
        out.stdout
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

/// The command of a container `name` that ignores SIGTERM but notes when it came: the
/// kernel's uptime (the same clock in every container) in `/shared/NAME`, cleared as it
/// starts; `/shared/NAME.ready` once the trap is set. For tests of stops done at once.
pub fn sigterm_noting_script(name: &str) -> String {
    format!(
        "rm -f /shared/{name}; trap 'cut -d\" \" -f1 /proc/uptime > /shared/{name}' TERM; \
         touch /shared/{name}.ready; while :; do sleep 0.1; done"
    )
}

/// Wait until every container of `names` running `sigterm_noting_script` (with `shared`
/// at `/shared`) has set its trap; their ready marks are taken away for the next start.
pub fn wait_for_sigterm_traps(shared: &Path, names: &[&str]) {
    wait_until("the containers trap SIGTERM", || {
        names
            .iter()
            .all(|n| shared.join(format!("{n}.ready")).exists())
    });
    for name in names {
        std::fs::remove_file(shared.join(format!("{name}.ready"))).unwrap();
    }
}

/// How far apart (seconds) the containers of `names` got their SIGTERM, from what
/// `sigterm_noting_script` wrote in `shared`.
pub fn sigterm_spread(shared: &Path, names: &[&str]) -> f64 {
    let times: Vec<f64> = names
        .iter()
        .map(|n| {
            let text = std::fs::read_to_string(shared.join(n)).unwrap();
            text.trim().parse().unwrap()
        })
        .collect();
    times.iter().cloned().fold(f64::MIN, f64::max) - times.iter().cloned().fold(f64::MAX, f64::min)
}
