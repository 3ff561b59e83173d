//! The voice list: the Piper neural voice, Kokoro's neural voices (Spanish, French, Italian,
//! Portuguese, Hindi, English) and eSpeak NG's formant voices, named the Azure way
//! (`en-US-JoeNeural`, `es-ES-DoraNeural`). eSpeak voices are listed as `VoiceType: Standard` (not neural) so nobody
//! mistakes them for the neural one.

use serde::Serialize;

use super::espeak::EspeakVoice;
use crate::stt::languages::locale_of;

/// Which engine speaks a voice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// The loaded Piper voice.
    Piper,
    /// Kokoro with this voice (its id, `ef_dora`).
    Kokoro(&'static str),
    /// eSpeak NG with this voice (language) code.
    Espeak(String),
}

impl Engine {
    pub fn is_neural(&self) -> bool {
        matches!(self, Engine::Piper | Engine::Kokoro(_))
    }
}

/// One voice, with the fields of Azure's voices/list answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Voice {
    pub name: String,
    pub display_name: String,
    pub local_name: String,
    pub short_name: String,
    pub gender: String,
    pub locale: String,
    pub locale_name: String,
    pub sample_rate_hertz: String,
    pub voice_type: String,
    pub status: String,
    #[serde(skip)]
    pub engine: Engine,
}

impl Voice {
    fn new(
        short_name: String,
        display: String,
        gender: &str,
        locale: &str,
        locale_name: &str,
        rate: u32,
        engine: Engine,
    ) -> Self {
        // Piper and Kokoro voices are neural; eSpeak NG's are formant synthesis.
        let neural = engine.is_neural();
        let (region_locale, tail) = short_name.split_at(locale.len().min(short_name.len()));
        Self {
            name: format!(
                "Microsoft Server Speech Text to Speech Voice ({region_locale}, {})",
                tail.trim_start_matches('-')
            ),
            display_name: display.clone(),
            local_name: display,
            short_name,
            gender: gender.to_string(),
            locale: locale.to_string(),
            locale_name: locale_name.to_string(),
            sample_rate_hertz: rate.to_string(),
            voice_type: if neural { "Neural" } else { "Standard" }.to_string(),
            status: "GA".to_string(),
            engine,
        }
    }
}

/// The Piper Joe voice's entry.
pub fn piper_joe(sample_rate: u32) -> Voice {
    Voice::new(
        "en-US-JoeNeural".into(),
        "Joe".into(),
        "Male",
        "en-US",
        "English (United States)",
        sample_rate,
        Engine::Piper,
    )
}

/// Entries for Kokoro's installed voices (`es-ES-DoraNeural`), at `rate`: the engine's, to which
/// Kokoro's 24 kHz audio is resampled.
pub fn kokoro_voices<'a>(voices: impl Iterator<Item = &'a super::kokoro::VoiceInfo>, rate: u32) -> Vec<Voice> {
    voices
        .map(|v| {
            Voice::new(
                format!("{}-{}Neural", v.locale, v.name),
                v.name.into(),
                v.gender,
                v.locale,
                v.locale_name,
                rate,
                Engine::Kokoro(v.id),
            )
        })
        .collect()
}

/// Entries for eSpeak NG's voices (one per language variant), sample rate 22,050 Hz.
pub fn espeak_voices(voices: &[EspeakVoice]) -> Vec<Voice> {
    let mut out: Vec<Voice> = Vec::new();
    for v in voices {
        let mut parts = v.language.split('-');
        let Some(lang) = parts.next().filter(|l| !l.is_empty()) else { continue };
        let rest: Vec<&str> = parts.collect();
        let (locale, variant) = match rest.first() {
            Some(region) if region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()) => {
                (format!("{lang}-{}", region.to_ascii_uppercase()), rest[1..].join(" "))
            }
            Some(region) if region.len() == 3 && region.chars().all(|c| c.is_ascii_digit()) => {
                (format!("{lang}-{region}"), rest[1..].join(" "))
            }
            Some(_) => (locale_of(lang), rest.join(" ")),
            None => (locale_of(lang), String::new()),
        };
        let variant: String = variant
            .split([' ', '_'])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
            })
            .collect();
        let short_name = format!("{locale}-Espeak{variant}");
        if out.iter().any(|o| o.short_name.eq_ignore_ascii_case(&short_name)) {
            continue;
        }
        let display = format!("eSpeak NG {}", v.name);
        out.push(Voice::new(
            short_name,
            display,
            &v.gender,
            &locale,
            &v.name,
            22_050,
            Engine::Espeak(v.language.clone()),
        ));
    }
    out
}

/// Finds a voice by short name (`en-US-JoeNeural`), Azure's long name
/// (`Microsoft Server Speech Text to Speech Voice (en-US, JoeNeural)`), case-insensitively.
pub fn find<'a>(voices: &'a [Voice], name: &str) -> Option<&'a Voice> {
    let name = name.trim();
    let short = match (name.find('('), name.rfind(')')) {
        (Some(open), Some(close)) if close > open => {
            let inner = &name[open + 1..close];
            let (locale, voice) = inner.split_once(',')?;
            format!("{}-{}", locale.trim(), voice.trim())
        }
        _ => name.to_string(),
    };
    voices.iter().find(|v| v.short_name.eq_ignore_ascii_case(&short)).or_else(|| {
        // Kokoro's own ids (`ef_dora`), as Kokoro front ends name the voices.
        voices.iter().find(|v| matches!(v.engine, Engine::Kokoro(id) if id.eq_ignore_ascii_case(&short)))
    })
}

/// The voice for a locale when none is named: the neural voice if it speaks it, else eSpeak.
pub fn for_locale<'a>(voices: &'a [Voice], locale: &str) -> Option<&'a Voice> {
    let lang = locale.split('-').next().unwrap_or(locale);
    voices
        .iter()
        .find(|v| v.locale.eq_ignore_ascii_case(locale) && v.voice_type == "Neural")
        .or_else(|| voices.iter().find(|v| v.locale.eq_ignore_ascii_case(locale)))
        .or_else(|| voices.iter().find(|v| v.locale.split('-').next().is_some_and(|l| l.eq_ignore_ascii_case(lang))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn espeak(language: &str, name: &str) -> EspeakVoice {
        EspeakVoice { language: language.into(), name: name.into(), gender: "Male".into() }
    }

    #[test]
    fn names_are_azure_style() {
        let mut voices = vec![piper_joe(22_050)];
        voices.extend(espeak_voices(&[
            espeak("de", "German"),
            espeak("en-us", "English (America)"),
            espeak("en-gb-scotland", "English (Scotland)"),
            espeak("es-419", "Spanish (Latin America)"),
        ]));
        let names: Vec<&str> = voices.iter().map(|v| v.short_name.as_str()).collect();
        assert_eq!(names, ["en-US-JoeNeural", "de-DE-Espeak", "en-US-Espeak", "en-GB-EspeakScotland", "es-419-Espeak"]);
        assert_eq!(voices[0].name, "Microsoft Server Speech Text to Speech Voice (en-US, JoeNeural)");
        assert_eq!(
            find(&voices, "Microsoft Server Speech Text to Speech Voice (en-US, JoeNeural)").map(|v| v.engine.clone()),
            Some(Engine::Piper)
        );
        assert_eq!(find(&voices, "de-de-espeak").map(|v| v.locale.as_str()), Some("de-DE"));
        assert_eq!(for_locale(&voices, "en-US").map(|v| v.short_name.as_str()), Some("en-US-JoeNeural"));
        assert_eq!(for_locale(&voices, "de-AT").map(|v| v.short_name.as_str()), Some("de-DE-Espeak"));
        assert_eq!(voices[1].voice_type, "Standard");
    }

    #[test]
    fn kokoro_voices_are_neural_and_preferred_for_their_locales() {
        let mut voices = vec![piper_joe(22_050)];
        voices.extend(kokoro_voices(super::super::kokoro::VOICES.iter(), 22_050));
        voices.extend(espeak_voices(&[espeak("es", "Spanish"), espeak("fr-fr", "French")]));
        let dora = find(&voices, "es-ES-DoraNeural").expect("Dora");
        assert_eq!(find(&voices, "ef_dora").map(|v| v.short_name.as_str()), Some("es-ES-DoraNeural"));
        assert_eq!((dora.engine.clone(), dora.voice_type.as_str()), (Engine::Kokoro("ef_dora"), "Neural"));
        assert_eq!(dora.sample_rate_hertz, "22050");
        assert_eq!(for_locale(&voices, "es-ES").map(|v| v.short_name.as_str()), Some("es-ES-DoraNeural"));
        assert_eq!(for_locale(&voices, "es-MX").map(|v| v.short_name.as_str()), Some("es-ES-DoraNeural"));
        assert_eq!(for_locale(&voices, "fr-FR").map(|v| v.short_name.as_str()), Some("fr-FR-SiwisNeural"));
        assert_eq!(for_locale(&voices, "pt-BR").map(|v| v.short_name.as_str()), Some("pt-BR-DoraNeural"));
        // Joe stays the default English voice.
        assert_eq!(for_locale(&voices, "en-US").map(|v| v.short_name.as_str()), Some("en-US-JoeNeural"));
    }
}
