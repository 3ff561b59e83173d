//! Custom pronunciation lexicons in W3C PLS form (what Azure's `<lexicon uri>` points at):
//! `<lexeme><grapheme>..</grapheme><alias>..</alias></lexeme>` replaces a word by other words,
//! `<lexeme><grapheme>..</grapheme><phoneme>..</phoneme></lexeme>` gives its IPA.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde::Serialize;

use super::ssml::{Document, Item};

/// One entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lexeme {
    pub graphemes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phoneme: Option<String>,
}

/// A parsed lexicon.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Lexicon {
    pub lang: String,
    pub alphabet: String,
    pub lexemes: Vec<Lexeme>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LexiconError {
    #[error("The lexicon is not well-formed XML: {0}")]
    Xml(String),
    #[error("Invalid lexicon: {0}")]
    Invalid(String),
}

/// Parses a PLS document. Only the IPA alphabet is accepted for phonemes.
pub fn parse(pls: &str) -> Result<Lexicon, LexiconError> {
    let mut reader = Reader::from_str(pls);
    reader.config_mut().trim_text(true);
    let mut lexicon = Lexicon { alphabet: "ipa".into(), ..Lexicon::default() };
    let mut seen_root = false;
    let mut depth = 0usize;
    let mut current: Option<Lexeme> = None;
    let mut field = String::new();
    let mut text = String::new();
    let xml = |e: &dyn std::fmt::Display| LexiconError::Xml(e.to_string());
    loop {
        match reader.read_event().map_err(|e| xml(&e))? {
            Event::Start(e) => {
                depth += 1;
                let name = String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase();
                match name.as_str() {
                    "lexicon" => {
                        seen_root = true;
                        for a in e.attributes().flatten() {
                            let key = String::from_utf8_lossy(a.key.local_name().as_ref()).to_ascii_lowercase();
                            let value = a.unescape_value().map_err(|e| xml(&e))?.into_owned();
                            match key.as_str() {
                                "lang" => lexicon.lang = value,
                                "alphabet" => lexicon.alphabet = value.to_ascii_lowercase(),
                                _ => {}
                            }
                        }
                    }
                    "lexeme" => current = Some(Lexeme { graphemes: Vec::new(), alias: None, phoneme: None }),
                    _ => {}
                }
                field = name;
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml_content().map_err(|e| xml(&e))?),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| xml(&e))? {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(|e| xml(&e))?;
                    text.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""));
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                let name = String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase();
                let value = text.trim().to_string();
                if let Some(lexeme) = current.as_mut() {
                    match name.as_str() {
                        "grapheme" if !value.is_empty() => lexeme.graphemes.push(value),
                        "alias" if !value.is_empty() => lexeme.alias = Some(value),
                        "phoneme" if !value.is_empty() => lexeme.phoneme = Some(value),
                        _ => {}
                    }
                }
                if name == "lexeme"
                    && let Some(lexeme) = current.take()
                {
                    if lexeme.graphemes.is_empty() || (lexeme.alias.is_none() && lexeme.phoneme.is_none()) {
                        return Err(LexiconError::Invalid(
                            "every <lexeme> needs a <grapheme> and an <alias> or <phoneme>".into(),
                        ));
                    }
                    lexicon.lexemes.push(lexeme);
                }
                text.clear();
                field.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth > 0 {
        return Err(LexiconError::Xml("unclosed elements at the end of the document".into()));
    }
    if !seen_root {
        return Err(LexiconError::Invalid("the root element must be <lexicon>".into()));
    }
    if lexicon.alphabet != "ipa" && lexicon.lexemes.iter().any(|l| l.phoneme.is_some()) {
        return Err(LexiconError::Invalid(format!(
            "alphabet {:?} is not supported for <phoneme>; use alphabet=\"ipa\"",
            lexicon.alphabet
        )));
    }
    Ok(lexicon)
}

/// Applies lexicons to every text run of `doc`: whole-word, case-sensitive matches of a grapheme
/// become its alias text or an IPA phoneme run.
pub fn apply(doc: &mut Document, lexicons: &[Lexicon]) {
    if lexicons.iter().all(|l| l.lexemes.is_empty()) {
        return;
    }
    for block in &mut doc.blocks {
        let mut items = Vec::with_capacity(block.items.len());
        for item in block.items.drain(..) {
            match item {
                Item::Text { text, prosody, lang } => {
                    let mut rest = text.as_str();
                    let mut pending = String::new();
                    while let Some((start, len, lexeme)) = find_first(rest, lexicons) {
                        pending.push_str(&rest[..start]);
                        let grapheme = &rest[start..start + len];
                        match (&lexeme.phoneme, &lexeme.alias) {
                            (Some(ipa), _) => {
                                if !pending.is_empty() {
                                    items.push(Item::Text {
                                        text: std::mem::take(&mut pending),
                                        prosody,
                                        lang: lang.clone(),
                                    });
                                }
                                items.push(Item::Phonemes {
                                    ipa: ipa.clone(),
                                    text: grapheme.to_string(),
                                    prosody,
                                    lang: lang.clone(),
                                });
                            }
                            (None, Some(alias)) => pending.push_str(alias),
                            (None, None) => pending.push_str(grapheme),
                        }
                        rest = &rest[start + len..];
                    }
                    pending.push_str(rest);
                    if !pending.is_empty() {
                        items.push(Item::Text { text: pending, prosody, lang });
                    }
                }
                other => items.push(other),
            }
        }
        block.items = items;
    }
}

/// The earliest whole-word match of any grapheme (longest wins at the same place).
fn find_first<'a>(text: &str, lexicons: &'a [Lexicon]) -> Option<(usize, usize, &'a Lexeme)> {
    let mut best: Option<(usize, usize, &Lexeme)> = None;
    for lexeme in lexicons.iter().flat_map(|l| &l.lexemes) {
        for grapheme in &lexeme.graphemes {
            let mut from = 0;
            while let Some(pos) = text[from..].find(grapheme.as_str()) {
                let start = from + pos;
                let end = start + grapheme.len();
                let before_ok = text[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
                let after_ok = text[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
                if before_ok && after_ok {
                    let better = match best {
                        None => true,
                        Some((s, l, _)) => start < s || (start == s && grapheme.len() > l),
                    };
                    if better {
                        best = Some((start, grapheme.len(), lexeme));
                    }
                    break;
                }
                from = start + grapheme.len().max(1);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::super::ssml;
    use super::*;

    const PLS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
        <lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en-US">
          <lexeme><grapheme>BTW</grapheme><alias>by the way</alias></lexeme>
          <lexeme><grapheme>Cogway</grapheme><phoneme>ˈkɒɡweɪ</phoneme></lexeme>
        </lexicon>"#;

    #[test]
    fn aliases_and_phonemes_replace_whole_words() {
        let lexicon = parse(PLS).expect("parse");
        assert_eq!(lexicon.lexemes.len(), 2);
        let mut doc = ssml::parse("<speak>BTW, Cogway runs here. BTWX stays.</speak>", "v").expect("ssml");
        apply(&mut doc, &[lexicon]);
        let items = &doc.blocks[0].items;
        assert!(matches!(&items[0], Item::Text { text, .. } if text == "by the way, "), "{items:?}");
        assert!(matches!(&items[1], Item::Phonemes { ipa, text, .. } if ipa == "ˈkɒɡweɪ" && text == "Cogway"));
        assert!(matches!(&items[2], Item::Text { text, .. } if text == " runs here. BTWX stays."));
    }

    #[test]
    fn bad_lexicons_are_refused() {
        assert!(matches!(
            parse("<lexicon><lexeme><grapheme>x</grapheme></lexeme></lexicon>"),
            Err(LexiconError::Invalid(_))
        ));
        assert!(matches!(parse("<other/>"), Err(LexiconError::Invalid(_))));
        assert!(matches!(parse("<lexicon><lexeme>"), Err(LexiconError::Xml(_)) | Err(LexiconError::Invalid(_))));
    }
}
