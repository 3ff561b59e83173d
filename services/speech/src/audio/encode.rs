//! Encoding synthesized speech: WAV (hound), raw PCM, MP3 (LAME through mp3lame-encoder) and
//! Ogg/Opus (libopus through opusic-c, in an Ogg stream written with the `ogg` crate).

use std::io::Cursor;

use mp3lame_encoder::{Builder as LameBuilder, FlushGap, MonoPcm};
use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use opusic_c::{Application, Channels, Encoder as OpusEncoder, SampleRate};

use super::Pcm;
use super::format::{Container, OutputFormat};
use super::resample::resample;

/// Why encoding failed (never the client's fault: formats are validated when parsed).
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("WAV encoding failed: {0}")]
    Wav(#[from] hound::Error),
    #[error("MP3 encoding failed: {0}")]
    Mp3(String),
    #[error("Opus encoding failed: {0}")]
    Opus(String),
}

impl From<EncodeError> for cogway_core::ServiceError {
    fn from(err: EncodeError) -> Self {
        cogway_core::ServiceError::internal(err.to_string())
    }
}

/// Resamples `pcm` to the format's rate and encodes it.
pub fn encode(pcm: &Pcm, format: OutputFormat) -> Result<Vec<u8>, EncodeError> {
    let samples = resample(&pcm.samples, pcm.sample_rate, format.sample_rate);
    match format.container {
        Container::Wav => wav(&samples, format.sample_rate),
        Container::Raw => Ok(pcm16(&samples)),
        Container::Mp3 { kbps } => mp3(&samples, format.sample_rate, kbps),
        Container::OggOpus => ogg_opus(&samples, format.sample_rate),
    }
}

/// Samples as 16-bit little-endian PCM (the raw formats).
pub fn pcm16(samples: &[f32]) -> Vec<u8> {
    samples.iter().flat_map(|s| to_i16(*s).to_le_bytes()).collect()
}

fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

fn wav(samples: &[f32], rate: u32) -> Result<Vec<u8>, EncodeError> {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut out = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    let mut writer = hound::WavWriter::new(&mut out, spec)?;
    let mut i16_writer = writer.get_i16_writer(samples.len() as u32);
    for s in samples {
        i16_writer.write_sample(to_i16(*s));
    }
    i16_writer.flush()?;
    writer.finalize()?;
    Ok(out.into_inner())
}

fn mp3(samples: &[f32], rate: u32, kbps: u32) -> Result<Vec<u8>, EncodeError> {
    use mp3lame_encoder::Bitrate;
    let bitrate = match kbps {
        32 => Bitrate::Kbps32,
        48 => Bitrate::Kbps48,
        64 => Bitrate::Kbps64,
        96 => Bitrate::Kbps96,
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        _ => Bitrate::Kbps192,
    };
    let err = |e: &dyn std::fmt::Display| EncodeError::Mp3(e.to_string());
    let mut encoder = LameBuilder::new()
        .ok_or_else(|| EncodeError::Mp3("LAME could not allocate an encoder".into()))?
        .with_num_channels(1)
        .map_err(|e| err(&e))?
        .with_sample_rate(rate)
        .map_err(|e| err(&e))?
        .with_brate(bitrate)
        .map_err(|e| err(&e))?
        .with_quality(mp3lame_encoder::Quality::Good)
        .map_err(|e| err(&e))?
        // No Xing/LAME info frame: it is written empty at the start and would need a second pass.
        .with_to_write_vbr_tag(false)
        .map_err(|e| err(&e))?
        .build()
        .map_err(|e| err(&e))?;
    let pcm: Vec<i16> = samples.iter().map(|s| to_i16(*s)).collect();
    let mut out = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(pcm.len()));
    encoder.encode_to_vec(MonoPcm(&pcm), &mut out).map_err(|e| err(&e))?;
    out.reserve(7200);
    // FlushGap pads and encodes the samples still buffered; FlushNoGap would drop the last ~60 ms.
    encoder.flush_to_vec::<FlushGap>(&mut out).map_err(|e| err(&e))?;
    Ok(out)
}

/// Ogg/Opus as RFC 7845 lays it out: an `OpusHead` page, an `OpusTags` page, then 20 ms Opus
/// packets whose granule positions count 48 kHz samples including the encoder's pre-skip.
/// Written here because no maintained crate muxes libopus output into Ogg.
fn ogg_opus(samples: &[f32], rate: u32) -> Result<Vec<u8>, EncodeError> {
    let opus_rate = match rate {
        8_000 => SampleRate::Hz8000,
        12_000 => SampleRate::Hz12000,
        16_000 => SampleRate::Hz16000,
        24_000 => SampleRate::Hz24000,
        _ => SampleRate::Hz48000,
    };
    let err = |e: opusic_c::ErrorCode| EncodeError::Opus(format!("{e:?}"));
    let mut encoder = OpusEncoder::new(Channels::Mono, opus_rate, Application::Voip).map_err(err)?;
    let lookahead = encoder.get_look_ahead().map_err(err)?;
    let to_48k = |n: u64| n * 48_000 / u64::from(rate);
    let pre_skip = to_48k(u64::from(lookahead)) as u16;

    let serial = 0x636f_6777; // "cogw"
    let mut writer = PacketWriter::new(Cursor::new(Vec::new()));
    let io = |e: std::io::Error| EncodeError::Opus(e.to_string());

    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&rate.to_le_bytes()); // original input rate, informational
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family 0 (mono/stereo)
    writer.write_packet(head, serial, PacketWriteEndInfo::EndPage, 0).map_err(io)?;

    let vendor = b"cogway";
    let mut tags = Vec::with_capacity(8 + 4 + vendor.len() + 4);
    tags.extend_from_slice(b"OpusTags");
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes()); // no user comments
    writer.write_packet(tags, serial, PacketWriteEndInfo::EndPage, 0).map_err(io)?;

    let frame = (rate / 50) as usize; // 20 ms
    // Pad the end so the encoder's lookahead is flushed out; the final granule trims it again.
    let mut padded = samples.to_vec();
    let total = padded.len() + lookahead as usize;
    padded.resize(total.div_ceil(frame) * frame, 0.0);
    let frames = padded.len() / frame;
    let end_granule = u64::from(pre_skip) + to_48k(samples.len() as u64);
    let mut packet = Vec::with_capacity(1500);
    for (i, chunk) in padded.chunks_exact(frame).enumerate() {
        packet.clear();
        packet.reserve(1500);
        encoder.encode_float_to_vec(chunk, &mut packet).map_err(err)?;
        let last = i + 1 == frames;
        let granule = if last { end_granule } else { to_48k(((i + 1) * frame) as u64) };
        let info = if last { PacketWriteEndInfo::EndStream } else { PacketWriteEndInfo::NormalPacket };
        writer.write_packet(packet.clone(), serial, info, granule).map_err(io)?;
    }
    Ok(writer.into_inner().into_inner())
}

#[cfg(test)]
mod tests {
    use super::super::decode::{DecodeLimits, decode};
    use super::*;

    fn tone(rate: u32) -> Pcm {
        let samples = (0..rate).map(|i| (i as f32 * 300.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5).collect();
        Pcm::new(samples, rate)
    }

    #[test]
    fn every_container_decodes_back_to_a_second_of_audio() {
        let source = tone(22_050);
        for name in ["riff-16khz-16bit-mono-pcm", "audio-24khz-48kbitrate-mono-mp3", "ogg-48khz-16bit-mono-opus"] {
            let format = OutputFormat::from_azure(name).expect("format");
            let bytes = encode(&source, format).expect("encode");
            let back = decode(&bytes, Some(format.mime_type()), DecodeLimits { max_seconds: 10 })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let secs = back.duration_secs();
            assert!((0.95..1.1).contains(&secs), "{name}: {secs} s");
            let rms = (back.samples.iter().map(|s| s * s).sum::<f32>() / back.samples.len() as f32).sqrt();
            assert!((0.25..0.45).contains(&rms), "{name}: rms {rms}");
        }
    }

    #[test]
    fn raw_pcm_is_two_bytes_a_sample() {
        let format = OutputFormat::from_azure("raw-8khz-16bit-mono-pcm").expect("format");
        let bytes = encode(&tone(8_000), format).expect("encode");
        assert_eq!(bytes.len(), 16_000);
    }
}
