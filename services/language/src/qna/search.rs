//! Answering a question from a deployed knowledge base: every QnA is scored by meaning (the
//! cosine of MiniLM sentence embeddings: the question against each of the QnA's questions, and,
//! with the default ranker, against its answer) and by words (BM25, see [`super::lexical`]); the
//! confidence is a fixed blend of the two, 1 for a question asked exactly as written.

use std::collections::HashSet;

use super::knowledge_base::{KnowledgeBase, Prompt, Qna};
use super::lexical::{Analyzer, Bm25};
use crate::embeddings::cosine;

/// Weight of meaning in the confidence; words have the rest.
const SEMANTIC_WEIGHT: f32 = 0.7;
/// Answers below this confidence are not matches (unless the request sets a threshold).
pub const MIN_CONFIDENCE: f32 = 0.3;
/// Added to the confidence of the follow-ups the previous answer prompted for.
const CONTEXT_BOOST: f32 = 0.15;
/// Most answers one query returns.
pub const MAX_TOP: usize = 50;

/// What is compared with the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ranker {
    /// Questions and answers.
    #[default]
    Default,
    /// Only the QnAs' questions.
    QuestionOnly,
}

/// How filter conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Logic {
    #[default]
    And,
    Or,
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// (key, value) pairs, compared without regard to case.
    pub metadata: Vec<(String, String)>,
    pub metadata_logic: Logic,
    /// QnAs from any of these sources.
    pub sources: Vec<String>,
    /// How the metadata and source filters combine.
    pub logic: Logic,
}

impl Filters {
    fn admits(&self, qna: &Qna) -> bool {
        let has = |(k, v): &(String, String)| {
            qna.metadata.iter().any(|(mk, mv)| mk.eq_ignore_ascii_case(k) && mv.eq_ignore_ascii_case(v))
        };
        let metadata = (!self.metadata.is_empty()).then(|| match self.metadata_logic {
            Logic::And => self.metadata.iter().all(has),
            Logic::Or => self.metadata.iter().any(has),
        });
        let source =
            (!self.sources.is_empty()).then(|| self.sources.iter().any(|s| s.eq_ignore_ascii_case(&qna.source)));
        match (metadata, source) {
            (None, None) => true,
            (Some(m), None) => m,
            (None, Some(s)) => s,
            (Some(m), Some(s)) => match self.logic {
                Logic::And => m && s,
                Logic::Or => m || s,
            },
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub question: String,
    /// Its embedding (computed by the caller, with the same model as the index).
    pub vector: Vec<f32>,
    pub top: usize,
    /// Answers below it are left out; `None`: [`MIN_CONFIDENCE`].
    pub threshold: Option<f32>,
    pub ranker: Ranker,
    pub filters: Filters,
    /// The QnA answered before (its prompts are likelier, and its context-only follow-ups possible).
    pub previous_qna: Option<i64>,
}

/// One answer: the QnA's position in the knowledge base and the confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub index: usize,
    pub confidence: f32,
}

/// A knowledge base ready to answer: its QnAs with their embeddings and lexical indexes.
pub struct Index {
    pub kb: KnowledgeBase,
    analyzer: Analyzer,
    /// Per QnA, its questions' vectors.
    question_vectors: Vec<Vec<Vec<f32>>>,
    answer_vectors: Vec<Vec<f32>>,
    questions_bm25: Bm25,
    full_bm25: Bm25,
    /// Per QnA, its questions as [`normalized_question`] gives them.
    exact: Vec<HashSet<String>>,
}

/// The confidence of a text whose meaning is `semantic` (cosine) and whose words score `lexical`
/// (normalised BM25) against the question.
pub fn blend(semantic: f32, lexical: f32) -> f32 {
    (SEMANTIC_WEIGHT * semantic.max(0.0) + (1.0 - SEMANTIC_WEIGHT) * lexical).clamp(0.0, 1.0)
}

/// A question without case, punctuation or repeated spaces, for exact matches.
pub fn normalized_question(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ").to_lowercase()
}

impl Index {
    /// `vectors` are the embeddings of [`KnowledgeBase::texts_to_embed`], in its order.
    pub fn new(kb: KnowledgeBase, vectors: Vec<Vec<f32>>) -> Result<Self, String> {
        let expected: usize = kb.qnas.iter().map(|q| q.questions.len() + 1).sum();
        if vectors.len() != expected {
            return Err(format!("{} vectors for {expected} texts", vectors.len()));
        }
        let analyzer = Analyzer::new(&kb.language, &kb.synonyms);
        let mut vectors = vectors.into_iter();
        let mut question_vectors = Vec::with_capacity(kb.qnas.len());
        let mut answer_vectors = Vec::with_capacity(kb.qnas.len());
        for qna in &kb.qnas {
            question_vectors.push(vectors.by_ref().take(qna.questions.len()).collect());
            answer_vectors.push(vectors.next().unwrap_or_default());
        }
        let questions_terms: Vec<Vec<String>> =
            kb.qnas.iter().map(|q| analyzer.terms(&q.questions.join("\n"))).collect();
        let full_terms: Vec<Vec<String>> = kb
            .qnas
            .iter()
            .zip(&questions_terms)
            .map(|(q, terms)| terms.iter().cloned().chain(analyzer.terms(&q.answer)).collect())
            .collect();
        let exact = kb.qnas.iter().map(|q| q.questions.iter().map(|t| normalized_question(t)).collect()).collect();
        Ok(Self {
            analyzer,
            question_vectors,
            answer_vectors,
            questions_bm25: Bm25::new(questions_terms),
            full_bm25: Bm25::new(full_terms),
            exact,
            kb,
        })
    }

    /// The position of the QnA with id `id`.
    pub fn position(&self, id: i64) -> Option<usize> {
        self.kb.qnas.iter().position(|q| q.id == id)
    }

    /// The best QnAs for the query, most confident first; empty when none reaches the threshold
    /// (the caller answers the default answer).
    pub fn search(&self, query: &Query) -> Vec<Match> {
        let terms = self.analyzer.terms(&query.question);
        let lexical = match query.ranker {
            Ranker::Default => self.full_bm25.normalized_scores(&terms),
            Ranker::QuestionOnly => self.questions_bm25.normalized_scores(&terms),
        };
        let asked = normalized_question(&query.question);
        let prompts: Vec<&Prompt> = query
            .previous_qna
            .and_then(|id| self.position(id))
            .map(|i| self.kb.qnas[i].dialog.prompts.iter().collect())
            .unwrap_or_default();
        let prompt_for = |id: i64| prompts.iter().find(|p| p.qna_id == id);
        let threshold = query.threshold.unwrap_or(MIN_CONFIDENCE);
        let mut matches: Vec<Match> = self
            .kb
            .qnas
            .iter()
            .enumerate()
            .filter(|(_, qna)| query.filters.admits(qna))
            .filter(|(_, qna)| !qna.dialog.is_context_only || prompt_for(qna.id).is_some())
            .map(|(i, qna)| {
                let by_question =
                    self.question_vectors[i].iter().map(|v| cosine(&query.vector, v)).fold(0.0f32, f32::max);
                let semantic = match query.ranker {
                    Ranker::Default => by_question.max(cosine(&query.vector, &self.answer_vectors[i])),
                    Ranker::QuestionOnly => by_question,
                };
                let mut confidence = blend(semantic, lexical[i]);
                if self.exact[i].contains(&asked) {
                    confidence = 1.0;
                }
                if let Some(prompt) = prompt_for(qna.id) {
                    // A follow-up chosen by its prompt's text is the one meant.
                    let chosen = normalized_question(&prompt.display_text) == asked;
                    confidence = if chosen { 1.0 } else { confidence + CONTEXT_BOOST };
                }
                Match { index: i, confidence: confidence.clamp(0.0, 1.0) }
            })
            .filter(|m| m.confidence >= threshold)
            .collect();
        matches.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.index.cmp(&b.index)));
        matches.truncate(query.top.clamp(1, MAX_TOP));
        matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qna::knowledge_base::Dialog;

    fn qna(id: i64, question: &str, answer: &str) -> Qna {
        Qna {
            id,
            answer: answer.into(),
            questions: vec![question.into()],
            source: "Editorial".into(),
            ..Qna::default()
        }
    }

    /// Vectors that make the first text of each QnA point one way: enough to test the logic
    /// without the model (the SDK tests use MiniLM).
    fn index(kb: KnowledgeBase) -> Index {
        let dims = kb.qnas.len() + 1;
        let mut vectors = Vec::new();
        for (i, q) in kb.qnas.iter().enumerate() {
            for _ in 0..=q.questions.len() {
                let mut v = vec![0.0; dims];
                v[i] = 1.0;
                vectors.push(v);
            }
        }
        Index::new(kb, vectors).expect("index")
    }

    fn toward(i: usize, dims: usize) -> Vec<f32> {
        let mut v = vec![0.0; dims];
        v[i] = 0.9;
        v[dims - 1] = 0.436;
        v
    }

    #[test]
    fn meaning_words_filters_and_context_decide() {
        let mut battery = qna(1, "How long does the battery last?", "About ten hours.");
        battery.metadata.insert("product".into(), "Surface".into());
        battery.dialog = Dialog {
            is_context_only: false,
            prompts: vec![Prompt { display_order: 0, qna_id: 3, display_text: "Charging".into() }],
        };
        let password = qna(2, "How do I reset my password?", "Use the login page.");
        let mut charging = qna(3, "How do I charge it?", "Plug it in overnight.");
        charging.dialog.is_context_only = true;
        let kb = KnowledgeBase { language: "en".into(), qnas: vec![battery, password, charging], ..Default::default() };
        let index = index(kb);
        let query =
            |question: &str, vector: Vec<f32>| Query { question: question.into(), vector, top: 3, ..Query::default() };

        let found = index.search(&query("What is the battery life?", toward(0, 4)));
        assert_eq!(found[0].index, 0, "{found:?}");
        assert!(found[0].confidence > 0.6 && found[0].confidence < 1.0, "{found:?}");
        // Asked exactly as written: confidence 1.
        assert_eq!(index.search(&query("how do I reset my password", toward(1, 4)))[0].confidence, 1.0);
        // Unrelated: nothing.
        assert!(index.search(&query("Where is Paris?", vec![0.0, 0.0, 0.0, 1.0])).is_empty());
        // A metadata filter that nothing else passes.
        let mut filtered = query("How do I reset my password?", toward(1, 4));
        filtered.filters.metadata = vec![("Product".into(), "surface".into())];
        assert!(index.search(&filtered).iter().all(|m| m.index == 0));
        // A context-only follow-up is found only after the QnA that prompts for it.
        assert!(index.search(&query("How do I charge it?", toward(2, 4))).is_empty());
        let mut follow_up = query("Charging", vec![0.0, 0.0, 0.0, 1.0]);
        follow_up.previous_qna = Some(1);
        assert_eq!(index.search(&follow_up)[0], Match { index: 2, confidence: 1.0 });
    }
}
