//! SSML as Azure accepts it, parsed with quick-xml into what the synthesizers need: per voice, a
//! list of text runs (with prosody and language), IPA phoneme runs and breaks.
//!
//! Supported: `speak` (`xml:lang`), `voice` (`name`), `prosody` (`rate`, `pitch`, `volume`), `break`
//! (`time`, `strength`), `say-as` (cardinal/number, ordinal, characters/spell-out, digits, date,
//! telephone), `phoneme` (`alphabet="ipa"`), `sub` (`alias`), `lang`, `lexicon` (`uri`), `p`, `s`,
//! `emphasis`; other elements (`mstts:express-as`, `bookmark`, ...) keep their text and are
//! otherwise ignored, like a voice without that feature would.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::say_as::say_as;

/// Limits that keep parsing linear and the audio proportionate to what is charged: an element may
/// have at most this many attributes (quick-xml's duplicate check is quadratic in them)...
pub const MAX_ATTRIBUTES: usize = 32;
/// ...elements nest at most this deep (every text run looks at the open elements)...
pub const MAX_DEPTH: usize = 64;
/// ...one document may name at most this many distinct lexicons...
pub const MAX_LEXICONS: usize = 8;
/// ...and all its breaks (`<break>`, and the pauses after `<p>` and `<s>`) add up to at most
/// two minutes of silence. Azure bills text, not silence: without a cap, a few kilobytes of
/// `<break time="5s"/>` would make hours of audio for a handful of characters.
pub const MAX_SILENCE_MS: u64 = 120_000;
/// Most text and phoneme runs in one document: each run is one call of the phonemizer (an
/// `espeak-ng` process), so thousands of one-letter runs would cost minutes for a few characters.
pub const MAX_RUNS: usize = 400;
/// Most `<voice>` elements in one document (Azure's limit is 50).
pub const MAX_VOICES: usize = 50;

/// Prosody as multipliers of the voice's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prosody {
    /// Speaking rate: 2.0 is twice as fast.
    pub rate: f32,
    /// Pitch: 2.0 is an octave up.
    pub pitch: f32,
    /// Amplitude gain: 0 is silent.
    pub volume: f32,
}

impl Default for Prosody {
    fn default() -> Self {
        Self { rate: 1.0, pitch: 1.0, volume: 1.0 }
    }
}

/// One piece of what a voice says.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Text {
        text: String,
        prosody: Prosody,
        lang: String,
    },
    /// IPA given by the author; `text` is what it spells, for voices that cannot take IPA.
    Phonemes {
        ipa: String,
        text: String,
        prosody: Prosody,
        lang: String,
    },
    Break {
        ms: u32,
    },
}

/// The content of one `<voice>` element.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceBlock {
    pub voice: String,
    pub items: Vec<Item>,
}

/// A parsed SSML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub lang: String,
    pub blocks: Vec<VoiceBlock>,
    /// `uri`s of `<lexicon>` elements, in order.
    pub lexicons: Vec<String>,
}

impl Document {
    /// Every character of spoken text (Azure bills and limits by this). A `<phoneme>` counts its
    /// IPA as well as the text it spells: both are input the synthesizer works on.
    pub fn text_len(&self) -> usize {
        self.blocks
            .iter()
            .flat_map(|b| &b.items)
            .map(|i| match i {
                Item::Text { text, .. } => text.chars().count(),
                Item::Phonemes { ipa, text, .. } => ipa.chars().count() + text.chars().count(),
                Item::Break { .. } => 0,
            })
            .sum()
    }

    /// Milliseconds of silence the breaks ask for.
    pub fn silence_ms(&self) -> u64 {
        self.blocks
            .iter()
            .flat_map(|b| &b.items)
            .map(|i| match i {
                Item::Break { ms } => u64::from(*ms),
                _ => 0,
            })
            .sum()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SsmlError {
    #[error("The SSML is not well-formed XML: {0}")]
    Xml(String),
    #[error("The SSML must have a <speak> root element.")]
    NoSpeak,
    #[error("Invalid SSML: {0}")]
    Invalid(String),
}

/// What surrounds the text being read.
#[derive(Debug, Clone)]
struct Context {
    element: String,
    prosody: Prosody,
    lang: String,
    say_as: Option<(String, Option<String>)>,
    /// Inside `<phoneme>` with an IPA string, or `<sub>` with an alias: the content is replaced.
    replacement: Option<Item>,
    /// Inside an element whose text is not spoken (`<audio>` alternative text is spoken; `desc` not).
    silent: bool,
}

/// Parses an SSML document. `default_voice` is used for text outside any `<voice>`.
pub fn parse(ssml: &str, default_voice: &str) -> Result<Document, SsmlError> {
    let mut reader = Reader::from_str(ssml);
    reader.config_mut().trim_text(false);
    let mut doc = Document { lang: "en-US".into(), blocks: Vec::new(), lexicons: Vec::new() };
    let mut stack: Vec<Context> = Vec::new();
    let mut seen_speak = false;
    let mut text_buf = String::new();

    loop {
        let event = reader.read_event().map_err(|e| SsmlError::Xml(e.to_string()))?;
        match event {
            Event::Start(e) => {
                flush_text(&mut text_buf, &mut stack, &mut doc, default_voice);
                if stack.len() >= MAX_DEPTH {
                    return Err(SsmlError::Invalid(format!("elements nest deeper than {MAX_DEPTH} levels")));
                }
                let ctx = open(&e, stack.last(), &mut doc, &mut seen_speak, default_voice)?;
                stack.push(ctx);
            }
            Event::Empty(e) => {
                flush_text(&mut text_buf, &mut stack, &mut doc, default_voice);
                let ctx = open(&e, stack.last(), &mut doc, &mut seen_speak, default_voice)?;
                close(ctx, &stack, &mut doc, default_voice);
            }
            Event::End(_) => {
                flush_text(&mut text_buf, &mut stack, &mut doc, default_voice);
                if let Some(ctx) = stack.pop() {
                    close(ctx, &stack, &mut doc, default_voice);
                }
            }
            Event::Text(t) => {
                let text = t.xml_content().map_err(|e| SsmlError::Xml(e.to_string()))?;
                text_buf.push_str(&text);
            }
            Event::CData(t) => {
                let text = t.xml_content().map_err(|e| SsmlError::Xml(e.to_string()))?;
                text_buf.push_str(&text);
            }
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| SsmlError::Xml(e.to_string()))? {
                    text_buf.push(c);
                } else {
                    let name = r.decode().map_err(|e| SsmlError::Xml(e.to_string()))?;
                    let value = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| SsmlError::Xml(format!("unknown entity &{name};")))?;
                    text_buf.push_str(value);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_speak {
        return Err(SsmlError::NoSpeak);
    }
    if !stack.is_empty() {
        return Err(SsmlError::Xml("unclosed elements at the end of the document".into()));
    }
    doc.blocks.retain(|b| !b.items.is_empty());
    let runs = doc.blocks.iter().flat_map(|b| &b.items).filter(|i| !matches!(i, Item::Break { .. })).count();
    if runs > MAX_RUNS {
        return Err(SsmlError::Invalid(format!(
            "the document has {runs} separate runs of text; at most {MAX_RUNS} are allowed (join adjacent text)"
        )));
    }
    if doc.blocks.len() > MAX_VOICES {
        return Err(SsmlError::Invalid(format!("at most {MAX_VOICES} <voice> elements are allowed")));
    }
    let silence = doc.silence_ms();
    if silence > MAX_SILENCE_MS {
        return Err(SsmlError::Invalid(format!(
            "the breaks add up to {:.0} s of silence; at most {} s are allowed in one request",
            silence as f64 / 1000.0,
            MAX_SILENCE_MS / 1000
        )));
    }
    Ok(doc)
}

/// Refuses an element with more than [`MAX_ATTRIBUTES`] attributes, counted without quick-xml's
/// duplicate check (which compares every pair).
fn check_attribute_count(e: &BytesStart<'_>) -> Result<(), SsmlError> {
    if e.attributes().with_checks(false).take(MAX_ATTRIBUTES + 1).count() > MAX_ATTRIBUTES {
        return Err(SsmlError::Invalid(format!("an element has more than {MAX_ATTRIBUTES} attributes")));
    }
    Ok(())
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, SsmlError> {
    for a in e.attributes() {
        let a = a.map_err(|err| SsmlError::Xml(err.to_string()))?;
        let key = a.key.as_ref();
        let local = key.rsplit(|b| *b == b':').next().unwrap_or(key);
        if key == name.as_bytes() || local == name.as_bytes() {
            let v = a.unescape_value().map_err(|err| SsmlError::Xml(err.to_string()))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn open(
    e: &BytesStart<'_>,
    parent: Option<&Context>,
    doc: &mut Document,
    seen_speak: &mut bool,
    default_voice: &str,
) -> Result<Context, SsmlError> {
    check_attribute_count(e)?;
    let name = String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase();
    let mut ctx = match parent {
        Some(p) => Context { element: name.clone(), replacement: None, ..p.clone() },
        None => {
            if name != "speak" {
                return Err(SsmlError::NoSpeak);
            }
            Context {
                element: name.clone(),
                prosody: Prosody::default(),
                lang: doc.lang.clone(),
                say_as: None,
                replacement: None,
                silent: false,
            }
        }
    };
    match name.as_str() {
        "speak" => {
            *seen_speak = true;
            if let Some(lang) = attr(e, "lang")? {
                doc.lang = lang.clone();
                ctx.lang = lang;
            }
        }
        "voice" => {
            let voice = attr(e, "name")?.unwrap_or_else(|| default_voice.to_string());
            doc.blocks.push(VoiceBlock { voice, items: Vec::new() });
            if let Some(lang) = attr(e, "lang")? {
                ctx.lang = lang;
            }
        }
        "lang" => {
            if let Some(lang) = attr(e, "lang")? {
                ctx.lang = lang;
            }
        }
        "prosody" => {
            // Nested prosody multiplies; the product stays in the same range as one element's
            // value, so nesting cannot ask for hours of audio from one word.
            if let Some(rate) = attr(e, "rate")? {
                ctx.prosody.rate =
                    finite(ctx.prosody.rate * parse_rate(&rate)?, "prosody rate", &rate)?.clamp(0.5, 3.0);
            }
            if let Some(pitch) = attr(e, "pitch")? {
                ctx.prosody.pitch =
                    finite(ctx.prosody.pitch * parse_pitch(&pitch)?, "prosody pitch", &pitch)?.clamp(0.5, 2.0);
            }
            if let Some(volume) = attr(e, "volume")? {
                ctx.prosody.volume =
                    finite(ctx.prosody.volume * parse_volume(&volume)?, "prosody volume", &volume)?.clamp(0.0, 2.0);
            }
        }
        "break" => {
            let ms = match (attr(e, "time")?, attr(e, "strength")?) {
                (Some(time), _) => parse_time_ms(&time)?,
                (None, Some(strength)) => strength_ms(&strength)?,
                (None, None) => 750,
            };
            ctx.replacement = Some(Item::Break { ms: ms.min(5_000) });
        }
        "say-as" => {
            let interpret = attr(e, "interpret-as")?
                .ok_or_else(|| SsmlError::Invalid("<say-as> needs an interpret-as attribute".into()))?;
            ctx.say_as = Some((interpret.to_ascii_lowercase(), attr(e, "format")?));
        }
        "phoneme" => {
            let alphabet = attr(e, "alphabet")?.unwrap_or_else(|| "ipa".into()).to_ascii_lowercase();
            if let Some(ph) = attr(e, "ph")?
                && alphabet == "ipa"
            {
                ctx.replacement =
                    Some(Item::Phonemes { ipa: ph, text: String::new(), prosody: ctx.prosody, lang: ctx.lang.clone() });
            }
        }
        "sub" => {
            if let Some(alias) = attr(e, "alias")? {
                ctx.replacement = Some(Item::Text { text: alias, prosody: ctx.prosody, lang: ctx.lang.clone() });
            }
        }
        "lexicon" => {
            if let Some(uri) = attr(e, "uri")?
                && !doc.lexicons.contains(&uri)
            {
                if doc.lexicons.len() >= MAX_LEXICONS {
                    return Err(SsmlError::Invalid(format!("at most {MAX_LEXICONS} distinct lexicons may be used")));
                }
                doc.lexicons.push(uri);
            }
        }
        "emphasis" => ctx.prosody.rate *= 0.9,
        "desc" | "bookmark" => ctx.silent = true,
        _ => {}
    }
    Ok(ctx)
}

/// Ends an element: replacements (break, phoneme, sub) are emitted here, sentences end here.
fn close(ctx: Context, parent: &[Context], doc: &mut Document, default_voice: &str) {
    let inside_replacement = parent.iter().any(|p| p.replacement.is_some());
    if inside_replacement {
        return;
    }
    match ctx.replacement {
        Some(item) => push_item(doc, default_voice, item),
        None if matches!(ctx.element.as_str(), "p" | "s") => {
            push_item(doc, default_voice, Item::Break { ms: if ctx.element == "p" { 400 } else { 150 } })
        }
        None => {}
    }
}

fn flush_text(buf: &mut String, stack: &mut [Context], doc: &mut Document, default_voice: &str) {
    if buf.is_empty() {
        return;
    }
    let raw = std::mem::take(buf);
    let Some(ctx) = stack.last() else { return };
    if ctx.silent {
        return;
    }
    let ctx = ctx.clone();
    // Text inside <phoneme>/<sub> is what the replacement spells; keep it only for phonemes.
    if let Some(pos) = stack.iter().rposition(|c| c.replacement.is_some()) {
        if let Some(Item::Phonemes { text, .. }) = stack[pos].replacement.as_mut() {
            text.push_str(&raw);
        }
        return;
    }
    if raw.trim().is_empty() {
        return;
    }
    let text = match &ctx.say_as {
        Some((interpret, format)) => say_as(raw.trim(), interpret, format.as_deref(), &ctx.lang),
        None => normalize_space(&raw),
    };
    push_item(doc, default_voice, Item::Text { text, prosody: ctx.prosody, lang: ctx.lang.clone() });
}

fn normalize_space(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    if text.starts_with(char::is_whitespace) {
        out.push(' ');
    }
    out.push_str(&text.split_whitespace().collect::<Vec<_>>().join(" "));
    if text.ends_with(char::is_whitespace) && !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

fn push_item(doc: &mut Document, default_voice: &str, item: Item) {
    if doc.blocks.is_empty() {
        doc.blocks.push(VoiceBlock { voice: default_voice.to_string(), items: Vec::new() });
    }
    if let Some(block) = doc.blocks.last_mut() {
        // Merge adjacent text with the same settings so sentences are synthesized whole.
        if let (Some(Item::Text { text, prosody, lang }), Item::Text { text: more, prosody: p2, lang: l2 }) =
            (block.items.last_mut(), &item)
            && prosody == p2
            && lang == l2
        {
            text.push_str(more);
            return;
        }
        block.items.push(item);
    }
}

fn invalid(what: &str, value: &str) -> SsmlError {
    SsmlError::Invalid(format!("{what} value {value:?} is not understood"))
}

/// A relative (`+20%`, `-10%`) or absolute (`1.5`) change, or a named level.
fn percent_or_factor(value: &str) -> Option<f32> {
    let v = value.trim();
    if let Some(p) = v.strip_suffix('%') {
        let p: f32 = p.trim().parse().ok()?;
        return Some(1.0 + p / 100.0);
    }
    v.parse::<f32>().ok()
}

/// `value` when it is a finite number (`nan` and `inf` parse as floats but mean nothing here).
fn finite(value: f32, what: &str, raw: &str) -> Result<f32, SsmlError> {
    if value.is_finite() { Ok(value) } else { Err(invalid(what, raw)) }
}

fn parse_rate(value: &str) -> Result<f32, SsmlError> {
    let factor = match value.trim().to_ascii_lowercase().as_str() {
        "x-slow" => 0.5,
        "slow" => 0.64,
        "medium" | "default" => 1.0,
        "fast" => 1.55,
        "x-fast" => 2.0,
        other => percent_or_factor(other).ok_or_else(|| invalid("prosody rate", value))?,
    };
    Ok(factor.clamp(0.5, 3.0))
}

fn parse_pitch(value: &str) -> Result<f32, SsmlError> {
    // A typical speaking voice sits near 120 Hz; Hz changes are taken relative to that.
    const BASE_HZ: f32 = 120.0;
    let v = value.trim().to_ascii_lowercase();
    let factor = match v.as_str() {
        "x-low" => 0.5,
        "low" => 0.75,
        "medium" | "default" => 1.0,
        "high" => 1.25,
        "x-high" => 1.5,
        _ => {
            if let Some(st) = v.strip_suffix("st") {
                let st: f32 = st.parse().map_err(|_| invalid("prosody pitch", value))?;
                2f32.powf(st / 12.0)
            } else if let Some(hz) = v.strip_suffix("hz") {
                let signed = hz.starts_with('+') || hz.starts_with('-');
                let hz: f32 = hz.parse().map_err(|_| invalid("prosody pitch", value))?;
                if signed { 1.0 + hz / BASE_HZ } else { hz / BASE_HZ }
            } else {
                percent_or_factor(&v).ok_or_else(|| invalid("prosody pitch", value))?
            }
        }
    };
    Ok(factor.clamp(0.5, 2.0))
}

fn parse_volume(value: &str) -> Result<f32, SsmlError> {
    let v = value.trim().to_ascii_lowercase();
    let gain = match v.as_str() {
        "silent" => 0.0,
        "x-soft" => 0.2,
        "soft" => 0.4,
        "medium" => 0.6,
        "loud" => 0.8,
        "x-loud" | "default" => 1.0,
        _ => {
            if let Some(db) = v.strip_suffix("db") {
                let db: f32 = db.parse().map_err(|_| invalid("prosody volume", value))?;
                10f32.powf(db / 20.0)
            } else if v.ends_with('%') {
                percent_or_factor(&v).ok_or_else(|| invalid("prosody volume", value))?
            } else {
                // Azure's scale: absolute 0..100 (100 is the default), or +N / -N on that scale.
                let n: f32 = v.parse().map_err(|_| invalid("prosody volume", value))?;
                if v.starts_with('+') || v.starts_with('-') { (100.0 + n) / 100.0 } else { n / 100.0 }
            }
        }
    };
    Ok(gain.clamp(0.0, 2.0))
}

fn parse_time_ms(value: &str) -> Result<u32, SsmlError> {
    let v = value.trim().to_ascii_lowercase();
    let ms = if let Some(ms) = v.strip_suffix("ms") {
        ms.trim().parse::<f32>().ok()
    } else if let Some(s) = v.strip_suffix('s') {
        s.trim().parse::<f32>().ok().map(|s| s * 1000.0)
    } else {
        None
    };
    ms.filter(|m| m.is_finite() && *m >= 0.0).map(|m| m as u32).ok_or_else(|| invalid("break time", value))
}

fn strength_ms(value: &str) -> Result<u32, SsmlError> {
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "none" => 0,
        "x-weak" => 250,
        "weak" => 500,
        "medium" => 750,
        "strong" => 1000,
        "x-strong" => 1250,
        _ => return Err(invalid("break strength", value)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOE: &str = "en-US-JoeNeural";

    #[test]
    fn voices_prosody_and_breaks() {
        let ssml = r#"<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">
            <voice name="en-US-JoeNeural">Hello <prosody rate="+50%" volume="50">there</prosody><break time="300ms"/>friend &amp; co.</voice>
            <voice name="de-DE-Espeak"><lang xml:lang="de-DE">Guten Tag</lang></voice></speak>"#;
        let doc = parse(ssml, JOE).expect("parse");
        assert_eq!(doc.blocks.len(), 2);
        let items = &doc.blocks[0].items;
        assert!(matches!(&items[0], Item::Text { text, .. } if text.trim() == "Hello"));
        assert!(
            matches!(&items[1], Item::Text { text, prosody, .. } if text == "there" && prosody.rate == 1.5 && prosody.volume == 0.5)
        );
        assert_eq!(items[2], Item::Break { ms: 300 });
        assert!(matches!(&items[3], Item::Text { text, .. } if text == "friend & co."));
        assert_eq!(doc.blocks[1].voice, "de-DE-Espeak");
        assert!(matches!(&doc.blocks[1].items[0], Item::Text { lang, .. } if lang == "de-DE"));
    }

    #[test]
    fn phoneme_sub_and_say_as() {
        let ssml = r#"<speak xml:lang="en-US"><voice name="x">I say <phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato</phoneme>,
            <sub alias="World Wide Web">WWW</sub>, <say-as interpret-as="ordinal">3</say-as> and
            <say-as interpret-as="date" format="mdy">12/25/2024</say-as>.</voice></speak>"#;
        let doc = parse(ssml, JOE).expect("parse");
        let items = &doc.blocks[0].items;
        assert!(items.iter().any(|i| matches!(i, Item::Phonemes { ipa, .. } if ipa == "təˈmeɪtoʊ")));
        let text: String = items
            .iter()
            .filter_map(|i| match i {
                Item::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(text.contains("World Wide Web"), "{text}");
        assert!(!text.contains("WWW"), "{text}");
        assert!(text.contains("3rd"), "{text}");
        assert!(text.contains("December 25th, 2024"), "{text}");
    }

    #[test]
    fn bad_documents_are_refused() {
        assert_eq!(parse("hello", JOE), Err(SsmlError::NoSpeak));
        assert!(matches!(parse("<speak><voice>unclosed</speak>", JOE), Err(SsmlError::Xml(_))));
        assert!(matches!(parse(r#"<speak><prosody rate="warp">x</prosody></speak>"#, JOE), Err(SsmlError::Invalid(_))));
        assert_eq!(parse_pitch("+12st"), Ok(2.0));
        assert_eq!(parse_time_ms("1.5s"), Ok(1500));
    }
}
