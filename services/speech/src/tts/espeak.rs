//! eSpeak NG, run as its command-line program: the phonemizer of the Piper voice (text to IPA)
//! and the formant synthesizer of every other language.
//!
//! Why the CLI and not libespeak-ng: the library is GPL-3 (linking it would put the gateway binary
//! under the GPL), keeps global state (one voice and one synthesis at a time per process) and its
//! callbacks need unsafe code. A crash in a process cannot take the gateway down. Phonemizing goes
//! through processes that stay running (`resident.rs`); speaking with a formant voice starts one
//! per call. Text goes in on standard input, never as an argument.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::resident::Residents;
use crate::audio::Pcm;
use cogway_core::ServiceError;

/// One voice eSpeak NG has (from `espeak-ng --voices`).
#[derive(Debug, Clone, PartialEq)]
pub struct EspeakVoice {
    /// eSpeak's language code (`en-us`, `de`, `es-419`); also the voice to select.
    pub language: String,
    /// eSpeak's name for it (`German`, `Spanish_(Latin_America)`).
    pub name: String,
    pub gender: String,
}

/// The eSpeak NG program.
#[derive(Debug, Clone)]
pub struct Espeak {
    program: PathBuf,
    residents: Residents,
}

fn failed(what: &str, err: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("espeak-ng {what}: {err}"))
}

impl Espeak {
    /// Finds `espeak-ng` (the `program` setting, else on PATH); `None` when it cannot run.
    pub fn find(program: Option<PathBuf>) -> Option<Self> {
        let program = program.unwrap_or_else(|| PathBuf::from("espeak-ng"));
        let ok = Command::new(&program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self { program, residents: Residents::default() })
    }

    fn run(&self, args: &[&str], input: &str) -> Result<Vec<u8>, ServiceError> {
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed("could not start", e))?;
        if let Some(mut stdin) = child.stdin.take() {
            // eSpeak reads all of standard input before it speaks; a write error means it died,
            // which wait_with_output reports.
            let _ = stdin.write_all(input.as_bytes());
        }
        let output = child.wait_with_output().map_err(|e| failed("did not finish", e))?;
        if !output.status.success() {
            return Err(failed("failed", String::from_utf8_lossy(&output.stderr).trim()));
        }
        Ok(output.stdout)
    }

    /// IPA for each clause, in order. eSpeak prints one line per clause it finds; the clauses
    /// are sent one per line so its lines line up with ours (checked, else one call each).
    pub fn phonemize(&self, voice: &str, clauses: &[String]) -> Result<Vec<String>, ServiceError> {
        self.phonemize_with(&["-q", "--ipa", "-v", voice], clauses)
    }

    /// As [`Self::phonemize`], with multi-letter phonemes tied by `^` (`t^ʃ`), as Kokoro's
    /// phonemizer asks for them.
    pub fn phonemize_tied(&self, voice: &str, clauses: &[String]) -> Result<Vec<String>, ServiceError> {
        self.phonemize_with(&["-q", "--ipa", "--tie=^", "-v", voice], clauses)
    }

    /// The IPA of `clauses` from one call with tied phonemes, or `None` when eSpeak's lines do
    /// not line up with them (the caller then asks in smaller groups).
    pub fn phonemize_tied_strict(&self, voice: &str, clauses: &[String]) -> Result<Option<Vec<String>>, ServiceError> {
        self.lines_of(&["-q", "--ipa", "--tie=^", "-v", voice], clauses)
    }

    /// One call for all clauses, one line each; `None` when the lines do not line up.
    fn lines_of(&self, args: &[&str], clauses: &[String]) -> Result<Option<Vec<String>>, ServiceError> {
        if clauses.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let lines = self.lines(args, clauses)?;
        Ok((lines.len() == clauses.len()).then_some(lines))
    }

    /// eSpeak's non-empty output lines for `clauses` sent one per line: from the resident
    /// process for `args`, or from a process of its own when that cannot answer.
    fn lines(&self, args: &[&str], clauses: &[String]) -> Result<Vec<String>, ServiceError> {
        let joined = clauses.iter().map(|c| c.replace(['\n', '\r'], " ")).collect::<Vec<_>>().join("\n");
        if let Some(lines) = self.residents.lines(&self.program, args, &joined) {
            return Ok(lines);
        }
        let out = String::from_utf8_lossy(&self.run(args, &joined)?).into_owned();
        Ok(out.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect())
    }

    fn phonemize_with(&self, args: &[&str], clauses: &[String]) -> Result<Vec<String>, ServiceError> {
        if let Some(lines) = self.lines_of(args, clauses)? {
            return Ok(lines);
        }
        clauses.iter().map(|clause| Ok(self.lines(args, std::slice::from_ref(clause))?.join(" "))).collect()
    }

    /// Speaks `text` with a formant voice. `rate` and `pitch` are multipliers of the defaults
    /// (175 words a minute, pitch 50 of 99).
    pub fn synthesize(&self, voice: &str, text: &str, rate: f32, pitch: f32) -> Result<Pcm, ServiceError> {
        let speed = ((175.0 * rate).round() as i32).clamp(80, 450).to_string();
        let pitch = ((50.0 * pitch).round() as i32).clamp(0, 99).to_string();
        let wav = self.run(&["--stdout", "-v", voice, "-s", &speed, "-p", &pitch], text)?;
        let mut reader = hound::WavReader::new(std::io::Cursor::new(wav)).map_err(|e| failed("wrote bad audio", e))?;
        let rate = reader.spec().sample_rate;
        // eSpeak streams to stdout without knowing the length, so its header's data size is bogus;
        // read samples until the bytes run out.
        let samples: Vec<f32> = reader.samples::<i16>().map_while(Result::ok).map(|s| f32::from(s) / 32768.0).collect();
        Ok(Pcm::new(samples, rate))
    }

    /// The installed voices (languages).
    pub fn voices(&self) -> Result<Vec<EspeakVoice>, ServiceError> {
        let out = Command::new(&self.program).arg("--voices").output().map_err(|e| failed("--voices", e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .skip(1)
            .filter_map(|line| {
                // "Pty Language Age/Gender VoiceName File Other Languages"
                let cols: Vec<&str> = line.split_whitespace().collect();
                let (language, age_gender, name) = (cols.get(1)?, cols.get(2)?, cols.get(3)?);
                let gender = match age_gender.rsplit('/').next() {
                    Some("F") => "Female",
                    _ => "Male",
                };
                Some(EspeakVoice {
                    language: (*language).to_string(),
                    name: name.replace('_', " "),
                    gender: gender.into(),
                })
            })
            .collect())
    }
}

/// Splits text into sentences, each a list of (clause, closing punctuation). Punctuation only
/// counts when followed by a space or the end (so `3.5` and `e.g.x` stay whole).
pub fn sentences(text: &str) -> Vec<Vec<(String, char)>> {
    let mut sentences = Vec::new();
    let mut clauses = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let at_boundary = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        let clause_end = matches!(c, ',' | ';' | ':' | '—');
        let sentence_end = matches!(c, '.' | '!' | '?' | '…');
        if (clause_end || sentence_end) && at_boundary {
            if !current.trim().is_empty() {
                clauses.push((current.trim().to_string(), c));
            }
            current.clear();
            if sentence_end && !clauses.is_empty() {
                sentences.push(std::mem::take(&mut clauses));
            }
        } else {
            current.push(c);
        }
    }
    if !current.trim().is_empty() {
        clauses.push((current.trim().to_string(), '.'));
    }
    if !clauses.is_empty() {
        sentences.push(clauses);
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences_and_clauses() {
        let s = sentences("Hello world, this costs 3.5 dollars. Really? yes");
        assert_eq!(s.len(), 3);
        assert_eq!(s[0], vec![("Hello world".to_string(), ','), ("this costs 3.5 dollars".to_string(), '.')]);
        assert_eq!(s[1], vec![("Really".to_string(), '?')]);
        assert_eq!(s[2], vec![("yes".to_string(), '.')]);
    }

    #[test]
    fn phonemizes_with_the_installed_program() {
        let Some(espeak) = Espeak::find(None) else {
            panic!("espeak-ng is not installed: run `make setup`");
        };
        let ipa = espeak.phonemize("en-us", &["hello world".into(), "good morning".into()]).expect("phonemize");
        assert_eq!(ipa.len(), 2);
        assert!(ipa[0].contains("wˈɜːld"), "{ipa:?}");
        let pcm = espeak.synthesize("de", "Guten Tag", 1.0, 1.0).expect("synthesize");
        assert!(pcm.duration_secs() > 0.3, "{} s", pcm.duration_secs());
    }
}
