//! The neural engine: CTranslate2 models (OPUS-MT / Argos Translate) through ct2rs.
//!
//! A model is an Argos package (`.argosmodel`, a zip holding `metadata.json`, the source
//! `sentencepiece.model` and the CTranslate2 model in `model/`) or such a directory unpacked.
//! Text is split into sentences, each sentence is cut into SentencePiece pieces, and all the
//! sentences waiting on a model (from every concurrent request) go through CTranslate2 as one
//! batch on the model's worker thread. The target side is joined back from its pieces (`▁` is a
//! space), which is what Argos models are trained to produce.

use std::fs::File;
use std::path::{Path, PathBuf};

use cogway_core::{BatchModel, ServiceError, Worker};
use ct2rs::sys::{Config, TranslationOptions, Translator};
use sentencepiece::SentencePieceProcessor;
use serde::Deserialize;

use crate::languages;

/// What an Argos package says about itself.
#[derive(Debug, Clone, Deserialize)]
pub struct ArgosMetadata {
    pub from_code: String,
    pub to_code: String,
    #[serde(default)]
    pub package_version: Option<String>,
}

/// Settings of the neural engine.
#[derive(Debug, Clone)]
pub struct NeuralConfig {
    pub beam_size: usize,
    pub threads: usize,
    /// Sentences per CTranslate2 batch.
    pub max_batch_sentences: usize,
    /// Requests waiting per model before 503.
    pub queue_capacity: usize,
}

/// A loaded model and the worker that runs it.
pub struct NeuralModel {
    /// Azure codes.
    pub from: String,
    pub to: String,
    /// A name for `X-mt-system`, `/status` and categories (`argos-zh-en-1.9`).
    pub name: String,
    pub source: PathBuf,
    worker: Worker<Vec<String>, Vec<String>>,
}

impl NeuralModel {
    /// Translates sentences (already split).
    pub async fn translate(&self, sentences: Vec<String>) -> Result<Vec<String>, ServiceError> {
        if sentences.is_empty() {
            return Ok(sentences);
        }
        self.worker.call(sentences).await
    }

    pub fn queue_depth(&self) -> usize {
        self.worker.stats().queue_depth()
    }

    pub fn stats(&self) -> &cogway_core::WorkerStats {
        self.worker.stats()
    }
}

struct Ct2Model {
    translator: Translator,
    tokenizer: SentencePieceProcessor,
    options: TranslationOptions<String, String>,
    max_batch: usize,
}

impl Ct2Model {
    fn encode(&self, sentence: &str) -> Vec<String> {
        match self.tokenizer.encode(sentence) {
            Ok(pieces) => pieces.into_iter().map(|p| p.piece).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Target pieces back into text.
pub fn detokenize(pieces: &[String]) -> String {
    pieces.concat().replace('\u{2581}', " ").trim().to_string()
}

impl BatchModel for Ct2Model {
    type Input = Vec<String>;
    type Output = Vec<String>;

    fn run(&mut self, batch: Vec<Vec<String>>) -> Vec<Result<Vec<String>, ServiceError>> {
        let tokens: Vec<Vec<String>> = batch.iter().flatten().map(|s| self.encode(s)).collect();
        let mut translated: Vec<String> = Vec::with_capacity(tokens.len());
        for chunk in tokens.chunks(self.max_batch.max(1)) {
            // Empty inputs (blank sentences) stay empty without a model call.
            let work: Vec<usize> = (0..chunk.len()).filter(|&i| !chunk[i].is_empty()).collect();
            let inputs: Vec<Vec<String>> = work.iter().map(|&i| chunk[i].clone()).collect();
            let mut outputs = vec![String::new(); chunk.len()];
            if !inputs.is_empty() {
                match self.translator.translate_batch(&inputs, &self.options, None) {
                    Ok(results) => {
                        for (&i, result) in work.iter().zip(results) {
                            outputs[i] = result.output().map(|p| detokenize(p)).unwrap_or_default();
                        }
                    }
                    Err(e) => {
                        let err = ServiceError::internal(format!("CTranslate2: {e}"));
                        return batch.iter().map(|_| Err(err.clone())).collect();
                    }
                }
            }
            translated.extend(outputs);
        }
        let mut translated = translated.into_iter();
        batch.iter().map(|request| Ok(translated.by_ref().take(request.len()).collect())).collect()
    }
}

/// Finds the directory of an unpacked package (the one holding `metadata.json`, at the top or
/// one level down, as Argos zips put everything in a folder).
fn package_root(dir: &Path) -> Option<PathBuf> {
    if dir.join("metadata.json").is_file() {
        return Some(dir.to_path_buf());
    }
    std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.join("metadata.json").is_file())
}

/// Where an `.argosmodel` file is unpacked: one folder per models folder and package name, the
/// same at start-up and for packages added through the API.
pub fn unpack_target(unpack_dir: &Path, archive: &Path) -> PathBuf {
    let stem = archive.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let parent =
        archive.parent().and_then(Path::file_name).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    unpack_dir.join(format!("{parent}-{stem}"))
}

/// Names the archive an unpacked copy came from (size and modification time), so a replaced
/// package is unpacked again instead of loading the stale copy.
const SOURCE_STAMP: &str = ".cogway-source";

fn stamp_of(archive: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let modified =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok(format!("{} {modified}", meta.len()))
}

/// Unpacks an `.argosmodel` zip into `into`; an unpacked copy of the same archive (same size and
/// modification time) is reused.
pub fn unpack(archive: &Path, into: &Path) -> Result<PathBuf, String> {
    let stamp = stamp_of(archive)?;
    if let Some(root) = package_root(into)
        && std::fs::read_to_string(into.join(SOURCE_STAMP)).is_ok_and(|s| s == stamp)
    {
        return Ok(root);
    }
    let file = File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("{}: not a zip archive: {e}", archive.display()))?;
    // Several servers may share a models directory and unpack the same package at once: each
    // unpacks into its own folder and the first rename wins; the others use the winner's copy.
    let partial = into.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    // `extract` refuses entries that would land outside the target directory.
    if let Err(e) = zip.extract(&partial) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(format!("{}: {e}", archive.display()));
    }
    std::fs::write(partial.join(SOURCE_STAMP), &stamp).map_err(|e| format!("{}: {e}", partial.display()))?;
    // A copy of another version of the archive (or a broken one) makes way; a copy another
    // server has just unpacked from the same archive stays.
    if !std::fs::read_to_string(into.join(SOURCE_STAMP)).is_ok_and(|s| s == stamp) {
        let _ = std::fs::remove_dir_all(into);
    }
    if std::fs::rename(&partial, into).is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    package_root(into).ok_or_else(|| format!("{}: no metadata.json in the package", archive.display()))
}

/// Loads an unpacked package directory.
pub fn load(dir: &Path, config: &NeuralConfig) -> Result<NeuralModel, String> {
    let root = package_root(dir).ok_or_else(|| format!("{}: no metadata.json", dir.display()))?;
    let text = std::fs::read_to_string(root.join("metadata.json")).map_err(|e| format!("metadata.json: {e}"))?;
    let metadata: ArgosMetadata = serde_json::from_str(&text).map_err(|e| format!("metadata.json: {e}"))?;
    let from = languages::from_iso639_1(&metadata.from_code)
        .ok_or_else(|| format!("unknown source language {:?}", metadata.from_code))?;
    let to = languages::from_iso639_1(&metadata.to_code)
        .ok_or_else(|| format!("unknown target language {:?}", metadata.to_code))?;
    let model_dir = if root.join("model").join("model.bin").is_file() { root.join("model") } else { root.clone() };
    let spm = root.join("sentencepiece.model");
    let tokenizer = SentencePieceProcessor::open(&spm).map_err(|e| format!("{}: {e}", spm.display()))?;
    let ct2_config = Config { num_threads_per_replica: config.threads.max(1), ..Config::default() };
    let translator = Translator::new(&model_dir, &ct2_config).map_err(|e| format!("{}: {e}", model_dir.display()))?;
    let options = TranslationOptions { beam_size: config.beam_size.max(1), ..Default::default() };
    let version = metadata.package_version.clone().unwrap_or_else(|| "1".into());
    let name = format!("argos-{}-{}-{version}", metadata.from_code, metadata.to_code);
    let model = Ct2Model { translator, tokenizer, options, max_batch: config.max_batch_sentences };
    let worker = Worker::spawn(&name, model, config.queue_capacity, 16).map_err(|e| format!("{name}: {e}"))?;
    Ok(NeuralModel { from: from.to_string(), to: to.to_string(), name, source: root, worker })
}

/// Loads every package in `dirs`: `.argosmodel` files are unpacked into `unpack_dir` first.
/// Failures are logged and skipped (one broken package must not stop the others).
pub fn load_all(dirs: &[PathBuf], unpack_dir: &Path, config: &NeuralConfig) -> Vec<NeuralModel> {
    let mut models = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let loaded = if path.extension().is_some_and(|e| e == "argosmodel") {
                unpack(&path, &unpack_target(unpack_dir, &path)).and_then(|root| load(&root, config))
            } else if path.is_dir() && package_root(&path).is_some() {
                load(&path, config)
            } else {
                continue;
            };
            match loaded {
                Ok(model) => {
                    tracing::info!(model = %model.name, from = %model.from, to = %model.to, "neural translation model loaded");
                    models.push(model);
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "translation model not loaded"),
            }
        }
    }
    models
}
