//! Dictionary lookup on an Apertium pair's own dictionaries: the source analyser gives the
//! readings of a word (lemma + part of speech), the bilingual dictionary (`lt-proc -b`) their
//! translations, and the reverse direction's bilingual dictionary the back-translations.
//!
//! Lookups are rare next to translations, so each runs `lt-proc` as a short-lived process on the
//! compiled dictionaries named in the direction's mode (a few tens of milliseconds).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Serialize;

use super::modes::{Direction, programs};
use super::stream;

/// One translation of a looked-up word, in Azure's shape.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DictionaryTranslation {
    pub normalized_target: String,
    pub display_target: String,
    pub pos_tag: String,
    pub confidence: f64,
    pub prefix_word: String,
    pub back_translations: Vec<BackTranslation>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackTranslation {
    pub normalized_text: String,
    pub display_text: String,
    pub num_examples: u32,
    pub frequency_count: u32,
}

/// The compiled dictionaries of one direction.
#[derive(Debug, Clone)]
pub struct Dictionaries {
    analyser: PathBuf,
    bilingual: PathBuf,
    /// The reverse direction's bilingual dictionary, when that direction is installed.
    reverse_bilingual: Option<PathBuf>,
}

/// The file argument of the first program `lt-proc ... <file>` that has `flag` (or no flag).
fn lt_proc_file(programs: &[Vec<String>], flag: Option<&str>) -> Option<PathBuf> {
    programs
        .iter()
        .filter(|argv| argv[0] == "lt-proc")
        .find(|argv| match flag {
            Some(f) => argv.iter().any(|a| a == f),
            None => argv[1..].iter().all(|a| !a.starts_with('-') || a == "-z"),
        })
        .and_then(|argv| argv.last())
        .map(PathBuf::from)
}

impl Dictionaries {
    pub fn of(direction: &Direction, reverse: Option<&Direction>) -> Result<Self, String> {
        let forward = programs(direction)?;
        let analyser = lt_proc_file(&forward, None).ok_or("no analyser in the mode")?;
        let bilingual = lt_proc_file(&forward, Some("-b")).ok_or("no bilingual dictionary in the mode")?;
        let reverse_bilingual = reverse.and_then(|r| programs(r).ok()).and_then(|p| lt_proc_file(&p, Some("-b")));
        Ok(Self { analyser, bilingual, reverse_bilingual })
    }

    /// Translations of one word or short phrase, most likely first.
    pub fn lookup(&self, word: &str) -> Result<Vec<DictionaryTranslation>, String> {
        let word = word.trim();
        if word.is_empty() {
            return Ok(Vec::new());
        }
        let analysis = lt_proc(&[], &self.analyser, &stream::encode(&crate::pieces::plain(word)))?;
        let readings = readings(&analysis);
        if readings.is_empty() {
            return Ok(Vec::new());
        }
        let input: String = readings
            .iter()
            .map(|r| {
                let (lemma, tags) = split_tags(r);
                format!("^{}{tags}$\n", escape(&lemma))
            })
            .collect();
        let translated = lt_proc(&["-b"], &self.bilingual, &input)?;
        // (target lemma, target tags, part of speech), first seen first.
        let mut targets: Vec<(String, String, &'static str)> = Vec::new();
        for unit in units(&translated) {
            for target in unit.iter().skip(1) {
                if target.starts_with('@') {
                    continue;
                }
                let (lemma, tags) = split_tags(target);
                if lemma.is_empty() || lemma.contains('#') {
                    continue;
                }
                let pos = pos_tag(&tags);
                if !targets.iter().any(|(l, _, p)| l == &lemma && *p == pos) {
                    targets.push((lemma, tags, pos));
                }
            }
        }
        let total = targets.len().max(1) as f64;
        let mut out = Vec::with_capacity(targets.len());
        for (rank, (lemma, tags, pos)) in targets.iter().enumerate() {
            let back = match &self.reverse_bilingual {
                Some(path) => back_translations(path, lemma, tags).unwrap_or_default(),
                None => Vec::new(),
            };
            // Earlier readings are the analyser's and bilingual dictionary's preferred ones:
            // confidence falls with rank and sums to one.
            let weight = (total - rank as f64) / (total * (total + 1.0) / 2.0);
            out.push(DictionaryTranslation {
                normalized_target: lemma.to_lowercase(),
                display_target: lemma.clone(),
                pos_tag: pos.to_string(),
                confidence: (weight * 10_000.0).round() / 10_000.0,
                prefix_word: String::new(),
                back_translations: back,
            });
        }
        Ok(out)
    }
}

fn back_translations(reverse: &PathBuf, lemma: &str, tags: &str) -> Result<Vec<BackTranslation>, String> {
    let out = lt_proc(&["-b"], reverse, &format!("^{}{}$\n", escape(lemma), tags))?;
    let mut seen: Vec<String> = Vec::new();
    for unit in units(&out) {
        for target in unit.iter().skip(1) {
            if target.starts_with('@') {
                continue;
            }
            let (back, _) = split_tags(target);
            if !back.is_empty() && !seen.contains(&back) {
                seen.push(back);
            }
        }
    }
    Ok(seen
        .into_iter()
        .map(|w| BackTranslation {
            normalized_text: w.to_lowercase(),
            display_text: w,
            num_examples: 0,
            frequency_count: 0,
        })
        .collect())
}

fn escape(text: &str) -> String {
    let encoded = stream::encode(&crate::pieces::plain(text));
    encoded.strip_suffix("[][\\n]").unwrap_or(&encoded).to_string()
}

fn lt_proc(flags: &[&str], file: &PathBuf, input: &str) -> Result<String, String> {
    let mut child = Command::new("lt-proc")
        .args(flags)
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("lt-proc: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(|e| format!("lt-proc: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("lt-proc: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lexical units `^a/b/c$` of a stream, each split on its unescaped slashes.
fn units(stream: &str) -> Vec<Vec<String>> {
    let mut units = Vec::new();
    let mut chars = stream.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '^' => {
                let mut parts = vec![String::new()];
                while let Some(u) = chars.next() {
                    match u {
                        '\\' => {
                            if let (Some(n), Some(part)) = (chars.next(), parts.last_mut()) {
                                part.push(n);
                            }
                        }
                        '/' => parts.push(String::new()),
                        '$' => break,
                        other => {
                            if let Some(part) = parts.last_mut() {
                                part.push(other);
                            }
                        }
                    }
                }
                units.push(parts);
            }
            _ => {}
        }
    }
    units
}

/// The analyses (lemma + tags) of the first word, without compounds and unknowns.
fn readings(analysis: &str) -> Vec<String> {
    let Some(unit) = units(analysis).into_iter().next() else { return Vec::new() };
    unit.into_iter().skip(1).filter(|r| !r.starts_with('*') && !r.contains('+') && r.contains('<')).collect()
}

/// `casa<n><f><sg>` -> (`casa`, `<n><f><sg>`).
fn split_tags(reading: &str) -> (String, String) {
    match reading.find('<') {
        Some(i) => (reading[..i].trim().to_string(), reading[i..].to_string()),
        None => (reading.trim().to_string(), String::new()),
    }
}

/// Azure's part-of-speech tags from Apertium's first tag.
fn pos_tag(tags: &str) -> &'static str {
    let first = tags.trim_start_matches('<').split('>').next().unwrap_or("");
    match first {
        "n" | "np" => "NOUN",
        "vblex" | "vbser" | "vbhaver" | "vbdo" => "VERB",
        "vbmod" => "MODAL",
        "adj" => "ADJ",
        "adv" | "preadv" => "ADV",
        "pr" => "PREP",
        "prn" => "PRON",
        "det" => "DET",
        "cnjcoo" | "cnjsub" | "cnjadv" => "CONJ",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_parse_into_units_and_readings() {
        let a = "^house/house<n><sg>/house<vblex><inf>/*x$[][\\n]";
        assert_eq!(readings(a), ["house<n><sg>", "house<vblex><inf>"]);
        let b = units("^bank<n><sg>/banco<n><m><sg>/orilla<n><f><sg>$\n^a\\/b<n>/@a\\/b<n>$");
        assert_eq!(b[0], ["bank<n><sg>", "banco<n><m><sg>", "orilla<n><f><sg>"]);
        assert_eq!(b[1], ["a/b<n>", "@a/b<n>"]);
        assert_eq!(split_tags("casa<n><f><sg>"), ("casa".to_string(), "<n><f><sg>".to_string()));
        assert_eq!(pos_tag("<vblex><inf>"), "VERB");
    }
}
