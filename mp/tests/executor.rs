//! The seed's lesson "switch between threads and processes by changing one line": the
//! same work, written once against `Executor`, on a thread pool and on a process pool.

use mp::futures::{Executor, as_completed};
use mp::processes::Pool;
use mp::threads::ThreadPool;

fn word_length(word: String) -> usize {
    word.chars().count()
}

/// Written once, for any executor.
fn total_length<X>(executor: &X, words: &[&str]) -> mp::Result<usize>
where
    X: Executor,
    mp::Error: From<X::Error>,
{
    let owned: Vec<String> = words.iter().map(|word| word.to_string()).collect();
    let mut total = 0;
    for length in executor.map(word_length, owned)? {
        total += length?;
    }
    Ok(total)
}

/// Also written once: submit, then take the results as they complete, and tell them
/// apart by their future's id.
fn longest<X>(executor: &X, words: &[&str]) -> mp::Result<String>
where
    X: Executor,
    mp::Error: From<X::Error>,
{
    let mut by_id = std::collections::HashMap::new();
    let mut futures = Vec::new();
    for word in words {
        let future = executor.submit(word_length, (word.to_string(),))?;
        by_id.insert(future.id(), *word);
        futures.push(future);
    }
    let mut best = (0, "");
    for future in as_completed(futures) {
        let word = by_id[&future.id()];
        let length = future.result()?;
        if length > best.0 || (length == best.0 && word < best.1) {
            best = (length, word);
        }
    }
    executor.shutdown(true, false);
    Ok(best.1.to_string())
}

const WORDS: &[&str] = &["thread", "process", "pool", "executor", "future"];

#[test]
fn the_same_work_on_threads_and_on_processes() -> mp::Result<()> {
    let on_threads = ThreadPool::new(2)?;
    let on_processes = Pool::new(2)?;
    assert_eq!(total_length(&on_threads, WORDS)?, 31);
    assert_eq!(total_length(&on_processes, WORDS)?, 31);
    assert_eq!(longest(&on_threads, WORDS)?, "executor");
    assert_eq!(longest(&on_processes, WORDS)?, "executor");
    Ok(())
}
