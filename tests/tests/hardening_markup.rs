//! Hostile markup on the translation routes, against the real binary: thousands of unclosed
//! `<code>` tags, deep nesting, many dynamic-dictionary entries and a glossary of 10,000 terms.
//! Each request must end fast (a 4xx or a correct translation), be charged every character of
//! its input (markup included, as Azure counts), and leave the server answering other keys.
//!
//! Before the fix, 8,000 unclosed `<code>` tags took about 23 s of an HTTP worker in a debug
//! build (20,000 on the LibreTranslate route: 200 s) and were charged 0 characters.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Server, shared, status_json};
use serde_json::{Value, json};

const KEY: &str = "Ocp-Apim-Subscription-Key";
/// A refusal must come this fast (a debug build, on a busy machine).
const REFUSAL: Duration = Duration::from_secs(5);
/// A translation of up to 50,000 characters (mostly markup) must come this fast.
const TRANSLATION: Duration = Duration::from_secs(20);

/// `POST /translate` (Azure) from English to `to`, HTML; (status, body, X-metered-usage, time).
fn azure(server: &Server, key: &str, to: &str, html: &str) -> (u16, Value, Option<u64>, Duration) {
    let started = Instant::now();
    let r = server
        .post(&format!("/translate?api-version=3.0&from=en&{to}&textType=html"))
        .header(KEY, key)
        .json(&json!([{ "Text": html }]))
        .send()
        .unwrap();
    let metered = r.headers().get("x-metered-usage").and_then(|v| v.to_str().ok()?.parse().ok());
    let (status, body) = status_json(r);
    (status, body, metered, started.elapsed())
}

/// `POST /libretranslate/translate` from English into Spanish, HTML; (status, body, time).
fn libre(server: &Server, key: &str, html: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let r = server
        .post("/libretranslate/translate")
        .json(&json!({ "q": html, "source": "en", "target": "es", "format": "html", "api_key": key }))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    (status, body, started.elapsed())
}

/// The characters and requests charged to a key's translation service (all hours).
fn charged(server: &Server, id: &str) -> (u64, u64) {
    let r = server.get(&format!("/admin/keys/{id}/usage")).header(KEY, ADMIN_KEY).send().unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{body}");
    body["usage"].as_array().unwrap().iter().filter(|row| row["service"] == "translation").fold((0, 0), |acc, row| {
        (acc.0 + row["characters"].as_u64().unwrap(), acc.1 + row["requests"].as_u64().unwrap())
    })
}

/// A normal request from another key is answered, and quickly.
fn another_key_is_served(server: &Server) {
    let (key, _) = server.create_key(json!({ "name": "hardening-markup-bystander" }));
    let (status, body, metered, took) = azure(server, &key, "to=es", "<p>The red car.</p>");
    assert_eq!(status, 200, "{body}");
    assert!(body[0]["translations"][0]["text"].as_str().unwrap().contains("coche"), "{body}");
    assert_eq!(metered, Some(19));
    assert!(took < REFUSAL, "a normal request took {took:?}");
}

/// The start of a long answer, for failure messages.
fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

fn translated(body: &Value) -> &str {
    body[0]["translations"][0]["text"].as_str().unwrap_or_else(|| panic!("no translation in {body}"))
}

#[test]
fn twenty_thousand_unclosed_code_tags_are_refused_fast_and_not_charged() {
    // 120,000 characters: over the 50,000 a request may hold on both routes, markup included.
    // Refused when the body is read, before any charge or parsing.
    let server = shared();
    let (key, id) = server.create_key(json!({ "name": "hardening-markup-20k" }));
    let hostile = "<code>".repeat(20_000);
    let (status, body, _, took) = azure(server, &key, "to=es", &hostile);
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(400050)), "{body}");
    assert!(took < REFUSAL, "took {took:?}");
    let (status, body, took) = libre(server, &key, &hostile);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("120000"), "{body}");
    assert!(took < REFUSAL, "took {took:?}");
    assert_eq!(charged(server, &id), (0, 0));
    another_key_is_served(server);
}

#[test]
fn thousands_of_unclosed_kept_elements_are_refused_fast_after_being_charged() {
    // 48,000 characters: within the size limit, so charged (every character, before the markup
    // is read); 8,000 unclosed elements are far over the 100 that may stay open: 400.
    let server = shared();
    let (key, id) = server.create_key(json!({ "name": "hardening-markup-8k" }));
    let cases = [
        "<code>".repeat(8_000),
        r#"<span translate="no">"#.repeat(2_000),
        r#"<b class="notranslate">"#.repeat(2_000),
        "<script><style><pre>".repeat(2_000),
    ];
    let mut expected = 0;
    for hostile in &cases {
        let chars = hostile.chars().count() as u64;
        let (status, body, _, took) = azure(server, &key, "to=es", hostile);
        assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(400000)), "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("without their end tag"), "{body}");
        assert!(took < REFUSAL, "took {took:?}");
        let (status, body, took) = libre(server, &key, hostile);
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().unwrap().contains("without their end tag"), "{body}");
        assert!(took < REFUSAL, "took {took:?}");
        expected += 2 * chars;
    }
    assert_eq!(charged(server, &id), (expected, 2 * cases.len() as u64));
    another_key_is_served(server);
}

#[test]
fn a_few_unclosed_elements_are_translated_around() {
    let server = shared();
    let (key, id) = server.create_key(json!({ "name": "hardening-markup-few" }));
    let html = format!("{}<p>The red car.</p>", "<code>".repeat(100));
    let (status, body, metered, took) = azure(server, &key, "to=es", &html);
    assert_eq!(status, 200, "{body}");
    assert!(translated(&body).starts_with(&"<code>".repeat(100)), "{body}");
    assert!(translated(&body).contains("coche"), "{body}");
    assert_eq!(metered, Some(html.len() as u64));
    assert!(took < TRANSLATION, "took {took:?}");
    let (status, body, took) = libre(server, &key, &html);
    assert_eq!(status, 200, "{body}");
    assert!(body["translatedText"].as_str().unwrap().contains("coche"), "{body}");
    assert!(took < TRANSLATION, "took {took:?}");
    assert_eq!(charged(server, &id), (2 * html.len() as u64, 2));
}

#[test]
fn deeply_nested_markup_is_translated_fast_and_charged_in_full() {
    let server = shared();
    let (key, id) = server.create_key(json!({ "name": "hardening-markup-deep" }));
    let mut expected = 0;
    // 3,000 nested <b>: the text inside is translated, the tags come back as they were.
    let bold = format!("{}The red car.{}", "<b>".repeat(3_000), "</b>".repeat(3_000));
    let chars = bold.chars().count() as u64;
    let (status, body, metered, took) = azure(server, &key, "to=es&to=ca", &bold);
    assert_eq!(status, 200, "{body}");
    for target in 0..2 {
        let out = body[0]["translations"][target]["text"].as_str().unwrap();
        assert!(out.starts_with(&"<b>".repeat(3_000)) && out.ends_with(&"</b>".repeat(3_000)), "{}", short(out));
    }
    assert!(translated(&body).contains("coche"), "{}", short(&body.to_string()));
    // Azure counts every character, markup included, once per target language.
    assert_eq!(metered, Some(2 * chars));
    assert!(took < TRANSLATION, "took {took:?}");
    expected += 2 * chars;
    let (status, body, took) = libre(server, &key, &bold);
    assert_eq!(status, 200, "{}", short(&body.to_string()));
    assert!(body["translatedText"].as_str().unwrap().contains("coche"), "{}", short(&body.to_string()));
    assert!(took < TRANSLATION, "took {took:?}");
    expected += chars;
    // 3,000 nested <code> elements, all closed: one element kept whole, nothing to translate.
    let code = format!("{}The red car.{}", "<code>".repeat(3_000), "</code>".repeat(3_000));
    let chars = code.chars().count() as u64;
    let (status, body, metered, took) = azure(server, &key, "to=es", &code);
    assert_eq!(status, 200, "{}", short(&body.to_string()));
    assert_eq!(translated(&body), code);
    assert_eq!(metered, Some(chars));
    assert!(took < TRANSLATION, "took {took:?}");
    expected += chars;
    let (status, body, took) = libre(server, &key, &code);
    assert_eq!(status, 200, "{}", short(&body.to_string()));
    assert_eq!(body["translatedText"], code);
    assert!(took < TRANSLATION, "took {took:?}");
    expected += chars;
    assert_eq!(charged(server, &id), (expected, 4));
    another_key_is_served(server);
}

#[test]
fn dynamic_dictionary_markup_is_charged_and_fast() {
    let server = shared();
    let (key, id) = server.create_key(json!({ "name": "hardening-markup-dictionary" }));
    // 1,300 unclosed entries (plain text), then 700 closed ones.
    let unclosed = r#"<mstrans:dictionary translation="x">"#.repeat(1_300);
    let closed = r#"<mstrans:dictionary translation="coche">car</mstrans:dictionary> "#.repeat(700);
    let mut expected = 0;
    for text in [&unclosed, &closed] {
        let started = Instant::now();
        let r = server
            .post("/translate?api-version=3.0&from=en&to=es")
            .header(KEY, &key)
            .json(&json!([{ "Text": text }]))
            .send()
            .unwrap();
        let metered = r.headers()["x-metered-usage"].to_str().unwrap().parse::<u64>().unwrap();
        let (status, body) = status_json(r);
        assert_eq!(status, 200, "{}", short(&body.to_string()));
        assert_eq!(metered, text.chars().count() as u64);
        assert!(started.elapsed() < TRANSLATION, "took {:?}", started.elapsed());
        expected += metered;
    }
    assert_eq!(charged(server, &id), (expected, 2));
}

#[test]
fn a_glossary_of_ten_thousand_terms_applies_fast_to_a_long_text() {
    // A regex alternation of 10,000 terms fell back to simulating every term at every position
    // of a non-ASCII text: seconds per request on an HTTP worker.
    let server = shared();
    let (key, id) = server.create_key(json!({ "name": "hardening-markup-glossary" }));
    let mut csv = String::from("source,target\n");
    for i in 0..10_000 {
        csv.push_str(&format!("{i:05}{},palabra{i}\n", "ä".repeat(15)));
    }
    let started = Instant::now();
    let r = server
        .request(reqwest::Method::PUT, "/translator/glossaries/hardening-markup-many?from=en&to=es")
        .header(KEY, &key)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .unwrap();
    assert!(r.status() == 201 || r.status() == 200, "{}", r.text().unwrap());
    assert!(started.elapsed() < TRANSLATION, "took {:?}", started.elapsed());
    let text = format!("{} 00042{}.", "wörd ".repeat(9_000), "ä".repeat(15));
    let started = Instant::now();
    let r = server
        .post("/translate?api-version=3.0&from=en&to=es&category=hardening-markup-many")
        .header(KEY, &key)
        .json(&json!([{ "Text": text }]))
        .send()
        .unwrap();
    let (status, body) = status_json(r);
    assert_eq!(status, 200, "{}", short(&body.to_string()));
    assert!(translated(&body).ends_with("palabra42."), "{}", short(translated(&body)));
    assert!(started.elapsed() < TRANSLATION, "took {:?}", started.elapsed());
    assert_eq!(charged(server, &id), (text.chars().count() as u64, 1));
    another_key_is_served(server);
}
