//! Objects that many processes share by asking one server process for them: Python's
//! `multiprocessing.Manager`. Use it when processes need a shared *growing* structure (a
//! dict of results, a list of events) that fixed-size shared memory cannot hold, or when
//! processes on other machines need it; each call is a round trip to the server, so for
//! plain numbers that change often, mp-shared-mem's `Value` is far faster.
//!
//! | Python | Rust |
//! |---|---|
//! | `m = multiprocessing.Manager()` | [`Manager::start()`] |
//! | `d = m.dict()` | [`manager.dict::<K, V>()`](Manager::dict) |
//! | `d[k] = v`, `d.get(k)`, `d.pop(k, None)`, `len(d)`, `d.items()` | [`set`](Dict::set), [`get`](Dict::get), [`remove`](Dict::remove), [`len`](Dict::len), [`items`](Dict::items) |
//! | `with lock: d[k] = f(d.get(k))` (Python needs a separate lock) | [`d.update(&k, f)`](Dict::update) |
//! | `l = m.list()`, `l.append(v)`, `l[i]`, `l[i] = v`, `l.pop()`, `list(l)` | [`manager.list::<T>()`](Manager::list), [`append`](List::append), [`get`](List::get), [`set`](List::set), [`pop`](List::pop), [`to_vec`](List::to_vec) |
//! | `Process(target=f, args=(d,))` | `Process::new(f, (d,))`: proxies are arguments like any handle |
//! | `BaseManager(address, authkey).get_server().serve_forever()` | [`serve(address, authkey)`](serve) |
//! | `BaseManager(address, authkey).connect()` | [`Manager::connect(address, authkey)`](Manager::connect), then [`named_dict`](Manager::named_dict) / [`named_list`](Manager::named_list) |
//! | `ns = m.Namespace(); ns.x = 1` / `m.Value('i', 0)` | [`manager.value(&initial)`](Manager::value) for a serde struct: [`get`](Value::get), [`set`](Value::set), [`update`](Value::update) |
//! | `q = m.Queue(maxsize)`, `q.put(v)`, `q.get(timeout=t)`, `q.qsize()` | [`manager.queue::<T>(maxsize)`](Manager::queue), [`put`](Queue::put), [`get_timeout`](Queue::get_timeout), [`qsize`](Queue::qsize) |
//! | `m.Lock()`, `m.Semaphore(n)`, `m.BoundedSemaphore(n)`, `m.Event()`, `m.Barrier(n)`, `m.Condition(lock)` | [`lock`](Manager::lock), [`semaphore`](Manager::semaphore), [`bounded_semaphore`](Manager::bounded_semaphore), [`event`](Manager::event), [`barrier`](Manager::barrier), [`condition`](Manager::condition) |
//! | `lock.acquire(blocking=False)`, `sem.acquire(timeout=t)`, `event.wait(t)`, `cond.wait(t)` | [`lock.try_acquire().is_ok()`](Semaphore::try_acquire), [`sem.acquire_timeout(t).is_ok()`](Semaphore::acquire_timeout), [`event.wait_timeout(t).is_ok()`](Event::wait_timeout), [`cond.wait_timeout(t).is_ok()`](Condition::wait_timeout) (the `Err` says why: [`Error::WouldBlock`], [`Error::TimedOut`], [`Error::ServerGone`]) |
//! | `class M(BaseManager): pass; M.register('T', T); m = M(); m.start(); m.T()` | [`Manager::builder().register::<T>().start()`](ManagerBuilder::register), then [`manager.served::<T>()`](Manager::served) and [`call`](Proxy::call), with `T:` [`Served`] (a typed request and response) |
//! | `m.shutdown()` | drop the [`Manager`] |
//!
//! How it departs from Python:
//! - A registered type is served through one typed request/response call
//!   ([`Served::handle`]), not by exposing its methods one by one.
//! - Proxies are typed: a `Dict<String, u64>` holds serde values of those types, and no
//!   arbitrary object is pickled; keys and values are plain data (no file descriptors).
//! - [`Dict::update`] is an atomic read-modify-write: Python's `d[k] += 1` on a proxy
//!   is a `get` then a `set`, and concurrent processes lose updates.
//!   The change runs in the calling process while the server holds that dict locked
//!   (so it may capture); a caller that panics or dies mid-update closes its
//!   connection, and the server releases the dict unchanged.
//! - The server dying makes every proxy call fail with [`Error::ServerGone`] (the
//!   kernel closes its sockets), never hang; the server is a daemonic child, so it dies
//!   with its owner even when the owner is killed.
//! - A proxy passed to another process connects from there on first use, with the key
//!   it carries (as Python's proxies carry `authkey`).
//! - Blocking calls (`acquire`, `wait`, `get`) wait on the server, each on its own
//!   connection, so a thread blocked in one never holds up another thread's calls; a
//!   blocking call whose server dies returns [`Error::ServerGone`].
//!
//! Messages are postcard frames of mp-wire over mp-ipc's authenticated connections.

mod dict;
mod error;
mod link;
mod list;
mod manager;
mod protocol;
mod queue;
mod served;
mod server;
mod sync;
mod value;
mod waiting;

pub use dict::Dict;
pub use error::{Error, MessageKind, ProtocolFault, Refusal};
pub use list::List;
pub use manager::{Manager, ManagerBuilder};
pub use queue::Queue;
pub use served::{Proxy, Registry, Served};
pub use server::serve;
pub use sync::{Barrier, Condition, Event, Lock, Semaphore};
pub use value::Value;
