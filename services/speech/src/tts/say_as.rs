//! `<say-as>`: rewriting numbers, dates and spelled text into what the phonemizer reads right.
//! eSpeak NG already reads plain numbers in every language it has; ordinals, dates and
//! letter-by-letter spelling need the rewriting below (English words for English, digits
//! otherwise).

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Rewrites `text` according to `interpret-as` (and `format` for dates).
pub fn say_as(text: &str, interpret_as: &str, format: Option<&str>, lang: &str) -> String {
    let english = lang.to_ascii_lowercase().starts_with("en");
    match interpret_as {
        "cardinal" | "number" => text.chars().filter(|c| *c != ',' && *c != '_').collect(),
        "ordinal" => {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            if english && !digits.is_empty() { ordinal(&digits) } else { format!("{digits}.") }
        }
        "characters" | "spell-out" | "letters" => {
            text.chars().filter(|c| !c.is_whitespace()).map(String::from).collect::<Vec<_>>().join(" ")
        }
        "digits" | "number_digit" | "telephone" => {
            text.chars().filter(|c| c.is_ascii_alphanumeric()).map(String::from).collect::<Vec<_>>().join(" ")
        }
        "date" => date(text, format.unwrap_or(""), english).unwrap_or_else(|| text.to_string()),
        _ => text.to_string(),
    }
}

/// `3` -> `3rd`, `11` -> `11th`, `22` -> `22nd`.
fn ordinal(digits: &str) -> String {
    let n: u64 = digits.parse().unwrap_or(0);
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A date such as `12/25/2024` read by `format` (`mdy`, `dmy`, `ymd`, `md`, `dm`, `ym`, `my`).
fn date(text: &str, format: &str, english: bool) -> Option<String> {
    let parts: Vec<&str> = text.split(['/', '-', '.']).map(str::trim).filter(|p| !p.is_empty()).collect();
    let format = if format.is_empty() {
        if parts.first().is_some_and(|p| p.len() == 4) { "ymd" } else { "mdy" }
    } else {
        format
    };
    if parts.len() != format.len() || !parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let (mut day, mut month, mut year) = (None, None, None);
    for (field, value) in format.chars().zip(&parts) {
        let n: u32 = value.parse().ok()?;
        match field {
            'd' => day = Some(n),
            'm' => month = Some(n),
            'y' => year = Some(n),
            _ => return None,
        }
    }
    if let Some(m) = month
        && !(1..=12).contains(&m)
    {
        return None;
    }
    if let Some(d) = day
        && !(1..=31).contains(&d)
    {
        return None;
    }
    if !english {
        return Some(parts.join(" "));
    }
    let month_name = month.map(|m| MONTHS[(m - 1) as usize]);
    Some(match (month_name, day, year) {
        (Some(m), Some(d), Some(y)) => format!("{m} {}, {y}", ordinal(&d.to_string())),
        (Some(m), Some(d), None) => format!("{m} {}", ordinal(&d.to_string())),
        (Some(m), None, Some(y)) => format!("{m} {y}"),
        (Some(m), None, None) => m.to_string(),
        (None, Some(d), _) => ordinal(&d.to_string()),
        (None, None, Some(y)) => y.to_string(),
        (None, None, None) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites() {
        assert_eq!(say_as("1,234", "cardinal", None, "en-US"), "1234");
        assert_eq!(say_as("22", "ordinal", None, "en-US"), "22nd");
        assert_eq!(say_as("13", "ordinal", None, "en-US"), "13th");
        assert_eq!(say_as("ABC", "characters", None, "en-US"), "A B C");
        assert_eq!(say_as("555-1234", "telephone", None, "en-US"), "5 5 5 1 2 3 4");
        assert_eq!(say_as("25.12.2024", "date", Some("dmy"), "en-GB"), "December 25th, 2024");
        assert_eq!(say_as("2024-03-01", "date", None, "en-US"), "March 1st, 2024");
        assert_eq!(say_as("13/45/2024", "date", Some("mdy"), "en-US"), "13/45/2024");
    }
}
