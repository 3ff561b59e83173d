//! `profanityAction` on translations: leave, mark or delete profane words of the target language.
//!
//! The word lists are short built-in lists of the strongest words per language (Azure's lists are
//! not public); a word matches whole and case-insensitively.

use crate::pieces::{Piece, Segment, normalize};

/// What to do with profanity in a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    NoAction,
    /// Replaced by asterisks (`Asterisk`) or wrapped in `<profanity>` tags (`Tag`).
    Marked {
        tag: bool,
    },
    Deleted,
}

impl Action {
    /// From Azure's `profanityAction` and `profanityMarker` parameters.
    pub fn parse(action: Option<&str>, marker: Option<&str>) -> Result<Self, String> {
        let tag = match marker.map(str::to_ascii_lowercase).as_deref() {
            None | Some("asterisk") => false,
            Some("tag") => true,
            Some(other) => return Err(format!("The profanityMarker {other:?} is not valid; use Asterisk or Tag.")),
        };
        match action.map(str::to_ascii_lowercase).as_deref() {
            None | Some("noaction") => Ok(Action::NoAction),
            Some("marked") => Ok(Action::Marked { tag }),
            Some("deleted") => Ok(Action::Deleted),
            Some(other) => Err(format!("The profanityAction {other:?} is not valid; use NoAction, Marked or Deleted.")),
        }
    }

    /// Applies the action to a translation in `language`: only its text runs are looked at
    /// (HTML tags and kept terms are left alone); a `Tag` marker is added as markup.
    pub fn apply(&self, segment: Segment, language: &str) -> Segment {
        let words = words_of(language);
        if *self == Action::NoAction || words.is_empty() {
            return segment;
        }
        let mut out = Vec::with_capacity(segment.len());
        for piece in segment {
            match piece {
                Piece::Text(text) => self.apply_text(&text, words, &mut out),
                kept => out.push(kept),
            }
        }
        normalize(out)
    }

    fn apply_text(&self, text: &str, words: &[&str], out: &mut Segment) {
        let mut kept = String::with_capacity(text.len());
        let mut word = String::new();
        // After a deleted word, one space that separated it goes too ("This shit is" -> "This is",
        // "No shit, really" -> "No, really"); other spacing stays as the engine wrote it.
        let mut drop_space = false;
        let flush = |word: &mut String, kept: &mut String, out: &mut Segment, drop_space: &mut bool| {
            if word.is_empty() {
                return;
            }
            if words.contains(&word.to_lowercase().as_str()) {
                match self {
                    Action::Marked { tag: false } => kept.push_str(&"*".repeat(word.chars().count())),
                    Action::Marked { tag: true } => {
                        out.push(Piece::Text(std::mem::take(kept)));
                        out.push(Piece::Keep("<profanity>".into()));
                        out.push(Piece::Text(word.clone()));
                        out.push(Piece::Keep("</profanity>".into()));
                    }
                    Action::Deleted => *drop_space = kept.is_empty() || kept.ends_with(char::is_whitespace),
                    Action::NoAction => kept.push_str(word),
                }
            } else {
                kept.push_str(word);
            }
            word.clear();
        };
        for c in text.chars() {
            if c.is_alphanumeric() {
                word.push(c);
                continue;
            }
            flush(&mut word, &mut kept, out, &mut drop_space);
            if std::mem::take(&mut drop_space) {
                if c == ' ' {
                    continue;
                }
                // Punctuation follows: the space before the deleted word goes instead.
                if kept.ends_with(' ') {
                    kept.pop();
                }
            }
            kept.push(c);
        }
        flush(&mut word, &mut kept, out, &mut drop_space);
        if drop_space && kept.ends_with(' ') {
            kept.pop();
        }
        out.push(Piece::Text(kept));
    }
}

fn words_of(language: &str) -> &'static [&'static str] {
    match language.split('-').next().unwrap_or("") {
        "en" => &["fuck", "fucking", "shit", "bitch", "bastard", "asshole", "cunt", "dick", "motherfucker", "bullshit"],
        "es" => &["mierda", "puta", "puto", "cabrón", "cabron", "coño", "joder", "gilipollas", "pendejo", "hostia"],
        "ca" => &["merda", "puta", "collons", "cabró", "fotre"],
        "pt" => &["merda", "puta", "caralho", "porra", "foda", "cabrão"],
        "fr" => &["merde", "putain", "connard", "salope", "enculé"],
        "it" => &["merda", "cazzo", "stronzo", "puttana", "vaffanculo"],
        "gl" => &["merda", "puta", "carallo"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pieces::{plain, render};

    impl Action {
        fn apply_str(&self, text: &str, language: &str) -> String {
            render(&self.apply(plain(text), language))
        }
    }

    #[test]
    fn actions_mark_or_delete_whole_words() {
        let marked = Action::parse(Some("Marked"), None).expect("valid");
        assert_eq!(marked.apply_str("Es una mierda, no mierdas.", "es"), "Es una ******, no mierdas.");
        let tagged = Action::parse(Some("Marked"), Some("Tag")).expect("valid");
        assert_eq!(tagged.apply_str("What the shit", "en"), "What the <profanity>shit</profanity>");
        let deleted = Action::parse(Some("Deleted"), None).expect("valid");
        assert_eq!(deleted.apply_str("This shit is fine", "en"), "This is fine");
        assert_eq!(deleted.apply_str("No shit, two  spaces stay", "en"), "No, two  spaces stay");
        assert_eq!(deleted.apply_str("shit happens", "en"), "happens");
        let html = vec![Piece::Keep("<b title=\"shit\">".into()), Piece::Text("a shit day".into())];
        assert_eq!(render(&deleted.apply(html, "en")), "<b title=\"shit\">a day");
        assert!(Action::parse(Some("Loud"), None).is_err());
    }
}
