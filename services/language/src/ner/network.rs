//! The entity recognizer's network, as thinc runs it: hash embeddings of four lexical features,
//! a maxout reduction, four residual window-maxout layers, a projection, then the parser's
//! "precomputable affine" hidden layer over three context tokens and the output layer.

use ndarray::{Array2, ArrayView2, Axis, Slice};

use super::NerError;
use super::hashing::embedding_keys;
use super::msgpack_file::{Array, Node};

/// Zero rows thinc puts around each document before the window layers.
const ENCODER_PAD: usize = 4;
const LAYER_NORM_EPS: f32 = 1e-8;

struct HashEmbed {
    table: Array2<f32>,
    seed: u32,
}

/// `maxout >> layernorm`: W is stored as (nO * nP, nI).
struct MaxoutNorm {
    w: Array2<f32>,
    b: Vec<f32>,
    pieces: usize,
    gain: Vec<f32>,
    shift: Vec<f32>,
}

struct Linear {
    w: Array2<f32>,
    b: Vec<f32>,
}

/// The parser's hidden layer, precomputed per token for each of the `features` context slots.
struct Lower {
    /// (features * hidden * pieces, width)
    w: Array2<f32>,
    b: Vec<f32>,
    /// Used for a context slot with no token: (features, hidden * pieces).
    pad: Vec<f32>,
    features: usize,
    hidden: usize,
    pieces: usize,
}

pub(crate) struct Network {
    embeds: Vec<HashEmbed>,
    reduce: MaxoutNorm,
    encoders: Vec<MaxoutNorm>,
    project: Linear,
    lower: Lower,
    upper: Linear,
}

fn matrix(a: Array, rows: usize, what: &str) -> Result<Array2<f32>, NerError> {
    let len = a.data.len();
    if rows == 0 || !len.is_multiple_of(rows) {
        return Err(NerError::Format(format!("{what}: {len} values do not make {rows} rows")));
    }
    Array2::from_shape_vec((rows, len / rows), a.data).map_err(|e| NerError::Format(format!("{what}: {e}")))
}

fn dims(a: &Array, expected: usize, what: &str) -> Result<(), NerError> {
    if a.shape.len() == expected {
        Ok(())
    } else {
        Err(NerError::Format(format!("{what}: shape {:?}, expected {expected} dimensions", a.shape)))
    }
}

impl MaxoutNorm {
    fn load(maxout: &Node, norm: &Node) -> Result<Self, NerError> {
        let w = maxout.param("W")?;
        dims(&w, 3, "maxout W")?;
        let (outputs, pieces) = (w.shape[0], w.shape[1]);
        Ok(Self {
            w: matrix(w, outputs * pieces, "maxout W")?,
            b: maxout.param("b")?.data,
            pieces,
            gain: norm.param("G")?.data,
            shift: norm.param("b")?.data,
        })
    }

    fn outputs(&self) -> usize {
        self.w.nrows() / self.pieces
    }

    fn forward(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let z = x.dot(&self.w.t());
        let (outputs, pieces) = (self.outputs(), self.pieces);
        let mut y = Array2::<f32>::zeros((x.nrows(), outputs));
        // Both are fresh standard-layout arrays, so their data are contiguous rows.
        if let (Some(zs), Some(ys)) = (z.as_slice(), y.as_slice_mut()) {
            for (zrow, yrow) in zs.chunks_exact(outputs * pieces).zip(ys.chunks_exact_mut(outputs)) {
                for ((out, zp), bp) in yrow.iter_mut().zip(zrow.chunks_exact(pieces)).zip(self.b.chunks_exact(pieces)) {
                    *out = zp.iter().zip(bp).map(|(z, b)| z + b).fold(f32::NEG_INFINITY, f32::max);
                }
                layer_norm(yrow, &self.gain, &self.shift);
            }
        }
        y
    }
}

/// thinc's LayerNorm: (x - mean) / sqrt(var + 1e-8) * G + b over one row.
fn layer_norm(row: &mut [f32], gain: &[f32], shift: &[f32]) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n + LAYER_NORM_EPS;
    let scale = var.sqrt().recip();
    for ((v, g), b) in row.iter_mut().zip(gain).zip(shift) {
        *v = (*v - mean) * scale * g + b;
    }
}

impl Linear {
    fn load(node: &Node) -> Result<Self, NerError> {
        let w = node.param("W")?;
        dims(&w, 2, "linear W")?;
        let rows = w.shape[0];
        Ok(Self { w: matrix(w, rows, "linear W")?, b: node.param("b")?.data })
    }

    fn forward(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let mut y = x.dot(&self.w.t());
        for mut row in y.outer_iter_mut() {
            row.iter_mut().zip(&self.b).for_each(|(v, b)| *v += b);
        }
        y
    }
}

/// Concatenates each row with its neighbours (zeros past the ends): thinc's `expand_window(1)`.
fn window(x: &Array2<f32>) -> Array2<f32> {
    let (n, width) = x.dim();
    let mut out = Array2::<f32>::zeros((n, 3 * width));
    for (i, mut row) in out.outer_iter_mut().enumerate() {
        for (part, source) in [i.checked_sub(1), Some(i), Some(i + 1).filter(|&j| j < n)].into_iter().enumerate() {
            if let Some(j) = source {
                row.slice_axis_mut(Axis(0), Slice::from(part * width..(part + 1) * width)).assign(&x.row(j));
            }
        }
    }
    out
}

/// A document's tokens after the network's token layers: the hidden layer's contribution of
/// every token in every context slot.
pub(crate) struct TokenScores {
    /// (tokens, features * hidden * pieces)
    precomputed: Array2<f32>,
}

impl Network {
    /// Picks the layers out of the model file by kind and walk order, checking their shapes fit.
    pub fn load(nodes: &[Node]) -> Result<Self, NerError> {
        fn named<'a>(nodes: &'a [Node], name: &'a str) -> impl Iterator<Item = &'a Node> {
            nodes.iter().filter(move |n| n.name == name)
        }
        let mut embeds: Vec<(u64, HashEmbed)> = named(nodes, "hashembed")
            .map(|node| {
                let table = node.param("E")?;
                dims(&table, 2, "hashembed E")?;
                let rows = table.shape[0];
                let seed = node.attr("seed").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
                let column = node.attr("column").and_then(|v| v.as_u64()).unwrap_or(0);
                Ok((column, HashEmbed { table: matrix(table, rows, "hashembed E")?, seed }))
            })
            .collect::<Result<_, NerError>>()?;
        embeds.sort_by_key(|(column, _)| *column);
        let embeds: Vec<HashEmbed> = embeds.into_iter().map(|(_, e)| e).collect();
        let maxouts: Vec<&Node> = named(nodes, "maxout").collect();
        let norms: Vec<&Node> = named(nodes, "layernorm").collect();
        let linears: Vec<&Node> = named(nodes, "linear").collect();
        let lower = named(nodes, "precomputable_affine").next();
        let (Some(lower), [upper, project], true, true) =
            (lower, linears.as_slice(), maxouts.len() == norms.len(), maxouts.len() >= 2)
        else {
            return Err(NerError::Format("the model file is not spaCy's TransitionBasedParser with Tok2Vec".into()));
        };
        let reduce = MaxoutNorm::load(maxouts[0], norms[0])?;
        let encoders =
            maxouts[1..].iter().zip(&norms[1..]).map(|(m, n)| MaxoutNorm::load(m, n)).collect::<Result<Vec<_>, _>>()?;
        let project = Linear::load(project)?;
        let upper = Linear::load(upper)?;
        let w = lower.param("W")?;
        dims(&w, 4, "precomputable_affine W")?;
        let (features, hidden, pieces) = (w.shape[0], w.shape[1], w.shape[2]);
        let lower = Lower {
            w: matrix(w, features * hidden * pieces, "precomputable_affine W")?,
            b: lower.param("b")?.data,
            pad: lower.param("pad")?.data,
            features,
            hidden,
            pieces,
        };
        let width = reduce.outputs();
        let embed_width: usize = embeds.iter().map(|e| e.table.ncols()).sum();
        let consistent = embeds.len() == 4
            && reduce.w.ncols() == embed_width
            && encoders.iter().all(|e| e.w.ncols() == 3 * width && e.outputs() == width)
            && project.w.ncols() == width
            && lower.w.ncols() == project.w.nrows()
            && lower.b.len() == hidden * pieces
            && lower.pad.len() == features * hidden * pieces
            && upper.w.ncols() == hidden;
        if !consistent {
            return Err(NerError::Format("the model's layer shapes do not fit together".into()));
        }
        Ok(Self { embeds, reduce, encoders, project, lower, upper })
    }

    pub fn classes(&self) -> usize {
        self.upper.w.nrows()
    }

    pub fn context_slots(&self) -> usize {
        self.lower.features
    }

    /// Runs the token layers over a batch of documents, given each token's four feature ids
    /// (NORM, PREFIX, SUFFIX, SHAPE). The documents go through the window layers as one matrix,
    /// laid out as thinc lays out a batch: four zero rows before, between and after them, which
    /// is exactly enough that no document sees another (four layers of window one). Batching
    /// changes no result; it makes the matrix products large enough to run at full speed.
    pub fn tokens(&self, docs: &[Vec<[u64; 4]>]) -> Vec<TokenScores> {
        let total: usize = docs.iter().map(Vec::len).sum();
        let embed_width: usize = self.embeds.iter().map(|e| e.table.ncols()).sum();
        let mut embedded = Array2::<f32>::zeros((total, embed_width));
        for (t, ids) in docs.iter().flatten().enumerate() {
            let mut row = embedded.row_mut(t);
            let mut offset = 0;
            for (embed, &id) in self.embeds.iter().zip(ids) {
                let (rows, width) = embed.table.dim();
                let mut target = row.slice_axis_mut(Axis(0), Slice::from(offset..offset + width));
                for key in embedding_keys(id, embed.seed) {
                    target += &embed.table.row(key as usize % rows);
                }
                offset += width;
            }
        }
        let reduced = self.reduce.forward(embedded.view());
        let width = reduced.ncols();
        // Where each document's rows start in the padded layout.
        let mut starts = Vec::with_capacity(docs.len());
        let mut at = ENCODER_PAD;
        for doc in docs {
            starts.push(at);
            at += doc.len() + ENCODER_PAD;
        }
        let mut x = Array2::<f32>::zeros((at, width));
        let mut from = 0;
        for (doc, &start) in docs.iter().zip(&starts) {
            let n = doc.len();
            x.slice_axis_mut(Axis(0), Slice::from(start..start + n))
                .assign(&reduced.slice_axis(Axis(0), Slice::from(from..from + n)));
            from += n;
        }
        for encoder in &self.encoders {
            x += &encoder.forward(window(&x).view());
        }
        let mut tokvecs = Array2::<f32>::zeros((total, width));
        let mut to = 0;
        for (doc, &start) in docs.iter().zip(&starts) {
            let n = doc.len();
            tokvecs
                .slice_axis_mut(Axis(0), Slice::from(to..to + n))
                .assign(&x.slice_axis(Axis(0), Slice::from(start..start + n)));
            to += n;
        }
        let precomputed = self.project.forward(tokvecs.view()).dot(&self.lower.w.t());
        let mut from = 0;
        docs.iter()
            .map(|doc| {
                let n = doc.len();
                let rows = precomputed.slice_axis(Axis(0), Slice::from(from..from + n)).to_owned();
                from += n;
                TokenScores { precomputed: rows }
            })
            .collect()
    }

    /// The scores of every action for one state, given its context tokens (-1: none).
    pub fn score(&self, tokens: &TokenScores, context: &[i64], hidden: &mut Vec<f32>, out: &mut [f32]) {
        let lower = &self.lower;
        let slot = lower.hidden * lower.pieces;
        hidden.clear();
        hidden.extend_from_slice(&lower.b);
        let rows = tokens.precomputed.as_slice().unwrap_or(&[]);
        let stride = lower.features * slot;
        for (f, &token) in context.iter().enumerate().take(lower.features) {
            let part = if token >= 0 {
                let at = token as usize * stride + f * slot;
                rows.get(at..at + slot)
            } else {
                lower.pad.get(f * slot..(f + 1) * slot)
            };
            if let Some(part) = part {
                hidden.iter_mut().zip(part).for_each(|(h, v)| *h += v);
            }
        }
        // Maxout in place: piece group o is read before slot o is written (o <= o * pieces).
        for o in 0..lower.hidden {
            let best =
                hidden[o * lower.pieces..(o + 1) * lower.pieces].iter().copied().fold(f32::NEG_INFINITY, f32::max);
            hidden[o] = best;
        }
        let maxed = &hidden[..lower.hidden];
        let weights = self.upper.w.as_slice().unwrap_or(&[]);
        for ((slot, row), b) in out.iter_mut().zip(weights.chunks_exact(lower.hidden)).zip(&self.upper.b) {
            *slot = row.iter().zip(maxed).map(|(w, h)| w * h).sum::<f32>() + b;
        }
    }
}
