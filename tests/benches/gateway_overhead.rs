//! Gateway overhead: the same model calls through the full gateway (auth, rate limits, quotas,
//! metrics, Azure shapes) and through a bare actix handler in this process that calls the
//! Language service directly, under the same concurrent load on loopback.
//!
//! Run: `make bench` (or `COGWAY_BIN=.../release/cogway cargo bench -p cogway-tests`).
//! Prints requests/s and p50/p99 latency per target, and the gateway/bare ratios.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use cogway_language::{LanguageConfig, LanguageService};
use serde_json::{Value, json};

#[path = "../tests/common/mod.rs"]
mod common;

const CONCURRENCY: usize = 16;
const DURATION: Duration = Duration::from_secs(10);
const WARMUP: Duration = Duration::from_secs(2);

struct Stats {
    requests: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `CONCURRENCY` clients post `body` to `url` back to back for `DURATION`.
async fn load(client: &reqwest::Client, url: &str, headers: &[(&str, String)], body: &Value) -> Stats {
    let run = |duration: Duration| {
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let client = client.clone();
                let url = url.to_string();
                let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
                let body = body.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let end = Instant::now() + duration;
                    while Instant::now() < end {
                        let started = Instant::now();
                        let mut req = client.post(&url).json(&body);
                        for (k, v) in &headers {
                            req = req.header(k, v);
                        }
                        let r = req.send().await.unwrap();
                        assert!(r.status().is_success(), "{} from {url}: {}", r.status(), r.text().await.unwrap());
                        r.bytes().await.unwrap();
                        latencies.push(started.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        async move {
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        }
    };
    run(WARMUP).await;
    let started = Instant::now();
    let mut latencies = run(DURATION).await;
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    Stats { requests: latencies.len(), rps: latencies.len() as f64 / elapsed, p50_ms: pct(0.50), p99_ms: pct(0.99) }
}

/// The bare baseline: parse the same JSON, call the same service method, answer JSON. No auth,
/// no limits, no metrics, no Azure error handling.
async fn bare_detect(service: web::Data<Arc<LanguageService>>, body: web::Json<Value>) -> HttpResponse {
    let docs = body["analysisInput"]["documents"].as_array().cloned().unwrap_or_default();
    let results: Vec<Value> = docs
        .iter()
        .map(|d| {
            let found = service.detect_language(d["text"].as_str().unwrap_or(""), None);
            json!({ "id": d["id"], "detectedLanguage": { "name": found.name, "iso6391Name": found.iso6391_name,
                    "confidenceScore": found.confidence }, "warnings": [] })
        })
        .collect();
    HttpResponse::Ok()
        .json(json!({ "kind": "LanguageDetectionResults", "results": { "documents": results, "errors": [] } }))
}

async fn bare_embed(service: web::Data<Arc<LanguageService>>, body: web::Json<Value>) -> HttpResponse {
    let texts: Vec<String> = body["input"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let vectors = service.embed(texts).await.unwrap();
    let data: Vec<Value> =
        vectors.iter().enumerate().map(|(i, v)| json!({ "object": "embedding", "index": i, "embedding": v })).collect();
    HttpResponse::Ok().json(json!({ "object": "list", "data": data }))
}

fn models_dir() -> PathBuf {
    std::env::var_os("COGWAY_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("COGWAY_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/cogway"));
        cache.join("models")
    })
}

fn print(name: &str, s: &Stats) {
    println!(
        "{name:<34} {:>8} req {:>9.1} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        s.requests, s.rps, s.p50_ms, s.p99_ms
    );
}

fn main() {
    // Both sides use the same model settings: the machine's cores for ONNX Runtime, batches of 16.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let dir = models_dir();
    let config = LanguageConfig {
        onnxruntime: dir.join("onnxruntime/libonnxruntime.so"),
        models_dir: dir,
        threads,
        queue_capacity: 64,
        max_batch: 16,
        preload_detector: true,
    };

    let gateway = common::Server::start_with(
        common::fresh_db_path(),
        &[("COGWAY__SERVER__WORKERS", "2"), ("COGWAY__LIMITS__DEFAULT_RPS", "1000000")],
    );
    let (key, _) = gateway.create_key(json!({ "name": "bench", "rps": 1_000_000 }));

    // The bare server runs on its own actix system thread, as the gateway runs in its own process.
    let service = LanguageService::load(&config);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let data = web::Data::new(service);
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .route("/detect", web::post().to(bare_detect))
                    .route("/embed", web::post().to(bare_embed))
            })
            .workers(2)
            .bind(("127.0.0.1", 0))
            .unwrap();
            let port = server.addrs()[0].port();
            let server = server.run();
            tx.send((port, server.handle())).unwrap();
            server.await.unwrap();
        });
    });
    let (bare_port, bare_handle) = rx.recv().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(CONCURRENCY).build().unwrap();
        let detect_body = json!({ "kind": "LanguageDetection", "analysisInput": { "documents": [
            { "id": "1", "text": "Bonjour tout le monde, je voudrais réserver une table pour ce soir, s'il vous plaît." }
        ] } });
        let embed_body = json!({ "input": ["A man is playing a guitar on the stage tonight.", "Someone strums a guitar."] });
        let auth = [("Ocp-Apim-Subscription-Key", key)];

        println!(
            "cogway gateway overhead: {CONCURRENCY} concurrent clients, {}s per run after {}s warm-up, loopback, {threads} cores",
            DURATION.as_secs(),
            WARMUP.as_secs()
        );
        let gw_detect =
            load(&client, &gateway.url("/language/:analyze-text?api-version=2023-04-01"), &auth, &detect_body).await;
        print("LanguageDetection via gateway", &gw_detect);
        let bare_detect = load(&client, &format!("http://127.0.0.1:{bare_port}/detect"), &[], &detect_body).await;
        print("LanguageDetection via bare actix", &bare_detect);
        let gw_embed = load(&client, &gateway.url("/v1/embeddings"), &auth, &embed_body).await;
        print("embeddings (2 texts) via gateway", &gw_embed);
        let bare_embed = load(&client, &format!("http://127.0.0.1:{bare_port}/embed"), &[], &embed_body).await;
        print("embeddings (2 texts) via bare actix", &bare_embed);

        println!();
        println!("gateway / bare ratios:");
        println!(
            "  LanguageDetection: {:.3} x throughput, {:.3} x p50, {:.3} x p99",
            gw_detect.rps / bare_detect.rps,
            gw_detect.p50_ms / bare_detect.p50_ms,
            gw_detect.p99_ms / bare_detect.p99_ms
        );
        println!(
            "  embeddings:        {:.3} x throughput, {:.3} x p50, {:.3} x p99",
            gw_embed.rps / bare_embed.rps,
            gw_embed.p50_ms / bare_embed.p50_ms,
            gw_embed.p99_ms / bare_embed.p99_ms
        );
        bare_handle.stop(true).await;
    });
    gateway.stop();
}
