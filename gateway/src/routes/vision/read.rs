//! Computer Vision Read v3.2, the asynchronous OCR API:
//! `POST /vision/v3.2/read/analyze` -> 202 + `Operation-Location`, then
//! `GET /vision/v3.2/read/analyzeResults/{operationId}` until `succeeded`.
//!
//! The image is stored with the job (`job_blobs`) before the client hears of it, so a job a stop
//! interrupted runs again at start-up; the image is dropped once the result is stored.
//!
//! Memory: at most `vision.read_concurrency` operations run at once, each holding its decoded
//! image. An operation submitted while they are all busy waits in the database, as its encoded
//! image only; the dispatcher (`dispatch`) starts the oldest waiting one, decoding it again from
//! the database, whenever one finishes. So a flood of submissions costs disk, not memory.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_vision::image_input::Picture;
use cogway_vision::ocr::layout::{self, TextLine};
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use super::image_body::{decode, image_bytes};
use super::{SERVICE, vision_service};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{Db, now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::jobs;

const JOB_KIND: &str = "vision-read";
/// Azure keeps Read results for 48 hours.
const JOB_TTL_SECS: i64 = 48 * 3600;
/// How often the dispatcher looks for waiting operations without being told of one.
const DISPATCH_POLL: Duration = Duration::from_secs(5);

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
    let input = json!({ "width": picture.width(), "height": picture.height() });
    let blob = jobs::Blob { content_type: Some(picture.format), filename: None, data: bytes.as_ref() };
    jobs::insert(&state.db, &id, JOB_KIND, &caller.key.id, &input, JOB_TTL_SECS, state.backlog(), Some(blob)).await?;
    drop(bytes);
    if let Err(refused) = state.usage.charge_images(&caller.key, SERVICE, 1).await {
        jobs::discard(&state.db, &id).await;
        return Err(refused.into());
    }
    // With a slot free, the operation runs now on the image just decoded; else it waits in the
    // database without it, and the dispatcher starts it when a slot frees.
    match state.vision_gate.try_read_slot() {
        Some(slot) if claim(&state.db, &id).await? => {
            spawn(state.clone().into_inner(), id.clone(), Some(picture), slot)
        }
        _ => {
            drop(picture);
            state.vision_gate.read_stored();
        }
    }
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
    let mut body = json!({
        "status": row.status,
        "createdDateTime": rfc3339(row.created_at),
        "lastUpdatedDateTime": rfc3339(row.updated_at),
    });
    if let Some(result) = row.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()) {
        body["analyzeResult"] = result;
    }
    if let Some(error) = row.error.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()) {
        body["analyzeResult"] = json!({ "version": "3.2.0", "errors": [error] });
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Marks the waiting operation `id` running; false when someone else took it.
async fn claim(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let claimed =
        sqlx::query("UPDATE jobs SET status = 'running', updated_at = ? WHERE id = ? AND status = 'notStarted'")
            .bind(now())
            .bind(id)
            .execute(db)
            .await?;
    Ok(claimed.rows_affected() > 0)
}

/// Marks the oldest waiting operation running and returns its id. (One whose image is not yet
/// stored is not waiting yet: its submission is still under way.)
async fn claim_oldest(db: &Db) -> Result<Option<String>, sqlx::Error> {
    let now = now();
    sqlx::query_scalar(
        "UPDATE jobs SET status = 'running', updated_at = ? WHERE id = (SELECT id FROM jobs \
         WHERE kind = ? AND status = 'notStarted' AND expires_at > ? \
         AND EXISTS (SELECT 1 FROM job_blobs WHERE job_blobs.job_id = jobs.id) \
         ORDER BY created_at, rowid LIMIT 1) AND status = 'notStarted' RETURNING id",
    )
    .bind(now)
    .bind(JOB_KIND)
    .bind(now)
    .fetch_optional(db)
    .await
}

/// Runs a claimed Read operation in the background, holding its slot until it is done: on the
/// image decoded at submission, or on the stored one.
fn spawn(state: Arc<AppState>, id: String, picture: Option<Arc<Picture>>, slot: OwnedSemaphorePermit) {
    tokio::spawn(async move {
        if let Err(e) = run(&state, &id, picture).await {
            tracing::warn!(job = %id, error = %e, "read operation failed");
            let code = if e.code.http_status() < 500 { "InvalidImage" } else { "InternalServerError" };
            jobs::fail(&state.db, &id, code, &e.message).await;
            let _ = sqlx::query("DELETE FROM job_blobs WHERE job_id = ?").bind(&id).execute(&state.db).await;
        }
        drop(slot);
    });
}

async fn run(state: &AppState, id: &str, picture: Option<Arc<Picture>>) -> Result<(), ServiceError> {
    let dberr = |e: sqlx::Error| ServiceError::internal(format!("database: {e}"));
    let service = loop {
        match vision_service(state) {
            Ok(service) => break service,
            Err(ApiError(e)) if e.code == Code::ModelNotReady => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(ApiError(e)) => return Err(e),
        }
    };
    let picture = match picture {
        Some(picture) => picture,
        None => {
            let data: Vec<u8> = sqlx::query_scalar("SELECT data FROM job_blobs WHERE job_id = ?")
                .bind(id)
                .fetch_one(&state.db)
                .await
                .map_err(dberr)?;
            decode(state, data.into()).await.map_err(|e| e.0)?
        }
    };
    let (width, height) = (picture.width(), picture.height());
    let image = picture.rgb.clone();
    drop(picture);
    let lines = loop {
        match service.read(image.clone()).await {
            // A busy OCR worker is not a failure of the job: wait for room.
            Err(e) if e.code == Code::Overloaded => tokio::time::sleep(Duration::from_millis(250)).await,
            other => break other?,
        }
    };
    drop(image);
    state.metrics.vision_images.with_label_values(&["read"]).inc();
    jobs::finish(&state.db, id, "succeeded", &analyze_result(&lines, width, height)).await.map_err(dberr)?;
    let _ = sqlx::query("DELETE FROM job_blobs WHERE job_id = ?").bind(id).execute(&state.db).await;
    Ok(())
}

/// Starts waiting Read operations, oldest first, as slots free; runs for the server's life.
async fn dispatch(state: Arc<AppState>) {
    loop {
        let Some(slot) = state.vision_gate.read_slot().await else { return };
        match claim_oldest(&state.db).await {
            Ok(Some(id)) => spawn(state.clone(), id, None, slot),
            Ok(None) => {
                drop(slot);
                // Woken by a submission that found no slot; the poll is a safety net.
                let _ = tokio::time::timeout(DISPATCH_POLL, state.vision_gate.wait_read_stored()).await;
            }
            Err(e) => {
                drop(slot);
                tracing::warn!(error = %e, "cannot look for waiting read operations");
                tokio::time::sleep(DISPATCH_POLL).await;
            }
        }
    }
}

/// At start-up: the Read operations a stop left running wait again, then the dispatcher starts
/// them (and every later one that finds no free slot).
pub async fn resume(state: Arc<AppState>) {
    if !state.settings.services.vision {
        return; // they wait for a start with the service on
    }
    let unfinished = jobs::unfinished(&state.db, JOB_KIND).await;
    if !unfinished.is_empty() {
        tracing::info!(operations = unfinished.len(), "resuming unfinished read operations");
    }
    let requeued = sqlx::query("UPDATE jobs SET status = 'notStarted' WHERE kind = ? AND status = 'running'")
        .bind(JOB_KIND)
        .execute(&state.db)
        .await;
    // A stop between storing an operation and its image leaves one that can never run.
    let lost = json!({ "code": "InternalServerError", "message": "The operation's image was lost; submit it again." });
    let failed = sqlx::query(
        "UPDATE jobs SET status = 'failed', error = ?, updated_at = ? WHERE kind = ? AND status = 'notStarted' \
         AND NOT EXISTS (SELECT 1 FROM job_blobs WHERE job_blobs.job_id = jobs.id)",
    )
    .bind(lost.to_string())
    .bind(now())
    .bind(JOB_KIND)
    .execute(&state.db)
    .await;
    if let Err(e) = requeued.and(failed) {
        tracing::warn!(error = %e, "cannot requeue interrupted read operations");
    }
    dispatch(state).await;
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
