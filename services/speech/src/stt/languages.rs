//! Languages: Azure locales (`de-DE`) and OpenAI ISO-639-1 codes (`de`) to Whisper's codes, and
//! back to a locale for answers.

/// The usual locale of each language, for reporting a detected language the Azure way.
const DEFAULT_LOCALES: &[(&str, &str)] = &[
    ("ar", "ar-SA"),
    ("bg", "bg-BG"),
    ("ca", "ca-ES"),
    ("cs", "cs-CZ"),
    ("da", "da-DK"),
    ("de", "de-DE"),
    ("el", "el-GR"),
    ("en", "en-US"),
    ("es", "es-ES"),
    ("et", "et-EE"),
    ("fa", "fa-IR"),
    ("fi", "fi-FI"),
    ("fr", "fr-FR"),
    ("he", "he-IL"),
    ("hi", "hi-IN"),
    ("hr", "hr-HR"),
    ("hu", "hu-HU"),
    ("id", "id-ID"),
    ("it", "it-IT"),
    ("ja", "ja-JP"),
    ("ko", "ko-KR"),
    ("lt", "lt-LT"),
    ("lv", "lv-LV"),
    ("ms", "ms-MY"),
    ("nl", "nl-NL"),
    ("no", "nb-NO"),
    ("pl", "pl-PL"),
    ("pt", "pt-BR"),
    ("ro", "ro-RO"),
    ("ru", "ru-RU"),
    ("sk", "sk-SK"),
    ("sl", "sl-SI"),
    ("sr", "sr-RS"),
    ("sv", "sv-SE"),
    ("th", "th-TH"),
    ("tr", "tr-TR"),
    ("uk", "uk-UA"),
    ("vi", "vi-VN"),
    ("zh", "zh-CN"),
];

/// Whether `code` can be a Whisper language code (`de`, `haw`): a few ASCII letters. Anything else
/// never reaches whisper.cpp, whose lookup panics on a NUL byte (a client's `language=a%00b`).
fn is_code_like(code: &str) -> bool {
    (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Whisper's code for an Azure locale or ISO code (`en-US`, `en`, `EN`, `zh-Hans`); `None` when
/// Whisper does not know the language. `nb`/`nn` map to Whisper's `no`.
pub fn whisper_code(language: &str) -> Option<&'static str> {
    let primary = language.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    if !is_code_like(&primary) {
        return None;
    }
    let primary = match primary.as_str() {
        "nb" | "nn" => "no".to_string(),
        "iw" => "he".to_string(),
        _ => primary,
    };
    let id = whisper_rs::get_lang_id(&primary)?;
    whisper_rs::get_lang_str(id)
}

/// The locale to report for a Whisper language code.
pub fn locale_of(code: &str) -> String {
    DEFAULT_LOCALES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, locale)| (*locale).to_string())
        .unwrap_or_else(|| code.to_string())
}

/// The English name of a Whisper language code (`german`), as OpenAI's verbose_json reports it.
pub fn name_of(code: &str) -> String {
    is_code_like(code)
        .then(|| whisper_rs::get_lang_id(code))
        .flatten()
        .and_then(whisper_rs::get_lang_str_full)
        .unwrap_or(code)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_map_both_ways() {
        assert_eq!(whisper_code("de-DE"), Some("de"));
        assert_eq!(whisper_code("es"), Some("es"));
        assert_eq!(whisper_code("nb-NO"), Some("no"));
        assert_eq!(whisper_code("xx-YY"), None);
        assert_eq!(locale_of("de"), "de-DE");
        assert_eq!(name_of("de"), "german");
    }

    #[test]
    fn malformed_languages_are_unknown_not_a_panic() {
        for language in ["a\0b", "\0", "de\0-DE", "", "-", "e", "englishish", "ü", "d\u{e9}"] {
            assert_eq!(whisper_code(language), None, "{language:?}");
        }
        assert_eq!(name_of("x\0y"), "x\0y");
        assert_eq!(whisper_code("HAW"), Some("haw"));
    }
}
