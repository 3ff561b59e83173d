//! Tags from the ImageNet classifier: each class's readable name, plus broader tags rolled up
//! through the WordNet hierarchy (malamute -> dog -> animal).
//!
//! The model store writes `labels.json` (one entry per class: WordNet synset, name and the chain
//! of hypernym names). A broad tag's confidence is the summed probability of every class under
//! it, so a photo the model spreads over three dog breeds is still confidently a "dog". Only a
//! curated list of hypernyms become tags: most of WordNet's inner nodes ("placental", "whole",
//! "instrumentality") would mean nothing to an application.

use std::collections::HashMap;
use std::path::Path;

use cogway_core::ServiceError;
use serde::{Deserialize, Serialize};

/// Hypernyms reported as tags when a class rolls up to them.
const BROAD_TAGS: &[&str] = &[
    "animal",
    "mammal",
    "bird",
    "fish",
    "reptile",
    "amphibian",
    "insect",
    "arthropod",
    "dog",
    "cat",
    "feline",
    "canine",
    "primate",
    "monkey",
    "bear",
    "snake",
    "lizard",
    "turtle",
    "shark",
    "bird of prey",
    "aquatic bird",
    "vehicle",
    "car",
    "motor vehicle",
    "truck",
    "bicycle",
    "boat",
    "ship",
    "aircraft",
    "train",
    "food",
    "fruit",
    "vegetable",
    "dish",
    "plant",
    "flower",
    "tree",
    "fungus",
    "furniture",
    "seat",
    "clothing",
    "footwear",
    "headdress",
    "musical instrument",
    "tool",
    "weapon",
    "computer",
    "electronic equipment",
    "container",
    "building",
    "structure",
    "sports equipment",
    "ball",
    "toy",
    "kitchen utensil",
    "home appliance",
    "device",
    "geological formation",
];

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub synset: String,
    pub name: String,
    #[serde(default)]
    pub ancestors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Tag {
    pub name: String,
    pub confidence: f32,
}

pub struct Labels {
    labels: Vec<Label>,
}

impl Labels {
    pub fn load(model_dir: &Path) -> Result<Self, ServiceError> {
        let file = model_dir.join("labels.json");
        let text = std::fs::read_to_string(&file)
            .map_err(|e| ServiceError::internal(format!("cannot read {}: {e}", file.display())))?;
        let labels: Vec<Label> = serde_json::from_str(&text)
            .map_err(|e| ServiceError::internal(format!("{} is not a label list: {e}", file.display())))?;
        Ok(Self { labels })
    }

    #[cfg(test)]
    fn from_labels(labels: Vec<Label>) -> Self {
        Self { labels }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The class with the highest probability: (name, probability).
    pub fn top(&self, probabilities: &[f32]) -> Option<(&str, f32)> {
        let (i, p) = probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        self.labels.get(i).map(|l| (l.name.as_str(), *p))
    }

    /// The probability that the image shows something of the kind `ancestor` (a WordNet name
    /// such as `weapon`): the sum over the classes that are it or descend from it.
    pub fn share_under(&self, probabilities: &[f32], ancestor: &str) -> f32 {
        self.labels
            .iter()
            .zip(probabilities)
            .filter(|(label, _)| label.name == ancestor || label.ancestors.iter().any(|a| a == ancestor))
            .map(|(_, p)| *p)
            .sum::<f32>()
            .min(1.0)
    }

    /// Tags with at least `min_confidence`, most confident first: class names and broad tags.
    pub fn tags(&self, probabilities: &[f32], min_confidence: f32) -> Vec<Tag> {
        let mut scores: HashMap<&str, f32> = HashMap::new();
        for (label, &p) in self.labels.iter().zip(probabilities) {
            *scores.entry(label.name.as_str()).or_default() += p;
            let mut seen: Vec<&str> = Vec::new();
            for ancestor in &label.ancestors {
                let name = ancestor.as_str();
                if BROAD_TAGS.contains(&name) && !seen.contains(&name) && name != label.name {
                    *scores.entry(name).or_default() += p;
                    seen.push(name);
                }
            }
        }
        let mut tags: Vec<Tag> = scores
            .into_iter()
            .filter(|(_, c)| *c >= min_confidence)
            .map(|(name, c)| Tag { name: name.to_string(), confidence: c.min(1.0) })
            .collect();
        tags.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then_with(|| a.name.cmp(&b.name)));
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str, ancestors: &[&str]) -> Label {
        Label { synset: String::new(), name: name.into(), ancestors: ancestors.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn breeds_roll_up_to_dog_and_animal() {
        let labels = Labels::from_labels(vec![
            label(
                "malamute",
                &["sled dog", "working dog", "dog", "canine", "carnivore", "placental", "mammal", "animal"],
            ),
            label("husky", &["sled dog", "working dog", "dog", "canine", "carnivore", "placental", "mammal", "animal"]),
            label("tabby", &["domestic cat", "cat", "feline", "carnivore", "placental", "mammal", "animal"]),
            label("canoe", &["small boat", "boat", "vessel", "craft", "vehicle"]),
        ]);
        let tags = labels.tags(&[0.4, 0.35, 0.2, 0.05], 0.3);
        let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names[..4], ["animal", "mammal", "canine", "dog"]);
        assert!(names.contains(&"malamute") && names.contains(&"husky"));
        assert!(!names.contains(&"placental") && !names.contains(&"canoe"), "{names:?}");
        let dog = tags.iter().find(|t| t.name == "dog").expect("dog");
        assert!((dog.confidence - 0.75).abs() < 1e-6);
        assert_eq!(labels.top(&[0.4, 0.35, 0.2, 0.05]), Some(("malamute", 0.4)));
    }

    #[test]
    fn share_under_sums_the_descendants() {
        let labels = Labels::from_labels(vec![
            label("revolver", &["pistol", "firearm", "gun", "weapon", "instrument"]),
            label("rifle", &["firearm", "gun", "weapon", "instrument"]),
            label("violin", &["bowed stringed instrument", "instrument"]),
        ]);
        let share = labels.share_under(&[0.3, 0.25, 0.45], "weapon");
        assert!((share - 0.55).abs() < 1e-6);
        assert_eq!(labels.share_under(&[0.3, 0.25, 0.45], "dog"), 0.0);
    }
}
