//! Training, iterations, publishing and ONNX exports of Custom Vision projects.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_vision::custom::{self, Classifier, Evaluation, Example};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::super::vision_service;
use super::{load_project, not_found};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::check_resource_name;
use crate::store::vision_projects::{
    Export as ExportRow, Iteration as IterationRow, Project as ProjectRow, Published, VisionProjects,
};

/// The platforms an iteration exports to.
const EXPORT_PLATFORMS: [&str; 1] = ["ONNX"];
/// Exports built at once (each holds the base model, about 14 MB, in memory); more get 503.
static EXPORT_BUILDS: Semaphore = Semaphore::const_new(2);

fn iteration_json(it: &IterationRow, project: &ProjectRow) -> Value {
    json!({
        "id": it.id,
        "name": format!("Iteration {}", &it.id[..8.min(it.id.len())]),
        "status": it.status,
        "created": rfc3339(it.created_at),
        "lastModified": rfc3339(it.trained_at.unwrap_or(it.created_at)),
        "trainedAt": it.trained_at.map(rfc3339),
        "projectId": it.project_id,
        "exportable": true,
        "exportableTo": EXPORT_PLATFORMS,
        "domainId": super::projects::project_json(project)["settings"]["domainId"],
        "classificationType": "Multiclass",
        "trainingType": "Regular",
        "reservedBudgetInHours": 0,
        "trainingTimeInMinutes": 0,
        "publishName": it.published_name,
    })
}

/// Train a new iteration on every image of the project.
#[utoipa::path(post, path = "/customvision/v3.4-preview/training/projects/{projectId}/train", tag = "Custom vision",
    params(("projectId" = String, Path)),
    responses((status = 200, description = "the trained iteration (status Completed: training is done when this answers)"), (status = 400, description = "fewer than 2 tags or 2 images per tag")),
    security(("key" = []), ("bearer" = [])))]
pub async fn train(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    let rows = VisionProjects::new(&state.db).embeddings(&project.id).await?;
    let mut tags: Vec<String> = rows.iter().map(|(_, t, _)| t.clone()).collect();
    tags.dedup();
    let examples: Vec<Example> = rows
        .into_iter()
        .map(|(id, tag, bytes)| Example {
            tag: tags.iter().position(|t| *t == tag).unwrap_or(0),
            embedding: bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            id,
        })
        .collect();
    let (classifier, evaluation) = web::block(move || custom::train(&tags, &examples))
        .await
        .map_err(|e| ApiError(ServiceError::internal(format!("training thread failed: {e}"))))??;
    let row = IterationRow {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project.id.clone(),
        status: "Completed".into(),
        evaluation: Some(serde_json::to_string(&evaluation).unwrap_or_default()),
        published_name: None,
        created_at: now(),
        trained_at: Some(now()),
    };
    let model = serde_json::to_string(&classifier).map_err(|e| ApiError(ServiceError::internal(e.to_string())))?;
    VisionProjects::new(&state.db).insert_iteration(&row, &model).await?;
    Ok(HttpResponse::Ok().json(iteration_json(&row, &project)))
}

async fn load_iteration(
    state: &AppState,
    caller: &Caller,
    project_id: &str,
    id: &str,
) -> ApiResult<(ProjectRow, IterationRow)> {
    let project = load_project(state, &caller.key, project_id).await?;
    let iteration =
        VisionProjects::new(&state.db).iteration(&project.id, id).await?.ok_or_else(|| not_found("iteration", id))?;
    Ok((project, iteration))
}

/// The project's iterations.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/projects/{projectId}/iterations", tag = "Custom vision",
    params(("projectId" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn list_iterations(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    let rows = VisionProjects::new(&state.db).iterations(&project.id).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(|it| iteration_json(it, &project)).collect::<Vec<_>>()))
}

/// One iteration.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/projects/{projectId}/iterations/{iterationId}", tag = "Custom vision",
    params(("projectId" = String, Path), ("iterationId" = String, Path)), responses((status = 200), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn get_iteration(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (project_id, iteration_id) = path.into_inner();
    let (project, iteration) = load_iteration(&state, &caller, &project_id, &iteration_id).await?;
    Ok(HttpResponse::Ok().json(iteration_json(&iteration, &project)))
}

/// Precision and recall of an iteration, measured on the images held out while training.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/projects/{projectId}/iterations/{iterationId}/performance", tag = "Custom vision",
    params(("projectId" = String, Path), ("iterationId" = String, Path)),
    responses((status = 200, description = "precision, recall and perTagPerformance"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn performance(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (project_id, iteration_id) = path.into_inner();
    let (project, iteration) = load_iteration(&state, &caller, &project_id, &iteration_id).await?;
    let evaluation: Evaluation = iteration
        .evaluation
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok())
        .ok_or_else(|| ApiError(ServiceError::internal("the iteration has no evaluation")))?;
    let tags = VisionProjects::new(&state.db).tags(&project.id).await?;
    let tag_id = |name: &str| tags.iter().find(|t| t.name == name).map_or_else(|| name.to_string(), |t| t.id.clone());
    Ok(HttpResponse::Ok().json(json!({
        "precision": evaluation.precision,
        "recall": evaluation.recall,
        "averagePrecision": evaluation.macro_precision,
        "macroPrecision": evaluation.macro_precision,
        "macroRecall": evaluation.macro_recall,
        "trainedOn": evaluation.trained_on,
        "heldOut": evaluation.held_out,
        "perTagPerformance": evaluation.per_tag.iter().map(|t| json!({
            "id": tag_id(&t.name), "name": t.name, "precision": t.precision, "recall": t.recall,
            "imageCount": t.held_out,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub struct PublishQuery {
    #[serde(rename = "publishName")]
    publish_name: String,
}

/// Publish an iteration under a name (used by the prediction route and `model-name=`).
#[utoipa::path(post, path = "/customvision/v3.4-preview/training/projects/{projectId}/iterations/{iterationId}/publish", tag = "Custom vision",
    params(("projectId" = String, Path), ("iterationId" = String, Path), ("publishName" = String, Query),
           ("predictionId" = Option<String>, Query, description = "accepted and ignored (Azure's prediction resource)")),
    responses((status = 200, description = "true"), (status = 404), (status = 409, description = "the name is taken by another project")),
    security(("key" = []), ("bearer" = [])))]
pub async fn publish(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<PublishQuery>,
) -> ApiResult<HttpResponse> {
    let (project_id, iteration_id) = path.into_inner();
    check_resource_name(&query.publish_name, 100, "publishName must be 1 to 100 letters, digits, '-', '_' or '.'.")?;
    let (project, iteration) = load_iteration(&state, &caller, &project_id, &iteration_id).await?;
    match VisionProjects::new(&state.db).publish(&project.id, &iteration.id, &query.publish_name).await? {
        Published::Done => {}
        Published::TakenByAnotherProject => {
            return Err(ApiError::new(
                Code::Conflict,
                format!("The name {:?} is already published by another project.", query.publish_name),
            ));
        }
    }
    Ok(HttpResponse::Ok().json(true))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    platform: String,
    flavor: Option<String>,
}

fn export_json(req: &HttpRequest, export: &ExportRow) -> Value {
    let info = req.connection_info();
    json!({
        "platform": export.platform,
        "status": "Done",
        "downloadUri": format!("{}://{}/customvision/exports/{}", info.scheme(), info.host(), export.token),
        "flavor": (!export.flavor.is_empty()).then_some(&export.flavor),
        "newerVersionAvailable": false,
    })
}

/// Export an iteration (ONNX). The answer's `downloadUri` needs no key (it holds an unguessable
/// token, as Azure's signed link does); the file is the image model with the classifier on top.
#[utoipa::path(post, path = "/customvision/v3.4-preview/training/projects/{projectId}/iterations/{iterationId}/export", tag = "Custom vision",
    params(("projectId" = String, Path), ("iterationId" = String, Path),
           ("platform" = String, Query, description = "ONNX"), ("flavor" = Option<String>, Query, description = "ONNX10 or ONNX12 (the file is opset 13 either way)")),
    responses((status = 200, description = "the export: status Done and its downloadUri"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn export(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<ExportQuery>,
) -> ApiResult<HttpResponse> {
    let (project_id, iteration_id) = path.into_inner();
    let (project, iteration) = load_iteration(&state, &caller, &project_id, &iteration_id).await?;
    let Some(platform) = EXPORT_PLATFORMS.iter().find(|p| p.eq_ignore_ascii_case(query.platform.trim())) else {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("The platform {:?} is not offered: iterations export to ONNX.", query.platform),
        ));
    };
    let flavor = query.flavor.as_deref().map(str::trim).unwrap_or_default();
    if !["", "ONNX10", "ONNX12"].iter().any(|f| f.eq_ignore_ascii_case(flavor)) {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("The flavor {flavor:?} is not offered: ONNX10 or ONNX12 (or none)."),
        ));
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let row = VisionProjects::new(&state.db)
        .export(&project.id, &iteration.id, platform, &flavor.to_ascii_uppercase(), &token)
        .await?;
    Ok(HttpResponse::Ok().json(export_json(&req, &row)))
}

/// The exports of an iteration.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/projects/{projectId}/iterations/{iterationId}/export", tag = "Custom vision",
    params(("projectId" = String, Path), ("iterationId" = String, Path)),
    responses((status = 200, description = "the iteration's exports"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn list_exports(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (project_id, iteration_id) = path.into_inner();
    let (_, iteration) = load_iteration(&state, &caller, &project_id, &iteration_id).await?;
    let rows = VisionProjects::new(&state.db).exports(&iteration.id).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(|e| export_json(&req, e)).collect::<Vec<_>>()))
}

/// Download an export (the `downloadUri` of an export; no key).
#[utoipa::path(get, path = "/customvision/exports/{token}", tag = "Custom vision",
    params(("token" = String, Path)),
    responses((status = 200, description = "the ONNX model: input `image` [N,3,224,224] RGB 0..255 (centre crop), outputs `probabilities` [N,tags] (tag order in the metadata entry `tags`) and `classLabel`", content_type = "application/octet-stream"),
              (status = 404), (status = 503, description = "too many exports being built; retry after Retry-After")))]
pub async fn download_export(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    super::super::enabled(&state)?;
    let missing = || not_found("export", "");
    if path.len() != 64 || !path.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(missing());
    }
    let store = VisionProjects::new(&state.db);
    let export = store.export_by_token(&path).await?.ok_or_else(missing)?;
    let classifier: Classifier = store
        .iteration_model(&export.iteration_id)
        .await?
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(|| ApiError(ServiceError::internal("the exported iteration has no model")))?;
    let service = vision_service(&state)?;
    let permit = EXPORT_BUILDS.try_acquire().map_err(|_| {
        ApiError(
            ServiceError::new(Code::Overloaded, "Too many exports are being built; retry shortly.").with_retry_after(2),
        )
    })?;
    let bytes = web::block(move || {
        let bytes = service.export_onnx(&classifier);
        drop(permit);
        bytes
    })
    .await
    .map_err(|e| ApiError(ServiceError::internal(format!("export thread failed: {e}"))))??;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{}.onnx\"", export.iteration_id)))
        .body(bytes))
}
