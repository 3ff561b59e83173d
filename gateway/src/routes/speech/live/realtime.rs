//! OpenAI Realtime transcription sessions: `GET /v1/realtime?intent=transcription` (WebSocket).
//!
//! The client streams base64 PCM in `input_audio_buffer.append` events; with `server_vad` turn
//! detection (the default) the server finds each utterance, answers
//! `input_audio_buffer.speech_started`, `conversation.item.input_audio_transcription.delta` while
//! the person speaks, then `speech_stopped`, `committed` and `...transcription.completed`. With
//! turn detection off, the client ends an utterance with `input_audio_buffer.commit`. Both the GA
//! shape (`session.update` with `audio.input`) and the beta shape
//! (`transcription_session.update`) are read; answers use the shape the client spoke.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use cogway_core::{Code, ServiceError};
use cogway_speech::SpeechService;
use cogway_speech::audio::pcm_stream::{PcmFormat, PcmStream};
use cogway_speech::live::{LiveEvent, LiveRecognizer, PendingStep};
use cogway_speech::stt::stream::{StepResult, StreamSettings};
use serde_json::{Value, json};

use super::{Incoming, Opened, Socket, UpgradeResponses, next_message, open};
use crate::app::AppState;
use crate::auth::{Caller, caller_with_key};
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use crate::routes::query::{query_pairs, query_param};
use crate::routes::speech::{SERVICE, whisper_language};

/// The rate OpenAI's `audio/pcm` (and beta `pcm16`) audio has.
const OPENAI_RATE: u32 = 24_000;
/// Audio charged to the key's quota at a time.
const CHARGE_EVERY_SECS: f64 = 10.0;
/// The least audio a manual commit takes (OpenAI: 100 ms).
const MIN_COMMIT_SECS: f64 = 0.1;
/// Largest `input_audio_buffer.append` audio, decoded (OpenAI: 15 MiB).
const MAX_APPEND_BYTES: usize = 15 * 1024 * 1024;

type StepFuture = Pin<Box<dyn Future<Output = Result<StepResult, ServiceError>>>>;

/// `GET /v1/realtime?intent=transcription` (WebSocket upgrade).
#[utoipa::path(get, path = "/v1/realtime", tag = "Speech (live)",
    description = "WebSocket: an OpenAI Realtime transcription session (GA or beta events; audio/pcm at 24 kHz or 16 kHz; server_vad or committed turns).",
    params(("intent" = String, Query, description = "transcription (the only intent served)"),
           ("language" = Option<String>, Query, description = "language of the speech, e.g. en"),
           ("model" = Option<String>, Query, description = "transcription model (whisper-1, gpt-4o-transcribe, ... map to the default Whisper model)")),
    responses(UpgradeResponses),
    security(("key" = []), ("bearer" = [])))]
pub async fn realtime(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    let query = query_pairs(&req);
    if query_param(&query, "intent") != Some("transcription") {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            "Only transcription sessions are served: connect to /v1/realtime?intent=transcription.",
        ));
    }
    // Browsers cannot set headers on a WebSocket: they send the key as a subprotocol.
    let protocols = header(&req, "Sec-WebSocket-Protocol").unwrap_or_default();
    let from_protocol = protocols.split(',').map(str::trim).find_map(|p| p.strip_prefix("openai-insecure-api-key."));
    let explicit = from_protocol.map(str::to_string).or_else(|| header(&req, "api-key"));
    let caller: Caller = caller_with_key(&req, explicit.as_deref()).await?;
    let beta = header(&req, "OpenAI-Beta").is_some_and(|v| v.contains("realtime"))
        || protocols.split(',').any(|p| p.trim().starts_with("openai-beta.realtime"));
    let language = query_param(&query, "language").map(whisper_language).transpose()?.map(str::to_string);
    let speech = crate::engines::speech(&state)?;
    let model = speech.resolve_model(query_param(&query, "model").map(model_name))?;
    let (response, opened) = open(caller, state, &req, payload, &["realtime"]).await?;
    actix_web::rt::spawn(async move {
        let Opened { key, state, slot, socket, messages } = opened;
        let session = Session::new(state, key, speech, model, language, beta);
        session.run(socket, messages).await;
        drop(slot);
    });
    Ok(response)
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// OpenAI's transcription model names are served by the default Whisper model.
fn model_name(asked: &str) -> &str {
    match asked {
        "gpt-4o-transcribe" | "gpt-4o-mini-transcribe" | "gpt-realtime-whisper" | "whisper-1" | "" => "whisper-1",
        other => other,
    }
}

struct Session {
    state: web::Data<AppState>,
    key: KeyInfo,
    speech: Arc<SpeechService>,
    model: &'static str,
    /// Answer in the beta event shape.
    beta: bool,
    id: String,
    asked_model: String,
    language: Option<String>,
    prompt: String,
    /// Server VAD: `Some(silence ms)`; `None` when the client commits turns itself.
    vad_silence_ms: Option<u32>,
    format: PcmFormat,
    pcm: PcmStream,
    recognizer: LiveRecognizer,
    events: u64,
    items: u64,
    /// The utterance being spoken.
    item: Option<Item>,
    /// The previous partial text (a delta is what two partials agree on).
    last_partial: String,
    previous_item: Option<String>,
    uncharged: f64,
    received: f64,
}

impl Session {
    fn new(
        state: web::Data<AppState>,
        key: KeyInfo,
        speech: Arc<SpeechService>,
        model: &'static str,
        language: Option<String>,
        beta: bool,
    ) -> Self {
        let format = PcmFormat { sample_rate: OPENAI_RATE, channels: 1 };
        let silence = state.settings.speech.segment_silence_ms;
        let mut session = Self {
            recognizer: LiveRecognizer::new(StreamSettings::default(), 0.0),
            state,
            key,
            speech,
            model,
            beta,
            id: format!("sess_{}", uuid::Uuid::new_v4().simple()),
            asked_model: "whisper-1".into(),
            language,
            prompt: String::new(),
            vad_silence_ms: Some(silence),
            format,
            pcm: PcmStream::new(format),
            events: 0,
            items: 0,
            item: None,
            last_partial: String::new(),
            previous_item: None,
            uncharged: 0.0,
            received: 0.0,
        };
        session.recognizer = session.new_recognizer();
        session
    }

    fn new_recognizer(&self) -> LiveRecognizer {
        let s = &self.state.settings.speech;
        let settings = StreamSettings {
            language: self.language.clone(),
            prompt: Some(self.prompt.clone()).filter(|p| !p.trim().is_empty()),
            segment_silence_secs: self.vad_silence_ms.unwrap_or(s.segment_silence_ms) as f32 / 1000.0,
            max_phrase_secs: s.max_phrase_secs as f32,
            ..StreamSettings::default()
        };
        let partial_every = if self.vad_silence_ms.is_some() { s.partial_every_ms as f32 / 1000.0 } else { 0.0 };
        LiveRecognizer::new(settings, partial_every)
    }

    async fn run(mut self, mut socket: Socket, mut messages: actix_ws::AggregatedMessageStream) {
        let idle = std::time::Duration::from_secs(u64::from(self.state.settings.speech.stream_idle_secs));
        let max_buffer = f64::from(self.state.settings.speech.stream_max_buffer_secs);
        let mut deadline = tokio::time::Instant::now() + idle;
        let mut step: Option<(PendingStep, StepFuture)> = None;
        // Steps that must run to the end of the buffer (a manual commit) before reading on.
        let mut flushing = false;
        let created = if self.beta { "transcription_session.created" } else { "session.created" };
        let mut ok = self.send(&mut socket, created, json!({ "session": self.describe() })).await;
        while ok {
            let reading = !flushing && self.recognizer.buffered_secs() < max_buffer;
            tokio::select! {
                result = async { step.as_mut().map(|(_, f)| f).expect("guarded").await }, if step.is_some() => {
                    let Some((pending, _)) = step.take() else { continue };
                    ok = match result {
                        Ok(result) => {
                            let events = self.recognizer.apply(&pending, result);
                            self.on_events(&mut socket, events).await
                        }
                        Err(e) => {
                            // The session ends: its audio could not be recognized.
                            self.error(&mut socket, "server_error", &e.message).await;
                            false
                        }
                    };
                }
                incoming = next_message(&mut messages, &mut socket, deadline), if reading => {
                    deadline = tokio::time::Instant::now() + idle;
                    ok = match incoming {
                        Incoming::Gone => false,
                        Incoming::Idle => {
                            socket.close(1000, "No message for too long.").await;
                            self.charge().await.ok();
                            return;
                        }
                        Incoming::Binary(_) => self.error(&mut socket, "invalid_request_error", "Send JSON text events.").await,
                        Incoming::Text(text) => match self.on_event(&mut socket, &text).await {
                            Ok(flush) => {
                                flushing |= flush;
                                true
                            }
                            Err(Stop::Gone) => false,
                            // A bad event is reported and the session goes on, as OpenAI does.
                            Err(Stop::Error(message)) => self.error(&mut socket, "invalid_request_error", &message).await,
                            Err(Stop::Fatal(message)) => {
                                self.error(&mut socket, "invalid_request_error", &message).await;
                                false
                            }
                        },
                    };
                }
            }
            if ok && step.is_none() {
                // Turns the client commits are recognized phrase by phrase as audio comes too
                // (without events), so a commit only waits for the last phrase.
                match self.recognizer.next_step(flushing) {
                    Some(pending) => {
                        let (speech, model, request) = (self.speech.clone(), self.model, pending.request.clone());
                        step = Some((pending, Box::pin(async move { speech.stream_step(model, request).await })));
                    }
                    None if flushing => {
                        flushing = false;
                        ok = self.end_item(&mut socket, None).await;
                    }
                    None => {}
                }
            }
        }
        self.charge().await.ok();
        socket.close(1000, "").await;
    }

    /// Handles one client event; `Ok(true)` when the buffer must now be transcribed to its end.
    async fn on_event(&mut self, socket: &mut Socket, text: &str) -> Result<bool, Stop> {
        let event: Value =
            serde_json::from_str(text).map_err(|e| Stop::Error(format!("The event is not JSON: {e}")))?;
        let kind = event["type"].as_str().unwrap_or_default();
        match kind {
            "input_audio_buffer.append" => {
                let audio =
                    event["audio"].as_str().ok_or_else(|| Stop::Error("append needs `audio` (base64 PCM).".into()))?;
                if audio.len() / 4 * 3 > MAX_APPEND_BYTES {
                    return Err(Stop::Error(format!("An append may carry at most {MAX_APPEND_BYTES} bytes of audio.")));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(audio)
                    .map_err(|_| Stop::Error("`audio` is not base64.".into()))?;
                let before = self.pcm.received_secs();
                let samples = self.pcm.push(&bytes);
                let added = self.pcm.received_secs() - before;
                self.uncharged += added;
                self.received += added;
                self.recognizer.push(&samples);
                let max = f64::from(self.state.settings.speech.stream_max_secs);
                if self.received > max {
                    return Err(Stop::Fatal(format!("A session may send at most {max} s of audio.")));
                }
                if self.uncharged >= CHARGE_EVERY_SECS {
                    self.charge().await.map_err(|e| Stop::Fatal(e.message))?;
                }
                Ok(false)
            }
            "input_audio_buffer.commit" => {
                if self.recognizer.buffered_secs() < MIN_COMMIT_SECS && self.item.is_none() {
                    return Err(Stop::Error(format!(
                        "The input audio buffer holds less than {} ms of audio: nothing to commit.",
                        (MIN_COMMIT_SECS * 1000.0) as u32
                    )));
                }
                let rest = std::mem::replace(&mut self.pcm, PcmStream::new(self.format)).finish();
                self.recognizer.push(&rest);
                if self.item.is_none() {
                    self.start_item(socket, self.recognizer.received_secs() - self.recognizer.buffered_secs()).await?;
                }
                Ok(true)
            }
            "input_audio_buffer.clear" => {
                self.recognizer.clear();
                self.pcm = PcmStream::new(self.format);
                self.item = None;
                self.last_partial.clear();
                self.send_or_stop(socket, "input_audio_buffer.cleared", json!({})).await?;
                Ok(false)
            }
            "session.update" | "transcription_session.update" => {
                self.beta |= kind == "transcription_session.update";
                self.update(&event["session"])?;
                let updated = if self.beta { "transcription_session.updated" } else { "session.updated" };
                self.send_or_stop(socket, updated, json!({ "session": self.describe() })).await?;
                Ok(false)
            }
            other => Err(Stop::Error(format!("The event type {other:?} is not supported in a transcription session."))),
        }
    }

    /// Reads a session update in the GA or the beta shape.
    fn update(&mut self, session: &Value) -> Result<(), Stop> {
        let input = &session["audio"]["input"];
        let (format, transcription, turn_detection) = if input.is_object() {
            (&input["format"], &input["transcription"], input.get("turn_detection"))
        } else {
            (&session["input_audio_format"], &session["input_audio_transcription"], session.get("turn_detection"))
        };
        let format = match format {
            Value::Null => self.format,
            Value::String(name) if name == "pcm16" => PcmFormat { sample_rate: OPENAI_RATE, channels: 1 },
            Value::Object(f) if f.get("type").and_then(Value::as_str) == Some("audio/pcm") => {
                let rate = f.get("rate").and_then(Value::as_u64).unwrap_or(u64::from(OPENAI_RATE));
                // OpenAI takes 24 kHz only; 16 kHz is accepted too, as speaches does.
                if rate != u64::from(OPENAI_RATE) && rate != 16_000 {
                    return Err(Stop::Error(format!("audio/pcm must be 24000 Hz (or 16000 Hz), not {rate}.")));
                }
                PcmFormat { sample_rate: rate as u32, channels: 1 }
            }
            other => {
                return Err(Stop::Error(format!(
                    "The audio format {other} is not supported: use audio/pcm at 24000 Hz."
                )));
            }
        };
        if let Some(model) = transcription["model"].as_str() {
            self.speech.resolve_model(Some(model_name(model))).map_err(|e| Stop::Error(e.message))?;
            self.asked_model = model.to_string();
        }
        if let Some(language) = transcription.get("language") {
            self.language = match language.as_str().filter(|l| !l.is_empty()) {
                Some(l) => Some(whisper_language(l).map_err(|e| Stop::Error(e.0.message))?.to_string()),
                None => None,
            };
        }
        self.speech.check_model(self.model, self.language.as_deref()).map_err(|e| Stop::Error(e.message))?;
        if let Some(prompt) = transcription["prompt"].as_str() {
            self.prompt = prompt.chars().take(2_000).collect();
        }
        match turn_detection {
            None => {}
            Some(Value::Null) => self.vad_silence_ms = None,
            Some(detection) => {
                let kind = detection["type"].as_str().unwrap_or("server_vad");
                if kind != "server_vad" {
                    return Err(Stop::Error(format!(
                        "Turn detection {kind:?} is not supported: use server_vad or null."
                    )));
                }
                let silence = detection["silence_duration_ms"].as_u64().unwrap_or(500).clamp(100, 5_000);
                self.vad_silence_ms = Some(silence as u32);
            }
        }
        if format != self.format {
            if self.recognizer.buffered_secs() > 0.0 {
                return Err(Stop::Error("The audio format can only change while the buffer is empty.".into()));
            }
            self.format = format;
            self.pcm = PcmStream::new(format);
        }
        // The next steps use the new settings; audio already held stays.
        let fresh = self.new_recognizer();
        self.recognizer.set_settings(fresh.settings().clone(), fresh.partial_every_secs());
        Ok(())
    }

    fn describe(&self) -> Value {
        let turn_detection = self.vad_silence_ms.map(
            |ms| json!({ "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 200, "silence_duration_ms": ms }),
        );
        let transcription = json!({ "model": self.asked_model, "language": self.language, "prompt": self.prompt });
        if self.beta {
            return json!({
                "id": self.id, "object": "realtime.transcription_session",
                "input_audio_format": "pcm16",
                "input_audio_transcription": transcription,
                "turn_detection": turn_detection,
                "input_audio_noise_reduction": null,
                "include": null,
            });
        }
        json!({
            "id": self.id, "object": "realtime.transcription_session", "type": "transcription",
            "audio": { "input": {
                "format": { "type": "audio/pcm", "rate": self.format.sample_rate },
                "transcription": transcription,
                "turn_detection": turn_detection,
                "noise_reduction": null,
            }},
            "include": null,
        })
    }

    async fn on_events(&mut self, socket: &mut Socket, events: Vec<LiveEvent>) -> bool {
        let automatic = self.vad_silence_ms.is_some();
        for event in events {
            let sent = match event {
                LiveEvent::SpeechStarted { at } => self.start_item(socket, at).await.is_ok(),
                LiveEvent::Partial { text, .. } => self.delta(socket, &text).await,
                // A phrase's text waits for its end (the VAD's, which follows): with server VAD
                // that ends the item; a committed turn is one item, however many phrases it holds.
                LiveEvent::Phrase { start, transcript, .. } => {
                    if self.item.is_none() && self.start_item(socket, start).await.is_err() {
                        return false;
                    }
                    if let Some(item) = self.item.as_mut() {
                        if !item.heard.is_empty() {
                            item.heard.push(' ');
                        }
                        item.heard.push_str(transcript.text().trim());
                    }
                    true
                }
                // Speech Whisper heard nothing in ends its item too, with an empty transcript.
                LiveEvent::SpeechEnded { at } if automatic && self.item.is_some() => {
                    let heard = self.item.as_ref().map(|i| i.heard.clone()).unwrap_or_default();
                    self.end_item(socket, Some((at, heard))).await
                }
                LiveEvent::SpeechEnded { .. } => true,
            };
            if !sent {
                return false;
            }
        }
        true
    }

    async fn start_item(&mut self, socket: &mut Socket, at: f64) -> Result<(), Stop> {
        if self.item.is_some() {
            return Ok(());
        }
        self.items += 1;
        let id = format!("item_{:06}", self.items);
        self.item = Some(Item { id: id.clone(), start: at, sent: String::new(), heard: String::new() });
        self.last_partial.clear();
        if self.vad_silence_ms.is_some() {
            let body = json!({ "audio_start_ms": ms(at), "item_id": id });
            self.send_or_stop(socket, "input_audio_buffer.speech_started", body).await?;
        }
        Ok(())
    }

    /// Sends the words two partial results agree on that were not sent yet (Whisper revises its
    /// last words as audio comes; deltas cannot be taken back).
    async fn delta(&mut self, socket: &mut Socket, partial: &str) -> bool {
        let stable = agreed_prefix(&self.last_partial, partial);
        self.last_partial = partial.to_string();
        let Some(item) = self.item.as_mut() else { return true };
        let Some(rest) = stable.strip_prefix(item.sent.as_str()).filter(|r| !r.is_empty()) else { return true };
        let rest = rest.to_string();
        item.sent.push_str(&rest);
        let body = json!({ "item_id": item.id, "content_index": 0, "delta": rest });
        self.send(socket, "conversation.item.input_audio_transcription.delta", body).await
    }

    /// Ends the current item (`end`: when, and its text; `None` for a committed turn, whose text
    /// was gathered phrase by phrase): speech_stopped (server VAD), committed, the last delta and
    /// completed.
    async fn end_item(&mut self, socket: &mut Socket, end: Option<(f64, String)>) -> bool {
        if self.item.is_none() {
            match &end {
                Some((at, text)) if !text.trim().is_empty() => {
                    if self.start_item(socket, *at).await.is_err() {
                        return false;
                    }
                }
                _ => return true,
            }
        }
        let Some(item) = self.item.take() else { return true };
        let (at, transcript) = end.unwrap_or_else(|| (self.recognizer.received_secs(), item.heard.clone()));
        let transcript = transcript.trim().to_string();
        let id = item.id;
        if self.vad_silence_ms.is_some()
            && !self
                .send(socket, "input_audio_buffer.speech_stopped", json!({ "audio_end_ms": ms(at), "item_id": id }))
                .await
        {
            return false;
        }
        let committed = json!({ "item_id": id, "previous_item_id": self.previous_item });
        if !self.send(socket, "input_audio_buffer.committed", committed).await {
            return false;
        }
        if let Some(rest) = transcript.strip_prefix(item.sent.as_str()).filter(|r| !r.is_empty()) {
            let body = json!({ "item_id": id, "content_index": 0, "delta": rest });
            if !self.send(socket, "conversation.item.input_audio_transcription.delta", body).await {
                return false;
            }
        }
        let seconds = (at - item.start).max(0.0);
        let completed = json!({
            "item_id": id, "content_index": 0, "transcript": transcript,
            "usage": { "type": "duration", "seconds": (seconds * 100.0).round() / 100.0 },
        });
        self.previous_item = Some(id);
        self.last_partial.clear();
        self.send(socket, "conversation.item.input_audio_transcription.completed", completed).await
    }

    async fn send(&mut self, socket: &mut Socket, kind: &str, mut body: Value) -> bool {
        self.events += 1;
        body["type"] = json!(kind);
        body["event_id"] = json!(format!("event_{:08}", self.events));
        socket.text(body.to_string()).await
    }

    async fn send_or_stop(&mut self, socket: &mut Socket, kind: &str, body: Value) -> Result<(), Stop> {
        if self.send(socket, kind, body).await { Ok(()) } else { Err(Stop::Gone) }
    }

    /// An `error` event; the session goes on (false when the socket is gone).
    async fn error(&mut self, socket: &mut Socket, kind: &str, message: &str) -> bool {
        let body = json!({ "error": { "type": kind, "code": null, "message": message, "param": null } });
        self.send(socket, "error", body).await
    }

    async fn charge(&mut self) -> Result<(), ServiceError> {
        if self.uncharged <= 0.0 {
            return Ok(());
        }
        let seconds = std::mem::take(&mut self.uncharged);
        self.state.metrics.audio_seconds.with_label_values(&["recognized"]).inc_by(seconds);
        self.state.usage.charge_audio(&self.key, SERVICE, seconds).await
    }
}

/// An utterance: its id, where it started (s), the text sent as deltas, and (turns committed by
/// the client) the text of its phrases so far.
struct Item {
    id: String,
    start: f64,
    sent: String,
    heard: String,
}

/// Why an event could not be handled.
enum Stop {
    /// The socket is gone.
    Gone,
    /// A bad event: reported, and the session goes on.
    Error(String),
    /// Reported, and the session ends (audio quota or session length used up).
    Fatal(String),
}

fn ms(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1000.0).round() as u64
}

/// The words at the start of both texts (with the spacing of `current`).
fn agreed_prefix(previous: &str, current: &str) -> String {
    let mut out = String::new();
    for (a, b) in previous.split_whitespace().zip(current.split_whitespace()) {
        if a != b {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_carry_only_words_two_partials_agree_on() {
        assert_eq!(agreed_prefix("", "Good morning"), "");
        assert_eq!(agreed_prefix("Good morning", "Good morning every"), "Good morning");
        assert_eq!(agreed_prefix("Good morning every", "Good morning, everyone."), "Good");
        assert_eq!(model_name("gpt-4o-transcribe"), "whisper-1");
        assert_eq!(model_name("whisper-tiny-en"), "whisper-tiny-en");
    }
}
