//! Question answering (the successor of QnA Maker): answers from a knowledge base of QnAs, or from
//! documents given with the question, each with an optional short answer.
//!
//! - [`knowledge_base`]: what a project holds; [`search`]: ranking a deployed knowledge base
//!   (MiniLM embeddings + BM25); [`lexical`]: the BM25 half; [`spans`]: short answers.
//! - Answers from documents rank the documents' sentences the same way.

pub mod knowledge_base;
pub mod lexical;
pub mod search;
pub mod spans;

use std::collections::HashSet;

use cogway_core::ServiceError;

use crate::LanguageService;
use crate::embeddings::cosine;
use crate::sentences::sentence_spans;
use search::{Index, Match, Query};

/// A question as short answers compare with it.
struct Asked<'a> {
    text: &'a str,
    vector: &'a [f32],
    analyzer: &'a lexical::Analyzer,
}

/// A short answer: its byte range in the text it was taken from, and its confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub range: (usize, usize),
    pub confidence: f32,
}

/// Asking for short answers.
#[derive(Debug, Clone, Copy)]
pub struct SpanRequest {
    /// Short answers below this confidence are left out.
    pub threshold: f32,
    /// How many of the best answers get one.
    pub top: usize,
}

/// An answer of a knowledge base, with its short answer if asked for.
#[derive(Debug, Clone)]
pub struct KbAnswer {
    pub found: Match,
    pub span: Option<Span>,
}

/// A document given with the question.
#[derive(Debug, Clone)]
pub struct TextRecord {
    pub id: String,
    pub text: String,
}

/// An answer taken from the documents: one or two sentences of one of them.
#[derive(Debug, Clone)]
pub struct TextAnswer {
    /// Which record.
    pub record: usize,
    /// The passage's byte range in the record.
    pub range: (usize, usize),
    pub confidence: f32,
    /// The short answer, as a byte range in the record.
    pub span: Option<Span>,
}

/// Most sentences the documents of one question may hold (each, and each pair, is embedded).
pub const MAX_TEXT_SENTENCES: usize = 1_000;
/// Passages whose confidences differ by less than this score alike (the longer is preferred).
const PASSAGE_TIE: f32 = 0.02;

impl LanguageService {
    /// Embeds a question (the first vector) together with other texts.
    async fn embed_with(&self, question: &str, texts: Vec<String>) -> Result<(Vec<f32>, Vec<Vec<f32>>), ServiceError> {
        let mut all = Vec::with_capacity(texts.len() + 1);
        all.push(question.to_string());
        all.extend(texts);
        let mut vectors = self.embed(all).await?.into_iter();
        let first = vectors.next().ok_or_else(|| ServiceError::internal("no embedding for the question"))?;
        Ok((first, vectors.collect()))
    }

    /// Short answers for `texts[i]`'s clauses (see [`spans::best_clause`]).
    async fn spans(&self, question: &Asked<'_>, texts: &[&str]) -> Result<Vec<Option<Span>>, ServiceError> {
        let clauses: Vec<Vec<(usize, usize)>> = texts.iter().map(|t| spans::clauses(t)).collect();
        let flat: Vec<String> =
            texts.iter().zip(&clauses).flat_map(|(t, cs)| cs.iter().map(|&(a, b)| t[a..b].to_string())).collect();
        let mut vectors = self.embed(flat).await?.into_iter();
        let asked: HashSet<String> = question.analyzer.terms(question.text).into_iter().collect();
        Ok(texts
            .iter()
            .zip(&clauses)
            .map(|(text, cs)| {
                let scores: Vec<f32> = cs
                    .iter()
                    .zip(vectors.by_ref().take(cs.len()))
                    .map(|(&(a, b), v)| {
                        let terms = question.analyzer.terms(&text[a..b]);
                        spans::clause_score(cosine(question.vector, &v), &terms, &asked)
                    })
                    .collect();
                spans::best_clause(cs, &scores).map(|(range, confidence)| Span { range, confidence })
            })
            .collect())
    }

    /// Answers `query.question` from a deployed knowledge base (the query's vector is computed
    /// here). An empty list means no match: the caller gives the default answer.
    pub async fn answer_from_knowledge_base(
        &self,
        index: &Index,
        mut query: Query,
        short: Option<SpanRequest>,
    ) -> Result<Vec<KbAnswer>, ServiceError> {
        let (vector, _) = self.embed_with(&query.question, Vec::new()).await?;
        query.vector = vector;
        let found = index.search(&query);
        let with_span = short.map_or(0, |s| s.top.min(found.len()));
        let answers: Vec<&str> = found[..with_span].iter().map(|m| index.kb.qnas[m.index].answer.as_str()).collect();
        let analyzer = lexical::Analyzer::new(&index.kb.language, &[]);
        let asked = Asked { text: &query.question, vector: &query.vector, analyzer: &analyzer };
        let spans = if answers.is_empty() { Vec::new() } else { self.spans(&asked, &answers).await? };
        let threshold = short.map_or(1.0, |s| s.threshold);
        Ok(found
            .into_iter()
            .enumerate()
            .map(|(i, found)| KbAnswer {
                found,
                span: spans.get(i).cloned().flatten().filter(|s| s.confidence >= threshold),
            })
            .collect())
    }

    /// Answers `question` from passages of `records` (each sentence, and each pair of
    /// consecutive sentences, so that a sentence that says "it" keeps what it refers to), most
    /// confident first (at most `top`, none overlapping another), each with its best clause as
    /// the short answer. Of two passages that score alike, the longer one is kept.
    pub async fn answer_from_text(
        &self,
        question: &str,
        records: &[TextRecord],
        language: &str,
        top: usize,
    ) -> Result<Vec<TextAnswer>, ServiceError> {
        let sentences: Vec<(usize, (usize, usize))> = records
            .iter()
            .enumerate()
            .flat_map(|(r, record)| sentence_spans(&record.text).into_iter().map(move |range| (r, range)))
            .collect();
        if sentences.len() > MAX_TEXT_SENTENCES {
            return Err(ServiceError::invalid(format!(
                "The documents hold {} sentences; at most {MAX_TEXT_SENTENCES} are read for one question.",
                sentences.len()
            )));
        }
        let pairs = sentences.windows(2).filter(|w| w[0].0 == w[1].0).map(|w| (w[0].0, (w[0].1.0, w[1].1.1)));
        let passages: Vec<(usize, (usize, usize))> = sentences.iter().copied().chain(pairs).collect();
        if passages.is_empty() {
            return Ok(Vec::new());
        }
        let text = |&(r, (a, b)): &(usize, (usize, usize))| &records[r].text[a..b];
        let (question_vector, vectors) =
            self.embed_with(question, passages.iter().map(|p| text(p).to_string()).collect()).await?;
        let analyzer = lexical::Analyzer::new(language, &[]);
        let bm25 = lexical::Bm25::new(passages.iter().map(|p| analyzer.terms(text(p))).collect());
        let lexical = bm25.normalized_scores(&analyzer.terms(question));
        let mut ranked: Vec<(usize, f32)> = vectors
            .iter()
            .zip(&lexical)
            .enumerate()
            .map(|(i, (v, l))| (i, search::blend(cosine(&question_vector, v), *l)))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let overlap = |i: usize, j: usize| {
            let ((r, (a, b)), (q, (c, d))) = (passages[i], passages[j]);
            r == q && a < d && c < b
        };
        let length = |i: usize| passages[i].1.1 - passages[i].1.0;
        let mut chosen: Vec<(usize, f32)> = Vec::new();
        for &(i, score) in &ranked {
            // The longest passage around this one that scores alike stands for it.
            let (best, best_score) = ranked
                .iter()
                .copied()
                .filter(|&(j, s)| s >= score - PASSAGE_TIE && overlap(i, j))
                .max_by_key(|&(j, _)| length(j))
                .unwrap_or((i, score));
            if chosen.iter().any(|&(j, _)| overlap(best, j)) {
                continue;
            }
            chosen.push((best, best_score));
            if chosen.len() >= top.clamp(1, search::MAX_TOP) {
                break;
            }
        }
        let texts: Vec<&str> = chosen.iter().map(|(i, _)| text(&passages[*i])).collect();
        let asked = Asked { text: question, vector: &question_vector, analyzer: &analyzer };
        let spans = self.spans(&asked, &texts).await?;
        Ok(chosen
            .into_iter()
            .zip(spans)
            .map(|((i, confidence), span)| {
                let (record, (start, end)) = passages[i];
                TextAnswer {
                    record,
                    range: (start, end),
                    confidence,
                    span: span
                        .map(|s| Span { range: (start + s.range.0, start + s.range.1), confidence: s.confidence }),
                }
            })
            .collect())
    }
}
