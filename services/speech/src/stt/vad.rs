//! Skipping silence in long audio: the Silero VAD (run by whisper.cpp) finds the speech, the
//! speech regions are joined with short pauses into one compact signal, Whisper decodes that, and
//! every time it reports is mapped back to the original recording. Silence is never decoded
//! (faster, and Whisper cannot invent words in it), and timestamps stay true to the original:
//! decoding a window with a long silence inside makes Whisper squeeze its timestamps.
//!
//! Long recordings are decoded window by window ([`windows`]): consecutive regions joined up to
//! Whisper's 30 s window, each judged by the temperature fallback on its own, as Whisper and
//! faster-whisper judge each 30 s window. Judged as one, the text of a long recording compresses
//! past the repetition threshold just by being long, and every try ran again on all of it.

/// A stretch of audio, in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start: usize,
    pub end: usize,
}

impl Chunk {
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// One speech region's place in the compact signal and in the original.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    compact_start: usize,
    original_start: usize,
    len: usize,
}

/// The speech of a recording joined into one signal, with the way back to original times.
#[derive(Debug, Clone, PartialEq)]
pub struct Compacted {
    pub audio: Vec<f32>,
    spans: Vec<Span>,
    rate: f64,
}

impl Compacted {
    /// Joins sorted speech `regions` of `audio`, with `gap` samples of silence between them.
    pub fn new(audio: &[f32], regions: &[Chunk], gap: usize, rate: u32) -> Self {
        let mut out = Vec::with_capacity(regions.iter().map(|r| r.len() + gap).sum());
        let mut spans = Vec::with_capacity(regions.len());
        for region in regions.iter().filter(|r| !r.is_empty()) {
            let (start, end) = (region.start.min(audio.len()), region.end.min(audio.len()));
            if end <= start {
                continue;
            }
            if !out.is_empty() {
                out.resize(out.len() + gap, 0.0);
            }
            spans.push(Span { compact_start: out.len(), original_start: start, len: end - start });
            out.extend_from_slice(&audio[start..end]);
        }
        Self { audio: out, spans, rate: f64::from(rate) }
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The original time of where something starts (a segment, a word). Whisper tends to start a
    /// segment where the previous one ended, so a start in a joining pause or in the last
    /// `snap_secs` of a region belongs to the next region and maps to its start.
    pub fn start_to_original(&self, compact_secs: f64, snap_secs: f64) -> f64 {
        let at = (compact_secs.max(0.0) * self.rate) as usize;
        let snap = (snap_secs * self.rate) as usize;
        if let Some(i) = self.spans.iter().rposition(|s| s.compact_start <= at)
            && let Some(next) = self.spans.get(i + 1)
            && at + snap >= self.spans[i].compact_start + self.spans[i].len
        {
            return next.original_start as f64 / self.rate;
        }
        self.to_original(compact_secs)
    }

    /// The original time (seconds) of a time in the compact signal. A time inside a joining pause
    /// maps to the end of the speech before it.
    pub fn to_original(&self, compact_secs: f64) -> f64 {
        let at = (compact_secs.max(0.0) * self.rate) as usize;
        let span = match self.spans.iter().rposition(|s| s.compact_start <= at) {
            Some(i) => self.spans[i],
            None => return self.spans.first().map_or(compact_secs, |s| s.original_start as f64 / self.rate),
        };
        let offset = (at - span.compact_start).min(span.len);
        (span.original_start + offset) as f64 / self.rate
    }
}

/// Groups sorted speech `regions` into windows: consecutive regions whose joined length (with
/// `gap` samples between them) stays within `max` samples. A region longer than `max` is a window
/// of its own.
pub fn windows(regions: &[Chunk], max: usize, gap: usize) -> Vec<Vec<Chunk>> {
    let mut out: Vec<Vec<Chunk>> = Vec::new();
    let mut filled = 0usize;
    for region in regions.iter().filter(|r| !r.is_empty()) {
        match out.last_mut() {
            Some(window) if filled + gap + region.len() <= max => {
                window.push(*region);
                filled += gap + region.len();
            }
            _ => {
                out.push(vec![*region]);
                filled = region.len();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_grouped_into_windows_that_fit() {
        let r = |start, end| Chunk { start, end };
        let regions = [r(0, 40), r(50, 90), r(100, 120), r(130, 300), r(310, 320), r(330, 330)];
        // 40 + 5 + 40 = 85 fits 100; adding 5 + 20 would be 110.
        let got = windows(&regions, 100, 5);
        assert_eq!(got, vec![vec![r(0, 40), r(50, 90)], vec![r(100, 120)], vec![r(130, 300)], vec![r(310, 320)]]);
        assert!(windows(&[], 100, 5).is_empty());
    }

    #[test]
    fn joins_speech_and_maps_times_back() {
        let audio: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let regions = [Chunk { start: 100, end: 200 }, Chunk { start: 600, end: 700 }];
        let c = Compacted::new(&audio, &regions, 10, 100);
        assert_eq!(c.audio.len(), 210);
        assert_eq!(c.audio[0], 100.0);
        assert_eq!(c.audio[110], 600.0);
        // 100 samples a second: compact 0.5 s is original 1.5 s; compact 1.2 s is original 6.1 s.
        assert!((c.to_original(0.5) - 1.5).abs() < 1e-9);
        assert!((c.to_original(1.2) - 6.1).abs() < 1e-9);
        // Inside the joining pause: the end of the first region.
        assert!((c.to_original(1.05) - 2.0).abs() < 1e-9);
        // A start near the end of a region or in the pause belongs to the next region.
        assert!((c.start_to_original(0.95, 0.1) - 6.0).abs() < 1e-9);
        assert!((c.start_to_original(1.05, 0.1) - 6.0).abs() < 1e-9);
        assert!((c.start_to_original(0.5, 0.1) - 1.5).abs() < 1e-9);
        assert!(Compacted::new(&audio, &[], 10, 100).is_empty());
    }
}
