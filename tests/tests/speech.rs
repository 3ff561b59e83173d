//! The Speech service against the real binary and real models (Whisper base, Silero VAD, the
//! Piper voice, eSpeak NG). Speech is made by espeak-ng or by the gateway's own TTS, and must
//! come back as the words that were spoken.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Cursor;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Server, azure_error, fresh_db_path, shared, status_json};
use reqwest::blocking::multipart;
use serde_json::{Value, json};

const KEY: &str = "Ocp-Apim-Subscription-Key";
const STT: &str = "/speech/recognition/conversation/cognitiveservices/v1";

/// espeak-ng speaking `text`, as WAV bytes (22,050 Hz mono).
fn espeak(voice: &str, text: &str) -> Vec<u8> {
    let out = Command::new("espeak-ng").args(["--stdout", "-v", voice, text]).output().expect("espeak-ng runs");
    assert!(out.status.success(), "espeak-ng failed");
    out.stdout
}

/// Converts audio with sox (`sox -t wav - <args> -t <kind> -`).
fn sox(input: &[u8], kind: &str, args: &[&str]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("sox")
        .args(["-t", "wav", "-"])
        .args(args)
        .args(["-t", kind, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sox runs");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "sox failed");
    out.stdout
}

/// A WAV of `seconds` of silence at 16 kHz.
fn silence(seconds: f32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for _ in 0..(16_000.0 * seconds) as usize {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn assert_words(text: &str, expected: &[&str]) {
    let got = words(text);
    for w in expected {
        assert!(got.iter().any(|g| g == w), "{w:?} missing from {text:?}");
    }
}

fn recognize(server: &Server, query: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let r = server
        .post(&format!("{STT}?{query}"))
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .unwrap();
    status_json(r)
}

fn synthesize(server: &Server, ssml: &str, format: &str) -> (u16, Vec<u8>, String) {
    let r = server
        .post("/cognitiveservices/v1")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "application/ssml+xml")
        .header("X-Microsoft-OutputFormat", format)
        .body(ssml.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, r.bytes().unwrap().to_vec(), ct)
}

#[test]
fn short_audio_simple_and_detailed() {
    let wav = espeak("en-us", "Please open the window and turn on the kitchen light.");
    let (status, body) =
        recognize(shared(), "language=en-US", "audio/wav; codecs=audio/pcm; samplerate=22050", wav.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["RecognitionStatus"], "Success");
    assert_words(body["DisplayText"].as_str().unwrap(), &["open", "window", "kitchen", "light"]);
    let (offset, duration) = (body["Offset"].as_i64().unwrap(), body["Duration"].as_i64().unwrap());
    // The sentence lasts about 2.9 s: ticks are 100 ns.
    assert!(offset < 10_000_000 && (15_000_000..40_000_000).contains(&duration), "{body}");
    assert!(body.get("NBest").is_none());

    let (status, body) = recognize(shared(), "language=en-US&format=detailed", "audio/wav", wav);
    assert_eq!(status, 200, "{body}");
    let best = &body["NBest"][0];
    assert!(best["Confidence"].as_f64().unwrap() > 0.5, "{body}");
    assert_eq!(best["Display"], body["DisplayText"]);
    let lexical = best["Lexical"].as_str().unwrap();
    assert_eq!(lexical, lexical.to_lowercase());
    assert!(!lexical.contains('.'), "{lexical}");
    assert_words(best["ITN"].as_str().unwrap(), &["window", "kitchen"]);
}

#[test]
fn silence_is_no_match() {
    let (status, body) = recognize(shared(), "language=en-US", "audio/wav", silence(3.0));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["RecognitionStatus"], "NoMatch", "{body}");
    assert!(body.get("DisplayText").is_none());
}

#[test]
fn flac_and_8khz_stereo_inputs_are_recognized() {
    let wav = espeak("en-us", "My name is John and I live in London.");
    let flac = sox(&wav, "flac", &[]);
    let (status, body) = recognize(shared(), "language=en-US", "audio/flac", flac);
    assert_eq!(status, 200, "{body}");
    assert_words(body["DisplayText"].as_str().unwrap(), &["john", "london"]);
    // Telephone-band audio loses what espeak's opening "My name" needs; this sentence survives it.
    let wav = espeak("en-us", "Please open the window and turn on the kitchen light.");
    let stereo = sox(&wav, "wav", &["-r", "8000", "-c", "2"]);
    let (status, body) = recognize(shared(), "language=en-US", "audio/wav", stereo);
    assert_eq!(status, 200, "{body}");
    assert_words(body["DisplayText"].as_str().unwrap(), &["window", "kitchen", "light"]);
}

#[test]
fn bad_audio_requests_get_azure_errors() {
    let server = shared();
    let garbage: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let (status, body) = recognize(server, "language=en-US", "audio/wav", garbage);
    assert_eq!(status, 400, "{body}");
    assert_eq!(azure_error(&body)["innererror"]["code"], "InvalidAudioFormat");
    let (status, body) = recognize(server, "language=en-US", "audio/wav", Vec::new());
    assert_eq!(status, 400, "{body}");
    azure_error(&body);
    let (status, body) = recognize(server, "language=en-US", "application/json", b"{}".to_vec());
    assert_eq!(status, 415, "{body}");
    azure_error(&body);
    let (status, body) = recognize(server, "language=en-US", "audio/wav", silence(61.0));
    assert_eq!(status, 413, "{body}");
    assert!(azure_error(&body)["message"].as_str().unwrap().contains("60"), "{body}");
    let (status, body) = recognize(server, "format=simple", "audio/wav", silence(1.0));
    assert_eq!(status, 400, "{body}");
    let (status, body) = recognize(server, "language=xx-XX", "audio/wav", silence(1.0));
    assert_eq!(status, 400, "{body}");
    let (status, body) = recognize(server, "language=en-US&format=fancy", "audio/wav", silence(1.0));
    assert_eq!(status, 400, "{body}");
}

#[test]
fn tts_speaks_ssml_that_whisper_hears_back() {
    let ssml = r#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">
        <voice name="en-US-JoeNeural">The meeting is on <say-as interpret-as="date" format="mdy">12/25/2024</say-as>.
        <break time="300ms"/><prosody rate="-10%" pitch="+2st">Bring the blue folder.</prosody></voice></speak>"#;
    let (status, mp3, ct) = synthesize(shared(), ssml, "audio-24khz-48kbitrate-mono-mp3");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&mp3));
    assert_eq!(ct, "audio/mpeg");
    // The MP3 goes straight back into recognition.
    let (status, body) = recognize(shared(), "language=en-US", "audio/mpeg", mp3);
    assert_eq!(status, 200, "{body}");
    let text = body["DisplayText"].as_str().unwrap();
    // Piper samples its voice with noise (noise_scale 0.667), so every synthesis is new audio and
    // Whisper now and then mishears a word of it ("Ring the blue folder" in one CI run of eight
    // or more): one of the five may be missed.
    let got = words(text);
    let missed: Vec<&str> = ["meeting", "december", "bring", "blue", "folder"]
        .into_iter()
        .filter(|w| !got.iter().any(|g| g == w))
        .collect();
    assert!(missed.len() <= 1, "{missed:?} missing from {text:?}");
}

#[test]
fn tts_output_formats_and_voices() {
    let ssml = "<speak xml:lang='en-US'><voice name='en-US-JoeNeural'>Hello there.</voice></speak>";
    let (status, wav, ct) = synthesize(shared(), ssml, "riff-16khz-16bit-mono-pcm");
    assert_eq!((status, ct.as_str()), (200, "audio/wav"));
    let reader = hound::WavReader::new(Cursor::new(&wav)).unwrap();
    assert_eq!((reader.spec().sample_rate, reader.spec().channels, reader.spec().bits_per_sample), (16_000, 1, 16));
    assert!(reader.duration() > 8_000, "{} samples", reader.duration());
    let (status, ogg, _) = synthesize(shared(), ssml, "ogg-24khz-16bit-mono-opus");
    assert_eq!(status, 200);
    assert!(ogg.starts_with(b"OggS") && ogg.windows(8).any(|w| w == b"OpusHead"));
    let (status, raw, _) = synthesize(shared(), ssml, "raw-8khz-16bit-mono-pcm");
    assert_eq!(status, 200);
    assert!(raw.len() > 8_000 && raw.len() % 2 == 0);
    // eSpeak voices speak other languages; they are listed as Standard, not Neural.
    let de = "<speak xml:lang='de-DE'><voice name='de-DE-Espeak'>Guten Morgen.</voice></speak>";
    let (status, audio, _) = synthesize(shared(), de, "riff-24khz-16bit-mono-pcm");
    assert_eq!(status, 200);
    assert!(audio.len() > 24_000);

    // Kokoro's neural voices speak Spanish and more, with SSML prosody.
    let es = "<speak xml:lang='es-ES'><voice name='es-ES-DoraNeural'><prosody rate='+20%' pitch='+10%'>Buenos días, ¿qué tal?</prosody></voice></speak>";
    let (status, audio, _) = synthesize(shared(), es, "riff-24khz-16bit-mono-pcm");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&audio));
    assert!(audio.len() > 24_000);

    let r = shared().get("/cognitiveservices/voices/list").header(KEY, ADMIN_KEY).send().unwrap();
    let (status, voices) = status_json(r);
    assert_eq!(status, 200);
    let voices = voices.as_array().unwrap();
    let find =
        |name: &str| voices.iter().find(|v| v["ShortName"] == name).unwrap_or_else(|| panic!("{name} not listed"));
    assert_eq!(find("en-US-JoeNeural")["VoiceType"], "Neural");
    assert_eq!(find("de-DE-Espeak")["VoiceType"], "Standard");
    assert_eq!(find("en-US-JoeNeural")["Locale"], "en-US");
    for neural in ["es-ES-DoraNeural", "fr-FR-SiwisNeural", "it-IT-SaraNeural", "pt-BR-DoraNeural"] {
        assert_eq!(find(neural)["VoiceType"], "Neural", "{neural}");
    }
}

#[test]
fn bad_tts_requests_get_azure_errors() {
    let server = shared();
    let ok = "<speak><voice name='en-US-JoeNeural'>Hi.</voice></speak>";
    let (status, body, _) = synthesize(server, "<speak><voice>unclosed</speak>", "riff-16khz-16bit-mono-pcm");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) =
        synthesize(server, "<speak><voice name='xx-XX-NobodyNeural'>Hi.</voice></speak>", "riff-16khz-16bit-mono-pcm");
    assert_eq!(status, 400);
    let (status, _, _) = synthesize(server, ok, "webm-16khz-16bit-mono-opus");
    assert_eq!(status, 400);
    let r = server
        .post("/cognitiveservices/v1")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "text/plain")
        .body("Hi")
        .send()
        .unwrap();
    assert_eq!(r.status(), 415);
}

#[test]
fn lexicon_and_custom_model_customize_speech() {
    let server = shared();
    let pls = r#"<?xml version="1.0" encoding="UTF-8"?>
        <lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en-US">
          <lexeme><grapheme>WHO</grapheme><alias>World Health Organization</alias></lexeme>
        </lexicon>"#;
    let r = server
        .request(reqwest::Method::PUT, "/speech/lexicons/chat")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "application/pls+xml")
        .body(pls)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let ssml = "<speak xml:lang='en-US'><voice name='en-US-JoeNeural'><lexicon uri='lexicon:chat'/>The WHO published a new report today.</voice></speak>";
    let (status, wav, _) = synthesize(server, ssml, "riff-16khz-16bit-mono-pcm");
    assert_eq!(status, 200);
    let (status, body) = recognize(server, "language=en-US", "audio/wav", wav);
    assert_eq!(status, 200, "{body}");
    assert_words(body["DisplayText"].as_str().unwrap(), &["world", "health", "organization", "report"]);
    // An unknown lexicon is a clear 400.
    let missing =
        "<speak><voice name='en-US-JoeNeural'><lexicon uri='https://example.invalid/none.xml'/>Hi.</voice></speak>";
    assert_eq!(synthesize(server, missing, "riff-16khz-16bit-mono-pcm").0, 400);

    // A custom speech model: phrases bias recognition; `cid` selects it.
    let r = server
        .request(reqwest::Method::PUT, "/speech/custom/models/products")
        .header(KEY, ADMIN_KEY)
        .json(&json!({ "phrases": ["Cogway", "Kubernetes"], "description": "product names" }))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["baseModel"], "whisper-base");
    let wav = espeak("en-us", "Please open the window and turn on the kitchen light.");
    let (status, body) = recognize(server, "language=en-US&cid=products", "audio/wav", wav);
    assert_eq!(status, 200, "{body}");
    assert_words(body["DisplayText"].as_str().unwrap(), &["window", "kitchen"]);
    let (status, body) = recognize(server, "language=en-US&cid=nope", "audio/wav", silence(1.0));
    assert_eq!(status, 404, "{body}");
}

fn submit_batch(server: &Server, audio: Vec<u8>, definition: Value) -> (u16, Value) {
    let form = multipart::Form::new()
        .part("audio", multipart::Part::bytes(audio).file_name("talk.wav").mime_str("audio/wav").unwrap())
        .text("definition", definition.to_string());
    status_json(server.post("/speechtotext/v3.2/transcriptions").header(KEY, ADMIN_KEY).multipart(form).send().unwrap())
}

const FAST: &str = "/speechtotext/transcriptions:transcribe";

fn fast_transcribe(server: &Server, query: &str, audio: Vec<u8>, definition: Option<Value>) -> (u16, Value) {
    let mut form = multipart::Form::new()
        .part("audio", multipart::Part::bytes(audio).file_name("talk.wav").mime_str("audio/wav").unwrap());
    if let Some(definition) = definition {
        form = form.text("definition", definition.to_string());
    }
    status_json(server.post(&format!("{FAST}{query}")).header(KEY, ADMIN_KEY).multipart(form).send().unwrap())
}

#[test]
fn fast_transcription_answers_phrases_and_words_in_milliseconds() {
    let server = shared();
    let sentence = "The quick brown fox jumps over the lazy dog.";
    let audio = espeak("en-us", sentence);
    let seconds = (audio.len() - 44) as f64 / (22_050.0 * 2.0);
    let (status, body) = fast_transcribe(
        server,
        "?api-version=2024-11-15",
        audio.clone(),
        Some(json!({ "locales": ["en-US"], "profanityFilterMode": "Masked" })),
    );
    assert_eq!(status, 200, "{body}");
    let duration = body["durationMilliseconds"].as_i64().unwrap();
    assert!((duration as f64 - seconds * 1000.0).abs() < 100.0, "{duration} ms for {seconds:.2} s: {body}");
    let text = body["combinedPhrases"][0]["text"].as_str().unwrap();
    assert_words(text, &["quick", "brown", "fox", "lazy", "dog"]);
    let phrases = body["phrases"].as_array().unwrap();
    assert!(!phrases.is_empty(), "{body}");
    let mut last_end = 0;
    for phrase in phrases {
        assert_eq!(phrase["locale"], "en-US");
        let offset = phrase["offsetMilliseconds"].as_i64().unwrap();
        let end = offset + phrase["durationMilliseconds"].as_i64().unwrap();
        assert!(offset >= 0 && end <= duration + 50, "{phrase}");
        let words = phrase["words"].as_array().unwrap();
        assert!(!words.is_empty(), "{phrase}");
        for word in words {
            let start = word["offsetMilliseconds"].as_i64().unwrap();
            assert!(start + 20 >= last_end && start >= offset - 50, "word times go back: {phrase}");
            last_end = start + word["durationMilliseconds"].as_i64().unwrap();
        }
    }
    // The newer API version too, and no locale: the language is identified.
    let (status, body) = fast_transcribe(server, "?api-version=2025-10-15", audio.clone(), None);
    assert_eq!(status, 200, "{body}");
    assert_words(body["combinedPhrases"][0]["text"].as_str().unwrap(), &["fox", "dog"]);
    assert!(body["phrases"][0]["locale"].as_str().unwrap().starts_with("en"), "{body}");

    // What is not served is refused, not ignored.
    for (query, definition, code) in [
        ("?api-version=2024-11-15", json!({ "diarization": { "enabled": true, "maxSpeakers": 2 } }), 400),
        ("?api-version=2024-11-15", json!({ "channels": [0, 1] }), 400),
        ("?api-version=2024-11-15", json!({ "locales": ["xx-YY"] }), 400),
        ("?api-version=2024-11-15", json!({ "audioUrl": "http://example.com/talk.wav" }), 400),
        ("?api-version=3.2", json!({}), 400),
        ("", json!({}), 400),
    ] {
        let (status, body) = fast_transcribe(server, query, audio.clone(), Some(definition.clone()));
        assert_eq!(status, code, "{query} {definition}: {body}");
        assert!(azure_error(&body)["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    // No audio part.
    let form = multipart::Form::new().text("definition", "{}");
    let (status, body) = status_json(
        server.post(&format!("{FAST}?api-version=2024-11-15")).header(KEY, ADMIN_KEY).multipart(form).send().unwrap(),
    );
    assert_eq!(status, 400, "{body}");
}

fn wait_batch(server: &Server, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let r = server.get(&format!("/speechtotext/v3.2/transcriptions/{id}")).header(KEY, ADMIN_KEY).send().unwrap();
        let (status, body) = status_json(r);
        assert_eq!(status, 200, "{body}");
        match body["status"].as_str().unwrap() {
            "Succeeded" | "Failed" => return body,
            _ => {}
        }
        assert!(Instant::now() < deadline, "transcription {id} did not finish: {body}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The path and query of a URL the server answered with.
fn local(url: &str) -> String {
    url.split_once("/speechtotext").map(|(_, p)| format!("/speechtotext{p}")).unwrap()
}

#[test]
fn batch_transcription_on_the_2024_11_15_api() {
    let server = shared();
    let form = multipart::Form::new()
        .part("audio", multipart::Part::bytes(long_speech()).file_name("talk.wav").mime_str("audio/wav").unwrap())
        .text("definition", json!({ "locale": "en-US", "displayName": "current api" }).to_string());
    let (status, body) = status_json(
        server
            .post("/speechtotext/transcriptions:submit?api-version=2024-11-15")
            .header(KEY, ADMIN_KEY)
            .multipart(form)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let this = local(body["self"].as_str().unwrap());
    assert!(this.starts_with("/speechtotext/transcriptions/") && this.ends_with("?api-version=2024-11-15"), "{body}");
    let duration = body["properties"]["durationMilliseconds"].as_i64().unwrap();
    assert!((9_000..14_000).contains(&duration), "{body}");
    assert!(body["properties"]["timeToLiveHours"].as_i64().unwrap() > 0, "{body}");
    assert!(body["properties"].get("durationInTicks").is_none(), "{body}");
    let deadline = Instant::now() + Duration::from_secs(300);
    let done = loop {
        let (status, body) = status_json(server.get(&this).header(KEY, ADMIN_KEY).send().unwrap());
        assert_eq!(status, 200, "{body}");
        if matches!(body["status"].as_str(), Some("Succeeded" | "Failed")) {
            break body;
        }
        assert!(Instant::now() < deadline, "not finished: {body}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(done["status"], "Succeeded", "{done}");
    let (status, files) = status_json(
        server.get(&local(done["links"]["files"].as_str().unwrap())).header(KEY, ADMIN_KEY).send().unwrap(),
    );
    assert_eq!(status, 200, "{files}");
    let content = local(files["values"][0]["links"]["contentUrl"].as_str().unwrap());
    let (status, result) = status_json(server.get(&content).header(KEY, ADMIN_KEY).send().unwrap());
    assert_eq!(status, 200, "{result}");
    assert_words(result["combinedRecognizedPhrases"][0]["display"].as_str().unwrap(), &["train", "umbrella"]);
    assert!((result["durationMilliseconds"].as_i64().unwrap() - duration).abs() <= 1, "{result}");
    let last = result["recognizedPhrases"].as_array().unwrap().last().unwrap().clone();
    assert!(last["offsetMilliseconds"].as_i64().unwrap() > 4_000, "{last}");
    assert_eq!(last["offsetMilliseconds"].as_i64().unwrap() * 10_000, last["offsetInTicks"].as_i64().unwrap());
    // The list, the version checks, and delete.
    let (status, list) = status_json(
        server.get("/speechtotext/transcriptions?api-version=2025-10-15").header(KEY, ADMIN_KEY).send().unwrap(),
    );
    assert_eq!(status, 200, "{list}");
    assert!(
        list["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["self"].as_str().unwrap().contains(this.split('?').next().unwrap()))
    );
    for bad in ["/speechtotext/transcriptions?api-version=3.2", "/speechtotext/transcriptions"] {
        let (status, body) = status_json(server.get(bad).header(KEY, ADMIN_KEY).send().unwrap());
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let r = server.request(reqwest::Method::DELETE, &this).header(KEY, ADMIN_KEY).send().unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(server.get(&this).header(KEY, ADMIN_KEY).send().unwrap().status(), 404);
}

/// Speech with long silences between sentences, so the VAD splits it.
fn long_speech() -> Vec<u8> {
    let a = espeak("en-us", "The first train leaves the station at nine in the morning.");
    let b = espeak("en-us", "Please remember to bring your umbrella tomorrow.");
    let mut samples: Vec<i16> = Vec::new();
    for (i, wav) in [a, b].iter().enumerate() {
        let mut reader = hound::WavReader::new(Cursor::new(wav)).unwrap();
        if i > 0 {
            samples.extend(std::iter::repeat_n(0i16, 22_050 * 4));
        }
        // espeak streams its WAV with a placeholder length: read until the samples run out.
        samples.extend(reader.samples::<i16>().map_while(Result::ok));
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22_050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    samples.iter().for_each(|s| w.write_sample(*s).unwrap());
    w.finalize().unwrap();
    out.into_inner()
}

#[test]
fn batch_transcription_survives_a_restart() {
    let db = fresh_db_path();
    let server = Server::start_with(db.clone(), &[]);
    let (status, body) =
        submit_batch(&server, long_speech(), json!({ "locale": "en-US", "displayName": "two sentences" }));
    assert_eq!(status, 201, "{body}");
    let id = body["self"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    // Stop at once: the job is stored, so the next server picks it up.
    server.stop();
    let server = Server::start_with(db, &[]);
    let done = wait_batch(&server, &id);
    assert_eq!(done["status"], "Succeeded", "{done}");
    let r = server.get(&format!("/speechtotext/v3.2/transcriptions/{id}/files")).header(KEY, ADMIN_KEY).send().unwrap();
    let (_, files) = status_json(r);
    let url = files["values"][0]["links"]["contentUrl"].as_str().unwrap();
    let path = url.split_once("/speechtotext").map(|(_, p)| format!("/speechtotext{p}")).unwrap();
    let (status, result) = status_json(server.get(&path).header(KEY, ADMIN_KEY).send().unwrap());
    assert_eq!(status, 200, "{result}");
    let combined = result["combinedRecognizedPhrases"][0]["display"].as_str().unwrap();
    assert_words(combined, &["train", "station", "morning", "umbrella", "tomorrow"]);
    let phrases = result["recognizedPhrases"].as_array().unwrap();
    assert!(phrases.len() >= 2, "{result}");
    // The second sentence starts after the 4 s pause, and its words carry times.
    let last = phrases.last().unwrap();
    assert!(last["offsetInTicks"].as_i64().unwrap() > 40_000_000, "{last}");
    let words = last["nBest"][0]["words"].as_array().unwrap();
    assert!(
        !words.is_empty()
            && words
                .iter()
                .all(|w| w["offsetInTicks"].as_i64().unwrap() >= last["offsetInTicks"].as_i64().unwrap() - 5_000_000)
    );
    let r = server
        .request(reqwest::Method::DELETE, &format!("/speechtotext/v3.2/transcriptions/{id}"))
        .header(KEY, ADMIN_KEY)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[test]
fn audio_quota_refuses_with_retry_after() {
    let server = shared();
    let (key, _) = server.create_key(json!({ "name": "quota", "services": ["speech"], "audioSecondsPerHour": 4 }));
    let clip = silence(3.0);
    let send = || {
        server
            .post(&format!("{STT}?language=en-US"))
            .header(KEY, &key)
            .header("Content-Type", "audio/wav")
            .body(clip.clone())
            .send()
            .unwrap()
    };
    assert_eq!(send().status(), 200);
    let r = send();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let (_, body) = status_json(r);
    assert_eq!(azure_error(&body)["innererror"]["code"], "QuotaExceeded");
}

#[test]
fn full_queue_answers_503_with_retry_after() {
    let server = Server::start_with(fresh_db_path(), &[("COGWAY__SPEECH__QUEUE_CAPACITY", "1")]);
    let wav = espeak("en-us", "Please open the window and turn on the kitchen light.");
    let handles: Vec<_> = (0..5)
        .map(|_| {
            let url = server.url(&format!("{STT}?language=en-US"));
            let wav = wav.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(300)).build().unwrap();
                let r = client
                    .post(url)
                    .header(KEY, ADMIN_KEY)
                    .header("Content-Type", "audio/wav")
                    .body(wav)
                    .send()
                    .unwrap();
                (r.status().as_u16(), r.headers().get("retry-after").is_some())
            })
        })
        .collect();
    let results: Vec<(u16, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.iter().any(|r| r.0 == 200), "{results:?}");
    assert!(results.contains(&(503, true)), "{results:?}");
    assert!(results.iter().all(|r| r.0 == 200 || r.0 == 503), "{results:?}");
}

#[test]
fn a_short_clip_is_not_stuck_behind_a_long_transcription() {
    let server = Server::start_with(fresh_db_path(), &[]);
    let long = std::fs::read(common::models_dir().join("test-speech/two_cities.wav")).unwrap();
    let (status, body) = submit_batch(&server, long, json!({ "locale": "en-US" }));
    assert_eq!(status, 201, "{body}");
    let id = body["self"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    // Wait until the long job is being decoded, then ask for a short recognition.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = status_json(
            server.get(&format!("/speechtotext/v3.2/transcriptions/{id}")).header(KEY, ADMIN_KEY).send().unwrap(),
        );
        if body["status"] == "Running" {
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) =
        recognize(&server, "language=en-US", "audio/wav", espeak("en-us", "My name is John and I live in London."));
    assert_eq!(status, 200, "{body}");
    assert_words(body["DisplayText"].as_str().unwrap(), &["john", "london"]);
    // The short answer came while the 44-second recording was still being transcribed.
    let (_, job) = status_json(
        server.get(&format!("/speechtotext/v3.2/transcriptions/{id}")).header(KEY, ADMIN_KEY).send().unwrap(),
    );
    assert_eq!(job["status"], "Running", "{job}");
}
