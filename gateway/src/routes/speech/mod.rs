//! The Speech routes: Azure speech-to-text for short audio, Azure text-to-speech and its voice
//! list, the OpenAI-compatible audio API, batch transcription, custom speech models and lexicons.

pub mod batch;
pub mod custom;
pub mod fast;
pub mod live;
pub mod openai;
pub mod recognition;
pub mod synthesis;
pub mod translation;

use actix_web::{HttpRequest, web};
use cogway_core::{Code, ServiceError};
use cogway_speech::audio::{self, DecodeLimits};

use crate::app::AppState;
use crate::auth::{Caller, ServiceName};
use crate::errors::{ApiError, ApiResult};

pub use crate::engines::speech as speech_service;
pub use crate::routes::query::{query_pairs, query_param};

pub const SERVICE: crate::service::Service = crate::service::Service::Speech;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/speech")
            .app_data(ServiceName(SERVICE))
            .route("/recognition/{mode}/cognitiveservices/v1", web::post().to(recognition::short_audio))
            .route("/recognition/{mode}/cognitiveservices/v1", web::get().to(live::recognize::recognition))
            .route("/universal/v2", web::get().to(live::recognize::universal))
            .route("/translation/cognitiveservices/v1", web::post().to(translation::translate_speech))
            .route("/translation/cognitiveservices/v1", web::get().to(live::recognize::translation))
            .route("/custom/models", web::get().to(custom::list_models))
            .route("/custom/models/{name}", web::put().to(custom::put_model))
            .route("/custom/models/{name}", web::get().to(custom::get_model))
            .route("/custom/models/{name}", web::delete().to(custom::delete_model))
            .route("/lexicons", web::get().to(custom::list_lexicons))
            .route("/lexicons/{name}", web::put().to(custom::put_lexicon))
            .route("/lexicons/{name}", web::get().to(custom::get_lexicon))
            .route("/lexicons/{name}", web::delete().to(custom::delete_lexicon)),
    )
    .service(
        web::scope("/cognitiveservices")
            .app_data(ServiceName(SERVICE))
            .route("/v1", web::post().to(synthesis::synthesize))
            .route("/websocket/v1", web::get().to(live::synthesize::synthesis_socket))
            .route("/voices/list", web::get().to(synthesis::voices)),
    )
    .service(
        web::scope("/stt/speech")
            .app_data(ServiceName(SERVICE))
            .route("/universal/v2", web::get().to(live::recognize::universal)),
    )
    .service(
        web::resource("/tts/cognitiveservices/websocket/v1")
            .app_data(ServiceName(SERVICE))
            .route(web::get().to(live::synthesize::synthesis_socket)),
    )
    .service(
        web::resource("/v1/realtime").app_data(ServiceName(SERVICE)).route(web::get().to(live::realtime::realtime)),
    )
    .service(
        web::scope("/v1/audio")
            .app_data(ServiceName(SERVICE))
            .route("/transcriptions", web::post().to(openai::transcriptions))
            .route("/translations", web::post().to(openai::translations))
            .route("/speech", web::post().to(openai::speech)),
    )
    .service(
        web::resource("/speechtotext/transcriptions:transcribe")
            .app_data(ServiceName(SERVICE))
            .route(web::post().to(fast::transcribe)),
    )
    .service(
        web::resource("/speechtotext/transcriptions:submit")
            .app_data(ServiceName(SERVICE))
            .route(web::post().to(batch::current::submit)),
    )
    .service(
        web::scope("/speechtotext/transcriptions")
            .app_data(ServiceName(SERVICE))
            .route("", web::get().to(batch::current::list))
            .route("/{id}", web::get().to(batch::current::status))
            .route("/{id}", web::delete().to(batch::current::delete))
            .route("/{id}/files", web::get().to(batch::current::files))
            .route("/{id}/files/{file}", web::get().to(batch::current::file)),
    )
    .service(
        web::scope("/speechtotext/{version}/transcriptions")
            .app_data(ServiceName(SERVICE))
            .route("", web::post().to(batch::submit))
            .route("", web::get().to(batch::list))
            .route("/{id}", web::get().to(batch::status))
            .route("/{id}", web::delete().to(batch::delete))
            .route("/{id}/files", web::get().to(batch::files))
            .route("/{id}/files/{file}", web::get().to(batch::file)),
    );
}

/// The query versions of Azure's current speech-to-text API (fast and batch transcription).
pub const CURRENT_API_VERSIONS: [&str; 2] = ["2024-11-15", "2025-10-15"];

/// The `api-version` of a request on the current speech-to-text API: one of
/// [`CURRENT_API_VERSIONS`], else a 400.
pub fn current_api_version(req: &HttpRequest) -> ApiResult<&'static str> {
    let query = query_pairs(req);
    match query_param(&query, "api-version") {
        Some(v) => CURRENT_API_VERSIONS.into_iter().find(|known| *known == v).ok_or_else(|| {
            ApiError::new(
                Code::InvalidApiVersion,
                format!("The api-version {v:?} is not supported; use {}.", CURRENT_API_VERSIONS.join(" or ")),
            )
        }),
        None => Err(ApiError::new(Code::InvalidApiVersion, "The api-version query parameter is required.")),
    }
}

/// The JSON `definition` part of a transcription form (the default when it is absent).
pub fn form_definition<T: serde::de::DeserializeOwned + Default>(form: &crate::routes::form::Form) -> ApiResult<T> {
    match form.get("definition") {
        Some(text) => serde_json::from_str(text).map_err(|e| {
            ApiError::new(Code::InvalidRequestBodyFormat, format!("The definition is not valid JSON: {e}"))
        }),
        None => Ok(T::default()),
    }
}

/// Decodes uploaded audio to 16 kHz mono on the blocking pool, then charges its duration to the
/// key's hourly audio quota.
pub async fn decode_and_charge(
    state: &AppState,
    caller: &Caller,
    bytes: web::Bytes,
    content_type: Option<String>,
    max_seconds: u32,
) -> ApiResult<Vec<f32>> {
    state.usage.ensure_audio_left(&caller.key).await?;
    let pcm = web::block(move || {
        audio::decode_for_recognition(&bytes, content_type.as_deref(), DecodeLimits { max_seconds })
    })
    .await
    .map_err(|e| ApiError(ServiceError::internal(format!("decoding thread failed: {e}"))))?
    .map_err(|e| ApiError(e.into()))?;
    state.usage.charge_audio(&caller.key, SERVICE, pcm.duration_secs()).await?;
    Ok(pcm.samples)
}

/// A Whisper language code for a request's language (`en-US`, `de`), or a 400.
pub fn whisper_language(language: &str) -> ApiResult<&'static str> {
    cogway_speech::stt::languages::whisper_code(language).ok_or_else(|| {
        ApiError::new(
            Code::InvalidParameterValue,
            format!("The language {language:?} is not supported. Use a locale such as en-US or an ISO 639-1 code such as de."),
        )
    })
}
