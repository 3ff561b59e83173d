//! Reading spaCy's msgpack files: thinc's serialized model (`ner/model`: nodes, attrs and params
//! in walk order, arrays in msgpack-numpy form), the tokenizer rules and the lookups tables.

use rmpv::Value;

use super::NerError;

pub(crate) fn parse(bytes: &[u8], what: &str) -> Result<Value, NerError> {
    rmpv::decode::read_value(&mut &bytes[..]).map_err(|e| NerError::Format(format!("{what}: not msgpack: {e}")))
}

/// A map entry by key; spaCy writes some keys as strings and some as bytes.
pub(crate) fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?.iter().find(|(k, _)| key_is(k, key)).map(|(_, v)| v)
}

fn key_is(k: &Value, key: &str) -> bool {
    match k {
        Value::String(s) => s.as_str() == Some(key),
        Value::Binary(b) => b.as_slice() == key.as_bytes(),
        _ => false,
    }
}

pub(crate) fn text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => s.as_str(),
        Value::Binary(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// A float32 array (msgpack-numpy: `{nd, type: "<f4", shape, data}`).
#[derive(Debug, Clone)]
pub(crate) struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Array {
    fn from_value(value: &Value, what: &str) -> Result<Self, NerError> {
        let bad = |why: &str| NerError::Format(format!("{what}: {why}"));
        let dtype = get(value, "type").and_then(text).ok_or_else(|| bad("array without a type"))?;
        if dtype != "<f4" {
            return Err(bad(&format!("array of {dtype}, expected little-endian float32")));
        }
        let shape = get(value, "shape")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("array without a shape"))?
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("array shape is not a list of sizes"))?;
        let raw = match get(value, "data") {
            Some(Value::Binary(b)) => b,
            _ => return Err(bad("array without data")),
        };
        let count: usize = shape.iter().product();
        if raw.len() != count * 4 {
            return Err(bad(&format!("array of shape {shape:?} has {} bytes", raw.len())));
        }
        let data = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok(Self { shape, data })
    }
}

/// One layer of a thinc model file.
#[derive(Debug)]
pub(crate) struct Node {
    pub name: String,
    attrs: Value,
    params: Value,
}

impl Node {
    pub fn param(&self, name: &str) -> Result<Array, NerError> {
        let value = get(&self.params, name)
            .ok_or_else(|| NerError::Format(format!("layer {} has no parameter {name}", self.name)))?;
        Array::from_value(value, &format!("{}.{name}", self.name))
    }

    /// An attribute; thinc stores each as its own msgpack document.
    pub fn attr(&self, name: &str) -> Option<Value> {
        match get(&self.attrs, name)? {
            Value::Binary(b) => rmpv::decode::read_value(&mut b.as_slice()).ok(),
            other => Some(other.clone()),
        }
    }
}

/// A thinc model file: its layers in the order thinc walks them.
pub(crate) fn model_nodes(bytes: &[u8]) -> Result<Vec<Node>, NerError> {
    let root = parse(bytes, "model")?;
    let list = |key: &str| {
        get(&root, key)
            .and_then(Value::as_array)
            .ok_or_else(|| NerError::Format(format!("model file has no {key} list")))
    };
    let (nodes, attrs, params) = (list("nodes")?, list("attrs")?, list("params")?);
    if nodes.len() != attrs.len() || nodes.len() != params.len() {
        return Err(NerError::Format("model file lists differ in length".into()));
    }
    Ok(nodes
        .iter()
        .zip(attrs)
        .zip(params)
        .map(|((node, attrs), params)| Node {
            name: get(node, "name").and_then(text).unwrap_or_default().to_string(),
            attrs: attrs.clone(),
            params: params.clone(),
        })
        .collect())
}
