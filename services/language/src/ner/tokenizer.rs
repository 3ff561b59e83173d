//! spaCy's rule-based tokenizer, driven by the pipeline's own `tokenizer` file: split on
//! whitespace, then peel prefixes and suffixes off each chunk (stopping at a special case), split
//! what is left on infixes unless it is a URL, and finally re-join token runs that spell a special
//! case containing punctuation (":-)", "a.m." after a split).
//!
//! The rule patterns are Python regular expressions with look-around, so they run on fancy-regex.

use std::collections::HashMap;
use std::sync::Mutex;

use fancy_regex::Regex;
use rmpv::Value;

use super::NerError;
use super::lexeme::py_isspace;
use super::msgpack_file::{self, get, text};

/// spaCy's attribute ids in the exceptions table.
const ORTH: u64 = 65;
const NORM: u64 = 67;

/// One token: byte offsets into the text, whether a single space follows it, and the norm a
/// special case gave it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub start: usize,
    pub end: usize,
    pub space_after: bool,
    pub norm: Option<String>,
}

#[derive(Debug, Clone)]
struct Special {
    orth: String,
    norm: Option<String>,
}

pub(crate) struct Tokenizer {
    prefix: Option<Regex>,
    suffix: Option<Regex>,
    infix: Option<Regex>,
    token_match: Option<Regex>,
    url_match: Option<Regex>,
    specials: HashMap<String, Vec<Special>>,
    /// Special cases whose text the affix rules would split, as the token texts they split into,
    /// indexed by the first of those.
    rejoin: HashMap<String, Vec<Vec<String>>>,
    /// Chunks already split (the affix and infix patterns are the tokenizer's cost), as spaCy
    /// caches them; bounded, so unusual text cannot grow it without limit.
    cache: Mutex<HashMap<String, Pieces>>,
}

const CACHE_ENTRIES: usize = 100_000;

fn compile(root: &Value, key: &str) -> Result<Option<Regex>, NerError> {
    match get(root, key) {
        None | Some(Value::Nil) => Ok(None),
        Some(v) => {
            let pattern = text(v).ok_or_else(|| NerError::Format(format!("tokenizer {key} is not a string")))?;
            Regex::new(pattern).map(Some).map_err(|e| NerError::Format(format!("tokenizer {key}: {e}")))
        }
    }
}

/// Pieces of one whitespace-free chunk, as byte ranges relative to the chunk, plus norms.
type Pieces = Vec<(usize, usize, Option<String>)>;

impl Tokenizer {
    pub fn from_file(bytes: &[u8]) -> Result<Self, NerError> {
        let root = msgpack_file::parse(bytes, "tokenizer")?;
        let mut tokenizer = Self {
            prefix: compile(&root, "prefix_search")?,
            suffix: compile(&root, "suffix_search")?,
            infix: compile(&root, "infix_finditer")?,
            token_match: compile(&root, "token_match")?,
            url_match: compile(&root, "url_match")?,
            specials: HashMap::new(),
            rejoin: HashMap::new(),
            cache: Mutex::new(HashMap::new()),
        };
        let faster_heuristics = !matches!(get(&root, "faster_heuristics"), Some(Value::Boolean(false)));
        let exceptions = get(&root, "exceptions").and_then(Value::as_map).map(Vec::as_slice).unwrap_or_default();
        for (chunk, pieces) in exceptions {
            let Some(chunk) = text(chunk) else { continue };
            let pieces = pieces
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|attrs| {
                            let field = |id: u64| {
                                attrs.as_map()?.iter().find(|(k, _)| k.as_u64() == Some(id)).and_then(|(_, v)| text(v))
                            };
                            Some(Special { orth: field(ORTH)?.to_string(), norm: field(NORM).map(str::to_string) })
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            if pieces.is_empty() || pieces.iter().map(|p| p.orth.as_str()).collect::<String>() != chunk {
                return Err(NerError::Format(format!("tokenizer exception {chunk:?} does not spell its text")));
            }
            tokenizer.specials.insert(chunk.to_string(), pieces);
        }
        // Special cases the affix rules would cut up are found again after tokenizing, as spaCy's
        // special-case matcher does.
        let mut rejoin: HashMap<String, Vec<Vec<String>>> = HashMap::new();
        for chunk in tokenizer.specials.keys() {
            let split = !faster_heuristics
                || tokenizer.find_prefix(chunk) > 0
                || tokenizer.find_suffix(chunk) > 0
                || tokenizer.infix.as_ref().is_some_and(|re| re.find_iter(chunk).next().is_some())
                || chunk.contains(' ');
            if split {
                let orths: Vec<String> =
                    tokenizer.tokenize_with(chunk, false).iter().map(|t| chunk[t.start..t.end].to_string()).collect();
                if let Some(first) = orths.first() {
                    rejoin.entry(first.clone()).or_default().push(orths);
                }
            }
        }
        tokenizer.rejoin = rejoin;
        Ok(tokenizer)
    }

    pub fn tokenize(&self, text: &str) -> Vec<Token> {
        let tokens = self.tokenize_with(text, true);
        self.rejoin_special_cases(text, tokens)
    }

    fn find_prefix(&self, s: &str) -> usize {
        self.prefix.as_ref().and_then(|re| re.find(s).ok().flatten()).map_or(0, |m| m.end() - m.start())
    }

    fn find_suffix(&self, s: &str) -> usize {
        self.suffix.as_ref().and_then(|re| re.find(s).ok().flatten()).map_or(0, |m| m.end() - m.start())
    }

    fn matches(re: &Option<Regex>, s: &str) -> bool {
        // `match` in Python: anchored at the start.
        re.as_ref().is_some_and(|re| re.find(s).ok().flatten().is_some_and(|m| m.start() == 0))
    }

    /// Whitespace splitting: runs of non-space characters are chunks; a single space after a
    /// token is its trailing space, any other whitespace becomes a token of its own.
    fn tokenize_with(&self, text: &str, specials: bool) -> Vec<Token> {
        let mut tokens = Vec::new();
        let Some(first) = text.chars().next() else { return tokens };
        let mut in_ws = py_isspace(first);
        let mut start = 0;
        for (i, c) in text.char_indices() {
            if py_isspace(c) != in_ws {
                if start < i {
                    self.chunk(text, start, i, specials, &mut tokens);
                }
                if c == ' ' {
                    if let Some(last) = tokens.last_mut() {
                        last.space_after = true;
                    }
                    start = i + 1;
                } else {
                    start = i;
                }
                in_ws = !in_ws;
            }
        }
        if start < text.len() {
            self.chunk(text, start, text.len(), specials, &mut tokens);
            if let Some(last) = tokens.last_mut() {
                last.space_after = text.ends_with(' ') && !in_ws;
            }
        }
        tokens
    }

    fn special(&self, s: &str, specials: bool) -> Option<&Vec<Special>> {
        if specials { self.specials.get(s) } else { None }
    }

    fn chunk(&self, text: &str, start: usize, end: usize, specials: bool, out: &mut Vec<Token>) {
        let chunk = &text[start..end];
        let pieces = match self.special(chunk, specials) {
            Some(special) => special_pieces(special, 0),
            None if specials => self.split_cached(chunk),
            None => self.split(chunk, false),
        };
        out.extend(pieces.into_iter().map(|(s, e, norm)| Token {
            start: start + s,
            end: start + e,
            space_after: false,
            norm,
        }));
    }

    fn split_cached(&self, chunk: &str) -> Pieces {
        if let Some(pieces) = self.cache.lock().ok().and_then(|cache| cache.get(chunk).cloned()) {
            return pieces;
        }
        let pieces = self.split(chunk, true);
        if let Ok(mut cache) = self.cache.lock()
            && cache.len() < CACHE_ENTRIES
        {
            cache.insert(chunk.to_string(), pieces.clone());
        }
        pieces
    }

    /// Peels prefixes and suffixes, then splits the core on infixes.
    fn split(&self, chunk: &str, specials: bool) -> Pieces {
        let (mut lo, mut hi) = (0, chunk.len());
        let mut prefixes: Vec<(usize, usize)> = Vec::new();
        let mut suffixes: Vec<(usize, usize)> = Vec::new();
        let mut last_size = 0;
        while lo < hi && hi - lo != last_size {
            let s = &chunk[lo..hi];
            if Self::matches(&self.token_match, s) || self.special(s, specials).is_some() {
                break;
            }
            last_size = hi - lo;
            let pre = self.find_prefix(s);
            if pre > 0 && lo + pre < hi && self.special(&chunk[lo + pre..hi], specials).is_some() {
                prefixes.push((lo, lo + pre));
                lo += pre;
                break;
            }
            let suf = self.find_suffix(&s[pre..]);
            if suf > 0 && hi - suf > lo && self.special(&chunk[lo..hi - suf], specials).is_some() {
                suffixes.push((hi - suf, hi));
                hi -= suf;
                break;
            }
            if pre > 0 && suf > 0 && pre + suf <= hi - lo {
                prefixes.push((lo, lo + pre));
                suffixes.push((hi - suf, hi));
                lo += pre;
                hi -= suf;
            } else if pre > 0 {
                prefixes.push((lo, lo + pre));
                lo += pre;
            } else if suf > 0 {
                suffixes.push((hi - suf, hi));
                hi -= suf;
            }
        }
        let mut pieces: Pieces = prefixes.into_iter().map(|(s, e)| (s, e, None)).collect();
        if lo < hi {
            let core = &chunk[lo..hi];
            if let Some(special) = self.special(core, specials) {
                pieces.extend(special_pieces(special, lo));
            } else if Self::matches(&self.token_match, core) || Self::matches(&self.url_match, core) {
                pieces.push((lo, hi, None));
            } else {
                let mut start = 0;
                if let Some(infix) = &self.infix {
                    for m in infix.find_iter(core).filter_map(Result::ok) {
                        // A match at the very start is not a split point.
                        if m.start() == 0 {
                            continue;
                        }
                        if m.start() != start {
                            pieces.push((lo + start, lo + m.start(), None));
                        }
                        if m.start() != m.end() {
                            pieces.push((lo + m.start(), lo + m.end(), None));
                        }
                        start = m.end();
                    }
                }
                if start < core.len() {
                    pieces.push((lo + start, hi, None));
                }
            }
        }
        pieces.extend(suffixes.into_iter().rev().map(|(s, e)| (s, e, None)));
        pieces
    }

    /// Replaces token runs that spell a special case (and whose text is exactly it) with the
    /// special case's tokens: longest runs first, overlapping runs skipped.
    fn rejoin_special_cases(&self, text: &str, tokens: Vec<Token>) -> Vec<Token> {
        let mut found: Vec<(usize, usize)> = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            let Some(candidates) = self.rejoin.get(&text[token.start..token.end]) else { continue };
            for orths in candidates {
                let end = i + orths.len();
                if end <= tokens.len() && tokens[i..end].iter().zip(orths).all(|(t, o)| &text[t.start..t.end] == o) {
                    found.push((i, end));
                }
            }
        }
        if found.is_empty() {
            return tokens;
        }
        // Longest first, then leftmost; a run is kept unless its first or last token is taken.
        found.sort_by(|a, b| (b.1 - b.0).cmp(&(a.1 - a.0)).then(a.0.cmp(&b.0)));
        let mut taken = vec![false; tokens.len()];
        let mut keep: Vec<(usize, usize)> = Vec::new();
        for (s, e) in found {
            if !taken[s] && !taken[e - 1] {
                keep.push((s, e));
            }
            taken[s..e].iter_mut().for_each(|t| *t = true);
        }
        keep.sort();
        let mut out = Vec::with_capacity(tokens.len());
        let mut i = 0;
        let mut runs = keep.into_iter().peekable();
        while i < tokens.len() {
            if let Some(&(s, e)) = runs.peek().filter(|(s, _)| *s == i) {
                runs.next();
                let (start, stop) = (tokens[s].start, tokens[e - 1].end);
                if let Some(special) = self.specials.get(&text[start..stop]) {
                    let mut pieces: Vec<Token> = special_pieces(special, start)
                        .into_iter()
                        .map(|(a, b, norm)| Token { start: a, end: b, space_after: false, norm })
                        .collect();
                    if let Some(last) = pieces.last_mut() {
                        last.space_after = tokens[e - 1].space_after;
                    }
                    out.extend(pieces);
                } else {
                    out.extend_from_slice(&tokens[s..e]);
                }
                i = e;
            } else {
                out.push(tokens[i].clone());
                i += 1;
            }
        }
        out
    }
}

fn special_pieces(special: &[Special], offset: usize) -> Pieces {
    let mut at = offset;
    special
        .iter()
        .map(|piece| {
            let start = at;
            at += piece.orth.len();
            (start, at, piece.norm.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tokenizer file like spaCy's, with a few rules of the same kinds.
    fn tokenizer() -> Tokenizer {
        let s = |t: &str| Value::from(t);
        let piece = |orth: &str, norm: Option<&str>| {
            let mut fields = vec![(Value::from(ORTH), s(orth))];
            if let Some(n) = norm {
                fields.push((Value::from(NORM), s(n)));
            }
            Value::Map(fields)
        };
        let exceptions = Value::Map(vec![
            (s("don't"), Value::Array(vec![piece("do", None), piece("n't", Some("not"))])),
            (s(":-)"), Value::Array(vec![piece(":-)", None)])),
            (s("U.K."), Value::Array(vec![piece("U.K.", None)])),
        ]);
        let file = Value::Map(vec![
            (s("prefix_search"), s(r#"^\(|^"|^\$"#)),
            (s("suffix_search"), s(r#"\)$|\.$|"$|,$|(?<=[0-9])km$"#)),
            (s("infix_finditer"), s(r"(?<=[a-z])-(?=[a-z])")),
            (s("token_match"), Value::Nil),
            (s("url_match"), s(r"^https?://\S+$")),
            (s("exceptions"), exceptions),
            (s("faster_heuristics"), Value::Boolean(true)),
        ]);
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &file).expect("encode");
        Tokenizer::from_file(&bytes).expect("tokenizer")
    }

    fn words(text: &str) -> Vec<&str> {
        tokenizer().tokenize(text).iter().map(|t| &text[t.start..t.end]).collect()
    }

    #[test]
    fn affixes_infixes_and_special_cases() {
        assert_eq!(words(r#"("don't)"#), ["(", "\"", "do", "n't", ")"]);
        assert_eq!(words("a well-known 5km run."), ["a", "well", "-", "known", "5", "km", "run", "."]);
        assert_eq!(words("the U.K. $20, ok"), ["the", "U.K.", "$", "20", ",", "ok"]);
        assert_eq!(words("see http://x.org/a-b. :-)"), ["see", "http://x.org/a-b", ".", ":-)"]);
    }

    #[test]
    fn special_case_norms_offsets_and_spaces() {
        let text = "I don't  know\n";
        let tokens = tokenizer().tokenize(text);
        let view: Vec<(&str, bool, Option<&str>)> =
            tokens.iter().map(|t| (&text[t.start..t.end], t.space_after, t.norm.as_deref())).collect();
        // One space after a token is its trailing space; a second one is a token of its own.
        assert_eq!(
            view,
            [
                ("I", true, None),
                ("do", false, None),
                ("n't", true, Some("not")),
                (" ", false, None),
                ("know", false, None),
                ("\n", false, None)
            ]
        );
    }

    #[test]
    fn empty_and_blank_texts() {
        assert!(words("").is_empty());
        // Leading whitespace with nothing after it is one token, as in spaCy.
        assert_eq!(words("   "), ["   "]);
    }
}
