//! `?` takes every crate's error into `mp::Error`, keeping the crate's error as it was
//! (its variant and its `Display`).

use std::time::Duration;

use mp::Error;

/// Returns `error` through `?`, as a function using several crates would.
fn through<E>(error: E) -> mp::Result<()>
where
    Error: From<E>,
{
    Err(error)?;
    Ok(())
}

fn converted<E>(error: E) -> Error
where
    Error: From<E>,
    E: std::fmt::Display,
{
    let text = error.to_string();
    let converted = through(error).expect_err("an error goes through");
    assert_eq!(converted.to_string(), text, "the Display is the crate's");
    converted
}

#[test]
fn sync_errors_and_the_lock_results_that_carry_a_guard() {
    assert!(matches!(
        converted(mp::sync::Error::NotLocked),
        Error::Sync(mp::sync::Error::NotLocked)
    ));
    let lock = mp::sync::Lock::new();
    let guard = lock.lock().expect("a fresh lock");
    assert!(matches!(
        converted(mp::sync::OwnerDied::new(guard)),
        Error::Sync(mp::sync::Error::OwnerDied)
    ));
    assert!(
        !lock.locked(),
        "converting released the lock with its guard"
    );
    let _held = lock.lock().expect("a fresh lock");
    let busy = lock.try_lock().expect_err("held above");
    assert!(matches!(
        converted(busy),
        Error::Sync(mp::sync::Error::WouldBlock)
    ));
}

#[test]
fn shared_memory_wire_and_sys_errors() {
    assert!(matches!(
        converted(mp::shared_mem::Error::ZeroSize),
        Error::SharedMem(mp::shared_mem::Error::ZeroSize)
    ));
    let (bytes, fds) = mp::wire::encode(&1u8).expect("encodes");
    let wire = mp::wire::decode::<(u8, u8)>(&bytes, fds).expect_err("too short");
    assert!(matches!(
        converted(wire),
        Error::Wire(mp::wire::Error::Decode { .. })
    ));
    assert!(matches!(
        converted(mp::sys::Error::FdsTruncated),
        Error::Sys(mp::sys::Error::FdsTruncated)
    ));
}

#[test]
fn ipc_processes_and_threads_errors() {
    assert!(matches!(
        converted(mp::ipc::Error::Empty),
        Error::Ipc(mp::ipc::Error::Empty)
    ));
    assert!(matches!(
        converted(mp::processes::Error::PoolClosed),
        Error::Processes(mp::processes::Error::PoolClosed)
    ));
    assert!(matches!(
        converted(mp::threads::Error::PoolClosed),
        Error::Threads(mp::threads::Error::PoolClosed)
    ));
    assert!(matches!(
        converted(mp::threads::PutError::Full(7u8)),
        Error::Threads(mp::threads::Error::Full)
    ));
}

#[test]
fn managers_errors_and_refusals() {
    assert!(matches!(
        converted(mp::managers::Error::StartTimedOut),
        Error::Managers(mp::managers::Error::StartTimedOut)
    ));
    assert!(matches!(
        converted(mp::managers::Refusal::BrokenBarrier),
        Error::Managers(mp::managers::Error::Refused(
            mp::managers::Refusal::BrokenBarrier
        ))
    ));
}

#[test]
fn future_errors() {
    assert!(matches!(
        converted(mp::futures::FutureError::AlreadyTaken),
        Error::Futures(mp::futures::FutureError::AlreadyTaken)
    ));
}

#[test]
fn a_pool_future_s_error_is_its_pool_s() -> mp::Result<()> {
    let pool = mp::threads::ThreadPool::new(1)?;
    let future = pool.submit(|| 6 * 7, ())?;
    assert_eq!(future.result_timeout(Duration::MAX)?, 42);
    assert!(matches!(
        through(future.result().expect_err("taken above")),
        Err(Error::Threads(mp::threads::Error::AlreadyTaken))
    ));
    Ok(())
}
