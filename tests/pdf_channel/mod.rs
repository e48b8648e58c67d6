//! Helpers shared by the integration tests of the PDF channel: the EU DCC test vectors for
//! Sweden, the built `intyg` binary, and the external tools some tests need.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine;
use serde_json::Value;

/// Returns the crate root, where the binary finds `schemas/` and `keys-example/`.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One file of the EU DCC test vectors for Sweden, in `shared/testdata/dcc-se/` beside the clone.
pub struct Vector {
    pub name: String,
    pub document: Value,
}

impl Vector {
    pub fn field(&self, name: &str) -> &str {
        self.document[name]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {name} is missing or not a string", self.name))
    }

    /// Decodes the hex text of the field `name`.
    pub fn hex(&self, name: &str) -> Vec<u8> {
        let text = self.field(name);
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    pub fn payload(&self) -> &str {
        self.field("PREFIX")
    }

    pub fn claims(&self) -> &Value {
        &self.document["JSON"]
    }

    pub fn validation_clock(&self) -> &str {
        self.document["TESTCTX"]["VALIDATIONCLOCK"]
            .as_str()
            .unwrap()
    }

    /// Writes the signer certificate (`TESTCTX.CERTIFICATE`, base64 DER) as a PEM file in `dir`.
    pub fn write_signer_pem(&self, dir: &Path) -> PathBuf {
        let der = self.document["TESTCTX"]["CERTIFICATE"].as_str().unwrap();
        let lines: Vec<&str> = der
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        );
        let path = dir.join(format!("{}.signer.pem", self.name));
        fs::write(&path, pem).unwrap();
        path
    }

    /// Decodes `2DCODE`, a base64 PNG of the QR code.
    pub fn picture(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(self.field("2DCODE"))
            .unwrap()
    }
}

/// Loads every `se-*.json` vector, sorted by name.
pub fn vectors() -> Vec<Vector> {
    let dir = crate_root().join("../shared/testdata/dcc-se");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|error| {
            panic!("cannot read the test vectors in {}: {error}", dir.display())
        })
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no test vectors in {}", dir.display());
    paths
        .into_iter()
        .map(|path| Vector {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            document: serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap(),
        })
        .collect()
}

/// Runs the built `intyg` binary from the crate root with `stdin` as standard input.
pub fn intyg(args: &[&str], stdin: &str, env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_intyg"));
    command
        .args(args)
        .current_dir(crate_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Only the variables a test sets reach the binary, not the caller's configuration.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("INTYG_") {
            command.env_remove(name);
        }
    }
    command.env("INTYG_LOG", "error");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `intyg issue --type TYPE --format FORMAT` with `extra` arguments on one JSON line of
/// claims each, checks that it succeeds, and returns the lines it prints.
pub fn issue_lines(type_id: &str, format: &str, claims: &[Value], extra: &[&str]) -> Vec<String> {
    let input: String = claims.iter().map(|claims| format!("{claims}\n")).collect();
    let mut args = vec!["issue", "--type", type_id, "--format", format];
    args.extend(extra);
    let output = intyg(&args, &input, &[]);
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Returns personbevis claims with å, ä and ö in them.
pub fn personbevis_claims() -> Value {
    serde_json::json!({
        "given_name": "Åsa", "family_name": "Öberg", "personal_identity_number": "198112289874",
        "birthdate": "1981-12-28",
        "address": {"street_address": "Storgatan 1", "postal_code": "111 22", "locality": "Stockholm"},
        "county": {"code": "01", "name": "Stockholms län"},
        "municipality": {"code": "0180", "name": "Stockholm"},
        "extract_date": "2026-12-04"
    })
}

/// Runs `intyg verify --json` on one payload and returns the report and the exit code.
pub fn verify_json(payload: &str, trust: &Path, at: Option<&str>) -> (Value, i32) {
    let trust = trust.to_str().unwrap();
    let mut args = vec!["verify", "--json", "--trust", trust];
    if let Some(at) = at {
        args.extend(["--at", at]);
    }
    args.push("-");
    let output = intyg(&args, &format!("{payload}\n"), &[]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let report = serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!(
            "intyg verify printed no JSON report ({error}): {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (report, output.status.code().unwrap_or(-1))
}

/// Returns the error codes of a `--json` verification report.
pub fn error_codes(report: &Value) -> Vec<String> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Returns whether `tool` can be run. When it cannot, a test prints why it skips, and fails
/// instead when the environment variable `CI` is set, because CI must run every test.
pub fn tool_available(tool: &str, package: &str) -> bool {
    let found = Command::new(tool)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing; install Debian's {package} (apt-get install -y {package})"
        );
        eprintln!("skipped: {tool} is missing; install Debian's {package} to run this test");
    }
    found
}
