//! Subtitle renderings of a transcript: SubRip (SRT) and WebVTT, one cue per segment.

use super::transcript::Transcript;

/// `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (VTT).
fn timestamp(seconds: f64, separator: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, ms) = (ms / 3_600_000, (ms / 60_000) % 60, (ms / 1000) % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}{separator}{ms:03}")
}

fn cues(transcript: &Transcript) -> impl Iterator<Item = (f64, f64, &str)> {
    transcript
        .segments
        .iter()
        .map(|s| (s.start, s.end.max(s.start + 0.001), s.text.trim()))
        .filter(|(_, _, text)| !text.is_empty())
}

/// SubRip: numbered cues separated by blank lines.
pub fn srt(transcript: &Transcript) -> String {
    let mut out = String::new();
    for (i, (start, end, text)) in cues(transcript).enumerate() {
        out.push_str(&format!("{}\n{} --> {}\n{}\n\n", i + 1, timestamp(start, ','), timestamp(end, ','), text));
    }
    out
}

/// WebVTT: the `WEBVTT` header, then cues.
pub fn vtt(transcript: &Transcript) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for (start, end, text) in cues(transcript) {
        out.push_str(&format!("{} --> {}\n{}\n\n", timestamp(start, '.'), timestamp(end, '.'), text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::transcript::Segment;
    use super::*;

    fn segment(start: f64, end: f64, text: &str) -> Segment {
        Segment { start, end, text: text.into(), tokens: vec![], avg_logprob: -0.1, no_speech_prob: 0.0, words: vec![] }
    }

    #[test]
    fn renders_both_formats() {
        let t = Transcript {
            language: "en".into(),
            duration: 3700.0,
            segments: vec![segment(0.0, 1.5, " Hello."), segment(3661.25, 3662.0, " Bye.")],
        };
        assert_eq!(srt(&t), "1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n2\n01:01:01,250 --> 01:01:02,000\nBye.\n\n");
        assert_eq!(
            vtt(&t),
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello.\n\n01:01:01.250 --> 01:01:02.000\nBye.\n\n"
        );
    }
}
