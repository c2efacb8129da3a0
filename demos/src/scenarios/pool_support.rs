//! What the pool scenarios share: a process pool whose every task is bounded, closing and
//! joining it, and the CPU-bound work that the scenarios comparing threads with processes
//! run sequentially, on a thread pool and on a process pool.
//!
//! The work crosses into pool workers as arguments only: a worker of the default start
//! method is a fresh run of the binary and knows nothing of the parent's `--scale` or of
//! its calibration.

use std::hash::{BuildHasher, RandomState};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mp::processes::Pool;
use mp::threads::ThreadPool;

use super::process_support::{ProcessSpan, check_processes_overlapped, from_child};
use super::support::JOIN_LIMIT;
use crate::{ChildFailure, ChildResult, DemoError, check_eq, format_duration, scaled};

/// Far above what any task of these scenarios takes: a task still running after it fails
/// with `TaskTimedOut` and its worker is replaced, so no wait on the pool can hang.
pub(super) const TASK_LIMIT: Duration = Duration::from_secs(120);

/// Python's `Pool(processes)`, with every task bounded by [`TASK_LIMIT`].
pub(super) fn start_pool(processes: usize) -> Result<Pool, DemoError> {
    let pool = Pool::builder()
        .processes(processes)
        .task_timeout(TASK_LIMIT)
        .build()?;
    tracing::debug!(processes, pids = ?pool.worker_pids(), "scenario pool started");
    Ok(pool)
}

/// Python's `p.close(); p.join()`: the tasks submitted finish, then the workers exit and
/// are reaped. Bounded, since every task is.
pub(super) fn close_and_join(pool: &Pool) -> Result<(), DemoError> {
    pool.close();
    pool.join()?;
    tracing::debug!("scenario pool closed and joined");
    Ok(())
}

/// A progress bar over `total` results, counted in `unit`s: drawn on standard output when
/// it is a terminal, hidden otherwise (in `demos all`, in a pipe), where it would be noise.
pub(super) fn progress_bar(total: u64, unit: &str) -> Result<ProgressBar, DemoError> {
    let target = if std::io::stdout().is_terminal() {
        ProgressDrawTarget::stdout()
    } else {
        ProgressDrawTarget::hidden()
    };
    let style = ProgressStyle::with_template(&format!(
        "{{bar:40.cyan/blue}} {{pos}}/{{len}} {unit} [{{elapsed_precise}}, {{eta}} left]"
    ))
    .map_err(DemoError::other)?;
    Ok(ProgressBar::with_draw_target(Some(total), target).with_style(style))
}

/// A random number, different at every call, without a crate for it: the standard
/// library seeds every `RandomState` from the OS.
pub(super) fn random_fraction() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now());
    // The top 53 bits, as a fraction in [0, 1): as Python's `random.random()`.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// One round of the CPU-bound work: a step of xorshift64, which the optimizer cannot
/// skip because every step depends on the one before.
fn step(state: u64) -> u64 {
    let mut x = state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// The CPU-bound work: `rounds` dependent steps from `seed` (never 0, the one fixed
/// point), giving the final state so that every way of running it can be compared.
pub(super) fn burn(rounds: u64, seed: u64) -> u64 {
    let mut state = seed | 1;
    for _ in 0..rounds {
        state = step(std::hint::black_box(state));
    }
    state
}

/// The shortest job the comparisons time: shorter ones would measure thread and process
/// start-up and the scheduler's jitter, not the work.
pub(super) const MIN_CPU_JOB: Duration = Duration::from_millis(100);

/// How long one job runs at scale 1.
pub(super) const CPU_JOB_SECONDS: f64 = 0.5;

/// How many rounds of [`burn`] take about `target` on this machine, in this build.
///
/// Measured here, in the parent, for at least 20 ms; the workers run the same binary, so
/// they run as fast.
pub(super) fn calibrate(target: Duration) -> u64 {
    let sample = 1u64 << 16;
    let started = Instant::now();
    let mut done = 0u64;
    let mut seed = 1;
    while started.elapsed() < Duration::from_millis(20) {
        seed = burn(sample, seed);
        done += sample;
    }
    std::hint::black_box(seed);
    let per_round = started.elapsed().as_secs_f64() / done as f64;
    ((target.as_secs_f64() / per_round) as u64).max(1)
}

/// The size of one CPU-bound job at the scale in force: about
/// [`CPU_JOB_SECONDS`] at scale 1, never under [`MIN_CPU_JOB`].
pub(super) fn cpu_job_rounds() -> u64 {
    calibrate(scaled(CPU_JOB_SECONDS).max(MIN_CPU_JOB))
}

/// What a job of the comparisons hands back: its result, when it ran on the machine's
/// monotonic clock, and the CPU time its thread spent on it.
pub(super) type JobReport = (u64, ProcessSpan, Duration);

/// The CPU time the calling thread has used so far.
fn thread_cpu_time() -> ChildResult<Duration> {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .map_err(|errno| ChildFailure::new(format_args!("reading the thread's CPU clock: {errno}")))
}

/// Runs `work`, reporting it as a job of the comparisons.
fn timed_job(work: impl FnOnce() -> u64) -> ChildResult<JobReport> {
    let cpu_before = thread_cpu_time()?;
    let (result, span) = ProcessSpan::around(work)?;
    let cpu = thread_cpu_time()?.saturating_sub(cpu_before);
    Ok((result, span, cpu))
}

/// The CPU-bound job: `rounds` of [`burn`] from `seed`.
pub(super) fn cpu_job(rounds: u64, seed: u64) -> ChildResult<JobReport> {
    timed_job(|| burn(rounds, seed))
}

/// The I/O-bound job: a sleep of `micros` microseconds, standing for a wait on a
/// network or a disk; its result is its seed.
pub(super) fn io_job(micros: u64, seed: u64) -> ChildResult<JobReport> {
    timed_job(|| {
        std::thread::sleep(Duration::from_micros(micros));
        seed
    })
}

/// How each way of running the same jobs went: wall time, and each job's result.
pub(super) struct Run {
    pub(super) wall: Duration,
    pub(super) results: Vec<u64>,
    pub(super) spans: Vec<ProcessSpan>,
    /// The CPU time all the jobs used together.
    pub(super) cpu: Duration,
}

impl Run {
    fn from_jobs(
        wall: Duration,
        outcomes: impl IntoIterator<Item = ChildResult<JobReport>>,
    ) -> Result<Self, DemoError> {
        let mut results = Vec::new();
        let mut spans = Vec::new();
        let mut cpu = Duration::ZERO;
        for outcome in outcomes {
            let (result, span, used) = from_child("a job", outcome)?;
            results.push(result);
            spans.push(span);
            cpu += used;
        }
        Ok(Self {
            wall,
            results,
            spans,
            cpu,
        })
    }

    /// How many times faster than `baseline` this run was.
    pub(super) fn speedup(&self, baseline: &Run) -> f64 {
        baseline.wall.as_secs_f64() / self.wall.as_secs_f64().max(f64::EPSILON)
    }

    /// How many CPUs the jobs kept busy on average: their CPU time over the wall time.
    /// With a GIL, threads could not pass 1.
    pub(super) fn cpus_busy(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(f64::EPSILON)
    }
}

/// The seeds of `jobs` jobs: all different, so no job's result stands for another's.
pub(super) fn job_seeds(jobs: usize) -> Vec<u64> {
    (1..=jobs as u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect()
}

/// What a job of the comparisons is: a function of its size and its seed, run in this
/// thread, on a pool thread or in a pool worker alike, that returns its result and when
/// it ran.
pub(super) trait Job:
    Fn(u64, u64) -> ChildResult<JobReport>
    + mp::processes::Target<(u64, u64), Output = ChildResult<JobReport>>
{
}

impl<F> Job for F where
    F: Fn(u64, u64) -> ChildResult<JobReport>
        + mp::processes::Target<(u64, u64), Output = ChildResult<JobReport>>
{
}

/// The jobs one after another, in this thread.
pub(super) fn run_sequential(seeds: &[u64], job: impl Job, size: u64) -> Result<Run, DemoError> {
    let started = Instant::now();
    let outcomes: Vec<_> = seeds.iter().map(|&seed| job(size, seed)).collect();
    Run::from_jobs(started.elapsed(), outcomes)
}

/// The jobs on a thread pool of one worker per job.
pub(super) fn run_on_threads(seeds: &[u64], job: impl Job, size: u64) -> Result<Run, DemoError> {
    let pool = ThreadPool::new(seeds.len())?;
    let started = Instant::now();
    let outcomes = pool
        .map_timeout(move |seed: u64| job(size, seed), seeds.to_vec(), JOIN_LIMIT)?
        .collect::<Result<Vec<_>, _>>();
    let wall = started.elapsed();
    pool.shutdown(true, false);
    Run::from_jobs(wall, outcomes?)
}

/// The jobs on a process pool of one worker per job, one job per task (the workers start
/// before the clock does: the comparison is of running the work, not of starting
/// workers).
pub(super) fn run_on_processes(seeds: &[u64], job: impl Job, size: u64) -> Result<Run, DemoError> {
    let pool = start_pool(seeds.len())?;
    // A round of trivial tasks before the clock starts, one per worker, so that workers
    // still starting up (a busy machine can take a while) do not count as work time.
    pool.chunked(1).map(|n: usize| n, 0..seeds.len())?;
    let started = Instant::now();
    let outcomes = pool
        .chunked(1)
        .starmap(job, seeds.iter().map(|&seed| (size, seed)))?;
    let wall = started.elapsed();
    close_and_join(&pool)?;
    Run::from_jobs(wall, outcomes)
}

/// Sequential, threads and processes over the same jobs.
pub(super) struct Comparison {
    pub(super) sequential: Run,
    pub(super) threads: Run,
    pub(super) processes: Run,
}

impl Comparison {
    /// Runs `jobs` jobs of `size` each the three ways.
    pub(super) fn measure(jobs: usize, job: impl Job, size: u64) -> Result<Self, DemoError> {
        let seeds = job_seeds(jobs);
        Ok(Self {
            sequential: run_sequential(&seeds, job, size)?,
            threads: run_on_threads(&seeds, job, size)?,
            processes: run_on_processes(&seeds, job, size)?,
        })
    }

    /// For CPU-bound jobs: a note when one job alone, run in this thread, did not keep a
    /// whole CPU busy, which means other programs were taking the CPUs and every speed-up
    /// of this run is lower than an idle machine would give.
    pub(super) fn load_note(&self) -> Option<String> {
        let alone = self.sequential.cpus_busy();
        (alone < 0.9).then(|| {
            format!(
                "(the jobs run one after another kept only {alone:.2} of a CPU busy: other \
                 programs are using the CPUs, so the speed-ups are lower than on an idle machine)"
            )
        })
    }

    /// The comparison's lines of a table (see [`TABLE_HEADER`]).
    pub(super) fn table(&self, work: &str) -> String {
        [
            ("sequential", &self.sequential),
            ("threads", &self.threads),
            ("processes", &self.processes),
        ]
        .iter()
        .map(|(way, run)| table_line(work, way, run, &self.sequential))
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// The checks that hold on any machine, however loaded: every way computed the same
    /// results, and on threads and on processes the jobs ran at the same time.
    pub(super) fn check(&self, what: &str) -> Result<(), DemoError> {
        self.check_results(what)?;
        check_processes_overlapped(format_args!("{what} on threads"), &self.threads.spans)?;
        check_processes_overlapped(format_args!("{what} on processes"), &self.processes.spans)
    }

    /// Every way computed the same results.
    fn check_results(&self, what: &str) -> Result<(), DemoError> {
        check_eq(
            format_args!("{what}: the threads' results"),
            &self.threads.results,
            &self.sequential.results,
        )?;
        check_eq(
            format_args!("{what}: the processes' results"),
            &self.processes.results,
            &self.sequential.results,
        )
    }
}

/// One line of a comparison table: the way, its wall time, its speed-up, the CPUs it
/// kept busy.
fn table_line(work: &str, way: &str, run: &Run, baseline: &Run) -> String {
    format!(
        "| {work:<9} | {way:<10} | {:>10} | {:>6.2}x | {:>9.2} |",
        format_duration(run.wall),
        run.speedup(baseline),
        run.cpus_busy()
    )
}

/// The header of the comparison table.
pub(super) const TABLE_HEADER: &str = "| work      | way        |       wall | speedup | CPUs busy |\n|-----------|------------|------------|---------|-----------|";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_is_deterministic_and_depends_on_its_size() {
        assert_eq!(burn(1000, 7), burn(1000, 7));
        assert_ne!(burn(1000, 7), burn(1001, 7));
        assert_ne!(burn(1000, 7), burn(1000, 9));
        assert_ne!(burn(10, 0), 0, "a zero seed does not stick at 0");
    }

    #[test]
    fn random_fractions_are_fractions_and_vary() {
        let draws: Vec<f64> = (0..20).map(|_| random_fraction()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(draws.iter().any(|x| *x != draws[0]));
    }

    #[test]
    fn calibration_sizes_a_job_near_its_target() {
        let rounds = calibrate(Duration::from_millis(30));
        assert!(rounds > 1);
        let seeds = job_seeds(2);
        assert_eq!(seeds.len(), 2);
        assert_ne!(seeds[0], seeds[1]);
    }

    #[test]
    fn a_comparison_with_different_results_fails_its_check() {
        let mut comparison = Comparison::measure(2, cpu_job, 1000).unwrap();
        comparison.check_results("test").unwrap();
        comparison.processes.results[1] ^= 1;
        let err = comparison.check_results("test").unwrap_err();
        assert!(err.to_string().contains("processes' results"), "{err}");
    }
}
