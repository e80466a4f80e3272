//! The libraries carry no binary concerns: another service importing
//! `dm-store`, `dm-stream` or `dm-api` gets no command-line parser, Lambda
//! runtime, log subscriber, allocator or `anyhow` (those live in `dm-bin`).

use std::process::Command;

/// Crates only binaries should pull in.
const BINARY_ONLY: [&str; 6] = [
    "anyhow",
    "clap",
    "lambda_http",
    "lambda_runtime",
    "mimalloc",
    "tracing-subscriber",
];

/// The normal (not dev, not build) dependencies of `package`, by name.
fn normal_dependencies(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree", "--locked", "-e", "normal", "--prefix", "none", "-p", package,
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_libraries_pull_in_no_binary_only_crate() {
    for library in [
        "dm-domain",
        "dm-store",
        "dm-stream",
        "dm-api",
        "dm-users-lambda",
    ] {
        let dependencies = normal_dependencies(library);
        assert!(
            dependencies.iter().any(|d| d == library),
            "cargo tree lists {library} itself: {dependencies:?}"
        );
        let found: Vec<_> = BINARY_ONLY
            .iter()
            .filter(|crate_name| dependencies.iter().any(|d| d == *crate_name))
            .collect();
        assert!(found.is_empty(), "{library} depends on {found:?}");
    }
}

#[test]
fn the_binaries_package_does_carry_them() {
    // The check above would pass on a tree it cannot read; this one shows it reads it.
    let dependencies = normal_dependencies("dm-bin");
    for crate_name in BINARY_ONLY {
        assert!(
            dependencies.iter().any(|d| d == crate_name),
            "dm-bin depends on {crate_name}"
        );
    }
}
