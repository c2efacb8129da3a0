//! Running a command as an isolated child: in its own process group, under a time limit,
//! with its output streamed, and with whatever it leaves behind found and killed.
//!
//! `demos all` runs every scenario this way, so that a scenario that crashes, hangs or
//! leaves a process running fails alone, and the next one starts on a clean slate.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::DemoError;

/// The exit status by which a scenario says it was skipped, not failed (the convention of
/// automake's test harness): it could not run here, and its last line says why.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use mp_demos::{Isolated, SKIPPED_STATUS};
///
/// let mut command = Command::new("sh");
/// command.args(["-c", &format!("echo 'demo: skipped: no server here'; exit {SKIPPED_STATUS}")]);
/// let report = Isolated::new(Duration::from_secs(30)).quiet().run(command).unwrap();
/// assert!(!report.passed() && report.failure().is_none());
/// assert_eq!(report.skipped().as_deref(), Some("no server here"));
/// ```
pub const SKIPPED_STATUS: u8 = 77;

/// What precedes the reason on the line a skipped scenario prints last.
const SKIPPED_MARK: &str = ": skipped: ";

/// How often the child and its group are looked at while waiting.
const POLL: Duration = Duration::from_millis(5);
/// How many of the child's last output lines a report keeps.
const TAIL_LINES: usize = 20;
/// How long to wait for a killed group to be gone, and for the output to close.
const AFTER_KILL: Duration = Duration::from_secs(2);

/// Runs commands as isolated children: see [`Isolated::run`].
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use mp_demos::Isolated;
///
/// let mut command = Command::new("sh");
/// command.args(["-c", "echo checked; exit 3"]);
/// let report = Isolated::new(Duration::from_secs(30)).quiet().run(command).unwrap();
/// assert!(!report.passed());
/// assert_eq!(report.tail, ["checked"]);
/// assert_eq!(report.failure().unwrap(), "exited with status 3 (last output: checked)");
/// ```
#[derive(Clone, Debug)]
pub struct Isolated {
    time_limit: Duration,
    linger: Duration,
    prefix: String,
    forward: bool,
}

/// How an isolated child ended.
///
/// ```
/// use mp_demos::ChildEnd;
///
/// assert_eq!(ChildEnd::Exited(0).to_string(), "exited with status 0");
/// assert_eq!(ChildEnd::Signalled(11).to_string(), "killed by SIGSEGV");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildEnd {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it (not the time limit).
    Signalled(i32),
    /// It was still running at the time limit, and was killed with its group.
    TimedOut(Duration),
}

/// What happened to an isolated child.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
///
/// let report = mp_demos::Isolated::new(Duration::from_secs(30)).quiet().run(Command::new("true")).unwrap();
/// assert!(report.passed() && report.failure().is_none());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChildReport {
    /// How the child ended.
    pub end: ChildEnd,
    /// From its start to its end.
    pub elapsed: Duration,
    /// Processes of its group were still running after it ended (they were killed).
    pub left_behind: bool,
    /// The last lines it wrote to stdout and stderr, oldest first.
    pub tail: Vec<String>,
}

impl Isolated {
    /// Children get `time_limit` before they are killed; their output is forwarded to this
    /// process's stdout, each line indented.
    ///
    /// ```
    /// let runner = mp_demos::Isolated::new(std::time::Duration::from_secs(120));
    /// ```
    pub fn new(time_limit: Duration) -> Self {
        Self {
            time_limit,
            linger: Duration::from_secs(1),
            prefix: "    ".to_owned(),
            forward: true,
        }
    }

    /// Forwards each line of the child's output after `prefix` (default: four spaces).
    ///
    /// ```
    /// let runner = mp_demos::Isolated::new(std::time::Duration::from_secs(5)).prefix("[child] ");
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Forwards nothing; the report still has the [tail](ChildReport::tail) of the output.
    ///
    /// ```
    /// let runner = mp_demos::Isolated::new(std::time::Duration::from_secs(5)).quiet();
    /// ```
    pub fn quiet(mut self) -> Self {
        self.forward = false;
        self
    }

    /// How long processes of the child's group may outlive it (daemonic children dying
    /// with their parent, say) before they count as left behind (default: 1 s).
    ///
    /// ```
    /// let runner = mp_demos::Isolated::new(std::time::Duration::from_secs(5))
    ///     .linger(std::time::Duration::from_millis(200));
    /// ```
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Runs `command` to its end and reports how it went.
    ///
    /// The child gets its own process group, `/dev/null` for stdin, and one pipe for stdout
    /// and stderr, read line by line. It is killed (`SIGKILL`) if this thread dies, and with
    /// its whole group at the time limit. When it has ended, processes still in its group
    /// after the [linger](Isolated::linger) time are killed and reported as left behind.
    /// To reap them even when their parent has gone, this process becomes a child
    /// subreaper (`PR_SET_CHILD_SUBREAPER`) on the first call.
    ///
    /// Errors: the command could not be started, or waiting on it failed.
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use mp_demos::{ChildEnd, Isolated};
    ///
    /// let mut sleeper = Command::new("sleep");
    /// sleeper.arg("30");
    /// let report = Isolated::new(Duration::from_millis(100)).quiet().run(sleeper).unwrap();
    /// assert_eq!(report.end, ChildEnd::TimedOut(Duration::from_millis(100)));
    ///
    /// let mut leaver = Command::new("sh");
    /// leaver.args(["-c", "sleep 30 & echo started"]);
    /// let report = Isolated::new(Duration::from_secs(30))
    ///     .quiet()
    ///     .linger(Duration::from_millis(100))
    ///     .run(leaver)
    ///     .unwrap();
    /// assert!(report.left_behind && !report.passed());
    /// ```
    pub fn run(&self, mut command: Command) -> Result<ChildReport, DemoError> {
        if let Err(err) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::debug!(%err, "cannot become a child subreaper; orphans go to init");
        }
        let program = command.get_program().to_string_lossy().into_owned();
        let (reader, writer) =
            std::io::pipe().map_err(|e| DemoError::io("creating the output pipe", e))?;
        let writer_for_stderr = writer
            .try_clone()
            .map_err(|e| DemoError::io("creating the output pipe", e))?;
        command
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(writer_for_stderr)
            .process_group(0);
        die_with_parent(&mut command);

        let started = Instant::now();
        let spawned = command.spawn();
        // The command holds this process's ends of the pipe's write side: drop them, or the
        // output would never reach its end.
        drop(command);
        let mut child = spawned.map_err(|e| DemoError::io(format!("starting {program}"), e))?;
        let group = Pid::from_raw(child.id() as i32);
        tracing::debug!(pid = child.id(), %program, "isolated child started");

        let (prefix, forward) = (self.prefix.clone(), self.forward);
        let output = std::thread::Builder::new()
            .name("child-output".into())
            .spawn(move || read_output(reader, &prefix, forward));
        let output = match output {
            Ok(output) => output,
            Err(e) => {
                kill_and_reap_group(group);
                let _ = child.wait();
                return Err(DemoError::io("starting the output reader", e));
            }
        };

        let deadline = started
            .checked_add(self.time_limit)
            .map_or(mp::sys::Deadline::NEVER, mp::sys::Deadline::at);
        let end = loop {
            match child.try_wait() {
                Ok(Some(status)) => break end_of(status),
                Ok(None) if deadline.has_passed() => {
                    tracing::debug!(pid = child.id(), "time limit reached: killing the group");
                    let _ = killpg(group, Signal::SIGKILL);
                    let _ = child.wait();
                    break ChildEnd::TimedOut(self.time_limit);
                }
                Ok(None) => std::thread::sleep(POLL),
                Err(e) => {
                    kill_and_reap_group(group);
                    let _ = child.wait();
                    return Err(DemoError::io(format!("waiting for {program}"), e));
                }
            }
        };
        let elapsed = started.elapsed();
        tracing::debug!(pid = child.id(), ?end, ?elapsed, "isolated child ended");

        let left_behind = !group_settles(group, self.linger);
        if left_behind {
            tracing::debug!(pid = child.id(), "processes left behind: killing them");
            kill_and_reap_group(group);
        }
        Ok(ChildReport {
            end,
            elapsed,
            left_behind,
            tail: collect_output(output),
        })
    }
}

impl ChildReport {
    /// It exited with status 0 and left nothing behind.
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    ///
    /// let report = mp_demos::Isolated::new(Duration::from_secs(30)).quiet().run(Command::new("false")).unwrap();
    /// assert!(!report.passed());
    /// ```
    pub fn passed(&self) -> bool {
        self.end == ChildEnd::Exited(0) && !self.left_behind
    }

    /// Why it was skipped, if it was: it exited with [`SKIPPED_STATUS`] and left nothing
    /// behind. The reason is what follows `: skipped: ` on its last line that has it (the
    /// `demos` binary prints `NAME: skipped: WHY`), else its last line.
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    ///
    /// let report = mp_demos::Isolated::new(Duration::from_secs(30)).quiet().run(Command::new("true")).unwrap();
    /// assert_eq!(report.skipped(), None);
    /// ```
    pub fn skipped(&self) -> Option<String> {
        if self.end != ChildEnd::Exited(i32::from(SKIPPED_STATUS)) || self.left_behind {
            return None;
        }
        let marked = self
            .tail
            .iter()
            .rev()
            .find_map(|line| line.split_once(SKIPPED_MARK).map(|(_, why)| why.to_owned()));
        let last = || {
            self.tail
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .cloned()
        };
        Some(
            marked
                .or_else(last)
                .unwrap_or_else(|| "it said it cannot run here".to_owned()),
        )
    }

    /// Why it did not pass, in one line; `None` if it passed or was
    /// [skipped](Self::skipped).
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    ///
    /// let mut command = Command::new("sh");
    /// command.args(["-c", "echo 'error: balance is 3, expected 0' >&2; exit 1"]);
    /// let report = mp_demos::Isolated::new(Duration::from_secs(30)).quiet().run(command).unwrap();
    /// assert_eq!(report.failure().unwrap(), "error: balance is 3, expected 0");
    /// ```
    pub fn failure(&self) -> Option<String> {
        let mut reasons = Vec::new();
        match self.end {
            ChildEnd::Exited(0) => {}
            ChildEnd::Exited(status)
                if status == i32::from(SKIPPED_STATUS) && !self.left_behind => {}
            ChildEnd::Exited(status) => {
                // A failing scenario says why on its last `error:` line; anything else gets
                // the status, with the last line for context.
                let error_line = self.tail.iter().rev().find(|l| l.starts_with("error"));
                match (
                    error_line,
                    self.tail.iter().rev().find(|l| !l.trim().is_empty()),
                ) {
                    (Some(line), _) => reasons.push(line.clone()),
                    (None, Some(last)) => {
                        reasons.push(format!("exited with status {status} (last output: {last})"))
                    }
                    (None, None) => reasons.push(self.end.to_string()),
                }
            }
            ChildEnd::Signalled(_) | ChildEnd::TimedOut(_) => reasons.push(self.end.to_string()),
        }
        if self.left_behind {
            reasons.push("left processes running after it ended (killed)".to_owned());
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

impl std::fmt::Display for ChildEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ChildEnd::Exited(status) => write!(f, "exited with status {status}"),
            ChildEnd::Signalled(signal) => match Signal::try_from(signal) {
                Ok(signal) => write!(f, "killed by {}", signal.as_str()),
                Err(_) => write!(f, "killed by signal {signal}"),
            },
            ChildEnd::TimedOut(limit) => write!(
                f,
                "still running at its time limit of {}: killed",
                crate::format_duration(limit)
            ),
        }
    }
}

fn end_of(status: ExitStatus) -> ChildEnd {
    match (status.code(), status.signal()) {
        (Some(code), _) => ChildEnd::Exited(code),
        (None, Some(signal)) => ChildEnd::Signalled(signal),
        // Neither a status nor a signal: only stopped or continued children, which
        // `try_wait` does not report; count it as a failure all the same.
        (None, None) => ChildEnd::Exited(-1),
    }
}

/// Reads the child's output line by line, forwarding it, and returns its last lines.
fn read_output(reader: std::io::PipeReader, prefix: &str, forward: bool) -> Vec<String> {
    let mut reader = BufReader::new(reader);
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if forward {
            // A closed stdout (`demos all | head`) must not stop the reading: the child
            // would block on a full pipe.
            let _ = writeln!(std::io::stdout().lock(), "{prefix}{text}");
        }
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(text.to_owned());
    }
    tail.into()
}

/// The output reader's lines, once every writer has closed the pipe. A process outside the
/// child's group could still hold it open: then the reader is left to finish on its own.
fn collect_output(output: JoinHandle<Vec<String>>) -> Vec<String> {
    let deadline = Instant::now() + AFTER_KILL;
    while !output.is_finished() {
        if Instant::now() >= deadline {
            return vec![
                "(output still open: a process outside the child's group holds it)".into(),
            ];
        }
        std::thread::sleep(POLL);
    }
    output
        .join()
        .unwrap_or_else(|_| vec!["(the output reader panicked)".to_owned()])
}

/// Waits up to `linger` for the group to empty, reaping what reaches this process;
/// `false` if processes remain.
fn group_settles(group: Pid, linger: Duration) -> bool {
    let deadline = mp::sys::Deadline::after(linger);
    loop {
        reap_group(group);
        if group_is_empty(group) {
            return true;
        }
        if deadline.has_passed() {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

fn kill_and_reap_group(group: Pid) {
    let _ = killpg(group, Signal::SIGKILL);
    let deadline = Instant::now() + AFTER_KILL;
    while Instant::now() < deadline {
        reap_group(group);
        if group_is_empty(group) {
            return;
        }
        std::thread::sleep(POLL);
    }
    tracing::warn!(
        group = group.as_raw(),
        "processes of a killed group are still there"
    );
}

/// Reaps every ended child of this process in `group` (orphans reach this process because
/// it is a subreaper).
fn reap_group(group: Pid) {
    let any_in_group = Pid::from_raw(-group.as_raw());
    while let Ok(status) = waitpid(any_in_group, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

fn group_is_empty(group: Pid) -> bool {
    killpg(group, None) == Err(Errno::ESRCH)
}

/// Asks the kernel to kill the started program when this thread ends, so that nothing
/// outlives a scenario killed outright.
pub(crate) fn die_with_parent(command: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: `pre_exec` runs the closure in the forked child before `exec`, where only
    // async-signal-safe work is allowed. It makes two system calls (prctl, getppid) and
    // builds its error from a raw errno: it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The parent may have died before the death signal was armed.
            if nix::unistd::getppid() != parent {
                return Err(Errno::ESRCH.into());
            }
            Ok(())
        });
    }
}
