//! Which Apertium directions are installed, read from the pair packages' mode files.
//!
//! A mode file (`/usr/share/apertium/modes/eng-spa.mode`) is the shell pipeline of one direction.
//! `apertium-wblank-mode -z` rewrites it with null-flush on every program; the pipeline is then
//! split into programs and started without a shell (see `pipeline.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::languages::apertium_code;

/// One installed direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direction {
    /// Azure-style source and target codes (`en`, `es`, `pt-pt`, `sr-Latn`, ...).
    pub from: String,
    pub to: String,
    /// The mode name (`eng-spa`).
    pub mode: String,
    pub path: PathBuf,
}

/// Maps a mode name to (from, to) in Azure codes, or `None` for dialect variants, debugging
/// modes and pairs whose languages have no code here.
fn direction_of(mode: &str) -> Option<(String, String)> {
    let (from, to) = mode.split_once('-')?;
    if to.contains('-') {
        return None; // eo-en-compounds, en-eo-bytecode, eco-es-fr: not plain directions
    }
    // Regional target variants chosen here on purpose: Apertium's `es-pt` writes European
    // Portuguese, `es-pt_BR` Brazilian (Azure's `pt`); `eng-hbs_*` pick the standard.
    let to = match (from, to) {
        (_, "pt_BR") => "pt",
        (_, "pt") => "pt-pt",
        (_, "hbs_HR") => "hr",
        (_, "hbs_BS") => "bs",
        (_, "hbs_SR") => "sr-Latn",
        (_, t) if t.contains('_') => return None,
        (_, t) => apertium_code(t)?,
    };
    let from = if from == "pt" { "pt" } else { apertium_code(from)? };
    Some((from.to_string(), to.to_string()))
}

/// Source codes a mode serves besides its own (a Serbo-Croatian analyser reads all three
/// standards; Portuguese analysis reads both variants).
fn extra_sources(from: &str) -> &'static [&'static str] {
    match from {
        "hr" => &["bs", "sr-Latn"],
        "pt" => &["pt-pt"],
        _ => &[],
    }
}

/// Every usable direction in `modes_dir`, one per (from, to).
pub fn discover(modes_dir: &Path) -> Vec<Direction> {
    let Ok(entries) = std::fs::read_dir(modes_dir) else {
        return Vec::new();
    };
    let mut found: BTreeMap<(String, String), Direction> = BTreeMap::new();
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for path in names {
        let Some(mode) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".mode")) else {
            continue;
        };
        let Some((from, to)) = direction_of(mode) else { continue };
        if from == to {
            continue;
        }
        let mut sources = vec![from.clone()];
        sources.extend(extra_sources(&from).iter().map(|s| s.to_string()));
        for source in sources {
            found.entry((source.clone(), to.clone())).or_insert_with(|| Direction {
                from: source,
                to: to.clone(),
                mode: mode.to_string(),
                path: path.clone(),
            });
        }
    }
    found.into_values().collect()
}

/// The programs of a direction's pipeline with null-flush, each as argv.
pub fn programs(direction: &Direction) -> Result<Vec<Vec<String>>, String> {
    let out = Command::new("apertium-wblank-mode")
        .arg("-z")
        .arg(&direction.path)
        .output()
        .map_err(|e| format!("apertium-wblank-mode: {e} (install the `apertium` package)"))?;
    if !out.status.success() {
        return Err(format!("apertium-wblank-mode failed on {}", direction.path.display()));
    }
    let script = String::from_utf8_lossy(&out.stdout);
    parse_pipeline(&script)
}

/// Splits `a 'x' | b -z $1 'y'` into programs; `$1` is the generator's option (`-g`: marks
/// kept, removed later by `stream::decode`), `$2` (the tagger's) stays empty.
pub fn parse_pipeline(script: &str) -> Result<Vec<Vec<String>>, String> {
    let mut programs = Vec::new();
    for stage in script.trim().split('|') {
        let words = shell_words::split(stage).map_err(|e| format!("mode file: {e}"))?;
        let argv: Vec<String> = words
            .into_iter()
            .filter_map(|w| match w.as_str() {
                "$1" => Some("-g".to_string()),
                "$2" => None,
                _ => Some(w),
            })
            .collect();
        if argv.is_empty() {
            return Err("mode file: an empty program".into());
        }
        programs.push(argv);
    }
    if programs.is_empty() {
        return Err("mode file: no programs".into());
    }
    Ok(programs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names_map_to_azure_codes() {
        assert_eq!(direction_of("eng-spa"), Some(("en".into(), "es".into())));
        assert_eq!(direction_of("es-pt"), Some(("es".into(), "pt-pt".into())));
        assert_eq!(direction_of("es-pt_BR"), Some(("es".into(), "pt".into())));
        assert_eq!(direction_of("pt-es"), Some(("pt".into(), "es".into())));
        assert_eq!(direction_of("eng-hbs_SR"), Some(("en".into(), "sr-Latn".into())));
        assert_eq!(direction_of("hbs-eng"), Some(("hr".into(), "en".into())));
        assert_eq!(direction_of("spa-cat_valencia"), None);
        assert_eq!(direction_of("eo-en-compounds"), None);
        assert_eq!(direction_of("Cyrl-Latn"), None);
    }

    #[test]
    fn pipelines_split_into_programs() {
        let p = parse_pipeline("lt-proc -z '/a b/x.bin' | apertium-tagger -z -g $2 '/p' | lt-proc -z $1 '/g.bin'\n")
            .expect("parses");
        assert_eq!(p[0], ["lt-proc", "-z", "/a b/x.bin"]);
        assert_eq!(p[1], ["apertium-tagger", "-z", "-g", "/p"]);
        assert_eq!(p[2], ["lt-proc", "-z", "-g", "/g.bin"]);
    }
}
