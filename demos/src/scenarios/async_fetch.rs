//! 002 "async I/O": `fetch(url)` gets a page with an async HTTP client (`aiohttp` in the
//! original) and returns its text; `main` starts one task per URL and gathers the pages,
//! then prints them. The three requests wait for their servers together, on one thread.
//!
//! The original fetches `http://example.com`, `.org` and `.net`. Here, by default, the scenario
//! fetches three pages from the local HTTP server of `crawler-threads` (127.0.0.1, a port
//! the OS picks), which waits a second (scaled) before each reply, as a slow site does. The
//! client is `reqwest` on the one-thread tokio runtime that stands in for asyncio's loop.
//! Every page must arrive with the body the server sent, and the fetches must overlap:
//! three one-second replies take about one second, not three. URLs given on the command
//! line are fetched instead; then the overlap is only reported, since real sites take what
//! they take. Only `http://` URLs are fetched (as the original's): the client is built
//! without TLS, which the local server does not need.

use std::time::Duration;

use super::async_support::{asyncio_run, gather, span_of};
use super::http_support::{SlowServer, check_served_pages, report_remote_fetches};
use super::support::{MIN_CHECKED_SLEEP, Span};
use crate::{Context, DemoError, Stopwatch, format_duration, scaled};

#[derive(clap::Parser)]
struct Args {
    /// Fetch these http:// URLs instead of the local server's pages; the original fetches
    /// http://example.com, http://example.org and http://example.net.
    #[arg(value_name = "URL", value_parser = http_url)]
    urls: Vec<String>,
    /// Pages the local server serves, one task fetching each (the original: 3).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pages: u32,
    /// Seconds the local server waits before each reply (scaled by --scale, and never
    /// under 0.1 s, so that the overlap is measurable).
    #[arg(long, default_value_t = 1.0, value_parser = delay_arg)]
    delay: f64,
}

fn http_url(text: &str) -> Result<String, String> {
    if text.starts_with("http://") {
        Ok(text.to_owned())
    } else if text.starts_with("https://") {
        Err(format!(
            "`{text}`: this client is built without TLS; give http:// URLs (as the original's)"
        ))
    } else {
        Err(format!("`{text}` is not an http:// URL"))
    }
}

fn delay_arg(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..=3600.0).contains(&secs) => Ok(secs),
        _ => Err(format!("`{text}` is not a number of seconds from 0 to 3600")),
    }
}

/// How long a fetch may take beyond the server's delay before it counts as failed.
const FETCH_LIMIT: Duration = Duration::from_secs(30);

/// A fetched page.
struct Page {
    url: String,
    status: reqwest::StatusCode,
    body: String,
    /// The fetch, from the request to the end of the body, as its task timed it.
    took: Span,
}

/// The original's `fetch(url)`: gets the page and returns its text.
async fn fetch(client: reqwest::Client, url: String) -> Result<Page, DemoError> {
    let (fetched, took) = span_of(async {
        let response = client.get(&url).send().await?.error_for_status()?;
        let status = response.status();
        Ok::<_, reqwest::Error>((status, response.text().await?))
    })
    .await;
    let (status, body) = fetched.map_err(|e| DemoError::other(format!("fetching {url}: {e}")))?;
    Ok(Page {
        url,
        status,
        body,
        took,
    })
}

/// The original's `for result in results: print(result)`: here each page's status, size,
/// time and first line.
fn print_pages(pages: &[Page]) {
    for page in pages {
        let first_line: String = page.body.lines().next().unwrap_or("").chars().take(80).collect();
        println!(
            "{}: {}, {} bytes in {}: {first_line}",
            page.url,
            page.status,
            page.body.len(),
            format_duration(page.took.duration()),
        );
    }
}

/// One task per URL, gathered: the pages in the URLs' order.
fn fetch_all(client: &reqwest::Client, urls: &[String]) -> Result<Vec<Page>, DemoError> {
    asyncio_run(async {
        let tasks = urls
            .iter()
            .map(|url| tokio::spawn(fetch(client.clone(), url.clone())))
            .collect();
        gather(tasks).await
    })??
    .into_iter()
    .collect()
}

fn client(limit: Duration, through_proxy: bool) -> Result<reqwest::Client, DemoError> {
    let builder = reqwest::Client::builder().timeout(limit);
    // Straight to the local server, whatever proxy the environment names.
    let builder = if through_proxy { builder } else { builder.no_proxy() };
    builder
        .build()
        .map_err(|e| DemoError::other(format!("building the HTTP client: {e}")))
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    if args.urls.is_empty() {
        fetch_local(args.pages, scaled(args.delay).max(MIN_CHECKED_SLEEP))
    } else {
        fetch_remote(&args.urls)
    }
}

fn fetch_local(pages: u32, delay: Duration) -> Result<(), DemoError> {
    let (server, urls) = SlowServer::start_announced(pages, delay)?;
    let fetched = client(delay + FETCH_LIMIT, false).and_then(|client| fetch_all(&client, &urls));
    // Stopped and joined before anything is checked, so it never outlives the scenario.
    let stats = server.shutdown()?;
    let fetched = fetched?;
    print_pages(&fetched);
    check_served_pages(
        &stats,
        pages,
        fetched.iter().map(|page| (page.url.as_str(), page.body.as_str(), page.took)),
    )
}

fn fetch_remote(urls: &[String]) -> Result<(), DemoError> {
    let client = client(FETCH_LIMIT, true)?;
    let watch = Stopwatch::start();
    let pages = fetch_all(&client, urls)?;
    print_pages(&pages);
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
        run(&Context::new("async-fetch", vec![])).unwrap();
    }

    #[test]
    fn given_urls_are_fetched_instead() {
        let server = SlowServer::start(2, Duration::ZERO).unwrap();
        let ctx = Context::new("async-fetch", vec![server.url(0), server.url(1)]);
        // Through the environment's proxy, if it names one, as a real URL would go: only
        // checked when none is set.
        let outcome = run(&ctx);
        let stats = server.shutdown().unwrap();
        if std::env::var_os("http_proxy").is_none() && std::env::var_os("HTTP_PROXY").is_none() {
            outcome.unwrap();
            assert_eq!(stats.answered, 2);
        }
    }

    #[test]
    fn a_url_that_cannot_be_fetched_fails_the_scenario() {
        // A port nothing listens on: bound, then released.
        let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap();
        let ctx = Context::new("async-fetch", vec![format!("http://{addr}/")]);
        assert!(run(&ctx).is_err());
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("async-fetch", run, &[&["--pages=0"], &["--delay=-1"], &["https://example.com"], &["example.com"]]);
    }
}
