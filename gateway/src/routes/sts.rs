//! `POST /sts/v1.0/issueToken`: a key in the header buys a 10-minute JWT, returned as text.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::AppState;
use crate::auth::authenticate_key_only;
use crate::errors::ApiResult;

/// Issue an access token for `Authorization: Bearer`.
#[utoipa::path(post, path = "/sts/v1.0/issueToken", tag = "Auth",
    responses((status = 200, description = "The JWT as text/plain", content_type = "text/plain"),
              (status = 401, description = "Missing or invalid key")),
    security(("key" = [])))]
pub async fn issue_token(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let key = authenticate_key_only(&state, &req).await?;
    state.rate_limits.check(&key).await?;
    let token = state.tokens.issue(&key)?;
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(token))
}
