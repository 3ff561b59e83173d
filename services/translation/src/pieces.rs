//! Text as engines see it: runs of translatable text and runs that must come out unchanged.
//!
//! HTML tags, glossary terms (already in the target language), Azure's dynamic-dictionary
//! translations and `notranslate` spans are [`Piece::Keep`]; everything else is [`Piece::Text`].
//! Engines translate the text runs and carry the kept runs through at about the same place.

/// One run of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Source-language text to translate.
    Text(String),
    /// Output as is (markup, or text already in the target language).
    Keep(String),
}

impl Piece {
    pub fn as_str(&self) -> &str {
        match self {
            Piece::Text(s) | Piece::Keep(s) => s,
        }
    }
}

/// A unit of translation (one element of a request, one sentence group, ...).
pub type Segment = Vec<Piece>;

/// The characters of the translatable runs (what a request is charged for).
pub fn text_chars(segment: &[Piece]) -> usize {
    segment.iter().map(|p| if let Piece::Text(t) = p { t.chars().count() } else { 0 }).sum()
}

/// Joins the runs back into one string.
pub fn render(segment: &[Piece]) -> String {
    segment.iter().map(Piece::as_str).collect()
}

/// Merges neighbouring runs of the same kind and drops empty ones.
pub fn normalize(segment: Segment) -> Segment {
    let mut out: Segment = Vec::with_capacity(segment.len());
    for piece in segment {
        if piece.as_str().is_empty() {
            continue;
        }
        match (out.last_mut(), piece) {
            (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
            (Some(Piece::Keep(a)), Piece::Keep(b)) => a.push_str(&b),
            (_, piece) => out.push(piece),
        }
    }
    out
}

/// Plain text as one segment.
pub fn plain(text: &str) -> Segment {
    normalize(vec![Piece::Text(text.to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_merges_and_drops_empty_runs() {
        let s = normalize(vec![
            Piece::Text("a".into()),
            Piece::Text("b".into()),
            Piece::Keep(String::new()),
            Piece::Keep("<b>".into()),
            Piece::Keep("</b>".into()),
            Piece::Text("c".into()),
        ]);
        assert_eq!(s, vec![Piece::Text("ab".into()), Piece::Keep("<b></b>".into()), Piece::Text("c".into())]);
        assert_eq!(render(&s), "ab<b></b>c");
        assert_eq!(text_chars(&s), 3);
    }
}
