//! The dependency graph the README states is the one the manifests declare: every edge of
//! the README's one-line graph is a `[dependencies]` entry between workspace crates, and
//! every such entry is in the line (`mp-demos` and `mp-bench`, which use everything, are
//! left out of it). Dev-dependencies are not part of the graph.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// `(user, used)`: `user`'s `[dependencies]` names `used`.
type Edge = (String, String);

/// Crates that use the others and that the README's line leaves out.
const LEFT_OUT: &[&str] = &["mp-demos", "mp-bench"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the demos folder sits in the workspace")
        .to_path_buf()
}

/// The folders of the workspace's members, from the root manifest's `members = [...]`.
fn member_folders(root: &Path) -> Vec<PathBuf> {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).expect("the root Cargo.toml");
    let members = manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("members = ["))
        .expect("a one-line members list in the root Cargo.toml");
    members
        .trim_end_matches(']')
        .split(',')
        .map(|member| member.trim().trim_matches('"'))
        .filter(|member| !member.is_empty())
        .map(|member| root.join(member))
        .collect()
}

/// A manifest's package name and the names in its `[dependencies]` section.
fn package_and_dependencies(manifest: &str) -> (String, Vec<String>) {
    let mut name = None;
    let mut dependencies = Vec::new();
    let mut section = "";
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some(key) = line
            .split(['=', '.', ' '])
            .next()
            .filter(|key| !key.is_empty())
        else {
            continue;
        };
        match section {
            "[package]" if key == "name" && name.is_none() => {
                name = line.split('"').nth(1).map(str::to_owned);
            }
            "[dependencies]" => dependencies.push(key.to_owned()),
            _ => {}
        }
    }
    (name.expect("a package name"), dependencies)
}

/// Every `[dependencies]` edge between workspace crates, but those of [`LEFT_OUT`].
fn declared_edges(root: &Path) -> BTreeSet<Edge> {
    let packages: Vec<(String, Vec<String>)> = member_folders(root)
        .iter()
        .map(|folder| {
            let manifest = fs::read_to_string(folder.join("Cargo.toml"))
                .unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
            package_and_dependencies(&manifest)
        })
        .collect();
    let names: BTreeSet<&str> = packages.iter().map(|(name, _)| name.as_str()).collect();
    packages
        .iter()
        .filter(|(user, _)| !LEFT_OUT.contains(&user.as_str()))
        .flat_map(|(user, used)| {
            used.iter()
                .filter(|used| names.contains(used.as_str()))
                .map(move |used| (user.clone(), used.clone()))
        })
        .collect()
}

/// The edges of the README's line: `` `a, b <- c, d; e <- f` `` says that `c` and `d` each
/// use `a` and `b`, and `f` uses `e`.
fn stated_edges(readme: &str) -> BTreeSet<Edge> {
    let line = readme
        .lines()
        .find(|line| line.starts_with('`') && line.contains(" <- "))
        .expect("the README states the dependency graph on a line of its own, in backticks");
    let graph = line.split('`').nth(1).expect("the graph in backticks");
    let mut edges = BTreeSet::new();
    for chain in graph.split(';') {
        let stages: Vec<Vec<&str>> = chain
            .split("<-")
            .map(|stage| stage.split(',').map(str::trim).collect())
            .collect();
        for pair in stages.windows(2) {
            for used in &pair[0] {
                for user in &pair[1] {
                    edges.insert(((*user).to_owned(), (*used).to_owned()));
                }
            }
        }
    }
    edges
}

#[test]
fn the_readme_states_the_declared_dependency_graph() {
    let root = workspace_root();
    let readme = fs::read_to_string(root.join("README.md")).expect("README.md");
    let stated = stated_edges(&readme);
    let declared = declared_edges(&root);
    let missing: Vec<_> = declared.difference(&stated).collect();
    let extra: Vec<_> = stated.difference(&declared).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "README.md's dependency line differs from the manifests' [dependencies]:\n\
         declared but not stated (user, used): {missing:?}\n\
         stated but not declared (user, used): {extra:?}"
    );
}

#[test]
fn a_graph_line_reads_as_edges() {
    let edges = stated_edges("text\n`a, b <- c; d <- e <- f`\n");
    let expected: BTreeSet<Edge> = [("c", "a"), ("c", "b"), ("e", "d"), ("f", "e")]
        .into_iter()
        .map(|(user, used)| (user.to_owned(), used.to_owned()))
        .collect();
    assert_eq!(edges, expected);
}
