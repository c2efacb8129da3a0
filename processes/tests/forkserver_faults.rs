//! The forkserver stopped or killed under its parent: a start is bounded and says why,
//! the next start gets a new server, and a child whose server died still gets a
//! definite exit code. The server is shared by every test of a binary, so this binary
//! holds one test, which runs the cases in turn.

use std::time::Duration;

use mp_processes::{
    Error, Process, StartFault, StartMethod, forkserver_pid, set_forkserver_timeout,
};
use test_support::PATIENCE;

fn after_a_nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn signal_server(signal: nix::sys::signal::Signal) -> i32 {
    let pid = forkserver_pid().expect("a forkserver runs");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).expect("signalled");
    pid
}

fn start(ms: u64) -> Result<mp_processes::ProcessHandle<u64>, Error> {
    Process::new(after_a_nap, (ms,))
        .start_method(StartMethod::Forkserver)
        .start()
}

#[test]
fn a_stopped_or_killed_forkserver() {
    // Up and running.
    assert_eq!(start(0).unwrap().join_timeout(PATIENCE).unwrap(), 0);

    // Killed while a child runs: the child's value still arrives, and its exit code
    // is known from its report, though the status died with the server.
    let orphan = start(300).unwrap();
    let silent = start(60_000).unwrap();
    signal_server(nix::sys::signal::Signal::SIGKILL);
    assert_eq!(orphan.join_timeout(PATIENCE).unwrap(), 300);
    assert_eq!(orphan.exitcode(), Some(0));
    // A child killed after its server: it reported nothing, so its status is lost.
    silent.kill().unwrap();
    assert!(matches!(
        silent.join_timeout(PATIENCE),
        Err(Error::StatusLost { .. })
    ));
    assert_eq!(silent.exitcode(), Some(255));

    // A new server for the next start.
    assert_eq!(start(0).unwrap().join_timeout(PATIENCE).unwrap(), 0);

    // Stopped: the start fails at the timeout, and the one after gets a new server.
    set_forkserver_timeout(Duration::from_millis(300));
    let stopped = signal_server(nix::sys::signal::Signal::SIGSTOP);
    match start(0) {
        Err(Error::Start {
            fault: StartFault::ForkserverSilent { .. },
            ..
        }) => {}
        other => panic!("a stopped forkserver: {other:?}"),
    }
    assert_ne!(
        forkserver_pid(),
        Some(stopped),
        "the stopped server was discarded"
    );
    set_forkserver_timeout(PATIENCE);
    assert_eq!(start(0).unwrap().join_timeout(PATIENCE).unwrap(), 0);
}
