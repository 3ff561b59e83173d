//! Reads the text of image files with the OCR model, without the gateway:
//! `cargo run --release -p cogway-vision --example read_text -- MODELS_DIR IMAGE...`
use std::path::PathBuf;

use cogway_vision::image_input::{self, ImageLimits};
use cogway_vision::ocr::{OcrModel, OcrOptions};

/// `OCR_MIN_SIDE` / `OCR_MAX_SIDE` override the detector's input limits (for experiments).
fn ocr_options() -> OcrOptions {
    let mut options = OcrOptions::default();
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    if let Some(v) = env("OCR_MIN_SIDE") {
        options.min_side = v;
    }
    if let Some(v) = env("OCR_MAX_SIDE") {
        options.max_side = v;
    }
    options
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let models = PathBuf::from(args.next().ok_or("usage: read_text MODELS_DIR IMAGE...")?);
    let mut model =
        OcrModel::load(&models.join("onnxruntime/libonnxruntime.so"), &models.join("ppocr-v6"), 2, ocr_options())?;
    for path in args {
        let picture = image_input::decode(&std::fs::read(&path)?, &ImageLimits::default())?;
        let started = std::time::Instant::now();
        let lines = model.read(&picture.rgb)?;
        println!("{path}: {} lines in {:.0} ms", lines.len(), started.elapsed().as_secs_f64() * 1000.0);
        for line in lines {
            let words: Vec<String> = line
                .words
                .iter()
                .map(|w| {
                    format!(
                        "{}@({:.0},{:.0})-({:.0},{:.0}) {:.2}",
                        w.text, w.polygon[0].x, w.polygon[0].y, w.polygon[2].x, w.polygon[2].y, w.confidence
                    )
                })
                .collect();
            println!(
                "  {:?} conf {:.3} upside_down {} | {}",
                line.text,
                line.confidence,
                line.upside_down,
                words.join("  ")
            );
        }
    }
    Ok(())
}
