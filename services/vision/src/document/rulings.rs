//! Tables from drawn grids: the page's ruling lines (long straight runs of dark pixels, found row
//! by row and column by column), and the grids they form.
//!
//! A table is found when at least two horizontal and two vertical rulings cross each other's
//! span; its rows and columns are the gaps between consecutive rulings. Only fully ruled grids are
//! read: cells merged across a missing ruling, and tables drawn without lines, are not detected.
//! Written here: the image crates offer morphology, but the grid reading is specific to tables.

use image::{GrayImage, RgbImage};

use crate::geometry::BBox;

/// Darker than this (0..255) is ink.
const INK: u8 = 128;
/// A ruling is at least this long, in pixels and as a share of the page's side.
const MIN_RULING_PX: u32 = 40;
const MIN_RULING_SHARE: f32 = 0.08;
/// Rulings this close (pixels) are one (a thick line is many rows of ink).
const MERGE_PX: f32 = 4.0;
/// How far a ruling may stop short of a crossing one and still meet it (pixels).
const SLACK_PX: f32 = 6.0;

/// A straight ruling: `at` is its y (horizontal) or x (vertical); it runs from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ruling {
    pub at: f32,
    pub from: f32,
    pub to: f32,
}

/// A ruled table: the y of each horizontal ruling and the x of each vertical one, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub rows: Vec<f32>,
    pub columns: Vec<f32>,
}

impl Grid {
    pub fn row_count(&self) -> usize {
        self.rows.len().saturating_sub(1)
    }

    pub fn column_count(&self) -> usize {
        self.columns.len().saturating_sub(1)
    }

    pub fn bounds(&self) -> BBox {
        let (x0, x1) = (self.columns[0], self.columns[self.columns.len() - 1]);
        let (y0, y1) = (self.rows[0], self.rows[self.rows.len() - 1]);
        BBox::from_corners(x0, y0, x1, y1)
    }

    /// The cell (row, column) holding the point, if it is inside the grid.
    pub fn cell_at(&self, x: f32, y: f32) -> Option<(usize, usize)> {
        let row = self.rows.windows(2).position(|w| y >= w[0] && y < w[1])?;
        let column = self.columns.windows(2).position(|w| x >= w[0] && x < w[1])?;
        Some((row, column))
    }

    pub fn cell_box(&self, row: usize, column: usize) -> BBox {
        BBox::from_corners(self.columns[column], self.rows[row], self.columns[column + 1], self.rows[row + 1])
    }
}

/// Runs of ink at least `min` long along each of `lines` lines of `len` pixels: (line, start, end).
fn runs(lines: u32, len: u32, min: u32, ink: impl Fn(u32, u32) -> bool) -> Vec<(u32, u32, u32)> {
    let mut out = Vec::new();
    for line in 0..lines {
        let mut start = None;
        for i in 0..=len {
            let dark = i < len && ink(line, i);
            match (dark, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    if i - s >= min {
                        out.push((line, s, i));
                    }
                    start = None;
                }
                _ => {}
            }
        }
    }
    out
}

/// Merges runs on neighbouring lines that overlap into rulings (a thick line is one ruling).
fn merge(mut found: Vec<(u32, u32, u32)>) -> Vec<Ruling> {
    found.sort_by_key(|&(line, from, _)| (from, line));
    let mut rulings: Vec<(Ruling, u32)> = Vec::new();
    for (line, from, to) in found {
        let (line, from, to) = (line as f32, from as f32, to as f32);
        match rulings.iter_mut().find(|(r, _)| (line - r.at).abs() <= MERGE_PX && from < r.to && r.from < to) {
            Some((r, n)) => {
                r.at = (r.at * *n as f32 + line) / (*n as f32 + 1.0);
                r.from = r.from.min(from);
                r.to = r.to.max(to);
                *n += 1;
            }
            None => rulings.push((Ruling { at: line, from, to }, 1)),
        }
    }
    let mut out: Vec<Ruling> = rulings.into_iter().map(|(r, _)| r).collect();
    out.sort_by(|a, b| a.at.total_cmp(&b.at));
    out
}

/// The horizontal and vertical rulings of a page.
pub fn rulings(image: &RgbImage) -> (Vec<Ruling>, Vec<Ruling>) {
    let gray: GrayImage = image::imageops::grayscale(image);
    let (w, h) = gray.dimensions();
    let ink = |x: u32, y: u32| gray.get_pixel(x, y).0[0] < INK;
    let min_h = MIN_RULING_PX.max((w as f32 * MIN_RULING_SHARE) as u32);
    let min_v = MIN_RULING_PX.max((h as f32 * MIN_RULING_SHARE) as u32);
    let horizontal = merge(runs(h, w, min_h, |y, x| ink(x, y)));
    let vertical = merge(runs(w, h, min_v, ink));
    (horizontal, vertical)
}

fn crosses(h: &Ruling, v: &Ruling) -> bool {
    v.at >= h.from - SLACK_PX && v.at <= h.to + SLACK_PX && h.at >= v.from - SLACK_PX && h.at <= v.to + SLACK_PX
}

/// The ruled grids: groups of rulings that cross each other, at least 2 by 2.
pub fn grids(horizontal: &[Ruling], vertical: &[Ruling]) -> Vec<Grid> {
    // Group the rulings into connected sets (a horizontal and a vertical one are linked when
    // they cross).
    let n = horizontal.len() + vertical.len();
    let mut group: Vec<usize> = (0..n).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for (i, h) in horizontal.iter().enumerate() {
        for (j, v) in vertical.iter().enumerate() {
            if crosses(h, v) {
                let (a, b) = (root(&mut group, i), root(&mut group, horizontal.len() + j));
                group[a] = b;
            }
        }
    }
    let mut grids = Vec::new();
    let mut seen = Vec::new();
    for i in 0..n {
        let r = root(&mut group, i);
        if seen.contains(&r) {
            continue;
        }
        seen.push(r);
        let mut rows: Vec<f32> =
            (0..horizontal.len()).filter(|&k| root(&mut group, k) == r).map(|k| horizontal[k].at).collect();
        let mut columns: Vec<f32> = (0..vertical.len())
            .filter(|&k| root(&mut group, horizontal.len() + k) == r)
            .map(|k| vertical[k].at)
            .collect();
        rows.sort_by(f32::total_cmp);
        columns.sort_by(f32::total_cmp);
        if rows.len() >= 2 && columns.len() >= 2 {
            grids.push(Grid { rows, columns });
        }
    }
    grids.sort_by(|a, b| a.rows[0].total_cmp(&b.rows[0]));
    grids
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    /// A white page with a 3 x 2 grid drawn at x = 50, 250, 450 and y = 100, 150, 200, 250.
    fn page() -> RgbImage {
        let mut image = RgbImage::from_pixel(600, 400, Rgb([255, 255, 255]));
        for &y in &[100u32, 150, 200, 250] {
            for x in 50..=450 {
                for t in 0..2 {
                    image.put_pixel(x, y + t, Rgb([0, 0, 0]));
                }
            }
        }
        for &x in &[50u32, 250, 450] {
            for y in 100..=251 {
                image.put_pixel(x, y, Rgb([20, 20, 20]));
            }
        }
        // Some text-like ink that is no ruling.
        for x in 60..90 {
            image.put_pixel(x, 120, Rgb([0, 0, 0]));
        }
        image
    }

    #[test]
    fn a_drawn_grid_is_found_with_its_rows_and_columns() {
        let (h, v) = rulings(&page());
        assert_eq!(h.len(), 4, "{h:?}");
        assert_eq!(v.len(), 3, "{v:?}");
        let grids = grids(&h, &v);
        assert_eq!(grids.len(), 1);
        let grid = &grids[0];
        assert_eq!((grid.row_count(), grid.column_count()), (3, 2));
        assert_eq!(grid.cell_at(300.0, 175.0), Some((1, 1)));
        assert_eq!(grid.cell_at(10.0, 175.0), None);
        assert!((grid.rows[0] - 100.5).abs() < 1.0 && (grid.columns[2] - 450.0).abs() < 1.0, "{grid:?}");
    }

    #[test]
    fn lone_lines_are_no_table() {
        let mut image = RgbImage::from_pixel(600, 400, Rgb([255, 255, 255]));
        for x in 50..500 {
            image.put_pixel(x, 300, Rgb([0, 0, 0]));
        }
        let (h, v) = rulings(&image);
        assert_eq!((h.len(), v.len()), (1, 0));
        assert!(grids(&h, &v).is_empty());
    }
}
