//! Human-readable durations and sizes, worded as podman (and Docker) word them.

use chrono::{DateTime, FixedOffset, Local, TimeZone, Utc};

use crate::container::{ContainerRecord, Status};

/// "5 seconds", "About a minute", "3 hours", ...
///
/// From an hour on, podman (Docker's go-units) rounds to the nearest hour and counts days,
/// weeks and months from that rounded figure: 13 h 54 min is "14 hours"; years come from
/// the whole hours.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let minutes = s / 60;
    let hours = (s + 1800) / 3600;
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 14 => format!("{} days", hours / 24),
        _ if hours < 24 * 60 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", s / 3600 / 24 / 365),
    }
}

/// "5 seconds ago".
pub fn ago(time: DateTime<Utc>) -> String {
    format!("{} ago", duration((Utc::now() - time).num_seconds()))
}

/// Sizes in SI units with three significant digits: "4.86 MB".
pub fn size(bytes: u64) -> String {
    let (number, unit) = significant(bytes, 3);
    format!("{number} {unit}")
}

/// Sizes as podman's `image tree` writes them (Go's `HumanSizeWithPrecision(size, 4)`):
/// four significant digits, no space: "2.147MB".
pub fn size_precise(bytes: u64) -> String {
    let (number, unit) = significant(bytes, 4);
    format!("{number}{unit}")
}

/// Sizes as podman's `ps --size` writes them (`HumanSizeWithPrecision(size, 3)`): three
/// significant digits, no space: "1.99MB".
pub fn size_compact(bytes: u64) -> String {
    let (number, unit) = significant(bytes, 3);
    format!("{number}{unit}")
}

/// Sizes in binary units as go-units' `BytesSize` writes them (podman's `MemUsageBytes`):
/// four significant digits, no space: "1.148MiB".
pub fn size_binary(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let (number, unit) = significant_in(bytes, 4, 1024.0, &UNITS);
    format!("{number}{unit}")
}

/// `bytes` in the largest SI unit that leaves at least 1, rounded to `digits` significant
/// digits (none lost before the point), trailing zeros dropped.
fn significant(bytes: u64, digits: usize) -> (String, &'static str) {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    significant_in(bytes, digits, 1000.0, &UNITS)
}

/// `significant` with units of `base` (1000 or 1024).
fn significant_in(
    bytes: u64,
    digits: usize,
    base: f64,
    units: &[&'static str; 7],
) -> (String, &'static str) {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= base && unit < units.len() - 1 {
        value /= base;
        unit += 1;
    }
    let whole_digits = if value >= 1.0 {
        value.log10().floor() as usize + 1
    } else {
        1
    };
    let decimals = digits.saturating_sub(whole_digits);
    let rounded = format!("{value:.decimals$}");
    let trimmed = if rounded.contains('.') {
        rounded
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        rounded
    };
    (trimmed, units[unit])
}

/// A duration of `nanos` as Go's `time.Duration` prints it: "0s", "750ns", "1.5µs",
/// "8.946109ms", "2.5s", "1m0.000000001s", "1h2m3s".
pub fn go_duration_nanos(nanos: u64) -> String {
    // The whole units, then up to `digits` decimals without trailing zeros.
    let decimal = |whole: u64, fraction: u64, digits: usize| {
        let fraction = format!("{fraction:0digits$}");
        let fraction = fraction.trim_end_matches('0');
        match fraction.is_empty() {
            true => whole.to_string(),
            false => format!("{whole}.{fraction}"),
        }
    };
    match nanos {
        0 => "0s".into(),
        1..=999 => format!("{nanos}ns"),
        1_000..=999_999 => format!("{}µs", decimal(nanos / 1_000, nanos % 1_000, 3)),
        1_000_000..=999_999_999 => {
            format!("{}ms", decimal(nanos / 1_000_000, nanos % 1_000_000, 6))
        }
        _ => {
            let whole = nanos / 1_000_000_000;
            let seconds = decimal(whole % 60, nanos % 1_000_000_000, 9);
            let (hours, minutes) = (whole / 3600, whole % 3600 / 60);
            match (hours, minutes) {
                (0, 0) => format!("{seconds}s"),
                (0, _) => format!("{minutes}m{seconds}s"),
                _ => format!("{hours}h{minutes}m{seconds}s"),
            }
        }
    }
}

/// Parse `--since`/`--until`: RFC 3339, a date, a date and time without a zone (local
/// time, as podman and Docker read `2026-01-02T15:04:05`, or to the minute), Unix
/// seconds, or a duration back from now.
pub fn parse_time(text: &str) -> std::result::Result<DateTime<FixedOffset>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t);
    }
    let local_time = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        });
    if let Some(naive) = local_time {
        if let Some(t) = Local.from_local_datetime(&naive).earliest() {
            return Ok(t.fixed_offset());
        }
    }
    if let Ok(seconds) = text.parse::<f64>() {
        let t = Utc
            .timestamp_opt(seconds.trunc() as i64, (seconds.fract() * 1e9) as u32)
            .single()
            .ok_or("timestamp out of range")?;
        return Ok(t.fixed_offset());
    }
    if let Some(duration) = parse_duration(text) {
        return Ok((Utc::now() - duration).fixed_offset());
    }
    Err(format!(
        "invalid time {text:?}: use RFC 3339, YYYY-MM-DD, Unix seconds, or a duration like 10m"
    ))
}

/// A quantity written as a number and a unit (`1.5g`, `64Mi`, `10kb`, `500`): the number
/// and the unit as written (empty without one); `None` when it does not start with a number.
/// Each caller knows its units (binary, decimal, Kubernetes').
pub fn number_and_unit(text: &str) -> Option<(f64, &str)> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number: f64 = text[..split].parse().ok()?;
    Some((number, &text[split..]))
}

/// Go-style durations, as Go's `time.ParseDuration` reads them: `1h30m`, `10s`, `250ms`,
/// `1.5us`, a sign before them, and `0` alone without a unit.
pub fn parse_duration(text: &str) -> Option<chrono::Duration> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if unsigned == "0" {
        return Some(chrono::Duration::zero());
    }
    let mut total_ns: f64 = 0.0;
    let mut rest = unsigned;
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
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total_ns += number * factor;
        rest = &rest[unit_end..];
    }
    // Go's durations are whole nanoseconds that fit in an i64 (about 292 years).
    if total_ns >= i64::MAX as f64 {
        return None;
    }
    let duration = chrono::Duration::nanoseconds(total_ns as i64);
    Some(if negative { -duration } else { duration })
}

/// A container's status as `ps` words it: "Up 5 seconds", "Exited (0) 2 minutes ago".
pub fn container_status(record: &ContainerRecord) -> String {
    let s = &record.state;
    match s.status {
        Status::Running => match &s.health {
            // podman shows the health after the uptime.
            Some(health) => format!("Up {} ({})", duration(since(s.started_at)), health.status),
            None => format!("Up {}", duration(since(s.started_at))),
        },
        Status::Paused => format!("Up {} (paused)", duration(since(s.started_at))),
        Status::Stopped | Status::Exited => match s.finished_at {
            Some(finished) => format!("Exited ({}) {}", s.exit_code.unwrap_or(0), ago(finished)),
            // An exit whose time was lost (a reboot, a monitor that died).
            None => format!("Exited ({})", s.exit_code.unwrap_or(0)),
        },
        Status::Configured => "Created".into(),
        Status::Created => "Initialized".into(),
        Status::Stopping => "Stopping".into(),
        Status::Removing => "Removing".into(),
    }
}

fn since(t: Option<DateTime<Utc>>) -> i64 {
    t.map(|t| (Utc::now() - t).num_seconds()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_gos_parse_duration_reads_them() {
        let nanos = |text: &str| parse_duration(text).and_then(|d| d.num_nanoseconds());
        assert_eq!(nanos("1h30m"), Some(5_400_000_000_000));
        assert_eq!(nanos("250ms"), Some(250_000_000));
        assert_eq!(nanos("1.5us"), Some(1_500));
        assert_eq!(nanos("2\u{b5}s"), Some(2_000));
        assert_eq!(nanos("7ns"), Some(7));
        assert_eq!(nanos(".5s"), Some(500_000_000));
        assert_eq!(nanos("-1m"), Some(-60_000_000_000));
        assert_eq!(nanos("+10s"), Some(10_000_000_000));
        // `0` alone needs no unit; any other number does.
        assert_eq!(nanos("0"), Some(0));
        assert_eq!(nanos("-0"), Some(0));
        for bad in ["", "5", "10x", "s", "-", "1e3s", "3000000h"] {
            assert_eq!(nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn quantities_split_into_number_and_unit() {
        assert_eq!(number_and_unit(" 1.5g "), Some((1.5, "g")));
        assert_eq!(number_and_unit("64Mi"), Some((64.0, "Mi")));
        assert_eq!(number_and_unit("500"), Some((500.0, "")));
        assert_eq!(number_and_unit("k"), None);
        assert_eq!(number_and_unit("1.2.3m"), None);
    }

    #[test]
    fn an_exit_whose_time_was_lost_says_so_plainly() {
        let config = crate::container::test_config();
        let mut state = crate::container::ContainerState::new();
        state.status = Status::Exited;
        state.exit_code = Some(-1);
        let mut record = ContainerRecord { config, state };
        assert_eq!(container_status(&record), "Exited (-1)");
        record.state.finished_at = Some(Utc::now() - chrono::Duration::seconds(120));
        assert_eq!(container_status(&record), "Exited (-1) 2 minutes ago");
    }

    #[test]
    fn words() {
        assert_eq!(duration(0), "Less than a second");
        assert_eq!(duration(5), "5 seconds");
        assert_eq!(duration(70), "About a minute");
        assert_eq!(duration(600), "10 minutes");
        assert_eq!(duration(7200), "2 hours");
        // Hours round to the nearest, and days and weeks count from them.
        assert_eq!(duration(13 * 3600 + 54 * 60), "14 hours");
        assert_eq!(duration(13 * 3600 + 29 * 60), "13 hours");
        assert_eq!(duration(3600 + 1800), "2 hours");
        assert_eq!(duration(3600 + 1799), "About an hour");
        assert_eq!(duration(47 * 3600 + 1800), "2 days");
        assert_eq!(duration(13 * 86400 + 23 * 3600 + 40 * 60), "2 weeks");
        assert_eq!(duration(59 * 86400 + 23 * 3600 + 40 * 60), "2 months");
        assert_eq!(duration(800 * 86400), "2 years");
        assert_eq!(size(4_861_000), "4.86 MB");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_200_000_000), "1.2 GB");
        assert_eq!(size(0), "0 B");
        // podman's image tree.
        assert_eq!(size_precise(2_147_000), "2.147MB");
        assert_eq!(size_precise(4_608), "4.608kB");
        assert_eq!(size_precise(2_140_000), "2.14MB");
        assert_eq!(size_precise(0), "0B");
        assert_eq!(size_precise(12_345_678), "12.35MB");
        assert_eq!(size_compact(1_990_000), "1.99MB");
        assert_eq!(size_compact(12), "12B");
        assert_eq!(size_compact(699_400), "699kB");
        // podman's stats.
        assert_eq!(size_precise(1_204_224), "1.204MB");
        assert_eq!(size_precise(25_276_203_008), "25.28GB");
        assert_eq!(size_precise(548_864), "548.9kB");
        assert_eq!(size_binary(1_204_224), "1.148MiB");
        assert_eq!(size_binary(25_276_203_008), "23.54GiB");
        assert_eq!(size_binary(487_424), "476KiB");
        assert_eq!(size_binary(0), "0B");
    }

    #[test]
    fn durations_as_go_prints_them() {
        assert_eq!(go_duration_nanos(0), "0s");
        assert_eq!(go_duration_nanos(750), "750ns");
        assert_eq!(go_duration_nanos(1_500), "1.5µs");
        assert_eq!(go_duration_nanos(8_946_109), "8.946109ms");
        assert_eq!(go_duration_nanos(2_000_000), "2ms");
        assert_eq!(go_duration_nanos(2_500_000_000), "2.5s");
        assert_eq!(go_duration_nanos(60_000_000_001), "1m0.000000001s");
        assert_eq!(go_duration_nanos(3_723_000_000_000), "1h2m3s");
        assert_eq!(go_duration_nanos(7_200_000_000_000), "2h0m0s");
    }
}

/// Published ports as `ps` shows them: `127.0.0.1:8080->80/tcp, 0.0.0.0:9000-9001->9000-9001/udp`.
pub fn ports(mappings: &[crate::network::ports::PortMapping]) -> String {
    let span = |start: u16, range: u16| {
        if range > 1 {
            format!("{start}-{}", start + range - 1)
        } else {
            start.to_string()
        }
    };
    mappings
        .iter()
        .map(|m| {
            let ip = if m.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &m.host_ip
            };
            format!(
                "{ip}:{}->{}/{}",
                span(m.host_port, m.range),
                span(m.container_port, m.range),
                m.protocol
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod port_tests {
    #[test]
    fn ports_as_ps_shows_them() {
        let mut m = crate::network::ports::parse_publish("127.0.0.1:8080:80").unwrap();
        m.extend(crate::network::ports::parse_publish("9000-9001:9000-9001/udp").unwrap());
        assert_eq!(
            super::ports(&m),
            "127.0.0.1:8080->80/tcp, 0.0.0.0:9000-9001->9000-9001/udp"
        );
    }
}
