//! 000 §4.1, a crawler: one thread per URL runs `fetch(url)`, which gets the page with an
//! HTTP client and prints it; the main thread starts them all, then joins them all.
//! Fetching is I/O-bound: the threads spend their time waiting for the server, so they
//! wait together.
//!
//! The original fetches two sites on the internet. Here, by default, the scenario starts
//! its own HTTP server on 127.0.0.1 (a port the OS picks) that waits a second (scaled)
//! before each reply, as a slow site does, and five threads fetch a page each with `ureq`.
//! Every page must arrive with the body the server sent, and the fetches must overlap:
//! five one-second replies take about one second, not five. URLs given on the command line
//! are fetched instead, from the real network; then the overlap is only reported, since
//! real sites take what they take.
//!
//! The server is `http_support`'s, from which the asyncio scenario `async-fetch` fetches
//! too.

use std::sync::Arc;
use std::time::Duration;

use mp::sync::Barrier;
use mp::threads::{Thread, current_thread};

use super::http_support::{SOCKET_LIMIT, SlowServer, check_served_pages, report_remote_fetches};
use super::support::{
    JOIN_LIMIT, MIN_CHECKED_SLEEP, Span, Started,
};
use crate::{Context, DemoError, Stopwatch, format_duration, scaled};

#[derive(clap::Parser)]
struct Args {
    /// Fetch these URLs (from the network) instead of the local server's pages; the
    /// original fetches https://www.baidu.com and https://www.google.com.
    #[arg(value_name = "URL")]
    urls: Vec<String>,
    /// Pages the local server serves, one thread fetching each.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=64))]
    pages: u32,
    /// Seconds the local server waits before each reply (scaled by --scale, and never
    /// under 0.1 s, so that the overlap is measurable).
    #[arg(long, default_value_t = 1.0, value_parser = delay_arg)]
    delay: f64,
}

fn delay_arg(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..=3600.0).contains(&secs) => Ok(secs),
        _ => Err(format!("`{text}` is not a number of seconds from 0 to 3600")),
    }
}

/// How long a fetch of a real URL may take before it counts as failed.
const REMOTE_LIMIT: Duration = Duration::from_secs(30);

/// A fetched page.
struct Page {
    url: String,
    body: String,
    /// The fetch, from the request to the end of the body, as its thread timed it.
    took: Span,
}

/// The original's `fetch`: gets the page and prints it (here its first line and size).
///
/// The threads send their requests together, once all have started: the check that the
/// fetches overlap then measures the fetches, not how long the threads took to start.
fn fetch(agent: ureq::Agent, url: String, start_line: Arc<Barrier>) -> Result<Page, DemoError> {
    start_line.wait_timeout(JOIN_LIMIT)?;
    let (fetched, took) = Span::around(|| -> Result<_, ureq::Error> {
        let mut response = agent.get(&url).call()?;
        let body = response.body_mut().read_to_string()?;
        Ok((response.status(), body))
    });
    let (status, body) =
        fetched.map_err(|e| DemoError::other(format!("fetching {url}: {e}")))?;
    let first_line: String = body.lines().next().unwrap_or("").chars().take(80).collect();
    println!(
        "{}: {url}: {status}, {} bytes in {}: {first_line}",
        current_thread().name(),
        body.len(),
        format_duration(took.duration()),
    );
    Ok(Page { url, body, took })
}

/// Starts one thread per URL, joins them all, and returns the pages in the URLs' order.
fn fetch_all(agent: &ureq::Agent, urls: &[String]) -> Result<Vec<Page>, DemoError> {
    let parties = u32::try_from(urls.len())
        .map_err(|_| DemoError::Usage(format!("{} URLs are too many", urls.len())))?;
    let start_line = Arc::new(Barrier::new(parties)?);
    let started = Started::each(urls, |url| {
        Thread::new(fetch, (agent.clone(), url.clone(), Arc::clone(&start_line))).start()
    });
    if !started.all_started() {
        // Release the threads already waiting for the ones that did not start.
        start_line.abort();
    }
    started.join_all(JOIN_LIMIT)?.into_iter().collect()
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    if args.urls.is_empty() {
        crawl_local(args.pages, scaled(args.delay).max(MIN_CHECKED_SLEEP))
    } else {
        crawl_remote(&args.urls)
    }
}

fn crawl_local(pages: u32, delay: Duration) -> Result<(), DemoError> {
    let (server, urls) = SlowServer::start_announced(pages, delay)?;
    // Straight to the local server, whatever proxy the environment names.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .timeout_global(Some(delay + SOCKET_LIMIT))
        .build()
        .into();

    let fetched = fetch_all(&agent, &urls);
    drop(agent);
    // Stopped and joined before anything is checked, so it never outlives the scenario.
    let stats = server.shutdown()?;
    let fetched = fetched?;

    check_served_pages(
        &stats,
        pages,
        fetched.iter().map(|page| (page.url.as_str(), page.body.as_str(), page.took)),
    )
}

fn crawl_remote(urls: &[String]) -> Result<(), DemoError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(REMOTE_LIMIT))
        .build()
        .into();
    let watch = Stopwatch::start();
    let pages = fetch_all(&agent, urls)?;
    let one_by_one: Duration = pages.iter().map(|page| page.took.duration()).sum();
    report_remote_fetches(pages.len(), urls.len(), &watch, one_by_one)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, TcpListener};

    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn every_page_arrives_and_the_fetches_overlap() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("crawler-threads", vec!["--pages=4".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("crawler-threads", run, &[&["--pages=0"], &["--delay=-1"], &["--delay=nan"]]);
    }

    #[test]
    fn a_url_that_cannot_be_fetched_fails_the_scenario() {
        // A port nothing listens on: bound, then released.
        let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap();
        let ctx = Context::new("crawler-threads", vec![format!("http://{addr}/")]);
        assert!(run(&ctx).is_err());
    }
}
