//! The lexical features the network hashes, computed as spaCy computes a lexeme's attributes:
//! NORM (a tokenizer exception's norm, else the `lexeme_norm` lookup, else spaCy's base norms,
//! else the lowercase form),
//! PREFIX (first character), SUFFIX (last three characters) and SHAPE.

use std::collections::HashMap;

use rmpv::Value;

use super::NerError;
use super::hashing::string_id;
use super::msgpack_file::{self, get, text};

/// The `lexeme_norm` table of `vocab/lookups.bin`: string id of a word -> its norm
/// ("colour" -> "color", "n't" -> "not", ...).
pub(crate) struct NormTable(HashMap<u64, String>);

impl NormTable {
    pub fn from_lookups_file(bytes: &[u8]) -> Result<Self, NerError> {
        let root = msgpack_file::parse(bytes, "vocab/lookups.bin")?;
        let table = match get(&root, "lexeme_norm") {
            Some(Value::Binary(b)) => msgpack_file::parse(b, "lexeme_norm")?,
            Some(other) => other.clone(),
            None => return Ok(Self(HashMap::new())),
        };
        // The table is either the plain map or spaCy's {"dict": map, ...} form.
        let map = get(&table, "dict").unwrap_or(&table);
        let entries = map.as_map().ok_or_else(|| NerError::Format("lexeme_norm is not a map".into()))?;
        Ok(Self(entries.iter().filter_map(|(k, v)| Some((k.as_u64()?, text(v)?.to_string()))).collect()))
    }

    fn get(&self, word: &str) -> Option<&str> {
        self.0.get(&string_id(word)).map(String::as_str)
    }
}

/// spaCy's language-independent norms (punctuation variants and currency symbols), consulted
/// after the `lexeme_norm` table and before lowercasing. Data of spaCy 3.8
/// (spacy/lang/norm_exceptions.py): the pipeline package does not carry it.
const BASE_NORMS: &[(&str, &str)] = &[
    ("'s", "'s"),
    ("'S", "'s"),
    ("’s", "'s"),
    ("’S", "'s"),
    ("’", "'"),
    ("‘", "'"),
    ("´", "'"),
    ("`", "'"),
    ("”", "\""),
    ("“", "\""),
    ("''", "\""),
    ("``", "\""),
    ("´´", "\""),
    ("„", "\""),
    ("»", "\""),
    ("«", "\""),
    ("‘‘", "\""),
    ("’’", "\""),
    ("？", "?"),
    ("！", "!"),
    ("，", ","),
    ("；", ";"),
    ("：", ":"),
    ("。", "."),
    ("।", "."),
    ("…", "..."),
    ("—", "-"),
    ("–", "-"),
    ("--", "-"),
    ("---", "-"),
    ("——", "-"),
    ("€", "$"),
    ("£", "$"),
    ("¥", "$"),
    ("฿", "$"),
    ("US$", "$"),
    ("C$", "$"),
    ("A$", "$"),
    ("₺", "$"),
    ("₹", "$"),
    ("৳", "$"),
    ("₩", "$"),
    ("Mex$", "$"),
    ("₣", "$"),
    ("E£", "$"),
];

/// The four feature ids of a token, in the model's column order (NORM, PREFIX, SUFFIX, SHAPE).
pub(crate) fn feature_ids(orth: &str, exception_norm: Option<&str>, norms: &NormTable) -> [u64; 4] {
    let norm = match exception_norm {
        Some(n) => string_id(n),
        None => match norms.get(orth).or_else(|| BASE_NORMS.iter().find(|(k, _)| *k == orth).map(|(_, v)| *v)) {
            Some(n) => string_id(n),
            None => string_id(&orth.to_lowercase()),
        },
    };
    let first = orth.char_indices().nth(1).map_or(orth.len(), |(i, _)| i);
    let chars = orth.chars().count();
    let suffix_start = orth.char_indices().nth(chars.saturating_sub(3)).map_or(0, |(i, _)| i);
    [norm, string_id(&orth[..first]), string_id(&orth[suffix_start..]), string_id(&word_shape(orth))]
}

/// Python's `str.isspace()`: Unicode White_Space plus the four ASCII separators it also counts.
pub(crate) fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.isalpha()` for one character (letter categories only).
fn py_isalpha(c: char) -> bool {
    c.is_alphabetic() && !c.is_numeric()
}

/// Python's `str.isdigit()` for one character: decimal digits and the digit-valued symbols
/// (superscripts, circled digits) rather than every numeric character.
fn py_isdigit(c: char) -> bool {
    c.is_ascii_digit()
        || (c.is_numeric() && !c.is_alphabetic() && !matches!(c, '\u{bc}'..='\u{be}' | '\u{2150}'..='\u{215f}'))
}

/// spaCy's word shape: letters become X/x, digits d, other characters stay; a run of the same
/// shape character is cut at four. Words of 100 characters or more are "LONG".
pub(crate) fn word_shape(text: &str) -> String {
    if text.chars().count() >= 100 {
        return "LONG".to_string();
    }
    let mut shape = String::with_capacity(text.len());
    let mut last = None;
    let mut run = 0;
    for c in text.chars() {
        let shape_char = if py_isalpha(c) {
            if c.is_uppercase() { 'X' } else { 'x' }
        } else if py_isdigit(c) {
            'd'
        } else {
            c
        };
        if Some(shape_char) == last {
            run += 1;
        } else {
            run = 0;
            last = Some(shape_char);
        }
        if run < 4 {
            shape.push(shape_char);
        }
    }
    shape
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_spacy() {
        assert_eq!(word_shape("Apple"), "Xxxxx");
        assert_eq!(word_shape("Satyanarayana"), "Xxxxx");
        assert_eq!(word_shape("C3PO"), "XdXX");
        assert_eq!(word_shape("$19.99"), "$dd.dd");
        assert_eq!(word_shape("2026-11-22"), "dddd-dd-dd");
        assert_eq!(word_shape(&"a".repeat(120)), "LONG");
    }

    #[test]
    fn prefix_and_suffix_count_characters_not_bytes() {
        let norms = NormTable(HashMap::new());
        let ids = feature_ids("Zürich", None, &norms);
        assert_eq!(ids[1], string_id("Z"));
        assert_eq!(ids[2], string_id("ich"));
        let ids = feature_ids("né", None, &norms);
        assert_eq!(ids[2], string_id("né"));
        assert_eq!(ids[0], string_id("né"));
    }
}
