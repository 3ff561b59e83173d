//! Planning long audio around silence: the Silero VAD (run by whisper.cpp) finds speech, and
//! neighbouring speech regions are merged into chunks Whisper decodes one at a time. Silence
//! between chunks is never decoded, which is faster and stops Whisper inventing words in it.

/// A stretch of audio, in samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start: usize,
    pub end: usize,
}

impl Chunk {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Merges sorted speech regions into chunks no longer than `max_len` samples (a region longer
/// than that stays on its own; the VAD already cuts speech at its maximum duration).
pub fn plan_chunks(regions: &[Chunk], total: usize, max_len: usize) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    for region in regions.iter().filter(|r| !r.is_empty()) {
        let region = Chunk { start: region.start.min(total), end: region.end.min(total) };
        match chunks.last_mut() {
            Some(last) if region.end.saturating_sub(last.start) <= max_len && region.start >= last.start => {
                last.end = last.end.max(region.end);
            }
            _ => chunks.push(region),
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_up_to_the_limit() {
        let regions = [
            Chunk { start: 0, end: 100 },
            Chunk { start: 150, end: 300 },
            Chunk { start: 400, end: 900 },
            Chunk { start: 950, end: 1000 },
        ];
        let chunks = plan_chunks(&regions, 1000, 500);
        assert_eq!(
            chunks,
            vec![Chunk { start: 0, end: 300 }, Chunk { start: 400, end: 900 }, Chunk { start: 950, end: 1000 }]
        );
        assert!(plan_chunks(&[], 1000, 500).is_empty());
    }
}
