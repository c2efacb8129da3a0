//! The names a program reaches for first, for a glob import.
//!
//! Where Python has a name twice (a thread `SimpleQueue` and a process one), the
//! prelude holds the one that works between processes; the other stays in its module
//! (`mp::threads::SimpleQueue`). `Mutex` is mp-sync's, which works in shared memory:
//! an explicit `use std::sync::Mutex` still takes precedence over the glob.
//!
//! ```
//! use mp::prelude::*;
//!
//! let event = Event::new();
//! event.set();
//! assert!(event.is_set());
//! ```

pub use crate::{Error, Result};
pub use mp_futures::{Executor, ReturnWhen, as_completed, wait};
pub use mp_ipc::{Connection, JoinableQueue, Queue, SimpleQueue, pipe};
pub use mp_processes::{
    Pool, Process, ProcessHandle, StartMethod, active_children, cpu_count, current_process,
};
pub use mp_shared_mem::{Array, RawArray, RawValue, ShareableList, Shared, SharedMemory, Value};
pub use mp_sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, Mutex, RLock, Semaphore};
pub use mp_threads::{Local, Thread, ThreadPool, Timer, current_thread};
