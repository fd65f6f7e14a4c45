//! The `vetted` command.

fn main() {}
