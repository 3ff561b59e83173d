//! Features as Vowpal Wabbit reads Personalizer's JSON: every leaf of the feature objects becomes
//! one feature named by its path (`user.tastes=sweet` for a string, `calories` with the number as
//! its value), hashed with MurmurHash3 into the model's `2^bits` weights. A ranked action's
//! example is its own features, its id, and every (context feature x action feature) pair: the
//! quadratic interactions that let the best action depend on the context.

use serde_json::Value;

/// Deepest nesting of feature objects read (deeper values are ignored).
const MAX_DEPTH: usize = 8;
/// Most features in a context (slot features included) and in one action: an action's example
/// has (context + 1) x (action + 1) entries, so these bound a rank's work to about 215,000
/// multiply-adds for 50 actions, and a stored example to about 34 KB.
pub const MAX_CONTEXT_FEATURES: usize = 128;
pub const MAX_ACTION_FEATURES: usize = 32;

/// Largest magnitude of a numeric feature.
const MAX_VALUE: f64 = 1e4;

/// One hashed feature and its value.
pub type Feature = (u32, f32);

fn hash(text: &str) -> u32 {
    murmur3::murmur3_32(&mut std::io::Cursor::new(text.as_bytes()), 0).unwrap_or(0)
}

/// The features of a list of feature objects (Personalizer's `contextFeatures` or an action's
/// `features`), unhashed so a test can see them; `None` when there are more than `limit`.
pub fn names(objects: &[Value], limit: usize) -> Option<Vec<(String, f32)>> {
    let mut out = Vec::new();
    for object in objects {
        walk("", object, 0, limit, &mut out);
    }
    (out.len() <= limit).then_some(out)
}

fn walk(path: &str, value: &Value, depth: usize, limit: usize, out: &mut Vec<(String, f32)>) {
    if out.len() > limit || depth > MAX_DEPTH {
        return;
    }
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                walk(&join(key), v, depth + 1, limit, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(path, item, depth + 1, limit, out);
            }
        }
        Value::String(s) => out.push((format!("{path}={s}"), 1.0)),
        Value::Bool(b) => out.push((format!("{path}={b}"), 1.0)),
        Value::Number(n) => {
            // Clamped so that products of features and gradients stay finite in f32.
            if let Some(x) = n.as_f64().filter(|x| x.is_finite()) {
                out.push((path.to_string(), x.clamp(-MAX_VALUE, MAX_VALUE) as f32));
            }
        }
        Value::Null => {}
    }
}

/// Hashed features of a list of feature objects, `None` when there are more than `limit`.
pub fn hashed(objects: &[Value], limit: usize) -> Option<Vec<Feature>> {
    Some(names(objects, limit)?.into_iter().map(|(name, v)| (hash(&name), v)).collect())
}

/// The example of one action in a context: the action's features and id alone, a constant, and
/// each context feature crossed with each of them (masked to `bits`).
pub fn example(context: &[Feature], action_id: &str, action: &[Feature], bits: u8) -> Vec<Feature> {
    let mask = (1u32 << bits) - 1;
    let mut own: Vec<Feature> = Vec::with_capacity(action.len() + 1);
    own.push((hash(&format!("\u{1}id={action_id}")), 1.0));
    own.extend_from_slice(action);
    let mut out: Vec<Feature> = Vec::with_capacity(own.len() * (context.len() + 1));
    for &(a, av) in &own {
        out.push((a & mask, av));
        for &(c, cv) in context {
            // VW's quadratic hash: the first index times the FNV prime, xor the second.
            out.push(((c.wrapping_mul(16_777_619) ^ a) & mask, cv * av));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn leaves_become_named_features() {
        let objects = [json!({"timeOfDay": "morning"}), json!({"user": {"tastes": ["sweet", "sour"], "age": 30}})];
        assert_eq!(names(&objects, 3), None);
        assert_eq!(
            names(&objects, 4).unwrap(),
            [
                ("timeOfDay=morning".to_string(), 1.0),
                ("user.age".to_string(), 30.0),
                ("user.tastes=sweet".to_string(), 1.0),
                ("user.tastes=sour".to_string(), 1.0),
            ]
        );
    }

    #[test]
    fn crossing_depends_on_both_sides() {
        let morning = hashed(&[json!({"time": "morning"})], 8).unwrap();
        let evening = hashed(&[json!({"time": "evening"})], 8).unwrap();
        let pasta = hashed(&[json!({"kind": "pasta"})], 8).unwrap();
        let a = example(&morning, "a", &pasta, 18);
        let b = example(&evening, "a", &pasta, 18);
        assert_eq!(a.len(), 4);
        assert_eq!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        assert!(a.iter().all(|(i, _)| *i < (1 << 18)));
    }
}
