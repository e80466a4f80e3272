//! `cargo xtask package`: the Lambda artifacts, one `bootstrap.zip` per
//! function, at the paths `deploy/template.yaml` names.

use std::{fs::File, io::Write as _, path::Path, process::Command};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

/// The functions and the binaries they run.
const FUNCTIONS: [&str; 5] = [
    "dm-stream-lambda",
    "dm-api-lambda",
    "dm-users-lambda",
    "dm-ws-authorizer",
    "dm-ws-connections",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Arch {
    /// Graviton (the template's default).
    Arm64,
    /// x86-64.
    X86_64,
}

impl Arch {
    fn triple(self) -> &'static str {
        match self {
            Self::Arm64 => "aarch64-unknown-linux-gnu",
            Self::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct PackageArgs {
    /// The Lambda architecture; pass the same to the template's `Architecture` parameter.
    #[arg(long, value_enum, default_value_t = Arch::Arm64)]
    arch: Arch,
}

pub(crate) fn package(args: &PackageArgs) -> anyhow::Result<()> {
    let triple = args.arch.triple();
    let installed = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", triple])
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .is_some_and(|dir| {
            std::fs::read_dir(dir.trim()).is_ok_and(|mut entries| entries.next().is_some())
        });
    if !installed {
        bail!(
            "the Rust standard library for {triple} is not installed: run `rustup target add {triple}`{}",
            if args.arch == Arch::Arm64 {
                ", install a linker for it (`apt-get install gcc-aarch64-linux-gnu`) and set \
                 CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc; or package with --arch x86-64"
            } else {
                ""
            }
        );
    }
    let root = crate::workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "--target", triple])
        .current_dir(&root);
    for function in FUNCTIONS {
        build.args(["--bin", function]);
    }
    let status = build.status().context("running cargo build")?;
    if !status.success() {
        bail!("building the Lambda binaries failed ({status})");
    }
    for function in FUNCTIONS {
        let binary = root
            .join("target")
            .join(triple)
            .join("release")
            .join(function);
        let out_dir = root.join("target/lambda").join(function);
        std::fs::create_dir_all(&out_dir)?;
        let zip_path = out_dir.join("bootstrap.zip");
        write_zip(&binary, &zip_path)?;
        let size = std::fs::metadata(&zip_path)?.len();
        println!(
            "{} ({:.1} MB, {})",
            zip_path.display(),
            size as f64 / 1e6,
            triple
        );
    }
    Ok(())
}

/// A zip holding the binary as an executable `bootstrap`, as `provided.al2023` expects.
fn write_zip(binary: &Path, zip_path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    let mut zip = zip::ZipWriter::new(File::create(zip_path)?);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options)?;
    zip.write_all(&bytes)?;
    zip.finish()?;
    Ok(())
}
