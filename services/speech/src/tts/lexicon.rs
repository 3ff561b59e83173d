//! Custom pronunciation lexicons in W3C PLS form (what Azure's `<lexicon uri>` points at):
//! `<lexeme><grapheme>..</grapheme><alias>..</alias></lexeme>` replaces a word by other words,
//! `<lexeme><grapheme>..</grapheme><phoneme>..</phoneme></lexeme>` gives its IPA.

use std::collections::HashMap;

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

/// Most lexemes in one lexicon.
pub const MAX_LEXEMES: usize = 10_000;
/// Longest grapheme, in characters: matching tries every grapheme length at each word start.
pub const MAX_GRAPHEME_CHARS: usize = 100;
/// Longest alias or phoneme string, in characters.
pub const MAX_REPLACEMENT_CHARS: usize = 1_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LexiconError {
    #[error("The lexicon is not well-formed XML: {0}")]
    Xml(String),
    #[error("Invalid lexicon: {0}")]
    Invalid(String),
}

/// The text grew past the limit while aliases were expanded.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("With the lexicons' aliases expanded the text has more than {limit} characters.")]
pub struct ExpansionTooLong {
    pub limit: usize,
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
                        // Counted before quick-xml's duplicate check, which compares every pair.
                        if e.attributes().with_checks(false).take(33).count() > 32 {
                            return Err(LexiconError::Invalid("<lexicon> has more than 32 attributes".into()));
                        }
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
                    check_lexeme(&lexeme)?;
                    if lexicon.lexemes.len() >= MAX_LEXEMES {
                        return Err(LexiconError::Invalid(format!("more than {MAX_LEXEMES} lexemes")));
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

fn check_lexeme(lexeme: &Lexeme) -> Result<(), LexiconError> {
    if lexeme.graphemes.iter().any(|g| g.chars().count() > MAX_GRAPHEME_CHARS) {
        return Err(LexiconError::Invalid(format!("a grapheme is longer than {MAX_GRAPHEME_CHARS} characters")));
    }
    let replacement = |r: &Option<String>| r.as_ref().is_some_and(|r| r.chars().count() > MAX_REPLACEMENT_CHARS);
    if replacement(&lexeme.alias) || replacement(&lexeme.phoneme) {
        return Err(LexiconError::Invalid(format!(
            "an alias or phoneme is longer than {MAX_REPLACEMENT_CHARS} characters"
        )));
    }
    Ok(())
}

/// Every grapheme of the lexicons, for lookups by exact text (the first lexicon that defines a
/// grapheme wins), with the distinct grapheme lengths, longest first.
struct GraphemeIndex<'a> {
    by_text: HashMap<&'a str, &'a Lexeme>,
    lengths: Vec<usize>,
}

impl<'a> GraphemeIndex<'a> {
    fn new(lexicons: &'a [Lexicon]) -> Self {
        let mut by_text = HashMap::new();
        for lexeme in lexicons.iter().flat_map(|l| &l.lexemes) {
            for grapheme in lexeme.graphemes.iter().filter(|g| !g.is_empty()) {
                by_text.entry(grapheme.as_str()).or_insert(lexeme);
            }
        }
        let mut lengths: Vec<usize> = by_text.keys().map(|g| g.len()).collect();
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        lengths.dedup();
        Self { by_text, lengths }
    }
}

/// Applies lexicons to every text run of `doc`: whole-word, case-sensitive matches of a grapheme
/// become its alias text or an IPA phoneme run. Fails when the expanded text would pass
/// `max_chars` characters (checked as it grows, so aliases cannot blow up memory first).
pub fn apply(doc: &mut Document, lexicons: &[Lexicon], max_chars: usize) -> Result<(), ExpansionTooLong> {
    if lexicons.iter().all(|l| l.lexemes.is_empty()) {
        return Ok(());
    }
    let index = GraphemeIndex::new(lexicons);
    let mut total_chars = 0usize;
    let mut grow = |added: &str| -> Result<(), ExpansionTooLong> {
        total_chars += added.chars().count();
        if total_chars > max_chars { Err(ExpansionTooLong { limit: max_chars }) } else { Ok(()) }
    };
    for block in &mut doc.blocks {
        let mut items = Vec::with_capacity(block.items.len());
        for item in block.items.drain(..) {
            match item {
                Item::Text { text, prosody, lang } => {
                    let mut rest = text.as_str();
                    let mut pending = String::new();
                    while let Some((start, len, lexeme)) = find_first(rest, &index) {
                        grow(&rest[..start])?;
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
                                grow(ipa)?;
                                grow(grapheme)?;
                                items.push(Item::Phonemes {
                                    ipa: ipa.clone(),
                                    text: grapheme.to_string(),
                                    prosody,
                                    lang: lang.clone(),
                                });
                            }
                            (None, Some(alias)) => {
                                grow(alias)?;
                                pending.push_str(alias);
                            }
                            (None, None) => {
                                grow(grapheme)?;
                                pending.push_str(grapheme);
                            }
                        }
                        rest = &rest[start + len..];
                    }
                    grow(rest)?;
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
    Ok(())
}

/// The earliest whole-word match of any grapheme (longest wins at the same place): at each place
/// where a word may start, every grapheme length is looked up once, so the cost is the text's
/// length times the number of distinct lengths (at most [`MAX_GRAPHEME_CHARS`] x 4 bytes).
fn find_first<'a>(text: &str, index: &GraphemeIndex<'a>) -> Option<(usize, usize, &'a Lexeme)> {
    let mut previous: Option<char> = None;
    for (start, c) in text.char_indices() {
        let word_start = previous.is_none_or(|p| !p.is_alphanumeric());
        previous = Some(c);
        if !word_start {
            continue;
        }
        for &len in &index.lengths {
            let end = start + len;
            let Some(candidate) = text.get(start..end) else { continue };
            let Some(lexeme) = index.by_text.get(candidate) else { continue };
            if text[end..].chars().next().is_none_or(|c| !c.is_alphanumeric()) {
                return Some((start, len, lexeme));
            }
        }
    }
    None
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
        apply(&mut doc, &[lexicon], 1000).expect("within the limit");
        let items = &doc.blocks[0].items;
        assert!(matches!(&items[0], Item::Text { text, .. } if text == "by the way, "), "{items:?}");
        assert!(matches!(&items[1], Item::Phonemes { ipa, text, .. } if ipa == "ˈkɒɡweɪ" && text == "Cogway"));
        assert!(matches!(&items[2], Item::Text { text, .. } if text == " runs here. BTWX stays."));
    }

    #[test]
    fn alias_expansion_stops_at_the_limit() {
        let alias = "a long expansion ".repeat(50);
        let pls = format!("<lexicon><lexeme><grapheme>X</grapheme><alias>{alias}</alias></lexeme></lexicon>");
        let lexicon = parse(&pls).expect("parse");
        let text = "X ".repeat(5_000);
        let mut doc = ssml::parse(&format!("<speak>{text}</speak>"), "v").expect("ssml");
        assert_eq!(apply(&mut doc, &[lexicon], 20_000), Err(ExpansionTooLong { limit: 20_000 }));
    }

    #[test]
    fn many_lexemes_match_whole_words() {
        let lexemes: String = (0..MAX_LEXEMES)
            .map(|i| format!("<lexeme><grapheme>w{i}</grapheme><alias>v{i}</alias></lexeme>"))
            .collect();
        let lexicon = parse(&format!("<lexicon>{lexemes}</lexicon>")).expect("parse");
        let text: String = (0..4_000).map(|i| format!("w{} ", i * 2)).collect();
        let mut doc = ssml::parse(&format!("<speak>{text}</speak>"), "v").expect("ssml");
        apply(&mut doc, &[lexicon], 100_000).expect("within the limit");
        let Item::Text { text, .. } = &doc.blocks[0].items[0] else { panic!("{:?}", doc.blocks[0].items) };
        assert!(text.starts_with("v0 v2 v4 "), "{}", &text[..20]);
    }

    #[test]
    fn oversized_lexemes_are_refused() {
        let long = "x".repeat(MAX_GRAPHEME_CHARS + 1);
        let pls = format!("<lexicon><lexeme><grapheme>{long}</grapheme><alias>y</alias></lexeme></lexicon>");
        assert!(matches!(parse(&pls), Err(LexiconError::Invalid(_))));
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
