//! Word times from Whisper's cross-attention, as OpenAI's `find_alignment` computes them (and
//! faster-whisper after it): the weights of the alignment heads for each text token over the
//! audio's encoder frames are standardised across the tokens, median-filtered along time and
//! averaged over the heads; dynamic time warping finds the monotonic path through them, and a
//! token starts at the first frame (20 ms) the path gives it. Written here: no crate implements
//! this alignment for a Whisper run outside PyTorch.

use super::transcript::Segment;

/// Encoder frames per second (each covers two 10 ms mel frames).
const FRAMES_PER_SECOND: f64 = 50.0;
/// Audio samples per encoder frame.
pub(super) const SAMPLES_PER_FRAME: usize = 320;
/// OpenAI's median filter width for the alignment weights.
const MEDIAN_WIDTH: usize = 7;

/// (start, end) in seconds of each of `tokens` text tokens. `row(head, r)` gives an alignment
/// head's cross-attention weights for row `r` (the position that predicts text token `r`; row
/// `tokens` predicts the end) over the encoder frames, of which the first `frames` hold audio.
pub(super) fn token_times<'w>(
    heads: usize,
    tokens: usize,
    frames: usize,
    row: impl Fn(usize, usize) -> &'w [f32],
) -> Vec<(f64, f64)> {
    let rows = tokens + 1;
    // [heads][rows][frames], each row renormalised over the frames that hold audio.
    let mut w = vec![0f32; heads * rows * frames];
    for a in 0..heads {
        for r in 0..rows {
            let weights = &row(a, r)[..frames];
            let sum: f32 = weights.iter().sum::<f32>().max(f32::MIN_POSITIVE);
            let out = &mut w[(a * rows + r) * frames..(a * rows + r + 1) * frames];
            out.iter_mut().zip(weights).for_each(|(o, v)| *o = v / sum);
        }
    }
    let matrix = alignment_matrix(&mut w, heads, rows, frames);
    // The first frame of each row on the path, in seconds.
    let mut starts = vec![0f64; rows];
    let mut seen = vec![false; rows];
    for (r, t) in dtw(&matrix, rows, frames) {
        if !seen[r] {
            seen[r] = true;
            starts[r] = t as f64 / FRAMES_PER_SECOND;
        }
    }
    (0..tokens).map(|k| (starts[k], starts[k + 1].max(starts[k]))).collect()
}

/// The alignment weights `w` ([heads][rows][frames]) standardised per head and frame across
/// the rows, median-filtered along the frames and averaged over the heads: [rows][frames].
fn alignment_matrix(w: &mut [f32], heads: usize, rows: usize, frames: usize) -> Vec<f32> {
    for a in 0..heads {
        let head = &mut w[a * rows * frames..(a + 1) * rows * frames];
        for t in 0..frames {
            let mean = (0..rows).map(|r| head[r * frames + t]).sum::<f32>() / rows as f32;
            let var = (0..rows).map(|r| (head[r * frames + t] - mean).powi(2)).sum::<f32>() / rows as f32;
            let std = if var > 0.0 { var.sqrt() } else { 1.0 };
            for r in 0..rows {
                head[r * frames + t] = (head[r * frames + t] - mean) / std;
            }
        }
        for r in 0..rows {
            median_filter(&mut head[r * frames..(r + 1) * frames], MEDIAN_WIDTH);
        }
    }
    let mut matrix = vec![0f32; rows * frames];
    for a in 0..heads {
        for (m, v) in matrix.iter_mut().zip(&w[a * rows * frames..(a + 1) * rows * frames]) {
            *m += v / heads as f32;
        }
    }
    matrix
}

/// Median of each `width` values centred on every position, the ends reflected (without
/// repeating the edge value, as torch's reflect padding); rows shorter than the half width are
/// left as they are.
fn median_filter(row: &mut [f32], width: usize) {
    let half = width / 2;
    if half == 0 || row.len() <= half {
        return;
    }
    let n = row.len() as isize;
    let source = row.to_vec();
    let at = |i: isize| -> f32 {
        let j = if i < 0 {
            -i
        } else if i >= n {
            2 * (n - 1) - i
        } else {
            i
        };
        source[j.clamp(0, n - 1) as usize]
    };
    let mut window = vec![0f32; width];
    for (i, out) in row.iter_mut().enumerate() {
        for (k, slot) in window.iter_mut().enumerate() {
            *slot = at(i as isize + k as isize - half as isize);
        }
        window.sort_by(f32::total_cmp);
        *out = window[half];
    }
}

/// Dynamic time warping through `matrix` ([rows][frames]) maximising the summed weights along
/// a monotonic path from (0, 0) to the last cell, moving down, right or diagonally; returns the
/// path's (row, frame) cells in order. Ties prefer the diagonal, then down, as OpenAI's dtw_cpu.
fn dtw(matrix: &[f32], rows: usize, frames: usize) -> Vec<(usize, usize)> {
    let width = frames + 1;
    let mut cost = vec![f32::INFINITY; (rows + 1) * width];
    let mut trace = vec![2u8; (rows + 1) * width];
    cost[0] = 0.0;
    for j in 1..=frames {
        for i in 1..=rows {
            let diagonal = cost[(i - 1) * width + j - 1];
            let down = cost[(i - 1) * width + j];
            let right = cost[i * width + j - 1];
            let (best, step) = if diagonal < down && diagonal < right {
                (diagonal, 0)
            } else if down < diagonal && down < right {
                (down, 1)
            } else {
                (right, 2)
            };
            cost[i * width + j] = -matrix[(i - 1) * frames + j - 1] + best;
            trace[i * width + j] = step;
        }
    }
    let (mut i, mut j) = (rows, frames);
    let mut path = Vec::with_capacity(rows + frames);
    while i > 0 || j > 0 {
        path.push((i.saturating_sub(1), j.saturating_sub(1)));
        let step = if i == 0 {
            2
        } else if j == 0 {
            1
        } else {
            trace[i * width + j]
        };
        match step {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    path
}

/// The alignment gives a word that ends a sentence the pause after it too: such a word is cut
/// to twice the median word length (at most 0.7 s), as OpenAI's word timing does.
pub(super) fn clamp_sentence_ends(segments: &mut [Segment]) {
    let mut durations: Vec<f64> =
        segments.iter().flat_map(|s| &s.words).map(|w| w.end - w.start).filter(|d| *d > 0.0).collect();
    if durations.is_empty() {
        return;
    }
    durations.sort_by(f64::total_cmp);
    let longest = 2.0 * durations[durations.len() / 2].min(0.7);
    for word in segments.iter_mut().flat_map(|s| s.words.iter_mut()) {
        if word.end - word.start > longest && word.word.ends_with(['.', '!', '?', '。', '！', '？']) {
            word.end = word.start + longest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stt::transcript::Word;

    #[test]
    fn dtw_follows_the_strongest_monotonic_path() {
        // Two rows over six frames: row 0 attends to frames 0-2, row 1 to frames 3-5.
        let matrix = [1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0];
        let path = dtw(&matrix, 2, 6);
        assert_eq!(path.first(), Some(&(0, 0)));
        assert_eq!(path.last(), Some(&(1, 5)));
        let first_of_row_1 = path.iter().find(|(r, _)| *r == 1).map(|(_, t)| *t);
        assert_eq!(first_of_row_1, Some(3));
        assert!(path.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1));
    }

    #[test]
    fn the_median_filter_reflects_at_the_edges() {
        let mut row = [5.0, 0.0, 0.0, 9.0, 0.0, 0.0, 1.0];
        median_filter(&mut row, 3);
        assert_eq!(row, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let mut short = [3.0];
        median_filter(&mut short, 7);
        assert_eq!(short, [3.0]);
    }

    #[test]
    fn a_word_that_ends_a_sentence_loses_the_pause_after_it() {
        let word = |w: &str, start: f64, end: f64| Word { word: w.into(), start, end, probability: 0.9 };
        let mut segments = vec![Segment {
            start: 0.0,
            end: 3.0,
            text: " It was. Then".into(),
            tokens: vec![],
            avg_logprob: -0.1,
            no_speech_prob: 0.0,
            words: vec![word("It", 0.0, 0.3), word("was.", 0.3, 2.0), word("Then", 2.0, 2.3)],
        }];
        clamp_sentence_ends(&mut segments);
        assert!((segments[0].words[1].end - 0.9).abs() < 1e-9, "{:?}", segments[0].words);
        assert_eq!(segments[0].words[2].end, 2.3);
    }
}
