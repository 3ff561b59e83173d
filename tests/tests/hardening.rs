//! Hostile requests from a key holder: each gets a 4xx (or a bounded, correctly charged success)
//! within seconds, and the server keeps serving other keys.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Server, azure_error, fresh_db_path, shared, status_json};
use reqwest::blocking::multipart;
use serde_json::{Value, json};

const KEY: &str = "Ocp-Apim-Subscription-Key";
const STT: &str = "/speech/recognition/conversation/cognitiveservices/v1?language=en-US";
const TTS: &str = "/cognitiveservices/v1";
const ANALYZE: &str = "/language/:analyze-text?api-version=2023-04-01";

/// A RIFF/WAVE header for 16-bit PCM with any claimed rate and channel count, then `data`.
fn wav_claiming(rate: u32, channels: u16, data: &[u8]) -> Vec<u8> {
    let block_align = channels.wrapping_mul(2);
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.wrapping_mul(u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// Seconds of spoken English from espeak-ng, as WAV.
fn speech(text: &str) -> Vec<u8> {
    let out = Command::new("espeak-ng").args(["--stdout", "-v", "en-us", text]).output().expect("espeak-ng runs");
    assert!(out.status.success(), "espeak-ng failed");
    out.stdout
}

fn elapsed_ok(started: Instant, what: &str) {
    assert!(started.elapsed() < Duration::from_secs(10), "{what} took {:?}", started.elapsed());
}

fn usage_of(server: &Server, id: &str) -> Value {
    server.get(&format!("/admin/keys/{id}/usage")).header(KEY, ADMIN_KEY).send().unwrap().json::<Value>().unwrap()
}

#[test]
fn a_wav_claiming_four_gigahertz_is_refused_on_every_audio_route() {
    let s = shared();
    let wav = wav_claiming(4_294_967_291, 1, &[0u8; 2000]);
    let started = Instant::now();
    let r = s.post(STT).header(KEY, ADMIN_KEY).header("Content-Type", "audio/wav").body(wav.clone()).send().unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 400, "{body}");
    assert!(azure_error(&body)["message"].as_str().unwrap().contains("sample rate"), "{body}");

    let form = multipart::Form::new()
        .part("file", multipart::Part::bytes(wav.clone()).file_name("x.wav").mime_str("audio/wav").unwrap())
        .text("model", "whisper-1");
    let r = s.post("/v1/audio/transcriptions").bearer_auth(ADMIN_KEY).multipart(form).send().unwrap();
    assert_eq!(r.status(), 400);

    // As a batch transcription it is refused at submission, so no job exists to crash a restart.
    let form = multipart::Form::new()
        .part("audio", multipart::Part::bytes(wav).file_name("x.wav").mime_str("audio/wav").unwrap())
        .text("definition", json!({ "locale": "en-US" }).to_string());
    let r = s.post("/speechtotext/v3.2/transcriptions").header(KEY, ADMIN_KEY).multipart(form).send().unwrap();
    assert_eq!(r.status(), 400);

    // Too many channels and a rate above 192 kHz are refused the same way.
    for wav in [wav_claiming(16_000, 64, &[0u8; 4096]), wav_claiming(384_000, 1, &[0u8; 4096])] {
        let r = s.post(STT).header(KEY, ADMIN_KEY).header("Content-Type", "audio/wav").body(wav).send().unwrap();
        assert_eq!(r.status(), 400);
    }
    elapsed_ok(started, "refusing the absurd headers");
    assert!(s.alive());
}

#[test]
fn long_high_rate_audio_is_decoded_at_the_recognizer_rate_and_charged_in_full() {
    let server = Server::start();
    let (key, id) = server.create_key(json!({ "name": "flac", "services": ["speech"] }));
    // Five minutes of 192 kHz stereo silence: 115 million samples at the file's own rate, a
    // small FLAC.
    let out = Command::new("sox")
        .args(["-D", "-n", "-r", "192000", "-c", "2", "-b", "16", "-t", "flac", "-", "trim", "0", "300"])
        .output()
        .expect("sox runs");
    assert!(out.status.success(), "sox failed");
    let flac = out.stdout;
    assert!(flac.len() < 3_000_000, "{} bytes", flac.len());
    let (_, before) = server.rss_mb();
    let form = multipart::Form::new()
        .part("file", multipart::Part::bytes(flac).file_name("quiet.flac").mime_str("audio/flac").unwrap())
        .text("model", "whisper-1");
    let r = server.post("/v1/audio/transcriptions").bearer_auth(&key).multipart(form).send().unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{body}");
    let (_, peak) = server.rss_mb();
    println!("five minutes of 192 kHz stereo FLAC: peak RSS {before} MB before, {peak} MB after");
    // Kept at the file's rate this was 460 MB of samples (plus the resampled copy); at 16 kHz it
    // is 19 MB.
    assert!(peak < before + 250, "peak RSS grew from {before} MB to {peak} MB");
    let usage = usage_of(&server, &id);
    let seconds = usage["usage"][0]["audioSeconds"].as_f64().unwrap_or(0.0);
    assert!((299.0..=301.0).contains(&seconds), "charged {seconds} s: {usage}");
}

#[test]
fn ssml_silence_is_capped_and_phonemes_are_charged() {
    let s = shared();
    let breaks = "<break time=\"5s\"/>".repeat(3000);
    let ssml = format!(
        "<speak version=\"1.0\" xml:lang=\"en-US\"><voice name=\"en-US-JoeNeural\">Hi {breaks}</voice></speak>"
    );
    let started = Instant::now();
    let r =
        s.post(TTS).header(KEY, ADMIN_KEY).header("Content-Type", "application/ssml+xml").body(ssml).send().unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 400, "{body}");
    assert!(azure_error(&body)["message"].as_str().unwrap().contains("silence"), "{body}");

    // Empty paragraphs are breaks too.
    let paragraphs = "<p></p>".repeat(2000);
    let ssml = format!("<speak version=\"1.0\" xml:lang=\"en-US\">Hi {paragraphs}</speak>");
    let r =
        s.post(TTS).header(KEY, ADMIN_KEY).header("Content-Type", "application/ssml+xml").body(ssml).send().unwrap();
    assert_eq!(r.status(), 400);

    // Thousands of one-letter runs would each start the phonemizer.
    let runs = "a<break time=\"1ms\"/>".repeat(1000);
    let ssml = format!("<speak version=\"1.0\" xml:lang=\"en-US\">{runs}</speak>");
    let r =
        s.post(TTS).header(KEY, ADMIN_KEY).header("Content-Type", "application/ssml+xml").body(ssml).send().unwrap();
    assert_eq!(r.status(), 400);

    // An element with thousands of attributes, and nesting deeper than 64.
    let attributes: String = (0..5000).map(|i| format!(" a{i}=\"x\"")).collect();
    let nested = format!("{}Hi{}", "<prosody rate=\"x-slow\">".repeat(100), "</prosody>".repeat(100));
    for ssml in [
        format!(
            "<speak version=\"1.0\" xml:lang=\"en-US\"><voice name=\"en-US-JoeNeural\"{attributes}>Hi</voice></speak>"
        ),
        format!("<speak version=\"1.0\" xml:lang=\"en-US\">{nested}</speak>"),
    ] {
        let r = s
            .post(TTS)
            .header(KEY, ADMIN_KEY)
            .header("Content-Type", "application/ssml+xml")
            .body(ssml)
            .send()
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    elapsed_ok(started, "refusing hostile SSML");

    // Nested slow prosody stays within the one-element range: a short word gives seconds of audio.
    let nested = format!("{}Hello.{}", "<prosody rate=\"x-slow\">".repeat(30), "</prosody>".repeat(30));
    let ssml =
        format!("<speak version=\"1.0\" xml:lang=\"en-US\"><voice name=\"en-US-JoeNeural\">{nested}</voice></speak>");
    let r = s
        .post(TTS)
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "application/ssml+xml")
        .header("X-Microsoft-OutputFormat", "raw-16khz-16bit-mono-pcm")
        .body(ssml)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let seconds = r.bytes().unwrap().len() as f64 / 32_000.0;
    assert!(seconds < 5.0, "{seconds} s of audio for one word");

    // The IPA of a <phoneme> is charged with the text it spells.
    let (key, id) = s.create_key(json!({ "name": "phoneme", "services": ["speech"] }));
    let ipa = "təˈmeɪtoʊ".repeat(10);
    let ssml = format!(
        "<speak version=\"1.0\" xml:lang=\"en-US\"><voice name=\"en-US-JoeNeural\"><phoneme alphabet=\"ipa\" ph=\"{ipa}\">x</phoneme></voice></speak>"
    );
    let r = s.post(TTS).header(KEY, &key).header("Content-Type", "application/ssml+xml").body(ssml).send().unwrap();
    assert_eq!(r.status(), 200);
    let usage = usage_of(s, &id);
    assert_eq!(usage["usage"][0]["characters"], ipa.chars().count() + 1, "{usage}");
    assert!(s.alive());
}

#[test]
fn lexicons_are_fetched_once_and_their_aliases_are_bounded() {
    let s = shared();
    let alias = "a very long expansion of a short word ".repeat(25);
    let pls = format!(
        "<lexicon version=\"1.0\" xmlns=\"http://www.w3.org/2005/01/pronunciation-lexicon\" alphabet=\"ipa\" xml:lang=\"en-US\">\
         <lexeme><grapheme>BTW</grapheme><alias>{alias}</alias></lexeme></lexicon>"
    );
    let r = s
        .request(reqwest::Method::PUT, "/speech/lexicons/hardening-bomb")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "application/pls+xml")
        .body(pls)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());

    let started = Instant::now();
    // The same lexicon named a thousand times is one lexicon.
    let many = "<lexicon uri=\"lexicon:hardening-bomb\"/>".repeat(1000);
    let ssml = format!(
        "<speak version=\"1.0\" xml:lang=\"en-US\">{many}<voice name=\"en-US-JoeNeural\">Hello.</voice></speak>"
    );
    let r =
        s.post(TTS).header(KEY, ADMIN_KEY).header("Content-Type", "application/ssml+xml").body(ssml).send().unwrap();
    assert_eq!(r.status(), 200);

    // Nine distinct lexicons are too many.
    let distinct: String = (0..9).map(|i| format!("<lexicon uri=\"lexicon:l{i}\"/>")).collect();
    let ssml = format!("<speak version=\"1.0\" xml:lang=\"en-US\">{distinct}Hello.</speak>");
    let r =
        s.post(TTS).header(KEY, ADMIN_KEY).header("Content-Type", "application/ssml+xml").body(ssml).send().unwrap();
    assert_eq!(r.status(), 400);

    // 2,000 short words that expand to a kilobyte each pass the 20,000-character limit: refused
    // while expanding, before anything is synthesized or charged.
    let words = "BTW ".repeat(2000);
    let ssml = format!(
        "<speak version=\"1.0\" xml:lang=\"en-US\"><lexicon uri=\"lexicon:hardening-bomb\"/><voice name=\"en-US-JoeNeural\">{words}</voice></speak>"
    );
    let r =
        s.post(TTS).header(KEY, ADMIN_KEY).header("Content-Type", "application/ssml+xml").body(ssml).send().unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 413, "{body}");
    elapsed_ok(started, "lexicon requests");
    assert!(s.alive());
}

#[test]
fn a_burst_at_first_use_cannot_pass_the_quota() {
    let s = shared();
    let (key, id) = s.create_key(json!({ "name": "burst", "charsPerHour": 100 }));
    let text = "A sentence of exactly fifty characters, for tests."; // 50 characters
    assert_eq!(text.chars().count(), 50);
    let body = json!({ "kind": "LanguageDetection", "analysisInput": { "documents": [{ "id": "1", "text": text }] } });
    let base = s.base.clone();
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let (key, body, url) = (key.clone(), body.clone(), format!("{base}{ANALYZE}"));
            std::thread::spawn(move || {
                reqwest::blocking::Client::new()
                    .post(url)
                    .header(KEY, key)
                    .json(&body)
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let passed = statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(passed, 2, "{statuses:?}");
    assert!(statuses.iter().all(|&s| s == 200 || s == 429), "{statuses:?}");
    // Usage is flushed every few seconds; the report flushes first.
    let usage = usage_of(s, &id);
    assert_eq!(usage["usage"][0]["characters"], 100, "{usage}");
}

/// Opens a request whose body never comes: headers with a Content-Length, then nothing.
fn stalled_upload(base: &str, key: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {ANALYZE} HTTP/1.1\r\nHost: {addr}\r\n{KEY}: {key}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"kind\""
    )
    .unwrap();
    stream.flush().unwrap();
    stream
}

#[test]
fn slow_uploads_time_out_and_one_key_cannot_fill_the_server() {
    let server = Server::start_with(
        fresh_db_path(),
        &[
            ("COGWAY__SERVER__BODY_TIMEOUT_SECS", "2"),
            ("COGWAY__SERVER__MAX_INFLIGHT", "4"),
            ("COGWAY__LIMITS__MAX_INFLIGHT_PER_KEY", "2"),
        ],
    );
    let (attacker, _) = server.create_key(json!({ "name": "slow" }));
    let (other, _) = server.create_key(json!({ "name": "other" }));
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..2).map(|_| stalled_upload(&server.base, &attacker)).collect();
    std::thread::sleep(Duration::from_millis(500));

    let body = json!({ "kind": "LanguageDetection", "analysisInput": { "documents": [{ "id": "1", "text": "Hello there" }] } });
    let r = server.post(ANALYZE).header(KEY, &attacker).json(&body).send().unwrap();
    assert_eq!(r.status(), 429, "the key's third request in flight");
    assert!(r.headers().contains_key("retry-after"));
    let r = server.post(ANALYZE).header(KEY, &other).json(&body).send().unwrap();
    assert_eq!(r.status(), 200, "another key is served");

    // The stalled uploads end with 408 once the body deadline passes.
    for stream in &mut stalled {
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut response = [0u8; 512];
        let n = stream.read(&mut response).unwrap_or(0);
        let head = String::from_utf8_lossy(&response[..n]).to_string();
        assert!(head.starts_with("HTTP/1.1 408"), "{head:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    let r = server.post(ANALYZE).header(KEY, &attacker).json(&body).send().unwrap();
    assert_eq!(r.status(), 200, "the permits came back");
}

#[test]
fn each_key_has_a_bounded_job_backlog() {
    let server = Server::start_with(fresh_db_path(), &[("COGWAY__LIMITS__MAX_PENDING_JOBS_PER_KEY", "1")]);
    let (key, _) = server.create_key(json!({ "name": "jobs", "services": ["speech"] }));
    let (other, _) = server.create_key(json!({ "name": "other", "services": ["speech"] }));
    let audio = speech("This recording is long enough to keep the batch worker busy for a few seconds at least.");
    let submit = |key: &str| {
        let form = multipart::Form::new()
            .part("audio", multipart::Part::bytes(audio.clone()).file_name("a.wav").mime_str("audio/wav").unwrap())
            .text("definition", json!({ "locale": "en-US" }).to_string());
        server.post("/speechtotext/v3.2/transcriptions").header(KEY, key).multipart(form).send().unwrap()
    };
    assert_eq!(submit(&key).status(), 201);
    let refused = submit(&key);
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(submit(&other).status(), 201, "another key's backlog is its own");
}

#[test]
fn the_token_secret_is_kept_outside_the_database() {
    if common::on_postgres() {
        // The secret file sits beside a SQLite database; replicas on Postgres share auth.jwt_secret.
        eprintln!("skipped on Postgres");
        return;
    }
    let db = fresh_db_path();
    let env = [("COGWAY__AUTH__JWT_SECRET", "")];
    let server = Server::start_with(db.clone(), &env);
    let token = server.post("/sts/v1.0/issueToken").header(KEY, ADMIN_KEY).send().unwrap().text().unwrap();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let secret_file = db.parent().unwrap().join("cogway.secret");
    let secret = std::fs::read_to_string(&secret_file).expect("the secret file exists");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    server.stop();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", db.display());
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{path} holds the secret");
        }
    }
    // The token still works after a restart: the secret came from the file.
    let server = Server::start_with(db, &env);
    let r = server.get("/status").bearer_auth(&token).send().unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn multipart_forms_are_bounded_in_parts() {
    let s = shared();
    let mut form = multipart::Form::new()
        .part("file", multipart::Part::bytes(speech("Hello.")).file_name("a.wav").mime_str("audio/wav").unwrap());
    for i in 0..2000 {
        form = form.text(format!("f{i}"), "");
    }
    let r = s.post("/v1/audio/transcriptions").bearer_auth(ADMIN_KEY).multipart(form).send().unwrap();
    assert_eq!(r.status(), 400);
    assert!(s.alive());
}

#[test]
fn status_reports_model_workers_and_their_restarts() {
    let s = shared();
    let (status, body) = status_json(s.get("/status").header(KEY, ADMIN_KEY).send().unwrap());
    assert_eq!(status, 200);
    let workers = body["workers"].as_array().expect("workers");
    assert!(workers.iter().any(|w| w["name"] == "tts"), "{body}");
    assert!(workers.iter().all(|w| w["restarts"].as_u64() == Some(0)), "{body}");
    let metrics = s.get("/metrics").send().unwrap().text().unwrap();
    assert!(metrics.contains("cogway_model_restarts_total"), "restart counter exported");
}
