//! The gateway against the real binary: auth, tokens, limits, quotas, errors, health, metrics, OpenAPI.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{ADMIN_KEY, JWT_SECRET, Server, azure_error, shared, status_json};
use serde_json::{Value, json};

const ANALYZE: &str = "/language/:analyze-text?api-version=2023-04-01";

fn detect_body(text: &str) -> Value {
    json!({ "kind": "LanguageDetection", "analysisInput": { "documents": [{ "id": "1", "text": text }] } })
}

#[test]
fn missing_or_bad_key_is_401_in_azure_shape() {
    let s = shared();
    let r = s.post(ANALYZE).json(&detect_body("hello there")).send().unwrap();
    assert!(r.headers().contains_key("x-requestid"));
    let (status, body) = status_json(r);
    assert_eq!(status, 401);
    assert_eq!(azure_error(&body)["code"], "401");

    let r = s.post(ANALYZE).header("Ocp-Apim-Subscription-Key", "not-a-key").json(&detect_body("hi")).send().unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn keys_work_in_header_query_and_bearer() {
    let s = shared();
    let (key, _) = s.create_key(json!({ "name": "ways", "services": ["language"] }));
    let by_query = s
        .post(&format!("{ANALYZE}&Subscription-Key={key}"))
        .json(&detect_body("Good morning to you all"))
        .send()
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let by_bearer = s.post(ANALYZE).bearer_auth(&key).json(&detect_body("Good morning to you all")).send().unwrap();
    assert_eq!(by_bearer.status(), 200);
    let status = s.get("/status").header("Ocp-Apim-Subscription-Key", &key).send().unwrap();
    assert_eq!(status.status(), 200);
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[test]
fn tokens_work_and_forged_or_expired_ones_are_401() {
    let s = shared();
    let (key, id) = s.create_key(json!({ "name": "tokens" }));
    let r = s.post("/sts/v1.0/issueToken").header("Ocp-Apim-Subscription-Key", &key).send().unwrap();
    assert_eq!(r.status(), 200);
    let token = r.text().unwrap();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
    let ok = s.post(ANALYZE).bearer_auth(&token).json(&detect_body("Guten Morgen, wie geht es dir?")).send().unwrap();
    assert_eq!(ok.status(), 200);

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let forged = sign(
        &json!({ "sub": id, "iss": "cogway", "iat": now, "exp": now + 600 }),
        "some-other-secret-0123456789abcdef",
    );
    let expired = sign(&json!({ "sub": id, "iss": "cogway", "iat": now - 1200, "exp": now - 600 }), JWT_SECRET);
    for bad in [forged, expired, "a.b.c".to_string()] {
        let (status, body) = status_json(s.post(ANALYZE).bearer_auth(&bad).json(&detect_body("hello")).send().unwrap());
        assert_eq!(status, 401, "token {bad} was accepted");
        assert_eq!(azure_error(&body)["code"], "401");
    }
    // No token without a key.
    assert_eq!(s.post("/sts/v1.0/issueToken").send().unwrap().status(), 401);
}

#[test]
fn a_key_limited_to_2_rps_gets_429_with_retry_after() {
    let s = shared();
    let (key, _) = s.create_key(json!({ "name": "slow", "rps": 2 }));
    let mut limited = None;
    for _ in 0..8 {
        let r =
            s.post(ANALYZE).header("Ocp-Apim-Subscription-Key", &key).json(&detect_body("rate limits")).send().unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("8 requests in a burst never hit a 2 rps limit");
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let (_, body) = status_json(r);
    assert_eq!(azure_error(&body)["code"], "429");
}

#[test]
fn the_hourly_character_quota_is_enforced() {
    let s = shared();
    let (key, id) = s.create_key(json!({ "name": "quota", "charsPerHour": 40 }));
    let text = "This sentence has thirty-two chr"; // 32 characters
    let first = s.post(ANALYZE).header("Ocp-Apim-Subscription-Key", &key).json(&detect_body(text)).send().unwrap();
    assert_eq!(first.status(), 200);
    let second = s.post(ANALYZE).header("Ocp-Apim-Subscription-Key", &key).json(&detect_body(text)).send().unwrap();
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
    let (_, body) = status_json(second);
    assert_eq!(azure_error(&body)["innererror"]["code"], "QuotaExceeded");

    let usage: Value = s
        .get(&format!("/admin/keys/{id}/usage"))
        .header("Ocp-Apim-Subscription-Key", ADMIN_KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(usage["usage"][0]["characters"], 32, "{usage}");
    assert_eq!(usage["usage"][0]["requests"], 1, "{usage}");
}

#[test]
fn bad_requests_get_clear_4xx_errors() {
    let s = shared();
    let post = |path: &str| s.post(path).header("Ocp-Apim-Subscription-Key", ADMIN_KEY);

    let (status, body) =
        status_json(post(ANALYZE).header("Content-Type", "application/json").body("{\"kind\": ").send().unwrap());
    assert_eq!(status, 400);
    assert_eq!(azure_error(&body)["innererror"]["code"], "InvalidRequestBodyFormat");

    let (status, _) = status_json(post(ANALYZE).header("Content-Type", "text/plain").body("hello").send().unwrap());
    assert_eq!(status, 415);

    let huge = "x".repeat(1024 * 1024 + 10);
    let (status, body) =
        status_json(post(ANALYZE).header("Content-Type", "application/json").body(huge).send().unwrap());
    assert_eq!(status, 413);
    azure_error(&body);

    let (status, body) = status_json(post("/language/:analyze-text").json(&detect_body("hi")).send().unwrap());
    assert_eq!(status, 400, "missing api-version");
    assert_eq!(azure_error(&body)["innererror"]["code"], "InvalidApiVersion");

    let (status, body) = s.analyze("Poetry", json!([{ "id": "1", "text": "x" }]), json!({}));
    assert_eq!(status, 400);
    assert_eq!(azure_error(&body)["innererror"]["code"], "UnsupportedTask");

    let eleven: Vec<Value> = (0..11).map(|i| json!({ "id": i.to_string(), "text": "fine" })).collect();
    let (status, body) = s.analyze("SentimentAnalysis", json!(eleven), json!({}));
    assert_eq!(status, 400);
    assert_eq!(azure_error(&body)["innererror"]["code"], "InvalidDocumentBatch");

    let (status, body) =
        s.analyze("SentimentAnalysis", json!([{ "id": "1", "text": "a" }, { "id": "1", "text": "b" }]), json!({}));
    assert_eq!(status, 400, "duplicate ids: {body}");

    let (status, body) = s.analyze("SentimentAnalysis", json!([]), json!({}));
    assert_eq!(status, 400);
    assert_eq!(azure_error(&body)["innererror"]["code"], "MissingInputDocuments");

    let (status, body) = status_json(s.get("/no/such/route").send().unwrap());
    assert_eq!(status, 404);
    assert_eq!(azure_error(&body)["code"], "404");
}

#[test]
fn an_oversized_document_fails_alone() {
    let s = shared();
    let long = "word ".repeat(1100); // 5,500 characters
    let (status, body) = s.analyze(
        "SentimentAnalysis",
        json!([{ "id": "long", "text": long }, { "id": "short", "text": "I love this" }]),
        json!({}),
    );
    assert_eq!(status, 200, "{body}");
    let results = &body["results"];
    assert_eq!(results["documents"].as_array().unwrap().len(), 1);
    assert_eq!(results["documents"][0]["id"], "short");
    assert_eq!(results["documents"][0]["sentiment"], "positive");
    assert_eq!(results["errors"][0]["id"], "long");
    assert_eq!(results["errors"][0]["error"]["innererror"]["code"], "InvalidDocument");
}

#[test]
fn admin_routes_need_an_admin_key_and_revocation_takes_effect() {
    let s = shared();
    let (key, id) = s.create_key(json!({ "name": "revoke-me" }));
    let r = s.get("/admin/keys").header("Ocp-Apim-Subscription-Key", &key).send().unwrap();
    assert_eq!(r.status(), 403);
    let list: Value =
        s.get("/admin/keys").header("Ocp-Apim-Subscription-Key", ADMIN_KEY).send().unwrap().json().unwrap();
    let listed = list["keys"].as_array().unwrap();
    assert!(listed.iter().any(|k| k["id"] == id.as_str()));
    assert!(!list.to_string().contains(&key), "a key was listed in clear");
    let r = s
        .request(reqwest::Method::DELETE, &format!("/admin/keys/{id}"))
        .header("Ocp-Apim-Subscription-Key", ADMIN_KEY)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s.post(ANALYZE).header("Ocp-Apim-Subscription-Key", &key).json(&detect_body("hello")).send().unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn health_metrics_and_openapi_are_served() {
    let s = shared();
    assert_eq!(s.get("/livez").send().unwrap().status(), 200);
    let (status, ready) = status_json(s.get("/ready").send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(ready["ready"], true);
    assert!(ready["services"][0]["models"].as_array().unwrap().iter().any(|m| m["name"] == "all-minilm-l6-v2"));

    s.analyze("LanguageDetection", json!([{ "id": "1", "text": "metrics please" }]), json!({}));
    let metrics = s.get("/metrics").send().unwrap().text().unwrap();
    assert!(metrics.contains("cogway_http_requests_total{service=\"language\",status=\"2xx\"}"), "{metrics}");
    assert!(metrics.contains("cogway_http_request_duration_seconds_bucket"));

    let doc: Value = s.get("/openapi.json").send().unwrap().json().unwrap();
    for path in [
        "/language/:analyze-text",
        "/v1/embeddings",
        "/sts/v1.0/issueToken",
        "/admin/keys",
        "/ready",
        "/speech/recognition/conversation/cognitiveservices/v1",
        "/cognitiveservices/v1",
        "/v1/audio/transcriptions",
        "/speechtotext/{version}/transcriptions",
        "/computervision/imageanalysis:analyze",
        "/vision/v3.2/read/analyze",
        "/face/{version}/detect",
        "/customvision/v3.4-preview/training/projects/{projectId}/train",
        "/customvision/v3.1/prediction/{projectId}/classify/iterations/{publishedName}/image",
        "/language/:query-knowledgebases",
        "/language/:analyze-conversations",
        "/language/authoring/analyze-conversations/projects/{projectName}/:train",
        "/language/query-knowledgebases/projects/{projectName}/qnas",
        "/documentintelligence/documentModels/{modelId}:analyze",
        "/speech/recognition/{mode}/cognitiveservices/v1",
        "/cognitiveservices/websocket/v1",
        "/v1/realtime",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    let ui = s.get("/swagger/").send().unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().unwrap().to_lowercase().contains("swagger"));
}

#[test]
fn a_first_start_prints_an_admin_key_once_and_the_cli_makes_keys() {
    let db = common::fresh_db_path();
    let server = Server::start_without_admin_key(db.clone());
    let line = server.preamble.iter().find(|l| l.starts_with("Admin key")).expect("no admin key printed");
    let admin = line.rsplit(' ').next().unwrap().to_string();
    let r = server.get("/admin/keys").header("Ocp-Apim-Subscription-Key", &admin).send().unwrap();
    assert_eq!(r.status(), 200);

    // `cogway keys create` on the same database makes a key the running server accepts.
    let out = std::process::Command::new(common::binary())
        .args(["keys", "create", "--name", "cli", "--services", "language", "--rps", "5", "--database"])
        .arg(common::database_url(&db))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(key.len(), 32);
    let r = server
        .post(ANALYZE)
        .header("Ocp-Apim-Subscription-Key", &key)
        .json(&detect_body("Hola, ¿cómo estás?"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop();

    // A second start on the same database prints no new admin key.
    let again = Server::start_without_admin_key(db);
    assert!(!again.preamble.iter().any(|l| l.starts_with("Admin key")), "{:?}", again.preamble);
}

#[test]
fn overload_is_shed_with_503_and_retry_after() {
    // One request may do model work at a time: concurrent ones are refused at once.
    let s = Server::start_with(common::fresh_db_path(), &[("COGWAY__SERVER__MAX_INFLIGHT", "1")]);
    let texts: Vec<String> = (0..64).map(|i| format!("Sentence number {i} about load shedding and queues.")).collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let statuses: Vec<(u16, Option<String>, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let barrier = barrier.clone();
                let s = &s;
                let texts = &texts;
                scope.spawn(move || {
                    barrier.wait();
                    let r = s
                        .post("/v1/embeddings")
                        .header("Ocp-Apim-Subscription-Key", ADMIN_KEY)
                        .json(&json!({ "input": texts }))
                        .send()
                        .unwrap();
                    let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                    let (status, body) = status_json(r);
                    (status, retry, body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().any(|(s, _, _)| *s == 200), "none served: {statuses:?}");
    let shed: Vec<_> = statuses.iter().filter(|(s, _, _)| *s == 503).collect();
    assert!(!shed.is_empty(), "none shed: {:?}", statuses.iter().map(|s| s.0).collect::<Vec<_>>());
    for (_, retry, body) in shed {
        assert_eq!(retry.as_deref(), Some("1"));
        assert_eq!(azure_error(body)["innererror"]["code"], "Overloaded");
    }
    let metrics = s.get("/metrics").send().unwrap().text().unwrap();
    assert!(metrics.contains("cogway_shed_requests_total{service=\"language\"}"), "{metrics}");
}

#[test]
fn a_missing_model_is_reported_and_only_its_analyses_fail() {
    let empty = common::fresh_db_path().parent().unwrap().join("models");
    std::fs::create_dir_all(&empty).unwrap();
    let cache = std::env::var_os("COGWAY_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/cogway"));
    let ort = std::env::var_os("COGWAY_MODELS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| cache.join("models"))
        .join("onnxruntime/libonnxruntime.so");
    let s = Server::start_unready(&[
        ("COGWAY__MODELS__DIR", empty.to_str().unwrap()),
        ("COGWAY__MODELS__ONNXRUNTIME", ort.to_str().unwrap()),
    ]);
    let (status, ready) = status_json(s.get("/ready").send().unwrap());
    assert_eq!(status, 503, "{ready}");
    let models = ready["services"][0]["models"].as_array().unwrap();
    let minilm = models.iter().find(|m| m["name"] == "all-minilm-l6-v2").unwrap();
    assert_eq!(minilm["ready"], false);
    assert!(minilm["detail"].as_str().unwrap().contains("make models"), "{ready}");

    let r = s
        .post("/v1/embeddings")
        .header("Ocp-Apim-Subscription-Key", ADMIN_KEY)
        .json(&json!({ "input": "hi" }))
        .send()
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    let (status, body) = status_json(r);
    assert_eq!(status, 503);
    assert_eq!(azure_error(&body)["innererror"]["code"], "ModelNotReady");

    let (status, body) =
        s.analyze("LanguageDetection", json!([{ "id": "1", "text": "Das ist ein deutscher Satz." }]), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"]["documents"][0]["detectedLanguage"]["iso6391Name"], "de");

    // No NER model: entity recognition is a 503 for the request; PII falls back to its rules.
    let ner = models.iter().find(|m| m["name"] == "spacy-en-core-web-sm").unwrap();
    assert_eq!(ner["ready"], false);
    let (status, body) =
        s.analyze("EntityRecognition", json!([{ "id": "1", "text": "Ada Lovelace lived in London." }]), json!({}));
    assert_eq!(status, 503, "{body}");
    assert_eq!(azure_error(&body)["innererror"]["code"], "ModelNotReady");
    let (status, body) =
        s.analyze("PiiEntityRecognition", json!([{ "id": "1", "text": "Mail Ada at ada@example.com" }]), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"]["documents"][0]["entities"][0]["category"], "Email");
}
