//! Decoding uploaded audio: WAV (8/16/24/32-bit PCM, float), MP3, FLAC, OGG/Vorbis, OGG/Opus and
//! WebM/Matroska/Opus through symphonia (Opus frames through libopus), downmixed to mono and
//! resampled to 16 kHz for the recognizer. Headerless PCM is accepted when the content type
//! says so (`audio/pcm; samplerate=N`, `codecs=audio/pcm` without a RIFF header), as Azure does.

use std::io::Cursor;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia_adapter_libopus::OpusDecoder;

use super::resample::StreamResampler;
use super::{Pcm, RECOGNITION_RATE};
use cogway_core::{Code, ServiceError};

/// Why audio could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AudioError {
    #[error("The request body is empty: send the audio in the body.")]
    Empty,
    #[error("The audio could not be decoded: {0}")]
    Unsupported(String),
    #[error(
        "The audio is longer than {limit} s (more than {seconds:.1} s were decoded); this operation accepts at most {limit} s."
    )]
    TooLong { seconds: f64, limit: u32 },
    #[error("The audio contains no samples.")]
    NoSamples,
    #[error("The audio's {what} is {value}; this server accepts {range}.")]
    OutOfRange { what: &'static str, value: u64, range: &'static str },
}

impl From<AudioError> for ServiceError {
    fn from(err: AudioError) -> Self {
        let code = match err {
            AudioError::TooLong { .. } => Code::PayloadTooLarge,
            _ => Code::InvalidAudio,
        };
        ServiceError::new(code, err.to_string())
    }
}

/// How much audio a caller accepts.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Longest accepted duration in seconds; decoding stops as soon as it is exceeded.
    pub max_seconds: u32,
}

/// Sample rates accepted, checked against the header before anything is allocated: the
/// resampler and the decoded buffers are sized from the rate, so a header claiming 4 GHz must
/// never reach them.
pub const MIN_SAMPLE_RATE: u32 = 4_000;
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// Most channels accepted (7.1 audio); each is decoded before the downmix.
pub const MAX_CHANNELS: usize = 8;
/// Most frames one packet may declare (a decoder allocates that much up front). FLAC's largest
/// block is 65,535 frames and WAV packets are far smaller.
pub const MAX_FRAMES_PER_PACKET: u64 = 1 << 20;

fn check_rate(rate: u32) -> Result<(), AudioError> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::OutOfRange { what: "sample rate", value: rate.into(), range: "4000 to 192000 Hz" })
    }
}

fn check_channels(channels: usize) -> Result<(), AudioError> {
    if channels <= MAX_CHANNELS {
        Ok(())
    } else {
        Err(AudioError::OutOfRange { what: "channel count", value: channels as u64, range: "1 to 8 channels" })
    }
}

/// Where decoded mono samples go, packet by packet, so that what is kept can be smaller than
/// what was decoded (resampled to 16 kHz, or only counted).
trait MonoSink {
    /// Called once with the stream's sample rate, before the first samples.
    fn start(&mut self, rate: u32);
    fn push(&mut self, mono: &[f32]);
}

/// Keeps every sample at the file's own rate.
#[derive(Default)]
struct Collect(Vec<f32>);

impl MonoSink for Collect {
    fn start(&mut self, _rate: u32) {}
    fn push(&mut self, mono: &[f32]) {
        self.0.extend_from_slice(mono);
    }
}

/// Resamples to 16 kHz as the samples arrive: memory follows the recognizer's rate, not the file's.
#[derive(Default)]
struct ToRecognitionRate(Option<StreamResampler>);

impl MonoSink for ToRecognitionRate {
    fn start(&mut self, rate: u32) {
        self.0 = Some(StreamResampler::new(rate, RECOGNITION_RATE));
    }
    fn push(&mut self, mono: &[f32]) {
        if let Some(resampler) = &mut self.0 {
            resampler.push(mono);
        }
    }
}

/// Keeps nothing: for measuring a duration.
struct Discard;

impl MonoSink for Discard {
    fn start(&mut self, _rate: u32) {}
    fn push(&mut self, _mono: &[f32]) {}
}

/// The codecs symphonia ships plus Opus through libopus (symphonia has no Opus decoder yet).
fn codecs() -> &'static CodecRegistry {
    static REGISTRY: std::sync::OnceLock<CodecRegistry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<OpusDecoder>();
        registry
    })
}

/// Decodes `bytes` (with the request's content type, if any) into 16 kHz mono.
pub fn decode_for_recognition(
    bytes: &[u8],
    content_type: Option<&str>,
    limits: DecodeLimits,
) -> Result<Pcm, AudioError> {
    let mut sink = ToRecognitionRate::default();
    decode_into(bytes, content_type, limits, &mut sink)?;
    let samples = sink.0.map(StreamResampler::finish).unwrap_or_default();
    if samples.is_empty() {
        return Err(AudioError::NoSamples);
    }
    Ok(Pcm::new(samples, RECOGNITION_RATE))
}

/// Decodes `bytes` into mono at the file's own sample rate.
pub fn decode(bytes: &[u8], content_type: Option<&str>, limits: DecodeLimits) -> Result<Pcm, AudioError> {
    let mut sink = Collect::default();
    let (rate, _) = decode_into(bytes, content_type, limits, &mut sink)?;
    Ok(Pcm::new(sink.0, rate))
}

/// Decodes `bytes` only to measure it: the duration in seconds, keeping no samples.
pub fn duration(bytes: &[u8], content_type: Option<&str>, limits: DecodeLimits) -> Result<f64, AudioError> {
    let (rate, frames) = decode_into(bytes, content_type, limits, &mut Discard)?;
    Ok(frames as f64 / f64::from(rate))
}

/// Decodes into `sink`; returns the sample rate and the number of mono frames decoded (never 0).
fn decode_into(
    bytes: &[u8],
    content_type: Option<&str>,
    limits: DecodeLimits,
    sink: &mut dyn MonoSink,
) -> Result<(u32, u64), AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    if let Some(rate) = raw_pcm_rate(bytes, content_type) {
        return decode_raw_pcm16(bytes, rate, limits, sink);
    }
    if let Some(problem) = super::wav_header::problem(bytes) {
        return Err(AudioError::Unsupported(problem));
    }
    let mut hint = Hint::new();
    if let Some(mime) = content_type.and_then(|ct| ct.split(';').next()).map(str::trim).filter(|m| !m.is_empty()) {
        hint.mime_type(&mime.to_ascii_lowercase());
    }
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), MediaSourceStreamOptions::default());
    let mut format = symphonia::default::get_probe()
        .probe(&hint, source, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| AudioError::Unsupported(describe(&e, "the format was not recognized")))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::Unsupported("the file has no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::Unsupported("the audio track has no codec parameters".into()))?;
    if let Some(rate) = params.sample_rate {
        check_rate(rate)?;
    }
    if let Some(channels) = &params.channels {
        check_channels(channels.count())?;
    }
    if let Some(frames) = params.max_frames_per_packet.filter(|&n| n > MAX_FRAMES_PER_PACKET) {
        return Err(AudioError::OutOfRange {
            what: "declared packet size",
            value: frames,
            range: "at most 1048576 frames per packet",
        });
    }
    let mut decoder = codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| AudioError::Unsupported(describe(&e, "the codec is not supported")))?;

    let mut mono: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut frames = 0u64;
    let mut rate = 0u32;
    let mut decoded_packets = 0usize;
    let mut last_error = None;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A truncated file: keep what was decoded so far.
            Err(SymphoniaError::IoError(_)) => break,
            Err(e) => {
                last_error = Some(describe(&e, "the stream is corrupt"));
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            Err(SymphoniaError::DecodeError(e)) => {
                last_error = Some(e.to_string());
                continue;
            }
            Err(e) => {
                last_error = Some(describe(&e, "decoding failed"));
                break;
            }
        };
        decoded_packets += 1;
        let spec = buffer.spec();
        let channels = spec.channels().count().max(1);
        check_channels(channels)?;
        if rate == 0 {
            rate = spec.rate();
            check_rate(rate)?;
            sink.start(rate);
        } else if spec.rate() != rate {
            return Err(AudioError::Unsupported(format!(
                "the sample rate changes within the stream ({rate} Hz, then {} Hz)",
                spec.rate()
            )));
        }
        buffer.copy_to_vec_interleaved(&mut interleaved);
        mono.clear();
        mono.extend(interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32));
        frames += mono.len() as u64;
        if frames > u64::from(limits.max_seconds) * u64::from(rate) {
            return Err(AudioError::TooLong { seconds: frames as f64 / f64::from(rate), limit: limits.max_seconds });
        }
        sink.push(&mono);
    }
    if decoded_packets == 0 || rate == 0 {
        return Err(AudioError::Unsupported(last_error.unwrap_or_else(|| "no audio could be decoded".into())));
    }
    if frames == 0 {
        return Err(AudioError::NoSamples);
    }
    Ok((rate, frames))
}

fn describe(err: &SymphoniaError, what: &str) -> String {
    match err {
        SymphoniaError::Unsupported(detail) => format!("{what} ({detail}). Send WAV, MP3, FLAC, OGG or WebM audio."),
        other => format!("{what} ({other}). Send WAV, MP3, FLAC, OGG or WebM audio."),
    }
}

/// The sample rate of headerless 16-bit PCM, when the content type announces it and the body
/// has no container header.
fn raw_pcm_rate(bytes: &[u8], content_type: Option<&str>) -> Option<u32> {
    let ct = content_type?.to_ascii_lowercase();
    let is_raw_pcm = ct.starts_with("audio/pcm")
        || ct.starts_with("audio/l16")
        || (ct.contains("codecs=audio/pcm") && !bytes.starts_with(b"RIFF"));
    if !is_raw_pcm || bytes.starts_with(b"RIFF") {
        return None;
    }
    let rate = ct
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == "samplerate" || *k == "rate")
        .and_then(|(_, v)| v.trim().parse::<u32>().ok())
        .unwrap_or(RECOGNITION_RATE);
    Some(rate)
}

fn decode_raw_pcm16(
    bytes: &[u8],
    rate: u32,
    limits: DecodeLimits,
    sink: &mut dyn MonoSink,
) -> Result<(u32, u64), AudioError> {
    check_rate(rate)?;
    let frames = (bytes.len() / 2) as u64;
    if frames == 0 {
        return Err(AudioError::NoSamples);
    }
    let seconds = frames as f64 / f64::from(rate);
    if seconds > f64::from(limits.max_seconds) {
        return Err(AudioError::TooLong { seconds, limit: limits.max_seconds });
    }
    sink.start(rate);
    // In slices, so that a resampling sink never holds the whole file at its own rate.
    let mut chunk = Vec::with_capacity(4096);
    for block in bytes.chunks(8192) {
        chunk.clear();
        chunk.extend(block.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0));
        sink.push(&chunk);
    }
    Ok((rate, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: DecodeLimits = DecodeLimits { max_seconds: 60 };

    fn sine(rate: u32, seconds: f32, channels: u16, bits: u16) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if bits == 32 { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
        };
        let mut out = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut out, spec).expect("writer");
        let n = (rate as f32 * seconds) as usize;
        for i in 0..n {
            let v = (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5;
            for _ in 0..channels {
                match bits {
                    32 => writer.write_sample(v).expect("write"),
                    8 => writer.write_sample((v * 127.0) as i8).expect("write"),
                    16 => writer.write_sample((v * 32767.0) as i16).expect("write"),
                    _ => writer.write_sample((v * 8_388_607.0) as i32).expect("write"),
                }
            }
        }
        writer.finalize().expect("finalize");
        out.into_inner()
    }

    #[test]
    fn wav_of_every_depth_and_rate_becomes_16k_mono() {
        for (rate, channels, bits) in [(8_000, 2, 16), (44_100, 1, 24), (48_000, 2, 32), (22_050, 1, 8)] {
            let pcm = decode_for_recognition(&sine(rate, 1.0, channels, bits), Some("audio/wav"), LIMITS)
                .unwrap_or_else(|e| panic!("{rate} Hz {bits} bit: {e}"));
            assert_eq!(pcm.sample_rate, 16_000);
            assert!((pcm.samples.len() as i64 - 16_000).abs() < 200, "{} samples", pcm.samples.len());
            let peak = pcm.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
            assert!((0.4..0.6).contains(&peak), "{rate} Hz {bits} bit peak {peak}");
        }
    }

    #[test]
    fn garbage_empty_and_too_long_are_refused() {
        assert_eq!(decode(b"", None, LIMITS), Err(AudioError::Empty));
        let garbage: Vec<u8> = (0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert!(matches!(decode(&garbage, Some("audio/wav"), LIMITS), Err(AudioError::Unsupported(_))));
        let long = sine(8_000, 3.0, 1, 16);
        assert!(matches!(
            decode(&long, None, DecodeLimits { max_seconds: 2 }),
            Err(AudioError::TooLong { limit: 2, .. })
        ));
    }

    #[test]
    fn a_header_claiming_a_huge_sample_rate_is_refused() {
        for claimed in [1_077_805_087u32, 1, 200_000] {
            let mut wav = sine(8_000, 0.05, 1, 16);
            wav[24..28].copy_from_slice(&claimed.to_le_bytes());
            let err = decode_for_recognition(&wav, Some("audio/wav"), LIMITS).expect_err("refused");
            assert!(matches!(&err, AudioError::OutOfRange { what: "sample rate", .. }), "{claimed}: {err:?}");
        }
    }

    #[test]
    fn headerless_pcm_uses_the_announced_rate() {
        let bytes: Vec<u8> = (0..8000).flat_map(|i: i32| ((i % 100) as i16 * 100).to_le_bytes()).collect();
        let pcm = decode(&bytes, Some("audio/wav; codecs=audio/pcm; samplerate=8000"), LIMITS).expect("raw pcm");
        assert_eq!(pcm.sample_rate, 8000);
        assert_eq!(pcm.samples.len(), 8000);
    }
}
