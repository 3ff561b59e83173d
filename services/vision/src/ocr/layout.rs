//! From read lines to the page: words with their own polygons, lines in reading order.

use serde::Serialize;

use super::recognizer::ReadChar;
use super::text_detector::TextBox;
use crate::geometry::Point;

#[derive(Debug, Clone, Serialize)]
pub struct Word {
    pub text: String,
    /// Clockwise from the top-left corner of the word as read.
    pub polygon: [Point; 4],
    pub confidence: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct TextLine {
    pub text: String,
    pub polygon: [Point; 4],
    pub words: Vec<Word>,
    /// Mean confidence of the line's characters.
    pub confidence: f32,
    /// Whether the line was found upside down (turned half a turn to read it).
    pub upside_down: bool,
}

/// A line from its box and the characters read in it, or `None` when nothing was read.
pub fn line(text_box: &TextBox, chars: &[ReadChar], upside_down: bool) -> Option<TextLine> {
    let [tl, tr, br, bl] = text_box.corners;
    let at = |t: f32| (tl.lerp(tr, t), bl.lerp(br, t));
    let mut words = Vec::new();
    let mut current: Vec<&ReadChar> = Vec::new();
    let mut flush = |current: &mut Vec<&ReadChar>| {
        if let (Some(first), Some(last)) = (current.first(), current.last()) {
            let (top_left, bottom_left) = at(first.start);
            let (top_right, bottom_right) = at(last.end);
            words.push(Word {
                text: current.iter().map(|c| c.text.as_str()).collect(),
                polygon: [top_left, top_right, bottom_right, bottom_left],
                confidence: current.iter().map(|c| c.confidence).sum::<f32>() / current.len() as f32,
            });
        }
        current.clear();
    };
    for c in chars {
        if c.text.trim().is_empty() {
            flush(&mut current);
        } else {
            current.push(c);
        }
    }
    flush(&mut current);
    if words.is_empty() {
        return None;
    }
    let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
    let letters: Vec<f32> = chars.iter().filter(|c| !c.text.trim().is_empty()).map(|c| c.confidence).collect();
    let confidence = letters.iter().sum::<f32>() / letters.len().max(1) as f32;
    Some(TextLine { text, polygon: text_box.corners, words, confidence, upside_down })
}

/// Lines sorted as a page is read: top to bottom, and left to right for lines on the same row
/// (their vertical centres within half a line height of each other).
pub fn reading_order(mut lines: Vec<TextLine>) -> Vec<TextLine> {
    let top = |l: &TextLine| l.polygon.iter().map(|p| p.y).fold(f32::INFINITY, f32::min);
    let bottom = |l: &TextLine| l.polygon.iter().map(|p| p.y).fold(f32::NEG_INFINITY, f32::max);
    let left = |l: &TextLine| l.polygon.iter().map(|p| p.x).fold(f32::INFINITY, f32::min);
    lines.sort_by(|a, b| top(a).total_cmp(&top(b)));
    // Insertion pass: a line whose centre sits on the previous line's row and starts left of
    // it moves before it.
    for i in 1..lines.len() {
        let mut j = i;
        while j > 0 {
            let (a, b) = (&lines[j - 1], &lines[j]);
            let centre = |l: &TextLine| (top(l) + bottom(l)) / 2.0;
            let height = (bottom(a) - top(a)).min(bottom(b) - top(b));
            if (centre(a) - centre(b)).abs() < height / 2.0 && left(b) < left(a) {
                lines.swap(j - 1, j);
                j -= 1;
            } else {
                break;
            }
        }
    }
    lines
}

/// The axis-aligned box of a polygon, as 8 numbers (Read v3.2's `boundingBox`).
pub fn flat(polygon: &[Point; 4]) -> [f32; 8] {
    let mut out = [0.0; 8];
    for (i, p) in polygon.iter().enumerate() {
        out[2 * i] = p.x;
        out[2 * i + 1] = p.y;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<ReadChar> {
        let n = text.chars().count() as f32;
        text.chars()
            .enumerate()
            .map(|(i, c)| ReadChar {
                text: c.to_string(),
                confidence: 0.9,
                start: i as f32 / n,
                end: (i + 1) as f32 / n,
            })
            .collect()
    }

    fn text_box(x: f32, y: f32, w: f32, h: f32) -> TextBox {
        TextBox {
            corners: [Point::new(x, y), Point::new(x + w, y), Point::new(x + w, y + h), Point::new(x, y + h)],
            score: 0.9,
        }
    }

    #[test]
    fn words_get_their_share_of_the_line() {
        let line = line(&text_box(0.0, 0.0, 100.0, 10.0), &read("ab  cd"), false).expect("line");
        assert_eq!(line.text, "ab cd");
        assert_eq!(line.words.len(), 2);
        let second = &line.words[1];
        assert_eq!(second.text, "cd");
        assert!((second.polygon[0].x - 400.0 / 6.0).abs() < 1e-3 && (second.polygon[1].x - 100.0).abs() < 1e-3);
        assert_eq!(second.polygon[2].y, 10.0);
    }

    #[test]
    fn lines_read_top_to_bottom_then_left_to_right() {
        let make = |x, y, t: &str| line(&text_box(x, y, 50.0, 10.0), &read(t), false).expect("line");
        let lines = reading_order(vec![make(100.0, 52.0, "right"), make(0.0, 0.0, "top"), make(0.0, 50.0, "left")]);
        let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["top", "left", "right"]);
    }
}
