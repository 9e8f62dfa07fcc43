//! OCI hooks as podman reads them (oci-hooks(5)): JSON files in hook directories, each
//! naming a program the runtime runs at some stages of a container's life, and the
//! containers it is for. They are read at each start (so a change needs no restart of
//! anything) and put into the container's spec, where the runtime runs them; `poststop`
//! hooks run at the runtime's delete, after the container's exit.
//!
//! Two schemas: 1.0.0 (`version`, `hook`, `when`, `stages`), whose conditions must all
//! match, and podman's older 0.1.0 (`hook` as a path, `arguments`, `cmds`, `annotations`,
//! `hasbindmounts`), of which any one matching is enough. A file in a later directory
//! masks one of the same name in an earlier directory; hooks are added in the order of
//! their files' names, lower-cased. podman's own `precreate` stage runs here, before the
//! runtime: such a hook gets the spec and writes the one to use. A file that cannot be
//! read as a hook stops the start and says which file and why, as podman does: a hook
//! silently left out could be a device or a security policy a container was meant to get.
//! One whose program is missing is left out with a warning (podman passes over it).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use oci_spec::runtime::{Hook, Hooks, Spec};
use regex::Regex;
use serde::Deserialize;

use crate::{EngineError, Result};

/// podman's default (containers.conf's `hooks_dir`).
pub const DEFAULT_DIRS: &[&str] = &["/usr/share/containers/oci/hooks.d"];

/// The life-cycle stages of the OCI runtime specification a hook can run at, and
/// podman's `precreate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
    /// podman's own stage, before the runtime sees the spec: the hook gets the spec on its
    /// standard input and writes the one to use on its standard output (`filter_spec`).
    Precreate,
}

impl Stage {
    fn parse(name: &str) -> std::result::Result<Stage, String> {
        Ok(match name {
            "prestart" => Stage::Prestart,
            "createRuntime" => Stage::CreateRuntime,
            "createContainer" => Stage::CreateContainer,
            "startContainer" => Stage::StartContainer,
            "poststart" => Stage::Poststart,
            "poststop" => Stage::Poststop,
            "precreate" => Stage::Precreate,
            other => return Err(format!("unknown stage {other:?}")),
        })
    }
}

/// When a hook is for a container.
#[derive(Debug, Default)]
struct When {
    always: Option<bool>,
    /// Pairs of patterns: some annotation's key matches the first and its value the second.
    annotations: Vec<(Regex, Regex)>,
    /// Patterns, one of which the command (the process's first argument) matches.
    commands: Vec<Regex>,
    has_bind_mounts: Option<bool>,
    /// 0.1.0's rule: one condition matching is enough (1.0.0: every one given must).
    any_of: bool,
}

/// What the conditions look at in a container.
pub struct Subject<'a> {
    /// The spec's annotations, as key and value.
    pub annotations: Vec<(&'a str, &'a str)>,
    /// The process's first argument.
    pub command: Option<&'a str>,
    /// Whether the user gave bind mounts or volumes.
    pub has_bind_mounts: bool,
}

impl When {
    fn matches(&self, subject: &Subject) -> bool {
        let mut results = Vec::new();
        if let Some(always) = self.always {
            results.push(always);
        }
        if let Some(wanted) = self.has_bind_mounts {
            results.push(wanted && subject.has_bind_mounts);
        }
        for (key, value) in &self.annotations {
            results.push(
                subject
                    .annotations
                    .iter()
                    .any(|(k, v)| key.is_match(k) && value.is_match(v)),
            );
        }
        if !self.commands.is_empty() {
            let command = subject.command.unwrap_or("");
            results.push(self.commands.iter().any(|c| c.is_match(command)));
        }
        if self.any_of {
            results.contains(&true)
        } else {
            !results.is_empty() && results.iter().all(|r| *r)
        }
    }
}

/// One hook file, read and checked.
#[derive(Debug)]
pub struct HookDefinition {
    /// The file's name: the order hooks are added in, and what masks what.
    name: String,
    hook: Hook,
    when: When,
    stages: Vec<Stage>,
}

/// The 1.0.0 schema.
#[derive(Deserialize)]
struct Schema100 {
    hook: Hook,
    /// Missing, it matches no container, as podman reads it.
    #[serde(default)]
    when: When100,
    stages: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
struct When100 {
    always: Option<bool>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    commands: Vec<String>,
    #[serde(rename = "hasBindMounts")]
    has_bind_mounts: Option<bool>,
}

/// podman's 0.1.0 schema, with its synonyms (`stage`, `cmd`, `annotation`).
#[derive(Deserialize)]
struct Schema010 {
    hook: Option<PathBuf>,
    arguments: Option<Vec<String>>,
    stages: Option<Vec<String>>,
    stage: Option<Vec<String>>,
    cmds: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    annotations: Option<Vec<String>>,
    annotation: Option<Vec<String>>,
    hasbindmounts: Option<bool>,
}

fn pattern(text: &str, what: &str) -> std::result::Result<Regex, String> {
    Regex::new(text).map_err(|e| format!("invalid {what} pattern {text:?}: {e}"))
}

/// One of two synonyms, not both.
fn either<T>(
    first: Option<T>,
    second: Option<T>,
    names: (&str, &str),
) -> std::result::Result<Option<T>, String> {
    match (first, second) {
        (Some(_), Some(_)) => Err(format!("cannot set both {:?} and {:?}", names.0, names.1)),
        (first, second) => Ok(first.or(second)),
    }
}

/// Read one hook file's text.
fn parse(name: &str, text: &str) -> std::result::Result<HookDefinition, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    // podman's rule: a file without a version is a 0.1.0 one.
    let version = match value.get("version") {
        None => "0.1.0".to_string(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    let (hook, when, stages) = match version.as_str() {
        "1.0.0" => {
            let read: Schema100 =
                serde_json::from_value(value).map_err(|e| format!("a 1.0.0 hook: {e}"))?;
            // A `when` without conditions matches no container (podman takes such a file).
            let w = read.when;
            let when = When {
                always: w.always,
                annotations: w
                    .annotations
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            pattern(k, "annotation key")?,
                            pattern(v, "annotation value")?,
                        ))
                    })
                    .collect::<std::result::Result<_, String>>()?,
                commands: w
                    .commands
                    .iter()
                    .map(|c| pattern(c, "command"))
                    .collect::<std::result::Result<_, String>>()?,
                has_bind_mounts: w.has_bind_mounts,
                any_of: false,
            };
            (read.hook, when, read.stages)
        }
        "0.1.0" => {
            let read: Schema010 =
                serde_json::from_value(value).map_err(|e| format!("a 0.1.0 hook: {e}"))?;
            let path = read.hook.ok_or("missing required property: hook")?;
            let stages = either(read.stages, read.stage, ("stages", "stage"))?;
            let commands = either(read.cmds, read.cmd, ("cmds", "cmd"))?.unwrap_or_default();
            let annotations = either(
                read.annotations,
                read.annotation,
                ("annotations", "annotation"),
            )?;
            let mut hook = Hook::default();
            if let Some(arguments) = read.arguments {
                let mut args = vec![path.display().to_string()];
                args.extend(arguments);
                hook.set_args(Some(args));
            }
            hook.set_path(path);
            let when = When {
                always: None,
                // Any annotation's value matching one of the patterns.
                annotations: match annotations {
                    Some(values) => vec![(
                        pattern(".*", "annotation key")?,
                        pattern(&values.join("|"), "annotation value")?,
                    )],
                    None => Vec::new(),
                },
                commands: commands
                    .iter()
                    .map(|c| pattern(c, "command"))
                    .collect::<std::result::Result<_, String>>()?,
                has_bind_mounts: read.hasbindmounts,
                any_of: true,
            };
            (hook, when, stages)
        }
        other => {
            return Err(format!(
                "unknown hook version {other:?}: 1.0.0 and 0.1.0 are known"
            ))
        }
    };
    if !hook.path().is_absolute() {
        return Err(format!(
            "the hook's path {:?} is not absolute",
            hook.path().display()
        ));
    }
    if hook.timeout().is_some_and(|t| t <= 0) {
        return Err("the hook's timeout must be more than 0 seconds".into());
    }
    let stages = stages.ok_or("missing required property: stages")?;
    let stages = stages
        .iter()
        .map(|s| Stage::parse(s))
        .collect::<std::result::Result<Vec<_>, String>>()?;
    Ok(HookDefinition {
        name: name.to_string(),
        hook,
        when,
        stages,
    })
}

/// The hooks of `dirs` (a missing directory has none), in the order they are added.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<HookDefinition>> {
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(EngineError::io("reading the hooks directory", dir, e)),
        };
        for entry in entries {
            let entry =
                entry.map_err(|e| EngineError::io("reading the hooks directory", dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            // Files only (a link to one is followed), as podman reads them.
            if name.ends_with(".json") && path.is_file() {
                files.insert(name, path);
            }
        }
    }
    let mut hooks = Vec::new();
    for (name, path) in files {
        let text = fs::read_to_string(&path)
            .map_err(|e| EngineError::io("reading the OCI hook", &path, e))?;
        // As podman's: the container cannot start (126), saying which file is wrong.
        let hook = parse(&name, &text).map_err(|e| {
            EngineError::CannotInvoke(format!("setting up OCI hooks: {}: {e}", path.display()))
        })?;
        // podman passes over a hook whose program is gone (a package removed, its file
        // left); rpod says so.
        if let Err(e) = fs::metadata(hook.hook.path()) {
            tracing::warn!(
                file = %path.display(),
                program = %hook.hook.path().display(),
                %e,
                "an OCI hook whose program is missing is left out"
            );
            continue;
        }
        hooks.push(hook);
    }
    hooks.sort_by(|a, b| (a.name.to_lowercase(), &a.name).cmp(&(b.name.to_lowercase(), &b.name)));
    Ok(hooks)
}

/// Add to `spec` the hooks whose conditions `subject` meets, each at its stages; the
/// matching `precreate` hooks are returned, for `filter_spec`.
pub fn inject(spec: &mut Spec, hooks: &[HookDefinition], subject: &Subject) -> Vec<Hook> {
    let mut filters = Vec::new();
    for definition in hooks.iter().filter(|h| h.when.matches(subject)) {
        for stage in &definition.stages {
            if *stage == Stage::Precreate {
                filters.push(definition.hook.clone());
                continue;
            }
            let all = spec.hooks_mut().get_or_insert_with(Hooks::default);
            #[allow(deprecated)] // prestart: deprecated by the spec, still run by runtimes
            let list = match stage {
                Stage::Prestart => all.prestart_mut(),
                Stage::CreateRuntime => all.create_runtime_mut(),
                Stage::CreateContainer => all.create_container_mut(),
                Stage::StartContainer => all.start_container_mut(),
                Stage::Poststart => all.poststart_mut(),
                Stage::Poststop => all.poststop_mut(),
                Stage::Precreate => continue,
            };
            list.get_or_insert_with(Vec::new)
                .push(definition.hook.clone());
        }
    }
    filters
}

/// Run the `precreate` hooks in turn (podman's): each gets the spec as JSON on its
/// standard input and writes the spec to use on its standard output. A hook that fails,
/// outlives its `timeout` or writes no spec stops the start, with what it said.
pub fn filter_spec(spec: Spec, filters: &[Hook]) -> Result<Spec> {
    let mut spec = spec;
    for hook in filters {
        let input = serde_json::to_vec(&spec)
            .map_err(|e| EngineError::InvalidArg(format!("serializing the spec: {e}")))?;
        let failed = |what: String| {
            EngineError::InvalidArg(format!(
                "the precreate hook {}: {what}",
                hook.path().display()
            ))
        };
        let output = run_filter(hook, &input).map_err(|e| failed(e.to_string()))?;
        if !output.status.success() {
            return Err(failed(format!(
                "{}: {}",
                output.status,
                output.stderr.trim()
            )));
        }
        spec = serde_json::from_slice(&output.stdout)
            .map_err(|e| failed(format!("its output is no OCI spec: {e}")))?;
    }
    Ok(spec)
}

/// The most a precreate hook may write: far more than any spec.
const MAX_FILTERED_SPEC: u64 = 64 << 20;

/// Run one hook with `input` on its standard input, as podman runs hooks: its `args`
/// (the first is `argv[0]`), its `env` alone when it has one (else rpod's), killed at its
/// `timeout` (none: it may take as long as it takes, as in podman).
fn run_filter(hook: &Hook, input: &[u8]) -> std::io::Result<crate::child::Filtered> {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(hook.path());
    if let Some((first, rest)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        command.arg0(first).args(rest);
    }
    if let Some(env) = hook.env() {
        command.env_clear();
        for entry in env {
            let (name, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
            command.env(name, value);
        }
    }
    let timeout = hook
        .timeout()
        .and_then(|t| u64::try_from(t).ok())
        .map(std::time::Duration::from_secs);
    crate::child::filter(&mut command, input, MAX_FILTERED_SPEC, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(
        annotations: &[(&'a str, &'a str)],
        command: &'a str,
        has_bind_mounts: bool,
    ) -> Subject<'a> {
        Subject {
            annotations: annotations.to_vec(),
            command: Some(command),
            has_bind_mounts,
        }
    }

    fn hook(when: &str) -> HookDefinition {
        let text = format!(
            r#"{{"version": "1.0.0", "hook": {{"path": "/bin/sh"}}, "when": {when}, "stages": ["prestart"]}}"#
        );
        parse("h.json", &text).unwrap()
    }

    #[test]
    fn every_condition_of_a_1_0_0_hook_must_match() {
        let plain = subject(&[], "/usr/bin/app", false);
        let bound = subject(&[("com.example.gpu", "all")], "/sbin/init", true);
        assert!(hook(r#"{"always": true}"#).when.matches(&plain));
        assert!(!hook(r#"{"always": false}"#).when.matches(&plain));
        let commands = hook(r#"{"commands": [".*/init$", "^/bin/x"]}"#);
        assert!(commands.when.matches(&bound) && !commands.when.matches(&plain));
        let mounts = hook(r#"{"hasBindMounts": true}"#);
        assert!(mounts.when.matches(&bound) && !mounts.when.matches(&plain));
        let annotated = hook(r#"{"annotations": {"^com\\.example\\.gpu$": "^all$"}}"#);
        assert!(annotated.when.matches(&bound) && !annotated.when.matches(&plain));
        // Both given: both must match.
        let both = hook(r#"{"always": true, "commands": ["init"]}"#);
        assert!(both.when.matches(&bound) && !both.when.matches(&plain));
        let key_only = subject(&[("com.example.gpu", "none")], "/sbin/init", true);
        assert!(!annotated.when.matches(&key_only));
        // No condition (or no `when`): no container.
        assert!(!hook("{}").when.matches(&bound));
        let text = r#"{"version": "1.0.0", "hook": {"path": "/bin/sh"}, "stages": ["prestart"]}"#;
        assert!(!parse("w.json", text).unwrap().when.matches(&bound));
    }

    #[test]
    fn a_0_1_0_hook_matches_on_any_condition_and_takes_its_synonyms() {
        let read = parse(
            "old.json",
            r#"{"hook": "/bin/sh", "arguments": ["-c", "true"], "stage": ["prestart", "poststop"],
                "cmd": ["init$"], "annotation": ["^gpu"], "hasbindmounts": true}"#,
        )
        .unwrap();
        assert_eq!(
            read.hook.args().as_deref(),
            Some(&["/bin/sh".to_string(), "-c".into(), "true".into()][..])
        );
        assert_eq!(read.stages, [Stage::Prestart, Stage::Poststop]);
        assert!(read.when.matches(&subject(&[], "/sbin/init", false)));
        assert!(read
            .when
            .matches(&subject(&[("any", "gpu-1")], "/app", false)));
        assert!(read.when.matches(&subject(&[], "/app", true)));
        assert!(!read.when.matches(&subject(&[("gpu", "x")], "/app", false)));
        let both = parse(
            "b.json",
            r#"{"hook": "/bin/sh", "stages": ["prestart"], "stage": ["poststop"]}"#,
        );
        assert!(both.unwrap_err().contains("both"));
    }

    #[test]
    fn broken_hooks_say_what_is_wrong() {
        for (text, says) in [
            ("[", "not JSON"),
            (r#"{"version": "2.0.0"}"#, "unknown hook version"),
            (r#"{"version": 1}"#, "unknown hook version"),
            (
                r#"{"version": "1.0.0", "hook": {"path": "sh"}, "when": {"always": true}, "stages": ["prestart"]}"#,
                "not absolute",
            ),
            (
                r#"{"version": "1.0.0", "hook": {"path": "/bin/sh"}, "when": {"commands": ["("]}, "stages": ["prestart"]}"#,
                "invalid command pattern",
            ),
            (
                r#"{"version": "1.0.0", "hook": {"path": "/bin/sh"}, "when": {"always": true}}"#,
                "stages",
            ),
            (
                r#"{"version": "1.0.0", "hook": {"path": "/bin/sh"}, "when": {"always": true}, "stages": ["later"]}"#,
                "unknown stage",
            ),
            (
                r#"{"version": "1.0.0", "hook": {"path": "/bin/sh", "timeout": 0}, "when": {"always": true}, "stages": ["prestart"]}"#,
                "timeout",
            ),
            (
                r#"{"stages": ["prestart"]}"#,
                "missing required property: hook",
            ),
        ] {
            let err = parse("x.json", text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn later_directories_mask_earlier_ones_and_names_give_the_order() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let write = |dir: &tempfile::TempDir, name: &str, args: &str| {
            let text = format!(
                r#"{{"version": "1.0.0", "hook": {{"path": "/bin/sh", "args": ["{args}"]}},
                    "when": {{"always": true}}, "stages": ["poststart", "createRuntime"]}}"#
            );
            fs::write(dir.path().join(name), text).unwrap();
        };
        write(&first, "10-b.json", "masked");
        write(&first, "20-c.json", "c");
        write(&second, "10-b.json", "b");
        write(&second, "05-A.json", "a");
        // A hook whose program is gone is left out.
        fs::write(
            second.path().join("07-gone.json"),
            r#"{"version": "1.0.0", "hook": {"path": "/no/such/hook"}, "when": {"always": true}, "stages": ["prestart"]}"#,
        )
        .unwrap();
        fs::write(second.path().join("notes.txt"), "not a hook").unwrap();
        let missing = first.path().join("missing");
        let dirs = [
            first.path().to_path_buf(),
            missing,
            second.path().to_path_buf(),
        ];
        let hooks = load(&dirs).unwrap();
        let names: Vec<&str> = hooks.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["05-A.json", "10-b.json", "20-c.json"]);

        let mut spec = Spec::default();
        let filters = inject(&mut spec, &hooks, &subject(&[], "/app", false));
        assert!(filters.is_empty());
        let all = spec.hooks().clone().unwrap();
        let args = |list: &Option<Vec<Hook>>| -> Vec<String> {
            list.iter()
                .flatten()
                .map(|h| h.args().clone().unwrap_or_default().join(" "))
                .collect()
        };
        assert_eq!(args(all.poststart()), ["a", "b", "c"]);
        assert_eq!(args(all.create_runtime()), ["a", "b", "c"]);
        assert!(all.poststop().is_none());

        // A broken file stops the loading and is named.
        fs::write(second.path().join("30-bad.json"), "{").unwrap();
        let err = load(&dirs).unwrap_err().to_string();
        assert!(
            err.contains("30-bad.json") && err.contains("not JSON"),
            "{err}"
        );
    }

    #[test]
    fn hooks_of_no_match_leave_the_spec_alone() {
        let hooks = vec![hook(r#"{"commands": ["^/sbin/init$"]}"#)];
        let mut spec = Spec::default();
        let had = spec.hooks().clone();
        inject(&mut spec, &hooks, &subject(&[], "/app", true));
        assert_eq!(spec.hooks(), &had);
    }

    fn filter(script: &str, timeout: Option<i64>) -> Hook {
        let mut hook = Hook::default();
        hook.set_path("/bin/sh".into());
        hook.set_args(Some(vec!["sh".into(), "-c".into(), script.into()]));
        hook.set_env(Some(vec!["MARK=filtered".into()]));
        hook.set_timeout(timeout);
        hook
    }

    /// precreate hooks are returned, not put in the spec, and change the spec in turn.
    #[test]
    fn precreate_hooks_filter_the_spec() {
        let text = r#"{"version": "1.0.0", "hook": {"path": "/bin/sh"}, "when": {"always": true},
                        "stages": ["precreate", "poststop"]}"#;
        let hooks = vec![parse("p.json", text).unwrap()];
        let mut spec = Spec::default();
        let filters = inject(&mut spec, &hooks, &subject(&[], "/app", false));
        assert_eq!(filters.len(), 1);
        let all = spec.hooks().clone().unwrap();
        assert_eq!(all.poststop().as_ref().map(Vec::len), Some(1));
        assert!(all.prestart().is_none());

        // Each sees the last one's spec; the environment is the hook's own.
        let mut spec = Spec::default();
        spec.set_hostname(Some("before".into()));
        let renamed = filter(r#"sed "s/\"before\"/\"$MARK\"/""#, None);
        let again = filter("sed s/filtered/filtered-twice/", Some(5));
        let out = filter_spec(spec, &[renamed, again]).unwrap();
        assert_eq!(out.hostname().as_deref(), Some("filtered-twice"));

        for (script, says, timeout) in [
            ("echo not a spec", "no OCI spec", 10),
            ("echo broken >&2; exit 3", "broken", 10),
            ("sleep 5", "timeout", 1),
            ("yes", "its output passed", 60),
        ] {
            let err = filter_spec(Spec::default(), &[filter(script, Some(timeout))])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(says) && err.contains("/bin/sh"),
                "{script}: {err}"
            );
        }
    }
}
