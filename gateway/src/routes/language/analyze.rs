//! `POST /language/:analyze-text` (Azure Language 2023-04-01).

use actix_web::{HttpRequest, HttpResponse, web};

use super::check_api_version;
use super::documents::{self, Kind, Options};
use super::dto::AnalyzeTextRequest;
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::ApiResult;
use crate::routes::body::read_json;

/// Analyze text: one kind of analysis over a batch of documents.
#[utoipa::path(
    post,
    path = "/language/:analyze-text",
    tag = "Language",
    params(("api-version" = String, Query, description = "2022-05-01, 2023-04-01, 2023-11-15-preview or 2024-11-01")),
    request_body = AnalyzeTextRequest,
    responses(
        (status = 200, description = "Per-document results and errors; `kind` is `<Kind>Results`"),
        (status = 400, description = "Malformed request, bad parameters, too many documents"),
        (status = 401, description = "Missing or invalid key or token"),
        (status = 429, description = "Rate limit or quota exceeded (Retry-After)"),
        (status = 503, description = "Model not loaded or server at capacity (Retry-After)"),
    ),
    security(("key" = []), ("bearer" = []))
)]
pub async fn analyze_text(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_api_version(&req)?;
    let body: AnalyzeTextRequest = read_json(&req, payload, state.settings.limits.language_max_body_bytes).await?;
    let kind = Kind::require(&body.kind)?;
    let options = Options::from_parameters(&body.parameters)?;
    let results = documents::run_batch(&state, &caller.key, kind, &body.analysis_input.documents, &options).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "kind": documents::results_kind(kind), "results": results })))
}
