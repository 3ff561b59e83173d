//! Context words: nearby terms ("phone", "SSN", "IBAN") that raise a match's confidence, or that
//! weak patterns require before they report anything.

/// How much a context word adds to a match's base confidence.
pub(super) const BOOST: f64 = 0.1;

/// Characters looked at before and after a match.
const BEFORE_CHARS: usize = 40;
const AFTER_CHARS: usize = 20;

pub(super) const PHONE: &[&str] = &[
    "phone",
    "telephone",
    "tel",
    "mobile",
    "cell",
    "cellphone",
    "call",
    "fax",
    "contact",
    "ph",
    "landline",
    "whatsapp",
    "number",
];
/// Stricter subset required by the unformatted ten-digit pattern.
pub(super) const PHONE_STRICT: &[&str] =
    &["phone", "telephone", "tel", "mobile", "cell", "cellphone", "call", "fax", "ph"];
pub(super) const CARD: &[&str] = &[
    "card",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "amex",
    "discover",
    "cc",
    "jcb",
    "diners",
    "unionpay",
    "payment",
];
pub(super) const IBAN: &[&str] = &["iban", "account", "bank", "acct"];
pub(super) const SSN: &[&str] = &["ssn", "ssns", "social", "security"];
pub(super) const ITIN: &[&str] = &["itin", "taxpayer", "tax", "tin"];
pub(super) const ABA: &[&str] = &["routing", "aba", "rtn", "transit"];
pub(super) const SWIFT: &[&str] = &["swift", "bic"];
pub(super) const IP: &[&str] = &["ip", "ipv4", "ipv6", "address", "addr", "host", "server"];
/// Words right before a dotted quad that make it a version number, not an address.
pub(super) const VERSION: &[&str] = &["version", "ver", "v", "release", "build", "firmware"];
pub(super) const EMAIL: &[&str] = &["email", "mail", "contact"];
pub(super) const URL: &[&str] = &["url", "link", "website", "site", "web", "visit"];
pub(super) const DATE: &[&str] = &["born", "birth", "dob", "date", "birthday"];

/// The last `n` characters of `s`.
fn tail(s: &str, n: usize) -> &str {
    match s.char_indices().rev().nth(n.saturating_sub(1)) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

/// The first `n` characters of `s`.
fn head(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn words(s: &str) -> impl DoubleEndedIterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

fn contains_word(s: &str, wanted: &[&str]) -> bool {
    words(s).any(|w| wanted.iter().any(|x| w.eq_ignore_ascii_case(x)))
}

/// True when one of `wanted` appears as a whole word shortly before or after `start..end`.
pub(super) fn near(text: &str, start: usize, end: usize, wanted: &[&str]) -> bool {
    contains_word(tail(&text[..start], BEFORE_CHARS), wanted) || contains_word(head(&text[end..], AFTER_CHARS), wanted)
}

/// True when the word immediately before `start` is one of `wanted`.
pub(super) fn previous_word_is(text: &str, start: usize, wanted: &[&str]) -> bool {
    words(tail(&text[..start], BEFORE_CHARS))
        .next_back()
        .is_some_and(|w| wanted.iter().any(|x| w.eq_ignore_ascii_case(x)))
}

/// `base`, raised by [`BOOST`] (capped at 1) when a context word is near the match.
pub(super) fn score(text: &str, start: usize, end: usize, base: f64, wanted: &[&str]) -> f64 {
    if near(text, start, end, wanted) { (base + BOOST).min(1.0) } else { base }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_respect_char_boundaries() {
        assert_eq!(tail("héllo", 3), "llo");
        assert_eq!(tail("hé", 10), "hé");
        assert_eq!(head("héllo", 2), "hé");
        assert_eq!(head("hé", 10), "hé");
    }

    #[test]
    fn finds_whole_words_only() {
        let text = "My SSN: 123";
        assert!(near(text, 8, 11, SSN));
        assert!(!near("classnote 123", 10, 13, SSN));
        assert!(previous_word_is("version 1.2.3.4", 8, VERSION));
        assert!(!previous_word_is("server 1.2.3.4", 7, VERSION));
    }
}
