//! The `dm-api` command line: what its flags and their defaults mean.

use clap::Parser;
use dm_bin::api::{Config, cors_origins};

#[test]
fn cors_defaults_to_the_frontends_dev_origins_in_local_mode_only() {
    let origins = |args: &[&str]| {
        let config = Config::parse_from(["dm-api"].iter().chain(args).copied());
        cors_origins(&config)
    };
    assert_eq!(
        origins(&["--auth", "local"]),
        ["http://localhost:3000", "http://127.0.0.1:3000"]
    );
    assert!(origins(&["--auth", "cognito"]).is_empty());
    assert_eq!(
        origins(&["--auth", "cognito", "--cors-origin", "https://cruddur.com/"]),
        ["https://cruddur.com"]
    );
    assert_eq!(
        origins(&["--cors-origin", "https://a.example,https://b.example"]),
        ["https://a.example", "https://b.example"]
    );
    assert!(origins(&["--auth", "local", "--cors-origin", "none"]).is_empty());
}
