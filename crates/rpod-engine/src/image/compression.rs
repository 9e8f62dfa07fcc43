//! Compressed streams told apart by their first bytes: gzip, zstd, bzip2, xz, or plain.
//! Layers, archives and checkpoint exports may come in either (podman pushes zstd and
//! zstd:chunked layers, whose many frames and skippable frames are read here in order;
//! `image load` and ADD take bzip2 and xz archives, as podman's).

use std::io::{self, BufRead, BufReader, Read, Write};

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];

/// Whether `head` starts a bzip2 stream: `BZh`, the block size's digit, then the magic of
/// a block or of the end of the stream (checked too, so that a plain tar whose first name
/// starts with `BZh1` is not taken for one).
pub fn is_bzip2(head: &[u8]) -> bool {
    const BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..10] == BLOCK || head[4..10] == END)
}

/// Whether `head` starts an xz stream.
pub fn is_xz(head: &[u8]) -> bool {
    head.starts_with(&XZ_MAGIC)
}

/// Whether `head` starts a gzip stream.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&GZIP_MAGIC)
}

/// Whether `head` starts a zstd frame or a skippable frame (magic 0x184D2A5?).
pub fn is_zstd(head: &[u8]) -> bool {
    head.starts_with(&ZSTD_MAGIC)
        || (head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18])
}

/// The stream decompressed, by its magic bytes; a stream with neither magic is plain.
/// A decoder's errors say which compression they come from.
pub fn decompressed<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let head = reader.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        return Ok(labelled("gzip", flate2::read::GzDecoder::new(reader)));
    }
    if is_zstd(head) {
        return Ok(labelled(
            "zstd",
            ZstdFrames {
                source: reader,
                decoder: FrameDecoder::new(),
                in_frame: false,
            },
        ));
    }
    if is_bzip2(head) {
        return Ok(labelled("bzip2", bzip2_rs::DecoderReader::new(reader)));
    }
    if is_xz(head) {
        // liblzma (xz's own library, built from the crate's sources: the pure-Rust lzma-rs
        // holds a stream's whole output in memory), with a bound on the memory a stream
        // may ask for; concatenated streams read on, as xz reads them.
        let stream = liblzma::stream::Stream::new_stream_decoder(
            XZ_MEMORY_LIMIT,
            liblzma::stream::CONCATENATED,
        )
        .map_err(io::Error::other)?;
        return Ok(labelled(
            "xz",
            liblzma::bufread::XzDecoder::new_stream(reader, stream),
        ));
    }
    Ok(Box::new(reader))
}

/// `decoder`, its errors prefixed with the compression's name: the decoders' own words
/// ("crc truncated", "premature eof", "corrupt deflate stream") rarely say what was read.
fn labelled<'a>(name: &'static str, decoder: impl Read + 'a) -> Box<dyn Read + 'a> {
    Box::new(Labelled { name, decoder })
}

struct Labelled<D> {
    name: &'static str,
    decoder: D,
}

impl<D: Read> Read for Labelled<D> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buffer).map_err(|e| match e.kind() {
            io::ErrorKind::Interrupted => e,
            kind => io::Error::new(kind, format!("reading its {} compression: {e}", self.name)),
        })
    }
}

/// The most memory an xz stream may make its decoder use: xz's presets ask for at most
/// 64 MiB of dictionary (`-9`, `-e`); a stream that asks for more is refused rather than
/// given up to 4 GiB.
const XZ_MEMORY_LIMIT: u64 = 256 * 1024 * 1024;

/// Every frame of a zstd stream, one after the other (a plain decoder stops after the
/// first), skippable frames skipped. ruzstd decodes in pure Rust, with its bound on the
/// window size, so a hostile stream cannot ask for unbounded memory.
struct ZstdFrames<R> {
    source: R,
    decoder: FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if buffer.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                    self.decoder
                        .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                        .map_err(io::Error::other)?;
                }
                let n = self.decoder.read(buffer)?;
                if n > 0 {
                    return Ok(n);
                }
                if self.decoder.is_finished() && self.decoder.can_collect() == 0 {
                    self.in_frame = false;
                }
                continue;
            }
            if self.source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            match self.decoder.init(&mut self.source) {
                Ok(()) => self.in_frame = true,
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    let skipped = io::copy(
                        &mut (&mut self.source).take(u64::from(length)),
                        &mut io::sink(),
                    )?;
                    if skipped != u64::from(length) {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "zstd stream ends inside a skippable frame",
                        ));
                    }
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        }
    }
}

/// zstd at its fastest level (about zstd's level 1) with ruzstd's encoder. The encoder
/// gives up (panics) on a read or write error, so it gets a reader and a writer that never
/// fail: the first error is kept (the reader then ends, the writer drops what follows)
/// and returned once the encoder is done.
pub fn zstd_compress(source: &mut dyn io::Read, out: &mut dyn Write) -> io::Result<()> {
    struct Reading<'a> {
        inner: &'a mut dyn io::Read,
        error: Option<io::Error>,
    }
    impl io::Read for Reading<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.error.is_some() {
                return Ok(0);
            }
            loop {
                match self.inner.read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.error = Some(e);
                        return Ok(0);
                    }
                    Ok(n) => return Ok(n),
                }
            }
        }
    }
    struct Writing<'a> {
        inner: &'a mut dyn Write,
        error: Option<io::Error>,
    }
    impl Write for Writing<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.error.is_none() {
                if let Err(e) = self.inner.write_all(buf) {
                    self.error = Some(e);
                }
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut reading = Reading {
        inner: source,
        error: None,
    };
    let mut writing = Writing {
        inner: out,
        error: None,
    };
    ruzstd::encoding::compress(
        &mut reading,
        &mut writing,
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    match (reading.error, writing.error) {
        (Some(e), _) | (None, Some(e)) => Err(e),
        (None, None) => writing.inner.flush(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_compression_round_trips_and_reports_errors_without_panicking() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut compressed = Vec::new();
        zstd_compress(&mut data.as_slice(), &mut compressed).unwrap();
        assert!(compressed.len() < data.len() / 2);
        let mut decoder = ruzstd::decoding::StreamingDecoder::new(compressed.as_slice()).unwrap();
        let mut back = Vec::new();
        Read::read_to_end(&mut decoder, &mut back).unwrap();
        assert_eq!(back, data);

        struct Failing;
        impl io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk gone"))
            }
        }
        impl Write for Failing {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = zstd_compress(&mut Failing, &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "disk gone");
        let err = zstd_compress(&mut data.as_slice(), &mut Failing).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
    }

    /// A zstd frame of raw (uncompressed) blocks: the format's simplest valid frame, written
    /// by hand so the test needs no encoder.
    fn raw_frame(data: &[u8]) -> Vec<u8> {
        let mut out = ZSTD_MAGIC.to_vec();
        // Frame header descriptor: single segment, 4-byte content size.
        out.push(0b1010_0000);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        // One last raw block: header = last(1) | type raw(0) << 1 | size << 3.
        let header = 1u32 | ((data.len() as u32) << 3);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(data);
        out
    }

    fn skippable(length: u32) -> Vec<u8> {
        let mut out = vec![0x53, 0x2a, 0x4d, 0x18];
        out.extend_from_slice(&length.to_le_bytes());
        out.extend(std::iter::repeat_n(0xee, length as usize));
        out
    }

    fn read_all(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decompressed(bytes)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn zstd_frames_and_skippable_frames_read_in_order() {
        let mut stream = skippable(10);
        stream.extend(raw_frame(b"hello "));
        stream.extend(skippable(3));
        stream.extend(raw_frame(b"world"));
        assert_eq!(read_all(&stream).unwrap(), b"hello world");
        assert_eq!(read_all(&raw_frame(b"")).unwrap(), b"");
    }

    #[test]
    fn gzip_and_plain_streams_still_read() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"zipped").unwrap();
        assert_eq!(read_all(&gz.finish().unwrap()).unwrap(), b"zipped");
        assert_eq!(read_all(b"plain tar bytes").unwrap(), b"plain tar bytes");
        assert_eq!(read_all(b"").unwrap(), b"");
    }

    #[test]
    fn bzip2_streams_read_and_look_alike_text_stays_plain() {
        // `printf 'bzipped\n' | bzip2 -9`, and an empty stream.
        let bzipped = [
            0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0xe7, 0x92, 0x55, 0x18,
            0x00, 0x00, 0x00, 0xc1, 0x80, 0x00, 0x10, 0x16, 0x20, 0x40, 0x10, 0x20, 0x00, 0x22,
            0x1a, 0x63, 0x50, 0x86, 0x03, 0x93, 0xa2, 0x0f, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90,
            0xe7, 0x92, 0x55, 0x18,
        ];
        assert_eq!(read_all(&bzipped).unwrap(), b"bzipped\n");
        let empty = [
            0x42, 0x5a, 0x68, 0x39, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(read_all(&empty).unwrap(), b"");
        // A damaged block is an error, not a panic.
        let mut damaged = bzipped;
        damaged[20] ^= 0xff;
        assert!(read_all(&damaged).is_err());
        // Text that starts like a bzip2 header is plain.
        assert_eq!(read_all(b"BZh9 is a name").unwrap(), b"BZh9 is a name");
    }

    #[test]
    fn xz_streams_read_concatenated_and_damaged_ones_fail() {
        let xz = |data: &[u8]| {
            let mut out = Vec::new();
            let mut encoder = liblzma::write::XzEncoder::new(&mut out, 6);
            encoder.write_all(data).unwrap();
            encoder.finish().unwrap();
            out
        };
        assert_eq!(read_all(&xz(b"xz data\n")).unwrap(), b"xz data\n");
        let mut two = xz(b"one ");
        two.extend(xz(b"two"));
        assert_eq!(read_all(&two).unwrap(), b"one two");
        let mut damaged = xz(b"some longer data to damage in the middle");
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0xff;
        assert!(read_all(&damaged).is_err());
        let mut truncated = xz(b"cut short");
        truncated.truncate(truncated.len() - 10);
        assert!(read_all(&truncated).is_err());
    }

    #[test]
    fn a_decoders_error_names_its_compression() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"zipped data, long enough to cut").unwrap();
        let mut gz = gz.finish().unwrap();
        gz.truncate(gz.len() / 2);
        let mut cut_xz = Vec::new();
        let mut encoder = liblzma::write::XzEncoder::new(&mut cut_xz, 6);
        encoder.write_all(b"xz data cut short").unwrap();
        encoder.finish().unwrap();
        cut_xz.truncate(cut_xz.len() - 10);
        let mut cut_zstd = raw_frame(b"some data here");
        cut_zstd.truncate(cut_zstd.len() - 4);
        for (name, stream) in [
            ("gzip", gz),
            ("xz", cut_xz),
            ("zstd", cut_zstd),
            ("bzip2", b"BZh91AY&SY".to_vec()),
        ] {
            let error = read_all(&stream).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("reading its {name} compression: ")),
                "{error}"
            );
        }
    }

    #[test]
    fn broken_zstd_is_an_error_not_a_panic() {
        let mut truncated = raw_frame(b"some data here");
        truncated.truncate(truncated.len() - 4);
        assert!(read_all(&truncated).is_err());
        let mut bad_block = raw_frame(b"abc");
        bad_block[9] |= 0b110; // block type 3: reserved
        assert!(read_all(&bad_block).is_err());
        let mut short_skip = skippable(100);
        short_skip.truncate(20);
        assert!(read_all(&short_skip).is_err());
        let mut trailing = raw_frame(b"x");
        trailing.extend_from_slice(b"garbage!");
        assert!(read_all(&trailing).is_err());
    }
}
