//! 002, shared memory: processes do not share variables, but they can share memory
//! through a `Value` and an `Array`. Five processes each run `worker(num, shared_num,
//! shared_arr)`, which adds `num` (0 to 4) to the shared number and to every element of
//! the shared array; the parent then prints both: 10 and [11, 12, 13, 14, 15].
//!
//! The original has a race: `shared_num.value += num` reads the value under its lock,
//! lets the lock go, and writes the sum under the lock again, so two processes that read
//! the same value lose one of their additions (the same for `shared_arr[i] += num`). It
//! comes out right on most runs, but not every run. Here each addition happens under one
//! hold of the lock (Python's `with shared_num.get_lock(): shared_num.value += num`), so
//! the result is 10 and [11, 12, 13, 14, 15] every run, which the scenario checks
//! (`--rounds N` repeats the whole run N times).

use mp::processes::Process;
use mp::shared_mem::{Array, Value};

use super::process_support::{CHILD_LIMIT, Children, from_child};
use crate::{ChildResult, Context, DemoError, StepContext, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Processes, each adding its number 0, 1, ... (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=64))]
    processes: i32,
    /// How many times to run the whole scenario, each time checking the result.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
}

/// The array the original starts from.
const START: [i32; 5] = [1, 2, 3, 4, 5];

/// The original's `worker`, with each read-modify-write under one hold of the lock.
fn worker(num: i32, shared_num: Value<i32>, shared_arr: Array<i32>) -> ChildResult<()> {
    *shared_num
        .lock()
        .context("locking shared_num")? += num;
    let mut elements = shared_arr
        .lock()
        .context("locking shared_arr")?;
    for element in elements.iter_mut() {
        *element += num;
    }
    Ok(())
}

fn one_round(processes: i32) -> Result<(i32, Vec<i32>), DemoError> {
    let shared_num = Value::new(0i32)?;
    let shared_arr = Array::from_slice(&START)?;
    let mut children = Children::new();
    for num in 0..processes {
        children.start(Process::new(worker, (num, shared_num.clone(), shared_arr.clone())))?;
    }
    let names: Vec<String> = children.handles().iter().map(|h| h.name().to_owned()).collect();
    for (name, outcome) in names.iter().zip(children.join_all(CHILD_LIMIT)?) {
        from_child(name, outcome)?;
    }
    Ok((
        shared_num.get()?,
        shared_arr.to_vec()?,
    ))
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let added: i32 = (0..args.processes).sum();
    let expected: Vec<i32> = START.iter().map(|x| x + added).collect();
    for round in 1..=args.rounds {
        let (shared_num, shared_arr) = one_round(args.processes)?;
        if args.rounds > 1 {
            println!("round {round}:");
        }
        println!("shared_num: {shared_num}");
        println!("shared_arr: {shared_arr:?}");
        check_eq("shared_num", shared_num, added)?;
        check_eq("shared_arr", shared_arr, expected.clone())?;
    }
    println!(
        "(each += held the lock from the read to the write; the original's `v.value += n` \
         lets it go in between and can lose an addition)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn five_processes_add_into_a_value_and_an_array() {
        run(&Context::new("shared-value-array", vec!["--rounds=3".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("shared-value-array", run, &[&["--processes=0"], &["--rounds=0"]]);
    }
}
