//! `completion` (shell scripts for rpod's command line), `unshare` (refused, as rootful
//! podman refuses it) and `machine` (not supported). None needs root or a store.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use common::bash_completion;

fn rpod(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rpod"))
        .args(args)
        .output()
        .expect("running rpod")
}

fn stdout_of(args: &[&str]) -> String {
    let out = rpod(args);
    assert!(
        out.status.success(),
        "rpod {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("a script in UTF-8")
}

/// What bash's completion offers for `words`, the script at `script` sourced. The store is
/// an empty directory: nothing here names an object of one.
fn bash_offers(script: &std::path::Path, words: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().as_os_str();
    bash_completion(
        script,
        words,
        &[("RPOD_ROOT", store), ("RPOD_RUNROOT", store)],
    )
}

/// What rpod answers a fish completion of `words` with (the shell's side of the protocol
/// done here): one candidate a line, a tab before its description.
fn fish_answer(words: &[&str], no_desc: bool) -> String {
    let store = tempfile::tempdir().expect("a temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_rpod"));
    command
        .arg("--")
        .args(words)
        .env("RPOD_COMPLETE", "fish")
        .env("RPOD_ROOT", store.path())
        .env("RPOD_RUNROOT", store.path());
    if no_desc {
        command.env("RPOD_COMPLETE_NO_DESC", "1");
    }
    let out = command.output().expect("running rpod");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn bash_completes_commands_flags_and_fixed_values() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = dir.path().join("rpod.bash");
    let out = rpod(&["completion", "bash", "-f", script.to_str().expect("UTF-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    // Readable by every user's shell, rpod's private umask notwithstanding; the same script
    // as on standard output.
    let mode = std::fs::metadata(&script)
        .expect("the script")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let written = std::fs::read_to_string(&script).expect("the script");
    assert_eq!(written, stdout_of(&["completion", "bash"]));

    assert_eq!(bash_offers(&script, &["rpod", "netw"]), "network");
    assert_eq!(bash_offers(&script, &["rpod", "network", "cr"]), "create");
    // A deferred command's own flags are there too.
    assert_eq!(
        bash_offers(&script, &["rpod", "run", "--network-a"]),
        "--network-alias"
    );
    assert_eq!(
        bash_offers(&script, &["rpod", "pod", "create", "--infra-n"]),
        "--infra-name"
    );
    assert_eq!(
        bash_offers(&script, &["rpod", "run", "--pull", "ne"]),
        "never newer"
    );
}

#[test]
fn descriptions_can_be_left_out() {
    let answer = fish_answer(&["rpod", "run", "--network-a"], false);
    assert!(answer.starts_with("--network-alias\t"), "{answer}");
    assert_eq!(
        fish_answer(&["rpod", "run", "--network-a"], true),
        "--network-alias\n"
    );
    // The script made with --no-desc asks for that.
    let fish = stdout_of(&["completion", "fish", "--no-desc"]);
    assert!(
        fish.starts_with("set -gx RPOD_COMPLETE_NO_DESC 1\n"),
        "{fish}"
    );
    assert!(!stdout_of(&["completion", "fish"]).contains("NO_DESC"));
    let zsh = stdout_of(&["completion", "zsh", "--no-desc"]);
    assert!(zsh.starts_with("export RPOD_COMPLETE_NO_DESC=1\n"), "{zsh}");
    assert!(zsh.contains("RPOD_COMPLETE=\"zsh\""), "{zsh}");
    assert!(stdout_of(&["completion", "powershell"]).contains("Register-ArgumentCompleter"));
}

#[test]
fn a_word_that_is_not_utf8_is_completed_after() {
    // rpod panicked reading the words for `run`'s and `exec`'s first-word completions.
    use std::os::unix::ffi::OsStrExt;
    let store = tempfile::tempdir().expect("a temporary directory");
    for command in ["run", "exec"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rpod"))
            .args(["--", "rpod", command])
            .arg(std::ffi::OsStr::from_bytes(b"\xff"))
            .arg("--in")
            .env("RPOD_COMPLETE", "fish")
            .env("RPOD_ROOT", store.path())
            .env("RPOD_RUNROOT", store.path())
            .output()
            .expect("running rpod");
        assert!(out.status.success(), "{out:?}");
    }
}

#[test]
fn the_completion_variable_of_another_program_changes_nothing() {
    // clap's own default variable name, set for some other program: rpod runs as asked.
    let out = Command::new(env!("CARGO_BIN_EXE_rpod"))
        .arg("--version")
        .env("COMPLETE", "bash")
        .output()
        .expect("running rpod");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("rpod {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_shells_unshare_and_machine_are_refused() {
    let out = rpod(&["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("possible values: bash, zsh, fish, powershell"));
    let out = rpod(&["completion", "bash", "-f", "/nonexistent/dir/rpod.bash"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dir/rpod.bash"));

    let out = rpod(&["unshare", "id"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("please use unshare with rootless"), "{err}");

    // podman's virtual machines: refused as such, also with a service named (which is not
    // asked), and not offered among the commands.
    for line in [
        &["machine", "init", "--cpus", "2"][..],
        &["--url", "unix:///nonexistent.sock", "machine", "list"],
    ] {
        let out = rpod(line);
        assert_eq!(out.status.code(), Some(125), "{line:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("\"rpod machine\" is not supported: rpod runs containers on this host"),
            "{err}"
        );
    }
    let help = String::from_utf8_lossy(&rpod(&["--help"]).stdout).into_owned();
    assert!(!help.contains("machine"), "{help}");
}

/// `system connection`'s commands are offered the kept destinations' names, and `image scp`
/// its hosts as `NAME::` (read from beside rpod.conf: no store is involved).
#[test]
fn connection_names_are_offered_where_they_are_taken() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("rpod.conf");
    std::fs::write(&config, "").expect("rpod.conf");
    let add = Command::new(env!("CARGO_BIN_EXE_rpod"))
        .args(["system", "connection", "add", "lab", "root@lab.example"])
        .env("RPOD_CONFIG", &config)
        .output()
        .expect("running rpod");
    assert!(add.status.success(), "{add:?}");
    let answer = |words: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rpod"))
            .arg("--")
            .args(words)
            .env("RPOD_COMPLETE", "fish")
            .env("RPOD_COMPLETE_NO_DESC", "1")
            .env("RPOD_CONFIG", &config)
            .env("RPOD_ROOT", dir.path().join("none"))
            .env("RPOD_RUNROOT", dir.path().join("none"))
            .output()
            .expect("running rpod");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        answer(&["rpod", "system", "connection", "rm", "l"]),
        "lab\n"
    );
    assert_eq!(
        answer(&["rpod", "system", "connection", "default", "l"]),
        "lab\n"
    );
    assert_eq!(answer(&["rpod", "image", "scp", "x", "l"]), "lab::\n");
    assert_eq!(answer(&["rpod", "image", "scp", "la"]), "lab::\n");
    assert!(!dir.path().join("none").exists());
}
