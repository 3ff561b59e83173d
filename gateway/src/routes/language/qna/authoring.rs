//! The question answering authoring API: projects, QnAs, synonyms, deployments, import and
//! export. Long-running operations (delete, update QnAs, deploy, import, export) do their work
//! before answering 202 with an absolute `Operation-Location`, where the job already reads
//! `succeeded`; the PUT and PATCH URLs also answer GET, where the SDK's poller reads the result.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_language::qna::knowledge_base::KnowledgeBase;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api_version;
use super::assets::Assets;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::owners::{Stored, ensure_room};
use crate::routes::body::{check_resource_name, read_json, to_json};
use crate::routes::language::language_service;
use crate::routes::language::lro::{self, Done, absolute};
use crate::routes::query::{query_pairs, query_param};
use crate::store::authoring_jobs::{Job, JobTable};
use crate::store::qna_projects::{Project, QnaProjects};

/// Largest body of an edit or import (a project's worth of QnAs).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Items of one page of a list, unless `top` asks for fewer.
const PAGE: usize = 100;
/// Attempts at an edit that other writers keep changing under it.
const EDIT_ATTEMPTS: usize = 5;

fn not_found(name: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("The question answering project '{name}' does not exist."))
}

fn check_name(name: &str) -> ApiResult<()> {
    check_resource_name(name, 100, "A project or deployment name has 1 to 100 letters, digits, '-', '_' or '.'.")
}

async fn load(state: &AppState, caller: &Caller, name: &str) -> ApiResult<Project> {
    language_service(state)?;
    QnaProjects::new(&state.db).get(&caller.key.id, name).await?.ok_or_else(|| not_found(name))
}

fn parse_assets(project: &Project) -> ApiResult<Assets> {
    serde_json::from_str(&project.assets)
        .map_err(|e| ApiError(ServiceError::internal(format!("the project's QnAs cannot be read: {e}"))))
}

fn project_json(p: &Project) -> Value {
    json!({
        "projectName": p.name,
        "description": p.description,
        "language": p.language,
        "multilingualResource": p.multilingual != 0,
        "settings": { "defaultAnswer": p.default_answer },
        "createdDateTime": rfc3339(p.created_at),
        "lastModifiedDateTime": rfc3339(p.updated_at),
        "lastDeployedDateTime": p.deployed_at.map(rfc3339),
    })
}

/// A page of `items` as Azure lists them: `{"value": [...]}`, with an absolute `nextLink` only
/// when more follow.
fn page(req: &HttpRequest, items: Vec<Value>) -> ApiResult<HttpResponse> {
    let pairs = query_pairs(req);
    let number = |name: &str| -> ApiResult<Option<usize>> {
        query_param(&pairs, name)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| ApiError::new(Code::InvalidParameterValue, format!("{name} must be a whole number.")))
            })
            .transpose()
    };
    let skip = number("skip")?.unwrap_or(0);
    let top = number("top")?.unwrap_or(PAGE).clamp(1, PAGE);
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(skip).take(top).collect();
    let mut body = json!({ "value": value });
    if skip + top < total {
        let others: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k != "skip" && k != "top")
            .map(|(k, v)| format!("{}={}", urlencoding(k), urlencoding(v)))
            .collect();
        let query =
            others.into_iter().chain([format!("skip={}", skip + top), format!("top={top}")]).collect::<Vec<_>>();
        body["nextLink"] = json!(absolute(req, &format!("{}?{}", req.path(), query.join("&"))));
    }
    Ok(HttpResponse::Ok().json(body))
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Records a finished job of `kind` and answers 202 with its `Operation-Location`.
async fn accepted(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    project: &str,
    kind: &str,
    location: impl FnOnce(&str) -> String,
    result: Option<String>,
) -> ApiResult<HttpResponse> {
    let done = Done { table: JobTable::Qna, project, kind, result, version: api_version(req)? };
    lro::accepted(state, caller, req, done, location).await
}

fn project_path(project: &str) -> String {
    format!("/language/query-knowledgebases/projects/{project}")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectOptions {
    language: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    multilingual_resource: bool,
    settings: Option<ProjectSettings>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectSettings {
    default_answer: Option<String>,
}

async fn put_project(
    state: &AppState,
    caller: &Caller,
    name: &str,
    options: &ProjectOptions,
    existing: Option<&Project>,
) -> ApiResult<bool> {
    let language = options
        .language
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .or(existing.map(|p| p.language.as_str()))
        .ok_or_else(|| ApiError::new(Code::InvalidParameterValue, "A project needs a language (for example \"en\")."))?
        .to_string();
    if language.len() > 10 || !language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("The language {language:?} is not a language code."),
        ));
    }
    let default_answer = options.settings.as_ref().and_then(|s| s.default_answer.as_deref()).map(str::trim);
    if options.description.chars().count() > 1_000 || default_answer.is_some_and(|a| a.chars().count() > 300) {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            "A description has at most 1000 characters and a default answer at most 300.",
        ));
    }
    if existing.is_none() {
        ensure_room(&state.db, Stored::QnaProjects, &caller.key, state.settings.limits.max_customizations_per_key)
            .await?;
    }
    let empty = to_json(&Assets { next_id: 1, ..Assets::default() })?;
    Ok(QnaProjects::new(&state.db)
        .put(
            &caller.key.id,
            name,
            &language,
            &options.description,
            default_answer.filter(|a| !a.is_empty()),
            options.multilingual_resource,
            &empty,
            now(),
        )
        .await?)
}

/// Create or update a project (`PATCH`, as Azure's `create_project`): 201 when created.
#[utoipa::path(patch, path = "/language/query-knowledgebases/projects/{projectName}", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query, description = "2021-10-01 or 2023-04-01")),
    request_body(content = Object, description = "{\"language\", \"description\", \"multilingualResource\", \"settings\": {\"defaultAnswer\"}}"),
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
    check_name(&path)?;
    let options: ProjectOptions = read_json(&req, payload, 64 * 1024).await?;
    let store = QnaProjects::new(&state.db);
    let existing = store.get(&caller.key.id, &path).await?;
    let created = put_project(&state, &caller, &path, &options, existing.as_ref()).await?;
    let project = store.get(&caller.key.id, &path).await?.ok_or_else(|| not_found(&path))?;
    let status = if created { actix_web::http::StatusCode::CREATED } else { actix_web::http::StatusCode::OK };
    Ok(HttpResponse::build(status).json(project_json(&project)))
}

/// The key's projects.
#[utoipa::path(get, path = "/language/query-knowledgebases/projects", tag = "Question answering",
    params(("api-version" = String, Query), ("top" = Option<usize>, Query), ("skip" = Option<usize>, Query)),
    responses((status = 200, description = "{\"value\": [project], \"nextLink\"}")), security(("key" = []), ("bearer" = [])))]
pub async fn list_projects(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    language_service(&state)?;
    let limit = i64::from(state.settings.limits.max_customizations_per_key).max(1_000);
    let projects = QnaProjects::new(&state.db).list(&caller.key.id, 0, limit).await?;
    page(&req, projects.iter().map(project_json).collect())
}

/// One project.
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/{projectName}", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get_project(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let project = load(&state, &caller, &path).await?;
    Ok(HttpResponse::Ok().json(project_json(&project)))
}

/// Delete a project with its deployments (202; the deletion job reads `succeeded`).
#[utoipa::path(delete, path = "/language/query-knowledgebases/projects/{projectName}", tag = "Question answering",
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
    QnaProjects::new(&state.db).delete(&caller.key.id, &project.name).await?;
    accepted(
        &state,
        &caller,
        &req,
        &project.name,
        "delete",
        |id| format!("/language/query-knowledgebases/projects/deletion-jobs/{id}"),
        None,
    )
    .await
}

fn job_json(req: &HttpRequest, job: &Job) -> ApiResult<Value> {
    let mut body = lro::job_json(job);
    if job.kind == "export" {
        let version = api_version(req)?;
        body["resultUrl"] = json!(absolute(
            req,
            &format!("{}/export/jobs/{}/result?api-version={version}", project_path(&job.project), job.id)
        ));
    }
    Ok(body)
}

async fn find_job(
    state: &AppState,
    caller: &Caller,
    id: &str,
    project: Option<&str>,
    kinds: &[&str],
) -> ApiResult<Job> {
    language_service(state)?;
    lro::find_job(state, caller, JobTable::Qna, id, project, kinds).await
}

/// A deletion job.
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/deletion-jobs/{jobId}", tag = "Question answering",
    params(("jobId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "{\"jobId\", \"status\", ...}"), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn job(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let job = find_job(&state, &caller, &path, None, &["delete"]).await?;
    Ok(HttpResponse::Ok().json(job_json(&req, &job)?))
}

/// A QnA update, import or export job.
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/{projectName}/qnas/jobs/{jobId}", tag = "Question answering",
    params(("projectName" = String, Path), ("jobId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "{\"jobId\", \"status\", ...} (also at .../import/jobs/{jobId} and .../export/jobs/{jobId}, with resultUrl)"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn project_job(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let (project, id) = path.into_inner();
    let kind = if req.path().contains("/export/jobs/") {
        "export"
    } else if req.path().contains("/import/jobs/") {
        "import"
    } else {
        "qnas"
    };
    let job = find_job(&state, &caller, &id, Some(&project), &[kind]).await?;
    Ok(HttpResponse::Ok().json(job_json(&req, &job)?))
}

/// A deployment job.
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/{projectName}/deployments/{deploymentName}/jobs/{jobId}", tag = "Question answering",
    params(("projectName" = String, Path), ("deploymentName" = String, Path), ("jobId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn deploy_job(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let (project, _, id) = path.into_inner();
    let job = find_job(&state, &caller, &id, Some(&project), &["deploy"]).await?;
    Ok(HttpResponse::Ok().json(job_json(&req, &job)?))
}

fn qna_json(qna: &cogway_language::qna::knowledge_base::Qna, updated: i64) -> Value {
    let mut value = serde_json::to_value(qna).unwrap_or_else(|_| json!({}));
    value["lastUpdatedDateTime"] = json!(rfc3339(updated));
    value
}

/// The project's QnAs (`source` keeps those of one source).
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/{projectName}/qnas", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query), ("source" = Option<String>, Query),
           ("top" = Option<usize>, Query), ("skip" = Option<usize>, Query)),
    responses((status = 200, description = "{\"value\": [QnA], \"nextLink\"}"), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn list_qnas(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let project = load(&state, &caller, &path).await?;
    let assets = parse_assets(&project)?;
    let pairs = query_pairs(&req);
    let source = query_param(&pairs, "source");
    let items = assets
        .qnas
        .iter()
        .filter(|q| source.is_none_or(|s| q.source.eq_ignore_ascii_case(s)))
        .map(|q| qna_json(q, project.updated_at))
        .collect();
    page(&req, items)
}

/// Reads QnAs or edits from JSON values (parsed again on each attempt of [`edit`]).
fn parse_qnas<T: serde::de::DeserializeOwned>(values: &[Value]) -> ApiResult<Vec<T>> {
    values
        .iter()
        .map(|v| serde_json::from_value(v.clone()))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::new(Code::InvalidRequestBodyFormat, format!("A QnA or edit is not well formed: {e}")))
}

/// Changes the project's assets with `change`, retrying when another writer got there first.
async fn edit(
    state: &AppState,
    caller: &Caller,
    name: &str,
    change: impl Fn(&mut Assets) -> ApiResult<()>,
) -> ApiResult<()> {
    for _ in 0..EDIT_ATTEMPTS {
        let project = load(state, caller, name).await?;
        let mut assets = parse_assets(&project)?;
        change(&mut assets)?;
        let json = to_json(&assets)?;
        if QnaProjects::new(&state.db).save_assets(&caller.key.id, name, project.revision, &json, now()).await? {
            return Ok(());
        }
    }
    Err(ApiError(
        ServiceError::new(Code::Conflict, "The project kept changing under this edit; retry it.").with_retry_after(1),
    ))
}

/// Add, replace or delete QnAs (all or none; 202, the job reads `succeeded`).
#[utoipa::path(patch, path = "/language/query-knowledgebases/projects/{projectName}/qnas", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    request_body(content = Object, description = "[{\"op\": \"add\"|\"replace\"|\"delete\", \"value\": {\"id\", \"answer\", \"questions\", \"metadata\", \"source\", \"dialog\"}}]"),
    responses((status = 202, description = "done; Operation-Location: the job"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn update_qnas(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    load(&state, &caller, &path).await?;
    let edits: Vec<Value> = read_json(&req, payload, MAX_BODY_BYTES).await?;
    edit(&state, &caller, &path, |assets| assets.apply(parse_qnas(&edits)?)).await?;
    let project = path.into_inner();
    accepted(&state, &caller, &req, &project, "qnas", |id| format!("{}/qnas/jobs/{id}", project_path(&project)), None)
        .await
}

/// The project's synonym groups.
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/{projectName}/synonyms", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "{\"value\": [{\"alterations\": [...]}]}"), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn list_synonyms(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let assets = parse_assets(&load(&state, &caller, &path).await?)?;
    page(&req, assets.synonyms.iter().map(|g| json!({ "alterations": g })).collect())
}

#[derive(Deserialize)]
pub struct SynonymsBody {
    value: Vec<SynonymGroup>,
}

#[derive(Deserialize)]
struct SynonymGroup {
    alterations: Vec<String>,
}

/// Replace the synonym groups (204).
#[utoipa::path(put, path = "/language/query-knowledgebases/projects/{projectName}/synonyms", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    request_body(content = Object, description = "{\"value\": [{\"alterations\": [\"wifi\", \"wireless network\"]}]}"),
    responses((status = 204), (status = 400), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn update_synonyms(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    load(&state, &caller, &path).await?;
    let body: SynonymsBody = read_json(&req, payload, 1024 * 1024).await?;
    let groups: Vec<Vec<String>> = body.value.into_iter().map(|g| g.alterations).collect();
    edit(&state, &caller, &path, |assets| assets.set_synonyms(groups.clone())).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The project's sources (files and URLs): none, since QnAs are written through the API.
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/{projectName}/sources", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "{\"value\": []}"), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn list_sources(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    load(&state, &caller, &path).await?;
    page(&req, Vec::new())
}

/// Adding files or URLs as sources is not offered (400).
#[utoipa::path(patch, path = "/language/query-knowledgebases/projects/{projectName}/sources", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    responses((status = 400, description = "sources are not offered: add QnAs, or import them")), security(("key" = []), ("bearer" = [])))]
pub async fn update_sources(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    load(&state, &caller, &path).await?;
    Err(ApiError::new(
        Code::InvalidRequest,
        "Importing QnAs from files or URLs is not offered: add them with PATCH .../qnas, or import a JSON export.",
    ))
}

fn deployment_json(name: &str, deployed_at: i64) -> Value {
    json!({ "deploymentName": name, "lastDeployedDateTime": rfc3339(deployed_at) })
}

/// The project's deployments.
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/{projectName}/deployments", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "{\"value\": [{\"deploymentName\", \"lastDeployedDateTime\"}]}"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn list_deployments(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let project = load(&state, &caller, &path).await?;
    let deployments = QnaProjects::new(&state.db).deployments(&caller.key.id, &project.name).await?;
    page(&req, deployments.iter().map(|d| deployment_json(&d.name, d.deployed_at)).collect())
}

/// One deployment (where the SDK's deploy poller reads its result).
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/{projectName}/deployments/{deploymentName}", tag = "Question answering",
    params(("projectName" = String, Path), ("deploymentName" = String, Path), ("api-version" = String, Query)),
    responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get_deployment(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let (project, deployment) = path.into_inner();
    let project = load(&state, &caller, &project).await?;
    let at = QnaProjects::new(&state.db)
        .deployed_at(&caller.key.id, &project.name, &deployment)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound, format!("The deployment '{deployment}' does not exist.")))?;
    Ok(HttpResponse::Ok().json(deployment_json(&deployment, at)))
}

/// Deploy the project as it is now under a name (its questions and answers are embedded here;
/// 202, the job reads `succeeded`).
#[utoipa::path(put, path = "/language/query-knowledgebases/projects/{projectName}/deployments/{deploymentName}", tag = "Question answering",
    params(("projectName" = String, Path), ("deploymentName" = String, Path), ("api-version" = String, Query)),
    responses((status = 202, description = "deployed; Operation-Location: the job"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn deploy(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let (name, deployment) = path.into_inner();
    check_name(&deployment)?;
    let project = load(&state, &caller, &name).await?;
    let assets = parse_assets(&project)?;
    let kb = KnowledgeBase {
        language: project.language.clone(),
        default_answer: project.default_answer.clone(),
        qnas: assets.qnas,
        synonyms: assets.synonyms,
    };
    let texts = kb.texts_to_embed();
    let characters: u64 = texts.iter().map(|t| t.chars().count() as u64).sum();
    state.usage.charge(&caller.key, crate::service::Service::Language, characters).await?;
    let vectors = language_service(&state)?.embed(texts).await?;
    let blob: Vec<u8> = vectors.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    QnaProjects::new(&state.db).deploy(&caller.key.id, &name, &deployment, &to_json(&kb)?, &blob, now()).await?;
    accepted(
        &state,
        &caller,
        &req,
        &name,
        "deploy",
        |id| format!("{}/deployments/{deployment}/jobs/{id}", project_path(&name)),
        None,
    )
    .await
}

/// The export document: the project's settings and assets, in the shape import takes.
fn export_document(project: &Project, assets: &Assets) -> Value {
    json!({
        "metadata": {
            "language": project.language,
            "description": project.description,
            "multilingualResource": project.multilingual != 0,
            "settings": { "defaultAnswer": project.default_answer },
        },
        "assets": {
            "qnas": assets.qnas,
            "synonyms": assets.synonyms.iter().map(|g| json!({ "alterations": g })).collect::<Vec<_>>(),
        },
    })
}

fn check_format(req: &HttpRequest) -> ApiResult<()> {
    let pairs = query_pairs(req);
    match query_param(&pairs, "format") {
        None => Ok(()),
        Some(f) if f.eq_ignore_ascii_case("json") => Ok(()),
        Some(f) => Err(ApiError::new(Code::InvalidParameterValue, format!("The format {f:?} is not offered: json."))),
    }
}

/// Export the project as JSON (202; the job's `resultUrl` gives the document).
#[utoipa::path(post, path = "/language/query-knowledgebases/projects/{projectName}/:export", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query), ("format" = Option<String>, Query, description = "json")),
    responses((status = 202, description = "Operation-Location: the job, with resultUrl"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn export(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    check_format(&req)?;
    let project = load(&state, &caller, &path).await?;
    let document = export_document(&project, &parse_assets(&project)?);
    accepted(
        &state,
        &caller,
        &req,
        &project.name,
        "export",
        |id| format!("{}/export/jobs/{id}", project_path(&project.name)),
        Some(document.to_string()),
    )
    .await
}

/// The document of an export job.
#[utoipa::path(get, path = "/language/query-knowledgebases/projects/{projectName}/export/jobs/{jobId}/result", tag = "Question answering",
    params(("projectName" = String, Path), ("jobId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "{\"metadata\", \"assets\": {\"qnas\", \"synonyms\"}}"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn export_result(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (project, id) = path.into_inner();
    let job = find_job(&state, &caller, &id, Some(&project), &["export"]).await?;
    Ok(HttpResponse::Ok().content_type("application/json").body(job.result.unwrap_or_default()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportBody {
    metadata: Option<ProjectOptions>,
    assets: Option<ImportAssets>,
    file_uri: Option<String>,
}

#[derive(Deserialize)]
struct ImportAssets {
    #[serde(default)]
    qnas: Vec<Value>,
    #[serde(default)]
    synonyms: Vec<SynonymGroup>,
}

/// Import a project (as `:export` writes it): creates the project or replaces its QnAs and
/// synonyms (202, the job reads `succeeded`).
#[utoipa::path(post, path = "/language/query-knowledgebases/projects/{projectName}/:import", tag = "Question answering",
    params(("projectName" = String, Path), ("api-version" = String, Query), ("format" = Option<String>, Query, description = "json")),
    request_body(content = Object, description = "{\"metadata\": {\"language\", ...}, \"assets\": {\"qnas\": [...], \"synonyms\": [{\"alterations\"}]}}"),
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
    check_format(&req)?;
    language_service(&state)?;
    check_name(&path)?;
    let body: ImportBody = read_json(&req, payload, MAX_BODY_BYTES).await?;
    if body.file_uri.is_some() {
        return Err(ApiError::new(
            Code::InvalidRequest,
            "Importing from a fileUri is not offered: send the assets in the body.",
        ));
    }
    let store = QnaProjects::new(&state.db);
    let existing = store.get(&caller.key.id, &path).await?;
    if existing.is_none() || body.metadata.is_some() {
        let options = body.metadata.unwrap_or(ProjectOptions {
            language: None,
            description: String::new(),
            multilingual_resource: false,
            settings: None,
        });
        put_project(&state, &caller, &path, &options, existing.as_ref()).await?;
    }
    let assets = body.assets.unwrap_or(ImportAssets { qnas: Vec::new(), synonyms: Vec::new() });
    let groups: Vec<Vec<String>> = assets.synonyms.into_iter().map(|g| g.alterations).collect();
    edit(&state, &caller, &path, |current| {
        current.replace_qnas(parse_qnas(&assets.qnas)?)?;
        current.set_synonyms(groups.clone())
    })
    .await?;
    let project = path.into_inner();
    accepted(
        &state,
        &caller,
        &req,
        &project,
        "import",
        |id| format!("{}/import/jobs/{id}", project_path(&project)),
        None,
    )
    .await
}
