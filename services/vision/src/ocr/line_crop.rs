//! Cutting a detected text line out of the image, straightened, at the recogniser's height.
//!
//! PaddleOCR warps each box to an upright crop with OpenCV, then resizes it; here both happen in
//! one bilinear sampling pass straight into the target size (the box is a rectangle, so the warp
//! is affine).

use image::{Rgb, RgbImage};

use super::text_detector::TextBox;
use crate::geometry::Point;

/// A text line's pixels, upright, `height` pixels high.
pub struct LineCrop {
    pub image: RgbImage,
    /// Whether the box was taller than wide and was turned a quarter to read it.
    pub turned_quarter: bool,
}

/// The crop of `text_box` scaled to `height` pixels, its width following the box's aspect ratio
/// (at most `max_width`).
pub fn crop_line(image: &RgbImage, text_box: &TextBox, height: u32, max_width: u32) -> LineCrop {
    let [a, b, c, d] = text_box.corners;
    let (len, thick) = text_box.size();
    // Vertical text (much taller than wide) is read turned a quarter, as PaddleOCR does.
    let turned_quarter = thick >= 1.5 * len;
    let (tl, tr, bl) = if turned_quarter { (b, c, a) } else { (a, b, d) };
    let along = ((tl.x - tr.x).hypot(tl.y - tr.y)).max(1.0);
    let across = ((tl.x - bl.x).hypot(tl.y - bl.y)).max(1.0);
    let width = ((height as f32 * along / across).round() as u32).clamp(1, max_width.max(1));
    let mut out = RgbImage::new(width, height);
    let (dx, dy) = (Point::new(tr.x - tl.x, tr.y - tl.y), Point::new(bl.x - tl.x, bl.y - tl.y));
    for y in 0..height {
        let fy = (y as f32 + 0.5) / height as f32;
        for x in 0..width {
            let fx = (x as f32 + 0.5) / width as f32;
            let sx = tl.x + dx.x * fx + dy.x * fy - 0.5;
            let sy = tl.y + dx.y * fx + dy.y * fy - 0.5;
            out.put_pixel(x, y, bilinear(image, sx, sy));
        }
    }
    LineCrop { image: out, turned_quarter }
}

fn bilinear(image: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let x0 = x.floor() as i64;
    let y0 = y.floor() as i64;
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = |xi: i64, yi: i64| {
        let p = image.get_pixel(xi.clamp(0, w - 1) as u32, yi.clamp(0, h - 1) as u32);
        [f32::from(p.0[0]), f32::from(p.0[1]), f32::from(p.0[2])]
    };
    let (a, b, c, d) = (at(x0, y0), at(x0 + 1, y0), at(x0, y0 + 1), at(x0 + 1, y0 + 1));
    let mut out = [0u8; 3];
    for i in 0..3 {
        let top = a[i] + (b[i] - a[i]) * fx;
        let bottom = c[i] + (d[i] - c[i]) * fx;
        out[i] = (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_an_axis_aligned_box_at_the_target_height() {
        let mut image = RgbImage::from_pixel(100, 50, Rgb([255, 255, 255]));
        for x in 20..80 {
            for y in 10..30 {
                image.put_pixel(x, y, Rgb([0, 0, 0]));
            }
        }
        let corners = [Point::new(20.0, 10.0), Point::new(80.0, 10.0), Point::new(80.0, 30.0), Point::new(20.0, 30.0)];
        let crop = crop_line(&image, &TextBox { corners, score: 1.0 }, 48, 1000);
        assert_eq!((crop.image.width(), crop.image.height()), (144, 48));
        assert!(!crop.turned_quarter);
        assert_eq!(crop.image.get_pixel(72, 24).0, [0, 0, 0]);
    }
}
