//! Offsets and lengths in Azure's `TextElements_v8` unit: extended grapheme clusters.
//!
//! Internally every span is a byte range of the UTF-8 text; the API reports grapheme counts, so
//! "👍🏽 ok" has "ok" at offset 2, not at byte 9 or UTF-16 unit 5.

use unicode_segmentation::UnicodeSegmentation;

/// Maps byte offsets of one text to grapheme offsets, in O(log n) per lookup.
pub struct GraphemeIndex {
    /// Byte offset where each grapheme starts, plus the text length at the end.
    starts: Vec<usize>,
}

impl GraphemeIndex {
    pub fn new(text: &str) -> Self {
        let mut starts: Vec<usize> = text.grapheme_indices(true).map(|(i, _)| i).collect();
        starts.push(text.len());
        Self { starts }
    }

    /// Number of graphemes in the text.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Grapheme offset of the grapheme that contains byte `byte` (a byte inside a cluster maps to it).
    pub fn offset(&self, byte: usize) -> usize {
        match self.starts.binary_search(&byte) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// (offset, length) in graphemes of the byte range `start..end`.
    pub fn span(&self, start: usize, end: usize) -> (usize, usize) {
        let first = self.offset(start);
        let last = match self.starts.binary_search(&end) {
            Ok(i) => i,
            Err(i) => i, // end inside a cluster: count the whole cluster
        };
        (first, last.saturating_sub(first))
    }
}

/// The unit offsets and lengths are reported in (Azure's `stringIndexType` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringIndexType {
    /// Extended grapheme clusters (Azure's default).
    #[default]
    TextElementsV8,
    /// Unicode scalar values (what Python strings index by; the Python SDK asks for it).
    UnicodeCodePoint,
    /// UTF-16 code units (what JavaScript, Java and .NET strings index by).
    Utf16CodeUnit,
}

impl StringIndexType {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            // Document Intelligence spells it `textElements`.
            "textelements_v8" | "textelement_v8" | "textelements" => Some(Self::TextElementsV8),
            "unicodecodepoint" => Some(Self::UnicodeCodePoint),
            "utf16codeunit" => Some(Self::Utf16CodeUnit),
            _ => None,
        }
    }
}

/// Converts byte spans of one text into offsets and lengths in the requested unit.
pub enum OffsetMapper<'a> {
    Graphemes(GraphemeIndex),
    CodePoints(&'a str),
    Utf16(&'a str),
}

impl<'a> OffsetMapper<'a> {
    pub fn new(text: &'a str, unit: StringIndexType) -> Self {
        match unit {
            StringIndexType::TextElementsV8 => Self::Graphemes(GraphemeIndex::new(text)),
            StringIndexType::UnicodeCodePoint => Self::CodePoints(text),
            StringIndexType::Utf16CodeUnit => Self::Utf16(text),
        }
    }

    /// (offset, length) of the byte range `start..end` (both on char boundaries).
    pub fn span(&self, start: usize, end: usize) -> (usize, usize) {
        match self {
            Self::Graphemes(index) => index.span(start, end),
            Self::CodePoints(text) => {
                let offset = text.get(..start).map_or(0, |s| s.chars().count());
                (offset, text.get(start..end).map_or(0, |s| s.chars().count()))
            }
            Self::Utf16(text) => {
                let offset = text.get(..start).map_or(0, |s| s.encode_utf16().count());
                (offset, text.get(start..end).map_or(0, |s| s.encode_utf16().count()))
            }
        }
    }
}

/// Number of grapheme clusters in `text` (Azure's character count for limits).
pub fn grapheme_len(text: &str) -> usize {
    text.graphemes(true).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_with_modifier_is_one_element() {
        let text = "👍🏽 ok";
        let idx = GraphemeIndex::new(text);
        let start = text.find("ok").unwrap();
        assert_eq!(idx.span(start, start + 2), (2, 2));
        assert_eq!(idx.len(), 4);
        assert_eq!(grapheme_len(text), 4);
    }

    #[test]
    fn each_unit_counts_its_own_way() {
        let text = "👍🏽 ok";
        let start = text.find("ok").unwrap();
        let at = |unit| OffsetMapper::new(text, unit).span(start, start + 2);
        assert_eq!(at(StringIndexType::TextElementsV8), (2, 2));
        assert_eq!(at(StringIndexType::UnicodeCodePoint), (3, 2));
        assert_eq!(at(StringIndexType::Utf16CodeUnit), (5, 2));
        assert_eq!(StringIndexType::parse("UnicodeCodePoint"), Some(StringIndexType::UnicodeCodePoint));
    }

    #[test]
    fn ascii_offsets_are_bytes() {
        let idx = GraphemeIndex::new("call 555-0100 now");
        assert_eq!(idx.span(5, 13), (5, 8));
    }
}
