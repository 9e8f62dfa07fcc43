//! Printing logs: the `logs` command, and following a running container's log file for
//! `run` and `start -a` (until the streams work lands, output is read from the log).

use std::io::{self, Write};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, FixedOffset, Local, TimeZone, Utc};

use rpod_engine::logs::{each_line, LogFilter, LogLine, Stream};

/// Parse `--since`/`--until`: RFC 3339, a date, Unix seconds, or a duration back from now.
pub fn parse_time(text: &str) -> Result<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t);
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let naive = date.and_hms_opt(0, 0, 0).context("invalid date")?;
        if let Some(t) = Local.from_local_datetime(&naive).single() {
            return Ok(t.fixed_offset());
        }
    }
    if let Ok(seconds) = text.parse::<f64>() {
        let t = Utc
            .timestamp_opt(seconds.trunc() as i64, (seconds.fract() * 1e9) as u32)
            .single()
            .context("timestamp out of range")?;
        return Ok(t.fixed_offset());
    }
    if let Some(duration) = parse_duration(text) {
        return Ok((Utc::now() - duration).fixed_offset());
    }
    bail!("invalid time {text:?}: use RFC 3339, YYYY-MM-DD, Unix seconds, or a duration like 10m")
}

/// Go-style durations: `1h30m`, `10s`, `250ms`.
pub fn parse_duration(text: &str) -> Option<chrono::Duration> {
    let mut total_ms: f64 = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return None,
        };
        total_ms += number * factor;
        rest = &rest[unit_end..];
    }
    Some(chrono::Duration::milliseconds(total_ms as i64))
}

fn write_line(line: &LogLine, prefix: &str, timestamps: bool) -> io::Result<()> {
    let mut text = String::new();
    text.push_str(prefix);
    if timestamps {
        // In UTC with a `Z`, as podman prints them.
        text.push_str(
            &line
                .time
                .with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        );
        text.push(' ');
    }
    text.push_str(&line.text);
    if line.complete {
        text.push('\n');
    }
    match line.stream {
        Stream::Stdout => io::stdout().lock().write_all(text.as_bytes()),
        Stream::Stderr => io::stderr().lock().write_all(text.as_bytes()),
    }
}

/// Print the log lines of a container (with an id prefix when several are shown).
pub fn print_log(
    path: &std::path::Path,
    prefix: &str,
    filter_by: &LogFilter,
    timestamps: bool,
) -> Result<()> {
    each_line(path, filter_by, |line| write_line(line, prefix, timestamps))?;
    io::stdout().flush()?;
    Ok(())
}

/// Print one line as `logs` does, or report a closed output as an error.
pub fn print_line(line: &LogLine, prefix: &str, timestamps: bool) -> io::Result<()> {
    write_line(line, prefix, timestamps)?;
    io::stdout().flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert!(parse_time("2026-01-02T03:04:05Z").is_ok());
        assert!(parse_time("2026-01-02").is_ok());
        assert!(parse_time("1700000000").is_ok());
        let ten_minutes_ago = parse_time("10m").unwrap();
        let delta = Utc::now().fixed_offset() - ten_minutes_ago;
        assert!((delta.num_seconds() - 600).abs() < 5);
        assert_eq!(parse_duration("1h30m").unwrap().num_minutes(), 90);
        assert!(parse_time("yesterday").is_err());
    }
}
