//! How a fresh run of this binary learns what it is for: the one environment variable
//! both sides read, kept apart from the parent that sets it and the child that reads it.
//!
//! The parent runs `/proc/self/exe` with `MP_PROCESSES_BOOT=<role>:<fd>:<parent pid>`
//! in the environment and the socket `<fd>` left open across `exec`.

use std::os::fd::RawFd;

/// The environment variable that marks a fresh run as a child.
pub(crate) const BOOT_ENV: &str = "MP_PROCESSES_BOOT";

/// What the fresh run of the binary is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A spawned child: read a `Call` and the arguments from the socket.
    Spawn,
    /// A forkserver: serve start requests on the socket.
    Forkserver,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Spawn => "spawn",
            Role::Forkserver => "forkserver",
        }
    }

    /// How errors name the process in this role.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Role::Spawn => "a spawned child",
            Role::Forkserver => "the forkserver",
        }
    }
}

/// The value of [`BOOT_ENV`] for a child in `role` with its socket at `fd`.
pub(crate) fn boot_value(role: Role, fd: RawFd, parent_pid: i32) -> String {
    format!("{}:{fd}:{parent_pid}", role.name())
}

/// The role, socket and parent pid in a value of [`BOOT_ENV`]; `None` if it is not one.
pub(crate) fn parse_boot_value(value: &str) -> Option<(Role, RawFd, i32)> {
    let mut parts = value.split(':');
    let role = match parts.next()? {
        "spawn" => Role::Spawn,
        "forkserver" => Role::Forkserver,
        _ => return None,
    };
    let fd = parts.next()?.parse().ok()?;
    let parent_pid = parts.next()?.parse().ok()?;
    (fd > 2 && parts.next().is_none()).then_some((role, fd, parent_pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_values_round_trip_and_garbage_is_refused() {
        assert_eq!(
            parse_boot_value(&boot_value(Role::Spawn, 7, 42)),
            Some((Role::Spawn, 7, 42))
        );
        assert_eq!(
            parse_boot_value(&boot_value(Role::Forkserver, 3, 1)),
            Some((Role::Forkserver, 3, 1))
        );
        assert_eq!(
            parse_boot_value("spawn:1:5"),
            None,
            "stdio is not a socket of ours"
        );
        assert_eq!(parse_boot_value("spawn:7"), None);
        assert_eq!(parse_boot_value("spawn:7:5:9"), None);
        assert_eq!(parse_boot_value("exec:7:5"), None);
        assert_eq!(parse_boot_value("spawn:x:5"), None);
    }
}
