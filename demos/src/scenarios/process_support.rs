//! What the process scenarios share: starting children and reaping every one of them
//! within a bound, a clock that every process of the machine reads alike, the check that
//! sleeping processes really overlapped, the images of the image scenarios, and a small
//! HTTP server that serves them.
//!
//! A child's target returns [`ChildResult`]: a scenario's error cannot cross between
//! processes as it is, so the child hands back a [`ChildFailure`] (`?` makes one of any
//! error of this project's crates) and the parent turns it into a [`DemoError`] that
//! names the child ([`from_child`]).

use std::fmt::Display;
use std::io::{self, Cursor, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::{DynamicImage, GrayImage, ImageFormat, Rgb, RgbImage};
use mp::processes::{Process, ProcessHandle};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::http_support::{SOCKET_LIMIT, listen_on_loopback, read_request_head};
use super::support::check_waits_overlapped;
use crate::{ChildFailure, ChildResult, DemoError, format_duration};

/// Far above what any child of these scenarios takes; only a hang gets there.
pub(super) const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// How long a killed child may take to be reaped: a `SIGKILL` ends it at once, so this
/// only bounds a wait that something else went wrong with.
const REAP_LIMIT: Duration = Duration::from_secs(10);

/// A child's [`ChildResult`] as the scenario's result, naming the child.
pub(super) fn from_child<T>(child: &str, result: ChildResult<T>) -> Result<T, DemoError> {
    match result {
        Ok(value) => Ok(value),
        Err(failure) => Err(failure.in_child(child)),
    }
}

/// Started children that are all reaped, whatever happens.
///
/// [`Children::join_all`] joins each child within one shared bound and kills the ones
/// still running after it; dropping the set (an early `?` of the scenario) kills and reaps
/// whatever was not joined. So no child outlives its scenario.
pub(super) struct Children<R: DeserializeOwned> {
    handles: Vec<ProcessHandle<R>>,
}

impl<R: DeserializeOwned + Serialize + 'static> Children<R> {
    /// No children yet.
    pub(super) fn new() -> Self {
        Self {
            handles: Vec::new(),
        }
    }

    /// Starts `process` and keeps its handle.
    pub(super) fn start(&mut self, process: Process<R>) -> Result<&ProcessHandle<R>, DemoError> {
        let handle = process.start()?;
        tracing::debug!(
            name = handle.name(),
            pid = handle.pid(),
            "scenario child started"
        );
        self.handles.push(handle);
        Ok(&self.handles[self.handles.len() - 1])
    }

    /// The children started so far, in order.
    pub(super) fn handles(&self) -> &[ProcessHandle<R>] {
        &self.handles
    }

    /// Joins every child, all within `limit` of this call, and returns each one's outcome
    /// in the order they were started. A child still running at the limit is killed, and
    /// its outcome says so.
    pub(super) fn join_each(mut self, limit: Duration) -> Vec<Result<R, DemoError>> {
        let deadline = Instant::now() + limit;
        std::mem::take(&mut self.handles)
            .into_iter()
            .map(|handle| {
                let left = deadline.saturating_duration_since(Instant::now());
                join_or_kill(&handle, left)
            })
            .collect()
    }

    /// [`Children::join_each`], failing with the first child's failure once all are reaped.
    pub(super) fn join_all(self, limit: Duration) -> Result<Vec<R>, DemoError> {
        self.join_each(limit).into_iter().collect()
    }
}

impl<R: DeserializeOwned> Drop for Children<R> {
    fn drop(&mut self) {
        for handle in self.handles.drain(..) {
            tracing::debug!(
                pid = handle.pid(),
                "killing a scenario child that was not joined"
            );
            if let Err(error) = handle.kill() {
                tracing::warn!(%error, pid = handle.pid(), "could not kill a child");
            }
            if let Err(error) = handle.join_timeout(REAP_LIMIT) {
                tracing::debug!(%error, pid = handle.pid(), "the killed child's outcome");
            }
        }
    }
}

/// Python's `p.join()`, bounded: the child's value; a child still running after `limit`
/// is killed and reaped, and that is the error.
pub(super) fn join_or_kill<R: DeserializeOwned>(
    handle: &ProcessHandle<R>,
    limit: Duration,
) -> Result<R, DemoError> {
    match handle.join_timeout(limit) {
        Ok(value) => Ok(value),
        Err(mp::processes::Error::TimedOut) => {
            // Killed so that it is not left behind; the first error is the one to report.
            let _ = handle.kill();
            let _ = handle.join_timeout(REAP_LIMIT);
            Err(DemoError::other(format!(
                "process {} (pid {}) did not finish within {}: killed",
                handle.name(),
                handle.pid(),
                format_duration(limit)
            )))
        }
        Err(other) => Err(other.into()),
    }
}

/// A reading of `CLOCK_MONOTONIC`, as a duration since an unspecified start.
///
/// Unlike `std::time::Instant`, it can cross between processes: the monotonic clock is
/// one clock for every process of the machine, so moments read in different children can
/// be compared in the parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct Moment(Duration);

impl Moment {
    /// Now.
    pub(super) fn now() -> ChildResult<Self> {
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|now| Self(Duration::from(now)))
            .map_err(|errno| {
                ChildFailure::new(format_args!("reading the monotonic clock: {errno}"))
            })
    }

    /// How long after `earlier` this moment is (0 if it is not after).
    pub(super) fn since(self, earlier: Moment) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

/// When one wait of a process began and ended, as the process itself saw it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(super) struct ProcessSpan {
    pub(super) began: Moment,
    pub(super) ended: Moment,
}

impl ProcessSpan {
    /// Runs `wait` and returns its value with the span it took.
    pub(super) fn around<R>(wait: impl FnOnce() -> R) -> ChildResult<(R, Self)> {
        let began = Moment::now()?;
        let value = wait();
        let ended = Moment::now()?;
        Ok((value, Self { began, ended }))
    }
}

/// Checks that the waits of `spans`, timed in several processes, overlapped, and prints
/// the comparison.
///
/// The rule of the thread scenarios: one after another the waits would cover at least
/// the sum of their durations, all at once about the longest; the limit lies halfway
/// between, computed from this run's own durations, so a busy machine that stretches the
/// waits stretches the limit too. The children time the waits themselves, after lining up
/// at a barrier, so the time it takes to start processes does not count.
pub(super) fn check_processes_overlapped(
    what: impl Display,
    spans: &[ProcessSpan],
) -> Result<(), DemoError> {
    let Some(origin) = spans.iter().map(|span| span.began).min() else {
        return Ok(());
    };
    let waits: Vec<_> = spans
        .iter()
        .map(|span| (span.began.since(origin), span.ended.since(origin)))
        .collect();
    check_waits_overlapped(what, &waits)
}

/// The image scenarios' input number `index`: a colour gradient crossed by stripes, so
/// that every input differs and a blur visibly changes it.
pub(super) fn generated_image(index: u32, width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let stripe = if (x / 16 + y / 16 + index).is_multiple_of(2) {
            64
        } else {
            0
        };
        let red = (x * 255 / width.max(1)) as u8;
        let green = (y * 255 / height.max(1)) as u8;
        let blue = ((index * 60) % 192) as u8;
        Rgb([
            red.saturating_add(stripe),
            green,
            blue.saturating_add(stripe),
        ])
    })
}

/// Blur strength of [`process_image`].
const BLUR_SIGMA: f32 = 2.0;

/// The "image processing" of the image scenarios: grayscale, then a Gaussian blur.
///
/// The original leaves the processing to the reader (`# 图像处理代码`); this is real,
/// CPU-bound work, and deterministic, so the parent can redo it and compare.
pub(super) fn process_image(image: &DynamicImage) -> GrayImage {
    image::imageops::blur(&image.to_luma8(), BLUR_SIGMA)
}

/// `image` encoded in `format`.
pub(super) fn encode(image: &DynamicImage, format: ImageFormat) -> ChildResult<Vec<u8>> {
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, format)
        .map_err(|e| ChildFailure::new(format_args!("encoding a {format:?} image: {e}")))?;
    Ok(bytes.into_inner())
}

/// `bytes` decoded as an image of the format they announce.
pub(super) fn decode(bytes: &[u8]) -> ChildResult<DynamicImage> {
    image::load_from_memory(bytes)
        .map_err(|e| ChildFailure::new(format_args!("decoding an image: {e}")))
}

/// A file the server serves: its path (such as `/image_0.jpg`), type and bytes.
pub(super) struct ServedFile {
    pub(super) path: String,
    pub(super) content_type: &'static str,
    pub(super) bytes: Vec<u8>,
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that serves fixed files by `GET`, one
/// connection per request, each on a thread of its own.
///
/// It needs to answer `GET /<file>` and nothing else, so it is a few lines over `std::net`
/// rather than a server crate, and every thread it runs is one it joins: the acceptor
/// runs the handlers in a scope, which ends only when every handler has. Dropping the
/// server stops it too, so an early return of a scenario leaves no thread.
pub(super) struct FileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU32>,
    acceptor: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Starts serving `files` on a port the OS picks.
    pub(super) fn start(files: Vec<ServedFile>) -> Result<Self, DemoError> {
        let (listener, addr) = listen_on_loopback()?;
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU32::new(0));
        let acceptor = std::thread::Builder::new()
            .name("file-server".into())
            .spawn({
                let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
                move || accept_loop(&listener, &files, &stop, &answered)
            })
            .map_err(|e| DemoError::io("starting the server thread", e))?;
        tracing::debug!(%addr, "local file server started");
        Ok(Self {
            addr,
            stop,
            answered,
            acceptor: Some(acceptor),
        })
    }

    /// The URL of the file at `path` (which begins with `/`).
    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops accepting, waits for the replies under way, joins every server thread, and
    /// says how many files it served.
    pub(super) fn shutdown(mut self) -> u32 {
        self.stop_and_join();
        self.answered.load(Ordering::SeqCst)
    }

    fn stop_and_join(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.stop.store(true, Ordering::SeqCst);
        // The acceptor is blocked in accept(): a connection wakes it, and it sees the flag.
        // Should this connect fail, the acceptor is not waiting there any more.
        let _ = TcpStream::connect_timeout(&self.addr, SOCKET_LIMIT);
        // Every handler ends within its socket timeouts, so this join is bounded.
        if acceptor.join().is_err() {
            tracing::warn!(addr = %self.addr, "the file server's acceptor panicked");
        }
        tracing::debug!(addr = %self.addr, "local file server stopped");
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn accept_loop(
    listener: &TcpListener,
    files: &[ServedFile],
    stop: &AtomicBool,
    answered: &AtomicU32,
) {
    std::thread::scope(|scope| {
        for connection in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            match connection {
                Ok(mut stream) => {
                    let spawned = std::thread::Builder::new()
                        .name("file-handler".into())
                        .spawn_scoped(scope, move || match answer(&mut stream, files) {
                            Ok(()) => {
                                answered.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(error) => tracing::debug!(%error, "a request was not served"),
                        });
                    if let Err(error) = spawned {
                        tracing::warn!(%error, "no thread for a connection: dropped");
                    }
                }
                // A client that gave up before being accepted: nothing to answer.
                Err(error) => tracing::debug!(%error, "accept failed"),
            }
        }
    });
}

fn answer(stream: &mut TcpStream, files: &[ServedFile]) -> io::Result<()> {
    stream.set_read_timeout(Some(SOCKET_LIMIT))?;
    stream.set_write_timeout(Some(SOCKET_LIMIT))?;
    let Some(head) = read_request_head(stream)? else {
        // Connected and closed without a request (the wake-up of `stop_and_join`).
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no request"));
    };
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let method = words.next();
    let file = words
        .next()
        .and_then(|path| files.iter().find(|file| file.path == path));
    let (status, content_type, body): (&str, &str, &[u8]) = match (method, file) {
        (Some("GET"), Some(file)) => ("200 OK", file.content_type, &file.bytes),
        (Some("GET"), None) => ("404 Not Found", "text/plain", b"no such file\n"),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            b"only GET is served\n",
        ),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()?;
    if status.starts_with("200") {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("answered {status}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(began_ms: u64, ended_ms: u64) -> ProcessSpan {
        ProcessSpan {
            began: Moment(Duration::from_millis(began_ms)),
            ended: Moment(Duration::from_millis(ended_ms)),
        }
    }

    #[test]
    fn overlapping_process_waits_pass_and_sequential_ones_fail() {
        let together: Vec<_> = (0..5).map(|i| span(i * 5, i * 5 + 100)).collect();
        assert!(check_processes_overlapped("test", &together).is_ok());
        let in_turn: Vec<_> = (0..5).map(|i| span(i * 100, i * 100 + 100)).collect();
        assert!(check_processes_overlapped("test", &in_turn).is_err());
        assert!(check_processes_overlapped("test", &[span(0, 9000)]).is_ok());
        assert!(check_processes_overlapped("test", &[]).is_ok());
    }

    #[test]
    fn the_monotonic_clock_moves_forward() {
        let (_, span) =
            ProcessSpan::around(|| std::thread::sleep(Duration::from_millis(2))).unwrap();
        assert!(span.ended.since(span.began) >= Duration::from_millis(2));
        assert_eq!(span.began.since(span.ended), Duration::ZERO);
    }

    #[test]
    fn a_child_error_names_the_child() {
        let err = from_child::<()>("Process-3", Err(ChildFailure::new("bad pixel"))).unwrap_err();
        assert_eq!(err.to_string(), "in Process-3: bad pixel");
        assert_eq!(from_child("Process-3", Ok(7)).unwrap(), 7);
    }

    #[test]
    fn processed_images_survive_a_png_round_trip() {
        let input = DynamicImage::ImageRgb8(generated_image(1, 64, 48));
        let processed = process_image(&input);
        assert_eq!(processed.dimensions(), (64, 48));
        assert_ne!(processed, input.to_luma8(), "the blur changes the stripes");
        let png = encode(
            &DynamicImage::ImageLuma8(processed.clone()),
            ImageFormat::Png,
        )
        .unwrap();
        assert_eq!(decode(&png).unwrap().to_luma8(), processed);
        assert!(decode(b"not an image").is_err());
        assert!(decode(&png[..png.len() / 2]).is_err());
    }

    #[test]
    fn the_server_serves_its_files_and_nothing_else() {
        let server = FileServer::start(vec![ServedFile {
            path: "/a.bin".into(),
            content_type: "application/octet-stream",
            bytes: vec![0, 1, 2, 255],
        }])
        .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .timeout_global(Some(SOCKET_LIMIT))
            .build()
            .into();
        let body = agent
            .get(&server.url("/a.bin"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_vec()
            .unwrap();
        assert_eq!(body, [0, 1, 2, 255]);
        let missing = agent.get(&server.url("/b.bin")).call();
        assert!(
            matches!(missing, Err(ureq::Error::StatusCode(404))),
            "{missing:?}"
        );
        assert_eq!(server.shutdown(), 1);
    }

    #[test]
    fn a_dropped_server_stops_its_threads() {
        let server = FileServer::start(Vec::new()).unwrap();
        let addr = server.addr;
        drop(server);
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_err());
    }

    #[test]
    fn children_left_unjoined_are_killed_and_reaped() {
        let mut children = Children::new();
        let handle = children
            .start(Process::new(
                || std::thread::sleep(Duration::from_secs(60)),
                (),
            ))
            .unwrap();
        let pid = handle.pid();
        drop(children);
        // Killed and reaped: the pid names no process any more (a new process could reuse
        // it only after the kernel went through every other free pid).
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn a_child_past_its_limit_is_killed_and_reported() {
        let mut children = Children::new();
        children
            .start(Process::new(
                || std::thread::sleep(Duration::from_secs(60)),
                (),
            ))
            .unwrap();
        let outcomes = children.join_each(Duration::from_millis(50));
        assert_eq!(outcomes.len(), 1);
        let err = outcomes.into_iter().next().unwrap().unwrap_err();
        assert!(err.to_string().contains("did not finish within"), "{err}");
    }
}
