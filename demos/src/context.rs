//! What a scenario is given when it runs: its name, its arguments, its output folder.

use std::path::{Path, PathBuf};

use crate::DemoError;

/// The folder under which scenarios write their files (one subfolder per scenario), when
/// `demos --out DIR` does not name another.
///
/// ```
/// assert_eq!(mp_demos::DEFAULT_OUTPUT_ROOT, "demos-output");
/// ```
pub const DEFAULT_OUTPUT_ROOT: &str = "demos-output";

/// A scenario's run: its name, the arguments after its name on the command line, and
/// where it may write files.
///
/// ```
/// use mp_demos::Context;
///
/// let ctx = Context::new("pool-map", vec!["--workers".into(), "4".into()]);
/// assert_eq!(ctx.name(), "pool-map");
/// assert_eq!(ctx.args(), ["--workers", "4"]);
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    name: String,
    about: Option<String>,
    args: Vec<String>,
    output_root: PathBuf,
}

/// The arguments of a scenario that takes none: `ctx.parse_args::<NoArgs>()?` rejects any
/// and answers `--help`.
///
/// ```
/// use mp_demos::{Context, NoArgs};
///
/// assert!(Context::new("async-hello", vec![]).parse_args::<NoArgs>().is_ok());
/// assert!(Context::new("async-hello", vec!["x".into()]).parse_args::<NoArgs>().is_err());
/// ```
#[derive(clap::Parser, Clone, Copy, Debug)]
pub struct NoArgs {}

impl Context {
    /// A run of scenario `name` with `args`, writing under [`DEFAULT_OUTPUT_ROOT`].
    ///
    /// ```
    /// let ctx = mp_demos::Context::new("lock-balance", vec![]);
    /// assert!(ctx.args().is_empty());
    /// ```
    pub fn new(name: impl Into<String>, args: Vec<String>) -> Self {
        Self {
            name: name.into(),
            about: None,
            args,
            output_root: PathBuf::from(DEFAULT_OUTPUT_ROOT),
        }
    }

    /// Writes under `root` instead: the scenario's folder is `root/<name>`.
    ///
    /// ```
    /// let ctx = mp_demos::Context::new("image-processes", vec![]).with_output_root("/var/tmp/out");
    /// assert_eq!(ctx.output_root(), std::path::Path::new("/var/tmp/out"));
    /// ```
    pub fn with_output_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.output_root = root.into();
        self
    }

    /// Sets the text that `--help` shows above the scenario's own options.
    ///
    /// ```
    /// let ctx = mp_demos::Context::new("lock-balance", vec![]).with_about("balance += n; balance -= n");
    /// ```
    pub fn with_about(mut self, about: impl Into<String>) -> Self {
        self.about = Some(about.into());
        self
    }

    /// The scenario's name, as on the command line.
    ///
    /// ```
    /// assert_eq!(mp_demos::Context::new("pool-map", vec![]).name(), "pool-map");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments after the scenario's name.
    ///
    /// ```
    /// let ctx = mp_demos::Context::new("crawler-threads", vec!["http://127.0.0.1:8080/".into()]);
    /// assert_eq!(ctx.args().len(), 1);
    /// ```
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Parses the arguments into the scenario's own `clap` type.
    ///
    /// `--help` gives [`DemoError::Help`] (the binary prints it and exits 0); anything
    /// clap rejects gives [`DemoError::Usage`] with clap's explanation.
    ///
    /// ```
    /// use mp_demos::{Context, DemoError};
    ///
    /// #[derive(clap::Parser)]
    /// struct Args {
    ///     /// How many workers.
    ///     #[arg(long, default_value_t = 4)]
    ///     workers: usize,
    /// }
    ///
    /// let args: Args = Context::new("pool-map", vec![]).parse_args().unwrap();
    /// assert_eq!(args.workers, 4);
    /// let args: Args = Context::new("pool-map", vec!["--workers=2".into()]).parse_args().unwrap();
    /// assert_eq!(args.workers, 2);
    ///
    /// let bad = Context::new("pool-map", vec!["--workers=lots".into()]).parse_args::<Args>();
    /// assert!(matches!(bad, Err(DemoError::Usage(_))));
    /// let help = Context::new("pool-map", vec!["--help".into()]).parse_args::<Args>();
    /// assert!(matches!(help, Err(DemoError::Help(text)) if text.contains("How many workers")));
    /// ```
    pub fn parse_args<A: clap::Parser>(&self) -> Result<A, DemoError> {
        let mut command = A::command()
            .name(self.name.clone())
            .bin_name(format!("demos {}", self.name));
        if let Some(about) = &self.about {
            command = command.about(about.clone());
        }
        let words = std::iter::once(self.name.as_str()).chain(self.args.iter().map(String::as_str));
        let mut matches = match command.try_get_matches_from(words) {
            Ok(matches) => matches,
            Err(err) => return Err(usage_error(&err)),
        };
        A::from_arg_matches_mut(&mut matches).map_err(|err| usage_error(&err))
    }

    /// The folder under which every scenario's folder lies.
    ///
    /// ```
    /// let ctx = mp_demos::Context::new("pool-map", vec![]);
    /// assert_eq!(ctx.output_root(), std::path::Path::new(mp_demos::DEFAULT_OUTPUT_ROOT));
    /// ```
    pub fn output_root(&self) -> &Path {
        &self.output_root
    }

    /// This scenario's own folder, `<output root>/<name>`, created if missing. A scenario
    /// writes its files here and nowhere else.
    ///
    /// ```
    /// let root = std::env::temp_dir().join(format!("mp-demos-doc-{}", std::process::id()));
    /// let ctx = mp_demos::Context::new("image-processes", vec![]).with_output_root(&root);
    /// let dir = ctx.output_dir().unwrap();
    /// assert!(dir.is_dir() && dir.ends_with("image-processes"));
    /// std::fs::remove_dir_all(&root).unwrap();
    /// ```
    pub fn output_dir(&self) -> Result<PathBuf, DemoError> {
        let dir = self.output_root.join(&self.name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| DemoError::io(format!("creating {}", dir.display()), e))?;
        Ok(dir)
    }

    /// The time scale in force (see [`crate::scale`]).
    ///
    /// ```
    /// mp_demos::set_scale(0.01).unwrap();
    /// assert_eq!(mp_demos::Context::new("pool-map", vec![]).scale(), 0.01);
    /// ```
    pub fn scale(&self) -> f64 {
        crate::scale()
    }
}

fn usage_error(err: &clap::Error) -> DemoError {
    let text = err.render().to_string();
    match err.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
            DemoError::Help(text)
        }
        _ => DemoError::Usage(text.trim_end().to_owned()),
    }
}
