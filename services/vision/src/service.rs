//! The Vision service: loads the models once, each on its own worker, and answers analyses.

use std::path::PathBuf;
use std::sync::Arc;

use cogway_core::{BatchModel, ModelStatus, ServiceError, Worker, WorkerStats};
use image::RgbImage;

use crate::adult::{self, AdultModel, AdultWorker};
use crate::classifier::{self, Classification, ClassifierModel, ClassifierWorker};
use crate::faces::{self, Face, FaceModel, FaceWorker};
use crate::objects::{self, DetectedObject, ObjectModel, ObjectWorker};
use crate::ocr::layout::TextLine;
use crate::ocr::{self, OcrModel, OcrOptions, OcrWorker};
use crate::tags::{Labels, Tag};

/// Tags less likely than this are not reported.
const TAG_MIN_CONFIDENCE: f32 = 0.2;

#[derive(Debug, Clone)]
pub struct VisionConfig {
    /// Where the model store puts models (`<dir>/<model>/<file>`).
    pub models_dir: PathBuf,
    /// The ONNX Runtime shared library.
    pub onnxruntime: PathBuf,
    /// Intra-op threads of each model.
    pub threads: usize,
    /// Images each worker queues before answering 503.
    pub queue_capacity: usize,
    /// Images a worker runs together.
    pub max_batch: usize,
    /// Text detector input limits.
    pub ocr: OcrOptions,
}

pub struct VisionService {
    ocr: Result<OcrWorker, ServiceError>,
    classifier: Result<ClassifierWorker, ServiceError>,
    labels: Result<Labels, ServiceError>,
    faces: Result<FaceWorker, ServiceError>,
    objects: Result<ObjectWorker, ServiceError>,
    adult: Result<AdultWorker, ServiceError>,
    /// The classifier's directory (its `model.onnx` is the base of custom classifiers' exports).
    classifier_dir: PathBuf,
}

/// Starts `model` (if it loaded) on its worker.
pub(crate) fn start<M: BatchModel>(
    name: &str,
    model: Result<M, ServiceError>,
    config: &VisionConfig,
) -> Result<Worker<M::Input, M::Output>, ServiceError> {
    let worker = model.and_then(|model| {
        Worker::spawn(name, model, config.queue_capacity, config.max_batch)
            .map_err(|e| ServiceError::internal(format!("cannot start the {name} worker: {e}")))
    });
    if let Err(e) = &worker {
        tracing::warn!(model = name, error = %e, "vision model not loaded");
    }
    worker
}

fn status<I, O>(name: &'static str, worker: &Result<Worker<I, O>, ServiceError>) -> ModelStatus {
    ModelStatus { name, ready: worker.is_ok(), detail: worker.as_ref().err().map(|e| e.message.clone()) }
}

fn ready<I, O>(worker: &Result<Worker<I, O>, ServiceError>) -> Result<&Worker<I, O>, ServiceError> {
    worker.as_ref().map_err(Clone::clone)
}

impl VisionService {
    /// Loads what it can: a missing model disables only the features that need it (they answer
    /// 503 and `/ready` says why).
    pub fn load(config: &VisionConfig) -> Arc<Self> {
        let dir = |name: &str| config.models_dir.join(name);
        let ocr = start(
            ocr::MODEL_NAME,
            OcrModel::load(&config.onnxruntime, &dir(ocr::MODEL_NAME), config.threads, config.ocr),
            config,
        );
        let classifier_dir = dir(classifier::MODEL_NAME);
        let classifier = start(
            classifier::MODEL_NAME,
            ClassifierModel::load(&config.onnxruntime, &classifier_dir, config.threads),
            config,
        );
        let labels = Labels::load(&classifier_dir);
        let faces = start(
            faces::MODEL_NAME,
            FaceModel::load(&config.onnxruntime, &dir(faces::MODEL_NAME), config.threads),
            config,
        );
        let objects = start(
            objects::MODEL_NAME,
            ObjectModel::load(&config.onnxruntime, &dir(objects::MODEL_NAME), config.threads),
            config,
        );
        let adult = start(
            adult::MODEL_NAME,
            AdultModel::load(&config.onnxruntime, &dir(adult::MODEL_NAME), config.threads),
            config,
        );
        Arc::new(Self { ocr, classifier, labels, faces, objects, adult, classifier_dir })
    }

    pub fn models(&self) -> Vec<ModelStatus> {
        let mut classifier = status(classifier::MODEL_NAME, &self.classifier);
        if let (true, Err(e)) = (classifier.ready, &self.labels) {
            classifier.ready = false;
            classifier.detail = Some(e.message.clone());
        }
        vec![
            status(ocr::MODEL_NAME, &self.ocr),
            classifier,
            status(faces::MODEL_NAME, &self.faces),
            status(objects::MODEL_NAME, &self.objects),
            status(adult::MODEL_NAME, &self.adult),
        ]
    }

    /// Calls `f` with each running worker's name and counters (for metrics).
    pub fn each_worker(&self, f: &mut dyn FnMut(&str, &WorkerStats)) {
        if let Ok(w) = &self.ocr {
            f(w.name(), w.stats());
        }
        if let Ok(w) = &self.classifier {
            f(w.name(), w.stats());
        }
        if let Ok(w) = &self.faces {
            f(w.name(), w.stats());
        }
        if let Ok(w) = &self.objects {
            f(w.name(), w.stats());
        }
        if let Ok(w) = &self.adult {
            f(w.name(), w.stats());
        }
    }

    /// The text lines of an image, in reading order.
    pub async fn read(&self, image: Arc<RgbImage>) -> Result<Vec<TextLine>, ServiceError> {
        ready(&self.ocr)?.call(image).await
    }

    /// ImageNet probabilities and the embedding of an image.
    pub async fn classify(&self, image: Arc<RgbImage>) -> Result<Classification, ServiceError> {
        ready(&self.classifier)?.call(image).await
    }

    /// A custom classifier exported to ONNX with the image model it was trained on (see
    /// [`crate::onnx_export`]). Reads the base model from disk: call it off the async threads.
    pub fn export_onnx(&self, custom: &crate::custom::Classifier) -> Result<Vec<u8>, ServiceError> {
        ready(&self.classifier)?;
        let base = std::fs::read(self.classifier_dir.join("model.onnx"))
            .map_err(|e| ServiceError::internal(format!("reading the classifier model: {e}")))?;
        Ok(crate::onnx_export::with_head(&base, custom))
    }

    /// Tags: the classes the image most likely shows and the broader tags they roll up to.
    pub async fn tags(&self, image: Arc<RgbImage>) -> Result<Vec<Tag>, ServiceError> {
        let labels = self.labels.as_ref().map_err(Clone::clone)?;
        let classification = self.classify(image).await?;
        Ok(labels.tags(&classification.probabilities, TAG_MIN_CONFIDENCE))
    }

    /// The probability that the image shows something of the kind `ancestor` (a WordNet name
    /// among the classes' hypernyms, such as `weapon`).
    pub async fn share_under(&self, image: Arc<RgbImage>, ancestor: &str) -> Result<f32, ServiceError> {
        let labels = self.labels.as_ref().map_err(Clone::clone)?;
        let classification = self.classify(image).await?;
        Ok(labels.share_under(&classification.probabilities, ancestor))
    }

    /// Faces, largest first.
    pub async fn faces(&self, image: Arc<RgbImage>) -> Result<Vec<Face>, ServiceError> {
        ready(&self.faces)?.call(image).await
    }

    /// The probability that the image is adult content (nudity, sexual acts), 0 to 1.
    pub async fn adult_score(&self, image: Arc<RgbImage>) -> Result<f32, ServiceError> {
        ready(&self.adult)?.call(image).await
    }

    /// COCO objects (people included), per-class NMS applied.
    pub async fn objects(&self, image: Arc<RgbImage>) -> Result<Vec<DetectedObject>, ServiceError> {
        ready(&self.objects)?.call(image).await
    }
}
