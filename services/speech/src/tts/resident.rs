//! eSpeak NG phonemizer processes that stay running: one `espeak-ng --ipa` per voice (and tie
//! setting), fed one clause per line, instead of a new process per request (about 20 ms of
//! start-up and dictionary loading each time, measured here).
//!
//! eSpeak reads standard input line by line and flushes after each line, printing one line per
//! clause it finds (none for a line of punctuation, more when a line holds several clauses or
//! passes its 1,000-byte line buffer). So the output of a call is framed by a sentinel: after the
//! clauses comes a line with a random 12-digit number chosen when the process starts, and the
//! call's output is every line before that number's IPA (learned at start). The number is secret
//! to the process, so no input can imitate the frame and shift one request's phonemes into the
//! next. Anything unexpected (a timeout, a dead process, a frame that does not come) kills the
//! process; the caller then runs eSpeak the old way, and the next call starts a new one.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// At most this many bytes of clauses per call go through a resident process: below a pipe's
/// capacity, so writing can never block on an eSpeak that stopped reading. Larger inputs take a
/// process of their own.
pub const MAX_INPUT_BYTES: usize = 32 * 1024;
/// How long one call may wait for its output.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a new process may take to answer its first line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Processes kept (voices x tie settings); past it the whole set is restarted.
const MAX_PROCESSES: usize = 16;

/// The resident processes, keyed by their arguments.
#[derive(Debug, Clone, Default)]
pub struct Residents {
    processes: Arc<Mutex<HashMap<Vec<String>, Resident>>>,
}

impl Residents {
    /// eSpeak's non-empty lines for `text` (clauses, one per line), from the resident process
    /// for `args`, started when missing. `None` when this path cannot answer (input too large,
    /// the process failed): the caller then runs eSpeak on its own.
    pub fn lines(&self, program: &Path, args: &[&str], text: &str) -> Option<Vec<String>> {
        if text.len() >= MAX_INPUT_BYTES {
            return None;
        }
        let mut processes = self.processes.lock().ok()?;
        let key: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
        if !processes.contains_key(&key) {
            if processes.len() >= MAX_PROCESSES {
                processes.clear();
            }
            match Resident::start(program, args) {
                Ok(resident) => {
                    processes.insert(key.clone(), resident);
                }
                Err(err) => {
                    tracing::warn!(%err, "could not start a resident espeak-ng; running one per call");
                    return None;
                }
            }
        }
        let resident = processes.get_mut(&key)?;
        match resident.ask(text) {
            Ok(lines) => Some(lines),
            Err(err) => {
                tracing::warn!(%err, "resident espeak-ng failed; restarting it on the next call");
                processes.remove(&key);
                None
            }
        }
    }
}

/// One running `espeak-ng` and the lines its reader thread has collected.
#[derive(Debug)]
struct Resident {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// The text of the frame line and eSpeak's line for it.
    sentinel: String,
    sentinel_ipa: String,
}

impl Resident {
    fn start(program: &Path, args: &[&str]) -> Result<Self, String> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("no pipes".into());
        };
        let (tx, rx) = mpsc::channel();
        // The reader ends when eSpeak closes its output (it exited or was killed).
        std::thread::Builder::new()
            .name("espeak-reader".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let line = line.trim().to_string();
                    if !line.is_empty() && tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| format!("reader thread: {e}"))?;
        let mut resident = Self { child, stdin, lines: rx, sentinel: random_sentinel(), sentinel_ipa: String::new() };
        // The sentinel twice: it must come back as the same single line twice.
        let frame = format!("{0}\n{0}\n", resident.sentinel);
        resident.stdin.write_all(frame.as_bytes()).and_then(|()| resident.stdin.flush()).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + START_TIMEOUT;
        let first = resident.next_line(deadline)?;
        let second = resident.next_line(deadline)?;
        if first != second {
            return Err(format!("the frame line does not come back as one line ({first:?}, {second:?})"));
        }
        resident.sentinel_ipa = first;
        Ok(resident)
    }

    fn next_line(&self, deadline: Instant) -> Result<String, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(left).map_err(|e| match e {
            RecvTimeoutError::Timeout => "timed out".to_string(),
            RecvTimeoutError::Disconnected => "the process ended".to_string(),
        })
    }

    /// The lines eSpeak prints for `text`, up to the frame.
    fn ask(&mut self, text: &str) -> Result<Vec<String>, String> {
        let input = format!("{text}\n{}\n", self.sentinel);
        self.stdin.write_all(input.as_bytes()).and_then(|()| self.stdin.flush()).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        let mut out = Vec::new();
        loop {
            let line = self.next_line(deadline)?;
            if line == self.sentinel_ipa {
                return Ok(out);
            }
            out.push(line);
        }
    }
}

impl Drop for Resident {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 12-digit number no client can predict (std's per-process random hash keys).
fn random_sentinel() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default());
    hasher.write_u32(std::process::id());
    let n = 100_000_000_000 + hasher.finish() % 900_000_000_000;
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> &'static Path {
        Path::new("espeak-ng")
    }

    #[test]
    fn sentinels_are_twelve_digits_and_differ() {
        let (a, b) = (random_sentinel(), random_sentinel());
        assert_eq!(a.len(), 12, "{a}");
        assert!(a.chars().all(|c| c.is_ascii_digit()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_resident_process_answers_call_after_call_as_one_process_per_call_does() {
        let residents = Residents::default();
        let args = ["-q", "--ipa", "-v", "en-us"];
        let first = residents.lines(program(), &args, "hello world\ngood morning");
        let first = first.expect("resident answer");
        assert_eq!(first.len(), 2, "{first:?}");
        assert!(first[0].contains("wˈɜːld"), "{first:?}");
        // A line eSpeak prints nothing for, a line it splits in two, then a normal call again:
        // the frame keeps every call's lines to itself.
        let odd = residents.lines(program(), &args, "...\none, two");
        assert!(odd.is_some());
        let again = residents.lines(program(), &args, "good morning").expect("answer");
        assert_eq!(again, vec![first[1].clone()]);
        assert_eq!(residents.processes.lock().map(|p| p.len()).unwrap_or_default(), 1);
    }

    #[test]
    fn too_much_input_is_left_to_a_process_of_its_own() {
        let residents = Residents::default();
        let big = vec!["word ".repeat(2_000); 4].join("\n");
        assert!(residents.lines(program(), &["-q", "--ipa", "-v", "en-us"], &big).is_none());
    }

    #[test]
    fn a_program_that_cannot_start_gives_no_answer() {
        let residents = Residents::default();
        assert!(residents.lines(Path::new("/nonexistent/espeak-ng"), &["-q"], "hi").is_none());
    }
}
