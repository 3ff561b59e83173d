//! Image analysis: harm severities of a picture from what the vision models see in it.
//!
//! No registry package carries an image model for Azure's four categories, so an image is judged
//! from three signals the Vision service gives:
//! - the adult-content probability (Yahoo's open_nsfw) for Sexual;
//! - the share of the ImageNet classifier's probability on weapons (firearms, bows, cannons:
//!   the classes under WordNet's `weapon`), a depiction of a weapon being Violence at the low
//!   level, as Azure grades it;
//! - the text printed in the image (OCR), judged by the text lexicons like any text, so a meme
//!   that threatens, slurs or urges self-harm is graded as its words are.
//!
//! Each category takes its highest severity over the signals. Gore, blood, hate symbols and
//! self-harm scenes without words are not recognised (no model for them is available).

use super::{Category, lexicon};

/// What the vision models found in an image.
#[derive(Debug, Clone, Default)]
pub struct ImageSignals {
    /// Probability of adult content, 0 to 1.
    pub adult: f32,
    /// Probability that the image shows a weapon, 0 to 1.
    pub weapon: f32,
    /// The text read in the image, lines joined by newlines.
    pub text: String,
}

/// Adult probabilities from which Sexual is reported at 2, 4 and 6. open_nsfw's authors call
/// scores under 0.2 safe and over 0.8 very likely not safe for work; between them the picture is
/// suggestive (swimwear, underwear, partial nudity).
const ADULT_LEVELS: [(f32, u8); 3] = [(0.85, 6), (0.6, 4), (0.3, 2)];
/// The weapon probability from which Violence is at least 2.
const WEAPON_LEVEL: f32 = 0.5;

fn sexual(adult: f32) -> u8 {
    ADULT_LEVELS.iter().find(|(from, _)| adult >= *from).map_or(0, |(_, severity)| *severity)
}

/// The severity (0..7) of each category, in [`Category::ALL`]'s order.
pub fn severities(signals: &ImageSignals) -> [(Category, u8); 4] {
    let mut out =
        if signals.text.trim().is_empty() { Category::ALL.map(|c| (c, 0)) } else { lexicon::severities(&signals.text) };
    for (category, severity) in &mut out {
        let seen = match category {
            Category::Sexual => sexual(signals.adult),
            Category::Violence if signals.weapon >= WEAPON_LEVEL => 2,
            _ => 0,
        };
        *severity = (*severity).max(seen);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(signals: ImageSignals, category: Category) -> u8 {
        severities(&signals).iter().find(|(c, _)| *c == category).map(|(_, s)| *s).unwrap_or(99)
    }

    #[test]
    fn a_plain_photo_is_zero_everywhere() {
        let signals = ImageSignals { adult: 0.02, weapon: 0.01, text: String::new() };
        assert!(severities(&signals).iter().all(|(_, s)| *s == 0));
    }

    #[test]
    fn adult_scores_grade_sexual() {
        let at = |adult| of(ImageSignals { adult, ..Default::default() }, Category::Sexual);
        assert_eq!([at(0.1), at(0.35), at(0.7), at(0.95)], [0, 2, 4, 6]);
    }

    #[test]
    fn a_weapon_is_low_violence() {
        let signals = ImageSignals { weapon: 0.8, ..Default::default() };
        assert_eq!(of(signals.clone(), Category::Violence), 2);
        assert_eq!(of(signals, Category::Hate), 0);
    }

    #[test]
    fn printed_text_is_judged_as_text_and_the_highest_signal_wins() {
        let signals = ImageSignals { weapon: 0.9, text: "I am going to kill you".into(), ..Default::default() };
        assert!(of(signals, Category::Violence) >= 4);
        let benign = ImageSignals { text: "Have a nice day".into(), ..Default::default() };
        assert!(severities(&benign).iter().all(|(_, s)| *s == 0));
    }
}
