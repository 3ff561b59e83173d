//! Resizing images to the models' input sizes.
//!
//! `fast_image_resize` does the same bilinear convolution as `image::imageops::resize` with SIMD:
//! resizing a photo was the largest cost of a tag or object request before it was used here.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// `image` resized to `width` x `height` (bilinear; aspect ratio not kept).
pub fn resize(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (width, height) = (width.max(1), height.max(1));
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    let mut target = Image::new(width, height, PixelType::U8x3);
    let resized = ImageRef::new(image.width(), image.height(), image.as_raw(), PixelType::U8x3)
        .ok()
        .and_then(|source| Resizer::new().resize(&source, &mut target, &options).ok())
        .and_then(|()| RgbImage::from_raw(width, height, target.into_vec()));
    // The buffers always match (RgbImage is tightly packed RGB8); the fallback is never expected.
    resized.unwrap_or_else(|| image::imageops::resize(image, width, height, image::imageops::FilterType::Triangle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn halves_a_two_tone_image() {
        let mut image = RgbImage::from_pixel(100, 40, Rgb([0, 0, 0]));
        for y in 0..40 {
            for x in 50..100 {
                image.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
        let small = resize(&image, 50, 20);
        assert_eq!(small.dimensions(), (50, 20));
        assert_eq!(small.get_pixel(5, 10).0, [0, 0, 0]);
        assert_eq!(small.get_pixel(45, 10).0, [255, 255, 255]);
    }
}
