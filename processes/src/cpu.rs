//! How many CPUs there are.

/// The number of CPUs this process may run on, as Python's
/// `os.process_cpu_count()`; at least 1.
///
/// Python's `multiprocessing.cpu_count()` counts every CPU of the machine,
/// including those the process is not allowed to use (a container's limit, a
/// `taskset` mask); a pool sized by that oversubscribes. This counts the CPUs
/// the scheduler will actually give the process.
///
/// ```
/// assert!(mp_processes::cpu_count() >= 1);
/// ```
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
