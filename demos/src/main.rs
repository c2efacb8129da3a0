//! The `demos` binary: every scenario of the source texts.
fn main() {}
