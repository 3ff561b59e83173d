//! PII from the entity recognizer: people and organisations as the model finds them, and postal
//! addresses found by a street rule ("221B Baker Street", "400 Main St., Suite 12") that is then
//! carried over the places the model finds after it (", Springfield, Illinois") and a postcode.

use std::sync::LazyLock;

use regex::Regex;

use super::patterns::push;
use super::{PiiCategory, PiiEntity, context};
use crate::ner::Entity;

/// Below this the small model's PERSON/ORG guesses are mostly wrong ("Email" as a person).
const MIN_NAME_CONFIDENCE: f32 = 0.6;

/// A name that is one of the rules' own context words ("SSN", "IBAN", "Email") labels a value,
/// it is not one.
fn is_context_word(name: &str) -> bool {
    let word = name.trim().to_lowercase();
    [
        context::PHONE,
        context::CARD,
        context::IBAN,
        context::SSN,
        context::ITIN,
        context::ABA,
        context::SWIFT,
        context::EMAIL,
        context::URL,
    ]
    .iter()
    .any(|list| list.contains(&word.as_str()))
}

/// A house number, up to five capitalised words and a street type, with an optional unit.
static STREET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)\b\d{1,6}[A-Za-z]?(?:\s+[A-Z][\w'’.-]*){1,5}?\s+
          (?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|
             Terrace|Way|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Trail|Close|Crescent|Strasse|Straße)\b\.?
          (?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?
          (?:,?\s+(?:Suite|Ste\.?|Apt\.?|Apartment|Unit|Floor|Fl\.?|\#)\s*[\w-]+)?",
    )
    .expect("static regex")
});
static PO_BOX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\bP\.?\s?O\.?\s+Box\s+\d+").expect("static regex"));
/// What may follow a street or a place inside an address: a separator, then a US state code, a
/// US ZIP or a UK/Canadian/continental postcode.
static POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^,?\s*(?:[A-Z]{2}\s+)?(?:\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d|\d{4,5})\b")
        .expect("static regex")
});
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^,?\s*").expect("static regex"));

pub(super) fn find(text: &str, names: &[Entity], out: &mut Vec<PiiEntity>) {
    for name in names {
        let category = match name.label.as_str() {
            "PERSON" => PiiCategory::Person,
            "ORG" => PiiCategory::Organization,
            _ => continue,
        };
        if name.confidence < MIN_NAME_CONFIDENCE || is_context_word(&text[name.start..name.end]) {
            continue;
        }
        push(out, category, name.start, name.end, f64::from(name.confidence));
    }
    let places: Vec<&Entity> = names.iter().filter(|e| matches!(e.label.as_str(), "GPE" | "LOC")).collect();
    for m in STREET.find_iter(text).chain(PO_BOX.find_iter(text)) {
        let end = extend_address(text, m.end(), &places);
        let confidence = if end > m.end() { 0.9 } else { 0.75 };
        push(out, PiiCategory::Address, m.start(), end, confidence);
    }
}

/// Extends an address over the places and postcode that directly follow it.
fn extend_address(text: &str, mut end: usize, places: &[&Entity]) -> usize {
    loop {
        let rest = &text[end..];
        if let Some(m) = POSTCODE.find(rest) {
            end += m.end();
            continue;
        }
        let gap = SEPARATOR.find(rest).map_or(0, |m| m.end());
        match places.iter().find(|p| p.start == end + gap && gap > 0) {
            Some(place) => end = place.end,
            None => return end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(text: &str, part: &str, label: &str) -> Entity {
        let start = text.find(part).unwrap_or(0);
        Entity { start, end: start + part.len(), label: label.into(), confidence: 0.95 }
    }

    #[test]
    fn people_organisations_and_a_full_address() {
        let text = "Call Maria Lopez at Contoso Ltd, 1600 Pennsylvania Avenue NW, Washington, DC 20500 today.";
        let names = [
            ent(text, "Maria Lopez", "PERSON"),
            ent(text, "Contoso Ltd", "ORG"),
            ent(text, "Washington", "GPE"),
            ent(text, "today", "DATE"),
        ];
        let mut out = Vec::new();
        find(text, &names, &mut out);
        let found: Vec<(PiiCategory, &str)> = out.iter().map(|e| (e.category, &text[e.start..e.end])).collect();
        assert!(found.contains(&(PiiCategory::Person, "Maria Lopez")), "{found:?}");
        assert!(found.contains(&(PiiCategory::Organization, "Contoso Ltd")), "{found:?}");
        assert!(
            found.contains(&(PiiCategory::Address, "1600 Pennsylvania Avenue NW, Washington, DC 20500")),
            "{found:?}"
        );
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[test]
    fn unsure_names_and_rule_keywords_are_not_pii() {
        let text = "Email a@b.co, SSN 123-45-6789";
        let mut unsure = ent(text, "Email", "PERSON");
        unsure.confidence = 0.49;
        let names = [unsure, ent(text, "SSN", "ORG")];
        let mut out = Vec::new();
        find(text, &names, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn street_with_unit_and_a_po_box() {
        let text = "Ship to 42 Elm St., Suite 400 or P.O. Box 1234.";
        let mut out = Vec::new();
        find(text, &[], &mut out);
        let found: Vec<&str> = out.iter().map(|e| &text[e.start..e.end]).collect();
        assert_eq!(found, ["42 Elm St., Suite 400", "P.O. Box 1234"]);
    }
}
