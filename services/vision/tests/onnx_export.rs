//! A custom classifier exported to ONNX, run by ONNX Runtime on the real EfficientNet-Lite0
//! model the store installs (`make models`), gives the probabilities the service gives.

use std::sync::Arc;

use cogway_vision::classifier::{INPUT_SIZE, center_crop};
use cogway_vision::custom::{self, Example};
use cogway_vision::onnx_export::{LABEL_OUTPUT, PROBABILITIES_OUTPUT, TAGS_METADATA};
use cogway_vision::{VisionConfig, VisionService};
use image::{Rgb, RgbImage};
use ndarray::Array4;
use ort::value::TensorRef;

use cogway_core::paths::models_dir;

/// A picture of stripes or of a disc, in a colour, with some texture.
fn picture(kind: usize, shade: u8, seed: u32) -> RgbImage {
    RgbImage::from_fn(320, 240, |x, y| {
        let noise = ((x.wrapping_mul(31) ^ y.wrapping_mul(17) ^ seed) % 23) as u8;
        let on = if kind == 0 {
            (x / 16) % 2 == 0
        } else {
            let (dx, dy) = (x as i32 - 160, y as i32 - 120);
            dx * dx + dy * dy < 90 * 90
        };
        if on { Rgb([shade, 40 + noise, 200 - noise]) } else { Rgb([240 - noise, 230, 220 + noise / 2]) }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_gives_the_services_probabilities() {
    let dir = models_dir();
    let onnxruntime = dir.join("onnxruntime").join("libonnxruntime.so");
    let service = VisionService::load(&VisionConfig {
        models_dir: dir.clone(),
        onnxruntime: onnxruntime.clone(),
        threads: 2,
        queue_capacity: 8,
        max_batch: 4,
        ocr: Default::default(),
    });
    // Train on stripes against discs.
    let tags = vec!["stripes".to_string(), "discs".to_string()];
    let mut examples = Vec::new();
    for kind in 0..2 {
        for i in 0..4u8 {
            let image = Arc::new(picture(kind, 60 + i * 40, u32::from(i)));
            let embedding = service.classify(image).await.expect("classifies").embedding;
            examples.push(Example { tag: kind, embedding, id: format!("{kind}-{i}") });
        }
    }
    let (classifier, _) = custom::train(&tags, &examples).expect("trains");
    let exported = service.export_onnx(&classifier).expect("exports");

    let path = std::env::temp_dir().join(format!("cogway-export-{}.onnx", std::process::id()));
    std::fs::write(&path, &exported).expect("write");
    let mut session = cogway_core::onnx::session(&onnxruntime, &path, 1).expect("the export loads in ONNX Runtime");
    let _ = std::fs::remove_file(&path);
    let tags_metadata = session.metadata().expect("metadata").custom(TAGS_METADATA).expect("tags");
    assert_eq!(tags_metadata, r#"["stripes","discs"]"#);

    for (kind, seed) in [(0usize, 99u32), (1, 77)] {
        let image = picture(kind, 130, seed);
        let expected =
            classifier.predict(&service.classify(Arc::new(image.clone())).await.expect("classifies").embedding);
        let crop = center_crop(&image);
        let side = INPUT_SIZE as usize;
        let mut input = Array4::<f32>::zeros((1, 3, side, side));
        for (x, y, p) in crop.enumerate_pixels() {
            for c in 0..3 {
                input[[0, c, y as usize, x as usize]] = f32::from(p.0[c]);
            }
        }
        let outputs =
            session.run(ort::inputs!["image" => TensorRef::from_array_view(&input).expect("tensor")]).expect("runs");
        let (_, probabilities) = outputs[PROBABILITIES_OUTPUT].try_extract_tensor::<f32>().expect("probabilities");
        let (_, labels) = outputs[LABEL_OUTPUT].try_extract_strings().expect("labels");
        assert_eq!(labels[0], tags[kind], "the export's top class");
        assert_eq!(expected[0].tag, tags[kind], "the service's top class");
        for p in &expected {
            let index = tags.iter().position(|t| *t == p.tag).expect("tag");
            assert!(
                (probabilities[index] - p.probability).abs() < 1e-3,
                "{} vs {}",
                probabilities[index],
                p.probability
            );
        }
    }
}
