//! The image of a Vision request: the raw body (`application/octet-stream`, `image/*`), a
//! multipart form's `imageData` file, or a JSON body `{"url": "..."}` fetched from a host the configuration allows (none by default, so the
//! server cannot be used to reach internal addresses). Either way the bytes are capped, decoded
//! on the blocking pool within the image limits, and one image is charged to the key.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, web};
use cogway_core::{Code, ServiceError};
use cogway_vision::image_input::{self, ImageLimits, Picture};
use futures_util::StreamExt;
use serde::Deserialize;

use super::SERVICE;
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::{content_type, read_limited};
use crate::routes::form::read_form;

#[derive(Deserialize)]
pub(crate) struct UrlBody {
    url: Option<String>,
}

fn url_error(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidImageUrl, message)
}

/// The limits of the configuration.
pub fn limits(state: &AppState) -> ImageLimits {
    ImageLimits { max_bytes: state.settings.vision.max_image_bytes, ..ImageLimits::default() }
}

/// Reads the request's image bytes (body or URL), without decoding them.
pub async fn image_bytes(state: &AppState, req: &HttpRequest, payload: web::Payload) -> ApiResult<web::Bytes> {
    let max = state.settings.vision.max_image_bytes;
    let ct = content_type(req).to_ascii_lowercase();
    if ct.contains("json") {
        let body = read_limited(req, payload, 64 * 1024).await?;
        let parsed: UrlBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                Code::InvalidRequestBodyFormat,
                format!("The body is not JSON of the form {{\"url\": \"...\"}}: {e}"),
            )
        })?;
        let url =
            parsed.url.filter(|u| !u.trim().is_empty()).ok_or_else(|| url_error("The JSON body needs a \"url\"."))?;
        return fetch(state, url.trim(), max).await;
    }
    if ct.starts_with("multipart/form-data") {
        // Custom Vision's prediction SDK sends the image as the form field `imageData`.
        let form = read_form(req, payload, max.saturating_add(64 * 1024), "imageData").await?;
        let file = form.file.or_else(|| form.files.into_iter().next()).ok_or_else(|| {
            ApiError::new(Code::InvalidRequest, "The multipart form has no image: send it in the field `imageData`.")
        })?;
        if file.bytes.len() > max {
            return Err(ApiError::new(
                Code::InvalidImageSize,
                format!("The image size is not allowed to be zero or larger than {max} bytes."),
            ));
        }
        return Ok(file.bytes);
    }
    if !(ct.is_empty() || ct.starts_with("application/octet-stream") || ct.starts_with("image/")) {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!(
                "The Content-Type {ct:?} is not accepted: send the image as application/octet-stream (or image/*), multipart/form-data, or JSON {{\"url\": \"...\"}}."
            ),
        ));
    }
    // A little over the image limit, so an oversized image gets Azure's InvalidImageSize (400)
    // from the decoder rather than a bare 413.
    read_limited(req, payload, max.saturating_add(1)).await.map_err(|e| match e.0.code {
        Code::PayloadTooLarge => ApiError::new(
            Code::InvalidImageSize,
            format!("The image size is not allowed to be zero or larger than {max} bytes."),
        ),
        _ => e,
    })
}

/// Decodes image bytes on the blocking pool, `vision.decode_concurrency` images at a time.
pub async fn decode(state: &AppState, bytes: web::Bytes) -> ApiResult<Arc<Picture>> {
    decode_within(state, bytes, limits(state)).await
}

/// [`decode`] within other limits than Vision's (Content Safety's are smaller).
pub async fn decode_within(state: &AppState, bytes: web::Bytes, limits: ImageLimits) -> ApiResult<Arc<Picture>> {
    let turn = state.vision_gate.decode_turn().await?;
    let picture = web::block(move || {
        let picture = image_input::decode(&bytes, &limits);
        drop(turn);
        picture
    })
    .await
    .map_err(|e| ApiError(ServiceError::internal(format!("decoding thread failed: {e}"))))??;
    Ok(Arc::new(picture))
}

/// Reads, decodes and charges the request's image.
pub async fn read_image(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    payload: web::Payload,
) -> ApiResult<Arc<Picture>> {
    let bytes = image_bytes(state, req, payload).await?;
    let picture = decode(state, bytes).await?;
    state.usage.charge_images(&caller.key, SERVICE, 1).await?;
    Ok(picture)
}

/// Whether `host` is allowed by `allowed` (exact names, or `*.example.com` for subdomains).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.to_ascii_lowercase();
    allowed.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        match a.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == a,
        }
    })
}

pub(crate) async fn fetch(state: &AppState, url: &str, max: usize) -> ApiResult<web::Bytes> {
    let parsed = reqwest::Url::parse(url).map_err(|e| url_error(format!("The image URL is not valid: {e}")))?;
    if parsed.scheme() != "http" {
        return Err(url_error("Only http:// image URLs can be fetched by this server; send the image bytes instead."));
    }
    let host = parsed.host_str().unwrap_or_default();
    if !host_allowed(host, &state.settings.vision.allowed_url_hosts) {
        return Err(url_error(format!(
            "Fetching images from {host:?} is not allowed on this server (vision.allowed_url_hosts); send the image bytes instead."
        )));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(state.settings.vision.url_timeout_secs))
        .build()
        .map_err(|e| ApiError(ServiceError::internal(format!("http client: {e}"))))?;
    let response =
        client.get(parsed).send().await.map_err(|e| url_error(format!("The image URL could not be fetched: {e}")))?;
    if !response.status().is_success() {
        return Err(url_error(format!("The image URL answered {}.", response.status())));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| url_error(format!("Reading the image URL failed: {e}")))?;
        if body.len() + chunk.len() > max {
            return Err(ApiError::new(
                Code::InvalidImageSize,
                format!("The image size is not allowed to be zero or larger than {max} bytes."),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(web::Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_hosts_are_fetched() {
        let allowed = vec!["images.local".to_string(), "*.example.com".to_string()];
        assert!(host_allowed("images.local", &allowed));
        assert!(host_allowed("cdn.Example.com", &allowed));
        assert!(!host_allowed("example.com", &allowed));
        assert!(!host_allowed("169.254.169.254", &allowed));
        assert!(!host_allowed("images.local", &[]));
    }
}
