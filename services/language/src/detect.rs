//! Language detection with lingua's statistical n-gram models (75 languages).

use lingua::{IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder};

/// A detected language in Azure's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedLanguage {
    /// English name, e.g. "French"; "(Unknown)" when nothing could be detected.
    pub name: String,
    /// ISO 639-1 code, e.g. "fr"; "(Unknown)" when nothing could be detected.
    pub iso6391_name: String,
    pub confidence: f64,
}

impl DetectedLanguage {
    fn unknown() -> Self {
        Self { name: "(Unknown)".into(), iso6391_name: "(Unknown)".into(), confidence: 0.0 }
    }
}

pub struct Detector {
    inner: LanguageDetector,
}

impl Detector {
    /// Builds the detector for every language lingua knows. `preload` loads all n-gram models now
    /// (slower start, no slow first request).
    pub fn new(preload: bool) -> Self {
        let mut builder = LanguageDetectorBuilder::from_all_languages();
        if preload {
            builder.with_preloaded_language_models();
        }
        Self { inner: builder.build() }
    }

    /// Detects the language of `text`. `country_hint` (ISO 3166-1 alpha-2) breaks near-ties in
    /// favour of a language spoken in that country, as Azure's `countryHint` does.
    pub fn detect(&self, text: &str, country_hint: Option<&str>) -> DetectedLanguage {
        let mut scores = self.inner.compute_language_confidence_values(text);
        if scores.first().is_none_or(|(_, c)| *c <= 0.0) {
            return DetectedLanguage::unknown();
        }
        if scores[0].1 < UNSURE {
            apply_prior(&mut scores);
        }
        if let Some(hinted) = country_hint.and_then(languages_of_country) {
            // A hinted language within 0.15 of the best is preferred: lingua's confidences of
            // close relatives (es/pt/gl, da/no/sv) are where a hint helps.
            let best = scores[0].1;
            if let Some(pos) = scores.iter().position(|(l, c)| hinted.contains(&l.iso_code_639_1()) && best - c < 0.15)
            {
                scores.swap(0, pos);
            }
        }
        let (language, confidence) = scores[0];
        DetectedLanguage {
            name: english_name(language),
            iso6391_name: language.iso_code_639_1().to_string(),
            confidence: round2(confidence),
        }
    }
}

/// Below this top confidence lingua is unsure (short texts), and the prior below decides.
const UNSURE: f64 = 0.5;

/// Languages most text sent to a gateway is written in; when lingua is unsure, a language outside
/// this list needs a clearly higher score to win. Without it, a short French question such as
/// "Où est la gare, s'il vous plaît ?" comes out as Tagalog (0.13 against French 0.11).
const COMMON: &[IsoCode639_1] = {
    use IsoCode639_1 as L;
    &[
        L::AR,
        L::BG,
        L::BN,
        L::CA,
        L::CS,
        L::DA,
        L::DE,
        L::EL,
        L::EN,
        L::ES,
        L::ET,
        L::FA,
        L::FI,
        L::FR,
        L::HE,
        L::HI,
        L::HR,
        L::HU,
        L::ID,
        L::IT,
        L::JA,
        L::KO,
        L::LT,
        L::LV,
        L::MS,
        L::NB,
        L::NL,
        L::PL,
        L::PT,
        L::RO,
        L::RU,
        L::SK,
        L::SL,
        L::SR,
        L::SV,
        L::TH,
        L::TR,
        L::UK,
        L::UR,
        L::VI,
        L::ZH,
    ]
};
const UNCOMMON_WEIGHT: f64 = 0.4;

/// Reweights unsure confidences by the prior above and renormalises them.
fn apply_prior(scores: &mut [(Language, f64)]) {
    for (language, confidence) in scores.iter_mut() {
        if !COMMON.contains(&language.iso_code_639_1()) {
            *confidence *= UNCOMMON_WEIGHT;
        }
    }
    let total: f64 = scores.iter().map(|(_, c)| c).sum();
    if total > 0.0 {
        scores.iter_mut().for_each(|(_, c)| *c /= total);
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// lingua names languages in CamelCase ("Bokmal", "Nynorsk"); Azure uses plain English names.
fn english_name(language: Language) -> String {
    match language {
        Language::Bokmal => "Norwegian".into(),
        Language::Nynorsk => "Norwegian Nynorsk".into(),
        other => other.to_string(),
    }
}

/// The main languages of a country, for `countryHint`. Only countries where lingua has a
/// close-relative confusion worth breaking are listed.
fn languages_of_country(country: &str) -> Option<&'static [IsoCode639_1]> {
    use IsoCode639_1 as L;
    Some(match country.to_ascii_uppercase().as_str() {
        "US" | "GB" | "AU" | "CA" | "IE" | "NZ" => &[L::EN],
        "ES" | "MX" | "AR" | "CO" | "CL" | "PE" => &[L::ES],
        "PT" | "BR" => &[L::PT],
        "FR" | "BE" => &[L::FR, L::NL],
        "DE" | "AT" | "CH" => &[L::DE, L::FR, L::IT],
        "IT" => &[L::IT],
        "NL" => &[L::NL],
        "DK" => &[L::DA],
        "NO" => &[L::NB, L::NN],
        "SE" => &[L::SV],
        "ID" => &[L::ID],
        "MY" => &[L::MS],
        "HR" => &[L::HR],
        "RS" => &[L::SR],
        "BA" => &[L::BS, L::HR, L::SR],
        "CZ" => &[L::CS],
        "SK" => &[L::SK],
        "RU" => &[L::RU],
        "UA" => &[L::UK],
        "BG" => &[L::BG],
        "MK" => &[L::MK],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_french_and_english() {
        let d = Detector::new(false);
        let fr = d.detect("Bonjour, je voudrais réserver une table pour deux personnes ce soir.", None);
        assert_eq!(fr.iso6391_name, "fr");
        assert_eq!(fr.name, "French");
        assert!(fr.confidence > 0.5, "{fr:?}");
        assert_eq!(d.detect("This is a simple English sentence about the weather.", None).iso6391_name, "en");
    }

    #[test]
    fn a_short_french_question_is_french_not_tagalog() {
        let d = Detector::new(false);
        assert_eq!(d.detect("Où est la gare, s'il vous plaît ?", None).iso6391_name, "fr");
        assert_eq!(
            d.detect("Mabuhay! Kumusta ka na, kaibigan ko? Salamat po sa tulong ninyo.", None).iso6391_name,
            "tl"
        );
    }

    #[test]
    fn nothing_to_detect_is_unknown() {
        let d = Detector::new(false);
        assert_eq!(d.detect("1234 5678 !!!", None).iso6391_name, "(Unknown)");
        assert_eq!(d.detect("", Some("US")).confidence, 0.0);
    }
}
