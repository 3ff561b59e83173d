//! Custom text classification projects: create, add labelled examples, train, evaluate, classify.
//!
//! Routes (native; Azure's authoring API needs Azure storage and is not mirrored):
//! - `GET    /language/custom/projects`                   the caller's projects (every owner's for admins)
//! - `PUT    /language/custom/projects/{name}`            create or update (`{"language","description"}`)
//! - `GET    /language/custom/projects/{name}`            project, example counts, last evaluation
//! - `DELETE /language/custom/projects/{name}`            delete the project and all its data
//! - `POST   /language/custom/projects/{name}/examples`   add `[{"text","label"}]`
//! - `POST   /language/custom/projects/{name}/train`      train and evaluate (held-out split)
//!
//! Classify with `:analyze-text` kind `CustomSingleLabelClassification` and
//! `parameters.projectName`. Everything is in the database and survives restarts. A project
//! belongs to the key that created it (see [`crate::owners`]).

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_language::classify::{self, Classifier, Evaluation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::language_service;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::owners::{Owner, Stored, Table, ensure_room};
use crate::routes::body::{check_resource_name, read_json};
use crate::store::classification_projects::{ClassificationProjects, Project};

const MAX_EXAMPLES_PER_CALL: usize = 1000;
const MAX_EXAMPLES: i64 = 20_000;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProjectRequest {
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default)]
    pub description: String,
}

fn default_language() -> String {
    "en".into()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Example {
    pub text: String,
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectInfo {
    pub project_name: String,
    pub language: String,
    pub description: String,
    pub created_date_time: String,
    pub examples: i64,
    pub labels: Vec<LabelCount>,
    pub trained_date_time: Option<String>,
    /// The held-out evaluation of the last training; null before the first one.
    #[schema(value_type = Option<Object>)]
    pub evaluation: Option<Evaluation>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelCount {
    pub label: String,
    pub count: i64,
}

fn check_name(name: &str) -> ApiResult<()> {
    check_resource_name(name, 100, "A project name has 1 to 100 characters: letters, digits, '-', '_' or '.'.")
}

fn project_not_found(name: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("The project '{name}' does not exist."))
}

/// The project `name` of the owner `key_id` with its example counts, or 404.
async fn info(state: &AppState, key_id: &str, name: &str) -> ApiResult<ProjectInfo> {
    let store = ClassificationProjects::new(&state.db);
    let Project { language, description, created_at, trained_at, evaluation, .. } =
        store.get(key_id, name).await?.ok_or_else(|| project_not_found(name))?;
    let labels: Vec<LabelCount> =
        store.label_counts(key_id, name).await?.into_iter().map(|(label, count)| LabelCount { label, count }).collect();
    Ok(ProjectInfo {
        project_name: name.to_string(),
        language,
        description,
        created_date_time: rfc3339(created_at),
        examples: labels.iter().map(|l| l.count).sum(),
        labels,
        trained_date_time: trained_at.map(rfc3339),
        evaluation: evaluation.and_then(|e| serde_json::from_str(&e).ok()),
    })
}

/// Create or update a classification project.
#[utoipa::path(put, path = "/language/custom/projects/{name}", tag = "Custom classification",
    request_body = ProjectRequest, responses((status = 201, body = ProjectInfo, description = "created"),
    (status = 200, body = ProjectInfo, description = "updated")), security(("key" = [])))]
pub async fn put_project(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_name(&name)?;
    let body: ProjectRequest = read_json(&req, payload, 64 * 1024).await?;
    // A PUT always writes the caller's own project, whoever else has one of that name.
    let key_id = caller.key.id.as_str();
    let existed = info(&state, key_id, &name).await.is_ok();
    if !existed {
        ensure_room(
            &state.db,
            Stored::Named(Table::ClassificationProjects),
            &caller.key,
            state.settings.limits.max_customizations_per_key,
        )
        .await?;
    }
    ClassificationProjects::new(&state.db).put(key_id, name.as_str(), &body.language, &body.description, now()).await?;
    let project = info(&state, key_id, &name).await?;
    Ok(if existed { HttpResponse::Ok().json(project) } else { HttpResponse::Created().json(project) })
}

/// A project with its example counts and last evaluation.
#[utoipa::path(get, path = "/language/custom/projects/{name}", tag = "Custom classification",
    responses((status = 200, body = ProjectInfo), (status = 404)), security(("key" = [])))]
pub async fn get_project(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let owner = Owner::from(&caller.key);
    let key_id = owner.resolve(&state.db, Table::ClassificationProjects, &name).await?;
    let project = info(&state, &key_id, &name).await?;
    Ok(HttpResponse::Ok().json(owner.listed(serde_json::json!(project), &key_id)))
}

/// The caller's projects (without example counts); every owner's, with their owner, for an admin
/// key.
#[utoipa::path(get, path = "/language/custom/projects", tag = "Custom classification",
    responses((status = 200, description = "{value: [{projectName, language, description, createdDateTime, trainedDateTime}]}")),
    security(("key" = [])))]
pub async fn list_projects(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let owner = Owner::from(&caller.key);
    let rows = ClassificationProjects::new(&state.db).list(&owner.key_id, owner.is_admin).await?;
    let value: Vec<_> = rows
        .iter()
        .map(|r| {
            let item = serde_json::json!({
                "projectName": r.name,
                "language": r.language,
                "description": r.description,
                "createdDateTime": rfc3339(r.created_at),
                "trainedDateTime": r.trained_at.map(rfc3339),
            });
            owner.listed(item, &r.key_id)
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "value": value })))
}

/// Delete a project, its examples and its model.
#[utoipa::path(delete, path = "/language/custom/projects/{name}", tag = "Custom classification",
    responses((status = 204), (status = 404)), security(("key" = [])))]
pub async fn delete_project(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    // The examples go with the project (ON DELETE CASCADE).
    if Owner::from(&caller.key).delete(&state.db, Table::ClassificationProjects, &name).await?.is_none() {
        return Err(project_not_found(&name));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Add labelled examples.
#[utoipa::path(post, path = "/language/custom/projects/{name}/examples", tag = "Custom classification",
    request_body = Vec<Example>, responses((status = 200, body = ProjectInfo)), security(("key" = [])))]
pub async fn add_examples(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let examples: Vec<Example> = read_json(&req, payload, state.settings.limits.language_max_body_bytes).await?;
    let key_id = Owner::from(&caller.key).resolve(&state.db, Table::ClassificationProjects, &name).await?;
    let current = info(&state, &key_id, &name).await?;
    if examples.is_empty() || examples.len() > MAX_EXAMPLES_PER_CALL {
        return Err(ApiError::new(
            Code::InvalidDocumentBatch,
            format!("Send 1 to {MAX_EXAMPLES_PER_CALL} examples per call."),
        ));
    }
    if current.examples + examples.len() as i64 > MAX_EXAMPLES {
        return Err(ApiError::new(
            Code::InvalidDocumentBatch,
            format!("A project holds at most {MAX_EXAMPLES} examples."),
        ));
    }
    for (i, ex) in examples.iter().enumerate() {
        if ex.text.trim().is_empty() || ex.label.trim().is_empty() || ex.label.len() > 100 {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("Example {i} needs a non-empty text and a label of 1 to 100 characters."),
            ));
        }
        if cogway_language::units::grapheme_len(&ex.text) > cogway_language::MAX_DOCUMENT_CHARS {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("Example {i} is longer than 5120 characters."),
            ));
        }
    }
    let characters: u64 = examples.iter().map(|e| cogway_language::units::grapheme_len(&e.text) as u64).sum();
    state.usage.charge(&caller.key, crate::service::Service::Language, characters).await?;
    let pairs: Vec<(&str, &str)> = examples.iter().map(|ex| (ex.text.as_str(), ex.label.trim())).collect();
    ClassificationProjects::new(&state.db).add_examples(&key_id, name.as_str(), &pairs).await?;
    Ok(HttpResponse::Ok().json(info(&state, &key_id, &name).await?))
}

/// Train on every example (after evaluating on a held-out fifth) and store the model.
#[utoipa::path(post, path = "/language/custom/projects/{name}/train", tag = "Custom classification",
    responses((status = 200, body = ProjectInfo), (status = 400, description = "Fewer than two labels")),
    security(("key" = [])))]
pub async fn train(caller: Caller, state: web::Data<AppState>, name: web::Path<String>) -> ApiResult<HttpResponse> {
    let key_id = Owner::from(&caller.key).resolve(&state.db, Table::ClassificationProjects, &name).await?;
    info(&state, &key_id, &name).await?;
    let rows = ClassificationProjects::new(&state.db).examples(&key_id, name.as_str()).await?;
    let service = language_service(&state)?;
    let vectors = service.embed(rows.iter().map(|(t, _)| t.clone()).collect()).await?;
    let examples: Vec<(Vec<f32>, String)> = vectors.into_iter().zip(rows.into_iter().map(|(_, l)| l)).collect();
    let (model, evaluation) = web::block(move || classify::train(&examples, 0.2))
        .await
        .map_err(|e| ApiError::new(Code::Internal, format!("training: {e}")))??;
    let model_json = serde_json::to_string(&model).map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    let eval_json = serde_json::to_string(&evaluation).map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    ClassificationProjects::new(&state.db).save_model(&key_id, name.as_str(), &model_json, &eval_json, now()).await?;
    Ok(HttpResponse::Ok().json(info(&state, &key_id, &name).await?))
}

/// The trained classifier of the project `name` that `owner` reaches (404 if there is none, 409
/// if it was never trained).
pub async fn trained_classifier(state: &AppState, owner: &Owner, name: &str) -> ApiResult<Classifier> {
    let key_id = owner.resolve(&state.db, Table::ClassificationProjects, name).await?;
    let model = ClassificationProjects::new(&state.db).model(&key_id, name).await?;
    let model = model.ok_or_else(|| project_not_found(name))?.ok_or_else(|| {
        ApiError(ServiceError::new(Code::Conflict, format!("The project '{name}' has not been trained yet.")))
    })?;
    serde_json::from_str(&model).map_err(|e| ApiError::new(Code::Internal, format!("stored model unreadable: {e}")))
}
