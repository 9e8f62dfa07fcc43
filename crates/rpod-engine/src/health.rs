//! Health checks, podman's daemonless way: `rpod healthcheck run` runs the container's
//! check command once and records the verdict; something else (a timer, a script) decides
//! when. A check passes when its command exits 0 within the timeout; `retries` failures in a
//! row make the container unhealthy, and failures during the start period do not count.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

/// The most check results kept, as podman keeps them.
pub const MAX_LOG_ENTRIES: usize = 5;
/// The most output kept of one check.
pub const MAX_OUTPUT: usize = 4096;

/// A container's health check (`--health-*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// The command: `["CMD", prog, args...]` or `["CMD-SHELL", "shell words"]`.
    pub test: Vec<String>,
    pub interval_secs: u64,
    pub timeout_secs: u64,
    pub start_period_secs: u64,
    pub retries: u32,
    /// `--health-on-failure`: what happens to the container when a check leaves it
    /// unhealthy.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// `--health-startup-*` (a Kubernetes `startupProbe`): run instead of the check after
    /// each start until it passes; the check's schedule begins then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupCheck>,
}

/// The startup check: its own command and timing. `retries` failures in a row restart
/// the container (0: never); `successes` passes in a row end the startup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupCheck {
    pub test: Vec<String>,
    pub interval_secs: u64,
    pub timeout_secs: u64,
    pub retries: u32,
    pub successes: u32,
    /// Results before this long after the start do not count (a probe's
    /// `initialDelaySeconds`).
    #[serde(default)]
    pub delay_secs: u64,
}

impl StartupCheck {
    /// What to run in the container.
    pub fn argv(&self) -> Vec<String> {
        command_argv(&self.test)
    }

    /// As podman's `StartupHealthCheck` (times in nanoseconds).
    pub fn to_api(&self) -> serde_json::Value {
        let mut config = health_config_api(
            &self.test,
            self.interval_secs,
            self.timeout_secs,
            self.delay_secs,
            self.retries,
        );
        config["Successes"] = self.successes.into();
        config
    }
}

/// A `HealthConfig` as the APIs have it: times in nanoseconds.
fn health_config_api(
    test: &[String],
    interval_secs: u64,
    timeout_secs: u64,
    start_period_secs: u64,
    retries: u32,
) -> serde_json::Value {
    let nanos = |secs: u64| secs.saturating_mul(1_000_000_000);
    serde_json::json!({
        "Test": test,
        "Interval": nanos(interval_secs),
        "Timeout": nanos(timeout_secs),
        "StartPeriod": nanos(start_period_secs),
        "Retries": retries,
    })
}

/// Where a startup stands after one more result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupVerdict {
    /// Not passed yet.
    Pending,
    /// Passed: the check's schedule begins.
    Passed,
    /// Failed `retries` times in a row: the container is restarted.
    Failed,
}

/// podman's `--health-on-failure` actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    #[default]
    None,
    Kill,
    Restart,
    Stop,
}

impl OnFailure {
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "none" => Ok(OnFailure::None),
            "kill" => Ok(OnFailure::Kill),
            "restart" => Ok(OnFailure::Restart),
            "stop" => Ok(OnFailure::Stop),
            other => Err(EngineError::InvalidArg(format!(
                "invalid --health-on-failure {other:?}: use none, kill, restart or stop"
            ))),
        }
    }

    /// podman's SpecGenerator number for it (`health_check_on_failure_action`).
    pub fn from_libpod(number: i64) -> Result<Self> {
        match number {
            0 => Ok(OnFailure::None),
            2 => Ok(OnFailure::Kill),
            3 => Ok(OnFailure::Restart),
            4 => Ok(OnFailure::Stop),
            other => Err(EngineError::InvalidArg(format!(
                "invalid health check on-failure action {other}"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::None => "none",
            OnFailure::Kill => "kill",
            OnFailure::Restart => "restart",
            OnFailure::Stop => "stop",
        }
    }
}

/// What a `--health-cmd` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCommand {
    /// Empty: as if the flag were not given (the image's check holds), as podman and Docker
    /// read it.
    NotGiven,
    /// `none`: no check, not even the image's.
    Disabled,
    /// The check's test (`CMD ...` or `CMD-SHELL ...`).
    Test(Vec<String>),
}

impl HealthCheck {
    /// `--health-cmd`: a JSON array (`["CMD", "curl", "-f", "x"]`, `["CMD-SHELL", "..."]`,
    /// `["NONE"]`), or a line: `none`, `CMD PROGRAM ARG...` (run without a shell) or
    /// `CMD-SHELL COMMAND`, and any other line a shell command, as podman reads them.
    pub fn parse_command(text: &str) -> Result<HealthCommand> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(HealthCommand::NotGiven);
        }
        if !trimmed.starts_with('[') {
            let (first, rest) = trimmed
                .split_once(char::is_whitespace)
                .map_or((trimmed, ""), |(first, rest)| (first, rest.trim_start()));
            let test = match first.to_ascii_uppercase().as_str() {
                "NONE" if rest.is_empty() => return Ok(HealthCommand::Disabled),
                "CMD" if !rest.is_empty() => std::iter::once("CMD")
                    .chain(rest.split_whitespace())
                    .map(String::from)
                    .collect(),
                "CMD-SHELL" if !rest.is_empty() => vec!["CMD-SHELL".into(), rest.to_string()],
                "CMD" | "CMD-SHELL" => {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid --health-cmd {trimmed:?}: {first} needs a command after it"
                    )))
                }
                _ => vec!["CMD-SHELL".into(), trimmed.to_string()],
            };
            return Ok(HealthCommand::Test(test));
        }
        let words: Vec<String> = serde_json::from_str(trimmed).map_err(|e| {
            EngineError::InvalidArg(format!("invalid --health-cmd {trimmed:?}: {e}"))
        })?;
        Self::command_words(trimmed, words)
    }

    fn command_words(text: &str, words: Vec<String>) -> Result<HealthCommand> {
        let test = match words.first().map(String::as_str) {
            Some("NONE") if words.len() == 1 => return Ok(HealthCommand::Disabled),
            Some("CMD") if words.len() > 1 => words,
            Some("CMD-SHELL") if words.len() == 2 => words,
            // A bare array is a command, as podman takes it.
            Some(first) if first != "CMD" && first != "CMD-SHELL" && first != "NONE" => {
                let mut command = vec!["CMD".to_string()];
                command.extend(words);
                command
            }
            _ => {
                return Err(EngineError::InvalidArg(format!(
                    "invalid --health-cmd {text:?}: use [\"CMD\", ...], [\"CMD-SHELL\", \"...\"] or [\"NONE\"]"
                )))
            }
        };
        Ok(HealthCommand::Test(test))
    }

    /// Docker's and podman's `HealthConfig` (`Test`, `Interval`, `Timeout`, `StartPeriod` in
    /// nanoseconds, `Retries`), as both APIs send it. `["NONE"]` or no test: no check.
    pub fn from_api(value: &serde_json::Value) -> Result<Option<HealthCheck>> {
        let invalid = |what: &str| EngineError::InvalidArg(format!("health check: {what}"));
        let test: Vec<String> = match value.get("Test") {
            None | Some(serde_json::Value::Null) => return Ok(None),
            Some(test) => serde_json::from_value(test.clone())
                .map_err(|_| invalid("Test must be a list of strings"))?,
        };
        let test = match test.first().map(String::as_str) {
            None | Some("NONE") => return Ok(None),
            Some("CMD") | Some("CMD-SHELL") => test,
            Some(_) => return Err(invalid("Test must start with CMD, CMD-SHELL or NONE")),
        };
        let seconds = |key: &str, default: u64| -> Result<u64> {
            match value.get(key).and_then(serde_json::Value::as_u64) {
                None | Some(0) => Ok(default),
                Some(nanos) => Ok((nanos / 1_000_000_000).max(1)),
            }
        };
        Ok(Some(HealthCheck {
            test,
            interval_secs: seconds("Interval", 30)?,
            timeout_secs: seconds("Timeout", 30)?,
            start_period_secs: seconds("StartPeriod", 0)?,
            retries: value
                .get("Retries")
                .and_then(serde_json::Value::as_u64)
                .filter(|r| *r > 0)
                .map_or(3, |r| u32::try_from(r).unwrap_or(u32::MAX)),
            on_failure: OnFailure::None,
            startup: None,
        }))
    }

    /// The check as Docker's `HealthConfig` (times in nanoseconds): what inspect shows and
    /// a Docker-format image config holds.
    pub fn to_api(&self) -> serde_json::Value {
        health_config_api(
            &self.test,
            self.interval_secs,
            self.timeout_secs,
            self.start_period_secs,
            self.retries,
        )
    }

    /// Docker's merge of a container's `HealthConfig` into its image's check: each part the
    /// container's leaves out (no `Test`, a zero time or count) is the image's. The result
    /// is a `HealthConfig` for [`HealthCheck::from_api`].
    pub fn merge_api(given: &serde_json::Value, image: Option<&HealthCheck>) -> serde_json::Value {
        let Some(image) = image else {
            return given.clone();
        };
        let mut merged = image.to_api();
        for key in ["Test", "Interval", "Timeout", "StartPeriod", "Retries"] {
            let value = given.get(key).filter(|v| match v {
                serde_json::Value::Null => false,
                serde_json::Value::Array(words) => !words.is_empty(),
                serde_json::Value::Number(n) => n.as_u64() != Some(0),
                _ => true,
            });
            if let Some(value) = value {
                merged[key] = value.clone();
            }
        }
        merged
    }

    pub fn api_disables(value: &serde_json::Value) -> bool {
        value
            .get("Test")
            .and_then(serde_json::Value::as_array)
            .and_then(|test| test.first())
            .and_then(serde_json::Value::as_str)
            == Some("NONE")
    }

    /// What to run in the container.
    pub fn argv(&self) -> Vec<String> {
        command_argv(&self.test)
    }
}

/// A check's `["CMD", ...]` or `["CMD-SHELL", "..."]` as the argv run in the container.
fn command_argv(test: &[String]) -> Vec<String> {
    match test.first().map(String::as_str) {
        Some("CMD-SHELL") => vec![
            "/bin/sh".into(),
            "-c".into(),
            test.get(1).cloned().unwrap_or_default(),
        ],
        _ => test.iter().skip(1).cloned().collect(),
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLogEntry {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub exit_code: i32,
    pub output: String,
}

/// The recorded health, as podman's inspect shows it (`State.Health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<HealthLogEntry>,
    /// The startup check passed since the last start (the check runs from then on).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub startup_passed: bool,
    /// The startup check's passes in a row.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub startup_successes: u32,
    /// The startup check's failures in a row.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub startup_failures: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl HealthState {
    pub fn starting() -> Self {
        HealthState {
            status: "starting".into(),
            failing_streak: 0,
            log: Vec::new(),
            startup_passed: false,
            startup_successes: 0,
            startup_failures: 0,
        }
    }

    /// Record a startup check's result (`counts`: after its delay; earlier ones are only
    /// logged). The status stays `starting`: the check gives the verdicts.
    pub fn record_startup(
        &mut self,
        startup: &StartupCheck,
        entry: HealthLogEntry,
        counts: bool,
    ) -> StartupVerdict {
        let passed = entry.exit_code == 0;
        self.push_log(entry);
        if !counts {
            return StartupVerdict::Pending;
        }
        if passed {
            self.startup_failures = 0;
            self.startup_successes += 1;
            if self.startup_successes >= startup.successes.max(1) {
                self.startup_passed = true;
                return StartupVerdict::Passed;
            }
        } else {
            self.startup_successes = 0;
            self.startup_failures += 1;
            if startup.retries > 0 && self.startup_failures >= startup.retries {
                return StartupVerdict::Failed;
            }
        }
        StartupVerdict::Pending
    }

    /// Record a check's result. `in_start_period`: failures do not count yet.
    pub fn record(&mut self, check: &HealthCheck, entry: HealthLogEntry, in_start_period: bool) {
        if entry.exit_code == 0 {
            self.status = "healthy".into();
            self.failing_streak = 0;
        } else if !in_start_period {
            self.failing_streak += 1;
            if self.failing_streak >= check.retries.max(1) {
                self.status = "unhealthy".into();
            }
        }
        self.push_log(entry);
    }

    /// Keep a result in the log, the newest `MAX_LOG_ENTRIES` only.
    fn push_log(&mut self, entry: HealthLogEntry) {
        self.log.push(entry);
        if self.log.len() > MAX_LOG_ENTRIES {
            let extra = self.log.len() - MAX_LOG_ENTRIES;
            self.log.drain(..extra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(retries: u32) -> HealthCheck {
        HealthCheck {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval_secs: 30,
            timeout_secs: 30,
            start_period_secs: 0,
            retries,
            on_failure: OnFailure::None,
            startup: None,
        }
    }

    fn entry(code: i32) -> HealthLogEntry {
        HealthLogEntry {
            start: Utc::now(),
            end: Utc::now(),
            exit_code: code,
            output: String::new(),
        }
    }

    /// A startup passes after `successes` passes in a row (a failure starts the count
    /// again), fails after `retries` failures in a row (never with 0), and results before
    /// its delay only go to the log.
    #[test]
    fn a_startup_passes_in_a_row_and_fails_after_its_retries() {
        let startup = StartupCheck {
            test: vec!["CMD".into(), "true".into()],
            interval_secs: 1,
            timeout_secs: 1,
            retries: 2,
            successes: 2,
            delay_secs: 0,
        };
        let mut state = HealthState::starting();
        assert_eq!(
            state.record_startup(&startup, entry(0), true),
            StartupVerdict::Pending
        );
        assert_eq!(
            state.record_startup(&startup, entry(1), true),
            StartupVerdict::Pending
        );
        assert_eq!(
            state.record_startup(&startup, entry(0), true),
            StartupVerdict::Pending
        );
        assert_eq!(
            state.record_startup(&startup, entry(0), true),
            StartupVerdict::Passed
        );
        assert!(state.startup_passed);
        assert_eq!(state.status, "starting");
        assert_eq!(state.log.len(), 4);

        let mut state = HealthState::starting();
        assert_eq!(
            state.record_startup(&startup, entry(1), false),
            StartupVerdict::Pending
        );
        assert_eq!(state.startup_failures, 0);
        assert_eq!(
            state.record_startup(&startup, entry(1), true),
            StartupVerdict::Pending
        );
        assert_eq!(
            state.record_startup(&startup, entry(1), true),
            StartupVerdict::Failed
        );

        let patient = StartupCheck {
            retries: 0,
            ..startup
        };
        let mut state = HealthState::starting();
        for _ in 0..10 {
            assert_eq!(
                state.record_startup(&patient, entry(1), true),
                StartupVerdict::Pending
            );
        }
        assert_eq!(state.log.len(), MAX_LOG_ENTRIES);
    }

    #[test]
    fn commands_parse_as_podmans() {
        let test = |text: &str| match HealthCheck::parse_command(text) {
            Ok(HealthCommand::Test(test)) => test,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(test("curl -f http://x"), ["CMD-SHELL", "curl -f http://x"]);
        assert_eq!(test(r#"["CMD", "true"]"#), ["CMD", "true"]);
        assert_eq!(test(r#"["ls", "/"]"#), ["CMD", "ls", "/"]);
        // The keywords on a line, as podman reads them.
        assert_eq!(test("CMD ls  -l /"), ["CMD", "ls", "-l", "/"]);
        assert_eq!(test("cmd true"), ["CMD", "true"]);
        assert_eq!(test("CMD-SHELL a && b"), ["CMD-SHELL", "a && b"]);
        assert_eq!(test("none of it"), ["CMD-SHELL", "none of it"]);
        for none in ["none", "NONE", " None ", r#"["NONE"]"#] {
            assert_eq!(
                HealthCheck::parse_command(none).unwrap(),
                HealthCommand::Disabled,
                "{none}"
            );
        }
        for empty in ["", "  "] {
            assert_eq!(
                HealthCheck::parse_command(empty).unwrap(),
                HealthCommand::NotGiven
            );
        }
        for bad in [
            "CMD",
            "cmd-shell ",
            r#"["CMD"]"#,
            r#"["CMD-SHELL"]"#,
            r#"["NONE", "x"]"#,
            "[broken",
        ] {
            assert!(HealthCheck::parse_command(bad).is_err(), "{bad}");
        }
        let shell = check(3);
        assert_eq!(shell.argv(), ["/bin/sh", "-c", "true"]);
    }

    #[test]
    fn a_containers_partial_check_is_merged_into_its_images() {
        let image = HealthCheck {
            test: vec!["CMD".into(), "check".into()],
            interval_secs: 60,
            timeout_secs: 5,
            start_period_secs: 2,
            retries: 7,
            on_failure: OnFailure::None,
            startup: None,
        };
        let merged = |given: serde_json::Value| {
            HealthCheck::from_api(&HealthCheck::merge_api(&given, Some(&image)))
                .unwrap()
                .unwrap()
        };
        // An interval alone: the image's test and the rest of its times.
        let check = merged(serde_json::json!({"Interval": 10_000_000_000u64, "Timeout": 0}));
        assert_eq!(check.test, image.test);
        assert_eq!(
            (
                check.interval_secs,
                check.timeout_secs,
                check.start_period_secs,
                check.retries
            ),
            (10, 5, 2, 7)
        );
        // A test of its own keeps the image's times where it gives none.
        let check = merged(serde_json::json!({"Test": ["CMD-SHELL", "mine"], "Retries": 1}));
        assert_eq!(check.test, ["CMD-SHELL", "mine"]);
        assert_eq!((check.interval_secs, check.retries), (60, 1));
        let check = merged(serde_json::json!({"Test": []}));
        assert_eq!(check.test, image.test);
        // No image check: the container's alone (no test, no check).
        let alone = serde_json::json!({"Interval": 10_000_000_000u64});
        assert!(HealthCheck::from_api(&HealthCheck::merge_api(&alone, None))
            .unwrap()
            .is_none());
    }

    #[test]
    fn api_health_configs_are_read() {
        let value = serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64, "Retries": 2});
        let check = HealthCheck::from_api(&value).unwrap().unwrap();
        assert_eq!(
            (check.interval_secs, check.timeout_secs, check.retries),
            (5, 30, 2)
        );
        assert!(
            HealthCheck::from_api(&serde_json::json!({"Test": ["NONE"]}))
                .unwrap()
                .is_none()
        );
        assert!(HealthCheck::from_api(&serde_json::json!({}))
            .unwrap()
            .is_none());
        assert!(HealthCheck::from_api(&serde_json::json!({"Test": ["sh"]})).is_err());
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy() {
        let check = check(2);
        let mut state = HealthState::starting();
        state.record(&check, entry(1), false);
        assert_eq!(
            (state.status.as_str(), state.failing_streak),
            ("starting", 1)
        );
        state.record(&check, entry(1), false);
        assert_eq!(state.status, "unhealthy");
        state.record(&check, entry(0), false);
        assert_eq!(
            (state.status.as_str(), state.failing_streak),
            ("healthy", 0)
        );
        // In the start period failures do not count.
        let mut state = HealthState::starting();
        state.record(&check, entry(1), true);
        state.record(&check, entry(1), true);
        assert_eq!(
            (state.status.as_str(), state.failing_streak),
            ("starting", 0)
        );
        // Only the last five results are kept.
        for _ in 0..8 {
            state.record(&check, entry(0), false);
        }
        assert_eq!(state.log.len(), MAX_LOG_ENTRIES);
    }
}
