//! The `demos` binary, run as a user runs it: `all`, `list`, and bad command lines.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mp_demos::scenarios::SCENARIOS;

/// Far above what `demos all --scale 0.01` needs; only a hang gets there.
const LIMIT: Duration = Duration::from_secs(240);

struct Run {
    success: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A folder for the files scenarios write, removed when dropped.
struct OutputFolder(PathBuf);

impl OutputFolder {
    fn new(test: &str) -> Self {
        Self(std::env::temp_dir().join(format!("mp-demos-{test}-{}", std::process::id())))
    }
}

impl Drop for OutputFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary with `args`, killing it if it outlives `LIMIT`. (Its scenario children
/// die with it: `demos all` arms their parent-death signal.)
fn demos(args: &[&str], out: &OutputFolder) -> Run {
    demos_with_scale_env(args, out, None)
}

/// As [`demos`], with the scale variable set to `scale_env` (unset if `None`).
fn demos_with_scale_env(args: &[&str], out: &OutputFolder, scale_env: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demos"));
    match scale_env {
        Some(value) => command.env(mp_demos::SCALE_ENV, value),
        None => command.env_remove(mp_demos::SCALE_ENV),
    };
    run_to_end(command, args, out)
}

/// As [`demos`], on a machine without `redis-server`: a `PATH` of one empty folder, and
/// no Redis server named in the environment.
fn demos_without_redis(args: &[&str], out: &OutputFolder) -> Run {
    let empty = out.0.join("empty-path");
    std::fs::create_dir_all(&empty).expect("an empty folder for PATH");
    let mut command = Command::new(env!("CARGO_BIN_EXE_demos"));
    command
        .env("PATH", &empty)
        .env_remove("MP_REDIS_URL")
        .env_remove(mp_demos::SCALE_ENV);
    run_to_end(command, args, out)
}

/// Runs `command` with `--out` and `args`, killing it if it outlives `LIMIT`.
fn run_to_end(mut command: Command, args: &[&str], out: &OutputFolder) -> Run {
    let mut child = command
        .arg("--out")
        .arg(&out.0)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the demos binary starts");
    let stdout = read_in_background(child.stdout.take().expect("piped stdout"));
    let stderr = read_in_background(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for demos") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("demos {args:?} still running after {LIMIT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        success: status.success(),
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[test]
fn all_scenarios_pass_at_a_small_scale() {
    let out = OutputFolder::new("all");
    let run = demos(&["all", "--scale", "0.01"], &out);
    assert!(
        run.success,
        "demos all failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    let table = lines
        .iter()
        .position(|line| line.starts_with("scenario") && line.contains("checked"))
        .unwrap_or_else(|| panic!("no table:\n{}", run.stdout));
    // The table's rows end at the first empty line; the reasons of skips follow, unwrapped.
    for line in lines[table..].iter().take_while(|line| !line.is_empty()) {
        assert!(
            line.chars().count() <= 100,
            "a table line wider than 100 columns: {line:?}"
        );
    }
    let mut skips = 0;
    for scenario in SCENARIOS {
        let at = table
            + lines[table..]
                .iter()
                .position(|line| line.split_whitespace().next() == Some(scenario.name))
                .unwrap_or_else(|| panic!("no table row for {}:\n{}", scenario.name, run.stdout));
        let row = lines[at];
        // A pass; or a skip, from a scenario that declared it may skip, with its reason.
        let skipped = row.contains(" skipped ")
            && scenario.skips_with.is_some_and(|why| {
                run.stdout
                    .contains(&format!("\n  {}: {why}\n", scenario.name))
            });
        assert!(row.contains(" pass ") || skipped, "{row}\n{}", run.stdout);
        skips += usize::from(skipped);
        // The check's text, wrapped onto the lines that follow its row (indented).
        let continued = lines[at + 1..]
            .iter()
            .take_while(|line| line.starts_with(' '))
            .copied();
        // Only the "checked" column of those lines: between its header and the next.
        let header = lines[table];
        let from = header.find("checked").expect("a checked column");
        let to = header.find("result").expect("a result column");
        let column = |line: &str| -> String { line.chars().skip(from).take(to - from).collect() };
        let shown: Vec<String> = std::iter::once(row).chain(continued).map(column).collect();
        let words: Vec<&str> = shown
            .iter()
            .flat_map(|part| part.split_whitespace())
            .collect();
        let checks: Vec<&str> = scenario.checks.split_whitespace().collect();
        assert!(
            words == checks,
            "{} does not show its check {:?}:\n{}",
            scenario.name,
            scenario.checks,
            run.stdout
        );
    }
    let mut summary = format!("{} passed, 0 failed", SCENARIOS.len() - skips);
    if skips > 0 {
        summary.push_str(&format!(", {skips} skipped"));
    }
    assert!(run.stdout.contains(&summary), "{}", run.stdout);
    assert!(run.stdout.contains("at scale 0.01"), "{}", run.stdout);
}

#[test]
fn all_runs_only_the_named_scenarios() {
    let out = OutputFolder::new("only");
    let run = demos(&["all", "--quiet", "--scale", "0", "lock-balance"], &out);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("1 passed, 0 failed"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("lock-counter-threads"),
        "{}",
        run.stdout
    );
    // Quiet: the table only, not the scenario's own output.
    assert!(!run.stdout.contains("without the lock"), "{}", run.stdout);
}

#[test]
fn list_lists_every_scenario() {
    let out = OutputFolder::new("list");
    let run = demos(&["list"], &out);
    assert!(run.success, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), SCENARIOS.len(), "{}", run.stdout);
    for (line, scenario) in lines.iter().zip(SCENARIOS) {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some(scenario.name), "{line}");
        assert!(line.contains(scenario.source), "{line}");
        assert!(line.ends_with(scenario.shows), "{line}");
    }
}

#[test]
fn one_scenario_runs_with_its_own_options() {
    let out = OutputFolder::new("one");
    let run = demos(
        &[
            "lock-counter-threads",
            "--threads",
            "3",
            "--increments",
            "1000",
        ],
        &out,
    );
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Final counter value: 3000"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unknown_scenario_is_a_clear_error() {
    let out = OutputFolder::new("unknown");
    for args in [&["no-such-scenario"][..], &["all", "no-such-scenario"]] {
        let run = demos(args, &out);
        assert!(!run.success);
        assert_eq!(run.code, Some(2));
        assert!(
            run.stderr
                .contains("unknown scenario `no-such-scenario`: `demos list` lists the scenarios"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn bad_options_are_clear_errors() {
    let out = OutputFolder::new("bad");
    let cases: [(&[&str], &str); 4] = [
        (&["--scale", "-1", "list"], "invalid scale `-1`"),
        (
            &["all", "--time-limit", "0"],
            "not a number of seconds above 0",
        ),
        (
            &["lock-balance", "--iterations", "lots"],
            "invalid value 'lots'",
        ),
        (
            &["lock-balance", "surplus"],
            "unexpected argument 'surplus'",
        ),
    ];
    for (args, message) in cases {
        let run = demos(args, &out);
        assert_eq!(run.code, Some(2), "{args:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_bad_scale_in_the_environment_is_refused() {
    let out = OutputFolder::new("env");
    let run = demos_with_scale_env(&["list"], &out, Some("fast"));
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("invalid scale `fast`"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_after_a_scenario_name_shows_what_it_checks() {
    let out = OutputFolder::new("help");
    let run = demos(&["lock-balance", "--help"], &out);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout.contains("Checks: the balance ends at 0"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("--iterations"), "{}", run.stdout);
}

#[test]
fn without_redis_server_cluster_pool_is_skipped_with_how_to_install_it() {
    let scenario = mp_demos::scenarios::find("cluster-pool").expect("the scenario");
    let why = scenario
        .skips_with
        .expect("cluster-pool declares that it may skip");
    assert!(why.contains("apt-get install redis-server"), "{why}");
    let out = OutputFolder::new("no-redis");

    let run = demos_without_redis(&["cluster-pool"], &out);
    assert_eq!(
        run.code,
        Some(i32::from(mp_demos::SKIPPED_STATUS)),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        run.stdout.lines().last(),
        Some(format!("cluster-pool: skipped: {why}").as_str()),
        "{}",
        run.stdout
    );

    // Under `all`, a skip is neither a pass nor a failure: the run succeeds.
    let run = demos_without_redis(&["all", "--scale", "0.01", "cluster-pool"], &out);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("\n  cluster-pool: {why}\n")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("0 passed, 0 failed, 1 skipped"),
        "{}",
        run.stdout
    );
}
