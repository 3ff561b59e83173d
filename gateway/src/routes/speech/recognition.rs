//! Azure speech-to-text for short audio:
//! `POST /speech/recognition/{conversation|interactive|dictation}/cognitiveservices/v1?language=..&format=..&profanity=..`
//! with the audio as the body. Up to `speech.short_audio_max_secs` (60 s, as Azure).

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_speech::Lane;
use cogway_speech::stt::text_forms::{self, Profanity};
use cogway_speech::stt::{RecognitionRequest, Transcript};
use serde_json::json;

use super::{custom, decode_and_charge, query_pairs, query_param, speech_service, whisper_language};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::owners::Owner;
use crate::routes::body::{content_type, read_limited};

/// 100-nanosecond ticks, Azure's unit of time.
pub fn ticks(seconds: f64) -> i64 {
    (seconds.max(0.0) * 10_000_000.0).round() as i64
}

/// Content types that can carry audio.
pub fn audio_content_type(req: &HttpRequest) -> ApiResult<String> {
    let ct = content_type(req);
    let lower = ct.to_ascii_lowercase();
    if lower.starts_with("audio/") || lower.starts_with("application/octet-stream") || lower.starts_with("video/webm") {
        Ok(ct)
    } else if ct.is_empty() {
        Err(ApiError::new(
            Code::UnsupportedMediaType,
            "A Content-Type is required, for example audio/wav; codecs=audio/pcm; samplerate=16000 or audio/ogg; codecs=opus.",
        ))
    } else {
        Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!(
                "The Content-Type {ct:?} is not audio. Send audio/wav, audio/ogg, audio/mpeg, audio/flac or audio/webm."
            ),
        ))
    }
}

/// Speech to text for short audio (Azure): up to 60 s of audio in the body.
#[utoipa::path(post, path = "/speech/recognition/conversation/cognitiveservices/v1", tag = "Speech",
    params(("language" = String, Query, description = "Locale of the speech, e.g. en-US, de-DE"),
           ("format" = Option<String>, Query, description = "simple (default) or detailed (adds NBest)"),
           ("profanity" = Option<String>, Query, description = "masked (default), removed or raw"),
           ("cid" = Option<String>, Query, description = "A custom speech model (PUT /speech/custom/models/{name})"),
           ("phraseList" = Option<String>, Query, description = "Phrases to bias recognition, separated by ';' or ','")),
    request_body(content = Vec<u8>, content_type = "audio/wav", description = "WAV, MP3, FLAC, OGG/Opus, WebM/Opus; any rate and channels"),
    responses((status = 200, description = "RecognitionStatus, DisplayText, Offset, Duration (100 ns ticks), NBest when detailed"),
              (status = 400, description = "bad parameters or audio that cannot be decoded"),
              (status = 413, description = "longer than 60 s"), (status = 415, description = "not an audio Content-Type"),
              (status = 429, description = "rate limit or audio quota"), (status = 503, description = "busy; see Retry-After")),
    security(("key" = []), ("bearer" = [])))]
pub async fn short_audio(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let service = speech_service(&state)?;
    let query = query_pairs(&req);
    let language = query_param(&query, "language").ok_or_else(|| {
        ApiError::new(
            Code::InvalidParameterValue,
            "The language query parameter is required, for example language=en-US.",
        )
    })?;
    let whisper_lang = whisper_language(language)?;
    let detailed = match query_param(&query, "format").map(str::to_ascii_lowercase).as_deref() {
        None | Some("simple") => false,
        Some("detailed") => true,
        Some(other) => {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("format must be simple or detailed, not {other:?}."),
            ));
        }
    };
    let profanity = match query_param(&query, "profanity") {
        None => Profanity::Masked,
        Some(p) => Profanity::parse(p).ok_or_else(|| {
            ApiError::new(Code::InvalidParameterValue, format!("profanity must be masked, removed or raw, not {p:?}."))
        })?,
    };
    // A custom speech model (Azure's custom endpoint id) and per-request phrases bias recognition.
    let custom_model = match query_param(&query, "cid") {
        Some(id) => Some(custom::load_model(&state, &Owner::from(&caller.key), id).await?),
        None => None,
    };
    let mut phrases: Vec<String> = custom_model.as_ref().map(|m| m.phrases.clone()).unwrap_or_default();
    if let Some(list) = query_param(&query, "phraseList") {
        phrases.extend(list.split([';', ',']).map(str::trim).filter(|p| !p.is_empty()).map(str::to_string));
    }
    let model = service.resolve_model(custom_model.as_ref().map(|m| m.base_model.as_str()))?;
    let content_type = audio_content_type(&req)?;

    let body = read_limited(&req, payload, state.settings.speech.max_body_bytes).await?;
    let samples =
        decode_and_charge(&state, &caller, body, Some(content_type), state.settings.speech.short_audio_max_secs)
            .await?;
    let mut request = RecognitionRequest::new(samples);
    request.language = Some(whisper_lang.to_string());
    request.prompt = custom::prompt_from_phrases(&phrases);
    let transcript = service.recognize(model, Lane::Interactive, request).await?;
    state.metrics.audio_seconds.with_label_values(&["recognized"]).inc_by(transcript.duration);
    Ok(HttpResponse::Ok().json(azure_result(&transcript, detailed, profanity, whisper_lang == "en")))
}

/// The Azure short-audio result for a transcript.
pub fn azure_result(transcript: &Transcript, detailed: bool, profanity: Profanity, english: bool) -> serde_json::Value {
    let Some((start, end)) = transcript.speech_span() else {
        return json!({ "RecognitionStatus": "NoMatch", "Offset": 0, "Duration": ticks(transcript.duration) });
    };
    let display = text_forms::filter_profanity(&transcript.text(), profanity);
    let (offset, duration) = (ticks(start), ticks(end - start));
    if !detailed {
        return json!({ "RecognitionStatus": "Success", "DisplayText": display, "Offset": offset, "Duration": duration });
    }
    let itn = text_forms::itn(&display);
    let masked = text_forms::itn(&text_forms::filter_profanity(&transcript.text(), Profanity::Masked));
    let lexical = text_forms::lexical(&text_forms::filter_profanity(&transcript.text(), profanity), english);
    json!({
        "RecognitionStatus": "Success",
        "Offset": offset,
        "Duration": duration,
        "DisplayText": display,
        "NBest": [{
            "Confidence": (f64::from(transcript.confidence()) * 10_000.0).round() / 10_000.0,
            "Lexical": lexical,
            "ITN": itn,
            "MaskedITN": masked,
            "Display": display,
        }],
    })
}
