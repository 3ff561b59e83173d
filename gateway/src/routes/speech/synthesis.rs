//! Azure text-to-speech: `POST /cognitiveservices/v1` with SSML and `X-Microsoft-OutputFormat`,
//! and `GET /cognitiveservices/voices/list`.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_speech::audio::OutputFormat;
use cogway_speech::audio::format::Container;
use cogway_speech::tts::{SynthesisJob, Synthesized, lexicon, ssml};
use futures_util::StreamExt;

use super::{SERVICE, custom, speech_service};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use crate::owners::Owner;
use crate::routes::body::{content_type, read_limited};

/// The voice of text outside any `<voice>` element, and of OpenAI's voice names.
pub const DEFAULT_VOICE: &str = "en-US-JoeNeural";

/// The voices (Azure's shape): the Piper neural voice and eSpeak NG's voices (VoiceType Standard).
#[utoipa::path(get, path = "/cognitiveservices/voices/list", tag = "Speech",
    responses((status = 200, description = "Name, DisplayName, ShortName, Gender, Locale, SampleRateHertz, VoiceType, Status")),
    security(("key" = []), ("bearer" = [])))]
pub async fn voices(_caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let service = speech_service(&state)?;
    Ok(HttpResponse::Ok().json(service.voices()))
}

/// Text to speech (Azure): SSML in, audio out in the `X-Microsoft-OutputFormat` format.
#[utoipa::path(post, path = "/cognitiveservices/v1", tag = "Speech",
    params(("X-Microsoft-OutputFormat" = Option<String>, Header,
            description = "riff-{8khz,16khz,22050hz,24khz,44100hz,48khz}-16bit-mono-pcm, raw-...-16bit-mono-pcm, audio-24khz-48kbitrate-mono-mp3 (and Azure's other MP3 formats), ogg-{16,24,48}khz-16bit-mono-opus; default riff-24khz-16bit-mono-pcm")),
    request_body(content = String, content_type = "application/ssml+xml",
        description = "speak, voice, prosody (rate, pitch, volume), break, say-as, phoneme (IPA), sub, lang, lexicon, p, s"),
    responses((status = 200, description = "the audio; raw-* formats are streamed (chunked) sentence by sentence"), (status = 400, description = "invalid SSML, unknown voice or format"),
              (status = 415, description = "not SSML"), (status = 503, description = "busy; see Retry-After")),
    security(("key" = []), ("bearer" = [])))]
pub async fn synthesize(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let service = speech_service(&state)?;
    let ct = content_type(&req).to_ascii_lowercase();
    if !(ct.starts_with("application/ssml+xml") || ct.starts_with("application/xml") || ct.starts_with("text/xml")) {
        return Err(ApiError::new(Code::UnsupportedMediaType, "The Content-Type must be application/ssml+xml."));
    }
    let format = match req.headers().get("X-Microsoft-OutputFormat").and_then(|v| v.to_str().ok()) {
        None => OutputFormat::AZURE_DEFAULT,
        Some(name) => OutputFormat::from_azure(name).ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameterValue,
                format!(
                    "The output format {name:?} is not supported. Supported: {}.",
                    OutputFormat::azure_names().join(", ")
                ),
            )
        })?,
    };
    let max_chars = state.settings.speech.tts_max_chars;
    // SSML markup is counted too; allow generous room over the text limit.
    let body = read_limited(&req, payload, max_ssml_bytes(max_chars)).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(Code::InvalidRequestBodyFormat, "The SSML is not UTF-8 text."))?;
    let document = document_from_ssml(&state, &caller.key, text).await?;
    respond(&state, &caller.key, service, document, format, 1.0, max_chars).await
}

/// The most SSML bytes read for `max_chars` characters of text (markup counts too).
pub fn max_ssml_bytes(max_chars: usize) -> usize {
    max_chars.saturating_mul(8).max(64 * 1024)
}

/// Parses SSML (on the blocking pool: linear and bounded by `ssml::MAX_*`, but not work for an
/// HTTP worker) and applies the key's lexicons it names.
pub async fn document_from_ssml(state: &AppState, key: &KeyInfo, text: &str) -> ApiResult<ssml::Document> {
    if text.trim().is_empty() {
        return Err(ApiError::new(Code::InvalidRequestBodyFormat, "The request body is empty: send an SSML document."));
    }
    let max_chars = state.settings.speech.tts_max_chars;
    let ssml_text = text.to_string();
    let document = web::block(move || ssml::parse(&ssml_text, DEFAULT_VOICE))
        .await
        .map_err(|e| ApiError::new(Code::Internal, format!("SSML thread failed: {e}")))?
        .map_err(|e| ApiError::new(Code::InvalidRequestBodyFormat, e.to_string()))?;
    let lexicons = custom::lexicons_for(state, &Owner::from(key), &document.lexicons).await?;
    if lexicons.is_empty() {
        return Ok(document);
    }
    web::block(move || {
        let mut document = document;
        lexicon::apply(&mut document, &lexicons, max_chars).map(|()| document)
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("lexicon thread failed: {e}")))?
    .map_err(|e| ApiError::new(Code::PayloadTooLarge, e.to_string()))
}

/// Checks the text length, charges its characters, synthesizes and records the audio produced.
pub async fn run(
    state: &AppState,
    key: &KeyInfo,
    service: &cogway_speech::SpeechService,
    document: ssml::Document,
    format: OutputFormat,
    speed: f32,
    max_chars: usize,
) -> ApiResult<Synthesized> {
    admit(state, key, &document, max_chars).await?;
    let audio = service.synthesize(SynthesisJob::new(document, format, speed)).await?;
    state.metrics.audio_seconds.with_label_values(&["synthesized"]).inc_by(audio.duration_secs);
    Ok(audio)
}

/// Answers with the audio of a raw PCM `format` as it is made, sentence by sentence (chunked
/// transfer), once the first sentence is ready: a failure before any audio (a full queue, an
/// unknown voice) is still an ordinary error response. Other formats are answered whole.
pub async fn respond(
    state: &AppState,
    key: &KeyInfo,
    service: Arc<cogway_speech::SpeechService>,
    document: ssml::Document,
    format: OutputFormat,
    speed: f32,
    max_chars: usize,
) -> ApiResult<HttpResponse> {
    if format.container != Container::Raw {
        let audio = run(state, key, &service, document, format, speed, max_chars).await?;
        return Ok(HttpResponse::Ok().content_type(format.mime_type()).body(audio.audio));
    }
    admit(state, key, &document, max_chars).await?;
    let (sink, mut pieces) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let job = SynthesisJob { stream: Some(sink), ..SynthesisJob::new(document, format, speed) };
    let produced = state.metrics.audio_seconds.with_label_values(&["synthesized"]);
    let mut task = actix_web::rt::spawn(async move { service.synthesize(job).await });
    let first = tokio::select! {
        piece = pieces.recv() => piece,
        done = &mut task => return ended(done, &mut pieces, &produced, format),
    };
    let Some(first) = first else { return ended(task.await, &mut pieces, &produced, format) };
    // The rest of the job runs on; its duration is counted when it ends. A failure after the
    // first piece can only end the stream early.
    actix_web::rt::spawn(async move {
        if let Ok(Ok(synthesized)) = task.await {
            produced.inc_by(synthesized.duration_secs);
        }
    });
    let rest = futures_util::stream::unfold(pieces, |mut pieces| async move {
        pieces.recv().await.map(|piece| (Ok::<_, actix_web::Error>(web::Bytes::from(piece)), pieces))
    });
    let body =
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(web::Bytes::from(first)) }).chain(rest);
    Ok(HttpResponse::Ok().content_type(format.mime_type()).streaming(body))
}

/// The answer of a streamed job that ended before its first piece was taken: its error, or in
/// one body whatever it made (still in the channel; nothing when it had nothing to say).
fn ended(
    done: Result<Result<Synthesized, cogway_core::ServiceError>, tokio::task::JoinError>,
    pieces: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    produced: &prometheus::Counter,
    format: OutputFormat,
) -> ApiResult<HttpResponse> {
    let synthesized = done.map_err(|e| ApiError::new(Code::Internal, format!("synthesis task failed: {e}")))??;
    produced.inc_by(synthesized.duration_secs);
    let mut audio = Vec::new();
    while let Ok(piece) = pieces.try_recv() {
        audio.extend(piece);
    }
    Ok(HttpResponse::Ok().content_type(format.mime_type()).body(audio))
}

/// Checks the text length and charges its characters.
async fn admit(state: &AppState, key: &KeyInfo, document: &ssml::Document, max_chars: usize) -> ApiResult<()> {
    let chars = document.text_len();
    if chars == 0 {
        return Err(ApiError::new(Code::InvalidRequestBodyFormat, "There is no text to speak."));
    }
    if chars > max_chars {
        return Err(ApiError::new(
            Code::PayloadTooLarge,
            format!("The text has {chars} characters; at most {max_chars} can be synthesized at once."),
        ));
    }
    state.usage.charge(key, SERVICE, chars as u64).await?;
    Ok(())
}
