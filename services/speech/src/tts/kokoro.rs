//! Kokoro-82M v1.0 (StyleTTS 2 with an iSTFTNet vocoder, Apache-2.0), the int8 ONNX export, run
//! with ONNX Runtime: the neural voices for Spanish, French, Italian, Portuguese (Brazil), Hindi
//! and more English.
//!
//! One model serves every voice: a voice is a table of 510 style vectors (256 floats each), and a
//! call takes the row for its number of phoneme tokens. Inputs: `tokens` (0, ids..., 0; at most
//! 510 ids), `style` [1, 256] and `speed` (1.0 normal, higher faster); output: 24 kHz audio.
//! Phonemes come from eSpeak NG the way Kokoro's own pipeline makes them for Spanish, French,
//! Italian, Portuguese and Hindi ([`g2p`]); Kokoro's English was trained on a lexicon-based G2P
//! (misaki) that is not in any registry, so the English voices get the same eSpeak phonemes (Whisper
//! still reads them back word for word).

use std::collections::HashMap;
use std::path::Path;

use ndarray::{Array1, Array2};
use ort::session::Session;
use ort::value::TensorRef;

use cogway_core::ServiceError;

pub const MODEL_NAME: &str = "kokoro-v1";
pub const SAMPLE_RATE: u32 = 24_000;
/// Phoneme tokens one call takes (the model's context is 512 with the two pads).
pub const MAX_TOKENS: usize = 510;
const STYLE_DIM: usize = 256;
const STYLE_ROWS: usize = 510;

/// A Kokoro voice the store installs, and how Cogway names it.
#[derive(Debug, Clone, Copy)]
pub struct VoiceInfo {
    /// Kokoro's id (`ef_dora`): the file `voices/<id>.bin`.
    pub id: &'static str,
    /// The name in Azure's voice names (`Dora` in `es-ES-DoraNeural`).
    pub name: &'static str,
    pub locale: &'static str,
    pub locale_name: &'static str,
    pub gender: &'static str,
    /// The eSpeak NG voice that phonemizes for it (Kokoro's own choice per language).
    pub espeak: &'static str,
}

const fn voice(
    id: &'static str,
    name: &'static str,
    locale: &'static str,
    locale_name: &'static str,
    gender: &'static str,
    espeak: &'static str,
) -> VoiceInfo {
    VoiceInfo { id, name, locale, locale_name, gender, espeak }
}

/// The voices `models/convert/kokoro_assemble.py` installs.
pub static VOICES: [VoiceInfo; 16] = [
    voice("ef_dora", "Dora", "es-ES", "Spanish (Spain)", "Female", "es"),
    voice("em_alex", "Alex", "es-ES", "Spanish (Spain)", "Male", "es"),
    voice("em_santa", "Santa", "es-ES", "Spanish (Spain)", "Male", "es"),
    voice("ff_siwis", "Siwis", "fr-FR", "French (France)", "Female", "fr-fr"),
    voice("if_sara", "Sara", "it-IT", "Italian (Italy)", "Female", "it"),
    voice("im_nicola", "Nicola", "it-IT", "Italian (Italy)", "Male", "it"),
    voice("pf_dora", "Dora", "pt-BR", "Portuguese (Brazil)", "Female", "pt-br"),
    voice("pm_alex", "Alex", "pt-BR", "Portuguese (Brazil)", "Male", "pt-br"),
    voice("pm_santa", "Santa", "pt-BR", "Portuguese (Brazil)", "Male", "pt-br"),
    voice("hf_alpha", "Alpha", "hi-IN", "Hindi (India)", "Female", "hi"),
    voice("hf_beta", "Beta", "hi-IN", "Hindi (India)", "Female", "hi"),
    voice("hm_omega", "Omega", "hi-IN", "Hindi (India)", "Male", "hi"),
    voice("hm_psi", "Psi", "hi-IN", "Hindi (India)", "Male", "hi"),
    voice("af_heart", "Heart", "en-US", "English (United States)", "Female", "en-us"),
    voice("am_michael", "Michael", "en-US", "English (United States)", "Male", "en-us"),
    voice("bf_emma", "Emma", "en-GB", "English (United Kingdom)", "Female", "en-gb"),
];

/// The loaded model, its phoneme vocabulary and the voices' style tables.
pub struct Kokoro {
    session: Session,
    vocab: HashMap<char, i64>,
    styles: HashMap<&'static str, Vec<f32>>,
}

impl std::fmt::Debug for Kokoro {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kokoro").field("voices", &self.styles.len()).finish()
    }
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("Kokoro {what}: {e}"))
}

/// `{"vocab": {"a": 43, ...}}`: single characters to ids (0 is the pad, never in the table).
fn parse_vocab(text: &str) -> Result<HashMap<char, i64>, ServiceError> {
    #[derive(serde::Deserialize)]
    struct File {
        vocab: HashMap<String, i64>,
    }
    let file: File = serde_json::from_str(text).map_err(|e| fail("vocab.json", &e))?;
    let mut out = HashMap::new();
    for (symbol, id) in file.vocab {
        let mut chars = symbol.chars();
        if let (Some(c), None, true) = (chars.next(), chars.next(), id > 0) {
            out.insert(c, id);
        }
    }
    if out.is_empty() {
        return Err(fail("vocab.json", &"no symbols"));
    }
    Ok(out)
}

/// A voice file: little-endian float32 [510, 256].
fn parse_style(bytes: &[u8]) -> Option<Vec<f32>> {
    (bytes.len() == STYLE_ROWS * STYLE_DIM * 4)
        .then(|| bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

impl Kokoro {
    /// Loads `<dir>/model.onnx`, `vocab.json` and whichever of [`VOICES`] are installed.
    pub fn load(onnx_runtime: &Path, dir: &Path, threads: usize) -> Result<Self, ServiceError> {
        let model = dir.join("model.onnx");
        if !model.exists() {
            return Err(ServiceError::model_not_ready(MODEL_NAME));
        }
        let vocab = std::fs::read_to_string(dir.join("vocab.json")).map_err(|e| fail("vocab.json", &e))?;
        let vocab = parse_vocab(&vocab)?;
        let mut styles = HashMap::new();
        for v in &VOICES {
            let path = dir.join("voices").join(format!("{}.bin", v.id));
            match std::fs::read(&path).ok().and_then(|b| parse_style(&b)) {
                Some(style) => {
                    styles.insert(v.id, style);
                }
                None => tracing::warn!(voice = v.id, "Kokoro voice missing or malformed"),
            }
        }
        if styles.is_empty() {
            return Err(fail("voices", &"none installed"));
        }
        let session = cogway_core::onnx::session(onnx_runtime, &model, threads)?;
        Ok(Self { session, vocab, styles })
    }

    /// The installed voices, in [`VOICES`]'s order.
    pub fn voices(&self) -> impl Iterator<Item = &'static VoiceInfo> + '_ {
        VOICES.iter().filter(|v| self.styles.contains_key(v.id))
    }

    /// Token ids of a phoneme string (characters the model does not know are dropped).
    pub fn tokens(&self, phonemes: &str) -> Vec<i64> {
        phonemes.chars().filter_map(|c| self.vocab.get(&c).copied()).collect()
    }

    /// `tokens` in calls of at most [`MAX_TOKENS`] (see [`split_tokens`]).
    pub fn chunks(&self, tokens: &[i64]) -> Vec<Vec<i64>> {
        let marks: Vec<i64> =
            [',', ';', ':', '.', '!', '?', '—', '…'].iter().filter_map(|c| self.vocab.get(c).copied()).collect();
        split_tokens(tokens, MAX_TOKENS, &marks, self.vocab.get(&' ').copied())
    }

    /// Speaks at most [`MAX_TOKENS`] tokens with `voice` at 24 kHz. `speed` > 1 is faster.
    pub fn synthesize(&mut self, voice: &str, tokens: &[i64], speed: f32) -> Result<Vec<f32>, ServiceError> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let tokens = &tokens[..tokens.len().min(MAX_TOKENS)];
        let table = self.styles.get(voice).ok_or_else(|| fail("voice", &format!("{voice} is not installed")))?;
        let row = tokens.len().min(STYLE_ROWS - 1);
        let style = Array2::from_shape_vec((1, STYLE_DIM), table[row * STYLE_DIM..(row + 1) * STYLE_DIM].to_vec())
            .map_err(|e| fail("style", &e))?;
        let mut ids = Vec::with_capacity(tokens.len() + 2);
        ids.push(0);
        ids.extend_from_slice(tokens);
        ids.push(0);
        let input = Array2::from_shape_vec((1, ids.len()), ids).map_err(|e| fail("input", &e))?;
        let speed = Array1::from_vec(vec![speed.clamp(0.25, 4.0)]);
        let outputs = self
            .session
            .run(ort::inputs![
                "tokens" => TensorRef::from_array_view(&input).map_err(|e| fail("input", &e))?,
                "style" => TensorRef::from_array_view(&style).map_err(|e| fail("input", &e))?,
                "speed" => TensorRef::from_array_view(&speed).map_err(|e| fail("input", &e))?,
            ])
            .map_err(|e| fail("run", &e))?;
        let audio = outputs[0].try_extract_array::<f32>().map_err(|e| fail("output", &e))?;
        // Peaks can pass 1.0 a little.
        Ok(audio.iter().map(|s| s.clamp(-1.0, 1.0)).collect())
    }
}

/// `tokens` in pieces of at most `limit`, each cut after the last clause mark (`marks`) within
/// the limit, else after the last space, else at the limit.
pub fn split_tokens(tokens: &[i64], limit: usize, marks: &[i64], space: Option<i64>) -> Vec<Vec<i64>> {
    let limit = limit.max(1);
    let mut out = Vec::new();
    let mut rest = tokens;
    while rest.len() > limit {
        let window = &rest[..limit];
        let cut = window
            .iter()
            .rposition(|t| marks.contains(t))
            .or_else(|| window.iter().rposition(|t| Some(*t) == space))
            .map_or(limit, |i| i + 1);
        out.push(rest[..cut].to_vec());
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        out.push(rest.to_vec());
    }
    out
}

/// Text to Kokoro's phonemes with eSpeak NG, as Kokoro's own pipeline (misaki's eSpeak G2P over
/// phonemizer) makes them: punctuation kept in place, stress marks kept, multi-letter phonemes
/// tied and then folded into Kokoro's single symbols, language-switch flags removed. Written
/// here because no crate does this mapping; the eSpeak calls go through [`super::espeak`].
pub mod g2p {
    use std::sync::LazyLock;

    use regex::Regex;

    /// The punctuation phonemizer keeps (runs of it with their spaces are copied through).
    static MARKS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(\s*[;:,.!?¡¿—…"«»“”(){}\[\]]+\s*)+"#).unwrap_or_else(|e| panic!("a fixed pattern: {e}"))
    });
    /// eSpeak's language-switch flags, `(^e^n)`.
    static FLAGS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\(.+?\)").unwrap_or_else(|e| panic!("a fixed pattern: {e}")));
    static UNDERSCORES: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"_+").unwrap_or_else(|e| panic!("a fixed pattern: {e}")));

    /// Tied eSpeak phonemes and Kokoro's symbols for them (misaki's table; no two overlap, so the
    /// order does not matter).
    const FOLDS: [(&str, &str); 11] = [
        ("a^ɪ", "I"),
        ("a^ʊ", "W"),
        ("d^z", "ʣ"),
        ("d^ʒ", "ʤ"),
        ("e^ɪ", "A"),
        ("o^ʊ", "O"),
        ("s^s", "S"),
        ("t^s", "ʦ"),
        ("t^ʃ", "ʧ"),
        ("ə^ʊ", "Q"),
        ("ɔ^ɪ", "Y"),
    ];

    /// A piece of the text: words for eSpeak, or punctuation copied as it is.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Piece {
        Words(String),
        Marks(String),
    }

    /// Splits `text` into words and punctuation. Parentheses become «» first so that they
    /// survive eSpeak and its flag removal, and are turned back by [`finish`].
    pub fn pieces(text: &str) -> Vec<Piece> {
        let text = text.replace('«', "\u{201c}").replace('»', "\u{201d}").replace('(', "«").replace(')', "»");
        let mut out = Vec::new();
        // Words run from `start`; marks inside numbers (`3,5`, `10:30`) stay in them, so eSpeak
        // reads the number as one.
        let mut start = 0;
        for m in MARKS.find_iter(&text) {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            let in_number = matches!(m.as_str(), "." | "," | ":")
                && before.is_some_and(|c| c.is_ascii_digit())
                && after.is_some_and(|c| c.is_ascii_digit());
            if in_number {
                continue;
            }
            push_words(&mut out, &text[start..m.start()]);
            out.push(Piece::Marks(m.as_str().to_string()));
            start = m.end();
        }
        push_words(&mut out, &text[start..]);
        out
    }

    /// A words piece, if it has something eSpeak reads (a letter or a digit); anything else (a
    /// lone dash, an apostrophe) is kept as marks, since eSpeak would print no line for it.
    fn push_words(out: &mut Vec<Piece>, words: &str) {
        let words = words.trim();
        if words.chars().any(char::is_alphanumeric) {
            out.push(Piece::Words(words.to_string()));
        } else if !words.is_empty() {
            out.push(Piece::Marks(words.to_string()));
        }
    }

    /// IPA written by hand (SSML `<phoneme>`) in Kokoro's conventions: the IPA tie bar as eSpeak's
    /// `^` (then folded by [`finish`]), ASCII `g` as IPA `ɡ`.
    pub fn normalize_ipa(ipa: &str) -> String {
        ipa.replace('\u{361}', "^").replace('g', "ɡ")
    }

    /// One line of eSpeak's `--ipa --tie=^` output, cleaned as phonemizer does.
    pub fn clean(ipa: &str) -> String {
        let ipa = UNDERSCORES.replace_all(ipa.trim(), "_").replace("_ ", " ");
        let ipa = FLAGS.replace_all(&ipa, "");
        ipa.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
    }

    /// Joins the pieces with each words piece's cleaned IPA (in order) and folds the result into
    /// Kokoro's symbols.
    pub fn assemble(pieces: &[Piece], ipa: &[String]) -> String {
        let mut ipa = ipa.iter();
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Marks(marks) => out.push_str(marks),
                Piece::Words(_) => out.push_str(&clean(ipa.next().map_or("", String::as_str))),
            }
        }
        finish(out.trim())
    }

    /// Folds tied phonemes into single symbols, drops the remaining ties and eSpeak's hyphens,
    /// and turns «» back into parentheses.
    pub fn finish(ipa: &str) -> String {
        let mut out = ipa.to_string();
        for (tied, symbol) in FOLDS {
            out = out.replace(tied, symbol);
        }
        out.replace(['^', '-'], "").replace('«', "(").replace('»', ")")
    }
}

#[cfg(test)]
mod tests {
    use super::g2p::{self, Piece};
    use super::*;

    #[test]
    fn punctuation_is_kept_around_the_words() {
        let pieces = g2p::pieces("Hola, ¿cómo estás? (bien)");
        assert_eq!(
            pieces,
            vec![
                Piece::Words("Hola".into()),
                Piece::Marks(", ¿".into()),
                Piece::Words("cómo estás".into()),
                Piece::Marks("? «".into()),
                Piece::Words("bien".into()),
                Piece::Marks("»".into()),
            ]
        );
        let ipa = ["ˈola".to_string(), "kˈomo estˈas".to_string(), "bjˈen".to_string()];
        assert_eq!(g2p::assemble(&pieces, &ipa), "ˈola, ¿kˈomo estˈas? (bjˈen)");
    }

    #[test]
    fn numbers_keep_their_marks_and_lone_dashes_are_not_words() {
        let pieces = g2p::pieces("Cuesta 3,5 euros, a las 10:30.");
        assert_eq!(
            pieces,
            vec![
                Piece::Words("Cuesta 3,5 euros".into()),
                Piece::Marks(", ".into()),
                Piece::Words("a las 10:30".into()),
                Piece::Marks(".".into()),
            ]
        );
        assert_eq!(g2p::pieces("hola. – ¿Vienes?")[2], Piece::Marks("–".into()));
        assert_eq!(g2p::finish(&g2p::normalize_ipa("t\u{361}ʃaɪ gud")), "ʧaɪ ɡud");
    }

    #[test]
    fn ties_fold_and_flags_go() {
        assert_eq!(g2p::clean("(^e^n)həlˈə^ʊ(^h^i)  wˈɜːld_"), "həlˈə^ʊ wˈɜːld_");
        assert_eq!(g2p::finish("həlˈə^ʊ t^ʃˈa^ɪ la-"), "həlˈQ ʧˈI la");
    }

    #[test]
    fn long_inputs_are_cut_at_clauses_then_spaces() {
        // 1 = comma, 2 = space, 9 = a letter.
        let tokens = [9, 9, 1, 2, 9, 9, 2, 9, 9, 9];
        assert_eq!(split_tokens(&tokens, 6, &[1], Some(2)), vec![vec![9, 9, 1], vec![2, 9, 9, 2], vec![9, 9, 9]]);
        assert_eq!(split_tokens(&[9; 5], 2, &[1], Some(2)), vec![vec![9, 9], vec![9, 9], vec![9]]);
        assert_eq!(split_tokens(&tokens, 510, &[1], Some(2)).len(), 1);
        assert!(split_tokens(&[], 510, &[1], None).is_empty());
    }

    #[test]
    fn style_tables_are_510_rows_of_256() {
        assert!(parse_style(&[0u8; 16]).is_none());
        let style = parse_style(&vec![0u8; STYLE_ROWS * STYLE_DIM * 4]).expect("table");
        assert_eq!(style.len(), 510 * 256);
        let vocab = parse_vocab(r#"{"vocab": {"a": 43, ";": 1, "ab": 5, "x": 0}}"#).expect("vocab");
        assert_eq!(vocab.len(), 2);
    }
}
