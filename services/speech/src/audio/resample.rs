//! Sample-rate conversion with rubato's FFT resampler (band-limited, no aliasing), mono only:
//! every signal in Cogway is downmixed before it gets here.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Frames per FFT chunk: small enough for short clips, large enough to be cheap per sample.
const CHUNK: usize = 1024;

/// Resamples mono `samples` from `from` Hz to `to` Hz. Returns the input unchanged when the
/// rates match (or are nonsensical, which callers have already refused).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || from == 0 || to == 0 || samples.is_empty() {
        return samples.to_vec();
    }
    match try_resample(samples, from as usize, to as usize) {
        Ok(out) => out,
        Err(err) => {
            // Only reachable through a rubato bug: construction is validated above. Fall back to
            // linear interpolation rather than failing the request.
            tracing::warn!(%err, from, to, "rubato failed; resampling linearly");
            linear(samples, from, to)
        }
    }
}

fn try_resample(samples: &[f32], from: usize, to: usize) -> Result<Vec<f32>, Box<dyn std::error::Error>> {
    let mut resampler = Fft::<f32>::new(from, to, CHUNK, 1, 1, FixedSync::Input)?;
    let frames = samples.len();
    let input = InterleavedSlice::new(samples, 1, frames)?;
    let mut out = vec![0.0f32; resampler.process_all_needed_output_len(frames)];
    let capacity = out.len();
    let mut output = InterleavedSlice::new_mut(&mut out, 1, capacity)?;
    let (_, produced) = resampler.process_all_into_buffer(&input, &mut output, frames, None)?;
    out.truncate(produced);
    Ok(out)
}

fn linear(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    let ratio = f64::from(from) / f64::from(to);
    let n = (samples.len() as f64 / ratio) as usize;
    (0..n)
        .map(|i| {
            let pos = i as f64 * ratio;
            let idx = pos as usize;
            let frac = (pos - idx as f64) as f32;
            let a = samples[idx.min(samples.len() - 1)];
            let b = samples[(idx + 1).min(samples.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duration_and_tone() {
        let rate = 44_100;
        let tone: Vec<f32> =
            (0..rate).map(|i| (i as f32 * 1000.0 * std::f32::consts::TAU / rate as f32).sin()).collect();
        let out = resample(&tone, rate as u32, 16_000);
        assert!((out.len() as i64 - 16_000).abs() <= 2, "{}", out.len());
        // 1 kHz at 16 kHz: 16 samples per period; check zero crossings in the steady middle part.
        let crossings = out[4000..12000].windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((495..=505).contains(&crossings), "{crossings} rising crossings in 0.5 s");
    }
}
