//! Request text into pieces: Azure's dynamic dictionary markup, HTML (`textType=html`) and
//! glossaries; and pieces back into text.

use std::sync::OnceLock;

use regex::Regex;

use crate::pieces::{Piece, Segment, normalize};

/// `<mstrans:dictionary translation="...">...</mstrans:dictionary>`: the inner text is replaced
/// by the given translation, which is kept as is.
fn dictionary_markup() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        #[allow(clippy::unwrap_used)] // a constant pattern, checked by the tests
        Regex::new(
            r#"(?is)<mstrans:dictionary\s+translation\s*=\s*(?:"([^"]*)"|'([^']*)')\s*>(.*?)</mstrans:dictionary>"#,
        )
        .unwrap()
    })
}

/// Splits out dynamic-dictionary entries from text.
pub fn dynamic_dictionary(text: &str) -> Segment {
    let mut pieces = Vec::new();
    let mut last = 0;
    for caps in dictionary_markup().captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        pieces.push(Piece::Text(text[last..whole.start()].to_string()));
        let translation = caps.get(1).or_else(|| caps.get(2)).map(|m| m.as_str()).unwrap_or("");
        pieces.push(Piece::Keep(translation.to_string()));
        last = whole.end();
    }
    pieces.push(Piece::Text(text[last..].to_string()));
    normalize(pieces)
}

/// Elements whose content is never translated.
const OPAQUE: &[&str] = &["script", "style", "code", "pre", "kbd", "var", "samp"];

/// The tag name of `<tag ...>` / `</tag>` (lower case), and whether it closes.
fn tag_name(tag: &str) -> (String, bool) {
    let inner = tag.trim_start_matches('<');
    let closing = inner.starts_with('/');
    let name: String = inner
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ':')
        .collect();
    (name.to_ascii_lowercase(), closing)
}

/// Whether an opening tag asks not to translate its element (`class="notranslate"`,
/// `translate="no"`).
fn is_notranslate(tag: &str) -> bool {
    let lower = tag.to_ascii_lowercase();
    lower.contains("notranslate") || lower.contains("translate=\"no\"") || lower.contains("translate='no'")
}

/// The end of the tag starting at `start` (`<`), quotes respected; `None` if it never closes.
fn tag_end(html: &str, start: usize) -> Option<usize> {
    if html[start..].starts_with("<!--") {
        return html[start..].find("-->").map(|i| start + i + 3);
    }
    let mut quote: Option<char> = None;
    for (i, c) in html[start + 1..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(start + 1 + i + 1),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

/// HTML into pieces: tags (and untranslatable elements) are kept, text between them is decoded
/// from entities. A `<` that does not start a tag is text.
pub fn html(segment: Segment) -> Segment {
    let mut out = Vec::new();
    for piece in segment {
        match piece {
            Piece::Keep(k) => out.push(Piece::Keep(k)),
            Piece::Text(t) => html_text(&t, &mut out),
        }
    }
    normalize(out)
}

fn html_text(html: &str, out: &mut Vec<Piece>) {
    let mut pos = 0;
    let mut text_start = 0;
    while let Some(rel) = html[pos..].find('<') {
        let start = pos + rel;
        let next = html[start + 1..].chars().next();
        let looks_like_tag = next.is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        let Some(end) = looks_like_tag.then(|| tag_end(html, start)).flatten() else {
            pos = start + 1;
            continue;
        };
        out.push(Piece::Text(html_escape::decode_html_entities(&html[text_start..start]).into_owned()));
        let tag = &html[start..end];
        let (name, closing) = tag_name(tag);
        let self_closing = tag.ends_with("/>");
        let mut kept_end = end;
        if !closing && !self_closing && (OPAQUE.contains(&name.as_str()) || is_notranslate(tag)) && !name.is_empty() {
            kept_end = element_end(html, end, &name).unwrap_or(end);
        }
        out.push(Piece::Keep(html[start..kept_end].to_string()));
        pos = kept_end;
        text_start = kept_end;
    }
    out.push(Piece::Text(html_escape::decode_html_entities(&html[text_start..]).into_owned()));
}

/// The end of the element named `name` whose opening tag ended at `from` (nesting counted).
fn element_end(html: &str, from: usize, name: &str) -> Option<usize> {
    let mut depth = 1;
    let mut pos = from;
    while let Some(rel) = html[pos..].find('<') {
        let start = pos + rel;
        let end = tag_end(html, start).unwrap_or(start + 1);
        let (tag, closing) = tag_name(&html[start..end]);
        if tag == name {
            if closing {
                depth -= 1;
                if depth == 0 {
                    return Some(end);
                }
            } else if !html[start..end].ends_with("/>") {
                depth += 1;
            }
        }
        pos = end;
    }
    None
}

/// Pieces back into HTML: translated text is escaped again, kept runs are written as they were.
pub fn render_html(segment: &[Piece]) -> String {
    let mut out = String::new();
    for piece in segment {
        match piece {
            Piece::Text(t) => out.push_str(&html_escape::encode_text(t)),
            Piece::Keep(k) => out.push_str(k),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pieces::plain;

    #[test]
    fn dynamic_dictionary_entries_are_kept() {
        let s = dynamic_dictionary(
            r#"The word <mstrans:dictionary translation="wordomatic">word</mstrans:dictionary> is a dictionary entry."#,
        );
        assert_eq!(
            s,
            vec![
                Piece::Text("The word ".into()),
                Piece::Keep("wordomatic".into()),
                Piece::Text(" is a dictionary entry.".into())
            ]
        );
    }

    #[test]
    fn html_tags_are_kept_and_entities_decoded() {
        let s = html(plain(
            r#"<p class="x">Fish &amp; chips</p><br/>a < b <span class="notranslate">Keep <b>me</b></span>"#,
        ));
        assert_eq!(
            s,
            vec![
                Piece::Keep(r#"<p class="x">"#.into()),
                Piece::Text("Fish & chips".into()),
                Piece::Keep("</p><br/>".into()),
                Piece::Text("a < b ".into()),
                Piece::Keep(r#"<span class="notranslate">Keep <b>me</b></span>"#.into()),
            ]
        );
        assert_eq!(
            render_html(&s),
            r#"<p class="x">Fish &amp; chips</p><br/>a &lt; b <span class="notranslate">Keep <b>me</b></span>"#
        );
    }

    #[test]
    fn scripts_and_comments_stay_whole() {
        let s = html(plain("<script>var a = '<b>';</script><!-- note -->Hi"));
        assert_eq!(
            s,
            vec![Piece::Keep("<script>var a = '<b>';</script><!-- note -->".into()), Piece::Text("Hi".into())]
        );
    }
}
