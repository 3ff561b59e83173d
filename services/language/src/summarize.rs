//! Extractive summarization: rank sentences by closeness to the document's centroid embedding.
//!
//! Each sentence is embedded with MiniLM; the centroid of the sentence vectors stands for what the
//! document is about, and a sentence's rank score is its cosine similarity to that centroid,
//! rescaled to [0, 1] over the document. The top `count` sentences are returned, in document order
//! or by rank.

use crate::embeddings::cosine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Offset,
    Rank,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RankedSentence {
    /// Index of the sentence in the document.
    pub index: usize,
    pub rank_score: f64,
}

/// Picks `count` sentences given one L2-normalised vector per sentence.
pub fn rank(vectors: &[Vec<f32>], count: usize, sort_by: SortBy) -> Vec<RankedSentence> {
    if vectors.is_empty() || count == 0 {
        return Vec::new();
    }
    let dims = vectors[0].len();
    let mut centroid = vec![0f32; dims];
    for v in vectors {
        for (c, x) in centroid.iter_mut().zip(v) {
            *c += x;
        }
    }
    let norm = centroid.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
    centroid.iter_mut().for_each(|c| *c /= norm);
    let sims: Vec<f64> = vectors.iter().map(|v| f64::from(cosine(v, &centroid))).collect();
    let (lo, hi) = sims.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
    let scale = |s: f64| {
        if hi - lo < 1e-9 { 1.0 } else { ((s - lo) / (hi - lo) * 100.0).round() / 100.0 }
    };
    let mut ranked: Vec<RankedSentence> =
        sims.iter().enumerate().map(|(index, &s)| RankedSentence { index, rank_score: scale(s) }).collect();
    // Highest similarity first; earlier sentence wins a tie (leads tend to summarise).
    ranked.sort_by(|a, b| sims[b.index].total_cmp(&sims[a.index]).then(a.index.cmp(&b.index)));
    ranked.truncate(count);
    if sort_by == SortBy::Offset {
        ranked.sort_by_key(|r| r.index);
    }
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn the_off_topic_sentence_is_dropped() {
        let vectors = vec![unit(&[1.0, 0.1, 0.0]), unit(&[0.0, 0.0, 1.0]), unit(&[0.9, 0.2, 0.1])];
        let picked = rank(&vectors, 2, SortBy::Offset);
        assert_eq!(picked.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 2]);
        let by_rank = rank(&vectors, 3, SortBy::Rank);
        assert_eq!(by_rank.last().unwrap().index, 1);
        assert_eq!(by_rank.last().unwrap().rank_score, 0.0);
    }
}
