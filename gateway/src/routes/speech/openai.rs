//! The OpenAI-compatible audio API: `POST /v1/audio/transcriptions`, `/v1/audio/translations`
//! (multipart uploads) and `/v1/audio/speech` (JSON in, audio out). Keys work as
//! `Authorization: Bearer <key>`.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_speech::Lane;
use cogway_speech::audio::OutputFormat;
use cogway_speech::stt::{RecognitionRequest, Task, Transcript, languages, subtitles};
use cogway_speech::tts::ssml::{Document, Item, Prosody, VoiceBlock};
use serde::Deserialize;
use serde_json::json;

use super::synthesis::{self, DEFAULT_VOICE};
use super::{custom, decode_and_charge, speech_service, whisper_language};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::owners::Owner;
use crate::routes::body::read_json;
use crate::routes::form::read_form;

/// OpenAI's limit on `input` of the speech route.
const MAX_SPEECH_INPUT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseFormat {
    Json,
    Text,
    Srt,
    Vtt,
    VerboseJson,
}

fn response_format(value: Option<&str>) -> ApiResult<ResponseFormat> {
    Ok(match value.unwrap_or("json") {
        "json" => ResponseFormat::Json,
        "text" => ResponseFormat::Text,
        "srt" => ResponseFormat::Srt,
        "vtt" => ResponseFormat::Vtt,
        "verbose_json" => ResponseFormat::VerboseJson,
        other => {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("response_format must be json, text, srt, vtt or verbose_json, not {other:?}."),
            ));
        }
    })
}

/// Transcribe audio (OpenAI-compatible; multipart form: file, model, language, prompt,
/// response_format json|text|srt|vtt|verbose_json, timestamp_granularities[] word|segment, temperature).
#[utoipa::path(post, path = "/v1/audio/transcriptions", tag = "Speech (OpenAI)",
    request_body(content = String, content_type = "multipart/form-data"),
    responses((status = 200, description = "the transcript in the requested format"), (status = 400), (status = 413), (status = 415)),
    security(("bearer" = []), ("key" = [])))]
pub async fn transcriptions(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    recognize(caller, state, req, payload, Task::Transcribe).await
}

/// Translate speech into English text (OpenAI-compatible; multipart form like transcriptions).
#[utoipa::path(post, path = "/v1/audio/translations", tag = "Speech (OpenAI)",
    request_body(content = String, content_type = "multipart/form-data"),
    responses((status = 200, description = "the English text in the requested format"), (status = 400)),
    security(("bearer" = []), ("key" = [])))]
pub async fn translations(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    recognize(caller, state, req, payload, Task::Translate).await
}

async fn recognize(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    task: Task,
) -> ApiResult<HttpResponse> {
    let service = speech_service(&state)?;
    let form = read_form(&req, payload, state.settings.speech.max_body_bytes, "file").await?;
    let format = response_format(form.get("response_format"))?;
    let granularities = form.all("timestamp_granularities");
    for g in &granularities {
        if !matches!(*g, "word" | "segment") {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("timestamp_granularities must be word and/or segment, not {g:?}."),
            ));
        }
    }
    if !granularities.is_empty() && format != ResponseFormat::VerboseJson {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            "timestamp_granularities needs response_format=verbose_json.",
        ));
    }
    let words = granularities.contains(&"word");
    let segments = granularities.is_empty() || granularities.contains(&"segment");
    let temperature: f32 = form.number("temperature")?.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&temperature) {
        return Err(ApiError::new(Code::InvalidParameterValue, "temperature must be between 0 and 1."));
    }
    // `model` may name a saved custom speech model, which brings its base model and phrases.
    let custom_model = match form.get("model") {
        Some(name) => custom::find_model(&state, &Owner::from(&caller.key), name).await?,
        None => None,
    };
    let model =
        service.resolve_model(custom_model.as_ref().map_or(form.get("model"), |m| Some(m.base_model.as_str())))?;
    let language = match (task, form.get("language")) {
        (Task::Transcribe, Some(l)) => Some(whisper_language(l)?.to_string()),
        _ => None,
    };
    if task == Task::Translate && !service.is_multilingual(model) {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("The model {model} is English-only and cannot translate; use whisper-1."),
        ));
    }
    let mut prompt_parts: Vec<String> = Vec::new();
    if let Some(m) = &custom_model
        && let Some(p) = custom::prompt_from_phrases(&m.phrases)
    {
        prompt_parts.push(p);
    }
    if let Some(p) = form.get("prompt") {
        prompt_parts.push(p.to_string());
    }
    let file =
        form.file.ok_or_else(|| ApiError::new(Code::InvalidRequest, "The form has no `file` field with the audio."))?;
    let content_type = file.content_type.clone().filter(|ct| ct != "application/octet-stream").or_else(|| {
        file.filename
            .as_deref()
            .and_then(|f| f.rsplit('.').next())
            .map(|ext| format!("audio/{}", ext.to_ascii_lowercase()))
    });
    let samples =
        decode_and_charge(&state, &caller, file.bytes, content_type, state.settings.speech.openai_max_secs).await?;
    let mut request = RecognitionRequest::new(samples);
    request.language = language;
    request.task = task;
    request.prompt = (!prompt_parts.is_empty()).then(|| prompt_parts.join(" "));
    request.temperature = temperature;
    request.word_timestamps = words;
    // Long uploads are split on silence, as batch transcription does; short ones decode whole.
    request.split_on_silence = request.audio.len() > 30 * cogway_speech::audio::RECOGNITION_RATE as usize;
    let transcript = service.recognize(model, Lane::Interactive, request).await?;
    state.metrics.audio_seconds.with_label_values(&["recognized"]).inc_by(transcript.duration);
    Ok(render(&transcript, format, task, words, segments))
}

fn render(t: &Transcript, format: ResponseFormat, task: Task, words: bool, segments: bool) -> HttpResponse {
    let text_plain = "text/plain; charset=utf-8";
    match format {
        ResponseFormat::Json => HttpResponse::Ok().json(json!({
            "text": t.text(),
            "usage": { "type": "duration", "seconds": t.duration.ceil() as u64 },
        })),
        ResponseFormat::Text => HttpResponse::Ok().content_type(text_plain).body(format!("{}\n", t.text())),
        ResponseFormat::Srt => HttpResponse::Ok().content_type(text_plain).body(subtitles::srt(t)),
        ResponseFormat::Vtt => HttpResponse::Ok().content_type("text/vtt; charset=utf-8").body(subtitles::vtt(t)),
        ResponseFormat::VerboseJson => {
            let mut body = json!({
                "task": if task == Task::Translate { "translate" } else { "transcribe" },
                "language": languages::name_of(if task == Task::Translate { "en" } else { &t.language }),
                "duration": t.duration,
                "text": t.text(),
                "usage": { "type": "duration", "seconds": t.duration.ceil() as u64 },
            });
            if segments {
                body["segments"] = t
                    .segments
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        json!({
                            "id": i,
                            "seek": (s.start * 100.0).round() as i64,
                            "start": s.start,
                            "end": s.end,
                            "text": s.text,
                            "tokens": s.tokens,
                            "temperature": 0.0,
                            "avg_logprob": s.avg_logprob,
                            "compression_ratio": compression_ratio(&s.text),
                            "no_speech_prob": s.no_speech_prob,
                        })
                    })
                    .collect();
            }
            if words {
                // OpenAI's words carry no punctuation ("store", not "store.").
                body["words"] = t
                    .words()
                    .map(|w| {
                        let word = w.word.trim_matches(|c: char| c.is_ascii_punctuation() && c != '\'');
                        json!({ "word": word, "start": w.start, "end": w.end })
                    })
                    .filter(|w| w["word"].as_str().is_some_and(|s| !s.is_empty()))
                    .collect();
            }
            HttpResponse::Ok().json(body)
        }
    }
}

/// Text length over its run-length-collapsed length: a cheap stand-in for Whisper's gzip ratio
/// that rises on the repetitive output of hallucination loops.
fn compression_ratio(text: &str) -> f64 {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let distinct_words: std::collections::HashSet<&str> = text.split_whitespace().collect();
    let words = text.split_whitespace().count().max(1);
    words as f64 / distinct_words.len().max(1) as f64
}

#[derive(Debug, Deserialize)]
pub struct SpeechRequest {
    #[serde(default)]
    pub model: Option<String>,
    pub input: String,
    #[serde(default)]
    pub voice: Option<String>,
    #[serde(default)]
    pub response_format: Option<String>,
    #[serde(default)]
    pub speed: Option<f32>,
    /// gpt-4o-mini-tts's style instructions; the voices here have no styles, so it is ignored.
    #[serde(default)]
    pub instructions: Option<String>,
}

/// OpenAI's voice names all map to the neural voice; Cogway's voice names work too.
const OPENAI_VOICES: &[&str] =
    &["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse"];

/// Synthesize speech (OpenAI-compatible): {model, input, voice, response_format mp3|opus|wav|pcm, speed}.
/// `pcm` is streamed (chunked) sentence by sentence as it is made.
#[utoipa::path(post, path = "/v1/audio/speech", tag = "Speech (OpenAI)",
    request_body(content = String, content_type = "application/json"),
    responses((status = 200, description = "the audio; pcm is streamed (chunked) sentence by sentence"), (status = 400)),
    security(("bearer" = []), ("key" = [])))]
pub async fn speech(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let service = speech_service(&state)?;
    let body: SpeechRequest = read_json(&req, payload, 64 * 1024).await?;
    if body.input.trim().is_empty() {
        return Err(ApiError::new(Code::InvalidParameterValue, "input must not be empty."));
    }
    if body.input.chars().count() > MAX_SPEECH_INPUT {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("input is longer than {MAX_SPEECH_INPUT} characters."),
        ));
    }
    let format_name = body.response_format.as_deref().unwrap_or("mp3");
    let format = OutputFormat::from_openai(format_name).ok_or_else(|| {
        ApiError::new(
            Code::InvalidParameterValue,
            format!("response_format {format_name:?} is not supported; use mp3, opus, wav or pcm."),
        )
    })?;
    let speed = body.speed.unwrap_or(1.0);
    if !(0.25..=4.0).contains(&speed) {
        return Err(ApiError::new(Code::InvalidParameterValue, "speed must be between 0.25 and 4.0."));
    }
    let requested = body.voice.as_deref().unwrap_or("alloy");
    let voice = if OPENAI_VOICES.contains(&requested.to_ascii_lowercase().as_str()) {
        DEFAULT_VOICE.to_string()
    } else {
        cogway_speech::tts::voices::find(service.voices(), requested)
            .map(|v| v.short_name.clone())
            .ok_or_else(|| {
                ApiError::new(
                    Code::InvalidParameterValue,
                    format!("Unknown voice {requested:?}: use an OpenAI voice name or one from /cognitiveservices/voices/list."),
                )
            })?
    };
    let locale =
        cogway_speech::tts::voices::find(service.voices(), &voice).map_or("en-US".to_string(), |v| v.locale.clone());
    let document = Document {
        lang: locale.clone(),
        blocks: vec![VoiceBlock {
            voice,
            items: vec![Item::Text { text: body.input, prosody: Prosody::default(), lang: locale }],
        }],
        lexicons: Vec::new(),
    };
    synthesis::respond(&state, &caller.key, service, document, format, speed, MAX_SPEECH_INPUT).await
}
