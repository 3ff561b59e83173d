//! Tenant isolation of named customizations: glossaries, pronunciation lexicons, custom speech
//! models and classification projects belong to the key that created them. Another key gets the
//! same 404 as for a missing name on every route and cannot use them (category=, <lexicon>, cid /
//! model, projectName); its PUT of the same name makes its own resource and leaves the first
//! key's alone. Admin keys list every owner's resources and read them by name.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Server, shared, status_json};
use reqwest::Method;
use reqwest::blocking::{RequestBuilder, multipart};
use serde_json::{Value, json};

const KEY: &str = "Ocp-Apim-Subscription-Key";
const STT: &str = "/speech/recognition/conversation/cognitiveservices/v1";

/// A non-admin key allowed every service: (key, id).
fn tenant(server: &Server, name: &str) -> (String, String) {
    server.create_key(json!({ "name": name }))
}

fn with(server: &Server, key: &str, method: Method, path: &str) -> RequestBuilder {
    server.request(method, path).header(KEY, key)
}

fn send(r: RequestBuilder) -> (u16, Value) {
    let started = Instant::now();
    let out = status_json(r.send().unwrap());
    assert!(started.elapsed() < Duration::from_secs(60), "a request took {:?}", started.elapsed());
    out
}

fn message(body: &Value) -> String {
    body["error"]["message"].as_str().unwrap_or_else(|| panic!("no error message in {body}")).to_string()
}

/// `other` (another key's resource `name`) is answered exactly like `missing` (a name nobody
/// has): 404, the same code, the same message but for the name.
fn assert_same_404(other: (u16, Value), name: &str, missing: (u16, Value), missing_name: &str) {
    assert_eq!(other.0, 404, "{}", other.1);
    assert_eq!(missing.0, 404, "{}", missing.1);
    assert_eq!(other.1["error"]["code"], missing.1["error"]["code"], "{} / {}", other.1, missing.1);
    assert_eq!(message(&other.1).replace(name, "NAME"), message(&missing.1).replace(missing_name, "NAME"));
}

/// The server still answers a plain request.
fn assert_alive(server: &Server, key: &str) {
    let (status, body) = send(
        with(server, key, Method::POST, "/translate?api-version=3.0&from=en&to=es")
            .json(&json!([{ "Text": "Hello." }])),
    );
    assert_eq!(status, 200, "{body}");
}

fn put_glossary(server: &Server, key: &str, name: &str, csv: &str) -> (u16, Value) {
    send(
        with(server, key, Method::PUT, &format!("/translator/glossaries/{name}?from=en&to=es"))
            .header("Content-Type", "text/csv")
            .body(csv.to_string()),
    )
}

fn translate(server: &Server, key: &str, category: &str, text: &str) -> (u16, Value) {
    send(
        with(server, key, Method::POST, &format!("/translate?api-version=3.0&from=en&to=es&category={category}"))
            .json(&json!([{ "Text": text }])),
    )
}

#[test]
fn glossaries_are_isolated_per_key() {
    let s = shared();
    let (a, a_id) = tenant(s, "glossary-a");
    let (b, b_id) = tenant(s, "glossary-b");
    let (status, body) = put_glossary(s, &a, "cars", "red car,bólido escarlata\n");
    assert_eq!(status, 201, "{body}");

    // B: GET and DELETE of A's glossary are the 404 of a missing one.
    let path = "/translator/glossaries/cars";
    let missing = "/translator/glossaries/ghost";
    assert_same_404(send(with(s, &b, Method::GET, path)), "cars", send(with(s, &b, Method::GET, missing)), "ghost");
    assert_same_404(
        send(with(s, &b, Method::DELETE, path)),
        "cars",
        send(with(s, &b, Method::DELETE, missing)),
        "ghost",
    );
    // B cannot use it: the category is unknown to B (Translator's 400075), as a missing one is.
    let (status, body) = translate(s, &b, "cars", "The red car is fast.");
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(400075)), "{body}");
    let (_, unknown) = translate(s, &b, "ghost", "The red car is fast.");
    assert_eq!(message(&body).replace("cars", "NAME"), message(&unknown).replace("ghost", "NAME"));
    // A can.
    let (status, body) = translate(s, &a, "cars", "The red car is fast.");
    assert_eq!(status, 200, "{body}");
    assert!(body[0]["translations"][0]["text"].as_str().unwrap().contains("bólido escarlata"), "{body}");

    // B's PUT of the same name creates B's own glossary (201, not 200) and leaves A's untouched.
    let (status, body) = put_glossary(s, &b, "cars", "red car,coche rojo de B\n");
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(with(s, &a, Method::GET, path));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["terms"], json!([{ "source": "red car", "target": "bólido escarlata" }]), "{body}");
    let (_, body) = translate(s, &a, "cars", "The red car is fast.");
    assert!(body[0]["translations"][0]["text"].as_str().unwrap().contains("bólido escarlata"), "{body}");
    let (_, body) = translate(s, &b, "cars", "The red car is fast.");
    assert!(body[0]["translations"][0]["text"].as_str().unwrap().contains("coche rojo de B"), "{body}");

    // Each key lists only its own; an admin key lists both, with their owners, and reads them.
    for (key, target) in [(&a, "bólido escarlata"), (&b, "coche rojo de B")] {
        let (status, list) = send(with(s, key, Method::GET, "/translator/glossaries"));
        assert_eq!(status, 200, "{list}");
        let names: Vec<&str> = list["value"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["cars"], "{list}");
        assert!(list["value"][0].get("owner").is_none(), "{list}");
        let (_, got) = send(with(s, key, Method::GET, path));
        assert_eq!(got["terms"][0]["target"], target);
    }
    let (status, list) = send(with(s, ADMIN_KEY, Method::GET, "/translator/glossaries"));
    assert_eq!(status, 200, "{list}");
    let owners: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["name"] == "cars")
        .map(|g| g["owner"].as_str().unwrap())
        .collect();
    assert!(owners.contains(&a_id.as_str()) && owners.contains(&b_id.as_str()), "{list}");
    // The admin key has no `cars` of its own: the oldest (A's) is the one it reaches.
    let (status, got) = send(with(s, ADMIN_KEY, Method::GET, path));
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        (got["owner"].as_str(), got["terms"][0]["target"].as_str()),
        (Some(a_id.as_str()), Some("bólido escarlata"))
    );

    // B deletes its own; A's is still there and still used.
    assert_eq!(send(with(s, &b, Method::DELETE, path)).0, 204);
    assert_eq!(send(with(s, &b, Method::GET, path)).0, 404);
    assert_eq!(send(with(s, &a, Method::GET, path)).0, 200);
    let (_, body) = translate(s, &a, "cars", "The red car is fast.");
    assert!(body[0]["translations"][0]["text"].as_str().unwrap().contains("bólido escarlata"), "{body}");
    assert_alive(s, &b);
}

fn pls(alias: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en-US">
          <lexeme><grapheme>WHO</grapheme><alias>{alias}</alias></lexeme>
        </lexicon>"#
    )
}

fn synthesize(s: &Server, key: &str, lexicon: &str) -> (u16, Value) {
    let ssml = format!(
        "<speak xml:lang='en-US'><voice name='en-US-JoeNeural'><lexicon uri='lexicon:{lexicon}'/>The WHO met.</voice></speak>"
    );
    let r = with(s, key, Method::POST, "/cognitiveservices/v1")
        .header("Content-Type", "application/ssml+xml")
        .header("X-Microsoft-OutputFormat", "riff-16khz-16bit-mono-pcm")
        .body(ssml)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[test]
fn lexicons_are_isolated_per_key() {
    let s = shared();
    let (a, a_id) = tenant(s, "lexicon-a");
    let (b, b_id) = tenant(s, "lexicon-b");
    let path = "/speech/lexicons/acronyms";
    let missing = "/speech/lexicons/ghost";
    let a_pls = pls("World Health Organization");
    let put = |key: &str, body: String| {
        send(with(s, key, Method::PUT, path).header("Content-Type", "application/pls+xml").body(body))
    };
    assert_eq!(put(&a, a_pls.clone()).0, 201);

    assert_same_404(send(with(s, &b, Method::GET, path)), "acronyms", send(with(s, &b, Method::GET, missing)), "ghost");
    assert_same_404(
        send(with(s, &b, Method::DELETE, path)),
        "acronyms",
        send(with(s, &b, Method::DELETE, missing)),
        "ghost",
    );
    // B's SSML cannot use A's lexicon: the same 400 as an unknown one. A's can.
    let (status, body) = synthesize(s, &b, "acronyms");
    assert_eq!(status, 400, "{body}");
    let (_, unknown) = synthesize(s, &b, "ghost");
    assert_eq!(message(&body).replace("acronyms", "NAME"), message(&unknown).replace("ghost", "NAME"));
    assert_eq!(synthesize(s, &a, "acronyms").0, 200);

    // B's PUT makes B's own; A's document is unchanged.
    assert_eq!(put(&b, pls("Who")).0, 201);
    let r = with(s, &a, Method::GET, path).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), a_pls);
    assert_eq!(synthesize(s, &b, "acronyms").0, 200);

    let (_, list) = send(with(s, &a, Method::GET, "/speech/lexicons"));
    assert_eq!(list["values"], json!(["acronyms"]), "{list}");
    assert!(list.get("owners").is_none(), "{list}");
    let (status, list) = send(with(s, ADMIN_KEY, Method::GET, "/speech/lexicons"));
    assert_eq!(status, 200, "{list}");
    for id in [&a_id, &b_id] {
        assert!(list["owners"].as_array().unwrap().contains(&json!({ "name": "acronyms", "owner": id })), "{list}");
    }
    let r = with(s, ADMIN_KEY, Method::GET, path).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap(), a_pls, "the admin key reaches the oldest lexicon of that name");

    assert_eq!(send(with(s, &b, Method::DELETE, path)).0, 204);
    assert_eq!(send(with(s, &a, Method::GET, path)).0, 200);
    assert_eq!(synthesize(s, &b, "acronyms").0, 400);
    assert_alive(s, &a);
}

/// A WAV of one second of silence at 16 kHz.
fn silence() -> Vec<u8> {
    let mut wav = Vec::with_capacity(44 + 32_000);
    let data_len: u32 = 32_000;
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&16_000u32.to_le_bytes());
    wav.extend_from_slice(&32_000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(44 + data_len as usize, 0);
    wav
}

fn recognize(s: &Server, key: &str, cid: &str) -> (u16, Value) {
    send(
        with(s, key, Method::POST, &format!("{STT}?language=en-US&cid={cid}"))
            .header("Content-Type", "audio/wav")
            .body(silence()),
    )
}

fn openai_transcribe(s: &Server, key: &str, model: &str) -> (u16, Value) {
    let form = multipart::Form::new()
        .part("file", multipart::Part::bytes(silence()).file_name("a.wav").mime_str("audio/wav").unwrap())
        .text("model", model.to_string());
    send(s.post("/v1/audio/transcriptions").header("Authorization", format!("Bearer {key}")).multipart(form))
}

fn submit_batch(s: &Server, key: &str, model: &str) -> (u16, Value) {
    let definition = json!({ "locale": "en-US", "model": model });
    let form = multipart::Form::new()
        .part("audio", multipart::Part::bytes(silence()).file_name("a.wav").mime_str("audio/wav").unwrap())
        .text("definition", definition.to_string());
    send(with(s, key, Method::POST, "/speechtotext/v3.2/transcriptions").multipart(form))
}

#[test]
fn custom_speech_models_are_isolated_per_key() {
    let s = shared();
    let (a, a_id) = tenant(s, "model-a");
    let (b, b_id) = tenant(s, "model-b");
    let path = "/speech/custom/models/products";
    let missing = "/speech/custom/models/ghost";
    let put = |key: &str, phrases: Value| send(with(s, key, Method::PUT, path).json(&json!({ "phrases": phrases })));
    let (status, body) = put(&a, json!(["Cogway", "Kubernetes"]));
    assert_eq!(status, 201, "{body}");

    assert_same_404(send(with(s, &b, Method::GET, path)), "products", send(with(s, &b, Method::GET, missing)), "ghost");
    assert_same_404(
        send(with(s, &b, Method::DELETE, path)),
        "products",
        send(with(s, &b, Method::DELETE, missing)),
        "ghost",
    );
    // B cannot recognize with it: `cid` is the 404 of an unknown model, and the OpenAI route does
    // not know the name either. A can.
    assert_same_404(recognize(s, &b, "products"), "products", recognize(s, &b, "ghost"), "ghost");
    let (status, body) = openai_transcribe(s, &b, "products");
    assert_eq!(status, 400, "{body}");
    let (status, body) = recognize(s, &a, "products");
    assert_eq!(status, 200, "{body}");
    let (status, body) = openai_transcribe(s, &a, "products");
    assert_eq!(status, 200, "{body}");
    // Nor in a batch transcription's definition.
    let (status, body) = submit_batch(s, &b, "products");
    assert_eq!(status, 400, "{body}");
    let (status, body) = submit_batch(s, &a, "products");
    assert_eq!(status, 201, "{body}");

    // B's PUT makes B's own; A's phrases are unchanged.
    let (status, body) = put(&b, json!(["Other"]));
    assert_eq!(status, 201, "{body}");
    let (_, got) = send(with(s, &a, Method::GET, path));
    assert_eq!(got["phrases"], json!(["Cogway", "Kubernetes"]), "{got}");
    let (_, got) = send(with(s, &b, Method::GET, path));
    assert_eq!(got["phrases"], json!(["Other"]), "{got}");

    let (_, list) = send(with(s, &b, Method::GET, "/speech/custom/models"));
    assert_eq!(list["values"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["values"][0]["phrases"], json!(["Other"]), "{list}");
    let (status, list) = send(with(s, ADMIN_KEY, Method::GET, "/speech/custom/models"));
    assert_eq!(status, 200, "{list}");
    let owners: Vec<&str> = list["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == "products")
        .map(|m| m["owner"].as_str().unwrap())
        .collect();
    assert!(owners.contains(&a_id.as_str()) && owners.contains(&b_id.as_str()), "{list}");
    let (status, got) = send(with(s, ADMIN_KEY, Method::GET, path));
    assert_eq!((status, got["owner"].as_str()), (200, Some(a_id.as_str())), "{got}");
    // The admin key may use it too (the fallback applies to use-sites as well).
    assert_eq!(recognize(s, ADMIN_KEY, "products").0, 200);

    assert_eq!(send(with(s, &b, Method::DELETE, path)).0, 204);
    assert_eq!(send(with(s, &a, Method::GET, path)).0, 200);
    assert_eq!(recognize(s, &b, "products").0, 404);
}

fn analyze(s: &Server, key: &str, project: &str) -> (u16, Value) {
    let body = json!({
        "kind": "CustomSingleLabelClassification",
        "parameters": { "projectName": project },
        "analysisInput": { "documents": [{ "id": "1", "text": "The striker scored twice." }] },
    });
    send(with(s, key, Method::POST, "/language/:analyze-text?api-version=2023-04-01").json(&body))
}

/// The error of an analyze-text job that classifies with `project`, once the job has finished.
fn job_error(s: &Server, key: &str, project: &str) -> Value {
    let body = json!({
        "analysisInput": { "documents": [{ "id": "1", "text": "The striker scored twice.", "language": "en" }] },
        "tasks": [{ "kind": "CustomSingleLabelClassification", "parameters": { "projectName": project } }],
    });
    let r =
        with(s, key, Method::POST, "/language/analyze-text/jobs?api-version=2023-04-01").json(&body).send().unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["operation-location"].to_str().unwrap().to_string();
    let path = location.split_once("/language/").map(|(_, p)| format!("/language/{p}")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, job) = send(with(s, key, Method::GET, &path));
        assert_eq!(status, 200, "{job}");
        if job["status"] == "failed" {
            return job["errors"][0].clone();
        }
        assert!(job["status"] == "notStarted" || job["status"] == "running", "{job}");
        assert!(Instant::now() < deadline, "job did not finish: {job}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn classification_projects_are_isolated_per_key() {
    let s = shared();
    let (a, a_id) = tenant(s, "project-a");
    let (b, b_id) = tenant(s, "project-b");
    let path = "/language/custom/projects/topics";
    let missing = "/language/custom/projects/ghost";
    let (status, body) =
        send(with(s, &a, Method::PUT, path).json(&json!({ "language": "en", "description": "A's project" })));
    assert_eq!(status, 201, "{body}");
    let examples =
        json!([{ "text": "The striker scored.", "label": "sports" }, { "text": "Buy bonds.", "label": "finance" }]);
    let (status, body) = send(with(s, &a, Method::POST, &format!("{path}/examples")).json(&examples));
    assert_eq!((status, body["examples"].as_i64()), (200, Some(2)), "{body}");

    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::DELETE, "", None),
        (Method::POST, "/examples", Some(examples.clone())),
        (Method::POST, "/train", None),
    ] {
        let call = |p: &str| {
            let mut r = with(s, &b, method.clone(), &format!("{p}{suffix}"));
            if let Some(body) = &body {
                r = r.json(body);
            }
            send(r)
        };
        assert_same_404(call(path), "topics", call(missing), "ghost");
    }
    // B cannot classify with it (404 as for an unknown project); A reaches it (untrained: 409).
    assert_same_404(analyze(s, &b, "topics"), "topics", analyze(s, &b, "ghost"), "ghost");
    assert_eq!(analyze(s, &a, "topics").0, 409);
    // The same in an asynchronous job, which runs for the key that submitted it.
    let (theirs, unknown, own) = (job_error(s, &b, "topics"), job_error(s, &b, "ghost"), job_error(s, &a, "topics"));
    assert_eq!(theirs["code"], unknown["code"], "{theirs} / {unknown}");
    assert_eq!(
        message(&json!({ "error": theirs })).replace("topics", "NAME"),
        message(&json!({ "error": unknown })).replace("ghost", "NAME")
    );
    assert_ne!(own["code"], unknown["code"], "A's job must find A's (untrained) project: {own}");

    // B's PUT makes B's own, empty project; A's keeps its description and examples.
    let (status, body) =
        send(with(s, &b, Method::PUT, path).json(&json!({ "language": "en", "description": "B's project" })));
    assert_eq!((status, body["examples"].as_i64()), (201, Some(0)), "{body}");
    let (_, got) = send(with(s, &a, Method::GET, path));
    assert_eq!((got["description"].as_str(), got["examples"].as_i64()), (Some("A's project"), Some(2)), "{got}");

    let (_, list) = send(with(s, &a, Method::GET, "/language/custom/projects"));
    let value = list["value"].as_array().unwrap();
    assert_eq!(value.len(), 1, "{list}");
    assert_eq!(
        (value[0]["projectName"].as_str(), value[0]["description"].as_str()),
        (Some("topics"), Some("A's project"))
    );
    let (status, list) = send(with(s, ADMIN_KEY, Method::GET, "/language/custom/projects"));
    assert_eq!(status, 200, "{list}");
    let owners: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["projectName"] == "topics")
        .map(|p| p["owner"].as_str().unwrap())
        .collect();
    assert!(owners.contains(&a_id.as_str()) && owners.contains(&b_id.as_str()), "{list}");
    let (status, got) = send(with(s, ADMIN_KEY, Method::GET, path));
    assert_eq!((status, got["owner"].as_str(), got["examples"].as_i64()), (200, Some(a_id.as_str()), Some(2)), "{got}");

    // Deleting B's project leaves A's and its examples.
    assert_eq!(send(with(s, &b, Method::DELETE, path)).0, 204);
    let (status, got) = send(with(s, &a, Method::GET, path));
    assert_eq!((status, got["examples"].as_i64()), (200, Some(2)), "{got}");
    assert_eq!(send(with(s, &b, Method::GET, path)).0, 404);
    assert_alive(s, &b);
}

/// A key may store `limits.max_customizations_per_key` customizations of each kind: one more is a
/// 400 that names the setting; replacing one it has still works, and deleting one makes room.
/// Admin keys are not limited.
#[test]
fn each_key_stores_a_bounded_number_of_customizations() {
    let s = Server::start_with(
        common::fresh_db_path(),
        &[
            ("COGWAY__LIMITS__MAX_CUSTOMIZATIONS_PER_KEY", "2"),
            ("COGWAY__SERVICES__LANGUAGE", "false"),
            ("COGWAY__SERVICES__SPEECH", "false"),
        ],
    );
    let (a, _) = tenant(&s, "counted");
    let put_lexicon =
        |key: &str, name: &str| send(with(&s, key, Method::PUT, &format!("/speech/lexicons/{name}")).body(pls("WHO")));
    assert_eq!(put_lexicon(&a, "one").0, 201);
    assert_eq!(put_lexicon(&a, "two").0, 201);
    let (status, body) = put_lexicon(&a, "three");
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("max_customizations_per_key"), "{body}");
    assert_eq!(put_lexicon(&a, "two").0, 200, "replacing a stored one is not a new one");
    assert_eq!(put_lexicon(ADMIN_KEY, "one").0, 201);
    assert_eq!(put_lexicon(ADMIN_KEY, "two").0, 201);
    assert_eq!(put_lexicon(ADMIN_KEY, "three").0, 201, "admin keys are not limited");
    assert_eq!(send(with(&s, &a, Method::DELETE, "/speech/lexicons/one")).0, 204);
    assert_eq!(put_lexicon(&a, "three").0, 201, "a deleted one makes room");

    // Glossaries count apart from lexicons, and so do custom vision projects.
    assert_eq!(put_glossary(&s, &a, "g1", "car,coche\n").0, 201);
    assert_eq!(put_glossary(&s, &a, "g2", "car,coche\n").0, 201);
    assert_eq!(put_glossary(&s, &a, "g3", "car,coche\n").0, 400);
    let project = |name: &str| {
        let path = format!("/customvision/v3.3/training/projects?name={name}");
        send(with(&s, &a, Method::POST, &path)).0
    };
    assert_eq!(project("p1"), 200);
    assert_eq!(project("p2"), 200);
    assert_eq!(project("p3"), 400);
}
