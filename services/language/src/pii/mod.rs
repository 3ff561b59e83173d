//! Rule-based PII recognition for the Language service's `PiiEntityRecognition` task.
//!
//! Each category has a pattern (regex or small scanner), a validator (Luhn, ISO 13616 mod-97,
//! SSA ranges, calendar checks, ...) and a fixed confidence that nearby context words
//! ("phone", "SSN", "IBAN", ...) raise. Weak patterns (nine bare digits, Luhn-valid numbers with
//! no known issuer, SWIFT codes) only report a match when such a context word is present.
//! Precision is favoured over recall throughout.
//!
//! People and organisations come from the NER model ([`crate::ner`]); addresses from a street
//! rule carried over the places the model finds after it (`names`).

mod context;
mod names;
mod patterns;
mod validators;

#[cfg(test)]
mod tests;

/// One PII entity; spans are byte offsets into the analysed text.
#[derive(Debug, Clone, PartialEq)]
pub struct PiiEntity {
    pub category: PiiCategory,
    /// e.g. `Some("Date")` for [`PiiCategory::DateTime`].
    pub subcategory: Option<&'static str>,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 0..=1
    pub confidence: f64,
}

/// The PII categories this recognizer can report, named as Azure names them.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PiiCategory {
    Email,
    PhoneNumber,
    CreditCardNumber,
    InternationalBankingAccountNumber,
    IPAddress,
    URL,
    USSocialSecurityNumber,
    USIndividualTaxpayerIdentification,
    ABARoutingNumber,
    SWIFTCode,
    DateTime,
    Person,
    Organization,
    Address,
}

const ALL: &[PiiCategory] = &[
    PiiCategory::Email,
    PiiCategory::PhoneNumber,
    PiiCategory::CreditCardNumber,
    PiiCategory::InternationalBankingAccountNumber,
    PiiCategory::IPAddress,
    PiiCategory::URL,
    PiiCategory::USSocialSecurityNumber,
    PiiCategory::USIndividualTaxpayerIdentification,
    PiiCategory::ABARoutingNumber,
    PiiCategory::SWIFTCode,
    PiiCategory::DateTime,
    PiiCategory::Person,
    PiiCategory::Organization,
    PiiCategory::Address,
];

impl PiiCategory {
    /// Azure's category string, as used in responses and in the `piiCategories` parameter.
    pub fn azure_name(self) -> &'static str {
        match self {
            Self::Email => "Email",
            Self::PhoneNumber => "PhoneNumber",
            Self::CreditCardNumber => "CreditCardNumber",
            Self::InternationalBankingAccountNumber => "InternationalBankingAccountNumber",
            Self::IPAddress => "IPAddress",
            Self::URL => "URL",
            Self::USSocialSecurityNumber => "USSocialSecurityNumber",
            Self::USIndividualTaxpayerIdentification => "USIndividualTaxpayerIdentification",
            Self::ABARoutingNumber => "ABARoutingNumber",
            Self::SWIFTCode => "SWIFTCode",
            Self::DateTime => "DateTime",
            Self::Person => "Person",
            Self::Organization => "Organization",
            Self::Address => "Address",
        }
    }

    /// The category with this Azure name, compared case-insensitively.
    pub fn from_azure_name(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|c| c.azure_name().eq_ignore_ascii_case(name))
    }

    /// Every supported category.
    pub fn all() -> &'static [PiiCategory] {
        ALL
    }

    /// Tie-break between equally long, equally confident overlapping matches: lower wins.
    /// Checksummed identifiers first, loose formats last.
    fn rank(self) -> u8 {
        match self {
            Self::InternationalBankingAccountNumber => 0,
            Self::CreditCardNumber => 1,
            Self::USSocialSecurityNumber => 2,
            Self::USIndividualTaxpayerIdentification => 3,
            Self::ABARoutingNumber => 4,
            Self::SWIFTCode => 5,
            Self::Email => 6,
            Self::URL => 7,
            Self::IPAddress => 8,
            Self::PhoneNumber => 9,
            Self::Address => 10,
            Self::DateTime => 11,
            Self::Person => 12,
            Self::Organization => 13,
        }
    }
}

/// Finds PII in `text`. `only`: when `Some`, keep just these categories (Azure `piiCategories`).
///
/// The result is sorted by start and non-overlapping: of two overlapping matches the longer one
/// wins (a URL over the email-like part inside it), then the more confident, then the more
/// specific category. Overlaps are resolved before filtering, so restricting the categories
/// never turns the digits of an IBAN into a phone number.
pub fn recognize(text: &str, only: Option<&[PiiCategory]>) -> Vec<PiiEntity> {
    recognize_with_names(text, only, &[])
}

/// [`recognize`], plus people, organisations and addresses from the entities the NER model found
/// in `text` (see [`crate::ner`]).
pub fn recognize_with_names(text: &str, only: Option<&[PiiCategory]>, names: &[crate::ner::Entity]) -> Vec<PiiEntity> {
    let mut candidates = patterns::find_all(text);
    names::find(text, names, &mut candidates);
    let mut kept = resolve_overlaps(candidates);
    if let Some(only) = only {
        kept.retain(|e| only.contains(&e.category));
    }
    kept
}

fn resolve_overlaps(mut candidates: Vec<PiiEntity>) -> Vec<PiiEntity> {
    candidates.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.category.rank().cmp(&b.category.rank()))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<PiiEntity> = Vec::with_capacity(candidates.len());
    for c in candidates {
        if kept.iter().all(|k| k.end <= c.start || c.end <= k.start) {
            kept.push(c);
        }
    }
    kept.sort_by_key(|e| e.start);
    kept
}

/// Azure's `redactedText`: every character of each entity replaced by `*`, the rest unchanged.
pub fn redact(text: &str, entities: &[PiiEntity]) -> String {
    let mut spans: Vec<(usize, usize)> = entities.iter().map(|e| (e.start, e.end)).collect();
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut first = 0;
    for (pos, ch) in text.char_indices() {
        while spans.get(first).is_some_and(|s| s.1 <= pos) {
            first += 1;
        }
        let masked = spans[first..].iter().take_while(|s| s.0 <= pos).any(|s| pos < s.1);
        out.push(if masked { '*' } else { ch });
    }
    out
}
