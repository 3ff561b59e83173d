//! The loaded services, as the routes and job runners reach them: 404 while a service is switched
//! off (`services.<name> = false`), 503 with `Retry-After` while its models load. One place, so
//! that a route family borrowing another service (Translator detecting with the Language
//! service's detector) does not import that service's routes.

use std::sync::Arc;

use cogway_core::{Code, ServiceError};
use cogway_language::LanguageService;
use cogway_speech::SpeechService;
use cogway_translation::TranslationService;
use cogway_vision::VisionService;

use crate::app::AppState;
use crate::errors::{ApiError, ApiResult};
use crate::service::Service;

fn disabled(service: Service) -> ApiError {
    let name = match service {
        Service::Decision => "Decision",
        Service::Language => "Language",
        Service::Speech => "Speech",
        Service::Translation => "Translation",
        Service::Vision => "Vision",
    };
    ApiError::new(Code::NotFound, format!("The {name} service is disabled on this server."))
}

fn loading(what: &str) -> ApiError {
    ApiError(ServiceError::new(Code::ModelNotReady, format!("The {what} are still loading.")).with_retry_after(5))
}

/// 404 when `service` is switched off (routes that need no model check only this).
pub fn enabled(state: &AppState, service: Service) -> ApiResult<()> {
    let on = match service {
        Service::Decision => state.settings.services.decision,
        Service::Language => state.settings.services.language,
        Service::Speech => state.settings.services.speech,
        Service::Translation => state.settings.services.translation,
        Service::Vision => state.settings.services.vision,
    };
    if on { Ok(()) } else { Err(disabled(service)) }
}

pub fn language(state: &AppState) -> ApiResult<Arc<LanguageService>> {
    enabled(state, Service::Language)?;
    state.language.get().cloned().ok_or_else(|| loading("Language models"))
}

pub fn speech(state: &AppState) -> ApiResult<Arc<SpeechService>> {
    enabled(state, Service::Speech)?;
    state.speech.get().cloned().ok_or_else(|| loading("Speech models"))
}

pub fn translation(state: &AppState) -> ApiResult<Arc<TranslationService>> {
    enabled(state, Service::Translation)?;
    state.translation.get().cloned().ok_or_else(|| loading("translation engines"))
}

pub fn vision(state: &AppState) -> ApiResult<Arc<VisionService>> {
    enabled(state, Service::Vision)?;
    state.vision.get().cloned().ok_or_else(|| loading("Vision models"))
}

/// The service for a job runner: waits while the models load (jobs claimed at start-up may come
/// before them); any other refusal is returned.
pub async fn wait_for<T>(state: &AppState, get: fn(&AppState) -> ApiResult<T>) -> Result<T, ServiceError> {
    loop {
        match get(state) {
            Ok(service) => return Ok(service),
            Err(ApiError(e)) if e.code == Code::ModelNotReady => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await
            }
            Err(ApiError(e)) => return Err(e),
        }
    }
}
