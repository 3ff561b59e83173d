//! 16-bit PCM that arrives in pieces (a live stream) turned into recognizer input: bytes split
//! anywhere (an odd byte or half a frame waits for the next piece), channels downmixed, the rate
//! converted to 16 kHz as the audio comes.

use std::io::Cursor;

use super::RECOGNITION_RATE;
use super::resample::StreamResampler;

/// Rates a live stream may have.
pub const RATES: std::ops::RangeInclusive<u32> = 8_000..=48_000;
/// Most channels a live stream may have.
pub const MAX_CHANNELS: u16 = 8;

/// What a WAV header or a client's settings declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmFormat {
    pub sample_rate: u32,
    pub channels: u16,
}

impl PcmFormat {
    pub const RECOGNITION: PcmFormat = PcmFormat { sample_rate: RECOGNITION_RATE, channels: 1 };

    /// Checks the format is one a live stream can take.
    pub fn checked(self) -> Result<Self, String> {
        if !RATES.contains(&self.sample_rate) {
            return Err(format!("The sample rate {} Hz is not supported: use 8000 to 48000 Hz.", self.sample_rate));
        }
        if self.channels == 0 || self.channels > MAX_CHANNELS {
            return Err(format!("{} channels are not supported: use 1 to {MAX_CHANNELS}.", self.channels));
        }
        Ok(self)
    }

    /// Reads the WAV header at the start of a stream (the Speech SDK sends one with zero sizes
    /// as its first audio message): the format and where the samples start. Only 16-bit PCM.
    pub fn from_wav_header(bytes: &[u8]) -> Result<(PcmFormat, usize), String> {
        let reader =
            hound::WavReader::new(Cursor::new(bytes)).map_err(|e| format!("The WAV header is not valid: {e}"))?;
        let spec = reader.spec();
        if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
            return Err(format!(
                "Live audio must be 16-bit PCM; the WAV header says {} bits {:?}.",
                spec.bits_per_sample, spec.sample_format
            ));
        }
        let start = usize::try_from(reader.into_inner().position()).unwrap_or(bytes.len()).min(bytes.len());
        let format = PcmFormat { sample_rate: spec.sample_rate, channels: spec.channels }.checked()?;
        Ok((format, start))
    }
}

/// Turns 16-bit little-endian PCM pieces into 16 kHz mono samples.
pub struct PcmStream {
    format: PcmFormat,
    /// Bytes of an incomplete frame (all channels of one instant) left from the last piece.
    partial: Vec<u8>,
    resampler: StreamResampler,
    frames_in: u64,
}

impl PcmStream {
    pub fn new(format: PcmFormat) -> Self {
        Self {
            format,
            partial: Vec::new(),
            resampler: StreamResampler::new(format.sample_rate, RECOGNITION_RATE),
            frames_in: 0,
        }
    }

    pub fn format(&self) -> PcmFormat {
        self.format
    }

    /// Seconds of audio received.
    pub fn received_secs(&self) -> f64 {
        self.frames_in as f64 / f64::from(self.format.sample_rate)
    }

    /// Adds a piece; returns the 16 kHz samples it completes.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<f32> {
        let frame_bytes = 2 * usize::from(self.format.channels);
        self.partial.extend_from_slice(bytes);
        let whole = self.partial.len() / frame_bytes * frame_bytes;
        let mono: Vec<f32> = self.partial[..whole]
            .chunks_exact(frame_bytes)
            .map(|frame| {
                let sum: f32 =
                    frame.chunks_exact(2).map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32_768.0).sum();
                sum / f32::from(self.format.channels)
            })
            .collect();
        self.partial.drain(..whole);
        self.frames_in += mono.len() as u64;
        self.resampler.push(&mono);
        self.resampler.take()
    }

    /// The samples still held by the resampler (the end of the stream).
    pub fn finish(self) -> Vec<f32> {
        self.resampler.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_header(rate: u32, channels: u16, bits: u16) -> Vec<u8> {
        let mut h = Vec::new();
        let block = channels * bits / 8;
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        h.extend_from_slice(&block.to_le_bytes());
        h.extend_from_slice(&bits.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&0u32.to_le_bytes());
        h
    }

    #[test]
    fn reads_the_sdks_zero_size_header() {
        let (format, start) = PcmFormat::from_wav_header(&wav_header(22_050, 1, 16)).expect("valid header");
        assert_eq!((format, start), (PcmFormat { sample_rate: 22_050, channels: 1 }, 44));
        assert!(PcmFormat::from_wav_header(&wav_header(16_000, 1, 8)).is_err(), "8-bit is refused");
        assert!(PcmFormat::from_wav_header(&wav_header(4_000, 1, 16)).is_err(), "4 kHz is refused");
        assert!(PcmFormat::from_wav_header(b"RIFF\0\0\0\0WAVE").is_err());
        assert!(PcmFormat::from_wav_header(b"hello").is_err());
    }

    #[test]
    fn pieces_split_anywhere_give_the_whole_signal() {
        // Stereo at 16 kHz: left 0.5, right 0.25, so the mono mix is 0.375.
        let mut bytes = Vec::new();
        for _ in 0..1000 {
            bytes.extend_from_slice(&16_384i16.to_le_bytes());
            bytes.extend_from_slice(&8_192i16.to_le_bytes());
        }
        let mut stream = PcmStream::new(PcmFormat { sample_rate: 16_000, channels: 2 });
        let mut out = Vec::new();
        for piece in bytes.chunks(7) {
            out.extend(stream.push(piece));
        }
        out.extend(stream.finish());
        assert_eq!(out.len(), 1000);
        assert!(out.iter().all(|s| (s - 0.375).abs() < 1e-6));
        assert!((PcmStream::new(PcmFormat::RECOGNITION).received_secs()).abs() < 1e-9);
    }
}
