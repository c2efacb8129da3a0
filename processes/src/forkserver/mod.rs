//! The forkserver: a fresh, single-threaded run of this binary that forks every child
//! of the [`Forkserver`](crate::StartMethod::Forkserver) method.
//!
//! Started lazily, once per parent process, from the launcher thread. It dies with its
//! parent (`PR_SET_PDEATHSIG`, checked against a parent already gone) and leaves when
//! the parent closes its end of the control socket.
//!
//! Per child, the parent sends a request on the control socket: the call and the
//! child's end of its private socket. The server acknowledges it, forks; the child runs
//! the call; the server answers with the child's pid and a pidfd for it (a request the
//! server never acknowledged, because it died, goes once to a fresh server: see
//! [`protocol`]). The parent then sends the
//! arguments to the child directly. The child is the server's child, so only the server
//! can reap it and read its exit status: it watches each child's pidfd and, when the
//! child has ended, reaps it and writes `(Tag::Status, status)` on the child's socket,
//! after whatever the child wrote there itself. That is how `exitcode` reaches the
//! parent.
//!
//! Daemonic children set `PR_SET_PDEATHSIG` against the server, which lives exactly as
//! long as the parent: killing the parent, even by `SIGKILL`, kills the server and so
//! the daemonic children. Non-daemonic children are left running, as in Python.
//!
//! The parent's side is the [`client`], the server's is the [`server`]; the messages
//! between them are in [`protocol`], which both import and which imports neither.

pub(crate) mod client;
mod protocol;
pub(crate) mod server;
