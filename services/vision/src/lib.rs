//! Cogway's Vision service: what is in an image (tags, objects, people, faces), the text in it
//! (OCR), where to crop it, and image classifiers trained on the user's own pictures.
//!
//! Every model runs on its own worker thread with a bounded queue (see `cogway_core::worker`);
//! this crate knows nothing of HTTP.

pub mod adult;
pub mod classifier;
pub mod custom;
pub mod document;
pub mod faces;
pub mod geometry;
pub mod image_input;
pub mod image_prescan;
pub mod objects;
pub mod ocr;
pub mod onnx_export;
pub mod resize;
pub mod service;
pub mod smart_crops;
pub mod tags;

pub use image::RgbImage;
pub use service::{VisionConfig, VisionService};
