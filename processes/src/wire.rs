//! What travels on a child's private socket, and how a target's address crosses (the
//! message types only: each message is one frame of mp-wire, sent and received with
//! `mp_wire::send_value`/`recv_value` on the socket, a `UnixStream`, so no message asks
//! the kernel what the socket is).
//!
//! Parent to child (spawn): one [`Call`], then the argument tuple. Forkserver: the
//! `Call` goes to the server with the child's socket, the arguments straight to the
//! child. Child to parent: one frame `(Tag::Outcome, Outcome<R>)`. From the forkserver
//! after it reaped the child: one frame `(Tag::Status, ExitStatus)`; the child wrote
//! before it exited, so the outcome, if any, always comes first.
//!
//! The argument tuple and the outcome go through [`payload`](crate::payload): in the
//! frame, or, when large, in a sealed memfd that the frame carries.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The largest message a child or parent accepts (1 GiB): a corrupt length cannot make
/// it allocate more.
pub(crate) const MAX_MESSAGE_LEN: usize = 1 << 30;
/// The largest [`Call`] or forkserver message.
pub(crate) const MAX_CONTROL_LEN: usize = 1 << 20;

/// Everything a spawned or forkserver child needs besides its arguments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Call {
    /// [`build_id`] of the parent's binary; the child refuses to jump if its own differs.
    pub(crate) build_id: u64,
    /// The trampoline's address minus [`anchor`]'s, in the parent.
    pub(crate) entry: i64,
    pub(crate) child: Identity,
}

/// Who a process is: what `current_process()` and `parent_process()` report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub(crate) name: String,
    pub(crate) daemon: bool,
    /// Python's `_identity`: the child counters from the main process down, which make
    /// default names such as `Process-2:1`.
    pub(crate) counters: Vec<u32>,
    pub(crate) parent_pid: i32,
    pub(crate) parent_name: String,
}

/// The first field of every frame a parent reads from a child's socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Tag {
    /// The child's [`Outcome`].
    Outcome,
    /// The forkserver's [`ExitStatus`] for the child.
    Status,
}

/// A panic caught in a child or a pool worker, as it travels to the parent: what the
/// panic hook shows, so that the parent's error holds all of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PanicReport {
    pub(crate) message: String,
    pub(crate) location: Option<String>,
    pub(crate) backtrace: Option<String>,
}

impl From<mp_sys::panic::CaughtPanic> for PanicReport {
    fn from(caught: mp_sys::panic::CaughtPanic) -> Self {
        PanicReport {
            message: caught.message,
            location: caught.location,
            backtrace: caught.backtrace,
        }
    }
}

impl PanicReport {
    /// The parent's error for this panic, in the process (or worker) named `name`.
    pub(crate) fn into_error(self, name: String) -> crate::Error {
        crate::Error::Panicked {
            name,
            message: self.message,
            location: self.location,
            backtrace: self.backtrace,
        }
    }
}

/// How the target ended, as the child reports it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Outcome<R> {
    Returned(R),
    Panicked(PanicReport),
    /// The child never called the target.
    StartFailed(ChildStartFault),
    /// The target returned, but the value could not be serialized.
    Unsendable(crate::error::SendFault),
}

/// Why a child never called its target, as it reports it (the part of
/// [`StartFault`](crate::StartFault) that crosses from the child).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ChildStartFault {
    DifferentBuild,
    ArgumentsPanicked { message: String },
    ArgumentsUndecodable { detail: String },
}

impl From<ChildStartFault> for crate::StartFault {
    fn from(fault: ChildStartFault) -> Self {
        match fault {
            ChildStartFault::DifferentBuild => crate::StartFault::DifferentBuild,
            ChildStartFault::ArgumentsPanicked { message } => {
                crate::StartFault::ArgumentsPanicked { message }
            }
            ChildStartFault::ArgumentsUndecodable { detail } => {
                crate::StartFault::ArgumentsUndecodable { detail }
            }
        }
    }
}

/// How a process ended, as `waitid` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// Python's `exitcode`: the code, or minus the signal.
    pub(crate) fn exitcode(self) -> i32 {
        match self {
            ExitStatus::Code(code) => code,
            ExitStatus::Signal(signal) => -signal,
        }
    }

    pub(crate) fn from_wait(status: nix::sys::wait::WaitStatus) -> Option<Self> {
        use nix::sys::wait::WaitStatus;
        match status {
            WaitStatus::Exited(_, code) => Some(ExitStatus::Code(code)),
            WaitStatus::Signaled(_, signal, _) => Some(ExitStatus::Signal(signal as i32)),
            _ => None,
        }
    }
}

/// The fixed point that target addresses are measured from. Address-space layout
/// randomization moves the whole binary as one piece, so the distance from this
/// function to any other function of the binary is the same in every run of it.
#[inline(never)]
pub(crate) extern "C" fn anchor() {
    std::hint::black_box(());
}

fn anchor_address() -> usize {
    anchor as extern "C" fn() as usize
}

/// The distance of a function's address from [`anchor`].
pub(crate) fn offset_of(address: usize) -> i64 {
    address.wrapping_sub(anchor_address()) as i64
}

/// The address at `offset` from [`anchor`] in this process.
pub(crate) fn address_at(offset: i64) -> usize {
    anchor_address().wrapping_add(offset as usize)
}

/// Identifies this binary: a hash of the device, inode, size and modification time of
/// `/proc/self/exe`. A child that runs another build (the file replaced between the
/// parent's start and the child's) sees another id and refuses to jump to an address
/// that would mean nothing in it.
pub(crate) fn build_id() -> u64 {
    static ID: OnceLock<u64> = OnceLock::new();
    *ID.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        use std::os::unix::fs::MetadataExt;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        match std::fs::metadata("/proc/self/exe") {
            Ok(meta) => (
                meta.dev(),
                meta.ino(),
                meta.size(),
                meta.mtime(),
                meta.mtime_nsec(),
            )
                .hash(&mut hasher),
            // Without /proc no child can be spawned (children run /proc/self/exe) and a
            // forkserver cannot start; hashing the randomized anchor address makes every
            // other process disagree, so nothing jumps blindly.
            Err(_) => anchor_address().hash(&mut hasher),
        }
        hasher.finish()
    })
}
