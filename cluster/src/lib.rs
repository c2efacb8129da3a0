//! When one machine is not enough: Python's `multiprocessing` queues and `Pool` across
//! machines, on Redis Streams.
//!
//! Python programs that outgrow one machine move their `multiprocessing.Queue` to
//! Celery or RQ over Redis, or to Ray. This crate keeps the mp queue API (the same
//! names, the same blocking families, the same errors as mp-ipc) and puts the queue in
//! a Redis 7 server that operators already know how to run: a [`Queue`] or
//! [`JoinableQueue`] opened by name from any process on any machine that reaches the
//! server is the same queue. Nothing about distribution is home-made: Redis holds the
//! messages (a stream per queue), hands each to one consumer (a consumer group), keeps
//! what is being worked on (pending entries) and how long (their idle time, the lease).
//!
//! ```
//! # let server = test_support::redis::RedisServer::start()?;
//! # let url = server.url();
//! use mp_cluster::Cluster;
//!
//! // The same URL on every machine (or MP_REDIS_URL, and Cluster::from_env()).
//! let cluster = Cluster::connect(&url)?;
//! let tasks = cluster.joinable_queue::<(u32, String)>("thumbnails")?;
//! tasks.put(&(1, "photo.jpg".into()))?;
//!
//! // on any machine:
//! let (id, file) = tasks.get()?;
//! println!("task {id}: {file}");
//! tasks.task_done()?;
//!
//! tasks.join()?; // every task put, by anyone, is done
//! tasks.destroy()?; // nothing left in Redis
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # From Python
//!
//! | Python | here |
//! |---|---|
//! | `multiprocessing.Queue()` shared with children | `cluster.queue::<T>("name")?`, opened by name anywhere |
//! | `multiprocessing.JoinableQueue()` | `cluster.joinable_queue::<T>("name")?` |
//! | `q.put(x)` / `q.get()` | `q.put(&x)?` / `q.get()?` |
//! | `q.get(block=False)` / `q.get(timeout=t)` | `q.try_get()` / `q.get_timeout(t)` (`Error::Empty`) |
//! | `q.task_done()` / `q.join()` | `q.task_done()?` / `q.join()?`, `q.join_timeout(t)` |
//! | `await loop.run_in_executor(None, q.get)` | `q.get_async().await?`, `q.put_async(&x).await?`, `q.join_async().await?`: any executor, nothing lost when a `get_async` future is dropped ([`GetAsync`]) |
//! | `q.qsize()`, `q.empty()`, `q.close()` | the same names (`qsize` and `empty` return `Result`) |
//! | `ray.init(address=...)` / `RAY_ADDRESS` | `Cluster::connect(url)` / `Cluster::from_env()` (`MP_REDIS_URL`) |
//! | Celery `acks_late=True` + `visibility_timeout` | `JoinableQueue`: leased until `task_done`, [`QueueBuilder::visibility_timeout`] |
//! | Celery `acks_late=False`, RQ's dequeue | `Queue`: acknowledged as `get` returns |
//! | Celery `result_expires`, RQ's `ttl` | [`QueueBuilder::expire_after`] |
//! | `ray.util.multiprocessing.Pool()` | [`Pool::new(&cluster, "name")?`](Pool::new): `map`, `imap`, `imap_unordered`, `starmap`, `apply_async`, `close`/`join`/`terminate`, the `Executor` trait (see [`pool`]) |
//! | `ray start` on each machine | the same program with `MP_CLUSTER_WORKER=name` and `MP_REDIS_URL` set, or [`Worker::builder`]`(..).serve()` (see [`worker`]) |
//!
//! # A pool over machines
//!
//! A [`Pool`] has the mp `Pool` API, and its tasks run on workers on any number of
//! machines. A worker is *the same executable*, started with two environment variables:
//! the library picks them up before `main` and serves the pool instead of running the
//! program. Each worker runs its tasks on a local mp-processes `Pool`, so a task that
//! crashes takes one local process down, never the worker.
//!
//! ```no_run
//! use mp_cluster::{Cluster, Pool};
//!
//! fn render(frame: u32) -> Vec<u8> {
//!     vec![frame as u8; 4] // the real work
//! }
//!
//! // On every worker machine, this same binary runs as:
//! //   MP_CLUSTER_WORKER=frames MP_REDIS_URL=redis://redis.internal:6379/ ./render
//! let cluster = Cluster::from_env()?;
//! let pool = Pool::builder(&cluster, "frames").authkey(b"shared secret").build()?;
//! let frames = pool.map(render, 0..1000)?;
//! assert_eq!(frames.len(), 1000);
//! # Ok::<(), mp_cluster::Error>(())
//! ```
//!
//! Functions cross as mp-processes' targets do, by their offset in the executable. So a
//! worker must run the very same build: each pool's tasks go to a stream named after the
//! submitting program's build id (`mp_sys::build_id`: the ELF build-id note, the same for
//! the same file on every machine), which only workers of that build read; a caller
//! whose build has no worker is told which build it needs ([`Error::NoWorkers`]).
//!
//! **Delivery.** Every call's result reaches the caller exactly once: a task leased to a
//! worker that dies is taken over by another after the worker's lease, a result is
//! posted at most once per task (a script checks a hash of finished tasks), and the
//! caller drops any second one. A task that kills every worker that takes it fails after
//! `max_attempts` ([`Error::TaskKilledWorkers`]) and the pool goes on. A caller that
//! dies leaves nothing: its keys expire three heartbeats after its last, and workers
//! drop its tasks. The durability notes below hold for pools too: a server restarted
//! with its data (AOF) loses nothing; one restarted empty loses the tasks it held.
//!
//! **Security.** Without a key, anyone who can write to the pool's streams can make its
//! workers call any function of the program with any arguments, as unpickling does in
//! Python. With [`PoolBuilder::authkey`] and the same key on the workers
//! (`MP_CLUSTER_AUTHKEY`, or [`WorkerBuilder::authkey`]) every task and result carries
//! an HMAC-SHA256; workers refuse the rest ([`Error::BadSignature`]).
//!
//! **Scale.** Each worker holds two tasks per local process, takes new ones with one
//! blocking read, looks for expired leases every quarter lease and renews its own every
//! third. Measured with `cargo run --release -p mp-cluster --example workers_scale -- 1 8
//! 32` on a 2-core machine that was running other builds (one local process per worker,
//! tasks of 16 trivial calls):
//!
//! | workers | server commands/s, all idle | items/s | server commands per task | server CPU per task |
//! |---|---|---|---|---|
//! | 1 | 6 | 36 000 | 16.9 | 155 µs |
//! | 8 | 19 | 40 500 | 16.0 | 143 µs |
//! | 32 | 68 | 32 000 | 16.0 | 156 µs |
//!
//! So an idle worker costs the server about 2 commands a second (its blocking reads and
//! lease looks; the caller's reader adds 4), and a task about 16 commands (the caller's
//! write and read, the worker's read, liveness check and the result script) and some
//! 150 µs of one server core. The arithmetic beyond: one Redis core serves about 6 000
//! tasks a second, whatever the number of workers, so make tasks coarse (`chunksize`:
//! 100 calls per task is 600 000 calls a second), and idle workers are cheap (10 000 of
//! them are 20 000 commands a second). A pool is one Redis Cluster hash slot (its keys
//! share the tag `{name}`): to spread one workload over a Redis Cluster, split it over
//! several pools, whose slots spread over the shards.
//!
//! # Delivery
//!
//! - [`Queue`]: a message is acknowledged and deleted as `get` returns it: at most once
//!   from then on, as Python's queue. A consumer that dies before `get` returns loses
//!   nothing: the message is delivered again after the visibility timeout.
//! - [`JoinableQueue`]: at least once. The message stays pending, leased to its
//!   consumer, until `task_done`; if the consumer dies first, another one takes it over
//!   once it has been idle for the visibility timeout (default 30 s). A finished
//!   message is deleted and never seen again. A consumer slower than its lease may see
//!   its message done twice elsewhere.
//! - A `put` whose connection broke in flight is sent again on a new connection, so it
//!   may be stored twice (at least once).
//!
//! What these guarantees rest on is the server's durability, which this crate does not
//! set: with `appendonly yes` and `appendfsync always` an acknowledged `put` survives a
//! crash of the server; with `appendfsync everysec` (Redis's default for AOF) the last
//! second may be lost; without AOF everything since the last snapshot is. Replication is
//! asynchronous: a failover to a replica that had not caught up loses acknowledged
//! writes and may bring back finished messages (delivered again). A server restarted
//! without its data (the tests' case) starts with empty queues; handles go on, creating
//! the queue again.
//!
//! # Connections
//!
//! A [`Cluster`] keeps a few connections per process (a forked child opens its own) and
//! reconnects with a bounded backoff when one breaks ([`ClusterBuilder::reconnect_for`],
//! then [`Error::Unreachable`]); nothing waits forever on a dead server. A blocking
//! `get` waits on the server in slices of at most a second, each with a read timeout
//! above its wait, so a long wait never looks like a dead connection. User and password
//! come from the URL (`redis://user:password@host:6379/`); `rediss://` needs the `tls`
//! feature (rustls, with ring's cryptography unless the program installed another
//! provider first). A server certificate signed by a private authority is trusted
//! through `ClusterBuilder::trust_authorities`, or, in workers that connect through
//! `MP_REDIS_URL`, through `SSL_CERT_FILE`.
//!
//! # Async forms
//!
//! `get_async`, `put_async` and `join_async` return plain futures ([`GetAsync`],
//! [`PutAsync`], [`JoinAsync`]) that work under any executor, tokio or none, as
//! mp-ipc's do. The redis crate's blocking connection does not expose its socket, and
//! its own async connections need a tokio or smol runtime; a connection of our own on
//! mp-sys's reactor would mean a second protocol client and rustls driven by hand for
//! `rediss://`. So a handle runs the commands of its async forms on at most two threads
//! of its own (one for reads, one for puts, acknowledgements and join checks), started
//! on first use and ended with the handle: the same connections, reconnection with
//! backoff and TLS as the blocking forms, the same results and errors, resources
//! bounded per handle whatever the number of futures, and each future woken by the
//! thread that has its outcome (no polling on the caller's side).
//!
//! Dropping a `get_async` future never loses a message: one the read thread already
//! took for it is kept by the handle and returned first by its next `get` or
//! `get_async`; a handle dropped with such a message gives it back to the end of the
//! queue for other consumers. A `JoinableQueue` message returned by `get_async` is
//! leased until `task_done`, as `get`'s.
//!
//! # In Redis
//!
//! One key per queue, the stream `mp:queue:{NAME}` (a Redis Cluster hash tag, so a
//! queue lives on one shard; different queues spread over shards), with the consumer
//! group `mp`. Its expiry ([`QueueBuilder::expire_after`], 7 days by default) is pushed
//! back by every use, so an abandoned queue vanishes; [`Queue::destroy`] deletes it at
//! once. A dropped handle's consumer leaves the group unless it holds unfinished
//! messages, so short-lived processes do not pile up consumers. Messages are encoded with mp-wire (postcard), which is not self-describing: a
//! queue must be read with the type it was written with. A message that does not decode
//! goes back to the end of the queue and the reader gets [`Error::Decode`]; a mismatched
//! type whose bytes happen to decode (an empty string read as `0u64`) is not detected.

mod awaiting;
mod builder;
mod cluster;
mod error;
mod joinable;
mod lane;
mod names;
pub mod pool;
mod queue;
mod registry;
mod sign;
mod stream;
pub mod worker;

pub use awaiting::{GetAsync, JoinAsync, PutAsync};
pub use builder::QueueBuilder;
pub use cluster::{Cluster, ClusterBuilder, URL_ENV};
pub use error::Error;
pub use joinable::JoinableQueue;
pub use pool::{Pool, PoolBuilder};
pub use queue::Queue;
pub use worker::{Worker, WorkerBuilder};
