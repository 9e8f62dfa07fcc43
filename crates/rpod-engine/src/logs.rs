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
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(EngineError::io("reading log", path, e)),
    };
    let mut reader = LogReader::new();
    read_existing(&mut file, &mut reader, filter_by, true, &mut sink)
        .map_err(|e| EngineError::io("reading log", path, e))
}

/// Whether a line falls in the filter's time window.
fn in_window(filter_by: &LogFilter, line: &LogLine) -> bool {
    filter_by.since.is_none_or(|s| line.time >= s) && filter_by.until.is_none_or(|u| line.time <= u)
}

/// Read `file` to its current end through `reader`, handing `sink` the lines in the window,
/// or only the last `tail` of them; with `finish`, also the partial lines left at the end.
fn read_existing(
    file: &mut std::fs::File,
    reader: &mut LogReader,
    filter_by: &LogFilter,
    finish: bool,
    sink: &mut dyn FnMut(&LogLine) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Read;
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
        match std::fs::File::open(path) {
            Ok(file) => break file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && still_writing() => {
                std::thread::sleep(FOLLOW_POLL);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(e)),
        }
    };
    let mut reader = LogReader::new();
    read_existing(&mut file, &mut reader, filter_by, false, &mut sink).map_err(io_err)?;
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
        let mut seen = Vec::new();
        follow(
            &path,
            &LogFilter::default(),
            || writing.load(std::sync::atomic::Ordering::SeqCst),
            |line| {
                seen.push((line.stream, line.text.clone()));
                Ok(())
            },
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(seen[0], (Stream::Stdout, "line 0".to_string()));
        assert_eq!(seen[3], (Stream::Stderr, "no newline".to_string()));
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
