//! The Speech service: loads the models the store installed and runs them on workers.
//!
//! Each Whisper model gets two workers, each with its own decoding state over the shared weights:
//! an interactive one for short requests (Azure short audio, OpenAI transcriptions) and a batch
//! one for long transcription jobs, so a short clip never waits behind a ten-minute recording.
//! Text to speech has its own worker. Every queue is bounded: when one is full the call fails at
//! once with `Overloaded` (503 + Retry-After).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cogway_core::{Code, ModelStatus, ServiceError, Worker};

use crate::stt::stream::{StepRequest, StepResult, StreamEngine};
use crate::stt::{EngineOptions, OnnxWhisper, RecognitionRequest, Transcript, WhisperEngine, WhisperModel};
use crate::tts::espeak::Espeak;
use crate::tts::kokoro::{self, Kokoro};
use crate::tts::piper::PiperVoice;
use crate::tts::voices::{self, Voice};
use crate::tts::{SynthesisJob, Synthesized, TtsEngine};

/// The Whisper models the store can install: (name, file).
pub const WHISPER_MODELS: [&str; 2] = ["whisper-base", "whisper-tiny-en"];
pub const WHISPER_FILE: &str = "ggml-model.bin";
/// The ONNX Runtime copy of a whisper.cpp model, which decodes its audio of more than 10 s.
pub const ONNX_MODELS: [(&str, &str); 1] = [("whisper-base", crate::stt::onnx_whisper::MODEL_NAME)];
pub const VAD_MODEL: &str = "silero-vad";
pub const VAD_FILE: &str = "ggml-silero-vad.bin";
pub const PIPER_MODEL: &str = "piper-en-us-joe-medium";
pub const PIPER_FILE: &str = "en_US-joe-medium.onnx";

#[derive(Debug, Clone)]
pub struct SpeechConfig {
    pub models_dir: PathBuf,
    pub onnxruntime: PathBuf,
    /// Threads of each model call.
    pub threads: usize,
    pub queue_capacity: usize,
    /// The model used when a request names none (or names `whisper-1`).
    pub default_model: String,
    pub beam_size: usize,
    pub flash_attention: bool,
    /// Longest stretch of speech the VAD reports as one region, in seconds.
    pub max_chunk_secs: f32,
    /// Encode only the part of the 30 s window a short clip fills.
    pub adaptive_audio_context: bool,
    /// Decode audio of more than 10 s with Whisper on ONNX Runtime when its model is installed.
    pub onnx_whisper: bool,
    /// The eSpeak NG program; `None` looks for `espeak-ng` on PATH.
    pub espeak_program: Option<PathBuf>,
    /// Live recognition sessions at once (the streaming worker's queue holds one step of each).
    pub max_streams: usize,
}

type Recognizer = Worker<RecognitionRequest, Transcript>;

struct SttWorkers {
    multilingual: bool,
    interactive: Recognizer,
    batch: Recognizer,
    /// Steps of live streams (Speech SDK, OpenAI Realtime): partial results never wait behind
    /// uploads, and uploads never wait behind a room full of live sessions.
    stream: Worker<StepRequest, StepResult>,
}

/// Which queue a recognition goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Short audio a client waits for.
    Interactive,
    /// Long-running jobs.
    Batch,
}

pub struct SpeechService {
    config: SpeechConfig,
    stt: BTreeMap<&'static str, Result<SttWorkers, ServiceError>>,
    /// Whether each ONNX Runtime Whisper model loaded (when the setting asks for them).
    onnx: Vec<(&'static str, Result<(), ServiceError>)>,
    vad: Result<PathBuf, ServiceError>,
    tts: Result<Worker<SynthesisJob, Synthesized>, ServiceError>,
    espeak: Option<Espeak>,
    voices: Arc<Vec<Voice>>,
}

impl SpeechService {
    pub fn load(config: &SpeechConfig) -> Arc<Self> {
        let vad_path = config.models_dir.join(VAD_MODEL).join(VAD_FILE);
        let vad = if vad_path.exists() { Ok(vad_path) } else { Err(ServiceError::model_not_ready(VAD_MODEL)) };
        let mut stt = BTreeMap::new();
        let mut onnx = Vec::new();
        for name in WHISPER_MODELS {
            let decoder = match ONNX_MODELS.iter().find(|(ggml, _)| *ggml == name) {
                Some(&(_, onnx_name)) if config.onnx_whisper => {
                    let loaded = load_onnx_whisper(config, onnx_name);
                    if let Err(e) = &loaded {
                        tracing::warn!(model = onnx_name, error = %e, "whisper.cpp decodes all audio");
                    }
                    onnx.push((onnx_name, loaded.as_ref().map(|_| ()).map_err(Clone::clone)));
                    loaded.ok()
                }
                _ => None,
            };
            let workers = load_whisper(config, name, vad.as_ref().ok().cloned(), decoder);
            if let Err(e) = &workers {
                tracing::warn!(model = name, error = %e, "speech-to-text model not loaded");
            }
            stt.insert(name, workers);
        }

        let espeak = Espeak::find(config.espeak_program.clone());
        if espeak.is_none() {
            tracing::warn!("espeak-ng not found: text to speech is unavailable (run `make setup`)");
        }
        let piper = load_piper(config);
        if let Err(e) = &piper {
            tracing::warn!(error = %e, "Piper voice not loaded");
        }
        let kokoro = load_kokoro(config);
        if let Err(e) = &kokoro {
            tracing::warn!(error = %e, "Kokoro voices not loaded");
        }
        let mut voice_list = Vec::new();
        if let Ok(p) = &piper {
            voice_list.push(voices::piper_joe(p.sample_rate()));
        }
        if let Ok(k) = &kokoro {
            // The engine renders at Piper's rate (22,050 Hz without it).
            let rate = piper.as_ref().map_or(22_050, PiperVoice::sample_rate);
            voice_list.extend(voices::kokoro_voices(k.voices(), rate));
        }
        if let Some(e) = &espeak {
            voice_list.extend(voices::espeak_voices(&e.voices().unwrap_or_default()));
        }
        let voices = Arc::new(voice_list);
        let tts = match (&espeak, piper) {
            (None, _) => Err(ServiceError::new(
                Code::ModelNotReady,
                "Text to speech needs the espeak-ng program, which is not installed: run `make setup`.",
            )),
            (Some(e), piper) => {
                let engine = TtsEngine::new(piper.ok(), kokoro.ok(), Some(e.clone()), voices.clone());
                Worker::spawn("tts", engine, config.queue_capacity, 1)
                    .map_err(|e| ServiceError::internal(format!("cannot start the TTS worker: {e}")))
            }
        };
        Arc::new(Self { config: config.clone(), stt, onnx, vad, tts, espeak, voices })
    }

    pub fn models(&self) -> Vec<ModelStatus> {
        let mut out: Vec<ModelStatus> = self
            .stt
            .iter()
            .map(|(name, w)| ModelStatus {
                name,
                ready: w.is_ok(),
                detail: w.as_ref().err().map(|e| e.message.clone()),
            })
            .collect();
        out.extend(self.onnx.iter().map(|(name, loaded)| ModelStatus {
            name,
            ready: loaded.is_ok(),
            detail: loaded.as_ref().err().map(|e| e.message.clone()),
        }));
        out.push(ModelStatus {
            name: VAD_MODEL,
            ready: self.vad.is_ok(),
            detail: self.vad.as_ref().err().map(|e| e.message.clone()),
        });
        let piper_ready = self.voices.iter().any(|v| v.engine == crate::tts::Engine::Piper);
        out.push(ModelStatus {
            name: PIPER_MODEL,
            ready: piper_ready,
            detail: (!piper_ready).then(|| ServiceError::model_not_ready(PIPER_MODEL).message),
        });
        let kokoro_ready = self.voices.iter().any(|v| matches!(v.engine, crate::tts::Engine::Kokoro(_)));
        out.push(ModelStatus {
            name: kokoro::MODEL_NAME,
            ready: kokoro_ready,
            detail: (!kokoro_ready).then(|| ServiceError::model_not_ready(kokoro::MODEL_NAME).message),
        });
        out.push(ModelStatus {
            name: "espeak-ng",
            ready: self.espeak.is_some(),
            detail: self.espeak.is_none().then(|| "espeak-ng is not installed (run `make setup`)".to_string()),
        });
        out
    }

    /// The model a request's `model` value selects: a store name, or `whisper-1`/empty for the default.
    pub fn resolve_model(&self, requested: Option<&str>) -> Result<&'static str, ServiceError> {
        let wanted = match requested.map(str::trim).filter(|m| !m.is_empty()) {
            None | Some("whisper-1") | Some("whisper") => self.config.default_model.as_str(),
            Some(other) => other,
        };
        let normalized = wanted.replace('.', "-").to_ascii_lowercase();
        self.stt.keys().copied().find(|k| *k == normalized).ok_or_else(|| {
            ServiceError::new(
                Code::InvalidParameterValue,
                format!(
                    "Unknown model {wanted:?}. Available: whisper-1 (= {}), {}.",
                    self.config.default_model,
                    WHISPER_MODELS.join(", ")
                ),
            )
        })
    }

    pub fn is_multilingual(&self, model: &str) -> bool {
        self.stt.get(model).and_then(|w| w.as_ref().ok()).is_some_and(|w| w.multilingual)
    }

    /// Recognizes speech with `model` on the chosen lane.
    pub async fn recognize(
        &self,
        model: &str,
        lane: Lane,
        request: RecognitionRequest,
    ) -> Result<Transcript, ServiceError> {
        let workers = self.workers(model, request.language.as_deref())?;
        match lane {
            Lane::Interactive => workers.interactive.call(request).await,
            Lane::Batch => workers.batch.call(request).await,
        }
    }

    /// Runs one step of a live stream on `model`'s streaming worker.
    pub async fn stream_step(&self, model: &str, request: StepRequest) -> Result<StepResult, ServiceError> {
        let workers = self.workers(model, request.settings.language.as_deref())?;
        workers.stream.call(request).await
    }

    /// Checks that `model` can take a request in `language` before anything is decoded: the
    /// model is loaded and, for a language other than English, multilingual.
    pub fn check_model(&self, model: &str, language: Option<&str>) -> Result<(), ServiceError> {
        self.workers(model, language).map(|_| ())
    }

    fn workers(&self, model: &str, language: Option<&str>) -> Result<&SttWorkers, ServiceError> {
        let workers = self
            .stt
            .get(model)
            .ok_or_else(|| ServiceError::invalid(format!("Unknown model {model:?}.")))?
            .as_ref()
            .map_err(Clone::clone)?;
        if language.is_some_and(|l| l != "en") && !workers.multilingual {
            return Err(ServiceError::new(
                Code::InvalidParameterValue,
                format!("The model {model} only recognizes English; use {} for other languages.", WHISPER_MODELS[0]),
            ));
        }
        Ok(workers)
    }

    pub fn voices(&self) -> &[Voice] {
        &self.voices
    }

    /// Synthesizes a job on the TTS worker.
    pub async fn synthesize(&self, job: SynthesisJob) -> Result<Synthesized, ServiceError> {
        match &self.tts {
            Ok(worker) => worker.call(job).await,
            Err(e) => Err(e.clone()),
        }
    }

    /// Workers' queue statistics for metrics: (worker name, stats).
    pub fn worker_stats(&self) -> Vec<(String, &cogway_core::WorkerStats)> {
        let mut out = Vec::new();
        for workers in self.stt.values().flatten() {
            out.push((workers.interactive.name().to_string(), workers.interactive.stats()));
            out.push((workers.batch.name().to_string(), workers.batch.stats()));
            out.push((workers.stream.name().to_string(), workers.stream.stats()));
        }
        if let Ok(tts) = &self.tts {
            out.push((tts.name().to_string(), tts.stats()));
        }
        out
    }
}

/// Whisper on ONNX Runtime, shared by the model's workers (one decodes at a time: each call
/// already uses every thread).
fn load_onnx_whisper(config: &SpeechConfig, name: &str) -> Result<Arc<Mutex<OnnxWhisper>>, ServiceError> {
    let dir = config.models_dir.join(name);
    if !dir.join("decoder.onnx").exists() {
        return Err(ServiceError::model_not_ready(name));
    }
    Ok(Arc::new(Mutex::new(OnnxWhisper::load(&config.onnxruntime, &dir, config.threads.max(1))?)))
}

fn load_whisper(
    config: &SpeechConfig,
    name: &'static str,
    vad: Option<PathBuf>,
    onnx: Option<Arc<Mutex<OnnxWhisper>>>,
) -> Result<SttWorkers, ServiceError> {
    let path = config.models_dir.join(name).join(WHISPER_FILE);
    if !path.exists() {
        return Err(ServiceError::model_not_ready(name));
    }
    let model = WhisperModel::load(name, &path, config.flash_attention)?;
    let options = EngineOptions {
        threads: config.threads.max(1),
        beam_size: config.beam_size.max(1),
        vad_model: vad,
        max_chunk_secs: config.max_chunk_secs,
        adaptive_audio_context: config.adaptive_audio_context,
        onnx,
    };
    let spawn = |lane: &str, capacity: usize| {
        let engine = WhisperEngine::new(&model, options.clone())?;
        Worker::spawn(&format!("{name}-{lane}"), engine, capacity, 1)
            .map_err(|e| ServiceError::internal(format!("cannot start the {name} worker: {e}")))
    };
    let stream_engine = StreamEngine(WhisperEngine::new(&model, options.clone())?);
    // Each live session has at most one step queued: the session limit bounds this queue.
    let stream = Worker::spawn(&format!("{name}-stream"), stream_engine, config.max_streams.max(1), 1)
        .map_err(|e| ServiceError::internal(format!("cannot start the {name} stream worker: {e}")))?;
    Ok(SttWorkers {
        multilingual: model.multilingual(),
        interactive: spawn("interactive", config.queue_capacity)?,
        batch: spawn("batch", config.queue_capacity)?,
        stream,
    })
}

fn load_kokoro(config: &SpeechConfig) -> Result<Kokoro, ServiceError> {
    Kokoro::load(&config.onnxruntime, &config.models_dir.join(kokoro::MODEL_NAME), config.threads.max(1))
}

fn load_piper(config: &SpeechConfig) -> Result<PiperVoice, ServiceError> {
    let dir = config.models_dir.join(PIPER_MODEL);
    let model = dir.join(PIPER_FILE);
    let json = dir.join(format!("{PIPER_FILE}.json"));
    if !model.exists() || !json.exists() {
        return Err(ServiceError::model_not_ready(PIPER_MODEL));
    }
    PiperVoice::load(&config.onnxruntime, &model, &json, config.threads.max(1))
}
