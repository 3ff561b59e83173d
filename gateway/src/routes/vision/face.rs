//! Azure Face detection: `POST /face/v1.0/detect`, faces with their rectangles and, when asked,
//! five landmarks (pupils, nose tip, mouth corners) from CenterFace.
//!
//! Identification, verification and attributes (age, emotion, ...) are not offered: asking for
//! attributes is a 400, never a guess.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_vision::faces::Face;
use cogway_vision::geometry::Point;
use serde_json::{Value, json};

use super::image_body::read_image;
use super::vision_service;
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::query::{query_pairs, query_param};

/// Azure Face answers at most 100 faces, largest first.
const MAX_FACES: usize = 100;

fn flag(query: &[(String, String)], name: &str, default: bool) -> ApiResult<bool> {
    match query_param(query, name).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => {
            Err(ApiError::new(Code::InvalidParameterValue, format!("{name} must be true or false, not {other:?}.")))
        }
    }
}

/// Detect faces.
#[utoipa::path(post, path = "/face/v1.0/detect", tag = "Vision",
    params(("returnFaceId" = Option<bool>, Query, description = "a random faceId per face (default true)"),
           ("returnFaceLandmarks" = Option<bool>, Query, description = "pupilLeft, pupilRight, noseTip, mouthLeft, mouthRight"),
           ("returnFaceAttributes" = Option<String>, Query, description = "not supported: any value is a 400"),
           ("detectionModel" = Option<String>, Query, description = "detection_01, detection_02 or detection_03 (all served by CenterFace)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "faces, largest first: faceRectangle {top, left, width, height}, faceLandmarks when asked"),
              (status = 400, description = "bad parameters or not an image"), (status = 429), (status = 503)),
    security(("key" = []), ("bearer" = [])))]
pub async fn detect(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let query = query_pairs(&req);
    let face_id = flag(&query, "returnFaceId", true)?;
    let landmarks = flag(&query, "returnFaceLandmarks", false)?;
    if query_param(&query, "returnFaceAttributes").is_some_and(|a| !a.trim().is_empty()) {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            "Face attributes are not supported by this server: no attribute model is installed.",
        ));
    }
    if let Some(model) = query_param(&query, "detectionModel")
        && !matches!(model.to_ascii_lowercase().as_str(), "detection_01" | "detection_02" | "detection_03")
    {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("detectionModel must be detection_01, detection_02 or detection_03, not {model:?}."),
        ));
    }
    let service = vision_service(&state)?;
    let picture = read_image(&state, &caller, &req, payload).await?;
    let faces = service.faces(picture.rgb.clone()).await?;
    state.metrics.vision_images.with_label_values(&["faces"]).inc();
    let body: Vec<Value> = faces.iter().take(MAX_FACES).map(|f| face_json(f, face_id, landmarks)).collect();
    Ok(HttpResponse::Ok().json(body))
}

fn point(p: Point) -> Value {
    json!({ "x": (f64::from(p.x) * 10.0).round() / 10.0, "y": (f64::from(p.y) * 10.0).round() / 10.0 })
}

fn face_json(face: &Face, face_id: bool, landmarks: bool) -> Value {
    let (left, top, width, height) = face.rect.rounded();
    let mut out = json!({ "faceRectangle": { "top": top, "left": left, "width": width, "height": height } });
    if face_id {
        out["faceId"] = json!(uuid::Uuid::new_v4().to_string());
    }
    if landmarks {
        let l = &face.landmarks;
        out["faceLandmarks"] = json!({
            "pupilLeft": point(l.left_eye),
            "pupilRight": point(l.right_eye),
            "noseTip": point(l.nose_tip),
            "mouthLeft": point(l.mouth_left),
            "mouthRight": point(l.mouth_right),
        });
    }
    out
}
