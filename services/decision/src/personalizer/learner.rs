//! The contextual bandit's model: a linear estimate of each action's reward from its example
//! (hashed features, see `features`), learned online by importance-weighted regression on the
//! chosen action's reward (Vowpal Wabbit's `--cb_explore_adf` with the MTR estimator), with
//! AdaGrad steps. Written here: the model is a dot product and an AdaGrad update; no crate offers
//! VW's hashing and cost-sensitive reduction.

use super::features::Feature;

/// Weights are `2^DEFAULT_BITS` (Vowpal Wabbit's default `-b 18`).
pub const DEFAULT_BITS: u8 = 18;
/// Most bits a policy may ask for (`2^20` weights and sums: 8 MiB per loop in memory).
pub const MAX_BITS: u8 = 20;
/// Largest importance weight (1 / probability) an update is given, so a rare exploratory choice
/// cannot throw the model far.
const MAX_IMPORTANCE: f32 = 50.0;
const MAGIC: &[u8; 8] = b"CGWPZ001";

#[derive(Debug, thiserror::Error)]
#[error("not a Cogway Personalizer model: {0}")]
pub struct ModelFormatError(&'static str);

/// The model's weights and each weight's sum of squared gradients (AdaGrad).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    bits: u8,
    weights: Vec<f32>,
    squares: Vec<f32>,
}

impl Default for Model {
    fn default() -> Self {
        Self::new(DEFAULT_BITS)
    }
}

impl Model {
    pub fn new(bits: u8) -> Self {
        let size = 1usize << bits;
        Self { bits, weights: vec![0.0; size], squares: vec![0.0; size] }
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The estimated reward of an example.
    pub fn predict(&self, example: &[Feature]) -> f32 {
        example.iter().map(|&(i, v)| self.weights[i as usize & (self.weights.len() - 1)] * v).sum()
    }

    /// Learns from the reward of the action chosen with `probability`.
    pub fn learn(&mut self, example: &[Feature], reward: f32, probability: f32, learning_rate: f32) {
        let importance = (1.0 / probability.max(1e-6)).min(MAX_IMPORTANCE);
        let error = self.predict(example) - reward;
        if !error.is_finite() {
            return;
        }
        let mask = self.weights.len() - 1;
        for &(i, v) in example {
            let i = i as usize & mask;
            let gradient = importance * error * v;
            if !gradient.is_finite() || !(self.squares[i] + gradient * gradient).is_finite() {
                continue;
            }
            self.squares[i] += gradient * gradient;
            if self.squares[i] > 0.0 {
                self.weights[i] -= learning_rate * gradient / self.squares[i].sqrt();
            }
        }
    }

    /// The model as bytes (Cogway's own format: the non-zero entries only).
    pub fn to_bytes(&self) -> Vec<u8> {
        let used: Vec<usize> = (0..self.weights.len()).filter(|&i| self.squares[i] != 0.0).collect();
        let mut out = Vec::with_capacity(MAGIC.len() + 5 + used.len() * 12);
        out.extend_from_slice(MAGIC);
        out.push(self.bits);
        out.extend_from_slice(&(used.len() as u32).to_le_bytes());
        for i in used {
            out.extend_from_slice(&(i as u32).to_le_bytes());
            out.extend_from_slice(&self.weights[i].to_le_bytes());
            out.extend_from_slice(&self.squares[i].to_le_bytes());
        }
        out
    }

    /// Reads [`Model::to_bytes`]'s format back, checking every index and length first.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelFormatError> {
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(ModelFormatError("wrong header"))?;
        let (&bits, rest) = rest.split_first().ok_or(ModelFormatError("truncated"))?;
        if !(8..=MAX_BITS).contains(&bits) {
            return Err(ModelFormatError("bits must be 8 to 20"));
        }
        let count = rest.get(..4).ok_or(ModelFormatError("truncated"))?;
        let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as usize;
        let entries = &rest[4..];
        if entries.len() != count.saturating_mul(12) || count > 1 << bits {
            return Err(ModelFormatError("length does not match the entry count"));
        }
        let mut model = Self::new(bits);
        for entry in entries.chunks_exact(12) {
            let word = |k: usize| [entry[k], entry[k + 1], entry[k + 2], entry[k + 3]];
            let i = u32::from_le_bytes(word(0)) as usize;
            let (w, g) = (f32::from_le_bytes(word(4)), f32::from_le_bytes(word(8)));
            if i >= model.weights.len() || !w.is_finite() || !g.is_finite() || g < 0.0 {
                return Err(ModelFormatError("bad entry"));
            }
            model.weights[i] = w;
            model.squares[i] = g;
        }
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_reward_and_round_trips() {
        let mut model = Model::new(10);
        let example = [(3u32, 1.0f32), (700, 0.5)];
        for _ in 0..200 {
            model.learn(&example, 1.0, 0.5, 0.5);
        }
        assert!((model.predict(&example) - 1.0).abs() < 0.05, "{}", model.predict(&example));
        let copy = Model::from_bytes(&model.to_bytes()).unwrap();
        assert_eq!(copy, model);
        assert!(Model::from_bytes(b"CGWPZ001\x0a\xff\xff\xff\xff").is_err());
        assert!(Model::from_bytes(b"junk").is_err());
    }
}
