//! Output formats of synthesized audio, named the way Azure (`X-Microsoft-OutputFormat`) and
//! OpenAI (`response_format`) name them.

use std::fmt;

/// The container and codec of an output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// RIFF/WAVE, 16-bit PCM.
    Wav,
    /// Headerless 16-bit little-endian PCM.
    Raw,
    /// MPEG-1/2 Layer III at a constant bitrate (kbit/s).
    Mp3 { kbps: u32 },
    /// Opus in an Ogg stream.
    OggOpus,
}

/// What a client asked the synthesized audio to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputFormat {
    pub container: Container,
    pub sample_rate: u32,
}

/// Sample rates the PCM outputs are offered at.
const PCM_RATES: [u32; 6] = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000];
/// Rates libopus encodes at.
const OPUS_RATES: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];
/// Azure's MP3 formats: (rate, kbit/s).
const MP3_FORMATS: [(u32, u32); 8] =
    [(16_000, 32), (16_000, 64), (16_000, 128), (24_000, 48), (24_000, 96), (24_000, 160), (48_000, 96), (48_000, 192)];

impl OutputFormat {
    /// Azure's default when no `X-Microsoft-OutputFormat` is given.
    pub const AZURE_DEFAULT: OutputFormat = OutputFormat { container: Container::Wav, sample_rate: 24_000 };

    /// Parses an Azure output format name such as `riff-24khz-16bit-mono-pcm`,
    /// `audio-24khz-48kbitrate-mono-mp3` or `ogg-48khz-16bit-mono-opus`.
    pub fn from_azure(name: &str) -> Option<OutputFormat> {
        let name = name.trim().to_ascii_lowercase();
        let parts: Vec<&str> = name.split('-').collect();
        match parts.as_slice() {
            [kind @ ("riff" | "raw"), rate, "16bit", "mono", "pcm"] => {
                let sample_rate = parse_rate(rate).filter(|r| PCM_RATES.contains(r))?;
                let container = if *kind == "riff" { Container::Wav } else { Container::Raw };
                Some(OutputFormat { container, sample_rate })
            }
            ["audio", rate, bitrate, "mono", "mp3"] => {
                let sample_rate = parse_rate(rate)?;
                let kbps = bitrate.strip_suffix("kbitrate")?.parse().ok()?;
                MP3_FORMATS
                    .contains(&(sample_rate, kbps))
                    .then_some(OutputFormat { container: Container::Mp3 { kbps }, sample_rate })
            }
            ["ogg", rate, "16bit", "mono", "opus"] => {
                let sample_rate = parse_rate(rate).filter(|r| OPUS_RATES.contains(r))?;
                Some(OutputFormat { container: Container::OggOpus, sample_rate })
            }
            _ => None,
        }
    }

    /// Parses OpenAI's `response_format` (mp3, opus, wav, pcm); `None` for formats Cogway cannot encode.
    pub fn from_openai(name: &str) -> Option<OutputFormat> {
        match name.trim().to_ascii_lowercase().as_str() {
            "mp3" => Some(OutputFormat { container: Container::Mp3 { kbps: 96 }, sample_rate: 24_000 }),
            "opus" => Some(OutputFormat { container: Container::OggOpus, sample_rate: 24_000 }),
            "wav" => Some(OutputFormat { container: Container::Wav, sample_rate: 24_000 }),
            "pcm" => Some(OutputFormat { container: Container::Raw, sample_rate: 24_000 }),
            _ => None,
        }
    }

    /// The Content-Type of the encoded audio.
    pub fn mime_type(&self) -> &'static str {
        match self.container {
            Container::Wav => "audio/wav",
            Container::Raw => "audio/pcm",
            Container::Mp3 { .. } => "audio/mpeg",
            Container::OggOpus => "audio/ogg",
        }
    }

    /// Every Azure format name Cogway produces (for error messages and docs).
    pub fn azure_names() -> Vec<String> {
        let mut names = Vec::new();
        for rate in PCM_RATES {
            names.push(format!("riff-{}-16bit-mono-pcm", rate_name(rate)));
            names.push(format!("raw-{}-16bit-mono-pcm", rate_name(rate)));
        }
        for (rate, kbps) in MP3_FORMATS {
            names.push(format!("audio-{}-{kbps}kbitrate-mono-mp3", rate_name(rate)));
        }
        for rate in [16_000, 24_000, 48_000] {
            names.push(format!("ogg-{}-16bit-mono-opus", rate_name(rate)));
        }
        names
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = rate_name(self.sample_rate);
        match self.container {
            Container::Wav => write!(f, "riff-{rate}-16bit-mono-pcm"),
            Container::Raw => write!(f, "raw-{rate}-16bit-mono-pcm"),
            Container::Mp3 { kbps } => write!(f, "audio-{rate}-{kbps}kbitrate-mono-mp3"),
            Container::OggOpus => write!(f, "ogg-{rate}-16bit-mono-opus"),
        }
    }
}

/// `24khz` -> 24000, `22050hz` -> 22050.
fn parse_rate(text: &str) -> Option<u32> {
    if let Some(k) = text.strip_suffix("khz") {
        k.parse::<u32>().ok().map(|k| k * 1000)
    } else {
        text.strip_suffix("hz")?.parse().ok()
    }
}

fn rate_name(rate: u32) -> String {
    if rate.is_multiple_of(1000) { format!("{}khz", rate / 1000) } else { format!("{rate}hz") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_names_round_trip() {
        for name in OutputFormat::azure_names() {
            let format = OutputFormat::from_azure(&name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(format.to_string(), name);
        }
        assert_eq!(
            OutputFormat::from_azure("riff-22050hz-16bit-mono-pcm"),
            Some(OutputFormat { container: Container::Wav, sample_rate: 22_050 })
        );
        assert_eq!(OutputFormat::from_azure("riff-11khz-16bit-mono-pcm"), None);
        assert_eq!(OutputFormat::from_azure("webm-16khz-16bit-mono-opus"), None);
        assert_eq!(OutputFormat::from_openai("aac"), None);
    }
}
