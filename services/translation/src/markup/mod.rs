//! Request text into pieces: Azure's dynamic dictionary markup, HTML (`textType=html`) and
//! glossaries; and pieces back into text.

use std::sync::OnceLock;

use regex::Regex;

use crate::pieces::{Piece, Segment, normalize};

mod tags;

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

/// Most elements kept whole (`script`, `code`, `notranslate`, ...) that a text may leave without
/// their end tag. An unclosed one keeps only its start tag, and every later element nests inside
/// it; real pages have a few at most, so more is refused rather than guessed at.
pub const MAX_UNCLOSED_KEPT: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkupError {
    #[error(
        "The HTML has more than {MAX_UNCLOSED_KEPT} elements that are never translated (script, style, code, pre, kbd, \
         var, samp, class=\"notranslate\", translate=\"no\") without their end tag; close them or send fewer."
    )]
    TooManyUnclosed,
}

/// HTML into pieces: tags (and untranslatable elements) are kept, text between them is decoded
/// from entities. A `<` that does not start a tag is text. Linear in the length of the text.
pub fn html(segment: Segment) -> Result<Segment, MarkupError> {
    let mut out = Vec::new();
    // Unclosed elements of the whole text (its runs between dynamic-dictionary entries).
    let mut unclosed = 0;
    for piece in segment {
        match piece {
            Piece::Keep(k) => out.push(Piece::Keep(k)),
            Piece::Text(t) => html_text(&t, &mut out, &mut unclosed)?,
        }
    }
    Ok(normalize(out))
}

fn html_text(html: &str, out: &mut Vec<Piece>, unclosed: &mut usize) -> Result<(), MarkupError> {
    let tags = tags::scan(html);
    let mut text_start = 0;
    for tag in &tags {
        if tag.start < text_start {
            // Inside an element kept whole.
            continue;
        }
        out.push(Piece::Text(html_escape::decode_html_entities(&html[text_start..tag.start]).into_owned()));
        let mut kept_end = tag.end;
        if tag.keeps_element {
            match tag.closed_by {
                Some(close) => kept_end = tags[close].end,
                None => {
                    *unclosed += 1;
                    if *unclosed > MAX_UNCLOSED_KEPT {
                        return Err(MarkupError::TooManyUnclosed);
                    }
                }
            }
        }
        out.push(Piece::Keep(html[tag.start..kept_end].to_string()));
        text_start = kept_end;
    }
    out.push(Piece::Text(html_escape::decode_html_entities(&html[text_start..]).into_owned()));
    Ok(())
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
        ))
        .expect("valid");
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
        let s = html(plain("<script>var a = '<b>';</script><!-- note -->Hi")).expect("valid");
        assert_eq!(
            s,
            vec![Piece::Keep("<script>var a = '<b>';</script><!-- note -->".into()), Piece::Text("Hi".into())]
        );
    }

    #[test]
    fn unclosed_kept_elements_keep_their_tag_up_to_a_limit() {
        let s = html(plain("<code>x <pre>y</pre> z")).expect("valid");
        assert_eq!(
            s,
            vec![
                Piece::Keep("<code>".into()),
                Piece::Text("x ".into()),
                Piece::Keep("<pre>y</pre>".into()),
                Piece::Text(" z".into())
            ]
        );
        let within = "<code>a".repeat(MAX_UNCLOSED_KEPT);
        assert_eq!(html(plain(&within)).map(|s| s.len()), Ok(2 * MAX_UNCLOSED_KEPT));
        let over = "<code>".repeat(MAX_UNCLOSED_KEPT + 1);
        assert_eq!(html(plain(&over)), Err(MarkupError::TooManyUnclosed));
        // Dynamic-dictionary entries do not reset the count.
        let entry = r#"<mstrans:dictionary translation="x">y</mstrans:dictionary>"#;
        let split = format!("{}{entry}<code>", "<code>".repeat(MAX_UNCLOSED_KEPT));
        assert_eq!(html(dynamic_dictionary(&split)), Err(MarkupError::TooManyUnclosed));
        // Unclosed elements inside an element kept whole do not count: they are never reached.
        let inside = format!("<script>{}</script>Hi", "<code>".repeat(10 * MAX_UNCLOSED_KEPT));
        assert_eq!(html(plain(&inside)).map(|s| s.len()), Ok(2));
    }

    #[test]
    fn deep_nesting_is_linear() {
        let n = 20_000;
        let started = std::time::Instant::now();
        let kept = format!("{}x{}", "<code>".repeat(n), "</code>".repeat(n));
        assert_eq!(html(plain(&kept)), Ok(vec![Piece::Keep(kept.clone())]));
        let bold = format!("{}x{}", "<b>".repeat(n), "</b>".repeat(n));
        assert_eq!(crate::pieces::text_chars(&html(plain(&bold)).expect("valid")), 1);
        let dictionary = r#"<mstrans:dictionary translation="x">"#.repeat(n);
        assert_eq!(dynamic_dictionary(&dictionary).len(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }
}
