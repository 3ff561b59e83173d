//! The services a key may be allowed, that route families belong to and that usage is counted
//! under: one enum instead of strings passed around.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Decision,
    Language,
    Speech,
    Translation,
    Vision,
}

impl Service {
    pub const ALL: [Service; 5] =
        [Service::Decision, Service::Language, Service::Speech, Service::Translation, Service::Vision];

    /// The name in keys' service lists, usage rows and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Service::Decision => "decision",
            Service::Language => "language",
            Service::Speech => "speech",
            Service::Translation => "translation",
            Service::Vision => "vision",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Every name, for messages and validation.
    pub fn names() -> [&'static str; 5] {
        Self::ALL.map(Service::as_str)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Service::ALL {
            assert_eq!(Service::parse(s.as_str()), Some(s));
        }
        assert_eq!(Service::parse("*"), None);
        assert_eq!(Service::names(), ["decision", "language", "speech", "translation", "vision"]);
    }
}
