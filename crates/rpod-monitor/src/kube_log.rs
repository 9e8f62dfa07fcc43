//! The k8s-file log, in conmon's format: one record per line of output,
//! `TIMESTAMP STREAM F|P BYTES`, where `F` ends a line and `P` is a part of one.
//!
//! Unlike conmon, a failed write (a full disk) is not the end of logging: the bytes are
//! counted, and the next write that succeeds is preceded by a record saying how many were
//! lost. The container and attached clients never wait on the log.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How much logged output may wait in the page cache before writeback is started.
const WRITEBACK_STEP: u64 = 4 << 20;
/// Buffers per vectored write (the kernel takes at most 1024).
const MAX_IOVECS: usize = 1020;

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
    /// How many files the log is kept in, itself included (`--log-max-files`): at a
    /// rotation the full file becomes `PATH.1` (older ones move up, the oldest goes)
    /// instead of being thrown away.
    files: u32,
    /// Output that could not be logged since the last successful write.
    lost_bytes: u64,
    lost_reason: String,
    /// A failed write left a record without its newline.
    broken_line: bool,
    /// How much of the file the kernel was asked to write back.
    written_back: u64,
    /// Whether the log is synced at the end (not for a container removed at its exit).
    durable: bool,
}

/// Open (or make) the log for appending, never through a symbolic link at its name: in a
/// shared directory given as `--log-opt path`, a link someone put there would have the
/// monitor, running as root, write wherever it points (conmon follows it).
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::other(
                "it is a symbolic link, which the monitor never writes a log through",
            ),
            _ => e,
        })
}

/// conmon's timestamp: local time with nanoseconds and a numeric offset.
fn timestamp() -> String {
    chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
        .to_string()
}

impl KubeLog {
    /// `durable`: the log is synced at the container's end, so its writeback is started as
    /// it grows. A log that is removed at the exit (`--no-sync-log`) is left to the kernel's
    /// own writeback: output that is thrown away soon need never reach the disk.
    pub fn open(path: &Path, max: Option<u64>, durable: bool) -> io::Result<KubeLog> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(KubeLog {
            path: path.to_path_buf(),
            file,
            size,
            max: max.filter(|m| *m > 0),
            files: 1,
            lost_bytes: 0,
            lost_reason: String::new(),
            broken_line: false,
            written_back: size,
            durable,
        })
    }

    /// Keep `files` files of the log at its size limit (`--log-max-files`), not one.
    pub fn keeping_files(mut self, files: u32) -> Self {
        self.files = files.clamp(1, rpod_monitor_protocol::LOG_FILES_MAX);
        self
    }

    /// Start the file afresh: an empty file is renamed over it, so a reader never sees a
    /// half-truncated one (nor, with rotated files, a moment without the log).
    pub fn reopen(&mut self) -> io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        // Made anew, never through what is at that name (a link someone put in a shared
        // directory given as `--log-opt path` would otherwise be followed), and kept open:
        // the file renamed over the log is the one written, whatever the name holds later.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let fresh = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)?;
        if self.files > 1 {
            self.rotate()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        self.file = fresh;
        self.size = 0;
        self.written_back = 0;
        self.broken_line = false;
        Ok(())
    }

    /// Move the rotated files up one (the oldest is replaced) and link the full log in as
    /// `PATH.1`; the log itself stays in place until the fresh file is renamed over it.
    fn rotate(&mut self) -> io::Result<()> {
        let rotated = |n| rpod_monitor_protocol::rotated_log_path(&self.path, n);
        for n in (1..self.files - 1).rev() {
            match std::fs::rename(rotated(n), rotated(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let mut linked = rotated(1).into_os_string();
        linked.push(".tmp");
        let linked = PathBuf::from(linked);
        let _ = std::fs::remove_file(&linked);
        std::fs::hard_link(&self.path, &linked)?;
        std::fs::rename(&linked, rotated(1))
    }

    /// Log one read of the container's output. The records are written with one vectored
    /// write that points into `data`: the output is never copied.
    pub fn write(&mut self, stream: Stream, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let stamp = timestamp();
        let full = header(&stamp, stream, b'F');
        let partial = header(&stamp, stream, b'P');
        let note = self.lost_note(&stamp);
        let mut batch: Vec<IoSlice<'_>> = Vec::new();
        // Bytes of the batch, records and output alone (what a failed write loses).
        let mut batch_len = 0u64;
        let mut batch_output = 0u64;
        if !note.is_empty() {
            batch.push(IoSlice::new(&note));
            batch_len += note.len() as u64;
        }
        let mut rest = data;
        while !rest.is_empty() {
            let (piece, head, tail): (&[u8], &[u8], &[u8]) =
                match rest.iter().position(|b| *b == b'\n') {
                    Some(end) => (&rest[..=end], &full, b""),
                    None => (rest, &partial, b"\n"),
                };
            rest = &rest[piece.len()..];
            let record_len = (head.len() + piece.len() + tail.len()) as u64;
            if let Some(max) = self.max {
                if self.size + batch_len + record_len > max && self.size + batch_len > 0 {
                    // This record would pass the limit: what came before it goes to the old
                    // file, and the file starts afresh with this record.
                    self.flush(&mut batch, batch_output);
                    (batch_len, batch_output) = (0, 0);
                    // A file that cannot start afresh is written on: nothing is lost.
                    let _ = self.reopen();
                }
            }
            if batch.len() + 3 > MAX_IOVECS {
                self.flush(&mut batch, batch_output);
                (batch_len, batch_output) = (0, 0);
            }
            batch.push(IoSlice::new(head));
            batch.push(IoSlice::new(piece));
            if !tail.is_empty() {
                batch.push(IoSlice::new(tail));
            }
            batch_len += record_len;
            batch_output += piece.len() as u64;
        }
        self.flush(&mut batch, batch_output);
    }

    /// The record that says how much output was lost, when some was (with a newline first
    /// when a failed write cut a record short); empty otherwise.
    fn lost_note(&self, stamp: &str) -> Vec<u8> {
        let mut record = Vec::new();
        if self.lost_bytes == 0 {
            return record;
        }
        if self.broken_line {
            record.push(b'\n');
        }
        record.extend_from_slice(&header(stamp, Stream::Stderr, b'F'));
        record.extend_from_slice(
            format!(
                "rpod-monitor: {} bytes of output were not logged: {}\n",
                self.lost_bytes, self.lost_reason
            )
            .as_bytes(),
        );
        record
    }

    /// Write the whole batch (and empty it). A failure counts the batch's `output_len` bytes
    /// of output as lost.
    fn flush(&mut self, batch: &mut Vec<IoSlice<'_>>, output_len: u64) {
        let total: usize = batch.iter().map(|s| s.len()).sum();
        if total == 0 {
            batch.clear();
            return;
        }
        let mut written = 0;
        let mut left: &mut [IoSlice<'_>] = &mut batch[..];
        let mut last_byte = 0u8;
        while written < total {
            match self.file.write_vectored(left) {
                Ok(0) => {
                    self.lose(output_len, &io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => {
                    last_byte = byte_before(left, n);
                    written += n;
                    IoSlice::advance_slices(&mut left, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.broken_line = written > 0 && last_byte != b'\n';
                    self.lose(output_len, &e);
                    break;
                }
            }
        }
        self.size += written as u64;
        self.start_writeback();
        if written == total {
            self.lost_bytes = 0;
            self.broken_line = false;
        }
        batch.clear();
    }

    /// Have the kernel start writing what was logged to disk, a few MiB at a time, without
    /// waiting for it: the final sync then has little left to do, and a container that
    /// writes much never meets a pile of dirty pages at once.
    fn start_writeback(&mut self) {
        if !self.durable || self.size < self.written_back + WRITEBACK_STEP {
            return;
        }
        let offset = self.written_back as libc::off64_t;
        let length = (self.size - self.written_back) as libc::off64_t;
        // SAFETY: sync_file_range only reads its integer arguments; the descriptor is ours.
        unsafe {
            libc::sync_file_range(
                std::os::fd::AsRawFd::as_raw_fd(&self.file),
                offset,
                length,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.written_back = self.size;
    }

    fn lose(&mut self, bytes: u64, error: &io::Error) {
        self.lost_bytes += bytes;
        self.lost_reason = error.to_string();
    }

    /// At the container's end: say what was lost if that can still be said, and sync a
    /// durable log.
    pub fn finish(&mut self) {
        let note = self.lost_note(&timestamp());
        if !note.is_empty() {
            let _ = self.file.write_all(&note);
        }
        if self.durable {
            let _ = self.file.sync_all();
        }
    }
}

/// `TIMESTAMP STREAM TAG `: what precedes a record's bytes.
fn header(stamp: &str, stream: Stream, tag: u8) -> Vec<u8> {
    let mut head = Vec::with_capacity(stamp.len() + 10);
    head.extend_from_slice(stamp.as_bytes());
    head.push(b' ');
    head.extend_from_slice(stream.name());
    head.push(b' ');
    head.push(tag);
    head.push(b' ');
    head
}

/// The last of the first `n` bytes of `slices`.
fn byte_before(slices: &[IoSlice<'_>], mut n: usize) -> u8 {
    for slice in slices {
        if n <= slice.len() {
            return if n == 0 { 0 } else { slice[n - 1] };
        }
        n -= slice.len();
    }
    0
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
    fn a_link_at_the_logs_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "kept\n").unwrap();
        let path = dir.path().join("ctr.log");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let error = KubeLog::open(&path, None, true).err().unwrap().to_string();
        assert!(error.contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept\n");
        // A dangling link is not followed to make its target either.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(dir.path().join("made"), &path).unwrap();
        assert!(KubeLog::open(&path, None, true).is_err());
        assert!(!dir.path().join("made").exists());
    }

    #[test]
    fn full_and_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = KubeLog::open(&path, None, true).unwrap();
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
    fn only_a_durable_log_is_written_back_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for durable in [true, false] {
            let path = dir.path().join(format!("durable-{durable}.log"));
            let mut log = KubeLog::open(&path, None, durable).unwrap();
            for _ in 0..5 {
                log.write(Stream::Stdout, &chunk);
            }
            assert!(log.size > WRITEBACK_STEP);
            // Writeback was started for the first 4 MiB, or not at all.
            assert_eq!(log.written_back > 0, durable, "{}", log.written_back);
            log.finish();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), log.size);
        }
    }

    #[test]
    fn past_the_size_limit_the_file_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = KubeLog::open(&path, Some(200), true).unwrap();
        for i in 0..50 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes());
            assert!(std::fs::metadata(&path).unwrap().len() <= 200);
        }
        let last = lines(&path);
        assert_eq!(last.last().unwrap(), "stdout F line 49");
        assert!(last.len() < 50);
    }

    #[test]
    fn starting_afresh_never_writes_through_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("ctr.log.tmp")).unwrap();
        let mut log = KubeLog::open(&path, Some(100), true).unwrap();
        for i in 0..10 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert!(lines(&path).last().unwrap().ends_with("line 9"));
    }

    #[test]
    fn with_several_files_the_full_ones_are_kept_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = KubeLog::open(&path, Some(200), true)
            .unwrap()
            .keeping_files(3);
        for i in 0..50 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        let rotated = |n| rpod_monitor_protocol::rotated_log_path(&path, n);
        assert!(!rotated(3).exists(), "more files than asked for");
        // Oldest first, the three files hold the newest lines, none twice, none missing.
        let mut kept: Vec<String> = Vec::new();
        for file in [rotated(2), rotated(1), path.clone()] {
            let size = std::fs::metadata(&file).unwrap().len();
            // A record is about 53 bytes: a full file holds three.
            assert!(size <= 200 && (file == path || size > 150), "{size}");
            kept.extend(lines(&file));
        }
        let numbers: Vec<u32> = kept
            .iter()
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(*numbers.last().unwrap(), 49);
        assert!(numbers.len() >= 7, "{numbers:?}");
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
        assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")));
    }

    #[test]
    fn a_full_disk_is_reported_in_the_log_once_it_can_be() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = KubeLog::open(&path, None, true).unwrap();
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

    #[test]
    fn output_lost_in_several_writes_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut log = KubeLog::open(&path, None, true).unwrap();
        let good = std::mem::replace(&mut log.file, File::open(&path).unwrap());
        // 1000 lines need more buffers than one vectored write takes: several batches fail.
        let output = "y\n".repeat(1000);
        log.write(Stream::Stdout, output.as_bytes());
        log.file = good;
        log.write(Stream::Stdout, b"after\n");
        let got = lines(&path);
        assert!(
            got[0].starts_with("stderr F rpod-monitor: 2000 bytes of output were not logged"),
            "{got:?}"
        );
    }
}
