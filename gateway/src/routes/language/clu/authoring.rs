//! The conversational language understanding authoring API: projects, import and export,
//! training and deployments. Long-running operations are done when they answer 202.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_language::clu::project::{Assets, Units};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::api_version;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::owners::{Stored, ensure_room};
use crate::routes::body::{check_resource_name, read_json, to_json};
use crate::routes::language::language_service;
use crate::routes::language::lro::{self, Done, absolute};
use crate::store::authoring_jobs::{Job, JobTable};
use crate::store::clu_projects::{CluProjects, NewProject, Project};

/// Most utterances, intents and entities a project may have (Azure's limits).
const MAX_UTTERANCES: usize = 25_000;
const MAX_INTENTS: usize = 500;
const MAX_ENTITIES: usize = 350;
/// Longest utterance, in characters (Azure's limit).
pub const MAX_UTTERANCE_CHARS: usize = 500;
/// Largest import body.
const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;
/// The training configuration this server trains with.
const TRAINING_CONFIG: &str = "cogway-2026-12-01";

fn project_path(name: &str) -> String {
    format!("/language/authoring/analyze-conversations/projects/{name}")
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("The project '{name}' does not exist."))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidParameterValue, message)
}

async fn load(state: &AppState, caller: &Caller, name: &str) -> ApiResult<Project> {
    language_service(state)?;
    CluProjects::new(&state.db).get(&caller.key.id, name).await?.ok_or_else(|| not_found(name))
}

fn settings(project: &Project) -> Value {
    serde_json::from_str(&project.settings).unwrap_or_else(|_| json!({}))
}

fn project_json(p: &Project) -> Value {
    json!({
        "projectName": p.name,
        "projectKind": "Conversation",
        "language": p.language,
        "description": p.description,
        "multilingual": false,
        "settings": settings(p),
        "createdDateTime": rfc3339(p.created_at),
        "lastModifiedDateTime": rfc3339(p.updated_at),
        "lastTrainedDateTime": p.trained_at.map(rfc3339),
        "lastDeployedDateTime": p.deployed_at.map(rfc3339),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    project_kind: Option<String>,
    language: Option<String>,
    #[serde(default)]
    description: String,
    settings: Option<Map<String, Value>>,
}

/// Checks the metadata and returns (language, settings JSON).
fn check_metadata(metadata: &Metadata, existing: Option<&Project>) -> ApiResult<(String, String)> {
    if let Some(kind) = metadata.project_kind.as_deref().filter(|k| !k.eq_ignore_ascii_case("Conversation")) {
        return Err(invalid(format!("The projectKind {kind:?} is not offered: Conversation.")));
    }
    let language = metadata
        .language
        .as_deref()
        .or(existing.map(|p| p.language.as_str()))
        .map(str::trim)
        .filter(|l| !l.is_empty() && l.len() <= 10 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .ok_or_else(|| invalid("A project needs a language code (for example \"en-us\")."))?
        .to_string();
    let settings = metadata.settings.clone().unwrap_or_default();
    if let Some(t) = settings.get("confidenceThreshold")
        && !t.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t))
    {
        return Err(invalid("settings.confidenceThreshold must be between 0 and 1."));
    }
    if metadata.description.chars().count() > 500 {
        return Err(invalid("A description has at most 500 characters."));
    }
    Ok((language, Value::Object(settings).to_string()))
}

/// Create or update a project's metadata (201 when created).
#[utoipa::path(patch, path = "/language/authoring/analyze-conversations/projects/{projectName}", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("api-version" = String, Query, description = "2022-05-01, 2023-04-01 or 2024-11-01")),
    request_body(content = Object, description = "{\"projectKind\": \"Conversation\", \"language\", \"description\", \"settings\": {\"confidenceThreshold\"}}"),
    responses((status = 201, description = "created"), (status = 200, description = "updated"), (status = 400)),
    security(("key" = []), ("bearer" = [])))]
pub async fn create_project(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    language_service(&state)?;
    check_resource_name(&path, 100, "A project name has 1 to 100 letters, digits, '-', '_' or '.'.")?;
    let metadata: Metadata = read_json(&req, payload, 64 * 1024).await?;
    let store = CluProjects::new(&state.db);
    let existing = store.get(&caller.key.id, &path).await?;
    let (language, settings) = check_metadata(&metadata, existing.as_ref())?;
    if existing.is_none() {
        ensure_room(&state.db, Stored::CluProjects, &caller.key, state.settings.limits.max_customizations_per_key)
            .await?;
    }
    let assets = existing.as_ref().map_or_else(|| "{}".to_string(), |p| p.assets.clone());
    let units = existing.as_ref().map_or_else(|| "Utf16CodeUnit".to_string(), |p| p.string_index_type.clone());
    let project = NewProject {
        name: &path,
        language: &language,
        description: &metadata.description,
        settings: &settings,
        string_index_type: &units,
        assets: &assets,
    };
    store.put(&caller.key.id, &project, now()).await?;
    let saved = store.get(&caller.key.id, &path).await?.ok_or_else(|| not_found(&path))?;
    let status =
        if existing.is_none() { actix_web::http::StatusCode::CREATED } else { actix_web::http::StatusCode::OK };
    Ok(HttpResponse::build(status).json(project_json(&saved)))
}

/// The key's projects.
#[utoipa::path(get, path = "/language/authoring/analyze-conversations/projects", tag = "Conversational language understanding",
    params(("api-version" = String, Query)), responses((status = 200, description = "{\"value\": [project]}")),
    security(("key" = []), ("bearer" = [])))]
pub async fn list_projects(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    language_service(&state)?;
    let projects = CluProjects::new(&state.db).list(&caller.key.id).await?;
    Ok(HttpResponse::Ok().json(json!({ "value": projects.iter().map(project_json).collect::<Vec<_>>() })))
}

/// One project.
#[utoipa::path(get, path = "/language/authoring/analyze-conversations/projects/{projectName}", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("api-version" = String, Query)), responses((status = 200), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn get_project(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    Ok(HttpResponse::Ok().json(project_json(&load(&state, &caller, &path).await?)))
}

async fn accepted(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    project: &str,
    kind: &str,
    result: Option<String>,
    location: impl FnOnce(&str) -> String,
) -> ApiResult<HttpResponse> {
    let done = Done { table: JobTable::Clu, project, kind, result, version: api_version(req)? };
    lro::accepted(state, caller, req, done, location).await
}

/// Delete a project with its models and deployments (202).
#[utoipa::path(delete, path = "/language/authoring/analyze-conversations/projects/{projectName}", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    responses((status = 202, description = "deleted; Operation-Location: the deletion job"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn delete_project(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let project = load(&state, &caller, &path).await?;
    CluProjects::new(&state.db).delete(&caller.key.id, &project.name).await?;
    accepted(&state, &caller, &req, &project.name, "delete", None, |id| {
        format!("/language/authoring/analyze-conversations/projects/global/deletion-jobs/{id}")
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportBody {
    string_index_type: Option<String>,
    metadata: Metadata,
    assets: Assets,
}

/// Checks imported assets: limits, known intents and entities, entities within their utterances.
fn check_assets(assets: &Assets, units: Units) -> ApiResult<()> {
    if assets.utterances.len() > MAX_UTTERANCES
        || assets.intents.len() > MAX_INTENTS
        || assets.entities.len() > MAX_ENTITIES
    {
        return Err(invalid(format!(
            "A project has at most {MAX_UTTERANCES} utterances, {MAX_INTENTS} intents and {MAX_ENTITIES} entities."
        )));
    }
    for (i, u) in assets.utterances.iter().enumerate() {
        if u.text.trim().is_empty() || u.text.chars().count() > MAX_UTTERANCE_CHARS {
            return Err(invalid(format!("Utterance {i} must have 1 to {MAX_UTTERANCE_CHARS} characters.")));
        }
        if !assets.intents.iter().any(|t| t.category == u.intent) && u.intent != cogway_language::clu::NONE_INTENT {
            return Err(invalid(format!(
                "Utterance {i} has the intent {:?}, which the project does not define.",
                u.intent
            )));
        }
        if let Some(e) = u.entities.iter().find(|e| !assets.entities.iter().any(|d| d.category == e.category)) {
            return Err(invalid(format!(
                "Utterance {i} labels the entity {:?}, which the project does not define.",
                e.category
            )));
        }
    }
    assets.to_bytes(units).map(|_| ()).map_err(invalid)
}

/// Import a project (its exported JSON): creates it or replaces its assets (202).
#[utoipa::path(post, path = "/language/authoring/analyze-conversations/projects/{projectName}/:import", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    request_body(content = Object, description = "{\"projectFileVersion\", \"stringIndexType\", \"metadata\": {\"projectKind\": \"Conversation\", \"language\", \"settings\"}, \"assets\": {\"projectKind\": \"Conversation\", \"intents\", \"entities\", \"utterances\"}}"),
    responses((status = 202, description = "imported; Operation-Location: the job"), (status = 400)),
    security(("key" = []), ("bearer" = [])))]
pub async fn import(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    language_service(&state)?;
    check_resource_name(&path, 100, "A project name has 1 to 100 letters, digits, '-', '_' or '.'.")?;
    let body: ImportBody = read_json(&req, payload, MAX_IMPORT_BYTES).await?;
    let units_name = body.string_index_type.as_deref().unwrap_or("Utf16CodeUnit");
    let units =
        Units::parse(units_name).ok_or_else(|| invalid(format!("The stringIndexType {units_name:?} is not known.")))?;
    if let Some(kind) = body.assets.rest.get("projectKind").and_then(Value::as_str).filter(|k| *k != "Conversation") {
        return Err(invalid(format!("The assets' projectKind {kind:?} is not offered: Conversation.")));
    }
    check_assets(&body.assets, units)?;
    let store = CluProjects::new(&state.db);
    let existing = store.get(&caller.key.id, &path).await?;
    let (language, settings) = check_metadata(&body.metadata, existing.as_ref())?;
    if existing.is_none() {
        ensure_room(&state.db, Stored::CluProjects, &caller.key, state.settings.limits.max_customizations_per_key)
            .await?;
    }
    let assets = serde_json::to_string(&body.assets).map_err(|e| ApiError(ServiceError::internal(e.to_string())))?;
    let project = NewProject {
        name: &path,
        language: &language,
        description: &body.metadata.description,
        settings: &settings,
        string_index_type: units_name,
        assets: &assets,
    };
    store.put(&caller.key.id, &project, now()).await?;
    let name = path.into_inner();
    accepted(&state, &caller, &req, &name, "import", None, |id| format!("{}/import/jobs/{id}", project_path(&name)))
        .await
}

/// Export a project as import takes it (202; the job's `resultUrl` gives the JSON).
#[utoipa::path(post, path = "/language/authoring/analyze-conversations/projects/{projectName}/:export", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    responses((status = 202, description = "Operation-Location: the job, with resultUrl"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn export(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let project = load(&state, &caller, &path).await?;
    let assets: Value = serde_json::from_str(&project.assets).unwrap_or_else(|_| json!({}));
    let document = json!({
        "projectFileVersion": "2023-04-01",
        "stringIndexType": project.string_index_type,
        "metadata": {
            "projectKind": "Conversation", "projectName": project.name, "language": project.language,
            "description": project.description, "multilingual": false, "settings": settings(&project),
        },
        "assets": assets,
    });
    accepted(&state, &caller, &req, &project.name, "export", Some(document.to_string()), |id| {
        format!("{}/export/jobs/{id}", project_path(&project.name))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainBody {
    model_label: String,
    training_mode: Option<String>,
}

/// Train a model on the project's utterances under a label (202; the job's `result` reports it).
#[utoipa::path(post, path = "/language/authoring/analyze-conversations/projects/{projectName}/:train", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    request_body(content = Object, description = "{\"modelLabel\", \"trainingMode\": \"standard\"}"),
    responses((status = 202, description = "trained; Operation-Location: the job"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn train(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let project = load(&state, &caller, &path).await?;
    let body: TrainBody = read_json(&req, payload, 64 * 1024).await?;
    check_resource_name(&body.model_label, 100, "A modelLabel has 1 to 100 letters, digits, '-', '_' or '.'.")?;
    let units = Units::parse(&project.string_index_type).unwrap_or(Units::Utf16);
    let assets: Assets =
        serde_json::from_str(&project.assets).map_err(|e| ApiError(ServiceError::internal(e.to_string())))?;
    let in_bytes = assets.to_bytes(units).map_err(invalid)?;
    let threshold = settings(&project).get("confidenceThreshold").and_then(Value::as_f64).unwrap_or(0.0);
    let started = now();
    let characters: u64 = in_bytes.utterances.iter().map(|u| u.text.chars().count() as u64).sum();
    state.usage.charge(&caller.key, crate::service::Service::Language, characters).await?;
    let (model, report) = language_service(&state)?.train_clu(&in_bytes, &project.language, threshold).await?;
    let (model_json, report_json) = (to_json(&model)?, to_json(&report)?);
    let finished = now();
    CluProjects::new(&state.db)
        .save_model(&caller.key.id, &project.name, &body.model_label, &model_json, &report_json, finished)
        .await?;
    let mode = body.training_mode.unwrap_or_else(|| "standard".into());
    let result = json!({
        "modelLabel": body.model_label,
        "trainingConfigVersion": TRAINING_CONFIG,
        "trainingMode": mode,
        "trainingStatus": { "percentComplete": 100, "startDateTime": rfc3339(started), "endDateTime": rfc3339(finished), "status": "succeeded" },
        "evaluationStatus": { "percentComplete": 100, "startDateTime": rfc3339(finished), "endDateTime": rfc3339(finished), "status": "succeeded" },
        "estimatedEndDateTime": rfc3339(finished),
    });
    accepted(&state, &caller, &req, &project.name, "train", Some(result.to_string()), |id| {
        format!("{}/train/jobs/{id}", project_path(&project.name))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployBody {
    trained_model_label: String,
}

fn deployment_json(d: &crate::store::clu_projects::Deployment) -> Value {
    json!({
        "deploymentName": d.name,
        "modelId": format!("{}-{}", d.label, d.trained_at),
        "lastTrainedDateTime": rfc3339(d.trained_at),
        "lastDeployedDateTime": rfc3339(d.deployed_at),
        "deploymentExpirationDate": "2027-12-31",
        "modelTrainingConfigVersion": TRAINING_CONFIG,
    })
}

/// Deploy a trained model under a name (202).
#[utoipa::path(put, path = "/language/authoring/analyze-conversations/projects/{projectName}/deployments/{deploymentName}", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("deploymentName" = String, Path), ("api-version" = String, Query)),
    request_body(content = Object, description = "{\"trainedModelLabel\"}"),
    responses((status = 202, description = "deployed; Operation-Location: the job"), (status = 404, description = "no such project or model")),
    security(("key" = []), ("bearer" = [])))]
pub async fn deploy(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let (name, deployment) = path.into_inner();
    check_resource_name(&deployment, 100, "A deployment name has 1 to 100 letters, digits, '-', '_' or '.'.")?;
    let project = load(&state, &caller, &name).await?;
    let body: DeployBody = read_json(&req, payload, 64 * 1024).await?;
    let store = CluProjects::new(&state.db);
    let (model, trained_at) =
        store.model(&caller.key.id, &project.name, &body.trained_model_label).await?.ok_or_else(|| {
            ApiError::new(Code::NotFound, format!("No model is trained as {:?}.", body.trained_model_label))
        })?;
    store
        .deploy(&caller.key.id, &project.name, &deployment, &body.trained_model_label, (&model, trained_at), now())
        .await?;
    accepted(&state, &caller, &req, &project.name, "deploy", None, |id| {
        format!("{}/deployments/{deployment}/jobs/{id}", project_path(&project.name))
    })
    .await
}

/// One deployment.
#[utoipa::path(get, path = "/language/authoring/analyze-conversations/projects/{projectName}/deployments/{deploymentName}", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("deploymentName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get_deployment(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let (name, deployment) = path.into_inner();
    let project = load(&state, &caller, &name).await?;
    let found = CluProjects::new(&state.db)
        .deployment(&caller.key.id, &project.name, &deployment)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound, format!("The deployment '{deployment}' does not exist.")))?;
    Ok(HttpResponse::Ok().json(deployment_json(&found)))
}

fn job_body(req: &HttpRequest, job: &Job) -> ApiResult<Value> {
    let mut body = lro::job_json(job);
    match job.kind.as_str() {
        "export" => {
            let version = api_version(req)?;
            body["resultUrl"] = json!(absolute(
                req,
                &format!("{}/export/jobs/{}/result?api-version={version}", project_path(&job.project), job.id)
            ));
        }
        "train" => {
            body["result"] = job.result.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or(Value::Null);
        }
        _ => {}
    }
    Ok(body)
}

async fn find(state: &AppState, caller: &Caller, id: &str, project: Option<&str>, kind: &str) -> ApiResult<Job> {
    language_service(state)?;
    lro::find_job(state, caller, JobTable::Clu, id, project, &[kind]).await
}

/// A deletion job.
#[utoipa::path(get, path = "/language/authoring/analyze-conversations/projects/global/deletion-jobs/{jobId}", tag = "Conversational language understanding",
    params(("jobId" = String, Path), ("api-version" = String, Query)), responses((status = 200), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn deletion_job(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let job = find(&state, &caller, &path, None, "delete").await?;
    Ok(HttpResponse::Ok().json(job_body(&req, &job)?))
}

/// An import, export or training job.
#[utoipa::path(get, path = "/language/authoring/analyze-conversations/projects/{projectName}/train/jobs/{jobId}", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("jobId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "the job (also .../import/jobs/{jobId} and .../export/jobs/{jobId})"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn project_job(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let (project, id) = path.into_inner();
    let kind = ["import", "export", "train"]
        .into_iter()
        .find(|k| req.path().contains(&format!("/{k}/jobs/")))
        .unwrap_or("train");
    let job = find(&state, &caller, &id, Some(&project), kind).await?;
    Ok(HttpResponse::Ok().json(job_body(&req, &job)?))
}

/// A deployment job.
#[utoipa::path(get, path = "/language/authoring/analyze-conversations/projects/{projectName}/deployments/{deploymentName}/jobs/{jobId}", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("deploymentName" = String, Path), ("jobId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn deployment_job(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let (project, _, id) = path.into_inner();
    let job = find(&state, &caller, &id, Some(&project), "deploy").await?;
    Ok(HttpResponse::Ok().json(job_body(&req, &job)?))
}

/// The document of an export job.
#[utoipa::path(get, path = "/language/authoring/analyze-conversations/projects/{projectName}/export/jobs/{jobId}/result", tag = "Conversational language understanding",
    params(("projectName" = String, Path), ("jobId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "the project as import takes it"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn export_result(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (project, id) = path.into_inner();
    let job = find(&state, &caller, &id, Some(&project), "export").await?;
    Ok(HttpResponse::Ok().content_type("application/json").body(job.result.unwrap_or_default()))
}
