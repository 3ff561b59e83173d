//! Building and running the server: state, routes, start-up and graceful shutdown.

use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use cogway_language::{LanguageConfig, LanguageService};
use cogway_speech::{SpeechConfig, SpeechService};
use cogway_translation::{TranslationConfig, TranslationService};
use cogway_vision::{VisionConfig, VisionService};
use tokio::sync::Semaphore;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::Tokens;
use crate::db::{self, Db};
use crate::errors::not_found;
use crate::keys::{self, KeyStore, NewKey};
use crate::limits::{RateLimits, Usage};
use crate::metrics::Metrics;
use crate::middleware::observe;
use crate::openapi::ApiDoc;
use crate::routes;
use crate::settings::Settings;

/// The services a key can be scoped to.
/// The names of every service (keys list some of them, or `*`).
pub const SERVICES: [&str; 5] = [
    crate::service::Service::Decision.as_str(),
    crate::service::Service::Language.as_str(),
    crate::service::Service::Speech.as_str(),
    crate::service::Service::Translation.as_str(),
    crate::service::Service::Vision.as_str(),
];

/// How often usage counts are written to the database.
const USAGE_FLUSH_EVERY: Duration = Duration::from_secs(5);

pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub keys: KeyStore,
    pub tokens: Tokens,
    pub rate_limits: RateLimits,
    pub usage: Usage,
    pub metrics: Metrics,
    /// Permits for requests doing model work (load shedding).
    pub inflight: Arc<Semaphore>,
    /// Each key's share of the in-flight permits (`limits.max_inflight_per_key`), by key id.
    pub key_inflight: dashmap::DashMap<String, Arc<Semaphore>>,
    /// Set once the Language models have loaded (they load in the background after start).
    pub language: Arc<OnceLock<Arc<LanguageService>>>,
    /// Set once the Speech models have loaded.
    pub speech: Arc<OnceLock<Arc<SpeechService>>>,
    /// Set once the Translation engines have loaded.
    pub translation: Arc<OnceLock<Arc<TranslationService>>>,
    /// Set once the Vision models have loaded.
    pub vision: Arc<OnceLock<Arc<VisionService>>>,
    /// Image decodes and Read operations at once (memory bounds of the Vision routes).
    pub vision_gate: routes::vision::gate::VisionGate,
    /// Live speech sessions (WebSockets) held at once, on the server and per key.
    pub streams: routes::speech::live::slots::StreamSlots,
    /// Compiled glossaries by (owner, name) (filled from the database on first use).
    pub glossaries: routes::translator::glossaries::GlossaryCache,
    /// Asynchronous jobs of every kind, claimed with leases (several replicas share them).
    pub jobs: crate::jobs::JobRunner,
    /// Where job inputs wait (the database, or a shared directory).
    pub blobs: crate::blobs::BlobStore,
    /// Personalizer's learning loops, parsed (by key id).
    pub personalizer: routes::decision::personalizer::Loops,
}

/// All routes; also used by in-process route tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/livez", web::get().to(routes::system::livez))
        .route("/ready", web::get().to(routes::system::ready))
        .route("/status", web::get().to(routes::system::status))
        .route("/metrics", web::get().to(routes::system::metrics))
        .route("/sts/v1.0/issueToken", web::post().to(routes::sts::issue_token))
        .route("/sts/v1.0/issuetoken", web::post().to(routes::sts::issue_token))
        .configure(routes::admin::configure)
        .configure(routes::decision::configure)
        .configure(routes::language::configure)
        .configure(routes::speech::configure)
        .configure(routes::translator::configure)
        .configure(routes::vision::configure)
        .service(web::redirect("/swagger", "/swagger/"))
        .service(SwaggerUi::new("/swagger/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
        .default_service(web::to(not_found));
}

impl AppState {
    /// How much one key may have waiting in the jobs table.
    pub fn backlog(&self) -> crate::jobs::Backlog {
        crate::jobs::Backlog {
            max_jobs: self.settings.limits.max_pending_jobs_per_key,
            max_bytes: self.settings.limits.max_pending_job_bytes_per_key,
        }
    }
}

/// Every kind of job and the route family that runs it.
fn job_handlers() -> Vec<Arc<dyn crate::jobs::JobHandler>> {
    vec![
        Arc::new(routes::language::jobs::AnalyzeTextJobs),
        Arc::new(routes::speech::batch::TranscriptionJobs),
        Arc::new(routes::vision::read::ReadJobs),
        Arc::new(routes::vision::document::DocumentJobs),
    ]
}

/// `cluster.replica_id`, else the host name and process id (unique among live replicas).
fn replica_id(settings: &Settings) -> String {
    if let Some(id) = settings.cluster.replica_id.as_deref().filter(|id| !id.is_empty()) {
        return id.to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "cogway".into());
    format!("{host}-{}", std::process::id())
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Opens the database, makes sure an admin key exists, starts loading models in the
    /// background and binds the listener (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = db::connect_sized(&settings.database.url, db::PoolSize(settings.database.max_connections)).await?;
        let replica = replica_id(&settings);
        tracing::info!(replica = %replica, database = db::engine(&db).name(), "connected to the database");
        let blobs = crate::blobs::BlobStore::new(&settings.blobs, &db).await?;
        let jobs = crate::jobs::JobRunner::new(&settings, &replica, job_handlers());
        let shared = match settings.redis.url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => {
                let shared = crate::shared::Shared::connect(url, &settings.redis.prefix).await?;
                tracing::info!(redis = %db::redact(url), "rate limits, quotas and the key cache are shared through redis");
                Some(shared)
            }
            None => None,
        };
        let keys = KeyStore::new(db.clone()).with_shared(shared.clone());
        bootstrap_admin(&keys, &settings).await?;
        let secret_file = settings.secret_file();
        let secret = keys::jwt_secret(&db, settings.auth.jwt_secret.as_deref(), secret_file.as_deref()).await?;
        let state = web::Data::new(AppState {
            tokens: Tokens::new(&secret, settings.auth.token_ttl_secs),
            rate_limits: RateLimits::new(settings.limits.default_rps, shared.clone()),
            usage: Usage::new(db.clone(), shared.clone()),
            metrics: Metrics::new().context("metrics registry")?,
            inflight: Arc::new(Semaphore::new(settings.server.max_inflight)),
            key_inflight: dashmap::DashMap::new(),
            language: Arc::new(OnceLock::new()),
            speech: Arc::new(OnceLock::new()),
            translation: Arc::new(OnceLock::new()),
            vision: Arc::new(OnceLock::new()),
            vision_gate: routes::vision::gate::VisionGate::new(&settings.vision),
            streams: routes::speech::live::slots::StreamSlots::new(
                settings.speech.max_streams,
                settings.speech.max_streams_per_key,
            ),
            glossaries: Default::default(),
            personalizer: Default::default(),
            jobs,
            blobs,
            keys,
            db,
            settings,
        });
        if state.settings.services.language {
            load_language(&state);
        }
        if state.settings.services.speech {
            load_speech(&state);
        }
        if state.settings.services.translation {
            load_translation(&state);
        }
        if state.settings.services.vision {
            load_vision(&state);
        }
        actix_web::rt::spawn(crate::jobs::JobRunner::start(state.clone().into_inner()));
        actix_web::rt::spawn(routes::decision::personalizer::learner::run(state.clone().into_inner()));
        if let Some(shared) = shared {
            let (revoked, reconnected) = (state.clone(), state.clone());
            tokio::spawn(
                shared.watch_revocations(move |id| revoked.keys.forget(id), move || reconnected.keys.forget_all()),
            );
        }

        let listener = TcpListener::bind((state.settings.server.host.as_str(), state.settings.server.port))
            .with_context(|| format!("binding {}:{}", state.settings.server.host, state.settings.server.port))?;
        let port = listener.local_addr()?.port();
        let data = state.clone();
        let mut server =
            HttpServer::new(move || App::new().app_data(data.clone()).wrap(from_fn(observe)).configure(configure))
                .listen(listener)?
                .shutdown_timeout(state.settings.server.shutdown_timeout_secs);
        if state.settings.server.workers > 0 {
            server = server.workers(state.settings.server.workers);
        }
        Ok(Self { port, server: server.run(), state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM (or standard input closing, when configured); in-flight
    /// requests finish first, then pending usage is written.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        if self.state.settings.server.exit_on_stdin_close {
            stop_when_stdin_closes(handle.clone());
        }
        let usage_state = self.state.clone();
        let flusher = tokio::spawn(async move {
            let mut every = tokio::time::interval(USAGE_FLUSH_EVERY);
            loop {
                every.tick().await;
                usage_state.usage.flush().await;
            }
        });
        tracing::info!(port = self.port, "cogway listening");
        // A machine-readable line for scripts and test harnesses that start the server on port 0.
        println!("cogway listening on port {}", self.port);
        let result = self.server.await;
        flusher.abort();
        self.state.usage.flush().await;
        tracing::info!("cogway stopped");
        result
    }
}

/// Loads the Language models on a background thread; `/ready` turns 200 when done.
fn load_language(state: &web::Data<AppState>) {
    let m = &state.settings.models;
    let config = LanguageConfig {
        models_dir: m.dir.clone(),
        onnxruntime: m.onnxruntime_path(),
        threads: m.threads,
        queue_capacity: m.queue_capacity,
        max_batch: m.max_batch,
        preload_detector: m.preload,
    };
    let slot = state.language.clone();
    let spawned = std::thread::Builder::new().name("load-language".into()).spawn(move || {
        let started = std::time::Instant::now();
        let service = LanguageService::load(&config);
        let _ = slot.set(service);
        tracing::info!(seconds = started.elapsed().as_secs_f32(), "language models loaded");
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the model loader");
    }
}

/// Loads the Speech models on a background thread.
fn load_speech(state: &web::Data<AppState>) {
    let m = &state.settings.models;
    let s = &state.settings.speech;
    let config = SpeechConfig {
        models_dir: m.dir.clone(),
        onnxruntime: m.onnxruntime_path(),
        threads: m.threads,
        queue_capacity: s.queue_capacity,
        default_model: s.default_model.clone(),
        beam_size: s.beam_size,
        flash_attention: s.flash_attention,
        max_chunk_secs: s.max_chunk_secs,
        adaptive_audio_context: s.adaptive_audio_context,
        onnx_whisper: s.onnx_whisper,
        espeak_program: s.espeak_program.clone(),
        max_streams: s.max_streams,
    };
    let slot = state.speech.clone();
    let spawned = std::thread::Builder::new().name("load-speech".into()).spawn(move || {
        let started = std::time::Instant::now();
        let service = SpeechService::load(&config);
        let _ = slot.set(service);
        tracing::info!(seconds = started.elapsed().as_secs_f32(), "speech models loaded");
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the speech model loader");
    }
}

/// Loads the Translation engines (finds the Apertium pairs, loads the neural models) in the
/// background.
fn load_translation(state: &web::Data<AppState>) {
    let m = &state.settings.models;
    let t = &state.settings.translation;
    let config = TranslationConfig {
        apertium_modes: t.apertium_modes.clone(),
        pipelines_per_direction: t.pipelines_per_direction,
        queue_capacity: t.queue_capacity,
        model_dirs: t.model_dirs(&m.dir),
        unpack_dir: t.unpack_dir(&m.dir),
        user_models_dir: t.user_models_dir(&m.dir),
        beam_size: t.beam_size,
        threads: m.threads,
        max_batch_sentences: t.max_batch_sentences,
        preload: t.preload_pairs(),
    };
    let slot = state.translation.clone();
    let spawned = std::thread::Builder::new().name("load-translation".into()).spawn(move || {
        let started = std::time::Instant::now();
        let service = TranslationService::load(config);
        let _ = slot.set(Arc::new(service));
        tracing::info!(seconds = started.elapsed().as_secs_f32(), "translation engines loaded");
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the translation loader");
    }
}

/// Loads the Vision models in the background.
fn load_vision(state: &web::Data<AppState>) {
    let m = &state.settings.models;
    let v = &state.settings.vision;
    let config = VisionConfig {
        models_dir: m.dir.clone(),
        onnxruntime: m.onnxruntime_path(),
        threads: m.threads,
        queue_capacity: v.queue_capacity,
        max_batch: v.max_batch,
        ocr: cogway_vision::ocr::OcrOptions {
            min_side: v.ocr_min_side,
            max_side: v.ocr_max_side,
            ..Default::default()
        },
    };
    let slot = state.vision.clone();
    let spawned = std::thread::Builder::new().name("load-vision".into()).spawn(move || {
        let started = std::time::Instant::now();
        let service = VisionService::load(&config);
        let _ = slot.set(service);
        tracing::info!(seconds = started.elapsed().as_secs_f32(), "vision models loaded");
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the vision model loader");
    }
}

fn stop_when_stdin_closes(handle: ServerHandle) {
    let spawned = std::thread::Builder::new().name("stdin-watch".into()).spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        tracing::info!("standard input closed: stopping");
        // `stop` sends a command when polled; drive it from a small runtime of this thread.
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() {
            rt.block_on(handle.stop(true));
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot watch standard input");
    }
}

/// Makes sure an admin key exists: the configured one, or on a first start a new one printed once.
async fn bootstrap_admin(keys: &KeyStore, settings: &Settings) -> anyhow::Result<()> {
    let admin = NewKey { name: "admin".into(), services: vec!["*".into()], is_admin: true, ..NewKey::default() };
    if let Some(key) = &settings.auth.admin_key {
        keys.ensure(key, &admin).await?;
    } else if keys.count().await? == 0 {
        let (key, _) = keys.create(&admin).await?;
        println!("Admin key (shown once; keep it safe): {key}");
    }
    Ok(())
}
