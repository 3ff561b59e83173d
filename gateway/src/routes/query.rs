//! Query strings as every route family reads them: pairs with repeated keys kept, names matched
//! case-insensitively as Azure does.

use actix_web::{HttpRequest, web};

/// The query string as pairs (repeated keys kept).
pub fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string()).map(|q| q.0).unwrap_or_default()
}

/// A query parameter, matched case-insensitively as Azure does.
pub fn query_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// All values of a repeated query parameter (`to=de&to=it`), comma lists split too.
pub fn query_values(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_repeat_and_split_and_names_ignore_case() {
        let pairs: Vec<(String, String)> =
            [("To", "de, it"), ("to", "fr"), ("from", "en")].map(|(k, v)| (k.to_string(), v.to_string())).to_vec();
        assert_eq!(query_values(&pairs, "to"), ["de", "it", "fr"]);
        assert_eq!(query_param(&pairs, "FROM"), Some("en"));
        assert_eq!(query_param(&pairs, "category"), None);
    }
}
