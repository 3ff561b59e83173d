//! How the fuzz targets (`fuzz/fuzz_targets`) turn raw bytes into calls of the parsers that read
//! client input: audio and image decoders, SSML and lexicons, HTML and dictionary markup, zip and
//! multipart uploads, and the JSON bodies of every route family. Each function must return,
//! whatever the bytes; a failure must be a 4xx, never a panic or a 5xx.
//!
//! The same functions replay every file of `tests/data/fuzz-regressions/<target>/` in this
//! module's tests, so a crash the fuzzer finds becomes a regression test by dropping the input
//! there (see docs/fuzzing.md).

use std::pin::Pin;

use actix_web::FromRequest;
use actix_web::error::PayloadError;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::TestRequest;
use actix_web::web::{self, Bytes};
use cogway_core::ServiceError;
use cogway_speech::audio::decode::{DecodeLimits, decode, decode_for_recognition};
use cogway_speech::tts::{lexicon, ssml};
use cogway_translation::{markup, pieces};
use cogway_vision::image_input::{self, ImageLimits};
use futures_util::Stream;
use serde::de::DeserializeOwned;

use crate::errors::{ApiError, ApiResult};
use crate::routes::form::read_form;
use crate::routes::language::documents::{self, Kind, Options};
use crate::routes::language::{custom as language_custom, dto, jobs};
use crate::routes::speech::{batch, custom as speech_custom, openai, whisper_language};
use crate::routes::translator::translate::{TextType, segment_of};
use crate::routes::translator::{TextItem, dictionary, libretranslate};
use crate::routes::vision::analyze::{parse_features, parse_ratios};
use crate::routes::vision::{custom as vision_custom, image_body};
use crate::routes::{admin, body::check_resource_name};

/// The voice SSML outside `<voice>` is read with (the gateway's default).
const DEFAULT_VOICE: &str = "en-US-JoeNeural";

/// A harness: takes the fuzzer's bytes and must return, whatever they are.
pub type Harness = fn(&[u8]);

/// The fuzz targets by name, as `fuzz/fuzz_targets/<name>.rs` and the regression folders call them.
pub const TARGETS: &[(&str, Harness)] = &[
    ("audio_decode", audio_decode),
    ("image_decode", image_decode),
    ("ssml", ssml_parse),
    ("lexicon", lexicon_apply),
    ("html_markup", html_markup),
    ("zip_tag_folders", zip_tag_folders),
    ("multipart_form", multipart_form),
    ("request_json", request_json),
];

/// A 5xx for client input is a bug the fuzzer should report like a crash.
fn assert_client_error(err: &ServiceError) {
    assert!(err.code.http_status() < 500, "client input answered with a server error: {err:?}");
}

fn check<T>(result: ApiResult<T>) -> Option<T> {
    result.map_err(|ApiError(err)| assert_client_error(&err)).ok()
}

/// The content types the audio routes pass to the decoder; the first byte picks one and whether
/// the recognizer's resampling runs too.
const AUDIO_TYPES: [Option<&str>; 7] = [
    None,
    Some("audio/wav"),
    Some("audio/ogg"),
    Some("audio/mpeg"),
    Some("audio/flac"),
    Some("audio/webm"),
    Some("audio/pcm; samplerate=16000"),
];

/// Audio of every container: byte 0 picks the content type (low bits) and `decode_for_recognition`
/// (high bit) over `decode`.
pub fn audio_decode(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let content_type = AUDIO_TYPES[usize::from(selector & 0x7f) % AUDIO_TYPES.len()];
    let limits = DecodeLimits { max_seconds: 30 };
    let result = if selector & 0x80 != 0 {
        decode_for_recognition(bytes, content_type, limits)
    } else {
        decode(bytes, content_type, limits)
    };
    if let Err(e) = result {
        assert_client_error(&e.into());
    }
}

/// An uploaded image. The pixel cap is lower than the service's (so the fuzzer stays fast); the
/// checks are the same code.
pub fn image_decode(data: &[u8]) {
    let limits = ImageLimits { max_pixels: 4_000_000, ..ImageLimits::default() };
    match image_input::decode(data, &limits) {
        Ok(picture) => assert!(u64::from(picture.width()) * u64::from(picture.height()) <= limits.max_pixels),
        Err(e) => assert_client_error(&e),
    }
}

/// An SSML document.
pub fn ssml_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(doc) = ssml::parse(text, DEFAULT_VOICE) {
        let _ = doc.text_len();
    }
}

/// SSML read when the input carries none (a word of every kind the lexicon may match).
const LEXICON_SSML: &str = r#"<speak version="1.0" xml:lang="en-US"><voice name="en-US-JoeNeural">BTW the tomato, AI and
W3C are <prosody rate="fast">Benigni's</prosody> words.</voice></speak>"#;

/// A PLS lexicon, applied to SSML: the input is `lexicon` NUL `ssml` (or only a lexicon).
pub fn lexicon_apply(data: &[u8]) {
    let (pls, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(pls) = std::str::from_utf8(pls) else { return };
    let ssml_text = match rest.map(std::str::from_utf8) {
        Some(Ok(text)) => text,
        Some(Err(_)) => return,
        None => LEXICON_SSML,
    };
    let Ok(lexicon) = lexicon::parse(pls) else { return };
    let Ok(mut doc) = ssml::parse(ssml_text, DEFAULT_VOICE) else { return };
    // The gateway's default `speech.tts_max_chars`.
    if lexicon::apply(&mut doc, &[lexicon], 20_000).is_ok() {
        let _ = doc.text_len();
    }
}

/// Translator text with dynamic-dictionary markup, as plain text and as `textType=html`.
pub fn html_markup(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(plain) = segment_of(text, TextType::Plain) {
        let _ = pieces::text_chars(&plain);
        let _ = pieces::render(&plain);
    }
    if let Ok(html) = segment_of(text, TextType::Html) {
        let _ = pieces::text_chars(&html);
        let _ = markup::render_html(&html);
    }
    // HTML alone, without the dictionary pass.
    if let Ok(html) = markup::html(pieces::plain(text)) {
        let _ = markup::render_html(&html);
    }
}

/// A custom vision upload: a zip of tag folders.
pub fn zip_tag_folders(data: &[u8]) {
    // The default per-image limit, and a total small enough for a fuzzer's memory limit.
    let limits = vision_custom::ZipLimits { image: 20 * 1024 * 1024, total: 64 * 1024 * 1024 };
    let _ = check(vision_custom::unzip(data, limits));
}

thread_local! {
    static RUNTIME: Option<tokio::runtime::Runtime> =
        tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
}

/// A `multipart/form-data` upload read by the gateway's form reader. The input is: byte 0 the
/// size of the body's chunks (as the network would split it), byte 1 the form's size limit in
/// 64-byte steps, then the Content-Type header up to a newline, then the body.
pub fn multipart_form(data: &[u8]) {
    let _ = read_multipart(data);
}

fn read_multipart(data: &[u8]) -> Option<crate::routes::form::Form> {
    let [chunk, limit, rest @ ..] = data else { return None };
    let newline = rest.iter().position(|&b| b == b'\n')?;
    let (header, body) = (&rest[..newline], &rest[newline + 1..]);
    let chunk = usize::from(*chunk).max(1);
    let limit = (usize::from(*limit) + 1) * 64;
    let header = actix_web::http::header::HeaderValue::from_bytes(header).ok()?;
    let chunks: Vec<Result<Bytes, PayloadError>> = body.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(futures_util::stream::iter(chunks));
    let mut payload = actix_web::dev::Payload::from(stream);
    let (req, _) = TestRequest::default().insert_header((CONTENT_TYPE, header)).to_http_parts();
    let read = async {
        let payload = web::Payload::from_request(&req, &mut payload).await.ok()?;
        let form = check(read_form(&req, payload, limit, "file").await)?;
        let _ = form.get("definition");
        let _ = form.all("timestamp_granularities");
        let _ = check(form.number::<f32>("temperature"));
        let stored = form.file.iter().chain(&form.files).map(|f| f.bytes.len()).sum::<usize>();
        assert!(stored <= limit, "the form kept {stored} bytes over its limit of {limit}");
        Some(form)
    };
    RUNTIME.with(|runtime| runtime.as_ref().and_then(|runtime| runtime.block_on(read)))
}

fn json<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

/// The JSON body of a route family, with the checks the handler runs before any model does;
/// byte 0 picks the family.
pub fn request_json(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else { return };
    match selector % 13 {
        0 => {
            if let Some(body) = json::<dto::AnalyzeTextRequest>(bytes) {
                let kind = check(Kind::require(&body.kind));
                let _ = check(Options::from_parameters(&body.parameters));
                let docs = &body.analysis_input.documents;
                if let Some(kind) = kind {
                    let _ = check(documents::validate_batch(docs, kind.max_documents()));
                }
                language_documents(docs);
            }
        }
        1 => {
            if let Some(body) = json::<dto::DocumentsRequest>(bytes) {
                let _ = check(documents::validate_batch(&body.documents, 1000));
                language_documents(&body.documents);
            }
        }
        2 => {
            let _ = json::<jobs::JobRequest>(bytes);
        }
        3 => {
            let _ = json::<dto::EmbeddingsRequest>(bytes);
        }
        4 => {
            let _ = json::<language_custom::ProjectRequest>(bytes);
            let _ = json::<Vec<language_custom::Example>>(bytes);
        }
        5 => {
            for item in json::<Vec<TextItem>>(bytes).unwrap_or_default() {
                if let Ok(plain) = segment_of(&item.text, TextType::Plain) {
                    let _ = pieces::text_chars(&plain);
                }
                if let Ok(html) = segment_of(&item.text, TextType::Html) {
                    let _ = markup::render_html(&html);
                }
            }
        }
        6 => {
            let _ = json::<Vec<dictionary::ExampleItem>>(bytes);
        }
        7 => {
            if let Some(request) = json::<libretranslate::LibreRequest>(bytes) {
                let _ = check(libretranslate::texts(&request));
            }
        }
        8 => {
            let _ = json::<batch::Definition>(bytes);
            if let Ok(locale) = std::str::from_utf8(bytes) {
                let _ = check(whisper_language(locale));
            }
        }
        9 => {
            if let Some(request) = json::<speech_custom::ModelRequest>(bytes) {
                let _ = speech_custom::prompt_from_phrases(&request.phrases);
            }
        }
        10 => {
            if let Some(request) = json::<openai::SpeechRequest>(bytes) {
                let _ =
                    cogway_speech::audio::OutputFormat::from_openai(request.response_format.as_deref().unwrap_or(""));
            }
        }
        11 => {
            let _ = json::<image_body::UrlBody>(bytes);
            let _ = json::<vision_custom::CreateProject>(bytes);
            if let Ok(list) = std::str::from_utf8(bytes) {
                let _ = check(parse_features(list));
                let _ = check(parse_ratios(list));
            }
        }
        _ => {
            if let Some(request) = json::<admin::CreateKeyRequest>(bytes) {
                let _ = check(check_resource_name(&request.name, 64, "bad name"));
            }
        }
    }
}

fn language_documents(docs: &[dto::InputDocument]) {
    for doc in docs {
        if let Err(e) = documents::check_document(doc) {
            assert_client_error(&e);
        }
    }
    let _ = documents::characters(docs);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn regressions() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/fuzz-regressions")
    }

    /// Every input a fuzz target once crashed on (one folder per target) must now return.
    #[test]
    fn fuzz_regressions_return() {
        let root = regressions();
        let mut replayed = 0;
        for entry in std::fs::read_dir(&root).expect("tests/data/fuzz-regressions") {
            let folder = entry.expect("entry").path();
            if !folder.is_dir() {
                continue;
            }
            let name = folder.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let Some((_, target)) = TARGETS.iter().find(|(n, _)| *n == name) else {
                panic!(
                    "{} is not a fuzz target (known: {:?})",
                    folder.display(),
                    TARGETS.iter().map(|(n, _)| *n).collect::<Vec<_>>()
                );
            };
            for file in std::fs::read_dir(&folder).expect("folder") {
                let path = file.expect("file").path();
                if path.extension().is_some_and(|e| e == "md") {
                    continue;
                }
                let bytes = std::fs::read(&path).expect("input");
                eprintln!("replaying {}", path.display());
                target(&bytes);
                replayed += 1;
            }
        }
        eprintln!("{replayed} fuzz regression inputs replayed");
    }

    #[test]
    fn every_target_accepts_empty_and_small_inputs() {
        for (_, target) in TARGETS {
            target(b"");
            target(b"\0");
            target(b"\x01\x02\n--x--");
        }
    }

    #[test]
    fn a_well_formed_form_is_read() {
        let mut input = vec![7u8, 255];
        input.extend_from_slice(b"multipart/form-data; boundary=XyZ\n");
        input.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"definition\"\r\n\r\n{\"locale\":\"en-US\"}\r\n--XyZ\r\n\
              Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--XyZ--\r\n",
        );
        let form = read_multipart(&input).expect("the form is read");
        assert_eq!(form.get("definition"), Some("{\"locale\":\"en-US\"}"));
        let file = form.file.expect("the file field");
        assert_eq!(&file.bytes[..], b"RIFF");
        assert_eq!(file.filename.as_deref(), Some("a.wav"));
    }
}
