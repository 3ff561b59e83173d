//! Sentence boundaries (Unicode UAX #29 through ICU4X), for `/breaksentence`, the neural engine
//! and `includeSentenceLength`.

use icu_segmenter::SentenceSegmenter;
use icu_segmenter::options::SentenceBreakInvariantOptions;

/// The sentences of `text`, each with the spaces that follow it (so they join back to `text`).
pub fn split(text: &str) -> Vec<&str> {
    let segmenter = SentenceSegmenter::new(SentenceBreakInvariantOptions::default());
    let breaks: Vec<usize> = segmenter.segment_str(text).collect();
    breaks.windows(2).map(|w| &text[w[0]..w[1]]).filter(|s| !s.is_empty()).collect()
}

/// Sentence lengths in characters (Azure counts UTF-16 code units... for the BMP the same as
/// characters; Azure documents "characters", and its responses count code points).
pub fn lengths(text: &str) -> Vec<usize> {
    split(text).iter().map(|s| s.chars().count()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_example_lengths() {
        assert_eq!(lengths("How are you? I am fine. Thanks."), vec![13, 11, 7]);
        assert_eq!(split("我们明天见。你好吗？").len(), 2);
        assert!(lengths("").is_empty());
    }
}
