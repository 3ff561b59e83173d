//! The loop's administration: service configuration, policy, model export, import and reset,
//! and the waiting events ("logs").

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_decision::personalizer::PersonalizerError;
use cogway_decision::personalizer::config::{PolicyContract, ServiceConfiguration};
use cogway_decision::personalizer::learner::Model;
use serde::Serialize;
use utoipa::ToSchema;

use super::bad_request;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::ApiResult;
use crate::routes::body::{read_limited, to_json};
use crate::store::personalizer::Personalizer;

/// Largest configuration or policy body.
const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// Largest imported model: every weight of the largest model.
const MAX_MODEL_BYTES: usize = 13 + (1 << cogway_decision::personalizer::learner::MAX_BITS) * 12;

fn enabled(state: &AppState) -> ApiResult<()> {
    crate::engines::enabled(state, super::super::SERVICE)
}

/// The service configuration.
#[utoipa::path(get, path = "/personalizer/configurations/service", tag = "Personalizer",
    responses((status = 200, body = serde_json::Value, description = "ServiceConfiguration")),
    security(("key" = []), ("bearer" = [])))]
pub async fn get_configuration(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let lp = state.personalizer.get(&state, &caller.key.id).await?;
    Ok(HttpResponse::Ok().json(&lp.configuration))
}

/// Replace the service configuration.
#[utoipa::path(put, path = "/personalizer/configurations/service", tag = "Personalizer",
    request_body(content = serde_json::Value, description = "ServiceConfiguration: rewardWaitTime, defaultReward, rewardAggregation, explorationPercentage, modelExportFrequency, logRetentionDays, learningMode (Online, Apprentice, LoggingOnly), ..."),
    responses((status = 200, body = serde_json::Value), (status = 400, description = "InvalidServiceConfiguration")),
    security(("key" = []), ("bearer" = [])))]
pub async fn put_configuration(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let body = read_limited(&req, payload, MAX_CONFIG_BYTES).await?;
    let mut configuration: ServiceConfiguration = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            let message = format!("The service configuration is not valid: {e}.");
            return Ok(bad_request(&PersonalizerError::new("InvalidServiceConfiguration", message)));
        }
    };
    if let Err(e) = configuration.check() {
        return Ok(bad_request(&e));
    }
    configuration.last_configuration_edit_date = Some(rfc3339(now()));
    state.personalizer.get(&state, &caller.key.id).await?;
    let every = configuration.model_update_secs().ceil() as i64;
    Personalizer::new(&state.db).set_configuration(&caller.key.id, &to_json(&configuration)?, every).await?;
    Ok(HttpResponse::Ok().json(configuration))
}

/// The learning policy (Vowpal Wabbit arguments).
#[utoipa::path(get, path = "/personalizer/configurations/policy", tag = "Personalizer",
    responses((status = 200, body = serde_json::Value, description = "{name, arguments}")),
    security(("key" = []), ("bearer" = [])))]
pub async fn get_policy(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let lp = state.personalizer.get(&state, &caller.key.id).await?;
    Ok(HttpResponse::Ok().json(&lp.policy_contract))
}

async fn store_policy(state: &AppState, caller: &Caller, policy: &PolicyContract) -> ApiResult<HttpResponse> {
    if let Err(e) = policy.parse() {
        return Ok(bad_request(&e));
    }
    state.personalizer.get(state, &caller.key.id).await?;
    Personalizer::new(&state.db).set_policy(&caller.key.id, &to_json(policy)?).await?;
    Ok(HttpResponse::Ok().json(policy))
}

/// Replace the learning policy (it must be `--cb_explore_adf`; `-l` and `-b` are used).
#[utoipa::path(put, path = "/personalizer/configurations/policy", tag = "Personalizer",
    request_body(content = serde_json::Value, description = "{name, arguments}"),
    responses((status = 200, body = serde_json::Value), (status = 400, description = "InvalidPolicyConfiguration")),
    security(("key" = []), ("bearer" = [])))]
pub async fn put_policy(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let body = read_limited(&req, payload, MAX_CONFIG_BYTES).await?;
    match serde_json::from_slice::<PolicyContract>(&body) {
        Ok(policy) => store_policy(&state, &caller, &policy).await,
        Err(e) => Ok(bad_request(&PersonalizerError::new(
            "InvalidPolicyContract",
            format!("The policy must be {{\"name\", \"arguments\"}}: {e}."),
        ))),
    }
}

/// Reset the learning policy to the default (answers it).
#[utoipa::path(delete, path = "/personalizer/configurations/policy", tag = "Personalizer",
    responses((status = 200, body = serde_json::Value)), security(("key" = []), ("bearer" = [])))]
pub async fn reset_policy(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    store_policy(&state, &caller, &PolicyContract::default()).await
}

/// Export the model (Cogway's own format, importable with PUT /model).
#[utoipa::path(get, path = "/personalizer/model", tag = "Personalizer",
    params(("signed" = Option<bool>, Query, description = "accepted; the export is not signed")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>)),
    security(("key" = []), ("bearer" = [])))]
pub async fn export_model(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let lp = state.personalizer.get(&state, &caller.key.id).await?;
    Ok(HttpResponse::Ok().content_type("application/octet-stream").body(lp.model.to_bytes()))
}

/// Replace the model with an exported one.
#[utoipa::path(put, path = "/personalizer/model", tag = "Personalizer",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204, description = "imported"), (status = 400, description = "InvalidModelImportFormat")),
    security(("key" = []), ("bearer" = [])))]
pub async fn import_model(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let body = read_limited(&req, payload, MAX_MODEL_BYTES).await?;
    let model = match Model::from_bytes(&body) {
        Ok(model) => model,
        Err(e) => return Ok(bad_request(&PersonalizerError::new("InvalidModelImportFormat", e.to_string()))),
    };
    state.personalizer.get(&state, &caller.key.id).await?;
    Personalizer::new(&state.db).replace_model(&caller.key.id, &model.to_bytes(), now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Reset the model to an untrained one (of the policy's size).
#[utoipa::path(delete, path = "/personalizer/model", tag = "Personalizer",
    responses((status = 204, description = "reset")), security(("key" = []), ("bearer" = [])))]
pub async fn reset_model(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let lp = state.personalizer.get(&state, &caller.key.id).await?;
    let fresh = Model::new(lp.policy.bits).to_bytes();
    Personalizer::new(&state.db).replace_model(&caller.key.id, &fresh, now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelProperties {
    creation_time: String,
    last_modified_time: String,
}

/// When the model was created and last learned.
#[utoipa::path(get, path = "/personalizer/model/properties", tag = "Personalizer",
    responses((status = 200, body = ModelProperties)), security(("key" = []), ("bearer" = [])))]
pub async fn model_properties(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let lp = state.personalizer.get(&state, &caller.key.id).await?;
    Ok(HttpResponse::Ok().json(ModelProperties {
        creation_time: rfc3339(lp.model_created_at),
        last_modified_time: rfc3339(lp.model_updated_at),
    }))
}

/// The time range of the events waiting for rewards (Cogway keeps no other logs).
#[utoipa::path(get, path = "/personalizer/logs/properties", tag = "Personalizer",
    responses((status = 200, body = serde_json::Value, description = "{dateRange: {from, to}}")),
    security(("key" = []), ("bearer" = [])))]
pub async fn log_properties(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let (from, to) = Personalizer::new(&state.db).event_range(&caller.key.id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "dateRange": { "from": from.map(rfc3339), "to": to.map(rfc3339) }
    })))
}

/// Delete the events waiting for rewards (their rewards will not be learned).
#[utoipa::path(delete, path = "/personalizer/logs", tag = "Personalizer",
    responses((status = 204, description = "deleted")), security(("key" = []), ("bearer" = [])))]
pub async fn delete_logs(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    Personalizer::new(&state.db).delete_events(&caller.key.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
