//! A server reached over TCP with `serve` and `Manager::connect`, as from another
//! machine: named objects are shared, a wrong key is refused.

use std::time::Instant;

use mp_managers::{Error, Manager};
use mp_processes::Process;
use test_support::PATIENCE;

const KEY: &[u8] = b"the right key";

fn serve_here(address: String) -> Result<(), String> {
    mp_managers::serve(&address, KEY).map_err(|err| err.to_string())
}

/// A loopback address with a port that was free a moment ago.
fn free_address() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().to_string()
}

fn connect_when_listening(address: &str, authkey: &[u8]) -> Result<Manager, Error> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match Manager::connect(address, authkey) {
            Err(Error::ServerGone { .. }) if Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

#[test]
fn clients_share_named_objects_over_tcp_and_a_wrong_key_is_refused() {
    let address = free_address();
    let server = Process::new(serve_here, (address.clone(),))
        .daemon(true)
        .start()
        .unwrap();
    let outcome = std::panic::catch_unwind(|| {
        let first = connect_when_listening(&address, KEY).unwrap();
        let second = Manager::connect(&address, KEY).unwrap();
        first
            .named_dict::<String, u32>("scores")
            .unwrap()
            .set(&"ada".into(), &7)
            .unwrap();
        let seen = second.named_dict::<String, u32>("scores").unwrap();
        assert_eq!(seen.get(&"ada".into()).unwrap(), Some(7));
        second.named_list::<u8>("log").unwrap().append(&1).unwrap();
        assert_eq!(
            first.named_list::<u8>("log").unwrap().to_vec().unwrap(),
            [1]
        );

        let intruder = Manager::connect(&address, b"a wrong key");
        assert!(
            matches!(
                intruder,
                Err(Error::Ipc(mp_ipc::Error::AuthenticationFailed { .. }))
            ),
            "{intruder:?}"
        );
        // The server goes on serving after refusing a peer.
        assert_eq!(seen.len().unwrap(), 1);
    });
    let _ = server.kill();
    let _ = server.join_timeout(PATIENCE);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
