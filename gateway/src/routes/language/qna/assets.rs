//! A question answering project's QnAs and synonyms (stored as one JSON document), with the
//! authoring API's edits (add, replace, delete) and their limits.

use cogway_core::Code;
use cogway_language::qna::knowledge_base::{Dialog, Qna};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::{ApiError, ApiResult};

/// Most QnAs a project may hold (each question and answer is embedded when it is deployed).
pub const MAX_QNAS: usize = 5_000;
/// Longest answer, in characters (Azure's limit).
const MAX_ANSWER_CHARS: usize = 25_000;
/// Most alternative questions of one QnA, and the longest one.
const MAX_QUESTIONS: usize = 100;
const MAX_QUESTION_CHARS: usize = 1_000;
/// Most metadata pairs of one QnA, and the longest key or value.
const MAX_METADATA: usize = 10;
const MAX_METADATA_CHARS: usize = 100;
/// Most follow-up prompts of one QnA (Azure's limit), and the longest prompt text.
const MAX_PROMPTS: usize = 20;
const MAX_PROMPT_CHARS: usize = 200;
/// Longest source name (Azure's limit).
const MAX_SOURCE_CHARS: usize = 300;
/// Most synonym groups, and alterations in one (Azure's limit).
pub const MAX_SYNONYM_GROUPS: usize = 1_000;
const MAX_ALTERATIONS: usize = 20;
/// The source of QnAs written through the API without one.
pub const EDITORIAL: &str = "Editorial";

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Assets {
    #[serde(default)]
    pub qnas: Vec<Qna>,
    #[serde(default)]
    pub synonyms: Vec<Vec<String>>,
    /// The id the next QnA added without one gets.
    #[serde(default = "first_id")]
    pub next_id: i64,
}

fn first_id() -> i64 {
    1
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidParameterValue, message)
}

/// A QnA as a client writes it: `id` optional when adding; prompts name their follow-up by id.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QnaInput {
    id: Option<i64>,
    #[serde(default)]
    answer: String,
    source: Option<String>,
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
    dialog: Option<DialogInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DialogInput {
    #[serde(default)]
    is_context_only: bool,
    #[serde(default)]
    prompts: Vec<PromptInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptInput {
    #[serde(default)]
    display_order: i64,
    qna_id: Option<i64>,
    #[serde(default)]
    display_text: String,
    qna: Option<Value>,
}

/// One edit of `PATCH .../qnas`.
#[derive(Debug, Deserialize)]
pub struct QnaEdit {
    op: String,
    value: QnaInput,
}

fn too_long(what: &str, max: usize) -> ApiError {
    invalid(format!("A QnA's {what} may have at most {max} characters."))
}

impl QnaInput {
    /// Checks the limits and makes the stored QnA with id `id`.
    fn into_qna(self, id: i64) -> ApiResult<Qna> {
        if self.answer.trim().is_empty() {
            return Err(invalid(format!("The QnA {id} needs an answer.")));
        }
        if self.answer.chars().count() > MAX_ANSWER_CHARS {
            return Err(too_long("answer", MAX_ANSWER_CHARS));
        }
        let questions: Vec<String> =
            self.questions.iter().map(|q| q.trim().to_string()).filter(|q| !q.is_empty()).collect();
        if questions.len() > MAX_QUESTIONS {
            return Err(invalid(format!("A QnA may have at most {MAX_QUESTIONS} questions.")));
        }
        if questions.iter().any(|q| q.chars().count() > MAX_QUESTION_CHARS) {
            return Err(too_long("questions", MAX_QUESTION_CHARS));
        }
        if self.metadata.len() > MAX_METADATA {
            return Err(invalid(format!("A QnA may have at most {MAX_METADATA} metadata pairs.")));
        }
        if self.metadata.iter().any(|(k, v)| {
            k.trim().is_empty() || k.chars().count() > MAX_METADATA_CHARS || v.chars().count() > MAX_METADATA_CHARS
        }) {
            return Err(invalid(format!(
                "Metadata keys (not empty) and values have at most {MAX_METADATA_CHARS} characters."
            )));
        }
        let source = self.source.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).unwrap_or(EDITORIAL.into());
        if source.chars().count() > MAX_SOURCE_CHARS {
            return Err(too_long("source", MAX_SOURCE_CHARS));
        }
        let dialog = match self.dialog {
            None => Dialog::default(),
            Some(d) => {
                if d.prompts.len() > MAX_PROMPTS {
                    return Err(invalid(format!("A QnA may have at most {MAX_PROMPTS} prompts.")));
                }
                let prompts = d
                    .prompts
                    .into_iter()
                    .map(|p| {
                        if p.qna.is_some() {
                            return Err(invalid(
                                "A prompt names its follow-up by qnaId: add the follow-up as a QnA of its own first.",
                            ));
                        }
                        let qna_id = p.qna_id.ok_or_else(|| invalid("A prompt needs the qnaId of its follow-up."))?;
                        let text = p.display_text.trim().to_string();
                        if text.is_empty() || text.chars().count() > MAX_PROMPT_CHARS {
                            return Err(invalid(format!(
                                "A prompt's displayText has 1 to {MAX_PROMPT_CHARS} characters."
                            )));
                        }
                        Ok(cogway_language::qna::knowledge_base::Prompt {
                            display_order: p.display_order,
                            qna_id,
                            display_text: text,
                        })
                    })
                    .collect::<ApiResult<Vec<_>>>()?;
                Dialog { is_context_only: d.is_context_only, prompts }
            }
        };
        let metadata =
            self.metadata.into_iter().map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
        Ok(Qna { id, answer: self.answer.trim().to_string(), source, questions, metadata, dialog })
    }
}

impl Assets {
    /// Applies the edits in order, all or none.
    pub fn apply(&mut self, edits: Vec<QnaEdit>) -> ApiResult<()> {
        let mut next = self.clone();
        for edit in edits {
            match edit.op.to_ascii_lowercase().as_str() {
                "add" => {
                    let id = match edit.value.id.filter(|&id| id > 0) {
                        Some(id) if next.qnas.iter().any(|q| q.id == id) => {
                            return Err(ApiError::new(Code::Conflict, format!("The QnA {id} exists already.")));
                        }
                        Some(id) => id,
                        None => next.next_id,
                    };
                    next.next_id = next.next_id.max(id + 1);
                    next.qnas.push(edit.value.into_qna(id)?);
                }
                "replace" => {
                    let id = edit.value.id.ok_or_else(|| invalid("A replace names the QnA by id."))?;
                    let at = next.position(id)?;
                    next.qnas[at] = edit.value.into_qna(id)?;
                }
                "delete" => {
                    let id = edit.value.id.ok_or_else(|| invalid("A delete names the QnA by id."))?;
                    let at = next.position(id)?;
                    next.qnas.remove(at);
                }
                other => return Err(invalid(format!("The op {other:?} is not one of add, replace, delete."))),
            }
        }
        if next.qnas.len() > MAX_QNAS {
            return Err(invalid(format!("A project may hold at most {MAX_QNAS} QnAs.")));
        }
        for qna in &next.qnas {
            if let Some(p) = qna.dialog.prompts.iter().find(|p| !next.qnas.iter().any(|q| q.id == p.qna_id)) {
                return Err(invalid(format!(
                    "The QnA {} prompts for the QnA {}, which does not exist.",
                    qna.id, p.qna_id
                )));
            }
        }
        *self = next;
        Ok(())
    }

    fn position(&self, id: i64) -> ApiResult<usize> {
        self.qnas
            .iter()
            .position(|q| q.id == id)
            .ok_or_else(|| ApiError::new(Code::NotFound, format!("The QnA {id} does not exist.")))
    }

    /// Replaces every QnA (an import): ids as given, or numbered on.
    pub fn replace_qnas(&mut self, qnas: Vec<QnaInput>) -> ApiResult<()> {
        let mut next = Assets { qnas: Vec::new(), synonyms: self.synonyms.clone(), next_id: 1 };
        let edits = qnas.into_iter().map(|value| QnaEdit { op: "add".into(), value }).collect();
        next.apply(edits)?;
        *self = next;
        Ok(())
    }

    /// Replaces the synonym groups.
    pub fn set_synonyms(&mut self, groups: Vec<Vec<String>>) -> ApiResult<()> {
        if groups.len() > MAX_SYNONYM_GROUPS {
            return Err(invalid(format!("A project may have at most {MAX_SYNONYM_GROUPS} synonym groups.")));
        }
        let mut clean = Vec::with_capacity(groups.len());
        for group in groups {
            let group: Vec<String> = group.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
            if group.len() < 2 || group.len() > MAX_ALTERATIONS {
                return Err(invalid(format!("A synonym group has 2 to {MAX_ALTERATIONS} alterations.")));
            }
            if group.iter().any(|a| a.chars().count() > MAX_METADATA_CHARS) {
                return Err(invalid(format!("An alteration has at most {MAX_METADATA_CHARS} characters.")));
            }
            clean.push(group);
        }
        self.synonyms = clean;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edits(value: Value) -> Vec<QnaEdit> {
        serde_json::from_value(value).expect("edits")
    }

    #[test]
    fn edits_number_replace_and_delete_all_or_none() {
        let mut assets = Assets { next_id: 1, ..Assets::default() };
        assets
            .apply(edits(json!([
                { "op": "add", "value": { "answer": "Ten hours.", "questions": ["How long does the battery last?"] } },
                { "op": "add", "value": { "answer": "Plug it in.", "questions": ["How do I charge it?"], "metadata": { "Topic": "power" } } },
            ])))
            .expect("adds");
        assert_eq!(assets.qnas.iter().map(|q| q.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(assets.qnas[1].metadata["topic"], "power");
        assert_eq!(assets.qnas[0].source, EDITORIAL);
        // A bad edit anywhere leaves everything as it was.
        let before = assets.clone();
        let bad = edits(json!([
            { "op": "delete", "value": { "id": 1 } },
            { "op": "replace", "value": { "id": 9, "answer": "x" } },
        ]));
        assert_eq!(assets.apply(bad).unwrap_err().0.code, Code::NotFound);
        assert_eq!(assets, before);
        // A prompt must point at a QnA that exists.
        let dangling = edits(json!([{ "op": "replace", "value": { "id": 1, "answer": "Ten hours.",
            "dialog": { "prompts": [{ "displayText": "Charging", "qnaId": 7 }] } } }]));
        assert!(assets.apply(dangling).is_err());
        assets.apply(edits(json!([{ "op": "delete", "value": { "id": 1 } }]))).expect("deletes");
        assets.apply(edits(json!([{ "op": "add", "value": { "answer": "New." } }]))).expect("adds");
        assert_eq!(assets.qnas.iter().map(|q| q.id).collect::<Vec<_>>(), [2, 3], "ids are not reused");
    }

    #[test]
    fn synonym_groups_are_checked() {
        let mut assets = Assets::default();
        assert!(assets.set_synonyms(vec![vec!["wifi".into()]]).is_err());
        assets.set_synonyms(vec![vec!["wifi".into(), " wireless network ".into()]]).expect("set");
        assert_eq!(assets.synonyms, [["wifi", "wireless network"]]);
    }
}
