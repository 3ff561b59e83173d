//! Document analysis (Document Intelligence's prebuilt-read and prebuilt-layout) from the OCR's
//! lines of each page: the document's text in reading order (`content`), with every page, line,
//! word, paragraph and table cell pointing into it by byte spans.
//!
//! - Paragraphs: consecutive lines that sit one under the other (small gap, overlapping columns,
//!   similar heights). With layout, the first paragraph of the first page is a `title` when its
//!   letters are much taller than the page's body text, and short tall paragraphs are
//!   `sectionHeading`s.
//! - Tables (layout): ruled grids found in the page image ([`rulings`]); each line belongs to the
//!   cell holding its centre; the first row is taken as column headers.
//! - Not detected: selection marks, figures, page headers and footers, tables without ruling
//!   lines, merged cells, multi-column reading order (lines are read top to bottom, left to right).

pub mod pdf;
pub mod rulings;

use image::RgbImage;

use crate::geometry::{BBox, Point};
use crate::ocr::layout::TextLine;
use rulings::Grid;

/// A byte range of the content: (offset, length).
pub type Span = (usize, usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Text: pages, lines, words, paragraphs (no roles).
    Read,
    /// Text and structure: paragraph roles and tables as well.
    Layout,
}

/// One page as the OCR read it.
pub struct PageInput {
    pub width: u32,
    pub height: u32,
    /// In reading order.
    pub lines: Vec<TextLine>,
    /// Whether most lines were read upside down.
    pub upside_down: bool,
    /// The ruled tables of the page image ([`ruled_tables`]; none for prebuilt-read).
    pub grids: Vec<Grid>,
}

/// The ruled tables of a page image.
pub fn ruled_tables(image: &RgbImage) -> Vec<Grid> {
    let (horizontal, vertical) = rulings::rulings(image);
    rulings::grids(&horizontal, &vertical)
}

#[derive(Debug, Clone)]
pub struct Word {
    pub content: String,
    pub polygon: [Point; 4],
    pub confidence: f32,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub content: String,
    pub polygon: [Point; 4],
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub number: usize,
    pub width: u32,
    pub height: u32,
    pub angle: f32,
    pub words: Vec<Word>,
    pub lines: Vec<Line>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Paragraph {
    pub role: Option<&'static str>,
    pub content: String,
    pub page: usize,
    pub polygon: [Point; 4],
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub row: usize,
    pub column: usize,
    /// `columnHeader` for the first row; `None` (content) for the others.
    pub kind: Option<&'static str>,
    pub content: String,
    pub polygon: [Point; 4],
    /// `None` for an empty cell.
    pub span: Option<Span>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub page: usize,
    pub row_count: usize,
    pub column_count: usize,
    pub cells: Vec<Cell>,
    pub polygon: [Point; 4],
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct Document {
    pub content: String,
    pub pages: Vec<Page>,
    pub paragraphs: Vec<Paragraph>,
    pub tables: Vec<Table>,
}

/// A title's letters are at least this many times the page's median line height.
const TITLE_HEIGHT: f32 = 1.4;
/// A section heading's letters are at least this many times the median, on at most 2 lines.
const HEADING_HEIGHT: f32 = 1.2;
/// Lines further apart than this many line heights start a new paragraph.
const PARAGRAPH_GAP: f32 = 0.8;

fn bounds(polygon: &[Point; 4]) -> BBox {
    let xs = polygon.iter().map(|p| p.x);
    let ys = polygon.iter().map(|p| p.y);
    let (x0, x1) = xs.fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (y0, y1) = ys.fold((f32::MAX, f32::MIN), |(a, b), y| (a.min(y), b.max(y)));
    BBox::from_corners(x0, y0, x1, y1)
}

fn corners(b: &BBox) -> [Point; 4] {
    [Point::new(b.x, b.y), Point::new(b.right(), b.y), Point::new(b.right(), b.y + b.h), Point::new(b.x, b.y + b.h)]
}

fn union(boxes: impl Iterator<Item = BBox>) -> BBox {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for b in boxes {
        x0 = x0.min(b.x);
        y0 = y0.min(b.y);
        x1 = x1.max(b.right());
        y1 = y1.max(b.y + b.h);
    }
    if x0 > x1 { BBox::from_corners(0.0, 0.0, 0.0, 0.0) } else { BBox::from_corners(x0, y0, x1, y1) }
}

/// Groups consecutive lines (indices into `lines`) into paragraphs.
fn paragraphs(lines: &[TextLine], order: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for &i in order {
        let b = bounds(&lines[i].polygon);
        let joins = out.last().and_then(|p| p.last()).is_some_and(|&j| {
            let a = bounds(&lines[j].polygon);
            let gap = b.y - (a.y + a.h);
            let height = a.h.max(b.h).max(1.0);
            let overlap = a.x < b.right() && b.x < a.right();
            let similar = a.h.max(b.h) / a.h.min(b.h).max(1.0) < 1.4;
            gap > -0.5 * height && gap < PARAGRAPH_GAP * height && overlap && similar
        });
        match out.last_mut() {
            Some(p) if joins => p.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

fn median(mut values: Vec<f32>) -> f32 {
    values.sort_by(f32::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// What a page holds, in reading order.
enum Block {
    Paragraph(Vec<usize>),
    Table(Grid, Vec<Vec<usize>>),
}

impl Block {
    fn top(&self, lines: &[TextLine]) -> f32 {
        match self {
            Block::Paragraph(p) => p.first().map_or(0.0, |&i| bounds(&lines[i].polygon).y),
            Block::Table(grid, _) => grid.rows[0],
        }
    }
}

/// Writes `text` to the content and returns its span.
fn write(content: &mut String, text: &str) -> Span {
    if !content.is_empty() {
        content.push('\n');
    }
    let at = content.len();
    content.push_str(text);
    (at, text.len())
}

/// Analyses the pages.
pub fn analyze(pages: Vec<PageInput>, model: Model) -> Document {
    let mut doc = Document::default();
    for (p, page) in pages.into_iter().enumerate() {
        let number = p + 1;
        let lines = page.lines;
        let grids = if model == Model::Layout { page.grids } else { Vec::new() };
        // Each line goes to the first grid cell holding its centre, else to the text.
        let mut cell_lines: Vec<Vec<Vec<usize>>> =
            grids.iter().map(|g| vec![Vec::new(); g.row_count() * g.column_count()]).collect();
        let mut free = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let b = bounds(&line.polygon);
            let (cx, cy) = (b.x + b.w / 2.0, b.y + b.h / 2.0);
            let placed = grids.iter().enumerate().find_map(|(g, grid)| grid.cell_at(cx, cy).map(|(r, c)| (g, r, c)));
            match placed {
                Some((g, r, c)) => cell_lines[g][r * grids[g].column_count() + c].push(i),
                None => free.push(i),
            }
        }
        let mut blocks: Vec<Block> = paragraphs(&lines, &free).into_iter().map(Block::Paragraph).collect();
        blocks.extend(grids.into_iter().zip(cell_lines).map(|(g, cells)| Block::Table(g, cells)));
        blocks.sort_by(|a, b| a.top(&lines).total_cmp(&b.top(&lines)));
        let body_height = median(free.iter().map(|&i| bounds(&lines[i].polygon).h).collect());

        let page_start = if doc.content.is_empty() { 0 } else { doc.content.len() + 1 };
        let mut line_spans: Vec<Option<Span>> = vec![None; lines.len()];
        let mut first_paragraph = true;
        for block in &blocks {
            match block {
                Block::Paragraph(members) => {
                    let mut spans = Vec::new();
                    for &i in members {
                        let span = write(&mut doc.content, &lines[i].text);
                        line_spans[i] = Some(span);
                        spans.push(span);
                    }
                    let (start, end) = (spans[0].0, spans[spans.len() - 1].0 + spans[spans.len() - 1].1);
                    let height = median(members.iter().map(|&i| bounds(&lines[i].polygon).h).collect());
                    let role = match model {
                        Model::Read => None,
                        Model::Layout if first_paragraph && number == 1 && height >= TITLE_HEIGHT * body_height => {
                            Some("title")
                        }
                        Model::Layout if members.len() <= 2 && height >= HEADING_HEIGHT * body_height => {
                            Some("sectionHeading")
                        }
                        Model::Layout => None,
                    };
                    first_paragraph = false;
                    doc.paragraphs.push(Paragraph {
                        role,
                        content: doc.content[start..end].to_string(),
                        page: number,
                        polygon: corners(&union(members.iter().map(|&i| bounds(&lines[i].polygon)))),
                        span: (start, end - start),
                    });
                }
                Block::Table(grid, cells) => {
                    let table_start = doc.content.len() + usize::from(!doc.content.is_empty());
                    let mut out = Vec::new();
                    for (k, members) in cells.iter().enumerate() {
                        let (row, column) = (k / grid.column_count(), k % grid.column_count());
                        let mut spans = Vec::new();
                        for &i in members {
                            let span = write(&mut doc.content, &lines[i].text);
                            line_spans[i] = Some(span);
                            spans.push(span);
                        }
                        let span =
                            spans.first().map(|s| (s.0, spans[spans.len() - 1].0 + spans[spans.len() - 1].1 - s.0));
                        out.push(Cell {
                            row,
                            column,
                            kind: (row == 0 && grid.row_count() > 1).then_some("columnHeader"),
                            content: span.map(|(a, n)| doc.content[a..a + n].to_string()).unwrap_or_default(),
                            polygon: corners(&grid.cell_box(row, column)),
                            span,
                        });
                    }
                    let table_end = doc.content.len().max(table_start);
                    doc.tables.push(Table {
                        page: number,
                        row_count: grid.row_count(),
                        column_count: grid.column_count(),
                        cells: out,
                        polygon: corners(&grid.bounds()),
                        span: (table_start.min(table_end), table_end - table_start.min(table_end)),
                    });
                }
            }
        }
        let mut page_lines = Vec::new();
        let mut page_words = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let Some(span) = line_spans[i] else { continue };
            let mut at = span.0;
            for word in &line.words {
                page_words.push(Word {
                    content: word.text.clone(),
                    polygon: word.polygon,
                    confidence: word.confidence,
                    span: (at, word.text.len()),
                });
                at += word.text.len() + 1;
            }
            page_lines.push(Line { content: line.text.clone(), polygon: line.polygon, span });
        }
        page_lines.sort_by_key(|l| l.span.0);
        page_words.sort_by_key(|w| w.span.0);
        let page_end = doc.content.len().max(page_start);
        doc.pages.push(Page {
            number,
            width: page.width,
            height: page.height,
            angle: if page.upside_down { 180.0 } else { 0.0 },
            words: page_words,
            lines: page_lines,
            span: (page_start.min(page_end), page_end - page_start.min(page_end)),
        });
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocr::layout::Word as OcrWord;

    fn line(text: &str, x: f32, y: f32, h: f32) -> TextLine {
        let mut words = Vec::new();
        let mut at = x;
        for w in text.split(' ') {
            let width = w.len() as f32 * h * 0.5;
            words.push(OcrWord {
                text: w.into(),
                polygon: [
                    Point::new(at, y),
                    Point::new(at + width, y),
                    Point::new(at + width, y + h),
                    Point::new(at, y + h),
                ],
                confidence: 0.9,
            });
            at += width + h * 0.5;
        }
        TextLine {
            text: text.into(),
            polygon: [Point::new(x, y), Point::new(at, y), Point::new(at, y + h), Point::new(x, y + h)],
            words,
            confidence: 0.9,
            upside_down: false,
        }
    }

    #[test]
    fn content_spans_paragraphs_roles_and_a_ruled_table() {
        let lines = vec![
            line("Invoice 42", 50.0, 20.0, 40.0),
            line("Thank you for your order.", 50.0, 80.0, 16.0),
            line("It ships tomorrow.", 50.0, 98.0, 16.0),
            line("Item", 60.0, 110.0, 16.0),
            line("Qty", 260.0, 110.0, 16.0),
            line("Apples", 60.0, 160.0, 16.0),
            line("3", 260.0, 160.0, 16.0),
        ];
        // The grid of the rulings test: y = 100..250, x = 50..450, 3 rows and 2 columns; the
        // lines above were moved onto it.
        let mut image = RgbImage::from_pixel(600, 400, image::Rgb([255, 255, 255]));
        for &y in &[100u32, 150, 200, 250] {
            for x in 50..=450 {
                image.put_pixel(x, y, image::Rgb([0, 0, 0]));
            }
        }
        for &x in &[50u32, 250, 450] {
            for y in 100..=250 {
                image.put_pixel(x, y, image::Rgb([0, 0, 0]));
            }
        }
        let mut lines = lines;
        // The second paragraph lies above the grid.
        lines[1] = line("Thank you for your order.", 50.0, 50.0, 16.0);
        lines[2] = line("It ships tomorrow.", 50.0, 68.0, 16.0);
        let page = PageInput { width: 600, height: 400, lines, upside_down: false, grids: ruled_tables(&image) };
        let doc = analyze(vec![page], Model::Layout);
        assert_eq!(doc.content, "Invoice 42\nThank you for your order.\nIt ships tomorrow.\nItem\nQty\nApples\n3");
        assert_eq!(doc.paragraphs.len(), 2);
        assert_eq!(doc.paragraphs[0].role, Some("title"));
        assert_eq!(doc.paragraphs[1].content, "Thank you for your order.\nIt ships tomorrow.");
        assert_eq!(doc.tables.len(), 1);
        let table = &doc.tables[0];
        assert_eq!((table.row_count, table.column_count), (3, 2));
        let cells: Vec<(usize, usize, Option<&str>, &str)> =
            table.cells.iter().map(|c| (c.row, c.column, c.kind, c.content.as_str())).collect();
        assert_eq!(
            cells[..4],
            [
                (0, 0, Some("columnHeader"), "Item"),
                (0, 1, Some("columnHeader"), "Qty"),
                (1, 0, None, "Apples"),
                (1, 1, None, "3")
            ]
        );
        assert_eq!(table.cells[4].span, None, "the last row is empty");
        // Every span points at its text.
        let page = &doc.pages[0];
        for w in &page.words {
            assert_eq!(&doc.content[w.span.0..w.span.0 + w.span.1], w.content);
        }
        for l in &page.lines {
            assert_eq!(&doc.content[l.span.0..l.span.0 + l.span.1], l.content);
        }
        assert_eq!(page.span, (0, doc.content.len()));
        // Read: the same text, no roles, no tables.
        let lines = vec![line("Invoice 42", 50.0, 20.0, 40.0)];
        let read = analyze(
            vec![PageInput { width: 600, height: 400, lines, upside_down: false, grids: Vec::new() }],
            Model::Read,
        );
        assert_eq!((read.paragraphs[0].role, read.tables.len()), (None, 0));
    }
}
