//! `POST /contentsafety/image:analyze`: harm severities of an image from the Vision service's
//! signals (adult score, weapon classes, printed text), graded by `cogway_decision::safety::image`.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use cogway_core::ServiceError;
use cogway_decision::safety::image::{self, ImageSignals};
use cogway_decision::safety::{Category, OutputType};
use cogway_vision::image_input::{ImageLimits, Picture};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::invalid_body;
use super::text::categories;
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::read_limited;
use crate::routes::vision::image_body::decode_within;

/// Azure's image limits: 4 MB, sides 50 to 7,200 pixels.
const MAX_IMAGE_BYTES: usize = 4 * 1024 * 1024;
const MIN_SIDE: u32 = 50;
const MAX_SIDE: u32 = 7_200;
/// The base64 of the largest image and room for the rest of the JSON.
const MAX_BODY_BYTES: usize = MAX_IMAGE_BYTES / 3 * 4 + 64 * 1024;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageData {
    /// The image, base64 (JPEG, PNG, GIF, BMP, TIFF or WebP; up to 4 MB, sides 50 to 7,200).
    #[serde(default)]
    content: Option<String>,
    /// An http:// URL on a host in `vision.allowed_url_hosts` (none by default).
    #[serde(default)]
    blob_url: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeImageOptions {
    image: ImageData,
    /// Hate, SelfHarm, Sexual, Violence (default: all four).
    #[serde(default)]
    categories: Option<Vec<String>>,
    /// FourSeverityLevels, the only level scale for images.
    #[serde(default)]
    output_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImageCategoriesAnalysis {
    category: String,
    severity: u8,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeImageResult {
    categories_analysis: Vec<ImageCategoriesAnalysis>,
}

/// A 400 from reading or decoding the image, in Content Safety's error shape; other errors
/// (overload, models loading) pass as they are.
fn as_invalid_body(e: ApiError) -> ApiResult<HttpResponse> {
    if e.0.code.http_status() == 400 { Ok(invalid_body(&e.0.message)) } else { Err(e) }
}

/// The image bytes of the request: base64 `content` or a fetched `blobUrl`.
async fn image_bytes(state: &AppState, data: ImageData) -> Result<Vec<u8>, HttpResponse> {
    match (data.content, data.blob_url) {
        (Some(content), None) => {
            let decoded = web::block(move || base64::engine::general_purpose::STANDARD.decode(content.trim()))
                .await
                .map_err(|e| {
                    let status = actix_web::http::StatusCode::INTERNAL_SERVER_ERROR;
                    super::error(status, "InternalError", &format!("decoding thread failed: {e}"))
                })?;
            decoded.map_err(|e| invalid_body(&format!("image.content is not valid base64: {e}.")))
        }
        (None, Some(url)) => match crate::routes::vision::image_body::fetch(state, url.trim(), MAX_IMAGE_BYTES).await {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(e) => Err(invalid_body(&e.0.message)),
        },
        _ => Err(invalid_body("The image needs exactly one of content (base64) and blobUrl.")),
    }
}

/// What the vision models see: the adult score, the weapon share and the printed text, run
/// side by side on their workers.
async fn signals(state: &AppState, picture: &Picture) -> ApiResult<ImageSignals> {
    let vision = crate::engines::vision(state)?;
    let rgb: Arc<cogway_vision::RgbImage> = picture.rgb.clone();
    let (adult, weapon, lines) = futures_util::try_join!(
        vision.adult_score(rgb.clone()),
        vision.share_under(rgb.clone(), "weapon"),
        vision.read(rgb),
    )?;
    let text = lines.into_iter().map(|line| line.text).collect::<Vec<_>>().join("\n");
    Ok(ImageSignals { adult, weapon, text })
}

/// Analyse an image for harm.
#[utoipa::path(post, path = "/contentsafety/image:analyze", tag = "Content Safety",
    params(("api-version" = String, Query, description = "2023-10-01 or 2024-09-01")),
    request_body = AnalyzeImageOptions,
    responses((status = 200, body = AnalyzeImageResult),
              (status = 400, description = "InvalidRequestBody (no image or both content and blobUrl, bad base64, an image that is not JPEG/PNG/GIF/BMP/TIFF/WebP, over 4 MB or with a side outside 50 to 7,200 pixels, unknown category or output type)"),
              (status = 429, description = "Out of the key's rate or image quota (Retry-After)"),
              (status = 503, description = "The Vision models are loading or busy (Retry-After)")),
    security(("key" = []), ("bearer" = [])))]
pub async fn analyze(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    crate::engines::enabled(&state, super::super::SERVICE)?;
    let body = match read_limited(&req, payload, MAX_BODY_BYTES).await {
        Ok(body) => body,
        // Azure answers an oversized image with 400, as any other bad image.
        Err(e) if e.0.code == cogway_core::Code::PayloadTooLarge => {
            return Ok(invalid_body(&format!(
                "The request body is over {MAX_BODY_BYTES} bytes: images are at most {MAX_IMAGE_BYTES} bytes."
            )));
        }
        Err(e) => return Err(e),
    };
    // Up to 5.4 MiB of JSON: parsed on the blocking pool.
    let parsed = web::block(move || serde_json::from_slice::<AnalyzeImageOptions>(&body))
        .await
        .map_err(|e| ApiError(ServiceError::internal(e.to_string())))?;
    let options = match parsed {
        Ok(options) => options,
        Err(e) => return Ok(invalid_body(&format!("The request body is not valid: {e}."))),
    };
    let wanted = match categories(options.categories.as_deref()) {
        Ok(wanted) => wanted,
        Err(message) => return Ok(invalid_body(&message)),
    };
    if options.output_type.as_deref().is_some_and(|name| name != "FourSeverityLevels") {
        return Ok(invalid_body("outputType must be FourSeverityLevels for images."));
    }
    let bytes = match image_bytes(&state, options.image).await {
        Ok(bytes) => bytes,
        Err(response) => return Ok(response),
    };
    let limits =
        ImageLimits { max_bytes: MAX_IMAGE_BYTES, min_side: MIN_SIDE, max_side: MAX_SIDE, ..ImageLimits::default() };
    let picture = match decode_within(&state, bytes.into(), limits).await {
        Ok(picture) => picture,
        Err(e) => return as_invalid_body(e),
    };
    state.usage.charge_images(&caller.key, super::super::SERVICE, 1).await?;
    let signals = signals(&state, &picture).await?;
    let severities = web::block(move || image::severities(&signals))
        .await
        .map_err(|e| ApiError(ServiceError::internal(e.to_string())))?;
    let categories_analysis = severities
        .into_iter()
        .filter(|(c, _)| wanted.contains(c))
        .map(|(c, s): (Category, u8)| ImageCategoriesAnalysis {
            category: c.name().into(),
            severity: OutputType::FourSeverityLevels.report(s),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AnalyzeImageResult { categories_analysis }))
}
