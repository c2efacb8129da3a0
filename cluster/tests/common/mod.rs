//! What every test of this crate needs: its own redis-server, a cluster handle on it,
//! and the check that the test left nothing in Redis.

#![allow(dead_code)]

use std::time::Duration;

use mp_cluster::Cluster;
use test_support::redis::RedisServer;

/// A fresh server of this test's own (the error says how to install one).
pub fn server() -> RedisServer {
    match RedisServer::start() {
        Ok(server) => server,
        Err(err) => panic!("{err}"),
    }
}

/// A handle on `server`, quick to give up when the server is gone.
pub fn cluster(server: &RedisServer) -> Cluster {
    Cluster::builder(&server.url())
        .reconnect_for(Duration::from_secs(5))
        .connect()
        .expect("connect to the test's redis-server")
}

/// Fails the test if Redis holds any key.
pub fn assert_nothing_left(server: &RedisServer) {
    assert_eq!(server.keys("*").expect("KEYS"), Vec::<String>::new());
}
