//! Boxes, polygons and non-maximum suppression shared by the detectors.

use serde::Serialize;

/// A point in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
    pub fn lerp(self, other: Point, t: f32) -> Point {
        Point::new(self.x + (other.x - self.x) * t, self.y + (other.y - self.y) * t)
    }
}

/// An axis-aligned box in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl BBox {
    pub fn from_corners(x0: f32, y0: f32, x1: f32, y1: f32) -> Self {
        Self { x: x0.min(x1), y: y0.min(y1), w: (x1 - x0).abs(), h: (y1 - y0).abs() }
    }

    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    pub fn right(&self) -> f32 {
        self.x + self.w
    }

    pub fn bottom(&self) -> f32 {
        self.y + self.h
    }

    pub fn intersection(&self, other: &BBox) -> f32 {
        let w = self.right().min(other.right()) - self.x.max(other.x);
        let h = self.bottom().min(other.bottom()) - self.y.max(other.y);
        w.max(0.0) * h.max(0.0)
    }

    pub fn iou(&self, other: &BBox) -> f32 {
        let inter = self.intersection(other);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// The box clipped to a `width` x `height` image.
    pub fn clip(&self, width: f32, height: f32) -> BBox {
        let x0 = self.x.clamp(0.0, width);
        let y0 = self.y.clamp(0.0, height);
        let x1 = self.right().clamp(0.0, width);
        let y1 = self.bottom().clamp(0.0, height);
        BBox::from_corners(x0, y0, x1, y1)
    }

    /// The smallest box holding both.
    pub fn union(&self, other: &BBox) -> BBox {
        BBox::from_corners(
            self.x.min(other.x),
            self.y.min(other.y),
            self.right().max(other.right()),
            self.bottom().max(other.bottom()),
        )
    }

    /// Whole pixels, as Azure reports boxes.
    pub fn rounded(&self) -> (i64, i64, i64, i64) {
        let x = self.x.round() as i64;
        let y = self.y.round() as i64;
        (x, y, (self.right().round() as i64 - x).max(0), (self.bottom().round() as i64 - y).max(0))
    }
}

/// Indices of the boxes kept by greedy non-maximum suppression: highest score first, dropping any
/// box that overlaps a kept one by more than `iou_threshold`. `same_group` limits suppression to
/// boxes of the same class (pass `|_, _| true` for class-agnostic NMS).
pub fn nms(
    boxes: &[BBox],
    scores: &[f32],
    iou_threshold: f32,
    same_group: impl Fn(usize, usize) -> bool,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len().min(scores.len())).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut kept: Vec<usize> = Vec::new();
    for i in order {
        if kept.iter().all(|&k| !same_group(i, k) || boxes[i].iou(&boxes[k]) <= iou_threshold) {
            kept.push(i);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_overlapping_boxes() {
        let a = BBox { x: 0.0, y: 0.0, w: 10.0, h: 10.0 };
        let b = BBox { x: 5.0, y: 0.0, w: 10.0, h: 10.0 };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox { x: 20.0, y: 20.0, w: 1.0, h: 1.0 }), 0.0);
    }

    #[test]
    fn nms_keeps_the_best_of_each_cluster() {
        let boxes = [
            BBox { x: 0.0, y: 0.0, w: 10.0, h: 10.0 },
            BBox { x: 1.0, y: 1.0, w: 10.0, h: 10.0 },
            BBox { x: 50.0, y: 50.0, w: 10.0, h: 10.0 },
        ];
        let kept = nms(&boxes, &[0.5, 0.9, 0.3], 0.5, |_, _| true);
        assert_eq!(kept, vec![1, 2]);
        // Different classes never suppress each other.
        let classes = [0, 1, 0];
        let kept = nms(&boxes, &[0.5, 0.9, 0.3], 0.5, |a, b| classes[a] == classes[b]);
        assert_eq!(kept, vec![1, 0, 2]);
    }
}
