//! The text forms Azure reports for a recognition: Display (Whisper's punctuated text), ITN
//! (lowercase, no punctuation, numbers as digits), Lexical (the spoken words: numbers spelled
//! out) and MaskedITN (ITN with profanity masked), plus the profanity option.

/// Words masked or removed by the profanity filter (English; whole words, any case). A short
/// fixed list, kept here because no maintained crate offers a plain word list without pulling in
/// a large filtering engine.
const PROFANITY: &[&str] = &[
    "fuck",
    "fucking",
    "fucked",
    "fucker",
    "motherfucker",
    "shit",
    "shitty",
    "bullshit",
    "bitch",
    "bitches",
    "bastard",
    "asshole",
    "dick",
    "dickhead",
    "cunt",
    "prick",
    "pussy",
    "cock",
    "wanker",
    "twat",
    "damn",
    "goddamn",
    "crap",
    "piss",
    "pissed",
    "slut",
    "whore",
];

/// What to do with profanity (Azure's `profanity` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profanity {
    /// Replace each letter with `*` (the default).
    Masked,
    /// Drop the word.
    Removed,
    /// Leave it.
    Raw,
}

impl Profanity {
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "masked" => Some(Self::Masked),
            "removed" => Some(Self::Removed),
            "raw" => Some(Self::Raw),
            _ => None,
        }
    }
}

fn is_profane(word: &str) -> bool {
    let bare: String = word.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
    !bare.is_empty() && PROFANITY.contains(&bare.as_str())
}

/// Applies the profanity option to text, word by word, keeping punctuation around words.
pub fn filter_profanity(text: &str, mode: Profanity) -> String {
    if mode == Profanity::Raw {
        return text.to_string();
    }
    let words: Vec<String> = text
        .split_whitespace()
        .filter_map(|w| {
            if !is_profane(w) {
                return Some(w.to_string());
            }
            match mode {
                Profanity::Removed => None,
                _ => Some(w.chars().map(|c| if c.is_alphanumeric() { '*' } else { c }).collect()),
            }
        })
        .collect();
    words.join(" ")
}

/// Lowercase words with punctuation removed (apostrophes, decimal points and digits kept).
pub fn itn(display: &str) -> String {
    display
        .split_whitespace()
        .map(|w| {
            let chars: Vec<char> = w.chars().collect();
            let mut out = String::new();
            for (i, c) in chars.iter().enumerate() {
                let between_digits =
                    i > 0 && i + 1 < chars.len() && chars[i - 1].is_ascii_digit() && chars[i + 1].is_ascii_digit();
                if c.is_alphanumeric() || *c == '\'' || (matches!(c, '.' | ',' | ':') && between_digits) {
                    out.extend(c.to_lowercase());
                }
            }
            out
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The lexical form: ITN with whole numbers spelled out in English (`english`), else ITN.
pub fn lexical(display: &str, english: bool) -> String {
    let itn = itn(display);
    if !english {
        return itn;
    }
    itn.split(' ')
        .map(|w| {
            let digits: String = w.chars().filter(|c| *c != ',').collect();
            match digits.parse::<u64>() {
                Ok(n) if digits.chars().all(|c| c.is_ascii_digit()) && n < 1_000_000_000_000 => number_words(n),
                _ => w.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// English words for a whole number below one trillion.
fn number_words(n: u64) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    fn below_thousand(n: u64) -> String {
        let mut parts = Vec::new();
        if n >= 100 {
            parts.push(format!("{} hundred", ONES[(n / 100) as usize]));
        }
        let rest = n % 100;
        if rest >= 20 {
            let tens = TENS[(rest / 10) as usize];
            parts.push(if rest.is_multiple_of(10) {
                tens.to_string()
            } else {
                format!("{tens} {}", ONES[(rest % 10) as usize])
            });
        } else if rest > 0 || parts.is_empty() {
            parts.push(ONES[rest as usize].to_string());
        }
        parts.join(" ")
    }
    if n == 0 {
        return "zero".into();
    }
    let mut parts = Vec::new();
    for (scale, name) in [(1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand")] {
        if !(n / scale).is_multiple_of(1000) {
            parts.push(format!("{} {name}", below_thousand(n / scale % 1000)));
        }
    }
    if !n.is_multiple_of(1000) {
        parts.push(below_thousand(n % 1000));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(itn("Hello, World! It's 3.5 o'clock."), "hello world it's 3.5 o'clock");
        assert_eq!(
            lexical("I have 123 apples and 2,000 pears.", true),
            "i have one hundred twenty three apples and two thousand pears"
        );
        assert_eq!(number_words(1_000_015), "one million fifteen");
        assert_eq!(filter_profanity("What the fuck, man.", Profanity::Masked), "What the ****, man.");
        assert_eq!(filter_profanity("What the fuck, man.", Profanity::Removed), "What the man.");
        assert_eq!(filter_profanity("Shitake", Profanity::Masked), "Shitake");
    }
}
