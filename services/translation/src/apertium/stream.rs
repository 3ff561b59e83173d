//! The Apertium stream format, in and out.
//!
//! Apertium's own deformatters (`apertium-destxt`, `-deshtml`) are separate processes that do not
//! flush per input, so a persistent pipeline cannot use them; this module does their job: text
//! runs are escaped, kept runs become superblanks (`[...]`, passed through untouched), and every
//! input ends in a blank superblank so the last word and the final full stop are flushed (without
//! it `lt-proc -b` waits for more input). On the way out, superblanks turn back into kept runs,
//! escapes are undone and the marks Apertium puts before problem words (`*` unknown, `@` no
//! bilingual entry, `#` generation error) are dropped.

use crate::pieces::{Piece, Segment, normalize};

/// Characters with a meaning in the stream; a backslash escapes them (escaping more is harmless).
const SPECIAL: &[char] = &['\\', '[', ']', '^', '$', '/', '@', '*', '<', '>', '{', '}', '#', '~', '|', '+'];

/// What every input ends with; removed again from the output.
const END: &str = "[][\\n]";

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        if c == '\0' {
            continue;
        }
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A segment as one stream input (without the null that ends it).
pub fn encode(segment: &[Piece]) -> String {
    let mut out = String::new();
    for piece in segment {
        match piece {
            Piece::Text(t) => escape_into(&mut out, t),
            Piece::Keep(k) => {
                out.push('[');
                escape_into(&mut out, k);
                out.push(']');
            }
        }
    }
    out.push_str(END);
    out
}

/// One stream output back into runs.
pub fn decode(output: &str) -> Segment {
    let output = output.strip_suffix('\n').unwrap_or(output);
    let output = output.strip_suffix(END).unwrap_or(output);
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = output.chars().peekable();
    // A mark is only a mark at the start of a word.
    let mut word_start = true;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    text.push(next);
                }
                word_start = false;
            }
            '[' => {
                let mut kept = String::new();
                while let Some(k) = chars.next() {
                    match k {
                        '\\' => {
                            if let Some(next) = chars.next() {
                                kept.push(next);
                            }
                        }
                        ']' => break,
                        other => kept.push(other),
                    }
                }
                // `[[...]]` word-bound blanks come back around a word: keep their inside only.
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                if !kept.is_empty() {
                    pieces.push(Piece::Keep(kept));
                }
                word_start = true;
            }
            '*' | '@' | '#' if word_start && chars.peek().is_some_and(|n| !n.is_whitespace()) => {}
            other => {
                word_start = other.is_whitespace() || matches!(other, '(' | '"' | '\'' | '¿' | '¡' | '-');
                text.push(other);
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    normalize(pieces.into_iter().map(tidy).collect())
}

/// Apertium's transfer rules sometimes leave a space before a comma or full stop and doubled
/// spaces where a word was dropped ("Carlos , y  vivo"): tidied in text runs. A space before a
/// "." or "," that starts a word (".NET", ",5") stays.
fn tidy(piece: Piece) -> Piece {
    let Piece::Text(text) = piece else { return piece };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' && !out.is_empty() {
            let next = chars.get(i + 1).copied();
            let after = chars.get(i + 2).copied();
            let ends_word = after.is_none_or(|a| !a.is_alphanumeric());
            match next {
                Some(' ') => continue,
                Some(',' | '.') if !out.ends_with(' ') && ends_word => continue,
                _ => {}
            }
        }
        out.push(c);
    }
    Piece::Text(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pieces::render;

    #[test]
    fn text_and_kept_runs_round_trip() {
        let seg = vec![
            Piece::Text("Price: 5$ [a/b] ^x ".into()),
            Piece::Keep("<b class=\"x\">".into()),
            Piece::Text("bold".into()),
            Piece::Keep("</b>".into()),
        ];
        let encoded = encode(&seg);
        assert!(encoded.ends_with(END));
        assert!(encoded.contains("5\\$ \\[a\\/b\\] \\^x "));
        assert_eq!(decode(&encoded), seg);
    }

    #[test]
    fn stray_spaces_are_tidied() {
        assert_eq!(render(&decode("Carlos , y  vivo en Madrid .[][\\n]")), "Carlos, y vivo en Madrid.");
        assert_eq!(render(&decode(" Hola[<b>] mundo[][\\n]")), " Hola<b> mundo");
        assert_eq!(render(&decode("Uso .NET y C , 2 ,5 .[][\\n]")), "Uso .NET y C, 2 ,5.");
    }

    #[test]
    fn marks_are_dropped_but_escaped_characters_stay() {
        let out = decode("Hola *Smartphonezzz @casa #vivió \\*real\\* 2 * 3.[][\\n]");
        assert_eq!(render(&out), "Hola Smartphonezzz casa vivió *real* 2 * 3.");
    }
}
