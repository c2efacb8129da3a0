//! Children that ended are reaped at every start, as Python's `start()` does: a program
//! that starts children and drops their handles keeps neither zombies nor descriptors.
//! The case runs this test binary again as a child, under a low descriptor limit that
//! must not bind the test harness itself.

use mp_processes::{Process, StartMethod};
use test_support::PATIENCE;
use test_support::rerun::run_test_in_child;

const CHILD_MODE: &str = "MP_PROCESSES_REAPING_TEST_CHILD";
/// Far more children than descriptors: each unreaped child holds two.
const CHILDREN: usize = 300;
const DESCRIPTOR_LIMIT: u64 = 64;

fn nothing() {}

/// The children of this process that are zombies now.
fn zombie_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| {
            let Some(close) = stat.rfind(')') else {
                return false;
            };
            let mut fields = stat[close + 1..].split_ascii_whitespace();
            let state = fields.next();
            let parent = fields.next();
            state == Some("Z") && parent == Some(me.as_str())
        })
        .count()
}

/// Only does something when run as the child; a no-op in the normal test run.
#[test]
fn child_starts_many_children_and_drops_them() {
    let Ok(method) = std::env::var(CHILD_MODE) else {
        return;
    };
    let method: StartMethod = method.parse().expect("a start method");
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    nix::sys::resource::setrlimit(
        nix::sys::resource::Resource::RLIMIT_NOFILE,
        DESCRIPTOR_LIMIT,
        hard,
    )
    .expect("setrlimit");
    let mut most_zombies = 0;
    for n in 0..CHILDREN {
        let handle = Process::new(nothing, ())
            .start_method(method)
            .start()
            .unwrap_or_else(|error| panic!("start {n} failed: {error}"));
        drop(handle);
        most_zombies = most_zombies.max(zombie_children());
    }
    println!("started {CHILDREN}, at most {most_zombies} zombies at once");
}

#[test]
fn ended_children_are_reaped_at_every_start() {
    for method in ["fork", "forkserver"] {
        let output = run_test_in_child(
            "child_starts_many_children_and_drops_them",
            (CHILD_MODE, method),
            PATIENCE * 4,
        );
        // The harness prints its own words before ours on the same line.
        let line = output
            .lines()
            .find_map(|line| line.find("started ").map(|at| &line[at..]))
            .unwrap_or_else(|| panic!("{method}: the child said nothing:\n{output}"));
        let most: usize = line
            .split_whitespace()
            .nth(4)
            .and_then(|count| count.parse().ok())
            .expect("a count");
        // Each start reaps what ended before it: a handful may be ending at any moment,
        // never the hundreds that accumulate without reaping.
        assert!(most < 16, "{method}: {line}");
    }
}
