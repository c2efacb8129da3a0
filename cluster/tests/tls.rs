//! `rediss://` against a real `redis-server` that takes TLS only, with a certificate
//! signed by an authority made for the test: a queue (its blocking and its `_async`
//! forms) and a pool map go through it with the certificate verified, and a client
//! without TLS is refused.
//!
//! The caller trusts the authority through
//! [`ClusterBuilder::trust_authorities`](mp_cluster::ClusterBuilder::trust_authorities);
//! the workers, which connect through `MP_REDIS_URL` alone, through `SSL_CERT_FILE`,
//! which replaces the system's authorities. Run with `--features tls`.

#![cfg(feature = "tls")]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mp_cluster::{Cluster, Error, Pool};
use test_support::PATIENCE;
use test_support::redis::RedisServer;

/// A TLS-only server of this test's own (the error says how to install one).
fn tls_server() -> RedisServer {
    match RedisServer::start_tls() {
        Ok(server) => server,
        Err(err) => panic!("{err}"),
    }
}

/// The PEM file of the authority that signed `server`'s certificate.
fn authority_file(server: &RedisServer) -> &std::path::Path {
    server.authority_file().expect("a TLS server")
}

/// A handle on `server` that verifies its certificate against the test's authority.
fn connect(server: &RedisServer) -> Cluster {
    let authority = std::fs::read(authority_file(server)).expect("the authority's file");
    Cluster::builder(&server.url())
        .trust_authorities(authority)
        .connect()
        .expect("connected over TLS")
}

/// Fails the test if Redis holds any key.
fn assert_nothing_left(server: &RedisServer) {
    assert_eq!(server.keys("*").expect("KEYS"), Vec::<String>::new());
}

/// A worker process (this binary again) that is killed and reaped when dropped.
struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    fn start(server: &RedisServer, pool: &str) -> WorkerProcess {
        let mut command = Command::new("/proc/self/exe");
        command
            .env("MP_CLUSTER_WORKER", pool)
            .env("MP_REDIS_URL", server.url())
            .env("SSL_CERT_FILE", authority_file(server))
            .env("MP_CLUSTER_PROCESSES", "2")
            .env("MP_CLUSTER_LEASE_MS", "600")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        WorkerProcess {
            child: command.spawn().expect("a worker process"),
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn square(n: u64) -> u64 {
    n * n
}

#[test]
fn a_queue_works_over_tls() {
    let server = tls_server();
    let queue = connect(&server).queue::<String>("secured").expect("open");
    for n in 0..10 {
        queue.put(&format!("message {n}")).expect("put");
    }
    for n in 0..10 {
        assert_eq!(
            queue.get_timeout(PATIENCE).expect("get"),
            format!("message {n}")
        );
    }
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
    queue.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn the_async_forms_work_over_tls() {
    let server = tls_server();
    let tasks = connect(&server)
        .joinable_queue::<String>("secured-async")
        .expect("open");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let waiting = tasks.get_async();
        tasks
            .put_async(&"sealed".to_string())
            .await
            .expect("put_async");
        let got = tokio::time::timeout(PATIENCE, waiting)
            .await
            .expect("in time")
            .expect("get_async");
        assert_eq!(got, "sealed");
        tasks.task_done().expect("task_done");
        tokio::time::timeout(PATIENCE, tasks.join_async())
            .await
            .expect("in time")
            .expect("join_async");
    });
    tasks.destroy().expect("destroy");
    drop(tasks);
    assert_nothing_left(&server);
}

#[test]
fn a_pool_maps_over_tls_with_workers_that_trust_the_authority() {
    let server = tls_server();
    let workers: Vec<_> = (0..2)
        .map(|_| WorkerProcess::start(&server, "secured"))
        .collect();
    let cluster = connect(&server);
    {
        let pool = Pool::builder(&cluster, "secured")
            .heartbeat(Duration::from_millis(300))
            .worker_wait(PATIENCE)
            .chunksize(5)
            .build()
            .expect("a pool");
        assert_eq!(
            pool.map(square, 0..50).expect("map"),
            (0..50).map(square).collect::<Vec<_>>()
        );
        pool.close();
        pool.join().expect("join");
    }
    drop(workers);
    // The workers' keys expire three leases after they were killed.
    let empty = test_support::holds_within(
        || server.keys("*").is_ok_and(|keys| keys.is_empty()),
        PATIENCE,
    );
    assert!(empty, "keys left in Redis: {:?}", server.keys("*"));
}

#[test]
fn a_certificate_of_an_unknown_authority_is_refused() {
    let server = tls_server();
    let refused = Cluster::builder(&server.url())
        .reconnect_for(Duration::ZERO)
        .connect();
    let Err(err) = refused else {
        panic!("a server signed by an authority the client does not trust was accepted");
    };
    let message = err.to_string();
    assert!(
        message.contains("certificate") || message.contains("Certificate"),
        "the error does not say the certificate was refused: {message}"
    );
}

#[test]
fn a_client_without_tls_is_refused_with_a_clear_error() {
    let server = tls_server();
    let plain_url = server.url().replacen("rediss://", "redis://", 1);
    let refused = Cluster::builder(&plain_url)
        .reconnect_for(Duration::ZERO)
        .command_timeout(Duration::from_secs(2))
        .connect();
    let Err(err) = refused else {
        panic!("a TLS-only server answered a client without TLS");
    };
    assert!(
        matches!(err, Error::Unreachable { .. }),
        "not an unreachable server: {err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&plain_url) && message.contains("check that the server runs"),
        "the error does not name the URL and what to check: {message}"
    );
}
