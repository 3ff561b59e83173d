//! `POST /language/:analyze-conversations` (kind `Conversation`): the intents and entities of one
//! utterance, from a deployed project.

use std::sync::{Arc, LazyLock};

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_language::clu::CluModel;
use cogway_language::units::{OffsetMapper, StringIndexType};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api_version;
use super::authoring::MAX_UTTERANCE_CHARS;
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::read_json;
use crate::routes::language::deployment_cache::DeploymentCache;
use crate::routes::language::documents::parse_index_type;
use crate::routes::language::language_service;
use crate::store::clu_projects::CluProjects;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeRequest {
    kind: String,
    analysis_input: AnalysisInput,
    parameters: Parameters,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalysisInput {
    conversation_item: ConversationItem,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConversationItem {
    text: String,
    language: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Parameters {
    project_name: String,
    deployment_name: String,
    string_index_type: Option<String>,
}

/// Deployed models kept parsed.
const CACHED_MODELS: usize = 64;
static MODELS: LazyLock<DeploymentCache<CluModel>> = LazyLock::new(|| DeploymentCache::new(CACHED_MODELS));

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidParameterValue, message)
}

/// Analyse one utterance with a deployed project.
#[utoipa::path(post, path = "/language/:analyze-conversations", tag = "Conversational language understanding",
    params(("api-version" = String, Query, description = "2022-05-01, 2023-04-01 or 2024-11-01")),
    request_body(content = Object, description = "{\"kind\": \"Conversation\", \"analysisInput\": {\"conversationItem\": {\"id\", \"participantId\", \"text\", \"language\"}}, \"parameters\": {\"projectName\", \"deploymentName\", \"stringIndexType\"}}"),
    responses((status = 200, description = "{\"kind\": \"ConversationResult\", \"result\": {\"query\", \"prediction\": {\"projectKind\": \"Conversation\", \"topIntent\", \"intents\": [{\"category\", \"confidenceScore\"}], \"entities\": [{\"category\", \"text\", \"offset\", \"length\", \"confidenceScore\", \"extraInformation\"}]}}}"),
              (status = 400), (status = 404, description = "no such project or deployment")),
    security(("key" = []), ("bearer" = [])))]
pub async fn analyze_conversations(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let service = language_service(&state)?;
    let body: AnalyzeRequest = read_json(&req, payload, 64 * 1024).await?;
    if body.kind != "Conversation" {
        return Err(invalid(format!("The kind {:?} is not offered: Conversation.", body.kind)));
    }
    let text = body.analysis_input.conversation_item.text;
    if text.trim().is_empty() || text.chars().count() > MAX_UTTERANCE_CHARS {
        return Err(invalid(format!("The utterance must have 1 to {MAX_UTTERANCE_CHARS} characters.")));
    }
    let unit = match body.parameters.string_index_type.as_deref() {
        Some(name) => parse_index_type(name)?,
        None => StringIndexType::TextElementsV8,
    };
    let (project, deployment) = (&body.parameters.project_name, &body.parameters.deployment_name);
    let store = CluProjects::new(&state.db);
    let language = match store.get(&caller.key.id, project).await? {
        Some(p) => p.language,
        None => return Err(ApiError::new(Code::NotFound, format!("The project '{project}' does not exist."))),
    };
    let found = store.deployment(&caller.key.id, project, deployment).await?.ok_or_else(|| {
        ApiError::new(Code::NotFound, format!("The project '{project}' has no deployment '{deployment}'."))
    })?;
    let model = match MODELS.get(&caller.key.id, project, deployment, found.deployed_at) {
        Some(model) => model,
        None => {
            let text = found.model;
            let parsed: CluModel = web::block(move || serde_json::from_str(&text))
                .await
                .map_err(|e| ApiError(ServiceError::internal(format!("model thread failed: {e}"))))?
                .map_err(|e| ApiError(ServiceError::internal(format!("the deployed model cannot be read: {e}"))))?;
            let model = Arc::new(parsed);
            MODELS.insert(&caller.key.id, project, deployment, found.deployed_at, model.clone());
            model
        }
    };
    state.usage.charge(&caller.key, crate::service::Service::Language, text.chars().count() as u64).await?;
    let language = body.analysis_input.conversation_item.language.unwrap_or(language);
    let prediction = service.predict_clu(&model, &text, &language).await?;
    let mapper = OffsetMapper::new(&text, unit);
    let entities: Vec<Value> = prediction
        .entities
        .iter()
        .map(|e| {
            let (offset, length) = mapper.span(e.start, e.end);
            let mut v = json!({
                "category": e.category, "text": &text[e.start..e.end], "offset": offset, "length": length,
                "confidenceScore": (e.confidence * 1000.0).round() / 1000.0,
            });
            if let Some(key) = &e.list_key {
                v["extraInformation"] = json!([{ "extraInformationKind": "ListKey", "key": key }]);
            }
            if let Some(prebuilt) = &e.prebuilt {
                v["extraInformation"] = json!([{ "extraInformationKind": "EntitySubtype", "value": prebuilt }]);
            }
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "kind": "ConversationResult",
        "result": {
            "query": text,
            "prediction": {
                "projectKind": "Conversation",
                "topIntent": prediction.top_intent,
                "intents": prediction.intents.iter().map(|(category, p)| json!({
                    "category": category, "confidenceScore": (p * 1000.0).round() / 1000.0,
                })).collect::<Vec<_>>(),
                "entities": entities,
            },
        },
    })))
}
