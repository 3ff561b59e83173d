//! Sentence segmentation (Unicode UAX #29 sentence boundaries), as byte ranges.

use unicode_segmentation::UnicodeSegmentation;

/// Byte ranges of the sentences of `text`, trimmed of surrounding white space; empty ones dropped.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    text.split_sentence_bound_indices()
        .filter_map(|(start, s)| {
            let lead = s.len() - s.trim_start().len();
            let trimmed = s.trim();
            (!trimmed.is_empty()).then(|| (start + lead, start + lead + trimmed.len()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_trims() {
        let text = "How are you? I am fine. Thanks.";
        let spans = sentence_spans(text);
        let parts: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(parts, ["How are you?", "I am fine.", "Thanks."]);
    }
}
