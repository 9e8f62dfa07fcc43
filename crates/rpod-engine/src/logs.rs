//! Reading conmon's k8s-file logs: `<RFC3339Nano> <stdout|stderr> <P|F> <text>` per line,
//! where `P` marks a partial line continued by the next record of the same stream.

use std::path::Path;

use chrono::{DateTime, FixedOffset};

use crate::{EngineError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One logical line, partial records joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: DateTime<FixedOffset>,
    pub stream: Stream,
    /// Text without the trailing newline.
    pub text: String,
    /// False for a last line the container never ended with a newline.
    pub complete: bool,
}

/// Parse one record. Returns (time, stream, partial, text).
fn parse_record(line: &str) -> Option<(DateTime<FixedOffset>, Stream, bool, &str)> {
    let mut parts = line.splitn(4, ' ');
    let time = DateTime::parse_from_rfc3339(parts.next()?).ok()?;
    let stream = match parts.next()? {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        "P" => true,
        "F" => false,
        _ => return None,
    };
    Some((time, stream, partial, parts.next().unwrap_or("")))
}

/// Turns k8s-file bytes, fed in any pieces, into logical lines: records are split at
/// newlines and partial (`P`) records are joined with what follows on the same stream.
#[derive(Default)]
pub struct LogReader {
    /// Bytes of a record whose newline has not arrived yet.
    incomplete: Vec<u8>,
    /// Joined partial text per stream, with the time of its first record.
    pending: [Option<(DateTime<FixedOffset>, String)>; 2],
}

impl LogReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes; returns the lines they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<LogLine> {
        self.incomplete.extend_from_slice(bytes);
        let mut lines = Vec::new();
        let mut consumed = 0;
        while let Some(newline) = self.incomplete[consumed..].iter().position(|b| *b == b'\n') {
            let record = String::from_utf8_lossy(&self.incomplete[consumed..consumed + newline])
                .into_owned();
            consumed += newline + 1;
            let Some((time, stream, partial, text)) = parse_record(&record) else {
                continue;
            };
            let slot = &mut self.pending[stream as usize];
            let (first_time, mut joined) = slot.take().unwrap_or((time, String::new()));
            joined.push_str(text);
            if partial {
                *slot = Some((first_time, joined));
            } else {
                lines.push(LogLine {
                    time: first_time,
                    stream,
                    text: joined,
                    complete: true,
                });
            }
        }
        self.incomplete.drain(..consumed);
        lines
    }

    /// The partial lines left at the end of the log (the container never ended them).
    pub fn finish(&mut self) -> Vec<LogLine> {
        let mut lines = Vec::new();
        for (index, slot) in self.pending.iter_mut().enumerate() {
            if let Some((time, text)) = slot.take() {
                lines.push(LogLine {
                    time,
                    stream: if index == 0 {
                        Stream::Stdout
                    } else {
                        Stream::Stderr
                    },
                    text,
                    complete: false,
                });
            }
        }
        lines
    }
}

/// Hand `sink` the lines of a log file that `filter_by` keeps, in the file's order, reading
/// it a piece at a time: memory stays bounded by the tail asked for, not by the log's
/// size (a container's output is not ours to trust). A missing file is an empty log.
pub fn each_line(
    path: &Path,
    filter_by: &LogFilter,
    mut sink: impl FnMut(&LogLine) -> std::io::Result<()>,
) -> Result<()> {
    let current: Box<dyn std::io::Read> = match open_log_file(path) {
        Ok(file) => Box::new(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Box::new(std::io::empty()),
        Err(e) => return Err(EngineError::io("reading log", path, e)),
    };
    let mut files = std::io::Read::chain(open_log_files_before(path)?, current);
    let mut reader = LogReader::new();
    read_existing(&mut files, &mut reader, filter_by, true, &mut sink)
        .map_err(|e| EngineError::io("reading log", path, e))
}

/// Whether a line falls in the filter's time window.
fn in_window(filter_by: &LogFilter, line: &LogLine) -> bool {
    filter_by.since.is_none_or(|s| line.time >= s) && filter_by.until.is_none_or(|u| line.time <= u)
}

/// Read `file` to its current end through `reader`, handing `sink` the lines in the window,
/// or only the last `tail` of them; with `finish`, also the partial lines left at the end.
fn read_existing(
    file: &mut dyn std::io::Read,
    reader: &mut LogReader,
    filter_by: &LogFilter,
    finish: bool,
    sink: &mut dyn FnMut(&LogLine) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut tail: std::collections::VecDeque<LogLine> = std::collections::VecDeque::new();
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut chunk)?;
        let mut lines = match (n, finish) {
            (0, true) => reader.finish(),
            (0, false) => Vec::new(),
            _ => reader.feed(&chunk[..n]),
        };
        // A line joined from partial records is dated by its first record: in time order
        // among the lines a piece completes (a long line on one stream may complete after
        // a short one on the other).
        lines.sort_by_key(|l| l.time);
        for line in lines.into_iter().filter(|l| in_window(filter_by, l)) {
            match filter_by.tail {
                None => sink(&line)?,
                Some(0) => {}
                Some(n) => {
                    if tail.len() == n {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            }
        }
        if n == 0 {
            break;
        }
    }
    tail.iter().try_for_each(sink)
}

/// What `--log-opt` (or an API's log configuration) sets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogOptions {
    /// `max-size`: the size at which the log starts afresh (or rotates).
    pub max_size: Option<u64>,
    /// `max-file`: the files the log is kept in at that size, itself included (Docker's).
    pub max_file: Option<u32>,
    pub tag: Option<String>,
    /// `path`: the log there instead of in the container's directory.
    pub path: Option<std::path::PathBuf>,
    /// `labels=`, `env=`, `labels-regex=`, `env-regex=` (Docker's).
    pub attributes: LogAttributes,
}

/// Docker's log attributes (`--log-opt labels=A,B`, `env=X,Y`, `labels-regex=RE`,
/// `env-regex=RE`): the container's labels and environment variables of those names that
/// each log line carries, which Docker's `logs --details` shows before it. Their values
/// are fixed at create, so rpod keeps the choice and finds the values when they are shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogAttributes {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_regex: Option<String>,
}

impl LogAttributes {
    pub fn is_empty(&self) -> bool {
        *self == LogAttributes::default()
    }

    /// The attributes of a container with these labels and environment (`NAME=VALUE`
    /// entries), by name.
    pub fn values(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
        env: &[String],
    ) -> std::collections::BTreeMap<String, String> {
        let variables: std::collections::BTreeMap<&str, &str> =
            env.iter().filter_map(|e| e.split_once('=')).collect();
        let mut found = std::collections::BTreeMap::new();
        let mut pick = |names: &[String],
                        pattern: Option<&String>,
                        source: &mut dyn Iterator<Item = (&str, &str)>| {
            // Checked when the option was parsed.
            let pattern = pattern.and_then(|p| regex::Regex::new(p).ok());
            for (name, value) in source {
                if names.iter().any(|n| n == name)
                    || pattern.as_ref().is_some_and(|p| p.is_match(name))
                {
                    found.insert(name.to_string(), value.to_string());
                }
            }
        };
        pick(
            &self.labels,
            self.labels_regex.as_ref(),
            &mut labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        pick(
            &self.env,
            self.env_regex.as_ref(),
            &mut variables.iter().map(|(k, v)| (*k, *v)),
        );
        found
    }

    /// What Docker's `logs --details` writes before each line (and a space): the
    /// attributes as `name=value` pairs sorted by name, joined by commas, each part
    /// escaped as Go's `url.QueryEscape` escapes it; empty without attributes.
    pub fn details(values: &std::collections::BTreeMap<String, String>) -> String {
        values
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn pairs_into(&self, pairs: &mut std::collections::BTreeMap<String, String>) {
        if !self.labels.is_empty() {
            pairs.insert("labels".into(), self.labels.join(","));
        }
        if !self.env.is_empty() {
            pairs.insert("env".into(), self.env.join(","));
        }
        if let Some(pattern) = &self.labels_regex {
            pairs.insert("labels-regex".into(), pattern.clone());
        }
        if let Some(pattern) = &self.env_regex {
            pairs.insert("env-regex".into(), pattern.clone());
        }
    }
}

/// Go's `url.QueryEscape`, whose output Docker's clients see: letters, digits and `-_.~`
/// kept, a space as `+`, every other byte as `%XX`. Written here because the form
/// encoding of the `url` crates keeps `*` and escapes `~`. (Templates' `urlquery` too.)
pub fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

impl LogOptions {
    /// The options set, as `--log-opt` words (`parse`'s input; the size in bytes).
    pub fn pairs(&self) -> std::collections::BTreeMap<String, String> {
        let mut pairs = std::collections::BTreeMap::new();
        if let Some(size) = self.max_size {
            pairs.insert("max-size".into(), size.to_string());
        }
        if let Some(files) = self.max_file {
            pairs.insert("max-file".into(), files.to_string());
        }
        if let Some(tag) = &self.tag {
            pairs.insert("tag".into(), tag.clone());
        }
        if let Some(path) = &self.path {
            pairs.insert("path".into(), path.display().to_string());
        }
        self.attributes.pairs_into(&mut pairs);
        pairs
    }

    /// `max-size=SIZE` (decimal units as podman reads them: `1k` is 1000 bytes),
    /// `max-file=N`, `tag=TAG`, `path=FILE` (absolute, in an existing directory),
    /// Docker's `labels=`, `env=` (comma-separated names), `labels-regex=` and `env-regex=`
    /// (regular expressions); any other key is refused, never ignored.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut options = LogOptions::default();
        let bad = |message: String| EngineError::InvalidArg(message);
        for (key, value) in pairs {
            match key {
                "max-size" => {
                    options.max_size = Some(decimal_size(value).ok_or_else(|| {
                        bad(format!(
                            "invalid --log-opt max-size={value}: a size such as 10m (k, m or g)"
                        ))
                    })?)
                }
                "max-file" => {
                    let max = rpod_oci::LOG_FILES_MAX;
                    let files = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=max).contains(n))
                        .ok_or_else(|| {
                            bad(format!(
                                "invalid --log-opt max-file={value}: a number of files from 1 to {max}"
                            ))
                        })?;
                    options.max_file = Some(files);
                }
                "tag" => options.tag = Some(value.to_string()),
                "labels" | "env" => {
                    let names = value
                        .split(',')
                        .filter(|n| !n.is_empty())
                        .map(String::from)
                        .collect();
                    match key {
                        "labels" => options.attributes.labels = names,
                        _ => options.attributes.env = names,
                    }
                }
                "labels-regex" | "env-regex" => {
                    regex::Regex::new(value).map_err(|e| {
                        bad(format!("invalid --log-opt {key}={value}: {e}"))
                    })?;
                    let pattern = (!value.is_empty()).then(|| value.to_string());
                    match key {
                        "labels-regex" => options.attributes.labels_regex = pattern,
                        _ => options.attributes.env_regex = pattern,
                    }
                }
                "path" => {
                    let path = std::path::PathBuf::from(value);
                    if !path.is_absolute() || !path.parent().is_some_and(|d| d.is_dir()) {
                        return Err(bad(format!(
                            "invalid --log-opt path={value}: an absolute path in an existing directory"
                        )));
                    }
                    if path
                        .symlink_metadata()
                        .is_ok_and(|m| m.file_type().is_symlink())
                    {
                        return Err(bad(format!(
                            "invalid --log-opt path={value}: a symbolic link, which no log is written or read through"
                        )));
                    }
                    options.path = Some(path);
                }
                other => {
                    return Err(EngineError::NotSupported(format!(
                        "the log option {other:?} (rpod takes max-size, max-file, tag, path, labels, env, labels-regex and env-regex)"
                    )))
                }
            }
        }
        if options.max_file.is_some_and(|n| n > 1) && options.max_size.is_none() {
            return Err(bad(
                "--log-opt max-file needs max-size (the size at which a file is full)".into(),
            ));
        }
        Ok(options)
    }
}

/// A size in decimal units (`1k` is 1000 bytes, `10mb` ten million), more than zero.
fn decimal_size(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (number, unit) = crate::human::number_and_unit(&lower)?;
    let factor = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        _ => return None,
    };
    Some((number * factor) as u64).filter(|b| *b > 0)
}

/// Open a log file for reading, never through a symbolic link at its name: the monitor
/// makes its files itself, so a link there was put by someone else (in a shared directory
/// given as `--log-opt path`) and could point rpod, running as root, at any file.
fn open_log_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => std::io::Error::other(
                "it is a symbolic link, which a log file is never read through",
            ),
            _ => e,
        })
}

/// Whether `path` names another file than the open `file` now (the monitor renamed a fresh
/// log over it).
fn replaced(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => (open.dev(), open.ino()) != (named.dev(), named.ino()),
        _ => false,
    }
}

/// The rotated files of a log, oldest first, as one stream: those rpod-monitor keeps with
/// `--log-opt max-file` (`PATH.N` ... `PATH.1`); the log itself comes after them.
fn open_log_files_before(path: &Path) -> Result<Box<dyn std::io::Read>> {
    use std::io::Read;
    let mut names: Vec<std::path::PathBuf> = (1..=rpod_oci::LOG_FILES_MAX)
        .map(|n| rpod_oci::rotated_log_path(path, n))
        .take_while(|p| p.symlink_metadata().is_ok())
        .collect();
    names.reverse();
    let mut stream: Box<dyn std::io::Read> = Box::new(std::io::empty());
    for name in names {
        match open_log_file(&name) {
            Ok(file) => stream = Box::new(stream.chain(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(EngineError::io("reading log", &name, e)),
        }
    }
    Ok(stream)
}

/// Which lines `logs` shows.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub tail: Option<usize>,
    pub since: Option<DateTime<FixedOffset>>,
    pub until: Option<DateTime<FixedOffset>>,
}

/// How often a followed log is read again once it has nothing new.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Follow a log: hand `sink` the lines so far (filtered), then what is written, until
/// `still_writing` says the writer is gone; then the file is read to its end once more (the
/// monitor writes everything before it exits). A log that does not exist yet is waited for
/// while the writer runs.
pub fn follow(
    path: &Path,
    filter_by: &LogFilter,
    mut still_writing: impl FnMut() -> bool,
    mut sink: impl FnMut(&LogLine) -> std::io::Result<()>,
) -> Result<()> {
    use std::io::Read;
    let io_err = |e| EngineError::io("following log", path, e);
    let mut file = loop {
        match open_log_file(path) {
            Ok(file) => break file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && still_writing() => {
                std::thread::sleep(FOLLOW_POLL);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(e)),
        }
    };
    let mut reader = LogReader::new();
    // What the rotated files hold comes first, then the log as it is now.
    let mut so_far = open_log_files_before(path)?.chain(&mut file);
    read_existing(&mut so_far, &mut reader, filter_by, false, &mut sink).map_err(io_err)?;
    drop(so_far);
    let in_window = |line: &LogLine| in_window(filter_by, line);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut chunk).map_err(io_err)?;
        if n > 0 {
            for line in reader.feed(&chunk[..n]).iter().filter(|l| in_window(l)) {
                sink(line).map_err(io_err)?;
            }
            continue;
        }
        // The monitor started the log afresh (its size limit): what the old file still
        // held, then the new one.
        if replaced(&file, path) {
            let mut rest = Vec::new();
            file.read_to_end(&mut rest).map_err(io_err)?;
            for line in reader.feed(&rest).iter().filter(|l| in_window(l)) {
                sink(line).map_err(io_err)?;
            }
            match open_log_file(path) {
                Ok(fresh) => file = fresh,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(e)),
            }
            continue;
        }
        if !still_writing() {
            let mut rest = Vec::new();
            file.read_to_end(&mut rest).map_err(io_err)?;
            let mut lines = reader.feed(&rest);
            lines.extend(reader.finish());
            for line in lines.iter().filter(|l| in_window(l)) {
                sink(line).map_err(io_err)?;
            }
            return Ok(());
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(path: &Path, filter_by: &LogFilter) -> Vec<LogLine> {
        let mut lines = Vec::new();
        each_line(path, filter_by, |l| {
            lines.push(l.clone());
            Ok(())
        })
        .unwrap();
        lines
    }

    fn read_log(path: &Path) -> Vec<LogLine> {
        filtered(path, &LogFilter::default())
    }

    /// The lines `follow` hands over until `writing` is cleared.
    fn followed(path: &Path, writing: &std::sync::atomic::AtomicBool) -> Vec<LogLine> {
        let mut seen = Vec::new();
        follow(
            path,
            &LogFilter::default(),
            || writing.load(std::sync::atomic::Ordering::SeqCst),
            |line| {
                seen.push(line.clone());
                Ok(())
            },
        )
        .unwrap();
        seen
    }

    #[test]
    fn each_line_streams_the_window_and_keeps_only_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = String::new();
        for i in 0..5 {
            log.push_str(&format!(
                "2024-01-01T00:00:0{i}.000000000Z stdout F line {i}\n"
            ));
        }
        log.push_str("2024-01-01T00:00:06.000000000Z stderr P unfinished\n");
        std::fs::write(&path, log).unwrap();
        let collect = |filter: &LogFilter| -> Vec<String> {
            filtered(&path, filter)
                .into_iter()
                .map(|l| l.text)
                .collect()
        };
        assert_eq!(collect(&LogFilter::default()).len(), 6);
        let tail = LogFilter {
            tail: Some(2),
            ..Default::default()
        };
        assert_eq!(collect(&tail), ["line 4", "unfinished"]);
        let since = LogFilter {
            since: Some("2024-01-01T00:00:03Z".parse().unwrap()),
            until: Some("2024-01-01T00:00:04Z".parse().unwrap()),
            tail: None,
        };
        assert_eq!(collect(&since), ["line 3", "line 4"]);
        let gone = dir.path().join("none.log");
        assert!(each_line(&gone, &LogFilter::default(), |_| Ok(())).is_ok());
    }

    #[test]
    fn following_reads_what_is_written_until_the_writer_is_gone() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let writer = {
            let (path, writing) = (path.clone(), writing.clone());
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                let mut log = std::fs::File::create(&path).unwrap();
                for i in 0..3 {
                    writeln!(log, "2026-01-01T00:00:0{i}.000000000Z stdout F line {i}").unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(30));
                }
                writeln!(log, "2026-01-01T00:00:09.000000000Z stderr P no newline").unwrap();
                writing.store(false, std::sync::atomic::Ordering::SeqCst);
            })
        };
        let seen: Vec<(Stream, String)> = followed(&path, &writing)
            .into_iter()
            .map(|l| (l.stream, l.text))
            .collect();
        writer.join().unwrap();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(seen[0], (Stream::Stdout, "line 0".to_string()));
        assert_eq!(seen[3], (Stream::Stderr, "no newline".to_string()));
    }

    fn record(i: u32) -> String {
        format!("2026-01-01T00:00:{i:02}.000000000Z stdout F line {i}\n")
    }

    #[test]
    fn rotated_files_are_read_oldest_first_and_a_tail_spans_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let rotated = |n| rpod_oci::rotated_log_path(&path, n);
        std::fs::write(rotated(2), record(0) + &record(1)).unwrap();
        std::fs::write(rotated(1), record(2) + &record(3)).unwrap();
        std::fs::write(&path, record(4)).unwrap();
        let texts = |filter: &LogFilter| -> Vec<String> {
            filtered(&path, filter)
                .into_iter()
                .map(|l| l.text)
                .collect()
        };
        assert_eq!(
            texts(&LogFilter::default()),
            ["line 0", "line 1", "line 2", "line 3", "line 4"]
        );
        let tail = LogFilter {
            tail: Some(3),
            ..Default::default()
        };
        assert_eq!(texts(&tail), ["line 2", "line 3", "line 4"]);
        // A gap in the numbers ends the rotated files (no PATH.3 here: PATH.4 is not read).
        std::fs::write(rotated(4), record(9)).unwrap();
        assert_eq!(texts(&LogFilter::default()).len(), 5);
    }

    #[test]
    fn a_link_among_the_log_files_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, record(7)).unwrap();
        let path = dir.path().join("ctr.log");
        std::fs::write(&path, record(0)).unwrap();
        let refused = |path: &Path| {
            let error = each_line(path, &LogFilter::default(), |_| Ok(()))
                .unwrap_err()
                .to_string();
            assert!(error.contains("symbolic link"), "{error}");
            let mut seen = Vec::new();
            let error = follow(
                path,
                &LogFilter::default(),
                || false,
                |line| {
                    seen.push(line.text.clone());
                    Ok(())
                },
            )
            .unwrap_err()
            .to_string();
            assert!(error.contains("symbolic link"), "{error}");
            assert!(seen.is_empty(), "{seen:?}");
        };
        // A rotated file that is a link (even one pointing nowhere: it ends no sequence).
        let rotated = rpod_oci::rotated_log_path(&path, 1);
        std::os::unix::fs::symlink(&secret, &rotated).unwrap();
        refused(&path);
        std::fs::remove_file(&rotated).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &rotated).unwrap();
        refused(&path);
        std::fs::remove_file(&rotated).unwrap();
        // The log itself.
        let linked = dir.path().join("linked.log");
        std::os::unix::fs::symlink(&secret, &linked).unwrap();
        refused(&linked);
        assert_eq!(read_log(&path).len(), 1);
    }

    #[test]
    fn following_goes_on_in_a_log_started_afresh() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        std::fs::write(&path, record(0)).unwrap();
        let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let writer = {
            let (path, writing) = (path.clone(), writing.clone());
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                let mut old = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                old.write_all(record(1).as_bytes()).unwrap();
                // As the monitor does at its size limit: a fresh file renamed over it.
                let fresh = path.with_extension("tmp");
                std::fs::write(&fresh, record(2)).unwrap();
                std::fs::rename(&fresh, &path).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
                let mut new = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                new.write_all(record(3).as_bytes()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
                writing.store(false, std::sync::atomic::Ordering::SeqCst);
            })
        };
        let seen: Vec<String> = followed(&path, &writing)
            .into_iter()
            .map(|l| l.text)
            .collect();
        writer.join().unwrap();
        assert_eq!(seen, ["line 0", "line 1", "line 2", "line 3"]);
    }

    #[test]
    fn log_options_are_taken_or_refused() {
        let parse = |pairs: &[(&str, &str)]| LogOptions::parse(pairs.iter().copied());
        let options = parse(&[("max-size", "10k"), ("max-file", "3"), ("tag", "web")]).unwrap();
        assert_eq!(options.max_size, Some(10_000));
        assert_eq!(options.max_file, Some(3));
        assert_eq!(options.tag.as_deref(), Some("web"));
        // And back to words that parse to the same.
        let pairs = options.pairs();
        assert_eq!(pairs["max-size"], "10000");
        assert_eq!(
            parse(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<Vec<_>>()
            )
            .unwrap(),
            options
        );
        assert!(parse(&[("max-file", "1")]).is_ok());
        for bad in [
            vec![("max-file", "3")],
            vec![("max-size", "1k"), ("max-file", "0")],
            vec![("max-size", "1k"), ("max-file", "101")],
            vec![("max-size", "lots")],
            vec![("max-size", "0")],
            vec![("path", "relative.log")],
            vec![("compress", "true")],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse(&[("compress", "true")]).unwrap_err().kind(),
            crate::ErrorKind::InvalidArgument
        );
        assert!(parse(&[("labels-regex", "(")]).is_err());
        // A path that is a link (dangling or not) is refused; a plain file or none is taken.
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        let error = parse(&[("path", link.to_str().unwrap())]).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        let plain = dir.path().join("plain.log");
        assert!(parse(&[("path", plain.to_str().unwrap())]).is_ok());
        std::fs::write(&plain, "").unwrap();
        assert!(parse(&[("path", plain.to_str().unwrap())]).is_ok());
    }

    /// Docker's `labels=`, `env=` and their regular expressions pick the container's labels
    /// and variables, shown as `logs --details` shows them: sorted, escaped as Go's
    /// `url.QueryEscape`; they read back from their words.
    #[test]
    fn log_attributes_pick_labels_and_variables() {
        let options = LogOptions::parse([
            ("labels", "team,absent"),
            ("env", "MODE"),
            ("env-regex", "^SVC_"),
        ])
        .unwrap();
        let back = options.pairs();
        assert_eq!(back["labels"], "team,absent");
        assert_eq!(
            LogOptions::parse(back.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap(),
            options
        );
        let labels = [("team", "db"), ("other", "x")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        let env = ["MODE=a b/c*~", "SVC_PORT=80", "OTHER=1", "SVC_X=1=2"].map(String::from);
        let values = options.attributes.values(&labels, &env);
        assert_eq!(
            LogAttributes::details(&values),
            "MODE=a+b%2Fc%2A~,SVC_PORT=80,SVC_X=1%3D2,team=db"
        );
        assert_eq!(LogAttributes::details(&Default::default()), "");
    }

    #[test]
    fn joins_partials_and_keeps_streams_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        std::fs::write(
            &path,
            "2026-01-01T10:00:00.000000001+00:00 stdout P hel\n\
             2026-01-01T10:00:00.000000002+00:00 stderr F oops\n\
             2026-01-01T10:00:00.000000003+00:00 stdout F lo world\n\
             2026-01-01T10:00:01.000000000+00:00 stdout P no newline\n",
        )
        .unwrap();
        let lines = read_log(&path);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].text, "hello world");
        assert_eq!(lines[0].stream, Stream::Stdout);
        assert_eq!(lines[1].text, "oops");
        assert_eq!(lines[1].stream, Stream::Stderr);
        assert_eq!(lines[2].text, "no newline");
        assert!(!lines[2].complete);
        let tail = filtered(
            &path,
            &LogFilter {
                tail: Some(1),
                ..Default::default()
            },
        );
        assert_eq!(tail.len(), 1);
        let since = filtered(
            &path,
            &LogFilter {
                since: Some(DateTime::parse_from_rfc3339("2026-01-01T10:00:00.5+00:00").unwrap()),
                ..Default::default()
            },
        );
        assert_eq!(since.len(), 1);
        assert_eq!(read_log(&dir.path().join("none")), vec![]);
    }
}
