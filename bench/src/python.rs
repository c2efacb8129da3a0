//! Running the Python side: `python3 <script> <case> <iterations>`.
//!
//! Each run is a fresh interpreter, so the rounds stay interleaved with the Rust
//! contenders. The script measures its loop itself with `time.perf_counter` and
//! prints one JSON object, so interpreter start-up and imports are not counted. A case
//! whose modules are not installed (Ray, RQ) says so in that object instead of a time,
//! and becomes [`BenchError::Unavailable`]: a skip.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::BenchError;

/// Longest a single Python run may take before it is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The interpreter and the folder of the scripts, once found usable.
#[derive(Debug, Clone)]
pub struct Python {
    interpreter: PathBuf,
    scripts: PathBuf,
    /// What `python3 --version` said, e.g. `"Python 3.11.7"`.
    pub version: String,
}

/// What a script prints on its last line: the time of its loop, or why the case
/// cannot run here (a module it needs is not installed).
#[derive(Debug, Deserialize)]
struct ScriptOutput {
    case: String,
    iterations: u64,
    #[serde(default)]
    seconds: f64,
    #[serde(default)]
    unavailable: Option<String>,
}

impl Python {
    /// Checks that `interpreter` runs and that `scripts` is a folder; the error says
    /// why not, and becomes what the Python column shows.
    pub fn find(interpreter: &Path, scripts: &Path) -> Result<Self, String> {
        let output = Command::new(interpreter)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{} not available ({e})", interpreter.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{} --version failed ({})",
                interpreter.display(),
                output.status
            ));
        }
        // Python 2 printed its version on stderr; any modern one prints it on stdout.
        let mut version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if version.is_empty() {
            version = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        }
        if !scripts.is_dir() {
            return Err(format!("no Python scripts folder at {}", scripts.display()));
        }
        Ok(Self {
            interpreter: interpreter.to_owned(),
            scripts: scripts.to_owned(),
            version,
        })
    }

    /// Runs `case` of `script` for `iterations` and returns the time the script
    /// measured for its loop.
    pub fn measure(
        &self,
        script: &str,
        case: &str,
        iterations: u64,
    ) -> Result<Duration, BenchError> {
        let path = self.scripts.join(script);
        if !path.is_file() {
            return Err(BenchError::Python(format!(
                "missing script {}",
                path.display()
            )));
        }
        let child = Command::new(&self.interpreter)
            .arg(&path)
            .arg(case)
            .arg(iterations.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| BenchError::Python(format!("could not start Python: {e}")))?;
        let (stdout, stderr) = wait_with_timeout(child, RUN_TIMEOUT)?;
        let last_line = stdout.lines().last().unwrap_or_default();
        let parsed: ScriptOutput = serde_json::from_str(last_line).map_err(|e| {
            BenchError::Python(format!(
                "{script} {case}: unreadable output ({e}): {:?}; stderr: {}",
                last_line,
                stderr.trim()
            ))
        })?;
        if let Some(reason) = parsed.unavailable {
            return Err(BenchError::Unavailable(reason));
        }
        if parsed.case != case || parsed.iterations != iterations {
            return Err(BenchError::Python(format!(
                "{script} answered for case {} x{} instead of {case} x{iterations}",
                parsed.case, parsed.iterations
            )));
        }
        if !parsed.seconds.is_finite() || parsed.seconds < 0.0 {
            return Err(BenchError::Python(format!(
                "{script} {case}: impossible time {}",
                parsed.seconds
            )));
        }
        Ok(Duration::from_secs_f64(parsed.seconds))
    }
}

/// Waits for `child` at most `timeout` (killing it past that) and returns its
/// stdout and stderr; a non-zero exit is an error carrying stderr.
fn wait_with_timeout(mut child: Child, timeout: Duration) -> Result<(String, String), BenchError> {
    // Readers on their own threads, so a chatty script cannot fill a pipe and stall.
    let stdout = child.stdout.take().map(spawn_reader);
    let stderr = child.stderr.take().map(spawn_reader);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                // Kill and reap; errors here mean it already exited, which is fine.
                let _ = child.kill();
                let _ = child.wait();
                return Err(BenchError::Python(format!(
                    "Python run killed after {timeout:?}"
                )));
            }
            Ok(None) => thread::sleep(Duration::from_millis(2)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BenchError::Python(format!("waiting for Python: {e}")));
            }
        }
    };
    let stdout = stdout.map(join_reader).unwrap_or_default();
    let stderr = stderr.map(join_reader).unwrap_or_default();
    if !status.success() {
        return Err(BenchError::Python(format!(
            "Python exited with {status}: {}",
            last_lines(&stderr, 3)
        )));
    }
    Ok((stdout, stderr))
}

fn spawn_reader(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error leaves what was read so far, which the caller then reports.
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join_reader(reader: thread::JoinHandle<String>) -> String {
    reader.join().unwrap_or_default()
}

/// The last `n` non-empty lines of `text`, joined by " | ", for one-line errors.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
