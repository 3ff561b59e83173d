//! Turning uploaded bytes into an RGB image, safely.
//!
//! JPEG, PNG, BMP, GIF (first frame), TIFF and WebP are decoded by the `image` crate with limits
//! on width, height and memory set before any pixel is allocated, so a small file that claims a
//! huge canvas (a decompression bomb) is refused instead of exhausting memory. The EXIF
//! orientation is applied, so a photo taken sideways is analysed the way it is shown.

use std::io::Cursor;
use std::sync::Arc;

use cogway_core::{Code, ServiceError};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

/// Azure Image Analysis limits: at most 20 MB, sides between 50 and 16,000 pixels.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    pub max_bytes: usize,
    pub min_side: u32,
    pub max_side: u32,
    /// Width x height; refuses canvases that are within the side limits but still huge.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self { max_bytes: 20 * 1024 * 1024, min_side: 50, max_side: 16_000, max_pixels: 16_000 * 16_000 / 4 }
    }
}

/// A decoded image ready for the models.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Shared with the model workers without copying.
    pub rgb: Arc<RgbImage>,
    pub format: &'static str,
}

impl Picture {
    pub fn width(&self) -> u32 {
        self.rgb.width()
    }
    pub fn height(&self) -> u32 {
        self.rgb.height()
    }
}

fn size_error(message: String) -> ServiceError {
    ServiceError::new(Code::InvalidImageSize, message)
}

fn format_error(message: impl Into<String>) -> ServiceError {
    ServiceError::new(Code::InvalidImageFormat, message)
}

/// The formats accepted, by the name the client sees in errors.
fn format_name(format: ImageFormat) -> Option<&'static str> {
    Some(match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::WebP => "WebP",
        _ => return None,
    })
}

/// Decodes `bytes` within `limits`; every failure is an Azure-style 400.
pub fn decode(bytes: &[u8], limits: &ImageLimits) -> Result<Picture, ServiceError> {
    if bytes.is_empty() || bytes.len() > limits.max_bytes {
        return Err(size_error(format!(
            "The image size is not allowed to be zero or larger than {} bytes (got {}).",
            limits.max_bytes,
            bytes.len()
        )));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format_error(format!("The image cannot be read: {e}")))?;
    let format = reader
        .format()
        .and_then(format_name)
        .ok_or_else(|| format_error("Input data is not a valid image. Send JPEG, PNG, BMP, GIF, TIFF or WebP."))?;
    let mut reader = reader;
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    // Room for the decoded pixels (RGBA 16-bit at worst) plus the decoder's own buffers.
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(decode_limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(format, &e))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(format, &e))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(Picture { rgb: Arc::new(image.into_rgb8()), format })
}

fn check_dimensions(width: u32, height: u32, limits: &ImageLimits) -> Result<(), ServiceError> {
    let too_small = width < limits.min_side || height < limits.min_side;
    let too_large = width > limits.max_side || height > limits.max_side;
    if too_small || too_large {
        return Err(size_error(format!(
            "The image dimension is not allowed to be smaller than {} and larger than {} (got {width}x{height}).",
            limits.min_side, limits.max_side
        )));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(size_error(format!(
            "The image has {width}x{height} pixels; at most {} pixels are accepted.",
            limits.max_pixels
        )));
    }
    Ok(())
}

fn decode_error(format: &str, e: &image::ImageError) -> ServiceError {
    match e {
        image::ImageError::Limits(_) => {
            size_error(format!("The {format} image is too large to decode within this server's limits: {e}"))
        }
        _ => format_error(format!("The {format} image is corrupt or truncated: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(width, height, image::Rgb([200, 10, 10]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("encode");
        out.into_inner()
    }

    #[test]
    fn decodes_png() {
        let picture = decode(&png(64, 80), &ImageLimits::default()).expect("decodes");
        assert_eq!((picture.width(), picture.height(), picture.format), (64, 80, "PNG"));
        assert_eq!(picture.rgb.get_pixel(3, 3).0, [200, 10, 10]);
    }

    #[test]
    fn decodes_every_accepted_format() {
        let img = RgbImage::from_fn(80, 60, |x, _| image::Rgb([if x < 40 { 250 } else { 5 }, 120, 30]));
        for (format, name) in [
            (ImageFormat::Jpeg, "JPEG"),
            (ImageFormat::Bmp, "BMP"),
            (ImageFormat::Gif, "GIF"),
            (ImageFormat::Tiff, "TIFF"),
            (ImageFormat::WebP, "WebP"),
        ] {
            let mut out = Cursor::new(Vec::new());
            match format {
                // GIF and WebP encoders take RGBA.
                ImageFormat::Gif | ImageFormat::WebP => {
                    DynamicImage::ImageRgb8(img.clone()).into_rgba8().write_to(&mut out, format)
                }
                _ => img.write_to(&mut out, format),
            }
            .expect("encode");
            let picture = decode(out.get_ref(), &ImageLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((picture.width(), picture.height(), picture.format), (80, 60, name));
            let left = picture.rgb.get_pixel(10, 30).0;
            let right = picture.rgb.get_pixel(70, 30).0;
            assert!(left[0] > 200 && right[0] < 60, "{name}: {left:?} {right:?}");
        }
    }

    #[test]
    fn applies_the_exif_orientation() {
        // An 80 x 60 JPEG whose EXIF says "rotate 90 degrees clockwise to display" (orientation 6).
        let img = RgbImage::from_fn(80, 60, |x, _| image::Rgb([if x < 40 { 250 } else { 5 }, 120, 30]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).expect("encode");
        let jpeg = out.into_inner();
        let mut exif = b"Exif\0\0II*\0".to_vec();
        exif.extend_from_slice(&8u32.to_le_bytes()); // offset of the first IFD
        exif.extend_from_slice(&1u16.to_le_bytes()); // one entry:
        exif.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]); // Orientation, SHORT, 1, 6
        exif.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
        let mut with_exif = jpeg[..2].to_vec(); // SOI
        with_exif.extend_from_slice(&[0xFF, 0xE1]);
        with_exif.extend_from_slice(&(exif.len() as u16 + 2).to_be_bytes());
        with_exif.extend_from_slice(&exif);
        with_exif.extend_from_slice(&jpeg[2..]);
        let picture = decode(&with_exif, &ImageLimits::default()).expect("decodes");
        assert_eq!((picture.width(), picture.height()), (60, 80));
        // The left (red) half of the stored image is now the top half.
        assert!(picture.rgb.get_pixel(30, 10).0[0] > 200 && picture.rgb.get_pixel(30, 70).0[0] < 60);
    }

    #[test]
    fn refuses_bad_input_with_400_codes() {
        let limits = ImageLimits::default();
        assert_eq!(decode(b"", &limits).unwrap_err().code, Code::InvalidImageSize);
        assert_eq!(decode(b"hello, this is not an image at all", &limits).unwrap_err().code, Code::InvalidImageFormat);
        let small = decode(&png(20, 20), &limits).unwrap_err();
        assert_eq!(small.code, Code::InvalidImageSize);
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert_eq!(decode(&truncated, &limits).unwrap_err().code, Code::InvalidImageFormat);
    }

    #[test]
    fn refuses_a_huge_canvas_before_allocating_it() {
        // A BMP header that claims 20,000 x 20,000 pixels: refused from the header alone.
        let limits = ImageLimits::default();
        let img = RgbImage::from_pixel(64, 64, image::Rgb([1, 2, 3]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Bmp).expect("encode");
        let mut bytes = out.into_inner();
        bytes[18..22].copy_from_slice(&20_000i32.to_le_bytes());
        bytes[22..26].copy_from_slice(&20_000i32.to_le_bytes());
        let err = decode(&bytes, &limits).unwrap_err();
        assert_eq!(err.code, Code::InvalidImageSize, "{err}");
    }
}
