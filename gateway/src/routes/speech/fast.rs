//! Fast transcription: Azure's synchronous speech-to-text of a whole file
//! (`POST /speechtotext/transcriptions:transcribe?api-version=2024-11-15` or `2025-10-15`).
//!
//! The request is multipart: the file in `audio`, the options in `definition` (JSON: `locales`,
//! `profanityFilterMode`, `phraseList.phrases`, `channels`, `diarization`). The answer comes when
//! the whole file is transcribed: `durationMilliseconds`, `combinedPhrases` (the display text)
//! and `phrases` with words and offsets in milliseconds. Differences from Azure: no diarization,
//! no separate channels (stereo is mixed down and answered as channel 0), no `audioUrl`
//! fetching and no `enhancedMode`; each is refused with a 400 rather than ignored.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_speech::Lane;
use cogway_speech::stt::text_forms::{self, Profanity};
use cogway_speech::stt::{RecognitionRequest, Transcript, languages};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{current_api_version, custom, decode_and_charge, form_definition, speech_service, whisper_language};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::form::read_form;

/// Most locales a definition may list (Azure identifies the language among them).
const MAX_LOCALES: usize = 10;
/// Most phrases of a phrase list (Azure's limit is 500).
const MAX_PHRASES: usize = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Definition {
    #[serde(default)]
    locales: Vec<String>,
    profanity_filter_mode: Option<String>,
    channels: Option<Vec<u32>>,
    diarization: Option<Diarization>,
    phrase_list: Option<PhraseList>,
    audio_url: Option<String>,
    enhanced_mode: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Diarization {
    #[serde(default)]
    enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
struct PhraseList {
    #[serde(default)]
    phrases: Vec<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidParameterValue, message)
}

/// What a definition asks for, checked.
#[derive(Debug)]
pub(crate) struct Options {
    /// The Whisper language when exactly one locale is given; detected otherwise.
    language: Option<(&'static str, String)>,
    /// The candidate locales of language identification (two or more given).
    candidates: Vec<String>,
    profanity: Profanity,
    phrases: Vec<String>,
}

pub(crate) fn options(definition: Definition) -> ApiResult<Options> {
    if definition.audio_url.is_some() {
        return Err(invalid("audioUrl is not fetched by this server: send the file in the `audio` part."));
    }
    if definition.enhanced_mode.as_ref().is_some_and(|m| m.get("enabled") == Some(&Value::Bool(true))) {
        return Err(invalid("enhancedMode (LLM speech) is not supported by this server."));
    }
    if definition.diarization.as_ref().is_some_and(|d| d.enabled) {
        return Err(invalid("Diarization is not supported by this server."));
    }
    if let Some(channels) = &definition.channels
        && channels.iter().any(|&c| c != 0)
    {
        return Err(invalid(
            "Separate channels are not supported by this server: omit channels (stereo is mixed down) or send [0].",
        ));
    }
    if definition.locales.len() > MAX_LOCALES {
        return Err(invalid(format!("At most {MAX_LOCALES} locales may be given.")));
    }
    let mut candidates = Vec::with_capacity(definition.locales.len());
    for locale in &definition.locales {
        whisper_language(locale)?;
        candidates.push(locale.clone());
    }
    let language = match candidates.as_slice() {
        [one] => Some((whisper_language(one)?, one.clone())),
        _ => None,
    };
    let profanity = match definition.profanity_filter_mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("masked") => Profanity::Masked,
        Some("none") => Profanity::Raw,
        Some("removed") => Profanity::Removed,
        Some(other) => {
            return Err(invalid(format!("profanityFilterMode must be None, Masked or Removed, not {other:?}.")));
        }
    };
    let phrases = definition.phrase_list.map(|p| p.phrases).unwrap_or_default();
    if phrases.len() > MAX_PHRASES {
        return Err(invalid(format!("A phrase list holds at most {MAX_PHRASES} phrases.")));
    }
    Ok(Options { language, candidates, profanity, phrases })
}

/// The locale to report: the one asked for, else the candidate of the detected language, else
/// the detected language's usual locale.
fn reported_locale(options: &Options, detected: &str) -> String {
    if let Some((_, locale)) = &options.language {
        return locale.clone();
    }
    options
        .candidates
        .iter()
        .find(|l| languages::whisper_code(l) == Some(detected))
        .cloned()
        .unwrap_or_else(|| languages::locale_of(detected))
}

fn millis(seconds: f64) -> i64 {
    (seconds.max(0.0) * 1000.0).round() as i64
}

/// The fast-transcription answer for a transcript.
fn answer(transcript: &Transcript, locale: &str, profanity: Profanity) -> Value {
    let display = |text: &str| text_forms::filter_profanity(text.trim(), profanity);
    let phrases: Vec<Value> = transcript
        .segments
        .iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| {
            let words: Vec<Value> = s
                .words
                .iter()
                .filter(|w| !w.word.trim().is_empty())
                .map(|w| {
                    json!({
                        "text": display(&w.word),
                        "offsetMilliseconds": millis(w.start),
                        "durationMilliseconds": millis(w.end - w.start),
                    })
                })
                .collect();
            json!({
                "channel": 0,
                "offsetMilliseconds": millis(s.start),
                "durationMilliseconds": millis(s.end - s.start),
                "text": display(&s.text),
                "words": words,
                "locale": locale,
                "confidence": (f64::from(s.avg_logprob.exp()) * 10_000.0).round() / 10_000.0,
            })
        })
        .collect();
    json!({
        "durationMilliseconds": millis(transcript.duration),
        "combinedPhrases": [{ "channel": 0, "text": display(&transcript.text()) }],
        "phrases": phrases,
    })
}

/// Transcribe a file and answer when done.
#[utoipa::path(post, path = "/speechtotext/transcriptions:transcribe", tag = "Speech",
    params(("api-version" = String, Query, description = "2024-11-15 or 2025-10-15")),
    request_body(content = String, content_type = "multipart/form-data",
        description = "`audio`: the file (WAV, MP3, OGG, FLAC, ...); `definition`: JSON {locales?, profanityFilterMode?, phraseList?: {phrases}}"),
    responses((status = 200, description = "durationMilliseconds, combinedPhrases, phrases (words, offsets and durations in ms)"),
              (status = 400, description = "bad definition, no audio, diarization / channels / audioUrl / enhancedMode asked for"),
              (status = 413, description = "longer than speech.fast_max_secs or larger than speech.batch_max_body_bytes"),
              (status = 429, description = "rate limit or audio quota"), (status = 503, description = "busy; see Retry-After")),
    security(("key" = []), ("bearer" = [])))]
pub async fn transcribe(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    current_api_version(&req)?;
    let service = speech_service(&state)?;
    let form = read_form(&req, payload, state.settings.speech.batch_max_body_bytes, "audio").await?;
    let options = options(form_definition(&form)?)?;
    let file = form.file.ok_or_else(|| {
        ApiError::new(Code::InvalidRequest, "The form has no `audio` part with the file to transcribe.")
    })?;
    let content_type = file.content_type.clone().filter(|ct| ct != "application/octet-stream");
    let samples =
        decode_and_charge(&state, &caller, file.bytes, content_type, state.settings.speech.fast_max_secs).await?;

    let mut request = RecognitionRequest::new(samples);
    request.language = options.language.as_ref().map(|(code, _)| (*code).to_string());
    request.prompt = custom::prompt_from_phrases(&options.phrases);
    request.word_timestamps = true;
    request.split_on_silence = true;
    let model = service.resolve_model(None)?;
    let transcript = service.recognize(model, Lane::Batch, request).await?;
    state.metrics.audio_seconds.with_label_values(&["recognized"]).inc_by(transcript.duration);
    let locale = reported_locale(&options, &transcript.language);
    Ok(HttpResponse::Ok().json(answer(&transcript, &locale, options.profanity)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(json: Value) -> Definition {
        serde_json::from_value(json).expect("definition")
    }

    #[test]
    fn definitions_are_checked() {
        let ok = options(definition(json!({ "locales": ["de-DE"], "profanityFilterMode": "None" }))).expect("ok");
        assert_eq!(ok.language.as_ref().map(|(c, l)| (*c, l.as_str())), Some(("de", "de-DE")));
        assert_eq!(ok.profanity, Profanity::Raw);
        let detect = options(definition(json!({ "locales": ["en-US", "es-ES"] }))).expect("ok");
        assert!(detect.language.is_none());
        assert_eq!(reported_locale(&detect, "es"), "es-ES");
        assert_eq!(reported_locale(&options(Definition::default()).expect("ok"), "en"), languages::locale_of("en"));
        for bad in [
            json!({ "diarization": { "enabled": true, "maxSpeakers": 2 } }),
            json!({ "channels": [0, 1] }),
            json!({ "audioUrl": "http://example.com/a.wav" }),
            json!({ "enhancedMode": { "enabled": true } }),
            json!({ "locales": ["xx-XX"] }),
            json!({ "profanityFilterMode": "Tags" }),
            json!({ "phraseList": { "phrases": vec!["a"; MAX_PHRASES + 1] } }),
        ] {
            assert!(options(definition(bad.clone())).is_err(), "{bad}");
        }
        assert!(options(definition(json!({ "channels": [0], "diarization": { "enabled": false } }))).is_ok());
    }
}
