//! The synthesis engine: turns a parsed SSML document into audio with the Piper voice, Kokoro's
//! voices and eSpeak NG, applying prosody, breaks and phonemes, then encodes it. It runs on its
//! own worker thread.

use std::sync::Arc;

use super::espeak::{Espeak, sentences};
use super::kokoro::{self, Kokoro, g2p};
use super::piper::PiperVoice;
use super::ssml::{Document, Item, Prosody};
use super::voices::{self, Engine, Voice};
use crate::audio::encode::pcm16;
use crate::audio::format::Container;
use crate::audio::resample::{StreamResampler, resample};
use crate::audio::{OutputFormat, Pcm, encode};
use cogway_core::{BatchModel, Code, ServiceError};

/// Pause between sentences of the neural voice, in milliseconds.
const SENTENCE_PAUSE_MS: u32 = 120;

/// Where a streamed synthesis sends its audio as it is made: one message per piece, in order.
/// Unbounded so the worker never waits for a slow client; a job's audio is bounded by its text.
pub type AudioSink = tokio::sync::mpsc::UnboundedSender<Vec<u8>>;

/// One synthesis: a document (lexicons already applied) and the wanted output.
#[derive(Debug, Clone)]
pub struct SynthesisJob {
    pub document: Document,
    pub format: OutputFormat,
    /// An extra speed factor over the document's prosody (OpenAI's `speed`).
    pub speed: f32,
    /// Raw PCM formats only: the audio goes here sentence by sentence as it is made (each
    /// piece ends in the pause after a sentence), and [`Synthesized::audio`] comes back empty.
    pub stream: Option<AudioSink>,
}

impl SynthesisJob {
    /// A job answered with the whole audio.
    pub fn new(document: Document, format: OutputFormat, speed: f32) -> Self {
        Self { document, format, speed, stream: None }
    }
}

/// A streamed job's sink, its resampler and how much of the rendered audio went into it.
struct Streaming {
    sink: AudioSink,
    resampler: StreamResampler,
    sent: usize,
}

impl Streaming {
    fn new(sink: AudioSink, from: u32, format: OutputFormat) -> Self {
        Self { sink, resampler: StreamResampler::new(from, format.sample_rate), sent: 0 }
    }

    /// Sends what `pcm` holds beyond what was sent, resampled (one resampler over the whole
    /// stream, so the samples are those of the whole answer) and encoded. A client that went
    /// away is not an error: the rest is made and dropped.
    fn flush(&mut self, pcm: &Pcm) {
        let new = pcm.samples.get(self.sent..).unwrap_or_default();
        self.sent = pcm.samples.len();
        self.resampler.push(new);
        let samples = self.resampler.take();
        if !samples.is_empty() {
            let _ = self.sink.send(pcm16(&samples));
        }
    }

    /// Sends the rest of `pcm` and what the resampler still holds.
    fn finish(mut self, pcm: &Pcm) {
        self.flush(pcm);
        let rest = self.resampler.finish();
        if !rest.is_empty() {
            let _ = self.sink.send(pcm16(&rest));
        }
    }
}

/// Encoded audio and what it holds.
#[derive(Debug, Clone)]
pub struct Synthesized {
    pub audio: Vec<u8>,
    pub duration_secs: f64,
}

/// Owns the Piper and Kokoro sessions and speaks documents.
pub struct TtsEngine {
    piper: Option<PiperVoice>,
    kokoro: Option<Kokoro>,
    espeak: Option<Espeak>,
    voices: Arc<Vec<Voice>>,
    rate: u32,
    /// The job being streamed, if it is.
    streaming: Option<Streaming>,
}

impl TtsEngine {
    pub fn new(
        piper: Option<PiperVoice>,
        kokoro: Option<Kokoro>,
        espeak: Option<Espeak>,
        voices: Arc<Vec<Voice>>,
    ) -> Self {
        let rate = piper.as_ref().map_or(22_050, PiperVoice::sample_rate);
        Self { piper, kokoro, espeak, voices, rate, streaming: None }
    }

    /// Renders and encodes one job, or streams it (see [`SynthesisJob::stream`]).
    pub fn synthesize(&mut self, job: &SynthesisJob) -> Result<Synthesized, ServiceError> {
        if let Some(sink) = job.stream.clone().filter(|_| job.format.container == Container::Raw) {
            self.streaming = Some(Streaming::new(sink, self.rate, job.format));
            let rendered = self.render(&job.document, job.speed);
            let streaming = self.streaming.take();
            let pcm = rendered?;
            if let Some(streaming) = streaming {
                streaming.finish(&pcm);
            }
            return Ok(Synthesized { audio: Vec::new(), duration_secs: pcm.duration_secs() });
        }
        let pcm = self.render(&job.document, job.speed)?;
        let duration_secs = pcm.duration_secs();
        let audio = encode(&pcm, job.format)?;
        Ok(Synthesized { audio, duration_secs })
    }

    /// Renders a document to PCM at the engine's rate.
    pub fn render(&mut self, doc: &Document, speed: f32) -> Result<Pcm, ServiceError> {
        let mut out = Pcm::new(Vec::new(), self.rate);
        for block in &doc.blocks {
            let voice = voices::find(&self.voices, &block.voice).cloned().ok_or_else(|| {
                ServiceError::new(
                    Code::InvalidParameterValue,
                    format!("Unknown voice {:?}. GET /cognitiveservices/voices/list lists the voices.", block.voice),
                )
            })?;
            for item in &block.items {
                match item {
                    Item::Break { ms } => out.push_silence_ms(*ms),
                    Item::Text { text, prosody, lang } => {
                        let engine = self.engine_for(&voice, lang, &doc.lang);
                        self.speak_text(&engine, text, scaled(*prosody, speed), &mut out)?;
                    }
                    Item::Phonemes { ipa, text, prosody, lang } => {
                        let engine = self.engine_for(&voice, lang, &doc.lang);
                        let prosody = scaled(*prosody, speed);
                        if engine == Engine::Piper {
                            self.speak_ipa(&[vec![(ipa.clone(), ' ')]], prosody, &mut out)?;
                        } else if let Engine::Kokoro(id) = engine {
                            self.speak_kokoro(id, &[g2p::finish(&g2p::normalize_ipa(ipa))], prosody, &mut out)?;
                        } else if !text.trim().is_empty() {
                            // eSpeak reads its own phoneme notation, not IPA: speak the spelling.
                            self.speak_text(&engine, text, prosody, &mut out)?;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The engine for a voice's text in `lang`: a `<lang>` switch away from a neural voice's
    /// language goes to the voice for that language (a neural one where there is one, else
    /// eSpeak's). Text that only inherits the document's `xml:lang` stays with the voice (SDKs
    /// write `<speak xml:lang="en-US">` around any voice).
    fn engine_for(&self, voice: &Voice, lang: &str, document_lang: &str) -> Engine {
        let primary = |l: &str| l.split('-').next().unwrap_or(l).to_ascii_lowercase();
        if voice.engine.is_neural()
            && primary(lang) != primary(document_lang)
            && primary(lang) != primary(&voice.locale)
            && let Some(other) = voices::for_locale(&self.voices, lang)
        {
            return other.engine.clone();
        }
        voice.engine.clone()
    }

    fn espeak(&self) -> Result<&Espeak, ServiceError> {
        self.espeak.as_ref().ok_or_else(|| ServiceError::model_not_ready("espeak-ng"))
    }

    fn speak_text(&mut self, engine: &Engine, text: &str, prosody: Prosody, out: &mut Pcm) -> Result<(), ServiceError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        match engine {
            Engine::Piper => {
                let sentences = sentences(text);
                let voice =
                    self.piper.as_ref().ok_or_else(|| ServiceError::model_not_ready("piper-en-us-joe-medium"))?;
                let clauses: Vec<String> = sentences.iter().flatten().map(|(c, _)| c.clone()).collect();
                let ipa = self.espeak()?.phonemize(voice.espeak_voice(), &clauses)?;
                let mut ipa = ipa.into_iter();
                let phonemized: Vec<Vec<(String, char)>> = sentences
                    .iter()
                    .map(|s| s.iter().map(|(_, p)| (ipa.next().unwrap_or_default(), *p)).collect())
                    .collect();
                self.speak_ipa(&phonemized, prosody, out)
            }
            Engine::Kokoro(id) => {
                let espeak_voice = kokoro::VOICES.iter().find(|v| v.id == *id).map_or("en-us", |v| v.espeak);
                let phonemes = self.kokoro_phonemes(espeak_voice, text)?;
                self.speak_kokoro(id, &phonemes, prosody, out)
            }
            Engine::Espeak(code) => {
                let pcm = self.espeak()?.synthesize(code, text, prosody.rate, prosody.pitch)?;
                let mut samples = resample(&pcm.samples, pcm.sample_rate, self.rate);
                apply_volume(&mut samples, prosody.volume);
                out.samples.extend(samples);
                Ok(())
            }
        }
    }

    /// Speaks phonemized sentences with the Piper voice. Pitch is shifted without changing the
    /// tempo: the model speaks `pitch` times slower and the result is played `pitch` times faster.
    fn speak_ipa(
        &mut self,
        sentences: &[Vec<(String, char)>],
        prosody: Prosody,
        out: &mut Pcm,
    ) -> Result<(), ServiceError> {
        let rate = self.rate;
        let voice = self.piper.as_mut().ok_or_else(|| ServiceError::model_not_ready("piper-en-us-joe-medium"))?;
        for (i, sentence) in sentences.iter().enumerate() {
            let ids = voice.sentence_ids(sentence);
            let mut samples = voice.synthesize(&ids, prosody.rate / prosody.pitch)?;
            if (prosody.pitch - 1.0).abs() > 1e-3 {
                let shifted_rate = (rate as f32 / prosody.pitch).round().max(1.0) as u32;
                samples = resample(&samples, rate, shifted_rate);
            }
            apply_volume(&mut samples, prosody.volume);
            out.samples.extend(samples);
            if i + 1 < sentences.len() {
                pause_between_sentences(out, &mut self.streaming);
            }
        }
        Ok(())
    }
}

impl TtsEngine {
    /// Kokoro's phonemes of `text`, one string per sentence. Each sentence keeps its punctuation
    /// (Kokoro reads it for pauses and intonation); a run that ends without any gets none added.
    /// All words go to eSpeak in one call; if its lines do not line up with the words, each
    /// sentence is phonemized on its own, so a mismatch cannot move phonemes across sentences.
    fn kokoro_phonemes(&self, espeak_voice: &str, text: &str) -> Result<Vec<String>, ServiceError> {
        // Devanagari sentence ends are sentences too.
        let text = text.replace(['।', '॥'], ".");
        let open_end = !text.trim_end().ends_with(['.', '!', '?', '…', ',', ';', ':', '—']);
        let split = sentences(&text);
        let last = split.len().saturating_sub(1);
        let pieces: Vec<Vec<g2p::Piece>> = split
            .iter()
            .enumerate()
            .map(|(i, clauses)| {
                let n = clauses.len();
                let sentence: Vec<String> = clauses
                    .iter()
                    .enumerate()
                    .map(|(j, (c, p))| if open_end && i == last && j + 1 == n { c.clone() } else { format!("{c}{p}") })
                    .collect();
                g2p::pieces(&sentence.join(" "))
            })
            .collect();
        let words_of = |sentence: &[g2p::Piece]| -> Vec<String> {
            sentence
                .iter()
                .filter_map(|p| match p {
                    g2p::Piece::Words(w) => Some(w.clone()),
                    g2p::Piece::Marks(_) => None,
                })
                .collect()
        };
        let espeak = self.espeak()?;
        let all: Vec<String> = pieces.iter().flat_map(|s| words_of(s.as_slice())).collect();
        let lines = espeak.phonemize_tied_strict(espeak_voice, &all)?;
        let mut out = Vec::with_capacity(pieces.len());
        match lines {
            Some(lines) => {
                let mut lines = lines.into_iter();
                for sentence in &pieces {
                    let n = sentence.iter().filter(|p| matches!(p, g2p::Piece::Words(_))).count();
                    let ipa: Vec<String> = lines.by_ref().take(n).collect();
                    out.push(g2p::assemble(sentence, &ipa));
                }
            }
            None => {
                for sentence in &pieces {
                    let ipa = espeak.phonemize_tied(espeak_voice, &words_of(sentence.as_slice()))?;
                    out.push(g2p::assemble(sentence, &ipa));
                }
            }
        }
        Ok(out)
    }

    /// Speaks Kokoro phoneme strings (one per sentence) with voice `id`, at most
    /// [`kokoro::MAX_TOKENS`] tokens a call. Pitch as in [`Self::speak_ipa`]; the 24 kHz audio is
    /// resampled to the engine's rate in the same step.
    fn speak_kokoro(
        &mut self,
        id: &str,
        phonemes: &[String],
        prosody: Prosody,
        out: &mut Pcm,
    ) -> Result<(), ServiceError> {
        let rate = self.rate;
        let model = self.kokoro.as_mut().ok_or_else(|| ServiceError::model_not_ready(kokoro::MODEL_NAME))?;
        let target = (rate as f32 / prosody.pitch).round().max(1.0) as u32;
        // Sentences with no sound in them (only punctuation) are not given to the model.
        let spoken: Vec<&String> = phonemes.iter().filter(|p| p.chars().any(char::is_alphabetic)).collect();
        for (i, sentence) in spoken.iter().enumerate() {
            if i > 0 {
                pause_between_sentences(out, &mut self.streaming);
            }
            let tokens = model.tokens(sentence);
            for chunk in model.chunks(&tokens) {
                let samples = model.synthesize(id, &chunk, prosody.rate / prosody.pitch)?;
                let mut samples = resample(&samples, kokoro::SAMPLE_RATE, target);
                apply_volume(&mut samples, prosody.volume);
                out.samples.extend(samples);
            }
        }
        Ok(())
    }
}

/// The pause between two sentences of a neural voice; a streamed job sends what it has made so
/// far here, so each piece ends in silence.
fn pause_between_sentences(out: &mut Pcm, streaming: &mut Option<Streaming>) {
    out.push_silence_ms(SENTENCE_PAUSE_MS);
    if let Some(streaming) = streaming {
        streaming.flush(out);
    }
}

fn scaled(prosody: Prosody, speed: f32) -> Prosody {
    Prosody { rate: prosody.rate * speed, ..prosody }
}

fn apply_volume(samples: &mut [f32], gain: f32) {
    if (gain - 1.0).abs() > 1e-3 {
        for s in samples {
            *s = (*s * gain).clamp(-1.0, 1.0);
        }
    }
}

impl BatchModel for TtsEngine {
    type Input = SynthesisJob;
    type Output = Synthesized;

    fn run(&mut self, batch: Vec<SynthesisJob>) -> Vec<Result<Synthesized, ServiceError>> {
        batch.iter().map(|job| self.synthesize(job)).collect()
    }
}
