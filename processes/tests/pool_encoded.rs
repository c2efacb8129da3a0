//! Encoded tasks (the seam mp-cluster carries between machines): they run on a local
//! pool like any task, their outcomes survive a round trip through bytes, a call that
//! kills its worker fails alone, and bytes that are not the function's arguments fail the
//! task without harming the pool.

use mp_processes::pool::{EncodedOutcomes, EncodedTask, ItemFailure};
use mp_processes::{Error, Pool, ProtocolFault, StartMethod};
use test_support::PATIENCE;

fn double(n: u64) -> u64 {
    n * 2
}

fn abort_on_three(n: u64) -> u64 {
    if n == 3 {
        std::process::abort();
    }
    n
}

fn pool(processes: usize) -> Pool {
    Pool::builder()
        .processes(processes)
        .start_method(StartMethod::Forkserver)
        .build()
        .expect("a pool")
}

/// Through bytes and back, as the outcomes cross between machines.
fn across(outcomes: EncodedOutcomes) -> EncodedOutcomes {
    let bytes = postcard::to_allocvec(&outcomes).expect("outcomes serialize");
    postcard::from_bytes(&bytes).expect("outcomes deserialize")
}

fn run(pool: &Pool, task: EncodedTask) -> EncodedOutcomes {
    across(
        pool.submit_encoded(task)
            .expect("submitted")
            .result_timeout(PATIENCE)
            .expect("settled"),
    )
}

#[test]
fn a_task_carried_as_parts_runs_and_its_outcomes_decode() {
    let pool = pool(2);
    let items: Vec<(u64,)> = (0..100).map(|n| (n,)).collect();
    let (entry, bytes, len) = EncodedTask::new(double, &items)
        .expect("encoded")
        .into_parts();
    // SAFETY: the parts were made by `EncodedTask::new` in this process, just above.
    let task = unsafe { EncodedTask::from_parts(entry, bytes, len) };
    let values: Vec<u64> = run(&pool, task)
        .decode::<u64>(100)
        .expect("decodes")
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every call returns");
    assert_eq!(values, (0..100).map(double).collect::<Vec<_>>());
}

#[test]
fn a_call_that_kills_its_worker_fails_alone_and_the_rest_return() {
    let pool = pool(1);
    let items: Vec<(u64,)> = (0..6).map(|n| (n,)).collect();
    let task = EncodedTask::new(abort_on_three, &items).expect("encoded");
    let outcomes = run(&pool, task);
    assert!(!outcomes.did_not_run());
    let results = outcomes.decode::<u64>(6).expect("decodes");
    for (n, result) in results.into_iter().enumerate() {
        match (n, result) {
            (3, Err(ItemFailure::Signaled { signal_name, .. })) => {
                assert_eq!(signal_name, "SIGABRT")
            }
            (n, Ok(value)) if n != 3 => assert_eq!(value, n as u64),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    // The pool replaced its worker and goes on.
    assert_eq!(pool.apply(double, (21,)).expect("runs"), 42);
}

#[test]
fn bytes_that_are_not_the_arguments_fail_the_task_cleanly() {
    let pool = pool(1);
    let (entry, _, _) = EncodedTask::new(double, &[(1u64,)])
        .expect("encoded")
        .into_parts();
    for garbage in [vec![], vec![0xff; 3], vec![5, 1, 2]] {
        // SAFETY: `entry` comes from `EncodedTask::new` in this process; only the
        // argument bytes are wrong, which the worker must reject, not run.
        let task = unsafe { EncodedTask::from_parts(entry, garbage.clone(), 1) };
        let outcomes = run(&pool, task);
        let failed = match outcomes.decode::<u64>(1) {
            Ok(results) => results.into_iter().all(|result| result.is_err()),
            Err(_) => true,
        };
        assert!(failed, "{garbage:?} ran as arguments");
    }
    assert_eq!(pool.apply(double, (4,)).expect("the pool goes on"), 8);
}

#[test]
fn outcomes_of_another_type_or_length_are_an_error_not_a_value() {
    let pool = pool(1);
    let task = EncodedTask::new(|s: String| s, &[("text".to_owned(),)]).expect("encoded");
    let outcomes = run(&pool, task);
    assert!(matches!(
        outcomes.clone().decode::<String>(2),
        Err(Error::Protocol {
            fault: ProtocolFault::OutcomeCount {
                values: 1,
                others: 0,
                items: 2
            }
        })
    ));
    // Postcard is not self-describing: a type is refused where its bytes cannot be that
    // type (the string's length byte, 4, is no `bool`).
    assert!(outcomes.clone().decode::<bool>(1).is_err());
    assert_eq!(
        outcomes.decode::<String>(1).expect("decodes"),
        [Ok("text".to_owned())]
    );
}

#[test]
fn a_terminated_pool_says_the_calls_did_not_run() {
    let pool = pool(1);
    // Occupy the one worker, so that the encoded task waits in the backlog.
    let busy = pool
        .apply_async(
            |ms: u64| std::thread::sleep(std::time::Duration::from_millis(ms)),
            (60_000,),
        )
        .expect("submitted");
    let task = EncodedTask::new(double, &[(1,), (2,)]).expect("encoded");
    let waiting = pool.submit_encoded(task).expect("submitted");
    pool.terminate();
    let outcomes = across(waiting.result_timeout(PATIENCE).expect("settled"));
    assert!(outcomes.did_not_run());
    for result in outcomes.decode::<u64>(2).expect("decodes") {
        assert!(matches!(result, Err(ItemFailure::PoolUnavailable { .. })));
    }
    assert!(busy.get_timeout(PATIENCE).is_err());
}

#[test]
fn arguments_holding_a_descriptor_cannot_be_encoded() {
    let segment = mp_shared_mem::Segment::new(4096).expect("a segment");
    let result = EncodedTask::new(|s: mp_shared_mem::Segment| s.size(), &[(segment,)]);
    assert!(matches!(result, Err(Error::Transfer(_))), "{result:?}");
}
