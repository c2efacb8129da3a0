//! Python's `queue` module: [`Queue`], [`LifoQueue`], [`PriorityQueue`],
//! [`SimpleQueue`].
//!
//! [`Queue`]: crate::Queue
//! [`LifoQueue`]: crate::LifoQueue
//! [`PriorityQueue`]: crate::PriorityQueue
//! [`SimpleQueue`]: crate::SimpleQueue
//!
//! The public methods of the three bounded kinds are written once, in
//! [`api`], over a [`QueueCore`](api::QueueCore) engine. Which engine serves
//! which kind, and why:
//!
//! * `Queue` (FIFO), the one programs move most items through:
//!   [`lock_free`], items in a crossbeam-queue [`ring`], waiting threads in
//!   [`sleepers`]. Python's own design (one lock, three condition variables)
//!   on parking_lot falls behind crossbeam-channel in mp-bench's four
//!   `thread-queue` rows (1x1 and 4x4 threads, unbounded and bounded to 1024):
//!   the lock's cache line crosses between cores on every operation. The
//!   lock-free engine stays close to crossbeam-channel there; what remains is
//!   mostly the one read-modify-write a `put` needs to count its task and
//!   check for a shutdown. To see both, run
//!   `cargo run --release -p mp-bench -- --filter thread-queue` (several runs:
//!   on a loaded machine single runs spread widely). A bound whose ring would
//!   take over 1 MiB keeps the locked engine, since the ring is allocated up
//!   front.
//! * `LifoQueue` and `PriorityQueue`: [`locked`], Python's design. A binary
//!   heap has no lock-free form worth its complexity, crossbeam-queue has no
//!   stack, and these kinds carry far less traffic.
//! * `SimpleQueue`: a crossbeam channel, since it has no task count and no
//!   shutdown to keep.

pub(crate) mod api;
pub(crate) mod fifo;
pub(crate) mod lifo;
pub(crate) mod lock_free;
pub(crate) mod locked;
pub(crate) mod priority;
pub(crate) mod ring;
pub(crate) mod simple;
pub(crate) mod sleepers;
