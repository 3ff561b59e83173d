//! Smart crops: for each requested aspect ratio, the largest crop of that shape that keeps the
//! most important part of the image.
//!
//! Importance is a small grid (at most 96 cells on the long side) of edge energy, the detail a
//! viewer's eye goes to, plus weight inside the boxes of detected faces (most), people and
//! objects. The crop is slid over the grid and the position holding the most importance wins;
//! a summed-area table makes each position one lookup.

use image::RgbImage;
use serde::Serialize;

use crate::geometry::BBox;

/// Azure's accepted aspect ratios (width / height).
pub const MIN_RATIO: f32 = 0.75;
pub const MAX_RATIO: f32 = 1.8;
const GRID: u32 = 96;

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Crop {
    pub aspect_ratio: f32,
    pub rect: BBox,
}

/// A region that should stay in the crop, with how much it matters relative to edges.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    pub rect: BBox,
    pub weight: f32,
}

/// The ratio used when none is asked for: the image's own, kept within Azure's range.
pub fn default_ratio(width: u32, height: u32) -> f32 {
    (width as f32 / height.max(1) as f32).clamp(MIN_RATIO, MAX_RATIO)
}

/// One crop per ratio (each within `MIN_RATIO..=MAX_RATIO`).
pub fn crops(image: &RgbImage, ratios: &[f32], regions: &[Region]) -> Vec<Crop> {
    let (width, height) = (image.width(), image.height());
    let scale = GRID as f32 / width.max(height) as f32;
    let (gw, gh) =
        (((width as f32 * scale).round() as usize).max(1), ((height as f32 * scale).round() as usize).max(1));
    let grid = importance(image, gw, gh, regions);
    let table = SummedArea::new(&grid, gw, gh);
    ratios.iter().map(|&ratio| best_crop(&table, gw, gh, width, height, ratio)).collect()
}

fn importance(image: &RgbImage, gw: usize, gh: usize, regions: &[Region]) -> Vec<f32> {
    let small = crate::resize::resize(image, gw as u32, gh as u32);
    let luma = |x: usize, y: usize| {
        let p = small.get_pixel(x as u32, y as u32).0;
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    };
    let mut grid = vec![0.0f32; gw * gh];
    for y in 0..gh {
        for x in 0..gw {
            let dx = luma((x + 1).min(gw - 1), y) - luma(x.saturating_sub(1), y);
            let dy = luma(x, (y + 1).min(gh - 1)) - luma(x, y.saturating_sub(1));
            grid[y * gw + x] = dx.hypot(dy) / 255.0;
        }
    }
    // Regions count as much as their weight times the mean edge energy of the whole image per
    // cell, so a detected face outweighs busy background.
    let mean = (grid.iter().sum::<f32>() / grid.len() as f32).max(0.05);
    let (sx, sy) = (gw as f32 / image.width() as f32, gh as f32 / image.height() as f32);
    for region in regions {
        let r = region.rect;
        let (x0, x1) = ((r.x * sx).floor().max(0.0) as usize, ((r.right() * sx).ceil() as usize).min(gw));
        let (y0, y1) = ((r.y * sy).floor().max(0.0) as usize, ((r.bottom() * sy).ceil() as usize).min(gh));
        for y in y0..y1 {
            for x in x0..x1 {
                grid[y * gw + x] += region.weight * mean * 4.0;
            }
        }
    }
    grid
}

struct SummedArea {
    sums: Vec<f64>,
    stride: usize,
}

impl SummedArea {
    fn new(grid: &[f32], gw: usize, gh: usize) -> Self {
        let stride = gw + 1;
        let mut sums = vec![0.0f64; stride * (gh + 1)];
        for y in 0..gh {
            for x in 0..gw {
                sums[(y + 1) * stride + x + 1] =
                    f64::from(grid[y * gw + x]) + sums[y * stride + x + 1] + sums[(y + 1) * stride + x]
                        - sums[y * stride + x];
            }
        }
        Self { sums, stride }
    }

    /// Sum over cells x0..x1, y0..y1 (exclusive ends).
    fn sum(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> f64 {
        let s = |x: usize, y: usize| self.sums[y * self.stride + x];
        s(x1, y1) - s(x0, y1) - s(x1, y0) + s(x0, y0)
    }
}

fn best_crop(table: &SummedArea, gw: usize, gh: usize, width: u32, height: u32, ratio: f32) -> Crop {
    let ratio = ratio.clamp(MIN_RATIO, MAX_RATIO);
    // The largest crop of this shape that fits.
    let (w, h) = (width as f32, height as f32);
    let (cw, ch) = if w / h > ratio { (h * ratio, h) } else { (w, w / ratio) };
    let (cells_w, cells_h) =
        (((cw / w * gw as f32).round() as usize).clamp(1, gw), ((ch / h * gh as f32).round() as usize).clamp(1, gh));
    let (mut best, mut best_at) = (f64::NEG_INFINITY, (0usize, 0usize));
    for y in 0..=(gh - cells_h) {
        for x in 0..=(gw - cells_w) {
            let total = table.sum(x, y, x + cells_w, y + cells_h);
            if total > best + 1e-9 {
                best = total;
                best_at = (x, y);
            }
        }
    }
    // Back to pixels, keeping the exact size and staying inside the image.
    let x = (best_at.0 as f32 * w / gw as f32).clamp(0.0, w - cw);
    let y = (best_at.1 as f32 * h / gh as f32).clamp(0.0, h - ch);
    Crop { aspect_ratio: ratio, rect: BBox { x: x.round(), y: y.round(), w: cw.floor(), h: ch.floor() } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn the_crop_follows_the_detail_and_keeps_its_shape() {
        // A flat wide image with a checkerboard on the right: a square crop goes right.
        let mut image = RgbImage::from_pixel(400, 200, Rgb([128, 128, 128]));
        for y in 0..200 {
            for x in 300..400 {
                let v = if (x / 10 + y / 10) % 2 == 0 { 0 } else { 255 };
                image.put_pixel(x, y, Rgb([v, v, v]));
            }
        }
        let crop = crops(&image, &[1.0], &[])[0];
        assert_eq!((crop.rect.w, crop.rect.h), (200.0, 200.0));
        assert!(crop.rect.x >= 190.0, "{crop:?}");
        assert!(crop.rect.right() <= 400.0);
    }

    #[test]
    fn a_face_outweighs_background_detail() {
        let mut image = RgbImage::from_pixel(400, 200, Rgb([128, 128, 128]));
        for y in 0..200 {
            for x in 300..400 {
                let v = if (x / 10 + y / 10) % 2 == 0 { 0 } else { 255 };
                image.put_pixel(x, y, Rgb([v, v, v]));
            }
        }
        let face = Region { rect: BBox { x: 10.0, y: 50.0, w: 80.0, h: 100.0 }, weight: 3.0 };
        let crop = crops(&image, &[1.0], &[face])[0];
        assert!(crop.rect.x <= 10.0, "{crop:?}");
    }
}
