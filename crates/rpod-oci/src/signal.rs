//! Signal names and numbers as podman users type them (`TERM`, `SIGTERM`, `15`, `RTMIN+3`).

use nix::sys::signal::Signal;

/// Parse a signal given by name (with or without `SIG`, any case) or by number.
pub fn parse_signal(text: &str) -> Result<i32, String> {
    let trimmed = text.trim();
    let invalid = || format!("invalid signal: {text}");
    if trimmed.is_empty() {
        return Err(invalid());
    }
    if let Ok(number) = trimmed.parse::<i32>() {
        return match number {
            n if n > libc::SIGRTMAX() => {
                Err(format!("valid signals are 1 through {}", libc::SIGRTMAX()))
            }
            n if n < 1 => Err(invalid()),
            n => Ok(n),
        };
    }
    let upper = trimmed.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rt) = name.strip_prefix("RTMIN") {
        return realtime(libc::SIGRTMIN(), rt, 1).ok_or_else(invalid);
    }
    if let Some(rt) = name.strip_prefix("RTMAX") {
        return realtime(libc::SIGRTMAX(), rt, -1).ok_or_else(invalid);
    }
    let full = format!("SIG{name}");
    full.parse::<Signal>()
        .map(|s| s as i32)
        .or(match name {
            "IOT" => Ok(libc::SIGABRT),
            "CLD" => Ok(libc::SIGCHLD),
            "POLL" => Ok(libc::SIGIO),
            _ => Err(()),
        })
        .map_err(|_| invalid())
}

fn realtime(base: i32, offset: &str, direction: i32) -> Option<i32> {
    let n = if offset.is_empty() {
        0
    } else {
        let sign_ok = if direction > 0 {
            offset.starts_with('+')
        } else {
            offset.starts_with('-')
        };
        if !sign_ok {
            return None;
        }
        offset[1..].parse::<i32>().ok()?
    };
    let number = base + direction * n;
    (libc::SIGRTMIN()..=libc::SIGRTMAX())
        .contains(&number)
        .then_some(number)
}

/// The conventional name of a signal number (`SIGTERM`; a real-time one counted from the
/// nearer end, `SIGRTMIN+3`, `SIGRTMAX-1`, as `kill -l` names them), or `(N)` when it has
/// none.
pub fn signal_name(number: i32) -> String {
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    if (min..=max).contains(&number) {
        let from_min = number - min;
        return match from_min {
            0 => "SIGRTMIN".into(),
            n if n <= (max - min) / 2 => format!("SIGRTMIN+{n}"),
            _ if number == max => "SIGRTMAX".into(),
            _ => format!("SIGRTMAX-{}", max - number),
        };
    }
    Signal::try_from(number)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("({number})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_realtime() {
        assert_eq!(parse_signal("TERM"), Ok(15));
        assert_eq!(parse_signal("sigkill"), Ok(9));
        assert_eq!(parse_signal("SIGHUP"), Ok(1));
        assert_eq!(parse_signal("2"), Ok(2));
        assert_eq!(parse_signal("RTMIN+1"), Ok(libc::SIGRTMIN() + 1));
        assert_eq!(parse_signal("SIGRTMAX-1"), Ok(libc::SIGRTMAX() - 1));
        assert!(parse_signal("FOO").is_err());
        assert!(parse_signal("0").is_err());
        assert_eq!(
            parse_signal("65").unwrap_err(),
            "valid signals are 1 through 64"
        );
        assert!(parse_signal("").is_err());
        assert_eq!(parse_signal("FOO").unwrap_err(), "invalid signal: FOO");
    }

    #[test]
    fn names_of_numbers() {
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(200), "(200)");
        assert_eq!(signal_name(libc::SIGRTMIN()), "SIGRTMIN");
        assert_eq!(signal_name(libc::SIGRTMIN() + 3), "SIGRTMIN+3");
        assert_eq!(signal_name(libc::SIGRTMAX() - 1), "SIGRTMAX-1");
        assert_eq!(signal_name(libc::SIGRTMAX()), "SIGRTMAX");
        for number in libc::SIGRTMIN()..=libc::SIGRTMAX() {
            assert_eq!(parse_signal(&signal_name(number)), Ok(number));
        }
    }
}
