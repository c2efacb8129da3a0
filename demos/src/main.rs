//! The `demos` binary: `demos list`, `demos <scenario> [args]`, `demos all`.
//!
//! The scenarios and the helpers they share live in the library (`mp_demos`); this file is
//! the command line around them.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, Args, Command, FromArgMatches, Subcommand};
use mp_demos::scenarios::{self, SCENARIOS};
use mp_demos::{
    Context, DEFAULT_OUTPUT_ROOT, DemoError, Isolated, Outcome, SCALE_ENV, SKIPPED_STATUS,
    Scenario, Stopwatch, parse_scale, render_table, scale, set_scale,
};

/// The id of a scenario subcommand's trailing arguments.
const SCENARIO_ARGS: &str = "args";

/// Exit status of a command line that does not parse (as clap uses).
const USAGE: u8 = 2;

#[derive(Args, Debug)]
struct GlobalArgs {
    /// Multiply every sleep of the Python originals by F (0.01: a hundred times shorter)
    #[arg(long, global = true, value_name = "F", env = SCALE_ENV, value_parser = scale_arg, allow_negative_numbers = true)]
    scale: Option<f64>,
    /// Folder under which scenarios write their files, one subfolder each
    #[arg(long, global = true, value_name = "DIR", default_value = DEFAULT_OUTPUT_ROOT)]
    out: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Builtin {
    /// List the scenarios: name, source, what each shows
    List,
    /// Run every scenario (or those named), each in a child process, ending with a table
    All(AllArgs),
}

#[derive(Args, Debug)]
struct AllArgs {
    /// Run only these scenarios, in this order
    #[arg(value_name = "SCENARIO")]
    only: Vec<String>,
    /// Kill a scenario still running after SECS seconds and count it failed [default: the
    /// scenario's own limit, 120 s unless it sets one]
    #[arg(long, value_name = "SECS", value_parser = time_limit_arg)]
    time_limit: Option<Duration>,
    /// Print only the table, not the scenarios' output
    #[arg(long, short)]
    quiet: bool,
}

fn scale_arg(text: &str) -> Result<f64, String> {
    parse_scale(text).map_err(|e| e.to_string())
}

fn time_limit_arg(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|secs| *secs > 0.0)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("`{text}` is not a number of seconds above 0"))
}

/// The command line: the global options and built-in commands (derived), plus one
/// subcommand per registered scenario, so that `demos --help` lists them.
fn cli() -> Command {
    let command = Command::new("demos")
        .about("Every scenario of the Python tutorials on threads and processes, redone in Rust")
        .long_about(
            "Every scenario of the Python tutorials on threads and processes, redone in Rust.\n\n\
             Each scenario prints what its Python original prints, checks its outcome and exits \
             non-zero when it is wrong. `demos all` runs them all, each in a child process of its \
             own, and ends with a table.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .allow_external_subcommands(true);
    let command = Builtin::augment_subcommands(GlobalArgs::augment_args(command));
    SCENARIOS.iter().fold(command, |command, scenario| {
        command.subcommand(
            Command::new(scenario.name)
                .about(scenario.shows)
                .long_about(scenario.about())
                // `--help` after the name goes to the scenario, which knows its own options.
                .disable_help_flag(true)
                .arg(
                    Arg::new(SCENARIO_ARGS)
                        .value_name("ARGS")
                        .help("The scenario's own options: `demos <scenario> --help` lists them")
                        .num_args(0..)
                        .trailing_var_arg(true)
                        .allow_hyphen_values(true),
                ),
        )
    })
}

fn main() -> ExitCode {
    init_tracing();
    let matches = cli().get_matches();
    let global = GlobalArgs::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(scale) = global.scale
        && let Err(err) = set_scale(scale)
    {
        eprintln!("error: {err}");
        return ExitCode::from(USAGE);
    }
    let Some((name, sub)) = matches.subcommand() else {
        // `subcommand_required` makes clap refuse this before it gets here.
        eprintln!("error: no command given: try `demos --help`");
        return ExitCode::from(USAGE);
    };
    if let Some(scenario) = scenarios::find(name) {
        let args = sub
            .get_many::<String>(SCENARIO_ARGS)
            .map(|values| values.cloned().collect())
            .unwrap_or_default();
        return run_one(scenario, args, &global);
    }
    match Builtin::from_arg_matches(&matches) {
        Ok(Builtin::List) => list(),
        Ok(Builtin::All(args)) => run_all(&args, &global),
        Err(_) => {
            eprintln!("error: {}", DemoError::UnknownScenario(name.to_owned()));
            ExitCode::from(USAGE)
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (`RUST_LOG=debug demos all` shows the
/// lifecycle of every child and lock hand-over); warnings only by default.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn list() -> ExitCode {
    let name_width = SCENARIOS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let source_width = SCENARIOS.iter().map(|s| s.source.len()).max().unwrap_or(0);
    for scenario in SCENARIOS {
        println!(
            "{:<name_width$}  {:<source_width$}  {}",
            scenario.name, scenario.source, scenario.shows
        );
    }
    ExitCode::SUCCESS
}

/// Runs one scenario in this process.
fn run_one(scenario: &Scenario, args: Vec<String>, global: &GlobalArgs) -> ExitCode {
    let ctx = Context::new(scenario.name, args)
        .with_output_root(&global.out)
        .with_about(scenario.about());
    tracing::debug!(
        scenario = scenario.name,
        scale = scale(),
        "scenario starting"
    );
    let watch = Stopwatch::start();
    let result = (scenario.run)(&ctx);
    tracing::debug!(scenario = scenario.name, elapsed = ?watch.elapsed(), ok = result.is_ok(), "scenario ended");
    match result {
        Ok(()) => {
            println!("{}: pass ({watch})", scenario.name);
            ExitCode::SUCCESS
        }
        Err(DemoError::Skipped(why)) => {
            // The last line: `demos all` reads the reason from it.
            println!("{}: skipped: {why}", scenario.name);
            ExitCode::from(SKIPPED_STATUS)
        }
        Err(DemoError::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(DemoError::Usage(text)) => {
            eprintln!("{text}");
            ExitCode::from(USAGE)
        }
        Err(err) => {
            eprintln!("error: {} failed: {err}", scenario.name);
            ExitCode::FAILURE
        }
    }
}

/// Runs the selected scenarios, each as a child process of this binary, then the table.
fn run_all(args: &AllArgs, global: &GlobalArgs) -> ExitCode {
    let mut selected = Vec::new();
    for name in &args.only {
        match scenarios::find(name) {
            Some(scenario) => selected.push(scenario),
            None => {
                eprintln!("error: {}", DemoError::UnknownScenario(name.clone()));
                return ExitCode::from(USAGE);
            }
        }
    }
    if selected.is_empty() {
        selected.extend(SCENARIOS);
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            eprintln!("error: cannot find this program to run the scenarios: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Passed on both ways: `--scale` for the scenario, the environment for any process it
    // starts by re-executing the binary.
    let scale = scale().to_string();

    let total = Stopwatch::start();
    let mut outcomes = Vec::new();
    for scenario in selected {
        if !args.quiet {
            println!(
                "== {} ({}): {}",
                scenario.name, scenario.source, scenario.shows
            );
        }
        let mut command = std::process::Command::new(&exe);
        command
            .arg("--scale")
            .arg(&scale)
            .arg("--out")
            .arg(&global.out)
            .arg(scenario.name)
            .env(SCALE_ENV, &scale);
        let mut runner = Isolated::new(args.time_limit.unwrap_or(scenario.time_limit));
        if args.quiet {
            runner = runner.quiet();
        }
        let outcome = match runner.run(command) {
            Ok(report) => match report.skipped() {
                Some(why) => Outcome::skipped(scenario.name, scenario.checks, report.elapsed, why),
                None => Outcome::new(
                    scenario.name,
                    scenario.checks,
                    report.elapsed,
                    report.failure(),
                ),
            },
            Err(err) => Outcome::new(
                scenario.name,
                scenario.checks,
                Duration::ZERO,
                Some(err.to_string()),
            ),
        };
        if !args.quiet {
            // A scenario that passed said so itself, as its last line; a failure may
            // have come before it could say anything.
            match &outcome.failure {
                None => println!(),
                Some(why) => println!("== {}: FAIL: {why}\n", scenario.name),
            }
        }
        outcomes.push(outcome);
    }

    print!("{}", render_table(&outcomes));
    println!("(at scale {scale}, in {total})");
    if !outcomes.iter().any(Outcome::failed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
