//! Sentence embeddings: all-MiniLM-L6-v2 through ONNX Runtime, on a worker thread with batching.
//!
//! The ONNX graph (made by `models/convert/minilm_to_onnx.py`) already mean-pools and
//! L2-normalises, so its `sentence_embedding` output is the final 384-d vector and cosine
//! similarity is a dot product.

use std::path::Path;

use cogway_core::{BatchModel, ServiceError, Worker};
use ndarray::Array2;
use ort::session::Session;
use ort::value::TensorRef;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub const MODEL_NAME: &str = "all-minilm-l6-v2";
pub const DIMENSIONS: usize = 384;
/// all-MiniLM-L6-v2 was trained on 256 word pieces at most; longer input is truncated.
const MAX_TOKENS: usize = 256;
/// Texts run through the network together; sorted by length so a chunk pads little.
const CHUNK: usize = 32;

/// Texts of one request in, their vectors out.
pub type Embedder = Worker<Vec<String>, Vec<Vec<f32>>>;

pub struct EmbeddingModel {
    session: Session,
    tokenizer: Tokenizer,
}

impl EmbeddingModel {
    pub fn load(onnxruntime: &Path, model_dir: &Path, threads: usize) -> Result<Self, ServiceError> {
        let model = model_dir.join("model.onnx");
        let tokenizer_file = model_dir.join("tokenizer.json");
        if !model.exists() || !tokenizer_file.exists() {
            return Err(ServiceError::model_not_ready(MODEL_NAME));
        }
        let session = cogway_core::onnx::session(onnxruntime, &model, threads)?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_file)
            .map_err(|e| ServiceError::internal(format!("cannot read {}: {e}", tokenizer_file.display())))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| ServiceError::internal(format!("tokenizer truncation: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        Ok(Self { session, tokenizer })
    }

    /// Embeds texts (one forward pass per chunk of similar lengths), in input order.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ServiceError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(CHUNK) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (i, vector) in chunk.iter().zip(self.forward(&batch)?) {
                out[*i] = vector;
            }
        }
        Ok(out)
    }

    fn forward(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ServiceError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| ServiceError::internal(format!("embedding {what}: {e}"));
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| fail("tokenize", &e))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.get_ids().len());
        let matrix = |pick: &dyn Fn(&tokenizers::Encoding) -> Vec<i64>| -> Result<Array2<i64>, ServiceError> {
            let flat: Vec<i64> = encodings.iter().flat_map(pick).collect();
            Array2::from_shape_vec((rows, cols), flat).map_err(|e| fail("shape", &e))
        };
        let ids = matrix(&|e| e.get_ids().iter().map(|&x| i64::from(x)).collect())?;
        let mask = matrix(&|e| e.get_attention_mask().iter().map(|&x| i64::from(x)).collect())?;
        let types = matrix(&|e| e.get_type_ids().iter().map(|&x| i64::from(x)).collect())?;
        let inputs = ort::inputs![
            "input_ids" => TensorRef::from_array_view(&ids).map_err(|e| fail("input", &e))?,
            "attention_mask" => TensorRef::from_array_view(&mask).map_err(|e| fail("input", &e))?,
            "token_type_ids" => TensorRef::from_array_view(&types).map_err(|e| fail("input", &e))?,
        ];
        let outputs = self.session.run(inputs).map_err(|e| fail("run", &e))?;
        let (shape, data) =
            outputs["sentence_embedding"].try_extract_tensor::<f32>().map_err(|e| fail("output", &e))?;
        let dims = shape.get(1).copied().unwrap_or(0) as usize;
        if dims != DIMENSIONS || data.len() != rows * dims {
            return Err(ServiceError::internal(format!("embedding output has shape {shape:?}")));
        }
        Ok(data.chunks(dims).map(<[f32]>::to_vec).collect())
    }
}

impl BatchModel for EmbeddingModel {
    type Input = Vec<String>;
    type Output = Vec<Vec<f32>>;

    /// All requests waiting are flattened into one list of texts, so concurrent callers share
    /// forward passes; the vectors are handed back per request.
    fn run(&mut self, batch: Vec<Vec<String>>) -> Vec<Result<Vec<Vec<f32>>, ServiceError>> {
        let texts: Vec<&str> = batch.iter().flatten().map(String::as_str).collect();
        match self.embed(&texts) {
            Ok(vectors) => {
                let mut vectors = vectors.into_iter();
                batch.iter().map(|req| Ok(vectors.by_ref().take(req.len()).collect())).collect()
            }
            Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}

/// Cosine similarity of two L2-normalised vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
