//! The translation service: engines, routing between them, and the operations the gateway
//! exposes (translate, pairs, dictionary lookup).
//!
//! Routing: a direct pair goes to the neural engine when a model serves it, else to Apertium.
//! Otherwise the text is pivoted through one intermediate language (English first, then Spanish,
//! then any), neural hops preferred; the route says which systems ran and through what.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use cogway_core::{Code, ModelStatus, ServiceError};

use crate::apertium::dictionary::{Dictionaries, DictionaryTranslation};
use crate::apertium::{Apertium, ApertiumConfig};
use crate::neural::{self, NeuralConfig, NeuralModel};
use crate::pieces::{Piece, Segment, normalize};
use crate::sentences;

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct TranslationConfig {
    /// Apertium's mode files (`/usr/share/apertium/modes`).
    pub apertium_modes: PathBuf,
    pub pipelines_per_direction: usize,
    pub queue_capacity: usize,
    /// Folders scanned for Argos packages (`.argosmodel` or unpacked).
    pub model_dirs: Vec<PathBuf>,
    /// Where `.argosmodel` files are unpacked.
    pub unpack_dir: PathBuf,
    /// Where models added through the admin route are stored.
    pub user_models_dir: PathBuf,
    pub beam_size: usize,
    pub threads: usize,
    pub max_batch_sentences: usize,
    /// Directions whose Apertium pipeline starts with the service.
    pub preload: Vec<(String, String)>,
}

/// The engine of one hop.
#[derive(Clone)]
pub enum Engine {
    Apertium,
    Neural(Arc<NeuralModel>),
}

/// One step of a route.
#[derive(Clone)]
pub struct Hop {
    pub from: String,
    pub to: String,
    pub engine: Engine,
}

impl Hop {
    /// The system that runs this hop, for `X-mt-system`.
    pub fn system(&self, apertium: &Apertium) -> String {
        match &self.engine {
            Engine::Neural(m) => format!("neural:{}", m.name),
            Engine::Apertium => {
                let mode = apertium.direction(&self.from, &self.to).map(|d| d.mode.as_str()).unwrap_or("?");
                format!("apertium:{mode}")
            }
        }
    }
}

/// How a pair is translated: one hop, or two through a pivot language.
#[derive(Clone)]
pub struct Route {
    pub hops: Vec<Hop>,
}

impl Route {
    pub fn pivot(&self) -> Option<&str> {
        (self.hops.len() > 1).then(|| self.hops[0].to.as_str())
    }

    fn neural_hops(&self) -> usize {
        self.hops.iter().filter(|h| matches!(h.engine, Engine::Neural(_))).count()
    }
}

/// The result of translating a request's segments into one language.
pub struct Translated {
    pub segments: Vec<Segment>,
    /// Systems that ran, in order (`apertium:eng-spa`, `neural:argos-zh-en-1.9`).
    pub systems: Vec<String>,
    pub pivot: Option<String>,
}

pub struct TranslationService {
    apertium: Apertium,
    neural: RwLock<Vec<Arc<NeuralModel>>>,
    dictionaries: Mutex<HashMap<(String, String), Arc<Dictionaries>>>,
    config: TranslationConfig,
}

impl TranslationService {
    pub fn load(config: TranslationConfig) -> Self {
        let apertium = Apertium::load(ApertiumConfig {
            modes_dir: config.apertium_modes.clone(),
            pipelines_per_direction: config.pipelines_per_direction,
            queue_capacity: config.queue_capacity,
        });
        let mut dirs = config.model_dirs.clone();
        dirs.push(config.user_models_dir.clone());
        let neural =
            neural::load_all(&dirs, &config.unpack_dir, &config.neural_config()).into_iter().map(Arc::new).collect();
        let service = Self { apertium, neural: RwLock::new(neural), dictionaries: Mutex::new(HashMap::new()), config };
        service.apertium.preload(&service.config.preload);
        service
    }

    pub fn apertium(&self) -> &Apertium {
        &self.apertium
    }

    fn neural_models(&self) -> Vec<Arc<NeuralModel>> {
        self.neural.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// Names and pairs of the neural models.
    pub fn neural_models_info(&self) -> Vec<(String, String, String)> {
        self.neural_models().iter().map(|m| (m.name.clone(), m.from.clone(), m.to.clone())).collect()
    }

    /// Loads an Argos package saved at `path` (an `.argosmodel` file) and adds it.
    pub fn add_model(&self, path: &std::path::Path) -> Result<(String, String, String), ServiceError> {
        let model = neural::unpack(path, &neural::unpack_target(&self.config.unpack_dir, path))
            .and_then(|root| neural::load(&root, &self.config.neural_config()))
            .map_err(|e| ServiceError::new(Code::InvalidRequest, format!("The model package is not usable: {e}")))?;
        let info = (model.name.clone(), model.from.clone(), model.to.clone());
        let mut models = self.neural.write().map_err(|_| ServiceError::internal("model list lock poisoned"))?;
        models.retain(|m| m.name != model.name);
        models.push(Arc::new(model));
        Ok(info)
    }

    /// Calls `f` with the name and queue statistics of every model worker and Apertium pipeline.
    pub fn each_worker(&self, f: &mut dyn FnMut(&str, &cogway_core::WorkerStats)) {
        for model in self.neural_models() {
            f(&model.name, model.stats());
        }
        self.apertium.each_worker(f);
    }

    pub fn user_models_dir(&self) -> &std::path::Path {
        &self.config.user_models_dir
    }

    /// The engine for a direct pair, neural first; `category` picks a neural model by name.
    fn direct(&self, from: &str, to: &str, category: Option<&str>) -> Option<Engine> {
        let models = self.neural_models();
        if let Some(name) = category {
            return models.iter().find(|m| m.name == name && m.from == from && m.to == to).cloned().map(Engine::Neural);
        }
        if let Some(m) = models.iter().filter(|m| m.from == from && m.to == to).min_by_key(|m| m.queue_depth()) {
            return Some(Engine::Neural(m.clone()));
        }
        self.apertium.direction(from, to).map(|_| Engine::Apertium)
    }

    /// Every direct pair, with whether a neural model serves it.
    fn direct_pairs(&self) -> BTreeMap<(String, String), bool> {
        let mut pairs: BTreeMap<(String, String), bool> =
            self.apertium.pairs().map(|(f, t)| ((f.to_string(), t.to_string()), false)).collect();
        for m in self.neural_models() {
            pairs.insert((m.from.clone(), m.to.clone()), true);
        }
        pairs
    }

    /// The route for (from, to), or `None` when neither a direct pair nor one pivot reaches it.
    /// `category` (a neural model name) only applies to direct pairs.
    pub fn route(&self, from: &str, to: &str, category: Option<&str>) -> Option<Route> {
        if let Some(engine) = self.direct(from, to, category) {
            return Some(Route { hops: vec![Hop { from: from.into(), to: to.into(), engine }] });
        }
        if category.is_some() {
            return None;
        }
        let pairs = self.direct_pairs();
        let mut pivots: Vec<&str> = pairs
            .keys()
            .filter(|(f, m)| f == from && m != to && pairs.contains_key(&(m.clone(), to.to_string())))
            .map(|(_, m)| m.as_str())
            .collect();
        let preference = |m: &str| match m {
            "en" => 0,
            "es" => 1,
            _ => 2,
        };
        pivots.sort_by_key(|m| preference(m));
        pivots
            .into_iter()
            .filter_map(|m| {
                let first = self.direct(from, m, None)?;
                let second = self.direct(m, to, None)?;
                Some(Route {
                    hops: vec![
                        Hop { from: from.into(), to: m.into(), engine: first },
                        Hop { from: m.into(), to: to.into(), engine: second },
                    ],
                })
            })
            .enumerate()
            .max_by_key(|(i, r)| (r.neural_hops(), std::cmp::Reverse(*i)))
            .map(|(_, r)| r)
    }

    /// Every (from, to) that works, directly or through one pivot; `true` when direct.
    pub fn pairs(&self) -> BTreeMap<(String, String), bool> {
        let direct = self.direct_pairs();
        let mut all: BTreeMap<(String, String), bool> = direct.keys().map(|k| (k.clone(), true)).collect();
        let mut by_source: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (f, t) in direct.keys() {
            by_source.entry(f.as_str()).or_default().insert(t.as_str());
        }
        for (from, middles) in &by_source {
            for middle in middles {
                for to in by_source.get(middle).into_iter().flatten() {
                    if to != from {
                        all.entry((from.to_string(), to.to_string())).or_insert(false);
                    }
                }
            }
        }
        all
    }

    /// Translates the segments along `route`.
    pub async fn translate(&self, route: &Route, segments: Vec<Segment>) -> Result<Translated, ServiceError> {
        let mut segments = segments;
        let mut systems = Vec::with_capacity(route.hops.len());
        for hop in &route.hops {
            systems.push(hop.system(&self.apertium));
            segments = match &hop.engine {
                Engine::Apertium => self.apertium.translate(&hop.from, &hop.to, segments).await?,
                Engine::Neural(model) => translate_neural(model, segments).await?,
            };
        }
        Ok(Translated { segments, systems, pivot: route.pivot().map(str::to_string) })
    }

    /// Dictionary lookup for a pair with an Apertium direction.
    pub fn dictionary(&self, from: &str, to: &str) -> Result<Arc<Dictionaries>, ServiceError> {
        let key = (from.to_string(), to.to_string());
        let mut cache = self.dictionaries.lock().map_err(|_| ServiceError::internal("dictionary lock poisoned"))?;
        if let Some(d) = cache.get(&key) {
            return Ok(d.clone());
        }
        let direction = self.apertium.direction(from, to).ok_or_else(|| {
            ServiceError::new(Code::UnsupportedLanguageCode, format!("No dictionary for {from} -> {to}."))
        })?;
        let reverse = self.apertium.direction(to, from);
        let dictionaries = Dictionaries::of(direction, reverse)
            .map_err(|e| ServiceError::internal(format!("dictionary {from}-{to}: {e}")))?;
        let dictionaries = Arc::new(dictionaries);
        cache.insert(key, dictionaries.clone());
        Ok(dictionaries)
    }

    /// Pairs with a dictionary (Apertium directions).
    pub fn dictionary_pairs(&self) -> Vec<(String, String)> {
        self.apertium.pairs().map(|(f, t)| (f.to_string(), t.to_string())).collect()
    }

    pub fn lookup(&self, from: &str, to: &str, word: &str) -> Result<Vec<DictionaryTranslation>, ServiceError> {
        self.dictionary(from, to)?
            .lookup(word)
            .map_err(|e| ServiceError::internal(format!("dictionary lookup {from}-{to}: {e}")))
    }

    pub fn status(&self) -> Vec<ModelStatus> {
        let directions = self.apertium.pairs().count();
        let mut status = vec![ModelStatus {
            name: "apertium",
            ready: directions > 0,
            detail: (directions == 0).then(|| {
                format!(
                    "no Apertium pairs in {} (run `make models`, which installs the apertium packages)",
                    self.apertium.modes_dir().display()
                )
            }),
        }];
        status.push(ModelStatus {
            name: "neural-translation",
            ready: !self.neural_models().is_empty(),
            detail: self.neural_models().is_empty().then(|| "no Argos/CTranslate2 models loaded".to_string()),
        });
        status
    }
}

impl TranslationConfig {
    fn neural_config(&self) -> NeuralConfig {
        NeuralConfig {
            beam_size: self.beam_size,
            threads: self.threads,
            max_batch_sentences: self.max_batch_sentences,
            queue_capacity: self.queue_capacity,
        }
    }
}

/// The neural engine on pieces: each text run is split into sentences, all sentences of the
/// request go to the model in one call, and runs are rebuilt with their outer spaces.
async fn translate_neural(model: &NeuralModel, segments: Vec<Segment>) -> Result<Vec<Segment>, ServiceError> {
    let mut sentences: Vec<String> = Vec::new();
    // Per text run: (leading space, number of sentences, trailing space).
    let mut shapes: Vec<(String, usize, String)> = Vec::new();
    for piece in segments.iter().flatten() {
        if let Piece::Text(text) = piece {
            let trimmed = text.trim();
            let lead = text[..text.len() - text.trim_start().len()].to_string();
            let trail = text[text.trim_end().len()..].to_string();
            let parts: Vec<String> =
                sentences::split(trimmed).iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            shapes.push((lead, parts.len(), trail));
            sentences.extend(parts);
        }
    }
    let translated = model.translate(sentences).await?;
    let mut translated = translated.into_iter();
    let mut shapes = shapes.into_iter();
    let mut out = Vec::with_capacity(segments.len());
    for segment in segments {
        let mut pieces = Vec::with_capacity(segment.len());
        for piece in segment {
            match piece {
                Piece::Keep(k) => pieces.push(Piece::Keep(k)),
                Piece::Text(_) => {
                    let (lead, count, trail) = shapes.next().unwrap_or_default();
                    let body: Vec<String> = translated.by_ref().take(count).collect();
                    pieces.push(Piece::Text(format!("{lead}{}{trail}", body.join(" "))));
                }
            }
        }
        out.push(normalize(pieces));
    }
    Ok(out)
}
