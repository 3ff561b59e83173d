//! A CLU project as Azure's authoring API imports and exports it (`assets` of kind Conversation):
//! intents, entities with their list and prebuilt components, and labelled utterances. Fields
//! this server does not use are kept (`rest`), so an export gives back what was imported.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Assets {
    #[serde(default)]
    pub intents: Vec<Intent>,
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub utterances: Vec<Utterance>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    pub category: String,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListComponent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prebuilts: Vec<Prebuilt>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ListComponent {
    #[serde(default)]
    pub sublists: Vec<Sublist>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Sublist {
    pub list_key: String,
    #[serde(default)]
    pub synonyms: Vec<Synonyms>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Synonyms {
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Prebuilt {
    pub category: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Utterance {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub intent: String,
    #[serde(default)]
    pub entities: Vec<UtteranceEntity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// A labelled entity of an utterance: offset and length in the project's `stringIndexType`
/// (bytes once [`Assets::to_bytes`] has converted them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UtteranceEntity {
    pub category: String,
    pub offset: usize,
    pub length: usize,
}

/// How offsets count: UTF-16 code units (CLU's default), Unicode code points, or text elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    Utf16,
    CodePoints,
    Graphemes,
}

impl Units {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "utf16codeunit" => Some(Self::Utf16),
            "unicodecodepoint" => Some(Self::CodePoints),
            "textelement_v8" | "textelements_v8" | "textelements" => Some(Self::Graphemes),
            _ => None,
        }
    }
}

/// The byte position of `offset` units into `text`; `None` past its end or inside a character.
pub fn byte_at(text: &str, offset: usize, units: Units) -> Option<usize> {
    use unicode_segmentation::UnicodeSegmentation;
    let mut count = 0;
    let mut boundaries: Box<dyn Iterator<Item = (usize, usize)>> = match units {
        Units::Utf16 => Box::new(text.char_indices().map(|(i, c)| (i, c.len_utf16()))),
        Units::CodePoints => Box::new(text.char_indices().map(|(i, _)| (i, 1))),
        Units::Graphemes => Box::new(text.grapheme_indices(true).map(|(i, _)| (i, 1))),
    };
    for (at, width) in boundaries.by_ref() {
        if count == offset {
            return Some(at);
        }
        count += width;
        if count > offset {
            return None;
        }
    }
    (count == offset).then_some(text.len())
}

impl Assets {
    /// The utterances' entity offsets converted from `units` to bytes; an entity outside its
    /// utterance is an error naming it.
    pub fn to_bytes(&self, units: Units) -> Result<Assets, String> {
        let mut out = self.clone();
        for (i, u) in out.utterances.iter_mut().enumerate() {
            for e in &mut u.entities {
                let start = byte_at(&u.text, e.offset, units);
                let end = byte_at(&u.text, e.offset + e.length, units);
                match (start, end) {
                    (Some(s), Some(t)) if t > s => {
                        e.offset = s;
                        e.length = t - s;
                    }
                    _ => {
                        return Err(format!(
                            "The entity {:?} of utterance {i} ({:?}) is not within its text.",
                            e.category, u.text
                        ));
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_convert_from_each_unit_to_bytes() {
        let text = "Café 😀 to Zürich";
        // "Zürich" starts at char 10; UTF-16 counts the emoji twice.
        assert_eq!(byte_at(text, 11, Units::Utf16), text.find("Zürich"));
        assert_eq!(byte_at(text, 10, Units::CodePoints), text.find("Zürich"));
        assert_eq!(byte_at(text, 10, Units::Graphemes), text.find("Zürich"));
        assert_eq!(byte_at(text, 6, Units::Utf16), None, "inside the emoji");
        assert_eq!(byte_at(text, 16, Units::CodePoints), Some(text.len()));
        assert_eq!(byte_at(text, 17, Units::CodePoints), None);
    }
}
