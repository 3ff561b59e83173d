//! `profanityAction` on translations: leave, mark or delete profane words of the target language.
//!
//! The word lists are short built-in lists of the strongest words per language (Azure's lists are
//! not public); a word matches whole and case-insensitively.

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

    /// Applies the action to a translation in `language`.
    pub fn apply(&self, text: &str, language: &str) -> String {
        if *self == Action::NoAction {
            return text.to_string();
        }
        let words = words_of(language);
        if words.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            if word.is_empty() {
                return;
            }
            let lower = word.to_lowercase();
            if words.contains(&lower.as_str()) {
                match self {
                    Action::Marked { tag: false } => out.push_str(&"*".repeat(word.chars().count())),
                    Action::Marked { tag: true } => out.push_str(&format!("<profanity>{word}</profanity>")),
                    Action::Deleted | Action::NoAction => {}
                }
            } else {
                out.push_str(word);
            }
            word.clear();
        };
        for c in text.chars() {
            if c.is_alphanumeric() {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        if *self == Action::Deleted {
            // Deleting a word leaves its spaces behind: fold them.
            return out.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        }
        out
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

    #[test]
    fn actions_mark_or_delete_whole_words() {
        let marked = Action::parse(Some("Marked"), None).expect("valid");
        assert_eq!(marked.apply("Es una mierda, no mierdas.", "es"), "Es una ******, no mierdas.");
        let tagged = Action::parse(Some("Marked"), Some("Tag")).expect("valid");
        assert_eq!(tagged.apply("What the shit", "en"), "What the <profanity>shit</profanity>");
        let deleted = Action::parse(Some("Deleted"), None).expect("valid");
        assert_eq!(deleted.apply("This shit is fine", "en"), "This is fine");
        assert!(Action::parse(Some("Loud"), None).is_err());
    }
}
