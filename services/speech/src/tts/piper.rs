//! Piper voices: VITS models exported to ONNX, run with ONNX Runtime. The voice's `.onnx.json`
//! gives its sample rate, its eSpeak NG voice (the phonemizer), its inference scales and the map
//! from IPA characters to the model's input ids.
//!
//! Input ids of a sentence: `^`, then every IPA character of every clause each followed by the
//! pad `_` (clauses keep their closing punctuation, which shapes intonation), then `$`.

use std::collections::HashMap;
use std::path::Path;

use ndarray::{Array1, Array2};
use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;

use cogway_core::ServiceError;

#[derive(Debug, Deserialize)]
struct VoiceConfig {
    audio: AudioConfig,
    espeak: EspeakConfig,
    #[serde(default)]
    inference: InferenceConfig,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default = "one")]
    num_speakers: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
struct AudioConfig {
    sample_rate: u32,
}

#[derive(Debug, Deserialize)]
struct EspeakConfig {
    voice: String,
}

#[derive(Debug, Deserialize)]
struct InferenceConfig {
    #[serde(default = "noise_scale")]
    noise_scale: f32,
    #[serde(default = "length_scale")]
    length_scale: f32,
    #[serde(default = "noise_w")]
    noise_w: f32,
}

fn noise_scale() -> f32 {
    0.667
}
fn length_scale() -> f32 {
    1.0
}
fn noise_w() -> f32 {
    0.8
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self { noise_scale: noise_scale(), length_scale: length_scale(), noise_w: noise_w() }
    }
}

/// A loaded Piper voice.
pub struct PiperVoice {
    session: Session,
    ids: HashMap<char, Vec<i64>>,
    pad: Vec<i64>,
    bos: Vec<i64>,
    eos: Vec<i64>,
    sample_rate: u32,
    espeak_voice: String,
    inference: InferenceConfig,
    multi_speaker: bool,
}

impl std::fmt::Debug for PiperVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperVoice")
            .field("sample_rate", &self.sample_rate)
            .field("espeak_voice", &self.espeak_voice)
            .finish()
    }
}

impl PiperVoice {
    /// Loads `model` (ONNX) and its `config` (.onnx.json).
    pub fn load(onnx_runtime: &Path, model: &Path, config: &Path, threads: usize) -> Result<Self, ServiceError> {
        let text = std::fs::read_to_string(config)
            .map_err(|e| ServiceError::internal(format!("reading the Piper voice config {config:?}: {e}")))?;
        let config: VoiceConfig = serde_json::from_str(&text)
            .map_err(|e| ServiceError::internal(format!("the Piper voice config {config:?} is invalid: {e}")))?;
        let mut ids = HashMap::new();
        for (key, value) in &config.phoneme_id_map {
            let mut chars = key.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                ids.insert(c, value.clone());
            }
        }
        let get = |c: char| ids.get(&c).cloned().unwrap_or_default();
        let (pad, bos, eos) = (get('_'), get('^'), get('$'));
        if bos.is_empty() || eos.is_empty() {
            return Err(ServiceError::internal("the Piper voice config lacks the ^ and $ phoneme ids"));
        }
        let session = cogway_core::onnx::session(onnx_runtime, model, threads)?;
        Ok(Self {
            session,
            ids,
            pad,
            bos,
            eos,
            sample_rate: config.audio.sample_rate,
            espeak_voice: config.espeak.voice,
            inference: config.inference,
            multi_speaker: config.num_speakers > 1,
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The eSpeak NG voice that phonemizes for this voice.
    pub fn espeak_voice(&self) -> &str {
        &self.espeak_voice
    }

    /// Model input ids for one sentence given as (IPA of a clause, closing punctuation) pairs.
    /// Characters the voice does not know are skipped.
    pub fn sentence_ids(&self, clauses: &[(String, char)]) -> Vec<i64> {
        let mut out = self.bos.clone();
        out.extend(&self.pad);
        let push = |c: char, out: &mut Vec<i64>| {
            if let Some(ids) = self.ids.get(&c) {
                out.extend(ids);
                out.extend(&self.pad);
            }
        };
        for (i, (ipa, punct)) in clauses.iter().enumerate() {
            for c in ipa.chars() {
                push(c, &mut out);
            }
            push(*punct, &mut out);
            if i + 1 < clauses.len() {
                push(' ', &mut out);
            }
        }
        out.extend(&self.eos);
        out
    }

    /// Runs the model on one sentence's ids. `rate` > 1 speaks faster.
    pub fn synthesize(&mut self, ids: &[i64], rate: f32) -> Result<Vec<f32>, ServiceError> {
        if ids.len() <= self.bos.len() + self.eos.len() + self.pad.len() {
            return Ok(Vec::new());
        }
        let fail = |what: &str, e: &dyn std::fmt::Display| ServiceError::internal(format!("Piper {what}: {e}"));
        let input = Array2::from_shape_vec((1, ids.len()), ids.to_vec()).map_err(|e| fail("input", &e))?;
        let lengths = Array1::from_vec(vec![ids.len() as i64]);
        let scales = Array1::from_vec(vec![
            self.inference.noise_scale,
            self.inference.length_scale / rate.max(0.1),
            self.inference.noise_w,
        ]);
        let sid = Array1::from_vec(vec![0i64]);
        let mut inputs = ort::inputs![
            "input" => TensorRef::from_array_view(&input).map_err(|e| fail("input", &e))?,
            "input_lengths" => TensorRef::from_array_view(&lengths).map_err(|e| fail("input", &e))?,
            "scales" => TensorRef::from_array_view(&scales).map_err(|e| fail("input", &e))?,
        ];
        if self.multi_speaker {
            inputs.push(("sid".into(), TensorRef::from_array_view(&sid).map_err(|e| fail("input", &e))?.into()));
        }
        let outputs = self.session.run(inputs).map_err(|e| fail("run", &e))?;
        let audio = outputs[0].try_extract_array::<f32>().map_err(|e| fail("output", &e))?;
        Ok(audio.iter().copied().collect())
    }
}
