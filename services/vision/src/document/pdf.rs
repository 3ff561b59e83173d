//! PDF pages as images, rendered by poppler's `pdftoppm` (Debian `poppler-utils`), with their
//! sizes read by `pdfinfo`. Run as programs, like eSpeak NG: a hostile PDF can only crash or
//! stall a child process, which `timeout` (coreutils) ends. Each page is rendered on its own, its
//! longer side at most [`MAX_SIDE`] pixels, so a page of any declared size costs the same.

use std::path::{Path, PathBuf};
use std::process::Command;

use cogway_core::ServiceError;
use image::RgbImage;

/// The longer side of a rendered page, in pixels (about 200 dpi for A4 and Letter).
pub const MAX_SIDE: u32 = 2_200;
/// Seconds `pdfinfo` and each page's `pdftoppm` may take.
const TIMEOUT_SECS: u32 = 60;

/// A PDF's magic bytes.
pub fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
}

/// A rendered page: the image and the page's size in inches.
pub struct RenderedPage {
    pub image: RgbImage,
    pub width_inches: f32,
    pub height_inches: f32,
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid(message)
}

/// A scratch directory holding the PDF, removed when dropped.
pub struct Scratch {
    dir: PathBuf,
    pdf: PathBuf,
}

impl Scratch {
    pub fn new(bytes: &[u8]) -> Result<Self, ServiceError> {
        let dir = std::env::temp_dir().join(format!("cogway-pdf-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).map_err(|e| ServiceError::internal(format!("scratch directory: {e}")))?;
        let pdf = dir.join("in.pdf");
        std::fs::write(&pdf, bytes).map_err(|e| ServiceError::internal(format!("writing the PDF: {e}")))?;
        Ok(Self { dir, pdf })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (u64::from(nanos) << 20) ^ NEXT.fetch_add(1, Ordering::Relaxed)
}

fn run(program: &str, args: &[&str], path: &Path) -> Result<Vec<u8>, ServiceError> {
    let out = Command::new("timeout")
        .arg(TIMEOUT_SECS.to_string())
        .arg(program)
        .args(args)
        .arg(path)
        .output()
        .map_err(|e| ServiceError::internal(format!("cannot run {program} (poppler-utils): {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(invalid(format!("The PDF cannot be read: {}", why.lines().next().unwrap_or("it is damaged"))));
    }
    Ok(out.stdout)
}

/// Each page's size in points (1/72 inch), from `pdfinfo`.
pub fn page_sizes(scratch: &Scratch) -> Result<Vec<(f32, f32)>, ServiceError> {
    let count_text = run("pdfinfo", &[], &scratch.pdf)?;
    let count = String::from_utf8_lossy(&count_text)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").and_then(|v| v.trim().parse::<usize>().ok()))
        .ok_or_else(|| invalid("The PDF has no pages."))?;
    if count == 0 {
        return Err(invalid("The PDF has no pages."));
    }
    let last = count.to_string();
    let info = run("pdfinfo", &["-f", "1", "-l", &last], &scratch.pdf)?;
    // "Page    1 size: 612 x 792 pts (letter)"
    let sizes: Vec<(f32, f32)> = String::from_utf8_lossy(&info)
        .lines()
        .filter(|l| l.starts_with("Page") && l.contains(" size:"))
        .filter_map(|l| {
            let dims = l.split(" size:").nth(1)?;
            let mut parts = dims.split_whitespace();
            let w = parts.next()?.parse::<f32>().ok()?;
            let _x = parts.next()?;
            let h = parts.next()?.parse::<f32>().ok()?;
            (w > 0.0 && h > 0.0).then_some((w, h))
        })
        .collect();
    if sizes.len() != count {
        return Err(invalid("The PDF's page sizes cannot be read."));
    }
    Ok(sizes)
}

/// Renders page `number` (1-based) of size `points`.
pub fn render(scratch: &Scratch, number: usize, points: (f32, f32)) -> Result<RenderedPage, ServiceError> {
    let page = number.to_string();
    let side = MAX_SIDE.to_string();
    let prefix = scratch.dir.join(format!("page{number}"));
    let prefix_text = prefix.to_string_lossy().to_string();
    let out = Command::new("timeout")
        .arg(TIMEOUT_SECS.to_string())
        .arg("pdftoppm")
        .args(["-png", "-singlefile", "-scale-to", &side, "-f", &page, "-l", &page])
        .arg(&scratch.pdf)
        .arg(&prefix_text)
        .output()
        .map_err(|e| ServiceError::internal(format!("cannot run pdftoppm (poppler-utils): {e}")))?;
    if !out.status.success() {
        return Err(invalid(format!("Page {number} of the PDF cannot be rendered.")));
    }
    let file = prefix.with_extension("png");
    let image = image::open(&file).map_err(|e| invalid(format!("Page {number} of the PDF cannot be rendered: {e}")))?;
    let _ = std::fs::remove_file(&file);
    Ok(RenderedPage { image: image.to_rgb8(), width_inches: points.0 / 72.0, height_inches: points.1 / 72.0 })
}
