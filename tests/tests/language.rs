//! The Language service against the real binary and real models.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_KEY, Server, azure_error, fresh_db_path, shared, status_json};
use serde_json::{Value, json};

fn first_doc(body: &Value) -> &Value {
    &body["results"]["documents"][0]
}

#[test]
fn french_is_detected_as_fr() {
    let (status, body) = shared().analyze(
        "LanguageDetection",
        json!([
            { "id": "1", "text": "Bonjour tout le monde, je voudrais réserver une table pour ce soir.", "countryHint": "FR" },
            { "id": "2", "text": "The weather is lovely today and we are going to the beach." },
            { "id": "3", "text": "Ich habe heute keine Zeit, weil ich arbeiten muss." },
        ]),
        json!({}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "LanguageDetectionResults");
    let docs = body["results"]["documents"].as_array().unwrap();
    let lang = |i: usize| docs[i]["detectedLanguage"]["iso6391Name"].as_str().unwrap().to_string();
    assert_eq!((lang(0).as_str(), lang(1).as_str(), lang(2).as_str()), ("fr", "en", "de"));
    assert_eq!(docs[0]["detectedLanguage"]["name"], "French");
    assert!(docs[0]["detectedLanguage"]["confidenceScore"].as_f64().unwrap() > 0.5);
}

#[test]
fn love_is_positive_and_hate_is_negative() {
    let (status, body) = shared().analyze(
        "SentimentAnalysis",
        json!([{ "id": "1", "text": "I love this" }, { "id": "2", "text": "I hate this" }]),
        json!({}),
    );
    assert_eq!(status, 200, "{body}");
    let docs = body["results"]["documents"].as_array().unwrap();
    assert_eq!(docs[0]["sentiment"], "positive");
    assert_eq!(docs[1]["sentiment"], "negative");
    for doc in docs {
        let s = &doc["confidenceScores"];
        let sum = s["positive"].as_f64().unwrap() + s["neutral"].as_f64().unwrap() + s["negative"].as_f64().unwrap();
        assert!((sum - 1.0).abs() < 1e-6, "scores sum to {sum}");
        assert_eq!(doc["sentences"][0]["text"], doc["sentences"][0]["text"].as_str().unwrap());
    }
}

#[test]
fn pii_in_a_sentence_is_found_and_masked() {
    let text = "Email jane.doe@contoso.com or call (555) 555-0100; card 4111 1111 1111 1111, SSN 123-45-6789.";
    let (status, body) = shared().analyze("PiiEntityRecognition", json!([{ "id": "1", "text": text }]), json!({}));
    assert_eq!(status, 200, "{body}");
    let doc = first_doc(&body);
    let found: Vec<(String, String)> = doc["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["category"].as_str().unwrap().to_string(), e["text"].as_str().unwrap().to_string()))
        .collect();
    for (category, value) in [
        ("Email", "jane.doe@contoso.com"),
        ("PhoneNumber", "(555) 555-0100"),
        ("CreditCardNumber", "4111 1111 1111 1111"),
        ("USSocialSecurityNumber", "123-45-6789"),
    ] {
        assert!(found.contains(&(category.to_string(), value.to_string())), "{category} {value} not in {found:?}");
    }
    let redacted = doc["redactedText"].as_str().unwrap();
    assert_eq!(redacted.len(), text.len());
    for secret in ["jane.doe", "555-0100", "4111", "6789"] {
        assert!(!redacted.contains(secret), "{secret} left in {redacted}");
    }
    assert!(redacted.starts_with("Email ********************"), "{redacted}");

    // Offsets are text elements: an emoji before the entity counts as one.
    let (_, body) = shared().analyze(
        "PiiEntityRecognition",
        json!([{ "id": "1", "text": "👍🏽 mail me: bob@example.org" }]),
        json!({ "piiCategories": ["Email"] }),
    );
    let e = &first_doc(&body)["entities"][0];
    assert_eq!((e["offset"].as_u64(), e["length"].as_u64()), (Some(11), Some(15)), "{body}");
}

#[test]
fn pii_categories_filter_keeps_only_those_asked_for() {
    let (status, body) = shared().analyze(
        "PiiEntityRecognition",
        json!([{ "id": "1", "text": "Mail a@b.io or call 555-555-0199." }]),
        json!({ "piiCategories": ["PhoneNumber"] }),
    );
    assert_eq!(status, 200);
    let entities = first_doc(&body)["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 1, "{body}");
    assert_eq!(entities[0]["category"], "PhoneNumber");
    let (status, body) = shared().analyze(
        "PiiEntityRecognition",
        json!([{ "id": "1", "text": "x" }]),
        json!({ "piiCategories": ["Horoscope"] }),
    );
    assert_eq!(status, 400);
    azure_error(&body);
}

#[test]
fn key_phrases_name_the_topic() {
    let (status, body) = shared().analyze(
        "KeyPhraseExtraction",
        json!([{ "id": "1", "text": "The new electric car has a long battery range and fast charging. Reviewers praised the battery range and the quiet motor." }]),
        json!({}),
    );
    assert_eq!(status, 200);
    let phrases: Vec<String> =
        first_doc(&body)["keyPhrases"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_lowercase()).collect();
    assert!(phrases.iter().any(|p| p.contains("battery range")), "{phrases:?}");
    assert!(phrases.iter().any(|p| p.contains("electric car")), "{phrases:?}");
}

fn embed(s: &Server, path: &str, texts: &[&str]) -> Vec<Vec<f64>> {
    let r =
        s.post(path).header("Ocp-Apim-Subscription-Key", ADMIN_KEY).json(&json!({ "input": texts })).send().unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn similar_sentences_are_closer_than_unrelated_ones() {
    for path in ["/v1/embeddings", "/language/embeddings"] {
        let v = embed(
            shared(),
            path,
            &["A man is playing a guitar.", "Someone strums a guitar.", "The stock market fell sharply today."],
        );
        assert_eq!(v[0].len(), 384);
        let norm: f64 = v[0].iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "not normalised: {norm}");
        let similar = cosine(&v[0], &v[1]);
        let unrelated = cosine(&v[0], &v[2]);
        assert!(similar > 0.5 && similar > unrelated + 0.3, "similar {similar}, unrelated {unrelated}");
    }
}

#[test]
fn extractive_summary_keeps_the_central_sentences() {
    let text = "Solar panels turn sunlight into electricity. Homes with solar panels can cut their electricity bills. \
                My cat likes to sleep on the sofa. Cheaper solar panels have made solar electricity popular.";
    let (status, body) = shared().analyze(
        "ExtractiveSummarization",
        json!([{ "id": "1", "text": text }]),
        json!({ "sentenceCount": 3 }),
    );
    assert_eq!(status, 200, "{body}");
    let sentences = first_doc(&body)["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 3);
    assert!(sentences.iter().all(|s| !s["text"].as_str().unwrap().contains("cat")), "{body}");
    let offsets: Vec<u64> = sentences.iter().map(|s| s["offset"].as_u64().unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "not in document order: {offsets:?}");
    let first = &sentences[0];
    let (o, l) = (first["offset"].as_u64().unwrap() as usize, first["length"].as_u64().unwrap() as usize);
    assert_eq!(&text[o..o + l], first["text"].as_str().unwrap());
}

#[test]
fn the_v31_routes_answer_in_the_same_shapes() {
    let s = shared();
    let post = |path: &str, docs: Value| {
        status_json(
            s.post(path)
                .header("Ocp-Apim-Subscription-Key", ADMIN_KEY)
                .json(&json!({ "documents": docs }))
                .send()
                .unwrap(),
        )
    };
    let (status, body) =
        post("/text/analytics/v3.1/languages", json!([{ "id": "1", "text": "Où est la gare, s'il vous plaît ?" }]));
    assert_eq!(status, 200);
    assert_eq!(body["documents"][0]["detectedLanguage"]["iso6391Name"], "fr");
    let (_, body) =
        post("/text/analytics/v3.1/sentiment", json!([{ "id": "1", "text": "I hate this", "language": "en" }]));
    assert_eq!(body["documents"][0]["sentiment"], "negative");
    let (_, body) =
        post("/text/analytics/v3.1/keyPhrases", json!([{ "id": "1", "text": "Rust makes systems programming safe." }]));
    assert!(!body["documents"][0]["keyPhrases"].as_array().unwrap().is_empty());
    let (_, body) =
        post("/text/analytics/v3.1/entities/recognition/pii", json!([{ "id": "1", "text": "write to a@contoso.com" }]));
    assert_eq!(body["documents"][0]["redactedText"], "write to *************");
    let (status, body) = post(
        "/text/analytics/v3.1/entities/recognition/general",
        json!([{ "id": "1", "text": "Ada Lovelace was born in London in 1815." }]),
    );
    assert_eq!(status, 200, "{body}");
    let found: Vec<(&str, &str)> = body["documents"][0]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["category"].as_str().unwrap(), e["text"].as_str().unwrap()))
        .collect();
    assert!(found.contains(&("Person", "Ada Lovelace")), "{found:?}");
    assert!(found.contains(&("Location", "London")), "{found:?}");
    assert!(found.contains(&("DateTime", "1815")), "{found:?}");
}

#[test]
fn named_entities_with_categories_and_utf16_offsets() {
    let text = "🙂 Satya Nadella visited Berlin on Monday to meet engineers from Microsoft.";
    let (status, body) = shared().analyze(
        "EntityRecognition",
        json!([{ "id": "1", "text": text, "language": "en" }, { "id": "2", "text": "Bonjour Paris", "language": "fr" }]),
        json!({ "stringIndexType": "Utf16CodeUnit" }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "EntityRecognitionResults");
    let entities = first_doc(&body)["entities"].as_array().unwrap();
    let find = |category: &str, t: &str| {
        entities
            .iter()
            .find(|e| e["category"] == category && e["text"] == t)
            .unwrap_or_else(|| panic!("{category} {t}: {entities:?}"))
    };
    let person = find("Person", "Satya Nadella");
    // The emoji is two UTF-16 code units, then a space.
    assert_eq!(person["offset"], 3);
    assert_eq!(person["length"], 13);
    assert_eq!(find("Location", "Berlin")["subcategory"], "GPE");
    assert_eq!(find("DateTime", "Monday")["subcategory"], "Date");
    find("Organization", "Microsoft");
    for e in entities {
        let score = e["confidenceScore"].as_f64().unwrap();
        assert!(score > 0.0 && score <= 1.0, "{e}");
    }
    let errors = body["results"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["id"], "2");
    assert_eq!(errors[0]["error"]["innererror"]["code"], "UnsupportedLanguageCode");
}

/// Labelled texts written for this test: three topics, twelve examples each.
fn training_set() -> Vec<(&'static str, &'static str)> {
    let sports = [
        "The striker scored twice in the second half.",
        "Our team won the championship after extra time.",
        "The goalkeeper saved a penalty in the final minute.",
        "She broke the national record in the 100 metres.",
        "The coach praised the defence after the match.",
        "He signed a new contract with the football club.",
        "The tennis final went to five sets.",
        "Fans cheered as the runners crossed the finish line.",
        "The referee sent off two players for fighting.",
        "The basketball team lost by three points.",
        "The cyclist won the mountain stage of the tour.",
        "The league announced the schedule for next season.",
    ];
    let cooking = [
        "Whisk the eggs with sugar until pale and fluffy.",
        "Simmer the tomato sauce for twenty minutes.",
        "Knead the dough and let it rise for an hour.",
        "Season the soup with salt, pepper and fresh thyme.",
        "Roast the vegetables in a hot oven until golden.",
        "Fry the onions gently in butter until soft.",
        "Add a pinch of cinnamon to the apple pie filling.",
        "Marinate the chicken overnight in yoghurt and spices.",
        "Bake the bread until the crust sounds hollow.",
        "Chop the garlic finely and stir it into the oil.",
        "Let the cake cool before you spread the icing.",
        "Boil the pasta in plenty of salted water.",
    ];
    let finance = [
        "The central bank raised interest rates by a quarter point.",
        "Shares fell after the company cut its profit forecast.",
        "Inflation slowed for the third month in a row.",
        "The bond market rallied on weaker economic data.",
        "Investors moved money into government debt.",
        "The quarterly earnings beat analyst expectations.",
        "The currency weakened against the dollar.",
        "The firm announced a share buyback programme.",
        "Mortgage rates climbed to their highest in a decade.",
        "The stock exchange closed lower on Friday.",
        "The bank reported a rise in loan defaults.",
        "Oil prices pushed the index of producer prices up.",
    ];
    sports
        .iter()
        .map(|t| (*t, "sports"))
        .chain(cooking.iter().map(|t| (*t, "cooking")))
        .chain(finance.iter().map(|t| (*t, "finance")))
        .collect()
}

#[test]
fn a_custom_classifier_learns_from_labelled_texts_and_survives_a_restart() {
    let db = fresh_db_path();
    let server = Server::start_with(db.clone(), &[]);
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = server.request(method, path).header("Ocp-Apim-Subscription-Key", ADMIN_KEY);
        if let Some(b) = body {
            r = r.json(&b);
        }
        status_json(r.send().unwrap())
    };
    let (status, _) = call(reqwest::Method::PUT, "/language/custom/projects/topics", Some(json!({ "language": "en" })));
    assert_eq!(status, 201);
    let examples: Vec<Value> =
        training_set().into_iter().map(|(text, label)| json!({ "text": text, "label": label })).collect();
    let (status, info) =
        call(reqwest::Method::POST, "/language/custom/projects/topics/examples", Some(json!(examples)));
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["examples"], 36);

    // Classifying before training is a clear 409.
    let held_out = json!([
        { "id": "1", "text": "The midfielder was injured during the derby." },
        { "id": "2", "text": "Stir in the cream and cook the risotto slowly." },
        { "id": "3", "text": "Traders expect the bank to cut rates next year." },
        { "id": "4", "text": "Grill the fish for four minutes on each side." },
        { "id": "5", "text": "The sprinter qualified for the Olympic final." },
        { "id": "6", "text": "Government bond yields rose after the budget." },
    ]);
    let (status, _) =
        server.analyze("CustomSingleLabelClassification", held_out.clone(), json!({ "projectName": "topics" }));
    assert_eq!(status, 409);

    let (status, trained) = call(reqwest::Method::POST, "/language/custom/projects/topics/train", None);
    assert_eq!(status, 200, "{trained}");
    let accuracy = trained["evaluation"]["accuracy"].as_f64().unwrap();
    println!("held-out accuracy reported by training: {accuracy}");
    assert!(accuracy > 1.0 / 3.0, "held-out accuracy {accuracy} is not above chance");
    server.stop();

    // A new process on the same database classifies without retraining.
    let server = Server::start_with(db, &[]);
    let (status, body) =
        server.analyze("CustomSingleLabelClassification", held_out, json!({ "projectName": "topics" }));
    assert_eq!(status, 200, "{body}");
    let expected = ["sports", "cooking", "finance", "cooking", "sports", "finance"];
    let docs = body["results"]["documents"].as_array().unwrap();
    let correct = docs.iter().zip(expected).filter(|(d, e)| d["class"][0]["category"] == *e).count();
    println!("held-out texts classified correctly after restart: {correct}/6");
    assert!(correct >= 5, "only {correct}/6 correct: {body}");
    let (status, _) = server.analyze(
        "CustomSingleLabelClassification",
        json!([{ "id": "1", "text": "x" }]),
        json!({ "projectName": "nope" }),
    );
    assert_eq!(status, 404);
}

#[test]
fn an_analyze_text_job_runs_summarization_and_key_phrases_asynchronously() {
    let s = shared();
    let text = "Solar panels turn sunlight into electricity. Homes with solar panels can cut their electricity bills. \
                My cat likes to sleep on the sofa. Cheaper solar panels have made solar electricity popular.";
    let body = json!({
        "displayName": "e2e job",
        "analysisInput": { "documents": [{ "id": "1", "text": text, "language": "en" }] },
        "tasks": [
            { "kind": "ExtractiveSummarization", "taskName": "summary", "parameters": { "sentenceCount": 2, "sortBy": "Rank" } },
            { "kind": "KeyPhraseExtraction", "taskName": "phrases" },
        ],
    });
    let r = s
        .post("/language/analyze-text/jobs?api-version=2023-04-01")
        .header("Ocp-Apim-Subscription-Key", ADMIN_KEY)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["operation-location"].to_str().unwrap().to_string();
    let path = location.split_once("/language/").map(|(_, p)| format!("/language/{p}")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let job = loop {
        let (status, job) = status_json(s.get(&path).header("Ocp-Apim-Subscription-Key", ADMIN_KEY).send().unwrap());
        assert_eq!(status, 200, "{job}");
        if job["status"] == "succeeded" {
            break job;
        }
        assert!(job["status"] == "notStarted" || job["status"] == "running", "{job}");
        assert!(std::time::Instant::now() < deadline, "job did not finish: {job}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(job["displayName"], "e2e job");
    assert_eq!(job["tasks"]["total"], 2);
    assert_eq!(job["tasks"]["completed"], 2);
    let items = job["tasks"]["items"].as_array().unwrap();
    assert_eq!(items[0]["kind"], "ExtractiveSummarizationLROResults");
    let sentences = items[0]["results"]["documents"][0]["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 2);
    assert_eq!(sentences[0]["rankScore"], 1.0, "sorted by rank: {job}");
    assert!(sentences.iter().all(|x| !x["text"].as_str().unwrap().contains("cat")));
    assert_eq!(items[1]["kind"], "KeyPhraseExtractionLROResults");
    assert!(!items[1]["results"]["documents"][0]["keyPhrases"].as_array().unwrap().is_empty());

    // Another key cannot see the job.
    let (other, _) = s.create_key(json!({ "name": "other" }));
    let r = s.get(&path).header("Ocp-Apim-Subscription-Key", &other).send().unwrap();
    assert_eq!(r.status(), 404);
}

const QNA: &str = "/language/query-knowledgebases/projects/e2e-faq";
const QNA_VERSION: &str = "api-version=2021-10-01";

/// A question answering project through the raw authoring routes (the SDK tests use the clients):
/// edits, a deployment that survives a restart, a paraphrased question answered, and a second key
/// that sees nothing. Runs on SQLite here and on PostgreSQL in `make test-cluster`.
#[test]
fn a_knowledge_base_is_deployed_queried_and_kept_across_a_restart() {
    let db = fresh_db_path();
    let server = Server::start_with(db.clone(), &[]);
    let (key, _) = server.create_key(json!({ "name": "qna-e2e", "services": ["language"] }));
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request =
            server.request(method, &format!("{path}?{QNA_VERSION}")).header("Ocp-Apim-Subscription-Key", &key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().unwrap()
    };
    let (status, project) = status_json(send(reqwest::Method::PATCH, QNA, Some(json!({ "language": "en" }))));
    assert_eq!((status, project["projectName"].as_str()), (201, Some("e2e-faq")), "{project}");
    let edits = json!([
        { "op": "add", "value": { "questions": ["What are your opening hours?"], "answer": "We are open from 9 am to 6 pm, Monday to Saturday." } },
        { "op": "add", "value": { "questions": ["Do you deliver abroad?"], "answer": "We ship to every country in the European Union." } },
        { "op": "add", "value": { "questions": ["How can I pay?"], "answer": "We take cards, bank transfers and cash on delivery." } },
    ]);
    let r = send(reqwest::Method::PATCH, &format!("{QNA}/qnas"), Some(edits));
    assert_eq!(r.status(), 202);
    let job = r.headers()["Operation-Location"].to_str().unwrap().to_string();
    assert!(job.starts_with("http://") && job.contains("/qnas/jobs/") && job.ends_with(QNA_VERSION), "{job}");
    let (_, state) = status_json(
        server.get(&job[job.find("/language").unwrap()..]).header("Ocp-Apim-Subscription-Key", &key).send().unwrap(),
    );
    assert_eq!(state["status"], "succeeded", "{state}");
    let (_, qnas) = status_json(send(reqwest::Method::GET, &format!("{QNA}/qnas"), None));
    assert_eq!(
        qnas["value"].as_array().unwrap().iter().map(|q| q["id"].as_i64().unwrap()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(send(reqwest::Method::PUT, &format!("{QNA}/deployments/production"), None).status(), 202);
    server.stop();

    let server = Server::start_with(db, &[]);
    let ask = |question: &str, key: &str| {
        status_json(
            server
                .post(&format!(
                    "/language/:query-knowledgebases?projectName=e2e-faq&deploymentName=production&{QNA_VERSION}"
                ))
                .header("Ocp-Apim-Subscription-Key", key)
                .json(&json!({ "question": question }))
                .send()
                .unwrap(),
        )
    };
    let (status, body) = ask("When does the shop close in the evening?", &key);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["answers"][0]["id"], 1, "{body}");
    let (_, body) = ask("Can I pay with a credit card?", &key);
    assert_eq!(body["answers"][0]["id"], 3, "{body}");
    // Another key has no such project.
    let (other, _) = server.create_key(json!({ "name": "qna-other", "services": ["language"] }));
    let (status, body) = ask("How can I pay?", &other);
    assert_eq!(status, 404, "{body}");
    assert!(azure_error(&body)["message"].as_str().unwrap().contains("e2e-faq"), "{body}");
}

const CLU: &str = "/language/authoring/analyze-conversations/projects/e2e-orders";
const CLU_VERSION: &str = "api-version=2023-04-01";

/// A conversational language understanding project through the raw routes: import, train,
/// deploy, analyze, delete. Runs on SQLite here and on PostgreSQL in `make test-cluster`.
#[test]
fn a_conversation_project_is_imported_trained_deployed_and_analyzed() {
    let server = shared();
    let (key, _) = server.create_key(json!({ "name": "clu-e2e", "services": ["language"] }));
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request =
            server.request(method, &format!("{path}?{CLU_VERSION}")).header("Ocp-Apim-Subscription-Key", &key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().unwrap();
        assert_eq!(r.status(), 202, "{path}");
        let job = r.headers()["Operation-Location"].to_str().unwrap().to_string();
        let (_, state) = status_json(
            server
                .get(&job[job.find("/language").unwrap()..])
                .header("Ocp-Apim-Subscription-Key", &key)
                .send()
                .unwrap(),
        );
        assert_eq!(state["status"], "succeeded", "{state}");
    };
    let utterance = |text: &str, intent: &str, item: Option<&str>| {
        let entities: Vec<Value> = item
            .map(|w| vec![json!({ "category": "Item", "offset": text.find(w).unwrap(), "length": w.len() })])
            .unwrap_or_default();
        json!({ "text": text, "intent": intent, "entities": entities })
    };
    let project = json!({
        "stringIndexType": "Utf16CodeUnit",
        "metadata": { "projectKind": "Conversation", "language": "en" },
        "assets": {
            "projectKind": "Conversation",
            "intents": [{ "category": "Order" }, { "category": "Track" }],
            "entities": [{ "category": "Item" }],
            "utterances": [
                utterance("I would like to order a pizza", "Order", Some("pizza")),
                utterance("order two burgers please", "Order", Some("burgers")),
                utterance("can I get a salad", "Order", Some("salad")),
                utterance("where is my delivery", "Track", None),
                utterance("track my order", "Track", None),
                utterance("when will my food arrive", "Track", None),
            ],
        },
    });
    send(reqwest::Method::POST, &format!("{CLU}/:import"), Some(project));
    send(reqwest::Method::POST, &format!("{CLU}/:train"), Some(json!({ "modelLabel": "m1" })));
    send(reqwest::Method::PUT, &format!("{CLU}/deployments/live"), Some(json!({ "trainedModelLabel": "m1" })));
    let (status, body) = status_json(
        server
            .post(&format!("/language/:analyze-conversations?{CLU_VERSION}"))
            .header("Ocp-Apim-Subscription-Key", &key)
            .json(&json!({
                "kind": "Conversation",
                "analysisInput": { "conversationItem": { "id": "1", "participantId": "1", "text": "has my delivery left the shop" } },
                "parameters": { "projectName": "e2e-orders", "deploymentName": "live" },
            }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["prediction"]["topIntent"], "Track", "{body}");
    send(reqwest::Method::DELETE, CLU, None);
}
