//! Connections and Python's `multiprocessing.connection` read each other's frames: a
//! Python `Client` talks to a Rust `Listener`, and a Rust `Client` to a Python
//! `Listener`, over Unix socket files, with `send_bytes`/`recv_bytes`, with and without
//! an authentication key (the key's handshake is whatever the installed Python speaks:
//! HMAC-MD5 up to 3.11, HMAC-SHA256 from 3.12). Runs `python3` (needed in CI).

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use mp_ipc::{Address, Client, Connection, Error, Listener, wait};
use support::recv_bytes_within;
use test_support::PATIENCE;
use test_support::commands::wait_or_kill;

/// Echoes every message reversed until the end of the stream.
const PYTHON_CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client
c = Client(sys.argv[1], family="AF_UNIX")
while True:
    try:
        m = c.recv_bytes()
    except EOFError:
        break
    c.send_bytes(m[::-1])
c.close()
"#;

/// Accepts one connection and echoes every message reversed until the end of the stream.
const PYTHON_LISTENER: &str = r#"
import sys
from multiprocessing.connection import Listener
with Listener(sys.argv[1], family="AF_UNIX") as listener:
    print("listening", flush=True)
    with listener.accept() as c:
        while True:
            try:
                m = c.recv_bytes()
            except EOFError:
                break
            c.send_bytes(m[::-1])
"#;

/// A running `python3`, killed and reaped if the test ends early.
struct Python {
    child: Child,
}

impl Python {
    fn run(script: &str, argument: &Path) -> Self {
        let child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(argument)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed to run these tests");
        Self { child }
    }

    /// Waits for a clean exit, with its stderr in the failure message.
    fn finish(mut self) {
        let status = wait_or_kill(&mut self.child, PATIENCE).expect("python3 still running");
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        assert!(status.success(), "python3 failed: {status}\n{stderr}");
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn socket_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mp-ipc-py-{}-{tag}.sock", std::process::id()))
}

/// Sends messages of several sizes (the 4-byte form and the split send Python uses above
/// 16 KiB) and checks that each comes back reversed.
fn exchange(connection: &Connection<()>) {
    for len in [0usize, 1, 5, 16 * 1024 + 1, 300_000] {
        let message: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        connection.send_bytes(&message).unwrap();
        let mut expected = message.clone();
        expected.reverse();
        assert_eq!(
            recv_bytes_within(connection).unwrap(),
            expected,
            "{len} bytes"
        );
    }
}

#[test]
fn a_python_client_talks_to_a_rust_listener() {
    let path = socket_path("client");
    let listener = Listener::bind(&Address::Unix(path.clone()), None).unwrap();
    let python = Python::run(PYTHON_CLIENT, &path);
    assert_eq!(
        wait(&[&listener], Some(PATIENCE)).unwrap(),
        [0],
        "python3 did not connect"
    );
    let connection = listener.accept::<()>().unwrap();
    exchange(&connection);
    drop(connection);
    python.finish();
    drop(listener);
    assert!(!path.exists());
}

#[test]
fn a_rust_client_talks_to_a_python_listener() {
    let path = socket_path("listener");
    let mut python = Python::run(PYTHON_LISTENER, &path);
    let mut ready = [0u8; 10];
    python
        .child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut ready)
        .expect("python3 did not start listening");
    assert_eq!(&ready, b"listening\n");
    let connection = Client::connect::<()>(&Address::Unix(path.clone()), None).unwrap();
    exchange(&connection);
    drop(connection);
    python.finish();
    assert!(!path.exists(), "Python's listener removes its socket file");
}

#[test]
fn the_end_of_a_python_peer_is_the_end_of_the_stream() {
    let path = socket_path("end");
    let listener = Listener::bind(&Address::Unix(path.clone()), None).unwrap();
    let python = Python::run(
        "import sys\nfrom multiprocessing.connection import Client\n\
         c = Client(sys.argv[1], family='AF_UNIX')\nc.send_bytes(b'bye')\nc.close()\n",
        &path,
    );
    assert_eq!(wait(&[&listener], Some(PATIENCE)).unwrap(), [0]);
    let connection = listener.accept::<()>().unwrap();
    assert_eq!(recv_bytes_within(&connection).unwrap(), b"bye");
    assert!(connection.poll(Some(PATIENCE)).unwrap());
    assert!(matches!(connection.recv_bytes(), Err(Error::PeerClosed)));
    python.finish();
}

/// Connects with the key in argv[2], says hello, prints the reply; prints "refused" if
/// the handshake fails.
const PYTHON_AUTH_CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client
from multiprocessing import AuthenticationError
try:
    c = Client(sys.argv[1], family="AF_UNIX", authkey=sys.argv[2].encode())
except AuthenticationError:
    print("refused", flush=True)
    sys.exit(0)
c.send_bytes(b"hello from python")
print(c.recv_bytes().decode(), flush=True)
c.close()
"#;

/// Listens with the key in argv[2], accepts one connection and echoes one message.
const PYTHON_AUTH_LISTENER: &str = r#"
import sys
from multiprocessing.connection import Listener
from multiprocessing import AuthenticationError
with Listener(sys.argv[1], family="AF_UNIX", authkey=sys.argv[2].encode()) as listener:
    print("listening", flush=True)
    try:
        c = listener.accept()
    except AuthenticationError:
        print("refused", flush=True)
        sys.exit(0)
    with c:
        c.send_bytes(c.recv_bytes()[::-1])
    print("done", flush=True)
"#;

impl Python {
    fn run_with(script: &str, path: &Path, key: &str) -> Self {
        let child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(path)
            .arg(key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed to run these tests");
        Self { child }
    }

    /// Everything it printed, once it has ended cleanly.
    fn output(mut self) -> String {
        let mut stdout = self.child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        self.finish();
        reader.join().expect("stdout reader")
    }
}

#[test]
fn a_python_client_with_the_key_is_accepted() {
    let path = socket_path("auth-client");
    let listener = Listener::bind(&Address::Unix(path.clone()), Some(b"shared secret")).unwrap();
    let python = Python::run_with(PYTHON_AUTH_CLIENT, &path, "shared secret");
    assert_eq!(wait(&[&listener], Some(PATIENCE)).unwrap(), [0]);
    let connection = listener.accept::<()>().unwrap();
    assert_eq!(
        recv_bytes_within(&connection).unwrap(),
        b"hello from python"
    );
    connection.send_bytes(b"hello from rust").unwrap();
    assert_eq!(python.output(), "hello from rust\n");
}

#[test]
fn a_python_client_with_another_key_is_refused_on_both_sides() {
    let path = socket_path("auth-wrong");
    let listener = Listener::bind(&Address::Unix(path.clone()), Some(b"shared secret")).unwrap();
    let python = Python::run_with(PYTHON_AUTH_CLIENT, &path, "guess");
    assert_eq!(wait(&[&listener], Some(PATIENCE)).unwrap(), [0]);
    assert!(matches!(
        listener.accept::<()>(),
        Err(Error::AuthenticationFailed { .. })
    ));
    assert_eq!(python.output(), "refused\n");
}

#[test]
fn a_rust_client_authenticates_with_a_python_listener() {
    for (key, accepted) in [("shared secret", true), ("guess", false)] {
        let path = socket_path(if accepted {
            "auth-listener"
        } else {
            "auth-listener-wrong"
        });
        let mut python = Python::run_with(PYTHON_AUTH_LISTENER, &path, "shared secret");
        let mut ready = [0u8; 10];
        python
            .child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut ready)
            .expect("python3 did not start listening");
        let outcome = Client::connect::<()>(&Address::Unix(path.clone()), Some(key.as_bytes()));
        if accepted {
            let connection = outcome.unwrap();
            connection.send_bytes(b"abc").unwrap();
            assert_eq!(recv_bytes_within(&connection).unwrap(), b"cba");
            drop(connection);
            assert_eq!(python.output(), "done\n");
        } else {
            assert!(matches!(outcome, Err(Error::AuthenticationFailed { .. })));
            assert_eq!(python.output(), "refused\n");
        }
    }
}
