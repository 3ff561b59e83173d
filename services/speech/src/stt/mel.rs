//! Whisper's log-mel spectrogram of one 30 s window, the input of the ONNX encoder ([`super::onnx_whisper`]).
//!
//! Written here, on rustfft: whisper.cpp computes its features inside its own state (nothing
//! hands them out), and the crates that offer a "Whisper" mel (mel_spec, used by ct2rs's
//! wrapper) normalise each frame by its own maximum instead of the whole window's, which is not
//! what the model was trained on. This follows openai-whisper's `log_mel_spectrogram`: the
//! window zero-padded to 30 s, a centred STFT (400-point periodic Hann window, hop 160, reflect
//! padding), power spectrum, Slaney mel filters, log10 floored at 1e-10, clamped to 8 below the
//! window's maximum, then (x + 4) / 4.

use rustfft::{FftPlanner, num_complex::Complex};

/// Samples per second Whisper hears.
pub const SAMPLE_RATE: usize = 16_000;
/// Samples in one window (30 s).
pub const WINDOW_SAMPLES: usize = 30 * SAMPLE_RATE;
/// Spectrogram frames in one window.
pub const FRAMES: usize = WINDOW_SAMPLES / HOP;
const N_FFT: usize = 400;
const HOP: usize = 160;
const BINS: usize = N_FFT / 2 + 1;

/// Computes windows' features with filters made once.
pub struct MelSpectrogram {
    filters: Vec<f32>,
    n_mels: usize,
    window: Vec<f32>,
    fft: std::sync::Arc<dyn rustfft::Fft<f32>>,
}

impl std::fmt::Debug for MelSpectrogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelSpectrogram").field("n_mels", &self.n_mels).finish()
    }
}

impl MelSpectrogram {
    pub fn new(n_mels: usize) -> Self {
        let window = (0..N_FFT)
            .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        let fft = FftPlanner::new().plan_fft_forward(N_FFT);
        Self { filters: slaney_filters(n_mels), n_mels, window, fft }
    }

    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// The features of `audio` (at most 30 s at 16 kHz; longer is cut), `n_mels` rows of
    /// [`FRAMES`] values, row-major, appended to `out`.
    pub fn window_into(&self, audio: &[f32], out: &mut Vec<f32>) {
        let audio = &audio[..audio.len().min(WINDOW_SAMPLES)];
        let pad = N_FFT / 2;
        // The padded window, reflected at both ends as torch.stft(center=True) does.
        let at = |i: isize| -> f32 {
            let n = WINDOW_SAMPLES as isize;
            let j = if i < 0 {
                -i
            } else if i >= n {
                2 * (n - 1) - i
            } else {
                i
            };
            audio.get(j as usize).copied().unwrap_or(0.0)
        };
        let mut power = vec![0.0f32; BINS * FRAMES];
        let mut buffer = vec![Complex::new(0.0f32, 0.0); N_FFT];
        let mut scratch = vec![Complex::new(0.0f32, 0.0); self.fft.get_inplace_scratch_len()];
        for frame in 0..FRAMES {
            let start = (frame * HOP) as isize - pad as isize;
            for (k, slot) in buffer.iter_mut().enumerate() {
                *slot = Complex::new(at(start + k as isize) * self.window[k], 0.0);
            }
            self.fft.process_with_scratch(&mut buffer, &mut scratch);
            for (bin, value) in buffer[..BINS].iter().enumerate() {
                power[bin * FRAMES + frame] = value.norm_sqr();
            }
        }
        let first = out.len();
        for m in 0..self.n_mels {
            let filter = &self.filters[m * BINS..(m + 1) * BINS];
            for frame in 0..FRAMES {
                let energy: f32 = filter.iter().enumerate().map(|(bin, w)| w * power[bin * FRAMES + frame]).sum();
                out.push(energy.max(1e-10).log10());
            }
        }
        let features = &mut out[first..];
        let max = features.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in features {
            *v = (v.max(max - 8.0) + 4.0) / 4.0;
        }
    }
}

/// librosa's `filters.mel(sr=16000, n_fft=400, n_mels)`: Slaney mel scale, triangles of area
/// about 1 (Slaney normalisation), `n_mels` rows of 201 bins. The converter
/// (models/convert/whisper_ct2_to_ggml.py) computes the same bank for whisper.cpp's file.
fn slaney_filters(n_mels: usize) -> Vec<f32> {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
    let log_step = 6.4f64.ln() / 27.0;
    let hz_to_mel = |f: f64| if f < MIN_LOG_HZ { f / F_SP } else { MIN_LOG_MEL + (f / MIN_LOG_HZ).ln() / log_step };
    let mel_to_hz = |m: f64| if m < MIN_LOG_MEL { F_SP * m } else { MIN_LOG_HZ * (log_step * (m - MIN_LOG_MEL)).exp() };
    let top = hz_to_mel(SAMPLE_RATE as f64 / 2.0);
    let points: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
    let mut filters = vec![0.0f32; n_mels * BINS];
    for m in 0..n_mels {
        let (lo, mid, hi) = (points[m], points[m + 1], points[m + 2]);
        let norm = 2.0 / (hi - lo);
        for bin in 0..BINS {
            let f = bin as f64 * SAMPLE_RATE as f64 / N_FFT as f64;
            let weight = ((f - lo) / (mid - lo)).min((hi - f) / (hi - mid)).max(0.0);
            filters[m * BINS + bin] = (weight * norm) as f32;
        }
    }
    filters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_slaney_triangles() {
        let filters = slaney_filters(80);
        // Every filter has weight somewhere, and none reaches past Nyquist's bin.
        for m in 0..80 {
            let row = &filters[m * BINS..(m + 1) * BINS];
            assert!(row.iter().any(|w| *w > 0.0), "filter {m} is empty");
        }
        // Below 1 kHz the scale is linear: the first triangle peaks at 200/3 * (top / 81) Hz.
        let first = &filters[..BINS];
        let peak = first.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
        assert_eq!(peak, Some(1));
    }

    #[test]
    fn a_tone_lights_the_band_it_is_in() {
        let mel = MelSpectrogram::new(80);
        let tone: Vec<f32> = (0..SAMPLE_RATE)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / SAMPLE_RATE as f32).sin())
            .collect();
        let mut out = Vec::new();
        mel.window_into(&tone, &mut out);
        assert_eq!(out.len(), 80 * FRAMES);
        // Frame 50 (0.5 s) is inside the tone: its loudest band holds 440 Hz (mel ~6.6 of 80 over
        // 0..8 kHz, i.e. filters 8-12), and values are normalised to at most (max + 4) / 4.
        let column: Vec<f32> = (0..80).map(|m| out[m * FRAMES + 50]).collect();
        let loudest = column.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
        assert!((8..=12).contains(&loudest), "loudest band {loudest}");
        // Past the tone (20 s) the window is silent: floored 8 below the maximum.
        let silent = out[40 * FRAMES + 2000];
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert!((max - silent - 2.0).abs() < 1e-4, "silence {silent}, max {max}");
    }
}
