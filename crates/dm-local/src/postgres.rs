//! A throwaway PostgreSQL server for tests: Debian's `postgresql` package
//! (`initdb`, `postgres` and `pg_isready` from `/usr/lib/postgresql/<version>/bin`, or
//! `$DM_POSTGRES_BIN`), a fresh cluster in a temporary folder, on a free
//! loopback port, with `trust` authentication for the `postgres` user.
//!
//! PostgreSQL refuses to run as root, so as root both run as the `postgres`
//! user (`su postgres`), as the package's own scripts do. Like DynamoDB Local
//! here, the server runs under a shell watchdog that stops it when our end of
//! its stdin pipe closes, so a test that exits or panics leaves nothing running.
//! It never skips: without PostgreSQL it fails and says how to install it.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{Error, free_port, io, start_failure, tail};

/// Environment variable naming the folder holding `initdb` and `postgres`.
pub const BIN_ENV: &str = "DM_POSTGRES_BIN";

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running PostgreSQL; stopped and its folder removed when dropped.
#[derive(Debug)]
pub struct Postgres {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    dir: PathBuf,
}

fn missing(detail: String) -> Error {
    Error::Io {
        context: format!(
            "PostgreSQL is needed (Debian: `apt-get install postgresql`, or point {BIN_ENV} at its bin folder)"
        ),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, detail),
    }
}

/// The folder of `initdb` and `postgres`: `$DM_POSTGRES_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os(BIN_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| missing(format!("/usr/lib/postgresql: {e}")))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| missing("no /usr/lib/postgresql/<version>/bin/initdb".into()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// `program args...`, as the `postgres` user when we are root.
fn as_postgres(program: &Path, args: &[String]) -> Command {
    if is_root() {
        let mut command = Command::new("su");
        command
            .args(["-s", "/bin/sh", "-c", r#"exec "$0" "$@""#, "--", "postgres"])
            .arg(program)
            .args(args);
        command
    } else {
        let mut command = Command::new(program);
        command.args(args);
        command
    }
}

impl Postgres {
    /// Creates a cluster and starts it.
    ///
    /// # Errors
    ///
    /// When PostgreSQL is not installed, or does not start.
    pub fn start() -> Result<Self, Error> {
        Self::start_with(None)
    }

    /// Creates a cluster that speaks TLS with this certificate and key (PEM)
    /// and refuses plain connections over TCP, as RDS does with
    /// `rds.force_ssl`, and starts it.
    ///
    /// # Errors
    ///
    /// When PostgreSQL is not installed, or does not start.
    pub fn start_tls(cert: &Path, key: &Path) -> Result<Self, Error> {
        Self::start_with(Some((cert, key)))
    }

    fn start_with(tls: Option<(&Path, &Path)>) -> Result<Self, Error> {
        let bin = bin_dir()?;
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("dm-postgres-{}-{port}", std::process::id()));
        fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        Self::start_in(&bin, port, dir.clone(), tls).inspect_err(|_| {
            let _ = fs::remove_dir_all(&dir);
        })
    }

    fn start_in(
        bin: &Path,
        port: u16,
        dir: PathBuf,
        tls: Option<(&Path, &Path)>,
    ) -> Result<Self, Error> {
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres", &dir.display().to_string()])
                .status()
                .map_err(io("chown of the PostgreSQL folder"))?;
            if !status.success() {
                return Err(missing(format!(
                    "chown postgres {} failed: is there a postgres user?",
                    dir.display()
                )));
            }
        }
        let data = dir.join("data");
        let init = as_postgres(
            &bin.join("initdb"),
            &[
                "-D".into(),
                data.display().to_string(),
                "-U".into(),
                "postgres".into(),
                "-A".into(),
                "trust".into(),
                "-E".into(),
                "UTF8".into(),
            ],
        )
        .output()
        .map_err(|e| missing(format!("running initdb: {e}")))?;
        if !init.status.success() {
            return Err(missing(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&init.stderr)
            )));
        }
        let mut settings = vec![
            "listen_addresses=127.0.0.1".to_owned(),
            "fsync=off".to_owned(),
        ];
        if let Some((cert, key)) = tls {
            Self::require_tls(&data, cert, key)?;
            settings.extend(
                [
                    "ssl=on",
                    "ssl_cert_file=server.crt",
                    "ssl_key_file=server.key",
                ]
                .map(String::from),
            );
        }
        let log = dir.join("postgres.log");
        let log_file = fs::File::create(&log).map_err(io("creating the PostgreSQL log"))?;
        let mut args = vec![
            "-D".into(),
            data.display().to_string(),
            "-p".into(),
            port.to_string(),
            "-k".into(),
            dir.display().to_string(),
        ];
        for setting in settings {
            args.extend(["-c".to_owned(), setting]);
        }
        let server = as_postgres(&bin.join("postgres"), &args);
        // The watchdog, as for DynamoDB Local (see the crate docs).
        let script = r#"exec 3<&0; "$@" </dev/null & c=$!; (read -r _ <&3; kill "$c" 2>/dev/null) & wait "$c""#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("postgres-watchdog")
            .arg(server.get_program())
            .args(server.get_args())
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone().map_err(io("opening the log"))?)
            .stderr(log_file)
            .spawn()
            .map_err(io("starting PostgreSQL"))?;
        let mut running = Self {
            stdin: None,
            child,
            port,
            dir,
        };
        running.stdin = running.child.stdin.take();
        let started = Instant::now();
        loop {
            // Accepting connections, not only listening (`pg_isready`).
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(running);
            }
            if let Some(detail) =
                start_failure(&mut running.child, "postgres", started, START_TIMEOUT)
            {
                let log_tail = tail(&log);
                drop(running);
                return Err(Error::Start {
                    what: "PostgreSQL",
                    port,
                    detail,
                    log,
                    log_tail,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Puts the certificate and key in the cluster (owned by its user, the
    /// key readable by it alone, as PostgreSQL demands) and allows TCP
    /// connections over TLS only.
    fn require_tls(data: &Path, cert: &Path, key: &Path) -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt;
        let (server_cert, server_key) = (data.join("server.crt"), data.join("server.key"));
        fs::copy(cert, &server_cert).map_err(io("copying the TLS certificate"))?;
        fs::copy(key, &server_key).map_err(io("copying the TLS key"))?;
        fs::set_permissions(&server_key, fs::Permissions::from_mode(0o600))
            .map_err(io("restricting the TLS key"))?;
        let hba = data.join("pg_hba.conf");
        fs::write(
            &hba,
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n",
        )
        .map_err(io("writing pg_hba.conf"))?;
        if is_root() {
            for file in [&server_cert, &server_key, &hba] {
                let status = Command::new("chown")
                    .args(["postgres:postgres", &file.display().to_string()])
                    .status()
                    .map_err(io("chown of the TLS files"))?;
                if !status.success() {
                    return Err(missing(format!("chown postgres {} failed", file.display())));
                }
            }
        }
        Ok(())
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `database` as the `postgres` user.
    pub fn url(&self, database: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A connection string for database `database` as the `postgres` user
    /// through the server's Unix socket, which a TLS-only server (see
    /// [`Postgres::start_tls`]) still accepts without TLS.
    pub fn socket_config(&self, database: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={database}",
            self.dir.display(),
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog stop the server.
        drop(self.stdin.take());
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
