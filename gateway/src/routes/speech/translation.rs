//! Speech translation: audio in, transcript and its translations out, and optionally speech of
//! one translation. The chain runs in-process: Whisper (speech service), the translation engines
//! (translation service), Piper or eSpeak NG (speech service), with no HTTP hop between them.
//!
//! `POST /speech/translation/cognitiveservices/v1?from=en-US&to=es&to=fr[&synthesize=es][&voice=..]`
//! with the audio as the body (as the short-audio route). The answer follows the Speech SDK's
//! translation result: `RecognitionStatus`, `DisplayText`, `Translation.Translations[]`, plus
//! `Synthesis` (base64 audio) when asked.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use cogway_core::Code;
use cogway_speech::Lane;
use cogway_speech::audio::OutputFormat;
use cogway_speech::stt::RecognitionRequest;
use cogway_speech::tts::ssml::{Document, Item, Prosody, VoiceBlock};
use cogway_speech::tts::voices;
use cogway_translation::{languages, pieces};
use serde_json::json;

use super::recognition::{audio_content_type, ticks};
use super::{decode_and_charge, query_pairs, query_param, speech_service, synthesis, whisper_language};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::read_limited;
use crate::routes::query::query_values;
use crate::service::Service;

/// Recognize speech, translate it, and optionally speak a translation.
#[utoipa::path(post, path = "/speech/translation/cognitiveservices/v1", tag = "Speech",
    params(("from" = Option<String>, Query, description = "spoken language (en-US, de); detected when absent"),
           ("to" = Vec<String>, Query, description = "target languages (Translator codes), repeat or comma-separate"),
           ("synthesize" = Option<String>, Query, description = "a target language to speak, or true for the first"),
           ("voice" = Option<String>, Query, description = "voice for the synthesis (default: one for the language)"),
           ("outputFormat" = Option<String>, Query, description = "Azure output format (default riff-24khz-16bit-mono-pcm)")),
    request_body(content = Vec<u8>, description = "audio (WAV, MP3, OGG, FLAC, ...)", content_type = "audio/wav"),
    responses((status = 200, description = "RecognitionStatus, DisplayText, Translation.Translations, Synthesis?")),
    security(("key" = []), ("bearer" = [])))]
pub async fn translate_speech(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    if !caller.key.allows(Service::Translation) {
        return Err(ApiError::new(Code::Forbidden, "This key may not use the translation service."));
    }
    let speech = speech_service(&state)?;
    let translation = crate::engines::translation(&state)?;
    let query = query_pairs(&req);
    let from = query_param(&query, "from").map(whisper_language).transpose()?;
    let targets = query_values(&query, "to");
    if targets.is_empty() {
        return Err(ApiError::new(Code::InvalidParameterValue, "Name at least one target language: to=es."));
    }
    let targets: Vec<String> = targets
        .iter()
        .map(|t| {
            languages::canonical(t).map(str::to_string).ok_or_else(|| {
                ApiError::new(Code::InvalidParameterValue, format!("The target language {t:?} is not valid."))
            })
        })
        .collect::<ApiResult<_>>()?;
    let speak = match query_param(&query, "synthesize") {
        None => None,
        Some(flag) if flag.eq_ignore_ascii_case("false") => None,
        Some(flag) if flag.eq_ignore_ascii_case("true") => targets.first().cloned(),
        Some(code) => {
            let code = languages::canonical(code).filter(|c| targets.iter().any(|t| t == c)).ok_or_else(|| {
                ApiError::new(Code::InvalidParameterValue, format!("synthesize={code:?} is not one of the targets."))
            })?;
            Some(code.to_string())
        }
    };
    let format = match query_param(&query, "outputFormat") {
        None => OutputFormat::AZURE_DEFAULT,
        Some(name) => OutputFormat::from_azure(name).ok_or_else(|| {
            ApiError::new(Code::InvalidParameterValue, format!("The output format {name:?} is not supported."))
        })?,
    };
    let model = speech.resolve_model(None)?;
    let content_type = audio_content_type(&req)?;
    let body = read_limited(&req, payload, state.settings.speech.max_body_bytes).await?;
    let samples =
        decode_and_charge(&state, &caller, body, Some(content_type), state.settings.speech.short_audio_max_secs)
            .await?;
    let mut request = RecognitionRequest::new(samples);
    request.language = from.map(str::to_string);
    let transcript = speech.recognize(model, Lane::Interactive, request).await?;
    state.metrics.audio_seconds.with_label_values(&["recognized"]).inc_by(transcript.duration);
    let text = transcript.text().trim().to_string();
    if text.is_empty() {
        return Ok(HttpResponse::Ok().json(json!({
            "RecognitionStatus": "NoMatch", "Offset": 0, "Duration": ticks(transcript.duration),
        })));
    }
    // Whisper's code when Translator has none for it: its pairs then fail with a clear error.
    let source = languages::canonical(&transcript.language).map_or_else(|| transcript.language.clone(), str::to_string);
    let segment = pieces::plain(&text);
    // Every target is planned before the characters are charged: an unreachable pair costs nothing.
    let plans = targets
        .iter()
        .map(|to| translation.plan(std::slice::from_ref(&source), to, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::new(Code::InvalidParameterValue, e.to_string()))?;
    state.usage.charge(&caller.key, Service::Translation, (text.chars().count() * targets.len()) as u64).await?;
    let mut translations = Vec::with_capacity(targets.len());
    for (to, plan) in targets.iter().zip(&plans) {
        let out = translation.run_plan(plan, std::slice::from_ref(&segment)).await?;
        translations.push((to.clone(), out.segments.first().map(|s| pieces::render(s)).unwrap_or_default()));
    }
    let mut body = json!({
        "RecognitionStatus": "Success",
        "DisplayText": text,
        "Language": source,
        "Offset": 0,
        "Duration": ticks(transcript.duration),
        "Translation": {
            "TranslationStatus": "Success",
            "Translations": translations.iter().map(|(l, t)| json!({ "Language": l, "DisplayText": t })).collect::<Vec<_>>(),
        },
    });
    if let Some(language) = speak {
        let text = translations.iter().find(|(l, _)| *l == language).map(|(_, t)| t.clone()).unwrap_or_default();
        let voice = match query_param(&query, "voice") {
            Some(name) => voices::find(speech.voices(), name)
                .ok_or_else(|| ApiError::new(Code::InvalidParameterValue, format!("Unknown voice {name:?}.")))?,
            None => voices::for_locale(speech.voices(), &language).ok_or_else(|| {
                ApiError::new(Code::InvalidParameterValue, format!("No voice speaks {language}; name one with voice=."))
            })?,
        };
        let document = Document {
            lang: voice.locale.clone(),
            blocks: vec![VoiceBlock {
                voice: voice.short_name.clone(),
                items: vec![Item::Text { text, prosody: Prosody::default(), lang: voice.locale.clone() }],
            }],
            lexicons: Vec::new(),
        };
        let voice_name = voice.short_name.clone();
        let audio =
            synthesis::run(&state, &caller.key, &speech, document, format, 1.0, state.settings.speech.tts_max_chars)
                .await?;
        body["Synthesis"] = json!({
            "Language": language,
            "Voice": voice_name,
            "ContentType": format.mime_type(),
            "Duration": ticks(audio.duration_secs),
            "Data": base64::engine::general_purpose::STANDARD.encode(&audio.audio),
        });
    }
    Ok(HttpResponse::Ok().json(body))
}
