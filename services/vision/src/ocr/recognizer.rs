//! Reading a line crop: PP-OCR's CTC recogniser input and greedy CTC decoding.

use image::RgbImage;
use ndarray::Array4;

/// The recogniser's input height.
pub const LINE_HEIGHT: u32 = 48;
/// PaddleOCR pads a batch to at least this width (a 10:1 line at 32 px high, scaled to 48).
const MIN_BATCH_WIDTH: u32 = 320;

/// The characters the recogniser's classes stand for: class 0 is the CTC blank.
#[derive(Debug, Clone)]
pub struct Charset {
    symbols: Vec<String>,
}

impl Charset {
    /// From the newline-separated list stored in the model's metadata, for a model with
    /// `classes` outputs. PaddleOCR adds the blank before the list and, when the model was trained
    /// with spaces, a space after it; the class count says which.
    pub fn from_list(list: &str, classes: usize) -> Result<Charset, String> {
        let mut symbols = vec![String::new()];
        symbols.extend(list.split('\n').map(|s| s.trim_end_matches('\r').to_string()));
        while symbols.len() > classes && symbols.last().is_some_and(String::is_empty) {
            symbols.pop();
        }
        if symbols.len() + 1 == classes {
            symbols.push(" ".to_string());
        }
        if symbols.len() != classes {
            return Err(format!("the character list has {} entries for {classes} classes", symbols.len()));
        }
        Ok(Charset { symbols })
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.len() <= 1
    }
}

/// One character read, with where it was seen along the line.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadChar {
    pub text: String,
    pub confidence: f32,
    /// Fraction of the line's length at which the character starts and ends.
    pub start: f32,
    pub end: f32,
}

/// The batch tensor for line crops (all `LINE_HEIGHT` high): normalised to [-1, 1] in BGR order,
/// padded on the right to the widest crop.
pub fn input_tensor(crops: &[&RgbImage]) -> Array4<f32> {
    let width = crops.iter().map(|c| c.width()).max().unwrap_or(1).max(MIN_BATCH_WIDTH) as usize;
    let mut tensor = Array4::<f32>::zeros((crops.len(), 3, LINE_HEIGHT as usize, width));
    for (n, crop) in crops.iter().enumerate() {
        super::put_bgr(&mut tensor, n, crop);
    }
    tensor
}

/// Greedy CTC decoding of one line: the best class per time step, repeats merged, blanks dropped.
/// `probs` is `steps` x `charset.len()`; `content_width` / `padded_width` is how much of the input
/// the crop filled (the rest was padding), which maps time steps back onto the line.
pub fn decode(probs: &[f32], steps: usize, charset: &Charset, content_width: u32, padded_width: u32) -> Vec<ReadChar> {
    let classes = charset.len();
    if steps == 0 || probs.len() < steps * classes {
        return Vec::new();
    }
    let step_width = padded_width as f32 / steps as f32;
    let position = |t: usize| (t as f32 * step_width / content_width.max(1) as f32).clamp(0.0, 1.0);
    let mut out: Vec<ReadChar> = Vec::new();
    let mut previous = 0usize;
    for t in 0..steps {
        let row = &probs[t * classes..(t + 1) * classes];
        let (best, p) = row.iter().enumerate().fold((0, f32::MIN), |acc, (i, &p)| if p > acc.1 { (i, p) } else { acc });
        if best != 0 {
            if best == previous {
                if let Some(last) = out.last_mut() {
                    last.end = position(t + 1);
                    last.confidence = last.confidence.max(p);
                }
            } else {
                out.push(ReadChar {
                    text: charset.symbols[best].clone(),
                    confidence: p,
                    start: position(t),
                    end: position(t + 1),
                });
            }
        }
        previous = best;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charset() -> Charset {
        Charset::from_list("a\nb\nc", 5).expect("charset")
    }

    #[test]
    fn the_class_count_decides_the_trailing_space() {
        assert_eq!(charset().len(), 5);
        assert_eq!(Charset::from_list("a\nb\nc\n", 4).expect("charset").len(), 4);
        assert!(Charset::from_list("a\nb", 9).is_err());
    }

    #[test]
    fn ctc_merges_repeats_and_drops_blanks() {
        // classes: blank, a, b, c, space. Steps: a a blank a b space c
        let best = [1, 1, 0, 1, 2, 4, 3];
        let mut probs = vec![0.0f32; best.len() * 5];
        for (t, &c) in best.iter().enumerate() {
            probs[t * 5 + c] = 0.9;
        }
        let chars = decode(&probs, best.len(), &charset(), 70, 70);
        let text: String = chars.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(text, "aab c");
        assert!((chars[0].start - 0.0).abs() < 1e-6 && (chars[0].end - 2.0 / 7.0).abs() < 1e-6);
        assert!(chars.iter().all(|c| (c.confidence - 0.9).abs() < 1e-6));
    }
}
