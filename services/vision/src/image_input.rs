//! Turning uploaded bytes into an RGB image, safely.
//!
//! JPEG, PNG, BMP, GIF (first frame), TIFF and WebP are decoded by the `image` crate with limits
//! on width, height and memory set before any pixel is allocated, so a small file that claims a
//! huge canvas (a decompression bomb) is refused instead of exhausting memory. The EXIF
//! orientation is applied, so a photo taken sideways is analysed the way it is shown.

use std::borrow::Cow;
use std::io::Cursor;
use std::sync::Arc;

use cogway_core::{Code, ServiceError};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use crate::image_prescan;

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
    let kind = image::guess_format(bytes)
        .ok()
        .filter(|f| format_name(*f).is_some())
        .ok_or_else(|| format_error("Input data is not a valid image. Send JPEG, PNG, BMP, GIF, TIFF or WebP."))?;
    let format = format_name(kind).unwrap_or("image");
    // What the decoders would pay for before noticing anything wrong (image_prescan).
    let bytes = match kind {
        ImageFormat::Png => image_prescan::png_without_color_profile(bytes),
        ImageFormat::WebP => {
            image_prescan::check_webp_frames(bytes).map_err(format_error)?;
            Cow::Borrowed(bytes)
        }
        ImageFormat::Tiff => {
            image_prescan::check_tiff_chunks(bytes).map_err(size_error)?;
            Cow::Borrowed(bytes)
        }
        _ => Cow::Borrowed(bytes),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes.as_ref()), kind);
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
    let image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(format, &e))?;
    // To 8-bit RGB first (dropping the decoder's buffer, up to 8 bytes a pixel), then turned: the
    // turn copies 3 bytes a pixel, not the decoder's 8.
    let mut image = DynamicImage::ImageRgb8(image.into_rgb8());
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
    use std::time::{Duration, Instant};

    use super::*;
    use crate::image_prescan::tests::{
        png_chunk, riff_chunk, vp8_header, webp_extended, with_chunk_after_ihdr, zlib_zeros,
    };

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

    #[test]
    fn a_color_profile_bomb_never_reaches_the_png_decoder() {
        // A 64 x 64 PNG whose iCCP profile inflates to 200 MB (1.3 MB on the wire): the decoder
        // would inflate it while reading the header; the profile is dropped first.
        let mut profile = b"bomb\0\0".to_vec();
        profile.extend(zlib_zeros(200 * 1024 * 1024 / 258));
        let bomb = with_chunk_after_ihdr(&png(64, 64), &png_chunk(b"iCCP", &profile));
        assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
        let stripped = crate::image_prescan::png_without_color_profile(&bomb);
        assert_eq!(stripped.len(), png(64, 64).len());
        let picture = decode(&bomb, &ImageLimits::default()).expect("decodes without the profile");
        assert_eq!((picture.width(), picture.height()), (64, 64));
        assert_eq!(picture.rgb.get_pixel(3, 3).0, [200, 10, 10]);
    }

    #[test]
    fn a_webp_frame_larger_than_its_canvas_is_refused_before_decoding() {
        // A 100 x 80 canvas whose VP8 bitstream claims 16,383 x 16,383: the decoder would allocate
        // and decode 268 megapixels before comparing the two.
        let bomb = webp_extended(100, 80, 0, &[riff_chunk(b"VP8 ", &vp8_header(16_383, 16_383, &[0; 64]))]);
        let started = Instant::now();
        let err = decode(&bomb, &ImageLimits::default()).unwrap_err();
        assert_eq!(err.code, Code::InvalidImageFormat, "{err}");
        assert!(err.message.contains("canvas is 100x80"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
    }

    #[test]
    fn a_png_animation_frame_larger_than_the_image_is_refused() {
        // acTL + an fcTL claiming 20,000 x 20,000 for a 64 x 64 image.
        let mut actl = 1u32.to_be_bytes().to_vec();
        actl.extend_from_slice(&0u32.to_be_bytes());
        let mut fctl = 0u32.to_be_bytes().to_vec(); // sequence number
        for v in [20_000u32, 20_000, 0, 0] {
            fctl.extend_from_slice(&v.to_be_bytes());
        }
        fctl.extend_from_slice(&[0, 1, 0, 1, 0, 0]); // delay 1/1, no dispose, source blend
        let apng =
            with_chunk_after_ihdr(&png(64, 64), &[png_chunk(b"acTL", &actl), png_chunk(b"fcTL", &fctl)].concat());
        let err = decode(&apng, &ImageLimits::default()).unwrap_err();
        assert_eq!(err.code, Code::InvalidImageFormat, "{err}");
    }

    #[test]
    fn only_the_first_of_many_gif_frames_is_decoded() {
        let mut out = Vec::new();
        {
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
            let first = image::RgbaImage::from_pixel(64, 64, image::Rgba([250, 0, 0, 255]));
            let other = image::RgbaImage::from_pixel(64, 64, image::Rgba([0, 0, 250, 255]));
            encoder.encode_frame(image::Frame::new(first)).expect("frame");
            for _ in 0..3_000 {
                encoder.encode_frame(image::Frame::new(other.clone())).expect("frame");
            }
        }
        let started = Instant::now();
        let picture = decode(&out, &ImageLimits::default()).expect("decodes");
        assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
        assert_eq!((picture.width(), picture.height()), (64, 64));
        assert!(picture.rgb.get_pixel(10, 10).0[0] > 200);
    }

    /// A little-endian TIFF: a 64 x 64 RGB page with `strips` strip offsets (all pointing at the
    /// same pixels), followed by `more_pages` further IFDs (the last pointing back at itself).
    fn tiff(strips: u32, more_pages: u32) -> Vec<u8> {
        let pixels = vec![180u8; 64 * 64 * 3];
        let mut out = b"II*\0".to_vec();
        out.extend_from_slice(&8u32.to_le_bytes());
        let entries: u16 = 9;
        let ifd_len = 2 + 12 * u32::from(entries) + 4;
        let bits_at = 8 + ifd_len;
        let offsets_at = bits_at + 6;
        let counts_at = offsets_at + 4 * strips;
        let pixels_at = counts_at + 4 * strips;
        let next_at = pixels_at + pixels.len() as u32;
        let rows_per_strip = 64u32.div_ceil(strips).max(1);
        let entry = |tag: u16, kind: u16, count: u32, value: u32| {
            let mut e = tag.to_le_bytes().to_vec();
            e.extend_from_slice(&kind.to_le_bytes());
            e.extend_from_slice(&count.to_le_bytes());
            e.extend_from_slice(&value.to_le_bytes());
            e
        };
        let ifd = |next: u32| {
            let mut ifd = entries.to_le_bytes().to_vec();
            ifd.extend(entry(256, 3, 1, 64));
            ifd.extend(entry(257, 3, 1, 64));
            ifd.extend(entry(258, 3, 3, bits_at));
            ifd.extend(entry(259, 3, 1, 1));
            ifd.extend(entry(262, 3, 1, 2));
            ifd.extend(entry(273, 4, strips, if strips == 1 { pixels_at } else { offsets_at }));
            ifd.extend(entry(277, 3, 1, 3));
            ifd.extend(entry(278, 4, 1, rows_per_strip));
            let bytes = rows_per_strip * 64 * 3;
            ifd.extend(entry(279, 4, strips, if strips == 1 { bytes } else { counts_at }));
            ifd.extend_from_slice(&next.to_le_bytes());
            ifd
        };
        out.extend(ifd(if more_pages > 0 { next_at } else { 0 }));
        for _ in 0..3 {
            out.extend_from_slice(&8u16.to_le_bytes());
        }
        for _ in 0..strips {
            out.extend_from_slice(&pixels_at.to_le_bytes());
        }
        for _ in 0..strips {
            out.extend_from_slice(&(rows_per_strip * 64 * 3).to_le_bytes());
        }
        out.extend_from_slice(&pixels);
        for page in 0..more_pages {
            let here = next_at + page * ifd_len;
            out.extend(ifd(if page + 1 == more_pages { here } else { here + ifd_len }));
        }
        out
    }

    #[test]
    fn a_tiff_with_many_pages_decodes_its_first_page_only() {
        let plain = decode(&tiff(1, 0), &ImageLimits::default()).expect("decodes");
        assert_eq!(plain.rgb.get_pixel(5, 5).0, [180, 180, 180]);
        // 20,000 further pages, the last one a loop back to itself.
        let many = tiff(1, 20_000);
        let started = Instant::now();
        let picture = decode(&many, &ImageLimits::default()).expect("decodes");
        assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
        assert_eq!((picture.width(), picture.height()), (64, 64));
    }

    #[test]
    fn a_tiff_with_millions_of_strips_is_refused_quickly() {
        // 64 rows in 64 strips decode; 2 million strip offsets (16 MB of tables, which the
        // decoder would read into about 128 MB and a second of work) are refused up front.
        assert!(decode(&tiff(64, 0), &ImageLimits::default()).is_ok());
        let bomb = tiff(2_000_000, 0);
        let started = Instant::now();
        let err = decode(&bomb, &ImageLimits::default()).unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
        assert_eq!(err.code, Code::InvalidImageSize, "{err}");
        assert!(err.message.contains("2000000 strips"), "{err}");
    }
}
