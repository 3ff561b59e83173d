//! Reading text (OCR) with PP-OCRv6 from the `rapidocr` package: a DB text detector, an
//! orientation classifier (0 or 180 degrees per line) and a CTC recogniser, all through ONNX Runtime.
//!
//! The worker takes every image waiting; each image runs through the detector on its own (sizes
//! differ), then the lines of all of them are classified and read in shared batches.

pub mod layout;
pub mod line_crop;
pub mod recognizer;
pub mod text_detector;

use std::path::Path;
use std::sync::Arc;

use cogway_core::{BatchModel, ServiceError};
use image::RgbImage;
use ndarray::Array4;
use ort::session::Session;
use ort::value::TensorRef;

use layout::TextLine;
use line_crop::crop_line;
use recognizer::{Charset, LINE_HEIGHT};
use text_detector::{DbParams, TextBox};

pub const MODEL_NAME: &str = "ppocr-v6";
/// The orientation classifier's input width (lines are squeezed into 48 x 192).
const CLS_WIDTH: u32 = 192;
/// A line is turned when the classifier is at least this sure it is upside down (rapidocr's value).
const CLS_THRESHOLD: f32 = 0.9;
/// Longest line crop read in one piece (48 px high: a 100:1 line).
const MAX_LINE_WIDTH: u32 = 4800;
/// Lines read per recogniser call (sorted by width so a batch pads little).
const REC_BATCH: usize = 8;

/// OCR settings from the server configuration.
#[derive(Debug, Clone, Copy)]
pub struct OcrOptions {
    pub db: DbParams,
    /// Detector input: the image's shorter side is scaled up to at least this ...
    pub min_side: u32,
    /// ... and its longer side down to at most this.
    pub max_side: u32,
}

impl Default for OcrOptions {
    fn default() -> Self {
        // rapidocr scales every image's shorter side up to 736; measured on drawn text (14 to 48
        // px letters, docs/benchmarks.md), 320 reads the same lines at a fraction of the cost.
        Self { db: DbParams::default(), min_side: 320, max_side: 2400 }
    }
}

pub struct OcrModel {
    det: Session,
    cls: Session,
    rec: Session,
    charset: Charset,
    options: OcrOptions,
}

/// Images in, their text lines out.
pub type OcrWorker = cogway_core::Worker<Arc<RgbImage>, Vec<TextLine>>;

/// Writes `image` into item `n` of an NCHW tensor as PP-OCR's models take it: BGR (they were
/// trained on OpenCV's channel order), scaled to [-1, 1]. Pixels beyond the tensor are skipped.
pub fn put_bgr(tensor: &mut Array4<f32>, n: usize, image: &RgbImage) {
    let (_, _, h, w) = tensor.dim();
    for (x, y, pixel) in image.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        if x >= w || y >= h {
            continue;
        }
        for c in 0..3 {
            tensor[[n, c, y, x]] = f32::from(pixel.0[2 - c]) / 127.5 - 1.0;
        }
    }
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("OCR {what}: {e}"))
}

/// Runs a one-input model and returns its first output as (shape, data).
fn run_first(session: &mut Session, input: &Array4<f32>, what: &str) -> Result<(Vec<usize>, Vec<f32>), ServiceError> {
    let name = session.inputs().first().map(|i| i.name().to_string()).unwrap_or_else(|| "x".to_string());
    let tensor = TensorRef::from_array_view(input).map_err(|e| fail(what, &e))?;
    let outputs = session.run(ort::inputs![name.as_str() => tensor]).map_err(|e| fail(what, &e))?;
    let (shape, data) = outputs[0].try_extract_tensor::<f32>().map_err(|e| fail(what, &e))?;
    Ok((shape.iter().map(|&d| d.max(0) as usize).collect(), data.to_vec()))
}

impl OcrModel {
    pub fn load(
        onnxruntime: &Path,
        model_dir: &Path,
        threads: usize,
        options: OcrOptions,
    ) -> Result<Self, ServiceError> {
        let files = ["det.onnx", "cls.onnx", "rec.onnx"].map(|f| model_dir.join(f));
        if files.iter().any(|f| !f.exists()) {
            return Err(ServiceError::model_not_ready(MODEL_NAME));
        }
        let [det, cls, rec] = files;
        let det = cogway_core::onnx::session(onnxruntime, &det, threads)?;
        let cls = cogway_core::onnx::session(onnxruntime, &cls, threads)?;
        let rec = cogway_core::onnx::session(onnxruntime, &rec, threads)?;
        let list = rec
            .metadata()
            .ok()
            .and_then(|m| m.custom("character"))
            .ok_or_else(|| ServiceError::internal("the recogniser has no `character` list in its metadata"))?;
        let classes = rec
            .outputs()
            .first()
            .and_then(|o| o.dtype().tensor_shape().and_then(|s| s.last().copied()))
            .filter(|&d| d > 0)
            .map(|d| d as usize)
            .unwrap_or_else(|| list.split('\n').count() + 2);
        let charset = Charset::from_list(&list, classes).map_err(|e| fail("charset", &e))?;
        Ok(Self { det, cls, rec, charset, options })
    }

    /// The text lines of one image, in reading order.
    pub fn read(&mut self, image: &RgbImage) -> Result<Vec<TextLine>, ServiceError> {
        let boxes = self.detect(image)?;
        let mut lines = self.read_boxes(&[(0, image, boxes)])?;
        Ok(lines.pop().unwrap_or_default())
    }

    fn detect(&mut self, image: &RgbImage) -> Result<Vec<TextBox>, ServiceError> {
        let size =
            text_detector::input_size(image.width(), image.height(), self.options.min_side, self.options.max_side);
        let input = text_detector::input_tensor(image, size);
        let (shape, probs) = run_first(&mut self.det, &input, "detector")?;
        let (map_h, map_w) = match shape.as_slice() {
            [_, _, h, w] => (*h, *w),
            other => return Err(fail("detector", &format!("unexpected output shape {other:?}"))),
        };
        Ok(text_detector::boxes_from_map(&probs, map_w, map_h, image.width(), image.height(), &self.options.db))
    }

    /// Reads the boxes of several images together; one list of lines per image.
    fn read_boxes(&mut self, images: &[(usize, &RgbImage, Vec<TextBox>)]) -> Result<Vec<Vec<TextLine>>, ServiceError> {
        // Every line of every image, with the image it belongs to.
        let mut items: Vec<(usize, TextBox)> = Vec::new();
        for (slot, (_, _, boxes)) in images.iter().enumerate() {
            items.extend(boxes.iter().map(|b| (slot, *b)));
        }
        let upside_down = self.orientations(images, &items)?;
        let mut crops = Vec::with_capacity(items.len());
        for ((slot, text_box), flip) in items.iter_mut().zip(&upside_down) {
            if *flip {
                *text_box = text_box.turned();
            }
            crops.push(crop_line(images[*slot].1, text_box, LINE_HEIGHT, MAX_LINE_WIDTH).image);
        }
        let mut order: Vec<usize> = (0..crops.len()).collect();
        order.sort_by_key(|&i| crops[i].width());
        let mut read: Vec<Vec<recognizer::ReadChar>> = vec![Vec::new(); crops.len()];
        for chunk in order.chunks(REC_BATCH) {
            let batch: Vec<&RgbImage> = chunk.iter().map(|&i| &crops[i]).collect();
            let input = recognizer::input_tensor(&batch);
            let padded = input.shape()[3] as u32;
            let (shape, probs) = run_first(&mut self.rec, &input, "recogniser")?;
            let (steps, classes) = match shape.as_slice() {
                [_, t, c] => (*t, *c),
                other => return Err(fail("recogniser", &format!("unexpected output shape {other:?}"))),
            };
            if classes != self.charset.len() {
                return Err(fail("recogniser", &format!("{classes} classes for {} characters", self.charset.len())));
            }
            for (n, &i) in chunk.iter().enumerate() {
                let rows = &probs[n * steps * classes..(n + 1) * steps * classes];
                read[i] = recognizer::decode(rows, steps, &self.charset, crops[i].width(), padded);
            }
        }
        let mut out: Vec<Vec<TextLine>> = vec![Vec::new(); images.len()];
        for (((slot, text_box), chars), flip) in items.iter().zip(&read).zip(&upside_down) {
            if let Some(line) = layout::line(text_box, chars, *flip) {
                out[*slot].push(line);
            }
        }
        Ok(out.into_iter().map(layout::reading_order).collect())
    }

    /// For each line, whether the classifier finds it upside down.
    fn orientations(
        &mut self,
        images: &[(usize, &RgbImage, Vec<TextBox>)],
        items: &[(usize, TextBox)],
    ) -> Result<Vec<bool>, ServiceError> {
        let mut flips = Vec::with_capacity(items.len());
        for chunk in items.chunks(REC_BATCH * 2) {
            let mut input = Array4::<f32>::zeros((chunk.len(), 3, LINE_HEIGHT as usize, CLS_WIDTH as usize));
            for (n, (slot, text_box)) in chunk.iter().enumerate() {
                put_bgr(&mut input, n, &crop_line(images[*slot].1, text_box, LINE_HEIGHT, CLS_WIDTH).image);
            }
            let (shape, probs) = run_first(&mut self.cls, &input, "orientation classifier")?;
            let classes = shape.last().copied().unwrap_or(2).max(1);
            flips.extend((0..chunk.len()).map(|n| {
                let row = &probs[n * classes..(n + 1) * classes];
                row.len() == 2 && row[1] > row[0] && row[1] >= CLS_THRESHOLD
            }));
        }
        Ok(flips)
    }
}

impl BatchModel for OcrModel {
    type Input = Arc<RgbImage>;
    type Output = Vec<TextLine>;

    fn run(&mut self, batch: Vec<Arc<RgbImage>>) -> Vec<Result<Vec<TextLine>, ServiceError>> {
        // Detection per image; a failure there fails only that image.
        let mut results: Vec<Result<Vec<TextLine>, ServiceError>> = Vec::with_capacity(batch.len());
        let mut detected = Vec::new();
        for (i, image) in batch.iter().enumerate() {
            match self.detect(image) {
                Ok(boxes) => {
                    results.push(Ok(Vec::new()));
                    detected.push((i, image.as_ref(), boxes));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        match self.read_boxes(&detected) {
            Ok(lines) => {
                for ((i, _, _), lines) in detected.iter().zip(lines) {
                    results[*i] = Ok(lines);
                }
            }
            Err(e) => {
                for (i, _, _) in &detected {
                    results[*i] = Err(e.clone());
                }
            }
        }
        results
    }
}
