//! Custom text classification: a softmax (multinomial logistic regression) classifier trained on
//! the MiniLM embeddings of the user's labelled texts.
//!
//! Training is deterministic: the held-out split and the initial weights depend only on the data,
//! so the same project trains to the same model. The model is plain data (serde) that the caller
//! stores; it survives restarts with the database.

use serde::{Deserialize, Serialize};

use cogway_core::{Code, ServiceError};

/// A trained classifier: one weight row and bias per class over the embedding dimensions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Classifier {
    pub classes: Vec<String>,
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
}

/// What training reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    pub training_examples: usize,
    pub test_examples: usize,
    /// Accuracy on the held-out examples (None when there were too few to hold any out).
    pub accuracy: Option<f64>,
    /// Per class: (precision, recall) on the held-out examples.
    pub per_class: Vec<ClassScore>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClassScore {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub test_examples: usize,
}

/// One prediction: classes with confidences, best first.
pub type Prediction = Vec<(String, f64)>;

const EPOCHS: usize = 300;
const LEARNING_RATE: f32 = 0.5;
const L2: f32 = 1e-3;

/// Trains on `(vector, label)` pairs, holding out about `test_fraction` of each class (at least one
/// example per class is kept for training) to evaluate, then retrains on everything.
pub fn train(examples: &[(Vec<f32>, String)], test_fraction: f64) -> Result<(Classifier, Evaluation), ServiceError> {
    let mut classes: Vec<String> = examples.iter().map(|(_, l)| l.clone()).collect();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(ServiceError::new(
            Code::InvalidRequest,
            "Training needs labelled examples of at least two classes.",
        ));
    }
    let dims = examples[0].0.len();
    if examples.iter().any(|(v, _)| v.len() != dims) {
        return Err(ServiceError::internal("training vectors differ in length"));
    }
    let label_of = |l: &String| classes.iter().position(|c| c == l).unwrap_or(0);
    let data: Vec<(&[f32], usize)> = examples.iter().map(|(v, l)| (v.as_slice(), label_of(l))).collect();

    // Deterministic stratified split: every k-th example of a class goes to the test set.
    let mut train_set = Vec::new();
    let mut test_set = Vec::new();
    for class in 0..classes.len() {
        let members: Vec<_> = data.iter().filter(|(_, c)| *c == class).collect();
        let n_test = ((members.len() as f64) * test_fraction).floor() as usize;
        let n_test = n_test.min(members.len().saturating_sub(1));
        let step = members.len().checked_div(n_test).unwrap_or(usize::MAX);
        for (i, ex) in members.into_iter().enumerate() {
            if n_test > 0 && i % step == step - 1 && test_set.iter().filter(|(_, c)| *c == class).count() < n_test {
                test_set.push(*ex);
            } else {
                train_set.push(*ex);
            }
        }
    }

    let evaluation = if test_set.is_empty() {
        Evaluation { training_examples: train_set.len(), test_examples: 0, accuracy: None, per_class: Vec::new() }
    } else {
        let held_out = fit(&train_set, classes.clone(), dims);
        evaluate(&held_out, &test_set, train_set.len())
    };
    let model = fit(&data, classes, dims);
    Ok((model, evaluation))
}

fn fit(data: &[(&[f32], usize)], classes: Vec<String>, dims: usize) -> Classifier {
    let k = classes.len();
    let mut weights = vec![vec![0f32; dims]; k];
    let mut bias = vec![0f32; k];
    let n = data.len().max(1) as f32;
    for _ in 0..EPOCHS {
        let mut grad_w = vec![vec![0f32; dims]; k];
        let mut grad_b = vec![0f32; k];
        for (x, y) in data {
            let p = softmax(&logits(&weights, &bias, x));
            for c in 0..k {
                let err = p[c] - if c == *y { 1.0 } else { 0.0 };
                grad_b[c] += err;
                for (g, xi) in grad_w[c].iter_mut().zip(x.iter()) {
                    *g += err * xi;
                }
            }
        }
        for c in 0..k {
            bias[c] -= LEARNING_RATE * grad_b[c] / n;
            for (w, g) in weights[c].iter_mut().zip(&grad_w[c]) {
                *w -= LEARNING_RATE * (g / n + L2 * *w);
            }
        }
    }
    Classifier { classes, weights, bias }
}

fn logits(weights: &[Vec<f32>], bias: &[f32], x: &[f32]) -> Vec<f32> {
    weights.iter().zip(bias).map(|(w, b)| b + w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>()).collect()
}

fn softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().copied().fold(f32::MIN, f32::max);
    let exp: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

fn evaluate(model: &Classifier, test: &[(&[f32], usize)], training_examples: usize) -> Evaluation {
    let k = model.classes.len();
    let predicted: Vec<usize> = test.iter().map(|(x, _)| model.best(x)).collect();
    let correct = test.iter().zip(&predicted).filter(|((_, y), p)| y == *p).count();
    let per_class = (0..k)
        .map(|c| {
            let tp = test.iter().zip(&predicted).filter(|((_, y), p)| *y == c && **p == c).count() as f64;
            let predicted_c = predicted.iter().filter(|p| **p == c).count() as f64;
            let actual_c = test.iter().filter(|(_, y)| *y == c).count();
            ClassScore {
                class: model.classes[c].clone(),
                precision: if predicted_c > 0.0 { tp / predicted_c } else { 0.0 },
                recall: if actual_c > 0 { tp / actual_c as f64 } else { 0.0 },
                test_examples: actual_c,
            }
        })
        .collect();
    Evaluation {
        training_examples,
        test_examples: test.len(),
        accuracy: Some(correct as f64 / test.len() as f64),
        per_class,
    }
}

impl Classifier {
    fn best(&self, x: &[f32]) -> usize {
        let z = logits(&self.weights, &self.bias, x);
        z.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
    }

    /// Classes with their probabilities, most likely first.
    pub fn predict(&self, x: &[f32]) -> Prediction {
        let p = softmax(&logits(&self.weights, &self.bias, x));
        let mut out: Prediction = self.classes.iter().cloned().zip(p.into_iter().map(f64::from)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f32, y: f32) -> Vec<f32> {
        vec![x, y, 0.5]
    }

    #[test]
    fn separates_two_clusters_and_reports_held_out_accuracy() {
        let mut data = Vec::new();
        for i in 0..10 {
            let d = i as f32 * 0.02;
            data.push((point(1.0 - d, d), "sports".to_string()));
            data.push((point(d, 1.0 - d), "cooking".to_string()));
        }
        let (model, eval) = train(&data, 0.2).unwrap();
        assert_eq!(eval.test_examples, 4);
        assert_eq!(eval.accuracy, Some(1.0));
        assert_eq!(model.predict(&point(0.9, 0.05))[0].0, "sports");
        assert_eq!(model.predict(&point(0.1, 0.95))[0].0, "cooking");
        let total: f64 = model.predict(&point(0.5, 0.5)).iter().map(|(_, p)| p).sum();
        assert!((total - 1.0).abs() < 1e-5);
    }

    #[test]
    fn one_class_is_refused() {
        let data = vec![(point(1.0, 0.0), "a".to_string()), (point(0.9, 0.1), "a".to_string())];
        assert_eq!(train(&data, 0.2).unwrap_err().code, Code::InvalidRequest);
    }
}
