//! Docker's multiplexed stream format, used by attach and exec over HTTP when the container
//! has no terminal: every write becomes a frame of an 8-byte header (the stream: 0 stdin,
//! 1 stdout, 2 stderr; three zero bytes; the payload's length, big-endian u32) and the
//! payload. With a terminal the stream is raw and none of this applies.
//!
//! Written here: the format is eight bytes, and the crates that have it bring a whole Docker
//! client along.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

/// The stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StreamKind {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
}

const HEADER: usize = 8;

/// The header of a frame with `len` bytes of `stream`.
pub fn frame_header(stream: StreamKind, len: u32) -> [u8; HEADER] {
    let size = len.to_be_bytes();
    [stream as u8, 0, 0, 0, size[0], size[1], size[2], size[3]]
}

/// One stream of a multiplexed connection: each write is sent as whole frames. The two
/// output streams share the connection, and a frame is never interleaved with another.
pub struct FramedWriter<W: Write> {
    inner: Arc<Mutex<W>>,
    stream: StreamKind,
}

impl<W: Write> FramedWriter<W> {
    pub fn new(inner: Arc<Mutex<W>>, stream: StreamKind) -> Self {
        FramedWriter { inner, stream }
    }
}

/// Write all of `first` then all of `second`, as few writes as the writer allows.
fn write_all_vectored<W: Write>(out: &mut W, first: &[u8], second: &[u8]) -> io::Result<()> {
    let mut written = 0usize;
    let total = first.len() + second.len();
    while written < total {
        let n = if written < first.len() {
            let slices = [
                io::IoSlice::new(&first[written..]),
                io::IoSlice::new(second),
            ];
            out.write_vectored(&slices)
        } else {
            out.write(&second[written - first.len()..])
        };
        match n {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Stdout and stderr writers over one connection.
pub fn multiplexed<W: Write>(connection: W) -> (FramedWriter<W>, FramedWriter<W>) {
    let shared = Arc::new(Mutex::new(connection));
    (
        FramedWriter::new(shared.clone(), StreamKind::Stdout),
        FramedWriter::new(shared, StreamKind::Stderr),
    )
}

impl<W: Write> Write for FramedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // A frame holds at most u32::MAX bytes; the rest goes in the next write.
        let len = buf.len().min(u32::MAX as usize);
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("a writer of this connection panicked"))?;
        // Header and payload in one vectored write: one wakeup of the reader per frame,
        // not two.
        let header = frame_header(self.stream, len as u32);
        write_all_vectored(&mut *inner, &header, &buf[..len])?;
        Ok(len)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner
            .lock()
            .map_err(|_| io::Error::other("a writer of this connection panicked"))?
            .flush()
    }
}

/// The largest frame `read_frame` accepts: a peer that claims more is not trusted with it.
pub const MAX_FRAME: u32 = 64 << 20;

/// Read one frame: `Ok(None)` at a clean end of input (before a header). A header that
/// names no known stream, a frame larger than `MAX_FRAME`, or input that ends inside a
/// frame is an error.
pub fn read_frame(reader: &mut impl Read) -> io::Result<Option<(StreamKind, Vec<u8>)>> {
    let mut header = [0u8; HEADER];
    let mut filled = 0;
    while filled < HEADER {
        match reader.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let stream = match header[0] {
        0 => StreamKind::Stdin,
        1 => StreamKind::Stdout,
        2 => StreamKind::Stderr,
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("frame of unknown stream {other}"),
            ))
        }
    };
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is larger than {MAX_FRAME}"),
        ));
    }
    let mut payload = vec![0u8; len as usize];
    reader.read_exact(&mut payload)?;
    Ok(Some((stream, payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_become_frames_that_read_back() {
        let buffer: Vec<u8> = Vec::new();
        let (mut out, mut err) = multiplexed(buffer);
        out.write_all(b"hello\n").unwrap();
        err.write_all(b"oops").unwrap();
        out.write_all(b"").unwrap();
        out.write_all(&[7u8; 70_000]).unwrap();
        drop(err);
        let bytes = Arc::try_unwrap(out.inner)
            .ok()
            .unwrap()
            .into_inner()
            .unwrap();
        assert_eq!(&bytes[..8], &[1, 0, 0, 0, 0, 0, 0, 6]);
        assert_eq!(&bytes[8..14], b"hello\n");
        assert_eq!(&bytes[14..22], &[2, 0, 0, 0, 0, 0, 0, 4]);
        let mut reader = &bytes[..];
        let frames: Vec<_> = std::iter::from_fn(|| read_frame(&mut reader).unwrap()).collect();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], (StreamKind::Stdout, b"hello\n".to_vec()));
        assert_eq!(frames[1], (StreamKind::Stderr, b"oops".to_vec()));
        assert_eq!(frames[2].1.len(), 70_000);
    }

    /// Takes at most three bytes per call, vectored or not.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let n = data.len().min(3);
            self.0.extend_from_slice(&data[..n]);
            Ok(n)
        }
        fn write_vectored(&mut self, slices: &[io::IoSlice<'_>]) -> io::Result<usize> {
            let mut left = 3;
            for slice in slices {
                let n = slice.len().min(left);
                self.0.extend_from_slice(&slice[..n]);
                left -= n;
            }
            Ok(3 - left)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn short_writes_still_make_whole_frames() {
        let (mut out, _err) = multiplexed(Trickle(Vec::new()));
        out.write_all(b"abcdefghij").unwrap();
        out.write_all(b"k").unwrap();
        let bytes = out.inner.lock().unwrap().0.clone();
        let mut reader = &bytes[..];
        let frames: Vec<_> = std::iter::from_fn(|| read_frame(&mut reader).unwrap()).collect();
        assert_eq!(
            frames,
            [
                (StreamKind::Stdout, b"abcdefghij".to_vec()),
                (StreamKind::Stdout, b"k".to_vec())
            ]
        );
    }

    #[test]
    fn random_writes_on_both_streams_read_back_as_written() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut out, mut err) = multiplexed(Trickle(Vec::new()));
        let (mut sent_out, mut sent_err) = (Vec::new(), Vec::new());
        for _ in 0..300 {
            let len = (next() % 200) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if next() % 2 == 0 {
                out.write_all(&data).unwrap();
                sent_out.extend_from_slice(&data);
            } else {
                err.write_all(&data).unwrap();
                sent_err.extend_from_slice(&data);
            }
        }
        let bytes = out.inner.lock().unwrap().0.clone();
        let mut reader = &bytes[..];
        let (mut got_out, mut got_err) = (Vec::new(), Vec::new());
        while let Some((stream, payload)) = read_frame(&mut reader).unwrap() {
            match stream {
                StreamKind::Stdout => got_out.extend_from_slice(&payload),
                StreamKind::Stderr => got_err.extend_from_slice(&payload),
                StreamKind::Stdin => panic!("a stdin frame"),
            }
        }
        assert_eq!((got_out, got_err), (sent_out, sent_err));
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        assert!(read_frame(&mut &[9u8, 0, 0, 0, 0, 0, 0, 1, 0][..]).is_err());
        assert!(read_frame(&mut &[1u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff][..]).is_err());
        assert!(read_frame(&mut &[1u8, 0, 0, 0, 0, 0, 0, 5, b'a'][..]).is_err());
        assert!(read_frame(&mut &[1u8, 0, 0][..]).is_err());
        assert!(read_frame(&mut &[][..]).unwrap().is_none());
        // Random input: whatever it is, reading ends with frames, an error or the end.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let len = (seed % 64) as usize;
            let mut data = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly zeros and small numbers: plausible headers, lengths and streams.
                data.push(if seed.is_multiple_of(3) {
                    (seed % 4) as u8
                } else {
                    0
                });
            }
            let mut reader = &data[..];
            while let Ok(Some(_)) = read_frame(&mut reader) {}
        }
    }
}
