//! The child's side: everything that runs in a child process and never in its parent.
//!
//! A fresh run of the binary is caught before `main` ([`boot`]); every child then
//! becomes itself ([`setup`]), runs its target ([`run`]) and reports how that went
//! before `_exit` ([`report`], [`exit`]). Nothing here starts a child: that is the parent's side
//! ([`method`](crate::method)), which reaches this module only for the addresses of its
//! trampolines and the fork method's child path.

pub(crate) mod boot;
pub(crate) mod exit;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod setup;
