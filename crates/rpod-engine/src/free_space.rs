//! Free space kept on the store's file system while outside data is written into it.
//!
//! Image layers, registry downloads, archives loaded or imported, files copied into
//! containers and volumes: each is as large as whoever sent it wants (a gzip layer of a few
//! kilobytes can unpack to terabytes). rpod runs as root, so without a limit of its own it
//! would fill the disk and take the host's other writers down with it. Every such copy goes
//! through a [`SpaceChecked`], which looks at the file system's free space every few
//! megabytes and stops the copy once less than the reserve (`[storage] keep_free` in
//! rpod.conf) would be left. The reserve is measured against what the file system gives
//! unprivileged users (`f_bavail`), so its own root reserve stays untouched too.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::human;

/// How often a copy looks at the free space: it may write this much past the reserve.
const CHECK_EVERY: u64 = 4 << 20;

/// The share of the file system's inodes kept free (a layer of empty files runs out of
/// inodes long before it runs out of bytes), unless the reserve is off.
const KEEP_INODES_PERCENT: u64 = 1;

/// How much of the store's file system rpod leaves free: a share of its size, or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepFree {
    Percent(u8),
    Bytes(u64),
    /// A share of the size, but never more than so many bytes (the default).
    PercentUpTo(u8, u64),
}

/// The default reserve: 5% of the file system, at most 2 GiB. A share alone asks too much
/// of a large disk (13 GB of a 270 GB one, where a 5 MB image was refused with 12 GB
/// free); 2 GiB still stops a layer that unpacks to more than the disk holds.
pub const DEFAULT_KEEP_FREE: KeepFree = KeepFree::PercentUpTo(5, 2 << 30);

/// The reserve of unit tests that write through a guard: small, so that they pass on a
/// machine with little disk left (the default keeps up to 2 GiB free).
#[cfg(test)]
pub(crate) const TEST_KEEP_FREE: KeepFree = KeepFree::Bytes(16 << 20);

impl Default for KeepFree {
    fn default() -> Self {
        DEFAULT_KEEP_FREE
    }
}

impl KeepFree {
    /// `5%`, `2g`, `512m`, `100k`, bytes without a unit, or `0` (no reserve).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(number) = text.strip_suffix('%') {
            return match number.trim().parse::<u8>() {
                Ok(percent) if percent < 100 => Ok(KeepFree::Percent(percent)),
                _ => Err(format!(
                    "{text:?} is not a share of the file system from 0% to 99%"
                )),
            };
        }
        crate::mounts::size_bytes(text)
            .map(KeepFree::Bytes)
            .ok_or_else(|| format!("{text:?} is not a size (such as 5%, 2g, 512m or 0)"))
    }

    fn is_off(self) -> bool {
        matches!(
            self,
            KeepFree::Percent(0) | KeepFree::Bytes(0) | KeepFree::PercentUpTo(0, _)
        )
    }

    /// The bytes kept free on a file system of `total` bytes.
    fn bytes_of(self, total: u64) -> u64 {
        match self {
            KeepFree::Percent(percent) => total / 100 * u64::from(percent),
            KeepFree::Bytes(bytes) => bytes,
            KeepFree::PercentUpTo(percent, most) => {
                KeepFree::Percent(percent).bytes_of(total).min(most)
            }
        }
    }
}

impl fmt::Display for KeepFree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepFree::Percent(percent) => write!(f, "{percent}%"),
            KeepFree::Bytes(bytes) => f.write_str(&human::size(*bytes)),
            KeepFree::PercentUpTo(percent, most) => {
                write!(f, "{percent}% up to {}", human::size(*most))
            }
        }
    }
}

/// A write refused because it would leave less free than the reserve.
#[derive(Debug, Clone)]
pub struct NoSpace {
    /// Where the data was going.
    pub path: PathBuf,
    /// What the file system had free (bytes, or inodes when `inodes`).
    pub available: u64,
    /// What rpod keeps free there (same unit).
    pub keep: u64,
    /// The size announced before the copy started (a download's declared size), if any.
    pub needed: Option<u64>,
    pub inodes: bool,
}

impl fmt::Display for NoSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        if self.inodes {
            return write!(
                f,
                "no space left for {path}: stopped with {} inodes free on its file system, \
                 and rpod keeps {KEEP_INODES_PERCENT}% of them ({}) free \
                 ([storage] keep_free = \"0\" in rpod.conf turns this off)",
                self.available, self.keep
            );
        }
        let (available, keep) = (human::size(self.available), human::size(self.keep));
        match self.needed {
            Some(needed) => write!(
                f,
                "no space left for {path}: it needs {}, its file system has {available} free, \
                 and rpod keeps {keep} of it free ([storage] keep_free in rpod.conf)",
                human::size(needed)
            ),
            None => write!(
                f,
                "no space left for {path}: stopped with {available} free on its file system, \
                 where rpod keeps {keep} free ([storage] keep_free in rpod.conf)"
            ),
        }
    }
}

impl std::error::Error for NoSpace {}

impl NoSpace {
    /// The refusal a copy's I/O error carries, however deep a reader or a library wrapped
    /// it (the tar crate wraps a reader's error in one of its own).
    pub fn within(error: &io::Error) -> Option<NoSpace> {
        let mut current: Option<&(dyn std::error::Error + 'static)> = error
            .get_ref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = current {
            if let Some(found) = e.downcast_ref::<NoSpace>() {
                return Some(found.clone());
            }
            if let Some(inner) = e.downcast_ref::<io::Error>() {
                if let Some(next) = inner.get_ref() {
                    current = Some(next as &(dyn std::error::Error + 'static));
                    continue;
                }
            }
            current = e.source();
        }
        None
    }
}

/// The reserve on the file system of one directory.
#[derive(Debug, Clone)]
pub struct SpaceGuard {
    path: PathBuf,
    keep: KeepFree,
}

impl SpaceGuard {
    pub fn new(path: impl Into<PathBuf>, keep: KeepFree) -> Self {
        SpaceGuard {
            path: path.into(),
            keep,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `needed` more bytes (0: any) still leave the reserve free. A file system
    /// that cannot be asked is not held up.
    pub fn check(&self, needed: u64) -> Result<(), NoSpace> {
        if self.keep.is_off() {
            return Ok(());
        }
        let Ok(stats) = nix::sys::statvfs::statvfs(&self.path) else {
            return Ok(());
        };
        let unit = stats.fragment_size();
        let total = stats.blocks().saturating_mul(unit);
        let available = stats.blocks_available().saturating_mul(unit);
        let keep = self.keep.bytes_of(total);
        if available < keep.saturating_add(needed) {
            return Err(NoSpace {
                path: self.path.clone(),
                available,
                keep,
                needed: (needed > 0).then_some(needed),
                inodes: false,
            });
        }
        // File systems without an inode count (btrfs) report none.
        let inodes = stats.files();
        let keep_inodes = inodes / 100 * KEEP_INODES_PERCENT;
        let inodes_available = stats.files_available();
        if inodes > 0 && inodes_available < keep_inodes {
            return Err(NoSpace {
                path: self.path.clone(),
                available: inodes_available,
                keep: keep_inodes,
                needed: None,
                inodes: true,
            });
        }
        Ok(())
    }

    /// `inner`, whose reads stop (with an error that carries a [`NoSpace`]) once the file
    /// system has less free than the reserve: for data on its way into the file system.
    pub fn reader<R: Read>(&self, inner: R) -> SpaceChecked<R> {
        self.checked(inner)
    }

    /// `inner`, whose writes stop in the same way: for a file written on the file system.
    pub fn writer<W: Write>(&self, inner: W) -> SpaceChecked<W> {
        self.checked(inner)
    }

    fn checked<T>(&self, inner: T) -> SpaceChecked<T> {
        SpaceChecked {
            inner,
            guard: self.clone(),
            unchecked: CHECK_EVERY,
            total: 0,
        }
    }
}

/// A reader whose data goes to a guarded file system, or a writer into one: see
/// [`SpaceGuard::reader`] and [`SpaceGuard::writer`].
pub struct SpaceChecked<T> {
    inner: T,
    guard: SpaceGuard,
    /// Bytes read since the last look at the free space (the first read looks at once).
    unchecked: u64,
    total: u64,
}

impl<T> SpaceChecked<T> {
    /// Everything read or written so far: what a second copy of the same data will need.
    pub fn bytes(&self) -> u64 {
        self.total
    }

    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Look at the free space when enough went through since the last look.
    fn look(&mut self) -> io::Result<()> {
        if self.unchecked >= CHECK_EVERY {
            self.guard
                .check(0)
                .map_err(|e| io::Error::new(io::ErrorKind::StorageFull, e))?;
            self.unchecked = 0;
        }
        Ok(())
    }

    fn count(&mut self, n: usize) -> usize {
        self.unchecked += n as u64;
        self.total += n as u64;
        n
    }
}

impl<R: Read> Read for SpaceChecked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.look()?;
        let n = self.inner.read(buf)?;
        Ok(self.count(n))
    }
}

impl<W: Write> Write for SpaceChecked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.look()?;
        let n = self.inner.write(buf)?;
        Ok(self.count(n))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserves_parse_as_shares_or_sizes() {
        assert_eq!(KeepFree::parse("5%"), Ok(KeepFree::Percent(5)));
        assert_eq!(KeepFree::parse(" 0% "), Ok(KeepFree::Percent(0)));
        assert_eq!(KeepFree::parse("2g"), Ok(KeepFree::Bytes(2 << 30)));
        assert_eq!(KeepFree::parse("512MB"), Ok(KeepFree::Bytes(512 << 20)));
        assert_eq!(KeepFree::parse("1000"), Ok(KeepFree::Bytes(1000)));
        assert_eq!(KeepFree::parse("0"), Ok(KeepFree::Bytes(0)));
        for bad in ["100%", "-1%", "five", "5x", "", "%"] {
            assert!(KeepFree::parse(bad).is_err(), "{bad:?} was taken");
        }
        assert_eq!(KeepFree::Percent(10).bytes_of(1000), 100);
        assert_eq!(KeepFree::Bytes(7).bytes_of(1000), 7);
        // The default: 5% of a small disk, 2 GiB of a large one.
        assert_eq!(DEFAULT_KEEP_FREE.bytes_of(20_000_000_000), 1_000_000_000);
        assert_eq!(DEFAULT_KEEP_FREE.bytes_of(270_000_000_000), 2 << 30);
        assert!(!DEFAULT_KEEP_FREE.is_off());
        assert!(KeepFree::PercentUpTo(0, 1).is_off());
    }

    #[test]
    fn a_reserve_larger_than_the_disk_stops_a_copy_before_its_first_byte() {
        let dir = tempfile::tempdir().unwrap();
        let guard = SpaceGuard::new(dir.path(), KeepFree::Bytes(u64::MAX / 2));
        let mut out = Vec::new();
        let error = io::copy(&mut guard.reader(&[1u8; 10][..]), &mut out).unwrap_err();
        assert!(out.is_empty());
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        let refusal = NoSpace::within(&error).expect("the error carries the refusal");
        assert_eq!(refusal.path, dir.path());
        assert!(refusal.to_string().contains("keep_free"), "{refusal}");
        // Wrapped again, as the tar crate does, it is still found.
        let wrapped = io::Error::other(error);
        assert!(NoSpace::within(&wrapped).is_some());
        assert!(NoSpace::within(&io::Error::other("unrelated")).is_none());
    }

    #[test]
    fn a_copy_looks_again_every_few_megabytes() {
        let dir = tempfile::tempdir().unwrap();
        let guard = SpaceGuard::new(dir.path(), KeepFree::Bytes(u64::MAX / 2));
        let mut reader = guard.reader(io::repeat(0));
        reader.unchecked = 0; // as right after a look that found room
        let mut sink = io::sink();
        let error = io::copy(&mut reader, &mut sink).unwrap_err();
        assert!(NoSpace::within(&error).is_some());
        assert!(reader.unchecked >= CHECK_EVERY && reader.unchecked < CHECK_EVERY + (1 << 20));
    }

    #[test]
    fn writes_are_checked_as_reads_are() {
        let dir = tempfile::tempdir().unwrap();
        let guard = SpaceGuard::new(dir.path(), KeepFree::Bytes(u64::MAX / 2));
        let mut writer = guard.writer(Vec::new());
        let error = writer.write_all(b"data").unwrap_err();
        assert!(NoSpace::within(&error).is_some());
        assert!(writer.into_inner().is_empty());
        let roomy = SpaceGuard::new(dir.path(), KeepFree::Bytes(1));
        let mut writer = roomy.writer(Vec::new());
        writer.write_all(b"data").unwrap();
        assert_eq!(writer.bytes(), 4);
    }

    #[test]
    fn no_reserve_never_stops_and_a_declared_size_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let off = SpaceGuard::new(dir.path(), KeepFree::Percent(0));
        assert!(off.check(u64::MAX).is_ok());
        let some = SpaceGuard::new(dir.path(), KeepFree::Bytes(1));
        assert!(some.check(0).is_ok());
        let refusal = some.check(u64::MAX / 2).unwrap_err();
        assert_eq!(refusal.needed, Some(u64::MAX / 2));
        assert!(refusal.to_string().contains("it needs"), "{refusal}");
    }
}
