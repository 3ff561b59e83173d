//! Finding text lines: PP-OCR's DB (differentiable binarization) detector and its post-processing.
//!
//! The network gives a per-pixel text probability. Post-processing, as PaddleOCR does it:
//! binarize at `threshold`, take each connected region's outer contour, fit its minimum-area
//! rectangle, score it by the mean probability inside, drop weak or tiny ones, then grow
//! ("unclip") the rectangle by `area * unclip_ratio / perimeter`, because the network was trained
//! to predict shrunken text regions. PaddleOCR unclips the polygon with pyclipper; the region here
//! is already a rectangle, and offsetting a rectangle's sides by the same distance gives the same
//! box without the rounded corners, so no polygon-offset crate is needed.

use image::{GrayImage, Luma, RgbImage};
use imageproc::contours::{BorderType, find_contours};
use imageproc::point::Point as IPoint;
use ndarray::Array4;

use crate::geometry::Point;

/// DB post-processing settings (rapidocr's defaults for PP-OCR).
#[derive(Debug, Clone, Copy)]
pub struct DbParams {
    pub threshold: f32,
    pub box_threshold: f32,
    pub unclip_ratio: f32,
    pub min_size: f32,
    pub max_candidates: usize,
}

impl Default for DbParams {
    fn default() -> Self {
        Self { threshold: 0.3, box_threshold: 0.5, unclip_ratio: 1.6, min_size: 3.0, max_candidates: 1000 }
    }
}

/// A text line's rotated rectangle in image pixels: corners in reading order (top-left,
/// top-right, bottom-right, bottom-left) for text that runs left to right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextBox {
    pub corners: [Point; 4],
    pub score: f32,
}

impl TextBox {
    /// Length of the top edge and of the left edge.
    pub fn size(&self) -> (f32, f32) {
        let [tl, tr, _, bl] = self.corners;
        (dist(tl, tr), dist(tl, bl))
    }

    pub fn center(&self) -> Point {
        let [a, _, c, _] = self.corners;
        a.lerp(c, 0.5)
    }

    pub fn top(&self) -> f32 {
        self.corners.iter().map(|p| p.y).fold(f32::INFINITY, f32::min)
    }

    pub fn bottom(&self) -> f32 {
        self.corners.iter().map(|p| p.y).fold(f32::NEG_INFINITY, f32::max)
    }

    pub fn left(&self) -> f32 {
        self.corners.iter().map(|p| p.x).fold(f32::INFINITY, f32::min)
    }

    /// The same box turned half a turn (for text found upside down).
    pub fn turned(&self) -> TextBox {
        let [a, b, c, d] = self.corners;
        TextBox { corners: [c, d, a, b], score: self.score }
    }
}

fn dist(a: Point, b: Point) -> f32 {
    (a.x - b.x).hypot(a.y - b.y)
}

/// The size the detector sees: scaled so the shorter side is at least `min_side` (small images
/// are enlarged, which finds small text) and the longer side at most `max_side`, both sides
/// rounded to multiples of 32 as the network needs.
pub fn input_size(width: u32, height: u32, min_side: u32, max_side: u32) -> (u32, u32) {
    let (w, h) = (width as f32, height as f32);
    let mut scale = 1.0f32;
    let short = w.min(h);
    if short < min_side as f32 {
        scale = min_side as f32 / short;
    }
    let long = w.max(h) * scale;
    if long > max_side as f32 {
        scale *= max_side as f32 / long;
    }
    let round32 = |v: f32| (((v / 32.0).round() as u32) * 32).max(32);
    (round32(w * scale), round32(h * scale))
}

/// The detector's input tensor: the image resized to `size`, BGR, normalised to [-1, 1].
pub fn input_tensor(image: &RgbImage, size: (u32, u32)) -> Array4<f32> {
    let resized = crate::resize::resize(image, size.0, size.1);
    let (w, h) = (size.0 as usize, size.1 as usize);
    let mut tensor = Array4::<f32>::zeros((1, 3, h, w));
    super::put_bgr(&mut tensor, 0, &resized);
    tensor
}

/// Text boxes from the probability map (`map_w` x `map_h`, row-major), scaled to an image of
/// `width` x `height`.
pub fn boxes_from_map(
    probs: &[f32],
    map_w: usize,
    map_h: usize,
    width: u32,
    height: u32,
    params: &DbParams,
) -> Vec<TextBox> {
    if probs.len() < map_w * map_h || map_w == 0 || map_h == 0 {
        return Vec::new();
    }
    let mut bitmap = GrayImage::new(map_w as u32, map_h as u32);
    for (i, p) in probs.iter().take(map_w * map_h).enumerate() {
        if *p > params.threshold {
            bitmap.put_pixel((i % map_w) as u32, (i / map_w) as u32, Luma([255]));
        }
    }
    let (sx, sy) = (width as f32 / map_w as f32, height as f32 / map_h as f32);
    let mut boxes = Vec::new();
    let contours = find_contours::<i32>(&bitmap);
    for contour in contours.iter().filter(|c| c.border_type == BorderType::Outer).take(params.max_candidates) {
        if contour.points.len() < 3 {
            continue;
        }
        let Some(rect) = Rect::min_area(&contour.points) else { continue };
        if rect.short_side() < params.min_size {
            continue;
        }
        let score = mean_inside(probs, map_w, map_h, &rect.corners());
        if score < params.box_threshold {
            continue;
        }
        let grown = rect.unclipped(params.unclip_ratio);
        if grown.short_side() < params.min_size + 2.0 {
            continue;
        }
        let corners = grown
            .corners()
            .map(|p| Point::new((p.x * sx).clamp(0.0, width as f32), (p.y * sy).clamp(0.0, height as f32)));
        boxes.push(TextBox { corners, score });
    }
    boxes
}

/// A rotated rectangle: centre plus two half-axes, `u` running along the text (pointing right)
/// and `v` across it (pointing down).
#[derive(Debug, Clone, Copy)]
struct Rect {
    center: Point,
    u: Point,
    v: Point,
}

impl Rect {
    fn min_area(points: &[IPoint<i32>]) -> Option<Rect> {
        let [p0, p1, p2, _] = imageproc::geometry::min_area_rect(points);
        let f = |p: IPoint<i32>| Point::new(p.x as f32, p.y as f32);
        let (p0, p1, p2) = (f(p0), f(p1), f(p2));
        let e1 = Point::new((p1.x - p0.x) / 2.0, (p1.y - p0.y) / 2.0);
        let e2 = Point::new((p2.x - p1.x) / 2.0, (p2.y - p1.y) / 2.0);
        let center = p0.lerp(p2, 0.5);
        // Contours run along pixel centres: the region covers half a pixel more on every side.
        let pad = |e: Point| {
            let len = e.x.hypot(e.y);
            if len == 0.0 { Point::new(0.5, 0.0) } else { Point::new(e.x * (len + 0.5) / len, e.y * (len + 0.5) / len) }
        };
        let (e1, e2) = (pad(e1), pad(e2));
        // The axis closer to horizontal runs along the text.
        let (mut u, mut v) = if e1.x.abs() >= e1.y.abs() { (e1, e2) } else { (e2, e1) };
        if u.x < 0.0 {
            u = Point::new(-u.x, -u.y);
        }
        if v.y < 0.0 {
            v = Point::new(-v.x, -v.y);
        }
        Some(Rect { center, u, v })
    }

    fn half_lengths(&self) -> (f32, f32) {
        (self.u.x.hypot(self.u.y), self.v.x.hypot(self.v.y))
    }

    fn short_side(&self) -> f32 {
        let (a, b) = self.half_lengths();
        2.0 * a.min(b)
    }

    fn corners(&self) -> [Point; 4] {
        let Rect { center: c, u, v } = *self;
        [
            Point::new(c.x - u.x - v.x, c.y - u.y - v.y),
            Point::new(c.x + u.x - v.x, c.y + u.y - v.y),
            Point::new(c.x + u.x + v.x, c.y + u.y + v.y),
            Point::new(c.x - u.x + v.x, c.y - u.y + v.y),
        ]
    }

    /// The rectangle with every side moved out by `area * ratio / perimeter`.
    fn unclipped(&self, ratio: f32) -> Rect {
        let (a, b) = self.half_lengths();
        let (w, h) = (2.0 * a, 2.0 * b);
        let distance = w * h * ratio / (2.0 * (w + h)).max(1e-6);
        let grow = |e: Point, len: f32| {
            if len == 0.0 { e } else { Point::new(e.x * (len + distance) / len, e.y * (len + distance) / len) }
        };
        Rect { center: self.center, u: grow(self.u, a), v: grow(self.v, b) }
    }
}

/// Mean probability inside a convex quadrilateral (PaddleOCR's "fast" box score).
fn mean_inside(probs: &[f32], map_w: usize, map_h: usize, quad: &[Point; 4]) -> f32 {
    let x0 = quad.iter().map(|p| p.x).fold(f32::INFINITY, f32::min).floor().max(0.0) as usize;
    let x1 = (quad.iter().map(|p| p.x).fold(f32::NEG_INFINITY, f32::max).ceil() as usize).min(map_w - 1);
    let y0 = quad.iter().map(|p| p.y).fold(f32::INFINITY, f32::min).floor().max(0.0) as usize;
    let y1 = (quad.iter().map(|p| p.y).fold(f32::NEG_INFINITY, f32::max).ceil() as usize).min(map_h - 1);
    let (mut sum, mut count) = (0.0f32, 0u32);
    for y in y0..=y1 {
        for x in x0..=x1 {
            if inside(quad, Point::new(x as f32, y as f32)) {
                sum += probs[y * map_w + x];
                count += 1;
            }
        }
    }
    if count == 0 { 0.0 } else { sum / count as f32 }
}

/// Whether `p` is inside (or on the edge of) a convex polygon given in either winding order.
fn inside(quad: &[Point; 4], p: Point) -> bool {
    let mut sign = 0.0f32;
    for i in 0..4 {
        let (a, b) = (quad[i], quad[(i + 1) % 4]);
        let cross = (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
        if cross.abs() < 1e-3 {
            continue;
        }
        if sign == 0.0 {
            sign = cross.signum();
        } else if cross.signum() != sign {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_size_is_a_multiple_of_32_within_limits() {
        assert_eq!(input_size(200, 100, 736, 2000), (1472, 736));
        let (w, h) = input_size(4000, 3000, 736, 2000);
        assert!(w <= 2016 && w % 32 == 0 && h % 32 == 0, "{w}x{h}");
    }

    #[test]
    fn finds_one_box_per_text_region() {
        // Two bright bars on a 100 x 60 map: each becomes one box, grown past the bar.
        let (w, h) = (100usize, 60usize);
        let mut probs = vec![0.0f32; w * h];
        for y in 10..20 {
            for x in 10..60 {
                probs[y * w + x] = 0.9;
            }
        }
        for y in 40..48 {
            for x in 20..90 {
                probs[y * w + x] = 0.8;
            }
        }
        let mut boxes = boxes_from_map(&probs, w, h, 200, 120, &DbParams::default());
        boxes.sort_by(|a, b| a.top().total_cmp(&b.top()));
        assert_eq!(boxes.len(), 2);
        let first = boxes[0];
        // Scaled 2x to the image; the bar spans x 20..120, y 20..40 there, and the box is larger.
        assert!(first.left() < 20.0 && first.top() < 20.0 && first.bottom() > 40.0, "{first:?}");
        assert!((first.score - 0.9).abs() < 0.05);
        let (len, thick) = first.size();
        assert!(len > thick, "runs along the text: {len} x {thick}");
    }

    #[test]
    fn weak_regions_are_dropped() {
        let (w, h) = (50usize, 50usize);
        let mut probs = vec![0.0f32; w * h];
        for y in 10..20 {
            for x in 10..40 {
                probs[y * w + x] = 0.35; // above the threshold, below the box threshold
            }
        }
        assert!(boxes_from_map(&probs, w, h, 50, 50, &DbParams::default()).is_empty());
    }
}
