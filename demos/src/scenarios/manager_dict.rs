//! Beyond the texts, Python's `multiprocessing.Manager`: a server process holds a dict and
//! a list; child processes change them through proxies. Each child adds 1 to a counter
//! in the dict a number of times in two ways: Python's way, `d[k] = d[k] + 1` (a read and
//! a write, two calls to the server, so two processes that read the same value lose one
//! addition), and with `update`, which the server runs as one step (Python's proxies
//! have no such call). Each child also appends its pid to the list.
//!
//! The scenario checks that no `update` was lost and that the list holds every child's
//! pid; the read-then-write count is printed, not checked: it loses additions when the
//! children's calls interleave, which depends on the machine.

use mp::managers::{Dict, List, Manager};
use mp::processes::Process;

use super::process_support::{CHILD_LIMIT, Children, from_child};
use crate::{ChildResult, Context, DemoError, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Child processes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    processes: u32,
    /// Additions each child makes, each way.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    additions: u64,
}

const RACY: &str = "read-then-write";
const ATOMIC: &str = "update";

/// A child: `additions` read-then-write increments, as many `update`s, then its pid.
fn add(counters: Dict<String, u64>, pids: List<u32>, additions: u64) -> ChildResult<()> {
    for _ in 0..additions {
        let seen = counters.get(&RACY.to_owned())?.unwrap_or(0);
        counters.set(&RACY.to_owned(), &(seen + 1))?;
        counters
            .update(&ATOMIC.to_owned(), |value| value.unwrap_or(0) + 1)?;
    }
    Ok(pids.append(&std::process::id())?)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let manager = Manager::start()?;
    let counters = manager.dict::<String, u64>()?;
    let pids = manager.list::<u32>()?;

    let mut children = Children::new();
    let mut started = Vec::new();
    for _ in 0..args.processes {
        let child = children.start(Process::new(
            add,
            (counters.clone(), pids.clone(), args.additions),
        ))?;
        started.push(child.pid());
    }
    for outcome in children.join_all(CHILD_LIMIT)? {
        from_child("an adding child", outcome)?;
    }

    let expected = u64::from(args.processes) * args.additions;
    let racy = counters.get(&RACY.to_owned())?.unwrap_or(0);
    let atomic = counters.get(&ATOMIC.to_owned())?.unwrap_or(0);
    let mut listed = pids.to_vec()?;
    listed.sort_unstable();
    started.sort_unstable();
    println!(
        "{} processes x {} additions each way: read-then-write reached {racy} ({} lost), update reached {atomic}",
        args.processes,
        args.additions,
        expected - racy.min(expected)
    );
    println!("the list holds the children's pids: {listed:?}");
    check(racy <= expected, "read-then-write never counted more than it added")?;
    check_eq("the updates counted on the server", atomic, expected)?;
    check_eq("the pids the children appended", listed, started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn no_update_is_lost_and_every_child_is_listed() {
        run(&Context::new("manager-dict", vec!["--additions".into(), "50".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("manager-dict", run, &[&["--processes", "0"], &["--additions", "0"]]);
    }
}
