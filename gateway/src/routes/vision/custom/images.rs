//! Labelled images of a Custom Vision project: base64 batches (what the SDK's
//! `create_images_from_files` sends, tags by id), one image or a multipart form of many (tag by
//! name or id), or a zip whose folder names are the tags. Each image is decoded and embedded
//! once, at upload; training reads only the embeddings.

use std::io::{BufRead, Cursor, Read};

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use cogway_core::{Code, ServiceError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::image_body::decode;
use super::super::{SERVICE, vision_service};
use super::load_project;
use super::tags::{check_tag_name, tag_named};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::{content_type, read_limited};
use crate::routes::form::read_form;
use crate::store::vision_projects::{NewImage, Tag as TagRow, VisionProjects};

/// Most images one upload may carry.
const MAX_IMAGES_PER_UPLOAD: usize = 64;
/// Largest upload (a zip or a form of many images).
const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Largest JSON batch: the upload limit in base64 (4 characters per 3 bytes), with room for
/// the names and tag ids.
const MAX_BATCH_BYTES: usize = MAX_UPLOAD_BYTES / 3 * 4 + 256 * 1024;
/// Most images a project may hold.
const MAX_IMAGES_PER_PROJECT: i64 = 5_000;

/// One image of an upload, before it is decoded: its tag (a name) and where it came from.
pub(crate) struct Upload {
    tag: String,
    name: String,
    bytes: web::Bytes,
}

/// Most entries a zip may list, folders and skipped files included.
const MAX_ZIP_ENTRIES: usize = 1_024;

/// What one zip upload may unpack to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ZipLimits {
    /// Each image (`vision.max_image_bytes`).
    pub image: u64,
    /// All images together (`vision.max_zip_bytes`).
    pub total: u64,
}

/// How many central-directory entries a zip reader could find in `bytes`: each starts with the
/// signature `PK\x01\x02`, so there are at most as many as it occurs (whatever the end record
/// claims). Jumps from one `\x02` byte to the next with std's `memchr`.
fn central_headers(bytes: &[u8]) -> usize {
    let mut rest = Cursor::new(bytes);
    let mut count = 0;
    while matches!(rest.skip_until(0x02), Ok(n) if n > 0) {
        let end = usize::try_from(rest.position()).unwrap_or(0);
        if end >= 4 && bytes[end - 4..end] == *b"PK\x01\x02" {
            count += 1;
        }
    }
    count
}

/// The images of a zip: `tag/file.jpg` (the folder is the tag); files outside a folder, and
/// folders' own entries, are skipped. Bounded before anything is inflated, from the sizes the
/// entries declare (each at most `limits.image`, together at most `limits.total`), and while
/// reading: an entry that unpacks to more than it declared is refused at the first byte past it.
/// Runs on the blocking pool (it inflates up to `limits.total` bytes).
pub(crate) fn unzip(bytes: &[u8], limits: ZipLimits) -> ApiResult<Vec<Upload>> {
    let bad = |e: &dyn std::fmt::Display| ApiError::new(Code::InvalidRequest, format!("The zip cannot be read: {e}"));
    let too_many = || ApiError::new(Code::InvalidRequest, format!("A zip may list at most {MAX_ZIP_ENTRIES} entries."));
    // The reader parses the whole directory up front: count its entries before it does.
    if central_headers(bytes) > MAX_ZIP_ENTRIES {
        return Err(too_many());
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(&e))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(too_many());
    }
    // The images and their declared sizes, from the directory alone.
    let mut wanted = Vec::new();
    let mut total = 0u64;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| bad(&e))?;
        if entry.is_dir() {
            continue;
        }
        let Some(path) = entry.enclosed_name() else { continue };
        let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().to_string()).collect();
        if parts.len() < 2 || parts.iter().any(|p| p.starts_with('.') || p == "__MACOSX") {
            continue;
        }
        if wanted.len() >= MAX_IMAGES_PER_UPLOAD {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("A zip may hold at most {MAX_IMAGES_PER_UPLOAD} images."),
            ));
        }
        let name = parts.join("/");
        let size = entry.size();
        if size > limits.image {
            return Err(ApiError::new(
                Code::InvalidImageSize,
                format!(
                    "The zip entry {name:?} unpacks to {size} bytes; an image may have at most {} bytes.",
                    limits.image
                ),
            ));
        }
        total = total.saturating_add(size);
        if total > limits.total {
            return Err(ApiError::new(
                Code::PayloadTooLarge,
                format!("The zip's images unpack to more than {} bytes, the most one upload may hold.", limits.total),
            ));
        }
        wanted.push((i, check_tag_name(&parts[parts.len() - 2])?, name, size));
    }
    if wanted.is_empty() {
        return Err(ApiError::new(Code::InvalidRequest, "The zip has no images in tag folders (tag/image.jpg)."));
    }
    // Read each through `take(declared + 1)`: a zip can lie about its sizes.
    let mut out = Vec::with_capacity(wanted.len());
    for (i, tag, name, size) in wanted {
        let mut entry = archive.by_index(i).map_err(|e| bad(&e))?;
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut entry).take(size.saturating_add(1)).read_to_end(&mut data).map_err(|e| bad(&e))?;
        if data.len() as u64 != size {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("The zip entry {name:?} does not unpack to the {size} bytes it declares."),
            ));
        }
        out.push(Upload { tag, name, bytes: web::Bytes::from(data) });
    }
    Ok(out)
}

#[derive(Deserialize)]
pub struct ImageQuery {
    tag: Option<String>,
    #[serde(rename = "tagIds")]
    tag_ids: Option<String>,
}

/// The tag a v3.3-style upload names: `tagIds` (one id, or for compatibility a name) or `tag` (a
/// name, created when missing).
async fn query_tag(state: &AppState, project_id: &str, query: &ImageQuery) -> ApiResult<Option<String>> {
    if let Some(ids) = query.tag_ids.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let tags = VisionProjects::new(&state.db).tags(project_id).await?;
        let ids: Vec<&str> = ids.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if ids.len() > 1 {
            return Err(one_tag_only());
        }
        if let Some(tag) = tags.iter().find(|t| t.id == ids[0]) {
            return Ok(Some(tag.name.clone()));
        }
        let name = check_tag_name(ids[0])?;
        return Ok(Some(tag_named(state, project_id, &name).await?.name));
    }
    match query.tag.as_deref() {
        Some(name) => {
            let name = check_tag_name(name)?;
            Ok(Some(tag_named(state, project_id, &name).await?.name))
        }
        None => Ok(None),
    }
}

fn one_tag_only() -> ApiError {
    ApiError::new(
        Code::InvalidParameterValue,
        "An image takes exactly one tag: projects are Multiclass (Multilabel is not offered).",
    )
}

/// Upload labelled images.
#[utoipa::path(post, path = "/customvision/v3.4-preview/training/projects/{projectId}/images", tag = "Custom vision",
    params(("projectId" = String, Path),
           ("tagIds" = Option<String>, Query, description = "the id of the uploaded images' tag"),
           ("tag" = Option<String>, Query, description = "or the tag's name (created when missing)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "one image; or multipart/form-data with image files (a `tag` field or the query tag); or application/zip with one folder per tag"),
    responses((status = 200, description = "isBatchSuccessful and one entry per image"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn add_images(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ImageQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    vision_service(&state)?;
    let query_tag = query_tag(&state, &project.id, &query).await?;
    let ct = content_type(&req).to_ascii_lowercase();
    let need_tag = || {
        query_tag.clone().ok_or_else(|| {
            ApiError::new(Code::InvalidParameterValue, "Name the images' tag with ?tagIds=ID or ?tag=NAME.")
        })
    };
    let uploads = if ct.starts_with("application/zip") || ct.starts_with("application/x-zip") {
        let zip = read_limited(&req, payload, MAX_UPLOAD_BYTES).await?;
        let limits = ZipLimits {
            image: state.settings.vision.max_image_bytes as u64,
            total: state.settings.vision.max_zip_bytes as u64,
        };
        let mut uploads = web::block(move || unzip(&zip, limits))
            .await
            .map_err(|e| ApiError(ServiceError::internal(format!("unzipping thread failed: {e}"))))??;
        for upload in &mut uploads {
            upload.tag = tag_named(&state, &project.id, &upload.tag).await?.name;
        }
        uploads
    } else if ct.starts_with("multipart/form-data") {
        let form = read_form(&req, payload, MAX_UPLOAD_BYTES, "imageData").await?;
        let tag = match form.get("tag") {
            Some(t) => tag_named(&state, &project.id, &check_tag_name(t)?).await?.name,
            None => need_tag()?,
        };
        let files: Vec<_> = form.file.into_iter().chain(form.files).collect();
        if files.is_empty() || files.len() > MAX_IMAGES_PER_UPLOAD {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("A form must carry 1 to {MAX_IMAGES_PER_UPLOAD} image files."),
            ));
        }
        files
            .into_iter()
            .enumerate()
            .map(|(i, f)| Upload {
                tag: tag.clone(),
                name: f.filename.unwrap_or_else(|| format!("image{i}")),
                bytes: f.bytes,
            })
            .collect()
    } else {
        let bytes = super::super::image_body::image_bytes(&state, &req, payload).await?;
        vec![Upload { tag: need_tag()?, name: "image".into(), bytes }]
    };
    store_uploads(&state, &caller, &project.id, uploads).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileBatch {
    images: Vec<FileEntry>,
    tag_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    name: Option<String>,
    /// The image, base64.
    contents: String,
    tag_ids: Option<Vec<String>>,
    regions: Option<Vec<Value>>,
}

/// Upload a batch of labelled images sent as base64 (the SDK's `create_images_from_files`).
#[utoipa::path(post, path = "/customvision/v3.4-preview/training/projects/{projectId}/images/files", tag = "Custom vision",
    params(("projectId" = String, Path)),
    request_body(content = Object, content_type = "application/json",
        description = "{\"images\": [{\"name\", \"contents\": base64, \"tagIds\": [one id]}], \"tagIds\": [for every image]}; at most 64 images"),
    responses((status = 200, description = "isBatchSuccessful and one entry per image"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn add_image_files(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    vision_service(&state)?;
    let body = read_limited(&req, payload, MAX_BATCH_BYTES).await?;
    let batch: FileBatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(Code::InvalidRequestBodyFormat, format!("The body is not an image batch: {e}")))?;
    drop(body);
    if batch.images.is_empty() || batch.images.len() > MAX_IMAGES_PER_UPLOAD {
        return Err(ApiError::new(
            Code::InvalidRequest,
            format!("A batch must carry 1 to {MAX_IMAGES_PER_UPLOAD} images."),
        ));
    }
    let tags = VisionProjects::new(&state.db).tags(&project.id).await?;
    let max_image = state.settings.vision.max_image_bytes;
    let mut uploads = Vec::with_capacity(batch.images.len());
    for (i, entry) in batch.images.into_iter().enumerate() {
        if entry.regions.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                "Regions belong to object detection projects, which are not offered: projects classify whole images.",
            ));
        }
        let ids = entry.tag_ids.as_ref().or(batch.tag_ids.as_ref()).map(Vec::as_slice).unwrap_or_default();
        let tag = match ids {
            [id] => tags.iter().find(|t| t.id == *id).ok_or_else(|| super::not_found("tag", id))?,
            _ => return Err(one_tag_only()),
        };
        // Checked before decoding: base64 is 4 characters per 3 bytes.
        if entry.contents.len() / 4 * 3 > max_image.saturating_add(3) {
            return Err(ApiError::new(
                Code::InvalidImageSize,
                format!("The image size is not allowed to be zero or larger than {max_image} bytes."),
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD.decode(entry.contents.trim()).map_err(|e| {
            ApiError::new(Code::InvalidParameterValue, format!("The contents of image {i} are not base64: {e}"))
        })?;
        uploads.push(Upload {
            tag: tag.name.clone(),
            name: entry.name.unwrap_or_else(|| format!("image{i}")),
            bytes: web::Bytes::from(bytes),
        });
    }
    store_uploads(&state, &caller, &project.id, uploads).await
}

/// Embeds and stores the uploads, answering Custom Vision's `ImageCreateSummary`: an image that
/// cannot be decoded is reported in its entry, the others are stored.
async fn store_uploads(
    state: &AppState,
    caller: &Caller,
    project_id: &str,
    uploads: Vec<Upload>,
) -> ApiResult<HttpResponse> {
    let store = VisionProjects::new(&state.db);
    let stored = store.image_count(project_id).await?;
    if stored + uploads.len() as i64 > MAX_IMAGES_PER_PROJECT {
        return Err(ApiError::new(
            Code::InvalidRequest,
            format!("A project may hold at most {MAX_IMAGES_PER_PROJECT} images; it has {stored}."),
        ));
    }
    let tags: Vec<TagRow> = store.tags(project_id).await?;
    let service = vision_service(state)?;
    state.usage.charge_images(&caller.key, SERVICE, uploads.len() as u64).await?;
    let mut results = Vec::new();
    let mut all_ok = true;
    for upload in uploads {
        match store_image(state, &service, project_id, &upload).await {
            Ok((id, width, height)) => {
                let tag_id = tags.iter().find(|t| t.name == upload.tag).map(|t| t.id.clone());
                let created = rfc3339(now());
                results.push(json!({
                    "sourceUrl": upload.name, "status": "OK",
                    "image": {
                        "id": id, "created": created, "width": width, "height": height,
                        "tags": [{ "tagId": tag_id, "tagName": upload.tag, "created": created }],
                    },
                }));
            }
            Err(e) if e.0.code.http_status() < 500 => {
                all_ok = false;
                let status = if e.0.code == Code::InvalidImageSize { "ErrorImageSize" } else { "ErrorImageFormat" };
                results.push(json!({ "sourceUrl": upload.name, "status": status, "message": e.0.message }));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(HttpResponse::Ok().json(json!({ "isBatchSuccessful": all_ok, "images": results })))
}

/// Decodes, embeds and stores one image: (id, width, height).
async fn store_image(
    state: &AppState,
    service: &cogway_vision::VisionService,
    project_id: &str,
    upload: &Upload,
) -> ApiResult<(String, u32, u32)> {
    let picture = decode(state, upload.bytes.clone()).await?;
    let classification = service.classify(picture.rgb.clone()).await?;
    let embedding: Vec<u8> = classification.embedding.iter().flat_map(|v| v.to_le_bytes()).collect();
    let image = NewImage {
        project_id,
        tag: &upload.tag,
        data: upload.bytes.as_ref(),
        embedding: &embedding,
        width: picture.width(),
        height: picture.height(),
    };
    let id = VisionProjects::new(&state.db).insert_image(image).await?;
    Ok((id, picture.width(), picture.height()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    const LIMITS: ZipLimits = ZipLimits { image: 1024 * 1024, total: 3 * 1024 * 1024 };

    fn zip_of(entries: &[(&str, usize)]) -> Vec<u8> {
        let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, len) in entries {
            archive.start_file(*name, SimpleFileOptions::default().compression_level(Some(6))).expect("entry");
            archive.write_all(&vec![7u8; *len]).expect("write");
        }
        archive.finish().expect("finish").into_inner()
    }

    fn code(result: ApiResult<Vec<Upload>>) -> Code {
        match result {
            Ok(_) => panic!("the zip was accepted"),
            Err(e) => e.0.code,
        }
    }

    #[test]
    fn unzips_the_images_of_tag_folders() {
        let zip = zip_of(&[("cats/1.png", 100), ("dogs/a/2.png", 50), ("README.txt", 5), ("__MACOSX/x/y", 5)]);
        let uploads = unzip(&zip, LIMITS).expect("unzips");
        let got: Vec<_> = uploads.iter().map(|u| (u.tag.as_str(), u.name.as_str(), u.bytes.len())).collect();
        assert_eq!(got, [("cats", "cats/1.png", 100), ("a", "dogs/a/2.png", 50)]);
    }

    #[test]
    fn refuses_entries_over_the_image_limit_and_uploads_over_the_total() {
        // Each entry's declared size is checked before anything is inflated.
        assert_eq!(code(unzip(&zip_of(&[("t/big.png", 1024 * 1024 + 1)]), LIMITS)), Code::InvalidImageSize);
        let four = zip_of(&[("t/1", 1024 * 1024), ("t/2", 1024 * 1024), ("t/3", 1024 * 1024), ("t/4", 1024 * 1024)]);
        assert_eq!(code(unzip(&four, LIMITS)), Code::PayloadTooLarge);
        assert_eq!(Code::PayloadTooLarge.http_status(), 413);
    }

    #[test]
    fn refuses_an_entry_that_unpacks_to_more_than_it_declares() {
        let mut zip = zip_of(&[("t/liar.png", 512 * 1024)]);
        // Rewrite the uncompressed size in the local and central headers to 1,000 bytes.
        for at in 0..zip.len() - 4 {
            match &zip[at..at + 4] {
                b"PK\x03\x04" => zip[at + 22..at + 26].copy_from_slice(&1_000u32.to_le_bytes()),
                b"PK\x01\x02" => zip[at + 24..at + 28].copy_from_slice(&1_000u32.to_le_bytes()),
                _ => {}
            }
        }
        assert_eq!(code(unzip(&zip, LIMITS)), Code::InvalidRequest);
    }

    #[test]
    fn refuses_thousands_of_entries_before_parsing_them() {
        let names: Vec<String> = (0..MAX_ZIP_ENTRIES + 1).map(|i| format!("t/{i}")).collect();
        let entries: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 0)).collect();
        let zip = zip_of(&entries);
        assert_eq!(central_headers(&zip), MAX_ZIP_ENTRIES + 1);
        let err = unzip(&zip, LIMITS).err().expect("refused");
        assert!(err.0.message.contains("entries"), "{}", err.0.message);
        // 64 MiB, the largest upload, is counted quickly; a signature at either end counts.
        let mut large = vec![0u8; MAX_UPLOAD_BYTES];
        large[..4].copy_from_slice(b"PK\x01\x02");
        large[MAX_UPLOAD_BYTES - 4..].copy_from_slice(b"PK\x01\x02");
        let started = std::time::Instant::now();
        assert_eq!(central_headers(&large), 2);
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    }
}
