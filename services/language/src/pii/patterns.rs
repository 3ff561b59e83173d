//! Pattern recognizers: each finds candidate spans with a regex or a small scanner, checks the
//! surroundings, validates the candidate and scores it. Overlaps are resolved by the caller.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::context::{self, near, previous_word_is, score};
use super::validators::{
    aba_ok, all_same, card_brand, date_ok, digits_of, iban_checksum_ok, iban_length, is_country, itin_ok, luhn,
    month_number, ssn_ok,
};
use super::{PiiCategory, PiiEntity};

/// Characters that glue a number to a neighbouring one ("1.2.3.4.5", "12-123-45-6789").
const NUM_CONNECTORS: &str = "-./";

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in PII pattern must compile")
}

macro_rules! pattern {
    ($name:ident, $re:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| compile(&$re));
    };
}

const MONTH: &str = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
const URL_TAIL: &str = r#"[^\s<>"`{}|\\^]"#;
/// Top-level domains accepted for bare domains ("example.com"); deliberately short and lowercase
/// so that "ASP.NET", "file.py" or "Node.js" are not taken for addresses.
const BARE_TLDS: &str =
    "com|org|net|edu|gov|mil|int|io|ai|app|dev|info|biz|co|uk|de|fr|eu|ca|au|nl|es|ch|jp|cn|ru|br|se|dk|fi|pl|ie|nz";

pattern!(
    EMAIL,
    r"[\p{L}\p{N}_%+-]+(?:\.[\p{L}\p{N}_%+-]+)*@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+\p{L}{2,24}"
);
pattern!(URL_SCHEME, format!(r"(?i)\b(?:https?|ftp)://{URL_TAIL}+"));
pattern!(
    URL_WWW,
    format!(r"(?i)\bwww\.[\p{{L}}\p{{N}}-]+(?:\.[\p{{L}}\p{{N}}-]+)+(?::[0-9]{{1,5}})?(?:[/?#]{URL_TAIL}*)?")
);
pattern!(
    URL_BARE,
    format!(r"\b(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:{BARE_TLDS})\b(?::[0-9]{{1,5}})?(?:/{URL_TAIL}*)?")
);
pattern!(IPV4, r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}");
pattern!(IPV6, r"(?i)[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*");
pattern!(SSN_FORMATTED, r"[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}");
pattern!(NINE_DIGITS, r"[0-9]{9}");
pattern!(DIGIT_RUN, r"[0-9]+(?:[ -][0-9]+)*");
pattern!(DIGITS, r"[0-9]+");
pattern!(IBAN_START, r"[A-Z]{2}[0-9]{2}");
pattern!(SWIFT, r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?");
pattern!(
    US_PHONE,
    r"(?:(\+?1)([ .-]?))?(?:\(([2-9][0-9]{2})\)[ .-]?|([2-9][0-9]{2})([ .-]))([2-9][0-9]{2})([ .-])([0-9]{4})"
);
pattern!(US_PHONE_BARE, r"[2-9][0-9]{2}[2-9][0-9]{6}");
pattern!(FR_PHONE, r"0[1-9](?:[ .][0-9]{2}){4}");
pattern!(INTL_START, r"\+[1-9]");
pattern!(DATE_YMD, r"([0-9]{4})([-/.])([0-9]{1,2})([-/.])([0-9]{1,2})");
pattern!(DATE_DMY, r"([0-9]{1,2})([-/.])([0-9]{1,2})([-/.])([0-9]{4}|[0-9]{2})");
pattern!(DATE_MONTH_FIRST, format!(r"(?i){MONTH}\.?[ \t]+([0-9]{{1,2}})(?:st|nd|rd|th)?,?[ \t]+([0-9]{{4}})"));
pattern!(
    DATE_DAY_FIRST,
    format!(r"(?i)([0-9]{{1,2}})(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{MONTH}\.?,?[ \t]+([0-9]{{4}})")
);

/// Runs every recognizer over `text`; the result may contain overlapping candidates.
pub(super) fn find_all(text: &str) -> Vec<PiiEntity> {
    let mut out = Vec::new();
    emails(text, &mut out);
    urls(text, &mut out);
    ipv4(text, &mut out);
    ipv6(text, &mut out);
    us_national_numbers(text, &mut out);
    cards(text, &mut out);
    ibans(text, &mut out);
    swift_codes(text, &mut out);
    us_phones(text, &mut out);
    international_phones(text, &mut out);
    dates(text, &mut out);
    out
}

pub(super) fn push(out: &mut Vec<PiiEntity>, category: PiiCategory, start: usize, end: usize, conf: f64) {
    let subcategory = match category {
        PiiCategory::DateTime => Some("Date"),
        _ => None,
    };
    out.push(PiiEntity { category, subcategory, start, end, confidence: conf });
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn char_before(text: &str, pos: usize) -> Option<char> {
    text[..pos].chars().next_back()
}

fn char_after(text: &str, pos: usize) -> Option<char> {
    text[pos..].chars().next()
}

/// Nothing glued to the left of `start`: no word character, nor a connector preceded by one.
fn left_ok(text: &str, start: usize, connectors: &str) -> bool {
    let mut before = text[..start].chars().rev();
    match before.next() {
        Some(c) if is_word(c) => false,
        Some(c) if connectors.contains(c) => !before.next().is_some_and(is_word),
        _ => true,
    }
}

/// Nothing glued to the right of `end`: no word character, nor a connector followed by one.
fn right_ok(text: &str, end: usize, connectors: &str) -> bool {
    let mut after = text[end..].chars();
    match after.next() {
        Some(c) if is_word(c) => false,
        Some(c) if connectors.contains(c) => !after.next().is_some_and(is_word),
        _ => true,
    }
}

fn isolated(text: &str, start: usize, end: usize, connectors: &str) -> bool {
    left_ok(text, start, connectors) && right_ok(text, end, connectors)
}

fn span<'t>(c: &Captures<'t>, i: usize) -> &'t str {
    c.get(i).map_or("", |m| m.as_str())
}

fn parse(s: &str) -> u32 {
    s.parse().unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Email and URL

fn emails(text: &str, out: &mut Vec<PiiEntity>) {
    for m in EMAIL.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        if char_before(text, s).is_some_and(|c| is_word(c) || "._%+-@".contains(c)) {
            continue;
        }
        let mut after = text[e..].chars();
        match after.next() {
            Some(c) if is_word(c) || c == '-' || c == '@' => continue,
            Some('.') if after.next().is_some_and(is_word) => continue,
            _ => {}
        }
        let local_len = m.as_str().find('@').unwrap_or(0);
        if local_len > 64 {
            continue;
        }
        push(out, PiiCategory::Email, s, e, score(text, s, e, 0.9, context::EMAIL));
    }
}

/// Drops trailing sentence punctuation and unbalanced closing brackets from a URL match.
fn trim_url_end(text: &str, start: usize, mut end: usize) -> usize {
    while let Some(last) = text[start..end].chars().next_back() {
        let url = &text[start..end];
        let unbalanced = |open: char, close: char| url.matches(close).count() > url.matches(open).count();
        let drop = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' => true,
            ')' => unbalanced('(', ')'),
            ']' => unbalanced('[', ']'),
            _ => false,
        };
        if !drop {
            break;
        }
        end -= last.len_utf8();
    }
    end
}

/// The host of `rest` (everything after "scheme://") looks like a real host.
fn host_ok(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    if host_port.starts_with('[') {
        return host_port.contains(']');
    }
    let host = host_port.split(':').next().unwrap_or("");
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2 && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

fn urls(text: &str, out: &mut Vec<PiiEntity>) {
    for m in URL_SCHEME.find_iter(text) {
        let s = m.start();
        let e = trim_url_end(text, s, m.end());
        let Some(sep) = text[s..e].find("://") else {
            continue;
        };
        if host_ok(&text[s + sep + 3..e]) {
            push(out, PiiCategory::URL, s, e, score(text, s, e, 0.9, context::URL));
        }
    }
    let bare_starts = [(&*URL_WWW, 0.85), (&*URL_BARE, 0.6)];
    for (re, base) in bare_starts {
        for m in re.find_iter(text) {
            let s = m.start();
            if char_before(text, s).is_some_and(|c| is_word(c) || "./@:-%+".contains(c)) {
                continue;
            }
            let e = trim_url_end(text, s, m.end());
            if char_after(text, e).is_some_and(|c| is_word(c) || c == '@' || c == '-') {
                continue;
            }
            // A path makes a bare domain clearly an address.
            let base = if e > s && text[s..e].contains('/') { base + 0.1 } else { base };
            push(out, PiiCategory::URL, s, e, score(text, s, e, base, context::URL));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// IP addresses

fn ipv4(text: &str, out: &mut Vec<PiiEntity>) {
    for m in IPV4.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        if !isolated(text, s, e, ".") || previous_word_is(text, s, context::VERSION) {
            continue;
        }
        let octets: Vec<&str> = m.as_str().split('.').collect();
        let padded = octets.iter().all(|o| o.len() == 3);
        let valid = octets.iter().all(|o| parse(o) <= 255 && (o.len() == 1 || padded || !o.starts_with('0')));
        if valid {
            push(out, PiiCategory::IPAddress, s, e, score(text, s, e, 0.8, context::IP));
        }
    }
}

/// Trims a raw IPv6 candidate to a parseable address, if there is one.
fn ipv6_span(text: &str, mut s: usize, mut e: usize) -> Option<(usize, usize)> {
    if text[s..e].starts_with(':') && !text[s..e].starts_with("::") {
        s += 1;
    }
    loop {
        let cand = &text[s..e];
        if cand.parse::<Ipv6Addr>().is_ok() {
            return cand.bytes().any(|b| b.is_ascii_digit()).then_some((s, e));
        }
        if cand.ends_with('.') || (cand.ends_with(':') && !cand.ends_with("::")) {
            e -= 1;
        } else {
            return None;
        }
    }
}

fn ipv6(text: &str, out: &mut Vec<PiiEntity>) {
    for m in IPV6.find_iter(text) {
        let Some((s, e)) = ipv6_span(text, m.start(), m.end()) else {
            continue;
        };
        if char_before(text, s) == Some(':') || !isolated(text, s, e, ".") {
            continue;
        }
        push(out, PiiCategory::IPAddress, s, e, score(text, s, e, 0.85, context::IP));
    }
}

// ---------------------------------------------------------------------------------------------
// US national numbers: SSN, ITIN, ABA routing number

fn us_national_numbers(text: &str, out: &mut Vec<PiiEntity>) {
    for m in SSN_FORMATTED.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        let b = m.as_str().as_bytes();
        if b[3] != b[6] || !isolated(text, s, e, NUM_CONNECTORS) {
            continue;
        }
        let d = digits_of(m.as_str());
        let base = if b[3] == b'-' { 0.85 } else { 0.6 };
        if d[0] == 9 {
            if itin_ok(&d) {
                let conf = score(text, s, e, base, context::ITIN);
                push(out, PiiCategory::USIndividualTaxpayerIdentification, s, e, conf);
            }
        } else if ssn_ok(&d) {
            let conf = score(text, s, e, base, context::SSN);
            push(out, PiiCategory::USSocialSecurityNumber, s, e, conf);
        }
    }
    // Nine bare digits are anything from an order number to a zip+4: report them only when a
    // context word says what they are.
    for m in NINE_DIGITS.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        if !isolated(text, s, e, NUM_CONNECTORS) {
            continue;
        }
        let d = digits_of(m.as_str());
        if ssn_ok(&d) && near(text, s, e, context::SSN) {
            push(out, PiiCategory::USSocialSecurityNumber, s, e, 0.7);
        }
        if itin_ok(&d) && near(text, s, e, context::ITIN) {
            push(out, PiiCategory::USIndividualTaxpayerIdentification, s, e, 0.7);
        }
        if aba_ok(&d) && near(text, s, e, context::ABA) {
            push(out, PiiCategory::ABARoutingNumber, s, e, 0.75);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Payment cards

/// Group sizes of the usual printed card layouts (4-4-4-4, Amex 4-6-5, ...).
const CARD_LAYOUTS: &[&[usize]] = &[
    &[4, 4, 4, 4],
    &[4, 4, 4, 4, 3],
    &[4, 4, 4, 4, 2],
    &[4, 4, 4, 4, 1],
    &[4, 4, 4, 3],
    &[4, 4, 4, 2],
    &[4, 4, 4, 1],
    &[4, 3, 3, 3],
    &[4, 6, 5],
    &[4, 6, 4],
];

fn cards(text: &str, out: &mut Vec<PiiEntity>) {
    let bytes = text.as_bytes();
    for run in DIGIT_RUN.find_iter(text) {
        let groups: Vec<(usize, usize)> =
            DIGITS.find_iter(run.as_str()).map(|g| (run.start() + g.start(), run.start() + g.end())).collect();
        for i in 0..groups.len() {
            let (gs, ge) = groups[i];
            if (13..=19).contains(&(ge - gs)) {
                try_card(text, gs, ge, false, out);
            }
            for layout in CARD_LAYOUTS {
                let Some(window) = groups.get(i..i + layout.len()) else {
                    continue;
                };
                let sizes_match = window.iter().zip(layout.iter()).all(|(g, &n)| g.1 - g.0 == n);
                let one_separator = window.windows(2).all(|w| bytes[w[0].1] == bytes[window[0].1]);
                if let (true, true, Some(last)) = (sizes_match, one_separator, window.last()) {
                    try_card(text, window[0].0, last.1, true, out);
                }
            }
        }
    }
}

fn try_card(text: &str, s: usize, e: usize, grouped: bool, out: &mut Vec<PiiEntity>) {
    if !isolated(text, s, e, NUM_CONNECTORS) {
        return;
    }
    let d = digits_of(&text[s..e]);
    if !(13..=19).contains(&d.len()) || all_same(&d) || !luhn(&d) {
        return;
    }
    let conf = match card_brand(&d) {
        Some(_) => score(text, s, e, if grouped { 0.95 } else { 0.85 }, context::CARD),
        // Luhn alone passes one random number in ten: demand a context word.
        None if near(text, s, e, context::CARD) => 0.7,
        None => return,
    };
    push(out, PiiCategory::CreditCardNumber, s, e, conf);
}

// ---------------------------------------------------------------------------------------------
// IBAN and SWIFT/BIC

/// Reads an IBAN of the country's length from `start`: either compact or with a single space
/// after every fourth character. Returns the end offset and the compact form.
fn read_iban(text: &str, start: usize, len: usize) -> Option<(usize, String)> {
    let b = text.as_bytes();
    let mut i = start;
    let mut compact = String::with_capacity(len);
    let mut spaced: Option<bool> = None;
    while compact.len() < len {
        if !compact.is_empty() && compact.len().is_multiple_of(4) {
            let has_space = b.get(i) == Some(&b' ');
            match spaced {
                None => spaced = Some(has_space),
                Some(mode) if mode != has_space => return None,
                Some(_) => {}
            }
            if has_space {
                i += 1;
            }
        }
        let c = *b.get(i)?;
        if !(c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return None;
        }
        compact.push(char::from(c));
        i += 1;
    }
    Some((i, compact))
}

fn ibans(text: &str, out: &mut Vec<PiiEntity>) {
    for m in IBAN_START.find_iter(text) {
        let s = m.start();
        let Some(len) = iban_length(&m.as_str()[..2]) else {
            continue;
        };
        if !left_ok(text, s, "") {
            continue;
        }
        let Some((e, compact)) = read_iban(text, s, len) else {
            continue;
        };
        if right_ok(text, e, NUM_CONNECTORS) && iban_checksum_ok(&compact) {
            let conf = score(text, s, e, 0.95, context::IBAN);
            push(out, PiiCategory::InternationalBankingAccountNumber, s, e, conf);
        }
    }
}

fn swift_codes(text: &str, out: &mut Vec<PiiEntity>) {
    for m in SWIFT.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        // Eight capitals are common in shouted prose, so a "SWIFT"/"BIC" mention is required.
        if isolated(text, s, e, "") && is_country(&m.as_str()[4..6]) && near(text, s, e, context::SWIFT) {
            push(out, PiiCategory::SWIFTCode, s, e, 0.85);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Phone numbers

fn us_phones(text: &str, out: &mut Vec<PiiEntity>) {
    for c in US_PHONE.captures_iter(text) {
        let Some(m) = c.get(0) else {
            continue;
        };
        let (s, e) = (m.start(), m.end());
        let prefix = c.get(1).map(|p| p.as_str());
        if prefix == Some("1") && span(&c, 2).is_empty() {
            continue;
        }
        let parenthesised = c.get(3).is_some();
        if !parenthesised && span(&c, 5) != span(&c, 7) {
            continue;
        }
        if char_before(text, s) == Some('+') || !isolated(text, s, e, NUM_CONNECTORS) {
            continue;
        }
        let base = if parenthesised || prefix.is_some() { 0.8 } else { 0.75 };
        push(out, PiiCategory::PhoneNumber, s, e, score(text, s, e, base, context::PHONE));
    }
    for m in FR_PHONE.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        let b = m.as_str().as_bytes();
        let one_separator = [5, 8, 11].iter().all(|&i| b[i] == b[2]);
        if one_separator && isolated(text, s, e, NUM_CONNECTORS) {
            push(out, PiiCategory::PhoneNumber, s, e, score(text, s, e, 0.65, context::PHONE));
        }
    }
    for m in US_PHONE_BARE.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        if isolated(text, s, e, NUM_CONNECTORS) && near(text, s, e, context::PHONE_STRICT) {
            push(out, PiiCategory::PhoneNumber, s, e, 0.65);
        }
    }
}

/// A group of a phone number at `i`: digits, or one to four digits in parentheses.
/// Returns (end, digit count, parenthesised).
fn phone_group(b: &[u8], i: usize) -> Option<(usize, usize, bool)> {
    let digit_run = |from: usize| {
        let mut j = from;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    if b.get(i) == Some(&b'(') {
        let j = digit_run(i + 1);
        let n = j - (i + 1);
        ((1..=4).contains(&n) && b.get(j) == Some(&b')')).then_some((j + 1, n, true))
    } else {
        let j = digit_run(i);
        (j > i).then_some((j, j - i, false))
    }
}

/// Scans an E.164-style number starting at the '+' at `plus`; returns its end.
fn scan_international(text: &str, plus: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = plus + 1;
    // (end, cumulative digit count) of each accepted group
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let (mut dotted, mut other_sep) = (false, false);
    while let Some((gend, n, paren)) = phone_group(b, i) {
        let total = groups.last().map_or(0, |g| g.1) + n;
        if total > 15 {
            // A space-separated extra group is a neighbouring number; a glued one makes
            // the whole thing too long to be a phone number.
            if !groups.is_empty() && b[i - 1] == b' ' {
                break;
            }
            return None;
        }
        groups.push((gend, total));
        i = gend;
        match b.get(i).copied() {
            Some(c @ (b' ' | b'-' | b'.')) if b.get(i + 1).is_some_and(|&n| n.is_ascii_digit() || n == b'(') => {
                let dot = c == b'.';
                if (dot && other_sep) || (!dot && dotted) {
                    // The format changes mid-way ("+49 30 123456 15.03.2024"): the last
                    // group belongs to whatever follows.
                    groups.pop();
                    break;
                }
                dotted |= dot;
                other_sep |= !dot;
                i += 1;
            }
            Some(d) if paren && d.is_ascii_digit() => {}
            Some(b'/' | b'-' | b'.') if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                groups.pop();
                break;
            }
            _ => break,
        }
    }
    let &(end, count) = groups.last()?;
    if !(8..=15).contains(&count) || !right_ok(text, end, NUM_CONNECTORS) {
        return None;
    }
    let d = digits_of(&text[plus..end]);
    // North America: +1 and exactly ten more digits, area code and exchange starting 2-9.
    if d[0] == 1 && (d.len() != 11 || d[1] < 2 || d[4] < 2) {
        return None;
    }
    Some(end)
}

fn international_phones(text: &str, out: &mut Vec<PiiEntity>) {
    for m in INTL_START.find_iter(text) {
        let s = m.start();
        if char_before(text, s).is_some_and(|c| is_word(c) || c == '+') {
            continue;
        }
        if let Some(e) = scan_international(text, s) {
            push(out, PiiCategory::PhoneNumber, s, e, score(text, s, e, 0.8, context::PHONE));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dates

/// Numeric dates are only believed within this year range.
const NUMERIC_YEARS: std::ops::RangeInclusive<u32> = 1800..=2199;

fn dates(text: &str, out: &mut Vec<PiiEntity>) {
    let mut add = |s: usize, e: usize, base: f64| {
        push(out, PiiCategory::DateTime, s, e, score(text, s, e, base, context::DATE));
    };
    for c in DATE_YMD.captures_iter(text) {
        let Some(m) = c.get(0) else {
            continue;
        };
        let (s, e) = (m.start(), m.end());
        // ISO 8601 date-times ("2024-03-15T10:00") keep their date part.
        let iso_time = char_after(text, e) == Some('T') && text[e..].chars().nth(1).is_some_and(|c| c.is_ascii_digit());
        let right = iso_time || right_ok(text, e, NUM_CONNECTORS);
        let (y, mo, d) = (parse(span(&c, 1)), parse(span(&c, 3)), parse(span(&c, 5)));
        if span(&c, 2) == span(&c, 4)
            && left_ok(text, s, NUM_CONNECTORS)
            && right
            && NUMERIC_YEARS.contains(&y)
            && date_ok(y, mo, d)
        {
            add(s, e, 0.85);
        }
    }
    for c in DATE_DMY.captures_iter(text) {
        let Some(m) = c.get(0) else {
            continue;
        };
        let (s, e) = (m.start(), m.end());
        let sep = span(&c, 2);
        if sep != span(&c, 4) || !isolated(text, s, e, NUM_CONNECTORS) {
            continue;
        }
        let (a, b, year_text) = (parse(span(&c, 1)), parse(span(&c, 3)), span(&c, 5));
        let (y, base) = if year_text.len() == 4 {
            (parse(year_text), 0.8)
        } else if sep == "/" {
            (2000 + parse(year_text), 0.6)
        } else {
            continue;
        };
        let day_first = date_ok(y, b, a);
        let month_first = date_ok(y, a, b);
        // Dotted dates are European (day first); slashes and dashes may be either way round.
        let valid = if sep == "." { day_first } else { day_first || month_first };
        if valid && NUMERIC_YEARS.contains(&y) {
            add(s, e, base);
        }
    }
    let textual = [(&*DATE_MONTH_FIRST, 1, 2, 3), (&*DATE_DAY_FIRST, 2, 1, 3)];
    for (re, month_group, day_group, year_group) in textual {
        for c in re.captures_iter(text) {
            let Some(m) = c.get(0) else {
                continue;
            };
            let (s, e) = (m.start(), m.end());
            let Some(month) = month_number(span(&c, month_group)) else {
                continue;
            };
            let (d, y) = (parse(span(&c, day_group)), parse(span(&c, year_group)));
            if isolated(text, s, e, NUM_CONNECTORS) && (1000..=2999).contains(&y) && date_ok(y, month, d) {
                add(s, e, 0.85);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(PiiCategory, &str)> {
        find_all(text).into_iter().map(|e| (e.category, &text[e.start..e.end])).collect()
    }

    #[test]
    fn all_patterns_compile() {
        let all = [
            &EMAIL,
            &URL_SCHEME,
            &URL_WWW,
            &URL_BARE,
            &IPV4,
            &IPV6,
            &SSN_FORMATTED,
            &NINE_DIGITS,
            &DIGIT_RUN,
            &DIGITS,
            &IBAN_START,
            &SWIFT,
            &US_PHONE,
            &US_PHONE_BARE,
            &FR_PHONE,
            &INTL_START,
            &DATE_YMD,
            &DATE_DMY,
            &DATE_MONTH_FIRST,
            &DATE_DAY_FIRST,
        ];
        for re in all {
            assert!(!re.as_str().is_empty());
        }
    }

    #[test]
    fn boundaries() {
        assert!(isolated("a 12 b", 2, 4, NUM_CONNECTORS));
        assert!(!isolated("a12 b", 1, 3, NUM_CONNECTORS));
        assert!(!isolated("1.12 b", 2, 4, NUM_CONNECTORS));
        assert!(isolated("12. b", 0, 2, NUM_CONNECTORS));
    }

    #[test]
    fn url_trimming() {
        let t = "(see https://en.wikipedia.org/wiki/Rust_(language)).";
        assert_eq!(spans(t), vec![(PiiCategory::URL, "https://en.wikipedia.org/wiki/Rust_(language)")]);
    }

    #[test]
    fn phone_scanner_stops_at_format_change() {
        let t = "+49 30 123456 15.03.2024";
        let found = spans(t);
        assert!(found.contains(&(PiiCategory::PhoneNumber, "+49 30 123456")));
        assert!(found.contains(&(PiiCategory::DateTime, "15.03.2024")));
    }
}
