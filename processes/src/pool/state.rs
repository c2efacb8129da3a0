//! The pool's bookkeeping, kept under one lock: its workers, the tasks not finished yet,
//! and the backlog of tasks waiting for a free worker. Every rule of what happens when a
//! worker answers, dies or overstays lives here; the supervisor only feeds it events.

use mp_sys::Deadline;
use mp_sys::panic::panic_message;
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::frame::{Reply, TaskHead};
use super::sink::Sink;
use super::slot::{Slot, now_ns};
use crate::error::{BrokenCause, Error, ProtocolFault};
use crate::handle::ProcessHandle;

/// How many times a task goes back to the backlog because the worker it was sent to
/// died before starting it; past that it fails with that worker's death. A task whose
/// very frame kills workers before they can record it can thus not loop for ever.
const MAX_REQUEUES: u32 = 3;

/// How many workers in a row may die before they are ready (their initializer crashed
/// them) before the pool gives up.
const MAX_EARLY_DEATHS: u32 = 3;

/// One worker process and the pool's end of its channel.
pub(crate) struct Link {
    pub(crate) handle: ProcessHandle<()>,
    pub(crate) channel: UnixStream,
    pub(crate) slot: Slot,
    /// The channel reached its end (or broke): it is no longer polled.
    pub(crate) eof: AtomicBool,
    /// Reads the channel ahead, so a reply usually costs the supervisor one system call
    /// (only the supervisor reads it; the lock is never contended).
    pub(crate) reader: Mutex<mp_wire::Reader>,
}

impl Link {
    pub(crate) fn new(handle: ProcessHandle<()>, channel: UnixStream, slot: Slot) -> Self {
        Link {
            handle,
            channel,
            slot,
            eof: AtomicBool::new(false),
            reader: Mutex::new(mp_wire::Reader::new()),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.handle.name()
    }

    /// `SIGKILL`; a worker that is gone already is fine.
    pub(crate) fn kill(&self) {
        if let Err(err) = self.handle.kill() {
            tracing::debug!(name = self.name(), %err, "pool: could not kill a worker");
        }
    }
}

struct Worker {
    link: Arc<Link>,
    /// It said [`Reply::Ready`]: its initializer ran.
    ready: bool,
    /// The task sent to it and not answered yet (one at a time: a worker is sent a task
    /// only when idle, so a send never waits on a busy worker).
    task: Option<u64>,
    /// Tasks sent to it, for `maxtasksperchild`.
    sent: u64,
    /// It gets no more tasks: killed, stopping, or a send to it failed.
    retired: bool,
    /// Its channel was shut for writing: it ends once it reads that.
    stopping: bool,
    /// Why the pool killed it: the error of the item it was running.
    killed_for: Option<Error>,
}

/// A task not finished yet.
pub(crate) struct Task {
    /// [`TaskHead`] then the items, as sent.
    pub(crate) frame: Vec<u8>,
    /// The descriptors of handles in the items.
    pub(crate) fds: Vec<OwnedFd>,
    /// How many items (calls) the task holds.
    pub(crate) len: usize,
    /// Items that failed on their own already (their worker died running them).
    pub(crate) skip: Vec<u32>,
    pub(crate) requeued: u32,
    /// Its sink agreed to its running (it was not cancelled); asked at the first send
    /// only, so that a task sent again after its worker died is not taken for cancelled.
    pub(crate) claimed: bool,
    pub(crate) sink: Arc<dyn Sink>,
}

/// Whether the pool takes tasks.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    Running,
    /// `close()`: no new tasks; the workers end when the last one is done.
    Closed,
    /// `terminate()`: the workers were killed, the unfinished tasks failed.
    Terminated,
    /// The pool cannot work (its initializer fails); the tasks failed with this cause.
    Broken(BrokenCause),
}

/// What to tell a sink, done outside the lock (sinks may run user callbacks).
pub(crate) enum Delivery {
    Results {
        sink: Arc<dyn Sink>,
        frame: Vec<u8>,
        /// Where the outcomes start in `frame`, after the [`Reply`].
        offset: usize,
        fds: Vec<OwnedFd>,
        worker: String,
    },
    ItemFailed {
        sink: Arc<dyn Sink>,
        index: usize,
        error: Error,
    },
    RestFailed {
        sink: Arc<dyn Sink>,
        error: Error,
        skip: Vec<u32>,
    },
}

impl Delivery {
    pub(crate) fn run(self) {
        match self {
            Delivery::Results {
                sink,
                frame,
                offset,
                fds,
                worker,
            } => {
                let outcomes = frame.get(offset..).unwrap_or_default();
                // A `Deserialize` of the user's result type may panic: the supervisor
                // thread must live on, and the task must still get an outcome.
                let delivered = catch_unwind(AssertUnwindSafe(|| {
                    sink.deliver(outcomes, fds, &worker);
                }));
                if let Err(payload) = delivered {
                    let error = Error::ResultDecodePanicked {
                        message: panic_message(&*payload),
                    };
                    sink.fail_rest(error, &[]);
                }
            }
            Delivery::ItemFailed { sink, index, error } => sink.fail_item(index, error),
            Delivery::RestFailed { sink, error, skip } => sink.fail_rest(error, &skip),
        }
    }
}

/// Runs what is to be told to the sinks, after the lock is released.
pub(crate) fn deliver(deliveries: Vec<Delivery>) {
    for delivery in deliveries {
        delivery.run();
    }
}

fn rest_failed(task: Task, error: Error) -> Delivery {
    Delivery::RestFailed {
        sink: task.sink,
        error,
        skip: task.skip,
    }
}

pub(crate) struct State {
    pub(crate) phase: Phase,
    workers: Vec<Worker>,
    tasks: HashMap<u64, Task>,
    backlog: VecDeque<u64>,
    early_deaths: u32,
    /// A worker could not be started: try again from then on.
    pub(crate) retry_start_at: Option<Instant>,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            phase: Phase::Running,
            workers: Vec::new(),
            tasks: HashMap::new(),
            backlog: VecDeque::new(),
            early_deaths: 0,
            retry_start_at: None,
        }
    }

    pub(crate) fn links(&self) -> Vec<Arc<Link>> {
        self.workers
            .iter()
            .map(|worker| Arc::clone(&worker.link))
            .collect()
    }

    pub(crate) fn pids(&self) -> Vec<u32> {
        self.workers
            .iter()
            .filter(|worker| !worker.stopping)
            .map(|worker| worker.link.handle.pid())
            .collect()
    }

    /// Nothing left to do: not running, no worker left to reap, no task left.
    pub(crate) fn finished(&self) -> bool {
        !matches!(self.phase, Phase::Running) && self.workers.is_empty() && self.tasks.is_empty()
    }

    pub(crate) fn add_worker(&mut self, link: Arc<Link>) {
        let doomed = matches!(self.phase, Phase::Terminated | Phase::Broken(_));
        if doomed {
            link.kill();
        }
        self.workers.push(Worker {
            link,
            ready: false,
            task: None,
            sent: 0,
            retired: doomed,
            stopping: false,
            killed_for: None,
        });
    }

    pub(crate) fn add_task(&mut self, id: u64, task: Task) {
        self.tasks.insert(id, task);
        self.backlog.push_back(id);
    }

    /// Sends backlog tasks to idle workers; whether any was sent.
    pub(crate) fn dispatch(&mut self, max_tasks: Option<u64>) -> bool {
        let mut sent_any = false;
        while let Some(&id) = self.backlog.front() {
            let Some(worker) = self.workers.iter_mut().find(|worker| {
                worker.ready
                    && worker.task.is_none()
                    && !worker.retired
                    && max_tasks.is_none_or(|max| worker.sent < max)
            }) else {
                break;
            };
            self.backlog.pop_front();
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            if !task.claimed {
                if !task.sink.claim() {
                    // Cancelled by its caller while it waited: it is never sent.
                    self.tasks.remove(&id);
                    continue;
                }
                task.claimed = true;
            }
            let fds: Vec<BorrowedFd<'_>> = task.fds.iter().map(AsFd::as_fd).collect();
            match mp_wire::send(&worker.link.channel, &task.frame, &fds) {
                Ok(()) => {
                    worker.task = Some(id);
                    worker.sent += 1;
                    sent_any = true;
                    if max_tasks.is_some_and(|max| worker.sent >= max) {
                        // Its last task: it ends after it, so its replacement may start
                        // now, beside it, rather than after it.
                        worker.retired = true;
                    }
                }
                Err(err) => {
                    // Dead, or stalled part way through the frame (the stream is out of
                    // step): either way it is done for. Its sentinel will tell; the task
                    // waits for another worker.
                    tracing::debug!(name = worker.link.name(), %err, "pool: a send to a worker failed");
                    worker.retired = true;
                    worker.link.kill();
                    self.backlog.push_front(id);
                }
            }
        }
        sent_any
    }

    /// A frame from `link`'s worker (or the error of reading one).
    pub(crate) fn on_frame(
        &mut self,
        link: &Arc<Link>,
        frame: Result<(Vec<u8>, Vec<OwnedFd>), mp_shared_mem::Error>,
        out: &mut Vec<Delivery>,
    ) {
        let Some(at) = self.position(link) else {
            return;
        };
        let (bytes, fds) = match frame {
            Ok(frame) => frame,
            Err(err) => return self.kill_for(at, Error::Transfer(err)),
        };
        let (reply, rest) = match postcard::take_from_bytes::<Reply>(&bytes) {
            Ok((reply, rest)) => (reply, rest.len()),
            Err(err) => {
                let fault = ProtocolFault::CorruptReply {
                    detail: err.to_string(),
                };
                return self.kill_for(at, Error::Protocol { fault });
            }
        };
        let offset = bytes.len() - rest;
        match reply {
            Reply::Ready => {
                self.workers[at].ready = true;
                self.early_deaths = 0;
            }
            Reply::InitFailed(message) => {
                let cause = BrokenCause::InitializerPanicked {
                    worker: self.workers[at].link.name().to_owned(),
                    message,
                };
                self.break_down(cause, out);
            }
            Reply::Results { id } => {
                if let Some(task) = self.answered(at, id) {
                    out.push(Delivery::Results {
                        sink: task.sink,
                        frame: bytes,
                        offset,
                        fds,
                        worker: link.name().to_owned(),
                    });
                }
            }
            Reply::BadArgs { id, fault } => {
                if let Some(task) = self.answered(at, id) {
                    let error = Error::ArgumentsNotDecoded {
                        worker: link.name().to_owned(),
                        fault,
                    };
                    out.push(rest_failed(task, error));
                }
            }
            Reply::Unsendable { id, fault } => {
                if let Some(task) = self.answered(at, id) {
                    let error = Error::ResultNotSent {
                        name: link.name().to_owned(),
                        fault,
                    };
                    out.push(rest_failed(task, error));
                }
            }
        }
    }

    /// The worker at `at` answered task `id`: it is idle again, the task is done.
    fn answered(&mut self, at: usize, id: u64) -> Option<Task> {
        let worker = &mut self.workers[at];
        if worker.task != Some(id) {
            tracing::debug!(
                name = worker.link.name(),
                id,
                "pool: an answer to a task the worker was not given"
            );
            return None;
        }
        worker.task = None;
        self.tasks.remove(&id)
    }

    /// `link`'s worker has ended; `death` is why (`None`: it returned, as after
    /// `maxtasksperchild` or when told to stop).
    pub(crate) fn on_death(
        &mut self,
        link: &Arc<Link>,
        death: Option<Error>,
        out: &mut Vec<Delivery>,
    ) {
        let Some(at) = self.position(link) else {
            return;
        };
        let worker = self.workers.remove(at);
        tracing::debug!(
            name = link.name(),
            pid = link.handle.pid(),
            ?death,
            "pool: a worker ended"
        );
        if !worker.ready && !worker.stopping && matches!(self.phase, Phase::Running | Phase::Closed)
        {
            self.early_deaths += 1;
            if self.early_deaths >= MAX_EARLY_DEATHS {
                let cause = BrokenCause::WorkersDiedEarly {
                    count: MAX_EARLY_DEATHS,
                    last: death.map(|error| Box::new(error.clone())),
                };
                return self.break_down(cause, out);
            }
        }
        let Some(id) = worker.task else {
            return;
        };
        let Some(mut task) = self.tasks.remove(&id) else {
            return;
        };
        let error = worker
            .killed_for
            .or(death)
            .unwrap_or_else(|| Error::Exited {
                name: link.name().to_owned(),
                code: 0,
            });
        match link.slot.running().filter(|running| running.task == id) {
            Some(running) if running.item < task.len => {
                // That item fails; the others are run again by another worker.
                out.push(Delivery::ItemFailed {
                    sink: Arc::clone(&task.sink),
                    index: running.item,
                    error,
                });
                task.skip.push(running.item as u32);
                if task.skip.len() >= task.len {
                    return;
                }
                match reframe(&task.frame, &task.skip) {
                    Ok(frame) => {
                        task.frame = frame;
                        self.tasks.insert(id, task);
                        self.backlog.push_front(id);
                    }
                    Err(error) => out.push(rest_failed(task, error)),
                }
            }
            _ => {
                // It never started the task (or was between two items).
                task.requeued += 1;
                if task.requeued > MAX_REQUEUES {
                    out.push(rest_failed(task, error));
                } else {
                    self.tasks.insert(id, task);
                    self.backlog.push_front(id);
                }
            }
        }
    }

    /// Kills the workers whose running item has overstayed `timeout`.
    pub(crate) fn check_timeouts(&mut self, timeout: Duration) {
        let now = now_ns();
        let limit = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        for worker in &mut self.workers {
            let Some(id) = worker.task else { continue };
            if worker.killed_for.is_some() {
                continue;
            }
            let Some(running) = worker
                .link
                .slot
                .running()
                .filter(|running| running.task == id)
            else {
                continue;
            };
            if now.saturating_sub(running.started_ns) >= limit {
                tracing::debug!(
                    name = worker.link.name(),
                    id,
                    item = running.item,
                    "pool: a task overstayed its timeout"
                );
                worker.killed_for = Some(Error::TaskTimedOut { timeout });
                worker.retired = true;
                worker.link.kill();
            }
        }
    }

    /// When the supervisor must look again even if nothing happens: the next task
    /// deadline, or the next attempt to start a worker.
    pub(crate) fn next_wake(&self, timeout: Option<Duration>) -> Option<Instant> {
        let mut wake = self.retry_start_at;
        if let Some(timeout) = timeout {
            let now_ns = now_ns();
            for worker in &self.workers {
                let Some(id) = worker.task else { continue };
                if worker.killed_for.is_some() {
                    continue;
                }
                let left = match worker
                    .link
                    .slot
                    .running()
                    .filter(|running| running.task == id)
                {
                    Some(running) => {
                        let elapsed =
                            Duration::from_nanos(now_ns.saturating_sub(running.started_ns));
                        timeout.saturating_sub(elapsed)
                    }
                    // Not started yet: its deadline is at least a timeout away.
                    None => timeout,
                };
                // A deadline past the clock's end (a huge timeout) is no deadline.
                let Some(at) = Deadline::after(left).instant() else {
                    continue;
                };
                wake = Some(wake.map_or(at, |wake| wake.min(at)));
            }
        }
        wake
    }

    /// After `close()`, once no task waits: tells the idle workers to end.
    pub(crate) fn stop_idle(&mut self) {
        if matches!(self.phase, Phase::Running) || !self.backlog.is_empty() {
            return;
        }
        for worker in &mut self.workers {
            if worker.task.is_none() && !worker.stopping {
                worker.stopping = true;
                worker.retired = true;
                let _ = worker.link.channel.shutdown(std::net::Shutdown::Write);
            }
        }
    }

    /// How many workers to start to get back to `processes`.
    pub(crate) fn replacements_needed(&self, processes: usize) -> usize {
        if self.retry_start_at.is_some_and(|at| Instant::now() < at) {
            return 0;
        }
        let wanted = match self.phase {
            Phase::Running => processes,
            Phase::Closed if !self.backlog.is_empty() => processes,
            _ => 0,
        };
        let working = self.workers.iter().filter(|worker| !worker.retired).count();
        wanted.saturating_sub(working)
    }

    /// A worker could not be started. If no worker is left to run the backlog, its tasks
    /// fail with that error rather than wait for a worker that may never come.
    pub(crate) fn start_failed(&mut self, error: Error, out: &mut Vec<Delivery>) {
        self.retry_start_at = Some(Instant::now() + Duration::from_millis(200));
        if self.workers.iter().any(|worker| !worker.retired) {
            return;
        }
        self.cancel_backlog(error, out);
    }

    /// The tasks no worker has been sent yet fail with `error`.
    pub(crate) fn cancel_backlog(&mut self, error: Error, out: &mut Vec<Delivery>) {
        for id in std::mem::take(&mut self.backlog) {
            if let Some(task) = self.tasks.remove(&id) {
                out.push(rest_failed(task, error.clone()));
            }
        }
    }

    /// `terminate()`: the unfinished tasks fail with `error`, the workers are killed.
    pub(crate) fn shut_down(&mut self, error: Error, out: &mut Vec<Delivery>) {
        self.backlog.clear();
        for (_, task) in self.tasks.drain() {
            out.push(rest_failed(task, error.clone()));
        }
        for worker in &mut self.workers {
            worker.retired = true;
            worker.task = None;
            worker.link.kill();
        }
    }

    fn break_down(&mut self, cause: BrokenCause, out: &mut Vec<Delivery>) {
        tracing::debug!(%cause, "pool: broken");
        self.phase = Phase::Broken(cause.clone());
        self.shut_down(Error::PoolBroken { cause }, out);
    }

    fn kill_for(&mut self, at: usize, error: Error) {
        let worker = &mut self.workers[at];
        tracing::debug!(name = worker.link.name(), %error, "pool: killing a worker that broke its channel");
        worker.link.eof.store(true, Ordering::Relaxed);
        worker.killed_for.get_or_insert(error);
        worker.retired = true;
        worker.link.kill();
    }

    fn position(&self, link: &Arc<Link>) -> Option<usize> {
        self.workers
            .iter()
            .position(|worker| Arc::ptr_eq(&worker.link, link))
    }
}

/// The frame of a task again, with a new skip list.
fn reframe(frame: &[u8], skip: &[u32]) -> Result<Vec<u8>, Error> {
    let corrupt = |err: postcard::Error| Error::Protocol {
        fault: ProtocolFault::TaskFrame {
            detail: err.to_string(),
        },
    };
    let (mut head, items) = postcard::take_from_bytes::<TaskHead>(frame).map_err(corrupt)?;
    head.skip = skip.to_vec();
    let mut rebuilt = postcard::to_allocvec(&head).map_err(corrupt)?;
    rebuilt.extend_from_slice(items);
    Ok(rebuilt)
}

#[cfg(test)]
mod tests {
    //! The rules for bad frames from a worker, on a real (sleeping) child process whose
    //! channel end the test holds.

    use std::time::Duration;

    use super::*;
    use crate::pool::async_result::AsyncResult;
    use crate::process::Process;
    use crate::start_method::StartMethod;
    use mp_futures::Promise;

    fn fake_worker() -> (Arc<Link>, UnixStream) {
        let handle = Process::new(|| std::thread::sleep(Duration::from_secs(60)), ())
            .daemon(true)
            .start_method(StartMethod::Fork)
            .start()
            .unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();
        let link = Arc::new(Link::new(handle, ours, Slot::new().unwrap()));
        (link, theirs)
    }

    /// A ready worker holding task 1 (one item, a `u32` result), and that task's result.
    fn busy_worker() -> (State, Arc<Link>, UnixStream, AsyncResult<u32>) {
        let mut state = State::new();
        let (link, theirs) = fake_worker();
        state.add_worker(Arc::clone(&link));
        let mut out = Vec::new();
        let ready = postcard::to_allocvec(&Reply::Ready).unwrap();
        state.on_frame(&link, Ok((ready, Vec::new())), &mut out);
        let (promise, result) = Promise::<u32, Error>::new();
        let head = TaskHead {
            id: 1,
            entry: 0,
            skip: Vec::new(),
        };
        let (frame, fds) = mp_wire::encode(&(&head, &[(5u32,)][..])).unwrap();
        let sink: Arc<dyn Sink> = Arc::new(promise);
        state.add_task(
            1,
            Task {
                frame,
                fds,
                len: 1,
                skip: Vec::new(),
                requeued: 0,
                claimed: false,
                sink,
            },
        );
        assert!(state.dispatch(None), "an idle ready worker takes the task");
        let (bytes, _) = mp_wire::recv(&theirs, 1024).unwrap();
        assert_eq!(
            postcard::take_from_bytes::<TaskHead>(&bytes).unwrap().0.id,
            1
        );
        assert!(out.is_empty());
        (state, link, theirs, result)
    }

    #[test]
    fn a_corrupt_reply_kills_the_worker_and_fails_the_item_it_ran() {
        let (mut state, link, _theirs, result) = busy_worker();
        link.slot.begin(1, 0, false);
        let mut out = Vec::new();
        state.on_frame(&link, Ok((vec![0xff, 0xff, 0xff], Vec::new())), &mut out);
        let death = link.handle.join_timeout(Duration::from_secs(30)).err();
        assert!(
            matches!(death, Some(Error::Signaled { signal: 9, .. })),
            "the pool killed it: {death:?}"
        );
        state.on_death(&link, death, &mut out);
        out.into_iter().for_each(Delivery::run);
        let error = result.get_timeout(Duration::from_secs(30)).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Protocol {
                    fault: ProtocolFault::CorruptReply { .. }
                }
            ),
            "{error:?}"
        );
        assert!(state.links().is_empty());
        assert_eq!(state.replacements_needed(1), 1);
    }

    #[test]
    fn a_broken_stream_before_the_task_started_sends_it_again() {
        let (mut state, link, _theirs, result) = busy_worker();
        let mut out = Vec::new();
        let truncated = mp_shared_mem::Error::Truncated {
            expected: 100,
            received: 3,
        };
        state.on_frame(&link, Err(truncated), &mut out);
        let death = link.handle.join_timeout(Duration::from_secs(30)).err();
        state.on_death(&link, death, &mut out);
        assert!(out.is_empty(), "not failed: it never ran");
        assert!(!result.ready());
        assert_eq!(
            state.backlog.front(),
            Some(&1),
            "waiting for another worker"
        );
        // No worker will come (say): terminating fails it rather than leave it waiting.
        state.shut_down(Error::Terminated, &mut out);
        out.into_iter().for_each(Delivery::run);
        assert!(matches!(
            result.get_timeout(Duration::from_secs(30)),
            Err(Error::Terminated)
        ));
    }

    #[test]
    fn outcomes_that_do_not_decode_fail_their_task_only() {
        let (mut state, link, _theirs, result) = busy_worker();
        let mut out = Vec::new();
        let mut frame = postcard::to_allocvec(&Reply::Results { id: 1 }).unwrap();
        frame.extend_from_slice(&[1, 0xff]); // one value, then a u32 cut short
        // An answer to a task it was not given is ignored.
        let stray = postcard::to_allocvec(&Reply::Results { id: 9 }).unwrap();
        state.on_frame(&link, Ok((stray, Vec::new())), &mut out);
        assert!(out.is_empty());
        state.on_frame(&link, Ok((frame, Vec::new())), &mut out);
        out.into_iter().for_each(Delivery::run);
        let error = result.get_timeout(Duration::from_secs(30)).unwrap_err();
        assert!(matches!(error, Error::Transfer(_)), "{error:?}");
        // The worker is fine and idle again.
        assert!(link.handle.is_alive());
        let mut out = Vec::new();
        state.shut_down(Error::Terminated, &mut out);
        let _ = link.handle.join_timeout(Duration::from_secs(30));
    }

    #[test]
    fn reframing_keeps_the_items_and_sets_the_skip_list() {
        let head = TaskHead {
            id: 4,
            entry: -12,
            skip: Vec::new(),
        };
        let (frame, _) = mp_wire::encode(&(&head, &[10u32, 20, 30][..])).unwrap();
        let rebuilt = reframe(&frame, &[1, 2]).unwrap();
        let (head, items) = postcard::take_from_bytes::<TaskHead>(&rebuilt).unwrap();
        assert_eq!((head.id, head.entry, head.skip), (4, -12, vec![1, 2]));
        assert_eq!(
            postcard::from_bytes::<Vec<u32>>(items).unwrap(),
            [10, 20, 30]
        );
        assert!(reframe(&[0xff; 3], &[]).is_err());
    }
}
