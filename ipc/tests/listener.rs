//! Listener and Client over Unix socket files, abstract names and TCP, with and without
//! a key: the handshake both ways, wrong keys, peers that do not speak the protocol, slow
//! and silent peers (bounded as a whole, delaying no one else), cleanup of socket files,
//! and a client in another process.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mp_ipc::{
    Address, AddressFault, AuthFault, Client, Connection, Error, HandshakeStep, Listener,
};
use support::{recv_bytes_within, recv_within};
use test_support::{PATIENCE, spawn_child_keeping};

/// A socket path unique to this test process and call, in the temporary directory.
fn socket_path(tag: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "mp-ipc-test-{}-{tag}-{}.sock",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// An abstract name unique to this test process and call.
fn abstract_address(tag: &str) -> Address {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    Address::Abstract(
        format!(
            "mp-ipc-test-{}-{tag}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
        .into_bytes(),
    )
}

/// Runs a client in a thread against `address` and returns its result: it sends
/// `question` and returns the reply.
fn ask(
    address: &Address,
    key: Option<&'static [u8]>,
    question: &str,
) -> std::thread::JoinHandle<Result<String, Error>> {
    let address = address.clone();
    let question = question.to_string();
    std::thread::spawn(move || {
        let connection = Client::connect::<String>(&address, key)?;
        connection.send(&question)?;
        if !connection.poll(Some(PATIENCE))? {
            return Err(Error::Closed);
        }
        connection.recv()
    })
}

/// Accepts one connection, reads a question and answers it.
fn answer(listener: &Listener) -> Result<String, Error> {
    let connection = listener.accept::<String>()?;
    let question = recv_within(&connection)?;
    connection.send(&format!("re: {question}"))?;
    Ok(question)
}

#[test]
fn tcp_with_a_key_authenticates_both_ways() {
    let listener = Listener::bind(&"127.0.0.1:0".parse().unwrap(), Some(b"key")).unwrap();
    let client = ask(listener.address(), Some(b"key"), "hello");
    assert_eq!(answer(&listener).unwrap(), "hello");
    assert_eq!(client.join().unwrap().unwrap(), "re: hello");
}

#[test]
fn a_unix_socket_file_with_a_key_and_its_removal() {
    let path = socket_path("file");
    let listener = Listener::bind(&path.clone().into(), Some(b"key")).unwrap();
    assert!(path.exists());
    for n in 0..3 {
        let client = ask(listener.address(), Some(b"key"), &format!("q{n}"));
        assert_eq!(answer(&listener).unwrap(), format!("q{n}"));
        assert_eq!(client.join().unwrap().unwrap(), format!("re: q{n}"));
    }
    drop(listener);
    assert!(!path.exists(), "the socket file outlived its listener");
}

#[test]
fn an_abstract_name_without_a_key() {
    let listener = Listener::bind(&abstract_address("plain"), None).unwrap();
    let client = ask(listener.address(), None, "plain");
    assert_eq!(answer(&listener).unwrap(), "plain");
    assert_eq!(client.join().unwrap().unwrap(), "re: plain");
}

#[test]
fn a_wrong_key_is_refused_on_both_sides_and_the_listener_goes_on() {
    let listener = Listener::bind(&abstract_address("wrong"), Some(b"right")).unwrap();
    let intruder = ask(listener.address(), Some(b"wrong"), "let me in");
    assert!(matches!(
        listener.accept::<String>(),
        Err(Error::AuthenticationFailed {
            fault: AuthFault::WrongAnswer | AuthFault::Refused,
            ..
        })
    ));
    assert!(matches!(
        intruder.join().unwrap(),
        Err(Error::AuthenticationFailed {
            fault: AuthFault::WrongAnswer | AuthFault::Refused,
            ..
        })
    ));
    let friend = ask(listener.address(), Some(b"right"), "friend");
    assert_eq!(answer(&listener).unwrap(), "friend");
    assert_eq!(friend.join().unwrap().unwrap(), "re: friend");
}

#[test]
fn a_client_without_a_key_is_refused_before_its_message_is_read() {
    let listener = Listener::bind(&"127.0.0.1:0".parse().unwrap(), Some(b"key")).unwrap();
    // The client skips the handshake and sends a message at once: the server takes it for
    // an answer to its challenge and refuses it; no connection comes out of accept.
    let client = ask(listener.address(), None, "sneaky");
    assert!(matches!(
        listener.accept::<String>(),
        Err(Error::AuthenticationFailed { .. })
    ));
    assert!(client.join().unwrap().is_err());
}

#[test]
fn a_server_without_a_key_is_refused_by_a_client_with_one() {
    let listener = Listener::bind(&abstract_address("nokey"), None).unwrap();
    let client = std::thread::spawn({
        let address = listener.address().clone();
        move || Client::connect::<String>(&address, Some(b"key"))
    });
    let server_side = listener.accept::<String>().unwrap();
    // The server speaks first with an ordinary message: not a challenge.
    server_side.send(&"welcome?".to_string()).unwrap();
    assert!(matches!(
        client.join().unwrap(),
        Err(Error::AuthenticationFailed {
            step: HandshakeStep::ReadingChallenge,
            fault: AuthFault::NotAChallenge
        })
    ));
}

#[test]
fn a_silent_peer_cannot_hold_accept() {
    let mut listener = Listener::bind(&"127.0.0.1:0".parse().unwrap(), Some(b"key")).unwrap();
    listener.set_handshake_timeout(Duration::from_millis(100));
    let Address::Tcp(address) = listener.address() else {
        panic!("not TCP")
    };
    let silent = TcpStream::connect(address).unwrap();
    assert!(matches!(listener.accept::<u8>(), Err(Error::TimedOut)));
    drop(silent);
}

#[test]
fn a_silent_peer_does_not_delay_the_accept_of_another() {
    let mut listener = Listener::bind(&"127.0.0.1:0".parse().unwrap(), Some(b"key")).unwrap();
    // Long enough that a handshake run inside accept would fail the test by waiting.
    listener.set_handshake_timeout(PATIENCE);
    let Address::Tcp(address) = listener.address().clone() else {
        panic!("not TCP")
    };
    let silent = TcpStream::connect(address).unwrap();
    // The silent peer is taken first; the keyed client comes after it.
    assert!(
        mp_ipc::wait(&[&listener], Some(PATIENCE))
            .unwrap()
            .contains(&0)
    );
    let client = ask(listener.address(), Some(b"key"), "after the silent one");
    assert_eq!(answer(&listener).unwrap(), "after the silent one");
    assert_eq!(client.join().unwrap().unwrap(), "re: after the silent one");
    // The silent peer's handshake ends when it hangs up, and accept reports it.
    drop(silent);
    assert!(matches!(
        listener.accept::<u8>(),
        Err(Error::AuthenticationFailed { .. })
    ));
}

#[test]
fn dropping_a_listener_ends_the_handshakes_it_runs() {
    let mut listener = Listener::bind(&"127.0.0.1:0".parse().unwrap(), Some(b"key")).unwrap();
    listener.set_handshake_timeout(Duration::MAX);
    let Address::Tcp(address) = listener.address().clone() else {
        panic!("not TCP")
    };
    let mut silent = TcpStream::connect(address).unwrap();
    silent.set_read_timeout(Some(PATIENCE)).unwrap();
    let client = ask(listener.address(), Some(b"key"), "x");
    assert_eq!(answer(&listener).unwrap(), "x");
    client.join().unwrap().unwrap();
    // The silent peer's handshake runs: its challenge came.
    let mut len = [0u8; 4];
    std::io::Read::read_exact(&mut silent, &mut len).unwrap();
    let mut challenge = vec![0u8; u32::from_be_bytes(len) as usize];
    std::io::Read::read_exact(&mut silent, &mut challenge).unwrap();
    assert!(challenge.starts_with(b"#CHALLENGE#"));
    // Dropping the listener shuts that connection down (and joins its thread) instead
    // of waiting for an answer that never comes.
    drop(listener);
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut silent, &mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn oversized_and_corrupt_handshake_messages_are_refused() {
    let listener = Listener::bind(&abstract_address("garbage"), Some(b"key")).unwrap();
    let Address::Abstract(name) = listener.address().clone() else {
        panic!("not abstract")
    };
    let connect_raw = || {
        use std::os::linux::net::SocketAddrExt;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        UnixStream::connect_addr(&address).unwrap()
    };
    // An answer announced at 1 GiB: refused on its length prefix, nothing allocated.
    let mut big = connect_raw();
    big.write_all(&(1u32 << 30).to_be_bytes()).unwrap();
    assert!(matches!(
        listener.accept::<u8>(),
        Err(Error::AuthenticationFailed {
            fault: AuthFault::MessageTooLarge { len, .. },
            ..
        }) if len == 1 << 30
    ));
    // A negative length prefix.
    let mut corrupt = connect_raw();
    corrupt.write_all(&(-7i32).to_be_bytes()).unwrap();
    assert!(matches!(
        listener.accept::<u8>(),
        Err(Error::AuthenticationFailed { .. })
    ));
    // A peer that hangs up at once.
    drop(connect_raw());
    assert!(matches!(
        listener.accept::<u8>(),
        Err(Error::AuthenticationFailed { .. })
    ));
    drop((big, corrupt));
}

#[test]
fn a_client_refuses_challenges_it_cannot_answer() {
    let listener = Listener::bind(&abstract_address("badserver"), None).unwrap();
    type Expected = fn(&AuthFault) -> bool;
    let mut challenges: Vec<(Vec<u8>, Expected)> = vec![
        // A digest Python allows but this side does not offer.
        (
            [b"#CHALLENGE#{sha384}".as_slice(), &[1; 40]].concat(),
            |fault| matches!(fault, AuthFault::UnsupportedDigest { digest } if digest == "sha384"),
        ),
        // Neither a digest name nor the legacy length.
        ([b"#CHALLENGE#".as_slice(), &[2; 25]].concat(), |fault| {
            matches!(fault, AuthFault::MalformedChallenge { len: 25 })
        }),
        // Not a challenge at all.
        (b"hello".to_vec(), |fault| {
            matches!(fault, AuthFault::NotAChallenge)
        }),
    ];
    for (challenge, expected) in challenges.drain(..) {
        let client = std::thread::spawn({
            let address = listener.address().clone();
            move || Client::connect::<u8>(&address, Some(b"key"))
        });
        let server_side = listener.accept::<u8>().unwrap();
        server_side.send_bytes(&challenge).unwrap();
        match client.join().unwrap() {
            Err(Error::AuthenticationFailed { fault, .. }) => {
                assert!(expected(&fault), "unexpected {fault:?}")
            }
            other => panic!("expected AuthenticationFailed, got {other:?}"),
        }
    }
}

#[test]
fn a_legacy_challenge_is_answered_with_hmac_md5() {
    use hmac::{Hmac, KeyInit, Mac};
    let listener = Listener::bind(&abstract_address("legacy"), None).unwrap();
    let client = std::thread::spawn({
        let address = listener.address().clone();
        move || Client::connect::<u8>(&address, Some(b"key"))
    });
    // What Python 3.11 and older send: 20 bare random bytes.
    let server_side = listener.accept::<u8>().unwrap();
    let nonce = [7u8; 20];
    server_side
        .send_bytes(&[b"#CHALLENGE#".as_slice(), &nonce].concat())
        .unwrap();
    let answer = recv_bytes_within(&server_side).unwrap();
    let mut expected = Hmac::<md5::Md5>::new_from_slice(b"key").unwrap();
    expected.update(&nonce);
    assert_eq!(answer, expected.finalize().into_bytes().as_slice());
    server_side.send_bytes(b"#FAILURE#").unwrap();
    assert!(matches!(
        client.join().unwrap(),
        Err(Error::AuthenticationFailed {
            step: HandshakeStep::ReadingVerdict,
            fault: AuthFault::Refused
        })
    ));
}

#[test]
fn binding_a_taken_address_fails_and_leaves_the_owner_alone() {
    let path = socket_path("taken");
    let first = Listener::bind(&path.clone().into(), None).unwrap();
    assert!(matches!(
        Listener::bind(&path.clone().into(), None),
        Err(Error::Os {
            errno: nix::errno::Errno::EADDRINUSE,
            ..
        })
    ));
    // The failed bind removed nothing: clients still reach the first listener.
    let client = ask(first.address(), None, "still there");
    assert_eq!(answer(&first).unwrap(), "still there");
    client.join().unwrap().unwrap();
    let tcp = Listener::bind(&"127.0.0.1:0".parse().unwrap(), None).unwrap();
    assert!(Listener::bind(tcp.address(), None).is_err());
    drop(first);
    assert!(!path.exists());
}

#[test]
fn a_socket_file_replaced_after_bind_is_not_removed() {
    let path = socket_path("replaced");
    let listener = Listener::bind(&path.clone().into(), None).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"someone else's").unwrap();
    drop(listener);
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn connecting_to_nothing_is_a_clear_error() {
    let missing = Address::Unix(socket_path("missing"));
    assert!(matches!(
        Client::connect::<u8>(&missing, None),
        Err(Error::Os {
            errno: nix::errno::Errno::ENOENT,
            ..
        })
    ));
    let closed = {
        let listener = Listener::bind(&"127.0.0.1:0".parse().unwrap(), None).unwrap();
        listener.address().clone()
    };
    assert!(matches!(
        Client::connect::<u8>(&closed, None),
        Err(Error::Os {
            errno: nix::errno::Errno::ECONNREFUSED,
            ..
        })
    ));
    let too_long = Address::Unix(PathBuf::from("x".repeat(200)));
    assert!(matches!(
        Client::connect::<u8>(&too_long, None),
        Err(Error::InvalidAddress {
            fault: AddressFault::Unusable,
            ..
        })
    ));
    assert!(matches!(
        "".parse::<Address>(),
        Err(Error::InvalidAddress {
            fault: AddressFault::Empty,
            ..
        })
    ));
}

#[test]
fn handles_need_a_unix_socket() {
    let listener = Listener::bind(&"127.0.0.1:0".parse().unwrap(), None).unwrap();
    let client: Connection<mp_shared_mem::Segment> =
        Client::connect(listener.address(), None).unwrap();
    let server_side = listener.accept::<mp_shared_mem::Segment>().unwrap();
    assert!(!client.passes_fds());
    let segment = mp_shared_mem::Segment::new(64).unwrap();
    assert!(matches!(
        client.send(&segment),
        Err(Error::FdsNeedUnixSocket { count: 1 })
    ));
    // Nothing was sent; bytes still go.
    client.send_bytes(b"ok").unwrap();
    assert_eq!(recv_bytes_within(&server_side).unwrap(), b"ok");

    let path = socket_path("handles");
    let unix = Listener::bind(&path.into(), None).unwrap();
    let client: Connection<mp_shared_mem::Segment> = Client::connect(unix.address(), None).unwrap();
    let server_side = unix.accept::<mp_shared_mem::Segment>().unwrap();
    client.send(&segment).unwrap();
    let received = recv_within(&server_side).unwrap();
    received.write_at(0, b"via listener").unwrap();
    assert_eq!(&segment.to_vec()[..12], b"via listener");
}

#[test]
fn a_listener_is_ready_when_a_client_waits() {
    let listener = Listener::bind(&abstract_address("ready"), None).unwrap();
    assert!(
        mp_ipc::wait(&[&listener], Some(Duration::ZERO))
            .unwrap()
            .is_empty()
    );
    let _client = Client::connect::<u8>(listener.address(), None).unwrap();
    assert_eq!(mp_ipc::wait(&[&listener], Some(PATIENCE)).unwrap(), [0]);
    let _ = listener.as_fd();
}

#[test]
fn a_client_in_another_process_authenticates_and_talks() {
    let listener = Listener::bind(&"127.0.0.1:0".parse().unwrap(), Some(b"shared key")).unwrap();
    let address = listener.address().clone();
    let mut child = spawn_child_keeping(&[], || {
        let connection =
            Client::connect::<(u32, String)>(&address, Some(b"shared key")).map_err(|_| 2u8)?;
        connection
            .send(&(7, "from the child".to_string()))
            .map_err(|_| 3u8)?;
        let reply = connection.recv().map_err(|_| 4u8)?;
        test_support::ensure(reply == (8, "from the parent".to_string()), 5)
    });
    let connection = listener.accept::<(u32, String)>().unwrap();
    assert_eq!(
        recv_within(&connection).unwrap(),
        (7, "from the child".to_string())
    );
    connection
        .send(&(8, "from the parent".to_string()))
        .unwrap();
    assert_eq!(child.join(), 0);
    assert!(matches!(connection.recv(), Err(Error::PeerClosed)));
}

#[test]
fn addresses_parse_and_print() {
    assert_eq!(
        "[::1]:80".parse::<Address>().unwrap(),
        Address::Tcp("[::1]:80".parse().unwrap())
    );
    assert_eq!(
        "\0name".parse::<Address>().unwrap(),
        Address::Abstract(b"name".to_vec())
    );
    assert_eq!(
        "relative.sock".parse::<Address>().unwrap(),
        Address::Unix("relative.sock".into())
    );
    for text in ["127.0.0.1:5", "@abc", "some/path.sock"] {
        assert_eq!(text.parse::<Address>().unwrap().to_string(), text);
    }
}

/// Runs `work` on a thread; fails the test if it has not returned within `PATIENCE`.
fn returns_within_patience<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    result
        .recv_timeout(PATIENCE)
        .expect("the call did not return in time")
}

#[test]
fn a_client_that_drips_bytes_cannot_hold_accept_past_the_handshake_timeout() {
    let mut listener = Listener::bind(&abstract_address("drip"), Some(b"key")).unwrap();
    listener.set_handshake_timeout(Duration::from_millis(300));
    let Address::Abstract(name) = listener.address().clone() else {
        panic!("not abstract")
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dripper = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
            let mut peer = UnixStream::connect_addr(&address).unwrap();
            // A valid length prefix for a 200-byte answer, then a byte every 100 ms for
            // as long as the test lets it: each read sees progress, the whole never ends.
            let _ = peer.write_all(&200u32.to_be_bytes());
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if peer.write_all(&[0]).is_err() {
                    break;
                }
            }
        })
    };
    let accepted = returns_within_patience(move || listener.accept::<u8>().map(|_| ()));
    assert!(matches!(&accepted, Err(Error::TimedOut)), "{accepted:?}");
    stop.store(true, Ordering::Relaxed);
    dripper.join().unwrap();
}

#[test]
fn a_handshake_timeout_of_duration_max_waits_as_long_as_it_takes() {
    let mut listener = Listener::bind(&abstract_address("forever"), Some(b"key")).unwrap();
    listener.set_handshake_timeout(Duration::MAX);
    let address = listener.address().clone();
    let client = std::thread::spawn(move || {
        let connection = Client::connect_timeout::<u8>(&address, Some(b"key"), Duration::MAX)?;
        connection.send(&7)?;
        Ok::<_, Error>(connection)
    });
    let accepted = returns_within_patience(move || listener.accept::<u8>());
    let connection = accepted.expect("a keyed accept with no time limit succeeds");
    assert_eq!(recv_within(&connection).unwrap(), 7);
    drop(client.join().unwrap().expect("the client connected"));
}

#[test]
fn a_keyed_client_facing_a_keyless_listener_gives_up_at_its_own_timeout() {
    let listener = Listener::bind(&abstract_address("keyless"), None).unwrap();
    let address = listener.address().clone();
    let connected = returns_within_patience(move || {
        Client::connect_timeout::<u8>(&address, Some(b"key"), Duration::from_millis(100))
            .map(|_| ())
    });
    assert!(matches!(&connected, Err(Error::TimedOut)), "{connected:?}");
    drop(listener);
}
