//! Language codes, names and scripts, in Azure Translator's codes.

/// A language Cogway can name: Azure code, English name, native name, writing direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language {
    pub code: &'static str,
    pub name: &'static str,
    pub native_name: &'static str,
    pub rtl: bool,
}

const fn ltr(code: &'static str, name: &'static str, native_name: &'static str) -> Language {
    Language { code, name, native_name, rtl: false }
}

const fn rtl(code: &'static str, name: &'static str, native_name: &'static str) -> Language {
    Language { code, name, native_name, rtl: true }
}

/// Names for the languages installed engines (Apertium pairs, Argos packages) may serve.
const LANGUAGES: &[Language] = &[
    ltr("af", "Afrikaans", "Afrikaans"),
    ltr("an", "Aragonese", "Aragonés"),
    rtl("ar", "Arabic", "العربية"),
    ltr("ast", "Asturian", "Asturianu"),
    ltr("be", "Belarusian", "Беларуская"),
    ltr("bg", "Bulgarian", "Български"),
    ltr("bn", "Bangla", "বাংলা"),
    ltr("br", "Breton", "Brezhoneg"),
    ltr("bs", "Bosnian", "Bosanski"),
    ltr("ca", "Catalan", "Català"),
    ltr("cs", "Czech", "Čeština"),
    ltr("cy", "Welsh", "Cymraeg"),
    ltr("da", "Danish", "Dansk"),
    ltr("de", "German", "Deutsch"),
    ltr("el", "Greek", "Ελληνικά"),
    ltr("en", "English", "English"),
    ltr("eo", "Esperanto", "Esperanto"),
    ltr("es", "Spanish", "Español"),
    ltr("et", "Estonian", "Eesti"),
    ltr("eu", "Basque", "Euskara"),
    rtl("fa", "Persian", "فارسی"),
    ltr("fi", "Finnish", "Suomi"),
    ltr("fr", "French", "Français"),
    ltr("ga", "Irish", "Gaeilge"),
    ltr("gl", "Galician", "Galego"),
    ltr("gu", "Gujarati", "ગુજરાતી"),
    rtl("he", "Hebrew", "עברית"),
    ltr("hi", "Hindi", "हिन्दी"),
    ltr("hr", "Croatian", "Hrvatski"),
    ltr("hu", "Hungarian", "Magyar"),
    ltr("hy", "Armenian", "Հայերեն"),
    ltr("id", "Indonesian", "Indonesia"),
    ltr("is", "Icelandic", "Íslenska"),
    ltr("it", "Italian", "Italiano"),
    ltr("ja", "Japanese", "日本語"),
    ltr("ka", "Georgian", "ქართული"),
    ltr("kk", "Kazakh", "Қазақ Тілі"),
    ltr("ko", "Korean", "한국어"),
    ltr("lt", "Lithuanian", "Lietuvių"),
    ltr("lv", "Latvian", "Latviešu"),
    ltr("mk", "Macedonian", "Македонски"),
    ltr("mr", "Marathi", "मराठी"),
    ltr("ms", "Malay", "Melayu"),
    ltr("nb", "Norwegian Bokmål", "Norsk Bokmål"),
    ltr("ne", "Nepali", "नेपाली"),
    ltr("nl", "Dutch", "Nederlands"),
    ltr("nn", "Norwegian Nynorsk", "Nynorsk"),
    ltr("oc", "Occitan", "Occitan"),
    ltr("pl", "Polish", "Polski"),
    ltr("pt", "Portuguese (Brazil)", "Português (Brasil)"),
    ltr("pt-pt", "Portuguese (Portugal)", "Português (Portugal)"),
    ltr("ro", "Romanian", "Română"),
    ltr("ru", "Russian", "Русский"),
    ltr("sc", "Sardinian", "Sardu"),
    ltr("sk", "Slovak", "Slovenčina"),
    ltr("sl", "Slovenian", "Slovenščina"),
    ltr("sr-Cyrl", "Serbian (Cyrillic)", "Српски (ћирилица)"),
    ltr("sr-Latn", "Serbian (Latin)", "Srpski (latinica)"),
    ltr("sv", "Swedish", "Svenska"),
    ltr("ta", "Tamil", "தமிழ்"),
    ltr("te", "Telugu", "తెలుగు"),
    ltr("th", "Thai", "ไทย"),
    ltr("tr", "Turkish", "Türkçe"),
    ltr("uk", "Ukrainian", "Українська"),
    rtl("ur", "Urdu", "اردو"),
    ltr("vi", "Vietnamese", "Tiếng Việt"),
    ltr("zh-Hans", "Chinese Simplified", "中文 (简体)"),
    ltr("zh-Hant", "Chinese Traditional", "繁體中文 (繁體)"),
];

/// The language with this Azure code (case-insensitive).
pub fn find(code: &str) -> Option<&'static Language> {
    LANGUAGES.iter().find(|l| l.code.eq_ignore_ascii_case(code))
}

/// An Azure code in its canonical spelling, accepting common aliases (`zh` -> `zh-Hans`,
/// `pt-BR` -> `pt`, `sr` -> `sr-Cyrl`, `nb`/`no`).
pub fn canonical(code: &str) -> Option<&'static str> {
    let lower = code.trim().to_ascii_lowercase();
    let alias = match lower.as_str() {
        "zh" | "zh-cn" | "zh-chs" | "zh-hans-cn" => "zh-Hans",
        "zh-tw" | "zh-hk" | "zh-cht" => "zh-Hant",
        "pt-br" => "pt",
        "sr" | "sr-cyrl-rs" => "sr-Cyrl",
        "sr-latn-rs" => "sr-Latn",
        "no" => "nb",
        "iw" => "he",
        other => other,
    };
    find(alias).map(|l| l.code)
}

/// Apertium's language code (ISO 639-3 or 639-1) as an Azure code.
pub fn apertium_code(code: &str) -> Option<&'static str> {
    let azure = match code {
        "afr" => "af",
        "arg" => "an",
        "ast" => "ast",
        "bel" => "be",
        "bul" => "bg",
        "cat" => "ca",
        "dan" => "da",
        "eng" => "en",
        "epo" => "eo",
        "eus" => "eu",
        "fra" => "fr",
        "glg" => "gl",
        "hbs" => "hr",
        "ind" => "id",
        "isl" => "is",
        "ita" => "it",
        "mkd" => "mk",
        "nld" => "nl",
        "nno" => "nn",
        "nob" => "nb",
        "oci" => "oc",
        "pol" => "pl",
        "por" => "pt",
        "ron" => "ro",
        "rus" => "ru",
        "slv" => "sl",
        "spa" => "es",
        "srd" => "sc",
        "swe" => "sv",
        "ukr" => "uk",
        "urd" => "ur",
        "zlm" => "ms",
        "hin" => "hi",
        other => other,
    };
    find(azure).map(|l| l.code)
}

/// The Azure code of an ISO 639-1 code from a language detector or an Argos package.
pub fn from_iso639_1(code: &str) -> Option<&'static str> {
    canonical(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_aliases() {
        assert_eq!(canonical("ZH"), Some("zh-Hans"));
        assert_eq!(canonical("pt-BR"), Some("pt"));
        assert_eq!(canonical("en"), Some("en"));
        assert_eq!(canonical("xx"), None);
        assert_eq!(apertium_code("spa"), Some("es"));
        assert_eq!(apertium_code("gl"), Some("gl"));
        assert!(find("ar").is_some_and(|l| l.rtl));
    }

    #[test]
    fn every_transliteration_language_is_named() {
        for (script, _, langs) in crate::transliterate::FROM_SCRIPTS {
            for lang in langs.split(',') {
                assert!(find(lang).is_some(), "{lang} ({script}) has no entry in LANGUAGES");
            }
        }
    }
}
