//! Custom image classifiers, in the shape of Azure Custom Vision (training v3.3, prediction v3.0):
//! create a project, upload labelled images (one image, a multipart form of many, or a zip whose
//! folder names are the tags), train (a held-out fifth measures precision and recall), publish an
//! iteration under a name, then classify through the prediction route or with
//! `model-name=<published name>` on `imageanalysis:analyze`.
//!
//! Projects, images (with their embeddings) and iterations live in the database, so they survive
//! restarts; deleting a project deletes all of it. A project is visible to the key that created it
//! and to admin keys.

use std::io::{BufRead, Cursor, Read};

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_vision::custom::{self, Classifier, Evaluation, Example};
use serde::Deserialize;
use serde_json::{Value, json};

use super::image_body::decode;
use super::{SERVICE, vision_service};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use crate::owners::{Stored, ensure_room};
use crate::routes::body::{check_resource_name, content_type, read_limited};
use crate::routes::form::read_form;
use crate::store::vision_projects::{
    Iteration as IterationRow, NewImage, Project as ProjectRow, Published, VisionProjects,
};

/// Most images one upload may carry.
const MAX_IMAGES_PER_UPLOAD: usize = 64;
/// Largest upload (a zip or a form of many images).
const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Most images a project may hold.
const MAX_IMAGES_PER_PROJECT: i64 = 5_000;

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("The {what} '{id}' does not exist."))
}

fn project_json(p: &ProjectRow) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "settings": { "classificationType": "Multiclass" },
        "created": rfc3339(p.created_at),
    })
}

async fn load_project(state: &AppState, key: &KeyInfo, id: &str) -> ApiResult<ProjectRow> {
    super::enabled(state)?;
    match VisionProjects::new(&state.db).get(id).await? {
        Some(p) if p.key_id == key.id || key.is_admin => Ok(p),
        _ => Err(not_found("project", id)),
    }
}

#[derive(Deserialize)]
pub struct CreateProject {
    name: String,
    description: Option<String>,
}

/// Create a project.
#[utoipa::path(post, path = "/customvision/v3.3/training/projects", tag = "Custom vision",
    params(("name" = String, Query), ("description" = Option<String>, Query)),
    responses((status = 200, description = "the project"), (status = 400)),
    security(("key" = []), ("bearer" = [])))]
pub async fn create_project(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<CreateProject>,
) -> ApiResult<HttpResponse> {
    super::enabled(&state)?;
    let name = query.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::new(Code::InvalidParameterValue, "A project needs a name of 1 to 200 characters."));
    }
    ensure_room(&state.db, Stored::VisionProjects, &caller.key, state.settings.limits.max_customizations_per_key)
        .await?;
    let row = ProjectRow {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        description: query.description.clone().unwrap_or_default(),
        key_id: caller.key.id.clone(),
        created_at: now(),
    };
    VisionProjects::new(&state.db).insert(&row).await?;
    Ok(HttpResponse::Ok().json(project_json(&row)))
}

/// List the projects of this key.
#[utoipa::path(get, path = "/customvision/v3.3/training/projects", tag = "Custom vision",
    responses((status = 200, description = "projects")), security(("key" = []), ("bearer" = [])))]
pub async fn list_projects(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    super::enabled(&state)?;
    let rows = VisionProjects::new(&state.db).list(&caller.key.id, caller.key.is_admin).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(project_json).collect::<Vec<_>>()))
}

/// One project.
#[utoipa::path(get, path = "/customvision/v3.3/training/projects/{projectId}", tag = "Custom vision",
    params(("projectId" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get_project(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    Ok(HttpResponse::Ok().json(project_json(&project)))
}

/// Delete a project with its images and iterations.
#[utoipa::path(delete, path = "/customvision/v3.3/training/projects/{projectId}", tag = "Custom vision",
    params(("projectId" = String, Path)), responses((status = 204), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn delete_project(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    VisionProjects::new(&state.db).delete(&project.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One image of an upload, before it is decoded.
pub(crate) struct Upload {
    tag: String,
    name: String,
    bytes: web::Bytes,
}

fn check_tag(tag: &str) -> ApiResult<String> {
    let tag = tag.trim();
    if tag.is_empty() || tag.len() > 100 || tag.chars().any(char::is_control) {
        return Err(ApiError::new(Code::InvalidParameterValue, "A tag name must have 1 to 100 printable characters."));
    }
    Ok(tag.to_string())
}

/// Most entries a zip may list, folders and skipped files included.
const MAX_ZIP_ENTRIES: usize = 1_024;

/// What one zip upload may unpack to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ZipLimits {
    /// Each image (`vision.max_image_bytes`).
    pub image: u64,
    /// All images together (`vision.max_zip_bytes`).
    pub total: u64,
}

/// How many central-directory entries a zip reader could find in `bytes`: each starts with the
/// signature `PK\x01\x02`, so there are at most as many as it occurs (whatever the end record
/// claims). Jumps from one `\x02` byte to the next with std's `memchr`.
fn central_headers(bytes: &[u8]) -> usize {
    let mut rest = Cursor::new(bytes);
    let mut count = 0;
    while matches!(rest.skip_until(0x02), Ok(n) if n > 0) {
        let end = usize::try_from(rest.position()).unwrap_or(0);
        if end >= 4 && bytes[end - 4..end] == *b"PK\x01\x02" {
            count += 1;
        }
    }
    count
}

/// The images of a zip: `tag/file.jpg` (the folder is the tag); files outside a folder, and
/// folders' own entries, are skipped. Bounded before anything is inflated, from the sizes the
/// entries declare (each at most `limits.image`, together at most `limits.total`), and while
/// reading: an entry that unpacks to more than it declared is refused at the first byte past it.
/// Runs on the blocking pool (it inflates up to `limits.total` bytes).
pub(crate) fn unzip(bytes: &[u8], limits: ZipLimits) -> ApiResult<Vec<Upload>> {
    let bad = |e: &dyn std::fmt::Display| ApiError::new(Code::InvalidRequest, format!("The zip cannot be read: {e}"));
    let too_many = || ApiError::new(Code::InvalidRequest, format!("A zip may list at most {MAX_ZIP_ENTRIES} entries."));
    // The reader parses the whole directory up front: count its entries before it does.
    if central_headers(bytes) > MAX_ZIP_ENTRIES {
        return Err(too_many());
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(&e))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(too_many());
    }
    // The images and their declared sizes, from the directory alone.
    let mut wanted = Vec::new();
    let mut total = 0u64;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| bad(&e))?;
        if entry.is_dir() {
            continue;
        }
        let Some(path) = entry.enclosed_name() else { continue };
        let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().to_string()).collect();
        if parts.len() < 2 || parts.iter().any(|p| p.starts_with('.') || p == "__MACOSX") {
            continue;
        }
        if wanted.len() >= MAX_IMAGES_PER_UPLOAD {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("A zip may hold at most {MAX_IMAGES_PER_UPLOAD} images."),
            ));
        }
        let name = parts.join("/");
        let size = entry.size();
        if size > limits.image {
            return Err(ApiError::new(
                Code::InvalidImageSize,
                format!(
                    "The zip entry {name:?} unpacks to {size} bytes; an image may have at most {} bytes.",
                    limits.image
                ),
            ));
        }
        total = total.saturating_add(size);
        if total > limits.total {
            return Err(ApiError::new(
                Code::PayloadTooLarge,
                format!("The zip's images unpack to more than {} bytes, the most one upload may hold.", limits.total),
            ));
        }
        wanted.push((i, check_tag(&parts[parts.len() - 2])?, name, size));
    }
    if wanted.is_empty() {
        return Err(ApiError::new(Code::InvalidRequest, "The zip has no images in tag folders (tag/image.jpg)."));
    }
    // Read each through `take(declared + 1)`: a zip can lie about its sizes.
    let mut out = Vec::with_capacity(wanted.len());
    for (i, tag, name, size) in wanted {
        let mut entry = archive.by_index(i).map_err(|e| bad(&e))?;
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut entry).take(size.saturating_add(1)).read_to_end(&mut data).map_err(|e| bad(&e))?;
        if data.len() as u64 != size {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("The zip entry {name:?} does not unpack to the {size} bytes it declares."),
            ));
        }
        out.push(Upload { tag, name, bytes: web::Bytes::from(data) });
    }
    Ok(out)
}

#[derive(Deserialize)]
pub struct ImageQuery {
    tag: Option<String>,
    #[serde(rename = "tagIds")]
    tag_ids: Option<String>,
}

/// Upload labelled images.
#[utoipa::path(post, path = "/customvision/v3.3/training/projects/{projectId}/images", tag = "Custom vision",
    params(("projectId" = String, Path),
           ("tag" = Option<String>, Query, description = "the tag of the uploaded image(s); `tagIds` is accepted too (one tag)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "one image; or multipart/form-data with image files (a `tag` field or the query tag); or application/zip with one folder per tag"),
    responses((status = 200, description = "isBatchSuccessful and one entry per image"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn add_images(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ImageQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    let service = vision_service(&state)?;
    let query_tag = query.tag.as_deref().or(query.tag_ids.as_deref()).map(check_tag).transpose()?;
    let ct = content_type(&req).to_ascii_lowercase();
    let need_tag = || {
        query_tag
            .clone()
            .ok_or_else(|| ApiError::new(Code::InvalidParameterValue, "Name the images' tag with ?tag=NAME."))
    };
    let uploads = if ct.starts_with("application/zip") || ct.starts_with("application/x-zip") {
        let zip = read_limited(&req, payload, MAX_UPLOAD_BYTES).await?;
        let limits = ZipLimits {
            image: state.settings.vision.max_image_bytes as u64,
            total: state.settings.vision.max_zip_bytes as u64,
        };
        web::block(move || unzip(&zip, limits))
            .await
            .map_err(|e| ApiError(ServiceError::internal(format!("unzipping thread failed: {e}"))))??
    } else if ct.starts_with("multipart/form-data") {
        let form = read_form(&req, payload, MAX_UPLOAD_BYTES, "imageData").await?;
        let tag = match form.get("tag") {
            Some(t) => check_tag(t)?,
            None => need_tag()?,
        };
        let files: Vec<_> = form.file.into_iter().chain(form.files).collect();
        if files.is_empty() || files.len() > MAX_IMAGES_PER_UPLOAD {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("A form must carry 1 to {MAX_IMAGES_PER_UPLOAD} image files."),
            ));
        }
        files
            .into_iter()
            .enumerate()
            .map(|(i, f)| Upload {
                tag: tag.clone(),
                name: f.filename.unwrap_or_else(|| format!("image{i}")),
                bytes: f.bytes,
            })
            .collect()
    } else {
        let bytes = super::image_body::image_bytes(&state, &req, payload).await?;
        vec![Upload { tag: need_tag()?, name: "image".into(), bytes }]
    };
    let stored = VisionProjects::new(&state.db).image_count(&project.id).await?;
    if stored + uploads.len() as i64 > MAX_IMAGES_PER_PROJECT {
        return Err(ApiError::new(
            Code::InvalidRequest,
            format!("A project may hold at most {MAX_IMAGES_PER_PROJECT} images; it has {stored}."),
        ));
    }
    state.usage.charge_images(&caller.key, SERVICE, uploads.len() as u64).await?;
    let mut results = Vec::new();
    let mut all_ok = true;
    for upload in uploads {
        let outcome = store_image(&state, &service, &project.id, &upload).await;
        match outcome {
            Ok(id) => results.push(json!({
                "sourceUrl": upload.name, "status": "OK",
                "image": { "id": id, "tags": [{ "tagName": upload.tag }] },
            })),
            Err(e) if e.0.code.http_status() < 500 => {
                all_ok = false;
                let status = if e.0.code == Code::InvalidImageSize { "ErrorImageSize" } else { "ErrorImageFormat" };
                results.push(json!({ "sourceUrl": upload.name, "status": status, "message": e.0.message }));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "isBatchSuccessful": all_ok, "images": results })))
}

async fn store_image(
    state: &AppState,
    service: &cogway_vision::VisionService,
    project_id: &str,
    upload: &Upload,
) -> ApiResult<String> {
    let picture = decode(state, upload.bytes.clone()).await?;
    let classification = service.classify(picture.rgb.clone()).await?;
    let embedding: Vec<u8> = classification.embedding.iter().flat_map(|v| v.to_le_bytes()).collect();
    let image = NewImage {
        project_id,
        tag: &upload.tag,
        data: upload.bytes.as_ref(),
        embedding: &embedding,
        width: picture.width(),
        height: picture.height(),
    };
    Ok(VisionProjects::new(&state.db).insert_image(image).await?)
}

/// The project's tags with their image counts.
#[utoipa::path(get, path = "/customvision/v3.3/training/projects/{projectId}/tags", tag = "Custom vision",
    params(("projectId" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn list_tags(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    let rows = VisionProjects::new(&state.db).tag_counts(&project.id).await?;
    let tags: Vec<Value> =
        rows.iter().map(|(name, count)| json!({ "id": name, "name": name, "imageCount": count })).collect();
    Ok(HttpResponse::Ok().json(tags))
}

fn iteration_json(it: &IterationRow) -> Value {
    json!({
        "id": it.id,
        "name": format!("Iteration {}", &it.id[..8.min(it.id.len())]),
        "status": it.status,
        "created": rfc3339(it.created_at),
        "trainedAt": it.trained_at.map(rfc3339),
        "projectId": it.project_id,
        "publishName": it.published_name,
        "classificationType": "Multiclass",
        "trainingType": "Regular",
    })
}

/// Train a new iteration on every image of the project.
#[utoipa::path(post, path = "/customvision/v3.3/training/projects/{projectId}/train", tag = "Custom vision",
    params(("projectId" = String, Path)),
    responses((status = 200, description = "the trained iteration (status Completed)"), (status = 400, description = "fewer than 2 tags or 2 images per tag")),
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
    Ok(HttpResponse::Ok().json(iteration_json(&row)))
}

async fn load_iteration(state: &AppState, project_id: &str, id: &str) -> ApiResult<IterationRow> {
    VisionProjects::new(&state.db).iteration(project_id, id).await?.ok_or_else(|| not_found("iteration", id))
}

/// The project's iterations.
#[utoipa::path(get, path = "/customvision/v3.3/training/projects/{projectId}/iterations", tag = "Custom vision",
    params(("projectId" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn list_iterations(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    let rows = VisionProjects::new(&state.db).iterations(&project.id).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(iteration_json).collect::<Vec<_>>()))
}

/// Precision and recall of an iteration, measured on the images held out while training.
#[utoipa::path(get, path = "/customvision/v3.3/training/projects/{projectId}/iterations/{iterationId}/performance", tag = "Custom vision",
    params(("projectId" = String, Path), ("iterationId" = String, Path)),
    responses((status = 200, description = "precision, recall and perTagPerformance"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn performance(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (project_id, iteration_id) = path.into_inner();
    let project = load_project(&state, &caller.key, &project_id).await?;
    let iteration = load_iteration(&state, &project.id, &iteration_id).await?;
    let evaluation: Evaluation = iteration
        .evaluation
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok())
        .ok_or_else(|| ApiError(ServiceError::internal("the iteration has no evaluation")))?;
    Ok(HttpResponse::Ok().json(json!({
        "precision": evaluation.precision,
        "recall": evaluation.recall,
        "macroPrecision": evaluation.macro_precision,
        "macroRecall": evaluation.macro_recall,
        "trainedOn": evaluation.trained_on,
        "heldOut": evaluation.held_out,
        "perTagPerformance": evaluation.per_tag.iter().map(|t| json!({
            "id": t.name, "name": t.name, "precision": t.precision, "recall": t.recall, "imageCount": t.held_out,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub struct PublishQuery {
    #[serde(rename = "publishName")]
    publish_name: String,
}

/// Publish an iteration under a name (used by the prediction route and `model-name=`).
#[utoipa::path(post, path = "/customvision/v3.3/training/projects/{projectId}/iterations/{iterationId}/publish", tag = "Custom vision",
    params(("projectId" = String, Path), ("iterationId" = String, Path), ("publishName" = String, Query)),
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
    let project = load_project(&state, &caller.key, &project_id).await?;
    let iteration = load_iteration(&state, &project.id, &iteration_id).await?;
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

/// A published classifier the key may use: (project id, iteration id, classifier).
pub async fn published(state: &AppState, key: &KeyInfo, name: &str) -> ApiResult<(String, String, Classifier)> {
    super::enabled(state)?;
    let missing = || ApiError::new(Code::NotFound, format!("No custom model is published as {name:?}."));
    let found = VisionProjects::new(&state.db).published(name).await?.ok_or_else(missing)?;
    if found.owner != key.id && !key.is_admin {
        return Err(missing());
    }
    let (project, iteration) = (found.project_id, found.iteration_id);
    let classifier: Classifier = found
        .model
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(|| ApiError(ServiceError::internal("the published iteration has no model")))?;
    Ok((project, iteration, classifier))
}

/// Classify an image with a published iteration (Custom Vision prediction v3.0).
#[utoipa::path(post, path = "/customvision/v3.0/Prediction/{projectId}/classify/iterations/{publishedName}/image", tag = "Custom vision",
    params(("projectId" = String, Path), ("publishedName" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "predictions: probability, tagId, tagName; most likely first"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn classify_image(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let (project_id, name) = path.into_inner();
    let (project, iteration, classifier) = published(&state, &caller.key, &name).await?;
    if project != project_id {
        return Err(not_found("published iteration", &name));
    }
    let service = vision_service(&state)?;
    let picture = super::image_body::read_image(&state, &caller, &req, payload).await?;
    let classification = service.classify(picture.rgb.clone()).await?;
    state.metrics.vision_images.with_label_values(&["custom"]).inc();
    let predictions: Vec<Value> = classifier
        .predict(&classification.embedding)
        .iter()
        .map(|p| json!({ "probability": p.probability, "tagId": p.tag, "tagName": p.tag }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "project": project,
        "iteration": iteration,
        "created": rfc3339(now()),
        "predictions": predictions,
    })))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    const LIMITS: ZipLimits = ZipLimits { image: 1024 * 1024, total: 3 * 1024 * 1024 };

    fn zip_of(entries: &[(&str, usize)]) -> Vec<u8> {
        let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, len) in entries {
            archive.start_file(*name, SimpleFileOptions::default().compression_level(Some(6))).expect("entry");
            archive.write_all(&vec![7u8; *len]).expect("write");
        }
        archive.finish().expect("finish").into_inner()
    }

    fn code(result: ApiResult<Vec<Upload>>) -> Code {
        match result {
            Ok(_) => panic!("the zip was accepted"),
            Err(e) => e.0.code,
        }
    }

    #[test]
    fn unzips_the_images_of_tag_folders() {
        let zip = zip_of(&[("cats/1.png", 100), ("dogs/a/2.png", 50), ("README.txt", 5), ("__MACOSX/x/y", 5)]);
        let uploads = unzip(&zip, LIMITS).expect("unzips");
        let got: Vec<_> = uploads.iter().map(|u| (u.tag.as_str(), u.name.as_str(), u.bytes.len())).collect();
        assert_eq!(got, [("cats", "cats/1.png", 100), ("a", "dogs/a/2.png", 50)]);
    }

    #[test]
    fn refuses_entries_over_the_image_limit_and_uploads_over_the_total() {
        // Each entry's declared size is checked before anything is inflated.
        assert_eq!(code(unzip(&zip_of(&[("t/big.png", 1024 * 1024 + 1)]), LIMITS)), Code::InvalidImageSize);
        let four = zip_of(&[("t/1", 1024 * 1024), ("t/2", 1024 * 1024), ("t/3", 1024 * 1024), ("t/4", 1024 * 1024)]);
        assert_eq!(code(unzip(&four, LIMITS)), Code::PayloadTooLarge);
        assert_eq!(Code::PayloadTooLarge.http_status(), 413);
    }

    #[test]
    fn refuses_an_entry_that_unpacks_to_more_than_it_declares() {
        let mut zip = zip_of(&[("t/liar.png", 512 * 1024)]);
        // Rewrite the uncompressed size in the local and central headers to 1,000 bytes.
        for at in 0..zip.len() - 4 {
            match &zip[at..at + 4] {
                b"PK\x03\x04" => zip[at + 22..at + 26].copy_from_slice(&1_000u32.to_le_bytes()),
                b"PK\x01\x02" => zip[at + 24..at + 28].copy_from_slice(&1_000u32.to_le_bytes()),
                _ => {}
            }
        }
        assert_eq!(code(unzip(&zip, LIMITS)), Code::InvalidRequest);
    }

    #[test]
    fn refuses_thousands_of_entries_before_parsing_them() {
        let names: Vec<String> = (0..MAX_ZIP_ENTRIES + 1).map(|i| format!("t/{i}")).collect();
        let entries: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 0)).collect();
        let zip = zip_of(&entries);
        assert_eq!(central_headers(&zip), MAX_ZIP_ENTRIES + 1);
        let err = unzip(&zip, LIMITS).err().expect("refused");
        assert!(err.0.message.contains("entries"), "{}", err.0.message);
        // 64 MiB, the largest upload, is counted quickly; a signature at either end counts.
        let mut large = vec![0u8; MAX_UPLOAD_BYTES];
        large[..4].copy_from_slice(b"PK\x01\x02");
        large[MAX_UPLOAD_BYTES - 4..].copy_from_slice(b"PK\x01\x02");
        let started = std::time::Instant::now();
        assert_eq!(central_headers(&large), 2);
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    }
}
