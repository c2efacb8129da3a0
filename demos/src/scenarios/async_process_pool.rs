//! An async program that hands CPU-bound work to a process `Pool` and keeps serving:
//! asyncio's `await loop.run_in_executor(ProcessPoolExecutor(), f, x)` next to an HTTP
//! endpoint on 127.0.0.1.
//!
//! The event loop (one thread, as asyncio's) serves a tiny HTTP/1.0 endpoint, submits
//! 100 CPU-bound tasks with `pool.apply_async` and awaits their results, while a client
//! task sends requests to the endpoint and times them. Awaiting a result parks no thread:
//! the pool's supervisor wakes the task. So the endpoint keeps answering while the pool
//! keeps every CPU busy.
//!
//! Checked: every task's result is the one computed here again; every request was
//! answered; and the median latency while the pool worked stays below a bound derived
//! from a baseline measured in the same run with the pool idle (twenty times the
//! baseline median, never below [`LATENCY_FLOOR`]: the workers share the CPUs with the
//! loop, so some delay is expected; a stalled loop would show seconds).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mp::processes::cpu_count;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::async_support::asyncio_run;
use super::pool_support::{burn, calibrate, close_and_join, job_seeds, start_pool};
use crate::{Context, DemoError, check, check_eq, format_duration, scaled};

#[derive(clap::Parser)]
struct Args {
    /// CPU-bound tasks to await on the pool.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    tasks: u32,
    /// Requests sent with the pool idle, for the baseline.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    baseline_requests: u32,
}

/// How long one task runs at scale 1.
const TASK_SECONDS: f64 = 0.05;

/// The shortest task: shorter ones would be over before the client could send a request.
const MIN_TASK: Duration = Duration::from_millis(5);

/// The pause between two requests of the client.
const REQUEST_GAP: Duration = Duration::from_millis(5);

/// The bound on the median latency under load is never below this: a 2-CPU machine that
/// runs other programs too may delay the loop by a scheduler slice or a few.
const LATENCY_FLOOR: Duration = Duration::from_millis(50);

/// How much slower than the baseline the median under load may be.
const LATENCY_FACTOR: u32 = 20;

/// The most a request may take before the client gives up on it (an error, not a hang).
const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// The largest request head the endpoint reads.
const MAX_REQUEST: usize = 8192;

/// The body the endpoint answers with.
const BODY: &str = "pong";

/// Answers one connection: reads the request head, writes a fixed response.
async fn respond(mut stream: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The endpoint: a task per connection, until the loop ends.
async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(async move {
                    if let Err(error) = respond(stream).await {
                        tracing::debug!(%error, "a request went wrong");
                    }
                });
            }
            Err(error) => tracing::debug!(%error, "accept failed"),
        }
    }
}

/// One request to the endpoint: how long the answer took.
async fn request(address: std::net::SocketAddr) -> Result<Duration, DemoError> {
    let began = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(REQUEST_LIMIT, exchange)
        .await
        .map_err(|_| DemoError::CheckFailed(format!("a request was answered within {REQUEST_LIMIT:?}")))?
        .map_err(|e| DemoError::io("requesting the endpoint", e))?;
    let took = began.elapsed();
    let text = String::from_utf8_lossy(&response);
    check(
        text.starts_with("HTTP/1.0 200") && text.ends_with(BODY),
        format_args!("the endpoint answered 200 with {BODY:?} (got {text:?})"),
    )?;
    Ok(took)
}

/// Requests until `stop` is set (at least `min` of them), a gap apart.
async fn client(
    address: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    min: usize,
) -> Result<Vec<Duration>, DemoError> {
    let mut latencies = Vec::new();
    while latencies.len() < min || !stop.load(Ordering::Acquire) {
        latencies.push(request(address).await?);
        tokio::time::sleep(REQUEST_GAP).await;
    }
    Ok(latencies)
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let rounds = calibrate(scaled(TASK_SECONDS).max(MIN_TASK));
    let processes = cpu_count();
    let seeds = job_seeds(args.tasks as usize);
    println!(
        "{} CPU-bound tasks of {rounds} rounds on a pool of {processes} process(es), \
         awaited by an event loop that serves HTTP on 127.0.0.1",
        args.tasks
    );
    let pool = start_pool(processes)?;
    let outcome = asyncio_run(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| DemoError::io("binding 127.0.0.1:0", e))?;
        let address = listener
            .local_addr()
            .map_err(|e| DemoError::io("reading the endpoint's address", e))?;
        tokio::spawn(serve(listener));

        let idle_stop = Arc::new(AtomicBool::new(true));
        let baseline = client(address, idle_stop, args.baseline_requests as usize).await?;

        let busy = Arc::new(AtomicBool::new(false));
        let results = seeds
            .iter()
            .map(|&seed| pool.apply_async(burn, (rounds, seed)))
            .collect::<Result<Vec<_>, _>>()?;
        let began = Instant::now();
        let awaited = async {
            let mut values = Vec::with_capacity(results.len());
            for result in results {
                values.push(result.await);
            }
            busy.store(true, Ordering::Release);
            values
        };
        let (values, loaded) = tokio::join!(awaited, client(address, Arc::clone(&busy), 1));
        Ok::<_, DemoError>((baseline, values, loaded?, began.elapsed()))
    });
    close_and_join(&pool)?;
    let (mut baseline, values, mut loaded, pool_took) = outcome??;
    let values = values.into_iter().collect::<Result<Vec<u64>, _>>()?;

    check_eq("the results awaited", values.len(), seeds.len())?;
    for (index, (&seed, &value)) in seeds.iter().zip(&values).enumerate() {
        check_eq(format_args!("the result of task {index}"), value, burn(rounds, seed))?;
    }
    let idle = median(&mut baseline);
    let under_load = median(&mut loaded);
    let worst = loaded.last().copied().unwrap_or_default();
    let bound = (idle * LATENCY_FACTOR).max(LATENCY_FLOOR);
    println!(
        "pool idle: {} requests, median {}\npool busy ({} for {} tasks): {} requests, median {}, \
         slowest {}\nbound on the median under load: {} ({LATENCY_FACTOR}x the idle median, at \
         least {})",
        baseline.len(),
        format_duration(idle),
        format_duration(pool_took),
        args.tasks,
        loaded.len(),
        format_duration(under_load),
        format_duration(worst),
        format_duration(bound),
        format_duration(LATENCY_FLOOR),
    );
    check(
        under_load <= bound,
        format_args!(
            "the median latency while the pool worked ({}) stayed below {}",
            format_duration(under_load),
            format_duration(bound)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_endpoint_keeps_answering_while_the_pool_works() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("async-process-pool", vec!["--tasks=40".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("async-process-pool", run, &[&["--tasks=0"], &["x"]]);
    }
}
