//! The Translation service against the real binary and the real engines: Apertium pairs from the
//! Debian packages, the Argos zh->en model on CTranslate2, the dictionaries, glossaries, and
//! Azure Translator's error codes.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_KEY, Server, fresh_db_path, models_dir, shared, status_json};
use serde_json::{Value, json};

const KEY: &str = "Ocp-Apim-Subscription-Key";

fn translate(server: &Server, query: &str, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    let r =
        server.post(&format!("/translate?api-version=3.0&{query}")).header(KEY, ADMIN_KEY).json(&body).send().unwrap();
    let headers = r.headers().clone();
    let (status, body) = status_json(r);
    (status, body, headers)
}

fn text_of(body: &Value, element: usize, target: usize) -> String {
    body[element]["translations"][target]["text"].as_str().unwrap_or_default().to_string()
}

fn error_code(body: &Value) -> i64 {
    body["error"]["code"].as_i64().unwrap_or_else(|| panic!("no numeric error code in {body}"))
}

#[test]
fn english_to_spanish_with_apertium() {
    let (status, body, headers) = translate(
        shared(),
        "from=en&to=es",
        json!([{ "Text": "The red car is very fast." }, { "Text": "I live in a big house." }]),
    );
    assert_eq!(status, 200, "{body}");
    let first = text_of(&body, 0, 0).to_lowercase();
    assert!(first.contains("coche"), "{first}");
    assert!(first.contains("rojo"), "{first}");
    assert!(text_of(&body, 1, 0).to_lowercase().contains("casa"), "{body}");
    assert!(body[0].get("detectedLanguage").is_none(), "detectedLanguage only when from is absent");
    assert_eq!(headers["x-metered-usage"], "47");
    assert!(headers["x-cogway-route"].to_str().unwrap().contains("apertium:eng-spa"), "{headers:?}");
    // The same request under the regional path.
    let r = shared()
        .post("/translator/text/v3.0/translate?api-version=3.0&from=en&to=es")
        .header(KEY, ADMIN_KEY)
        .json(&json!([{ "Text": "The red car is very fast." }]))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200);
    assert!(text_of(&body, 0, 0).contains("coche"));
}

#[test]
fn several_targets_detection_and_sentence_lengths() {
    let (status, body, _) = translate(
        shared(),
        "to=es&to=ca&includeSentenceLength=true",
        json!([{ "Text": "The weather is good today. We are going to the beach." }]),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["detectedLanguage"]["language"], "en");
    assert_eq!(body[0]["translations"][0]["to"], "es");
    assert_eq!(body[0]["translations"][1]["to"], "ca");
    assert!(text_of(&body, 0, 0).to_lowercase().contains("playa"), "{body}");
    assert!(text_of(&body, 0, 1).to_lowercase().contains("platja"), "{body}");
    assert_eq!(body[0]["translations"][0]["sentLen"]["srcSentLen"], json!([27, 26]));
    assert_eq!(body[0]["translations"][0]["sentLen"]["transSentLen"].as_array().unwrap().len(), 2);
}

#[test]
fn html_keeps_its_markup() {
    let html = r#"<p class="intro">The <b>red</b> car is very fast.</p><p translate="no">Cogway house</p>"#;
    let (status, body, _) = translate(shared(), "from=en&to=es&textType=html", json!([{ "Text": html }]));
    assert_eq!(status, 200, "{body}");
    let out = text_of(&body, 0, 0);
    assert!(out.starts_with(r#"<p class="intro">"#), "{out}");
    assert!(out.contains("<b>") && out.contains("</b>") && out.contains("</p>"), "{out}");
    assert!(out.contains("coche"), "{out}");
    assert!(out.contains(r#"<p translate="no">Cogway house</p>"#), "untranslatable element changed: {out}");
}

#[test]
fn neural_engine_translates_chinese() {
    let (status, body, headers) =
        translate(shared(), "from=zh-Hans&to=en", json!([{ "Text": "我们明天早上九点在火车站见面。" }]));
    assert_eq!(status, 200, "{body}");
    let out = text_of(&body, 0, 0).to_lowercase();
    assert!(out.contains("train station"), "{out}");
    assert_eq!(headers["x-mt-system"], "Neural");
    assert!(headers["x-cogway-route"].to_str().unwrap().contains("neural:argos-zh-en"), "{headers:?}");
    // Detected, too.
    let (status, body, _) = translate(shared(), "to=en", json!([{ "Text": "我们明天早上九点在火车站见面。" }]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["detectedLanguage"]["language"], "zh-Hans");
}

#[test]
fn pivot_pairs_work_and_say_so() {
    // No English-French Apertium pair exists: en -> es -> fr.
    let (status, body, headers) =
        translate(shared(), "from=en&to=fr", json!([{ "Text": "The red car is very fast." }]));
    assert_eq!(status, 200, "{body}");
    let out = text_of(&body, 0, 0).to_lowercase();
    assert!(out.contains("voiture") || out.contains("auto"), "{out}");
    let route = headers["x-cogway-route"].to_str().unwrap();
    assert!(route.contains("pivot es"), "{route}");
    // Chinese to Spanish: neural into English, then Apertium.
    let (status, body, headers) = translate(shared(), "from=zh-Hans&to=es", json!([{ "Text": "我喜欢猫。" }]));
    assert_eq!(status, 200, "{body}");
    assert!(headers["x-cogway-route"].to_str().unwrap().contains("pivot en"), "{headers:?}");
    assert!(text_of(&body, 0, 0).to_lowercase().contains("gato"), "{body}");
}

#[test]
fn glossary_terms_are_enforced() {
    let server = shared();
    let r = server
        .request(reqwest::Method::PUT, "/translator/glossaries/cars?from=en&to=es")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "text/csv")
        .body("source,target\nred car,bólido escarlata\nCogway,Cogway\n")
        .send()
        .unwrap();
    assert!(r.status() == 201 || r.status() == 200, "{}", r.text().unwrap());
    let (status, body, _) =
        translate(server, "from=en&to=es&category=cars", json!([{ "Text": "The red car of Cogway is very fast." }]));
    assert_eq!(status, 200, "{body}");
    let out = text_of(&body, 0, 0);
    assert!(out.contains("bólido escarlata"), "{out}");
    assert!(!out.contains("coche"), "{out}");
    // Inline dynamic dictionary, no glossary needed.
    let (status, body, _) = translate(
        server,
        "from=en&to=es",
        json!([{ "Text": r#"The <mstrans:dictionary translation="AutoMax">car</mstrans:dictionary> is fast."# }]),
    );
    assert_eq!(status, 200, "{body}");
    assert!(text_of(&body, 0, 0).contains("AutoMax"), "{body}");
    // A category that is neither a glossary nor a model.
    let (status, body, _) = translate(server, "from=en&to=es&category=nothing", json!([{ "Text": "Hi." }]));
    assert_eq!((status, error_code(&body)), (400, 400075), "{body}");
    // A bad glossary is refused.
    let r = server
        .request(reqwest::Method::PUT, "/translator/glossaries/bad?from=en&to=es")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "text/csv")
        .body("only one column\n")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[test]
fn dictionary_lookup_and_sentence_breaking() {
    let r = shared()
        .post("/dictionary/lookup?api-version=3.0&from=en&to=es")
        .header(KEY, ADMIN_KEY)
        .json(&json!([{ "Text": "house" }]))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["normalizedSource"], "house");
    let translations = body[0]["translations"].as_array().unwrap();
    let casa = translations.iter().find(|t| t["normalizedTarget"] == "casa").unwrap_or_else(|| panic!("{body}"));
    assert_eq!(casa["posTag"], "NOUN");
    assert!(casa["backTranslations"].as_array().unwrap().iter().any(|b| b["normalizedText"] == "house"), "{casa}");

    let r = shared()
        .post("/breaksentence?api-version=3.0")
        .header(KEY, ADMIN_KEY)
        .json(&json!([{ "Text": "How are you? I am fine. Thanks." }]))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["sentLen"], json!([13, 11, 7]));
    assert_eq!(body[0]["detectedLanguage"]["language"], "en");
}

#[test]
fn transliteration_and_detection() {
    let r = shared()
        .post("/transliterate?api-version=3.0&language=ru&fromScript=Cyrl&toScript=Latn")
        .header(KEY, ADMIN_KEY)
        .json(&json!([{ "Text": "Москва" }]))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["text"], "Moskva");
    assert_eq!(body[0]["script"], "Latn");
    let r = shared()
        .post("/transliterate?api-version=3.0&language=ja&fromScript=Jpan&toScript=Latn")
        .header(KEY, ADMIN_KEY)
        .json(&json!([{ "Text": "こんにちは" }]))
        .send()
        .unwrap();
    let (_, body) = status_json(r);
    assert_eq!(body[0]["text"], "konnichiha");

    let r = shared()
        .post("/detect?api-version=3.0")
        .header(KEY, ADMIN_KEY)
        .json(&json!([{ "Text": "Ich würde wirklich gern Ihr Auto ein paar Mal um den Block fahren." }]))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["language"], "de");
    assert_eq!(body[0]["isTranslationSupported"], false);
}

#[test]
fn languages_need_no_key_and_have_an_etag() {
    let r = shared().get("/languages?api-version=3.0").send().unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let body: Value = r.json().unwrap();
    let en = &body["translation"]["en"];
    assert_eq!(en["name"], "English");
    assert!(en["directTargets"].as_array().unwrap().contains(&json!("es")));
    assert!(en["pivotTargets"].as_array().unwrap().contains(&json!("fr")));
    assert!(body["translation"]["zh-Hans"]["directTargets"].as_array().unwrap().contains(&json!("en")));
    assert!(body["dictionary"]["en"]["translations"].as_array().unwrap().iter().any(|t| t["code"] == "es"));
    assert!(body["transliteration"]["ja"]["scripts"][0]["toScripts"][0]["code"] == "Latn");
    let r = shared().get("/languages?api-version=3.0").header("If-None-Match", &etag).send().unwrap();
    assert_eq!(r.status(), 304);
}

#[test]
fn errors_use_translator_codes() {
    let server = shared();
    let long = "a".repeat(50_001);
    let cases: Vec<(&str, Value, u16, i64)> = vec![
        ("from=en&to=xx", json!([{ "Text": "Hi" }]), 400, 400036),
        ("from=en", json!([{ "Text": "Hi" }]), 400, 400036),
        ("from=qq&to=es", json!([{ "Text": "Hi" }]), 400, 400035),
        ("from=en&to=es", json!([{ "Text": long }]), 400, 400050),
        ("from=en&to=es", Value::Array(vec![json!({ "Text": "a" }); 1001]), 400, 400072),
        ("from=en&to=es&to=ca", json!([{ "Text": "a".repeat(30_000) }]), 400, 400050),
        ("from=en&to=es&textType=rtf", json!([{ "Text": "Hi" }]), 400, 400064),
        ("from=en&to=ja", json!([{ "Text": "Hi" }]), 400, 400019),
    ];
    for (query, body, status, code) in cases {
        let (got, answer, _) = translate(server, query, body);
        assert_eq!((got, error_code(&answer)), (status, code), "{query}: {answer}");
    }
    // Not JSON, wrong content type, wrong api-version, no key.
    let r = server
        .post("/translate?api-version=3.0&to=es")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "application/json")
        .body("[{\"Text\": ")
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!((status, error_code(&body)), (400, 400074), "{body}");
    let r = server
        .post("/translate?api-version=3.0&to=es")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!((status, error_code(&body)), (415, 415000), "{body}");
    let r = server
        .post("/translate?api-version=2.0&to=es")
        .header(KEY, ADMIN_KEY)
        .json(&json!([{"Text": "a"}]))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!((status, error_code(&body)), (400, 400021), "{body}");
    let r = server
        .post("/translate?api-version=3.0&to=es")
        .header(KEY, "wrong")
        .json(&json!([{"Text": "a"}]))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!((status, error_code(&body)), (401, 401000), "{body}");
}

#[test]
fn character_quota_refuses_with_retry_after() {
    let server = shared();
    let (key, _) = server.create_key(json!({ "name": "translation-quota", "charsPerHour": 40 }));
    let send_to = |to: &str, text: &str| {
        server
            .post(&format!("/translate?api-version=3.0&from=en&to={to}"))
            .header(KEY, &key)
            .json(&json!([{ "Text": text }]))
            .send()
            .unwrap()
    };
    let send = |text: &str| send_to("es", text);
    // A refused request is not charged: were it, the next one would go over the 40 characters.
    let (status, body) = status_json(send_to("ja", "The red car is very fast."));
    assert_eq!((status, error_code(&body)), (400, 400019), "{body}");
    assert_eq!(send("The red car is very fast.").status(), 200);
    let r = send("The red car is very fast.");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let (_, body) = status_json(r);
    assert_eq!(error_code(&body), 429001, "{body}");
}

#[test]
fn neural_models_can_be_added_by_an_admin() {
    let dir = fresh_db_path().parent().unwrap().to_path_buf();
    let user_models = dir.join("user-models");
    let unpacked = dir.join("unpacked");
    let server = Server::start_with(
        dir.join("cogway.db"),
        &[
            ("COGWAY__TRANSLATION__USER_MODELS_DIR", user_models.to_str().unwrap()),
            ("COGWAY__TRANSLATION__UNPACK_DIR", unpacked.to_str().unwrap()),
            ("COGWAY__TRANSLATION__PIPELINES_PER_DIRECTION", "1"),
        ],
    );
    let package = std::fs::read(models_dir().join("argos-zh-en").join("zh_en.argosmodel")).unwrap();
    let (user_key, _) = server.create_key(json!({ "name": "not-admin" }));
    let r = server
        .request(reqwest::Method::PUT, "/translator/models/my-zh-en")
        .header(KEY, &user_key)
        .body(package.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = server
        .request(reqwest::Method::PUT, "/translator/models/broken")
        .header(KEY, ADMIN_KEY)
        .body(b"PK\x03\x04 not really a zip".to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 400, "{}", r.text().unwrap());
    let r = server
        .request(reqwest::Method::PUT, "/translator/models/my-zh-en")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "application/zip")
        .body(package)
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 201, "{body}");
    assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("zh-Hans"), Some("en")));
    assert!(user_models.join("my-zh-en.argosmodel").is_file());
    let (status, body, _) = translate(
        &server,
        &format!("from=zh-Hans&to=en&category={}", body["name"].as_str().unwrap()),
        json!([{ "Text": "我们明天早上九点在火车站见面。" }]),
    );
    assert_eq!(status, 200, "{body}");
    assert!(text_of(&body, 0, 0).to_lowercase().contains("train station"), "{body}");
    server.stop();
}

#[test]
fn libretranslate_routes() {
    let server = shared();
    // JSON with api_key in the body, auto-detected source.
    let r = server
        .post("/libretranslate/translate")
        .json(&json!({ "q": "The red car is very fast.", "source": "auto", "target": "es", "api_key": ADMIN_KEY }))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{body}");
    assert!(body["translatedText"].as_str().unwrap().contains("coche"), "{body}");
    assert_eq!(body["detectedLanguage"]["language"], "en");
    // Form-encoded, a list, html.
    let r = server
        .post("/libretranslate/translate")
        .form(&[("q", "<b>house</b>"), ("source", "en"), ("target", "es"), ("format", "html"), ("api_key", ADMIN_KEY)])
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["translatedText"].as_str().unwrap().to_lowercase(), "<b>casa</b>");
    let r = server
        .post("/libretranslate/translate")
        .json(&json!({ "q": ["Good morning.", "Thank you."], "source": "en", "target": "es", "api_key": ADMIN_KEY }))
        .send()
        .unwrap();
    let (_, body) = status_json(r);
    assert_eq!(body["translatedText"].as_array().unwrap().len(), 2, "{body}");
    // Errors in LibreTranslate's shape.
    let r = server
        .post("/libretranslate/translate")
        .json(&json!({ "q": "Hi", "target": "es", "api_key": "wrong" }))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].is_string(), "{body}");
    let r =
        server.post("/libretranslate/translate").json(&json!({ "target": "es", "api_key": ADMIN_KEY })).send().unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("q"), "{body}");
    // Detect and languages.
    let r = server
        .post("/libretranslate/detect")
        .json(&json!({ "q": "Buenos días, ¿cómo estás?", "api_key": ADMIN_KEY }))
        .send()
        .unwrap();
    let (_, body) = status_json(r);
    assert_eq!(body[0]["language"], "es", "{body}");
    assert!(body[0]["confidence"].as_f64().unwrap() > 50.0);
    let r = server.get("/libretranslate/languages").send().unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200);
    let en = body.as_array().unwrap().iter().find(|l| l["code"] == "en").unwrap();
    assert!(en["targets"].as_array().unwrap().contains(&json!("fr")), "{en}");
}

/// espeak-ng speaking `text`, as WAV bytes.
fn espeak(voice: &str, text: &str) -> Vec<u8> {
    let out = std::process::Command::new("espeak-ng").args(["--stdout", "-v", voice, text]).output().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn speech_is_translated_and_spoken() {
    let server = shared();
    let r = server
        .post("/speech/translation/cognitiveservices/v1?from=en-US&to=es&to=ca&synthesize=es")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "audio/wav")
        .body(espeak("en-us", "Good morning, my name is Carlos and I live in Madrid."))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    let text = json!({ "DisplayText": body["DisplayText"], "Translation": body["Translation"] });
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["RecognitionStatus"], "Success");
    assert!(body["DisplayText"].as_str().unwrap().to_lowercase().contains("madrid"), "{text}");
    let translations = body["Translation"]["Translations"].as_array().unwrap();
    assert_eq!(translations[0]["Language"], "es");
    let spanish = translations[0]["DisplayText"].as_str().unwrap().to_lowercase();
    assert!(spanish.contains("buenos") && spanish.contains("nombre"), "{text}");
    assert_eq!(translations[1]["Language"], "ca");
    // The Spanish speech goes back through Spanish recognition.
    use base64::Engine as _;
    let wav = base64::engine::general_purpose::STANDARD.decode(body["Synthesis"]["Data"].as_str().unwrap()).unwrap();
    assert!(wav.starts_with(b"RIFF"), "not WAV");
    let r = server
        .post("/speech/recognition/conversation/cognitiveservices/v1?language=es-ES")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "audio/wav")
        .body(wav)
        .send()
        .unwrap();
    let (status, heard) = status_json(r);
    assert_eq!(status, 200, "{heard}");
    assert!(heard["DisplayText"].as_str().unwrap().to_lowercase().contains("nombre"), "{heard}");
    // No target language is a 400 in the Speech error shape.
    let r = server
        .post("/speech/translation/cognitiveservices/v1?from=en-US")
        .header(KEY, ADMIN_KEY)
        .header("Content-Type", "audio/wav")
        .body(espeak("en-us", "Hello."))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 400);
    assert!(body["error"]["code"].is_string(), "{body}");
}

#[test]
fn text_in_no_language_is_returned_as_it_is() {
    let (status, body, _) =
        translate(shared(), "to=es", json!([{ "Text": "12345 67" }, { "Text": "Good morning, how are you today?" }]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(text_of(&body, 0, 0), "12345 67");
    assert_eq!(body[0]["detectedLanguage"]["language"], "und", "{body}");
    assert_eq!(body[0]["detectedLanguage"]["score"], 0.0, "{body}");
    assert_eq!(body[1]["detectedLanguage"]["language"], "en", "{body}");
    assert!(text_of(&body, 1, 0).to_lowercase().contains("buenos"), "{body}");
}

#[test]
fn a_disabled_translation_service_answers_404_everywhere() {
    let server = Server::start_with(
        fresh_db_path(),
        &[("COGWAY__SERVICES__TRANSLATION", "false"), ("COGWAY__SERVICES__SPEECH", "false")],
    );
    let json_post = |path: &str| {
        server.post(path).header(KEY, ADMIN_KEY).json(&json!([{ "Text": "How are you? I am fine." }])).send().unwrap()
    };
    for path in [
        "/translate?api-version=3.0&to=es",
        "/breaksentence?api-version=3.0",
        "/detect?api-version=3.0",
        "/transliterate?api-version=3.0&language=ru&fromScript=Cyrl&toScript=Latn",
        "/dictionary/examples?api-version=3.0&from=en&to=es",
    ] {
        let (status, body) = status_json(json_post(path));
        assert_eq!((status, error_code(&body)), (404, 404000), "{path}: {body}");
    }
    let r = server.get("/translator/glossaries").header(KEY, ADMIN_KEY).send().unwrap();
    assert_eq!(r.status(), 404);
    let r = server.post("/libretranslate/detect").header(KEY, ADMIN_KEY).json(&json!({ "q": "Hola" })).send().unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("disabled")), "{body}");
    server.stop();
}
