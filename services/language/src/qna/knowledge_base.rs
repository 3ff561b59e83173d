//! What a question answering project holds: question-and-answer pairs (QnAs) with their
//! alternative questions, metadata and follow-up prompts, and synonym groups. The field names are
//! those of the Azure authoring API, so the records pass through the gateway as they are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The answer given when nothing matches, unless the project sets its own.
pub const DEFAULT_ANSWER: &str = "No good match found in KB.";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Qna {
    pub id: i64,
    pub answer: String,
    /// Where the QnA came from (a file or URL name, or "Editorial" for hand-written ones).
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub dialog: Dialog,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Dialog {
    /// Answered only as a follow-up of a QnA that prompts for it.
    #[serde(default)]
    pub is_context_only: bool,
    #[serde(default)]
    pub prompts: Vec<Prompt>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    #[serde(default)]
    pub display_order: i64,
    pub qna_id: i64,
    #[serde(default)]
    pub display_text: String,
}

/// A deployed knowledge base: what queries are answered from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct KnowledgeBase {
    pub language: String,
    pub default_answer: Option<String>,
    pub qnas: Vec<Qna>,
    /// Groups of words or phrases that mean the same (Azure's `alterations`).
    pub synonyms: Vec<Vec<String>>,
}

impl KnowledgeBase {
    pub fn default_answer(&self) -> &str {
        self.default_answer.as_deref().filter(|a| !a.trim().is_empty()).unwrap_or(DEFAULT_ANSWER)
    }

    /// The texts to embed for [`super::search::Index::new`]: every QnA's questions, then its
    /// answer, QnA after QnA.
    pub fn texts_to_embed(&self) -> Vec<String> {
        self.qnas.iter().flat_map(|q| q.questions.iter().cloned().chain(std::iter::once(q.answer.clone()))).collect()
    }
}
