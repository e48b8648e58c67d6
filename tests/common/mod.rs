//! Helpers shared by the integration tests: the built binary, the repository and test vectors.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Returns the public Swedish EU DCC test vectors from `shared/testdata/dcc-se/` beside the checkout.
pub fn dcc_vectors() -> Vec<(String, Value)> {
    let directory = repository().join("../shared/testdata/dcc-se");
    let mut vectors: Vec<(String, Value)> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", directory.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let vector = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            (name, vector)
        })
        .collect();
    vectors.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        !vectors.is_empty(),
        "no test vectors in {}",
        directory.display()
    );
    vectors
}

/// Returns the claims of a personbevis, valid against the shipped schema, for a holder whose
/// personal identity number is 196408233234.
pub fn personbevis_claims() -> Value {
    serde_json::json!({
        "given_name": "Åsa", "family_name": "Öberg", "personal_identity_number": "196408233234",
        "birthdate": "1964-08-23",
        "address": { "street_address": "Storgatan 1", "postal_code": "111 22", "locality": "Stockholm" },
        "county": { "code": "01", "name": "Stockholms län" },
        "municipality": { "code": "0180", "name": "Stockholm" },
        "extract_date": "2026-12-01"
    })
}

/// Returns an `intyg` command with a clean environment: no INTYG_* variable of the caller leaks in.
pub fn intyg() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_intyg"));
    for (name, _) in std::env::vars() {
        if name.starts_with("INTYG_") {
            command.env_remove(name);
        }
    }
    command.current_dir(repository());
    command
}

/// Runs `command` with `input` on standard input.
pub fn run_with_input(mut command: Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("intyg starts");
    // A command that rejects its arguments exits without reading its input; the broken pipe
    // that writing then meets is expected.
    if let Err(error) = child.stdin.take().unwrap().write_all(input.as_bytes()) {
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::BrokenPipe,
            "cannot write the input: {error}"
        );
    }
    child.wait_with_output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Returns whether a test that needs an outside tool should be skipped because the tool is
/// missing. In CI (the CI variable is set) a missing tool fails the test instead.
pub fn skip_without(tool: &str, available: bool) -> bool {
    if available {
        return false;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is missing, and CI must run this test; .ci/run installs it");
    }
    eprintln!("skipped: {tool} is not installed (see README.md, Tests)");
    true
}

/// An `intyg serve` process on a free loopback port, stopped when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub base_url: String,
    pub data_dir: tempfile::TempDir,
}

impl Server {
    /// Starts `intyg serve` with a fresh SQLite data directory and waits until `/health` responds.
    pub fn start(extra_env: &[(&str, &str)]) -> Server {
        Self::start_in(temp_dir(), extra_env)
    }

    /// Starts `intyg serve` with `data_dir` as its data directory.
    pub fn start_in(data_dir: tempfile::TempDir, extra_env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port, data_dir, extra_env)
    }

    /// Starts `intyg serve` on `port` with `data_dir` as its data directory, as a restart of a
    /// server at the same public URL would.
    pub fn start_on(port: u16, data_dir: tempfile::TempDir, extra_env: &[(&str, &str)]) -> Server {
        // The log goes to a file, because a pipe that is not read fills up and blocks the server.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.path().join("serve.log"))
            .unwrap();
        let mut command = intyg();
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("INTYG_DATA_DIR", data_dir.path())
            .stdout(Stdio::null())
            .stderr(log);
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let child = command.spawn().expect("intyg serve starts");
        let server = Server {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            data_dir,
        };
        server.wait_until_healthy();
        server
    }

    fn wait_until_healthy(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(mut stream) =
                std::net::TcpStream::connect(self.base_url.trim_start_matches("http://"))
            {
                let _ = stream.write_all(b"GET /health HTTP/1.0\r\n\r\n");
                let mut response = String::new();
                let _ = std::io::Read::read_to_string(&mut stream, &mut response);
                if response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "intyg serve did not answer /health at {} within 20 s",
            self.base_url
        );
    }

    /// Adds an e-service client to this server's database and returns its API key.
    pub fn add_client(&self, name: &str, types: &str, extra_env: &[(&str, &str)]) -> String {
        let mut command = intyg();
        command
            .env("INTYG_DATA_DIR", self.data_dir.path())
            .args(["clients", "add", name, "--types", types]);
        for (variable, value) in extra_env {
            command.env(variable, value);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        stdout(&output).trim().to_owned()
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status and log.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().unwrap();
        let log =
            std::fs::read_to_string(self.data_dir.path().join("serve.log")).unwrap_or_default();
        (status, log)
    }

    /// Kills the process with SIGKILL, as a crash would, and returns its data directory.
    pub fn kill(mut self) -> tempfile::TempDir {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::replace(&mut self.data_dir, temp_dir())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns a PostgreSQL URL whose connections use a fresh schema, from `INTYG_TEST_DATABASE_URL`.
/// Without the variable it prints that `what` was skipped and returns `None`; in CI it fails.
pub async fn postgres_test_url(what: &str) -> Option<String> {
    let Ok(url) = std::env::var("INTYG_TEST_DATABASE_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!("INTYG_TEST_DATABASE_URL is not set, and CI must run {what}");
        }
        eprintln!("skipped: INTYG_TEST_DATABASE_URL is not set, so {what} did not run");
        return None;
    };
    let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!(
        "{url}{separator}options=-c%20search_path%3D{schema}"
    ))
}
