//! Script conversion to Latin for `/transliterate`.
//!
//! `any_ascii` holds hand-checked Latin renderings for every Unicode script (Cyrillic, Greek,
//! Arabic, Hebrew, Devanagari and the other Indic scripts, kana, Hangul, Thai, ...). Kanji are
//! rendered with their Mandarin readings, not Japanese ones: Japanese text written in kanji comes
//! out as Chinese pinyin (said in docs/api.md).

/// Scripts Cogway converts from (to `Latn`), with a language that uses each.
pub const FROM_SCRIPTS: &[(&str, &str, &str)] = &[
    // (script code, script name, languages)
    ("Cyrl", "Cyrillic", "ru,uk,bg,mk,sr-Cyrl,be,kk"),
    ("Grek", "Greek", "el"),
    ("Arab", "Arabic", "ar,fa,ur"),
    ("Hebr", "Hebrew", "he"),
    ("Deva", "Devanagari", "hi,mr,ne"),
    ("Beng", "Bengali", "bn"),
    ("Taml", "Tamil", "ta"),
    ("Telu", "Telugu", "te"),
    ("Gujr", "Gujarati", "gu"),
    ("Jpan", "Japanese", "ja"),
    ("Kore", "Korean", "ko"),
    ("Thai", "Thai", "th"),
    ("Hans", "Chinese Simplified", "zh-Hans"),
    ("Hant", "Chinese Traditional", "zh-Hant"),
    ("Geor", "Georgian", "ka"),
    ("Armn", "Armenian", "hy"),
];

/// The script codes this language may be written in (for validation of `fromScript`).
pub fn scripts_of(language: &str) -> Vec<&'static str> {
    FROM_SCRIPTS
        .iter()
        .filter(|(_, _, langs)| langs.split(',').any(|l| l.eq_ignore_ascii_case(language)))
        .map(|(code, _, _)| *code)
        .collect()
}

/// `text` in Latin letters. Characters already Latin stay as they are (accents included).
pub fn to_latin(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_converted = false;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii() || is_latin(c) {
            out.push(c);
            previous_converted = false;
            continue;
        }
        let latin = any_ascii::any_ascii_char(c);
        // Syllabic scripts (kana, Hangul, CJK) give one syllable per character: CJK ideographs
        // are separated by spaces so words stay readable; kana run together like romaji.
        if is_ideograph(c) && previous_converted && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push_str(latin);
        if needs_inherent_vowel(c, chars.get(i + 1).copied()) {
            out.push('a');
        }
        previous_converted = is_ideograph(c);
    }
    out
}

/// Devanagari consonants carry an inherent "a" unless a vowel sign or virama follows; at the end
/// of a word Hindi drops it (schwa deletion: नमस्ते -> namaste, कमल -> kamal). `any_ascii` maps
/// characters one by one and cannot know this.
fn needs_inherent_vowel(c: char, next: Option<char>) -> bool {
    let consonant = matches!(c as u32, 0x0915..=0x0939 | 0x0958..=0x095F);
    let Some(next) = next else { return false };
    let sign_follows = matches!(next as u32, 0x093C..=0x094D | 0x0955..=0x0957 | 0x0962..=0x0963 | 0x0901..=0x0903);
    let word_ends = !matches!(next as u32, 0x0900..=0x097F);
    consonant && !sign_follows && !word_ends
}

fn is_latin(c: char) -> bool {
    matches!(c as u32, 0x00C0..=0x024F | 0x1E00..=0x1EFF)
}

fn is_ideograph(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_become_latin() {
        assert_eq!(to_latin("Москва"), "Moskva");
        assert_eq!(to_latin("Αθήνα").to_lowercase(), "athina");
        assert_eq!(to_latin("こんにちは"), "konnichiha");
        assert_eq!(to_latin("नमस्ते").to_lowercase(), "namaste");
        assert_eq!(to_latin("कमल"), "kamal");
        assert!(!to_latin("مرحبا").is_empty());
        assert_eq!(to_latin("Café ok"), "Café ok");
        assert_eq!(scripts_of("ja"), ["Jpan"]);
    }
}
