//! Python's `queue` module: [`Queue`], [`LifoQueue`], [`PriorityQueue`],
//! [`SimpleQueue`].

pub(crate) mod api;
pub(crate) mod fifo;
pub(crate) mod lifo;
pub(crate) mod lock_free;
pub(crate) mod locked;
pub(crate) mod priority;
pub(crate) mod ring;
pub(crate) mod simple;
pub(crate) mod sleepers;
