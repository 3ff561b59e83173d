//! ONNX export of a custom image classifier (what Custom Vision's "export to ONNX" gives): the
//! EfficientNet-Lite0 graph the embeddings come from, with the trained head added, so that one
//! file takes an image and gives the tag probabilities and the top tag.
//!
//! The exported model:
//! - input `image`: float32 `[N, 3, 224, 224]`, RGB 0..255, the centre crop of
//!   [`crate::classifier::center_crop`] (shorter side to 256, the central 224 x 224);
//! - output `probabilities`: float32 `[N, tags]`, in the order of the metadata entry `tags`
//!   (a JSON array of the tag names);
//! - output `classLabel`: string `[N]`, the most likely tag;
//! - the base model's own outputs (`logits` over ImageNet, `embedding`) are kept.
//!
//! How: a protobuf message may arrive in pieces, and a parser merges them (repeated fields are
//! appended, embedded messages merged; the protobuf encoding guide, "Last One Wins" and
//! concatenation). So the export is the base model's bytes followed by a second `ModelProto`
//! that holds only the head's nodes, weights and outputs, written with prost from the few ONNX
//! messages declared here (field numbers from onnx.proto). The base model is never parsed or
//! rewritten, and none of its scalar fields is repeated (they would replace the base's).

use prost::Message;

use crate::custom::Classifier;

/// The base graph's output the head reads (the pooled features, before normalisation).
pub const EMBEDDING_OUTPUT: &str = "embedding";
pub const PROBABILITIES_OUTPUT: &str = "probabilities";
pub const LABEL_OUTPUT: &str = "classLabel";
/// The metadata entry listing the tags in the order of `probabilities`.
pub const TAGS_METADATA: &str = "tags";

// onnx.proto's TensorProto.DataType values.
const FLOAT: i32 = 1;
const STRING: i32 = 8;
// onnx.proto's AttributeProto.AttributeType values.
const ATTRIBUTE_INT: i32 = 2;

// The subset of onnx.proto (proto2) the head needs. Scalars are `optional` so that they are
// written even when zero, as proto2 does.

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "14")]
    metadata_props: Vec<StringStringEntryProto>,
}

#[derive(Clone, PartialEq, Message)]
struct StringStringEntryProto {
    #[prost(string, optional, tag = "1")]
    key: Option<String>,
    #[prost(string, optional, tag = "2")]
    value: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, optional, tag = "3")]
    name: Option<String>,
    #[prost(string, optional, tag = "4")]
    op_type: Option<String>,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(int64, optional, tag = "3")]
    i: Option<i64>,
    #[prost(int32, optional, tag = "20")]
    r#type: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, optional, tag = "2")]
    data_type: Option<i32>,
    #[prost(bytes = "vec", repeated, tag = "6")]
    string_data: Vec<Vec<u8>>,
    #[prost(string, optional, tag = "8")]
    name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "9")]
    raw_data: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(int32, optional, tag = "1")]
    elem_type: Option<i32>,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(int64, optional, tag = "1")]
    dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    dim_param: Option<String>,
}

fn node(op: &str, inputs: &[&str], output: &str, attributes: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        name: Some(format!("cogway_head_{}", op.to_ascii_lowercase())),
        op_type: Some(op.to_string()),
        attribute: attributes,
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: Some(name.to_string()), i: Some(value), r#type: Some(ATTRIBUTE_INT) }
}

fn floats(name: &str, dims: Vec<i64>, values: impl Iterator<Item = f32>) -> TensorProto {
    TensorProto {
        dims,
        data_type: Some(FLOAT),
        string_data: Vec::new(),
        name: Some(name.to_string()),
        raw_data: Some(values.flat_map(f32::to_le_bytes).collect()),
    }
}

fn output(name: &str, elem_type: i32, dims: &[Dimension]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: Some(elem_type),
                shape: Some(TensorShapeProto { dim: dims.to_vec() }),
            }),
        }),
    }
}

/// The base model's bytes with `classifier`'s head merged in (see the module documentation).
pub fn with_head(base: &[u8], classifier: &Classifier) -> Vec<u8> {
    let (weights, bias) = classifier.linear_layer();
    let tags = weights.len() as i64;
    let dim = weights.first().map_or(0, Vec::len) as i64;
    let batch = Dimension { dim_value: None, dim_param: Some("N".into()) };
    let head = ModelProto {
        graph: Some(GraphProto {
            node: vec![
                node("LpNormalization", &[EMBEDDING_OUTPUT], "cogway_normalized", vec![int("axis", 1), int("p", 2)]),
                node(
                    "Gemm",
                    &["cogway_normalized", "cogway_weights", "cogway_bias"],
                    "cogway_scores",
                    vec![int("transB", 1)],
                ),
                node("Softmax", &["cogway_scores"], PROBABILITIES_OUTPUT, vec![int("axis", 1)]),
                node("ArgMax", &[PROBABILITIES_OUTPUT], "cogway_best", vec![int("axis", 1), int("keepdims", 0)]),
                node("Gather", &["cogway_tags", "cogway_best"], LABEL_OUTPUT, vec![int("axis", 0)]),
            ],
            initializer: vec![
                floats("cogway_weights", vec![tags, dim], weights.iter().flatten().copied()),
                floats("cogway_bias", vec![tags], bias.iter().copied()),
                TensorProto {
                    dims: vec![tags],
                    data_type: Some(STRING),
                    string_data: classifier.tags.iter().map(|t| t.as_bytes().to_vec()).collect(),
                    name: Some("cogway_tags".into()),
                    raw_data: None,
                },
            ],
            output: vec![
                output(
                    PROBABILITIES_OUTPUT,
                    FLOAT,
                    &[batch.clone(), Dimension { dim_value: Some(tags), dim_param: None }],
                ),
                output(LABEL_OUTPUT, STRING, &[batch]),
            ],
        }),
        metadata_props: vec![StringStringEntryProto {
            key: Some(TAGS_METADATA.into()),
            value: Some(serde_json::Value::from(classifier.tags.clone()).to_string()),
        }],
    };
    let mut out = Vec::with_capacity(base.len() + head.encoded_len());
    out.extend_from_slice(base);
    head.encode(&mut out).expect("a Vec grows as needed");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_is_a_model_proto_of_its_own() {
        let classifier =
            Classifier::from_parts(vec!["a".into(), "b".into()], vec![vec![1.0, 0.0], vec![0.0, 1.0]], vec![0.5, -0.5]);
        let bytes = with_head(b"", &classifier);
        let head = ModelProto::decode(bytes.as_slice()).expect("decodes");
        let graph = head.graph.expect("graph");
        let ops: Vec<_> = graph.node.iter().filter_map(|n| n.op_type.as_deref()).collect();
        assert_eq!(ops, ["LpNormalization", "Gemm", "Softmax", "ArgMax", "Gather"]);
        // The weights carry the input scale; the bias is as trained.
        let bias = graph.initializer.iter().find(|t| t.name.as_deref() == Some("cogway_bias")).expect("bias");
        let raw = bias.raw_data.as_deref().expect("raw");
        assert_eq!(raw, [0.5f32.to_le_bytes(), (-0.5f32).to_le_bytes()].concat());
        assert_eq!(head.metadata_props[0].value.as_deref(), Some(r#"["a","b"]"#));
        // keepdims = 0 is written, not left out as a default.
        let argmax = &graph.node[3];
        assert!(argmax.attribute.iter().any(|a| a.name.as_deref() == Some("keepdims") && a.i == Some(0)));
    }
}
