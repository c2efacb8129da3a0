//! The scenario table of the crate docs (`src/lib.rs`) lists every scenario of the
//! registry, in the registry's order, with the source the registry gives: the docs are
//! where a reader looks for them, so a scenario added without its row fails here.

use mp_demos::scenarios::SCENARIOS;

/// The `(name, source)` of each row of the table whose header starts `| scenario |`.
fn documented_rows(crate_docs: &str) -> Vec<(String, String)> {
    crate_docs
        .lines()
        .map(|line| line.trim_start_matches("//!").trim())
        .skip_while(|line| !line.starts_with("| scenario |"))
        .skip(2) // the header and its |---| line
        .take_while(|line| line.starts_with('|'))
        .filter_map(|row| {
            let mut cells = row.trim_matches('|').split(" | ");
            let name = cells.next()?.trim().trim_matches('`');
            let source = cells.next()?.trim();
            Some((name.to_owned(), source.to_owned()))
        })
        .collect()
}

#[test]
fn the_crate_docs_table_lists_every_scenario_in_order() {
    let rows = documented_rows(include_str!("../src/lib.rs"));
    let documented: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    let registered: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
    assert_eq!(
        documented, registered,
        "the table in demos/src/lib.rs and the registry in demos/src/scenarios/mod.rs differ"
    );
}

#[test]
fn each_row_names_the_registered_source() {
    let rows = documented_rows(include_str!("../src/lib.rs"));
    assert!(
        !rows.is_empty(),
        "no scenario table found in demos/src/lib.rs"
    );
    for ((name, source), scenario) in rows.iter().zip(SCENARIOS) {
        assert!(
            scenario.source.starts_with(source.as_str()),
            "{name}: the table says source {source:?}, the registry {:?}",
            scenario.source
        );
    }
}
