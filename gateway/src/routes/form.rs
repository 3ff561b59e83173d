//! Reading `multipart/form-data` uploads (OpenAI audio routes, batch transcription, custom vision
//! images) with a size limit on the whole form, into named text fields and files.

use actix_multipart::Multipart;
use actix_web::HttpRequest;
use actix_web::web::{self, Bytes};
use cogway_core::Code;
use futures_util::StreamExt;

use crate::errors::{ApiError, ApiResult};
use crate::routes::body::{content_type, within_body_deadline};

/// The uploaded file of a form.
pub struct UploadedFile {
    pub bytes: Bytes,
    pub content_type: Option<String>,
    pub filename: Option<String>,
}

/// A parsed form: text fields (repeatable, in order) and the file field.
#[derive(Default)]
pub struct Form {
    fields: Vec<(String, String)>,
    pub file: Option<UploadedFile>,
    /// The other parts that carry a file name, in order.
    pub files: Vec<UploadedFile>,
}

impl Form {
    /// The last value of a field, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// Every value of a field (`name` or `name[]`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        let array = format!("{name}[]");
        self.fields.iter().filter(|(k, _)| *k == name || *k == array).map(|(_, v)| v.trim()).collect()
    }

    /// A number field, refusing values that do not parse.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> ApiResult<Option<T>> {
        self.get(name)
            .map(|v| {
                v.parse::<T>().map_err(|_| {
                    ApiError::new(Code::InvalidParameterValue, format!("The field {name} must be a number, not {v:?}."))
                })
            })
            .transpose()
    }
}

/// Bytes counted for each part on top of its content: its headers (name, file name, content type),
/// which actix-multipart reads into memory too.
const PART_OVERHEAD: usize = 256;
/// Most parts a form may have: each costs parsing and a header allocation even when empty.
const MAX_PARTS: usize = 1000;

/// Reads a multipart form of at most `limit` bytes (part headers included) whose file field is
/// `file_field`, within the body deadline (`server.body_timeout_secs`).
pub async fn read_form(req: &HttpRequest, payload: web::Payload, limit: usize, file_field: &str) -> ApiResult<Form> {
    within_body_deadline(req, read_form_untimed(req, payload, limit, file_field)).await
}

async fn read_form_untimed(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    file_field: &str,
) -> ApiResult<Form> {
    if !content_type(req).to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!("The Content-Type must be multipart/form-data with the upload in a `{file_field}` field."),
        ));
    }
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large =
        || ApiError::new(Code::PayloadTooLarge, format!("The upload is larger than the limit of {limit} bytes."));
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut multipart = Multipart::new(req.headers(), payload);
    let mut form = Form::default();
    let mut used = 0usize;
    let mut parts = 0usize;
    while let Some(field) = multipart.next().await {
        let mut field =
            field.map_err(|e| ApiError::new(Code::InvalidRequest, format!("The multipart form is malformed: {e}")))?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("The multipart form has more than {MAX_PARTS} parts."),
            ));
        }
        let name = field.name().unwrap_or("").to_string();
        let filename = field.content_disposition().and_then(|d| d.get_filename()).map(str::to_string);
        let field_type = field.content_type().map(|m| m.essence_str().to_string());
        let headers: usize = field.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
        used = used.saturating_add(headers + PART_OVERHEAD);
        if used > limit {
            return Err(too_large());
        }
        let remaining = limit.saturating_sub(used);
        let bytes = match field.bytes(remaining).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                return Err(ApiError::new(Code::InvalidRequest, format!("Reading the field {name:?} failed: {e}")));
            }
            Err(_) => return Err(too_large()),
        };
        used += bytes.len();
        if name == file_field {
            form.file = Some(UploadedFile { bytes, content_type: field_type, filename });
        } else if filename.is_some() {
            form.files.push(UploadedFile { bytes, content_type: field_type, filename });
        } else {
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                ApiError::new(Code::InvalidParameterValue, format!("The field {name:?} is not UTF-8 text."))
            })?;
            form.fields.push((name, text));
        }
    }
    Ok(form)
}
