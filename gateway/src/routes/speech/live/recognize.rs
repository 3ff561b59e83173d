//! Speech recognition and speech translation for the Azure Speech SDK over WebSocket
//! (`SpeechRecognizer`, `TranslationRecognizer`), as docs/design/speech-sdk-websocket.md
//! describes the protocol.
//!
//! A connection carries turns. The client sends `speech.config` once, then per turn a
//! `speech.context` (with a new `X-RequestId`) and audio frames (a WAV header first, PCM after,
//! an empty frame at the end). The server answers `turn.start`, `speech.startDetected`,
//! `speech.hypothesis` (or `translation.hypothesis`) while audio streams, one `speech.phrase`
//! (or `translation.phrase`) per phrase, `speech.endDetected` and `turn.end`. Interactive turns
//! (`recognize_once`) end after their first phrase; conversation turns go on to the end of the
//! audio, which is acknowledged with an `EndOfDictation` phrase so the SDK does not replay it.
//! Offsets are 100-ns ticks from the start of the turn's audio.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::ServiceError;
use cogway_speech::SpeechService;
use cogway_speech::audio::pcm_stream::{PcmFormat, PcmStream};
use cogway_speech::live::{LiveEvent, LiveRecognizer, PendingStep};
use cogway_speech::stt::stream::{StepResult, StreamSettings};
use cogway_speech::stt::text_forms::Profanity;
use cogway_translation::{Plan, TranslationService, languages, pieces};
use serde_json::{Value, json};

use super::{Incoming, Opened, Socket, UpgradeResponses, next_message, open, usp};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use crate::routes::query::{query_pairs, query_param, query_values};
use crate::routes::speech::recognition::{azure_result, ticks};
use crate::routes::speech::{SERVICE, whisper_language};
use crate::service::Service;
use cogway_core::Code;

/// Audio charged to the key's quota at a time while a turn streams.
const CHARGE_EVERY_SECS: f64 = 10.0;
/// A close code the SDK reports without retrying (with our reason).
const CLOSE_REFUSED: u16 = 4000;

type StepFuture = Pin<Box<dyn Future<Output = Result<StepResult, ServiceError>>>>;

/// Interactive turns end at their first phrase; conversation turns at the end of the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Interactive,
    Conversation,
}

/// What the URL asks for.
#[derive(Debug, Clone)]
struct Endpoint {
    mode: Option<Mode>,
    language: Option<String>,
    detailed: bool,
    profanity: Profanity,
    translation: bool,
    /// Target languages from the query (the SDK sends them in `speech.context`).
    targets: Vec<String>,
}

/// `GET /speech/recognition/{interactive|conversation|dictation}/cognitiveservices/v1` (WebSocket).
#[utoipa::path(get, path = "/speech/recognition/{mode}/cognitiveservices/v1", tag = "Speech (live)",
    description = "WebSocket (Speech SDK protocol): SpeechRecognizer, recognize once (interactive) or continuous (conversation, dictation), with partial results.",
    params(("mode" = String, Path, description = "interactive, conversation or dictation"),
           ("language" = Option<String>, Query, description = "locale of the speech, e.g. en-US"),
           ("format" = Option<String>, Query, description = "simple (default) or detailed"),
           ("profanity" = Option<String>, Query, description = "masked (default), removed or raw")),
    responses(UpgradeResponses),
    security(("key" = []), ("bearer" = [])))]
pub async fn recognition(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    mode: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mode = match mode.as_str() {
        "interactive" => Mode::Interactive,
        "conversation" | "dictation" => Mode::Conversation,
        other => {
            return Err(ApiError::new(
                Code::NotFound,
                format!("No recognition mode {other:?}: use interactive, conversation or dictation."),
            ));
        }
    };
    let endpoint = endpoint(&req, Some(mode), false)?;
    start(caller, state, req, payload, endpoint).await
}

/// `GET /speech/universal/v2` and `/stt/speech/universal/v2` (WebSocket): the SDK's path for
/// `TranslationRecognizer` and custom endpoints; the mode and languages come in `speech.context`.
#[utoipa::path(get, path = "/stt/speech/universal/v2", tag = "Speech (live)",
    description = "WebSocket (Speech SDK protocol): TranslationRecognizer and recognizers without a mode; also at /speech/universal/v2.",
    responses(UpgradeResponses),
    security(("key" = []), ("bearer" = [])))]
pub async fn universal(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let endpoint = endpoint(&req, None, false)?;
    start(caller, state, req, payload, endpoint).await
}

/// `GET /speech/translation/cognitiveservices/v1?from=..&to=..` (WebSocket).
#[utoipa::path(get, path = "/speech/translation/cognitiveservices/v1", tag = "Speech (live)",
    description = "WebSocket (Speech SDK protocol): speech translation with partial and final translations and synthesized translations. \
                   A POST to the same path is the one-shot speech translation.",
    params(("from" = Option<String>, Query, description = "spoken language, e.g. en-US"),
           ("to" = Option<Vec<String>>, Query, description = "target languages, when speech.context names none")),
    responses(UpgradeResponses),
    security(("key" = []), ("bearer" = [])))]
pub async fn translation(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let endpoint = endpoint(&req, None, true)?;
    start(caller, state, req, payload, endpoint).await
}

fn endpoint(req: &HttpRequest, mode: Option<Mode>, translation: bool) -> ApiResult<Endpoint> {
    let query = query_pairs(req);
    let language = query_param(&query, "language").or_else(|| query_param(&query, "from"));
    if let Some(language) = language {
        whisper_language(language)?;
    }
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
    Ok(Endpoint {
        mode,
        language: language.map(str::to_string),
        detailed,
        profanity,
        translation,
        targets: query_values(&query, "to"),
    })
}

async fn start(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    endpoint: Endpoint,
) -> ApiResult<HttpResponse> {
    if (endpoint.translation || !endpoint.targets.is_empty()) && !caller.key.allows(Service::Translation) {
        return Err(ApiError::new(Code::Forbidden, "This key may not use the translation service."));
    }
    let (response, opened) = open(caller, state, &req, payload, &["USP"]).await?;
    actix_web::rt::spawn(async move {
        let Opened { key, state, slot, socket, messages } = opened;
        let session = match Session::new(state, key, endpoint) {
            Ok(session) => session,
            Err(e) => {
                socket.close(CLOSE_REFUSED, &e.message).await;
                return;
            }
        };
        session.run(socket, messages).await;
        drop(slot);
    });
    Ok(response)
}

/// The translation side of a turn.
struct TranslationTurn {
    service: Arc<TranslationService>,
    /// (Translator code, its plan from the spoken language).
    targets: Vec<(String, Plan)>,
    /// A target to speak, and the voice.
    speak: Option<(String, String)>,
}

struct Turn {
    id: String,
    mode: Mode,
    detailed: bool,
    english: bool,
    translation: Option<TranslationTurn>,
    started: bool,
    /// The audio's format is known once its first frame came.
    pcm: Option<PcmStream>,
    recognizer: LiveRecognizer,
    audio_ended: bool,
    /// An interactive turn has given its phrase; the rest of its audio is ignored.
    answered: bool,
    phrases: usize,
    start_sent: bool,
}

struct Session {
    state: web::Data<AppState>,
    key: KeyInfo,
    speech: Arc<SpeechService>,
    model: &'static str,
    endpoint: Endpoint,
    /// The audio format `speech.config` declares (for audio without a WAV header).
    declared: Option<PcmFormat>,
    turn: Option<Turn>,
    /// Audio received and not charged yet, and in all, in seconds.
    uncharged: f64,
    received: f64,
}

/// Why a session ends early: a close code and a reason the SDK shows.
struct Ending(u16, String);

impl From<ServiceError> for Ending {
    fn from(e: ServiceError) -> Self {
        Ending(CLOSE_REFUSED, e.message)
    }
}

impl Session {
    fn new(state: web::Data<AppState>, key: KeyInfo, endpoint: Endpoint) -> Result<Self, ServiceError> {
        let speech = crate::engines::speech(&state).map_err(|e| e.0)?;
        let model = speech.resolve_model(None)?;
        Ok(Self { state, key, speech, model, endpoint, declared: None, turn: None, uncharged: 0.0, received: 0.0 })
    }

    async fn run(mut self, mut socket: Socket, mut messages: actix_ws::AggregatedMessageStream) {
        let idle = std::time::Duration::from_secs(u64::from(self.state.settings.speech.stream_idle_secs));
        let max_buffer = f64::from(self.state.settings.speech.stream_max_buffer_secs);
        let mut deadline = tokio::time::Instant::now() + idle;
        let mut step: Option<(PendingStep, StepFuture)> = None;
        let ending = loop {
            // Past the buffer limit the socket is not read until recognition catches up.
            let reading = self.turn.as_ref().is_none_or(|t| t.recognizer.buffered_secs() < max_buffer);
            tokio::select! {
                result = async { step.as_mut().map(|(_, f)| f).expect("guarded").await }, if step.is_some() => {
                    let Some((pending, _)) = step.take() else { continue };
                    match result {
                        Ok(result) => {
                            if let Err(e) = self.on_step(&mut socket, &pending, result).await {
                                break Some(e);
                            }
                        }
                        Err(e) => break Some(e.into()),
                    }
                }
                incoming = next_message(&mut messages, &mut socket, deadline), if reading => {
                    deadline = tokio::time::Instant::now() + idle;
                    let handled = match incoming {
                        Incoming::Gone => break None,
                        Incoming::Idle => break Some(Ending(1000, "No message for too long.".into())),
                        Incoming::Text(text) => self.on_text(&text, &mut step).await,
                        Incoming::Binary(bytes) => self.on_binary(&mut socket, &bytes).await,
                    };
                    if let Err(e) = handled {
                        break Some(e);
                    }
                }
            }
            if step.is_none()
                && let Err(e) = self.advance(&mut socket, &mut step).await
            {
                break Some(e);
            }
        };
        self.charge_all().await.ok();
        if let Some(Ending(code, reason)) = ending {
            socket.close(code, &reason).await;
        }
    }

    /// Starts the next step, or ends a turn whose audio is all recognized.
    async fn advance(
        &mut self,
        socket: &mut Socket,
        step: &mut Option<(PendingStep, StepFuture)>,
    ) -> Result<(), Ending> {
        let Some(turn) = self.turn.as_mut() else { return Ok(()) };
        if !turn.started || turn.answered {
            return Ok(());
        }
        if let Some(pending) = turn.recognizer.next_step(turn.audio_ended) {
            let (speech, model, request) = (self.speech.clone(), self.model, pending.request.clone());
            *step = Some((pending, Box::pin(async move { speech.stream_step(model, request).await })));
        } else if turn.audio_ended {
            self.end_turn(socket).await?;
        }
        Ok(())
    }

    async fn on_text(&mut self, text: &str, step: &mut Option<(PendingStep, StepFuture)>) -> Result<(), Ending> {
        let message = usp::parse_text(text).map_err(|e| Ending(CLOSE_REFUSED, format!("Bad message: {e}")))?;
        match message.path().as_str() {
            "speech.config" => {
                let config: Value = serde_json::from_slice(message.body).unwrap_or(Value::Null);
                self.declared = declared_format(&config);
            }
            "speech.context" => {
                let id = message
                    .request_id()
                    .ok_or_else(|| Ending(CLOSE_REFUSED, "speech.context needs an X-RequestId header.".into()))?
                    .to_string();
                let context: Value = serde_json::from_slice(message.body)
                    .map_err(|e| Ending(CLOSE_REFUSED, format!("speech.context is not JSON: {e}")))?;
                // A new turn replaces the last one, and its step.
                *step = None;
                self.charge_all().await?;
                self.turn = Some(self.new_turn(id, &context)?);
            }
            _ => {} // telemetry and anything else
        }
        Ok(())
    }

    fn new_turn(&self, id: String, context: &Value) -> Result<Turn, Ending> {
        let detection = &context["phraseDetection"];
        let mode = self.endpoint.mode.unwrap_or(match detection["mode"].as_str() {
            Some(m) if m.eq_ignore_ascii_case("interactive") => Mode::Interactive,
            _ => Mode::Conversation,
        });
        let language = detection["language"].as_str().map(str::to_string).or_else(|| self.endpoint.language.clone());
        let whisper = match language.as_deref() {
            Some(l) => Some(whisper_language(l).map_err(|e| Ending(CLOSE_REFUSED, e.0.message))?.to_string()),
            None => None,
        };
        self.speech.check_model(self.model, whisper.as_deref())?;
        let detailed = self.endpoint.detailed
            || context["phraseOutput"]["format"].as_str().is_some_and(|f| f.eq_ignore_ascii_case("detailed"));
        let translation = self.translation_turn(context, whisper.as_deref())?;
        let s = &self.state.settings.speech;
        let settings = StreamSettings {
            language: whisper.clone(),
            segment_silence_secs: s.segment_silence_ms as f32 / 1000.0,
            max_phrase_secs: s.max_phrase_secs as f32,
            ..StreamSettings::default()
        };
        Ok(Turn {
            id,
            mode,
            detailed,
            english: whisper.as_deref().is_none_or(|l| l == "en"),
            translation,
            started: false,
            pcm: None,
            recognizer: LiveRecognizer::new(settings, s.partial_every_ms as f32 / 1000.0),
            audio_ended: false,
            answered: false,
            phrases: 0,
            start_sent: false,
        })
    }

    /// The targets (from `speech.context`, else the query) planned from the spoken language.
    fn translation_turn(&self, context: &Value, whisper: Option<&str>) -> Result<Option<TranslationTurn>, Ending> {
        let mut targets: Vec<String> = context["translation"]["targetLanguages"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        if targets.is_empty() {
            targets = self.endpoint.targets.clone();
        }
        if targets.is_empty() {
            return if self.endpoint.translation {
                Err(Ending(CLOSE_REFUSED, "Name at least one target language.".into()))
            } else {
                Ok(None)
            };
        }
        if !self.key.allows(Service::Translation) {
            return Err(Ending(CLOSE_REFUSED, "This key may not use the translation service.".into()));
        }
        let service = crate::engines::translation(&self.state).map_err(|e| Ending(CLOSE_REFUSED, e.0.message))?;
        let source =
            whisper.ok_or_else(|| Ending(CLOSE_REFUSED, "Speech translation needs the spoken language.".into()))?;
        let source = languages::canonical(source).unwrap_or(source).to_string();
        let mut planned = Vec::with_capacity(targets.len());
        for target in &targets {
            let code = languages::canonical(target)
                .ok_or_else(|| Ending(CLOSE_REFUSED, format!("The target language {target:?} is not valid.")))?;
            let plan = service
                .plan(std::slice::from_ref(&source), code, None)
                .map_err(|e| Ending(CLOSE_REFUSED, e.to_string()))?;
            // The SDK reads translations by the code it asked for.
            planned.push((target.clone(), plan));
        }
        let speak = context["synthesis"]["defaultVoices"].as_object().and_then(|voices| {
            planned.iter().find_map(|(target, _)| {
                let asked = voices.get(target).and_then(Value::as_str)?;
                let found = cogway_speech::tts::voices::find(self.speech.voices(), asked)
                    .or_else(|| cogway_speech::tts::voices::for_locale(self.speech.voices(), target))?;
                Some((target.clone(), found.short_name.clone()))
            })
        });
        Ok(Some(TranslationTurn { service, targets: planned, speak }))
    }

    async fn on_binary(&mut self, socket: &mut Socket, bytes: &[u8]) -> Result<(), Ending> {
        let message = usp::parse_binary(bytes).map_err(|e| Ending(CLOSE_REFUSED, format!("Bad message: {e}")))?;
        if message.path() != "audio" {
            return Ok(());
        }
        let declared = self.declared;
        let Some(turn) = self.turn.as_mut().filter(|t| message.request_id() == Some(t.id.as_str())) else {
            return Ok(()); // audio of a turn that was replaced
        };
        if turn.answered || turn.audio_ended {
            return Ok(());
        }
        if !turn.started {
            turn.started = true;
            let body = json!({ "context": { "serviceTag": turn.id } });
            if !socket.text(usp::text("turn.start", &turn.id, &body)).await {
                return Err(Ending(1000, String::new()));
            }
        }
        if message.body.is_empty() {
            turn.audio_ended = true;
            if let Some(pcm) = turn.pcm.take() {
                turn.recognizer.push(&pcm.finish());
            }
            return Ok(());
        }
        let samples = match turn.pcm.as_mut() {
            Some(pcm) => {
                let before = pcm.received_secs();
                let samples = pcm.push(message.body);
                self.uncharged += pcm.received_secs() - before;
                self.received += pcm.received_secs() - before;
                samples
            }
            None => {
                let (format, start) = if message.body.starts_with(b"RIFF") {
                    PcmFormat::from_wav_header(message.body).map_err(|e| Ending(CLOSE_REFUSED, e))?
                } else {
                    (declared.unwrap_or(PcmFormat::RECOGNITION), 0)
                };
                let mut pcm = PcmStream::new(format);
                let samples = pcm.push(&message.body[start..]);
                self.uncharged += pcm.received_secs();
                self.received += pcm.received_secs();
                turn.pcm = Some(pcm);
                samples
            }
        };
        turn.recognizer.push(&samples);
        let max = f64::from(self.state.settings.speech.stream_max_secs);
        if self.received > max {
            return Err(Ending(CLOSE_REFUSED, format!("A connection may send at most {max} s of audio.")));
        }
        if self.uncharged >= CHARGE_EVERY_SECS {
            self.charge_all().await?;
        }
        Ok(())
    }

    async fn charge_all(&mut self) -> Result<(), Ending> {
        if self.uncharged <= 0.0 {
            return Ok(());
        }
        let seconds = std::mem::take(&mut self.uncharged);
        self.state.metrics.audio_seconds.with_label_values(&["recognized"]).inc_by(seconds);
        self.state.usage.charge_audio(&self.key, SERVICE, seconds).await.map_err(Ending::from)
    }

    async fn on_step(&mut self, socket: &mut Socket, pending: &PendingStep, result: StepResult) -> Result<(), Ending> {
        let Some(turn) = self.turn.as_mut() else { return Ok(()) };
        let events = turn.recognizer.apply(pending, result);
        for event in events {
            let Some(turn) = self.turn.as_mut() else { break };
            if turn.answered {
                break;
            }
            let (path, body) = match event {
                LiveEvent::SpeechStarted { at } => {
                    if turn.start_sent {
                        continue;
                    }
                    turn.start_sent = true;
                    ("speech.startDetected", json!({ "Offset": ticks(at) }))
                }
                LiveEvent::SpeechEnded { .. } => continue,
                LiveEvent::Partial { start, end, text } => {
                    let (offset, duration) = (ticks(start), ticks(end - start));
                    match &turn.translation {
                        None => ("speech.hypothesis", json!({ "Text": text, "Offset": offset, "Duration": duration })),
                        Some(translation) => {
                            let translations = translate(translation, &text).await?;
                            let mut body = json!({ "Text": text, "Offset": offset, "Duration": duration });
                            body["Translation"] = translations_json(&translations);
                            ("translation.hypothesis", body)
                        }
                    }
                }
                LiveEvent::Phrase { transcript, .. } => {
                    turn.phrases += 1;
                    let body = azure_result(&transcript, turn.detailed, self.endpoint.profanity, turn.english);
                    if turn.translation.is_some() {
                        self.send_translation(socket, body).await?;
                    } else if !socket.text(usp::text("speech.phrase", &turn.id, &body)).await {
                        return Err(Ending(1000, String::new()));
                    }
                    if self.turn.as_ref().is_some_and(|t| t.mode == Mode::Interactive) {
                        return self.end_turn(socket).await;
                    }
                    continue;
                }
            };
            if !socket.text(usp::text(path, &turn.id, &body)).await {
                return Err(Ending(1000, String::new()));
            }
        }
        Ok(())
    }

    /// A recognized phrase, its translations, and speech of one of them when the SDK named a voice.
    async fn send_translation(&mut self, socket: &mut Socket, recognized: Value) -> Result<(), Ending> {
        let Some(turn) = self.turn.as_ref() else { return Ok(()) };
        let Some(translation) = turn.translation.as_ref() else { return Ok(()) };
        let text = recognized["DisplayText"].as_str().unwrap_or_default().to_string();
        let mut body = recognized;
        body["Text"] = json!(text);
        self.state
            .usage
            .charge(&self.key, Service::Translation, (text.chars().count() * translation.targets.len()) as u64)
            .await?;
        let translations = translate(translation, &text).await?;
        body["Translation"] = translations_json(&translations);
        if !socket.text(usp::text("translation.phrase", &turn.id, &body)).await {
            return Err(Ending(1000, String::new()));
        }
        if let Some((language, voice)) = &translation.speak {
            let spoken = translations.iter().find(|(l, _)| l == language).map(|(_, t)| t.clone()).unwrap_or_default();
            if !spoken.trim().is_empty() {
                let audio =
                    super::synthesize::speak_plain(&self.state, &self.key, &self.speech, &spoken, voice).await?;
                for chunk in audio.chunks(32 * 1024) {
                    if !socket.binary(usp::binary("translation.synthesis", &turn.id, Some("audio/x-wav"), chunk)).await
                    {
                        return Err(Ending(1000, String::new()));
                    }
                }
                // An empty frame ends the synthesized audio of this phrase.
                if !socket.binary(usp::binary("translation.synthesis", &turn.id, None, &[])).await {
                    return Err(Ending(1000, String::new()));
                }
            }
        }
        Ok(())
    }

    /// Ends the turn: acknowledges all its audio (so the SDK replays none), then `turn.end`.
    async fn end_turn(&mut self, socket: &mut Socket) -> Result<(), Ending> {
        let Some(turn) = self.turn.as_mut() else { return Ok(()) };
        if turn.answered {
            return Ok(());
        }
        turn.answered = true;
        let end = ticks(turn.recognizer.received_secs());
        let closing = if turn.phrases == 0 {
            json!({ "RecognitionStatus": "NoMatch", "Offset": 0, "Duration": end })
        } else {
            json!({ "RecognitionStatus": "EndOfDictation", "Offset": end, "Duration": 0 })
        };
        let id = turn.id.clone();
        let ok = socket.text(usp::text("speech.phrase", &id, &closing)).await
            && socket.text(usp::text("speech.endDetected", &id, &json!({ "Offset": end }))).await
            && socket.text(usp::text("turn.end", &id, &json!({}))).await;
        self.charge_all().await?;
        if ok { Ok(()) } else { Err(Ending(1000, String::new())) }
    }
}

/// Translations of `text` into every target of the turn: (language as asked, text).
async fn translate(translation: &TranslationTurn, text: &str) -> Result<Vec<(String, String)>, Ending> {
    let segment = pieces::plain(text);
    let mut out = Vec::with_capacity(translation.targets.len());
    for (target, plan) in &translation.targets {
        let done = translation.service.run_plan(plan, std::slice::from_ref(&segment)).await?;
        out.push((target.clone(), done.segments.first().map(|s| pieces::render(s)).unwrap_or_default()));
    }
    Ok(out)
}

fn translations_json(translations: &[(String, String)]) -> Value {
    json!({
        "TranslationStatus": "Success",
        "Translations": translations.iter().map(|(l, t)| json!({ "Language": l, "Text": t })).collect::<Vec<_>>(),
    })
}

/// The PCM format `speech.config` declares (`context.audio.source`), when it is complete.
fn declared_format(config: &Value) -> Option<PcmFormat> {
    let source = &config["context"]["audio"]["source"];
    let number = |v: &Value| v.as_str().and_then(|s| s.parse::<u32>().ok()).or_else(|| v.as_u64().map(|n| n as u32));
    let rate = number(&source["samplerate"])?;
    let channels = u16::try_from(number(&source["channelcount"])?).ok()?;
    (number(&source["bitspersample"]) == Some(16))
        .then_some(PcmFormat { sample_rate: rate, channels })
        .and_then(|f| f.checked().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_format_is_read_from_speech_config() {
        let config =
            json!({"context":{"audio":{"source":{"samplerate":"22050","bitspersample":"16","channelcount":"1"}}}});
        assert_eq!(declared_format(&config), Some(PcmFormat { sample_rate: 22_050, channels: 1 }));
        let eight_bit =
            json!({"context":{"audio":{"source":{"samplerate":"16000","bitspersample":"8","channelcount":"1"}}}});
        assert_eq!(declared_format(&eight_bit), None);
        assert_eq!(declared_format(&json!({})), None);
    }
}
