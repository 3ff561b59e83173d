//! Checks of an image's container before its decoder runs, for what the decoders would otherwise
//! pay for in memory or time before noticing anything wrong:
//!
//! - PNG: the `iCCP` colour profile is deflated, and the decoder inflates it while reading the
//!   header, up to its whole memory limit (hundreds of MB from a few hundred KB). Nothing here uses
//!   colour profiles, so the chunks are dropped before decoding.
//! - WebP: the lossy (VP8) decoder allocates and decodes a frame of the size its own bitstream
//!   header claims (up to 16,383 x 16,383), and compares it with the canvas (VP8X) or the
//!   animation frame (ANMF) only afterwards. A frame whose size differs is refused up front.
//!
//! - TIFF: the decoder reads a page's whole strip (or tile) offset and byte-count tables, about
//!   32 bytes of memory per 4-byte entry, before it compares their length with the image's size.
//!   A first page listing more strips or tiles than any accepted image can have (a 64-megapixel
//!   image has at most 262,144 tiles of 16 x 16 pixels), or more tags than a classic TIFF can, is
//!   refused up front. (Only the first page is ever read; more pages cost nothing.)
//!
//! All of them walk the container's structure only; one that does not parse is left for the
//! decoder to refuse.

use std::borrow::Cow;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn u32_be(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u32_le(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u24_le(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 3)?;
    Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
}

fn u16_le(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// A PNG without its `iCCP` chunks (borrowed when it has none, or is not a PNG).
pub fn png_without_color_profile(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.starts_with(PNG_SIGNATURE) {
        return Cow::Borrowed(bytes);
    }
    // Chunks: length (4, big-endian), type (4), data (length), CRC (4).
    let mut profiles = Vec::new();
    let mut at = PNG_SIGNATURE.len();
    while let Some(length) = u32_be(bytes, at) {
        let Some(end) = usize::try_from(length).ok().and_then(|l| at.checked_add(12)?.checked_add(l)) else {
            break;
        };
        if end > bytes.len() {
            break;
        }
        match &bytes[at + 4..at + 8] {
            b"iCCP" => profiles.push(at..end),
            b"IEND" => break,
            _ => {}
        }
        at = end;
    }
    if profiles.is_empty() {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut from = 0;
    for chunk in profiles {
        out.extend_from_slice(&bytes[from..chunk.start]);
        from = chunk.end;
    }
    out.extend_from_slice(&bytes[from..]);
    Cow::Owned(out)
}

/// The frame size a VP8 (lossy WebP) bitstream's key-frame header claims.
fn vp8_frame_size(data: &[u8]) -> Option<(u32, u32)> {
    let tag = u24_le(data, 0)?;
    if tag & 1 != 0 || data.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None; // not a key frame: the decoder refuses it without allocating a frame
    }
    Some((u32::from(u16_le(data, 6)? & 0x3FFF), u32::from(u16_le(data, 8)? & 0x3FFF)))
}

/// The RIFF chunks in `bytes[from..to]`: (fourcc, data).
fn riff_chunks(bytes: &[u8], from: usize, to: usize) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut at = from;
    std::iter::from_fn(move || {
        let size = usize::try_from(u32_le(bytes, at + 4)?).ok()?;
        let start = at.checked_add(8)?;
        let end = start.checked_add(size)?;
        if end > to || end > bytes.len() {
            return None;
        }
        let chunk = (&bytes[at..at + 4], &bytes[start..end]);
        at = end + (size & 1); // chunks are padded to an even size
        Some(chunk)
    })
}

/// Refuses a WebP whose lossy frames claim another size than the canvas or animation frame they
/// belong to.
pub fn check_webp_frames(bytes: &[u8]) -> Result<(), String> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WEBP") {
        return Ok(());
    }
    let mut chunks = riff_chunks(bytes, 12, bytes.len());
    let Some((b"VP8X", header)) = chunks.next() else {
        return Ok(()); // a simple WebP: its size is the bitstream's own
    };
    let (Some(width), Some(height)) = (u24_le(header, 4), u24_le(header, 7)) else {
        return Ok(());
    };
    let canvas = (width + 1, height + 1);
    let mismatch = |what: &str, expected: (u32, u32), claimed: (u32, u32)| {
        Err(format!(
            "The WebP's image data claims {}x{} pixels, but its {what} is {}x{}.",
            claimed.0, claimed.1, expected.0, expected.1
        ))
    };
    for (fourcc, data) in chunks {
        match fourcc {
            b"VP8 " => {
                if let Some(size) = vp8_frame_size(data)
                    && size != canvas
                {
                    return mismatch("canvas", canvas, size);
                }
            }
            b"ANMF" => {
                let (Some(width), Some(height)) = (u24_le(data, 6), u24_le(data, 9)) else {
                    continue;
                };
                let frame = (width + 1, height + 1);
                for (sub, sub_data) in riff_chunks(data, 16, data.len()) {
                    if sub == b"VP8 "
                        && let Some(size) = vp8_frame_size(sub_data)
                        && size != frame
                    {
                        return mismatch("animation frame", frame, size);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Most strips or tiles a TIFF page may list.
pub const MAX_TIFF_CHUNKS: u64 = 1 << 18;

/// Refuses a TIFF whose first page lists more than [`MAX_TIFF_CHUNKS`] strips or tiles, or more
/// than 65,535 tags (the most a classic TIFF can hold; a BigTIFF can claim far more).
pub fn check_tiff_chunks(bytes: &[u8]) -> Result<(), String> {
    let big_endian = match bytes.get(0..2) {
        Some(b"II") => false,
        Some(b"MM") => true,
        _ => return Ok(()),
    };
    let read = |at: usize, len: usize| -> Option<u64> {
        let field = bytes.get(at..at.checked_add(len)?)?;
        let fold = |v: u64, b: &u8| v << 8 | u64::from(*b);
        Some(if big_endian { field.iter().fold(0, fold) } else { field.iter().rev().fold(0, fold) })
    };
    let Some(version) = read(2, 2) else { return Ok(()) };
    // (offset of the first IFD, width of its entry count, of an entry, of an entry's count field)
    let (first, count_len, entry_len, field_len) = match version {
        42 => (read(4, 4), 2, 12, 4),
        43 => (read(8, 8), 8, 20, 8),
        _ => return Ok(()),
    };
    let Some(ifd) = first.and_then(|o| usize::try_from(o).ok()) else { return Ok(()) };
    let Some(entries) = read(ifd, count_len) else { return Ok(()) };
    if entries > 65_535 {
        return Err(format!("The TIFF's first page claims {entries} tags; at most 65535 are accepted."));
    }
    for i in 0..entries as usize {
        let Some(at) = ifd.checked_add(count_len + i * entry_len) else { return Ok(()) };
        let (Some(tag), Some(count)) = (read(at, 2), read(at.saturating_add(4), field_len)) else {
            return Ok(());
        };
        // StripOffsets, StripByteCounts, TileOffsets, TileByteCounts.
        if matches!(tag, 273 | 279 | 324 | 325) && count > MAX_TIFF_CHUNKS {
            let what = if tag < 300 { "strips" } else { "tiles" };
            return Err(format!("The TIFF's first page lists {count} {what}; at most {MAX_TIFF_CHUNKS} are accepted."));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// CRC-32 of a PNG chunk's type and data.
    pub fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// A PNG chunk with its length and CRC.
    pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(kind);
        chunk.extend_from_slice(data);
        let crc = crc32(&chunk[4..]);
        chunk.extend_from_slice(&crc.to_be_bytes());
        chunk
    }

    /// `png` with `chunk` inserted right after IHDR.
    pub fn with_chunk_after_ihdr(png: &[u8], chunk: &[u8]) -> Vec<u8> {
        let ihdr_end = 8 + 12 + 13;
        let mut out = png[..ihdr_end].to_vec();
        out.extend_from_slice(chunk);
        out.extend_from_slice(&png[ihdr_end..]);
        out
    }

    /// A zlib stream of `258 * copies + 1` zero bytes, about 13 bits per 258 bytes (fixed
    /// Huffman codes: a literal 0, then length 258 at distance 1 over and over).
    pub fn zlib_zeros(copies: usize) -> Vec<u8> {
        struct Bits {
            out: Vec<u8>,
            acc: u64,
            n: u32,
        }
        impl Bits {
            /// `count` bits of `value`, least significant first.
            fn put(&mut self, value: u64, count: u32) {
                self.acc |= value << self.n;
                self.n += count;
                while self.n >= 8 {
                    self.out.push(self.acc as u8);
                    self.acc >>= 8;
                    self.n -= 8;
                }
            }
            /// A Huffman code, most significant bit first.
            fn code(&mut self, code: u64, len: u32) {
                let reversed = (0..len).fold(0, |r, i| r << 1 | (code >> i) & 1);
                self.put(reversed, len);
            }
        }
        let mut bits = Bits { out: vec![0x78, 0x01], acc: 0, n: 0 };
        bits.put(1, 1); // final block
        bits.put(1, 2); // fixed Huffman codes
        bits.code(0x30, 8); // literal 0
        for _ in 0..copies {
            bits.code(0xC5, 8); // length 258 (symbol 285)
            bits.code(0, 5); // distance 1
        }
        bits.code(0, 7); // end of block
        if bits.n > 0 {
            bits.put(0, 8 - bits.n);
        }
        let total = 258 * copies as u64 + 1;
        let adler = ((total % 65_521) << 16 | 1) as u32;
        let mut out = bits.out;
        out.extend_from_slice(&adler.to_be_bytes());
        out
    }

    /// A RIFF chunk, padded to an even size.
    pub fn riff_chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut chunk = fourcc.to_vec();
        chunk.extend_from_slice(&(data.len() as u32).to_le_bytes());
        chunk.extend_from_slice(data);
        if data.len() % 2 == 1 {
            chunk.push(0);
        }
        chunk
    }

    /// A VP8 key-frame header claiming `width` x `height`, followed by `rest`.
    pub fn vp8_header(width: u16, height: u16, rest: &[u8]) -> Vec<u8> {
        let first_partition = rest.len() as u32;
        let tag = first_partition << 5 | 1 << 4; // key frame, version 0, shown
        let mut data = tag.to_le_bytes()[..3].to_vec();
        data.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        data.extend_from_slice(&width.to_le_bytes());
        data.extend_from_slice(&height.to_le_bytes());
        data.extend_from_slice(rest);
        data
    }

    /// An extended WebP (VP8X) with a `width` x `height` canvas holding `chunks`.
    pub fn webp_extended(width: u32, height: u32, flags: u8, chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut header = vec![flags, 0, 0, 0];
        header.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
        header.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
        let mut body = b"WEBP".to_vec();
        body.extend(riff_chunk(b"VP8X", &header));
        for chunk in chunks {
            body.extend_from_slice(chunk);
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn drops_only_the_color_profile_chunks() {
        let png = with_chunk_after_ihdr(
            &[PNG_SIGNATURE, &png_chunk(b"IHDR", &[0; 13])[..], &png_chunk(b"IEND", &[])[..]].concat(),
            &[png_chunk(b"iCCP", b"profile\0\0xyz"), png_chunk(b"tEXt", b"a\0b")].concat(),
        );
        let stripped = png_without_color_profile(&png);
        assert!(!stripped.windows(4).any(|w| w == b"iCCP"));
        assert!(stripped.windows(4).any(|w| w == b"tEXt"));
        assert_eq!(stripped.len(), png.len() - (12 + 12));
        // Nothing to drop, or not a PNG: the same bytes, not a copy.
        assert!(matches!(png_without_color_profile(&stripped), Cow::Borrowed(_)));
        assert!(matches!(png_without_color_profile(b"GIF89a"), Cow::Borrowed(_)));
        // A chunk length past the end stops the walk without a panic.
        let mut broken = png.clone();
        broken[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(png_without_color_profile(&broken), Cow::Borrowed(_)));
    }

    #[test]
    fn refuses_webp_frames_larger_than_their_canvas() {
        let matching = webp_extended(100, 80, 0, &[riff_chunk(b"VP8 ", &vp8_header(100, 80, &[0; 16]))]);
        assert_eq!(check_webp_frames(&matching), Ok(()));
        let huge = webp_extended(100, 80, 0, &[riff_chunk(b"VP8 ", &vp8_header(16_383, 16_383, &[0; 16]))]);
        let err = check_webp_frames(&huge).unwrap_err();
        assert!(err.contains("16383x16383") && err.contains("canvas is 100x80"), "{err}");
        // In an animation, against the frame's own size.
        let mut anmf = vec![0u8; 16];
        anmf[6..9].copy_from_slice(&49u32.to_le_bytes()[..3]);
        anmf[9..12].copy_from_slice(&49u32.to_le_bytes()[..3]);
        anmf.extend(riff_chunk(b"VP8 ", &vp8_header(9_000, 9_000, &[0; 16])));
        let animated = webp_extended(100, 80, 0x02, &[riff_chunk(b"ANIM", &[0; 6]), riff_chunk(b"ANMF", &anmf)]);
        let err = check_webp_frames(&animated).unwrap_err();
        assert!(err.contains("animation frame is 50x50"), "{err}");
        // Truncated or foreign input is left to the decoder.
        assert_eq!(check_webp_frames(&huge[..30]), Ok(()));
        assert_eq!(check_webp_frames(b"RIFF\0\0\0\0WAVEfmt "), Ok(()));
    }

    #[test]
    fn refuses_tiff_pages_listing_more_strips_or_tiles_than_any_image_has() {
        // A classic little-endian TIFF whose first IFD has one entry: (tag, LONG, count).
        let classic = |tag: u16, count: u32| {
            let mut t = b"II*\0".to_vec();
            t.extend_from_slice(&8u32.to_le_bytes());
            t.extend_from_slice(&1u16.to_le_bytes());
            t.extend_from_slice(&tag.to_le_bytes());
            t.extend_from_slice(&4u16.to_le_bytes());
            t.extend_from_slice(&count.to_le_bytes());
            t.extend_from_slice(&0u32.to_le_bytes());
            t
        };
        assert_eq!(check_tiff_chunks(&classic(273, 16_000)), Ok(()));
        let err = check_tiff_chunks(&classic(273, 1 << 20)).unwrap_err();
        assert!(err.contains("1048576 strips"), "{err}");
        assert!(check_tiff_chunks(&classic(325, 1 << 19)).unwrap_err().contains("tiles"));
        // The same in a big-endian BigTIFF, and a BigTIFF claiming billions of tags.
        let mut big = b"MM\0\x2b\0\x08\0\0".to_vec();
        big.extend_from_slice(&16u64.to_be_bytes());
        big.extend_from_slice(&1u64.to_be_bytes());
        big.extend_from_slice(&324u16.to_be_bytes());
        big.extend_from_slice(&16u16.to_be_bytes());
        big.extend_from_slice(&(1u64 << 30).to_be_bytes());
        big.extend_from_slice(&0u64.to_be_bytes());
        assert!(check_tiff_chunks(&big).unwrap_err().contains("1073741824 tiles"));
        big[16..24].copy_from_slice(&(1u64 << 40).to_be_bytes());
        assert!(check_tiff_chunks(&big).unwrap_err().contains("tags"));
        // Truncated or foreign input is left to the decoder.
        assert_eq!(check_tiff_chunks(&classic(273, 1 << 20)[..12]), Ok(()));
        assert_eq!(check_tiff_chunks(b"GIF89a"), Ok(()));
    }
}
