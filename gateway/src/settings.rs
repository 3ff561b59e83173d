//! One `Settings` for the whole gateway: built-in defaults, then a TOML file, then
//! `COGWAY__SECTION__KEY` environment variables, then a few command-line flags.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub models: ModelSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub services: ServicesSettings,
    pub speech: SpeechSettings,
    pub translation: TranslationSettings,
    pub vision: VisionSettings,
    pub log: LogSettings,
    pub redis: RedisSettings,
    pub cluster: ClusterSettings,
    pub jobs: JobSettings,
    pub blobs: BlobSettings,
}

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct ServerSettings {
    pub host: String,
    /// 5000, as Azure's containers. 0 picks a free port (tests).
    pub port: u16,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Requests doing model work at once across the server; more get 503 + Retry-After.
    pub max_inflight: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Exit when standard input closes (set by test harnesses so no server outlives its test).
    pub exit_on_stdin_close: bool,
    /// Seconds a request gets to send its whole body (actix itself only times the head); a slower
    /// upload gets 408 and frees its in-flight permit.
    pub body_timeout_secs: u64,
}

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (created if missing), `sqlite::memory:`, or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` (several replicas on one database).
    pub url: String,
    /// Connections each replica keeps open.
    pub max_connections: u32,
}

/// Redis, for what replicas must share at once: rate limits, hourly quotas, the key cache and
/// key revocations. Without it (the default) they live in each process.
#[derive(Clone, Serialize, Deserialize, Debug, Default)]
#[serde(default)]
pub struct RedisSettings {
    /// `redis://HOST:PORT/DB` (or `rediss://` for TLS); empty: in-process.
    pub url: Option<String>,
    /// Prefix of every Redis key Cogway writes (several deployments may share one Redis).
    pub prefix: String,
}

#[derive(Clone, Serialize, Deserialize, Debug, Default)]
#[serde(default)]
pub struct ClusterSettings {
    /// This replica's name in job leases and logs (default: host name and process id).
    pub replica_id: Option<String>,
}

/// The job runner (analyze-text jobs, transcriptions, Read operations).
#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct JobSettings {
    /// Seconds a replica holds a job without renewing its lease (renewed every third of it);
    /// a dead replica's jobs are taken over after this long.
    pub lease_secs: u64,
    /// Milliseconds between looks for jobs other replicas stored (this replica's own submissions
    /// wake it at once).
    pub poll_ms: u64,
    /// Claims of one job before it is given up (a job that kills its runner is not retried forever).
    pub max_attempts: u32,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self { lease_secs: 30, poll_ms: 1000, max_attempts: 3 }
    }
}

#[derive(Clone, Copy, Serialize, Deserialize, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    /// The `blobs` table of the database.
    #[default]
    Database,
    /// Files under `blobs.dir` (a volume every replica mounts).
    Directory,
    /// An S3-compatible bucket (`blobs.s3`): AWS S3, MinIO, SeaweedFS, Ceph RGW.
    S3,
}

/// Where job inputs (uploaded audio, Read images) wait until their job is done.
#[derive(Clone, Serialize, Deserialize, Debug, Default)]
#[serde(default)]
pub struct BlobSettings {
    pub backend: BlobBackend,
    pub dir: Option<PathBuf>,
    pub s3: S3Settings,
}

/// The bucket of `blobs.backend = "s3"`. The bucket must exist; the keys are required (no
/// instance-metadata lookup). The secret is best given as `COGWAY__BLOBS__S3__SECRET_ACCESS_KEY`.
#[derive(Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct S3Settings {
    /// `http(s)://host:port` of an S3-compatible server; AWS S3 when absent.
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    /// `us-east-1` when absent (what MinIO expects unless set otherwise).
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// A key prefix inside the bucket (`cogway` by default), so that a bucket can be shared.
    pub prefix: Option<String>,
    /// How long one request (a whole upload or download) and its retries may take, in seconds
    /// (300 by default: a 300 MB upload at 1 MB/s).
    pub timeout_secs: Option<u64>,
}

impl std::fmt::Debug for S3Settings {
    /// Never prints the secret (settings are logged at start-up).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("prefix", &self.prefix)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct ModelSettings {
    /// Where `models/fetch.py` puts models.
    pub dir: PathBuf,
    /// The ONNX Runtime shared library (default: `<dir>/onnxruntime/libonnxruntime.so`).
    pub onnxruntime: Option<PathBuf>,
    /// Threads each model may use.
    pub threads: usize,
    /// Requests a model worker queues before refusing with 503.
    pub queue_capacity: usize,
    /// Requests a model worker runs as one batch.
    pub max_batch: usize,
    /// Load every language-detection model at start instead of on first use.
    pub preload: bool,
}

#[derive(Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AuthSettings {
    /// An admin key to register at start (else one is generated on first start and printed once).
    pub admin_key: Option<String>,
    /// The HS256 secret for tokens (else a key derived from the server secret in `secret_file`).
    pub jwt_secret: Option<String>,
    /// Where the generated server secret is kept, mode 0600 (default: `cogway.secret` beside the
    /// database file; an in-memory database gets a secret that lives only in the process).
    pub secret_file: Option<PathBuf>,
    /// Token lifetime; Azure's is 10 minutes.
    pub token_ttl_secs: u64,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<redacted>"))
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("secret_file", &self.secret_file)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .finish()
    }
}

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct LimitSettings {
    /// Requests per second for keys created without `--rps`.
    pub default_rps: u32,
    /// Request body limit of the Language routes (Azure: 1 MB).
    pub language_max_body_bytes: usize,
    /// In-flight requests one key may hold at once (of `server.max_inflight`); more get 429.
    pub max_inflight_per_key: usize,
    /// Unfinished asynchronous jobs (analyze-text jobs, transcriptions, Read operations) one key
    /// may have queued or running; more get 429.
    pub max_pending_jobs_per_key: u32,
    /// Bytes of uploaded input (audio, images) one key's unfinished jobs may hold; more get 429.
    pub max_pending_job_bytes_per_key: u64,
    /// Stored customizations one (non-admin) key may have of each kind: glossaries, lexicons,
    /// custom speech models, classification projects, custom vision projects; more get 400.
    pub max_customizations_per_key: u32,
}

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct ServicesSettings {
    /// Anomaly Detector, Personalizer and Content Safety.
    pub decision: bool,
    pub language: bool,
    pub speech: bool,
    pub translation: bool,
    pub vision: bool,
}

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct SpeechSettings {
    /// The Whisper model of requests that name none (or `whisper-1`).
    pub default_model: String,
    /// Beam size of Whisper decoding; 1 is greedy (fastest).
    pub beam_size: usize,
    /// whisper.cpp flash attention (on this 2-core CPU it was slower: off by default).
    pub flash_attention: bool,
    /// Encode only the part of Whisper's 30 s window a clip shorter than 30 s fills
    /// (whisper.cpp `audio_ctx`): several times faster on short clips, at a small accuracy cost.
    pub adaptive_audio_context: bool,
    /// Decode audio of more than 10 s with Whisper on ONNX Runtime (the whisper-base-onnx
    /// model, same weights) when it is installed: about twice as fast as whisper.cpp on long
    /// audio. Requests with a temperature above 0 stay with whisper.cpp.
    pub onnx_whisper: bool,
    /// Longest stretch of speech the VAD reports as one region, in seconds.
    pub max_chunk_secs: f32,
    /// The eSpeak NG program (default: `espeak-ng` on PATH).
    pub espeak_program: Option<PathBuf>,
    /// Longest audio of the Azure short-audio route (Azure: 60 s).
    pub short_audio_max_secs: u32,
    /// Longest audio of the OpenAI transcription routes.
    pub openai_max_secs: u32,
    /// Request body limit of the short-audio and OpenAI routes (OpenAI: 25 MB).
    pub max_body_bytes: usize,
    /// Longest audio of a batch transcription.
    pub batch_max_secs: u32,
    /// Longest audio of a fast (synchronous) transcription (Azure: under 2 hours).
    pub fast_max_secs: u32,
    /// Upload limit of a batch transcription.
    pub batch_max_body_bytes: usize,
    /// Longest SSML / text to synthesize, in characters.
    pub tts_max_chars: usize,
    /// Batch transcriptions decoded at once.
    pub batch_concurrency: usize,
    /// Requests each speech worker queues before refusing with 503 (a recognition takes seconds).
    pub queue_capacity: usize,
    /// Live sessions (Speech SDK WebSockets, OpenAI Realtime) at once on this server; one more
    /// is refused with 503 + Retry-After. Their steps share one streaming worker per model.
    pub max_streams: usize,
    /// Live sessions one key may hold at once; one more is refused with 429.
    pub max_streams_per_key: usize,
    /// Longest audio one live connection may send, in seconds (then it is closed).
    pub stream_max_secs: u32,
    /// A live connection that sends nothing for this long is closed, in seconds.
    pub stream_idle_secs: u32,
    /// Audio a live session holds that is not final yet, in seconds: past this, the server
    /// stops reading the socket until recognition catches up (TCP backpressure), so a client
    /// that sends faster than real time cannot make it hold more.
    pub stream_max_buffer_secs: u32,
    /// New audio between two partial results of a live session, in milliseconds.
    pub partial_every_ms: u32,
    /// Silence that ends a phrase of a live session, in milliseconds (Azure: 500).
    pub segment_silence_ms: u32,
    /// Longest phrase of a live session, in seconds.
    pub max_phrase_secs: u32,
}

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct TranslationSettings {
    /// Apertium's mode files (Debian: `/usr/share/apertium/modes`).
    pub apertium_modes: PathBuf,
    /// Most Apertium pipelines a busy direction runs at once.
    pub pipelines_per_direction: usize,
    /// Directions whose pipeline starts with the server, e.g. `["en-es", "es-en"]`.
    pub preload: Vec<String>,
    /// Folders with Argos packages (`.argosmodel` or unpacked); empty: every `argos-*` folder of
    /// the models directory.
    pub model_dirs: Vec<PathBuf>,
    /// Where packages added through `PUT /translator/models/{name}` are kept (default:
    /// `<models dir>/argos-user`).
    pub user_models_dir: Option<PathBuf>,
    /// Where `.argosmodel` archives are unpacked (default: `<models dir>/.unpacked`).
    pub unpack_dir: Option<PathBuf>,
    /// Beam size of the neural engine (1: greedy, fastest).
    pub beam_size: usize,
    /// Sentences per CTranslate2 batch.
    pub max_batch_sentences: usize,
    /// Requests waiting per pipeline or model before 503.
    pub queue_capacity: usize,
    /// Request body limit of the Translator routes (Azure: 50,000 characters of text).
    pub max_body_bytes: usize,
}

impl TranslationSettings {
    pub fn model_dirs(&self, models_dir: &std::path::Path) -> Vec<PathBuf> {
        if !self.model_dirs.is_empty() {
            return self.model_dirs.clone();
        }
        let Ok(entries) = std::fs::read_dir(models_dir) else { return Vec::new() };
        // The user models folder is scanned by the service itself (it is always scanned).
        let user = self.user_models_dir(models_dir);
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("argos-")))
            .filter(|p| *p != user)
            .collect();
        dirs.sort();
        dirs
    }

    pub fn user_models_dir(&self, models_dir: &std::path::Path) -> PathBuf {
        self.user_models_dir.clone().unwrap_or_else(|| models_dir.join("argos-user"))
    }

    pub fn unpack_dir(&self, models_dir: &std::path::Path) -> PathBuf {
        self.unpack_dir.clone().unwrap_or_else(|| models_dir.join(".unpacked"))
    }

    /// `preload` as (from, to) pairs; entries without a dash are ignored.
    pub fn preload_pairs(&self) -> Vec<(String, String)> {
        self.preload.iter().filter_map(|p| p.split_once('-')).map(|(f, t)| (f.to_string(), t.to_string())).collect()
    }
}

impl Default for TranslationSettings {
    fn default() -> Self {
        Self {
            apertium_modes: PathBuf::from("/usr/share/apertium/modes"),
            pipelines_per_direction: 2,
            preload: vec!["en-es".into(), "es-en".into()],
            model_dirs: Vec::new(),
            user_models_dir: None,
            unpack_dir: None,
            beam_size: 1,
            max_batch_sentences: 32,
            queue_capacity: 64,
            max_body_bytes: 1024 * 1024,
        }
    }
}

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct VisionSettings {
    /// Largest image accepted, in bytes (Azure: 20 MB).
    pub max_image_bytes: usize,
    /// Hosts `{"url": ...}` images may be fetched from (`name` or `*.domain`); none by default, so
    /// the server cannot be made to reach internal addresses. Only http:// is fetched.
    pub allowed_url_hosts: Vec<String>,
    /// Time limit of an image URL fetch.
    pub url_timeout_secs: u64,
    /// Images each vision model worker queues before answering 503.
    pub queue_capacity: usize,
    /// Images a vision model runs together.
    pub max_batch: usize,
    /// OCR: the text detector sees the image with its shorter side scaled up to at least this
    /// (small text is found better) ...
    pub ocr_min_side: u32,
    /// ... and its longer side scaled down to at most this (time and memory).
    pub ocr_max_side: u32,
    /// Images decoded at once across the Vision routes (a 64-megapixel image takes up to about
    /// 700 MB while it is decoded); more wait their turn.
    pub decode_concurrency: usize,
    /// Read operations decoded and run at once; the others wait in the database as the encoded
    /// image, holding no memory, and start in order as these finish.
    pub read_concurrency: usize,
    /// Most bytes the images of one custom-vision zip upload may unpack to, all entries together
    /// (each entry also at most `max_image_bytes`); over: 413.
    pub max_zip_bytes: usize,
}

impl Default for VisionSettings {
    fn default() -> Self {
        Self {
            max_image_bytes: 20 * 1024 * 1024,
            allowed_url_hosts: Vec::new(),
            url_timeout_secs: 10,
            queue_capacity: 32,
            max_batch: 8,
            ocr_min_side: 320,
            ocr_max_side: 2400,
            decode_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            read_concurrency: 2,
            max_zip_bytes: 256 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Serialize, Deserialize, Debug)]
#[serde(default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `cogway_gateway=debug,info`.
    pub level: String,
}

pub use cogway_core::paths::cache_dir;
use cogway_core::paths::models_dir as default_models_dir;

impl Settings {
    /// The server secret file: `auth.secret_file`, else `cogway.secret` beside a file database.
    pub fn secret_file(&self) -> Option<PathBuf> {
        if let Some(path) = &self.auth.secret_file {
            return Some(path.clone());
        }
        let path = self.database.url.strip_prefix("sqlite://")?;
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path.contains(":memory:") {
            return None;
        }
        Some(Path::new(path).parent().map_or_else(|| PathBuf::from("cogway.secret"), |d| d.join("cogway.secret")))
    }
}

fn default_database_url() -> String {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    format!("sqlite://{}", home.join(".local/share/cogway/cogway.db").display())
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings::default(),
            database: DatabaseSettings { url: default_database_url(), max_connections: 8 },
            models: ModelSettings::default(),
            auth: AuthSettings { token_ttl_secs: 600, ..AuthSettings::default() },
            limits: LimitSettings::default(),
            services: ServicesSettings::default(),
            speech: SpeechSettings::default(),
            translation: TranslationSettings::default(),
            vision: VisionSettings::default(),
            log: LogSettings::default(),
            redis: RedisSettings { url: None, prefix: "cogway".into() },
            cluster: ClusterSettings::default(),
            jobs: JobSettings::default(),
            blobs: BlobSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 5000,
            workers: 0,
            max_inflight: 256,
            shutdown_timeout_secs: 30,
            exit_on_stdin_close: false,
            body_timeout_secs: 120,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: default_database_url(), max_connections: 8 }
    }
}

impl Default for ModelSettings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self { dir: default_models_dir(), onnxruntime: None, threads, queue_capacity: 64, max_batch: 16, preload: true }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            default_rps: 100,
            language_max_body_bytes: 1024 * 1024,
            max_inflight_per_key: 32,
            max_pending_jobs_per_key: 32,
            max_pending_job_bytes_per_key: 1024 * 1024 * 1024,
            max_customizations_per_key: 100,
        }
    }
}

impl Default for ServicesSettings {
    fn default() -> Self {
        Self { decision: true, language: true, speech: true, translation: true, vision: true }
    }
}

impl Default for SpeechSettings {
    fn default() -> Self {
        Self {
            default_model: "whisper-base".into(),
            beam_size: 1,
            flash_attention: false,
            adaptive_audio_context: true,
            onnx_whisper: true,
            max_chunk_secs: 30.0,
            espeak_program: None,
            short_audio_max_secs: 60,
            openai_max_secs: 1_800,
            max_body_bytes: 25 * 1024 * 1024,
            batch_max_secs: 4 * 3600,
            fast_max_secs: 2 * 3600,
            batch_max_body_bytes: 300 * 1024 * 1024,
            tts_max_chars: 20_000,
            batch_concurrency: 1,
            queue_capacity: 8,
            max_streams: 4,
            max_streams_per_key: 2,
            stream_max_secs: 4 * 3600,
            stream_idle_secs: 60,
            stream_max_buffer_secs: 30,
            partial_every_ms: 500,
            segment_silence_ms: 500,
            max_phrase_secs: 20,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: "text".into(), level: "info".into() }
    }
}

impl ModelSettings {
    pub fn onnxruntime_path(&self) -> PathBuf {
        self.onnxruntime.clone().unwrap_or_else(|| self.dir.join("onnxruntime").join("libonnxruntime.so"))
    }
}

/// Overrides given on the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub models_dir: Option<PathBuf>,
}

impl Settings {
    /// Defaults, then `file` (or `./cogway.toml` if present), then `COGWAY__*` env, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder()
            .add_source(config::Config::try_from(&Settings::default()).context("default settings")?);
        match file {
            Some(path) => builder = builder.add_source(config::File::from(path).required(true)),
            None => builder = builder.add_source(config::File::with_name("cogway").required(false)),
        }
        builder = builder.add_source(
            config::Environment::with_prefix("COGWAY").prefix_separator("__").separator("__").try_parsing(true),
        );
        if let Some(host) = &overrides.host {
            builder = builder.set_override("server.host", host.clone())?;
        }
        if let Some(port) = overrides.port {
            builder = builder.set_override("server.port", i64::from(port))?;
        }
        if let Some(db) = &overrides.database {
            builder = builder.set_override("database.url", db.clone())?;
        }
        if let Some(dir) = &overrides.models_dir {
            builder = builder.set_override("models.dir", dir.display().to_string())?;
        }
        let settings: Settings =
            builder.build().context("reading settings")?.try_deserialize().context("invalid settings")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.server.max_inflight > 0, "server.max_inflight must be at least 1");
        anyhow::ensure!(self.models.queue_capacity > 0, "models.queue_capacity must be at least 1");
        anyhow::ensure!(self.auth.token_ttl_secs > 0, "auth.token_ttl_secs must be at least 1");
        anyhow::ensure!(self.limits.default_rps > 0, "limits.default_rps must be at least 1");
        anyhow::ensure!(self.server.body_timeout_secs > 0, "server.body_timeout_secs must be at least 1");
        anyhow::ensure!(self.limits.max_inflight_per_key > 0, "limits.max_inflight_per_key must be at least 1");
        anyhow::ensure!(self.limits.max_pending_jobs_per_key > 0, "limits.max_pending_jobs_per_key must be at least 1");
        anyhow::ensure!(
            self.limits.max_customizations_per_key > 0,
            "limits.max_customizations_per_key must be at least 1"
        );
        anyhow::ensure!(self.vision.queue_capacity > 0, "vision.queue_capacity must be at least 1");
        anyhow::ensure!(self.vision.max_image_bytes > 0, "vision.max_image_bytes must be at least 1");
        anyhow::ensure!(self.vision.decode_concurrency > 0, "vision.decode_concurrency must be at least 1");
        anyhow::ensure!(self.vision.read_concurrency > 0, "vision.read_concurrency must be at least 1");
        anyhow::ensure!(self.vision.max_zip_bytes > 0, "vision.max_zip_bytes must be at least 1");
        anyhow::ensure!(
            (32..=8192).contains(&self.vision.ocr_max_side) && self.vision.ocr_min_side <= self.vision.ocr_max_side,
            "vision.ocr_max_side must be 32 to 8192 and at least vision.ocr_min_side"
        );
        let sp = &self.speech;
        anyhow::ensure!(
            sp.max_streams > 0 && sp.max_streams_per_key > 0,
            "speech.max_streams and speech.max_streams_per_key must be at least 1"
        );
        anyhow::ensure!(
            sp.stream_idle_secs > 0 && sp.stream_max_secs > 0,
            "speech.stream_idle_secs and speech.stream_max_secs must be at least 1"
        );
        anyhow::ensure!(
            (1..=600).contains(&sp.stream_max_buffer_secs) && sp.max_phrase_secs < sp.stream_max_buffer_secs,
            "speech.stream_max_buffer_secs must be 1 to 600 and above speech.max_phrase_secs"
        );
        anyhow::ensure!(
            (1..=29).contains(&sp.max_phrase_secs),
            "speech.max_phrase_secs must be 1 to 29 (one Whisper window)"
        );
        anyhow::ensure!(
            (100..=5000).contains(&sp.segment_silence_ms),
            "speech.segment_silence_ms must be 100 to 5000 (as Azure)"
        );
        if let Some(key) = &self.auth.admin_key {
            anyhow::ensure!(key.len() >= 16, "auth.admin_key must be at least 16 characters");
        }
        if let Some(secret) = &self.auth.jwt_secret {
            anyhow::ensure!(secret.len() >= 32, "auth.jwt_secret must be at least 32 characters");
        }
        anyhow::ensure!(matches!(self.log.format.as_str(), "text" | "json"), "log.format must be `text` or `json`");
        crate::db::Engine::of_url(&self.database.url)?;
        anyhow::ensure!(self.database.max_connections > 0, "database.max_connections must be at least 1");
        anyhow::ensure!(self.jobs.lease_secs >= 3, "jobs.lease_secs must be at least 3");
        anyhow::ensure!(self.jobs.max_attempts > 0, "jobs.max_attempts must be at least 1");
        if let Some(url) = self.redis.url.as_deref().filter(|u| !u.is_empty()) {
            anyhow::ensure!(
                url.starts_with("redis://") || url.starts_with("rediss://"),
                "redis.url must start with redis:// or rediss://"
            );
        }
        anyhow::ensure!(
            self.blobs.backend != BlobBackend::Directory || self.blobs.dir.is_some(),
            "blobs.backend = \"directory\" needs blobs.dir"
        );
        if self.blobs.backend == BlobBackend::S3 {
            let s3 = &self.blobs.s3;
            let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
            anyhow::ensure!(set(&s3.bucket), "blobs.backend = \"s3\" needs blobs.s3.bucket");
            anyhow::ensure!(
                set(&s3.access_key_id) && set(&s3.secret_access_key),
                "blobs.backend = \"s3\" needs blobs.s3.access_key_id and blobs.s3.secret_access_key"
            );
            anyhow::ensure!(s3.timeout_secs != Some(0), "blobs.s3.timeout_secs must be at least 1");
            if let Some(endpoint) = s3.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
                anyhow::ensure!(
                    endpoint.starts_with("http://") || endpoint.starts_with("https://"),
                    "blobs.s3.endpoint must start with http:// or https://"
                );
            }
        }
        Ok(())
    }
}
