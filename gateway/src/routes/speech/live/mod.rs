//! Live speech over WebSocket: the Azure Speech SDK's protocol (recognition, translation,
//! synthesis) and OpenAI Realtime transcription sessions. Every session holds a slot
//! ([`slots`]), bounded audio, and closes after `speech.stream_idle_secs` without a message.

pub mod realtime;
pub mod recognize;
pub mod slots;
pub mod synthesize;
pub mod usp;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use cogway_core::Code;

use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use slots::StreamSlot;

/// Largest WebSocket message a live session reads: 100 ms of 48 kHz 8-channel audio is 77 kB;
/// SSML is limited separately by `speech.tts_max_chars`.
const MAX_MESSAGE_BYTES: usize = 512 * 1024;

/// The answers to a live-session upgrade, shared by every WebSocket route's OpenAPI entry.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only read by the OpenAPI derive; never built
pub enum UpgradeResponses {
    #[response(
        status = 101,
        description = "Switching Protocols: a live session (docs/api.md, Live speech over WebSocket)"
    )]
    Switching,
    #[response(status = 400, description = "not a WebSocket upgrade, or a bad query parameter")]
    BadRequest,
    #[response(status = 401, description = "no or wrong key")]
    Unauthorized,
    #[response(status = 403, description = "the key may not use the service")]
    Forbidden,
    #[response(
        status = 429,
        description = "the key holds speech.max_streams_per_key sessions, or has no audio quota left; see Retry-After"
    )]
    TooMany,
    #[response(status = 503, description = "the server holds speech.max_streams sessions; see Retry-After")]
    Busy,
}

/// What a session needs once the HTTP request is answered: the key (not the caller, whose
/// in-flight permit must not be held for the life of a socket), the state and the slot.
pub struct Opened {
    pub key: KeyInfo,
    pub state: web::Data<AppState>,
    pub slot: StreamSlot,
    pub socket: Socket,
    pub messages: AggregatedMessageStream,
}

/// Checks what every live session needs and answers the upgrade: the speech service is loaded,
/// the key has audio quota left, and a session slot is free. Refusals are HTTP answers.
pub async fn open(
    caller: Caller,
    state: web::Data<AppState>,
    req: &HttpRequest,
    payload: web::Payload,
    protocols: &[&str],
) -> ApiResult<(HttpResponse, Opened)> {
    crate::engines::speech(&state)?;
    state.usage.ensure_audio_left(&caller.key).await?;
    let slot = state.streams.acquire(&caller.key.id)?;
    let max = MAX_MESSAGE_BYTES.max(state.settings.speech.tts_max_chars.saturating_mul(8));
    let (response, session, messages) = actix_ws::handle_with_protocols(req, payload, protocols)
        .map_err(|e| ApiError::new(Code::InvalidRequest, format!("This route takes a WebSocket upgrade: {e}")))?;
    let messages = messages.max_frame_size(max).aggregate_continuations().max_continuation_size(max);
    let key = caller.key.clone();
    drop(caller);
    Ok((response, Opened { key, state, slot, socket: Socket { session }, messages }))
}

/// What the next read gave.
pub enum Incoming {
    Text(String),
    Binary(web::Bytes),
    /// The client closed, the connection dropped, or a frame broke the protocol.
    Gone,
    /// Nothing came before the deadline (`speech.stream_idle_secs` after the last message).
    Idle,
}

/// Reads the next data message, answering pings on the way; `Idle` at `deadline`.
pub async fn next_message(
    messages: &mut AggregatedMessageStream,
    socket: &mut Socket,
    deadline: tokio::time::Instant,
) -> Incoming {
    loop {
        let read = tokio::time::timeout_at(deadline, messages.recv()).await;
        match read {
            Err(_) => return Incoming::Idle,
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(AggregatedMessage::Close(_)))) => return Incoming::Gone,
            Ok(Some(Ok(AggregatedMessage::Text(text)))) => return Incoming::Text(text.to_string()),
            Ok(Some(Ok(AggregatedMessage::Binary(bytes)))) => return Incoming::Binary(bytes),
            Ok(Some(Ok(AggregatedMessage::Ping(bytes)))) => {
                if !socket.pong(&bytes).await {
                    return Incoming::Gone;
                }
            }
            Ok(Some(Ok(AggregatedMessage::Pong(_)))) => {}
        }
    }
}

/// The sending half of a session's socket.
pub struct Socket {
    session: Session,
}

impl Socket {
    /// Sends a text message; false when the socket is gone.
    pub async fn text(&mut self, text: String) -> bool {
        self.session.text(text).await.is_ok()
    }

    /// Sends a binary message; false when the socket is gone.
    pub async fn binary(&mut self, bytes: Vec<u8>) -> bool {
        self.session.binary(bytes).await.is_ok()
    }

    async fn pong(&mut self, bytes: &[u8]) -> bool {
        self.session.pong(bytes).await.is_ok()
    }

    /// Closes with a code and a reason (WebSocket limits reasons to 123 bytes).
    pub async fn close(self, code: u16, reason: &str) {
        let mut description = reason.to_string();
        while description.len() > 120 {
            description.pop();
        }
        let code = if code == 1000 { CloseCode::Normal } else { CloseCode::Other(code) };
        let _ = self.session.close(Some(CloseReason { code, description: Some(description) })).await;
    }
}
