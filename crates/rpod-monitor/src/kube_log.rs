//! The k8s-file log, in conmon's format: one record per line of output,
//! `TIMESTAMP STREAM F|P BYTES`, where `F` ends a line and `P` is a part of one.
//!
//! Unlike conmon, a failed write (a full disk) is not the end of logging: the bytes are
//! counted, and the next write that succeeds is preceded by a record saying how many were
//! lost. The container and attached clients never wait on the log.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static [u8] {
        match self {
            Stream::Stdout => b"stdout",
            Stream::Stderr => b"stderr",
        }
    }
}

pub struct KubeLog {
    path: PathBuf,
    file: File,
    size: u64,
    /// Past this size the file starts afresh (conmon's `--log-size-max`).
    max: Option<u64>,
    /// Output that could not be logged since the last successful write.
    lost_bytes: u64,
    lost_reason: String,
    /// A failed write left a record without its newline.
    broken_line: bool,
    records: Vec<u8>,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// conmon's timestamp: local time with nanoseconds and a numeric offset.
fn timestamp() -> String {
    chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
        .to_string()
}

impl KubeLog {
    pub fn open(path: &Path, max: Option<u64>) -> io::Result<KubeLog> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(KubeLog {
            path: path.to_path_buf(),
            file,
            size,
            max: max.filter(|m| *m > 0),
            lost_bytes: 0,
            lost_reason: String::new(),
            broken_line: false,
            records: Vec::with_capacity(64 * 1024),
        })
    }

    /// Start the file afresh: an empty file is renamed over it, so a reader never sees a
    /// half-truncated one.
    pub fn reopen(&mut self) -> io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        File::create(&tmp)?;
        std::fs::rename(&tmp, &self.path)?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        self.broken_line = false;
        Ok(())
    }

    /// Log one read of the container's output.
    pub fn write(&mut self, stream: Stream, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let stamp = timestamp();
        let mut records = std::mem::take(&mut self.records);
        records.clear();
        if self.lost_bytes > 0 {
            if self.broken_line {
                records.push(b'\n');
            }
            let note = format!(
                "rpod-monitor: {} bytes of output were not logged: {}\n",
                self.lost_bytes, self.lost_reason
            );
            push_record(&mut records, &stamp, Stream::Stderr, b'F', note.as_bytes());
        }
        let mut rest = data;
        while !rest.is_empty() {
            let (piece, tag) = match rest.iter().position(|b| *b == b'\n') {
                Some(end) => (&rest[..=end], b'F'),
                None => (rest, b'P'),
            };
            rest = &rest[piece.len()..];
            let before = records.len();
            push_record(&mut records, &stamp, stream, tag, piece);
            if tag == b'P' {
                records.push(b'\n');
            }
            let record_len = (records.len() - before) as u64;
            if let Some(max) = self.max {
                if self.size + records.len() as u64 > max && self.size + before as u64 > 0 {
                    // This record would pass the limit: what came before it goes to the old
                    // file, and the file starts afresh with this record.
                    let tail = records.split_off(before);
                    self.flush(&records, data.len() as u64);
                    records = tail;
                    if let Err(e) = self.reopen() {
                        self.lose(record_len, &e);
                    }
                }
            }
        }
        self.flush(&records, data.len() as u64);
        self.records = records;
    }

    fn flush(&mut self, records: &[u8], output_len: u64) {
        if records.is_empty() {
            return;
        }
        let mut written = 0;
        while written < records.len() {
            match self.file.write(&records[written..]) {
                Ok(0) => {
                    self.lose(output_len, &io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.broken_line = written > 0 && records[written - 1] != b'\n';
                    self.lose(output_len, &e);
                    break;
                }
            }
        }
        self.size += written as u64;
        if written == records.len() {
            self.lost_bytes = 0;
            self.broken_line = false;
        }
    }

    fn lose(&mut self, bytes: u64, error: &io::Error) {
        self.lost_bytes += bytes;
        self.lost_reason = error.to_string();
    }

    /// At the container's end: say what was lost if that can still be said, and sync.
    pub fn finish(&mut self, sync: bool) {
        if self.lost_bytes > 0 {
            let stamp = timestamp();
            let mut records = Vec::new();
            if self.broken_line {
                records.push(b'\n');
            }
            let note = format!(
                "rpod-monitor: {} bytes of output were not logged: {}\n",
                self.lost_bytes, self.lost_reason
            );
            push_record(&mut records, &stamp, Stream::Stderr, b'F', note.as_bytes());
            let _ = self.file.write_all(&records);
        }
        if sync {
            let _ = self.file.sync_all();
        }
    }
}

fn push_record(records: &mut Vec<u8>, stamp: &str, stream: Stream, tag: u8, piece: &[u8]) {
    records.extend_from_slice(stamp.as_bytes());
    records.push(b' ');
    records.extend_from_slice(stream.name());
    records.push(b' ');
    records.push(tag);
    records.push(b' ');
    records.extend_from_slice(piece);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l.split_once(' ').unwrap().1.to_string())
            .collect()
    }

    #[test]
    fn full_and_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = KubeLog::open(&path, None).unwrap();
        log.write(Stream::Stdout, b"one\ntwo\nthr");
        log.write(Stream::Stderr, b"ee\n");
        assert_eq!(
            lines(&path),
            [
                "stdout F one",
                "stdout F two",
                "stdout P thr",
                "stderr F ee"
            ]
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let stamp = text.split(' ').next().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
            "{stamp}"
        );
        assert_eq!(stamp.split('.').nth(1).unwrap().len(), 9 + 6, "{stamp}");
    }

    #[test]
    fn past_the_size_limit_the_file_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = KubeLog::open(&path, Some(200)).unwrap();
        for i in 0..50 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes());
            assert!(std::fs::metadata(&path).unwrap().len() <= 200);
        }
        let last = lines(&path);
        assert_eq!(last.last().unwrap(), "stdout F line 49");
        assert!(last.len() < 50);
    }

    #[test]
    fn a_full_disk_is_reported_in_the_log_once_it_can_be() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = KubeLog::open(&path, None).unwrap();
        log.write(Stream::Stdout, b"before\n");
        // A file open read-only fails every write, as a full disk does.
        let good = std::mem::replace(&mut log.file, File::open(&path).unwrap());
        log.write(Stream::Stdout, b"lost 1\n");
        log.write(Stream::Stdout, b"lost 2\n");
        log.file = good;
        log.write(Stream::Stdout, b"after\n");
        let got = lines(&path);
        assert_eq!(got[0], "stdout F before");
        assert!(
            got[1].starts_with("stderr F rpod-monitor: 14 bytes of output were not logged"),
            "{got:?}"
        );
        assert_eq!(got[2], "stdout F after");
    }
}
