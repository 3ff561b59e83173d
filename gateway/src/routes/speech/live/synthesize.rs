//! Speech synthesis for the Azure Speech SDK over WebSocket (`SpeechSynthesizer`):
//! `GET /cognitiveservices/websocket/v1` (also `/tts/cognitiveservices/websocket/v1`).
//!
//! Per request the client sends `synthesis.context` (the output format, which events it wants)
//! and `ssml`, both with the request's `X-RequestId`. The server answers `turn.start`,
//! `response`, the audio in binary `audio` frames — sentence by sentence as each is rendered,
//! headerless in the format asked for (the SDK writes the RIFF header itself for `riff-*`
//! formats) — and `turn.end`. One connection serves many requests in turn.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_speech::SpeechService;
use cogway_speech::audio::OutputFormat;
use cogway_speech::audio::format::Container;
use cogway_speech::tts::ssml::{Document, Item, Prosody, VoiceBlock};
use serde_json::{Value, json};

use super::{Incoming, Opened, Socket, UpgradeResponses, next_message, open, usp};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::ApiResult;
use crate::keys::KeyInfo;
use crate::routes::speech::synthesis;

/// A close code the SDK reports without retrying (with our reason).
const CLOSE_REFUSED: u16 = 4000;
/// Bytes of audio per binary frame.
const FRAME_BYTES: usize = 16 * 1024;

/// `GET /cognitiveservices/websocket/v1` (WebSocket).
#[utoipa::path(get, path = "/cognitiveservices/websocket/v1", tag = "Speech (live)",
    description = "WebSocket (Speech SDK protocol): SpeechSynthesizer, audio sent sentence by sentence; also at /tts/cognitiveservices/websocket/v1.",
    responses(UpgradeResponses),
    security(("key" = []), ("bearer" = [])))]
pub async fn synthesis_socket(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let (response, opened) = open(caller, state, &req, payload, &["USP"]).await?;
    actix_web::rt::spawn(async move {
        let Opened { key, state, slot, mut socket, mut messages } = opened;
        let idle = std::time::Duration::from_secs(u64::from(state.settings.speech.stream_idle_secs));
        // The synthesis.context of each request id (the SDK sends it just before the SSML).
        let mut context: Option<(String, Value)> = None;
        let ending = loop {
            let deadline = tokio::time::Instant::now() + idle;
            let text = match next_message(&mut messages, &mut socket, deadline).await {
                Incoming::Gone => break None,
                Incoming::Idle => break Some((1000, "No message for too long.".to_string())),
                Incoming::Binary(_) => continue,
                Incoming::Text(text) => text,
            };
            let Ok(message) = usp::parse_text(&text) else {
                break Some((CLOSE_REFUSED, "Bad message.".to_string()));
            };
            let id = message.request_id().unwrap_or_default().to_string();
            match message.path().as_str() {
                "synthesis.context" => {
                    context = Some((id, serde_json::from_slice(message.body).unwrap_or(Value::Null)));
                }
                "ssml" => {
                    let asked = context.take().filter(|(cid, _)| *cid == id).map(|(_, c)| c).unwrap_or(Value::Null);
                    let ssml = String::from_utf8_lossy(message.body).into_owned();
                    match speak_request(&state, &key, &mut socket, &id, &asked, &ssml).await {
                        Ok(true) => {}
                        Ok(false) => break None,
                        Err(e) => break Some((CLOSE_REFUSED, e.message)),
                    }
                }
                _ => {}
            }
        };
        if let Some((code, reason)) = ending {
            socket.close(code, &reason).await;
        }
        drop(slot);
    });
    Ok(response)
}

/// The format the SDK asked for, without a container header: it adds the RIFF header itself.
fn raw_format(context: &Value) -> Result<OutputFormat, ServiceError> {
    let name = context["synthesis"]["audio"]["outputFormat"].as_str().unwrap_or("raw-16khz-16bit-mono-pcm");
    let format = OutputFormat::from_azure(name).ok_or_else(|| {
        ServiceError::new(Code::InvalidParameterValue, format!("The output format {name:?} is not supported."))
    })?;
    Ok(match format.container {
        Container::Wav => OutputFormat { container: Container::Raw, ..format },
        _ => format,
    })
}

/// Answers one `ssml` message; false when the socket is gone.
async fn speak_request(
    state: &web::Data<AppState>,
    key: &KeyInfo,
    socket: &mut Socket,
    id: &str,
    context: &Value,
    ssml: &str,
) -> Result<bool, ServiceError> {
    let speech = crate::engines::speech(state).map_err(|e| e.0)?;
    let format = raw_format(context)?;
    let mut document = synthesis::document_from_ssml(state, key, ssml).await.map_err(|e| e.0)?;
    substitute_voices(&mut document, speech.voices());
    let max_chars = state.settings.speech.tts_max_chars;
    let sent = socket.text(usp::text("turn.start", id, &json!({ "context": { "serviceTag": id } }))).await
        && socket
            .text(usp::text(
                "response",
                id,
                &json!({ "context": { "serviceTag": id }, "audio": { "type": "inline", "streamId": "1" } }),
            ))
            .await;
    if !sent {
        return Ok(false);
    }
    // Sentence by sentence: the first audio leaves after the first sentence is rendered.
    // Encoded formats (MP3, Opus) are one stream and are sent whole.
    let pieces = if format.container == Container::Raw { split_sentences(&document) } else { vec![document] };
    let chars = pieces.iter().map(Document::text_len).sum::<usize>();
    if chars > max_chars {
        return Err(ServiceError::new(
            Code::PayloadTooLarge,
            format!("The text has {chars} characters; at most {max_chars} can be synthesized at once."),
        ));
    }
    let word_boundaries = context["synthesis"]["audio"]["metadataOptions"]["wordBoundaryEnabled"] == json!(true);
    // Seconds of audio sent before the current piece.
    let mut elapsed = 0.0;
    for piece in pieces {
        if piece.text_len() == 0 {
            continue;
        }
        let text = piece_text(&piece);
        let audio = synthesis::run(state, key, &speech, piece, format, 1.0, max_chars).await.map_err(|e| e.0)?;
        if word_boundaries && !send_word_boundaries(socket, id, &text, &audio, format, elapsed).await {
            return Ok(false);
        }
        elapsed += audio.duration_secs;
        for frame in audio.audio.chunks(FRAME_BYTES) {
            if !socket.binary(usp::binary("audio", id, None, frame)).await {
                return Ok(false);
            }
        }
    }
    Ok(socket.text(usp::text("turn.end", id, &json!({}))).await)
}

/// The spoken text of a piece, its runs joined by spaces.
fn piece_text(document: &Document) -> String {
    let mut text = String::new();
    for block in &document.blocks {
        for item in &block.items {
            if let Item::Text { text: run, .. } = item {
                text.push_str(run);
                text.push(' ');
            }
        }
    }
    text
}

/// Sends the estimated word boundaries of one piece of audio (`audio.metadata`, which the SDK
/// raises as `synthesis_word_boundary`); false when the socket is gone. Raw PCM is measured for
/// its voiced part; encoded audio spreads the words over its whole duration.
async fn send_word_boundaries(
    socket: &mut Socket,
    id: &str,
    text: &str,
    audio: &cogway_speech::tts::synth::Synthesized,
    format: OutputFormat,
    elapsed: f64,
) -> bool {
    use cogway_speech::tts::word_times::{estimate, voiced_span};
    let span = match format.container {
        Container::Raw => voiced_span(&audio.audio, format.sample_rate),
        _ => Some((0.0, audio.duration_secs)),
    };
    let Some(span) = span else { return true };
    let ticks = |secs: f64| (secs * 10_000_000.0).round() as u64;
    for word in estimate(text, span) {
        let body = json!({ "Metadata": [{ "Type": "WordBoundary", "Data": {
            "Offset": ticks(elapsed + word.start),
            "Duration": ticks(word.duration),
            "text": { "Text": word.text, "Length": word.text.chars().count(), "BoundaryType": "WordBoundary" },
        }}]});
        if !socket.text(usp::text("audio.metadata", id, &body)).await {
            return false;
        }
    }
    true
}

/// Azure voices this server does not have (the SDK's default is `en-US-AvaMultilingualNeural`)
/// are spoken by its voice for the name's locale, so an app that names Azure voices works
/// unchanged; a name without a locale this server speaks stays, and is refused.
fn substitute_voices(document: &mut Document, voices: &[cogway_speech::tts::voices::Voice]) {
    use cogway_speech::tts::voices::{find, for_locale};
    for block in &mut document.blocks {
        if find(voices, &block.voice).is_some() {
            continue;
        }
        let mut parts = block.voice.splitn(3, '-');
        let locale = match (parts.next(), parts.next(), parts.next()) {
            (Some(lang), Some(region), Some(_)) => format!("{lang}-{region}"),
            _ => continue,
        };
        if let Some(voice) = for_locale(voices, &locale) {
            tracing::debug!(asked = %block.voice, using = %voice.short_name, "voice substituted");
            block.voice = voice.short_name.clone();
        }
    }
}

/// One document per sentence (the same voices, prosody and breaks), so audio can leave as soon as
/// its sentence is rendered.
fn split_sentences(document: &Document) -> Vec<Document> {
    let mut out = Vec::new();
    for block in &document.blocks {
        let mut items: Vec<Item> = Vec::new();
        for item in &block.items {
            match item {
                Item::Text { text, prosody, lang } => {
                    for sentence in sentences_of(text) {
                        items.push(Item::Text { text: sentence, prosody: *prosody, lang: lang.clone() });
                        out.push(single(document, block, std::mem::take(&mut items)));
                    }
                }
                other => items.push(other.clone()),
            }
        }
        if !items.is_empty() {
            out.push(single(document, block, items));
        }
    }
    out
}

fn single(document: &Document, block: &VoiceBlock, items: Vec<Item>) -> Document {
    Document {
        lang: document.lang.clone(),
        blocks: vec![VoiceBlock { voice: block.voice.clone(), items }],
        lexicons: Vec::new(),
    }
}

/// Splits text after `.`, `!` or `?` followed by white space.
fn sentences_of(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if matches!(c, '.' | '!' | '?') && chars.peek().is_some_and(|n| n.is_whitespace()) {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

/// Speaks plain text with a voice as a 16 kHz WAV (the translated speech of a
/// `TranslationRecognizer` that named a voice). Charges the characters.
pub async fn speak_plain(
    state: &AppState,
    key: &KeyInfo,
    speech: &Arc<SpeechService>,
    text: &str,
    voice: &str,
) -> Result<Vec<u8>, ServiceError> {
    let locale = cogway_speech::tts::voices::find(speech.voices(), voice)
        .map(|v| v.locale.clone())
        .unwrap_or_else(|| "en-US".into());
    let document = Document {
        lang: locale.clone(),
        blocks: vec![VoiceBlock {
            voice: voice.to_string(),
            items: vec![Item::Text { text: text.to_string(), prosody: Prosody::default(), lang: locale }],
        }],
        lexicons: Vec::new(),
    };
    let format = OutputFormat { container: Container::Wav, sample_rate: 16_000 };
    let audio = synthesis::run(state, key, speech, document, format, 1.0, state.settings.speech.tts_max_chars)
        .await
        .map_err(|e| e.0)?;
    Ok(audio.audio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_after_their_end_mark() {
        assert_eq!(sentences_of("Hello there. How are you? Fine"), ["Hello there.", " How are you?", " Fine"]);
        assert_eq!(sentences_of("3.5 apples."), ["3.5 apples."]);
        assert!(sentences_of("  ").is_empty());
    }

    #[test]
    fn riff_formats_are_sent_raw() {
        let asked = json!({"synthesis":{"audio":{"outputFormat":"riff-24khz-16bit-mono-pcm"}}});
        assert_eq!(raw_format(&asked).ok(), Some(OutputFormat { container: Container::Raw, sample_rate: 24_000 }));
        assert_eq!(
            raw_format(&Value::Null).ok(),
            Some(OutputFormat { container: Container::Raw, sample_rate: 16_000 })
        );
        let bad = json!({"synthesis":{"audio":{"outputFormat":"riff-3khz-16bit-mono-pcm"}}});
        assert!(raw_format(&bad).is_err());
    }
}
