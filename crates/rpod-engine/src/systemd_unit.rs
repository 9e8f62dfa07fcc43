//! `generate systemd`: a systemd unit that runs a container as a service, as podman's
//! (podman 4's unit shapes, with rpod's command lines), for the command line and the
//! service's `/libpod/generate/{name}/systemd`; for a pod, the pod's unit (its infra
//! container) and a unit per container bound to it (`pod_units`).

use std::path::{Path, PathBuf};

use crate::container::ContainerRecord;
use crate::paths::Roots;
use crate::{EngineError, Result};

/// rpod's defaults: other roots are named on the unit's command lines.
const DEFAULT_ROOT: &str = "/var/lib/rpod";
const DEFAULT_RUNROOT: &str = "/run/rpod";

/// The `Restart=` policies systemd knows.
const RESTART_POLICIES: &[&str] = &[
    "no",
    "on-success",
    "on-failure",
    "on-abnormal",
    "on-watchdog",
    "on-abort",
    "always",
];

/// Flags of the create command that the unit sets itself (`--new`): dropped from it,
/// with whether each takes a value.
const DROPPED: &[(&str, bool)] = &[
    ("-d", false),
    ("--detach", false),
    ("--rm", false),
    ("--replace", false),
    ("--cidfile", true),
    ("--conmon-pidfile", true),
    ("--pidfile", true),
];

/// What a unit is asked to be.
#[derive(Debug, Clone)]
pub struct UnitOptions {
    /// Name the unit (and the container in it) by the container's name, not its ID.
    pub use_name: bool,
    /// Make a new container at each start, from the container's create command.
    pub new: bool,
    /// A template unit (`NAME@.service`): each instance (`NAME@ID`) runs a container of
    /// its own, named after the instance. Makes a new container at each start, as `new`.
    pub template: bool,
    pub restart_policy: String,
    pub restart_sec: Option<u32>,
    /// Seconds to wait for the stop (the container's stop timeout when `None`).
    pub stop_timeout: Option<u32>,
    pub start_timeout: Option<u32>,
    pub container_prefix: String,
    /// The prefix of a pod's unit (`pod`).
    pub pod_prefix: String,
    pub separator: String,
    pub no_header: bool,
    pub wants: Vec<String>,
    pub after: Vec<String>,
    pub requires: Vec<String>,
    /// `Environment=` lines, `KEY=VALUE` each.
    pub env: Vec<String>,
}

impl Default for UnitOptions {
    fn default() -> Self {
        UnitOptions {
            use_name: false,
            new: false,
            template: false,
            restart_policy: "on-failure".into(),
            restart_sec: None,
            stop_timeout: None,
            start_timeout: None,
            container_prefix: "container".into(),
            pod_prefix: "pod".into(),
            separator: "-".into(),
            no_header: false,
            wants: Vec::new(),
            after: Vec::new(),
            requires: Vec::new(),
            env: Vec::new(),
        }
    }
}

fn invalid(message: String) -> EngineError {
    EngineError::InvalidArg(message)
}

/// The unit's name (without `.service`; a template's ends with `@`) and its text.
/// `executable` is the rpod the unit runs.
pub fn unit(
    record: &ContainerRecord,
    roots: &Roots,
    executable: &Path,
    options: &UnitOptions,
) -> Result<(String, String)> {
    container_unit(record, roots, executable, options, None)
}

/// A pod's units, by name: the pod's own, which starts and stops its infra container (its
/// monitor's PID file is the service's), wants the others and comes before them; and one
/// per other container, bound to the pod's (stopped with it, started after it), as podman
/// makes them. With `--new` the pod's unit makes the pod again from its create command
/// (`--exit-policy stop`, so that the service ends with its last container) and the
/// containers' join it by the ID file it writes.
pub fn pod_units(
    pod: &crate::pods::PodRecord,
    infra: &ContainerRecord,
    members: &[ContainerRecord],
    roots: &Roots,
    executable: &Path,
    options: &UnitOptions,
) -> Result<Vec<(String, String)>> {
    if options.template {
        return Err(invalid("--template is not supported for pods".into()));
    }
    let pod_name = format!(
        "{}{}{}",
        options.pod_prefix,
        options.separator,
        if options.use_name { &pod.name } else { &pod.id }
    );
    let mut units = Vec::new();
    let mut members_names = Vec::new();
    for member in members {
        let (name, text) = container_unit(member, roots, executable, options, Some(&pod_name))?;
        members_names.push(format!("{name}.service"));
        units.push((name, text));
    }
    members_names.sort();
    let (_, infra_text) = if options.new {
        let unit = PodUnit {
            pod,
            name: &pod_name,
            executable: &executable.display().to_string(),
            globals: &root_flags(roots),
            stop_time: options.stop_timeout.unwrap_or(infra.config.stop_timeout),
        };
        (String::new(), unit.new_text(options, &roots.runroot)?)
    } else {
        container_unit(infra, roots, executable, options, None)?
    };
    // The infra container's unit, made the pod's: its own name, and the others after it.
    let mut text = String::new();
    for line in infra_text.lines() {
        if line.starts_with("# ") && line.ends_with(".service") {
            text.push_str(&format!("# {pod_name}.service\n"));
        } else if line.starts_with("Description=") {
            text.push_str(&format!("Description=rpod {pod_name}.service\n"));
        } else if line.starts_with("RequiresMountsFor=") && !members_names.is_empty() {
            text.push_str(line);
            text.push('\n');
            text.push_str(&format!("Wants={}\n", members_names.join(" ")));
            text.push_str(&format!("Before={}\n", members_names.join(" ")));
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    units.push((pod_name, text));
    units.sort();
    Ok(units)
}

/// `unit`, for a container whose unit is bound to a pod's (`bound_to`, without
/// `.service`).
fn container_unit(
    record: &ContainerRecord,
    roots: &Roots,
    executable: &Path,
    options: &UnitOptions,
    bound_to: Option<&str>,
) -> Result<(String, String)> {
    if !RESTART_POLICIES.contains(&options.restart_policy.as_str()) {
        return Err(invalid(format!(
            "invalid restart policy {:?}: use {}",
            options.restart_policy,
            RESTART_POLICIES.join(", ")
        )));
    }
    if let Some(entry) = options.env.iter().find(|e| !e.contains('=')) {
        return Err(invalid(format!("invalid --env {entry:?}: use KEY=VALUE")));
    }
    let unit = Unit {
        executable: executable.display().to_string(),
        globals: root_flags(roots),
        record,
        args: options,
        runroot: roots.runroot.clone(),
        pid_file: roots.run_dir(record.id()).join("conmon.pid"),
        bound_to,
    };
    let name = format!(
        "{}{}{}",
        options.container_prefix,
        options.separator,
        if options.use_name {
            record.config.name.clone()
        } else {
            record.id().to_string()
        }
    );
    let text = unit.text(&name)?;
    if options.template {
        // systemd takes a file as a template by the `@` before `.service` (podman names
        // the file without it, which systemd cannot instantiate).
        return Ok((format!("{name}@"), text));
    }
    Ok((name, text))
}

/// rpod's global flags naming the store, where it is not the default.
fn root_flags(roots: &Roots) -> String {
    let mut globals = Vec::new();
    if roots.root != Path::new(DEFAULT_ROOT) {
        globals.push(format!("--root {}", roots.root.display()));
    }
    if roots.runroot != Path::new(DEFAULT_RUNROOT) {
        globals.push(format!("--runroot {}", roots.runroot.display()));
    }
    globals.join(" ")
}

/// `rpod [GLOBAL FLAGS] WORDS`.
fn command_line(executable: &str, globals: &str, words: &str) -> String {
    if globals.is_empty() {
        format!("{executable} {words}")
    } else {
        format!("{executable} {globals} {words}")
    }
}

/// A unit's text up to its commands: the header, `[Unit]` (bound to a pod's unit when
/// `bound_to` names one) and `[Service]`'s settings.
fn unit_head(
    name: &str,
    options: &UnitOptions,
    runroot: &Path,
    bound_to: Option<&str>,
    stop_time: u32,
) -> String {
    let mut out = String::new();
    let (at, for_instance) = if options.template {
        ("@", " for %I")
    } else {
        ("", "")
    };
    if !options.no_header {
        out.push_str(&format!(
            "# {name}{at}.service\n# autogenerated by rpod {}\n\n",
            env!("CARGO_PKG_VERSION")
        ));
    }
    let mut wants = vec!["network-online.target".to_string()];
    wants.extend(options.wants.iter().cloned());
    let mut after = vec!["network-online.target".to_string()];
    after.extend(options.after.iter().cloned());
    out.push_str("[Unit]\n");
    out.push_str(&format!("Description=rpod {name}.service{for_instance}\n"));
    out.push_str("Documentation=man:podman-generate-systemd(1)\n");
    out.push_str(&format!("Wants={}\n", wants.join(" ")));
    out.push_str(&format!("After={}\n", after.join(" ")));
    if !options.requires.is_empty() {
        out.push_str(&format!("Requires={}\n", options.requires.join(" ")));
    }
    out.push_str(&format!("RequiresMountsFor={}\n", runroot.display()));
    if let Some(pod) = bound_to {
        out.push_str(&format!("BindsTo={pod}.service\nAfter={pod}.service\n"));
    }
    out.push_str("\n[Service]\nEnvironment=PODMAN_SYSTEMD_UNIT=%n\n");
    for entry in &options.env {
        out.push_str(&format!("Environment={}\n", quote(entry)));
    }
    out.push_str(&format!("Restart={}\n", options.restart_policy));
    if let Some(seconds) = options.restart_sec {
        out.push_str(&format!("RestartSec={seconds}\n"));
    }
    if let Some(seconds) = options.start_timeout {
        out.push_str(&format!("TimeoutStartSec={seconds}\n"));
    }
    out.push_str(&format!("TimeoutStopSec={}\n", stop_time + 60));
    out
}

/// The end of a unit: its PID file, forking, and when it is wanted.
fn unit_tail(pid_file: &str) -> String {
    format!("PIDFile={pid_file}\nType=forking\n\n[Install]\nWantedBy=default.target\n")
}

/// The flags of a create command that a unit leaves out (`dropped`, with whether each
/// takes a value), their values with them.
fn kept_flags<'a>(flags: &'a [String], dropped: &[(&str, bool)]) -> Vec<&'a String> {
    let mut kept = Vec::new();
    let mut skip_value = false;
    for flag in flags {
        if skip_value {
            skip_value = false;
            continue;
        }
        let (key, _) = flag.split_once('=').unwrap_or((flag, ""));
        if let Some((_, takes_value)) = dropped.iter().find(|(name, _)| *name == key) {
            skip_value = *takes_value && !flag.contains('=');
            continue;
        }
        kept.push(flag);
    }
    kept
}

/// The flags of `pod create` the unit sets itself (`--new`), with whether each takes a
/// value.
const POD_DROPPED: &[(&str, bool)] = &[
    ("--pod-id-file", true),
    ("--infra-conmon-pidfile", true),
    ("--replace", false),
];

/// A pod's unit with `--new`: the pod made again at each start (from its create command,
/// stopping once its last container exits), started, stopped and removed by the ID file
/// the create writes.
struct PodUnit<'a> {
    pod: &'a crate::pods::PodRecord,
    name: &'a str,
    executable: &'a str,
    globals: &'a str,
    stop_time: u32,
}

impl PodUnit<'_> {
    fn rpod(&self, words: &str) -> String {
        command_line(self.executable, self.globals, words)
    }

    fn new_text(&self, options: &UnitOptions, runroot: &Path) -> Result<String> {
        let command = &self.pod.create_command;
        let create = command
            .windows(2)
            .position(|w| w[0] == "pod" && w[1] == "create")
            .ok_or_else(|| {
                invalid(format!(
                    "pod {} was not made by `pod create` (its create command: {command:?}): generate without --new",
                    self.pod.name
                ))
            })?;
        let pid_file = format!("%t/{}.pid", self.name);
        let id_file = format!("%t/{}.pod-id", self.name);
        let mut words = vec![
            "pod".to_string(),
            "create".into(),
            "--infra-conmon-pidfile".into(),
            pid_file.clone(),
            "--pod-id-file".into(),
            id_file.clone(),
        ];
        let flags = &command[create + 2..];
        let has = |name: &str| {
            flags
                .iter()
                .any(|f| f == name || f.starts_with(&format!("{name}=")))
        };
        if !has("--exit-policy") {
            words.push("--exit-policy=stop".into());
        }
        words.extend(kept_flags(flags, POD_DROPPED).into_iter().map(|f| quote(f)));
        if has("--name") || has("-n") {
            words.push("--replace".into());
        }
        let stop = self.stop_time;
        let mut out = unit_head(self.name, options, runroot, None, stop);
        out.push_str(&format!("ExecStartPre=/bin/rm -f {pid_file} {id_file}\n"));
        out.push_str(&format!("ExecStartPre={}\n", self.rpod(&words.join(" "))));
        out.push_str(&format!(
            "ExecStart={}\n",
            self.rpod(&format!("pod start --pod-id-file {id_file}"))
        ));
        out.push_str(&format!(
            "ExecStop={}\n",
            self.rpod(&format!(
                "pod stop --ignore --pod-id-file {id_file} -t {stop}"
            ))
        ));
        out.push_str(&format!(
            "ExecStopPost={}\n",
            self.rpod(&format!("pod rm --ignore -f --pod-id-file {id_file}"))
        ));
        out.push_str(&unit_tail(&pid_file));
        Ok(out)
    }
}

struct Unit<'a> {
    executable: String,
    globals: String,
    record: &'a ContainerRecord,
    args: &'a UnitOptions,
    runroot: PathBuf,
    pid_file: PathBuf,
    /// The pod's unit this one is bound to.
    bound_to: Option<&'a str>,
}

impl Unit<'_> {
    fn rpod(&self, words: &str) -> String {
        command_line(&self.executable, &self.globals, words)
    }

    fn text(&self, name: &str) -> Result<String> {
        let args = self.args;
        let stop_time = args.stop_timeout.unwrap_or(self.record.config.stop_timeout);
        let mut out = unit_head(name, args, &self.runroot, self.bound_to, stop_time);
        if args.new || args.template {
            let run = self.run_words()?;
            out.push_str("ExecStartPre=/bin/rm -f %t/%n.ctr-id\n");
            out.push_str(&format!("ExecStart={}\n", self.rpod(&run)));
            out.push_str(&format!(
                "ExecStop={}\n",
                self.rpod(&format!(
                    "stop --ignore -t {stop_time} --cidfile=%t/%n.ctr-id"
                ))
            ));
            out.push_str(&format!(
                "ExecStopPost={}\n",
                self.rpod(&format!(
                    "rm -f --ignore -t {stop_time} --cidfile=%t/%n.ctr-id"
                ))
            ));
            out.push_str(&unit_tail("%t/%n.pid"));
        } else {
            let target = if args.use_name {
                self.record.config.name.clone()
            } else {
                self.record.id().to_string()
            };
            out.push_str(&format!(
                "ExecStart={}\n",
                self.rpod(&format!("start {target}"))
            ));
            let stop = self.rpod(&format!("stop -t {stop_time} {target}"));
            out.push_str(&format!("ExecStop={stop}\nExecStopPost={stop}\n"));
            out.push_str(&unit_tail(&self.pid_file.display().to_string()));
        }
        Ok(out)
    }

    /// `--new`: the command line that created the container, as a detached `run` that
    /// replaces any container of its name, removes it at its exit, and writes its ID and
    /// its monitor's PID where the unit finds them.
    fn run_words(&self) -> Result<String> {
        let config = &self.record.config;
        let command = &config.create_command;
        let subcommand = command
            .iter()
            .position(|w| w == "run" || w == "create")
            .ok_or_else(|| {
                invalid(format!(
                    "container {} has no create command of rpod's to run again (it was made through Docker's API, or by an older rpod): generate without --new",
                    config.name
                ))
            })?;
        // The command line ends with the image (or --rootfs directory) and the command.
        let image_and_command = 1 + config.cmd.len();
        let tail_start = command.len().saturating_sub(image_and_command);
        let flags = &command[subcommand + 1..tail_start.max(subcommand + 1)];
        let tail = &command[tail_start.max(subcommand + 1)..];
        let mut words = vec![
            "run".to_string(),
            "--cidfile=%t/%n.ctr-id".to_string(),
            "--conmon-pidfile=%t/%n.pid".to_string(),
            "--rm".to_string(),
            "-d".to_string(),
            "--replace".to_string(),
        ];
        let mut dropped = DROPPED.to_vec();
        if self.bound_to.is_some() {
            // In a pod's units, the pod is the one the pod's unit makes (below).
            dropped.extend([("--pod", true), ("--pod-id-file", true)]);
        }
        let mut named = false;
        // A template's instances each name their container after the instance.
        let instance = if self.args.template { "-%i" } else { "" };
        let mut name_follows = false;
        for flag in kept_flags(flags, &dropped) {
            let (key, _) = flag.split_once('=').unwrap_or((flag, ""));
            // A cluster of short flags (`-dit`) loses its `d`.
            if flag.starts_with('-')
                && !flag.starts_with("--")
                && flag.len() > 2
                && flag[1..].chars().all(|c| c.is_ascii_alphabetic())
                && flag.contains('d')
            {
                words.push(quote(&flag.replace('d', "")));
                continue;
            }
            if name_follows {
                name_follows = false;
                words.push(format!("{}{instance}", quote(flag)));
                continue;
            }
            if key == "--name" {
                named = true;
                if flag.contains('=') {
                    words.push(format!("{}{instance}", quote(flag)));
                    continue;
                }
                name_follows = true;
            }
            words.push(quote(flag));
        }
        if !named {
            words.push("--name".into());
            words.push(format!("{}{instance}", quote(&config.name)));
        }
        if let Some(pod) = self.bound_to {
            words.push(format!("--pod-id-file %t/{pod}.pod-id"));
        }
        words.extend(tail.iter().map(|w| quote(w)));
        Ok(words.join(" "))
    }
}

/// A word of the create command as systemd's command lines read it: `%` and `$` doubled
/// (not a specifier, not the unit's variable), quoted when it has spaces, quotes,
/// backslashes or `;`.
fn quote(word: &str) -> String {
    let word = word.replace('%', "%%").replace('$', "$$");
    if !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'\\;".contains(c))
    {
        return word.to_string();
    }
    // Inside quotes systemd reads C escapes: a newline stays in the word, never starts a
    // line of the unit (a create command is the API client's text).
    let mut quoted = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => quoted.push_str(&format!("\\x{:02x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_as_systemd_reads_them() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("50% $HOME"), "\"50%% $$HOME\"");
        assert_eq!(quote(r#"say "hi"\"#), r#""say \"hi\"\\""#);
        // A newline never starts a line of the unit.
        let injected = quote("A=1\nExecStartPre=/bin/evil");
        assert!(!injected.contains('\n'), "{injected}");
        assert_eq!(injected, r#""A=1\nExecStartPre=/bin/evil""#);
        assert_eq!(quote("\u{1}"), r#""\x01""#);
        assert_eq!(quote(""), "\"\"");
    }
}
