//! Printing logs: the `logs` command, and following a running container's log file for
//! `run` and `start -a` (until the streams work lands, output is read from the log).

use std::io::{self, Write};

use anyhow::Result;
use chrono::{DateTime, FixedOffset, Utc};

use rpod_engine::logs::{each_line, LogFilter, LogLine, Stream};

/// Parse `--since`/`--until`: RFC 3339, a date, Unix seconds, or a duration back from now.
pub fn parse_time(text: &str) -> Result<DateTime<FixedOffset>> {
    rpod_engine::human::parse_time(text).map_err(anyhow::Error::msg)
}

pub use rpod_engine::human::parse_duration;

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
        // Without a zone: local time, to the second (a fraction too) or the minute.
        let local = |text: &str| parse_time(text).unwrap().naive_local().to_string();
        assert_eq!(local("2026-01-02T03:04:05"), "2026-01-02 03:04:05");
        assert_eq!(local("2026-01-02T03:04:05.5"), "2026-01-02 03:04:05.500");
        assert_eq!(local("2026-01-02T03:04"), "2026-01-02 03:04:00");
        assert!(parse_time("2026-01-02T25:00").is_err());
        assert!(parse_time("1700000000").is_ok());
        let ten_minutes_ago = parse_time("10m").unwrap();
        let delta = Utc::now().fixed_offset() - ten_minutes_ago;
        assert!((delta.num_seconds() - 600).abs() < 5);
        assert_eq!(parse_duration("1h30m").unwrap().num_minutes(), 90);
        assert!(parse_time("yesterday").is_err());
    }
}
