//! Content Safety: harm categories and their severities (Azure's 0..7 scale, reported as four
//! or eight levels), text blocklists, the text analysis (curated lexicons with context rules) and the image analysis
//! (vision models' signals and the text read in the picture).

pub mod blocklist;
pub mod image;
pub mod lexicon;

use serde::{Deserialize, Serialize};

/// Azure's four harm categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Category {
    Hate,
    SelfHarm,
    Sexual,
    Violence,
}

impl Category {
    pub const ALL: [Category; 4] = [Category::Hate, Category::SelfHarm, Category::Sexual, Category::Violence];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Category::Hate => "Hate",
            Category::SelfHarm => "SelfHarm",
            Category::Sexual => "Sexual",
            Category::Violence => "Violence",
        }
    }
}

/// How severities are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputType {
    /// 0, 2, 4 or 6 (the default).
    #[default]
    FourSeverityLevels,
    /// 0 to 7.
    EightSeverityLevels,
}

impl OutputType {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "FourSeverityLevels" => Some(Self::FourSeverityLevels),
            "EightSeverityLevels" => Some(Self::EightSeverityLevels),
            _ => None,
        }
    }

    /// A 0..7 severity as reported: four levels round down to even ([0,1]→0, [2,3]→2, ...).
    pub fn report(self, severity: u8) -> u8 {
        let severity = severity.min(7);
        match self {
            Self::FourSeverityLevels => severity & !1,
            Self::EightSeverityLevels => severity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_levels_round_down_to_even() {
        let four: Vec<u8> = (0..=7).map(|s| OutputType::FourSeverityLevels.report(s)).collect();
        assert_eq!(four, [0, 0, 2, 2, 4, 4, 6, 6]);
        assert_eq!(OutputType::EightSeverityLevels.report(9), 7);
        assert_eq!(Category::parse("SelfHarm"), Some(Category::SelfHarm));
    }
}
