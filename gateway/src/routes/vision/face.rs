//! Azure Face detection: `POST /face/{version}/detect` (v1.0, and the v1.1 and v1.2 versions the
//! current Face SDK calls), faces with their rectangles and, when asked, five landmarks (pupils,
//! nose tip, mouth corners) from CenterFace.
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
/// The Face API versions served (azure-ai-vision-face 1.0.0b2 calls v1.2-preview.1).
const VERSIONS: [&str; 4] = ["v1.0", "v1.1-preview.1", "v1.2-preview.1", "v1.2"];
/// Recognition models a request may name (face ids here are not kept, so any is accepted).
const RECOGNITION_MODELS: [&str; 4] = ["recognition_01", "recognition_02", "recognition_03", "recognition_04"];
/// The recognition model Azure assigns when none is named.
const DEFAULT_RECOGNITION_MODEL: &str = "recognition_01";

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
#[utoipa::path(post, path = "/face/{version}/detect", tag = "Vision",
    params(("version" = String, Path, description = "v1.0, v1.1-preview.1, v1.2-preview.1 or v1.2"),
           ("returnFaceId" = Option<bool>, Query, description = "a random faceId per face (default true)"),
           ("recognitionModel" = Option<String>, Query, description = "recognition_01 to recognition_04 (accepted; face ids are not kept)"),
           ("returnRecognitionModel" = Option<bool>, Query, description = "adds recognitionModel to each face"),
           ("faceIdTimeToLive" = Option<u32>, Query, description = "60 to 86400 (accepted; face ids are not kept)"),
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
    version: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if !VERSIONS.contains(&version.as_str()) {
        return Err(ApiError::new(
            Code::NotFound,
            format!("The Face API version {:?} is not served: use one of {}.", version.as_str(), VERSIONS.join(", ")),
        ));
    }
    let query = query_pairs(&req);
    let face_id = flag(&query, "returnFaceId", true)?;
    let recognition_model = match query_param(&query, "recognitionModel") {
        None => DEFAULT_RECOGNITION_MODEL.to_string(),
        Some(m) if RECOGNITION_MODELS.contains(&m.to_ascii_lowercase().as_str()) => m.to_ascii_lowercase(),
        Some(m) => {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("recognitionModel must be one of {}, not {m:?}.", RECOGNITION_MODELS.join(", ")),
            ));
        }
    };
    let return_model = flag(&query, "returnRecognitionModel", false)?;
    if let Some(ttl) = query_param(&query, "faceIdTimeToLive")
        && !ttl.parse::<u32>().is_ok_and(|t| (60..=86_400).contains(&t))
    {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("faceIdTimeToLive must be 60 to 86400 seconds, not {ttl:?}."),
        ));
    }
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
    let body: Vec<Value> = faces
        .iter()
        .take(MAX_FACES)
        .map(|f| {
            let mut face = face_json(f, face_id, landmarks);
            if return_model {
                face["recognitionModel"] = json!(recognition_model);
            }
            face
        })
        .collect();
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
