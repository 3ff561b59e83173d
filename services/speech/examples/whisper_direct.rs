//! whisper-rs called directly, with no gateway: the baseline of the speech benchmark.
//!
//!     whisper_direct <ggml model> <16 kHz mono WAV> <threads> [runs]
//!
//! Prints one JSON line per run: {"audio_secs", "secs", "text"}. Decoding settings match the
//! gateway's defaults (greedy, language en, flash attention), so the difference between the two
//! is the gateway's own cost.

use std::time::Instant;

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: whisper_direct <ggml model> <16 kHz mono WAV> <threads> [runs]");
        std::process::exit(2);
    }
    let threads: i32 = args[3].parse()?;
    let runs: usize = args.get(4).map(|r| r.parse()).transpose()?.unwrap_or(1);
    let mut reader = hound::WavReader::open(&args[2])?;
    if reader.spec().sample_rate != 16_000 || reader.spec().channels != 1 {
        return Err("the WAV must be 16 kHz mono".into());
    }
    let samples: Vec<f32> =
        reader.samples::<i16>().map(|s| s.map(|v| f32::from(v) / 32768.0)).collect::<Result<_, _>>()?;
    let audio_secs = samples.len() as f64 / 16_000.0;
    whisper_rs::install_logging_hooks();
    eprintln!("{}", whisper_rs::print_system_info());
    // COGWAY_FLASH_ATTENTION=0 turns flash attention off (the gateway's speech.flash_attention).
    let flash_attn = std::env::var("COGWAY_FLASH_ATTENTION").map_or(true, |v| v != "0");
    let params = WhisperContextParameters { flash_attn, use_gpu: false, ..Default::default() };
    let context = WhisperContext::new_with_params(&args[1], params)?;
    let mut state = context.create_state()?;
    for _ in 0..runs {
        let mut full = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        full.set_n_threads(threads);
        let language = std::env::var("COGWAY_LANGUAGE").unwrap_or_else(|_| "en".into());
        full.set_language(Some(&language));
        full.set_translate(std::env::var("COGWAY_TRANSLATE").is_ok_and(|v| v == "1"));
        full.set_print_progress(false);
        full.set_print_realtime(false);
        full.set_print_special(false);
        full.set_print_timestamps(false);
        full.set_no_context(true);
        // COGWAY_AUDIO_CTX=<minimum frames> encodes only the frames the clip fills (+ margin, at
        // least that many), as the gateway's speech.adaptive_audio_context does.
        if let Some(min) = std::env::var("COGWAY_AUDIO_CTX").ok().and_then(|v| v.parse::<i32>().ok()) {
            let frames = (samples.len() as f64 / 16_000.0 * 50.0).ceil() as i32 + 64;
            full.set_audio_ctx(frames.max(min).min(1500));
        }
        let started = Instant::now();
        state.full(full, &samples)?;
        let secs = started.elapsed().as_secs_f64();
        let text: String =
            state.as_iter().map(|s| s.to_str_lossy().map(|t| t.into_owned()).unwrap_or_default()).collect();
        println!("{}", serde_json::json!({ "audio_secs": audio_secs, "secs": secs, "text": text.trim() }));
    }
    Ok(())
}
