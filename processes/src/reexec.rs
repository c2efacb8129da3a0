//! Running this binary afresh in a [`Role`]: each spawned child, and the forkserver
//! itself. Both need it, so it sits below both.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;

use mp_sys::pidfd;
use mp_sys::process::current_pid;

use crate::error::Error;
use crate::launcher;
use crate::role::{BOOT_ENV, Role, boot_value};

/// Starts `/proc/self/exe` in `role`, with `child_end` as its socket, from the launcher
/// thread: its pid and a pidfd for it.
///
/// `std::process::Command` is what makes this safe in a multi-threaded parent: between
/// its `fork` and `exec` the child does only async-signal-safe work, ours included (one
/// `fcntl`).
pub(crate) fn exec_self(role: Role, child_end: UnixStream) -> Result<(i32, OwnedFd), Error> {
    launcher::run(move || exec_self_here(role, child_end))?
}

fn exec_self_here(role: Role, child_end: UnixStream) -> Result<(i32, OwnedFd), Error> {
    let fd = child_end.as_raw_fd();
    let parent_pid = current_pid();
    let mut command = Command::new("/proc/self/exe");
    command.env(BOOT_ENV, boot_value(role, fd, parent_pid));
    if let Some(arg0) = std::env::args_os().next() {
        command.arg0(arg0);
    }
    // SAFETY: the closure runs in the forked child before `exec`; it only calls `fcntl`,
    // which is async-signal-safe, on a descriptor number copied into it, and allocates
    // nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            // The socket is O_CLOEXEC in the parent, so that no other program inherits
            // it; this child alone keeps it across `exec`.
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().map_err(|err| Error::Start {
        name: role.description().into(),
        reason: format!("cannot run /proc/self/exe: {err}"),
    })?;
    let pid =
        i32::try_from(child.id()).map_err(|_| Error::os("spawn", nix::errno::Errno::ERANGE))?;
    // The child is ours and not reaped, so its pid cannot be reused under us.
    match pidfd::open(pid) {
        Ok(pidfd) => Ok((pid, pidfd)),
        Err(errno) => {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            Err(Error::os("pidfd_open", errno))
        }
    }
}
