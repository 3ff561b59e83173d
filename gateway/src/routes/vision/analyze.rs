//! Image Analysis 4.0: `POST /computervision/imageanalysis:analyze?api-version=..&features=..`.
//!
//! Features run concurrently on their model workers; the answer has one `<feature>Result` per
//! feature asked for. Captions and dense captions need a captioning model, which no package
//! registry offers: asking for them is a 400 `NotSupportedVisualFeature`, never a made-up caption.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_vision::geometry::BBox;
use cogway_vision::objects;
use cogway_vision::ocr::layout::TextLine;
use cogway_vision::smart_crops::{self, Region};
use serde_json::{Value, json};

use super::image_body::read_image;
use super::vision_service;
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::query::{query_pairs, query_param};

/// The api-versions the route answers (2023-10-01 is what the 1.0.0 SDKs send).
pub const API_VERSIONS: &[&str] = &["2023-10-01", "2024-02-01"];
/// The `modelVersion` reported.
const MODEL_VERSION: &str = "2023-10-01";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Tags,
    Objects,
    Read,
    People,
    SmartCrops,
}

impl Feature {
    pub fn name(self) -> &'static str {
        match self {
            Feature::Tags => "tags",
            Feature::Objects => "objects",
            Feature::Read => "read",
            Feature::People => "people",
            Feature::SmartCrops => "smartCrops",
        }
    }
}

fn not_supported(message: String) -> ApiError {
    ApiError::new(Code::NotSupportedVisualFeature, message)
}

/// The `features` list: comma-separated, case-insensitive, each at most once.
pub fn parse_features(list: &str) -> ApiResult<Vec<Feature>> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let feature = match name.to_ascii_lowercase().as_str() {
            "tags" => Feature::Tags,
            "objects" => Feature::Objects,
            "read" => Feature::Read,
            "people" => Feature::People,
            "smartcrops" => Feature::SmartCrops,
            "caption" | "densecaptions" => {
                return Err(not_supported(format!(
                    "The visual feature {name:?} is not supported by this server: no captioning model is installed. \
                     Supported features: tags, objects, read, people, smartCrops."
                )));
            }
            _ => {
                return Err(not_supported(format!(
                    "The visual feature {name:?} is not known. Supported features: tags, objects, read, people, smartCrops."
                )));
            }
        };
        if !out.contains(&feature) {
            out.push(feature);
        }
    }
    Ok(out)
}

fn check_api_version(query: &[(String, String)]) -> ApiResult<()> {
    match query_param(query, "api-version") {
        Some(v) if API_VERSIONS.contains(&v) => Ok(()),
        Some(v) => Err(ApiError::new(
            Code::InvalidApiVersion,
            format!("The api-version {v:?} is not supported; use one of {}.", API_VERSIONS.join(", ")),
        )),
        None => Err(ApiError::new(
            Code::InvalidApiVersion,
            format!("The api-version query parameter is required; use one of {}.", API_VERSIONS.join(", ")),
        )),
    }
}

/// Analyse an image.
#[utoipa::path(post, path = "/computervision/imageanalysis:analyze", tag = "Vision",
    params(("api-version" = String, Query, description = "2023-10-01 or 2024-02-01"),
           ("features" = String, Query, description = "comma-separated: tags, objects, read, people, smartCrops (caption and denseCaptions answer 400 NotSupportedVisualFeature)"),
           ("language" = Option<String>, Query, description = "en (tags and objects are named in English)"),
           ("smartcrops-aspect-ratios" = Option<String>, Query, description = "comma-separated ratios between 0.75 and 1.8"),
           ("model-name" = Option<String>, Query, description = "a published custom classifier: its tags come back in customModelResult")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "JPEG, PNG, BMP, GIF, TIFF or WebP up to 20 MB; or JSON {\"url\": ...} from an allowed host"),
    responses((status = 200, description = "modelVersion, metadata and one <feature>Result per feature"),
              (status = 400, description = "bad parameters, unsupported feature, or not a valid image"),
              (status = 429, description = "rate limit or image quota"), (status = 503, description = "busy; see Retry-After")),
    security(("key" = []), ("bearer" = [])))]
pub async fn analyze(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let query = query_pairs(&req);
    check_api_version(&query)?;
    let features = parse_features(query_param(&query, "features").unwrap_or(""))?;
    let model_name = query_param(&query, "model-name").map(str::trim).filter(|m| !m.is_empty());
    if features.is_empty() && model_name.is_none() {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            "The features query parameter must name at least one visual feature, e.g. features=tags,read.",
        ));
    }
    if let Some(language) = query_param(&query, "language")
        && !language.eq_ignore_ascii_case("en")
    {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("The language {language:?} is not supported; tags and objects are named in English (en)."),
        ));
    }
    let ratios = match query_param(&query, "smartcrops-aspect-ratios") {
        Some(list) => parse_ratios(list)?,
        None => Vec::new(),
    };
    let service = vision_service(&state)?;
    let custom = match model_name {
        Some(name) => Some(super::custom::published(&state, &caller.key, name).await?.2),
        None => None,
    };
    let picture = read_image(&state, &caller, &req, payload).await?;
    let image = picture.rgb.clone();
    let wants = |f: Feature| features.contains(&f);
    // Each model is asked once, all of them at the same time.
    let tags = async { if wants(Feature::Tags) { service.tags(image.clone()).await.map(Some) } else { Ok(None) } };
    let faces =
        async { if wants(Feature::SmartCrops) { service.faces(image.clone()).await.map(Some) } else { Ok(None) } };
    let lines = async { if wants(Feature::Read) { service.read(image.clone()).await.map(Some) } else { Ok(None) } };
    let detections = async {
        if wants(Feature::Objects) || wants(Feature::People) || wants(Feature::SmartCrops) {
            service.objects(image.clone()).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let embedding = async {
        if custom.is_some() { service.classify(image.clone()).await.map(|c| Some(c.embedding)) } else { Ok(None) }
    };
    let (tags, faces, lines, embedding, detections) =
        futures_util::try_join!(tags, faces, lines, embedding, detections)?;
    let detections = detections.unwrap_or_default();
    let mut body = json!({
        "modelVersion": MODEL_VERSION,
        "metadata": { "width": picture.width(), "height": picture.height() },
    });
    if let Some(tags) = tags {
        body["tagsResult"] = json!({ "values": tags.iter().map(|t| json!({ "name": t.name, "confidence": round3(t.confidence) })).collect::<Vec<_>>() });
    }
    if let Some(lines) = lines {
        body["readResult"] = read_result(&lines);
    }
    if wants(Feature::Objects) {
        body["objectsResult"] = json!({ "values": detections.iter().map(|o| json!({
            "boundingBox": bounding_box(&o.rect),
            "tags": [{ "name": o.name, "confidence": round3(o.confidence) }],
        })).collect::<Vec<_>>() });
    }
    if wants(Feature::People) {
        body["peopleResult"] = json!({ "values": detections.iter().filter(|o| o.name == objects::PERSON).map(|o| json!({
            "boundingBox": bounding_box(&o.rect),
            "confidence": round3(o.confidence),
        })).collect::<Vec<_>>() });
    }
    if let (Some(classifier), Some(embedding)) = (&custom, &embedding) {
        let values: Vec<Value> = classifier
            .predict(embedding)
            .iter()
            .map(|p| json!({ "name": p.tag, "confidence": round3(p.probability) }))
            .collect();
        body["customModelResult"] = json!({ "tagsResult": { "values": values }, "objectsResult": { "values": [] } });
        state.metrics.vision_images.with_label_values(&["custom"]).inc();
    }
    if let Some(faces) = faces {
        // Faces matter most, then people, then other objects.
        let mut regions: Vec<Region> = faces.iter().map(|f| Region { rect: f.rect, weight: 3.0 }).collect();
        regions.extend(detections.iter().map(|o| Region {
            rect: o.rect,
            weight: if o.name == objects::PERSON { 1.5 } else { 1.0 } * o.confidence,
        }));
        let ratios = if ratios.is_empty() {
            vec![smart_crops::default_ratio(picture.width(), picture.height())]
        } else {
            ratios
        };
        let crops = web::block(move || smart_crops::crops(&image, &ratios, &regions))
            .await
            .map_err(|e| ApiError(cogway_core::ServiceError::internal(format!("smart crops: {e}"))))?;
        body["smartCropsResult"] = json!({ "values": crops.iter().map(|c| json!({
            "aspectRatio": (f64::from(c.aspect_ratio) * 100.0).round() / 100.0,
            "boundingBox": bounding_box(&c.rect),
        })).collect::<Vec<_>>() });
    }
    for feature in &features {
        state.metrics.vision_images.with_label_values(&[feature.name()]).inc();
    }
    Ok(HttpResponse::Ok().json(body))
}

/// `smartcrops-aspect-ratios`: up to 5 ratios (width / height) between 0.75 and 1.8.
pub fn parse_ratios(list: &str) -> ApiResult<Vec<f32>> {
    let bad = |why: String| ApiError::new(Code::InvalidParameterValue, why);
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ratio: f32 = item.parse().map_err(|_| bad(format!("The aspect ratio {item:?} is not a number.")))?;
        if !(smart_crops::MIN_RATIO..=smart_crops::MAX_RATIO).contains(&ratio) {
            return Err(bad(format!(
                "The aspect ratio {item} is out of range: ratios must be between {} and {}.",
                smart_crops::MIN_RATIO,
                smart_crops::MAX_RATIO
            )));
        }
        out.push(ratio);
    }
    if out.len() > 5 {
        return Err(bad("At most 5 aspect ratios may be requested.".into()));
    }
    Ok(out)
}

fn bounding_box(rect: &BBox) -> Value {
    let (x, y, w, h) = rect.rounded();
    json!({ "x": x, "y": y, "w": w, "h": h })
}

fn polygon(points: &[cogway_vision::geometry::Point; 4]) -> Value {
    Value::Array(points.iter().map(|p| json!({ "x": p.x.round() as i64, "y": p.y.round() as i64 })).collect())
}

fn round3(v: f32) -> f64 {
    (f64::from(v) * 1000.0).round() / 1000.0
}

/// `readResult`: one block holding every line, as Image Analysis 4.0 answers for a page.
pub fn read_result(lines: &[TextLine]) -> Value {
    if lines.is_empty() {
        return json!({ "blocks": [] });
    }
    json!({
        "blocks": [{
            "lines": lines.iter().map(|line| json!({
                "text": line.text,
                "boundingPolygon": polygon(&line.polygon),
                "words": line.words.iter().map(|w| json!({
                    "text": w.text,
                    "boundingPolygon": polygon(&w.polygon),
                    "confidence": round3(w.confidence),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_parsed_case_insensitively_and_captions_refused() {
        assert_eq!(parse_features("Tags, read,tags").expect("parse"), vec![Feature::Tags, Feature::Read]);
        assert_eq!(parse_features("smartCrops").expect("parse"), vec![Feature::SmartCrops]);
        let err = parse_features("tags,caption").unwrap_err();
        assert_eq!(err.0.code, Code::NotSupportedVisualFeature);
        assert_eq!(parse_features("colors").unwrap_err().0.code, Code::NotSupportedVisualFeature);
    }

    #[test]
    fn aspect_ratios_are_checked() {
        assert_eq!(parse_ratios("0.9, 1.33").expect("parse"), vec![0.9, 1.33]);
        assert!(parse_ratios("2.5").is_err());
        assert!(parse_ratios("wide").is_err());
        assert!(parse_ratios("1,1,1,1,1,1").is_err());
    }
}
