//! Matching text against blocklist items: case-insensitive and literal (an item `k*ll` matches
//! the characters `k*ll`, as Azure's 2023-10-01 items are not patterns), on word boundaries where
//! the item starts or ends with a letter or digit, so `ass` does not match `class`.

/// One blocklist item to match.
#[derive(Debug, Clone)]
pub struct Item {
    pub blocklist: String,
    pub id: String,
    pub text: String,
}

/// Where an item matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub blocklist: String,
    pub id: String,
    pub text: String,
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `item` occurs in `text` (both already lower-cased), on word boundaries at its
/// alphanumeric ends.
fn occurs(text: &str, item: &str) -> bool {
    if item.is_empty() {
        return false;
    }
    let starts_word = item.chars().next().is_some_and(is_word);
    let ends_word = item.chars().last().is_some_and(is_word);
    // Every start is tried (`match_indices` would skip a match overlapping a rejected one).
    let mut from = 0;
    while let Some(found) = text[from..].find(item) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + item.len()..].chars().next();
        if (!starts_word || !before.is_some_and(is_word)) && (!ends_word || !after.is_some_and(is_word)) {
            return true;
        }
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Every item that occurs in `text`, in the order given.
pub fn matches(text: &str, items: &[Item]) -> Vec<Hit> {
    let lowered = text.to_lowercase();
    items
        .iter()
        .filter(|item| occurs(&lowered, &item.text.to_lowercase()))
        .map(|item| Hit { blocklist: item.blocklist.clone(), id: item.id.clone(), text: item.text.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str) -> Item {
        Item { blocklist: "bl".into(), id: text.into(), text: text.into() }
    }

    #[test]
    fn literal_case_insensitive_and_on_word_boundaries() {
        let items = [item("k*ll"), item("h*te"), item("ass"), item("Widget X")];
        let hits: Vec<String> = matches("I h*te you and I want to K*LL you in class with widget x.", &items)
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(hits, ["k*ll", "h*te", "Widget X"]);
        assert!(matches("nothing here", &items).is_empty());
        assert_eq!(matches("you ass!", &items).len(), 1);
        assert_eq!(matches("ba-a-a", &[item("a-a")]).len(), 1);
    }
}
