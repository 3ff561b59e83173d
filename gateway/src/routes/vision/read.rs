//! Computer Vision Read v3.2, the asynchronous OCR API:
//! `POST /vision/v3.2/read/analyze` -> 202 + `Operation-Location`, then
//! `GET /vision/v3.2/read/analyzeResults/{operationId}` until `succeeded`.
//!
//! The image is stored with the job (in the blob store) before the client hears of it, so a job
//! a stop interrupted runs again (on this replica or another); the image is dropped once the
//! result is stored.
//!
//! Memory: at most `vision.read_concurrency` operations run at once per replica, each holding
//! its decoded image. An operation submitted while they are all busy waits as its encoded image
//! only; the job runner starts the oldest waiting one, decoding it again, whenever one finishes.
//! So a flood of submissions costs storage, not memory.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_vision::image_input::Picture;
use cogway_vision::ocr::layout::{self, TextLine};
use serde_json::{Value, json};

use super::image_body::{decode, image_bytes};
use super::{SERVICE, vision_service};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::rfc3339;
use crate::errors::ApiResult;
use crate::jobs::{self, Claimed, JobContext, JobHandler, JobInput, JobKind, NewJob, Outcome, blob_name};
use crate::settings::Settings;

const JOB_KIND: JobKind = JobKind::Read;

/// What a Read operation stores besides its image (in the blob store): the image's size, as
/// decoded when it was submitted.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct ReadInput {
    width: u32,
    height: u32,
}

impl JobInput for ReadInput {
    const KIND: JobKind = JOB_KIND;
}
/// Azure keeps Read results for 48 hours.
const JOB_TTL_SECS: i64 = 48 * 3600;

/// Submit an image for text extraction.
#[utoipa::path(post, path = "/vision/v3.2/read/analyze", tag = "Vision",
    params(("language" = Option<String>, Query, description = "accepted and ignored: the recogniser reads Latin and Chinese scripts together"),
           ("readingOrder" = Option<String>, Query, description = "basic or natural (both give top-to-bottom, left-to-right)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "JPEG, PNG, BMP, GIF, TIFF or WebP; or JSON {\"url\": ...} from an allowed host"),
    responses((status = 202, description = "Accepted; poll the Operation-Location header"),
              (status = 400, description = "not an image, too large or too small"), (status = 429, description = "rate limit or image quota")),
    security(("key" = []), ("bearer" = [])))]
pub async fn submit(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    vision_service(&state)?;
    let bytes = image_bytes(&state, &req, payload).await?;
    // Decode once now, so a bad image is a 400 here and not a failed job later.
    let picture = decode(&state, bytes.clone()).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let input = ReadInput { width: picture.width(), height: picture.height() };
    let job =
        NewJob::new(&id, &caller.key.id, &input, JOB_TTL_SECS)?.with_blob(bytes.as_ref(), Some(picture.format), None);
    let charge = state.usage.charge_images(&caller.key, SERVICE, 1);
    // With a slot free on this replica, the operation runs now on the image just decoded; else
    // it waits without it, and a runner decodes it again when its turn comes.
    jobs::submit(&state.clone().into_inner(), job, charge, Some(Box::new(picture))).await?;
    drop(bytes);
    let info = req.connection_info();
    let location = format!("{}://{}/vision/v3.2/read/analyzeResults/{id}", info.scheme(), info.host());
    Ok(HttpResponse::Accepted()
        .insert_header(("Operation-Location", location))
        .insert_header(("apim-request-id", id))
        .finish())
}

/// The state of a Read operation and, once it succeeded, the text.
#[utoipa::path(get, path = "/vision/v3.2/read/analyzeResults/{operationId}", tag = "Vision",
    params(("operationId" = String, Path)),
    responses((status = 200, description = "status notStarted, running, succeeded or failed; analyzeResult.readResults when succeeded"),
              (status = 404, description = "no such operation, or it expired (48 h)")),
    security(("key" = []), ("bearer" = [])))]
pub async fn result(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    super::enabled(&state)?;
    let id = path.into_inner();
    let row = jobs::load(&state.db, JOB_KIND, &id, &caller.key).await?;
    let mut body = operation_body(&row);
    if let Some(error) = row.error.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()) {
        body["analyzeResult"] = json!({ "version": "3.2.0", "errors": [error] });
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The lines of an image, for a job: a busy OCR worker is not a failure of the job, so this
/// waits for room.
pub(crate) async fn read_lines(
    service: &cogway_vision::VisionService,
    image: Arc<cogway_vision::RgbImage>,
) -> Result<Vec<TextLine>, ServiceError> {
    loop {
        match service.read(image.clone()).await {
            Err(e) if e.code == Code::Overloaded => tokio::time::sleep(Duration::from_millis(250)).await,
            other => return other,
        }
    }
}

/// An operation's status, times and stored result (`analyzeResult`), as both OCR APIs answer.
pub(crate) fn operation_body(row: &jobs::JobRow) -> Value {
    let mut body = json!({
        "status": row.status.public(),
        "createdDateTime": rfc3339(row.created_at),
        "lastUpdatedDateTime": rfc3339(row.updated_at),
    });
    if let Some(result) = row.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()) {
        body["analyzeResult"] = result;
    }
    body
}

/// Runs Read operations: OCR of the stored image (or of the one the submission decoded).
pub struct ReadJobs;

#[async_trait]
impl JobHandler for ReadJobs {
    fn kind(&self) -> JobKind {
        JOB_KIND
    }

    fn concurrency(&self, settings: &Settings) -> usize {
        settings.vision.read_concurrency.max(1)
    }

    fn enabled(&self, settings: &Settings) -> bool {
        settings.services.vision
    }

    async fn run(&self, state: &AppState, job: &Claimed, ctx: &JobContext) -> Result<Outcome, ServiceError> {
        run(state, job, ctx.take_hint::<Arc<Picture>>()).await
    }

    fn failure_code(&self, e: &ServiceError) -> &'static str {
        if e.code.http_status() < 500 { "InvalidImage" } else { "InternalServerError" }
    }
}

async fn run(state: &AppState, job: &Claimed, picture: Option<Arc<Picture>>) -> Result<Outcome, ServiceError> {
    let service = crate::engines::wait_for(state, vision_service).await?;
    let picture = match picture {
        Some(picture) => picture,
        None => {
            let data = state
                .blobs
                .get(&blob_name(&job.id))
                .await?
                .ok_or_else(|| ServiceError::internal("The operation's image was lost; submit it again."))?;
            decode(state, data.into()).await.map_err(|e| e.0)?
        }
    };
    let (width, height) = (picture.width(), picture.height());
    let image = picture.rgb.clone();
    drop(picture);
    let lines = read_lines(&service, image).await?;
    state.metrics.vision_images.with_label_values(&["read"]).inc();
    Ok(Outcome::succeeded(analyze_result(&lines, width, height)))
}

fn round2(v: f32) -> f64 {
    (f64::from(v) * 100.0).round() / 100.0
}

/// Read v3.2's 8-number `boundingBox`, in whole pixels as Azure answers.
fn flat_box(polygon: &[cogway_vision::geometry::Point; 4]) -> Vec<i64> {
    layout::flat(polygon).iter().map(|v| v.round() as i64).collect()
}

/// Read v3.2's `analyzeResult` for one page.
pub fn analyze_result(lines: &[TextLine], width: u32, height: u32) -> Value {
    // The page angle: 180 when most lines were found upside down.
    let flipped = lines.iter().filter(|l| l.upside_down).count();
    let angle = if flipped * 2 > lines.len() { 180.0 } else { 0.0 };
    json!({
        "version": "3.2.0",
        "modelVersion": "2022-04-30",
        "readResults": [{
            "page": 1,
            "angle": angle,
            "width": width,
            "height": height,
            "unit": "pixel",
            "lines": lines.iter().map(|line| json!({
                "boundingBox": flat_box(&line.polygon),
                "appearance": { "style": { "name": "other", "confidence": 1.0 } },
                "text": line.text,
                "words": line.words.iter().map(|w| json!({
                    "boundingBox": flat_box(&w.polygon),
                    "text": w.text,
                    "confidence": round2(w.confidence),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }],
    })
}
