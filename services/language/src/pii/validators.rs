//! Checksums and range checks that turn a pattern match into a validated entity.

/// The ASCII digits of `s` as values 0..=9, in order.
pub(super) fn digits_of(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect()
}

/// Integer value of a digit slice (at most 9 digits are meaningful for u32).
pub(super) fn number(d: &[u8]) -> u32 {
    d.iter().fold(0u32, |acc, &x| acc.saturating_mul(10).saturating_add(u32::from(x)))
}

/// True when every digit is the same ("0000 0000 0000 0000" passes Luhn but is no card).
pub(super) fn all_same(d: &[u8]) -> bool {
    d.windows(2).all(|w| w[0] == w[1])
}

/// Luhn (mod 10) checksum used by payment cards.
pub(super) fn luhn(d: &[u8]) -> bool {
    if d.is_empty() {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let doubled = x * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The card network whose issuer prefix (IIN) and length match `d`, if any.
pub(super) fn card_brand(d: &[u8]) -> Option<&'static str> {
    let n = d.len();
    if n < 13 {
        return None;
    }
    let p1 = number(&d[..1]);
    let p2 = number(&d[..2]);
    let p3 = number(&d[..3]);
    let p4 = number(&d[..4]);
    if p1 == 4 && matches!(n, 13 | 16 | 19) {
        Some("Visa")
    } else if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16 {
        Some("Mastercard")
    } else if (p2 == 34 || p2 == 37) && n == 15 {
        Some("American Express")
    } else if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65) && (16..=19).contains(&n) {
        Some("Discover")
    } else if (3528..=3589).contains(&p4) && (16..=19).contains(&n) {
        Some("JCB")
    } else if ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=19).contains(&n) {
        Some("Diners Club")
    } else if p2 == 62 && (16..=19).contains(&n) {
        Some("UnionPay")
    } else {
        None
    }
}

/// Total IBAN length (country code and check digits included) for countries of the IBAN registry.
pub(super) fn iban_length(country: &str) -> Option<usize> {
    let len = match country {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "FO" | "GL" | "NL" => 18,
        "MK" | "SI" => 19,
        "AT" | "BA" | "EE" | "KZ" | "LT" | "LU" | "XK" => 20,
        "CH" | "HR" | "LI" | "LV" => 21,
        "BG" | "BH" | "CR" | "DE" | "GB" | "GE" | "IE" | "ME" | "RS" | "VA" => 22,
        "AE" | "GI" | "IL" | "IQ" | "TL" => 23,
        "AD" | "CZ" | "ES" | "MD" | "PK" | "RO" | "SA" | "SE" | "SK" | "TN" | "VG" => 24,
        "PT" | "ST" => 25,
        "IS" | "TR" => 26,
        "FR" | "GR" | "IT" | "MC" | "MR" | "SM" => 27,
        "AL" | "AZ" | "BY" | "CY" | "DO" | "GT" | "HU" | "LB" | "PL" | "SV" => 28,
        "BR" | "EG" | "PS" | "QA" | "UA" => 29,
        "JO" | "KW" | "MU" => 30,
        "MT" | "SC" => 31,
        "LC" => 32,
        _ => return None,
    };
    Some(len)
}

/// ISO 13616 check: move the first four characters to the end, map letters to 10..=35 and
/// require the resulting number mod 97 to be 1. `compact` must be ASCII alphanumerics.
pub(super) fn iban_checksum_ok(compact: &str) -> bool {
    if compact.len() < 5 || !compact.is_ascii() {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let Some(v) = c.to_digit(36) else {
            return false;
        };
        rem = if v < 10 { (rem * 10 + v) % 97 } else { (rem * 100 + v) % 97 };
    }
    rem == 1
}

/// US Social Security Number ranges: area not 000/666/9xx, group not 00, serial not 0000,
/// plus a few famous published numbers and repeated-digit placeholders.
pub(super) fn ssn_ok(d: &[u8]) -> bool {
    if d.len() != 9 || all_same(d) {
        return false;
    }
    let area = number(&d[..3]);
    let group = number(&d[3..5]);
    let serial = number(&d[5..]);
    let famous = [78_051_120, 219_099_999];
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !famous.contains(&number(d))
}

/// US Individual Taxpayer Identification Number: 9XX-GG-SSSS with the IRS group ranges.
pub(super) fn itin_ok(d: &[u8]) -> bool {
    if d.len() != 9 || d[0] != 9 {
        return false;
    }
    let group = number(&d[3..5]);
    let group_ok = matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99);
    group_ok && number(&d[5..]) != 0
}

/// ABA routing transit number: valid Federal Reserve prefix and the 3-7-1 weighted checksum.
pub(super) fn aba_ok(d: &[u8]) -> bool {
    if d.len() != 9 || all_same(d) {
        return false;
    }
    let prefix = number(&d[..2]);
    let prefix_ok = matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80);
    let w = |i: usize| u32::from(d[i]);
    let sum = 3 * (w(0) + w(3) + w(6)) + 7 * (w(1) + w(4) + w(7)) + (w(2) + w(5) + w(8));
    prefix_ok && sum.is_multiple_of(10)
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Calendar validity of a day/month/year triple.
pub(super) fn date_ok(year: u32, month: u32, day: u32) -> bool {
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Month number of an English month name or abbreviation ("Sept", "mar", "December").
pub(super) fn month_number(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    let month = match lower.get(..3)? {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    Some(month)
}

/// ISO 3166-1 alpha-2 codes (plus XK, used by SWIFT and IBAN for Kosovo), sorted.
const COUNTRIES: [&str; 250] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD",
    "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA",
    "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE",
    "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA",
    "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK",
    "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT",
    "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS",
    "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS",
    "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST",
    "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
    "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "XK", "YE", "YT",
    "ZA", "ZM", "ZW",
];

/// True for an ISO 3166-1 alpha-2 country code (uppercase).
pub(super) fn is_country(code: &str) -> bool {
    COUNTRIES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_sorted_and_unique() {
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]));
        assert!(is_country("DE") && is_country("US") && is_country("XK"));
        assert!(!is_country("SF") && !is_country("ZZ"));
    }

    #[test]
    fn luhn_and_brands() {
        assert!(luhn(&digits_of("4111 1111 1111 1111")));
        assert!(!luhn(&digits_of("4111 1111 1111 1112")));
        assert!(luhn(&digits_of("378282246310005")));
        assert_eq!(card_brand(&digits_of("378282246310005")), Some("American Express"));
        assert_eq!(card_brand(&digits_of("5555555555554444")), Some("Mastercard"));
        assert_eq!(card_brand(&digits_of("2221000000000009")), Some("Mastercard"));
        assert_eq!(card_brand(&digits_of("6011111111111117")), Some("Discover"));
        assert_eq!(card_brand(&digits_of("9999999999999995")), None);
    }

    #[test]
    fn iban_checksums() {
        assert!(iban_checksum_ok("DE89370400440532013000"));
        assert!(iban_checksum_ok("GB82WEST12345698765432"));
        assert!(iban_checksum_ok("FR1420041010050500013M02606"));
        assert!(!iban_checksum_ok("DE89370400440532013001"));
        assert_eq!(iban_length("DE"), Some(22));
        assert_eq!(iban_length("NO"), Some(15));
        assert_eq!(iban_length("US"), None);
    }

    #[test]
    fn national_numbers() {
        assert!(ssn_ok(&digits_of("123-45-6789")));
        for bad in ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000"] {
            assert!(!ssn_ok(&digits_of(bad)), "{bad}");
        }
        assert!(itin_ok(&digits_of("912-70-1234")));
        assert!(!itin_ok(&digits_of("912-93-1234")));
        assert!(aba_ok(&digits_of("011000015")));
        assert!(aba_ok(&digits_of("021000021")));
        assert!(!aba_ok(&digits_of("021000022")));
    }

    #[test]
    fn dates() {
        assert!(date_ok(2024, 2, 29));
        assert!(!date_ok(2023, 2, 29));
        assert!(!date_ok(1900, 2, 29));
        assert!(date_ok(2000, 2, 29));
        assert!(!date_ok(2024, 4, 31));
        assert!(!date_ok(2024, 13, 1));
        assert_eq!(month_number("Sept"), Some(9));
        assert_eq!(month_number("ma"), None);
    }
}
