//! The slow local HTTP server that the crawler scenarios fetch from, and the check of
//! a run against it. Both `crawler-threads` (threads and `ureq`) and `async-fetch`
//! (asyncio and `reqwest`) fetch the same pages from it, so the server, the way a run
//! announces it, and what a run must show live here, once, below both scenarios.
//!
//! The server is a few lines over `std::net` rather than an HTTP server crate: it needs to
//! answer `GET /page/N` after a delay and nothing else, and written here every thread it
//! runs is one the scenario starts and joins itself (an acceptor, and a [`ThreadPool`] of
//! handlers), so none is left behind.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use mp::threads::{JoinHandle, Thread, ThreadPool};

use super::support::{JOIN_LIMIT, Span, check_overlapped, join_within};
use crate::{DemoError, Stopwatch, check_eq, format_duration};

/// How long the server waits for a request's bytes, or for the client to take the reply.
pub(super) const SOCKET_LIMIT: Duration = Duration::from_secs(30);

/// The most a request head may be: the clients here send about a hundred bytes.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Prints how long the fetches of `pages` real URLs took against what they would have
/// taken one after another (`one_by_one`), then checks that every URL gave a page.
pub(super) fn report_remote_fetches(
    pages: usize,
    urls: usize,
    watch: &Stopwatch,
    one_by_one: Duration,
) -> Result<(), DemoError> {
    println!(
        "fetched {} page(s) in {}; one after another they would have taken about {} (not \
         checked: real sites take what they take)",
        pages,
        watch,
        format_duration(one_by_one)
    );
    check_eq("the pages fetched", pages, urls)
}

/// Checks a run against the [`SlowServer`]: what the server saw (printed), every body as
/// served, one answered request per page, and the fetches (`(url, body, span)`) overlapping.
pub(super) fn check_served_pages<'a>(
    stats: &ServerCounts,
    pages: u32,
    fetched: impl ExactSizeIterator<Item = (&'a str, &'a str, Span)>,
) -> Result<(), DemoError> {
    println!(
        "the server answered {} request(s), at most {} at once",
        stats.answered, stats.peak_in_flight
    );
    check_eq("the pages fetched", fetched.len(), pages as usize)?;
    let mut spans = Vec::with_capacity(fetched.len());
    for (page, (url, body, took)) in (0..pages).zip(fetched) {
        check_eq(
            format_args!("the body of {url}"),
            body,
            page_body(page).as_str(),
        )?;
        spans.push(took);
    }
    check_eq("the requests the server answered", stats.answered, pages)?;
    check_eq(
        "the requests the server could not answer with a page",
        stats.failed,
        0,
    )?;
    check_overlapped("the fetches", &spans)
}

/// The body of the local server's page `page`.
pub(super) fn page_body(page: u32) -> String {
    format!(
        "<html><head><title>Page {page}</title></head><body>Page {page}, slowly.</body></html>\n"
    )
}

/// What the server did, counted by its handlers.
#[derive(Default)]
struct ServerStats {
    answered: AtomicU32,
    failed: AtomicU32,
    in_flight: AtomicU32,
    peak_in_flight: AtomicU32,
}

/// A snapshot of [`ServerStats`], taken once the server has stopped.
pub(super) struct ServerCounts {
    pub(super) answered: u32,
    pub(super) failed: u32,
    pub(super) peak_in_flight: u32,
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that serves `GET /page/N` (N below `pages`)
/// after `delay`, one connection per request.
///
/// Dropping it stops it too, so that an early return of the scenario leaves no thread.
pub(super) struct SlowServer {
    pub(super) addr: SocketAddr,
    stop: Arc<AtomicBool>,
    stats: Arc<ServerStats>,
    acceptor: Option<JoinHandle<Result<(), DemoError>>>,
}

/// A listener on a port of 127.0.0.1 the OS picks, and its address: where the demos'
/// local servers answer.
pub(super) fn listen_on_loopback() -> Result<(TcpListener, SocketAddr), DemoError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| DemoError::io("listening on 127.0.0.1", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::io("reading the server's address", e))?;
    Ok((listener, addr))
}

impl SlowServer {
    pub(super) fn start(pages: u32, delay: Duration) -> Result<Self, DemoError> {
        let (listener, addr) = listen_on_loopback()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ServerStats::default());
        let acceptor = Thread::new(
            accept_loop,
            (
                listener,
                pages,
                delay,
                Arc::clone(&stop),
                Arc::clone(&stats),
            ),
        )
        .name("http-server")
        .start()?;
        tracing::debug!(%addr, "local HTTP server started");
        Ok(Self {
            addr,
            stop,
            stats,
            acceptor: Some(acceptor),
        })
    }

    /// Starts a server of `pages` pages answering after `delay`, says where it listens,
    /// and returns it with the URL of every page, in order.
    pub(super) fn start_announced(
        pages: u32,
        delay: Duration,
    ) -> Result<(Self, Vec<String>), DemoError> {
        let server = Self::start(pages, delay)?;
        println!(
            "a local server on http://{} answers each request after {}",
            server.addr,
            format_duration(delay)
        );
        let urls = (0..pages).map(|page| server.url(page)).collect();
        Ok((server, urls))
    }

    pub(super) fn url(&self, page: u32) -> String {
        format!("http://{}/page/{page}", self.addr)
    }

    /// Stops accepting, waits for the replies under way, joins every server thread.
    pub(super) fn shutdown(mut self) -> Result<ServerCounts, DemoError> {
        self.stop_and_join()?;
        Ok(ServerCounts {
            answered: self.stats.answered.load(Ordering::SeqCst),
            failed: self.stats.failed.load(Ordering::SeqCst),
            peak_in_flight: self.stats.peak_in_flight.load(Ordering::SeqCst),
        })
    }

    fn stop_and_join(&mut self) -> Result<(), DemoError> {
        let Some(acceptor) = self.acceptor.take() else {
            return Ok(());
        };
        self.stop.store(true, Ordering::SeqCst);
        // The acceptor is blocked in accept(): a connection wakes it, and it sees the flag.
        // Should this connect fail, the acceptor is not waiting there any more.
        let _ = TcpStream::connect_timeout(&self.addr, SOCKET_LIMIT);
        let outcome = join_within(acceptor, JOIN_LIMIT)?;
        tracing::debug!(addr = %self.addr, "local HTTP server stopped");
        outcome
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        if let Err(error) = self.stop_and_join() {
            tracing::warn!(%error, "the local HTTP server did not stop cleanly");
        }
    }
}

/// The server's acceptor thread: hands each connection to a handler of its pool until
/// told to stop, then waits for the handlers.
fn accept_loop(
    listener: TcpListener,
    pages: u32,
    delay: Duration,
    stop: Arc<AtomicBool>,
    stats: Arc<ServerStats>,
) -> Result<(), DemoError> {
    // One handler per page: with fewer, the server itself would answer in turns.
    let handlers = ThreadPool::builder()
        .max_workers(pages as usize)
        .thread_name_prefix("http-handler")
        .build()?;
    let mut outcome = Ok(());
    for connection in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match connection {
            Ok(stream) => {
                if let Err(error) =
                    handlers.submit(serve, (stream, pages, delay, Arc::clone(&stats)))
                {
                    outcome = Err(error.into());
                    break;
                }
            }
            // A client that gave up before being accepted: nothing to answer.
            Err(error) => tracing::debug!(%error, "accept failed"),
        }
    }
    // Every handler ends within its socket timeouts plus one delay.
    handlers.shutdown(true, false);
    outcome
}

/// A handler: answers one connection, counting the outcome.
fn serve(mut stream: TcpStream, pages: u32, delay: Duration, stats: Arc<ServerStats>) {
    if let Err(error) = answer(&mut stream, pages, delay, &stats) {
        stats.failed.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(%error, "a request was not answered");
    }
}

fn answer(
    stream: &mut TcpStream,
    pages: u32,
    delay: Duration,
    stats: &ServerStats,
) -> io::Result<()> {
    stream.set_read_timeout(Some(SOCKET_LIMIT))?;
    stream.set_write_timeout(Some(SOCKET_LIMIT))?;
    let Some(head) = read_request_head(stream)? else {
        // Connected and closed without a request.
        return Ok(());
    };
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let method = words.next();
    let page = words
        .next()
        .and_then(|path| path.strip_prefix("/page/"))
        .and_then(|number| number.parse::<u32>().ok())
        .filter(|number| *number < pages);
    let (status, body) = match (method, page) {
        (Some("GET"), Some(page)) => {
            let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            stats.peak_in_flight.fetch_max(now, Ordering::SeqCst);
            // The slow site.
            std::thread::sleep(delay);
            stats.in_flight.fetch_sub(1, Ordering::SeqCst);
            ("200 OK", page_body(page))
        }
        (Some("GET"), None) => ("404 Not Found", "no such page\n".to_owned()),
        _ => ("405 Method Not Allowed", "only GET is served\n".to_owned()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    if status.starts_with("200") {
        stats.answered.fetch_add(1, Ordering::SeqCst);
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("answered {status}"),
        ))
    }
}

/// Reads up to the blank line that ends a request's head; `None` if the peer closed the
/// connection before sending anything.
pub(super) fn read_request_head(stream: &mut impl Read) -> io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the request ended mid-head",
                ))
            };
        }
        head.extend_from_slice(&chunk[..read]);
        if head.len() > MAX_REQUEST_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the request head is too long",
            ));
        }
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_turns_down_what_it_does_not_serve() {
        let server = SlowServer::start(1, Duration::ZERO).unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .timeout_global(Some(SOCKET_LIMIT))
            .build()
            .into();
        let missing = agent.get(&server.url(1)).call();
        assert!(
            matches!(missing, Err(ureq::Error::StatusCode(404))),
            "{missing:?}"
        );
        let page = agent
            .get(&server.url(0))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        assert_eq!(page, page_body(0));
        let stats = server.shutdown().unwrap();
        assert_eq!((stats.answered, stats.failed), (1, 1));
    }

    #[test]
    fn a_dropped_server_stops_its_threads() {
        let server = SlowServer::start(2, Duration::ZERO).unwrap();
        let addr = server.addr;
        drop(server);
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_err());
    }

    #[test]
    fn request_heads_are_read_to_the_blank_line() {
        let mut request: &[u8] = b"GET /page/0 HTTP/1.1\r\nHost: x\r\n\r\n";
        let head = read_request_head(&mut request).unwrap().unwrap();
        assert!(head.starts_with("GET /page/0 "));
        let mut nothing: &[u8] = b"";
        assert!(read_request_head(&mut nothing).unwrap().is_none());
        let mut cut: &[u8] = b"GET /page/0 HTTP/1.1\r\n";
        assert!(read_request_head(&mut cut).is_err());
        let long = vec![b'a'; MAX_REQUEST_HEAD + 2048];
        assert!(read_request_head(&mut long.as_slice()).is_err());
    }
}
