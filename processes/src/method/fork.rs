//! The fork method: the launcher thread forks, and the child runs the job on its copy of
//! the parent's memory.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use mp_sys::pidfd;
use mp_sys::process::current_pid;
use serde::Serialize;

use crate::child::run::run_forked;
use crate::error::{Error, StartFault};
use crate::identity::this_process;
use crate::job::Job;
use crate::wire::Identity;
use crate::{fork_guard, launcher};

/// The fork method: forks the launcher thread, which runs the job in the child.
pub(crate) fn start<R: Serialize + 'static>(
    job: Box<dyn Job<R>>,
    identity: Identity,
    child_end: UnixStream,
) -> Result<(i32, OwnedFd), Error> {
    let name = identity.name.clone();
    launcher::run(move || {
        let creator = current_pid();
        let parent_channel = this_process().parent_channel;
        // No panic of another thread may be printing across the fork (see fork_guard);
        // closed first, as a panic hook may write to standard error. Then standard output
        // and error are taken across the fork: another thread printing at that instant
        // would otherwise leave their locks held forever in the child, which prints and
        // flushes them. Held by this thread, they are re-entrant for the child's only
        // thread, the copy of this one.
        fork_guard::install();
        let gate = fork_guard::close();
        let out = std::io::stdout().lock();
        let err = std::io::stderr().lock();
        // SAFETY: after `fork` in a multi-threaded process the child may only rely on what
        // no other thread could have held: this is the documented risk of the fork start
        // method (see StartMethod::Fork). What our child path does first touches no lock
        // that another thread could hold: per-process state is made afresh (mp_sys::PerProcess),
        // and glibc makes `malloc` usable in the child by taking its locks around `fork`.
        // The panic gate and standard output and error are held (above) for the same
        // reason.
        let forked = unsafe { nix::unistd::fork() };
        drop(err);
        drop(out);
        drop(gate);
        match forked {
            Err(errno) => Err(Error::start(&name, StartFault::Fork { errno })),
            Ok(nix::unistd::ForkResult::Child) => {
                // This process's own socket to its parent belongs to it alone.
                if parent_channel >= 0 {
                    // SAFETY: closing a descriptor number; the child never uses the
                    // parent's socket again (its state was made afresh).
                    unsafe { libc::close(parent_channel) };
                }
                run_forked(move || job.run(), identity, child_end, creator)
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                drop(child_end);
                drop(job);
                match pidfd::open(child.as_raw()) {
                    Ok(pidfd) => Ok((child.as_raw(), pidfd)),
                    Err(errno) => {
                        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                        let _ = nix::sys::wait::waitpid(child, None);
                        Err(Error::os("pidfd_open", errno))
                    }
                }
            }
        }
    })?
}
