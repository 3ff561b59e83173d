//! Azure's `EntityRecognition` categories from the spaCy model's OntoNotes labels.
//!
//! PERSON -> Person, NORP -> PersonType, ORG -> Organization, GPE/LOC/FAC -> Location (GPE,
//! Geographical, Structural), EVENT -> Event, PRODUCT -> Product, DATE/TIME -> DateTime (Date,
//! Time, DateRange, TimeRange, Duration, Set), MONEY/PERCENT/QUANTITY/ORDINAL/CARDINAL ->
//! Quantity (Currency, Percentage, Dimension or Temperature, Ordinal, Number). WORK_OF_ART, LAW
//! and LANGUAGE have no Azure category and are not reported.

use std::sync::LazyLock;

use regex::Regex;

/// A named entity in Azure's terms; byte offsets into the analysed text.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedEntity {
    pub start: usize,
    pub end: usize,
    pub category: &'static str,
    pub subcategory: Option<&'static str>,
    /// 0..=1
    pub confidence: f64,
}

static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(from|between|through|until|till)\b|\s(-|–|—|to)\s|^\d{4}\s*[-–—]\s*\d{2,4}$|\d\s*[–—]\s*\d")
        .expect("static regex")
});
static DURATION_UNIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|century)\b")
        .expect("static regex")
});
static DURATION_ANCHOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(ago|last|next|this|past|previous|coming|later|earlier|old|the \d|of)\b").expect("static regex")
});
static SET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(every|each|daily|weekly|monthly|yearly|annually|hourly)\b").expect("static regex")
});
static TEMPERATURE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)°|\bdegrees?\b|\b(fahrenheit|celsius|kelvin)\b").expect("static regex"));

/// The Azure category and subcategory of an OntoNotes label, looking at the entity's text where
/// the label alone does not decide (a DATE can be a date, a range, a duration or a set).
pub fn azure_category(label: &str, text: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match label {
        "PERSON" => ("Person", None),
        "NORP" => ("PersonType", None),
        "ORG" => ("Organization", None),
        "GPE" => ("Location", Some("GPE")),
        "LOC" => ("Location", Some("Geographical")),
        "FAC" => ("Location", Some("Structural")),
        "EVENT" => ("Event", None),
        "PRODUCT" => ("Product", None),
        "DATE" | "TIME" => ("DateTime", Some(date_time_kind(label == "TIME", text))),
        "MONEY" => ("Quantity", Some("Currency")),
        "PERCENT" => ("Quantity", Some("Percentage")),
        "QUANTITY" if TEMPERATURE.is_match(text) => ("Quantity", Some("Temperature")),
        "QUANTITY" => ("Quantity", Some("Dimension")),
        "ORDINAL" => ("Quantity", Some("Ordinal")),
        "CARDINAL" => ("Quantity", Some("Number")),
        _ => return None,
    })
}

fn date_time_kind(is_time: bool, text: &str) -> &'static str {
    if SET.is_match(text) {
        "Set"
    } else if RANGE.is_match(text) {
        if is_time { "TimeRange" } else { "DateRange" }
    } else if DURATION_UNIT.is_match(text) && !DURATION_ANCHOR.is_match(text) {
        "Duration"
    } else if is_time {
        "Time"
    } else {
        "Date"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_to_azure_categories() {
        assert_eq!(azure_category("PERSON", "Satya Nadella"), Some(("Person", None)));
        assert_eq!(azure_category("GPE", "Berlin"), Some(("Location", Some("GPE"))));
        assert_eq!(azure_category("ORG", "Microsoft"), Some(("Organization", None)));
        assert_eq!(azure_category("WORK_OF_ART", "Hamlet"), None);
    }

    #[test]
    fn date_and_time_subcategories_follow_the_text() {
        let sub = |label, text| azure_category(label, text).and_then(|c| c.1);
        assert_eq!(sub("DATE", "Monday"), Some("Date"));
        assert_eq!(sub("DATE", "2026-11-22"), Some("Date"));
        assert_eq!(sub("DATE", "two weeks"), Some("Duration"));
        assert_eq!(sub("DATE", "two weeks ago"), Some("Date"));
        assert_eq!(sub("DATE", "from May to July"), Some("DateRange"));
        assert_eq!(sub("DATE", "2019-2021"), Some("DateRange"));
        assert_eq!(sub("DATE", "every Monday"), Some("Set"));
        assert_eq!(sub("TIME", "10:30 a.m."), Some("Time"));
        assert_eq!(sub("TIME", "three hours"), Some("Duration"));
        assert_eq!(sub("TIME", "9 to 5"), Some("TimeRange"));
        assert_eq!(sub("QUANTITY", "40 degrees"), Some("Temperature"));
        assert_eq!(sub("QUANTITY", "3.5 kg"), Some("Dimension"));
    }
}
