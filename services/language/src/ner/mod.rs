//! Named-entity recognition with spaCy's pretrained English pipeline (en_core_web_sm 3.8), run in
//! Rust: the pipeline's tokenizer rules, lexeme features, tok2vec network and greedy BILUO
//! transition decoder, read from the package's own files. No Python at run time.
//!
//! Files used from the pipeline directory: `tokenizer`, `vocab/lookups.bin`, `ner/model`,
//! `ner/moves`.

mod biluo;
mod hashing;
mod lexeme;
mod msgpack_file;
mod network;
mod symbols;
mod tokenizer;

use std::path::Path;

use biluo::{Actions, TokenFlags};
use lexeme::NormTable;
use network::Network;
use tokenizer::{Token, Tokenizer};

/// The pipeline's folder in the model store.
pub const MODEL_NAME: &str = "spacy-en-core-web-sm";

#[derive(Debug, thiserror::Error)]
pub enum NerError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("unexpected pipeline file content: {0}")]
    Format(String),
}

/// A recognized entity: byte offsets into the text, the OntoNotes label and a confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub start: usize,
    pub end: usize,
    pub label: String,
    pub confidence: f32,
}

pub struct EntityRecognizer {
    tokenizer: Tokenizer,
    norms: NormTable,
    network: Network,
    actions: Actions,
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, NerError> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|source| NerError::Read { path: path.display().to_string(), source })
}

impl EntityRecognizer {
    /// Loads the pipeline from its directory (the package's `en_core_web_sm-x.y.z` folder).
    pub fn load(dir: &Path) -> Result<Self, NerError> {
        let tokenizer = Tokenizer::from_file(&read(dir, "tokenizer")?)?;
        let norms = NormTable::from_lookups_file(&read(dir, "vocab/lookups.bin")?)?;
        let network = Network::load(&msgpack_file::model_nodes(&read(dir, "ner/model")?)?)?;
        let actions = Actions::from_moves_file(&read(dir, "ner/moves")?)?;
        if actions.actions.len() != network.classes() || network.context_slots() != 3 {
            return Err(NerError::Format(format!(
                "ner/moves lists {} actions, the network scores {} with {} context tokens",
                actions.actions.len(),
                network.classes(),
                network.context_slots()
            )));
        }
        Ok(Self { tokenizer, norms, network, actions })
    }

    /// Tokenizes `text` as spaCy does; byte ranges.
    pub fn tokens(&self, text: &str) -> Vec<(usize, usize)> {
        self.tokenizer.tokenize(text).iter().map(|t| (t.start, t.end)).collect()
    }

    /// Finds the entities of a document. spaCy's pipeline takes sentence boundaries from its
    /// dependency parser (not ported); here a sentence starts after a token made only of
    /// sentence-final punctuation (".", "?!", "…": abbreviations such as "St." or "U.S." are single
    /// tokens of the tokenizer's special cases, so they never end a sentence) when the next
    /// token begins with a capital letter, a digit or an opening quote.
    pub fn recognize_document(&self, text: &str) -> Vec<Entity> {
        self.recognize_documents(&[text]).pop().unwrap_or_default()
    }

    /// [`Self::recognize_document`] for several documents at once: the network runs them as
    /// one batch, which is faster than one at a time and gives the same entities.
    pub fn recognize_documents(&self, texts: &[&str]) -> Vec<Vec<Entity>> {
        let docs: Vec<(Vec<Token>, Vec<bool>)> = texts
            .iter()
            .map(|text| {
                let tokens = self.tokenizer.tokenize(text);
                let word = |t: &Token| &text[t.start..t.end];
                let mut starts = vec![false; tokens.len()];
                for (i, pair) in tokens.windows(2).enumerate() {
                    starts[i + 1] = word(&pair[0]).chars().all(|c| matches!(c, '.' | '!' | '?' | '…'))
                        && word(&pair[1])
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || "\"“‘'(".contains(c));
                }
                (tokens, starts)
            })
            .collect();
        self.run(texts, &docs)
    }

    /// Finds the entities of `text`. `sentence_starts` are byte offsets where a sentence begins
    /// (an entity never runs across one); tokens starting there are marked.
    pub fn recognize(&self, text: &str, sentence_starts: &[usize]) -> Vec<Entity> {
        let tokens = self.tokenizer.tokenize(text);
        let starts: Vec<bool> = tokens.iter().map(|t| sentence_starts.contains(&t.start)).collect();
        self.run(&[text], &[(tokens, starts)]).pop().unwrap_or_default()
    }

    fn run(&self, texts: &[&str], docs: &[(Vec<Token>, Vec<bool>)]) -> Vec<Vec<Entity>> {
        let features: Vec<Vec<[u64; 4]>> = texts
            .iter()
            .zip(docs)
            .map(|(text, (tokens, _))| {
                tokens
                    .iter()
                    .map(|t| lexeme::feature_ids(&text[t.start..t.end], t.norm.as_deref(), &self.norms))
                    .collect()
            })
            .collect();
        let scores = self.network.tokens(&features);
        let mut hidden = Vec::new();
        texts
            .iter()
            .zip(docs)
            .zip(&scores)
            .map(|((text, (tokens, sentence_starts)), scores)| {
                let flags: Vec<TokenFlags> = tokens
                    .iter()
                    .zip(sentence_starts)
                    .enumerate()
                    .map(|(i, (t, &start))| TokenFlags {
                        is_space: text[t.start..t.end].chars().all(lexeme::py_isspace),
                        sent_start: i > 0 && start,
                    })
                    .collect();
                let spans = biluo::decode(&self.actions.actions, &flags, |context, out| {
                    self.network.score(scores, &context, &mut hidden, out)
                });
                spans
                    .into_iter()
                    .map(|span| Entity {
                        start: tokens[span.start].start,
                        end: tokens[span.end - 1].end,
                        label: self.actions.labels[span.label].clone(),
                        confidence: span.confidence,
                    })
                    .collect()
            })
            .collect()
    }
}
