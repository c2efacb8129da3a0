//! How much of a Redis server a cluster pool uses, by number of workers: the figures
//! behind the crate docs' "how many workers one Redis serves".
//!
//! Starts a `redis-server` of its own on a free loopback port, then for each worker
//! count starts that many worker processes (this example's own binary, run again with
//! `MP_CLUSTER_WORKER`; one local process each), and measures:
//! - idle: the commands per second the server sees from workers that wait for tasks;
//! - busy: a map of trivial calls, in items per second and server commands per task.
//!
//! ```text
//! cargo run --release -p mp-cluster --example workers_scale -- 1 8 32
//! ```

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mp_cluster::{Cluster, Pool};

fn trivial(n: u64) -> u64 {
    n ^ 0x5a5a
}

/// A `redis-server` on a free loopback port, killed and reaped when dropped.
struct Server {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Server {
    fn start() -> Result<Server, Box<dyn std::error::Error>> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("mp-cluster-scale-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|err| format!("redis-server ({err}): apt-get install redis-server"))?;
        let server = Server { child, port, dir };
        let started = Instant::now();
        while Cluster::connect(&server.url())
            .and_then(|cluster| cluster.queue::<u8>("ping")?.qsize())
            .is_err()
        {
            if started.elapsed() > Duration::from_secs(5) {
                return Err("redis-server did not answer within 5 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's processed-command count and CPU seconds.
    fn stats(&self) -> (u64, f64) {
        let info = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "INFO"])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (
            field("total_commands_processed") as u64,
            field("used_cpu_sys") + field("used_cpu_user"),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Worker processes, killed and reaped when dropped.
struct Workers(Vec<Child>);

impl Workers {
    fn start(url: &str, pool: &str, count: usize) -> std::io::Result<Workers> {
        let exe = std::env::current_exe()?;
        let mut workers = Workers(Vec::new());
        for _ in 0..count {
            workers.0.push(
                Command::new(&exe)
                    .env("MP_CLUSTER_WORKER", pool)
                    .env("MP_REDIS_URL", url)
                    .env("MP_CLUSTER_PROCESSES", "1")
                    .stdout(Stdio::null())
                    .spawn()?,
            );
        }
        Ok(workers)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let counts = if counts.is_empty() {
        vec![1, 8, 32]
    } else {
        counts
    };
    let server = Server::start()?;
    let cluster = Cluster::connect(&server.url())?;
    println!(
        "workers | idle commands/s | map items/s | commands per task | server CPU µs per task"
    );
    for count in counts {
        let name = format!("scale-{count}");
        let _workers = Workers::start(&server.url(), &name, count)?;
        let pool = Pool::builder(&cluster, &name)
            .chunksize(16)
            .worker_wait(Duration::from_secs(60))
            .build()?;
        // Every worker up: one task per worker's process answered.
        pool.map(trivial, 0..count as u64 * 4)?;
        std::thread::sleep(Duration::from_secs(2));
        let (before, _) = server.stats();
        std::thread::sleep(Duration::from_secs(5));
        let (after, _) = server.stats();
        let idle = (after - before) as f64 / 5.0;

        let items = 40_000u64;
        let (commands_before, cpu_before) = server.stats();
        let started = Instant::now();
        let values = pool.map(trivial, 0..items)?;
        let elapsed = started.elapsed();
        let (commands_after, cpu_after) = server.stats();
        assert_eq!(values.len() as u64, items);
        let tasks = items.div_ceil(16) as f64;
        println!(
            "{count:7} | {idle:15.0} | {:11.0} | {:17.1} | {:.1}",
            items as f64 / elapsed.as_secs_f64(),
            (commands_after - commands_before) as f64 / tasks,
            (cpu_after - cpu_before) * 1e6 / tasks,
        );
    }
    Ok(())
}
