//! Running functions in other processes: Python's `multiprocessing.Process`,
//! its start methods and `Pool`.
//!
//! | Python | here |
//! |---|---|
//! | `multiprocessing.cpu_count()` | [`cpu_count()`] |

mod cpu;

pub use cpu::cpu_count;
