//! The greedy BILUO transition system of spaCy's entity recognizer: the action list (read from
//! the pipeline's `ner/moves`), which actions a state allows, and the left-to-right decode.

use serde_json::Value as Json;

use super::NerError;
use super::msgpack_file::{self, get, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Move {
    Begin,
    In,
    Last,
    Unit,
    Out,
}

impl Move {
    /// spaCy's move numbering in the moves file (0 is "missing", never predicted).
    fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            1 => Self::Begin,
            2 => Self::In,
            3 => Self::Last,
            4 => Self::Unit,
            5 => Self::Out,
            _ => return None,
        })
    }
}

/// One output class of the network: a move and its entity label (0 = no label).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Action {
    pub mv: Move,
    pub label: usize,
}

/// The actions in the network's output order, and the label names (index 0 is the empty label).
#[derive(Debug)]
pub(crate) struct Actions {
    pub actions: Vec<Action>,
    pub labels: Vec<String>,
}

impl Actions {
    /// Builds the action list as spaCy does on load: moves in key order, each move's labels by
    /// descending training frequency (ties by descending name); "missing" and labelled "out"
    /// moves are not actions.
    pub fn from_moves_file(bytes: &[u8]) -> Result<Self, NerError> {
        let root = msgpack_file::parse(bytes, "ner/moves")?;
        let json =
            get(&root, "moves").and_then(text).ok_or_else(|| NerError::Format("ner/moves has no moves".into()))?;
        let moves: serde_json::Map<String, Json> =
            serde_json::from_str(json).map_err(|e| NerError::Format(format!("ner/moves: {e}")))?;
        let mut keys: Vec<&String> = moves.keys().collect();
        keys.sort();
        let mut labels = vec![String::new()];
        let mut actions = Vec::new();
        for key in keys {
            let code: u32 = key.parse().map_err(|_| NerError::Format(format!("ner/moves: move {key:?}")))?;
            let Some(mv) = Move::from_code(code) else { continue };
            let mut by_freq: Vec<(i64, &str)> = moves[key]
                .as_object()
                .map(|m| m.iter().map(|(label, f)| (f.as_i64().unwrap_or(0), label.as_str())).collect())
                .unwrap_or_default();
            by_freq.sort();
            by_freq.reverse();
            // Labels added after training carry negative frequencies and come after the others.
            let (known, added): (Vec<_>, Vec<_>) = by_freq.into_iter().partition(|(f, _)| *f >= 0);
            for (_, name) in known.into_iter().chain(added) {
                if mv == Move::Out && !name.is_empty() {
                    continue;
                }
                let label = match labels.iter().position(|l| l == name) {
                    Some(i) => i,
                    None => {
                        labels.push(name.to_string());
                        labels.len() - 1
                    }
                };
                actions.push(Action { mv, label });
            }
        }
        Ok(Self { actions, labels })
    }
}

/// What the decoder knows of each token besides the network's scores.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokenFlags {
    pub is_space: bool,
    /// The token starts a sentence (an entity may not run into it).
    pub sent_start: bool,
}

/// A decoded entity: tokens `start..end`, its label index and the probability of its least
/// certain step (softmax over the actions valid at that step).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenSpan {
    pub start: usize,
    pub end: usize,
    pub label: usize,
    pub confidence: f32,
}

struct State<'a> {
    flags: &'a [TokenFlags],
    b: usize,
    /// The open entity: first token, label, least step probability so far.
    open: Option<(usize, usize, f32)>,
}

impl State<'_> {
    fn is_valid(&self, action: Action) -> bool {
        let n = self.flags.len();
        let next_starts_sentence = self.b + 1 < n && self.flags[self.b + 1].sent_start;
        let here_space = self.flags[self.b].is_space;
        match action.mv {
            Move::Begin => {
                self.open.is_none() && n - self.b >= 2 && action.label != 0 && !next_starts_sentence && !here_space
            }
            Move::In => match self.open {
                Some((_, label, _)) => {
                    n - self.b >= 2 && action.label != 0 && label == action.label && !next_starts_sentence
                }
                None => false,
            },
            Move::Last => matches!(self.open, Some((_, label, _)) if action.label != 0 && label == action.label),
            Move::Unit => action.label != 0 && self.open.is_none() && !here_space,
            Move::Out => self.open.is_none(),
        }
    }

    /// The network's three context tokens: the next token, the open entity's first token and the
    /// token before the next one while inside an entity (-1 where there is none).
    fn context(&self) -> [i64; 3] {
        match self.open {
            Some((start, _, _)) => [self.b as i64, start as i64, self.b as i64 - 1],
            None => [self.b as i64, -1, -1],
        }
    }
}

/// Runs the greedy decode: at each token the highest-scoring valid action. `score` fills the
/// scores of every action for the given context tokens.
pub(crate) fn decode(
    actions: &[Action],
    flags: &[TokenFlags],
    mut score: impl FnMut([i64; 3], &mut [f32]),
) -> Vec<TokenSpan> {
    let mut state = State { flags, b: 0, open: None };
    let mut scores = vec![0f32; actions.len()];
    let mut valid = vec![false; actions.len()];
    let mut spans = Vec::new();
    while state.b < flags.len() {
        score(state.context(), &mut scores);
        for (ok, &a) in valid.iter_mut().zip(actions) {
            *ok = state.is_valid(a);
        }
        let mut best: Option<usize> = None;
        for (i, &ok) in valid.iter().enumerate() {
            if ok && best.is_none_or(|b| scores[i] > scores[b]) {
                best = Some(i);
            }
        }
        let Some(best) = best else { break };
        let top = scores[best];
        let total: f32 = valid.iter().zip(&scores).filter(|(ok, _)| **ok).map(|(_, s)| (s - top).exp()).sum();
        let probability = 1.0 / total;
        let action = actions[best];
        match action.mv {
            Move::Begin => state.open = Some((state.b, action.label, probability)),
            Move::In => {
                if let Some(open) = state.open.as_mut() {
                    open.2 = open.2.min(probability);
                }
            }
            Move::Last => {
                if let Some((start, label, p)) = state.open.take() {
                    spans.push(TokenSpan { start, end: state.b + 1, label, confidence: p.min(probability) });
                }
            }
            Move::Unit => {
                spans.push(TokenSpan { start: state.b, end: state.b + 1, label: action.label, confidence: probability })
            }
            Move::Out => {}
        }
        state.b += 1;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions() -> Vec<Action> {
        // B-A, I-A, L-A, U-A, O with label 1 = "A".
        [Move::Begin, Move::In, Move::Last, Move::Unit]
            .into_iter()
            .map(|mv| Action { mv, label: 1 })
            .chain([Action { mv: Move::Out, label: 0 }])
            .collect()
    }

    #[test]
    fn invalid_actions_are_never_taken_even_when_they_score_highest() {
        let flags = vec![TokenFlags::default(); 3];
        // The scorer always prefers "In", which is only valid inside an entity; then Begin.
        let spans = decode(&actions(), &flags, |_, s| s.copy_from_slice(&[5.0, 9.0, 1.0, 0.0, 2.0]));
        // Begin at 0, In at 1, and at the last token In is invalid and Last closes the entity.
        assert_eq!(spans.len(), 1);
        assert_eq!((spans[0].start, spans[0].end), (0, 3));
    }

    #[test]
    fn an_entity_never_crosses_a_sentence_start() {
        let mut flags = vec![TokenFlags::default(); 3];
        flags[1].sent_start = true;
        let spans = decode(&actions(), &flags, |_, s| s.copy_from_slice(&[5.0, 9.0, 1.0, 0.0, 2.0]));
        // Begin is invalid at 0 (the next token starts a sentence): Out (2.0) beats Unit (0.0).
        assert!(spans.iter().all(|s| s.start >= 1), "{spans:?}");
    }
}
