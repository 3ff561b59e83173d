//! Whisper on ONNX Runtime called directly, without the gateway: a WAV file (16 kHz mono 16-bit)
//! cut into equal windows of at most 30 s, decoded together, timed per run.
//!
//!     [WORDS=1] onnx_direct ONNXRUNTIME_LIB MODEL_DIR WAV THREADS [RUNS] [LANGUAGE|auto]
//!
//! Prints one JSON line per run: {"audio_secs", "secs", "windows", "language", "text", "words"}. MODEL_DIR
//! is the model store's whisper-base-onnx. Used to tell the decoder's own time from the
//! gateway's; without LANGUAGE (or with `auto`) the language is detected; WORDS=1 times the words
//! too.

use std::path::Path;
use std::time::Instant;

use cogway_speech::stt::onnx_whisper::DecodeOptions;
use cogway_speech::stt::{OnnxWhisper, Task};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: onnx_direct ONNXRUNTIME_LIB MODEL_DIR WAV THREADS [RUNS] [LANGUAGE]".into());
    }
    let threads: usize = args[4].parse()?;
    let runs: usize = args.get(5).map(|r| r.parse()).transpose()?.unwrap_or(1);
    let language = args.get(6).map(String::as_str).filter(|l| *l != "auto");
    let words = std::env::var("WORDS").is_ok_and(|w| w == "1");
    let mut reader = hound::WavReader::open(&args[3])?;
    let samples: Vec<f32> =
        reader.samples::<i16>().map(|s| s.map(|v| f32::from(v) / 32768.0)).collect::<Result<_, _>>()?;
    let audio_secs = samples.len() as f64 / 16_000.0;
    let mut whisper = OnnxWhisper::load(Path::new(&args[1]), Path::new(&args[2]), threads)?;
    let max = 30 * 16_000;
    let count = samples.len().div_ceil(max).max(1);
    let windows: Vec<&[f32]> = samples.chunks(samples.len().div_ceil(count).max(1)).collect();
    for _ in 0..runs {
        let started = Instant::now();
        let (found, decoded) =
            whisper.decode(&windows, &DecodeOptions { words, ..DecodeOptions::new(language, Task::Transcribe) })?;
        let secs = started.elapsed().as_secs_f64();
        let text: String = decoded.iter().flatten().map(|s| s.text.as_str()).collect();
        let timed: Vec<_> = decoded
            .iter()
            .flatten()
            .flat_map(|s| s.words.iter().map(|w| serde_json::json!([w.word, w.start, w.end])))
            .collect();
        println!(
            "{}",
            serde_json::json!({ "audio_secs": audio_secs, "secs": secs, "windows": windows.len(),
                                "language": found, "text": text.trim(), "words": timed })
        );
    }
    Ok(())
}
