//! One running Apertium pipeline: the direction's programs chained by pipes, started once and fed
//! null-terminated inputs, so a translation costs milliseconds instead of 0.15-0.4 s of process
//! start-up per call.
//!
//! A pipeline lives on a worker thread (`cogway_core::Worker`); a batch of inputs is written by a
//! helper thread while the worker reads the outputs, so a batch larger than the pipe buffers
//! cannot deadlock. A reader thread splits stdout on the nulls. If an output does not come within
//! the timeout or a program dies, every program is killed and the pipeline is started again for
//! the next batch.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cogway_core::{BatchModel, Code, ServiceError};

use super::modes::{Direction, programs};
use super::stream;
use crate::pieces::Segment;

struct Running {
    children: Vec<Child>,
    stdin: ChildStdin,
    outputs: mpsc::Receiver<std::io::Result<String>>,
}

impl Running {
    fn start(programs: &[Vec<String>]) -> std::io::Result<Self> {
        let mut children: Vec<Child> = Vec::with_capacity(programs.len());
        let mut previous: Option<std::process::ChildStdout> = None;
        let mut first_stdin = None;
        for argv in programs {
            let mut command = Command::new(&argv[0]);
            command.args(&argv[1..]).stdout(Stdio::piped()).stderr(Stdio::null());
            match previous.take() {
                Some(out) => {
                    command.stdin(Stdio::from(out));
                }
                None => {
                    command.stdin(Stdio::piped());
                }
            }
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    kill_all(&mut children);
                    return Err(std::io::Error::new(e.kind(), format!("{}: {e}", argv[0])));
                }
            };
            if first_stdin.is_none() {
                first_stdin = child.stdin.take();
            }
            previous = child.stdout.take();
            children.push(child);
        }
        let (Some(stdin), Some(stdout)) = (first_stdin, previous) else {
            kill_all(&mut children);
            return Err(std::io::Error::other("pipeline without stdin or stdout"));
        };
        let (tx, outputs) = mpsc::channel();
        std::thread::Builder::new().name("apertium-reader".into()).spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                match reader.read_until(0, &mut buf) {
                    Ok(0) => break,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        if tx.send(Ok(text)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        })?;
        Ok(Self { children, stdin, outputs })
    }

    fn kill(&mut self) {
        kill_all(&mut self.children);
    }
}

fn kill_all(children: &mut [Child]) {
    for child in children.iter_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A direction's pipeline on its worker thread.
pub struct Pipeline {
    direction: Direction,
    programs: Vec<Vec<String>>,
    running: Option<Running>,
    /// Time allowed per input character on top of a fixed second.
    timeout_per_char: Duration,
}

impl Pipeline {
    /// Reads the direction's mode and starts its programs.
    pub fn start(direction: Direction) -> Result<Self, String> {
        let programs = programs(&direction)?;
        let running = Running::start(&programs).map_err(|e| format!("{}: {e}", direction.mode))?;
        Ok(Self { direction, programs, running: Some(running), timeout_per_char: Duration::from_micros(200) })
    }

    /// A pipeline of the given programs (tests use plain Unix programs in place of Apertium's).
    #[cfg(test)]
    fn from_programs(programs: Vec<Vec<String>>, timeout_per_char: Duration) -> Result<Self, String> {
        let direction = Direction {
            from: "xx".into(),
            to: "yy".into(),
            mode: "test".into(),
            path: std::path::PathBuf::from("/dev/null"),
        };
        let running = Running::start(&programs).map_err(|e| e.to_string())?;
        Ok(Self { direction, programs, running: Some(running), timeout_per_char })
    }

    fn ensure_running(&mut self) -> Result<&mut Running, ServiceError> {
        if self.running.is_none() {
            tracing::warn!(mode = %self.direction.mode, "restarting an Apertium pipeline");
            let running = Running::start(&self.programs)
                .map_err(|e| ServiceError::internal(format!("apertium {}: {e}", self.direction.mode)))?;
            self.running = Some(running);
        }
        self.running.as_mut().ok_or_else(|| ServiceError::internal("apertium pipeline not running"))
    }

    fn translate_all(&mut self, inputs: &[String]) -> Result<Vec<String>, ServiceError> {
        let budget = Duration::from_secs(2)
            + self.timeout_per_char * u32::try_from(inputs.iter().map(String::len).sum::<usize>()).unwrap_or(u32::MAX);
        let mode = self.direction.mode.clone();
        let running = self.ensure_running()?;
        let deadline = Instant::now() + budget;
        let outcome = std::thread::scope(|scope| {
            let stdin = &mut running.stdin;
            let writer = scope.spawn(move || -> std::io::Result<()> {
                for input in inputs {
                    stdin.write_all(input.as_bytes())?;
                    stdin.write_all(b"\0")?;
                }
                stdin.flush()
            });
            let mut outputs = Vec::with_capacity(inputs.len());
            let mut failure = None;
            while outputs.len() < inputs.len() {
                let left = deadline.saturating_duration_since(Instant::now());
                match running.outputs.recv_timeout(left) {
                    Ok(Ok(text)) => outputs.push(text),
                    Ok(Err(e)) => {
                        failure = Some(format!("read: {e}"));
                        break;
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        failure = Some(format!("no output within {} ms", budget.as_millis()));
                        break;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        failure = Some("the pipeline exited".into());
                        break;
                    }
                }
            }
            if failure.is_some() {
                // Unblocks a writer stuck on a full pipe.
                kill_all(&mut running.children);
            }
            let written = writer.join();
            match (failure, written) {
                (Some(f), _) => Err(f),
                (None, Ok(Ok(()))) => Ok(outputs),
                (None, Ok(Err(e))) => Err(format!("write: {e}")),
                (None, Err(_)) => Err("writer thread panicked".into()),
            }
        });
        outcome.map_err(|reason| {
            self.running = None;
            tracing::error!(%mode, %reason, "Apertium pipeline failed; it restarts on the next request");
            ServiceError::new(Code::Internal, format!("The Apertium pipeline {mode} failed: {reason}."))
        })
    }
}

impl BatchModel for Pipeline {
    /// The segments of one request.
    type Input = Vec<Segment>;
    type Output = Vec<Segment>;

    /// All requests waiting are written in one go; outputs come back in order.
    fn run(&mut self, batch: Vec<Vec<Segment>>) -> Vec<Result<Vec<Segment>, ServiceError>> {
        let inputs: Vec<String> = batch.iter().flatten().map(|s| stream::encode(s)).collect();
        match self.translate_all(&inputs) {
            Ok(outputs) => {
                let mut outputs = outputs.iter().map(|o| stream::decode(o));
                batch.iter().map(|request| Ok(outputs.by_ref().take(request.len()).collect())).collect()
            }
            Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    /// A panic may have left the stream half-written: start the programs afresh.
    fn recover(&mut self) {
        self.running = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pieces::{Piece, render};

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn request(texts: &[&str]) -> Vec<Segment> {
        texts.iter().map(|t| vec![Piece::Text(t.to_string())]).collect()
    }

    #[test]
    fn a_killed_pipeline_fails_once_then_restarts() {
        // `cat` echoes the stream unchanged and flushes as it reads: a stand-in for Apertium.
        let mut pipeline =
            Pipeline::from_programs(vec![argv(&["cat"]), argv(&["cat"])], Duration::from_micros(200)).expect("starts");
        let out = pipeline.run(vec![request(&["one", "two [x]"]), request(&["three"])]);
        let texts: Vec<Vec<String>> =
            out.into_iter().map(|r| r.expect("ok").iter().map(|s| render(s)).collect()).collect();
        assert_eq!(texts, vec![vec!["one".to_string(), "two [x]".to_string()], vec!["three".to_string()]]);
        if let Some(running) = pipeline.running.as_mut() {
            running.kill();
        }
        let failed = pipeline.run(vec![request(&["four"])]);
        assert!(failed[0].is_err(), "{failed:?}");
        let again = pipeline.run(vec![request(&["five"])]);
        assert_eq!(render(&again[0].as_ref().expect("restarted")[0]), "five");
    }

    #[test]
    fn a_silent_pipeline_times_out() {
        let mut pipeline =
            Pipeline::from_programs(vec![argv(&["sleep", "30"])], Duration::from_micros(1)).expect("starts");
        let started = Instant::now();
        let out = pipeline.run(vec![request(&["hello"])]);
        assert!(out[0].as_ref().is_err_and(|e| e.message.contains("no output")), "{out:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(pipeline.running.is_none(), "a failed pipeline is dropped for a restart");
    }
}
