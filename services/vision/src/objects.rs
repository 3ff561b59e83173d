//! Objects and people: NanoDet-m (COCO, 80 classes), converted from TF.js by the model store.
//!
//! The network sees the image resized to 416 x 416 (RGB 0..255; its normalisation is folded into
//! the graph) and answers, on grids of stride 8, 16 and 32, a sigmoid score per class and, per
//! side of the box (left, top, right, bottom), 11 logits over distances 0..10 strides from the
//! cell: the distance is the expectation of their softmax (generalized focal loss). Decoding and
//! per-class NMS are written here; people are the `person` class.

use std::path::Path;
use std::sync::Arc;

use cogway_core::{BatchModel, ServiceError};
use image::RgbImage;
use ndarray::Array4;
use ort::session::Session;
use ort::value::TensorRef;
use serde::Serialize;

use crate::geometry::{BBox, nms};

pub const MODEL_NAME: &str = "nanodet-m";
const INPUT: u32 = 416;
const STRIDES: [usize; 3] = [8, 16, 32];
const BINS: usize = 11;
/// Lowest class score kept (NanoDet's demo uses 0.35).
const SCORE_THRESHOLD: f32 = 0.35;
const NMS_IOU: f32 = 0.5;
pub const PERSON: &str = "person";

#[derive(Debug, Clone, Serialize)]
pub struct DetectedObject {
    pub rect: BBox,
    pub name: String,
    pub confidence: f32,
}

pub type ObjectWorker = cogway_core::Worker<Arc<RgbImage>, Vec<DetectedObject>>;

pub struct ObjectModel {
    session: Session,
    labels: Vec<String>,
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("object detector {what}: {e}"))
}

/// The expected distance of one side, in strides: softmax over the bins, then their mean.
fn distance(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0.0f32, 0.0f32);
    for (i, l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    if sum > 0.0 { weighted / sum } else { 0.0 }
}

/// Detections of one stride's outputs, in the network's 416 x 416 pixels.
pub fn decode_stride(scores: &[f32], boxes: &[f32], stride: usize, classes: usize) -> Vec<(usize, f32, BBox)> {
    let grid = INPUT as usize / stride;
    let cells = grid * grid;
    let mut out = Vec::new();
    if scores.len() < cells * classes || boxes.len() < cells * 4 * BINS {
        return out;
    }
    for cell in 0..cells {
        let row = &scores[cell * classes..(cell + 1) * classes];
        for (class, &score) in row.iter().enumerate() {
            if score <= SCORE_THRESHOLD {
                continue;
            }
            let (cx, cy) = (((cell % grid) * stride) as f32, ((cell / grid) * stride) as f32);
            let side = |k: usize| {
                let start = cell * 4 * BINS + k * BINS;
                distance(&boxes[start..start + BINS]) * stride as f32
            };
            out.push((class, score, BBox::from_corners(cx - side(0), cy - side(1), cx + side(2), cy + side(3))));
        }
    }
    out
}

impl ObjectModel {
    pub fn load(onnxruntime: &Path, model_dir: &Path, threads: usize) -> Result<Self, ServiceError> {
        let (file, labels_file) = (model_dir.join("model.onnx"), model_dir.join("labels.txt"));
        if !file.exists() || !labels_file.exists() {
            return Err(ServiceError::model_not_ready(MODEL_NAME));
        }
        let labels: Vec<String> = std::fs::read_to_string(&labels_file)
            .map_err(|e| fail("labels", &e))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Self { session: cogway_core::onnx::session(onnxruntime, &file, threads)?, labels })
    }

    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<DetectedObject>, ServiceError> {
        let resized = crate::resize::resize(image, INPUT, INPUT);
        let side = INPUT as usize;
        let mut input = Array4::<f32>::zeros((1, 3, side, side));
        for (x, y, p) in resized.enumerate_pixels() {
            for c in 0..3 {
                input[[0, c, y as usize, x as usize]] = f32::from(p.0[c]);
            }
        }
        let tensor = TensorRef::from_array_view(&input).map_err(|e| fail("input", &e))?;
        let outputs = self.session.run(ort::inputs!["image" => tensor]).map_err(|e| fail("run", &e))?;
        let classes = self.labels.len();
        let (sx, sy) = (image.width() as f32 / INPUT as f32, image.height() as f32 / INPUT as f32);
        let mut found = Vec::new();
        for stride in STRIDES {
            let (_, scores) = outputs[format!("cls_{stride}").as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|e| fail("output", &e))?;
            let (_, boxes) = outputs[format!("box_{stride}").as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|e| fail("output", &e))?;
            found.extend(decode_stride(scores, boxes, stride, classes));
        }
        let rects: Vec<BBox> = found
            .iter()
            .map(|(_, _, b)| {
                BBox::from_corners(b.x * sx, b.y * sy, b.right() * sx, b.bottom() * sy)
                    .clip(image.width() as f32, image.height() as f32)
            })
            .collect();
        let scores: Vec<f32> = found.iter().map(|(_, s, _)| *s).collect();
        let kept = nms(&rects, &scores, NMS_IOU, |a, b| found[a].0 == found[b].0);
        Ok(kept
            .into_iter()
            .filter(|&i| rects[i].area() > 0.0)
            .map(|i| DetectedObject {
                rect: rects[i],
                name: self.labels.get(found[i].0).cloned().unwrap_or_else(|| format!("class {}", found[i].0)),
                confidence: found[i].1,
            })
            .collect())
    }
}

impl BatchModel for ObjectModel {
    type Input = Arc<RgbImage>;
    type Output = Vec<DetectedObject>;

    fn run(&mut self, batch: Vec<Arc<RgbImage>>) -> Vec<Result<Vec<DetectedObject>, ServiceError>> {
        batch.iter().map(|image| self.detect(image)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_the_expectation_of_the_bins() {
        let mut sharp = [-50.0f32; BINS];
        sharp[3] = 50.0;
        assert!((distance(&sharp) - 3.0).abs() < 1e-4);
        assert!((distance(&[0.0; BINS]) - 5.0).abs() < 1e-4);
    }

    #[test]
    fn a_confident_cell_becomes_a_box_around_it() {
        let (stride, classes) = (32usize, 2usize);
        let cells = (INPUT as usize / stride).pow(2);
        let mut scores = vec![0.0f32; cells * classes];
        let mut boxes = vec![-50.0f32; cells * 4 * BINS];
        let cell = 13 + 2; // row 1, column 2 of the 13 x 13 grid
        scores[cell * classes + 1] = 0.9;
        for side in 0..4 {
            boxes[cell * 4 * BINS + side * BINS + 1] = 50.0; // one stride on every side
        }
        let found = decode_stride(&scores, &boxes, stride, classes);
        assert_eq!(found.len(), 1);
        let (class, score, b) = found[0];
        assert_eq!((class, score), (1, 0.9));
        assert!((b.x - 32.0).abs() < 1e-3 && (b.y - 0.0).abs() < 1e-3 && (b.w - 64.0).abs() < 1e-3, "{b:?}");
    }
}
