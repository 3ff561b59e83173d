//! Health, status and metrics: `/livez`, `/ready`, `/status`, `/metrics`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::authenticate;
use crate::errors::ApiResult;

#[derive(Serialize, ToSchema)]
pub struct ModelReadiness {
    pub name: String,
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceReadiness {
    pub service: String,
    pub ready: bool,
    pub models: Vec<ModelReadiness>,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub services: Vec<ServiceReadiness>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/livez", tag = "System", responses((status = 200, description = "alive")))]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "alive" }))
}

/// Readiness: 200 only when every enabled service has its models loaded; the body says which are not.
#[utoipa::path(get, path = "/ready", tag = "System",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let mut services = Vec::new();
    if state.settings.services.language {
        let models = state.language.get().map(|service| service.models());
        services.push(service_readiness("language", models));
    }
    if state.settings.services.speech {
        let models = state.speech.get().map(|service| service.models());
        services.push(service_readiness("speech", models));
    }
    if state.settings.services.translation {
        let models = state.translation.get().map(|service| service.status());
        services.push(service_readiness("translation", models));
    }
    if state.settings.services.decision {
        // Anomaly detection needs no model.
        let models = vec![cogway_core::ModelStatus { name: "anomaly-detector", ready: true, detail: None }];
        services.push(service_readiness("decision", Some(models)));
    }
    if state.settings.services.vision {
        let models = state.vision.get().map(|service| service.models());
        services.push(service_readiness("vision", models));
    }
    let ready = services.iter().all(|s| s.ready);
    let body = Readiness { ready, services };
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

fn service_readiness(service: &str, models: Option<Vec<cogway_core::ModelStatus>>) -> ServiceReadiness {
    let models = match models {
        Some(models) => models
            .into_iter()
            .map(|m| ModelReadiness { name: m.name.into(), ready: m.ready, detail: m.detail })
            .collect(),
        None => vec![ModelReadiness { name: service.into(), ready: false, detail: Some("loading".into()) }],
    };
    ServiceReadiness { service: service.into(), ready: models.iter().all(|m| m.ready), models }
}

/// Status: checks the key without running a model (as Azure containers' `/status`).
#[utoipa::path(get, path = "/status", tag = "System",
    responses((status = 200, description = "the key is valid"), (status = 401, description = "invalid key")),
    security(("key" = []), ("bearer" = [])))]
pub async fn status(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let key = authenticate(&state, &req).await?;
    let mut workers = Vec::new();
    each_worker(&state, &mut |name, stats| {
        workers.push(serde_json::json!({
            "name": name,
            "queueDepth": stats.queue_depth(),
            "rejected": stats.rejected(),
            "restarts": stats.restarts(),
        }));
    });
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "valid",
        "keyId": key.id,
        "keyName": key.name,
        "services": key.services,
        "workers": workers,
        "replica": {
            "id": state.jobs.replica(),
            "database": crate::db::engine(&state.db).name(),
            "sharedLimits": if state.settings.redis.url.as_deref().is_some_and(|u| !u.is_empty()) { "redis" } else { "process" },
            "blobs": state.blobs.backend(),
        },
    })))
}

/// Every model worker that has started, with its counters.
fn each_worker(state: &AppState, f: &mut dyn FnMut(&str, &cogway_core::WorkerStats)) {
    if let Some(worker) = state.language.get().and_then(|l| l.embedder()) {
        f(worker.name(), worker.stats());
    }
    if let Some(speech) = state.speech.get() {
        for (name, stats) in speech.worker_stats() {
            f(&name, stats);
        }
    }
    if let Some(translation) = state.translation.get() {
        translation.each_worker(f);
    }
    if let Some(vision) = state.vision.get() {
        vision.each_worker(f);
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "System", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    each_worker(&state, &mut |name, stats| state.metrics.set_worker(name, stats));
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}
