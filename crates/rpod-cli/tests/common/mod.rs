//! Helpers for end-to-end tests: the `rpod` binary over temporary roots, and a busybox image.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// A busybox root file system tarball, built once per test process.
pub fn busybox_tarball() -> &'static Path {
    static TARBALL: OnceLock<PathBuf> = OnceLock::new();
    TARBALL.get_or_init(|| {
        assert!(nix::unistd::geteuid().is_root(), "these tests need root");
        let out = std::env::temp_dir().join(format!("rpod-busybox-{}.tar", std::process::id()));
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-rootfs.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg(&out)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "building the busybox tarball failed (apt-get install busybox-static)"
        );
        out
    })
}

/// One isolated rpod store (its own --root and --runroot) and a runtime.
pub struct Rpod {
    pub dir: tempfile::TempDir,
    pub runtime: String,
}

impl Rpod {
    pub fn new(runtime: &str) -> Rpod {
        Rpod {
            dir: tempfile::Builder::new()
                .prefix("rpod-e2e-")
                .tempdir()
                .unwrap(),
            runtime: runtime.to_string(),
        }
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

    /// Start a detached container; returns its id.
    pub fn detached(&self, args: &[&str]) -> String {
        let mut full = vec!["run", "-d"];
        full.extend_from_slice(args);
        self.ok(&full).trim().to_string()
    }
}

impl Drop for Rpod {
    fn drop(&mut self) {
        // Stop everything and unmount root file systems before the directory goes.
        let _ = self.command(&["rm", "-a", "-f", "-t", "0"]).output();
    }
}

pub fn pid_alive(pid: i32) -> bool {
    rpod_oci::process::pid_alive(pid)
}
