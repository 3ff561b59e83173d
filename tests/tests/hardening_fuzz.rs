//! Requests that fuzzing and schemathesis (`make fuzz`, `make test-api`, docs/fuzzing.md) found
//! to break the server, sent to the real binary: each must get a 4xx quickly, and the server must
//! still answer a normal request afterwards.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Cursor;
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, azure_error, shared, status_json};
use reqwest::blocking::multipart;

const KEY: &str = "Ocp-Apim-Subscription-Key";

/// Half a second of silence at 16 kHz, as WAV.
fn wav() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for _ in 0..8_000 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

fn assert_still_serving() {
    let r = shared().get("/status").header(KEY, ADMIN_KEY).send().expect("the server still answers");
    assert_eq!(r.status().as_u16(), 200);
}

/// A NUL byte in a language (`language=de%00-DE`) reached whisper.cpp's language lookup, which
/// panicked: the worker dropped the connection without a response (schemathesis).
#[test]
fn a_nul_byte_in_a_speech_language_is_a_400() {
    let server = shared();
    let requests = [
        "/speech/recognition/conversation/cognitiveservices/v1?language=de%00-DE",
        "/speech/recognition/conversation/cognitiveservices/v1?language=%00",
        "/speech/translation/cognitiveservices/v1?from=en%00-US&to=es",
    ];
    for path in requests {
        let started = Instant::now();
        let r = server
            .post(path)
            .header(KEY, ADMIN_KEY)
            .header("Content-Type", "audio/wav")
            .body(wav())
            .timeout(Duration::from_secs(30))
            .send()
            .unwrap_or_else(|e| panic!("{path}: no response ({e})"));
        let (status, body) = status_json(r);
        assert_eq!(status, 400, "{path}: {body}");
        azure_error(&body);
        assert!(started.elapsed() < Duration::from_secs(10), "{path} took {:?}", started.elapsed());
    }
    // The OpenAI route takes the language from a form field.
    let form = multipart::Form::new()
        .text("model", "whisper-1")
        .text("language", "e\0n")
        .part("file", multipart::Part::bytes(wav()).file_name("a.wav").mime_str("audio/wav").unwrap());
    let r = server
        .post("/v1/audio/transcriptions")
        .header(KEY, ADMIN_KEY)
        .multipart(form)
        .timeout(Duration::from_secs(30))
        .send()
        .expect("a response to the transcription");
    let (status, body) = status_json(r);
    assert_eq!(status, 400, "{body}");
    assert_still_serving();
}

/// A 323-byte WAV whose header claims a 1.08 GHz sample rate: the resampler to 16 kHz allocated
/// 4.3 GB for its filter (the `audio_decode` fuzz target; the file is its regression input, after
/// the target's selector byte).
#[test]
fn a_wav_claiming_a_huge_sample_rate_is_a_400() {
    let input = include_bytes!("../data/fuzz-regressions/audio_decode/wav-claiming-1ghz-sample-rate");
    let wav = &input[1..];
    // The server first: its start (loading every model) is not part of the request's time.
    let server = shared();
    let started = Instant::now();
    let r = server
        .post("/speech/recognition/conversation/cognitiveservices/v1?language=en-US")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "audio/wav")
        .body(wav.to_vec())
        .timeout(Duration::from_secs(30))
        .send()
        .expect("a response");
    let (status, body) = status_json(r);
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("sample rate"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_still_serving();
}

/// A WAV header declaring 65,281 channels: symphonia's RIFF reader overflowed a 16-bit product
/// (a panic in builds with overflow checks, so a dropped request there). The body is the
/// `audio_decode` regression input after its selector byte.
#[test]
fn a_wav_declaring_thousands_of_channels_is_a_400() {
    let input = include_bytes!("../data/fuzz-regressions/audio_decode/wav-65535-channels-overflow");
    // The server first: its start (loading every model) is not part of the request's time.
    let server = shared();
    let started = Instant::now();
    let r = server
        .post("/speech/recognition/conversation/cognitiveservices/v1?language=en-US")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "audio/wav")
        .body(input[1..].to_vec())
        .timeout(Duration::from_secs(30))
        .send()
        .expect("a response");
    let (status, body) = status_json(r);
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("channels"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_still_serving();
}
