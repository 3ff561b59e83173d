//! Document Intelligence v4.0 (api-version 2024-11-30, what `azure-ai-documentintelligence` 1.0.2
//! calls): `POST /documentintelligence/documentModels/{prebuilt-read|prebuilt-layout}:analyze`
//! -> 202 + `Operation-Location`, then `GET .../analyzeResults/{resultId}` until `succeeded`.
//!
//! The file (an image, or a PDF whose pages poppler renders) is stored with the job, like a Read
//! v3.2 image, and analysed by the job runner: OCR of each page, then the page layout of
//! `cogway_vision::document` (paragraphs, roles and ruled tables). Spans count `stringIndexType`
//! units (text elements by default).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use async_trait::async_trait;
use base64::Engine;
use cogway_core::{Code, ServiceError};
use cogway_language::units::{OffsetMapper, StringIndexType};
use cogway_vision::document::{self, Document, Model, PageInput, pdf};
use cogway_vision::geometry::Point;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::image_body::{decode, fetch};
use super::{SERVICE, vision_service};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::jobs::{self, Claimed, JobContext, JobHandler, JobInput, JobKind, NewJob, Outcome, blob_name};
use crate::routes::body::{content_type, read_limited};
use crate::routes::language::documents::parse_index_type;
use crate::routes::query::{query_pairs, query_param};
use crate::settings::Settings;

const JOB_KIND: JobKind = JobKind::Document;
pub const API_VERSION: &str = "2024-11-30";
/// The models offered.
const MODELS: [&str; 2] = ["prebuilt-read", "prebuilt-layout"];
/// Most pages one request analyses (choose others with `pages=`).
pub const MAX_PAGES: usize = 20;
/// Results are kept 24 hours, as Azure keeps them.
const JOB_TTL_SECS: i64 = 24 * 3600;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentInput {
    model: String,
    /// 1-based page numbers to analyse (PDF); empty: the first [`MAX_PAGES`].
    #[serde(default)]
    pages: Vec<usize>,
    /// `textElements`, `unicodeCodePoint` or `utf16CodeUnit`.
    string_index_type: String,
    pdf: bool,
}

impl JobInput for DocumentInput {
    const KIND: JobKind = JOB_KIND;
}

fn invalid_argument(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidParameterValue, message)
}

/// `pages=1-3,5`: page numbers, in order, each once.
fn parse_pages(text: &str) -> ApiResult<Vec<usize>> {
    let bad = || invalid_argument(format!("The parameter pages is invalid: {text:?} (for example 1-3,5)."));
    let mut pages = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => {
                (a.trim().parse::<usize>().map_err(|_| bad())?, b.trim().parse::<usize>().map_err(|_| bad())?)
            }
            None => {
                let n = part.parse::<usize>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if a == 0 || b < a || b - a >= 10_000 {
            return Err(bad());
        }
        for n in a..=b {
            if !pages.contains(&n) {
                pages.push(n);
            }
            if pages.len() > MAX_PAGES {
                return Err(invalid_argument(format!("At most {MAX_PAGES} pages are analysed per request.")));
            }
        }
    }
    pages.sort_unstable();
    Ok(pages)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourceBody {
    url_source: Option<String>,
    base64_source: Option<String>,
}

/// The file of the request: the raw body, or JSON `{"base64Source"}` / `{"urlSource"}`.
async fn file_bytes(state: &AppState, req: &HttpRequest, payload: web::Payload) -> ApiResult<web::Bytes> {
    let max = state.settings.vision.max_image_bytes;
    let too_large =
        || ApiError::new(Code::InvalidImageSize, format!("The file is larger than the limit of {max} bytes."));
    // Base64 is 4 characters for 3 bytes.
    let body = read_limited(req, payload, max / 3 * 4 + 64 * 1024).await?;
    let json_type = content_type(req).to_ascii_lowercase().contains("json");
    // The SDK labels some raw files as JSON: only a JSON object is read as one.
    if json_type && body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let source: SourceBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                Code::InvalidRequestBodyFormat,
                format!("The body is not {{\"base64Source\"}} or {{\"urlSource\"}}: {e}"),
            )
        })?;
        return match (source.base64_source, source.url_source) {
            (Some(b64), None) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| invalid_argument(format!("base64Source is not base64: {e}")))?;
                if bytes.len() > max {
                    return Err(too_large());
                }
                Ok(web::Bytes::from(bytes))
            }
            (None, Some(url)) => fetch(state, url.trim(), max).await,
            _ => Err(invalid_argument("Give either base64Source or urlSource.")),
        };
    }
    if body.len() > max {
        return Err(too_large());
    }
    if body.is_empty() {
        return Err(ApiError::new(Code::InvalidRequest, "The request has no file."));
    }
    Ok(body)
}

fn check_version(req: &HttpRequest) -> ApiResult<()> {
    let pairs = query_pairs(req);
    match query_param(&pairs, "api-version") {
        Some(API_VERSION) => Ok(()),
        Some(v) => Err(ApiError::new(
            Code::InvalidApiVersion,
            format!("The api-version '{v}' is not supported: use {API_VERSION}."),
        )),
        None => Err(ApiError::new(
            Code::InvalidApiVersion,
            format!("The api-version query parameter is required ({API_VERSION})."),
        )),
    }
}

fn check_model(model: &str) -> ApiResult<()> {
    if MODELS.contains(&model) {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::NotFound,
            format!("The model '{model}' was not found: the models are {}.", MODELS.join(" and ")),
        ))
    }
}

/// Analyse a document.
#[utoipa::path(post, path = "/documentintelligence/documentModels/{modelId}:analyze", tag = "Document intelligence",
    params(("modelId" = String, Path, description = "prebuilt-read or prebuilt-layout"),
           ("api-version" = String, Query, description = "2024-11-30"),
           ("pages" = Option<String>, Query, description = "PDF pages, e.g. 1-3,5 (at most 20; default the first 20)"),
           ("stringIndexType" = Option<String>, Query, description = "textElements (default), unicodeCodePoint or utf16CodeUnit")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "a PDF or an image (JPEG, PNG, BMP, GIF, TIFF, WebP); or JSON {\"base64Source\"} or {\"urlSource\"} (allowed hosts only)"),
    responses((status = 202, description = "Accepted; poll the Operation-Location header"),
              (status = 400, description = "not a PDF or image, damaged, too large, too many pages"),
              (status = 404, description = "no such model")),
    security(("key" = []), ("bearer" = [])))]
pub async fn analyze(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_version(&req)?;
    let model = path.into_inner();
    check_model(&model)?;
    vision_service(&state)?;
    let pairs = query_pairs(&req);
    let requested = query_param(&pairs, "pages").map(parse_pages).transpose()?.unwrap_or_default();
    let unit = query_param(&pairs, "stringIndexType").unwrap_or("textElements");
    parse_index_type(unit)?;
    let bytes = file_bytes(&state, &req, payload).await?;
    let is_pdf = pdf::is_pdf(&bytes);
    // Checked now, so that a damaged file is a 400 here and not a failed operation later.
    let pages = if is_pdf {
        let data = bytes.clone();
        let sizes = web::block(move || pdf::Scratch::new(&data).and_then(|s| pdf::page_sizes(&s)))
            .await
            .map_err(|e| ApiError(ServiceError::internal(format!("pdf thread failed: {e}"))))??;
        let pages = if requested.is_empty() { (1..=sizes.len().min(MAX_PAGES)).collect() } else { requested };
        if let Some(missing) = pages.iter().find(|&&p| p > sizes.len()) {
            return Err(invalid_argument(format!(
                "The document has {} pages; page {missing} does not exist.",
                sizes.len()
            )));
        }
        pages
    } else {
        decode(&state, bytes.clone()).await?;
        vec![1]
    };
    let id = uuid::Uuid::new_v4().to_string();
    let input =
        DocumentInput { model: model.clone(), pages: pages.clone(), string_index_type: unit.to_string(), pdf: is_pdf };
    let content_type = if is_pdf { "application/pdf" } else { "application/octet-stream" };
    let job =
        NewJob::new(&id, &caller.key.id, &input, JOB_TTL_SECS)?.with_blob(bytes.as_ref(), Some(content_type), None);
    let charge = state.usage.charge_images(&caller.key, SERVICE, pages.len() as u64);
    jobs::submit(&state.clone().into_inner(), job, charge, None).await?;
    let info = req.connection_info();
    let location = format!(
        "{}://{}/documentintelligence/documentModels/{model}/analyzeResults/{id}?api-version={API_VERSION}",
        info.scheme(),
        info.host()
    );
    Ok(HttpResponse::Accepted()
        .insert_header(("Operation-Location", location))
        .insert_header(("apim-request-id", id))
        .finish())
}

/// The state of an analysis and, once it succeeded, its result.
#[utoipa::path(get, path = "/documentintelligence/documentModels/{modelId}/analyzeResults/{resultId}", tag = "Document intelligence",
    params(("modelId" = String, Path), ("resultId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "status notStarted, running, succeeded (with analyzeResult) or failed (with error)"),
              (status = 404, description = "no such analysis, or it expired (24 h)")),
    security(("key" = []), ("bearer" = [])))]
pub async fn result(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    check_version(&req)?;
    super::enabled(&state)?;
    let (model, id) = path.into_inner();
    check_model(&model)?;
    let row = jobs::load(&state.db, JOB_KIND, &id, &caller.key).await?;
    if row.input_as::<DocumentInput>()?.model != model {
        return Err(ApiError::new(Code::NotFound, format!("The analysis '{id}' does not exist.")));
    }
    let mut body = super::read::operation_body(&row);
    if let Some(error) = row.error.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()) {
        body["error"] = json!({ "code": "InvalidRequest", "message": "Invalid request.", "innererror": error });
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Runs document analyses.
pub struct DocumentJobs;

#[async_trait]
impl JobHandler for DocumentJobs {
    fn kind(&self) -> JobKind {
        JOB_KIND
    }

    fn concurrency(&self, settings: &Settings) -> usize {
        settings.vision.read_concurrency.max(1)
    }

    fn enabled(&self, settings: &Settings) -> bool {
        settings.services.vision
    }

    async fn run(&self, state: &AppState, job: &Claimed, _ctx: &JobContext) -> Result<Outcome, ServiceError> {
        run(state, job).await
    }

    fn failure_code(&self, e: &ServiceError) -> &'static str {
        if e.code.http_status() < 500 { "InvalidContent" } else { "InternalServerError" }
    }
}

/// One page to read: its image and how many units (inches) one pixel is (1 for images).
struct PageImage {
    image: Arc<cogway_vision::RgbImage>,
    scale: f32,
}

async fn read_page(state: &AppState, page: PageImage, layout: bool) -> Result<(PageInput, f32), ServiceError> {
    let service = crate::engines::wait_for(state, vision_service).await?;
    let lines = super::read::read_lines(&service, page.image.clone()).await?;
    let flipped = lines.iter().filter(|l| l.upside_down).count();
    let (width, height) = page.image.dimensions();
    let image = page.image.clone();
    let grids = if layout {
        tokio::task::spawn_blocking(move || document::ruled_tables(&image))
            .await
            .map_err(|e| ServiceError::internal(format!("table thread failed: {e}")))?
    } else {
        Vec::new()
    };
    Ok((PageInput { width, height, upside_down: flipped * 2 > lines.len(), lines, grids }, page.scale))
}

async fn run(state: &AppState, job: &Claimed) -> Result<Outcome, ServiceError> {
    let input: DocumentInput = job.input_as()?;
    let data = state
        .blobs
        .get(&blob_name(&job.id))
        .await?
        .ok_or_else(|| ServiceError::internal("The analysis's file was lost; submit it again."))?;
    let model = if input.model == "prebuilt-layout" { Model::Layout } else { Model::Read };
    let mut pages = Vec::new();
    if input.pdf {
        let (scratch, sizes) = tokio::task::spawn_blocking(move || {
            let scratch = pdf::Scratch::new(&data)?;
            let sizes = pdf::page_sizes(&scratch)?;
            Ok::<_, ServiceError>((Arc::new(scratch), sizes))
        })
        .await
        .map_err(|e| ServiceError::internal(format!("pdf thread failed: {e}")))??;
        for &number in &input.pages {
            let size = *sizes.get(number.saturating_sub(1)).ok_or_else(|| ServiceError::invalid("no such page"))?;
            let scratch = scratch.clone();
            // Rendered one page at a time: only one page image is held at once.
            let rendered = tokio::task::spawn_blocking(move || pdf::render(&scratch, number, size))
                .await
                .map_err(|e| ServiceError::internal(format!("pdf thread failed: {e}")))??;
            let scale = rendered.width_inches / rendered.image.width().max(1) as f32;
            let page = PageImage { image: Arc::new(rendered.image), scale };
            pages.push(read_page(state, page, model == Model::Layout).await?);
        }
    } else {
        let picture = decode(state, data.into()).await.map_err(|e| e.0)?;
        let page = PageImage { image: picture.rgb.clone(), scale: 1.0 };
        drop(picture);
        pages.push(read_page(state, page, model == Model::Layout).await?);
    }
    state.metrics.vision_images.with_label_values(&["document"]).inc_by(pages.len() as u64);
    let scales: Vec<f32> = pages.iter().map(|(_, s)| *s).collect();
    let analyzed = document::analyze(pages.into_iter().map(|(p, _)| p).collect(), model);
    let unit = StringIndexType::parse(&input.string_index_type).unwrap_or_default();
    Ok(Outcome::succeeded(analyze_result(&input, &analyzed, &scales, unit)))
}

/// A polygon as Document Intelligence writes it: 8 numbers in the page's unit.
fn polygon(points: &[Point; 4], scale: f32) -> Vec<f64> {
    let round = |v: f32| {
        let v = f64::from(v * scale);
        if scale == 1.0 { v.round() } else { (v * 10_000.0).round() / 10_000.0 }
    };
    points.iter().flat_map(|p| [round(p.x), round(p.y)]).collect()
}

/// The `analyzeResult` of a finished analysis.
fn analyze_result(input: &DocumentInput, doc: &Document, scales: &[f32], unit: StringIndexType) -> Value {
    let mapper = OffsetMapper::new(&doc.content, unit);
    let span = |(at, len): (usize, usize)| {
        let (offset, length) = mapper.span(at, at + len);
        json!({ "offset": offset, "length": length })
    };
    let scale = |page: usize| scales.get(page.saturating_sub(1)).copied().unwrap_or(1.0);
    let pdf_unit = if input.pdf { "inch" } else { "pixel" };
    let region =
        |page: usize, points: &[Point; 4]| json!([{ "pageNumber": page, "polygon": polygon(points, scale(page)) }]);
    let pages: Vec<Value> = doc
        .pages
        .iter()
        .zip(&input.pages_or_first())
        .map(|(p, &number)| {
            let s = scale(p.number);
            let size =
                |v: u32| if s == 1.0 { f64::from(v) } else { (f64::from(v as f32 * s) * 10_000.0).round() / 10_000.0 };
            json!({
                "pageNumber": number,
                "angle": p.angle,
                "width": size(p.width),
                "height": size(p.height),
                "unit": pdf_unit,
                "words": p.words.iter().map(|w| json!({
                    "content": w.content, "polygon": polygon(&w.polygon, s),
                    "confidence": (f64::from(w.confidence) * 1000.0).round() / 1000.0, "span": span(w.span),
                })).collect::<Vec<_>>(),
                "lines": p.lines.iter().map(|l| json!({
                    "content": l.content, "polygon": polygon(&l.polygon, s), "spans": [span(l.span)],
                })).collect::<Vec<_>>(),
                "spans": [span(p.span)],
            })
        })
        .collect();
    let number = |page: usize| input.pages_or_first().get(page.saturating_sub(1)).copied().unwrap_or(page);
    let paragraphs: Vec<Value> = doc
        .paragraphs
        .iter()
        .map(|p| {
            let mut v = json!({
                "content": p.content, "boundingRegions": region(p.page, &p.polygon), "spans": [span(p.span)],
            });
            v["boundingRegions"][0]["pageNumber"] = json!(number(p.page));
            if let Some(role) = p.role {
                v["role"] = json!(role);
            }
            v
        })
        .collect();
    let mut result = json!({
        "apiVersion": API_VERSION,
        "modelId": input.model,
        "stringIndexType": input.string_index_type,
        "content": doc.content,
        "contentFormat": "text",
        "pages": pages,
        "paragraphs": paragraphs,
        "styles": [],
    });
    if input.model == "prebuilt-layout" {
        result["tables"] = doc
            .tables
            .iter()
            .map(|t| {
                let cells: Vec<Value> = t
                    .cells
                    .iter()
                    .map(|c| {
                        let mut v = json!({
                            "rowIndex": c.row, "columnIndex": c.column, "content": c.content,
                            "boundingRegions": region(t.page, &c.polygon),
                            "spans": c.span.map(|s| vec![span(s)]).unwrap_or_default(),
                        });
                        v["boundingRegions"][0]["pageNumber"] = json!(number(t.page));
                        if let Some(kind) = c.kind {
                            v["kind"] = json!(kind);
                        }
                        v
                    })
                    .collect();
                let mut v = json!({
                    "rowCount": t.row_count, "columnCount": t.column_count, "cells": cells,
                    "boundingRegions": region(t.page, &t.polygon), "spans": [span(t.span)],
                });
                v["boundingRegions"][0]["pageNumber"] = json!(number(t.page));
                v
            })
            .collect();
    }
    result
}

impl DocumentInput {
    /// The page numbers analysed, in order (an image is page 1).
    fn pages_or_first(&self) -> Vec<usize> {
        if self.pages.is_empty() { vec![1] } else { self.pages.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_parse_as_azure_writes_them() {
        assert_eq!(parse_pages("1-3,5").expect("pages"), [1, 2, 3, 5]);
        assert_eq!(parse_pages("2, 2,1").expect("pages"), [1, 2]);
        for bad in ["0", "3-1", "a", "1-x", "1-100000"] {
            assert!(parse_pages(bad).is_err(), "{bad}");
        }
        assert!(parse_pages(&format!("1-{}", MAX_PAGES + 1)).is_err());
    }
}
