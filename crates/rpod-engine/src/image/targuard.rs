//! A bound on the metadata entries of a tar stream. The tar crate reads a pax extended
//! header or a GNU long name or link into memory whole, whatever its size: a hostile layer
//! or archive could name one of gigabytes. `MetadataGuard` watches the stream as the tar
//! crate reads it, header by header, and fails the read at such an entry instead.
//!
//! Written here: it must follow the stream exactly as the tar crate does (including a pax
//! `size` that overrides the next header's), and no crate offers a hook into its reader.

use std::io::{self, Read};

const BLOCK: usize = 512;

/// The largest metadata entry (pax header, GNU long name or link) accepted.
pub const METADATA_LIMIT: u64 = 1 << 20;

enum State {
    /// Collecting the next header block (`filled` bytes so far).
    Header { filled: usize },
    /// Handing the collected header on (`sent` bytes so far), then `data` bytes follow
    /// (after GNU sparse extension blocks when `extended`).
    EmitHeader {
        sent: usize,
        data: u64,
        pax: bool,
        extended: bool,
    },
    /// Collecting a GNU sparse extension block, which comes before the entry's data.
    Extension { filled: usize, data: u64 },
    /// Inside an entry's data (with its padding): `left` bytes to pass on. A pax header's
    /// data is also kept, to find a `size` for the next entry.
    Data { left: u64, pax: bool },
}

pub struct MetadataGuard<R> {
    inner: R,
    state: State,
    header: [u8; BLOCK],
    /// The data of the pax header being read.
    pax: Vec<u8>,
    /// A size given by the last pax header for the next entry.
    next_size: Option<u64>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The `size` record of pax extended header data (`LEN size=N\n` records), if any.
fn pax_size(data: &[u8]) -> Option<u64> {
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        if len <= space || len > rest.len() {
            return None;
        }
        let record = &rest[space + 1..len];
        if let Some(value) = record.strip_prefix(b"size=") {
            let value = value.strip_suffix(b"\n").unwrap_or(value);
            return std::str::from_utf8(value).ok()?.parse().ok();
        }
        rest = &rest[len..];
    }
    None
}

impl<R: Read> MetadataGuard<R> {
    pub fn new(inner: R) -> Self {
        MetadataGuard {
            inner,
            state: State::Header { filled: 0 },
            header: [0; BLOCK],
            pax: Vec::new(),
            next_size: None,
        }
    }

    /// A complete header: check it and say how much data follows.
    fn inspect(&mut self) -> io::Result<State> {
        if self.header.iter().all(|b| *b == 0) {
            // An end-of-archive block: no data follows.
            return Ok(State::EmitHeader {
                sent: 0,
                data: 0,
                pax: false,
                extended: false,
            });
        }
        let header = tar::Header::from_byte_slice(&self.header);
        let kind = header.entry_type();
        let metadata = matches!(
            kind,
            tar::EntryType::XHeader
                | tar::EntryType::XGlobalHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        );
        let mut size = header
            .entry_size()
            .map_err(|e| invalid(format!("a tar header: {e}")))?;
        if metadata {
            if size > METADATA_LIMIT {
                return Err(invalid(format!(
                    "a tar metadata entry of {size} bytes (at most {METADATA_LIMIT})"
                )));
            }
        } else if let Some(pax_size) = self.next_size.take() {
            size = pax_size;
        }
        self.pax.clear();
        let extended = kind == tar::EntryType::GNUSparse
            && header.as_gnu().is_some_and(|gnu| gnu.is_extended());
        Ok(State::EmitHeader {
            sent: 0,
            data: size.div_ceil(BLOCK as u64) * BLOCK as u64,
            pax: kind == tar::EntryType::XHeader,
            extended,
        })
    }
}

impl<R: Read> Read for MetadataGuard<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if buffer.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Header { filled } => {
                    let n = self.inner.read(&mut self.header[filled..])?;
                    if n == 0 {
                        if filled == 0 {
                            return Ok(0);
                        }
                        // A cut header: hand on what there is; the tar crate says it is
                        // truncated.
                        let n = filled.min(buffer.len());
                        buffer[..n].copy_from_slice(&self.header[..n]);
                        self.state = State::Header { filled: 0 };
                        return Ok(n);
                    }
                    if filled + n < BLOCK {
                        self.state = State::Header { filled: filled + n };
                        continue;
                    }
                    self.state = self.inspect()?;
                }
                State::EmitHeader {
                    sent,
                    data,
                    pax,
                    extended,
                } => {
                    let n = (BLOCK - sent).min(buffer.len());
                    buffer[..n].copy_from_slice(&self.header[sent..sent + n]);
                    self.state = if sent + n < BLOCK {
                        State::EmitHeader {
                            sent: sent + n,
                            data,
                            pax,
                            extended,
                        }
                    } else if extended {
                        State::Extension { filled: 0, data }
                    } else if data == 0 {
                        State::Header { filled: 0 }
                    } else {
                        State::Data { left: data, pax }
                    };
                    return Ok(n);
                }
                State::Extension { filled, data } => {
                    let n = self.inner.read(&mut self.header[filled..])?;
                    if n == 0 {
                        return Ok(0);
                    }
                    if filled + n < BLOCK {
                        self.state = State::Extension {
                            filled: filled + n,
                            data,
                        };
                        continue;
                    }
                    // Byte 504 of an extension block says whether another one follows.
                    self.state = State::EmitHeader {
                        sent: 0,
                        data,
                        pax: false,
                        extended: self.header[504] != 0,
                    };
                }
                State::Data { left, pax } => {
                    let want = buffer
                        .len()
                        .min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buffer[..want])?;
                    if n == 0 {
                        return Ok(0);
                    }
                    if pax {
                        self.pax.extend_from_slice(&buffer[..n]);
                    }
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        if pax {
                            self.next_size = pax_size(&self.pax);
                        }
                        State::Header { filled: 0 }
                    } else {
                        State::Data { left, pax }
                    };
                    return Ok(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries_of(data: &[u8]) -> io::Result<Vec<(String, usize)>> {
        let mut archive = tar::Archive::new(MetadataGuard::new(data));
        let mut out = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let name = entry.path()?.display().to_string();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            out.push((name, bytes.len()));
        }
        Ok(out)
    }

    #[test]
    fn ordinary_archives_pass_through_unchanged() {
        let mut builder = tar::Builder::new(Vec::new());
        let long_name = format!("{}/file", "d".repeat(200));
        for (name, size) in [
            ("a", 0usize),
            ("b", 1),
            ("c", 513),
            (long_name.as_str(), 5000),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(size as u64);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, name, &vec![7u8; size][..])
                .unwrap();
        }
        // A pax header that gives the next entry's size, as for files of over 8 GiB.
        let mut pax = tar::Builder::new(Vec::new());
        pax.append_pax_extensions([("size", b"700".as_slice())])
            .unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_size(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_path("paxed").unwrap();
        header.set_cksum();
        pax.append(&header, &[9u8; 700][..]).unwrap();
        let mut bytes = builder.into_inner().unwrap();
        bytes.truncate(bytes.len() - 1024); // drop the end blocks, append the pax entry
        bytes.extend(pax.into_inner().unwrap());
        let entries = entries_of(&bytes).unwrap();
        assert_eq!(
            entries,
            vec![
                ("a".to_string(), 0),
                ("b".to_string(), 1),
                ("c".to_string(), 513),
                (long_name, 5000),
                ("paxed".to_string(), 700),
            ]
        );
    }

    #[test]
    fn gnu_sparse_files_with_extension_blocks_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let sparse = dir.path().join("sparse");
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut file = std::fs::File::create(&sparse).unwrap();
            // Ten data regions with holes between them: more than the four a GNU sparse
            // header holds, so extension blocks follow it.
            for i in 0..10u64 {
                file.seek(SeekFrom::Start(i * 1_048_576)).unwrap();
                file.write_all(&[b'x'; 100]).unwrap();
            }
        }
        let archive = dir.path().join("a.tar");
        let status = std::process::Command::new("tar")
            .args(["--sparse", "--format=gnu", "-cf"])
            .arg(&archive)
            .arg("-C")
            .arg(dir.path())
            .arg("sparse")
            .status()
            .unwrap();
        assert!(status.success());
        let bytes = std::fs::read(&archive).unwrap();
        let entries = entries_of(&bytes).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].1 as u64, 9 * 1_048_576 + 100);
    }

    #[test]
    fn huge_metadata_entries_are_refused() {
        for kind in [
            tar::EntryType::XHeader,
            tar::EntryType::GNULongName,
            tar::EntryType::XGlobalHeader,
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(8 << 30);
            header.set_path("x").unwrap();
            header.set_cksum();
            let mut bytes = header.as_bytes().to_vec();
            bytes.extend(vec![b'a'; 4096]);
            let err = entries_of(&bytes).unwrap_err();
            assert!(err.to_string().contains("metadata entry"), "{err}");
        }
    }

    #[test]
    fn pax_size_records_are_found() {
        assert_eq!(pax_size(b"12 size=700\n"), Some(700));
        assert_eq!(pax_size(b"13 path=abcd\n12 size=700\n"), Some(700));
        assert_eq!(pax_size(b"13 path=abcd\n"), None);
        assert_eq!(pax_size(b"garbage"), None);
        assert_eq!(pax_size(b"99999 size=1\n"), None);
    }
}
