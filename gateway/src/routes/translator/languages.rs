//! `GET /languages`: what this server translates, transliterates and looks up (no key needed,
//! as on Azure), with an ETag.
//!
//! Azure's shape lists languages; Cogway adds to each translation language the targets it really
//! reaches from it (`directTargets`, and `pivotTargets` through one intermediate language), so
//! the list never promises a pair that fails.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::header::{ETAG, IF_NONE_MATCH};
use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_translation::{languages, transliterate};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{codes, error, query, translation_service};
use crate::app::AppState;
use crate::errors::ApiResult;
use crate::routes::query::query_param;

fn describe(code: &str) -> Value {
    match languages::find(code) {
        Some(l) => json!({ "name": l.name, "nativeName": l.native_name, "dir": if l.rtl { "rtl" } else { "ltr" } }),
        None => json!({ "name": code, "nativeName": code, "dir": "ltr" }),
    }
}

/// Languages by scope.
#[utoipa::path(get, path = "/languages", tag = "Translator",
    params(("api-version" = String, Query, description = "3.0"),
           ("scope" = Option<String>, Query, description = "translation,transliteration,dictionary (default: all)")),
    responses((status = 200, description = "{translation, transliteration, dictionary}; ETag"), (status = 304)))]
pub async fn languages(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let pairs = query(&req);
    super::check_api_version(&pairs)?;
    let scopes: Vec<String> = query_param(&pairs, "scope")
        .unwrap_or("translation,transliteration,dictionary")
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = scopes.iter().find(|s| !["translation", "transliteration", "dictionary"].contains(&s.as_str())) {
        return Err(error(
            Code::InvalidParameterValue,
            codes::BAD_PARAMETER,
            format!("The scope {bad:?} is not valid; use translation, transliteration or dictionary."),
        ));
    }
    let service = translation_service(&state)?;
    let mut body = Map::new();
    if scopes.iter().any(|s| s == "translation") {
        let mut targets: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for ((from, to), direct) in service.pairs() {
            let entry = targets.entry(from.clone()).or_default();
            if direct {
                entry.0.insert(to.clone())
            } else {
                entry.1.insert(to.clone())
            };
            targets.entry(to).or_default();
        }
        let mut translation = Map::new();
        for (code, (direct, pivot)) in targets {
            let mut entry = describe(&code);
            entry["directTargets"] = json!(direct);
            entry["pivotTargets"] = json!(pivot);
            translation.insert(code, entry);
        }
        body.insert("translation".into(), Value::Object(translation));
    }
    if scopes.iter().any(|s| s == "transliteration") {
        let mut transliteration = Map::new();
        for (script, script_name, langs) in transliterate::FROM_SCRIPTS {
            for code in langs.split(',') {
                let Some(lang) = languages::find(code) else { continue };
                let entry = transliteration
                    .entry(lang.code.to_string())
                    .or_insert_with(|| json!({ "name": lang.name, "nativeName": lang.native_name, "scripts": [] }));
                if let Some(scripts) = entry["scripts"].as_array_mut() {
                    scripts.push(json!({
                        "code": script, "name": script_name, "nativeName": script_name,
                        "dir": if lang.rtl { "rtl" } else { "ltr" },
                        "toScripts": [{ "code": "Latn", "name": "Latin", "nativeName": "Latin", "dir": "ltr" }],
                    }));
                }
            }
        }
        body.insert("transliteration".into(), Value::Object(transliteration));
    }
    if scopes.iter().any(|s| s == "dictionary") {
        let mut dictionary: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (from, to) in service.dictionary_pairs() {
            let mut target = describe(&to);
            target["code"] = json!(to);
            dictionary.entry(from).or_default().push(target);
        }
        let dictionary: Map<String, Value> = dictionary
            .into_iter()
            .map(|(from, translations)| {
                let mut entry = describe(&from);
                entry["translations"] = json!(translations);
                (from, entry)
            })
            .collect();
        body.insert("dictionary".into(), Value::Object(dictionary));
    }
    let body = Value::Object(body);
    let bytes = serde_json::to_vec(&body).map_err(|e| crate::errors::ApiError::new(Code::Internal, e.to_string()))?;
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    if req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok(HttpResponse::NotModified().insert_header((ETAG, etag)).finish());
    }
    Ok(HttpResponse::Ok().insert_header((ETAG, etag)).content_type("application/json; charset=utf-8").body(bytes))
}
