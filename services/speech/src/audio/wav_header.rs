//! A check of WAV headers before symphonia reads them. symphonia 0.6's RIFF reader multiplies the
//! channel count of a PCM `fmt ` chunk by the sample width in 16 bits, which overflows (a panic
//! with overflow checks, as in debug builds and the fuzz targets) for 32,768 channels or more; no
//! real recording has more than a few dozen. The probe finds a `RIFF....WAVE` header anywhere in
//! the first bytes, so every such header in the upload is checked (found by fuzzing).

/// Most channels accepted in a WAV file.
pub const MAX_CHANNELS: u16 = 64;

/// Chunks walked per header before the check gives up (the `fmt ` chunk comes first in practice).
const MAX_CHUNKS: usize = 64;

/// Why a `RIFF....WAVE` header in `bytes` is refused, if one is.
pub fn problem(bytes: &[u8]) -> Option<String> {
    bytes
        .windows(12)
        .enumerate()
        .filter(|(_, w)| &w[..4] == b"RIFF" && &w[8..] == b"WAVE")
        .find_map(|(start, _)| channels(&bytes[start + 12..]))
        .filter(|&n| n > MAX_CHANNELS)
        .map(|n| format!("the WAV header declares {n} channels; at most {MAX_CHANNELS} are accepted"))
}

/// The channel count of the first `fmt ` chunk among `chunks`.
fn channels(mut chunks: &[u8]) -> Option<u16> {
    for _ in 0..MAX_CHUNKS {
        let id = chunks.get(..4)?;
        let size = u32::from_le_bytes(chunks.get(4..8)?.try_into().ok()?) as usize;
        let body = &chunks[8..];
        if id == b"fmt " {
            return body.get(2..4).map(|c| u16::from_le_bytes([c[0], c[1]]));
        }
        // Chunks are padded to an even size.
        let next = size.checked_add(size % 2)?;
        chunks = body.get(next..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(channels: u16, prefix: &[u8]) -> Vec<u8> {
        let mut out = prefix.to_vec();
        out.extend_from_slice(b"RIFF\x24\0\0\0WAVE");
        out.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        out.extend_from_slice(b"fmt \x10\0\0\0\x01\0");
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&[0x80, 0x3e, 0, 0, 0, 0x7d, 0, 0, 4, 0, 16, 0]);
        out.extend_from_slice(b"data\0\0\0\0");
        out
    }

    #[test]
    fn absurd_channel_counts_are_refused_wherever_the_header_is() {
        assert_eq!(problem(&wav(2, b"")), None);
        assert_eq!(problem(&wav(64, b"xyz")), None);
        assert!(problem(&wav(65_535, b"")).is_some_and(|m| m.contains("65535 channels")));
        assert!(problem(&wav(40_000, b"\x10\x3eRIFd junk")).is_some());
        assert_eq!(problem(b"RIFF\xff\xff\xff\xffWAVEfmt "), None);
        assert_eq!(problem(b"not audio"), None);
    }
}
