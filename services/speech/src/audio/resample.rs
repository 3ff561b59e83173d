//! Sample-rate conversion with rubato's FFT resampler (band-limited, no aliasing), mono only:
//! every signal in Cogway is downmixed before it gets here.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

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

/// Resamples a signal that arrives in pieces (packet by packet from a decoder), holding at most
/// one chunk of input at the source rate: the output is the same as [`resample`] on the whole
/// signal.
pub struct StreamResampler {
    state: Stream,
    /// Input frames seen, for the exact output length at the end.
    input_frames: u64,
    ratio: f64,
    out: Vec<f32>,
    /// Output frames already handed out by [`StreamResampler::take`].
    taken: usize,
}

enum Stream {
    /// The rates match (or the resampler could not be built): samples pass through (or are
    /// interpolated linearly at the end).
    Passthrough {
        from: u32,
        to: u32,
        kept: Vec<f32>,
    },
    Fft {
        resampler: Box<Fft<f32>>,
        pending: Vec<f32>,
        scratch: Vec<f32>,
        to_trim: usize,
    },
}

impl StreamResampler {
    pub fn new(from: u32, to: u32) -> Self {
        let ratio = if from == 0 { 1.0 } else { f64::from(to) / f64::from(from) };
        let state = if from == to || from == 0 || to == 0 {
            Stream::Passthrough { from, to, kept: Vec::new() }
        } else {
            match Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, 1, FixedSync::Input) {
                Ok(resampler) => {
                    let scratch = vec![0.0; resampler.output_frames_max()];
                    let to_trim = resampler.output_delay();
                    Stream::Fft {
                        resampler: Box::new(resampler),
                        pending: Vec::with_capacity(2 * CHUNK),
                        scratch,
                        to_trim,
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, from, to, "rubato failed; resampling linearly");
                    Stream::Passthrough { from, to, kept: Vec::new() }
                }
            }
        };
        Self { state, input_frames: 0, ratio, out: Vec::new(), taken: 0 }
    }

    pub fn push(&mut self, samples: &[f32]) {
        self.input_frames += samples.len() as u64;
        match &mut self.state {
            Stream::Passthrough { kept, .. } => kept.extend_from_slice(samples),
            Stream::Fft { resampler, pending, scratch, to_trim } => {
                pending.extend_from_slice(samples);
                let mut start = 0;
                while pending.len() - start >= resampler.input_frames_next() {
                    let need = resampler.input_frames_next();
                    run_chunk(resampler, &pending[start..start + need], None, scratch, to_trim, &mut self.out);
                    start += need;
                }
                pending.drain(..start);
            }
        }
    }

    /// The output produced so far and not taken yet (a live stream reads it as it comes; the FFT
    /// resampler holds back less than one chunk, 1024 input frames). Rates that need the linear
    /// fallback produce nothing until [`StreamResampler::finish`].
    pub fn take(&mut self) -> Vec<f32> {
        if let Stream::Passthrough { from, to, kept } = &mut self.state
            && (from == to || *from == 0 || *to == 0)
        {
            self.taken += kept.len();
            return std::mem::take(kept);
        }
        let out = std::mem::take(&mut self.out);
        self.taken += out.len();
        out
    }

    /// The rest of the resampled signal: all of it, or what [`StreamResampler::take`] has not
    /// handed out yet.
    pub fn finish(self) -> Vec<f32> {
        // `self.out` holds only what was not taken, so the length still due is reduced by it.
        let expected = ((self.ratio * self.input_frames as f64).ceil() as usize).saturating_sub(self.taken);
        match self.state {
            Stream::Passthrough { from, to, kept } => {
                if from == to || from == 0 || to == 0 {
                    kept
                } else {
                    linear(&kept, from, to)
                }
            }
            Stream::Fft { mut resampler, pending, mut scratch, mut to_trim } => {
                let mut out = self.out;
                // The last partial chunk, then silence until the delayed tail is out.
                let mut input = pending;
                let mut partial = input.len();
                input.resize(resampler.input_frames_next().max(input.len()), 0.0);
                let mut rounds = 0;
                while out.len() < expected && rounds < 64 {
                    let need = resampler.input_frames_next();
                    input.resize(need, 0.0);
                    run_chunk(&mut resampler, &input, Some(partial), &mut scratch, &mut to_trim, &mut out);
                    partial = 0;
                    rounds += 1;
                }
                out.truncate(expected);
                out
            }
        }
    }
}

/// Runs one chunk through the resampler, dropping the first `to_trim` output frames (its delay).
fn run_chunk(
    resampler: &mut Fft<f32>,
    input: &[f32],
    partial_len: Option<usize>,
    scratch: &mut [f32],
    to_trim: &mut usize,
    out: &mut Vec<f32>,
) {
    let capacity = scratch.len();
    let (Ok(input_adapter), Ok(mut output_adapter)) =
        (InterleavedSlice::new(input, 1, input.len()), InterleavedSlice::new_mut(scratch, 1, capacity))
    else {
        return;
    };
    let indexing = Indexing { input_offset: 0, output_offset: 0, partial_len, active_channels_mask: None };
    match resampler.process_into_buffer(&input_adapter, &mut output_adapter, Some(&indexing)) {
        Ok((_, produced)) => {
            let skip = (*to_trim).min(produced);
            *to_trim -= skip;
            out.extend_from_slice(&scratch[skip..produced]);
        }
        Err(err) => tracing::warn!(%err, "rubato chunk failed; dropping it"),
    }
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

    #[test]
    fn streaming_matches_the_whole_signal() {
        let rate = 48_000;
        let tone: Vec<f32> =
            (0..rate * 2 + 777).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin()).collect();
        let whole = resample(&tone, rate as u32, 16_000);
        let mut stream = StreamResampler::new(rate as u32, 16_000);
        // Packets of uneven sizes, as decoders hand them over.
        let mut at = 0;
        for size in [1, 1152, 4096, 333, 10_000].iter().cycle() {
            if at >= tone.len() {
                break;
            }
            let end = (at + size).min(tone.len());
            stream.push(&tone[at..end]);
            at = end;
        }
        let streamed = stream.finish();
        assert_eq!(streamed.len(), whole.len());
        let worst = whole.iter().zip(&streamed).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-4, "largest difference {worst}");
    }

    #[test]
    fn taking_as_it_comes_adds_up_to_the_whole_signal() {
        let rate = 22_050;
        let tone: Vec<f32> =
            (0..rate * 2 + 91).map(|i| (i as f32 * 300.0 * std::f32::consts::TAU / rate as f32).sin()).collect();
        let whole = resample(&tone, rate as u32, 16_000);
        let mut stream = StreamResampler::new(rate as u32, 16_000);
        let mut taken = Vec::new();
        for packet in tone.chunks(2205) {
            stream.push(packet);
            taken.extend(stream.take());
        }
        // A live stream gets most of the signal before the end: all but the held-back chunk.
        assert!(taken.len() + 1024 >= whole.len(), "{} of {}", taken.len(), whole.len());
        taken.extend(stream.finish());
        assert_eq!(taken.len(), whole.len());
        let worst = whole.iter().zip(&taken).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-4, "largest difference {worst}");
    }

    #[test]
    fn streaming_passes_equal_rates_through() {
        let mut stream = StreamResampler::new(16_000, 16_000);
        stream.push(&[0.5; 100]);
        stream.push(&[0.25; 28]);
        let out = stream.finish();
        assert_eq!(out.len(), 128);
        assert_eq!(out[127], 0.25);
    }
}
