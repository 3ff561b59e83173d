//! Custom image classifiers trained on the user's labelled images (Custom Vision-like).
//!
//! Each image is turned into the classifier's 1280-d embedding once, when it is uploaded; a
//! classifier is multinomial logistic regression on those embeddings (a linear layer on top of
//! a frozen EfficientNet, the usual transfer-learning recipe for a few images per class). Training
//! holds out about a fifth of each tag's images to measure precision and recall, then trains
//! again on everything for the model that is published.
//!
//! Written here rather than taken from a crate: the whole trainer is full-batch gradient descent
//! on a small softmax layer (a few dozen lines), and the ML crates that offer it (linfa, smartcore)
//! would bring their own matrix stacks for no gain.

use serde::{Deserialize, Serialize};

use cogway_core::ServiceError;

/// Fewest images per tag a project can be trained with.
pub const MIN_IMAGES_PER_TAG: usize = 2;
const EPOCHS: usize = 400;
const LEARNING_RATE: f32 = 0.5;
const L2: f32 = 1e-4;
/// The embeddings are unit vectors; scaling them makes the softmax sharp enough to learn fast.
const INPUT_SCALE: f32 = 8.0;

/// One labelled example: the tag's index and the image's embedding.
#[derive(Debug, Clone)]
pub struct Example {
    pub tag: usize,
    pub embedding: Vec<f32>,
    /// A stable id (the image's), which decides the held-out split.
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Classifier {
    pub tags: Vec<String>,
    /// One row of weights per tag.
    weights: Vec<Vec<f32>>,
    bias: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TagPerformance {
    pub name: String,
    pub precision: f32,
    pub recall: f32,
    pub held_out: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Of the held-out images, how many were classified right (micro precision = recall for
    /// single-label classification).
    pub precision: f32,
    pub recall: f32,
    /// Mean of the per-tag precisions and recalls.
    pub macro_precision: f32,
    pub macro_recall: f32,
    pub per_tag: Vec<TagPerformance>,
    pub trained_on: usize,
    pub held_out: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Prediction {
    pub tag: String,
    pub probability: f32,
}

impl Classifier {
    #[cfg(test)]
    pub(crate) fn from_parts(tags: Vec<String>, weights: Vec<Vec<f32>>, bias: Vec<f32>) -> Self {
        Self { tags, weights, bias }
    }

    /// The classifier as one linear layer on the L2-normalised embedding: weights (one row per
    /// tag, the input scale folded in) and bias; softmax of `weights . x + bias` gives the
    /// probabilities of [`Self::predict`].
    pub fn linear_layer(&self) -> (Vec<Vec<f32>>, &[f32]) {
        let weights = self.weights.iter().map(|row| row.iter().map(|w| w * INPUT_SCALE).collect()).collect();
        (weights, &self.bias)
    }

    /// Tag probabilities for one embedding, most likely first.
    pub fn predict(&self, embedding: &[f32]) -> Vec<Prediction> {
        let probs = self.probabilities(embedding);
        let mut out: Vec<Prediction> =
            self.tags.iter().zip(probs).map(|(t, p)| Prediction { tag: t.clone(), probability: p }).collect();
        out.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        out
    }

    fn probabilities(&self, x: &[f32]) -> Vec<f32> {
        let logits: Vec<f32> = self
            .weights
            .iter()
            .zip(&self.bias)
            .map(|(w, b)| b + w.iter().zip(x).map(|(w, x)| w * x * INPUT_SCALE).sum::<f32>())
            .collect();
        crate::classifier::softmax(&logits)
    }
}

/// Trains on all `examples` (tags named by `tags`).
pub fn fit(tags: &[String], examples: &[&Example]) -> Classifier {
    let dim = examples.first().map_or(0, |e| e.embedding.len());
    let classes = tags.len();
    let mut model =
        Classifier { tags: tags.to_vec(), weights: vec![vec![0.0; dim]; classes], bias: vec![0.0; classes] };
    if examples.is_empty() {
        return model;
    }
    // Each class weighs the same however many images it has.
    let mut counts = vec![0usize; classes];
    for e in examples {
        counts[e.tag] += 1;
    }
    let class_weight: Vec<f32> = counts
        .iter()
        .map(|&c| if c == 0 { 0.0 } else { examples.len() as f32 / (classes as f32 * c as f32) })
        .collect();
    let n = examples.len() as f32;
    for _ in 0..EPOCHS {
        let mut grad_w = vec![vec![0.0f32; dim]; classes];
        let mut grad_b = vec![0.0f32; classes];
        for e in examples {
            let probs = model.probabilities(&e.embedding);
            let weight = class_weight[e.tag];
            for (k, p) in probs.iter().enumerate() {
                let err = (p - if k == e.tag { 1.0 } else { 0.0 }) * weight;
                grad_b[k] += err;
                for (g, x) in grad_w[k].iter_mut().zip(&e.embedding) {
                    *g += err * x * INPUT_SCALE;
                }
            }
        }
        for k in 0..classes {
            model.bias[k] -= LEARNING_RATE * grad_b[k] / n;
            for (w, g) in model.weights[k].iter_mut().zip(&grad_w[k]) {
                *w -= LEARNING_RATE * (g / n + L2 * *w);
            }
        }
    }
    model
}

/// A stable hash of an id (FNV-1a), so the split is the same on every run.
fn stable_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Holds out about a fifth of each tag's images (at least one per tag), measures the classifier
/// trained on the rest, then trains the final classifier on everything.
pub fn train(tags: &[String], examples: &[Example]) -> Result<(Classifier, Evaluation), ServiceError> {
    if tags.len() < 2 {
        return Err(ServiceError::invalid("Training needs images of at least two tags."));
    }
    let mut by_tag: Vec<Vec<&Example>> = vec![Vec::new(); tags.len()];
    for e in examples {
        by_tag.get_mut(e.tag).ok_or_else(|| ServiceError::internal("an image has an unknown tag"))?.push(e);
    }
    if let Some((name, few)) = tags.iter().zip(&by_tag).find(|(_, imgs)| imgs.len() < MIN_IMAGES_PER_TAG) {
        return Err(ServiceError::invalid(format!(
            "The tag {name:?} has {} image(s); every tag needs at least {MIN_IMAGES_PER_TAG}.",
            few.len()
        )));
    }
    let (mut train_set, mut test_set) = (Vec::new(), Vec::new());
    for images in &mut by_tag {
        images.sort_by_key(|e| (stable_hash(&e.id), e.id.clone()));
        let hold = (images.len() / 5).max(1);
        test_set.extend(images.iter().take(hold).copied());
        train_set.extend(images.iter().skip(hold).copied());
    }
    let trial = fit(tags, &train_set);
    let evaluation = evaluate(&trial, &test_set, train_set.len());
    let all: Vec<&Example> = examples.iter().collect();
    Ok((fit(tags, &all), evaluation))
}

fn evaluate(model: &Classifier, test: &[&Example], trained_on: usize) -> Evaluation {
    let classes = model.tags.len();
    let (mut tp, mut predicted, mut actual) = (vec![0usize; classes], vec![0usize; classes], vec![0usize; classes]);
    for e in test {
        let probs = model.probabilities(&e.embedding);
        let best = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
        predicted[best] += 1;
        actual[e.tag] += 1;
        if best == e.tag {
            tp[best] += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f32 / b as f32 };
    let per_tag: Vec<TagPerformance> = (0..classes)
        .map(|k| TagPerformance {
            name: model.tags[k].clone(),
            precision: ratio(tp[k], predicted[k]),
            recall: ratio(tp[k], actual[k]),
            held_out: actual[k],
        })
        .collect();
    let correct: usize = tp.iter().sum();
    let mean = |f: &dyn Fn(&TagPerformance) -> f32| per_tag.iter().map(f).sum::<f32>() / classes.max(1) as f32;
    Evaluation {
        precision: ratio(correct, test.len()),
        recall: ratio(correct, test.len()),
        macro_precision: mean(&|t| t.precision),
        macro_recall: mean(&|t| t.recall),
        per_tag,
        trained_on,
        held_out: test.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Noisy unit vectors around one direction per class.
    fn examples(per_class: usize) -> Vec<Example> {
        let mut out = Vec::new();
        let mut seed = 7u64;
        let mut noise = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        for tag in 0..3 {
            for i in 0..per_class {
                let mut v: Vec<f32> = (0..16).map(|_| noise() * 0.6).collect();
                v[tag] += 1.0;
                out.push(Example { tag, embedding: crate::classifier::normalized(&v), id: format!("{tag}-{i}") });
            }
        }
        out
    }

    #[test]
    fn separable_classes_are_learned_and_measured() {
        let tags: Vec<String> = ["cat", "dog", "fish"].map(String::from).to_vec();
        let data = examples(10);
        let (model, evaluation) = train(&tags, &data).expect("trains");
        assert_eq!(evaluation.held_out, 6);
        assert!(evaluation.precision >= 0.8, "{evaluation:?}");
        let prediction = model.predict(&data[25].embedding);
        assert_eq!(prediction[0].tag, "fish");
        assert!(prediction[0].probability > 0.5);
        // The trained model round-trips through JSON.
        let json = serde_json::to_string(&model).expect("json");
        assert_eq!(serde_json::from_str::<Classifier>(&json).expect("parse"), model);
    }

    #[test]
    fn too_few_images_or_tags_are_refused() {
        let tags: Vec<String> = ["cat", "dog", "fish"].map(String::from).to_vec();
        let mut data = examples(10);
        data.retain(|e| e.tag != 2 || e.id == "2-0");
        assert!(train(&tags, &data).unwrap_err().message.contains("fish"));
        assert!(train(&tags[..1], &examples(3)[..3]).is_err());
    }
}
