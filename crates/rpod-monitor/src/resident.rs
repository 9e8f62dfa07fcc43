//! What a long-lived monitor keeps resident.
//!
//! A monitor touches most of its own code and a good part of libc's while it starts (option
//! parsing, the runtime's fork and exec, the sockets), and the kernel maps file pages around
//! each fault (64 KiB, or a whole large folio), so a monitor that has started shows about a
//! megabyte of shared code in its RSS, most of which its relay loop never runs again. Once
//! the container has run a while (and again a while after later events: `monitor.rs` says
//! when), the monitor drops its page-table entries for such mappings; what the loop runs is
//! faulted back in from the page cache (the pages stay there: this shrinks the monitor's
//! resident set and page tables, not the memory the code occupies once for all monitors).
//! The exit path faults its code back in the same way.
//!
//! Only mappings backed by a file, not writable, and with no page of their own (no page
//! copied on a write, `Anonymous: 0 kB` in smaps) are dropped: their pages equal the file's,
//! so dropping them loses nothing. Relocated read-only data, written before it was made
//! read-only, holds such copies and is kept (its contents would revert to the file's).
#![allow(unsafe_code)]

/// A mapping of `/proc/PID/smaps` whose pages can be dropped: its start and length.
#[derive(Debug, PartialEq, Eq)]
pub struct FileMapping {
    pub start: usize,
    pub len: usize,
}

/// One mapping's header line of smaps: `start-end perms offset device inode [path]`.
struct Header {
    start: usize,
    end: usize,
    droppable: bool,
}

fn header(line: &str) -> Option<Header> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?.as_bytes();
    let _offset = fields.next()?;
    let _device = fields.next()?;
    let inode = fields.next()?;
    if perms.len() != 4 || end <= start {
        return None;
    }
    // The kernel's own mappings ([vdso], [vvar]) and anonymous memory have no inode.
    let droppable = perms[1] == b'-' && inode != "0" && inode.bytes().all(|b| b.is_ascii_digit());
    Some(Header {
        start,
        end,
        droppable,
    })
}

/// The mappings of a `/proc/PID/smaps` text whose pages can be dropped (see the module's
/// comment). A mapping whose `Anonymous:` line is missing or unreadable is kept.
pub fn droppable_mappings(smaps: &str) -> Vec<FileMapping> {
    let mut found = Vec::new();
    let mut current: Option<Header> = None;
    for line in smaps.lines() {
        if let Some(rest) = line.strip_prefix("Anonymous:") {
            if let Some(mapping) = current.take().filter(|m| m.droppable) {
                if rest.trim() == "0 kB" {
                    found.push(FileMapping {
                        start: mapping.start,
                        len: mapping.end - mapping.start,
                    });
                }
            }
        } else if let Some(mapping) = header(line) {
            current = Some(mapping);
        }
    }
    found
}

/// Drop this process's page-table entries for the mappings `droppable_mappings` finds (see
/// the module's comment). Best effort: a mapping that cannot be read or advised stays.
pub fn drop_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for mapping in droppable_mappings(&smaps) {
        // SAFETY: the range is a whole file mapping of this process that is not writable and
        // holds no page of its own, so its contents are the file's and are faulted back in
        // from it on use; MADV_DONTNEED changes no contents of such a mapping.
        unsafe {
            libc::madvise(
                mapping.start as *mut libc::c_void,
                mapping.len,
                libc::MADV_DONTNEED,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    const PAGE: usize = 4096;

    /// The tests that drop pages drop every test's: one at a time.
    static DROPPING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn only_unwritten_file_mappings_that_are_not_writable_are_taken() {
        let smaps = "\
55d0c0000000-55d0c0020000 r--p 00000000 08:01 1234 /usr/bin/rpod-monitor
Rss:                 128 kB
Anonymous:             0 kB
55d0c0020000-55d0c0096000 r-xp 00020000 08:01 1234 /usr/bin/rpod-monitor
Anonymous:             0 kB
VmFlags: rd ex mr mw me
55d0c0096000-55d0c00b6000 r--p 00096000 08:01 1234 /usr/bin/rpod-monitor
Anonymous:            28 kB
55d0c00b6000-55d0c00b8000 rw-p 000b6000 08:01 1234 /usr/bin/rpod-monitor
Anonymous:             0 kB
55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0 [heap]
Anonymous:            20 kB
7f0000028000-7f000017d000 r-xp 00028000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000210000 r-xp 00000000 08:01 77 /opt/a file with spaces
7f0000300000-7f0000310000 rwxp 00000000 08:01 78 /tmp/jit
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r--p 00000000 00:00 0 [vvar]
Anonymous:             0 kB
7ffd00002000-7ffd00004000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
";
        let found: Vec<_> = droppable_mappings(smaps)
            .iter()
            .map(|m| (m.start, m.len))
            .collect();
        // The relocated data (pages of its own), the writable ones, the kernel's, and the one
        // whose Anonymous line is missing stay.
        assert_eq!(
            found,
            vec![
                (0x55d0c0000000, 0x20000),
                (0x55d0c0020000, 0x76000),
                (0x7f0000028000, 0x155000),
            ]
        );
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let smaps = "garbage\nAnonymous: 0 kB\n10-zz r-xp 0 08:01 5 /x\nAnonymous: 0 kB\n\
                     20-10 r-xp 0 08:01 5 /y\nAnonymous: 0 kB\n30-40 r-xp 0 08:01 5x /z\n\
                     Anonymous: 0 kB\n";
        assert!(droppable_mappings(smaps).is_empty());
    }

    /// A private mapping of a file of `pages` pages, each filled with its index.
    fn map_file(pages: usize, protection: libc::c_int) -> (*mut u8, tempfile::NamedTempFile) {
        let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
        for page in 0..pages {
            file.write_all(&[page as u8; PAGE]).expect("writing it");
        }
        file.flush().expect("flushing it");
        // SAFETY: a new mapping of a file this test owns, at an address the kernel picks.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                pages * PAGE,
                protection,
                libc::MAP_PRIVATE,
                file.as_file().as_raw_fd(),
                0,
            )
        };
        assert_ne!(address, libc::MAP_FAILED, "mmap");
        (address.cast(), file)
    }

    fn unmap(address: *mut u8, pages: usize) {
        // SAFETY: a whole mapping made by `map_file`, not used after this.
        assert_eq!(unsafe { libc::munmap(address.cast(), pages * PAGE) }, 0);
    }

    /// How many of `pages` pages at `address` have a page-table entry (mincore would count
    /// the page cache's pages, mapped or not).
    fn mapped_pages(address: *mut u8, pages: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("reading smaps");
        let header = format!("{:x}-", address as usize);
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&header));
        lines.next().expect("the mapping in smaps");
        let rss = lines
            .find_map(|l| l.strip_prefix("Rss:"))
            .expect("its Rss line");
        let kib: usize = rss.trim().trim_end_matches(" kB").parse().expect("a size");
        assert!(kib * 1024 <= pages * PAGE);
        kib * 1024 / PAGE
    }

    #[test]
    fn unwritten_pages_of_a_file_mapping_are_dropped_and_read_back() {
        let _one = DROPPING.lock();
        let pages = 4;
        let (address, _file) = map_file(pages, libc::PROT_READ);
        for page in 0..pages {
            // SAFETY: inside the mapping made above.
            assert_eq!(unsafe { *address.add(page * PAGE) }, page as u8);
        }
        assert_eq!(mapped_pages(address, pages), pages);
        drop_file_pages();
        assert_eq!(mapped_pages(address, pages), 0);
        for page in 0..pages {
            // SAFETY: as above; the page is faulted back in from the file.
            assert_eq!(unsafe { *address.add(page * PAGE + 7) }, page as u8);
        }
        unmap(address, pages);
    }

    #[test]
    fn written_pages_of_a_mapping_made_read_only_are_kept() {
        // As the dynamic linker does with relocated data: written, then made read-only.
        let _one = DROPPING.lock();
        let pages = 2;
        let (address, _file) = map_file(pages, libc::PROT_READ | libc::PROT_WRITE);
        // SAFETY: inside the writable private mapping made above.
        unsafe {
            *address = 0xAB;
            assert_eq!(*address.add(PAGE), 1);
            assert_eq!(
                libc::mprotect(address.cast(), pages * PAGE, libc::PROT_READ),
                0
            );
        }
        drop_file_pages();
        assert_eq!(mapped_pages(address, pages), pages);
        // SAFETY: as above, now read-only.
        assert_eq!(unsafe { *address }, 0xAB);
        unmap(address, pages);
    }
}
