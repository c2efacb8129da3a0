//! Running the target in the child: the jump from a [`Call`]'s offset to the
//! trampoline of the target's type, the trampoline itself (arguments in, target called,
//! outcome out), and the fork method's closure.

use mp_sys::panic::{catch_reporting, panic_message};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::report::finish;
use super::setup::become_child;
use crate::payload;
use crate::target::{Stateless, Target};
use crate::wire::{self, Call, ChildStartFault, Identity, MAX_MESSAGE_LEN, Outcome};

/// The child side of the spawn and forkserver methods, once the [`Call`] is known: checks
/// that this is the parent's binary and jumps to the target's trampoline.
pub(crate) fn run_call(call: Call, channel: UnixStream, creator_pid: i32) -> ! {
    become_child(call.child, &channel, creator_pid);
    if call.build_id != wire::build_id() {
        finish::<()>(
            &channel,
            Outcome::StartFailed(ChildStartFault::DifferentBuild),
        );
    }
    let address = wire::address_at(call.entry);
    // SAFETY: the parent computed `call.entry` from the address of `entry::<F, A, R>`, a
    // `fn(UnixStream) -> !`, in the same binary (the build ids match), and the distance
    // between two functions of one binary is the same in every process running it. So
    // `address` is that function in this process.
    let trampoline = unsafe { std::mem::transmute::<usize, fn(UnixStream) -> !>(address) };
    trampoline(channel)
}

/// The trampoline, one per target type: receives the arguments, calls the target, sends
/// back what it returned (or its panic) and exits. Its address is what crosses.
pub(crate) fn entry<F, A, R>(channel: UnixStream) -> !
where
    F: Target<A, Output = R>,
    A: DeserializeOwned,
    R: Serialize,
{
    // A `Deserialize` impl may panic: that must not unwind out of the child's path.
    let received = catch_unwind(AssertUnwindSafe(|| {
        payload::recv_value::<A>(&channel, MAX_MESSAGE_LEN)
    }));
    let outcome = match received {
        Err(payload) => Outcome::StartFailed(ChildStartFault::ArgumentsPanicked {
            message: panic_message(&*payload),
        }),
        Ok(Err(err)) => Outcome::StartFailed(ChildStartFault::ArgumentsUndecodable {
            detail: err.to_string(),
        }),
        Ok(Ok(args)) => {
            let target = conjure::<F>();
            // Printed by the child, as Python prints a child's traceback, and sent whole.
            match catch_reporting(move || target.call(args)) {
                Ok(value) => Outcome::Returned(value),
                Err(caught) => Outcome::Panicked(caught.into()),
            }
        }
    };
    finish(&channel, outcome)
}

/// The address of `entry::<F, A, R>`, as an offset from the anchor.
pub(crate) fn entry_offset<F, A, R>() -> i64
where
    F: Target<A, Output = R>,
    A: DeserializeOwned,
    R: Serialize,
{
    wire::offset_of(entry::<F, A, R> as fn(UnixStream) -> ! as usize)
}

/// The one value of a zero-sized function type.
pub(crate) fn conjure<F: Copy + 'static>() -> F {
    let () = Stateless::<F>::CHECK;
    // SAFETY: `F` has size zero (checked when this is compiled, above), so reading it reads no
    // bytes and any aligned non-null pointer will do. `F` is a function item or a closure
    // that captures nothing (Process::new requires a zero-sized `Target`), so it has exactly
    // one value, and that value is what the parent had; `F: Copy`, so making one duplicates
    // no ownership.
    unsafe { std::ptr::NonNull::<F>::dangling().as_ptr().read() }
}

/// Runs a job in a forked child (the fork start method).
pub(crate) fn run_forked<R: Serialize>(
    job: impl FnOnce() -> R,
    identity: Identity,
    channel: UnixStream,
    creator_pid: i32,
) -> ! {
    become_child(identity, &channel, creator_pid);
    let outcome = match catch_reporting(job) {
        Ok(value) => Outcome::Returned(value),
        Err(caught) => Outcome::Panicked(caught.into()),
    };
    finish(&channel, outcome)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mp_sys::process::current_pid;
    use mp_sys::{Deadline, pidfd};

    use super::*;
    use crate::error::Error;
    use crate::record::Record;
    use crate::start_method::StartMethod;

    #[test]
    fn a_child_of_another_build_refuses_to_jump() {
        let (parent_end, child_end) = UnixStream::pair().unwrap();
        let parent_pid = current_pid();
        let call = Call {
            build_id: wire::build_id() ^ 1,
            // Would be a wild jump, were it taken.
            entry: 0x1234,
            child: Identity {
                name: "other-build".into(),
                daemon: false,
                counters: vec![1],
                parent_pid,
                parent_name: "MainProcess".into(),
            },
        };
        // As the fork start method does: no other thread may hold these across the fork.
        let out = std::io::stdout().lock();
        let err = std::io::stderr().lock();
        // SAFETY: the child only runs `run_call`, which ends in `_exit`; the locks it
        // needs are held by this thread across the fork (above), and malloc is made
        // fork-safe by glibc.
        let forked = unsafe { nix::unistd::fork() }.unwrap();
        drop(err);
        drop(out);
        let child = match forked {
            nix::unistd::ForkResult::Child => run_call(call, child_end, parent_pid),
            nix::unistd::ForkResult::Parent { child } => child,
        };
        drop(child_end);
        let pidfd = pidfd::open(child.as_raw()).unwrap();
        let record = Record::new(
            child.as_raw(),
            "other-build".into(),
            false,
            StartMethod::Fork,
            pidfd,
            parent_end,
        );
        let deadline = Deadline::after(Duration::from_secs(30));
        match record.take_value::<()>(deadline) {
            Err(Error::Start {
                fault: crate::StartFault::DifferentBuild,
                ..
            }) => {}
            other => panic!("expected a start error, got {other:?}"),
        }
        assert_eq!(record.exitcode(), Some(1));
    }
}
