//! Personalizer (`azure-ai-personalizer` 1.0.0b1, API 2022-09-01-preview, and the v1.0 paths):
//! one learning loop per key. The bandit itself is `cogway_decision::personalizer`; this module
//! keeps each loop's parsed state between requests (reloaded when its stored version moves),
//! and the submodules translate the routes.

pub mod admin;
pub mod events;
pub mod learner;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use cogway_decision::personalizer::PersonalizerError;
use cogway_decision::personalizer::config::{Policy, PolicyContract, ServiceConfiguration};
use cogway_decision::personalizer::learner::Model;
use cogway_decision::personalizer::rank::Exploration;

use crate::app::AppState;
use crate::auth::ServiceName;
use crate::db::now;
use crate::errors::{ApiError, ApiResult};
use crate::store::personalizer::{NewLoop, Personalizer};

/// Loops kept parsed in memory (a model is up to 2 MiB at the default 18 bits).
const CACHED_LOOPS: usize = 64;
/// The path prefixes the SDKs use: none (with `api-version`), and the older path versions.
const PREFIXES: [&str; 5] = [
    "/personalizer",
    "/personalizer/v1.0",
    "/personalizer/v1.1-preview.1",
    "/personalizer/v1.1-preview.2",
    "/personalizer/v1.1-preview.3",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    for prefix in PREFIXES {
        cfg.service(
            web::scope(prefix)
                .app_data(ServiceName(super::SERVICE))
                .route("/rank", web::post().to(events::rank))
                .route("/events/{eventId}/reward", web::post().to(events::reward))
                .route("/events/{eventId}/activate", web::post().to(events::activate))
                .route("/multislot/rank", web::post().to(events::rank_multi_slot))
                .route("/multislot/events/{eventId}/reward", web::post().to(events::reward_multi_slot))
                .route("/multislot/events/{eventId}/activate", web::post().to(events::activate))
                .route("/configurations/service", web::get().to(admin::get_configuration))
                .route("/configurations/service", web::put().to(admin::put_configuration))
                .route("/configurations/policy", web::get().to(admin::get_policy))
                .route("/configurations/policy", web::put().to(admin::put_policy))
                .route("/configurations/policy", web::delete().to(admin::reset_policy))
                .route("/model", web::get().to(admin::export_model))
                .route("/model", web::put().to(admin::import_model))
                .route("/model", web::delete().to(admin::reset_model))
                .route("/model/properties", web::get().to(admin::model_properties))
                .route("/logs/properties", web::get().to(admin::log_properties))
                .route("/logs", web::delete().to(admin::delete_logs)),
        );
    }
}

/// Personalizer's error body (`{"error":{"code","message"}}`) with Personalizer's own codes.
pub fn error(status: StatusCode, e: &PersonalizerError) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": { "code": e.code, "message": e.message } }))
}

/// A 400 with Personalizer's code.
pub fn bad_request(e: &PersonalizerError) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, e)
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError(cogway_core::ServiceError::internal(format!("personalizer {what}: {e}")))
}

/// A loop as the routes use it.
pub struct Loop {
    pub version: i64,
    pub configuration: ServiceConfiguration,
    pub policy_contract: PolicyContract,
    pub policy: Policy,
    pub model: Model,
    pub model_created_at: i64,
    pub model_updated_at: i64,
}

impl Loop {
    pub fn exploration(&self) -> Exploration {
        Exploration { epsilon: self.configuration.exploration_percentage, mode: self.configuration.learning_mode }
    }
}

/// The parsed loops by key id.
#[derive(Default)]
pub struct Loops {
    cache: dashmap::DashMap<String, Arc<Loop>>,
}

impl Loops {
    /// The key's loop (created with the defaults on first use), parsed again only when its stored
    /// version has moved.
    pub async fn get(&self, state: &AppState, key_id: &str) -> ApiResult<Arc<Loop>> {
        let store = Personalizer::new(&state.db);
        let version = match store.version(key_id).await? {
            Some(version) => version,
            None => {
                let configuration = ServiceConfiguration::default();
                let fresh = NewLoop {
                    configuration: &crate::routes::body::to_json(&configuration)?,
                    policy: &crate::routes::body::to_json(&PolicyContract::default())?,
                    model: &Model::default().to_bytes(),
                    update_every_secs: configuration.model_update_secs().ceil() as i64,
                };
                store.ensure(key_id, &fresh, now()).await?;
                store.version(key_id).await?.unwrap_or(0)
            }
        };
        if let Some(cached) = self.cache.get(key_id).filter(|l| l.version == version) {
            return Ok(cached.clone());
        }
        let row = store.load(key_id).await?.ok_or_else(|| internal("loop", "missing after creation"))?;
        let configuration: ServiceConfiguration =
            serde_json::from_str(&row.configuration).map_err(|e| internal("configuration", e))?;
        let policy_contract: PolicyContract = serde_json::from_str(&row.policy).map_err(|e| internal("policy", e))?;
        let policy = policy_contract.parse().map_err(|e| internal("policy", e))?;
        let model = Model::from_bytes(&row.model).unwrap_or_else(|e| {
            tracing::warn!(error = %e, key = %key_id, "personalizer: unreadable stored model, starting afresh");
            Model::new(policy.bits)
        });
        let parsed = Arc::new(Loop {
            version: row.version,
            configuration,
            policy_contract,
            policy,
            model,
            model_created_at: row.model_created_at,
            model_updated_at: row.model_updated_at,
        });
        if self.cache.len() >= CACHED_LOOPS {
            // The victim is chosen in its own statement: the iterator holds a shard's read lock
            // until it is dropped, and `remove` needs that shard's write lock.
            let victim = self.cache.iter().map(|e| e.key().clone()).find(|k| k != key_id);
            if let Some(victim) = victim {
                self.cache.remove(&victim);
            }
        }
        self.cache.insert(key_id.to_string(), parsed.clone());
        Ok(parsed)
    }
}
