//! `completion` (shell scripts for rpod's command line) and `unshare` (refused, as rootful
//! podman refuses it). Neither needs root or a store.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

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

/// What bash's completion offers for the words typed so far (the last one being completed),
/// with rpod's script sourced as a user's shell would.
fn bash_offers(script: &std::path::Path, words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {script}\n\
         COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1))\n\
         _rpod rpod \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         echo \"${{COMPREPLY[*]}}\"",
        script = script.display(),
        words = quoted.join(" "),
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
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
    let fish = stdout_of(&["completion", "fish"]);
    assert!(fish.contains("-l network-alias -d '"), "{fish}");
    let bare = stdout_of(&["completion", "fish", "--no-desc"]);
    assert!(bare.contains("-l network-alias"), "{bare}");
    assert!(!bare.contains(" -d '"), "{bare}");
    let zsh = stdout_of(&["completion", "zsh", "--no-desc"]);
    assert!(zsh.contains("'*--network-alias=[]:"), "{zsh}");
    assert!(!zsh.contains("Another name the container has"), "{zsh}");
    assert!(stdout_of(&["completion", "powershell"]).contains("Register-ArgumentCompleter"));
}

#[test]
fn unknown_shells_and_unshare_are_refused() {
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
}
