//! Rank, reward and activate, single-slot and multi-slot.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_decision::personalizer::rank::{Choice, MultiSlotRankRequest, RankRequest, check_event_id};
use cogway_decision::personalizer::{PersonalizerError, example_to_bytes};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Loop, bad_request};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::now;
use crate::errors::ApiResult;
use crate::routes::body::read_limited;
use crate::store::personalizer::{NewEvent, Personalizer};

/// Largest rank or reward body.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One action in a ranking.
#[derive(Serialize, ToSchema)]
pub struct RankedAction {
    id: String,
    probability: f64,
}

/// The answer of rank (status 201).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RankResponse {
    ranking: Vec<RankedAction>,
    event_id: String,
    reward_action_id: String,
}

/// A slot's choice in a multi-slot rank.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlotResponse {
    id: String,
    reward_action_id: String,
}

/// The answer of multi-slot rank (status 201).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiSlotRankResponse {
    event_id: String,
    slots: Vec<SlotResponse>,
}

/// A reward (-1 to 1).
#[derive(Deserialize, ToSchema)]
pub struct RewardRequest {
    value: f64,
}

/// One slot's reward.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlotReward {
    slot_id: String,
    value: f64,
}

/// Multi-slot rewards.
#[derive(Deserialize, ToSchema)]
pub struct MultiSlotRewardRequest {
    reward: Vec<SlotReward>,
}

/// Reads and parses a JSON body; a body that does not parse is a 400 with `code`.
async fn read_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    code: &'static str,
) -> ApiResult<Result<T, HttpResponse>> {
    let body = read_limited(req, payload, MAX_BODY_BYTES).await?;
    Ok(serde_json::from_slice(&body).map_err(|e| {
        bad_request(&PersonalizerError::new(code, format!("The request body is not a valid {code} body: {e}.")))
    }))
}

/// Remembers each slot's choice until its reward is learned.
async fn remember(
    state: &AppState,
    key_id: &str,
    event_id: &str,
    choices: &[(&str, &Choice)],
    active: bool,
    lp: &Loop,
) -> ApiResult<Result<(), HttpResponse>> {
    let store = Personalizer::new(&state.db);
    let now = now();
    let expires_at = now + lp.configuration.reward_wait_secs().ceil() as i64;
    for (slot_id, choice) in choices {
        let event = NewEvent {
            event_id,
            slot_id,
            example: &example_to_bytes(&choice.example),
            probability: f64::from(choice.probability),
            active,
            expires_at,
        };
        if !store.insert_event(key_id, &event, now).await? {
            return Ok(Err(bad_request(&PersonalizerError::new(
                "InvalidRankRequest",
                format!("The eventId '{event_id}' was already used; send a new one or none."),
            ))));
        }
    }
    Ok(Ok(()))
}

fn event_id_or_new(id: Option<&String>) -> String {
    id.cloned().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Rank actions for a context: the chosen action is `rewardActionId`.
#[utoipa::path(post, path = "/personalizer/rank", tag = "Personalizer",
    params(("api-version" = Option<String>, Query, description = "2022-09-01-preview (also served under /personalizer/v1.0)")),
    request_body(content = serde_json::Value, description = "{contextFeatures, actions: [{id, features}] (1 to 50), excludedActions, eventId, deferActivation}"),
    responses((status = 201, body = RankResponse), (status = 400, description = "InvalidRankRequest, InvalidEventId")),
    security(("key" = []), ("bearer" = [])))]
pub async fn rank(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    crate::engines::enabled(&state, super::super::SERVICE)?;
    let request: RankRequest = match read_body(&req, payload, "InvalidRankRequest").await? {
        Ok(r) => r,
        Err(answer) => return Ok(answer),
    };
    let lp = state.personalizer.get(&state, &caller.key.id).await?;
    let choice = {
        let mut rng = rand::rng();
        request.rank(&lp.model, lp.exploration(), &mut rng)
    };
    let choice = match choice {
        Ok(choice) => choice,
        Err(e) => return Ok(bad_request(&e)),
    };
    let event_id = event_id_or_new(request.event_id.as_ref());
    if let Err(answer) =
        remember(&state, &caller.key.id, &event_id, &[("", &choice)], !request.defer_activation, &lp).await?
    {
        return Ok(answer);
    }
    Ok(HttpResponse::Created().json(RankResponse {
        ranking: choice.ranking.into_iter().map(|(id, probability)| RankedAction { id, probability }).collect(),
        event_id,
        reward_action_id: choice.chosen,
    }))
}

/// Rank actions for several slots at once.
#[utoipa::path(post, path = "/personalizer/multislot/rank", tag = "Personalizer",
    request_body(content = serde_json::Value, description = "{contextFeatures, actions, slots: [{id, features, excludedActions, baselineAction}] (1 to 50), eventId, deferActivation}"),
    responses((status = 201, body = MultiSlotRankResponse), (status = 400, description = "InvalidRankRequest")),
    security(("key" = []), ("bearer" = [])))]
pub async fn rank_multi_slot(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    crate::engines::enabled(&state, super::super::SERVICE)?;
    let request: MultiSlotRankRequest = match read_body(&req, payload, "InvalidRankRequest").await? {
        Ok(r) => r,
        Err(answer) => return Ok(answer),
    };
    let lp = state.personalizer.get(&state, &caller.key.id).await?;
    let slots = {
        let mut rng = rand::rng();
        request.rank(&lp.model, lp.exploration(), &mut rng)
    };
    let slots = match slots {
        Ok(slots) => slots,
        Err(e) => return Ok(bad_request(&e)),
    };
    let event_id = event_id_or_new(request.event_id.as_ref());
    let choices: Vec<(&str, &Choice)> = slots.iter().map(|(id, c)| (id.as_str(), c)).collect();
    if let Err(answer) = remember(&state, &caller.key.id, &event_id, &choices, !request.defer_activation, &lp).await? {
        return Ok(answer);
    }
    Ok(HttpResponse::Created().json(MultiSlotRankResponse {
        event_id,
        slots: slots.into_iter().map(|(id, c)| SlotResponse { id, reward_action_id: c.chosen }).collect(),
    }))
}

fn check_reward(value: f64) -> Result<(), PersonalizerError> {
    if (-1.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(PersonalizerError::new("InvalidRewardRequest", "The reward value must be between -1 and 1."))
    }
}

async fn record(state: &AppState, caller: &Caller, event_id: &str, rewards: &[(&str, f64)]) -> ApiResult<HttpResponse> {
    if let Err(e) = check_event_id(event_id) {
        return Ok(bad_request(&e));
    }
    if let Some(e) = rewards.iter().find_map(|(_, v)| check_reward(*v).err()) {
        return Ok(bad_request(&e));
    }
    let lp = state.personalizer.get(state, &caller.key.id).await?;
    let average = lp.configuration.reward_aggregation == "average";
    let store = Personalizer::new(&state.db);
    for (slot, value) in rewards {
        // A reward for an unknown or expired event is accepted and ignored, as Azure does.
        store.reward(&caller.key.id, event_id, slot, *value, average).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Report the reward of a ranked event.
#[utoipa::path(post, path = "/personalizer/events/{eventId}/reward", tag = "Personalizer",
    params(("eventId" = String, Path)), request_body = RewardRequest,
    responses((status = 204, description = "recorded"), (status = 400, description = "InvalidRewardRequest")),
    security(("key" = []), ("bearer" = [])))]
pub async fn reward(
    caller: Caller,
    state: web::Data<AppState>,
    event_id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    crate::engines::enabled(&state, super::super::SERVICE)?;
    let body: RewardRequest = match read_body(&req, payload, "InvalidRewardRequest").await? {
        Ok(r) => r,
        Err(answer) => return Ok(answer),
    };
    record(&state, &caller, &event_id, &[("", body.value)]).await
}

/// Report the rewards of a multi-slot event, by slot.
#[utoipa::path(post, path = "/personalizer/multislot/events/{eventId}/reward", tag = "Personalizer",
    params(("eventId" = String, Path)), request_body = MultiSlotRewardRequest,
    responses((status = 204, description = "recorded"), (status = 400, description = "InvalidRewardRequest")),
    security(("key" = []), ("bearer" = [])))]
pub async fn reward_multi_slot(
    caller: Caller,
    state: web::Data<AppState>,
    event_id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    crate::engines::enabled(&state, super::super::SERVICE)?;
    let body: MultiSlotRewardRequest = match read_body(&req, payload, "InvalidRewardRequest").await? {
        Ok(r) => r,
        Err(answer) => return Ok(answer),
    };
    if body.reward.len() > cogway_decision::personalizer::rank::MAX_SLOTS {
        return Ok(bad_request(&PersonalizerError::new("InvalidRewardRequest", "At most 50 slot rewards.")));
    }
    let rewards: Vec<(&str, f64)> = body.reward.iter().map(|r| (r.slot_id.as_str(), r.value)).collect();
    record(&state, &caller, &event_id, &rewards).await
}

/// Activate an event ranked with `deferActivation` (single-slot or multi-slot).
#[utoipa::path(post, path = "/personalizer/events/{eventId}/activate", tag = "Personalizer",
    params(("eventId" = String, Path)),
    responses((status = 204, description = "activated"), (status = 400, description = "InvalidEventIdToActivate")),
    security(("key" = []), ("bearer" = [])))]
pub async fn activate(
    caller: Caller,
    state: web::Data<AppState>,
    event_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    crate::engines::enabled(&state, super::super::SERVICE)?;
    if check_event_id(&event_id).is_err() {
        return Ok(bad_request(&PersonalizerError::new("InvalidEventIdToActivate", "The eventId is not valid.")));
    }
    Personalizer::new(&state.db).activate(&caller.key.id, &event_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
